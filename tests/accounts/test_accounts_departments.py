"""Departments have one owner (accounts) and one implementation; the catalog's names call it."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from cityops.accounts import departments, service
from cityops.catalog import service as catalog
from cityops.errors import Conflict, Invalid


def test_one_implementation_behind_every_name() -> None:
    for name in ("create_department", "get_department", "list_departments", "update_department"):
        assert getattr(catalog, name) is getattr(departments, name) is getattr(service, name)


def test_create_checks_kind_blank_and_duplicate(db_session: Session) -> None:
    service.create_department(db_session, code="SWJ", name=" 区水务局 ")
    assert service.get_department(db_session, "SWJ").name == "区水务局"
    with pytest.raises(Conflict):
        catalog.create_department(db_session, code="SWJ", name="x")
    with pytest.raises(Invalid):
        service.create_department(db_session, code="X1", name="x", kind="bureau")
    with pytest.raises(Invalid):
        service.create_department(db_session, code="X2", name="  ")


def test_list_filters_and_names(db_session: Session) -> None:
    service.create_department(db_session, code="A1", name="甲")
    service.create_department(db_session, code="B1", name="乙", kind="street", active=False)
    assert [d.code for d in service.list_departments(db_session, active_only=True)] == ["A1"]
    assert [d.code for d in service.list_departments(db_session, kind="street")] == ["B1"]
    assert service.department_names(db_session, ["B1", "NONE"]) == {"B1": "乙"}
