"""The map's base layer: the district's own areas as GeoJSON, for every page map (no tiles needed).

``GET /map/areas.geojson`` gives the district and its streets; ``street=`` adds that street's
communities and grids, ``grid=`` adds one grid (to outline a case's grid). Coordinates are
WGS-84, or GCJ-02 when the configured tile layer is GCJ-02 (``CITYOPS_MAP_TILE_CRS``), converted
with ``kit.coords`` so that outlines sit on the tiles. Boundaries are public: no sign-in needed
(the citizen's report form shows them too).
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from fastapi import Query, Request, Response
from shapely.geometry import mapping, shape
from shapely.ops import transform

from cityops.areas import service
from cityops.areas.geojson_io import to_feature
from cityops.errors import NotFound
from cityops.kit.coords import wgs84_to_gcj02
from cityops.web.deps import ReadSessionDep
from cityops.web.pagekit import page_router

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
