"""Tests of Hotline 12345, mirroring the source tree."""
