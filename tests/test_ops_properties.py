"""Every op of the catalogue (tests/ops_catalogue.py) against central differences: first
derivatives, second derivatives (of the op squared, so piecewise-linear ops have curvature
too), float32 in and out, NaN through the elementwise ones; einsum over many subscripts; and
every backward rule of the new op modules exercised by the catalogue."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from ops_catalogue import CATALOGUE, EINSUM, Op

import autodiff
from autodiff import Tensor, topological_order
from autodiff.tensor import VJP_RULES
from autodiff.testing import arrays, assert_gradients_match, assert_second_derivatives_match

# A quarter of the profile's examples per op (10 under HYPOTHESIS_PROFILE=ci): the catalogue
# is long, and each op also meets PyTorch in tests/test_ops_torch.py.
FEW = settings(max_examples=max(5, settings().max_examples // 4))
NEW_MODULES = ("activations", "maths", "rounding", "reductions", "scan", "sorting", "indexing",
               "layout", "einsum")  # fmt: skip
IDS = [op.name for op in CATALOGUE]


def leaves(xs: list, dtype: type = np.float64) -> list:
    return [Tensor(np.asarray(x, dtype=dtype), requires_grad=True) for x in xs]


def squared(op: Op):
    return lambda *ts: op.fn(*ts) ** 2


@pytest.mark.parametrize("op", CATALOGUE, ids=IDS)
@FEW
@given(data=st.data())
def test_gradients_match_finite_differences(op: Op, data) -> None:
    xs = data.draw(op.inputs())
    assert_gradients_match(op.fn, *leaves(xs))


@pytest.mark.parametrize("op", CATALOGUE, ids=IDS)
@FEW
@given(data=st.data())
def test_second_derivatives_match_finite_differences(op: Op, data) -> None:
    xs = data.draw(op.inputs())
    assert_second_derivatives_match(squared(op), *leaves(xs))


@pytest.mark.parametrize("op", CATALOGUE, ids=IDS)
@settings(max_examples=max(3, settings().max_examples // 10))  # dtypes hardly depend on values
@given(data=st.data())
def test_float32_stays_float32(op: Op, data) -> None:
    ts = leaves(data.draw(op.inputs()), np.float32)
    out = op.fn(*ts)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, np.float32))
    for t in ts:
        assert t.grad is not None and t.grad.dtype == np.float32


@pytest.mark.parametrize("op", [op for op in CATALOGUE if op.nan_elementwise], ids=lambda o: o.name)
def test_nan_propagates_through_elementwise_ops(op: Op) -> None:
    x = Tensor([np.nan, 0.25, 0.5], requires_grad=True)
    out = op.fn(x)
    assert np.isnan(out.data[0]) and np.isfinite(out.data[1:]).all()
    out.backward(np.ones(3))
    assert np.isfinite(x.grad[1:]).all()


def _first_example(strategy: st.SearchStrategy):
    found = []

    @settings(max_examples=1, phases=[Phase.generate], database=None)
    @given(strategy)
    def capture(value) -> None:
        found.append(value)

    capture()
    return found[0]


def test_every_new_rule_is_in_the_catalogue() -> None:
    ours = {name for name, rule in VJP_RULES.items() if _rule_module(rule) in NEW_MODULES}
    seen = {"einsum"}  # einsum has its own table below
    for op in CATALOGUE:
        xs = _first_example(op.inputs())
        seen |= {node._op for node in topological_order(op.fn(*leaves(xs)))}
    assert "gelu" in ours and ours - seen == set()


def _rule_module(rule) -> str:
    first = rule[0] if isinstance(rule, tuple) else rule
    module = getattr(first, "__module__", "") or type(first).__module__
    return module.rsplit(".", 1)[-1] if module.startswith("autodiff.tensor_ops") else ""


# --------------------------------------------------------------------------------------------
# einsum over many subscripts: diagonals, broadcasting ellipses, implicit outputs, 3 operands
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("equation, shapes", EINSUM, ids=[e for e, _ in EINSUM])
@FEW
@given(data=st.data())
def test_einsum_gradients_match_finite_differences(equation: str, shapes: list, data) -> None:
    xs = [data.draw(arrays(s)) for s in shapes]
    out = autodiff.einsum(equation, *leaves(xs))
    if "..." not in equation or "->..." in equation or "->" not in equation:
        np.testing.assert_allclose(out.data, np.einsum(equation, *xs), rtol=1e-12, atol=1e-12)
    assert_gradients_match(lambda *ts: autodiff.einsum(equation, *ts), *leaves(xs))
    assert_second_derivatives_match(lambda *ts: autodiff.einsum(equation, *ts) ** 2, *leaves(xs))


def test_einsum_with_one_operand_used_twice_and_a_constant() -> None:
    x = Tensor(np.array([[1.0, 2.0], [3.0, 5.0]]), requires_grad=True)
    c = np.array([[0.5, -1.0], [2.0, 0.25]])
    assert_gradients_match(lambda t: autodiff.einsum("ij,jk,ki->", t, c, t), x)
    assert_second_derivatives_match(lambda t: autodiff.einsum("ij,jk,ki->", t, c, t), x)
