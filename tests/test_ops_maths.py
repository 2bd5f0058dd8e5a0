"""Elementwise maths and rounding: erf to float64 precision (against math.erf, tails
included), domain edges and overflow as PyTorch, atan2/logaddexp/lerp at their special
points, round half to even, the two remainders, boolean tests of values, numpy dispatch, and
clear errors. Gradients against central differences: tests/test_ops_properties.py."""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor
from autodiff.tensor_ops.maths import _erf_kernel, erf_array, erfc_array

INF, NAN = math.inf, math.nan


def _erf_test_points() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([
        rng.uniform(-6, 6, 20_000),
        rng.standard_normal(10_000) * 0.3,
        np.geomspace(1e-300, 30, 5_000) * rng.choice([-1, 1], 5_000),
        np.linspace(-27, 27, 5_401),
        [0.46875, -0.46875, np.nextafter(0.46875, 1), 4.0, np.nextafter(4.0, 5), 26.55, 1e-310],
    ])  # fmt: skip


def _relative_error(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got - want) / np.abs(want)


def test_erf_matches_math_erf_to_1e_15_relative() -> None:
    xs = _erf_test_points()
    want = np.array([math.erf(v) for v in xs])
    nonzero = want != 0
    for got in (_erf_kernel(xs, complement=False), erf_array(xs)):  # vectorised, both ways
        assert _relative_error(got[nonzero], want[nonzero]).max() <= 1e-15
        np.testing.assert_array_equal(got[~nonzero], want[~nonzero])
    few = xs[:300]  # small arrays go element by element through math.erf itself
    np.testing.assert_array_equal(erf_array(few), [math.erf(v) for v in few])


def test_erfc_matches_math_erfc_in_its_tails() -> None:
    xs = _erf_test_points()
    want = np.array([math.erfc(v) for v in xs])
    got = _erf_kernel(xs, complement=True)
    representable = want > 1e-300
    assert _relative_error(got[representable], want[representable]).max() <= 2e-15
    assert (got[~representable] <= 1e-300).all()


def test_erf_special_values_and_dtypes() -> None:
    special = np.array([INF, -INF, NAN, 0.0, -0.0])
    for erf in (lambda x: _erf_kernel(x, False), erf_array):
        out = erf(special)
        np.testing.assert_array_equal(out, [1.0, -1.0, NAN, 0.0, -0.0])
        assert np.signbit(out[-1])
    np.testing.assert_array_equal(_erf_kernel(special, True), [0.0, 2.0, NAN, 1.0, 1.0])
    x32 = np.linspace(-3, 3, 1000, dtype=np.float32)
    assert erf_array(x32).dtype == np.float32 and erfc_array(x32[:5]).dtype == np.float32
    np.testing.assert_allclose(erf_array(x32), [math.erf(v) for v in x32], rtol=1e-7)
    assert erf_array(np.arange(3)).dtype == np.float64  # integers become float64


def test_erf_gradient_is_the_gaussian() -> None:
    x = Tensor([0.0, 1.0, -2.0, 30.0], requires_grad=True)
    x.erf().sum().backward()
    np.testing.assert_allclose(x.grad, 2 / math.sqrt(math.pi) * np.exp(-(x.data**2)), rtol=1e-15)


# (function, x, value, gradient) at domain edges, as PyTorch
EDGES = [
    (ad.asin, 1.0, math.pi / 2, INF),
    (ad.asin, -1.0, -math.pi / 2, INF),
    (ad.asin, 2.0, NAN, NAN),
    (ad.acos, 1.0, 0.0, -INF),
    (ad.log2, 0.0, -INF, INF),
    (ad.log2, -1.0, NAN, -1 / math.log(2)),
    (ad.log10, 0.0, -INF, INF),
    (ad.log1p, -1.0, -INF, INF),
    (ad.rsqrt, 0.0, INF, -INF),
    (ad.rsqrt, -1.0, NAN, NAN),
    (ad.exp2, 2000.0, INF, INF),
    (ad.expm1, 1000.0, INF, INF),
    (ad.sinh, 1000.0, INF, INF),
    (ad.cosh, -1000.0, INF, -INF),
    (ad.erf, 30.0, 1.0, 0.0),
    (ad.erfc, -30.0, 2.0, -0.0),
]


@pytest.mark.parametrize(
    "fn, x0, value, grad", EDGES, ids=[f"{e[0].__name__}({e[1]})" for e in EDGES]
)
def test_domain_edges_and_overflow_as_pytorch(fn, x0, value, grad) -> None:
    x = Tensor([x0], requires_grad=True)
    with np.errstate(all="ignore"):  # numpy's warnings for these are expected
        out = fn(x)
        out.backward(np.ones(1))
    np.testing.assert_array_equal(out.data, [value])
    np.testing.assert_allclose(x.grad, [grad], rtol=1e-15)


def test_atan2_values_by_quadrant_and_its_zero_gradient_at_the_origin() -> None:
    a = Tensor([1.0, 1.0, -1.0, -1.0, 0.0, 0.0], requires_grad=True)
    b = Tensor([1.0, -1.0, 1.0, -1.0, 0.0, -1.0], requires_grad=True)
    out = ad.atan2(a, b)
    np.testing.assert_allclose(out.data, [math.atan2(p, q) for p, q in zip(a.data, b.data)])
    out.sum().backward()
    np.testing.assert_allclose(a.grad, [0.5, -0.5, 0.5, -0.5, 0.0, -1.0])
    np.testing.assert_allclose(b.grad, [-0.5, -0.5, 0.5, 0.5, 0.0, 0.0])


def test_logaddexp_is_stable_and_splits_the_gradient_like_a_softmax() -> None:
    a = Tensor([1000.0, -1000.0, 0.0, -INF], requires_grad=True)
    b = Tensor([1000.0, -1000.0, math.log(3), -INF], requires_grad=True)
    with np.errstate(invalid="ignore"):
        out = ad.logaddexp(a, b)
        out.sum().backward()
    np.testing.assert_allclose(
        out.data, [1000 + math.log(2), -1000 + math.log(2), math.log(4), -INF]
    )
    np.testing.assert_allclose(a.grad, [0.5, 0.5, 0.25, NAN])  # nan at -inf, as PyTorch
    np.testing.assert_allclose(b.grad, [0.5, 0.5, 0.75, NAN])


def test_lerp_is_exact_at_both_ends_and_takes_tensor_weights() -> None:
    start, end = Tensor([1e10, -3.0]), Tensor([1.0, 7.0])
    np.testing.assert_array_equal(ad.lerp(start, end, 1.0).data, end.data)
    np.testing.assert_array_equal(ad.lerp(start, end, 0.0).data, start.data)
    s = Tensor([[0.0], [10.0]], requires_grad=True)
    e = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = Tensor([0.25, 0.5, 0.75], requires_grad=True)
    out = s.lerp(e, w)  # broadcasts to (2, 3)
    np.testing.assert_allclose(out.data, s.data + w.data * (e.data - s.data))
    out.sum().backward()
    np.testing.assert_allclose(s.grad, [[1.5], [1.5]])
    np.testing.assert_allclose(e.grad, [0.5, 1.0, 1.5])
    np.testing.assert_allclose(w.grad, (e.data - s.data).sum(axis=0))


def test_round_halves_to_even_with_decimals_as_pytorch() -> None:
    x = Tensor([0.5, 1.5, 2.5, -0.5, -1.5, 0.49999999999999994])
    np.testing.assert_array_equal(x.round().data, [0.0, 2.0, 2.0, -0.0, -2.0, 0.0])
    np.testing.assert_array_equal(Tensor([1.2345, 0.125]).round(decimals=2).data, [1.23, 0.12])
    np.testing.assert_array_equal(Tensor([1250.0, 1350.0]).round(decimals=-2).data, [1200, 1400])
    assert round(Tensor(2.5)).item() == 2.0  # Python's round() on a Tensor


def test_floor_ceil_trunc_sign() -> None:
    x = Tensor([-1.5, -0.5, 0.0, 0.5, 1.5, NAN])
    np.testing.assert_array_equal(x.floor().data, [-2, -1, 0, 0, 1, NAN])
    np.testing.assert_array_equal(x.ceil().data, [-1, -0.0, 0, 1, 2, NAN])
    np.testing.assert_array_equal(x.trunc().data, [-1, -0.0, 0, 0, 1, NAN])
    np.testing.assert_array_equal(x.sign().data, [-1, -1, 0, 1, 1, NAN])  # NaN stays NaN


def test_rounding_gradients_are_zero_even_for_infinite_upstream_gradients() -> None:
    x = Tensor([0.3, 1.7], requires_grad=True)
    y = x.floor() + x.ceil() + x.round() + x.trunc() + x.sign() + x // 0.4
    y.backward(np.array([INF, 1.0]))  # zeros, not inf * 0 = nan
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


def test_remainders_take_the_sign_of_the_divisor_or_of_the_dividend() -> None:
    a = [5.5, -5.5, 5.5, -5.5, 1.0]
    b = [2.0, 2.0, -2.0, -2.0, 0.1]
    np.testing.assert_allclose((Tensor(a) % Tensor(b)).data, [p % q for p, q in zip(a, b)])
    np.testing.assert_allclose(
        ad.fmod(Tensor(a), Tensor(b)).data, [math.fmod(p, q) for p, q in zip(a, b)]
    )
    np.testing.assert_array_equal((Tensor(a) // Tensor(b)).data, [p // q for p, q in zip(a, b)])
    np.testing.assert_allclose((7.0 % Tensor([2.0, -3.0])).data, [1.0, -2.0])
    np.testing.assert_allclose((7.0 // Tensor([2.0, -3.0])).data, [3.0, -3.0])
    assert ad.remainder is Tensor.__mod__ and Tensor.remainder is Tensor.__mod__


def test_integer_division_by_zero_raises_as_pytorch_and_floats_give_nan_silently() -> None:
    i = Tensor(np.array([5, -5]))
    for name, op in [
        ("fmod", lambda d: ad.fmod(i, d)),
        ("%", lambda d: i % d),
        ("//", lambda d: i // d),
        ("//", lambda d: 7 // Tensor(np.array([1, 0]))),
    ]:
        with pytest.raises(ZeroDivisionError, match=f"{re.escape(name)}: integer division by "):
            op(Tensor(np.array([1, 0])))
    np.testing.assert_array_equal((i % 3).data, [2, 1])  # no zero: numpy's numbers
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning from numpy
        out = ad.fmod(Tensor([5.0, 1.0]), Tensor([0.0, 0.0]))
        assert np.isnan(out.data).all() and np.isinf((Tensor([1.0]) // 0.0).data).all()


def test_remainder_gradients_are_one_and_minus_the_quotient() -> None:
    a = Tensor([5.5, -5.5, 1.0], requires_grad=True)
    b = Tensor([2.0, 2.0, 0.1], requires_grad=True)
    (a % b).sum().backward()
    np.testing.assert_array_equal(a.grad, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(b.grad, [-2.0, 3.0, -9.0])  # -floor(a / b), as a // b
    a.grad = b.grad = None
    ad.fmod(a, b).sum().backward()
    np.testing.assert_array_equal(b.grad, [-2.0, 2.0, -10.0])  # -trunc(a / b)


def test_tests_of_values_are_boolean_and_outside_the_graph() -> None:
    x = Tensor([1.0, NAN, INF, -INF], requires_grad=True)
    for out, expected in [
        (x.isnan(), [False, True, False, False]),
        (x.isinf(), [False, False, True, True]),
        (x.isfinite(), [True, False, False, False]),
        (ad.isnan(x * 2), [False, True, False, False]),
    ]:
        assert out.dtype == bool and not out.requires_grad and not out._prev
        np.testing.assert_array_equal(out.data, expected)


def test_numpy_functions_dispatch_to_the_ops() -> None:
    x = Tensor([0.5, 1.5], requires_grad=True)
    y = np.sin(x) + np.arctan2(x, 2.0) + np.log2(x) + np.rint(x) + np.remainder(x, 1.0)
    assert isinstance(y, Tensor)
    assert {node._op for node in ad.topological_order(y)} >= {"sin", "atan2", "log2", "round", "%"}
    y.sum().backward()
    expected = np.cos(x.data) + 2 / (4 + x.data**2) + 1 / (x.data * math.log(2)) + 1
    np.testing.assert_allclose(x.grad, expected)
    assert np.isnan(x.detach()).dtype == bool


def test_clamp_is_clip_with_pytorchs_names() -> None:
    x = Tensor([-2.0, -1.0, 0.5, 1.0, 2.0], requires_grad=True)
    out = x.clamp(min=-1.0, max=1.0)
    np.testing.assert_array_equal(out.data, [-1, -1, 0.5, 1, 1])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 1, 1, 1, 0])  # the edges pass, as PyTorch's
    np.testing.assert_array_equal(ad.clamp(x, max=0.0).data, [-2, -1, 0, 0, 0])


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: ad.logaddexp(Tensor([1.0, 2.0]), Tensor([1.0, 2.0, 3.0])), ValueError,
         r"logaddexp: shapes \(2,\) and \(3,\) do not broadcast"),
        (lambda: ad.atan2(Tensor([1.0, 2.0]), np.ones(3)), ValueError, "atan2: shapes"),
        (lambda: ad.lerp(Tensor([1.0, 2.0]), Tensor([1.0]), Tensor([0.5, 0.5, 0.5])),
         ValueError, r"lerp: shapes \(2,\) and \(1,\) and \(3,\) do not broadcast"),
        (lambda: ad.lerp(Tensor([1.0]), Tensor([1.0]), "x"), TypeError, "lerp: expected"),
        (lambda: Tensor([1.0, 2.0]) % Tensor([1.0, 2.0, 3.0]), ValueError, "%: shapes"),
        (lambda: Tensor([1.0]) % "x", TypeError, "%: expected a Tensor, array or number"),
        (lambda: ad.fmod(Tensor([1.0, 2.0]), np.ones((3, 1, 4))), ValueError, "fmod: shapes"),
        (lambda: Tensor([1.0]).round(decimals=1.5), TypeError, "round: decimals must be an int"),
        (lambda: Tensor([1.0]) // None, TypeError, "//: expected"),
    ],
)  # fmt: skip
def test_bad_arguments_are_clear_errors(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make()
