"""The UserProfile contract of SPEC.md, and what the apps may change in it."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from wellcoach.errors import InvalidInput
from wellcoach.models.enums import Role
from wellcoach.text import OneLine, ShortLine

Language = Literal["en", "it"]
Personality = Literal["empathetic", "motivational", "analytical"]
ShortText = ShortLine
Sport = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), OneLine
]
AvatarPart = Annotated[str, StringConstraints(max_length=32), OneLine]
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# only athletes sign themselves up; coaches and managers are created by an admin
SELF_SERVICE_ROLES = (Role.athlete,)


_EMAIL = TypeAdapter(EmailStr)


def checked_email(value: str) -> str:
    """An email address as the API would accept it (admin tools validate on input, with
    the same rules, instead of failing later on output).

    Raises:
        InvalidInput: not a deliverable address (syntax, or a reserved domain like .test).
    """
    try:
        return str(_EMAIL.validate_python(value.strip()))
    except ValidationError as exc:
        reason = str(exc.errors()[0].get("msg", "not a valid email address"))
        raise InvalidInput(f"{value!r} is not a usable email address: {reason}") from None


class AvatarConfig(BaseModel):
    """The coach avatar the app renders; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    style: Literal["realistic", "cartoon", "minimal", "abstract"] = "minimal"
    skin_tone: AvatarPart | None = None
    hair: AvatarPart | None = None
    outfit: AvatarPart | None = None
    primary_color: str = "#2E86DE"
    accessories: list[AvatarPart] = Field(default_factory=list, max_length=10)
    voice: Literal["calm", "energetic", "neutral"] = "neutral"

    @field_validator("primary_color")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not HEX_COLOR.match(value):
            raise ValueError("must be a color like #2E86DE")
        return value.upper()


class UserPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notifications_enabled: bool = True
    health_data_sync: bool = False
    language: Language = "en"
    privacy_mode: bool = False
    ai_personality: Personality = "empathetic"


class PreferencesPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notifications_enabled: bool | None = None
    health_data_sync: bool | None = None
    language: Language | None = None
    privacy_mode: bool | None = None
    ai_personality: Personality | None = None


class ConsentState(BaseModel):
    data_processing: bool = False
    health_data: bool = False
    marketing: bool = False


class UserProfile(BaseModel):
    id: uuid.UUID
    email: EmailStr
    name: str | None
    sport: str | None
    team: str | None
    role: Literal["athlete", "coach", "team_manager", "admin"]
    tier: Literal["free", "premium", "team"]
    avatar_config: AvatarConfig
    preferences: UserPreferences
    consent: ConsentState
    email_verified: bool
    two_factor_enabled: bool
    created_at: datetime
    last_active: datetime | None


class ProfilePatch(BaseModel):
    """Fields a user may change; email, role and tier are not among them."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    sport: Sport | None = None
    team: ShortText | None = None
    avatar_config: AvatarConfig | None = None
    preferences: PreferencesPatch | None = None


class ConsentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_processing: StrictBool | None = None
    health_data: StrictBool | None = None
    marketing: StrictBool | None = None
    policy_version: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32), OneLine
    ] = "2026-11"


class ConsentRecordOut(BaseModel):
    purpose: str
    granted: bool
    policy_version: str
    source: str
    created_at: datetime


class ConsentsOut(BaseModel):
    current: ConsentState
    history: list[ConsentRecordOut]
