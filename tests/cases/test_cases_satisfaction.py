"""Callback and satisfaction (回访·评价, issue 8 item 24): after closing the reporter is asked to
rate the result through an unguessable link (SMS through the outbox, an in-app message), may rate
signed in, operators record phone callbacks, a dissatisfied rating can reopen the case, and the
ratings are kept per closing for evaluation to count."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service
from cityops.cases.models import Case, CaseSatisfaction
from cityops.cases.queries import log_of
from cityops.cases.schemas import ActionInput, CaseCreate
from cityops.config import get_settings
from cityops.db import utcnow
from cityops.errors import Conflict
from cityops.outbox import sms
from cityops.outbox.models import Notification, OutboxMessage
from cityops.outbox.service import deliver_pending

from .conftest import GARBAGE, IN_B, IN_C, as_header

MakePrincipal = Callable[..., Principal]
PHONE = "13912345678"


class Actors:
    def __init__(self, make: MakePrincipal) -> None:
        self.citizen = make("citizen")
        self.operator = make("operator")
        self.dispatcher = make("dispatcher")
        self.handler = make("handler", department_code="CGJ")
        self.inspector = make("inspector")


@pytest.fixture
def actors(make_principal: MakePrincipal) -> Actors:
    return Actors(make_principal)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def act(session: Session, who: Principal, case: Case, action: str, **body: object) -> Case:
    return service.perform_action(session, who, case.id, action, ActionInput(**body))  # type: ignore[arg-type]


def closed_case(session: Session, actors: Actors, point: tuple[float, float] = IN_B, **kw: object) -> Case:
    data = CaseCreate(
        description="路边有一堆垃圾",
        lon=point[0],
        lat=point[1],
        category_code=GARBAGE,
        reporter_phone=PHONE,
        **kw,
    )  # type: ignore[arg-type]
    case = service.create_case(session, actors.citizen, data)
    act(session, actors.operator, case, "file")
    act(session, actors.dispatcher, case, "dispatch", department_code="CGJ")
    act(session, actors.handler, case, "accept")
    act(session, actors.handler, case, "handle", note="已清理")
    act(session, actors.inspector, case, "verify", passed=True)
    act(session, actors.dispatcher, case, "close")
    return case


def rating_token(session: Session, case: Case) -> str:
    message = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.topic == "case.closed")
        .order_by(OutboxMessage.created_at.desc())
    ).first()
    assert message is not None and message.payload["case_id"] == str(case.id)
    match = re.search(r"/p/rate/([A-Za-z0-9_-]+)$", message.payload["rating_url"])
    assert match is not None
    return match.group(1)


def test_closing_asks_the_reporter_with_an_unguessable_link(session: Session, actors: Actors) -> None:
    case = closed_case(session, actors)
    message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "case.closed")).one()
    assert message.recipients == [f"user:{actors.citizen.id}", f"sms:{PHONE}"]
    token = rating_token(session, case)
    assert len(token) >= 40
    assert token in message.payload["sms_text"] and case.code in message.payload["sms_text"]
    row = session.scalars(select(CaseSatisfaction).where(CaseSatisfaction.case_id == case.id)).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only the hash is stored
    assert row.department_code == "CGJ" and row.result is None
    assert row.expires_at - row.requested_at == timedelta(days=7)
    close_row = log_of(session, case.id)[-1]
    assert token not in str(close_row.data) and close_row.data["rating_requested"] is True


def test_the_sms_goes_through_the_outbox_and_the_default_only_logs(session: Session, actors: Actors) -> None:
    logging_sms = sms.LoggingSms()
    previous = sms.use_sender(logging_sms)
    try:
        case = closed_case(session, actors)
        token = rating_token(session, case)
        deliver_pending(session)
    finally:
        sms.use_sender(previous)
    assert len(logging_sms.sent) == 1
    phone, text = logging_sms.sent[0]
    assert phone == "139****5678" and case.code in text
    assert token not in text and token[:6] in text  # the log holds no working link
    # The signed-in reporter gets the link as an in-app message; nobody gets one per phone number.
    notes = list(session.scalars(select(Notification).where(Notification.topic == "case.closed")))
    assert [n.recipient for n in notes] == [f"user:{actors.citizen.id}"]
    assert "请评价" in notes[0].title and notes[0].payload["rating_url"].endswith(token)


def test_rating_through_the_link(client: TestClient, session: Session, actors: Actors) -> None:
    case = closed_case(session, actors)
    token = rating_token(session, case)
    session.commit()
    page = client.get(f"/p/rate/{token}")
    assert page.status_code == 200 and 'value="basically_satisfied"' in page.text and "基本满意" in page.text
    r = client.post(
        f"/api/v1/public/ratings/{token}", json={"satisfaction": "satisfied", "comment": "很及时"}
    )
    assert r.status_code == 200 and r.json()["satisfaction"] == "satisfied" and r.json()["code"] == case.code
    again = client.post(f"/api/v1/public/ratings/{token}", json={"satisfaction": "dissatisfied"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_rated"
    wrong = client.post(f"/api/v1/public/ratings/{'x' * 43}", json={"satisfaction": "satisfied"})
    assert wrong.status_code == 404
    bad = client.post(f"/api/v1/public/ratings/{token}", json={"satisfaction": "great"})
    assert bad.status_code == 422
    view = client.get(f"/api/v1/cases/{case.id}", headers=as_header(actors.operator)).json()
    assert view["state"] == "closed"
    assert view["satisfaction"]["result"] == "satisfied" and view["satisfaction"]["result_name"] == "满意"
    assert view["satisfaction"]["channel"] == "link"
    from cityops.cases.public import access_token

    t = access_token(case.code, client.app.state.settings.secret_key)  # type: ignore[attr-defined]
    public = client.get(f"/p/cases/{case.code}?t={t}")
    assert "上报人评价" in public.text and "满意" in public.text
    assert client.get(f"/api/v1/public/cases/{case.code}?t={t}").json()["satisfaction"] == "satisfied"
    assert "satisfaction" not in client.get(f"/api/v1/public/cases/{case.code}").json() or (
        client.get(f"/api/v1/public/cases/{case.code}").json()["satisfaction"] is None
    )  # the code alone shows only the state
    log = client.get(f"/api/v1/cases/{case.id}/log", headers=as_header(actors.operator)).json()
    assert log[-1]["action"] == "rate" and log[-1]["note"] == "很及时"


def test_the_rating_form_page(client: TestClient, session: Session, actors: Actors) -> None:
    case = closed_case(session, actors)
    token = rating_token(session, case)
    session.commit()
    page = client.get(f"/p/rate/{token}")
    assert page.headers["cache-control"] == "no-store"
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match is not None
    csrf = match.group(1)
    no_csrf = client.post(f"/p/rate/{token}", data={"satisfaction": "satisfied"})  # no token field
    assert no_csrf.status_code == 403
    r = client.post(f"/p/rate/{token}", data={"satisfaction": "great", "csrf_token": csrf})
    assert r.status_code == 422 and "满意度必须是" in r.text
    r = client.post(
        f"/p/rate/{token}",
        data={"satisfaction": "basically_satisfied", "comment": "还行", "csrf_token": csrf},
    )
    assert r.status_code == 200 and "感谢您的评价" in r.text and "基本满意" in r.text
    r = client.post(f"/p/rate/{token}", data={"satisfaction": "satisfied", "csrf_token": csrf})
    assert r.status_code == 409 and "已评价过" in r.text


def test_dissatisfied_reopens_the_case(session: Session, actors: Actors) -> None:
    case = closed_case(session, actors)
    view = service.rate_by_token(session, rating_token(session, case), "dissatisfied", "垃圾还在")
    assert view.reopened and case.state == "dispatched" and case.reopened_count == 1
    assert case.department_code == "CGJ" and case.deadline is not None
    assert case.satisfaction == "dissatisfied"  # why it was reopened stays visible
    row = log_of(session, case.id)[-1]
    assert (row.action, row.from_state, row.to_state) == ("rate", "closed", "dispatched")
    assert row.data["reopens"] is True
    told = session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "case.rated_dissatisfied")
    ).one()
    assert told.recipients == ["role:dispatcher", "department:CGJ"]
    # The next closing is a new round with a new link; the old link no longer works.
    act(session, actors.handler, case, "accept")
    act(session, actors.handler, case, "handle", note="彻底清理")
    act(session, actors.inspector, case, "verify", passed=True)
    act(session, actors.dispatcher, case, "close")
    assert case.satisfaction is None
    rounds = session.scalars(select(CaseSatisfaction).where(CaseSatisfaction.case_id == case.id)).all()
    assert sorted(r.round for r in rounds) == [0, 1]


def test_dissatisfied_without_reopening_by_setting(
    session: Session, actors: Actors, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("CITYOPS_DISSATISFIED_REOPENS", "false")
    get_settings.cache_clear()
    case = closed_case(session, actors)
    view = service.rate_by_token(session, rating_token(session, case), "dissatisfied", None)
    assert not view.reopened and case.state == "closed" and case.satisfaction == "dissatisfied"
    assert log_of(session, case.id)[-1].data["reopens"] is False


def test_an_expired_link_is_refused(session: Session, actors: Actors) -> None:
    case = closed_case(session, actors)
    token = rating_token(session, case)
    with pytest.raises(Conflict) as err:
        service.rate_by_token(session, token, "satisfied", None, now=utcnow() + timedelta(days=8))
    assert err.value.code == "rating_expired"


def test_the_signed_in_reporter_rates(session: Session, actors: Actors) -> None:
    case = closed_case(session, actors)
    shown = service.get_case(session, actors.citizen, case.id)
    from cityops.cases.views import view_case

    assert "rate" in view_case(session, actors.citizen, shown).allowed_actions
    act(session, actors.citizen, case, "rate", satisfaction="satisfied", note="谢谢")
    assert case.satisfaction == "satisfied" and case.satisfaction_channel == "app"
    assert "rate" not in view_case(session, actors.citizen, case).allowed_actions


def test_phone_callbacks(client: TestClient, session: Session, actors: Actors) -> None:
    case = closed_case(session, actors)
    session.commit()
    url = f"/api/v1/cases/{case.id}/callback"
    r = client.post(url, json={"reached": False, "note": "无人接听"}, headers=as_header(actors.operator))
    assert r.status_code == 200 and r.json()["satisfaction"] is None
    r = client.post(
        url, json={"reached": False, "satisfaction": "satisfied"}, headers=as_header(actors.operator)
    )
    assert r.status_code == 422
    r = client.post(
        url,
        json={"satisfaction": "basically_satisfied", "note": "市民表示基本满意"},
        headers=as_header(actors.operator),
    )
    assert r.status_code == 200
    assert (
        r.json()["satisfaction"]["result"] == "basically_satisfied"
        and r.json()["satisfaction"]["channel"] == "phone"
    )
    assert client.post(url, json={"note": "x"}, headers=as_header(actors.handler)).status_code == 403
    detail = client.get(f"/api/v1/cases/{case.id}/satisfaction", headers=as_header(actors.dispatcher)).json()
    assert [c["reached"] for c in detail["callbacks"]] == [False, True]
    assert (
        detail["rounds"][0]["result"] == "basically_satisfied"
        and detail["rounds"][0]["result_name"] == "基本满意"
    )
    # The reporter cannot rate a closing that is already rated on the phone.
    token = rating_token(session, case)
    r = client.post(f"/api/v1/public/ratings/{token}", json={"satisfaction": "dissatisfied"})
    assert r.status_code == 409


def test_satisfaction_counts_for_evaluation(session: Session, actors: Actors) -> None:
    start = utcnow() - timedelta(hours=1)
    results = ["satisfied", "satisfied", "basically_satisfied", "dissatisfied"]
    for i, result in enumerate(results):
        case = closed_case(session, actors, IN_C if i == 3 else IN_B)
        service.rate_by_token(session, rating_token(session, case), result, None)
    closed_case(session, actors)  # asked, never rated: not counted
    end = utcnow() + timedelta(hours=1)
    (total,) = service.satisfaction_counts(session, start, end, by="none")
    assert (total.satisfied, total.basically_satisfied, total.dissatisfied, total.rated) == (2, 1, 1, 4)
    assert total.rate == 0.75
    by_street = {c.key: c for c in service.satisfaction_counts(session, start, end, by="street")}
    assert by_street["330105001"].rated == 3 and by_street["330105002"].dissatisfied == 1
    assert [c.key for c in service.satisfaction_counts(session, start, end, by="department")] == ["CGJ"]
    assert service.satisfaction_counts(session, end, end + timedelta(days=1)) == []
    only = service.satisfaction_counts(session, start, end, by="none", street_code="330105002")
    assert only[0].rated == 1
