"""The learning side of triage: the live classifier, dispatchers' corrections, and training
the catalog classifier from the case store (so the next model learns from human decisions).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.errors import Invalid
from cityops.triage.models import CORRECTION_SOURCES, TrainingCorrection

log = logging.getLogger("cityops.triage")

_MODEL_LOCK = threading.Lock()
_MODEL: Any = None
_MODEL_KEY: tuple[Any, ...] | None = None


def model_path() -> Path:
    """The catalog classifier's model file: ``CITYOPS_TRIAGE_MODEL``, else the in-app trained model
    beside the attachments directory (``<storage_dir>/../models/catalog_classifier.joblib``)."""
    from cityops.config import get_settings

    settings = get_settings()
    if settings.triage_model:
        return Path(settings.triage_model)
    return Path(settings.storage_dir).parent / "models" / "catalog_classifier.joblib"


def _load_model_file(path: Path) -> Any:
    """``.joblib``: a model trained in-app (:func:`train_catalog_classifier`); anything else: a
    versioned model file written by ``cityops triage train`` (``TextClassifier.load``)."""
    if path.suffix == ".joblib":
        import joblib

        return joblib.load(path)
    from cityops.triage.classifier import TextClassifier

    return TextClassifier.load(path)


_LIVE_TTL = 5.0
_LIVE: dict[str, tuple[float, Any, int | None]] = {}


def forget_live_model() -> None:
    """Drop the remembered live model (a version was switched on in this process)."""
    with _MODEL_LOCK:
        _LIVE.clear()


def live_model(session: Session) -> tuple[Any, int | None]:
    """(classifier, version) answering reports now; see :func:`get_classifier`."""
    import time

    global _MODEL, _MODEL_KEY
    path = model_path()
    try:
        key: tuple[Any, ...] = ("file", str(path), path.stat().st_mtime_ns)
    except OSError:
        key = ("versions",)
    with _MODEL_LOCK:
        if _MODEL is not None and (key == _MODEL_KEY or _MODEL_KEY == ("set",)):
            return _MODEL, None
    if key[0] == "file":
        try:
            model = _load_model_file(path)
        except Exception:  # fall back to the versions rather than refuse every report
            log.exception("triage model %s could not be loaded; using the routing model versions", path)
        else:
            _remember(model, key)
            return model, None
    from cityops.triage import versions
    from cityops.triage.service import bind_key

    bind = bind_key(session)
    now = time.monotonic()
    with _MODEL_LOCK:
        hit = _LIVE.get(bind)
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
    model, version = versions.active_model(session)
    with _MODEL_LOCK:
        _LIVE[bind] = (now + _LIVE_TTL, model, version)
    return model, version


def get_classifier(session: Session) -> Any:
    """The classifier that routes reports now.

    In order: the model ``set_classifier`` installed (tests); a model file at ``model_path()``
    (``CITYOPS_TRIAGE_MODEL`` or one trained by :func:`train_catalog_classifier`), picked up when it
    is replaced; the active routing model version; the knowledge-base model (a fresh install).
    The live version is re-read every few seconds, so a version switched on by another process
    is used without a restart.
    """
    return live_model(session)[0]


def _remember(model: Any, key: tuple[Any, ...]) -> None:
    global _MODEL, _MODEL_KEY
    with _MODEL_LOCK:
        _MODEL, _MODEL_KEY = model, key


def set_classifier(model: Any) -> None:
    """Swap the live classifier (after training, or in tests); ``None`` goes back to loading."""
    global _MODEL, _MODEL_KEY
    with _MODEL_LOCK:
        _MODEL = model
        _MODEL_KEY = ("set",) if model is not None else None


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
    session: Session, *, min_per_class: int = 5, save: bool = True, path: Path | None = None
) -> dict[str, Any]:
    """Train the routing model on the knowledge base + case history + corrections and save it as
    a model file (``model_path()``), which then answers reports ahead of the model versions.

    Kept for ``CITYOPS_TRIAGE_MODEL`` deployments; the versioned way is
    ``versions.train_version`` (compared with the live version before it is switched on).
    ``min_per_class``: history categories with fewer cases are left to the knowledge base.
    """
    from cityops.cases import service as cases
    from cityops.triage import kb_model, kb_service

    rows = list(dict.fromkeys(cases.labelled_descriptions(session)))
    counts: dict[str, int] = {}
    for _, lab in rows:
        counts[lab] = counts.get(lab, 0) + 1
    known = {lab for lab, n in counts.items() if n >= min_per_class}
    history = [(t, lab) for t, lab in rows if lab in known]
    if len(known) < 2:
        raise Invalid(
            "历史案卷不足，无法训练", "Not enough labelled cases to train", details={"rows": len(history)}
        )
    corrections = [(r["text"], r["label"]) for r in export_training_rows(session)]
    model: Any = kb_model.build(kb_service.effective_rows(session), history, corrections)
    model.info.pop("held_out_corrections", None)
    if save:
        target = path or model_path()
        if target.suffix != ".joblib":
            raise Invalid(
                "应用内训练的模型保存为 .joblib 文件；请将 CITYOPS_TRIAGE_MODEL 指向 .joblib 路径",
                "in-app training writes a .joblib model; point CITYOPS_TRIAGE_MODEL at a .joblib path "
                "or train a model file with `cityops triage train`",
                details={"path": str(target)},
            )
        import joblib

        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".joblib.tmp")
        joblib.dump(model, tmp)
        tmp.replace(target)
        _remember(model, ("file", str(target), target.stat().st_mtime_ns))
    else:
        set_classifier(model)
    return {"rows": len(history), "categories": len(known), "corrections": len(corrections)}


def thresholds_report(session: Session, *, build: bool = True) -> dict[str, Any]:
    """Per category: the live model's calibrated threshold (expected precision ≥ the target), an
    administrator's override if any, the effective one, and — for models calibrated since the
    per-category figures were kept — the expected share of that category's reports dispatched
    automatically and their expected precision; with the overall figures.

    ``build=False`` (pages): never build the knowledge-base model here (tens of seconds after an
    edit of the knowledge base); ``model_ready`` is False and only overrides are listed until it
    is built (by the next report routed, a retraining or the worker)."""
    from cityops.triage.models import RoutingThreshold

    if build or model_path().is_file():
        model, version = live_model(session)
    else:
        from cityops.triage import versions

        model, version = versions.built_model(session)
    overrides = {r.category_code: r.threshold for r in session.scalars(select(RoutingThreshold))}
    calibrated: dict[str, float] = dict(getattr(model, "thresholds", {}) or {})
    default = getattr(model, "default_threshold", None)
    info = getattr(model, "info", {}) or {}
    calibration = info.get("calibration") or {}
    per_category = calibration.get("per_category") or {}
    codes = sorted(set(calibrated) | set(overrides))
    return {
        "model_ready": model is not None,
        "model_version": version,
        "target_precision": info.get("target_precision"),
        "default_threshold": default,
        "family_threshold": getattr(model, "family_threshold", None),
        "expected_auto_share": calibration.get("expected_auto_share"),
        "expected_precision": calibration.get("expected_precision"),
        "held_out": calibration.get("held_out"),
        "categories": [
            {
                "category_code": c,
                "calibrated": calibrated.get(c, default),
                "override": overrides.get(c),
                "effective": overrides.get(c, calibrated.get(c, default)),
                "held_out": (per_category.get(c) or {}).get("held_out"),
                "expected_auto_share": (per_category.get(c) or {}).get("expected_auto_share"),
                "expected_precision": (per_category.get(c) or {}).get("expected_precision"),
            }
            for c in codes
        ],
    }
