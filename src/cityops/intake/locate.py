"""Where a report is: the grid of a point, or a clear "outside jurisdiction" answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from cityops.areas import service as areas
from cityops.errors import Invalid


def locate_point(session: Session, lon: Any, lat: Any, crs: str = "wgs84") -> Any:
    """The grid location of a point; a point outside every grid is refused as outside
    the district's jurisdiction (never given a wrong grid)."""
    try:
        return areas.locate(session, lon, lat, crs)
    except Invalid as err:
        if err.code != "outside_district":
            raise
        raise Invalid(
            "该位置不在本区管辖范围内（outside jurisdiction），请核对位置或转交属地",
            "outside jurisdiction: the point lies outside this district; check it or pass the report on",
            code="outside_jurisdiction",
            details=err.details,
        ) from None
