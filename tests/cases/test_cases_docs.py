"""docs/cases.md's transition table says what the code does."""

from __future__ import annotations

from pathlib import Path

from cityops.cases.transitions import RESTORE, SAME, TRANSITIONS, Transition

DOC = Path(__file__).resolve().parents[2] / "docs" / "cases.md"


def _row(t: Transition) -> str:
    to = {SAME: "(same state)", RESTORE: "(state before parking)"}.get(t.to, t.to)
    if t.alt_to:
        to = f"{to} ({t.alt_when[0]}) / {t.alt_to} ({t.alt_when[1]})"
    cells = [
        f"`{t.action.replace('_', '-')}`",
        ", ".join(sorted(t.sources)),
        to,
        ", ".join(sorted(t.roles)),
        t.scope,
        ", ".join(t.requires),
    ]
    return "| " + " | ".join(cells) + " |"


def test_docs_table_matches_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- transitions-table", 1)[1].split("\n\n", 1)[0]
    rows = [line.replace("|  |", "| |") for line in table.splitlines() if line.startswith("| `")]
    expected = [_row(t).replace("|  |", "| |") for t in TRANSITIONS]
    assert [" ".join(r.split()) for r in rows] == [" ".join(r.split()) for r in expected]
