"""Telegram: citizen bot and department work-order groups, webhook or polling in, outbox out."""
