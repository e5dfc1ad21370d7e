"""Bearer tokens: round trip, expiry, tampering, revocation, and no DB read on a cache hit."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from cityops.accounts import service, tokens
from cityops.accounts.models import User
from cityops.areas.models import Area
from cityops.config import Settings
from cityops.errors import Unauthorized

MakeUser = Callable[..., User]  # the conftest make_user fixture


def _claims(user: User) -> tokens.TokenClaims:
    return tokens.TokenClaims(
        user_id=user.id,
        username=user.username,
        role=user.role,
        department_code=user.department_code,
        area_code=user.area_code,
        version=user.token_version,
    )


def test_round_trip_carries_role_and_scope(
    session: Session, settings: Settings, department: str, make_user: MakeUser
) -> None:
    session.add_all(
        [
            Area(code="330105", name="拱墅区", level="district"),
            Area(code="330105001", name="米市巷街道", level="street", parent_code="330105"),
        ]
    )
    session.commit()  # a user's area must exist
    user = make_user("handler1", "handler", department_code=department, area_code="330105001")
    token = service.issue_token(user, settings)
    principal = service.principal_from_token(session, token, settings)
    assert principal.id == user.id
    assert principal.username == "handler1"
    assert principal.role == "handler"
    assert principal.department_code == department
    assert principal.area_code == "330105001"


def test_expired_token(session: Session, settings: Settings, admin: User) -> None:
    old = int(time.time()) - settings.token_ttl_seconds - 5
    token = tokens.encode(_claims(admin), settings, issued_at=old)
    with pytest.raises(Unauthorized) as err:
        service.principal_from_token(session, token, settings)
    assert err.value.code == "token_expired"
    assert "重新登录" in err.value.message and "sign in again" in err.value.message


def test_token_just_inside_its_lifetime_still_works(
    session: Session, settings: Settings, admin: User
) -> None:
    recent = int(time.time()) - settings.token_ttl_seconds + 60
    token = tokens.encode(_claims(admin), settings, issued_at=recent)
    assert service.principal_from_token(session, token, settings).id == admin.id


@pytest.mark.parametrize("mangle", ["payload", "signature", "garbage"])
def test_tampered_token(session: Session, settings: Settings, admin: User, mangle: str) -> None:
    token = service.issue_token(admin, settings)
    payload, ts, sig = token.rsplit(".", 2)  # a compressed payload starts with "."
    if mangle == "payload":
        # Same signature, payload claiming another role: must not verify.
        forged = tokens._serializer("attacker-key").dumps({"u": str(admin.id), "r": "admin"})
        token = forged.split(".")[0] + f".{ts}.{sig}"
    elif mangle == "signature":
        token = f"{payload}.{ts}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}"
    else:
        token = "not-a-token"
    with pytest.raises(Unauthorized) as err:
        service.principal_from_token(session, token, settings)
    assert err.value.code == "invalid_token"


def test_token_signed_with_another_secret(session: Session, settings: Settings, admin: User) -> None:
    other = settings.model_copy(update={"secret_key": "another-secret-key-0123456789"})
    token = service.issue_token(admin, other)
    with pytest.raises(Unauthorized) as err:
        service.principal_from_token(session, token, settings)
    assert err.value.code == "invalid_token"


def test_role_change_revokes_old_tokens(
    session: Session, settings: Settings, admin: User, make_user: MakeUser
) -> None:
    user = make_user("op1", "operator")
    token = service.issue_token(user, settings)
    assert service.principal_from_token(session, token, settings).role == "operator"  # now cached
    service.update_user(session, user.id, {"role": "leader"}, actor=service.principal_for(admin))
    session.commit()
    with pytest.raises(Unauthorized) as err:
        service.principal_from_token(session, token, settings)
    assert err.value.code == "token_revoked"
    fresh = service.issue_token(user, settings)
    assert service.principal_from_token(session, fresh, settings).role == "leader"


def test_deactivated_user_is_refused(
    session: Session, settings: Settings, admin: User, make_user: MakeUser
) -> None:
    user = make_user("op2", "operator")
    token = service.issue_token(user, settings)
    service.update_user(session, user.id, {"active": False}, actor=service.principal_for(admin))
    session.commit()
    with pytest.raises(Unauthorized) as err:
        service.principal_from_token(session, token, settings)
    assert err.value.code == "token_revoked"


def test_deleted_user_token_is_invalid(session: Session, settings: Settings, make_user: MakeUser) -> None:
    user = make_user("gone", "citizen")
    token = service.issue_token(user, settings)
    session.delete(user)
    session.commit()
    with pytest.raises(Unauthorized) as err:
        service.principal_from_token(session, token, settings)
    assert err.value.code == "invalid_token"


def test_demo_token_refused_outside_demo_mode(session: Session, settings: Settings) -> None:
    demo = service.create_user(
        session, username="demo1", password="demo-password", role="leader", is_demo=True
    )
    session.commit()
    token = service.issue_token(demo, settings.model_copy(update={"demo_mode": True}))
    with pytest.raises(Unauthorized) as err:
        service.principal_from_token(session, token, settings)
    assert err.value.code == "demo_account_disabled"


def test_cache_hit_needs_no_query(session: Session, settings: Settings, engine: Engine, admin: User) -> None:
    token = service.issue_token(admin, settings)
    service.principal_from_token(session, token, settings)  # miss: one primary-key read
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(20):
            service.principal_from_token(session, token, settings)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []


def test_state_cached_before_commit_is_dropped_at_commit(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    # Two connections (a file database or PostgreSQL), so the reader really does not see the
    # uncommitted write.
    with factory() as setup:
        admin = service.create_user(setup, username="admin1", password="admin-password", role="admin")
        user = service.create_user(setup, username="op5", password="op-password", role="operator")
        setup.commit()
    token = service.issue_token(user, settings)
    writer, reader = factory(), factory()
    service.update_user(writer, user.id, {"active": False}, actor=service.principal_for(admin))
    # A concurrent request still sees the committed "active" row and caches it...
    assert service.principal_from_token(reader, token, settings).id == user.id
    reader.close()
    writer.commit()  # ...and the commit drops that stale entry.
    writer.close()
    with factory() as later, pytest.raises(Unauthorized):
        service.principal_from_token(later, token, settings)


def test_a_remembered_token_still_expires_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses
    import time as time_module
    import uuid as uuid_module

    from cityops.accounts import tokens as tokens_module
    from cityops.config import Settings as CitySettings
    from cityops.errors import Unauthorized as CityUnauthorized

    settings = CitySettings(secret_key="x" * 32, token_ttl_seconds=60)
    claims = tokens_module.TokenClaims(
        user_id=uuid_module.uuid4(),
        username="u",
        role="operator",
        department_code=None,
        area_code=None,
        version=0,
        is_demo=False,
    )
    token = tokens_module.encode(claims, settings, issued_at=int(time_module.time()) - 50)
    decoded = tokens_module.decode(token, settings)  # verified and remembered
    assert decoded.token_id and int(decoded.issued_at) == int(time_module.time()) - 50
    assert dataclasses.replace(decoded, token_id=None, issued_at=0.0) == claims
    assert tokens_module.decode(token, settings) == decoded  # from memory
    real_time = time_module.time
    monkeypatch.setattr(tokens_module.time, "time", lambda: real_time() + 20)
    with pytest.raises(CityUnauthorized) as info:
        tokens_module.decode(token, settings)
    assert info.value.code == "token_expired"
