"""The whole catalog as an Excel workbook (offices keep these tables in Excel).

Three sheets with Chinese headers: 类别, 时限, 权责清单. Import checks every row of every sheet
first and reports all problems with sheet and row numbers; only a clean workbook is applied, in
the caller's transaction, so nothing is half-written. Rows are upserted; rows absent from the
workbook are left alone. A sheet may be left out (for example only 权责清单).
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.accounts import service as accounts
from cityops.catalog import limits, service
from cityops.catalog.excel_checks import (
    CATEGORY_HEADERS,
    KIND_ZH,
    LIMIT_HEADERS,
    LIMIT_ZH,
    NO,
    REQUIRED,
    RESPONSIBILITY_HEADERS,
    SHEET_CATEGORIES,
    SHEET_LIMITS,
    SHEET_RESPONSIBILITIES,
    YES,
    Plan,
    check_categories,
    check_limits,
    check_responsibilities,
    sheet_rows,
)
from cityops.catalog.models import Category, CategoryTimeLimit, Responsibility
from cityops.errors import Invalid

# --- export ------------------------------------------------------------------------------


def _append(ws: Any, row: list[Any]) -> None:
    # Excel cannot hold control characters; drop them so one odd name never breaks the export.
    ws.append([ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v for v in row])


def export_workbook(session: Session) -> bytes:
    """The categories, their limits and the responsibility list as .xlsx bytes."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET_CATEGORIES
    _append(ws, CATEGORY_HEADERS)
    for c in session.scalars(select(Category).order_by(Category.code)):
        _append(
            ws,
            [
                c.code,
                c.name,
                KIND_ZH[c.kind],
                c.major_code,
                c.major_name,
                c.std_code or "",
                c.filing_criterion,
                c.closing_criterion,
                _yn(c.local),
                _yn(c.active),
                _yn(c.emergency),
            ],
        )
    ws = wb.create_sheet(SHEET_LIMITS)
    _append(ws, LIMIT_HEADERS)
    rows = session.scalars(select(CategoryTimeLimit))
    # Default first, then A, B, C, so a category's rows read top-down.
    for t in sorted(rows, key=lambda r: (r.category_code, r.grade or "")):
        _append(ws, [t.category_code, t.grade or "", LIMIT_ZH[t.kind], _number(t.value)])
    ws = wb.create_sheet(SHEET_RESPONSIBILITIES)
    _append(ws, RESPONSIBILITY_HEADERS)
    stmt = select(Responsibility).order_by(Responsibility.category_code, Responsibility.area_code)
    names = accounts.department_names(session)  # departments are accounts' table: ask its service
    for r in session.scalars(stmt):
        _append(ws, [r.category_code, r.area_code, r.department_code, names.get(r.department_code, "")])
    for sheet in wb.worksheets:
        # Codes are text: keep Excel from dropping leading zeros when someone edits a cell.
        for col in ("A", "B", "C", "D", "F") if sheet.title == SHEET_CATEGORIES else ("A", "B", "C"):
            for cell in sheet[col]:
                cell.number_format = "@"
        sheet.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _yn(value: bool) -> str:
    return YES if value else NO


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


# --- import ------------------------------------------------------------------------------


def _unreadable(exc: Exception) -> Invalid:
    return Invalid(
        "无法读取 Excel 文件（需要完整的 .xlsx，且不含外部实体或 DTD）",
        "The file is not a readable .xlsx workbook (it may be truncated, or hold a DTD or entities)",
        code="invalid_workbook",
        details={"reason": type(exc).__name__},
    )


def import_workbook(session: Session, data: bytes) -> dict[str, int]:
    """Check every row, then upsert all of them; Invalid listing all row errors otherwise.

    openpyxl parses through defusedxml (a dependency), so a DTD, an external entity (XXE) or
    nested entities (billion laughs) raise instead of expanding; that, a truncated worksheet or a
    broken zip is one ``invalid_workbook`` 422. Read-only mode parses sheets lazily, row by row,
    so the whole reading is guarded, not only the opening.
    """
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        plan = Plan()
        sheets = {name: sheet_rows(wb[name], name, plan) for name in REQUIRED if name in wb.sheetnames}
    except Exception as exc:
        # openpyxl, zipfile, expat and defusedxml raise a variety of errors for a file that is
        # not a sound workbook; none of them is the server's fault.
        raise _unreadable(exc) from exc
    if not sheets:
        raise Invalid(
            f"工作簿中没有 {'、'.join(REQUIRED)} 任何一张表",
            f"The workbook has none of the sheets {', '.join(REQUIRED)}",
            code="invalid_workbook",
            details={"sheets": wb.sheetnames},
        )
    if not plan.errors and not any(sheets.values()):
        raise _no_rows({"sheets": sorted(sheets)})
    existing = {c.code: c for c in session.scalars(select(Category))}
    check_categories(sheets.get(SHEET_CATEGORIES, []), existing, plan)
    known = set(existing) | {c["code"] for c in plan.categories}
    check_limits(session, sheets.get(SHEET_LIMITS, []), known, existing, plan)
    check_responsibilities(session, sheets.get(SHEET_RESPONSIBILITIES, []), known, plan)
    wb.close()
    if plan.errors:
        raise Invalid(
            f"Excel 中有 {len(plan.errors)} 处错误，未导入任何数据",
            f"The workbook has {len(plan.errors)} errors; nothing was imported",
            code="invalid_workbook",
            details={"errors": plan.errors},
        )
    return _apply(session, plan, existing)


def _apply(session: Session, plan: Plan, existing: dict[str, Category]) -> dict[str, int]:
    standard = {e.code: e for e in limits.directory()}
    for row in plan.categories:
        cat = existing.get(row["code"])
        if cat is None:
            std = standard.get(row["code"])
            cat = Category(
                code=row["code"], kind=row["kind"], local=std is None, std_code=std.std_code if std else None
            )
            session.add(cat)
        for key in (
            "name",
            "major_code",
            "major_name",
            "filing_criterion",
            "closing_criterion",
            "active",
            "emergency",
        ):
            setattr(cat, key, row[key])
        if cat.local:
            cat.kind = row["kind"]
    session.flush()
    current = {(t.category_code, t.grade): t for t in session.scalars(select(CategoryTimeLimit))}
    for code, grade, kind, value in plan.limits:
        t = current.get((code, grade))
        if t is None:
            session.add(CategoryTimeLimit(category_code=code, grade=grade, kind=kind, value=value))
        else:
            t.kind, t.value = kind, value
    if plan.responsibilities:
        service.upsert_responsibilities(session, plan.responsibilities)
    session.flush()
    return {
        "categories": len(plan.categories),
        "time_limits": len(plan.limits),
        "responsibilities": len(plan.responsibilities),
    }


def _no_rows(details: dict[str, Any]) -> Invalid:
    return Invalid(
        "文件中没有数据行，未导入任何内容",
        "The file has no rows to import; nothing was imported",
        code="no_rows",
        details=details,
    )


DIRECTORY_COLUMNS = ("kind", "major_code", "major_name", "code5", "name")


def import_directory_csv(session: Session, text: str) -> int:
    """Load a directory CSV (kind,major_code,major_name,code5,name); returns categories added.

    A header without those columns, or no rows at all, is refused (an import of nothing is a
    mistake the person should hear about, not "imported 0").
    """
    import csv

    header = [h.strip() for h in next(csv.reader(io.StringIO(text)), [])]
    missing = [c for c in DIRECTORY_COLUMNS if c not in header]
    if missing:
        raise Invalid(
            f"目录 CSV 缺少列：{', '.join(missing)}（需要 {','.join(DIRECTORY_COLUMNS)}）",
            f"The directory CSV lacks the columns {', '.join(missing)}"
            f" (it needs {','.join(DIRECTORY_COLUMNS)})",
            code="invalid_directory",
            details={"missing": missing, "header": header},
        )
    try:
        entries = limits.parse_directory_csv(text)
    except KeyError as exc:
        raise Invalid(
            "目录 CSV 需要列 kind,major_code,major_name,code5,name",
            "The directory CSV needs columns kind,major_code,major_name,code5,name",
            code="invalid_directory",
            details={"missing": str(exc)},
        ) from exc
    if not entries:
        raise _no_rows({"header": header})
    bad = [
        i + 2 for i, e in enumerate(entries) if e.kind not in KIND_ZH or not limits.STD_CODE.match(e.std_code)
    ]
    if bad:
        raise Invalid(
            "目录 CSV 有无效行（类型或 5 位代码错误）",
            "The directory CSV has rows with a bad kind or code",
            code="invalid_directory",
            details={"rows": bad},
        )
    return service.load_directory_entries(session, entries)
