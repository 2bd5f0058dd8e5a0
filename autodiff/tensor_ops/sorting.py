"""Sorting: sort, argsort, topk.

``sort`` and ``topk`` return ``(values, indices)`` as PyTorch does. The values are the input
read at the sorted positions (an indexing node), so their gradient is scattered back to where
each value came from by indexing's own rule: no rule of their own, and no chance of scattering
with the permutation instead of its inverse. Sorting is stable, and NaN sorts as the largest
value (last ascending, first descending), as in PyTorch.

>>> from autodiff import Tensor
>>> x = Tensor([3.0, 1.0, 2.0], requires_grad=True)
>>> values, indices = x.sort()
>>> (values * Tensor([1.0, 10.0, 100.0])).sum().backward()
>>> indices, x.grad
(Tensor([1, 2, 0], dtype=int64), array([100.,   1.,  10.]))
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from autodiff.tensor import Tensor, _constant
from autodiff.tensor_ops._common import along, dim_of, integer, reversed_along
from autodiff.tensor_ops.elementwise import COMPARISONS
from autodiff.tensor_ops.shape import getitem


class ValuesIndices(NamedTuple):
    """What sort, topk, cummax and cummin return: the values (differentiable) and their
    positions in the input along the dim (int64, no gradient)."""

    values: Tensor
    indices: Tensor


def _check_flag(value: object, name: str, op: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be True or False, got {value!r}")
    return bool(value)


def argsort_array(data: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """Stable argsort along `dim`; descending keeps ties in their original order and puts NaN
    first (a stable ascending sort of the reversed array, read backwards)."""
    if not descending:
        order = np.argsort(data, axis=dim, kind="stable")
    else:
        rev = reversed_along(dim)
        order = (data.shape[dim] - 1) - np.argsort(data[rev], axis=dim, kind="stable")[rev]
    return _recorded(order, "argsort", data, (dim, descending, None))


def _recorded(order: np.ndarray, how: str, data: np.ndarray, params: tuple) -> np.ndarray:
    # while autodiff.compile traces, an order computed from data is logged with its source,
    # so that the compiled code computes it again rather than freezing the traced one
    log = COMPARISONS.log
    if log is not None:
        log.append((order, how, data, params))
    return order


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The positions that sort x along `dim`, as an int64 tensor with no gradient. The sort is
    always stable (ties keep their order), which `stable=False` allows.

    >>> from autodiff import Tensor
    >>> Tensor([2.0, 1.0, 2.0]).argsort(descending=True)
    Tensor([0, 2, 1], dtype=int64)
    """
    d = dim_of(dim, x.data.ndim, "argsort")
    descending = _check_flag(descending, "descending", "argsort")
    _check_flag(stable, "stable", "argsort")
    if x.data.ndim == 0:
        return _constant(np.zeros((), np.int64))
    return _constant(argsort_array(x.data, d, descending))


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> ValuesIndices:
    """x sorted along `dim` (default: the last), with the positions the values came from.

    >>> from autodiff import Tensor
    >>> Tensor([[3.0, 1.0, 2.0]]).sort(dim=1, descending=True).values
    Tensor([[3., 2., 1.]], shape=(1, 3))
    """
    d = dim_of(dim, x.data.ndim, "sort")
    descending = _check_flag(descending, "descending", "sort")
    _check_flag(stable, "stable", "sort")
    if x.data.ndim == 0:
        return ValuesIndices(getitem(x, ...), _constant(np.zeros((), np.int64)))
    indices = argsort_array(x.data, d, descending)
    return ValuesIndices(getitem(x, along(indices, d)), _constant(indices))


def topk(
    x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
) -> ValuesIndices:
    """The `k` largest (or with ``largest=False`` smallest) elements along `dim` and their
    positions, largest first (smallest first). They always come sorted; among equal values the
    earlier position comes first (PyTorch leaves the order of ties unspecified).

    >>> from autodiff import Tensor
    >>> Tensor([1.0, 5.0, 3.0, 4.0]).topk(2)
    ValuesIndices(values=Tensor([5., 4.]), indices=Tensor([1, 3], dtype=int64))
    """
    d = dim_of(dim, x.data.ndim, "topk")
    largest = _check_flag(largest, "largest", "topk")
    _check_flag(sorted, "sorted", "topk")
    size = x.data.shape[d] if x.data.ndim else 1
    k = integer(k, "k", "topk", minimum=0)
    if k > size:
        raise ValueError(f"topk: k = {k} is larger than the size {size} of dim {dim}")
    if x.data.ndim == 0:  # the element itself, as PyTorch
        return ValuesIndices(getitem(x, ...), _constant(np.zeros((), np.int64)))
    indices = argsort_array(x.data, d, largest)[(slice(None),) * d + (slice(0, k),)]
    _recorded(indices, "argsort", x.data, (d, largest, k))
    return ValuesIndices(getitem(x, along(indices, d)), _constant(indices))


RULES: dict = {}  # sort and topk are indexing nodes: indexing's rule is theirs

# No formulas of their own either: a sorted or top-k tensor is drawn as the indexing node it
# is, "1 at the index" (each value's gradient goes to the position it was sorted from).
EDGE_FORMULAS: dict = {}
