"""The workbenches through HTTP as each role uses them: the whole case journey, scoping, refusals.

The browser version of the journey is ``test_journey_browser.py``; this one runs on every
backend (SQLite and, when configured, PostgreSQL) and checks what was written.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from tests.pages.conftest import BROWSER, csrf_of, sign_in

from cityops.cases.models import Case, CaseLog
from cityops.cases.search import index_pending
from cityops.db import make_sessionmaker, unit_of_work
from cityops.workbench.citizen import FORM_LIMIT

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7V\xbd\xfa\x00\x00\x00\x00IEND\xaeB`\x82"
)
# 拱宸桥街道: a point inside a demo grid (the demo's areas are fixed).
LON, LAT = 120.1360, 30.3200


@pytest.fixture(autouse=True)
def _no_form_limit() -> Iterator[None]:
    FORM_LIMIT.reset()
    yield
    FORM_LIMIT.reset()


def _client(app_client: TestClient, user: str | None) -> TestClient:
    client = TestClient(app_client.app, raise_server_exceptions=False, headers=BROWSER)
    if user:
        sign_in(client, user)
    return client


def _point(engine: Engine) -> tuple[float, float]:
    import json

    from shapely.geometry import shape

    from cityops.areas.models import Area

    with unit_of_work(make_sessionmaker(engine)) as session:
        geometry = session.scalar(select(Area.geometry).where(Area.level == "grid").order_by(Area.code))
    p = shape(json.loads(geometry)).representative_point()
    return p.x, p.y


def _post(client: TestClient, page: str, url: str, data: dict[str, str], files: object = None) -> object:
    html = client.get(page).text
    return client.post(url, data={**data, "csrf_token": csrf_of(html)}, files=files, follow_redirects=False)


def _case(engine: Engine, code: str) -> Case:
    with unit_of_work(make_sessionmaker(engine)) as session:
        case = session.scalars(select(Case).where(Case.code == code)).one()
        session.expunge(case)
        return case


def _report(
    app_client: TestClient, engine: Engine, text: str = "小区门口的垃圾堆了三天没人清理，气味很大"
) -> str:
    citizen = _client(app_client, None)
    lon, lat = _point(engine)
    response = _post(
        citizen,
        "/report",
        "/report",
        {"description": text, "lon": str(lon), "lat": str(lat), "reporter_phone": "13800001111"},
        files={"photos": ("before.png", PNG, "image/png")},
    )
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    code = response.headers["location"].rsplit("/", 1)[1]  # type: ignore[attr-defined]
    sent = citizen.get(f"/report/sent/{code}")
    assert code in sent.text and f"/p/cases/{code}?t=" in sent.text and "<svg" in sent.text
    # Only the browser that reported sees the receipt (its QR link carries the access token).
    assert _client(app_client, None).get(f"/report/sent/{code}").status_code == 404
    return code


def test_every_main_page_is_html_in_chinese_with_csrf_in_every_form(app_client: TestClient) -> None:
    pages = {
        None: ["/login", "/report"],
        "operator": ["/home", "/operator", "/cases", "/cases?sort=deadline&q=垃圾"],
        "dispatcher": [
            "/home",
            "/dispatch",
            "/approvals",
            "/supervision",
            "/supervision?warned=1",
            "/verify",
        ],
        "handler-D06": ["/home", "/tasks"],
        "inspector": ["/home", "/verify", "/inspect/report"],
        "leader": ["/home", "/supervision", "/cases"],
        "citizen1": ["/home", "/report", "/cases"],
    }
    for user, urls in pages.items():
        client = _client(app_client, user) if user != "handler-D06" else None
        if client is None:
            client = _client(app_client, _a_handler(app_client))
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (user, url, response.text[:300])
            assert response.headers["content-type"].startswith("text/html")
            assert '<html lang="zh-CN">' in response.text
            for form in re.findall(r'<form method="post".*?</form>', response.text, re.S):
                assert (
                    'name="csrf_token" value="' in form and 'value=""' not in form.split("csrf_token")[1][:12]
                ), (url, form[:200])


def _a_handler(app_client: TestClient) -> str:
    """A handler account of the demo (one per department)."""
    from cityops.accounts.models import User

    engine = app_client.app.state.engine  # type: ignore[attr-defined]
    with unit_of_work(make_sessionmaker(engine)) as session:
        return str(
            session.scalar(select(User.username).where(User.role == "handler").order_by(User.username))
        )


def test_the_whole_journey_through_the_pages(app_client: TestClient, demo_engine: Engine) -> None:
    code = _report(app_client, demo_engine)
    case = _case(demo_engine, code)
    assert case.state == "reported" and case.source == "web"

    operator = _client(app_client, "operator")
    desk = operator.get("/operator")
    assert code in desk.text and "依据的词语" in desk.text
    suggestion = re.search(
        rf'action="/operator/{code}/accept".*?name="category_code" value="([^"]+)"', desk.text, re.S
    )
    assert suggestion
    response = _post(
        operator, "/operator", f"/operator/{code}/accept", {"category_code": suggestion.group(1)}
    )
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert _case(demo_engine, code).state == "filed"

    dispatcher = _client(app_client, "dispatcher")
    assert code in dispatcher.get("/dispatch").text
    department = _case(demo_engine, code).department_code
    assert department, "the responsibility list suggests a department"
    response = _post(
        dispatcher,
        "/dispatch",
        f"/cases/{code}/do/dispatch",
        {"department_code": department, "next": "/dispatch"},
    )
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert _case(demo_engine, code).state == "dispatched"

    handler = _client(app_client, f"handler-{department}")
    assert code in handler.get("/tasks").text
    assert _post(handler, "/tasks", f"/cases/{code}/do/accept", {}).status_code == 303  # type: ignore[attr-defined]
    response = _post(
        handler,
        "/tasks",
        f"/cases/{code}/do/handle",
        {"note": "已安排保洁清运垃圾，现场已清理干净并消毒"},
        files={"photos": ("after.png", PNG, "image/png")},
    )
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    assert _case(demo_engine, code).state == "handled"

    inspector = _client(app_client, "inspector")
    assert code in inspector.get("/verify").text
    response = _post(inspector, "/verify", f"/cases/{code}/do/verify", {"passed": "1", "note": "现场已清理"})
    assert response.status_code == 303  # type: ignore[attr-defined]
    response = _post(dispatcher, f"/cases/{code}", f"/cases/{code}/do/close", {})
    assert response.status_code == 303  # type: ignore[attr-defined]
    assert _case(demo_engine, code).state == "closed"

    page = dispatcher.get(f"/cases/{code}")
    assert page.text.count("/api/v1/attachments/") >= 2  # the citizen's and the handler's photo
    link = re.search(r'href="(/p/cases/[^"]+)" class="link"', page.text)
    assert link
    public = _client(app_client, None).get(link.group(1).replace("&amp;", "&"))
    assert public.status_code == 200 and "已结案" in public.text and "办理经过" in public.text
    assert "13800001111" not in public.text


def test_handler_of_another_department_gets_a_403_page(app_client: TestClient, demo_engine: Engine) -> None:
    code = _report(app_client, demo_engine)
    operator = _client(app_client, "operator")
    _post(operator, "/operator", f"/cases/{code}/do/file", {})
    dispatcher = _client(app_client, "dispatcher")
    department = _case(demo_engine, code).department_code
    _post(dispatcher, "/dispatch", f"/cases/{code}/do/dispatch", {"department_code": str(department)})
    from cityops.accounts.models import User

    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        other = session.scalar(
            select(User.username).where(User.role == "handler", User.department_code != department).limit(1)
        )
    page = _client(app_client, str(other)).get(f"/cases/{code}")
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert "不在您的职责范围内" in page.text and "垃圾堆了三天" not in page.text
    assert _client(app_client, "operator").get("/cases/GS19990101-99999").status_code == 404


def test_action_not_allowed_in_the_state_says_why_and_writes_nothing(
    app_client: TestClient, demo_engine: Engine
) -> None:
    code = _report(app_client, demo_engine)
    before = _case(demo_engine, code)
    dispatcher = _client(app_client, "dispatcher")
    response = _post(dispatcher, f"/cases/{code}", f"/cases/{code}/do/close", {})
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert "不能执行“结案”" in response.text  # type: ignore[attr-defined]
    after = _case(demo_engine, code)
    assert (after.state, after.version) == (before.state, before.version)


def test_missing_reason_is_shown_next_to_the_field(app_client: TestClient, demo_engine: Engine) -> None:
    code = _report(app_client, demo_engine)
    operator = _client(app_client, "operator")
    response = _post(operator, f"/cases/{code}", f"/cases/{code}/do/reject", {"reason": ""})
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert 'id="reason-error"' in response.text  # type: ignore[attr-defined]
    assert _case(demo_engine, code).state == "reported"


def test_report_form_refuses_bad_photos_and_keeps_the_text(
    app_client: TestClient, demo_engine: Engine
) -> None:
    citizen = _client(app_client, None)
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        before = session.scalar(select(func.count()).select_from(Case))
    lon, lat = _point(demo_engine)
    text = "路灯坏了一个星期，晚上很黑"
    response = _post(
        citizen,
        "/report",
        "/report",
        {"description": text, "lon": str(lon), "lat": str(lat)},
        files={"photos": ("note.png", b"not an image at all", "image/png")},
    )
    assert response.status_code == 415  # type: ignore[attr-defined]
    assert 'id="photos-error"' in response.text and text in response.text  # type: ignore[attr-defined]
    big = PNG + b"\0" * (app_client.app.state.settings.max_upload_bytes)  # type: ignore[attr-defined]
    response = _post(
        citizen,
        "/report",
        "/report",
        {"description": text, "lon": str(lon), "lat": str(lat)},
        files={"photos": ("big.png", big[: app_client.app.state.settings.max_upload_bytes + 1], "image/png")},  # type: ignore[attr-defined]
    )
    assert response.status_code == 413, response.text[:300]  # type: ignore[attr-defined]
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        assert session.scalar(select(func.count()).select_from(Case)) == before  # nothing half-written


def test_report_form_field_errors(app_client: TestClient) -> None:
    citizen = _client(app_client, None)
    response = _post(citizen, "/report", "/report", {"description": "短", "reporter_phone": "abc"})
    assert response.status_code == 422  # type: ignore[attr-defined]
    body = response.text  # type: ignore[attr-defined]
    assert 'id="description-error"' in body and 'id="reporter_phone-error"' in body and "短" in body
    response = _post(citizen, "/report", "/report", {"description": "人行道上的井盖丢失了很危险"})
    assert 'id="address-error"' in response.text  # type: ignore[attr-defined]


def test_double_submit_makes_one_case(app_client: TestClient, demo_engine: Engine) -> None:
    citizen = _client(app_client, None)
    html = citizen.get("/report").text
    key = re.search(r'name="key" value="([^"]+)"', html)
    assert key
    lon, lat = _point(demo_engine)
    data = {
        "description": "公园长椅坏了两条腿",
        "lon": str(lon),
        "lat": str(lat),
        "key": key.group(1),
        "csrf_token": csrf_of(html),
    }
    first = citizen.post("/report", data=data, follow_redirects=False)
    second = citizen.post("/report", data=data, follow_redirects=False)
    assert first.headers["location"] == second.headers["location"]


def test_report_form_is_rate_limited(app_client: TestClient, demo_engine: Engine) -> None:
    citizen = _client(app_client, None)
    lon, lat = _point(demo_engine)
    statuses = [
        _post(
            citizen,
            "/report",
            "/report",
            {"description": f"第{i}次反映：楼道里堆满杂物", "lon": str(lon), "lat": str(lat)},
        ).status_code  # type: ignore[attr-defined]
        for i in range(FORM_LIMIT.limit + 1)
    ]
    assert statuses[:-1] == [303] * FORM_LIMIT.limit and statuses[-1] == 429


def test_search_finds_chinese_text_like_a_substring_search(
    app_client: TestClient, demo_engine: Engine
) -> None:
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        index_pending(session)
        expected = session.scalar(
            select(func.count()).select_from(Case).where(Case.description.like("%垃圾%"))
        )
    assert expected
    dispatcher = _client(app_client, "dispatcher")
    page = dispatcher.get("/cases", params={"q": "垃圾"})
    assert f'data-total="{expected}"' in page.text
    api = dispatcher.get("/api/v1/cases", params={"q": "垃圾", "with_total": "true", "limit": 5})
    assert api.json()["total"] == expected and all("垃圾" in c["description"] for c in api.json()["items"])
    none = dispatcher.get("/cases", params={"q": "这句话不会出现在任何案件里"})
    assert 'data-total="0"' in none.text


def test_sort_by_remaining_working_time(app_client: TestClient) -> None:
    dispatcher = _client(app_client, "dispatcher")
    body = dispatcher.get(
        "/api/v1/cases", params={"sort": "deadline", "state": "dispatched,accepted", "limit": 50}
    ).json()
    deadlines = [c["deadline"] for c in body["items"] if c["deadline"]]
    assert deadlines == sorted(deadlines) and body["total"] >= len(body["items"])
    page = dispatcher.get("/supervision")
    remaining = [int(x) for x in re.findall(r'data-remaining="(-?\d+)"', page.text)]
    assert remaining == sorted(remaining)


def test_ledger_exports_to_excel_with_every_row(app_client: TestClient) -> None:
    dispatcher = _client(app_client, "dispatcher")
    total = int(re.search(r'data-total="(\d+)"', dispatcher.get("/cases?state=closed").text).group(1))  # type: ignore[union-attr]
    response = dispatcher.get("/cases/export.xlsx?state=closed")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "案件编号" and len(rows) - 1 == total
    assert _client(app_client, "citizen1").get("/cases/export.xlsx").status_code == 403


def test_handler_sees_only_their_department(app_client: TestClient, demo_engine: Engine) -> None:
    handler = _a_handler(app_client)
    client = _client(app_client, handler)
    page = client.get("/tasks")
    codes = set(re.findall(r'data-case="([^"]+)"', page.text))
    department = handler.removeprefix("handler-")
    with unit_of_work(make_sessionmaker(demo_engine)) as session:
        for code in codes:
            case = session.scalars(select(Case).where(Case.code == code)).one()
            tasks = session.scalars(select(CaseLog.data).where(CaseLog.case_id == case.id)).all()
            assert case.department_code == department or any(department in str(t) for t in tasks)
    assert client.get("/dispatch").status_code == 403
