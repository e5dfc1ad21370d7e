"""Validation gaps of accounts (issue 8 item 12): a user's area must exist, and the user search
treats % and _ as the characters they are."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from cityops.accounts import service
from cityops.accounts.models import User
from cityops.areas.models import Area
from cityops.errors import Invalid

PASSWORD = "correct-horse-1"


@pytest.fixture
def street(session: Session) -> str:
    session.add_all(
        [
            Area(code="330105", name="拱墅区", level="district"),
            Area(code="330105005", name="拱宸桥街道", level="street", parent_code="330105"),
        ]
    )
    session.commit()
    return "330105005"


def test_a_user_area_must_be_an_existing_area(session: Session, street: str) -> None:
    user = service.create_user(session, username="op-s", password=PASSWORD, role="operator", area_code=street)
    assert user.area_code == street
    with pytest.raises(Invalid) as bad:
        service.create_user(
            session, username="op-x", password=PASSWORD, role="operator", area_code="anything"
        )
    assert bad.value.code == "unknown_area" and bad.value.details["field"] == "area_code"
    with pytest.raises(Invalid) as bad:
        service.update_user(session, user.id, {"area_code": "330105999"})
    assert bad.value.code == "unknown_area"
    assert service.update_user(session, user.id, {"area_code": None}).area_code is None
    with pytest.raises(Invalid):
        service.create_users_bulk(
            session, [{"username": "op-b", "role": "operator", "area_code": "330105999"}], "demo"
        )


def test_percent_and_underscore_in_the_search_match_only_themselves(
    session: Session, make_user: Callable[..., User]
) -> None:
    make_user("zhang_san", "operator", display_name="张三")
    make_user("zhangsan", "operator", display_name="张三丰")
    make_user("li-si", "operator", display_name="100%满意")

    def found(q: str) -> list[str]:
        return sorted(u.username for u in service.list_users(session, search=q)[0])

    assert found("%") == ["li-si"]
    assert found("_") == ["zhang_san"]
    assert found("zhang_") == ["zhang_san"]
    assert found("zhang") == ["zhang_san", "zhangsan"]
    assert found("\\") == []
