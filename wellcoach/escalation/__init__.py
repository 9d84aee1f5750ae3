"""Escalation to a human coach: opening, SLA, triage (the dashboard workflow builds on it)."""
