"""Fused ops, as PyTorch has them: one node (and one backward rule) where the composition
would make several. They matter on small graphs, where per-node overhead dominates.

- ``linear(input, weight, bias)``: ``input @ weight.T + bias``, PyTorch's ``F.linear``, with
  ``weight`` of shape (out_features, in_features).

The losses (``cross_entropy``, ``mse_loss``, ...) are fused ops too; they live in `losses`.
Like every rule, these run on ndarrays (``backward()``) and on Tensors (``create_graph=True``).
"""

from __future__ import annotations

from typing import Any

from autodiff.tensor import Tensor, _dot, _make, _matmul, _ndarray, _sum_rows, as_tensor


def linear(input: Tensor, weight: Any, bias: Any = None) -> Tensor:
    """``input @ weight.T + bias`` as one node, as PyTorch's ``F.linear``.

    `input` is (..., in_features): one sample or any batch shape; `weight` is
    (out_features, in_features), the layout of ``nn.Linear.weight``; `bias` (optional) is
    (out_features,). The result is (..., out_features).

    >>> from autodiff import Tensor, linear
    >>> x = Tensor([[1.0, 2.0]])                     # 1 sample, 2 features
    >>> w = Tensor([[1.0, 1.0], [0.0, 3.0], [1.0, -1.0]])  # 3 outputs, 2 inputs
    >>> linear(x, w, Tensor([0.5, 0.0, 0.0])).data
    array([[ 3.5,  6. , -1. ]])
    """
    x = input if type(input) is Tensor else as_tensor(input, None, "linear")
    weight = weight if type(weight) is Tensor else as_tensor(weight, x, "linear")
    w = weight._data
    if w.ndim != 2 or not x._data.ndim:
        raise _shape_error(x, weight)
    try:
        # BLAS reads the transposed view directly (no copy); np.dot skips matmul's ufunc
        # overhead, which matters for small layers, and with a 2-D right operand it is the
        # same product as @ for input of any rank
        data = _dot(x._data, w.T)
    except ValueError:
        raise _shape_error(x, weight) from None
    if bias is None:
        return _make(data, (x, weight), "linear")
    bias = bias if type(bias) is Tensor else as_tensor(bias, x, "linear")
    try:
        data += bias._data  # in place: `data` is a fresh product
    except ValueError:
        raise ValueError(
            f"linear: bias of shape {bias.data.shape} does not broadcast to the output's shape "
            f"{data.shape} (expected ({w.shape[0]},): one per output feature)"
        ) from None
    return _make(data, (x, weight, bias), "linear")


def _shape_error(x: Tensor, weight: Tensor) -> ValueError:
    w = weight.data.shape
    if len(w) != 2:
        return ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape {w}")
    got = f"input of shape {x.data.shape}"
    if x.data.ndim == 0:
        return ValueError(f"linear: {got} has no feature axis; expected (..., {w[1]})")
    return ValueError(
        f"linear: {got} has {x.data.shape[-1]} features but weight of shape {w} "
        f"(out_features, in_features) expects {w[1]}; expected input (..., {w[1]})"
    )


def _linear_grad_input(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(x @ W.T + b)/dx: g @ W"""
    return _matmul(g, inputs[1])  # np.dot when it is the same product (small layers)


def _linear_grad_weight(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(x @ W.T + b)/dW: g.T @ x, summed over every leading axis of x"""
    x = inputs[0]
    if x.ndim == 2:  # the common batch of rows (np.dot when it is the same product)
        return _matmul(g.T, x)
    if x.ndim == 1:  # one sample: the outer product
        return g.reshape(-1, 1) * x.reshape(1, -1)
    return g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])


def _linear_grad_bias(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(x @ W.T + b)/db: g summed over the leading axes"""
    if type(g) is _ndarray and g.ndim == 2 and inputs[2].shape == g.shape[1:]:
        # one bias per output over a batch of rows: `_unbroadcast`'s sum, called here (the
        # backward loop then skips a call and its shape checks)
        return _sum_rows(g)
    return g  # summed by `_unbroadcast`


RULES = {
    "linear": (_linear_grad_input, _linear_grad_weight, _linear_grad_bias),
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS);
# {n} is the number of input elements behind the one output.
EDGE_FORMULAS = {
    "linear": {"x": "{W}", "W": "{x}", "b": "1"},  # out = x @ W.T + b
}
