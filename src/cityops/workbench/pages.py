"""The home page of each role: what this person has to do now, as counts linking to the lists.

Counts come from ``cases.service.count_cases`` with the caller's own scope, so a handler's home
counts only their department's cases, exactly as the API would list them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.cases import service as cases
from cityops.cases.queries import CaseFilters
from cityops.web import templating
from cityops.web.deps import ReadSessionDep
from cityops.web.pagekit import PagePrincipal, page_router
from cityops.web.templating import N_

router = page_router(tags=["workbench"])

templating.add_nav(
    "/home", "首页", ["operator", "dispatcher", "handler", "inspector", "leader", "admin", "citizen"], 0
)


@dataclass(frozen=True)
class Tile:
    href: str
    label: str  # Chinese message id
    count: int | None  # None: an action, not a count
    tone: str = ""  # "", "warn" or "bad"


def _count(session: Session, principal: Principal, **filters: object) -> int:
    return cases.count_cases(session, principal, CaseFilters(**filters))  # type: ignore[arg-type]


OPEN = "reported,filed,dispatched,accepted,returned,handled,rework,verified,parked"


def tiles_for(session: Session, principal: Principal) -> list[Tile]:
    """The to-do counts of ``principal``'s role (each a link to the list it counts)."""
    role = principal.role
    if role == "operator":
        return [
            Tile("/operator?state=reported", N_("待受理"), _count(session, principal, state="reported")),
            Tile("/operator?state=verified", N_("待结案"), _count(session, principal, state="verified")),
            Tile("/cases", N_("全部案件"), _count(session, principal)),
        ]
    if role == "dispatcher":
        return [
            Tile("/dispatch", N_("待派遣"), _count(session, principal, state="filed,returned")),
            Tile(
                "/approvals",
                N_("待审批"),
                _count(session, principal, state=OPEN, needs_approval=True),
                "warn",
            ),
            Tile("/supervision", N_("已超时"), _count(session, principal, state=OPEN, overdue=True), "bad"),
            Tile(
                "/supervision?warned=1",
                "即将超时",
                _count(session, principal, state=OPEN, warned=True, overdue=False),
                "warn",
            ),
            Tile("/verify", N_("待核查"), _count(session, principal, state="handled")),
            Tile("/operator?state=verified", N_("待结案"), _count(session, principal, state="verified")),
        ]
    if role == "handler":
        return [
            Tile("/tasks?state=dispatched", N_("待接收"), _count(session, principal, state="dispatched")),
            Tile(
                "/tasks?state=accepted,rework", "处置中", _count(session, principal, state="accepted,rework")
            ),
            Tile(
                "/tasks?overdue=1",
                "已超时",
                _count(session, principal, state="dispatched,accepted,rework", overdue=True),
                "bad",
            ),
        ]
    if role == "inspector":
        return [
            Tile("/verify", N_("待核查"), _count(session, principal, state="handled")),
            Tile("/inspect/report", N_("上报问题"), None),
        ]
    if role == "citizen":
        return [
            Tile("/report", N_("反映问题"), None),
            Tile("/cases", N_("我的上报"), _count(session, principal)),
        ]
    return [
        Tile("/cases?state=" + OPEN, N_("在办案件"), _count(session, principal, state=OPEN)),
        Tile("/supervision", N_("已超时"), _count(session, principal, state=OPEN, overdue=True), "bad"),
        Tile("/cases?state=closed", N_("已结案"), _count(session, principal, state="closed")),
    ]


@router.get("/home")
def home(request: Request, principal: PagePrincipal, session: ReadSessionDep) -> Response:
    return templating.render(request, "workbench/home.html", {"tiles": tiles_for(session, principal)})


# The workbenches' own modules; their routes are served through this router.
def _include_workbenches() -> None:
    from cityops.workbench import admin, citizen, dispatch, field, ledger, operator

    for module in (operator, dispatch, field, citizen, ledger, admin):
        router.include_router(module.router)


_include_workbenches()
