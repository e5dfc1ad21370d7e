"""Time filters of the case list: dates and naive times are Asia/Shanghai, never a 500 (issue 8 item 14)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from cityops.accounts.principal import Principal

from .conftest import GARBAGE, IN_B, as_header


def _report(client: TestClient, who: dict[str, str]) -> str:
    r = client.post(
        "/api/v1/cases",
        json={"description": "路边有垃圾", "lon": IN_B[0], "lat": IN_B[1], "category_code": GARBAGE},
        headers=who,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.mark.parametrize(
    ("created_from", "found"),
    [
        ("2000-01-01", True),  # a date only: local midnight
        ("2000-01-01T00:00:00", True),  # a naive time: local time
        ("2000-01-01 08:30", True),
        ("2000-01-01T00:00:00+08:00", True),
        ("2999-12-01", False),
        ("2999-12-01T00:00:00", False),
    ],
)
def test_dates_and_naive_times_filter_as_shanghai_time(
    client: TestClient, make_principal: Callable[..., Principal], created_from: str, found: bool
) -> None:
    made = _report(client, as_header(make_principal("citizen")))
    admin = as_header(make_principal("admin"))
    r = client.get("/api/v1/cases", params={"created_from": created_from}, headers=admin)
    assert r.status_code == 200, r.text
    assert (made in [c["id"] for c in r.json()["items"]]) is found
    r = client.get("/api/v1/cases", params={"created_to": created_from}, headers=admin)
    assert r.status_code == 200, r.text
    assert (made in [c["id"] for c in r.json()["items"]]) is not found


def test_a_naive_bound_is_read_as_local_not_utc(
    client: TestClient, make_principal: Callable[..., Principal]
) -> None:
    made = _report(client, as_header(make_principal("citizen")))
    admin = as_header(make_principal("admin"))
    created = datetime.fromisoformat(client.get(f"/api/v1/cases/{made}", headers=admin).json()["created_at"])
    wall = created.astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)

    def listed(**params: str) -> bool:
        items = client.get("/api/v1/cases", params=params, headers=admin).json()["items"]
        return made in [c["id"] for c in items]

    # Read as UTC, "a minute before creation, Shanghai wall clock" would be eight hours later.
    assert not listed(created_to=(wall - timedelta(minutes=1)).isoformat(timespec="seconds"))
    assert listed(created_to=(wall + timedelta(minutes=1)).isoformat(timespec="seconds"))
    assert listed(created_from=(wall - timedelta(minutes=1)).isoformat(timespec="seconds"))


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00", "2026-13-01", "x"])
def test_impossible_times_are_422_not_500(
    client: TestClient, make_principal: Callable[..., Principal], value: str
) -> None:
    admin = as_header(make_principal("admin"))
    for name in ("created_from", "created_to"):
        r = client.get("/api/v1/cases", params={name: value}, headers=admin)
        assert r.status_code in (200, 422), r.text
        if r.status_code == 422:
            assert r.json()["error"]["code"] == "validation_failed"
