"""A benchmark world: the demo's areas, catalog, departments and accounts, no historical cases."""

from __future__ import annotations

import random
from dataclasses import dataclass

from shapely.geometry import shape
from sqlalchemy import select

from cityops.areas.models import Area
from cityops.config import Settings
from cityops.db import make_engine, make_sessionmaker, unit_of_work

CATEGORY = "06010"  # 暴露垃圾: a working-hours category that every street has a department for


@dataclass
class World:
    url: str
    points: list[tuple[float, float]]  # WGS-84 points inside grids


def build_world(url: str, n_points: int = 2000, seed: int = 7) -> World:
    from cityops.demo.loader import load_demo

    engine = make_engine(url)
    load_demo(engine, Settings(database_url=url, demo_mode=True), n_cases=0, progress=False)
    rng = random.Random(seed)
    with unit_of_work(make_sessionmaker(engine)) as session:
        grids = session.execute(select(Area.geometry).where(Area.level == "grid")).scalars().all()
    points = []
    for geometry in rng.sample(list(grids), min(n_points, len(grids))):
        p = shape(__import__("json").loads(geometry)).representative_point()
        points.append((round(p.x, 6), round(p.y, 6)))
    engine.dispose()
    return World(url=url, points=points)
