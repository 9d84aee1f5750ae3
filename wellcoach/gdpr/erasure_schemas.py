"""What the API says of an erasure: asked with the password, answered with its date."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from wellcoach.auth.schemas import Password
from wellcoach.models.enums import GdprStatus
from wellcoach.text import OneLine

Token = Annotated[str, StringConstraints(min_length=10, max_length=2048), OneLine]


class ErasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password = Field(description="Your password, entered again.")


class ErasureOut(BaseModel):
    id: uuid.UUID
    status: GdprStatus = Field(description="`scheduled`, or `completed` once carried out.")
    hard_delete_at: datetime | None = Field(
        description="When the data key is destroyed and every row deleted; until then the"
        " link emailed to you (or an administrator) can cancel."
    )


class ErasureCancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Token = Field(description="The code of the email that announced the deletion.")
