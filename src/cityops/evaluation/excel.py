"""The evaluation ranking as an Excel workbook (亮榜晒绩 for sending upward)."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

COLUMNS = (
    ("rank", "名次 rank"),
    ("rank_change", "升降 change"),
    ("code", "编码 code"),
    ("name", "名称 name"),
    ("score", "综合得分 score"),
    ("filed", "立案数 filed"),
    ("due", "应结案数 due"),
    ("closed", "结案数 closed"),
    ("closed_on_time", "按期结案数 closed on time"),
    ("closure_rate", "结案率 closure rate"),
    ("on_time_closure_rate", "按期结案率 on-time closure rate"),
    ("handled", "处置数 handled"),
    ("on_time_handling_rate", "按期处置率 on-time handling rate"),
    ("rework_rate", "返工率 rework rate"),
    ("overdue", "超期数 overdue"),
    ("avg_handle_hours", "平均处置时长(工作小时) avg handling hours"),
    ("supervision_report_rate", "监督举报率 public-report rate"),
    ("accurate_dispatch_rate", "准确派遣率 accurate dispatch rate"),
    ("satisfaction", "满意度 satisfaction"),
)
_RATES = {
    "closure_rate",
    "on_time_closure_rate",
    "on_time_handling_rate",
    "rework_rate",
    "supervision_report_rate",
    "accurate_dispatch_rate",
}


def workbook(result: dict[str, Any]) -> bytes:
    """One sheet: a title line, the header and one row per unit; rates as percentages."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = f"{result['by']} {result['period']}"[:31]
    ws.append([f"综合评价 {result['period']}（{result['from']} – {result['to']}，按 {result['by']}）"])
    ws["A1"].font = Font(bold=True)
    ws.append([label for _, label in COLUMNS])
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in result["rows"]:
        values = []
        for key, _ in COLUMNS:
            value = row.get(key)
            if value is None:
                values.append("无数据" if key not in ("rank", "rank_change") else "")
            else:
                values.append(value)
        ws.append(values)
        for (key, _), cell in zip(COLUMNS, ws[ws.max_row], strict=True):
            if key in _RATES and isinstance(cell.value, float):
                cell.number_format = "0.00%"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
