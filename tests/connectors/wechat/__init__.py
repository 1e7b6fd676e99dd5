"""Tests of the WeChat connector."""
