"""WeChat official account: signed/encrypted callback in, API client and outbox sender out."""
