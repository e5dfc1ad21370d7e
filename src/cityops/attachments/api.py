"""Upload a photo or file; fetch it back."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from cityops.accounts.principal import Principal
from cityops.attachments import service
from cityops.kit.storage import Storage, storage_from_settings
from cityops.web.deps import SessionDep, current_principal

router = APIRouter(prefix="/api/v1/attachments", tags=["attachments"])


class AttachmentOut(BaseModel):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


def get_storage(request: Request) -> Storage:
    if getattr(request.app.state, "storage", None) is None:
        request.app.state.storage = storage_from_settings(request.app.state.settings)
    storage: Storage = request.app.state.storage
    return storage


@router.post("", status_code=201, response_model=AttachmentOut)
async def upload(
    request: Request,
    file: UploadFile,
    session: SessionDep,
    principal: Principal = Depends(current_principal),
    storage: Storage = Depends(get_storage),
) -> object:
    """Upload one photo (JPEG, PNG, WebP, GIF) or PDF; reference its id in case actions."""
    settings = request.app.state.settings
    data = await file.read(settings.max_upload_bytes + 1)
    # Hashing, checking and writing up to 10 MB (to S3, perhaps) in a worker thread, not on the
    # event loop that serves every other request.
    return await run_in_threadpool(
        service.store_upload,
        session,
        storage,
        settings,
        principal,
        filename=file.filename or "upload",
        declared_type=file.content_type or "",
        data=data,
    )


@router.get("/{attachment_id}")
def download(
    attachment_id: uuid.UUID,
    session: SessionDep,
    principal: Principal = Depends(current_principal),
    storage: Storage = Depends(get_storage),
) -> Response:
    """The file, as a download: a browser saves it instead of rendering it in the site's origin,
    and ``nosniff`` keeps it from guessing another type than the checked one."""
    attachment = service.get_readable(session, principal, attachment_id)
    name = attachment.filename or "attachment"
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name)  # for clients that ignore filename*
    headers = {
        "Content-Disposition": f'attachment; filename="{ascii_name}"; '
        f"filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    return Response(storage.get(attachment.storage_key), media_type=attachment.content_type, headers=headers)
