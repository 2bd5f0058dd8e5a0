"""`pad`, PyTorch's ``F.pad``: widen (or, with negative amounts, crop) the last dims of a
tensor, filling with a constant or with the tensor's own values (reflect, replicate, circular).

The amounts come in PyTorch's order, from the last dim backwards: ``(left, right)`` pads the last
dim, ``(left, right, top, bottom)`` the last two. A negative amount crops first; the modes that
copy values then pad what is left (as PyTorch). Each output element is a copy of an input element
(or the constant), so the gradient adds the output's gradients back into the input elements
they copy.

>>> from autodiff import Tensor, pad
>>> x = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
>>> pad(x, (2, 1), mode="reflect").data
array([[3., 2., 1., 2., 3., 2.]])
>>> pad(x, (2, 1), mode="reflect").sum().backward()
>>> x.grad  # the middle element is copied three times, the last twice
array([[1., 3., 2.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _make, as_tensor
from autodiff.tensor_ops.shape import add_at

_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _amounts(op: str, pad: Any, ndim: int, mode: str) -> list:
    """[(dim, before, after), ...] from PyTorch's flat pad tuple, last dim first."""
    if isinstance(pad, (int, np.integer)) or not isinstance(pad, (tuple, list)):
        raise TypeError(f"{op}: pad must be a tuple of ints (left, right, ...), got {pad!r}")
    if any(isinstance(p, bool) or not isinstance(p, (int, np.integer)) for p in pad):
        raise TypeError(f"{op}: pad must hold ints, got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"{op}: pad must have an even length (before, after per dim), got "
                         f"{pad!r}")  # fmt: skip
    dims = len(pad) // 2
    if dims > ndim:
        raise ValueError(f"{op}: pad {pad!r} pads {dims} dims but the input has only {ndim}")
    if mode != "constant" and not (dims <= 3 and ndim in (dims + 1, dims + 2)):
        raise ValueError(
            f"{op}: mode {mode!r} pads the last 1, 2 or 3 dims of an input with 1 or 2 more "
            f"(a batch and channels), got pad {pad!r} for an input with {ndim} dims"
        )
    return [(ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(dims)]


def _source(n: int, before: int, after: int, mode: str) -> np.ndarray:
    """For each output position along one dim, the input position it copies (-1: the
    constant). As PyTorch: reflect and replicate pad, then crop; circular crops, then wraps
    around what is left."""
    if mode == "circular":
        kept = np.arange(n)[max(-before, 0) : n - max(-after, 0)]
        return np.pad(kept, (max(before, 0), max(after, 0)), mode="wrap")
    options = {"constant_values": -1} if mode == "constant" else {"mode": _MODES[mode]}
    source = np.pad(np.arange(n), (max(before, 0), max(after, 0)), **options)
    return source[max(-before, 0) : len(source) - max(-after, 0)]


def _check_sizes(op: str, x: np.ndarray, amounts: list, mode: str) -> None:
    for dim, before, after in amounts:
        n = x.shape[dim]
        size = n + before + after
        if size < 0 or (mode != "constant" and size < 1):
            raise ValueError(
                f"{op}: pad ({before}, {after}) leaves nothing of dim {dim} of size {n} "
                f"(input shape {x.shape})"
            )
        if mode == "reflect" and max(before, after) >= n:
            raise ValueError(
                f"{op}: reflect padding ({before}, {after}) must be less than the size {n} of "
                f"dim {dim} (input shape {x.shape})"
            )
        kept = n + min(before, 0) + min(after, 0)
        if mode == "circular" and max(before, after) > kept:
            raise ValueError(
                f"{op}: circular padding ({before}, {after}) must be at most the size {kept} "
                f"left of dim {dim} (input shape {x.shape}): it would wrap around more than once"
            )


def _index(x_shape: tuple, amounts: list, mode: str) -> tuple:
    """The numpy index that reads the padded output out of the input (an open grid)."""
    ndim = len(x_shape)
    index: list = [slice(None)] * ndim
    padded = [dim for dim, _, _ in amounts]
    first = min(padded)
    for dim, before, after in amounts:
        source = _source(x_shape[dim], before, after, mode)
        shape = [1] * (ndim - first)
        shape[dim - first] = -1
        index[dim] = source.reshape(shape)
    return tuple(index)


def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:
    """`input` padded by the amounts in `pad`, PyTorch's order (last dim first: ``(left,
    right, top, bottom, ...)``). `mode` "constant" fills with `value` (default 0) and takes
    negative amounts to crop; "reflect" mirrors without repeating the edge, "replicate" repeats
    it, "circular" wraps around (these pad the last 1-3 dims of a batch or of one sample).

    >>> from autodiff import Tensor, pad
    >>> pad(Tensor([[1.0, 2.0]]), (1, 1, 1, 0), value=9.0)
    Tensor([[9., 9., 9., 9.],
            [9., 1., 2., 9.]], shape=(2, 4))
    >>> pad(Tensor([[1.0, 2.0, 3.0]]), (-1, 1), mode="replicate")
    Tensor([[2., 3., 3.]], shape=(1, 3))
    """
    x = input if isinstance(input, Tensor) else as_tensor(input, None, "pad")
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {sorted(_MODES)}, got {mode!r}")
    if value is not None and mode != "constant":
        raise ValueError(f"pad: mode {mode!r} takes no value (only 'constant' does)")
    amounts = _amounts("pad", pad, x.data.ndim, mode)
    _check_sizes("pad", x.data, amounts, mode)
    if mode == "constant":
        data = _constant_pad(x.data, amounts, 0.0 if value is None else value)
    else:
        data = x.data[_index(x.data.shape, amounts, mode)]
    return _make(data, (x,), "pad", (amounts, mode))


def _constant_pad(data: np.ndarray, amounts: list, value: float) -> np.ndarray:
    shape = list(data.shape)
    source: list = [slice(None)] * data.ndim
    target: list = [slice(None)] * data.ndim
    for dim, before, after in amounts:  # crop where an amount is negative, then pad
        n = data.shape[dim]
        shape[dim] = n + before + after
        start, stop = max(-before, 0), n - max(-after, 0)
        source[dim] = slice(start, stop)
        target[dim] = slice(max(before, 0), max(before, 0) + max(stop - start, 0))
    out = np.full(shape, value, dtype=data.dtype)
    out[tuple(target)] = data[tuple(source)]
    return out


def pad_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d pad(x)/dx: 1 for each output element that copies an input element, summed"""
    amounts, mode = ctx
    shape = inputs[0].shape
    if mode == "constant":  # the adjoint of padding is cropping, and of cropping padding
        back = [(dim, -before, -after) for dim, before, after in amounts]
        if isinstance(g, Tensor):
            return _make(_constant_pad(g.data, back, 0.0), (g,), "pad", (back, mode))
        return _constant_pad(g, back, 0.0)
    return add_at(g, shape, _index(shape, amounts, mode))


RULES = {"pad": (pad_grad,)}

# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS)
EDGE_FORMULAS = {"pad": {"x": "1 for each copy"}}
