"""Activation functions with PyTorch's names, arguments, values and gradients: gelu, silu, elu,
selu, celu, softsign, hardtanh, relu6, hardsigmoid, hardswish, mish, logsigmoid, softmin and
softplus (with ``beta`` and ``threshold``).

At a kink the derivative is PyTorch's choice, so gradients match it everywhere: hardtanh and
relu6 take 0 at their edges (``min_val``, ``max_val``; 0 and 6), hardsigmoid 0 at -3 and 3,
hardswish 0 at -3 and 1 at 3, elu ``alpha`` at 0, softplus exactly 1 above ``threshold``.

>>> from autodiff import Tensor, gelu
>>> x = Tensor([-1.0, 0.0, 1.0], requires_grad=True)
>>> gelu(x).sum().backward()
>>> x.grad  # Phi(x) + x phi(x)
array([-0.08331547,  0.5       ,  1.08331547])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _make
from autodiff.tensor_ops import reduce as rd
from autodiff.tensor_ops._common import dim_of, number, raw, sigmoid_of, stable_sigmoid
from autodiff.tensor_ops.maths import erfc, erfc_array

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_TANH_SCALE = math.sqrt(2 / math.pi)  # gelu's tanh approximation: tanh(c (x + k x**3))
_TANH_CUBE = 0.044715
# selu's constants (Klambauer et al., 2017), as PyTorch's
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# --------------------------------------------------------------------------------------------
# gelu, silu, mish
# --------------------------------------------------------------------------------------------


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF (exact, via erfc), or with
    ``approximate="tanh"`` 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3))), as PyTorch.

    >>> from autodiff import Tensor, gelu
    >>> gelu(Tensor([1.0])), gelu(Tensor([1.0]), approximate="tanh")
    (Tensor([0.84134475]), Tensor([0.84119199]))
    """
    data = x.data
    if approximate == "none":
        # Phi(x) = erfc(-x / sqrt 2) / 2: no cancellation for large negative x, unlike 1 + erf
        cdf = erfc_array(data * -_SQRT_HALF) * 0.5
        return _make(data * cdf, (x,), "gelu", ("none", cdf))
    if approximate == "tanh":
        inner = np.tanh((data + data * data * data * _TANH_CUBE) * _TANH_SCALE)
        return _make(data * (1 + inner) * 0.5, (x,), "gelu", ("tanh", None))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def gelu_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d gelu(x)/dx = Phi(x) + x phi(x) (exact); for 'tanh', with t = tanh(c (x + k x**3)):
    (1 + t) / 2 + x (1 - t**2) c (1 + 3 k x**2) / 2"""
    x = inputs[0]
    approximate, cdf = ctx
    if approximate == "tanh":
        square = x * x
        t = np.tanh((x + square * x * _TANH_CUBE) * _TANH_SCALE)
        slope = (1 - t * t) * ((1 + square * (3 * _TANH_CUBE)) * _TANH_SCALE)
        return g * ((1 + t) * 0.5 + x * slope * 0.5)
    if isinstance(x, Tensor):  # create_graph: Phi(x) as a differentiable function of x
        cdf = erfc(x * -_SQRT_HALF) * 0.5
    return g * (cdf + x * np.exp(x * x * -0.5) * _INV_SQRT_2PI)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish), without overflow for large |x|.

    >>> from autodiff import Tensor, silu
    >>> silu(Tensor([-1000.0, 0.0, 1000.0]))
    Tensor([  -0.,    0., 1000.])
    """
    data = x.data
    return _make(data * stable_sigmoid(data), (x,), "silu")


def silu_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d silu(x)/dx = s (1 + x (1 - s)), s = sigmoid(x)"""
    x = inputs[0]
    s = sigmoid_of(x)
    return g * (s * (1 + x * (1 - s)))


def _softplus_array(x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # numpy warns on NaN here; the NaN just propagates
        return np.logaddexp(0, x)


def mish(x: Tensor) -> Tensor:
    """x * tanh(softplus(x)).

    >>> from autodiff import Tensor, mish
    >>> mish(Tensor([0.0, 1.0, 30.0]))
    Tensor([ 0.        ,  0.86509839, 30.        ])
    """
    data = x.data
    return _make(data * np.tanh(_softplus_array(data)), (x,), "mish")


def mish_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d mish(x)/dx = t + x sigmoid(x) (1 - t**2), t = tanh(softplus(x))"""
    x = inputs[0]
    t = np.tanh(x.softplus() if isinstance(x, Tensor) else _softplus_array(x))
    return g * (t + x * sigmoid_of(x) * (1 - t * t))


# --------------------------------------------------------------------------------------------
# elu, selu, celu: one op, PyTorch's elu kernel with (alpha, scale, input_scale)
# --------------------------------------------------------------------------------------------


def _elu(x: Tensor, alpha: float, scale: float, input_scale: float, op: str) -> Tensor:
    # scale * x where x > 0, else alpha * scale * (exp(input_scale * x) - 1)
    data = x.data
    negative = np.expm1(np.minimum(data, 0) * input_scale) * (alpha * scale)
    positive = data * scale if scale != 1 else data
    return _make(np.where(data > 0, positive, negative), (x,), op, (alpha, scale, input_scale))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha (e**x - 1); its derivative at 0 is alpha (as PyTorch).

    >>> from autodiff import Tensor, elu
    >>> elu(Tensor([-1.0, 2.0]), alpha=2.0)
    Tensor([-1.26424112,  2.        ])
    """
    return _elu(x, number(alpha, "alpha", "elu"), 1.0, 1.0, "elu")


def selu(x: Tensor) -> Tensor:
    """scale * elu(x, alpha) with PyTorch's constants alpha = 1.6733, scale = 1.0507.

    >>> from autodiff import Tensor, selu
    >>> selu(Tensor([-1.0, 1.0]))
    Tensor([-1.11133074,  1.05070099])
    """
    return _elu(x, SELU_ALPHA, SELU_SCALE, 1.0, "selu")


def celu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha (e**(x / alpha) - 1): continuously differentiable at 0.

    >>> from autodiff import Tensor, celu
    >>> celu(Tensor([-1.0, 1.0]), alpha=2.0)
    Tensor([-0.78693868,  1.        ])
    """
    alpha = number(alpha, "alpha", "celu")
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (it divides x)")
    return _elu(x, alpha, 1.0, 1 / alpha, "celu")


def elu_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d elu(x)/dx = scale where x > 0, else alpha scale input_scale exp(input_scale x)"""
    alpha, scale, input_scale = ctx
    x = inputs[0]
    negative = np.exp(np.minimum(x, 0) * input_scale) * (alpha * scale * input_scale)
    return np.where(raw(x) > 0, g * scale, g * negative)


# --------------------------------------------------------------------------------------------
# softsign, logsigmoid, softplus, softmin
# --------------------------------------------------------------------------------------------


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|).

    >>> from autodiff import Tensor, softsign
    >>> softsign(Tensor([-3.0, 1.0]))
    Tensor([-0.75,  0.5 ])
    """
    data = x.data
    return _make(data / (1 + np.abs(data)), (x,), "softsign")


def softsign_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d softsign(x)/dx = 1 / (1 + |x|)**2"""
    denominator = 1 + np.abs(inputs[0])
    return g / (denominator * denominator)


def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|.

    >>> from autodiff import Tensor, logsigmoid
    >>> logsigmoid(Tensor([-1000.0, 0.0, 1000.0])).data.tolist()
    [-1000.0, -0.6931471805599453, 0.0]
    """
    data = x.data
    # PyTorch's form: min(x, 0) - log(1 + e**-|x|)
    return _make(np.minimum(data, 0) - np.log1p(np.exp(-np.abs(data))), (x,), "logsigmoid")


def logsigmoid_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d logsigmoid(x)/dx = sigmoid(-x)"""
    return g * sigmoid_of(-inputs[0])


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e**(beta x)) / beta, and x itself where beta x > threshold (PyTorch's
    linear regime); stable for large |x|.

    >>> from autodiff import Tensor
    >>> Tensor([0.0, 30.0]).softplus(), Tensor([0.0]).softplus(beta=2.0)
    (Tensor([ 0.69314718, 30.        ]), Tensor([0.34657359]))
    """
    beta = number(beta, "beta", "softplus")
    threshold = number(threshold, "threshold", "softplus")
    if beta == 0:
        raise ValueError("softplus: beta must not be 0 (it divides the result)")
    data = x.data
    scaled = data * beta if beta != 1 else data
    soft = _softplus_array(scaled)
    if beta != 1:
        soft /= beta
    return _make(np.where(scaled > threshold, data, soft), (x,), "softplus", (beta, threshold))


def softplus_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d softplus(x)/dx = sigmoid(beta x), and 1 where beta x > threshold"""
    beta, threshold = ctx
    x = inputs[0]
    scaled = x * beta if beta != 1 else x
    return np.where(raw(scaled) > threshold, g, g * sigmoid_of(scaled))


def softmin(x: Tensor, dim: int) -> Tensor:
    """softmax(-x) along `dim`: weights that favour the smallest entries. `dim` is required
    (PyTorch's implicit choice is deprecated). Composed from softmax: no rule of its own.

    >>> from autodiff import Tensor, softmin
    >>> softmin(Tensor([0.0, 1000.0]), dim=0)
    Tensor([1., 0.])
    """
    return rd.softmax(-x, axis=dim_of(dim, x.data.ndim, "softmin"))


# --------------------------------------------------------------------------------------------
# hardtanh, relu6, hardsigmoid, hardswish: piecewise linear
# --------------------------------------------------------------------------------------------


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clamped to [min_val, max_val]; the gradient is 1 strictly inside, 0 elsewhere
    (at the edges too, as PyTorch).

    >>> from autodiff import Tensor, hardtanh
    >>> hardtanh(Tensor([-2.0, 0.5, 2.0]))
    Tensor([-1. ,  0.5,  1. ])
    """
    low = number(min_val, "min_val", "hardtanh")
    high = number(max_val, "max_val", "hardtanh")
    if low > high:
        raise ValueError(f"hardtanh: min_val {low!r} is greater than max_val {high!r}")
    return _make(np.clip(x.data, low, high), (x,), "hardtanh", (low, high))


def relu6(x: Tensor) -> Tensor:
    """min(max(x, 0), 6); the gradient is 0 at 0 and at 6 (as PyTorch).

    >>> from autodiff import Tensor, relu6
    >>> relu6(Tensor([-1.0, 3.0, 7.0]))
    Tensor([0., 3., 6.])
    """
    return _make(np.clip(x.data, 0, 6), (x,), "relu6", (0, 6))


def hardtanh_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d hardtanh(x)/dx = 1 where min_val < x < max_val, else 0"""
    low, high = ctx
    x = raw(inputs[0])
    return np.where((x > low) & (x < high), g, 0)


def hardsigmoid(x: Tensor) -> Tensor:
    """min(max(x + 3, 0), 6) / 6: 0 below -3, 1 above 3, linear between.

    >>> from autodiff import Tensor, hardsigmoid
    >>> hardsigmoid(Tensor([-4.0, 0.0, 1.5]))
    Tensor([0.  , 0.5 , 0.75])
    """
    return _make(np.clip(x.data + 3, 0, 6) / 6, (x,), "hardsigmoid")


def hardsigmoid_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d hardsigmoid(x)/dx = 1/6 where -3 < x < 3, else 0"""
    x = raw(inputs[0])
    return np.where((x > -3) & (x < 3), g / 6, 0)


def hardswish(x: Tensor) -> Tensor:
    """x * hardsigmoid(x): 0 below -3, x above 3.

    >>> from autodiff import Tensor, hardswish
    >>> hardswish(Tensor([-4.0, 1.0, 4.0]))
    Tensor([-0.        ,  0.66666667,  4.        ])
    """
    data = x.data
    return _make(data * np.clip(data + 3, 0, 6) / 6, (x,), "hardswish")


def hardswish_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d hardswish(x)/dx = 0 where x <= -3, x / 3 + 1/2 where -3 < x < 3, 1 where x >= 3"""
    x = inputs[0]
    xr = raw(x)
    return np.where(xr <= -3, 0, np.where(xr < 3, g * (x / 3 + 0.5), g))


RULES = {
    "gelu": (gelu_grad,),
    "silu": (silu_grad,),
    "mish": (mish_grad,),
    "elu": (elu_grad,),
    "selu": (elu_grad,),
    "celu": (elu_grad,),
    "softsign": (softsign_grad,),
    "logsigmoid": (logsigmoid_grad,),
    "softplus": (softplus_grad,),
    "hardtanh": (hardtanh_grad,),
    "relu6": (hardtanh_grad,),
    "hardsigmoid": (hardsigmoid_grad,),
    "hardswish": (hardswish_grad,),
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS).


def _gelu_formula(names: dict, c: tuple) -> str:
    """d gelu(x)/dx = Phi(x) + x phi(x); the tanh form approximates it"""
    x = names["x"]
    return f"Φ({x}) + {x}·φ({x})" + (" (tanh form)" if c[0] == "tanh" else "")


def _elu_formula(names: dict, c: tuple) -> str:
    """d elu(x)/dx = scale where x > 0, else alpha scale input_scale exp(input_scale x)"""
    alpha, scale, input_scale = c
    x = names["x"]
    slope = alpha * scale * input_scale
    inner = x if input_scale == 1 else f"{x}/{alpha:g}"
    factor = "" if slope == 1 else f"{slope:.4g}·"
    return f"{scale:.4g} where {x} > 0, else {factor}exp({inner})"


def _softplus_formula(names: dict, c: tuple) -> str:
    """d softplus(x)/dx = sigmoid(beta x), and 1 where beta x > threshold"""
    beta, threshold = c
    scaled = names["x"] if beta == 1 else f"{beta:g}·{names['x']}"
    return f"sigmoid({scaled}), 1 where {scaled} > {threshold:g}"


def _hardtanh_formula(names: dict, c: tuple) -> str:
    """d hardtanh(x)/dx = 1 where min_val < x < max_val, else 0"""
    low, high = c
    return f"1 where {low:g} < {names['x']} < {high:g}"


EDGE_FORMULAS = {
    "gelu": {"x": _gelu_formula},
    "silu": {"x": "s·(1 + {x}·(1 - s)), s = sigmoid({x})"},
    "mish": {"x": "t + {x}·sigmoid({x})·(1 - t^2), t = tanh(softplus({x}))"},
    "elu": {"x": _elu_formula},
    "selu": {"x": _elu_formula},
    "celu": {"x": _elu_formula},
    "softsign": {"x": "1/(1 + |{x}|)^2"},
    "logsigmoid": {"x": "sigmoid(-{x})"},
    "softplus": {"x": _softplus_formula},
    "hardtanh": {"x": _hardtanh_formula},
    "relu6": {"x": _hardtanh_formula},
    "hardsigmoid": {"x": "1/6 where -3 < {x} < 3"},
    "hardswish": {"x": "{x}/3 + 1/2 where -3 < {x} < 3, 1 above"},
}
