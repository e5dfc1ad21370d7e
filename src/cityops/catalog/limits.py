"""The shipped directory and the default time limits derived for it.

Pure functions over the package data in ``catalog/data`` (no database): the GB/T 47678.5
directory, the limits published by operating cities (mapped by name onto the directory), and the
rule that gives every other category a sensible default. docs/catalog.md explains the rule.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

KIND_BY_STANDARD = {"管理部件": "component", "管理事项": "event"}
COMPONENT_PREFIX = "C"
STD_CODE = re.compile(r"^\d{5}$")
# Codes an administrator may give a local category: anything that cannot be mistaken for a
# standard code (five digits, or C + five digits).
LOCAL_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,15}$")

# Grade multipliers: grade A areas (main roads, the centre) are served faster, C areas slower.
GRADE_FACTORS = {"A": 0.75, "C": 1.5}


@dataclass(frozen=True)
class DirectoryEntry:
    code: str
    std_code: str
    kind: str
    major_code: str
    major_name: str
    name: str


@dataclass(frozen=True)
class DefaultLimit:
    kind: str
    value: float
    filing_criterion: str = ""
    closing_criterion: str = ""
    source: str = "rule"


def category_code(kind: str, std_code: str) -> str:
    """The stored code of a standard category (matters bare, components prefixed)."""
    return COMPONENT_PREFIX + std_code if kind == "component" else std_code


def looks_standard(code: str) -> bool:
    """True when ``code`` is shaped like a standard code, so a local category may not use it."""
    bare = code[1:] if code[:1] == COMPONENT_PREFIX else code
    return bool(STD_CODE.match(bare))


def _read(name: str) -> str:
    return resources.files("cityops.catalog").joinpath("data", name).read_text(encoding="utf-8-sig")


def parse_directory_csv(text: str) -> list[DirectoryEntry]:
    """Parse the directory CSV (kind,major_code,major_name,code5,name)."""
    entries = []
    for row in csv.DictReader(io.StringIO(text)):
        kind = KIND_BY_STANDARD.get(row["kind"].strip(), row["kind"].strip())
        std = row["code5"].strip()
        entries.append(
            DirectoryEntry(
                code=category_code(kind, std),
                std_code=std,
                kind=kind,
                major_code=row["major_code"].strip(),
                major_name=row["major_name"].strip(),
                name=row["name"].strip(),
            )
        )
    return entries


@cache
def directory() -> tuple[DirectoryEntry, ...]:
    """The shipped GB/T 47678.5 directory: 153 components and 250 matters."""
    return tuple(parse_directory_csv(_read("gb47678_5_category_directory.csv")))


@cache
def directory_codes() -> frozenset[str]:
    return frozenset(e.code for e in directory())


@cache
def published_limits() -> dict[str, DefaultLimit]:
    """Limits published by operating cities, keyed by matter code (first stage only)."""
    out: dict[str, DefaultLimit] = {}
    for row in csv.DictReader(io.StringIO(_read("published_limits.csv"))):
        closing = row["closing_criterion"].strip()
        if row["later_stages"].strip():
            # Multi-stage limits (停工 → 处罚 → 拆除): the clock runs on the first stage; the
            # later stages stay visible in the closing criterion.
            closing = f"{closing}（后续：{row['later_stages'].strip()}）"
        out.setdefault(
            row["code"].strip(),
            DefaultLimit(
                kind=row["limit_kind"].strip(),
                value=float(row["limit_value"]),
                filing_criterion=row["filing_criterion"].strip(),
                closing_criterion=closing,
                source=row["source"].strip(),
            ),
        )
    return out


# A missing or broken cover is a fall hazard: continuous clock, two hours.
_COVER_WORDS = ("井盖", "箅子", "沟槽盖板")
# Gas, power, flood and lift faults endanger people or supply: continuous clock, four hours.
_HAZARD_WORDS = (
    "燃气",
    "输油",
    "高压线",
    "变压器",
    "电力设施",
    "供热",
    "防汛",
    "排水泵站",
    "公用电梯",
    "消防设施",
    "交通信号灯",
    "架空线缆脱落",
    "道路积雪",
    "边坡",
    "紧急报警点",
)
# Events that need an enforcement procedure rather than a cleaning crew: working days.
_ENFORCEMENT_WORDS = (
    "私搭乱建",
    "违法",
    "无证",
    "违章",
    "违规",
    "非法",
    "擅自",
    "占用河道",
    "占绿毁绿",
    "非正规垃圾填埋场",
    "病虫害",
)
# Named exceptions where the keyword rules would misjudge the urgency.
_NAME_OVERRIDES = {
    "非法小广告": ("working_hours", 8.0),  # a cleaning job, not an enforcement case
    "乱丢弃医疗废物": ("emergency", 4.0),  # infection risk
    "架空线缆脱落": ("emergency", 2.0),  # electrocution and strangling risk
    "占用消防通道": ("emergency", 2.0),  # blocks fire engines
    "违规高空悬吊作业": ("working_hours", 2.0),  # a fall hazard that moves on if not stopped
    "履带车（铁轮车）违规上路行驶": ("working_hours", 2.0),  # transient, like other street order
    "动物尸体": ("working_hours", 2.0),  # hygiene
    "道路破损": ("working_hours", 16.0),  # a road repair crew, like facility repairs
}
# Default by events' major class (working hours unless noted): how quickly a crew can act.
_EVENT_MAJOR_DEFAULTS = {
    "06": ("working_hours", 4.0),  # 市容环境: cleaning within half a working day
    "07": ("working_hours", 8.0),  # 宣传广告: remove small ads within a working day
    "08": ("working_hours", 8.0),  # 施工管理: site supervisor acts within a working day
    "09": ("working_hours", 2.0),  # 街面秩序: street disorder disappears if not acted on fast
    "10": ("working_hours", 4.0),
}


def rule_limit(kind: str, major_code: str, name: str) -> DefaultLimit:
    """The derived default for a category with no published limit (see docs/catalog.md)."""
    if name in _NAME_OVERRIDES:
        return DefaultLimit(*_NAME_OVERRIDES[name])
    if any(w in name for w in _COVER_WORDS):
        return DefaultLimit("emergency", 2.0)
    if any(w in name for w in _HAZARD_WORDS):
        return DefaultLimit("emergency", 4.0)
    if kind == "component" or major_code in {"01", "02", "03", "04", "05"}:
        # Ordinary repair of a facility: two working days of a maintenance crew.
        return DefaultLimit("working_hours", 16.0)
    if any(w in name for w in _ENFORCEMENT_WORDS):
        return DefaultLimit("working_days", 5.0)
    limit_kind, value = _EVENT_MAJOR_DEFAULTS.get(major_code, ("working_hours", 8.0))
    return DefaultLimit(limit_kind, value)


def default_limit(entry: DirectoryEntry) -> DefaultLimit:
    """Published limit when one exists for the matter, the rule otherwise."""
    published = published_limits().get(entry.code)
    return published or rule_limit(entry.kind, entry.major_code, entry.name)


def is_emergency(entry: DirectoryEntry) -> bool:
    return default_limit(entry).kind == "emergency"


def graded(kind: str, value: float) -> dict[str, float]:
    """Default per-grade overrides of a limit: A tighter, C looser (never looser for emergencies)."""
    out: dict[str, float] = {}
    for grade, factor in GRADE_FACTORS.items():
        if kind == "emergency" and factor > 1:
            # A missing cover is as dangerous in a grade C area as anywhere else.
            continue
        # Round to half units so limits read naturally (3 h, 3.5 h), never below half a unit.
        out[grade] = max(0.5, math.floor(value * factor * 2 + 0.5) / 2)
    return out
