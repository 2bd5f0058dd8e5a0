"""sum, mean, max, min, logsumexp, softmax and log_softmax under PyTorch's names (`dim`,
`keepdim`), `max(dim=)`/`min(dim=)` returning (values, indices), and amax/amin. The values and
gradients are checked against finite differences and PyTorch in tests/ops_catalogue.py; here:
the meaning of each argument, the edge cases and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor

X = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])  # not square: a wrong axis changes the shape


@pytest.mark.parametrize("op", ["sum", "mean", "logsumexp"])
@pytest.mark.parametrize("dim", [0, 1, -1, (0, 1)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_dim_and_keepdim_mean_axis_and_keepdims(op: str, dim, keepdim: bool) -> None:
    ours = getattr(Tensor(X), op)(dim=dim, keepdim=keepdim)
    numpys = getattr(Tensor(X), op)(axis=dim, keepdims=keepdim)
    assert ours.shape == numpys.shape
    np.testing.assert_array_equal(ours.data, numpys.data)


def test_a_positional_dim_works_for_both_spellings() -> None:
    np.testing.assert_array_equal(Tensor(X).sum(1).data, [8.0, 14.0])
    np.testing.assert_array_equal(Tensor(X).mean(0, True).data, [[4.0, 2.5, 4.5]])


def test_max_with_dim_returns_values_and_the_first_index_of_the_extreme() -> None:
    values, indices = Tensor(X).max(dim=1)
    np.testing.assert_array_equal(values.data, [5.0, 7.0])
    np.testing.assert_array_equal(indices.data, [1, 0])  # the tie 7, 7 gives the first
    assert indices.dtype == np.int64 and not indices.requires_grad
    values, indices = Tensor(X).min(dim=0, keepdim=True)
    assert values.shape == indices.shape == (1, 3)
    np.testing.assert_array_equal(values.data, [[1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(indices.data, [[0, 1, 0]])
    result = Tensor(X).max(dim=0)
    assert result.values is result[0] and result.indices is result[1]


def test_max_with_axis_returns_the_values_only_as_numpy() -> None:
    out = Tensor(X).max(axis=1)
    assert isinstance(out, Tensor)
    np.testing.assert_array_equal(out.data, [5.0, 7.0])
    assert Tensor(X).max(keepdim=True).shape == (1, 1)


def test_max_with_dim_of_nan_gives_nan_and_points_at_it_as_pytorch() -> None:
    values, indices = Tensor([[1.0, np.nan, 3.0], [2.0, 1.0, 0.0]]).max(dim=1)
    assert np.isnan(values.data[0]) and values.data[1] == 2.0
    np.testing.assert_array_equal(indices.data, [1, 0])
    values, indices = Tensor([[1.0, np.nan, -3.0]]).min(dim=1)
    assert np.isnan(values.data[0]) and indices.data[0] == 1


def test_max_with_dim_sends_the_gradient_to_the_extremes_and_accumulates() -> None:
    x = Tensor(X, requires_grad=True)
    x.max(dim=1).values.sum().backward()
    # the tie shares (as amax); PyTorch's max(dim) would give it all to index 0
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    (x.min(dim=0).values * Tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [[1.0, 1.0, 3.0], [0.5, 2.0, 0.5]])


def test_max_of_a_0d_tensor_along_dim_0() -> None:
    values, indices = Tensor(4.0).max(dim=0)
    assert values.shape == indices.shape == ()
    assert values.item() == 4.0 and indices.item() == 0


def test_amax_and_amin_reduce_the_given_dims_or_all() -> None:
    np.testing.assert_array_equal(ad.amax(Tensor(X), dim=0).data, [7.0, 5.0, 7.0])
    np.testing.assert_array_equal(Tensor(X).amin(dim=1, keepdim=True).data, [[1.0], [0.0]])
    assert ad.amax(Tensor(X)).item() == 7.0 and ad.amax(Tensor(X), dim=()).item() == 7.0
    x = Tensor(X, requires_grad=True)
    ad.amax(x).backward()  # two maxima share
    np.testing.assert_array_equal(x.grad, [[0.0, 0.0, 0.0], [0.5, 0.0, 0.5]])


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_dim_is_the_axis_it_normalises(op: str) -> None:
    along0 = getattr(Tensor(X), op)(dim=0)
    np.testing.assert_array_equal(along0.data, getattr(Tensor(X), op)(axis=0).data)
    probabilities = along0.data if op == "softmax" else np.exp(along0.data)
    np.testing.assert_allclose(probabilities.sum(axis=0), [1.0, 1.0, 1.0])
    assert not np.allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_array_equal(
        getattr(ad, op)(Tensor(X), dim=1).data, getattr(Tensor(X), op)().data
    )


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "logsumexp"])
def test_axis_and_dim_together_is_a_clear_error(op: str) -> None:
    with pytest.raises(TypeError, match=f"{op}: give axis or dim, not both"):
        getattr(Tensor(X), op)(0, dim=1)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_axis_and_dim_together_is_a_clear_error(op: str) -> None:
    with pytest.raises(TypeError, match=f"{op}: give axis or dim, not both"):
        getattr(Tensor(X), op)(0, dim=1)


def test_bad_dim_and_keepdim_are_clear_errors() -> None:
    with pytest.raises(TypeError, match=r"max: dim must be one int .* got \(0, 1\)"):
        Tensor(X).max(dim=(0, 1))
    with pytest.raises(TypeError, match="sum: keepdim must be True or False, got 'yes'"):
        Tensor(X).sum(dim=0, keepdim="yes")
    with pytest.raises(ValueError, match="max: axis 2 is out of range for a tensor with 2 dims"):
        Tensor(X).max(dim=2)
    with pytest.raises(ValueError, match="max: empty tensor of shape"):
        Tensor(np.zeros((2, 0))).max(dim=1)


def test_a_function_with_torch_names_compiles_to_the_same_gradient() -> None:
    def f(w: Tensor) -> Tensor:
        return w.max(dim=1).values.sum() + w.logsumexp(dim=0).sum() + w.softmax(dim=0)[0, 1]

    w = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
    compiled = ad.compile(f, w)
    value, (grad,) = compiled(w + 1.0)  # other values than the traced ones
    x = Tensor(w + 1.0, requires_grad=True)
    f(x).backward()
    assert value == f(Tensor(w + 1.0)).item()
    np.testing.assert_array_equal(grad, x.grad)


def test_tolist_gives_python_numbers_as_pytorch() -> None:
    assert Tensor(X).tolist() == [[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]]
    assert type(Tensor(X).max(dim=1).indices.tolist()[0]) is int
    assert Tensor(2.5).tolist() == 2.5
