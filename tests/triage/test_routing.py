"""Routing: the acceptance report, the operator queue, thresholds, corrections, dispatch rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from cityops.accounts.models import Department
from cityops.areas.models import Area
from cityops.catalog.models import Responsibility
from cityops.catalog.service import load_directory
from cityops.db import new_id
from cityops.errors import Invalid
from cityops.triage import service
from cityops.triage.routing import SeedClassifier, check_report_text


@pytest.fixture(scope="module")
def clf():
    return SeedClassifier.from_catalog()


@pytest.fixture
def session(db_engine_session: Session):
    # Bound to the engine, not a connection: the place index is cached per database URL.
    s = db_engine_session
    load_directory(s)
    s.add_all(
        [
            Area(code="330105", name="拱墅区", level="district"),
            Area(code="330105005", name="拱宸桥街道", level="street", parent_code="330105"),
            Area(code="330105005001", name="桥西社区", level="community", parent_code="330105005"),
            Department(code="GCQ", name="拱宸桥街道办事处", kind="street", area_code="330105005"),
            Department(code="CGJ", name="区城管局", kind="department"),
        ]
    )
    s.flush()
    s.add_all(
        [
            Responsibility(category_code="06010", area_code="330105005", department_code="GCQ"),
            Responsibility(category_code="06010", area_code="330105", department_code="CGJ"),
        ]
    )
    s.flush()
    return s


def test_acceptance_hotline_report(session, clf):
    d = service.route_report(session, "拱宸桥街道桥西社区门口垃圾堆了三天没人清理", classifier=clf)
    assert d.category_code == "06010"
    assert d.place is not None and d.place.street_code == "330105005"
    assert d.department_code == "GCQ"
    assert len(d.suggestions) == 3 and d.driving_words
    assert any("垃圾" in w for w in d.driving_words)


def test_vague_report_goes_to_the_queue_with_three_suggestions(session, clf):
    d = service.route_report(session, "这里有问题请处理一下", classifier=clf)
    assert not d.auto and d.queue_item_id
    [item] = service.list_queue(session)
    assert len(item.suggestions) == 3
    service.resolve_queue_item(session, item.id, "06010", new_id())
    assert service.list_queue(session) == []
    rows = service.export_training_rows(session)
    assert rows[0]["label"] == "06010" and rows[0]["source"] == "operator_queue"


def test_threshold_gate(session, clf):
    service.set_threshold(session, "06010", 0.1)
    d = service.route_report(session, "拱宸桥街道桥西社区门口垃圾堆了三天没人清理", classifier=clf)
    assert d.auto and d.threshold == 0.1 and d.queue_item_id is None
    with pytest.raises(Invalid):
        service.set_threshold(session, "06010", 1.5)


@pytest.mark.parametrize("bad", ["", "   \n", "The garbage is piling up", "x" * 6000, "12345 !!!", None])
def test_bad_text_is_a_clear_422(bad):
    with pytest.raises(Invalid) as e:
        check_report_text(bad)
    assert " / " in e.value.message


def test_accurate_dispatch_rate(session):
    from cityops.cases.models import Case, CaseLog

    t0 = datetime(2026, 5, 1, tzinfo=UTC)
    for k, misrouted in enumerate([False, False, True, False]):
        case = Case(code=f"GS{k}", category_code="06010", description="垃圾", lon=120.1, lat=30.3)
        session.add(case)
        session.flush()
        session.add(CaseLog(case_id=case.id, seq=1, at=t0, action="dispatch", to_state="dispatched"))
        if misrouted:
            session.add(
                CaseLog(
                    case_id=case.id,
                    seq=2,
                    at=t0 + timedelta(hours=1),
                    action="return",
                    to_state="returned",
                    data={"misrouted": True},
                )
            )
    session.flush()
    rows = service.accurate_dispatch_rate(session, t0 - timedelta(days=1), t0 + timedelta(days=1))
    assert rows[0] == {"category_code": "06010", "dispatched": 4, "misrouted": 1, "rate": 0.75}
    assert rows[-1]["category_code"] is None and rows[-1]["rate"] == 0.75
