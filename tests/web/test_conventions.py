"""Guards for conventions a reviewer could easily miss."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "cityops"


def test_every_session_dependency_commits_before_the_response() -> None:
    # FastAPI's default dependency scope runs the code after `yield` (our commit) once the
    # response has been sent; a failed commit would then look like a success to the client.
    offenders = [
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"Depends\(get_session\)", line)
    ]
    assert offenders == [], f'use Depends(get_session, scope="function") or SessionDep: {offenders}'
