"""Signing in to the dashboard with the platform's own accounts, through the core.

A sign-in is the core's login (same password and 2FA checks, same failure limits, same
audit entries); the dashboard keeps the token pair in the browser session's state, on
the server. Every rerun checks the access token with the core, so a session ends when
the token expires (`auth.access_ttl_seconds`), the password changes, the account is
disabled or the login is revoked; sign-out revokes the login's refresh family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import core
from wellcoach.accounts import repository as users
from wellcoach.auth import service
from wellcoach.auth.access import authenticate_connection
from wellcoach.auth.errors import AccountDisabled, InvalidCredentials, InvalidToken, TotpRequired
from wellcoach.errors import WellcoachError
from wellcoach.models import User
from wellcoach.models.enums import Role
from wellcoach.platform import Platform

SESSION_KEY = "wellcoach_session"
VIEWER_KEY = "wellcoach_viewer"
NOTICE_KEY = "wellcoach_notice"
PENDING_KEY = "wellcoach_pending_second_factor"

EXPIRED = "Your session has expired: sign in again."
SIGNED_OUT = "You have signed out."


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the dashboard, as the core knows them on this rerun."""

    user_id: uuid.UUID
    email: str
    name: str | None
    role: Role
    expires_at: datetime

    @property
    def label(self) -> str:
        return self.name or self.email


@dataclass(frozen=True)
class SignedIn:
    """What the browser session holds after a sign-in (in the server's memory only)."""

    user_id: uuid.UUID
    access_token: str
    refresh_token: str
    expires_at: datetime


@dataclass(frozen=True)
class PendingSecondFactor:
    """Credentials that passed, kept between the password step and the code step: the
    core checks both together, as the API's login does."""

    email: str
    password: str


def _viewer(user: User, expires_at: datetime) -> Viewer:
    return Viewer(user.id, user.email, user.name, user.role, expires_at)


def sign_in(email: str, password: str, code: str | None = None) -> None:
    """Log in through the core and keep the session.

    Raises:
        TotpRequired: the account uses 2FA and no code was given (the password was right);
            the credentials are kept for the code step.
        WellcoachError: as `wellcoach.auth.service.login` (wrong credentials or code,
            disabled account, too many attempts, Redis down).
    """
    context = core.request_context()

    async def work(platform: Platform) -> SignedIn:
        async with platform.unit_of_work() as session:
            pair = await service.login(
                session, platform, email=email, password=password, totp_code=code, context=context
            )
            user = await users.get_by_email(session, users.normalize_email(email))
        if user is None:  # deleted between the two reads
            raise InvalidCredentials()
        expires_at = datetime.now(UTC) + timedelta(seconds=pair.expires_in)
        return SignedIn(user.id, pair.access_token, pair.refresh_token, expires_at)

    try:
        signed = core.run(work)
    except TotpRequired:
        st.session_state[PENDING_KEY] = PendingSecondFactor(email, password)
        raise
    st.session_state.pop(PENDING_KEY, None)
    st.session_state.pop(NOTICE_KEY, None)
    st.session_state[SESSION_KEY] = signed


def pending_second_factor() -> PendingSecondFactor | None:
    pending = st.session_state.get(PENDING_KEY)
    return pending if isinstance(pending, PendingSecondFactor) else None


def cancel_second_factor() -> None:
    st.session_state.pop(PENDING_KEY, None)


def current_viewer() -> Viewer | None:
    """The signed-in viewer, checked with the core on this rerun; None when signed out.

    A session the core no longer accepts is ended here, with a notice for the login page
    saying why (expired, signed out elsewhere or after a password change, disabled)."""
    signed = st.session_state.get(SESSION_KEY)
    if not isinstance(signed, SignedIn):
        st.session_state.pop(VIEWER_KEY, None)
        return None

    async def work(platform: Platform) -> Viewer:
        async with platform.unit_of_work() as session:
            found = await authenticate_connection(session, platform.signer, signed.access_token)
            return _viewer(found.user, signed.expires_at)

    try:
        viewer = core.run(work)
    except InvalidToken as exc:
        end_session(EXPIRED if datetime.now(UTC) >= signed.expires_at else exc.message)
        return None
    except AccountDisabled as exc:
        end_session(exc.message)
        return None
    st.session_state[VIEWER_KEY] = viewer
    return viewer


def end_session(notice: str = SIGNED_OUT) -> None:
    """Sign out: revoke the login's refresh family through the core (audited as
    `auth.logout`), forget the tokens, and leave a notice for the login page."""
    signed = st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop(VIEWER_KEY, None)
    st.session_state.pop(PENDING_KEY, None)
    st.session_state[NOTICE_KEY] = notice
    if not isinstance(signed, SignedIn):
        return
    context = core.request_context()

    async def work(platform: Platform) -> None:
        async with platform.unit_of_work() as session:
            user = await users.get_by_id(session, signed.user_id)
            if user is None:
                return
            try:
                await service.logout(session, platform, user, signed.refresh_token, context)
            except InvalidToken:  # already revoked: signed out elsewhere, or a reused token
                pass

    try:
        core.run(work)
    except WellcoachError:  # the tokens are forgotten; the refresh token lapses by itself
        pass


def take_notice() -> str | None:
    """The notice left by the end of the last session, shown once."""
    notice = st.session_state.pop(NOTICE_KEY, None)
    return notice if isinstance(notice, str) else None


def require_viewer(*roles: Role) -> Viewer:
    """The viewer of this rerun, for a page; stops the page for anyone else (a page run
    without the entry script, or by a role it is not for)."""
    viewer = st.session_state.get(VIEWER_KEY)
    if not isinstance(viewer, Viewer) or (roles and viewer.role not in roles):
        st.error("This page is not available to you.")
        st.stop()
    return viewer
