"""Row checks of the catalog workbook: every problem is collected with its sheet and row number.

Used by :mod:`cityops.catalog.excel`; nothing here writes to the database.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from cityops.catalog import limits, service
from cityops.catalog.models import GRADES, Category
from cityops.errors import Invalid

SHEET_CATEGORIES, SHEET_LIMITS, SHEET_RESPONSIBILITIES = "类别", "时限", "权责清单"
CATEGORY_HEADERS = [
    "类别代码",
    "名称",
    "类型",
    "大类代码",
    "大类名称",
    "标准代码",
    "立案标准",
    "结案标准",
    "本地类别",
    "启用",
    "应急类",
]
LIMIT_HEADERS = ["类别代码", "等级", "时限类型", "时限值"]
RESPONSIBILITY_HEADERS = ["类别代码", "区域代码", "责任部门代码", "责任部门名称"]
REQUIRED = {
    SHEET_CATEGORIES: ["类别代码", "名称", "类型"],
    SHEET_LIMITS: ["类别代码", "等级", "时限类型", "时限值"],
    SHEET_RESPONSIBILITIES: ["类别代码", "区域代码", "责任部门代码"],
}

KIND_ZH = {"component": "部件", "event": "事件"}
KIND_IN = {
    "部件": "component",
    "管理部件": "component",
    "component": "component",
    "事件": "event",
    "管理事项": "event",
    "事项": "event",
    "event": "event",
}
LIMIT_ZH = {"emergency": "应急", "working_hours": "工作时", "working_days": "工作日"}
LIMIT_IN = {v: k for k, v in LIMIT_ZH.items()} | {k: k for k in LIMIT_ZH}
YES, NO = "是", "否"
BOOL_IN = {
    "是": True,
    "否": False,
    "true": True,
    "false": False,
    "1": True,
    "0": False,
    "y": True,
    "n": False,
    "yes": True,
    "no": False,
}
MAX_ROWS = 100_000


@dataclass
class Plan:
    """Validated rows ready to apply, and every problem found."""

    categories: list[dict[str, Any]] = field(default_factory=list)
    limits: list[tuple[str, str | None, str, float]] = field(default_factory=list)
    responsibilities: list[tuple[str, str, str]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, sheet: str, row: int, column: str, zh: str, en: str) -> None:
        self.errors.append({"sheet": sheet, "row": row, "column": column, "message": f"{zh} / {en}"})


def sheet_rows(ws: Any, sheet: str, plan: Plan) -> list[tuple[int, dict[str, Any]]]:
    """(excel row number, {header: value}) of the non-blank rows, checking the headers."""
    it: Iterator[tuple[Any, ...]] = ws.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else "" for h in next(it, ())]
    missing = [h for h in REQUIRED[sheet] if h not in header]
    if missing:
        plan.error(
            sheet, 1, "、".join(missing), f"缺少表头 {'、'.join(missing)}", f"missing headers {missing}"
        )
        return []
    out = []
    for number, values in enumerate(it, start=2):
        if number > MAX_ROWS:
            plan.error(sheet, number, "", f"超过 {MAX_ROWS} 行", f"more than {MAX_ROWS} rows")
            break
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        out.append((number, {h: v for h, v in zip(header, values, strict=False) if h}))
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _code(value: Any) -> str:
    """A category code; a number typed into Excel lost its leading zeros, so pad it back."""
    text = _text(value)
    if isinstance(value, int | float) and len(text) < 5:
        text = text.zfill(5)
    return text


def _bool(value: Any, default: bool) -> bool | None:
    text = _text(value).lower()
    return default if text == "" else BOOL_IN.get(text)


def check_categories(
    rows: list[tuple[int, dict[str, Any]]], existing: dict[str, Category], plan: Plan
) -> None:
    s = SHEET_CATEGORIES
    seen: set[str] = set()
    standard = {e.code: e for e in limits.directory()}
    for n, row in rows:
        code, name = _code(row.get("类别代码")), _text(row.get("名称"))
        kind = KIND_IN.get(_text(row.get("类型")).lower())
        ok = True
        if not code:
            plan.error(s, n, "类别代码", "类别代码为空", "category code is empty")
            continue
        if code in seen:
            plan.error(s, n, "类别代码", f"类别代码 {code} 重复", f"duplicate category code {code}")
        seen.add(code)
        if not name or len(name) > 100:
            plan.error(s, n, "名称", "名称为空或超过 100 字", "name is empty or longer than 100 characters")
            ok = False
        if kind is None:
            plan.error(s, n, "类型", "类型必须是 部件 或 事件", "kind must be 部件 or 事件")
            ok = False
        flags = {
            k: _bool(row.get(h), d) for k, h, d in (("active", "启用", True), ("emergency", "应急类", False))
        }
        for key, header in (("active", "启用"), ("emergency", "应急类")):
            if flags[key] is None:
                plan.error(s, n, header, f"{header} 必须是 是 或 否", f"{header} must be 是 or 否")
                ok = False
        current = existing.get(code)
        if current is None and code not in standard:
            try:
                service.check_local_code(code)
            except Invalid as exc:
                plan.error(s, n, "类别代码", *exc.message.split(" / ", 1))
                ok = False
        std = current or standard.get(code)
        if std is not None and kind is not None and std.kind != kind and not (current and current.local):
            plan.error(
                s,
                n,
                "类型",
                f"标准类别 {code} 的类型不能修改",
                f"the kind of standard category {code} is fixed",
            )
            ok = False
        if ok:
            plan.categories.append(
                {
                    "row": n,
                    "code": code,
                    "name": name,
                    "kind": kind,
                    "major_code": _text(row.get("大类代码"))[:8],
                    "major_name": _text(row.get("大类名称"))[:50],
                    "filing_criterion": _text(row.get("立案标准")),
                    "closing_criterion": _text(row.get("结案标准")),
                    "active": flags["active"],
                    "emergency": flags["emergency"],
                }
            )


def check_limits(
    session: Session,
    rows: list[tuple[int, dict[str, Any]]],
    known: set[str],
    existing: dict[str, Category],
    plan: Plan,
) -> None:
    s = SHEET_LIMITS
    seen: set[tuple[str, str | None]] = set()
    for n, row in rows:
        code, grade_text = _code(row.get("类别代码")), _text(row.get("等级")).upper()
        kind = LIMIT_IN.get(_text(row.get("时限类型")).lower())
        value = row.get("时限值")
        grade = grade_text or None
        ok = True
        if code not in known:
            plan.error(s, n, "类别代码", f"类别 {code or '（空）'} 不存在", f"unknown category {code!r}")
            ok = False
        if grade is not None and grade not in GRADES:
            plan.error(
                s, n, "等级", "等级必须为空（默认）或 A、B、C", "grade must be blank (default) or A, B, C"
            )
            ok = False
        if kind is None:
            plan.error(
                s,
                n,
                "时限类型",
                "时限类型必须是 应急、工作时 或 工作日",
                "limit kind must be 应急, 工作时 or 工作日",
            )
            ok = False
        try:
            number = float(_text(value))
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number <= 0 or number > 10_000:
            plan.error(
                s,
                n,
                "时限值",
                f"时限值 {_text(value) or '（空）'} 必须是大于 0 的数字",
                "limit value must be a number greater than 0",
            )
            ok = False
        if (code, grade) in seen:
            plan.error(
                s, n, "等级", f"类别 {code} 的等级 {grade or '默认'} 重复", "duplicate category and grade"
            )
            ok = False
        seen.add((code, grade))
        if ok and kind is not None:
            plan.limits.append((code, grade, kind, number))
    # A category created by this import needs a default limit, or no case could get a deadline.
    with_default = {c for c, g, _, _ in plan.limits if g is None}
    for cat in plan.categories:
        if cat["code"] not in existing and cat["code"] not in with_default:
            plan.error(
                SHEET_CATEGORIES,
                cat["row"],
                "类别代码",
                f"新类别 {cat['code']} 在“时限”表中缺少默认时限（等级为空的一行）",
                f"new category {cat['code']} needs a default limit row (blank grade) in sheet 时限",
            )


def check_responsibilities(
    session: Session, rows: list[tuple[int, dict[str, Any]]], known: set[str], plan: Plan
) -> None:
    triples = [
        (_code(r.get("类别代码")), _text(r.get("区域代码")), _text(r.get("责任部门代码"))) for _, r in rows
    ]
    for problem in service.check_responsibility_rows(session, triples, known_categories=known):
        n = rows[int(problem["row"])][0]
        column = {"category_code": "类别代码", "area_code": "区域代码", "department_code": "责任部门代码"}
        plan.error(
            SHEET_RESPONSIBILITIES, n, column[str(problem["field"])], *str(problem["message"]).split(" / ", 1)
        )
    plan.responsibilities = triples
