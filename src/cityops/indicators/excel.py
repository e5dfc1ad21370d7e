"""The indicator catalog as an Excel workbook: export, and an all-or-nothing import."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from openpyxl import Workbook, load_workbook

from cityops.errors import Invalid
from cityops.indicators.levels import ORDER
from cityops.indicators.models import Indicator

COLUMNS = (
    "code",
    "name",
    "domain",
    "theme",
    "unit",
    "period",
    "owner",
    "direction",
    "kind",
    "definition",
    *ORDER,
    "description",
    "active",
)
HEADERS = {
    "code": "编码 code",
    "name": "名称 name",
    "domain": "领域 domain",
    "theme": "主题 theme",
    "unit": "单位 unit",
    "period": "周期 period",
    "owner": "责任单位 owner",
    "direction": "方向 direction",
    "kind": "类型 kind",
    "definition": "定义 definition",
    "blue": "蓝 blue",
    "yellow": "黄 yellow",
    "orange": "橙 orange",
    "red": "红 red",
    "description": "说明 description",
    "active": "启用 active",
}
MAX_ROWS = 5000


def export(indicators: list[Indicator]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "indicators"
    ws.append([HEADERS[c] for c in COLUMNS])
    for ind in indicators:
        t = ind.thresholds or {}
        ws.append(
            [
                ind.code,
                ind.name,
                ind.domain,
                ind.theme,
                ind.unit,
                ind.period,
                ind.owner,
                ind.direction,
                ind.kind,
                ind.definition,
                *(t.get(k) for k in ORDER),
                ind.description,
                "是" if ind.active else "否",
            ]
        )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _column_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def read(data: bytes) -> list[dict[str, Any]]:
    """The rows of an uploaded workbook as definitions; ``Invalid`` names the row and column."""
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise Invalid(
            "文件不是 Excel 工作簿（.xlsx）",
            "the file is not an Excel workbook (.xlsx)",
            code="invalid_workbook",
            details={"field": "file"},
        ) from None
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = [str(h or "").strip() for h in next(rows, ())]
    expected = [HEADERS[c] for c in COLUMNS]
    if header[: len(expected)] != expected:
        padded = header + [""] * len(expected)
        wrong = next((i for i, (a, b) in enumerate(zip(padded, expected, strict=False)) if a != b), 0)
        raise Invalid(
            f"第 1 行表头不对：第 {_column_letter(wrong)} 列应为 {expected[wrong]!r}",
            f"row 1 (header) is wrong: column {_column_letter(wrong)} must be {expected[wrong]!r}",
            code="invalid_columns",
            details={"row": 1, "column": _column_letter(wrong), "expected": expected},
        )
    out = []
    for n, row in enumerate(rows, start=2):
        if n > MAX_ROWS + 1:
            raise Invalid(f"最多 {MAX_ROWS} 行", f"at most {MAX_ROWS} rows", details={"row": n})
        values = list(row) + [None] * (len(COLUMNS) - len(row))
        if all(v in (None, "") for v in values):
            continue
        item: dict[str, Any] = {"_row": n}
        thresholds: dict[str, Any] = {}
        for i, col in enumerate(COLUMNS):
            value = values[i]
            if col in ORDER:
                if value in (None, ""):
                    continue
                if isinstance(value, str):
                    try:
                        value = float(value)
                    except ValueError:
                        raise Invalid(
                            f"第 {n} 行 {_column_letter(i)} 列（{HEADERS[col]}）必须是数字",
                            f"row {n}, column {_column_letter(i)} ({col}) must be a number",
                            code="invalid_cell",
                            details={"row": n, "column": _column_letter(i), "field": col},
                        ) from None
                thresholds[col] = value
            elif col == "active":
                item[col] = (
                    str(value).strip() not in ("否", "no", "false", "0", "False")
                    if value is not None
                    else True
                )
            else:
                item[col] = "" if value is None else str(value).strip()
        item["thresholds"] = thresholds
        out.append(item)
    return out
