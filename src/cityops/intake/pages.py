"""Pages of intake: the signals board (map + list), the registry and merchant lists, and the "me
too" suggestions fragment of the citizen report form. The registries' admin forms are in
:mod:`registry_pages`, the hotline (12345) import in :mod:`hotline_pages`.

Every page calls the same service functions as the API with the same principal.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeSerializer

from cityops.accounts.principal import Principal
from cityops.errors import Forbidden
from cityops.intake import duplicates, service
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.pagekit import (
    page_roles,
    page_router,
)
from cityops.web.templating import N_

router = page_router(tags=["intake"])

STAFF = ("operator", "dispatcher", "leader", "admin", "inspector")
HOTLINE_ROLES = ("operator", "dispatcher", "admin")
templating.add_nav("/intake/signals", N_("感知信号"), ["operator", "dispatcher", "leader", "admin"], 35)
templating.add_nav("/intake/merchants", N_("商户自治"), ["operator", "dispatcher", "admin"], 36)
templating.add_nav("/intake/hotline", N_("热线导入"), list(HOTLINE_ROLES), 37)
templating.add_nav("/intake/registry", N_("设备登记"), ["admin"], 80)

STATE_NAMES = {
    "open": N_("计数中"),
    "filing": N_("待立案"),
    "merchant_notified": N_("商户自改中"),
    "case_filed": N_("已立案"),
    "recheck": N_("复核中"),
    "self_corrected": N_("商户已自改"),
    "verified": N_("复核通过"),
    "resolved": N_("已恢复"),
}
MARK_NAMES = {"green": N_("绿码"), "yellow": N_("黄码"), "red": N_("红码")}


@router.get("/intake/signals")
def signals_board(
    request: Request,
    session: SessionDep,
    principal: Principal = Depends(page_roles(*STAFF)),
    source: str | None = None,
    state: str = "open",
) -> Response:
    rows = service.list_signals(session, principal, source=source or None, state=state or None, limit=300)
    signals = [service.signal_dict(s) for s in rows]
    markers = [
        {
            "lon": s["lon"],
            "lat": s["lat"],
            "label": f"{s['rule_or_label']} ×{s['count']}",
            "href": f"/cases/{s['case_code']}" if s["case_code"] else "",
        }
        for s in signals
        if s["lon"] is not None
    ]
    return templating.render(
        request,
        "intake/signals.html",
        {
            "signals": signals,
            "markers": markers,
            "source": source or "",
            "state": state,
            "states": STATE_NAMES,
        },
    )


def street_of(principal: Principal) -> str | None:
    """The street an area-scoped user's registry and merchant pages are cut to (None: district)."""
    return principal.area_code[:9] if principal.area_code else None


def in_street(principal: Principal, street_code: str | None) -> None:
    street = street_of(principal)
    if street is not None and street_code != street:
        raise Forbidden("该记录不在您负责的街道", "This record is outside your street", code="outside_scope")


@router.get("/intake/merchants")
def merchants(
    request: Request, session: SessionDep, principal: Principal = Depends(page_roles(*STAFF))
) -> Response:
    rows = [service.merchant_dict(m) for m in service.list_merchants(session, street_of(principal))]
    return templating.render(request, "intake/merchants.html", {"merchants": rows, "marks": MARK_NAMES})


@router.get("/intake/registry")
def registry(
    request: Request, session: SessionDep, principal: Principal = Depends(page_roles("admin"))
) -> Response:
    street = street_of(principal)
    cameras = [service.camera_dict(c, f) for c, f in service.list_cameras(session, street)]
    devices = [service.device_dict(d) for d in service.list_devices(session, street)]
    return templating.render(request, "intake/registry.html", {"cameras": cameras, "devices": devices})


def _signer(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(request.app.state.settings.secret_key, salt="intake-me-too")


def join_token(request: Request, case_code: str) -> str:
    """An opaque "me too" reference: the public form never sees a case code it could look up."""
    return _signer(request).dumps(case_code)


def case_of_token(request: Request, token: str) -> str | None:
    try:
        value = _signer(request).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


@router.get("/intake/report/similar")
def similar(
    request: Request,
    session: SessionDep,
    description: str = "",
    lon: str = "",
    lat: str = "",
) -> Response:
    """htmx fragment of the citizen form: open cases nearby that are probably the same problem."""
    found: list[dict[str, Any]] = []
    try:
        x, y = float(lon), float(lat)
    except ValueError:
        x = y = None  # type: ignore[assignment]
    if x is not None and y is not None and description.strip():
        try:
            found = duplicates.likely_duplicates(session, text=description[:2000], lon=x, lat=y, limit=3)
        except Exception:  # a suggestion must never break the form (outside the district, …)
            found = []
    for f in found:
        f["token"] = join_token(request, f["case_code"])
        f.pop("case_code", None)
    return templating.render(request, "intake/_similar.html", {"similar": found})


def join_from_form(request: Request, session: Any, principal: Principal, form: Any) -> str | None:
    """The report form's "me too" choice: count the citizen on that case; its code, or None."""
    from cityops.intake.schemas import ReportIn

    code = case_of_token(request, str(form.get("join") or ""))
    if code is None:
        return None

    def text(name: str) -> str | None:
        value = form.get(name)
        return value.strip() or None if isinstance(value, str) else None

    def number(name: str) -> float | None:
        try:
            return float(text(name) or "")
        except ValueError:
            return None

    lon, lat = number("lon"), number("lat")
    crs = text("crs") if text("crs") in ("wgs84", "gcj02") else "wgs84"
    data = ReportIn(
        channel="web",
        text=text("description") or "我也反映 / me too",
        join_case=code,
        lon=lon if lat is not None else None,
        lat=lat if lon is not None else None,
        crs=crs,
        reporter_name=text("reporter_name"),
        reporter_phone=text("reporter_phone"),
        idempotency_key=text("key"),
    )
    done = service.submit(session, principal, data)
    return done.report.case_code
