"""Scans (cumulative ops) along one dim: cumsum, cumprod, cummax, cummin, logcumsumexp.

Output i depends on inputs 0..i, so each gradient runs the other way: input j collects from
outputs j, j+1, ... (a sum taken from the end). ``cumprod``'s rule never divides by a zero
input; ``cummax``/``cummin`` read the input at the running arg-extreme (an indexing node, so
the gradient goes to that position); ``logcumsumexp``'s rule works in log space.

>>> from autodiff import Tensor
>>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> x.cumsum(0).backward(Tensor([1.0, 10.0, 100.0]))
>>> x.grad  # each input gets the gradients of the outputs from it onwards
array([111., 110., 100.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _constant, _make
from autodiff.tensor_ops._common import along, dim_of, raw, reversed_along
from autodiff.tensor_ops.elementwise import _any
from autodiff.tensor_ops.shape import getitem
from autodiff.tensor_ops.sorting import ValuesIndices, _recorded


def _position(n: int, dim: int, ndim: int) -> np.ndarray:
    """0..n-1 laid along `dim` of an `ndim`-dim array (size 1 elsewhere)."""
    return np.arange(n).reshape([n if axis == dim else 1 for axis in range(ndim)])


# --------------------------------------------------------------------------------------------
# cumsum, cumprod
# --------------------------------------------------------------------------------------------


def cumsum(x: Tensor, dim: int) -> Tensor:
    """Running sums along `dim`.

    >>> from autodiff import Tensor
    >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).cumsum(dim=1)
    Tensor([[1., 3.],
            [3., 7.]], shape=(2, 2))
    """
    d = dim_of(dim, x.data.ndim, "cumsum")
    if x.data.ndim == 0:
        return cumsum(x.reshape(1), 0).reshape(())
    return _make(np.cumsum(x.data, axis=d), (x,), "cumsum", d)


def cumprod(x: Tensor, dim: int) -> Tensor:
    """Running products along `dim`; the gradient is right with any number of zeros.

    >>> from autodiff import Tensor
    >>> x = Tensor([2.0, 0.0, 3.0], requires_grad=True)
    >>> x.cumprod(0).sum().backward()
    >>> x.grad  # d(2 + 2 x1 + 2 x1 x2)/dx at x1 = 0
    array([1., 8., 0.])
    """
    d = dim_of(dim, x.data.ndim, "cumprod")
    if x.data.ndim == 0:
        return cumprod(x.reshape(1), 0).reshape(())
    return _make(np.cumprod(x.data, axis=d), (x,), "cumprod", d)


def _sum_from_the_end(v: Any, dim: int) -> Any:
    """sum over i >= j of v_i, for each j along `dim`."""
    rev = reversed_along(dim)
    return np.cumsum(v[rev], axis=dim)[rev]


def cumsum_grad(g: Any, inputs: tuple, out: Any, dim: int) -> Any:
    """d cumsum(x)_i/dx_j = 1 for i >= j, so x_j gets the sum of g_i over i >= j"""
    return _sum_from_the_end(g, dim)


def cumprod_grad(g: Any, inputs: tuple, out: Any, dim: int) -> Any:
    """d cumprod(x)_i/dx_k = product of x_j over j <= i, j != k (for i >= k): before the first
    zero that is out_i / x_k; at the first zero, the products with that zero left out; after
    it, 0"""
    x = inputs[0]
    xr = raw(x)
    zero = xr == 0
    if not _any(zero):
        return _sum_from_the_end(g * out, dim) / x
    if isinstance(x, Tensor):  # create_graph: a form whose own derivative is right too
        return _cumprod_grad_by_products(g, x, dim)
    n = xr.shape[dim]
    pos = _position(n, dim, xr.ndim)
    first = np.where(zero.any(axis=dim, keepdims=True), zero.argmax(axis=dim, keepdims=True), n)
    before, at = pos < first, pos == first
    divided = _sum_from_the_end(g * out, dim) / np.where(before, x, 1)
    skipped = np.cumprod(np.where(at, 1, x), axis=dim)  # the first zero replaced by 1
    at_zero = np.sum(np.where(pos >= first, g * skipped, 0), axis=dim, keepdims=True)
    return np.where(before, divided, np.where(at, at_zero, 0))


def _cumprod_grad_by_products(g: Tensor, x: Tensor, dim: int) -> Tensor:
    """cumprod's gradient with zeros in x, as products without division, O(n**2) (PyTorch's
    double-backward form): the masked O(n) form is right in value, but treats the gradient
    after a zero as a constant 0, whose derivative (by that zero) is not 0."""
    n = x.shape[dim]
    ones = np.ones(tuple(1 if axis == dim else n for axis, n in enumerate(x.shape)), x.dtype)
    lead = (slice(None),) * dim
    pieces = []
    for k in range(n):
        # prod of x_j over j <= i, j != k, for each i >= k
        omitted = np.cumprod(x[lead + (slice(k + 1, n),)], axis=dim) if k < n - 1 else None
        omitted = ones if omitted is None else np.concatenate([ones, omitted], axis=dim)
        if k:
            omitted = np.prod(x[lead + (slice(0, k),)], axis=dim, keepdims=True) * omitted
        pieces.append(np.sum(g[lead + (slice(k, n),)] * omitted, axis=dim, keepdims=True))
    return np.concatenate(pieces, axis=dim)


# --------------------------------------------------------------------------------------------
# cummax, cummin: values read at the running arg-extreme
# --------------------------------------------------------------------------------------------


def _running_extreme(x: Tensor, dim: int, op: str, ufunc: Any) -> ValuesIndices:
    d = dim_of(dim, x.data.ndim, op)
    if x.data.ndim == 0:
        values, indices = _running_extreme(x.reshape(1), 0, op, ufunc)
        return ValuesIndices(values.reshape(()), _constant(indices.data.reshape(())))
    data = x.data
    running = ufunc.accumulate(data, axis=d)
    # an element equal to the running extreme takes over (the last of tied ones, as PyTorch),
    # and so does every NaN, which the running extreme keeps from then on
    hit = (data == running) | np.isnan(data)
    positions = np.where(hit, _position(data.shape[d], d, data.ndim), 0)
    indices = _recorded(np.maximum.accumulate(positions, axis=d), op, data, (d,))
    return ValuesIndices(getitem(x, along(indices, d)), _constant(indices))


def cummax(x: Tensor, dim: int) -> ValuesIndices:
    """Running maxima along `dim` and where each was found (the latest of equal maxima, as
    PyTorch); the gradient goes to that position.

    >>> from autodiff import Tensor
    >>> values, indices = Tensor([1.0, 3.0, 2.0, 3.0]).cummax(0)
    >>> values, indices
    (Tensor([1., 3., 3., 3.]), Tensor([0, 1, 1, 3], dtype=int64))
    """
    return _running_extreme(x, dim, "cummax", np.maximum)


def cummin(x: Tensor, dim: int) -> ValuesIndices:
    """Running minima along `dim` and where each was found (the latest of equal minima)."""
    return _running_extreme(x, dim, "cummin", np.minimum)


# --------------------------------------------------------------------------------------------
# logcumsumexp
# --------------------------------------------------------------------------------------------


def logcumsumexp(x: Tensor, dim: int) -> Tensor:
    """log(cumsum(exp(x))) along `dim`, stable for large and very negative x.

    >>> from autodiff import Tensor
    >>> Tensor([-1000.0, 0.0, 1000.0]).logcumsumexp(0)
    Tensor([-1000.,     0.,  1000.])
    """
    d = dim_of(dim, x.data.ndim, "logcumsumexp")
    if x.data.ndim == 0:
        return logcumsumexp(x.reshape(1), 0).reshape(())
    data = x.data if x.data.dtype.kind == "f" else x.data.astype(np.float64)
    return _make(np.logaddexp.accumulate(data, axis=d), (x,), "logcumsumexp", d)


def _logcumsumexp_of(v: Any, dim: int) -> Any:
    if isinstance(v, Tensor):
        return logcumsumexp(v, dim)
    return np.logaddexp.accumulate(v, axis=dim)


def _signed_part(mask: np.ndarray, magnitude: Any, x: Any, out: Any, dim: int) -> Any:
    """sum over i >= j of |g_i| exp(x_j - out_i), over the i where g has one sign, computed as
    exp(x_j + log sum exp(log |g_i| - out_i)) so that nothing overflows."""
    logs = np.where(mask, np.log(np.where(mask, magnitude, 1)) - out, -np.inf)
    rev = reversed_along(dim)
    return np.exp(_logcumsumexp_of(logs[rev], dim)[rev] + x)


def logcumsumexp_grad(g: Any, inputs: tuple, out: Any, dim: int) -> Any:
    """d logcumsumexp(x)_i/dx_j = exp(x_j - out_i) for i >= j (the positive and negative
    parts of g summed apart, in log space)"""
    x = inputs[0]
    if isinstance(g, Tensor):
        # create_graph: a form linear in g, so that the derivative by g is right where g is 0
        # (the log of g is not); shifted by each slice's largest output, it overflows only if
        # the outputs along `dim` span more than about 700
        top = raw(out).max(axis=dim, keepdims=True)
        return np.exp(x - top) * _sum_from_the_end(g * np.exp(top - out), dim)
    sign = raw(g)
    grad = _signed_part(sign > 0, g, x, out, dim)
    negative = sign < 0
    if negative.any():
        grad = grad - _signed_part(negative, -g, x, out, dim)
    return grad


RULES = {
    "cumsum": (cumsum_grad,),
    "cumprod": (cumprod_grad,),
    "logcumsumexp": (logcumsumexp_grad,),
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS):
# input j reaches every output from j on.
EDGE_FORMULAS = {
    "cumsum": {"x": "1 to each later output"},
    "cumprod": {"x": "out_i/{x} to each later output i"},
    "logcumsumexp": {"x": "exp({x} - out_i) to each later output i"},
}
