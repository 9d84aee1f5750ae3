"""Sign in with the platform's own account: password, then the 2FA code when the account
uses one. Both steps are the core's login, with its limits and audit entries."""

from __future__ import annotations

import streamlit as st

from dashboard import auth
from wellcoach.auth.errors import (
    AccountDisabled,
    InvalidCredentials,
    InvalidTotp,
    TotpRequired,
)
from wellcoach.errors import RateLimited, Retryable, WellcoachError


def explain(exc: WellcoachError) -> str:
    """What a person should read when a sign-in fails (one mapping, by error)."""
    if isinstance(exc, InvalidCredentials):
        return "The email or password is wrong."
    if isinstance(exc, InvalidTotp):
        return "That code is wrong or was already used. Enter the current code from your app."
    if isinstance(exc, AccountDisabled):
        return "This account is disabled. Ask an administrator."
    if isinstance(exc, RateLimited):
        minutes = max(1, -(-exc.retry_after // 60))
        return f"Too many attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
    if isinstance(exc, Retryable):
        return "Signing in is unavailable right now. Try again in a moment."
    return exc.message


def attempt(email: str, password: str, code: str | None = None) -> None:
    try:
        auth.sign_in(email, password, code)
    except TotpRequired:
        st.rerun()
    except WellcoachError as exc:
        st.error(explain(exc), icon=":material/error:")
        return
    st.rerun()


_, middle, _ = st.columns([1, 1.2, 1])
with middle:
    st.title("wellcoach")
    st.caption("The dashboard for coaches, team managers, finance and administrators.")
    notice = auth.take_notice()
    if notice:
        st.info(notice, icon=":material/info:")

    pending = auth.pending_second_factor()
    if pending is None:
        with st.form("sign_in"):
            email = st.text_input("Email", key="login_email", autocomplete="username")
            password = st.text_input(
                "Password", key="login_password", type="password", autocomplete="current-password"
            )
            if st.form_submit_button(
                "Sign in", key="login_submit", type="primary", width="stretch"
            ):
                if email.strip() and password:
                    attempt(email, password)
                else:
                    st.error("Enter your email and password.", icon=":material/error:")
        st.caption("No account? An administrator creates them: `wellcoach users create`.")
    else:
        with st.form("second_factor"):
            st.markdown(f"Two-factor authentication is on for **{pending.email}**.")
            code = st.text_input(
                "Authentication code",
                key="login_code",
                max_chars=20,
                placeholder="123456",
                help="The 6-digit code from your authenticator app, or a recovery code.",
                autocomplete="one-time-code",
            )
            if st.form_submit_button("Verify", key="login_verify", type="primary", width="stretch"):
                if code.strip():
                    attempt(pending.email, pending.password, code.strip())
                else:
                    st.error("Enter the code from your authenticator app.")
        st.button("Use another account", key="login_cancel", on_click=auth.cancel_second_factor)
