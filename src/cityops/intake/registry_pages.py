"""The registries' admin forms: cameras (position, scenarios, shop fronts, windows, the secret
shown once), devices (type and limits) and merchant records; area-scoped admins keep to their street."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request, Response
from pydantic import BaseModel, Field
from starlette.datastructures import FormData

from cityops.accounts.masking import mask_phone
from cityops.accounts.principal import Principal
from cityops.errors import DomainError, NotFound
from cityops.intake import service
from cityops.intake.labels import LABELS
from cityops.intake.pages import MARK_NAMES, in_street, street_of
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

router = page_router(tags=["intake"])

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
    return [(m.id, f"{m.name}（{m.id}）") for m in service.list_merchants(session, street_of(principal))]


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
    in_street(principal, camera.street_code)
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
        in_street(principal, existing.street_code)
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

    street = street_of(principal)
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
    in_street(principal, camera.street_code)
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
    in_street(principal, device.street_code)
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
        in_street(principal, existing.street_code)
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
    return _merchant_page(request, session, {"street_code": street_of(principal) or ""}, {})


@router.get("/intake/merchants/{merchant_id}")
def merchant_edit(
    merchant_id: str,
    request: Request,
    session: SessionDep,
    principal: Principal = Depends(page_roles("admin")),
) -> Response:
    merchant = service.get_merchant(session, merchant_id)
    in_street(principal, merchant.street_code)
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
        in_street(principal, existing.street_code)
        values["id"] = merchant_id
    data, errors = parse_form(MerchantForm, values, lang)
    street = street_of(principal)
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
