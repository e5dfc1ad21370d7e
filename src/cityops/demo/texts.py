"""Chinese case descriptions and addresses generated from templates (written for the demo).

Road names are real Gongshu roads, grouped roughly by street; house numbers, shops and every
detail of a description are invented. Nothing here is a real report.
"""

from __future__ import annotations

import random

# Real roads, roughly by street (the last three digits of the street code).
STREET_ROADS: dict[str, tuple[str, ...]] = {
    "001": ("湖墅南路", "环城北路", "米市巷", "大兜路", "霞湾巷"),
    "002": ("湖墅南路", "德胜路", "信义坊", "密渡桥路", "沈塘桥路"),
    "003": ("小河路", "登云路", "湖州街", "长征桥路", "大关路"),
    "004": ("和睦路", "登云路", "莫干山路", "花园岗街", "湖州街"),
    "005": ("台州路", "丽水路", "桥西直街", "金华路", "通益路"),
    "007": ("大关路", "上塘路", "东新路", "绍兴路", "香积寺路"),
    "008": ("上塘路", "长城街", "沈半路", "假山路", "蔡马路"),
    "009": ("祥园路", "莫干山路", "金昌路", "勾山路", "祥符桥路"),
    "010": ("康桥路", "康园路", "拱康路", "塘康路", "杭行路"),
    "011": ("半山路", "石祥路", "沈半路", "杭玻街", "永华街"),
    "012": ("武林路", "体育场路", "延安路", "中山北路", "凤起路"),
    "013": ("延安路", "武林路", "环城西路", "体育场路", "庆春路"),
    "014": ("长庆街", "建国北路", "中山北路", "凤起路", "耀江路"),
    "015": ("潮鸣寺巷", "建国北路", "凤起东路", "东园街", "艮山西路"),
    "016": ("朝晖路", "潮王路", "中山北路", "香积寺路", "京杭运河东岸"),
    "017": ("文晖路", "德胜路", "东新路", "绍兴路", "新天地街"),
    "018": ("东新路", "石桥路", "德胜东路", "新天地街", "长浜路"),
    "019": ("石桥路", "华丰路", "永华街", "石祥路", "杭玻街"),
}
DEFAULT_ROADS = ("莫干山路", "上塘路", "湖墅南路", "东新路", "石祥路")

SHOPS = (
    "水果店",
    "小吃店",
    "便利店",
    "五金店",
    "理发店",
    "奶茶店",
    "面馆",
    "早餐店",
    "烧烤店",
    "汽修店",
    "快递驿站",
    "菜场摊位",
    "服装店",
    "烟酒店",
)
JUNK = ("废旧家具", "纸板箱", "建筑材料", "旧床垫", "泡沫箱", "杂物", "废旧自行车", "花盆杂物")
GOODS = ("水果", "蔬菜", "小商品", "早点", "烤红薯", "鲜花", "袜子衣物")
NOISES = ("KTV 唱歌声音很大", "广场舞音响声音过大", "商铺外放音响", "空调外机噪声", "装修电钻声")
COLORS = ("白色", "黑色", "银色", "红色", "蓝色")

PLACES = (
    "{road}{num}号门口",
    "{road}{num}号附近",
    "{road}与{road2}交叉口",
    "{road}{num}号{shop}门前",
    "{community}{bld}幢楼下",
    "{community}{bld}幢东侧",
    "{road}公交站旁",
    "{road}{num}号人行道",
)

# Templates for the categories that dominate a district's cases (by matter name).
BY_NAME: dict[str, tuple[str, ...]] = {
    "暴露垃圾": (
        "{place}有生活垃圾散落在地，未入桶，气味较大",
        "{place}堆放多袋生活垃圾，无人清理",
        "{place}绿化带旁有暴露垃圾一处，约{n}平方米",
        "{place}垃圾袋被丢在路边，已引来蚊蝇",
    ),
    "乱堆杂物": (
        "{place}堆放{junk}多日，影响通行",
        "{place}楼道口堆满{junk}，存在消防隐患",
        "{place}人行道上堆放{junk}，行人只能走机动车道",
    ),
    "占道经营": (
        "{place}有流动摊贩占道销售{goods}，影响行人通行",
        "{place}早晚高峰有摊贩摆摊卖{goods}",
        "{place}三轮车占用人行道销售{goods}",
    ),
    "店外经营": (
        "{place}商户将商品摆放至店外人行道经营",
        "{road}{num}号{shop}在店外摆放桌椅经营",
        "{road}{num}号{shop}占用门前人行道堆放货物",
    ),
    "机动车乱停放": (
        "{place}有{n}辆机动车停放在人行道上",
        "{place}机动车占用非机动车道停放，影响通行",
        "一辆{color}小轿车长时间停放在{place}，占用盲道",
    ),
    "非机动车乱停放": ("{place}电动自行车停放杂乱，堵塞人行道", "{place}非机动车乱停放约{n}辆，行人无法通行"),
    "共享单车乱象": ("{place}共享单车堆积约{n}0辆，占用盲道", "{place}共享单车倒伏一片，无人清理"),
    "非法小广告": (
        "{place}电线杆上张贴大量小广告",
        "{place}墙面被喷涂办证小广告",
        "{place}配电箱上贴满疏通管道小广告",
    ),
    "道路破损": (
        "{place}人行道地砖松动破损约{n}块，雨天踩踏溅水",
        "{place}机动车道出现坑槽，直径约{n}0厘米",
        "{place}路面沉陷开裂，电动车经过容易摔倒",
    ),
    "垃圾站（箱）满溢": ("{place}垃圾桶满溢，周边散落垃圾", "{place}垃圾收集点满溢，未及时清运"),
    "道路不洁": ("{place}路面有大量落叶和烟头，未及时清扫", "{place}路面油污明显，需要冲洗"),
    "积存垃圾渣土": ("{place}堆积建筑垃圾渣土约{n}方", "{place}装修垃圾堆放多日无人清运"),
    "沿街晾挂": ("{place}沿街住户在行道树上晾晒衣物被褥", "{place}临街窗外晾挂衣物，影响市容"),
    "油烟污染": ("{place}{shop}油烟直排，居民反映气味大", "{road}{num}号{shop}油烟净化器未开启"),
    "噪声扰民": ("{place}夜间{noise}，严重影响居民休息", "{place}{noise}，持续到深夜"),
    "施工扰民": ("{place}工地晚上十点后仍在施工，噪声很大", "{place}工地清晨六点就开始作业"),
    "绿地脏乱": ("{place}绿地内有塑料袋、饮料瓶等垃圾", "{place}绿化带内垃圾较多，无人清理"),
    "垃圾未分类": ("{place}垃圾桶内垃圾混投，未分类", "{place}厨余垃圾桶内有大量其他垃圾"),
    "露天烧烤": ("{place}{shop}在店外露天烧烤，烟雾很大", "{place}夜间有人露天烧烤"),
    "废弃车辆": ("{place}一辆{color}轿车长期停放，积满灰尘，疑似僵尸车", "{place}废弃电动车停放多月"),
    "私设地锁、阻车桩": ("{place}有人私设地锁占用公共车位", "{place}商户私自安装阻车桩"),
    "占用消防通道": ("{place}消防通道被{n}辆车占用", "{place}消防通道堆放杂物"),
    "施工占道": ("{place}施工围挡占用人行道，未设置临时通道", "{place}施工材料占用机动车道"),
    "工地扬尘": ("{place}工地未覆盖裸土，刮风时扬尘严重", "{place}工地出入口车辆带泥上路"),
    "无照经营游商": ("{place}流动商贩无照经营，叫卖声大", "{place}有游商推车销售{goods}"),
}

# Keyword families for the rest: (keyword in the category name, templates).
BY_KEYWORD: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "井盖",
        (
            "{place}{facility}破损，存在安全隐患",
            "{place}{facility}缺失，已临时用锥桶围挡",
            "{place}{facility}松动，车辆经过时异响",
            "{place}{facility}下沉，与路面高差约{n}厘米",
        ),
    ),
    ("箅子", ("{place}{facility}堵塞，下雨时积水", "{place}{facility}破损")),
    (
        "灯",
        ("{place}{facility}夜间不亮，已有{n}天", "{place}{facility}白天常亮", "{place}{facility}灯罩破损"),
    ),
    (
        "树",
        (
            "{place}{facility}倾斜，有倒伏风险",
            "{place}{facility}有枯枝悬挂，容易砸到行人",
            "{place}{facility}遮挡交通信号灯",
        ),
    ),
    ("绿地", ("{place}{facility}植被枯死一片", "{place}{facility}被踩踏，裸土外露")),
    ("护栏", ("{place}{facility}被撞变形", "{place}{facility}缺失一段")),
    ("牌", ("{place}{facility}歪斜", "{place}{facility}字迹模糊", "{place}{facility}脱落")),
    ("厕", ("{place}{facility}无人保洁，气味很大", "{place}{facility}水龙头损坏")),
    ("垃圾", ("{place}{facility}破损", "{place}{facility}周边脏乱")),
    ("施工", ("{place}{name}，请尽快处理", "{place}工地存在{name}问题")),
    ("广告", ("{place}{name}，影响市容", "{place}发现{name}")),
)
GENERIC_FACILITY = (
    "{place}{facility}损坏，请尽快修复",
    "{place}{facility}破损，存在安全隐患",
    "{place}{facility}功能异常，影响市民使用",
)
GENERIC_EVENT = (
    "{place}发现{name}问题，请尽快处理",
    "{place}存在{name}现象，居民多次反映",
    "{place}{name}，影响周边环境",
)
SOURCE_PREFIX = {
    "inspector": "巡查发现：",
    "camera": "城市眼识别：",
    "hotline": "12345 热线转办：",
    "web": "",
}


def facility_of(name: str) -> str:
    """ "路灯异常" → "路灯"; a matter without the suffix keeps its name."""
    for suffix in ("异常SOS", "异常"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def templates_for(name: str) -> tuple[str, ...]:
    """The description templates of a category name."""
    if name in BY_NAME:
        return BY_NAME[name]
    for word, templates in BY_KEYWORD:
        if word in name:
            return templates
    return GENERIC_FACILITY if name.endswith("异常") or name.endswith("SOS") else GENERIC_EVENT


def address(rng: random.Random, street_code: str | None, community: str) -> tuple[str, dict[str, str]]:
    """A place phrase and the values it used (reused by the description)."""
    roads = STREET_ROADS.get((street_code or "")[-3:], DEFAULT_ROADS)
    road = rng.choice(roads)
    road2 = rng.choice([r for r in roads if r != road] or [road])
    values = {
        "road": road,
        "road2": road2,
        "num": str(rng.randrange(1, 480)),
        "shop": rng.choice(SHOPS),
        "community": community or road,
        "bld": str(rng.randrange(1, 40)),
    }
    return rng.choice(PLACES).format(**values), values


def describe(rng: random.Random, name: str, source: str, place: str, values: dict[str, str]) -> str:
    """A plausible description for a case of category ``name``."""
    template = rng.choice(templates_for(name))
    text = template.format(
        place=place,
        name=name,
        facility=facility_of(name),
        n=rng.randrange(2, 9),
        junk=rng.choice(JUNK),
        goods=rng.choice(GOODS),
        noise=rng.choice(NOISES),
        color=rng.choice(COLORS),
        **values,
    )
    return SOURCE_PREFIX.get(source, "") + text + "。"


# --- notes written by staff along the lifecycle ----------------------------------------------

REJECT_REASONS = (
    "非本区管辖范围，已告知上报人",
    "重复上报，已并入原案卷",
    "描述不清且无法联系上报人",
    "不属于城市管理问题，已告知市民向有关部门反映",
    "现场核实无此问题",
)
RETURN_REASONS = ("该问题不属于本单位职责，请重新派遣", "位置不在本单位管辖范围", "设施权属不属于本单位")
PARK_REASONS = (
    "需纳入年度改造计划统一实施",
    "涉及产权争议，需协调相关单位",
    "需申请专项资金，待审批",
    "需等待管线迁改完成后施工",
)
EXTENSION_REASONS = (
    "需采购配件，到货后修复",
    "需协调多个部门联合处置",
    "连续降雨无法施工",
    "工程量较大，需分段实施",
)
ESCALATE_NOTES = ("已超期，请加快处置并反馈", "群众反复投诉，请立即处置", "领导关注，请当日办结")
VERIFY_FAIL = ("现场核查仍未整改到位，请返工", "问题反弹，现场仍有同类问题", "反馈照片与现场不符，请重新处置")
VERIFY_PASS = ("现场核查已整改到位", "核查通过", "经复核问题已解决")
CLOSE_NOTES = ("经核查处置到位，予以结案", "处置完毕，结案", None)

_HANDLE_BY_WORD: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("垃圾", "杂物", "不洁", "脏乱", "渣土", "遗撒", "弃料", "满溢", "尸体", "废弃"),
        ("已安排保洁人员清理完毕", "已清运处理，现场恢复整洁", "已清理并加强巡查保洁"),
    ),
    (
        ("经营", "游商", "摊", "促销", "洗车", "晾挂", "停放", "单车", "地锁", "小广告", "散发"),
        ("已现场劝导，当事人已自行整改", "已责令整改，现场恢复正常秩序", "已教育劝离并登记，后续加强巡查"),
    ),
    (
        ("异常", "破损", "缺损", "井盖", "箅子"),
        ("已安排维修人员到场修复", "已更换损坏部件，恢复正常使用", "已设置警示并完成修复"),
    ),
    (
        ("噪声", "油烟", "扬尘", "施工", "烧烤", "污染"),
        ("已现场检查并责令整改，当事单位已落实整改措施", "已约谈当事单位，问题已整改"),
    ),
)


def handle_note(rng: random.Random, name: str) -> str:
    """The department's feedback when it reports a case handled."""
    for words, notes in _HANDLE_BY_WORD:
        if any(w in name for w in words):
            return rng.choice(notes)
    return rng.choice(("已处置完毕", "已按要求处置到位", "已安排人员处理完毕"))
