"""Tests of the unified ticket."""
