"""Convolution layers with PyTorch's names, arguments, defaults and reprs: `Conv1d`, `Conv2d`,
`ConvTranspose1d`, `ConvTranspose2d`.

Weights start as PyTorch's do: ``kaiming_uniform_(weight, a=sqrt(5))``, i.e. U(-1/sqrt(fan_in),
1/sqrt(fan_in)) with fan_in = ``weight.shape[1] * kernel size``, and the bias from the same
range, drawn from `rng` (a seed or a numpy Generator; default: the generator
`autodiff.manual_seed` seeds), weight first. float32 unless `dtype` says otherwise.

>>> import numpy as np
>>> from autodiff import Tensor
>>> from nn import Conv2d
>>> conv = Conv2d(1, 16, kernel_size=3, padding=1, rng=0)
>>> conv
Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
>>> conv(Tensor(np.zeros((64, 1, 28, 28), np.float32))).shape
(64, 16, 28, 28)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autodiff import Tensor, conv1d, conv2d, conv_transpose1d, conv_transpose2d, pad
from autodiff.tensor_ops.conv import spatial
from nn import init
from nn.module import Module

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _channels(op: str, name: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {n!r}")
    return int(n)


class _ConvNd(Module):
    """What the convolution layers share: arguments, parameters, initialisation and repr."""

    _dims = 2
    _transposed = False

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
        padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
        padding_mode: str = "zeros", dtype: Any = np.float32, rng: Any = None,
        output_padding: Any = 0,
    ) -> None:  # fmt: skip
        op, dims = type(self).__name__, self._dims
        self.in_channels = _channels(op, "in_channels", in_channels)
        self.out_channels = _channels(op, "out_channels", out_channels)
        self.groups = _channels(op, "groups", groups)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(
                f"{op}: in_channels ({in_channels}) and out_channels ({out_channels}) must both "
                f"be divisible by groups ({groups})"
            )
        self.kernel_size = spatial(kernel_size, dims, "kernel_size", op, 1)
        self.stride = spatial(stride, dims, "stride", op, 1)
        self.dilation = spatial(dilation, dims, "dilation", op, 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid") or self._transposed:
                raise ValueError(f"{op}: padding must be an int or a tuple of ints"
                                 + ("" if self._transposed else ", 'same' or 'valid'")
                                 + f", got {padding!r}")  # fmt: skip
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride})")  # fmt: skip
            self.padding: Any = padding
        else:
            self.padding = spatial(padding, dims, "padding", op)
        self.output_padding = spatial(output_padding, dims, "output_padding", op)
        if padding_mode not in _PADDING_MODES or (self._transposed and padding_mode != "zeros"):
            allowed = ("zeros",) if self._transposed else _PADDING_MODES
            raise ValueError(f"{op}: padding_mode must be one of {allowed}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{op}: dtype must be a floating-point type, got {dtype}")
        if self._transposed:  # (in, out / groups, *kernel), as PyTorch stores it
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        self.weight = Tensor(np.zeros(shape, dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(self.out_channels, dtype), requires_grad=True) if bias else None
        self.reset_parameters(rng)

    def reset_parameters(self, rng: Any = None) -> None:
        """Draw weight, then bias, again from PyTorch's default distribution."""
        generator = init._generator(rng, type(self).__name__)  # one stream: weight, then bias
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=generator)
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound, rng=generator)

    def extra_repr(self) -> str:
        dims = self._dims
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * dims:
            text += f", dilation={self.dilation}"
        if self.output_padding != (0,) * dims:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class _Conv(_ConvNd):
    _function: Any = None

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
        padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
        padding_mode: str = "zeros", dtype: Any = np.float32, rng: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, rng)  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        function = type(self)._function
        if self.padding_mode == "zeros":
            return function(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                            self.groups)  # fmt: skip
        # the other modes pad first, then convolve without padding (as PyTorch)
        amounts = []
        for i in reversed(range(self._dims)):  # PyTorch's pad order: last dim first
            if self.padding == "valid":
                before = after = 0
            elif self.padding == "same":
                total = self.dilation[i] * (self.kernel_size[i] - 1)
                before, after = total // 2, total - total // 2
            else:
                before = after = self.padding[i]
            amounts += [before, after]
        padded = pad(x, tuple(amounts), mode=self.padding_mode)
        return function(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)  # fmt: skip


class Conv1d(_Conv):
    """1-D convolution over (N, C, L) inputs: ``Conv1d(in_channels, out_channels,
    kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode="zeros")``.

    >>> Conv1d(4, 8, 3, padding="same")
    Conv1d(4, 8, kernel_size=(3,), stride=(1,), padding=same)
    """

    _dims = 1
    _function = staticmethod(conv1d)


class Conv2d(_Conv):
    """2-D convolution over (N, C, H, W) inputs: ``Conv2d(in_channels, out_channels,
    kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode="zeros")``;
    padding may be "same" or "valid"; padding_mode "reflect", "replicate" or "circular" pads
    with the input's own values.

    >>> Conv2d(3, 6, (3, 5), stride=2, groups=3, bias=False).weight.shape
    (6, 1, 3, 5)
    """

    _dims = 2
    _function = staticmethod(conv2d)


class _ConvTranspose(_ConvNd):
    _transposed = True
    _function: Any = None

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
        padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
        dilation: Any = 1, padding_mode: str = "zeros", dtype: Any = np.float32, rng: Any = None,
    ) -> None:  # fmt: skip
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, rng, output_padding)  # fmt: skip
        if any(e >= max(s, d) for e, s, d in
               zip(self.output_padding, self.stride, self.dilation)):  # fmt: skip
            raise ValueError(
                f"{type(self).__name__}: output_padding {self.output_padding} must be smaller "
                f"than stride {self.stride} or dilation {self.dilation} in every dim"
            )

    def forward(self, x: Tensor, output_size: Any = None) -> Tensor:
        extra = self.output_padding
        if output_size is not None:
            extra = self._output_padding(x, output_size)
        return type(self)._function(x, self.weight, self.bias, self.stride, self.padding, extra,
                                    self.groups, self.dilation)  # fmt: skip

    def _output_padding(self, x: Tensor, output_size: Any) -> tuple:
        """The output_padding that gives `output_size` (the last dims of it), as PyTorch."""
        op, dims = type(self).__name__, self._dims
        wanted = tuple(output_size)[-dims:]
        size = np.shape(x.data if isinstance(x, Tensor) else x)[-dims:]
        extra = []
        for n, want, s, p, d, k in zip(size, wanted, self.stride, self.padding, self.dilation,
                                       self.kernel_size):  # fmt: skip
            smallest = (n - 1) * s - 2 * p + d * (k - 1) + 1
            if not smallest <= want < smallest + max(s, d):
                raise ValueError(
                    f"{op}: output_size {tuple(output_size)} is not reachable from input of "
                    f"shape {np.shape(x.data)}: each side must be in [{smallest}, "
                    f"{smallest + max(s, d) - 1}]"
                )
            extra.append(want - smallest)
        return tuple(extra)


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution over (N, C, L) inputs: ``ConvTranspose1d(in_channels,
    out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True,
    dilation=1)``.

    >>> ConvTranspose1d(8, 4, 4, stride=2, padding=1)
    ConvTranspose1d(8, 4, kernel_size=(4,), stride=(2,), padding=(1,))
    """

    _dims = 1
    _function = staticmethod(conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution over (N, C, H, W) inputs, to upsample: ``ConvTranspose2d(
    in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
    bias=True, dilation=1)``; ``forward(x, output_size=...)`` picks the output_padding that
    gives that size.

    >>> import numpy as np
    >>> from autodiff import Tensor
    >>> up = ConvTranspose2d(16, 8, 3, stride=2, padding=1, rng=0)
    >>> x = Tensor(np.zeros((1, 16, 7, 7), np.float32))
    >>> up(x).shape, up(x, output_size=(14, 14)).shape
    ((1, 8, 13, 13), (1, 8, 14, 14))
    """

    _dims = 2
    _function = staticmethod(conv_transpose2d)
