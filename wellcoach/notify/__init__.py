"""Outgoing notifications: email through an outbox (SMTP when configured)."""
