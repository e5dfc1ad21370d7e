"""A psycopg cursor that builds each result shape's column descriptions once.

SQLAlchemy reads ``cursor.description`` after every statement, and psycopg answers by building
one ``Column`` object per result column, each with a type-registry lookup. For the 51 columns of
a case that was about 40 % of the client-side cost of reading one case (measured, see
docs/benchmarks.md). ``Column`` objects are immutable once built, so one list can serve every
result of the same shape. The shape is the statement text plus each field's name, type oid and
type modifier, read straight from the libpq result (cheap C calls), so a schema change that
alters a column's type gives a new shape, never a stale description.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import Column
from psycopg.pq import ExecStatus

_RETURNS_ROWS = (ExecStatus.TUPLES_OK, ExecStatus.SINGLE_TUPLE, ExecStatus.TUPLES_CHUNK)
_MAX_SHAPES = 4096  # distinct statements of a process stay far below this; clear if ever reached

_shapes: dict[tuple[Any, ...], list[Column]] = {}


class ShapeCachingCursor(psycopg.Cursor[Any]):
    """``psycopg.Cursor`` whose ``description`` is shared between results of the same shape."""

    @property
    def description(self) -> list[Column] | None:
        res = self.pgresult
        if res is None:
            return None
        n = res.nfields
        if not n and res.status not in _RETURNS_ROWS:
            return None
        query = self._query.query if self._query is not None else None
        key = (query, *((res.fname(i), res.ftype(i), res.fmod(i)) for i in range(n)))
        columns = _shapes.get(key)
        if columns is None:
            if len(_shapes) >= _MAX_SHAPES:
                _shapes.clear()
            columns = _shapes[key] = [Column(self, i) for i in range(n)]
        return columns
