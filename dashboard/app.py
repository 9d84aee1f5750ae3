"""The internal dashboard for coaches, team managers and finance (Streamlit).

Pages read and write through the core; this entry page shows platform status.
"""

from __future__ import annotations

import streamlit as st

from wellcoach.config import get_settings
from wellcoach.ops.health import run_checks
from wellcoach.platform import run_with_platform

st.set_page_config(page_title="wellcoach", layout="wide")
st.title("wellcoach")
st.caption("Coach and operations dashboard")

report = run_with_platform(run_checks, get_settings())
st.subheader("Platform health: " + ("healthy" if report.healthy else "degraded"))
st.table(
    [
        {
            "check": name,
            "ok": check["ok"],
            "detail": check.get("error", ""),
            "latency ms": check.get("latency_ms"),
        }
        for name, check in report.checks.items()
    ]
)
