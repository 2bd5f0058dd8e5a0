"""Safe arithmetic expressions as `Value` graphs: ``5*x1**2 + 8*x2 + 35*x3 + 30``.

The text is parsed with `ast` and every node is checked against a whitelist: numbers, variable
names, ``+ - * / **``, unary minus and plus, parentheses, and calls to the engine's functions
(`FUNCTIONS`). Nothing is ever passed to ``eval`` or ``exec``. Any other construct, an unknown
name, a missing value or a domain error (``log(-1)``, ``1/0``) raises `ExpressionError`, whose
message says what went wrong and at which column.

>>> from autodiff.expression import evaluate
>>> y, inputs = evaluate("5*x1**2 + 8*x2 + 35*x3 + 30", {"x1": 2, "x2": 1, "x3": 4})
>>> y.data
198.0
>>> y.backward()
>>> [inputs[name].grad for name in ("x1", "x2", "x3")]
[20.0, 8.0, 35.0]

Each variable is one `Value` (labelled with its name) however often it appears, so ``x*x`` has
two edges to x; every intermediate node is labelled with the text it was computed from.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Callable, Mapping

from autodiff.value import Value

# name -> (function on Values, number of Value arguments, number of extra constant arguments)
FUNCTIONS: dict[str, tuple[Callable[..., Value], int, int]] = {
    "exp": (Value.exp, 1, 0),
    "log": (Value.log, 1, 0),
    "tanh": (Value.tanh, 1, 0),
    "sigmoid": (Value.sigmoid, 1, 0),
    "relu": (Value.relu, 1, 0),
    "leaky_relu": (Value.leaky_relu, 1, 1),  # leaky_relu(x) or leaky_relu(x, 0.01)
}
"""The functions an expression may call."""

_BINARY = {
    ast.Add: ("+", lambda a, b: a + b),
    ast.Sub: ("-", lambda a, b: a - b),
    ast.Mult: ("*", lambda a, b: a * b),
    ast.Div: ("/", lambda a, b: a / b),
    ast.Pow: ("**", lambda a, b: a**b),
}
_HINTS = {  # operators people try, and what to write instead
    ast.BitXor: "'^' is not a power here; write x**2",
    ast.FloorDiv: "'//' is not allowed; use '/'",
    ast.Mod: "'%' is not allowed",
    ast.MatMult: "'@' is not allowed",
}
ALLOWED = "numbers, variables, + - * / **, parentheses and " + ", ".join(
    f"{name}()" for name in FUNCTIONS
)


class ExpressionError(ValueError):
    """Bad expression text or values; ``str()`` is one line naming the problem and the column.

    ``column`` is 1-based (characters, not bytes), or None when the problem has no place in
    the text (e.g. a value given for a variable the expression does not use).
    """

    def __init__(self, message: str, column: int | None = None, line: int = 1) -> None:
        message = " ".join(message.split())  # one line, whatever text it quotes
        self.message = message
        self.column = column
        self.line = line
        where = ""
        if column is not None:
            where = f"column {column}: " if line == 1 else f"line {line}, column {column}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression: its text, tree and variable names (in order of first use).

    >>> parse("x * y + x").variables
    ('x', 'y')
    """

    text: str
    tree: ast.Expression
    variables: tuple[str, ...]
    lead: int = 0  # spaces removed from the front of line 1 (the parser refuses them)

    def build(self, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
        """The output `Value` and the input `Value` of each variable, at `values`."""
        return _build(self, values)


def _column(text: str, node: ast.AST, lead: int) -> tuple[int, int]:
    """1-based (column, line) of `node`: ast offsets count UTF-8 bytes, people count characters."""
    line = getattr(node, "lineno", 1)
    offset = getattr(node, "col_offset", 0)
    lines = text.split("\n")
    source_line = lines[line - 1] if 0 < line <= len(lines) else ""
    prefix = source_line.encode("utf-8")[:offset].decode("utf-8", "replace")
    return len(prefix) + 1 + (lead if line == 1 else 0), line


def _error(text: str, node: ast.AST, message: str, lead: int = 0) -> ExpressionError:
    column, line = _column(text, node, lead)
    return ExpressionError(message, column, line)


def _segment(text: str, node: ast.AST, limit: int = 60) -> str:
    """The text `node` was parsed from, on one line, cut to `limit` characters (cheaply: a long
    sum has as many nodes as terms, and each would otherwise copy most of the text)."""
    line, end_line = getattr(node, "lineno", 1), getattr(node, "end_lineno", None)
    if line == end_line:
        raw = text.split("\n")[line - 1].encode("utf-8")
        start, end = node.col_offset, node.end_col_offset
        segment = raw[start : min(end, start + 4 * limit)].decode("utf-8", "ignore")
    else:
        segment = ast.get_source_segment(text, node) or ""
    segment = " ".join(segment.split())
    return segment if len(segment) <= limit else segment[: limit - 3] + "..."


def parse(text: str) -> Expression:
    """Parse and check `text`; raises `ExpressionError` (what and where) if it is not allowed.

    >>> parse("2 ** x.real")
    Traceback (most recent call last):
    ...
    autodiff.expression.ExpressionError: column 6: attribute access 'x.real' is not allowed
    """
    if not isinstance(text, str):
        raise TypeError(f"parse: expected the expression as a str, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    source = text.lstrip(" \t\f")  # the parser refuses leading spaces ("unexpected indent")
    lead = len(text) - len(source)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        message = (error.msg or "invalid syntax").split(" (")[0]
        if error.offset is None:
            raise ExpressionError(message) from None
        line = error.lineno or 1
        offset = error.offset
        if offset < 1:  # the parser ran out of text: say so, at the end of it
            lines = source.split("\n")
            line = min(line, len(lines))
            offset = len(lines[line - 1].rstrip()) + 1
            message = f"the expression ends too early ({message})"
        raise ExpressionError(message, offset + (lead if line == 1 else 0), line) from None
    except (ValueError, MemoryError, RecursionError, OverflowError):
        # the parser gives up on absurd nesting (MemoryError) or bytes it cannot read
        raise ExpressionError("the expression is nested too deeply or cannot be read") from None
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    try:
        for node in ast.walk(tree):  # breadth first, iterative: no recursion on deep nesting
            if id(node) not in called:  # a called name is checked with its call
                _check(source, node)
    except ExpressionError as error:
        if error.line == 1 and error.column is not None:
            raise ExpressionError(error.message, error.column + lead) from None
        raise
    # ast.walk is breadth first; variables read better in the order they appear in the text
    names = sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called),
        key=lambda n: (n.lineno, n.col_offset),
    )
    ordered = dict.fromkeys(n.id for n in names)
    return Expression(source, tree, tuple(ordered), lead)


def _check(text: str, node: ast.AST) -> None:
    if isinstance(node, (ast.Expression, ast.Load, ast.operator, ast.unaryop)):
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            hint = _HINTS.get(type(node.op), f"operator {type(node.op).__name__} is not allowed")
            raise _error(text, node, f"{hint} (allowed: {ALLOWED})")
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _error(text, node, f"unary operator is not allowed (allowed: {ALLOWED})")
        return
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _error(text, node, f"{value!r} is not a number (allowed: {ALLOWED})")
        return
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise _error(text, node, f"{node.id} is a function: call it, e.g. {node.id}(x)")
        return
    if isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name):
            raise _error(text, node, f"only calls of {', '.join(FUNCTIONS)} are allowed")
        spec = FUNCTIONS.get(func.id)
        if spec is None:
            raise _error(
                text, func, f"unknown function {func.id!r} (allowed: {', '.join(FUNCTIONS)})"
            )
        if node.keywords:
            raise _error(text, node.keywords[0], f"{func.id}() takes no keyword arguments")
        _, n_values, n_constants = spec
        if not n_values <= len(node.args) <= n_values + n_constants:
            expected = str(n_values) if not n_constants else f"{n_values} or {n_values + 1}"
            raise _error(
                text, node, f"{func.id}() takes {expected} argument(s), got {len(node.args)}"
            )
        for arg in node.args[n_values:]:
            if _constant_number(arg) is None:
                raise _error(text, arg, f"{func.id}(): the extra argument must be a number")
        return
    if isinstance(node, ast.Attribute):
        segment = _segment(text, node)
        raise _error(text, node, f"attribute access {segment!r} is not allowed")
    what = {
        ast.Subscript: "indexing",
        ast.Compare: "comparison",
        ast.BoolOp: "and/or",
        ast.Lambda: "lambda",
        ast.IfExp: "if/else",
        ast.Starred: "'*' unpacking",
        ast.keyword: "keyword arguments",
    }.get(type(node), type(node).__name__)
    raise _error(text, node, f"{what} is not allowed (allowed: {ALLOWED})")


def _constant_number(node: ast.AST) -> float | None:
    """The number a constant argument spells (``0.01``, ``-0.2``), or None."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        if not isinstance(node.value, bool):
            return sign * float(node.value)
    return None


def _build(expr: Expression, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
    text = expr.text
    inputs: dict[str, Value] = {}
    for name in expr.variables:
        if name not in values:
            first = next(n for n in ast.walk(expr.tree) if isinstance(n, ast.Name) and n.id == name)
            raise _error(
                text, first, f"no value for {name} (give one, e.g. --at {name}=1)", expr.lead
            )
        inputs[name] = Value(values[name], label=name)
    # Post-order walk with an explicit stack: each node is built after its operands, without
    # recursion, so deeply nested input cannot exhaust Python's stack.
    results: dict[int, Value] = {}
    stack: list[tuple[ast.AST, bool]] = [(expr.tree.body, False)]
    while stack:
        node, ready = stack.pop()
        children = _operands(node)
        if not ready:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(children))
            continue
        args = [results[id(c)] for c in children]
        try:
            results[id(node)] = _apply(text, node, args, inputs)
        except (ValueError, ZeroDivisionError, OverflowError, TypeError) as error:
            # domain errors of the ops (log(-1), 1/0), placed where they happened
            where = _segment(text, node)
            raise _error(text, node, f"{error} (in {where})", expr.lead) from None
    return results[id(expr.tree.body)], inputs


def _operands(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [] if _constant_number(node) is not None else [node.operand]
    if isinstance(node, ast.Call):
        return node.args[: FUNCTIONS[node.func.id][1]]
    return []


def _apply(text: str, node: ast.AST, args: list[Value], inputs: dict[str, Value]) -> Value:
    if isinstance(node, ast.Name):
        return inputs[node.id]
    if isinstance(node, ast.Constant):
        try:
            return Value(float(node.value))
        except OverflowError:
            raise ValueError("number too large for a float") from None
    if isinstance(node, ast.UnaryOp):
        constant = _constant_number(node)
        if constant is not None:  # -3 is the number -3, not neg(3)
            return Value(constant)
        if isinstance(node.op, ast.UAdd):
            return args[0]
        out = -args[0]
    elif isinstance(node, ast.BinOp):
        left, right = args
        if isinstance(node.op, ast.Pow) and not _has_variables(node.right):
            out = left**right.data  # x**2: a constant exponent, one edge (as micrograd)
        else:
            out = _BINARY[type(node.op)][1](left, right)
    else:  # a call, checked by `parse`
        function, n_values, _ = FUNCTIONS[node.func.id]
        extra = [_constant_number(a) for a in node.args[n_values:]]
        out = function(*args, *extra)
    # name the node by the text it came from, so drawings and traces read like the input
    out.label = _segment(text, node)
    return out


def _has_variables(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) for n in ast.walk(node))


def evaluate(text: str, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
    """Parse `text` and build its graph at `values`: (output, {variable name: input Value}).

    >>> y, x = evaluate("x*x", {"x": 3})
    >>> y.data, len(y._prev)
    (9.0, 2)
    """
    expr = parse(text)
    unknown = [name for name in values if name not in expr.variables]
    if unknown:
        raise ExpressionError(
            f"{', '.join(unknown)} not used in the expression (its variables: "
            f"{', '.join(expr.variables) or 'none'})"
        )
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExpressionError(f"the value of {name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ExpressionError(f"the value of {name} must be finite, got {value!r}")
    return expr.build(values)


__all__ = ["ALLOWED", "FUNCTIONS", "Expression", "ExpressionError", "evaluate", "parse"]
