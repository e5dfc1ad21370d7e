"""Scoping: who sees which case. Anything outside the scope is 404, never 403."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.models import AuditEvent
from cityops.accounts.principal import Principal
from cityops.cases import service
from cityops.cases.models import Case
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.errors import NotFound

from .conftest import COMMUNITY, COVER, GARBAGE, GRID_B, IN_B, IN_C, STREET, STREET2, as_header

MakePrincipal = Callable[..., Principal]


def report(
    session: Session, who: Principal, point: tuple[float, float] = IN_B, category: str = GARBAGE
) -> Case:
    data = CaseCreate(
        description="井盖缺失",
        lon=point[0],
        lat=point[1],
        category_code=category,
        reporter_name="张三丰",
        reporter_phone="13812345678",
    )
    return service.create_case(session, who, data)


def dispatched(session: Session, make: MakePrincipal, point: tuple[float, float], category: str) -> Case:
    case = report(session, make("citizen"), point, category)
    service.perform_action(session, make("operator"), case.id, "file", ActionInput())
    service.perform_action(session, make("dispatcher"), case.id, "dispatch", ActionInput())
    return case


def test_handler_sees_only_own_department(session: Session, make_principal: MakePrincipal) -> None:
    garbage = dispatched(session, make_principal, IN_B, GARBAGE)  # → CGJ
    cover = dispatched(session, make_principal, IN_B, COVER)  # → SW
    cgj = make_principal("handler", department_code="CGJ")
    assert service.get_case(session, cgj, garbage.id) is garbage
    with pytest.raises(NotFound):
        service.get_case(session, cgj, cover.id)
    with pytest.raises(NotFound):
        service.get_case(session, cgj, cover.code)
    with pytest.raises(NotFound):  # acting on it is 404 too, not 403
        service.perform_action(session, cgj, cover.id, "accept", ActionInput())
    rows, _ = service.list_cases(session, cgj)
    assert [c.id for c in rows] == [garbage.id]


def test_citizen_sees_only_own_reports(session: Session, make_principal: MakePrincipal) -> None:
    alice, bob = make_principal("citizen"), make_principal("citizen")
    mine = report(session, alice)
    theirs = report(session, bob)
    assert service.get_case(session, alice, mine.code) is mine
    with pytest.raises(NotFound):
        service.get_case(session, alice, theirs.id)
    assert [c.id for c in service.list_cases(session, alice)[0]] == [mine.id]


@pytest.mark.parametrize("area", [STREET, COMMUNITY, GRID_B])
def test_street_staff_see_only_their_area(session: Session, make_principal: MakePrincipal, area: str) -> None:
    inside = report(session, make_principal("citizen"), IN_B)
    outside = report(session, make_principal("citizen"), IN_C)
    staff = make_principal("dispatcher", area_code=area)
    assert service.get_case(session, staff, inside.id) is inside
    with pytest.raises(NotFound):
        service.get_case(session, staff, outside.id)
    assert {c.id for c in service.list_cases(session, staff)[0]} == {inside.id}
    other_street = make_principal("operator", area_code=STREET2)
    assert {c.id for c in service.list_cases(session, other_street)[0]} == {outside.id}


def test_roles_without_case_scope_see_nothing(session: Session, make_principal: MakePrincipal) -> None:
    case = report(session, make_principal("citizen"))
    with pytest.raises(NotFound):
        service.get_case(session, make_principal("handler"), case.id)  # no department
    with pytest.raises(NotFound):
        service.get_case(session, make_principal("merchant"), case.id)


def test_http_404_for_other_department(
    client: TestClient, session: Session, make_principal: MakePrincipal
) -> None:
    cover = dispatched(session, make_principal, IN_B, COVER)
    session.commit()
    cgj = as_header(make_principal("handler", department_code="CGJ"))
    for method, path in (
        ("get", f"/api/v1/cases/{cover.id}"),
        ("get", f"/api/v1/cases/{cover.code}/log"),
        ("get", f"/api/v1/cases/{cover.id}/qr.png"),
        ("post", f"/api/v1/cases/{cover.id}/accept"),
    ):
        r = client.request(method, path, headers=cgj, json={} if method == "post" else None)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "case_not_found"
    sw = as_header(make_principal("handler", department_code="SW"))
    assert client.get(f"/api/v1/cases/{cover.id}", headers=sw).status_code == 200


def test_masking_and_audit_of_personal_data(
    client: TestClient, session: Session, make_principal: MakePrincipal
) -> None:
    cover = dispatched(session, make_principal, IN_B, COVER)
    session.commit()
    handler = make_principal("handler", department_code="SW")
    body = client.get(f"/api/v1/cases/{cover.id}", headers=as_header(handler)).json()
    assert body["reporter_name"] != "张三丰" and "5678" in body["reporter_phone"]
    assert "1381234" not in body["reporter_phone"]
    dispatcher = make_principal("dispatcher")
    # masked by default, even for a role that may see it: a plain read writes nothing
    plain = client.get(f"/api/v1/cases/{cover.id}", headers=as_header(dispatcher)).json()
    assert plain["reporter_name"] != "张三丰" and "1381234" not in plain["reporter_phone"]
    # the handler may not unmask at all
    still = client.get(f"/api/v1/cases/{cover.id}?reveal=true", headers=as_header(handler)).json()
    assert still["reporter_name"] != "张三丰"
    body = client.get(f"/api/v1/cases/{cover.id}?reveal=true", headers=as_header(dispatcher)).json()
    assert body["reporter_name"] == "张三丰" and body["reporter_phone"] == "13812345678"
    session.expire_all()
    reads = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "personal_data.read", AuditEvent.actor_id == dispatcher.id
        )
    ).all()
    assert len(reads) == 1 and reads[0].subject_id == str(cover.id)
    listed = client.get("/api/v1/cases?reveal=true", headers=as_header(dispatcher)).json()["items"]
    assert listed[0]["reporter_phone"] == "13812345678"
    session.expire_all()
    assert (
        len(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "personal_data.read", AuditEvent.actor_id == dispatcher.id
                )
            ).all()
        )
        == 2
    )
