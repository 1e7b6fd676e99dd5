"""Tests of the router: notices, routing, dispatch rules."""
