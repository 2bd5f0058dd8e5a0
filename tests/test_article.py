"""The article's derivatives (ARTICLE.md rows 1, 2, 3, 7, 9, 10), each as a named test."""

import math

import numpy as np
import pytest
from hypothesis import given

from autodiff import Value
from autodiff.testing import floats
from nn.losses import squared_error


@given(floats(-100, 100))
def test_row1_pig_sales_10x_plus_30_has_constant_rate_10(x0):
    x = Value(x0)
    y = 10 * x + 30
    y.backward()
    assert y.data == pytest.approx(10 * x0 + 30)
    assert x.grad == 10.0


@given(floats(-100, 100))
def test_row2_5x_squared_plus_30_has_rate_10x(x0):
    x = Value(x0)
    y = 5 * x**2 + 30
    y.backward()
    assert x.grad == pytest.approx(10 * x0)


def test_row3_partial_derivatives_of_the_farm():
    # x1 = years, x2 = farm area, x3 = employees
    x1, x2, x3 = Value(2.0, label="x1"), Value(1.0, label="x2"), Value(4.0, label="x3")
    y = 5 * x1**2 + 8 * x2 + 35 * x3 + 30
    y.backward()
    assert y.data == 5 * 4 + 8 + 35 * 4 + 30
    assert (x1.grad, x2.grad, x3.grad) == (10 * 2.0, 8.0, 35.0)


@given(floats(-10, 10), floats(-10, 10), floats(-10, 10))
def test_row3_each_partial_holds_the_others_constant(a, b, c):
    x1, x2, x3 = Value(a), Value(b), Value(c)
    y = 5 * x1**2 + 8 * x2 + 35 * x3 + 30
    y.backward()
    assert (x1.grad, x2.grad, x3.grad) == (pytest.approx(10 * a), 8.0, 35.0)


def test_row7_error_of_one_output_is_a_difference_and_of_several_half_sum_of_squares():
    ys = [Value(0.3), Value(-1.2), Value(2.0)]
    rs = [1.0, -1.0, 0.5]
    error = squared_error(ys, rs)
    error.backward()
    assert error.data == pytest.approx(0.5 * sum((r - y.data) ** 2 for y, r in zip(ys, rs)))
    # dE/dy_k = -(r_k - y_k)
    assert [y.grad for y in ys] == pytest.approx([-(r - y.data) for y, r in zip(ys, rs)])
    y, r = Value(0.25), 1.0
    difference = r - y
    difference.backward()
    assert difference.data == 0.75 and y.grad == -1.0


def test_row9_chain_rule_multiplies_partials_right_to_left_and_linear_partial_is_the_weight():
    # two linear layers: h = w1 * x, y = w2 * h, E = 1/2 (r - y)^2
    x, w1, w2, r = Value(1.5), Value(0.4), Value(-0.7), 2.0
    h = w1 * x
    y = w2 * h
    error = squared_error([y], [r])
    error.backward()
    dE_dy = -(r - y.data)
    assert h.grad == pytest.approx(dE_dy * w2.data)  # between linear layers: the weight
    assert w1.grad == pytest.approx(dE_dy * w2.data * x.data)
    assert w2.grad == pytest.approx(dE_dy * h.data)


def test_row9_agrees_with_the_articles_11_line_numpy_network():
    """The article's two-layer sigmoid network with hand-written backpropagation."""
    rng = np.random.default_rng(1)
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
    y = np.array([[0, 1, 1, 0]], dtype=float).T
    syn0 = 2 * rng.random((3, 4)) - 1
    syn1 = 2 * rng.random((4, 1)) - 1
    # hand-written forward and backward, as in the article (error r - y, so we descend on E)
    l1 = 1 / (1 + np.exp(-(X @ syn0)))
    l2 = 1 / (1 + np.exp(-(l1 @ syn1)))
    l2_delta = (y - l2) * (l2 * (1 - l2))
    l1_delta = (l2_delta @ syn1.T) * (l1 * (1 - l1))
    hand_syn1 = l1.T @ l2_delta  # = -dE/dsyn1 for E = 1/2 sum (y - l2)^2
    hand_syn0 = X.T @ l1_delta

    w0 = [[Value(v) for v in row] for row in syn0]
    w1 = [[Value(v) for v in row] for row in syn1]
    outputs = []
    for row in X:
        hidden = [
            sum((row[i] * w0[i][j] for i in range(3)), Value(0.0)).sigmoid() for j in range(4)
        ]
        outputs.append(sum((hidden[j] * w1[j][0] for j in range(4)), Value(0.0)).sigmoid())
    error = squared_error(outputs, y[:, 0].tolist())
    error.backward()
    assert [o.data for o in outputs] == pytest.approx(l2[:, 0])
    np.testing.assert_allclose([[-w.grad for w in row] for row in w1], hand_syn1, rtol=1e-10)
    np.testing.assert_allclose([[-w.grad for w in row] for row in w0], hand_syn0, rtol=1e-10)


@given(floats(-30, 30))
def test_row10_sigmoid_derivative_is_f_times_one_minus_f(x0):
    x = Value(x0)
    f = x.sigmoid()
    f.backward()
    assert f.data == pytest.approx(1 / (1 + math.exp(-x0)))
    assert x.grad == pytest.approx(f.data * (1 - f.data))


@given(floats(-10, 10))
def test_row10_relu_and_the_articles_leaky_variant(x0):
    x = Value(x0)
    r = x.relu()
    r.backward()
    assert r.data == (x0 if x0 > 0 else 0.0)
    assert x.grad == (1.0 if x0 > 0 else 0.0)
    z = Value(x0)
    leaky = z.leaky_relu(0.01)
    leaky.backward()
    assert leaky.data == pytest.approx(x0 if x0 > 0 else 0.01 * x0)
    assert z.grad == (1.0 if x0 > 0 else 0.01)
