"""Deadline-risk quality on a time-based split of the demo history. One JSON line per figure.

    .venv/bin/python benchmarks/bench_risk.py [--cases 20000]

Loads the demo (SQLite, fixed seed and "now"), trains the model on the cases handled in the first
nine months and scores snapshots of the cases handled in the last three (each case seen at one
random moment before its deadline, as the model sees open cases). Baseline, same split: the same
calibrated logistic regression on "remaining working time" alone. Figures: ROC AUC, Brier score
and expected calibration error (10 equal-width bins).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from common import emit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score

from cityops.cases import aggregates
from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker, unit_of_work
from cityops.demo.loader import load_demo
from cityops.evaluation import risk
from cityops.migrate import upgrade

NOW = datetime(2026, 11, 26, 6, 30, tzinfo=UTC)


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        mask = (p >= lo) & ((p < hi) if hi < 1 else (p <= hi))
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - y[mask].mean())
    return float(total)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'risk.db'}")
        upgrade(engine)
        load_demo(
            engine, Settings(demo_mode=True), n_cases=args.cases, seed=20261126, progress=False, now=NOW
        )
        with unit_of_work(make_sessionmaker(engine)) as s:
            rows = aggregates.finished_for_risk(s, NOW - timedelta(days=400), NOW, limit=1_000_000)
            cal = aggregates.calendar(s)
        split = NOW - timedelta(days=91)
        train_rows = [r for r in rows if r.handled_at is not None and r.handled_at < split]
        test_rows = [r for r in rows if r.handled_at is not None and r.handled_at >= split]
        model = risk.train(train_rows, cal, split)
        assert model is not None, "not enough history to train"
        X, y = risk.snapshots(test_rows, cal, seed=123)
        p = model.predict(X)
        Xb, yb = risk.snapshots(train_rows, cal, seed=7)
        base = CalibratedClassifierCV(LogisticRegression(max_iter=1000), method="isotonic", cv=3)
        base.fit(np.array([[x["log_remaining_hours"]] for x in Xb]), yb)
        pb = base.predict_proba(np.array([[x["log_remaining_hours"]] for x in X]))[:, 1]
        extra = {
            "train_cases": len(train_rows),
            "test_cases": len(y),
            "test_late_rate": round(float(y.mean()), 4),
            "split": split.date().isoformat(),
        }
        emit(
            "deadline risk ROC AUC (time split)",
            roc_auc_score(y, p),
            "AUC",
            baseline="remaining working time alone",
            baseline_value=roc_auc_score(y, pb),
            **extra,
        )
        emit(
            "deadline risk Brier score (lower is better)",
            brier_score_loss(y, p),
            "Brier",
            baseline="remaining working time alone",
            baseline_value=brier_score_loss(y, pb),
            **extra,
        )
        emit(
            "deadline risk expected calibration error (10 bins)",
            ece(p, y),
            "ECE",
            baseline="remaining working time alone",
            baseline_value=ece(pb, y),
            **extra,
        )
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
