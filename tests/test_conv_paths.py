"""The ways a convolution's backward pass can run, each against PyTorch: every subset of
operands needing a gradient (a first layer's input needs none, and its weight's gradient is
then taken image by image from a batch-first g), g given batch-first (a user's array) or
batch-last (from the next op), a leaf or an intermediate input, blocks of rows and of images
(forced small), and sizes whose contiguous runs are long but not a multiple of 16. Skipped
when torch is not installed."""

from __future__ import annotations

import numpy as np
import pytest
from conv_cases import ConvCase, conv_cases
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
from autodiff import Tensor
from autodiff.tensor_ops import conv

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _run(case, needs: tuple, dtype=np.float64, through_relu: bool = False, seed: int = 0):
    """Both engines on `case` with requires_grad as in `needs` (x, w, b); the gradients of the
    operands that need one, ours then PyTorch's (None for the others)."""
    arrays = [case.x, case.w, case.b]
    ours = [None if a is None else Tensor(a.astype(dtype), requires_grad=n)
            for a, n in zip(arrays, needs)]  # fmt: skip
    theirs = [None if a is None else torch.tensor(a.astype(dtype), requires_grad=n)
              for a, n in zip(arrays, needs)]  # fmt: skip
    name = case.name
    out = getattr(ad, name)(*ours, **case.kwargs)
    ref = getattr(F, name)(*theirs, **case.kwargs)
    if through_relu:  # g then reaches the convolution from another op, batch-last
        out, ref = out.relu(), torch.relu(ref)
    cotangent = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(cotangent)  # a user's array: batch-first
    ref.backward(torch.tensor(cotangent))
    pairs = []
    for a, b in zip(ours, theirs):
        if a is None:
            continue
        pairs.append((a.grad, None if b.grad is None else b.grad.numpy()))
    return pairs


def _check(pairs, dtype=np.float64) -> None:
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else (2e-5, 2e-5)
    for i, (mine, want) in enumerate(pairs):
        if want is None:
            assert mine is None, f"operand {i} needs no gradient"
            continue
        scale = max(1.0, float(np.abs(np.nan_to_num(want)).max(initial=0)))
        assert mine.dtype == dtype and mine.shape == want.shape, f"operand {i}"
        np.testing.assert_allclose(mine, want, rtol=rtol, atol=atol * scale,
                                   err_msg=f"operand {i}")  # fmt: skip


NEEDS = st.tuples(st.booleans(), st.booleans(), st.booleans()).filter(any)


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its own copy
@given(conv_cases(max_side=5), NEEDS, st.booleans())
def test_every_subset_of_operands_gets_pytorchs_gradients(case, needs, through_relu) -> None:
    if case.b is None and not any(needs[:2]):
        needs = (False, True, False)
    _check(_run(case, needs, through_relu=through_relu))


@pytest.mark.parametrize("block_bytes", [1, 5000, 1 << 23])
@pytest.mark.parametrize("needs", [(False, True, True), (True, True, True), (True, False, False)])
@pytest.mark.parametrize("through_relu", [False, True])
def test_blocks_of_rows_and_of_images_add_up(monkeypatch, block_bytes, needs, through_relu):
    # one row (or one image) per block, a few, or all at once: a block that overwrote the
    # total instead of adding to it, or skipped the last partial block, would be caught here
    monkeypatch.setattr(conv, "_BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(3)
    for kwargs, shapes in (
        ({}, ((7, 1, 9, 8), (4, 1, 3, 3))),  # a first layer: by image when x needs nothing
        ({"padding": 1, "stride": (2, 1)}, ((5, 3, 8, 7), (4, 3, 3, 2))),
        ({"groups": 2, "dilation": 2}, ((3, 4, 9, 9), (6, 2, 2, 3))),
    ):
        x, w = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
        case = ConvCase(2, x, w, rng.standard_normal(shapes[1][0]), kwargs)
        _check(_run(case, needs, through_relu=through_relu))


@pytest.mark.parametrize("needs", [(False, True, True), (True, True, False)])
def test_long_runs_of_odd_length_in_float32(needs) -> None:
    # rows of 21 positions times 17 images: contiguous runs of 357 floats, which the col2im
    # adds and the bias add walk with numpy's buffer shortened to a multiple of 16
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((17, 3, 20, 21)), rng.standard_normal((5, 3, 3, 3))
    case = ConvCase(2, x, w, rng.standard_normal(5), {"padding": 1})
    before = np.getbufsize()
    _check(_run(case, needs, dtype=np.float32), dtype=np.float32)
    assert np.getbufsize() == before  # numpy's setting is restored


def test_a_leafs_input_gradient_is_its_own_contiguous_array_and_accumulates() -> None:
    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((6, 2, 7, 7)), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    g = rng.standard_normal((6, 3, 5, 5))
    ad.conv2d(x, w).backward(g)
    first = x.grad
    assert first.flags.c_contiguous and first.base is None
    tx = torch.tensor(x.data, requires_grad=True)
    F.conv2d(tx, torch.tensor(w.data)).backward(torch.tensor(g))
    np.testing.assert_allclose(first, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    kept = first.copy()
    ad.conv2d(x, w).backward(g)  # a second call adds to it
    np.testing.assert_allclose(x.grad, 2 * kept, rtol=1e-12)


def test_an_intermediate_input_passes_its_gradient_on() -> None:
    # x = 3 * a is no leaf: its gradient stays batch-last and flows back to a
    rng = np.random.default_rng(6)
    a = Tensor(rng.standard_normal((4, 2, 6, 6)), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    g = rng.standard_normal((4, 3, 4, 4))
    ad.conv2d(a * 3.0, w, padding=0).backward(g)
    ta = torch.tensor(a.data, requires_grad=True)
    F.conv2d(ta * 3.0, torch.tensor(w.data)).backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_nan_in_a_first_layers_input_reaches_the_weights_it_meets() -> None:
    # by image: a NaN pixel makes NaN exactly the weights whose windows saw it, as PyTorch
    x = np.random.default_rng(7).standard_normal((3, 1, 6, 6))
    x[1, 0, 0, 0] = np.nan  # a corner: only kernel position (0, 0) reads it
    w = np.random.default_rng(8).standard_normal((2, 1, 3, 3))
    case = ConvCase(2, x, w, None)
    (_, none), (mine, want) = _run(case, (False, True, False))
    assert none is None
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(want))
    assert np.isnan(mine[:, 0, 0, 0]).all() and not np.isnan(mine[:, 0, 1:, :]).any()


def test_backward_runs_the_shared_rule_once_per_convolution(monkeypatch) -> None:
    # the per-operand rules stay a tuple for drawings, but backward must call them as one
    # (else g is transposed once per product, and a first layer never goes image by image)
    calls = []
    shared = conv.conv_grads
    monkeypatch.setattr(conv, "conv_grads", lambda *a: calls.append(1) or shared(*a))
    x = Tensor(np.ones((2, 3, 5, 5)), requires_grad=True)
    w = Tensor(np.ones((4, 3, 3, 3)), requires_grad=True)
    v = Tensor(np.ones((2, 4, 3, 3)), requires_grad=True)
    ad.conv2d(ad.conv2d(x, w, padding=1).relu(), v).sum().backward()
    assert len(calls) == 2  # one per convolution node
    assert isinstance(ad.tensor.VJP_RULES["conv2d"], tuple)  # and one rule per operand
