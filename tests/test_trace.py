"""autodiff.chain_rule (`trace`): the chain-rule steps of backward, checked by hand on the article's
y = 5*x1**2 + 8*x2 + 35*x3 + 30 and on a 2-layer network, and against backward() itself."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodiff import Tensor, Value, trace
from autodiff.chain_rule import ChainRuleTrace, TraceStep

finite = st.floats(-3, 3, allow_nan=False)


def article_y() -> tuple:
    x1, x2, x3 = Value(2.0, label="x1"), Value(1.0, label="x2"), Value(4.0, label="x3")
    y = 5 * x1**2 + 8 * x2 + 35 * x3 + 30
    y.label = "y"
    return y, (x1, x2, x3)


def test_article_example_steps_by_hand():
    # y = ((5 * x1**2 + 8 * x2) + 35 * x3) + 30: backward visits y, then its '+' inputs, and so
    # on right to left; the last step multiplies dy/d(x1**2) = 5 by d(x1**2)/dx1 = 2 * x1 = 4.
    y, (x1, x2, x3) = article_y()
    steps = trace(y)
    got = [
        (s.name, s.output_name, s.op, s.upstream, s.local, s.product, s.accumulated) for s in steps
    ]
    assert got == [
        ("#11 +", "y", "+", 1.0, 1.0, 1.0, 1.0),  # 5x1² + 8x2 + 35x3
        ("30", "y", "+", 1.0, 1.0, 1.0, 1.0),
        ("#7 +", "#11 +", "+", 1.0, 1.0, 1.0, 1.0),  # 5x1² + 8x2
        ("#10 *", "#11 +", "+", 1.0, 1.0, 1.0, 1.0),  # 35x3
        ("35", "#10 *", "*", 1.0, 4.0, 4.0, 4.0),  # d(35 x3)/d35 = x3
        ("x3", "#10 *", "*", 1.0, 35.0, 35.0, 35.0),  # each employee: 35 more pigs
        ("#3 *", "#7 +", "+", 1.0, 1.0, 1.0, 1.0),  # 5x1²
        ("#6 *", "#7 +", "+", 1.0, 1.0, 1.0, 1.0),  # 8x2
        ("8", "#6 *", "*", 1.0, 1.0, 1.0, 1.0),
        ("x2", "#6 *", "*", 1.0, 8.0, 8.0, 8.0),
        ("5", "#3 *", "*", 1.0, 4.0, 4.0, 4.0),
        ("#2 **", "#3 *", "*", 1.0, 5.0, 5.0, 5.0),
        ("x1", "#2 **", "** 2", 5.0, 4.0, 20.0, 20.0),  # 5 * 2x1 = 10 x1 = 20
    ]
    assert [s.step for s in steps] == list(range(1, 14))
    assert steps.gradients[x1] == 20.0 and steps.gradients[x2] == 8.0
    assert steps.gradients[x3] == 35.0
    assert x1.grad == 0.0  # tracing changes no gradient


def test_repeated_input_accumulates_over_both_edges():
    x = Value(3.0, label="x")
    y = x * x
    steps = trace(y)
    assert [(s.slot, s.local, s.product, s.accumulated) for s in steps] == [
        (0, 3.0, 3.0, 3.0),
        (1, 3.0, 3.0, 6.0),  # d(x*x)/dx = x + x
    ]
    a = Value(-1.5, label="a")
    assert trace(a + a).gradients[a] == 2.0


def two_layer_network():
    """MLP(2, [2, 1]) with tanh, weights set by hand, squared error against t = 0.5."""
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [2, 1], activation="tanh", seed=0)
    weights = {
        "layers.0.neurons.0.w.0": 0.5,
        "layers.0.neurons.0.w.1": -1.0,
        "layers.0.neurons.0.b": 0.1,
        "layers.0.neurons.1.w.0": 2.0,
        "layers.0.neurons.1.w.1": 0.3,
        "layers.0.neurons.1.b": -0.2,
        "layers.1.neurons.0.w.0": 1.5,
        "layers.1.neurons.0.w.1": -0.7,
        "layers.1.neurons.0.b": 0.05,
    }
    params = dict(model.named_parameters())
    for name, value in weights.items():
        params[name].data = value
    loss = (model([1.0, 2.0]) - 0.5) ** 2
    return params, loss


def test_two_layer_network_by_hand():
    params, loss = two_layer_network()
    x0, x1, t = 1.0, 2.0, 0.5
    # forward, by hand
    z0 = 0.1 + 0.5 * x0 + -1.0 * x1  # -1.4
    z1 = -0.2 + 2.0 * x0 + 0.3 * x1  # 2.4
    h0, h1 = math.tanh(z0), math.tanh(z1)
    out = 0.05 + 1.5 * h0 + -0.7 * h1
    d = out - t
    # backward, by hand: right to left, multiplying the local partials
    d_out = 2 * d  # d(d**2)/dd, and d(out - t)/dout = 1
    d_h0, d_h1 = d_out * 1.5, d_out * -0.7  # the weight is the partial between linear layers
    d_z0, d_z1 = d_h0 * (1 - h0**2), d_h1 * (1 - h1**2)  # tanh' = 1 - tanh²
    expected = {
        "layers.1.neurons.0.w.0": (d_out, h0),
        "layers.1.neurons.0.w.1": (d_out, h1),
        "layers.1.neurons.0.b": (d_out, 1.0),
        "layers.0.neurons.0.w.0": (d_z0, x0),
        "layers.0.neurons.0.w.1": (d_z0, x1),
        "layers.0.neurons.0.b": (d_z0, 1.0),
        "layers.0.neurons.1.w.0": (d_z1, x0),
        "layers.0.neurons.1.w.1": (d_z1, x1),
        "layers.0.neurons.1.b": (d_z1, 1.0),
    }
    steps = trace(loss)
    assert loss.data == pytest.approx(d**2)
    for name, (upstream, local) in expected.items():
        (step,) = [s for s in steps if s.node is params[name]]  # one edge per parameter
        assert step.name == name
        assert step.upstream == pytest.approx(upstream, rel=1e-12)
        assert step.local == pytest.approx(local, rel=1e-12)
        assert step.product == pytest.approx(upstream * local, rel=1e-12)
        assert step.accumulated == step.product
        assert steps.gradients[params[name]] == pytest.approx(upstream * local, rel=1e-12)
    # the tanh steps: upstream d_h, local 1 - tanh²
    tanh_steps = [s for s in steps if s.op == "tanh"]
    got = sorted((s.upstream, s.local) for s in tanh_steps)
    want = sorted([(d_h0, 1 - h0**2), (d_h1, 1 - h1**2)])
    assert len(got) == len(want) == 2
    for (upstream, local), (want_upstream, want_local) in zip(got, want):  # pairs, compared
        assert upstream == pytest.approx(want_upstream, rel=1e-12)  # number by number
        assert local == pytest.approx(want_local, rel=1e-12)
    loss.backward()
    for p in params.values():
        assert steps.gradients[p] == p.grad  # bit for bit what backward() computes


def test_each_gradient_is_complete_before_it_flows_on():
    _, loss = two_layer_network()
    steps = trace(loss)
    last_in = {}
    for s in steps:
        last_in[id(s.node)] = s.step
    for s in steps:
        assert last_in.get(id(s.output), 0) < s.step  # every step into `output` came earlier
        if id(s.output) in last_in:
            assert s.upstream == steps.gradients[s.output]


@given(finite, finite, finite)
def test_trace_gradients_equal_backward(a, b, c):
    x, y, z = Value(a, label="x"), Value(b, label="y"), Value(c, label="z")
    out = (x * x + y.tanh() * x - z.sigmoid() / (1 + y * y)) * (x + x).exp() + (z * y).relu()
    steps = trace(out)
    out.backward()
    for node in (x, y, z):
        assert steps.gradients[node] == node.grad
        # the last step into a node leaves exactly its gradient
        last = [s for s in steps if s.node is node][-1]
        assert last.accumulated == node.grad


def test_trace_of_a_neuron_dot_op_lists_every_input():
    nn = pytest.importorskip("nn")
    neuron = nn.Neuron(3, activation="linear", seed=3)
    out = neuron([1.0, -2.0, 0.5])
    steps = trace(out)
    assert [s.name for s in steps[:3]] == ["w.0", "w.1", "w.2"]
    assert [s.local for s in steps[:3]] == [1.0, -2.0, 0.5]  # d(w.x + b)/dw_i = x_i
    assert steps[-1].name == "b" and steps[-1].local == 1.0


def test_table_and_dicts():
    y, _ = article_y()
    steps = trace(y)
    text = steps.table()
    lines = text.splitlines()
    assert lines[0].startswith("backward from y (gradient 1)")
    assert lines[1].split() == ["step", "node", "<-", "from", "(op)", "upstream", "x", "local",
                                "=", "product", "accum."]  # fmt: skip
    assert lines[-1].split() == ["13", "x1", "#2", "**", "(**", "2)", "5", "4", "20", "20"]
    assert str(steps) == text
    assert len(lines) == 2 + len(steps)
    only_x = steps.table([s for s in steps if s.name.startswith("x")])
    assert len(only_x.splitlines()) == 5
    rows = steps.as_dicts()
    assert rows[-1] == {
        "step": 13,
        "node": "x1",
        "output": "#2 **",
        "op": "** 2",
        "slot": 0,
        "upstream": 5.0,
        "local": 4.0,
        "product": 20.0,
        "accumulated": 20.0,
    }
    assert isinstance(steps, ChainRuleTrace) and isinstance(steps[0], TraceStep)
    assert repr(steps) == text  # the REPL shows the table


def test_trace_of_a_leaf_is_empty():
    x = Value(2.0, label="x")
    steps = trace(x)
    assert len(steps) == 0 and steps.gradients == {x: 1.0}


# --- tensors --------------------------------------------------------------------------------


def test_tensor_trace_matches_backward():
    rng = np.random.default_rng(0)
    w = Tensor(rng.standard_normal((3, 2)), requires_grad=True, label="W")
    b = Tensor(rng.standard_normal(3), requires_grad=True, label="b")
    x = Tensor(rng.standard_normal(2), label="x")
    h = (w @ x + b).tanh()
    loss = (h * h).sum()
    steps = trace(loss)
    loss.backward()
    assert np.array_equal(steps.gradients[w], w.grad)
    assert np.array_equal(steps.gradients[b], b.grad)
    assert x not in steps.gradients  # needs no gradient: never walked
    into_h = [s for s in steps if s.node is h]
    assert len(into_h) == 2  # h * h: two edges, both from the same product
    assert into_h[0].output is into_h[1].output
    assert np.array_equal(into_h[1].accumulated, 2 * into_h[0].product)
    text = steps.table()
    assert "W" in text and "tanh" in text


def test_tensor_trace_seed_and_errors():
    x = Tensor([1.0, 2.0], requires_grad=True, label="x")
    y = x * 3
    with pytest.raises(ValueError, match="pass seed"):
        trace(y)
    steps = trace(y, seed=[1.0, -1.0])
    assert np.array_equal(steps.gradients[x], [3.0, -3.0])
    with pytest.raises(ValueError, match="seed has shape"):
        trace(y, seed=[1.0])
    with pytest.raises(ValueError, match="does not require grad"):
        trace(Tensor([1.0]) * 2)
    z = (x * x).sum()
    z.backward()  # releases the saved values
    with pytest.raises(RuntimeError, match="call trace\\(\\) before backward"):
        trace(z)
    with pytest.raises(TypeError, match="expected a Value or Tensor"):
        trace(1.0)


def test_a_label_with_a_line_break_keeps_each_step_on_one_row():
    x = Value(2.0, label="x\ny\tz")
    y = x * x
    y.label = "o\nut"
    y.backward()
    lines = str(trace(y)).splitlines()
    assert len(lines) == 4  # title, header, two steps
    assert lines[0].startswith("backward from o\\nut (gradient 1)")
    assert all("x\\ny z" in line and "o\\nut (*)" in line for line in lines[2:])
    assert trace(y).steps[0].node is x  # the name is for showing; the node is the node
