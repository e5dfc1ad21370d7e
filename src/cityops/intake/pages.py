"""Pages of intake: the signals board (map + list), the camera and device registries with their
admin forms, merchant records with their marks (and their edit form), the hotline (12345) import
with its column mapping, preview and row errors, and the "me too" suggestions fragment of the
citizen report form.

Every page calls the same service functions as the API with the same principal.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, Field
from starlette.datastructures import FormData, UploadFile

from cityops.accounts.masking import mask_phone
from cityops.accounts.principal import Principal
from cityops.errors import DomainError, Forbidden, NotFound
from cityops.intake import duplicates, hotline, service
from cityops.intake.labels import LABELS
from cityops.intake.rules import DEVICE_TYPES, rules_for
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.pagekit import (
    CsrfForm,
    domain_field_error,
    form_values,
    page_roles,
    page_router,
    parse_form,
    redirect,
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


def _street(principal: Principal) -> str | None:
    """The street an area-scoped user's registry and merchant pages are cut to (None: district)."""
    return principal.area_code[:9] if principal.area_code else None


def _in_scope(principal: Principal, street_code: str | None) -> None:
    street = _street(principal)
    if street is not None and street_code != street:
        raise Forbidden("该记录不在您负责的街道", "This record is outside your street", code="outside_scope")


@router.get("/intake/merchants")
def merchants(
    request: Request, session: SessionDep, principal: Principal = Depends(page_roles(*STAFF))
) -> Response:
    rows = [service.merchant_dict(m) for m in service.list_merchants(session, _street(principal))]
    return templating.render(request, "intake/merchants.html", {"merchants": rows, "marks": MARK_NAMES})


@router.get("/intake/registry")
def registry(
    request: Request, session: SessionDep, principal: Principal = Depends(page_roles("admin"))
) -> Response:
    street = _street(principal)
    cameras = [service.camera_dict(c, f) for c, f in service.list_cameras(session, street)]
    devices = [service.device_dict(d) for d in service.list_devices(session, street)]
    return templating.render(request, "intake/registry.html", {"cameras": cameras, "devices": devices})


# --- the registries' admin forms -----------------------------------------------------------------


class PlaceForm(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)


class CameraForm(PlaceForm):
    address: str | None = Field(default=None, max_length=300)
    dedupe_seconds: int = Field(default=1800, ge=10, le=7 * 86400)
    self_correction_seconds: int = Field(default=600, ge=10, le=7 * 86400)
    recheck_seconds: int = Field(default=600, ge=10, le=7 * 86400)


class DeviceForm(PlaceForm):
    device_type: str = Field(min_length=1, max_length=32)


class MerchantForm(BaseModel):
    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    contact_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=30)
    address: str | None = Field(default=None, max_length=300)
    street_code: str | None = Field(default=None, max_length=20)


FRONT_ROWS = 5


def _wgs84(data: PlaceForm, form: FormData) -> tuple[float, float]:
    """The form's point in WGS-84 (a map pick on GCJ-02 tiles says so in its ``crs`` field)."""
    from cityops.kit.coords import to_wgs84

    crs = form.get("crs")
    if crs == "gcj02":
        lon, lat = to_wgs84(data.lon, data.lat, "gcj02")
        return float(lon), float(lat)
    return data.lon, data.lat


def _streets(session: Any) -> list[tuple[str, str]]:
    from cityops.areas import service as areas

    return [(a.code, a.name) for a in areas.list_areas(session, level="street")]


def _merchant_options(session: Any, principal: Principal) -> list[tuple[str, str]]:
    return [(m.id, f"{m.name}（{m.id}）") for m in service.list_merchants(session, _street(principal))]


def _camera_values(camera: Any, fronts: list[Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: ("" if v is None else str(v))
        for k, v in service.camera_dict(camera).items()
        if k not in ("scenarios", "shop_fronts", "active")
    }
    values["scenarios"] = list(camera.scenarios or [])
    values["active"] = "1" if camera.active else ""
    for i, f in enumerate(fronts[:FRONT_ROWS]):
        values[f"zone_{i}"], values[f"merchant_{i}"] = f.zone, f.merchant_id
    return values


def _camera_page(
    request: Request,
    session: Any,
    principal: Principal,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    camera: Any = None,
    status: int = 200,
) -> Response:
    return templating.render(
        request,
        "intake/camera_form.html",
        {
            "values": values,
            "errors": errors,
            "camera": camera,
            "labels": list(LABELS),
            "merchants": _merchant_options(session, principal),
            "front_rows": range(FRONT_ROWS),
        },
        status_code=status,
    )


@router.get("/intake/registry/cameras/new")
def camera_new(
    request: Request, session: SessionDep, principal: Principal = Depends(page_roles("admin"))
) -> Response:
    values = {
        "dedupe_seconds": "1800",
        "self_correction_seconds": "600",
        "recheck_seconds": "600",
        "active": "1",
    }
    return _camera_page(request, session, principal, values, {})


@router.get("/intake/registry/cameras/{camera_id}")
def camera_edit(
    camera_id: str, request: Request, session: SessionDep, principal: Principal = Depends(page_roles("admin"))
) -> Response:
    camera, fronts = service.get_camera(session, camera_id)
    _in_scope(principal, camera.street_code)
    return _camera_page(request, session, principal, _camera_values(camera, fronts), {}, camera=camera)


def _fronts(form: FormData) -> tuple[dict[str, str], dict[str, str]]:
    fronts: dict[str, str] = {}
    errors: dict[str, str] = {}
    for i in range(FRONT_ROWS):
        zone = str(form.get(f"zone_{i}") or "").strip()
        merchant = str(form.get(f"merchant_{i}") or "").strip()
        if not merchant:
            continue
        if zone in fronts:
            errors["fronts"] = templating.t("每个区域只能对应一个商户")
        fronts[zone] = merchant
    return fronts, errors


@router.post("/intake/registry/cameras/{camera_id}")
def camera_save(
    camera_id: str,
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Depends(page_roles("admin")),
) -> Response:
    """Create (``camera_id`` = ``new``) or update a camera; a new camera's secret is shown once."""
    lang = templating.lang_of(request)
    creating = camera_id == "new"
    existing = None
    if not creating:
        existing, _ = service.get_camera(session, camera_id)
        _in_scope(principal, existing.street_code)
    values: dict[str, Any] = form_values(form)
    scenarios = [v for v in form.getlist("scenarios") if isinstance(v, str) and v]
    values["scenarios"] = scenarios
    if not creating:
        values["id"] = camera_id
    data, errors = parse_form(CameraForm, values, lang)
    fronts, front_errors = _fronts(form)
    errors.update(front_errors)
    if data is not None and creating:
        try:
            service.get_camera(session, data.id)
            errors["id"] = templating.t("该编号已存在")
        except NotFound:
            if data.id == "new":
                errors["id"] = templating.t("该编号已存在")
    if data is None or errors:
        return _camera_page(request, session, principal, values, errors, camera=existing, status=422)
    lon, lat = _wgs84(data, form)
    secret = existing.secret if existing is not None else service.new_secret()
    try:
        camera = service.save_camera(
            session,
            id=data.id,
            name=data.name,
            secret=secret,
            lon=lon,
            lat=lat,
            address=data.address,
            scenarios=scenarios,
            dedupe_seconds=data.dedupe_seconds,
            self_correction_seconds=data.self_correction_seconds,
            recheck_seconds=data.recheck_seconds,
            active=bool(form.get("active")),
        )
        _in_scope_field(principal, camera.street_code)
        service.set_shop_fronts(session, camera.id, fronts)
    except DomainError as exc:
        session.rollback()
        return _camera_page(
            request,
            session,
            principal,
            values,
            domain_field_error(exc, lang, default_field="lon"),
            camera=existing,
            status=exc.status if exc.status in (403, 409, 422) else 422,
        )
    if creating:
        return _secret_page(request, camera.id, secret, created=True)
    return redirect(request, "/intake/registry", templating.t("已保存"))


def _in_scope_field(principal: Principal, street_code: str | None) -> None:
    """A street-scoped admin registers only inside the street (an error next to the position)."""
    from cityops.errors import Invalid

    street = _street(principal)
    if street is not None and street_code != street:
        raise Invalid(
            "该位置不在您负责的街道", "The position is outside your street", details={"field": "lon"}
        )


def _secret_page(request: Request, camera_id: str, secret: str, *, created: bool) -> Response:
    response = templating.render(
        request, "intake/camera_secret.html", {"camera_id": camera_id, "secret": secret, "created": created}
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/intake/registry/cameras/{camera_id}/secret")
def camera_rotate_secret(
    camera_id: str,
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Depends(page_roles("admin")),
) -> Response:
    """A new secret for the camera (the old one stops working now), shown this once."""
    camera, _ = service.get_camera(session, camera_id)
    _in_scope(principal, camera.street_code)
    return _secret_page(request, camera.id, service.rotate_camera_secret(session, camera.id), created=False)


def _rules(device_type: str | None) -> list[dict[str, Any]]:
    return [
        {
            "name": r.name,
            "kind": r.kind,
            "reading": r.reading,
            "above": r.above,
            "per_minutes": r.per_minutes,
            "silence_minutes": r.silence_minutes,
            "category_code": r.category_code,
            "case_after": r.case_after,
            "cooldown_seconds": r.cooldown_seconds,
            "title": r.title,
        }
        for r in rules_for(device_type or "")
    ]


def _device_page(
    request: Request,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    device: Any = None,
    status: int = 200,
) -> Response:
    device_type = str(values.get("device_type") or "")
    return templating.render(
        request,
        "intake/device_form.html",
        {
            "values": values,
            "errors": errors,
            "device": device,
            "types": [(t, t) for t in DEVICE_TYPES],
            "rules": _rules(device_type),
            "all_rules": {t: _rules(t) for t in DEVICE_TYPES},
        },
        status_code=status,
    )


@router.get("/intake/registry/devices/new")
def device_new(
    request: Request, device_type: str = "", principal: Principal = Depends(page_roles("admin"))
) -> Response:
    chosen = device_type if device_type in DEVICE_TYPES else DEVICE_TYPES[0]
    return _device_page(request, {"device_type": chosen, "active": "1"}, {})


@router.get("/intake/registry/devices/{device_id}")
def device_edit(
    device_id: str, request: Request, session: SessionDep, principal: Principal = Depends(page_roles("admin"))
) -> Response:
    device = service.get_device(session, device_id)
    _in_scope(principal, device.street_code)
    values: dict[str, Any] = {
        "id": device.id,
        "name": device.name,
        "device_type": device.device_type,
        "lon": str(device.lon),
        "lat": str(device.lat),
        "active": "1" if device.active else "",
    }
    for name, limit in (device.thresholds or {}).items():
        values[f"threshold_{name}"] = str(limit)
    return _device_page(request, values, {}, device=device)


@router.post("/intake/registry/devices/{device_id}")
def device_save(
    device_id: str,
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Depends(page_roles("admin")),
) -> Response:
    """Create (``device_id`` = ``new``) or update a sensor: its type, position and rule limits."""
    lang = templating.lang_of(request)
    creating = device_id == "new"
    existing = None
    values: dict[str, Any] = form_values(form)
    if not creating:
        existing = service.get_device(session, device_id)
        _in_scope(principal, existing.street_code)
        values["id"], values["device_type"] = device_id, existing.device_type
    data, errors = parse_form(DeviceForm, values, lang)
    if data is not None and data.device_type not in DEVICE_TYPES:
        errors["device_type"] = templating.t("未知的设备类型")
    thresholds: dict[str, float] = {}
    for rule in rules_for(str(values.get("device_type") or "")):
        raw = str(values.get(f"threshold_{rule.name}") or "").strip()
        if not raw:
            continue
        try:
            limit = float(raw)
            if limit != limit or limit in (float("inf"), float("-inf")):
                raise ValueError(raw)
        except ValueError:
            errors[f"threshold_{rule.name}"] = templating.t("请填写数字")
            continue
        thresholds[rule.name] = limit
    if data is not None and creating:
        try:
            service.get_device(session, data.id)
            errors["id"] = templating.t("该编号已存在")
        except NotFound:
            if data.id == "new":
                errors["id"] = templating.t("该编号已存在")
    if data is None or errors:
        return _device_page(request, values, errors, device=existing, status=422)
    lon, lat = _wgs84(data, form)
    try:
        device = service.save_device(
            session,
            id=data.id,
            device_type=data.device_type,
            name=data.name,
            lon=lon,
            lat=lat,
            thresholds=thresholds,
            active=bool(form.get("active")),
        )
        _in_scope_field(principal, device.street_code)
    except DomainError as exc:
        session.rollback()
        return _device_page(
            request, values, domain_field_error(exc, lang, default_field="lon"), device=existing, status=422
        )
    return redirect(request, "/intake/registry", templating.t("已保存"))


def _merchant_page(
    request: Request,
    session: Any,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    merchant: Any = None,
    status: int = 200,
) -> Response:
    return templating.render(
        request,
        "intake/merchant_form.html",
        {
            "values": values,
            "errors": errors,
            "merchant": service.merchant_dict(merchant) if merchant is not None else None,
            "phone_masked": mask_phone(merchant.phone) if merchant is not None and merchant.phone else "",
            "marks": MARK_NAMES,
            "streets": _streets(session),
        },
        status_code=status,
    )


@router.get("/intake/merchants/new")
def merchant_new(
    request: Request, session: SessionDep, principal: Principal = Depends(page_roles("admin"))
) -> Response:
    return _merchant_page(request, session, {"street_code": _street(principal) or ""}, {})


@router.get("/intake/merchants/{merchant_id}")
def merchant_edit(
    merchant_id: str,
    request: Request,
    session: SessionDep,
    principal: Principal = Depends(page_roles("admin")),
) -> Response:
    merchant = service.get_merchant(session, merchant_id)
    _in_scope(principal, merchant.street_code)
    # The phone is never shown in full (as in every view): blank keeps it, a new number replaces it.
    values = {
        k: "" if getattr(merchant, k) is None else str(getattr(merchant, k))
        for k in ("id", "name", "contact_name", "address", "street_code")
    }
    return _merchant_page(request, session, values, {}, merchant=merchant)


@router.post("/intake/merchants/{merchant_id}")
def merchant_save(
    merchant_id: str,
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Depends(page_roles("admin")),
) -> Response:
    """Create (``merchant_id`` = ``new``) or update a merchant's record (the counts stay)."""
    lang = templating.lang_of(request)
    creating = merchant_id == "new"
    existing = None
    values: dict[str, Any] = form_values(form)
    if not creating:
        existing = service.get_merchant(session, merchant_id)
        _in_scope(principal, existing.street_code)
        values["id"] = merchant_id
    data, errors = parse_form(MerchantForm, values, lang)
    street = _street(principal)
    if data is not None:
        if data.street_code and data.street_code not in dict(_streets(session)):
            errors["street_code"] = templating.t("请选择街道")
        elif street is not None and data.street_code != street:
            errors["street_code"] = templating.t("只能登记您负责街道的商户")
        if creating:
            try:
                service.get_merchant(session, data.id)
                errors["id"] = templating.t("该编号已存在")
            except NotFound:
                if data.id == "new":
                    errors["id"] = templating.t("该编号已存在")
    if data is None or errors:
        return _merchant_page(request, session, values, errors, merchant=existing, status=422)
    try:
        service.save_merchant(
            session,
            id=data.id,
            name=data.name,
            phone=data.phone or (existing.phone if existing is not None else None),
            contact_name=data.contact_name,
            address=data.address,
            street_code=data.street_code,
        )
    except DomainError as exc:
        session.rollback()
        return _merchant_page(
            request,
            session,
            values,
            domain_field_error(exc, lang, default_field="id"),
            merchant=existing,
            status=422,
        )
    return redirect(request, "/intake/merchants", templating.t("已保存"))


# --- hotline (12345) import --------------------------------------------------------------------

FIELD_NAMES = {
    "order_no": N_("工单编号"),
    "text": N_("诉求内容"),
    "address": N_("事发地址"),
    "reporter_name": N_("来电人"),
    "reporter_phone": N_("联系电话"),
    "category_code": N_("类别编码"),
    "lon": N_("经度"),
    "lat": N_("纬度"),
}
PREVIEW_ROWS = 5


def _message(text: str, lang: str) -> str:
    if " / " in text:
        zh, en = text.split(" / ", 1)
        return en if lang == "en" else zh
    return text


def _upload_page(request: Request, errors: dict[str, str], status: int = 200) -> Response:
    return templating.render(
        request,
        "intake/hotline.html",
        {"step": "upload", "errors": errors, "fields": FIELD_NAMES, "required": hotline.REQUIRED},
        status_code=status,
    )


@router.get("/intake/hotline")
def hotline_page(request: Request, principal: Principal = Depends(page_roles(*HOTLINE_ROLES))) -> Response:
    return _upload_page(request, {})


@router.post("/intake/hotline/upload")
async def hotline_upload(
    request: Request, form: CsrfForm, principal: Principal = Depends(page_roles(*HOTLINE_ROLES))
) -> Response:
    """Keep the upload for the next steps and go to its column mapping and preview."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _upload_page(request, {"file": templating.t("请选择要导入的 Excel 或 CSV 文件")}, 422)
    name = upload.filename
    if not name.lower().endswith((".xlsx", ".csv")):
        return _upload_page(request, {"file": templating.t("只能导入 .xlsx 或 .csv 文件")}, 422)
    data = await upload.read(hotline.MAX_BYTES + 1)
    try:
        token = await anyio.to_thread.run_sync(hotline.stage_upload, data, name, principal.id)
    except DomainError as exc:
        return _upload_page(request, {"file": _message(exc.message, templating.lang_of(request))}, 422)
    return redirect(request, f"/intake/hotline/map?token={token}")


def _rows_of_token(token: str, principal: Principal) -> tuple[list[dict[str, Any]], str]:
    data, filename = hotline.staged_upload(token, principal.id)
    return hotline.read_table(data, filename), filename


def _chosen_mapping(values: Any, heads: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The page's field → heading choices as heading → field, with errors per field."""
    mapping: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in hotline.FIELDS:
        head = str(values.get(f"map_{field}") or "")
        if not head:
            if field in hotline.REQUIRED:
                errors[f"map_{field}"] = templating.t("请选择对应的列")
            continue
        if head not in heads:
            errors[f"map_{field}"] = templating.t("文件中没有这一列")
        elif head in mapping:
            errors[f"map_{field}"] = templating.t("每列只能对应一个字段")
        else:
            mapping[head] = field
    return mapping, errors


def _map_page(
    request: Request,
    token: str,
    filename: str,
    rows: list[dict[str, Any]],
    choice: dict[str, str],
    errors: dict[str, str],
    row_errors: list[dict[str, Any]] | None = None,
    status: int = 200,
) -> Response:
    """The mapping step: for each field the file's column, the first rows as they will be read."""
    heads = hotline.headings(rows)
    by_field = {field: head for head, field in choice.items()}
    preview = [
        {"row": n, "cells": [str(r.get(by_field[f]) or "") if f in by_field else "" for f in hotline.FIELDS]}
        for n, r in enumerate(rows[:PREVIEW_ROWS], start=2)
    ]
    lang = templating.lang_of(request)
    for err in row_errors or []:
        err["text"] = _message(str(err.get("message") or ""), lang)
        field = err.get("field")
        err["field_name"] = templating.t(FIELD_NAMES[field]) if field in FIELD_NAMES else ""
    return templating.render(
        request,
        "intake/hotline.html",
        {
            "step": "map",
            "token": token,
            "filename": filename,
            "heads": heads,
            "total": len(rows),
            "fields": FIELD_NAMES,
            "required": hotline.REQUIRED,
            "values": {f"map_{f}": h for f, h in by_field.items()},
            "errors": errors,
            "preview": preview,
            "row_errors": row_errors or [],
        },
        status_code=status,
    )


@router.get("/intake/hotline/map")
def hotline_map(
    request: Request, token: str = "", principal: Principal = Depends(page_roles(*HOTLINE_ROLES))
) -> Response:
    """Choose which column is which (the last mapping preselected) and preview the first rows."""
    try:
        rows, filename = _rows_of_token(token, principal)
    except DomainError as exc:
        return _upload_page(request, {"file": _message(exc.message, templating.lang_of(request))}, 422)
    heads = hotline.headings(rows)
    choice = hotline.guess_mapping(heads, hotline.remembered_mapping(principal.id))
    return _map_page(request, token, filename, rows, choice, {})


@router.post("/intake/hotline/map")
def hotline_remap(
    request: Request, form: CsrfForm, principal: Principal = Depends(page_roles(*HOTLINE_ROLES))
) -> Response:
    """The preview again with the mapping chosen on the page (a POST: the form carries its CSRF
    token, which must not end up in a URL)."""
    token = str(form.get("token") or "")
    try:
        rows, filename = _rows_of_token(token, principal)
    except DomainError as exc:
        return _upload_page(request, {"file": _message(exc.message, templating.lang_of(request))}, 422)
    choice, errors = _chosen_mapping(form, hotline.headings(rows))
    return _map_page(request, token, filename, rows, choice, errors, status=422 if errors else 200)


@router.post("/intake/hotline/import")
def hotline_import(
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Depends(page_roles(*HOTLINE_ROLES)),
) -> Response:
    """Import with the chosen mapping: every row checked, nothing written when any row is wrong."""
    token = str(form.get("token") or "")
    try:
        rows, filename = _rows_of_token(token, principal)
    except DomainError as exc:
        return _upload_page(request, {"file": _message(exc.message, templating.lang_of(request))}, 422)
    heads = hotline.headings(rows)
    mapping, errors = _chosen_mapping(form, heads)
    if errors:
        return _map_page(request, token, filename, rows, mapping, errors, status=422)
    hotline.remember_mapping(principal.id, mapping)
    try:
        result = hotline.import_orders(
            session, principal, rows, mapping, all_or_nothing=True, merge_duplicates=True, use_defaults=False
        )
    except DomainError as exc:
        session.rollback()
        lang = templating.lang_of(request)
        return _map_page(
            request, token, filename, rows, mapping, {"__all__": _message(exc.message, lang)}, status=422
        )
    if result["errors"]:
        return _map_page(request, token, filename, rows, mapping, {}, result["errors"], status=422)
    return templating.render(
        request, "intake/hotline.html", {"step": "done", "result": result, "filename": filename}
    )


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
