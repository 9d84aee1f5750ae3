"""Escalation to a human coach: opening and SLA (`service`), the state machine
(`workflow`), triage, the coaches registry, assignment, and working a case (`cases`)."""
