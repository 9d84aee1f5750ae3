"""Coaches and team managers: the escalation queue's place, until it arrives."""

from __future__ import annotations

import streamlit as st

from dashboard import auth
from wellcoach.models.enums import Role

viewer = auth.require_viewer(Role.coach, Role.team_manager)
st.title("Escalations")
st.info(
    "Your queue of escalations arrives here with the escalation feature: requests"
    " sorted by time left to their SLA, with claim, respond and close. Until then there"
    " is nothing to do on this page.",
    icon=":material/support_agent:",
)
