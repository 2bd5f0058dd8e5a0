"""Changing ``.data`` between the forward pass and ``backward()``.

A tensor's backward rules read the ``.data`` of the op's inputs and output when ``backward()``
runs, so a change in between would give the gradients of other numbers: every assignment to
``.data`` bumps the tensor's version and backward raises, naming the tensor and the op. A
`Value` saves its partials at forward time, so it gives the forward-time gradients, with and
without ``create_graph``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

from autodiff import Tensor, Value, linear, trace
from autodiff.function import Function


class Cube(Function):
    """x ** 3, elementwise (its vjp reads the input)."""

    @staticmethod
    def forward(x: np.ndarray) -> np.ndarray:
        return x**3

    @staticmethod
    def vjp(g: Any, x: Any, out: Any) -> tuple:
        return (g * 3 * x * x,)  # d/dx x^3 = 3x^2


def change_assign(t: Tensor) -> None:
    t.data = t.data + 0.5  # a new array


def change_isub(t: Tensor) -> None:
    t.data -= 0.5


def change_iadd(t: Tensor) -> None:
    t.data += 0.5


def change_imul(t: Tensor) -> None:
    t.data *= 1.5


CHANGES = [change_assign, change_isub, change_iadd, change_imul]


def _leaf(shape: tuple, label: str, seed: int) -> Tensor:
    data = np.random.default_rng(seed).uniform(0.2, 1.0, shape)
    return Tensor(data, requires_grad=True, label=label)


# Each op: (name in the graph, function of the input tensor `a`, shape of `a`). The op takes
# its other operands from a second leaf `b` (matmul, mul, linear) where it has one.
B = _leaf((3, 4), "b", 1)
SQUARE = _leaf((3, 3), "weight", 2)  # linear's weight: square, whichever layout linear takes
OPS: dict[str, tuple[str, Callable[[Tensor], Tensor], tuple]] = {
    "matmul": ("matmul", lambda a: a @ B, (2, 3)),
    "tanh": ("tanh", lambda a: a.tanh(), (2, 3)),
    "mul": ("*", lambda a: a * a[0], (2, 3)),
    "exp": ("exp", lambda a: a.exp(), (2, 3)),
    "getitem": ("getitem", lambda a: a[1:, ::2], (3, 3)),
    "linear": ("linear", lambda a: linear(a, SQUARE, SQUARE[0]), (2, 3)),
    "function": ("Cube", lambda a: Cube.apply(a), (2, 3)),
}


def _message_of(error: pytest.ExceptionInfo) -> str:
    return str(error.value)


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("op", OPS)
def test_changing_a_leaf_input_is_detected(op, change):
    name, f, shape = OPS[op]
    a = _leaf(shape, "a", 0)
    loss = f(a).sum()
    change(a)
    with pytest.raises(RuntimeError) as error:
        loss.backward()
    message = _message_of(error)
    assert f"op {name!r}" in message
    assert "tensor 'a' (input" in message
    assert "compute the forward pass again after changing .data" in message


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("op", OPS)
def test_changing_a_saved_intermediate_is_detected(op, change):
    name, f, shape = OPS[op]
    a = _leaf(shape, "a", 0)
    h = (a * 1.0).sigmoid()  # an intermediate the op receives as its input
    h.label = "h"
    out = f(h)
    loss = out.sum()
    change(h)
    with pytest.raises(RuntimeError) as error:
        loss.backward()
    message = _message_of(error)
    assert f"op {name!r}" in message
    assert "tensor 'h' (input" in message


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("op", OPS)
def test_changing_an_ops_output_is_detected(op, change):
    name, f, shape = OPS[op]
    a = _leaf(shape, "a", 0)
    out = f(a)
    out.label = "out"
    change(out)
    with pytest.raises(RuntimeError) as error:
        out.backward(np.ones(out.shape))
    message = _message_of(error)
    assert f"op {name!r}" in message
    assert "tensor 'out' (its output)" in message


def test_an_unlabelled_tensor_is_named_by_shape_and_dtype():
    x = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
    loss = x.tanh().sum()
    x.data *= 2
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\) and dtype float32 \(input 0\)"):
        loss.backward()


def test_create_graph_backward_detects_a_change_too():
    a = _leaf((3,), "a", 0)
    loss = (a * a).sum()
    a.data -= 0.1
    with pytest.raises(RuntimeError, match="tensor 'a'"):
        loss.backward(create_graph=True)


def test_retain_graph_then_change_then_backward_again_is_detected():
    a = _leaf((3,), "a", 0)
    loss = a.exp().sum()
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(a.grad, np.exp(a.data))
    a.data += 1.0
    with pytest.raises(RuntimeError, match=r"op 'exp'.*tensor 'a' \(input 0\)"):
        loss.backward()


def test_the_chain_rule_trace_detects_a_change_too():
    a = _leaf((3,), "a", 0)
    loss = (a * a).sum()
    a.data -= 0.1
    with pytest.raises(RuntimeError, match="tensor 'a' \\(inputs 0 and 1\\)") as error:
        trace(loss)
    assert "retain_graph" not in str(error.value)  # not the hint for a released graph


# --------------------------------------------------------------------------------------------
# Changes that are fine
# --------------------------------------------------------------------------------------------


def test_changing_a_tensor_no_node_saved_is_fine():
    a = _leaf((2, 3), "a", 0)
    unused = _leaf((2, 3), "unused", 3)
    loss = (a * a).sum()
    unused.data -= 1.0
    loss.backward()
    np.testing.assert_allclose(a.grad, 2 * a.data)


def test_changing_data_after_backward_released_the_graph_is_fine():
    a = _leaf((2, 3), "a", 0)
    loss = (a @ B).tanh().sum()
    loss.backward()
    a.data -= 0.1  # the optimizer step
    B.grad = None
    with pytest.raises(RuntimeError, match="a second time"):  # released, as before
        loss.backward()


def test_changing_data_before_the_forward_pass_is_fine():
    a = _leaf((2, 3), "a", 0)
    a.data *= 3.0
    (a * a).sum().backward()
    np.testing.assert_allclose(a.grad, 2 * a.data)


@pytest.mark.parametrize("change", CHANGES)
@pytest.mark.parametrize("op", OPS)
def test_a_second_forward_after_the_change_gives_the_new_gradients(op, change):
    name, f, shape = OPS[op]
    a = _leaf(shape, "a", 0)
    f(a).sum()  # a first forward pass, abandoned
    change(a)
    f(a).sum().backward()
    fresh = Tensor(a.data.copy(), requires_grad=True)
    f(fresh).sum().backward()
    B.grad = SQUARE.grad = None
    np.testing.assert_allclose(a.grad, fresh.grad, rtol=1e-12)


def test_the_optimizer_idiom_trains_as_plain_numpy_does():
    """p.data -= lr * p.grad after backward, then a new forward: gradient descent on
    sum((x @ w - y)^2), checked step by step against the same steps in numpy."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    w_np = w.data.copy()
    for _ in range(5):
        w.grad = None
        loss = ((Tensor(x) @ w - y) ** 2).sum()
        loss.backward()
        grad_np = 2 * x.T @ (x @ w_np - y)
        np.testing.assert_allclose(w.grad, grad_np, rtol=1e-12)
        w.data -= 0.01 * w.grad
        w_np -= 0.01 * grad_np
    np.testing.assert_allclose(w.data, w_np, rtol=1e-12)


def test_setting_data_checks_what_it_is_given():
    t = Tensor([1.0, 2.0], requires_grad=True)
    t.data = [3.0, 4.0]  # a list becomes an array
    assert isinstance(t.data, np.ndarray) and t.data.tolist() == [3.0, 4.0]
    t.data = Tensor([5.0, 6.0])  # a tensor gives its data
    assert t.data.tolist() == [5.0, 6.0]
    with pytest.raises(TypeError, match="floating-point"):
        t.data = np.array([1, 2])
    with pytest.raises(TypeError, match="real numbers"):
        t.data = "abc"


def test_each_change_bumps_the_version():
    t = Tensor([1.0, 2.0])
    versions = [t._version]
    for change in CHANGES:
        change(t)
        versions.append(t._version)
    assert versions == sorted(set(versions))  # strictly increasing


# --------------------------------------------------------------------------------------------
# Value: the forward-time gradients, with and without create_graph
# --------------------------------------------------------------------------------------------

SCALAR_FUNCTIONS: dict[str, Callable[[Value, Value], Value]] = {
    "mul": lambda x, y: x * y * x,
    "div": lambda x, y: x / y,
    "tanh": lambda x, y: (x * y).tanh(),
    "exp": lambda x, y: (x - y).exp(),
    "log": lambda x, y: (x * x + y * y).log(),
    "sigmoid": lambda x, y: (x + y).sigmoid(),
    "pow": lambda x, y: x**3 + y**2.5,
    "pow_value": lambda x, y: x**y,
    "relu": lambda x, y: (x - y).relu() * x,  # the change flips the sign of x - y
    "dot": lambda x, y: Value.dot([x, y], [y, x], x),
}


@pytest.mark.parametrize("name", SCALAR_FUNCTIONS)
def test_value_gives_the_forward_time_gradient_with_and_without_create_graph(name):
    f = SCALAR_FUNCTIONS[name]

    def gradients(create_graph: bool) -> tuple:
        x, y = Value(1.5), Value(0.5)
        out = f(x, y)
        x.data, y.data = 0.25, 2.0  # after the forward pass
        out.backward(create_graph=create_graph)
        return tuple(g.data if isinstance(g, Value) else g for g in (x.grad, y.grad))

    plain = gradients(False)
    assert gradients(True) == plain
    x, y = Value(1.5), Value(0.5)  # and they are the gradients at the forward-time numbers
    f(x, y).backward()
    assert (x.grad, y.grad) == plain


def test_value_nan_partials_count_as_unchanged():
    x = Value(math.nan)
    out = x * x
    out.backward(create_graph=True)
    assert math.isnan(x.grad.data)
    # x.grad = 1 * x + 1 * x, the rule's partials themselves: NaN == NaN here, nothing added
    assert [product._prev[1] for product in x.grad._prev] == [x, x]
