"""Point → unit grid lookup: exact answers, a pure-Python fast path and a numpy bulk path.

The district's bounding box is cut into a raster of square cells (about 1024 along the long
side). Every cell is classified once, with shapely, against the grids' polygons:

* touched by no grid → "outside" (answer -1 straight away);
* lying in the interior of exactly one grid → that grid (answer straight away);
* anything else → a "boundary" cell with its candidate grids. A point there gets an exact
  crossing-number test (ray to +x) against the candidates' original polygon edges, limited to
  the edges that reach the point's raster row, which are only a handful per candidate.

Cells are classified with boxes grown by a hair so that a point whose cell index was rounded
across a cell border still lands in a cell whose classification covers it. Edges are the
polygons' own vertices (never clipped copies), so the test agrees with shapely's ``contains``
everywhere except on the boundary line itself, where "inside" is a matter of convention.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

IntArray = NDArray[np.int64]
_CHUNK = 1 << 20  # bulk lookups run in chunks so memory stays bounded for huge inputs


def _ranges(lo: IntArray, counts: IntArray) -> IntArray:
    """Concatenate ``arange(lo[i], lo[i] + counts[i])`` for every i, vectorised."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.repeat(lo - starts, counts) + np.arange(total, dtype=np.int64)


def _sorted_unique(a: IntArray) -> IntArray:
    """np.unique for int keys via one sort (numpy's hash-based unique is slower here)."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if a.size else a


def _polygon_edges(
    geoms: NDArray[Any],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], IntArray]:
    """Every ring edge (xa, ya, xb, yb) of every polygon part, with the index of its geometry."""
    parts, part_grid = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    ring_grid = part_grid[ring_part]
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    same = coord_ring[:-1] == coord_ring[1:]
    grid = ring_grid[coord_ring[:-1][same]].astype(np.int64)
    return coords[:-1, 0][same], coords[:-1, 1][same], coords[1:, 0][same], coords[1:, 1][same], grid


class GridIndex:
    """A point-in-polygon index over non-overlapping grid polygons (WGS-84 lon/lat).

    Build with :meth:`build`; ask with :meth:`locate` (one point, returns the code) or
    :meth:`locate_many` (numpy arrays, returns grid indices, -1 = outside every grid).
    """

    def __init__(self) -> None:
        self.codes: list[str] = []
        self.geoms: list[BaseGeometry] = []
        self.payload: list[Any] = []
        self.code_to_index: dict[str, int] = {}
        self._x0 = self._y0 = 0.0
        self._inv = 1.0
        self._cell = 1.0
        self._nx = self._ny = 0
        self._cells_np = np.zeros(0, dtype=np.int32)
        self._cells_py: list[int] = []
        self._bnd_py: list[tuple[tuple[int, bool, tuple[tuple[float, float, float, float], ...]], ...]] = []
        # CSR arrays of the boundary cells for the numpy path.
        self._bnd_ptr = np.zeros(1, dtype=np.int64)
        self._ent_grid = np.zeros(0, dtype=np.int64)
        self._ent_always = np.zeros(0, dtype=np.int64)
        self._ent_lo = np.zeros(0, dtype=np.int64)
        self._ent_n = np.zeros(0, dtype=np.int64)
        self._ya = self._yb = self._xa = self._k = np.zeros(0)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def stats(self) -> dict[str, float]:
        """Raster size and how many cells need an exact test (for tuning and benchmarks)."""
        n_cells = self._nx * self._ny
        return {
            "grids": len(self.codes),
            "raster": f"{self._nx}x{self._ny}",  # type: ignore[dict-item]
            "cell_deg": self._cell,
            "boundary_cells": len(self._bnd_py),
            "boundary_share": len(self._bnd_py) / n_cells if n_cells else 0.0,
        }

    @classmethod
    def build(
        cls,
        grids: Sequence[tuple[str, BaseGeometry]],
        *,
        payload: Sequence[Any] | None = None,
        resolution: int = 1024,
    ) -> GridIndex:
        """Index ``grids`` given as (code, polygon or multipolygon in lon/lat).

        ``payload`` (same length) is kept as ``index.payload[i]`` for the caller's own data
        (the service keeps each grid's community, street and grade there). ``resolution`` is
        the number of raster cells along the longer side of the bounding box.
        """
        self = cls()
        self.codes = [code for code, _ in grids]
        self.geoms = [geom for _, geom in grids]
        self.payload = list(payload) if payload is not None else [None] * len(self.codes)
        if len(self.payload) != len(self.codes):
            raise ValueError("payload must have one entry per grid")
        self.code_to_index = {code: i for i, code in enumerate(self.codes)}
        if not self.codes:
            return self
        geoms = np.asarray(self.geoms, dtype=object)
        bounds = shapely.bounds(geoms)
        minx, miny = float(bounds[:, 0].min()), float(bounds[:, 1].min())
        maxx, maxy = float(bounds[:, 2].max()), float(bounds[:, 3].max())
        cell = max(maxx - minx, maxy - miny, 1e-9) / resolution
        # One spare cell around the box keeps every polygon strictly inside the raster.
        self._x0, self._y0 = minx - cell, miny - cell
        self._cell, self._inv = cell, 1.0 / cell
        self._nx = math.ceil((maxx - minx) / cell) + 2
        self._ny = math.ceil((maxy - miny) / cell) + 2
        self._classify(geoms)
        return self

    # -- building -------------------------------------------------------------------------

    def _classify(self, geoms: NDArray[Any]) -> None:
        """Classify every raster cell from the polygons' edges alone (no per-cell shapely call).

        A cell is "touched" by a grid when one of the grid's edges passes through it; a cell
        that no edge touches lies wholly inside or wholly outside each grid, so the grid that
        contains its centre (found by a scanline fill) answers for the whole cell.
        """
        nx, ny = self._nx, self._ny
        n_grids = len(self.codes)
        xa, ya, xb, yb, grid = _polygon_edges(geoms)
        t_key = self._touched(xa, ya, xb, yb, grid, n_grids)
        # Horizontal edges never straddle a horizontal ray; dropping them avoids 0/0.
        keep = ya != yb
        xa, ya, xb, yb, grid = xa[keep], ya[keep], xb[keep], yb[keep], grid[keep]
        k = (xb - xa) / (yb - ya)
        # Rows an edge matters for, with one row of slack for rounding of a point's row index.
        lo_row = np.clip(np.floor((np.minimum(ya, yb) - self._y0) * self._inv) - 1, 0, ny - 1)
        hi_row = np.clip(np.floor((np.maximum(ya, yb) - self._y0) * self._inv) + 1, 0, ny - 1)
        n_rows = (hi_row - lo_row + 1).astype(np.int64)
        edge_of = np.repeat(np.arange(xa.size, dtype=np.int64), n_rows)
        row = _ranges(lo_row.astype(np.int64), n_rows)
        key = grid[edge_of] * ny + row
        order = np.argsort(key, kind="stable")
        key, edge_of, row = key[order], edge_of[order], row[order]
        self._ya, self._yb, self._xa, self._k = ya[edge_of], yb[edge_of], xa[edge_of], k[edge_of]
        f_key = self._filled(key, row)

        # Untouched cells whose centre lies in exactly one grid answer directly.
        t_cell = t_key // n_grids
        f_cell, f_grid = f_key // n_grids, f_key % n_grids
        f_touched = np.isin(f_cell, t_cell)
        free_cell, free_count = np.unique(f_cell[~f_touched], return_counts=True)
        cells = np.full(nx * ny, -1, dtype=np.int64)
        single = free_cell[free_count == 1]
        is_single = np.isin(f_cell, single) & ~f_touched
        cells[f_cell[is_single]] = f_grid[is_single]
        # Boundary entries: touching grids (exact test) plus grids that wholly contain the cell
        # while others touch it or overlap it (only possible with overlapping input).
        whole = ~is_single & ~np.isin(f_key, t_key)
        e_key = np.concatenate([t_key, f_key[whole]])
        e_always = np.concatenate([np.zeros(t_key.size, np.int64), np.ones(int(whole.sum()), np.int64)])
        order = np.argsort(e_key, kind="stable")
        e_key, e_always = e_key[order], e_always[order]
        e_cell, e_grid = e_key // n_grids, e_key % n_grids
        uniq, first = np.unique(e_cell, return_index=True)
        cells[uniq] = -2 - np.arange(uniq.size)
        self._cells_np = cells.astype(np.int32)
        self._cells_py = cells.tolist()
        self._bnd_ptr = np.append(first, e_cell.size).astype(np.int64)
        self._ent_grid = e_grid
        self._ent_always = e_always
        # Point every entry at its grid's edges in the cell's row.
        ukey, start, cnt = np.unique(key, return_index=True, return_counts=True)
        ent_key = e_grid * ny + e_cell // nx
        pos = np.minimum(np.searchsorted(ukey, ent_key), ukey.size - 1)
        found = ukey[pos] == ent_key
        self._ent_lo = np.where(found, start[pos], 0).astype(np.int64)
        self._ent_n = np.where(found, cnt[pos], 0).astype(np.int64)
        self._build_python_tables(uniq.size)

    def _touched(
        self,
        xa: NDArray[np.float64],
        ya: NDArray[np.float64],
        xb: NDArray[np.float64],
        yb: NDArray[np.float64],
        grid: IntArray,
        n_grids: int,
    ) -> IntArray:
        """Keys cell * n_grids + grid of every cell an edge of the grid passes through.

        A segment enters each cell it crosses through a point on a raster line (or starts in
        it), so marking the cells on both sides of every such point, nudged by a hair in both
        directions, covers them all, corner passages and rounding included.
        """
        ua, va = (xa - self._x0) * self._inv, (ya - self._y0) * self._inv
        ub, vb = (xb - self._x0) * self._inv, (yb - self._y0) * self._inv
        us, vs, gs = [ua, ub], [va, vb], [grid, grid]
        for pa, pb, qa, qb, vertical in ((ua, ub, va, vb, True), (va, vb, ua, ub, False)):
            lo = np.floor(np.minimum(pa, pb)).astype(np.int64)
            n = np.floor(np.maximum(pa, pb)).astype(np.int64) - lo
            e = np.repeat(np.arange(pa.size, dtype=np.int64), n)
            line = _ranges(lo + 1, n).astype(np.float64)
            q = qa[e] + (line - pa[e]) / (pb[e] - pa[e]) * (qb[e] - qa[e])
            us.append(line if vertical else q)
            vs.append(q if vertical else line)
            gs.append(grid[e])
        u, v, g = np.concatenate(us), np.concatenate(vs), np.concatenate(gs)
        keys = []
        for du in (-1e-7, 1e-7):
            for dv in (-1e-7, 1e-7):
                col = np.clip(np.floor(u + du), 0, self._nx - 1).astype(np.int64)
                row = np.clip(np.floor(v + dv), 0, self._ny - 1).astype(np.int64)
                keys.append((row * self._nx + col) * n_grids + g)
        return _sorted_unique(np.concatenate(keys))

    def _filled(self, key: IntArray, row: IntArray) -> IntArray:
        """Keys cell * n_grids + grid of every cell whose centre lies inside the grid (scanline)."""
        n_grids = len(self.codes)
        yc = self._y0 + (row + 0.5) * self._cell
        cross = (self._ya > yc) != (self._yb > yc)
        xs = (self._xa + (yc - self._ya) * self._k)[cross]
        gkey = key[cross]
        order = np.lexsort((xs, gkey))
        xs, gkey = xs[order], gkey[order]
        # Crossings of one (grid, row) come in in/out pairs along the row.
        _, start = np.unique(gkey, return_index=True)
        rank = np.arange(gkey.size) - np.repeat(start, np.diff(np.append(start, gkey.size)))
        first = np.flatnonzero(rank % 2 == 0)
        x_in, x_out, gk = xs[first], xs[first + 1], gkey[first]
        c_lo = np.ceil((x_in - self._x0) * self._inv - 0.5).astype(np.int64)
        c_hi = np.floor((x_out - self._x0) * self._inv - 0.5).astype(np.int64)
        n = np.maximum(c_hi - c_lo + 1, 0)
        cols = _ranges(c_lo, n)
        g = np.repeat(gk // self._ny, n)
        r = np.repeat(gk % self._ny, n)
        return _sorted_unique((r * self._nx + cols) * n_grids + g)

    def _build_python_tables(self, n_boundary: int) -> None:
        """Plain tuples for the single-point path: Python beats numpy on one point by far."""
        edges = list(
            zip(self._ya.tolist(), self._yb.tolist(), self._xa.tolist(), self._k.tolist(), strict=True)
        )
        lo, n = self._ent_lo.tolist(), self._ent_n.tolist()
        # Entries of one grid in one row share a single tuple of edges.
        groups = {s: tuple(edges[s : s + c]) for s, c in zip(lo, n, strict=True)}
        entries = [
            (g, bool(a), groups[s] if c else ())
            for g, a, s, c in zip(self._ent_grid.tolist(), self._ent_always.tolist(), lo, n, strict=True)
        ]
        ptr = self._bnd_ptr.tolist()
        self._bnd_py = [tuple(entries[ptr[b] : ptr[b + 1]]) for b in range(n_boundary)]

    # -- queries --------------------------------------------------------------------------

    def locate_index(self, lon: float, lat: float) -> int:
        """Index of the grid containing (lon, lat), or -1. Pure Python, about a microsecond."""
        i = (lon - self._x0) * self._inv
        j = (lat - self._y0) * self._inv
        # The chained comparison is False for NaN too, so NaN is "outside".
        if not (0.0 <= i < self._nx and 0.0 <= j < self._ny):
            return -1
        v = self._cells_py[int(j) * self._nx + int(i)]
        if v >= -1:
            return v
        for g, always, edges in self._bnd_py[-v - 2]:
            if always:  # the cell lies inside g even though other grids touch it (overlap)
                return g
            inside = False
            for ya, yb, xa, k in edges:
                if (ya > lat) != (yb > lat) and lon < xa + (lat - ya) * k:
                    inside = not inside
            if inside:
                return g
        return -1

    def locate(self, lon: float, lat: float) -> str | None:
        """Code of the grid containing (lon, lat) in WGS-84, or None outside every grid."""
        g = self.locate_index(lon, lat)
        return None if g < 0 else self.codes[g]

    def locate_many(self, lon: ArrayLike, lat: ArrayLike) -> IntArray:
        """Vectorised lookup: grid index per point (-1 = outside every grid, or NaN input)."""
        x = np.asarray(lon, dtype=np.float64).ravel()
        y = np.asarray(lat, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError("lon and lat must have the same length")
        out = np.full(x.size, -1, dtype=np.int64)
        if not self.codes:
            return out
        for s in range(0, x.size, _CHUNK):
            out[s : s + _CHUNK] = self._locate_chunk(x[s : s + _CHUNK], y[s : s + _CHUNK])
        return out

    def _locate_chunk(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> IntArray:
        fi = (x - self._x0) * self._inv
        fj = (y - self._y0) * self._inv
        ok = (fi >= 0.0) & (fi < self._nx) & (fj >= 0.0) & (fj < self._ny)
        out = np.full(x.size, -1, dtype=np.int64)
        pts = np.flatnonzero(ok)
        cell = fj[pts].astype(np.int64) * self._nx + fi[pts].astype(np.int64)
        v = self._cells_np[cell].astype(np.int64)
        out[pts] = np.where(v >= -1, v, -1)
        hard = v <= -2
        if not hard.any():
            return out
        p = pts[hard]
        b = -v[hard] - 2
        n_ent = self._bnd_ptr[b + 1] - self._bnd_ptr[b]
        ent_pt = np.repeat(np.arange(p.size, dtype=np.int64), n_ent)
        ent = _ranges(self._bnd_ptr[b], n_ent)
        n_edge = self._ent_n[ent]
        edge_ent = np.repeat(np.arange(ent.size, dtype=np.int64), n_edge)
        edge = _ranges(self._ent_lo[ent], n_edge)
        px = x[p][ent_pt][edge_ent]
        py = y[p][ent_pt][edge_ent]
        ya, yb = self._ya[edge], self._yb[edge]
        cross = ((ya > py) != (yb > py)) & (px < self._xa[edge] + (py - ya) * self._k[edge])
        parity = np.bincount(edge_ent, weights=cross, minlength=ent.size).astype(np.int64)
        inside = ((parity & 1) | self._ent_always[ent]).astype(bool)
        hit = np.flatnonzero(inside)
        # Entries of one point are contiguous: keep the first grid that contains the point.
        first_pt, first = np.unique(ent_pt[hit], return_index=True)
        out[p[first_pt]] = self._ent_grid[ent[hit[first]]]
        return out
