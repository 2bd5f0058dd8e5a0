"""Numbers behave as PyTorch's: NaN propagates, overflow gives inf, powers follow PyTorch's
conventions at 0, inf and nan, softmax and friends stay exact for huge logits, empty
reductions give what torch gives, and gradcheck never leaves an input nudged.

Each special-value table below is the stated expectation; where torch is installed, a test
checks the table itself against torch. Where `Value` deliberately raises (log of a
non-positive number, division by zero, a negative base with a non-integer or Value exponent)
torch returns inf or nan instead: the tables say so, and the torch check confirms it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
from autodiff import (
    DivisionByZeroError,
    DomainError,
    Tensor,
    Value,
    grad,
    gradcheck,
    log_softmax,
    logsumexp,
    softmax,
)
from autodiff.testing import arrays, assert_second_derivatives_match

nan, inf = math.nan, math.inf


def same(a: float, b: float) -> bool:
    """Equal as numbers, with nan equal to nan (and 0.0 to -0.0)."""
    return (math.isnan(a) and math.isnan(b)) or a == b


def close(a: float, b: float) -> bool:
    return same(a, b) or math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)


def torch_or_skip():
    return pytest.importorskip("torch")


def _torch():
    import torch

    return torch


# ------------------------------------------------------------------------------------------
# Value: every op on nan, +-inf and 0, value and gradient
# ------------------------------------------------------------------------------------------

SPECIAL = (nan, inf, -inf, 0.0)

# name -> (our op on a Value, torch's op on a tensor)
UNARY = {
    "neg": (lambda x: -x, lambda t: -t),
    "exp": (lambda x: x.exp(), lambda t: t.exp()),
    "log": (lambda x: x.log(), lambda t: t.log()),
    "tanh": (lambda x: x.tanh(), lambda t: t.tanh()),
    "sigmoid": (lambda x: x.sigmoid(), lambda t: t.sigmoid()),
    "relu": (lambda x: x.relu(), lambda t: t.relu()),
    "leaky_relu": (lambda x: x.leaky_relu(0.01), lambda t: _torch().nn.functional.leaky_relu(t)),
    "x**3": (lambda x: x**3, lambda t: t**3),
    "x**0": (lambda x: x**0, lambda t: t**0),
    "x**-1": (lambda x: x**-1, lambda t: t**-1),
    "x**0.5": (lambda x: x**0.5, lambda t: t**0.5),
    "x+1": (lambda x: x + 1, lambda t: t + 1),
    "1-x": (lambda x: 1 - x, lambda t: 1 - t),
    "x*2": (lambda x: x * 2, lambda t: t * 2),
    "x/2": (lambda x: x / 2, lambda t: t / 2),
    "2/x": (lambda x: 2 / x, lambda t: 2 / t),
    "2**x": (lambda x: 2**x, lambda t: 2.0**t),
    "sum": (lambda x: Value.sum([x, x, 1.0]), lambda t: t + t + 1),
    "dot": (lambda x: Value.dot([x, Value(2.0)], [3.0, x], Value(1.0)), lambda t: 5 * t + 1),
}

# name -> (value, gradient) at nan, inf, -inf, 0; an exception class where Value refuses
UNARY_EXPECTED = {
    "neg": [(nan, -1.0), (-inf, -1.0), (inf, -1.0), (0.0, -1.0)],
    "exp": [(nan, nan), (inf, inf), (0.0, 0.0), (1.0, 1.0)],
    "log": [(nan, nan), (inf, 0.0), DomainError, DomainError],  # torch: nan, -inf
    "tanh": [(nan, nan), (1.0, 0.0), (-1.0, 0.0), (0.0, 1.0)],
    "sigmoid": [(nan, nan), (1.0, 0.0), (0.0, 0.0), (0.5, 0.25)],
    "relu": [(nan, 1.0), (inf, 1.0), (0.0, 0.0), (0.0, 0.0)],
    "leaky_relu": [(nan, 0.01), (inf, 1.0), (-inf, 0.01), (0.0, 0.01)],
    "x**3": [(nan, nan), (inf, inf), (-inf, inf), (0.0, 0.0)],
    "x**0": [(1.0, 0.0)] * 4,
    "x**-1": [(nan, nan), (0.0, 0.0), (0.0, 0.0), DivisionByZeroError],  # torch: inf
    "x**0.5": [(nan, nan), (inf, 0.0), DomainError, (0.0, inf)],  # torch: nan
    "x+1": [(nan, 1.0), (inf, 1.0), (-inf, 1.0), (1.0, 1.0)],
    "1-x": [(nan, -1.0), (-inf, -1.0), (inf, -1.0), (1.0, -1.0)],
    "x*2": [(nan, 2.0), (inf, 2.0), (-inf, 2.0), (0.0, 2.0)],
    "x/2": [(nan, 0.5), (inf, 0.5), (-inf, 0.5), (0.0, 0.5)],
    "2/x": [(nan, nan), (0.0, 0.0), (0.0, 0.0), DivisionByZeroError],  # torch: inf
    "2**x": [(nan, nan), (inf, inf), (0.0, 0.0), (1.0, math.log(2.0))],
    "sum": [(nan, 2.0), (inf, 2.0), (-inf, 2.0), (1.0, 2.0)],
    "dot": [(nan, 5.0), (inf, 5.0), (-inf, 5.0), (1.0, 5.0)],
}

# (a, b) -> (a ** b, d/da, d/db) for a Value exponent
POW_EXPECTED = {
    **{(nan, b): (nan, nan, nan) for b in (nan, inf, -inf, 2.0)},
    (nan, 1.0): (nan, 1.0, nan),
    (nan, 0.0): (1.0, 0.0, nan),
    (inf, nan): (nan, nan, nan),
    (inf, inf): (inf, inf, inf),
    (inf, -inf): (0.0, nan, nan),
    (inf, 2.0): (inf, inf, inf),
    (inf, 1.0): (inf, 1.0, inf),
    (inf, 0.0): (1.0, 0.0, inf),
    **{(-inf, b): DomainError for b in (nan, inf, -inf, 2.0, 1.0, 0.0)},  # torch: nan d/db
    (2.0, nan): (nan, nan, nan),
    (2.0, inf): (inf, inf, inf),
    (2.0, -inf): (0.0, nan, 0.0),
    (2.0, 2.0): (4.0, 4.0, 4.0 * math.log(2.0)),
    (2.0, 1.0): (2.0, 1.0, 2.0 * math.log(2.0)),
    (2.0, 0.0): (1.0, 0.0, math.log(2.0)),
    (1.0, nan): (1.0, nan, 0.0),
    (1.0, inf): (1.0, inf, 0.0),
    (1.0, -inf): (1.0, -inf, 0.0),
    (1.0, 2.0): (1.0, 2.0, 0.0),
    (1.0, 1.0): (1.0, 1.0, 0.0),
    (1.0, 0.0): (1.0, 0.0, 0.0),
    (0.0, nan): (nan, nan, nan),
    (0.0, inf): (0.0, nan, 0.0),
    (0.0, -inf): DivisionByZeroError,  # torch: inf, with gradients -inf
    (0.0, 2.0): (0.0, 0.0, 0.0),
    (0.0, 1.0): (0.0, 1.0, 0.0),
    (0.0, 0.0): (1.0, 0.0, 0.0),
}

BINARY_SPECIAL = (nan, inf, -inf, 2.0, 0.0)


def binary_expected(op: str, a: float, b: float):
    """IEEE arithmetic and the textbook partials (the tables of torch agree, see below)."""
    if op == "+":
        return (a + b, 1.0, 1.0)
    if op == "-":
        return (a - b, 1.0, -1.0)
    if op == "*":
        return (a * b, b, a)
    if b == 0:  # "/": Value refuses; torch gives +-inf or nan
        return DivisionByZeroError
    return (a / b, 1.0 / b, -(a / b) / b)


BINARY = {
    "+": (lambda x, y: x + y),
    "-": (lambda x, y: x - y),
    "*": (lambda x, y: x * y),
    "/": (lambda x, y: x / y),
    "pow": (lambda x, y: x**y),
}


def value_and_grads(f, *numbers):
    """f's value and gradients, after checking that the partial-derivative rules that
    ``create_graph`` runs on Values give the same gradients as the forward pass's numbers."""
    xs = [Value(n) for n in numbers]
    out = f(*xs)
    out.backward()
    graph_xs = [Value(n) for n in numbers]
    f(*graph_xs).backward(create_graph=True)
    for x, graph_x in zip(xs, graph_xs):
        assert same(float(graph_x.grad), x.grad), (numbers, x.grad, graph_x.grad)
    return (out.data, *(x.grad for x in xs))


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("index", range(len(SPECIAL)))
def test_value_unary_ops_on_special_numbers(name, index):
    x = SPECIAL[index]
    expected = UNARY_EXPECTED[name][index]
    f = UNARY[name][0]
    if isinstance(expected, type):
        with pytest.raises(expected):
            value_and_grads(f, x)
        return
    got = value_and_grads(f, x)
    assert all(same(g, e) for g, e in zip(got, expected)), (name, x, got, expected)


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("a", BINARY_SPECIAL + (1.0,))
@pytest.mark.parametrize("b", BINARY_SPECIAL + (1.0,))
def test_value_binary_ops_on_special_numbers(op, a, b):
    expected = POW_EXPECTED[(a, b)] if op == "pow" else binary_expected(op, a, b)
    if isinstance(expected, type):
        with pytest.raises(expected):
            value_and_grads(BINARY[op], a, b)
        return
    got = value_and_grads(BINARY[op], a, b)
    assert all(close(g, e) for g, e in zip(got, expected)), (op, a, b, got, expected)


def _torch_grads(f, *numbers):
    torch = torch_or_skip()
    ts = [torch.tensor(n, dtype=torch.float64, requires_grad=True) for n in numbers]
    out = f(*ts)
    out.backward()
    return (out.item(), *(t.grad.item() for t in ts))


def test_the_unary_table_is_torchs():
    torch_or_skip()
    for name, (_, torch_f) in UNARY.items():
        for x, expected in zip(SPECIAL, UNARY_EXPECTED[name]):
            theirs = _torch_grads(torch_f, x)
            if isinstance(expected, type):  # Value refuses where torch returns inf or nan
                assert any(math.isinf(v) or math.isnan(v) for v in theirs), (name, x, theirs)
            else:
                assert all(close(t, e) for t, e in zip(theirs, expected)), (name, x, theirs)


def test_the_binary_tables_are_torchs():
    torch_or_skip()
    torch_ops = {**BINARY, "pow": lambda x, y: x**y}
    for op, f in torch_ops.items():
        for a in BINARY_SPECIAL + (1.0,):
            for b in BINARY_SPECIAL + (1.0,):
                expected = POW_EXPECTED[(a, b)] if op == "pow" else binary_expected(op, a, b)
                theirs = _torch_grads(f, a, b)
                if isinstance(expected, type):
                    assert any(math.isinf(v) or math.isnan(v) for v in theirs), (op, a, b)
                else:
                    assert all(close(t, e) for t, e in zip(theirs, expected)), (op, a, b, theirs)


# ------------------------------------------------------------------------------------------
# Value: overflow gives inf, never OverflowError
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, value, slopes",
    [
        (lambda x: x**3, 1e200, (inf, inf)),
        (lambda x: x**3, -1e200, (-inf, inf)),
        (lambda x: x**0, 5e-324, (1.0, 0.0)),
        (lambda x: x**-1, 5e-324, (inf, -inf)),
        (lambda x: x**-1, -5e-324, (-inf, -inf)),
        (lambda x: x**-2, -5e-324, (inf, inf)),
        (lambda x: 2**x, 2000.0, (inf, inf)),
        (lambda x: 0.5**x, -2000.0, (inf, -inf)),
        (lambda x: x ** Value(3.0), 1e200, (inf, inf)),
        (lambda x: x.exp(), 1000.0, (inf, inf)),
    ],
)
def test_overflow_gives_inf_like_pytorch(make, value, slopes):
    x = Value(value)
    out = make(x)
    out.backward()
    assert (out.data, x.grad) == slopes


def test_a_value_exponent_overflowing_gives_inf_for_both_partials():
    a, b = Value(2.0), Value(2000.0)
    out = a**b
    out.backward()
    assert (out.data, a.grad, b.grad) == (inf, inf, inf)


def test_the_functional_api_and_create_graph_overflow_to_inf_too():
    assert grad(lambda x: x**3)(1e200) == inf
    assert grad(grad(lambda x: x**3))(1e200) == pytest.approx(6e200)
    assert grad(lambda x: 2**x)(2000.0) == inf
    x = Value(1e200)
    (x**3).backward(create_graph=True)
    first = x.grad
    assert isinstance(first, Value) and first.data == inf
    x.grad = 0.0
    first.backward()
    assert x.grad == pytest.approx(6e200)
    y = Value(5e-324)
    (y**0).backward(create_graph=True)
    assert float(y.grad) == 0.0


def test_second_derivatives_of_a_power_at_zero_exponent_keep_the_mixed_term():
    # d/da a**b = b a**(b-1) is 0 at b = 0; its derivative in b there is 1/a, not 0
    def f(a, b):
        return a**b

    h = [[None, None], [None, None]]
    for i in range(2):
        a, b = Value(2.0), Value(0.0)
        out = f(a, b)
        out.backward(create_graph=True)
        first = (a.grad, b.grad)[i]
        a.grad = b.grad = 0.0
        first.backward()
        h[i] = [a.grad, b.grad]
    assert h[0][1] == pytest.approx(0.5)  # d2/da db at (2, 0) = 1/a
    assert h[1][0] == pytest.approx(0.5)
    assert h[1][1] == pytest.approx(math.log(2.0) ** 2)


def test_a_nan_input_to_an_mlp_gives_a_nan_output():
    for activation in ("relu", "tanh", "sigmoid", "leaky_relu"):
        model = nn.MLP(2, [4, 4, 1], activation=activation, seed=0)
        assert math.isnan(model([nan, 1.0]).data), activation


@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_tensor_activations_at_special_numbers_agree_with_value_and_torch(name):
    """relu passes the gradient through a nan (PyTorch's `x <= 0 ? 0 : g`), as Value.relu does;
    0 and -0.0 get 0."""
    points = [nan, inf, -inf, 0.0, -0.0, 2.0, -2.0]
    x = Tensor(np.array(points), requires_grad=True)
    UNARY[name][0](x).sum().backward()
    for i, p in enumerate(points):
        v = Value(p)
        UNARY[name][0](v).backward()
        assert x.grad[i] == v.grad, (name, p)
    expected = {"relu": [1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                "leaky_relu": [0.01, 1.0, 0.01, 0.01, 0.01, 1.0, 0.01]}[name]  # fmt: skip
    np.testing.assert_array_equal(x.grad, expected)


# ------------------------------------------------------------------------------------------
# Tensor powers: PyTorch's gradients at 0, inf, nan and negative bases
# ------------------------------------------------------------------------------------------

BASES = np.array([0.0, 0.5, 2.0, -2.0, -0.5, inf, nan])
EXPONENTS = np.array([0.0, 0.5, 1.0, 2.0, 3.0, -1.0, -0.5, 2.5, inf, -inf, nan])


def tensor_pow_grads(a0, b0):
    a, b = Tensor(a0.copy(), requires_grad=True), Tensor(b0.copy(), requires_grad=True)
    with np.errstate(all="ignore"):  # the forward pass is numpy's: 0 ** -1 warns there
        out = a**b
    out.sum().backward()
    return out.data, a.grad, b.grad


def assert_same_arrays(ours, theirs, rtol=1e-12, atol=0.0):
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    both_nan = np.isnan(ours) & np.isnan(theirs)
    with np.errstate(invalid="ignore"):
        ok = both_nan | (ours == theirs) | np.isclose(ours, theirs, rtol=rtol, atol=atol)
    assert ok.all(), f"differ at {np.argwhere(~ok).ravel()}: {ours[~ok]} vs {theirs[~ok]}"


def test_tensor_pow_gradients_at_special_points():
    # stated expectations, with or without torch
    a0, b0 = np.array([0.0, 0.0, 0.0, -2.0, 2.0, nan]), np.array([0.0, -1.0, 2.0, 0.5, 0.0, 0.0])
    out, ga, gb = tensor_pow_grads(a0, b0)
    assert_same_arrays(out, [1.0, inf, 0.0, nan, 1.0, 1.0])
    assert_same_arrays(ga, [0.0, -inf, 0.0, nan, 0.0, 0.0])  # d/da at a = b = 0 is 0
    assert_same_arrays(gb, [0.0, -inf, 0.0, nan, math.log(2.0), nan])  # 0**-1: -inf, not nan
    x = Tensor(np.array([0.0, -1.0, inf, nan]), requires_grad=True)
    (x**0).sum().backward()
    assert_same_arrays(x.grad, [0.0, 0.0, 0.0, 0.0])  # d/dx x**0 is 0 everywhere


def test_tensor_pow_gradients_match_torch_on_a_grid_of_special_values():
    torch = torch_or_skip()
    A, B = (m.ravel() for m in np.meshgrid(BASES, EXPONENTS))
    out, ga, gb = tensor_pow_grads(A, B)
    ta = torch.tensor(A, requires_grad=True)
    tb = torch.tensor(B, requires_grad=True)
    t_out = ta**tb
    t_out.sum().backward()
    assert_same_arrays(out, t_out.detach().numpy())
    assert_same_arrays(ga, ta.grad.numpy())
    assert_same_arrays(gb, tb.grad.numpy())


@pytest.mark.parametrize("c", [0, 0.5, 1, 2, 3, -1, -0.5, 2.5, -2])
def test_tensor_pow_with_a_constant_exponent_matches_torch(c):
    torch = torch_or_skip()
    finite = BASES[np.isfinite(BASES) | np.isnan(BASES)]  # (-inf) ** 0.5 is numpy's inf
    x = Tensor(finite.copy(), requires_grad=True)
    with np.errstate(all="ignore"):
        out = x**c
    out.sum().backward()
    tx = torch.tensor(finite, requires_grad=True)
    (tx**c).sum().backward()
    assert_same_arrays(out.data, (torch.tensor(finite) ** c).numpy())
    assert_same_arrays(x.grad, tx.grad.numpy())


def _hessian_diagonal_blocks(a0, b0):
    """d2 sum(a**b) / (da da), (da db), (db db), elementwise, by create_graph."""
    rows = []
    for wrt in (0, 1):
        a, b = Tensor(a0.copy(), requires_grad=True), Tensor(b0.copy(), requires_grad=True)
        (a**b).sum().backward(create_graph=True)
        first = (a.grad, b.grad)[wrt]
        a.grad = b.grad = None
        first.sum().backward()
        rows.append((a.grad, b.grad))
    return rows


def test_tensor_pow_second_derivatives_match_torch_where_finite():
    torch = torch_or_skip()
    A, B = (m.ravel() for m in np.meshgrid([0.5, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 2.5, -1.0]))
    ours = _hessian_diagonal_blocks(A, B)
    for wrt in (0, 1):
        ta, tb = torch.tensor(A, requires_grad=True), torch.tensor(B, requires_grad=True)
        first = torch.autograd.grad((ta**tb).sum(), (ta, tb), create_graph=True)[wrt]
        second = torch.autograd.grad(first.sum(), (ta, tb))
        for got, want in zip(ours[wrt], second):
            # at b = 0 torch's mask (d/da = 0 wherever b = 0) also zeroes the mixed second
            # derivative, which is 1/a there: ours keeps it (see the next test)
            keep = B != 0
            np.testing.assert_allclose(got[keep], want.numpy()[keep], rtol=1e-10)


def test_tensor_pow_second_derivative_at_zero_exponent_keeps_the_mixed_term():
    a0, b0 = np.array([2.0, 4.0]), np.array([0.0, 0.0])
    (_, d_ab), (d_ba, _) = _hessian_diagonal_blocks(a0, b0)
    np.testing.assert_allclose(d_ab, 1 / a0)
    np.testing.assert_allclose(d_ba, 1 / a0)
    assert_second_derivatives_match(
        lambda a, b: (a**b).sum(), Tensor(a0, requires_grad=True), Tensor(b0, requires_grad=True)
    )


# ------------------------------------------------------------------------------------------
# softmax, log_softmax, logsumexp: exact for huge logits, nan for rows of -inf
# ------------------------------------------------------------------------------------------


def softmax_family(x0, axis=-1):
    """Values of softmax, log_softmax, logsumexp and their gradients for a fixed cotangent."""
    out = {}
    for name, f in (("softmax", softmax), ("log_softmax", log_softmax), ("logsumexp", logsumexp)):
        x = Tensor(x0.copy(), requires_grad=True)
        y = f(x, axis=axis)
        weights = np.arange(1, y.data.size + 1, dtype=x0.dtype).reshape(y.shape)
        y.backward(weights)
        out[name] = (y.data, x.grad)
    return out


def test_softmax_of_huge_equal_logits_is_exact():
    for dtype in (np.float32, np.float64):
        got = softmax_family(np.array([1e8, 1e8], dtype))
        np.testing.assert_array_equal(got["softmax"][0], [0.5, 0.5])
        np.testing.assert_array_equal(got["logsumexp"][1], [0.5, 0.5])
    got = softmax_family(np.array([1e17, 1e17, 0.0]))
    np.testing.assert_array_equal(got["softmax"][0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(got["log_softmax"][0][:2], -math.log(2.0), rtol=1e-15)
    np.testing.assert_array_equal(got["logsumexp"][1], [0.5, 0.5, 0.0])


@given(
    st.lists(st.integers(-3, 3), min_size=1, max_size=5),
    st.sampled_from([1e-3, 1.0, 1e4, 1e8, 1e17]),
    st.sampled_from([np.float32, np.float64]),
)
def test_softmax_is_exact_for_logits_of_any_size(ks, scale, dtype):
    # logits scale * k: the softmax is known exactly when scale is huge, and softmax is the
    # same for k and k - max(k) at any scale
    x0 = (np.array(ks, float) * scale).astype(dtype)
    got = softmax_family(x0)
    shifted = softmax_family((np.array(ks, float) - max(ks)) * scale)  # float64 reference
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for name in ("softmax", "log_softmax"):
        np.testing.assert_allclose(got[name][0], shifted[name][0], rtol=tol, atol=tol)
        np.testing.assert_allclose(got[name][1], shifted[name][1], rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(got["logsumexp"][1], shifted["logsumexp"][1], rtol=tol, atol=tol)
    np.testing.assert_allclose(got["softmax"][0].sum(), 1.0, rtol=tol)
    if scale >= 1e4:  # exp(-1e4) is 0: the maxima share 1 equally
        top = np.array(ks) == max(ks)
        np.testing.assert_allclose(got["softmax"][0], top / top.sum(), rtol=tol)


def test_masked_logits_and_rows_of_only_minus_inf():
    x0 = np.array([[2.0, -inf, 0.5], [-inf, -inf, -inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nan as torch gives it, without numpy's warnings
        got = softmax_family(x0, axis=1)
    p = np.exp([2.0, 0.5]) / np.exp([2.0, 0.5]).sum()
    np.testing.assert_allclose(got["softmax"][0][0], [p[0], 0.0, p[1]])
    assert got["log_softmax"][0][0, 1] == -inf
    assert np.isnan(got["softmax"][0][1]).all() and np.isnan(got["log_softmax"][0][1]).all()
    assert got["logsumexp"][0][1] == -inf and np.isnan(got["logsumexp"][1][1]).all()
    assert np.isfinite(got["softmax"][1][0]).all() and np.isfinite(got["log_softmax"][1][0]).all()


LOGIT_ROWS = [
    [1e-3, 2e-3, -1e-3],
    [1.0, 2.0, 3.0],
    [1e4, 1e4 + 1, 1e4 - 2],
    [1e8, 1e8, -1e8],
    [1e17, 1e17, 0.0],
    [2.0, -inf, 0.5],
    [-inf, -inf, -inf],
    [inf, 1.0, 0.0],
    [nan, 1.0, 0.0],
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_matches_torch(dtype):
    torch = torch_or_skip()
    x0 = np.array(LOGIT_ROWS, dtype)
    got = softmax_family(x0, axis=1)
    funcs = {
        "softmax": lambda t: torch.softmax(t, 1),
        "log_softmax": lambda t: torch.log_softmax(t, 1),
        "logsumexp": lambda t: torch.logsumexp(t, 1),
    }
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for name, f in funcs.items():
        t = torch.tensor(x0, requires_grad=True)
        y = f(t)
        weights = torch.arange(1, y.numel() + 1, dtype=y.dtype).reshape(y.shape)
        (y * weights).sum().backward()
        assert_same_arrays(got[name][0], y.detach().numpy(), rtol=tol)
        theirs = t.grad.numpy()
        if name == "logsumexp":
            # torch's gradient exp(x - logsumexp(x)) loses digits for huge x (1e17 + log 2 is
            # 1e17: [1, 1, 0] for [0.5, 0.5, 0]); the exact one is softmax(x), which torch
            # computes exactly, except where softmax is nan and the gradient is not ([inf, ...])
            exact = (torch.softmax(t.detach(), 1) * weights[:, None]).numpy()
            theirs = np.where(np.isnan(exact) & ~np.isnan(theirs), theirs, exact)
        assert_same_arrays(got[name][1], theirs, rtol=tol * 10, atol=tol)


# ------------------------------------------------------------------------------------------
# Empty tensors: reductions and softmax follow PyTorch (no ZeroDivisionError, no warnings)
# ------------------------------------------------------------------------------------------

EMPTY_CASES = [((0,), 0), ((0,), None), ((0, 3), 1), ((0, 3), 0), ((3, 0), 1), ((3, 0), 0)]
REDUCTIONS = {
    "sum": lambda t, ax: t.sum(axis=ax),
    "mean": lambda t, ax: t.mean(axis=ax),
    "logsumexp": lambda t, ax: logsumexp(t, axis=ax),
    "softmax": lambda t, ax: softmax(t, axis=0 if ax is None else ax),
    "log_softmax": lambda t, ax: log_softmax(t, axis=0 if ax is None else ax),
    "max": lambda t, ax: t.max(axis=ax),
    "min": lambda t, ax: t.min(axis=ax),
    "var": lambda t, ax: t.var(axis=ax),
}
# what reducing an axis of size 0 gives (reducing other axes gives an empty result)
OF_NOTHING = {"sum": 0.0, "mean": nan, "logsumexp": -inf}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("shape, axis", EMPTY_CASES)
def test_empty_reductions(name, shape, axis):
    x = Tensor(np.zeros(shape), requires_grad=True)
    reduces_nothing = axis is None or shape[axis] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        if name in ("max", "min", "var") and reduces_nothing:
            with pytest.raises(ValueError, match=name):
                REDUCTIONS[name](x, axis)
            return
        out = REDUCTIONS[name](x, axis)
        out.sum().backward()
    assert x.grad.shape == shape
    if name in OF_NOTHING and reduces_nothing:
        assert out.size > 0 or shape == (0,)
        assert_same_arrays(out.data, np.full(out.shape, OF_NOTHING[name]))
    else:
        assert out.size == 0


@pytest.mark.parametrize("name", ["sum", "mean", "logsumexp", "softmax", "log_softmax"])
@pytest.mark.parametrize("shape, axis", EMPTY_CASES)
def test_empty_reductions_match_torch(name, shape, axis):
    torch = torch_or_skip()
    ours = REDUCTIONS[name](Tensor(np.zeros(shape)), axis)
    t = torch.zeros(shape, dtype=torch.float64)
    dim = tuple(range(len(shape))) if axis is None else axis
    theirs = {
        "sum": lambda: t.sum(dim),
        "mean": lambda: t.mean(dim),
        "logsumexp": lambda: torch.logsumexp(t, dim),
        "softmax": lambda: torch.softmax(t, 0 if axis is None else axis),
        "log_softmax": lambda: torch.log_softmax(t, 0 if axis is None else axis),
    }[name]()
    assert ours.shape == tuple(theirs.shape)
    assert_same_arrays(ours.data, theirs.numpy())


# ------------------------------------------------------------------------------------------
# gradcheck restores its inputs even when f raises
# ------------------------------------------------------------------------------------------


def test_gradcheck_restores_inputs_when_f_raises():
    calls = {"n": 0}

    def fails_on_the_second_call(x):
        calls["n"] += 1
        if calls["n"] >= 2:  # the first call is the forward pass; the next nudges x
            raise RuntimeError("boom")
        return (x * x).sum()

    x0 = np.array([0.25, -1.5, 3.0])
    x = Tensor(x0.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="boom"):
        gradcheck(fails_on_the_second_call, x)
    np.testing.assert_array_equal(x.data, x0)

    calls["n"] = 0
    v = Value(0.75)
    with pytest.raises(RuntimeError, match="boom"):
        gradcheck(lambda a: a * a if fails_on_the_second_call(Tensor([1.0])) else a, v)
    assert v.data == 0.75


def test_gradcheck_restores_inputs_when_f_raises_between_the_two_nudges():
    calls = {"n": 0}

    def fails_on_minus(x):
        calls["n"] += 1
        if calls["n"] == 3:  # forward, x + eps, then x - eps raises
            raise ValueError("minus")
        return x * x

    v = Value(2.0)
    with pytest.raises(ValueError, match="minus"):
        gradcheck(fails_on_minus, v)
    assert v.data == 2.0


@given(arrays((2, 2)))
def test_gradcheck_second_order_restores_inputs_when_f_raises(x0):
    calls = {"n": 0}

    def f(x):
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("late")
        return (x * x * x).sum()

    x = Tensor(x0.copy(), requires_grad=True)
    with pytest.raises(RuntimeError, match="late"):
        gradcheck(f, x, order=2)
    np.testing.assert_array_equal(x.data, x0)
