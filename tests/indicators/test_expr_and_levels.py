"""The formula language refuses what it does not know and never runs user text; thresholds keep order."""

from __future__ import annotations

import pytest

from cityops.errors import Invalid
from cityops.indicators import expr, levels

KNOWN = frozenset({"closed", "due", "filed"})


def _value(source: str, **values: float | None) -> float:
    return expr.evaluate(expr.parse(source, KNOWN), values, lambda fn, name: {"06010": 7.0}.get(name))


def test_arithmetic_over_named_aggregates() -> None:
    assert _value("closed / due * 100", closed=9, due=10) == pytest.approx(90.0)
    assert _value("-(filed - closed) + cases('06010')", filed=5, closed=3) == pytest.approx(5.0)
    assert _value("max(closed, due) + min(1, 2)", closed=1, due=4) == pytest.approx(5.0)


def test_unknown_field_names_the_field_and_where() -> None:
    with pytest.raises(Invalid) as info:
        expr.parse("closed / dew", KNOWN)
    assert info.value.details["unknown"] == "dew"
    assert info.value.details["column"] == 10
    assert "dew" in info.value.message and "unknown field" in info.value.message


def test_division_by_a_literal_zero_is_refused() -> None:
    with pytest.raises(Invalid, match="division by zero"):
        expr.parse("closed / 0", KNOWN)


def test_division_by_a_zero_aggregate_is_no_data() -> None:
    with pytest.raises(expr.NoData):
        _value("closed / due", closed=0, due=0)


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('true')",
        "closed.__class__",
        "[closed]",
        "closed ** 2",
        "lambda: 1",
        "closed if due else 1",
        "open('x')",
        "cases(filed)",
        "cases('a', 'b')",
        "closed == due",
        "",
        "1 +",
    ],
)
def test_anything_but_arithmetic_is_refused(source: str) -> None:
    with pytest.raises(Invalid):
        expr.parse(source, KNOWN)


def test_thresholds_must_follow_the_direction() -> None:
    assert levels.check({"blue": 1, "red": 5}, "lower_better") == {"blue": 1.0, "red": 5.0}
    with pytest.raises(Invalid, match="out of order") as info:
        levels.check({"blue": 5, "yellow": 3}, "lower_better")
    assert info.value.details["levels"] == ["blue", "yellow"]
    with pytest.raises(Invalid, match="out of order"):
        levels.check({"blue": 90, "yellow": 95}, "higher_better")
    with pytest.raises(Invalid):
        levels.check({"purple": 1}, "higher_better")


def test_level_is_the_highest_threshold_reached() -> None:
    t = {"blue": 10.0, "yellow": 20.0, "orange": 30.0, "red": 40.0}
    assert [levels.level_of(v, t, "lower_better") for v in (5, 10, 25, 39.9, 41)] == [
        "normal",
        "blue",
        "yellow",
        "orange",
        "red",
    ]
    rates = {"blue": 95.0, "red": 80.0}
    assert [levels.level_of(v, rates, "higher_better") for v in (99, 95, 85, 79)] == [
        "normal",
        "blue",
        "blue",
        "red",
    ]
    assert levels.level_of(None, t, "lower_better") == "normal"
