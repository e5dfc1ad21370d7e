"""One way to get a request's session: ``web.deps.SessionDep``; one named opt-out,
``single_statement_session``, used by exactly the two single-statement hot paths (decision 0004)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from fastapi.routing import APIRoute

from cityops.web import deps
from cityops.web.app import ROUTERS, create_app

SRC = Path(__file__).resolve().parents[2] / "src" / "cityops"
HOT_PATHS = {("POST", "/api/v1/cases"), ("GET", "/api/v1/cases/{ref}")}


def _routes() -> list[APIRoute]:
    """Every API route of the app (create_app includes these routers; see web.app.ROUTERS)."""
    create_app()  # the app factory wraps the routers' handlers; their routes stay the same objects
    routes = []
    for target in ROUTERS:
        module, attr = target.split(":")
        routes += [
            r for r in getattr(importlib.import_module(module), attr).routes if isinstance(r, APIRoute)
        ]
    return routes


def test_every_handler_session_is_the_one_session_dependency() -> None:
    seen = 0
    for route in _routes():
        for dep in route.dependant.dependencies:
            if dep.call is not None and getattr(dep.call, "__name__", "") == "dependency":
                # A session dependency built by deps._session_dependency: only get_session may be used.
                assert dep.call is deps.get_session, f"{route.path}: use web.deps.SessionDep"
                seen += 1
    assert seen > 30  # the check looked at the real routes


def test_no_module_defines_its_own_session_dependency() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        if path == SRC / "web" / "deps.py":
            continue
        text = path.read_text(encoding="utf-8")
        if (
            "Depends(get_session" in text
            or "Depends(get_read_session" in text
            or "_session_dependency(" in text
        ):
            offenders.append(str(path.relative_to(SRC)))
    assert offenders == []


def _calls(path: Path, name: str) -> list[str]:
    """Functions of ``path`` that call ``name``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef):
            for node in ast.walk(fn):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", "")) == name
                ):
                    found.append(fn.name)
                    break
    return found


def test_the_opt_out_is_used_by_the_two_hot_paths_only() -> None:
    users = {
        f"{path.relative_to(SRC)}:{fn}"
        for path in SRC.rglob("*.py")
        if path != SRC / "web" / "deps.py"
        for name in ("single_statement_session", "read_session")
        for fn in _calls(path, name)
    }
    assert users == {"cases/api.py:create_case", "cases/api.py:get_case"}
    handlers = {
        (method, route.path): route.endpoint.__name__ for route in _routes() for method in route.methods
    }
    assert {handlers[p] for p in HOT_PATHS} == {"create_case", "get_case"}
