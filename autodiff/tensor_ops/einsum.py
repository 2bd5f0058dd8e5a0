"""einsum: sums of products over labelled dims, as ``torch.einsum`` / ``np.einsum``.

The gradient of an einsum with respect to one operand is another einsum: the output's gradient
and the other operands, contracted onto that operand's labels. Three things need more than
that one einsum, and each is handled here:

- a label that appears only in this operand (summed inside it, e.g. ``j`` in ``'ij->i'``): the
  gradient is the same all along it, so it is broadcast there;
- a label repeated within the operand (a diagonal, ``'ii->i'``): the gradient is placed on the
  diagonal (indexing's adjoint) and is 0 elsewhere;
- an ellipsis ``...`` (broadcast dims): it is spelt out as letters first, and an operand's
  size-1 dims that broadcast are summed back.

As in PyTorch, ellipsis dims missing from the output are summed (numpy would refuse).

>>> from autodiff import Tensor, einsum
>>> a = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> einsum("ii->", a).backward()  # the trace
>>> a.grad
array([[1., 0.],
       [0., 1.]])
"""

from __future__ import annotations

import string
from collections import Counter
from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _make, as_tensor
from autodiff.tensor_ops import shape as sh

_MAX_OPERANDS = 64  # numpy's limit on an einsum's operands
_OPTIMIZE_FROM = 4096  # elements: below, numpy's path search costs more than it saves


def _error(equation: str, shapes: list, reason: str) -> ValueError:
    listed = ", ".join(str(s) for s in shapes)
    return ValueError(f"einsum: {equation!r} with operands of shapes {listed}: {reason}")


def _parse(equation: str, shapes: list) -> tuple:
    """Each operand's labels and the output's, one letter per dim (ellipses spelt out)."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {equation!r}")
    text = equation.replace(" ", "")
    if text.count("->") > 1:
        raise _error(equation, shapes, "more than one '->'")
    left, arrow, right = text.partition("->")
    terms = left.split(",")
    if len(terms) != len(shapes):
        raise _error(equation, shapes, f"{len(terms)} subscripts for {len(shapes)} operands")
    for part in terms + [right]:
        rest = part.replace("...", "", 1)
        if not all(c in string.ascii_letters for c in rest):
            raise _error(equation, shapes, f"bad subscripts {part!r} (letters and one '...')")
    ellipsis_dims = []
    for term, shape in zip(terms, shapes):
        explicit = len(term.replace("...", ""))
        if "..." in term and explicit <= len(shape):
            ellipsis_dims.append(len(shape) - explicit)
        elif "..." not in term and explicit == len(shape):
            ellipsis_dims.append(0)
        else:
            raise _error(equation, shapes, f"subscripts {term!r} for an operand of shape {shape}")
    used = set(text)
    free = [c for c in string.ascii_letters if c not in used]
    n = max(ellipsis_dims)
    if n > len(free):
        raise _error(equation, shapes, "too many dims to label")
    ellipsis = "".join(free[:n])
    labels = [term.replace("...", ellipsis[n - k :]) for term, k in zip(terms, ellipsis_dims)]
    if arrow:
        output = right.replace("...", ellipsis)
        seen = set("".join(labels))
        if len(set(output)) != len(output) or not set(output) <= seen:
            raise _error(
                equation, shapes, f"output {right!r} repeats a label or has one no operand has"
            )
    else:  # numpy's implicit output: broadcast dims, then labels used once, alphabetically
        counts = Counter("".join(terms).replace("...", ""))
        output = ellipsis + "".join(sorted(c for c, k in counts.items() if k == 1))
    return tuple(labels), output


def _contract(subscripts: str, arrays: list) -> np.ndarray:
    big = sum(a.size for a in arrays) > _OPTIMIZE_FROM
    return np.einsum(subscripts, *arrays, optimize=len(arrays) > 2 or big)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sum of products of the operands over the labels of `equation`, as ``torch.einsum``:
    ``einsum('ij,jk->ik', a, b)`` is a @ b, ``'bij,bjk->bik'`` a batched product, ``'ii'`` the
    trace, ``'ii->i'`` the diagonal, ``'...ij->...ji'`` a transpose of the last two dims.
    Operands may also come as one list.

    >>> from autodiff import Tensor, einsum
    >>> a = Tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> einsum("ij,j->i", a, Tensor([1.0, 1.0])), einsum("ij->ji", a).shape
    (Tensor([3., 7.]), (2, 2))
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    if len(operands) > _MAX_OPERANDS:
        raise ValueError(f"einsum: at most {_MAX_OPERANDS} operands, got {len(operands)}")
    like = next((x for x in operands if isinstance(x, Tensor)), None)
    xs = tuple(as_tensor(x, like, "einsum") for x in operands)
    shapes = [x.data.shape for x in xs]
    labels, output = _parse(equation, shapes)
    try:
        data = _contract(",".join(labels) + "->" + output, [x.data for x in xs])
    except ValueError as error:
        raise _error(equation, shapes, str(error)) from None
    return _make(data, xs, "einsum", (labels, output))


def _einsum_of(subscripts: str, operands: list) -> Any:
    """einsum on ndarrays (backward) or, differentiably, on Tensors (create_graph)."""
    if any(isinstance(x, Tensor) for x in operands):
        return einsum(subscripts, *operands)
    return _contract(subscripts, operands)


def einsum_grad(k: int, g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d einsum(..., x_k, ...)/dx_k: the einsum of g with the other operands onto x_k's labels
    (broadcast along labels only x_k has, placed on the diagonal for repeated ones)"""
    labels, output = ctx
    mine, x = labels[k], inputs[k]
    unique = "".join(dict.fromkeys(mine))
    size = {c: x.shape[mine.index(c)] for c in unique}
    others = [labels[j] for j in range(len(labels)) if j != k]
    known = set(output).union(*others)
    have = "".join(c for c in unique if c in known)
    operands = [g] + [inputs[j] for j in range(len(inputs)) if j != k]
    grad = _einsum_of(",".join([output] + others) + "->" + have, operands)
    # x's size-1 dims that broadcast against bigger ones: sum the gradient back
    summed = tuple(i for i, c in enumerate(have) if size[c] == 1 and grad.shape[i] != 1)
    if summed:
        grad = grad.sum(axis=summed, keepdims=True)
    if len(have) < len(unique):  # labels summed within x alone: the same gradient along them
        grad = grad.reshape(tuple(grad.shape[have.index(c)] if c in have else 1 for c in unique))
    target = tuple(size[c] for c in unique)
    if grad.shape != target:  # along those, and along x's dims that the others broadcast
        grad = np.broadcast_to(grad, target)
    if len(unique) < len(mine):  # a repeated label: onto the diagonal, zeros elsewhere
        axes = {c: np.arange(size[c]).reshape([size[c] if d == c else 1 for d in unique])
                for c in unique}  # fmt: skip
        grad = sh.add_at(grad, x.shape, tuple(axes[c] for c in mine))
    return grad


class _OperandGrad:
    """The rule for operand k of an einsum (one per operand position, see `einsum_grad`)."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.__doc__ = einsum_grad.__doc__

    def __call__(self, g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
        return einsum_grad(self.k, g, inputs, out, ctx)


# one rule per operand position, so backward computes only the gradients that are needed
RULES = {"einsum": tuple(_OperandGrad(k) for k in range(_MAX_OPERANDS))}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS):
# d einsum / d x_k is the other operands, contracted over the labels x_k shares with them.


def _einsum_formula(k: int) -> Any:
    def formula(names: dict, c: tuple) -> str:
        """d einsum(..., x_k, ...)/dx_k: the product of the other operands"""
        others = [names[f"x{j}"] for j in range(len(c[0])) if j != k]
        return "·".join(others) + ", contracted" if others else "1, rearranged"

    return formula


EDGE_FORMULAS = {"einsum": {f"x{k}": _einsum_formula(k) for k in range(_MAX_OPERANDS)}}
