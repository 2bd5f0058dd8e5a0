"""Reductions beyond sum/mean/max/min (see `reduce`), with PyTorch's ``dim``/``keepdim``: prod,
std (and var's PyTorch-style arguments), any, all, argmax, argmin.

``prod``'s rule multiplies the products before and after each element instead of dividing the
total by it, so one zero or several give the right gradient. ``std`` takes PyTorch's
``correction`` (default 1: n - 1 in the denominator) and its gradient is 0 where the standard
deviation is 0, as PyTorch's. any/all/argmax/argmin give tensors outside the graph.

>>> from autodiff import Tensor
>>> x = Tensor([2.0, 0.0, 3.0], requires_grad=True)
>>> x.prod().backward()
>>> x.grad  # the product of the others: only the zero's is not 0
array([0., 6., 0.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _constant, _make
from autodiff.tensor_ops import reduce as rd
from autodiff.tensor_ops._common import dim_of, dims_of, number, raw, reversed_along
from autodiff.tensor_ops.reduce import _count, _kept_shape

# --------------------------------------------------------------------------------------------
# prod
# --------------------------------------------------------------------------------------------


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The product of all elements, or along one `dim` (an int, as PyTorch).

    >>> from autodiff import Tensor
    >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).prod(dim=1)
    Tensor([ 2., 12.])
    """
    data = x.data
    d = None if dim is None else dim_of(dim, data.ndim, "prod")
    axis = d if data.ndim else None
    return _make(np.prod(data, axis=axis, keepdims=keepdim), (x,), "prod", (axis, keepdim))


def _products_before(x: Any, dim: int) -> Any:
    """prod of x_j over j < i, for each i along `dim` (1 for the first)."""
    ones = np.ones(_kept_shape(x.shape, (dim,)), dtype=raw(x).dtype)
    head = (slice(None),) * dim + (slice(None, -1),)
    return np.concatenate([ones, np.cumprod(x, axis=dim)[head]], axis=dim)


def _others_product(x: Any, dim: int) -> Any:
    """prod of x_j over j != i along `dim`: (products before i) * (products after i)."""
    if x.shape[dim] == 0:
        return np.zeros(x.shape, dtype=raw(x).dtype)
    rev = reversed_along(dim)
    return _products_before(x, dim) * _products_before(x[rev], dim)[rev]


def prod_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d prod(x)/dx_i = the product of the other elements (no division: zeros are fine)"""
    dim, keepdim = ctx
    x = inputs[0]
    if dim is None:
        return g * _others_product(x.reshape(-1), 0).reshape(x.shape)
    return g.reshape(_kept_shape(x.shape, (dim,))) * _others_product(x, dim)


# --------------------------------------------------------------------------------------------
# std, and var with PyTorch's argument names
# --------------------------------------------------------------------------------------------


def _correction(op: str, default: float, **given: Any) -> float:
    """One of ddof / correction / unbiased (PyTorch's names), or `default`."""
    named = {name: value for name, value in given.items() if value is not None}
    if len(named) > 1:
        raise TypeError(f"{op}: give only one of {', '.join(sorted(named))}")
    if not named:
        return default
    name, value = next(iter(named.items()))
    if name == "unbiased":
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{op}: unbiased must be True or False, got {value!r}")
        return 1 if value else 0
    return number(value, name, op)


def std(
    x: Tensor,
    dim: Any = None,
    *,
    correction: float | None = None,
    keepdim: bool = False,
    unbiased: bool | None = None,
) -> Tensor:
    """Standard deviation over `dim` (all dims by default) with PyTorch's convention: divides
    by n - correction, correction=1 by default (``unbiased=False`` means correction=0).
    Note that ``var`` keeps numpy's default (ddof=0); pass ``correction=`` to either to be
    explicit. Its gradient is 0 where the standard deviation is 0, as PyTorch's.

    >>> from autodiff import Tensor
    >>> Tensor([1.0, 2.0, 3.0, 4.0]).std(), Tensor([1.0, 2.0, 3.0, 4.0]).std(correction=0)
    (Tensor(1.29099445), Tensor(1.11803399))
    """
    correction = _correction("std", 1, correction=correction, unbiased=unbiased)
    data = x.data
    dims = dims_of(dim, data.ndim, "std")
    n = _count(data.shape, dims)
    if n - correction <= 0:
        raise ValueError(
            f"std: {n} elements with correction={correction} leave no degrees of freedom"
        )
    out = np.std(data, axis=dims, ddof=correction, keepdims=keepdim)
    return _make(out, (x,), "std", (dims, correction))


def std_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d std(x)/dx_i = (x_i - mean(x)) / ((n - correction) std(x)), and 0 where std(x) = 0"""
    dims, correction = ctx
    x = inputs[0]
    kept = _kept_shape(x.shape, dims)
    n = x.size // max(out.size, 1)
    s = out.reshape(kept)
    flat = raw(s) == 0
    scale = np.where(flat, 0, g.reshape(kept) / (np.where(flat, 1, s) * (n - correction)))
    return (x - np.mean(x, axis=dims, keepdims=True)) * scale


def var(
    x: Tensor,
    axis: Any = None,
    keepdims: bool = False,
    ddof: float | None = None,
    *,
    dim: Any = None,
    keepdim: bool | None = None,
    correction: float | None = None,
    unbiased: bool | None = None,
) -> Tensor:
    """Variance over `axis` (all by default): divides by n - ddof with numpy's default ddof=0,
    unlike PyTorch's correction=1. PyTorch's names work too: ``dim``, ``keepdim``,
    ``correction`` (= ddof) and ``unbiased`` (True: correction=1).

    >>> from autodiff import Tensor
    >>> x = Tensor([1.0, 2.0, 3.0, 4.0])
    >>> x.var(), x.var(correction=1), x.var(ddof=1)
    (Tensor(1.25), Tensor(1.66666667), Tensor(1.66666667))
    """
    if dim is not None:
        if axis is not None:
            raise TypeError("var: give axis or dim, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    ddof = _correction("var", 0, ddof=ddof, correction=correction, unbiased=unbiased)
    return rd.var(x, axis, keepdims, ddof)


# --------------------------------------------------------------------------------------------
# any, all, argmax, argmin: outside the graph
# --------------------------------------------------------------------------------------------


def any_(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether any element (along `dim`) is nonzero (NaN counts), as a boolean tensor.

    >>> from autodiff import Tensor
    >>> Tensor([[0.0, 1.0], [0.0, 0.0]]).any(dim=1)
    Tensor([ True, False], dtype=bool)
    """
    dims = dims_of(dim, x.data.ndim, "any")
    return _constant(np.asarray(np.any(x.data, axis=dims, keepdims=keepdim)))


def all_(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether every element (along `dim`) is nonzero (NaN counts), as a boolean tensor."""
    dims = dims_of(dim, x.data.ndim, "all")
    return _constant(np.asarray(np.all(x.data, axis=dims, keepdims=keepdim)))


def _arg_extreme(x: Tensor, dim: Any, keepdim: bool, op: str, find: Any) -> Tensor:
    data = x.data
    if dim is None:
        if data.size == 0:
            raise ValueError(f"{op}: empty tensor of shape {data.shape}")
        index = np.asarray(find(data), dtype=np.int64)  # into the flattened tensor
        return _constant(index.reshape((1,) * data.ndim) if keepdim else index)
    d = dim_of(dim, data.ndim, op)
    if data.ndim and data.shape[d] == 0:
        raise ValueError(f"{op}: dim {dim} of shape {data.shape} is empty")
    index = find(data, axis=d if data.ndim else None, keepdims=keepdim)
    return _constant(np.asarray(index, dtype=np.int64))


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The position of the largest element (its first occurrence; NaN counts as largest), in
    the flattened tensor or along `dim`, as int64 with no gradient.

    >>> from autodiff import Tensor
    >>> Tensor([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]]).argmax(dim=1)
    Tensor([1, 0], dtype=int64)
    """
    return _arg_extreme(x, dim, keepdim, "argmax", np.argmax)


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """The position of the smallest element (its first occurrence; NaN counts as smallest)."""
    return _arg_extreme(x, dim, keepdim, "argmin", np.argmin)


RULES = {
    "prod": (prod_grad,),
    "std": (std_grad,),
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS);
# {n} is the number of input elements behind each output element.


def _std_formula(names: dict, c: tuple) -> str:
    """d std(x)/dx_i = (x_i - mean(x)) / ((n - correction) std(x))"""
    _, correction = c
    return f"({names['x']} - mean)/({int(names['n']) - correction:g}·std)"


EDGE_FORMULAS = {
    "prod": {"x": "the product of the others"},
    "std": {"x": _std_formula},
}
