"""The hotline (12345) import: upload an Excel or CSV export, map its columns (the last mapping is
remembered), preview, import all or nothing with every bad row named."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import Depends, Request, Response
from starlette.datastructures import UploadFile

from cityops.accounts.principal import Principal
from cityops.errors import DomainError
from cityops.intake import hotline
from cityops.intake.pages import HOTLINE_ROLES
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.pagekit import (
    CsrfForm,
    page_roles,
    page_router,
    redirect,
)
from cityops.web.templating import N_

router = page_router(tags=["intake"])

# --- hotline (12345) import --------------------------------------------------------------------

FIELD_NAMES = {
    "order_no": N_("工单编号"),
    "text": N_("诉求内容"),
    "address": N_("事发地址"),
    "reporter_name": N_("来电人"),
    "reporter_phone": N_("联系电话"),
    "category_code": N_("类别编码"),
    "lon": N_("经度"),
    "lat": N_("纬度"),
}
PREVIEW_ROWS = 5


def _message(text: str, lang: str) -> str:
    if " / " in text:
        zh, en = text.split(" / ", 1)
        return en if lang == "en" else zh
    return text


def _upload_page(request: Request, errors: dict[str, str], status: int = 200) -> Response:
    return templating.render(
        request,
        "intake/hotline.html",
        {"step": "upload", "errors": errors, "fields": FIELD_NAMES, "required": hotline.REQUIRED},
        status_code=status,
    )


@router.get("/intake/hotline")
def hotline_page(request: Request, principal: Principal = Depends(page_roles(*HOTLINE_ROLES))) -> Response:
    return _upload_page(request, {})


@router.post("/intake/hotline/upload")
async def hotline_upload(
    request: Request, form: CsrfForm, principal: Principal = Depends(page_roles(*HOTLINE_ROLES))
) -> Response:
    """Keep the upload for the next steps and go to its column mapping and preview."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _upload_page(request, {"file": templating.t("请选择要导入的 Excel 或 CSV 文件")}, 422)
    name = upload.filename
    if not name.lower().endswith((".xlsx", ".csv")):
        return _upload_page(request, {"file": templating.t("只能导入 .xlsx 或 .csv 文件")}, 422)
    data = await upload.read(hotline.MAX_BYTES + 1)
    try:
        token = await anyio.to_thread.run_sync(hotline.stage_upload, data, name, principal.id)
    except DomainError as exc:
        return _upload_page(request, {"file": _message(exc.message, templating.lang_of(request))}, 422)
    return redirect(request, f"/intake/hotline/map?token={token}")


def _rows_of_token(token: str, principal: Principal) -> tuple[list[dict[str, Any]], str]:
    data, filename = hotline.staged_upload(token, principal.id)
    return hotline.read_table(data, filename), filename


def _chosen_mapping(values: Any, heads: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The page's field → heading choices as heading → field, with errors per field."""
    mapping: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in hotline.FIELDS:
        head = str(values.get(f"map_{field}") or "")
        if not head:
            if field in hotline.REQUIRED:
                errors[f"map_{field}"] = templating.t("请选择对应的列")
            continue
        if head not in heads:
            errors[f"map_{field}"] = templating.t("文件中没有这一列")
        elif head in mapping:
            errors[f"map_{field}"] = templating.t("每列只能对应一个字段")
        else:
            mapping[head] = field
    return mapping, errors


def _map_page(
    request: Request,
    token: str,
    filename: str,
    rows: list[dict[str, Any]],
    choice: dict[str, str],
    errors: dict[str, str],
    row_errors: list[dict[str, Any]] | None = None,
    status: int = 200,
) -> Response:
    """The mapping step: for each field the file's column, the first rows as they will be read."""
    heads = hotline.headings(rows)
    by_field = {field: head for head, field in choice.items()}
    preview = [
        {"row": n, "cells": [str(r.get(by_field[f]) or "") if f in by_field else "" for f in hotline.FIELDS]}
        for n, r in enumerate(rows[:PREVIEW_ROWS], start=2)
    ]
    lang = templating.lang_of(request)
    for err in row_errors or []:
        err["text"] = _message(str(err.get("message") or ""), lang)
        field = err.get("field")
        err["field_name"] = templating.t(FIELD_NAMES[field]) if field in FIELD_NAMES else ""
    return templating.render(
        request,
        "intake/hotline.html",
        {
            "step": "map",
            "token": token,
            "filename": filename,
            "heads": heads,
            "total": len(rows),
            "fields": FIELD_NAMES,
            "required": hotline.REQUIRED,
            "values": {f"map_{f}": h for f, h in by_field.items()},
            "errors": errors,
            "preview": preview,
            "row_errors": row_errors or [],
        },
        status_code=status,
    )


@router.get("/intake/hotline/map")
def hotline_map(
    request: Request, token: str = "", principal: Principal = Depends(page_roles(*HOTLINE_ROLES))
) -> Response:
    """Choose which column is which (the last mapping preselected) and preview the first rows."""
    try:
        rows, filename = _rows_of_token(token, principal)
    except DomainError as exc:
        return _upload_page(request, {"file": _message(exc.message, templating.lang_of(request))}, 422)
    heads = hotline.headings(rows)
    choice = hotline.guess_mapping(heads, hotline.remembered_mapping(principal.id))
    return _map_page(request, token, filename, rows, choice, {})


@router.post("/intake/hotline/map")
def hotline_remap(
    request: Request, form: CsrfForm, principal: Principal = Depends(page_roles(*HOTLINE_ROLES))
) -> Response:
    """The preview again with the mapping chosen on the page (a POST: the form carries its CSRF
    token, which must not end up in a URL)."""
    token = str(form.get("token") or "")
    try:
        rows, filename = _rows_of_token(token, principal)
    except DomainError as exc:
        return _upload_page(request, {"file": _message(exc.message, templating.lang_of(request))}, 422)
    choice, errors = _chosen_mapping(form, hotline.headings(rows))
    return _map_page(request, token, filename, rows, choice, errors, status=422 if errors else 200)


@router.post("/intake/hotline/import")
def hotline_import(
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Depends(page_roles(*HOTLINE_ROLES)),
) -> Response:
    """Import with the chosen mapping: every row checked, nothing written when any row is wrong."""
    token = str(form.get("token") or "")
    try:
        rows, filename = _rows_of_token(token, principal)
    except DomainError as exc:
        return _upload_page(request, {"file": _message(exc.message, templating.lang_of(request))}, 422)
    heads = hotline.headings(rows)
    mapping, errors = _chosen_mapping(form, heads)
    if errors:
        return _map_page(request, token, filename, rows, mapping, errors, status=422)
    hotline.remember_mapping(principal.id, mapping)
    try:
        result = hotline.import_orders(
            session, principal, rows, mapping, all_or_nothing=True, merge_duplicates=True, use_defaults=False
        )
    except DomainError as exc:
        session.rollback()
        lang = templating.lang_of(request)
        return _map_page(
            request, token, filename, rows, mapping, {"__all__": _message(exc.message, lang)}, status=422
        )
    if result["errors"]:
        return _map_page(request, token, filename, rows, mapping, {}, result["errors"], status=422)
    return templating.render(
        request, "intake/hotline.html", {"step": "done", "result": result, "filename": filename}
    )
