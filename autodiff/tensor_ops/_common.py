"""Helpers shared by the op modules: argument checks that name the op, and index building.

>>> from autodiff.tensor_ops._common import dim_of
>>> dim_of(-1, 3, "cumsum")
2
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from autodiff.tensor import Tensor


def raw(x: Any) -> Any:
    """The ndarray behind `x`: masks and signs are constants in both backward paths."""
    return x.data if isinstance(x, Tensor) else x


def dim_of(dim: Any, ndim: int, op: str) -> int:
    """`dim` as a non-negative int, or a clear error; a 0-d tensor takes 0 or -1 (as PyTorch)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise ValueError(
            f"{op}: dim {dim} is out of range for a tensor with {ndim} dims "
            f"(expected {-size} to {size - 1})"
        )
    return int(dim) % size


def dims_of(dim: Any, ndim: int, op: str) -> tuple | None:
    """`dim` (None, an int or a tuple of ints) as a sorted tuple of non-negative ints; None
    means every dim."""
    if dim is None:
        return None
    items = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    dims = tuple(sorted(dim_of(d, ndim, op) for d in items))
    if len(set(dims)) != len(dims):
        raise ValueError(f"{op}: repeated dim in {dim!r}")
    return dims if ndim else None


def number(value: Any, name: str, op: str) -> float:
    """A real number argument (not a bool) as a Python float (so float32 data stays float32),
    or a TypeError naming it."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def integer(value: Any, name: str, op: str, minimum: int | None = None) -> int:
    """An int argument (not a bool), at least `minimum`, or a clear error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{op}: {name} must be at least {minimum}, got {value}")
    return int(value)


def index_array(index: Any, op: str, name: str = "index") -> np.ndarray:
    """An integer index (Tensor, array or list) as an ndarray, or a TypeError."""
    data = index.data if isinstance(index, Tensor) else np.asarray(index)
    if data.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must hold integers, got dtype {data.dtype}")
    return data


def along(index: np.ndarray, dim: int) -> tuple:
    """The numpy index that picks ``x[..., index[i, j, ...], ...]`` along `dim` and the open grid
    elsewhere: ``x[along(index, dim)][i, j] = x[i, index[i, j]]`` for dim 1 (torch's gather)."""
    ndim = index.ndim
    parts = []
    for axis, size in enumerate(index.shape):
        if axis == dim:
            parts.append(index)
        else:
            shape = [1] * ndim
            shape[axis] = size
            parts.append(np.arange(size).reshape(shape))
    return tuple(parts)


def reversed_along(dim: int) -> tuple:
    """The slice that reverses axis `dim` (a view, on ndarrays and on Tensors)."""
    return (slice(None),) * dim + (slice(None, None, -1),)


def stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e**-x) without overflow for large |x|."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_of(x: Any) -> Any:
    """sigmoid(x) on an ndarray or, differentiably, on a Tensor."""
    return x.sigmoid() if isinstance(x, Tensor) else stable_sigmoid(x)


def zeros_like(g: Any) -> np.ndarray:
    """Zeros shaped like `g` (a constant in both backward paths): the gradient of a
    piecewise-constant op. Not ``g * 0``, which would turn an infinite `g` into NaN."""
    return np.zeros(g.shape, dtype=g.dtype)


def broadcast_error(op: str, *xs: Any) -> ValueError:
    shapes = " and ".join(str(np.shape(raw(x))) for x in xs)
    return ValueError(f"{op}: shapes {shapes} do not broadcast (trailing dims must be equal or 1)")
