"""Convolution, pooling, padding, normalisation and embedding against PyTorch itself: values and
gradients of every operand in float64 and float32, over hypothesis-drawn problems (groups,
strides, paddings, dilations, output_padding, ceil_mode, divisors, ties and NaN for max pooling,
every padding mode). Skipped when torch is not installed."""

from __future__ import annotations

import numpy as np
import pytest
from conv_cases import conv_cases, conv_transpose_cases, pad_cases, pool_cases
from hypothesis import assume, given
from hypothesis import strategies as st

import autodiff as ad
from autodiff import Tensor
from autodiff.testing import arrays

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOLERANCE = {np.float64: (1e-10, 1e-12), np.float32: (2e-5, 2e-5)}
DTYPES = st.sampled_from([np.float64, np.float32])


def compare(ours_fn, theirs_fn, operands: list, dtype, seed: int = 0, exact: bool = False):
    """Both engines on the same operands (None stays None): values (`exact`: to the bit),
    dtype, then the gradient of every operand for one random cotangent (sums may add in
    another order: to rounding)."""
    rtol, atol = TOLERANCE[dtype]
    ours = [None if a is None else Tensor(a.astype(dtype), requires_grad=True) for a in operands]
    theirs = [
        None if a is None else torch.tensor(a.astype(dtype), requires_grad=True) for a in operands
    ]
    out, ref = ours_fn(*ours), theirs_fn(*theirs)
    assert out.shape == tuple(ref.shape) and out.dtype == dtype
    scale = max(1.0, float(np.abs(ref.detach().numpy()).max(initial=0)))
    if exact:
        np.testing.assert_array_equal(out.data, ref.detach().numpy())
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=rtol, atol=atol * scale)
    cotangent = np.random.default_rng(seed).standard_normal(out.shape).astype(dtype)
    out.backward(cotangent)
    ref.backward(torch.tensor(cotangent))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a is None:
            continue
        want = b.grad.numpy()
        scale = max(1.0, float(np.abs(want).max(initial=0)))
        assert a.grad.dtype == dtype, f"operand {i}"
        np.testing.assert_allclose(
            a.grad, want, rtol=rtol, atol=atol * scale, err_msg=f"operand {i}"
        )


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its own copy
@given(st.one_of(conv_cases(max_side=5), conv_transpose_cases()), DTYPES)
def test_convolutions_match_torch(case, dtype) -> None:
    ours = getattr(ad, case.name)
    theirs = getattr(F, case.name)
    compare(
        lambda x, w, b: ours(x, w, b, **case.kwargs),
        lambda x, w, b: theirs(x, w, b, **case.kwargs),
        [case.x, case.w, case.b],
        dtype,
    )


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("kernel, dilation", [(2, 1), (4, 1), (2, 3), (3, 2)])
def test_padding_same_with_even_spans_matches_torch(kernel, dilation) -> None:
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, kernel, kernel - 1 or 1))
    compare(
        lambda a, b: ad.conv2d(a, b, padding="same", dilation=dilation),
        lambda a, b: F.conv2d(a, b, padding="same", dilation=dilation),
        [x, w],
        np.float64,
    )


def test_depthwise_and_large_problems_match_torch() -> None:
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 8, 17, 13)), rng.standard_normal((16, 1, 3, 3)), None
    compare(
        lambda *a: ad.conv2d(*a, stride=2, padding=1, groups=8),
        lambda *a: F.conv2d(*a, stride=2, padding=1, groups=8),
        [x, w, b],
        np.float32,
    )
    # blocks of output rows: a problem large enough to take several
    x, w = rng.standard_normal((64, 16, 26, 26)), rng.standard_normal((32, 16, 3, 3))
    compare(ad.conv2d, F.conv2d, [x, w], np.float32)


@given(st.one_of(pool_cases("max"), pool_cases("max", ties=True), pool_cases("avg")), DTYPES)
def test_pooling_matches_torch(case, dtype) -> None:
    ours, theirs = getattr(ad, case.name), getattr(F, case.name)
    # max pooling picks values: exact, ties and all
    compare(
        lambda x: ours(x, **case.kwargs),
        lambda x: theirs(x, **case.kwargs),
        [case.x],
        dtype,
        exact=case.kind == "max",
    )


@given(pool_cases("max", ties=True))
def test_max_pool_indices_match_torch(case) -> None:
    _, ours = (
        ad.max_pool2d(Tensor(case.x), **case.kwargs, return_indices=True)
        if (case.dims == 2)
        else ad.max_pool1d(Tensor(case.x), **case.kwargs, return_indices=True)
    )
    theirs = getattr(F, case.name)(torch.tensor(case.x), **case.kwargs, return_indices=True)[1]
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.data, theirs.numpy())


@pytest.mark.parametrize(
    "values",
    [
        [1.0, np.nan, 3.0, np.nan, 2.0, 0.0],
        [np.nan, 1.0, 5.0, 2.0, -np.inf, -np.inf],
        [-np.inf, -np.inf, -np.inf, 1.0, np.inf, np.inf],
    ],
)
def test_max_pool_with_nan_and_infinities_matches_torch(values) -> None:
    x = np.array(values).reshape(1, 1, 6)
    for kwargs in ({"kernel_size": 2}, {"kernel_size": 3, "stride": 1, "padding": 1}):
        ours, i = ad.max_pool1d(Tensor(x, requires_grad=True), **kwargs, return_indices=True)
        theirs, j = F.max_pool1d(torch.tensor(x), **kwargs, return_indices=True)
        np.testing.assert_array_equal(ours.data, theirs.numpy())
        np.testing.assert_array_equal(i.data, j.numpy())


@given(pad_cases(), DTYPES)
def test_pad_matches_torch(case, dtype) -> None:
    x, amounts, mode = case
    compare(
        lambda t: ad.pad(t, amounts, mode),
        lambda t: F.pad(t, amounts, mode),
        [x],
        dtype,
        exact=True,
    )


@st.composite
def norm_cases(draw):
    shape = draw(st.sampled_from([(4, 3), (3, 3, 2), (2, 3, 3, 2)]))
    x = draw(arrays(shape))
    # a channel of equal values has variance ~0: x_hat is then rounding error times
    # 1 / sqrt(eps), different in every engine
    assume(x.var(axis=(0, *range(2, x.ndim))).min() > 1e-2)
    affine = draw(st.booleans())
    w, b = (draw(arrays((3,))), draw(arrays((3,)))) if affine else (None, None)
    return x, w, b, draw(st.booleans())


@given(norm_cases(), DTYPES)
def test_batch_norm_matches_torch(case, dtype) -> None:
    x, w, b, training = case
    mean, var = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.5, 3.0])
    ours_stats = [mean.astype(dtype), var.astype(dtype)]
    theirs_stats = [torch.tensor(mean.astype(dtype)), torch.tensor(var.astype(dtype))]
    compare(
        lambda *a: ad.batch_norm(a[0], *ours_stats, *a[1:], training=training, momentum=0.2),
        lambda *a: F.batch_norm(a[0], *theirs_stats, *a[1:], training=training, momentum=0.2),
        [x, w, b],
        dtype,
    )
    rtol = TOLERANCE[dtype][0]
    np.testing.assert_allclose(ours_stats[0], theirs_stats[0].numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(ours_stats[1], theirs_stats[1].numpy(), rtol=rtol, atol=rtol)


@given(
    st.sampled_from([(4, 3), (2, 3, 4), (2, 2, 3, 4)]),
    st.integers(1, 2),
    st.booleans(),
    DTYPES,
    st.data(),
)
def test_layer_norm_matches_torch(shape, k, affine, dtype, data) -> None:
    normalized = shape[-k:]
    x = data.draw(arrays(shape))
    assume(x.var(axis=tuple(range(len(shape) - k, len(shape)))).min() > 1e-2)  # as batch_norm
    w = data.draw(arrays(normalized)) if affine else None
    b = data.draw(arrays(normalized)) if affine else None
    compare(
        lambda *a: ad.layer_norm(a[0], normalized, *a[1:]),
        lambda *a: F.layer_norm(a[0], normalized, *a[1:]),
        [x, w, b],
        dtype,
    )


@given(st.sampled_from([None, 0, 3, -1]), st.booleans(), DTYPES, st.data())
def test_embedding_matches_torch(padding_idx, by_freq, dtype, data) -> None:
    indices = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=8)).copy()
    index = np.array(indices).reshape(1, -1)
    weight = data.draw(arrays((5, 3)))
    compare(
        lambda w: ad.embedding(index, w, padding_idx, scale_grad_by_freq=by_freq),
        lambda w: F.embedding(torch.tensor(index), w, padding_idx, scale_grad_by_freq=by_freq),
        [weight],
        dtype,
    )


def test_embedding_max_norm_renormalises_the_table_as_torch() -> None:
    rng = np.random.default_rng(0)
    table = rng.standard_normal((6, 4)) * 3
    mine, theirs = table.copy(), torch.tensor(table)
    index = np.array([[0, 2, 2, 5]])
    out = ad.embedding(index, Tensor(mine), max_norm=1.5, norm_type=1.0)
    ref = F.embedding(torch.tensor(index), theirs, max_norm=1.5, norm_type=1.0)
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-12)
    np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-12)
