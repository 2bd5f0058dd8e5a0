"""Ops that copy or move elements, with PyTorch's semantics: repeat, tile, repeat_interleave,
flip, roll, split, chunk, unbind, tril, triu, diag, diagonal, unfold, movedim.

Most are indexing or transposing in disguise (flip is a reversed slice, split a few slices,
diag and unfold an integer index), so they take those ops' rules. ``repeat``/``tile`` sum the
gradient over the copies; ``roll``'s gradient is rolled back by the opposite shift;
``tril``/``triu`` keep the gradient of the kept triangle.

Note: ``repeat`` is PyTorch's (numpy's ``tile``: the whole tensor copied along each dim), not
numpy's ``repeat`` (each element copied in place), which is ``repeat_interleave`` here as in
PyTorch.

>>> from autodiff import Tensor
>>> Tensor([1.0, 2.0]).repeat(2), Tensor([1.0, 2.0]).repeat_interleave(2)
(Tensor([1., 2., 1., 2.]), Tensor([1., 1., 2., 2.]))
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from autodiff.tensor import Tensor, _make
from autodiff.tensor_ops import shape as sh
from autodiff.tensor_ops._common import dim_of, index_array, integer


def _ints(values: Sequence, op: str, name: str) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` both give (2, 3), each an int."""
    if len(values) == 1 and isinstance(values[0], (tuple, list)):
        values = values[0]
    return tuple(integer(v, name, op) for v in values)


# --------------------------------------------------------------------------------------------
# repeat, tile (one op), repeat_interleave
# --------------------------------------------------------------------------------------------


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """x copied ``sizes[i]`` times along each dim (PyTorch's ``repeat``, numpy's ``tile``);
    `sizes` has at least x's number of dims, extra ones adding leading dims.

    >>> from autodiff import Tensor
    >>> Tensor([[1.0, 2.0]]).repeat(2, 2)
    Tensor([[1., 2., 1., 2.],
            [1., 2., 1., 2.]], shape=(2, 4))
    """
    reps = _ints(sizes, "repeat", "sizes")
    if len(reps) < x.data.ndim:
        raise ValueError(
            f"repeat: {len(reps)} sizes {reps} for a tensor with {x.data.ndim} dims; give at "
            "least one per dim (tile pads with 1s)"
        )
    return _tile(x, reps, "repeat")


def tile(x: Tensor, dims: Any) -> Tensor:
    """x copied ``dims[i]`` times along each dim; fewer `dims` than x's dims are padded with
    leading 1s (``torch.tile``, ``np.tile``).

    >>> from autodiff import Tensor, tile
    >>> tile(Tensor([[1.0], [2.0]]), (2,))
    Tensor([[1., 1.],
            [2., 2.]], shape=(2, 2))
    """
    reps = _ints((dims,), "tile", "dims")
    return _tile(x, (1,) * (x.data.ndim - len(reps)) + reps, "tile")


def _tile(x: Tensor, reps: tuple, op: str) -> Tensor:
    if any(r < 0 for r in reps):
        raise ValueError(f"{op}: sizes must not be negative, got {reps}")
    return _make(np.tile(x.data, reps), (x,), "tile", reps)


def tile_grad(g: Any, inputs: tuple, out: Any, reps: tuple) -> Any:
    """d tile(x)/dx = 1 for every copy: the gradient summed over the copies"""
    x = inputs[0]
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    # split each output dim into (copy, element) and sum over the copies
    split = tuple(n for pair in zip(reps, shape) for n in pair)
    copies = tuple(range(0, 2 * len(reps), 2))
    return g.reshape(split).sum(axis=copies).reshape(x.shape)


def repeat_interleave(x: Tensor, repeats: Any, dim: int | None = None) -> Tensor:
    """Each element repeated `repeats` times (an int, or one count per element) along `dim`,
    or in the flattened tensor when `dim` is None (numpy's ``repeat``). Indexing: its
    gradient sums the copies.

    >>> from autodiff import Tensor
    >>> Tensor([1.0, 2.0, 3.0]).repeat_interleave([1, 0, 2])
    Tensor([1., 3., 3.])
    """
    if dim is None:
        x, d = x.reshape(-1), 0
    else:
        d = dim_of(dim, x.data.ndim, "repeat_interleave")
        if x.data.ndim == 0:
            x = x.reshape(1)
    n = x.data.shape[d]
    if isinstance(repeats, (int, np.integer)) and not isinstance(repeats, bool):
        counts = np.full(n, integer(repeats, "repeats", "repeat_interleave"))
    else:
        counts = index_array(repeats, "repeat_interleave", "repeats").reshape(-1)
        if counts.size == 1:
            counts = np.full(n, counts[0])
        if counts.size != n:
            raise ValueError(
                f"repeat_interleave: {counts.size} repeats for {n} elements along dim {d}"
            )
    if (counts < 0).any():
        raise ValueError("repeat_interleave: repeats must not be negative")
    return sh.getitem(x, (slice(None),) * d + (np.repeat(np.arange(n), counts),))


# --------------------------------------------------------------------------------------------
# flip, roll
# --------------------------------------------------------------------------------------------


def flip(x: Tensor, *dims: Any) -> Tensor:
    """x with the order of its elements reversed along each of `dims` (a reversed slice).

    >>> from autodiff import Tensor
    >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).flip(0, 1)
    Tensor([[4., 3.],
            [2., 1.]], shape=(2, 2))
    """
    axes = [dim_of(d, x.data.ndim, "flip") for d in _ints(dims, "flip", "dims")]
    if len(set(axes)) != len(axes):
        raise ValueError(f"flip: dims {dims} name the same dim twice")
    if x.data.ndim == 0:
        return sh.getitem(x, ...)
    return sh.getitem(x, tuple(slice(None, None, -1) if a in axes else slice(None)
                               for a in range(x.data.ndim)))  # fmt: skip


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """x with its elements moved `shifts` places along `dims` (wrapping round); without `dims`
    the flattened tensor is rolled, as ``torch.roll``.

    >>> from autodiff import Tensor
    >>> Tensor([1.0, 2.0, 3.0]).roll(1)
    Tensor([3., 1., 2.])
    """
    several = isinstance(shifts, (tuple, list))
    steps = _ints((shifts,), "roll", "shifts") if several else (integer(shifts, "shifts", "roll"),)
    if dims is None:
        if several and len(steps) != 1:
            raise ValueError(f"roll: {len(steps)} shifts need as many dims, got none")
        return _make(np.roll(x.data, steps[0]), (x,), "roll", (steps[0], None))
    axes = dims if isinstance(dims, (tuple, list)) else (dims,)
    axes = tuple(dim_of(a, x.data.ndim, "roll") for a in axes)
    if len(axes) != len(steps):
        raise ValueError(f"roll: shifts {steps} and dims {axes} must have the same length")
    if x.data.ndim == 0:
        return sh.getitem(x, ...)
    return _make(np.roll(x.data, steps, axis=axes), (x,), "roll", (steps, axes))


def roll_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d roll(x, s)/dx: the gradient rolled back, by -s"""
    steps, axes = ctx
    if axes is None:
        return np.roll(g, -steps)
    return np.roll(g, tuple(-s for s in steps), axis=axes)


# --------------------------------------------------------------------------------------------
# split, chunk, unbind: slices
# --------------------------------------------------------------------------------------------


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple:
    """x cut along `dim` into pieces of `split_size_or_sections` elements (the last may be
    smaller), or into pieces of the sizes listed (which must add up to x's size along `dim`).

    >>> from autodiff import arange
    >>> arange(5.0).split(2)
    (Tensor([0., 1.]), Tensor([2., 3.]), Tensor([4.]))
    """
    d = dim_of(dim, x.data.ndim, "split")
    if x.data.ndim == 0:
        raise ValueError("split: cannot split a 0-d tensor")
    n = x.data.shape[d]
    if isinstance(split_size_or_sections, (tuple, list)):
        sizes = tuple(integer(s, "section sizes", "split", minimum=0)
                      for s in split_size_or_sections)  # fmt: skip
        if sum(sizes) != n:
            raise ValueError(
                f"split: section sizes {sizes} add up to {sum(sizes)}, not to the size {n} of "
                f"dim {dim}"
            )
    else:
        size = integer(split_size_or_sections, "split_size", "split", minimum=0)
        if size == 0 and n:
            raise ValueError(f"split: split_size must be positive for a dim of size {n}")
        sizes = tuple(min(size, n - start) for start in range(0, n, size)) if n else (0,)
    lead = (slice(None),) * d
    starts = np.cumsum((0,) + sizes[:-1]).tolist()
    return tuple(sh.getitem(x, lead + (slice(a, a + s),)) for a, s in zip(starts, sizes))


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple:
    """x cut into `chunks` pieces along `dim`, each ceil(n / chunks) long (so, as PyTorch, there
    may be fewer than `chunks`: 6 elements in 4 chunks give 3 pieces of 2).

    >>> from autodiff import arange
    >>> [piece.shape for piece in arange(6).chunk(4)]
    [(2,), (2,), (2,)]
    """
    chunks = integer(chunks, "chunks", "chunk", minimum=1)
    d = dim_of(dim, x.data.ndim, "chunk")
    if x.data.ndim == 0:
        raise ValueError("chunk: cannot chunk a 0-d tensor")
    n = x.data.shape[d]
    if n == 0:
        return split(x, [0] * chunks, d)
    return split(x, math.ceil(n / chunks), d)


def unbind(x: Tensor, dim: int = 0) -> tuple:
    """The slices of x along `dim`, each without that dim.

    >>> from autodiff import Tensor
    >>> q, k = Tensor([[1.0, 2.0], [3.0, 4.0]]).unbind(1)
    >>> q
    Tensor([1., 3.])
    """
    d = dim_of(dim, x.data.ndim, "unbind")
    if x.data.ndim == 0:
        raise ValueError("unbind: cannot unbind a 0-d tensor")
    lead = (slice(None),) * d
    return tuple(sh.getitem(x, lead + (i,)) for i in range(x.data.shape[d]))


# --------------------------------------------------------------------------------------------
# tril, triu, diag, diagonal
# --------------------------------------------------------------------------------------------


def _triangle(x: Tensor, diagonal: int, op: str) -> Tensor:
    diagonal = integer(diagonal, "diagonal", op)
    data = x.data
    if data.ndim < 2:
        raise ValueError(f"{op}: needs a tensor with at least 2 dims, got shape {data.shape}")
    rows, cols = data.shape[-2:]
    if op == "tril":
        keep = np.tri(rows, cols, diagonal, dtype=bool)
    else:
        keep = ~np.tri(rows, cols, diagonal - 1, dtype=bool)
    return _make(np.where(keep, data, 0), (x,), op, keep)


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (on and below diagonal `diagonal`), zeros above.

    >>> from autodiff import Tensor, tril
    >>> tril(Tensor([[1.0, 2.0], [3.0, 4.0]]))
    Tensor([[1., 0.],
            [3., 4.]], shape=(2, 2))
    """
    return _triangle(x, diagonal, "tril")


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (on and above diagonal `diagonal`), zeros below."""
    return _triangle(x, diagonal, "triu")


def triangle_grad(g: Any, inputs: tuple, out: Any, keep: np.ndarray) -> Any:
    """d tril(x)/dx = 1 in the kept triangle, 0 elsewhere"""
    return np.where(keep, g, 0)


def _diagonal_index(rows: int, cols: int, offset: int) -> tuple:
    """The (row, column) positions of diagonal `offset` of a rows x cols matrix."""
    first_row, first_col = max(-offset, 0), max(offset, 0)
    n = max(0, min(rows - first_row, cols - first_col))
    return np.arange(n) + first_row, np.arange(n) + first_col


def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """A vector's square matrix with it on diagonal `diagonal`, or a matrix's diagonal as a
    vector (``torch.diag``). Indexing and its adjoint, so it needs no rule of its own.

    >>> from autodiff import Tensor, diag
    >>> diag(Tensor([1.0, 2.0]), 1)
    Tensor([[0., 1., 0.],
            [0., 0., 2.],
            [0., 0., 0.]], shape=(3, 3))
    """
    diagonal = integer(diagonal, "diagonal", "diag")
    data = x.data
    if data.ndim == 1:
        n = data.shape[0] + abs(diagonal)
        return sh.add_at(x, (n, n), _diagonal_index(n, n, diagonal))
    if data.ndim == 2:
        return sh.getitem(x, _diagonal_index(*data.shape, diagonal))
    raise ValueError(f"diag: needs a 1-D or 2-D tensor, got shape {data.shape}")


def diagonal(x: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """Diagonal `offset` of the matrices in dims `dim1` and `dim2`, as a new last dim (a
    transpose and an index: no rule of its own).

    >>> from autodiff import Tensor
    >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).diagonal()
    Tensor([1., 4.])
    """
    offset = integer(offset, "offset", "diagonal")
    ndim = x.data.ndim
    if ndim < 2:
        raise ValueError(f"diagonal: needs a tensor with at least 2 dims, got shape {x.shape}")
    a, b = dim_of(dim1, ndim, "diagonal"), dim_of(dim2, ndim, "diagonal")
    if a == b:
        raise ValueError(f"diagonal: dim1 and dim2 are the same dim ({dim1}, {dim2})")
    moved = movedim(x, (a, b), (-2, -1))
    rows, cols = moved.data.shape[-2:]
    return sh.getitem(moved, (Ellipsis,) + _diagonal_index(rows, cols, offset))


# --------------------------------------------------------------------------------------------
# unfold, movedim
# --------------------------------------------------------------------------------------------


def unfold(x: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Every window of `size` elements along `dimension`, `step` apart, as a new last dim
    (``torch.Tensor.unfold``); overlapping windows add their gradients.

    >>> from autodiff import arange
    >>> arange(5.0).unfold(0, 3, 2)
    Tensor([[0., 1., 2.],
            [2., 3., 4.]], shape=(2, 3))
    """
    d = dim_of(dimension, x.data.ndim, "unfold")
    size = integer(size, "size", "unfold", minimum=0)
    step = integer(step, "step", "unfold", minimum=1)
    if x.data.ndim == 0:  # one window of the one element, as PyTorch
        if size != 1:
            raise ValueError(f"unfold: a 0-d tensor has one window of size 1, not {size}")
        return x.reshape(1)
    n = x.data.shape[d]
    if size > n:
        raise ValueError(f"unfold: size {size} is larger than dim {dimension}'s size {n}")
    windows = (n - size) // step + 1
    index = (np.arange(windows) * step)[:, None] + np.arange(size)
    taken = sh.getitem(x, (slice(None),) * d + (index,))  # dims: ..., windows, size, ...
    return movedim(taken, d + 1, -1)


def movedim(x: Tensor, source: Any, destination: Any) -> Tensor:
    """x with dims `source` moved to positions `destination` (ints or tuples), the others
    keeping their order (``np.moveaxis``): a transpose.

    >>> from autodiff import zeros
    >>> zeros(2, 3, 4).movedim(0, -1).shape
    (3, 4, 2)
    """
    ndim = x.data.ndim
    src = source if isinstance(source, (tuple, list)) else (source,)
    dst = destination if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise ValueError(
            f"movedim: source {source} and destination {destination} must have the same length"
        )
    src = tuple(dim_of(d, ndim, "movedim") for d in src)
    dst = tuple(dim_of(d, ndim, "movedim") for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dim in {source} or {destination}")
    if ndim == 0:
        return sh.getitem(x, ...)
    order = [a for a in range(ndim) if a not in src]
    for to, frm in sorted(zip(dst, src)):
        order.insert(to, frm)
    return sh.transpose(x, tuple(order))


RULES = {
    "tile": (tile_grad,),
    "roll": (roll_grad,),
    "tril": (triangle_grad,),
    "triu": (triangle_grad,),
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS).
EDGE_FORMULAS = {
    "tile": {"x": "1 per copy"},
    "roll": {"x": "1 at the rolled position"},
    "tril": {"x": "1 on and below the diagonal"},
    "triu": {"x": "1 on and above the diagonal"},
}
