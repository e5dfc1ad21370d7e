"""What a year of Gongshu cases looks like: when, what, where and who reported them.

:func:`sample_reports` draws the reports (time, source, category, place, text, reporter) from a
fixed seed; :mod:`cityops.demo.timeline` then plays each one through the case lifecycle. The
distributions are plausible, not measured:

* sources: inspectors ~60 %, the 12345 hotline ~25 %, web ~9 %, cameras ~6 %;
* time: inspectors patrol on working days 08:00–18:00, hotline and web calls spread from early
  morning to late evening, cameras around the clock; weekends and holidays are quieter for
  inspectors; summer is busier;
* categories: a handful of street-order and cleanliness matters dominate (暴露垃圾, 乱堆杂物,
  占道经营, 机动车乱停放 …); smoke, noise and barbecues rise in summer, ice only in winter;
* places: grids of grade A (the dense core) and the southern, older streets get more cases.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import chinese_calendar
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from cityops.demo import people, texts
from cityops.kit.workcal import LOCAL_TZ

SOURCES = ("inspector", "hotline", "web", "camera")
SOURCE_P = (0.60, 0.25, 0.09, 0.06)

# Relative weights of the common matters (every other event category weighs 1).
CATEGORY_WEIGHTS: dict[str, float] = {
    "暴露垃圾": 260,
    "乱堆杂物": 220,
    "占道经营": 200,
    "机动车乱停放": 190,
    "店外经营": 150,
    "非机动车乱停放": 140,
    "非法小广告": 130,
    "垃圾站（箱）满溢": 90,
    "道路不洁": 80,
    "共享单车乱象": 80,
    "道路破损": 70,
    "沿街晾挂": 60,
    "积存垃圾渣土": 55,
    "路灯异常": 55,
    "绿地脏乱": 45,
    "垃圾未分类": 45,
    "噪声扰民": 40,
    "油烟污染": 35,
    "施工扰民": 30,
    "行道树异常": 30,
    "私设地锁、阻车桩": 25,
    "无照经营游商": 25,
    "施工占道": 20,
    "工地扬尘": 18,
    "露天烧烤": 15,
    "废弃车辆": 15,
    "占用消防通道": 12,
    "雨水箅子异常": 20,
    "污水井盖异常": 18,
    "雨水井盖异常": 16,
    "供水井盖异常": 12,
    "通信井盖异常": 10,
    "电力井盖异常": 8,
    "交通标志牌及标线异常": 15,
    "交通护栏异常": 12,
    "垃圾箱异常": 15,
    "公共厕所异常": 10,
    "户外广告异常": 8,
    "违规户外广告": 10,
    "建筑物外立面污损": 10,
    "空调室外机低挂": 6,
    "绿地异常": 12,
    "道路遗撒（洒）": 10,
    "废弃家具设备": 15,
    "公交站设施异常": 8,
    "非机动车停放点异常": 6,
    "台阶破损": 6,
    "盲道缺损": 8,
    "路缘石缺损": 6,
}
# Month multipliers (index 1–12) of seasonal matters.
_SUMMER = (0, 0.6, 0.6, 0.8, 1.0, 1.3, 1.7, 1.9, 1.8, 1.3, 1.0, 0.7, 0.6)
SEASONAL: dict[str, tuple[float, ...]] = {
    "油烟污染": _SUMMER,
    "露天烧烤": _SUMMER,
    "噪声扰民": _SUMMER,
    "暴露垃圾": (0, 0.9, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.3, 1.1, 1, 0.9, 0.9),
    "病虫害": (0, 0, 0, 0.5, 1.5, 2.5, 3, 3, 2.5, 1.5, 0.5, 0, 0),
    "水域不洁": (0, 0.6, 0.6, 0.8, 1, 1.3, 1.6, 1.7, 1.5, 1.2, 0.9, 0.7, 0.6),
    "道路积雪、结冰": (0, 4, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2),
}
MONTH_VOLUME = (0, 0.95, 0.75, 0.95, 1.0, 1.05, 1.12, 1.15, 1.12, 1.05, 0.9, 1.0, 0.98)

# Camera analytics detect only a few kinds of problem.
CAMERA_CATEGORIES = frozenset(
    {
        "占道经营",
        "店外经营",
        "机动车乱停放",
        "非机动车乱停放",
        "暴露垃圾",
        "沿街晾挂",
        "垃圾站（箱）满溢",
        "共享单车乱象",
        "乱堆杂物",
    }
)
# Citizens call about what disturbs them at home.
HOTLINE_BOOST = {
    "噪声扰民": 4.0,
    "油烟污染": 4.0,
    "施工扰民": 4.0,
    "露天烧烤": 3.0,
    "占用消防通道": 3.0,
    "路灯异常": 2.0,
    "道路破损": 2.0,
    "废弃车辆": 2.0,
    "非法小广告": 0.3,
    "沿街晾挂": 0.3,
}

_H = np.array
HOUR_WEIGHTS = {
    "inspector": _H(
        [0, 0, 0, 0, 0, 0, 0.1, 0.4, 2, 3, 3, 2.5, 0.6, 1, 2.5, 3, 2.8, 1.8, 0.5, 0.2, 0.1, 0, 0, 0]
    ),
    "hotline": _H(
        [
            0.2,
            0.1,
            0.1,
            0.1,
            0.1,
            0.2,
            0.5,
            1.2,
            2.2,
            2.6,
            2.5,
            2,
            1.5,
            1.6,
            2,
            2.1,
            2,
            1.9,
            1.7,
            1.9,
            2,
            1.6,
            0.9,
            0.4,
        ]
    ),
    "web": _H(
        [
            0.3,
            0.2,
            0.1,
            0.1,
            0.1,
            0.1,
            0.3,
            0.8,
            1.5,
            1.8,
            1.8,
            1.6,
            1.6,
            1.5,
            1.6,
            1.6,
            1.5,
            1.5,
            1.6,
            2.2,
            2.5,
            2.4,
            1.6,
            0.8,
        ]
    ),
    "camera": _H(
        [
            0.3,
            0.2,
            0.2,
            0.2,
            0.2,
            0.4,
            0.8,
            1.5,
            2,
            2,
            2,
            2.2,
            2,
            1.8,
            1.8,
            1.8,
            1.9,
            2.2,
            2.4,
            2.4,
            2.2,
            1.8,
            1,
            0.6,
        ]
    ),
}
# Weight of a day that is not a working day (weekend or public holiday), per source.
OFF_DAY = {"inspector": 0.35, "hotline": 0.9, "web": 1.15, "camera": 1.0}
GRADE_WEIGHT = {"A": 3.0, "B": 1.6, "C": 1.0}


@dataclass(frozen=True)
class Grid:
    """A unit grid as the generator needs it."""

    code: str
    community_code: str
    community_name: str
    street_code: str
    street_name: str
    grade: str
    geometry: BaseGeometry


@dataclass(frozen=True)
class Report:
    """One generated report, before the lifecycle is played."""

    index: int
    id: uuid.UUID
    created_at: datetime
    source: str
    category_code: str
    category_name: str
    grid: Grid
    lon: float
    lat: float
    address: str
    description: str
    reporter_name: str | None
    reporter_phone: str | None
    citizen: int | None  # 1..5 for web reports by a demo citizen account


def _local_midnight(day_offset: int, now: datetime) -> datetime:
    today = now.astimezone(LOCAL_TZ).date()
    day = today - timedelta(days=day_offset)
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)


def _day_weights(days: list[datetime], source: str) -> np.ndarray:
    w = np.empty(len(days))
    for i, d in enumerate(days):
        try:
            workday = chinese_calendar.is_workday(d.date())
        except NotImplementedError:
            workday = d.weekday() < 5
        # A slow upward trend over the year: more cases as the system gets used.
        w[i] = MONTH_VOLUME[d.month] * (1.0 if workday else OFF_DAY[source]) * (0.9 + 0.2 * i / len(days))
    return w / w.sum()


def _sample_times(rs: np.random.RandomState, sources: np.ndarray, now: datetime) -> list[datetime]:
    """A creation time per report, every one before ``now``."""
    days = [_local_midnight(364 - i, now) for i in range(365)]  # oldest first
    out: list[datetime | None] = [None] * len(sources)
    for source in SOURCES:
        idx = np.flatnonzero(sources == source)
        pending = idx
        dw, hw = _day_weights(days, source), HOUR_WEIGHTS[source] / HOUR_WEIGHTS[source].sum()
        while pending.size:
            d = rs.choice(len(days), size=pending.size, p=dw)
            h = rs.choice(24, size=pending.size, p=hw)
            s = rs.randint(0, 3600, size=pending.size)
            retry = []
            for j, di, hi, si in zip(pending, d, h, s, strict=True):
                at = (days[di] + timedelta(hours=int(hi), seconds=int(si))).astimezone(UTC)
                if at >= now:
                    retry.append(j)
                else:
                    out[j] = at
            pending = np.array(retry, dtype=np.int64)
    return [t for t in out if t is not None]


def _category_probs(names: Sequence[str], month: int, source: str) -> np.ndarray:
    w = np.array([CATEGORY_WEIGHTS.get(n, 1.0) * SEASONAL.get(n, (1.0,) * 13)[month] for n in names])
    if source == "camera":
        w = w * np.array([1.0 if n in CAMERA_CATEGORIES else 0.0 for n in names])
    elif source == "hotline":
        w = w * np.array([HOTLINE_BOOST.get(n, 1.0) for n in names])
    return w / w.sum()


def _grid_probs(grids: Sequence[Grid]) -> np.ndarray:
    lats = np.array([g.geometry.centroid.y for g in grids])
    # The southern core (武林、天水、长庆、潮鸣 around 30.27° N) is denser than 半山/康桥 (30.36°).
    south = np.exp(-(lats - lats.min()) / 0.05)
    w = np.array([GRADE_WEIGHT.get(g.grade, 1.0) for g in grids]) * (0.35 + south)
    return w / w.sum()


def _inner(geom: BaseGeometry) -> BaseGeometry:
    """``geom`` shrunk by about a metre (when it is wide enough), so points keep off the edges."""
    inner = geom.buffer(-1e-5)
    target = inner if not inner.is_empty and inner.area > geom.area * 0.2 else geom
    shapely.prepare(target)
    return target


def _point_in(rs: np.random.RandomState, target: BaseGeometry) -> tuple[float, float]:
    """A random point inside ``target``."""
    x0, y0, x1, y1 = target.bounds
    for _ in range(200):
        xs = rs.uniform(x0, x1, 16)
        ys = rs.uniform(y0, y1, 16)
        hit = np.flatnonzero(shapely.contains_xy(target, xs, ys))
        if hit.size:
            return round(float(xs[hit[0]]), 6), round(float(ys[hit[0]]), 6)
    p = target.representative_point()
    return p.x, p.y


def sample_reports(
    n: int, seed: int, now: datetime, grids: Sequence[Grid], categories: Sequence[tuple[str, str]]
) -> list[Report]:
    """``n`` reports of the year before ``now``, oldest first; ``categories`` are (code, name)."""
    rs = np.random.RandomState(seed)
    rng = random.Random(seed)
    sources = np.array(SOURCES)[rs.choice(len(SOURCES), size=n, p=SOURCE_P)]
    times = _sample_times(rs, sources, now)
    names = [name for _, name in categories]
    months = np.array([t.astimezone(LOCAL_TZ).month for t in times])
    cat_idx = np.zeros(n, dtype=np.int64)
    for month in range(1, 13):
        for source in SOURCES:
            sel = np.flatnonzero((months == month) & (sources == source))
            if sel.size:
                cat_idx[sel] = rs.choice(len(names), size=sel.size, p=_category_probs(names, month, source))
    grid_idx = rs.choice(len(grids), size=n, p=_grid_probs(grids))
    order = sorted(range(n), key=lambda i: times[i])
    inner: dict[str, BaseGeometry] = {}
    reports = []
    for k, i in enumerate(order):
        grid = grids[int(grid_idx[i])]
        code, name = categories[int(cat_idx[i])]
        source = str(sources[i])
        if grid.code not in inner:
            inner[grid.code] = _inner(grid.geometry)
        lon, lat = _point_in(rs, inner[grid.code])
        place, values = texts.address(rng, grid.street_code, grid.community_name)
        name_phone: tuple[str | None, str | None] = (None, None)
        citizen = None
        if source in ("hotline", "web"):
            name_phone = people.reporter(rng)
            if source == "web" and rng.random() < 0.5:
                citizen = rng.randrange(1, people.CITIZENS + 1)
        reports.append(
            Report(
                index=k,
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                created_at=times[i],
                source=source,
                category_code=code,
                category_name=name,
                grid=grid,
                lon=lon,
                lat=lat,
                address=f"{grid.street_name}{place}",
                description=texts.describe(rng, name, source, place, values),
                reporter_name=name_phone[0],
                reporter_phone=name_phone[1],
                citizen=citizen,
            )
        )
    return reports
