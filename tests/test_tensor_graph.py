"""Tensor graph semantics, as PyTorch users expect them, and gradients of gradients.

Accumulation over repeated uses, leaves accumulating across calls, intermediate gradients only
on request, saved values released after backward, no_grad/detach, requires_grad propagation,
a 200,000-op chain, and ``create_graph=True`` checked with second-order finite differences.
"""

from __future__ import annotations

import gc
from typing import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff
from autodiff import Tensor, gradcheck, no_grad
from autodiff.testing import (
    arrays,
    assert_gradients_match,
    broadcastable_shapes,
    positive_arrays,
    shapes,
)


def _tensor(a: np.ndarray) -> Tensor:
    return Tensor(a, requires_grad=True)


# --------------------------------------------------------------------------------------------
# Accumulation: a node reached by several paths sums its contributions
# --------------------------------------------------------------------------------------------


@given(arrays(shapes()))
def test_x_times_x_and_a_plus_a(a: np.ndarray) -> None:
    x = _tensor(a)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * a)
    y = _tensor(a)
    (y + y).sum().backward()
    np.testing.assert_array_equal(y.grad, np.full(a.shape, 2.0))


@given(arrays(shapes()))
def test_reused_subexpressions(a: np.ndarray) -> None:
    x = _tensor(a)
    b = x.tanh()
    c = b + b  # b reached twice
    d = c * b + c.exp()  # c and b reached again: a diamond
    d.sum().backward()
    t = np.tanh(a)
    dd_db = 4 * t + 2 * np.exp(2 * t)  # d = 2b^2 + exp(2b)
    np.testing.assert_allclose(x.grad, dd_db * (1 - t * t), rtol=1e-10)
    assert_gradients_match(lambda x: ((x.tanh() + x.tanh()) * x.tanh()).sum(), _tensor(a))


def test_b_equals_a_plus_a_c_equals_b_plus_b() -> None:
    a = Tensor([1.0, -2.0], requires_grad=True)
    b = a + a
    c = b + b
    c.sum().backward()
    np.testing.assert_array_equal(a.grad, [4.0, 4.0])


def test_leaves_accumulate_across_backward_calls() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_leaf_gradients_are_separate_writeable_arrays() -> None:
    a = Tensor(np.zeros((2, 3)), requires_grad=True)
    b = Tensor(np.zeros((2, 3)), requires_grad=True)
    s = (a + b).sum()  # the same (broadcast, read-only) gradient flows to both leaves
    s.backward()
    assert a.grad is not b.grad and not np.shares_memory(a.grad, b.grad)
    a.grad += 1  # in place, as users do; b's gradient must not change
    np.testing.assert_array_equal(b.grad, np.ones((2, 3)))
    seed = np.ones(3)
    c = Tensor(np.zeros(3), requires_grad=True)
    (c + 0).backward(seed)
    assert not np.shares_memory(c.grad, seed)


def test_intermediate_gradients_are_kept_only_with_retain_grad() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    k = (h * h).retain_grad()
    k.sum().backward()
    assert h.grad is None  # as PyTorch: intermediates do not keep gradients by default
    np.testing.assert_array_equal(k.grad, [1.0, 1.0])
    np.testing.assert_array_equal(x.grad, 8 * x.data)


# --------------------------------------------------------------------------------------------
# backward's arguments and errors
# --------------------------------------------------------------------------------------------


def test_backward_with_a_gradient_for_non_scalar_outputs() -> None:
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * x
    y.backward(np.array([[1.0, 0.0], [0.5, 2.0]]))
    np.testing.assert_array_equal(x.grad, [[2.0, 0.0], [3.0, 16.0]])
    z = Tensor([[5.0]], requires_grad=True)
    (z * 2).backward()  # one element: no gradient needed, whatever the shape
    np.testing.assert_array_equal(z.grad, [[2.0]])


def test_backward_errors_are_clear() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"grad can be implied only for one-element tensors; .*"):
        (x * 2).backward()
    with pytest.raises(
        ValueError, match=r"backward: grad has shape \(3,\) but the tensor has shape \(2,\)"
    ):
        (x * 2).backward(np.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).exp().backward()


def test_second_backward_needs_retain_graph() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="pass retain_graph=True"):
        y.backward()
    x.grad = None
    z = (x.exp() * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad, 2 * np.exp(x.data) * (1 + x.data))


def test_no_grad_detach_and_requires_grad_propagation() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    assert (x * c).requires_grad and not (c * c).requires_grad
    assert (c * 2 + x).requires_grad
    with no_grad():
        y = x * c
    assert not y.requires_grad and y._prev == () and y._op == ""

    @no_grad()
    def f(t: Tensor) -> Tensor:
        return t.exp()

    assert not f(x).requires_grad
    d = x.detach()
    assert not d.requires_grad and d.data is x.data and d.is_leaf
    (x * d).sum().backward()  # d is a constant: x gets d only
    np.testing.assert_array_equal(x.grad, x.data)
    assert c.grad is None


def test_constants_are_not_walked_or_given_gradients() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True)
    big_constant = Tensor(np.ones(2))
    y = (x * big_constant).sum()
    order, _ = autodiff.graph.backpropagate(y, np.ones(()), follow=Tensor._follow)
    assert all(node is not big_constant for node in order)  # (`in` would compare with ==)
    assert big_constant.grad is None


def test_a_200000_op_chain_backpropagates() -> None:
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = (y * 1.0) + 0.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    del y
    gc.collect()  # freeing the long chain must not recurse either


def test_requires_grad_underscore() -> None:
    x = Tensor([1.0]).requires_grad_()
    assert x.requires_grad
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.array([1])).requires_grad_()
    with pytest.raises(ValueError, match="only leaf tensors"):
        (x * 2).requires_grad_(False)


# --------------------------------------------------------------------------------------------
# The node protocol
# --------------------------------------------------------------------------------------------


def test_node_protocol() -> None:
    x = Tensor([1.0, 2.0], requires_grad=True, label="x")
    y = x * x
    assert y._prev == (x, x) and y._op == "*" and y._partials is None
    assert {y: 1}[y] == 1 and hash(y) != hash(x)  # hashing by identity though == is elementwise
    partials = autodiff.graph.local_partials(y)
    np.testing.assert_array_equal(partials[0], [1.0, 2.0])  # d(x*x)/d(first x) = second x
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    assert (x @ w.T)._local_partials() == ("d(3,)/d(2,)", "d(3,)/d(2, 3)")
    assert x._local_partials() == ()


def test_gradcheck_reports_the_worst_element_of_a_tensor() -> None:
    class WrongSquare(autodiff.Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def vjp(g, x, out):
            return (g * x,)  # should be 2 x

    report = gradcheck(lambda x: WrongSquare.apply(x).sum(), Tensor([1.0, 3.0], requires_grad=True))
    assert not report.ok
    assert report.worst.element == (1,) and report.worst.analytic == pytest.approx(3.0)
    assert report.worst.numeric == pytest.approx(6.0)


# --------------------------------------------------------------------------------------------
# create_graph: gradients are Tensors in a graph, checked with second-order finite differences
# --------------------------------------------------------------------------------------------


def test_gradients_of_gradients() -> None:
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    g = x.grad
    assert isinstance(g, Tensor) and g.requires_grad
    np.testing.assert_array_equal(g.data, 3 * x.data**2)
    x.grad = None
    g.sum().backward(create_graph=True)
    h = x.grad
    np.testing.assert_array_equal(h.data, 6 * x.data)
    x.grad = None
    h.sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0, 6.0])


SECOND_ORDER: list[tuple[str, Callable, Callable]] = [
    ("tanh * exp", lambda x, y: (x.tanh() * y.exp()).sum(), arrays),
    ("div and pow", lambda x, y: (x / (y * y + 1)) ** 3, arrays),
    ("tensor exponent", lambda x, y: (x**y).sum(), positive_arrays),
    ("sigmoid softplus", lambda x, y: (x.sigmoid() * y.softplus()).mean(), arrays),
    ("log sqrt", lambda x, y: (x.log() + y.sqrt() * x).sum(), positive_arrays),
    ("var logsumexp", lambda x, y: x.var() * y.logsumexp(), arrays),
    ("log_softmax", lambda x, y: (x.log_softmax() * y.softmax()).sum(), arrays),
    ("max", lambda x, y: x.max() * (x * y).sum(), lambda s: arrays(s, distinct=True)),
    ("index and concat", lambda x, y: autodiff.concatenate([x[None], y[None] ** 2]).sum(), arrays),
    (
        "stack and where",
        lambda x, y: autodiff.where(x.data > 0, x * y, autodiff.stack([y, x])[0] ** 2),
        lambda s: arrays(s, avoid=(0.0,), gap=1e-2),
    ),
]


@pytest.mark.parametrize("name, fn, domain", SECOND_ORDER, ids=[s[0] for s in SECOND_ORDER])
@given(data=st.data())
def test_second_order_matches_finite_differences(name: str, fn: Callable, domain, data) -> None:
    shape = data.draw(shapes(max_dims=2, max_side=3))
    a, b = data.draw(domain(shape)), data.draw(domain(shape))
    report = gradcheck(fn, _tensor(a), _tensor(b), order=2, atol=1e-4, rtol=1e-3)
    assert report.ok, str(report)


@given(data=st.data())
def test_second_order_of_matmul_mlp(data) -> None:
    x = data.draw(arrays((3, 2)))
    w1, w2 = data.draw(arrays((2, 4))), data.draw(arrays((4,)))

    def loss(w1: Tensor, w2: Tensor) -> Tensor:
        return ((Tensor(x) @ w1).tanh() @ w2).sigmoid().mean()

    report = gradcheck(loss, _tensor(w1), _tensor(w2), order=2, atol=1e-4, rtol=1e-3)
    assert report.ok, str(report)


def test_an_op_without_a_rule_names_itself() -> None:
    from autodiff.tensor import _make

    x = Tensor([1.0, 2.0], requires_grad=True)
    y = _make(np.sin(x.data), (x,), "mystery_op")
    with pytest.raises(NotImplementedError, match="no backward rule for tensor op 'mystery_op'"):
        y.sum().backward()


# --------------------------------------------------------------------------------------------
# Random programs: many ops composed, with broadcasting, reuse and depth
# --------------------------------------------------------------------------------------------

# Smooth ops defined for every real input, so any composition stays in every op's domain.
PROGRAM_UNARY: dict[str, Callable] = {
    "neg": lambda t: -t,
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "softplus": lambda t: t.softplus(),
    "exp of tanh": lambda t: t.tanh().exp(),
    "log of square + 1": lambda t: (t * t + 1).log(),
    "sqrt of square + 1": lambda t: (t * t + 1).sqrt(),
    "square": lambda t: t**2,
    "mean last axis, kept": lambda t: t.mean(axis=-1, keepdims=True) if t.ndim else t,
    "softmax": lambda t: t.softmax(),
    "logsumexp, kept": lambda t: t.logsumexp(axis=-1, keepdims=True) if t.ndim else t,
    "reversed": lambda t: t[::-1] if t.ndim else t,
}
PROGRAM_BINARY: dict[str, Callable] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/ (square + 1)": lambda a, b: a / (b * b + 1),
    "where": lambda a, b: autodiff.where(_checkerboard(a, b), a, b),
}


def _checkerboard(a: Tensor, b: Tensor) -> np.ndarray:
    """A fixed mask of the broadcast shape (a mask from the data would put a kink in the way of
    the finite differences)."""
    shape = np.broadcast_shapes(a.shape, b.shape)
    return (np.arange(int(np.prod(shape))) % 2 == 0).reshape(shape)


@st.composite
def programs(draw: st.DrawFn) -> tuple[list, list]:
    """Inputs of broadcastable shapes and a list of steps; each step applies an op to any
    earlier node (inputs included), so nodes are reused and graphs grow deep."""
    first, second = draw(broadcastable_shapes(max_dims=2))
    inputs = [draw(arrays(first)), draw(arrays(second))]
    steps = []
    for step in range(draw(st.integers(1, 10))):
        available = len(inputs) + step
        pick = st.integers(0, available - 1)
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(sorted(PROGRAM_UNARY))), (draw(pick),)))
        else:
            steps.append((draw(st.sampled_from(sorted(PROGRAM_BINARY))), (draw(pick), draw(pick))))
    return inputs, steps


def _run(steps: list, *inputs: Tensor) -> Tensor:
    nodes = list(inputs)
    for name, operands in steps:
        op = PROGRAM_UNARY.get(name) or PROGRAM_BINARY[name]
        nodes.append(op(*(nodes[i] for i in operands)))
    return nodes[-1].sum()  # the program's last node, summed to a scalar loss


@given(programs())
def test_random_programs_match_central_differences(program: tuple[list, list]) -> None:
    arrays_in, steps = program
    inputs = [_tensor(a) for a in arrays_in]
    probe = _run(steps, *inputs)
    assert np.isfinite(probe.data)
    assert_gradients_match(lambda *xs: _run(steps, *xs), *inputs)
