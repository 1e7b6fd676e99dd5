"""Tests of the Asterisk connector, driven by recorded AMI traces."""
