"""Deadline risk: the probability that a running case misses its deadline, with the reasons.

Learnt from the handled history: each handled case gives one snapshot at a random moment between
its dispatch and the earlier of its handling and its deadline, described as the open cases are
described now — category, department, street, hour and weekday of filing, remaining working time,
share of the limit used, the department's load at that moment, returns so far — and labelled
with whether it was handled late. A logistic regression on one-hot and scaled features, calibrated
with :class:`~sklearn.calibration.CalibratedClassifierCV` (isotonic, 3 folds). Reasons are the
features that push a case's log-odds up the most against the average case.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from cityops.cases.aggregates import RiskRow
from cityops.kit.workcal import LOCAL_TZ, WorkCalendar

CATEGORICAL = ("category", "department", "street")
NUMERIC = ("log_remaining_hours", "used_fraction", "load", "returns", "filed_hour", "weekday")
COLUMNS = (*CATEGORICAL, *NUMERIC)
LABELS_ZH = {
    "log_remaining_hours": "剩余工作时间",
    "used_fraction": "时限已用比例",
    "load": "责任单位在办案件",
    "returns": "退回次数",
    "filed_hour": "上报时段",
    "weekday": "上报星期",
    "category": "案件类别",
    "department": "责任单位",
    "street": "所在街道",
}
MIN_TRAINING = 200


def remaining_hours(row: RiskRow, at: datetime, cal: WorkCalendar) -> float:
    """Time left until the deadline on the case's own clock (working or, for emergencies, wall hours)."""
    assert row.deadline is not None
    if row.limit_kind == "emergency":
        return max((row.deadline - at).total_seconds(), 0.0) / 3600
    return cal.working_seconds_between(at, row.deadline) / 3600


def _limit_hours(row: RiskRow) -> float:
    value = row.limit_value or 1.0
    return value * 8 if row.limit_kind == "working_days" else value


def features(row: RiskRow, at: datetime, load: float, cal: WorkCalendar) -> dict[str, Any]:
    left = remaining_hours(row, at, cal)
    created = row.created_at.astimezone(LOCAL_TZ)
    return {
        "category": row.category_code,
        "department": row.department_code or "-",
        "street": row.street_code or "-",
        "log_remaining_hours": math.log1p(left),
        "used_fraction": min(max(1 - left / max(_limit_hours(row), 0.01), 0.0), 1.5),
        "load": float(load),
        "returns": float(row.returned_count),
        "filed_hour": float(created.hour),
        "weekday": float(created.weekday()),
        "_remaining": left,
    }


class LoadIndex:
    """How many cases a department had running at a moment, from the training rows themselves."""

    def __init__(self, rows: Sequence[RiskRow]) -> None:
        starts: dict[str, list[datetime]] = defaultdict(list)
        ends: dict[str, list[datetime]] = defaultdict(list)
        for r in rows:
            if r.department_code and r.dispatched_at:
                starts[r.department_code].append(r.dispatched_at)
                if r.handled_at:
                    ends[r.department_code].append(r.handled_at)
        self.starts = {k: sorted(v) for k, v in starts.items()}
        self.ends = {k: sorted(v) for k, v in ends.items()}

    def at(self, department: str | None, when: datetime) -> int:
        if not department:
            return 0
        s = bisect.bisect_right(self.starts.get(department, []), when)
        e = bisect.bisect_right(self.ends.get(department, []), when)
        return max(s - e, 0)


def snapshots(
    rows: Sequence[RiskRow], cal: WorkCalendar, seed: int = 7
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """One training snapshot per handled case and its label (1 = handled after the deadline)."""
    rng = random.Random(seed)
    loads = LoadIndex(rows)
    X, y = [], []
    for r in rows:
        if r.deadline is None or r.dispatched_at is None or r.handled_at is None:
            continue
        end = min(r.handled_at, r.deadline)
        if end <= r.dispatched_at:
            continue
        at = r.dispatched_at + (end - r.dispatched_at) * rng.random()
        X.append(features(r, at, loads.at(r.department_code, at), cal))
        y.append(int(r.handled_at > r.deadline))
    return X, np.array(y)


def _dense(matrix: Any) -> np.ndarray:
    return np.asarray(matrix.toarray() if hasattr(matrix, "toarray") else matrix, dtype=float)


def _as_matrix(X: Sequence[dict[str, Any]]) -> np.ndarray:
    cols = (*CATEGORICAL, *NUMERIC)
    return np.array([[x[c] for c in cols] for x in X], dtype=object)


def _pipeline() -> Pipeline:
    n_cat = len(CATEGORICAL)
    pre = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=5), list(range(n_cat))),
            ("num", StandardScaler(), list(range(n_cat, n_cat + len(NUMERIC)))),
        ]
    )
    return Pipeline([("pre", pre), ("lr", LogisticRegression(max_iter=2000, C=1.0))])


@dataclass
class RiskModel:
    """A calibrated model plus what the reasons need (a plain pipeline fitted on all the data)."""

    calibrated: CalibratedClassifierCV
    explainer: Pipeline
    mean_row: np.ndarray
    trained_at: datetime
    n_train: int
    base_rate: float

    def predict(self, X: Sequence[dict[str, Any]]) -> np.ndarray:
        return np.asarray(self.calibrated.predict_proba(_as_matrix(X))[:, 1])

    def reasons(self, x: dict[str, Any], top: int = 3) -> list[dict[str, Any]]:
        """The features that raise this case's log-odds most compared with an average case."""
        pre = self.explainer.named_steps["pre"]
        coef = self.explainer.named_steps["lr"].coef_[0]
        row = _dense(pre.transform(_as_matrix([x])))[0]
        contrib = coef * (row - self.mean_row)
        names = pre.get_feature_names_out()
        per_feature: dict[str, float] = defaultdict(float)
        for name, c in zip(names, contrib, strict=True):
            # Without column names the transformer calls input column i "x<i>" (one-hot: "x<i>_<value>").
            base = name.split("__", 1)[1]
            feature = COLUMNS[int(base[1:].split("_", 1)[0])]
            per_feature[feature] += float(c)
        ranked = sorted(((f, c) for f, c in per_feature.items() if c > 0), key=lambda t: -t[1])[:top]
        return [
            {"feature": f, "label": LABELS_ZH.get(f, f), "value": _shown(f, x), "weight": round(c, 3)}
            for f, c in ranked
        ]


def _shown(feature: str, x: dict[str, Any]) -> Any:
    if feature == "log_remaining_hours":
        return round(x["_remaining"], 1)
    if feature == "used_fraction":
        return round(x["used_fraction"], 2)
    return x.get(feature)


def train(rows: Sequence[RiskRow], cal: WorkCalendar, now: datetime) -> RiskModel | None:
    """Fit on the handled history; None when it is too small or has only one outcome."""
    X, y = snapshots(rows, cal)
    if len(X) < MIN_TRAINING or y.min() == y.max() or min(int(y.sum()), int(len(y) - y.sum())) < 10:
        return None
    M = _as_matrix(X)
    calibrated = CalibratedClassifierCV(_pipeline(), method="isotonic", cv=3)
    calibrated.fit(M, y)
    explainer = _pipeline().fit(M, y)
    transformed = explainer.named_steps["pre"].transform(M)
    mean_row = _dense(transformed).mean(axis=0)
    return RiskModel(calibrated, explainer, mean_row, now, len(X), float(y.mean()))
