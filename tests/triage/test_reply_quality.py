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
