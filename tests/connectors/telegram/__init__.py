"""Tests of the Telegram connector."""
