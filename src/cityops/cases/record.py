"""One case for a response, read without the ORM: ``GET /api/v1/cases/{id}`` is the busiest read.

Through the ORM, fetching one 51-column case cost about 0.4 ms of CPU where the driver alone
takes 0.1 ms (docs/benchmarks.md). :func:`read_case` runs the *same* SQLAlchemy statement as
:func:`cityops.cases.queries.get_case` (the same scope condition, so one rule decides who sees
what), compiled once per dialect and kind of caller, and converts the row with the column
types' own result processors. What it returns is read-only: state changes load the ORM object.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases.models import Case
from cityops.cases.queries import (
    _not_found,
    _ref_condition,
    _ref_value,
    _scope_shape,
    scope_condition,
    scope_parameters,
)

CASES = Case.metadata.tables[Case.__tablename__]
_COLUMNS = tuple(c.key for c in CASES.columns)


class CaseRecord:
    """A case row with the same attribute names as :class:`Case` (read-only)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


class _Compiled:
    """A statement compiled for one dialect: SQL text, parameter order and value converters."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.defaults = compiled.construct_params()  # constants of this shape (e.g. 'cancelled')
        self.positions: tuple[str, ...] | None = tuple(compiled.positiontup) if compiled.positional else None
        self.bind: dict[str, Callable[[Any], Any]] = {}
        for name, param in compiled.binds.items():
            processor = param.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.bind[name] = processor
        self.dialect = dialect
        self.result: list[Callable[[Any], Any] | None] | None = None  # from the first result

    def _result_processors(self, description: Any) -> list[Callable[[Any], Any] | None]:
        # Some processors depend on the driver's type code of the column (PostgreSQL numerics).
        return [
            CASES.c[key].type.dialect_impl(self.dialect).result_processor(self.dialect, column[1])
            for key, column in zip(_COLUMNS, description, strict=True)
        ]

    def parameters(self, given: dict[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        values = {**self.defaults, **given}
        for name, processor in self.bind.items():
            if name in values and values[name] is not None:
                values[name] = processor(values[name])
        return values if self.positions is None else tuple(values[name] for name in self.positions)

    def record(self, row: Any, description: Any) -> CaseRecord:
        if self.result is None:
            self.result = self._result_processors(description)
        return CaseRecord(
            {
                key: (value if value is None or convert is None else convert(value))
                for key, value, convert in zip(_COLUMNS, row, self.result, strict=True)
            }
        )


_compiled: dict[tuple[str, str, str], _Compiled] = {}
_lock = threading.Lock()


def read_case(session: Session, principal: Principal, ref: str | uuid.UUID) -> CaseRecord:
    """The case ``ref`` (id or code) as :func:`queries.get_case` finds it, without the ORM."""
    kind, value = _ref_value(ref)
    shape = _scope_shape(principal)
    bind = session.get_bind()
    dialect = bind.dialect
    key = (dialect.name, shape, kind)
    compiled = _compiled.get(key)
    if compiled is None:
        statement = select(*CASES.columns).where(_ref_condition(ref), scope_condition(principal))
        with _lock:
            compiled = _compiled.setdefault(key, _Compiled(statement, dialect))
    parameters = compiled.parameters({f"ref_{kind}": value, **scope_parameters(principal)})
    if isinstance(bind, Engine) and not session.in_transaction():
        # The session holds nothing uncommitted, so any connection of its engine reads the same;
        # not starting the session's own transaction saves its bookkeeping (and the commit).
        with bind.connect() as connection:
            row, description = _fetch_one(connection, compiled.sql, parameters)
    else:
        row, description = _fetch_one(session.connection(), compiled.sql, parameters)
    if row is None:
        raise _not_found(ref)
    return compiled.record(row, description)


def _fetch_one(connection: Connection, sql: str, parameters: Any) -> tuple[Any, Any]:
    """One row straight from the driver's cursor.

    SQLAlchemy's ``exec_driver_sql`` rebuilds result metadata for every textual statement, which
    cost as much as the query; errors are still raised as SQLAlchemy's (so a lost database is a
    503) and a dropped connection is invalidated, as SQLAlchemy itself would do.
    """
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return cursor.fetchone(), cursor.description
    except connection.dialect.loaded_dbapi.Error as exc:
        if connection.dialect.is_disconnect(exc, dbapi_connection, cursor):
            connection.invalidate(exc)
        raise DBAPIError.instance(sql, parameters, exc, connection.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()
