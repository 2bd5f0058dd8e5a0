"""Fused ops (linear, mse_loss, cross_entropy): values and gradients against the unfused
composition, gradients against central differences, second derivatives, and bad input.
(tests/test_losses.py covers the losses' options: reductions, weights, smoothing...)"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodiff import Tensor, cross_entropy, linear, log_softmax, mse_loss
from autodiff.testing import arrays, assert_gradients_match, assert_second_derivatives_match

sides = st.integers(1, 4)


def leaf(a: np.ndarray) -> Tensor:
    return Tensor(a, requires_grad=True)


def grads_of(loss: Tensor, *leaves: Tensor) -> list[np.ndarray]:
    for t in leaves:
        t.grad = None
    loss.backward()
    return [t.grad for t in leaves]


@given(st.data(), sides, sides, sides, st.booleans())
def test_linear_matches_composition_and_finite_differences(data, n, k, m, with_bias) -> None:
    # weight is (out_features, in_features) = (m, k), as PyTorch's
    x = leaf(data.draw(arrays((n, k))))
    w = leaf(data.draw(arrays((m, k))))
    b = leaf(data.draw(arrays((m,)))) if with_bias else None
    inputs = (x, w, b) if with_bias else (x, w)
    fused = linear(*inputs)
    plain = x @ w.T + b if with_bias else x @ w.T
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-12, atol=1e-12)
    got = grads_of((fused * fused).sum(), *inputs)
    want = grads_of((plain * plain).sum(), *inputs)
    for g, h in zip(got, want):
        np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-10)
    assert_gradients_match(lambda *a: linear(*a).tanh(), *inputs)
    assert_second_derivatives_match(lambda *a: linear(*a).tanh(), *inputs)


def test_linear_with_a_vector_input_and_a_repeated_operand() -> None:
    x = leaf(np.array([0.5, -1.0]))
    w = leaf(np.array([[1.0, 2.0], [3.0, 4.0]]))  # not symmetric: a missing .T shows
    np.testing.assert_allclose(linear(x, w).data, [0.5 - 2.0, 1.5 - 4.0])
    assert_gradients_match(lambda x, w: linear(x, w, x), x, w)
    assert_second_derivatives_match(lambda x, w: linear(x, w, x).tanh(), x, w)


@given(st.data(), st.sampled_from([(3,), (2, 3), (2, 1, 3), (2, 2, 2, 3)]), sides)
def test_linear_takes_any_leading_shape(data, x_shape, m) -> None:
    x = leaf(data.draw(arrays(x_shape)))
    w = leaf(data.draw(arrays((m, 3))))
    b = leaf(data.draw(arrays((m,))))
    out = linear(x, w, b)
    assert out.shape == x_shape[:-1] + (m,)
    np.testing.assert_allclose(out.data, x.data @ w.data.T + b.data, rtol=1e-12, atol=1e-12)
    assert_gradients_match(lambda *a: linear(*a).tanh(), x, w, b)
    assert_second_derivatives_match(lambda *a: linear(*a).tanh(), x, w, b)


def test_linear_matches_torch_including_its_weight_layout() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x0, w0, b0 = rng.standard_normal((4, 2, 3)), rng.standard_normal((5, 3)), rng.standard_normal(5)
    g0 = rng.standard_normal((4, 2, 5))
    x, w, b = leaf(x0), leaf(w0), leaf(b0)
    out = linear(x, w, b)
    out.backward(g0)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x0, w0, b0))
    t_out = torch.nn.functional.linear(tx, tw, tb)
    t_out.backward(torch.tensor(g0))
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@given(st.data(), st.sampled_from([(), (1,), (3,), (2, 3)]))
def test_mse_loss_matches_composition_and_finite_differences(data, shape) -> None:
    p = leaf(data.draw(arrays(shape)))
    t = leaf(data.draw(arrays(shape)))
    fused = mse_loss(p, t)
    diff = p - t
    plain = (diff * diff).mean()
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-12, atol=1e-12)
    for g, h in zip(grads_of(fused, p, t), grads_of(plain, p, t)):
        np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-12)
    assert_gradients_match(mse_loss, p, t)
    assert_gradients_match(lambda a: mse_loss(a, a * 2.0), p)  # the same tensor twice
    assert_second_derivatives_match(lambda a, b: mse_loss(a.tanh(), b), p, t)


@given(st.data(), sides, st.integers(2, 4), st.booleans())
def test_cross_entropy_matches_composition_and_finite_differences(data, n, c, as_labels) -> None:
    z = leaf(data.draw(arrays((n, c))))
    labels = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    onehot = np.eye(c)[labels]
    fused = cross_entropy(z, labels if as_labels else onehot)
    plain = -(log_softmax(z, axis=1) * onehot).sum() / n
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-12, atol=1e-12)
    for g, h in zip(grads_of(fused, z), grads_of(plain, z)):
        np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-12)
    assert_gradients_match(lambda a: cross_entropy(a, labels), z)
    assert_second_derivatives_match(lambda a: cross_entropy(a, labels), z)


def test_cross_entropy_with_probability_rows_and_huge_logits() -> None:
    z = leaf(np.array([[0.3, -1.2, 2.0], [1.0, 0.0, -0.5]]))
    probs = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    assert_gradients_match(lambda a: cross_entropy(a, probs), z)
    big = leaf(np.array([[1000.0, 0.0], [0.0, 3000.0]]))
    loss = cross_entropy(big, np.array([1, 1]))
    assert loss.item() == pytest.approx(500.0)
    loss.backward()
    assert np.all(np.isfinite(big.grad))
    np.testing.assert_allclose(big.grad, [[0.5, -0.5], [0.0, 0.0]])


def test_float32_stays_float32() -> None:
    x = leaf(np.ones((3, 2), np.float32))
    w = leaf(np.ones((1, 2), np.float32))
    b = leaf(np.zeros(1, np.float32))
    loss = mse_loss(linear(x, w, b), np.zeros((3, 1), np.float32))
    assert loss.dtype == np.float32
    loss.backward()
    assert {x.grad.dtype, w.grad.dtype, b.grad.dtype} == {np.dtype(np.float32)}
    z = leaf(np.zeros((2, 3), np.float32))
    assert cross_entropy(z, [0, 1]).dtype == np.float32


def test_bad_input_names_the_op_and_shapes() -> None:
    with pytest.raises(
        ValueError,
        match=r"linear: input of shape \(2, 3\) has 3 features but "
        r"weight of shape \(2, 2\) \(out_features, in_features\) expects 2",
    ):
        linear(Tensor(np.ones((2, 3))), Tensor(np.ones((2, 2))))
    with pytest.raises(ValueError, match=r"linear: weight must be 2-D .* got shape \(3,\)"):
        linear(Tensor(np.ones((2, 3))), Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"linear: input of shape \(\) has no feature axis"):
        linear(Tensor(1.0), Tensor(np.ones((2, 1))))
    with pytest.raises(ValueError, match=r"linear: bias of shape \(3,\)"):
        linear(Tensor(np.ones((2, 2))), Tensor(np.ones((2, 2))), Tensor(np.ones(3)))
    with pytest.raises(ValueError, match=r"mse_loss: input has shape \(2,\)"):
        mse_loss(Tensor([1.0, 2.0]), Tensor([1.0]))
    with pytest.raises(ValueError, match=r"target 2 is out of bounds.* \[0, 2\)"):
        cross_entropy(Tensor(np.ones((2, 2))), [0, 2])
    with pytest.raises(ValueError, match=r"cross_entropy: target of shape \(1,\) does not fit"):
        cross_entropy(Tensor(np.ones(3)), [0])
    with pytest.raises(ValueError, match=r"class-index target must have shape \(2,\)"):
        cross_entropy(Tensor(np.ones((2, 2))), [0])
    with pytest.raises(TypeError, match="linear"):
        linear(Tensor(np.ones((2, 2))), "w")


@given(st.data(), sides, sides, st.sampled_from([(1,), "m", (1, 1), "1m"]))
def test_bias_gradients_sum_over_the_rows(data, n, m, bias_shape) -> None:
    # _unbroadcast's fast path (ones @ g) must only take the (n, m) -> (m,) case
    shape = {"m": (m,), "1m": (1, m)}.get(bias_shape, bias_shape)
    x = leaf(data.draw(arrays((n, m))))
    b = leaf(data.draw(arrays(shape)))
    (x + b).sum().backward()
    np.testing.assert_allclose(b.grad, np.full(shape, n * m / np.prod(shape)))
    assert b.grad.flags.writeable
    assert_gradients_match(lambda x, b: linear(x, Tensor(np.eye(m)), b).tanh(), x, b)
