"""Every notification topic emitted anywhere has a Chinese and an English title (issue 8 item 23).

The topics are collected from the source: the topic argument of every ``tell``/``notify``/
``enqueue`` call that is a string constant, plus the ``TOPICS`` constant of any module that
passes a topic computed at run time. A call whose topic is neither fails the test, so a new
topic cannot slip past it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from cityops.outbox.service import TITLES, title_for

SRC = Path(__file__).resolve().parents[2] / "src" / "cityops"
CALLS = {"tell": 0, "notify": 1, "enqueue": 1}  # function name → index of the topic argument
CJK = re.compile(r"[\u4e00-\u9fff]")


def _params(func: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    args = func.args
    return {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}


def _module_topics(tree: ast.Module) -> set[str]:
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == "TOPICS" for t in targets) and node.value is not None:
            value = ast.literal_eval(node.value)
            return set(value.values() if isinstance(value, dict) else value)
    return set()


def emitted_topics() -> set[str]:
    topics: set[str] = set()
    unresolved: list[str] = []
    for path in SRC.rglob("*.py"):
        if "outbox" in path.parts:
            continue  # the outbox's own plumbing passes topics through
        tree = ast.parse(path.read_text(encoding="utf-8"))
        declared = _module_topics(tree)
        topics |= declared
        for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            for call in [n for n in ast.walk(func) if isinstance(n, ast.Call)]:
                name = getattr(call.func, "attr", None) or getattr(call.func, "id", None)
                if name not in CALLS or len(call.args) <= CALLS[name]:
                    continue
                arg = call.args[CALLS[name]]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    topics.add(arg.value)
                elif isinstance(arg, ast.Name) and arg.id in _params(func):
                    continue  # a pass-through helper (Act.tell → notify)
                elif not declared:
                    unresolved.append(f"{path.relative_to(SRC)}:{call.lineno}")
    assert not unresolved, f"topics computed at run time without a module TOPICS constant: {unresolved}"
    return topics


def test_every_emitted_topic_has_a_bilingual_title() -> None:
    topics = emitted_topics()
    assert {"case.dispatched", "case.parked", "case.extension_requested", "case.overdue"} <= topics
    assert len(topics) >= 17
    missing = sorted(t for t in topics if t not in TITLES)
    assert not missing, f"no title for {missing}"
    for topic in topics:
        zh, sep, en = TITLES[topic].partition(" / ")
        assert sep and CJK.search(zh) and re.search(r"[A-Za-z]{3}", en), topic
        assert topic not in TITLES[topic]


def test_an_unknown_topic_never_shows_raw() -> None:
    title = title_for("case.something_new")
    assert title != "case.something_new" and CJK.search(title) and " / " in title
