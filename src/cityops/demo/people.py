"""Demo accounts and synthetic reporters.

Every demo account has the password ``demo`` and ``is_demo=True``, so the server refuses them
outside demo mode. Reporter names are a surname plus 先生/女士 and phone numbers follow the
obviously fake pattern 138-0000-xxxx: no real personal data is generated.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

DEMO_PASSWORD = "demo"

#: The fixed staff accounts: (username, role, display name).
STAFF: tuple[tuple[str, str, str], ...] = (
    ("operator", "operator", "受理员（演示）"),
    ("dispatcher", "dispatcher", "派遣员（演示）"),
    ("inspector", "inspector", "监督员（演示）"),
    ("leader", "leader", "区领导（演示）"),
    ("admin", "admin", "系统管理员（演示）"),
)
CITIZENS = 5

SURNAMES = (
    "王",
    "李",
    "张",
    "刘",
    "陈",
    "杨",
    "黄",
    "赵",
    "吴",
    "周",
    "徐",
    "孙",
    "马",
    "朱",
    "胡",
    "郭",
    "何",
    "林",
    "高",
    "罗",
    "郑",
    "梁",
    "谢",
    "宋",
    "唐",
    "许",
    "韩",
    "冯",
    "邓",
    "曹",
    "彭",
    "曾",
    "沈",
    "蒋",
    "钱",
    "俞",
    "施",
    "金",
    "方",
    "姚",
)
TITLES = ("先生", "女士")


def handler_username(department_code: str) -> str:
    return f"handler-{department_code}"


def street_username(street_code: str) -> str:
    return f"street-{street_code}"


def account_rows(
    departments: Sequence[tuple[str, str]], streets: Sequence[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Rows for ``accounts.service.create_users_bulk``.

    ``departments`` are (code, name), ``streets`` (code, name). Staff, one handler per
    department, one street operator per street (scoped by ``area_code``) and five citizens.
    """
    rows: list[dict[str, Any]] = [
        {"username": u, "role": r, "display_name": n, "is_demo": True} for u, r, n in STAFF
    ]
    for code, name in departments:
        rows.append(
            {
                "username": handler_username(code),
                "role": "handler",
                "department_code": code,
                "display_name": f"{name}处置员（演示）",
                "is_demo": True,
            }
        )
    for code, name in streets:
        rows.append(
            {
                "username": street_username(code),
                "role": "operator",
                "area_code": code,
                "display_name": f"{name}受理员（演示）",
                "is_demo": True,
            }
        )
    rng = random.Random(7)
    for i in range(1, CITIZENS + 1):
        rows.append(
            {
                "username": f"citizen{i}",
                "role": "citizen",
                "display_name": f"{rng.choice(SURNAMES)}{rng.choice(TITLES)}（演示市民）",
                "phone": fake_phone(i),
                "is_demo": True,
            }
        )
    return rows


def fake_phone(n: int) -> str:
    """An obviously fake mobile number of the 138-0000-xxxx pattern."""
    return f"1380000{n % 10000:04d}"


def reporter(rng: random.Random) -> tuple[str, str]:
    """A synthetic (name, phone) such as ("王先生", "13800004711")."""
    return rng.choice(SURNAMES) + rng.choice(TITLES), fake_phone(rng.randrange(10000))
