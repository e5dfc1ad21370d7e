"""Surge detection: is this window's count of a category in an area far above its usual level?

The baseline is weekday- and season-aware: the same window (same weekday, same hours) in each of
the previous ``weeks`` weeks, so a Monday is compared with Mondays of the last two months rather
than with a weekend or with last winter. Counts are tested against a negative binomial fitted by
moments to those weeks (Poisson when they are not over-dispersed), so a cell that is always
bursty needs a bigger rise to alarm. Minimum counts keep single reports from raising anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

# (p-value below, observed/expected at least) → level 4 红 … 1 蓝; checked from red down.
LEVEL_RULES: tuple[tuple[int, float, float], ...] = (
    (4, 1e-6, 5.0),
    (3, 1e-4, 3.0),
    (2, 1e-3, 2.0),
    (1, 1e-2, 1.5),
)


@dataclass
class SurgeSignal:
    category_code: str
    area_code: str
    observed: int
    expected: float
    p_value: float
    level: int
    model: str
    evidence: dict[str, Any] = field(default_factory=dict)


def surge_test(
    observed: int, history: Sequence[int], *, min_expected: float = 0.5
) -> tuple[float, float, str]:
    """(expected, p-value of a count ≥ observed, model name) against ``history``."""
    h = np.asarray(history, dtype=float)
    mean = max(float(h.mean()) if h.size else 0.0, min_expected)
    var = float(h.var(ddof=1)) if h.size > 1 else mean
    if var > mean * 1.2:
        # Negative binomial with the same mean and variance: n = mean² / (var − mean), p = mean / var.
        n = mean * mean / (var - mean)
        p = mean / var
        return mean, float(stats.nbinom.sf(observed - 1, n, p)), "negative_binomial"
    return mean, float(stats.poisson.sf(observed - 1, mean)), "poisson"


def level_for(p_value: float, ratio: float) -> int:
    """1–4 for a significant rise, 0 for none."""
    for level, p_max, ratio_min in LEVEL_RULES:
        if p_value < p_max and ratio >= ratio_min:
            return level
    return 0


def detect(
    current: dict[tuple[str, str], int],
    history: dict[tuple[str, str], list[int]],
    *,
    min_observed: int = 5,
    window: str = "24h",
) -> list[SurgeSignal]:
    """Signals for every (category, area) cell whose current count is a significant rise.

    ``history[cell]`` holds the counts of the same window in each previous week (zeros included;
    a missing cell means it never happened, i.e. all zeros).
    """
    out: list[SurgeSignal] = []
    for cell, observed in current.items():
        if observed < min_observed:
            continue
        weeks = history.get(cell, [])
        expected, p, model = surge_test(observed, weeks)
        level = level_for(p, observed / expected)
        if level == 0:
            continue
        out.append(
            SurgeSignal(
                category_code=cell[0],
                area_code=cell[1],
                observed=observed,
                expected=round(expected, 3),
                p_value=p,
                level=level,
                model=model,
                evidence={
                    "window": window,
                    "baseline_weeks": list(weeks),
                    "model": model,
                    "p_value": p,
                    "ratio": round(observed / expected, 2),
                },
            )
        )
    return sorted(out, key=lambda s: (-s.level, s.p_value))
