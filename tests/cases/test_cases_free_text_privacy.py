"""Personal numbers in descriptions and notes, and what a citizen reads in its case's log
(issue 8 items 4 and 5).

Phone and ID numbers typed into free text are masked wherever the reporter's structured contact
is masked, and shown only through the audited ``?reveal=true`` path. A citizen reading the log of
its own case sees the public history plus its own entries: no staff names, notes or reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.masking import find_personal
from cityops.accounts.models import AuditEvent
from cityops.accounts.principal import Principal
from cityops.cases.public import access_token

from .conftest import GARBAGE, IN_B, as_header

MakePrincipal = Callable[..., Principal]
MOBILE, LANDLINE, ID = "13912345678", "0571-87654321", "33010519900307123X"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _clear_numbers(body: Any) -> list[str]:
    return [s for s in _strings(body) if find_personal(s)]


def _reads(session: Session, who: Principal) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == "personal_data.read", AuditEvent.actor_id == who.id)
        )
    )


def _returned_case(client: TestClient, make_principal: MakePrincipal, citizen: Principal) -> dict[str, Any]:
    """A citizen's report with numbers in it, filed, dispatched to CGJ and returned as misrouted."""
    created = client.post(
        "/api/v1/cases",
        json={
            "description": f"楼下垃圾没人清，联系我 {MOBILE}，身份证 {ID}",
            "lon": IN_B[0],
            "lat": IN_B[1],
            "category_code": GARBAGE,
        },
        headers=as_header(citizen),
    )
    assert created.status_code == 201, created.text
    case = created.json()
    steps = [
        (make_principal("operator", username="op-wang"), "file", {"note": f"已电话核实，座机 {LANDLINE}"}),
        (make_principal("dispatcher", username="disp-li"), "dispatch", {"note": "内部：优先处理"}),
        (
            make_principal("handler", department_code="CGJ", username="cgj-zhao"),
            "return",
            {"reason": f"不属于本单位，已联系报告人 {MOBILE}", "misrouted": True},
        ),
    ]
    for who, action, payload in steps:
        r = client.post(f"/api/v1/cases/{case['id']}/{action}", json=payload, headers=as_header(who))
        assert r.status_code == 200, (action, r.text)
    return case


def test_numbers_in_free_text_are_masked_and_revealed_only_with_audit(
    client: TestClient, session: Session, make_principal: MakePrincipal
) -> None:
    citizen = make_principal("citizen")
    case = _returned_case(client, make_principal, citizen)
    dispatcher = make_principal("dispatcher")
    handler = make_principal("handler", department_code="CGJ")
    url = f"/api/v1/cases/{case['id']}"
    for who in (dispatcher, handler):
        one = client.get(url, headers=as_header(who)).json()
        assert "139****5678" in one["description"] and _clear_numbers(one) == [], one["description"]
        listed = client.get("/api/v1/cases", headers=as_header(who)).json()["items"]
        assert _clear_numbers(listed) == []
        log = client.get(f"{url}/log", headers=as_header(who)).json()
        assert _clear_numbers(log) == [], log
        # The handler's role may not unmask, with or without asking.
        assert _clear_numbers(client.get(f"{url}/log?reveal=true", headers=as_header(handler)).json()) == []
    assert _reads(session, dispatcher) == [] and _reads(session, handler) == []
    assert _clear_numbers(client.get(f"{url}?reveal=true", headers=as_header(handler)).json()) == []

    shown = client.get(f"{url}?reveal=true", headers=as_header(dispatcher)).json()
    assert MOBILE in shown["description"] and ID in shown["description"]
    reads = _reads(session, dispatcher)
    assert len(reads) == 1 and "description" in reads[0].details["fields"]
    log = client.get(f"{url}/log?reveal=true", headers=as_header(dispatcher)).json()
    assert LANDLINE in " ".join(_strings(log)) and MOBILE in " ".join(_strings(log))
    assert len(_reads(session, dispatcher)) == 2
    # The reporter sees its own report as typed.
    own = client.get(url, headers=as_header(citizen)).json()
    assert MOBILE in own["description"]


def test_a_citizen_reads_the_public_history_and_its_own_entries(
    client: TestClient, make_principal: MakePrincipal
) -> None:
    citizen = make_principal("citizen", username="citizen-chen")
    case = _returned_case(client, make_principal, citizen)
    log = client.get(f"/api/v1/cases/{case['id']}/log", headers=as_header(citizen)).json()
    token = access_token(case["code"], client.app.state.settings.secret_key)  # type: ignore[attr-defined]
    public = client.get(f"/api/v1/public/cases/{case['code']}", params={"t": token}).json()["history"]
    assert (
        [e["action"] for e in log]
        == [e["action"] for e in public]
        == ["create", "file", "dispatch", "return"]
    )
    mine, *staff = log
    assert mine["actor_name"] == "citizen-chen"
    text = " ".join(_strings(staff))
    for secret in ("op-wang", "disp-li", "cgj-zhao", "内部", "不属于本单位", LANDLINE, MOBILE):
        assert secret not in text, secret
    assert all(e["note"] is None and e["data"] == {} and e["attachments"] == [] for e in staff)
    # Staff still read the whole log.
    full = client.get(
        f"/api/v1/cases/{case['id']}/log", headers=as_header(make_principal("dispatcher"))
    ).json()
    assert [e["actor_name"] for e in full][1:] == ["op-wang", "disp-li", "cgj-zhao"]
    assert full[2]["note"] == "内部：优先处理"
