"""The category knowledge base: what each catalog code means in the words people use.

One row per category (all 403 GB/T 47678.5 codes ship in ``data/knowledge_base.csv``; local
categories are added by administrators): the name, the filing criterion, the colloquial terms
(牛皮癣 for 非法小广告), for facility matters the fault phrases (不亮, 塌陷), the family the code
belongs to for back-off (井盖, 路灯, 停车 …), whether it is that family's general code (不明井盖异常
is where "井盖不见了" goes when nobody says which kind), typical confusions, and for components
the matter a problem with them is filed as.

Pure functions over rows (no database): parsing, validation and the effective knowledge base
(shipped rows overlaid by administrators' edits) live here; the edits and their history are
stored by :mod:`cityops.triage.kb_service`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

from cityops.errors import Invalid

FIELDS = (
    "code",
    "name",
    "kind",
    "major_code",
    "major_name",
    "family",
    "family_fallback",
    "object",
    "filing_criterion",
    "terms",
    "problems",
    "confusions",
    "routes_to",
)
LIST_FIELDS = ("terms", "problems", "confusions")
KINDS = ("component", "event")
# Terms are separated by | (also accepted: ；, ;, 、 and new lines when an admin types them).
_SPLIT = re.compile(r"[|;；、\n]+")
MAX_TERMS = 200
MAX_TERM_CHARS = 40


@dataclass(frozen=True)
class KnowledgeRow:
    """One category of the knowledge base (see the module docstring)."""

    code: str
    name: str
    kind: str = "event"
    major_code: str = ""
    major_name: str = ""
    family: str = ""
    family_fallback: bool = False
    object: str = ""
    filing_criterion: str = ""
    terms: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    confusions: tuple[str, ...] = ()
    routes_to: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def routable(self) -> bool:
        """Matters (events) are what cases are filed against; components route to a matter."""
        return self.kind == "event"

    @property
    def family_key(self) -> str:
        """The back-off family: the row's family within its major class (井盖 of 01)."""
        return f"{self.major_code}:{self.family}" if self.family else f"{self.major_code}:"

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("extra")
        for name in LIST_FIELDS:
            out[name] = list(out[name])
        return out

    def as_csv_row(self) -> dict[str, str]:
        d = self.as_dict()
        return {
            k: (
                "|".join(d[k])
                if k in LIST_FIELDS
                else ("1" if d[k] is True else "" if d[k] is False else str(d[k]))
            )
            for k in FIELDS
        }


def split_terms(value: Any) -> tuple[str, ...]:
    """A list of terms from a list or a |-separated string; blanks and repeats dropped."""
    if value is None:
        return ()
    items = value if isinstance(value, list | tuple) else _SPLIT.split(str(value))
    out = [str(t).strip() for t in items if str(t).strip()]
    return tuple(dict.fromkeys(out))


def _bool(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "y", "是"}


def row_from_mapping(data: Mapping[str, Any], *, where: str = "") -> KnowledgeRow:
    """A row from a CSV/Excel/JSON mapping; ``Invalid`` naming ``where`` for a row without
    a code or a name, an unknown kind or over-long terms."""
    code = str(data.get("code") or "").strip()
    name = str(data.get("name") or "").strip()
    label = where or code or "?"
    if not code:
        raise Invalid(
            f"知识库第 {label} 行缺少类别编码",
            f"knowledge-base row {label}: code is empty",
            details={"row": label, "field": "code"},
        )
    if not name:
        raise Invalid(
            f"知识库第 {label} 行（{code}）类别名称为空",
            f"knowledge-base row {label} ({code}): name is empty",
            details={"row": label, "code": code, "field": "name"},
        )
    kind = str(data.get("kind") or "event").strip()
    if kind not in KINDS:
        raise Invalid(
            f"知识库第 {label} 行（{code}）类型应为 event 或 component",
            f"knowledge-base row {label} ({code}): kind must be event or component",
            details={"row": label, "code": code, "field": "kind"},
        )
    lists = {k: split_terms(data.get(k)) for k in LIST_FIELDS}
    for k, terms in lists.items():
        if len(terms) > MAX_TERMS or any(len(t) > MAX_TERM_CHARS for t in terms):
            raise Invalid(
                f"知识库第 {label} 行（{code}）的 {k} 过多或过长"
                f"（最多 {MAX_TERMS} 个，每个 {MAX_TERM_CHARS} 字）",
                f"knowledge-base row {label} ({code}): {k} has too many or too long entries "
                f"(at most {MAX_TERMS}, {MAX_TERM_CHARS} characters each)",
                details={"row": label, "code": code, "field": k},
            )
    return KnowledgeRow(
        code=code,
        name=name,
        kind=kind,
        major_code=str(data.get("major_code") or "").strip(),
        major_name=str(data.get("major_name") or "").strip(),
        family=str(data.get("family") or "").strip(),
        family_fallback=_bool(data.get("family_fallback")),
        object=str(data.get("object") or "").strip(),
        filing_criterion=str(data.get("filing_criterion") or "").strip(),
        routes_to=str(data.get("routes_to") or "").strip(),
        terms=lists["terms"],
        problems=lists["problems"],
        confusions=lists["confusions"],
    )


def parse_csv(text: str) -> list[KnowledgeRow]:
    """Rows of a knowledge-base CSV (header = :data:`FIELDS`; unknown columns are ignored)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    return [row_from_mapping(r, where=str(i)) for i, r in enumerate(reader, start=2)]


def to_csv(rows: Iterable[KnowledgeRow]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(FIELDS))
    writer.writeheader()
    writer.writerows(r.as_csv_row() for r in rows)
    return buf.getvalue()


@cache
def shipped() -> tuple[KnowledgeRow, ...]:
    """The knowledge base shipped with cityops (all codes of the GB/T 47678.5 directory)."""
    text = resources.files("cityops.triage").joinpath("data/knowledge_base.csv").read_text("utf-8")
    return tuple(parse_csv(text))


def check_codes(rows: Sequence[KnowledgeRow], known_codes: Iterable[str]) -> None:
    """``Invalid`` naming the first row whose code (or routes_to / confusions) is not a category."""
    known = set(known_codes)
    for i, row in enumerate(rows, start=1):
        if row.code not in known:
            raise Invalid(
                f"知识库第 {i} 行：类别编码 {row.code} 不在类别目录中（先在目录中新增本地类别）",
                f"knowledge-base row {i}: category code {row.code!r} is not in the catalog "
                "(add it as a local category first)",
                code="unknown_category",
                details={"row": i, "code": row.code, "field": "code"},
            )
        if row.routes_to and row.routes_to not in known:
            raise Invalid(
                f"知识库第 {i} 行（{row.code}）：routes_to {row.routes_to} 不在类别目录中",
                f"knowledge-base row {i} ({row.code}): routes_to {row.routes_to!r} is not in the catalog",
                code="unknown_category",
                details={"row": i, "code": row.code, "field": "routes_to"},
            )
        bad = [c for c in row.confusions if c not in known]
        if bad:
            raise Invalid(
                f"知识库第 {i} 行（{row.code}）：易混类别 {bad[0]} 不在类别目录中",
                f"knowledge-base row {i} ({row.code}): confusion {bad[0]!r} is not in the catalog",
                code="unknown_category",
                details={"row": i, "code": row.code, "field": "confusions"},
            )


def overlay(
    base: Iterable[KnowledgeRow], edits: Iterable[KnowledgeRow], removed: Iterable[str] = ()
) -> list[KnowledgeRow]:
    """The effective knowledge base: ``base`` rows replaced by edits with the same code, edits
    for new (local) codes appended, ``removed`` codes dropped."""
    out = {r.code: r for r in base}
    for r in edits:
        out[r.code] = r
    for code in removed:
        out.pop(code, None)
    return list(out.values())


def with_catalog_names(rows: Iterable[KnowledgeRow], names: Mapping[str, str]) -> list[KnowledgeRow]:
    """Rows whose name follows the catalog's (an admin renamed the category there)."""
    return [
        replace(r, name=names[r.code]) if r.code in names and names[r.code] != r.name else r for r in rows
    ]
