"""The internal dashboard (Streamlit): the entry script that signs people in and routes
them to the pages of their role.

Served by `wellcoach dashboard` and `wellcoach up`. Every rerun checks the session with
the core (`dashboard.auth`), then offers the viewer's pages (`dashboard.nav.PAGES`); the
pages read and write through the core (`dashboard.core`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
import redis
import streamlit as st
from sqlalchemy.exc import DBAPIError

from dashboard import auth, nav
from wellcoach.errors import WellcoachError

# a session that expires while nobody clicks still ends within this long
EXPIRY_CHECK = timedelta(seconds=30)
OUTAGES = (WellcoachError, DBAPIError, psycopg.Error, redis.RedisError, OSError)


def st_page(spec: nav.PageSpec) -> st.Page:
    return st.Page(spec.path, title=spec.title, icon=spec.icon)


def local_time(moment: datetime) -> str:
    """A time in the browser's time zone when Streamlit knows it, else in UTC."""
    try:
        zone = ZoneInfo(st.context.timezone) if st.context.timezone else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    return f"{moment.astimezone(zone):%H:%M}" if zone else f"{moment:%H:%M} UTC"


@st.fragment(run_every=EXPIRY_CHECK)
def expiry_watch(expires_at: datetime) -> None:
    if datetime.now(UTC) >= expires_at:
        st.rerun(scope="app")


def sidebar(viewer: auth.Viewer) -> None:
    with st.sidebar:
        st.markdown(f"**{viewer.label}**")
        st.caption(
            f"{nav.ROLE_LABELS[viewer.role]} · session ends at {local_time(viewer.expires_at)}"
        )
        st.button("Sign out", key="sign_out", icon=":material/logout:", on_click=auth.end_session)
        expiry_watch(viewer.expires_at)


# staff get no developer menu or Deploy button, and no tracebacks (which can hold data)
st.set_option("client.toolbarMode", "viewer")
st.set_option("client.showErrorDetails", "type")
st.set_page_config(page_title="wellcoach", page_icon=":material/favorite:", layout="wide")

try:
    viewer = auth.current_viewer()
except OUTAGES as exc:
    st.error(
        "The platform cannot be reached right now, so nobody can sign in or see data."
        f" Try again in a moment; `wellcoach status` tells what is down. ({type(exc).__name__})"
    )
    st.stop()

if viewer is None:
    st.navigation([st_page(nav.LOGIN)], position="hidden").run()
else:
    current = st.navigation([st_page(spec) for spec in nav.pages_for(viewer.role)])
    sidebar(viewer)
    current.run()
