"""Accounts: profiles, preferences and consent."""
