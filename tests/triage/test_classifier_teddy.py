"""The classifier on the real teddy2020 hotline files (skips when ../shared/data is absent).

Small subsamples keep these tests fast; the full figures come from benchmarks/bench_classifier.py.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityops.triage import TextClassifier, TrainOptions
from cityops.triage.cli import app
from cityops.triage.evaluate import score

pytestmark = pytest.mark.shared_data


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_unseen_messages_are_classified_well(shared_data: Path) -> None:
    teddy = shared_data / "teddy2020"
    msgs = _read(teddy / "messages_train.csv")
    test = msgs[:300]
    seen = {"".join(m["subject"].split()) for m in test} | {"".join(m["detail"].split()) for m in test}
    subjects = [r for r in _read(teddy / "subjects_train.csv") if "".join(r["subject"].split()) not in seen]
    details = [r for r in _read(teddy / "details_train.csv") if "".join(r["detail"].split()) not in seen]
    texts = [(r["subject"], "") for r in subjects[:2500]] + [("", r["detail"]) for r in details[:1500]]
    labels = [r["label"] for r in subjects[:2500]] + [r["label"] for r in details[:1500]]
    model = TextClassifier.train(
        texts, labels, fields=("subject", "detail"), options=TrainOptions(calibration_folds=0)
    )
    pred, conf = model.predict([(m["subject"], m["detail"]) for m in test])
    report = score([m["label"] for m in test], pred)
    assert ((conf > 0) & (conf <= 1)).all()
    assert len(report.per_class) == 7
    # Trained on a fifth of the data without full messages; the full model scores ~0.92.
    assert report.macro_f1 > 0.80
    assert report.accuracy > 0.82


def test_cli_reads_the_files_as_exported(shared_data: Path, tmp_path: Path) -> None:
    teddy = shared_data / "teddy2020"

    def head(name: str, n: int) -> Path:
        lines = (teddy / name).read_text(encoding="utf-8").splitlines(keepends=True)
        # Cut at a record boundary: the Chinese-header files have quoted multi-line fields.
        rows = list(csv.reader(lines))
        out = tmp_path / name
        with out.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows(rows[: n + 1])
        return out

    model = tmp_path / "topics.model"
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "train",
            "-i",
            str(head("subjects_train.csv", 800)),
            "-i",
            str(head("details_train.csv", 200)),
            "-i",
            str(head("messages_train.csv", 200)),
            "--text-columns",
            "subject,detail",
            "--label-column",
            "label",
            "--model",
            str(model),
        ],
    )
    assert res.exit_code == 0, res.output
    for name in (
        "unlabelled_test_messages.csv",
        "hot_issue_messages_attachment3.csv",
        "replies_attachment4.csv",
    ):
        out = tmp_path / f"pred-{name}"
        res = runner.invoke(
            app,
            [
                "predict",
                "--model",
                str(model),
                "--input",
                str(head(name, 50)),
                "--text-columns",
                "subject,detail",
                "--output",
                str(out),
            ],
        )
        assert res.exit_code == 0, res.output
        got = _read(out)
        assert len(got) == 50 and all(r["predicted"] for r in got)
        assert "留言主题" in got[0]
