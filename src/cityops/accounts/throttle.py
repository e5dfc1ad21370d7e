"""Sign-in throttle: per account and per client address, with a delay that grows per failure.

Counters live in the database (``sign_in_throttle``), so every server process sees the same
ones. After ``ACCOUNT_FREE_FAILURES`` wrong passwords for one user name (or
``ADDRESS_FREE_FAILURES`` from one address, which may be a shared office NAT), each further
attempt must wait 2, 4, 8, … seconds after the last failure, at most ``MAX_DELAY_SECONDS``; a
refused attempt is not checked against the password and does not add to the count. A quiet hour
forgets the failures; a successful sign-in forgets the account's (not the address's: one good
account must not reset an address that guesses others).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import Table, case, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cityops.accounts.models import SignInThrottle
from cityops.errors import TooManyRequests

ACCOUNT_FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 20
MAX_DELAY_SECONDS = 900
FORGET_AFTER = timedelta(hours=1)


def _keys(username: str, address: str | None) -> dict[str, int]:
    keys = {f"user:{username.strip().lower()[:150]}": ACCOUNT_FREE_FAILURES}
    if address:
        keys[f"addr:{address[:150]}"] = ADDRESS_FREE_FAILURES
    return keys


def delay_after(failures: int, free: int) -> int:
    """Seconds to wait after ``failures`` failures when ``free`` are allowed without delay."""
    if failures < free:
        return 0
    return int(min(MAX_DELAY_SECONDS, 2 ** (failures - free + 1)))


def check(session: Session, username: str, address: str | None, now: datetime) -> None:
    """Raise ``TooManyRequests`` (429, with the seconds to wait) while either counter is held back."""
    keys = _keys(username, address)
    rows = session.execute(
        select(SignInThrottle.key, SignInThrottle.failures, SignInThrottle.last_failure_at).where(
            SignInThrottle.key.in_(list(keys))
        )
    ).all()
    wait = 0.0
    for key, failures, last in rows:
        if last < now - FORGET_AFTER:
            continue
        until = last + timedelta(seconds=delay_after(failures, keys[key]))
        wait = max(wait, (until - now).total_seconds())
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise TooManyRequests(
            f"登录失败次数过多，请在 {seconds} 秒后重试",
            f"Too many failed sign-ins; retry in {seconds} seconds",
            code="too_many_attempts",
            retry_after=seconds,
        )


def record_failure(session: Session, username: str, address: str | None, now: datetime) -> None:
    """Count one failure for the account and the address (one atomic upsert each)."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = SignInThrottle.__table__
    assert isinstance(table, Table)
    for key in _keys(username, address):
        statement = insert(table).values(key=key, failures=1, last_failure_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": case(
                    (table.c.last_failure_at < now - FORGET_AFTER, 1), else_=table.c.failures + 1
                ),
                "last_failure_at": now,
            },
        )
        session.execute(statement)


def clear_account(session: Session, username: str) -> None:
    session.execute(delete(SignInThrottle).where(SignInThrottle.key == next(iter(_keys(username, None)))))
