"""Normalisation layers with PyTorch's names, arguments, buffers and reprs: `BatchNorm1d`,
`BatchNorm2d` and `LayerNorm` (the functions are `autodiff.batch_norm` and
`autodiff.layer_norm`).

A batch norm layer keeps running estimates of each channel's mean and variance in buffers
(``running_mean``, ``running_var``, ``num_batches_tracked``: saved in `state_dict`, never
trained). In training mode (`train()`) it normalises with the batch's statistics and updates
the estimates, ``running = (1 - momentum) * running + momentum * batch`` (the variance
unbiased); ``momentum=None`` makes them the cumulative average of every batch so far. In
evaluation mode (`eval()`) it normalises with the estimates.

>>> import numpy as np
>>> from autodiff import Tensor
>>> from nn import BatchNorm1d
>>> bn = BatchNorm1d(2)
>>> _ = bn(Tensor(np.array([[0.0, 10.0], [2.0, 30.0]])))
>>> bn.running_mean, bn.running_var, bn.num_batches_tracked
(array([0.1, 2. ], dtype=float32), array([ 1.1, 20.9], dtype=float32), array(1))
>>> bn.eval()(Tensor(np.array([[0.1, 2.0]], np.float32))).data  # the running mean: 0
array([[0., 0.]], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor, batch_norm, layer_norm
from nn.module import Module


def _features(op: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{op}: num_features must be a positive int, got {n!r}")
    return int(n)


def _float_dtype(op: str, dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{op}: dtype must be a floating-point type, got {dtype}")
    return dtype


class _BatchNorm(Module):
    _ranks: tuple = ()
    _shapes = ""

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
        affine: bool = True, track_running_stats: bool = True, bias: bool = True,
        dtype: Any = np.float32,
    ) -> None:  # fmt: skip
        op = type(self).__name__
        self.num_features = _features(op, num_features)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or eps < 0:
            raise ValueError(f"{op}: eps must be a non-negative number, got {eps!r}")
        if momentum is not None and (
            isinstance(momentum, bool) or not isinstance(momentum, (int, float))
        ):
            raise ValueError(f"{op}: momentum must be a number or None, got {momentum!r}")
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dtype = _float_dtype(op, dtype)
        n = self.num_features
        self.weight = Tensor(np.ones(n, dtype), requires_grad=True) if affine else None
        self.bias = Tensor(np.zeros(n, dtype), requires_grad=True) if affine and bias else None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(n, dtype))
            self.register_buffer("running_var", np.ones(n, dtype))
            self.register_buffer("num_batches_tracked", np.array(0, np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        """Running mean 0, variance 1, no batches seen."""
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        """The running statistics reset, weight 1 and bias 0."""
        self.reset_running_stats()
        if self.weight is not None:
            self.weight.data = np.ones_like(self.weight.data)
        if self.bias is not None:
            self.bias.data = np.zeros_like(self.bias.data)

    def forward(self, x: Tensor) -> Tensor:
        ndim = np.ndim(x.data if isinstance(x, Tensor) else x)
        if ndim not in self._ranks:
            raise ValueError(
                f"{type(self).__name__}: expected {self._shapes} input, got {ndim}-d input of "
                f"shape {np.shape(x.data if isinstance(x, Tensor) else x)}"
            )
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        if shape[1] != self.num_features:  # before any statistic is counted
            raise ValueError(
                f"{type(self).__name__}: expected {self.num_features} channels (num_features) "
                f"in dim 1, got input of shape {shape}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked += 1
            if self.momentum is None:  # the cumulative average: batch k weighs 1 / k
                factor = 1.0 / float(self.num_batches_tracked)
        # without running statistics, the batch's own are used in evaluation too
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, each of the C = `num_features`
    channels on its own: ``BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True)``.

    >>> BatchNorm1d(4, momentum=None)
    BatchNorm1d(4, eps=1e-05, momentum=None, affine=True, bias=True, track_running_stats=True)
    """

    _ranks = (2, 3)
    _shapes = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs, each of the C = `num_features` channels
    over the batch and every position: ``BatchNorm2d(num_features, eps=1e-5, momentum=0.1,
    affine=True, track_running_stats=True)``.

    >>> [name for name, _ in BatchNorm2d(16).named_buffers()]
    ['running_mean', 'running_var', 'num_batches_tracked']
    """

    _ranks = (4,)
    _shapes = "(N, C, H, W)"


class LayerNorm(Module):
    """Normalise each sample over its last dims, `normalized_shape` (an int or a tuple), then
    scale and shift elementwise (``elementwise_affine``): ``LayerNorm(normalized_shape,
    eps=1e-5, elementwise_affine=True, bias=True)``. The same in training and evaluation.

    >>> from autodiff import Tensor
    >>> LayerNorm(3)(Tensor([[1.0, 2.0, 3.0]])).data.round(4)
    array([[-1.2247,  0.    ,  1.2247]])
    """

    def __init__(
        self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
        bias: bool = True, dtype: Any = np.float32,
    ) -> None:  # fmt: skip
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else (
            normalized_shape)  # fmt: skip
        if (
            not isinstance(shape, (tuple, list))
            or not shape
            or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1
                   for n in shape)
        ):  # fmt: skip
            raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a tuple "
                             f"of them, got {normalized_shape!r}")  # fmt: skip
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        dtype = _float_dtype("LayerNorm", dtype)
        affine = self.elementwise_affine
        self.weight = Tensor(np.ones(self.normalized_shape, dtype), requires_grad=True) if (
            affine) else None  # fmt: skip
        self.bias = Tensor(np.zeros(self.normalized_shape, dtype), requires_grad=True) if (
            affine and bias) else None  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )
