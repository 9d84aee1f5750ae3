"""Who is acting: the subject every access-control query takes.

A neutral module below the domains: accounts, auth and chat all filter by it, and none
of them owns it (it was auth's, which made accounts and auth import each other)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

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
