"""Training texts written from the knowledge base, for the cold-start routing model.

A district that starts with cityops has no labelled cases in the catalog's codes. Each matter's
knowledge-base row is turned into short reports in the three styles the centre receives — a
citizen on the phone, a hotline summary ("市民反映：…"), an inspector's terse line — by putting
its colloquial terms (or, for facilities, object × fault: 路灯 × 不亮) into templates with
neutral place fillers and filler words every class shares, so the model learns which characters
carry the category and which carry nothing.

Deterministic for a given seed. ``split`` holds out a share of each row's terms so thresholds can
be fitted on reports phrased with words the model did not see (see ``kb_model``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cityops.triage.knowledge import KnowledgeRow

NONE_LABEL = "__none__"

PLACES = (
    "小区门口",
    "路边",
    "楼下",
    "路口",
    "人行道上",
    "马路上",
    "小区里",
    "我家楼下",
    "公交站旁边",
    "菜场门口",
    "学校门口",
    "桥下",
    "河边",
    "公园里",
    "单元门口",
    "东门",
    "巷子里",
    "地铁口",
    "商场门口",
    "十字路口",
    "湖墅南路",
    "上塘路",
    "莫干山路",
    "东新路",
    "石祥路",
    "大关路",
    "德胜路",
    "文晖路",
    "登云路",
    "丽水路",
    "朝晖三区",
    "德胜新村",
    "大关小区",
    "和睦新村",
    "石桥小区",
    "桥西社区",
    "米市巷社区",
    "华丰社区",
    "中山北路",
    "体育场路",
    "潮王路",
    "长庆街",
    "金华路",
    "沈半路",
    "祥园路",
    "拱康路",
    "绍兴路",
    "康桥路",
)
NUMBERS = ("12号", "3幢", "88号", "7号楼", "101号", "东侧", "西侧", "北面", "对面", "附近")
TAILS = (
    "",
    "",
    "",
    "，请尽快处理",
    "，好几天了",
    "，没人管",
    "，很危险",
    "，影响通行",
    "，麻烦来看看",
    "，请派人处理",
    "，居民意见很大",
    "，已经反映过多次",
    "，希望尽快解决",
    "，谢谢",
    "，太影响市容了",
    "，存在安全隐患",
    # Intensifiers people add to anything (烦死了 is not 动物尸体).
    "，烦死了",
    "，气死了",
    "，急死了",
    "，真是的",
    "，太过分了",
    "，市民意见很大",
)
CITIZEN = (
    "{place}{phrase}{tail}",
    "{phrase}{tail}",
    "你好，{place}{phrase}{tail}",
    "我们{place}{phrase}{tail}",
    "{place}那边{phrase}{tail}",
    "{phrase}，在{place}{tail}",
    "喂，{place}{num}{phrase}{tail}",
    "我要反映一下，{place}{phrase}{tail}",
    "{place}{num}{phrase}了{tail}",
)
HOTLINE = (
    "市民反映：{place}{num}{phrase}{tail}。",
    "来电人反映：{place}{phrase}，请相关部门处理。",
    "12345转办：{place}{phrase}{tail}。",
    "市民来电称{place}{phrase}，要求处理。",
    "网友留言：{place}{num}{phrase}{tail}。",
)
INSPECTOR = (
    "巡查发现：{place}{num} {phrase}",
    "{place}{num} {phrase}",
    "巡查：{place} {phrase}",
    "{place} {phrase} 1处",
    "网格员上报：{place}{phrase}",
)
STYLES = (CITIZEN, CITIZEN, HOTLINE, INSPECTOR)
CONNECT = ("", "", "", "了", "都", "有点", "已经", "好像", "又")
# Reports with no city problem in them (greetings, questions for other services, tests).
NONE_TEXTS = (
    "你好",
    "您好",
    "喂",
    "喂你好",
    "在吗",
    "谢谢",
    "谢谢你们",
    "好的谢谢",
    "测试",
    "测试一下",
    "请问",
    "请问你们几点上班",
    "我想咨询一下",
    "我要投诉",
    "转人工",
    "你们电话多少",
    "没事了",
    "打错了",
    "请问社保怎么交",
    "公积金怎么提取",
    "户口怎么迁",
    "孩子上学报名",
    "医保报销问题",
    "想问一下政策",
    "请问办事大厅在哪里",
    "查询一下进度",
    "上次的事情处理好了吗",
    "表扬一下工作人员",
    "感谢你们的帮助",
    "没什么事",
    "随便问问",
    "嗯嗯好的",
    "哈哈",
    "早上好",
    "晚上好",
    "我想办营业执照",
    "驾照怎么换",
    "12345吗",
    "请帮我查一下",
    "好的知道了",
    "我再看看",
    "麻烦了",
    "不好意思打扰了",
)


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def phrases(
    row: KnowledgeRow,
    components: Sequence[KnowledgeRow] = (),
    terms: Sequence[str] | None = None,
    rng: random.Random | None = None,
    per_object: int = 6,
) -> list[str]:
    """The short problem phrases of one matter: its terms, or object × fault for facilities."""
    rng = rng or random.Random(0)
    own = list(terms if terms is not None else row.terms)
    if row.problems:
        objects = own + [t for c in components for t in c.terms]
        objects.append(row.object or row.name.removesuffix("异常"))
        objects = list(dict.fromkeys(o for o in objects if o))
        out = []
        for obj in objects:
            for problem in rng.sample(list(row.problems), min(per_object, len(row.problems))):
                out.append(f"{obj}{rng.choice(CONNECT)}{problem}")
        return out
    out = [*own, row.name]
    return list(dict.fromkeys(p for p in out if p))


def _wrap(rng: random.Random, phrase: str) -> str:
    template = rng.choice(rng.choice(STYLES))
    return template.format(
        place=rng.choice(PLACES), num=rng.choice(NUMBERS), phrase=phrase, tail=rng.choice(TAILS)
    )


def examples(
    rows: Iterable[KnowledgeRow],
    *,
    per_class: int = 80,
    seed: int = 0,
    hold_out: float = 0.0,
    part: str = "train",
) -> list[Example]:
    """Synthetic reports for every routable row (and the no-problem class).

    ``hold_out`` > 0 splits each row's terms (and fault phrases) deterministically: ``part="train"``
    uses the rest, ``part="held_out"`` only the held-out share — reports phrased in words the
    train part never saw, for fitting thresholds honestly.
    """
    rows = list(rows)
    rng = random.Random(seed)
    by_target: dict[str, list[KnowledgeRow]] = {}
    for r in rows:
        if r.kind == "component" and r.routes_to:
            by_target.setdefault(r.routes_to, []).append(r)
    out: list[Example] = []
    for row in rows:
        if not row.routable:
            continue
        terms = list(row.terms)
        comps = by_target.get(row.code, [])
        if hold_out > 0:
            terms, comps = _split_terms(row, terms, comps, hold_out, part)
        found = phrases(row, comps, terms, rng)
        if part == "train":
            found += [row.name, row.name.removesuffix("异常")]
        if not found:
            continue
        for i in range(per_class):
            phrase = found[i % len(found)] if i < len(found) else rng.choice(found)
            out.append(Example(_wrap(rng, phrase), row.code))
        if part == "train" and row.filing_criterion:
            out.append(Example(row.filing_criterion, row.code))
    nones = list(NONE_TEXTS)
    if hold_out > 0:
        cut = max(1, int(len(nones) * hold_out))
        nones = nones[-cut:] if part == "held_out" else nones[:-cut]
    for i in range(max(per_class, len(nones))):
        out.append(Example(nones[i % len(nones)], NONE_LABEL))
    return out


def _split_terms(
    row: KnowledgeRow, terms: list[str], comps: list[KnowledgeRow], share: float, part: str
) -> tuple[list[str], list[KnowledgeRow]]:
    """Every k-th term (k = 1/share) is held out; components' terms likewise."""
    k = max(2, round(1 / share))

    def pick(items: Sequence[str]) -> list[str]:
        held = [t for i, t in enumerate(items) if i % k == k - 1]
        rest = [t for i, t in enumerate(items) if i % k != k - 1]
        return held if part == "held_out" else rest

    from dataclasses import replace

    new_comps = [replace(c, terms=tuple(pick(c.terms))) for c in comps]
    return pick(terms), new_comps
