"""`nn.functional`: PyTorch's ``torch.nn.functional`` names and arguments, so code written
against ``import torch.nn.functional as F`` reads the same here (``import nn.functional as F``).

Everything is autodiff's own op, re-exported or wrapped to take PyTorch's arguments; there is
no engine logic here. PyTorch's ``inplace=True`` is refused with a clear error (a tensor may
still be needed by backward), and so are the long-deprecated ``size_average`` and ``reduce``
of the losses (use ``reduction``).

>>> import numpy as np
>>> import nn.functional as F
>>> from autodiff import Tensor
>>> x = Tensor(np.ones((2, 1, 4, 4), np.float32))
>>> w = Tensor(np.ones((3, 1, 3, 3), np.float32), requires_grad=True)
>>> h = F.max_pool2d(F.relu(F.conv2d(x, w, padding=1)), 2)
>>> logits = F.linear(h.flatten(1), Tensor(np.ones((5, 12), np.float32)))
>>> loss = F.cross_entropy(logits, np.array([0, 4]))
>>> loss.backward()
>>> h.shape, w.grad.shape
((2, 3, 2, 2), (3, 1, 3, 3))
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import autodiff as ad
from autodiff import (
    Tensor,
    avg_pool1d,
    avg_pool2d,
    batch_norm,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    embedding,
    layer_norm,
    linear,
    max_pool1d,
    max_pool2d,
    one_hot,
    pad,
)
from nn.activations import refuse_inplace
from nn.layers import Dropout

__all__ = [
    "avg_pool1d", "avg_pool2d", "batch_norm", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "celu", "conv1d", "conv2d", "conv_transpose1d",
    "conv_transpose2d", "cross_entropy", "dropout", "elu", "embedding", "fold", "gelu",
    "hardsigmoid",
    "hardswish", "hardtanh", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax",
    "logsigmoid", "max_pool1d", "max_pool2d", "mish", "mse_loss", "nll_loss", "one_hot", "pad",
    "relu", "relu6", "selu", "sigmoid", "silu", "softmax", "softmin", "softplus", "softsign",
    "tanh", "unfold",
]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(0, x), elementwise.

    >>> from autodiff import Tensor
    >>> relu(Tensor([-1.0, 2.0])).data
    array([0., 2.])
    """
    refuse_inplace("relu", inplace)
    return input.relu()


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(0, x), 6): `autodiff.relu6`."""
    refuse_inplace("relu6", inplace)
    return ad.relu6(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, else negative_slope * x.

    >>> from autodiff import Tensor
    >>> leaky_relu(Tensor([-1.0, 2.0]), 0.1).data
    array([-0.1,  2. ])
    """
    refuse_inplace("leaky_relu", inplace)
    return input.leaky_relu(negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha (e**x - 1): `autodiff.elu`."""
    refuse_inplace("elu", inplace)
    return ad.elu(input, alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha), self-normalising: `autodiff.selu`."""
    refuse_inplace("selu", inplace)
    return ad.selu(input)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha (e**(x / alpha) - 1): `autodiff.celu`."""
    refuse_inplace("celu", inplace)
    return ad.celu(input, alpha)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (or its tanh approximation): `autodiff.gelu`."""
    return ad.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x): `autodiff.silu`."""
    refuse_inplace("silu", inplace)
    return ad.silu(input)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x)): `autodiff.mish`."""
    refuse_inplace("mish", inplace)
    return ad.mish(input)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """x clipped to [min_val, max_val]: `autodiff.hardtanh`."""
    refuse_inplace("hardtanh", inplace)
    return ad.hardtanh(input, min_val, max_val)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: `autodiff.hardsigmoid`."""
    refuse_inplace("hardsigmoid", inplace)
    return ad.hardsigmoid(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6: `autodiff.hardswish`."""
    refuse_inplace("hardswish", inplace)
    return ad.hardswish(input)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|): `autodiff.softsign`."""
    return ad.softsign(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e**(beta x)) / beta (x itself above threshold): `autodiff.softplus`."""
    return ad.softplus(input, beta, threshold)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)): `autodiff.logsigmoid`."""
    return ad.logsigmoid(input)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + e**-x)."""
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    """tanh(x)."""
    return input.tanh()


def _softmax_dim(op: str, input: Tensor, dim: Any, dtype: Any) -> int:
    """`dim`, or PyTorch's old implicit choice (with its warning) when it is None."""
    if dtype is not None and np.dtype(dtype) != input.dtype:
        raise TypeError(f"{op}: casting with dtype is not supported; convert the input first "
                        f"(it is {input.dtype})")  # fmt: skip
    if dim is not None:
        return dim
    warnings.warn(
        f"Implicit dimension choice for {op} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if input.ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None):
    """exp(x) / sum(exp(x)) along `dim`.

    >>> from autodiff import Tensor
    >>> softmax(Tensor([[0.0, 0.0]]), dim=1).data
    array([[0.5, 0.5]])
    """
    return input.softmax(_softmax_dim("softmax", input, dim, dtype))


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None):
    """x - logsumexp(x) along `dim`."""
    return input.log_softmax(_softmax_dim("log_softmax", input, dim, dtype))


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None):
    """softmax(-x) along `dim`: `autodiff.softmin`."""
    return ad.softmin(input, _softmax_dim("softmin", input, dim, dtype))


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """In training, zero each element with probability p and scale the rest by 1 / (1 - p)
    (drawn from the generator `autodiff.manual_seed` seeds); otherwise the input itself.

    >>> from autodiff import ones
    >>> dropout(ones(4), 0.5, training=False).data
    array([1., 1., 1., 1.])
    """
    refuse_inplace("dropout", inplace)
    return Dropout(p).train(bool(training))(input)


# --------------------------------------------------------------------------------------------
# Losses, with PyTorch's positional order (size_average and reduce are long deprecated)
# --------------------------------------------------------------------------------------------


def _no_legacy(op: str, size_average: Any, reduce: Any) -> None:
    if size_average is not None or reduce is not None:
        raise ValueError(f"{op}: size_average and reduce are deprecated in PyTorch and not "
                         "supported; use reduction='mean', 'sum' or 'none'")  # fmt: skip


def cross_entropy(
    input: Tensor, target: Any, weight: Any = None, size_average: Any = None,
    ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:  # fmt: skip
    """Softmax cross-entropy of logits against class indices or probabilities:
    `autodiff.cross_entropy`.

    >>> import numpy as np
    >>> from autodiff import Tensor
    >>> float(cross_entropy(Tensor([[0.0, 0.0]]), np.array([1])).data)  # log 2
    0.6931471805599453
    """
    _no_legacy("cross_entropy", size_average, reduce)
    return ad.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)


def nll_loss(
    input: Tensor, target: Any, weight: Any = None, size_average: Any = None,
    ignore_index: int = -100, reduce: Any = None, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Negative log-likelihood of log-probabilities: `autodiff.nll_loss`."""
    _no_legacy("nll_loss", size_average, reduce)
    return ad.nll_loss(input, target, weight, ignore_index, reduction)


def _weighted(op: str, loss: Any, input: Tensor, target: Any, reduction: str, weight: Any):
    """PyTorch's elementwise `weight` (input's shape) on a pointwise loss: weight * loss,
    summed, or for "mean" divided by the sum of the weights."""
    if weight is None:
        return loss(input, target, reduction=reduction)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if np.shape(weight.data if isinstance(weight, Tensor) else weight) != input.shape:
        raise ValueError(f"{op}: weight must have the input's shape {input.shape}, got "
                         f"{np.shape(getattr(weight, 'data', weight))}")  # fmt: skip
    weighted = loss(input, target, reduction="none") * weight
    if reduction == "none":
        return weighted
    return weighted.sum() if reduction == "sum" else weighted.sum() / np.sum(weight)


def mse_loss(
    input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,
    reduction: str = "mean", weight: Any = None,
) -> Tensor:  # fmt: skip
    """Squared error (input - target)**2, reduced: `autodiff.mse_loss` (`weight`, shaped like
    the input, scales each element; "mean" then divides by the weights' sum).

    >>> from autodiff import Tensor
    >>> float(mse_loss(Tensor([1.0, 3.0]), Tensor([0.0, 1.0])).data)
    2.5
    """
    _no_legacy("mse_loss", size_average, reduce)
    return _weighted("mse_loss", ad.mse_loss, input, target, reduction, weight)


def l1_loss(
    input: Tensor, target: Any, size_average: Any = None, reduce: Any = None,
    reduction: str = "mean", weight: Any = None,
) -> Tensor:  # fmt: skip
    """Absolute error |input - target|, reduced: `autodiff.l1_loss` (`weight` as for
    `mse_loss`)."""
    _no_legacy("l1_loss", size_average, reduce)
    return _weighted("l1_loss", ad.l1_loss, input, target, reduction, weight)


def binary_cross_entropy(
    input: Tensor, target: Any, weight: Any = None, size_average: Any = None, reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """Binary cross-entropy of probabilities: `autodiff.binary_cross_entropy`."""
    _no_legacy("binary_cross_entropy", size_average, reduce)
    return ad.binary_cross_entropy(input, target, weight, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor, target: Any, weight: Any = None, size_average: Any = None, reduce: Any = None,
    reduction: str = "mean", pos_weight: Any = None,
) -> Tensor:  # fmt: skip
    """Binary cross-entropy of logits, stable for large ones:
    `autodiff.binary_cross_entropy_with_logits`."""
    _no_legacy("binary_cross_entropy_with_logits", size_average, reduce)
    return ad.binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)


# --------------------------------------------------------------------------------------------
# Sliding blocks: unfold (im2col) and its adjoint fold, composed from pad, Tensor.unfold,
# indexing and scatter_add, whose rules give their gradients
# --------------------------------------------------------------------------------------------


def _pair(value: Any, name: str, op: str, minimum: int) -> tuple[int, int]:
    items = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(items) != 2 or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items
    ):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(items) < minimum:
        raise ValueError(f"{op}: {name} must be at least {minimum}, got {value!r}")
    return int(items[0]), int(items[1])


def _blocks(op: str, size: tuple, kernel: tuple, dilation: tuple, padding: tuple, stride: tuple):
    """How many blocks fit along each side of an input of `size` (the padded sides too)."""
    counts = []
    for n, k, d, p, s in zip(size, kernel, dilation, padding, stride):
        span = d * (k - 1) + 1
        if n + 2 * p < span:
            raise ValueError(
                f"{op}: a block of {k} with dilation {d} spans {span}, more than the padded "
                f"side {n} + 2 * {p}"
            )
        counts.append((n + 2 * p - span) // s + 1)
    return tuple(counts)


def unfold(
    input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Tensor:
    """Every kH x kW block of `input` (N, C, H, W) or (C, H, W) as a column, PyTorch's im2col:
    the result is (N, C * kH * kW, L), L blocks, each column ordered channel by channel and
    row by row within the block. Overlapping blocks add their gradients.

    >>> import nn.functional as F
    >>> from autodiff import arange
    >>> F.unfold(arange(9.0).reshape(1, 1, 3, 3), 2)
    Tensor([[[0., 1., 3., 4.],
             [1., 2., 4., 5.],
             [3., 4., 6., 7.],
             [4., 5., 7., 8.]]], shape=(1, 4, 4))
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    kernel = _pair(kernel_size, "kernel_size", "unfold", 1)
    dilation, padding = (
        _pair(dilation, "dilation", "unfold", 1),
        _pair(padding, "padding", "unfold", 0),
    )
    stride = _pair(stride, "stride", "unfold", 1)
    if x.ndim not in (3, 4):
        raise ValueError(f"unfold: expected input (N, C, H, W) or (C, H, W), got shape {x.shape}")
    batched = x.ndim == 4
    if not batched:
        x = x.unsqueeze(0)
    n, c = x.shape[:2]
    counts = _blocks("unfold", x.shape[2:], kernel, dilation, padding, stride)
    if any(padding):
        x = pad(x, (padding[1], padding[1], padding[0], padding[0]))
    spans = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    # (N, C, bh, bw, span_h, span_w): the windows, read in place; every d-th row and column of
    # a window is the dilated block
    windows = x.unfold(2, spans[0], stride[0]).unfold(3, spans[1], stride[1])
    blocks = windows[:, :, :, :, :: dilation[0], :: dilation[1]]
    cols = blocks.permute(0, 1, 4, 5, 2, 3).reshape(
        n, c * kernel[0] * kernel[1], counts[0] * counts[1]
    )
    return cols if batched else cols.squeeze(0)


def fold(
    input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
    stride: Any = 1,
) -> Tensor:  # fmt: skip
    """The adjoint of `unfold`: columns (N, C * kH * kW, L) or (C * kH * kW, L) summed back into
    an image (N, C, H, W) of `output_size` (H, W), overlapping blocks adding up, as PyTorch's
    col2im. ``fold(unfold(x))`` is x times the number of blocks covering each pixel.

    >>> import nn.functional as F
    >>> from autodiff import ones
    >>> F.fold(ones(1, 4, 4), (3, 3), 2)
    Tensor([[[[1., 2., 1.],
              [2., 4., 2.],
              [1., 2., 1.]]]], shape=(1, 1, 3, 3))
    """
    cols = input if isinstance(input, Tensor) else Tensor(input)
    size = _pair(output_size, "output_size", "fold", 1)
    kernel = _pair(kernel_size, "kernel_size", "fold", 1)
    dilation, padding = _pair(dilation, "dilation", "fold", 1), _pair(padding, "padding", "fold", 0)
    stride = _pair(stride, "stride", "fold", 1)
    if cols.ndim not in (2, 3):
        raise ValueError(
            f"fold: expected input (N, C * kH * kW, L) or (C * kH * kW, L), got shape {cols.shape}"
        )
    batched = cols.ndim == 3
    if not batched:
        cols = cols.unsqueeze(0)
    n, rows, length = cols.shape
    per_block = kernel[0] * kernel[1]
    counts = _blocks("fold", size, kernel, dilation, padding, stride)
    if rows % per_block or length != counts[0] * counts[1]:
        raise ValueError(
            f"fold: input of shape {tuple(input.shape)} does not match kernel_size {kernel} and "
            f"output_size {size}: expected (N, C * {per_block}, {counts[0] * counts[1]})"
        )
    c = rows // per_block
    height, width = size[0] + 2 * padding[0], size[1] + 2 * padding[1]
    # where each column entry lands in the padded image, flattened: block (i, j), offset (a, b)
    i, j = np.divmod(np.arange(length), counts[1])
    a, b = np.divmod(np.arange(per_block), kernel[1])
    top = i[None, :] * stride[0] + a[:, None] * dilation[0]
    left = j[None, :] * stride[1] + b[:, None] * dilation[1]
    where = np.broadcast_to((top * width + left).reshape(1, 1, -1), (n, c, per_block * length))
    image = ad.zeros(n, c, height * width, dtype=cols.dtype)
    image = image.scatter_add(
        2, np.ascontiguousarray(where), cols.reshape(n, c, per_block * length)
    )
    image = image.reshape(n, c, height, width)
    if any(padding):
        image = pad(image, (-padding[1], -padding[1], -padding[0], -padding[0]))
    return image if batched else image.squeeze(0)
