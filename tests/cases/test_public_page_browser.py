"""A real browser opens a case's public status page, as a citizen scanning its QR code would.

The app runs under uvicorn on a free local port; Debian's headless Chromium loads
``/p/cases/{code}``, dumps the rendered DOM and takes a screenshot. Skips when Chromium is not
installed (``.ci/run`` installs it with apt).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from shapely.geometry import shape
from sqlalchemy import select
from sqlalchemy.engine import Engine
from tests.serving import CHROMIUM, NO_CHROMIUM, demo_server

from cityops.areas.models import Area
from cityops.cases.transitions import STATE_NAMES_ZH
from cityops.config import DEFAULT_SECRET
from cityops.db import make_sessionmaker, unit_of_work

pytestmark = pytest.mark.skipif(not CHROMIUM, reason=NO_CHROMIUM)

GONGCHENQIAO = "330105005"  # 拱宸桥街道
GARBAGE = "06010"  # 暴露垃圾
REPORTER_NAME = "王晓明"
REPORTER_PHONE = "13800001234"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Set to keep the screenshot for a look (e.g. CITYOPS_BROWSER_SCREENSHOT=/tmp/page.png).
SCREENSHOT_COPY = os.environ.get("CITYOPS_BROWSER_SCREENSHOT")
SECRET = DEFAULT_SECRET  # the demo-mode settings below keep the default key


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Engine]]:
    """The demo world (no historical cases) served by uvicorn in a background thread."""
    yield from demo_server(tmp_path_factory, "browser", n_cases=0)


def _point_in_street(engine: Engine, street: str) -> tuple[float, float]:
    with unit_of_work(make_sessionmaker(engine)) as session:
        geometry = session.scalar(
            select(Area.geometry)
            .where(Area.level == "grid", Area.code.startswith(street))
            .order_by(Area.code)
        )
    point = shape(json.loads(geometry)).representative_point()
    return point.x, point.y


@pytest.fixture(scope="module")
def case(server: tuple[str, Engine]) -> dict[str, object]:
    """A case reported with the reporter's name and phone, filed and dispatched, over the API."""
    base, engine = server
    lon, lat = _point_in_street(engine, GONGCHENQIAO)
    with httpx.Client(base_url=base, timeout=30) as http:
        token = http.post("/api/v1/auth/token", data={"username": "dispatcher", "password": "demo"})
        assert token.status_code == 200, token.text
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        created = http.post(
            "/api/v1/cases",
            headers=auth,
            json={
                "description": "拱宸桥桥西社区门口垃圾堆了三天没人清理",
                "lon": lon,
                "lat": lat,
                "category_code": GARBAGE,
                "source": "hotline",
                "reporter_name": REPORTER_NAME,
                "reporter_phone": REPORTER_PHONE,
            },
        )
        assert created.status_code == 201, created.text
        body = created.json()
        for action in ("file", "dispatch"):
            step = http.post(f"/api/v1/cases/{body['id']}/{action}", headers=auth, json={})
            assert step.status_code == 200, step.text
        return dict(step.json())


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_public_page_in_a_real_browser(
    server: tuple[str, Engine], case: dict[str, object], tmp_path: Path
) -> None:
    from cityops.cases.public import access_token

    # The QR code's link: the code and its access token (the code alone shows only the state).
    url = f"{server[0]}/p/cases/{case['code']}?t={access_token(str(case['code']), SECRET)}"
    dumped = _chromium(tmp_path, "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout

    assert f"<title>案件 {case['code']} 办理进度</title>" in dom and f"<h1>案件 {case['code']}</h1>" in dom
    assert "拱宸桥街道" in dom and "暴露垃圾" in dom  # the street's and category's names, not codes
    assert f'<span class="state">{STATE_NAMES_ZH["dispatched"]}</span>' in dom
    history = re.search(r"<ol[^>]*>(.*?)</ol>", dom, re.S)
    assert history, dom
    steps = re.findall(r"<li>(.*?)</li>", history.group(1), re.S)
    assert len(steps) == 3, steps
    assert "上报" in steps[0] and "已上报" in steps[0]
    assert "已立案" in steps[1] and "已派遣" in steps[2]
    qr = re.search(r'class="qr"[^>]*>\s*<svg[^>]*>.*?</svg>', dom, re.S)
    assert qr and "<path" in qr.group(0), "no QR code image"

    # Never the reporter's data, not even partly (a masked phone keeps its first and last digits).
    assert REPORTER_NAME not in dom and REPORTER_NAME[0] + "*" not in dom
    assert REPORTER_PHONE not in dom and REPORTER_PHONE[-4:] not in dom
    assert "拱宸桥桥西社区门口垃圾" not in dom  # nor the description

    shot = tmp_path / "page.png"
    if SCREENSHOT_COPY:
        shot = Path(SCREENSHOT_COPY)
    taken = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", "--hide-scrollbars", url)
    assert taken.returncode == 0, taken.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 10_000
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 1600)


def test_unknown_code_is_a_404_page(server: tuple[str, Engine]) -> None:
    response = httpx.get(f"{server[0]}/p/cases/GS000000000000", timeout=30)
    assert response.status_code == 404
