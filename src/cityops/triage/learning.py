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
from cityops.triage.routing import SeedClassifier

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


def get_classifier(session: Session) -> Any:
    """The trained classifier when its model file exists, else the seed classifier.

    The live model is remembered per file (path and modification time), so a model file replaced
    by ``cityops triage train`` is picked up on the next report without a restart. A damaged file
    is logged and the seed classifier answers, so intake never stops on a bad model.
    """
    global _MODEL, _MODEL_KEY
    path = model_path()
    try:
        key: tuple[Any, ...] = ("file", str(path), path.stat().st_mtime_ns)
    except OSError:
        key = ("seed",)
    with _MODEL_LOCK:
        if _MODEL is not None and (key == _MODEL_KEY or _MODEL_KEY == ("set",)):
            return _MODEL
        model: Any = None
        if key[0] == "file":
            try:
                model = _load_model_file(path)
            except Exception:  # fall back to the seed rather than refuse every report
                log.exception("triage model %s could not be loaded; using the seed classifier", path)
                key = ("seed",)
        if model is None:
            if _MODEL is not None and _MODEL_KEY == ("seed",):
                return _MODEL
            from cityops.catalog.service import list_categories

            cats, _ = list_categories(session, kind="event", active=True, limit=10_000)
            model = SeedClassifier.from_catalog((c.code, c.name) for c in cats)
        _MODEL, _MODEL_KEY = model, key
        return model


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


SEED_WEIGHT = 3  # the written examples and corrections count like three history rows


def train_catalog_classifier(
    session: Session, *, min_per_class: int = 5, save: bool = True, path: Path | None = None
) -> dict[str, Any]:
    """Train on case descriptions + the written seed examples + corrections; save it (joblib) and
    make it the live classifier.

    ``CharNgramClassifier`` (logistic regression) is used because its probabilities are what the
    confidence gate compares with the thresholds; a ``TextClassifier`` file from
    ``cityops triage train`` can be configured instead with ``CITYOPS_TRIAGE_MODEL``.
    """
    from cityops.cases import service as cases
    from cityops.triage.routing import CharNgramClassifier, seed_rows

    rows = list(dict.fromkeys(cases.labelled_descriptions(session)))  # exact repeats once
    counts: dict[str, int] = {}
    for _, lab in rows:
        counts[lab] = counts.get(lab, 0) + 1
    known = {lab for lab, n in counts.items() if n >= min_per_class}
    texts = [t for t, lab in rows if lab in known]
    labels = [lab for _, lab in rows if lab in known]
    if len(known) < 2:
        raise Invalid(
            "历史案卷不足，无法训练", "Not enough labelled cases to train", details={"rows": len(labels)}
        )
    extra = [(ex, code) for code, name, ex in seed_rows() if code in known]
    extra += [(name, code) for code, name, _ in seed_rows() if code in known]
    corrections = [(r["text"], r["label"]) for r in export_training_rows(session) if r["label"] in known]
    extra += corrections
    model: Any = CharNgramClassifier.train(
        texts + [t for t, _ in extra] * SEED_WEIGHT, labels + [lab for _, lab in extra] * SEED_WEIGHT
    )
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
    return {"rows": len(labels), "categories": len(known), "corrections": len(corrections)}
