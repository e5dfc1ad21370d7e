"""Process-wide caches of admin-edited data, and the generation that keeps every process honest.

Several lookups are cached in memory because they are asked on every creation and change rarely:
the grid index (areas), categories, time limits, the responsibility list, department names
(catalog, accounts) and the working calendar (cases). An admin edit in one process must reach
every other process (API replicas, the worker, a ``cityops import-areas`` next to a running
server).

The database holds one counter, the **cache generation** (table ``cache_generation``). Every
admin edit calls :func:`bump` in its own transaction, so the counter moves exactly when the edit
commits. Every cached value is stored with the generation it was loaded under; a process reads
the counter at most once per :data:`CHECK_SECONDS` per database (one primary-key SELECT), and a
value of an older generation is loaded again. The editing process itself forgets at once: after
the commit, the next lookup reads the counter anew.

So an edit is seen everywhere at most ``CHECK_SECONDS`` (1 s) after its commit, instead of the
60 s TTL and the never-refreshed grid index this replaces.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import BigInteger, Integer, event, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from cityops.db import Base

CHECK_SECONDS = 1.0
_ROW = 1

T = TypeVar("T")


class CacheGeneration(Base):
    """One row: how many admin edits have committed (the caches' generation)."""

    __tablename__ = "cache_generation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class _Seen:
    """What this process last read of one database's generation, and when."""

    __slots__ = ("at", "value")

    def __init__(self) -> None:
        self.value: int | None = None
        self.at = float("-inf")


_SEEN: weakref.WeakKeyDictionary[Any, _Seen] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
_BUMPED = "cityops_cache_bumped"


def _engine(session: Session) -> Any:
    """What identifies the session's database: its engine's connection pool. Engines derived with
    ``execution_options`` (the autocommit twin of the hot paths) share the pool, so they share
    the remembered generation and the cached values too."""
    bind = session.get_bind()
    return (bind if isinstance(bind, Engine) else bind.engine).pool


def _seen(engine: Any) -> _Seen:
    seen = _SEEN.get(engine)
    if seen is None:
        with _LOCK:
            seen = _SEEN.setdefault(engine, _Seen())
    return seen


def read_generation(session: Session) -> int:
    """The generation stored in the database now (0 before the first edit)."""
    value = session.execute(select(CacheGeneration.value).where(CacheGeneration.id == _ROW)).scalar()
    return int(value or 0)


def generation(session: Session) -> int:
    """The generation of the session's database, read at most once per ``CHECK_SECONDS``."""
    seen = _seen(_engine(session))
    now = time.monotonic()
    if seen.value is None or now - seen.at >= CHECK_SECONDS:
        seen.value = read_generation(session)
        seen.at = now
    return seen.value


_TABLE = CacheGeneration.metadata.tables[CacheGeneration.__tablename__]  # the Core table


def _upsert(dialect: str) -> Any:
    # One statement, no savepoint: bump() also runs inside a flush (see _bump_on_flush).
    from sqlalchemy.dialects import postgresql, sqlite

    stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_TABLE).values(id=_ROW, value=1)
    return stmt.on_conflict_do_update(index_elements=[_TABLE.c.id], set_={"value": _TABLE.c.value + 1})


def bump(session: Session) -> None:
    """Record an admin edit in the session's transaction: every process reloads after the commit."""
    session.execute(_upsert(session.get_bind().dialect.name))
    session.info[_BUMPED] = True
    forget_generation(_engine(session))  # this process re-reads the counter on its next lookup


def forget_generation(engine: Any = None) -> None:
    """Make the next lookup read the generation from the database (one engine or pool, or all)."""
    pool = getattr(engine, "pool", engine)
    with _LOCK:
        for key, seen in list(_SEEN.items()):
            if pool is None or key is pool:
                seen.value = None


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # Until the commit, lookups in other threads may have re-read the old generation; after it,
    # they must see the new one at once.
    if session.info.pop(_BUMPED, False):
        forget_generation(_engine(session))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_BUMPED, None)


class GenerationalCache(Generic[T]):
    """A dict of loaded values per database, each valid while the generation is unchanged."""

    def __init__(self, name: str, max_entries: int = 10_000) -> None:
        self.name = name
        self.max_entries = max_entries
        self._data: dict[tuple[int, Hashable], tuple[int, T]] = {}
        REGISTRY.append(self)

    def get(self, session: Session, key: Hashable, load: Callable[[], T]) -> T:
        gen = generation(session)
        # Keyed by the engine too, so two databases in one process never share entries.
        full = (id(_engine(session)), key)
        hit = self._data.get(full)
        if hit is not None and hit[0] == gen:
            return hit[1]
        value = load()
        if len(self._data) >= self.max_entries:
            self._data.clear()
        self._data[full] = (gen, value)
        return value

    def clear(self) -> None:
        self._data.clear()


class GenerationalValue(Generic[T]):
    """One loaded value per database (e.g. the grid index), valid while the generation holds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._data: weakref.WeakKeyDictionary[Any, tuple[int, T]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        REGISTRY.append(self)

    def get(self, session: Session, load: Callable[[], T]) -> T:
        gen = generation(session)
        engine = _engine(session)
        hit = self._data.get(engine)
        if hit is not None and hit[0] == gen:
            return hit[1]
        with self._lock:  # the lock only avoids building twice
            hit = self._data.get(engine)
            if hit is not None and hit[0] == gen:
                return hit[1]
            value = load()
            self._data[engine] = (gen, value)
            return value

    def forget(self, engine: Engine | Connection | None = None) -> None:
        with self._lock:
            if engine is None:
                self._data.clear()
            else:
                bind = engine if isinstance(engine, Engine) else engine.engine
                self._data.pop(bind.pool, None)

    def clear(self) -> None:
        self.forget(None)


# -- which edits bump the generation ------------------------------------------------------------

# Tables whose rows the caches hold. A capability lists its own (next to its models) with
# :func:`watch`; any ORM flush or ORM-executed INSERT/UPDATE/DELETE touching them bumps the
# generation in the same transaction, whichever code path made the edit (API, CLI, Excel import,
# the demo loader, a future admin page).
_WATCHED: set[str] = set()


def watch(*models: type[Any]) -> None:
    """Declare that cached lookups read ``models``' tables: every edit of them bumps the generation."""
    _WATCHED.update(m.__table__.name for m in models)


@event.listens_for(Session, "before_flush")
def _bump_on_flush(session: Session, _context: Any, _instances: Any) -> None:
    # Every flush that edits a watched table bumps (not once per transaction): a lookup later in
    # the same transaction must not take a value it cached after the previous edit for current.
    if not _WATCHED:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(obj, "__table__", None)
        if table is not None and table.name in _WATCHED:
            bump(session)
            return


@event.listens_for(Session, "do_orm_execute")
def _bump_on_statement(state: Any) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if table is not None and getattr(table, "name", None) in _WATCHED:
        bump(state.session)


# Every cache of database contents, so tests (and an admin "reload") can drop them all at once.
REGISTRY: list[Any] = []


def clear_all() -> None:
    """Drop every registered cache and every remembered generation (tests)."""
    for cache in REGISTRY:
        cache.clear()
    forget_generation(None)
