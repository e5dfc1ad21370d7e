"""The whole OpenAPI document, fuzzed with schemathesis, as an admin and as a street operator.

A bounded run (a few generated requests per operation and caller, deterministic) on a throw-away
database with the demo world (areas, catalog, departments, accounts, a handful of cases). Every
answer must be no server error, a documented status code, a documented content type and match
its documented schema. Failures are collected and reported together, one line per operation.

The sign-out endpoints are sent without credentials: fuzzing them with the admin's token would
revoke it and turn the rest of the run into 401s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import Engine
from tests.conftest import new_database
from tests.serving import serving, warm_routing_model

from cityops.accounts import tokens
from cityops.config import Settings
from cityops.demo import people
from cityops.demo.loader import load_demo
from cityops.web.app import create_app

EXAMPLES = 4  # per operation and caller
STREET_OPERATOR = people.street_username("330105005")  # 拱宸桥街道
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ANONYMOUS_ONLY = {"/api/v1/auth/logout", "/api/v1/auth/revoke"}
# Trains the routing model (tens of seconds of CPU per call): fuzzing it would starve every other
# request of the run. tests/triage/test_routing_admin_api.py calls it with real bodies.
NOT_FUZZED = {"/api/v1/triage/models/retrain"}


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, dict[str, str]]]]:
    """The app under uvicorn on a free port (lighter per request than an in-process client)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    engine: Engine
    engine, cleanup = new_database("sqlite", tmp, "fuzz")
    app_settings = Settings(
        demo_mode=True,
        worker_in_process=False,
        storage_dir=tmp / "files",
        public_requests_per_minute=100_000,  # the fuzzer is one address
    )
    load_demo(engine, app_settings, n_cases=30, progress=False)
    app = create_app(app_settings, engine=engine)
    warm_routing_model(engine)  # else whichever request came first would wait for its build
    with serving(app, name="uvicorn-fuzz", lifespan="auto") as base:
        callers = {}
        for username in ("admin", STREET_OPERATOR):
            form = {"username": username, "password": people.DEMO_PASSWORD}
            r = httpx.post(f"{base}/api/v1/auth/token", data=form, timeout=30)
            assert r.status_code == 200, r.text
            callers[username] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield base, callers
    tokens.forget()
    cleanup()


def _run(operation: Any, who: str, headers: dict[str, str], failures: list[str]) -> int:
    sent = 0

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        nonlocal sent
        sent += 1
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # every failure is reported together, not raised
            first = str(exc).strip().splitlines()[:3]
            failures.append(f"{who} {operation.label}: {' | '.join(first)}")

    fuzz()
    return sent


def test_the_whole_api_matches_its_openapi_document(
    fuzz_server: tuple[str, dict[str, dict[str, str]]],
) -> None:
    base, callers = fuzz_server
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: list[str] = []
    started, sent, operations = time.perf_counter(), 0, 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in NOT_FUZZED:
            continue
        operations += 1
        for username, headers in callers.items():
            anonymous = operation.path in ANONYMOUS_ONLY
            sent += _run(
                operation, "anonymous" if anonymous else username, {} if anonymous else headers, failures
            )
            if anonymous:
                break
    seconds = time.perf_counter() - started
    print(
        f"schemathesis: {operations} operations, {sent} requests, {seconds:.1f} s, {len(failures)} failures"
    )
    assert operations >= 30 and sent >= operations * EXAMPLES
    unique = sorted(set(failures))
    assert not unique, "\n".join(unique[:40])
