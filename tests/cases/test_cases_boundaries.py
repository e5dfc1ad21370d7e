"""Cases knows nothing of the capabilities above it: no triage (or channel, insight) import,
not even a lazy one, and no ``importlib`` tricks to reach them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cityops.cases

CASES = Path(cityops.cases.__file__).parent
ABOVE = ("cityops.triage", "cityops.intake", "cityops.indicators", "cityops.evaluation", "cityops.enterprise")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_cases_module_imports_triage_or_importlib() -> None:
    offenders = {
        f"{path.name}: {name}"
        for path in CASES.rglob("*.py")
        for name in _imports(path)
        if name.startswith(ABOVE) or name == "importlib"
    }
    assert offenders == set()


def test_importing_and_using_cases_loads_no_triage() -> None:
    code = (
        "import sys; import cityops.cases.service, cityops.cases.api, cityops.cases.tasks; "
        "print(sorted(m for m in sys.modules if m.startswith('cityops.triage')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
