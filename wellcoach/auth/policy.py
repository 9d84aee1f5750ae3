"""Who may do what: the one authorization helper every adapter and service uses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from wellcoach.errors import NotFound
from wellcoach.models.enums import Role


@dataclass(frozen=True)
class Subject:
    """The authenticated actor of a request, job or CLI command."""

    user_id: uuid.UUID | None
    role: Role
    tier: str = "free"
    email_verified: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


ADMIN_CLI = Subject(user_id=None, role=Role.admin, tier="team", email_verified=True)


def require_self_or_admin(subject: Subject, owner_id: uuid.UUID) -> None:
    """Someone else's resource answers 404, never 403: its existence is not revealed."""
    if subject.is_admin or subject.user_id == owner_id:
        return
    raise NotFound()
