"""Loss functions: the article's and micrograd's on lists of scalar `Value`s, and the tensor
losses a trainer uses.

On lists of `Value`s, `hinge_loss`, `squared_error` and `l2_penalty` are written with plain
operators in micrograd's order of operations, so the numbers match its demo to the last digit
(and the same code runs on micrograd's own Values). They also take `Tensor`s.

The tensor losses are `autodiff`'s, with PyTorch's names and arguments (``torch.nn.functional``):
`cross_entropy`, `nll_loss`, `mse_loss`, `l1_loss`, `binary_cross_entropy` and
`binary_cross_entropy_with_logits`.

``reduction`` everywhere means what it means in PyTorch: the loss is a sum of per-element terms,
and ``"none"`` returns the terms, ``"sum"`` their sum, ``"mean"`` their mean.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from autodiff.tensor import Tensor, as_tensor
from autodiff.tensor_ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)
from autodiff.value import Value

__all__ = [
    "binary_accuracy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
    "l1_loss",
    "l2_penalty",
    "mse_loss",
    "nll_loss",
    "squared_error",
]

_REDUCTIONS = ("mean", "sum", "none")
_ONLY_VALUES = {Value}


def _check_reduction(op: str, reduction: Any) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_lengths(op: str, outputs: Sequence, targets: Sequence) -> None:
    if len(outputs) != len(targets):
        raise ValueError(f"{op}: {len(outputs)} outputs but {len(targets)} targets")
    if not outputs:
        raise ValueError(f"{op}: needs at least one output")


def _tensor_pair(op: str, output: Tensor, target: Any) -> Tensor:
    """`target` as a Tensor shaped like `output`."""
    target = as_tensor(target, output, op)
    if target.shape != output.shape:
        raise ValueError(
            f"{op}: output has shape {output.shape} but target has shape {target.shape}; "
            "they must match"
        )
    return target


def _reduce_list(terms: list, reduction: str) -> Any:
    """Per-item terms (Values) reduced: micrograd's ``sum(...) * (1.0 / n)`` for the mean."""
    if reduction == "none":
        return terms
    if _ONLY_VALUES.issuperset(map(type, terms)):  # one node, the same numbers as sum()'s 0 + ...
        total = Value.sum(terms)
    else:  # e.g. micrograd's Values
        total = sum(terms)
    return total if reduction == "sum" else total * (1.0 / len(terms))


def _reduce_tensor(terms: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return terms
    return terms.sum() if reduction == "sum" else terms.mean()


def hinge_loss(scores: Any, labels: Any, reduction: str = "mean") -> Any:
    """SVM max-margin loss relu(1 - y * score) per sample, labels y in {-1, +1}; the mean by
    default (micrograd's demo). `scores` is a list of Values or a Tensor.

    >>> from autodiff import Tensor, Value
    >>> hinge_loss([Value(2.0), Value(0.5)], [1, -1]).data
    0.75
    >>> hinge_loss(Tensor([2.0, 0.5]), Tensor([1.0, -1.0]), reduction="none")
    Tensor([0. , 1.5])
    """
    _check_reduction("hinge_loss", reduction)
    if isinstance(scores, Tensor):
        labels = _tensor_pair("hinge_loss", scores, labels)
        return _reduce_tensor((1 - labels * scores).relu(), reduction)
    _check_lengths("hinge_loss", scores, labels)
    losses = [(1 + -y * s).relu() for y, s in zip(labels, scores)]
    return _reduce_list(losses, reduction)


def squared_error(outputs: Any, targets: Any, reduction: str = "sum") -> Any:
    """The article's error E = 1/2 * sum_k (r_k - y_k)**2 of outputs y against answers r.

    The terms are 1/2 (r_k - y_k)**2; ``reduction="sum"`` (the default) is the article's E,
    ``"mean"`` is E / n (half of `mse_loss`), ``"none"`` gives the terms. `outputs` and
    `targets` are lists of Values (or numbers), or Tensors of one shape.

    >>> from autodiff import Tensor, Value
    >>> squared_error([Value(1.0), Value(3.0)], [0.0, 1.0]).data
    2.5
    >>> squared_error(Tensor([1.0, 3.0]), Tensor([0.0, 1.0]), reduction="mean").item()
    1.25
    """
    _check_reduction("squared_error", reduction)
    if isinstance(outputs, Tensor):
        targets = _tensor_pair("squared_error", outputs, targets)
        return mse_loss(outputs, targets, reduction=reduction) * 0.5
    _check_lengths("squared_error", outputs, targets)
    if reduction == "sum":  # the article's sum, in micrograd's order
        terms = [(r - y) ** 2 for y, r in zip(outputs, targets)]
        if _ONLY_VALUES.issuperset(map(type, terms)):  # one node: the numbers of sum()
            return 0.5 * Value.sum(terms)
        return 0.5 * sum(terms)
    return _reduce_list([0.5 * (r - y) ** 2 for y, r in zip(outputs, targets)], reduction)


def l2_penalty(parameters: Iterable[Any], alpha: float) -> Any:
    """alpha * sum(p * p): weight decay, which pulls weights towards 0 to fight overfitting.

    `parameters` are Values (micrograd's order) or Tensors (every element of each, summed), or a
    single Tensor.

    >>> from autodiff import Tensor, Value
    >>> l2_penalty([Value(1.0), Value(-2.0)], 0.5).data
    2.5
    >>> l2_penalty([Tensor([1.0, -2.0]), Tensor([[3.0]])], 0.5).item()
    7.0
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.floating)):
        raise TypeError(f"l2_penalty: alpha must be a number, got {alpha!r}")
    if alpha < 0:
        raise ValueError(f"l2_penalty: alpha must be >= 0, got {alpha!r}")
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    if any(isinstance(p, Tensor) for p in parameters):
        return alpha * sum((p * p).sum() if isinstance(p, Tensor) else p * p for p in parameters)
    if parameters and _ONLY_VALUES.issuperset(map(type, parameters)):
        # sum(p * p) as one node: the dot product of the parameters with themselves, summed
        # in the same order from 0.0, so the same numbers as the sum of 2n nodes below
        return alpha * Value.dot(parameters, parameters, Value(0.0))
    return alpha * sum(p * p for p in parameters)  # e.g. micrograd's Values


def binary_accuracy(scores: Any, labels: Any) -> float:
    """Fraction of scores whose sign matches the label's (labels in {-1, +1}); a nan score
    never counts as a hit. `scores` is a list of Values or a Tensor.

    >>> from autodiff import Tensor, Value
    >>> binary_accuracy([Value(2.0), Value(-0.5), Value(1.0)], [1, -1, -1])
    0.6666666666666666
    >>> binary_accuracy(Tensor([2.0, -0.5, float("nan")]), [1, -1, -1])
    0.6666666666666666
    """
    if isinstance(scores, Tensor):
        values = scores.data
        truth = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
        if truth.shape != values.shape:
            raise ValueError(
                f"binary_accuracy: scores have shape {values.shape} but labels have shape "
                f"{truth.shape}; they must match"
            )
        if not values.size:
            raise ValueError("binary_accuracy: needs at least one score")
        hits = ((truth > 0) == (values > 0)) & ~np.isnan(values)
        return float(hits.mean())
    _check_lengths("binary_accuracy", scores, labels)
    hits = [(y > 0) == (s.data > 0) and s.data == s.data for y, s in zip(labels, scores)]
    return sum(hits) / len(hits)
