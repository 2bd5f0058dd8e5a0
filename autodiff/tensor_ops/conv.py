"""Convolutions as PyTorch has them: conv1d, conv2d and the transposed convolutions
conv_transpose1d, conv_transpose2d, with stride, padding (numbers, "same", "valid"),
dilation, groups and bias.

How they run (im2col): the input's windows, read with numpy's ``sliding_window_view`` (no
copy), are laid out as the columns of a matrix, (channels * kernel, positions * batch), a block
of output rows at a time (so the columns, kernel-size times larger than the input, are never
all in memory at once); each block of the convolution is then one matrix product with the
weights, (out_channels, channels * kernel). Results are stored batch-last, (out_channels,
*positions, batch), and returned as the view (batch, out_channels, *positions): the same values
and shape as PyTorch's, while the next layer's windows and every backward product read memory
in long contiguous runs.

Three linear maps serve each other's backward rules, so every gradient is again a convolution
and gradients of gradients (``create_graph=True``) need nothing more:

- ``conv(x, w)``: the convolution;
- ``conv_transpose(g, w)``: its adjoint in x, d conv/dx: ``g @ w`` spread back over the
  windows each column came from (col2im: one strided add per kernel position);
- ``conv_weight(x, g)``: its adjoint in w, d conv/dw: ``g @ columns(x).T``.

A convolution node has one backward rule for all its operands (`conv_grads`), so that a g
given batch-first (a user's array) is transposed once for both products, or not at all for a
first layer (its input needs no gradient, and its weight's gradient is then taken image by
image from g as it is, `conv_weight_by_image`). What these cost against PyTorch, stage by
stage: ``benchmarks/bench_conv.py --part stages``.

>>> import numpy as np
>>> from autodiff import Tensor, conv2d
>>> x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
>>> w = Tensor(np.ones((1, 1, 2, 2)), requires_grad=True)
>>> y = conv2d(x, w, stride=2)
>>> y.data  # the sum of each 2 x 2 block
array([[[[10., 18.],
         [42., 50.]]]])
>>> y.sum().backward()
>>> w.grad  # each weight's gradient: the sum of the elements it met, one per block
array([[[[20., 24.],
         [36., 40.]]]])
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from autodiff.tensor import Tensor, _make, as_tensor

# --------------------------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------------------------


def spatial(value: Any, dims: int, name: str, op: str, minimum: int = 0) -> tuple:
    """An int or a sequence of `dims` ints (each at least `minimum`) as a tuple, or a clear
    error: ``spatial(2, 2, "stride", "conv2d")`` is (2, 2)."""
    items = (value,) * dims if isinstance(value, (int, np.integer)) else value
    if (
        isinstance(value, bool)
        or not isinstance(items, (tuple, list))
        or len(items) != dims
        or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) for n in items)
    ):
        raise TypeError(f"{op}: {name} must be an int or a tuple of {dims} ints, got {value!r}")
    if any(n < minimum for n in items):
        raise ValueError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return tuple(int(n) for n in items)


def floating(x: Any, op: str, name: str = "input", like: Tensor | None = None) -> Tensor:
    """`x` as a Tensor of floating-point numbers, or a TypeError naming it."""
    t = x if isinstance(x, Tensor) else as_tensor(x, like, op)
    if t.data.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must hold floating-point numbers, got dtype {t.data.dtype}")
    return t


class ConvGeometry(NamedTuple):
    """Everything that fixes a convolution besides its operands: the spatial size of its input
    x, the kernel's, and stride, padding ((before, after) per dim), dilation and groups."""

    size: tuple
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int

    @property
    def out(self) -> tuple:
        """The output's spatial size."""
        return tuple(
            (n + lo + hi - d * (k - 1) - 1) // s + 1
            for n, k, s, (lo, hi), d in zip(
                self.size, self.kernel, self.stride, self.padding, self.dilation
            )
        )

    @property
    def padded(self) -> tuple:
        """The padded input's size (a negative `after`, from a transposed convolution's
        output_padding, is an end that no window reaches: it is kept, not cut)."""
        return tuple(n + lo + max(hi, 0) for n, (lo, hi) in zip(self.size, self.padding))


# --------------------------------------------------------------------------------------------
# The three maps on ndarrays
# --------------------------------------------------------------------------------------------


def batch_last(a: np.ndarray) -> np.ndarray:
    """(batch, channels, *spatial) as the view (channels, *spatial, batch)."""
    return a.transpose(1, *range(2, a.ndim), 0)


def batch_first(a: np.ndarray) -> np.ndarray:
    """(channels, *spatial, batch) as the view (batch, channels, *spatial)."""
    return a.transpose(a.ndim - 1, *range(a.ndim - 1))


def batch_first_copy(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of `a` (batch, ...) stored batch-last. numpy copies such a
    transposed view element by element with a stride of the batch between them; a block of
    positions at a time, each block read contiguously, is several times faster."""
    positions = math.prod(a.shape[1:])
    rows = np.ascontiguousarray(batch_last(a)).reshape(positions, a.shape[0])
    out = np.empty(a.shape, a.dtype)
    flat = out.reshape(a.shape[0], positions)
    step = max(1, (1 << 15) // max(a.shape[0] * a.itemsize, 1))  # a block of 32 KB: it stays in L1
    for start in range(0, positions, step):
        flat[:, start : start + step] = rows[start : start + step].T
    return out


def empty_like_layout(shape: tuple, like: np.ndarray, dtype: Any = None) -> np.ndarray:
    """An empty array of `shape` whose axes lie in memory in the order of `like`'s (same
    ndim): mixing layouts would make every elementwise op that meets both crawl."""
    order = sorted(range(like.ndim), key=lambda axis: -abs(like.strides[axis]))
    data = np.empty([shape[axis] for axis in order], like.dtype if dtype is None else dtype)
    return data.transpose(np.argsort(order))


def _inner(geo: ConvGeometry) -> tuple:
    """The slices of the padded input that hold the input (spatial dims)."""
    return tuple(slice(lo, lo + n) for n, (lo, _) in zip(geo.size, geo.padding))


def padded(x: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """x (N, C, *size) zero-padded and stored batch-last, (C, *padded, N), contiguous: every
    window then reads runs of whole rows times the batch (a view if x already is so)."""
    view = batch_last(x)
    pads = any(lo > 0 or hi > 0 for lo, hi in geo.padding)
    if view.flags.c_contiguous and not pads:
        return view
    n, c = x.shape[:2]
    full = (np.zeros if pads else np.empty)((c,) + geo.padded + (n,), x.dtype)
    full[(slice(None),) + _inner(geo)] = view
    return full


def windows(xp: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """The view (C, *kernel, *out, N) of the padded batch-last input `xp` (see `padded`):
    each output position's input window, without a copy."""
    dims = len(geo.kernel)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(geo.kernel, geo.dilation))
    view = sliding_window_view(xp, spans, axis=tuple(range(1, 1 + dims)))
    step = tuple(slice(None, s * (m - 1) + 1, s) for s, m in zip(geo.stride, geo.out))
    spread = tuple(slice(None, None, d) for d in geo.dilation)
    view = view[(slice(None),) + step + (slice(None),) + spread]  # (C, *out, N, *kernel)
    return view.transpose(0, *range(2 + dims, 2 + 2 * dims), *range(1, 2 + dims))


# Output rows are taken a block at a time, so that the columns (the im2col matrix, kernel-size
# times larger than the input) are never all in memory at once. A block of 8 MB is measured
# to be faster than one that fits the core's L2 cache (2 MB): OpenBLAS copies its operands
# into its own cache-sized panels anyway, and a wider product amortises that better.
_BLOCK_BYTES = 1 << 23


def _blocks(geo: ConvGeometry, rows_bytes: int) -> list:
    """Ranges of output rows (first spatial dim) whose columns take about `_BLOCK_BYTES`."""
    rows = geo.out[0]
    step = max(1, _BLOCK_BYTES // max(rows_bytes, 1))
    return [slice(r, min(r + step, rows)) for r in range(0, rows, step)]


_local = threading.local()  # each thread's work array


def _scratch(shape: tuple, dtype: Any) -> np.ndarray:
    """This thread's reusable work array, viewed as `shape`: the blocks of columns are
    temporary, and fresh memory for each would be paged in again every time (a measurable
    part of a large convolution). It grows to the largest block asked for."""
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    buffer = getattr(_local, "buffer", None)
    if buffer is None or buffer.size < nbytes:
        buffer = _local.buffer = np.empty(max(nbytes, 1), np.uint8)
    return buffer[:nbytes].view(dtype).reshape(shape)


def _columns(view: np.ndarray, rows: slice, geo: ConvGeometry) -> np.ndarray:
    """The im2col matrix of output rows `rows`: (groups, C / groups * kernel, columns), one
    column per output position and sample, holding the input window it sees (in the work
    array: valid until the next block)."""
    dims = len(geo.kernel)
    block = view[(slice(None),) * (1 + dims) + (rows,)]
    cols = _scratch(block.shape, block.dtype)
    np.copyto(cols, block)
    per_group = block.shape[0] // geo.groups * math.prod(geo.kernel)
    return cols.reshape(geo.groups, per_group, math.prod(block.shape[1 + dims :]))


def _grouped(a: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """(N, channels, *out) as (groups, channels / groups, *out, N), contiguous (a view if `a`
    is stored batch-last, as every result here is; else one copy, not one per block)."""
    n, c = a.shape[:2]
    view = batch_last(a)
    if not view.flags.c_contiguous:
        view = np.ascontiguousarray(view)
    return view.reshape((geo.groups, c // geo.groups) + geo.out + (n,))


def _row_bytes(channels: int, geo: ConvGeometry, n: int, itemsize: int) -> int:
    return channels * math.prod(geo.kernel) * math.prod(geo.out[1:]) * n * itemsize


def conv_array(
    x: np.ndarray, w: np.ndarray, geo: ConvGeometry, xp: Any = None, b: Any = None
) -> np.ndarray:
    """The convolution of `x` (N, C, *size) with `w` (O, C / groups, *kernel), plus `b` (O,)
    if given: (N, O, *out), stored batch-last. `xp`: x already `padded`."""
    n, c = x.shape[:2]
    o, groups = w.shape[0], geo.groups
    view = windows(padded(x, geo) if xp is None else xp, geo)
    kernels = w.reshape(groups, o // groups, -1)
    out = np.empty((groups, o // groups) + geo.out + (n,), np.result_type(x, w))
    bias = None if b is None else b.reshape(groups, o // groups, 1).astype(out.dtype, copy=False)
    for rows in _blocks(geo, _row_bytes(c, geo, n, x.itemsize)):
        cols = _columns(view, rows, geo)
        target = out[:, :, rows].reshape(groups, o // groups, -1)  # a view: rows are whole
        for k in range(groups):
            np.matmul(kernels[k], cols[k], out=target[k])
        if bias is not None:  # while the block is still in cache
            with _unbuffered(target):
                target += bias
    return batch_first(out.reshape((o,) + geo.out + (n,)))


@contextmanager
def _unbuffered(a: np.ndarray) -> Iterator[None]:
    """Within: numpy's ufuncs walk arrays strided like `a` without copying them through their
    buffer. An in-place add over a block of rows of 1536 floats each, strided apart, runs 3-5
    times slower with numpy's default buffer of 8192 elements, which it fills by gathering rows
    and empties by scattering them back; a buffer no longer than one contiguous run of `a`
    is never needed. The setting is numpy's per-context one, restored on exit."""
    run, step = 1, a.itemsize
    for size, stride in zip(reversed(a.shape), reversed(a.strides)):
        if size > 1 and stride != step:
            break
        run, step = run * size, step * size
    with np.errstate():
        if 256 <= run < np.getbufsize():  # shorter runs gain nothing: too short to matter
            np.setbufsize(run - run % 16)  # numpy takes multiples of 16
        yield


def conv_transpose_array(g: np.ndarray, w: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """The adjoint of `conv_array` in x: (N, O, *out) -> (N, C, *size), stored batch-last."""
    groups, kernel, out = geo.groups, geo.kernel, geo.out
    n, o = g.shape[:2]
    c = w.shape[1] * groups
    kernels_t = w.reshape(groups, o // groups, -1).transpose(0, 2, 1)
    grads = _grouped(g, geo)
    full = np.zeros((c,) + geo.padded + (n,), np.result_type(g, w))
    every = (slice(None),)
    stride, dilation = geo.stride, geo.dilation
    for rows in _blocks(geo, _row_bytes(c, geo, n, full.itemsize)):
        part = grads[:, :, rows].reshape(groups, o // groups, -1)
        flat = _scratch((groups, kernels_t.shape[1], part.shape[2]), full.dtype)
        for k in range(groups):
            np.matmul(kernels_t[k], part[k], out=flat[k])
        flat = flat.reshape((c,) + kernel + (rows.stop - rows.start,) + out[1:] + (n,))
        targets = []
        for position in np.ndindex(*kernel):  # col2im: one strided add per kernel position
            first = position[0] * dilation[0] + rows.start * stride[0]
            target = (slice(first, first + stride[0] * (rows.stop - rows.start - 1) + 1,
                            stride[0]),) + tuple(
                slice(p * d, p * d + s * (m - 1) + 1, s)
                for p, d, s, m in zip(position[1:], dilation[1:], stride[1:], out[1:])
            )  # fmt: skip
            targets.append((full[every + target], flat[every + position]))
        with _unbuffered(targets[0][0]):
            for target, part in targets:
                target += part
    return batch_first(full[every + _inner(geo)])


def conv_weight_array(x: np.ndarray, g: np.ndarray, geo: ConvGeometry, xp: Any = None) -> Any:
    """The adjoint of `conv_array` in w: (O, C / groups, *kernel) from x and g (N, O, *out).
    `xp`: x already `padded` (the forward pass keeps it)."""
    n, c = x.shape[:2]
    o, groups = g.shape[1], geo.groups
    view = windows(padded(x, geo) if xp is None else xp, geo)
    grads = _grouped(g, geo)
    total = np.zeros((groups, c // groups * math.prod(geo.kernel), o // groups),
                     np.result_type(x, g))  # fmt: skip
    for rows in _blocks(geo, _row_bytes(c, geo, n, x.itemsize)):
        cols = _columns(view, rows, geo)
        part = grads[:, :, rows].reshape(groups, o // groups, -1)
        # columns @ g.T: BLAS is faster with the long axis this way round
        total += np.matmul(cols, part.transpose(0, 2, 1))
    return total.transpose(0, 2, 1).reshape((o, c // groups) + geo.kernel)


# Below this many rows of columns (C / groups * kernel), the weight's gradient from a g stored
# batch-first (a user's array) is taken image by image: the products are thin, but they read
# g as it is, where one wide product needs g transposed to batch-last first, which costs more
# than the product itself for a first layer (measured: 64 images of 1 x 28 x 28, 16 3 x 3
# filters: 0.3 ms against 1.0; the two meet near 72 rows).
_BY_IMAGE_ROWS = 64


def _by_image(x: np.ndarray, g: np.ndarray, geo: ConvGeometry) -> bool:
    """Whether `conv_weight_by_image` is the faster way to the weight's gradient."""
    rows = x.shape[1] // geo.groups * math.prod(geo.kernel)
    return rows <= _BY_IMAGE_ROWS and x.flags.c_contiguous and g.flags.c_contiguous


def conv_weight_by_image(x: np.ndarray, g: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """`conv_weight_array` for x and g stored batch-first: the sum over the images of g[n]
    (O, positions) @ columns(x[n]).T, a block of images at a time."""
    n, c = x.shape[:2]
    o, groups, dims = g.shape[1], geo.groups, len(geo.kernel)
    xb = x
    if any(lo > 0 or hi > 0 for lo, hi in geo.padding):
        xb = np.zeros((n, c) + geo.padded, x.dtype)
        xb[(slice(None), slice(None)) + _inner(geo)] = x
    spans = tuple(d * (k - 1) + 1 for k, d in zip(geo.kernel, geo.dilation))
    view = sliding_window_view(xb, spans, axis=tuple(range(2, 2 + dims)))
    step = tuple(slice(None, s * (m - 1) + 1, s) for s, m in zip(geo.stride, geo.out))
    spread = tuple(slice(None, None, d) for d in geo.dilation)
    view = view[(slice(None), slice(None)) + step + spread]  # (N, C, *out, *kernel)
    view = view.transpose(0, 1, *range(2 + dims, 2 + 2 * dims), *range(2, 2 + dims))
    per_group, positions = c // groups * math.prod(geo.kernel), math.prod(geo.out)
    grads = g.reshape(n, groups, o // groups, positions)
    total = np.zeros((groups, o // groups, per_group), np.result_type(x, g))
    images = max(1, _BLOCK_BYTES // max(c * math.prod(geo.kernel) * positions * x.itemsize, 1))
    for first in range(0, n, images):
        block = view[first : first + images]
        cols = _scratch(block.shape, block.dtype)
        np.copyto(cols, block)
        cols = cols.reshape(block.shape[0], groups, per_group, positions)
        for k in range(groups):
            products = np.matmul(grads[first : first + images, k], cols[:, k].transpose(0, 2, 1))
            total[k] += products.sum(axis=0)
    return total.reshape((o, c // groups) + geo.kernel)


# --------------------------------------------------------------------------------------------
# The three maps as ops (graph nodes), and dispatch for the rules
# --------------------------------------------------------------------------------------------


def _name(kind: str, geo: ConvGeometry) -> str:
    return kind.format(len(geo.kernel))  # "conv{}d" -> "conv2d"


class ConvContext(NamedTuple):
    """What a convolution node keeps for its backward rule: the geometry, the padded input
    (for the weight's gradient: no bigger than x, often x itself; None when w needs none) and
    the operands (x, w[, b]), to see which need a gradient."""

    geo: ConvGeometry
    xp: Any
    operands: tuple


def _conv_node(x: Tensor, w: Tensor, b: Tensor | None, geo: ConvGeometry) -> Tensor:
    xp = padded(x.data, geo)
    data = conv_array(x.data, w.data, geo, xp, None if b is None else b.data)
    inputs = (x, w) if b is None else (x, w, b)
    ctx = ConvContext(geo, xp if w.requires_grad else None, inputs)
    return _make(data, inputs, _name("conv{}d", geo), ctx)


def _transpose_node(g: Tensor, w: Tensor, b: Tensor | None, geo: ConvGeometry) -> Tensor:
    data = conv_transpose_array(g.data, w.data, geo)
    if b is not None:
        data += b.data.reshape((-1,) + (1,) * len(geo.kernel))
    inputs = (g, w) if b is None else (g, w, b)
    return _make(data, inputs, _name("conv_transpose{}d", geo), (geo, None))


def _weight_node(x: Tensor, g: Tensor, geo: ConvGeometry) -> Tensor:
    data = conv_weight_array(x.data, g.data, geo)
    return _make(data, (x, g), _name("conv{}d_weight", geo), (geo, None))


def _tensors(a: Any, b: Any) -> tuple | None:
    """Both operands as Tensors if either is one (create_graph), else None."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return as_tensor(a, None, "conv"), as_tensor(b, None, "conv")
    return None


def conv_any(x: Any, w: Any, geo: ConvGeometry) -> Any:
    """`conv_array` on ndarrays, the op on Tensors (so rules serve both backward paths)."""
    pair = _tensors(x, w)
    return conv_array(x, w, geo) if pair is None else _conv_node(*pair, None, geo)


def conv_transpose_any(g: Any, w: Any, geo: ConvGeometry) -> Any:
    """`conv_transpose_array` on ndarrays, the op on Tensors."""
    pair = _tensors(g, w)
    return conv_transpose_array(g, w, geo) if pair is None else _transpose_node(*pair, None, geo)


def conv_weight_any(x: Any, g: Any, geo: ConvGeometry, xp: Any = None) -> Any:
    """`conv_weight_array` on ndarrays, the op on Tensors."""
    pair = _tensors(x, g)
    return conv_weight_array(x, g, geo, xp) if pair is None else _weight_node(*pair, geo)


# --------------------------------------------------------------------------------------------
# Backward rules: each map's adjoints are the other two
# --------------------------------------------------------------------------------------------


def conv_grad_input(g: Any, inputs: tuple, out: Any, ctx: ConvContext) -> Any:
    """d conv(x, w)/dx: conv_transpose(g, w), the kernel run back over the positions"""
    return conv_transpose_any(g, inputs[1], ctx.geo)


def conv_grad_weight(g: Any, inputs: tuple, out: Any, ctx: ConvContext) -> Any:
    """d conv(x, w)/dw: conv_weight(x, g) = g @ columns(x).T"""
    return conv_weight_any(inputs[0], g, ctx.geo, ctx.xp)


def conv_grad_bias(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d (conv(x, w) + b)/db: 1, g summed over the batch and every position"""
    if not isinstance(g, Tensor) and batch_last(g).flags.c_contiguous:
        return batch_last(g).reshape(g.shape[1], -1).sum(axis=1)  # one run per channel
    return g.sum(axis=(0, *range(2, g.ndim)))


def conv_grads(g: Any, inputs: tuple, out: Any, ctx: ConvContext) -> list:
    """d (conv(x, w) + b)/d(x, w, b): the three rules above at once, for the operands that
    need a gradient. Both products read g with the batch last: a g given batch-first (as a
    user's array is) is copied so once, not once per product, and not at all when only w and
    b need it and the columns are few (a first layer: `conv_weight_by_image`)."""
    x, w = ctx.operands[:2]
    rules = (conv_grad_input, conv_grad_weight, conv_grad_bias)
    if isinstance(g, Tensor):  # create_graph: the rules as ops
        return [rule(g, inputs, out, ctx) if operand.requires_grad else None
                for rule, operand in zip(rules, ctx.operands)]  # fmt: skip
    if not x.requires_grad and _by_image(inputs[0], g, ctx.geo):
        # a first layer given a batch-first g: only w and b need it, read as it is
        dw = conv_weight_by_image(inputs[0], g, ctx.geo) if w.requires_grad else None
        db = [conv_grad_bias(g, inputs, out, ctx) if b.requires_grad else None
              for b in ctx.operands[2:]]  # fmt: skip
        return [None, dw, *db]
    g = batch_first(np.ascontiguousarray(batch_last(g)))  # a no-op if it is so already
    grads = [rule(g, inputs, out, ctx) if operand.requires_grad else None
             for rule, operand in zip(rules, ctx.operands)]  # fmt: skip
    if grads[0] is not None and not x._prev:
        # x's gradient stays as a leaf's .grad: stored the usual way (batch first) here, in
        # blocks, as numpy's own copy of this transposed view would be several times slower
        grads[0] = batch_first_copy(grads[0])
    return grads


def conv_transpose_grad_input(h: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d conv_transpose(g, w)/dg: conv(h, w)"""
    return conv_any(h, inputs[1], ctx[0])


def conv_transpose_grad_weight(h: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d conv_transpose(g, w)/dw: conv_weight(h, g)"""
    return conv_weight_any(h, inputs[0], ctx[0])


def conv_weight_grad_input(h: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d conv_weight(x, g)/dx: conv_transpose(g, h)"""
    return conv_transpose_any(inputs[1], h, ctx[0])


def conv_weight_grad_output(h: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d conv_weight(x, g)/dg: conv(x, h)"""
    return conv_any(inputs[0], h, ctx[0])


# --------------------------------------------------------------------------------------------
# The functions, as PyTorch's
# --------------------------------------------------------------------------------------------


def _operands(op: str, input: Any, weight: Any, bias: Any, dims: int) -> tuple:
    x = floating(input, op)
    w = floating(weight, op, "weight", x)
    b = None if bias is None else floating(bias, op, "bias", x)
    names = "(N, C, L)" if dims == 1 else "(N, C, H, W)"
    if x.data.ndim not in (dims + 1, dims + 2):
        raise ValueError(
            f"{op}: expected input of shape {names} or without the batch axis, got shape "
            f"{x.data.shape}"
        )
    if w.data.ndim != dims + 2:
        raise ValueError(
            f"{op}: weight must have {dims + 2} dims (channels, channels, *kernel), got shape "
            f"{w.data.shape}"
        )
    return x, w, b


def _check_bias(op: str, b: Tensor | None, channels: int) -> None:
    if b is not None and b.data.shape != (channels,):
        raise ValueError(
            f"{op}: bias must have shape ({channels},), one per output channel, got shape "
            f"{b.data.shape}"
        )


def _batched(x: Tensor, dims: int) -> tuple:
    """A batch of one for an unbatched input, and whether to remove it again."""
    if x.data.ndim == dims + 1:
        return x.reshape((1,) + x.data.shape), True
    return x, False


def _check_fits(op: str, geo: ConvGeometry, x_shape: tuple) -> None:
    spans = tuple(d * (k - 1) + 1 for k, d in zip(geo.kernel, geo.dilation))
    if any(p < s for p, s in zip(geo.padded, spans)):
        raise ValueError(
            f"{op}: the kernel {geo.kernel} (spanning {spans} with dilation {geo.dilation}) is "
            f"larger than the padded input {geo.padded} (input shape {x_shape})"
        )


def _conv(
    op: str, dims: int, input: Any, weight: Any, bias: Any, stride: Any, padding: Any,
    dilation: Any, groups: Any,
) -> Tensor:  # fmt: skip
    x, w, b = _operands(op, input, weight, bias, dims)
    x, unbatched = _batched(x, dims)
    stride = spatial(stride, dims, "stride", op, 1)
    dilation = spatial(dilation, dims, "dilation", op, 1)
    groups = _groups(groups, op)
    kernel = w.data.shape[2:]
    channels, out_channels = x.data.shape[1], w.data.shape[0]
    if out_channels % groups:
        raise ValueError(
            f"{op}: weight of shape {w.data.shape} has {out_channels} output channels, not "
            f"divisible by groups={groups}"
        )
    if w.data.shape[1] * groups != channels:
        raise ValueError(
            f"{op}: input of shape {x.data.shape} has {channels} channels but weight of shape "
            f"{w.data.shape} with groups={groups} expects {w.data.shape[1] * groups} "
            "(weight.shape[1] * groups)"
        )
    _check_bias(op, b, out_channels)
    pads = _padding(padding, dims, op, kernel, stride, dilation)
    geo = ConvGeometry(x.data.shape[2:], kernel, stride, pads, dilation, groups)
    _check_fits(op, geo, x.data.shape)
    out = _conv_node(x, w, b, geo)
    return out.reshape(out.data.shape[1:]) if unbatched else out


def _groups(groups: Any, op: str) -> int:
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    return int(groups)


def _padding(padding: Any, dims: int, op: str, kernel: tuple, stride: tuple, dilation: tuple):
    """(before, after) per spatial dim; "same" puts any odd one out after, as PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * dims
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(
                    f"{op}: padding='same' is not supported for strided convolutions "
                    f"(stride={stride})"
                )
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{op}: padding must be 'same', 'valid', an int or a tuple, got "
                         f"{padding!r}")  # fmt: skip
    return tuple((p, p) for p in spatial(padding, dims, "padding", op))


def conv1d(
    input: Tensor, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
    dilation: Any = 1, groups: int = 1,
) -> Tensor:  # fmt: skip
    """1-D convolution (cross-correlation, as PyTorch's) of `input` (N, C, L) or (C, L) with
    `weight` (out_channels, C / groups, kernel); `bias` (out_channels,). `padding` is an int,
    "valid" (none) or "same" (output as long as the input; stride 1 only).

    >>> from autodiff import Tensor, conv1d
    >>> conv1d(Tensor([[[1.0, 2.0, 3.0, 4.0]]]), Tensor([[[1.0, -1.0]]]))  # differences
    Tensor([[[-1., -1., -1.]]], shape=(1, 1, 3))
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: Tensor, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
    dilation: Any = 1, groups: int = 1,
) -> Tensor:  # fmt: skip
    """2-D convolution (cross-correlation, as PyTorch's) of `input` (N, C, H, W) or (C, H, W)
    with `weight` (out_channels, C / groups, kH, kW); `bias` (out_channels,). `stride`,
    `padding` and `dilation` are ints or (h, w) pairs; `padding` may be "valid" (none) or
    "same" (output as large as the input; stride 1 only). ``groups=C`` is a depthwise
    convolution.

    >>> import numpy as np
    >>> from autodiff import Tensor, conv2d
    >>> x = Tensor(np.ones((2, 3, 8, 8), np.float32))
    >>> w = Tensor(np.ones((4, 3, 3, 3), np.float32))
    >>> y = conv2d(x, w, padding="same")
    >>> y.shape, y.dtype, float(y.data[0, 0, 0, 0])  # a corner sees 2 x 2 x 3 ones
    ((2, 4, 8, 8), dtype('float32'), 12.0)
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(
    op: str, dims: int, input: Any, weight: Any, bias: Any, stride: Any, padding: Any,
    output_padding: Any, groups: Any, dilation: Any,
) -> Tensor:  # fmt: skip
    g, w, b = _operands(op, input, weight, bias, dims)
    g, unbatched = _batched(g, dims)
    stride = spatial(stride, dims, "stride", op, 1)
    dilation = spatial(dilation, dims, "dilation", op, 1)
    pads = spatial(padding, dims, "padding", op)
    extra = spatial(output_padding, dims, "output_padding", op)
    groups = _groups(groups, op)
    channels = g.data.shape[1]
    if w.data.shape[0] != channels or channels % groups:
        raise ValueError(
            f"{op}: input of shape {g.data.shape} has {channels} channels but weight of shape "
            f"{w.data.shape} (in_channels, out_channels / groups, *kernel) expects "
            f"{w.data.shape[0]}, divisible by groups={groups}"
        )
    if any(e >= max(s, d) for e, s, d in zip(extra, stride, dilation)):
        raise ValueError(
            f"{op}: output_padding {extra} must be smaller than stride {stride} or dilation "
            f"{dilation} in every dim"
        )
    kernel = w.data.shape[2:]
    size = tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + e + 1
        for n, s, p, d, k, e in zip(g.data.shape[2:], stride, pads, dilation, kernel, extra)
    )
    if any(n < 1 for n in size):
        raise ValueError(f"{op}: the output would have size {size} for input of shape "
                         f"{g.data.shape}; lower the padding")  # fmt: skip
    _check_bias(op, b, w.data.shape[1] * groups)
    # output_padding: rows after the last that conv would read, so less padding after
    pads = tuple((p, p - e) for p, e in zip(pads, extra))
    geo = ConvGeometry(size, kernel, stride, pads, dilation, groups)
    out = _transpose_node(g, w, b, geo)
    return out.reshape(out.data.shape[1:]) if unbatched else out


def conv_transpose1d(
    input: Tensor, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
    output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
) -> Tensor:  # fmt: skip
    """1-D transposed convolution (the gradient of conv1d in its input, "deconvolution") of
    `input` (N, C, L) or (C, L) with `weight` (C, out_channels / groups, kernel). The output
    has length (L - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1.

    >>> from autodiff import Tensor, conv_transpose1d
    >>> conv_transpose1d(Tensor([[[1.0, 2.0]]]), Tensor([[[1.0, 1.0, 1.0]]]), stride=2)
    Tensor([[[1., 1., 3., 2., 2.]]], shape=(1, 1, 5))
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)  # fmt: skip


def conv_transpose2d(
    input: Tensor, weight: Any, bias: Any = None, stride: Any = 1, padding: Any = 0,
    output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
) -> Tensor:  # fmt: skip
    """2-D transposed convolution (the gradient of conv2d in its input, used to upsample) of
    `input` (N, C, H, W) or (C, H, W) with `weight` (C, out_channels / groups, kH, kW). Each
    output side is (in - 1) * stride - 2 * padding + dilation * (kernel - 1) +
    output_padding + 1.

    >>> import numpy as np
    >>> from autodiff import Tensor, conv_transpose2d
    >>> up = conv_transpose2d(Tensor(np.ones((1, 4, 5, 5))), Tensor(np.ones((4, 2, 2, 2))),
    ...                       stride=2)
    >>> up.shape
    (1, 2, 10, 10)
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)  # fmt: skip


class SharedRules(tuple):
    """An op's per-operand rules, a tuple as every op's (drawings and the compiler read them
    one by one), that backward calls as one rule: a rule table that is not exactly a tuple is
    called once for all operands (see `Tensor._vjp`); here `conv_grads`, which shares their
    work."""

    def __call__(self, g: Any, inputs: tuple, out: Any, ctx: ConvContext) -> list:
        return conv_grads(g, inputs, out, ctx)


_CONV = SharedRules((conv_grad_input, conv_grad_weight, conv_grad_bias))
_TRANSPOSE = (conv_transpose_grad_input, conv_transpose_grad_weight, conv_grad_bias)
_WEIGHT = (conv_weight_grad_input, conv_weight_grad_output)

RULES = {
    "conv1d": _CONV,
    "conv2d": _CONV,
    "conv_transpose1d": _TRANSPOSE,
    "conv_transpose2d": _TRANSPOSE,
    "conv1d_weight": _WEIGHT,  # made only by the rules above, in gradients of gradients
    "conv2d_weight": _WEIGHT,
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS)
_CONV_EDGES = {"x": "conv_transpose(·, {w})", "w": "{x} windows", "b": "1"}
_TRANSPOSE_EDGES = {"x": "conv(·, {w})", "w": "{x} windows", "b": "1"}
_WEIGHT_EDGES = {"x": "conv_transpose({g}, ·)", "g": "conv({x}, ·)"}

EDGE_FORMULAS = {
    "conv1d": _CONV_EDGES,
    "conv2d": _CONV_EDGES,
    "conv_transpose1d": _TRANSPOSE_EDGES,
    "conv_transpose2d": _TRANSPOSE_EDGES,
    "conv1d_weight": _WEIGHT_EDGES,
    "conv2d_weight": _WEIGHT_EDGES,
}
