"""Reads the record back as figures: rates, service index, rankings, briefings."""
