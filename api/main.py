"""The FastAPI application factory (`uvicorn --factory api.main:create_app`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

import wellcoach
from api.deps import TurnSlots
from api.errors import error_body, install_error_handlers
from api.middleware import RequestContextMiddleware
from api.routes import auth, chat, me, system
from wellcoach.config import Settings, get_settings
from wellcoach.logging import configure_logging
from wellcoach.platform import Platform, open_platform

ERROR_RESPONSES = {
    "4XX": {
        "description": "Client error",
        "content": {
            "application/json": {
                "example": error_body("validation_error", "The request is not valid.")
            }
        },
    }
}


def create_app(settings: Settings | None = None, platform: Platform | None = None) -> FastAPI:
    """Build the app; a given `platform` is used as is (tests), else one is opened at start."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = platform is None
        app.state.platform = platform or await open_platform(settings)
        try:
            yield
        finally:
            if owned:
                await app.state.platform.close()

    app = FastAPI(
        title="wellcoach API",
        version=wellcoach.__version__,
        description="Backend of the wellcoach AI wellbeing coach for athletes and teams.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    if platform is not None:
        app.state.platform = platform
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
        ],
    )
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app, busy_retry_after=settings.api.busy_retry_after_seconds)
    app.state.turn_slots = TurnSlots(
        settings.api.max_inflight_turns, settings.api.turn_slot_wait_seconds
    )

    app.include_router(system.router)
    v1 = APIRouter(prefix="/v1")
    v1.include_router(system.v1)
    v1.include_router(auth.router)
    v1.include_router(me.router)
    v1.include_router(chat.router)
    app.include_router(v1)
    return app


def create_asgi_app(settings: Settings | None = None, platform: Platform | None = None):  # noqa: ANN201
    """The served app: Socket.IO at /socket.io, everything else to FastAPI."""
    import socketio

    from api.realtime import build_socketio
    from wellcoach.runtime.services import resolve_services

    settings = settings or get_settings()
    app = create_app(settings, platform)
    redis_url = platform.urls.redis_url if platform is not None else None
    if redis_url is None:
        redis_url = resolve_services(settings, start=False).redis_url
    server = build_socketio(app, redis_url, settings.api.cors_origins)
    app.state.sio = server
    return socketio.ASGIApp(server, other_asgi_app=app)
