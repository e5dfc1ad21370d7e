"""The triage text classifier: train on any labelled history, predict top-k with probabilities.

Taxonomy-agnostic: labels are whatever strings the history carries (7 hotline topics, 5-digit
GB/T 47678.5 matter codes, local categories). A record is one string per text field (e.g.
``("subject", "detail")``); a plain ``str`` is accepted for one-field models.

Model: hashed character n-gram TF-IDF blocks (``features``) → one least-squares (ridge) linear
classifier per class on NB-scaled features (one-vs-rest, class-balanced; plain ridge and a linear
SVM are the alternatives) →
softmax with a temperature fitted on out-of-fold scores, so the probabilities are calibrated
rather than raw margins. Prediction does not call scikit-learn at all: the weights are held as
one dense float32 matrix per block and the scores are a sparse × dense product, which is what
makes 10,000+ messages/s possible.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from cityops.errors import Invalid
from cityops.triage import modelfile
from cityops.triage.features import (
    SUPPORTED_ALGORITHMS,
    FeatureConfig,
    Featurizer,
    fit_idf,
    normalize_text,
    tfidf,
    weigh,
)

#: A record: one string, or one string (or None) per text field.
TextInput = str | Sequence[str | None]


@dataclass
class TrainOptions:
    """Knobs of ``TextClassifier.train``; defaults are the tuned values (docs/triage-classifier.md)."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    #: ``"ridge"`` (least-squares one-vs-rest, the default: +1 macro-F1 point over the SVM on
    #: held-out teddy2020 messages and 3× faster to train) or ``"svm"`` (LinearSVC).
    learner: str = "ridge"
    #: Ridge regularisation strength (``learner="ridge"``).
    alpha: float = 0.5
    #: NB scaling of the ridge features (``learner="ridge"``), 0 = off. Each class's one-vs-rest
    #: ridge sees every feature scaled by ``(1 - nb_scale) + nb_scale * |r|``, with ``r`` the
    #: feature's log-count ratio between the class and the rest (as in NB-SVM, Wang & Manning
    #: 2012); the scale is folded into the stored weights, so prediction costs the same.
    #: 0.5: +0.2–0.4 macro-F1 on held-out teddy2020 messages (docs/triage-classifier.md).
    nb_scale: float = 0.5
    #: SVM regularisation C (``learner="svm"``).
    C: float = 0.3
    #: Weight of a dispatcher's correction relative to an ordinary history row.
    correction_weight: float = 3.0
    #: Folds for the out-of-fold scores that fit the probability temperature (0 = no calibration).
    calibration_folds: int = 3
    random_state: int = 0


def as_records(texts: Iterable[TextInput], n_fields: int) -> list[list[str]]:
    """Coerce inputs to lists of ``n_fields`` strings ('' for missing)."""
    out: list[list[str]] = []
    for item in texts:
        if isinstance(item, str) or item is None:
            # A lone string for a multi-field model is treated as the last (longest, free-text) field.
            rec = [""] * n_fields
            rec[-1] = item or ""
        else:
            rec = [(v or "") for v in item]
            if len(rec) != n_fields:
                raise Invalid(
                    f"每条记录应有 {n_fields} 个文本字段，实际为 {len(rec)} 个",
                    f"each record needs {n_fields} text fields, got {len(rec)}",
                    code="bad_record",
                )
        out.append(rec)
    return out


def _record_key(rec: Sequence[str], max_chars: int) -> tuple[str, ...]:
    return tuple(normalize_text(v, max_chars).replace(" ", "") for v in rec)


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores / temperature
    z -= z.max(axis=1, keepdims=True)
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


class TextClassifier:
    """A trained classifier. Build with ``train`` or ``load``; it is immutable afterwards."""

    def __init__(
        self,
        *,
        labels: Sequence[str],
        fields: Sequence[str],
        config: FeatureConfig,
        idf: list[np.ndarray],
        weights: list[np.ndarray],
        intercept: np.ndarray,
        temperature: float,
        info: dict[str, Any] | None = None,
    ) -> None:
        self.labels = np.asarray(list(labels), dtype=object)
        self.fields = tuple(fields)
        self.config = config
        self.featurizer = Featurizer(config, len(self.fields))
        self.idf = [np.ascontiguousarray(a, dtype=np.float32) for a in idf]
        self.weights = [np.ascontiguousarray(w, dtype=np.float32) for w in weights]
        self.intercept = np.asarray(intercept, dtype=np.float32)
        self.temperature = float(temperature)
        self.info: dict[str, Any] = dict(info or {})

    # ----------------------------------------------------------------------------- training
    @classmethod
    def train(
        cls,
        texts: Sequence[TextInput],
        labels: Sequence[str],
        *,
        fields: Sequence[str] | None = None,
        corrections: Iterable[tuple[TextInput, str]] = (),
        unlabelled: Iterable[TextInput] = (),
        options: TrainOptions | None = None,
    ) -> TextClassifier:
        """Train on labelled history.

        ``fields`` names the text fields of each record (default: one field ``text``).
        ``corrections`` are dispatchers' (text, corrected label) pairs: they override any history
        row with the same text and count ``correction_weight`` times. ``unlabelled`` texts only
        feed the idf statistics (semi-supervised vocabulary weighting).
        Raises ``Invalid`` for no usable rows or fewer than two classes.
        """
        opts = options or TrainOptions()
        if opts.learner not in ("ridge", "svm"):
            raise Invalid(
                f"未知的学习器：{opts.learner}（可选 ridge、svm）",
                f"unknown learner {opts.learner!r} (ridge or svm)",
                code="bad_learner",
            )
        names = tuple(fields) if fields else ("text",)
        if len(texts) != len(labels):
            raise Invalid(
                "文本与标签数量不一致", "texts and labels differ in length", code="bad_training_data"
            )
        data = cls._collect(texts, labels, corrections, names, opts)
        records, y_text, weight = data
        classes = sorted(set(y_text))
        if len(classes) < 2:
            raise Invalid(
                f"训练数据只有 {len(classes)} 个类别，至少需要 2 个",
                f"training data has {len(classes)} class(es); at least 2 are needed",
                code="too_few_classes",
                details={"classes": classes},
            )
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[c] for c in y_text], dtype=np.int64)
        featurizer = Featurizer(opts.features, len(names))
        counts = featurizer.counts(records)
        extra = as_records(unlabelled, len(names))
        extra_counts = featurizer.counts(extra) if extra else None
        idf = []
        for b, c in enumerate(counts):
            c_all = sp.vstack([c, extra_counts[b]]).tocsr() if extra_counts is not None else c
            idf.append(fit_idf(c_all))
        x = sp.hstack([tfidf(c.copy(), idf[b]) for b, c in enumerate(counts)], format="csr")
        w, b0 = cls._fit_linear(x, y, weight, len(classes), opts)
        temperature = 1.0
        if opts.calibration_folds >= 2 and np.bincount(y).min() >= opts.calibration_folds:
            temperature = cls._calibrate(x, y, weight, len(classes), opts)
        width = 1 << opts.features.bits
        weights = [w[i * width : (i + 1) * width] for i in range(featurizer.n_blocks)]
        info = {
            "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "n_train": len(records),
            "n_corrections": int((weight > 1).sum()),
            "n_unlabelled": len(extra),
            "learner": opts.learner,
            **({"nb_scale": opts.nb_scale} if opts.learner == "ridge" else {}),
            "class_counts": {c: int(n) for c, n in zip(classes, np.bincount(y), strict=True)},
        }
        return cls(
            labels=classes,
            fields=names,
            config=opts.features,
            idf=idf,
            weights=weights,
            intercept=b0,
            temperature=temperature,
            info=info,
        )

    @staticmethod
    def _collect(
        texts: Sequence[TextInput],
        labels: Sequence[str],
        corrections: Iterable[tuple[TextInput, str]],
        names: tuple[str, ...],
        opts: TrainOptions,
    ) -> tuple[list[list[str]], list[str], np.ndarray]:
        """Drop empty rows and exact duplicates; let corrections override the history's label."""
        rows: dict[tuple[str, ...], tuple[list[str], str, float]] = {}
        recs = as_records(texts, len(names))
        for rec, label in zip(recs, labels, strict=True):
            label = (label or "").strip() if isinstance(label, str) else str(label)
            key = _record_key(rec, opts.features.max_chars)
            if not label or not any(key):
                continue
            rows.setdefault(key, (rec, label, 1.0))  # first label wins for repeated texts
        corr = list(corrections)
        for rec, label in zip(
            as_records([t for t, _ in corr], len(names)), [lab for _, lab in corr], strict=True
        ):
            key = _record_key(rec, opts.features.max_chars)
            if label and any(key):
                rows[key] = (rec, str(label).strip(), opts.correction_weight)
        if not rows:
            raise Invalid(
                "没有可用的训练数据（文本或标签为空）",
                "no usable training rows (empty text or label)",
                code="no_training_data",
            )
        values = list(rows.values())
        return [v[0] for v in values], [v[1] for v in values], np.array([v[2] for v in values])

    @staticmethod
    def _fit_linear(
        x: sp.csr_matrix, y: np.ndarray, weight: np.ndarray, n_classes: int, opts: TrainOptions
    ) -> tuple[np.ndarray, np.ndarray]:
        """One-vs-rest linear weights as a dense (features × classes) matrix + intercepts."""
        if opts.learner == "ridge" and opts.nb_scale > 0:
            return TextClassifier._fit_nb_ridge(x, y, weight, n_classes, opts)
        if opts.learner == "ridge":
            from sklearn.linear_model import RidgeClassifier

            model: Any = RidgeClassifier(
                alpha=opts.alpha, class_weight="balanced", solver="sparse_cg", random_state=opts.random_state
            )
        elif opts.learner == "svm":
            from sklearn.svm import LinearSVC

            model = LinearSVC(C=opts.C, class_weight="balanced", random_state=opts.random_state)
        else:
            raise Invalid(
                f"未知的学习器：{opts.learner}（可选 ridge、svm）",
                f"unknown learner {opts.learner!r} (ridge or svm)",
                code="bad_learner",
            )
        model.fit(x, y, sample_weight=weight)
        coef = np.asarray(model.coef_, dtype=np.float32)
        intercept = np.asarray(model.intercept_, dtype=np.float32)
        if n_classes == 2:  # scikit-learn keeps one row for binary problems; make it symmetric
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        return np.ascontiguousarray(coef.T), intercept

    @staticmethod
    def _fit_nb_ridge(
        x: sp.csr_matrix, y: np.ndarray, weight: np.ndarray, n_classes: int, opts: TrainOptions
    ) -> tuple[np.ndarray, np.ndarray]:
        """One class-balanced binary ridge per class on NB-scaled features (see ``nb_scale``)."""
        from sklearn.linear_model import Ridge

        present = x.copy()
        present.data[:] = 1.0
        coef = np.zeros((x.shape[1], n_classes), dtype=np.float32)
        intercept = np.zeros(n_classes, dtype=np.float32)
        for c in range(n_classes):
            pos = y == c
            # Weighted document frequency of each feature inside and outside the class (+1 smoothing).
            p = np.asarray(present.T @ (weight * pos)).ravel() + 1.0
            q = np.asarray(present.T @ (weight * ~pos)).ravel() + 1.0
            r = np.log(p / p.sum()) - np.log(q / q.sum())
            scale = ((1.0 - opts.nb_scale) + opts.nb_scale * np.abs(r)).astype(np.float32)
            xc = x @ sp.diags(scale)
            w_pos = weight[pos].sum()
            w_neg = weight[~pos].sum()
            sw = weight * np.where(pos, 0.5 / max(w_pos, 1e-12), 0.5 / max(w_neg, 1e-12)) * weight.sum()
            model = Ridge(alpha=opts.alpha, solver="sparse_cg", random_state=opts.random_state)
            model.fit(xc, np.where(pos, 1.0, -1.0), sample_weight=sw)
            coef[:, c] = model.coef_ * scale
            intercept[c] = model.intercept_
        return coef, intercept

    @classmethod
    def _calibrate(
        cls, x: sp.csr_matrix, y: np.ndarray, weight: np.ndarray, n_classes: int, opts: TrainOptions
    ) -> float:
        from sklearn.model_selection import StratifiedKFold

        scores = np.zeros((x.shape[0], n_classes), dtype=np.float64)
        folds = StratifiedKFold(opts.calibration_folds, shuffle=True, random_state=opts.random_state)
        for tr, te in folds.split(np.zeros(len(y)), y):
            if len(np.unique(y[tr])) < n_classes:
                return 1.0
            w, b = cls._fit_linear(x[tr], y[tr], weight[tr], n_classes, opts)
            scores[te] = x[te] @ w + b
        return fit_temperature(scores, y)

    # ----------------------------------------------------------------------------- prediction
    def decision_function(self, texts: Sequence[TextInput]) -> np.ndarray:
        """Raw class scores (n × classes), float32; the intercepts alone for empty texts."""
        return self._scores(texts)[0]

    def predict_proba(self, texts: Sequence[TextInput]) -> np.ndarray:
        """Calibrated class probabilities (n × classes) in the order of ``labels``."""
        return self._proba(texts)[0]

    def predict(self, texts: Sequence[TextInput]) -> tuple[list[str], np.ndarray]:
        """Best label and its probability for each text; empty texts give ('', 0.0)."""
        proba, empty = self._proba(texts)
        best = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=np.int64)
        conf = proba[np.arange(len(best)), best]
        names = self.labels.tolist()
        labels = [("" if e else names[i]) for i, e in zip(best.tolist(), empty.tolist(), strict=True)]
        conf[empty] = 0.0
        return labels, conf

    def predict_top_k(self, texts: Sequence[TextInput], k: int = 3) -> list[list[tuple[str, float]]]:
        """Top ``k`` (label, probability) pairs per text, best first; [] for an empty text."""
        proba, empty = self._proba(texts)
        k = max(1, min(k, len(self.labels)))
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        top = np.take_along_axis(proba, order, axis=1)
        names = self.labels.tolist()
        # Plain lists: per-element numpy indexing costs more than the scoring for 10k messages.
        return [
            [] if e else [(names[j], p) for j, p in zip(row, probs, strict=True)]
            for row, probs, e in zip(order.tolist(), top.tolist(), empty.tolist(), strict=True)
        ]

    def _proba(self, texts: Sequence[TextInput]) -> tuple[np.ndarray, np.ndarray]:
        scores, empty = self._scores(texts)
        return _softmax(scores.astype(np.float64), self.temperature), empty

    def _scores(self, texts: Sequence[TextInput]) -> tuple[np.ndarray, np.ndarray]:
        """Raw scores and which records are empty (no visible character in any field)."""
        records = as_records(texts, len(self.fields))
        scores = np.zeros((len(records), len(self.labels)), dtype=np.float32)
        empty = np.ones(len(records), dtype=bool)
        if not records:
            return scores, empty
        for b, counts in enumerate(self.featurizer.counts(records)):
            # A text that is empty after whitespace normalisation has no n-gram in any block.
            empty &= np.diff(counts.indptr) == 0
            x, norms = weigh(counts, self.idf[b])
            scores += (x @ self.weights[b]) / norms[:, None]
        scores += self.intercept
        return scores, empty

    # ----------------------------------------------------------------------------- files
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the versioned model file (atomically); see ``modelfile`` for the layout."""
        arrays: dict[str, np.ndarray] = {"intercept": self.intercept}
        for b, (idf, w) in enumerate(zip(self.idf, self.weights, strict=True)):
            used = np.flatnonzero(np.any(w != 0, axis=1) | (idf < idf.max())).astype(np.int32)
            arrays[f"b{b}_index"] = used
            arrays[f"b{b}_idf"] = idf[used]
            arrays[f"b{b}_weight"] = w[used]
            # Unused buckets all share one idf (never seen in training): store it once.
            arrays[f"b{b}_idf_default"] = np.array([idf.max()], dtype=np.float32)
        header = {
            "labels": [str(c) for c in self.labels],
            "fields": list(self.fields),
            "features": self.config.to_dict(),
            "temperature": self.temperature,
            "info": self.info,
        }
        modelfile.write(path, header, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TextClassifier:
        """Load a model file; incompatible or damaged files raise a bilingual ``Invalid``."""
        header, arrays = modelfile.read(path)
        try:
            cfg = FeatureConfig.from_dict(header["features"])
        except (KeyError, TypeError, ValueError) as exc:
            raise Invalid(
                f"模型文件 {path} 内容不完整", f"model file {path} is incomplete ({exc})", code="bad_model"
            ) from None
        if cfg.algorithm not in SUPPORTED_ALGORITHMS:
            raise Invalid(
                f"模型文件 {path} 的特征算法版本 {cfg.algorithm} 与当前版本不兼容，请用当前版本重新训练",
                f"model file {path} uses feature algorithm {cfg.algorithm}, which this version "
                f"cannot reproduce (supported: {', '.join(map(str, SUPPORTED_ALGORITHMS))}); "
                "please retrain the model",
                code="incompatible_model",
                details={"found": cfg.algorithm, "supported": list(SUPPORTED_ALGORITHMS)},
            )
        try:
            fields = header["fields"]
            labels = header["labels"]
            width = 1 << cfg.bits
            n_blocks = len(fields) + 1 if len(fields) > 1 else 1
            idf, weights = [], []
            for b in range(n_blocks):
                used = arrays[f"b{b}_index"]
                full_idf = np.full(width, arrays[f"b{b}_idf_default"][0], dtype=np.float32)
                full_idf[used] = arrays[f"b{b}_idf"]
                w = np.zeros((width, len(labels)), dtype=np.float32)
                w[used] = arrays[f"b{b}_weight"]
                idf.append(full_idf)
                weights.append(w)
            model = cls(
                labels=labels,
                fields=fields,
                config=cfg,
                idf=idf,
                weights=weights,
                intercept=arrays["intercept"],
                temperature=float(header["temperature"]),
                info=dict(header.get("info", {}), library_versions=header.get("library_versions", {})),
            )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise Invalid(
                f"模型文件 {path} 内容不完整", f"model file {path} is incomplete ({exc})", code="bad_model"
            ) from None
        return model
