"""Routing with a confidence gate: category suggestions, driving words and the auto/queue decision.

The catalog's 5-digit categories have no labelled data on a fresh install, so routing starts from
``SeedClassifier``: character n-gram TF-IDF and a logistic regression over the category names and
a few written examples per common category (``data/routing_seed.csv``). Once the case store holds
history, ``CharNgramClassifier.train`` (or the classifier capability's ``TextClassifier``, when
installed) learns from it; see ``service.train_catalog_classifier``. Any object with
``predict_top_k(texts, k)`` can route.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any, Protocol

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from cityops.errors import Invalid
from cityops.triage.places import PlaceMatch

MAX_TEXT_CHARS = 5000
_HAN = re.compile(r"[\u3400-\u9fff]")
_LETTERS = re.compile(r"[^\W\d_]")


class TopKClassifier(Protocol):
    def predict_top_k(self, texts: Sequence[str], k: int) -> Any: ...


@dataclass
class Suggestion:
    category_code: str
    probability: float
    department_code: str | None = None


@dataclass
class RoutingDecision:
    """What triage decided for one report; ``auto`` means the caller may file and dispatch."""

    category_code: str | None
    confidence: float
    place: PlaceMatch | None
    department_code: str | None
    auto: bool
    suggestions: list[Suggestion] = field(default_factory=list)
    driving_words: list[str] = field(default_factory=list)
    threshold: float = 0.8
    reason: str = ""
    queue_item_id: str | None = None
    # Back-off along the hierarchy: the family (major code:family, e.g. "01:井盖") and its
    # probability; ``needs_confirmation`` when the report goes to the family's department and
    # the handler is asked to confirm the exact code (``question``).
    family_code: str | None = None
    family_probability: float = 0.0
    needs_confirmation: bool = False
    question: str | None = None
    model_version: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["place"] = self.place.as_dict() if self.place else None
        return out


def check_report_text(text: Any) -> str:
    """The report text trimmed, or a bilingual 422 saying what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise Invalid(
            "请填写问题描述（不能为空）", "text is required and may not be blank", details={"field": "text"}
        )
    text = text.strip()
    if len(text) > MAX_TEXT_CHARS:
        raise Invalid(
            f"问题描述过长（{len(text)} 字），最多 {MAX_TEXT_CHARS} 字",
            f"text is too long ({len(text)} characters); at most {MAX_TEXT_CHARS}",
            details={"field": "text", "max_length": MAX_TEXT_CHARS},
        )
    letters = _LETTERS.findall(text)
    if not _HAN.search(text) and letters:
        # Models and gazetteer are Chinese; a text in another script would be routed at random.
        raise Invalid(
            "请用中文描述问题",
            "Describe the problem in Chinese; the classifier only reads Chinese text",
            code="unsupported_language",
            details={"field": "text"},
        )
    if not letters:
        raise Invalid("问题描述中没有文字", "text contains no words", details={"field": "text"})
    return text


def normalise_top_k(raw: Any) -> list[tuple[str, float]]:
    """Accept (label, p) tuples, {"label"/"category_code", "probability"} dicts or objects."""
    out: list[tuple[str, float]] = []
    for item in raw:
        if isinstance(item, tuple | list):
            out.append((str(item[0]), float(item[1])))
        elif isinstance(item, dict):
            label = item.get("label", item.get("category_code"))
            out.append((str(label), float(item.get("probability", item.get("prob")) or 0.0)))
        else:
            label = getattr(item, "label", getattr(item, "category_code", None))
            out.append((str(label), float(getattr(item, "probability", getattr(item, "prob", 0.0)))))
    return out


class CharNgramClassifier:
    """TF-IDF over character 1–3-grams + multinomial logistic regression; explains by weights."""

    def __init__(self, c: float = 20.0) -> None:
        self.vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
        self.model = LogisticRegression(C=c, max_iter=2000)
        self.labels: list[str] = []

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], c: float = 20.0) -> CharNgramClassifier:
        if len(set(labels)) < 2:
            raise Invalid("训练数据至少需要两个类别", "training data needs at least two categories")
        clf = cls(c)
        x = clf.vectorizer.fit_transform(texts)
        clf.model.fit(x, list(labels))
        clf.labels = [str(x) for x in clf.model.classes_]
        return clf

    def predict_top_k(self, texts: Sequence[str], k: int = 3) -> list[list[tuple[str, float]]]:
        proba = self.model.predict_proba(self.vectorizer.transform(texts))
        order = np.argsort(-proba, axis=1)[:, :k]
        return [[(self.labels[j], float(proba[i, j])) for j in row] for i, row in enumerate(order)]

    def explain(self, text: str, label: str, n: int = 5) -> list[str]:
        """The n-grams of ``text`` that pushed hardest towards ``label`` (tf-idf × weight)."""
        if label not in self.labels:
            return []
        row = self.vectorizer.transform([text]).tocoo()
        coef = self.model.coef_
        w = (
            coef[0] * (1 if self.labels.index(label) == 1 else -1)
            if coef.shape[0] == 1
            else coef[self.labels.index(label)]
        )
        vocab = self.vectorizer.get_feature_names_out()
        contrib = {str(vocab[j]): float(v * w[j]) for j, v in zip(row.col, row.data, strict=True)}
        spans = _spans(text, contrib, n)
        if spans:
            return spans
        # Weak evidence spread thin (a vague report): name the strongest n-grams themselves, even
        # single characters — the operator sees how little the suggestion rests on.
        grams = sorted(((c, g) for g, c in contrib.items() if c > 0 and _LETTERS.search(g)), reverse=True)
        return [g.strip() for _, g in grams[:n]]


def _spans(text: str, contrib: dict[str, float], n: int) -> list[str]:
    """Spread each n-gram's contribution over its characters and return the strongest runs.

    Raw 3-grams read badly (口垃圾, 门口垃); runs of positively weighted characters give words a
    person recognises (垃圾堆, 油烟).
    """
    score = np.zeros(len(text))
    for gram, c in contrib.items():
        if c <= 0 or not gram.strip():
            continue
        start = text.find(gram)
        while start >= 0:
            score[start : start + len(gram)] += c / len(gram)
            start = text.find(gram, start + 1)
    if not score.any():
        return []
    cut = max(score.max() * 0.35, 1e-9)
    runs: list[tuple[float, str]] = []
    i = 0
    while i < len(text):
        if score[i] >= cut:
            j = i
            while j < len(text) and score[j] >= cut:
                j += 1
            if j - i >= 2:
                runs.append((float(score[i:j].sum()), text[i:j]))
            i = j
        else:
            i += 1
    return [t for _, t in sorted(runs, reverse=True)[:n]]


def seed_rows() -> list[tuple[str, str, str]]:
    """(category_code, name, example) rows written by the project for common categories."""
    text = resources.files("cityops.triage").joinpath("data/routing_seed.csv").read_text("utf-8")
    return [(r["category_code"], r["name"], r["example"]) for r in csv.DictReader(text.splitlines())]


class SeedClassifier(CharNgramClassifier):
    """The fresh-install classifier: category names plus the written examples."""

    @classmethod
    def from_catalog(cls, categories: Iterable[tuple[str, str]] = ()) -> SeedClassifier:
        """``categories`` are (code, name) pairs of the live catalog; names become weak examples."""
        texts: list[str] = []
        labels: list[str] = []
        for code, name, example in seed_rows():
            texts += [example, name]
            labels += [code, code]
        seeded = set(labels)
        for code, name in categories:
            # Categories without examples still get their name (minus the generic 异常 suffix).
            if code not in seeded and name:
                texts.append(name.removesuffix("异常"))
                labels.append(code)
        clf = cls(c=30.0)
        x = clf.vectorizer.fit_transform(texts)
        clf.model.fit(x, labels)
        clf.labels = [str(x) for x in clf.model.classes_]
        return clf


def driving_words(classifier: Any, text: str, label: str, n: int = 5) -> list[str]:
    """Words that drove the prediction: the classifier's own explanation when it has one."""
    for name in ("explain", "driving_words", "explain_prediction"):
        fn = getattr(classifier, name, None)
        if fn is None:
            continue
        try:
            words = fn(text, label, n)
        except TypeError:
            words = fn(text, label)
        out = [w if isinstance(w, str) else str(w[0]) for w in words]
        return out[:n]
    # No explanation available: fall back to the seed model's weights for the same label.
    return _fallback_seed().explain(text, label, n)


_SEED: SeedClassifier | None = None


def _fallback_seed() -> SeedClassifier:
    global _SEED
    if _SEED is None:
        _SEED = SeedClassifier.from_catalog()
    return _SEED


def decide(
    top: list[tuple[str, float]], threshold: float, place: PlaceMatch | None, department_code: str | None
) -> tuple[bool, str]:
    """The confidence gate: auto only when sure of the category, the place and the department."""
    if not top:
        return False, "no_prediction"
    if top[0][1] < threshold:
        return False, "below_threshold"
    if place is None:
        return False, "no_place"
    if department_code is None:
        return False, "no_department"
    return True, "auto"
