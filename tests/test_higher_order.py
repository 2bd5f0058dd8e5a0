"""Derivatives of derivatives: every scalar op's second and third derivatives against closed
forms, through both `grad(grad(f))` and `backward(create_graph=True)`, and the article's
examples."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from autodiff import Value, grad, hessian
from autodiff.testing import floats
from autodiff.value import PARTIAL_RULES


def close(expected: float):
    return pytest.approx(expected, rel=1e-9, abs=1e-9)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


# --------------------------------------------------------------------------------------------
# Unary ops: (function, domain, (f', f'', f''') in closed form)
# --------------------------------------------------------------------------------------------

EXPONENTS = (2.0, 3.0, -1.0, 0.5, 2.5)


def _power_derivatives(c: float, x: float) -> tuple:
    return (c * x ** (c - 1), c * (c - 1) * x ** (c - 2), c * (c - 1) * (c - 2) * x ** (c - 3))


def _tanh_derivatives(x: float) -> tuple:
    t = math.tanh(x)
    return (1 - t * t, -2 * t * (1 - t * t), -2 * (1 - t * t) * (1 - 3 * t * t))


def _sigmoid_derivatives(x: float) -> tuple:
    s = _sigmoid(x)
    return (s * (1 - s), s * (1 - s) * (1 - 2 * s), s * (1 - s) * (1 - 6 * s + 6 * s * s))


def _kinked(x: float) -> float:
    assume(abs(x) > 1e-6)  # relu and leaky_relu have no derivative at 0
    return x


UNARY = {
    "neg": (lambda x: -x, floats(-10, 10), lambda x: (-1.0, 0.0, 0.0)),
    "exp": (lambda x: x.exp(), floats(-5, 5), lambda x: (math.exp(x),) * 3),
    "log": (lambda x: x.log(), floats(0.1, 10), lambda x: (1 / x, -1 / x**2, 2 / x**3)),
    "tanh": (lambda x: x.tanh(), floats(-3, 3), _tanh_derivatives),
    "sigmoid": (lambda x: x.sigmoid(), floats(-6, 6), _sigmoid_derivatives),
    "relu": (
        lambda x: x.relu(),
        floats(-10, 10).map(_kinked),
        lambda x: (1.0 if x > 0 else 0.0, 0.0, 0.0),
    ),
    "leaky_relu": (
        lambda x: x.leaky_relu(0.01),
        floats(-10, 10).map(_kinked),
        lambda x: (1.0 if x > 0 else 0.01, 0.0, 0.0),
    ),
}


def _derivatives_by_grad(fn, x0: float) -> tuple:
    d1 = grad(fn)
    d2 = grad(d1)
    d3 = grad(d2)
    return d1(x0), d2(x0), d3(x0)


def _derivatives_by_backward(fn, x0: float) -> tuple:
    """f', f'', f''' by repeated backward(create_graph=True) on the gradient itself."""
    x = Value(x0)
    node = fn(x)
    found = []
    for _ in range(3):
        x.grad = 0.0
        node.backward(create_graph=True)
        node = x.grad if isinstance(x.grad, Value) else Value(x.grad)
        found.append(node.data)
    return tuple(found)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_op_derivatives_match_closed_forms(name, data):
    fn, domain, closed = UNARY[name]
    x0 = data.draw(domain, label="x")
    expected = closed(x0)
    assert _derivatives_by_grad(fn, x0) == tuple(map(close, expected))
    assert _derivatives_by_backward(fn, x0) == tuple(map(close, expected))


@pytest.mark.parametrize("c", EXPONENTS)
@given(x0=floats(0.2, 4))
def test_power_by_a_constant_derivatives_match_closed_forms(c, x0):
    fn = lambda x: x**c  # noqa: E731
    expected = _power_derivatives(c, x0)
    assert _derivatives_by_grad(fn, x0) == tuple(map(close, expected))
    assert _derivatives_by_backward(fn, x0) == tuple(map(close, expected))


@given(x0=floats(-4, 4).filter(lambda v: abs(v) > 0.1))
def test_integer_powers_of_negative_bases(x0):
    assert _derivatives_by_grad(lambda x: x**3, x0) == tuple(map(close, (3 * x0**2, 6 * x0, 6)))


# --------------------------------------------------------------------------------------------
# Binary and n-ary ops: Hessians and third derivatives in closed form
# --------------------------------------------------------------------------------------------


def _pow_hessian(a: float, b: float) -> list:
    la = math.log(a)
    return [
        [b * (b - 1) * a ** (b - 2), a ** (b - 1) * (1 + b * la)],
        [a ** (b - 1) * (1 + b * la), a**b * la * la],
    ]


BINARY = {
    "+": (lambda a, b: a + b, floats(-10, 10), lambda a, b: [[0, 0], [0, 0]]),
    "-": (lambda a, b: a - b, floats(-10, 10), lambda a, b: [[0, 0], [0, 0]]),
    "*": (lambda a, b: a * b, floats(-10, 10), lambda a, b: [[0, 1], [1, 0]]),
    "/": (
        lambda a, b: a / b,
        floats(0.2, 5),
        lambda a, b: [[0, -1 / b**2], [-1 / b**2, 2 * a / b**3]],
    ),
    "pow": (lambda a, b: a**b, floats(0.2, 3), _pow_hessian),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_op_hessians_match_closed_forms(name, data):
    fn, domain, closed = BINARY[name]
    a, b = data.draw(domain, label="a"), data.draw(domain, label="b")
    found = np.array(hessian(fn, argnums=(0, 1))(a, b))
    np.testing.assert_allclose(found, np.array(closed(a, b), dtype=float), rtol=1e-9, atol=1e-9)


@given(a=floats(0.2, 5), b=floats(0.2, 5))
def test_third_derivatives_of_division_and_pow(a, b):
    # d3(a/b)/db3 = -6a/b^4, d3(a/b)/da db2 = 2/b^3, d3(a**b)/db3 = a**b log(a)**3
    div = lambda x, y: x / y  # noqa: E731
    assert grad(grad(grad(div, 1), 1), 1)(a, b) == close(-6 * a / b**4)
    assert grad(grad(grad(div, 1), 1), 0)(a, b) == close(2 / b**3)
    power = lambda x, y: x**y  # noqa: E731
    assert grad(grad(grad(power, 1), 1), 1)(a, b) == close(a**b * math.log(a) ** 3)
    c = b * (b - 1) * (b - 2) * a ** (b - 3)
    assert grad(grad(grad(power, 0), 0), 0)(a, b) == close(c)


@given(w=st.tuples(floats(), floats()), x=st.tuples(floats(), floats()), bias=floats())
def test_dot_hessian_pairs_each_weight_with_its_input(w, x, bias):
    # f = b + w0 x0 + w1 x1, arguments (w0, w1, x0, x1, b): d2f/dw_i dx_i = 1, all else 0
    def f(w0, w1, x0, x1, b):
        as_value = lambda v: v if isinstance(v, Value) else Value(v)  # noqa: E731
        return Value.dot([as_value(w0), as_value(w1)], [x0, x1], as_value(b))

    found = np.array(hessian(f, argnums=(0, 1, 2, 3, 4))(*w, *x, bias))
    expected = np.zeros((5, 5))
    expected[0, 2] = expected[2, 0] = expected[1, 3] = expected[3, 1] = 1.0
    np.testing.assert_array_equal(found, expected)
    assert grad(grad(grad(f, 0), 2), 0)(*w, *x, bias) == 0.0


@given(a=floats(), b=floats())
def test_sum_has_no_curvature_but_squares_inside_it_do(a, b):
    assert np.array(hessian(lambda x, y: Value.sum([x, y, x]), (0, 1))(a, b)).tolist() == [
        [0, 0],
        [0, 0],
    ]
    h = hessian(lambda x, y: Value.sum([x * x, y, x * y]), (0, 1))(a, b)
    assert np.array(h).tolist() == [[2, 1], [1, 0]]


def test_the_catalogue_covers_every_scalar_op():
    covered = set(UNARY) | set(BINARY) | {"**", "dot", "sum"}
    assert covered == set(PARTIAL_RULES)


# --------------------------------------------------------------------------------------------
# The article: y = 5x^2 + 30 has rate 10x, whose own rate is 10
# --------------------------------------------------------------------------------------------


def article_pigs(x):
    return 5 * x**2 + 30


@given(floats(-100, 100))
def test_article_second_derivative_of_5x_squared_plus_30_is_10(x0):
    assert grad(article_pigs)(x0) == close(10 * x0)
    assert grad(grad(article_pigs))(x0) == 10.0
    assert grad(grad(grad(article_pigs)))(x0) == 0.0


def test_article_second_derivative_by_backward_create_graph():
    x = Value(3.0)
    article_pigs(x).backward(create_graph=True)
    rate = x.grad  # 10x, as a graph of x
    assert isinstance(rate, Value) and rate.data == 30.0
    x.grad = 0.0
    rate.backward()
    assert x.grad == 10.0


@given(floats(-10, 10), floats(-10, 10), floats(-10, 10))
def test_article_farm_hessian_is_diag_10_0_0(a, b, c):
    def farm(x1, x2, x3):  # x1 = years, x2 = farm area, x3 = employees
        return 5 * x1**2 + 8 * x2 + 35 * x3 + 30

    h = hessian(farm, argnums=(0, 1, 2))(a, b, c)
    np.testing.assert_array_equal(np.array(h), np.diag([10.0, 0.0, 0.0]))


# --------------------------------------------------------------------------------------------
# Newton's method: x <- x - f'(x) / f''(x) converges in a few steps
# --------------------------------------------------------------------------------------------


def test_newtons_method_on_a_scalar_converges_quadratically():
    f = lambda x: x.exp() - 2 * x  # noqa: E731  (minimum at log 2)
    df, d2f = grad(f), grad(grad(f))
    x, errors = 0.0, []
    for _ in range(6):
        x = x - df(x) / d2f(x)
        errors.append(abs(x - math.log(2)))
    assert errors[4] < 1e-12
    # quadratic convergence: each error is about the square of the last
    assert errors[2] < 10 * errors[1] ** 2 and errors[3] < 10 * errors[2] ** 2
