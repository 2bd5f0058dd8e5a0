"""Every loss against ``torch.nn.functional``: values and gradients (input and differentiable
targets) to rounding, over hypothesis-drawn shapes, values and options. Skipped without torch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from autodiff import (
    Tensor,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)
from autodiff.testing import arrays, positive_arrays

torch = pytest.importorskip("torch")
F = torch.nn.functional

reductions = st.sampled_from(["mean", "sum", "none"])
RTOL = {np.float64: 1e-10, np.float32: 2e-5}
ATOL = {np.float64: 1e-12, np.float32: 1e-6}


def compare(ours_fn, torch_fn, arrays_, grad_of, reduction, dtype=np.float64, seed=0):
    """Run both on the same data; compare the loss and the gradients of the inputs listed in
    `grad_of` (indices into `arrays_`) for a random cotangent."""
    ours = [
        Tensor(a, requires_grad=i in grad_of) if a.dtype.kind == "f" else a
        for i, a in enumerate(arrays_)
    ]
    theirs = [
        torch.tensor(a, requires_grad=i in grad_of) if a.dtype.kind == "f" else torch.tensor(a)
        for i, a in enumerate(arrays_)
    ]
    loss, t_loss = ours_fn(*ours), torch_fn(*theirs)
    rtol, atol = RTOL[dtype], ATOL[dtype]
    assert loss.dtype == t_loss.detach().numpy().dtype
    np.testing.assert_allclose(loss.data, t_loss.detach().numpy(), rtol=rtol, atol=atol)
    if not grad_of:
        return
    cotangent = np.random.default_rng(seed).uniform(0.5, 1.5, loss.shape).astype(dtype)
    loss.backward(cotangent)
    t_loss.backward(torch.tensor(cotangent))
    for i in grad_of:
        want = theirs[i].grad.numpy()
        scale = max(1.0, float(np.nanmax(np.abs(want)))) if want.size else 1.0
        np.testing.assert_allclose(ours[i].grad, want, rtol=rtol, atol=atol * scale)


@st.composite
def class_problem(draw, probabilities=False, dtype=np.float64, scale=1.0):
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    extra = draw(st.sampled_from([(), (), (3,), (2, 1)]))
    shape = (n, c, *extra)
    z = draw(arrays(shape, -3 * scale, 3 * scale, dtype))
    if probabilities:
        target = draw(arrays(shape, 0.0, 1.0, dtype))
    else:
        size = int(np.prod((n, *extra)))
        flat = draw(st.lists(st.integers(-1, c - 1), min_size=size, max_size=size))
        target = np.array([-100 if y < 0 else y for y in flat]).reshape((n, *extra))
    weight = draw(st.none() | positive_arrays((c,), 0.2, 2.0, dtype))
    smoothing = draw(st.sampled_from([0.0, 0.1, 0.7]))
    return z, target, weight, smoothing


@given(class_problem(), reductions)
def test_cross_entropy_with_indices_matches_torch(problem, reduction):
    z, target, weight, eps = problem
    assume(reduction != "mean" or (target != -100).any())  # torch: nan, and so are we

    def ours(a, y):
        return cross_entropy(a, y, weight, -100, reduction, eps)

    def theirs(a, y):
        w = None if weight is None else torch.tensor(weight)
        return F.cross_entropy(a, y, w, ignore_index=-100, reduction=reduction, label_smoothing=eps)

    compare(ours, theirs, [z, target], {0}, reduction)


@given(class_problem(probabilities=True), reductions)
def test_cross_entropy_with_probabilities_matches_torch(problem, reduction):
    z, target, weight, eps = problem

    def ours(a, t):
        return cross_entropy(a, t, weight, reduction=reduction, label_smoothing=eps)

    def theirs(a, t):
        w = None if weight is None else torch.tensor(weight)
        return F.cross_entropy(a, t, w, reduction=reduction, label_smoothing=eps)

    compare(ours, theirs, [z, target], {0, 1}, reduction)


@given(class_problem(dtype=np.float32, scale=1e3), reductions, st.booleans())
def test_cross_entropy_in_float32_with_large_logits_matches_torch(problem, reduction, probs):
    z, target, weight, eps = problem
    if probs:
        target = np.abs(np.sin(z)).astype(np.float32)  # some rows, not summing to 1
    else:
        assume(reduction != "mean" or (target != -100).any())

    def ours(a, y):
        return cross_entropy(a, y, weight, reduction=reduction, label_smoothing=eps)

    def theirs(a, y):
        w = None if weight is None else torch.tensor(weight)
        return F.cross_entropy(a, y, w, reduction=reduction, label_smoothing=eps)

    compare(ours, theirs, [z, target], {0}, reduction, dtype=np.float32)


@given(class_problem(), reductions)
def test_nll_loss_matches_torch(problem, reduction):
    z, target, weight, _ = problem
    assume(reduction != "mean" or (target != -100).any())
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    def theirs(a, y):
        w = None if weight is None else torch.tensor(weight)
        return F.nll_loss(a, y, w, ignore_index=-100, reduction=reduction)

    compare(
        lambda a, y: nll_loss(a, y, weight, -100, reduction), theirs, [logp, target], {0}, reduction
    )


@st.composite
def pair(draw, low=-3.0, high=3.0, dtype=np.float64):
    shape = draw(st.sampled_from([(), (1,), (4,), (2, 3), (2, 1, 3)]))
    return draw(arrays(shape, low, high, dtype)), draw(arrays(shape, 0.0, 1.0, dtype))


@given(pair(), reductions, st.sampled_from([np.float64, np.float32]))
def test_mse_and_l1_match_torch(xy, reduction, dtype):
    x, t = (a.astype(dtype) for a in xy)
    t = t * 3  # overlaps x's range
    assume(np.all(np.abs(x - t) > 1e-3))  # l1's kink
    for ours, theirs in ((mse_loss, F.mse_loss), (l1_loss, F.l1_loss)):
        compare(
            lambda a, b, f=ours: f(a, b, reduction),
            lambda a, b, f=theirs: f(a, b, reduction=reduction),
            [x, t],
            {0, 1},
            reduction,
            dtype,
        )


@given(pair(-1e3, 1e3), reductions, st.data())
def test_binary_cross_entropy_with_logits_matches_torch(xy, reduction, data):
    x, t = xy
    last = x.shape[-1:] if x.ndim else ()
    weight = data.draw(st.none() | positive_arrays(x.shape, 0.2, 2.0))
    pos_weight = data.draw(st.none() | positive_arrays(last, 0.2, 3.0))

    def ours(a, b):
        return binary_cross_entropy_with_logits(a, b, weight, reduction, pos_weight)

    def theirs(a, b):
        w = None if weight is None else torch.tensor(weight)
        p = None if pos_weight is None else torch.tensor(pos_weight)
        return F.binary_cross_entropy_with_logits(a, b, w, reduction=reduction, pos_weight=p)

    compare(ours, theirs, [x, t], {0, 1}, reduction)


@given(pair(0.0, 1.0), reductions, st.data())
def test_binary_cross_entropy_matches_torch_including_its_clamp(xy, reduction, data):
    p, t = xy
    if p.size:  # probabilities of exactly 0 and 1 hit the clamp at log = -100
        p = p.copy()
        p.flat[0] = data.draw(st.sampled_from([0.0, 1.0, p.flat[0]]))
    weight = data.draw(st.none() | positive_arrays(p.shape, 0.2, 2.0))
    # the gradient to the target is +-inf at p = 0 or 1; compare it only inside (0, 1)
    inside = bool(np.all((p > 0) & (p < 1)))

    def theirs(a, b):
        w = None if weight is None else torch.tensor(weight)
        return F.binary_cross_entropy(a, b, w, reduction=reduction)

    grad_of = {0, 1} if inside else {0}
    compare(
        lambda a, b: binary_cross_entropy(a, b, weight, reduction),
        theirs,
        [p, t],
        grad_of,
        reduction,
    )


def test_the_masked_example_matches_torch():
    z = np.array([[2.0, -math.inf, 0.5], [0.1, 0.2, -math.inf]])
    compare(
        lambda a, y: cross_entropy(a, y),
        lambda a, y: F.cross_entropy(a, y),
        [z, np.array([0, 1])],
        {0},
        "mean",
    )
    # with smoothing the masked classes get target mass: both losses are inf
    compare(
        lambda a, y: cross_entropy(a, y, label_smoothing=0.2),
        lambda a, y: F.cross_entropy(a, y, label_smoothing=0.2),
        [z, np.array([0, 1])],
        set(),
        "mean",
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_empty_batches_match_torch(reduction):
    for ours_fn, torch_fn, target in (
        (cross_entropy, F.cross_entropy, np.zeros(0, np.int64)),
        (cross_entropy, F.cross_entropy, np.zeros((0, 3))),
        (nll_loss, F.nll_loss, np.zeros(0, np.int64)),
        (mse_loss, F.mse_loss, np.zeros((0, 3))),
        (l1_loss, F.l1_loss, np.zeros((0, 3))),
        (binary_cross_entropy, F.binary_cross_entropy, np.zeros((0, 3))),
        (binary_cross_entropy_with_logits, F.binary_cross_entropy_with_logits, np.zeros((0, 3))),
    ):
        ours = ours_fn(Tensor(np.zeros((0, 3))), target, reduction=reduction)
        theirs = torch_fn(
            torch.zeros((0, 3), dtype=torch.float64), torch.tensor(target), reduction=reduction
        )
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_array_equal(ours.data, theirs.numpy())
