"""Place extraction: streets, communities, roads, intersections, compounds and buildings in text.

``extract_places(text, index)`` finds every known name (see ``gazetteer.PlaceIndex``), adds
road intersections ("湖墅南路与德胜路交叉口", located where the two road lines cross) and
building numbers after a compound ("大关小区12幢"), then ranks the matches: the more precise and
the more consistent with the rest of the text, the higher the confidence. Anonymised
placeholders of the kind the 2020 challenge data uses ("A市A3区", "K9县") are blanked out first,
so they never match anything.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from cityops.triage.gazetteer import Candidate, PlaceIndex, index_for_session

# Latin letters (+ digits) followed by an administrative suffix: an anonymised place, not a place.
_PLACEHOLDER = re.compile(r"[A-Za-z]+\d*(?:市|区|县|省|镇|乡|街道|社区|村)")
_BUILDING = re.compile(r"\s*([0-9０-９]+|[一二三四五六七八九十百]+)\s*(幢|栋|号楼|单元|号)")
_JOIN = re.compile(r"\s*(?:与|和|跟|及|、|/|／|交)\s*")
_CROSS_SUFFIX = re.compile(r"\s*(交叉路口|交叉口|交汇处|交界处|十字路口|路口|口)")
# How far apart two road lines may pass and still be called an intersection (~330 m).
_MAX_GAP_DEG = 0.003


@dataclass(frozen=True)
class PlaceMatch:
    """One place found in a text, best matches first in the lists this module returns."""

    text: str
    start: int
    end: int
    kind: str  # street / community / grid / road / intersection / compound / building / landmark
    name: str
    area_code: str
    grid_code: str | None
    street_code: str | None
    lon: float | None
    lat: float | None
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def mask_placeholders(text: str) -> str:
    """Replace anonymised places with spaces of the same length so offsets stay valid."""
    return _PLACEHOLDER.sub(lambda m: " " * len(m.group(0)), text)


def _closest_points(a: Any, b: Any) -> tuple[float, float, float] | None:
    """Where two polylines cross, or the midpoint of their closest approach; with the gap."""
    best: tuple[float, float, float] | None = None
    for pa in a:
        for p0, p1 in itertools.pairwise(pa):
            for pb in b:
                for q0, q1 in itertools.pairwise(pb):
                    hit = _segment_gap(p0, p1, q0, q1)
                    if best is None or hit[2] < best[2]:
                        best = hit
    return best


def _segment_gap(p0: Any, p1: Any, q0: Any, q1: Any) -> tuple[float, float, float]:
    # Exact intersection when the segments cross; otherwise the nearest endpoint projection.
    dx1, dy1 = p1[0] - p0[0], p1[1] - p0[1]
    dx2, dy2 = q1[0] - q0[0], q1[1] - q0[1]
    den = dx1 * dy2 - dy1 * dx2
    if abs(den) > 1e-15:
        t = ((q0[0] - p0[0]) * dy2 - (q0[1] - p0[1]) * dx2) / den
        u = ((q0[0] - p0[0]) * dy1 - (q0[1] - p0[1]) * dx1) / den
        if 0 <= t <= 1 and 0 <= u <= 1:
            return p0[0] + t * dx1, p0[1] + t * dy1, 0.0
    best = (0.0, 0.0, math.inf)
    for pt, s0, s1 in ((p0, q0, q1), (p1, q0, q1), (q0, p0, p1), (q1, p0, p1)):
        sx, sy = s1[0] - s0[0], s1[1] - s0[1]
        norm = sx * sx + sy * sy
        t = 0.0 if norm == 0 else max(0.0, min(1.0, ((pt[0] - s0[0]) * sx + (pt[1] - s0[1]) * sy) / norm))
        cx, cy = s0[0] + t * sx, s0[1] + t * sy
        d = math.hypot(pt[0] - cx, pt[1] - cy)
        if d < best[2]:
            best = ((pt[0] + cx) / 2, (pt[1] + cy) / 2, d)
    return best


def _choose(cands: list[Candidate], other_streets: set[str]) -> tuple[Candidate, float]:
    """The candidate of one surface form that fits the text best, with its confidence.

    ``other_streets`` are the streets named elsewhere in the text: a community or landmark in
    one of them is confirmed, one outside them is doubtful.
    """
    streets = {c.street_code for c in cands}
    confirmed = [c for c in cands if c.street_code in other_streets]

    def score(c: Candidate) -> float:
        conf = c.base_confidence
        # The same name in several streets is ambiguous, unless the text says which street.
        if len(streets) > 1 and not (len({x.street_code for x in confirmed}) == 1 and c in confirmed):
            conf -= 0.2
        if c.kind != "street" and other_streets:
            conf += 0.1 if c.street_code in other_streets else -0.25
        return conf

    best = max(cands, key=lambda c: (score(c), c.kind != "street"))
    return best, score(best)


def _locate(index: PlaceIndex, lon: float | None, lat: float | None) -> tuple[str | None, ...]:
    if index.locator is None or lon is None or lat is None:
        return None, None, None
    return index.locator(lon, lat)


def extract_places(text: str, index: PlaceIndex) -> list[PlaceMatch]:
    """Every place named in ``text``, best first (most precise and most consistent)."""
    masked = mask_placeholders(text)
    raw = [(m.start(), m.end(), m.group(0)) for m in index.pattern.finditer(masked) if m.group(0)]
    street_spans = [(at, c.area_code) for at, _, form in raw for c in index.forms[form] if c.kind == "street"]
    out: list[PlaceMatch] = []
    roads: list[tuple[int, int, str]] = []
    for start, end, form in raw:
        cand, conf = _choose(index.forms[form], {code for at, code in street_spans if at != start})
        kind, grid, street, area = cand.kind, None, cand.street_code, cand.area_code
        lon, lat, span_end = cand.lon, cand.lat, end
        if cand.kind == "road":
            roads.append((start, end, cand.name))
        if cand.kind in ("compound", "community", "building"):
            b = _BUILDING.match(masked, end)
            if b:
                kind, span_end, conf = "building", b.end(), conf + 0.05
        if cand.kind in ("compound", "building", "landmark") or kind == "building":
            g, community, s = _locate(index, lon, lat)
            if g:
                grid, area, street = g, g, s or street
            elif community:
                area = community
        if cand.kind == "grid":
            grid = cand.area_code
        out.append(
            PlaceMatch(
                text[start:span_end],
                start,
                span_end,
                kind,
                cand.name,
                area,
                grid,
                street,
                lon,
                lat,
                round(min(conf, 0.99), 3),
            )
        )
    out.extend(_intersections(text, masked, roads, index))
    return sorted(out, key=lambda p: (-p.confidence, -(p.end - p.start), p.start))


def _intersections(
    text: str, masked: str, roads: list[tuple[int, int, str]], index: PlaceIndex
) -> list[PlaceMatch]:
    found: list[PlaceMatch] = []
    for (s1, e1, n1), (s2, e2, n2) in itertools.pairwise(roads):
        if n1 == n2 or not _JOIN.fullmatch(masked[e1:s2]):
            continue
        end = e2
        suffix = _CROSS_SUFFIX.match(masked, e2)
        if suffix:
            end = suffix.end()
        a, b = index.road_line(n1), index.road_line(n2)
        point = _closest_points(a, b) if a and b else None
        if point is None or point[2] > _MAX_GAP_DEG:
            continue  # the two roads do not meet in the district: not a real junction
        lon, lat = round(point[0], 6), round(point[1], 6)
        grid, community, street = _locate(index, lon, lat)
        if street is None:
            street = _nearest_street(index, n1, n2, lon, lat)
        area = grid or community or street or ""
        conf = 0.9 if suffix else 0.85
        found.append(
            PlaceMatch(
                text[s1:end], s1, end, "intersection", f"{n1}与{n2}交叉口", area, grid, street, lon, lat, conf
            )
        )
    return found


def _nearest_street(index: PlaceIndex, n1: str, n2: str, lon: float, lat: float) -> str | None:
    """Without polygons, the street of whichever road's reference point is nearer the junction."""
    best: tuple[float, str | None] = (math.inf, None)
    for name in (n1, n2):
        for c in index.forms.get(name, ()):
            if c.kind == "road" and c.lon is not None and c.lat is not None:
                d = math.hypot(c.lon - lon, c.lat - lat)
                if d < best[0]:
                    best = (d, c.street_code)
    return best[1]


def resolve_place(session: Session, text: str) -> PlaceMatch | None:
    """The best place in ``text`` against this database's area tree and gazetteer, or None."""
    matches = extract_places(text, index_for_session(session))
    return matches[0] if matches else None
