"""Human case codes: ``<prefix><YYYYMMDD>-<NNNNN>``, e.g. ``GS20261126-00042``.

The day is the local date of creation (``Settings.timezone``, Asia/Shanghai); the number is a
daily sequence of at least five digits. Allocation must not serialise concurrent creations on
one hot row for the length of their transactions:

* PostgreSQL: one database sequence per day (``case_code_seq_YYYYMMDD``), created on first use
  in its own autocommitted connection. ``nextval`` never blocks and is not rolled back, so a
  rolled-back creation leaves a **gap** in the numbers. Codes are unique, not gapless.
* Other engines (SQLite): a counter row per day bumped with one upsert ... RETURNING in the
  creating transaction. SQLite already serialises writers, so this adds no waiting, and
  rollbacks leave no gaps.
"""

from __future__ import annotations

import contextlib
import re
import threading
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from cityops.cases.models import CaseCodeCounter
from cityops.config import get_settings

CODE_RE = re.compile(r"^[A-Z]{1,8}\d{8}-\d{5,}$")

# Built once: constructing an upsert per creation costs more than running it.
_BUMP = text(
    f"INSERT INTO {CaseCodeCounter.__tablename__} (day, last) VALUES (:day, 1) "
    f"ON CONFLICT (day) DO UPDATE SET last = {CaseCodeCounter.__tablename__}.last + 1 RETURNING last"
)
_known_sequences: set[tuple[int, str]] = set()
_lock = threading.Lock()


def looks_like_code(value: str) -> bool:
    """Whether ``value`` has the shape of a case code (rather than a UUID)."""
    return bool(CODE_RE.match(value))


def format_code(prefix: str, day: str, number: int) -> str:
    return f"{prefix}{day}-{number:05d}"


def _ensure_pg_sequence(session: Session, name: str) -> None:
    bind = session.get_bind()
    key = (id(bind), name)
    if key in _known_sequences:
        return
    with _lock:
        if key in _known_sequences:
            return
        # Outside the request's transaction so that a rollback does not drop the sequence and
        # concurrent creators do not wait on each other's DDL locks.
        engine = bind.engine if isinstance(bind, Connection) else bind
        # Two processes may race on IF NOT EXISTS; then the other one created it.
        with (
            engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn,
            contextlib.suppress(DBAPIError),
        ):
            conn.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {name}"))
        _known_sequences.add(key)


def code_prefix_and_sequence(session: Session, now: datetime) -> tuple[str, str]:
    """PostgreSQL: the code's text before the number (``GS20261126-``) and the day's sequence.

    The sequence is created if needed; creation then takes ``nextval`` of it in its own statement.
    """
    settings = get_settings()
    day = now.astimezone(settings.tz).strftime("%Y%m%d")
    name = f"case_code_seq_{day}"
    _ensure_pg_sequence(session, name)
    return f"{settings.case_code_prefix}{day}-", name


def next_code(session: Session, now: datetime) -> str:
    """Allocate the next case code for the Shanghai day of ``now``."""
    settings = get_settings()
    day = now.astimezone(settings.tz).strftime("%Y%m%d")
    prefix = settings.case_code_prefix
    if session.get_bind().dialect.name == "postgresql":
        _, name = code_prefix_and_sequence(session, now)
        number = int(session.execute(text(f"SELECT nextval('{name}')")).scalar_one())
    else:
        number = int(session.execute(_BUMP, {"day": day}).scalar_one())
    return format_code(prefix, day, number)
