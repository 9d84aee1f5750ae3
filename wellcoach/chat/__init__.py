"""Chat: sessions, messages, the coaching pipeline and safety."""
