"""Safe arithmetic expressions as `Value` graphs: ``5*x1**2 + 8*x2 + 35*x3 + 30``.

The text is read by a small parser of its own that knows exactly what is allowed: numbers,
variable names, ``+ - * / **``, unary minus and plus, parentheses, and calls to the engine's
functions (`FUNCTIONS`), with Python's precedence (``-x**2`` is ``-(x**2)``, ``2**-1`` is
``0.5``, ``**`` groups to the right). Nothing is ever passed to ``eval`` or ``exec``. Anything
else, an unknown name, a missing value or a domain error (``log(-1)``, ``1/0``) raises
`ExpressionError`, whose message says what went wrong and at which line and column.

Parsing takes time linear in the text and uses no recursion, so a megabyte-long sum or ten
thousand nested parentheses parse as easily as ``x + 1``.

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

import difflib
import keyword
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Mapping, NamedTuple

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

ALLOWED = "numbers, variables, + - * / **, parentheses and " + ", ".join(
    f"{name}()" for name in FUNCTIONS
)

_BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
}
# binding strength of the binary operators; a sign binds between '*' and '**'
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "**": 4}
# pending prefixes on the operator stack: (kind, symbol, binding strength), then the offset
_PREFIX = {"(": ("(", "(", -1), "-": ("neg", "-", 3), "+": ("pos", "+", 3)}

_HINTS = {  # what people write, and what to write instead
    "^": "'^' is not a power here; write x**2",
    "//": "'//' is not allowed; use '/'",
    "%": "'%' is not allowed",
    "@": "'@' is not allowed",
    "=": "'=' is not allowed (give values with --at, e.g. --at x=1)",
    "×": "'×' is not an operator here; write '*'",
    "·": "'·' is not an operator here; write '*'",
    "÷": "'÷' is not an operator here; write '/'",
    "−": "'−' (a typographic minus) is not an operator here; write '-'",
    "²": "'²' is not allowed; write x**2",
    "³": "'³' is not allowed; write x**3",
    "#": "'#' (a comment) is not allowed",
}
_KEYWORD_WHAT = {
    "if": "if/else",
    "else": "if/else",
    "and": "and/or",
    "or": "and/or",
    "not": "'not'",
    "lambda": "lambda",
    "for": "a comprehension",
    "in": "'in'",
    "is": "comparison",
}
_CONSTANTS = ("True", "False", "None")
_RESERVED = frozenset(keyword.kwlist)  # includes True, False and None
_ALIASES = {"ln": "log", "e": "exp", "logistic": "sigmoid", "ReLU": "relu"}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>[rRbBuUfF]{0,2}(?:'[^'\n]*'?|"[^"\n]*"?))
  | (?P<number>
        0[xX](?:_?[0-9a-fA-F])+ | 0[oO](?:_?[0-7])+ | 0[bB](?:_?[01])+
      | (?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)* | \d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?[jJ]?
    )
  | (?P<name>[^\W\d][\w\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]*)
  | (?P<op>\*\*|//|<<|>>|<=|>=|==|!=|:=|->|[-+*/%@^&|~<>=(),.\[\]{}:;!])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


class ExpressionError(ValueError):
    """Bad expression text or values; ``str()`` is one line naming the problem and the place.

    ``line`` and ``column`` are 1-based and count characters (not bytes; a tab is one
    column); ``column`` is None when the problem has no place in the text (e.g. a value given
    for a variable the expression does not use).
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


class Node(NamedTuple):
    """One node of a parsed expression.

    `op` is 'number', 'name', 'call', 'neg' or a binary operator (``+ - * / **``); `start` and
    `end` are the character offsets of the text it was read from (parentheses around it
    excluded); `value` is the number, the variable's name or the called function's name;
    `constant` says that no variable occurs in it.
    """

    op: str
    start: int
    end: int
    args: tuple = ()  # the operands, Nodes
    value: float | str | None = None
    constant: bool = True


@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression: its text, tree and variable names (in order of first use).

    >>> parse("x * y + x").variables
    ('x', 'y')
    """

    text: str
    tree: Node
    variables: tuple[str, ...]
    first_use: dict[str, int] = field(default_factory=dict, repr=False)  # name -> offset
    nodes: list[Node] = field(default_factory=list, repr=False)  # post-order: operands first

    def build(self, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
        """The output `Value` and the input `Value` of each variable, at `values`."""
        return _build(self, values)


# --------------------------------------------------------------------------------------------
# Places in the text
# --------------------------------------------------------------------------------------------


def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of character `offset` in `text`, counting characters.

    >>> position("x +\\n  é", 6)
    (2, 3)
    """
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _error(text: str, offset: int, message: str) -> ExpressionError:
    line, column = position(text, offset)
    return ExpressionError(message, column, line)


def _segment(text: str, start: int, end: int, limit: int = 60) -> str:
    """The text from `start` to `end` on one line, cut to `limit` characters. Cheaply: a long
    sum has as many nodes as terms, and each spans most of the text."""
    cut = end > start + limit + 8
    segment = text[start : start + limit + 8 if cut else end]
    if "  " in segment or not segment.isprintable():  # newlines, tabs, runs of spaces
        segment = " ".join(segment.split())
    if cut or len(segment) > limit:
        return segment[: limit - 3].rstrip() + "..."
    return segment


def _shown(token: str, limit: int = 20) -> str:
    return token if len(token) <= limit else token[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# Parsing: tokens, then operator precedence with explicit stacks (no recursion)
# --------------------------------------------------------------------------------------------


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, offset) of every token, whitespace left out, then ('end', '', len)."""
    tokens = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind != "space":
            tokens.append((kind, match.group(), match.start()))
    tokens.append(("end", "", len(text)))
    return tokens


def _number(text: str, token: str, offset: int) -> float:
    """The float a number literal spells, with Python's rules (1e400 is inf, 007 an error)."""
    if token[-1] in "jJ":
        raise _error(text, offset, f"{token} is not a number (complex numbers are not allowed)")
    decimal_int = token.isdigit() or ("_" in token and token.replace("_", "").isdigit())
    if decimal_int and len(token) > 1 and token[0] == "0" and token.strip("0_"):
        raise _error(text, offset, f"{token}: leading zeros are not allowed in a number")
    if token[:2].lower() in ("0x", "0o", "0b"):
        value = int(token, 0)
        if value.bit_length() > 1024:
            raise _error(text, offset, f"{_shown(token)} is too large for a float")
        return float(value)
    value = float(token)
    if decimal_int and math.isinf(value):  # as float(10**400): an error, where 1e400 is inf
        raise _error(text, offset, f"{_shown(token)} is too large for a float")
    return value


class _Parser:
    """Shunting-yard over the tokens: operands on `out` as (node, outer start, outer end),
    where the outer span includes parentheses; pending operators, '(' and calls on `ops`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.out: list[tuple[Node, int, int]] = []
        # (kind, symbol, binding strength, offset): ('op', '*', 2, 5), ('neg', '-', 3, 0),
        # ('(', '(', -1, 3), and ('call', name, -1, offset, [number of commas so far])
        self.ops: list[tuple] = []
        self.first_use: dict[str, int] = {}
        self.nodes: list[Node] = []  # every node of the tree, each after its operands

    def error(self, offset: int, message: str) -> ExpressionError:
        return _error(self.text, offset, message)

    def parse(self) -> Node:
        # One loop over the tokens, the common cases inline: this is the hot path of a
        # megabyte-long expression.
        tokens, out, ops, nodes = self.tokens, self.out, self.ops, self.nodes
        first_use, text, precedence = self.first_use, self.text, _PRECEDENCE
        i = 0
        while True:
            # an operand, after any prefixes: '(', a sign, a function's name and '('
            kind, token, offset = tokens[i]
            end = offset + len(token)
            if kind == "number":
                node = Node("number", offset, end, (), _number(text, token, offset))
            elif kind == "name":
                name = token if token.isascii() else self.name(i)
                if tokens[i + 1][1] == "(" and tokens[i + 1][0] == "op":
                    self.call(i, name)
                    i += 2
                    continue
                if name in FUNCTIONS or name in _RESERVED:
                    self.check_name(name, offset)
                if name not in first_use:
                    first_use[name] = offset
                node = Node("name", offset, end, (), name, False)
            elif kind == "op" and token in ("(", "-", "+"):
                ops.append(_PREFIX[token] + (offset,))
                i += 1
                continue
            else:
                raise self.before_operand(i)
            nodes.append(node)
            out.append((node, offset, end))
            i += 1
            # then operators and ')', up to one that needs an operand after it
            while True:
                kind, token, offset = tokens[i]
                if kind != "op":
                    if kind == "end":
                        return self.finish()
                    raise self.after_operand(i)
                bind = precedence.get(token)
                i += 1
                if bind is not None:
                    self.reduce(bind, token == "**")
                    ops.append(("op", token, bind, offset))
                    break
                if token == ")":
                    self.close(offset)
                elif token == ",":
                    self.comma(offset)
                    break
                else:
                    raise self.after_operand(i - 1)

    def finish(self) -> Node:
        self.reduce(0)
        if self.ops:  # an unclosed '(' or call
            entry = self.ops[-1]
            what = f"{entry[1]}(" if entry[0] == "call" else "("
            raise self.error(entry[3], f"'{what}' is never closed (add ')')")
        ((node, _, _),) = self.out
        return node

    # --- operands -----------------------------------------------------------------------------

    def name(self, i: int) -> str:
        """A non-ASCII name, checked and normalised as Python reads identifiers (NFKC)."""
        _, token, offset = self.tokens[i]
        if not token.isidentifier():  # \w also matches '²' and other digits and letters
            k = next(k for k in range(len(token)) if not ("a" + token[: k + 1]).isidentifier())
            raise self.unexpected(i, "a name", offset + k, token[k])
        return unicodedata.normalize("NFKC", token)

    def check_name(self, name: str, offset: int) -> None:
        if name in FUNCTIONS:
            raise self.error(offset, f"{name} is a function: call it, e.g. {name}(x)")
        if name in _CONSTANTS:
            raise self.error(offset, f"{name} is not a number (allowed: {ALLOWED})")
        if keyword.iskeyword(name):
            what = _KEYWORD_WHAT.get(name, f"'{name}'")
            raise self.error(offset, f"{what} is not allowed (allowed: {ALLOWED})")

    def call(self, i: int, name: str) -> None:
        offset = self.tokens[i][2]
        if name not in FUNCTIONS:
            self.check_name(name, offset)
            message = f"unknown function {name!r} (allowed: {', '.join(FUNCTIONS)})"
            close = _ALIASES.get(name) or next(
                iter(difflib.get_close_matches(name.lower(), FUNCTIONS, n=1, cutoff=0.75)), None
            )
            if close:
                message += f"; did you mean {close}?"
            elif len(name) == 1 or name in self.first_use:  # x(1 + y): a variable, then '*'
                message += f"; did you mean {name}*{self.group_text(i + 1)}?"
            raise self.error(offset, message)
        self.ops.append(("call", name, -1, offset, [0]))

    def group_text(self, i: int) -> str:
        """The text of the operand starting at token `i`: a name or number, a call or a
        parenthesised group up to its ')', cut short."""
        kind, token, offset = self.tokens[i]
        j, depth = i, 0
        while True:
            k, t, _ = self.tokens[j]
            if k == "end":
                break
            if k == "op" and t == "(":
                depth += 1
            elif k == "op" and t == ")":
                depth -= 1
            if depth <= 0 and not (k == "name" and self.tokens[j + 1][1] == "("):
                break
            j += 1
        end_kind, end_token, end_offset = self.tokens[j]
        end = end_offset + len(end_token) if end_kind != "end" else len(self.text)
        return _shown(" ".join(self.text[offset:end].split()))

    # --- operators ----------------------------------------------------------------------------

    def reduce(self, precedence: int, right: bool = False) -> None:
        """Apply the pending operators that bind at least as tightly as one of `precedence`
        (more tightly, for the right-grouping '**')."""
        ops, out = self.ops, self.out
        while ops:
            entry = ops[-1]
            bind = entry[2]  # '(' and calls have -1: they stop the reduction
            if bind < precedence or (right and bind == precedence):
                return
            ops.pop()
            kind = entry[0]
            if kind == "op":
                right_operand, _, right_end = out.pop()
                left, left_start, _ = out.pop()
                node = Node(entry[1], left_start, right_end, (left, right_operand),
                            constant=left.constant and right_operand.constant)  # fmt: skip
                self.nodes.append(node)
                out.append((node, left_start, right_end))
                continue
            operand, _, end = out.pop()
            start = entry[3]
            if kind == "pos":  # +x is x itself
                node = operand
            elif operand.op == "number":  # -3 is the number -3, not neg(3)
                # the operand is the newest node, so it is last in post-order: replace it
                node = self.nodes[-1] = Node("number", start, end, value=-operand.value)
            else:
                node = Node("neg", start, end, (operand,), constant=operand.constant)
                self.nodes.append(node)
            out.append((node, start, end))

    def close(self, offset: int) -> None:
        self.reduce(0)
        if not self.ops:
            raise self.error(offset, "')' has no matching '('")
        entry = self.ops.pop()
        if entry[0] == "(":
            node, _, _ = self.out.pop()
            self.out.append((node, entry[3], offset + 1))  # the group spans its parentheses
            return
        self.finish_call(entry, offset)

    def comma(self, offset: int) -> None:
        self.reduce(0)
        if not self.ops or self.ops[-1][0] != "call":
            raise self.error(offset, f"',' only separates a function's arguments (allowed: "
                                     f"{ALLOWED})")  # fmt: skip
        self.ops[-1][4][0] += 1

    def finish_call(self, entry: tuple, offset: int) -> None:
        _, name, _, start, count = entry
        n_args = count[0] + 1
        _, n_values, n_constants = FUNCTIONS[name]
        if not n_values <= n_args <= n_values + n_constants:
            expected = str(n_values) if not n_constants else f"{n_values} or {n_values + 1}"
            raise self.error(start, f"{name}() takes {expected} argument(s), got {n_args}")
        args = self.out[-n_args:]
        del self.out[-n_args:]
        for node, arg_start, _ in args[n_values:]:
            if node.op != "number":
                raise self.error(arg_start, f"{name}(): the extra argument must be a number")
        nodes = tuple(node for node, _, _ in args)
        constant = all(node.constant for node in nodes)
        call = Node("call", start, offset + 1, nodes, value=name, constant=constant)
        self.nodes.append(call)
        self.out.append((call, start, offset + 1))

    # --- errors -------------------------------------------------------------------------------

    def before_operand(self, i: int) -> ExpressionError:
        kind, token, offset = self.tokens[i]
        previous = self.tokens[i - 1] if i else None
        if kind == "end":
            line_start = self.text.rfind("\n", 0, offset) + 1
            end = line_start + len(self.text[line_start:].rstrip())
            if previous is None:
                return ExpressionError("the expression is empty")
            message = f"the expression ends too early (after {previous[1]!r})"
            return self.error(max(end, line_start), message)
        if kind == "op" and token == ")":
            if previous and previous[1] == "(" and self.ops and self.ops[-1][0] == "call":
                name = self.ops[-1][1]
                n_values = FUNCTIONS[name][1]
                return self.error(self.ops[-1][3], f"{name}() takes {n_values} argument(s), "
                                                    "got 0")  # fmt: skip
            if previous and previous[1] == "(":
                return self.error(previous[2], f"'()' is not allowed (allowed: {ALLOWED})")
        return self.unexpected(i, "a number, a variable or '('")

    def after_operand(self, i: int) -> ExpressionError:
        kind, token, offset = self.tokens[i]
        previous_kind, previous, previous_offset = self.tokens[i - 1]
        _, start, end = self.out[-1]
        if kind == "op" and token == "." and self.tokens[i + 1][0] == "name":
            name = self.tokens[i + 1]
            segment = _segment(self.text, start, name[2] + len(name[1]))
            return self.error(start, f"attribute access {segment!r} is not allowed")
        if kind == "op" and token == "[":
            return self.error(offset, f"indexing is not allowed (allowed: {ALLOWED})")
        if kind == "op" and token == "=" and any(e[0] == "call" for e in self.ops):
            name = next(e[1] for e in reversed(self.ops) if e[0] == "call")
            return self.error(offset, f"{name}() takes no keyword arguments")
        if kind == "op" and token in ("<", ">", "<=", ">=", "==", "!="):
            return self.error(offset, f"comparison is not allowed (allowed: {ALLOWED})")
        is_keyword = kind == "name" and (keyword.iskeyword(token) or token in _CONSTANTS)
        if (kind in ("number", "name") or (kind == "op" and token == "(")) and not is_keyword:
            # two operands in a row: '5x1', '2 x', '2(x + 1)', '(a)(b)'
            touching = offset == previous_offset + len(previous) and previous_kind == "number"
            if touching and (kind == "number" or token.startswith("_")):
                return self.error(previous_offset, f"{_shown(previous + token)} is not a number")
            left = _shown(" ".join(self.text[start:end].split()))
            right = self.group_text(i)
            return self.error(offset, f"missing operator: did you mean {left}*{right}?")
        return self.unexpected(i, "an operator (+ - * / **), ')' or the end")

    def unexpected(
        self, i: int, expected: str, offset: int | None = None, token: str | None = None
    ) -> ExpressionError:
        kind, whole, start = self.tokens[i]
        if token is not None:  # one character inside the token
            kind = "other"
        offset = start if offset is None else offset
        token = whole if token is None else token
        if token in _HINTS:
            return self.error(offset, f"{_HINTS[token]} (allowed: {ALLOWED})")
        if kind == "string":
            return self.error(offset, f"{_shown(token)} is not a number (allowed: {ALLOWED})")
        if kind == "name" and (keyword.iskeyword(token) or token in _CONSTANTS):
            what = _KEYWORD_WHAT.get(token, f"'{token}'")
            return self.error(offset, f"{what} is not allowed (allowed: {ALLOWED})")
        if kind == "op" and token == "[":
            return self.error(offset, f"a list is not allowed (allowed: {ALLOWED})")
        if kind == "op" and token in "{}":
            return self.error(offset, f"a set or dict is not allowed (allowed: {ALLOWED})")
        if kind == "op" and token == ")":
            return self.error(offset, "')' has no matching '('" if not self.ops
                              else f"expected {expected} before ')'")  # fmt: skip
        shown = repr(token) if kind != "other" or token.isprintable() else ascii(token)
        return self.error(offset, f"unexpected {shown}: expected {expected} (allowed: {ALLOWED})")


def parse(text: str) -> Expression:
    """Parse and check `text`; raises `ExpressionError` (what and where) if it is not allowed.

    >>> parse("2 ** x.real")
    Traceback (most recent call last):
    ...
    autodiff.expression.ExpressionError: column 6: attribute access 'x.real' is not allowed
    >>> parse("5x1 + 2")
    Traceback (most recent call last):
    ...
    autodiff.expression.ExpressionError: column 2: missing operator: did you mean 5*x1?
    """
    if not isinstance(text, str):
        raise TypeError(f"parse: expected the expression as a str, got {type(text).__name__}")
    if not text.strip():
        raise ExpressionError("the expression is empty")
    parser = _Parser(text)
    tree = parser.parse()
    return Expression(text, tree, tuple(parser.first_use), parser.first_use, parser.nodes)


# --------------------------------------------------------------------------------------------
# Building the graph
# --------------------------------------------------------------------------------------------


def _build(expr: Expression, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
    text = expr.text
    inputs: dict[str, Value] = {}
    for name in expr.variables:
        if name not in values:
            offset = expr.first_use.get(name, 0)
            raise _error(text, offset, f"no value for {name} (give one, e.g. --at {name}=1)")
        inputs[name] = Value(values[name], label=name)
    # The nodes in post-order, each built from the last results on a stack: no recursion, so
    # deeply nested input cannot exhaust Python's stack, and no lookups, so it is linear.
    nodes = expr.nodes or _post_order(expr.tree)
    stack: list[Value] = []
    for node in nodes:
        n_args = len(node.args)
        args = stack[-n_args:] if n_args else []
        try:
            out = _apply(text, node, args, inputs)
        except (ValueError, ZeroDivisionError, OverflowError, TypeError) as error:
            # domain errors of the ops (log(-1), 1/0), placed where they happened
            where = _segment(text, node.start, node.end)
            raise _error(text, node.start, f"{_describe(error)} (in {where})") from None
        if n_args:
            del stack[-n_args:]
        stack.append(out)
    return stack[-1], inputs


def _post_order(tree: Node) -> list[Node]:
    """The nodes of `tree`, each after its operands (an explicit stack, no recursion)."""
    order: list[Node] = []
    stack: list[tuple[Node, bool]] = [(tree, False)]
    while stack:
        node, ready = stack.pop()
        if ready:
            order.append(node)
        else:
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.args))
    return order


def _describe(error: Exception) -> str:
    """The error in words: an OverflowError's str() can be an errno tuple, '(34, ...)'."""
    if isinstance(error, OverflowError):
        return "overflow: the result is too large for a float"
    return str(error) or type(error).__name__


def _apply(text: str, node: Node, args: list[Value], inputs: dict[str, Value]) -> Value:
    op = node.op
    if op == "name":
        return inputs[node.value]
    if op == "number":
        return Value(node.value)
    if op == "neg":
        out = -args[0]
    elif op == "call":
        function, n_values, _ = FUNCTIONS[node.value]
        extra = [a.value for a in node.args[n_values:]]
        out = function(*args[:n_values], *extra)
    elif op == "**" and node.args[1].constant:
        out = args[0] ** args[1].data  # x**2: a constant exponent, one edge (as micrograd)
    else:
        out = _BINARY[op](args[0], args[1])
    # name the node by the text it came from, so drawings and traces read like the input
    out.label = _segment(text, node.start, node.end)
    return out


def evaluate(text: str, values: Mapping[str, float]) -> tuple[Value, dict[str, Value]]:
    """Parse `text` and build its graph at `values`: (output, {variable name: input Value}).

    >>> y, x = evaluate("x*x", {"x": 3})
    >>> y.data, len(y._prev)
    (9.0, 2)
    """
    expr = parse(text)
    used = set(expr.variables)
    unknown = [name for name in values if name not in used]
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


__all__ = [
    "ALLOWED",
    "FUNCTIONS",
    "Expression",
    "ExpressionError",
    "Node",
    "evaluate",
    "parse",
    "position",
]
