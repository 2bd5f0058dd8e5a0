"""The scalar Value: micrograd compatibility, accumulation, errors, deep graphs."""

import math

import numpy as np
import pytest

from autodiff import DivisionByZeroError, DomainError, Value, no_grad, topological_order


def micrograd_more_ops():
    """micrograd's own `test_more_ops` expression."""
    a = Value(-4.0)
    b = Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return a, b, g


def test_micrograd_readme_numbers():
    a, b, g = micrograd_more_ops()
    assert g.data == pytest.approx(24.70408163265306, abs=1e-9)
    assert a.grad == pytest.approx(138.83381924198252, abs=1e-9)
    assert b.grad == pytest.approx(645.5772594752187, abs=1e-9)


def test_micrograd_sanity_check_against_torch():
    torch = pytest.importorskip("torch")
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xt = torch.tensor([-4.0], dtype=torch.double, requires_grad=True)
    zt = 2 * xt + 2 + xt
    qt = zt.relu() + zt * xt
    ht = (zt * zt).relu()
    yt = ht + qt + qt * xt
    yt.backward()
    assert y.data == yt.item()
    assert x.grad == xt.grad.item()


def test_micrograd_more_ops_against_torch():
    torch = pytest.importorskip("torch")
    a, b, g = micrograd_more_ops()
    at = torch.tensor([-4.0], dtype=torch.double, requires_grad=True)
    bt = torch.tensor([2.0], dtype=torch.double, requires_grad=True)
    c = at + bt
    d = at * bt + bt**3
    c = c + c + 1
    c = c + 1 + c + (-at)
    d = d + d * 2 + (bt + at).relu()
    d = d + 3 * d + (bt - at).relu()
    f = (c - d) ** 2
    gt = f / 2.0 + 10.0 / f
    gt.backward()
    assert g.data == pytest.approx(gt.item(), rel=1e-12)
    assert a.grad == pytest.approx(at.grad.item(), rel=1e-12)
    assert b.grad == pytest.approx(bt.grad.item(), rel=1e-12)


def test_inputs_are_recorded_in_order_with_one_edge_per_use():
    x = Value(3.0)
    y = x * x
    assert y._prev == (x, x) and y._op == "*"
    assert y._local_partials() == (3.0, 3.0)
    z = x - Value(1.0)
    assert z._prev[0] is x


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda x: x * x, 6.0),  # two edges into x
        (lambda x: x + x, 2.0),
        (lambda x: (x + x) + (x + x), 4.0),  # b = a + a; c = b + b
        (lambda x: (x * 2) * (x + 1), 2 * 4.0 + 2 * 3.0),  # diamond: d/dx 2x(x+1) = 4x + 2
    ],
)
def test_gradients_from_several_paths_are_summed(build, expected):
    x = Value(3.0)
    build(x).backward()
    assert x.grad == pytest.approx(expected)


def test_b_equals_a_plus_a_then_c_equals_b_plus_b():
    a = Value(1.0)
    b = a + a
    c = b + b
    c.backward()
    assert (a.grad, b.grad, c.grad) == (4.0, 2.0, 1.0)


def test_backward_twice_leaves_accumulate_intermediates_do_not_double_count():
    a = Value(2.0)
    b = a * a
    c = b + b
    c.backward()
    c.backward()
    assert b.grad == 2.0  # this pass's gradient, not 4.0 (micrograd's bug)
    assert a.grad == 2 * 8.0  # leaves accumulate across calls, as in PyTorch


def test_a_million_node_chain_backpropagates_without_recursion():
    x, one = Value(1.0), Value(1.0)
    y = x
    for _ in range(1_000_000):
        y = y + one
    y.backward()
    assert y.data == 1_000_001.0
    assert x.grad == 1.0 and one.grad == 1_000_000.0
    assert len(topological_order(y)) == 1_000_002


def test_arithmetic_with_numbers_on_either_side():
    x = Value(2.0)
    assert (2 * x + 2 + x).data == 8.0
    assert (10.0 / x).data == 5.0
    assert (1 - x).data == -1.0
    assert (x - 1).data == 1.0
    assert (-x).data == -2.0
    assert (2**x).data == 4.0
    assert (np.float64(3.0) * x).data == 6.0  # numpy scalars defer to Value
    assert isinstance(np.float64(3.0) * x, Value)


def test_value_exponent_gradients():
    x, y = Value(2.0), Value(3.0)
    z = x**y
    z.backward()
    assert z.data == 8.0
    assert x.grad == pytest.approx(3 * 2.0**2)
    assert y.grad == pytest.approx(8.0 * math.log(2.0))


@pytest.mark.parametrize("x", [-1000.0, -50.0, 0.0, 50.0, 1000.0])
def test_sigmoid_is_stable_for_large_inputs(x):
    v = Value(x)
    s = v.sigmoid()
    s.backward()
    assert 0.0 <= s.data <= 1.0 and math.isfinite(v.grad)
    assert s.data == pytest.approx(1 / (1 + math.exp(-x)) if x > -700 else 0.0)


def test_square_root_at_zero_has_an_infinite_slope_like_numpy():
    x = Value(0.0)
    (x**0.5).backward()
    assert x.grad == math.inf
    y = Value(0.0)
    (y ** Value(0.5)).backward()
    assert y.grad == math.inf
    z = Value(0.0)
    (z**0).backward()
    assert z.grad == 0.0


def test_exp_overflow_gives_inf_like_numpy():
    assert Value(1000.0).exp().data == math.inf


def test_no_grad_records_nothing():
    x = Value(2.0)
    with no_grad():
        y = x * x + 1
    assert y._prev == () and y._op == ""
    z = x * x
    assert z._prev == (x, x)


def test_label_and_repr():
    x = Value(-4.0, label="x")
    assert repr(x) == "Value(data=-4.0, grad=0.0, label='x')"
    assert "op='*'" in repr(x * 2)


def test_comparisons_compare_data():
    assert Value(1.0) < Value(2.0) and Value(3.0) >= 3 and not Value(1.0) > 2


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: Value("abc"), TypeError, ["Value", "str", "abc"]),
        (lambda: Value(None), TypeError, ["Value", "NoneType"]),
        (lambda: Value([1.0]), TypeError, ["Value", "list"]),
        (lambda: Value(1) + "x", TypeError, ["+", "str", "'x'"]),
        (lambda: "x" * Value(1), TypeError, ["*", "str"]),
        (lambda: Value(0.0).log(), DomainError, ["log", "positive", "0.0"]),
        (lambda: Value(-2.0).log(), ValueError, ["log", "-2.0"]),
        (lambda: Value(0.0) ** -1, DivisionByZeroError, ["**", "0.0", "-1"]),
        (lambda: Value(1.0) / 0, ZeroDivisionError, ["/", "division by zero"]),
        (lambda: Value(1.0) / Value(0.0), ValueError, ["/", "1.0 / 0.0"]),
        (lambda: Value(-8.0) ** 0.5, DomainError, ["**", "-8.0", "integer exponent"]),
        (lambda: Value(-2.0) ** Value(2.0), DomainError, ["**", "base >= 0"]),
        (lambda: Value(2.0) ** "x", TypeError, ["**", "exponent", "str"]),
        (lambda: Value(1.0) < "a", TypeError, ["<", "str"]),
        (lambda: Value(1.0).leaky_relu("big"), TypeError, ["leaky_relu", "slope"]),
        (lambda: Value.dot([Value(1.0)], [1.0, 2.0], Value(0.0)), ValueError, ["dot", "1", "2"]),
    ],
)
def test_bad_input_names_the_op_and_operand(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_dot_is_one_node_with_one_partial_per_input():
    w = [Value(0.5), Value(-2.0)]
    b = Value(0.25)
    out = Value.dot(w, [3.0, 4.0], b)
    assert out.data == ((0.25 + 0.5 * 3.0) + -2.0 * 4.0)
    assert len(out._prev) == 5 and out._local_partials() == (3.0, 4.0, 0.5, -2.0, 1.0)
    out.backward()
    assert [p.grad for p in w] == [3.0, 4.0] and b.grad == 1.0


def test_sum_is_one_node():
    xs = [Value(float(i)) for i in range(5)]
    s = Value.sum(xs)
    s.backward()
    assert s.data == 10.0 and len(s._prev) == 5 and all(x.grad == 1.0 for x in xs)
