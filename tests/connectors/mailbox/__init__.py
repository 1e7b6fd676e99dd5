"""Tests of the mayor's mailbox connector."""
