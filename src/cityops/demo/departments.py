"""Demo departments (处置单位) of Gongshu and the complete responsibility list (权责清单).

The departments are plausible, not an official organisation chart: district bureaus and
centres, the utilities that own street furniture, and the 18 street offices. Every category of
the directory gets a district-level row; the street-order matters in :data:`STREET_MATTERS` get
one row per street pointing at that street's own office, which wins because it is more
specific. docs/demo.md states the rule in prose.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: Prefix of every demo department code; street offices are ``GS-JD`` + the street's suffix.
PREFIX = "GS-"


@dataclass(frozen=True)
class Dept:
    """One demo department: code, Chinese name, kind and a clearly fake duty phone."""

    code: str
    name: str
    kind: str = "department"
    phone: str = ""


def _d(code: str, name: str, kind: str = "department") -> Dept:
    return Dept(PREFIX + code, name, kind)


DISTRICT_DEPARTMENTS: tuple[Dept, ...] = (
    _d("CGJ", "拱墅区城市管理局"),
    _d("ZFJ", "拱墅区综合行政执法局"),
    _d("HWZX", "拱墅区环境卫生管理中心"),
    _d("FLB", "拱墅区生活垃圾分类工作办公室"),
    _d("SZZX", "拱墅区市政设施管理中心"),
    _d("YLZX", "拱墅区园林绿化管理中心"),
    _d("HDZX", "拱墅区河道管理中心"),
    _d("SLJ", "拱墅区农业农村局（区水利局）"),
    _d("ZJJ", "拱墅区住房和城乡建设局"),
    _d("FGZX", "拱墅区房产管理服务中心"),
    _d("GHZY", "杭州市规划和自然资源局拱墅分局"),
    _d("SJJ", "拱墅区市场监督管理局"),
    _d("STHJ", "杭州市生态环境局拱墅分局"),
    _d("WJJ", "拱墅区卫生健康局"),
    _d("JTJ", "拱墅区交通运输局"),
    _d("JJDD", "杭州市公安局交通警察支队拱墅大队"),
    _d("GAFJ", "杭州市公安局拱墅区分局"),
    _d("XFJY", "拱墅区消防救援大队"),
    _d("MZJ", "拱墅区民政局"),
    _d("JYJ", "拱墅区教育局"),
    _d("RSJ", "拱墅区人力资源和社会保障局"),
    _d("WGLT", "拱墅区文化和广电旅游体育局"),
    _d("SWJ", "拱墅区商务局"),
    _d("YJJ", "拱墅区应急管理局"),
    _d("SJZY", "拱墅区数据资源管理局"),
    _d("FGJ", "拱墅区发展和改革局"),
    _d("JXJ", "拱墅区经济和信息化局"),
    _d("QXJ", "杭州市气象局"),
    _d("YHZX", "杭州市运河综合保护中心（拱墅段）"),
    _d("GDGS", "国网杭州供电公司拱墅供电分公司", "utility"),
    _d("SWJT", "杭州水务集团拱墅营业分公司", "utility"),
    _d("RQJT", "杭州市燃气集团拱墅分公司", "utility"),
    _d("RLGS", "杭州热电集团供热分公司", "utility"),
    _d("DX", "中国电信杭州分公司拱墅分局", "utility"),
    _d("YD", "中国移动杭州分公司拱墅分公司", "utility"),
    _d("LT", "中国联通杭州分公司拱墅分公司", "utility"),
    _d("HS", "华数传媒拱墅分公司", "utility"),
    _d("YZ", "中国邮政杭州市拱墅区分公司", "utility"),
    _d("GJJT", "杭州公交集团第三分公司", "utility"),
    _d("DTJT", "杭州地铁运营分公司", "utility"),
    _d("TLGW", "中国铁路上海局集团杭州工务段", "utility"),
)

# --- the mapping rule -----------------------------------------------------------------------

# Facility keywords (components and their "…异常" matters), first match wins; order matters:
# "路灯井盖" must hit "路灯" only after the more specific cover owners have had their turn.
FACILITY_RULES: tuple[tuple[str, str], ...] = (
    ("园林井盖", "YLZX"),
    ("化粪池", "HWZX"),
    ("公安", "GAFJ"),
    ("治安岗亭", "GAFJ"),
    ("紧急报警点", "GAFJ"),
    ("监控电子眼", "GAFJ"),
    ("信号灯", "JJDD"),
    ("交通信号", "JJDD"),
    ("交通岗亭", "JJDD"),
    ("交通标志", "JJDD"),
    ("限高架", "JJDD"),
    ("交通护栏", "JJDD"),
    ("防撞桶", "JJDD"),
    ("安全岛", "JJDD"),
    ("柔性隔离体", "JJDD"),
    ("交通反视镜", "JJDD"),
    ("减速带", "JJDD"),
    ("道路信息显示屏", "JJDD"),
    ("消防", "XFJY"),
    ("燃气", "RQJT"),
    ("输油（气）", "RQJT"),
    ("热力", "RLGS"),
    ("供热", "RLGS"),
    ("污水", "SZZX"),
    ("雨水", "SZZX"),
    ("供水", "SWJT"),
    ("中水", "SWJT"),
    ("水井", "SWJT"),  # the bare 水井 component; 污水井盖/雨水井盖 matched above
    ("水鹤", "SWJT"),
    ("水塔", "SWJT"),
    ("自助缴费机", "SWJT"),
    ("电力", "GDGS"),
    ("电缆", "GDGS"),
    ("高压线", "GDGS"),
    ("变压器", "GDGS"),
    ("充电桩", "GDGS"),
    ("电视井盖", "HS"),
    ("网络井盖", "LT"),
    ("通信立杆", "YD"),
    ("通信基站", "YD"),
    ("通信", "DX"),
    ("电话亭", "DX"),
    ("邮筒", "YZ"),
    ("报刊亭", "YZ"),
    ("公交", "GJJT"),
    ("轨道交通", "DTJT"),
    ("铁道口", "TLGW"),
    ("铁路桥涵", "TLGW"),
    ("出租车", "JTJ"),
    ("港监", "JTJ"),
    ("停车", "CGJ"),
    ("立体车库", "CGJ"),
    ("非机动车停放点", "CGJ"),
    ("自行车租赁点", "CGJ"),
    ("存车支架", "CGJ"),
    ("防汛", "SLJ"),
    ("水域", "HDZX"),
    ("跨河管道", "HDZX"),
    ("路名牌", "MZJ"),
    ("地名牌", "MZJ"),
    ("门（楼号）牌", "MZJ"),
    ("救助站", "MZJ"),
    ("旧衣物回收箱", "MZJ"),
    ("应急避难", "YJJ"),
    ("车辆加油", "YJJ"),
    ("文物", "WGLT"),
    ("景区标识牌", "WGLT"),
    ("户外健身设施", "WGLT"),
    ("信息亭", "SJZY"),
    ("售货亭", "SJJ"),
    ("自动售货机", "SJJ"),
    ("公用电梯", "SJJ"),
    ("快递柜", "SWJ"),
    ("气象监测站", "QXJ"),
    ("环保监测站", "STHJ"),
    ("污水口监测站", "STHJ"),
    ("污水监测器", "STHJ"),
    ("噪声显示屏", "STHJ"),
    ("户外广告", "CGJ"),
    ("牌匾标识", "CGJ"),
    ("宣传栏", "CGJ"),
    ("旗杆", "CGJ"),
    ("管理责任公示牌", "CGJ"),
    ("晒衣架", "CGJ"),
    ("休息亭", "CGJ"),
    ("牌楼", "CGJ"),
    ("公房地下室", "FGZX"),
)

# Matter (event) names, exact, for majors 06–10.
EVENT_RULES: dict[str, str] = {
    "私搭乱建": "ZFJ",
    "店面无证装修": "ZFJ",
    "违章接坡": "ZFJ",
    "建筑物外立面污损": "CGJ",
    "临街阳台、屋顶脏乱差": "CGJ",
    "擅自在临街的建筑物上挂彩旗": "CGJ",
    "沿街晾挂": "CGJ",
    "擅自架设管线、杆线设施": "CGJ",
    "空调室外机低挂": "CGJ",
    "暴露垃圾": "HWZX",
    "积存垃圾渣土": "HWZX",
    "道路不洁": "HWZX",
    "道路破损": "SZZX",
    "道路遗撒（洒）": "HWZX",
    "沙（河）滩不洁": "HDZX",
    "交通标线不清晰": "JJDD",
    "绿地脏乱": "YLZX",
    "绿化弃料": "YLZX",
    "非装饰性吊挂": "CGJ",
    "焚烧垃圾、树叶": "ZFJ",
    "病虫害": "YLZX",
    "非法伐树": "YLZX",
    "堤岸破损": "HDZX",
    "水域秩序乱象": "HDZX",
    "水域不洁": "HDZX",
    "河道污染": "STHJ",
    "油烟污染": "STHJ",
    "噪声扰民": "STHJ",
    "露天烧烤": "ZFJ",
    "乱倒乱排污水、废水": "ZFJ",
    "非正规垃圾填埋场": "HWZX",
    "乱丢弃医疗废物": "WJJ",
    "废弃车辆": "JJDD",
    "废弃家具设备": "HWZX",
    "乱堆杂物": "CGJ",
    "动物尸体": "HWZX",
    "擅自饲养家禽家畜": "ZFJ",
    "违章开设道口": "ZFJ",
    "私设地锁、阻车桩": "CGJ",
    "垃圾未分类": "FLB",
    "垃圾站（箱）满溢": "HWZX",
    "遮阳篷（棚、伞）破损": "CGJ",
    "节庆装饰物破损": "CGJ",
    "非法占绿毁绿": "YLZX",
    "占用河道": "HDZX",
    "公园秩序": "YLZX",
    "边坡（挡土墙）破损": "SZZX",
    "台阶破损": "SZZX",
    "路缘石缺损": "SZZX",
    "盲道缺损": "SZZX",
    "无障碍坡道破损": "SZZX",
    "非法小广告": "CGJ",
    "街头散发广告": "CGJ",
    "违规户外广告": "CGJ",
    "广告语言文字不规范": "JYJ",
    "违规牌匾标识": "CGJ",
    "违规标语宣传品": "CGJ",
    "公益性宣传品缺损": "CGJ",
    "施工扰民": "ZJJ",
    "施工占道": "ZJJ",
    "无证掘路": "ZFJ",
    "工地扬尘": "ZJJ",
    "施工废弃料": "ZJJ",
    "施工物料乱堆放": "ZJJ",
    "施工工地围挡问题": "ZJJ",
    "施工工地道路未硬化": "ZJJ",
    "施工工地出入口道路破损": "ZJJ",
    "施工完成后未场光地净": "ZJJ",
    "渣土运输车辆未安装密闭装置": "CGJ",
    "施工工地车轮夹带": "ZJJ",
    "违规高空悬吊作业": "ZJJ",
    "预埋件设施裸露": "SZZX",
    "施工公示牌污损": "ZJJ",
    "无证建设": "GHZY",
    "无照经营游商": "ZFJ",
    "早（夜）市管理问题": "SWJ",
    "流浪乞讨": "MZJ",
    "废品收购乱象": "ZFJ",
    "店外经营": "ZFJ",
    "占道经营": "ZFJ",
    "非法出版物销售": "WGLT",
    "机动车乱停放": "JJDD",
    "非机动车乱停放": "CGJ",
    "共享单车乱象": "CGJ",
    "占用消防通道": "XFJY",
    "临街屠宰": "SJJ",
    "畜力车进城": "JJDD",
    "无证餐饮": "SJJ",
    "违规设置停车场": "CGJ",
    "违规占用桥下空间": "SZZX",
    "履带车（铁轮车）违规上路行驶": "JJDD",
    "占用无障碍通道": "ZFJ",
    "农贸市场秩序问题": "SJJ",
    "占道洗车": "ZFJ",
    "占道促销宣传": "ZFJ",
    "道路积雪、结冰": "SZZX",
    "架空线缆脱落": "DX",
}

# Default by major class when no keyword matched.
MAJOR_DEFAULTS: dict[str, str] = {
    "01": "SZZX",
    "02": "SZZX",
    "03": "HWZX",
    "04": "YLZX",
    "05": "FGZX",
    "06": "CGJ",
    "07": "CGJ",
    "08": "ZJJ",
    "09": "ZFJ",
    "10": "CGJ",
}

# Matters a street office handles in its own street (街面秩序 and neighbourhood clutter).
STREET_MATTERS: frozenset[str] = frozenset(
    {
        "临街阳台、屋顶脏乱差",
        "沿街晾挂",
        "乱堆杂物",
        "擅自饲养家禽家畜",
        "私设地锁、阻车桩",
        "非法小广告",
        "街头散发广告",
        "无照经营游商",
        "废品收购乱象",
        "店外经营",
        "占道经营",
        "机动车乱停放",
        "非机动车乱停放",
        "占用无障碍通道",
        "占道洗车",
        "占道促销宣传",
        "暴露垃圾",
        "垃圾未分类",
    }
)


def _strip_abnormal(name: str) -> str:
    for suffix in ("异常SOS", "异常"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def district_department(kind: str, major_code: str, name: str) -> str:
    """The district-level department code for a category (see the module docstring)."""
    if kind == "event" and name in EVENT_RULES:
        return PREFIX + EVENT_RULES[name]
    facility = _strip_abnormal(name)
    for word, code in FACILITY_RULES:
        if word in facility:
            return PREFIX + code
    return PREFIX + MAJOR_DEFAULTS.get(major_code, "CGJ")


def street_office_code(street_code: str) -> str:
    """``GS-JD005`` for street 330105005."""
    return f"{PREFIX}JD{street_code[-3:]}"


def street_offices(streets: Iterable[tuple[str, str]]) -> list[Dept]:
    """One street office (街道办事处) per (street code, street name)."""
    return [Dept(street_office_code(code), f"{name}办事处", "street") for code, name in sorted(streets)]


def is_street_matter(kind: str, name: str) -> bool:
    return kind == "event" and name in STREET_MATTERS


def responsibility_rows(
    categories: Sequence[tuple[str, str, str, str]],
    district_code: str,
    street_codes: Sequence[str],
) -> list[tuple[str, str, str]]:
    """(category, area, department) rows: a district row for every category, street rows for
    the street matters. ``categories`` are (code, kind, major_code, name)."""
    rows: list[tuple[str, str, str]] = []
    for code, kind, major, name in categories:
        rows.append((code, district_code, district_department(kind, major, name)))
        if is_street_matter(kind, name):
            rows.extend((code, street, street_office_code(street)) for street in street_codes)
    return rows


def all_departments(streets: Iterable[tuple[str, str]]) -> list[Dept]:
    """District departments and street offices, with fake duty phones 0571-0000-xxxx."""
    out = []
    for i, dept in enumerate([*DISTRICT_DEPARTMENTS, *street_offices(streets)], start=1):
        out.append(Dept(dept.code, dept.name, dept.kind, f"0571-0000{i:04d}"))
    return out
