"""From a recorded graph to a program: forward statements, then one backward edge per line.

Forward: one statement per node that depends on an argument, in topological order, its
expression from the op's forward (`FORWARD_SCALAR`, `FORWARD_TENSOR`). Nodes that depend on no
argument are constants of the program.

Backward: the nodes in reverse topological order, as `autodiff.graph.backpropagate` visits
them; for each edge into a node that depends on a differentiated argument, the op's own rule
(`PARTIAL_RULES` for scalars, `VJP_RULES` for tensors) is run on symbolic operands (`Expr`),
giving the edge's contribution ``upstream * partial`` as source. Contributions are summed into
a node in the order the driver sums them, so the program computes the same numbers, to the bit.

>>> from autodiff.compiler.expr import render
>>> from autodiff.compiler.trace import record
>>> program = build(record(lambda x: (x * x).tanh(), (0.5,), None))
>>> [(s.target, render(s.expr, "python")) for s in program.forward]
[('v1', 'x * x'), ('v2', 'math.tanh(v1)')]
>>> [(s.target, render(s.expr, "python"), s.accumulate) for s in program.backward]
[('g_v1', 'g_v2 * (1.0 - v2 * v2)', False), ('g_x', 'g_v1 * x', False), ('g_x', 'g_v1 * x', True)]
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from autodiff.compiler import helpers
from autodiff.compiler.expr import (
    ConstantArrays,
    Expr,
    SymbolicBranchError,
    _Index,
    _lift_index,
    binary,
    call,
    collecting,
    lift,
    method,
)
from autodiff.compiler.trace import Argument, Recording
from autodiff.graph import topological_order
from autodiff.naming import identifier
from autodiff.tensor import VJP_RULES, _ones_vector
from autodiff.tensor_ops import activations
from autodiff.tensor_ops import einsum as einsum_ops
from autodiff.tensor_ops import losses as losses_ops
from autodiff.tensor_ops import shape as shape_ops
from autodiff.value import PARTIAL_RULES

# Names generated code uses for its own purposes; no variable may take them.
RESERVED = frozenset(
    ["np", "math", "os", "n", "float", "len", "range", "_arrays", "complement"]
    + list(helpers.PYTHON) + list(helpers.NUMPY) + list(helpers.INTERNAL_NAMES)
)  # fmt: skip


@dataclass
class Statement:
    """``target = expr``; backward statements also keep the edge's two factors (scalars) so
    a batched program can sum them over the batch."""

    target: str
    expr: Expr
    comment: str
    accumulate: bool = False  # target = target + expr
    upstream: Expr | None = None  # scalar edges: expr is upstream * partial
    partial: Expr | None = None
    node: Any = None  # forward: the node computed; backward: the node receiving gradient


@dataclass
class Program:
    """Everything the source writer needs, independent of how it prints."""

    recording: Recording
    names: dict  # id(node) -> variable name
    forward: list[Statement]
    seed: Statement
    backward: list[Statement]
    gradients: dict  # id(argument leaf) -> Expr of its gradient (None: it gets none)
    value: Expr  # the output
    constants: dict  # name -> ndarray, for module-level constants
    scalar_constants: dict  # name -> float, labelled scalar constants
    uses_ones: dict = field(default_factory=dict)  # name -> ones vector
    order: list = field(default_factory=list)  # the nodes (`_order`)
    read: set = field(default_factory=set)  # ids of argument arrays an op reads as a constant


class Namer:
    """Unique Python names for one generated function."""

    def __init__(self) -> None:
        self.taken: set[str] = set(RESERVED)

    def take(self, name: str) -> str:
        base, k = name, 2
        while name in self.taken or name.startswith("g_") and name[2:] in self.taken:
            name = f"{base}_{k}"
            k += 1
        self.taken.add(name)
        self.taken.add("g_" + name)
        return name


def _op_label(node: Any) -> str:
    """The op as the drawing and the trace label it: a constant exponent or slope shown."""
    op, ctx = node._op, node._ctx
    if op == "**" and isinstance(ctx, (int, float)):
        return f"** {_number(ctx)}"
    if op == "leaky_relu" and isinstance(ctx, (int, float)):
        return f"leaky_relu({_number(ctx)})"
    return op


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


# --------------------------------------------------------------------------------------------
# Forward expressions: how each op's result reads as source
# --------------------------------------------------------------------------------------------


def _dot(ins: list, n: int) -> Expr:
    total = ins[2 * n]  # ((b + w0 x0) + w1 x1) + ...: micrograd's order, as Value.dot sums
    for w, x in zip(ins[:n], ins[n : 2 * n]):
        total = binary("+", total, binary("*", w, x))
    return total


def _sum(ins: list) -> Expr:
    total: Any = Expr.const(0.0)  # Value.sum starts from 0.0, so -0.0 + 0.0 stays 0.0
    for x in ins:
        total = Expr("binary", ("+", total, x), None)
    return total


def _divide(a: Expr, b: Expr) -> Expr:
    """a / b; through the helper that refuses b = 0 (as Value does) unless b is a constant,
    which is not 0 (Value refused it when the graph was recorded)."""
    return a / b if b.kind == "const" else call("divide", (a, b), {})


FORWARD_SCALAR = {
    "+": lambda ins, ctx: ins[0] + ins[1],
    "-": lambda ins, ctx: ins[0] - ins[1],
    "*": lambda ins, ctx: ins[0] * ins[1],
    "/": lambda ins, ctx: _divide(ins[0], ins[1]),
    "neg": lambda ins, ctx: -ins[0],
    "**": lambda ins, ctx: call("power", (ins[0], Expr.const(ctx)), {}),  # refuses as Value
    "pow": lambda ins, ctx: call("pow_value", (ins[0], ins[1]), {}),  # refuses as Value
    "exp": lambda ins, ctx: call("exp", (ins[0],), {}),
    "log": lambda ins, ctx: call("log", (ins[0],), {}),
    "tanh": lambda ins, ctx: call("tanh", (ins[0],), {}),
    "sigmoid": lambda ins, ctx: call("sigmoid", (ins[0],), {}),
    "relu": lambda ins, ctx: (ins[0] <= 0).select(0.0, ins[0]),  # nan stays nan
    "leaky_relu": lambda ins, ctx: (ins[0] > 0).select(ins[0], ctx * ins[0]),
    "dot": lambda ins, ctx: _dot(ins, ctx),
    "sum": lambda ins, ctx: _sum(ins),
}
"""Scalar op -> its result as an expression of its inputs (as `Value` computes it)."""


def _keepdims(node: Any) -> bool:
    return node.data.ndim == node._prev[0].data.ndim and node.data.ndim > 0


def _reduction(node: Any, x: Expr, name: str, axes: Any, **extra: Any) -> Expr:
    options: dict = {}
    if axes is not None:
        options["axis"] = axes[0] if len(axes) == 1 else tuple(axes)
    if _keepdims(node):
        options["keepdims"] = True
    options.update(extra)
    return method(x, name, (), options)


def _mean(node: Any, x: Expr, axes: Any) -> Expr:
    total = _reduction(node, x, "sum", axes)
    return binary("/", total, node._prev[0].data.size // max(node.data.size, 1))


def _var(node: Any, x: Expr, ctx: tuple) -> Expr:
    axes, ddof = ctx
    return _reduction(node, x, "var", axes, **({"ddof": ddof} if ddof else {}))


def _linear(ins: list) -> Expr:
    # np.dot with the transposed weight, as the op computes it (BLAS reads the view)
    product = _np("dot", ins[0], ins[1].T)
    return product if len(ins) == 2 else binary("+", product, ins[2])


def _np(name: str, *args: Any, **kwargs: Any) -> Expr:
    return call(f"np.{name}", args, kwargs, getattr(np, name))


class _Saving(threading.local):
    """The node whose forward is being written, where its intermediate values go (`save`)."""

    builder: Any = None


_saving = _Saving()


def save(suffix: str, expr: Expr, array: Any = None) -> Expr:
    """A value an op's forward computes on the way and its rule reads again (softmax's
    exponentials, gelu's Phi(x)): a statement of its own, ``v3_exp = ...``, named after the
    node. `array` is that value as the op saved it in its ctx: the rule's use of it then reads
    the variable, not a constant frozen at the traced values."""
    return _saving.builder.save(suffix, expr, array)


def _softplus(x: Expr, ctx: tuple) -> Expr:
    beta, threshold = ctx
    scaled = x * beta if beta != 1 else x
    soft = _np("logaddexp", 0, scaled)
    if beta != 1:
        soft = soft / beta
    return _np("where", scaled > threshold, x, soft)


def _gelu(x: Expr, ctx: tuple) -> Expr:
    approximate, cdf = ctx
    if approximate == "tanh":
        inner = _np("tanh", (x + x * x * x * activations._TANH_CUBE) * activations._TANH_SCALE)
        return x * (1 + inner) * 0.5
    phi = save("cdf", helpers.call("erfc", x * -activations._SQRT_HALF) * 0.5, cdf)
    return x * phi


def _elu(x: Expr, ctx: tuple) -> Expr:
    alpha, scale, input_scale = ctx
    negative = _np("expm1", _np("minimum", x, 0) * input_scale) * (alpha * scale)
    positive = x * scale if scale != 1 else x
    return _np("where", x > 0, positive, negative)


def _lerp(ins: list) -> Expr:
    start, end, weight = ins
    step = end - start
    return _np("where", _np("abs", weight) < 0.5, start + weight * step, end - step * (1 - weight))


def _einsum(ins: list, ctx: tuple) -> Expr:
    labels, output = ctx
    big = sum(x.size for x in ins) > einsum_ops._OPTIMIZE_FROM
    optimize = len(ins) > 2 or big  # as the op's _contract chooses
    return _np("einsum", ",".join(labels) + "->" + output, *ins, optimize=optimize)


def _scatter(node: Any, ins: list, helper: str) -> Expr:
    positions, used, _ = node._ctx
    src = ins[1] if used is None else ins[1][used]
    return helpers.call(helper, ins[0], _Index(_lift_index(positions)), src)


def _class_losses(node: Any, ins: list) -> Expr:
    """cross_entropy written out: the shifted logits, their exponentials and row sums (which
    the rule reads again), then each row's loss, reduced."""
    ctx = node._ctx
    z = ins[0]
    shifted = save("shifted", z - z.max(axis=1, keepdims=True))
    e = save("exp", _np("exp", shifted), ctx.exp)
    total = save("total", np.add.reduce(e, axis=1, keepdims=True), ctx.total)
    lse = _np("log", total)
    if ctx.labels is not None and ctx.q is None:  # class indices, the plain case
        rows = lift(np.arange(node._prev[0].data.shape[0]))
        losses = lse[:, 0] - shifted[rows, lift(ctx.labels)]
    elif ctx.labels is not None:
        losses = losses_ops._dot_rows(ctx.q, lse - shifted)
    else:  # probabilities, the second input
        target = ins[1].astype(z.dtype, copy=False)
        q = losses_ops._smoothed(target, ctx.weight, ctx.smoothing, z.shape[1])
        losses = losses_ops._dot_rows(q, save("neg_logp", lse - shifted, ctx.neg_logp))
    return helpers.call("reduce_loss", losses, ctx.reduction, ctx.divisor)


def _nll_loss(node: Any, ins: list) -> Expr:
    ctx = node._ctx
    losses = losses_ops._dot_rows(ctx.q, -ins[0])
    return helpers.call("reduce_loss", losses, ctx.reduction, ctx.divisor)


def _add_at(node: Any, ins: list) -> Expr:
    return ins[0].scatter_add(node.data.shape, node._ctx, shape_ops._may_repeat(node._ctx))


def _ufunc(name: str) -> Callable:
    return lambda n, ins, ctx: _np(name, *ins)


FORWARD_TENSOR = {
    # arithmetic
    "+": lambda n, ins, ctx: binary("+", ins[0], ins[1]),
    "-": lambda n, ins, ctx: binary("-", ins[0], ins[1]),
    "*": lambda n, ins, ctx: binary("*", ins[0], ins[1]),
    "/": lambda n, ins, ctx: binary("/", ins[0], ins[1]),
    "neg": lambda n, ins, ctx: -ins[0],
    "**": lambda n, ins, ctx: binary("**", ins[0], ctx),
    "pow": lambda n, ins, ctx: binary("**", ins[0], ins[1]),
    "%": _ufunc("remainder"),
    "fmod": _ufunc("fmod"),
    "//": _ufunc("floor_divide"),
    # functions of one tensor
    "exp": _ufunc("exp"),
    "log": _ufunc("log"),
    "sqrt": _ufunc("sqrt"),
    "abs": _ufunc("abs"),
    "tanh": _ufunc("tanh"),
    "sin": _ufunc("sin"),
    "cos": _ufunc("cos"),
    "tan": _ufunc("tan"),
    "asin": _ufunc("arcsin"),
    "acos": _ufunc("arccos"),
    "atan": _ufunc("arctan"),
    "sinh": _ufunc("sinh"),
    "cosh": _ufunc("cosh"),
    "log2": _ufunc("log2"),
    "log10": _ufunc("log10"),
    "log1p": _ufunc("log1p"),
    "exp2": _ufunc("exp2"),
    "expm1": _ufunc("expm1"),
    "rsqrt": lambda n, ins, ctx: binary("/", 1, _np("sqrt", ins[0])),
    "erf": lambda n, ins, ctx: helpers.call("erf", ins[0]),
    "erfc": lambda n, ins, ctx: helpers.call("erfc", ins[0]),
    "sign": _ufunc("sign"),
    "floor": _ufunc("floor"),
    "ceil": _ufunc("ceil"),
    "trunc": _ufunc("trunc"),
    "round": lambda n, ins, ctx: _np("round", ins[0], ctx),
    # activations
    "sigmoid": lambda n, ins, ctx: helpers.call("sigmoid", ins[0]),
    "relu": lambda n, ins, ctx: _np("maximum", ins[0], 0),
    "leaky_relu": lambda n, ins, ctx: _np("where", ins[0] > 0, ins[0], ins[0] * ctx),
    "softplus": lambda n, ins, ctx: _softplus(ins[0], ctx),
    "gelu": lambda n, ins, ctx: _gelu(ins[0], ctx),
    "silu": lambda n, ins, ctx: ins[0] * helpers.call("sigmoid", ins[0]),
    "mish": lambda n, ins, ctx: ins[0] * _np("tanh", _np("logaddexp", 0, ins[0])),
    "elu": lambda n, ins, ctx: _elu(ins[0], ctx),
    "selu": lambda n, ins, ctx: _elu(ins[0], ctx),
    "celu": lambda n, ins, ctx: _elu(ins[0], ctx),
    "softsign": lambda n, ins, ctx: ins[0] / (1 + _np("abs", ins[0])),
    "logsigmoid": lambda n, ins, ctx: (
        _np("minimum", ins[0], 0) - _np("log1p", _np("exp", -_np("abs", ins[0])))
    ),
    "hardtanh": lambda n, ins, ctx: _np("clip", ins[0], ctx[0], ctx[1]),
    "relu6": lambda n, ins, ctx: _np("clip", ins[0], ctx[0], ctx[1]),
    "hardsigmoid": lambda n, ins, ctx: _np("clip", ins[0] + 3, 0, 6) / 6,
    "hardswish": lambda n, ins, ctx: ins[0] * _np("clip", ins[0] + 3, 0, 6) / 6,
    "clip": lambda n, ins, ctx: _np("clip", ins[0], ctx[0], ctx[1]),
    # functions of two or three tensors
    "maximum": _ufunc("maximum"),
    "minimum": _ufunc("minimum"),
    "logaddexp": _ufunc("logaddexp"),
    "atan2": _ufunc("arctan2"),
    "lerp": lambda n, ins, ctx: _lerp(ins),
    "where": lambda n, ins, ctx: _np("where", lift(ctx), ins[0], ins[1]),
    # products
    "matmul": lambda n, ins, ctx: binary("@", ins[0], ins[1]),
    "linear": lambda n, ins, ctx: _linear(ins),
    "einsum": lambda n, ins, ctx: _einsum(ins, ctx),
    # losses
    "mse_loss": lambda n, ins, ctx: helpers.call("mse_loss", ins[0], ins[1], ctx),
    "l1_loss": lambda n, ins, ctx: helpers.call("l1_loss", ins[0], ins[1], ctx),
    "binary_cross_entropy_with_logits": lambda n, ins, ctx: helpers.call(
        "bce_with_logits", ins[0], ins[1], ctx[1], ctx[2], ctx[0]
    ),
    "binary_cross_entropy": lambda n, ins, ctx: helpers.call("bce", ins[0], ins[1], ctx[1], ctx[0]),
    "cross_entropy": lambda n, ins, ctx: _class_losses(n, ins),
    "nll_loss": lambda n, ins, ctx: _nll_loss(n, ins),
    # reductions, softmax
    "sum": lambda n, ins, ctx: _reduction(n, ins[0], "sum", ctx),
    "mean": lambda n, ins, ctx: _mean(n, ins[0], ctx),
    "max": lambda n, ins, ctx: _reduction(n, ins[0], "max", ctx),
    "min": lambda n, ins, ctx: _reduction(n, ins[0], "min", ctx),
    "var": lambda n, ins, ctx: _var(n, ins[0], ctx),
    "std": lambda n, ins, ctx: _np("std", ins[0], axis=ctx[0], ddof=ctx[1], keepdims=_keepdims(n)),
    "prod": lambda n, ins, ctx: _np("prod", ins[0], axis=ctx[0], keepdims=ctx[1]),
    "logsumexp": lambda n, ins, ctx: helpers.call(
        "logsumexp", ins[0], axis=None if ctx is None else tuple(ctx), keepdims=_keepdims(n)
    ),
    "softmax": lambda n, ins, ctx: helpers.call("softmax", ins[0], ctx),
    "log_softmax": lambda n, ins, ctx: helpers.call("log_softmax", ins[0], ctx),
    "cumsum": lambda n, ins, ctx: _np("cumsum", ins[0], axis=ctx),
    "cumprod": lambda n, ins, ctx: _np("cumprod", ins[0], axis=ctx),
    "logcumsumexp": lambda n, ins, ctx: np.logaddexp.accumulate(ins[0], axis=ctx),
    # shapes and layout
    "reshape": lambda n, ins, ctx: ins[0].reshape(n.data.shape),
    "transpose": lambda n, ins, ctx: ins[0].transpose(*(() if ctx is None else (ctx,))),
    "expand": lambda n, ins, ctx: _np("broadcast_to", ins[0], n.data.shape),
    "getitem": lambda n, ins, ctx: ins[0][ctx],
    "add_at": lambda n, ins, ctx: _add_at(n, ins),
    "scatter": lambda n, ins, ctx: _scatter(n, ins, "write_at"),
    "scatter_add": lambda n, ins, ctx: _scatter(n, ins, "add_into"),
    "concatenate": lambda n, ins, ctx: _np("concatenate", list(ins), axis=ctx[0]),
    "stack": lambda n, ins, ctx: _np("stack", list(ins), axis=ctx),
    "tile": lambda n, ins, ctx: _np("tile", ins[0], ctx),
    "roll": lambda n, ins, ctx: (
        _np("roll", ins[0], ctx[0]) if ctx[1] is None else _np("roll", ins[0], ctx[0], axis=ctx[1])
    ),
    "tril": lambda n, ins, ctx: _np("where", lift(ctx), ins[0], 0),
    "triu": lambda n, ins, ctx: _np("where", lift(ctx), ins[0], 0),
}
"""Tensor op -> its result as an expression (node, inputs, ctx), as the op computes it."""


_DERIVED = ("argsort", "cummax", "cummin")  # recorded index computations (see `_derive`)


def _factor(partial: Expr) -> Expr:
    """A partial ``1.0 if c else 0.0`` as the comparison `c` itself: multiplying by True or
    False is multiplying by 1.0 or 0.0, to the bit (NaN and inf included), and reads as
    "the gradient passes where c" (``g * (x > 0)``, as the tensor relu's rule writes it)."""
    if partial.kind == "select":
        cond, a, b = partial.parts
        if (
            cond.kind == "binary"
            and a.kind == "const"
            and b.kind == "const"
            and type(a.parts[0]) is float
            and type(b.parts[0]) is float
            and a.parts[0] == 1.0
            and b.parts[0] == 0.0
            and str(b.parts[0]) == "0.0"
        ):
            return cond
    return partial


def _check_scalar_node(node: Any) -> None:
    """The op's rule, run on the trace's numbers, must give the partials the node holds: a
    node built by hand (``Value(data, children, op)``, micrograd style) has none behind it,
    and an op whose inline partials differ from its rule would compile to other numbers."""
    rule = PARTIAL_RULES.get(node._op)
    if rule is None:
        raise _unsupported(node, "has no partial-derivative rule, so it cannot be compiled")
    held = node._partials
    try:
        expected = tuple(rule([p.data for p in node._prev], node.data, node._ctx))
    except ArithmeticError:
        return  # the op's own guard decides at such points; nothing to compare
    except (IndexError, TypeError, ValueError):
        expected = None
    same = expected is not None and len(expected) == len(held) == len(node._prev)
    same = same and all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(held, expected))
    if not same:
        raise ValueError(
            f"compile: a {node._op!r} node holds partials {held} but the op's rule gives "
            f"{expected}: was it built by hand (Value(data, children, op))? Only nodes made by "
            "the ops can be compiled"
        )


def _unsupported(node: Any, why: str) -> NotImplementedError:
    return NotImplementedError(f"compile: op {node._op!r} {why}")


# --------------------------------------------------------------------------------------------
# Building the program
# --------------------------------------------------------------------------------------------


class _Builder:
    def __init__(self, recording: Recording) -> None:
        self.rec = recording
        self.tensor = recording.tensor
        self.namer = Namer()
        recording.name = self.namer.take(recording.name)  # the function's name is its own
        self.names: dict[int, str] = {}
        self.exprs: dict[int, Expr] = {}
        self.arrays = ConstantArrays(lambda: self.namer.take("c"))
        self.arrays.resolve = self._resolve
        self.by_data: dict[int, Expr] = {}  # id(ndarray) -> the expression that computes it
        self.comparisons = {id(entry[0]): entry for entry in recording.comparisons
                            if entry[1] not in _DERIVED}  # fmt: skip
        # orders computed from data outside the graph (sort, topk, cummax...): recomputed
        self.derived = {id(entry[0]): entry for entry in recording.comparisons
                        if entry[1] in _DERIVED}  # fmt: skip
        self.forward_statements: list[Statement] = []
        self.scalar_constants: dict[str, float] = {}
        self.ones: dict[str, np.ndarray] = {}
        self.ones_names: dict[tuple, str] = {}
        self.read: set[int] = set()  # ids of arrays read through an op's constants
        self.saving: tuple | None = None  # (node, name, statements) whose forward is written
        self.saved: dict[int, Expr] = {}  # id(array in a ctx) -> its variable (see `save`)

    # --- names and expressions of nodes ------------------------------------------------

    def name_of(self, node: Any, index: int) -> str:
        name = self.names.get(id(node))
        if name is None:
            name = self.names[id(node)] = self.namer.take(identifier(node, index))
        return name

    def value_of(self, node: Any) -> Any:
        return node.data if self.tensor else None

    def constant(self, node: Any, index: int) -> Expr:
        """A node that depends on no argument: its trace-time value as a constant."""
        data = node.data
        if not self.tensor:
            if node.label and not node._prev:  # a labelled constant (a fixed weight): named
                name = self.name_of(node, index)
                self.scalar_constants[name] = data
                return Expr.name(name)
            return Expr.const(float(data))
        if data.ndim == 0:
            return Expr.const(data[()])
        entry = self.arrays.named.get(id(data))
        if entry is not None:  # the same array behind another constant node: one name
            return Expr.name(entry[0], data)
        name = self.name_of(node, index)
        self.arrays.named[id(data)] = (name, data)
        return Expr.name(name, data)

    def _resolve(self, array: np.ndarray) -> Expr | None:
        """An array met inside a rule or ctx that the program computes (a node's value, an
        argument, a recorded comparison), rather than a constant."""
        found = self.by_data.get(id(array))
        if found is None and id(array) in self.derived:
            found = self._derive(array)
        if found is not None:
            self.read.add(id(array))
        return found

    def _derive(self, array: np.ndarray) -> Expr | None:
        """``order = argsort(x, ...)``: an integer index an op computed from a graph value
        outside the graph (sort, topk, argsort, cummax, cummin), computed again from that
        value's variable; None if it came from a constant (then it is one too)."""
        _, how, data, params = self.derived[id(array)]
        source = self.by_data.get(id(data))
        if source is None:
            return None
        if how == "argsort":
            dim, descending, k = params
            expr = helpers.call("argsort", source, dim, descending)
            if k is not None:
                expr = expr[(slice(None),) * dim + (slice(0, k),)]
        else:  # cummax, cummin
            expr = helpers.call("running_arg_extreme", source, params[0], how == "cummax")
        if expr.value is None or not np.array_equal(expr.value, array):
            return None  # (never: the same computation) a constant, as before
        self.read.add(id(data))
        target = self.namer.take(f"{source.parts[0]}_{'order' if how == 'argsort' else how}")
        self.forward_statements.append(Statement(target, expr, f"the positions {how} gives"))
        named = Expr.name(target, expr.value)
        self.by_data[id(array)] = named
        return named

    # --- the walk ------------------------------------------------------------------------

    def build(self) -> Program:
        rec = self.rec
        root = rec.root
        leaves = {}
        for argument in rec.arguments:
            for k, node in enumerate(argument.nodes):
                leaves[id(node)] = (argument, k)
        with collecting(self.arrays):
            order, index = self._order(root)
            self._name_arguments(rec.arguments)
            depends, grad_depends = self._dependence(order, leaves, rec)
            forward = self._forward(order, index, depends, leaves)
            seed, backward, gradients = self._backward(order, index, grad_depends, leaves)
        return Program(
            recording=rec,
            names=self.names,
            forward=forward,
            seed=seed,
            backward=backward,
            gradients=gradients,
            value=self.exprs[id(root)],
            constants={name: array for name, array in self.arrays.named.values()},
            scalar_constants=self.scalar_constants,
            uses_ones=self.ones,
            order=order,
            read=self.read,
        )

    def _order(self, root: Any) -> tuple[list, dict]:
        """Topological order and each node's number, the one `trace` gives it (``#7 +``),
        with the operands of recorded comparisons that a `where` mask came from placed before
        it when not already in. The trace of a tensor graph walks only tensors that require
        grad (as backward does): here, as in ``f(...)`` called with the differentiated
        arguments requiring grad and the others not (data), as `value_and_grad` calls it. The
        nodes it does not walk (constants, data) are numbered after its own."""
        order = topological_order(root)
        if self.tensor:
            traced = topological_order(root, self._requires_grad(order))
            index = {id(node): i for i, node in enumerate(traced)}
            for node in order:
                index.setdefault(id(node), len(index))
        else:
            index = {id(node): i for i, node in enumerate(order)}
        if not self.tensor or not self.comparisons:
            return order, index
        present = {id(n) for n in order}
        extra: list = []
        for node in order:
            if node._op == "where" and id(node._ctx) in self.comparisons:
                _, _, a, b = self.comparisons[id(node._ctx)]
                for operand in (a, b):
                    if hasattr(operand, "_prev") and id(operand) not in present:
                        for m in topological_order(operand):
                            if id(m) not in present:
                                present.add(id(m))
                                extra.append((node, m))
        for _, m in extra:
            index[id(m)] = len(index)
        result = []
        for node in order:  # each placed just before the where that needs it
            result += [m for where, m in extra if where is node]
            result.append(node)
        return result, index

    def _requires_grad(self, order: list) -> Callable[[Any], bool]:
        """Whether a node requires grad when only the differentiated arguments do."""
        given = {}
        for argument in self.rec.arguments:
            for node in argument.nodes:
                given[id(node)] = argument.differentiated
        marked: set[int] = set()
        for node in order:
            key = id(node)
            if key in given:
                wanted = given[key]
            elif node._prev:
                wanted = any(id(p) in marked for p in node._prev)
            else:
                wanted = node.requires_grad  # a tensor f closes over
            if wanted:
                marked.add(key)
        return lambda node: id(node) in marked

    def _name_arguments(self, arguments: list[Argument]) -> None:
        for argument in arguments:
            argument.name = self.namer.take(argument.name)
            if argument.kind == "list":
                argument.element_names = []
                for k, node in enumerate(argument.nodes):
                    label = identifier(node, 0) if node.label else f"{argument.name}_{k}"
                    name = self.namer.take(label)
                    self.names[id(node)] = name
                    argument.element_names.append(name)
            else:
                self.names[id(argument.nodes[0])] = argument.name
            for node in argument.nodes:
                expr = Expr.name(self.names[id(node)], self.value_of(node))
                self.exprs[id(node)] = expr
                if self.tensor:
                    self.by_data[id(node.data)] = expr

    def _dependence(self, order: list, leaves: dict, rec: Recording) -> tuple[set, set]:
        depends: set[int] = set()
        grad_depends: set[int] = set()
        for node in order:
            key = id(node)
            if key in leaves:
                argument, _ = leaves[key]
                depends.add(key)
                if argument.differentiated:
                    grad_depends.add(key)
                continue
            prev = node._prev
            if any(id(p) in depends for p in prev) or self._mask_depends(node, depends):
                depends.add(key)
            if any(id(p) in grad_depends for p in prev):
                grad_depends.add(key)
        return depends, grad_depends

    def _mask_depends(self, node: Any, depends: set) -> bool:
        if not self.tensor or node._op != "where" or id(node._ctx) not in self.comparisons:
            return False
        _, _, a, b = self.comparisons[id(node._ctx)]
        return any(hasattr(x, "_prev") and id(x) in depends for x in (a, b))

    def _forward(self, order: list, index: dict, depends: set, leaves: dict) -> list:
        statements = self.forward_statements
        for node in order:
            key = id(node)
            if key in leaves:
                continue
            if key not in depends:
                self.exprs[key] = self.constant(node, index[key])
                continue
            op = node._op
            ins = [self.exprs[id(p)] for p in node._prev]
            if self.tensor and op == "where" and id(node._ctx) in self.comparisons:
                statements.append(self._mask(node, index[key]))
            if not self.tensor:
                _check_scalar_node(node)
            table = FORWARD_TENSOR if self.tensor else FORWARD_SCALAR
            forward = table.get(op)
            if forward is None:
                raise _unsupported(
                    node,
                    "has no source form (custom Function ops, convolution, pooling and "
                    "normalisation are not compiled)",
                )
            name = self.name_of(node, index[key])
            if self.tensor:
                self.saving = (node, name, statements)
                _saving.builder = self
                try:
                    expr = forward(node, ins, node._ctx)
                except (TypeError, ValueError, AttributeError, IndexError) as error:
                    raise _unsupported(node, f"cannot be written out here ({error})") from None
                finally:
                    _saving.builder = None
            else:
                expr = forward(ins, node._ctx)
            statements.append(Statement(name, expr, _op_label(node), node=node))
            # the value the generated line computes (a reduction gives a numpy scalar where
            # the engine keeps a 0-d array: the same number)
            value = expr.value if self.tensor and expr.value is not None else self.value_of(node)
            named = Expr.name(name, value)
            self.exprs[key] = named
            if self.tensor:
                self.by_data[id(node.data)] = named
        return statements

    def save(self, suffix: str, expr: Expr, array: Any) -> Expr:
        """See the module function `save`."""
        node, name, statements = self.saving
        target = self.namer.take(f"{name}_{suffix}")
        statements.append(Statement(target, expr, f"{node._op}: {suffix}"))
        named = Expr.name(target, expr.value)
        if array is not None:
            self.by_data[id(array)] = named
            self.saved[id(array)] = named
        return named

    def symbolic_ctx(self, ctx: Any) -> Any:
        """`ctx` with the values its op's forward saved (see `save`) as their variables, so
        that the rule computes with them (``ctx.exp / ctx.total``) rather than with the traced
        arrays; the rest of it (shapes, indices, constants) as it is."""
        if not self.saved:
            return ctx
        if isinstance(ctx, (np.ndarray, np.generic)):  # (a 0-d result may be a scalar)
            return self.saved.get(id(ctx), ctx)
        if type(ctx) in (tuple, list):
            items = [self.symbolic_ctx(x) for x in ctx]
            changed = any(a is not b for a, b in zip(items, ctx))
            return type(ctx)(items) if changed else ctx
        slots = getattr(type(ctx), "__slots__", None)
        if slots and not isinstance(ctx, (Expr, str)):  # a small record, as the losses keep
            values = {name: getattr(ctx, name) for name in slots if hasattr(ctx, name)}
            swapped = {name: self.symbolic_ctx(v) for name, v in values.items()}
            if all(swapped[name] is values[name] for name in values):
                return ctx
            copy = object.__new__(type(ctx))
            for name, value in swapped.items():
                setattr(copy, name, value)
            return copy
        return ctx

    def _mask(self, node: Any, index: int) -> Statement:
        """``m = a > b``: a where's condition, recomputed from the comparison it came from."""
        mask, op, a, b = self.comparisons[id(node._ctx)]
        left = self.exprs[id(a)] if id(a) in self.exprs else lift(a.data)
        other = b.data if hasattr(b, "_prev") else b
        right = self.exprs[id(b)] if id(b) in self.exprs else other
        expr = binary(op, left, right)
        name = self.namer.take(f"{self.name_of(node, index)}_mask")
        named = Expr.name(name, mask)
        self.by_data[id(mask)] = named
        return Statement(name, expr, f"the condition of where ({op})")

    # --- backward ------------------------------------------------------------------------

    def _backward(self, order: list, index: dict, grad_depends: set, leaves: dict) -> tuple:
        root = self.rec.root
        root_name = self.names.get(id(root)) or self.name_of(root, index[id(root)])
        gradient: dict[int, Expr] = {}
        seed_value: Any
        if self.tensor:
            data = root.data
            if data.ndim == 0:
                seed_value = data.dtype.type(1)
                seed_expr = Expr.const(seed_value, True)
            else:
                seed_value = np.ones(data.shape, data.dtype)
                seed_expr = call("np.ones", (data.shape, data.dtype), {}, np.ones)
        else:
            seed_value, seed_expr = None, Expr.const(1.0)
        seed = Statement("g_" + root_name, seed_expr, "d output / d output", node=root)
        gradient[id(root)] = Expr.name(seed.target, seed_value)
        statements: list[Statement] = []
        for node in reversed(order):
            prev = node._prev
            g = gradient.get(id(node))
            if not prev or g is None or id(node) not in grad_depends:
                continue  # a leaf, a constant, or a mask's operand (no path to the output)
            ins = [self.exprs[id(p)] for p in prev]
            out = self.exprs[id(node)]
            contributions = (
                self._tensor_edges(node, g, ins, out, grad_depends)
                if self.tensor
                else self._scalar_edges(node, g, ins, out, grad_depends)
            )
            for parent, expr, upstream, partial in contributions:
                key = id(parent)
                target = "g_" + self.names.get(key, self.name_of(parent, index.get(key, 0)))
                accumulate = key in gradient
                total = binary("+", gradient[key], expr) if accumulate else expr
                gradient[key] = Expr.name(target, total.value)
                statements.append(
                    Statement(
                        target, expr, _op_label(node), accumulate, upstream, partial, node=parent
                    )  # fmt: skip
                )
        grads = {key: gradient.get(key) for key in leaves}
        return seed, statements, grads

    def _scalar_edges(self, node: Any, g: Expr, ins: list, out: Expr, live: set) -> list:
        rule = PARTIAL_RULES[node._op]  # checked by _check_scalar_node
        try:
            partials = rule(ins, out, node._ctx)
        except SymbolicBranchError as error:
            raise _unsupported(
                node, f"cannot be compiled: {error}; its rule must be branch-free"
            ) from None
        edges = []
        for parent, partial in zip(node._prev, partials):
            if id(parent) in live:
                partial = _factor(lift(partial))
                edges.append((parent, binary("*", g, partial), g, partial))
        return edges

    def _tensor_edges(self, node: Any, g: Expr, ins: list, out: Expr, live: set) -> list:
        rules = VJP_RULES.get(node._op)
        if rules is None:
            raise _unsupported(node, "has no backward rule")
        ctx = self.symbolic_ctx(node._ctx)
        prev = node._prev
        edges = []
        try:
            if type(rules) is tuple:
                for parent, rule in zip(prev, rules):
                    if id(parent) in live:
                        grad = lift(rule(g, ins, out, ctx))
                        if grad.shape != parent.data.shape:
                            grad = self.unbroadcast(grad, parent.data.shape)
                        edges.append((parent, grad, None, None))
            else:
                for parent, grad in zip(prev, rules(g, ins, out, ctx)):
                    if grad is not None and id(parent) in live:
                        grad = lift(grad)
                        if grad.shape != parent.data.shape:
                            grad = self.unbroadcast(grad, parent.data.shape)
                        edges.append((parent, grad, None, None))
        except SymbolicBranchError as error:
            raise _unsupported(
                node, f"cannot be compiled: {error}; its rule must be branch-free"
            ) from None
        except (TypeError, AttributeError, ValueError, IndexError) as error:
            raise _unsupported(
                node, f"has a backward rule that cannot run on symbolic operands ({error})"
            ) from None
        return edges

    def unbroadcast(self, grad: Expr, shape: tuple) -> Expr:
        """`autodiff.tensor._unbroadcast` written out: the same sums, so the same bits."""
        extra = grad.ndim - len(shape)
        if (
            extra == 1
            and grad.ndim == 2
            and type(grad.value) is np.ndarray
            and shape[0] == grad.shape[1]
        ):
            n, dtype = grad.shape[0], grad.value.dtype
            name = self.ones_names.get((n, dtype))
            if name is None:
                wanted = f"ones{n}" + ("" if dtype == np.float64 else f"_{dtype.name}")
                name = self.ones_names[(n, dtype)] = self.namer.take(wanted)
            ones = _ones_vector(n, dtype)
            self.ones[name] = ones
            return binary("@", Expr.name(name, ones), grad)  # sums the rows
        stretched = tuple(
            extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
        )
        if not stretched:
            return grad.sum(axis=tuple(range(extra))) if extra else grad
        grad = grad.sum(axis=tuple(range(extra)) + stretched, keepdims=True)
        return grad.reshape(shape) if extra else grad


def build(recording: Recording) -> Program:
    """The program that computes `recording`'s output and its gradients."""
    return _Builder(recording).build()
