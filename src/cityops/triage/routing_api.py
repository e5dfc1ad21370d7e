"""HTTP handlers for the routing model's administration under /api/v1/triage: the knowledge base
(read, edit, Excel import/export, history), model versions (retrain, switch on, roll back, the
gain report), the calibrated thresholds with the expected share of automatic dispatch, and the
import of a district's labelled history."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field

from cityops.accounts.principal import Principal
from cityops.errors import Invalid, TooLarge
from cityops.triage import kb_service, learning, versions
from cityops.web.deps import SessionDep, require_roles
from cityops.web.openapi import XLSX, xlsx_response

router = APIRouter(prefix="/api/v1/triage", tags=["triage"])

ADMIN = require_roles("admin")
READERS = require_roles("admin", "operator", "dispatcher")


class KnowledgeIn(BaseModel):
    """One knowledge-base row; lists may also be given as one |-separated string."""

    name: str | None = Field(default=None, max_length=100)
    kind: str | None = Field(default=None, max_length=16)
    major_code: str | None = Field(default=None, max_length=8)
    major_name: str | None = Field(default=None, max_length=50)
    family: str | None = Field(default=None, max_length=40)
    family_fallback: bool | None = None
    object: str | None = Field(default=None, max_length=100)
    filing_criterion: str | None = Field(default=None, max_length=2000)
    terms: list[str] | str | None = None
    problems: list[str] | str | None = None
    confusions: list[str] | str | None = None
    routes_to: str | None = Field(default=None, max_length=20)


class RetrainIn(BaseModel):
    include_history: bool = True
    force: bool = False


async def _upload(request: Request, file: UploadFile) -> bytes:
    cap = int(getattr(request.app.state.settings, "max_upload_bytes", 10 * 1024 * 1024))
    data = await file.read(cap + 1)
    if len(data) > cap:
        raise TooLarge(
            f"文件超过 {cap} 字节", f"The file is larger than {cap} bytes", details={"max_bytes": cap}
        )
    return data


def _rows_of(data: bytes, filename: str) -> list[dict[str, Any]]:
    return kb_service.read_upload(data, filename)


# --- knowledge base --------------------------------------------------------------------------


@router.get("/knowledge-base")
def knowledge_base(
    session: SessionDep,
    _: Principal = Depends(READERS),
    family: str | None = Query(None, max_length=40),
    q: str | None = Query(None, max_length=40, description="name or term contains"),
) -> dict[str, Any]:
    rows = kb_service.effective_rows(session)
    if family:
        rows = [r for r in rows if r.family == family]
    if q:
        rows = [r for r in rows if q in r.name or any(q in t for t in r.terms)]
    return {"revision": kb_service.revision(session), "total": len(rows), "rows": [r.as_dict() for r in rows]}


@router.get("/knowledge-base.xlsx", responses=xlsx_response("类别知识库 / category knowledge base workbook"))
def knowledge_base_xlsx(session: SessionDep, _: Principal = Depends(ADMIN)) -> Response:
    return Response(
        kb_service.export_xlsx(kb_service.effective_rows(session)),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="knowledge_base.xlsx"'},
    )


@router.post("/knowledge-base/import")
async def knowledge_base_import(
    request: Request, session: SessionDep, who: Principal = Depends(ADMIN), file: UploadFile = File(...)
) -> dict[str, Any]:
    """An Excel (the export's layout) or CSV file; every row is checked first, then all apply."""
    rows = _rows_of(await _upload(request, file), file.filename or "")
    return kb_service.upsert_rows(session, rows, who.id, action="import")


@router.get("/knowledge-base/history")
def knowledge_base_history(
    session: SessionDep,
    _: Principal = Depends(ADMIN),
    code: str | None = Query(None, max_length=20),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    return {
        "revision": kb_service.revision(session),
        "changes": [
            {
                "revision": r.id,
                "code": r.code,
                "action": r.action,
                "before": r.before,
                "after": r.after,
                "created_by": str(r.created_by) if r.created_by else None,
                "created_at": r.created_at.isoformat(),
            }
            for r in kb_service.history(session, code, limit)
        ],
    }


@router.get("/knowledge-base/{code}")
def knowledge_row(code: str, session: SessionDep, _: Principal = Depends(READERS)) -> dict[str, Any]:
    return kb_service.get_row(session, code).as_dict()


@router.put("/knowledge-base/{code}")
def knowledge_put(
    code: str, body: KnowledgeIn, session: SessionDep, who: Principal = Depends(ADMIN)
) -> dict[str, Any]:
    """Change a row (fields left out keep their value) or add one for a local category."""
    result = kb_service.upsert_rows(session, [{**body.model_dump(exclude_unset=True), "code": code}], who.id)
    return {**result, "row": kb_service.get_row(session, code).as_dict()}


@router.delete("/knowledge-base/{code}")
def knowledge_delete(code: str, session: SessionDep, who: Principal = Depends(ADMIN)) -> dict[str, Any]:
    return {"code": code, "revision": kb_service.remove_row(session, code, who.id)}


# --- model versions --------------------------------------------------------------------------


@router.get("/models")
def models(session: SessionDep, _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """The versions and the one live now, read from the table: listing never builds a model (the
    knowledge-base model takes tens of seconds to build on a fresh database)."""
    active = versions.active_version(session)
    # A model file given in the settings answers instead of every version (learning.live_model).
    live = None if learning.model_path().is_file() or active is None else active.version
    return {
        "live_version": live,
        "versions": [versions.version_dict(r) for r in versions.list_versions(session)],
    }


@router.post("/models/retrain", status_code=201)
def retrain(body: RetrainIn, session: SessionDep, _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Train a new version now (tens of seconds); it goes live only when it is not worse."""
    row = versions.train_version(
        session, trigger="on_demand", include_history=body.include_history, force=body.force
    )
    return versions.version_dict(row)


@router.post("/models/rollback")
def rollback(session: SessionDep, _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    return versions.version_dict(versions.rollback(session))


@router.post("/models/{version}/activate")
def activate(version: int, session: SessionDep, _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    return versions.version_dict(versions.activate(session, version))


@router.get("/models/report")
def gain_report(
    session: SessionDep, _: Principal = Depends(require_roles("admin", "dispatcher", "leader"))
) -> dict[str, Any]:
    return versions.gain_report(session)


# --- thresholds ----------------------------------------------------------------------------


@router.get("/thresholds")
def thresholds(session: SessionDep, _: Principal = Depends(ADMIN)) -> dict[str, Any]:
    """Per category: the calibrated threshold (expected precision ≥ 95 %), an administrator's
    override if any, and the expected share of reports dispatched automatically."""
    return learning.thresholds_report(session)


# --- labelled history ------------------------------------------------------------------------


@router.post("/history/import")
async def history_import(
    request: Request, session: SessionDep, _: Principal = Depends(ADMIN), file: UploadFile = File(...)
) -> dict[str, Any]:
    """A district's export of labelled reports (CSV or Excel with columns ``text`` and
    ``category_code``): kept as training rows for the next version. Every row is checked first."""
    from cityops.catalog.service import list_categories

    rows = _rows_of(await _upload(request, file), file.filename or "")
    known = {c.code for c in list_categories(session, kind="event", limit=100_000)[0]}
    pairs = []
    for r in rows:
        text = str(r.get("text") or "").strip()
        code = str(r.get("category_code") or r.get("code") or "").strip()
        where = r.get("_row")
        if not text or code not in known:
            raise Invalid(
                f"第 {where} 行：需要 text 与有效的事项类别编码 category_code",
                f"row {where}: needs text and a known matter category_code (got {code!r})",
                details={"row": where, "code": code},
            )
        pairs.append((text[:5000], code))
    for text, code in pairs:
        learning.record_correction(session, text, code, "history_import")
    return {"rows": len(pairs)}
