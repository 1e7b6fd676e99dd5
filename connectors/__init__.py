"""Connectors turn the outside world (calls, messages, letters) into contacts."""
