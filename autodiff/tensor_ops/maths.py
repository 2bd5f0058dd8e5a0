"""Smooth elementwise maths: trigonometric and hyperbolic functions, erf, logs and powers of 2
and 10, rsqrt, log1p/expm1, and the two-input logaddexp, atan2 and lerp.

Values and gradients follow PyTorch's, domain edges included: ``asin(2)`` is nan, ``log2(0)``
is -inf and its gradient inf, ``rsqrt(0)`` is inf. numpy has no erf, so `erf_array` computes
it with W. J. Cody's rational approximations (accurate to float64 precision).

>>> from autodiff import Tensor
>>> x = Tensor([0.0, 0.5], requires_grad=True)
>>> x.sin().sum().backward()
>>> x.grad  # cos(x)
array([1.        , 0.87758256])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _make, as_tensor
from autodiff.tensor_ops import elementwise as ew
from autodiff.tensor_ops._common import broadcast_error, raw, sigmoid_of

TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
LN2 = math.log(2)
LN10 = math.log(10)

# --------------------------------------------------------------------------------------------
# The error function without scipy: W. J. Cody, "Rational Chebyshev approximations for the
# error function", Math. Comp. 23 (1969) 631-637, as in his CALERF routine (netlib specfun).
# Three ranges of |x|: erf(x) = x R1(x**2) up to 0.46875; erfc(x) = exp(-x**2) R2(x) up to 4;
# erfc(x) = exp(-x**2) (1/sqrt(pi) - R3(1/x**2) / x**2) / x beyond. Each R is a ratio of two
# polynomials, coefficients highest power first; the denominators are monic.
# --------------------------------------------------------------------------------------------

_ERF_NUM = (
    1.85777706184603153e-1, 3.16112374387056560e00, 1.13864154151050156e02,
    3.77485237685302021e02, 3.20937758913846947e03,
)  # fmt: skip
_ERF_DEN = (
    2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
    2.84423683343917062e03,
)  # fmt: skip
_MID_NUM = (
    2.15311535474403846e-8, 5.64188496988670089e-1, 8.88314979438837594e00,
    6.61191906371416295e01, 2.98635138197400131e02, 8.81952221241769090e02,
    1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
)  # fmt: skip
_MID_DEN = (
    1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
    1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
    3.43936767414372164e03, 1.23033935480374942e03,
)  # fmt: skip
_FAR_NUM = (
    1.63153871373020978e-2, 3.05326634961232344e-1, 3.60344899949804439e-1,
    1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4,
)  # fmt: skip
_FAR_DEN = (
    2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
    6.05183413124413191e-2, 2.33520497626869185e-3,
)  # fmt: skip
_INV_SQRT_PI = 1 / math.sqrt(math.pi)
_SMALL = 0.46875  # below: the series-like R1 for erf; above: erfc's forms
_UNDERFLOW = 26.55  # erfc(x) < 1e-307 beyond: 0
_BY_ELEMENT = 512  # up to this many elements math.erf is faster than the vectorised form


def _ratio(z: np.ndarray, num: tuple, den: tuple) -> np.ndarray:
    """num(z) / den(z) by Horner's rule, in place (den is monic)."""
    top = z * num[0]
    for c in num[1:-1]:
        top += c
        top *= z
    top += num[-1]
    bottom = z + den[0]
    for c in den[1:]:
        bottom *= z
        bottom += c
    top /= bottom
    return top


def _exp_minus_square(y: np.ndarray) -> np.ndarray:
    """exp(-y**2) without the rounding error of y*y: y = h + d with h a multiple of 1/16, so
    h*h is exact and exp(-y**2) = exp(-h*h) exp(-(y - h)(y + h))."""
    h = np.trunc(y * 16)
    h /= 16
    d = (y - h) * (y + h)
    return np.exp(-(h * h)) * np.exp(-d)


def _erfc_of_large(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y > 0.46875 (no NaN)."""
    out = np.zeros_like(y)
    mid = y <= 4.0
    ym = y[mid]
    out[mid] = _exp_minus_square(ym) * _ratio(ym, _MID_NUM, _MID_DEN)
    far = ~mid & (y < _UNDERFLOW)
    yf = y[far]
    z = 1 / (yf * yf)
    series = _ratio(z, _FAR_NUM, _FAR_DEN)
    series *= z
    out[far] = _exp_minus_square(yf) * ((_INV_SQRT_PI - series) / yf)
    return out


def _erf_kernel(x: np.ndarray, complement: bool) -> np.ndarray:
    """erf(x) or erfc(x) of a float64 array by Cody's approximations."""
    y = np.abs(x)
    out = np.array(x, dtype=np.float64)  # NaN stays NaN
    small = y <= _SMALL
    xs = out[small]
    value = _ratio(xs * xs, _ERF_NUM, _ERF_DEN) * xs
    out[small] = 1 - value if complement else value
    large = y > _SMALL  # False for NaN
    xl = x[large]
    tail = _erfc_of_large(y[large])
    if complement:
        out[large] = np.where(xl < 0, 2 - tail, tail)
    else:
        out[large] = np.copysign((0.5 - tail) + 0.5, xl)
    return out


def _special(x: Any, complement: bool) -> np.ndarray:
    data = np.asarray(x)
    dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float64)
    if data.size <= _BY_ELEMENT:
        scalar = math.erfc if complement else math.erf
        flat = np.fromiter(map(scalar, data.ravel().tolist()), np.float64, data.size)
        out = flat.reshape(data.shape)
    else:
        out = _erf_kernel(data.astype(np.float64, copy=False), complement)
    return out.astype(dtype, copy=False)


def erf_array(x: Any) -> np.ndarray:
    """The error function of an ndarray, to float64 precision (float32 stays float32).

    >>> erf_array(np.array([0.0, 1.0, -3.0]))
    array([ 0.        ,  0.84270079, -0.99997791])
    """
    return _special(x, complement=False)


def erfc_array(x: Any) -> np.ndarray:
    """1 - erf(x) of an ndarray, without the cancellation for large x.

    >>> float(erfc_array(np.array(10.0)))
    2.088487583762545e-45
    """
    return _special(x, complement=True)


# --------------------------------------------------------------------------------------------
# Functions of one tensor
# --------------------------------------------------------------------------------------------


def sin(x: Tensor) -> Tensor:
    """sin(x) elementwise."""
    return _make(np.sin(x.data), (x,), "sin")


def cos(x: Tensor) -> Tensor:
    """cos(x) elementwise."""
    return _make(np.cos(x.data), (x,), "cos")


def tan(x: Tensor) -> Tensor:
    """tan(x) elementwise."""
    return _make(np.tan(x.data), (x,), "tan")


def asin(x: Tensor) -> Tensor:
    """arcsin(x) elementwise (nan outside [-1, 1]).

    >>> from autodiff import Tensor
    >>> Tensor([1.0, 0.5]).asin()
    Tensor([1.57079633, 0.52359878])
    """
    return _make(np.arcsin(x.data), (x,), "asin")


def acos(x: Tensor) -> Tensor:
    """arccos(x) elementwise (nan outside [-1, 1])."""
    return _make(np.arccos(x.data), (x,), "acos")


def atan(x: Tensor) -> Tensor:
    """arctan(x) elementwise."""
    return _make(np.arctan(x.data), (x,), "atan")


def sinh(x: Tensor) -> Tensor:
    """sinh(x) elementwise (overflow gives inf)."""
    return _make(np.sinh(x.data), (x,), "sinh")


def cosh(x: Tensor) -> Tensor:
    """cosh(x) elementwise (overflow gives inf)."""
    return _make(np.cosh(x.data), (x,), "cosh")


def erf(x: Tensor) -> Tensor:
    """The error function 2/sqrt(pi) * integral of exp(-t**2) from 0 to x, elementwise.

    >>> from autodiff import Tensor
    >>> Tensor([0.0, 1.0]).erf()
    Tensor([0.        , 0.84270079])
    """
    return _make(erf_array(x.data), (x,), "erf")


def erfc(x: Tensor) -> Tensor:
    """1 - erf(x) elementwise, accurate where erf(x) is close to 1."""
    return _make(erfc_array(x.data), (x,), "erfc")


def log2(x: Tensor) -> Tensor:
    """Base-2 logarithm elementwise (log2(0) is -inf, negative x nan)."""
    return _make(np.log2(x.data), (x,), "log2")


def log10(x: Tensor) -> Tensor:
    """Base-10 logarithm elementwise."""
    return _make(np.log10(x.data), (x,), "log10")


def log1p(x: Tensor) -> Tensor:
    """log(1 + x) elementwise, accurate for small x."""
    return _make(np.log1p(x.data), (x,), "log1p")


def exp2(x: Tensor) -> Tensor:
    """2 ** x elementwise (overflow gives inf)."""
    return _make(np.exp2(x.data), (x,), "exp2")


def expm1(x: Tensor) -> Tensor:
    """e ** x - 1 elementwise, accurate for small x."""
    return _make(np.expm1(x.data), (x,), "expm1")


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x) elementwise (rsqrt(0) is inf).

    >>> from autodiff import Tensor
    >>> Tensor([4.0, 0.0]).rsqrt()
    Tensor([0.5, inf])
    """
    data = x.data
    with np.errstate(divide="ignore"):  # 1 / 0 is the intended inf
        return _make(1 / np.sqrt(data), (x,), "rsqrt")


def sin_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d sin(x)/dx = cos(x)"""
    return g * np.cos(inputs[0])


def cos_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d cos(x)/dx = -sin(x)"""
    return g * -np.sin(inputs[0])


def tan_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d tan(x)/dx = 1 + tan(x)**2"""
    return g * (1 + out * out)


def asin_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d asin(x)/dx = 1 / sqrt(1 - x**2)"""
    x = inputs[0]
    return g / np.sqrt(1 - x * x)


def acos_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d acos(x)/dx = -1 / sqrt(1 - x**2)"""
    x = inputs[0]
    return -g / np.sqrt(1 - x * x)


def atan_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d atan(x)/dx = 1 / (1 + x**2)"""
    x = inputs[0]
    return g / (1 + x * x)


def sinh_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d sinh(x)/dx = cosh(x)"""
    return g * np.cosh(inputs[0])


def cosh_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d cosh(x)/dx = sinh(x)"""
    return g * np.sinh(inputs[0])


def erf_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d erf(x)/dx = 2 / sqrt(pi) * exp(-x**2)"""
    x = inputs[0]
    return g * (np.exp(-(x * x)) * TWO_OVER_SQRT_PI)


def erfc_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d erfc(x)/dx = -2 / sqrt(pi) * exp(-x**2)"""
    x = inputs[0]
    return g * (np.exp(-(x * x)) * -TWO_OVER_SQRT_PI)


def log2_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d log2(x)/dx = 1 / (x ln 2)"""
    return g / (inputs[0] * LN2)


def log10_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d log10(x)/dx = 1 / (x ln 10)"""
    return g / (inputs[0] * LN10)


def log1p_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d log1p(x)/dx = 1 / (1 + x)"""
    return g / (1 + inputs[0])


def exp2_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d 2**x/dx = 2**x ln 2"""
    return g * (out * LN2)


def expm1_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d expm1(x)/dx = e**x = expm1(x) + 1"""
    return g * (out + 1)


def rsqrt_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d x**-1/2/dx = -x**-3/2 / 2 = -rsqrt(x)**3 / 2"""
    return g * (out * out * out * -0.5)


# --------------------------------------------------------------------------------------------
# Functions of two or three tensors, broadcasting
# --------------------------------------------------------------------------------------------


def _operands(op: str, *xs: Any) -> tuple:
    """Tensors for `xs` (numbers take the dtype of the first Tensor among them)."""
    like = next((x for x in xs if isinstance(x, Tensor)), None)
    return tuple(as_tensor(x, like, op) for x in xs)


def logaddexp(a: Any, b: Any) -> Tensor:
    """log(e**a + e**b) elementwise, broadcasting; stable for large |a|, |b|.

    >>> from autodiff import Tensor, logaddexp
    >>> logaddexp(Tensor([1000.0, 0.0]), Tensor([1000.0, -1000.0]))
    Tensor([1000.69314718,    0.        ])
    """
    a, b = _operands("logaddexp", a, b)
    try:
        data = np.logaddexp(a.data, b.data)
    except ValueError:
        raise broadcast_error("logaddexp", a, b) from None
    return _make(data, (a, b), "logaddexp")


def atan2(a: Any, b: Any) -> Tensor:
    """The angle of the point (b, a), as ``torch.atan2(input, other)`` and ``np.arctan2(y, x)``;
    its gradient at the origin is 0, as in PyTorch.

    >>> from autodiff import Tensor, atan2
    >>> atan2(Tensor([1.0, 0.0]), Tensor([0.0, -1.0]))
    Tensor([1.57079633, 3.14159265])
    """
    a, b = _operands("atan2", a, b)
    try:
        data = np.arctan2(a.data, b.data)
    except ValueError:
        raise broadcast_error("atan2", a, b) from None
    return _make(data, (a, b), "atan2")


def lerp(start: Any, end: Any, weight: Any) -> Tensor:
    """start + weight * (end - start), broadcasting; `weight` is a number or a tensor. As in
    PyTorch, weights of 1/2 and above use end - (end - start) * (1 - weight), which is exact at
    weight 1.

    >>> from autodiff import Tensor, lerp
    >>> lerp(Tensor([0.0, 10.0]), Tensor([1.0, 20.0]), 0.25)
    Tensor([ 0.25, 12.5 ])
    """
    start, end, weight = _operands("lerp", start, end, weight)
    s, e, w = start.data, end.data, weight.data
    try:
        np.broadcast_shapes(s.shape, e.shape, w.shape)
    except ValueError:
        raise broadcast_error("lerp", start, end, weight) from None
    step = e - s
    data = np.where(np.abs(w) < 0.5, s + w * step, e - step * (1 - w))
    return _make(data, (start, end, weight), "lerp")


def _sigmoid_of_difference(a: Any, b: Any) -> Any:
    # 1 / (1 + e**(b - a)), as PyTorch: nan when both are the same infinity
    with np.errstate(invalid="ignore"):  # inf - inf is the intended nan
        return sigmoid_of(a - b)


def logaddexp_grad_a(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d logaddexp(a, b)/da = e**a / (e**a + e**b) = sigmoid(a - b)"""
    return g * _sigmoid_of_difference(inputs[0], inputs[1])


def logaddexp_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d logaddexp(a, b)/db = sigmoid(b - a)"""
    return g * _sigmoid_of_difference(inputs[1], inputs[0])


def _inverse_radius_squared(a: Any, b: Any) -> Any:
    """1 / (a**2 + b**2), and 0 at the origin (PyTorch's convention for atan2's gradient)."""
    squared = a * a + b * b
    origin = raw(squared) == 0
    return np.where(origin, 0, 1 / np.where(origin, 1, squared))


def atan2_grad_a(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d atan2(a, b)/da = b / (a**2 + b**2)"""
    a, b = inputs
    return g * (b * _inverse_radius_squared(a, b))


def atan2_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d atan2(a, b)/db = -a / (a**2 + b**2)"""
    a, b = inputs
    return g * (-a * _inverse_radius_squared(a, b))


def lerp_grad_start(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d lerp(s, e, w)/ds = 1 - w"""
    return g * (1 - inputs[2])


def lerp_grad_end(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d lerp(s, e, w)/de = w"""
    return g * inputs[2]


def lerp_grad_weight(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d lerp(s, e, w)/dw = e - s"""
    return g * (inputs[1] - inputs[0])


def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """x limited to [min, max] (either may be None), PyTorch's name for `clip`: the gradient is
    1 inside, edges included, and 0 where x is clamped.

    >>> from autodiff import Tensor
    >>> Tensor([-3.0, 0.5, 3.0]).clamp(min=0.0)
    Tensor([0. , 0.5, 3. ])
    """
    return ew.clip(x, min, max)


RULES = {
    "sin": (sin_grad,),
    "cos": (cos_grad,),
    "tan": (tan_grad,),
    "asin": (asin_grad,),
    "acos": (acos_grad,),
    "atan": (atan_grad,),
    "sinh": (sinh_grad,),
    "cosh": (cosh_grad,),
    "erf": (erf_grad,),
    "erfc": (erfc_grad,),
    "log2": (log2_grad,),
    "log10": (log10_grad,),
    "log1p": (log1p_grad,),
    "exp2": (exp2_grad,),
    "expm1": (expm1_grad,),
    "rsqrt": (rsqrt_grad,),
    "logaddexp": (logaddexp_grad_a, logaddexp_grad_b),
    "atan2": (atan2_grad_a, atan2_grad_b),
    "lerp": (lerp_grad_start, lerp_grad_end, lerp_grad_weight),
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS).
EDGE_FORMULAS = {
    "sin": {"x": "cos({x})"},
    "cos": {"x": "-sin({x})"},
    "tan": {"x": "1 + tan^2"},
    "asin": {"x": "1/sqrt(1 - {x}^2)"},
    "acos": {"x": "-1/sqrt(1 - {x}^2)"},
    "atan": {"x": "1/(1 + {x}^2)"},
    "sinh": {"x": "cosh({x})"},
    "cosh": {"x": "sinh({x})"},
    "erf": {"x": "2/sqrt(π)·exp(-{x}^2)"},
    "erfc": {"x": "-2/sqrt(π)·exp(-{x}^2)"},
    "log2": {"x": "1/({x}·ln 2)"},
    "log10": {"x": "1/({x}·ln 10)"},
    "log1p": {"x": "1/(1 + {x})"},
    "exp2": {"x": "2^{x}·ln 2"},
    "expm1": {"x": "exp({x})"},
    "rsqrt": {"x": "-rsqrt({x})^3/2"},
    "logaddexp": {"a": "sigmoid({a} - {b})", "b": "sigmoid({b} - {a})"},
    "atan2": {"a": "{b}/({a}^2 + {b}^2)", "b": "-{a}/({a}^2 + {b}^2)"},
    "lerp": {"start": "1 - {weight}", "end": "{weight}", "weight": "{end} - {start}"},
}
