"""Authentication: passwords, tokens (access JWT, rotating refresh, email), 2FA, policy."""
