"""The hot path's signal cache stays honest: other writers, rollbacks and stale state.

Each test ingests through the real batch functions on both engines and then changes the
database the way another process would (the ORM, as the worker and pages do; a plain UPDATE
as a second ingest process does), and checks that the next batch sees it.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work, utcnow
from cityops.intake import registry
from cityops.intake.camera import RawAlarm, ingest_alarms, sign
from cityops.intake.live import SignalsChanged
from cityops.intake.models import Signal

SECRET = "cache-test-secret-0123456789"


def _camera(engine: Engine) -> str:
    camera_id = f"cache-cam-{uuid.uuid4().hex[:8]}"
    with unit_of_work(make_sessionmaker(engine)) as s:
        registry.save_camera(s, id=camera_id, name=camera_id, secret=SECRET, lon=120.13485, lat=30.32085)
    return camera_id


def _alarm(camera_id: str, label: str = "暴露垃圾", zone: str = "z1") -> RawAlarm:
    body = json.dumps(
        {
            "event_id": uuid.uuid4().hex,
            "label": label,
            "observed_at": utcnow().isoformat(),
            "confidence": 0.3,  # below the filing confidence: the signal only counts
            "zone": zone,
        },
        ensure_ascii=False,
    ).encode()
    ts = str(int(time.time()))
    return RawAlarm(camera_id, ts, sign(SECRET, ts, body), body)


def _ingest(engine: Engine, n: int, camera_id: str) -> list[str]:
    with unit_of_work(make_sessionmaker(engine)) as s:
        results = ingest_alarms(s, [_alarm(camera_id) for _ in range(n)], inline_cases=False)
    return [r.status for r in results]


def _signal(engine: Engine, camera_id: str) -> list[Signal]:
    with unit_of_work(make_sessionmaker(engine)) as s:
        query = select(Signal).where(Signal.source_id == camera_id).order_by(Signal.first_seen)
        return list(s.scalars(query))


def test_counts_stay_exact_across_batches_and_a_rolled_back_one(world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    camera_id = _camera(engine)
    assert _ingest(engine, 1, camera_id) == ["new"]
    _ingest(engine, 1, camera_id)  # counted on the cached signal
    # a batch whose transaction fails after ingesting
    with pytest.raises(RuntimeError), unit_of_work(make_sessionmaker(engine)) as s:
        ingest_alarms(s, [_alarm(camera_id) for _ in range(5)], inline_cases=False)
        raise RuntimeError("the commit never happens")
    _ingest(engine, 1, camera_id)
    [signal] = _signal(engine, camera_id)
    assert signal.count == 3  # the rolled-back five are not counted, nothing else is lost


def test_a_concurrent_increment_is_added_to_not_overwritten(world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    camera_id = _camera(engine)
    _ingest(engine, 1, camera_id)
    [signal] = _signal(engine, camera_id)
    with unit_of_work(make_sessionmaker(engine)) as s:  # another ingest process counts 10 more
        s.execute(update(Signal).where(Signal.id == signal.id).values(count=Signal.count + 10))
    _ingest(engine, 2, camera_id)
    [signal] = _signal(engine, camera_id)
    assert signal.count == 13


def test_a_state_change_by_the_worker_is_seen_by_the_next_batch(world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    camera_id = _camera(engine)
    _ingest(engine, 2, camera_id)
    [signal] = _signal(engine, camera_id)
    with unit_of_work(make_sessionmaker(engine)) as s:  # staff or the worker close it (ORM)
        row = s.get(Signal, signal.id)
        assert row is not None
        row.state, row.closed_at = "resolved", utcnow()
    assert _ingest(engine, 1, camera_id) == ["new"]  # a new problem, not a count on the closed one
    first, second = _signal(engine, camera_id)
    assert (first.state, first.count) == ("resolved", 2)
    assert (second.state, second.count) == ("open", 1)


def test_a_state_change_behind_the_caches_back_rolls_the_batch_back(world: tuple[Engine, Settings]) -> None:
    engine, _ = world
    camera_id = _camera(engine)
    _ingest(engine, 2, camera_id)
    _ingest(engine, 1, camera_id)  # now the signal is cached
    [signal] = _signal(engine, camera_id)
    with engine.begin() as conn:  # a Core write the generation does not hear of
        conn.execute(update(Signal).where(Signal.id == signal.id).values(state="merchant_notified"))
    with pytest.raises(SignalsChanged):
        _ingest(engine, 1, camera_id)
    assert _signal(engine, camera_id)[0].count == 3  # nothing of the refused batch was written
    assert _ingest(engine, 1, camera_id) == ["updated"]  # the retry reads the signal again
    [signal] = _signal(engine, camera_id)
    assert (signal.state, signal.count) == ("merchant_notified", 4)
