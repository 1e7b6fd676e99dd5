"""Tests of the connectors, mirroring connectors/."""
