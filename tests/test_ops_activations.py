"""Activations: PyTorch's derivative at every kink, exact values (gelu against math.erf),
stability for large inputs, softplus's beta/threshold (and its old one-argument form), selu's
self-normalising constants, and clear errors. The catalogue's property tests
(tests/test_ops_properties.py) check every gradient against central differences."""

from __future__ import annotations

import math

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor

# (name, function, inputs at the kinks, PyTorch's derivatives there)
KINKS = [
    ("hardtanh", ad.hardtanh, [-1.0, 1.0, 0.0, -2.0, 2.0], [0.0, 0.0, 1.0, 0.0, 0.0]),
    ("hardtanh range", lambda t: ad.hardtanh(t, 0.0, 2.0), [0.0, 2.0, 1.0], [0.0, 0.0, 1.0]),
    ("relu6", ad.relu6, [0.0, 6.0, 3.0, -1.0, 7.0], [0.0, 0.0, 1.0, 0.0, 0.0]),
    ("hardsigmoid", ad.hardsigmoid, [-3.0, 3.0, 0.0, -4.0, 4.0], [0.0, 0.0, 1 / 6, 0.0, 0.0]),
    ("hardswish", ad.hardswish, [-3.0, 3.0, 0.0, -4.0, 4.0, 1.5], [0.0, 1.0, 0.5, 0.0, 1.0, 1.0]),
    ("elu", ad.elu, [0.0, 1.0], [1.0, 1.0]),
    ("elu alpha 2", lambda t: ad.elu(t, 2.0), [0.0, -0.0], [2.0, 2.0]),
    ("selu", ad.selu, [0.0], [ad.tensor_ops.activations.SELU_ALPHA * 1.0507009873554805]),
    ("celu", lambda t: ad.celu(t, 2.0), [0.0], [1.0]),
    ("softsign", ad.softsign, [0.0], [1.0]),
    ("softplus at its threshold", lambda t: t.softplus(), [20.0], [1 / (1 + math.exp(-20))]),
    ("softplus above its threshold", lambda t: t.softplus(), [20.000001], [1.0]),
    ("softplus beta", lambda t: ad.softplus(t, 2.0, 10.0), [5.0, 5.000001],
     [1 / (1 + math.exp(-10)), 1.0]),
    ("gelu", ad.gelu, [0.0], [0.5]),
    ("gelu tanh", lambda t: ad.gelu(t, approximate="tanh"), [0.0], [0.5]),
    ("silu", ad.silu, [0.0], [0.5]),
    ("mish", ad.mish, [0.0], [0.6]),
    ("logsigmoid", ad.logsigmoid, [0.0], [0.5]),
]  # fmt: skip


@pytest.mark.parametrize("name, fn, xs, grads", KINKS, ids=[k[0] for k in KINKS])
def test_the_derivative_at_each_kink_is_pytorchs(name, fn, xs, grads) -> None:
    x = Tensor(xs, requires_grad=True)
    fn(x).sum().backward()
    np.testing.assert_allclose(x.grad, grads, rtol=1e-15, atol=0)


def test_piecewise_linear_values() -> None:
    x = Tensor([-4.0, -3.0, -1.0, 0.0, 1.5, 3.0, 6.0, 7.0])
    np.testing.assert_array_equal(ad.hardtanh(x).data, [-1, -1, -1, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(ad.relu6(x).data, [0, 0, 0, 0, 1.5, 3, 6, 6])
    np.testing.assert_allclose(ad.hardsigmoid(x).data, [0, 0, 1 / 3, 0.5, 0.75, 1, 1, 1])
    np.testing.assert_allclose(ad.hardswish(x).data, [0, 0, -1 / 3, 0, 1.125, 3, 6, 7])


@pytest.mark.parametrize("n", [161, 1601], ids=["elementwise erfc", "vectorised erfc"])
def test_gelu_is_x_times_the_normal_cdf_to_float64_precision(n: int) -> None:
    xs = np.concatenate([np.linspace(-8, 8, n), [-30.0, -10.0, -1e-8, 1e-8, 30.0]])
    # Phi(x) = erfc(-x / sqrt 2) / 2, with the argument rounded as gelu rounds it (erfc is
    # steep out there: an ulp of argument moves it by 1e-14 relative)
    expected = [0.5 * v * math.erfc(v * -math.sqrt(0.5)) for v in xs]
    np.testing.assert_allclose(ad.gelu(Tensor(xs)).data, expected, rtol=4e-15, atol=0)
    # far left, 1 + erf(x / sqrt 2) would cancel to 0; the value is tiny but not 0
    assert ad.gelu(Tensor(-10.0)).item() == pytest.approx(-7.619853024160527e-23, rel=1e-13)


def test_gelu_tanh_approximation_formula() -> None:
    xs = np.linspace(-5, 5, 41)
    inner = np.sqrt(2 / np.pi) * (xs + 0.044715 * xs**3)
    expected = 0.5 * xs * (1 + np.tanh(inner))
    np.testing.assert_allclose(ad.gelu(Tensor(xs), approximate="tanh").data, expected, rtol=1e-14)


def test_the_two_gelus_differ() -> None:
    # a rule computing the tanh form's derivative for the exact gelu would be caught
    x = Tensor([1.0], requires_grad=True)
    ad.gelu(x).backward()
    exact = x.grad.copy()
    x.grad = None
    ad.gelu(x, approximate="tanh").backward()
    assert abs(exact[0] - x.grad[0]) > 1e-4


def test_large_inputs_neither_overflow_nor_warn() -> None:
    x = Tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        outs = [ad.silu(x), ad.logsigmoid(x), ad.mish(x), ad.softplus(x, beta=3.0, threshold=1e4),
                ad.gelu(x), ad.elu(x), ad.selu(x), ad.celu(x, 0.5), ad.softsign(x)]  # fmt: skip
        sum(out.sum() for out in outs).backward()
    assert all(np.isfinite(out.data).all() for out in outs)
    assert np.isfinite(x.grad).all()
    np.testing.assert_allclose(ad.logsigmoid(x).data[[0, 4]], [-1000.0, 0.0])
    np.testing.assert_allclose(ad.softplus(x, beta=3.0, threshold=1e4).data[[0, 4]], [0, 1000])


def test_softplus_keeps_its_one_argument_form_and_adds_beta_and_threshold() -> None:
    xs = np.linspace(-10, 10, 21)
    np.testing.assert_allclose(Tensor(xs).softplus().data, np.log1p(np.exp(xs)), rtol=1e-14)
    assert ad.softplus is Tensor.softplus
    # beta x > threshold: x itself, exactly, with gradient 1
    x = Tensor([25.0, 3.0], requires_grad=True)
    y = ad.softplus(x, beta=2.0, threshold=8.0)
    assert y.data[0] == 25.0
    np.testing.assert_allclose(y.data[1], np.log1p(np.exp(6.0)) / 2, rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [1.0, 1 / (1 + np.exp(-6.0))], rtol=1e-15)


def test_selu_constants_keep_a_standard_normal_standard() -> None:
    z = np.random.default_rng(0).standard_normal(1_000_000)
    out = ad.selu(Tensor(z)).data
    assert abs(out.mean()) < 5e-3 and abs(out.var() - 1) < 5e-3


def test_softmin_is_softmax_of_minus_x() -> None:
    x = Tensor([[1.0, 2.0, 3.0], [0.0, -1000.0, 1000.0]])
    out = ad.softmin(x, dim=1)
    np.testing.assert_allclose(out.data.sum(axis=1), [1.0, 1.0])
    np.testing.assert_allclose(out.data, ad.softmax(-x, axis=1).data)
    np.testing.assert_allclose(ad.softmin(x, dim=0).data.sum(axis=0), [1.0, 1.0, 1.0])


def test_float32_constants_do_not_promote() -> None:
    x = Tensor(np.linspace(-4, 4, 9, dtype=np.float32), requires_grad=True)
    outs = [ad.selu(x), ad.elu(x, np.float64(0.5)), ad.softplus(x, np.float64(2.0)),
            ad.hardtanh(x, np.float64(-1.0)), ad.gelu(x)]  # fmt: skip
    assert all(out.dtype == np.float32 for out in outs)
    sum(out.sum() for out in outs).backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda x: ad.gelu(x, approximate="exact"), ValueError, "gelu: approximate must be"),
        (lambda x: ad.elu(x, alpha="1"), TypeError, "elu: alpha must be a number"),
        (lambda x: ad.celu(x, alpha=0.0), ValueError, "celu: alpha must not be 0"),
        (lambda x: ad.hardtanh(x, 1.0, -1.0), ValueError, "hardtanh: min_val 1.0 is greater"),
        (lambda x: ad.hardtanh(x, None), TypeError, "hardtanh: min_val must be a number"),
        (lambda x: ad.softplus(x, beta=0), ValueError, "softplus: beta must not be 0"),
        (lambda x: ad.softplus(x, threshold=None), TypeError, "softplus: threshold must be"),
        (lambda x: ad.softplus(x, True), TypeError, "softplus: beta must be a number"),
        (lambda x: ad.softmin(x), TypeError, "dim"),
        (lambda x: ad.softmin(x, dim=2), ValueError, "softmin: dim 2 is out of range"),
        (lambda x: ad.softmin(x, dim=0.5), TypeError, "softmin: dim must be an int"),
    ],
)
def test_bad_arguments_are_clear_errors(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make(Tensor([[1.0, 2.0]]))
