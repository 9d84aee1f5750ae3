"""/v1/me/export and /v1/me/exports: the user's copy of their data (GDPR Art. 20).

Asking queues a worker; the status carries a signed download link once the export is
ready. The download needs no bearer token (the signed token in its URL is the
credential, so a browser or a mail client can follow it), and the link expires.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, StringConstraints

from api.deps import ContextDep, CurrentUser, PlatformDep, SessionDep
from api.errors import ErrorOut, error_responses
from api.gateway import limited
from jobs import gdpr_exports as export_jobs
from wellcoach.db.base import utcnow
from wellcoach.gdpr import exports
from wellcoach.models import GdprRequest
from wellcoach.models.enums import GdprStatus
from wellcoach.text import OneLine, Uuid

router = APIRouter(tags=["gdpr"], responses=error_responses(503))
log = structlog.get_logger(__name__)
Token = Annotated[str, StringConstraints(min_length=1, max_length=2048), OneLine]

GONE: dict[int | str, Any] = {
    410: {
        "model": ErrorOut,
        "description": "`export_link_expired`: the link expired or the export was deleted;"
        " request a new export.",
    }
}
ZIP: dict[int | str, Any] = {
    200: {
        "description": "The export: export.json, chat_history.csv, health_data.csv, README.txt.",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class ExportOut(BaseModel):
    id: Uuid
    status: Literal["pending", "running", "completed", "failed", "expired"] = Field(
        description="`expired`: completed, but the download link's time is over."
    )
    requested_at: datetime
    completed_at: datetime | None
    expires_at: datetime | None = Field(description="When the download link stops working.")
    download_url: str | None = Field(
        description="While the export can be downloaded: the signed link (no bearer token"
        " needed; keep it private)."
    )
    error: str | None = Field(description="A failed export's error code.")


def _export_out(request: Request, platform: PlatformDep, row: GdprRequest) -> ExportOut:
    now = utcnow()
    shown: str = row.status.value
    url = None
    if exports.downloadable(row, now):
        token = exports.sign_link(platform.vault.keyring, row)
        url = str(
            request.url_for("download_export", export_id=str(row.id)).include_query_params(
                token=token
            )
        )
    elif row.status == GdprStatus.completed:
        shown = "expired"
    return ExportOut(
        id=row.id,
        status=shown,
        requested_at=row.requested_at,
        completed_at=row.completed_at,
        expires_at=row.due_at if row.status == GdprStatus.completed else None,
        download_url=url,
        error=row.error,
    )


@router.post(
    "/me/export",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExportOut,
    openapi_extra=limited("data_export"),
    responses=error_responses(401, 403, 429),
)
async def request_export(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> ExportOut:
    """Ask for a copy of all your data; a worker prepares it (poll
    `GET /v1/me/exports/{id}` for its `download_url`). One request every 7 days
    (`data_export` policy); an export still in preparation is returned again."""
    row = await exports.request_export(session, user, requested_by=user.id, request=context)
    out = _export_out(request, platform, row)
    await session.commit()  # the worker must find it
    try:
        await asyncio.to_thread(export_jobs.enqueue_export, platform.urls.redis_url, row.id)
    except Exception:  # the sweep queues pending exports again
        log.warning("gdpr.export_enqueue_failed", request_id=str(row.id))
    return out


@router.get(
    "/me/exports/{export_id}",
    response_model=ExportOut,
    responses=error_responses(401, 403, 404, 422),
)
async def get_export(
    export_id: Uuid,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    platform: PlatformDep,
) -> ExportOut:
    """An export's status; once completed, its download link and when it expires."""
    return _export_out(request, platform, await exports.export_status(session, user, export_id))


@router.get(
    "/me/exports/{export_id}/download",
    name="download_export",
    response_class=StreamingResponse,
    responses={
        **ZIP,
        **error_responses(
            403,
            422,
            why={403: "`export_link_invalid`: the token is not this export's, or was altered."},
        ),
        **GONE,
    },
)
async def download_export(
    export_id: Uuid,
    token: Annotated[
        Token, Query(description="The signed token in `download_url` (no bearer token).")
    ],
    session: SessionDep,
    platform: PlatformDep,
    context: ContextDep,
) -> StreamingResponse:
    """The export as a ZIP. The signed `token` is the credential: no bearer token."""
    download = await exports.open_download(
        session,
        platform.vault,
        exports.export_directory(platform.settings.data_path),
        export_id,
        token,
        request=context,
    )
    return StreamingResponse(
        download.chunks,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{download.filename}"',
            "Content-Length": str(download.size),
            "Cache-Control": "no-store",
        },
    )
