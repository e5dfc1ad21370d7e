"""search terms: a larger statistics sample for the term column (PostgreSQL)

The full-text search's plan depends on how common a character pair is: a common one (垃圾, one
case in five) is best found by walking the cases newest first and probing the index, a rare one
by starting from its index rows. With the default statistics target PostgreSQL knows only the
100 most common pairs and guessed 井盖 (3 % of a million cases) as rare: 0.66 s instead of 6 ms
(docs/benchmarks.md, "Pages at a million cases"). SQLite has no such setting.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 20:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE case_search_terms ALTER COLUMN term SET STATISTICS 1000")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE case_search_terms ALTER COLUMN term SET STATISTICS -1")
