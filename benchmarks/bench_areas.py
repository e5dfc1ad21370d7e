"""Benchmark point → grid lookup on the shipped demo grids; one JSON line per figure.

    .venv/bin/python benchmarks/bench_areas.py

Baselines are measured in the same run on the same points: shapely's STRtree
(``query(points, predicate="within")`` in bulk, one ``query(point, predicate="within")`` per
single lookup).
"""

from __future__ import annotations

import json
import time

import numpy as np
import shapely
from common import emit

from cityops.areas import service
from cityops.areas.lookup import GridIndex
from cityops.areas.models import Area
from cityops.db import Base, make_engine, make_sessionmaker

N_BULK = 1_000_000
N_SINGLE = 10_000


def _info(**fields: object) -> None:
    """Context figures without a baseline (setup costs, raster size)."""
    print(json.dumps(fields, ensure_ascii=False), flush=True)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def main() -> None:
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[Area.__table__])
    with make_sessionmaker(engine)() as session:
        t0 = time.perf_counter()
        service.load_demo_areas(session)
        _info(figure="areas_demo_load_s", value=round(time.perf_counter() - t0, 3))
        t0 = time.perf_counter()
        index: GridIndex = service.build_index(session)
        _info(figure="areas_index_build_s", value=round(time.perf_counter() - t0, 3), **index.stats)

    district = shapely.union_all(index.geoms)
    minx, miny, maxx, maxy = district.bounds
    rng = np.random.default_rng(20261126)
    x = rng.uniform(minx, maxx, N_BULK)
    y = rng.uniform(miny, maxy, N_BULK)

    index.locate_many(x[:1000], y[:1000])  # warm-up
    t0 = time.perf_counter()
    ours = index.locate_many(x, y)
    t_ours = time.perf_counter() - t0
    tree = shapely.STRtree(index.geoms)
    t0 = time.perf_counter()
    pts = shapely.points(x, y)
    pi, gi = tree.query(pts, predicate="within")
    t_base = time.perf_counter() - t0
    ref = np.full(N_BULK, len(index))
    np.minimum.at(ref, pi, gi)
    ref[ref == len(index)] = -1
    emit(
        "areas_bulk_lookup",
        N_BULK / t_ours,
        "points/s",
        baseline="shapely STRtree.query(points, predicate='within')",
        baseline_value=N_BULK / t_base,
        points=N_BULK,
        inside_share=round(float((ours >= 0).mean()), 3),
        mismatches_vs_shapely=int((ours != ref).sum()),
    )

    sx, sy = x[:N_SINGLE].tolist(), y[:N_SINGLE].tolist()
    ours_us: list[float] = []
    base_us: list[float] = []
    clock = time.perf_counter_ns
    locate = index.locate
    for a, b in zip(sx, sy, strict=True):
        t = clock()
        locate(a, b)
        ours_us.append((clock() - t) / 1000)
    query = tree.query
    point = shapely.Point
    for a, b in zip(sx, sy, strict=True):
        t = clock()
        query(point(a, b), predicate="within")
        base_us.append((clock() - t) / 1000)
    for stat, q in (("median", 50.0), ("p99", 99.0)):
        emit(
            f"areas_single_lookup_{stat}",
            _percentile(ours_us, q),
            "us",
            baseline="shapely STRtree.query(Point, predicate='within')",
            baseline_value=_percentile(base_us, q),
            calls=N_SINGLE,
        )


if __name__ == "__main__":
    main()
