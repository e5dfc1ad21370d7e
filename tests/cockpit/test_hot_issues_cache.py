"""The cockpit's hot issues: clustering is the costly part, so an expired answer is served at once
while one background thread makes the next."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cockpit import service

LEADER = Principal(id=uuid.uuid4(), username="leader-hot", role="leader")


def test_an_expired_answer_is_served_while_the_next_is_made(
    demo_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = service.hot_issues(demo_session, LEADER, "330105", days=90)
    assert first, "the demo district has hot issues over 90 days"
    keys = [k for k in service._cache if k[:3] == ("hot", service._bind(demo_session), "90")]
    assert keys
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []
    from cityops.triage import service as triage  # the clustering, made slow on purpose

    real = triage.hot_issues

    def slow(*args: object, **kwargs: object) -> object:
        calls.append(1)
        started.set()
        release.wait(10)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(triage, "hot_issues", slow)
    with service._lock:
        for key in keys:
            stamp, value = service._cache[key]
            service._cache[key] = (stamp - service._TTL - 1, value)  # expired
    t0 = time.monotonic()
    again = service.hot_issues(demo_session, LEADER, "330105", days=90)
    assert time.monotonic() - t0 < 1.0  # not waiting for the clustering
    assert again == first  # the previous answer
    assert started.wait(10)  # and the next one is being made in the background
    service.hot_issues(demo_session, LEADER, "330105", days=90)  # no second refresh meanwhile
    release.set()
    for _ in range(100):
        with service._lock:
            if not service._refreshing:
                break
        time.sleep(0.05)
    assert calls == [1]
    with service._lock:
        assert all(time.monotonic() - service._cache[k][0] < service._TTL for k in keys)  # fresh again


def test_the_worker_job_fills_the_district_leaders_entry(demo_session: Session) -> None:
    from cityops.cases.service import scope_key
    from cityops.cockpit.tasks import DISTRICT_LEADER, warm_hot_issues
    from cityops.db import utcnow

    key = ("hot", service._bind(demo_session), "3", *scope_key(DISTRICT_LEADER))
    with service._lock:
        service._cache.pop(key, None)
    result = warm_hot_issues(demo_session, utcnow())
    assert set(result) == {"hot_issues"}
    with service._lock:
        assert key in service._cache  # a leader's first look is now a cached read
