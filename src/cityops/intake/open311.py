"""Open311 GeoReport v2 on top of intake: services from the catalog, requests as Reports.

A request's ``service_request_id`` is its case code; ``token`` is the Report id (answered by
``GET tokens/{token}``). Descriptions are shown with phone numbers masked and without reporter
names. ``extensions=true`` adds cityops' own case state (the intermediate states Open311's
open/closed hides).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service as cases
from cityops.cases.transitions import FINAL_STATES, STATE_NAMES_ZH
from cityops.catalog import service as catalog
from cityops.db import utcnow
from cityops.errors import DomainError, Forbidden, Invalid, NotFound
from cityops.intake.models import Report
from cityops.intake.principals import INTAKE
from cityops.intake.reports import submit
from cityops.intake.schemas import ReportIn

DEMO_API_KEY = "demo-open311-key"
# The account Open311 submissions are made as (the key holder, not a person).
OPEN311 = Principal(id=uuid.UUID("00000000-0000-0000-0000-00000000a311"), username="open311", role="operator")
LISTED_CHANNELS = ("web", "open311", "hotline", "inspector", "api")
MAX_DAYS = 90
DEFAULT_PAGE_SIZE = 1000
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")

ATTRIBUTES: list[dict[str, Any]] = [
    {
        "variable": True,
        "code": "urgency",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": "一般 / 紧急",
        "order": 1,
        "description": "紧急程度 / urgency",
        "values": [{"key": "normal", "name": "一般 / normal"}, {"key": "urgent", "name": "紧急 / urgent"}],
    },
    {
        "variable": True,
        "code": "landmark",
        "datatype": "string",
        "required": False,
        "datatype_description": "附近的地标 / a landmark nearby",
        "order": 2,
        "description": "附近地标（便于找到问题位置）/ landmark near the problem",
    },
]


def check_api_key(key: str | None, *, demo_mode: bool, keys: list[str]) -> None:
    if not key:
        raise Forbidden("缺少 api_key", "api_key is required to post requests", code="api_key_required")
    if key == DEMO_API_KEY and not demo_mode:
        raise Forbidden(
            "演示密钥仅限演示模式", "the demo api_key works in demo mode only", code="bad_api_key"
        )
    if key != DEMO_API_KEY and key not in keys:
        raise Forbidden("api_key 无效", "invalid api_key", code="bad_api_key")


def discovery(base_url: str) -> dict[str, Any]:
    return {
        "changeset": "2026-12-01T00:00:00Z",
        "contact": "拱墅区城市运行管理中心 / Gongshu city operations centre",
        "key_service": "api_key：向区城运中心申请 / ask the operations centre for an api_key",
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": f"{base_url.rstrip('/')}/open311/v2",
                "changeset": "2026-12-01T00:00:00Z",
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def services(session: Session) -> list[dict[str, Any]]:
    rows, _ = catalog.list_categories(session, active=True, limit=10_000)
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": c.filing_criterion or c.name,
            "metadata": True,
            "type": "realtime",
            "keywords": c.major_name or None,
            "group": c.major_name or c.kind,
        }
        for c in rows
    ]


def service_definition(session: Session, code: str) -> dict[str, Any]:
    catalog.get_category(session, code)  # NotFound for an unknown code
    return {"service_code": code, "attributes": ATTRIBUTES}


def _float(value: Any, field: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Invalid(f"{field} 必须是数字", f"{field} must be a number", details={"field": field}) from None


def post_request(session: Session, form: dict[str, Any]) -> dict[str, Any]:
    """Create a request from the spec's form fields; ``lat``/``long`` or ``address_string``."""
    code = str(form.get("service_code") or "")
    if not code:
        raise Invalid("缺少 service_code", "service_code is required", details={"field": "service_code"})
    catalog.require_category(session, code, "service_code")
    lat, lon = _float(form.get("lat"), "lat"), _float(form.get("long"), "long")
    address = str(form.get("address_string") or "").strip() or None
    if (lat is None or lon is None) and not address:
        raise Invalid(
            "需要 lat/long 或 address_string",
            "lat and long, or address_string, are required",
            details={"field": "lat"},
        )
    attributes = {k[10:-1]: v for k, v in form.items() if k.startswith("attribute[") and k.endswith("]")}
    urgency = attributes.get("urgency")
    if urgency not in (None, "normal", "urgent"):
        raise Invalid(
            "urgency 只能是 normal 或 urgent",
            "attribute[urgency] must be normal or urgent",
            details={"field": "attribute[urgency]"},
        )
    description = str(form.get("description") or "").strip() or catalog.get_category(session, code).name
    name = " ".join(str(form.get(k) or "").strip() for k in ("last_name", "first_name")).strip() or None
    media = form.get("media_url")
    if media and not str(media).startswith(("https://", "http://")):
        raise Invalid(
            "media_url 必须是 http(s) 地址",
            "media_url must be an http(s) URL",
            details={"field": "media_url"},
        )
    data = ReportIn(
        channel="open311",
        channel_ref=None,
        text=description[:4000],
        category_code=code,
        lon=lon,
        lat=lat,
        address=address,
        reporter_name=name,
        reporter_phone=(str(form.get("phone") or "").strip() or None),
        payload={k: v for k, v in form.items() if k != "api_key"},
    )
    if lat is None or lon is None:
        # Only an address: triage places it from the text; unplaceable → 400 with the reason.
        data.category_code = None
        data.text = f"{address} {description}"
    done = submit(session, OPEN311, data)
    r = done.report
    return {
        "service_request_id": r.case_code,
        "token": str(r.id) if r.case_code is None else None,
        "service_notice": "已受理，将按时限处置 / received; it will be handled within its time limit",
        "account_id": None,
    }


def _parse_date(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(
            f"{field} 必须是 ISO 8601 时间",
            f"{field} must be an ISO 8601 date-time",
            details={"field": field},
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _mask(text: str | None) -> str | None:
    return _PHONE.sub(r"\1****\2", text)[:4000] if text else text


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at else None


def request_dict(session: Session, report: Report, case: Any, *, extensions: bool = False) -> dict[str, Any]:
    closed = case.state in FINAL_STATES
    names = {c["service_code"]: c["service_name"] for c in _service_names(session)}
    out: dict[str, Any] = {
        "service_request_id": case.code,
        "status": "closed" if closed else "open",
        "status_notes": STATE_NAMES_ZH.get(case.state, case.state),
        "service_name": names.get(case.category_code),
        "service_code": case.category_code,
        "description": _mask(case.description),
        "agency_responsible": case.department_code,
        "service_notice": None,
        "requested_datetime": _iso(report.received_at),
        "updated_datetime": _iso(case.updated_at),
        "expected_datetime": _iso(case.deadline),
        "address": case.address,
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": (report.payload or {}).get("media_url") or None,
    }
    if extensions:
        out["extended_attributes"] = {
            "cityops_state": case.state,
            "cityops_state_zh": STATE_NAMES_ZH.get(case.state, case.state),
            "street_code": case.street_code,
            "channel": report.channel,
            "overdue": bool(case.overdue),
        }
    return out


_NAMES: dict[str, list[dict[str, Any]]] = {}


def _service_names(session: Session) -> list[dict[str, Any]]:
    key = str(session.get_bind().engine.url)
    if key not in _NAMES:
        _NAMES[key] = [
            {"service_code": s["service_code"], "service_name": s["service_name"]} for s in services(session)
        ]
    return _NAMES[key]


def list_requests(
    session: Session, params: dict[str, str], *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """GET requests with the spec's filters, newest first, ``page``/``page_size`` (1,000 by default)."""
    now = now or utcnow()
    extensions = params.get("extensions", "").lower() == "true"
    stmt = select(Report).where(
        Report.channel.in_(LISTED_CHANNELS), Report.case_id.is_not(None), Report.outcome == "case"
    )
    ids = [x.strip() for x in (params.get("service_request_id") or "").split(",") if x.strip()]
    if ids:
        if len(ids) > 100:
            raise Invalid(
                "最多 100 个 service_request_id",
                "at most 100 service_request_id values",
                details={"field": "service_request_id"},
            )
        stmt = stmt.where(Report.case_code.in_(ids))
    else:
        start = _parse_date(params.get("start_date"), "start_date")
        end = _parse_date(params.get("end_date"), "end_date") or now
        start = start or end - timedelta(days=MAX_DAYS)
        if end < start or end - start > timedelta(days=MAX_DAYS):
            raise Invalid(
                "时间范围最多 90 天",
                "start_date to end_date may span at most 90 days",
                details={"field": "start_date"},
            )
        stmt = stmt.where(Report.received_at >= start, Report.received_at <= end)
        if params.get("service_code"):
            stmt = stmt.where(
                Report.category_code.in_([c.strip() for c in params["service_code"].split(",")])
            )
    page, size = (
        _int(params.get("page"), 1, "page", 1, 10**6),
        _int(params.get("page_size"), DEFAULT_PAGE_SIZE, "page_size", 1, 1000),
    )
    statuses = {s.strip() for s in (params.get("status") or "").split(",") if s.strip()}
    if statuses - {"open", "closed"}:
        raise Invalid(
            "status 只能是 open 或 closed", "status must be open and/or closed", details={"field": "status"}
        )
    stmt = stmt.order_by(Report.received_at.desc(), Report.id.desc())
    out: list[dict[str, Any]] = []
    skip = (page - 1) * size
    # Status lives on the case: read in chunks and filter until the page is full.
    offset = 0
    while len(out) < size:
        chunk = list(session.scalars(stmt.offset(offset).limit(500)))
        if not chunk:
            break
        offset += len(chunk)
        for report in chunk:
            try:
                case = cases.get_case(session, INTAKE, report.case_id)  # type: ignore[arg-type]
            except NotFound:
                continue
            status = "closed" if case.state in FINAL_STATES else "open"
            if statuses and status not in statuses:
                continue
            if skip:
                skip -= 1
                continue
            out.append(request_dict(session, report, case, extensions=extensions))
            if len(out) >= size:
                break
    return out


def _int(value: str | None, default: int, field: str, lo: int, hi: int) -> int:
    if value in (None, ""):
        return default
    try:
        n = int(value)
    except ValueError:
        raise Invalid(
            f"{field} 必须是整数", f"{field} must be an integer", details={"field": field}
        ) from None
    if not lo <= n <= hi:
        raise Invalid(
            f"{field} 必须在 {lo}–{hi} 之间", f"{field} must be {lo}-{hi}", details={"field": field}
        )
    return n


def get_request(session: Session, request_id: str, *, extensions: bool = False) -> list[dict[str, Any]]:
    report = session.scalars(
        select(Report).where(
            Report.case_code == request_id, Report.channel.in_(LISTED_CHANNELS), Report.outcome == "case"
        )
    ).first()
    if report is None:
        raise NotFound("请求不存在", "no such service request", details={"service_request_id": request_id})
    case = cases.get_case(session, INTAKE, report.case_id)  # type: ignore[arg-type]
    return [request_dict(session, report, case, extensions=extensions)]


def get_token(session: Session, token: str) -> list[dict[str, Any]]:
    try:
        report_id = uuid.UUID(token)
    except ValueError:
        raise NotFound("token 不存在", "no such token", details={"token": token[:64]}) from None
    report = session.get(Report, report_id)
    if report is None or report.channel != "open311":
        raise NotFound("token 不存在", "no such token", details={"token": token[:64]})
    return [{"service_request_id": report.case_code, "token": token}]


def count_requests(session: Session) -> int:
    return int(
        session.scalar(select(func.count()).select_from(Report).where(Report.channel == "open311")) or 0
    )


def error_list(exc: DomainError) -> tuple[int, list[dict[str, Any]]]:
    """The spec's error shape: a list of {code, description}; 400, 403 or 404."""
    status = exc.status if exc.status in (403, 404) else 400
    return status, [{"code": status, "description": exc.message}]
