"""Losses (autodiff.tensor_ops.losses and nn.losses), without torch: values against plain-numpy
reference formulas, gradients against central differences in float64 over hypothesis-drawn
shapes, values and options, second derivatives of the smooth losses, the one-line mistakes a
rule could make, empty batches and bad input. tests/test_losses_torch.py compares with torch.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autodiff
import nn.losses as losses
from autodiff import (
    Tensor,
    Value,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
    softmax,
)
from autodiff.testing import (
    arrays,
    assert_gradients_match,
    assert_second_derivatives_match,
    positive_arrays,
)

inf, nan = math.inf, math.nan
REDUCTIONS = ("mean", "sum", "none")
reductions = st.sampled_from(REDUCTIONS)
sides = st.integers(1, 4)


def leaf(a) -> Tensor:
    return Tensor(np.array(a, dtype=float), requires_grad=True)


def grads(loss: Tensor, *leaves: Tensor, seed=None) -> list:
    for t in leaves:
        t.grad = None
    loss.backward(seed if loss.size != 1 else None)
    return [t.grad for t in leaves]


# ------------------------------------------------------------------------------------------
# Reference formulas in plain numpy (written from PyTorch's documentation, not from our code)
# ------------------------------------------------------------------------------------------


def log_softmax_ref(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def reduce_ref(rows: np.ndarray, reduction: str, divisor: float):
    if reduction == "none":
        return rows
    return rows.sum() if reduction == "sum" else rows.sum() / divisor


def cross_entropy_ref(z, target, weight=None, ignore_index=-100, reduction="mean", eps=0.0):
    logp = log_softmax_ref(z)
    n, c = z.shape
    w = np.ones(c) if weight is None else weight
    target = np.asarray(target)
    if target.dtype.kind == "f":  # probabilities
        q = (1 - eps) * target + eps / c
        return reduce_ref(-(w * q * logp).sum(axis=1), reduction, n)
    rows, kept_weight = np.zeros(n), 0.0
    for i, y in enumerate(target):
        if y == ignore_index:
            continue
        nll = -w[y] * logp[i, y]
        smooth = -(w * logp[i]).sum() / c
        rows[i] = (1 - eps) * nll + eps * smooth
        kept_weight += w[y]
    return reduce_ref(rows, reduction, kept_weight)


def nll_ref(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    n, c = logp.shape
    w = np.ones(c) if weight is None else weight
    rows = np.array(
        [0.0 if y == ignore_index else -w[y] * logp[i, y] for i, y in enumerate(target)]
    )
    kept = sum(w[y] for y in target if y != ignore_index)
    return reduce_ref(rows, reduction, kept)


def bce_logits_ref(x, t, weight=None, reduction="mean", pos_weight=None):
    p = 1.0 if pos_weight is None else pos_weight
    log_sig = -np.logaddexp(0, -x)  # log sigmoid(x)
    log_one_minus = -np.logaddexp(0, x)  # log(1 - sigmoid(x))
    terms = -(p * t * log_sig + (1 - t) * log_one_minus)
    terms = terms if weight is None else terms * weight
    return reduce_ref(terms, reduction, terms.size)


def bce_ref(p, t, weight=None, reduction="mean"):
    with np.errstate(divide="ignore"):
        terms = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))
    terms = terms if weight is None else terms * weight
    return reduce_ref(terms, reduction, terms.size)


# ------------------------------------------------------------------------------------------
# cross_entropy
# ------------------------------------------------------------------------------------------


@st.composite
def class_problems(draw, probabilities: bool = False):
    """(logits, target, weight, smoothing): indices with some ignored, or probability rows
    that need not sum to 1."""
    n, c = draw(sides), draw(st.integers(2, 4))
    z = draw(arrays((n, c)))
    if probabilities:
        target = draw(arrays((n, c), 0.0, 1.0))
    else:
        labels = draw(st.lists(st.integers(-1, c - 1), min_size=n, max_size=n))
        assume(any(y >= 0 for y in labels))  # the mean of no kept sample is nan
        target = np.array([-100 if y < 0 else y for y in labels])
    weight = draw(st.none() | positive_arrays((c,), 0.2, 2.0))
    smoothing = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    return z, target, weight, smoothing


@given(class_problems(), reductions)
def test_cross_entropy_with_class_indices(problem, reduction):
    z0, target, weight, eps = problem
    z = leaf(z0)

    def f(a):
        return cross_entropy(a, target, weight, -100, reduction, eps)

    np.testing.assert_allclose(
        f(z).data, cross_entropy_ref(z0, target, weight, -100, reduction, eps), rtol=1e-12
    )
    assert_gradients_match(f, z)
    assert_second_derivatives_match(f, z)


@given(class_problems(probabilities=True), reductions)
def test_cross_entropy_with_probability_targets_differentiates_both(problem, reduction):
    z0, t0, weight, eps = problem
    z, t = leaf(z0), leaf(t0)

    def f(a, b):
        return cross_entropy(a, b, weight=weight, reduction=reduction, label_smoothing=eps)

    want = cross_entropy_ref(z0, t0, weight, reduction=reduction, eps=eps)
    np.testing.assert_allclose(f(z, t).data, want, rtol=1e-12, atol=1e-15)
    assert_gradients_match(f, z, t)
    assert_second_derivatives_match(f, z, t)


def test_cross_entropy_gradient_does_not_assume_target_rows_sum_to_one():
    # d loss/dz = softmax(z) * sum(t) - t per row; "softmax(z) - t" is only right when sum(t) = 1
    z0 = np.array([[0.3, -1.2, 2.0], [1.0, 0.0, -0.5]])
    t0 = np.array([[0.2, 0.3, 0.1], [0.5, 0.6, 0.7]])
    z, t = leaf(z0), leaf(t0)
    loss = cross_entropy(z, t)
    loss.backward()
    p = np.exp(log_softmax_ref(z0))
    np.testing.assert_allclose(z.grad, (p * t0.sum(axis=1, keepdims=True) - t0) / 2, rtol=1e-12)
    assert not np.allclose(z.grad, (p - t0) / 2)
    np.testing.assert_allclose(t.grad, -log_softmax_ref(z0) / 2, rtol=1e-12)  # not zero
    assert_gradients_match(cross_entropy, z, t)


ONES = np.ones((3, 3))


@pytest.mark.parametrize(
    "make, divisor",
    [
        (lambda z, r: cross_entropy(z, [0, 2, 1], reduction=r), 3.0),  # samples
        (lambda z, r: cross_entropy(z, [0, 2, 1], weight=[1.0, 2.0, 3.0], reduction=r), 6.0),
        (lambda z, r: cross_entropy(z, np.eye(3)[[0, 2, 1]] * 0.5, reduction=r), 3.0),
        (lambda z, r: cross_entropy(z, [0, 2, 1], label_smoothing=0.2, reduction=r), 3.0),
        (lambda z, r: nll_loss(z, [0, 2, 1], reduction=r), 3.0),
        (lambda z, r: mse_loss(z, ONES, reduction=r), 9.0),  # elements
        (lambda z, r: l1_loss(z, ONES, reduction=r), 9.0),
        (lambda z, r: binary_cross_entropy_with_logits(z, ONES * 0.25, reduction=r), 9.0),
        (lambda z, r: binary_cross_entropy(z.sigmoid(), ONES * 0.25, reduction=r), 9.0),
    ],
)
def test_sum_reduction_gradient_is_not_divided(make, divisor):
    # "sum" is the sum of the terms: its gradient is the mean's times the divisor (samples,
    # summed weights or elements); a rule that divides by n for "sum" too fails here
    z = leaf([[0.5, -1.0, 2.0], [0.1, 0.2, -0.3], [1.5, 0.5, -2.0]])
    mean, total = make(z, "mean"), make(z, "sum")
    assert total.item() == pytest.approx(mean.item() * divisor, rel=1e-12)
    mean_grad, sum_grad = grads(mean, z)[0], grads(total, z)[0]
    np.testing.assert_allclose(sum_grad, mean_grad * divisor, rtol=1e-12)
    rows = make(z, "none")
    np.testing.assert_allclose(rows.data.sum(), total.item(), rtol=1e-12)
    assert_gradients_match(lambda a: make(a, "sum"), z)
    assert_gradients_match(lambda a: make(a, "none"), z)


def test_masked_logits_give_finite_results():
    z0 = np.array([[2.0, -inf, 0.5], [0.1, 0.2, -inf]])
    z = leaf(z0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = cross_entropy(z, [0, 1])
        loss.backward()
    assert loss.item() == pytest.approx(0.42290496902816166, rel=1e-12)  # PyTorch's number
    p0 = np.exp([2.0, 0.5]) / np.exp([2.0, 0.5]).sum()
    p1 = np.exp([0.1, 0.2]) / np.exp([0.1, 0.2]).sum()
    want = np.array([[p0[0] - 1, 0.0, p0[1]], [p1[0], p1[1] - 1, 0.0]]) / 2
    np.testing.assert_allclose(z.grad, want, rtol=1e-12)
    # probability targets that put no mass on the masked classes: finite too (0 log 0 = 0)
    onehot = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert cross_entropy(Tensor(z0), onehot).item() == pytest.approx(loss.item(), rel=1e-12)
    assert cross_entropy(Tensor(z0), [0, 1], weight=[1.0, 2.0, 1.0]).item() < inf
    # mass on a masked class costs an infinite loss, as it should
    assert cross_entropy(Tensor(z0), [1, 1]).item() == inf


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_exact_for_logits_of_a_thousand(dtype):
    z = Tensor(
        np.array([[1000.0, 0.0], [0.0, 3000.0], [1000.0, 1000.0]], dtype), requires_grad=True
    )
    loss = cross_entropy(z, [1, 1, 0], reduction="none")
    np.testing.assert_allclose(loss.data, [1000.0, 0.0, math.log(2.0)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(z.grad, [[1.0, -1.0], [0.0, 0.0], [-0.5, 0.5]], atol=1e-7)
    for target in (np.array([[0.3, 0.5], [1.0, 0.0], [0.5, 0.5]], dtype), [1, 1, 0]):
        z.grad = None
        smooth = cross_entropy(z, target, label_smoothing=0.1, weight=[1.0, 2.0])
        smooth.backward()
        assert np.isfinite(smooth.item()) and np.isfinite(z.grad).all()


def test_label_smoothing_and_ignore_index_follow_pytorch_formula():
    z0 = np.array([[0.5, -1.0, 2.0], [0.1, 0.2, -0.3], [1.5, 0.5, -2.0], [0.0, 0.3, 0.1]])
    w = np.array([1.0, 2.0, 0.5])
    target = np.array([0, 2, -100, 1])
    for eps in (0.0, 0.3):
        for reduction in REDUCTIONS:
            got = cross_entropy(Tensor(z0), target, w, -100, reduction, eps).data
            want = cross_entropy_ref(z0, target, w, -100, reduction, eps)
            np.testing.assert_allclose(got, want, rtol=1e-12)
    # the mean divides by the summed weight of the kept targets: (1 + 0.5 + 2)
    rows = cross_entropy(Tensor(z0), target, w, reduction="none").data
    assert rows[2] == 0.0
    assert cross_entropy(Tensor(z0), target, w).item() == pytest.approx(rows.sum() / 3.5)
    # ignore_index may be a real class
    got = cross_entropy(Tensor(z0), [1, 1, 0, 2], ignore_index=1).item()
    assert got == pytest.approx(cross_entropy_ref(z0, np.array([1, 1, 0, 2]), None, 1))


def test_all_targets_ignored_gives_nan_mean_and_zero_gradient_as_pytorch():
    z = leaf(np.array([[0.5, -1.0], [0.1, 0.2]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = cross_entropy(z, [-100, -100])
        loss.backward()
    assert math.isnan(loss.item())
    np.testing.assert_array_equal(z.grad, np.zeros((2, 2)))
    assert cross_entropy(z, [-100, -100], reduction="sum").item() == 0.0


def test_common_case_matches_the_general_path():
    # integer labels take a fast path; weights of 1, or one-hot rows, take the general one
    rng = np.random.default_rng(0)
    z0, labels = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    for reduction in REDUCTIONS:
        results = []
        for target, weight in ((labels, None), (labels, np.ones(4)), (np.eye(4)[labels], None)):
            z = leaf(z0)
            loss = cross_entropy(z, target, weight=weight, reduction=reduction)
            loss.backward(np.linspace(1, 2, 5) if reduction == "none" else None)
            results.append((loss.data, z.grad))
        for value, gradient in results[1:]:
            np.testing.assert_allclose(value, results[0][0], rtol=1e-13)
            np.testing.assert_allclose(gradient, results[0][1], rtol=1e-13, atol=1e-16)


def test_probability_targets_computed_from_the_same_input():
    z = leaf([[0.3, -1.2, 2.0], [1.0, 0.0, -0.5]])
    assert_gradients_match(lambda a: cross_entropy(a, softmax(a * 0.5, axis=1)), z)
    assert_second_derivatives_match(lambda a: cross_entropy(a, softmax(a * 0.5, axis=1)), z)


@given(st.data(), st.sampled_from([(2, 3, 4), (1, 2, 1, 3), (3, 2)]), reductions)
def test_cross_entropy_with_extra_dimensions_and_one_sample(data, shape, reduction):
    # (n, classes, d1, ...) is the 2-D case with the class axis moved last
    z0 = data.draw(arrays(shape))
    c = shape[1]
    size = int(np.prod(shape)) // c
    drawn = data.draw(st.lists(st.integers(0, c - 1), min_size=size, max_size=size))
    labels = np.array(drawn).reshape(shape[:1] + shape[2:])
    probs = data.draw(arrays(shape, 0.0, 1.0))
    order = (0, *range(2, len(shape)), 1)
    rows = np.transpose(z0, order).reshape(-1, c)
    for target, flat in (
        (labels, labels.reshape(-1)),
        (probs, np.transpose(probs, order).reshape(-1, c)),
    ):
        got = cross_entropy(Tensor(z0), target, reduction=reduction)
        want = cross_entropy_ref(rows, flat, reduction=reduction)
        if reduction == "none":
            assert got.shape == shape[:1] + shape[2:]
        np.testing.assert_allclose(got.data, np.reshape(want, got.shape), rtol=1e-12)
        z = leaf(z0)
        assert_gradients_match(lambda a, t=target: cross_entropy(a, t, reduction=reduction), z)
    one = leaf(z0.reshape(-1)[:3])  # one sample: (classes,) with a 0-d index
    assert cross_entropy(one, 1).shape == ()
    assert cross_entropy(one, 1).item() == pytest.approx(
        cross_entropy(one.reshape(1, 3), [1]).item()
    )
    assert cross_entropy(one, np.array(2), reduction="none").shape == ()
    assert_gradients_match(lambda a: cross_entropy(a, np.array([0.2, 0.3, 0.1])), one)


# ------------------------------------------------------------------------------------------
# nll_loss
# ------------------------------------------------------------------------------------------


@given(class_problems(), reductions)
def test_nll_loss(problem, reduction):
    z0, target, weight, _ = problem
    logp0 = log_softmax_ref(z0)
    x = leaf(logp0)

    def f(a):
        return nll_loss(a, target, weight, -100, reduction)

    np.testing.assert_allclose(
        f(x).data, nll_ref(logp0, target, weight, -100, reduction), rtol=1e-12
    )
    assert_gradients_match(f, x)
    assert_second_derivatives_match(lambda a: f(a.tanh()), x)
    # cross_entropy is nll_loss of log_softmax
    np.testing.assert_allclose(
        f(x).data, cross_entropy(Tensor(z0), target, weight, reduction=reduction).data, rtol=1e-12
    )


# ------------------------------------------------------------------------------------------
# mse_loss, l1_loss, binary cross-entropy
# ------------------------------------------------------------------------------------------

shapes_ = st.sampled_from([(), (1,), (3,), (2, 3)])


@given(st.data(), shapes_, reductions)
def test_mse_and_l1_loss(data, shape, reduction):
    x0 = data.draw(arrays(shape))
    t0 = x0 + data.draw(arrays(shape, avoid=(0.0,), gap=1e-2))  # l1's kink at x = t avoided
    x, t = leaf(x0), leaf(t0)
    diff = x0 - t0
    for fn, terms in ((mse_loss, diff**2), (l1_loss, np.abs(diff))):
        got = fn(x, t, reduction=reduction)
        np.testing.assert_allclose(got.data, reduce_ref(terms, reduction, terms.size), rtol=1e-12)
        assert_gradients_match(lambda a, b, fn=fn: fn(a, b, reduction=reduction), x, t)
    assert_second_derivatives_match(lambda a, b: mse_loss(a.tanh(), b, reduction=reduction), x, t)
    assert_gradients_match(lambda a: mse_loss(a, a * 2.0, reduction=reduction), x)  # one node twice


@st.composite
def binary_problems(draw, probabilities: bool):
    shape = draw(st.sampled_from([(3,), (2, 3), (1, 1)]))
    x = draw(arrays(shape, 0.05, 0.95) if probabilities else arrays(shape))
    t = draw(arrays(shape, 0.0, 1.0))
    weight = draw(st.none() | positive_arrays(shape[-1:], 0.2, 2.0) | positive_arrays(shape))
    pos_weight = draw(st.none() | positive_arrays(shape[-1:], 0.2, 3.0))
    return x, t, weight, pos_weight


@given(binary_problems(probabilities=False), reductions)
def test_binary_cross_entropy_with_logits(problem, reduction):
    x0, t0, weight, pos_weight = problem
    x, t = leaf(x0), leaf(t0)

    def f(a, b):
        return binary_cross_entropy_with_logits(a, b, weight, reduction, pos_weight)

    want = bce_logits_ref(x0, t0, weight, reduction, pos_weight)
    np.testing.assert_allclose(f(x, t).data, want, rtol=1e-12, atol=1e-15)
    assert_gradients_match(f, x, t)
    assert_second_derivatives_match(f, x, t)


@given(binary_problems(probabilities=True), reductions)
def test_binary_cross_entropy(problem, reduction):
    p0, t0, weight, _ = problem
    p, t = leaf(p0), leaf(t0)

    def f(a, b):
        return binary_cross_entropy(a, b, weight, reduction)

    np.testing.assert_allclose(f(p, t).data, bce_ref(p0, t0, weight, reduction), rtol=1e-12)
    assert_gradients_match(f, p, t)
    assert_second_derivatives_match(f, p, t)


def test_binary_cross_entropy_with_logits_is_stable_for_huge_logits():
    x = leaf([1e3, -1e3, 1e3, -1e3])
    t = leaf([1.0, 0.0, 0.0, 1.0])
    loss = binary_cross_entropy_with_logits(x, t, reduction="none", pos_weight=[2.0] * 4)
    np.testing.assert_allclose(loss.data, [0.0, 0.0, 1e3, 2e3])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0, -2.0])
    np.testing.assert_allclose(t.grad, [-1e3, 2e3, -1e3, 2e3])  # 2 softplus(-x) - softplus(x)


def test_binary_cross_entropy_clamps_its_logs_at_minus_100():
    p, t = leaf([0.0, 1.0, 0.0, 1.0]), leaf([1.0, 0.0, 0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = binary_cross_entropy(p, t, reduction="none")
        loss.sum().backward()
    np.testing.assert_array_equal(loss.data, [100.0, 100.0, 0.0, 0.0])
    np.testing.assert_allclose(p.grad, [-1 / np.float32(1e-12), 1 / np.float32(1e-12), 0, 0])
    np.testing.assert_array_equal(t.grad, [inf, -inf, inf, -inf])  # log(1-p) - log(p), as torch
    nan_p = binary_cross_entropy(Tensor([nan, 0.5]), Tensor([1.0, 1.0]), reduction="none")
    assert math.isnan(nan_p.data[0]) and nan_p.data[1] == pytest.approx(math.log(2))


# ------------------------------------------------------------------------------------------
# Every loss: empty batches, float32, a second backward, bad input
# ------------------------------------------------------------------------------------------

EVERY_LOSS = {
    "cross_entropy": lambda x, r: cross_entropy(x, np.zeros(len(x), int), reduction=r),
    "cross_entropy probs": lambda x, r: cross_entropy(
        x, np.full(x.shape, 0.5, x.dtype), reduction=r
    ),
    "nll_loss": lambda x, r: nll_loss(x, np.zeros(len(x), int), reduction=r),
    "mse_loss": lambda x, r: mse_loss(x, np.full(x.shape, 0.5, x.dtype), reduction=r),
    "l1_loss": lambda x, r: l1_loss(x, np.full(x.shape, 0.5, x.dtype), reduction=r),
    "bce_with_logits": lambda x, r: binary_cross_entropy_with_logits(
        x, np.full(x.shape, 0.5, x.dtype), reduction=r
    ),
    "bce": lambda x, r: binary_cross_entropy(
        x.sigmoid(), np.full(x.shape, 0.5, x.dtype), reduction=r
    ),
}


@pytest.mark.parametrize("name", sorted(EVERY_LOSS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_batches_follow_pytorch(name, reduction):
    x = Tensor(np.zeros((0, 3)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ZeroDivisionError, no numpy warning
        loss = EVERY_LOSS[name](x, reduction)
        loss.sum().backward()
    assert x.grad.shape == (0, 3)
    if reduction == "mean":
        assert loss.shape == () and math.isnan(loss.item())
    elif reduction == "sum":
        assert loss.item() == 0.0
    else:
        assert loss.size == 0


@pytest.mark.parametrize("name", sorted(EVERY_LOSS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_stays_float32_and_a_second_backward_accumulates(name, reduction):
    x = Tensor(np.array([[0.5, -1.0, 2.0], [0.1, 0.2, -0.3]], np.float32), requires_grad=True)
    loss = EVERY_LOSS[name](x, reduction)
    assert loss.dtype == np.float32
    seed = np.ones(loss.shape, np.float32)
    loss.backward(seed, retain_graph=True)
    first = x.grad.copy()
    assert first.dtype == np.float32
    loss.backward(seed)  # the rule must not have changed what the forward pass saved
    np.testing.assert_allclose(x.grad, 2 * first, rtol=1e-6)


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: mse_loss(Tensor([1.0]), [1.0], reduction="avg"), ValueError,
         ["mse_loss", "'mean', 'sum' or 'none'", "'avg'"]),
        (lambda: cross_entropy(Tensor(np.ones((2, 2))), [0, 1], reduction=None), ValueError,
         ["cross_entropy", "reduction", "None"]),
        (lambda: l1_loss(Tensor([1.0, 2.0]), [1.0]), ValueError, ["l1_loss", "(2,)", "(1,)"]),
        (lambda: binary_cross_entropy_with_logits(Tensor([1.0]), [1.0, 0.0]), ValueError,
         ["binary_cross_entropy_with_logits", "(1,)", "(2,)"]),
        (lambda: binary_cross_entropy(Tensor([1.5]), [1.0]), ValueError,
         ["binary_cross_entropy", "[0, 1]", "1.5"]),
        (lambda: binary_cross_entropy_with_logits(Tensor(np.ones((2, 3))), np.ones((2, 3)),
                                                  pos_weight=[1.0, 2.0]), ValueError,
         ["pos_weight", "(2,)", "(2, 3)"]),
        (lambda: cross_entropy(Tensor(np.ones((2, 3))), [0, 3]), ValueError,
         ["cross_entropy", "target 3", "[0, 3)", "ignore_index=-100"]),
        (lambda: cross_entropy(Tensor(np.ones((2, 3))), [0, -1]), ValueError, ["target -1"]),
        (lambda: cross_entropy(Tensor(np.ones((2, 3))), np.ones((2, 2))), ValueError,
         ["cross_entropy", "(2,)", "(2, 3)", "(2, 2)"]),
        (lambda: cross_entropy(Tensor(np.ones((2, 3))), [0, 1], weight=[1.0, 2.0]), ValueError,
         ["cross_entropy", "weight", "(2,)", "(3,)"]),
        (lambda: cross_entropy(Tensor(np.ones((2, 3))), [0, 1], label_smoothing=1.5), ValueError,
         ["cross_entropy", "label_smoothing", "1.5"]),
        (lambda: cross_entropy(Tensor(np.ones((2, 3, 4))), np.zeros((2, 3), int)), ValueError,
         ["cross_entropy", "(2, 3)", "(2, 4)", "(2, 3, 4)"]),
        (lambda: cross_entropy(Tensor(1.0), [0]), ValueError, ["cross_entropy", "0-d"]),
        (lambda: cross_entropy(Tensor(np.ones((2, 0))), [0, 0]), ValueError,
         ["cross_entropy", "no classes"]),
        (lambda: cross_entropy(Tensor(np.ones((2, 3), int)), [0, 1]), TypeError,
         ["cross_entropy", "floating point", "int"]),
        (lambda: cross_entropy(Tensor(np.ones((2, 3))), [0, 1], ignore_index=0.5), TypeError,
         ["cross_entropy", "ignore_index", "0.5"]),
        (lambda: nll_loss(Tensor(np.ones((2, 3))), np.ones((2, 3))), ValueError,
         ["nll_loss", "class indices", "float64"]),
        (lambda: nll_loss(Tensor(np.ones((2, 3))), [0]), ValueError, ["nll_loss", "(2,)", "(1,)"]),
        (lambda: mse_loss("x", [1.0]), TypeError, ["mse_loss", "str"]),
    ],
)  # fmt: skip
def test_bad_input_names_the_op_and_what_was_expected(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_the_losses_are_exported_by_autodiff_and_nn_losses():
    for name in ("cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits"):  # fmt: skip
        assert getattr(losses, name) is getattr(autodiff, name)


# ------------------------------------------------------------------------------------------
# nn.losses: the scalar forms on lists of Values and on Tensors
# ------------------------------------------------------------------------------------------


def test_scalar_forms_on_values_match_micrograd_to_the_last_digit():
    micrograd = pytest.importorskip("micrograd.engine")
    xs = [0.3, -1.7, 2.2, 0.05]
    labels = [1, -1, -1, 1]
    ours = [Value(x) for x in xs]
    theirs = [micrograd.Value(x) for x in xs]
    for fn, args in (
        (losses.hinge_loss, (labels,)),
        (losses.squared_error, ([0.5, -1.0, 1.0, 0.0],)),
        (lambda ps, alpha: losses.l2_penalty(ps, alpha), (1e-4,)),
    ):
        a, b = fn(ours, *args), fn(theirs, *args)
        assert a.data == b.data
        for v in ours:
            v.grad = 0.0
        for v in theirs:
            v.grad = 0.0
        a.backward()
        b.backward()
        assert [v.grad for v in ours] == [v.grad for v in theirs]


@given(st.lists(st.floats(-3, 3), min_size=1, max_size=5), st.data(), reductions)
def test_squared_error_and_hinge_loss_on_tensors_match_the_value_forms(xs, data, reduction):
    n = len(xs)
    targets = data.draw(st.lists(st.floats(-3, 3), min_size=n, max_size=n))
    labels = data.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n))
    assume(all(abs(1 - y * x) > 1e-3 for x, y in zip(xs, labels)))  # hinge's kink
    for fn, second in ((losses.squared_error, targets), (losses.hinge_loss, labels)):
        values = [Value(x) for x in xs]
        on_values = fn(values, second, reduction=reduction)
        t = leaf(xs)
        array = np.array(second)
        on_tensor = fn(t, array, reduction=reduction)
        if reduction == "none":
            np.testing.assert_allclose(on_tensor.data, [v.data for v in on_values], rtol=1e-12)
            total, on_tensor = Value.sum(on_values), on_tensor.sum()
        else:
            total = on_values
            np.testing.assert_allclose(on_tensor.item(), on_values.data, rtol=1e-12, atol=1e-15)
        total.backward()
        on_tensor.backward()
        np.testing.assert_allclose(t.grad, [v.grad for v in values], rtol=1e-12, atol=1e-15)
        assert_gradients_match(
            lambda a, fn=fn, y=array: fn(a, y, reduction=reduction).sum(), leaf(xs)
        )


def test_squared_error_is_the_articles_half_sum_and_its_reductions():
    outputs, targets = [Value(1.0), Value(3.0)], [0.0, 1.0]
    assert losses.squared_error(outputs, targets).data == 0.5 * (1 + 4)
    assert losses.squared_error(outputs, targets, reduction="mean").data == 0.5 * (1 + 4) / 2
    assert [e.data for e in losses.squared_error(outputs, targets, reduction="none")] == [0.5, 2.0]
    y, r = leaf([1.0, 3.0]), leaf([0.0, 1.0])
    e = losses.squared_error(y, r)
    assert e.item() == 2.5
    e.backward()
    np.testing.assert_array_equal(y.grad, [1.0, 2.0])  # dE/dy = y - r
    np.testing.assert_array_equal(r.grad, [-1.0, -2.0])


def test_l2_penalty_on_tensors_values_and_a_single_tensor():
    w, b = leaf([[1.0, -2.0], [0.5, 0.0]]), leaf([3.0])
    penalty = losses.l2_penalty([w, b], 0.1)
    assert penalty.item() == pytest.approx(0.1 * (1 + 4 + 0.25 + 9))
    penalty.backward()
    np.testing.assert_allclose(w.grad, 0.2 * w.data)
    np.testing.assert_allclose(b.grad, 0.2 * b.data)
    assert losses.l2_penalty(w, 2.0).item() == pytest.approx(2.0 * 5.25)
    assert losses.l2_penalty([Value(2.0), Value(-1.0)], 0.5).data == 2.5
    with pytest.raises(ValueError, match="l2_penalty: alpha must be >= 0"):
        losses.l2_penalty([w], -1.0)


def test_binary_accuracy_counts_nan_scores_as_misses():
    assert losses.binary_accuracy([Value(nan), Value(1.0)], [-1, 1]) == 0.5
    assert losses.binary_accuracy(Tensor([nan, 1.0, -2.0]), Tensor([-1.0, 1.0, 1.0])) == 1 / 3
    with pytest.raises(ValueError, match="binary_accuracy: scores have shape"):
        losses.binary_accuracy(Tensor([1.0]), [1, -1])


@pytest.mark.parametrize(
    "make, words",
    [
        (
            lambda: losses.squared_error(Tensor([1.0]), Tensor([1.0, 2.0])),
            ["squared_error", "(1,)", "(2,)"],
        ),
        (lambda: losses.hinge_loss([Value(1.0)], [1], reduction="all"), ["hinge_loss", "'all'"]),
        (
            lambda: losses.squared_error([Value(1.0)], [1.0, 2.0]),
            ["squared_error", "1 outputs", "2 targets"],
        ),
    ],
)
def test_nn_losses_bad_input(make, words):
    with pytest.raises(ValueError) as info:
        make()
    for word in words:
        assert word in str(info.value)
