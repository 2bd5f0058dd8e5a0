"""Reductions (sum, mean, max, min, amax, amin, var, logsumexp) and the softmax family.

Every reduction takes ``axis`` (None, an int or a tuple of ints) and ``keepdims``, as numpy's do,
or PyTorch's names for them, ``dim`` and ``keepdim``: ``x.sum(axis=1)`` is ``x.sum(dim=1)``. As in
PyTorch, ``x.max(dim=1)`` (and ``min``) returns ``(values, indices)``, while ``x.max(axis=1)`` and
``amax`` return the values only, as numpy's.
Its rule first gives the output gradient the kept dimensions back (``_kept``), then spreads it
over the reduced elements. ``max``/``min``: when several elements tie for the extreme, they
share the gradient equally (as ``torch.amax``), so the gradient is the same whichever order the
ties come in.

Empty tensors follow PyTorch: reducing an axis of size 0 gives ``sum`` 0, ``mean`` nan and
``logsumexp`` -inf, while ``max``/``min`` raise a ValueError (there is no extreme of nothing) and
so does ``var`` (no degrees of freedom); reducing other axes of an empty tensor gives an empty
result, and softmax/log_softmax of an empty tensor are empty. Gradients have the input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _make


def _axes(axis: Any, ndim: int, op: str) -> tuple | None:
    """`axis` as a tuple of non-negative ints (None: all axes), or a clear error."""
    if axis is None:
        return None
    if isinstance(axis, (int, np.integer)):
        axes: tuple = (axis,)
    elif isinstance(axis, (tuple, list)):
        axes = tuple(axis)
    else:
        raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
    normal = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        # a 0-d tensor accepts axis 0 or -1 (as PyTorch), meaning "all of it"
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} dims")
        normal.append(int(a) % max(ndim, 1))
    if len(set(normal)) != len(normal):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(normal) if ndim else None


def _torch_names(op: str, axis: Any, keepdims: Any, dim: Any, keepdim: Any) -> tuple[Any, bool]:
    """(axis, keepdims) from numpy's names or PyTorch's (``dim``, ``keepdim``), not both."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: give axis or dim, not both (got axis={axis!r}, dim={dim!r})")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    if not isinstance(keepdims, (bool, np.bool_)):
        raise TypeError(f"{op}: keepdim must be True or False, got {keepdims!r}")
    return axis, bool(keepdims)


def _kept_shape(shape: tuple, axes: tuple | None) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _kept(g: Any, x: Any, axes: tuple | None) -> Any:
    """`g` (or an output) with the reduced axes of `x` restored as size-1 dims."""
    return g.reshape(_kept_shape(x.shape, axes))


# ufunc.reduce directly: ndarray.sum/.mean go through numpy's Python-level wrappers, which
# cost more than the reduction itself on small arrays.
_add_reduce = np.add.reduce


def sum_(
    x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    """Sum over `axis` (all by default); ``dim``/``keepdim`` are PyTorch's names for
    ``axis``/``keepdims``.

    >>> from autodiff import Tensor
    >>> x = Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> x.sum(axis=0), x.sum(dim=1, keepdim=True)
    (Tensor([4., 6.]), Tensor([[3.],
            [7.]], shape=(2, 1)))
    """
    if dim is not None or keepdim is not None or keepdims is not False:
        axis, keepdims = _torch_names("sum", axis, keepdims, dim, keepdim)
    axes = None if axis is None else _axes(axis, x.data.ndim, "sum")
    return _make(_add_reduce(x.data, axis=axes, keepdims=keepdims), (x,), "sum", axes)


def mean(
    x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    """Mean over `axis` (or PyTorch's `dim`; all by default); the mean of nothing is nan, as in
    PyTorch.

    >>> from autodiff import Tensor
    >>> x = Tensor([[1.0, 2.0], [3.0, 5.0]])
    >>> x.mean(axis=1), x.mean(dim=0)
    (Tensor([1.5, 4. ]), Tensor([2. , 3.5]))
    """
    if dim is not None or keepdim is not None or keepdims is not False:
        axis, keepdims = _torch_names("mean", axis, keepdims, dim, keepdim)
    data = x.data
    axes = None if axis is None else _axes(axis, data.ndim, "mean")
    total = _add_reduce(data, axis=axes, keepdims=keepdims)
    count = _count(data.shape, axes)
    if count == 0:  # 0 / 0, without numpy's warning
        return _make(np.full(total.shape, np.nan, total.dtype), (x,), "mean", axes)
    return _make(total / count, (x,), "mean", axes)


def _count(shape: tuple, axes: tuple | None) -> int:
    """How many elements each output element of a reduction over `axes` combines."""
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    count = 1
    for a in axes:
        count *= shape[a]
    return count


def _extreme(x: Tensor, axis: Any, keepdims: bool, op: str, ufunc: Any) -> Tensor:
    data = x.data
    axes = None if axis is None else _axes(axis, data.ndim, op)
    if data.size == 0 and _count(data.shape, axes) == 0:  # as PyTorch: no extreme of nothing
        where = "" if axes is None else f" along axis {axis!r}"
        raise ValueError(f"{op}: empty tensor of shape {data.shape}: no elements to reduce{where}")
    return _make(ufunc.reduce(data, axis=axes, keepdims=keepdims), (x,), op, axes)


def max_(
    x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Any:
    """Largest element over `axis` (all by default); tied maxima share the gradient equally.
    With PyTorch's ``dim=`` (one int) it returns ``(values, indices)`` as ``torch.max`` does.

    >>> from autodiff import Tensor
    >>> x = Tensor([1.0, 3.0, 3.0], requires_grad=True)
    >>> x.max().backward()
    >>> x.grad
    array([0. , 0.5, 0.5])
    >>> Tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1)
    ValuesIndices(values=Tensor([5., 7.]), indices=Tensor([1, 0], dtype=int64))
    """
    if dim is not None:
        return _extreme_along(x, axis, keepdims, dim, keepdim, "max", np.maximum)
    if keepdim is not None:
        keepdims = _torch_names("max", axis, keepdims, None, keepdim)[1]
    return _extreme(x, axis, keepdims, "max", np.maximum)


def min_(
    x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Any:
    """Smallest element over `axis`; tied minima share the gradient equally. With PyTorch's
    ``dim=`` it returns ``(values, indices)`` as ``torch.min`` does."""
    if dim is not None:
        return _extreme_along(x, axis, keepdims, dim, keepdim, "min", np.minimum)
    if keepdim is not None:
        keepdims = _torch_names("min", axis, keepdims, None, keepdim)[1]
    return _extreme(x, axis, keepdims, "min", np.minimum)


def _extreme_along(
    x: Tensor, axis: Any, keepdims: Any, dim: Any, keepdim: Any, op: str, ufunc: Any
) -> Any:
    """``torch.max(x, dim)``: the values (a reduction node, so ties share the gradient, where
    PyTorch gives it all to the returned index) and the index of the first extreme (NaN
    counts as the extreme, as in PyTorch)."""
    from autodiff.tensor_ops.reductions import argmax, argmin  # they build on this module
    from autodiff.tensor_ops.sorting import ValuesIndices

    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be one int (to get values and indices), got {dim!r}")
    axis, keepdims = _torch_names(op, axis, keepdims, dim, keepdim)
    values = _extreme(x, axis, keepdims, op, ufunc)
    find = argmax if op == "max" else argmin
    return ValuesIndices(values, find(x, dim=axis, keepdim=keepdims))


def amax(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The largest element over `dim` (an int, a tuple of ints, or None: all), as
    ``torch.amax``: the values only, tied maxima sharing the gradient equally.

    >>> from autodiff import Tensor, amax
    >>> amax(Tensor([[1.0, 5.0], [7.0, 2.0]]), dim=0)
    Tensor([7., 5.])
    """
    keepdims = _torch_names("amax", None, keepdim, None, None)[1]
    return _extreme(x, None if dim == () else dim, keepdims, "max", np.maximum)


def amin(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The smallest element over `dim` (None: all), as ``torch.amin``: values only."""
    keepdims = _torch_names("amin", None, keepdim, None, None)[1]
    return _extreme(x, None if dim == () else dim, keepdims, "min", np.minimum)


def var(x: Tensor, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over `axis`, numpy's convention: divides by n - ddof (ddof=0 by default,
    unlike PyTorch's unbiased default)."""
    axes = _axes(axis, x.data.ndim, "var")
    n = _count(x.data.shape, axes)
    if n - ddof <= 0:
        raise ValueError(f"var: {n} elements with ddof={ddof} leave no degrees of freedom")
    data = x.data.var(axis=axes, keepdims=keepdims, ddof=ddof)
    return _make(data, (x,), "var", (axes, ddof))


def logsumexp(
    x: Tensor, axis: Any = None, keepdims: bool = False, *, dim: Any = None, keepdim: Any = None
) -> Tensor:
    """log(sum(exp(x))) over `axis` (or PyTorch's `dim`), stable for large |x| (the max is taken
    out first); -inf over an empty axis or a row of -inf, as PyTorch.

    >>> from autodiff import Tensor, logsumexp
    >>> round(logsumexp(Tensor([1000.0, 1000.0])).item() - 1000, 6)  # log(2)
    0.693147
    """
    if dim is not None or keepdim is not None or keepdims is not False:
        axis, keepdims = _torch_names("logsumexp", axis, keepdims, dim, keepdim)
    axes = _axes(axis, x.data.ndim, "logsumexp")
    data = x.data
    top = _finite_max(data, axes)
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf: a row of -inf
        total = np.log(_add_reduce(np.exp(data - top), axis=axes, keepdims=True)) + top
    if not keepdims:
        kept = range(data.ndim) if axes is None else axes
        total = total.reshape(tuple(n for i, n in enumerate(data.shape) if i not in kept))
    return _make(total, (x,), "logsumexp", axes)


def _finite_max(data: np.ndarray, axes: tuple | None) -> np.ndarray:
    """The max over `axes` (kept as size-1 dims), 0 where it is not finite: the shift that
    keeps exp from overflowing. An empty axis has max -inf, so it gets 0 too."""
    top = np.maximum.reduce(data, axis=axes, keepdims=True, initial=-np.inf)
    return np.where(np.isfinite(top), top, 0).astype(data.dtype, copy=False)


def _softmax_axis(x: Tensor, axis: Any, op: str, dim: Any = None) -> int | None:
    if dim is not None:
        if axis != -1:
            raise TypeError(f"{op}: give axis or dim, not both (got axis={axis!r}, dim={dim!r})")
        axis = dim
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    axes = _axes(axis, x.data.ndim, op)
    return None if axes is None else axes[0]


def _log_softmax_data(data: np.ndarray, axis: int | None) -> np.ndarray:
    """(x - max) - log(sum(exp(x - max))): exact for huge logits, where x - logsumexp(x) loses
    every digit that logsumexp's rounding drops (1e17 + log 2 == 1e17). A row of -inf (or with
    +inf or nan) gives nan, as PyTorch."""
    top = np.maximum.reduce(data, axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):  # -inf - -inf: nan, as PyTorch
        shifted = data - top
        return shifted - np.log(_add_reduce(np.exp(shifted), axis=axis, keepdims=True))


def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """Log-probabilities along `axis` (or PyTorch's `dim`; default: the last),
    ``(x - max) - log(sum(exp(x - max)))``: exact for logits of any size; -inf logits (masked
    classes) get -inf, a row of only -inf gets nan (as PyTorch). One node, with its own rule.

    >>> from autodiff import Tensor, log_softmax
    >>> log_softmax(Tensor([0.0, 1000.0]))
    Tensor([-1000.,     0.])
    """
    axis = _softmax_axis(x, axis, "log_softmax", dim)
    return _make(_log_softmax_data(x.data, axis), (x,), "log_softmax", axis)


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """Probabilities along `axis` (or PyTorch's `dim`; default: the last),
    ``exp(x - max) / sum(exp(x - max))``: rows summing to 1, exact for logits of any size (as
    log_softmax). One node.

    >>> from autodiff import Tensor, softmax
    >>> softmax(Tensor([[1.0, 1.0], [0.0, 3000.0]]), axis=1)
    Tensor([[0.5, 0.5],
            [0. , 1. ]], shape=(2, 2))
    """
    axis = _softmax_axis(x, axis, "softmax", dim)
    data = x.data
    top = np.maximum.reduce(data, axis=axis, keepdims=True, initial=-np.inf)
    with np.errstate(invalid="ignore"):  # -inf - -inf and 0 / 0: nan, as PyTorch
        e = np.exp(data - top)
        return _make(e / _add_reduce(e, axis=axis, keepdims=True), (x,), "softmax", axis)


def _spread(g: Any, shape: tuple) -> Any:
    """`g`, whose reduced axes have size 1, repeated along them to `shape` (a read-only view)."""
    if type(g) is np.ndarray and g.flags.c_contiguous:
        # the zero-stride view np.broadcast_to makes, without its ~2 us of Python-level checks
        strides = tuple(0 if n == 1 else step for n, step in zip(g.shape, g.strides))
        view = np.ndarray(shape, g.dtype, g, 0, strides)
        view.flags.writeable = False
        return view
    return np.broadcast_to(g, shape)


def sum_grad(g: Any, inputs: tuple, out: Any, axes: Any) -> Any:
    """d sum(x)/dx_i = 1"""
    x = inputs[0]
    return _spread(_kept(g, x, axes), x.shape)


def mean_grad(g: Any, inputs: tuple, out: Any, axes: Any) -> Any:
    """d mean(x)/dx_i = 1 / n"""
    x = inputs[0]
    count = _count(x.shape, axes)
    if count == 0:  # nothing was averaged: x is empty, and so is its gradient
        return np.zeros(x.shape, _raw(x).dtype)
    return _spread(_kept(g * (1 / count), x, axes), x.shape)


def _extreme_grad(g: Any, x: Any, out: Any, axes: Any) -> Any:
    raw_x = x.data if isinstance(x, Tensor) else x
    raw_out = out.data if isinstance(out, Tensor) else out
    hits = raw_x == _kept(raw_out, raw_x, axes)
    share = (hits / hits.sum(axis=axes, keepdims=True)).astype(raw_x.dtype, copy=False)
    return _kept(g, raw_x, axes) * share


def max_grad(g: Any, inputs: tuple, out: Any, axes: Any) -> Any:
    """d max(x)/dx_i = 1 / (number of maxima) where x_i is a maximum, else 0"""
    return _extreme_grad(g, inputs[0], out, axes)


def min_grad(g: Any, inputs: tuple, out: Any, axes: Any) -> Any:
    """d min(x)/dx_i = 1 / (number of minima) where x_i is a minimum, else 0"""
    return _extreme_grad(g, inputs[0], out, axes)


def var_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d var(x)/dx_i = 2 (x_i - mean(x)) / (n - ddof)"""
    axes, ddof = ctx
    x = inputs[0]
    n = _count(x.shape, axes)
    centred = x - np.mean(x, axis=axes, keepdims=True)
    return _kept(g, x, axes) * centred * (2 / (n - ddof))


def logsumexp_grad(g: Any, inputs: tuple, out: Any, axes: Any) -> Any:
    """d logsumexp(x)/dx_i = softmax(x)_i"""
    x = inputs[0]
    # exp(x - max) / sum, not exp(x - logsumexp(x)): logsumexp's rounding (1e17 + log 2 is
    # 1e17) would turn [0.5, 0.5] into [1, 1]. The max is a constant shift: no gradient.
    with np.errstate(invalid="ignore"):  # a row of -inf: 0 / 0 is nan, as PyTorch
        e = np.exp(x - _finite_max(_raw(x), axes))
        return _kept(g, x, axes) * (e / e.sum(axis=axes, keepdims=True))


def log_softmax_grad(g: Any, inputs: tuple, out: Any, axis: Any) -> Any:
    """d log_softmax(x)/dx applied to g: g - softmax(x) * sum(g) along the axis"""
    return g - np.exp(out) * g.sum(axis=axis, keepdims=True)


def softmax_grad(g: Any, inputs: tuple, out: Any, axis: Any) -> Any:
    """d softmax(x)/dx applied to g: softmax(x) * (g - sum(g * softmax(x))) along the axis"""
    return out * (g - (g * out).sum(axis=axis, keepdims=True))


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


RULES = {
    "sum": (sum_grad,),
    "mean": (mean_grad,),
    "max": (max_grad,),
    "min": (min_grad,),
    "var": (var_grad,),
    "logsumexp": (logsumexp_grad,),
    "log_softmax": (log_softmax_grad,),
    "softmax": (softmax_grad,),
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS);
# {n} is the number of input elements behind each output element.


def _var_formula(names: dict, c: tuple) -> str:
    """d var(x)/dx_i = 2 (x_i - mean(x)) / (n - ddof)"""
    _, ddof = c
    return f"2·({names['x']} - mean)/{int(names['n']) - ddof:g}"


EDGE_FORMULAS = {
    "sum": {"x": "1"},
    "mean": {"x": "1/{n}"},
    "max": {"x": "1 at the max"},
    "min": {"x": "1 at the min"},
    "var": {"x": _var_formula},
    "logsumexp": {"x": "softmax({x})"},
    "log_softmax": {"x": "1 - softmax({x})"},  # on the diagonal; -softmax elsewhere
    "softmax": {"x": "softmax·(1 - softmax)"},  # on the diagonal; -softmax_i·softmax_j elsewhere
}
