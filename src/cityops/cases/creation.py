"""Writing a new case and its first log row: creation is the hot path (≥ 1,000/s over HTTP).

The ORM unit of work costs more than the SQL here, so rows are written with prepared Core
statements and the object is then attached to the session as already persistent.

* PostgreSQL: **one statement** allocates the code from the day's sequence, inserts the case and
  its first log row (data-modifying CTEs). One statement is atomic on its own, which is why the
  HTTP handler may run a creation without a transaction (``web.deps.single_statement_session``): one round
  trip instead of five (BEGIN, nextval, two INSERTs, COMMIT).
* Other engines (SQLite): the code counter upsert, then two INSERTs, in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, String, TextualSelect, Uuid, bindparam, insert, text
from sqlalchemy.orm import Session, make_transient_to_detached

from cityops.accounts.principal import Principal
from cityops.cases import journal
from cityops.cases.codes import code_prefix_and_sequence, next_code
from cityops.cases.models import Case, CaseLog

CASES = Case.metadata.tables[Case.__tablename__]  # the Core table, typed as such
_CASE_COLUMNS = tuple(CASES.columns)
_CASE_DEFAULTS: dict[str, Any] = {
    c.key: c.default.arg  # type: ignore[attr-defined,union-attr,unused-ignore]
    for c in _CASE_COLUMNS
    if c.default is not None and c.default.is_scalar
}
# What a creation sets; every other column gets its constant default or NULL.
_GIVEN = (
    "id", "state", "category_code", "description", "address", "lon", "lat", "location_approximate",
    "grid_code", "community_code", "street_code", "grade", "department_code", "source",
    "reporter_user_id", "reporter_name", "reporter_phone", "created_by_id", "idempotency_key",
    "created_at", "updated_at",
)  # fmt: skip
_FIRST_SEQ = 1


def insert_new_case(
    session: Session, case: Case, principal: Principal, now: datetime, details: dict[str, Any]
) -> None:
    """Write ``case`` (its code is allocated here) and its first log row; attach the object."""
    for name, value in _CASE_DEFAULTS.items():
        if getattr(case, name) is None:
            setattr(case, name, value)
    # Columns never set would be "unloaded" on the detached object and reloaded by a SELECT
    # on first access; the insert writes NULL for them, so say so on the object too.
    loaded = case.__dict__
    for column in _CASE_COLUMNS:
        if column.key not in loaded:
            setattr(case, column.key, None)
    case.last_seq = _FIRST_SEQ
    if session.get_bind().dialect.name == "postgresql":
        prefix, sequence = code_prefix_and_sequence(session, now)
        params = {name: getattr(case, name) for name in _GIVEN}
        params.update(
            code_prefix=prefix,
            code_sequence=sequence,
            actor_id=principal.id,
            actor_name=principal.username,
            actor_role=principal.role,
            log_data=details,
        )
        case.code = session.execute(_one_statement(), params).scalar_one()
    else:
        case.code = next_code(session, now)
        # NULL columns are left out: the database writes NULL for them anyway, and psycopg caches
        # the parsing of statements with at most 50 parameters, which the full list exceeds.
        values = {c.key: getattr(case, c.key) for c in _CASE_COLUMNS}
        session.execute(insert(CASES), {k: v for k, v in values.items() if v is not None})
        journal.insert_first(session, case, principal, "create", case.state, at=now, data=details)
    make_transient_to_detached(case)
    session.add(case)


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


@cache
def _one_statement() -> TextualSelect:
    """The PostgreSQL creation statement, built once (psycopg then prepares it server-side)."""
    defaults = {k: v for k, v in _CASE_DEFAULTS.items() if k not in _GIVEN and k != "code"}
    defaults["last_seq"] = _FIRST_SEQ
    columns = ["code", *_GIVEN, *defaults]
    # At least five digits, more when a day ever has more than 99,999 cases (as format_code).
    code = "CAST(:code_prefix AS text) || lpad(n.v::text, greatest(5, length(n.v::text)), '0')"
    values = [code, *(f":{name}" for name in _GIVEN), *(_sql_literal(v) for v in defaults.values())]
    log = CaseLog.__tablename__
    sql = f"""
WITH n AS (SELECT nextval(CAST(:code_sequence AS regclass)) AS v),
new_case AS (
    INSERT INTO {CASES.name} ({", ".join(columns)})
    SELECT {", ".join(values)} FROM n
    RETURNING id, code
),
first_log AS (
    INSERT INTO {log} (case_id, seq, at, actor_id, actor_name, actor_role, action, from_state,
                       to_state, note, attachments, data)
    SELECT new_case.id, {_FIRST_SEQ}, :created_at, :actor_id, :actor_name, :actor_role, 'create',
           NULL, :state, NULL, CAST('[]' AS json), :log_data
    FROM new_case
)
SELECT code FROM new_case"""
    types = {c.key: c.type for c in _CASE_COLUMNS if c.key in _GIVEN}
    return (
        text(sql)
        .bindparams(
            *(bindparam(name, type_=types[name]) for name in _GIVEN),
            bindparam("code_prefix", type_=String()),
            bindparam("code_sequence", type_=String()),
            bindparam("actor_id", type_=Uuid()),
            bindparam("actor_name", type_=String()),
            bindparam("actor_role", type_=String()),
            bindparam("log_data", type_=JSON()),
        )
        .columns(code=String())
    )
