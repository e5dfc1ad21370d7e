"""What an indicator definition can refer to, for one level of areas and one period.

Names (``filed``, ``due``, ``closed`` …) are the evaluation summary's measures of the area;
``cases('09006')`` counts filed cases of a category (or code prefix) — per district and street;
``figure('aqi')`` is the mean of imported daily figures; ``telemetry('noise_db')`` reads intake's
sensor roll-ups, which do not exist until the intake capability lands (so: "no data").
Named aggregates (kind ``aggregate``) are live SQL counts through the other capabilities' services.
Everything for one (level, period) is loaded in a few grouped queries, then looked up per area.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.cases import aggregates
from cityops.evaluation import service as evaluation
from cityops.evaluation.periods import Period
from cityops.indicators.models import IndicatorFigure
from cityops.safety import service as safety

MEASURES = (
    "filed",
    "public_reports",
    "dispatched",
    "accurate",
    "due",
    "closed",
    "closed_on_time",
    "handled",
    "handled_on_time",
    "reworked",
    "overdue",
    "handle_hours",
    "handle_n",
)
LIVE_FIELDS = ("open_cases",)
KNOWN_FIELDS = frozenset((*MEASURES, *LIVE_FIELDS))


def _level_of(code: str, district: str) -> str:
    if code == district:
        return "district"
    return {9: "street", 12: "community"}.get(len(code), "grid")


@dataclass
class Inputs:
    """Everything definitions may read for one level of areas in one period."""

    level: str
    period: Period
    live: bool  # the period contains "now": live counts apply
    measures: dict[str, dict[str, float]] = field(default_factory=dict)
    categories: dict[str, dict[str, float]] = field(default_factory=dict)  # area → category → filed
    figures: dict[tuple[str, str], float] = field(default_factory=dict)  # (name, area) → mean
    telemetry: dict[tuple[str, str], float] = field(default_factory=dict)
    open_cases: dict[str, float] = field(default_factory=dict)

    def values(self, area: str) -> dict[str, float | None]:
        found: dict[str, float | None] = dict(self.measures.get(area, {m: 0.0 for m in MEASURES}))
        found["open_cases"] = self.open_cases.get(area, 0.0) if self.live else None
        return found

    def resolver(self, area: str) -> Callable[[str, str], float | None]:
        def call(fn: str, name: str) -> float | None:
            if fn == "cases":
                by_cat = self.categories.get(area)
                if by_cat is None:
                    return None if self.level in ("community", "grid") else 0.0
                return float(sum(v for code, v in by_cat.items() if code.startswith(name)))
            if fn == "figure":
                return self.figures.get((name, area))
            return self.telemetry.get((name, area))

        return call


def load(
    session: Session,
    level: str,
    period: Period,
    district: str,
    *,
    live: bool,
    needs: frozenset[str] = frozenset({"measures", "cases", "figure", "telemetry"}),
) -> Inputs:
    """One grouped query per kind of input (only those in ``needs``) for every area of ``level``."""
    inputs = Inputs(level, period, live)
    if "measures" in needs:
        _load_measures(session, inputs, level, period, district)
    if "figure" in needs or "telemetry" in needs:
        _load_figures(session, inputs, period)
    if live and "measures" in needs:
        counts = aggregates.open_counts_by_grid(session)
        for grid, n in counts.items():
            for code in _ancestors(grid, district):
                if _level_of(code, district) == level:
                    inputs.open_cases[code] = inputs.open_cases.get(code, 0.0) + n
    return inputs


def _load_measures(session: Session, inputs: Inputs, level: str, period: Period, district: str) -> None:
    for code, fig in evaluation.sums(session, level, period).items():
        inputs.measures[code] = {m: fig.sums.get(m, 0.0) for m in MEASURES}
    if level == "district":
        cats = evaluation.sums(session, "category", period)
        inputs.categories[district] = {code: f.sums["filed"] for code, f in cats.items()}
    elif level == "street":
        by_street: dict[str, dict[str, float]] = defaultdict(dict)
        for code, f in evaluation.sums(session, "street_category", period).items():
            street, _, category = code.partition("|")
            by_street[street][category] = f.sums["filed"]
        inputs.categories.update(by_street)


def _load_figures(session: Session, inputs: Inputs, period: Period) -> None:
    rows = session.execute(
        select(
            IndicatorFigure.name,
            IndicatorFigure.area_code,
            IndicatorFigure.source,
            func.avg(IndicatorFigure.value),
        )
        .where(IndicatorFigure.day >= period.start, IndicatorFigure.day < period.end)
        .group_by(IndicatorFigure.name, IndicatorFigure.area_code, IndicatorFigure.source)
    )
    for name, area, source, mean in rows:
        target = inputs.telemetry if source == "telemetry" else inputs.figures
        target[(name, area)] = float(mean)


def _ancestors(grid: str, district: str) -> tuple[str, ...]:
    return (district, grid[:9], grid[:12], grid)


# Named aggregates (kind "aggregate"): live counts, valid for the current period only.
def _open_cases(session: Session, area: str, district: str) -> float:
    prefix = None if area == district else area
    return float(sum(aggregates.open_counts_by_grid(session, prefix).values()))


def _open_warnings(session: Session, area: str, district: str) -> float:
    _, total = safety.list_warnings(
        session, status="open", area_code=None if area == district else area, limit=1
    )
    return float(total)


def _running_cases(session: Session, area: str, district: str) -> float:
    rows = aggregates.running_for_risk(session, area_prefix=None if area == district else area)
    return float(len(rows))


NAMED: dict[str, tuple[Callable[[Session, str, str], float], str]] = {
    "open_cases": (_open_cases, "未结案件数 open cases now"),
    "open_warnings": (_open_warnings, "未处理预警数 open warnings now"),
    "running_cases": (_running_cases, "计时中的案件数 cases whose clock runs now"),
}
