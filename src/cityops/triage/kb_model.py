"""The routing model: knowledge base + whatever labelled history exists, calibrated, with
per-category thresholds and the directory's hierarchy for back-off.

Training (``build``) runs twice: a *probe* model learns from two thirds of every category's
knowledge-base terms (and 80 % of the history and corrections) and is scored on reports phrased
with the held-out third (and the held-out history) — words it never saw. Those scores fit the
softmax temperature (calibration), a threshold per category at which the expected precision of an
automatic dispatch is at least ``target`` (95 %), and a family-level threshold. The shipped model
then learns from everything with the same calibration. Thresholds come from the probe, which
knew fewer words than the shipped model, so they lean conservative; docs/decisions/0005 explains
the choice (char 1–3-gram TF-IDF + linear SVM + temperature softmax).

Prediction is one sparse × dense product (``weights`` float32, features × classes): ≥ 10,000
reports/s on one core.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

from cityops.triage.kb_synth import NONE_LABEL, Example, examples
from cityops.triage.knowledge import KnowledgeRow

TARGET_PRECISION = 0.95
# Thresholds never go below this, whatever the held-out data says: a report that is only
# slightly more one category than another is a question for a person.
MIN_THRESHOLD = 0.5
# How many held-out reports a category's own precision counts for against the pooled one
# (a Beta prior centred on the pooled precision): few reports of a category → pooled threshold.
PRIOR_STRENGTH = 10.0
GRID = np.round(np.arange(0.30, 0.995, 0.01), 2)
CORRECTION_WEIGHT = 3.0
HISTORY_HOLD_OUT = 0.2
PER_CLASS = 60
MIN_CORRECTIONS_TO_HOLD_OUT = 25


@dataclass
class LabelledText:
    text: str
    label: str
    weight: float = 1.0


def _fit(
    texts: Sequence[str], labels: Sequence[str], weights: Sequence[float], c: float = 0.5
) -> tuple[TfidfVectorizer, LinearSVC]:
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, dtype=np.float32)
    x = vec.fit_transform(texts)
    clf = LinearSVC(C=c, tol=1e-3)
    clf.fit(x, list(labels), sample_weight=np.asarray(weights, dtype=np.float64))
    return vec, clf


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the log-loss of softmax(scores / T) on held-out scores."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        p = _softmax(scores.astype(np.float64), float(np.exp(log_t)))
        return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None)).mean())

    res = minimize_scalar(nll, bounds=(np.log(0.01), np.log(10.0)), method="bounded")
    return float(np.exp(res.x))


def fit_thresholds(
    p_top: np.ndarray, pred: Sequence[str], correct: np.ndarray, *, target: float = TARGET_PRECISION
) -> tuple[dict[str, float], float, dict[str, Any]]:
    """Per-category thresholds where the (shrunk) precision of {p ≥ t} reaches ``target``.

    ``p_top``: calibrated probability of each held-out report's top category ``pred``; ``correct``
    whether that category was acceptable. The pooled threshold is the lowest grid value where the
    pooled precision reaches the target; a category's precision at t is
    (its hits + k · pooled precision) / (its count + k), so a category with few held-out reports
    keeps the pooled threshold and one that is often wrong gets a higher one.
    """
    pred_arr = np.asarray(pred, dtype=object)
    pooled_prec = {}
    pooled_t = 0.99
    for t in GRID:
        m = p_top >= t
        prec = float(correct[m].mean()) if m.any() else 1.0
        pooled_prec[float(t)] = prec
    for t in GRID:
        if pooled_prec[float(t)] >= target:
            pooled_t = max(float(t), MIN_THRESHOLD)
            break
    out: dict[str, float] = {}
    for code in sorted(set(pred_arr.tolist())):
        sel = pred_arr == code
        chosen = 0.99
        for t in GRID:
            if t < pooled_t - 0.15:
                continue
            m = sel & (p_top >= t)
            n = int(m.sum())
            hits = float(correct[m].sum())
            prec = (hits + PRIOR_STRENGTH * pooled_prec[float(t)]) / (n + PRIOR_STRENGTH)
            if prec >= target:
                chosen = max(float(t), MIN_THRESHOLD)
                break
        out[str(code)] = round(chosen, 2)
    auto = np.array([p >= out.get(str(c), pooled_t) for p, c in zip(p_top, pred_arr, strict=True)])
    per_category: dict[str, dict[str, Any]] = {}
    for code in out:
        sel = pred_arr == code
        chosen_auto = sel & auto
        per_category[code] = {
            "held_out": int(sel.sum()),
            "expected_auto_share": round(float(chosen_auto.sum() / sel.sum()), 4) if sel.any() else 0.0,
            "expected_precision": round(float(correct[chosen_auto].mean()), 4) if chosen_auto.any() else None,
        }
    stats = {
        "held_out": len(p_top),
        "expected_auto_share": round(float(auto.mean()), 4) if len(auto) else 0.0,
        "expected_precision": round(float(correct[auto].mean()), 4) if auto.any() else None,
        "pooled_threshold": pooled_t,
        # Per category, among the held-out reports it was the top suggestion for.
        "per_category": per_category,
    }
    return out, pooled_t, stats


@dataclass
class RoutingModel:
    """A trained router: ``predict_top_k`` for the gate, ``explain`` for the driving words."""

    vectorizer: TfidfVectorizer
    weights: np.ndarray  # features × classes, float32
    intercept: np.ndarray
    labels: list[str]
    temperature: float
    thresholds: dict[str, float]
    default_threshold: float
    family_of: dict[str, str]
    family_threshold: float
    # family key → the family's general code (不明井盖异常 for 01:井盖)
    fallbacks: dict[str, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    # --- prediction --------------------------------------------------------------------------
    def scores(self, texts: Sequence[str]) -> np.ndarray:
        x = self.vectorizer.transform(texts)
        return np.asarray(x @ self.weights) + self.intercept

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return _softmax(self.scores(texts).astype(np.float32), self.temperature)

    def predict_top_k(self, texts: Sequence[str], k: int = 3) -> list[list[tuple[str, float]]]:
        proba = self.predict_proba(texts)
        order = np.argsort(-proba, axis=1)[:, :k]
        return [[(self.labels[j], float(proba[i, j])) for j in row] for i, row in enumerate(order)]

    def family_probability(self, text_proba: np.ndarray, code: str) -> float:
        """Probability that the report belongs to ``code``'s family (the sum over the family)."""
        fam = self.family_of.get(code)
        if not fam:
            return 0.0
        idx = [i for i, c in enumerate(self.labels) if self.family_of.get(c) == fam]
        return float(text_proba[idx].sum())

    def threshold_for(self, code: str) -> float:
        return self.thresholds.get(code, self.default_threshold)

    def explain(self, text: str, label: str, n: int = 5) -> list[str]:
        """The characters of ``text`` that pushed hardest towards ``label``."""
        if label not in self.labels:
            return []
        from cityops.triage.routing import _spans

        j = self.labels.index(label)
        row = self.vectorizer.transform([text]).tocoo()
        vocab = self._vocab()
        contrib = {vocab[c]: float(v * self.weights[c, j]) for c, v in zip(row.col, row.data, strict=True)}
        return _spans(text, contrib, n)

    def _vocab(self) -> list[str]:
        cached = getattr(self, "_vocab_cache", None)
        if cached is None:
            cached = [str(t) for t in self.vectorizer.get_feature_names_out()]
            self._vocab_cache = cached
        return cached


def _family_map(rows: Iterable[KnowledgeRow]) -> dict[str, str]:
    return {r.code: r.family_key for r in rows if r.routable}


def kb_fingerprint(rows: Iterable[KnowledgeRow]) -> str:
    """A hash of the knowledge base's content (cache key of the knowledge-base-only model)."""
    from cityops.triage import kb_synth

    h = hashlib.sha256()
    # The generator's templates and the training settings are part of the model too.
    recipe = (kb_synth.PLACES, kb_synth.NUMBERS, kb_synth.TAILS, kb_synth.STYLES, kb_synth.CONNECT)
    h.update(
        repr(
            (recipe, kb_synth.NONE_TEXTS, PER_CLASS, TARGET_PRECISION, PRIOR_STRENGTH, MIN_THRESHOLD)
        ).encode()
    )
    for r in sorted(rows, key=lambda r: r.code):
        h.update(repr(r.as_csv_row()).encode())
    return h.hexdigest()[:16]


def _split(
    items: Sequence[LabelledText], share: float, seed: int
) -> tuple[list[LabelledText], list[LabelledText]]:
    """(train, held-out) by a hash of the text, so one text never lands on both sides."""
    train: list[LabelledText] = []
    held: list[LabelledText] = []
    for it in items:
        h = int(hashlib.sha1(f"{seed}:{it.text}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (held if h < share else train).append(it)
    return train, held


def _as_lists(
    ex: Sequence[Example], extra: Sequence[LabelledText]
) -> tuple[list[str], list[str], list[float]]:
    texts = [e.text for e in ex] + [e.text for e in extra]
    labels = [e.label for e in ex] + [e.label for e in extra]
    weights = [1.0] * len(ex) + [e.weight for e in extra]
    return texts, labels, weights


def _model(vec: TfidfVectorizer, clf: LinearSVC, **kw: Any) -> RoutingModel:
    return RoutingModel(
        vectorizer=vec,
        weights=np.ascontiguousarray(clf.coef_.T, dtype=np.float32),
        intercept=np.asarray(clf.intercept_, dtype=np.float32),
        labels=[str(c) for c in clf.classes_],
        **kw,
    )


def build(
    rows: Sequence[KnowledgeRow],
    history: Sequence[tuple[str, str]] = (),
    corrections: Sequence[tuple[str, str]] = (),
    *,
    target: float = TARGET_PRECISION,
    seed: int = 0,
    per_class: int = PER_CLASS,
) -> RoutingModel:
    """Train the router from the knowledge base, labelled history and corrections (module doc)."""
    started = time.perf_counter()
    routable = {r.code for r in rows if r.routable}
    hist = [LabelledText(t, lab) for t, lab in dict.fromkeys(history) if lab in routable and t.strip()]
    corr = [
        LabelledText(t, lab, CORRECTION_WEIGHT) for t, lab in corrections if lab in routable and t.strip()
    ]
    hist_train, hist_held = _split(hist, HISTORY_HOLD_OUT, seed)
    # Corrections are held out (for comparing versions) only once there are enough of them: the
    # first few must all teach the model, or correcting five reports would change nothing.
    if len(corr) >= MIN_CORRECTIONS_TO_HOLD_OUT:
        corr_train, corr_held = _split(corr, HISTORY_HOLD_OUT, seed)
    else:
        corr_train, corr_held = corr, []
    # 1. the probe: two thirds of the terms, 80 % of the labelled rows
    probe_ex = examples(rows, per_class=per_class, seed=seed, hold_out=1 / 3, part="train")
    held_ex = examples(
        rows, per_class=max(20, per_class // 3), seed=seed + 1, hold_out=1 / 3, part="held_out"
    )
    vec, clf = _fit(*_as_lists(probe_ex, hist_train + corr_train))
    held = [LabelledText(e.text, e.label) for e in held_ex] + hist_held + corr_held
    labels = [str(c) for c in clf.classes_]
    index = {c: i for i, c in enumerate(labels)}
    held = [h for h in held if h.label in index]
    scores = clf.decision_function(vec.transform([h.text for h in held]))
    y = np.array([index[h.label] for h in held])
    temperature = fit_temperature(scores, y)
    proba = _softmax(scores.astype(np.float64), temperature)
    top = proba.argmax(axis=1)
    p_top = proba[np.arange(len(top)), top]
    pred = [labels[j] for j in top]
    correct = top == y
    # The no-problem class never dispatches, so it does not take part in the thresholds.
    keep = np.array([p != NONE_LABEL for p in pred])
    thresholds, pooled, stats = fit_thresholds(
        p_top[keep], [p for p, k in zip(pred, keep, strict=True) if k], correct[keep], target=target
    )
    family_of = _family_map(rows)
    fam_pred = np.array([family_of.get(p, "") for p in pred], dtype=object)
    fam_true = np.array([family_of.get(h.label, "") for h in held], dtype=object)
    fam_p = np.array(
        [
            proba[i, [index[c] for c in labels if family_of.get(c) == fam_pred[i]]].sum()
            if fam_pred[i]
            else 0.0
            for i in range(len(held))
        ]
    )
    _, family_t, fam_stats = fit_thresholds(
        fam_p[keep], ["family"] * int(keep.sum()), (fam_pred == fam_true)[keep], target=target
    )
    # 2. the shipped model: every term, every labelled row
    full_ex = examples(rows, per_class=per_class, seed=seed)
    vec, clf = _fit(*_as_lists(full_ex, hist + corr_train))
    info = {
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kb_rows": len(rows),
        "kb_fingerprint": kb_fingerprint(rows),
        "synthetic_examples": len(full_ex),
        "history_rows": len(hist),
        "corrections": len(corr),
        "corrections_trained": len(corr_train),
        "classes": len(clf.classes_),
        "temperature": round(temperature, 4),
        "target_precision": target,
        "calibration": {
            **stats,
            "family_threshold": family_t,
            "family_expected_auto_share": fam_stats["expected_auto_share"],
        },
        "seconds": round(time.perf_counter() - started, 1),
        "held_out_corrections": [(c.text, c.label) for c in corr_held],
    }
    return _model(
        vec,
        clf,
        temperature=temperature,
        thresholds=thresholds,
        default_threshold=pooled,
        family_of=family_of,
        family_threshold=family_t,
        fallbacks={r.family_key: r.code for r in rows if r.routable and r.family_fallback},
        info=info,
    )


def accuracy(model: Any, items: Sequence[tuple[str, str]]) -> float | None:
    """Top-1 accuracy of ``model`` on (text, label) pairs; None for none."""
    if not items:
        return None
    top = model.predict_top_k([t for t, _ in items], 1)
    return round(
        sum(1 for (_, lab), row in zip(items, top, strict=True) if row and row[0][0] == lab) / len(items), 4
    )


def shuffle_sample(items: Sequence[Any], n: int, seed: int = 0) -> list[Any]:
    items = list(items)
    random.Random(seed).shuffle(items)
    return items[:n]
