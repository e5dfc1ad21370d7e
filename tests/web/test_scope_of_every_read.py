"""Every GET endpoint, taken from the app's route table, answers a street-scoped caller with
nothing from another street (issue 8 item 3), on a demo world (SQLite and PostgreSQL).

The routes are not listed by hand: the test walks ``app.routes``, fills each path parameter with
values from the demo data (other streets' case codes, every hot issue, ...) and calls the route as
street-scoped users of every role that can be scoped to a street. A response leaks when it holds
a case code, an area code or a report text of another street. A route added later is covered
without anyone remembering it; one with a path parameter this test cannot fill fails until a
sample is added to ``_samples``.

``NOT_CASE_DATA`` is the reasoned allow-list of routes that carry no case data at all.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.engine import Engine
from tests.conftest import BACKENDS, new_database

from cityops.accounts import service as accounts
from cityops.accounts.masking import find_personal
from cityops.areas.models import Area
from cityops.cases.models import Case, CaseLog
from cityops.config import Settings
from cityops.db import make_sessionmaker, unit_of_work
from cityops.demo.loader import load_demo
from cityops.outbox.service import deliver_pending
from cityops.triage.models import TriageQueueItem
from cityops.web.app import create_app

STREET = "330105005"  # 拱宸桥街道
OTHER = "330105001"
PASSWORD = "Scope-test-passw0rd!"
# Street-scoped callers of every role that may carry an area_code (a handler is scoped by its
# department instead). The operator is the demo account the issue was found with.
SCOPED = {
    f"street-{STREET}": "operator",
    "scoped-dispatcher": "dispatcher",
    "scoped-leader": "leader",
    "scoped-inspector": "inspector",
}

# Routes that carry no case data; each with the reason it may answer the same to everyone.
NOT_CASE_DATA: dict[str, str] = {
    "/openapi.json": "the API description",
    "/docs": "the API explorer page",
    "/login": "the sign-in form",
    "/map/areas.geojson": "the area polygons for maps: the same reference data as /api/v1/areas",
    "/report": "the empty report form",
    "/inspect/report": "the inspector's empty report form",
    "/redoc": "the API reference page",
    "/healthz": "liveness",
    "/readyz": "readiness",
    "/": "a redirect to /docs",
    "/api/v1/auth/me": "the caller's own account",
    "/api/v1/areas": "the area tree (names, codes, polygons) is reference data for maps and pickers",
    "/api/v1/areas/locate": "point → grid lookup over the same reference data",
    "/api/v1/areas/{code}": "one area of the reference tree",
    "/api/v1/areas/{code}/children": "the reference tree",
    "/api/v1/catalog/categories": "the category directory",
    "/api/v1/catalog/categories/{code}": "the category directory",
    "/api/v1/catalog/categories/{code}/time-limits": "the category directory's time limits",
    "/api/v1/catalog/responsibilities": "the responsibility list (category × area → department) is "
    "published reference data",
    "/api/v1/catalog/export.xlsx": "the catalog workbook (admin)",
    "/api/v1/departments": "the department directory",
    "/api/v1/departments/{code}": "the department directory",
    "/api/v1/calendar/overrides": "the working calendar",
    "/api/v1/triage/thresholds/{category_code}": "a routing threshold per category",
    "/api/v1/triage/gazetteer": "named places (roads, compounds) are reference data like the areas",
    "/api/v1/public/cases/{code}": "public by design: whoever holds the code sees state and dates, "
    "no text, no personal data (cases/public.py)",
    "/p/cases/{code}": "the same public view as a page",
}
# Query parameters that make list routes show as much as they can.
WIDEST: dict[str, dict[str, Any]] = {
    "/api/v1/cases": {"limit": 200},
    "/api/v1/triage/queue": {"limit": 500},
    "/api/v1/triage/hot-issues": {"days": 90, "limit": 100},
    "/api/v1/triage/hot-issues/{issue_id}": {"days": 90},
    "/api/v1/triage/accurate-dispatch": {"since": "2000-01-01"},
    "/api/v1/audit": {"limit": 200},
    "/api/v1/users": {"limit": 200},
    "/api/v1/warnings": {"limit": 500},
    "/api/v1/notifications": {"limit": 200},
}
PHONES = ("13912345678", "139-1234-5679", "0571-87654321", "13812345670")
ID_NUMBER = "33010519900307123X"
AREA_CODE = re.compile(r"^330105\d{3}(\d{3}){0,2}$")
WINDOW = 16


def walk(routes: list[Any]) -> Iterator[Any]:
    """Every route of the app, including those of included routers (FastAPI ≥ 0.16x nests them)."""
    for route in routes:
        if hasattr(route, "effective_candidates"):
            yield from walk(route.effective_candidates())
        else:
            yield route


def get_routes(app: FastAPI) -> list[Any]:
    return [r for r in walk(app.routes) if "GET" in (getattr(r, "methods", None) or ())]


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("scope")
    engine, cleanup = new_database(request.param, tmp, "scope")
    settings = Settings(demo_mode=True, worker_in_process=False, storage_dir=Path(tmp / "files"))
    load_demo(engine, settings, n_cases=2000, progress=False)
    with unit_of_work(make_sessionmaker(engine)) as session:
        for username, role in SCOPED.items():
            if not username.startswith("street-"):
                accounts.create_user(
                    session, username=username, password=PASSWORD, role=role, area_code=STREET
                )
        # The operator queue: one report placed in the street, one in another, one nowhere.
        for street, text in (
            (STREET, "拱宸桥这边路灯坏了"),
            (OTHER, "米市巷那边井盖丢了，联系我 13912345678"),
            (None, "有人乱扔垃圾，电话 0571-87654321"),
        ):
            place = (
                None
                if street is None
                else {
                    "text": "",
                    "start": 0,
                    "end": 0,
                    "kind": "street",
                    "name": "",
                    "area_code": street,
                    "grid_code": None,
                    "street_code": street,
                    "lon": None,
                    "lat": None,
                    "confidence": 0.9,
                }
            )
            session.add(TriageQueueItem(text=text, place=place, suggestions=[], driving_words=[]))
    yield {"engine": engine, "settings": settings}
    cleanup()


def _point_in(engine: Engine, street: str) -> tuple[float, float]:
    with unit_of_work(make_sessionmaker(engine)) as session:
        geometry = session.scalar(
            select(Area.geometry)
            .where(Area.level == "grid", Area.code.startswith(street))
            .order_by(Area.code)
        )
    point = shape(json.loads(geometry)).representative_point()
    return point.x, point.y


@pytest.fixture(scope="module")
def personal(world: dict[str, Any], client: TestClient) -> list[str]:
    """Reports in the street with phone and ID numbers typed into the text, a note and a return
    reason quoting them (so notifications carry one), and similar texts that make a hot issue."""
    lon, lat = _point_in(world["engine"], STREET)
    other = _point_in(world["engine"], OTHER)
    admin, dispatcher = _token(client, "admin"), _token(client, "dispatcher")
    codes = []
    for n, phone in enumerate(PHONES):
        r = client.post(
            "/api/v1/cases",
            json={
                "description": f"联系{phone}：拱宸桥桥西社区门口垃圾堆了三天没人清理，身份证{ID_NUMBER}",
                "lon": lon,
                "lat": lat + n * 1e-6,
                "category_code": "06010",
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
        codes.append(r.json()["code"])
    for action, payload in (("file", {"note": f"已核实，座机 {PHONES[2]}"}), ("dispatch", {})):
        r = client.post(f"/api/v1/cases/{codes[0]}/{action}", json=payload, headers=dispatcher)
        assert r.status_code == 200, r.text
    department = client.get(f"/api/v1/cases/{codes[0]}", headers=admin).json()["department"]["code"]
    handler = _token(client, f"handler-{department}")
    r = client.post(
        f"/api/v1/cases/{codes[0]}/return",
        json={"reason": f"不属于本单位，报告人电话 {PHONES[0]}", "misrouted": True},
        headers=handler,
    )
    assert r.status_code == 200, r.text
    # Another street's case returned with a reason: the notice goes to every dispatcher.
    foreign = client.post(
        "/api/v1/cases",
        json={"description": "米市巷井盖缺失", "lon": other[0], "lat": other[1], "category_code": "06010"},
        headers=admin,
    ).json()["code"]
    for action in ("file", "dispatch"):
        assert (
            client.post(f"/api/v1/cases/{foreign}/{action}", json={}, headers=dispatcher).status_code == 200
        )
    department = client.get(f"/api/v1/cases/{foreign}", headers=admin).json()["department"]["code"]
    r = client.post(
        f"/api/v1/cases/{foreign}/return",
        json={"reason": "不属于本单位", "misrouted": True},
        headers=_token(client, f"handler-{department}"),
    )
    assert r.status_code == 200, r.text
    with unit_of_work(make_sessionmaker(world["engine"])) as session:
        while deliver_pending(session):  # what the worker does: notifications are written
            pass
    return codes


@pytest.fixture(scope="module")
def client(world: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(
        create_app(world["settings"], engine=world["engine"]), raise_server_exceptions=False
    ) as c:
        yield c


def _token(client: TestClient, username: str) -> dict[str, str]:
    password = PASSWORD if username in SCOPED and not username.startswith("street-") else "demo"
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


@pytest.fixture(scope="module")
def facts(world: dict[str, Any], client: TestClient, personal: list[str]) -> dict[str, Any]:
    """What belongs to the street and what does not, from the database and the admin's view."""
    with unit_of_work(make_sessionmaker(world["engine"])) as session:
        rows = session.execute(select(Case.code, Case.street_code, Case.description, Case.id)).all()
        attached = session.execute(select(CaseLog.case_id, CaseLog.attachments)).all()
    own = {r.code for r in rows if r.street_code == STREET}
    foreign = {r.code for r in rows if r.street_code != STREET}
    own_texts = {r.description for r in rows if r.street_code == STREET}
    foreign_texts = {r.description for r in rows if r.street_code != STREET} - own_texts
    # Hot issues show a text's first 40 characters.
    foreign_texts |= {t[:40] for t in foreign_texts} - {t[:40] for t in own_texts}
    # Pages cut and wrap texts: any run of 16 characters found only in other streets' reports.
    own_windows = {t[i : i + WINDOW] for t in own_texts for i in range(max(1, len(t) - WINDOW + 1))}
    foreign_windows = {
        t[i : i + WINDOW] for t in foreign_texts for i in range(max(0, len(t) - WINDOW + 1))
    } - own_windows
    by_id = {r.id: r.street_code for r in rows}
    foreign_files = [
        str(a["id"] if isinstance(a, dict) else a)
        for case_id, items in attached
        if by_id.get(case_id) != STREET
        for a in items or []
    ]
    admin = _token(client, "admin")
    issues = client.get("/api/v1/triage/hot-issues", params={"days": 90, "limit": 100}, headers=admin).json()
    assert own and foreign and len(issues) >= 3, (
        "the demo world should have cases in many streets and hot issues"
    )
    return {
        "own": own,
        "foreign": foreign,
        "foreign_texts": foreign_texts,
        "foreign_windows": foreign_windows,
        "issues": [i["id"] for i in issues],
        "files": foreign_files[:5] or [str(uuid.uuid4())],
        "users": [
            u["id"] for u in client.get("/api/v1/users", params={"limit": 200}, headers=admin).json()["items"]
        ],
    }


def _samples(path: str, param: str, facts: dict[str, Any]) -> list[str]:
    """Values for a path parameter: above all things of other streets, and one of the street's own."""
    if param == "ref" or (param == "code" and path.startswith(("/cases/", "/report/"))):
        return sorted(facts["foreign"])[:15] + sorted(facts["own"])[:2]
    if param == "issue_id":
        return list(facts["issues"])
    if param == "attachment_id":
        return list(facts["files"])
    if param == "user_id":
        return list(facts["users"])[:20]
    if param == "fmt":
        return ["json", "xml"]
    if param == "request_id":  # Open311's service_request_id is the case code
        return sorted(facts["foreign"])[:5] + sorted(facts["own"])[:1]
    if param == "token":  # rating links, Open311 tokens: an unknown one must tell nothing
        return [uuid.uuid4().hex]
    if param == "signal_id":
        return [str(uuid.uuid4())]
    if param in ("camera_id", "device_id", "merchant_id"):  # the registries' admin forms
        from cityops.intake.demo import DEMO_CAMERA, DEMO_MERCHANT

        return {"camera_id": [DEMO_CAMERA], "device_id": ["demo-water-001"], "merchant_id": [DEMO_MERCHANT]}[
            param
        ]
    if param == "name" and path.startswith("/cockpit/panels/"):
        from cityops.cockpit.pages import PANELS

        return list(PANELS)
    if param == "code" and (path.startswith("/open311/") or "/knowledge-base/" in path):
        return ["06010"]  # a category: the service list is the catalog
    if path.startswith("/admin/"):  # administrator pages: a street user gets the 403 page
        samples = {
            "/admin/areas/": ["330105001", STREET],
            "/admin/categories/": ["06010"],
            "/admin/departments/": ["D01"],
            "/admin/responsibilities/": ["1"],
        }
        for prefix, values in samples.items():
            if path.startswith(prefix):
                return values
    if param == "code" and "indicators" in path:
        return ["GOV.closure_rate", "GOV.on_time_closure_rate"]
    raise AssertionError(f"add sample values for {path} {{{param}}} to _samples (or allow-list the route)")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _page_strings(html: str) -> list[str]:
    """The text nodes and attribute values of a page, unescaped."""
    import html as html_lib

    # Pickers (<select>) list every street and category: reference data, like /api/v1/areas.
    html = re.sub(r"<select\b.*?</select>", "", html, flags=re.S)
    parts = re.split(r"<[^>]*>", html)
    attributes = re.findall(r'="([^"]*)"', html)
    return [html_lib.unescape(p).strip() for p in parts + attributes if p.strip()]


def _xlsx_strings(data: bytes) -> list[str]:
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True)
    return [
        str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None
    ]


def response_strings(r: Any) -> list[str] | None:
    """Every string a response shows, for JSON, pages and Excel downloads (None: not readable)."""
    kind = r.headers.get("content-type", "")
    if kind.startswith("application/json") or kind.startswith("application/geo+json"):
        return list(_strings(r.json()))
    if kind.startswith("text/html"):
        return _page_strings(r.text)
    if "spreadsheetml" in kind:
        return _xlsx_strings(r.content)
    return None


CODE_IN_TEXT = re.compile(r"GS\d{8}-\d{5}")
AREA_IN_TEXT = re.compile(r"(?<!\d)330105\d{3}(?:\d{3}){0,2}(?!\d)")


def _leaks(body: Any, facts: dict[str, Any]) -> list[str]:
    found = []
    for s in body if isinstance(body, list) else _strings(body):
        for code in CODE_IN_TEXT.findall(s):
            if code in facts["foreign"]:
                found.append(f"case code {code}")
        for area in AREA_IN_TEXT.findall(s):
            if not area.startswith(STREET):
                found.append(f"area code {area}")
        windows = (s[i : i + WINDOW] for i in range(max(0, len(s) - WINDOW + 1)))
        hit = next((w for w in windows if w in facts["foreign_windows"]), None)
        if hit is not None:
            found.append(f"text …{hit}…")
        elif s in facts["foreign_texts"]:
            found.append(f"text {s[:20]}…")
    return found


def test_the_allow_list_names_only_existing_routes(client: TestClient) -> None:
    paths = {r.path for r in get_routes(client.app)}  # type: ignore[arg-type]
    assert set(NOT_CASE_DATA) <= paths, set(NOT_CASE_DATA) - paths


@pytest.mark.parametrize("username", list(SCOPED))
def test_no_get_route_shows_a_street_user_anything_of_another_street(
    client: TestClient, facts: dict[str, Any], personal: list[str], username: str
) -> None:
    headers = _token(client, username)
    problems: list[str] = []
    checked = 0
    for route in get_routes(client.app):  # type: ignore[arg-type]
        if route.path in NOT_CASE_DATA:
            continue
        params = [p.name for p in route.dependant.path_params]
        urls = [route.path]
        for name in params:
            urls = [u.replace("{" + name + "}", v) for u in urls for v in _samples(route.path, name, facts)]
        for url in urls:
            r = client.get(url, params=WIDEST.get(route.path, {}), headers=headers)
            checked += 1
            if r.status_code >= 500:
                problems.append(f"{url}: {r.status_code}")
                continue
            foreign_ref = any(v in facts["foreign"] for v in url.split("/"))
            if foreign_ref and r.status_code < 300:
                problems.append(f"{url}: {r.status_code} for another street's case")
            shown = response_strings(r) if r.status_code < 300 else None
            if shown is not None:
                problems += [f"{url}: {leak}" for leak in _leaks(shown, facts)[:3]]
    assert checked > 30
    assert problems == [], "\n".join(problems[:40])


def test_the_street_operator_still_sees_its_own_street(client: TestClient, facts: dict[str, Any]) -> None:
    # Not vacuous: the scoped reads return the street's cases, queue items and hot issues.
    headers = _token(client, f"street-{STREET}")
    cases = client.get("/api/v1/cases", params={"limit": 200}, headers=headers).json()["items"]
    assert cases and {c["street_code"] for c in cases} == {STREET}
    queue = client.get("/api/v1/triage/queue", headers=headers).json()
    assert [q["text"] for q in queue] == ["拱宸桥这边路灯坏了"]
    admin_queue = client.get("/api/v1/triage/queue", headers=_token(client, "admin")).json()
    assert len(admin_queue) >= 3


def test_hot_issues_of_a_street_hold_only_its_cases(client: TestClient, facts: dict[str, Any]) -> None:
    headers = _token(client, "scoped-leader")
    issues = client.get(
        "/api/v1/triage/hot-issues", params={"days": 90, "limit": 100}, headers=headers
    ).json()
    for issue in issues[:10]:
        one = client.get(f"/api/v1/triage/hot-issues/{issue['id']}", params={"days": 90}, headers=headers)
        assert one.status_code == 200
        assert set(one.json()["case_codes"]) <= facts["own"]


def test_every_time_query_parameter_takes_a_date_or_a_naive_time(client: TestClient) -> None:
    # Item 14: found from the route table as well, so a new time filter cannot 500 either.
    admin = _token(client, "admin")
    found = 0
    for route in get_routes(client.app):  # type: ignore[arg-type]
        dependant = getattr(route, "dependant", None)
        for p in dependant.query_params if dependant else ():
            if "datetime" not in str(p.field_info.annotation):
                continue
            if dependant.path_params:
                continue
            found += 1
            for value in ("2026-12-01", "2026-12-01T00:00:00", "2026-12-01 08:00", "0001-01-01T00:00:00"):
                r = client.get(route.path, params={p.alias: value}, headers=admin)
                assert r.status_code in (200, 422), (
                    f"{route.path}?{p.alias}={value}: {r.status_code} {r.text[:200]}"
                )
                if value.startswith("2026"):
                    assert r.status_code == 200, f"{route.path}?{p.alias}={value}: {r.text[:200]}"
    assert found >= 6  # cases created_from/to, audit since/until, accurate-dispatch since/until


@pytest.mark.parametrize("username", ["admin", "dispatcher", f"street-{STREET}", "scoped-leader"])
def test_no_get_route_shows_a_typed_phone_or_id_number_without_reveal(
    client: TestClient, facts: dict[str, Any], personal: list[str], username: str
) -> None:
    # Item 4, from the route table: case views, lists, logs, the triage queue, hot issues and
    # notifications all mask numbers typed into free text unless the audited reveal is asked for.
    headers = _token(client, username)
    problems: list[str] = []
    for route in get_routes(client.app):  # type: ignore[arg-type]
        if route.path in NOT_CASE_DATA:
            continue
        urls = [route.path]
        for name in [p.name for p in route.dependant.path_params]:
            values = personal[:2] if name in ("ref", "code") else _samples(route.path, name, facts)
            urls = [u.replace("{" + name + "}", v) for u in urls for v in values]
        for url in urls:
            r = client.get(url, params=WIDEST.get(route.path, {}), headers=headers)
            shown = response_strings(r) if r.status_code < 300 else None
            problems += [f"{url}: {s[:60]}" for s in shown or [] if find_personal(s)][:3]
    assert problems == [], "\n".join(problems[:40])


def test_the_numbers_are_there_to_be_masked(client: TestClient, personal: list[str]) -> None:
    # Not vacuous: the audited reveal shows them, the queue and hot issues hold them masked.
    admin = _token(client, "admin")
    shown = client.get(f"/api/v1/cases/{personal[0]}", params={"reveal": "true"}, headers=admin).json()
    assert PHONES[0] in shown["description"] and ID_NUMBER in shown["description"]
    queue = client.get("/api/v1/triage/queue", headers=admin).json()
    assert any("139****5678" in q["text"] for q in queue)
    notes = client.get("/api/v1/notifications", headers=_token(client, "dispatcher")).json()
    assert any("139****5678" in str(n["payload"]) for n in notes)
    issues = client.get("/api/v1/triage/hot-issues", params={"days": 1, "limit": 100}, headers=admin).json()
    assert any("139****5678" in i["representative"] for i in issues), [i["representative"] for i in issues]


def test_the_accurate_dispatch_rate_of_a_street_counts_only_its_cases(client: TestClient) -> None:
    params = {"since": "2000-01-01"}
    district = client.get(
        "/api/v1/triage/accurate-dispatch", params=params, headers=_token(client, "admin")
    ).json()
    street = client.get(
        "/api/v1/triage/accurate-dispatch", params=params, headers=_token(client, "scoped-dispatcher")
    ).json()
    assert 0 < street[-1]["dispatched"] < district[-1]["dispatched"]
