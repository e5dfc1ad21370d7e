"""The import-areas command: one transaction, progress, bilingual error and exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from cityops.areas import service
from cityops.areas.cli import app
from cityops.db import make_sessionmaker


def test_import_and_load_demo_commands(areas_engine: Engine, tmp_path: Path) -> None:
    engine = areas_engine
    url = engine.url.render_as_string(hide_password=False)
    ring = [[120.1, 30.3], [120.2, 30.3], [120.2, 30.4], [120.1, 30.3]]
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "330105", "name": "拱墅区"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    path = tmp_path / "district.geojson"
    path.write_text(json.dumps(fc), encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(app, ["import-areas", str(path), "--level", "district", "--database-url", url])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(app, ["import-areas", str(path), "--level", "grid", "--database-url", url])
    assert bad.exit_code == 1 and "15 digits" in bad.output
    demo = runner.invoke(app, ["load-demo-areas", "--database-url", url])
    assert demo.exit_code == 0, demo.output
    with make_sessionmaker(engine)() as session:
        assert len(service.list_areas(session, level="street")) == 18
