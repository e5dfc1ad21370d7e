"""The demo's indicator catalog (85 indicators in seven domains), a year of figures, and the backfill.

Case-based indicators are computed from the evaluation summary of the generated cases. The vital
signs (air quality, noise, canal water level, elevator faults, smoke alarms) are daily *imported
figures* here — plausible generated values, clearly demo data — because live telemetry comes from
the intake capability's MQTT channel, which is not there yet; their telemetry twins (``VS.*.live``)
read intake's roll-ups and say "waiting for intake" until it lands.
"""

from __future__ import annotations

import math
import random
import re
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from cityops.areas import service as areas
from cityops.evaluation import periods
from cityops.indicators import levels, service
from cityops.indicators.models import IndicatorFigure, IndicatorValue

_ONE_FIGURE = re.compile(r"^figure\('(\w+)'\)$")
H, L = "higher_better", "lower_better"
PCT = {"unit": "%"}


def _i(
    code: str,
    name: str,
    domain: str,
    theme: str,
    definition: str,
    *,
    unit: str = "件",
    period: str = "month",
    owner: str = "区城运中心",
    direction: str = L,
    kind: str = "expression",
    thresholds: dict[str, float] | None = None,
    description: str = "",
) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "domain": domain,
        "theme": theme,
        "definition": definition,
        "unit": unit,
        "period": period,
        "owner": owner,
        "direction": direction,
        "kind": kind,
        "thresholds": thresholds or {},
        "description": description,
    }


def _cat(
    code: str, name: str, domain: str, theme: str, cats: str, owner: str, red: float | None = None
) -> dict[str, Any]:
    """A monthly count of filed cases of some categories; thresholds scale from ``red``."""
    t = {"blue": red * 0.55, "yellow": red * 0.7, "orange": red * 0.85, "red": red} if red else None
    return _i(
        code,
        name,
        domain,
        theme,
        cats,
        owner=owner,
        thresholds=t,
        description="当月立案的该类案件数 / cases of these categories filed in the month",
    )


G, S, E, T, A, M, C = "基层治理", "市容环境", "生态环境", "交通出行", "公共安全", "民生服务", "经济运行"

CATALOG: list[dict[str, Any]] = [
    # 基层治理 — every evaluation figure (docs/evaluation.md), per district, street and community.
    _i("GOV.filed", "立案数", G, "案件办理", "filed", description="当月立案数 / cases filed in the month"),
    _i("GOV.due", "应结案数", G, "案件办理", "due"),
    _i("GOV.closed", "结案数", G, "案件办理", "closed", direction=H),
    _i("GOV.closed_on_time", "按期结案数", G, "案件办理", "closed_on_time", direction=H),
    _i("GOV.handled", "处置数", G, "案件办理", "handled", direction=H),
    _i(
        "GOV.closure_rate",
        "结案率",
        G,
        "办理质效",
        "closed / due * 100",
        unit="%",
        direction=H,
        thresholds={"blue": 97, "yellow": 94, "orange": 90, "red": 85},
    ),
    _i(
        "GOV.on_time_closure_rate",
        "按期结案率",
        G,
        "办理质效",
        "closed_on_time / due * 100",
        unit="%",
        direction=H,
        thresholds={"blue": 92, "yellow": 88, "orange": 84, "red": 80},
    ),
    _i(
        "GOV.on_time_handling_rate",
        "按期处置率",
        G,
        "办理质效",
        "handled_on_time / due * 100",
        unit="%",
        direction=H,
        thresholds={"blue": 93, "yellow": 89, "orange": 85, "red": 80},
    ),
    _i(
        "GOV.rework_rate",
        "返工率",
        G,
        "办理质效",
        "reworked / due * 100",
        unit="%",
        thresholds={"blue": 5, "yellow": 7, "orange": 9, "red": 12},
    ),
    _i(
        "GOV.overdue",
        "超期数",
        G,
        "办理质效",
        "overdue",
        thresholds={"blue": 40, "yellow": 60, "orange": 80, "red": 100},
    ),
    _i(
        "GOV.avg_handle_hours",
        "平均处置时长",
        G,
        "办理质效",
        "handle_hours / handle_n",
        unit="工作小时",
        thresholds={"blue": 6, "yellow": 8, "orange": 10, "red": 12},
    ),
    _i(
        "GOV.supervision_report_rate",
        "监督举报率",
        G,
        "巡查发现",
        "public_reports / filed * 100",
        unit="%",
        thresholds={"blue": 40, "yellow": 45, "orange": 50, "red": 55},
        description="监督举报核实数 / 立案数：公众先于监督员发现的问题占比",
    ),
    _i(
        "GOV.accurate_dispatch_rate",
        "准确派遣率",
        G,
        "派遣",
        "accurate / dispatched * 100",
        unit="%",
        direction=H,
        thresholds={"blue": 98, "yellow": 97, "orange": 95, "red": 93},
    ),
    _i(
        "GOV.satisfaction",
        "满意度",
        G,
        "回访评价",
        "figure('satisfaction')",
        unit="%",
        direction=H,
        description="回访满意度；案件评价（回访·评价）尚未记录，暂无数据 / no ratings recorded yet",
    ),
    _i("GOV.open_cases", "未结案件数", G, "实时", "open_cases", period="day", kind="aggregate"),
    _i("GOV.running_cases", "计时中案件数", G, "实时", "running_cases", period="day", kind="aggregate"),
    _i(
        "GOV.open_warnings",
        "未处理预警数",
        G,
        "实时",
        "open_warnings",
        period="day",
        kind="aggregate",
        thresholds={"blue": 3, "yellow": 6, "orange": 10, "red": 15},
    ),
    _i(
        "GOV.inspector_share",
        "监督员发现率",
        G,
        "巡查发现",
        "(filed - public_reports) / filed * 100",
        unit="%",
        direction=H,
        thresholds={"blue": 60, "yellow": 55, "orange": 50, "red": 45},
    ),
    # 市容环境
    _cat("CITY.exposed_garbage", "暴露垃圾", S, "环境卫生", "cases('06010')", "区环境卫生管理中心", 400),
    _cat("CITY.garbage_piles", "积存垃圾渣土", S, "环境卫生", "cases('06011')", "区环境卫生管理中心"),
    _cat("CITY.dirty_roads", "道路不洁", S, "环境卫生", "cases('06012')", "区环境卫生管理中心"),
    _cat("CITY.full_bins", "垃圾站（箱）满溢", S, "垃圾分类", "cases('06042')", "区环境卫生管理中心"),
    _cat("CITY.unsorted", "垃圾未分类", S, "垃圾分类", "cases('06041')", "区环境卫生管理中心"),
    _cat("CITY.clutter", "乱堆杂物", S, "市容秩序", "cases('06036')", "区综合行政执法局", 350),
    _cat("CITY.laundry", "沿街晾挂", S, "市容秩序", "cases('06007')", "区综合行政执法局"),
    _cat("CITY.facades", "建筑物外立面污损", S, "市容秩序", "cases('06004')", "区城市管理局"),
    _cat("CITY.flyers", "非法小广告", S, "广告招牌", "cases('07001')", "区城市管理局", 200),
    _cat("CITY.billboards", "违规户外广告", S, "广告招牌", "cases('07003')", "区城市管理局"),
    _cat("CITY.toilets", "公共厕所异常", S, "环卫设施", "cases('03001')", "区环境卫生管理中心"),
    _cat("CITY.green_litter", "绿地脏乱", S, "园林绿化", "cases('06017')", "区园林绿化管理中心"),
    _cat("CITY.all_matters", "市容环境类事件", S, "总量", "cases('06')", "区城市管理局", 2500),
    _cat("CITY.ads_matters", "宣传广告类事件", S, "总量", "cases('07')", "区城市管理局"),
    # 交通出行
    _cat("TRAF.car_parking", "机动车乱停放", T, "静态交通", "cases('09009')", "区交警大队", 350),
    _cat("TRAF.bike_parking", "非机动车乱停放", T, "静态交通", "cases('09010')", "区交警大队", 250),
    _cat("TRAF.shared_bikes", "共享单车乱象", T, "静态交通", "cases('09011')", "区城市管理局"),
    _cat("TRAF.locks", "私设地锁、阻车桩", T, "静态交通", "cases('06040')", "区综合行政执法局"),
    _cat("TRAF.parking_lots", "停车场异常", T, "静态交通", "cases('02001')", "区城市管理局"),
    _cat("TRAF.road_damage", "道路破损", T, "道路设施", "cases('06013')", "区市政设施管理中心", 150),
    _cat("TRAF.signs", "交通标志牌及标线异常", T, "交通设施", "cases('02010')", "区交警大队"),
    _cat("TRAF.signals", "交通信号灯异常", T, "交通设施", "cases('02014')", "区交警大队"),
    _cat("TRAF.barriers", "交通护栏异常", T, "交通设施", "cases('02017')", "区交警大队"),
    _cat("TRAF.bus_stops", "公交站设施异常", T, "公共交通", "cases('02004')", "区公交集团"),
    _cat("TRAF.roadworks", "施工占道", T, "道路设施", "cases('08002')", "区住建局"),
    _cat("TRAF.all_facilities", "交通设施类部件问题", T, "总量", "cases('02')", "区交警大队"),
    # 公共安全 (the vital signs: daily imported figures; the *.live twins wait for intake's telemetry)
    _cat("SAFE.fire_lanes", "占用消防通道", A, "消防安全", "cases('09012')", "区消防救援大队", 40),
    _cat("SAFE.fire_facilities", "消防设施异常", A, "消防安全", "cases('01013')", "区消防救援大队"),
    _cat(
        "SAFE.manholes",
        "井盖异常（01001–01019）",
        A,
        "城市部件",
        "cases('0100') + cases('0101')",
        "区市政设施管理中心",
    ),
    _cat("SAFE.elevator_cases", "公用电梯异常", A, "特种设备", "cases('01076')", "区市场监管局"),
    _cat("SAFE.cables", "架空线缆脱落", A, "城市部件", "cases('10002')", "区供电公司"),
    _cat("SAFE.ice", "道路积雪、结冰", A, "防灾减灾", "cases('10001')", "区市政设施管理中心"),
    _i(
        "VS.elevator_faults",
        "电梯故障数",
        A,
        "城市体征",
        "figure('elevator_faults')",
        unit="次/日",
        period="day",
        owner="区市场监管局",
        thresholds={"blue": 6, "yellow": 9, "orange": 12, "red": 16},
        description="电梯物联网故障报警（演示：导入的日数据；实时值等待 intake 接入）",
    ),
    _i(
        "VS.smoke_alarms",
        "烟感报警数",
        A,
        "城市体征",
        "figure('smoke_alarms')",
        unit="次/日",
        period="day",
        owner="区消防救援大队",
        thresholds={"blue": 10, "yellow": 15, "orange": 20, "red": 30},
        description="独立式烟感报警（演示：导入的日数据；实时值等待 intake 接入）",
    ),
    _i(
        "VS.elevator_faults.live",
        "电梯故障（实时）",
        A,
        "城市体征",
        "telemetry('elevator_faults')",
        unit="次/日",
        period="day",
        owner="区市场监管局",
        thresholds={"blue": 6, "yellow": 9, "orange": 12, "red": 16},
        description="MQTT 电梯传感器汇总，等待 intake 接入 / waiting for intake",
    ),
    _i(
        "VS.smoke_alarms.live",
        "烟感报警（实时）",
        A,
        "城市体征",
        "telemetry('smoke_alarms')",
        unit="次/日",
        period="day",
        owner="区消防救援大队",
        description="等待 intake 接入 / waiting for intake",
    ),
    # 生态环境
    _i(
        "VS.aqi",
        "空气质量指数 AQI",
        E,
        "城市体征",
        "figure('aqi')",
        unit="",
        period="day",
        owner="区生态环境分局",
        thresholds={"blue": 100, "yellow": 150, "orange": 200, "red": 300},
        description="环境监测站日均 AQI（演示数据）",
    ),
    _i(
        "VS.pm25",
        "PM2.5 日均浓度",
        E,
        "城市体征",
        "figure('pm25')",
        unit="μg/m³",
        period="day",
        owner="区生态环境分局",
        thresholds={"blue": 75, "yellow": 115, "orange": 150, "red": 250},
    ),
    _i(
        "VS.noise",
        "区域环境噪声",
        E,
        "城市体征",
        "figure('noise_db')",
        unit="dB(A)",
        period="day",
        owner="区生态环境分局",
        thresholds={"blue": 60, "yellow": 65, "orange": 70, "red": 75},
    ),
    _i(
        "VS.canal_level",
        "京杭运河拱宸桥水位",
        E,
        "城市体征",
        "figure('canal_level_m')",
        unit="m",
        period="day",
        owner="区河道管理中心",
        thresholds={"blue": 2.9, "yellow": 3.1, "orange": 3.3, "red": 3.5},
        description="运河水位（演示：导入的日数据；实时值等待 intake 接入）",
    ),
    _i(
        "VS.canal_level.live",
        "运河水位（实时）",
        E,
        "城市体征",
        "telemetry('canal_level_m')",
        unit="m",
        period="day",
        owner="区河道管理中心",
        description="MQTT 水位计汇总，等待 intake 接入 / waiting for intake",
    ),
    _i(
        "VS.aqi.live",
        "空气质量（实时）",
        E,
        "城市体征",
        "telemetry('aqi')",
        unit="",
        period="day",
        owner="区生态环境分局",
        description="等待 intake 接入 / waiting for intake",
    ),
    _i(
        "VS.noise.live",
        "噪声（实时）",
        E,
        "城市体征",
        "telemetry('noise_db')",
        unit="dB(A)",
        period="day",
        owner="区生态环境分局",
        description="等待 intake 接入 / waiting for intake",
    ),
    _cat("ECO.fumes", "油烟污染", E, "大气环境", "cases('06027')", "区生态环境分局", 60),
    _cat("ECO.noise_cases", "噪声扰民", E, "声环境", "cases('06028')", "区生态环境分局", 60),
    _cat("ECO.bbq", "露天烧烤", E, "大气环境", "cases('06029')", "区综合行政执法局"),
    _cat("ECO.dust", "工地扬尘", E, "大气环境", "cases('08004')", "区住建局"),
    _cat("ECO.water", "水域不洁", E, "水环境", "cases('06025')", "区河道管理中心"),
    _cat("ECO.river_pollution", "河道污染", E, "水环境", "cases('06026')", "区河道管理中心"),
    _cat("ECO.burning", "焚烧垃圾、树叶", E, "大气环境", "cases('06020')", "区生态环境分局"),
    # 民生服务
    _i(
        "LIFE.public_reports",
        "群众诉求量（热线、网络）",
        M,
        "群众诉求",
        "public_reports",
        owner="区12345热线",
    ),
    _cat("LIFE.street_lights", "路灯异常", M, "公共服务设施", "cases('01037')", "区市政设施管理中心", 60),
    _cat("LIFE.blind_paths", "盲道缺损", M, "无障碍", "cases('06051')", "区市政设施管理中心"),
    _cat(
        "LIFE.accessibility",
        "无障碍设施问题",
        M,
        "无障碍",
        "cases('02034') + cases('06052') + cases('09019')",
        "区残联",
    ),
    _cat("LIFE.fitness", "户外健身设施异常", M, "公共服务设施", "cases('01046')", "区文广旅体局"),
    _cat("LIFE.parcel_lockers", "快递柜异常", M, "公共服务设施", "cases('01075')", "区邮政管理局"),
    _cat(
        "LIFE.water_supply",
        "供水设施异常",
        M,
        "公共服务设施",
        "cases('01024') + cases('01025')",
        "区水务集团",
    ),
    _cat("LIFE.begging", "流浪乞讨", M, "社会救助", "cases('09003')", "区民政局"),
    # 经济运行
    _cat("ECON.outside_shop", "店外经营", C, "街面经营秩序", "cases('09005')", "区综合行政执法局", 300),
    _cat("ECON.street_vending", "占道经营", C, "街面经营秩序", "cases('09006')", "区综合行政执法局", 350),
    _cat("ECON.hawkers", "无照经营游商", C, "街面经营秩序", "cases('09001')", "区市场监管局"),
    _cat("ECON.unlicensed_food", "无证餐饮", C, "市场监管", "cases('09015')", "区市场监管局"),
    _cat("ECON.markets", "农贸市场秩序问题", C, "市场监管", "cases('09020')", "区市场监管局"),
    _cat("ECON.street_order", "街面秩序类事件", C, "总量", "cases('09')", "区综合行政执法局", 2000),
    _cat("ECON.construction", "施工管理类事件", C, "总量", "cases('08')", "区住建局"),
    _i(
        "ECON.new_businesses",
        "新登记市场主体",
        C,
        "市场主体",
        "figure('new_businesses')",
        unit="户/日",
        direction=H,
        owner="区市场监管局",
        description="演示：导入的日数据",
    ),
    _i(
        "ECON.retail_sales",
        "社会消费品零售额（日均）",
        C,
        "消费",
        "figure('retail_sales')",
        unit="亿元",
        direction=H,
        owner="区统计局",
        description="演示：导入的日数据",
    ),
]

# Daily demo figures: (name, base, seasonal amplitude, noise, per-street share or None for a level).
FIGURES: dict[str, tuple[float, float, float, bool]] = {
    "aqi": (68.0, 25.0, 18.0, False),
    "pm25": (36.0, 16.0, 12.0, False),
    "noise_db": (55.0, 2.0, 2.5, False),
    "canal_level_m": (2.55, 0.35, 0.12, False),
    "elevator_faults": (4.0, 1.0, 2.0, True),
    "smoke_alarms": (7.0, 3.0, 3.0, True),
    "new_businesses": (38.0, 6.0, 9.0, True),
    "retail_sales": (2.6, 0.3, 0.35, True),
}


def figure_rows(district: str, streets: list[str], now: datetime, seed: int) -> list[dict[str, Any]]:
    """A year of daily figures per district and street up to today (winter smog, summer floods)."""
    rng = random.Random(seed)
    today = periods.today(now)
    rows = []
    for name, (base, amp, noise, additive) in FIGURES.items():
        for offset in range(365, -1, -1):
            day = today - timedelta(days=offset)
            # Air is worst in winter (peak mid-January); water highest in the June plum rains.
            phase = (day.timetuple().tm_yday - (15 if name in ("aqi", "pm25") else 170)) / 365 * 2 * math.pi
            value = max(base + amp * math.cos(phase) + rng.gauss(0, noise), 0.0)
            if name == "canal_level_m" and rng.random() < 0.01:
                value += 0.9  # a storm surge now and then
            shares = [rng.uniform(0.6, 1.4) for _ in streets]
            total = sum(shares)
            rows.append(
                {"name": name, "area_code": district, "day": day, "value": round(value, 2), "source": "demo"}
            )
            for street, share in zip(streets, shares, strict=True):
                v = value * share / total if additive else value * (0.9 + 0.2 * share / 1.4)
                rows.append(
                    {"name": name, "area_code": street, "day": day, "value": round(v, 3), "source": "demo"}
                )
    return rows


def load(session: Session, district: str, now: datetime, seed: int, n_cases: int = 20_000) -> dict[str, int]:
    """The catalog, a year of figures and the backfilled history (district, streets, communities)."""
    added = service.save_many(session, CATALOG)
    streets = [a.code for a in areas.list_areas(session, level="street")]
    session.execute(delete(IndicatorFigure).where(IndicatorFigure.source == "demo"))
    # A small demo (tests) gets the district's figures only: a twentieth of the rows.
    rows = figure_rows(district, streets if n_cases >= 5000 else [], now, seed)
    for start in range(0, len(rows), 5000):
        session.execute(insert(IndicatorFigure), rows[start : start + 5000])
    # A small demo (tests) skips the communities' history: they are computed on demand anyway.
    values = backfill(session, district, now, rows, communities=n_cases >= 5000)
    return {"indicators": added, "figures": len(rows), "indicator_values": values}


def backfill(
    session: Session,
    district: str,
    now: datetime,
    figures: list[dict[str, Any]] | None = None,
    *,
    communities: bool = True,
) -> int:
    """Compute the past year's values (no warnings), then the current period's (with warnings).

    A daily vital sign defined as one figure (``figure('aqi')``) takes its daily values straight
    from the generated figures, instead of 365 computations per area.
    """
    inds = service.list_catalog(session, active=True)
    monthly = [i for i in inds if i.period == "month"]
    daily = [i for i in inds if i.period == "day" and i.kind == "expression"]
    today = periods.today(now)
    written = 0
    month = date(today.year - 1, today.month, 1)
    # Communities get the evaluation figures only (category counts are kept per street and district).
    governance = [i for i in monthly if i.domain == "基层治理"]
    while month < date(today.year, today.month, 1):
        plan = [("district", monthly), ("street", monthly)] + (
            [("community", governance)] if communities else []
        )
        for level, chosen in plan:
            written += service.compute(
                session, level=level, day=month, district=district, now=now, indicators=chosen, warn=False
            )
        month = (month + timedelta(days=32)).replace(day=1)
    by_figure: dict[str, list[dict[str, Any]]] = {}
    for row in figures or []:
        if row["day"] < today:
            by_figure.setdefault(row["name"], []).append(row)
    values = []
    for ind in daily:
        m = _ONE_FIGURE.match(ind.definition)
        if m is None or m.group(1) not in by_figure:
            continue
        for row in by_figure[m.group(1)]:
            level = levels.level_of(row["value"], ind.thresholds or {}, ind.direction)
            values.append(
                {
                    "indicator_code": ind.code,
                    "area_code": row["area_code"],
                    "period_start": row["day"],
                    "value": row["value"],
                    "level": level,
                    "computed_at": now,
                }
            )
    session.execute(
        delete(IndicatorValue).where(
            IndicatorValue.indicator_code.in_([i.code for i in daily]), IndicatorValue.period_start < today
        )
    )
    for start in range(0, len(values), 5000):
        session.execute(insert(IndicatorValue), values[start : start + 5000])
    written += len(values)
    for level in ("district", "street"):
        written += service.compute(session, level=level, day=today, district=district, now=now)
    return written
