"""The capability boundaries (pyproject.toml [tool.importlinter]) hold: `make test` and CI run
import-linter through this test, `make lint` runs it directly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _lint_imports() -> list[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is missing: install the dev extras (make venv)")
    return [exe, "--no-cache"]


def test_every_import_contract_is_kept() -> None:
    done = subprocess.run(_lint_imports(), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_contracts_cover_the_rules_of_the_architecture() -> None:
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    for needle in (
        'type = "layers"',
        '"cityops.triage"',
        '"cityops.cases"',
        "(cityops.intake)",
        "(cityops.evaluation)",
        'forbidden_modules = ["cityops.*.models"]',
        'forbidden_modules = ["cityops.web"]',
    ):
        assert needle in text, needle


def test_a_violation_is_reported(tmp_path: Path) -> None:
    """The same contracts over a copy of the package with one forbidden import added fail."""
    copy = tmp_path / "src"
    shutil.copytree(
        REPO / "src" / "cityops", copy / "cityops", ignore=shutil.ignore_patterns("static", "data")
    )
    (copy / "cityops" / "cases" / "sneaky.py").write_text(
        "from cityops.triage import service  # noqa\nfrom cityops.catalog.models import Category  # noqa\n",
        encoding="utf-8",
    )
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    done = subprocess.run(
        _lint_imports(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode != 0
    assert "cityops.cases.sneaky -> cityops.triage" in done.stdout
    assert "cityops.cases.sneaky -> cityops.catalog.models" in done.stdout
