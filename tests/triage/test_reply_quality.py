"""Reply-quality scoring: sub-scores move the right way; calibration on the shared labels."""

from __future__ import annotations

import csv
import os
from datetime import datetime
from pathlib import Path

import pytest

from cityops.triage import reply_quality as rq

SHARED = Path(
    os.environ.get("CITYOPS_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data")
)

MESSAGE = "小区门口垃圾堆积多日无人清运，臭气熏天，请尽快处理。"
GOOD = (
    "网友您好！您反映的小区门口垃圾堆积问题已收悉。经调查核实，该处垃圾因清运车辆故障未能及时清运。"
    "根据《杭州市生活垃圾管理条例》第二十条规定，我局已于2026年5月3日安排人员清理完毕，并要求物业每日巡查。"
    "感谢您对我们工作的理解和支持。"
)
POOR = "已转相关部门。"


def test_a_complete_reasoned_timely_reply_beats_a_one_liner():
    good = rq.score_reply(MESSAGE, GOOD, datetime(2026, 5, 1), datetime(2026, 5, 3))
    poor = rq.score_reply(MESSAGE, POOR, datetime(2026, 5, 1), datetime(2026, 6, 20))
    assert good.relevance > poor.relevance
    assert good.completeness > poor.completeness
    assert good.interpretability > poor.interpretability
    assert good.timeliness > poor.timeliness and poor.delay_days == 50
    assert good.overall > poor.overall + 0.3
    assert good.parts["basis"] and not poor.parts["basis"]


def test_no_times_gives_neutral_timeliness():
    s = rq.score_reply(MESSAGE, GOOD)
    assert s.timeliness == 0.5 and s.delay_days is None


@pytest.mark.shared_data
def test_calibration_against_the_hundred_labels():
    path = SHARED / "teddy2020" / "reply_quality_labels100.csv"
    if not path.exists():
        pytest.skip("shared data absent")
    with path.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    replies = [r["答复意见"] for r in rows]
    interp = rq.calibrate(replies, [int(float(r["可解释性指标"])) for r in rows], rq.INTERPRETABILITY_PARTS)
    assert interp["loo_accuracy"] > interp["majority_baseline"]
    assert interp["spearman"] > 0.3
    comp = rq.calibrate(replies, [int(float(r["完整性指标"])) for r in rows], rq.COMPLETENESS_PARTS)
    assert comp["spearman"] > 0.2


def test_the_interpretability_logit_is_corrected_for_the_prior() -> None:
    import math

    assert pytest.approx(math.log(0.9 / 0.1) - math.log(0.59 / 0.41)) == rq.PRIOR_SHIFT
    raw, corrected = rq.interpretability(POOR, corrected=False), rq.interpretability(POOR)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    assert logit(corrected) - logit(raw) == pytest.approx(rq.PRIOR_SHIFT, abs=1e-9)
    s = rq.score_reply(MESSAGE, POOR)
    assert s.interpretability == round(corrected, 4) and s.interpretability_uncorrected == round(raw, 4)


def test_the_threshold_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from cityops.config import get_settings

    p = rq.interpretability(POOR)
    assert rq.score_reply(MESSAGE, POOR, threshold=p - 0.01).interpretable
    assert not rq.score_reply(MESSAGE, POOR, threshold=p + 0.01).interpretable
    monkeypatch.setenv("CITYOPS_REPLY_INTERPRETABILITY_THRESHOLD", str(min(p + 0.01, 1.0)))
    get_settings.cache_clear()
    try:
        assert not rq.score_reply(MESSAGE, POOR).interpretable
    finally:
        monkeypatch.delenv("CITYOPS_REPLY_INTERPRETABILITY_THRESHOLD")
        get_settings.cache_clear()


@pytest.mark.shared_data
def test_far_fewer_replies_of_attachment_4_are_flagged_after_the_correction() -> None:
    path = SHARED / "teddy2020" / "replies_attachment4.csv"
    if not path.exists():
        pytest.skip("shared data absent")
    with path.open(encoding="utf-8-sig") as f:
        replies = [r["答复意见"] for r in csv.DictReader(f)]
    before = sum(rq.interpretability(r, corrected=False) < 0.5 for r in replies) / len(replies)
    after = sum(rq.interpretability(r) < 0.5 for r in replies) / len(replies)
    # about 10 % of the population is uninterpretable; the uncorrected score flags ~40 %
    assert before > 0.3 and after < 0.15
