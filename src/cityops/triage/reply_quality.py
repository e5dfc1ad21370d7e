"""Reply quality: relevance, completeness, interpretability and timeliness of a department's reply.

* relevance — cosine of character-bigram TF vectors of message and reply (no corpus needed);
* completeness — the four parts of a proper reply: greeting/acknowledgement, investigation,
  result, closing;
* interpretability — reasons, legal or policy basis (《…》, 第X条, 规定), concrete actions
  (dates, figures, what was done or will be done);
* timeliness — days from message to reply, 1.0 at once, 0.5 after ``HALF_LIFE_DAYS``.

Each cue group scores 0–1; ``COMPLETENESS_WEIGHTS`` and ``INTERPRETABILITY_WEIGHTS`` were fitted
(logistic regression) against the 100 hand-labelled replies of the 2020 challenge; the
interpretability logit is corrected from that sample's prior (59 % positive) to the population's
(about 90 %), and a reply is flagged uninterpretable below ``CITYOPS_REPLY_INTERPRETABILITY_THRESHOLD``
(0.5). See docs/triage.md for the agreement figures and ``calibrate`` to refit on local labels.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np

HALF_LIFE_DAYS = 15.0
_CUES: dict[str, re.Pattern[str]] = {
    "greeting": re.compile(r"您好|你好|网友|市民|同志|来信|留言|已收悉|收悉|感谢您|首先感谢"),
    "investigation": re.compile(r"经调查|经核实|调查核实|经查|核查|了解到|现场|实地|调查处理|走访|经了解"),
    "result": re.compile(
        r"已经|已于|已将|已对|已完成|已安排|目前|处理结果|整改|解决|落实|完成|答复如下|现答复"
    ),
    "closing": re.compile(r"感谢|谢谢|欢迎|特此|联系电话|咨询电话|如有疑问|支持与理解|理解和支持|监督"),
    "reason": re.compile(r"因为|由于|原因|鉴于|因此|所以|导致|考虑到"),
    "basis": re.compile(
        r"《[^》]{2,40}》|第[一二三四五六七八九十百零〇\d]+条|规定|文件|政策|标准|办法|条例|法"
    ),
    "action": re.compile(
        r"\d{4}年|\d+月\d+日|\d+(?:万|元|米|个|户|人|天|%)|将于|计划|预计|安排|责令|要求|督促|组织|开展|启动"
    ),
}
COMPLETENESS_PARTS = ("greeting", "investigation", "result", "closing")
INTERPRETABILITY_PARTS = ("reason", "basis", "action")
# Fitted weights (intercept first, then one per part, then log-length); see module docstring.
COMPLETENESS_WEIGHTS = (-1.85, 0.003, 0.349, 0.417, 0.003, 2.328)
INTERPRETABILITY_WEIGHTS = (-3.368, -0.121, 1.1, 0.51, 2.245)
# Prior correction of the interpretability logit: the weights were fitted on 100 labels of which
# 59 % are interpretable, while about 90 % of replies in the population are. Bayes' rule moves
# the logit by the difference of the prior log-odds, log(0.9/0.1) − log(0.59/0.41) ≈ +1.833, so
# the default 0.5 threshold no longer flags far too many replies as uninterpretable.
TRAINING_PRIOR = 0.59
POPULATION_PRIOR = 0.90
PRIOR_SHIFT = math.log(POPULATION_PRIOR / (1 - POPULATION_PRIOR)) - math.log(
    TRAINING_PRIOR / (1 - TRAINING_PRIOR)
)
DEFAULT_INTERPRETABILITY_THRESHOLD = 0.5


@dataclass(frozen=True)
class ReplyScore:
    relevance: float
    completeness: float
    interpretability: float
    timeliness: float
    overall: float
    delay_days: float | None
    parts: dict[str, bool]
    # The score before the prior correction, and the verdict at the configured threshold.
    interpretability_uncorrected: float = 0.0
    interpretable: bool = True

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bigrams(text: str) -> Counter[str]:
    t = re.sub(r"\s+", "", text)
    return Counter(t[i : i + 2] for i in range(len(t) - 1))


def relevance(message: str, reply: str) -> float:
    """Cosine of the two texts' character-bigram counts (0–1)."""
    a, b = _bigrams(message), _bigrams(reply)
    if not a or not b:
        return 0.0
    dot = sum(v * b[k] for k, v in a.items() if k in b)
    return dot / math.sqrt(sum(v * v for v in a.values()) * sum(v * v for v in b.values()))


def cue_parts(reply: str) -> dict[str, bool]:
    return {name: bool(p.search(reply)) for name, p in _CUES.items()}


def features(reply: str, parts: Sequence[str]) -> list[float]:
    cues = cue_parts(reply)
    return [1.0 if cues[p] else 0.0 for p in parts] + [math.log1p(len(reply)) / 5]


def _logistic(weights: Sequence[float], x: Sequence[float], shift: float = 0.0) -> float:
    z = weights[0] + sum(w * v for w, v in zip(weights[1:], x, strict=True)) + shift
    return 1 / (1 + math.exp(-z))


def interpretability(reply: str, *, corrected: bool = True) -> float:
    """Probability that the reply is interpretable (prior-corrected unless ``corrected=False``)."""
    x = features(reply or "", INTERPRETABILITY_PARTS)
    return _logistic(INTERPRETABILITY_WEIGHTS, x, PRIOR_SHIFT if corrected else 0.0)


def interpretability_threshold() -> float:
    """``CITYOPS_REPLY_INTERPRETABILITY_THRESHOLD`` (default 0.5)."""
    from cityops.config import get_settings

    settings = get_settings()
    return float(getattr(settings, "reply_interpretability_threshold", DEFAULT_INTERPRETABILITY_THRESHOLD))


def timeliness(asked_at: datetime | None, replied_at: datetime | None) -> tuple[float, float | None]:
    if asked_at is None or replied_at is None:
        return 0.5, None
    days = max((replied_at - asked_at).total_seconds() / 86400, 0.0)
    return 1 / (1 + days / HALF_LIFE_DAYS), round(days, 2)


def score_reply(
    message: str,
    reply: str,
    asked_at: datetime | None = None,
    replied_at: datetime | None = None,
    *,
    threshold: float | None = None,
) -> ReplyScore:
    """Sub-scores and an overall score (all 0–1) for one reply to one message; ``interpretable``
    compares the prior-corrected interpretability with ``threshold`` (default: the setting)."""
    rel = relevance(message or "", reply or "")
    comp = _logistic(COMPLETENESS_WEIGHTS, features(reply or "", COMPLETENESS_PARTS))
    interp = interpretability(reply)
    raw = interpretability(reply, corrected=False)
    cut = interpretability_threshold() if threshold is None else threshold
    timely, days = timeliness(asked_at, replied_at)
    # Relevance is rescaled: replies that quote the message reach ~0.5 cosine, unrelated ones ~0.05.
    rel_scaled = min(rel / 0.4, 1.0)
    overall = 0.3 * rel_scaled + 0.3 * comp + 0.25 * interp + 0.15 * timely
    return ReplyScore(
        round(rel, 4),
        round(comp, 4),
        round(interp, 4),
        round(timely, 4),
        round(overall, 4),
        days,
        cue_parts(reply or ""),
        round(raw, 4),
        interp >= cut,
    )


def calibrate(replies: Sequence[str], labels: Sequence[int], parts: Sequence[str]) -> dict[str, Any]:
    """Fit weights for one label (e.g. completeness) and report leave-one-out agreement."""
    from scipy.stats import spearmanr
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    x = np.array([features(r, parts) for r in replies])
    y = np.asarray(labels)
    model = LogisticRegression(C=1.0)
    proba = cross_val_predict(model, x, y, cv=LeaveOneOut(), method="predict_proba")[:, 1]
    model.fit(x, y)
    rho = spearmanr(proba, y).statistic
    return {
        "weights": [round(float(model.intercept_[0]), 3)] + [round(float(w), 3) for w in model.coef_[0]],
        "loo_accuracy": float(((proba >= 0.5) == y).mean()),
        "majority_baseline": float(max(y.mean(), 1 - y.mean())),
        "spearman": float(rho),
    }
