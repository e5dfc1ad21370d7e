"""What the workbench pages share: names for codes, the list filters, rows with remaining time.

Names (streets, categories, departments) are read once per request through each capability's
service; lists are counted and paged in SQL by ``cases.service.page_cases`` with the caller's
scope, so a page never shows a case the API would not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy.orm import Session

from cityops.accounts.principal import Principal
from cityops.areas import service as areas
from cityops.cases import service as cases
from cityops.cases.models import Case
from cityops.cases.queries import CaseFilters
from cityops.cases.transitions import BY_ACTION, STATE_NAMES_ZH, allowed_actions
from cityops.catalog import departments as catalog_departments
from cityops.catalog import service as catalog
from cityops.db import utcnow
from cityops.errors import Invalid
from cityops.kit.workcal import LOCAL_TZ
from cityops.web import templating
from cityops.web.pagekit import Paging

PAGE_SIZE = 50
# Lists count their total only this far (then "超过 N 条"): an exact count reads every matching
# case, 60–150 ms for a million and 0.4–2 s for a common word's 200,000 (docs/benchmarks.md).
# A search is counted less far: each match costs a probe of the index and a read of the case.
COUNT_CAP = 10_000
SEARCH_COUNT_CAP = 1_000
# Cases with less than this much counted time left are shown as "nearly due".
SOON_SECONDS = 4 * 3600

STATE_OPTIONS = tuple(STATE_NAMES_ZH)


# Streets, categories and departments change only by an administrator's edit; every list page
# names hundreds of codes, so the maps are kept per database for a minute.
NAMES_TTL = 60.0
_NAMES: dict[tuple[str, str], tuple[dict[str, str], float]] = {}


def _cached(session: Session, kind: str, load: Any) -> dict[str, str]:
    import time

    key = (str(session.get_bind().engine.url), kind)
    hit = _NAMES.get(key)
    if hit is not None and hit[1] > time.monotonic():
        return hit[0]
    value: dict[str, str] = load()
    _NAMES[key] = (value, time.monotonic() + NAMES_TTL)
    return value


def forget_names() -> None:
    _NAMES.clear()


@dataclass
class Names:
    """Code → name maps (cached for a minute per database)."""

    session: Session

    @property
    def streets(self) -> dict[str, str]:
        return _cached(
            self.session,
            "streets",
            lambda: {a.code: a.name for a in areas.list_areas(self.session, level="street")},
        )

    @property
    def categories(self) -> dict[str, str]:
        def load() -> dict[str, str]:
            rows, _total = catalog.list_categories(self.session, active=True, limit=5000)
            return {c.code: c.name for c in rows}

        return _cached(self.session, "categories", load)

    @property
    def departments(self) -> dict[str, str]:
        def load() -> dict[str, str]:
            return {d.code: d.name for d in catalog_departments.list_departments(self.session, active=True)}

        return _cached(self.session, "departments", load)

    def street(self, code: str | None) -> str:
        return self.streets.get(code or "", code or "—")

    def category(self, code: str | None) -> str:
        return self.categories.get(code or "", code or "—")

    def department(self, code: str | None) -> str:
        return self.departments.get(code or "", code or "—")


def state_name(state: str) -> str:
    return templating.t(STATE_NAMES_ZH.get(state, state))


def action_name(action: str) -> str:
    if action == "create":
        return templating.t("上报")
    if action == "attach":
        return templating.t("补充照片")
    t = BY_ACTION.get(action)
    return templating.t(t.zh) if t and t.zh else action


@dataclass
class Row:
    """One case in a list, with what the list shows beside it."""

    case: Case
    remaining: float | None

    @property
    def left_class(self) -> str:
        if self.remaining is None:
            return ""
        if self.remaining < 0:
            return "over"
        return "soon" if self.remaining < SOON_SECONDS else ""


def rows_of(session: Session, found: list[Case], now: datetime | None = None) -> list[Row]:
    now = now or utcnow()
    return [Row(c, cases.remaining_seconds(session, c, now)) for c in found]


@dataclass
class ListQuery:
    """The filters of a list page, from its query string (all optional)."""

    street: str | None = None
    category: str | None = None
    department: str | None = None
    state: str | None = None
    period_from: str | None = None
    period_to: str | None = None
    q: str | None = None
    sort: str = "newest"
    offset: int = 0
    overdue: bool | None = None
    warned: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_request(cls, request: Request, **defaults: Any) -> ListQuery:
        p = request.query_params

        def text(name: str) -> str | None:
            value = (p.get(name) or "").strip()
            return value[:100] or None

        def flag(name: str) -> bool | None:
            value = p.get(name)
            return None if value in (None, "") else value in ("1", "true", "yes")

        try:
            offset = max(0, min(int(p.get("offset") or 0), 10_000_000))
        except ValueError:
            offset = 0
        sort = p.get("sort") or defaults.pop("sort", "newest")
        query = cls(
            street=text("street"),
            category=text("category"),
            department=text("department"),
            state=text("state"),
            period_from=text("from"),
            period_to=text("to"),
            q=text("q"),
            sort=sort if sort in cases.SORTS else "newest",
            offset=offset,
            overdue=flag("overdue"),
            warned=flag("warned"),
        )
        for key, value in defaults.items():
            if getattr(query, key) is None:
                setattr(query, key, value)
        return query

    def _day(self, value: str | None, name: str) -> datetime | None:
        if not value:
            return None
        try:
            day = datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            raise Invalid("日期格式应为 年-月-日", "dates are YYYY-MM-DD", details={"field": name}) from None
        return day.replace(tzinfo=LOCAL_TZ)

    def filters(self) -> CaseFilters:
        to = self._day(self.period_to, "to")
        return CaseFilters(
            state=self.state,
            category_code=self.category,
            street_code=self.street,
            department_code=self.department,
            overdue=self.overdue,
            warned=self.warned,
            created_from=self._day(self.period_from, "from"),
            created_to=to + timedelta(days=1) if to else None,  # the "to" day is included
            text=self.q,
        )

    def values(self) -> dict[str, str]:
        """The query as the filter bar shows it."""
        return {
            "street": self.street or "",
            "category": self.category or "",
            "department": self.department or "",
            "state": self.state or "",
            "from": self.period_from or "",
            "to": self.period_to or "",
            "q": self.q or "",
        }


def filter_fields(
    names: Names, *, with_department: bool = True, with_state: bool = True
) -> list[dict[str, Any]]:
    """The filter bar of case lists: street, category, department, state, period, text."""
    fields: list[dict[str, Any]] = [
        {
            "name": "q",
            "label": templating.t("搜索"),
            "type": "search",
            "placeholder": templating.t("描述中的文字"),
        },
        {"name": "street", "label": templating.t("街道"), "options": sorted(names.streets.items())},
        {"name": "category", "label": templating.t("类别"), "options": sorted(names.categories.items())},
    ]
    if with_department:
        fields.append(
            {
                "name": "department",
                "label": templating.t("处置部门"),
                "options": sorted(names.departments.items()),
            }
        )
    if with_state:
        fields.append(
            {
                "name": "state",
                "label": templating.t("状态"),
                "options": [(s, state_name(s)) for s in STATE_OPTIONS],
            }
        )
    fields += [
        {"name": "from", "label": templating.t("上报日期从"), "type": "date"},
        {"name": "to", "label": templating.t("至"), "type": "date"},
    ]
    return fields


def count_cap(query: ListQuery) -> int:
    return SEARCH_COUNT_CAP if query.q else COUNT_CAP


def page_of(
    session: Session, principal: Principal, query: ListQuery, limit: int = PAGE_SIZE
) -> tuple[list[Row], Paging]:
    """A page of the list and where it is; the total is counted up to :func:`count_cap`."""
    return paged(session, principal, query, query.filters(), limit)


def paged(
    session: Session, principal: Principal, query: ListQuery, filters: CaseFilters, limit: int = PAGE_SIZE
) -> tuple[list[Row], Paging]:
    cap = count_cap(query)
    found, total = cases.page_cases(
        session, principal, filters, sort=query.sort, offset=query.offset, limit=limit, count_cap=cap
    )
    page = Paging.counted(total, offset=query.offset, limit=limit, bound=query.offset + cap)
    return rows_of(session, found), page


def actions_for(session: Session, principal: Principal, case: Case) -> list[str]:
    """The actions ``principal`` may take on ``case`` now: state, role and department/reporter."""
    from cityops.cases.queries import tasks_of

    open_task_departments = {
        t.department_code for t in tasks_of(session, case.id) if t.state in ("dispatched", "accepted")
    }
    out = []
    for action in allowed_actions(case):
        t = BY_ACTION[action]
        if principal.role not in t.roles:
            continue
        if t.scope == "lead" and principal.department_code != case.department_code:
            continue
        if t.scope == "task" and principal.department_code not in open_task_departments - {
            case.department_code
        }:
            continue
        if t.scope == "reporter" and principal.role == "citizen" and case.reporter_user_id != principal.id:
            continue
        out.append(action)
    return out
