"""Signals, devices and rows of the ingest hot path, read and written on the driver's cursor.

A batch of a thousand alarms touches hundreds of open signals. Loaded as ORM objects and flushed
one by one they cost more than everything else together, and even SQLAlchemy Core spent most of
a batch turning parameters and result rows through the column types (UUIDs, aware datetimes,
JSON). Here they are plain objects with the same attribute names as the models, read with one
SELECT and written back with one executemany UPDATE per batch, in SQL of our own on the
driver's cursor (:class:`Driver` knows how each engine stores a UUID, a time and JSON; on
PostgreSQL new rows go in with ``COPY``). Anything rare and stateful (a new signal, a merchant
notice, a case filed inline) turns the object into the ORM row first (:func:`to_orm`), so only
one of the two is ever written.

Several ingest processes may update the same signal at once (webhooks reach any server process,
MQTT shared subscriptions hand one device's messages to any worker). So the UPDATE adds this
batch's count to the row's (``count = count + ?``) instead of writing a total it read earlier,
and it only applies where the signal is still in the state it was read in: when the worker (or
another process) changed that state in the meantime, :class:`SignalsChanged` rolls the whole batch
back, and the caller's retry reads it again (the MQTT subscriber retries unacknowledged batches;
the webhook answers 409 and the box sends again).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from cityops.errors import Conflict
from cityops.intake.models import Camera, Device, Report, Signal, TelemetryReading

SIGNAL_READ = (
    "id", "source", "source_id", "rule", "zone", "state", "count", "first_seen", "last_seen",
    "last_present", "present", "snapshot_url", "confidence", "value", "case_code", "closed_at", "case_note",
    "window_started_at",
)  # fmt: skip
SIGNAL_WRITE = (
    "state", "last_seen", "last_present", "present", "snapshot_url", "confidence", "value",
    "closed_at", "case_note",
)  # fmt: skip
_SIGNAL_TIMES = {"first_seen", "last_seen", "last_present", "closed_at", "window_started_at"}


class ConcurrentBatch(Conflict):
    """Another transaction got there first (a replay of the same event in two processes at
    once): roll back and try again; the retry sees the other's work."""

    ZH = "另一批处理同时写入了相同事件，请重试"
    EN = "another batch wrote the same event meanwhile; retry"

    def __init__(self, zh: str = ZH, en: str = EN, code: str = "concurrent_batch") -> None:
        super().__init__(zh, en, code=code)


class SignalsChanged(ConcurrentBatch):
    """A signal of this batch changed state in another transaction: roll back and try again."""

    def __init__(self) -> None:
        zh, en = "信号状态已被其他处理更新，请重试", "a signal changed state meanwhile; retry the batch"
        super().__init__(zh, en, "signals_changed")


class Driver:
    """SQL and values as one engine's driver wants them (SQLite's sqlite3 or psycopg)."""

    def __init__(self, session: Session) -> None:
        self.conn = session.connection()
        self.dbapi: Any = self.conn.connection.driver_connection
        self.pg = self.conn.dialect.name == "postgresql"
        self.mark = "%s" if self.pg else "?"
        self.dbapi_module: Any = self.conn.dialect.loaded_dbapi  # its IntegrityError: a concurrent duplicate
        self._time: tuple[datetime | None, Any] = (None, None)  # most values of a batch are its "now"

    # values going in
    def uid(self, value: uuid.UUID | None) -> Any:
        return value if self.pg or value is None else value.hex

    def time(self, value: datetime | None) -> Any:
        # SQLite keeps what SQLAlchemy's DateTime writes: UTC wall time with microseconds, no zone.
        if value is None or self.pg:
            return value
        if value is self._time[0]:
            return self._time[1]
        text = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        self._time = (value, text)
        return text

    def json(self, value: Any) -> str:
        return value if isinstance(value, str) else orjson.dumps(value).decode()

    # values coming out
    def read_uid(self, value: Any) -> uuid.UUID:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=value)

    def read_time(self, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def read_json(self, value: Any) -> Any:
        return orjson.loads(value) if isinstance(value, str | bytes) else value

    def marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column IN (…)`` as SQL and its parameters."""
        if self.pg:
            return f"{column} = ANY({self.mark})", [list(values)]
        return f"{column} IN ({self.marks(len(values))})", list(values)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cur = self.dbapi.cursor()
        try:
            if self.pg:
                # Never a prepared statement: psycopg prepares after five runs, and the generic
                # plan made while intake_reports was small scanned the whole table ever after
                # (a batch's event-id lookup went from 5 ms to 1.9 s at 40,000 reports).
                cur.execute(sql, params, prepare=False)
            else:
                cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            cur.close()

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` once per row; the rows it changed in all."""
        cur = self.dbapi.cursor()
        try:
            cur.executemany(sql, rows)
            return int(cur.rowcount)
        finally:
            cur.close()

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert many rows: ``COPY`` on PostgreSQL, one executemany on SQLite."""
        if not rows:
            return
        try:
            self._insert_rows(table, columns, rows)
        except (self.dbapi_module.IntegrityError, self.dbapi_module.OperationalError):
            # a replay raced (unique key) or two batches deadlocked on it: both retry
            raise ConcurrentBatch() from None

    def _insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        names = ", ".join(columns)
        if self.pg:
            cur = self.dbapi.cursor()
            try:
                with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            finally:
                cur.close()
        else:
            self.execute_many(f"INSERT INTO {table} ({names}) VALUES ({self.marks(len(columns))})", rows)


@dataclass(slots=True)
class LiveSignal:
    id: uuid.UUID
    source: str
    source_id: str
    rule: str
    zone: str
    state: str
    count: int
    first_seen: datetime
    last_seen: datetime
    last_present: datetime | None
    present: bool
    snapshot_url: str | None
    confidence: float | None
    value: float | None
    case_code: str | None
    closed_at: datetime | None
    case_note: str | None
    window_started_at: datetime | None
    dirty: bool = False
    read_state: str = ""  # the state it was read in: the UPDATE's guard
    read_count: int = 0

    def clone(self) -> LiveSignal:
        return LiveSignal(*(getattr(self, name) for name in _SIGNAL_FIELDS))


SIGNALS_TABLE = Signal.__tablename__
_SIGNAL_FIELDS = (*SIGNAL_READ, "dirty", "read_state", "read_count")


def load_signals(
    driver: Driver,
    source: str,
    source_ids: Iterable[str],
    states: Sequence[str],
    *,
    resolved_since: datetime | None = None,
) -> list[LiveSignal]:
    """Signals of ``source`` for those cameras or devices in ``states`` (and, with
    ``resolved_since``, resolved ones closed since then)."""
    ids = sorted(set(source_ids))
    if not ids:
        return []
    in_ids, params = driver.any_of("source_id", ids)
    in_states, state_params = driver.any_of("state", list(states))
    where = f"({in_states})"
    extra: list[Any] = []
    if resolved_since is not None:
        m = driver.mark
        where = f"({in_states} OR (state = {m} AND closed_at >= {m}))"
        extra = ["resolved", driver.time(resolved_since)]
    rows = driver.query(
        f"SELECT {', '.join(SIGNAL_READ)} FROM {SIGNALS_TABLE} "
        f"WHERE source = {driver.mark} AND {in_ids} AND {where}",
        [source, *params, *state_params, *extra],
    )
    out = []
    for row in rows:
        values = dict(zip(SIGNAL_READ, row, strict=True))
        values["id"] = driver.read_uid(values["id"])
        for name in _SIGNAL_TIMES:
            values[name] = driver.read_time(values[name])
        values["present"] = bool(values["present"])
        out.append(LiveSignal(**values, read_state=values["state"], read_count=values["count"]))
    return out


_WRITE_TYPES = {
    "state": "text", "last_seen": "timestamptz", "last_present": "timestamptz", "present": "boolean",
    "snapshot_url": "text", "confidence": "float8", "value": "float8", "closed_at": "timestamptz",
    "case_note": "text",
}  # fmt: skip


def write_signals(driver: Driver, signals: Iterable[Any]) -> int:
    """Write back the changed plain signals; :class:`SignalsChanged` when one moved meanwhile."""
    rows = []
    for s in signals:
        if not isinstance(s, LiveSignal) or not s.dirty:
            continue
        values = [getattr(s, n) for n in SIGNAL_WRITE]
        values = [driver.time(v) if isinstance(v, datetime) else v for v in values]
        rows.append([*values, s.count - s.read_count, driver.uid(s.id), s.read_state])
    if not rows:
        return 0
    rows.sort(key=lambda r: str(r[-2]))  # one lock order for every process: no deadlocks between them
    if driver.pg:
        changed = _update_from_arrays(driver, rows)
    else:
        m = driver.mark
        sets = ", ".join(f"{n} = {m}" for n in SIGNAL_WRITE)
        changed = driver.execute_many(
            f"UPDATE {SIGNALS_TABLE} SET {sets}, count = count + {m} WHERE id = {m} AND state = {m}", rows
        )
    if changed != len(rows):
        raise SignalsChanged()
    return len(rows)


def _update_from_arrays(driver: Driver, rows: list[list[Any]]) -> int:
    """PostgreSQL: one UPDATE … FROM unnest(arrays) for the batch (an executemany of hundreds of
    single-row UPDATEs cost ~0.5 ms each, most of a batch's time)."""
    names = (*SIGNAL_WRITE, "delta", "id", "read_state")
    types = (*(_WRITE_TYPES[n] for n in SIGNAL_WRITE), "integer", "uuid", "text")
    arrays = ", ".join(f"%s::{t}[]" for t in types)
    sets = ", ".join(f"{n} = v.{n}" for n in SIGNAL_WRITE)
    sql = (
        f"UPDATE {SIGNALS_TABLE} AS s SET {sets}, count = s.count + v.delta "
        f"FROM unnest({arrays}) AS v({', '.join(names)}) WHERE s.id = v.id AND s.state = v.read_state"
    )
    columns = [list(c) for c in zip(*rows, strict=True)]
    cur = driver.dbapi.cursor()
    try:
        cur.execute(sql, columns, prepare=False)
        return int(cur.rowcount)
    finally:
        cur.close()


def to_orm(session: Session, signal: LiveSignal | Signal) -> Signal:
    """The ORM row of ``signal`` carrying its unwritten changes (the plain object is retired)."""
    if isinstance(signal, Signal):
        return signal
    row = session.get(Signal, signal.id, populate_existing=True)
    assert row is not None
    if row.state != signal.read_state:
        raise SignalsChanged()
    for name in SIGNAL_WRITE:
        setattr(row, name, getattr(signal, name))
    row.count += signal.count - signal.read_count
    signal.dirty = False
    return row


DEVICE_READ = (
    "id", "device_type", "name", "lon", "lat", "grid_code", "street_code", "thresholds", "active",
    "last_seen_at", "last_values",
)  # fmt: skip


@dataclass(slots=True)
class LiveDevice:
    id: str
    device_type: str
    name: str
    lon: float
    lat: float
    grid_code: str | None
    street_code: str | None
    thresholds: dict[str, Any]
    active: bool
    last_seen_at: datetime | None
    last_values: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False


DEVICES_TABLE = Device.__tablename__


def load_devices(driver: Driver, ids: set[str]) -> dict[str, LiveDevice]:
    if not ids:
        return {}
    in_ids, params = driver.any_of("id", sorted(ids))
    rows = driver.query(f"SELECT {', '.join(DEVICE_READ)} FROM {DEVICES_TABLE} WHERE {in_ids}", params)
    out = {}
    for row in rows:
        d = LiveDevice(*row)
        d.thresholds = driver.read_json(d.thresholds) or {}
        d.last_values = driver.read_json(d.last_values) or {}
        d.active = bool(d.active)
        d.last_seen_at = driver.read_time(d.last_seen_at)
        out[d.id] = d
    return out


def write_devices(driver: Driver, devices: Iterable[LiveDevice]) -> None:
    rows = [(driver.time(d.last_seen_at), driver.json(d.last_values), d.id) for d in devices if d.dirty]
    if not rows:
        return
    if driver.pg:  # one statement for the batch, as for signals
        cur = driver.dbapi.cursor()
        try:
            cur.execute(
                f"UPDATE {DEVICES_TABLE} AS d SET last_seen_at = v.t, last_values = v.j::json "
                "FROM unnest(%s::timestamptz[], %s::text[], %s::text[]) AS v(t, j, id) WHERE d.id = v.id",
                [list(c) for c in zip(*rows, strict=True)],
                prepare=False,
            )
        finally:
            cur.close()
        return
    driver.execute_many(f"UPDATE {DEVICES_TABLE} SET last_seen_at = ?, last_values = ? WHERE id = ?", rows)


CAMERA_READ = (
    "id", "name", "secret", "lon", "lat", "grid_code", "street_code", "address", "dedupe_seconds",
    "self_correction_seconds", "recheck_seconds", "active",
)  # fmt: skip


@dataclass(slots=True)
class LiveCamera:
    """A registered camera as the hot path needs it (the ORM row costs more than the alarm)."""

    id: str
    name: str
    secret: str
    lon: float
    lat: float
    grid_code: str | None
    street_code: str | None
    address: str | None
    dedupe_seconds: int
    self_correction_seconds: int
    recheck_seconds: int
    active: bool


def load_cameras(driver: Driver, ids: set[str]) -> dict[str, LiveCamera]:
    if not ids:
        return {}
    in_ids, params = driver.any_of("id", sorted(ids))
    rows = driver.query(f"SELECT {', '.join(CAMERA_READ)} FROM {Camera.__tablename__} WHERE {in_ids}", params)
    out = {}
    for row in rows:
        camera = LiveCamera(*row)
        camera.active = bool(camera.active)
        out[camera.id] = camera
    return out


REPORTS_TABLE = Report.__tablename__
READINGS_TABLE = TelemetryReading.__tablename__
