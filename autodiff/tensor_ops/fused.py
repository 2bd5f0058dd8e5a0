"""Fused ops, as PyTorch has them: one node (and one backward rule) where the composition
would make several. They matter on small graphs, where per-node overhead dominates.

- ``linear(x, W, b)``: ``x @ W + b``;
- ``mse_loss(pred, target)``: ``((pred - target) ** 2).mean()``;
- ``cross_entropy(logits, target)``: mean softmax cross-entropy over the rows, with integer
  class labels or one-hot (or probability) rows; stable for logits in the thousands.

Like every rule, these run on ndarrays (``backward()``) and on Tensors (``create_graph=True``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _make, as_tensor
from autodiff.tensor_ops.matmul import _shape_error, matmul_grad_a, matmul_grad_b


def linear(x: Tensor, weight: Any, bias: Any = None) -> Tensor:
    """``x @ weight + bias`` as one node (`bias` optional, broadcast over the rows).

    >>> from autodiff import Tensor, linear
    >>> linear(Tensor([[1.0, 2.0]]), Tensor([[1.0], [1.0]]), Tensor([0.5])).data
    array([[3.5]])
    """
    x = x if type(x) is Tensor else as_tensor(x, None, "linear")
    weight = weight if type(weight) is Tensor else as_tensor(weight, x, "linear")
    try:
        data = x.data @ weight.data
    except ValueError:
        raise _shape_error(x, weight) from None
    if bias is None:
        return _make(data, (x, weight), "linear")
    bias = bias if type(bias) is Tensor else as_tensor(bias, x, "linear")
    try:
        data += bias.data  # in place: `data` is a fresh product
    except ValueError:
        raise ValueError(
            f"linear: bias of shape {bias.data.shape} does not broadcast to the product's "
            f"shape {data.shape}"
        ) from None
    return _make(data, (x, weight, bias), "linear")


def _linear_grad_x(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(x @ W + b)/dx: g @ W^T"""
    x, weight = inputs[0], inputs[1]
    if x.ndim == 2 and weight.ndim == 2:  # the common case, without matmul's 1-D handling
        return g @ weight.T
    return matmul_grad_a(g, (x, weight), out, ctx)


def _linear_grad_w(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(x @ W + b)/dW: x^T @ g"""
    x, weight = inputs[0], inputs[1]
    if x.ndim == 2 and weight.ndim == 2:
        return x.T @ g
    return matmul_grad_b(g, (x, weight), out, ctx)


def _linear_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(x @ W + b)/db: g (summed over the broadcast rows by `_unbroadcast`)"""
    return g


def mse_loss(pred: Tensor, target: Any) -> Tensor:
    """Mean squared difference ``((pred - target) ** 2).mean()`` as one node; same shapes.

    >>> from autodiff import Tensor, mse_loss
    >>> float(mse_loss(Tensor([1.0, 3.0]), Tensor([0.0, 1.0])).data)
    2.5
    """
    pred = pred if type(pred) is Tensor else as_tensor(pred, None, "mse_loss")
    target = target if type(target) is Tensor else as_tensor(target, pred, "mse_loss")
    if pred.data.shape != target.data.shape:
        raise ValueError(
            f"mse_loss: pred has shape {pred.data.shape} but target has shape "
            f"{target.data.shape}; they must match"
        )
    if pred.data.size == 0:
        raise ValueError("mse_loss: the mean of an empty tensor is undefined")
    diff = pred.data - target.data
    flat = diff.reshape(-1)
    data = np.asarray((flat @ flat) / flat.size, dtype=diff.dtype)
    return _make(data, (pred, target), "mse_loss")


def _mse_grad_pred(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d mean((p - t)^2)/dp = 2 (p - t) / n"""
    pred, target = inputs
    return (pred - target) * (g * (2.0 / pred.size))


def _mse_grad_target(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d mean((p - t)^2)/dt = -2 (p - t) / n"""
    pred, target = inputs
    return (target - pred) * (g * (2.0 / pred.size))


def _probabilities(logits: Tensor, target: Any) -> np.ndarray:
    """`target` as rows of class probabilities shaped like `logits` (labels become one-hot)."""
    n, classes = logits.data.shape
    array = np.asarray(target.data if isinstance(target, Tensor) else target)
    if array.dtype.kind in "iu":
        if array.shape != (n,):
            raise ValueError(
                f"cross_entropy: integer labels must have shape ({n},) for logits of shape "
                f"{logits.data.shape}, got {array.shape}"
            )
        if n and (array.min() < 0 or array.max() >= classes):
            raise ValueError(
                f"cross_entropy: labels must be in [0, {classes}), got values from "
                f"{array.min()} to {array.max()}"
            )
        onehot = np.zeros((n, classes), dtype=logits.data.dtype)
        onehot[np.arange(n), array] = 1
        return onehot
    if array.dtype.kind != "f" or array.shape != (n, classes):
        raise ValueError(
            f"cross_entropy: target must be integer labels of shape ({n},) or float rows of "
            f"shape {logits.data.shape}, got dtype {array.dtype} shape {array.shape}"
        )
    return array.astype(logits.data.dtype, copy=False)


def cross_entropy(logits: Tensor, target: Any) -> Tensor:
    """Mean over rows of ``-sum(target * log_softmax(logits))``, as one node.

    `logits` is (n, classes); `target` is n integer labels or (n, classes) one-hot or
    probability rows (a constant: no gradient flows into it). Stable for large logits.

    >>> from autodiff import Tensor, cross_entropy
    >>> float(cross_entropy(Tensor([[1000.0, 0.0]]), [1]).data)
    1000.0
    """
    logits = logits if type(logits) is Tensor else as_tensor(logits, None, "cross_entropy")
    if logits.data.ndim != 2 or logits.data.shape[0] == 0:
        raise ValueError(
            f"cross_entropy: logits must be (n, classes) with n >= 1, got {logits.data.shape}"
        )
    probs = _probabilities(logits, target)
    z = logits.data
    shifted = z - z.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    data = np.asarray(-(probs * log_softmax).sum() / z.shape[0], dtype=z.dtype)
    return _make(data, (logits,), "cross_entropy", probs)


def _cross_entropy_grad(g: Any, inputs: tuple, out: Any, probs: np.ndarray) -> Any:
    """d loss/d logits = (softmax(logits) * sum(target row) - target) / n"""
    z = inputs[0]
    raw = z.data if type(z) is Tensor else z
    e = np.exp(z - raw.max(axis=1, keepdims=True))  # the max is a constant shift: no gradient
    softmax = e / e.sum(axis=1, keepdims=True)
    row_mass = probs.sum(axis=1, keepdims=True)
    return (softmax * row_mass - probs) * (g / raw.shape[0])


RULES = {
    "linear": (_linear_grad_x, _linear_grad_w, _linear_grad_b),
    "mse_loss": (_mse_grad_pred, _mse_grad_target),
    "cross_entropy": (_cross_entropy_grad,),
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS);
# {n} is the number of input elements behind the one output.
EDGE_FORMULAS = {
    "linear": {"x": "{W}.T", "W": "{x}.T", "b": "1"},
    "mse_loss": {"pred": "2·({pred} - {target})/{n}", "target": "-2·({pred} - {target})/{n}"},
    "cross_entropy": {"logits": "(softmax({logits}) - target)/rows"},
}
