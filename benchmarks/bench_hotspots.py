"""Hot-issue clustering time: 100,000 messages against 10,000 (baseline) in the same run.

Messages are resampled from the 2020 challenge's attachment 3 with small perturbations (a few
characters dropped, the time shifted by up to ±10 days, new reporters) when ../shared/data is
present, otherwise generated from templates. Prints one JSON line per figure.
"""

from __future__ import annotations

import csv
import json
import os
import random
import time
from datetime import datetime, timedelta
from pathlib import Path

from cityops.triage.hotspots import HotMessage, find_hot_issues

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CITYOPS_SHARED_DATA", ROOT.parent / "shared" / "data"))


def parse_time(s: str) -> datetime:
    s = s.strip()
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(s, fmt)
        except ValueError:
            continue
    raise ValueError(s)


def base_messages() -> list[HotMessage]:
    path = SHARED / "teddy2020" / "hot_issue_messages_attachment3.csv"
    if path.exists():
        with path.open(encoding="utf-8") as f:
            return [
                HotMessage(
                    r["留言编号"],
                    r["留言详情"].strip(),
                    parse_time(r["留言时间"]),
                    r["留言用户"],
                    int(r["点赞数"] or 0),
                    r["留言主题"],
                )
                for r in csv.DictReader(f)
            ]
    rng = random.Random(1)
    topics = [
        "小区门口垃圾堆积",
        "夜间施工噪音扰民",
        "饭店油烟直排",
        "路灯不亮",
        "共享单车乱停",
        "道路破损积水",
    ]
    places = [f"{a}{b}小区" for a in "东西南北中" for b in "华兴和安平康"]
    t0 = datetime(2024, 1, 1)
    return [
        HotMessage(
            str(k),
            f"{rng.choice(places)}{rng.choice(topics)}，希望尽快处理",
            t0 + timedelta(hours=k),
            f"u{rng.randrange(3000)}",
            rng.randrange(5),
            "",
        )
        for k in range(4000)
    ]


def perturb(base: list[HotMessage], n: int, seed: int = 7) -> list[HotMessage]:
    rng = random.Random(seed)
    out = []
    for k in range(n):
        m = rng.choice(base)
        text = m.text
        for _ in range(3):
            if len(text) > 10:
                cut = rng.randrange(len(text))
                text = text[:cut] + text[cut + 1 :]
        out.append(
            HotMessage(
                f"s{k}",
                text,
                m.created_at + timedelta(hours=rng.uniform(-240, 240)),
                f"r{rng.randrange(n)}",
                m.likes,
                m.subject,
            )
        )
    return out


def main() -> None:
    base = base_messages()
    for n in (10_000, 100_000):
        msgs = perturb(base, n)
        t = time.perf_counter()
        hot = find_hot_issues(msgs, limit=10)
        dt = time.perf_counter() - t
        print(
            json.dumps(
                {
                    "figure": "hotspots_cluster_seconds",
                    "messages": n,
                    "seconds": round(dt, 2),
                    "messages_per_second": round(n / dt),
                    "top_reports": hot[0].reports if hot else 0,
                    "role": "baseline" if n == 10_000 else "target",
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
