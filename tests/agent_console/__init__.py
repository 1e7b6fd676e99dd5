"""Tests of the web app: API, pages, browser."""
