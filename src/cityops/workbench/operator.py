"""The intake operator's workbench (受理员): reported cases with triage's suggestions, the queue.

Each reported case shows triage's three suggestions with the words that drove them; one click
on a suggestion files the case under that category (recategorising first when it differs), or
the operator picks another category or rejects with a reason. Below, triage's low-confidence
queue (reports that have no case yet): choosing a category creates, files and dispatches the
case through ``triage.service.resolve_queue_item``, as the API does.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request, Response
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service as cases
from cityops.cases.models import Case
from cityops.cases.schemas import ActionInput
from cityops.errors import DomainError, Invalid
from cityops.triage import service as triage
from cityops.web import templating
from cityops.web.deps import SessionDep
from cityops.web.pagekit import CsrfForm, Paging, page_roles, page_router, redirect, safe_next
from cityops.web.templating import N_
from cityops.workbench.common import ListQuery, Names, filter_fields, page_of, state_name

router = page_router(tags=["workbench"])

OPERATORS = ("operator", "dispatcher", "admin")
templating.add_nav("/operator", N_("受理"), ["operator", "admin"], 10)

LIST_SIZE = 20


@dataclass(frozen=True)
class Suggestion:
    category_code: str
    category_name: str
    probability: float
    department_code: str | None
    department_name: str | None


@dataclass(frozen=True)
class Suggested:
    suggestions: list[Suggestion]
    words: list[str]


# Triage's answer for a case's text and point does not change while the model stays the same;
# lists show the same reported cases many times, so it is kept (bounded) per case and model.
_CACHE: dict[tuple[uuid.UUID, int], Suggested] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 5000


def _suggest(session: Session, names: Names, text: str, lon: float | None, lat: float | None) -> Suggested:
    decision = triage.route_report(session, text, lon, lat, enqueue=False)
    out = [
        Suggestion(
            s.category_code,
            names.category(s.category_code),
            s.probability,
            s.department_code,
            names.department(s.department_code) if s.department_code else None,
        )
        for s in decision.suggestions[:3]
    ]
    return Suggested(out, list(decision.driving_words))


def suggestions_for(session: Session, case: Case, names: Names | None = None) -> Suggested:
    names = names or Names(session)
    key = (case.id, id(triage.get_classifier(session)))
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    try:
        found = _suggest(session, names, case.description, case.lon, case.lat)
    except DomainError:
        found = Suggested([], [])  # triage refused the text (e.g. too short): the operator picks
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = found
    return found


def _queue(session: Session, principal: Principal, names: Names) -> list[dict[str, Any]]:
    """Triage's open queue; district-wide staff only (it is not split by street)."""
    if not principal.is_district_wide:
        return []
    items = []
    for item in triage.list_queue(session, limit=LIST_SIZE):
        suggestions = [
            Suggestion(
                s.get("category_code", ""),
                names.category(s.get("category_code")),
                float(s.get("probability") or 0.0),
                s.get("department_code"),
                names.department(s.get("department_code")) if s.get("department_code") else None,
            )
            for s in (item.suggestions or [])[:3]
        ]
        items.append({"item": item, "suggestions": suggestions, "words": item.driving_words or []})
    return items


@router.get("/operator")
def operator_desk(
    request: Request, session: SessionDep, principal: Principal = Depends(page_roles(*OPERATORS))
) -> Response:
    query = ListQuery.from_request(request, state="reported")
    names = Names(session)
    rows, page = page_of(session, principal, query, limit=LIST_SIZE)
    suggested = {
        r.case.id: suggestions_for(session, r.case, names) for r in rows if r.case.state == "reported"
    }
    queue = _queue(session, principal, names)
    return templating.render(
        request,
        "workbench/operator.html",
        {
            "rows": rows,
            "page": page,
            "suggested": suggested,
            "queue": queue,
            "queue_page": Paging(total=len(queue), offset=0, limit=LIST_SIZE),
            "names": names,
            "fields": filter_fields(names, with_department=False),
            "values": query.values(),
            "state_name": state_name,
            "categories": sorted(names.categories.items()),
        },
    )


@router.post("/operator/{code}/accept")
def accept_suggestion(
    code: str,
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Depends(page_roles(*OPERATORS)),
) -> Response:
    """File the case under the chosen category (recategorising first when it differs)."""
    category = str(form.get("category_code") or "").strip()
    if not category:
        raise Invalid("请选择问题类别", "Choose a category", details={"field": "category_code"})
    case = cases.get_case(session, principal, code)
    rid = getattr(request.state, "request_id", None)
    if category != case.category_code:
        note = templating.t("受理时改类")
        cases.perform_action(
            session,
            principal,
            case.id,
            "recategorize",
            ActionInput(category_code=category, note=note),
            request_id=rid,
        )
    cases.perform_action(session, principal, case.id, "file", ActionInput(), request_id=rid)
    message = templating.t("已立案：%(code)s", code=code)
    return redirect(request, safe_next(str(form.get("next") or ""), "/operator"), message)


@router.post("/operator/queue/{item_id}")
def resolve_queued(
    item_id: uuid.UUID,
    request: Request,
    form: CsrfForm,
    session: SessionDep,
    principal: Principal = Depends(page_roles(*OPERATORS)),
) -> Response:
    category = str(form.get("category_code") or "").strip()
    if not category:
        raise Invalid("请选择问题类别", "Choose a category", details={"field": "category_code"})
    _item, case = triage.resolve_queue_item(session, item_id, category, principal)
    message = (
        templating.t("已生成案件 %(code)s（%(state)s）", code=case.code, state=state_name(case.state))
        if case is not None
        else templating.t("已分拣")
    )
    return redirect(request, "/operator", message)
