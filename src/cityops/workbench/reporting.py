"""Turning a report form (citizen or inspector) into a case: checks, place, category, photos.

All of it in the request's one transaction: the photos are checked (size, real type) and
stored, the case is created through ``cases.service`` and the photos are attached to it; any
refusal rolls everything back and the form comes back with the message next to the field and
what was typed. A hidden per-form key makes a double submit return the first case.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field, ValidationError, field_validator
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from cityops.accounts.principal import Principal
from cityops.cases import service as cases
from cityops.cases.models import Case
from cityops.cases.schemas import CaseCreate
from cityops.errors import DomainError, Invalid
from cityops.triage import service as triage
from cityops.web import templating
from cityops.web.pagekit import domain_field_error, field_errors, form_files
from cityops.workbench.ledger import store_photos

MAX_PHOTOS = 4


class ReportForm(BaseModel):
    description: str = Field(min_length=5, max_length=2000)
    lon: float | None = Field(default=None, allow_inf_nan=False)
    lat: float | None = Field(default=None, allow_inf_nan=False)
    crs: str = "wgs84"
    address: str | None = Field(default=None, max_length=300)
    category_code: str | None = Field(default=None, max_length=20)
    reporter_name: str | None = Field(default=None, max_length=50)
    reporter_phone: str | None = Field(default=None, max_length=20, pattern=r"^[0-9+\- ]{5,20}$")
    key: str | None = Field(default=None, max_length=64)

    @field_validator("crs")
    @classmethod
    def _crs(cls, value: str) -> str:
        return value if value in ("wgs84", "gcj02") else "wgs84"


@dataclass
class Outcome:
    case: Case | None
    errors: dict[str, str]
    status: int = 200


def _place(session: Session, data: ReportForm) -> tuple[float, float, str, bool]:
    """(lon, lat, crs, approximate) from the map point, else from the address text."""
    if data.lon is not None and data.lat is not None:
        return data.lon, data.lat, data.crs, False
    text = (data.address or "").strip()
    if text:
        point = triage.place_point(session, triage.resolve_place(session, text))
        if point is not None:
            return point[0], point[1], "wgs84", True
        raise Invalid(
            "找不到这个地址，请在地图上点选位置",
            "That address was not found; tap the place on the map",
            details={"field": "address"},
        )
    raise Invalid(
        "请在地图上点选位置，或填写地址",
        "Tap the place on the map or type an address",
        details={"field": "address"},
    )


def _category(session: Session, data: ReportForm) -> str:
    if data.category_code:
        return data.category_code
    # The citizen does not know the directory: triage's best guess; the operator confirms it.
    decision = triage.route_report(session, data.description, data.lon, data.lat, enqueue=False)
    if decision.category_code is None:
        raise Invalid(
            "请描述得更具体一些",
            "Please describe the problem in more detail",
            details={"field": "description"},
        )
    return decision.category_code


def submit_report(
    request: Request, session: Session, principal: Principal, form: FormData, *, source: str
) -> Outcome:
    """Create the case of a report form, or the field errors (nothing written then)."""
    lang = templating.lang_of(request)
    values = {k: v for k, v in form.items() if isinstance(v, str) and v.strip()}
    try:
        data = ReportForm.model_validate(values)
    except ValidationError as exc:
        return Outcome(None, field_errors(exc, lang), 422)
    if len(form_files(form, "photos")) > MAX_PHOTOS:
        return Outcome(None, {"photos": templating.t("最多 %(n)s 张照片", n=MAX_PHOTOS)}, 422)
    key = data.key if data.key and len(data.key) >= 16 else None
    try:
        lon, lat, crs, approximate = _place(session, data)
        create = CaseCreate(
            description=data.description,
            lon=lon,
            lat=lat,
            crs=crs,
            category_code=_category(session, data),
            source=source,
            address=data.address,
            reporter_name=data.reporter_name,
            reporter_phone=data.reporter_phone,
            location_approximate=approximate,
        )
        case, created = cases.create_case_idempotent(session, principal, create, idempotency_key=key)
        if created:
            photo_ids = store_photos(request, session, principal, form)
            if photo_ids:
                cases.add_attachments(session, principal, case.id, photo_ids)
    except DomainError as exc:
        session.rollback()
        field = "photos" if exc.status in (413, 415) or exc.code == "empty_file" else "__all__"
        details: Any = exc.details if isinstance(exc.details, dict) else {}
        if details.get("field") in ("lon", "lat"):
            exc.details = {**details, "field": "address"}  # the point is picked on the map next to it
        return Outcome(None, domain_field_error(exc, lang, default_field=field), exc.status)
    return Outcome(case, {})


def new_form_key() -> str:
    return uuid.uuid4().hex
