"""Small functions generated modules define for themselves, so they need nothing but numpy.

Each is the op's forward as the engine computes it (same operations, so the same numbers):
``PYTHON`` for programs on plain floats (the scalar engine's conventions: inf where ``math``
would raise OverflowError), ``NUMPY`` for programs on arrays. A generated module holds only the
helpers it calls. The NUMPY helpers also run here, on the trace's values, so the expressions
built from them carry the values the module will compute.

>>> function("sigmoid")(np.array([-1000.0, 0.0, 1000.0]))
array([0. , 0.5, 1. ])
"""

from __future__ import annotations

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
    "power": '''
def power(x: float, y: float) -> float:
    """x ** y; +-inf where it overflows or divides by zero; an error where it is not real."""
    if x < 0 and not float(y).is_integer():
        raise ValueError(f"power: {x!r} ** {y!r} is not a real number")
    try:
        return x**y
    except OverflowError:
        return -math.inf if x < 0 and y % 2 == 1 else math.inf
    except ZeroDivisionError:
        return math.inf
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
    "sigmoid": '''
def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e**-x) elementwise, without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))
''',
    "mse_loss": '''
def mse_loss(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The mean of (pred - target) ** 2, as autodiff's mse_loss computes it."""
    diff = pred - target
    flat = diff.reshape(-1)
    return np.asarray((flat @ flat) / flat.size, dtype=diff.dtype)
''',
    "cross_entropy": '''
def cross_entropy(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The mean over rows of -sum(target * log_softmax(logits)), target rows of probabilities."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return np.asarray(-(target * log_softmax).sum() / logits.shape[0], dtype=logits.dtype)
''',
    "logsumexp": '''
def logsumexp(x: np.ndarray, axis: tuple | None, keepdims: bool) -> np.ndarray:
    """log(sum(exp(x))) over axis, the max taken out first so large |x| stays finite."""
    top = x.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    total = np.log(np.exp(x - top).sum(axis=axis, keepdims=True)) + top
    if keepdims:
        return total
    kept = range(x.ndim) if axis is None else axis
    return total.reshape(tuple(n for i, n in enumerate(x.shape) if i not in kept))
''',
    "scatter": '''
def scatter(g: np.ndarray, shape: tuple, index: object) -> np.ndarray:
    """Zeros of `shape` with `g` written at [index]: the gradient of x[index]."""
    full = np.zeros(shape, dtype=g.dtype)
    full[index] = g
    return full
''',
    "scatter_add": '''
def scatter_add(g: np.ndarray, shape: tuple, index: object) -> np.ndarray:
    """Zeros of `shape` with `g` added at [index], repeated indices adding up: the gradient
    of x[index] for an index that picks an element more than once."""
    full = np.zeros(shape, dtype=g.dtype)
    np.add.at(full, index, g)
    return full
''',
}

_compiled: dict[str, Any] = {}


def function(name: str) -> Any:
    """The NUMPY helper `name` as a function (defined from its source, once)."""
    if name not in _compiled:
        namespace: dict[str, Any] = {"np": np}
        exec(NUMPY[name], namespace)  # noqa: S102 - our own source text
        _compiled[name] = namespace[name]
    return _compiled[name]


def call(name: str, *args: Any, **kwargs: Any) -> Expr:
    """``name(*args, **kwargs)``: a call of the helper, its value computed by the helper."""
    return _call(name, args, kwargs, function(name))


def source(name: str, flavour: str) -> str:
    """The helper's definition for a module of the given flavour."""
    return (PYTHON if flavour == "python" else NUMPY)[name].strip() + "\n"
