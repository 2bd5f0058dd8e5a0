"""autodiff.compile: the recorded graph written out as Python, equal to backward() to the bit.

Random scalar and tensor programs (broadcasting, reused nodes, kinks) are compiled on one input
and evaluated on others, on both sides of every kink; the generated code must give exactly the
numbers define-by-run gives there. Also: the article's example as source, batched evaluation
against a loop, the argument guard, export to a module that runs without autodiff, the
two-layer network of "A Neural Network in 11 lines of Python", and names shared with the
drawing and the trace.
"""

from __future__ import annotations

import math
import random
import re
import struct
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import autodiff
from autodiff import Tensor, Value, compile, value_and_grad
from autodiff.compiler import CompileWarning
from autodiff.compiler.expr import Expr, binary, render
from autodiff.compiler.source import layout
from autodiff.errors import DomainError
from autodiff.testing import arrays, broadcastable_shapes, floats, matmul_shapes
from nn import MLP
from nn.demo import moons_data

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).parent / "ruff"


def same_bits(a: Any, b: Any) -> bool:
    """Equal as numbers, NaN equal to NaN, and the same sign of zero; shapes must agree. (The
    sign of a NaN means nothing: nan + nan takes either one's, by the order the hardware adds.)"""
    x, y = np.asarray(_plain(a), dtype=float), np.asarray(_plain(b), dtype=float)
    return (
        x.shape == y.shape
        and np.array_equal(x, y, equal_nan=True)
        and np.array_equal(np.signbit(x) & (x == x), np.signbit(y) & (y == y))
    )


def _plain(x: Any) -> Any:
    if isinstance(x, (Value, Tensor)):
        return x.data
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def assert_same(compiled_result: tuple, reference: tuple) -> None:
    value, grads = compiled_result
    ref_value, ref_grads = reference
    assert same_bits(value, ref_value), (value, ref_value)
    for got, expected in zip(grads, ref_grads):
        assert same_bits(got, expected), (got, expected)


def reference(f: Callable, *args: Any) -> tuple | None:
    """value_and_grad of every argument, or None where define-by-run refuses the input."""
    try:
        return value_and_grad(f, argnums=tuple(range(len(args))))(*args)
    except (DomainError, ZeroDivisionError):
        return None


def backward_reference(f: Callable, *args: Any) -> tuple:
    """f's value and each argument's .grad after ``f(...).backward()`` on fresh Values (an
    argument may be a list of numbers: a list of gradients)."""
    leaves = [[Value(v) for v in a] if isinstance(a, list) else Value(a) for a in args]
    out = f(*leaves)
    out.backward()
    grads = [[v.grad for v in x] if isinstance(x, list) else x.grad for x in leaves]
    return out.data, tuple(grads)


# --------------------------------------------------------------------------------------------
# The article's example: the teaching artefact
# --------------------------------------------------------------------------------------------


def pig_farm(x1: Any, x2: Any, x3: Any) -> Any:
    """y = 5 x1^2 + 8 x2 + 35 x3 + 30: years, farm area, employees."""
    y = 5 * x1**2 + 8 * x2 + 35 * x3 + 30
    y.label = "y"
    return y


ARTICLE_FUNCTION = '''\
def pig_farm(x1, x2, x3):
    """The value of pig_farm and its gradient with respect to x1, x2, x3."""
    # forward: one line per node (v<n> is the node #<n> of trace)
    v2 = power(x1, 2.0)  # ** 2
    v3 = 5.0 * v2  # *
    v6 = 8.0 * x2  # *
    v7 = v3 + v6  # +
    v10 = 35.0 * x3  # *
    v11 = v7 + v10  # +
    y = v11 + 30.0  # +
    # backward: one line per edge, from the output back to the inputs;
    # g_<name> is d y / d <name>: upstream gradient times local partial
    g_y = 1.0  # d y / d y
    g_v11 = g_y  # +
    g_v7 = g_v11  # +
    g_v10 = g_v11  # +
    g_x3 = g_v10 * 35.0  # *
    g_v3 = g_v7  # +
    g_v6 = g_v7  # +
    g_x2 = g_v6 * 8.0  # *
    g_v2 = g_v3 * 5.0  # *
    g_x1 = g_v2 * (2.0 * x1)  # ** 2
    # + 0.0 makes a gradient of -0.0 +0.0, as backward() sums into a .grad from 0.0
    return y, (g_x1 + 0.0, g_x2, g_x3)
'''


def test_the_articles_example_compiles_to_the_chain_rule_written_out() -> None:
    compiled = compile(pig_farm, 2.0, 1.0, 4.0)
    print(compiled.source)
    assert compiled.source.endswith(ARTICLE_FUNCTION)
    # dy/dx3 = 35: each employee sells 35 more pigs; dy/dx2 = 8; dy/dx1 = 10 x1
    assert compiled(2.0, 1.0, 4.0) == (198.0, (20.0, 8.0, 35.0))
    assert compiled(7.0, 3.0, 0.5) == (316.5, (70.0, 8.0, 35.0))
    assert "import numpy" not in compiled.source  # plain floats need only math


@given(floats(), floats(), floats())
def test_the_articles_example_equals_backward_everywhere(a: float, b: float, c: float) -> None:
    compiled = compile(pig_farm, 2.0, 1.0, 4.0)
    assert_same(compiled(a, b, c), backward_reference(pig_farm, a, b, c))  # -0.0 included
    assert_same(compiled(a, b, c), reference(pig_farm, a, b, c))
    assert_same(compiled(-0.0, b, c), backward_reference(pig_farm, -0.0, b, c))


# --------------------------------------------------------------------------------------------
# Random scalar programs
# --------------------------------------------------------------------------------------------

SCALAR_UNARY: dict[str, Callable] = {
    "neg": lambda a: -a,
    "tanh": lambda a: a.tanh(),
    "sigmoid": lambda a: a.sigmoid(),
    "exp of tanh": lambda a: a.tanh().exp(),
    "log of square + 1": lambda a: (a * a + 1).log(),
    "sqrt of square + 1": lambda a: (a * a + 1) ** 0.5,
    "square": lambda a: a**2,
    "cube": lambda a: a**3,
    "relu": lambda a: a.relu(),
    "leaky_relu": lambda a: a.leaky_relu(0.1),
    "times 3": lambda a: 3 * a,
    "minus 1": lambda a: a - 1,
    "2 ** a": lambda a: 2**a,
}
SCALAR_BINARY: dict[str, Callable] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/ (square + 1)": lambda a, b: a / (b * b + 1),
    "dot": lambda a, b: Value.dot([a, b], [b, a], a),
    "sum": lambda a, b: Value.sum([a, b, a]),
    "1 / b": lambda a, b: 1 / (b * b + 0.5),
    "** (a Value exponent)": lambda a, b: (a * a + 0.5) ** b,
    "relu ** square": lambda a, b: a.relu() ** (b * b),  # 0 ** 0, 0 ** b: the rule's selects
}


@st.composite
def scalar_programs(draw: st.DrawFn) -> tuple[list, list, list]:
    """Three inputs, a second set of inputs to evaluate at, and up to 12 steps; each step
    applies an op to earlier nodes, so nodes are reused (x * x) and graphs grow deep."""
    values = st.one_of(floats(-3, 3), st.sampled_from([0.0, -0.0, 1.0, -1.0]))
    inputs = [draw(values) for _ in range(3)]
    others = [draw(values) for _ in range(3)]
    steps = []
    for step in range(draw(st.integers(1, 12))):
        pick = st.integers(0, len(inputs) + step - 1)
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(sorted(SCALAR_UNARY))), (draw(pick),)))
        else:
            steps.append((draw(st.sampled_from(sorted(SCALAR_BINARY))), (draw(pick), draw(pick))))
    return inputs, others, steps


def run_steps(steps: list, catalogue: tuple[dict, dict], *inputs: Any) -> list:
    unary, binary = catalogue
    nodes = list(inputs)
    for name, operands in steps:
        op = unary.get(name) or binary[name]
        nodes.append(op(*(nodes[i] for i in operands)))
    return nodes


@pytest.mark.filterwarnings("ignore::autodiff.compiler.CompileWarning")  # unused inputs
@given(scalar_programs())
def test_random_scalar_programs_equal_define_by_run_to_the_bit(program: tuple) -> None:
    inputs, others, steps = program

    def f(a: Value, b: Value, c: Value) -> Value:
        nodes = run_steps(steps, (SCALAR_UNARY, SCALAR_BINARY), a, b, c)
        return nodes[-1] + 0.5 * nodes[-2] if len(nodes) > 3 else nodes[-1]

    expected = reference(f, *inputs)
    assume(expected is not None and all(math.isfinite(g) for g in expected[1]))
    compiled = compile(f, *inputs)
    assert_same(compiled(*inputs), expected)
    assert_same(compiled(*inputs), backward_reference(f, *inputs))  # the sign of zero too
    elsewhere = reference(f, *others)  # the other side of every kink the trace crossed
    if elsewhere is not None:
        assert_same(compiled(*others), elsewhere)
        assert_same(compiled(*others), backward_reference(f, *others))


def test_a_zero_gradient_has_the_sign_backward_gives_it() -> None:
    # d/dy = relu'(x y) x = 0 * -1 = -0.0 on its one path; Value.backward sums the paths into
    # a .grad that starts at 0.0 (as micrograd's does), which makes it +0.0
    def f(x: Value, y: Value) -> Value:
        return (x * y).relu() + x.leaky_relu()

    compiled = compile(f, -1.0, 2.0)
    for args in ((-1.0, 2.0), (-0.0, 2.0), (1.0, -0.0), (-1.0, -0.0), (math.nan, 0.0)):
        expected = backward_reference(f, *args)
        assert_same(compiled(*args), expected)
        assert_same(reference(f, *args), expected)  # value_and_grad gives what backward gives
    _, (_, g_y) = compiled(-1.0, 2.0)
    assert struct.pack("<d", g_y) == struct.pack("<d", 0.0)
    assert compiled.source.rstrip().endswith("return v5, (g_x + 0.0, g_y + 0.0)")

    constant_slopes = [  # gradients that read no argument: + 0.0 only where one is -0.0
        (lambda x: x * -0.0, "(g_x + 0.0,)"),
        (lambda x: x * -0.0 + x * -0.0, "(g_x + 0.0,)"),
        (lambda x: x * 1e-200 * -1e-200, "(g_x + 0.0,)"),  # underflows to -0.0
        (lambda x: x * 0.0, "(g_x,)"),
        (lambda x: 3 * x - x, "(g_x,)"),
    ]
    for g, returned in constant_slopes:
        compiled = compile(g, 1.0)
        assert compiled.source.rstrip().endswith(returned), compiled.source
        for x in (1.0, -0.0, math.inf):
            assert_same(compiled(x), backward_reference(g, x))

    def hinge(params: list, x: list, label: float) -> Value:  # a list argument: each gradient
        return (1 + -label * model(x)).relu()

    model = MLP(2, [4, 1], seed=3)
    params = [p.data for p in model.parameters()]
    step = compile(hinge, model.parameters(), [0.5, -1.0], 1.0, argnums=0)
    for point in ([0.5, -1.0], [-0.0, 0.0], [2.0, 3.0], [-2.0, 0.25]):
        for label in (1.0, -1.0):
            value, grads = step(params, point, label)
            for p in model.parameters():
                p.grad = 0.0
            out = hinge(None, point, label)
            out.backward()
            assert same_bits(value, out.data)
            assert same_bits(grads, [p.grad for p in model.parameters()])


# --------------------------------------------------------------------------------------------
# Kinks: traced on one side, right on the other
# --------------------------------------------------------------------------------------------

SCALAR_KINKS = {
    "relu": lambda x: x.relu() * 3,
    "leaky_relu": lambda x: x.leaky_relu(0.01) * 3,
    "relu of relu": lambda x: (x.relu() - 0.5).relu(),
    "hinge": lambda x: (1 + -1.0 * x).relu(),
}


@pytest.mark.parametrize("name", sorted(SCALAR_KINKS))
@pytest.mark.parametrize("traced_at", [-2.0, 0.0, 2.0])
def test_scalar_kinks_are_right_on_both_sides(name: str, traced_at: float) -> None:
    f = SCALAR_KINKS[name]
    compiled = compile(f, traced_at)
    for x in (-3.0, -1e-300, -0.0, 0.0, 1e-300, 0.5, 1.0, 3.0):
        assert_same(compiled(x), reference(f, x))


TENSOR_KINKS = {
    "relu": lambda x, y: (x.relu() * y).sum(),
    "abs": lambda x, y: (x.abs() * y).sum(),
    "leaky_relu": lambda x, y: (x.leaky_relu(0.01) * y).sum(),
    "clip": lambda x, y: (x.clip(-0.5, 0.5) * y).sum() + x.clip(low=0.0).sum(),
    "maximum": lambda x, y: (autodiff.maximum(x, y) + autodiff.minimum(x, 0.0)).sum(),
    "max over an axis": lambda x, y: (x.max(axis=0) * y).sum() + x.min(),
    "where on a comparison": lambda x, y: autodiff.where(x > y, x * x, y).sum(),
    # the mask's operand x * 2 - y is on no path to the output: it is computed for the mask
    "where on a computed mask": lambda x, y: autodiff.where((x * 2 - y) > 0, x, y).sum(),
}


@pytest.mark.parametrize("name", sorted(TENSOR_KINKS))
def test_tensor_kinks_are_right_on_both_sides(name: str) -> None:
    f = TENSOR_KINKS[name]
    rng = np.random.default_rng(0)
    traced = np.abs(rng.standard_normal((3, 4))) + 1  # every element on the positive side
    y = rng.standard_normal(4)
    compiled = compile(f, traced, y)
    for x in (-traced, np.zeros((3, 4)), rng.standard_normal((3, 4)), np.full((3, 4), -0.0)):
        x = x.copy()
        x[0, :] = y  # ties with y, for maximum and where
        x[1, 0] = 0.5  # the edge of clip
        assert_same(compiled(x, y), reference(f, x, y))


SCALAR_SPECIAL = {
    "relu": lambda x: x.relu(),  # nan stays nan, with slope 1 (as PyTorch)
    "leaky_relu": lambda x: x.leaky_relu(0.01),
    "x**3": lambda x: x**3,  # inf where it overflows, -inf below
    "x**1000": lambda x: x**1000,
    "x**0": lambda x: x**0,  # slope 0 everywhere, even at 0, inf and nan
    "x**-1": lambda x: x**-1,  # 0 ** -1 divides by zero: refused, as Value refuses it
    "x**-2": lambda x: x**-2,
    "x**0.5": lambda x: x**0.5,  # infinite slope at 0; a negative base is refused
    "x**2.5 of x - 1": lambda x: (x - 1) ** 2.5,
    "exp": lambda x: x.exp(),  # inf, not OverflowError
    "log": lambda x: x.log(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "2/x": lambda x: 2 / x,
    "sum": lambda x: Value.sum([x, x, 1.0]),
    "dot": lambda x: Value.dot([x, Value(2.0)], [3.0, x], Value(1.0)),
}
SPECIAL_NUMBERS = (math.nan, math.inf, -math.inf, 0.0, -0.0, 1e200, -1e200, 1e-300, -2.0, 3.0)


@pytest.mark.parametrize("name", sorted(SCALAR_SPECIAL))
def test_scalar_ops_on_nan_inf_and_zeros_give_what_value_gives(name: str) -> None:
    f = SCALAR_SPECIAL[name]
    compiled = compile(f, 2.0)
    for x in SPECIAL_NUMBERS:
        try:
            expected = value_and_grad(f)(x)
        except (ValueError, ZeroDivisionError) as refused:  # DomainError, DivisionByZeroError
            kind = ZeroDivisionError if isinstance(refused, ZeroDivisionError) else ValueError
            with pytest.raises(kind):
                compiled(x)
            continue
        value, (grad,) = compiled(x)
        assert same_bits(value, expected[0]) and same_bits(grad, expected[1]), (x, value, grad)


DOMAIN = {  # f, where it is traced, and inputs Value refuses
    "log": (lambda x, y: (x * y).log() + y, (1.0, 2.0), [(-1.0, 1.0), (0.0, 3.0), (-0.0, 1.0)]),
    "/": (lambda x, y: x / y + y, (1.0, 2.0), [(1.0, 0.0), (-2.5, -0.0), (0.0, 0.0)]),
    "1 / y": (lambda x, y: x * (1 / y), (1.0, 2.0), [(1.0, 0.0)]),
    "/ (x - y)": (lambda x, y: (x * x) / (x - y), (1.0, 2.0), [(3.0, 3.0)]),
    "** -1": (lambda x, y: (x - y) ** -1, (1.0, 2.0), [(2.0, 2.0)]),
    "** 0.5": (lambda x, y: (x - y) ** 0.5, (3.0, 2.0), [(1.0, 2.0)]),
}


def refusal(f: Callable, *args: float) -> Exception:
    with pytest.raises((DomainError, ZeroDivisionError)) as refused:
        f(*(Value(a) for a in args))
    return refused.value


@pytest.mark.parametrize("name", sorted(DOMAIN))
def test_inputs_value_refuses_raise_its_error_with_its_message(name: str) -> None:
    f, traced, refused_at = DOMAIN[name]
    compiled = compile(f, *traced)
    for args in refused_at:
        expected = refusal(f, *args)
        kind = ZeroDivisionError if isinstance(expected, ZeroDivisionError) else ValueError
        with pytest.raises(kind) as raised:
            compiled(*args)
        # the op and the values, as Value says them (its exponents are the numbers written)
        assert str(raised.value) == str(expected).replace("** -1 ", "** -1.0 "), name
        assert "Traceback" not in str(raised.value)
    assert_same(compiled(*traced), backward_reference(f, *traced))  # and fine inside


@pytest.mark.parametrize("name", sorted(DOMAIN))
def test_batched_calls_refuse_what_value_refuses_naming_the_sample(name: str) -> None:
    f, traced, refused_at = DOMAIN[name]
    batched = compile(f, *traced).batched(in_axes=(0, 0))
    for args in refused_at:
        xs, ys = np.array([traced[0], args[0], 5.0]), np.array([traced[1], args[1], 3.0])
        expected = refusal(f, *args)
        kind = ZeroDivisionError if isinstance(expected, ZeroDivisionError) else ValueError
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no RuntimeWarning from numpy: refused first
            with pytest.raises(kind) as raised:
                batched(xs, ys)
        message = str(expected).replace("** -1 ", "** -1.0 ")
        assert str(raised.value) == message + " (sample 1)", name
    xs, ys = np.array([traced[0], traced[0] + 4.0]), np.array([traced[1], traced[1] + 1.0])
    value, grads = batched(xs, ys)  # inputs inside the domain: the loop's numbers
    loop = [compile(f, *traced)(x, y) for x, y in zip(xs, ys)]
    assert value == pytest.approx(sum(v for v, _ in loop), rel=1e-12)
    np.testing.assert_allclose(grads, np.array([g for _, g in loop]).T, rtol=1e-12)


def test_saved_module_refuses_with_values_message_without_autodiff(tmp_path: Path) -> None:
    f = DOMAIN["log"][0]
    path = compile(f, 1.0, 2.0).save(tmp_path / "logged.py")
    ruff_check(path)
    code = RUNNER.format(folder=str(tmp_path), module="logged", function="f", args="(-1.0, 1.0)")
    done = subprocess.run([sys.executable, "-I", "-B", "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip().endswith(f"ValueError: {refusal(f, -1.0, 1.0)}"), done.stderr
    path = compile(lambda x, y: x / y, 1.0, 2.0).save(tmp_path / "divided.py")
    ruff_check(path)
    code = RUNNER.format(folder=str(tmp_path), module="divided", function="f", args="(1.0, 0.0)")
    done = subprocess.run([sys.executable, "-I", "-B", "-c", code], capture_output=True, text=True)
    assert done.stderr.strip().endswith("ZeroDivisionError: /: division by zero (1.0 / 0.0)")


def test_division_by_a_constant_is_written_as_a_division() -> None:
    source = compile(lambda x, y: x / 2.0 + x / y, 1.0, 2.0).source
    assert "v2 = x / 2.0  # /" in source and "v4 = divide(x, y)  # /" in source


def test_python_control_flow_is_fixed_at_the_traced_branch() -> None:
    def f(x: Value) -> Value:
        return x * 2 if x > 0 else x * x  # a branch on a value: compile takes the traced one

    compiled = compile(f, 1.0)
    assert compiled(-3.0) == (-6.0, (2.0,))  # the x > 0 branch, as jax.jit, torch.jit.trace
    assert value_and_grad(f)(-3.0) == (9.0, -6.0)


# --------------------------------------------------------------------------------------------
# Random tensor programs: broadcasting, reuse, reductions, kinks
# --------------------------------------------------------------------------------------------

TENSOR_UNARY: dict[str, Callable] = {
    "neg": lambda t: -t,
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "softplus": lambda t: t.softplus(),
    "exp of tanh": lambda t: t.tanh().exp(),
    "log of square + 1": lambda t: (t * t + 1).log(),
    "sqrt of square + 1": lambda t: (t * t + 1).sqrt(),
    "square": lambda t: t**2,
    "relu": lambda t: t.relu(),
    "abs": lambda t: t.abs(),
    "leaky_relu": lambda t: t.leaky_relu(0.1),
    "clip": lambda t: t.clip(-0.5, 0.5),
    "sum last axis, kept": lambda t: t.sum(axis=-1, keepdims=True) if t.ndim else t,
    "mean first axis": lambda t: t.mean(axis=0) if t.ndim else t,
    "max last axis, kept": lambda t: t.max(axis=-1, keepdims=True) if t.ndim else t,
    "softmax": lambda t: t.softmax(),
    "logsumexp, kept": lambda t: t.logsumexp(axis=-1, keepdims=True) if t.ndim else t,
    "var": lambda t: t.var(axis=-1, keepdims=True) if t.ndim else t,
    "reversed": lambda t: t[::-1] if t.ndim else t,
    "first row": lambda t: t[0] if t.ndim > 1 else t,
    "transposed": lambda t: t.T,
    "flattened": lambda t: t.reshape(-1),
    # maths
    "sin": lambda t: t.sin(),
    "cos": lambda t: t.cos(),
    "atan": lambda t: t.atan(),
    "asin of tanh": lambda t: t.tanh().asin(),
    "sinh": lambda t: t.sinh(),
    "erf": lambda t: t.erf(),
    "erfc": lambda t: t.erfc(),
    "log1p of |t|": lambda t: t.abs().log1p(),
    "expm1": lambda t: t.expm1(),
    "rsqrt of square + 1": lambda t: (t * t + 1).rsqrt(),
    # activations
    "gelu": lambda t: autodiff.gelu(t),
    "gelu tanh": lambda t: autodiff.gelu(t, approximate="tanh"),
    "silu": lambda t: autodiff.silu(t),
    "mish": lambda t: autodiff.mish(t),
    "elu": lambda t: autodiff.elu(t, 0.5),
    "selu": lambda t: autodiff.selu(t),
    "celu": lambda t: autodiff.celu(t, 2.0),
    "softsign": lambda t: autodiff.softsign(t),
    "logsigmoid": lambda t: autodiff.logsigmoid(t),
    "softplus, beta and threshold": lambda t: t.softplus(beta=2.0, threshold=1.0),
    "hardtanh": lambda t: autodiff.hardtanh(t, -0.5, 0.5),
    "relu6 of 3t": lambda t: autodiff.relu6(t * 3),
    "hardsigmoid of 3t": lambda t: autodiff.hardsigmoid(t * 3),
    "hardswish of 3t": lambda t: autodiff.hardswish(t * 3),
    # rounding (zero gradients), reductions, scans, softmax, sorting, layout
    "floor plus t": lambda t: t.floor() + t,
    "round times t": lambda t: t.round(decimals=1) * t,
    "prod last axis, kept": lambda t: t.prod(dim=-1, keepdim=True) if t.ndim else t.prod(),
    "std": lambda t: t.std(correction=0),
    "log_softmax": lambda t: autodiff.log_softmax(t),
    "cumsum": lambda t: t.cumsum(-1),
    "cumprod": lambda t: t.cumprod(0),
    "sorted": lambda t: t.sort(dim=-1).values,
    "top 1": lambda t: t.topk(1, dim=0).values,
    "cummax": lambda t: t.cummax(-1).values,
    "rolled": lambda t: t.roll(1),
    "lower triangle": lambda t: autodiff.tril(t) if t.ndim == 2 else t,
    "tiled": lambda t: t.tile((2,)),
}
TENSOR_BINARY: dict[str, Callable] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/ (square + 1)": lambda a, b: a / (b * b + 1),
    "maximum": lambda a, b: autodiff.maximum(a, b),
    "minimum": lambda a, b: autodiff.minimum(a, b),
    "where a > b": lambda a, b: autodiff.where(a > b, a, b),
    "logaddexp": lambda a, b: autodiff.logaddexp(a, b),
    "atan2": lambda a, b: autodiff.atan2(a, b),
    "% (square + 1)": lambda a, b: a % (b * b + 1),
    "lerp": lambda a, b: autodiff.lerp(a, b, 0.25),
    "mse_loss, none": lambda a, b: autodiff.mse_loss(a - b, a * b, reduction="none"),
    "l1_loss": lambda a, b: autodiff.l1_loss(a - b, a * b),
}


def _compatible(a: Tensor, b: Tensor) -> bool:
    try:
        np.broadcast_shapes(a.shape, b.shape)
        return True
    except ValueError:
        return False


@st.composite
def tensor_programs(draw: st.DrawFn) -> tuple[list, list, list]:
    first, second = draw(broadcastable_shapes(max_dims=2))
    inputs = [draw(arrays(first)), draw(arrays(second))]
    others = [draw(arrays(first)), draw(arrays(second))]
    steps = []
    for step in range(draw(st.integers(1, 10))):
        pick = st.integers(0, len(inputs) + step - 1)
        if draw(st.booleans()):
            steps.append((draw(st.sampled_from(sorted(TENSOR_UNARY))), (draw(pick),)))
        else:
            steps.append((draw(st.sampled_from(sorted(TENSOR_BINARY))), (draw(pick), draw(pick))))
    return inputs, others, steps


def _tensor_program(steps: list) -> Callable:
    def f(a: Tensor, b: Tensor) -> Tensor:
        nodes = [a, b]
        for name, operands in steps:
            args = [nodes[i] for i in operands]
            if len(args) == 2 and not _compatible(*args):
                args[1] = args[1].sum()  # shapes changed by reductions: keep it well formed
            op = TENSOR_UNARY.get(name) or TENSOR_BINARY[name]
            nodes.append(op(*args))
        return (nodes[-1] * nodes[-1]).sum() + nodes[-2].sum() * 0.5

    return f


@pytest.mark.filterwarnings("ignore::autodiff.compiler.CompileWarning")  # unused inputs
@given(tensor_programs())
def test_random_tensor_programs_equal_define_by_run_to_the_bit(program: tuple) -> None:
    inputs, others, steps = program
    f = _tensor_program(steps)
    expected = reference(f, *inputs)
    compiled = compile(f, *inputs)
    assert_same(compiled(*inputs), expected)
    assert_same(compiled(*others), reference(f, *others))


@given(matmul_shapes(), st.data())
def test_matmul_of_every_shape_numpy_allows(shapes: tuple, data: st.DataObject) -> None:
    a, b = (data.draw(arrays(shape)) for shape in shapes)

    def f(x: Tensor, y: Tensor) -> Tensor:
        return ((x @ y).tanh() * (x @ y)).sum()

    compiled = compile(f, a, b)
    assert_same(compiled(a, b), reference(f, a, b))
    a2, b2 = (data.draw(arrays(shape)) for shape in shapes)
    assert_same(compiled(a2, b2), reference(f, a2, b2))


@given(arrays((3, 2)), arrays((2,)))
def test_reused_nodes_and_float32(a: np.ndarray, b: np.ndarray) -> None:
    def f(x: Tensor, y: Tensor) -> Tensor:
        z = x * x + x  # x reached three times
        return (z * y + y).sum()  # y broadcast over rows, twice

    for dtype in (np.float64, np.float32):
        args = (a.astype(dtype), b.astype(dtype))
        compiled = compile(f, *args)
        value, grads = compiled(*args)
        assert value.dtype == dtype and all(g.dtype == dtype for g in grads)
        assert_same((value, grads), reference(f, *args))


def test_fused_ops_and_the_tensor_mlp_step() -> None:
    rng = np.random.default_rng(0)
    shapes = [(16, 2), (16,), (16, 16), (16,), (1, 16), (1,)]  # weights (out, in), as nn.Linear
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    x, y = rng.standard_normal((100, 2)).astype(np.float32), rng.standard_normal((100, 1))
    y = y.astype(np.float32)

    def loss(w1: Tensor, b1: Tensor, w2: Tensor, b2: Tensor, w3: Tensor, b3: Tensor,
             x: Tensor, y: Tensor) -> Tensor:  # fmt: skip
        h = autodiff.linear(x, w1, b1).relu()
        h = autodiff.linear(h, w2, b2).relu()
        return autodiff.mse_loss(autodiff.linear(h, w3, b3), y)

    compiled = compile(loss, *params, x, y, argnums=tuple(range(6)))
    expected = value_and_grad(loss, argnums=tuple(range(6)))(*params, x, y)
    assert_same(compiled(*params, x, y), expected)
    assert "ones100_float32 @ g_" in compiled.source  # a bias's gradient: the rows summed
    labels = rng.integers(0, 3, 5)
    logits = rng.standard_normal((5, 3))
    onehot = np.eye(3)[labels]

    def xent(z: Tensor, target: Tensor) -> Tensor:
        return autodiff.cross_entropy(z, target)

    compiled = compile(xent, logits, onehot, argnums=0)
    z2, t2 = rng.standard_normal((5, 3)), np.eye(3)[rng.integers(0, 3, 5)]
    value, g = compiled(z2, t2)  # the target is read from the argument, not frozen
    ref_value, ref_g = value_and_grad(xent)(z2, t2)
    assert same_bits(value, ref_value) and same_bits(g, ref_g)
    indices = compile(lambda z: autodiff.cross_entropy(z, labels), logits)  # class indices
    assert_same(indices(z2), reference(lambda z: autodiff.cross_entropy(z, labels), z2))


# --------------------------------------------------------------------------------------------
# A Neural Network in 11 lines of Python (iamtrask), side by side
# --------------------------------------------------------------------------------------------


def test_two_layer_sigmoid_network_reads_as_the_hand_written_backward_pass() -> None:
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
    y = np.array([[0, 1, 1, 0]], dtype=float).T
    rng = np.random.default_rng(1)
    syn0 = 2 * rng.random((3, 4)) - 1
    syn1 = 2 * rng.random((4, 1)) - 1

    def loss(syn0: Tensor, syn1: Tensor) -> Tensor:
        l1 = (Tensor(X, label="X") @ syn0).sigmoid()
        l1.label = "l1"
        l2 = (l1 @ syn1).sigmoid()
        l2.label = "l2"
        return (0.5 * (Tensor(y, label="y") - l2) ** 2).sum()

    compiled = compile(loss, syn0, syn1)
    print(compiled.source)
    body = compiled.source.split("def loss")[1]
    # the lines a reader puts beside the hand-written ones:
    #   l1 = sigmoid(X @ syn0); l2 = sigmoid(l1 @ syn1)
    #   l2_delta = (y - l2) * l2 * (1 - l2); l1_delta = l2_delta @ syn1.T * l1 * (1 - l1)
    #   syn1 += l1.T @ l2_delta; syn0 += X.T @ l1_delta
    for line in [
        "= X @ syn0  # matmul",
        "l1 = sigmoid(",
        "l2 = sigmoid(",
        "= y - l2  # -",
        "* (l2 * (1 - l2))  # sigmoid",
        "@ syn1.T  # matmul",
        "* (l1 * (1 - l1))  # sigmoid",
        "g_syn1 = l1.T @ ",
        "g_syn0 = X.T @ ",
    ]:
        assert line in body, line
    for _ in range(3):  # and it trains the same: the gradients are minus iamtrask's updates
        l1 = 1 / (1 + np.exp(-(X @ syn0)))
        l2 = 1 / (1 + np.exp(-(l1 @ syn1)))
        l2_delta = (y - l2) * (l2 * (1 - l2))
        l1_delta = (l2_delta @ syn1.T) * (l1 * (1 - l1))
        _, (g_syn0, g_syn1) = compiled(syn0, syn1)
        np.testing.assert_allclose(-g_syn1, l1.T @ l2_delta, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(-g_syn0, X.T @ l1_delta, rtol=1e-12, atol=1e-15)
        syn1 = syn1 + l1.T @ l2_delta
        syn0 = syn0 + X.T @ l1_delta


# --------------------------------------------------------------------------------------------
# Batching a scalar graph: micrograd's moons model, one sample traced, all evaluated at once
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moons() -> tuple:
    X, y = moons_data(seed=1337)
    random.seed(1337)
    model = MLP(2, [16, 16, 1])

    def sample_loss(params: list, x: list, label: float) -> Value:
        return (1 + -label * model(x)).relu()

    compiled = compile(sample_loss, model.parameters(), X[0], y[0])
    return model, compiled, np.array(X), np.array(y)


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_batched_equals_a_loop_over_the_samples(moons: tuple, reduce: str) -> None:
    model, compiled, X, y = moons
    params = np.array([p.data for p in model.parameters()])
    batched = compiled.batched(in_axes=(None, 0, 0), reduce=reduce)
    value, (g_params, g_x, g_y) = batched(params, X, y)
    total, g_total = 0.0, np.zeros_like(params)
    for k in range(len(X)):
        v, (gp, gx, gy) = compiled(params, X[k], y[k])
        total += v
        g_total += gp
        scale = 1 / len(X) if reduce == "mean" else 1.0
        np.testing.assert_allclose(g_x[k], np.array(gx) * scale, rtol=1e-12, atol=1e-15)
        assert g_y[k] == pytest.approx(gy * scale, rel=1e-12, abs=1e-15)
    if reduce == "mean":
        total, g_total = total / len(X), g_total / len(X)
    assert value == pytest.approx(total, rel=1e-12)
    np.testing.assert_allclose(g_params, g_total, rtol=1e-10, atol=1e-14)
    assert g_params.shape == params.shape and g_x.shape == X.shape and g_y.shape == y.shape


def test_batched_training_step_matches_micrograds_step(moons: tuple) -> None:
    """The demo's step (hinge loss + 1e-4 L2, SGD) with the per-sample loss batched."""
    from nn.demo import moons_step

    model, compiled, X, y = moons
    batched = compile(
        compiled.program.recording.function, model.parameters(), X[0].tolist(), float(y[0]),
        argnums=0,
    ).batched(in_axes=(None, 0, 0), reduce="mean")  # fmt: skip
    params = np.array([p.data for p in model.parameters()])
    loss, grad = batched(params, X, y)
    loss += 1e-4 * params @ params
    grad = grad + 2e-4 * params
    expected_loss, _ = moons_step(model, X.tolist(), y.tolist(), 0)  # updates the model
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(params - 1.0 * grad, [p.data for p in model.parameters()],
                               rtol=1e-10, atol=1e-13)  # fmt: skip
    for p, v in zip(model.parameters(), params):  # leave the shared model as it was
        p.data = float(v)


def test_batched_arguments_are_checked(moons: tuple) -> None:
    model, compiled, X, y = moons
    params = np.array([p.data for p in model.parameters()])
    batched = compiled.batched(in_axes=(None, 0, 0))
    with pytest.raises(ValueError, match=r"argument 1 \(x\): expected an array of shape \(n, 2\)"):
        batched(params, X[:, :1], y)
    with pytest.raises(ValueError, match="3 samples, but the arguments before it have 100"):
        batched(params, X, y[:3])
    with pytest.raises(ValueError, match="expected 337 numbers"):
        batched(params[:-1], X, y)
    with pytest.raises(TypeError, match="takes 3 arguments"):
        batched(params, X)
    with pytest.raises(ValueError, match="in_axes"):
        compiled.batched(in_axes=(None, 1, 0))
    with pytest.raises(ValueError, match="marks no argument"):
        compiled.batched(in_axes=None)
    with pytest.raises(ValueError, match="reduce must be"):
        compiled.batched(in_axes=0, reduce="max")
    tensor = compile(lambda w: (w * w).sum(), np.ones(3))
    with pytest.raises(TypeError, match="tensor graph"):
        tensor.batched(0)


# --------------------------------------------------------------------------------------------
# The argument guard
# --------------------------------------------------------------------------------------------


def test_calls_must_match_the_traced_arguments() -> None:
    scalar = compile(lambda x, ws: x * Value.sum(ws), 1.0, [1.0, 2.0])
    assert scalar(2.0, [3.0, 4.0]) == (14.0, (7.0, [2.0, 2.0]))
    with pytest.raises(TypeError, match=r"takes 2 arguments, as it was traced \(x: a number, "):
        scalar(2.0)
    with pytest.raises(TypeError, match=r"argument 0 \(x\): expected a number or Value"):
        scalar(np.ones(2), [3.0, 4.0])
    with pytest.raises(ValueError, match=r"argument 1 \(ws\): expected a list of 2 numbers, got 3"):
        scalar(2.0, [3.0, 4.0, 5.0])
    tensor = compile(lambda w, x: (x @ w).sum(), np.ones((3, 2)), np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"traced with shape \(4, 3\), got shape \(5, 3\)"):
        tensor(np.ones((3, 2)), np.ones((5, 3)))
    with pytest.raises(TypeError, match="traced with dtype float64, got dtype float32"):
        tensor(np.ones((3, 2), np.float32), np.ones((4, 3)))
    with pytest.raises(TypeError, match=r"traced as an array of shape \(3, 2\).*got list"):
        tensor([[1.0, 2.0]] * 3, np.ones((4, 3)))


def test_results_come_in_the_arguments_kinds() -> None:
    compiled = compile(lambda x, y: x * y, Value(2.0), 3.0)
    value, (gx, gy) = compiled(Value(2.0), 3.0)
    assert isinstance(value, Value) and isinstance(gx, Value) and isinstance(gy, float)
    assert compiled(2.0, 3.0) == (6.0, (3.0, 2.0))
    tensor = compile(lambda w: (w * w).sum(), Tensor(np.ones(2), requires_grad=True))
    value, g = tensor(Tensor(np.array([1.0, 2.0])))
    assert isinstance(value, Tensor) and isinstance(g[0], Tensor)
    value, g = tensor(np.array([1.0, 2.0]))
    assert type(value) is np.ndarray and type(g[0]) is np.ndarray
    np.testing.assert_array_equal(g[0], [2.0, 4.0])
    one = compile(lambda w, x: (w * x).sum(), np.ones(2), np.ones(2), argnums=0)
    _, g = one(np.ones(2), np.array([5.0, 6.0]))
    np.testing.assert_array_equal(g, [5.0, 6.0])  # argnums=0: one gradient, not a tuple


def test_returned_gradients_are_owned_arrays() -> None:
    # (a + b).sum(): both gradients are the same broadcast view inside; each caller's own copy
    compiled = compile(lambda a, b: (a + b).sum(), np.ones(3), np.ones(3))
    _, (ga, gb) = compiled(np.ones(3), np.ones(3))
    assert ga.flags.writeable and gb.flags.writeable and not np.shares_memory(ga, gb)
    ga += 1
    np.testing.assert_array_equal(gb, np.ones(3))


# --------------------------------------------------------------------------------------------
# What cannot be compiled, and warnings
# --------------------------------------------------------------------------------------------


def test_what_cannot_be_compiled_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="must return a scalar"):
        compile(lambda w: w * 2, np.ones(3))
    with pytest.raises(ValueError, match="does not depend on its arguments"):
        compile(lambda x: 3.0, 1.0)
    with pytest.raises(TypeError, match="dtype int64"):
        compile(lambda w: (w * 2).sum(), np.arange(3))
    with pytest.raises(TypeError, match="a Value, but other arguments are arrays"):
        compile(lambda x, w: (w * 2).sum(), Value(1.0), np.ones(2))
    with pytest.raises(ValueError, match="holds the same node as argument 0"):
        x = Value(1.0)
        compile(lambda a, b: a * b, x, x)

    def by_hand(a: Value) -> Value:
        return Value(a.data * 2, (a,), "*")  # micrograd style: no rule behind its partials

    with pytest.raises(ValueError, match="built by hand"):
        compile(by_hand, 1.0)

    class Double(autodiff.Function):
        @staticmethod
        def forward(x: np.ndarray) -> np.ndarray:
            return 2 * x

        @staticmethod
        def vjp(g: Any, x: Any, out: Any) -> tuple:
            return (2 * g,)

    with pytest.raises(NotImplementedError, match="op 'Double'"):
        compile(lambda w: Double.apply(w).sum(), np.ones(2))


def test_an_argument_that_never_reaches_the_output_warns() -> None:
    with pytest.warns(CompileWarning, match=r"argument 1 \(flag\) does not reach the output"):
        compiled = compile(lambda x, flag: x * 2 if flag > 0 else x, 1.0, 1.0)
    assert compiled(3.0, -1.0) == (6.0, (2.0, 0.0))


# --------------------------------------------------------------------------------------------
# Export: a module that runs with numpy alone
# --------------------------------------------------------------------------------------------

RUNNER = """
import sys
sys.modules["autodiff"] = None  # importing autodiff now fails: the module must not need it
sys.path.insert(0, {folder!r})
import numpy as np
import {module} as m
result = m.{function}(*{args})


def plain(x):  # arrays as lists of floats, which print every digit
    if isinstance(x, (tuple, list)):
        return [plain(v) for v in x]
    return np.asarray(x).tolist()


print(repr(plain(result)))
"""


def run_without_autodiff(path: Path, function: str, args: str) -> str:
    code = RUNNER.format(folder=str(path.parent), module=path.stem, function=function, args=args)
    done = subprocess.run(
        [sys.executable, "-I", "-B", "-c", code], capture_output=True, text=True, cwd=path.parent
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def ruff_check(path: Path) -> None:
    if not RUFF.exists():
        pytest.skip("ruff is not installed next to this Python")
    done = subprocess.run(
        [str(RUFF), "check", "--config", str(ROOT / "pyproject.toml"), "--no-cache", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_saved_scalar_module_runs_without_autodiff(tmp_path: Path) -> None:
    compiled = compile(pig_farm, 2.0, 1.0, 4.0)
    path = compiled.save(tmp_path / "pig_farm.py")
    assert path.read_text() == compiled.source
    ruff_check(path)
    out = run_without_autodiff(path, "pig_farm", "(3.0, 1.0, 4.0)")
    value, grads = compiled(3.0, 1.0, 4.0)
    assert out == repr([value, list(grads)])
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_saved_tensor_module_keeps_large_constants_beside_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 8))  # a trained weight, closed over: a constant
    small = np.array([0.5, -1.0, 2.0, 0.0, 1.0, 3.0, 0.25, 1.0])

    def predict(x: Tensor) -> Tensor:
        return ((x @ Tensor(W, label="W")).tanh() * small).sum()

    compiled = compile(predict, rng.standard_normal((5, 4)))
    assert "W = _arrays" in compiled.source and "np.array([0.5, -1.0, 2.0, 0.0" in compiled.source
    path = compiled.save(tmp_path / "predict.py")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predict.npz", "predict.py"]
    ruff_check(path)
    x = rng.standard_normal((5, 4))
    out = run_without_autodiff(path, "predict", f"(np.array({x.tolist()!r}),)")
    value, (grad,) = eval(out)  # noqa: S307 - lists of floats we printed
    ref_value, (ref_grad,) = compiled(x)
    assert value == ref_value and np.array_equal(grad, ref_grad)


def test_saved_batched_module_runs_without_autodiff(tmp_path: Path, moons: tuple) -> None:
    model, compiled, X, y = moons
    batched = compiled.batched(in_axes=(None, 0, 0), reduce="mean")
    path = batched.save(tmp_path / "moons_loss.py")
    ruff_check(path)
    params = [p.data for p in model.parameters()]
    args = f"(np.array({params!r}), np.array({X[:5].tolist()!r}), np.array({y[:5].tolist()!r}))"
    value, grads = eval(run_without_autodiff(path, "sample_loss", args))  # noqa: S307
    expected_value, expected = batched(np.array(params), X[:5], y[:5])
    assert value == expected_value
    assert all(np.array_equal(g, e) for g, e in zip(grads, expected))


def test_save_refuses_bad_names_and_replaces_atomically(tmp_path: Path) -> None:
    compiled = compile(pig_farm, 2.0, 1.0, 4.0)
    with pytest.raises(ValueError, match="must end in .py"):
        compiled.save(tmp_path / "pig_farm.txt")
    with pytest.raises(ValueError, match="not a valid module name"):
        compiled.save(tmp_path / "pig-farm.py")
    path = tmp_path / "farm.py"
    path.write_text("old")
    compiled.save(path)
    assert path.read_text() == compiled.source


@pytest.mark.filterwarnings("ignore::autodiff.compiler.CompileWarning")  # unused inputs
@given(scalar_programs())
def test_generated_scalar_source_is_valid_python_for_ruff(program: tuple) -> None:
    inputs, _, steps = program

    def f(a: Value, b: Value, c: Value) -> Value:
        return run_steps(steps, (SCALAR_UNARY, SCALAR_BINARY), a, b, c)[-1]

    assume(reference(f, *inputs) is not None)
    source = compile(f, *inputs).source
    assert max(len(line) for line in source.splitlines()) < 100
    compile_source = (
        __builtins__["compile"] if isinstance(__builtins__, dict) else __builtins__.compile
    )
    compile_source(source, "<generated>", "exec")  # parses


@pytest.mark.filterwarnings("ignore::autodiff.compiler.CompileWarning")  # unused inputs
def test_generated_sources_pass_ruff(tmp_path: Path, moons: tuple) -> None:
    _, compiled, _, _ = moons
    rng = np.random.default_rng(3)
    sources = {
        "mlp.py": compiled.source,
        "mlp_batched.py": compiled.batched(in_axes=(None, 0, 0)).source,
    }
    for k, steps in enumerate(
        [[("where a > b", (0, 1)), ("max last axis, kept", (2,)), ("reversed", (3,))],
         [("softmax", (0,)), ("logsumexp, kept", (2,)), ("first row", (1,)), ("clip", (4,))]]
    ):  # fmt: skip
        f = _tensor_program(steps)
        sources[f"tensor{k}.py"] = compile(f, rng.standard_normal((3, 4)), rng.random(4)).source
    for name, source in sources.items():
        path = tmp_path / name
        path.write_text(source)
        ruff_check(path)
        assert max(len(line) for line in source.splitlines()) < 100, name


# --------------------------------------------------------------------------------------------
# Names shared with the drawing and the chain-rule trace
# --------------------------------------------------------------------------------------------


def numbered_lines(source: str) -> dict[int, str]:
    """n -> the op comment of the line ``v<n> = ...  # op`` (the compiled forward pass)."""
    found = re.findall(r"^    v(\d+) = .*  # (.+)$", source, flags=re.MULTILINE)
    return {int(n): op for n, op in found}


def assert_numbered_as_the_trace(output: Any, source: str) -> None:
    """Every node the trace calls '#<n> <op>' is the line ``v<n> = ...  # <op>``."""
    traced = {}
    for step in autodiff.trace(output):
        for name in (step.name, step.output_name):
            match = re.fullmatch(r"#(\d+) ([^\s(]\S*)", name)  # an op (not a leaf's shape)
            if match:
                traced[int(match[1])] = match[2]
    lines = numbered_lines(source)
    assert traced, "the trace names no node by its number"
    for n, op in traced.items():
        label = lines.get(n, "")
        assert label == op or label.startswith((op + " ", op + "(")), (n, op, label)
    # nodes the trace does not walk (computed from data alone) are numbered after its own
    assert all(n in traced or n > max(traced) for n in lines), (lines, traced)


def test_nodes_are_numbered_as_the_trace_numbers_them() -> None:
    x1, x2, x3 = Value(2.0, label="x1"), Value(1.0, label="x2"), Value(4.0, label="x3")
    y = pig_farm(x1, x2, x3)
    source = compile(pig_farm, x1, x2, x3).source
    assert "(v<n> is the node #<n> of trace)" in source
    assert_numbered_as_the_trace(y, source)
    for step in autodiff.trace(y):
        if step.name in ("x1", "x2", "x3"):  # labels are the names
            assert f"g_{step.name} = " in source
    # the drawing shows values, grads and ops, not the trace's numbers: the source claims none
    assert "#7" not in autodiff.draw(y).source and "draw" not in source.split("def ")[-1]
    model = MLP(2, [2, 1], seed=0)
    compiled = compile(lambda ps, x: model(x), model.parameters(), [1.0, 2.0])
    assert "layers_0_neurons_1_w_0" in compiled.source  # nn's 'layers.0.neurons.1.w.0'


@pytest.mark.parametrize("argnums", [(0, 1), 0, 1])
def test_tensor_nodes_are_numbered_as_the_trace_numbers_them(argnums: Any) -> None:
    # the trace walks only tensors that require grad: constants, and data (arguments not
    # differentiated, and what is computed from them alone), must not shift the numbers
    weights = Tensor(np.array([1.0, 2.0]))
    bias = Tensor(np.array([0.5, -1.0]), requires_grad=True)  # closed over, needs a gradient

    def f(x: Tensor, w: Tensor) -> Tensor:
        hidden = ((x * 2.0) @ w).tanh() * weights + (w * 3.0).sum()
        return ((hidden + 1.0) * (x @ w).exp() + bias).sum()

    args = np.array([[1.0, 0.5], [-0.5, 2.0]]), np.array([0.3, -0.2])
    wrt = argnums if isinstance(argnums, tuple) else (argnums,)
    output = f(*(Tensor(a, requires_grad=i in wrt) for i, a in enumerate(args)))
    assert_numbered_as_the_trace(output, compile(f, *args, argnums=argnums).source)


# --------------------------------------------------------------------------------------------
# Large and deep graphs, no_grad, threads
# --------------------------------------------------------------------------------------------


def test_long_sums_and_deep_chains_compile() -> None:
    n = 3000  # one Value.sum of 3000 terms: more than Python's parser nests in one statement

    def total(xs: list) -> Value:
        return Value.sum([x * x for x in xs])

    xs = [math.sin(i) for i in range(n)]
    compiled = compile(total, xs)
    value, (grads,) = compiled(xs)
    ref_value, ref_grads = value_and_grad(lambda *v: total(list(v)), argnums=tuple(range(n)))(*xs)
    assert value == ref_value and grads == list(ref_grads)

    def chain(x: Value) -> Value:
        for _ in range(1500):
            x = (x * 1.0001 + 0.0001).tanh()
        return x

    compiled = compile(chain, 0.5)
    assert_same(compiled(0.25), reference(chain, 0.25))


def test_compiling_inside_no_grad_still_records() -> None:
    with autodiff.no_grad():
        compiled = compile(lambda x: x * x, 3.0)
    assert compiled(4.0) == (16.0, (8.0,))


def test_two_threads_compile_at_once() -> None:
    import threading

    results: dict[int, bool] = {}

    def work(k: int) -> None:
        rng = np.random.default_rng(k)
        a, b = rng.standard_normal((4, 3)), rng.standard_normal(3)

        def f(x: Tensor, y: Tensor) -> Tensor:
            return autodiff.where(x > y, x * k, y).sum() + (x * np.arange(3.0)).sum()

        ok = True
        for _ in range(20):
            compiled = compile(f, a, b)
            a2, b2 = rng.standard_normal((4, 3)), rng.standard_normal(3)
            ok = ok and same_bits(compiled(a2, b2)[1][0], reference(f, a2, b2)[1][0])
        results[k] = ok

    threads = [threading.Thread(target=work, args=(k,)) for k in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {2: True, 3: True}


# --------------------------------------------------------------------------------------------
# The expression printer: parentheses exactly where Python needs them, exact folds only
# --------------------------------------------------------------------------------------------

OPERATORS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": lambda a, b: a**b,
}


@st.composite
def trees(draw: st.DrawFn, depth: int = 4) -> tuple[Expr, Callable]:
    """A random expression and a function computing it directly from a dict of values."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if draw(st.booleans()):
            name = draw(st.sampled_from("abc"))
            return Expr.name(name), lambda env: env[name]
        number = draw(st.sampled_from([2.0, -3.0, 0.5, -1.5]))
        return Expr.const(number), lambda env: number
    kind = draw(st.sampled_from(["binary", "binary", "neg", "select"]))
    if kind == "neg":
        e, f = draw(trees(depth - 1))
        return Expr("neg", (e,), None), lambda env: -f(env)
    if kind == "select":
        (c, fc), (a, fa), (b, fb) = (draw(trees(depth - 1)) for _ in range(3))
        cond = Expr("binary", (">", c, Expr.const(0.0)), None)
        return cond.select(a, b), lambda env: fa(env) if fc(env) > 0 else fb(env)
    op = draw(st.sampled_from(sorted(OPERATORS)))
    (a, fa), (b, fb) = draw(trees(depth - 1)), draw(trees(depth - 1))
    if op == "**":  # a small integer exponent keeps results real
        k = draw(st.sampled_from([2.0, 3.0, -1.0]))
        b, fb = Expr.const(k), (lambda env, k=k: k)
    return Expr("binary", (op, a, b), None), lambda env: OPERATORS[op](fa(env), fb(env))


@given(trees(), floats(-3, 3), floats(-3, 3), floats(-3, 3))
def test_printed_expressions_compute_what_their_trees_compute(tree: tuple, a, b, c) -> None:
    expr, direct = tree
    env = {"a": a, "b": b, "c": c, "ieee_power": lambda x, y: x**y}
    try:
        expected = direct(env)
    except (ZeroDivisionError, OverflowError):
        return
    assume(not isinstance(expected, complex))
    for flavour in ("python", "numpy"):
        text = render(expr, flavour)
        if flavour == "numpy":
            if "np.where" in text:
                continue  # numpy's where evaluates both sides: not comparable on floats
            text = text.replace("np.", "")
        assert same_bits(eval(text, env), expected), text  # noqa: S307


def test_only_exact_folds_are_made() -> None:
    x = Expr.name("x", np.array([1.0, -0.0]))
    mask = Expr.name("m", np.array([True, False]))
    assert binary("*", x, 1.0) is x and binary("/", x, 1) is x and binary("-", x, 0.0) is x
    assert render(binary("*", x, -1.0)) == "-x"
    assert render(binary("+", x, 0.0)) == "x + 0.0"  # -0.0 + 0.0 is 0.0: not x
    assert render(binary("*", 0.0, x)) == "0.0 * x"  # 0 * inf is nan: not 0
    assert render(binary("*", mask, 1.0)) == "m * 1.0"  # a float, not the boolean mask
    f32 = Expr.name("h", np.ones(2, np.float32))
    assert render(binary("*", f32, Expr.const(np.float64(2.0)))) == "h * np.float64(2.0)"
    assert render(binary("*", x, Expr.const(np.float64(2.0)))) == "x * 2.0"


def test_an_operand_broken_over_lines_keeps_its_parentheses() -> None:
    # g * (a + b * 0.5 + ...): when the parenthesised sum is too long for its line but the sum
    # without parentheses would fit, it must still be written inside them
    for width in range(60, 110):
        name = "w" + "x" * width
        inner = Expr.name(name) + Expr.name("b") * 0.5 + Expr.name("c")
        e = Expr.name("g") * Expr.name("h") * inner
        lines = layout("y = ", e, "", 1, "numpy", {})
        env = {name: 2.0, "b": 3.0, "c": 5.0, "g": 7.0, "h": 11.0}
        exec("\n".join(line[4:] for line in lines), env)  # noqa: S102 - our own text
        assert env["y"] == 7.0 * 11.0 * (2.0 + 3.0 * 0.5 + 5.0), lines
