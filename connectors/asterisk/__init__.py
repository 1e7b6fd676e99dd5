"""Asterisk connector: AMI frames, typed events, the pure call tracker and its trace runner."""
