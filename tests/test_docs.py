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


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_quoted_doc_paths_exist(page: Path) -> None:
    # `docs/architecture.md` in backticks was a dead reference for a while; paths in code spans count.
    quoted = re.findall(r"`(docs/[\w./-]+\.md)`", page.read_text(encoding="utf-8"))
    assert [q for q in quoted if not (REPO / q).exists()] == []


def test_the_recipes_the_next_capabilities_need_exist() -> None:
    index = (REPO / "docs" / "README.md").read_text(encoding="utf-8")
    for recipe in ("add-a-capability", "add-a-channel", "add-a-page", "add-a-worker-job", "add-a-migration"):
        assert f"howto/{recipe}.md" in index, recipe


def test_readme_says_how_to_sign_in_and_where_department_codes_are() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "/api/v1/auth/token" in readme and "Authorization: Bearer" in readme
    assert "cityops list-departments" in readme
