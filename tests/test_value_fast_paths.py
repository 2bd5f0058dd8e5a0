"""The shortcuts that make scalar training fast give what the plain forms give, to the bit:
`topological_order` placing a node at once when its inputs are placed, `Value.dot` checking
and summing in bulk, `hinge_loss` and `l2_penalty` of Values as one node each, layers calling
their neurons' `forward` directly; and SGD's in-place update of Tensors still tells the
version check."""

from __future__ import annotations

import random
from typing import Any, Callable, Iterator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
from autodiff import Tensor, Value
from autodiff.graph import topological_order
from autodiff.tensor import changed_in_place
from autodiff.testing import floats
from nn.losses import hinge_loss, l2_penalty


def reference_order(root: Any, follow: Callable[[Any], bool] | None = None) -> list:
    """The depth-first walk without the shortcut: every input of every node is looked at."""
    order: list = []
    visited = {root}
    stack: list[tuple[Any, Iterator]] = [(root, iter(root._prev))]
    while stack:
        node, inputs = stack[-1]
        for parent in inputs:
            if parent not in visited and (follow is None or follow(parent)):
                visited.add(parent)
                if parent._prev:
                    stack.append((parent, iter(parent._prev)))
                    break
                order.append(parent)
        else:
            stack.pop()
            order.append(node)
    return order


# a DAG of Values: each step combines two earlier nodes (reused freely) with + * or dot
dags = st.tuples(
    st.integers(1, 5),
    st.lists(
        st.tuples(st.sampled_from("+*d"), st.integers(0, 10**6), st.integers(0, 10**6)),
        min_size=1,
        max_size=25,
    ),
)


def build(spec: tuple) -> Value:
    n_leaves, steps = spec
    pool = [Value(float(i) + 0.5) for i in range(n_leaves)]
    for op, i, j in steps:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        if op == "+":
            pool.append(a + b)
        elif op == "*":
            pool.append(a * b)
        else:  # a dot node reading many earlier nodes, as a neuron does
            inputs = pool[-(j % 6 + 1) :]
            pool.append(Value.dot(inputs, inputs[::-1], a))
    return pool[-1]


@given(dags)
def test_the_order_is_the_plain_depth_first_walks(spec):
    root = build(spec)
    assert topological_order(root) == reference_order(root)
    skip_odd = lambda v: v.data != 1.5  # noqa: E731 - a follow that cuts some inputs off
    assert topological_order(root, skip_odd) == reference_order(root, skip_odd)


def test_a_wide_layer_orders_as_before():
    random.seed(0)
    model = nn.MLP(3, [8, 8, 1])
    loss = sum(model([Value(random.random()) for _ in range(3)]) for _ in range(4))
    assert topological_order(loss) == reference_order(loss)


@given(st.lists(floats(), min_size=0, max_size=20), st.data())
def test_dot_is_the_sum_of_products_in_micrographs_order(ws, data):
    xs = data.draw(st.lists(floats(), min_size=len(ws), max_size=len(ws)))
    b = data.draw(floats())
    weights, inputs = [Value(w) for w in ws], [Value(x) for x in xs]
    out = Value.dot(weights, inputs, Value(b))
    total = b
    for w, x in zip(ws, xs):
        total = total + w * x
    assert out.data == total  # to the bit
    assert out._partials == (*xs, *ws, 1.0)
    assert out._prev == (*weights, *inputs, out._prev[-1])


def test_dot_takes_numbers_as_inputs_and_refuses_other_weights():
    w = [Value(2.0), Value(3.0)]
    out = Value.dot(w, [1, Value(4.0)], Value(0.5))
    assert out.data == 0.5 + 2.0 + 12.0 and all(type(p) is Value for p in out._prev)
    with pytest.raises(TypeError, match="dot: weights must be Values"):
        Value.dot([Value(1.0), 2.0], [1.0, 1.0], Value(0.0))
    with pytest.raises(ValueError, match="dot: 2 weights but 1 inputs"):
        Value.dot(w, [1.0], Value(0.0))


def scores_and_labels(seed: int) -> tuple[list[Value], list[float], list[Value]]:
    rng = random.Random(seed)
    scores = [Value(rng.uniform(-2, 2)) for _ in range(20)]
    labels = [rng.choice([-1.0, 1.0]) for _ in range(20)]
    params = [Value(rng.uniform(-1, 1)) for _ in range(30)]
    return scores, labels, params


@pytest.mark.parametrize("seed", range(5))
def test_hinge_and_l2_as_one_node_each_give_the_numbers_of_their_sums(seed):
    scores, labels, params = scores_and_labels(seed)
    loss = hinge_loss(scores, labels) + l2_penalty(params, 1e-4)
    loss.backward()
    # the same loss written with Python's sum, one node per +, as micrograd's demo does
    scores2, labels2, params2 = scores_and_labels(seed)
    terms = [(1 + -y * s).relu() for y, s in zip(labels2, scores2)]
    plain = sum(terms) * (1.0 / len(terms)) + 1e-4 * sum(p * p for p in params2)
    plain.backward()
    assert loss.data == plain.data
    assert [v.grad for v in scores + params] == [v.grad for v in scores2 + params2]
    hinge_sum = hinge_loss(scores, labels, reduction="sum")
    assert hinge_sum._op == "sum" and l2_penalty(params, 0.1)._prev[1]._op == "dot"


def test_the_losses_still_run_on_micrographs_values():
    engine = pytest.importorskip("micrograd.engine")
    scores = [engine.Value(0.5), engine.Value(-2.0)]
    loss = hinge_loss(scores, [1.0, -1.0]) + l2_penalty(scores, 0.5)
    assert isinstance(loss, engine.Value)
    assert loss.data == (0.5 + 0.0) * 0.5 + 0.5 * (0.25 + 4.0)


def test_l2_penalty_of_no_parameters_is_zero():
    assert l2_penalty([], 0.5) == 0


class Doubled(nn.Neuron):
    """A neuron whose class calls through __call__ (which doubles): layers must call it."""

    def __call__(self, x: Any) -> Value:
        return self.forward(x) * 2


def test_layers_call_forward_directly_unless_a_class_has_its_own_call():
    layer = nn.Layer(2, 3, seed=0)
    plain = [v.data for v in layer([1.0, -1.0])]
    layer.neurons[1] = Doubled(2, seed=0)
    layer.neurons[1].w = layer.neurons[0].w
    out = [v.data for v in layer([1.0, -1.0])]
    assert out[0] == plain[0] and out[1] == 2 * plain[0] and out[2] == plain[2]


def test_sgd_updates_tensors_in_place_and_the_version_check_sees_it():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    data = w.data
    optimizer = nn.optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    stale = (w * w).sum()  # recorded before the step
    optimizer.step()
    assert w.data is data and w.data.tolist() == [0.0, 0.0]  # in place, as `w.data -= ...`
    with pytest.raises(RuntimeError, match="was changed after the forward pass"):
        stale.backward()
    fresh = (w * w).sum()
    fresh.backward()  # a graph recorded after the step is fine


def test_changed_in_place_moves_every_version_on_past_every_recorded_node():
    a, b = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    y = a * b
    before = (a._version, b._version)
    changed_in_place([a, b])
    assert a._version > before[0] and b._version > before[1] and a._version > y._recorded
    with pytest.raises(RuntimeError, match="inputs 0 and 1|input 0"):
        y.backward()
