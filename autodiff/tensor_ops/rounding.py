"""Rounding, remainders and tests of values: sign, floor, ceil, round, trunc, ``%``, ``//``,
fmod, isnan, isinf, isfinite.

Rounding is piecewise constant, so its gradient is zero (as PyTorch's, which also records the
node, so ``x.floor().sum().backward()`` works and gives zeros). ``a % b`` and ``fmod(a, b)``
have gradient 1 with respect to `a` and minus the rounded quotient with respect to `b`. The
tests of values give boolean tensors outside the graph.

>>> from autodiff import Tensor
>>> x = Tensor([-5.5, 5.5], requires_grad=True)
>>> x % 2, x.fmod(2)
(Tensor([0.5, 1.5], op='%'), Tensor([-1.5,  1.5], op='fmod'))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _constant, _make, as_tensor
from autodiff.tensor_ops._common import broadcast_error, integer, raw, zeros_like

# --------------------------------------------------------------------------------------------
# Rounding: zero gradient
# --------------------------------------------------------------------------------------------


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of x; zero gradient. NaN stays NaN (numpy's convention; PyTorch
    gives 0).

    >>> from autodiff import Tensor
    >>> Tensor([-2.0, 0.0, 3.0]).sign()
    Tensor([-1.,  0.,  1.])
    """
    return _make(np.sign(x.data), (x,), "sign")


def floor(x: Tensor) -> Tensor:
    """The largest integer <= x, elementwise; zero gradient."""
    return _make(np.floor(x.data), (x,), "floor")


def ceil(x: Tensor) -> Tensor:
    """The smallest integer >= x, elementwise; zero gradient."""
    return _make(np.ceil(x.data), (x,), "ceil")


def trunc(x: Tensor) -> Tensor:
    """x rounded towards zero, elementwise; zero gradient."""
    return _make(np.trunc(x.data), (x,), "trunc")


def round_(x: Tensor, decimals: int = 0) -> Tensor:
    """x rounded to `decimals` decimal places, halves to even (as PyTorch and numpy: 0.5 and
    -0.5 round to 0, 2.5 to 2); negative `decimals` round to tens, hundreds...; zero gradient.

    >>> from autodiff import Tensor
    >>> Tensor([0.5, 1.5, 2.5, 1.2345]).round(), Tensor([1.2345, 1250.0]).round(decimals=-2)
    (Tensor([0., 2., 2., 1.]), Tensor([   0., 1200.]))
    """
    decimals = integer(decimals, "decimals", "round")
    return _make(np.round(x.data, decimals), (x,), "round", decimals)


def zero_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d round(x)/dx = 0 wherever it exists (rounding is piecewise constant)"""
    return zeros_like(g)


# --------------------------------------------------------------------------------------------
# Remainders and floor division
# --------------------------------------------------------------------------------------------


def _binary(op: str, a: Any, b: Any, ufunc: Any) -> Tensor:
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    a, b = as_tensor(a, like, op), as_tensor(b, like, op)
    if b.data.dtype.kind in "iub" and a.data.dtype.kind in "iub" and not b.data.all():
        # integers have no inf or nan for x / 0: PyTorch raises, where numpy warns and gives 0
        raise ZeroDivisionError(
            f"{op}: integer division by zero (the divisor, of shape {b.data.shape}, holds a 0)"
        )
    try:
        with np.errstate(divide="ignore", invalid="ignore"):  # floats: inf or nan, as PyTorch
            data = ufunc(a.data, b.data)
    except ValueError:
        raise broadcast_error(op, a, b) from None
    return _make(data, (a, b), op)


def remainder(a: Any, b: Any) -> Tensor:
    """a - floor(a / b) * b, broadcasting: the remainder takes the sign of the divisor `b`
    (PyTorch's ``remainder`` and ``%``, Python's and numpy's ``%``).

    >>> from autodiff import Tensor
    >>> Tensor([5.5, -5.5]) % Tensor([2.0, 2.0])
    Tensor([1.5, 0.5])
    """
    return _binary("%", a, b, np.remainder)


def rremainder(a: Tensor, b: Any) -> Tensor:  # b % a
    return _binary("%", b, a, np.remainder)


def fmod(a: Any, b: Any) -> Tensor:
    """a - trunc(a / b) * b, broadcasting: the remainder takes the sign of the dividend `a`
    (C's fmod, ``torch.fmod``).

    >>> from autodiff import Tensor, fmod
    >>> fmod(Tensor([5.5, -5.5]), 2.0)
    Tensor([ 1.5, -1.5])
    """
    return _binary("fmod", a, b, np.fmod)


def floor_divide(a: Any, b: Any) -> Tensor:
    """floor(a / b), broadcasting, as Python's ``//`` (``1.0 // 0.1`` is 9.0, the quotient that
    goes with ``%``); zero gradient (PyTorch has none and raises in backward).

    >>> from autodiff import Tensor
    >>> Tensor([5.5, -5.5]) // 2
    Tensor([ 2., -3.])
    """
    return _binary("//", a, b, np.floor_divide)


def rfloor_divide(a: Tensor, b: Any) -> Tensor:  # b // a
    return _binary("//", b, a, np.floor_divide)


def remainder_grad_a(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d (a % b)/da = 1"""
    return g


def remainder_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d (a % b)/db = -floor(a / b), the quotient that goes with the remainder"""
    with np.errstate(divide="ignore", invalid="ignore"):  # b = 0: -inf or nan, as PyTorch
        quotient = np.floor_divide(raw(inputs[0]), raw(inputs[1]))
    return g * -quotient


def fmod_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d fmod(a, b)/db = -trunc(a / b)"""
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = np.trunc(raw(inputs[0]) / raw(inputs[1]))
    return g * -quotient


# --------------------------------------------------------------------------------------------
# Tests of values: boolean tensors, outside the graph
# --------------------------------------------------------------------------------------------


def isnan(x: Tensor) -> Tensor:
    """Where x is NaN, as a boolean tensor with no gradient.

    >>> from autodiff import Tensor
    >>> Tensor([1.0, float("nan"), float("inf")]).isnan()
    Tensor([False,  True, False], dtype=bool)
    """
    return _constant(np.isnan(x.data))


def isinf(x: Tensor) -> Tensor:
    """Where x is +inf or -inf, as a boolean tensor with no gradient."""
    return _constant(np.isinf(x.data))


def isfinite(x: Tensor) -> Tensor:
    """Where x is neither infinite nor NaN, as a boolean tensor with no gradient."""
    return _constant(np.isfinite(x.data))


RULES = {
    "sign": (zero_grad,),
    "floor": (zero_grad,),
    "ceil": (zero_grad,),
    "trunc": (zero_grad,),
    "round": (zero_grad,),
    "%": (remainder_grad_a, remainder_grad_b),
    "fmod": (remainder_grad_a, fmod_grad_b),
    "//": (zero_grad, zero_grad),
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS).
EDGE_FORMULAS = {
    "sign": {"x": "0"},
    "floor": {"x": "0"},
    "ceil": {"x": "0"},
    "trunc": {"x": "0"},
    "round": {"x": "0"},
    "%": {"a": "1", "b": "-floor({a}/{b})"},
    "fmod": {"a": "1", "b": "-trunc({a}/{b})"},
    "//": {"a": "0", "b": "0"},
}
