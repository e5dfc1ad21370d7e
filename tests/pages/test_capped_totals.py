"""Large lists are counted only up to a cap and say so ("超过 N 条（未精确计数）"), in both languages.

At a million cases an exact total reads every matching case (60–150 ms, and 0.4–2 s for a common
word's 200,000), so the pages count up to ``COUNT_CAP`` (``SEARCH_COUNT_CAP`` with a search) and
show "more than N" beyond; below the cap the total is exact as before. The JSON API's
``with_total`` stays exact. Here the caps are made small so the demo's 60 cases exceed them.
"""

from __future__ import annotations

import io
import re
import uuid

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from cityops.accounts.principal import Principal
from cityops.cases import service as cases
from cityops.cases.models import Case
from cityops.cases.queries import CaseFilters
from cityops.db import make_sessionmaker, unit_of_work
from cityops.workbench import common

from .conftest import BROWSER, sign_in

DISPATCHER = Principal(id=uuid.uuid4(), username="d", role="dispatcher")


def _dispatcher(app_client: TestClient) -> TestClient:
    client = TestClient(app_client.app, raise_server_exceptions=False, headers=BROWSER)
    sign_in(client, "dispatcher")
    return client


def _all(demo_engine: Engine) -> int:
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def test_a_capped_count_is_exact_up_to_the_cap(demo_engine: Engine) -> None:
    n = _all(demo_engine)
    assert n > 10
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        assert cases.count_cases(session, DISPATCHER, CaseFilters()) == n
        assert cases.count_cases(session, DISPATCHER, CaseFilters(), cap=n) == n  # exact at the cap
        assert cases.count_cases(session, DISPATCHER, CaseFilters(), cap=5) == 6  # "more than 5"
        rows, total = cases.page_cases(session, DISPATCHER, CaseFilters(), limit=5, count_cap=7)
        assert len(rows) == 5 and total == 8
        # The last page needs no count at all: what it shows is the rest.
        rows, total = cases.page_cases(session, DISPATCHER, CaseFilters(), offset=n - 2, limit=5, count_cap=7)
        assert len(rows) == 2 and total == n


def test_the_ledger_says_more_than_when_the_count_stops(
    app_client: TestClient, demo_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = _all(demo_engine)
    assert 52 < n < 100  # two pages of 50
    monkeypatch.setattr(common, "COUNT_CAP", 52)
    client = _dispatcher(app_client)
    page = client.get("/cases").text
    assert 'data-total="52" data-capped="true"' in page
    assert "超过 52 条（未精确计数）" in page and "第 1 页" in page and "第 1 / " not in page
    assert "合计：超过 52 条" in page and 'rel="next"' in page
    # The last page counts what it shows: the exact total again.
    last = client.get("/cases", params={"offset": 50}).text
    assert f'data-total="{n}">' in last and "第 2 / 2 页" in last and "未精确计数" not in last
    # Switched to English.
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post("/lang", data={"lang": "en", "next": "/cases", "csrf_token": token.group(1)})
    english = client.get("/cases").text
    assert "more than 52 (not counted further)" in english and "Page 1<" in english


def test_a_list_below_the_cap_keeps_its_exact_total(
    app_client: TestClient, demo_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "COUNT_CAP", 10_000)
    page = _dispatcher(app_client).get("/cases").text
    assert f'data-total="{_all(demo_engine)}">' in page and "未精确计数" not in page


def test_a_search_is_counted_to_its_own_cap(
    app_client: TestClient, demo_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        common_word = "路"  # one character: the substring check alone; in most addresses
        found = int(
            session.scalar(
                select(func.count()).select_from(Case).where(Case.description.like(f"%{common_word}%"))
            )
            or 0
        )
    assert found > 3
    monkeypatch.setattr(common, "SEARCH_COUNT_CAP", 2)
    page = _dispatcher(app_client).get("/cases", params={"q": common_word}).text
    assert 'data-total="2" data-capped="true"' in page and "超过 2 条" in page


def test_the_export_still_has_every_row_when_the_count_is_capped(
    app_client: TestClient, demo_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "COUNT_CAP", 3)
    response = _dispatcher(app_client).get("/cases/export.xlsx")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len(rows) - 1 == _all(demo_engine)
