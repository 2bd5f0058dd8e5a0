"""nn.functional.unfold (im2col) and fold (col2im): PyTorch's layout and numbers, their
gradients against finite differences, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn.functional as F
from autodiff import Tensor
from autodiff.testing import assert_gradients_match


@st.composite
def geometries(draw):
    """(input shape, kernel, dilation, padding, stride) with at least one block."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    sides = []
    for k, d, p in zip(kernel, dilation, padding):
        span = d * (k - 1) + 1
        sides.append(draw(st.integers(max(1, span - 2 * p), span - 2 * p + 4)))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *sides)
    return shape, kernel, dilation, padding, stride


def _data(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_blocks_are_laid_out_channel_then_row_as_pytorch() -> None:
    x = Tensor(np.arange(2 * 3 * 4, dtype=float).reshape(1, 2, 3, 4))
    cols = F.unfold(x, (2, 3))
    assert cols.shape == (1, 2 * 6, 2 * 2)
    # column 1 is the block at row 0, column 1; row 6 + 4 is channel 1, offset (1, 1)
    assert cols.data[0, 6 + 4, 1] == x.data[0, 1, 1, 2]
    assert cols.data[0, 2, 3] == x.data[0, 0, 1, 3]


@given(geometries())
def test_unfold_and_fold_equal_pytorch(geometry) -> None:
    torch = pytest.importorskip("torch")
    shape, kernel, dilation, padding, stride = geometry
    x = _data(shape)
    args = dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride)
    cols = F.unfold(Tensor(x), **args)
    theirs = torch.nn.functional.unfold(torch.tensor(x), **args)
    np.testing.assert_array_equal(cols.data, theirs.numpy())  # a copy: exact
    back = F.fold(cols, shape[2:], **args)
    np.testing.assert_allclose(
        back.data, torch.nn.functional.fold(theirs, shape[2:], **args).numpy(), rtol=1e-12
    )


@given(geometries())
def test_gradients_match_finite_differences(geometry) -> None:
    shape, kernel, dilation, padding, stride = geometry
    args = dict(kernel_size=kernel, dilation=dilation, padding=padding, stride=stride)
    x = Tensor(_data(shape, 1), requires_grad=True)
    weights = _data(F.unfold(x, **args).shape, 2)  # not all ones: a transposed layout shows
    assert_gradients_match(lambda t: (F.unfold(t, **args) * weights).sum(), x)
    cols = Tensor(_data(F.unfold(x, **args).shape, 3), requires_grad=True)
    image_weights = _data(shape, 4)
    assert_gradients_match(lambda t: (F.fold(t, shape[2:], **args) * image_weights).sum(), cols)


def test_fold_of_unfold_counts_the_blocks_over_each_pixel() -> None:
    x = Tensor(np.ones((1, 1, 3, 3)))
    np.testing.assert_array_equal(
        F.fold(F.unfold(x, 2), (3, 3), 2).data[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    )


def test_one_sample_without_the_batch_dim() -> None:
    x = _data((2, 4, 4))
    cols = F.unfold(Tensor(x), 3, padding=1)
    assert cols.shape == (2 * 9, 16)
    np.testing.assert_array_equal(cols.data, F.unfold(Tensor(x[None]), 3, padding=1).data[0])
    assert F.fold(cols, (4, 4), 3, padding=1).shape == (2, 4, 4)


def test_non_finite_numbers_stay_in_their_own_slot() -> None:
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1], x[0, 0, 0, 0] = np.inf, np.nan
    cols = F.unfold(Tensor(x), 2).data[0]
    assert np.isinf(cols).sum() == 4 and np.isnan(cols).sum() == 1
    assert (cols[np.isfinite(cols)] == 0).all()


def test_float32_stays_float32() -> None:
    x = Tensor(np.ones((1, 2, 4, 4), np.float32), requires_grad=True)
    cols = F.unfold(x, 2, stride=2)
    assert cols.dtype == np.float32 and F.fold(cols, 4, 2, stride=2).dtype == np.float32
    F.fold(cols, 4, 2, stride=2).sum().backward()
    assert x.grad.dtype == np.float32


def _ones(*shape):
    return Tensor(np.ones(shape))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: F.unfold(_ones(4, 4), 2), ValueError, r"unfold: expected input .* \(4, 4\)"),
        (lambda: F.unfold(_ones(1, 1, 2, 2), 3), ValueError, "spans 3, more than"),
        (lambda: F.unfold(_ones(1, 1, 4, 4), 0), ValueError, "kernel_size must be at least 1"),
        (lambda: F.unfold(_ones(1, 1, 4, 4), 2, stride=(1, 2, 3)), TypeError,
         "stride must be an int or a pair"),
        (lambda: F.fold(_ones(1, 5, 4), (3, 3), 2), ValueError,
         r"fold: input of shape \(1, 5, 4\) does not match"),
        (lambda: F.fold(_ones(1, 4, 3), (3, 3), 2), ValueError, r"expected \(N, C \* 4, 4\)"),
        (lambda: F.fold(_ones(4), (3, 3), 2), ValueError, "fold: expected input"),
    ],
)  # fmt: skip
def test_bad_arguments_are_clear_errors(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()
