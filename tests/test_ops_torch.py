"""The PyTorch-style ops against PyTorch itself: values and gradients of every catalogue op in
float64 and float32, the derivative at every kink and domain edge, integer results (indices,
ties, NaN), and einsum. Skipped when torch is not installed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ops_catalogue import CATALOGUE, EINSUM, Op

import autodiff as ad
from autodiff import Tensor
from autodiff.testing import arrays

torch = pytest.importorskip("torch")
F = pytest.importorskip("torch.nn.functional")

FEW = settings(max_examples=max(5, settings().max_examples // 4))
WITH_TORCH = [op for op in CATALOGUE if op.torch_fn is not None]
INF, NAN = math.inf, math.nan


def _ours_and_theirs(xs: list, dtype: type) -> tuple:
    ours = [Tensor(np.array(x, dtype=dtype), requires_grad=True) for x in xs]
    theirs = [torch.tensor(np.array(x, dtype=dtype), requires_grad=True) for x in xs]
    return ours, theirs


def _compare(ours: list, theirs: list, out: Tensor, ref, rtol: float, atol: float) -> None:
    assert out.shape == tuple(ref.shape)
    assert out.dtype == np.dtype(str(ref.dtype).replace("torch.", ""))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol)
    cotangent = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
    out.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    for i, (t, r) in enumerate(zip(ours, theirs)):
        expected = np.zeros(t.shape) if r.grad is None else r.grad.numpy()
        assert t.grad.dtype == out.dtype, f"input {i}"
        np.testing.assert_allclose(t.grad, expected, rtol=rtol, atol=atol, err_msg=f"input {i}")


@pytest.mark.parametrize("op", WITH_TORCH, ids=[op.name for op in WITH_TORCH])
@FEW
@given(data=st.data())
def test_values_and_gradients_match_torch_in_float64_and_float32(op: Op, data) -> None:
    xs = data.draw(op.inputs())
    ours, theirs = _ours_and_theirs(xs, np.float64)
    _compare(ours, theirs, op.fn(*ours), op.torch_fn(*theirs), op.torch_rtol, 1e-12)
    # float32: no subnormals, where PyTorch's x / x-style rules lose their digits
    xs = [np.where(np.abs(x) < 1e-30, 0.0, x) for x in xs]
    ours, theirs = _ours_and_theirs(xs, np.float32)
    _compare(ours, theirs, op.fn(*ours), op.torch_fn(*theirs), 2e-5, 2e-5)


# --------------------------------------------------------------------------------------------
# Kinks and domain edges: values and gradients exactly where the conventions matter
# --------------------------------------------------------------------------------------------

EDGES = [
    ("hardtanh", ad.hardtanh, F.hardtanh, [-1.0, 1.0, -1.5, 1.5, 0.0]),
    ("hardtanh range", lambda t: ad.hardtanh(t, -2.0, 0.5), lambda t: F.hardtanh(t, -2.0, 0.5),
     [-2.0, 0.5, -2.5, 1.0]),
    ("relu6", ad.relu6, F.relu6, [0.0, 6.0, -1.0, 7.0, 3.0]),
    ("hardsigmoid", ad.hardsigmoid, F.hardsigmoid, [-3.0, 3.0, -4.0, 4.0, 0.0]),
    ("hardswish", ad.hardswish, F.hardswish, [-3.0, 3.0, -4.0, 4.0, 0.0]),
    ("elu", ad.elu, F.elu, [0.0, -1.0, 1.0, -800.0]),
    ("elu alpha 2", lambda t: ad.elu(t, 2.0), lambda t: F.elu(t, 2.0), [0.0, -30.0]),
    ("selu", ad.selu, F.selu, [0.0, -1.0, 1.0]),
    ("celu", lambda t: ad.celu(t, 2.0), lambda t: F.celu(t, 2.0), [0.0, -1.0, 1.0]),
    ("softsign", ad.softsign, F.softsign, [0.0, -10.0, 10.0]),
    ("softplus at the threshold", lambda t: t.softplus(), F.softplus,
     [20.0, 20.000001, 19.999999, -800.0, 800.0]),
    ("softplus beta", lambda t: ad.softplus(t, 2.0, 10.0), lambda t: F.softplus(t, 2.0, 10.0),
     [5.0, 5.000001, -400.0]),
    ("softplus negative beta", lambda t: ad.softplus(t, -1.0), lambda t: F.softplus(t, -1.0),
     [10.0, -10.0, -25.0, 0.0]),
    # (further left, PyTorch's 1 + erf cancels towards 0; erfc keeps gelu(-10) = -7.6e-23)
    ("gelu", ad.gelu, F.gelu, [0.0, -2.0, -40.0, 40.0]),
    ("gelu tanh", lambda t: ad.gelu(t, approximate="tanh"),
     lambda t: F.gelu(t, approximate="tanh"), [0.0, -10.0, 10.0]),
    ("silu", ad.silu, F.silu, [0.0, -800.0, 800.0]),
    ("mish", ad.mish, F.mish, [0.0, -30.0, 30.0]),
    ("logsigmoid", ad.logsigmoid, F.logsigmoid, [0.0, -800.0, 800.0]),
    ("clamp", lambda t: t.clamp(-1.0, 1.0), lambda t: t.clamp(-1.0, 1.0), [-1.0, 1.0, 2.0]),
    ("asin", ad.asin, torch.asin, [1.0, -1.0, 2.0, -2.0]),
    ("acos", ad.acos, torch.acos, [1.0, -1.0, 2.0]),
    ("log2", ad.log2, torch.log2, [0.0, -1.0, INF]),
    ("log10", ad.log10, torch.log10, [0.0, -1.0]),
    ("log1p", ad.log1p, torch.log1p, [-1.0, -2.0, 1e-20]),
    ("rsqrt", ad.rsqrt, torch.rsqrt, [0.0, -1.0, INF]),
    ("exp2", ad.exp2, torch.exp2, [2000.0, -2000.0]),
    ("expm1", ad.expm1, torch.expm1, [1000.0, -1000.0, 1e-20]),
    ("sinh", ad.sinh, torch.sinh, [1000.0, -1000.0]),
    ("cosh", ad.cosh, torch.cosh, [1000.0, -1000.0]),
    ("tan", ad.tan, torch.tan, [math.pi / 2]),
    ("erf", ad.erf, torch.erf, [0.0, 30.0, -30.0, INF, -INF, 1e-300]),
    ("erfc", ad.erfc, torch.erfc, [0.0, 30.0, -30.0, 10.0, INF]),
    ("sign", ad.sign, torch.sign, [0.0, -0.0, -2.0, INF]),
    ("round", lambda t: t.round(), torch.round, [0.5, 1.5, 2.5, -0.5, -1.5]),
    ("floor", ad.floor, torch.floor, [-1.0, 1.0, -0.5]),
    ("nan", lambda t: t * 1.0, lambda t: t * 1.0, [NAN]),
]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name, ours, theirs, values", EDGES, ids=[e[0] for e in EDGES])
def test_kinks_and_domain_edges_match_torch(name, ours, theirs, values, dtype) -> None:
    x = Tensor(np.array(values, dtype=dtype), requires_grad=True)
    y = torch.tensor(np.array(values, dtype=dtype), requires_grad=True)
    with np.errstate(all="ignore"):
        out = ours(x)
        out.backward(np.ones(out.shape, dtype))
    ref = theirs(y)
    ref.backward(torch.ones_like(ref))
    rtol = 1e-7 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=1e-300)
    np.testing.assert_allclose(x.grad, y.grad.numpy(), rtol=rtol, atol=1e-300)


BINARY_EDGES = [
    ("atan2 at the origin", ad.atan2, torch.atan2, [0.0, 0.0, 1.0, -0.0], [0.0, -1.0, 0.0, -1.0]),
    ("logaddexp infinities", ad.logaddexp, torch.logaddexp,
     [-INF, INF, INF, 1000.0, -INF], [-INF, INF, 1.0, 1000.0, 0.0]),
    ("% by zero", lambda a, b: a % b, torch.remainder,
     [3.0, -3.0, 0.0, 5.5], [0.0, 0.0, 0.0, -2.0]),
    ("fmod by zero", ad.fmod, torch.fmod, [3.0, -3.0, 5.5, -5.5], [0.0, 0.0, -2.0, 2.0]),
    ("% of a quotient rounded down", lambda a, b: a % b, torch.remainder, [1.0], [0.1]),
    ("lerp at the weights' ends", lambda s, e: ad.lerp(s, e, Tensor([0.0, 0.5, 1.0, 0.49])),
     lambda s, e: torch.lerp(s, e, torch.tensor([0.0, 0.5, 1.0, 0.49], dtype=s.dtype)),
     [1e10, 1.0, -3.0, 2.0], [1.0, 1e10, 7.0, 3.0]),
]  # fmt: skip


@pytest.mark.parametrize("name, ours, theirs, a, b", BINARY_EDGES, ids=[e[0] for e in BINARY_EDGES])
def test_binary_edges_match_torch(name, ours, theirs, a, b) -> None:
    xs, ys = _ours_and_theirs([a, b], np.float64)
    with np.errstate(all="ignore"):
        out = ours(*xs)
        out.backward(np.ones(out.shape))
    ref = theirs(*ys)
    ref.backward(torch.ones_like(ref))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12)
    for x, y in zip(xs, ys):
        np.testing.assert_allclose(x.grad, y.grad.numpy(), rtol=1e-12)


def CUMPROD(t):  # noqa: N802 - reads as a constant in the table
    return t.cumprod(0)


REDUCTION_EDGES = [
    ("prod with one zero", lambda t: t.prod(), lambda t: t.prod(), [2.0, 0.0, 3.0, 5.0]),
    ("prod with two zeros", lambda t: t.prod(), lambda t: t.prod(), [2.0, 0.0, 3.0, 0.0]),
    ("prod with a zero in a row", lambda t: t.reshape(2, 3).prod(1),
     lambda t: t.reshape(2, 3).prod(1), [0.0, 2.0, 3.0, 1.0, 0.0, 0.0]),
    ("cumprod with one zero", CUMPROD, CUMPROD, [2.0, 1.0, 3.0, 0.0, 4.0]),
    ("cumprod with two zeros", CUMPROD, CUMPROD, [2.0, 0.0, 3.0, 0.0, 4.0]),
    ("cumprod starting at zero", CUMPROD, CUMPROD, [0.0, 3.0, 2.0]),
    ("std of equal values", lambda t: t.std(), lambda t: t.std(), [2.0, 2.0, 2.0]),
    ("std of a constant row", lambda t: t.reshape(2, 2).std(dim=1),
     lambda t: t.reshape(2, 2).std(dim=1), [1.0, 1.0, 1.0, 3.0]),
    ("logcumsumexp from -inf", lambda t: t.logcumsumexp(0), lambda t: t.logcumsumexp(0),
     [-INF, 0.0, 1.0]),
    ("logcumsumexp far apart", lambda t: t.logcumsumexp(0), lambda t: t.logcumsumexp(0),
     [-1000.0, 0.0, 1000.0, -1000.0]),
    ("cummax ties and nan", lambda t: t.cummax(0).values, lambda t: t.cummax(0).values,
     [1.0, 3.0, 3.0, 2.0, NAN, 5.0, NAN]),
    ("cummin ties", lambda t: t.cummin(0).values, lambda t: t.cummin(0).values,
     [3.0, 1.0, 1.0, 3.0, 0.0]),
    ("sort with nan and ties", lambda t: t.sort(descending=True).values,
     lambda t: t.sort(descending=True, stable=True).values, [2.0, 1.0, 2.0, NAN, 1.0, 0.0]),
]  # fmt: skip


@pytest.mark.parametrize("name, ours, theirs, values", REDUCTION_EDGES,
                         ids=[e[0] for e in REDUCTION_EDGES])  # fmt: skip
def test_reduction_edges_match_torch(name, ours, theirs, values) -> None:
    x = Tensor(np.array(values), requires_grad=True)
    y = torch.tensor(values, requires_grad=True, dtype=torch.float64)
    with np.errstate(all="ignore"):
        out = ours(x)
        cotangent = np.linspace(1.0, 2.0, out.size).reshape(out.shape)
        out.backward(cotangent)
    ref = theirs(y)
    ref.backward(torch.tensor(cotangent))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, y.grad.numpy(), rtol=1e-12, atol=1e-300)


def test_cumprod_second_derivatives_with_zeros_match_torch() -> None:
    values = [2.0, 0.0, 3.0, 0.0, 4.0]
    x = Tensor(np.array(values), requires_grad=True)
    y = torch.tensor(values, requires_grad=True, dtype=torch.float64)
    weights = np.linspace(1.0, 2.0, 5)
    (x.cumprod(0) * Tensor(weights)).sum().backward(create_graph=True)
    first = x.grad
    x.grad = None
    (first * Tensor(weights[::-1].copy())).sum().backward()
    (gy,) = torch.autograd.grad((y.cumprod(0) * torch.tensor(weights)).sum(), y, create_graph=True)
    (gy * torch.tensor(weights[::-1].copy())).sum().backward()
    np.testing.assert_allclose(first.data, gy.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad, y.grad.numpy(), rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Integer results: indices, ties and NaN as PyTorch
# --------------------------------------------------------------------------------------------

DATA = [[1.0, 3.0, 3.0, NAN, NAN, 0.0], [2.0, 2.0, -1.0, 5.0, 5.0, -1.0]]

INDICES = [
    ("argmax", lambda t: t.argmax(), lambda t: t.argmax()),
    ("argmax dim keepdim", lambda t: t.argmax(dim=1, keepdim=True),
     lambda t: t.argmax(dim=1, keepdim=True)),
    ("argmax none keepdim", lambda t: t.argmax(keepdim=True),
     lambda t: torch.argmax(t, dim=None, keepdim=True)),
    ("argmin dim", lambda t: t.argmin(dim=0), lambda t: t.argmin(dim=0)),
    ("argmin of a row without nan", lambda t: t[1].argmin(), lambda t: t[1].argmin()),
    ("argsort", lambda t: t.argsort(dim=1), lambda t: t.argsort(dim=1, stable=True)),
    ("argsort descending", lambda t: t.argsort(dim=1, descending=True),
     lambda t: t.argsort(dim=1, descending=True, stable=True)),
    ("sort indices", lambda t: t.sort(0).indices, lambda t: t.sort(dim=0, stable=True).indices),
    ("cummax indices", lambda t: t.cummax(1).indices, lambda t: t.cummax(1).indices),
    ("cummin indices", lambda t: t.cummin(1).indices, lambda t: t.cummin(1).indices),
    ("topk of distinct values", lambda t: t[1, 2:5].topk(2).indices,
     lambda t: t[1, 2:5].topk(2).indices),
    ("any", lambda t: (t > 2).any(dim=1), lambda t: (t > 2).any(dim=1)),
    ("all keepdim", lambda t: t.all(dim=0, keepdim=True), lambda t: t.all(dim=0, keepdim=True)),
    ("isnan", lambda t: t.isnan(), lambda t: t.isnan()),
    ("isfinite", lambda t: (t / 0.0).isfinite(), lambda t: (t / 0.0).isfinite()),
    ("isinf", lambda t: (t / 0.0).isinf(), lambda t: (t / 0.0).isinf()),
    ("nonzero", lambda t: t.nonzero(), lambda t: t.nonzero()),
    ("where condition", lambda t: ad.where(t > 1)[1], lambda t: torch.where(t > 1)[1]),
    ("one_hot", lambda t: ad.one_hot(np.array([[0, 2], [1, 1]])),
     lambda t: F.one_hot(torch.tensor([[0, 2], [1, 1]]))),
    ("one_hot classes", lambda t: ad.one_hot(np.array([1, 0]), 4),
     lambda t: F.one_hot(torch.tensor([1, 0]), 4)),
    ("floor divide", lambda t: t // 0.7, lambda t: torch.floor_divide(t, 0.7)),
    ("remainder", lambda t: t % -0.7, lambda t: torch.remainder(t, -0.7)),
    ("round decimals", lambda t: (t / 7).round(decimals=3), lambda t: (t / 7).round(decimals=3)),
]  # fmt: skip


@pytest.mark.parametrize("name, ours, theirs", INDICES, ids=[e[0] for e in INDICES])
def test_integer_and_boolean_results_match_torch(name, ours, theirs) -> None:
    with np.errstate(all="ignore"):
        out = ours(Tensor(np.array(DATA)))
    ref = theirs(torch.tensor(DATA, dtype=torch.float64))
    assert out.shape == tuple(ref.shape)
    assert out.dtype == np.dtype(str(ref.dtype).replace("torch.", ""))
    np.testing.assert_array_equal(out.data, ref.numpy())


# --------------------------------------------------------------------------------------------
# einsum
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("equation, shapes", EINSUM, ids=[e for e, _ in EINSUM])
@FEW
@given(data=st.data())
def test_einsum_matches_torch(equation: str, shapes: list, data) -> None:
    xs = [data.draw(arrays(s)) for s in shapes]
    ours, theirs = _ours_and_theirs(xs, np.float64)
    _compare(ours, theirs, ad.einsum(equation, *ours), torch.einsum(equation, *theirs),
             1e-10, 1e-12)  # fmt: skip


def test_einsum_sums_ellipsis_dims_missing_from_the_output_as_torch() -> None:
    x = np.arange(6.0).reshape(2, 3)
    ours, theirs = _ours_and_theirs([x], np.float64)
    _compare(ours, theirs, ad.einsum("...i->i", *ours), torch.einsum("...i->i", *theirs),
             1e-12, 1e-12)  # fmt: skip
