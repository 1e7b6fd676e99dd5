"""Composition root of the 12345 hotline: settings, CLI, bootstrap."""
