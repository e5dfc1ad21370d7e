"""The administrator's home (``/admin``): the admin pages as a link list, with what needs looking at.

The pages themselves live in their capabilities (``areas/pages.py``, ``catalog/pages.py``,
``accounts/pages.py``, ``cases/pages.py``); this page only counts through their services.
"""

from __future__ import annotations

from fastapi import Depends, Request, Response

from cityops.accounts import service as accounts
from cityops.accounts.principal import Principal
from cityops.areas import service as areas
from cityops.cases import calendar
from cityops.catalog import service as catalog
from cityops.web import templating
from cityops.web.deps import ReadSessionDep
from cityops.web.pagekit import page_roles, page_router
from cityops.web.pages import ROLE_HOME
from cityops.web.templating import N_

router = page_router(tags=["workbench"])
ROLE_HOME["admin"] = "/admin"
templating.add_nav("/admin", N_("系统管理"), ["admin"], order=90)


@router.get("/admin")
def admin_home(
    request: Request, session: ReadSessionDep, _admin: Principal = Depends(page_roles("admin"))
) -> Response:
    _users, users = accounts.list_users(session, active=True, limit=1)
    _inactive, inactive = accounts.list_users(session, active=False, limit=1)
    _cats, categories = catalog.list_categories(session, active=True, limit=1)
    _rows, responsibilities = catalog.list_responsibilities(session, limit=1)
    counts = {
        "users": users,
        "inactive": inactive,
        "departments": len(accounts.list_departments(session, active=True)),
        "streets": len(areas.list_areas(session, level="street")),
        "categories": categories,
        "responsibilities": responsibilities,
    }
    return templating.render(
        request,
        "workbench/admin.html",
        {"counts": counts, "warnings": calendar.calendar_warnings(session)},
    )
