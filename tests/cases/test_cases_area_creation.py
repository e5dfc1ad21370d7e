"""A street-scoped operator files cases only in their own street (issue 8 item 18): elsewhere
the answer is a clear 403 naming the street they may file in, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service
from cityops.cases.models import Case
from cityops.cases.schemas import CaseCreate
from cityops.errors import Forbidden

from .conftest import GARBAGE, IN_B, IN_C, STREET, STREET2, as_header

MakePrincipal = Callable[..., Principal]


def _report(point: tuple[float, float]) -> CaseCreate:
    return CaseCreate(description="路边有一堆垃圾", lon=point[0], lat=point[1], category_code=GARBAGE)


def test_street_operator_files_in_own_street(session: Session, make_principal: MakePrincipal) -> None:
    operator = make_principal("operator", area_code=STREET)
    case = service.create_case(session, operator, _report(IN_B))
    assert case.street_code == STREET
    service.get_case(session, operator, case.id)  # and can see what it filed


def test_street_operator_in_another_street_is_403(session: Session, make_principal: MakePrincipal) -> None:
    operator = make_principal("operator", area_code=STREET)
    with pytest.raises(Forbidden) as err:
        service.create_case(session, operator, _report(IN_C))
    assert err.value.code == "outside_your_area"
    assert "米市巷街道" in err.value.message and STREET in err.value.message
    assert err.value.details == {"area_code": STREET, "street_code": STREET2, "field": "lon"}
    assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_cross_street_creation_over_http(client: TestClient, make_principal: MakePrincipal) -> None:
    operator = make_principal("operator", area_code=STREET)
    r = client.post("/api/v1/cases", json=_report(IN_C).model_dump(), headers=as_header(operator))
    assert r.status_code == 403
    error = r.json()["error"]
    assert error["code"] == "outside_your_area"
    assert "只能在" in error["message"] and "may only file" in error["message"]
    # District-wide staff and citizens may report anywhere in the district.
    for who in (make_principal("operator"), make_principal("citizen")):
        assert (
            client.post("/api/v1/cases", json=_report(IN_C).model_dump(), headers=as_header(who)).status_code
            == 201
        )
