"""Convolution, pooling and padding: gradients against central differences over hypothesis-drawn
shapes, strides, paddings, dilations and groups, second derivatives, the structure a wrong rule
would break (cross-correlation, not convolution; the transposed convolution as conv's adjoint;
the first maximum on ties), float32, NaN, and clear errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conv_cases import conv_cases, conv_transpose_cases, pad_cases, pool_cases
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
from autodiff import Tensor
from autodiff.drawing import edge_formula
from autodiff.testing import arrays, assert_gradients_match, assert_second_derivatives_match

FEW = settings(max_examples=max(5, settings().max_examples // 4))
FUNCTIONS = {
    "conv1d": ad.conv1d,
    "conv2d": ad.conv2d,
    "conv_transpose1d": ad.conv_transpose1d,
    "conv_transpose2d": ad.conv_transpose2d,
    "max_pool1d": ad.max_pool1d,
    "max_pool2d": ad.max_pool2d,
    "avg_pool1d": ad.avg_pool1d,
    "avg_pool2d": ad.avg_pool2d,
}


def _leaves(case) -> list:
    xs = [case.x, case.w] + ([] if case.b is None else [case.b])
    return [Tensor(a, requires_grad=True) for a in xs]


def _loss(fn, kwargs: dict, target: np.ndarray):
    """A nonlinear scalar of the op's output, so first and second derivatives both matter."""

    def loss(*operands):
        out = fn(*operands, **kwargs)
        return ((out - target) ** 2).sum()

    return loss


def _target(case, fn) -> np.ndarray:
    b = None if case.b is None else Tensor(case.b)
    shape = fn(Tensor(case.x), Tensor(case.w), b, **case.kwargs).shape
    return np.random.default_rng(0).standard_normal(shape)


# --------------------------------------------------------------------------------------------
# Gradients and second derivatives
# --------------------------------------------------------------------------------------------


@given(conv_cases())
def test_conv_gradients_match_finite_differences(case) -> None:
    fn = FUNCTIONS[case.name]
    assert_gradients_match(_loss(fn, case.kwargs, _target(case, fn)), *_leaves(case))


@given(conv_transpose_cases())
def test_conv_transpose_gradients_match_finite_differences(case) -> None:
    fn = FUNCTIONS[case.name]
    assert_gradients_match(_loss(fn, case.kwargs, _target(case, fn)), *_leaves(case))


@FEW
@given(st.one_of(conv_cases(), conv_transpose_cases()))
def test_conv_second_derivatives_match_finite_differences(case) -> None:
    # the gradient of the gradient runs all three maps: conv, conv_transpose and conv_weight
    fn = FUNCTIONS[case.name]
    assert_second_derivatives_match(_loss(fn, case.kwargs, _target(case, fn)), *_leaves(case))


def test_third_derivative_through_the_weight_gradient_op() -> None:
    # d/dx of (d loss/dw . v): differentiates the conv2d_weight node made by the first backward
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((2, 2, 4, 4)), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2, 2, 2)), requires_grad=True)
    v = rng.standard_normal(w.shape)

    def directional(x_, w_):
        loss = lambda a, b: (ad.conv2d(a, b, stride=2, padding=1) ** 3).sum()  # noqa: E731
        return (ad.grad(loss, argnums=1)(x_, w_) * v).sum()

    assert_second_derivatives_match(directional, x, w)


def test_an_input_used_twice_gets_both_gradients() -> None:
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((1, 2, 5, 5)), requires_grad=True)
    w = Tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    assert_gradients_match(
        lambda a, b: (ad.conv2d(a, b, padding=1) * ad.conv2d(a, b)[..., :1, :1]).sum(), x, w
    )
    y = ad.conv2d(x, w)
    (y + y).sum().backward()
    once = x.grad.copy()
    x.grad = None
    y = ad.conv2d(x, w)
    y.sum().backward()
    np.testing.assert_allclose(once, 2 * x.grad)


# --------------------------------------------------------------------------------------------
# The structure a one-line mistake would break
# --------------------------------------------------------------------------------------------


def test_conv_is_cross_correlation_and_its_gradients_by_hand() -> None:
    # y[i] = x[i] * w[0] + x[i + 1] * w[1]: a kernel applied flipped would give 2, 5, 8
    x = Tensor([[[1.0, 2.0, 3.0, 4.0]]], requires_grad=True)
    w = Tensor([[[1.0, 10.0]]], requires_grad=True)
    y = ad.conv1d(x, w)
    np.testing.assert_array_equal(y.data, [[[21.0, 32.0, 43.0]]])
    y.backward(np.array([[[1.0, 0.0, 2.0]]]))
    np.testing.assert_array_equal(x.grad, [[[1.0, 10.0, 2.0, 20.0]]])  # g spread by w, not flipped
    np.testing.assert_array_equal(w.grad, [[[1.0 + 6.0, 2.0 + 8.0]]])  # sum of g[i] x[i + k]


@given(st.one_of(conv_cases(), conv_transpose_cases()), st.integers(0, 2**32 - 1))
def test_conv_transpose_is_the_adjoint_of_conv(case, seed) -> None:
    # <conv(x, w), g> = <x, conv_transpose(g, w)>: fails for a misplaced stride, dilation,
    # padding or group; both public functions on the same geometry
    kwargs = dict(case.kwargs)
    if case.transposed:  # read the case backwards: its output is conv's input
        g, w = case.x, case.w
        y = ad.conv_transpose2d if case.dims == 2 else ad.conv_transpose1d
        x = np.random.default_rng(seed).standard_normal(y(Tensor(g), Tensor(w), **kwargs).shape)
        conv = ad.conv2d if case.dims == 2 else ad.conv1d
        extra = kwargs.pop("output_padding")
        del extra
        forward = conv(Tensor(x), Tensor(w), **kwargs).data
        # output_padding adds rows no input reaches: conv sees a few more positions than g has
        forward = forward[(Ellipsis, *(slice(0, n) for n in g.shape[-case.dims :]))]
        back = y(Tensor(g), Tensor(w), **case.kwargs).data
        assert math.isclose((forward * g).sum(), (x * back).sum(), rel_tol=1e-9, abs_tol=1e-9)
        return
    if case.kwargs["padding"] == "same" and any(
        d * (k - 1) % 2 for k, d in zip(case.w.shape[2:], _pair(case.kwargs["dilation"], case.dims))
    ):
        return  # asymmetric padding has no conv_transpose counterpart
    conv = ad.conv2d if case.dims == 2 else ad.conv1d
    out = conv(Tensor(case.x), Tensor(case.w), **kwargs)
    g = np.random.default_rng(seed).standard_normal(out.shape)
    x = Tensor(case.x, requires_grad=True)
    conv(x, Tensor(case.w), **kwargs).backward(g)
    assert math.isclose((out.data * g).sum(), (case.x * x.grad).sum(), rel_tol=1e-9, abs_tol=1e-9)


def _pair(value, dims: int) -> tuple:
    return (value,) * dims if isinstance(value, int) else tuple(value)


def test_transposed_conv_places_the_stride_on_the_output_by_hand() -> None:
    # each input element stamps the kernel at stride 2: [1, 1, 1+2, 2, 2] (overlap adds)
    y = ad.conv_transpose1d(Tensor([[[1.0, 2.0]]]), Tensor([[[1.0, 1.0, 1.0]]]), stride=2)
    np.testing.assert_array_equal(y.data, [[[1.0, 1.0, 3.0, 2.0, 2.0]]])
    # stride (2, 1) on (rows, cols): rows spread apart, columns overlap
    x = Tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    y = ad.conv_transpose2d(x, Tensor(np.ones((1, 1, 1, 2))), stride=(2, 1))
    np.testing.assert_array_equal(y.data[0, 0], [[1, 3, 2], [0, 0, 0], [3, 7, 4]])


def test_conv_results_have_pytorch_values_for_groups_by_hand() -> None:
    # groups=2: output channel 0 sees input channel 0 only, output channel 1 channel 1 only
    x = Tensor(np.array([[[1.0, 2.0], [10.0, 20.0]]]))
    w = Tensor(np.array([[[1.0]], [[2.0]]]))
    np.testing.assert_array_equal(ad.conv1d(x, w, groups=2).data, [[[1.0, 2.0], [20.0, 40.0]]])


@given(st.data())
def test_unbatched_input_is_a_batch_of_one(data) -> None:
    case = data.draw(st.one_of(conv_cases(), conv_transpose_cases()))
    fn = FUNCTIONS[case.name]
    x = case.x if case.x.ndim == case.dims + 1 else case.x[0]
    b = None if case.b is None else Tensor(case.b)
    single = fn(Tensor(x), Tensor(case.w), b, **case.kwargs)
    batch = fn(Tensor(x[None]), Tensor(case.w), b, **case.kwargs)
    np.testing.assert_array_equal(single.data, batch.data[0])


@pytest.mark.parametrize("name", ["conv2d", "conv_transpose2d"])
def test_float32_stays_float32(name: str) -> None:
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((2, 4, 5, 5)).astype(np.float32), requires_grad=True)
    w = Tensor(rng.standard_normal((4, 2, 3, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(np.zeros(4 if name == "conv2d" else 4, np.float32), requires_grad=True)
    y = FUNCTIONS[name](x, w, b, stride=2, padding=1, groups=2)
    pooled = ad.max_pool2d(y, 2, ceil_mode=True) + ad.avg_pool2d(y, 2, ceil_mode=True)
    padded = ad.pad(pooled, (1, 1, 1, 1), mode="reflect")
    assert y.dtype == pooled.dtype == padded.dtype == np.float32
    padded.sum().backward()
    assert x.grad.dtype == w.grad.dtype == b.grad.dtype == np.float32


def test_nan_reaches_exactly_the_outputs_that_see_it() -> None:
    x = np.zeros((1, 1, 5, 5))
    x[0, 0, 0, 0] = np.nan
    y = ad.conv2d(Tensor(x), Tensor(np.ones((1, 1, 2, 2))))
    assert np.isnan(y.data[0, 0, 0, 0]) and np.isnan(y.data).sum() == 1
    assert np.isnan(ad.max_pool2d(Tensor(x), 2).data[0, 0, 0, 0])
    assert np.isnan(ad.avg_pool2d(Tensor(x), 2).data).sum() == 1


def test_large_values_overflow_to_inf_not_an_error() -> None:
    x = Tensor(np.full((1, 1, 2, 2), 1e308))
    with np.errstate(over="ignore"):  # numpy's matmul warns, as for `@`
        assert np.isinf(ad.conv2d(x, Tensor(np.ones((1, 1, 2, 2)))).data).all()


def test_edge_formulas_read_as_the_adjoints() -> None:
    x = Tensor(np.ones((1, 1, 3, 3)), label="x")
    w = Tensor(np.ones((1, 1, 2, 2)), requires_grad=True, label="w")
    y = ad.conv2d(x, w)
    assert (edge_formula(y, 0), edge_formula(y, 1)) == ("conv_transpose(·, w)", "x windows")
    assert edge_formula(ad.max_pool2d(w, 1), 0) == "1 at each window's max"


# --------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------


@given(st.one_of(pool_cases("max"), pool_cases("avg")))
def test_pool_gradients_match_finite_differences(case) -> None:
    fn = FUNCTIONS[case.name]
    target = np.random.default_rng(0).standard_normal(fn(Tensor(case.x), **case.kwargs).shape)
    assert_gradients_match(_loss(fn, case.kwargs, target), Tensor(case.x, requires_grad=True))


@FEW
@given(st.one_of(pool_cases("max"), pool_cases("avg")))
def test_pool_second_derivatives_match_finite_differences(case) -> None:
    fn = FUNCTIONS[case.name]
    target = np.random.default_rng(0).standard_normal(fn(Tensor(case.x), **case.kwargs).shape)
    x = Tensor(case.x, requires_grad=True)
    assert_second_derivatives_match(_loss(fn, case.kwargs, target), x)


def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order() -> None:
    x = Tensor(
        np.array([[[[1.0, 3.0, 3.0], [3.0, 3.0, 0.0], [1.0, 1.0, 1.0]]]]), requires_grad=True
    )
    out, indices = ad.max_pool2d(x, 2, stride=1, return_indices=True)
    np.testing.assert_array_equal(indices.data[0, 0], [[1, 1], [3, 4]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[0, 2, 0], [1, 1, 0], [0, 0, 0]])


def test_max_pool_nan_and_minus_infinity_as_pytorch() -> None:
    # the last NaN of a window wins; a window of -inf picks its first element inside the input
    out, indices = ad.max_pool1d(Tensor([[[1.0, np.nan, 3.0, np.nan]]]), 4, return_indices=True)
    assert np.isnan(out.data).all() and indices.data.item() == 3
    x = Tensor(np.full((1, 1, 3, 3), -np.inf), requires_grad=True)
    out, indices = ad.max_pool2d(x, 3, stride=1, padding=1, return_indices=True)
    np.testing.assert_array_equal(indices.data[0, 0], [[0, 0, 1], [0, 0, 1], [3, 3, 4]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad[0, 0], [[4, 2, 0], [2, 1, 0], [0, 0, 0]])


def test_max_pool_gradient_of_an_infinite_gradient_stays_where_it_goes() -> None:
    x = Tensor(np.array([[[1.0, 2.0, 4.0, 3.0]]]), requires_grad=True)
    ad.max_pool1d(x, 2).backward(np.array([[[np.inf, 1.0]]]))
    np.testing.assert_array_equal(x.grad, [[[0.0, np.inf, 1.0, 0.0]]])  # no NaN from inf * 0


def test_avg_pool_divisors_by_hand() -> None:
    x = Tensor(np.arange(1.0, 6.0).reshape(1, 1, 5), requires_grad=True)
    # windows [pad, 1, 2], [2, 3, 4], [4, 5, pad] with padding counted (3) or not (2)
    np.testing.assert_allclose(ad.avg_pool1d(x, 3, 2, padding=1).data, [[[1.0, 3.0, 3.0]]])
    np.testing.assert_allclose(
        ad.avg_pool1d(x, 3, 2, 1, count_include_pad=False).data, [[[1.5, 3.0, 4.5]]]
    )
    y = ad.avg_pool2d(Tensor(np.ones((1, 1, 2, 2))), 2, divisor_override=3)
    np.testing.assert_allclose(y.data, [[[[4 / 3]]]])
    ad.avg_pool1d(x, 3, 2, 1, count_include_pad=False).sum().backward()
    np.testing.assert_allclose(x.grad, [[[1 / 2, 1 / 2 + 1 / 3, 1 / 3, 1 / 3 + 1 / 2, 1 / 2]]])


def test_ceil_mode_keeps_the_last_partial_window() -> None:
    x = Tensor(np.arange(5.0).reshape(1, 1, 5))
    assert ad.max_pool1d(x, 2).shape == (1, 1, 2)
    np.testing.assert_array_equal(ad.max_pool1d(x, 2, ceil_mode=True).data, [[[1.0, 3.0, 4.0]]])


# --------------------------------------------------------------------------------------------
# pad
# --------------------------------------------------------------------------------------------


@given(pad_cases())
def test_pad_gradients_match_finite_differences(case) -> None:
    x, amounts, mode = case
    target = np.random.default_rng(0).standard_normal(ad.pad(Tensor(x), amounts, mode).shape)
    f = _loss(lambda t: ad.pad(t, amounts, mode), {}, target)
    assert_gradients_match(f, Tensor(x, requires_grad=True))


@FEW
@given(pad_cases())
def test_pad_second_derivatives_match_finite_differences(case) -> None:
    x, amounts, mode = case
    f = lambda t: (ad.pad(t, amounts, mode) ** 3).sum()  # noqa: E731
    assert_second_derivatives_match(f, Tensor(x, requires_grad=True))


@pytest.mark.parametrize(
    "mode, amounts, expected, grad",
    [
        ("constant", (2, -1), [0, 0, 1, 2], [1, 1, 0]),
        ("reflect", (2, 1), [3, 2, 1, 2, 3, 2], [1, 3, 2]),
        ("replicate", (2, 1), [1, 1, 1, 2, 3, 3], [3, 1, 2]),
        ("circular", (2, 1), [2, 3, 1, 2, 3, 1], [2, 2, 2]),
        ("reflect", (-1, 2), [2, 3, 2, 1], [1, 2, 1]),
    ],
)
def test_pad_modes_by_hand(mode, amounts, expected, grad) -> None:
    x = Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    y = ad.pad(x, amounts, mode)
    np.testing.assert_array_equal(y.data, [expected])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [grad])


def test_pad_order_starts_from_the_last_dim_and_value_fills() -> None:
    y = ad.pad(Tensor(np.zeros((2, 3))), (1, 0, 0, 2), value=7.0)
    assert y.shape == (4, 4)
    np.testing.assert_array_equal(y.data[:, 0], [7, 7, 7, 7])
    np.testing.assert_array_equal(y.data[2:], 7)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

X3 = Tensor(np.zeros((2, 3, 5)))
X4 = Tensor(np.zeros((2, 3, 5, 5)))
W4 = Tensor(np.zeros((4, 3, 3, 3)))

ERRORS = [
    (lambda: ad.conv2d(X4, Tensor(np.zeros((4, 2, 3, 3)))), ValueError, "3 channels"),
    (
        lambda: ad.conv2d(Tensor(np.zeros((1, 6, 5, 5))), Tensor(np.zeros((3, 3, 3, 3))), groups=2),
        ValueError,
        "divisible",
    ),
    (lambda: ad.conv2d(X4, W4, stride=0), ValueError, "stride must be at least 1"),
    (lambda: ad.conv2d(X4, W4, stride=(1, 1, 1)), TypeError, "tuple of 2 ints"),
    (lambda: ad.conv2d(X4, W4, padding="same", stride=2), ValueError, "strided"),
    (lambda: ad.conv2d(X4, W4, padding="full"), ValueError, "'same', 'valid'"),
    (lambda: ad.conv2d(X4, W4, Tensor(np.zeros(3))), ValueError, "bias must have shape (4,)"),
    (lambda: ad.conv2d(Tensor(np.zeros((3, 5))), W4), ValueError, "(N, C, H, W)"),
    (lambda: ad.conv2d(X4, Tensor(np.zeros((4, 3, 3)))), ValueError, "weight must have 4 dims"),
    (lambda: ad.conv2d(X4, Tensor(np.zeros((4, 3, 6, 6)))), ValueError, "larger than"),
    (lambda: ad.conv2d(Tensor(np.zeros((1, 3, 5, 5), int)), W4), TypeError, "floating"),
    (
        lambda: ad.conv1d(Tensor(np.zeros((1, 1, 4))), Tensor(np.zeros((1, 1, 2))), dilation=0),
        ValueError,
        "dilation",
    ),
    (lambda: ad.conv_transpose2d(X4, W4), ValueError, "expects 4"),
    (
        lambda: ad.conv_transpose2d(Tensor(np.zeros((1, 4, 3, 3))), W4, output_padding=1),
        ValueError,
        "output_padding",
    ),
    (
        lambda: ad.conv_transpose2d(Tensor(np.zeros((1, 4, 1, 1))), W4, padding=2),
        ValueError,
        "lower the padding",
    ),
    (lambda: ad.max_pool2d(X4, 2, padding=2), ValueError, "at most half"),
    (lambda: ad.max_pool2d(X4, 7), ValueError, "empty"),
    (lambda: ad.max_pool2d(Tensor(np.zeros(5)), 2), ValueError, "(N, C, H, W)"),
    (lambda: ad.avg_pool2d(X4, 2, divisor_override=0), ValueError, "divisor_override"),
    (lambda: ad.pad(X4, (1,)), ValueError, "even length"),
    (lambda: ad.pad(X4, 1), TypeError, "tuple of ints"),
    (lambda: ad.pad(X3, (5, 0), mode="reflect"), ValueError, "less than the size 5"),
    (lambda: ad.pad(X3, (6, 0), mode="circular"), ValueError, "more than once"),
    (lambda: ad.pad(X4, (1, 1), mode="wrap"), ValueError, "mode must be one of"),
    (lambda: ad.pad(X4, (1, 1), mode="reflect", value=1.0), ValueError, "takes no value"),
    (lambda: ad.pad(Tensor(np.zeros(3)), (1, 1, 1, 1)), ValueError, "only 1"),
    (lambda: ad.pad(Tensor(np.zeros(3)), (1, 1), mode="replicate"), ValueError, "last 1, 2 or 3"),
]


@pytest.mark.parametrize("call, kind, message", ERRORS)
def test_bad_arguments_raise_clear_errors(call, kind, message) -> None:
    with pytest.raises(kind) as error:
        call()
    assert message in str(error.value)
    op = str(error.value).split(":")[0]
    assert op in {"conv1d", "conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "pad"}


def test_padding_same_with_an_even_kernel_pads_more_after() -> None:
    # total padding 1: none before, one after (as PyTorch)
    x = Tensor(np.arange(4.0).reshape(1, 1, 4))
    y = ad.conv1d(x, Tensor(np.array([[[1.0, 1.0]]])), padding="same")
    np.testing.assert_array_equal(y.data, [[[1.0, 3.0, 5.0, 3.0]]])


@FEW
@given(arrays((2, 3, 4)), arrays((5, 3, 1)))
def test_conv1d_with_kernel_one_is_a_linear_map_of_channels(x, w) -> None:
    y = ad.conv1d(Tensor(x), Tensor(w))
    np.testing.assert_allclose(y.data, np.einsum("oc,ncl->nol", w[:, :, 0], x), atol=1e-12)


def test_an_empty_batch_gives_empty_results_and_zero_gradients() -> None:
    x = Tensor(np.zeros((0, 3, 5, 5)), requires_grad=True)
    w = Tensor(np.ones((2, 3, 3, 3)), requires_grad=True)
    y = ad.conv2d(x, w, padding=1)
    assert y.shape == (0, 2, 5, 5)
    ad.max_pool2d(y, 2).sum().backward()
    assert x.grad.shape == (0, 3, 5, 5) and (w.grad == 0).all()
    assert ad.conv_transpose2d(Tensor(np.zeros((0, 2, 3, 3))), w[:2]).shape == (0, 3, 5, 5)
