"""Reductions, scans and sorting: prod and cumprod with one zero and with several (first and
second derivatives, against products written out), cumsum's reversed gradient, logcumsumexp
far apart and with gradients of both signs, std's correction, var's PyTorch names, ties and
NaN in argmax/cummax/sort, sort's gradient through the inverse permutation, and clear errors.
Gradients at random points against central differences: tests/test_ops_properties.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor
from autodiff.testing import assert_gradients_match, assert_second_derivatives_match


def leaf(values) -> Tensor:
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def others_product(x: np.ndarray) -> np.ndarray:
    """d prod(x)/dx_k = product of the other elements, written out (no division)."""
    return np.array([np.prod(np.delete(x, k)) for k in range(len(x))])


def cumprod_gradient(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """sum over i >= k of g_i * product of x_j for j <= i, j != k, written out."""
    n = len(x)
    return np.array([
        sum(g[i] * np.prod([x[j] for j in range(i + 1) if j != k]) for i in range(k, n))
        for k in range(n)
    ])  # fmt: skip


ZERO_CASES = [
    [2.0, 3.0, 5.0],
    [2.0, 0.0, 3.0, 5.0],
    [0.0, 2.0, 3.0],
    [2.0, 3.0, 0.0],
    [2.0, 0.0, 3.0, 0.0, 4.0],
    [0.0, 0.0, 0.0],
]


@pytest.mark.parametrize("values", ZERO_CASES, ids=str)
def test_prod_gradient_with_zeros(values) -> None:
    x = leaf(values)
    x.prod().backward()
    np.testing.assert_array_equal(x.grad, others_product(x.data))
    assert_gradients_match(lambda t: t.prod(), leaf(values))
    assert_second_derivatives_match(lambda t: t.prod(), leaf(values))


@pytest.mark.parametrize("values", ZERO_CASES, ids=str)
def test_cumprod_gradient_with_zeros(values) -> None:
    g = np.linspace(1.0, 2.0, len(values))
    x = leaf(values)
    x.cumprod(0).backward(g)
    np.testing.assert_allclose(x.grad, cumprod_gradient(x.data, g), rtol=1e-15)
    weights = Tensor(g)
    assert_gradients_match(lambda t: t.cumprod(0) * weights, leaf(values))
    assert_second_derivatives_match(lambda t: t.cumprod(0) * weights, leaf(values))


def test_prod_and_cumprod_with_zeros_along_a_dim() -> None:
    rows = np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0], [2.0, 3.0, 4.0]])
    x = leaf(rows)
    x.prod(dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [others_product(r) for r in rows])
    for dim in (0, 1):
        assert_gradients_match(lambda t, d=dim: t.cumprod(d) * Tensor(rows + 1), leaf(rows))
        assert_second_derivatives_match(lambda t, d=dim: t.cumprod(d).sum(), leaf(rows))


def test_cumsum_gradient_runs_from_the_end() -> None:
    x = leaf([1.0, 2.0, 3.0])
    x.cumsum(0).backward(np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(x.grad, [111.0, 110.0, 100.0])  # not [1, 11, 111]
    y = leaf(np.ones((2, 3)))
    y.cumsum(dim=1).backward(np.array([[1.0, 10.0, 100.0], [2.0, 20.0, 200.0]]))
    np.testing.assert_array_equal(y.grad, [[111, 110, 100], [222, 220, 200]])


def test_logcumsumexp_far_apart_values_and_gradients_of_both_signs() -> None:
    x = leaf([-1000.0, 0.0, 1000.0, -1000.0])
    with np.errstate(over="raise", invalid="raise"):
        out = x.logcumsumexp(0)
        g = np.array([1.0, -2.0, 0.5, -1.0])
        out.backward(g)
    np.testing.assert_allclose(out.data, [-1000.0, 0.0, 1000.0, 1000.0])
    expected = [
        sum(g[i] * math.exp(x.data[j] - out.data[i]) for i in range(j, 4)) for j in range(4)
    ]
    # (exp of a log-space sum near 1000 keeps about 13 digits)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12, atol=1e-300)


def test_logcumsumexp_second_derivatives_where_the_upstream_gradient_is_zero() -> None:
    # the rule's log-space form cannot take log(0); its create_graph form is linear in g
    picks = Tensor([0.0, 1.0, 0.0])
    assert_second_derivatives_match(
        lambda t: (t.logcumsumexp(0) * picks).sum(), leaf([0.3, -1.2, 2.0])
    )
    assert_second_derivatives_match(lambda t: t.logcumsumexp(0)[1] ** 2, leaf([0.0, 0.5, -0.5]))


def test_std_uses_pytorchs_correction_and_its_gradient_is_zero_for_equal_values() -> None:
    a = np.array([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]])
    np.testing.assert_allclose(Tensor(a).std().data, a.std(ddof=1))
    np.testing.assert_allclose(Tensor(a).std(dim=1, correction=0).data, a.std(axis=1))
    np.testing.assert_allclose(Tensor(a).std(1, unbiased=False, keepdim=True).data,
                               a.std(axis=1, keepdims=True))  # fmt: skip
    np.testing.assert_allclose(Tensor(a).std(dim=(0, 1), correction=2).data, a.std(ddof=2))
    x = leaf(a)
    x.std(dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad[1], [0.0, 0.0, 0.0])  # not nan, as PyTorch
    assert np.isfinite(x.grad).all()


def test_var_takes_pytorchs_names_and_keeps_numpys_default() -> None:
    a = np.arange(12.0).reshape(3, 4) ** 1.5
    t = Tensor(a)
    np.testing.assert_allclose(t.var().data, a.var())  # ddof=0 by default, as before
    for kwargs in ({"ddof": 1}, {"correction": 1}, {"unbiased": True}):
        np.testing.assert_allclose(t.var(axis=0, **kwargs).data, a.var(axis=0, ddof=1))
    np.testing.assert_allclose(t.var(dim=1, keepdim=True, correction=0).data,
                               a.var(axis=1, keepdims=True))  # fmt: skip
    np.testing.assert_allclose(ad.var(t, 0, False, 2).data, a.var(axis=0, ddof=2))
    assert_gradients_match(lambda x: x.var(dim=0, correction=1), leaf(a))


def test_any_all_argmax_argmin() -> None:
    x = Tensor([[0.0, 3.0, 3.0], [np.nan, 2.0, np.nan]], requires_grad=True)
    assert x.any().item() and x.all().item() is False
    np.testing.assert_array_equal(x.any(dim=1).data, [True, True])
    np.testing.assert_array_equal(x.all(dim=0, keepdim=True).data, [[False, True, True]])
    np.testing.assert_array_equal(ad.any(x, dim=(0, 1)).data, True)
    assert x.argmax().item() == 3  # the first NaN counts as the largest
    np.testing.assert_array_equal(x.argmax(dim=1).data, [1, 0])  # ties: the first
    np.testing.assert_array_equal(x[0].argmin().data, 0)
    assert x.argmax(keepdim=True).shape == (1, 1)
    np.testing.assert_array_equal(x.argmin(dim=0, keepdim=True).data, [[1, 1, 1]])  # NaN
    for out in (x.argmax(), x.argmin(dim=1), x.any(), ad.all(x)):
        assert not out.requires_grad and out.dtype in (np.int64, np.bool_)


def test_cummax_ties_take_the_later_index_and_the_gradient_goes_there() -> None:
    x = leaf([1.0, 3.0, 2.0, 3.0, 0.0])
    values, indices = x.cummax(0)
    np.testing.assert_array_equal(values.data, [1, 3, 3, 3, 3])
    np.testing.assert_array_equal(indices.data, [0, 1, 1, 3, 3])
    values.backward(np.array([1.0, 10.0, 100.0, 1000.0, 10000.0]))
    np.testing.assert_array_equal(x.grad, [1, 110, 0, 11000, 0])
    y = leaf([3.0, np.nan, 1.0, np.nan])
    values, indices = ad.cummin(y, 0)
    np.testing.assert_array_equal(values.data, [3, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(indices.data, [0, 1, 1, 3])  # each NaN takes over


def test_sort_gradient_goes_back_through_the_inverse_permutation() -> None:
    # [3, 1, 2] sorts by the cycle (1 2 0), which is not its own inverse
    x = leaf([3.0, 1.0, 2.0])
    values, indices = x.sort()
    np.testing.assert_array_equal(indices.data, [1, 2, 0])
    values.backward(np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(x.grad, [100.0, 1.0, 10.0])


def test_sort_is_stable_descending_too_and_puts_nan_last_ascending() -> None:
    x = Tensor([2.0, 1.0, 2.0, np.nan, 1.0, 0.0])
    up, down = x.sort(), x.sort(descending=True)
    np.testing.assert_array_equal(up.indices.data, [5, 1, 4, 0, 2, 3])
    np.testing.assert_array_equal(down.indices.data, [3, 0, 2, 1, 4, 5])
    np.testing.assert_array_equal(down.values.data, [np.nan, 2, 2, 1, 1, 0])
    np.testing.assert_array_equal(x.argsort(descending=True).data, down.indices.data)
    m = Tensor([[3.0, 1.0], [2.0, 4.0]])
    np.testing.assert_array_equal(m.sort(dim=0).values.data, [[2, 1], [3, 4]])
    np.testing.assert_array_equal(ad.sort(Tensor(5.0)).values.data, 5.0)


def test_topk_largest_and_smallest() -> None:
    x = leaf([[1.0, 5.0, 3.0, 4.0], [9.0, 0.0, 2.0, 8.0]])
    values, indices = x.topk(2)
    np.testing.assert_array_equal(values.data, [[5, 4], [9, 8]])
    np.testing.assert_array_equal(indices.data, [[1, 3], [0, 3]])
    values.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0, 1], [1, 0, 0, 1]])
    small = ad.topk(x, 1, dim=0, largest=False)
    np.testing.assert_array_equal(small.indices.data, [[0, 1, 1, 0]])
    assert x.topk(0).values.shape == (2, 0)


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda x: x.cumsum(2), ValueError, "cumsum: dim 2 is out of range"),
        (lambda x: x.cumprod(), TypeError, "dim"),
        (lambda x: x.logcumsumexp(dim=None), TypeError, "logcumsumexp: dim must be an int"),
        (lambda x: x.cummax(-3), ValueError, "cummax: dim -3 is out of range"),
        (lambda x: x.prod(dim=(0, 1)), TypeError, "prod: dim must be an int"),
        (lambda x: x.std(dim=1, correction=3), ValueError,
         "std: 3 elements with correction=3.0 leave no degrees of freedom"),
        (lambda x: x.std(correction=1, unbiased=True), TypeError, "std: give only one of"),
        (lambda x: x.std(unbiased=1), TypeError, "std: unbiased must be True or False"),
        (lambda x: x.var(axis=0, dim=1), TypeError, "var: give axis or dim, not both"),
        (lambda x: x.var(ddof=1, correction=1), TypeError, "var: give only one of"),
        (lambda x: x.argmax(dim=5), ValueError, "argmax: dim 5 is out of range"),
        (lambda x: x[:, :0].argmax(), ValueError, r"argmax: empty tensor of shape \(2, 0\)"),
        (lambda x: x[:0].argmin(dim=0), ValueError, "argmin: dim 0 of shape"),
        (lambda x: x.any(dim=(1, 1)), ValueError, "any: repeated dim"),
        (lambda x: x.sort(descending="yes"), TypeError, "sort: descending must be True or"),
        (lambda x: x.topk(4), ValueError, "topk: k = 4 is larger than the size 3"),
        (lambda x: x.topk(-1), ValueError, "topk: k must be at least 0"),
        (lambda x: x.topk(1.5), TypeError, "topk: k must be an int"),
        (lambda x: x.argsort(dim="0"), TypeError, "argsort: dim must be an int"),
    ],
)  # fmt: skip
def test_bad_arguments_are_clear_errors(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make(Tensor(np.ones((2, 3))))
