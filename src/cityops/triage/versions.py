"""Versions of the routing model: train, compare with the live version, switch on, roll back.

Each training (on demand, by the worker's schedule, at demo load) writes a model file
``<models>/routing/v<N>.joblib`` and a ``triage_model_versions`` row. Before a candidate goes
live it is compared with the version live now on the same two sets: the held-out corrections
(dispatchers' labels neither version trained on, once there are 25 or more) and a knowledge-base
sanity set (reports written from the knowledge base). It is switched on when it is at least as
good on both (within ``TOLERANCE``), otherwise kept as *rejected* with the figures. Any version
whose file exists can be switched on again (rollback). Without any version the knowledge-base
model answers (built on first use and kept on disk by the knowledge base's fingerprint).
"""

from __future__ import annotations

import logging
import threading
import uuid
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.db import utcnow
from cityops.errors import Conflict, NotFound
from cityops.triage import kb_model, kb_service
from cityops.triage.kb_synth import examples
from cityops.triage.models import RoutingModelVersion, TrainingCorrection

log = logging.getLogger("cityops.triage")

TOLERANCE = 0.01
MAX_HISTORY_ROWS = 60_000
MIN_HELD_OUT = 5
_LOCK = threading.Lock()
_LOADED: dict[str, Any] = {}


def models_dir() -> Path:
    from cityops.config import get_settings

    return Path(get_settings().storage_dir).parent / "models" / "routing"


def _save(model: Any, name: str) -> Path:
    import joblib

    target = models_dir() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    joblib.dump(model, tmp, compress=3)
    tmp.replace(target)
    return target


def load_file(name: str) -> Any:
    """The model in ``<models>/routing/<name>``, cached per process."""
    import joblib

    with _LOCK:
        if name not in _LOADED:
            if len(_LOADED) > 4:
                _LOADED.clear()
            _LOADED[name] = joblib.load(models_dir() / name)
        return _LOADED[name]


def kb_only_model(session: Session) -> Any:
    """The knowledge-base model (no labelled history): the cold start of a fresh install."""
    rows = kb_service.effective_rows(session)
    name = f"kb-{kb_model.kb_fingerprint(rows)}.joblib"
    with _LOCK:
        if name in _LOADED:
            return _LOADED[name]
    if (models_dir() / name).exists():
        try:
            return load_file(name)
        except Exception:  # a damaged cache file is rebuilt
            log.exception("knowledge-base model %s could not be loaded; rebuilding", name)
    model = kb_model.build(rows)
    _save(model, name)
    with _LOCK:
        _LOADED[name] = model
    return model


def built_model(session: Session) -> tuple[Any | None, int | None]:
    """(model, version) live now, without building anything: the active version's model, else the
    knowledge-base model if it is built for the current knowledge base (None while it is not)."""
    row = active_version(session)
    if row is not None:
        try:
            return load_file(row.path), row.version
        except Exception:
            log.exception("routing model version %s could not be loaded", row.version)
    name = f"kb-{kb_model.kb_fingerprint(kb_service.effective_rows(session))}.joblib"
    with _LOCK:
        if name in _LOADED:
            return _LOADED[name], None
    if (models_dir() / name).exists():
        try:
            return load_file(name), None
        except Exception:
            log.exception("knowledge-base model %s could not be loaded", name)
    return None, None


def active_version(session: Session) -> RoutingModelVersion | None:
    return session.scalar(
        select(RoutingModelVersion)
        .where(RoutingModelVersion.status == "active")
        .order_by(RoutingModelVersion.version.desc())
        .limit(1)
    )


def active_model(session: Session) -> tuple[Any, int | None]:
    """(model, version) live now: the active version's model, else the knowledge-base model."""
    row = active_version(session)
    if row is not None:
        try:
            return load_file(row.path), row.version
        except Exception:
            log.exception(
                "routing model version %s could not be loaded; using the knowledge-base model", row.version
            )
    return kb_only_model(session), None


def _labelled(session: Session, imported: bool) -> list[tuple[str, str]]:
    stmt = select(TrainingCorrection.text, TrainingCorrection.label).order_by(TrainingCorrection.created_at)
    is_import = TrainingCorrection.source == "history_import"
    rows = session.execute(stmt.where(is_import if imported else ~is_import))
    return [(t, lab) for t, lab in rows]


def _corrections(session: Session) -> list[tuple[str, str]]:
    """Dispatchers' labels (queue, recategorisation, misrouted return), oldest first."""
    return _labelled(session, imported=False)


def _history(session: Session) -> list[tuple[str, str]]:
    """The case store's (description, category) pairs and an imported district export."""
    from cityops.cases import service as cases

    return _labelled(session, imported=True) + list(
        islice(cases.labelled_descriptions(session), MAX_HISTORY_ROWS)
    )


def _sanity_set(session: Session) -> list[tuple[str, str]]:
    rows = kb_service.effective_rows(session)
    return [(e.text, e.label) for e in examples(rows, per_class=4, seed=7)]


def compare(
    new: Any, old: Any, held_out: list[tuple[str, str]], sanity: list[tuple[str, str]]
) -> dict[str, Any]:
    """Both models on the same sets; ``better`` when the new one is not worse on either."""
    out: dict[str, Any] = {"held_out_corrections": len(held_out), "sanity_reports": len(sanity)}
    out["new_corrections_accuracy"] = (
        kb_model.accuracy(new, held_out) if len(held_out) >= MIN_HELD_OUT else None
    )
    out["old_corrections_accuracy"] = (
        kb_model.accuracy(old, held_out) if len(held_out) >= MIN_HELD_OUT else None
    )
    out["new_sanity_accuracy"] = kb_model.accuracy(new, sanity)
    out["old_sanity_accuracy"] = kb_model.accuracy(old, sanity)
    ok = (out["new_sanity_accuracy"] or 0) >= (out["old_sanity_accuracy"] or 0) - TOLERANCE
    if out["new_corrections_accuracy"] is not None:
        ok = ok and out["new_corrections_accuracy"] >= (out["old_corrections_accuracy"] or 0) - TOLERANCE
        out["gain"] = round(out["new_corrections_accuracy"] - (out["old_corrections_accuracy"] or 0), 4)
    out["better"] = bool(ok)
    return out


def train_version(
    session: Session, *, trigger: str = "on_demand", include_history: bool = True, force: bool = False
) -> RoutingModelVersion:
    """Train a candidate from the knowledge base, the case history and every correction, compare
    it with the live model and switch it on when it is not worse (``force``: switch on anyway)."""
    rows = kb_service.effective_rows(session)
    corrections = _corrections(session)
    hist = _history(session) if include_history else []
    model = kb_model.build(rows, hist, corrections)
    held = [tuple(x) for x in model.info.pop("held_out_corrections", [])]
    old, old_version = active_model(session)
    comparison = compare(model, old, held, _sanity_set(session))
    comparison["against_version"] = old_version
    row = RoutingModelVersion(
        status="candidate",
        trigger=trigger,
        kb_revision=kb_service.revision(session),
        corrections=len(corrections),
        history_rows=len(hist),
        path="",
        metrics={
            "training_rows_total": _n_training_rows(session),
            "info": model.info,
            "comparison": comparison,
            "thresholds": model.thresholds,
            "default_threshold": model.default_threshold,
            "family_threshold": model.family_threshold,
        },
    )
    session.add(row)
    session.flush()
    # The database's version number plus a random part: two databases (tests, a staging copy)
    # sharing one models directory never overwrite each other's files.
    row.path = _save(model, f"v{row.version}-{uuid.uuid4().hex[:8]}.joblib").name
    with _LOCK:
        _LOADED[row.path] = model
    if comparison["better"] or force:
        _switch_on(session, row)
        row.note = "上线 / switched on" + ("（强制 / forced）" if force and not comparison["better"] else "")
    else:
        row.status = "rejected"
        row.note = "不如当前版本，未上线 / worse than the live version, kept off"
    session.flush()
    return row


def _switch_on(session: Session, row: RoutingModelVersion) -> None:
    for live in session.scalars(select(RoutingModelVersion).where(RoutingModelVersion.status == "active")):
        if live.version != row.version:
            live.status = "retired"
    row.status = "active"
    row.activated_at = utcnow()
    from cityops.triage.learning import forget_live_model

    forget_live_model()


def activate(session: Session, version: int) -> RoutingModelVersion:
    """Switch a version on (rollback to an earlier one, or a rejected candidate by decision)."""
    row = session.get(RoutingModelVersion, version)
    if row is None:
        raise NotFound("模型版本不存在", f"no routing model version {version}", details={"version": version})
    if not (models_dir() / row.path).exists():
        raise Conflict(
            "该版本的模型文件已不存在，无法上线",
            f"the model file of version {version} is gone",
            details={"version": version},
        )
    _switch_on(session, row)
    session.flush()
    return row


def rollback(session: Session) -> RoutingModelVersion:
    """Switch on the version that was live before the current one."""
    live = active_version(session)
    stmt = select(RoutingModelVersion).where(
        RoutingModelVersion.status == "retired", RoutingModelVersion.activated_at.is_not(None)
    )
    if live is not None:
        stmt = stmt.where(RoutingModelVersion.version < live.version)
    previous = session.scalar(stmt.order_by(RoutingModelVersion.version.desc()).limit(1))
    if previous is None:
        raise Conflict("没有可回退的上一版本", "there is no earlier live version to roll back to")
    return activate(session, previous.version)


def list_versions(session: Session, limit: int = 50) -> list[RoutingModelVersion]:
    return list(
        session.scalars(select(RoutingModelVersion).order_by(RoutingModelVersion.version.desc()).limit(limit))
    )


def version_dict(row: RoutingModelVersion) -> dict[str, Any]:
    m = row.metrics or {}
    info = m.get("info", {})
    return {
        "version": row.version,
        "status": row.status,
        "trigger": row.trigger,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "activated_at": row.activated_at.isoformat() if row.activated_at else None,
        "kb_revision": row.kb_revision,
        "corrections": row.corrections,
        "history_rows": row.history_rows,
        "comparison": m.get("comparison", {}),
        "calibration": info.get("calibration", {}),
        "train_seconds": info.get("seconds"),
        "note": row.note,
    }


def gain_report(session: Session) -> dict[str, Any]:
    """Versions oldest first with what each learned from and how it compared: the gain over time."""
    rows = list(reversed(list_versions(session, limit=500)))
    live = active_version(session)
    n_corr = len(_corrections(session))
    return {
        "active_version": live.version if live else None,
        "corrections_total": n_corr,
        "corrections_since_active": max(0, n_corr - (live.corrections if live else 0)),
        "versions": [version_dict(r) for r in rows],
    }


def retrain_due(session: Session) -> bool:
    """True when corrections or the knowledge base changed since the live version was trained."""
    live = active_version(session)
    if live is None:
        return True
    trained_on = (live.metrics or {}).get("training_rows_total")
    return _n_training_rows(session) != trained_on or kb_service.revision(session) != live.kb_revision


def _n_training_rows(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(TrainingCorrection)) or 0)
