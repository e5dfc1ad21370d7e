"""Place extraction: accuracy and extractions/s on 120+ written addresses vs a naive name loop.

Addresses are built from the seed gazetteer and the 18 street names with templates the project
wrote (hotline phrasing); the expected answer is the street. The baseline scans every surface
form with ``str.find`` and takes the longest hit. Prints one JSON line per figure.
"""

from __future__ import annotations

import json
import random
import time

from cityops.triage.gazetteer import AreaRecord, build_index, load_seed
from cityops.triage.places import extract_places

STREETS = {
    "330105001": "米市巷街道",
    "330105002": "湖墅街道",
    "330105003": "小河街道",
    "330105004": "和睦街道",
    "330105005": "拱宸桥街道",
    "330105007": "大关街道",
    "330105008": "上塘街道",
    "330105009": "祥符街道",
    "330105010": "康桥街道",
    "330105011": "半山街道",
    "330105012": "天水街道",
    "330105013": "武林街道",
    "330105014": "长庆街道",
    "330105015": "潮鸣街道",
    "330105016": "朝晖街道",
    "330105017": "文晖街道",
    "330105018": "东新街道",
    "330105019": "石桥街道",
}
TEMPLATES = [
    "{p}门口垃圾堆了三天没人清理",
    "反映{p}附近夜间施工噪音扰民",
    "{p}的路灯坏了好几天",
    "在{p}有人占道经营",
    "A市A3区的朋友说{p}共享单车乱停",
]


def cases() -> list[tuple[str, str]]:
    rng = random.Random(3)
    out = []
    for code, name in STREETS.items():
        out.append((rng.choice(TEMPLATES).format(p=name), code))
        out.append((rng.choice(TEMPLATES).format(p=name.removesuffix("街道") + "街道办事处附近"), code))
    for e in load_seed():
        if e.kind != "road":
            out.append((rng.choice(TEMPLATES).format(p=e.name), e.area_code))
        out.append((rng.choice(TEMPLATES).format(p=e.name + "12号"), e.area_code))
    return out


def main() -> None:
    areas = [AreaRecord("330105", "拱墅区", "district", None)] + [
        AreaRecord(c, n, "street", "330105") for c, n in STREETS.items()
    ]
    index = build_index(areas, load_seed())
    data = cases()
    forms = sorted(index.forms, key=len, reverse=True)

    def naive(text: str) -> str | None:
        hits = [f for f in forms if f in text]
        return index.forms[max(hits, key=len)][0].street_code if hits else None

    for name, fn in (
        ("trie_regex", lambda t: (extract_places(t, index) or [None])[0]),
        ("naive_loop", naive),
    ):
        reps = 20
        t = time.perf_counter()
        for _ in range(reps):
            answers = [fn(text) for text, _ in data]
        dt = (time.perf_counter() - t) / reps
        got = [a.street_code if a is not None and not isinstance(a, str) else a for a in answers]
        acc = sum(g == want for g, (_, want) in zip(got, data, strict=True)) / len(data)
        print(
            json.dumps(
                {
                    "figure": "place_extraction",
                    "method": name,
                    "addresses": len(data),
                    "street_accuracy": round(acc, 3),
                    "extractions_per_second": round(len(data) / dt),
                },
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
