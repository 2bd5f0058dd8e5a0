"""autodiff.compile of ``x ** y`` with a Value exponent (op 'pow'): the rule `_pow_partials` is
written with selects, so the compiled code is right for every input, not only on the branch the
trace took, and equals ``Value.backward()`` to the bit, the sign of zero included: at 0 ** 0, a
zero base, nan, inf, overflow and the smallest subnormal. Where Value refuses (a negative base,
0 to a negative power), the compiled function raises Value's error with Value's message.
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_compile import (
    RUNNER,
    assert_same,
    backward_reference,
    reference,
    ruff_check,
    run_without_autodiff,
    same_bits,
)

from autodiff import Value, compile
from autodiff.compiler.expr import Expr, binary, render
from autodiff.errors import DivisionByZeroError, DomainError
from autodiff.value import _pow_partials

SPECIAL = (0.0, -0.0, 1.0, 2.0, 0.5, -2.0, math.inf, -math.inf, math.nan, 1e200, 5e-324)
GRID = list(itertools.product(SPECIAL, SPECIAL))

FUNCTIONS: dict[str, Callable] = {
    "x ** y": lambda x, y: x**y,
    "x ** y, upstream 3 y": lambda x, y: x**y * (3 * y) + x,  # gradients that are not 1
    "(x * y) ** (y - x)": lambda x, y: (x * y) ** (y - x),
}
TRACED_AT = [(2.0, 3.0), (0.0, 0.0), (0.0, 2.0), (math.nan, 0.0), (4.0, 0.5), (1e200, 2.0)]


def refused_by_value(f: Callable, *args: float) -> Exception | None:
    try:
        backward_reference(f, *args)
    except (DomainError, ZeroDivisionError) as error:
        return error
    return None


def assert_matches_value(compiled: Any, f: Callable, *args: float) -> None:
    """The compiled function gives backward()'s numbers at args, or raises Value's error."""
    refused = refused_by_value(f, *args)
    if refused is None:
        assert_same(compiled(*args), backward_reference(f, *args))
        return
    # the module needs no autodiff: it raises the builtin errors autodiff's derive from
    kind = ZeroDivisionError if isinstance(refused, ZeroDivisionError) else ValueError
    with pytest.raises(kind) as raised:
        compiled(*args)
    assert str(raised.value) == str(refused), args


@pytest.mark.parametrize("traced_at", TRACED_AT)
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_pow_equals_backward_to_the_bit_on_special_values(name: str, traced_at: tuple) -> None:
    f = FUNCTIONS[name]
    if refused_by_value(f, *traced_at) is not None:
        pytest.skip("Value refuses the traced point")
    compiled = compile(f, *traced_at)
    for args in GRID:
        assert_matches_value(compiled, f, *args)


def test_the_special_cases_take_pytorchs_conventions() -> None:
    """The cases the rule's selects are for, spelled out (and compiled traced elsewhere)."""
    compiled = compile(lambda x, y: x**y, 2.0, 3.0)
    assert compiled(0.0, 0.0) == (1.0, (0.0, 0.0))  # a ** 0 is constant; 0 ** b's limit
    assert compiled(0.0, 2.0) == (0.0, (0.0, 0.0))
    assert compiled(0.0, 0.5) == (0.0, (math.inf, 0.0))  # an infinite slope at 0
    value, (ga, gb) = compiled(math.nan, 0.0)  # nan ** 0 is 1, a constant: slope 0
    assert value == 1.0 and ga == 0.0 and math.isnan(gb)
    value, (ga, gb) = compiled(0.0, math.nan)
    assert math.isnan(value) and math.isnan(ga) and math.isnan(gb)
    assert compiled(1e200, 2.0) == (math.inf, (2e200, math.inf))  # overflow: inf, no error
    assert compiled(10.0, 400.0)[0] == math.inf
    with pytest.raises(ValueError, match=r"\*\*: -2.0 \*\* Value\(0.5\): a Value exponent"):
        compiled(-2.0, 0.5)
    with pytest.raises(ValueError, match="needs a base >= 0"):
        compiled(-2.0, 2.0)  # an integer exponent too: d/dy needs log(x)
    with pytest.raises(ZeroDivisionError, match=r"^\*\*: 0.0 \*\* Value\(-1.0\) divides by zero$"):
        compiled(-0.0, -1.0)


def test_a_constant_base_and_one_node_used_twice() -> None:
    for f in (lambda x: 2**x, lambda x: 0.5**x, lambda x: 0**x, lambda x: x**x):
        compiled = compile(f, 1.0)
        for x in SPECIAL:
            assert_matches_value(compiled, f, x)
    source = compile(lambda x: 2**x, 1.0).source
    # conditions on the constant base are decided when the source is written
    assert "v2 = pow_value(2.0, x)  # pow" in source
    assert "g_x = g_v2 * (v2 * log(2.0))  # pow" in source


def test_the_source_has_one_line_per_edge() -> None:
    source = compile(lambda x, y: x**y, 2.0, 3.0).source
    assert "v2 = pow_value(x, y)  # pow" in source
    assert "g_x = g_v2 * (0.0 if t else y * ieee_power(x, 1.0 if t else y - 1))  # pow" in source
    assert "g_y = g_v2 * (0.0 if t_2 & (y >= 0) else v2 * log(1.0 if t_2 else x))  # pow" in source
    assert "NotImplementedError" not in source


special_or_any = st.one_of(
    st.sampled_from(SPECIAL),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 10),
    st.floats(-3, 3),
)


@given(special_or_any, special_or_any)
def test_pow_equals_backward_on_drawn_values(a: float, b: float) -> None:
    for name, f in sorted(FUNCTIONS.items()):
        assert_matches_value(compiled_once(name), f, a, b)


_compiled: dict[str, Any] = {}


def compiled_once(name: str) -> Any:
    if name not in _compiled:
        _compiled[name] = compile(FUNCTIONS[name], 2.0, 3.0)
    return _compiled[name]


def test_the_rule_still_gives_the_inline_partials_and_second_derivatives() -> None:
    # Value's fast path for a base > 0 computes the rule's formulas inline: the same numbers
    for a, b in [(2.0, 3.0), (1e200, 2.0), (math.inf, 0.0), (0.5, -math.inf), (5e-324, 0.5)]:
        node = Value(a) ** Value(b)
        expected = _pow_partials((a, b), node.data, None)
        assert all(same_bits(p, q) for p, q in zip(node._partials, expected)), (a, b)
    # the rule on Values (create_graph): d/db d/da a ** b at b = 0 is 1/a, and 0 at a = 0
    for a, expected in [(2.0, 0.5), (0.0, 0.0)]:
        x, y = Value(a), Value(0.0)
        out = x**y
        out.backward(create_graph=True)
        grad_x = x.grad
        x.grad, y.grad = 0.0, 0.0
        grad_x.backward()
        assert y.grad == expected, a


# --------------------------------------------------------------------------------------------
# Batched: one call for many samples, equal to a loop of calls
# --------------------------------------------------------------------------------------------

VALID = [(a, b) for a, b in GRID if refused_by_value(FUNCTIONS["x ** y"], a, b) is None]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_batched_equals_the_loop(name: str) -> None:
    f = FUNCTIONS[name]
    samples = [args for args in GRID if refused_by_value(f, *args) is None]
    compiled = compile(f, 2.0, 3.0)
    xs, ys = (np.array(column) for column in zip(*samples))
    with np.errstate(all="ignore"):  # 1e200 ** 2 overflows, as it should
        value, (gx, gy) = compiled.batched(in_axes=(0, 0))(xs, ys)
    loop = [compiled(x, y) for x, y in samples]
    # the same numbers (a batch's gradients keep a -0.0 the scalar function returns as 0.0)
    assert np.array_equal(gx, [grads[0] for _, grads in loop], equal_nan=True)
    assert np.array_equal(gy, [grads[1] for _, grads in loop], equal_nan=True)
    with np.errstate(all="ignore"):
        assert same_bits(value, np.array([v for v, _ in loop]).sum())


def test_batched_selects_do_not_warn_on_their_discarded_side() -> None:
    # numpy evaluates both sides of each select: the discarded formula must not divide by zero
    # (0 ** -1 at 0 ** 0) or multiply 0 by inf (0 ** 2 * log(0))
    zeros = [(0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (0.0, 2.0), (-0.0, 3.0), (0.0, math.nan)]
    samples = zeros + [(math.nan, 0.0), (2.0, 3.0), (0.5, -1.0), (math.inf, 0.0), (1.0, math.inf)]
    xs, ys = (np.array(column) for column in zip(*samples))
    batched = compile(FUNCTIONS["x ** y"], 2.0, 3.0).batched(in_axes=(0, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, (gx, gy) = batched(xs, ys)
    assert gx[0] == gy[0] == gx[3] == gy[3] == 0.0


def test_batched_calls_refuse_naming_the_first_refused_sample() -> None:
    batched = compile(lambda x, y: x**y, 2.0, 3.0).batched(in_axes=(0, 0))
    f = FUNCTIONS["x ** y"]
    cases = [  # (bases, exponents, the first refused sample)
        ([2.0, 0.0, -3.0], [1.0, -1.0, 0.5], 1),  # 0 ** -1 before a negative base
        ([2.0, -3.0, 0.0], [1.0, 0.5, -1.0], 1),  # a negative base before 0 ** -1
        ([2.0, 1.0, -0.0], [1.0, 2.0, -2.5], 2),
    ]
    for xs, ys, k in cases:
        expected = refused_by_value(f, xs[k], ys[k])
        kind = ZeroDivisionError if isinstance(expected, DivisionByZeroError) else ValueError
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with pytest.raises(kind) as raised:
                batched(np.array(xs), np.array(ys))
        assert str(raised.value) == f"{expected} (sample {k})"
    shared = compile(lambda x, y: x**y, 2.0, 3.0).batched(in_axes=(None, 0))  # one base
    with pytest.raises(ValueError, match=r"-2.0 \*\* Value\(0.5\).*\(sample 0\)$"):
        shared(-2.0, np.array([0.5, 1.0]))


# --------------------------------------------------------------------------------------------
# Saved modules: numpy alone
# --------------------------------------------------------------------------------------------


def test_saved_module_runs_and_refuses_without_autodiff(tmp_path: Path) -> None:
    f = FUNCTIONS["x ** y, upstream 3 y"]
    compiled = compile(f, 2.0, 3.0)
    path = compiled.save(tmp_path / "powered.py")
    ruff_check(path)
    for args in [(2.0, 3.0), (0.0, 0.0), (0.0, 2.5), (1e200, 2.0), (math.inf, -0.5)]:
        out = run_without_autodiff(path, "f", repr(args).replace("inf", "float('inf')"))
        value, grads = eval(out, {"inf": math.inf, "nan": math.nan})  # noqa: S307 - our numbers
        assert_same((value, grads), backward_reference(f, *args))
    for args in [(-2.0, 0.5), (0.0, -1.0)]:
        code = RUNNER.format(folder=str(tmp_path), module="powered", function="f", args=args)
        done = subprocess.run([sys.executable, "-I", "-B", "-c", code], capture_output=True,
                              text=True)  # fmt: skip
        kind = "ZeroDivisionError" if args[0] == 0 else "ValueError"
        expected = f"{kind}: {refused_by_value(f, *args)}"
        assert done.stderr.strip().endswith(expected), done.stderr
    batched = compiled.batched(in_axes=(0, 0))
    path = batched.save(tmp_path / "powered_batched.py")
    ruff_check(path)
    xs, ys = [2.0, 0.0, 0.5, 0.0], [3.0, 0.0, -1.0, 2.0]
    out = run_without_autodiff(path, "f", f"(np.array({xs!r}), np.array({ys!r}))")
    value, grads = eval(out)  # noqa: S307 - lists of floats we printed
    expected_value, expected = batched(np.array(xs), np.array(ys))
    assert value == expected_value and same_bits(grads, expected)


# --------------------------------------------------------------------------------------------
# What makes it possible: conditions on constants fold where the source is written
# --------------------------------------------------------------------------------------------


def test_conditions_on_constants_fold() -> None:
    x = Expr.name("x")
    condition = x > 0
    assert render(binary("==", Expr.const(2.0), 0)) == "False"
    assert render(binary("<", 1.0, Expr.const(2.0))) == "True"
    assert render(binary("&", Expr.const(False), condition)) == "False"
    assert binary("&", condition, Expr.const(True)) is condition
    assert render(binary("|", Expr.const(True), condition)) == "True"
    assert binary("|", Expr.const(False), condition) is condition
    assert render(binary("&", x == 0, condition)) == "(x == 0) & (x > 0)"  # nothing to fold
    assert Expr.const(True).select(x, 1.0) is x
    assert render(Expr.const(False).select(x, 1.0)) == "1.0"
    assert render(condition.select(x, 1.0), "python") == "x if x > 0 else 1.0"
    tracked = Expr.name("m", np.array([True, False])) > 0  # an array condition: left alone
    assert render(binary("&", Expr.const(False), tracked)) == "False & (m > 0)"


def test_reference_agrees_with_backward() -> None:
    # value_and_grad, which the other compile tests compare with, says what backward says
    f = FUNCTIONS["x ** y"]
    for args in VALID:
        assert_same(reference(f, *args), backward_reference(f, *args))
