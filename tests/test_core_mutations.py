"""Cases that catch one-line mistakes the rest of the suite would let through.

- A leaf's gradient must accumulate across ``backward(create_graph=True)`` calls too (``=``
  for ``+`` in ``_store_grad`` passes every single-call test).
- ``permute``/``transpose`` must undo the permutation by its inverse: the permutations used
  elsewhere ((1, 0), (0, 2, 1), ...) are their own inverses, so applying the permutation itself
  would pass there.
"""

from __future__ import annotations

import numpy as np
import pytest

from autodiff import Tensor, Value, gradcheck

# --------------------------------------------------------------------------------------------
# Accumulation under create_graph
# --------------------------------------------------------------------------------------------


def test_value_create_graph_twice_accumulates():
    x = Value(2.0)
    y = x * x * x  # dy/dx = 3x^2 = 12
    y.backward(create_graph=True)
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value)
    assert x.grad.data == 24.0
    g = x.grad  # still a graph of x: d/dx (2 * 3x^2) = 12x = 24
    x.grad = 0.0
    g.backward()
    assert x.grad == 24.0


def test_value_plain_then_create_graph_accumulates():
    x = Value(-1.5)
    y = x.tanh() * 3.0
    y.backward()
    first = x.grad
    y.backward(create_graph=True)
    assert x.grad.data == pytest.approx(2 * first, rel=1e-15)


def test_tensor_create_graph_twice_accumulates():
    x = Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    y = (x * x * x).sum()  # dy/dx = 3x^2
    y.backward(create_graph=True)
    y.backward(create_graph=True)
    assert isinstance(x.grad, Tensor)
    np.testing.assert_allclose(x.grad.data, 2 * 3 * x.data**2, rtol=1e-15)
    g = x.grad
    x.grad = None
    g.sum().backward()  # d/dx sum(6x^2) = 12x
    np.testing.assert_allclose(x.grad, 12 * x.data, rtol=1e-15)


def test_tensor_plain_then_create_graph_accumulates():
    x = Tensor(np.array([[0.3, -0.7]]), requires_grad=True)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward(create_graph=True)
    np.testing.assert_allclose(np.asarray(x.grad.data), 2 * np.exp(x.data), rtol=1e-15)


# --------------------------------------------------------------------------------------------
# Permutations that are not their own inverse
# --------------------------------------------------------------------------------------------

PERMUTATIONS = [
    ((2, 3, 4), (1, 2, 0)),
    ((2, 3, 4), (2, 0, 1)),
    ((2, 3, 4, 5), (1, 3, 0, 2)),
    ((2, 3, 4, 5), (3, 0, 1, 2)),
]


@pytest.mark.parametrize("method", ["permute", "transpose"])
@pytest.mark.parametrize(("shape", "axes"), PERMUTATIONS)
def test_permute_backward_applies_the_inverse_permutation(shape, axes, method):
    assert tuple(np.argsort(axes)) != axes  # not its own inverse
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(shape), requires_grad=True)
    out = getattr(x, method)(*axes)
    assert out.shape == tuple(shape[a] for a in axes)
    weights = rng.standard_normal(out.shape)
    (out * weights).sum().backward()
    # d sum(w * x.transpose(axes)) / dx = w transposed back: w.transpose(argsort(axes))
    np.testing.assert_array_equal(x.grad, weights.transpose(np.argsort(axes)))


@pytest.mark.parametrize(("shape", "axes"), PERMUTATIONS)
def test_permute_against_finite_differences_and_second_order(shape, axes):
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal(shape), requires_grad=True)
    weights = Tensor(rng.standard_normal(tuple(shape[a] for a in axes)))
    assert gradcheck(lambda t: (t.permute(*axes) * weights).sum(), x).ok
    # the second derivative goes through the rule run on Tensors (create_graph)
    assert gradcheck(lambda t: (t.permute(*axes).tanh() * weights).sum(), x, order=2).ok


def test_permute_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    data = rng.standard_normal((2, 3, 4, 5))
    weights = rng.standard_normal((5, 2, 3, 4))
    x = Tensor(data, requires_grad=True)
    (x.permute(3, 0, 1, 2) * weights).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    (tx.permute(3, 0, 1, 2) * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-15)
