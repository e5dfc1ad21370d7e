"""The docs stay true: links resolve, the README shows the two commands, every capability is mapped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")])
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page: Path) -> None:
    broken = [
        target
        for target in LINK.findall(page.read_text(encoding="utf-8"))
        if "://" not in target and not target.startswith("mailto:") and not (page.parent / target).exists()
    ]
    assert broken == [], f"{page.relative_to(REPO)} links to missing files: {broken}"


def test_readme_first_screen_shows_both_commands() -> None:
    first_screen = "\n".join((REPO / "README.md").read_text(encoding="utf-8").splitlines()[:25])
    assert "make demo" in first_screen and "make test" in first_screen


def test_folder_map_names_every_capability() -> None:
    folder_map = (REPO / "docs" / "README.md").read_text(encoding="utf-8")
    packages = [p.name for p in (REPO / "src" / "cityops").iterdir() if (p / "__init__.py").exists()]
    missing = [name for name in packages if f"{name}/" not in folder_map and name != "migrations"]
    assert missing == [], f"docs/README.md does not map: {missing}"
