"""Routing into the 250 matter codes on the written evaluation set (benchmarks/data/routing_eval.csv).

    .venv/bin/python benchmarks/bench_routing.py [--demo-cases 5000]

Models, all measured in this run on the same 338 reports (none of them trained on):

* ``kb`` — the knowledge-base router with no labelled history (a district's day one);
* ``kb+demo`` — the same with the demo's generated case history (``--demo-cases`` cases);
* baselines: ``seed`` — the fresh-demo classifier of before (category names + written examples,
  threshold 0.8), and ``seed+demo`` — the in-app model trained on the same demo history
  (``CharNgramClassifier``, threshold 0.8), as ``train_catalog_classifier`` did before.

Figures: top-1 (the first suggestion is one of the report's acceptable codes; for a report
with no problem in it, the model must say so), top-3, share dispatched automatically (the gate's
category-level decision: p ≥ the category's threshold; no-problem answers never dispatch) and
the precision of what was dispatched. Speed: one report (p50, p99) and batches on one core,
against the seed classifier. One JSON line per figure.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import REPO, emit

EVAL = REPO / "benchmarks" / "data" / "routing_eval.csv"
NONE = "__none__"


def load_eval() -> list[dict[str, Any]]:
    with EVAL.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["ok"] = {r["code"], *[a for a in r["acceptable"].split(";") if a]}
    return rows


def demo_history(n: int) -> list[tuple[str, str]]:
    """(description, category) of ``n`` generated demo cases, loaded into a scratch SQLite file."""
    from cityops.cases import service as cases
    from cityops.config import Settings
    from cityops.db import make_engine, make_sessionmaker, unit_of_work
    from cityops.demo.loader import load_demo
    from cityops.migrate import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="cityops-bench-routing-"))
    engine = make_engine(f"sqlite:///{tmp / 'demo.db'}")
    upgrade(engine)
    load_demo(engine, Settings(demo_mode=True, storage_dir=tmp / "files"), n_cases=n, progress=False)
    with unit_of_work(make_sessionmaker(engine)) as session:
        rows = list(cases.labelled_descriptions(session))
    engine.dispose()
    return rows


def evaluate(name: str, model: Any, rows: list[dict[str, Any]], threshold_for: Any) -> dict[str, float]:
    texts = [r["text"] for r in rows]
    tops = model.predict_top_k(texts, 4)
    top1 = top3 = auto = auto_ok = 0
    for r, top in zip(rows, tops, strict=True):
        codes = [c for c, _ in top]
        problem = [c for c in codes if c != NONE][:3]
        first = codes[0]
        top1 += first in r["ok"]
        top3 += (first == NONE and NONE in r["ok"]) or any(c in r["ok"] for c in problem)
        p = top[0][1]
        if first != NONE and p >= threshold_for(first):
            auto += 1
            auto_ok += first in r["ok"]
    n = len(rows)
    return {
        "top1": top1 / n,
        "top3": top3 / n,
        "auto_share": auto / n,
        "auto_precision": auto_ok / auto if auto else 0.0,
        "auto_n": auto,
    }


def speed(model: Any, texts: list[str]) -> dict[str, float]:
    """Wall and CPU time (one thread): on a machine shared with other work the wall figures drop
    while the CPU figures say what one core does."""
    one, one_cpu = [], []
    for t in texts[:300]:
        s, c = time.perf_counter(), time.thread_time()
        model.predict_top_k([t], 3)
        one.append(time.perf_counter() - s)
        one_cpu.append(time.thread_time() - c)
    batch = texts * 30
    s, c = time.perf_counter(), time.thread_time()
    for i in range(0, len(batch), 1000):
        model.predict_top_k(batch[i : i + 1000], 3)
    rate = len(batch) / (time.perf_counter() - s)
    cpu_rate = len(batch) / (time.thread_time() - c)
    return {
        "cpu_per_s": cpu_rate,
        "cpu_p50_ms": statistics.median(one_cpu) * 1000,
        "cpu_p99_ms": float(np.percentile(one_cpu, 99)) * 1000,
        "p50_ms": statistics.median(one) * 1000,
        "p99_ms": float(np.percentile(one, 99)) * 1000,
        "per_s": rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--demo-cases", type=int, default=5000)
    args = parser.parse_args()
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core, as the figures promise
    from cityops.catalog.limits import directory
    from cityops.triage import kb_model
    from cityops.triage.knowledge import shipped
    from cityops.triage.routing import CharNgramClassifier, SeedClassifier, seed_rows

    rows = load_eval()
    cats = [(e.code, e.name) for e in directory() if e.kind == "event"]
    results: dict[str, dict[str, float]] = {}
    seed = SeedClassifier.from_catalog(cats)
    results["seed"] = evaluate("seed", seed, rows, lambda _c: 0.8)
    started = time.perf_counter()
    kb = kb_model.build(shipped())
    kb_seconds = time.perf_counter() - started
    results["kb"] = evaluate("kb", kb, rows, kb.threshold_for)
    history = demo_history(args.demo_cases) if args.demo_cases > 0 else []
    if history:
        kbh = kb_model.build(shipped(), history)
        results["kb+demo"] = evaluate("kb+demo", kbh, rows, kbh.threshold_for)
        extra = [(ex, code) for code, _, ex in seed_rows()] + [(name, code) for code, name, _ in seed_rows()]
        old = CharNgramClassifier.train(
            [t for t, _ in history] + [t for t, _ in extra] * 3,
            [c for _, c in history] + [c for _, c in extra] * 3,
        )
        results["seed+demo"] = evaluate("seed+demo", old, rows, lambda _c: 0.8)
    n = len(rows)
    for figure, unit in (
        ("top1", "share"),
        ("top3", "share"),
        ("auto_share", "share"),
        ("auto_precision", "share"),
    ):
        emit(
            f"routing_{figure}_kb_only",
            results["kb"][figure],
            unit,
            baseline="seed classifier (fresh demo before)",
            baseline_value=results["seed"][figure],
            reports=n,
            auto_n=results["kb"]["auto_n"],
        )
        if history:
            emit(
                f"routing_{figure}_kb_with_demo_history",
                results["kb+demo"][figure],
                unit,
                baseline=f"CharNgramClassifier on the same {len(history)} demo cases (before)",
                baseline_value=results["seed+demo"][figure],
                reports=n,
                auto_n=results["kb+demo"]["auto_n"],
            )
    texts = [r["text"] for r in rows]
    fast, base = speed(kb, texts), speed(seed, texts)
    emit(
        "routing_one_report_p50",
        fast["p50_ms"],
        "ms",
        baseline="seed classifier",
        baseline_value=base["p50_ms"],
    )
    emit(
        "routing_one_report_p99",
        fast["p99_ms"],
        "ms",
        baseline="seed classifier",
        baseline_value=base["p99_ms"],
    )
    emit(
        "routing_batch_throughput",
        fast["per_s"],
        "reports/s",
        baseline="seed classifier",
        baseline_value=base["per_s"],
        load_average=os.getloadavg()[0],
    )
    for name in ("cpu_per_s", "cpu_p50_ms", "cpu_p99_ms"):
        emit(
            f"routing_{name}",
            fast[name],
            "reports per CPU-second" if name == "cpu_per_s" else "ms of CPU",
            baseline="seed classifier",
            baseline_value=base[name],
        )
    emit("routing_kb_model_build", kb_seconds, "s", baseline="none", baseline_value=0.0)


if __name__ == "__main__":
    main()
