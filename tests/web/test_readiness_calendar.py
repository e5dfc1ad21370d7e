"""/readyz warns when a running deadline falls in a year the holiday calendar does not know
(issue 8 item 20), and stops warning once that year's official schedule is imported."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from cityops.accounts.principal import SYSTEM
from cityops.cases import calendar
from cityops.cases.models import Case
from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker
from cityops.kit.workcal import package_last_year
from cityops.migrate import upgrade
from cityops.web.app import create_app


def test_readyz_warns_about_an_unknown_year(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ready.db'}")
    upgrade(engine)
    unknown = max(package_last_year(), datetime.now(UTC).year + 1) + 1
    with make_sessionmaker(engine)() as s:
        s.execute(
            insert(Case),
            {
                "id": uuid.uuid4(),
                "code": "GS20261203-00001",
                "state": "accepted",
                "category_code": "06010",
                "description": "x",
                "lon": 120.1,
                "lat": 30.3,
                "deadline": datetime(unknown, 1, 4, 2, tzinfo=UTC),
            },
        )
        s.commit()
    app = create_app(Settings(demo_mode=True, worker_in_process=False), engine=engine)
    try:
        with TestClient(app) as client:
            body = client.get("/readyz").json()
            assert body["status"] == "ready"
            assert unknown in [w["year"] for w in body["warnings"]]
            assert all(w["code"] == "calendar_year_unknown" for w in body["warnings"])
            with make_sessionmaker(engine)() as s:
                days = calendar.parse_schedule(
                    [{"date": f"{unknown}-01-01", "kind": "holiday", "name": "元旦"}]
                )
                calendar.import_schedule(s, SYSTEM, days, source="test")
                s.commit()
            assert unknown not in [w["year"] for w in client.get("/readyz").json()["warnings"]]
    finally:
        engine.dispose()
        calendar.invalidate()
