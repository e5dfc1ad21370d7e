"""HTTP handlers of intake under /api/v1/intake: reports, camera webhook, HTTP telemetry,
signals, registries, merchants, duplicates, merge/split."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from cityops.accounts.principal import Principal
from cityops.errors import Forbidden, Invalid
from cityops.intake import duplicates, service
from cityops.intake.http_devices import ingest_signed
from cityops.intake.schemas import ReportIn
from cityops.web.deps import SessionDep, current_principal, require_roles
from cityops.web.openapi import error_responses

router = APIRouter(prefix="/api/v1/intake", tags=["intake"])

PrincipalDep = Annotated[Principal, Depends(current_principal)]
STAFF = ("operator", "dispatcher", "leader", "admin", "inspector")
ADMIN = ("admin",)
# Which channels each role may submit on (a citizen cannot pose as the hotline).
CHANNELS_OF_ROLE = {
    "citizen": ("web",),
    "inspector": ("inspector", "web"),
    "operator": ("hotline", "web", "api"),
    "dispatcher": ("hotline", "web", "api"),
    "admin": ("hotline", "web", "api", "open311"),
}


def report_out(submitted: service.Submitted) -> dict[str, Any]:
    r = submitted.report
    return {
        "id": str(r.id),
        "channel": r.channel,
        "channel_ref": r.channel_ref,
        "kind": r.kind,
        "outcome": r.outcome,
        "case_id": str(r.case_id) if r.case_id else None,
        "case_code": r.case_code,
        "queue_item_id": r.queue_item_id,
        "category_code": r.category_code,
        "street_code": r.street_code,
        "received_at": r.received_at.isoformat(),
        "replay": not submitted.created,
    }


@router.post("/reports", status_code=201, responses=error_responses(403, 404, 409, 422))
def submit_report(body: ReportIn, session: SessionDep, who: PrincipalDep) -> JSONResponse:
    """One report of a human channel; the same ``idempotency_key`` (or ``channel_ref``) twice
    answers 200 with the first report."""
    if body.channel not in CHANNELS_OF_ROLE.get(who.role, ()):
        raise Forbidden(
            f"当前角色不能通过 {body.channel} 渠道上报",
            f"role {who.role!r} may not submit on channel {body.channel!r}",
            code="channel_not_allowed",
            details={"channel": body.channel},
        )
    submitted = service.submit(session, who, body)
    return JSONResponse(report_out(submitted), status_code=201 if submitted.created else 200)


@router.get("/duplicates")
def likely_duplicates(
    session: SessionDep,
    _: PrincipalDep,
    lon: float | None = Query(None, allow_inf_nan=False),
    lat: float | None = Query(None, allow_inf_nan=False),
    category_code: str | None = Query(None, max_length=20),
    text: str = Query("", max_length=2000),
    radius_m: float = Query(duplicates.RADIUS_M, ge=10, le=2000),
) -> list[dict[str, Any]]:
    """Open cases a new report probably duplicates (for the citizen form's "me too")."""
    return duplicates.likely_duplicates(
        session, text=text, category_code=category_code, lon=lon, lat=lat, radius_m=radius_m
    )


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: str = Field(max_length=64)


@router.post("/cases/{ref}/merge")
def merge(
    ref: str,
    body: MergeIn,
    session: SessionDep,
    who: Annotated[Principal, Depends(require_roles("operator", "dispatcher"))],
) -> dict[str, Any]:
    """Staff: case ``ref`` is a duplicate of ``into``; its reporters move there and hear the outcome."""
    return duplicates.merge_case(session, who, ref, body.into)


@router.post("/reports/{report_id}/split", status_code=201)
def split(
    report_id: uuid.UUID,
    session: SessionDep,
    who: Annotated[Principal, Depends(require_roles("operator", "dispatcher"))],
) -> dict[str, Any]:
    case = duplicates.split_report(session, who, report_id)
    return {"case_id": str(case.id), "case_code": case.code, "state": case.state}


def _demo(request: Request) -> bool:
    return bool(request.app.state.settings.demo_mode)


@router.post("/camera", responses=error_responses(401, 404, 409, 413, 422))
async def camera_alarm(request: Request) -> JSONResponse:
    """A signed alarm of an AI camera (see docs/intake.md for the headers and the body)."""
    body = await request.body()
    raw = service.RawAlarm(
        request.headers.get("x-cityops-camera"),
        request.headers.get("x-cityops-timestamp"),
        request.headers.get("x-cityops-signature"),
        body,
    )

    def run() -> service.AlarmResult:
        from cityops.db import unit_of_work

        for attempt in (1, 2):  # another batch got there first: read again once
            try:
                with unit_of_work(request.app.state.sessionmaker) as session:
                    result = service.ingest_alarms(session, [raw], demo_mode=_demo(request))[0]
                    if result.error is not None:
                        session.rollback()
                    return result
            except service.ConcurrentBatch:  # a signal changed state, a replay raced
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    result = await anyio.to_thread.run_sync(run)
    if result.error is not None:
        raise result.error
    return JSONResponse(result.as_dict(), status_code=200)


class SignedAlarm(BaseModel):
    """One box's alarm as it would arrive on its own: the three headers and the exact body."""

    model_config = ConfigDict(extra="forbid")
    camera: str = Field(max_length=64)
    timestamp: str = Field(max_length=20)
    signature: str = Field(max_length=80)
    body: str = Field(max_length=64 * 1024, description="the alarm's JSON text, exactly as signed")


class AlarmBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    alarms: list[SignedAlarm] = Field(min_length=1, max_length=5000)


@router.post("/camera/batch", responses=error_responses(409, 413, 422))
def camera_alarms(batch: AlarmBatch, request: Request) -> JSONResponse:
    """Many cameras' alarms in one request (a 城市眼 platform forwarding its boxes): each alarm is
    signed by its own camera as for ``POST /camera`` and answered in order with its status; a
    refused one (``refused``, ``stale``) is counted and changes nothing, the others are taken in one
    transaction (the hot path, docs/benchmarks.md)."""
    from cityops.db import unit_of_work

    raws = [service.RawAlarm(a.camera, a.timestamp, a.signature, a.body.encode()) for a in batch.alarms]
    for attempt in (1, 2):  # another batch got there first: read again once
        try:
            with unit_of_work(request.app.state.sessionmaker) as session:
                results = service.ingest_alarms(session, raws, demo_mode=_demo(request))
            break
        except service.ConcurrentBatch:
            if attempt == 2:
                raise
    out = []
    for r in results:
        item = r.as_dict()
        if r.error is not None:
            item["error"] = {"code": r.error.code, "message": r.error.message}
        out.append(item)
    return JSONResponse({"results": out}, status_code=200)


@router.post("/telemetry", responses=error_responses(401, 404, 409, 413, 422))
async def telemetry(request: Request) -> JSONResponse:
    """Telemetry of a device without MQTT: the same JSON as on MQTT, signed like camera alarms
    (headers X-Cityops-Device, X-Cityops-Timestamp, X-Cityops-Signature)."""
    body = await request.body()

    def run() -> dict[str, Any]:
        from cityops.db import unit_of_work

        with unit_of_work(request.app.state.sessionmaker) as session:
            return ingest_signed(
                session,
                request.headers.get("x-cityops-device"),
                request.headers.get("x-cityops-timestamp"),
                request.headers.get("x-cityops-signature"),
                body,
            )

    return JSONResponse(await anyio.to_thread.run_sync(run), status_code=200)


@router.get("/signals")
def signals(
    session: SessionDep,
    who: PrincipalDep,
    source: str | None = Query(None, pattern="^(camera|telemetry)$"),
    state: str | None = Query(None, max_length=20),
    limit: int = Query(200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Signals of cameras and sensors the caller may see (``state=open`` for the open ones)."""
    return [
        service.signal_dict(s)
        for s in service.list_signals(session, who, source=source, state=state, limit=limit)
    ]


@router.get("/signals/{signal_id}")
def signal(signal_id: uuid.UUID, session: SessionDep, who: PrincipalDep) -> dict[str, Any]:
    return service.signal_dict(service.get_signal(session, who, signal_id))


class CameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    secret: str = Field(min_length=16, max_length=200)
    lon: float = Field(allow_inf_nan=False)
    lat: float = Field(allow_inf_nan=False)
    address: str | None = Field(default=None, max_length=300)
    scenarios: list[str] = Field(default_factory=list, max_length=50)
    dedupe_seconds: int = 1800
    self_correction_seconds: int = 600
    recheck_seconds: int = 600
    active: bool = True
    shop_fronts: dict[str, str] = Field(default_factory=dict, max_length=50)  # zone → merchant id


@router.get("/cameras")
def cameras(
    session: SessionDep, who: Annotated[Principal, Depends(require_roles(*STAFF))]
) -> list[dict[str, Any]]:
    return [service.camera_dict(c, f) for c, f in service.list_cameras(session, _street(who))]


@router.put("/cameras/{camera_id}")
def put_camera(
    camera_id: str,
    body: CameraIn,
    session: SessionDep,
    _: Annotated[Principal, Depends(require_roles(*ADMIN))],
) -> dict[str, Any]:
    data = body.model_dump(exclude={"shop_fronts"})
    camera = service.save_camera(session, id=camera_id, **data)
    fronts = [service.add_shop_front(session, camera.id, z, m) for z, m in body.shop_fronts.items()]
    return service.camera_dict(camera, fronts)


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device_type: str = Field(max_length=32)
    name: str = Field(min_length=1, max_length=200)
    lon: float = Field(allow_inf_nan=False)
    lat: float = Field(allow_inf_nan=False)
    thresholds: dict[str, float] = Field(default_factory=dict, max_length=20)
    active: bool = True


@router.get("/devices")
def devices(
    session: SessionDep, who: Annotated[Principal, Depends(require_roles(*STAFF))]
) -> list[dict[str, Any]]:
    return [service.device_dict(d) for d in service.list_devices(session, _street(who))]


@router.put("/devices/{device_id}")
def put_device(
    device_id: str,
    body: DeviceIn,
    session: SessionDep,
    _: Annotated[Principal, Depends(require_roles(*ADMIN))],
) -> dict[str, Any]:
    return service.device_dict(service.save_device(session, id=device_id, **body.model_dump()))


class MerchantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(default=None, max_length=30)
    contact_name: str | None = Field(default=None, max_length=100)
    address: str | None = Field(default=None, max_length=300)
    street_code: str | None = Field(default=None, max_length=20)


@router.get("/merchants")
def merchants(
    session: SessionDep, who: Annotated[Principal, Depends(require_roles(*STAFF))]
) -> list[dict[str, Any]]:
    return [service.merchant_dict(m) for m in service.list_merchants(session, _street(who))]


def _street(who: Principal) -> str | None:
    """The street an area-scoped caller's registry lists are cut to (None: district-wide)."""
    return who.area_code[:9] if who.area_code else None


@router.put("/merchants/{merchant_id}")
def put_merchant(
    merchant_id: str,
    body: MerchantIn,
    session: SessionDep,
    _: Annotated[Principal, Depends(require_roles(*ADMIN))],
) -> dict[str, Any]:
    return service.merchant_dict(service.save_merchant(session, id=merchant_id, **body.model_dump()))


# -- hotline (12345) ------------------------------------------------------------------------------

HOTLINE_ROLES = ("operator", "dispatcher", "admin")


class HotlineOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_no: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=5000)
    address: str | None = Field(default=None, max_length=300)
    reporter_name: str | None = Field(default=None, max_length=100)
    reporter_phone: str | None = Field(default=None, max_length=30)
    category_code: str | None = Field(default=None, max_length=20)
    lon: float | None = Field(default=None, allow_inf_nan=False)
    lat: float | None = Field(default=None, allow_inf_nan=False)


@router.post("/hotline/orders")
def hotline_orders(
    body: list[HotlineOrder],
    session: SessionDep,
    who: Annotated[Principal, Depends(require_roles(*HOTLINE_ROLES))],
) -> dict[str, Any]:
    """The call-centre system's API: work orders as JSON; the order number makes a retry harmless."""
    from cityops.intake import hotline

    return hotline.import_orders(session, who, [o.model_dump() for o in body], {f: f for f in hotline.FIELDS})


@router.post("/hotline/import")
async def hotline_import(
    request: Request, who: Annotated[Principal, Depends(require_roles(*HOTLINE_ROLES))]
) -> dict[str, Any]:
    """An Excel/CSV export (multipart ``file``) with an optional ``mapping`` (JSON: heading → field)."""
    import orjson

    from cityops.db import unit_of_work
    from cityops.intake import hotline

    form = await request.form()
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise Invalid(
            "请上传文件（file）", "upload the export as the multipart field 'file'", details={"field": "file"}
        )
    data = await upload.read()
    try:
        mapping = orjson.loads(str(form.get("mapping") or "{}"))
    except orjson.JSONDecodeError:
        raise Invalid("mapping 必须是 JSON", "mapping must be JSON", details={"field": "mapping"}) from None
    if not isinstance(mapping, dict):
        raise Invalid("mapping 必须是对象", "mapping must be an object", details={"field": "mapping"})

    def run() -> dict[str, Any]:
        rows = hotline.read_table(data, upload.filename or "upload.csv")
        with unit_of_work(request.app.state.sessionmaker) as session:
            return hotline.import_orders(session, who, rows, {str(k): str(v) for k, v in mapping.items()})

    return await anyio.to_thread.run_sync(run)


# -- inspectors ----------------------------------------------------------------------------------


class VerificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    passed: bool
    note: str | None = Field(default=None, max_length=2000)
    attachments: list[uuid.UUID] = Field(default_factory=list, max_length=20)
    idempotency_key: str | None = Field(default=None, max_length=128)


@router.post("/inspector/patrol", status_code=201)
def patrol(
    body: ReportIn, session: SessionDep, who: Annotated[Principal, Depends(require_roles("inspector"))]
) -> JSONResponse:
    from cityops.intake import inspectors

    submitted = inspectors.patrol_report(session, who, body)
    return JSONResponse(report_out(submitted), status_code=201 if submitted.created else 200)


@router.post("/inspector/verifications/{case_ref}", status_code=201)
def verification(
    case_ref: str,
    body: VerificationIn,
    session: SessionDep,
    who: Annotated[Principal, Depends(require_roles("inspector"))],
) -> dict[str, Any]:
    from cityops.intake import inspectors

    r = inspectors.verification_result(
        session, who, case_ref, body.passed, body.note, body.attachments, key=body.idempotency_key
    )
    return {"id": str(r.id), "case_code": r.case_code, "passed": body.passed, "state": r.informed_state}


@router.get("/inspector/counts")
def inspector_counts(
    session: SessionDep,
    _: Annotated[Principal, Depends(require_roles("dispatcher", "leader", "admin"))],
    days: int = Query(30, ge=1, le=366),
) -> list[dict[str, Any]]:
    """Patrol reports, the cases they became and verifications per inspector (for evaluation)."""
    from datetime import timedelta

    from cityops.db import utcnow
    from cityops.intake import inspectors

    now = utcnow()
    return inspectors.counts(session, now - timedelta(days=days), now + timedelta(seconds=1))
