"""What backward leaves in ``.grad``: an array of each tensor's own, never shared with another
tensor's gradient (or with the gradient the caller passed in), writable; and the cached ones
vectors stay within their byte budget.

Each aliasing case is checked by mutating one gradient in place and reading the other, for
ndarray gradients (``backward()``) and Tensor gradients (``backward(create_graph=True)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from aliasing_ops import PassThrough, SameGradientTwice

from autodiff import Tensor, grad
from autodiff.function import Function
from autodiff.tensor import _ONES, _ONES_MAX_BYTES, _ones_vector, _unbroadcast


def leaves(n: int = 2, shape: tuple = (2, 3)) -> list[Tensor]:
    rng = np.random.default_rng(0)
    return [Tensor(rng.standard_normal(shape), requires_grad=True) for _ in range(n)]


def array_of(g: Any) -> np.ndarray:
    return g.data if isinstance(g, Tensor) else g


def assert_independent(first: Any, second: Any) -> None:
    """Adding to `first` in place leaves `second` as it was (and both are writable)."""
    a, b = array_of(first), array_of(second)
    assert a.flags.writeable and b.flags.writeable
    before = b.copy()
    a += 1.0
    np.testing.assert_array_equal(b, before)
    assert not np.shares_memory(a, b)


MODES = [pytest.param(False, id="ndarray"), pytest.param(True, id="tensor")]


def seed_for(out: Tensor, create_graph: bool) -> Any:
    seed = np.ones(out.shape)
    return Tensor(seed) if create_graph else seed


@pytest.mark.parametrize("create_graph", MODES)
def test_a_function_whose_vjp_returns_one_gradient_twice(create_graph):
    a, b = leaves()
    out = SameGradientTwice.apply(a, b)
    out.backward(seed_for(out, create_graph), create_graph=create_graph)
    assert isinstance(a.grad, Tensor) == create_graph
    assert_independent(a.grad, b.grad)


@pytest.mark.parametrize("create_graph", MODES)
@pytest.mark.parametrize("reduce", [False, True], ids=["seeded", "summed"])
def test_the_two_inputs_of_an_addition(create_graph, reduce):
    a, b = leaves()
    out = a + b
    if reduce:
        out.sum().backward(create_graph=create_graph)
    else:
        out.backward(seed_for(out, create_graph), create_graph=create_graph)
    assert a.grad is not b.grad
    assert_independent(a.grad, b.grad)
    assert_independent(b.grad, a.grad)


@pytest.mark.parametrize("create_graph", MODES)
def test_a_leaf_that_is_its_own_root_does_not_keep_the_callers_gradient(create_graph):
    (a,) = leaves(1)
    given = seed_for(a, create_graph)
    a.backward(given, create_graph=create_graph)
    np.testing.assert_array_equal(array_of(a.grad), np.ones(a.shape))
    assert_independent(a.grad, given)
    assert_independent(given, a.grad)


@pytest.mark.parametrize("create_graph", MODES)
@pytest.mark.parametrize("op", ["add", "function", "reshape"])
def test_a_retained_intermediate_and_a_leaf(create_graph, op):
    a, b = leaves()
    if op == "add":
        mid = a + b
    elif op == "function":
        mid = PassThrough.apply(a)
    else:
        mid = a.reshape(6).reshape(2, 3)
    mid.retain_grad()
    mid.backward(seed_for(mid, create_graph), create_graph=create_graph)
    assert_independent(mid.grad, a.grad)
    assert_independent(a.grad, mid.grad)


@pytest.mark.parametrize("create_graph", MODES)
def test_a_retained_root_and_a_leaf_behind_an_addition(create_graph):
    a, b = leaves()
    mid = (a + b).retain_grad()
    out = mid + 0.0
    out.retain_grad()
    out.backward(seed_for(out, create_graph), create_graph=create_graph)
    grads = [out.grad, mid.grad, a.grad, b.grad]
    for i, first in enumerate(grads):
        for second in grads[i + 1 :]:
            assert_independent(first, second)


def test_retain_grad_gives_a_writable_array():
    (a,) = leaves(1)
    mid = a * 2.0
    mid.retain_grad()
    mid.sum().backward()  # sum's gradient is a read-only broadcast of one number
    assert isinstance(mid.grad, np.ndarray) and mid.grad.flags.writeable
    mid.grad[0, 0] = 5.0
    np.testing.assert_array_equal(a.grad, np.full(a.shape, 2.0))


def test_gradients_still_accumulate_into_their_own_arrays():
    a, b = leaves()
    (a + b).sum().backward()
    first = a.grad
    (a + b).sum().backward()
    assert a.grad is not first  # a new array: the earlier one is not changed under the caller
    np.testing.assert_array_equal(a.grad, np.full(a.shape, 2.0))
    np.testing.assert_array_equal(first, np.ones(a.shape))
    assert_independent(a.grad, b.grad)


class Double(Function):
    """2x, whose vjp records the gradient array it returns."""

    returned: list = []

    @staticmethod
    def forward(x: np.ndarray) -> np.ndarray:
        return 2 * x

    @staticmethod
    def vjp(g: Any, x: Any, out: Any) -> tuple:
        Double.returned.append(g * 2)
        return (Double.returned[-1],)


def test_a_gradient_made_for_one_leaf_is_kept_without_a_copy():
    """The common case costs nothing: an array computed for one leaf is stored as it is (a
    weight gradient ``x.T @ g`` in a training step is never copied)."""
    (w,) = leaves(1)
    Double.returned.clear()
    Double.apply(w).backward(np.ones(w.shape))
    assert w.grad is Double.returned[0]


def test_functional_gradients_of_two_arguments_are_two_arrays():
    a, b = leaves()
    ga, gb = grad(lambda x, y: (x + y).sum(), argnums=(0, 1))(a, b)  # build_graph: a requires grad
    assert ga is not gb
    assert not np.shares_memory(array_of(ga), array_of(gb))
    x, y = np.ones(3), np.ones(3)
    gx, gy = grad(lambda p, q: (p + q).sum(), argnums=(0, 1))(x, y)
    assert not np.shares_memory(gx, gy)


# --------------------------------------------------------------------------------------------
# The cached ones vectors
# --------------------------------------------------------------------------------------------


def test_the_ones_cache_is_bounded_by_bytes():
    size = 100_000  # 800 kB of float64 each: twenty of them would be 16 MB
    for i in range(20):
        ones = _ones_vector(size + i, np.dtype(np.float64))
        assert ones.shape == (size + i,) and ones.dtype == np.float64
        assert not ones.flags.writeable
        assert ones.min() == 1.0 == ones.max()
    cached = sum(v.nbytes for v in _ONES.values())
    assert 0 < cached <= _ONES_MAX_BYTES


def test_a_vector_larger_than_the_budget_is_not_cached():
    n = _ONES_MAX_BYTES // 8 + 1
    ones = _ones_vector(n, np.dtype(np.float64))
    assert ones.shape == (n,) and ones.sum() == n
    assert (n, np.dtype(np.float64)) not in _ONES
    assert sum(v.nbytes for v in _ONES.values()) <= _ONES_MAX_BYTES


def test_bias_gradients_after_the_cache_was_emptied_are_right():
    for batch in [3, 700_000, 5, 3]:  # the large batch empties the cache
        g = np.arange(batch * 2, dtype=np.float64).reshape(batch, 2)
        np.testing.assert_array_equal(_unbroadcast(g, (2,)), g.sum(axis=0))


class FrozenGradient(Function):
    """x * 1, whose vjp returns the same read-only array every time (a cached constant)."""

    constant = np.ones(3)
    constant.flags.writeable = False

    @staticmethod
    def forward(x: np.ndarray) -> np.ndarray:
        return x.copy()

    @staticmethod
    def vjp(g: Any, x: Any, out: Any) -> tuple:
        return (FrozenGradient.constant,)


def test_a_read_only_gradient_from_a_vjp_is_copied():
    (a,) = leaves(1, (3,))
    FrozenGradient.apply(a).backward(np.ones(3))
    assert a.grad is not FrozenGradient.constant and a.grad.flags.writeable
    a.grad += 1.0
    np.testing.assert_array_equal(FrozenGradient.constant, np.ones(3))
