"""Full-text search over case descriptions (Chinese): a character-bigram index table.

A plain ``LIKE '%垃圾%'`` reads every description. Here each description is cut into
overlapping pairs of characters ("垃圾堆放" → 垃圾, 圾堆, 堆放) stored as (term, case) rows; a
case matches when every pair of the query has its row (one primary-key probe each), and a
substring check on those candidates keeps only real matches (the pairs do not say in which order they
occur). One-character queries have no pair and fall back to the substring check alone.

Descriptions never change after creation, so indexing is append-only: the worker job
``cases.tasks:index_search`` (every few seconds) indexes what is missing, so a new report is
found within seconds; creation itself stays one statement. Works the same on SQLite and
PostgreSQL. Measured against LIKE in ``benchmarks/bench_pages.py``.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, and_, bindparam, exists, insert, select
from sqlalchemy.orm import Session

from cityops.cases.models import Case, CaseSearchDoc, CaseSearchTerm
from cityops.db import utcnow
from cityops.errors import Invalid

_DOCS = CaseSearchDoc.metadata.tables[CaseSearchDoc.__tablename__]
_TERMS = CaseSearchTerm.metadata.tables[CaseSearchTerm.__tablename__]
MAX_QUERY_CHARS = 50
BATCH = 2000
# Letters, digits and CJK ideographs make words; anything else separates them.
_SEPARATORS = re.compile(r"[^\w]+", re.UNICODE)


def normalise(text: str) -> list[str]:
    """Lower-cased, width-folded word runs (全角 → 半角), split at spaces and punctuation."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return [part for part in _SEPARATORS.split(folded) if part and part != "_"]


def bigrams(text: str) -> set[str]:
    """The distinct character pairs of ``text`` (runs of one character give that character)."""
    grams: set[str] = set()
    for run in normalise(text):
        if len(run) == 1:
            continue
        grams.update(run[i : i + 2] for i in range(len(run) - 1))
    return grams


def check_query(q: str | None) -> str | None:
    text = (q or "").strip()
    if not text:
        return None
    if len(text) > MAX_QUERY_CHARS:
        raise Invalid(
            f"搜索词最多 {MAX_QUERY_CHARS} 个字",
            f"the search text may have at most {MAX_QUERY_CHARS} characters",
            details={"field": "q"},
        )
    return text


def _index_rows(session: Session, rows: Iterable[Any], now: datetime) -> int:
    terms: list[dict[str, Any]] = []
    docs: list[dict[str, Any]] = []
    for case_id, description in rows:
        docs.append({"case_id": case_id, "indexed_at": now})
        terms.extend({"term": g, "case_id": case_id} for g in bigrams(description or ""))
    if not docs:
        return 0
    # Core inserts (executemany), not ORM bulk: indexing the demo's 20,000 cases is 600,000 rows.
    session.execute(insert(_DOCS), docs)
    for start in range(0, len(terms), 20000):
        session.execute(insert(_TERMS), terms[start : start + 20000])
    return len(docs)


def _missing() -> Any:
    return select(Case.id, Case.description).where(~exists().where(CaseSearchDoc.case_id == Case.id))


def index_pending(session: Session, now: datetime | None = None, *, max_batches: int = 50) -> int:
    """Index cases not yet in the index (the worker job; also run after the demo load)."""
    now = now or utcnow()
    done = 0
    for _ in range(max_batches):
        rows = session.execute(_missing().limit(BATCH)).all()
        done += _index_rows(session, rows, now)
        if len(rows) < BATCH:
            break
    return done


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(q: str) -> ColumnElement[bool]:
    """The SQL condition "the case's description contains every word of ``q``".

    One correlated ``EXISTS`` per pair, each a probe of the (term, case) primary key, so the
    database may walk the cases in the list's order and stop at the page's last match (a common
    word: a few hundred probes) or start from the rare pair's rows (a rare word). The first form,
    ``id IN (… GROUP BY case HAVING count = pairs)``, always built the whole set of candidates:
    5 s for 垃圾 (one case in five) at a million cases (docs/benchmarks.md).
    """
    words = [w for w in re.split(r"\s+", q.strip()) if w]
    conditions: list[ColumnElement[bool]] = []
    for word in words:
        for gram in sorted(bigrams(word)):
            # Written into the SQL rather than bound: the plan depends on how common the pair is
            # (a prepared statement's generic plan would treat 垃圾 and 井盖 alike). A pair holds
            # only letters and digits (``normalise`` splits at everything else).
            term = bindparam(None, gram, type_=String(8), literal_execute=True)
            conditions.append(exists().where(CaseSearchTerm.term == term, CaseSearchTerm.case_id == Case.id))
        if _one_chinese_pair(word):
            # Two Chinese characters are exactly their one pair: nothing to confirm. Without the
            # substring check the database counts from the pair's index rows alone (PostgreSQL
            # misjudged LIKE '%井盖%' and read every description: 0.3 s instead of 25 ms).
            continue
        # Confirms order and adjacency on the candidates (and is the whole test for one character).
        conditions.append(Case.description.like(f"%{_escape_like(word)}%", escape="\\"))
    return and_(*conditions)


def _one_chinese_pair(word: str) -> bool:
    """Two CJK ideographs (no case or width to fold, so the pair index says exactly "contains")."""
    return len(word) == 2 and all("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in word)


def case_ids_matching(session: Session, q: str, limit: int = 1000) -> list[uuid.UUID]:
    """Ids of cases whose description contains ``q`` (no scope: callers add theirs)."""
    return list(session.scalars(select(Case.id).where(matches(q)).limit(limit)))
