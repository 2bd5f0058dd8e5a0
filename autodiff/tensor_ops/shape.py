"""Shape ops: reshape (squeeze, unsqueeze and flatten too), transpose, expand, indexing,
concatenate and stack, each next to its backward rule.

Their rules only move gradients around: reshape back, transpose by the inverse permutation,
scatter into zeros. ``expand``'s rule hands the gradient back unchanged: summing it over the
broadcast axes happens where every op's does, in `autodiff.tensor._unbroadcast`.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from autodiff.tensor import Tensor, _make, as_tensor


def _sizes(shape: Sequence) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` both give (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _short(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------------------------
# reshape and its relatives
# --------------------------------------------------------------------------------------------


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape: ``x.reshape(2, -1)`` or ``x.reshape((2, -1))``.

    >>> from autodiff import arange
    >>> arange(4.0).reshape(2, -1)
    Tensor([[0., 1.],
            [2., 3.]], shape=(2, 2))
    """
    shape = _sizes(shape)
    try:
        data = x.data.reshape(shape)
    except (ValueError, TypeError):
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.data.shape} ({x.data.size} elements) "
            f"into {shape}"
        ) from None
    return _make(data, (x,), "reshape")


def squeeze(x: Tensor, axis: int | tuple | None = None) -> Tensor:
    """Drop size-1 axes (all of them, or those in `axis`)."""
    try:
        data = x.data.squeeze(axis)
    except ValueError:
        raise ValueError(
            f"squeeze: axis {axis} of a tensor of shape {x.data.shape} does not have size 1"
        ) from None
    except np.exceptions.AxisError:
        raise ValueError(f"squeeze: axis {axis} is out of range for shape {x.data.shape}") from None
    return _make(data, (x,), "reshape")


def unsqueeze(x: Tensor, axis: int | tuple) -> Tensor:
    """Insert a size-1 axis at `axis` (numpy's expand_dims)."""
    try:
        data = np.expand_dims(x.data, axis)
    except np.exceptions.AxisError:
        raise ValueError(
            f"unsqueeze: axis {axis} is out of range for a tensor of shape {x.data.shape}"
        ) from None
    return _make(data, (x,), "reshape")


def flatten(x: Tensor, start: int = 0, end: int = -1) -> Tensor:
    """Merge axes start..end (inclusive; all by default) into one, as ``torch.flatten``."""
    shape = x.data.shape
    if not shape:
        return reshape(x, 1)
    n = len(shape)
    if not (-n <= start < n and -n <= end < n):
        raise ValueError(f"flatten: axes {start}..{end} are out of range for shape {shape}")
    start, end = start % n, end % n
    if start > end:
        raise ValueError(f"flatten: start axis {start} comes after end axis {end}")
    return reshape(x, shape[:start] + (-1,) + shape[end + 1 :])


def reshape_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d reshape(x)/dx: the gradient reshaped back to x's shape"""
    return g.reshape(inputs[0].shape)


# --------------------------------------------------------------------------------------------
# transpose (permute, swapaxes, .T)
# --------------------------------------------------------------------------------------------


def transpose(x: Tensor, *axes: Any) -> Tensor:
    """Permute the axes, as numpy's ``transpose``: reversed by default, else ``axes`` gives the
    new order (``x.transpose(2, 0, 1)``). To swap two axes of any tensor use ``swapaxes``."""
    axes = _sizes(axes) if axes and axes != (None,) else ()
    ndim = x.data.ndim
    if not axes:
        return _make(x.data.transpose(), (x,), "transpose", None)
    if sorted(a % ndim if -ndim <= a < ndim else a for a in axes) != list(range(ndim)):
        raise ValueError(
            f"transpose: axes {axes} are not a permutation of the {ndim} axes of shape "
            f"{x.data.shape} (to swap two axes use swapaxes)"
        )
    axes = tuple(a % ndim for a in axes)
    return _make(x.data.transpose(axes), (x,), "transpose", axes)


def swapaxes(x: Tensor, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes (PyTorch's ``transpose(dim0, dim1)``)."""
    ndim = x.data.ndim
    if not (-ndim <= axis1 < ndim and -ndim <= axis2 < ndim):
        raise ValueError(
            f"swapaxes: axes {axis1} and {axis2} are out of range for shape {x.data.shape}"
        )
    order = list(range(ndim))
    order[axis1], order[axis2] = order[axis2], order[axis1]
    return transpose(x, tuple(order))


def transpose_grad(g: Any, inputs: tuple, out: Any, axes: tuple | None) -> Any:
    """d transpose(x)/dx: the gradient transposed by the inverse permutation"""
    if axes is None:
        return np.transpose(g)
    return np.transpose(g, tuple(np.argsort(axes)))


# --------------------------------------------------------------------------------------------
# expand (broadcast_to)
# --------------------------------------------------------------------------------------------


def broadcast_to(x: Tensor, *shape: Any) -> Tensor:
    """`x` repeated along new or size-1 axes to `shape`, as ``np.broadcast_to`` (a view)."""
    shape = _sizes(shape)
    try:
        data = np.broadcast_to(x.data, shape)
    except (ValueError, TypeError):
        raise ValueError(
            f"expand: cannot broadcast a tensor of shape {x.data.shape} to {shape}"
        ) from None
    return _make(data, (x,), "expand")


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """``torch.expand``: `broadcast_to` where -1 keeps that axis' size."""
    sizes = _sizes(sizes)
    lead = len(sizes) - x.data.ndim
    shape = tuple(
        x.data.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes)
    )
    return broadcast_to(x, shape)


def expand_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d expand(x)/dx = 1 for every copy (summing the copies happens in _unbroadcast)"""
    return g


# --------------------------------------------------------------------------------------------
# Indexing: x[index] and its adjoint, add-at (numpy's np.add.at into zeros)
# --------------------------------------------------------------------------------------------


def _plain_index(index: Any) -> Any:
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def _may_repeat(index: Any) -> bool:
    """Whether an index can pick an element twice (integer arrays can; slices and masks can't)."""
    for part in index if isinstance(index, tuple) else (index,):
        if isinstance(part, (list, np.ndarray)) and np.asarray(part).dtype != bool:
            return True
    return False


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with numpy's indexing: ints, slices, None, Ellipsis, integer arrays and
    boolean masks. An element picked several times gets the sum of its gradients.

    >>> import numpy as np
    >>> from autodiff import Tensor
    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> x[np.array([0, 0, 2])].sum().backward()
    >>> x.grad
    array([2., 0., 1.])
    """
    index = _plain_index(index)
    try:
        data = x.data[index]
    except IndexError as error:
        raise IndexError(
            f"getitem: {error} (tensor shape {x.data.shape}, index {_short(index)})"
        ) from None
    return _make(data, (x,), "getitem", index)


def _add_at_array(g: np.ndarray, shape: tuple, index: Any) -> np.ndarray:
    full = np.zeros(shape, dtype=g.dtype)
    if _may_repeat(index):
        np.add.at(full, index, g)  # repeated indices accumulate
    else:
        full[index] = g
    return full


def add_at(g: Any, shape: tuple, index: Any) -> Any:
    """Zeros of `shape` with `g` added at ``[index]`` (repeats accumulate): getitem's adjoint."""
    if isinstance(g, Tensor):
        return _make(_add_at_array(g.data, shape, index), (g,), "add_at", index)
    if hasattr(g, "scatter_add"):  # a symbolic operand (autodiff.compile) writes the call out
        return g.scatter_add(shape, index, _may_repeat(index))
    return _add_at_array(g, shape, index)


def getitem_grad(g: Any, inputs: tuple, out: Any, index: Any) -> Any:
    """d x[index]/dx: the gradient added into zeros at [index]"""
    return add_at(g, inputs[0].shape, index)


def add_at_grad(g: Any, inputs: tuple, out: Any, index: Any) -> Any:
    """d add_at(y, index)/dy: the gradient read back at [index]"""
    return g[index]


# --------------------------------------------------------------------------------------------
# concatenate and stack (any number of inputs: one rule returns every input's gradient)
# --------------------------------------------------------------------------------------------


def _inputs(tensors: Any, op: str) -> tuple:
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    like = next((t for t in tensors if isinstance(t, Tensor)), None)
    return tuple(as_tensor(t, like, op) for t in tensors)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis.

    >>> from autodiff import Tensor, concatenate
    >>> concatenate([Tensor([1.0]), Tensor([2.0, 3.0])])
    Tensor([1., 2., 3.])
    """
    xs = _inputs(tensors, "concatenate")
    try:
        data = np.concatenate([x.data for x in xs], axis=axis)
    except (ValueError, TypeError) as error:
        shapes = ", ".join(str(x.data.shape) for x in xs)
        raise ValueError(f"concatenate: shapes {shapes} along axis {axis}: {error}") from None
    axis = axis % data.ndim
    ends = np.cumsum([x.data.shape[axis] for x in xs]).tolist()
    return _make(data, xs, "concatenate", (axis, ends))


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis.

    >>> from autodiff import Tensor, stack
    >>> stack([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])], axis=1)
    Tensor([[1., 3.],
            [2., 4.]], shape=(2, 2))
    """
    xs = _inputs(tensors, "stack")
    try:
        data = np.stack([x.data for x in xs], axis=axis)
    except (ValueError, TypeError) as error:
        shapes = ", ".join(str(x.data.shape) for x in xs)
        raise ValueError(f"stack: shapes {shapes} along axis {axis}: {error}") from None
    return _make(data, xs, "stack", axis % data.ndim)


def concatenate_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> tuple:
    """d concatenate(xs)/dx_k = 1 on x_k's slice of the output, so x_k gets that slice of g"""
    axis, ends = ctx
    lead = (slice(None),) * axis
    starts = [0, *ends[:-1]]
    return tuple(g[lead + (slice(lo, hi),)] for lo, hi in zip(starts, ends))


def stack_grad(g: Any, inputs: tuple, out: Any, axis: int) -> tuple:
    """d stack(xs)/dx_k = 1 at position k of the new axis, so x_k gets g[..., k, ...]"""
    lead = (slice(None),) * axis
    return tuple(g[lead + (k,)] for k in range(len(inputs)))


RULES = {
    "reshape": (reshape_grad,),
    "transpose": (transpose_grad,),
    "expand": (expand_grad,),
    "getitem": (getitem_grad,),
    "add_at": (add_at_grad,),
    "concatenate": concatenate_grad,
    "stack": stack_grad,
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS);
# "*" stands for every input of an op with any number of them.
EDGE_FORMULAS = {
    "reshape": {"x": "1, reshaped"},
    "transpose": {"x": "1, transposed"},
    "expand": {"x": "1 per copy"},
    "getitem": {"x": "1 at the index"},
    "add_at": {"y": "1 at the index"},
    "concatenate": {"*": "1 on its slice"},
    "stack": {"*": "1 on its slice"},
}
