"""cases.record.read_case answers exactly as the ORM read does: same rows, same values, same scope."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service
from cityops.cases.models import Case
from cityops.cases.record import read_case
from cityops.cases.schemas import ActionInput
from cityops.errors import NotFound

from .conftest import COVER, GARBAGE, IN_B, IN_C, STREET, STREET2
from .test_cases_scoping import dispatched, report

MakePrincipal = Callable[..., Principal]
COLUMNS = [c.key for c in Case.__table__.columns]


def _same(session: Session, who: Principal, case: Case) -> None:
    for ref in (case.id, str(case.id), case.code):
        record = read_case(session, who, ref)
        orm = service.get_case(session, who, ref)
        session.refresh(orm)  # the values as stored, not as held in memory
        for key in COLUMNS:
            assert getattr(record, key) == getattr(orm, key), key
            assert type(getattr(record, key)) is type(getattr(orm, key)), key


def test_every_column_reads_back_as_through_the_orm(session: Session, make_principal: MakePrincipal) -> None:
    citizen = make_principal("citizen")
    case = report(session, citizen)
    service.perform_action(session, make_principal("operator"), case.id, "file", ActionInput(note="立案"))
    service.perform_action(session, make_principal("dispatcher"), case.id, "dispatch", ActionInput())
    session.flush()
    _same(session, citizen, case)  # reporter id, datetimes, deadline, booleans, floats, grade
    _same(session, make_principal("dispatcher"), case)
    _same(session, make_principal("handler", department_code=case.department_code), case)
    _same(session, make_principal("inspector", area_code=STREET), case)


@pytest.mark.parametrize(
    "who",
    [
        {"role": "citizen"},  # someone else's report
        {"role": "handler", "department_code": "SW"},  # another department
        {"role": "handler"},  # a handler without a department sees nothing
        {"role": "inspector", "area_code": STREET2},  # another street
        {"role": "nobody"},
    ],
)
def test_outside_the_scope_is_not_found(session: Session, make_principal: MakePrincipal, who: dict) -> None:
    garbage = dispatched(session, make_principal, IN_B, GARBAGE)
    session.flush()
    principal = make_principal(**who)
    for ref in (garbage.id, garbage.code):
        with pytest.raises(NotFound):
            read_case(session, principal, ref)
        with pytest.raises(NotFound):
            service.get_case(session, principal, ref)


def test_by_code_for_the_department_and_unknown_refs(session: Session, make_principal: MakePrincipal) -> None:
    cover = dispatched(session, make_principal, IN_C, COVER)
    session.flush()
    water = make_principal("handler", department_code=cover.department_code)
    assert read_case(session, water, cover.code).id == cover.id
    for ref in ("not-a-ref", str(uuid.uuid4()), "GS20990101-99999"):
        with pytest.raises(NotFound):
            read_case(session, make_principal("admin"), ref)


def test_driver_errors_surface_as_sqlalchemy_errors(tmp_path: object, make_principal: MakePrincipal) -> None:
    """A failing query raises SQLAlchemy's error type, which the API answers with 503, not 500."""
    from sqlalchemy.exc import OperationalError

    from cityops.db import make_engine, make_sessionmaker

    engine = make_engine("sqlite://")  # no tables at all
    with make_sessionmaker(engine)() as empty, pytest.raises(OperationalError, match="no such table"):
        read_case(empty, make_principal("admin"), uuid.uuid4())


def test_the_scope_shape_decides_the_sql() -> None:
    """read_case caches one compiled statement per shape: callers of one shape must share SQL.

    Fails if scope_condition gains a branch that _scope_shape does not name.
    """
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite

    from cityops.accounts.principal import ROLE_LABELS
    from cityops.cases.queries import _ref_condition, _scope_shape, scope_condition

    compiled: dict[tuple[str, str], set[str]] = {}
    for role in [*ROLE_LABELS, "nobody"]:
        for department in (None, "D1", "D2"):
            for area in (None, "330105001", "330105002001"):
                who = Principal(uuid.uuid4(), "u", role, department_code=department, area_code=area)
                statement = select(Case.id).where(_ref_condition(uuid.uuid4()), scope_condition(who))
                for dialect in (postgresql.dialect(), sqlite.dialect()):
                    key = (dialect.name, _scope_shape(who))
                    compiled.setdefault(key, set()).add(str(statement.compile(dialect=dialect)))
    assert all(len(sql) == 1 for sql in compiled.values()), compiled
    assert {shape for _, shape in compiled} == {"citizen", "department", "area", "district", "nothing"}
