"""Accept an upload after checking its size and its real type; read it back."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.attachments.content import detect
from cityops.attachments.models import Attachment
from cityops.config import Settings
from cityops.errors import Invalid, NotFound, TooLarge, UnsupportedMedia
from cityops.kit.storage import Storage


def sniff(data: bytes) -> str | None:
    """The real type of ``data`` (see :mod:`cityops.attachments.content`), never the claimed one."""
    return detect(data)


def store_upload(
    session: Session,
    storage: Storage,
    settings: Settings,
    principal: Principal | None,
    *,
    filename: str,
    declared_type: str,
    data: bytes,
) -> Attachment:
    """Validate and store one file; the row is written only after the bytes are safely stored."""
    if not data:
        raise Invalid("文件为空", "The file is empty", code="empty_file")
    if len(data) > settings.max_upload_bytes:
        raise TooLarge(
            f"文件过大：{len(data)} 字节，上限 {settings.max_upload_bytes} 字节",
            f"File too large: {len(data)} bytes, the limit is {settings.max_upload_bytes}",
            details={"size": len(data), "limit_bytes": settings.max_upload_bytes},
        )
    actual = sniff(data)
    if actual is None or actual not in settings.allowed_upload_types:
        raise UnsupportedMedia(
            f"不支持的文件类型，只接受：{'、'.join(settings.allowed_upload_types)}",
            f"Unsupported file type; accepted: {', '.join(settings.allowed_upload_types)}",
            details={
                "declared": declared_type,
                "detected": actual,
                "accepted": settings.allowed_upload_types,
            },
        )
    digest = hashlib.sha256(data).hexdigest()
    attachment_id = uuid.uuid4()
    key = f"{digest[:2]}/{attachment_id}"
    storage.put(key, data, actual)
    attachment = Attachment(
        id=attachment_id,
        storage_key=key,
        filename=filename[:200] or "upload",
        content_type=actual,
        size=len(data),
        sha256=digest,
        uploaded_by=principal.id if principal else None,
    )
    session.add(attachment)
    session.flush()
    return attachment


def get_attachment(session: Session, attachment_id: uuid.UUID) -> Attachment:
    attachment = session.get(Attachment, attachment_id)
    if attachment is None:
        raise NotFound("找不到该附件", "No such attachment", details={"id": str(attachment_id)})
    return attachment


def may_read(session: Session, principal: Principal, attachment: Attachment) -> bool:
    """The uploader, district-wide staff, and whoever can see a case that references the file."""
    if attachment.uploaded_by == principal.id or principal.is_district_wide:
        return True
    from cityops.cases.service import visible_case_with_attachment

    return visible_case_with_attachment(session, principal, attachment.id)


def get_readable(session: Session, principal: Principal, attachment_id: uuid.UUID) -> Attachment:
    """The attachment if ``principal`` may read it; otherwise NotFound (existence is not revealed)."""
    attachment = get_attachment(session, attachment_id)
    if not may_read(session, principal, attachment):
        raise NotFound("找不到该附件", "No such attachment", details={"id": str(attachment_id)})
    return attachment


def get_attachable(session: Session, principal: Principal, attachment_id: uuid.UUID) -> Attachment:
    """The attachment if ``principal`` may attach it to a case: its own upload, or a file already
    on a case the caller can see. Someone else's upload is NotFound even for district-wide staff,
    who may read any file: attaching it would hand it to everyone who can see the new case."""
    attachment = get_attachment(session, attachment_id)
    if attachment.uploaded_by is not None and attachment.uploaded_by == principal.id:
        return attachment
    from cityops.cases.service import visible_case_with_attachment

    if visible_case_with_attachment(session, principal, attachment.id):
        return attachment
    raise NotFound("找不到该附件", "No such attachment", details={"id": str(attachment_id)})


def check_exist(session: Session, ids: list[uuid.UUID]) -> None:
    """Used by actions that reference attachments, so a log never points at a missing file."""
    for attachment_id in ids:
        get_attachment(session, attachment_id)
