"""Thresholds → level (normal / blue / yellow / orange / red).

Thresholds say where each level begins. For a "lower is better" indicator (overdue cases) they
must rise from blue to red; for a "higher is better" one (closure rate) they must fall. Any
level may be left out; those given must be in order.
"""

from __future__ import annotations

import itertools
from typing import Any

from cityops.errors import Invalid

ORDER = ("blue", "yellow", "orange", "red")
WARNING_LEVEL = {"blue": 1, "yellow": 2, "orange": 3, "red": 4}
LABELS = {"normal": "正常", "blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}


def check(thresholds: dict[str, Any] | None, direction: str) -> dict[str, float]:
    """Clean thresholds, or ``Invalid`` when a key is unknown, a value not a number, or out of order."""
    clean: dict[str, float] = {}
    for key, value in (thresholds or {}).items():
        if key not in ORDER:
            raise Invalid(
                f"未知的阈值等级 {key!r}（可用 blue、yellow、orange、red）",
                f"unknown threshold level {key!r} (use blue, yellow, orange, red)",
                code="invalid_thresholds",
                details={"field": "thresholds", "level": key},
            )
        if value is None or value == "":
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise Invalid(
                f"阈值 {key} 必须是数字",
                f"threshold {key} must be a number",
                code="invalid_thresholds",
                details={"field": "thresholds", "level": key},
            )
        clean[key] = float(value)
    given = [(k, clean[k]) for k in ORDER if k in clean]
    for (k1, v1), (k2, v2) in itertools.pairwise(given):
        rising = direction == "lower_better"
        if (rising and not v1 < v2) or (not rising and not v1 > v2):
            word_zh = "递增" if rising else "递减"
            word_en = "rise" if rising else "fall"
            raise Invalid(
                f"阈值顺序不对：{k1}（{v1:g}）到 {k2}（{v2:g}）必须{word_zh}",
                f"thresholds out of order: from {k1} ({v1:g}) to {k2} ({v2:g}) they must {word_en} "
                f"for a {direction.replace('_', ' ')} indicator",
                code="invalid_thresholds",
                details={"field": "thresholds", "levels": [k1, k2]},
            )
    return clean


def level_of(value: float | None, thresholds: dict[str, float], direction: str) -> str:
    """The highest level whose threshold ``value`` has reached; "normal" below all (or no data)."""
    if value is None:
        return "normal"
    found = "normal"
    for key in ORDER:
        limit = thresholds.get(key)
        if limit is None:
            continue
        if (direction == "lower_better" and value >= limit) or (
            direction == "higher_better" and value <= limit
        ):
            found = key
    return found
