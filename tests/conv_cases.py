"""Hypothesis strategies for convolution and pooling problems, shared by tests/test_conv.py
(central differences) and tests/test_conv_torch.py (PyTorch's numbers): small shapes, so a
gradient check stays fast, with every argument drawn: 1-D and 2-D, batch or not, groups,
strides, paddings (numbers, tuples, "same", "valid"), dilations, output_padding, ceil_mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from autodiff.testing import arrays


@dataclass
class ConvCase:
    """One convolution: operands (float64 arrays) and keyword arguments."""

    dims: int
    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    kwargs: dict = field(default_factory=dict)
    transposed: bool = False

    @property
    def name(self) -> str:
        return f"conv{'_transpose' if self.transposed else ''}{self.dims}d"


def _per_dim(draw, dims: int, low: int, high: int) -> tuple:
    return tuple(draw(st.integers(low, high)) for _ in range(dims))


def _as_arg(draw, values: tuple):
    """An int when every dim agrees (sometimes), else the tuple: both forms get tested."""
    if len(set(values)) == 1 and draw(st.booleans()):
        return values[0]
    return values


@st.composite
def conv_cases(draw, dims: int | None = None, max_side: int = 3) -> ConvCase:
    dims = draw(st.sampled_from([1, 2])) if dims is None else dims
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = _per_dim(draw, dims, 1, 3)
    stride = _per_dim(draw, dims, 1, 3)
    dilation = _per_dim(draw, dims, 1, 2)
    mode = draw(st.sampled_from(["numbers", "numbers", "same", "valid"]))
    if mode == "same":
        stride = (1,) * dims
        padding = "same"
        pads = tuple(d * (k - 1) for k, d in zip(kernel, dilation))  # total, both sides
    elif mode == "valid":
        padding, pads = "valid", (0,) * dims
    else:
        per_side = _per_dim(draw, dims, 0, 2)
        padding, pads = _as_arg(draw, per_side), tuple(2 * p for p in per_side)
    size = []
    for k, d, p in zip(kernel, dilation, pads):
        span = d * (k - 1) + 1
        least = max(1, span - p)
        size.append(draw(st.integers(least, least + max_side - 1)))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    x = draw(arrays(batch + (c_in, *size)))
    w = draw(arrays((c_out, c_in // groups) + kernel))
    b = draw(st.one_of(st.none(), arrays((c_out,))))
    kwargs = {
        "stride": _as_arg(draw, stride),
        "padding": padding,
        "dilation": _as_arg(draw, dilation),
        "groups": groups,
    }
    return ConvCase(dims, x, w, b, kwargs)


@st.composite
def conv_transpose_cases(draw, dims: int | None = None) -> ConvCase:
    dims = draw(st.sampled_from([1, 2])) if dims is None else dims
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kernel = _per_dim(draw, dims, 1, 3)
    stride = _per_dim(draw, dims, 1, 3)
    dilation = _per_dim(draw, dims, 1, 2)
    padding = _per_dim(draw, dims, 0, 2)
    extra = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    size = _per_dim(draw, dims, 1, 3)
    for n, s, p, d, k, e in zip(size, stride, padding, dilation, kernel, extra):
        assume((n - 1) * s - 2 * p + d * (k - 1) + e + 1 >= 1)
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    x = draw(arrays(batch + (c_in, *size)))
    w = draw(arrays((c_in, c_out // groups) + kernel))
    b = draw(st.one_of(st.none(), arrays((c_out,))))
    kwargs = {
        "stride": _as_arg(draw, stride),
        "padding": _as_arg(draw, padding),
        "output_padding": extra,
        "groups": groups,
        "dilation": _as_arg(draw, dilation),
    }
    return ConvCase(dims, x, w, b, kwargs, transposed=True)


@dataclass
class PoolCase:
    """One pooling: the input and keyword arguments (``kind`` is "max" or "avg")."""

    kind: str
    dims: int
    x: np.ndarray
    kwargs: dict

    @property
    def name(self) -> str:
        return f"{self.kind}_pool{self.dims}d"


@st.composite
def pool_cases(draw, kind: str, dims: int | None = None, ties: bool = False) -> PoolCase:
    """A pooling problem; ``ties=True`` draws small integers (many equal maxima), else
    distinct values (max pooling's gradient is then defined)."""
    dims = draw(st.sampled_from([1, 2])) if dims is None else dims
    kernel = _per_dim(draw, dims, 1, 3)
    stride = draw(st.one_of(st.none(), st.just(_per_dim(draw, dims, 1, 3))))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = _per_dim(draw, dims, 1, 2) if kind == "max" else (1,) * dims
    ceil_mode = draw(st.booleans())
    size = []
    for k, d, p in zip(kernel, dilation, padding):
        least = max(1, d * (k - 1) + 1 - 2 * p)
        size.append(draw(st.integers(least, least + 3)))
    steps = stride or kernel
    for n, k, s, p, d in zip(size, kernel, steps, padding, dilation):
        # every window reads the input (one of padding only is -inf, and PyTorch's index for
        # it points outside the plane)
        m = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (m - 1) * s >= n + p:
            m -= 1
        assume(all(any(0 <= o * s - p + j * d < n for j in range(k)) for o in range(m)))
    shape = draw(st.sampled_from([(), (1,), (2,)])) + (draw(st.integers(1, 2)), *size)
    if ties:
        x = draw(arrays(shape, -2, 2)).round()
    else:
        x = draw(arrays(shape, distinct=True, gap=1e-2))
    kwargs = {
        "kernel_size": _as_arg(draw, kernel),
        "stride": stride,
        "padding": _as_arg(draw, padding),
        "ceil_mode": ceil_mode,
    }
    if kind == "max":
        kwargs["dilation"] = _as_arg(draw, dilation)
    else:
        kwargs["count_include_pad"] = draw(st.booleans())
        if dims == 2:
            kwargs["divisor_override"] = draw(st.one_of(st.none(), st.integers(1, 5)))
    return PoolCase(kind, dims, x, kwargs)


@st.composite
def pad_cases(draw) -> tuple:
    """(x, pad, mode) for `pad`, every mode, negative amounts (crops) included."""
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    padded_dims = draw(st.integers(1, 2))
    extra = draw(st.integers(1, 2)) if mode != "constant" else draw(st.integers(0, 2))
    shape = tuple(draw(st.integers(1, 3)) for _ in range(extra)) + tuple(
        draw(st.integers(2, 4)) for _ in range(padded_dims)
    )
    amounts = []
    for i in range(padded_dims):
        n = shape[-1 - i]
        if mode == "constant":
            before, after = draw(st.integers(-1, 2)), draw(st.integers(-1, 2))
            assume(n + before + after >= 1)
        elif mode == "reflect":
            before, after = draw(st.integers(-1, n - 1)), draw(st.integers(-1, n - 1))
            assume(n + before + after >= 1)
        elif mode == "replicate":
            before, after = draw(st.integers(-1, 3)), draw(st.integers(-1, 3))
            assume(n + before + after >= 1)
        else:
            kept = n
            before, after = draw(st.integers(-1, kept - 1)), draw(st.integers(-1, kept - 1))
            kept = n + min(before, 0) + min(after, 0)
            assume(kept >= 1 and max(before, after) <= kept)
        amounts += [before, after]
    x = draw(arrays(shape))
    return x, tuple(amounts), mode
