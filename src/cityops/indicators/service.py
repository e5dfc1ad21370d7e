"""The indicator catalog and its values: define, validate, compute, keep history, warn on level changes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from cityops.areas import service as areas
from cityops.db import utcnow
from cityops.errors import Invalid, NotFound
from cityops.evaluation import periods
from cityops.evaluation.periods import Period
from cityops.indicators import expr, levels, sources
from cityops.indicators.models import DIRECTIONS, KINDS, PERIODS, Indicator, IndicatorFigure, IndicatorValue
from cityops.safety import service as safety

DOMAINS = ("市容环境", "交通出行", "公共安全", "民生服务", "生态环境", "经济运行", "基层治理")
CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{1,39}$")
FIELDS = (
    "code",
    "name",
    "domain",
    "theme",
    "unit",
    "period",
    "owner",
    "direction",
    "kind",
    "definition",
    "thresholds",
    "description",
    "active",
)
_TEXT_LIMITS = {"name": 100, "domain": 40, "theme": 60, "unit": 20, "owner": 60, "description": 2000}


def _invalid(field: str, zh: str, en: str) -> Invalid:
    return Invalid(zh, en, details={"field": field})


def validate(data: dict[str, Any]) -> dict[str, Any]:
    """A clean indicator definition, or ``Invalid`` naming the field (nothing is written)."""
    clean: dict[str, Any] = {}
    code = str(data.get("code") or "").strip()
    if not CODE_RE.match(code):
        raise _invalid(
            "code",
            "指标编码须以字母开头，2–40 位字母、数字、_ . -",
            "code must start with a letter and have 2–40 letters, digits, _ . -",
        )
    clean["code"] = code
    for key, limit in _TEXT_LIMITS.items():
        value = str(data.get(key) or "").strip()
        if key in ("name", "domain", "theme") and not value:
            raise _invalid(key, f"{key} 不能为空", f"{key} must not be empty")
        if len(value) > limit:
            raise _invalid(key, f"{key} 最多 {limit} 个字符", f"{key} may have at most {limit} characters")
        clean[key] = value
    for key, allowed, default in (
        ("period", PERIODS, "month"),
        ("direction", DIRECTIONS, "higher_better"),
        ("kind", KINDS, "expression"),
    ):
        value = str(data.get(key) or default).strip()
        if value not in allowed:
            raise _invalid(
                key, f"{key} 必须是 {'、'.join(allowed)} 之一", f"{key} must be one of {', '.join(allowed)}"
            )
        clean[key] = value
    definition = str(data.get("definition") or "").strip()
    if clean["kind"] == "expression":
        expr.parse(definition, sources.KNOWN_FIELDS)
    elif definition not in sources.NAMED:
        raise _invalid(
            "definition",
            f"未知的命名聚合 {definition!r}，可用：{'、'.join(sources.NAMED)}",
            f"unknown named aggregate {definition!r}; known: {', '.join(sources.NAMED)}",
        )
    clean["definition"] = definition
    clean["thresholds"] = levels.check(data.get("thresholds"), clean["direction"])
    clean["active"] = bool(data.get("active", True))
    return clean


def get_indicator(session: Session, code: str) -> Indicator:
    found = session.get(Indicator, code)
    if found is None:
        raise NotFound(
            f"指标 {code} 不存在", f"no indicator {code}", code="indicator_not_found", details={"code": code}
        )
    return found


def list_catalog(
    session: Session, *, domain: str | None = None, active: bool | None = None
) -> list[Indicator]:
    stmt = select(Indicator).order_by(Indicator.domain, Indicator.theme, Indicator.code)
    if domain:
        stmt = stmt.where(Indicator.domain == domain)
    if active is not None:
        stmt = stmt.where(Indicator.active.is_(active))
    return list(session.scalars(stmt))


def save(session: Session, data: dict[str, Any], *, create: bool | None = None) -> Indicator:
    """Create or replace one indicator (``create=True``: must be new; False: must exist)."""
    clean = validate(data)
    existing = session.get(Indicator, clean["code"])
    if create is True and existing is not None:
        raise Invalid(
            f"指标 {clean['code']} 已存在",
            f"indicator {clean['code']} exists already",
            code="indicator_exists",
            details={"field": "code"},
        )
    if create is False and existing is None:
        get_indicator(session, clean["code"])
    if existing is None:
        existing = Indicator(**clean, updated_at=utcnow())
        session.add(existing)
    else:
        for key, value in clean.items():
            setattr(existing, key, value)
        existing.updated_at = utcnow()
    session.flush()
    return existing


def save_many(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Validate every row first, then write them all (an import: all or nothing)."""
    clean = [validate(r) for r in rows]
    for row in clean:
        save(session, row)
    return len(clean)


def delete_indicator(session: Session, code: str) -> None:
    session.delete(get_indicator(session, code))
    session.execute(delete(IndicatorValue).where(IndicatorValue.indicator_code == code))


def indicator_dict(ind: Indicator) -> dict[str, Any]:
    return {f: getattr(ind, f) for f in FIELDS} | {"updated_at": ind.updated_at.isoformat()}


def has_telemetry(session: Session) -> bool:
    """Whether intake has delivered any telemetry roll-up yet."""
    return (
        session.scalar(select(IndicatorFigure.id).where(IndicatorFigure.source == "telemetry").limit(1))
        is not None
    )


def status_of(session: Session, ind: Indicator, telemetry: bool | None = None) -> str:
    """ "ok", or "waiting_for_intake" for a vital sign whose telemetry has not arrived yet."""
    if ind.kind == "expression" and "telemetry(" in ind.definition:
        has = has_telemetry(session) if telemetry is None else telemetry
        return "ok" if has else "waiting_for_intake"
    return "ok"


def period_of(ind_period: str, day: date) -> Period:
    return periods.containing(ind_period, day)


def _value(
    ind: Indicator,
    parsed: expr.Parsed | None,
    inputs: sources.Inputs,
    area: str,
    session: Session,
    district: str,
) -> float | None:
    if ind.kind == "aggregate":
        if not inputs.live:
            return None
        fn, _ = sources.NAMED[ind.definition]
        return fn(session, area, district)
    assert parsed is not None
    try:
        return round(expr.evaluate(parsed, inputs.values(area), inputs.resolver(area)), 4)
    except expr.NoData:
        return None


def compute(
    session: Session,
    *,
    level: str,
    day: date,
    district: str,
    now: datetime,
    area_codes: list[str] | None = None,
    indicators: list[Indicator] | None = None,
    warn: bool = True,
) -> int:
    """Compute and store every (active) indicator's value for the period containing ``day`` for
    every area of ``level`` (or ``area_codes``); returns how many values were written."""
    inds = indicators if indicators is not None else list_catalog(session, active=True)
    if area_codes is None:
        area_codes = (
            [district] if level == "district" else [a.code for a in areas.list_areas(session, level=level)]
        )
    today = periods.today(now)
    written = 0
    by_period: dict[str, list[Indicator]] = {}
    for ind in inds:
        by_period.setdefault(ind.period, []).append(ind)
    names: dict[str, str] | None = None
    for kind, group in by_period.items():
        period = period_of(kind, day)
        parsed = {
            i.code: expr.parse(i.definition, sources.KNOWN_FIELDS) for i in group if i.kind == "expression"
        }
        needs = {fn for p in parsed.values() for fn, _ in p.calls} | (
            {"measures"}
            if any(p.names or any(fn == "cases" for fn, _ in p.calls) for p in parsed.values())
            else set()
        )
        inputs = sources.load(
            session, level, period, district, live=period.start <= today < period.end, needs=frozenset(needs)
        )
        existing = {
            (v.indicator_code, v.area_code): v
            for v in session.scalars(
                select(IndicatorValue).where(
                    IndicatorValue.period_start == period.start,
                    IndicatorValue.indicator_code.in_([i.code for i in group]),
                    IndicatorValue.area_code.in_(area_codes)
                    if len(area_codes) < 500
                    else IndicatorValue.id.is_not(None),
                )
            )
        }
        previous = _previous_levels(session, group, area_codes, period) if warn else {}
        new_rows = []
        for ind in group:
            for area in area_codes:
                value = _value(ind, parsed.get(ind.code), inputs, area, session, district)
                level_name = levels.level_of(value, ind.thresholds or {}, ind.direction)
                row = existing.get((ind.code, area))
                before = row.level if row is not None else previous.get((ind.code, area), "normal")
                if row is None:
                    new_rows.append(
                        {
                            "indicator_code": ind.code,
                            "area_code": area,
                            "period_start": period.start,
                            "value": value,
                            "level": level_name,
                            "computed_at": now,
                        }
                    )
                elif row.value != value or row.level != level_name:
                    row.value, row.level, row.computed_at = value, level_name, now
                else:
                    continue
                written += 1
                if warn and level_name != before and level_name != "normal":
                    names = names if names is not None else _area_names(session)
                    _raise(session, ind, area, names.get(area, area), period, value, level_name, now)
        if new_rows:
            for start in range(0, len(new_rows), 2000):
                session.execute(insert(IndicatorValue), new_rows[start : start + 2000])
    session.flush()
    return written


def _previous_levels(
    session: Session, group: list[Indicator], area_codes: list[str], period: Period
) -> dict[tuple[str, str], str]:
    """The level each (indicator, area) had in the period before (what a change is measured against)."""
    out: dict[tuple[str, str], str] = {}
    kinds = {i.period for i in group}
    for kind in kinds:
        before = period_of(kind, period.start).previous().start
        codes = [i.code for i in group if i.period == kind]
        for v in session.scalars(
            select(IndicatorValue).where(
                IndicatorValue.period_start == before,
                IndicatorValue.indicator_code.in_(codes),
            )
        ):
            out[(v.indicator_code, v.area_code)] = v.level
    return out


def _area_names(session: Session) -> dict[str, str]:
    return {
        a.code: a.name
        for level in ("district", "street", "community")
        for a in areas.list_areas(session, level=level)
    }


def _raise(
    session: Session,
    ind: Indicator,
    area: str,
    area_name: str,
    period: Period,
    value: float | None,
    level_name: str,
    now: datetime,
) -> None:
    unit = ind.unit or ""
    safety.raise_warning(
        session,
        source="indicator",
        kind=ind.code[:40],
        level=levels.WARNING_LEVEL[level_name],
        title=f"{area_name}「{ind.name}」{value:g}{unit}，达到{levels.LABELS[level_name]}预警"[:200],
        dedup_key=f"indicator:{ind.code}:{area}:{period.start.isoformat()}",
        area_code=area,
        observed=value,
        expected=(ind.thresholds or {}).get(level_name),
        evidence={"indicator": ind.code, "period": period.label, "level": level_name},
        now=now,
    )


# -- reading -----------------------------------------------------------------------------------


def latest_values(session: Session, area: str, codes: list[str] | None = None) -> dict[str, IndicatorValue]:
    """The newest stored value of each indicator for ``area`` (one row per indicator is read)."""
    newest = select(
        IndicatorValue.indicator_code, func.max(IndicatorValue.period_start).label("start")
    ).where(IndicatorValue.area_code == area)
    if codes:
        newest = newest.where(IndicatorValue.indicator_code.in_(codes))
    sub = newest.group_by(IndicatorValue.indicator_code).subquery()
    stmt = (
        select(IndicatorValue)
        .join(
            sub,
            (IndicatorValue.indicator_code == sub.c.indicator_code)
            & (IndicatorValue.period_start == sub.c.start),
        )
        .where(IndicatorValue.area_code == area)
    )
    return {v.indicator_code: v for v in session.scalars(stmt)}


def history(
    session: Session, code: str, area: str, since: date | None, until: date | None
) -> list[IndicatorValue]:
    get_indicator(session, code)
    if since and until and until < since:
        raise Invalid("结束日期早于开始日期", "'to' is before 'from'", details={"field": "to"})
    stmt = select(IndicatorValue).where(
        IndicatorValue.indicator_code == code, IndicatorValue.area_code == area
    )
    if since:
        stmt = stmt.where(IndicatorValue.period_start >= since)
    if until:
        stmt = stmt.where(IndicatorValue.period_start <= until)
    return list(session.scalars(stmt.order_by(IndicatorValue.period_start)))


def import_figures(
    session: Session, rows: Iterable[tuple[str, str, date, float]], source: str = "import"
) -> int:
    """Store imported daily figures (name, area, day, value), replacing those already there."""
    batch = list(rows)
    for name, area, day, value in batch:
        session.execute(
            delete(IndicatorFigure).where(
                IndicatorFigure.name == name, IndicatorFigure.area_code == area, IndicatorFigure.day == day
            )
        )
        session.add(IndicatorFigure(name=name, area_code=area, day=day, value=float(value), source=source))
    session.flush()
    return len(batch)


def _halves(message: str) -> tuple[str, str]:
    """A domain message "中文 / English" as its two halves."""
    zh, _, en = message.partition(" / ")
    return zh, en or zh


MAX_IMPORT_ERRORS = 50


def import_rows(session: Session, rows: list[dict[str, Any]]) -> int:
    """Validate every row of an import, then write them all; any bad row stops everything.

    ``Invalid`` names the first bad row and column in its message and lists every bad row
    (up to :data:`MAX_IMPORT_ERRORS`) in ``details["errors"]``: ``{row, column, field, message}``.
    """
    from cityops.indicators.excel import COLUMNS, _column_letter

    clean = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for row in rows:
        try:
            item = validate(row)
        except Invalid as exc:
            field = (exc.details or {}).get("field", "code")
            column = "blue" if field == "thresholds" else field
            if field == "thresholds" and (exc.details or {}).get("levels"):
                column = exc.details["levels"][-1]
            elif field == "thresholds" and (exc.details or {}).get("level") in COLUMNS:
                column = exc.details["level"]
            letter = _column_letter(COLUMNS.index(column)) if column in COLUMNS else "?"
            zh, en = _halves(exc.message)
            errors.append(
                {
                    "row": row["_row"],
                    "column": letter,
                    "field": field,
                    "code": exc.code,
                    "message": f"第 {row['_row']} 行 {letter} 列（{field}）：{zh} / "
                    f"row {row['_row']}, column {letter} ({field}): {en}",
                    **({"unknown": exc.details["unknown"]} if "unknown" in (exc.details or {}) else {}),
                }
            )
            continue
        if item["code"] in seen:
            letter = _column_letter(COLUMNS.index("code"))
            errors.append(
                {
                    "row": row["_row"],
                    "column": letter,
                    "field": "code",
                    "code": "duplicate_code",
                    "message": f"第 {row['_row']} 行 {letter} 列（code）：编码 {item['code']} 已在第 "
                    f"{seen[item['code']]} 行出现 / row {row['_row']}, column {letter} (code): code "
                    f"{item['code']} appears already in row {seen[item['code']]}",
                }
            )
            continue
        seen[item["code"]] = row["_row"]
        clean.append(item)
    if errors:
        first = errors[0]
        more = len(errors) - 1
        zh, en = _halves(first["message"])
        if more:
            zh, en = f"{zh}（另有 {more} 处错误）", f"{en} (and {more} more)"
        raise Invalid(
            f"{zh}；未导入任何指标",
            f"{en}; nothing was imported",
            code=first["code"],
            details={
                "row": first["row"],
                "column": first["column"],
                "field": first["field"],
                **({"unknown": first["unknown"]} if "unknown" in first else {}),
                "errors": errors[:MAX_IMPORT_ERRORS],
                "error_count": len(errors),
            },
        )
    for item in clean:
        save(session, item)
    return len(clean)


def recent_values(session: Session, area: str, codes: list[str], n: int) -> dict[str, list[dict[str, Any]]]:
    """The last ``n`` stored values of each indicator for ``area``, oldest first."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not codes:
        return out
    stmt = (
        select(
            IndicatorValue.indicator_code,
            IndicatorValue.period_start,
            IndicatorValue.value,
            IndicatorValue.level,
        )
        .where(IndicatorValue.area_code == area, IndicatorValue.indicator_code.in_(codes))
        .order_by(IndicatorValue.indicator_code, IndicatorValue.period_start.desc())
    )
    for code, start, value, level in session.execute(stmt):
        points = out.setdefault(code, [])
        if len(points) < n:
            points.append({"period_start": start.isoformat(), "value": value, "level": level})
    return {code: list(reversed(points)) for code, points in out.items()}


def values_by_level(session: Session, code: str, level: str, within: str | None) -> dict[str, dict[str, Any]]:
    """The newest stored value of one indicator for every area of ``level`` (optionally inside ``within``)."""
    length = {"street": 9, "community": 12, "grid": 15}[level]
    stmt = (
        select(
            IndicatorValue.area_code, IndicatorValue.period_start, IndicatorValue.value, IndicatorValue.level
        )
        .where(IndicatorValue.indicator_code == code, func.length(IndicatorValue.area_code) == length)
        .order_by(IndicatorValue.period_start)
    )
    if within:
        stmt = stmt.where(IndicatorValue.area_code.startswith(within))
    out: dict[str, dict[str, Any]] = {}
    for area, start, value, lvl in session.execute(stmt):
        out[area] = {"value": value, "level": lvl, "period_start": start.isoformat()}
    return out
