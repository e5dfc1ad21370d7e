"""One settings object: the app's settings are what the domain reads, and the time zone setting
is the one local days, case codes and working hours are computed in."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from cityops.cases import codes
from cityops.config import Settings, get_settings
from cityops.kit.workcal import WorkCalendar
from cityops.web.app import create_app


def test_the_app_and_the_domain_read_one_settings_object(db_engine: Engine, db_session: Session) -> None:
    settings = Settings(case_code_prefix="XY", timezone="UTC", worker_in_process=False)
    create_app(settings, engine=db_engine)
    assert get_settings() is settings
    # Domain code (case codes) now uses the app's prefix and time zone, not the environment's.
    code = codes.next_code(db_session, datetime(2026, 12, 1, 17, 30, tzinfo=UTC))
    assert code.startswith("XY20261201-"), code


def test_without_an_app_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_REOPEN_DAYS", "11")
    get_settings.cache_clear()
    try:
        assert get_settings().reopen_days == 11
        assert get_settings() is get_settings()
    finally:
        get_settings.cache_clear()


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(timezone="Asia/Atlantis")


def test_the_case_code_day_follows_the_time_zone_setting() -> None:
    # 17:30 UTC on 1 December is already 2 December in Shanghai.
    at = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)
    assert at.astimezone(Settings().tz).strftime("%Y%m%d") == "20261202"
    get_settings.configure(Settings(timezone="UTC"))
    assert at.astimezone(get_settings().tz).strftime("%Y%m%d") == "20261201"


def test_working_hours_are_local_to_the_configured_zone() -> None:
    # Monday 2026-12-07 09:00 local: a working instant in Shanghai, but 01:00 in UTC is not.
    shanghai = WorkCalendar(tz=ZoneInfo("Asia/Shanghai"))
    utc = WorkCalendar(tz=ZoneInfo("UTC"))
    at = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)
    assert shanghai.add_working_seconds(at, 3600) == datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    assert utc.add_working_seconds(at, 3600) == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
