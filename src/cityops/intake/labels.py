"""Vendor labels of AI-camera boxes → GB/T 47678.5 matter codes of the shipped directory.

Shop-front labels go to the merchant first (云共治 self-correction); the others become cases.
A label the table does not know is refused (422) so a new box model is noticed, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    code: str  # 5-digit matter code of catalog/data/gb47678_5_category_directory.csv
    shop_front: bool = False


LABELS: dict[str, Label] = {
    "占道经营": Label("09006"),  # 占道经营
    "出店经营": Label("09005", shop_front=True),  # 店外经营
    "店外经营": Label("09005", shop_front=True),
    "露天餐饮": Label("09005", shop_front=True),  # tables outside the shop: 店外经营
    "占道撑伞": Label("09005", shop_front=True),  # umbrellas put out by the shop: 店外经营
    "沿街晾晒": Label("06007", shop_front=True),  # 沿街晾挂
    "乱堆物堆料": Label("06036", shop_front=True),  # 乱堆杂物
    "机动车违停": Label("09009"),  # 机动车乱停放
    "非机动车违停": Label("09010"),  # 非机动车乱停放
    "共享单车乱停": Label("09011"),  # 共享单车乱象
    "暴露垃圾": Label("06010"),  # 暴露垃圾
    "打包垃圾": Label("06010"),  # bagged rubbish left out: 暴露垃圾
    "垃圾满溢": Label("06042"),  # 垃圾站（箱）满溢
    "河道漂浮物": Label("06025"),  # 水域不洁
    "露天烧烤": Label("06029"),  # 露天烧烤
    "焚烧垃圾": Label("06020"),  # 焚烧垃圾、树叶
    "非法小广告": Label("07001"),  # 非法小广告
    "占用消防通道": Label("09012"),  # 占用消防通道
    "道路遗撒": Label("06014"),  # 道路遗撒（洒）
    "施工占道": Label("08002"),  # 施工占道
    "游商": Label("09001"),  # 无照经营游商
}


def label_for(name: str) -> Label | None:
    return LABELS.get(name.strip())
