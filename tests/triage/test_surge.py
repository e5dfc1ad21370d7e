"""Surge detection statistics and the sweep's deduplicated warnings."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from cityops.safety.service import list_warnings, raise_warning
from cityops.triage.surge import detect, level_for, surge_test


def test_a_big_rise_is_significant_and_a_normal_week_is_not():
    expected, p, model = surge_test(30, [3, 4, 2, 5, 3, 4, 3, 4])
    assert model == "poisson" and 3 < expected < 4 and p < 1e-6
    _, p_normal, _ = surge_test(5, [3, 4, 2, 5, 3, 4, 3, 4])
    assert p_normal > 0.05


def test_overdispersed_history_needs_a_bigger_rise():
    _, p_steady, _ = surge_test(12, [5, 5, 5, 5, 5, 5, 5, 5])
    _, p_bursty, model = surge_test(12, [0, 12, 1, 9, 0, 10, 2, 6])
    assert model == "negative_binomial"
    assert p_bursty > p_steady


def test_detect_levels_and_minimum_count():
    current = {("06010", "330105005"): 40, ("06028", "330105005"): 3, ("06027", "330105007"): 6}
    history = {
        ("06010", "330105005"): [2, 3, 2, 4, 3, 2, 3, 3],
        ("06027", "330105007"): [5, 6, 5, 7, 6, 5, 6, 5],
    }
    signals = detect(current, history, min_observed=5)
    assert [s.category_code for s in signals] == ["06010"]
    assert signals[0].level == 4 and signals[0].evidence["baseline_weeks"] == history[("06010", "330105005")]
    assert level_for(0.5, 10) == 0 and level_for(1e-3 / 2, 2.5) == 2


def test_raise_warning_deduplicates_and_only_raises_the_level(db_session: Session):
    session = db_session
    now = datetime(2026, 5, 1, 8, tzinfo=UTC)
    w, created = raise_warning(
        session,
        source="surge",
        kind="case_surge_24h",
        level=3,
        title="t",
        dedup_key="k1",
        observed=20,
        expected=3,
        now=now,
    )
    assert created
    w2, created2 = raise_warning(
        session,
        source="surge",
        kind="case_surge_24h",
        level=1,
        title="t",
        dedup_key="k1",
        observed=25,
        expected=3,
        now=now,
    )
    assert not created2 and w2.id == w.id and w2.level == 3 and w2.observed == 25
    rows, total = list_warnings(session, status="open")
    assert total == 1 and rows[0].dedup_key == "k1"
