"""Normalisation as PyTorch has it: batch_norm (each channel over the batch and positions) and
layer_norm (each sample over its last dims), each one node with its own backward rule.

Both compute ``x_hat = (x - mean) / sqrt(var + eps)`` (the biased variance) and return
``x_hat * weight + bias``. With statistics of the batch itself the gradient is

    dx = weight / sqrt(var + eps) * (g - mean(g) - x_hat * mean(g * x_hat))

(the means over the normalised axes): one pass where the composition of mean, var, sqrt,
subtraction and division would make a dozen nodes. batch_norm also updates running statistics
in training, PyTorch's way: ``running = (1 - momentum) * running + momentum * batch``, with the
unbiased variance of the batch.

>>> import numpy as np
>>> from autodiff import Tensor, batch_norm
>>> x = Tensor(np.array([[1.0, 10.0], [3.0, 30.0]]))
>>> running_mean, running_var = np.zeros(2), np.ones(2)
>>> batch_norm(x, running_mean, running_var, training=True).data
array([[-0.999995  , -0.99999995],
       [ 0.999995  ,  0.99999995]])
>>> running_mean, running_var  # 0.9 * old + 0.1 * batch (unbiased variance: 2 and 200)
(array([0.2, 2. ]), array([ 1.1, 20.9]))
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from autodiff.tensor import Tensor, _constant, _make
from autodiff.tensor_ops.conv import floating


class NormContext(NamedTuple):
    """What a normalisation's rules need: the axes of the statistics, eps, the shape that
    broadcasts weight and bias against x, the axes their gradients sum over, whether the
    statistics were the batch's own (else constants), whether weight and bias were given, and
    x_hat, the mean and 1 / sqrt(var + eps) from the forward pass."""

    axes: tuple
    eps: float
    param_shape: tuple
    param_axes: tuple
    batch_stats: bool
    affine: tuple
    x_hat: Any
    mean: Any
    inv_std: Any


def _normalise(op: str, x: Tensor, weight: Any, bias: Any, ctx: dict, mean: Any, var: Any):
    """The node: x_hat * weight + bias, with (mean, var) the statistics to use."""
    data = x.data
    inv_std = 1 / np.sqrt(var + ctx["eps"])
    x_hat = (data - mean) * inv_std
    out = x_hat
    params = []
    for p, name in ((weight, "weight"), (bias, "bias")):
        if p is None:
            params.append(_constant(np.zeros((), data.dtype)))  # unused: no gradient
            continue
        t = floating(p, op, name, x)
        if t.data.shape != ctx["want"]:
            raise ValueError(
                f"{op}: {name} must have shape {ctx['want']}, got {t.data.shape} (input shape "
                f"{data.shape})"
            )
        params.append(t)
        value = t.data.reshape(ctx["param_shape"])
        out = out * value if name == "weight" else out + value
    norm = NormContext(ctx["axes"], ctx["eps"], ctx["param_shape"], ctx["param_axes"],
                       ctx["batch_stats"], (weight is not None, bias is not None), x_hat, mean,
                       inv_std)  # fmt: skip
    return _make(out.astype(data.dtype, copy=False), (x, *params), op, norm)


def _statistics(x: Any, ctx: NormContext) -> tuple:
    """x_hat and 1 / sqrt(var + eps) again, from x (a Tensor: create_graph)."""
    mean = np.mean(x, axis=ctx.axes, keepdims=True)
    centred = x - mean
    inv_std = 1 / np.sqrt(np.mean(centred * centred, axis=ctx.axes, keepdims=True) + ctx.eps)
    return centred * inv_std, inv_std


def norm_grad_input(g: Any, inputs: tuple, out: Any, ctx: NormContext) -> Any:
    """d norm(x)/dx = w / sqrt(var + eps) * (g - mean(g) - x_hat * mean(g * x_hat)) with the
    batch's statistics; w / sqrt(var + eps) with given ones"""
    x, weight = inputs[0], inputs[1]
    graph = isinstance(g, Tensor)
    if ctx.affine[0]:
        g = g * weight.reshape(ctx.param_shape)
    if not ctx.batch_stats:
        return g * ctx.inv_std
    x_hat, inv_std = _statistics(x, ctx) if graph else (ctx.x_hat, ctx.inv_std)
    mean_g = np.mean(g, axis=ctx.axes, keepdims=True)
    mean_gx = np.mean(g * x_hat, axis=ctx.axes, keepdims=True)
    return (g - mean_g - x_hat * mean_gx) * inv_std


def norm_grad_weight(g: Any, inputs: tuple, out: Any, ctx: NormContext) -> Any:
    """d (x_hat * w + b)/dw = x_hat, summed over the axes w is broadcast along"""
    x_hat = ctx.x_hat
    if isinstance(g, Tensor):  # create_graph: x_hat as a function of x
        x = inputs[0]
        x_hat = _statistics(x, ctx)[0] if ctx.batch_stats else (x - ctx.mean) * ctx.inv_std
    total = np.sum(g * x_hat, axis=ctx.param_axes)
    return total.reshape(inputs[1].shape)


def norm_grad_bias(g: Any, inputs: tuple, out: Any, ctx: NormContext) -> Any:
    """d (x_hat * w + b)/db = 1, summed over the axes b is broadcast along"""
    return np.sum(g, axis=ctx.param_axes).reshape(inputs[2].shape)


# --------------------------------------------------------------------------------------------
# batch_norm
# --------------------------------------------------------------------------------------------


def _running(op: str, name: str, array: Any, channels: int) -> np.ndarray | None:
    """The ndarray behind a running statistic (updated in place), or None."""
    if array is None:
        return None
    data = array.data if isinstance(array, Tensor) else array
    if not isinstance(data, np.ndarray) or data.shape != (channels,):
        raise ValueError(
            f"{op}: {name} must be an array of shape ({channels},), one per channel, got "
            f"{getattr(data, 'shape', type(data).__name__)}"
        )
    return data


def batch_norm(
    input: Tensor, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
    training: bool = False, momentum: float = 0.1, eps: float = 1e-5,
) -> Tensor:  # fmt: skip
    """Normalise each channel (axis 1) of `input` (N, C, ...) to mean 0 and variance 1 over
    the batch and positions, then scale by `weight` and shift by `bias` (each (C,)).

    In training (``training=True``) the batch's own statistics are used, and `running_mean`
    and `running_var` (arrays of shape (C,), or None) are updated in place: ``(1 - momentum) *
    running + momentum * batch``, the variance unbiased. Otherwise the running statistics are
    used. As PyTorch's ``F.batch_norm`` (same argument order).

    >>> import numpy as np
    >>> from autodiff import Tensor, batch_norm
    >>> x = Tensor(np.array([[1.0], [3.0]]))
    >>> batch_norm(x, np.array([1.0]), np.array([4.0]))  # evaluation: (x - 1) / sqrt(4)
    Tensor([[0.        ],
            [0.99999875]], shape=(2, 1))
    """
    op = "batch_norm"
    x = floating(input, op)
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        raise TypeError(f"{op}: momentum must be a number, got {momentum!r}")
    if x.data.ndim < 2:
        raise ValueError(f"{op}: expected input of shape (N, C, ...), got shape {x.data.shape}")
    channels = x.data.shape[1]
    mean_run = _running(op, "running_mean", running_mean, channels)
    var_run = _running(op, "running_var", running_var, channels)
    axes = (0, *range(2, x.data.ndim))
    param_shape = (1, channels) + (1,) * (x.data.ndim - 2)
    ctx = {"eps": float(eps), "axes": axes, "param_axes": axes, "want": (channels,),
           "param_shape": param_shape, "batch_stats": training}  # fmt: skip
    if training:
        count = x.data.size // channels
        if count <= 1:
            raise ValueError(
                f"{op}: expected more than 1 value per channel when training, got input of "
                f"shape {x.data.shape}"
            )
        mean = x.data.mean(axis=axes, keepdims=True)
        var = x.data.var(axis=axes, keepdims=True)
        if mean_run is not None:
            mean_run *= 1 - momentum
            mean_run += momentum * mean.reshape(-1)
        if var_run is not None:
            var_run *= 1 - momentum
            var_run += momentum * count / (count - 1) * var.reshape(-1)
        return _normalise(op, x, weight, bias, ctx, mean, var)
    if mean_run is None or var_run is None:
        raise ValueError(f"{op}: running_mean and running_var must be given in evaluation mode "
                         "(training=False)")  # fmt: skip
    shape = ctx["param_shape"]
    dtype = x.data.dtype
    mean, var = mean_run.reshape(shape).astype(dtype), var_run.reshape(shape).astype(dtype)
    return _normalise(op, x, weight, bias, ctx, mean, var)


# --------------------------------------------------------------------------------------------
# layer_norm
# --------------------------------------------------------------------------------------------


def layer_norm(
    input: Tensor, normalized_shape: Any, weight: Any = None, bias: Any = None,
    eps: float = 1e-5,
) -> Tensor:  # fmt: skip
    """Normalise each sample of `input` over its last dims, `normalized_shape` (an int or a
    tuple: the trailing shape), to mean 0 and variance 1, then scale by `weight` and shift by
    `bias` (each of `normalized_shape`). As PyTorch's ``F.layer_norm``.

    >>> from autodiff import Tensor, layer_norm
    >>> layer_norm(Tensor([[1.0, 2.0, 3.0], [10.0, 10.0, 40.0]]), 3).data.round(4)
    array([[-1.2247,  0.    ,  1.2247],
           [-0.7071, -0.7071,  1.4142]])
    """
    op = "layer_norm"
    x = floating(input, op)
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else (
        normalized_shape)  # fmt: skip
    if (
        not isinstance(shape, (tuple, list))
        or not shape
        or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) for n in shape)
    ):
        raise TypeError(f"{op}: normalized_shape must be an int or a tuple of ints, got "
                        f"{normalized_shape!r}")  # fmt: skip
    shape = tuple(int(n) for n in shape)
    k = len(shape)
    if x.data.shape[x.data.ndim - k :] != shape or x.data.ndim < k:
        trailing = ", ".join(map(str, shape))
        raise ValueError(
            f"{op}: normalized_shape={shape} expects input of shape (*, {trailing}), got "
            f"{x.data.shape}"
        )
    axes = tuple(range(x.data.ndim - k, x.data.ndim))
    ctx = {"eps": float(eps), "axes": axes, "param_axes": tuple(range(x.data.ndim - k)),
           "want": shape, "param_shape": shape, "batch_stats": True}  # fmt: skip
    mean = x.data.mean(axis=axes, keepdims=True)
    var = x.data.var(axis=axes, keepdims=True)
    return _normalise(op, x, weight, bias, ctx, mean, var)


_NORM = (norm_grad_input, norm_grad_weight, norm_grad_bias)
RULES = {"batch_norm": _NORM, "layer_norm": _NORM}

# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS)
_EDGES = {"x": "{w}/sqrt(var + eps)·(1 - 1/{n} - x_hat^2/{n})", "w": "x_hat", "b": "1"}
EDGE_FORMULAS = {"batch_norm": _EDGES, "layer_norm": _EDGES}
