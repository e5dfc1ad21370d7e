"""Reply quality's interpretability verdict before and after the prior correction.

    .venv/bin/python benchmarks/bench_reply_quality.py [--threshold 0.5]

On the 100 hand-labelled replies (teddy2020/reply_quality_labels100.csv, 59 % interpretable):
agreement of the verdict (score ≥ threshold) with the labels. On attachment 4
(teddy2020/replies_attachment4.csv, 2,816 replies of a population where about 90 % are
interpretable): the share flagged uninterpretable. Baseline: the uncorrected score at the same
threshold, measured in the same run. Skips (exit 0) when the shared data folder is absent.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from common import REPO, emit

from cityops.triage import reply_quality as rq

DATA = Path(os.environ.get("CITYOPS_SHARED_DATA", REPO.parent / "shared" / "data")) / "teddy2020"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, default=rq.DEFAULT_INTERPRETABILITY_THRESHOLD)
    t = parser.parse_args().threshold
    if not (DATA / "reply_quality_labels100.csv").exists():
        print("# shared data absent; skipping", file=sys.stderr)
        return
    labelled = _rows("reply_quality_labels100.csv")
    y = [int(float(r["可解释性指标"])) for r in labelled]
    agree: dict[bool, float] = {}
    flagged: dict[bool, float] = {}
    weighted: dict[bool, float] = {}
    population = [r["答复意见"] for r in _rows("replies_attachment4.csv")]
    for corrected in (True, False):
        verdicts = [rq.interpretability(r["答复意见"], corrected=corrected) >= t for r in labelled]
        agree[corrected] = sum(int(v) == lab for v, lab in zip(verdicts, y, strict=True)) / len(y)
        # The same labels re-weighted to the population's 90 % interpretable (importance weights
        # 0.90/0.59 for positives, 0.10/0.41 for negatives): the agreement to expect in use.
        w = [
            rq.POPULATION_PRIOR / rq.TRAINING_PRIOR
            if lab
            else (1 - rq.POPULATION_PRIOR) / (1 - rq.TRAINING_PRIOR)
            for lab in y
        ]
        weighted[corrected] = sum(
            wi for wi, v, lab in zip(w, verdicts, y, strict=True) if int(v) == lab
        ) / sum(w)
        flagged[corrected] = sum(rq.interpretability(r, corrected=corrected) < t for r in population) / len(
            population
        )
    positive = sum(y) / len(y)
    emit(
        "reply_interpretability_agreement_100_labels",
        agree[True],
        "share",
        baseline="uncorrected score",
        baseline_value=agree[False],
        threshold=t,
        labels=len(y),
        labelled_positive=round(positive, 2),
        majority_baseline=round(max(positive, 1 - positive), 2),
    )
    emit(
        "reply_interpretability_agreement_population_weighted",
        weighted[True],
        "share",
        baseline="uncorrected score",
        baseline_value=weighted[False],
        threshold=t,
        labels=len(y),
    )
    emit(
        "reply_uninterpretable_share_attachment4",
        flagged[True],
        "share",
        baseline="uncorrected score",
        baseline_value=flagged[False],
        threshold=t,
        replies=len(population),
    )


if __name__ == "__main__":
    main()
