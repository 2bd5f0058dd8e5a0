"""Small functions generated modules define for themselves, so they need nothing but numpy.

Each is the op's forward as the engine computes it (same operations, so the same numbers):
``PYTHON`` for programs on plain floats (the scalar engine's conventions: inf where ``math``
would raise OverflowError), ``NUMPY`` for programs on arrays. A generated module holds only the
helpers it calls (and those they call, `NEEDS`). The NUMPY helpers also run here, on the trace's
values, so the expressions built from them carry the values the module will compute.

>>> function("sigmoid")(np.array([-1000.0, 0.0, 1000.0]))
array([0. , 0.5, 1. ])
"""

from __future__ import annotations

import ast
import inspect
import math
from typing import Any

import numpy as np

from autodiff.compiler.expr import Expr
from autodiff.compiler.expr import call as _call

PYTHON = {
    "exp": '''
def exp(x: float) -> float:
    """e ** x, and inf where that overflows (as autodiff's Value.exp)."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf
''',
    "ieee_power": '''
def ieee_power(x: float, y: float) -> float:
    """x ** y, and +-inf where Python raises (overflow, 0 to a negative power), as IEEE says."""
    try:
        return x**y
    except (OverflowError, ZeroDivisionError):
        odd = float(y).is_integer() and y % 2 == 1
        return -math.inf if odd and math.copysign(1.0, x) < 0 else math.inf
''',
    "power": '''
def power(x: float, y: float) -> float:
    """x ** y as autodiff's Value computes it: an error where it divides by zero or is not
    real, +-inf where it overflows."""
    if x == 0 and y < 0:
        raise ZeroDivisionError(f"**: {x!r} ** {y!r} divides by zero")
    if x < 0 and not float(y).is_integer():
        raise ValueError(
            f"**: {x!r} ** {y!r} is not a real number (a negative base needs an integer exponent)"
        )
    return ieee_power(x, y)
''',
    "pow_value": '''
def pow_value(x: float, y: float) -> float:
    """x ** y for an exponent that is a variable (a Value), as autodiff's Value computes it: an
    error for a negative base (its slope in y would be log(x)) and where it divides by zero,
    +inf where it overflows."""
    if x < 0:
        raise ValueError(
            f"**: {x!r} ** Value({y!r}): a Value exponent needs a base >= 0, "
            "since d/dy x**y = x**y * log(x)"
        )
    if x == 0 and y < 0:
        raise ZeroDivisionError(f"**: 0.0 ** Value({y!r}) divides by zero")
    return ieee_power(x, y)
''',
    "log": '''
def log(x: float) -> float:
    """The natural logarithm, refusing x <= 0 as autodiff's Value.log does."""
    if x <= 0:
        raise ValueError(f"log: needs a positive number, got {x!r}")
    return math.log(x)
''',
    "divide": '''
def divide(x: float, y: float) -> float:
    """x / y, refusing y = 0 as autodiff's Value does (Python's own error names no values)."""
    if y == 0:
        raise ZeroDivisionError(f"/: division by zero ({x!r} / {y!r})")
    return x / y
''',
    "sigmoid": '''
def sigmoid(x: float) -> float:
    """1 / (1 + e**-x), without overflow for large |x| (as autodiff's Value.sigmoid)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
''',
}

NUMPY = {
    # batched scalar graphs: the inputs Value refuses are refused for every sample
    "_first_refused": '''
def _first_refused(refused: object, *operands: object) -> tuple:
    """The operands' values at the first sample where `refused` holds, and which one it is."""
    if np.ndim(refused) == 0:
        return [float(x) for x in operands], ""
    k = int(np.argmax(refused))
    return [float(np.broadcast_to(x, np.shape(refused))[k]) for x in operands], f" (sample {k})"
''',
    "log": '''
def log(x: np.ndarray) -> np.ndarray:
    """The natural logarithm of each sample, refusing x <= 0 as autodiff's Value.log does."""
    refused = x <= 0
    if np.any(refused):
        (got,), where = _first_refused(refused, x)
        raise ValueError(f"log: needs a positive number, got {got!r}{where}")
    return np.log(x)
''',
    "divide": '''
def divide(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x / y for each sample, refusing y = 0 as autodiff's Value does."""
    refused = y == 0
    if np.any(refused):
        (a, b), where = _first_refused(refused, x, y)
        raise ZeroDivisionError(f"/: division by zero ({a!r} / {b!r}){where}")
    return x / y
''',
    "power": '''
def power(x: np.ndarray, y: float) -> np.ndarray:
    """x ** y for each sample as autodiff's Value computes it: an error where it divides by
    zero or is not real."""
    if y < 0 and np.any(x == 0):
        (got,), where = _first_refused(x == 0, x)
        raise ZeroDivisionError(f"**: {got!r} ** {y!r} divides by zero{where}")
    if not float(y).is_integer() and np.any(x < 0):
        (got,), where = _first_refused(x < 0, x)
        raise ValueError(
            f"**: {got!r} ** {y!r} is not a real number (a negative base needs an integer "
            f"exponent){where}"
        )
    return np.power(x, y)
''',
    "pow_value": '''
def pow_value(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x ** y for each sample, the exponent a variable (a Value), as autodiff's Value computes
    it: an error for a negative base and where it divides by zero."""
    negative = x < 0
    refused = negative | ((x == 0) & (y < 0))
    if np.any(refused):
        (a, b, is_negative), where = _first_refused(refused, x, y, negative)
        if is_negative:
            raise ValueError(
                f"**: {a!r} ** Value({b!r}): a Value exponent needs a base >= 0, "
                f"since d/dy x**y = x**y * log(x){where}"
            )
        raise ZeroDivisionError(f"**: 0.0 ** Value({b!r}) divides by zero{where}")
    return np.power(x, y)
''',
    "sigmoid": '''
def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e**-x) elementwise, without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))
''',
    "reduce_loss": '''
def reduce_loss(losses: np.ndarray, reduction: str, divisor: float) -> np.ndarray:
    """Per-element losses kept ("none"), summed ("sum") or summed and divided by `divisor`
    ("mean"; nan when it is 0), as a 0-d array of their dtype."""
    if reduction == "none":
        return losses
    total = np.add.reduce(losses, axis=None)
    if reduction == "sum":
        return np.asarray(total, losses.dtype)
    if divisor == 0:
        return np.asarray(np.nan, losses.dtype)
    return np.asarray(total / divisor, losses.dtype)
''',
    "mse_loss": '''
def mse_loss(pred: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
    """(pred - target) ** 2, reduced as autodiff's mse_loss does (a dot product for "mean")."""
    diff = pred - target
    if reduction == "mean" and diff.size:
        flat = diff.reshape(-1)
        return np.asarray((flat @ flat) / flat.size, dtype=diff.dtype)
    return reduce_loss(diff * diff, reduction, diff.size)
''',
    "l1_loss": '''
def l1_loss(pred: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
    """|pred - target|, reduced."""
    losses = np.abs(pred - target)
    return reduce_loss(losses, reduction, losses.size)
''',
    "bce_with_logits": '''
def bce_with_logits(z: np.ndarray, t: np.ndarray, weight: object, pos_weight: object,
                    reduction: str) -> np.ndarray:
    """Binary cross-entropy of logits z and targets t, never taking log(0):
    (1 - t) z + (1 + (p - 1) t) softplus(-z), times the weight, reduced."""
    if pos_weight is None:
        losses = (1 - t) * z + np.logaddexp(0, -z)
    else:
        losses = (1 - t) * z + (1 + (pos_weight - 1) * t) * np.logaddexp(0, -z)
    if weight is not None:
        losses = losses * weight
    return reduce_loss(losses, reduction, losses.size)
''',
    "bce": '''
def bce(p: np.ndarray, t: np.ndarray, weight: object, reduction: str) -> np.ndarray:
    """Binary cross-entropy of probabilities p in [0, 1], each log clamped at -100."""
    outside = (p < 0) | (p > 1)
    if outside.any():
        raise ValueError(
            f"binary_cross_entropy: input must be probabilities in [0, 1], got "
            f"{p[outside].flat[0]!r}"
        )
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped to -100
        log_p = np.maximum(np.log(p), -100)
        log_q = np.maximum(np.log1p(-p), -100)
    losses = (t - 1) * log_q - t * log_p
    if weight is not None:
        losses = losses * weight
    return reduce_loss(losses, reduction, losses.size)
''',
    "logsumexp": '''
def logsumexp(x: np.ndarray, axis: tuple | None, keepdims: bool) -> np.ndarray:
    """log(sum(exp(x))) over axis, the max taken out first so large |x| stays finite."""
    top = np.maximum.reduce(x, axis=axis, keepdims=True, initial=-np.inf)
    top = np.where(np.isfinite(top), top, 0).astype(x.dtype, copy=False)
    with np.errstate(divide="ignore", invalid="ignore"):  # a row of -inf: log(0)
        total = np.log(np.add.reduce(np.exp(x - top), axis=axis, keepdims=True)) + top
    if keepdims:
        return total
    kept = range(x.ndim) if axis is None else axis
    return total.reshape(tuple(n for i, n in enumerate(x.shape) if i not in kept))
''',
    "softmax": '''
def softmax(x: np.ndarray, axis: int | None) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max)) along axis: rows summing to 1, exact for any logits."""
    top = np.maximum.reduce(x, axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(invalid="ignore"):  # a row of -inf: nan, as PyTorch
        e = np.exp(x - top)
        return e / np.add.reduce(e, axis=axis, keepdims=True)
''',
    "log_softmax": '''
def log_softmax(x: np.ndarray, axis: int | None) -> np.ndarray:
    """(x - max) - log(sum(exp(x - max))) along axis: exact for logits of any size."""
    top = np.maximum.reduce(x, axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):  # a row of -inf: nan, as PyTorch
        shifted = x - top
        return shifted - np.log(np.add.reduce(np.exp(shifted), axis=axis, keepdims=True))
''',
    "scatter": '''
def scatter(g: np.ndarray, shape: tuple, index: object) -> np.ndarray:
    """Zeros of `shape` with `g` written at [index]: the gradient of x[index]."""
    full = np.zeros(shape, dtype=g.dtype)
    full[index] = g
    return full
''',
    "add_at": '''
def add_at(g: np.ndarray, shape: tuple, index: object) -> np.ndarray:
    """Zeros of `shape` with `g` added at [index], repeated indices adding up: the gradient
    of x[index] for an index that picks an element more than once."""
    full = np.zeros(shape, dtype=g.dtype)
    np.add.at(full, index, g)
    return full
''',
    "setitem": '''
def setitem(x: np.ndarray, index: object, value: object) -> np.ndarray:
    """A copy of x with `value` written at [index]."""
    out = x.copy()
    out[index] = value
    return out
''',
    "write_at": '''
def write_at(x: np.ndarray, positions: tuple, src: np.ndarray) -> np.ndarray:
    """A copy of x with src written at positions (torch's scatter)."""
    out = x.copy()
    out[positions] = src
    return out
''',
    "add_into": '''
def add_into(x: np.ndarray, positions: tuple, src: np.ndarray) -> np.ndarray:
    """A copy of x with src added at positions, repeats adding up (torch's scatter_add)."""
    out = x.copy()
    np.add.at(out, positions, src)
    return out
''',
    "argsort": '''
def argsort(x: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """The positions that sort x along dim, stably; descending keeps ties in their order and
    puts NaN first (as autodiff's sort, topk and argsort)."""
    if not descending:
        return np.argsort(x, axis=dim, kind="stable")
    rev = (slice(None),) * dim + (slice(None, None, -1),)
    return (x.shape[dim] - 1) - np.argsort(x[rev], axis=dim, kind="stable")[rev]
''',
    "running_arg_extreme": '''
def running_arg_extreme(x: np.ndarray, dim: int, largest: bool) -> np.ndarray:
    """Where the running max (or min) along dim was found: the latest of equal ones, and
    every NaN from where it appears (as autodiff's cummax and cummin)."""
    running = (np.maximum if largest else np.minimum).accumulate(x, axis=dim)
    hit = (x == running) | np.isnan(x)
    n = x.shape[dim]
    position = np.arange(n).reshape([n if axis == dim else 1 for axis in range(x.ndim)])
    return np.maximum.accumulate(np.where(hit, position, 0), axis=dim)
''',
}

NEEDS = {
    "power": ["ieee_power", "_first_refused"],
    "pow_value": ["ieee_power", "_first_refused"],
    "log": ["_first_refused"],
    "divide": ["_first_refused"],
    "mse_loss": ["reduce_loss"],
    "l1_loss": ["reduce_loss"],
    "bce_with_logits": ["reduce_loss"],
    "bce": ["reduce_loss"],
    "erf": ["_erf_kernels"],
    "erfc": ["_erf_kernels"],
}
"""Helpers that call others: a module defining one defines those too (before it)."""


# erf and erfc: the engine's own code (numpy has no erf), its type hints dropped so that it
# runs in a module of its own. Small arrays go through math.erf element by element, large
# ones through W. J. Cody's rational approximations, exactly as autodiff.tensor_ops.maths.
_ERF_CONSTANTS = ("_ERF_NUM", "_ERF_DEN", "_MID_NUM", "_MID_DEN", "_FAR_NUM", "_FAR_DEN",
                  "_INV_SQRT_PI", "_SMALL", "_UNDERFLOW", "_BY_ELEMENT")  # fmt: skip
_ERF_FUNCTIONS = ("_ratio", "_exp_minus_square", "_erfc_of_large", "_erf_kernel", "_special")


def _without_hints(function: Any) -> str:
    tree = ast.parse(inspect.getsource(function))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            node.returns = None
            for argument in node.args.args:
                argument.annotation = None
    return ast.unparse(tree)


def _constant_source(name: str, value: Any) -> str:
    if isinstance(value, tuple):
        return f"{name} = (\n" + "".join(f"    {v!r},\n" for v in value) + ")"
    return f"{name} = {value!r}"


def _erf_kernels() -> str:
    from autodiff.tensor_ops import maths  # (here: the ops import the compiler's package)

    return (
        "\n".join(_constant_source(name, getattr(maths, name)) for name in _ERF_CONSTANTS)
        + "\n\n\n"
        + "\n\n\n".join(_without_hints(getattr(maths, name)) for name in _ERF_FUNCTIONS)
    )


NUMPY["_erf_kernels"] = ""  # written on first use (see `_text`)
NUMPY["erf"] = '''
def erf(x: np.ndarray) -> np.ndarray:
    """The error function elementwise (float64 precision; float32 stays float32)."""
    return _special(x, complement=False)
'''
NUMPY["erfc"] = '''
def erfc(x: np.ndarray) -> np.ndarray:
    """1 - erf(x) elementwise, without the cancellation for large x."""
    return _special(x, complement=True)
'''

# Names the helpers define at module level besides themselves: generated variables avoid them.
INTERNAL_NAMES = frozenset(_ERF_CONSTANTS + _ERF_FUNCTIONS)

_compiled: dict[str, Any] = {}


def function(name: str) -> Any:
    """The NUMPY helper `name` as a function (defined from its source, once)."""
    if name not in _compiled:
        namespace: dict[str, Any] = {"np": np, "math": math}
        for needed in [*NEEDS.get(name, []), name]:
            exec(_text(needed, "numpy"), namespace)  # noqa: S102 - our own source text
        _compiled[name] = namespace[name]
    return _compiled[name]


def call(name: str, *args: Any, **kwargs: Any) -> Expr:
    """``name(*args, **kwargs)``: a call of the helper, its value computed by the helper."""
    return _call(name, args, kwargs, function(name))


def with_needs(names: list[str], flavour: str) -> list[str]:
    """`names` and the helpers they need, each once, every helper after those it calls."""
    table = PYTHON if flavour == "python" else NUMPY
    ordered: list[str] = []
    for name in names:
        for needed in [*NEEDS.get(name, []), name]:
            if needed in table and needed not in ordered:
                ordered.append(needed)
    return ordered


def _text(name: str, flavour: str) -> str:
    if flavour == "python":
        return PYTHON[name]
    if not NUMPY[name]:
        NUMPY[name] = _erf_kernels()
    return NUMPY[name]


def source(name: str, flavour: str) -> str:
    """The helper's definition for a module of the given flavour."""
    return _text(name, flavour).strip() + "\n"
