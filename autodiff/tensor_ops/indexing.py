"""Indexing with PyTorch's signatures: gather, scatter, scatter_add, index_select,
masked_fill, one_hot, nonzero, and ``where(condition)``.

``gather`` and ``index_select`` are indexing (``x[index]``) with an index built from theirs, so
their gradient is indexing's: scattered back, repeats accumulating. ``scatter`` writes `src`
over `x` at the index: the overwritten elements of `x` get no gradient (as PyTorch), and each
element of `src` gets the gradient of the position it was written to.

>>> import numpy as np
>>> from autodiff import Tensor
>>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> x.gather(1, np.array([[1, 1], [0, 1]]))
Tensor([[2., 2.],
        [3., 4.]], shape=(2, 2), op='getitem')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _constant, _make, as_tensor
from autodiff.tensor_ops import elementwise as ew
from autodiff.tensor_ops import shape as sh
from autodiff.tensor_ops._common import along, dim_of, index_array, integer

# --------------------------------------------------------------------------------------------
# gather, index_select: indexing, so the rule is getitem's
# --------------------------------------------------------------------------------------------


def _check_index(op: str, index: np.ndarray, x_shape: tuple, dim: int, name: str = "x") -> None:
    """index has x's number of dims, is no larger than x off `dim`, and stays in range."""
    if index.ndim != len(x_shape):
        raise ValueError(
            f"{op}: index has {index.ndim} dims but {name} has {len(x_shape)} "
            f"(shapes {index.shape} and {x_shape}); they must match"
        )
    for axis, (n, limit) in enumerate(zip(index.shape, x_shape)):
        if axis != dim and n > limit:
            raise ValueError(
                f"{op}: index of shape {index.shape} is larger than {name} of shape {x_shape} "
                f"in dim {axis}"
            )
    _check_range(op, index, x_shape[dim] if x_shape else 1, dim)


def _check_range(op: str, index: np.ndarray, size: int, dim: int) -> None:
    if index.size and (index.min() < 0 or index.max() >= size):
        bad = index.min() if index.min() < 0 else index.max()
        raise IndexError(f"{op}: index {bad} is out of range for dim {dim} of size {size}")


def gather(x: Tensor, dim: int, index: Any) -> Tensor:
    """``out[i][j] = x[i][index[i][j]]`` for dim 1 (``x[index[i][j]][j]`` for dim 0...): index
    has x's number of dims and is no larger off `dim`. Negative indices are an error, as in
    PyTorch.

    >>> import numpy as np
    >>> from autodiff import Tensor, gather
    >>> gather(Tensor([10.0, 20.0, 30.0]), 0, np.array([2, 0, 2]))
    Tensor([30., 10., 30.])
    """
    d = dim_of(dim, x.data.ndim, "gather")
    idx = index_array(index, "gather")
    if x.data.ndim == 0:
        return gather(x.reshape(1), 0, idx.reshape(1)).reshape(())
    _check_index("gather", idx, x.data.shape, d)
    return sh.getitem(x, along(idx, d))


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """The entries of x at the positions `index` (a 1-D integer index) along `dim`.

    >>> import numpy as np
    >>> from autodiff import Tensor, index_select
    >>> index_select(Tensor([[1.0, 2.0], [3.0, 4.0]]), 1, np.array([1, 1, 0]))
    Tensor([[2., 2., 1.],
            [4., 4., 3.]], shape=(2, 3))
    """
    d = dim_of(dim, x.data.ndim, "index_select")
    idx = index_array(index, "index_select")
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {idx.shape}")
    idx = idx.reshape(-1)
    if x.data.ndim == 0:
        return index_select(x.reshape(1), 0, idx).reshape(-1 if idx.size != 1 else ())
    _check_range("index_select", idx, x.data.shape[d], d)
    return sh.getitem(x, (slice(None),) * d + (idx,))


# --------------------------------------------------------------------------------------------
# scatter, scatter_add
# --------------------------------------------------------------------------------------------


def _scatter_operands(op: str, x: Tensor, dim: int, index: Any, src: Any) -> tuple:
    d = dim_of(dim, x.data.ndim, op)
    idx = index_array(index, op)
    src = as_tensor(src, x, op)
    if src.data.ndim == 0:  # a number written everywhere the index points
        src = as_tensor(np.full(idx.shape, src.data, dtype=x.data.dtype), x, op)
    _check_index(op, idx, x.data.shape, d)
    if src.data.ndim != idx.ndim or any(n > m for n, m in zip(idx.shape, src.data.shape)):
        raise ValueError(
            f"{op}: index of shape {idx.shape} must be no larger than src of shape "
            f"{src.data.shape} in every dim"
        )
    # src[:index.shape] is what gets written; any more of src is unused
    used = tuple(slice(0, n) for n in idx.shape)
    full = idx.shape == src.data.shape
    return d, src, along(idx, d), (None if full else used)


def scatter(x: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    """A copy of x with ``out[i][index[i][j]] = src[i][j]`` (dim 1): `src` is a tensor at least
    as large as `index`, or a number. Overwritten elements of x get no gradient; where index
    repeats a position, which write wins is unspecified (as in PyTorch).

    >>> import numpy as np
    >>> from autodiff import Tensor, scatter
    >>> scatter(Tensor([0.0, 0.0, 0.0]), 0, np.array([2, 0]), Tensor([5.0, 6.0]))
    Tensor([6., 0., 5.])
    """
    if x.data.ndim == 0:
        return _as_one_element(scatter, x, dim, index, src)
    d, src, positions, used = _scatter_operands("scatter", x, dim, index, src)
    out = x.data.copy()
    part = src.data if used is None else src.data[used]
    out[positions] = part
    written = np.zeros(out.shape, dtype=bool)
    written[positions] = True
    return _make(out, (x, src), "scatter", (positions, used, written))


def scatter_add(x: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    """A copy of x with ``out[i][index[i][j]] += src[i][j]`` (dim 1); repeated positions
    accumulate. (PyTorch's scatter_add; indexing's own adjoint is `shape.add_at`.)

    >>> import numpy as np
    >>> from autodiff import Tensor, scatter_add
    >>> scatter_add(Tensor([0.0, 0.0, 0.0]), 0, np.array([2, 0, 2]), Tensor([5.0, 6.0, 7.0]))
    Tensor([ 6.,  0., 12.])
    """
    if x.data.ndim == 0:
        return _as_one_element(scatter_add, x, dim, index, src)
    d, src, positions, used = _scatter_operands("scatter_add", x, dim, index, src)
    out = x.data.copy()
    np.add.at(out, positions, src.data if used is None else src.data[used])
    return _make(out, (x, src), "scatter_add", (positions, used, None))


def _as_one_element(op: Any, x: Tensor, dim: int, index: Any, src: Any) -> Tensor:
    """A 0-d tensor's scatter as that of one element (index and src 0-d too, as PyTorch)."""
    dim_of(dim, 0, op.__name__)
    src = src.reshape(1) if isinstance(src, Tensor) and src.data.ndim == 0 else src
    idx = index_array(index, op.__name__)
    return op(x.reshape(1), 0, idx.reshape(-1) if idx.ndim == 0 else idx, src).reshape(())


def scatter_grad_x(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d scatter(x, index, src)/dx = 1 where x was kept, 0 where src overwrote it"""
    return np.where(ctx[2], 0, g)


def scatter_add_grad_x(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d scatter_add(x, index, src)/dx = 1"""
    return g


def scatter_grad_src(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d scatter(x, index, src)/dsrc[i][j] = 1 at out[i][index[i][j]]: g read at the index
    (0 for any part of src beyond the index's shape)"""
    positions, used, _ = ctx
    picked = g[positions]
    if used is None:
        return picked
    return sh.add_at(picked, inputs[1].shape, used)


# --------------------------------------------------------------------------------------------
# masked_fill, one_hot, nonzero, where(condition)
# --------------------------------------------------------------------------------------------


def masked_fill(x: Tensor, mask: Any, value: Any) -> Tensor:
    """x with `value` (a number or a 0-d tensor) where the boolean `mask` (broadcast to x's
    shape) is True; those elements of x get no gradient. Composed from `where`.

    >>> from autodiff import Tensor
    >>> x = Tensor([1.0, -2.0, 3.0])
    >>> x.masked_fill(x < 0, 0.0)
    Tensor([1., 0., 3.])
    """
    condition = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if condition.dtype != bool:
        raise TypeError(f"masked_fill: mask must be boolean, got dtype {condition.dtype}")
    try:
        shape = np.broadcast_shapes(condition.shape, x.data.shape)
    except ValueError:
        shape = None
    if shape != x.data.shape:
        raise ValueError(
            f"masked_fill: mask of shape {condition.shape} does not broadcast to the tensor's "
            f"shape {x.data.shape}"
        )
    if isinstance(value, Tensor) and value.data.ndim != 0:
        raise ValueError(f"masked_fill: value must be a number or 0-d tensor, got {value.shape}")
    return ew.where(condition, value, x)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Class labels (integers) as one-hot rows: shape ``(*tensor.shape, num_classes)``, int64
    as ``torch.nn.functional.one_hot``; ``num_classes=-1`` takes the largest label + 1.

    >>> import numpy as np
    >>> from autodiff import one_hot
    >>> one_hot(np.array([0, 2]), 3)
    Tensor([[1, 0, 0],
            [0, 0, 1]], shape=(2, 3), dtype=int64)
    """
    labels = index_array(tensor, "one_hot", "labels")
    num_classes = integer(num_classes, "num_classes", "one_hot", minimum=-1)
    if num_classes == -1:
        if labels.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from no labels; pass it")
        num_classes = int(labels.max()) + 1
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels.min() if labels.min() < 0 else labels.max()
        raise ValueError(f"one_hot: label {bad} is not in 0..{num_classes - 1}")
    return _constant((labels[..., None] == np.arange(num_classes)).astype(np.int64))


def nonzero(x: Any, as_tuple: bool = False) -> Any:
    """The positions of the nonzero elements: an int64 tensor with one row per element and
    one column per dim, or with ``as_tuple=True`` one 1-D index tensor per dim (usable as
    ``x[...]``).

    >>> from autodiff import Tensor
    >>> Tensor([[0.0, 2.0], [3.0, 0.0]]).nonzero()
    Tensor([[0, 1],
            [1, 0]], shape=(2, 2), dtype=int64)
    """
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    if as_tuple:
        return tuple(_constant(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(data)))
    return _constant(np.argwhere(data).astype(np.int64))


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """`input` where `condition` holds, else `other` (broadcasting; differentiable in both, see
    `elementwise.where`); with the condition alone, ``nonzero(condition, as_tuple=True)``.

    >>> from autodiff import Tensor, where
    >>> x = Tensor([-1.0, 3.0])
    >>> where(x > 0, x, 0.0), where(x > 0)
    (Tensor([0., 3.]), (Tensor([1], dtype=int64),))
    """
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where: give both input and other, or neither (for nonzero)")
    return ew.where(condition, input, other)


def tensor_where(x: Tensor, condition: Any, other: Any) -> Tensor:
    """``x.where(condition, other)``: x where `condition` holds, else `other`."""
    return ew.where(condition, x, other)


RULES = {
    "scatter": (scatter_grad_x, scatter_grad_src),
    "scatter_add": (scatter_add_grad_x, scatter_grad_src),
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS).
EDGE_FORMULAS = {
    "scatter": {"x": "1 where not written over", "src": "1 at the index"},
    "scatter_add": {"x": "1", "src": "1 at the index"},
}
