"""The place-name index: area names and gazetteer entries compiled into one trie-shaped regex.

Every surface form (a full name, a short form such as 拱宸桥 for 拱宸桥街道, an alias) goes into a
character trie that is printed as a single regular expression. The regex engine then walks the
trie once per text position instead of trying thousands of alternatives one after another, and
because every optional continuation is greedy it prefers the longest name at a position
(大关小区 over 大关). ``PlaceIndex`` is immutable once built; ``index_for_session`` caches one per
database and rebuilds it when the area tree or the gazetteer changes.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

# Level/kind precision order, used to rank candidates for one surface form.
PRECISION = {"grid": 5, "building": 4, "compound": 4, "landmark": 4, "community": 3, "road": 2, "street": 1}
# Suffixes whose removal still leaves a usable short form (拱宸桥街道 → 拱宸桥).
_STREET_SUFFIXES = ("街道办事处", "街道", "镇", "乡")
_COMMUNITY_SUFFIXES = ("社区居委会", "社区", "村委会", "村")

# A locator answers (lon, lat) → (grid_code, community_code, street_code), any of them None.
Locator = Callable[[float, float], tuple[str | None, str | None, str | None]]


@dataclass(frozen=True)
class Candidate:
    """One thing a surface form may refer to."""

    name: str  # canonical name
    kind: str  # street / community / grid / road / compound / building / landmark
    area_code: str
    street_code: str | None
    base_confidence: float
    lon: float | None = None
    lat: float | None = None
    line: tuple[tuple[tuple[float, float], ...], ...] | None = None
    parent_code: str | None = None


@dataclass(frozen=True)
class AreaRecord:
    """The part of an ``Area`` row the index needs."""

    code: str
    name: str
    level: str
    parent_code: str | None


@dataclass(frozen=True)
class GazetteerRecord:
    """The part of a ``GazetteerEntry`` row (or a seed entry) the index needs."""

    name: str
    kind: str
    area_code: str
    aliases: tuple[str, ...] = ()
    lon: float | None = None
    lat: float | None = None
    line: Any = None


def trie_regex(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, longest first at each position, shaped as a trie."""
    trie: dict[str, Any] = {}
    for word in words:
        if not word:
            continue
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = True

    def emit(node: dict[str, Any]) -> str:
        end = "" in node
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end:
            # Greedy optional: the longer name wins, the shorter one is the fallback.
            return "(?:" + body + ")?"
        return body

    return emit(trie)


@dataclass
class PlaceIndex:
    """Surface forms → candidates, the compiled trie regex and an optional point locator."""

    forms: dict[str, list[Candidate]]
    pattern: re.Pattern[str]
    street_names: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)
    locator: Locator | None = None

    def street_of(self, code: str | None) -> str | None:
        """The street code above ``code`` (itself when it is a street)."""
        seen = 0
        while code and seen < 6:
            if code in self.street_names:
                return code
            code = self.parents.get(code)
            seen += 1
        return None

    def road_line(self, name: str) -> tuple[tuple[tuple[float, float], ...], ...] | None:
        for cand in self.forms.get(name, ()):
            if cand.kind == "road" and cand.line:
                return cand.line
        return None


def _short_forms(name: str, suffixes: Sequence[str], min_len: int) -> list[str]:
    for suffix in suffixes:
        if name.endswith(suffix) and len(name) - len(suffix) >= min_len:
            return [name[: -len(suffix)]]
    return []


def _as_line(raw: Any) -> tuple[tuple[tuple[float, float], ...], ...] | None:
    if not raw:
        return None
    return tuple(tuple((float(p[0]), float(p[1])) for p in part) for part in raw)


def build_index(
    areas: Iterable[AreaRecord], entries: Iterable[GazetteerRecord], locator: Locator | None = None
) -> PlaceIndex:
    """Compile the index from area records and gazetteer records."""
    forms: dict[str, list[Candidate]] = {}
    parents: dict[str, str | None] = {}
    street_names: dict[str, str] = {}
    area_list = list(areas)
    for a in area_list:
        parents[a.code] = a.parent_code
        if a.level == "street":
            street_names[a.code] = a.name

    def street_of(code: str | None) -> str | None:
        for _ in range(6):
            if code is None:
                return None
            if code in street_names:
                return code
            code = parents.get(code)
        return None

    def add(form: str, cand: Candidate) -> None:
        # Forms of one or two characters are too ambiguous in free text unless they are full names.
        if len(form) < 2:
            return
        forms.setdefault(form, []).append(cand)

    for a in area_list:
        if a.level == "district":
            continue
        street = street_of(a.code)
        if a.level == "street":
            add(a.name, Candidate(a.name, "street", a.code, a.code, 0.8, parent_code=a.parent_code))
            for short in _short_forms(a.name, _STREET_SUFFIXES, 2):
                add(short, Candidate(a.name, "street", a.code, a.code, 0.55, parent_code=a.parent_code))
        elif a.level == "community":
            add(a.name, Candidate(a.name, "community", a.code, street, 0.85, parent_code=a.parent_code))
            # Only three-character short forms and longer: 桥西 alone is too common a word.
            for short in _short_forms(a.name, _COMMUNITY_SUFFIXES, 3):
                add(short, Candidate(a.name, "community", a.code, street, 0.6, parent_code=a.parent_code))
        elif a.level == "grid":
            add(a.name, Candidate(a.name, "grid", a.code, street, 0.9, parent_code=a.parent_code))
    for e in entries:
        base = {"road": 0.6, "community": 0.8, "compound": 0.8, "building": 0.85, "landmark": 0.8}.get(
            e.kind, 0.6
        )
        street = street_of(e.area_code) or (e.area_code[:9] if len(e.area_code) >= 9 else None)
        cand = Candidate(e.name, e.kind, e.area_code, street, base, e.lon, e.lat, _as_line(e.line))
        for form in (e.name, *e.aliases):
            add(form, cand)
    pattern = re.compile(trie_regex(forms) or r"(?!x)x")
    return PlaceIndex(
        forms=forms, pattern=pattern, street_names=street_names, parents=parents, locator=locator
    )


def load_seed() -> list[GazetteerRecord]:
    """The seed gazetteer shipped with the package (approximate, written by the project)."""
    raw = json.loads(
        resources.files("cityops.triage").joinpath("data/gazetteer_seed.json").read_text("utf-8")
    )
    return [
        GazetteerRecord(
            name=e["name"],
            kind=e["kind"],
            area_code=e["area_code"],
            aliases=tuple(e.get("aliases") or ()),
            lon=e.get("lon"),
            lat=e.get("lat"),
            line=e.get("line"),
        )
        for e in raw["entries"]
    ]


def _session_locator(session: Session) -> Locator | None:
    """Wrap the areas capability's point → grid lookup, when it has grids to look in."""
    try:
        from cityops.areas import service as areas_service

        grid_index = areas_service.get_index(session)
    except Exception:  # no areas capability or no grid polygons yet: names only
        return None

    def locator(lon: float, lat: float) -> tuple[str | None, str | None, str | None]:
        try:
            found = areas_service.try_locate(grid_index, lon, lat)
        except Exception:  # a malformed point from a hand-edited entry must not break extraction
            return None, None, None
        if found is None:
            return None, None, None
        return found.grid_code, found.community_code, found.street_code

    return locator


_CACHE: dict[Any, tuple[Any, PlaceIndex]] = {}
_LOCK = threading.Lock()


def _version(session: Session) -> tuple[Any, ...]:
    from cityops.areas import service as areas_service
    from cityops.triage.models import GazetteerEntry

    a = areas_service.tree_fingerprint(session)
    g = session.execute(select(func.count(), func.max(GazetteerEntry.updated_at))).one()
    return (a[0], str(a[1]), g[0], str(g[1]))


def index_for_session(session: Session) -> PlaceIndex:
    """The place index of this database, rebuilt only when areas or gazetteer rows changed.

    Area names come from the area tree; gazetteer entries from the ``triage_gazetteer`` table,
    or from the shipped seed while that table is still empty (a fresh install).
    """
    from cityops.areas import service as areas_service
    from cityops.triage.models import GazetteerEntry

    key = str(session.get_bind().engine.url)
    version = _version(session)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
    areas = [AreaRecord(*row) for row in areas_service.tree_rows(session)]
    rows = session.scalars(select(GazetteerEntry)).all()
    entries = (
        [
            GazetteerRecord(r.name, r.kind, r.area_code, tuple(r.aliases or ()), r.lon, r.lat, r.line)
            for r in rows
        ]
        if rows
        else load_seed()
    )
    index = build_index(areas, entries, _session_locator(session))
    with _LOCK:
        _CACHE[key] = (version, index)
    return index
