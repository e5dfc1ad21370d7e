"""A small safe expression language for indicator definitions.

A definition is arithmetic over named aggregates, e.g. ``closed / due * 100`` or
``cases('09006') + cases('09005')``. It is parsed with Python's :mod:`ast` and only these nodes
are allowed: numbers, names from the known set, ``+ - * /``, unary minus, parentheses, and calls
of the functions in :data:`FUNCTIONS` with string or number arguments. Nothing is ever passed
to ``eval``; the tree is walked by :func:`evaluate` itself.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cityops.errors import Invalid

MAX_LENGTH = 500
_BINOPS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
# Functions a definition may call: name → (argument kinds, what it means).
FUNCTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "cases": (("str",), "filed cases of a category (code or code prefix) in the area and period"),
    "figure": (("str",), "an imported figure (average over the period's days) in the area"),
    "telemetry": (("str",), "a telemetry roll-up of intake's sensors in the area"),
    "min": (("num", "num"), "the smaller of two values"),
    "max": (("num", "num"), "the larger of two values"),
}


class NoData(Exception):
    """A value the definition needs is missing (or a divisor is zero): the result is "no data"."""


@dataclass(frozen=True)
class Parsed:
    source: str
    tree: ast.Expression
    names: frozenset[str]
    calls: frozenset[tuple[str, str]]  # (function, string argument)


def _error(source: str, zh: str, en: str, node: ast.AST | None = None, **details: object) -> Invalid:
    col = getattr(node, "col_offset", None)
    where = f"（第 {col + 1} 个字符）" if col is not None else ""
    where_en = f" (at character {col + 1})" if col is not None else ""
    return Invalid(
        f"指标公式有误{where}：{zh}",
        f"the formula is wrong{where_en}: {en}",
        code="invalid_formula",
        details={
            "field": "definition",
            "formula": source,
            **({"column": col + 1} if col is not None else {}),
            **details,
        },
    )


def parse(source: str, known: frozenset[str] | set[str]) -> Parsed:
    """Check ``source`` and return its tree; ``Invalid`` names the first problem and where it is."""
    text = (source or "").strip()
    if not text:
        raise _error(text, "公式为空", "the formula is empty")
    if len(text) > MAX_LENGTH:
        raise _error(
            text, f"公式超过 {MAX_LENGTH} 个字符", f"the formula is longer than {MAX_LENGTH} characters"
        )
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise _error(
            text, f"语法错误（第 {exc.offset} 个字符）", f"syntax error at character {exc.offset}"
        ) from None
    names: set[str] = set()
    calls: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expression | ast.Load | ast.operator | ast.unaryop):
            if isinstance(node, ast.operator) and type(node) not in _BINOPS:
                raise _error(text, "只允许 + - * / 运算", "only + - * / are allowed")
            if isinstance(node, ast.unaryop) and not isinstance(node, ast.USub | ast.UAdd):
                raise _error(text, "只允许负号", "only unary minus is allowed")
            continue
        if isinstance(node, ast.BinOp):
            if (
                isinstance(node.op, ast.Div)
                and isinstance(node.right, ast.Constant)
                and node.right.value == 0
            ):
                raise _error(text, "除数为零", "division by zero", node.right)
            continue
        if isinstance(node, ast.UnaryOp):
            continue
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, int | float | str):
                raise _error(text, "只允许数字和字符串常量", "only numbers and strings are allowed", node)
            continue
        if isinstance(node, ast.Name):
            if node.id not in known and node.id not in FUNCTIONS:
                raise _error(
                    text,
                    f"未知字段 {node.id!r}",
                    f"unknown field {node.id!r}",
                    node,
                    unknown=node.id,
                    known=sorted(known),
                )
            names.add(node.id)
            continue
        if isinstance(node, ast.Call):
            calls.add(_check_call(text, node))
            continue
        raise _error(
            text, f"不允许的写法 {type(node).__name__}", f"{type(node).__name__} is not allowed", node
        )
    names -= set(FUNCTIONS)
    return Parsed(text, tree, frozenset(names), frozenset(calls))


def _check_call(text: str, node: ast.Call) -> tuple[str, str]:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        raise _error(
            text, f"只能调用 {'、'.join(FUNCTIONS)}", f"only {', '.join(FUNCTIONS)} may be called", node
        )
    kinds, _ = FUNCTIONS[node.func.id]
    if node.keywords or len(node.args) != len(kinds):
        raise _error(
            text,
            f"{node.func.id} 需要 {len(kinds)} 个参数",
            f"{node.func.id} takes {len(kinds)} argument(s)",
            node,
        )
    if kinds == ("str",):
        arg = node.args[0]
        if not isinstance(arg, ast.Constant) or not isinstance(arg.value, str) or not arg.value.strip():
            raise _error(
                text, f"{node.func.id} 的参数必须是引号里的名称", f"{node.func.id} takes a quoted name", node
            )
        return node.func.id, arg.value.strip()
    return node.func.id, ""


Resolver = Callable[[str, str], float | None]


def evaluate(parsed: Parsed, values: Mapping[str, float | None], call: Resolver) -> float:
    """The value of ``parsed`` given named ``values`` and ``call(function, name)`` for the lookups.

    Raises :class:`NoData` when a needed value is missing or a divisor is zero.
    """

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float):
                raise NoData("a string is not a number")
            return float(node.value)
        if isinstance(node, ast.Name):
            value = values.get(node.id)
            if value is None:
                raise NoData(node.id)
            return float(value)
        if isinstance(node, ast.UnaryOp):
            inner = walk(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise NoData("division by zero")
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            fn = node.func.id
            if fn in ("min", "max"):
                a, b = walk(node.args[0]), walk(node.args[1])
                return min(a, b) if fn == "min" else max(a, b)
            arg = node.args[0]
            assert isinstance(arg, ast.Constant)
            found = call(fn, str(arg.value).strip())
            if found is None:
                raise NoData(f"{fn}({arg.value!r})")
            return float(found)
        raise NoData(type(node).__name__)  # unreachable: parse() allows nothing else

    return walk(parsed.tree)
