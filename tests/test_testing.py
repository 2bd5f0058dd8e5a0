"""autodiff.testing: the strategies draw what they promise, and the assertion catches wrong
gradients (and says where)."""

from __future__ import annotations

import contextlib
import math
import re
from typing import Callable, Iterator

import numpy as np
import pytest
from hypothesis import find, given
from hypothesis import strategies as st

from autodiff import GradcheckError, Value
from autodiff import tensor as tensor_module
from autodiff.tensor import Tensor
from autodiff.testing import (
    arrays,
    assert_gradients_match,
    broadcastable_shapes,
    floats,
    matmul_shapes,
    positive_arrays,
    shapes,
)

# ------------------------------------------------------------------------------------------
# floats and shapes
# ------------------------------------------------------------------------------------------


@given(floats())
def test_floats_are_finite_and_within_the_default_bounds(x):
    assert isinstance(x, float) and math.isfinite(x) and -10 <= x <= 10


@given(floats(0.5, 2.0))
def test_floats_respect_given_bounds(x):
    assert 0.5 <= x <= 2.0


def test_floats_reach_both_bounds_and_zero():
    for target in (-10.0, 0.0, 10.0):
        assert find(floats(), lambda x, t=target: x == t) == target


@pytest.mark.parametrize("bounds", [(1.0, 0.0), (0.0, math.inf), (math.nan, 1.0)])
def test_floats_refuse_bad_bounds(bounds):
    with pytest.raises(ValueError, match="floats"):
        floats(*bounds)


@given(shapes())
def test_shapes_respect_the_limits(shape):
    assert isinstance(shape, tuple) and len(shape) <= 3
    assert all(1 <= side <= 4 for side in shape)


def test_shapes_include_0d_and_size_1_dims():
    assert find(shapes(), lambda s: s == ()) == ()
    assert 1 in find(shapes(), lambda s: len(s) >= 2 and 1 in s)


@given(shapes(min_dims=2, max_dims=2, min_side=3, max_side=5))
def test_shapes_take_their_arguments(shape):
    assert len(shape) == 2 and all(3 <= side <= 5 for side in shape)


# ------------------------------------------------------------------------------------------
# broadcastable and matmul shape pairs
# ------------------------------------------------------------------------------------------


@given(broadcastable_shapes())
def test_broadcastable_shapes_broadcast(pair):
    a, b = pair
    assert isinstance(a, tuple) and isinstance(b, tuple)
    result = np.broadcast_shapes(a, b)
    assert len(result) <= 3
    assert (np.ones(a) + np.ones(b)).shape == result


@pytest.mark.parametrize(
    "wanted",
    [
        lambda a, b: len(a) != len(b),  # different ranks
        lambda a, b: a == () and b != (),  # a 0-d operand
        # a size-1 dim stretched against a longer one
        lambda a, b: any(x == 1 and y > 1 for x, y in zip(a[::-1], b[::-1])),
        lambda a, b: a == b and len(a) == 3,  # plain equal shapes
    ],
)
def test_broadcastable_shapes_cover_the_interesting_cases(wanted):
    find(broadcastable_shapes(), lambda pair: wanted(*pair))


@given(matmul_shapes())
def test_matmul_shapes_are_valid_for_numpy_matmul(pair):
    a, b = pair
    np.matmul(np.ones(a), np.ones(b))


@pytest.mark.parametrize("ranks", [(1, 1), (2, 1), (1, 2), (2, 2), (3, 2), (1, 3), (4, 3)], ids=str)
def test_matmul_shapes_cover_vectors_matrices_and_batches(ranks):
    find(matmul_shapes(), lambda pair: (len(pair[0]), len(pair[1])) == ranks)


def test_matmul_shapes_broadcast_batch_dims():
    # a batch dim of 1 on one side against a longer one on the other
    def stretched(pair):
        a, b = pair
        return any(x == 1 and y > 1 for x, y in zip(a[-3::-1], b[-3::-1]))

    find(matmul_shapes(), stretched)


# ------------------------------------------------------------------------------------------
# arrays
# ------------------------------------------------------------------------------------------


@given(arrays(shapes()))
def test_arrays_are_float64_finite_and_bounded(x):
    assert isinstance(x, np.ndarray) and x.dtype == np.float64
    assert np.isfinite(x).all() and (x >= -3).all() and (x <= 3).all()


@given(st.data())
def test_arrays_take_a_shape_tuple_an_int_or_a_strategy(data):
    assert data.draw(arrays((2, 3))).shape == (2, 3)
    assert data.draw(arrays(4)).shape == (4,)
    assert data.draw(arrays(())).shape == ()
    zero_d = data.draw(arrays((), dtype=np.float32, avoid=(0.0,), distinct=True))
    assert isinstance(zero_d, np.ndarray) and zero_d.shape == () and zero_d.dtype == np.float32
    assert data.draw(arrays(shapes(min_dims=1, max_dims=1))).ndim == 1


@given(arrays((3, 4), min_value=-0.1, max_value=0.1, dtype=np.float32))
def test_arrays_keep_float32_within_bounds(x):
    assert x.dtype == np.float32
    assert (x >= -0.1).all() and (x <= 0.1).all()


@given(arrays(shapes(), avoid=(0.0, 1.0)))
def test_arrays_avoid_kinks(x):
    assert (np.abs(x) >= 1e-3).all() and (np.abs(x - 1.0) >= 1e-3 * (1 - 1e-9)).all()
    assert (x >= -3).all() and (x <= 3).all()


@given(arrays(shapes(), min_value=0.0, max_value=1.0, avoid=(0.0,), gap=0.25))
def test_arrays_avoid_a_point_at_the_lower_bound(x):
    assert (x >= 0.25).all() and (x <= 1.0).all()


@given(arrays(shapes(min_dims=1), distinct=True))
def test_arrays_distinct_values_are_gap_apart(x):
    values = np.sort(x.ravel())
    assert (np.diff(values) >= 1e-3 * (1 - 1e-9)).all()
    assert (x >= -3).all() and (x <= 3).all()


@given(arrays(shapes(min_dims=1), min_value=-1, max_value=1, distinct=True, avoid=(0.0,), gap=0.01))
def test_arrays_distinct_and_avoid_combine(x):
    values = np.sort(x.ravel())
    assert (np.diff(values) >= 0.01 * (1 - 1e-9)).all()
    assert (np.abs(x) >= 0.01).all() and (x >= -1).all() and (x <= 1).all()


def test_arrays_still_reach_zero_and_ties_without_options():
    # without options, zeros and repeated values do appear: they are valid inputs for most ops
    assert find(arrays(3), lambda x: (x == 0).any()) is not None
    assert find(arrays(3), lambda x: x[0] == x[1]) is not None


def test_arrays_refuse_impossible_requests():
    with pytest.raises(ValueError, match="floating dtype"):
        arrays(3, dtype=np.int64)
    with pytest.raises(ValueError, match="min_value"):
        arrays(3, min_value=2, max_value=1)
    with pytest.raises(ValueError, match="no room"):
        arrays(3, min_value=-0.001, max_value=0.001, avoid=(0.0,), gap=0.01)
    with pytest.raises(ValueError, match="gap"):
        arrays(3, gap=0)
    with pytest.raises(ValueError, match="do not fit"):
        find(arrays(10, min_value=0, max_value=1, distinct=True, gap=0.5), lambda x: True)


@given(positive_arrays(shapes()))
def test_positive_arrays_are_positive(x):
    assert (x >= 0.1).all() and (x <= 3).all()


def test_positive_arrays_refuse_a_non_positive_minimum():
    with pytest.raises(ValueError, match="positive_arrays"):
        positive_arrays(3, min_value=0.0)


# ------------------------------------------------------------------------------------------
# assert_gradients_match on Values
# ------------------------------------------------------------------------------------------


@given(floats(-3, 3), floats(-3, 3))
def test_assert_gradients_match_passes_on_correct_value_functions(a, b):
    report = assert_gradients_match(
        lambda x, y: (x * y + x.tanh() * x - y.sigmoid()) * 2, Value(a), Value(b)
    )
    assert report.ok and report.checked == 2


def _cube_with_wrong_gradient(x: Value) -> Value:
    """x**3, built by hand (micrograd style) with d/dx = 2x**2 instead of 3x**2."""
    out = Value(x.data**3, (x,), "cube")
    out._partials = (2 * x.data**2,)
    return out


def _cube(x: Value) -> Value:
    out = Value(x.data**3, (x,), "cube")
    out._partials = (3 * x.data**2,)
    return out


def test_a_hand_built_value_op_with_the_right_gradient_passes():
    assert_gradients_match(lambda a, b: _cube(a) * b, Value(1.5), Value(-0.5))


def test_a_wrong_value_gradient_fails_naming_input_and_both_values():
    a, b = Value(1.5), Value(-0.5)
    with pytest.raises(GradcheckError) as caught:
        assert_gradients_match(lambda a, b: a * b + _cube_with_wrong_gradient(b), a, b)
    message = str(caught.value)
    # d/db = a + 3 b**2 = 2.25, but the wrong rule gives a + 2 b**2 = 2.0
    assert "MISMATCH" in message and "input 1" in message
    assert "backward gives 2," in message and "finite differences give 2.25 " in message


def test_a_tampered_partial_fails():
    def f(x):
        out = x.tanh()
        out._partials = (1.0,)  # as if tanh were the identity
        return out

    with pytest.raises(GradcheckError, match="input 0"):
        assert_gradients_match(f, Value(0.7))


def test_assert_gradients_match_forwards_tolerances():
    wrong = lambda x: _cube_with_wrong_gradient(x)  # noqa: E731
    # off by x**2 = 0.01 at x = 0.1: inside atol=0.1, outside the default
    assert_gradients_match(wrong, Value(0.1), atol=0.1)
    with pytest.raises(GradcheckError):
        assert_gradients_match(wrong, Value(0.1))


def test_assert_gradients_match_refuses_non_nodes():
    with pytest.raises(TypeError, match="input 1 must be a Value or Tensor"):
        assert_gradients_match(lambda x, y: x * y, Value(1.0), 2.0)
    with pytest.raises(ValueError, match="at least one input"):
        assert_gradients_match(lambda: Value(1.0))


# ------------------------------------------------------------------------------------------
# assert_gradients_match on Tensors
# ------------------------------------------------------------------------------------------


def _leaf(x: np.ndarray, label: str | None = None) -> Tensor:
    return Tensor(x, requires_grad=True, label=label)


@given(arrays(shapes()))
def test_module_docstring_example_for_tensors(x):
    assert_gradients_match(lambda t: t / (1 + t.abs()), Tensor(x, requires_grad=True))


@given(floats(), floats())
def test_module_docstring_example_for_values(a, b):
    assert_gradients_match(lambda x, y: (x.exp() + y.exp()).log(), Value(a), Value(b))


@given(broadcastable_shapes().flatmap(lambda pair: st.tuples(arrays(pair[0]), arrays(pair[1]))))
def test_assert_gradients_match_passes_on_broadcasting_tensor_functions(xy):
    x, y = xy
    report = assert_gradients_match(
        lambda a, b: (a * b).tanh() + a / (1 + b * b) - b, _leaf(x), _leaf(y)
    )
    assert report.ok and report.checked == x.size + y.size


@given(matmul_shapes().flatmap(lambda pair: st.tuples(arrays(pair[0]), arrays(pair[1]))))
def test_assert_gradients_match_passes_on_matmul(xy):
    x, y = xy
    assert_gradients_match(lambda a, b: a @ b, _leaf(x), _leaf(y))


@contextlib.contextmanager
def _square_with_wrong_rule() -> Iterator[Callable[[Tensor], Tensor]]:
    """x**2 as a new tensor op whose rule says d/dx = x (instead of 2x), registered only
    inside the `with` block."""
    name = "test_testing.wrong_square"
    tensor_module.VJP_RULES[name] = (lambda g, inputs, out, ctx: g * inputs[0],)
    try:
        yield lambda x: tensor_module._make(x.data * x.data, (x,), name)
    finally:
        del tensor_module.VJP_RULES[name]


def test_a_wrong_tensor_rule_fails_naming_input_index_and_both_values():
    w = np.array([[0.5, -1.0, 0.25], [1.5, 0.75, 5.0]])
    x = np.array([0.1, 0.2])
    with _square_with_wrong_rule() as square, pytest.raises(GradcheckError) as caught:
        # d/dw = 2 w everywhere; the wrong rule gives w, worst where |w| is largest: (1, 2)
        assert_gradients_match(
            lambda x, w: (x.sum() + square(w)).sum(), _leaf(x), _leaf(w, label="w")
        )
    message = str(caught.value)
    assert "input 1 ('w') of shape (2, 3) at index (1, 2)" in message
    assert re.search(r"backward gives 5, finite differences give 10(\.0*\d*)? ", message)


def test_a_wrong_tensor_rule_fails_for_a_0d_input():
    pattern = r"input 0: backward gives 3, finite differences give 6(\.0*\d*)? "
    with _square_with_wrong_rule() as square, pytest.raises(GradcheckError, match=pattern):
        assert_gradients_match(square, _leaf(np.array(3.0)))


@given(arrays(shapes(min_dims=1), avoid=(0.0,)))
def test_a_wrong_tensor_rule_is_caught_on_every_drawn_array(x):
    # the property form users write: the check fails for every drawn input, not only some
    with _square_with_wrong_rule() as square, pytest.raises(GradcheckError, match="input 0 of"):
        assert_gradients_match(square, _leaf(x))


def test_assert_gradients_match_refuses_float32_and_non_differentiable_tensors():
    with pytest.raises(ValueError, match="input 0 has dtype float32"):
        assert_gradients_match(lambda t: t * t, _leaf(np.ones(3, dtype=np.float32)))
    with pytest.raises(ValueError, match="input 1 has requires_grad=False"):
        assert_gradients_match(lambda a, b: a * b, _leaf(np.ones(3)), Tensor(np.ones(3)))
    with pytest.raises(TypeError, match="wrap arrays as Tensor"):
        assert_gradients_match(lambda t: t * t, np.ones(3))


# ------------------------------------------------------------------------------------------
# a user's custom op (autodiff.function.Function), checked the way the docs show
# ------------------------------------------------------------------------------------------


def _softsign_ops() -> tuple[type, type]:
    """Softsign x / (1 + |x|) as a custom op, with the right vjp and with a wrong one."""
    function = pytest.importorskip("autodiff.function")

    class Softsign(function.Function):
        name = "test_testing.softsign"

        @staticmethod
        def forward(x):
            return x / (1 + np.abs(x))

        @staticmethod
        def vjp(g, x, out):
            return (g / (1 + np.abs(x)) ** 2,)  # d/dx = 1 / (1 + |x|)**2

    class WrongSoftsign(function.Function):
        name = "test_testing.wrong_softsign"

        @staticmethod
        def forward(x):
            return x / (1 + np.abs(x))

        @staticmethod
        def vjp(g, x, out):
            return (g / (1 + np.abs(x)),)  # the square is missing

    return Softsign, WrongSoftsign


@given(arrays(shapes(), avoid=(0.0,), gap=0.1))
def test_a_custom_op_with_the_right_vjp_passes(x):
    softsign, _ = _softsign_ops()
    assert_gradients_match(lambda t: softsign.apply(t) * t, Tensor(x, requires_grad=True))


@given(arrays(shapes(), avoid=(0.0,), gap=0.1))
def test_a_custom_op_with_a_wrong_vjp_fails_for_every_input(x):
    # off by g |x| / (1 + |x|)**2 >= 0.08 |g| away from 0: always beyond the tolerance
    _, wrong = _softsign_ops()
    with pytest.raises(GradcheckError, match="MISMATCH: worst is input 0"):
        assert_gradients_match(wrong.apply, Tensor(x, requires_grad=True))
