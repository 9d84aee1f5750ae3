"""The FastAPI application factory (`uvicorn --factory api.main:create_app`)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import socketio
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware

import wellcoach
from api.errors import ErrorOut, error_responses, install_error_handlers
from api.gateway import gatekeeper
from api.middleware import RequestContextMiddleware
from api.realtime import build_socketio
from api.routes import auth, chat, erasure, escalations, gdpr, health, me, system
from jobs.chat import RqChatJobs
from wellcoach.chat.turns import Turns, TurnSlots
from wellcoach.config import Settings, get_settings
from wellcoach.db.session import Units
from wellcoach.logging import configure_logging
from wellcoach.platform import Platform, open_platform
from wellcoach.runtime.services import resolve_services

# every route: the error body of any 4xx (a missing token, an unknown path, a wrong method,
# a body that is not JSON); each route also names the statuses its own rules answer with
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorOut, "description": "Client error; `error.code` says which."}
}


def each_query_parameter_once(request: Request) -> None:
    """Every query parameter of the API takes one value: a repeated one is refused (422),
    not silently read as its last value, which the schema does not allow."""
    names = [name for name, _ in request.query_params.multi_items()]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RequestValidationError(
            [
                {"loc": ("query", name), "msg": "must be given at most once", "type": "repeated"}
                for name in repeated
            ]
        )


def create_app(
    settings: Settings | None = None,
    platform: Platform | None = None,
    *,
    units: Units | None = None,
) -> FastAPI:
    """Build the app. A given `platform` is used as is (tests, benches), else one is opened
    at start-up; `units` is where request sessions come from (default: the platform's
    unit of work; tests bind them to a transaction they roll back)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if platform is not None:
            yield
            return
        opened = await open_platform(settings)
        _wire(app, opened, units)
        # what start-up built (modules, schemas, routes) lives as long as the process:
        # out of the collector's sight, a request's garbage is collected without walking
        # it (a 10,000-sample health sync spent ~100 ms per request in full collections)
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await opened.close()

    app = FastAPI(
        title="wellcoach API",
        version=wellcoach.__version__,
        description="Backend of the wellcoach AI wellbeing coach for athletes and teams.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        dependencies=[Depends(each_query_parameter_once)],
    )
    if platform is not None:
        _wire(app, platform, units)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.api.cors_origins,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[
            "X-Request-ID",
            "Retry-After",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
            "RateLimit-Policy",
        ],
    )
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app, busy_retry_after=settings.api.busy_retry_after_seconds)

    app.include_router(system.router)
    v1 = APIRouter(
        prefix="/v1",
        dependencies=[Depends(gatekeeper)],
        responses=error_responses(
            429,
            why={
                429: "`rate_limited`: a rate-limit policy has no room left; `details` names"
                " it (`policy`, `limit`, `window`), Retry-After says when to send again."
            },
        ),
    )
    v1.include_router(system.v1)
    v1.include_router(auth.router)
    v1.include_router(me.router)
    v1.include_router(chat.router)
    v1.include_router(escalations.router)
    v1.include_router(health.router)
    v1.include_router(erasure.router)
    v1.include_router(gdpr.router)
    app.include_router(v1)
    return app


def _wire(app: FastAPI, platform: Platform, units: Units | None) -> None:
    """What routes and Socket.IO handlers reach through `app.state`, built once."""
    settings = platform.settings
    app.state.platform = platform
    app.state.units = units or platform.unit_of_work
    app.state.chat_jobs = RqChatJobs(platform.urls.redis_url)
    app.state.turns = Turns(
        platform,
        TurnSlots(settings.api.max_inflight_turns, settings.api.turn_slot_wait_seconds),
        app.state.chat_jobs,
        app.state.units,
    )


def create_asgi_app(
    settings: Settings | None = None, platform: Platform | None = None
) -> socketio.ASGIApp:
    """The served app: Socket.IO at /socket.io, everything else to FastAPI."""
    settings = settings or get_settings()
    app = create_app(settings, platform)
    redis_url = platform.urls.redis_url if platform is not None else None
    if redis_url is None:
        redis_url = resolve_services(settings, start=False).redis_url
    server = build_socketio(app, redis_url, settings.api.cors_origins)
    app.state.sio = server
    return socketio.ASGIApp(server, other_asgi_app=app)
