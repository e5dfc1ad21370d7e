"""``cityops triage`` commands on small files: happy paths and bilingual errors (exit code 1)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityops.triage.cli import app

runner = CliRunner()

ROWS = [
    ("工厂排放废气", "空气污染严重", "环境保护"),
    ("河道污水直排", "河水发臭", "环境保护"),
    ("夜间施工噪音", "", "环境保护"),
    ("", "垃圾焚烧烟雾刺鼻", "环境保护"),
    ("公交线路调整", "很不方便", "交通运输"),
    ("出租车拒载", "乱收费", "交通运输"),
    ("红绿灯时间太短", "", "交通运输"),
    ("", "公交站台破损", "交通运输"),
]


def _write(path: Path, header: list[str], rows: list[tuple[str, ...]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture()
def trained(tmp_path: Path) -> Path:
    train = _write(tmp_path / "train.csv", ["subject", "detail", "label"], ROWS * 3)
    model = tmp_path / "topics.model"
    res = runner.invoke(
        app,
        [
            "train",
            "--input",
            str(train),
            "--text-columns",
            "subject,detail",
            "--label-column",
            "label",
            "--model",
            str(model),
        ],
    )
    assert res.exit_code == 0, res.output
    return model


def test_train_predict_evaluate(trained: Path, tmp_path: Path) -> None:
    # Chinese headers, GB18030 encoding: the aliases map subject/detail onto 留言主题/留言详情.
    src = _write(
        tmp_path / "new.csv",
        ["留言编号", "留言主题", "留言详情"],
        [("1", "废气污染", "工厂排放"), ("2", "公交拒载", ""), ("3", "", "")],
        encoding="gb18030",
    )
    out = tmp_path / "pred.csv"
    res = runner.invoke(
        app,
        [
            "predict",
            "--model",
            str(trained),
            "--input",
            str(src),
            "--text-columns",
            "subject,detail",
            "--output",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    with out.open(encoding="utf-8-sig") as fh:
        got = list(csv.DictReader(fh))
    assert [r["留言编号"] for r in got] == ["1", "2", "3"]
    assert got[0]["predicted"] == "环境保护" and got[1]["predicted"] == "交通运输"
    assert got[2]["predicted"] == "" and float(got[2]["confidence"]) == 0
    assert 0 < float(got[0]["confidence"]) <= 1

    res = runner.invoke(
        app,
        [
            "evaluate",
            "--model",
            str(trained),
            "--input",
            str(tmp_path / "train.csv"),
            "--text-columns",
            "subject,detail",
            "--label-column",
            "label",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "macro-F1" in res.output and "环境保护" in res.output


def test_several_inputs_and_xlsx(tmp_path: Path) -> None:
    import openpyxl

    a = _write(tmp_path / "subjects.csv", ["subject", "label"], [(s, y) for s, _, y in ROWS if s] * 2)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["detail", "label"])
    for _, d, y in ROWS * 2:
        if d:
            sheet.append([d, y])
    book.save(tmp_path / "details.xlsx")
    model = tmp_path / "m.model"
    res = runner.invoke(
        app,
        [
            "train",
            "-i",
            str(a),
            "-i",
            str(tmp_path / "details.xlsx"),
            "--text-columns",
            "subject,detail",
            "--model",
            str(model),
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        [
            "evaluate",
            "-i",
            str(a),
            "-i",
            str(tmp_path / "details.xlsx"),
            "--text-columns",
            "subject,detail",
            "--cv",
            "2",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "2-fold" in res.output


@pytest.mark.parametrize(
    ("header", "rows", "args", "message"),
    [
        (["subject", "label"], [("噪音", "环境保护"), ("公交", "环境保护")], [], "至少需要 2"),
        (["subject", "label"], [("噪音", "环境保护")], ["--label-column", "category_x"], "找不到列"),
        (["title", "label"], [("噪音", "环境保护")], ["--text-columns", "nosuch"], "找不到列"),
    ],
)
def test_train_errors_are_bilingual(
    tmp_path: Path, header: list[str], rows: list[tuple[str, ...]], args: list[str], message: str
) -> None:
    src = _write(tmp_path / "bad.csv", header, rows)
    model = tmp_path / "m.model"
    res = runner.invoke(app, ["train", "--input", str(src), "--model", str(model), *args])
    assert res.exit_code == 1
    assert message in res.output and "/" in res.output
    assert "Traceback" not in res.output
    assert not model.exists()


def test_predict_with_bad_model_writes_nothing(trained: Path, tmp_path: Path) -> None:
    bad = tmp_path / "old.model"
    bad.write_bytes(b"PK\x03\x04 broken")
    src = _write(tmp_path / "in.csv", ["subject"], [("噪音",)])
    out = tmp_path / "pred.csv"
    res = runner.invoke(
        app, ["predict", "-m", str(bad), "-i", str(src), "--text-columns", "subject", "-o", str(out)]
    )
    assert res.exit_code == 1 and "model" in res.output
    assert not out.exists()
    res = runner.invoke(
        app, ["predict", "-m", str(trained), "-i", str(tmp_path / "nofile.csv"), "-o", str(out)]
    )
    assert res.exit_code == 1 and "不存在" in res.output and "not found" in res.output
    assert not out.exists()
