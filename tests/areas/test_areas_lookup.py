"""GridIndex: exact against shapely, fast path and bulk path agree."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.ops import voronoi_diagram

from cityops.areas.lookup import GridIndex


def _voronoi_grids(n: int, seed: int) -> list[tuple[str, Polygon]]:
    """Voronoi cells clipped to an irregular outline with a hole, like real grids."""
    rng = np.random.default_rng(seed)
    outline = Polygon(
        [(120.08, 30.26), (120.216, 30.28), (120.2, 30.398), (120.1, 30.38), (120.09, 30.3)],
        holes=[[(120.15, 30.33), (120.16, 30.33), (120.16, 30.34), (120.15, 30.34)]],
    )
    seeds = shapely.multipoints(rng.random((n, 2)) * [0.136, 0.138] + [120.08, 30.26])
    cells = [c.intersection(outline) for c in voronoi_diagram(seeds).geoms]
    return [(f"G{i:04d}", c) for i, c in enumerate(c for c in cells if not c.is_empty)]


@pytest.fixture(scope="module")
def grids() -> list[tuple[str, Polygon]]:
    return _voronoi_grids(800, seed=3)


@pytest.fixture(scope="module")
def index(grids: list[tuple[str, Polygon]]) -> GridIndex:
    return GridIndex.build(grids)


def _shapely_answer(grids: list[tuple[str, Polygon]], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    tree = shapely.STRtree([g for _, g in grids])
    pt_idx, grid_idx = tree.query(shapely.points(x, y), predicate="within")
    ref = np.full(x.size, -1)
    ref[pt_idx] = grid_idx
    return ref


def test_bulk_lookup_is_exact_on_100k_random_points(index: GridIndex, grids: list) -> None:
    rng = np.random.default_rng(11)
    x = rng.uniform(120.07, 120.23, 100_000)
    y = rng.uniform(30.25, 30.41, 100_000)
    got = index.locate_many(x, y)
    ref = _shapely_answer(grids, x, y)
    assert (got == ref).all()
    assert (ref == -1).sum() > 1000 and (ref >= 0).sum() > 50_000  # both kinds are exercised


def test_points_near_boundaries_agree_with_shapely(index: GridIndex, grids: list) -> None:
    rng = np.random.default_rng(5)
    # Points a hair away from vertices and edge midpoints, where a raster alone would fail.
    coords = shapely.get_coordinates([g for _, g in grids])
    mids = (coords[:-1] + coords[1:]) / 2
    base = np.concatenate([coords, mids])
    base = base[rng.choice(base.shape[0], min(20_000, base.shape[0]), replace=False)]
    for scale in (1e-5, 1e-7, 1e-9):
        x = base[:, 0] + rng.normal(0, scale, base.shape[0])
        y = base[:, 1] + rng.normal(0, scale, base.shape[0])
        ref = _shapely_answer(grids, x, y)
        assert (index.locate_many(x, y) == ref).all(), scale
        single = np.array([index.locate_index(a, b) for a, b in zip(x.tolist(), y.tolist(), strict=True)])
        assert (single == ref).all(), scale


def test_single_point_path_matches_bulk(index: GridIndex) -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(120.07, 120.23, 5000)
    y = rng.uniform(30.25, 30.41, 5000)
    bulk = index.locate_many(x, y)
    for a, b, g in zip(x.tolist(), y.tolist(), bulk.tolist(), strict=True):
        assert index.locate(a, b) == (index.codes[g] if g >= 0 else None)


def test_outside_points_and_nan(index: GridIndex) -> None:
    assert index.locate(0.0, 0.0) is None
    assert index.locate(120.155, 30.335) is None  # inside the hole
    assert index.locate(float("nan"), 30.3) is None
    got = index.locate_many([0.0, np.nan, 120.155, 179.9], [0.0, 30.3, 30.335, -89.0])
    assert got.tolist() == [-1, -1, -1, -1]


def test_multipolygons_and_tiny_grids() -> None:
    a = MultiPolygon([box(0, 0, 1, 1), box(2, 0, 3, 1)])
    b = box(1, 0, 2, 1)
    tiny = box(5, 5, 5.000001, 5.000001)
    idx = GridIndex.build([("A", a), ("B", b), ("T", tiny)], payload=[1, 2, 3])
    assert idx.locate(0.5, 0.5) == "A" and idx.locate(2.5, 0.5) == "A"
    assert idx.locate(1.5, 0.5) == "B"
    assert idx.locate(5.0000005, 5.0000005) == "T"
    assert idx.locate(4.0, 4.0) is None
    assert idx.payload[idx.code_to_index["B"]] == 2


def test_empty_index() -> None:
    idx = GridIndex.build([])
    assert idx.locate(1.0, 1.0) is None
    assert idx.locate_many([1.0], [1.0]).tolist() == [-1]
