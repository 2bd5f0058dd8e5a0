"""Derivatives of derivatives: every scalar op's second and third derivatives against closed
forms, through both `grad(grad(f))` and `backward(create_graph=True)`, and the article's
examples."""

import math
import re

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from autodiff import (
    GradcheckError,
    Tensor,
    Value,
    concatenate,
    draw,
    grad,
    gradcheck,
    hessian,
    hvp,
    jacobian,
    log_softmax,
    logsumexp,
    maximum,
    minimum,
    softmax,
    stack,
    topological_order,
    where,
)
from autodiff.tensor import VJP_RULES
from autodiff.testing import (
    arrays,
    assert_second_derivatives_match,
    broadcastable_shapes,
    floats,
    matmul_shapes,
    shapes,
)
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


def _third_by_index(closed_forms: dict) -> np.ndarray:
    """A symmetric 2x2x2 array from its distinct entries, keyed by how many times b appears."""
    T = np.zeros((2, 2, 2))
    for index in np.ndindex(2, 2, 2):
        T[index] = closed_forms[sum(index)]
    return T


def _div_third(a: float, b: float) -> np.ndarray:
    # d3(a/b): aaa = 0, aab = 0, abb = 2/b^3, bbb = -6a/b^4
    return _third_by_index({0: 0.0, 1: 0.0, 2: 2 / b**3, 3: -6 * a / b**4})


def _pow_third(a: float, b: float) -> np.ndarray:
    la = math.log(a)
    return _third_by_index(
        {
            0: b * (b - 1) * (b - 2) * a ** (b - 3),
            1: a ** (b - 2) * ((2 * b - 1) + b * (b - 1) * la),
            2: a ** (b - 1) * la * (2 + b * la),
            3: a**b * la**3,
        }
    )


THIRD = {
    "+": lambda a, b: np.zeros((2, 2, 2)),
    "-": lambda a, b: np.zeros((2, 2, 2)),
    "*": lambda a, b: np.zeros((2, 2, 2)),
    "/": _div_third,
    "pow": _pow_third,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_op_third_derivatives_match_closed_forms(name, data):
    fn, domain, _ = BINARY[name]
    a, b = data.draw(domain, label="a"), data.draw(domain, label="b")
    # the Jacobian of the Hessian: T[i][j][k] = d3 f / d args[i] d args[j] d args[k]
    found = np.array(jacobian(hessian(fn, argnums=(0, 1)), argnums=(0, 1))(a, b))
    np.testing.assert_allclose(found, THIRD[name](a, b), rtol=1e-9, atol=1e-9)


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
    third = jacobian(hessian(f, argnums=(0, 1, 2, 3, 4)), argnums=(0, 1, 2, 3, 4))
    np.testing.assert_array_equal(np.array(third(*w, *x, bias)), np.zeros((5, 5, 5)))


@given(a=floats(), b=floats())
def test_sum_has_no_curvature_but_squares_inside_it_do(a, b):
    assert np.array(hessian(lambda x, y: Value.sum([x, y, x]), (0, 1))(a, b)).tolist() == [
        [0, 0],
        [0, 0],
    ]
    f = lambda x, y: Value.sum([x * x, y, x * y])  # noqa: E731
    assert np.array(hessian(f, (0, 1))(a, b)).tolist() == [[2, 1], [1, 0]]
    third = jacobian(hessian(f, (0, 1)), (0, 1))(a, b)
    np.testing.assert_array_equal(np.array(third), np.zeros((2, 2, 2)))


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


def _reevaluate(root: Value, leaf: Value, at: float) -> float:
    """Recompute the graph of `root` with `leaf` set to `at`: what the graph *represents*."""
    apply = {
        "+": lambda a, b: a + b,
        "*": lambda a, b: a * b,
        "sum": lambda *xs: sum(xs),
    }
    values = {}
    for node in topological_order(root):
        if node is leaf:
            values[node] = at
        elif not node._prev:
            values[node] = node.data
        elif node._op == "**":
            values[node] = values[node._prev[0]] ** node._ctx
        else:
            values[node] = apply[node._op](*(values[p] for p in node._prev))
    return values[root]


def test_article_the_gradient_of_5x_squared_plus_30_is_the_graph_of_10x():
    x = Value(3.0, label="x")
    article_pigs(x).backward(create_graph=True)
    rate = x.grad
    assert x in topological_order(rate)  # a function of x, not the constant 30
    for at in (-2.0, 0.0, 1.0, 7.5):
        assert _reevaluate(rate, x, at) == close(10 * at)
    # the same through grad: an argument computed from x gives a gradient graph of x
    rate = grad(article_pigs)(x + 0.0)
    for at in (-2.0, 0.0, 1.0, 7.5):
        assert _reevaluate(rate, x, at) == close(10 * at)


def test_article_drawing_the_gradient_of_5x_squared_plus_30_shows_10x():
    x = Value(3.0, label="x")
    article_pigs(x).backward(create_graph=True)
    rate = x.grad
    source = draw(rate).source
    boxes = dict(re.findall(r'^\s*(n\d+) \[label="\{ (.*?) \}"', source, re.M))
    assert len(boxes) == len(topological_order(rate))  # every node of the gradient graph
    x_box = next(name for name, text in boxes.items() if text.startswith("x |"))
    out_box = next(name for name, text in boxes.items() if "data 30 " in text)  # 10 * 3
    for constant in ("data 5 |", "data 2 |"):  # 10 x is drawn as 5 * (2 * x ** 1)
        assert any(text.startswith(constant) for text in boxes.values())
    ops = re.findall(r'^\s*n\d+op \[label="([^"]*)"', source, re.M)
    assert sorted(set(ops)) == ["*", "** 1"]
    # x reaches the drawn output through the ops: the picture is a function of x
    edges: dict[str, list[str]] = {}
    for a, b in re.findall(r"^\s*(n\w+) -> (n\w+)", source, re.M):
        edges.setdefault(a, []).append(b)
    reached, todo = {x_box}, [x_box]
    while todo:
        for b in edges.get(todo.pop(), []):
            if b not in reached:
                reached.add(b)
                todo.append(b)
    assert out_box in reached
    # the gradient graph has had no backward pass of its own: no gradient is shown yet, though
    # x and the constants it shares with y's graph hold gradients from y's pass
    assert all(text.endswith("grad not computed") for text in boxes.values())
    x.grad = 0.0
    rate.backward()
    after = dict(re.findall(r'^\s*(n\d+) \[label="\{ (.*?) \}"', draw(rate).source, re.M))
    assert after[x_box] == "x | data 3 | grad 10"  # d(10x)/dx, the article's second derivative


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


# --------------------------------------------------------------------------------------------
# Tensors: backward(create_graph=True), every op's second derivatives, Hessians of small nets
# --------------------------------------------------------------------------------------------


@given(arrays(shapes(max_dims=2)))
def test_tensor_backward_create_graph_gives_a_differentiable_gradient(x0):
    x = Tensor(x0, requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    first = x.grad  # 3 x**2, as a graph of x
    assert isinstance(first, Tensor)
    np.testing.assert_allclose(first.data, 3 * x0**2)
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad, 6 * x0)


def _positive(t):
    return t * t + 0.5


# name -> (function, number of inputs); inputs are drawn with broadcastable shapes
TENSOR_OPS = {
    "+": (lambda a, b: (a + b) ** 2, 2),
    "-": (lambda a, b: (a - b) ** 2, 2),
    "*": (lambda a, b: a * b * a, 2),
    "/": (lambda a, b: a / _positive(b), 2),
    "pow": (lambda a, b: _positive(a) ** b, 2),
    "**": (lambda a: _positive(a) ** 2.5, 1),
    "neg": (lambda a: (-a) ** 3, 1),
    "exp": (lambda a: a.exp(), 1),
    "log": (lambda a: _positive(a).log(), 1),
    "sqrt": (lambda a: _positive(a).sqrt(), 1),
    "abs": (lambda a: a.abs() ** 3, 1),
    "tanh": (lambda a: a.tanh(), 1),
    "sigmoid": (lambda a: a.sigmoid(), 1),
    "relu": (lambda a: a.relu() ** 2, 1),
    "leaky_relu": (lambda a: a.leaky_relu(0.1) ** 2, 1),
    "softplus": (lambda a: a.softplus(), 1),
    "clip": (lambda a: a.clip(-1, 1) ** 2, 1),
    "maximum": (lambda a, b: maximum(a, b) ** 2, 2),
    "minimum": (lambda a, b: minimum(a, b) ** 2, 2),
    "where": (lambda a, b: where(a.data > 0, a * b, b) ** 2, 2),
    "sum": (lambda a: a.sum(axis=0) ** 2, 1),
    "mean": (lambda a: a.mean(axis=-1, keepdims=True) ** 2, 1),
    "max": (lambda a: a.max() ** 2, 1),
    "min": (lambda a: a.min(axis=0) ** 2, 1),
    "var": (lambda a: a.var() ** 2, 1),
    "logsumexp": (lambda a: logsumexp(a, axis=-1), 1),
    "softmax": (lambda a: softmax(a, axis=-1), 1),
    "log_softmax": (lambda a: log_softmax(a, axis=0), 1),
    "reshape": (lambda a: a.reshape(-1) ** 2, 1),
    "transpose": (lambda a: a.T**2, 1),
    "expand": (lambda a: a.broadcast_to((2,) + a.shape) ** 2, 1),
    "getitem": (lambda a: a.reshape(-1)[np.array([0, 0, -1])] ** 2, 1),
    "concatenate": (lambda a, b: concatenate([a.reshape(-1), b.reshape(-1)]) ** 2, 2),
    "stack": (lambda a, b: stack([a * b, (a - b) ** 2]) ** 2, 2),
}


# ops with kinks or ties where the second derivative does not exist: inputs keep away from them
KINKED = frozenset(
    ["abs", "relu", "leaky_relu", "clip", "maximum", "minimum", "max", "min", "where"]
)


@pytest.mark.parametrize("name", sorted(TENSOR_OPS))
@given(data=st.data())
def test_tensor_op_second_derivatives_match_finite_differences(name, data):
    fn, arity = TENSOR_OPS[name]
    kinked = name in KINKED
    avoid = (0.0, 1.0, -1.0) if kinked else ()
    shapes_ = (
        data.draw(broadcastable_shapes(max_dims=2))
        if arity == 2
        else [data.draw(shapes(max_dims=2))]
    )
    xs = [data.draw(arrays(s, avoid=avoid, distinct=kinked)) for s in shapes_]
    if name in ("maximum", "minimum"):  # no ties between the two inputs either
        assume(np.all(np.abs(np.subtract(*xs)) > 1e-3))
    inputs = [Tensor(x, requires_grad=True) for x in xs]
    assert_second_derivatives_match(fn, *inputs)


def test_the_tensor_catalogue_covers_every_tensor_op():
    # matmul has its own test below; add_at is getitem's gradient, so getitem's second
    # derivative runs it; the fused ops (linear and the losses) take labels or three inputs, so
    # tests/test_tensor_fused.py and tests/test_losses.py check their second derivatives
    built_in = {name for name, rule in VJP_RULES.items() if _defined_in_tensor_ops(rule)}
    fused = {"linear", "mse_loss", "cross_entropy", "nll_loss", "l1_loss",
             "binary_cross_entropy", "binary_cross_entropy_with_logits"}  # fmt: skip
    assert built_in - set(TENSOR_OPS) == {"matmul", "add_at"} | fused


# the ops of these modules have their own catalogue, tests/ops_catalogue.py, whose second
# derivatives tests/test_ops_properties.py checks (with its own coverage test)
CATALOGUED_ELSEWHERE = frozenset(
    ["activations", "maths", "rounding", "reductions", "scan", "sorting", "indexing", "layout",
     "einsum"]
    # convolution, pooling, padding, normalisation and embedding: tests/test_conv.py and
    # tests/test_norm_layers.py check their second derivatives over drawn geometries
    + ["conv", "pool", "padding", "normalization", "embedding"]
)  # fmt: skip


def _defined_in_tensor_ops(rule) -> bool:
    # users' custom ops (autodiff.function) register rules too; they are not in this catalogue
    first = rule[0] if isinstance(rule, tuple) else rule
    module = getattr(first, "__module__", None) or type(first).__module__
    return (
        module.startswith("autodiff.tensor_ops")
        and module.rsplit(".", 1)[-1] not in CATALOGUED_ELSEWHERE
    )


@given(matmul_shapes(), st.data())
def test_matmul_second_derivatives_match_finite_differences(pair, data):
    a, b = (Tensor(data.draw(arrays(s)), requires_grad=True) for s in pair)
    assert_second_derivatives_match(lambda x, y: (x @ y).tanh(), a, b)


def _hessian_by_differences(f, x, eps=1e-5):
    """Central differences of the (analytic) first gradient, column by column."""
    gradient = grad(f)
    H = np.zeros((x.size, x.size))
    for j in range(x.size):
        step = np.zeros(x.size)
        step[j] = eps
        plus, minus = gradient(x + step.reshape(x.shape)), gradient(x - step.reshape(x.shape))
        H[:, j] = (plus - minus).reshape(-1) / (2 * eps)
    return H


def softmax_cross_entropy(logits, labels):
    """Mean of -log softmax(logits)[label] over a batch."""
    picked = log_softmax(logits, axis=-1)[np.arange(len(labels)), labels]
    return -picked.mean()


@given(arrays((3, 4)), st.lists(st.integers(0, 3), min_size=3, max_size=3))
def test_softmax_cross_entropy_hessian_matches_differences_of_the_gradient(z, labels):
    f = lambda logits: softmax_cross_entropy(logits, np.array(labels))  # noqa: E731
    H = hessian(f)(z)
    assert H.shape == (3, 4, 3, 4)
    np.testing.assert_allclose(H.reshape(12, 12), _hessian_by_differences(f, z), atol=1e-7)
    # each row's block is (diag(p) - p p^T) / batch, the classic closed form
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    block = (np.diag(p[0]) - np.outer(p[0], p[0])) / 3
    np.testing.assert_allclose(H[0, :, 0, :], block, atol=1e-12)


# a 2-layer MLP 2 -> 3 -> 1 with tanh, its 13 parameters in one flat vector
MLP_SIZES = ((2, 3), (3,), (3, 1), (1,))


def mlp_loss(theta, X, y):
    params, start = [], 0
    for shape in MLP_SIZES:
        size = int(np.prod(shape))
        params.append(theta[start : start + size].reshape(shape))
        start += size
    W1, b1, W2, b2 = params
    out = ((X @ W1 + b1).tanh() @ W2 + b2).reshape(-1)
    return ((out - y) ** 2).mean()


@given(arrays(13, -1.5, 1.5), arrays((4, 2)), arrays(4))
def test_mlp_hessian_matches_differences_of_the_gradient(theta, X, y):
    f = lambda t: mlp_loss(t, X, y)  # noqa: E731
    H = hessian(f)(theta)
    np.testing.assert_allclose(H, H.T, atol=1e-10)
    np.testing.assert_allclose(H, _hessian_by_differences(f, theta), atol=1e-6, rtol=1e-5)
    v = np.linspace(-1, 1, 13)
    np.testing.assert_allclose(hvp(f)(theta, v), H @ v, atol=1e-10)


def test_newtons_method_on_a_tensor_problem_converges_in_a_few_steps():
    # L2-regularised logistic regression: strictly convex, Newton converges quadratically
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = (X @ np.array([1.5, -2.0, 0.5]) + 0.3 * rng.standard_normal(40) > 0).astype(float)

    def loss(w):
        z = Tensor(X) @ w
        # log(1 + e^z) - y z, summed, plus 0.1 |w|^2
        return (z.softplus() - Tensor(y) * z).mean() + 0.1 * (w * w).sum()

    w = np.zeros(3)
    norms = []
    for _ in range(6):
        g, H = grad(loss)(w), hessian(loss)(w)
        w = w - np.linalg.solve(H, g)
        norms.append(np.linalg.norm(grad(loss)(w)))
    assert norms[3] < 1e-10, norms
    assert norms[2] < norms[1] ** 1.5  # faster than linear: the quadratic regime


# --------------------------------------------------------------------------------------------
# gradcheck(order=2) catches a wrong second derivative that first-order checks cannot see
# --------------------------------------------------------------------------------------------


def test_order_2_catches_a_scalar_rule_wrong_only_in_its_graph(monkeypatch):
    # Value.tanh computes its first-order partial inline; the rule only builds gradient graphs
    monkeypatch.setitem(PARTIAL_RULES, "tanh", lambda inputs, out, ctx: (1.0 - 1.01 * out * out,))
    x = Value(0.7, label="x")
    assert gradcheck(lambda v: v.tanh(), x).ok
    report = gradcheck(lambda v: v.tanh(), x, order=2)
    assert not report.ok
    # the graph's d/dx (1 - 1.01 tanh^2) is 1.01 times the true second derivative
    assert report.worst.analytic / report.worst.numeric == pytest.approx(1.01, rel=1e-6)
    with pytest.raises(GradcheckError, match=r"order 2\) MISMATCH: worst is input 0 \('x'\)"):
        assert_second_derivatives_match(lambda v: v.tanh(), x)


def test_order_2_catches_a_tensor_rule_wrong_only_on_tensors(monkeypatch):
    def tanh_grad(g, inputs, out, ctx):  # right on arrays (backward), wrong on Tensors (graph)
        return g * (1 - out * out) if isinstance(out, np.ndarray) else g * (1 - 1.01 * out * out)

    monkeypatch.setitem(VJP_RULES, "tanh", (tanh_grad,))
    x = Tensor([[0.3, -0.8], [1.2, 0.1]], requires_grad=True)
    assert gradcheck(lambda t: t.tanh(), x).ok
    report = gradcheck(lambda t: t.tanh(), x, order=2)
    assert not report.ok and report.worst.shape == (2, 2)
    assert "of shape (2, 2) at index" in str(report)


def test_order_must_be_1_or_2():
    with pytest.raises(ValueError, match="gradcheck: order must be 1 or 2, got 3"):
        gradcheck(lambda v: v, Value(1.0), order=3)
