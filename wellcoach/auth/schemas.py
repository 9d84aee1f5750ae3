"""Request and response bodies of the auth flows."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from wellcoach.accounts.schemas import (
    Country,
    EmailAddress,
    Language,
    Locale,
    ShortText,
    Sport,
    TimeZone,
)
from wellcoach.text import OneLine, Secret

Password = Annotated[str, StringConstraints(min_length=1, max_length=256), Secret]
Token = Annotated[str, StringConstraints(min_length=10, max_length=2048), OneLine]
TotpCode = Annotated[str, StringConstraints(min_length=6, max_length=20), OneLine]


class ConsentsIn(BaseModel):
    """Consents given at sign-up: true or false, nothing else."""

    model_config = ConfigDict(extra="forbid")

    data_processing: StrictBool = False
    health_data: StrictBool = False
    marketing: StrictBool = False


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailAddress
    password: Password
    name: ShortText
    role: Literal["athlete"] = Field(
        "athlete",
        description="Only athletes sign themselves up; coach and team manager accounts are"
        " created by an administrator.",
    )
    sport: Sport | None = None
    team: ShortText | None = None
    language: Language | None = Field(
        None,
        description="The coach's language. When omitted: the first of en and it that"
        " `locale`, else the Accept-Language header, asks for; else en.",
    )
    country: Country | None = Field(
        None,
        description="When omitted: the region of `locale`, else of the first"
        " Accept-Language tag that has one (en-GB → GB); none when no tag names a country.",
    )
    timezone: TimeZone = Field(
        "UTC", description="IANA time zone (Europe/Rome): the days of your health summaries."
    )
    locale: Locale | None = Field(
        None,
        description="The device's locale (en-US, it-IT, en_GB): only used to infer a"
        " missing `country` and `language`; not stored.",
    )
    consents: ConsentsIn = Field(default_factory=ConsentsIn)


class AcceptedOut(BaseModel):
    status: str
    message: str


class VerifyIn(BaseModel):
    token: Token


class EmailIn(BaseModel):
    email: EmailAddress


class LoginIn(BaseModel):
    email: EmailAddress
    password: Password
    totp_code: TotpCode | None = None


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class RefreshIn(BaseModel):
    refresh_token: Token


class ResetIn(BaseModel):
    token: Token
    new_password: Password


class ChangePasswordIn(BaseModel):
    current_password: Password
    new_password: Password


class TotpEnrollOut(BaseModel):
    secret: str
    provisioning_uri: str


class TotpConfirmIn(BaseModel):
    code: TotpCode


class TotpDisableIn(BaseModel):
    password: Password
    code: TotpCode


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]
