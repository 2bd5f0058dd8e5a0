"""Pooling layers with PyTorch's names, arguments and reprs: `MaxPool1d`, `MaxPool2d`,
`AvgPool1d`, `AvgPool2d` (the functions are `autodiff.max_pool2d` and friends).

>>> import numpy as np
>>> from autodiff import Tensor
>>> from nn import MaxPool2d
>>> pool = MaxPool2d(2)
>>> pool
MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
>>> pool(Tensor(np.zeros((64, 16, 28, 28), np.float32))).shape
(64, 16, 14, 14)
"""

from __future__ import annotations

from typing import Any

from autodiff import Tensor, avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from nn.module import Module


def _single(value: Any) -> tuple:
    """A 1-d size as PyTorch's AvgPool1d keeps it: a 1-tuple."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


class _MaxPoolNd(Module):
    _function: Any = None

    def __init__(
        self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
        return_indices: bool = False, ceil_mode: bool = False,
    ) -> None:  # fmt: skip
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, x: Tensor) -> Any:
        return type(self)._function(x, self.kernel_size, self.stride, self.padding,
                                    self.dilation, self.ceil_mode, self.return_indices)  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """The maximum of each window of an (N, C, L) input (see `autodiff.max_pool1d`).

    >>> MaxPool1d(3, stride=2)
    MaxPool1d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    _function = staticmethod(max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """The maximum of each window of an (N, C, H, W) input: ``MaxPool2d(kernel_size,
    stride=None (kernel_size), padding=0, dilation=1, return_indices=False, ceil_mode=False)``
    (see `autodiff.max_pool2d`).

    >>> MaxPool2d((2, 3), return_indices=True).stride
    (2, 3)
    """

    _function = staticmethod(max_pool2d)


class AvgPool1d(Module):
    """The mean of each window of an (N, C, L) input: ``AvgPool1d(kernel_size, stride=None,
    padding=0, ceil_mode=False, count_include_pad=True)`` (see `autodiff.avg_pool1d`).

    >>> AvgPool1d(3)
    AvgPool1d(kernel_size=(3,), stride=(3,), padding=(0,))
    """

    def __init__(
        self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:  # fmt: skip
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """The mean of each window of an (N, C, H, W) input: ``AvgPool2d(kernel_size, stride=None
    (kernel_size), padding=0, ceil_mode=False, count_include_pad=True,
    divisor_override=None)`` (see `autodiff.avg_pool2d`).

    >>> AvgPool2d(2)
    AvgPool2d(kernel_size=2, stride=2, padding=0)
    """

    def __init__(
        self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
        count_include_pad: bool = True, divisor_override: Any = None,
    ) -> None:  # fmt: skip
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)  # fmt: skip

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
