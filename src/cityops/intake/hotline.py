"""12345 hotline work orders: Excel/CSV exports with a column mapping, or a call-centre API.

Each row becomes a Report of the ``hotline`` channel whose channel id is the work-order number,
so importing the same export twice makes nothing twice. A bad row is reported with its number,
field and reason; through the API the other rows still go in (each in a savepoint of its own),
the import page asks for ``all_or_nothing`` (any bad row: nothing is written). A row with a
position that is clearly an open case's duplicate (``merge_duplicates``: close by, same or
related category, similar words) joins that case instead of opening another.

The page keeps an upload between its steps (mapping, preview, import) as a staged file under
``<storage_dir>/../staging/hotline/``, named by a random token and readable only by the account
that uploaded it, and remembers each account's last column mapping beside it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.errors import DomainError, Invalid
from cityops.intake.reports import submit
from cityops.intake.schemas import ReportIn

FIELDS = ("order_no", "text", "address", "reporter_name", "reporter_phone", "category_code", "lon", "lat")
REQUIRED = ("order_no", "text")
FIELD_NAMES_ZH = {
    "order_no": "工单编号",
    "text": "诉求内容",
    "address": "事发地址",
    "reporter_name": "来电人",
    "reporter_phone": "联系电话",
    "category_code": "类别编码",
    "lon": "经度",
    "lat": "纬度",
}
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
# A row joins an open case as its duplicate only when it is this sure (see duplicates.likely_duplicates).
MERGE_SCORE = 0.8
MERGE_RADIUS_M = 100.0
STAGED_SECONDS = 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


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
    try:
        return list(csv.DictReader(io.StringIO(text)))[: MAX_ROWS + 1]
    except csv.Error as exc:  # a field over the csv module's limit, a broken quote
        raise Invalid(
            f"无法读取 CSV 文件：{exc}", f"cannot read the CSV file: {exc}", code="bad_file"
        ) from None


def headings(rows: list[dict[str, Any]]) -> list[str]:
    """The file's column headings, in file order."""
    seen: dict[str, None] = {}
    for row in rows[:1]:
        for key in row:
            if key and str(key).strip():
                seen.setdefault(str(key).strip(), None)
    return list(seen)


def guess_mapping(heads: list[str], remembered: dict[str, str] | None = None) -> dict[str, str]:
    """Heading → field for ``heads``: the account's last mapping first, then the common headings."""
    out: dict[str, str] = {}
    for source in (remembered or {}, DEFAULT_MAPPING):
        for head in heads:
            field = source.get(head)
            if head not in out and field in FIELDS and field not in out.values():
                out[head] = field
    return out


def import_orders(
    session: Session,
    principal: Principal,
    rows: list[dict[str, Any]],
    mapping: dict[str, str] | None = None,
    *,
    all_or_nothing: bool = False,
    merge_duplicates: bool = False,
    use_defaults: bool = True,
) -> dict[str, Any]:
    """Import work orders; returns counts and the row errors (row 2 is the first data row).

    ``all_or_nothing``: when any row is wrong nothing is written (``applied`` is False) and every
    row's error is returned. ``merge_duplicates``: a row that is clearly the duplicate of an open
    case is counted on that case (``merged``). ``use_defaults=False``: only ``mapping`` says which
    column is which (the page's choice), not the common headings too. Each error names the
    ``column`` (the file's heading) of its field when there is one."""
    columns = {**(DEFAULT_MAPPING if use_defaults else {}), **(mapping or {})}
    if not all_or_nothing:
        return _import(session, principal, rows, columns, merge_duplicates)
    savepoint = session.begin_nested()
    result = _import(session, principal, rows, columns, merge_duplicates)
    if result["errors"]:
        savepoint.rollback()
        result.update(created=0, queued=0, merged=0, replays=0, applied=False)
    else:
        savepoint.commit()
    return result


def _import(
    session: Session,
    principal: Principal,
    rows: list[dict[str, Any]],
    columns: dict[str, str],
    merge_duplicates: bool,
) -> dict[str, Any]:
    if len(rows) > MAX_ROWS:
        raise Invalid(
            f"一次最多导入 {MAX_ROWS} 行", f"at most {MAX_ROWS} rows per import", code="too_many_rows"
        )
    bad = [v for v in columns.values() if v not in FIELDS]
    if bad:
        raise Invalid(
            f"未知的目标字段：{bad}",
            f"unknown target fields {bad}; use {', '.join(FIELDS)}",
            details={"field": "mapping"},
        )
    created = replays = queued = merged = 0
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
                    "message": f"缺少{FIELD_NAMES_ZH[missing[0]]}（{missing[0]}） / {missing[0]} is missing",
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
                if merge_duplicates and data.lon is not None and data.lat is not None:
                    data.join_case = _duplicate_of(session, data)
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
        elif done.report.outcome == "joined":
            merged += 1
        elif done.report.outcome == "queued":
            queued += 1
        else:
            created += 1
    present = {str(k).strip() for raw in rows[:1] for k in raw if k}
    heading_of: dict[str, str] = {}
    for head, field in columns.items():
        if head in present:
            heading_of.setdefault(field, head)
    for err in errors:
        err["column"] = heading_of.get(err["field"]) if err.get("field") else None
    return {
        "rows": len(rows),
        "created": created,
        "queued": queued,
        "merged": merged,
        "replays": replays,
        "errors": errors,
        "applied": True,
    }


def _duplicate_of(session: Session, data: ReportIn) -> str | None:
    """The open case this order clearly duplicates (None when not sure)."""
    from cityops.intake.duplicates import likely_duplicates

    found = likely_duplicates(
        session,
        text=data.text,
        category_code=data.category_code,
        lon=data.lon,
        lat=data.lat,
        radius_m=MERGE_RADIUS_M,
        limit=1,
    )
    if found and float(found[0]["score"]) >= MERGE_SCORE:
        return str(found[0]["case_code"])
    return None


# -- the import page's staged uploads and remembered mappings ---------------------------------


def _staging() -> Path:
    from cityops.config import get_settings

    return Path(get_settings().storage_dir).parent / "staging" / "hotline"


def stage_upload(data: bytes, filename: str, user_id: uuid.UUID) -> str:
    """Keep an upload between the page's steps; its token (only ``user_id`` may use it)."""
    read_table(data, filename)  # refuse an unreadable or oversized file now, not at the last step
    folder = _staging()
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("*.upload"):
        try:
            if now - old.stat().st_mtime > STAGED_SECONDS:
                old.unlink(missing_ok=True)
                old.with_suffix(".json").unlink(missing_ok=True)
        except OSError:
            pass
    token = secrets.token_urlsafe(18)
    suffix = ".xlsx" if filename.lower().endswith(".xlsx") else ".csv"
    (folder / f"{token}.upload").write_bytes(data)
    meta = {"user": str(user_id), "filename": Path(filename).name[:200] or f"upload{suffix}"}
    (folder / f"{token}.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    return token


def staged_upload(token: str, user_id: uuid.UUID) -> tuple[bytes, str]:
    """(data, filename) of a staged upload of ``user_id``; ``Invalid`` when it is gone or not theirs."""
    gone = Invalid(
        "上传的文件已失效，请重新上传",
        "the uploaded file has expired; upload it again",
        details={"field": "file"},
    )
    if not _TOKEN.match(token or ""):
        raise gone
    folder = _staging()
    try:
        meta = json.loads((folder / f"{token}.json").read_text("utf-8"))
        data = (folder / f"{token}.upload").read_bytes()
    except (OSError, ValueError):
        raise gone from None
    if meta.get("user") != str(user_id):
        raise gone
    return data, str(meta.get("filename") or "upload.csv")


def remembered_mapping(user_id: uuid.UUID) -> dict[str, str]:
    """The last column mapping this account imported with ({} when none)."""
    try:
        data = json.loads((_staging() / f"mapping-{user_id}.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items() if v in FIELDS} if isinstance(data, dict) else {}


def remember_mapping(user_id: uuid.UUID, mapping: dict[str, str]) -> None:
    folder = _staging()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"mapping-{user_id}.json").write_text(json.dumps(mapping, ensure_ascii=False), "utf-8")


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
