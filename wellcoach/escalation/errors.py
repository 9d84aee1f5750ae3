"""Escalation errors, with stable codes the adapters map once."""

from __future__ import annotations

from wellcoach.errors import Conflict, InvalidInput


class IllegalTransition(Conflict):
    """This escalation cannot move to that status from the one it is in."""

    code = "illegal_transition"


class CoachAtCapacity(Conflict):
    """The coach already holds as many open cases as their capacity allows."""

    code = "coach_at_capacity"


class NotACoach(Conflict):
    """Only an account with the coach role can be registered as a coach."""

    code = "not_a_coach"


class CoachExists(Conflict):
    """This account is already registered as a coach."""

    code = "coach_exists"


class InvalidAvailability(InvalidInput):
    """Weekly availability must be windows like mon=09:00-17:00 in a valid timezone."""

    code = "invalid_availability"
