"""Admin HTTP API of the catalog and of departments: thin handlers over catalog.service.

Reads need any signed-in user; edits need the admin role. Every request is one transaction
(``SessionDep``), so a failed edit or import leaves nothing behind.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cityops.accounts.principal import Principal
from cityops.catalog import excel, service
from cityops.catalog.models import Category
from cityops.catalog.schemas import (
    CategoryCreate,
    CategoryDetail,
    CategoryKind,
    CategoryOut,
    CategoryPatch,
    DepartmentCreate,
    DepartmentOut,
    DepartmentPatch,
    ImportResult,
    Page,
    ResponsibilityIn,
    ResponsibilityOut,
    TimeLimit,
    TimeLimits,
    TimeLimitsOut,
)
from cityops.errors import TooLarge
from cityops.web.deps import SessionDep, current_principal, require_roles
from cityops.web.openapi import XLSX

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])
router_departments = APIRouter(prefix="/api/v1/departments", tags=["departments"])

READ = [Depends(current_principal)]
ADMIN = [Depends(require_roles("admin"))]
# The caller, for the audit trail (the same cached value the ADMIN check saw).
CallerDep = Annotated[Principal, Depends(current_principal)]


def _limits(session: Session, code: str) -> tuple[TimeLimit | None, dict[str, TimeLimit]]:
    rows = service.category_limits(session, code)
    default = rows.pop(None, None)
    grades = {g: TimeLimit(kind=k, value=v) for g, (k, v) in sorted(rows.items()) if g is not None}
    return (TimeLimit(kind=default[0], value=default[1]) if default else None), grades


def _detail(session: Session, category: Category) -> CategoryDetail:
    default, grades = _limits(session, category.code)
    base = CategoryOut.model_validate(category).model_dump()
    return CategoryDetail(**base, time_limit=default, grade_limits=grades)


@router.get("/categories", response_model=Page[CategoryOut], dependencies=READ)
def list_categories(
    session: SessionDep,
    kind: CategoryKind | None = None,
    q: Annotated[str | None, Query(max_length=50, description="code or name contains")] = None,
    local: bool | None = None,
    active: bool | None = None,
    major_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[CategoryOut]:
    rows, total = service.list_categories(
        session, kind=kind, q=q, local=local, active=active, major_code=major_code, limit=limit, offset=offset
    )
    items = [CategoryOut.model_validate(c) for c in rows]
    return Page[CategoryOut](items=items, total=total, limit=limit, offset=offset)


@router.get("/categories/{code}", response_model=CategoryDetail, dependencies=READ)
def get_category(code: str, session: SessionDep) -> CategoryDetail:
    return _detail(session, service.get_category(session, code))


@router.post(
    "/categories", response_model=CategoryDetail, status_code=status.HTTP_201_CREATED, dependencies=ADMIN
)
def create_category(body: CategoryCreate, session: SessionDep) -> CategoryDetail:
    category = service.create_local_category(
        session,
        code=body.code,
        name=body.name,
        kind=body.kind,
        major_code=body.major_code,
        major_name=body.major_name,
        filing_criterion=body.filing_criterion,
        closing_criterion=body.closing_criterion,
        active=body.active,
        emergency=body.emergency,
        time_limit=(body.time_limit.kind, body.time_limit.value),
        grade_limits={g: (t.kind, t.value) for g, t in body.grade_limits.items()},
    )
    return _detail(session, category)


@router.patch("/categories/{code}", response_model=CategoryDetail, dependencies=ADMIN)
def patch_category(code: str, body: CategoryPatch, session: SessionDep) -> CategoryDetail:
    category = service.update_category(
        session,
        code,
        name=body.name,
        filing_criterion=body.filing_criterion,
        closing_criterion=body.closing_criterion,
        active=body.active,
        emergency=body.emergency,
    )
    if body.time_limit is not None or body.grade_limits:
        service.set_time_limits(
            session,
            code,
            (body.time_limit.kind, body.time_limit.value) if body.time_limit else None,
            {g: (t.kind, t.value) if t else None for g, t in (body.grade_limits or {}).items()},
        )
    stages = {name: getattr(body, name) for name in service.STAGE_FIELDS if name in body.model_fields_set}
    if stages:
        service.set_stage_limits(session, code, stages)
    return _detail(session, category)


@router.get("/categories/{code}/time-limits", response_model=TimeLimitsOut, dependencies=READ)
def get_time_limits(code: str, session: SessionDep) -> TimeLimitsOut:
    service.get_category(session, code)
    default, grades = _limits(session, code)
    return TimeLimitsOut(time_limit=default, grade_limits=grades)


@router.put("/categories/{code}/time-limits", response_model=TimeLimitsOut, dependencies=ADMIN)
def put_time_limits(code: str, body: TimeLimits, session: SessionDep) -> TimeLimitsOut:
    """Replace the default and every grade override (grades left out are removed)."""
    service.set_time_limits(
        session,
        code,
        (body.time_limit.kind, body.time_limit.value),
        {g: (t.kind, t.value) for g, t in body.grade_limits.items()},
        replace=True,
    )
    return get_time_limits(code, session)


@router.get("/responsibilities", response_model=Page[ResponsibilityOut], dependencies=READ)
def list_responsibilities(
    session: SessionDep,
    category_code: str | None = None,
    area_code: str | None = None,
    department_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[ResponsibilityOut]:
    rows, total = service.list_responsibilities(
        session,
        category_code=category_code,
        area_code=area_code,
        department_code=department_code,
        limit=limit,
        offset=offset,
    )
    items = [ResponsibilityOut.model_validate(r) for r in rows]
    return Page[ResponsibilityOut](items=items, total=total, limit=limit, offset=offset)


@router.put("/responsibilities", response_model=list[ResponsibilityOut], dependencies=ADMIN)
def put_responsibilities(body: list[ResponsibilityIn], session: SessionDep) -> list[ResponsibilityOut]:
    """Insert or update rows keyed by (category_code, area_code); all are checked first."""
    rows = service.upsert_responsibilities(
        session, [(r.category_code, r.area_code, r.department_code) for r in body]
    )
    return [ResponsibilityOut.model_validate(r) for r in rows]


@router.delete("/responsibilities/{row_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=ADMIN)
def delete_responsibility(row_id: int, session: SessionDep) -> Response:
    service.delete_responsibility(session, row_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/export.xlsx",
    dependencies=READ,
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "类别/时限/权责清单 workbook"}},
)
def export_xlsx(session: SessionDep) -> Response:
    return Response(
        excel.export_workbook(session),
        media_type=XLSX,
        headers={"Content-Disposition": 'attachment; filename="catalog.xlsx"'},
    )


@router.post("/import.xlsx", response_model=ImportResult, dependencies=ADMIN)
async def import_xlsx(request: Request, session: SessionDep, file: UploadFile = File(...)) -> ImportResult:
    """Check every row of the workbook; 422 listing all errors, or apply everything at once."""
    cap = int(getattr(request.app.state.settings, "max_upload_bytes", 10 * 1024 * 1024))
    data = await file.read(cap + 1)
    if len(data) > cap:
        raise TooLarge(
            f"文件超过 {cap} 字节", f"The file is larger than {cap} bytes", details={"max_bytes": cap}
        )
    # Parsing a big workbook takes seconds of CPU: in a worker thread, so the event loop keeps
    # serving every other request meanwhile (the session is used by this one thread only).
    return ImportResult(**await run_in_threadpool(excel.import_workbook, session, data))


# --- departments -------------------------------------------------------------------------


@router_departments.get("", response_model=list[DepartmentOut], dependencies=READ)
def list_departments(
    session: SessionDep, kind: str | None = None, active: bool | None = None
) -> list[DepartmentOut]:
    return [
        DepartmentOut.model_validate(d) for d in service.list_departments(session, kind=kind, active=active)
    ]


@router_departments.get("/{code}", response_model=DepartmentOut, dependencies=READ)
def get_department(code: str, session: SessionDep) -> DepartmentOut:
    return DepartmentOut.model_validate(service.get_department(session, code))


@router_departments.post(
    "", response_model=DepartmentOut, status_code=status.HTTP_201_CREATED, dependencies=ADMIN
)
def create_department(body: DepartmentCreate, session: SessionDep, actor: CallerDep) -> DepartmentOut:
    return DepartmentOut.model_validate(service.create_department(session, **body.model_dump(), actor=actor))


@router_departments.patch("/{code}", response_model=DepartmentOut, dependencies=ADMIN)
def patch_department(
    code: str, body: DepartmentPatch, session: SessionDep, actor: CallerDep
) -> DepartmentOut:
    # Only fields sent are changed; an explicit null clears area_code or phone.
    changes = body.model_dump(exclude_unset=True)
    return DepartmentOut.model_validate(service.update_department(session, code, **changes, actor=actor))
