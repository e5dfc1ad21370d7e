"""The confidence gate of routing, with back-off along the directory's hierarchy.

For one report: the three best categories (calibrated probabilities); auto-dispatch when the best
one's probability reaches its calibrated threshold (expected precision ≥ 95 %) and place and
department are known. Otherwise, when the *family* is clear (井盖 with p 0.97 spread over
供水/污水/雨水 …), back off: route to the department responsible for the family — the department
of the family's general code (不明井盖异常) or the one department every code of the family has in
that area — and ask the handler to confirm the exact code. Otherwise the operator queue, with a
reason: ``no_problem`` (你好), ``long_text`` (a transcript with several matters), ``below_threshold``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cityops.triage.kb_synth import NONE_LABEL
from cityops.triage.routing import normalise_top_k

# A transcript this long usually carries several matters and chatter: a person reads it.
LONG_TEXT_CHARS = 400


@dataclass
class Assessment:
    top: list[tuple[str, float]]
    no_problem: bool = False
    family_key: str | None = None
    family_probability: float = 0.0
    family_codes: list[str] = field(default_factory=list)
    threshold: float | None = None
    family_threshold: float | None = None


def assess(classifier: Any, text: str, k: int = 3) -> Assessment:
    """Top-k categories (the no-problem class removed) and the family of the best one."""
    proba_fn = getattr(classifier, "predict_proba", None)
    labels = getattr(classifier, "labels", None)
    family_of: dict[str, str] | None = getattr(classifier, "family_of", None)
    if proba_fn is None or labels is None or family_of is None:
        return Assessment(normalise_top_k(classifier.predict_top_k([text], k)[0]))
    proba = np.asarray(proba_fn([text]))[0]
    order = np.argsort(-proba)
    best = str(labels[order[0]])
    top = [(str(labels[j]), float(proba[j])) for j in order[: k + 1] if str(labels[j]) != NONE_LABEL][:k]
    out = Assessment(top, no_problem=best == NONE_LABEL)
    out.threshold = float(classifier.threshold_for(top[0][0])) if top else None
    out.family_threshold = float(getattr(classifier, "family_threshold", 1.0))
    if top:
        fam = family_of.get(top[0][0])
        if fam:
            idx = [i for i, c in enumerate(labels) if family_of.get(str(c)) == fam]
            out.family_key = fam
            out.family_probability = float(proba[idx].sum())
            out.family_codes = [str(labels[i]) for i in sorted(idx, key=lambda i: -proba[i])]
    return out


@dataclass
class FamilyRoute:
    family_key: str
    category_code: str  # the code the case is filed with until the handler confirms
    department_code: str
    candidates: list[str]


def family_route(
    a: Assessment,
    fallback_of: dict[str, str],
    department_of: Callable[[str], str | None],
) -> FamilyRoute | None:
    """The family's department when the family is sure enough and has one department."""
    if not a.family_key or a.family_threshold is None or a.family_probability < a.family_threshold:
        return None
    candidates = a.family_codes[:5]
    fallback = fallback_of.get(a.family_key)
    if fallback:
        dept = department_of(fallback)
        return FamilyRoute(a.family_key, fallback, dept, candidates) if dept else None
    depts = {department_of(c) for c in a.family_codes}
    if len(depts) == 1 and None not in depts:
        return FamilyRoute(a.family_key, a.top[0][0], depts.pop() or "", candidates)
    return None
