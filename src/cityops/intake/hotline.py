"""12345 hotline work orders: Excel/CSV exports with a column mapping, or a call-centre API.

Each row becomes a Report of the ``hotline`` channel whose channel id is the work-order number,
so importing the same export twice makes nothing twice. A bad row is reported with its number,
field and reason, and the other rows still go in (each in a savepoint of its own).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.errors import DomainError, Invalid
from cityops.intake.reports import submit
from cityops.intake.schemas import ReportIn

FIELDS = ("order_no", "text", "address", "reporter_name", "reporter_phone", "category_code", "lon", "lat")
REQUIRED = ("order_no", "text")
# Column headings of common 12345 exports → our fields (a mapping given with the upload wins).
DEFAULT_MAPPING = {
    "工单编号": "order_no",
    "工单号": "order_no",
    "诉求内容": "text",
    "问题描述": "text",
    "事发地址": "address",
    "地址": "address",
    "来电人": "reporter_name",
    "联系人": "reporter_name",
    "联系电话": "reporter_phone",
    "来电号码": "reporter_phone",
    "类别编码": "category_code",
    "经度": "lon",
    "纬度": "lat",
}
MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024


def read_table(data: bytes, filename: str) -> list[dict[str, Any]]:
    """Rows of an .xlsx or .csv export as dicts by heading."""
    if len(data) > MAX_BYTES:
        raise Invalid("文件过大（最多 5 MB）", "file too large (at most 5 MB)", code="too_large")
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        except Exception:
            raise Invalid("无法读取 Excel 文件", "cannot read the Excel file", code="bad_file") from None
        rows = list(sheet.iter_rows(values_only=True)) if sheet is not None else []
        if not rows:
            return []
        heads = [str(h or "").strip() for h in rows[0]]
        return [dict(zip(heads, r, strict=False)) for r in rows[1 : MAX_ROWS + 2]]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030", errors="replace")  # exports from Chinese Excel are often GBK
    return list(csv.DictReader(io.StringIO(text)))[: MAX_ROWS + 1]


def import_orders(
    session: Session, principal: Principal, rows: list[dict[str, Any]], mapping: dict[str, str] | None = None
) -> dict[str, Any]:
    """Import work orders; returns counts and the row errors (row 2 is the first data row)."""
    if len(rows) > MAX_ROWS:
        raise Invalid(
            f"一次最多导入 {MAX_ROWS} 行", f"at most {MAX_ROWS} rows per import", code="too_many_rows"
        )
    columns = {**DEFAULT_MAPPING, **(mapping or {})}
    bad = [v for v in columns.values() if v not in FIELDS]
    if bad:
        raise Invalid(
            f"未知的目标字段：{bad}",
            f"unknown target fields {bad}; use {', '.join(FIELDS)}",
            details={"field": "mapping"},
        )
    created = replays = queued = 0
    errors: list[dict[str, Any]] = []
    for number, raw in enumerate(rows, start=2):
        row = {
            columns[k.strip()]: v
            for k, v in raw.items()
            if k and k.strip() in columns and v not in (None, "")
        }
        missing = [f for f in REQUIRED if not str(row.get(f, "")).strip()]
        if missing:
            errors.append(
                {
                    "row": number,
                    "field": missing[0],
                    "message": f"缺少 {missing[0]} / {missing[0]} is missing",
                }
            )
            continue
        try:
            data = ReportIn(
                channel="hotline",
                channel_ref=str(row["order_no"]).strip()[:128],
                text=str(row["text"]),
                address=_s(row.get("address")),
                reporter_name=_s(row.get("reporter_name")),
                reporter_phone=_s(row.get("reporter_phone")),
                category_code=_s(row.get("category_code")),
                lon=_f(row.get("lon")),
                lat=_f(row.get("lat")),
                payload={k: str(v) for k, v in raw.items() if k},
            )
            with session.begin_nested():
                done = submit(session, principal, data)
        except DomainError as exc:
            field = exc.details.get("field") if isinstance(exc.details, dict) else None
            errors.append({"row": number, "field": field, "message": exc.message})
            continue
        except ValueError as exc:
            errors.append({"row": number, "field": None, "message": str(exc)[:200]})
            continue
        if not done.created:
            replays += 1
        elif done.report.outcome == "queued":
            queued += 1
        else:
            created += 1
    return {"rows": len(rows), "created": created, "queued": queued, "replays": replays, "errors": errors}


def _s(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _f(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise Invalid("经纬度必须是数字", "lon/lat must be numbers", details={"field": "lon"}) from None
