"""Writing a program as Python source: one statement per line, each sub-expression a rule uses
twice named once, lines under 100 columns, and the module around it (imports, helpers,
constants) so that it runs with numpy alone.

Two flavours print the same program: "python" computes on plain floats with `math`, exactly as
the scalar engine does (the compiled function of a scalar graph); "numpy" computes on arrays
(tensor graphs, and scalar graphs evaluated for a whole batch of samples at once).

>>> from autodiff.compiler.expr import Expr
>>> total = Expr.name("a")
>>> for k in range(12):
...     total = total + Expr.name(f"weight_{k}") * Expr.name(f"input_{k}")
>>> for line in layout("y = ", total, "", 1, "numpy", {})[:3]:
...     print(line)
    y = (
        a
        + weight_0 * input_0
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from autodiff.compiler import helpers
from autodiff.compiler.expr import (
    BINARY,
    PRODUCT,
    SUM,
    Expr,
    _operand,
    binary,
    children,
    literal,
    method,
    render,
)
from autodiff.compiler.program import Namer, Program, Statement

WIDTH = 99  # the longest line written (ruff's limit is 100)
INDENT = "    "
INLINE_ARRAY_SIZE = 16  # constant arrays up to this size are written into the module
MAX_CHAIN = 64  # the most operators one statement chains (a + b + ...)


# --------------------------------------------------------------------------------------------
# Laying out one statement
# --------------------------------------------------------------------------------------------


def _chain(e: Expr, flavour: str, names: dict) -> tuple[Expr, list] | None:
    """A left-associated chain ``a + b - c`` (or ``a * b / c``) as its first operand and the
    (op, operand) pairs after it; None if `e` is not such a chain."""
    if e.kind != "binary" or id(e) in names:
        return None
    level = BINARY[e.parts[0]][0]
    if level not in (SUM, PRODUCT) or (e.parts[0] == "**" and flavour == "python"):
        return None
    rest = []
    while e.kind == "binary" and id(e) not in names and BINARY[e.parts[0]][0] == level:
        op, left, right = e.parts
        rest.append((op, right))
        e = left
    rest.reverse()
    return e, rest


def layout(prefix: str, e: Expr, suffix: str, depth: int, flavour: str, names: dict,
           broken: bool = False) -> list:  # fmt: skip
    """`prefix + e + suffix` as lines at `depth` indents: one line if it fits (and not
    `broken`), else the expression broken inside parentheses at its outermost operators or
    arguments."""
    pad = INDENT * depth
    one = pad + prefix + render(e, flavour, names) + suffix
    if len(one) <= WIDTH and not broken:
        return [one]
    inner = INDENT * (depth + 1)
    chain = _chain(e, flavour, names)
    if chain is not None:
        first, rest = chain
        level = BINARY[rest[0][0]][0]
        lines = [pad + prefix + "("]
        lines += _item("", first, _operand(first, flavour, names, level, False, rest[0][0]),
                       depth + 1, flavour, names)  # fmt: skip
        for op, operand in rest:
            text = _operand(operand, flavour, names, level, True, op)
            lines += _item(op + " ", operand, text, depth + 1, flavour, names)
        return lines + [pad + ")" + suffix]
    if e.kind == "call" and id(e) not in names:
        function, args, kwargs = e.parts
        from autodiff.compiler.expr import FLAVOURS, _argument

        function = FLAVOURS[flavour].get(function, function)
        lines = [pad + prefix + function + "("]
        for a in args:
            text = _argument(a, flavour, names)
            lines += _item("", a, text, depth + 1, flavour, names, ",")
        for k, v in kwargs:
            lines.append(inner + f"{k}={_argument(v, flavour, names)},")
        return lines + [pad + ")" + suffix]
    if e.kind == "select" and flavour == "python" and id(e) not in names:
        cond, a, b = e.parts
        lines = [pad + prefix + "("]
        lines += layout("", a, "", depth + 1, flavour, names)
        lines += layout("if ", cond, "", depth + 1, flavour, names)
        lines += layout("else ", b, "", depth + 1, flavour, names)
        return lines + [pad + ")" + suffix]
    return [one]  # nothing to break at: one long line


def _item(lead: str, e: Any, text: str, depth: int, flavour: str, names: dict,
          end: str = "") -> list:  # fmt: skip
    line = INDENT * depth + lead + text + end
    if len(line) <= WIDTH or not isinstance(e, Expr):
        return [line]
    if text == render(e, flavour, names):
        return layout(lead, e, end, depth, flavour, names)
    # an operand that needs its parentheses: a chain broken over lines has them already
    if _chain(e, flavour, names) is not None:
        return layout(lead, e, end, depth, flavour, names, broken=True)
    return layout(lead + "(", e, ")" + end, depth, flavour, names)


def sequence(prefix: str, items: list[str], suffix: str, depth: int, brackets: str = "()") -> list:
    """``prefix(a, b, c)suffix`` on one line, or its items filled into lines of their own."""
    pad = INDENT * depth
    open_, close = brackets
    joined = ", ".join(items)
    if len(items) == 1 and brackets == "()":
        joined += ","
    one = f"{pad}{prefix}{open_}{joined}{close}{suffix}"
    if len(one) <= WIDTH:
        return [one]
    lines = [f"{pad}{prefix}{open_}"]
    line = INDENT * (depth + 1)
    for item in items:
        piece = item + ","
        if len(line) + len(piece) + 1 > WIDTH and line.strip():
            lines.append(line.rstrip())
            line = INDENT * (depth + 1)
        line += piece + " "
    lines.append(line.rstrip())
    return lines + [f"{pad}{close}{suffix}"]


def shared_subexpressions(e: Expr) -> list[Expr]:
    """Sub-trees of `e` reached more than once (innermost first): each is computed once, into
    a temporary, as the rule computed it once."""
    counts: dict[int, int] = {}
    stack = [e]
    shared = False
    while stack:  # count how many parents each sub-tree has (names and constants aside)
        x = stack.pop()
        key = id(x)
        if key in counts:
            counts[key] += 1
            shared = True
            continue
        counts[key] = 1
        stack += [c for c in children(x) if c.kind not in _LEAVES]
    if not shared:
        return []
    post: list[Expr] = []
    seen: set[int] = set()
    walk: list[tuple[Expr, bool]] = [(e, False)]
    while walk:  # post-order: a temporary is assigned before the ones that use it
        x, done = walk.pop()
        if done:
            post.append(x)
            continue
        if id(x) in seen:
            continue
        seen.add(id(x))
        walk.append((x, True))
        walk += [(c, False) for c in reversed(children(x)) if c.kind not in _LEAVES]
    return [x for x in post if counts[id(x)] > 1]


_LEAVES = ("name", "const")


class Writer:
    """The lines of one function body."""

    def __init__(self, flavour: str, namer: Namer) -> None:
        self.flavour = flavour
        self.namer = namer
        self.lines: list[str] = []

    def comment(self, text: str) -> None:
        self.lines.append(INDENT + "# " + text)

    def line(self, text: str) -> None:
        self.lines.append(INDENT + text)

    def assign(self, target: str, expr: Expr, comment: str = "", accumulate: bool = False) -> None:
        chain = _chain(expr, self.flavour, {})
        if not accumulate and chain is not None and len(chain[1]) > MAX_CHAIN:
            # a sum of thousands of terms would be too deep for Python's parser: continue it
            # in further statements, adding in the same order (so the same bits)
            first, rest = chain
            for start in range(0, len(rest), MAX_CHAIN):
                total = first if start == 0 else Expr.name(target)
                for op, operand in rest[start : start + MAX_CHAIN]:
                    total = Expr("binary", (op, total, operand), None)
                self.assign(target, total, comment if start == 0 else "")
            return
        names: dict[int, str] = {}
        for shared in shared_subexpressions(expr):
            temp = self.namer.take("t")
            self._emit(temp, shared, "", names)
            names[id(shared)] = temp
        if accumulate:  # g = g + contribution (never +=: arrays may be shared)
            expr = Expr("binary", ("+", Expr.name(target), expr), None)
        self._emit(target, expr, comment, names)

    def _emit(self, target: str, expr: Expr, comment: str, names: dict) -> None:
        lines = layout(f"{target} = ", expr, "", 1, self.flavour, names)
        if comment:
            tail = f"  # {comment}"
            if len(lines) == 1 and len(lines[0]) + len(tail) <= WIDTH:
                lines[0] += tail
            else:
                lines.insert(0, INDENT + "# " + comment)
        self.lines += lines


# --------------------------------------------------------------------------------------------
# The function
# --------------------------------------------------------------------------------------------


def _names_in(e: Expr) -> set[str]:
    """The variables `e` reads."""
    found: set[str] = set()
    stack = [e]
    seen: set[int] = set()
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if x.kind == "name":
            found.add(x.parts[0])
        stack.extend(children(x))
    return found


def function_source(program: Program, flavour: str, batched: tuple | None = None,
                    mean: bool = False) -> str:  # fmt: skip
    """The definition of the compiled function. `batched` (scalar graphs): for each argument,
    whether it holds one value per sample (then the output and the shared arguments' gradients
    are summed over the samples, or averaged if `mean`)."""
    rec = program.recording
    namer = Namer()
    namer.taken |= set(program.names.values()) | {a.name for a in rec.arguments}
    namer.taken |= {"g_" + n for n in program.names.values()} | set(program.constants)
    writer = Writer(flavour, namer)
    arguments = rec.arguments
    params = [a.name for a in arguments]
    header = [f"def {rec.name}({', '.join(params)}):"]
    header += _docstring(program, batched, mean)

    batched_names: set[str] = set()
    if batched is not None:
        first = next(a for a, b in zip(arguments, batched) if b)
        writer.line(f"n = len({first.name})  # the number of samples")
        for argument, is_batched in zip(arguments, batched):
            if is_batched:
                batched_names.add(argument.name)
                batched_names |= set(argument.element_names)
    for argument, is_batched in zip(arguments, batched or [False] * len(arguments)):
        if argument.kind == "list":
            source = f"{argument.name}.T" if is_batched else argument.name
            plain = f"{INDENT}{', '.join(argument.element_names)} = {source}"
            if len(plain) <= WIDTH:
                writer.lines.append(plain)
            else:
                writer.lines += sequence("", argument.element_names, f" = {source}", 1, "()")

    writer.comment("forward: one line per node (v<n> is the node #<n> of trace)")
    for st in program.forward:
        writer.assign(st.target, st.expr, st.comment)
        if batched is not None and _names_in(st.expr) & batched_names:
            batched_names.add(st.target)

    value_name = program.value.parts[0]
    root_batched = value_name in batched_names
    writer.comment("backward: one line per edge, from the output back to the inputs;")
    writer.comment(f"g_<name> is d {value_name} / d <name>: upstream gradient times local partial")
    if batched is None:
        writer.assign(program.seed.target, program.seed.expr, f"d {value_name} / d {value_name}")
    elif root_batched:
        seed = "np.full(n, 1.0 / n)" if mean else "np.ones(n)"
        writer.line(f"{program.seed.target} = {seed}  # each sample's d output / d output")
    else:
        writer.line(f"{program.seed.target} = {'1.0' if mean else 'float(n)'}")
    g_batched = {"g_" + n for n in batched_names}
    fixed = FixedGradients(program) if batched is None and not rec.tensor else None
    for st in program.backward:
        expr = st.expr
        if batched is not None and st.target not in g_batched:
            expr = _summed_over_samples(st, g_batched | batched_names)
        writer.assign(st.target, expr, st.comment, st.accumulate)
        if fixed is not None:
            fixed.update(st)

    value = _value_text(program, batched, root_batched, mean)
    start = len(writer.lines)
    grads = _gradients(program, writer, batched_names, batched, fixed)
    if any(POSITIVE_ZERO in line for line in writer.lines[start:] + grads):
        writer.lines.insert(start, INDENT + "# " + POSITIVE_ZERO_WHY)
    if rec.as_tuple:
        writer.lines += sequence(f"return {value}, ", grads, "", 1)
    else:
        writer.line(f"return {value}, {grads[0]}")
    body = header + writer.lines
    return "\n".join(body) + "\n"


def _summed_over_samples(st: Statement, batched: set[str]) -> Expr:
    """An edge into a node shared by every sample (a parameter): the sum over the samples of
    upstream * partial, as one reduction (a dot product when both factors vary)."""
    upstream, partial = st.upstream, st.partial
    if upstream is None or not (_names_in(upstream) & batched):
        return st.expr  # both shared: plain numbers
    if _names_in(partial) & batched:
        return method(upstream, "dot", (partial,))  # sum of the products: one dot product
    return binary("*", method(upstream, "sum", ()), partial)


def _value_text(program: Program, batched: tuple | None, root_batched: bool, mean: bool) -> str:
    name = program.value.parts[0] if program.value.kind == "name" else None
    text = render(program.value, "numpy")
    if batched is None:
        return _owned(program.value, text) if program.recording.tensor else text
    if root_batched:
        return f"{name}.sum() / n" if mean else f"{name}.sum()"
    return text if mean else f"{text} * n"


def _owned(e: Expr, text: str) -> str:
    """`text`, copied if its array may be shared or is a numpy scalar (callers own results)."""
    v = e.value
    if not isinstance(v, np.ndarray):
        return f"np.array({text})"
    if v.base is not None or not v.flags.writeable:
        return f"{text}.copy()"
    return text


# A scalar gradient is returned plus 0.0: backward() sums the paths into a .grad that starts
# at 0.0, and a sum started at +0.0 differs from the same sum without it only where that sum is
# -0.0 (it is +0.0 then), which x + 0.0 makes +0.0 and leaves every other x as it is. So the
# compiled gradients equal backward()'s to the bit, the sign of zero included. (Tensor backward
# keeps the first product as it is, as PyTorch does: tensor programs need no such term.)
POSITIVE_ZERO = " + 0.0"
POSITIVE_ZERO_WHY = "+ 0.0 makes a gradient of -0.0 +0.0, as backward() sums into a .grad from 0.0"


class FixedGradients:
    """The scalar gradients that read no argument (``g_x3 = g_v10 * 35.0``, with g_v10 = 1.0):
    the same number on every call, computed here as the program computes it. Such a gradient
    that is not -0.0 needs no ``+ 0.0``."""

    def __init__(self, program: Program) -> None:
        self.values: dict[str, float] = {program.seed.target: 1.0}
        self.namespace = {**_python_helpers(), **program.scalar_constants}
        self.known = self.values.keys() | program.scalar_constants.keys()

    def update(self, st: Statement) -> None:
        """Note the value `st` gives its target, if it reads only fixed gradients."""
        value = None
        reads = _names_in(st.expr)
        if reads <= self.known and (not st.accumulate or st.target in self.values):
            try:
                value = eval(render(st.expr, "python"), self.namespace, dict(self.values))  # noqa: S307
            except ArithmeticError:
                value = None
        if type(value) is float and st.accumulate:
            value = self.values[st.target] + value  # g = g + expr, the same addition
        if type(value) is float:
            self.values[st.target] = value
            self.known.add(st.target)
        else:
            self.values.pop(st.target, None)
            self.known.discard(st.target)

    def never_negative_zero(self, name: str) -> bool:
        value = self.values.get(name)
        return value is not None and not (value == 0 and math.copysign(1.0, value) < 0)


_helpers_namespace: dict[str, Any] = {}


def _python_helpers() -> dict[str, Any]:
    """math and the PYTHON helpers, defined once (a partial may call one)."""
    if not _helpers_namespace:
        namespace: dict[str, Any] = {"math": math}
        for name in helpers.PYTHON:
            exec(helpers.source(name, "python"), namespace)  # noqa: S102 - our own text
        _helpers_namespace.update(namespace)
    return _helpers_namespace


def _gradients(program: Program, writer: Writer, batched_names: set, batched: tuple | None,
               fixed: FixedGradients | None = None) -> list:  # fmt: skip
    """The gradient of each differentiated argument as source, in argnums order; a scalar one
    (not batched) plus 0.0 where it may be -0.0 (see `POSITIVE_ZERO`)."""
    rec = program.recording

    def plus(name: str) -> str:
        return "" if fixed is None or fixed.never_negative_zero(name) else POSITIVE_ZERO

    items = []
    returned: list[np.ndarray] = []
    for position in rec.argnums:
        argument = rec.arguments[position]
        is_batched = batched is not None and batched[position]
        grads = [program.gradients[id(node)] for node in argument.nodes]
        if argument.kind == "list":
            texts = [g.parts[0] + plus(g.parts[0]) if g is not None else _zero(is_batched)
                     for g in grads]  # fmt: skip
            target = "g_" + argument.name  # kept free for it by the namer
            if batched is None:
                writer.lines += sequence(f"{target} = ", texts, "", 1, "[]")
            elif is_batched:
                writer.lines += sequence(f"{target} = np.stack(", texts, ", axis=1)", 1, "[]")
            else:
                writer.lines += sequence(f"{target} = np.array(", texts, ")", 1, "[]")
            items.append(target)
            continue
        g = grads[0]
        if g is None:
            items.append(_zero_like(argument, is_batched))
            continue
        text = g.parts[0] + plus(g.parts[0])
        if rec.tensor:
            text = _tensor_gradient(g, text, argument, returned)
        items.append(text)
    return items


def _zero(is_batched: bool) -> str:
    return "np.zeros(n)" if is_batched else "0.0"


def _zero_like(argument: Any, is_batched: bool) -> str:
    if argument.kind == "array":
        return f"np.zeros({literal(argument.shape)}, {literal(np.dtype(argument.dtype))})"
    return _zero(is_batched)


def _tensor_gradient(g: Expr, text: str, argument: Any, returned: list) -> str:
    v = g.value
    dtype = np.dtype(argument.dtype)
    if not isinstance(v, np.ndarray):
        return f"np.array({text}, {literal(dtype)})"
    if v.dtype != dtype:
        return f"{text}.astype({literal(dtype)})"
    aliased = v.base is not None or not v.flags.writeable
    aliased = aliased or any(np.shares_memory(v, r) for r in returned)
    aliased = aliased or np.shares_memory(v, argument.nodes[0].data)
    returned.append(v)
    return f"{text}.copy()" if aliased else text


def _docstring(program: Program, batched: tuple | None, mean: bool) -> list[str]:
    rec = program.recording
    wrt = ", ".join(rec.arguments[i].name for i in rec.argnums)
    lines = [f"The value of {rec.name} and its gradient with respect to {wrt}."]
    if batched is not None:
        shared = [a.name for a, b in zip(rec.arguments, batched) if not b]
        per_sample = [a.name for a, b in zip(rec.arguments, batched) if b]
        how = "averaged" if mean else "summed"
        lines.append(
            f"One sample per row of {', '.join(per_sample)}; the value and the gradients of "
            f"{', '.join(shared) or 'no argument'} are {how} over the samples."
        )
    text = " ".join(lines)
    words = text.split()
    out: list[str] = []
    line = INDENT + '"""'
    for word in words:
        if len(line) + len(word) + 1 > WIDTH - 3:
            out.append(line.rstrip())
            line = INDENT
        line += word + " "
    out.append(line.rstrip() + ('"""' if len(out) == 0 else "\n" + INDENT + '"""'))
    return out


# --------------------------------------------------------------------------------------------
# The module
# --------------------------------------------------------------------------------------------


def module_source(program: Program, flavour: str, function_text: str, npz_name: str | None,
                  description: str) -> tuple[str, dict]:  # fmt: skip
    """The whole module: docstring, imports, helpers, constants, the function. Returns the
    text and the arrays too large to write inline (for an .npz beside the module)."""
    used = set(re.findall(r"(?<![.\w])([a-z_][a-z0-9_]*)\(", function_text))
    helper_names = helpers.with_needs(
        [h for h in (helpers.PYTHON if flavour == "python" else helpers.NUMPY) if h in used],
        flavour,
    )
    helper_text = "\n\n".join(helpers.source(h, flavour) for h in helper_names)
    inline: list[str] = []
    stored: dict[str, np.ndarray] = {}
    constants = dict(program.constants)
    constants.update(program.uses_ones)
    for name, value in program.scalar_constants.items():
        inline.append(f"{name} = {literal(value, flavour)}")
    for name, array in constants.items():
        if name in program.uses_ones:
            n, dtype = array.shape[0], array.dtype
            args = f"{n}" if dtype == np.float64 else f"{n}, {literal(dtype)}"
            inline.append(f"{name} = np.ones({args})  # ones @ g sums g's rows")
        elif array.size <= INLINE_ARRAY_SIZE:
            order = memory_order(array)
            if order is None:
                inline += _array_literal(name, array)
            else:  # its axes in memory order, turned back (see memory_order)
                back = f".transpose({literal(_inverse(order))})"
                inline += _array_literal(name, laid_out(array), back)
        else:
            stored[name] = array
    body = "\n".join([helper_text, "\n".join(inline), function_text])
    needs_math = "math." in body
    needs_np = "np." in body or bool(stored)
    imports = []
    if needs_math:
        imports.append("import math")
    if stored and npz_name is not None:
        imports.append("import os")
    if needs_np:
        imports.append(("\n" if imports else "") + "import numpy as np")
    text = f'"""{description}"""\n'
    if imports:
        text += "\n" + "\n".join(imports) + "\n"
    if helper_text:
        text += "\n\n" + helper_text
    constant_lines = []
    if stored and npz_name is not None:  # (None: run in-process, the arrays given directly)
        constant_lines.append(
            f"# arrays too large to write here are in {npz_name}, beside this file"
        )
        constant_lines.append(
            f'with np.load(os.path.join(os.path.dirname(__file__), "{npz_name}")) as _arrays:'
        )
        for name, array in stored.items():
            order = memory_order(array)
            back = "" if order is None else f".transpose({literal(_inverse(order))})"
            constant_lines.append(f'    {name} = _arrays["{name}"]{back}')
    constant_lines += inline
    if constant_lines:  # after imports one blank line, after a function two (as ruff wants)
        text += ("\n\n" if helper_text else "\n") + "\n".join(constant_lines) + "\n"
    text += "\n\n" + function_text
    return text, stored


def memory_order(array: np.ndarray) -> tuple | None:
    """The axes of `array` from the slowest-varying in memory to the fastest, if that is not
    their own order (a transposed view, such as ``W.T``); else None. A constant is written in
    that order and transposed back, so that it has the layout the traced array had: numpy
    lays out an elementwise result like its operands, and a sum over it adds in that order."""
    if array.ndim < 2:
        return None
    order = tuple(sorted(range(array.ndim), key=lambda axis: -abs(array.strides[axis])))
    if order == tuple(range(array.ndim)):
        return None
    kept = [axis for axis in order if array.shape[axis] > 1]
    if kept == sorted(kept):  # only size-1 axes out of place: C order all the same
        return None
    return order


def laid_out(array: np.ndarray) -> np.ndarray:
    """`array`'s elements in memory order (see `memory_order`), as a C-contiguous array."""
    order = memory_order(array)
    return array if order is None else np.ascontiguousarray(array.transpose(order))


def _inverse(order: tuple) -> tuple:
    return tuple(int(i) for i in np.argsort(order))


def _array_literal(name: str, array: np.ndarray, suffix: str = "") -> list[str]:
    """``name = np.array([[...], [...]], dtype)``: one row per line when it does not fit one."""

    def text(a: np.ndarray) -> str:
        if a.ndim == 0:
            return literal(float(a)) if a.dtype.kind == "f" else repr(a.item())
        return "[" + ", ".join(text(row) for row in a) + "]"

    dtype = literal(array.dtype)
    if array.ndim <= 1:
        items = [text(v) for v in array]
    else:
        items = [text(row) for row in array]
    return sequence(f"{name} = np.array(", items, f", {dtype}){suffix}", 0, "[]")
