"""Property-check gradients: hypothesis strategies for inputs, and one assertion.

The project's own tests use these same strategies. Checking a new op takes about five lines;
for a Tensor function:

    from hypothesis import given
    from autodiff import Tensor
    from autodiff.testing import arrays, assert_gradients_match, shapes

    @given(arrays(shapes()))
    def test_softsign(x):
        assert_gradients_match(lambda t: t / (1 + t.abs()), Tensor(x, requires_grad=True))

and for a function of scalar `Value`s:

    from hypothesis import given
    from autodiff import Value
    from autodiff.testing import assert_gradients_match, floats

    @given(floats(), floats())
    def test_smooth_max(a, b):
        assert_gradients_match(lambda x, y: (x.exp() + y.exp()).log(), Value(a), Value(b))

`assert_gradients_match` raises `GradcheckError` naming the worst element (which input, its
index, backward's value and the finite-difference value). Every strategy draws float64 values
that are finite and bounded, so central differences are accurate; functions with kinks or ties
(``relu``, ``abs``, ``max``) take ``arrays(..., avoid=(0.0,))`` or ``arrays(..., distinct=True)``.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Callable, Sequence

import numpy as np

try:
    import hypothesis.extra.numpy as hnp
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - hypothesis is a dev dependency
    raise ImportError(
        "autodiff.testing needs hypothesis: pip install hypothesis (or the package's [dev] extra)"
    ) from error

from autodiff.gradcheck import GradcheckReport, gradcheck

__all__ = [
    "arrays",
    "assert_gradients_match",
    "assert_second_derivatives_match",
    "broadcastable_shapes",
    "floats",
    "matmul_shapes",
    "positive_arrays",
    "shapes",
]

Shape = tuple[int, ...]


def floats(min_value: float = -10.0, max_value: float = 10.0) -> st.SearchStrategy[float]:
    """Finite float64 numbers in ``[min_value, max_value]``: no NaN, no infinity, no subnormals.

    >>> from hypothesis import given
    >>> @given(floats(-1, 1))
    ... def check(x):
    ...     assert -1 <= x <= 1
    >>> check()
    """
    _check_bounds("floats", min_value, max_value)
    return st.floats(
        min_value=min_value,
        max_value=max_value,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,  # tiny denormals make finite differences meaningless
        width=64,
    )


def shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[Shape]:
    """Array shapes such as ``()``, ``(3,)``, ``(2, 1, 4)``: 0-d and size-1 dims included.

    Small by default (at most 4**3 = 64 elements), since a gradient check costs two function
    calls per element.

    >>> from hypothesis import given
    >>> @given(shapes(max_dims=2))
    ... def check(shape):
    ...     assert len(shape) <= 2 and all(1 <= side <= 4 for side in shape)
    >>> check()
    """
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(
    min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[tuple[Shape, Shape]]:
    """Pairs of shapes that numpy broadcasts together, e.g. ``((3, 1), (4,))`` or ``((), (2,))``.

    The two shapes may differ in rank (0-d included) and have size-1 dims where the other has
    any size, which is what exercises the un-broadcasting of gradients.

    >>> import numpy as np
    >>> from hypothesis import given
    >>> @given(broadcastable_shapes())
    ... def check(pair):
    ...     np.broadcast_shapes(*pair)  # never raises
    >>> check()
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda result: tuple(result.input_shapes))


def matmul_shapes(
    max_batch_dims: int = 2, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[tuple[Shape, Shape]]:
    """Pairs of shapes valid for ``a @ b`` with numpy's matmul rules.

    Covers vector @ vector, matrix @ vector, vector @ matrix, matrix @ matrix, and stacks of
    matrices whose batch dims broadcast (``(2, 1, 3, 4) @ (5, 4, 2)``).

    >>> import numpy as np
    >>> from hypothesis import given
    >>> @given(matmul_shapes())
    ... def check(pair):
    ...     np.matmul(np.ones(pair[0]), np.ones(pair[1]))  # never raises
    >>> check()
    """
    # numpy's own gufunc signature for matmul: the '?' dims are the optional ones that make
    # 1-D operands legal.
    return hnp.mutually_broadcastable_shapes(
        signature="(m?,n),(n,p?)->(m?,p?)",
        max_dims=max_batch_dims,
        min_side=min_side,
        max_side=max_side,
    ).map(lambda result: tuple(result.input_shapes))


def arrays(
    shape: Shape | int | st.SearchStrategy[Shape],
    min_value: float = -3.0,
    max_value: float = 3.0,
    dtype: Any = np.float64,
    *,
    avoid: Sequence[float] = (),
    distinct: bool = False,
    gap: float = 1e-3,
) -> st.SearchStrategy[np.ndarray]:
    """Well-conditioned arrays of `shape` (a tuple, an int or a strategy of shapes).

    Every element is finite, not subnormal and in ``[min_value, max_value]``; the moderate
    default range keeps ``exp`` and products from swamping finite differences. Two options keep
    gradient checks away from points where a derivative does not exist:

    - ``avoid=(0.0,)``: every element is at least `gap` away from each listed point (the kink
      of ``relu`` or ``abs``);
    - ``distinct=True``: elements are pairwise at least `gap` apart (no ties for ``max``,
      ``min`` or sorting).

    >>> from hypothesis import given
    >>> @given(arrays((2, 3), avoid=(0.0,)))
    ... def check(x):
    ...     assert x.shape == (2, 3) and (abs(x) >= 1e-3).all()
    >>> check()
    """
    _check_bounds("arrays", min_value, max_value)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"arrays: dtype must be a floating dtype, got {dtype}")
    if isinstance(gap, bool) or not isinstance(gap, Real) or not gap > 0:
        raise ValueError(f"arrays: gap must be a positive number, got {gap!r}")
    holes = _holes(avoid, min_value, max_value, gap)
    # Elements are drawn in a "compressed" interval with the holes cut out, then spread back
    # out. The map is increasing and only widens gaps, so `avoid` and `distinct` combine.
    free = (max_value - min_value) - sum(end - start for start, end, _ in holes)
    if holes and free <= 0:
        raise ValueError(
            f"arrays: no room in [{min_value}, {max_value}] once values within {gap} of "
            f"{tuple(avoid)} are excluded"
        )
    elements = st.floats(
        min_value=float(min_value),
        max_value=float(min_value + free),
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
        width=64,
    )
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    raw = hnp.arrays(np.float64, shape, elements=elements)

    def condition(x: np.ndarray) -> np.ndarray:
        if distinct:
            x = _spread(x, min_value, min_value + free, gap)
        x = _uncompress(x, holes)
        return _cast(x, dtype, min_value, max_value)

    return raw.map(condition)


def positive_arrays(
    shape: Shape | int | st.SearchStrategy[Shape],
    min_value: float = 0.1,
    max_value: float = 3.0,
    dtype: Any = np.float64,
    **options: Any,
) -> st.SearchStrategy[np.ndarray]:
    """Arrays with every element in ``[min_value, max_value]``, ``min_value > 0``: inputs for
    ``log``, ``sqrt``, division and non-integer powers. Takes the options of `arrays`.

    >>> from hypothesis import given
    >>> @given(positive_arrays(3))
    ... def check(x):
    ...     assert (x >= 0.1).all()
    >>> check()
    """
    if not min_value > 0:
        raise ValueError(f"positive_arrays: min_value must be > 0, got {min_value!r}")
    return arrays(shape, min_value, max_value, dtype, **options)


def assert_gradients_match(
    f: Callable[..., Any], *inputs: Any, atol: float = 1e-5, rtol: float = 1e-4, **options: Any
) -> GradcheckReport:
    """Raise `GradcheckError` unless ``f``'s backward agrees with central finite differences.

    `inputs` are `Value`s or `Tensor`s (float64 data; Tensors with ``requires_grad=True``).
    Every element of every input is checked; the error names the worst one: which input, its
    index, backward's value and the finite-difference value. Extra keywords (``eps``, ``seed``)
    go to `autodiff.gradcheck`. Returns the passing `GradcheckReport`.

    >>> from autodiff import Value
    >>> _ = assert_gradients_match(lambda x: x * x.tanh(), Value(0.3))
    """
    if not inputs:
        raise ValueError("assert_gradients_match: give f at least one input to check")
    for i, x in enumerate(inputs):
        _check_input(i, x)
    return gradcheck(f, *inputs, atol=atol, rtol=rtol, raise_exception=True, **options)


def assert_second_derivatives_match(
    f: Callable[..., Any], *inputs: Any, atol: float = 1e-5, rtol: float = 1e-4, **options: Any
) -> GradcheckReport:
    """Raise `GradcheckError` unless ``f``'s second derivatives agree with finite differences.

    The gradient of f's gradient (built with ``create_graph=True``) along a fixed random
    direction u, i.e. ``Hessian @ u``, is compared element by element with central differences
    of the first gradient (``gradcheck(..., order=2)``); ``seed`` picks u. Inputs as for
    `assert_gradients_match`. Returns the passing `GradcheckReport`.

    >>> from autodiff import Value
    >>> _ = assert_second_derivatives_match(lambda x, y: x * y.tanh(), Value(0.3), Value(-1.0))
    """
    name = "assert_second_derivatives_match"
    if not inputs:
        raise ValueError(f"{name}: give f at least one input to check")
    for i, x in enumerate(inputs):
        _check_input(i, x, name)
    return gradcheck(f, *inputs, atol=atol, rtol=rtol, raise_exception=True, order=2, **options)


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------


def _check_bounds(name: str, min_value: float, max_value: float) -> None:
    for bound in (min_value, max_value):
        if isinstance(bound, bool) or not isinstance(bound, Real) or not np.isfinite(bound):
            raise ValueError(f"{name}: bounds must be finite numbers, got {bound!r}")
    if min_value > max_value:
        raise ValueError(f"{name}: min_value {min_value!r} is greater than max_value {max_value!r}")


def _check_input(i: int, x: Any, name: str = "assert_gradients_match") -> None:
    """Catch the inputs for which finite differences would report nonsense, with a reason."""
    if not hasattr(x, "_prev") or not hasattr(x, "data"):
        raise TypeError(
            f"{name}: input {i} must be a Value or Tensor, got "
            f"{type(x).__name__} (wrap arrays as Tensor(x, requires_grad=True))"
        )
    data = x.data
    if isinstance(data, np.ndarray) and data.dtype != np.float64:
        raise ValueError(
            f"{name}: input {i} has dtype {data.dtype}; finite differences need float64 data"
        )
    if getattr(x, "requires_grad", True) is False:
        raise ValueError(
            f"{name}: input {i} has requires_grad=False, so backward gives it no gradient to check"
        )


def _holes(
    avoid: Sequence[float], lo: float, hi: float, gap: float
) -> list[tuple[float, float, bool]]:
    """The intervals within `gap` of each avoided point, inside [lo, hi], sorted and merged.

    Each is ``(start, end, start_allowed)``: `start` itself is allowed when it is exactly `gap`
    below the point, not when the interval was cut off at `lo`.
    """
    holes: list[tuple[float, float, bool]] = []
    for p in sorted(float(p) for p in avoid):
        start, end = max(p - gap, lo), min(p + gap, hi)
        if start >= end:
            continue
        if holes and start <= holes[-1][1]:
            holes[-1] = (holes[-1][0], max(end, holes[-1][1]), holes[-1][2])
        else:
            holes.append((start, end, p - gap >= lo))
    return holes


def _uncompress(x: np.ndarray, holes: list[tuple[float, float, bool]]) -> np.ndarray:
    """Move each value past every hole that starts below it (in compressed coordinates)."""
    out = x.copy()
    removed = 0.0
    for start, end, start_allowed in holes:
        compressed_start = start - removed
        past = x > compressed_start if start_allowed else x >= compressed_start
        out = np.where(past, out + (end - start), out)
        removed += end - start
    return out


def _spread(x: np.ndarray, lo: float, hi: float, gap: float) -> np.ndarray:
    """The same ordering of values, moved so that neighbours are at least `gap` apart."""
    n = x.size
    if n <= 1:
        return x
    room = hi - lo - (n - 1) * gap
    if room < 0:
        raise ValueError(
            f"arrays: {n} distinct values {gap} apart do not fit in the allowed range "
            f"(width {hi - lo:.6g}); use a smaller gap or shape"
        )
    flat = x.ravel()
    order = np.argsort(flat, kind="stable")
    # squeeze into [lo, lo + room], then push each value at least `gap` above the one before:
    # the result never exceeds lo + room + (n - 1) * gap = hi.
    squeezed = lo + (flat[order] - lo) * (room / (hi - lo))
    steps = np.arange(n) * gap
    spread = np.maximum.accumulate(squeezed - steps) + steps
    out = np.empty_like(flat)
    out[order] = spread
    return out.reshape(x.shape)


def _cast(x: np.ndarray, dtype: np.dtype, lo: float, hi: float) -> np.ndarray:
    """`x` in `dtype`, still inside [lo, hi] after rounding (spreading values past the holes
    can land one ulp outside)."""
    if dtype != np.float64:
        x = x.astype(dtype)
        lo, hi = _inner_bound(lo, dtype, +1), _inner_bound(hi, dtype, -1)
    return np.asarray(np.clip(x, lo, hi))  # asarray: clip turns a 0-d array into a scalar


def _inner_bound(bound: float, dtype: np.dtype, direction: int) -> Any:
    value = dtype.type(bound)
    if (direction > 0 and value < bound) or (direction < 0 and value > bound):
        value = np.nextafter(value, dtype.type(direction * np.inf))
    return value
