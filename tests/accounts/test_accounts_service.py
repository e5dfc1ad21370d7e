"""Account operations: creation rules, sign-in rules, bulk demo users, updates, the audit trail."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts import audit, passwords, service
from cityops.accounts.models import AuditEvent, User
from cityops.config import Settings, UnsafeSettings
from cityops.errors import Conflict, Invalid, Unauthorized

MakeUser = Callable[..., User]  # the conftest make_user fixture
PASSWORD = "correct-horse-1"  # the password of every conftest user


def test_create_user_hashes_and_audits(session: Session, admin: User) -> None:
    user = service.create_user(
        session, username="op1", password=PASSWORD, role="operator", actor=service.principal_for(admin)
    )
    assert user.password_hash != PASSWORD and passwords.verify_password(user.password_hash, PASSWORD)
    events = session.scalars(select(AuditEvent).where(AuditEvent.subject_id == str(user.id))).all()
    assert [(e.action, e.actor_name) for e in events] == [("user.create", "admin1")]
    assert PASSWORD not in str(events[0].details)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"role": "boss"}, "invalid_role"),
        ({"role": "handler"}, "department_required"),
        ({"role": "handler", "department_code": "NOPE"}, "unknown_department"),
        ({"role": "operator", "username": "has space"}, "invalid_username"),
        ({"role": "operator", "password": "short"}, "weak_password"),
    ],
)
def test_create_user_rejects_bad_input(session: Session, kwargs: dict[str, str], code: str) -> None:
    args = {"username": "someone", "password": PASSWORD, **kwargs}
    with pytest.raises(Invalid) as err:
        service.create_user(session, **args)  # type: ignore[arg-type]
    assert err.value.code == code


def test_username_must_be_unique(session: Session, admin: User) -> None:
    with pytest.raises(Conflict) as err:
        service.create_user(session, username="admin1", password=PASSWORD, role="operator")
    assert err.value.code == "username_taken"


def test_handler_with_department(session: Session, department: str, make_user: MakeUser) -> None:
    user = make_user("h1", "handler", department_code=department)
    assert user.department_code == department


def test_authenticate(session: Session, settings: Settings, admin: User) -> None:
    assert service.authenticate(session, "admin1", PASSWORD, settings).id == admin.id
    assert admin.last_login_at is not None
    for name, password in [("admin1", "wrong-password"), ("nobody", PASSWORD), ("admin1", "x" * 10_000)]:
        with pytest.raises(Unauthorized) as err:
            service.authenticate(session, name, password, settings)
        assert err.value.code == "invalid_credentials"


def test_inactive_user_cannot_sign_in(
    session: Session, settings: Settings, admin: User, make_user: MakeUser
) -> None:
    user = make_user("op9", "operator")
    service.update_user(session, user.id, {"active": False})
    with pytest.raises(Unauthorized) as err:
        service.authenticate(session, "op9", PASSWORD, settings)
    assert err.value.code == "invalid_credentials"  # not revealed as "disabled"


def test_demo_account_only_in_demo_mode(session: Session, settings: Settings, make_user: MakeUser) -> None:
    make_user("demo-leader", "leader", is_demo=True)
    with pytest.raises(Unauthorized) as err:
        service.authenticate(session, "demo-leader", PASSWORD, settings)
    assert err.value.code == "demo_account_disabled"
    demo_settings = settings.model_copy(update={"demo_mode": True})
    assert service.authenticate(session, "demo-leader", PASSWORD, demo_settings).username == "demo-leader"


def test_server_refuses_demo_accounts_outside_demo_mode(
    session: Session, settings: Settings, make_user: MakeUser
) -> None:
    service.assert_no_demo_accounts_outside_demo(session, settings)  # none yet: fine
    demo = make_user("demo-op", "operator", is_demo=True)
    with pytest.raises(UnsafeSettings) as err:
        service.assert_no_demo_accounts_outside_demo(session, settings)
    assert "CITYOPS_DEMO_MODE" in str(err.value) and "演示" in str(err.value)
    service.assert_no_demo_accounts_outside_demo(session, settings.model_copy(update={"demo_mode": True}))
    service.update_user(session, demo.id, {"active": False})
    service.assert_no_demo_accounts_outside_demo(session, settings)  # disabled demo accounts are harmless


def test_bulk_demo_users_hash_the_shared_password_once(
    session: Session, settings: Settings, department: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = passwords.hash_password("demo-password")
    hashed: list[str] = []
    real_hash = passwords.hash_password
    monkeypatch.setattr(passwords, "hash_password", lambda p: hashed.append(p) or real_hash(p))
    rows = [
        {
            "username": f"demo{i:02d}",
            "role": "handler" if i % 2 else "inspector",
            "display_name": f"演示{i}",
            "department_code": department if i % 2 else None,
        }
        for i in range(50)
    ]
    users = service.create_users_bulk(session, rows, shared)
    session.commit()
    assert len(users) == 50 and all(u.is_demo for u in users)
    assert hashed == []  # the shared hash was reused, not recomputed 50 times
    assert len({u.password_hash for u in users}) == 1
    demo = settings.model_copy(update={"demo_mode": True})
    assert service.authenticate(session, "demo07", "demo-password", demo).role == "handler"


def test_bulk_refuses_plain_password_and_duplicates(session: Session, admin: User) -> None:
    with pytest.raises(Invalid):  # a plain password for real accounts still meets the policy
        service.create_users_bulk(session, [{"username": "a1", "role": "citizen", "is_demo": False}], "short")
    shared = passwords.hash_password("demo-password")
    with pytest.raises(Conflict):
        service.create_users_bulk(session, [{"username": "a1", "role": "citizen"}] * 2, shared)
    with pytest.raises(Conflict):
        service.create_users_bulk(session, [{"username": "admin1", "role": "citizen"}], shared)


def test_update_user_password_reset_and_audit(
    session: Session, settings: Settings, admin: User, make_user: MakeUser
) -> None:
    user = make_user("op3", "operator", phone="13812345678")
    version = user.token_version
    service.update_user(
        session,
        user.id,
        {"password": "brand-new-password", "phone": "13900000000"},
        actor=service.principal_for(admin),
        request_id="r-42",
    )
    assert user.token_version == version + 1
    assert service.authenticate(session, "op3", "brand-new-password", settings).id == user.id
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.update")).all()
    assert event.details == {"changed": ["password", "phone"]}  # no password, no phone number
    assert event.request_id == "r-42"


def test_update_user_rejects_unknown_and_null_fields(session: Session, admin: User) -> None:
    with pytest.raises(Invalid):
        service.update_user(session, admin.id, {"username": "x"})
    with pytest.raises(Invalid):
        service.update_user(session, admin.id, {"active": None})


def test_last_admin_cannot_be_demoted_or_disabled(session: Session, admin: User, make_user: MakeUser) -> None:
    for change in ({"role": "leader"}, {"active": False}):
        with pytest.raises(Conflict) as err:
            service.update_user(session, admin.id, change)
        assert err.value.code == "last_admin"
    make_user("admin2", "admin")
    service.update_user(session, admin.id, {"role": "leader"})
    assert admin.role == "leader"


def test_audit_record_and_filters(session: Session, admin: User) -> None:
    actor = service.principal_for(admin)
    audit.record(session, actor, "case.dispatch", "case", "C-1", {"to": "D-CG"})
    audit.record(session, None, "case.report", "case", "C-2")
    session.flush()
    events, total = audit.list_events(session, subject_type="case")
    assert total == 2 and {e.subject_id for e in events} == {"C-1", "C-2"}
    events, total = audit.list_events(session, actor="anonymous", subject_type="case")
    assert [e.subject_id for e in events] == ["C-2"]
    events, _ = audit.list_events(session, actor=str(admin.id), subject_type="case")
    assert [e.action for e in events] == ["case.dispatch"]
    with pytest.raises(Invalid):
        audit.list_events(session, limit=0)


def test_bulk_accepts_a_plain_shared_password(session: Session, settings: Settings) -> None:
    (user,) = service.create_users_bulk(session, [{"username": "demo-x", "role": "leader"}], "demo")
    assert passwords.is_password_hash(user.password_hash)
    demo = settings.model_copy(update={"demo_mode": True})
    assert service.authenticate(session, "demo-x", "demo", demo).id == user.id
