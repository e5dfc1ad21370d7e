"""Hot-issue clustering: same matter and place cluster, other places stay apart; the shared data."""

from __future__ import annotations

import csv
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cityops.triage.hotspots import HotMessage, find_hot_issues

SHARED = Path(
    os.environ.get("CITYOPS_SHARED_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data")
)


def _msgs():
    t0 = datetime(2026, 5, 1)
    out = []
    for k in range(6):
        out.append(
            HotMessage(
                f"a{k}",
                f"丽发新城小区附近搅拌站噪音扰民，灰尘很大{k}",
                t0 + timedelta(days=k),
                f"u{k}",
                k,
                "丽发新城小区附近搅拌站噪音扰民",
            )
        )
    for k in range(2):
        out.append(
            HotMessage(f"b{k}", "魅力之城小区临街门面油烟直排扰民", t0, f"v{k}", 0, "魅力之城小区油烟扰民")
        )
    out.append(HotMessage("c", "建议增加公交线路", t0, "w", 0, "建议增加公交线路"))
    return out


def test_clusters_are_ranked_by_heat():
    hot = find_hot_issues(_msgs(), limit=5)
    assert [h.reports for h in hot] == [6, 2]
    assert hot[0].place is not None and hot[0].place.startswith("丽发新城")
    assert hot[0].reporters == 6 and hot[0].likes == 15
    assert "搅拌站" in hot[0].representative
    assert hot[0].start < hot[0].end


def test_far_apart_in_time_do_not_cluster():
    t0 = datetime(2026, 1, 1)
    msgs = [
        HotMessage("x", "路灯不亮", t0, subject="某某路路灯不亮"),
        HotMessage("y", "路灯不亮", t0 + timedelta(days=200), subject="某某路路灯不亮"),
    ]
    assert find_hot_issues(msgs) == []


@pytest.mark.shared_data
def test_challenge_top_issues():
    path = SHARED / "teddy2020" / "hot_issue_messages_attachment3.csv"
    if not path.exists():
        pytest.skip("shared data absent")

    def parse(s: str) -> datetime:
        s = s.strip()
        return datetime.strptime(s, "%Y/%m/%d %H:%M:%S" if "/" in s else "%Y-%m-%d %H:%M:%S")

    with path.open(encoding="utf-8") as f:
        msgs = [
            HotMessage(
                r["留言编号"],
                r["留言详情"].strip(),
                parse(r["留言时间"]),
                r["留言用户"],
                int(r["点赞数"]),
                r["留言主题"],
            )
            for r in csv.DictReader(f)
        ]
    hot = find_hot_issues(msgs, limit=10)
    text = " ".join(h.representative for h in hot)
    assert "伊景园" in text and "58车贷" in text
    assert hot[0].reports >= 30
