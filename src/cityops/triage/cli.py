"""``cityops triage``: train, predict and evaluate the text classifier from CSV/Excel exports."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table as RichTable

from cityops.errors import DomainError, Invalid
from cityops.triage.classifier import TextClassifier, TrainOptions
from cityops.triage.textio import Table, field_values, read_table, write_csv_atomic

app = typer.Typer(
    help="文本分类（分拨）：训练、预测、评估 / Triage text classifier: train, predict, evaluate.",
    no_args_is_help=True,
)
# soft_wrap: messages stay on one line in logs and pipes instead of being cut at 80 columns.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

INPUT = typer.Option(..., "--input", "-i", help="CSV 或 XLSX 文件，可重复 / CSV or XLSX file; repeatable")
TEXT_COLUMNS = typer.Option(
    "subject,detail", "--text-columns", help="文本列，逗号分隔 / comma-separated text columns"
)
LABEL_COLUMN = typer.Option("label", "--label-column", help="标签列 / label column")


def _friendly(func: F) -> F:
    """Turn domain errors into a bilingual message and exit code 1, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            err.print(f"[red]错误 / error:[/red] {exc.message}", highlight=False)
            raise typer.Exit(code=1) from None
        except MemoryError:
            err.print("[red]错误 / error:[/red] 内存不足 / out of memory", highlight=False)
            raise typer.Exit(code=1) from None

    return wrapper  # type: ignore[return-value]


def _columns(spec: str) -> list[str]:
    cols = [c.strip() for c in spec.split(",") if c.strip()]
    if not cols:
        raise Invalid("请至少指定一个文本列", "give at least one text column", code="no_text_columns")
    return cols


def _labelled(table: Table, text_columns: list[str], label_column: str) -> tuple[list[list[str]], list[str]]:
    label_col = table.resolve(label_column)
    records = field_values(table, text_columns)
    labels = [(row.get(label_col) or "").strip() for row in table.rows]
    return records, labels


@app.command()
@_friendly
def train(
    input: list[Path] = INPUT,
    text_columns: str = TEXT_COLUMNS,
    label_column: str = LABEL_COLUMN,
    model: Path = typer.Option(..., "--model", "-m", help="输出模型文件 / model file to write"),
    unlabelled: list[Path] = typer.Option(
        [], "--unlabelled", help="无标签文本（仅用于词频统计）/ unlabelled texts (idf statistics only)"
    ),
    corrections: list[Path] = typer.Option(
        [], "--corrections", help="派遣员更正（文本列 + 标签列）/ dispatcher corrections (same columns)"
    ),
    c: float = typer.Option(
        TrainOptions.C, "--C", help="SVM 正则化参数 / SVM regularisation C (--learner svm)"
    ),
    learner: str = typer.Option(
        TrainOptions.learner, "--learner", help="学习器 ridge（默认）或 svm / learner: ridge (default) or svm"
    ),
    alpha: float = typer.Option(
        TrainOptions.alpha, "--alpha", help="岭回归正则化强度 / ridge regularisation (--learner ridge)"
    ),
    nb_scale: float = typer.Option(
        TrainOptions.nb_scale,
        "--nb-scale",
        min=0.0,
        max=1.0,
        help="NB 特征缩放（0 = 关闭）/ NB feature scaling, 0 = off (--learner ridge)",
    ),
) -> None:
    """训练并保存模型 / Train a model on labelled files and save it."""
    cols = _columns(text_columns)
    records, labels = _labelled(read_table(input), cols, label_column)
    corr: list[tuple[list[str], str]] = []
    if corrections:
        c_records, c_labels = _labelled(read_table(corrections), cols, label_column)
        corr = list(zip(c_records, c_labels, strict=True))
    extra = field_values(read_table(unlabelled), cols) if unlabelled else []
    with out.status("训练中 / training…"):
        clf = TextClassifier.train(
            records,
            labels,
            fields=cols,
            corrections=corr,
            unlabelled=extra,
            options=TrainOptions(C=c, learner=learner, alpha=alpha, nb_scale=nb_scale),
        )
    clf.save(model)
    info = clf.info
    out.print(
        f"已保存 / saved {model}: {info['n_train']} 行 / rows, {len(clf.labels)} 类 / classes, "
        f"{info['n_corrections']} 更正 / corrections",
        highlight=False,
    )


@app.command()
@_friendly
def predict(
    model: Path = typer.Option(..., "--model", "-m", help="模型文件 / model file"),
    input: list[Path] = INPUT,
    text_columns: str = TEXT_COLUMNS,
    output: Path = typer.Option(..., "--output", "-o", help="输出 CSV / output CSV"),
    top_k: int = typer.Option(1, "--top-k", min=1, help="另写 top_k 列 / also write a top_k column"),
) -> None:
    """预测类别，写出输入各列 + predicted + confidence / Write input rows plus predicted, confidence."""
    clf = TextClassifier.load(model)
    table = read_table(input)
    records = field_values(table, _columns(text_columns))
    labels, conf = clf.predict(records)
    columns = [*table.columns, "predicted", "confidence"]
    extra: list[str] = []
    if top_k > 1:
        columns.append("top_k")
        extra = [";".join(f"{lab}:{p:.3f}" for lab, p in row) for row in clf.predict_top_k(records, top_k)]
    rows = (
        [*(row.get(col, "") for col in table.columns), lab, f"{p:.4f}", *([extra[i]] if extra else [])]
        for i, (row, lab, p) in enumerate(zip(table.rows, labels, conf, strict=True))
    )
    write_csv_atomic(output, columns, rows)
    n_empty = sum(1 for lab in labels if not lab)
    note = f"，{n_empty} 行文本为空未分类 / {n_empty} empty rows left unclassified" if n_empty else ""
    out.print(f"已写出 / wrote {output}: {len(labels)} 行 / rows{note}", highlight=False)


@app.command()
@_friendly
def evaluate(
    input: list[Path] = INPUT,
    text_columns: str = TEXT_COLUMNS,
    label_column: str = LABEL_COLUMN,
    model: Path | None = typer.Option(None, "--model", "-m", help="模型文件 / model file"),
    cv: int = typer.Option(0, "--cv", help="在输入上做 k 折分组交叉验证 / grouped k-fold CV on the input"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON / print JSON"),
) -> None:
    """打印准确率、宏平均 F1 与各类别指标 / Print accuracy, macro-F1 and the per-class table."""
    from cityops.triage.evaluate import cross_validate, score

    cols = _columns(text_columns)
    records, labels = _labelled(read_table(input), cols, label_column)
    if cv:
        with out.status(f"{cv} 折交叉验证中 / cross-validating…"):
            report = cross_validate(records, labels, fields=cols, folds=cv)
    else:
        if model is None:
            raise Invalid("请指定 --model 或 --cv", "give --model or --cv", code="no_model")
        clf = TextClassifier.load(model)
        keep = [i for i, y in enumerate(labels) if y and any(v.strip() for v in records[i])]
        if not keep:
            raise Invalid("没有带标签的非空行", "no labelled non-empty rows", code="no_rows")
        pred, _ = clf.predict([records[i] for i in keep])
        report = score([labels[i] for i in keep], pred)
    if as_json:
        out.print_json(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    table = RichTable(title=f"n={report.n}" + (f", {report.folds}-fold grouped CV" if report.folds else ""))
    for name in ("类别 / class", "precision", "recall", "F1", "support"):
        table.add_column(name, justify="left" if name.startswith("类") else "right")
    for row in report.per_class:
        table.add_row(
            row.label, f"{row.precision:.4f}", f"{row.recall:.4f}", f"{row.f1:.4f}", str(row.support)
        )
    out.print(table)
    out.print(f"accuracy {report.accuracy:.4f}   macro-F1 {report.macro_f1:.4f}", highlight=False)


def _session_scope() -> Any:
    from sqlalchemy import create_engine

    from cityops.config import get_settings
    from cityops.db import make_sessionmaker, unit_of_work

    return unit_of_work(make_sessionmaker(create_engine(get_settings().database_url)))


@app.command()
@_friendly
def retrain(
    no_history: bool = typer.Option(
        False, "--no-history", help="只用知识库与纠正 / knowledge base and corrections only"
    ),
    force: bool = typer.Option(False, help="即使不如当前版本也上线 / switch on even if worse"),
) -> None:
    """训练分派模型新版本并与当前版本比较 / Train a routing model version, compare, switch on if not worse."""
    from cityops.triage import versions

    with _session_scope() as session:
        row = versions.train_version(
            session, trigger="on_demand", include_history=not no_history, force=force
        )
        out.print_json(json.dumps(versions.version_dict(row), ensure_ascii=False))


@app.command()
@_friendly
def models() -> None:
    """分派模型各版本与提升 / Routing model versions and the gain over time."""
    from cityops.triage import versions

    with _session_scope() as session:
        out.print_json(json.dumps(versions.gain_report(session), ensure_ascii=False))


@app.command()
@_friendly
def rollback() -> None:
    """回退到上一版本 / Switch the previous routing model version back on."""
    from cityops.triage import versions

    with _session_scope() as session:
        out.print_json(json.dumps(versions.version_dict(versions.rollback(session)), ensure_ascii=False))


if __name__ == "__main__":
    app()
