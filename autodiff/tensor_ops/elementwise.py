"""Elementwise ops with numpy broadcasting, each next to its backward rule.

A rule ``rule(g, inputs, out, ctx)`` returns the gradient for one input, shaped like the output
(the caller sums it back to the input's shape). It uses only operators and numpy functions, so
it runs on ndarrays and, for ``create_graph=True``, on Tensors.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _constant, _make, as_tensor

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _broadcast_error(op: str, a: Tensor, b: Tensor) -> ValueError:
    return ValueError(
        f"{op}: shapes {a.data.shape} and {b.data.shape} do not broadcast "
        "(trailing dimensions must be equal or 1)"
    )


def _binary(op: str, a: Tensor, b: Tensor, ufunc: Any) -> Tensor:
    try:
        data = ufunc(a._data, b._data)
    except ValueError:
        raise _broadcast_error(op, a, b) from None
    return _make(data, (a, b), op)


def _raw(x: Any) -> Any:
    """The ndarray behind `x`: masks and signs are constants in both backward paths."""
    return x.data if isinstance(x, Tensor) else x


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


# A read-only 0-d zero of each float dtype: numpy compares with a Python 0 (or takes its
# maximum) through its rules for Python scalars, about 0.2 us a call, which matters on small
# arrays. The same comparison with the same zero: the same bits.
_ZEROS = {np.dtype(t): _read_only(np.zeros((), t)) for t in (np.float16, np.float32, np.float64)}


def _any(mask: Any) -> bool:
    """Whether `mask` holds anywhere; True for a symbolic mask (`autodiff.compile` writes out
    the general form, which gives the same numbers where it holds nowhere)."""
    return bool(mask.any()) if isinstance(mask, np.ndarray) else True


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of -|x| never overflows, so neither branch does for large |x|
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _sigmoid_of(x: Any) -> Any:
    return x.sigmoid() if isinstance(x, Tensor) else _stable_sigmoid(x)


# --------------------------------------------------------------------------------------------
# Arithmetic: + - * / neg, ** (constant exponent) and pow (tensor exponent)
# --------------------------------------------------------------------------------------------


def add(a: Tensor, b: Any) -> Tensor:
    """a + b, broadcasting."""
    return _binary("+", a, b if type(b) is Tensor else as_tensor(b, a, "+"), np.add)


def radd(a: Tensor, b: Any) -> Tensor:  # b + a
    return _binary("+", as_tensor(b, a, "+"), a, np.add)


def sub(a: Tensor, b: Any) -> Tensor:
    """a - b, broadcasting."""
    return _binary("-", a, b if type(b) is Tensor else as_tensor(b, a, "-"), np.subtract)


def rsub(a: Tensor, b: Any) -> Tensor:  # b - a
    return _binary("-", as_tensor(b, a, "-"), a, np.subtract)


def mul(a: Tensor, b: Any) -> Tensor:
    """a * b, broadcasting."""
    return _binary("*", a, b if type(b) is Tensor else as_tensor(b, a, "*"), np.multiply)


def rmul(a: Tensor, b: Any) -> Tensor:  # b * a
    return _binary("*", as_tensor(b, a, "*"), a, np.multiply)


def div(a: Tensor, b: Any) -> Tensor:
    """a / b, broadcasting (x / 0 gives inf or nan, as in numpy)."""
    return _binary("/", a, b if type(b) is Tensor else as_tensor(b, a, "/"), np.true_divide)


def rdiv(a: Tensor, b: Any) -> Tensor:  # b / a
    return _binary("/", as_tensor(b, a, "/"), a, np.true_divide)


def neg(a: Tensor) -> Tensor:
    """-a."""
    return _make(-a._data, (a,), "neg")


def pos(a: Tensor) -> Tensor:
    """+a is a itself."""
    return a


def _python_number(v: Any) -> Any:
    """A numpy scalar as the Python number it holds: an argument such as np.float64(2) must not
    make numpy 2 promote float32 data to float64 (PyTorch treats it as a number)."""
    return v.item() if isinstance(v, np.generic) and v.dtype.kind in "biuf" else v


def power(a: Tensor, b: Any) -> Tensor:
    """a ** b: a number exponent is a constant of the op ('**'); a tensor exponent is an input
    ('pow', which needs a > 0 where its gradient is wanted)."""
    kind = type(b)
    if kind is not float and kind is not int:  # (the common `x ** 2` skips the call)
        b = _python_number(b)
    if isinstance(b, Tensor):
        return _binary("pow", a, b, np.power)
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        return _make(a.data**b, (a,), "**", b)
    if isinstance(b, (np.ndarray, np.generic, list)):
        return _binary("pow", a, as_tensor(b, a, "**"), np.power)
    raise TypeError(f"**: exponent must be a number or Tensor, got {type(b).__name__} {b!r}")


def rpower(a: Tensor, b: Any) -> Tensor:  # b ** a
    return _binary("pow", as_tensor(b, a, "**"), a, np.power)


def add_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(a + b)/da = d(a + b)/db = 1"""
    return g


def sub_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(a - b)/db = -1"""
    return -g


def mul_grad_a(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(a * b)/da = b"""
    return g * inputs[1]


def mul_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(a * b)/db = a"""
    return g * inputs[0]


def div_grad_a(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(a / b)/da = 1 / b"""
    return g / inputs[1]


def div_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(a / b)/db = -a / b**2 = -out / b"""
    return -g * out / inputs[1]


def neg_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(-a)/da = -1"""
    return -g


def pow_const_grad(g: Any, inputs: tuple, out: Any, ctx: float) -> Any:
    """d(a ** c)/da = c * a ** (c - 1), for a constant exponent c (0 where c = 0)"""
    if ctx == 2:  # the common square: skip np.power
        return g * (2 * inputs[0])
    if ctx == 0:  # a ** 0 is the constant 1: slope 0 even at a = 0 (as PyTorch), whatever g is
        return np.zeros(np.shape(out), _raw(out).dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # 0 ** -0.5 is inf
        return g * (ctx * inputs[0] ** (ctx - 1))


def pow_grad_a(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(a ** b)/da = b * a ** (b - 1), and 0 where b = 0 (a ** 0 is constant; as PyTorch)"""
    a, b = inputs
    raw_a = _raw(a)
    # Only where the formula is not already 0 (a = 0 or nan: 0 * inf, 0 * nan) is it replaced,
    # so the mixed second derivative d/db (b * a ** (b - 1)) = 1/a at b = 0 survives elsewhere.
    fixed = (_raw(b) == 0) & ((raw_a == 0) | np.isnan(raw_a))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # 0 ** -0.5 is inf
        if not _any(fixed):
            return g * (b * a ** (b - 1))
        # exponent 1 there: a ** -1 is inf at a = 0, and its masked-out gradient (0 * inf)
        # would make second derivatives nan
        exponent = np.where(fixed, 1.0, b - 1)
        return np.where(fixed, 0.0, g * (b * a**exponent))


def pow_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(a ** b)/db = a ** b * log(a), and 0 where a = 0 and b >= 0 (the limit; as PyTorch)"""
    a, b = inputs
    raw_a = _raw(a)
    limit = (raw_a == 0) & (_raw(b) >= 0)  # 0 * log(0); where b < 0, inf * log(0) = -inf
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # log(0), log(-1)
        if not _any(limit):
            return g * (out * np.log(a))
        # log(1) where the limit applies: log(0)'s gradient, masked out, would be 0 * inf
        safe = np.where(limit, 1.0, a)
        return np.where(limit, 0.0, g * (out * np.log(safe)))


# --------------------------------------------------------------------------------------------
# Functions of one tensor
# --------------------------------------------------------------------------------------------


def exp(x: Tensor) -> Tensor:
    """e ** x elementwise (overflow gives inf, as in numpy)."""
    return _make(np.exp(x._data), (x,), "exp")


def log(x: Tensor) -> Tensor:
    """Natural logarithm elementwise (x <= 0 gives -inf or nan, as in numpy)."""
    return _make(np.log(x._data), (x,), "log")


def sqrt(x: Tensor) -> Tensor:
    """Square root elementwise."""
    return _make(np.sqrt(x.data), (x,), "sqrt")


def abs_(x: Tensor) -> Tensor:
    """|x| elementwise; its derivative at 0 is taken as 0."""
    return _make(np.abs(x.data), (x,), "abs")


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent elementwise."""
    return _make(np.tanh(x._data), (x,), "tanh")


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e**-x) elementwise, without overflow for large |x|."""
    return _make(_stable_sigmoid(x._data), (x,), "sigmoid")


def relu(x: Tensor) -> Tensor:
    """max(0, x) elementwise; its derivative at 0 is taken as 0."""
    data = x._data
    return _make(np.maximum(data, _ZEROS.get(data.dtype, 0)), (x,), "relu")


def leaky_relu(x: Tensor, slope: float = 0.01) -> Tensor:
    """x where x > 0, else slope * x.

    >>> from autodiff import Tensor
    >>> Tensor([-2.0, 3.0]).leaky_relu(0.1)
    Tensor([-0.2,  3. ])
    """
    if isinstance(slope, bool) or not isinstance(slope, (int, float)):
        raise TypeError(f"leaky_relu: slope must be a number, got {slope!r}")
    data = x.data
    return _make(np.where(data > 0, data, data * slope), (x,), "leaky_relu", slope)


def clip(x: Tensor, low: float | None = None, high: float | None = None) -> Tensor:
    """x limited to [low, high] (either may be None); the gradient is 0 where x is clipped.

    >>> from autodiff import Tensor
    >>> Tensor([-3.0, 0.5, 3.0]).clip(-1, 1)
    Tensor([-1. ,  0.5,  1. ])
    """
    if low is None and high is None:
        raise ValueError("clip: give low, high or both")
    low, high = _python_number(low), _python_number(high)
    if low is not None and high is not None and low > high:
        raise ValueError(f"clip: low {low!r} is greater than high {high!r}")
    return _make(np.clip(x.data, low, high), (x,), "clip", (low, high))


def exp_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d exp(x)/dx = exp(x)"""
    return g * out


def log_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d log(x)/dx = 1 / x"""
    return g / inputs[0]


def sqrt_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d sqrt(x)/dx = 1 / (2 sqrt(x))"""
    return g / (2 * out)


def abs_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d |x|/dx = sign(x)"""
    return g * np.sign(_raw(inputs[0]))


def tanh_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d tanh(x)/dx = 1 - tanh(x)**2"""
    return g * (1 - out * out)


def sigmoid_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d sigmoid(x)/dx = sigmoid(x) * (1 - sigmoid(x))"""
    return g * (out * (1 - out))


def relu_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d relu(x)/dx = 1 where x > 0, else 0 (and 1 where x is nan, as PyTorch)"""
    # out = max(x, 0) is 0 exactly where x <= 0, and nan where x is: `out != 0` is PyTorch's
    # mask (`x <= 0 ? 0 : g`, which lets a nan through) at the cost of `out > 0`
    if type(out) is np.ndarray:  # (not a Tensor, nor a symbolic operand of `compile`)
        return g * (out != _ZEROS.get(out.dtype, 0))
    return g * (_raw(out) != 0)


def leaky_relu_grad(g: Any, inputs: tuple, out: Any, ctx: float) -> Any:
    """d leaky_relu(x)/dx = 1 where x > 0, else slope"""
    return np.where(_raw(inputs[0]) > 0, g, g * ctx)


def clip_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d clip(x, low, high)/dx = 1 where low <= x <= high, else 0"""
    x = _raw(inputs[0])
    low, high = ctx
    if low is None:
        return g * (x <= high)
    if high is None:
        return g * (x >= low)
    return g * ((x >= low) & (x <= high))


# --------------------------------------------------------------------------------------------
# maximum, minimum, where
# --------------------------------------------------------------------------------------------


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max of a and b, broadcasting; on ties each gets half the gradient.

    >>> from autodiff import Tensor, maximum
    >>> maximum(Tensor([1.0, 5.0]), 2.0)
    Tensor([2., 5.])
    """
    a, b = _pair(a, b, "maximum")
    return _binary("maximum", a, b, np.maximum)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min of a and b, broadcasting; on ties each gets half the gradient.

    >>> from autodiff import Tensor, minimum
    >>> minimum(Tensor([1.0, 5.0]), 2.0)
    Tensor([1., 2.])
    """
    a, b = _pair(a, b, "minimum")
    return _binary("minimum", a, b, np.minimum)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """a where `condition` holds, else b (broadcasting); the condition gets no gradient.

    >>> from autodiff import Tensor, where
    >>> x = Tensor([-1.0, 3.0])
    >>> where(x > 0, x, 0.0)
    Tensor([0., 3.])
    """
    cond = _raw(condition)
    cond = cond if type(cond) is np.ndarray and cond.dtype == bool else np.asarray(cond, bool)
    a, b = _pair(a, b, "where")
    try:
        data = np.where(cond, a.data, b.data)
    except ValueError:
        raise ValueError(
            f"where: condition {cond.shape}, a {a.data.shape} and b {b.data.shape} do not broadcast"
        ) from None
    return _make(data, (a, b), "where", cond)


def _pair(a: Any, b: Any, op: str) -> tuple:
    if isinstance(a, Tensor):
        return a, as_tensor(b, a, op)
    if isinstance(b, Tensor):
        return as_tensor(a, b, op), b
    return as_tensor(a, None, op), as_tensor(b, None, op)


def _tie_share(g: Any, wins: Any, ties: Any) -> Any:
    # full gradient where this input is strictly the extreme, half where both are
    return np.where(ties, g * 0.5, g * wins)


def maximum_grad_a(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d max(a, b)/da = 1 where a > b, 1/2 where a == b, else 0"""
    a, b = _raw(inputs[0]), _raw(inputs[1])
    return _tie_share(g, a > b, a == b)


def maximum_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d max(a, b)/db = 1 where b > a, 1/2 where a == b, else 0"""
    a, b = _raw(inputs[0]), _raw(inputs[1])
    return _tie_share(g, b > a, a == b)


def minimum_grad_a(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d min(a, b)/da = 1 where a < b, 1/2 where a == b, else 0"""
    a, b = _raw(inputs[0]), _raw(inputs[1])
    return _tie_share(g, a < b, a == b)


def minimum_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d min(a, b)/db = 1 where b < a, 1/2 where a == b, else 0"""
    a, b = _raw(inputs[0]), _raw(inputs[1])
    return _tie_share(g, b < a, a == b)


def where_grad_a(g: Any, inputs: tuple, out: Any, ctx: np.ndarray) -> Any:
    """d where(c, a, b)/da = 1 where c, else 0"""
    return np.where(ctx, g, 0)


def where_grad_b(g: Any, inputs: tuple, out: Any, ctx: np.ndarray) -> Any:
    """d where(c, a, b)/db = 0 where c, else 1"""
    return np.where(ctx, 0, g)


# --------------------------------------------------------------------------------------------
# Comparisons: plain boolean tensors, outside the graph
# --------------------------------------------------------------------------------------------


class _Comparisons(threading.local):
    """Comparisons made while `autodiff.compile` traces a function (``log`` is None
    otherwise): each boolean result with its operands, so that a `where` whose mask came from
    one is recomputed from its operands in the compiled code instead of frozen. Sorting and
    the running extremes log the orders they compute from data here too."""

    log: list | None = None


COMPARISONS = _Comparisons()


def _compare(op: str, ufunc: Any) -> Any:
    def compare(a: Tensor, b: Any) -> Tensor:
        other = b.data if isinstance(b, Tensor) else b
        try:
            result = _constant(ufunc(a.data, other))
        except ValueError:
            raise ValueError(
                f"{op}: shapes {a.data.shape} and {np.shape(other)} do not broadcast"
            ) from None
        log = COMPARISONS.log
        if log is not None:
            log.append((result.data, op, a, b))
        return result

    compare.__name__ = ufunc.__name__
    compare.__doc__ = f"a {op} b elementwise, as a boolean tensor with no gradient."
    return compare


lt = _compare("<", np.less)
le = _compare("<=", np.less_equal)
gt = _compare(">", np.greater)
ge = _compare(">=", np.greater_equal)
eq = _compare("==", np.equal)
ne = _compare("!=", np.not_equal)


RULES = {
    "+": (add_grad, add_grad),
    "-": (add_grad, sub_grad_b),
    "*": (mul_grad_a, mul_grad_b),
    "/": (div_grad_a, div_grad_b),
    "neg": (neg_grad,),
    "**": (pow_const_grad,),
    "pow": (pow_grad_a, pow_grad_b),
    "exp": (exp_grad,),
    "log": (log_grad,),
    "sqrt": (sqrt_grad,),
    "abs": (abs_grad,),
    "tanh": (tanh_grad,),
    "sigmoid": (sigmoid_grad,),
    "relu": (relu_grad,),
    "leaky_relu": (leaky_relu_grad,),
    "clip": (clip_grad,),
    "maximum": (maximum_grad_a, maximum_grad_b),
    "minimum": (minimum_grad_a, minimum_grad_b),
    "where": (where_grad_a, where_grad_b),
}


# --------------------------------------------------------------------------------------------
# Each edge's local derivative as a short formula, for drawings. Per op: its inputs' letters in
# order (as the rules' docstrings name them), each with d op / d input. A drawing puts each
# input's label in place of its letter; {c} is the op's constant. An entry may be a function
# (names, constant) -> text. `draw` finds this table through the module of the op's rules, so
# an op's formula lives here, beside its rule; an op without one is drawn with its shapes.
# --------------------------------------------------------------------------------------------


def _pow_formula(names: dict, c: Any) -> str:
    """d(x ** c)/dx = c·x^(c - 1): 2·x for the square"""
    if c == 2:
        return f"2·{names['x']}"
    if c == 1:
        return "1"
    exponent = c - 1
    shown = f"{exponent:g}" if exponent >= 0 else f"({exponent:g})"
    return f"{c:g}·{names['x']}^{shown}"


def _clip_formula(names: dict, c: tuple) -> str:
    """d clip(x, low, high)/dx = 1 where low <= x <= high, else 0"""
    low, high = c
    inside = " <= ".join(
        part for part in (f"{low:g}" if low is not None else "", names["x"],
                          f"{high:g}" if high is not None else "") if part
    )  # fmt: skip
    return f"1 where {inside}"


EDGE_FORMULAS = {
    "+": {"a": "1", "b": "1"},
    "-": {"a": "1", "b": "-1"},
    "*": {"a": "{b}", "b": "{a}"},
    "/": {"a": "1/{b}", "b": "-{a}/{b}^2"},
    "neg": {"x": "-1"},
    "**": {"x": _pow_formula},
    "pow": {"a": "{b}·{a}^({b} - 1)", "b": "{a}^{b}·log {a}"},
    "exp": {"x": "exp({x})"},
    "log": {"x": "1/{x}"},
    "sqrt": {"x": "1/(2·sqrt({x}))"},
    "abs": {"x": "sign({x})"},
    "tanh": {"x": "1 - tanh^2"},
    "sigmoid": {"x": "sigmoid·(1 - sigmoid)"},
    "relu": {"x": "1 where {x} > 0"},
    "leaky_relu": {"x": "1 where {x} > 0, else {c}"},
    "softplus": {"x": "sigmoid({x})"},
    "clip": {"x": _clip_formula},
    "maximum": {"a": "1 where {a} > {b}", "b": "1 where {b} > {a}"},
    "minimum": {"a": "1 where {a} < {b}", "b": "1 where {b} < {a}"},
    "where": {"a": "1 where cond", "b": "1 where not cond"},
}
