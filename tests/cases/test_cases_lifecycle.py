"""The case lifecycle through the service: the happy path, rework, extension, parking,
escalation, reopening and optimistic locking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.accounts.models import AuditEvent
from cityops.accounts.principal import Principal
from cityops.cases import service
from cityops.cases.models import Case, Supervision
from cityops.cases.queries import log_of
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.errors import Conflict, Forbidden, Invalid, NotFound
from cityops.outbox.models import OutboxMessage

from .conftest import GARBAGE, GRID_A, IN_A, IN_B, sh

# The smallest file that passes the upload checks: SOI, a JFIF segment, EOI.
TINY_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
MakePrincipal = Callable[..., Principal]


def new_case(
    session: Session, who: Principal, point: tuple[float, float] = IN_B, category: str = GARBAGE, **kw: object
) -> Case:
    data = CaseCreate(description="路边有一堆垃圾", lon=point[0], lat=point[1], category_code=category, **kw)
    return service.create_case(session, who, data)


class Actors:
    def __init__(self, make: MakePrincipal) -> None:
        self.citizen = make("citizen")
        self.operator = make("operator")
        self.dispatcher = make("dispatcher")
        self.handler = make("handler", department_code="CGJ")
        self.inspector = make("inspector")
        self.leader = make("leader")


@pytest.fixture
def actors(make_principal: MakePrincipal) -> Actors:
    return Actors(make_principal)


def act(session: Session, who: Principal, case: Case, action: str, at: object = None, **body: object) -> Case:
    return service.perform_action(session, who, case.id, action, ActionInput(**body), now=at)  # type: ignore[arg-type]


def topics(session: Session) -> list[str]:
    return list(session.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.created_at)))


def test_create_fills_area_department_and_code(session: Session, actors: Actors) -> None:
    case = new_case(session, actors.citizen)
    assert case.state == "reported"
    assert case.grid_code == "330105001001002" and case.street_code == "330105001" and case.grade == "B"
    assert case.department_code == "CGJ"  # street-level responsibility beats the district row
    assert case.code.startswith("GS") and case.code.endswith("-00001")
    assert case.reporter_user_id == actors.citizen.id
    second = new_case(session, actors.citizen)
    assert second.code.endswith("-00002")


def _photo(session: Session, tmp_path: Path, who: Principal) -> str:
    from cityops.attachments.service import store_upload
    from cityops.config import Settings
    from cityops.kit.storage import LocalStorage

    settings = Settings(storage_dir=tmp_path)
    row = store_upload(
        session,
        LocalStorage(tmp_path),
        settings,
        who,
        filename="after.jpg",
        declared_type="image/jpeg",
        data=TINY_JPEG,
    )
    return str(row.id)


def test_happy_path_logs_every_step(session: Session, actors: Actors, tmp_path: Path) -> None:
    case = new_case(session, actors.citizen)
    photo = _photo(session, tmp_path, actors.handler)
    t0 = sh(2026, 11, 26, 9, 0)  # a Thursday
    act(session, actors.operator, case, "file", t0)
    act(session, actors.dispatcher, case, "dispatch", t0)
    # Grade B: 4 working hours from 09:00 → 12:00 + 1 h after lunch = 15:00.
    assert case.deadline == sh(2026, 11, 26, 15, 0)
    assert case.warn_at == sh(2026, 11, 26, 14, 12)  # 80 % = 3.2 h
    act(session, actors.handler, case, "accept", t0)
    act(session, actors.handler, case, "handle", t0, note="已清理", attachments=[photo])
    act(session, actors.inspector, case, "verify", t0, passed=True, note="现场已清理")
    act(session, actors.dispatcher, case, "close", t0)
    assert case.state == "closed" and case.closed_at == t0
    log = log_of(session, case.id)
    assert [(r.action, r.from_state, r.to_state) for r in log] == [
        ("create", None, "reported"),
        ("file", "reported", "filed"),
        ("dispatch", "filed", "dispatched"),
        ("accept", "dispatched", "accepted"),
        ("handle", "accepted", "handled"),
        ("verify", "handled", "verified"),
        ("close", "verified", "closed"),
    ]
    assert [r.seq for r in log] == list(range(1, 8))
    assert (
        log[4].attachments
        == [{"id": photo, "filename": "after.jpg", "content_type": "image/jpeg", "size": len(TINY_JPEG)}]
        and log[4].note == "已清理"
    )
    assert log[2].actor_role == "dispatcher"
    audits = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.subject_id == str(case.id))
    )
    assert audits == 6  # every transition; creation is recorded by its log row
    assert "case.dispatched" in topics(session) and "case.closed" in topics(session)
    closed = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "case.closed")).one()
    assert closed.recipients == [f"user:{actors.citizen.id}"]


def test_grade_a_limit_override(session: Session, actors: Actors) -> None:
    case = new_case(session, actors.citizen, IN_A)
    assert case.grid_code == GRID_A
    t0 = sh(2026, 11, 26, 9, 0)
    act(session, actors.operator, case, "file", t0)
    act(session, actors.dispatcher, case, "dispatch", t0)
    assert case.deadline == sh(2026, 11, 26, 11, 0)


def test_verify_on_never_handled_case_is_409(session: Session, actors: Actors) -> None:
    case = new_case(session, actors.citizen)
    act(session, actors.operator, case, "file")
    act(session, actors.dispatcher, case, "dispatch")
    with pytest.raises(Conflict) as err:
        act(session, actors.inspector, case, "verify", passed=True)
    assert err.value.code == "transition_not_allowed"
    assert err.value.details["state"] == "dispatched"
    assert "accept" in err.value.details["allowed_actions"]


def test_rework_loop(session: Session, actors: Actors) -> None:
    case = new_case(session, actors.citizen)
    for who, action, body in (
        (actors.operator, "file", {}),
        (actors.dispatcher, "dispatch", {}),
        (actors.handler, "accept", {}),
        (actors.handler, "handle", {"note": "处理了"}),
        (actors.inspector, "verify", {"passed": False, "note": "仍有垃圾"}),
    ):
        act(session, who, case, action, **body)
    assert case.state == "rework"
    act(session, actors.handler, case, "handle", note="再次清理")
    act(session, actors.dispatcher, case, "verify", passed=True)
    act(session, actors.operator, case, "close")
    actions = [r.action for r in log_of(session, case.id)]
    assert actions.count("handle") == 2 and actions.count("verify") == 2
    assert "case.rework" in topics(session)


def dispatched(session: Session, actors: Actors, at: object) -> Case:
    case = new_case(session, actors.citizen)
    act(session, actors.operator, case, "file", at)
    act(session, actors.dispatcher, case, "dispatch", at)
    return case


def test_extension_approval_moves_deadline(session: Session, actors: Actors) -> None:
    t0 = sh(2026, 11, 26, 9, 0)
    case = dispatched(session, actors, t0)
    act(session, actors.handler, case, "request-extension", t0, extra_hours=2, reason="需要协调")
    assert case.extension_requested and case.deadline == sh(2026, 11, 26, 15, 0)
    with pytest.raises(Conflict):  # one pending request at a time
        act(session, actors.handler, case, "request_extension", t0, extra_hours=1, reason="again")
    with pytest.raises(Forbidden):
        act(session, actors.handler, case, "approve_extension", t0)
    act(session, actors.dispatcher, case, "approve_extension", t0)
    assert case.deadline == sh(2026, 11, 26, 17, 0)
    assert not case.extension_requested and case.extensions_granted == 1
    act(session, actors.handler, case, "request_extension", t0, extra_hours=2, reason="材料未到")
    act(session, actors.dispatcher, case, "deny_extension", t0, note="不同意")
    assert case.deadline == sh(2026, 11, 26, 17, 0) and not case.extension_requested


def test_park_pauses_the_clock(session: Session, actors: Actors) -> None:
    t0 = sh(2026, 11, 26, 9, 0)  # deadline Thu 15:00
    case = dispatched(session, actors, t0)
    act(session, actors.handler, case, "park", t0, reason="等待施工许可")
    assert case.state == "dispatched" and case.park_requested
    parked_at = sh(2026, 11, 26, 10, 0)
    act(session, actors.dispatcher, case, "approve_park", parked_at)
    assert case.state == "parked"
    with pytest.raises(Conflict) as err:
        act(session, actors.handler, case, "accept", parked_at)
    assert err.value.details["allowed_actions"] == ["unpark", "escalate"]
    # Parked Thu 10:00 → Fri 10:00 = 8 working hours paused. 3 h were left at 10:00 (10–12, 14–15),
    # so the deadline moves from Thu 15:00 by those 8 h to Fri 15:00.
    act(session, actors.dispatcher, case, "unpark", sh(2026, 11, 27, 10, 0))
    assert case.state == "dispatched"
    assert case.deadline == sh(2026, 11, 27, 15, 0)
    assert case.paused_seconds == 8 * 3600
    assert case.parked_at is None


def test_escalate_creates_supervision_without_changing_owner(session: Session, actors: Actors) -> None:
    case = dispatched(session, actors, None)
    act(session, actors.leader, case, "escalate", note="请加快处置")
    assert case.escalated and case.state == "dispatched" and case.department_code == "CGJ"
    item = session.scalars(select(Supervision).where(Supervision.case_id == case.id)).one()
    assert item.kind == "manual" and item.raised_by == actors.leader.id and item.resolved_at is None
    assert "case.escalated" in topics(session)
    with pytest.raises(Forbidden):
        act(session, actors.handler, case, "escalate")


def closed_case(session: Session, actors: Actors, at: object) -> Case:
    case = dispatched(session, actors, at)
    act(session, actors.handler, case, "accept", at)
    act(session, actors.handler, case, "handle", at, note="done")
    act(session, actors.inspector, case, "verify", at, passed=True)
    act(session, actors.dispatcher, case, "close", at)
    return case


def test_reopen_within_window(session: Session, actors: Actors) -> None:
    t0 = sh(2026, 11, 26, 9, 0)
    case = closed_case(session, actors, t0)
    later = t0 + timedelta(days=3)
    act(session, actors.citizen, case, "reopen", later, note="垃圾又堆起来了")
    assert case.state == "dispatched" and case.department_code == "CGJ"
    assert case.reopened_count == 1 and case.closed_at is None
    assert case.dispatched_at == later and case.deadline is not None and case.deadline > later


def test_reopen_after_window_is_409(session: Session, actors: Actors) -> None:
    t0 = sh(2026, 11, 26, 9, 0)
    case = closed_case(session, actors, t0)
    with pytest.raises(Conflict) as err:
        act(session, actors.citizen, case, "reopen", t0 + timedelta(days=8))
    assert err.value.code == "reopen_window_passed"


def test_operator_reopen_needs_the_complaint(session: Session, actors: Actors) -> None:
    t0 = sh(2026, 11, 26, 9, 0)
    case = closed_case(session, actors, t0)
    with pytest.raises(Invalid):
        act(session, actors.operator, case, "reopen", t0)
    act(session, actors.operator, case, "reopen", t0, note="市民来电投诉未处理好")
    assert case.state == "dispatched"


def test_return_and_redispatch(session: Session, actors: Actors, make_principal: MakePrincipal) -> None:
    case = dispatched(session, actors, None)
    with pytest.raises(Invalid):
        act(session, actors.handler, case, "return")
    act(session, actors.handler, case, "return", reason="不属于本部门职责", misrouted=True)
    assert case.state == "returned" and case.deadline is None
    row = log_of(session, case.id)[-1]
    assert row.data["misrouted"] is True and row.data["department_code"] == "CGJ"
    msg = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "case.returned")).one()
    assert msg.recipients == ["role:dispatcher"]
    act(session, actors.dispatcher, case, "dispatch", department_code="HWC")
    assert case.state == "dispatched" and case.department_code == "HWC"
    with pytest.raises(NotFound):  # CGJ no longer has anything to do with it, so cannot see it
        act(session, actors.handler, case, "accept")
    act(session, make_principal("handler", department_code="HWC"), case, "accept")


def test_dispatch_to_unknown_department_is_invalid(session: Session, actors: Actors) -> None:
    case = new_case(session, actors.citizen)
    act(session, actors.operator, case, "file")
    with pytest.raises(Invalid) as err:
        act(session, actors.dispatcher, case, "dispatch", department_code="NOPE")
    assert err.value.details["field"] == "department_code"
    assert case.state == "filed"


def test_reject_needs_a_reason(session: Session, actors: Actors) -> None:
    case = new_case(session, actors.citizen)
    with pytest.raises(Invalid):
        act(session, actors.operator, case, "reject")
    act(session, actors.operator, case, "reject", reason="重复上报")
    assert case.state == "rejected"


def test_stale_version_is_409(session: Session, actors: Actors) -> None:
    case = new_case(session, actors.citizen)
    with pytest.raises(Conflict) as err:
        act(session, actors.operator, case, "file", version=case.version + 5)
    assert err.value.code == "version_mismatch"


def test_concurrent_update_is_409(session: Session, factory: object, actors: Actors) -> None:
    case = new_case(session, actors.citizen)
    session.commit()
    other = factory()  # type: ignore[operator]
    try:
        # Another transaction changes the case after this one read it.
        other.execute(
            Case.__table__.update().where(Case.id == case.id).values(version=Case.version + 1)  # type: ignore[attr-defined]
        )
        other.commit()
        with pytest.raises(Conflict) as err:
            act(session, actors.operator, case, "file")
        assert err.value.code == "concurrent_update"
    finally:
        other.close()


def test_role_not_allowed_is_403(session: Session, actors: Actors) -> None:
    case = new_case(session, actors.citizen)
    with pytest.raises(Forbidden) as err:
        act(session, actors.handler, case, "file")
    assert err.value.details["allowed_roles"] == ["dispatcher", "operator"]
