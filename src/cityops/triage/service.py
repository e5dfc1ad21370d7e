"""Triage operations: route a report, the operator queue, thresholds, corrections, the gazetteer,
the accurate-dispatch rate and training the catalog classifier from the case store.

Reads of the case log and case descriptions are read-only queries on the cases tables: triage
needs aggregates the cases service does not offer, and never writes those tables.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.db import utcnow
from cityops.errors import DomainError, Invalid, NotFound
from cityops.triage import gazetteer
from cityops.triage.models import (
    CORRECTION_SOURCES,
    DEFAULT_THRESHOLD,
    GAZETTEER_KINDS,
    GazetteerEntry,
    RoutingThreshold,
    TrainingCorrection,
    TriageQueueItem,
)
from cityops.triage.places import PlaceMatch, resolve_place
from cityops.triage.routing import (
    RoutingDecision,
    SeedClassifier,
    Suggestion,
    check_report_text,
    decide,
    driving_words,
    normalise_top_k,
)

_MODEL_LOCK = threading.Lock()
_MODEL: Any = None


def model_path() -> Path:
    """Where the trained catalog classifier lives (beside the attachments directory)."""
    from cityops.config import get_settings

    return Path(get_settings().storage_dir).parent / "models" / "catalog_classifier.joblib"


def get_classifier(session: Session) -> Any:
    """The trained catalog classifier if one was saved, else the seed classifier (built once)."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            path = model_path()
            if path.exists():
                import joblib

                _MODEL = joblib.load(path)
            else:
                from cityops.catalog.service import list_categories

                cats, _ = list_categories(session, kind="event", active=True, limit=10_000)
                _MODEL = SeedClassifier.from_catalog((c.code, c.name) for c in cats)
        return _MODEL


def set_classifier(model: Any) -> None:
    """Swap the live classifier (after training, or in tests)."""
    global _MODEL
    with _MODEL_LOCK:
        _MODEL = model


def _area_chain(place: PlaceMatch | None, district_code: str) -> list[str]:
    """Area codes most specific first: grid, community, street, district."""
    codes: list[str] = []
    if place is not None:
        for code in (place.grid_code, place.area_code):
            if code:
                codes += [code[:n] for n in (15, 12) if len(code) >= n]
        if place.street_code:
            codes.append(place.street_code)
    codes.append(district_code)
    return list(dict.fromkeys(codes))


def _department(session: Session, category_code: str, areas: list[str]) -> str | None:
    from cityops.catalog.responsibility import responsible_department

    try:
        return responsible_department(session, category_code, areas)
    except DomainError:
        return None  # no row in the responsibility list: an operator must choose


def _place_from_point(session: Session, lon: Any, lat: Any) -> PlaceMatch | None:
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        raise Invalid("经纬度必须是数字", "lon and lat must be numbers", details={"field": "lon"}) from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise Invalid("经纬度超出范围", "lon/lat out of range", details={"field": "lon"})
    index = gazetteer.index_for_session(session)
    if index.locator is None:
        return None
    grid, community, street = index.locator(lon, lat)
    if street is None:
        return None
    area = grid or community or street
    return PlaceMatch("", 0, 0, "point", area, area, grid, street, lon, lat, 0.99)


def route_report(
    session: Session,
    text: str,
    lon: float | None = None,
    lat: float | None = None,
    classifier: Any = None,
    *,
    district_code: str = "330105",
) -> RoutingDecision:
    """Category, place and department for one report; unsure reports join the operator queue."""
    text = check_report_text(text)
    classifier = classifier or get_classifier(session)
    top = normalise_top_k(classifier.predict_top_k([text], 3)[0])
    place = _place_from_point(session, lon, lat) if lon is not None and lat is not None else None
    place = place or resolve_place(session, text)
    areas = _area_chain(place, district_code)
    suggestions = [Suggestion(c, round(p, 4), _department(session, c, areas)) for c, p in top]
    best = suggestions[0] if suggestions else None
    threshold = get_threshold(session, best.category_code) if best else DEFAULT_THRESHOLD
    auto, reason = decide(top, threshold, place, best.department_code if best else None)
    decision = RoutingDecision(
        category_code=best.category_code if best else None,
        confidence=best.probability if best else 0.0,
        place=place,
        department_code=best.department_code if best else None,
        auto=auto,
        suggestions=suggestions,
        driving_words=driving_words(classifier, text, best.category_code) if best else [],
        threshold=threshold,
        reason=reason,
    )
    if not auto:
        item = TriageQueueItem(
            text=text,
            lon=lon,
            lat=lat,
            suggestions=[s.__dict__ for s in suggestions],
            driving_words=decision.driving_words,
            place=place.as_dict() if place else None,
        )
        session.add(item)
        session.flush()
        decision.queue_item_id = str(item.id)
    return decision


def get_threshold(session: Session, category_code: str) -> float:
    row = session.get(RoutingThreshold, category_code)
    return row.threshold if row else DEFAULT_THRESHOLD


def set_threshold(session: Session, category_code: str, threshold: float) -> RoutingThreshold:
    if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise Invalid(
            "阈值必须在 0 到 1 之间", "threshold must be between 0 and 1", details={"field": "threshold"}
        )
    from cityops.catalog.service import get_category

    get_category(session, category_code)  # NotFound for an unknown category
    row = session.get(RoutingThreshold, category_code)
    if row is None:
        row = RoutingThreshold(category_code=category_code, threshold=float(threshold))
        session.add(row)
    else:
        row.threshold = float(threshold)
    session.flush()
    return row


def list_queue(session: Session, *, open_only: bool = True, limit: int = 50) -> list[TriageQueueItem]:
    stmt = select(TriageQueueItem).order_by(TriageQueueItem.created_at)
    if open_only:
        stmt = stmt.where(TriageQueueItem.resolved_at.is_(None))
    return list(session.scalars(stmt.limit(limit)))


def resolve_queue_item(
    session: Session, item_id: uuid.UUID, category_code: str, user_id: uuid.UUID
) -> TriageQueueItem:
    """The operator's category for a queued report; it becomes a training row."""
    item = session.get(TriageQueueItem, item_id)
    if item is None:
        raise NotFound("待分拣记录不存在", "No such queue item", details={"id": str(item_id)})
    if item.resolved_at is not None:
        from cityops.errors import Conflict

        raise Conflict("该记录已处理", "This queue item is already resolved", details={"id": str(item_id)})
    from cityops.catalog.service import get_category

    get_category(session, category_code)
    item.resolved_at = utcnow()
    item.resolved_by = user_id
    item.resolved_category = category_code
    record_correction(session, item.text, category_code, "operator_queue")
    return item


def record_correction(session: Session, text: str, label: str, source: str) -> TrainingCorrection:
    """A human-confirmed label (queue, recategorisation, misrouted return) for the next model."""
    if source not in CORRECTION_SOURCES:
        raise Invalid("来源不正确", f"source must be one of {', '.join(CORRECTION_SOURCES)}")
    row = TrainingCorrection(text=text, label=label, source=source)
    session.add(row)
    session.flush()
    return row


def export_training_rows(session: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """Every correction as {text, label, source, created_at}, oldest first."""
    stmt = select(TrainingCorrection).order_by(TrainingCorrection.created_at)
    if since is not None:
        stmt = stmt.where(TrainingCorrection.created_at >= since)
    return [
        {"text": r.text, "label": r.label, "source": r.source, "created_at": r.created_at.isoformat()}
        for r in session.scalars(stmt)
    ]


def train_catalog_classifier(
    session: Session, *, min_per_class: int = 5, save: bool = True
) -> dict[str, Any]:
    """Train on case descriptions + corrections, save it, and make it the live classifier."""
    from cityops.cases.models import Case

    texts: list[str] = []
    labels: list[str] = []
    for desc, code in session.execute(select(Case.description, Case.category_code)):
        if desc and code:
            texts.append(desc)
            labels.append(code)
    for row in export_training_rows(session):
        texts.append(row["text"])
        labels.append(row["label"])
    counts: dict[str, int] = {}
    for lab in labels:
        counts[lab] = counts.get(lab, 0) + 1
    keep = [i for i, lab in enumerate(labels) if counts[lab] >= min_per_class]
    texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    if len(set(labels)) < 2:
        raise Invalid(
            "历史案卷不足，无法训练", "Not enough labelled cases to train", details={"rows": len(labels)}
        )
    try:
        from cityops.triage.classifier import TextClassifier  # the classifier capability, when present

        model: Any = TextClassifier.train(texts, labels)
    except ImportError:
        from cityops.triage.routing import CharNgramClassifier

        model = CharNgramClassifier.train(texts, labels)
    if save:
        import joblib

        path = model_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(model, path)
    set_classifier(model)
    return {"rows": len(labels), "categories": len(set(labels))}


def accurate_dispatch_rate(session: Session, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """准确派遣率 per category and overall: dispatched cases not returned as misrouted / dispatched."""
    from cityops.cases.models import Case, CaseLog

    rows = session.execute(
        select(CaseLog.case_id, CaseLog.action, CaseLog.data, Case.category_code)
        .join(Case, Case.id == CaseLog.case_id)
        .where(CaseLog.action.in_(("dispatch", "return")), CaseLog.at >= since, CaseLog.at < until)
    ).all()
    dispatched: dict[str, set[Any]] = {}
    misrouted: dict[str, set[Any]] = {}
    for case_id, action, data, category in rows:
        # The category at dispatch time when the log kept it: a later recategorisation fixes the
        # case but the misroute still belongs to the category it was dispatched under.
        cat = (data or {}).get("category_code") or category
        if action == "dispatch":
            dispatched.setdefault(cat, set()).add(case_id)
        elif (data or {}).get("misrouted"):
            misrouted.setdefault(cat, set()).add(case_id)
    out = []
    all_d: set[Any] = set()
    all_m: set[Any] = set()
    for cat in sorted(dispatched):
        d, m = dispatched[cat], misrouted.get(cat, set()) & dispatched[cat]
        all_d |= {(cat, x) for x in d}
        all_m |= {(cat, x) for x in m}
        out.append(
            {"category_code": cat, "dispatched": len(d), "misrouted": len(m), "rate": 1 - len(m) / len(d)}
        )
    rate = 1 - len(all_m) / len(all_d) if all_d else None
    out.append({"category_code": None, "dispatched": len(all_d), "misrouted": len(all_m), "rate": rate})
    return out


def list_gazetteer(session: Session) -> list[GazetteerEntry] | list[gazetteer.GazetteerRecord]:
    rows = list(session.scalars(select(GazetteerEntry).order_by(GazetteerEntry.name)))
    return rows or gazetteer.load_seed()


def add_gazetteer_entry(
    session: Session,
    *,
    name: str,
    kind: str,
    area_code: str,
    aliases: list[str] | None = None,
    lon: float | None = None,
    lat: float | None = None,
) -> GazetteerEntry:
    """Add a named place; the first edit copies the seed in so it is not lost."""
    name = (name or "").strip()
    if not 2 <= len(name) <= 100:
        raise Invalid("地名长度应为 2–100 字", "name must be 2–100 characters", details={"field": "name"})
    if kind not in GAZETTEER_KINDS:
        raise Invalid(
            "类型不正确", f"kind must be one of {', '.join(GAZETTEER_KINDS)}", details={"field": "kind"}
        )
    if (lon is None) != (lat is None) or (lon is not None and not (-180 <= lon <= 180 and -90 <= lat <= 90)):
        raise Invalid(
            "经纬度需同时提供且在范围内", "give both lon and lat, within range", details={"field": "lon"}
        )
    from cityops.areas.models import Area

    if session.get(Area, area_code) is None:
        raise Invalid("区域编码不存在", f"unknown area_code {area_code!r}", details={"field": "area_code"})
    if session.scalar(select(GazetteerEntry.id).limit(1)) is None:
        for e in gazetteer.load_seed():
            session.add(
                GazetteerEntry(
                    name=e.name,
                    kind=e.kind,
                    area_code=e.area_code,
                    aliases=list(e.aliases),
                    lon=e.lon,
                    lat=e.lat,
                    line=e.line,
                )
            )
    row = GazetteerEntry(
        name=name, kind=kind, area_code=area_code, aliases=list(aliases or []), lon=lon, lat=lat
    )
    session.add(row)
    session.flush()
    return row
