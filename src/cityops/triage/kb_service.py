"""Operations on the knowledge base: the effective rows, administrators' edits, Excel/CSV
import and export, and the revision history (the knowledge base's version number).

The shipped rows (``data/knowledge_base.csv``) are never changed in the database; an edit is a
row of ``triage_kb_edits`` that replaces the shipped row with the same code (or adds a local
category's row), and every change appends a ``triage_kb_revisions`` row with the before and
after. Every function takes a Session and never commits.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.errors import Invalid, NotFound
from cityops.triage import knowledge
from cityops.triage.knowledge import FIELDS, KnowledgeRow
from cityops.triage.models import KnowledgeEdit, KnowledgeRevision

MAX_IMPORT_ROWS = 5000


def revision(session: Session) -> int:
    """The knowledge base's version: 0 as shipped, +1 for every change."""
    return int(session.scalar(select(func.max(KnowledgeRevision.id))) or 0)


def _catalog_codes(session: Session) -> dict[str, str]:
    from cityops.catalog.service import list_categories

    cats, _ = list_categories(session, limit=100_000)
    return {c.code: c.name for c in cats}


def effective_rows(session: Session, *, catalog: Mapping[str, str] | None = None) -> list[KnowledgeRow]:
    """Shipped rows overlaid by the edits, restricted to categories the catalog has (a fresh
    database without the directory loaded still gets the whole shipped knowledge base)."""
    edits = list(session.scalars(select(KnowledgeEdit)))
    rows = knowledge.overlay(
        knowledge.shipped(),
        [knowledge.row_from_mapping(e.data) for e in edits if not e.removed],
        [e.code for e in edits if e.removed],
    )
    names = dict(catalog) if catalog is not None else _catalog_codes(session)
    if names:
        rows = [r for r in knowledge.with_catalog_names(rows, names) if r.code in names]
    return rows


def get_row(session: Session, code: str) -> KnowledgeRow:
    for row in effective_rows(session):
        if row.code == code:
            return row
    raise NotFound("知识库中没有该类别", f"no knowledge-base row for {code!r}", details={"code": code})


def _write(
    session: Session, row: KnowledgeRow, action: str, user_id: uuid.UUID | None, before: KnowledgeRow | None
) -> int:
    rev = KnowledgeRevision(
        code=row.code,
        action=action,
        before=before.as_dict() if before else None,
        after=row.as_dict(),
        created_by=user_id,
    )
    session.add(rev)
    session.flush()
    edit = session.get(KnowledgeEdit, row.code)
    if edit is None:
        session.add(KnowledgeEdit(code=row.code, data=row.as_dict(), removed=False, revision=rev.id))
    else:
        edit.data, edit.removed, edit.revision = row.as_dict(), False, rev.id
    return rev.id


def upsert_rows(
    session: Session,
    items: Sequence[Mapping[str, Any]],
    user_id: uuid.UUID | None = None,
    *,
    action: str = "update",
) -> dict[str, Any]:
    """Validate every row first (a 422 naming the first bad row: empty name, unknown code, …),
    then write the ones that differ from the effective knowledge base; all or nothing."""
    if len(items) > MAX_IMPORT_ROWS:
        raise Invalid(
            f"一次最多导入 {MAX_IMPORT_ROWS} 行",
            f"at most {MAX_IMPORT_ROWS} rows at once",
            details={"rows": len(items)},
        )
    catalog = _catalog_codes(session)
    current = {r.code: r for r in effective_rows(session, catalog=catalog)}
    parsed: list[KnowledgeRow] = []
    for i, item in enumerate(items, start=1):
        where = str(item.get("_row", i))
        base = current.get(str(item.get("code") or "").strip())
        if base is not None:
            # Columns an import leaves out keep their current value; a column given blank is blank.
            item = {**base.as_dict(), **{k: v for k, v in item.items() if k in FIELDS and v is not None}}
        parsed.append(knowledge.row_from_mapping(item, where=where))
    knowledge.check_codes(parsed, catalog)
    changed = 0
    last = revision(session)
    for row in parsed:
        before = current.get(row.code)
        if before is not None and before.as_dict() == row.as_dict():
            continue
        last = _write(session, row, action, user_id, before)
        changed += 1
    session.flush()
    return {"rows": len(parsed), "changed": changed, "revision": last}


def check_rows(session: Session, items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every row's error at once, writing nothing (the import page lists them all):
    ``[{row, code, field, message}]``, empty when :func:`upsert_rows` would take the rows."""
    catalog = _catalog_codes(session)
    current = {r.code: r for r in effective_rows(session, catalog=catalog)}
    errors: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for i, item in enumerate(items[: MAX_IMPORT_ROWS + 1], start=1):
        where = str(item.get("_row", i))
        code = str(item.get("code") or "").strip()
        base = current.get(code)
        if base is not None:
            item = {**base.as_dict(), **{k: v for k, v in item.items() if k in FIELDS and v is not None}}
        try:
            row = knowledge.row_from_mapping(item, where=where)
            knowledge.check_codes([row], catalog)
        except Invalid as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            message = exc.message
            if details.get("row") == 1 and where != "1":  # check_codes counts the one row it saw
                message = message.replace("第 1 行", f"第 {where} 行").replace("row 1", f"row {where}")
            errors.append({"row": where, "code": code, "field": details.get("field"), "message": message})
            continue
        if code in seen:
            errors.append(
                {
                    "row": where,
                    "code": code,
                    "field": "code",
                    "message": f"第 {where} 行：类别编码 {code} 与第 {seen[code]} 行重复 / "
                    f"row {where}: code {code} repeats row {seen[code]}",
                }
            )
        seen.setdefault(code, where)
    return errors


def remove_row(session: Session, code: str, user_id: uuid.UUID | None = None) -> int:
    """Hide a row (the category stays in the catalog; triage stops suggesting it by itself)."""
    before = get_row(session, code)
    rev = KnowledgeRevision(
        code=code, action="remove", before=before.as_dict(), after=None, created_by=user_id
    )
    session.add(rev)
    session.flush()
    edit = session.get(KnowledgeEdit, code)
    if edit is None:
        session.add(KnowledgeEdit(code=code, data=before.as_dict(), removed=True, revision=rev.id))
    else:
        edit.removed, edit.revision = True, rev.id
    session.flush()
    return rev.id


def history(
    session: Session, code: str | None = None, limit: int = 100, offset: int = 0
) -> list[KnowledgeRevision]:
    """The changes, newest first (``code``: one category's)."""
    stmt = select(KnowledgeRevision).order_by(KnowledgeRevision.id.desc()).limit(limit).offset(offset)
    if code:
        stmt = stmt.where(KnowledgeRevision.code == code)
    return list(session.scalars(stmt))


# --- Excel ----------------------------------------------------------------------------------

HEADERS_ZH = {
    "code": "类别编码",
    "name": "类别名称",
    "kind": "类型",
    "major_code": "大类编码",
    "major_name": "大类名称",
    "family": "小类族",
    "family_fallback": "族通用类别",
    "object": "部件/对象",
    "filing_criterion": "立案条件",
    "terms": "常用说法",
    "problems": "问题说法",
    "confusions": "易混类别",
    "routes_to": "立案到",
}


def export_xlsx(rows: Iterable[KnowledgeRow]) -> bytes:
    """The knowledge base as an Excel workbook: English keys on row 1, Chinese headers on row 2."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "knowledge_base"
    ws.append(list(FIELDS))
    ws.append([HEADERS_ZH[f] for f in FIELDS])
    for row in rows:
        d = row.as_csv_row()
        ws.append([d[f] for f in FIELDS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def history_count(session: Session, code: str | None = None) -> int:
    stmt = select(func.count()).select_from(KnowledgeRevision)
    if code:
        stmt = stmt.where(KnowledgeRevision.code == code)
    return int(session.scalar(stmt) or 0)


def read_upload(data: bytes, filename: str) -> list[dict[str, Any]]:
    """Rows of an uploaded CSV (UTF-8) or Excel workbook, each with its file row number ``_row``."""
    if filename.lower().endswith(".csv") or not data.startswith(b"PK"):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Invalid(
                "CSV 文件应为 UTF-8 编码", "the CSV file must be UTF-8", details={"field": "file"}
            ) from None
        try:
            return [{**r, "_row": i} for i, r in enumerate(csv.DictReader(io.StringIO(text)), start=2)]
        except csv.Error as exc:
            raise Invalid(
                f"无法读取 CSV 文件：{exc}", f"cannot read the CSV file: {exc}", details={"field": "file"}
            ) from None
    return parse_xlsx(data)


def parse_xlsx(data: bytes) -> list[dict[str, Any]]:
    """Rows of an uploaded workbook (the export's layout; the Chinese header row is optional)."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise Invalid(
            "无法读取 Excel 文件", "the file is not a readable .xlsx workbook", details={"field": "file"}
        ) from None
    ws = wb.worksheets[0]
    it = ws.iter_rows(values_only=True)
    header = [str(c or "").strip() for c in next(it, ())]
    by_zh = {v: k for k, v in HEADERS_ZH.items()}
    header = [by_zh.get(h, h) for h in header]
    if "code" not in header or "name" not in header:
        raise Invalid(
            "第 1 行应为表头，至少包含 code 与 name 列",
            "row 1 must be the header with at least the columns code and name",
            details={"field": "file"},
        )
    out: list[dict[str, Any]] = []
    for n, values in enumerate(it, start=2):
        if n - 1 > MAX_IMPORT_ROWS + 1:
            raise Invalid(f"一次最多导入 {MAX_IMPORT_ROWS} 行", f"at most {MAX_IMPORT_ROWS} rows at once")
        rec: dict[str, Any] = {
            h: ("" if v is None else str(v)) for h, v in zip(header, values, strict=False) if h in FIELDS
        }
        if rec.get("code") == "类别编码" or not any(rec.values()):
            continue  # the Chinese header row, blank rows
        out.append({**rec, "_row": n})
    return out
