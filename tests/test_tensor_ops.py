"""Every Tensor op against numpy (values) and central differences (gradients), minitorch style.

One catalogue of ops drives the property tests: each entry names the op, its Tensor form, its
numpy form and the inputs it is defined on (``log`` gets positive arrays, ``relu`` keeps away
from its kink, ``max`` gets distinct elements). Shapes come from `autodiff.testing`: 0-d,
size-1 dims and broadcasting pairs included.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autodiff
from autodiff import Tensor
from autodiff.testing import (
    arrays,
    assert_gradients_match,
    broadcastable_shapes,
    matmul_shapes,
    positive_arrays,
    shapes,
)

# --------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------

# Input domains: a function of a shape strategy giving an array strategy.
REAL = arrays
POSITIVE = positive_arrays


def AWAY_FROM_0(s: Any) -> Any:  # noqa: N802 - reads as a constant in the table
    return arrays(s, avoid=(0.0,), gap=1e-2)


def AWAY_FROM_CLIP(s: Any) -> Any:  # noqa: N802
    return arrays(s, avoid=(-1.0, 1.0), gap=1e-2)


def DISTINCT(s: Any) -> Any:  # noqa: N802
    return arrays(s, distinct=True, gap=1e-2)


def _last(x: Any) -> Any:
    """The last axis of x, or None for a 0-d input (so axis-taking ops work on every shape)."""
    return -1 if np.ndim(x) else None


def _first_two(x: Any) -> Any:
    return (0, 1) if np.ndim(x) >= 2 else None


def _np_logsumexp(a: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    top = a.max(axis=axis, keepdims=True)
    out = np.log(np.exp(a - top).sum(axis=axis, keepdims=True)) + top
    return out if keepdims else np.squeeze(out, axis=axis)


def _np_log_softmax(a: np.ndarray) -> np.ndarray:
    if a.ndim == 0:
        return a - a
    return a - _np_logsumexp(a, axis=-1, keepdims=True)


UNARY: list[tuple[str, Callable, Callable, Callable]] = [
    ("neg", lambda t: -t, lambda a: -a, REAL),
    ("pos", lambda t: +t * 1.0, lambda a: a * 1.0, REAL),
    ("add number", lambda t: t + 2.5, lambda a: a + 2.5, REAL),
    ("radd number", lambda t: 2.5 + t, lambda a: 2.5 + a, REAL),
    ("rsub number", lambda t: 1.5 - t, lambda a: 1.5 - a, REAL),
    ("rmul number", lambda t: 3 * t, lambda a: 3 * a, REAL),
    ("rdiv number", lambda t: 2.0 / t, lambda a: 2.0 / a, POSITIVE),
    ("div number", lambda t: t / 4, lambda a: a / 4, REAL),
    ("square", lambda t: t**2, lambda a: a**2, REAL),
    ("cube", lambda t: t**3, lambda a: a**3, REAL),
    ("power -1.5", lambda t: t**-1.5, lambda a: a**-1.5, POSITIVE),
    ("rpow", lambda t: 2.0**t, lambda a: 2.0**a, REAL),
    ("exp", lambda t: t.exp(), np.exp, REAL),
    ("log", lambda t: t.log(), np.log, POSITIVE),
    ("sqrt", lambda t: t.sqrt(), np.sqrt, POSITIVE),
    ("abs", lambda t: t.abs(), np.abs, AWAY_FROM_0),
    ("tanh", lambda t: t.tanh(), np.tanh, REAL),
    ("sigmoid", lambda t: t.sigmoid(), lambda a: 1 / (1 + np.exp(-a)), REAL),
    ("relu", lambda t: t.relu(), lambda a: np.maximum(a, 0), AWAY_FROM_0),
    (
        "leaky_relu",
        lambda t: t.leaky_relu(0.1),
        lambda a: np.where(a > 0, a, 0.1 * a),
        AWAY_FROM_0,
    ),
    ("softplus", lambda t: t.softplus(), lambda a: np.log1p(np.exp(a)), REAL),
    ("clip", lambda t: t.clip(-1, 1), lambda a: np.clip(a, -1, 1), AWAY_FROM_CLIP),
    ("sum", lambda t: t.sum(), np.sum, REAL),
    ("sum last axis", lambda t: t.sum(axis=_last(t)), lambda a: a.sum(axis=_last(a)), REAL),
    (
        "sum axes keepdims",
        lambda t: t.sum(axis=_first_two(t), keepdims=True),
        lambda a: a.sum(axis=_first_two(a), keepdims=True),
        REAL,
    ),
    ("mean", lambda t: t.mean(), np.mean, REAL),
    (
        "mean last axis keepdims",
        lambda t: t.mean(axis=_last(t), keepdims=True),
        lambda a: a.mean(axis=_last(a), keepdims=True),
        REAL,
    ),
    ("max", lambda t: t.max(), np.max, DISTINCT),
    ("max last axis", lambda t: t.max(axis=_last(t)), lambda a: a.max(axis=_last(a)), DISTINCT),
    ("min", lambda t: t.min(), np.min, DISTINCT),
    (
        "min axes keepdims",
        lambda t: t.min(axis=_first_two(t), keepdims=True),
        lambda a: a.min(axis=_first_two(a), keepdims=True),
        DISTINCT,
    ),
    ("var", lambda t: t.var(), np.var, REAL),
    ("var last axis", lambda t: t.var(axis=_last(t)), lambda a: a.var(axis=_last(a)), REAL),
    ("logsumexp", lambda t: t.logsumexp(), _np_logsumexp, REAL),
    (
        "logsumexp last axis",
        lambda t: t.logsumexp(axis=_last(t)),
        lambda a: _np_logsumexp(a, axis=_last(a)),
        REAL,
    ),
    (
        "softmax",
        lambda t: t.softmax(),
        lambda a: np.exp(_np_log_softmax(a)),
        REAL,
    ),
    ("log_softmax", lambda t: t.log_softmax(), _np_log_softmax, REAL),
    ("reshape", lambda t: t.reshape(-1), lambda a: a.reshape(-1), REAL),
    ("flatten", lambda t: t.flatten(), lambda a: a.reshape(-1), REAL),
    ("unsqueeze", lambda t: t.unsqueeze(0), lambda a: a[None], REAL),
    ("squeeze", lambda t: t.squeeze(), np.squeeze, REAL),
    ("transpose", lambda t: t.transpose(), np.transpose, REAL),
    ("T", lambda t: t.T, lambda a: a.T, REAL),
    (
        "swapaxes",
        lambda t: t.swapaxes(0, -1) if t.ndim else t,
        lambda a: a.swapaxes(0, -1) if a.ndim else a,
        REAL,
    ),
    (
        "expand",
        lambda t: t.broadcast_to((2,) + t.shape),
        lambda a: np.broadcast_to(a, (2,) + a.shape),
        REAL,
    ),
    (
        "expand -1",
        lambda t: t[None].expand(3, *([-1] * t.ndim)),
        lambda a: np.broadcast_to(a, (3,) + a.shape),
        REAL,
    ),
    (
        "flatten from 1",
        lambda t: t.flatten(1) if t.ndim > 1 else t,
        lambda a: a.reshape(a.shape[0], -1) if a.ndim > 1 else a,
        REAL,
    ),
    ("permute", lambda t: t.permute(*range(t.ndim)[::-1]), np.transpose, REAL),
    ("getitem ...", lambda t: t[...], lambda a: a[...], REAL),
    ("getitem None", lambda t: t[None], lambda a: a[None], REAL),
    ("getitem slice", lambda t: t[::-1] if t.ndim else t, lambda a: a[::-1] if a.ndim else a, REAL),
    ("getitem mask", lambda t: t[t.data > 0], lambda a: a[a > 0], REAL),
    (
        "getitem repeated",
        lambda t: t[np.array([0, 0, -1])] if t.ndim else t,
        lambda a: a[np.array([0, 0, -1])] if a.ndim else a,
        REAL,
    ),
    ("numpy ufunc", lambda t: np.exp(np.tanh(t)), lambda a: np.exp(np.tanh(a)), REAL),
    ("numpy function", lambda t: np.sum(t * t, axis=None), lambda a: np.sum(a * a), REAL),
]

BINARY: list[tuple[str, Callable, Callable, Callable, Callable]] = [
    ("+", lambda a, b: a + b, np.add, REAL, REAL),
    ("-", lambda a, b: a - b, np.subtract, REAL, REAL),
    ("*", lambda a, b: a * b, np.multiply, REAL, REAL),
    ("/", lambda a, b: a / b, np.divide, REAL, POSITIVE),
    ("pow", lambda a, b: a**b, np.power, POSITIVE, REAL),
    ("maximum", autodiff.maximum, np.maximum, REAL, REAL),
    ("minimum", autodiff.minimum, np.minimum, REAL, REAL),
    (
        "where",
        lambda a, b: autodiff.where(a.data > 0, a, b),
        lambda a, b: np.where(a > 0, a, b),
        REAL,
        REAL,
    ),
    (
        "ndarray on the left",
        lambda a, b: np.full(a.shape, 2.0) * a + (np.ones(b.shape) - b),
        lambda a, b: 2 * a + (1 - b),
        REAL,
        REAL,
    ),
]


def _tensor(a: np.ndarray) -> Tensor:
    return Tensor(a, requires_grad=True)


# --------------------------------------------------------------------------------------------
# One-input ops
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, fn, np_fn, domain", UNARY, ids=[u[0] for u in UNARY])
@given(data=st.data())
def test_unary_values_match_numpy(name: str, fn: Callable, np_fn: Callable, domain, data) -> None:
    a = data.draw(domain(shapes()))
    out = fn(_tensor(a))
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, np_fn(a), rtol=1e-12, atol=1e-12)
    assert out.shape == np.shape(np_fn(a))


@pytest.mark.parametrize("name, fn, np_fn, domain", UNARY, ids=[u[0] for u in UNARY])
@given(data=st.data())
def test_unary_gradients_match_finite_differences(name, fn, np_fn, domain, data) -> None:
    a = data.draw(domain(shapes()))
    if name == "getitem mask":
        assume((np.abs(a) > 1e-3).all())  # an element near 0 would flip the mask under eps
    assert_gradients_match(fn, _tensor(a))


# --------------------------------------------------------------------------------------------
# Two-input ops, with broadcasting
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, fn, np_fn, da, db", BINARY, ids=[b[0] for b in BINARY])
@given(data=st.data())
def test_binary_values_match_numpy(name, fn, np_fn, da, db, data) -> None:
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a, b = data.draw(da(shape_a)), data.draw(db(shape_b))
    out = fn(_tensor(a), _tensor(b))
    np.testing.assert_allclose(out.data, np_fn(a, b), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, fn, np_fn, da, db", BINARY, ids=[b[0] for b in BINARY])
@given(data=st.data())
def test_binary_gradients_match_finite_differences(name, fn, np_fn, da, db, data) -> None:
    shape_a, shape_b = data.draw(broadcastable_shapes())
    a, b = data.draw(da(shape_a)), data.draw(db(shape_b))
    if name in ("maximum", "minimum"):  # keep away from ties, where there is no derivative
        assume(np.abs(np.subtract(a, b)).min(initial=1.0) > 1e-3)
    if name == "where":
        assume((np.abs(a) > 1e-3).all())
    out_shape = np.broadcast_shapes(a.shape, b.shape)
    assert fn(_tensor(a), _tensor(b)).shape == out_shape
    assert_gradients_match(fn, _tensor(a), _tensor(b))


@given(data=st.data())
def test_matmul_values_and_gradients(data) -> None:
    shape_a, shape_b = data.draw(matmul_shapes())
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    out = _tensor(a) @ _tensor(b)
    np.testing.assert_allclose(out.data, a @ b, rtol=1e-12, atol=1e-12)
    assert_gradients_match(lambda x, y: x @ y, _tensor(a), _tensor(b))


@given(data=st.data())
def test_matmul_with_ndarray_on_either_side(data) -> None:
    shape_a, shape_b = data.draw(matmul_shapes())
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    assert_gradients_match(lambda y: a @ y, _tensor(b))
    assert_gradients_match(lambda x: x @ b, _tensor(a))


@given(data=st.data())
def test_concatenate_and_stack(data) -> None:
    shape = data.draw(shapes(min_dims=1))
    a, b = data.draw(arrays(shape)), data.draw(arrays(shape))
    for axis in (0, -1):
        np.testing.assert_array_equal(
            autodiff.concatenate([_tensor(a), _tensor(b)], axis=axis).data,
            np.concatenate([a, b], axis=axis),
        )
        np.testing.assert_array_equal(
            autodiff.stack([_tensor(a), b], axis=axis).data, np.stack([a, b], axis=axis)
        )
        assert_gradients_match(
            lambda x, y, axis=axis: autodiff.concatenate([x, y * y, x], axis=axis),
            _tensor(a),
            _tensor(b),
        )
        assert_gradients_match(
            lambda x, y, axis=axis: autodiff.stack([x, y.exp(), x], axis=axis),
            _tensor(a),
            _tensor(b),
        )


@pytest.mark.parametrize(
    "index",
    [
        1,
        -1,
        (slice(None), 0),
        (Ellipsis, slice(1, None)),
        (None, 0, slice(None, None, 2)),
        np.array([2, 0, 2, 2]),
        (np.array([0, 2, 0]), np.array([1, 1, 1])),
        np.array([True, False, True]),
        [0, 0],
    ],
    ids=repr,
)
@given(data=st.data())
def test_getitem_values_and_gradients(index: Any, data) -> None:
    a = data.draw(arrays((3, 4)))
    np.testing.assert_array_equal(_tensor(a)[index].data, a[index])
    assert_gradients_match(lambda x: x[index] * 2, _tensor(a))


def test_getitem_repeated_indices_accumulate() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


def test_getitem_with_a_tensor_index() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[Tensor(np.array([2, 2]))].sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 2.0])


# --------------------------------------------------------------------------------------------
# Ties, stability and special values
# --------------------------------------------------------------------------------------------


def test_max_and_min_ties_share_the_gradient_equally() -> None:
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0.5, 0.5], [0.5, 0, 0.5]])
    y = Tensor([0.0, 0.0, 5.0, 0.0], requires_grad=True)
    y.min().backward()
    np.testing.assert_allclose(y.grad, [1 / 3, 1 / 3, 0, 1 / 3])


def test_maximum_ties_split_the_gradient() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([1.0, 0.0], requires_grad=True)
    autodiff.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.5, 1.0])
    np.testing.assert_array_equal(b.grad, [0.5, 0.0])


def test_softmax_and_log_softmax_are_stable_for_logits_in_the_thousands() -> None:
    logits = Tensor([[1000.0, 2000.0, 3000.0], [-3000.0, -3000.0, -2999.0]], requires_grad=True)
    logp = logits.log_softmax(axis=1)
    assert np.isfinite(logp.data).all()
    np.testing.assert_allclose(logp.data[0], [-2000.0, -1000.0, 0.0])
    probs = logits.softmax(axis=1)
    np.testing.assert_allclose(probs.data.sum(axis=1), [1.0, 1.0])
    (logp[:, 0].sum() + probs[:, 2].sum()).backward()
    assert np.isfinite(logits.grad).all()
    assert autodiff.logsumexp(Tensor([1e4, 1e4])).item() == pytest.approx(1e4 + np.log(2))


def test_sigmoid_and_softplus_are_stable_for_large_inputs() -> None:
    x = Tensor([-1000.0, -50.0, 0.0, 50.0, 1000.0], requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow anywhere
        s = x.sigmoid()
        (s.sum() + x.softplus().sum()).backward()
    np.testing.assert_allclose(s.data, [0.0, 1 / (1 + np.exp(50)), 0.5, 1 / (1 + np.exp(-50)), 1])
    np.testing.assert_allclose(x.softplus().data[[0, 4]], [0.0, 1000.0])
    assert np.isfinite(x.grad).all()


def test_var_with_ddof_matches_numpy() -> None:
    a = np.arange(12.0).reshape(3, 4) ** 1.5
    np.testing.assert_allclose(Tensor(a).var(axis=0, ddof=1).data, a.var(axis=0, ddof=1))
    assert_gradients_match(lambda t: t.var(axis=1, ddof=1), _tensor(a))


def test_cross_entropy_written_with_indexing_and_with_onehot_agree() -> None:
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 3))
    labels = np.array([0, 2, 1, 1, 0])
    onehot = np.eye(3)[labels]

    def by_index(z: Tensor) -> Tensor:
        return -z.log_softmax(axis=1)[np.arange(5), labels].mean()

    def by_onehot(z: Tensor) -> Tensor:
        return -(autodiff.log_softmax(z, axis=1) * onehot).sum() / 5

    np.testing.assert_allclose(by_index(Tensor(logits)).data, by_onehot(Tensor(logits)).data)
    assert_gradients_match(by_index, _tensor(logits))
    assert_gradients_match(by_onehot, _tensor(logits))


def test_comparisons_give_boolean_tensors_outside_the_graph() -> None:
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    for result, expected in [
        (x > 0, [True, False, True]),
        (x >= 1, [True, False, True]),
        (x < 0, [False, True, False]),
        (x <= -2, [False, True, False]),
        (x == 3, [False, False, True]),
        (x != 3, [True, True, False]),
        (0 < x, [True, False, True]),
    ]:
        assert isinstance(result, Tensor)
        assert not result.requires_grad and result._prev == ()
        np.testing.assert_array_equal(result.data, expected)


# --------------------------------------------------------------------------------------------
# Creation and interop
# --------------------------------------------------------------------------------------------


def test_creation_from_numbers_lists_and_arrays() -> None:
    assert Tensor(3).dtype == np.float64 and Tensor(3).shape == ()
    assert Tensor([[1, 2], [3, 4]]).dtype == np.float64
    assert Tensor([1, 2], dtype=np.int64).dtype == np.int64
    a32 = np.ones((2, 3), dtype=np.float32)
    t = Tensor(a32)
    assert t.dtype == np.float32 and t.data is a32  # shared, not copied
    assert Tensor(np.arange(3)).dtype == np.arange(3).dtype  # arrays keep their dtype
    assert Tensor(t).data is a32
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], label="t")
    assert (t.shape, t.ndim, t.size, len(t)) == ((2, 3), 2, 6, 2)
    assert t.numpy() is t.data and np.asarray(t) is t.data
    assert Tensor([[7.0]]).item() == 7.0 and float(Tensor(2.5)) == 2.5


def test_creation_helpers() -> None:
    assert autodiff.zeros(2, 3).shape == (2, 3) and autodiff.zeros((2, 3)).data.sum() == 0
    assert autodiff.ones(4, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(autodiff.full((2,), 7.0).data, [7.0, 7.0])
    assert autodiff.arange(3).data.tolist() == [0, 1, 2] and autodiff.arange(3).dtype == np.int64
    np.testing.assert_array_equal(autodiff.arange(1, 2, 0.5).data, [1.0, 1.5])
    np.testing.assert_array_equal(
        autodiff.randn(2, 2, rng=7).data, autodiff.randn(2, 2, rng=7).data
    )
    autodiff.manual_seed(3)
    first = autodiff.uniform((3,), -1, 1).data
    autodiff.manual_seed(3)
    np.testing.assert_array_equal(first, autodiff.uniform((3,), -1, 1).data)
    assert ((first >= -1) & (first < 1)).all()
    rng = np.random.default_rng(0)
    assert autodiff.randn(3, rng=rng, dtype=np.float32).dtype == np.float32
    assert autodiff.zeros(2, requires_grad=True).requires_grad


def test_repr_shows_data_shape_and_op() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "Tensor([1., 2.], requires_grad=True)"
    y = (x * 2).reshape(2, 1)
    assert repr(y) == "Tensor([[2.],\n        [4.]], shape=(2, 1), op='reshape')"
    assert "dtype=float32" in repr(Tensor(np.zeros(2, np.float32)))
    assert "label='w'" in repr(Tensor(1.0, label="w"))


def test_float32_stays_float32_in_data_and_grad() -> None:
    x = Tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    w = Tensor(np.ones((3, 2), np.float32), requires_grad=True)
    y = ((x @ w).tanh() * 2.0 + 1 - x.sum(axis=1, keepdims=True) / 3) ** 2
    z = (y.log_softmax(axis=1) + y.sigmoid() + y.softplus() + y.relu() + x.max()).mean()
    assert z.dtype == np.float32
    z.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


def test_ndarray_and_numbers_on_the_left() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    a = np.array([3.0, 4.0])
    for y in (a + x, a - x, a * x, a / x, a**x, 2 + x, 2 - x, 2 * x, 2 / x, 2**x):
        assert isinstance(y, Tensor) and y.requires_grad
    (a * x).sum().backward()
    np.testing.assert_array_equal(x.grad, a)
    assert isinstance(np.float64(2.0) * x, Tensor)


def test_unsupported_numpy_functions() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="np.cbrt on a Tensor that requires grad"):
        np.cbrt(x)
    with pytest.raises(TypeError, match="np.dot on a Tensor that requires grad"):
        np.dot(x, x)
    # without gradients they run on the data, so numpy's utilities work on tensors
    assert np.allclose(Tensor([1.0, 2.0]), [1.0, 2.0])
    assert (np.shape(x), np.ndim(x), np.size(x)) == ((2,), 1, 2)
    np.testing.assert_allclose(np.cbrt(x.detach()), np.cbrt([1.0, 2.0]))


# --------------------------------------------------------------------------------------------
# Errors name the op and the shapes or values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: Tensor("abc"), TypeError, "Tensor: data must be real numbers, got str"),
        (lambda: Tensor(None), TypeError, "Tensor: data must be real numbers, got NoneType"),
        (lambda: Tensor(["a", "b"]), TypeError, "cannot make an array of real numbers"),
        (lambda: Tensor([[1.0, 2.0], [3.0]]), TypeError, "cannot make an array"),
        (lambda: Tensor([1 + 2j]), TypeError, "cannot make an array"),
        (lambda: Tensor(np.array(["x"])), TypeError, "data must be real numbers"),
        (
            lambda: Tensor(np.arange(3), requires_grad=True),
            TypeError,
            "only floating-point tensors can require gradients, got dtype int64",
        ),
        (
            lambda: Tensor(np.array([True]), requires_grad=True),
            TypeError,
            "got dtype bool",
        ),
        (
            lambda: Tensor(np.ones((3, 4))) @ Tensor(np.ones((5, 2))),
            ValueError,
            r"matmul: \(3, 4\) @ \(5, 2\): inner dimensions 4 and 5 differ",
        ),
        (
            lambda: Tensor(np.ones((2, 3, 4))) @ Tensor(np.ones((5, 4, 2))),
            ValueError,
            r"matmul: \(2, 3, 4\) @ \(5, 4, 2\): batch dimensions \(2,\) and \(5,\) do not",
        ),
        (
            lambda: Tensor(2.0) @ Tensor(np.ones(2)),
            ValueError,
            r"matmul: \(\) @ \(2,\): both operands need at least one dimension",
        ),
        (
            lambda: Tensor(np.ones((2, 3))) + Tensor(np.ones((4,))),
            ValueError,
            r"\+: shapes \(2, 3\) and \(4,\) do not broadcast",
        ),
        (
            lambda: Tensor(np.ones(2)) * np.ones(3),
            ValueError,
            r"\*: shapes \(2,\) and \(3,\) do not broadcast",
        ),
        (lambda: Tensor(1.0) + "x", TypeError, "\\+: expected a Tensor, array or number, got str"),
        (lambda: Tensor(1.0) ** "x", TypeError, r"\*\*: exponent must be a number or Tensor"),
        (
            lambda: Tensor(np.ones(6)).reshape(4, 2),
            ValueError,
            r"reshape: cannot reshape a tensor of shape \(6,\) \(6 elements\) into \(4, 2\)",
        ),
        (
            lambda: Tensor(np.ones((2, 3))).transpose(0, 1, 2),
            ValueError,
            r"transpose: axes \(0, 1, 2\) are not a permutation",
        ),
        (
            lambda: Tensor(np.ones((2, 3))).expand(4, 3, 2),
            ValueError,
            r"expand: cannot broadcast a tensor of shape \(2, 3\) to \(4, 3, 2\)",
        ),
        (
            lambda: Tensor(np.ones((2, 3))).squeeze(0),
            ValueError,
            r"squeeze: axis 0 of a tensor of shape \(2, 3\) does not have size 1",
        ),
        (
            lambda: Tensor(np.ones(3))[5],
            IndexError,
            r"getitem: index 5 is out of bounds .* \(tensor shape \(3,\), index 5\)",
        ),
        (
            lambda: autodiff.concatenate([Tensor(np.ones((2, 3))), Tensor(np.ones((2, 4)))]),
            ValueError,
            r"concatenate: shapes \(2, 3\), \(2, 4\) along axis 0",
        ),
        (
            lambda: autodiff.stack([Tensor(np.ones(2)), Tensor(np.ones(3))]),
            ValueError,
            r"stack: shapes \(2,\), \(3,\) along axis 0",
        ),
        (lambda: autodiff.stack([]), ValueError, "stack: needs at least one tensor"),
        (lambda: Tensor(np.ones((2, 3))).sum(axis=2), ValueError, "sum: axis 2 is out of range"),
        (lambda: Tensor(np.ones(3)).mean(axis=(0, 0)), ValueError, "mean: repeated axis"),
        (lambda: Tensor(np.ones(3)).max(axis=1.5), TypeError, "max: axis must be an int"),
        (lambda: Tensor(np.ones(0)).max(), ValueError, r"max: empty tensor of shape \(0,\)"),
        (lambda: Tensor(np.ones(1)).var(ddof=1), ValueError, "var: 1 elements with ddof=1"),
        (
            lambda: autodiff.where(np.ones(3, bool), Tensor(np.ones(2)), 0.0),
            ValueError,
            r"where: condition \(3,\), a \(2,\) and b \(\) do not broadcast",
        ),
        (lambda: Tensor(np.ones(3)).clip(), ValueError, "clip: give low, high or both"),
        (lambda: Tensor(np.ones(3)).leaky_relu("x"), TypeError, "leaky_relu: slope"),
        (lambda: Tensor(np.ones(3)).item(), ValueError, r"item: only one-element tensors"),
        (lambda: bool(Tensor(np.ones(3))), ValueError, "truth value of a Tensor"),
        (lambda: len(Tensor(1.0)), TypeError, "len\\(\\) of a 0-d Tensor"),
    ],
)
def test_errors_are_clear(make: Callable, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make()
