"""The map's base layer (every page map) and the administrator's area pages.

The base layer: the district's own areas as GeoJSON, for every page map (no tiles needed).

``GET /map/areas.geojson`` gives the district and its streets; ``street=`` adds that street's
communities and grids, ``grid=`` adds one grid (to outline a case's grid). Coordinates are
WGS-84, or GCJ-02 when the configured tile layer is GCJ-02 (``CITYOPS_MAP_TILE_CRS``), converted
with ``kit.coords`` so that outlines sit on the tiles. Boundaries are public: no sign-in needed
(the citizen's report form shows them too).

The administrator's pages (role ``admin``): ``/admin/areas`` the tree (district → street →
community → grid, each with the counts below it, a branch opening in place with htmx),
``/admin/areas/{code}`` an area with its map and children, ``/admin/areas/import`` a GeoJSON file
checked feature by feature (``service.preview_geojson``: what would be created or changed, and
the error of every bad feature) and then imported in one transaction, or not at all.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Literal

import orjson
from fastapi import Depends, Path, Query, Request, Response
from pydantic import BaseModel
from shapely.geometry import mapping, shape
from shapely.ops import transform
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.areas import service
from cityops.areas.geojson_io import to_feature
from cityops.areas.service import Area
from cityops.errors import DomainError, NotFound
from cityops.kit.coords import wgs84_to_gcj02
from cityops.web import templating
from cityops.web.deps import ReadSessionDep, SessionDep
from cityops.web.pagekit import (
    CsrfForm,
    form_files,
    form_values,
    page_roles,
    page_router,
    parse_form,
    redirect,
)
from cityops.web.templating import N_

router = page_router(tags=["maps"])


def display_crs(request: Request) -> str:
    """The coordinate system points are shown in: the tile layer's, WGS-84 without tiles."""
    settings = request.app.state.settings
    if getattr(settings, "map_tile_url", None) and getattr(settings, "map_tile_crs", "wgs84") == "gcj02":
        return "gcj02"
    return "wgs84"


def to_display(lon: float | None, lat: float | None, crs: str) -> tuple[float, float] | None:
    """A WGS-84 point as the map shows it (None stays None)."""
    if lon is None or lat is None:
        return None
    if crs == "gcj02":
        x, y = wgs84_to_gcj02(lon, lat)
        return round(float(x), 7), round(float(y), 7)
    return lon, lat


def _converted(feature: dict[str, Any]) -> dict[str, Any]:
    geometry = feature.get("geometry")
    if geometry:
        feature["geometry"] = mapping(transform(lambda x, y, z=None: wgs84_to_gcj02(x, y), shape(geometry)))
    return feature


@router.get("/map/areas.geojson")
def areas_geojson(
    request: Request,
    session: ReadSessionDep,
    street: str | None = Query(default=None, max_length=20, pattern=r"^\d+$"),
    grid: str | None = Query(default=None, max_length=20, pattern=r"^\d+$"),
) -> Response:
    areas = service.list_areas(session, level="district") + service.list_areas(session, level="street")
    if street:
        areas += service.list_areas(session, level="community", code_prefix=street)
        areas += service.list_areas(session, level="grid", code_prefix=street)
    if grid and not any(a.code == grid for a in areas):
        with contextlib.suppress(NotFound):  # an unknown grid just is not outlined
            areas.append(service.get_area(session, grid))
    crs = display_crs(request)
    features = []
    for area in areas:
        feature = to_feature(area)
        feature["properties"] = {k: feature["properties"][k] for k in ("code", "name", "level")}
        features.append(_converted(feature) if crs == "gcj02" else feature)
    body = orjson.dumps({"type": "FeatureCollection", "features": features})
    # Boundaries change only on an admin import: a browser may keep them for a few minutes.
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "public, max-age=300"})


# --- the administrator's pages: the tree, an area's map, GeoJSON import ---------------------------

ADMIN = Depends(page_roles("admin"))
LEVEL_NAMES = {"district": N_("区县"), "street": N_("街道"), "community": N_("社区"), "grid": N_("网格")}
CRS_CHOICES = (("wgs84", "WGS-84"), ("gcj02", "GCJ-02"))


def _with_counts(session: Session, areas: list[Area]) -> list[tuple[Area, dict[str, int]]]:
    counts = service.tree_counts(session, [a.code for a in areas if a.level != "grid"])
    return [(a, counts.get(a.code, {})) for a in areas]


@router.get("/admin/areas")
def admin_area_tree(request: Request, session: ReadSessionDep, _admin: Principal = ADMIN) -> Response:
    """The tree: the district and its streets with their counts; a street opens into communities."""
    top = service.list_areas(session, level="district") + service.list_areas(session, level="street")
    totals = {level: len(service.list_areas(session, level=level)) for level in ("street", "community")}
    return templating.render(
        request,
        "areas/tree.html",
        {"rows": _with_counts(session, top), "levels": LEVEL_NAMES, "totals": totals},
    )


@router.get("/admin/areas/import")
def admin_area_import_form(request: Request, _admin: Principal = ADMIN) -> Response:
    return templating.render(request, "areas/import.html", _import_context({"crs": "wgs84"}, {}))


@router.get("/admin/areas/{code}")
def admin_area(
    request: Request, session: ReadSessionDep, code: str = Path(max_length=20), _admin: Principal = ADMIN
) -> Response:
    """One area: facts, its map (outlined on the district's own layer) and its children."""
    area = service.get_area(session, code)
    trail: list[Area] = []
    parent = area.parent_code
    while parent:
        above = service.get_area(session, parent)
        trail.insert(0, above)
        parent = above.parent_code
    street = area.code[:9] if area.level in ("street", "community", "grid") else None
    return templating.render(
        request,
        "areas/area.html",
        {
            "area": area,
            "trail": trail,
            "counts": service.tree_counts(session, [area.code]).get(area.code, {}),
            "rows": _with_counts(session, service.children(session, code)),
            "levels": LEVEL_NAMES,
            "street": street,
        },
    )


@router.get("/admin/areas/{code}/children")
def admin_area_children(
    request: Request, session: ReadSessionDep, code: str = Path(max_length=20), _admin: Principal = ADMIN
) -> Response:
    """The children of an area as a fragment of the tree (htmx opens a branch with it)."""
    rows = _with_counts(session, service.children(session, code))
    return templating.render(request, "areas/_branch.html", {"rows": rows, "levels": LEVEL_NAMES})


class ImportOptions(BaseModel):
    level: Literal["district", "street", "community", "grid"] | None = None
    crs: Literal["wgs84", "gcj02"] = "wgs84"
    mode: Literal["preview", "import"] = "preview"


def _import_context(
    values: dict[str, str], errors: dict[str, str], preview: service.ImportPreview | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "values": values,
        "errors": errors,
        "preview": preview,
        "levels": LEVEL_NAMES,
        "crs_choices": CRS_CHOICES,
        **extra,
    }


def _feature_error(exc: DomainError, lang: str) -> dict[str, Any]:
    details = exc.details if isinstance(exc.details, dict) else {}
    index = details.get("feature_index")
    return {
        "feature": index + 1 if isinstance(index, int) else None,
        "code": details.get("code"),
        "message": _half(exc.message, lang),
    }


def _half(message: str, lang: str) -> str:
    zh, _sep, en = message.partition(" / ")
    return en if lang == "en" and en else zh


@router.post("/admin/areas/import")
def admin_area_import(
    request: Request, form: CsrfForm, session: SessionDep, _admin: Principal = ADMIN
) -> Response:
    """Check the file (every bad feature listed) and show what would change; with mode=import and
    no error, write it in one transaction. Nothing is written when any feature is wrong."""
    lang = templating.lang_of(request)
    values = form_values(form)
    options, errors = parse_form(ImportOptions, form, lang)
    files = form_files(form, "file")
    if not files:
        errors["file"] = templating.t("请选择 GeoJSON 文件")
    if options is None or errors:
        return templating.render(
            request, "areas/import.html", _import_context(values, errors), status_code=422
        )
    cap = int(request.app.state.settings.max_upload_bytes)
    data = files[0].file.read(cap + 1)
    if len(data) > cap:
        errors["file"] = templating.t("文件超过 %(mb)s MB", mb=cap // (1024 * 1024))
        return templating.render(
            request, "areas/import.html", _import_context(values, errors), status_code=413
        )
    try:
        collection = json.loads(data.decode("utf-8-sig"))
        preview = service.preview_geojson(session, collection, level=options.level, crs=options.crs)
    except (UnicodeDecodeError, json.JSONDecodeError):
        errors["file"] = templating.t("不是有效的 GeoJSON（JSON）文件")
        return templating.render(
            request, "areas/import.html", _import_context(values, errors), status_code=422
        )
    except DomainError as exc:
        errors["file"] = _half(exc.message, lang)
        return templating.render(
            request, "areas/import.html", _import_context(values, errors), status_code=422
        )
    problems = [_feature_error(e, lang) for e in preview.errors]
    context = _import_context(values, errors, preview, problems=problems, filename=files[0].filename)
    if problems:
        return templating.render(request, "areas/import.html", context, status_code=422)
    if options.mode == "preview":
        return templating.render(request, "areas/import.html", context)
    result = service.import_geojson(session, collection, level=options.level, crs=options.crs)
    message = templating.t("已导入：新增 %(c)s 个，更新 %(u)s 个", c=result.created, u=result.updated)
    return redirect(request, "/admin/areas", message)
