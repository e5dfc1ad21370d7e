"""Scores (accuracy, macro-F1, per-class table) and grouped cross-validation.

Grouped, because hotline histories repeat themselves: the same subject line or the same detail
text shows up in several rows (and in several export files). Rows that share any normalised field
value are put in one group, and a group is never split between training and test folds, so a
score never rewards remembering a text the model was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from cityops.errors import Invalid
from cityops.triage.classifier import TextClassifier, TextInput, TrainOptions, as_records


@dataclass
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Report:
    """What ``evaluate`` prints: overall figures and one row per class."""

    n: int
    accuracy: float
    macro_f1: float
    per_class: list[ClassScore] = field(default_factory=list)
    folds: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "folds": self.folds,
            "per_class": [vars(c) for c in self.per_class],
        }


def score(y_true: Sequence[str], y_pred: Sequence[str]) -> Report:
    """Accuracy and macro-F1 over the classes present in ``y_true`` or ``y_pred`` (as the
    challenge scores: unweighted mean of per-class F1)."""
    true = np.asarray(list(y_true), dtype=object)
    pred = np.asarray(list(y_pred), dtype=object)
    labels = sorted(set(true.tolist()) | (set(pred.tolist()) - {""}))
    rows = []
    for label in labels:
        tp = int(np.sum((pred == label) & (true == label)))
        n_pred = int(np.sum(pred == label))
        n_true = int(np.sum(true == label))
        p = tp / n_pred if n_pred else 0.0
        r = tp / n_true if n_true else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        rows.append(ClassScore(str(label), p, r, f1, n_true))
    acc = float(np.mean(true == pred)) if len(true) else 0.0
    macro = float(np.mean([c.f1 for c in rows])) if rows else 0.0
    return Report(len(true), acc, macro, rows)


def duplicate_groups(records: Sequence[Sequence[str]]) -> np.ndarray:
    """Group id per record: records sharing any non-empty normalised field value share a group."""
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[tuple[int, str], int] = {}
    for i, rec in enumerate(records):
        for f, value in enumerate(rec):
            key = "".join((value or "").split())
            if not key:
                continue
            j = first_seen.setdefault((f, key), i)
            if j != i:
                parent[find(i)] = find(j)
    return np.array([find(i) for i in range(len(records))], dtype=np.int64)


def cross_validate(
    texts: Sequence[TextInput],
    labels: Sequence[str],
    *,
    fields: Sequence[str] | None = None,
    folds: int = 5,
    options: TrainOptions | None = None,
    unlabelled: Sequence[TextInput] = (),
) -> Report:
    """Grouped ``folds``-fold cross-validation: train on k-1 folds, predict the held-out one."""
    from sklearn.model_selection import StratifiedGroupKFold

    names = tuple(fields) if fields else ("text",)
    records = as_records(texts, len(names))
    keep = [
        i for i, (r, y) in enumerate(zip(records, labels, strict=True)) if y and any(v.strip() for v in r)
    ]
    records = [records[i] for i in keep]
    y = np.array([str(labels[i]).strip() for i in keep], dtype=object)
    if len(set(y.tolist())) < 2:
        raise Invalid(
            "交叉验证至少需要 2 个类别", "cross-validation needs at least 2 classes", code="too_few_classes"
        )
    if folds < 2 or len(records) < folds:
        raise Invalid(
            f"折数 {folds} 无效（需 ≥2 且不超过行数）", f"invalid fold count {folds}", code="bad_folds"
        )
    groups = duplicate_groups(records)
    pred = np.empty(len(records), dtype=object)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=0)
    for train_idx, test_idx in splitter.split(np.zeros(len(y)), y, groups):
        model = TextClassifier.train(
            [records[i] for i in train_idx],
            y[train_idx].tolist(),
            fields=names,
            unlabelled=unlabelled,
            options=options,
        )
        pred[test_idx] = model.predict([records[i] for i in test_idx])[0]
    report = score(y.tolist(), pred.tolist())
    report.folds = folds
    return report
