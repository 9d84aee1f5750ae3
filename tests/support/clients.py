"""HTTP clients for the tests."""

from __future__ import annotations

import httpx
from fastapi import FastAPI


def make_client(app: FastAPI, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    """An HTTP client to the app as seen from `ip` (rate limits count per client IP)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    return httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"User-Agent": "pytest-app/1.0"}
    )
