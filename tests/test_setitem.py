"""``t[index] = value``: in place, numpy's indexing, PyTorch's version check and grad rules."""

from __future__ import annotations

import numpy as np
import pytest

from autodiff import Tensor, no_grad


def test_assignment_by_index_mask_and_slice_with_numpys_casting() -> None:
    t = Tensor(np.zeros((2, 3), np.float32))
    t[0] = 1.5
    t[:, 2] = Tensor([7.0, 8.0])  # a float64 Tensor: cast to the float32 data
    t[Tensor(np.array([[False, True, False], [True, False, False]]))] = -1
    np.testing.assert_array_equal(t.data, [[1.5, -1.0, 7.0], [-1.0, 0.0, 8.0]])
    assert t.dtype == np.float32
    t[(Tensor(np.array([1])), 1)] = 4.0  # a tuple index holding a Tensor
    assert t.data[1, 1] == 4.0


def test_a_graph_that_saved_the_tensor_refuses_to_backpropagate() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0])
    y = (a * b).sum()
    b[0] = 10.0
    with pytest.raises(RuntimeError, match=r"backward through op '\*'.*\(input 1\) was changed"):
        y.backward()
    (a * b).sum().backward()  # a new forward pass sees the new numbers
    np.testing.assert_array_equal(a.grad, [10.0, 4.0])


def test_an_ops_output_changed_in_place_is_caught_too() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    h = a.tanh()
    y = (h * h).sum()
    with no_grad():
        h[0] = 5.0
    with pytest.raises(RuntimeError, match="was changed after the forward pass"):
        y.backward()


def test_a_tensor_that_requires_grad_changes_only_under_no_grad() -> None:
    w = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="setitem: .* requires grad.*no_grad"):
        w[0] = 5.0
    assert w.data[0] == 1.0  # nothing written
    with no_grad():
        w[0] = 5.0
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [10.0, 4.0])


def test_bad_assignments_name_the_op_the_index_and_the_tensor() -> None:
    t = Tensor([1.0, 2.0])
    with pytest.raises(IndexError, match=r"setitem: cannot assign int 1 to index 5 of .* \(2,\)"):
        t[5] = 1
    with pytest.raises(ValueError, match="setitem: cannot assign str 'x' to index 0"):
        t[0] = "x"
    with pytest.raises(ValueError, match="setitem: .* read-only"):
        Tensor([1.0]).expand(3)[0] = 2.0
    np.testing.assert_array_equal(t.data, [1.0, 2.0])
