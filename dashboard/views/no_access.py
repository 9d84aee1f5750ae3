"""What a signed-in account without dashboard pages sees (athletes)."""

from __future__ import annotations

import streamlit as st

from dashboard import auth

viewer = auth.require_viewer()
st.title("The dashboard is not for athletes")
st.info(
    "This dashboard is where coaches, team managers, finance and administrators work."
    " Your coaching, your chats and your data are in the wellcoach app: sign in there"
    " with the same account.",
    icon=":material/smartphone:",
)
st.caption(
    f"Signed in as {viewer.email}. Working with a team? Ask an administrator for a staff account."
)
st.button("Sign out", type="primary", on_click=auth.end_session, key="no_access_sign_out")
