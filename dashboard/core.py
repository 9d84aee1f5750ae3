"""The dashboard's one way into the async core.

Streamlit runs each page as a plain script, rerun on every interaction; each call here
opens the platform, does its work (in one unit of work where it writes) and closes it,
through the core's own helper for sync adapters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import streamlit as st

from wellcoach.audit import RequestContext
from wellcoach.config import get_settings
from wellcoach.platform import Platform, run_with_platform

T = TypeVar("T")

SOURCE = "dashboard"


def run(work: Callable[[Platform], Awaitable[T]]) -> T:
    """Run one piece of async work against the platform configured for this process."""
    return run_with_platform(work, get_settings())


def client_address() -> str:
    """The browser's address, for the audit trail and the per-address login limits.

    Streamlit reports a peer on this machine as None: then a reverse proxy here may have
    forwarded the request, and the last `X-Forwarded-For` entry is the address it saw
    (the API trusts loopback proxies the same way); else it is a local browser."""
    address = st.context.ip_address
    if isinstance(address, str):  # a peer elsewhere (under AppTest: a stand-in, no str)
        return address
    forwarded = st.context.headers.get("X-Forwarded-For")
    if isinstance(forwarded, str) and forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return "127.0.0.1"


def request_context() -> RequestContext:
    """Where the current browser session comes from (`RequestContext` of the core)."""
    agent = st.context.headers.get("User-Agent")
    return RequestContext(
        ip_address=client_address(),
        user_agent=agent if isinstance(agent, str) else None,
        source=SOURCE,
    )
