"""Administrators: is the platform healthy? The same checks as `/health` and
`wellcoach status`, one card each, with what failed and how long each took."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from dashboard import auth, core
from wellcoach.llm.selection import provider_name
from wellcoach.models.enums import Role
from wellcoach.ops.health import CRITICAL, HealthReport, run_checks
from wellcoach.platform import Platform

LABELS = {
    "database": "PostgreSQL",
    "pgvector": "pgvector",
    "redis": "Redis",
    "llm": "LLM provider",
    "disk": "Disk",
}


@dataclass(frozen=True)
class Status:
    report: HealthReport
    embedded_postgres: bool
    embedded_redis: bool
    provider: str


async def load(platform: Platform) -> Status:
    return Status(
        await run_checks(platform),
        platform.urls.embedded_postgres,
        platform.urls.embedded_redis,
        provider_name(platform.settings),
    )


auth.require_viewer(Role.admin)
st.title("Platform status")
status = core.run(load)
report = status.report

if report.healthy:
    st.success("All checks pass.", icon=":material/check_circle:")
elif report.ready:
    st.warning(
        "Degraded: the API serves requests, but a check below fails.", icon=":material/warning:"
    )
else:
    st.error(
        "Down: a service the API cannot work without fails (" + ", ".join(CRITICAL) + ").",
        icon=":material/error:",
    )

columns = st.columns(len(report.checks))
for column, (name, check) in zip(columns, report.checks.items(), strict=True):
    latency = check.get("latency_ms")
    column.metric(
        LABELS.get(name, name),
        "OK" if check["ok"] else "Failing",
        f"{latency:.0f} ms" if latency is not None else None,
        delta_color="off",
        delta_arrow="off",
        border=True,
    )

failing = {name: check for name, check in report.checks.items() if not check["ok"]}
for name, check in failing.items():
    st.error(f"**{LABELS.get(name, name)}**: {check.get('error', 'failed')}")

st.subheader("Details")
st.dataframe(
    [
        {
            "check": LABELS.get(name, name),
            "state": "ok" if check["ok"] else "failing",
            "latency (ms)": check.get("latency_ms"),
            "detail": check.get("error")
            or ", ".join(
                f"{key}: {value}"
                for key, value in check.items()
                if key not in {"ok", "latency_ms", "error"}
            ),
        }
        for name, check in report.checks.items()
    ],
    hide_index=True,
    width="stretch",
)
st.caption(
    f"Checked at {report.timestamp:%Y-%m-%d %H:%M:%S} UTC · PostgreSQL"
    f" {'embedded' if status.embedded_postgres else 'configured'} · Redis"
    f" {'embedded' if status.embedded_redis else 'configured'} · replies from"
    f" {'the offline composer' if status.provider == 'offline' else status.provider}"
)
st.button("Check again", icon=":material/refresh:")
