"""Loss functions on lists of scalar `Value`s.

Written with plain operators, in micrograd's order of operations, so the numbers match its demo
to the last digit (and the same code runs on micrograd's own Values).
"""

from __future__ import annotations

from typing import Any, Sequence


def _check_lengths(op: str, outputs: Sequence, targets: Sequence) -> None:
    if len(outputs) != len(targets):
        raise ValueError(f"{op}: {len(outputs)} outputs but {len(targets)} targets")
    if not outputs:
        raise ValueError(f"{op}: needs at least one output")


def hinge_loss(scores: Sequence[Any], labels: Sequence[Any]) -> Any:
    """Mean SVM max-margin loss, mean(relu(1 - y * score)), with labels y in {-1, +1}."""
    _check_lengths("hinge_loss", scores, labels)
    losses = [(1 + -y * s).relu() for y, s in zip(labels, scores)]
    return sum(losses) * (1.0 / len(losses))


def squared_error(outputs: Sequence[Any], targets: Sequence[Any]) -> Any:
    """The article's error E = 1/2 * sum_k (r_k - y_k)**2 of outputs y against answers r."""
    _check_lengths("squared_error", outputs, targets)
    return 0.5 * sum((r - y) ** 2 for y, r in zip(outputs, targets))


def l2_penalty(parameters: Sequence[Any], alpha: float) -> Any:
    """alpha * sum(p * p): weight decay, which pulls weights towards 0 to fight overfitting."""
    if alpha < 0:
        raise ValueError(f"l2_penalty: alpha must be >= 0, got {alpha!r}")
    return alpha * sum(p * p for p in parameters)


def binary_accuracy(scores: Sequence[Any], labels: Sequence[Any]) -> float:
    """Fraction of scores whose sign matches the label's (labels in {-1, +1})."""
    _check_lengths("binary_accuracy", scores, labels)
    hits = [(y > 0) == (s.data > 0) for y, s in zip(labels, scores)]
    return sum(hits) / len(hits)
