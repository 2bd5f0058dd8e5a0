"""Pooling as PyTorch has it: max_pool1d, max_pool2d, avg_pool1d and avg_pool2d, with stride
(default: the kernel size), padding, dilation (max), ceil_mode, count_include_pad and
divisor_override (avg), and max pooling's ``return_indices``.

Both run as one strided slice per kernel position (no copy of the windows): max keeps the
running maximum and which position gave it, avg the running sum. Max pooling's gradient goes to
the element PyTorch picks: the first maximum of the window in row-major order, the last NaN if
there is one, and the first element inside the input when the whole window is -inf.

>>> import numpy as np
>>> from autodiff import Tensor, max_pool2d
>>> x = Tensor(np.array([[[[1.0, 2.0], [4.0, 4.0]]]]), requires_grad=True)
>>> max_pool2d(x, 2).sum().backward()
>>> x.grad  # the first of the two maxima
array([[[[0., 0.],
         [1., 0.]]]])
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from autodiff.tensor import Tensor, _make
from autodiff.tensor_ops.conv import (
    ConvGeometry,
    conv_transpose_any,
    empty_like_layout,
    floating,
    spatial,
)
from autodiff.tensor_ops.shape import add_at


class PoolGeometry(NamedTuple):
    """The spatial size of the input, the kernel, stride, dilation, and the padding actually
    read ((before, after) per dim: ceil_mode may need more after, floor mode less), the
    output's size, and the padding asked for (PyTorch's divisors count it)."""

    size: tuple
    kernel: tuple
    stride: tuple
    dilation: tuple
    padding: tuple
    out: tuple
    asked: tuple

    @property
    def padded(self) -> tuple:
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.size, self.padding))


def _geometry(
    op: str, x: Tensor, dims: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
    ceil_mode: bool,
) -> PoolGeometry:  # fmt: skip
    if x.data.ndim not in (dims + 1, dims + 2):
        names = "(N, C, L)" if dims == 1 else "(N, C, H, W)"
        raise ValueError(
            f"{op}: expected input of shape {names} or without the batch axis, got shape "
            f"{x.data.shape}"
        )
    kernel = spatial(kernel_size, dims, "kernel_size", op, 1)
    no_stride = stride is None or (isinstance(stride, (tuple, list)) and not stride)
    stride = kernel if no_stride else spatial(stride, dims, "stride", op, 1)
    pads = spatial(padding, dims, "padding", op)
    dilation = spatial(dilation, dims, "dilation", op, 1)
    if any(p > k // 2 for p, k in zip(pads, kernel)):
        raise ValueError(f"{op}: padding {pads} must be at most half the kernel size {kernel}")
    size = x.data.shape[-dims:]
    out, reads = [], []
    for n, k, s, p, d in zip(size, kernel, stride, pads, dilation):
        span = d * (k - 1) + 1
        m = (n + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (m - 1) * s >= n + p:  # the last window must start inside
            m -= 1
        if m < 1:
            raise ValueError(
                f"{op}: the kernel {kernel} (dilation {dilation}) does not fit in the input of "
                f"shape {x.data.shape} with padding {pads}: the output would be empty"
            )
        out.append(m)
        reads.append((p, max(0, (m - 1) * s + span - n - p)))
    return PoolGeometry(size, kernel, stride, dilation, tuple(reads), tuple(out), pads)


def _window(position: tuple, geo: PoolGeometry) -> tuple:
    """The strided slice of the padded input that kernel `position` reads for every output."""
    return (Ellipsis,) + tuple(
        slice(p * d, p * d + s * (m - 1) + 1, s)
        for p, d, s, m in zip(position, geo.dilation, geo.stride, geo.out)
    )


def _pad(data: np.ndarray, geo: PoolGeometry, value: float) -> np.ndarray:
    if not any(lo or hi for lo, hi in geo.padding):
        return data
    dims = len(geo.kernel)
    full = empty_like_layout(data.shape[:-dims] + geo.padded, data)
    full.fill(value)
    full[_inner(geo)] = data
    return full


def _zeros_like_input(x: np.ndarray, geo: PoolGeometry, dtype: Any) -> np.ndarray:
    """Zeros shaped like the padded input, in the input's memory layout."""
    full = empty_like_layout(x.shape[: -len(geo.kernel)] + geo.padded, x, dtype)
    full.fill(0)
    return full


def _inner(geo: PoolGeometry) -> tuple:
    return (Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(geo.size, geo.padding))


# --------------------------------------------------------------------------------------------
# max pooling
# --------------------------------------------------------------------------------------------


def _max_pool(
    op: str, dims: int, input: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
    ceil_mode: bool, return_indices: bool,
) -> Any:  # fmt: skip
    x = floating(input, op)
    geo = _geometry(op, x, dims, kernel_size, stride, padding, dilation, ceil_mode)
    padded = _pad(x.data, geo, -np.inf)
    positions = list(np.ndindex(*geo.kernel))
    first = padded[_window(positions[0], geo)]
    best = np.full_like(first, -np.inf)  # in the input's layout (full_like keeps it)
    kind = np.int8 if len(positions) < 128 else np.int32
    which = np.full_like(first, -1, dtype=kind)  # the winning kernel position
    # a NaN (or inf - inf) in the sum: then look for NaNs too, as PyTorch: a NaN replaces
    # the maximum, and a later NaN replaces it (np.maximum keeps NaN as the value)
    with np.errstate(invalid="ignore", over="ignore"):
        nan = bool(np.isnan(x.data.sum()))
    for k, position in enumerate(positions):
        values = padded[_window(position, geo)]
        better = values > best
        if nan:
            better |= values != values
        np.maximum(best, values, out=best)
        # which = k where better: arithmetic, several times faster than a masked write
        which += better * (kind(k) - which)
    if (which < 0).any():  # windows of -inf only: PyTorch picks their first element inside
        which = np.where(which < 0, _first_inside(geo), which).astype(kind)
    out = _make(best, (x,), op, (geo, which))
    if not return_indices:
        return out
    return out, Tensor(_flat_index(which, geo))


def _first_inside(geo: PoolGeometry) -> np.ndarray:
    """For each output position, the first kernel position that reads the input, not padding."""
    firsts = []
    for m, s, d, (lo, _) in zip(geo.out, geo.stride, geo.dilation, geo.padding):
        start = np.arange(m) * s - lo  # where each window starts, in input coordinates
        firsts.append(np.maximum(0, -(start // d)))  # -floor(-a / d) = ceil(a / d)
    grid = np.meshgrid(*firsts, indexing="ij")
    return np.ravel_multi_index(tuple(grid), geo.kernel).astype(np.int32)


def _positions(which: np.ndarray, geo: PoolGeometry) -> tuple:
    """The padded-input coordinates, one array per spatial dim, of each output's element."""
    dims = len(geo.kernel)
    offsets = np.unravel_index(which, geo.kernel)
    coords = []
    for axis, (offset, s, d) in enumerate(zip(offsets, geo.stride, geo.dilation)):
        start = np.arange(geo.out[axis]) * s
        shape = [1] * which.ndim
        shape[which.ndim - dims + axis] = -1
        coords.append(start.reshape(shape) + offset * d)
    return tuple(coords)


def _flat_index(which: np.ndarray, geo: PoolGeometry) -> np.ndarray:
    """PyTorch's indices: each maximum's position in its (unpadded) input plane, flattened."""
    coords = _positions(which, geo)
    inside = tuple(c - lo for c, (lo, _) in zip(coords, geo.padding))
    return np.ravel_multi_index(inside, geo.size).astype(np.int64)


def max_pool_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d max_pool(x)/dx: 1 at each window's chosen maximum (its gradient, summed where
    windows overlap), 0 elsewhere"""
    geo, which = ctx
    dims = len(geo.kernel)
    lead = which.shape[:-dims]
    if isinstance(g, Tensor):  # create_graph: add_at is differentiable (its adjoint: indexing)
        grid = np.meshgrid(*(np.arange(n) for n in lead), indexing="ij", sparse=True)
        extra = (1,) * dims
        index = tuple(a.reshape(a.shape + extra) for a in grid) + _positions(which, geo)
        return add_at(g, lead + geo.padded, index)[_inner(geo)]
    full = _zeros_like_input(inputs[0], geo, g.dtype)
    with np.errstate(invalid="ignore", over="ignore"):  # else inf * 0 would put NaN where g
        finite = bool(np.isfinite(g.sum()))  # does not go
    for k, position in enumerate(np.ndindex(*geo.kernel)):
        # g times a mask: several times faster than np.add(..., where=mask)
        chosen = which == k
        full[_window(position, geo)] += g * chosen if finite else np.where(chosen, g, 0)
    return full[_inner(geo)]


def max_pool1d(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> Any:  # fmt: skip
    """The maximum of each window of `input` (N, C, L) or (C, L); padding counts as -inf.
    With ``return_indices=True`` also each maximum's position along L.

    >>> from autodiff import Tensor, max_pool1d
    >>> max_pool1d(Tensor([[[1.0, 5.0, 2.0, 0.0, 3.0]]]), 2)
    Tensor([[[5., 2.]]], shape=(1, 1, 2))
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)  # fmt: skip


def max_pool2d(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
    ceil_mode: bool = False, return_indices: bool = False,
) -> Any:  # fmt: skip
    """The maximum of each kernel_size window of `input` (N, C, H, W) or (C, H, W), moving by
    `stride` (default: kernel_size); padding counts as -inf. With ``return_indices=True``
    also each maximum's flat position in its H x W plane (int64, as PyTorch's).

    >>> import numpy as np
    >>> from autodiff import Tensor, max_pool2d
    >>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> out, indices = max_pool2d(x, 2, return_indices=True)
    >>> out.data.squeeze(), indices.data.squeeze()
    (array([[ 5.,  7.],
           [13., 15.]]), array([[ 5,  7],
           [13, 15]]))
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)  # fmt: skip


# --------------------------------------------------------------------------------------------
# average pooling
# --------------------------------------------------------------------------------------------


def _divisors(geo: PoolGeometry, count_include_pad: bool, override: Any) -> np.ndarray:
    """PyTorch's divisor for each output position: the window's size, clipped to the padded
    input (count_include_pad) or to the input."""
    if override is not None:
        return np.full(geo.out, float(override))
    sizes = []
    for m, n, k, s, p in zip(geo.out, geo.size, geo.kernel, geo.stride, geo.asked):
        start = np.arange(m) * s - p
        end = np.minimum(start + k, n + p)
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        sizes.append(np.maximum(end - start, 1))
    grid = np.meshgrid(*sizes, indexing="ij")
    return np.prod(grid, axis=0).astype(np.float64)


def _avg_pool(
    op: str, dims: int, input: Any, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool,
    count_include_pad: bool, divisor_override: Any,
) -> Tensor:  # fmt: skip
    x = floating(input, op)
    geo = _geometry(op, x, dims, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (
        isinstance(divisor_override, bool)
        or not isinstance(divisor_override, (int, np.integer))
        or divisor_override == 0
    ):
        raise ValueError(f"{op}: divisor_override must be a non-zero int, got {divisor_override!r}")
    padded = _pad(x.data, geo, 0.0)
    total = None
    for position in np.ndindex(*geo.kernel):
        values = padded[_window(position, geo)]
        # copy in the input's layout (order "K"), then add in place
        total = values.copy(order="K") if total is None else np.add(total, values, out=total)
    divisor = _divisors(geo, count_include_pad, divisor_override).astype(x.data.dtype)
    return _make(total / divisor, (x,), op, (geo, divisor))


def avg_pool_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d avg_pool(x)/dx: 1 / divisor for each window an element is in (summed)"""
    geo, divisor = ctx
    share = g / divisor
    if isinstance(g, Tensor):  # create_graph: the transposed convolution with a kernel of ones
        dims = len(geo.kernel)
        lead = share.shape[:-dims]
        ones = np.ones((1, 1) + geo.kernel, share.dtype)
        conv = ConvGeometry(geo.size, geo.kernel, geo.stride, geo.padding, (1,) * dims, 1)
        flat = share.reshape((math.prod(lead), 1) + geo.out)
        return conv_transpose_any(flat, ones, conv).reshape(lead + geo.size)
    full = _zeros_like_input(inputs[0], geo, share.dtype)
    for position in np.ndindex(*geo.kernel):
        full[_window(position, geo)] += share
    return full[_inner(geo)]


def avg_pool1d(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
    ceil_mode: bool = False, count_include_pad: bool = True,
) -> Tensor:  # fmt: skip
    """The mean of each window of `input` (N, C, L) or (C, L); padding counts as 0, and in
    the divisor unless ``count_include_pad=False``.

    >>> from autodiff import Tensor, avg_pool1d
    >>> avg_pool1d(Tensor([[[1.0, 3.0, 5.0, 7.0]]]), 2)
    Tensor([[[2., 6.]]], shape=(1, 1, 2))
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)  # fmt: skip


def avg_pool2d(
    input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
    ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: Any = None,
) -> Tensor:  # fmt: skip
    """The mean of each kernel_size window of `input` (N, C, H, W) or (C, H, W), moving by
    `stride` (default: kernel_size). Padding counts as 0, and in the divisor unless
    ``count_include_pad=False``; `divisor_override` replaces the divisor.

    >>> import numpy as np
    >>> from autodiff import Tensor, avg_pool2d
    >>> avg_pool2d(Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 2).data.squeeze()
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)  # fmt: skip


RULES = {
    "max_pool1d": (max_pool_grad,),
    "max_pool2d": (max_pool_grad,),
    "avg_pool1d": (avg_pool_grad,),
    "avg_pool2d": (avg_pool_grad,),
}

# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS)
EDGE_FORMULAS = {
    "max_pool1d": {"x": "1 at each window's max"},
    "max_pool2d": {"x": "1 at each window's max"},
    "avg_pool1d": {"x": "1/(window size)"},
    "avg_pool2d": {"x": "1/(window size)"},
}
