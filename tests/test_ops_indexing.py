"""Indexing, layout and einsum: gather/scatter against loops written out, the gradient of
scatter's overwritten elements, repeated indices accumulating, PyTorch's repeat versus numpy's,
roll's gradient rolled back, split/chunk sizes as PyTorch, windows of unfold adding up, the
diagonals, einsum against matmul and numpy, and clear errors. Gradients at random points
against central differences: tests/test_ops_properties.py."""

from __future__ import annotations

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor
from autodiff.testing import assert_gradients_match, assert_second_derivatives_match


def leaf(values) -> Tensor:
    return Tensor(np.array(values, dtype=np.float64), requires_grad=True)


X = np.arange(1.0, 13.0).reshape(3, 4)


# --------------------------------------------------------------------------------------------
# gather, index_select, scatter, scatter_add
# --------------------------------------------------------------------------------------------


def test_gather_picks_along_a_dim_as_the_loops_do() -> None:
    index = np.array([[3, 0], [1, 1], [2, 0]])
    out = ad.gather(Tensor(X), 1, index)
    np.testing.assert_array_equal(
        out.data, [[X[i, index[i, j]] for j in range(2)] for i in range(3)]
    )
    index0 = np.array([[2, 0, 1, 0]])
    np.testing.assert_array_equal(
        Tensor(X).gather(0, index0).data, [[X[index0[0, j], j] for j in range(4)]]
    )


def test_gather_and_index_select_accumulate_repeated_indices() -> None:
    x = leaf(X)
    x.gather(1, np.array([[0, 0, 0], [1, 2, 1], [3, 3, 3]])).sum().backward()
    np.testing.assert_array_equal(x.grad, [[3, 0, 0, 0], [0, 2, 1, 0], [0, 0, 0, 3]])
    y = leaf(X)
    y.index_select(0, Tensor(np.array([2, 0, 2]))).sum().backward()
    np.testing.assert_array_equal(y.grad, [[1] * 4, [0] * 4, [2] * 4])


def test_scatter_overwritten_elements_get_no_gradient_and_src_gets_theirs() -> None:
    x = leaf(np.zeros((2, 4)))
    src = leaf([[1.0, 2.0], [3.0, 4.0]])
    index = np.array([[3, 1], [0, 2]])
    out = x.scatter(1, index, src)
    np.testing.assert_array_equal(out.data, [[0, 2, 0, 1], [3, 0, 4, 0]])
    g = np.arange(1.0, 9.0).reshape(2, 4)
    out.backward(g)
    np.testing.assert_array_equal(x.grad, [[1, 0, 3, 0], [0, 6, 0, 8]])
    np.testing.assert_array_equal(src.grad, [[4, 2], [5, 7]])


def test_scatter_with_a_larger_src_or_a_number() -> None:
    src = leaf(np.arange(6.0).reshape(2, 3))
    out = ad.scatter(Tensor(np.zeros((2, 2))), 0, np.array([[1, 0]]), src)
    np.testing.assert_array_equal(out.data, [[0, 1], [0, 0]])
    out.backward(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(src.grad, [[3, 2, 0], [0, 0, 0]])  # unused src: 0
    x = leaf(np.ones((2, 2)))
    filled = ad.scatter(x, 1, np.array([[1], [0]]), -5.0)
    np.testing.assert_array_equal(filled.data, [[1, -5], [-5, 1]])


def test_scatter_add_accumulates_repeated_positions() -> None:
    x = leaf(np.zeros(3))
    src = leaf([1.0, 2.0, 4.0, 8.0])
    out = ad.scatter_add(x, 0, np.array([2, 0, 2, 2]), src)
    np.testing.assert_array_equal(out.data, [2, 0, 13])
    out.backward(np.array([10.0, 20.0, 30.0]))
    np.testing.assert_array_equal(x.grad, [10, 20, 30])
    np.testing.assert_array_equal(src.grad, [30, 10, 30, 30])
    assert_second_derivatives_match(
        lambda a, b: ad.scatter_add(a, 0, np.array([2, 0, 2, 2]), b * b) ** 2,
        leaf([0.5, -1.0, 2.0]), leaf([1.0, 2.0, -1.5, 0.5]),
    )  # fmt: skip


def test_masked_fill_and_where() -> None:
    x = leaf([[1.0, -2.0], [-3.0, 4.0]])
    value = leaf(0.5)
    out = x.masked_fill(x.data < 0, value)
    np.testing.assert_array_equal(out.data, [[1, 0.5], [0.5, 4]])
    out.backward(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(x.grad, [[1, 0], [0, 4]])
    assert value.grad == 5.0  # the sum of the gradients where it was written
    np.testing.assert_array_equal(
        Tensor(X).masked_fill(np.array([True, False, False, True]), 0).data[:, 0], 0
    )
    np.testing.assert_array_equal(x.where(x.data > 0, 0.0).data, [[1, 0], [0, 4]])
    rows, cols = ad.where(Tensor(X) > 10)
    np.testing.assert_array_equal(rows.data, [2, 2])
    np.testing.assert_array_equal(cols.data, [2, 3])


def test_one_hot_and_nonzero() -> None:
    out = ad.one_hot(Tensor(np.array([[0, 3], [1, 1]])))
    assert out.dtype == np.int64 and out.shape == (2, 2, 4)
    np.testing.assert_array_equal(out.data[0], [[1, 0, 0, 0], [0, 0, 0, 1]])
    assert ad.one_hot([2], num_classes=5).shape == (1, 5)
    np.testing.assert_array_equal(Tensor([[0.0, 1.0], [2.0, 0.0]]).nonzero().data, [[0, 1], [1, 0]])
    assert Tensor(5.0).nonzero().shape == (1, 0)


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------


def test_repeat_is_pytorchs_tile_not_numpys_repeat() -> None:
    x = Tensor([1.0, 2.0])
    np.testing.assert_array_equal(x.repeat(3).data, np.tile([1, 2], 3))
    np.testing.assert_array_equal(x.repeat(2, 2).data, [[1, 2, 1, 2], [1, 2, 1, 2]])
    np.testing.assert_array_equal(x.repeat_interleave(2).data, np.repeat([1, 2], 2))
    np.testing.assert_array_equal(ad.tile(Tensor(X), (2,)).data, np.tile(X, 2))
    y = leaf(X)
    y.repeat(2, 1, 3).sum().backward()  # each element appears 6 times
    np.testing.assert_array_equal(y.grad, np.full(X.shape, 6.0))


def test_repeat_gradient_sums_each_element_s_own_copies() -> None:
    x = leaf([[1.0, 2.0, 3.0]])
    weights = np.arange(18.0).reshape(2, 9)
    x.repeat(2, 3).backward(weights)
    expected = weights.reshape(2, 1, 3, 3).sum(axis=(0, 2))  # (copy, element) split, summed
    np.testing.assert_array_equal(x.grad, expected)


def test_roll_gradient_is_rolled_back() -> None:
    x = leaf([1.0, 2.0, 3.0, 4.0, 5.0])
    out = x.roll(2)
    np.testing.assert_array_equal(out.data, [4, 5, 1, 2, 3])
    out.backward(np.array([1.0, 10.0, 100.0, 1000.0, 10000.0]))
    np.testing.assert_array_equal(x.grad, [100, 1000, 10000, 1, 10])  # rolled by -2, not +2
    m = leaf(X)
    m.roll((1, -1), (0, 1)).backward(np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(m.grad, np.roll(np.arange(12.0).reshape(3, 4), (-1, 1), (0, 1)))


def test_flip_split_chunk_unbind() -> None:
    np.testing.assert_array_equal(Tensor(X).flip(0, 1).data, X[::-1, ::-1])
    np.testing.assert_array_equal(ad.flip(Tensor(X), [1]).data, X[:, ::-1])
    assert [p.shape for p in ad.arange(5).split(2)] == [(2,), (2,), (1,)]
    assert [p.shape for p in Tensor(X).split([1, 3], dim=1)] == [(3, 1), (3, 3)]
    assert [p.shape for p in ad.arange(6).chunk(4)] == [(2,), (2,), (2,)]  # 3 pieces, as torch
    assert [p.shape for p in ad.arange(5).chunk(2)] == [(3,), (2,)]
    assert [p.shape for p in Tensor(X).unbind(1)] == [(3,)] * 4
    x = leaf(X)
    a, b = x.split([1, 3], dim=1)
    (a * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, np.where(np.arange(4) < 1, 2.0, 0.0) * np.ones((3, 1)))


def test_tril_triu_diag_diagonal() -> None:
    x = leaf(X)
    np.testing.assert_array_equal(x.tril().data, np.tril(X))
    np.testing.assert_array_equal(x.triu(1).data, np.triu(X, 1))
    np.testing.assert_array_equal(
        ad.tril(Tensor(np.ones((2, 3, 3))), -1).data, np.tril(np.ones((2, 3, 3)), -1)
    )
    x.tril(-1).sum().backward()
    np.testing.assert_array_equal(x.grad, np.tril(np.ones(X.shape), -1))
    np.testing.assert_array_equal(Tensor(X).diag(1).data, np.diag(X, 1))
    np.testing.assert_array_equal(ad.diag(Tensor([1.0, 2.0]), -1).data, np.diag([1.0, 2.0], -1))
    cube = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(Tensor(cube).diagonal(1, 0, 2).data, np.diagonal(cube, 1, 0, 2))
    np.testing.assert_array_equal(
        Tensor(cube).diagonal(dim1=-1, dim2=1).data, np.diagonal(cube, 0, 2, 1)
    )
    v = leaf([1.0, 2.0])
    ad.diag(v).backward(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(v.grad, [1.0, 4.0])


def test_unfold_windows_and_their_overlapping_gradients() -> None:
    x = leaf([1.0, 2.0, 3.0, 4.0, 5.0])
    windows = x.unfold(0, 3, 1)
    np.testing.assert_array_equal(windows.data, [[1, 2, 3], [2, 3, 4], [3, 4, 5]])
    windows.sum().backward()
    np.testing.assert_array_equal(x.grad, [1, 2, 3, 2, 1])  # how many windows hold each
    m = Tensor(np.arange(10.0).reshape(2, 5))
    np.testing.assert_array_equal(m.unfold(1, 2, 2).data, [[[0, 1], [2, 3]], [[5, 6], [7, 8]]])
    assert Tensor(np.zeros((4, 3))).unfold(0, 2, 1).shape == (3, 3, 2)


def test_movedim_matches_numpy_moveaxis() -> None:
    cube = np.zeros((2, 3, 4, 5))
    for src, dst in [(0, -1), (-1, 0), ((0, 1), (2, 3)), ((3, 0), (0, 1))]:
        assert Tensor(cube).movedim(src, dst).shape == np.moveaxis(cube, src, dst).shape
    assert ad.movedim(Tensor(cube), 1, 1).shape == cube.shape


# --------------------------------------------------------------------------------------------
# einsum
# --------------------------------------------------------------------------------------------


def test_einsum_matmul_equals_matmul_in_value_and_gradient() -> None:
    a, b = leaf(X), leaf(X.T[:, :2])
    out = ad.einsum("ij,jk->ik", a, b)
    ref_a, ref_b = leaf(X), leaf(X.T[:, :2])
    ref = ref_a @ ref_b
    np.testing.assert_allclose(out.data, ref.data)
    g = np.arange(6.0).reshape(3, 2)
    out.backward(g)
    ref.backward(g)
    np.testing.assert_allclose(a.grad, ref_a.grad)
    np.testing.assert_allclose(b.grad, ref_b.grad)


def test_einsum_diagonal_gradients_are_zero_off_the_diagonal() -> None:
    a = leaf(X[:3, :3])
    ad.einsum("ii->i", a).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(a.grad, np.diag([1.0, 2.0, 3.0]))
    b = leaf(np.ones((2, 2, 3)))
    ad.einsum("iij->j", b).sum().backward()
    np.testing.assert_array_equal(b.grad, np.stack([np.eye(2)] * 3, axis=-1))


def test_einsum_forms() -> None:
    a, b = Tensor(X), Tensor(X.T)
    np.testing.assert_allclose(ad.einsum("ij,jk", [a, b]).data, X @ X.T)  # operands as a list
    np.testing.assert_allclose(ad.einsum(" i j , j k -> i k ", a, b).data, X @ X.T)  # spaces
    np.testing.assert_allclose(ad.einsum("ij,j->i", a, np.ones(4)).data, X.sum(axis=1))
    np.testing.assert_allclose(np.einsum("ij->j", a).data, X.sum(axis=0))  # numpy dispatch
    batch = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_allclose(
        ad.einsum("...ij->...ji", Tensor(batch)).data, batch.swapaxes(-1, -2)
    )
    np.testing.assert_allclose(ad.einsum("...j->", Tensor(batch)).data, batch.sum())


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda x: x.gather(1, np.array([[4]] * 3)), IndexError,
         "gather: index 4 is out of range for dim 1 of size 4"),
        (lambda x: x.gather(1, np.array([[-1]])), IndexError, "gather: index -1 is out of range"),
        (lambda x: x.gather(1, np.array([0, 1])), ValueError,
         "gather: index has 1 dims but x has 2"),
        (lambda x: x.gather(1, np.zeros((4, 1), int)), ValueError,
         "gather: index of shape .* is larger"),
        (lambda x: x.gather(1, np.zeros((1, 1))), TypeError, "gather: index must hold integers"),
        (lambda x: x.gather(2, np.zeros((1, 1), int)), ValueError, "gather: dim 2 is out of range"),
        (lambda x: x.index_select(0, np.array([[0]])), ValueError,
         "index_select: index must be 1-D"),
        (lambda x: x.index_select(0, np.array([3])), IndexError,
         "index_select: index 3 is out of range"),
        (lambda x: x.scatter(0, np.array([[0, 1]]), Tensor(np.ones((1, 1)))), ValueError,
         "scatter: index of shape .* must be no larger than src"),
        (lambda x: x.scatter_add(1, np.array([[5]]), Tensor(np.ones((1, 1)))), IndexError,
         "scatter_add: index 5 is out of range"),
        (lambda x: x.masked_fill(np.ones(4), 0.0), TypeError, "masked_fill: mask must be boolean"),
        (lambda x: x.masked_fill(np.ones((2, 3, 4), bool), 0.0), ValueError,
         r"masked_fill: mask of shape \(2, 3, 4\) does not broadcast to .* \(3, 4\)"),
        (lambda x: x.masked_fill(np.ones(4, bool), Tensor([1.0, 2.0])), ValueError,
         "masked_fill: value must be a number or 0-d tensor"),
        (lambda x: ad.one_hot(np.array([0, 3]), 3), ValueError, "one_hot: label 3 is not in 0..2"),
        (lambda x: ad.one_hot(np.array([-1])), ValueError, "one_hot: label -1"),
        (lambda x: ad.one_hot(x), TypeError, "one_hot: labels must hold integers"),
        (lambda x: ad.one_hot(np.array([], int)), ValueError, "one_hot: cannot infer num_classes"),
        (lambda x: ad.where(x > 0, x), TypeError, "where: give both input and other, or neither"),
        (lambda x: x.repeat(2), ValueError, r"repeat: 1 sizes \(2,\) for a tensor with 2 dims"),
        (lambda x: x.repeat(2, -1), ValueError, "repeat: sizes must not be negative"),
        (lambda x: x.repeat(2.0, 1), TypeError, "repeat: sizes must be an int"),
        (lambda x: x.repeat_interleave([1, 2]), ValueError,
         "repeat_interleave: 2 repeats for 12 elements"),
        (lambda x: x.flip(0, -2), ValueError, "flip: dims .* name the same dim twice"),
        (lambda x: x.roll((1, 2), 0), ValueError,
         "roll: shifts .* and dims .* must have the same length"),
        (lambda x: x.roll(1.5), TypeError, "roll: shifts must be an int"),
        (lambda x: x.split([1, 1]), ValueError,
         r"split: section sizes \(1, 1\) add up to 2, not to the size 3"),
        (lambda x: x.split(0), ValueError, "split: split_size must be positive"),
        (lambda x: x.chunk(0), ValueError, "chunk: chunks must be at least 1"),
        (lambda x: x[0].tril(), ValueError,
         r"tril: needs a tensor with at least 2 dims, got shape \(4,\)"),
        (lambda x: ad.diag(Tensor(np.ones((2, 2, 2)))), ValueError,
         "diag: needs a 1-D or 2-D tensor"),
        (lambda x: x.diagonal(dim1=1, dim2=-1), ValueError,
         "diagonal: dim1 and dim2 are the same dim"),
        (lambda x: x.unfold(1, 5, 1), ValueError, "unfold: size 5 is larger than dim 1's size 4"),
        (lambda x: x.unfold(1, 2, 0), ValueError, "unfold: step must be at least 1"),
        (lambda x: x.movedim((0, 1), 0), ValueError,
         "movedim: source .* and destination .* must have the same length"),
        (lambda x: x.movedim((0, 0), (0, 1)), ValueError, "movedim: repeated dim"),
        (lambda x: ad.einsum("ij,jk", x), ValueError,
         "einsum: 'ij,jk' with operands of shapes .*: 2 subscripts for 1 operands"),
        (lambda x: ad.einsum("ijk", x), ValueError,
         r"subscripts 'ijk' for an operand of shape \(3, 4\)"),
        (lambda x: ad.einsum("ij,jk", x, x), ValueError, "einsum: 'ij,jk' with operands of shapes"),
        (lambda x: ad.einsum("ij->ii", x), ValueError, "output 'ii' repeats a label"),
        (lambda x: ad.einsum("ij->k", x), ValueError,
         "output 'k' repeats a label or has one no operand has"),
        (lambda x: ad.einsum("i1", x), ValueError, "bad subscripts 'i1'"),
        (lambda x: ad.einsum("ij->i->j", x), ValueError, "more than one '->'"),
        (lambda x: ad.einsum(3, x), TypeError, "einsum: the equation must be a string"),
        (lambda x: ad.einsum("ij"), ValueError, "einsum: needs at least one operand"),
    ],
)  # fmt: skip
def test_bad_arguments_are_clear_errors(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make(Tensor(X))


def test_gradients_of_the_layout_ops_with_a_repeated_input() -> None:
    # one node used twice: the two gradients add
    assert_gradients_match(lambda t: t.roll(1, 0) * t.flip(0) + t.tril() @ t.T, leaf(X[:, :3]))
    assert_gradients_match(lambda t: ad.einsum("ij,ij->i", t, t.cumsum(1)), leaf(X))
