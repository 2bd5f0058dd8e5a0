"""`embedding`, PyTorch's ``F.embedding``: rows of a weight matrix picked by integer indices,
the lookup table behind word vectors.

The gradient of each row is the sum of the gradients of every place that picked it (an index
that repeats accumulates), except the `padding_idx` row, which gets none, as in PyTorch.

>>> import numpy as np
>>> from autodiff import Tensor, embedding
>>> weight = Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
>>> embedding(np.array([[2, 0, 2]]), weight).data
array([[[4., 5.],
        [0., 1.],
        [4., 5.]]])
>>> embedding(np.array([2, 0, 2]), weight, padding_idx=0).sum().backward()
>>> weight.grad  # row 2 picked twice; row 0 is padding
array([[0., 0.],
       [0., 0.],
       [2., 2.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _make
from autodiff.tensor_ops._common import index_array
from autodiff.tensor_ops.conv import floating
from autodiff.tensor_ops.shape import add_at


def embedding(
    input: Any, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
    norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False,
) -> Tensor:  # fmt: skip
    """``weight[input]``: for integer indices `input` of any shape, the rows of `weight`
    (num_embeddings, embedding_dim), shaped ``input.shape + (embedding_dim,)``.

    `padding_idx`'s row gets no gradient. `max_norm` first rescales, in place, each picked row
    whose `norm_type`-norm exceeds it; ``scale_grad_by_freq=True`` divides each row's gradient
    by how often it was picked in this batch. As PyTorch's (``sparse`` gradients are not
    supported).

    >>> import numpy as np
    >>> from autodiff import Tensor, embedding
    >>> table = Tensor([[0.0, 0.0], [3.0, 4.0]])
    >>> embedding(np.array([1]), table, max_norm=1.0).data.round(6), table.data.round(6)
    (array([[0.6, 0.8]]), array([[0. , 0. ],
           [0.6, 0.8]]))
    """
    op = "embedding"
    w = floating(weight, op, "weight")
    if w.data.ndim != 2:
        raise ValueError(
            f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape {w.data.shape}"
        )
    if sparse:
        raise ValueError(f"{op}: sparse gradients are not supported; use sparse=False")
    idx = index_array(input, op, "input")
    rows = w.data.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= rows):
        bad = idx[(idx < 0) | (idx >= rows)].flat[0]
        raise IndexError(f"{op}: index {bad} is out of range for a weight of {rows} rows "
                         f"(expected 0 to {rows - 1})")  # fmt: skip
    if padding_idx is not None:
        if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
            raise TypeError(f"{op}: padding_idx must be an int or None, got {padding_idx!r}")
        if not -rows <= padding_idx < rows:
            raise ValueError(f"{op}: padding_idx {padding_idx} must be within num_embeddings "
                             f"({rows})")  # fmt: skip
        padding_idx = int(padding_idx) % rows
    if max_norm is not None:
        _renorm(w.data, idx, float(max_norm), float(norm_type))
    return _make(w.data[idx], (w,), op, (idx, padding_idx, bool(scale_grad_by_freq)))


def _renorm(table: np.ndarray, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Rescale, in place, the picked rows whose norm exceeds max_norm (as PyTorch, whose
    scale has the same 1e-7 guard)."""
    picked = np.unique(idx)
    norms = np.linalg.norm(table[picked], ord=norm_type, axis=1)
    over = norms > max_norm
    scale = max_norm / (norms[over] + 1e-7)
    table[picked[over]] *= scale[:, None].astype(table.dtype)


def embedding_grad(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d weight[idx]/dweight: 1 where each row was picked (repeats add up), 0 for padding_idx"""
    idx, padding_idx, by_freq = ctx
    if by_freq:
        counts = np.bincount(idx.reshape(-1), minlength=inputs[0].shape[0])
        g = g / counts[idx][..., None].astype(g.dtype)
    if padding_idx is None:
        return add_at(g, inputs[0].shape, idx)
    if isinstance(g, Tensor):  # create_graph: zero the padding's share first
        return add_at(g * (idx != padding_idx)[..., None], inputs[0].shape, idx)
    grad = add_at(g, inputs[0].shape, idx)
    grad[padding_idx] = 0
    return grad


RULES = {"embedding": (embedding_grad,)}

# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS)
EDGE_FORMULAS = {"embedding": {"W": "1 at each picked row"}}
