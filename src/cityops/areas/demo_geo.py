"""Generate the shipped demo area tree of Gongshu District (拱墅区, 330105).

Run from a checkout that has the reference data next to it::

    python -m cityops.areas.demo_geo ../shared/data

What is real and what is made up (also in docs/areas.md):

* real: the district outline (GCJ-02 DataV file converted to WGS-84), the ten pre-2021 streets
  of old Gongshu (a public hand-drawn map, clipped and aligned to the outline here), the 18
  street names and 9-digit codes, the OSM centre points of the former Xiacheng streets;
* generated: the polygons of the eight former Xiacheng streets (a Voronoi partition of the
  area the ten old streets leave free, seeded by those centre points), every community and
  every unit grid (Voronoi partitions of random seeds, fixed seed), community names beyond the
  few well-known ones, and the grid grades.

The output is deterministic for a given input: same data, same seed, same bytes.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points, unary_union, voronoi_diagram

SEED = 330105
DISTRICT_CODE = "330105"
DISTRICT_NAME = "拱墅区"
DATA_DIR = Path(__file__).with_name("data")
AREAS_FILE = "gongshu_demo_areas.geojson"
STREETS_FILE = "gongshu_streets.csv"
TARGET_GRIDS = 1500
PRECISION = 1e-6  # 6 decimals ≈ 0.1 m: plenty for grids, keeps the file small
KM2_PER_DEG2 = 10_660.0  # at 30.3° N: 96.1 km per degree of lon × 110.9 km per degree of lat
# Former Xiacheng streets, which the hand-drawn 2017 map does not cover.
XIACHENG = ("武林", "天水", "朝晖", "潮鸣", "长庆", "文晖", "东新", "石桥")
CORE_STREETS = ("武林", "天水", "长庆", "潮鸣")
OUTSKIRT_STREETS = ("半山", "康桥")
# Well-known community names first (real where we know them), then plausible local names.
COMMUNITY_NAMES: dict[str, str] = {
    "米市巷": "卖鱼桥 大兜路 左家新村 登云 米市巷 仓基 珠儿潭 叶青苑 马塍路",
    "湖墅": "信义坊 德胜 湖墅新村 夹城巷 大关苑 红枫 卖鱼桥北 霞湾 湖墅北",
    "小河": "小河路 长征桥 和平 吉祥寺 国丰 小河佳苑 香积寺 紫荆 锦绣",
    "和睦": "和睦新村 阮家桥 沈塘 和家园 古运 方家塘 绿洲 紫竹",
    "拱宸桥": "桥西 如意里 吉如 瓜山 通益 杭一棉 顺丰 幸福 拱宸 小河北",
    "大关": "大关南一苑 大关西一苑 大关西三苑 大关东三苑 德胜新村 长乐 胜利河 白马",
    "上塘": "上塘 蓝孔雀 假山新村 皋亭 瓜山北 蔡马 永佳 锦绣苑 运河嘉园",
    "祥符": "祥符 杨家 花园岗 勾山 庆隆 北城 新文 曙光 方家 吴家墩 绿洲花园",
    "康桥": "康桥 康惠 康园 金昌 杨家村 塘南 康桥新城 宸祥",
    "半山": "半山 杭钢 田园 石塘 桃源 星桥 龙华 半山桥 北秀",
    "天水": "环西 武林路 天水 仙林桥 东园 孩儿巷 中山北 岳王路",
    "武林": "竹竿巷 岳家湾 西湖 凤起 中山 官巷口 武林坊 体育场 灯芯巷",
    "长庆": "长庆 青春坊 耀江 凤起东 西文 宝善 潮鸣西 众安",
    "潮鸣": "艮园 王马 小营北 长寿桥 新门 东园巷 潮鸣 建国北 知足",
    "朝晖": "朝晖一区 朝晖二区 朝晖三区 朝晖四区 朝晖五区 朝晖六区 朝晖七区 朝晖八区 朝晖九区",
    "文晖": "新华坊 现代城 流水 三塘 嘉禾 戚家 德苑 绍兴路 闸弄口北",
    "东新": "东新园 新天地 打铁关 三塘北 同德 华丰 东文 王家 香积东",
    "石桥": "石桥 华中 杨家桥 新塘 仁和 华丰北 长浜 沈家 永胜",
}


def _read_feature_geometry(path: Path) -> BaseGeometry:
    """Outline from a bare geometry, a Feature or a one-feature FeatureCollection."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if doc.get("type") == "FeatureCollection":
        doc = doc["features"][0]
    if doc.get("type") == "Feature":
        doc = doc["geometry"]
    return shapely.make_valid(shape(doc))


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Keep only polygon parts (intersections may leave lines and points behind)."""
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and p.area > 0]
    if not parts:
        return Polygon()
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _shared(a: BaseGeometry, b: BaseGeometry) -> float:
    """How strongly two polygons touch: the area of b near a (a proxy for border length)."""
    return float(a.buffer(1e-6).intersection(b).area)


def _give_away(pieces: list[BaseGeometry], owners: list[BaseGeometry]) -> list[BaseGeometry]:
    """Add each piece to the owner it shares the longest border with."""
    owners = list(owners)
    for piece in sorted(pieces, key=lambda p: -p.area):
        best = max(range(len(owners)), key=lambda i: _shared(piece, owners[i]))
        owners[best] = _polygonal(unary_union([owners[best], piece]))
    return owners


def _contiguous(cells: list[BaseGeometry]) -> list[BaseGeometry]:
    """Make every cell one polygon: stray parts go to the neighbour they touch most."""
    strays: list[BaseGeometry] = []
    kept: list[BaseGeometry] = []
    for cell in cells:
        parts = sorted(shapely.get_parts(_polygonal(cell)), key=lambda p: -p.area)
        kept.append(parts[0] if parts else Polygon())
        strays.extend(parts[1:])
    for _ in range(3):  # a stray may touch only other strays at first
        if not strays:
            break
        left: list[BaseGeometry] = []
        for piece in sorted(strays, key=lambda p: -p.area):
            scores = [_shared(piece, c) for c in kept]
            best = int(np.argmax(scores))
            if scores[best] > 0:
                kept[best] = _polygonal(unary_union([kept[best], piece]))
            else:
                left.append(piece)
        strays = left
    return kept


def _random_points(region: BaseGeometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """n points uniformly inside region (rejection sampling, vectorised)."""
    minx, miny, maxx, maxy = region.bounds
    shapely.prepare(region)
    found = np.zeros((0, 2))
    while found.shape[0] < n:
        cand = rng.uniform((minx, miny), (maxx, maxy), size=(max(4 * n, 64), 2))
        found = np.vstack([found, cand[shapely.contains_xy(region, cand[:, 0], cand[:, 1])]])
    return found[:n]


def _partition(region: BaseGeometry, seeds: np.ndarray, lloyd: int = 0) -> list[BaseGeometry]:
    """Voronoi cells of seeds clipped to region, optionally relaxed (Lloyd) for rounder cells."""
    pts = np.asarray(seeds, dtype=float)
    cells: list[BaseGeometry] = []
    for step in range(lloyd + 1):
        if pts.shape[0] == 1:
            return [region]
        diagram = voronoi_diagram(shapely.multipoints(pts), envelope=region.envelope.buffer(0.05))
        by_seed = []
        for p in pts:
            cell = next(c for c in diagram.geoms if c.contains(Point(p)))
            by_seed.append(_polygonal(cell.intersection(region)))
        cells = by_seed
        if step < lloyd:
            pts = np.array(
                [c.representative_point().coords[0] if c.is_empty else c.centroid.coords[0] for c in cells]
            )
    return _contiguous(cells)


def _snap(geom: BaseGeometry) -> BaseGeometry:
    return _polygonal(shapely.set_precision(geom, PRECISION))


def build_streets(data: Path) -> tuple[BaseGeometry, dict[str, tuple[str, BaseGeometry]]]:
    """The outline and the 18 streets {short name: (code, polygon)} tiling it."""
    outline = _read_feature_geometry(data / "geo" / "gongshu_district_2021_wgs84.geojson")
    codes: dict[str, str] = {}
    with (data / "geo" / "hangzhou_streets_admin_codes.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["code"].startswith(DISTRICT_CODE):
                codes[row["name"].removesuffix("街道")] = row["code"]
    old = json.loads((data / "geo" / "gongshu_old10_streets_2017_wgs84.geojson").read_text("utf-8"))
    streets: dict[str, BaseGeometry] = {}
    claimed: BaseGeometry = Polygon()
    # Smaller streets first so their hand-drawn shape wins where the drawings overlap.
    for feat in sorted(old["features"], key=lambda f: shape(f["geometry"]).area):
        name = feat["properties"]["name"].removesuffix("街道")
        geom = _polygonal(shapely.make_valid(shape(feat["geometry"])).intersection(outline))
        streets[name] = _polygonal(geom.difference(claimed))
        claimed = unary_union([claimed, streets[name]])
    rest = _polygonal(outline.difference(claimed))
    # Opening by 0.002° separates the former Xiacheng block from the thin slivers the
    # hand-drawn map leaves along the outline; slivers join the street they touch most.
    core = _polygonal(rest.buffer(-0.002).buffer(0.002).intersection(rest))
    core = max(shapely.get_parts(core), key=lambda p: p.area)
    slivers = list(shapely.get_parts(_polygonal(rest.difference(core))))
    names = list(streets)
    owners = _give_away(slivers, [streets[n] for n in names] + [core])
    streets = dict(zip(names, owners[:-1], strict=True))
    xiacheng = owners[-1]
    seeds = []
    with (data / "poi" / "gongshu_osm_places.csv").open(encoding="utf-8") as fh:
        places = {r["name"].removesuffix("办事处").removesuffix("街道"): r for r in csv.DictReader(fh)}
    for name in XIACHENG:
        p = Point(float(places[name]["lon"]), float(places[name]["lat"]))
        if not xiacheng.contains(p):  # pull a stray centre point just inside the block
            p = nearest_points(xiacheng.buffer(-0.0005), p)[0]
        seeds.append(p.coords[0])
    for name, cell in zip(XIACHENG, _partition(xiacheng, np.array(seeds)), strict=True):
        streets[name] = cell
    snapped = {n: _snap(g) for n, g in streets.items()}
    return _snap(outline), {n: (codes[n], snapped[n]) for n in sorted(snapped, key=lambda n: codes[n])}


def _order(cells: list[BaseGeometry]) -> list[BaseGeometry]:
    """Number cells north to south, west to east, like a reader scans a map."""
    return sorted(cells, key=lambda c: (-round(c.centroid.y, 2), c.centroid.x))


def _grade(street: str, geom: BaseGeometry) -> str:
    """A = dense commercial core (south, around 武林), C = northern outskirts, B otherwise."""
    lat = geom.centroid.y
    if street in CORE_STREETS or lat < 30.275:
        return "A"
    if street in OUTSKIRT_STREETS or lat > 30.345:
        return "C"
    return "B"


def _feature(
    code: str, name: str, level: str, parent: str | None, geom: BaseGeometry, grade: str | None = None
) -> dict[str, Any]:
    props = {"code": code, "name": name, "level": level, "parent_code": parent, "grade": grade}
    return {"type": "Feature", "properties": props, "geometry": mapping(geom)}


def generate(data: Path) -> dict[str, Any]:
    """Build the whole tree as one GeoJSON FeatureCollection (district, streets, communities, grids)."""
    rng = np.random.default_rng(SEED)
    outline, streets = build_streets(data)
    features = [_feature(DISTRICT_CODE, DISTRICT_NAME, "district", None, outline)]
    communities: list[tuple[str, str, str, BaseGeometry]] = []
    for short, (code, geom) in streets.items():
        features.append(_feature(code, f"{short}街道", "street", DISTRICT_CODE, geom))
        km2 = geom.area * KM2_PER_DEG2
        n = int(np.clip(round(5 + km2 / 2.5) + (3 if short in CORE_STREETS else 0), 6, 12))
        names = COMMUNITY_NAMES[short].split()
        cells = _order(_partition(geom, _random_points(geom, n, rng), lloyd=2))
        for i, cell in enumerate(cells, start=1):
            name = names[i - 1] if i <= len(names) else f"{short}第{i}"
            communities.append((short, f"{code}{i:03d}", f"{name}社区", _snap(cell)))
    for _short, ccode, cname, cgeom in communities:
        features.append(_feature(ccode, cname, "community", ccode[:9], cgeom))
    # Grids are denser where the city is denser: weight area by the expected grade.
    density = {"A": 4.0, "B": 2.0, "C": 1.0}
    weights = np.array([g.area * density[_grade(s, g)] for s, _, _, g in communities])
    counts = np.maximum(3, np.round(TARGET_GRIDS * weights / weights.sum())).astype(int)
    for (short, ccode, cname, cgeom), n in zip(communities, counts, strict=True):
        cells = _order(_partition(cgeom, _random_points(cgeom, int(n), rng), lloyd=1))
        for j, cell in enumerate(cells, start=1):
            geom = _snap(cell)
            if geom.is_empty:
                continue
            name = f"{cname.removesuffix('社区')}{j:02d}号网格"
            features.append(_feature(f"{ccode}{j:03d}", name, "grid", ccode, geom, _grade(short, geom)))
    return {"type": "FeatureCollection", "name": "gongshu_demo_areas", "features": features}


def write(collection: dict[str, Any], streets_csv_rows: list[tuple[str, str]], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    # Compact separators and 6-decimal coordinates keep the shipped file at a few MB.
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    (out_dir / AREAS_FILE).write_text(text + "\n", encoding="utf-8")
    with (out_dir / STREETS_FILE).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["code", "name"])
        writer.writerows(streets_csv_rows)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    data = Path(args[0]) if args else Path("../shared/data")
    out_dir = Path(args[1]) if len(args) > 1 else DATA_DIR
    collection = generate(data)
    rows = [
        (f["properties"]["code"], f["properties"]["name"])
        for f in collection["features"]
        if f["properties"]["level"] == "street"
    ]
    write(collection, rows, out_dir)
    levels: dict[str, int] = {}
    for f in collection["features"]:
        levels[f["properties"]["level"]] = levels.get(f["properties"]["level"], 0) + 1
    print(json.dumps({"written": str(out_dir / AREAS_FILE), **levels}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
