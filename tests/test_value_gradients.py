"""Random expression graphs over every scalar op, checked against central differences."""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from autodiff import Value, gradcheck
from autodiff.graph import backpropagate, topological_order
from autodiff.testing import floats
from autodiff.value import PARTIAL_RULES


def _away_from_kink(a: Value) -> Value:
    # relu and leaky_relu have no derivative at 0: finite differences need a margin
    assume(abs(a.data) > 1e-3)
    return a


# Each op with its inputs moved into its domain (minitorch style), so any operands are valid.
UNARY = {
    "neg": lambda a: -a,
    "exp": lambda a: a.tanh().exp(),
    "log": lambda a: (a * a + 0.5).log(),
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "relu": lambda a: _away_from_kink(a).relu(),
    "leaky_relu": lambda a: _away_from_kink(a).leaky_relu(0.1),
    "square": lambda a: a**2,
    "cube": lambda a: a**3,
    "sqrt": lambda a: (a * a + 0.5) ** 0.5,
    "reciprocal": lambda a: (a * a + 0.5) ** -1,
    "const_left": lambda a: 3.0 - a,
    "rdiv": lambda a: 2.0 / (a * a + 0.5),
}
BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / (b * b + 0.5),
    "pow": lambda a, b: (a * a + 0.5) ** b.tanh(),
    "dot": lambda a, b: Value.dot([a, b], [b, a], a),
    "sum": lambda a, b: Value.sum([a, b, a]),
}


def test_the_catalogue_covers_every_op():
    used = {"neg", "exp", "log", "tanh", "sigmoid", "relu", "leaky_relu", "**"}
    used |= {"+", "-", "*", "/", "pow", "dot", "sum"}
    assert used == set(PARTIAL_RULES)


@st.composite
def expressions(draw):
    """(number of inputs, program): each step applies an op to nodes made so far (reuse
    included, so x * x and shared subexpressions appear)."""
    n_inputs = draw(st.integers(1, 3))
    steps = []
    for step in range(draw(st.integers(1, 8))):
        available = n_inputs + step
        if draw(st.booleans()):
            name = draw(st.sampled_from(sorted(UNARY)))
            steps.append((name, (draw(st.integers(0, available - 1)),)))
        else:
            name = draw(st.sampled_from(sorted(BINARY)))
            operands = (draw(st.integers(0, available - 1)), draw(st.integers(0, available - 1)))
            steps.append((name, operands))
    return n_inputs, steps


def run(steps, inputs):
    nodes = list(inputs)
    for name, operands in steps:
        args = [nodes[i] for i in operands]
        nodes.append(UNARY[name](*args) if name in UNARY else BINARY[name](*args))
    return nodes[-1]


@given(expressions(), st.lists(floats(-2, 2), min_size=3, max_size=3))
def test_random_graphs_match_central_differences(expression, values):
    n_inputs, steps = expression
    inputs = [Value(v) for v in values[:n_inputs]]
    out = run(steps, inputs)
    assume(abs(out.data) < 1e6)
    report = gradcheck(lambda *xs: run(steps, xs), *inputs, atol=1e-5, rtol=1e-4)
    assert report.ok, str(report)


@given(expressions(), st.lists(floats(-2, 2), min_size=3, max_size=3), floats(-2, 2))
def test_backward_fills_every_grad_as_the_general_driver_computes_it(expression, values, old):
    # Value.backward sums gradients in place (backpropagate_numeric); gradcheck and grad() use
    # the general driver. Both must give the same numbers, for every node, to the last bit,
    # and leaves must add to what they held before, intermediates must not.
    n_inputs, steps = expression
    inputs = [Value(v) for v in values[:n_inputs]]
    out = run(steps, inputs)
    order = topological_order(out)
    _, expected = backpropagate(out, 1.0, wrt=order)
    for node in order:
        node.grad = old  # stale gradients from an earlier pass
    out.backward()
    for node, grad in zip(order, expected):
        assert node.grad == (grad if node._prev else old + grad), (node, grad)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(x=floats(-2, 2))
def test_each_unary_op(name, x):
    v = Value(x)
    assert gradcheck(UNARY[name], v, atol=1e-6, rtol=1e-5).ok


@pytest.mark.parametrize("name", sorted(BINARY))
@given(x=floats(-2, 2), y=floats(-2, 2))
def test_each_binary_op_including_the_same_node_twice(name, x, y):
    a, b = Value(x), Value(y)
    assert gradcheck(BINARY[name], a, b, atol=1e-6, rtol=1e-5).ok
    assert gradcheck(lambda t: BINARY[name](t, t), a, atol=1e-6, rtol=1e-5).ok


def test_deep_graph_gradient():
    x = Value(0.3)

    def deep(x):
        y = x
        for _ in range(200):
            y = (y * 0.9 + 0.05).tanh()
        return y

    assert gradcheck(deep, x).ok
