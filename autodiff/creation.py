"""Creation functions with PyTorch's names, arguments and semantics: ``zeros`` ``ones`` ``full``
``empty`` ``eye`` ``arange`` ``linspace`` ``rand`` ``randn`` (and ``uniform``), and the
``*_like`` versions that take their shape (and dtype) from another tensor.

Where PyTorch's default dtype is float32, these give float64, this project's default float
dtype (pass ``dtype=np.float32`` for PyTorch's). Sizes are given as ``f(2, 3)`` or
``f((2, 3))``. Random ones draw from the generator `manual_seed` seeds unless `rng` (a numpy
Generator or a seed) is passed. Bad arguments raise a ``TypeError``/``ValueError`` naming the
function, the value and what was expected.

>>> import numpy as np
>>> from autodiff import arange, eye, linspace, zeros_like
>>> arange(3)                      # ints give int64, as PyTorch
Tensor([0, 1, 2], dtype=int64)
>>> linspace(0, 1, 5)
Tensor([0.  , 0.25, 0.5 , 0.75, 1.  ])
>>> eye(2, 3, dtype=np.float32)
Tensor([[1., 0., 0.],
        [0., 1., 0.]], shape=(2, 3), dtype=float32)
>>> zeros_like(arange(3))          # the input's shape and dtype
Tensor([0, 0, 0], dtype=int64)
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _as_array, _describe, _rng_of

_FLOAT = np.dtype(np.float64)  # the default float dtype (PyTorch's is float32)
_INT = np.dtype(np.int64)

__all__ = [
    "arange", "empty", "empty_like", "eye", "full", "full_like", "linspace", "ones", "ones_like",
    "rand", "rand_like", "randn", "randn_like", "uniform", "zeros", "zeros_like",
]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Argument checks: each error names the function.
# --------------------------------------------------------------------------------------------


def _dtype(dtype: Any, op: str, default: np.dtype = _FLOAT) -> np.dtype:
    """`dtype` as a numpy dtype of real numbers (None: `default`), or a TypeError."""
    if dtype is None:
        return default
    try:
        result = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"{op}: dtype must be a numpy dtype such as np.float32, got {dtype!r}"
        ) from None
    if result.kind not in "biuf":
        raise TypeError(f"{op}: dtype must be bool, an int or a float dtype, got {result}")
    return result


def _float_dtype(dtype: Any, op: str) -> np.dtype:
    """A floating-point dtype for random numbers (PyTorch has no int rand/randn either)."""
    result = _dtype(dtype, op)
    if result.kind != "f":
        raise TypeError(
            f"{op}: random numbers need a floating-point dtype, got {result} "
            f"(pass dtype=np.float64 or np.float32)"
        )
    return result


def _is_int(x: Any) -> bool:
    return isinstance(x, (bool, Integral, np.bool_))


def _size(size: tuple, op: str) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` both give (2, 3); every size a non-negative int."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, Integral):
            raise TypeError(f"{op}: sizes must be ints, got {n!r} in size {size!r}")
        if n < 0:
            raise ValueError(f"{op}: sizes must be non-negative, got {n} in size {size!r}")
    return tuple(int(n) for n in size)


def _number(x: Any, name: str, op: str) -> Any:
    """A real number argument (bools count, as in PyTorch), or a TypeError."""
    if not isinstance(x, (Real, np.bool_)):
        raise TypeError(f"{op}: {name} must be a real number, got {_describe(x)}")
    return x


def _count(x: Any, name: str, op: str) -> int:
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, Integral):
        raise TypeError(f"{op}: {name} must be an int, got {_describe(x)}")
    if x < 0:
        raise ValueError(f"{op}: {name} must be non-negative, got {x}")
    return int(x)


def _like(input: Any, op: str) -> np.ndarray:
    """The array whose shape and dtype a ``*_like`` copies: a Tensor's, or what ``Tensor(input)``
    would hold (numbers and lists float64, ndarrays their own dtype)."""
    if isinstance(input, Tensor):
        return input.data
    try:
        return _as_array(input, None)
    except TypeError:
        raise TypeError(
            f"{op}: input must be a Tensor or an array of real numbers, got {_describe(input)}"
        ) from None


# --------------------------------------------------------------------------------------------
# Filled tensors
# --------------------------------------------------------------------------------------------


def zeros(*size: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros, float64 by default (PyTorch's default is float32).

    >>> zeros(2, 3).shape, zeros((2, 3)).shape
    ((2, 3), (2, 3))
    """
    data = np.zeros(_size(size, "zeros"), dtype=_dtype(dtype, "zeros"))
    return Tensor(data, requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones, float64 by default (PyTorch's default is float32).

    >>> ones(3, dtype=np.int64)
    Tensor([1, 1, 1], dtype=int64)
    """
    data = np.ones(_size(size, "ones"), dtype=_dtype(dtype, "ones"))
    return Tensor(data, requires_grad=requires_grad)


def empty(*size: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor to be filled in (``torch.empty``), float64 by default; here it holds zeros, so
    reading it before filling it gives no garbage.

    >>> empty(2, 2).shape
    (2, 2)
    """
    data = np.zeros(_size(size, "empty"), dtype=_dtype(dtype, "empty"))
    return Tensor(data, requires_grad=requires_grad)


def _full(size: tuple, fill_value: Any, dtype: Any, requires_grad: bool, op: str) -> Tensor:
    fill_value = _number(fill_value, "fill_value", op)
    if dtype is None:  # as PyTorch: from the value (bool, int64, or the default float dtype)
        kind = isinstance(fill_value, (bool, np.bool_))
        dtype = np.dtype(bool) if kind else _INT if isinstance(fill_value, Integral) else _FLOAT
    dtype = _dtype(dtype, op)
    if dtype.kind in "biu" and not math.isfinite(fill_value):
        raise ValueError(f"{op}: fill_value {fill_value!r} cannot be stored in dtype {dtype}")
    try:
        data = np.full(size, fill_value, dtype=dtype)
    except OverflowError:
        raise ValueError(
            f"{op}: fill_value {fill_value!r} is out of range for dtype {dtype}"
        ) from None
    return Tensor(data, requires_grad=requires_grad)


def full(
    size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False
) -> Tensor:  # fmt: skip
    """A tensor of `size` filled with `fill_value`; the dtype follows the value as in PyTorch
    (bool, int64, or float64 where PyTorch would give float32) unless `dtype` says otherwise.

    >>> full((2, 2), 7.0)
    Tensor([[7., 7.],
            [7., 7.]], shape=(2, 2))
    >>> full(3, 7)
    Tensor([7, 7, 7], dtype=int64)
    """
    size = _size(size if isinstance(size, (tuple, list)) else (size,), "full")
    return _full(size, fill_value, dtype, requires_grad, "full")


def eye(
    n: int, m: int | None = None, dtype: Any = np.float64, requires_grad: bool = False
) -> Tensor:  # fmt: skip
    """The n x m identity matrix (m = n by default): ones on the diagonal, float64 by default
    (PyTorch's default is float32).

    >>> eye(2)
    Tensor([[1., 0.],
            [0., 1.]], shape=(2, 2))
    """
    n = _count(n, "n", "eye")
    m = n if m is None else _count(m, "m", "eye")
    return Tensor(np.eye(n, m, dtype=_dtype(dtype, "eye")), requires_grad=requires_grad)


# --------------------------------------------------------------------------------------------
# Ranges
# --------------------------------------------------------------------------------------------


def arange(
    start: Any, end: Any = None, step: Any = 1, dtype: Any = None, requires_grad: bool = False
) -> Tensor:  # fmt: skip
    """The numbers from `start` (0 if only one bound is given) up to but not including `end`,
    `step` apart, as ``torch.arange``: int64 when every argument is an int, float64 (PyTorch:
    float32) when any is a float. Element i is ``start + i * step``, computed in float64.

    >>> arange(4)
    Tensor([0, 1, 2, 3], dtype=int64)
    >>> arange(1, 0, -0.25)
    Tensor([1.  , 0.75, 0.5 , 0.25])
    """
    if end is None:
        start, end = 0, start
    args = {"start": start, "end": end, "step": step}
    for name, value in args.items():
        _number(value, name, "arange")
    default = _INT if all(_is_int(v) for v in args.values()) else _FLOAT
    dtype = _dtype(dtype, "arange", default)
    if dtype.kind == "b":
        raise TypeError("arange: dtype bool is not supported (expected an int or float dtype)")
    if not all(math.isfinite(v) for v in args.values()):
        raise ValueError(f"arange: unsupported range {start} -> {end} with step {step} "
                         f"(expected finite numbers)")  # fmt: skip
    if dtype.kind in "iu":  # PyTorch casts the arguments to the integer dtype first
        start, end, step = int(start), int(end), int(step)
    if step == 0:
        raise ValueError(f"arange: step must be nonzero, got {args['step']!r}")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise ValueError(
            f"arange: end {end} is on the wrong side of start {start} for step {step} "
            f"(expected end >= start for a positive step, end <= start for a negative one)"
        )
    if dtype.kind in "iu":
        data = np.arange(start, end, step, dtype=np.int64).astype(dtype, copy=False)
    else:  # numpy's float arange adds a rounded delta; PyTorch computes start + i * step
        count = math.ceil((float(end) - float(start)) / float(step))
        data = (float(start) + np.arange(count, dtype=np.float64) * float(step)).astype(dtype)
    return Tensor(data, requires_grad=requires_grad)


def linspace(
    start: Any, end: Any, steps: int, dtype: Any = None, requires_grad: bool = False
) -> Tensor:  # fmt: skip
    """`steps` numbers evenly spaced from `start` to `end`, both included (float64 by default,
    PyTorch: float32). ``steps=1`` gives ``[start]``, ``steps=0`` an empty tensor. As PyTorch,
    the first half counts up from `start` and the second down from `end`, so both ends are
    exact; an int dtype truncates.

    >>> linspace(-1, 1, 3)
    Tensor([-1.,  0.,  1.])
    """
    _number(start, "start", "linspace")
    _number(end, "end", "linspace")
    steps = _count(steps, "steps", "linspace")
    dtype = _dtype(dtype, "linspace")
    if dtype.kind == "f":
        work = dtype  # PyTorch works in the float dtype itself
    else:
        if not (math.isfinite(start) and math.isfinite(end)):
            raise ValueError(
                f"linspace: start {start!r} and end {end!r} must be finite for dtype {dtype}"
            )
        work, start, end = _FLOAT, int(start), int(end)  # as PyTorch: int ends, float step
    first, last = work.type(start), work.type(end)
    if steps <= 1:
        data = np.full(steps, first, dtype=work)
    else:
        i = np.arange(steps)
        step = (last - first) / work.type(steps - 1)
        down = last - step * (steps - 1 - i).astype(work)
        data = np.where(i < steps // 2, first + step * i.astype(work), down)
    return Tensor(data.astype(dtype, copy=False), requires_grad=requires_grad)


# --------------------------------------------------------------------------------------------
# Random tensors (one seedable numpy Generator, see `manual_seed`)
# --------------------------------------------------------------------------------------------


def _uniform01(gen: np.random.Generator, size: tuple, dtype: np.dtype) -> np.ndarray:
    if dtype in (np.float32, np.float64):
        return gen.random(size, dtype=dtype)
    # float16/longdouble: draw float64; rounding must not reach 1 (the interval is [0, 1))
    below_one = np.nextafter(dtype.type(1), dtype.type(0))
    return np.minimum(gen.random(size).astype(dtype), below_one)


def _normal(gen: np.random.Generator, size: tuple, dtype: np.dtype) -> np.ndarray:
    if dtype in (np.float32, np.float64):
        return gen.standard_normal(size, dtype=dtype)
    return gen.standard_normal(size).astype(dtype)


def rand(
    *size: Any, dtype: Any = np.float64, requires_grad: bool = False,
    rng: np.random.Generator | int | None = None,
) -> Tensor:  # fmt: skip
    """Samples uniform in [0, 1), float64 by default (PyTorch's default is float32); `rng` is a
    Generator or a seed (default: the module's generator, see `manual_seed`).

    >>> x = rand(2, 3, rng=0)
    >>> x.shape, bool(((x.data >= 0) & (x.data < 1)).all())
    ((2, 3), True)
    """
    data = _uniform01(_rng_of(rng), _size(size, "rand"), _float_dtype(dtype, "rand"))
    return Tensor(data, requires_grad=requires_grad)


def randn(
    *size: Any, dtype: Any = np.float64, requires_grad: bool = False,
    rng: np.random.Generator | int | None = None,
) -> Tensor:  # fmt: skip
    """Standard normal samples, float64 by default (PyTorch's default is float32); `rng` is a
    Generator or a seed (default: the module's generator, see `manual_seed`).

    >>> randn(2, 3, rng=0).shape
    (2, 3)
    """
    data = _normal(_rng_of(rng), _size(size, "randn"), _float_dtype(dtype, "randn"))
    return Tensor(data, requires_grad=requires_grad)


def uniform(
    shape: Any, low: float = 0.0, high: float = 1.0, dtype: Any = np.float64,
    requires_grad: bool = False, rng: np.random.Generator | int | None = None,
) -> Tensor:  # fmt: skip
    """Uniform samples in [low, high) (PyTorch spells it ``torch.empty(shape).uniform_(low,
    high)``).

    >>> x = uniform((2, 3), -1, 1, rng=0)
    >>> bool(((x.data >= -1) & (x.data < 1)).all())
    True
    """
    size = _size(shape if isinstance(shape, (tuple, list)) else (shape,), "uniform")
    dtype = _float_dtype(dtype, "uniform")
    data = _rng_of(rng).uniform(low, high, size).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)


# --------------------------------------------------------------------------------------------
# *_like: the shape of `input`, and its dtype unless `dtype` says otherwise
# --------------------------------------------------------------------------------------------


def zeros_like(input: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of `input`'s shape and dtype (a Tensor, or anything ``Tensor()`` takes).

    >>> zeros_like(Tensor([[1.0, 2.0]]))
    Tensor([[0., 0.]], shape=(1, 2))
    """
    like = _like(input, "zeros_like")
    data = np.zeros(like.shape, dtype=_dtype(dtype, "zeros_like", like.dtype))
    return Tensor(data, requires_grad=requires_grad)


def ones_like(input: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of `input`'s shape and dtype.

    >>> ones_like(np.zeros(2, np.float32))
    Tensor([1., 1.], dtype=float32)
    """
    like = _like(input, "ones_like")
    data = np.ones(like.shape, dtype=_dtype(dtype, "ones_like", like.dtype))
    return Tensor(data, requires_grad=requires_grad)


def empty_like(input: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of `input`'s shape and dtype to be filled in (zeros here, as `empty`).

    >>> empty_like([1.0, 2.0, 3.0]).shape
    (3,)
    """
    like = _like(input, "empty_like")
    data = np.zeros(like.shape, dtype=_dtype(dtype, "empty_like", like.dtype))
    return Tensor(data, requires_grad=requires_grad)


def full_like(
    input: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False
) -> Tensor:  # fmt: skip
    """`fill_value` in `input`'s shape and dtype (so, as PyTorch, 2.7 in an int64 tensor is 2).

    >>> full_like(Tensor([1.0, 2.0]), 0.5)
    Tensor([0.5, 0.5])
    """
    like = _like(input, "full_like")
    dtype = _dtype(dtype, "full_like", like.dtype)
    return _full(like.shape, fill_value, dtype, requires_grad, "full_like")


def rand_like(
    input: Any, dtype: Any = None, requires_grad: bool = False,
    rng: np.random.Generator | int | None = None,
) -> Tensor:  # fmt: skip
    """Uniform samples in [0, 1) of `input`'s shape and dtype (which must be a float dtype).

    >>> rand_like(np.zeros((2, 2), np.float32), rng=0).dtype
    dtype('float32')
    """
    like = _like(input, "rand_like")
    dtype = _float_dtype(like.dtype if dtype is None else dtype, "rand_like")
    return Tensor(_uniform01(_rng_of(rng), like.shape, dtype), requires_grad=requires_grad)


def randn_like(
    input: Any, dtype: Any = None, requires_grad: bool = False,
    rng: np.random.Generator | int | None = None,
) -> Tensor:  # fmt: skip
    """Standard normal samples of `input`'s shape and dtype (which must be a float dtype).

    >>> randn_like(zeros(3), rng=0).shape
    (3,)
    """
    like = _like(input, "randn_like")
    dtype = _float_dtype(like.dtype if dtype is None else dtype, "randn_like")
    return Tensor(_normal(_rng_of(rng), like.shape, dtype), requires_grad=requires_grad)
