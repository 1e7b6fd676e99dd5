"""The mayor's mailbox: e-mail letters in over IMAP, replies out over SMTP."""
