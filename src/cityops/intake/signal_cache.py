"""The open signals of the ingest hot path, kept in memory between batches.

A batch of alarms touches most of the open signals of its cameras; reading them again for every
batch was a quarter of the cost of an alarm. This cache keeps them per engine and source
(``camera``, ``telemetry``), loaded per camera or device the first time a batch needs it.

It stays honest with three rules:

* **A generation** (the counter ``signals.generation`` in ``intake_counters``) moves whenever a
  signal is created or written through the ORM anywhere (the worker filing a case, a merchant's
  window ending, a re-check, staff on a page, another ingest process creating a signal). Every
  batch reads it first (one primary-key SELECT); a generation this process did not make itself
  empties the cache.
* **The guard:** the hot path's UPDATE only applies where a signal is still in the state it was
  read in (:func:`live.write_signals`), so a change that slipped in between rolls the batch back
  instead of being overwritten.
* **Commit decides:** a batch works on copies; they replace the cached signals only after its
  transaction commits, and a rollback empties the cache.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from cityops.intake.live import Driver, LiveSignal
from cityops.intake.models import HOT_PATH, SIGNALS_GENERATION, IntakeCounter, Signal

GENERATION = SIGNALS_GENERATION
__all__ = ["HOT_PATH", "Batch"]
_COUNTERS = IntakeCounter.__tablename__


class _Cache:
    def __init__(self) -> None:
        self.generation: int | None = None
        self.loaded: set[str] = set()  # cameras / devices whose signals are all here
        self.signals: dict[tuple[str, ...], LiveSignal] = {}
        self.lock = threading.Lock()

    def clear(self) -> None:
        self.generation, self.loaded, self.signals = None, set(), {}


_CACHES: weakref.WeakKeyDictionary[Any, dict[str, _Cache]] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def _cache(session: Session, source: str) -> _Cache:
    engine = session.get_bind()
    with _LOCK:
        return _CACHES.setdefault(engine, {}).setdefault(source, _Cache())


def read_generation(driver: Driver) -> int:
    rows = driver.query(f"SELECT value FROM {_COUNTERS} WHERE name = {driver.mark}", [GENERATION])
    return int(rows[0][0]) if rows else 0


def bump_generation(driver: Driver) -> int:
    """Move the generation in the caller's transaction; the new value."""
    m = driver.mark
    rows = driver.query(
        f"INSERT INTO {_COUNTERS} (name, value) VALUES ({m}, 1) "
        f"ON CONFLICT (name) DO UPDATE SET value = {_COUNTERS}.value + 1 RETURNING value",
        [GENERATION],
    )
    return int(rows[0][0])


class Batch:
    """The signals one batch works on: copies of the cached ones, loaded where missing."""

    def __init__(
        self, session: Session, driver: Driver, source: str, key_len: int, visible: Iterable[str]
    ) -> None:
        self.session, self.driver, self.source = session, driver, source
        self.cache = _cache(session, source)
        self.key_len = key_len
        self.visible = frozenset(visible)  # the states a lookup sees (the loader's states)
        self.work: dict[tuple[str, ...], Any] = {}
        self.created = False
        generation = read_generation(driver)
        with self.cache.lock:
            if self.cache.generation != generation:
                self.cache.clear()
                self.cache.generation = generation
        self.generation = generation
        cache = self.cache

        def rolled_back(_session: Session) -> None:  # whatever went wrong, start afresh
            with cache.lock:
                cache.clear()

        event.listen(session, "after_rollback", rolled_back, once=True)

    def load(self, source_ids: Iterable[str], loader: Any) -> None:
        """Make sure the signals of these sources are cached (``loader(missing) -> signals``)."""
        with self.cache.lock:
            missing = set(source_ids) - self.cache.loaded
        if not missing:
            return
        found = loader(missing)
        with self.cache.lock:
            for s in found:
                key = self.key(s)
                old = self.cache.signals.get(key)
                if old is None or s.state != "resolved" or old.state == "resolved":
                    self.cache.signals[key] = s
            self.cache.loaded |= missing

    def key(self, s: Any) -> tuple[str, ...]:
        return (s.source_id, s.rule, s.zone)[: self.key_len]

    def get(self, key: tuple[str, ...]) -> Any:
        if key in self.work:
            return self.work[key]
        cached = self.cache.signals.get(key)
        if cached is None or cached.state not in self.visible:
            return None
        mine = self.work[key] = cached.clone()
        return mine

    def __setitem__(self, key: tuple[str, ...], signal: Any) -> None:
        if isinstance(signal, Signal):
            self.created = True
        self.work[key] = signal

    def values(self) -> Iterator[Any]:
        return iter(self.work.values())

    def finish(self) -> None:
        """Before the batch's flush: move the generation if it created signals, and arrange
        for the cache to take this batch's signals once (and only if) it commits."""
        expected = self.generation
        if self.created:
            expected = self.generation + 1
            if bump_generation(self.driver) != expected:
                expected = -1  # someone else moved it too: reload next time
        cache, work, key_of = self.cache, self.work, self.key

        def committed(_session: Session) -> None:
            with cache.lock:
                if cache.generation != self.generation or expected < 0:
                    cache.clear()
                    return
                for key, s in work.items():
                    if isinstance(s, LiveSignal):
                        s.read_state, s.read_count, s.dirty = s.state, s.count, False
                        cache.signals[key] = s
                    else:  # an ORM row (new, or a case filed inline): read it again next time
                        cache.loaded.discard(key[0])
                        cache.signals.pop(key_of(s), None)
                cache.generation = expected

        event.listen(self.session, "after_commit", committed, once=True)
