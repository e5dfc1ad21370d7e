"""Counters of what intake ignored on purpose (stale or replayed webhooks, repeated messages)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cityops.intake.models import IntakeCounter


def bump(session: Session, counts: Mapping[str, int]) -> None:
    """Add to named counters in the caller's transaction (one upsert per name)."""
    table = IntakeCounter.metadata.tables[IntakeCounter.__tablename__]
    for name, n in counts.items():
        if n <= 0:
            continue
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(table).values(name=name, value=n)
        stmt = stmt.on_conflict_do_update(index_elements=["name"], set_={"value": table.c.value + n})
        session.execute(stmt)


def read(session: Session, prefix: str = "") -> dict[str, int]:
    rows = session.execute(
        select(IntakeCounter.name, IntakeCounter.value).where(IntakeCounter.name.startswith(prefix))
    )
    return {name: int(value) for name, value in rows}
