"""``Value.backward()`` (`autodiff.graph.backpropagate_numeric`) skips the edges of a node whose
gradient is zero, when its partials are finite: adding zeros changes no bit of any sum. It must
give exactly the numbers of the same pass without the skip, -0.0, inf and nan included, and
must not skip a zero gradient times an infinite or nan partial (which is nan, and spreads).
"""

from __future__ import annotations

import math
import struct

from hypothesis import given
from hypothesis import strategies as st

from autodiff import Value
from autodiff.graph import topological_order

SPECIAL = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, math.inf, -math.inf, math.nan, 1e308])
NUMBERS = st.one_of(SPECIAL, st.floats(-3, 3))


def _bits(x: float) -> bytes:
    return struct.pack("<d", x) if not math.isnan(x) else b"nan"


# Each step combines earlier nodes; relu and a multiplication by 0 make zero gradients.
STEP = st.tuples(st.sampled_from(["relu", "*", "+", "dot", "*0", "-"]), st.integers(0, 99),
                 st.integers(0, 99), st.integers(0, 99))  # fmt: skip


def _build(values: list[float], steps: list[tuple]) -> Value:
    nodes = [Value(v) for v in values]
    for op, i, j, k in steps:
        a, b, c = (nodes[n % len(nodes)] for n in (i, j, k))
        if op == "relu":
            nodes.append(a.relu())
        elif op == "*":
            nodes.append(a * b)
        elif op == "+":
            nodes.append(a + b)
        elif op == "-":
            nodes.append(a - b)
        elif op == "*0":
            nodes.append(a * 0.0)
        else:
            nodes.append(Value.dot([a, b], [b, c], a))
    return nodes[-1]


def _every_edge(root: Value) -> list[float]:
    """The pass without the skip: every edge's product added into .grad, in the same order."""
    order = topological_order(root)
    for node in order:
        node.grad = 0.0
    root.grad = 1.0
    for node in reversed(order):
        for parent, partial in zip(node._prev, node._partials):
            parent.grad += node.grad * partial
    return [node.grad for node in order]


@given(st.lists(NUMBERS, min_size=1, max_size=4), st.lists(STEP, min_size=1, max_size=12))
def test_backward_gives_the_bits_of_every_edge(values: list[float], steps: list) -> None:
    out = _build(values, steps)
    order = topological_order(out)
    expected = _every_edge(out)
    for node in order:
        node.grad = 0.0  # leaves would add the reference's gradients to this pass's
    out.backward()
    for node, grad in zip(order, expected):
        assert _bits(node.grad) == _bits(grad), (node, grad)


class CountingPartial(float):
    """A partial that counts the products it takes part in."""

    products = 0

    def __rmul__(self, grad: float) -> float:
        CountingPartial.products += 1
        return grad * float(self)


def _node_with_partials(inputs: tuple, partials: tuple) -> Value:
    node = Value.dot(list(inputs), [1.0] * len(inputs), Value(0.0))
    node._prev, node._partials = inputs, partials
    return node


def test_a_zero_gradient_is_not_spread_unless_a_partial_is_infinite() -> None:
    a, b = Value(1.0), Value(2.0)
    dead = _node_with_partials((a, b), (CountingPartial(3.0), CountingPartial(4.0)))
    out = dead * 0.0 + a  # dead's gradient is 0.0
    CountingPartial.products = 0
    out.backward()
    assert CountingPartial.products == 0
    assert (a.grad, b.grad) == (1.0, 0.0)

    live = _node_with_partials((a, b), (CountingPartial(3.0), CountingPartial(4.0)))
    CountingPartial.products = 0
    (live * 2.0).backward()
    assert CountingPartial.products == 2  # a nonzero gradient goes through every edge

    a, b = Value(1.0), Value(2.0)
    infinite = _node_with_partials((a, b), (math.inf, 4.0))
    (infinite * 0.0).backward()
    assert math.isnan(a.grad)  # 0 * inf: nan, as the general driver gives
    assert b.grad == 0.0
