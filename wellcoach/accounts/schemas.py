"""The UserProfile contract of SPEC.md, and what the apps may change in it."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Annotated, Literal
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from wellcoach.accounts.countries import (
    COUNTRY_PATTERN,
    LOCALE_MAX_LENGTH,
    LOCALE_PATTERN,
    country_code,
    language_of,
)
from wellcoach.errors import InvalidInput
from wellcoach.models.enums import Role
from wellcoach.text import OneLine, ShortLine

Language = Literal["en", "it"]
Personality = Literal["empathetic", "motivational", "analytical"]
ShortText = ShortLine
Sport = Annotated[str, StringConstraints(min_length=1, max_length=50), OneLine]
AvatarPart = Annotated[str, StringConstraints(max_length=32), OneLine]
# a pattern, not a validator: the OpenAPI document then says what a color is
HexColor = Annotated[
    str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$"), AfterValidator(str.upper)
]


def _country(value: str) -> str:
    """Refused with its own error type (`invalid_country` in the 422's details), so the
    apps can tell a wrong country from any other invalid field."""
    code = country_code(value)
    if code is None:
        hint = " (the United Kingdom is GB)" if value.upper() == "UK" else " (like IT, GB, US)"
        raise PydanticCustomError(
            "invalid_country", "not an ISO 3166-1 alpha-2 country code" + hint
        )
    return code


def _locale(value: str) -> str:
    if len(value) > LOCALE_MAX_LENGTH or language_of(value) is None:
        raise PydanticCustomError("invalid_locale", "not a locale tag (like en-US, it-IT or en_GB)")
    return value


# a country as the apps send it: one of the 249 assigned codes, either case; stored and
# returned upper case. The pattern lists exactly those codes, so the schema and the
# check are one rule.
Country = Annotated[
    str,
    AfterValidator(_country),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": COUNTRY_PATTERN,
            "description": "ISO 3166-1 alpha-2 country code (IT, GB, US, ...), either case;"
            " stored upper case. Picks the crisis resources the coach gives.",
            "examples": ["IT"],
        }
    ),
]
# the app's locale (BCP 47, `_` accepted): only its region and language are used
Locale = Annotated[
    str,
    AfterValidator(_locale),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": LOCALE_PATTERN,
            "maxLength": LOCALE_MAX_LENGTH,
            "examples": ["en-US"],
        }
    ),
]


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _timezone(value: str) -> str:
    """One of the IANA zones (a folder such as `Europe`, a file of the database such as
    `zone.tab`, or a path is not), refused with its own error type (`invalid_timezone`)."""
    if value not in _zones():
        raise PydanticCustomError(
            "invalid_timezone", "not an IANA time zone (like Europe/Rome or America/New_York)"
        )
    return value


# the days of the user's health summaries are days in this zone
TimeZone = Annotated[
    str, StringConstraints(min_length=1, max_length=64), AfterValidator(_timezone), OneLine
]
# only athletes sign themselves up; coaches and managers are created by an admin
SELF_SERVICE_ROLES = (Role.athlete,)


_EMAIL = TypeAdapter(EmailStr)
_RESERVED_DOMAIN = "special-use or reserved name"


def _email_syntax(value: str) -> str:
    """The address's syntax only. A reserved domain (.test, .local, .invalid) is well
    formed but can receive no email: that is a business rule (`checked_email`, 400 at
    sign-up), not a schema one, so the OpenAPI's `format: email` stays true."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        if _RESERVED_DOMAIN in str(exc):
            return value.strip()
        raise ValueError(f"value is not a valid email address: {exc}") from None


# an email address in a request: `format: email` in the schema, its syntax checked
EmailAddress = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(_email_syntax),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]


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


class AccountFields(BaseModel):
    """What an administrator gives for a new account, under the rules sign-up applies."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    sport: Sport | None = None
    team: ShortText | None = None
    language: Language = "en"
    country: Country | None = None


def checked_account_fields(**fields: str | None) -> AccountFields:
    """Admin tools check what they are given on input, as the API does, instead of
    failing in the database (a NUL byte) or on output.

    Raises:
        InvalidInput: a field breaks its rule; the message names the field.
    """
    try:
        return AccountFields.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{field}: {reason}", details={"field": field}) from None


class AvatarConfig(BaseModel):
    """The coach avatar the app renders; unknown keys are refused."""

    model_config = ConfigDict(extra="forbid")

    style: Literal["realistic", "cartoon", "minimal", "abstract"] = "minimal"
    skin_tone: AvatarPart | None = None
    hair: AvatarPart | None = None
    outfit: AvatarPart | None = None
    primary_color: HexColor = "#2E86DE"
    accessories: list[AvatarPart] = Field(default_factory=list, max_length=10)
    voice: Literal["calm", "energetic", "neutral"] = "neutral"


class UserPreferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notifications_enabled: bool = True
    health_data_sync: bool = False
    language: Language = "en"
    privacy_mode: bool = False
    ai_personality: Personality = "empathetic"


class PreferencesPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notifications_enabled: StrictBool | None = None
    health_data_sync: StrictBool | None = None
    language: Language | None = None
    privacy_mode: StrictBool | None = None
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
    country: str | None = Field(
        description="ISO 3166-1 alpha-2, upper case; null when unknown (crisis resources"
        " then follow the language, or are the international ones)."
    )
    timezone: str = Field(description="IANA time zone; health summaries count days in it.")
    role: Literal["athlete", "coach", "team_manager", "admin", "finance"]
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
    country: Country | None = Field(None, description="A country code, or null to clear it.")
    timezone: TimeZone | None = Field(None, description="An IANA zone; null resets it to UTC.")
    avatar_config: AvatarConfig | None = None
    preferences: PreferencesPatch | None = None


class ConsentChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data_processing: StrictBool | None = None
    health_data: StrictBool | None = None
    marketing: StrictBool | None = None
    policy_version: Annotated[str, StringConstraints(min_length=1, max_length=32), OneLine] = (
        "2026-11"
    )


class ConsentRecordOut(BaseModel):
    purpose: str
    granted: bool
    policy_version: str
    source: str
    created_at: datetime


class ConsentsOut(BaseModel):
    current: ConsentState
    history: list[ConsentRecordOut]
