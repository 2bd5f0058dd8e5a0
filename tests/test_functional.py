"""The functional API: grad, value_and_grad, jacobian, hessian, hvp on floats, Values, arrays
and Tensors; how nested calls compose; what errors users see."""

import numpy as np
import pytest
from hypothesis import given

from autodiff import (
    Tensor,
    Value,
    grad,
    hessian,
    hvp,
    jacobian,
    log_softmax,
    no_grad,
    value_and_grad,
)
from autodiff.function import Function
from autodiff.testing import arrays, floats, shapes


def cube_sum(x):
    return (x * x * x).sum()


# --------------------------------------------------------------------------------------------
# Results mirror the arguments
# --------------------------------------------------------------------------------------------


def test_float_in_float_out():
    assert grad(lambda x: 5 * x**2 + 30)(3.0) == 30.0
    assert type(grad(lambda x: 5 * x**2 + 30)(3.0)) is float
    assert grad(lambda x: x * x)(3) == 6.0  # Python ints count as numbers


def test_value_in_value_out_and_the_fast_path_returns_a_constant():
    x = Value(3.0)
    g = grad(lambda v: v**3)(x)
    assert isinstance(g, Value) and g.data == 27.0
    assert g._prev == ()  # outermost call on a leaf: no graph of the gradient is kept


def test_array_in_array_out_and_tensor_in_tensor_out():
    x = np.array([0.5, -1.0, 2.0])
    g = grad(cube_sum)(x)
    assert type(g) is np.ndarray and g.dtype == np.float64
    np.testing.assert_allclose(g, 3 * x**2)
    t = grad(cube_sum)(Tensor(x))
    assert isinstance(t, Tensor)
    np.testing.assert_allclose(t.data, 3 * x**2)


def test_float32_gradients_stay_float32():
    x = np.array([1.0, 2.0], dtype=np.float32)
    assert grad(cube_sum)(x).dtype == np.float32


def test_argnums_tuple_and_negative():
    f = lambda x, y, z: x * y + z**2  # noqa: E731
    assert grad(f, argnums=(0, 2))(2.0, 3.0, 4.0) == (3.0, 8.0)
    assert grad(f, argnums=-1)(2.0, 3.0, 4.0) == 8.0
    # arguments that are not differentiated are passed through untouched
    assert grad(lambda x, scale: scale * x, argnums=0)(2.0, 3) == 3.0


def test_value_and_grad():
    value, gradient = value_and_grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 4.0)
    assert (value, gradient) == (12.0, (4.0, 3.0))
    value, gradient = value_and_grad(cube_sum)(np.array([1.0, 2.0]))
    assert float(value) == 9.0
    np.testing.assert_array_equal(gradient, [3.0, 12.0])


def test_a_constant_function_has_zero_gradient():
    assert grad(lambda x: 3.0)(1.0) == 0.0
    assert grad(lambda x, y: y * 2, argnums=0)(1.0, Value(2.0)) == 0.0
    assert grad(lambda x, y: y * 2, argnums=0)(Value(1.0), 2.0).data == 0.0
    np.testing.assert_array_equal(grad(lambda x: 1.0)(np.ones(3)), np.zeros(3))


def test_users_grad_attributes_are_untouched():
    x = Value(2.0)
    x.grad = 5.0
    w = Tensor([1.0, 2.0], requires_grad=True)
    grad(lambda v: v * v)(x)
    grad(lambda v: (v * w).sum())(np.array([3.0, 4.0]))
    hessian(lambda v: v**3)(x)
    assert x.grad == 5.0 and w.grad is None


def test_works_inside_no_grad():
    with no_grad():
        assert grad(lambda x: x**3)(2.0) == 12.0
        assert grad(grad(lambda x: x**3))(2.0) == 12.0


# --------------------------------------------------------------------------------------------
# Nesting
# --------------------------------------------------------------------------------------------


@given(floats(-3, 3))
def test_grad_of_grad_of_grad(x0):
    f = lambda x: x**4 + x.tanh()  # noqa: E731
    assert grad(grad(grad(f)))(x0) == pytest.approx(24 * x0 + _tanh3(x0), abs=1e-9)


def _tanh3(x: float) -> float:
    t = np.tanh(x)
    return float(-2 * (1 - t * t) * (1 - 3 * t * t))


def test_a_closure_over_the_outer_variable_is_differentiated_correctly():
    # d/dx [x * d/dy (x * y)] = d/dx x**2 = 2x
    assert grad(lambda x: x * grad(lambda y: x * y)(2.0))(3.0) == 6.0
    # the inner argument *is* the outer variable, but d/dy (x * y) is still x: d/dx x = 1
    # (no "perturbation confusion")
    assert grad(lambda x: grad(lambda y: x * y)(x))(3.0) == 1.0


def test_a_computed_argument_gives_a_differentiable_gradient():
    x = Value(2.0)
    y = x * x  # an argument computed from other nodes
    g = grad(lambda a: a**3)(y)  # 3 y**2 = 3 x**4, still a graph of x
    assert g.data == 48.0 and g._prev
    g.backward()
    assert x.grad == 12 * 2.0**3


def test_a_tensor_requiring_grad_gives_a_differentiable_gradient():
    t = Tensor([1.0, 2.0], requires_grad=True)
    g = grad(cube_sum)(t)  # 3 t**2
    g.sum().backward()
    np.testing.assert_allclose(t.grad, [6.0, 12.0])


# --------------------------------------------------------------------------------------------
# jacobian, hessian, hvp
# --------------------------------------------------------------------------------------------


def test_jacobian_of_a_list_of_scalars():
    assert jacobian(lambda x: [x * x, 3 * x])(2.0) == [4.0, 3.0]
    rows = jacobian(lambda x, y: (x * y, x + y), argnums=(0, 1))(2.0, 5.0)
    assert rows == ((5.0, 2.0), (1.0, 1.0))


@given(arrays(shapes(max_dims=2)), arrays((3,)))
def test_jacobian_of_a_tensor_function_matches_finite_differences(x, w):
    def f(t):
        return (t.reshape(-1, 1) * Tensor(w)).tanh()  # shape (x.size, 3)

    found = jacobian(f)(x)
    assert found.shape == (x.size, 3) + x.shape
    np.testing.assert_allclose(found, _numeric_jacobian(lambda a: f(Tensor(a)).data, x), atol=1e-6)


def _numeric_jacobian(f, x, eps=1e-6):
    out_shape = np.shape(f(x))
    J = np.zeros(out_shape + x.shape)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        J[(...,) + index] = (f(x + step) - f(x - step)) / (2 * eps)
    return J


def test_hessian_of_scalar_arguments_is_nested_tuples():
    h = hessian(lambda x, y: x * x * y, argnums=(0, 1))(3.0, 2.0)
    assert h == ((4.0, 6.0), (6.0, 0.0))


@given(arrays(4), arrays(4))
def test_hvp_equals_the_hessian_times_v(x, v):
    def f(t):
        return (t.tanh() * t).sum() + (t[0] * t[-1]) ** 2

    np.testing.assert_allclose(hvp(f)(x, v), hessian(f)(x) @ v, rtol=1e-9, atol=1e-9)


def test_hvp_with_scalar_arguments_and_a_tuple_of_directions():
    f = lambda x, y: x**2 * y + y**3  # noqa: E731  H = [[2y, 2x], [2x, 6y]]
    assert hvp(f, argnums=(0, 1))(1.0, 2.0, (1.0, -1.0)) == (4.0 - 2.0, 2.0 - 12.0)


def test_hvp_never_builds_the_hessian():
    # A Hessian of a 300-element function would take 300 backward passes; hvp takes two.
    calls = 0

    def f(t):
        nonlocal calls
        calls += 1
        return (t * t * t).sum()

    x = np.linspace(-1, 1, 300)
    np.testing.assert_allclose(hvp(f)(x, np.ones(300)), 6 * x)
    assert calls == 1


def test_softmax_cross_entropy_hessian_is_diag_p_minus_p_p_transposed():
    z = np.array([0.5, -1.0, 2.0, 0.0])
    p = np.exp(z) / np.exp(z).sum()
    h = hessian(lambda t: -log_softmax(t)[2])(z)
    np.testing.assert_allclose(h, np.diag(p) - np.outer(p, p), atol=1e-12)


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


def test_non_scalar_output_is_a_clear_error():
    with pytest.raises(TypeError, match=r"grad: .* must return a scalar.*list.*jacobian"):
        grad(lambda x: [x, x])(1.0)
    with pytest.raises(TypeError, match=r"hessian: .* shape \(3,\).*jacobian"):
        hessian(lambda t: t * 2)(np.ones(3))
    with pytest.raises(TypeError, match=r"value_and_grad: .*ndarray"):
        value_and_grad(lambda t: np.asarray(t.data))(np.ones(3))


def test_non_differentiable_arguments_are_clear_errors():
    with pytest.raises(TypeError, match=r"grad: argument 0 cannot be differentiated.*str"):
        grad(lambda x: x)("3.0")
    with pytest.raises(TypeError, match=r"grad: argument 1 .*Tensor of dtype int64"):
        grad(lambda x, y: x, argnums=(0, 1))(1.0, Tensor(np.arange(3)))
    with pytest.raises(TypeError, match=r"jacobian: argument 0 .*array of dtype int"):
        jacobian(lambda x: x)(np.arange(3))
    with pytest.raises(TypeError, match=r"grad: argument 0 .*bool"):
        grad(lambda x: x)(True)


def test_bad_argnums_are_clear_errors():
    with pytest.raises(ValueError, match=r"grad: argnums 2 asks for argument 2.*2 arguments"):
        grad(lambda x, y: x * y, argnums=2)(1.0, 2.0)
    with pytest.raises(TypeError, match=r"hessian: argnums must be an int"):
        hessian(lambda x: x, argnums="0")
    with pytest.raises(ValueError, match=r"repeats"):
        grad(lambda x: x, argnums=(0, 0))


def test_hvp_direction_must_match():
    with pytest.raises(ValueError, match=r"hvp: v has shape \(2,\) but the argument has shape"):
        hvp(cube_sum)(np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match=r"hvp: with argnums=\(0, 1\), v must be a tuple of 2"):
        hvp(lambda x, y: x * y, argnums=(0, 1))(1.0, 2.0, 1.0)


class Cube(Function):
    """x**3 elementwise, as a user's custom op; its vjp uses operators only, so it also runs
    on Tensors when a gradient graph is built."""

    name = "functional_test_cube"

    @staticmethod
    def forward(x):
        return x**3

    @staticmethod
    def vjp(g, x, out):
        return (g * 3 * x * x,)


@given(arrays(3), arrays(3))
def test_hessian_and_hvp_through_a_custom_op(x, v):
    f = lambda t: Cube.apply(t).sum()  # noqa: E731  H = diag(6x)
    np.testing.assert_allclose(hessian(f)(x), np.diag(6 * x), atol=1e-12)
    np.testing.assert_allclose(hvp(f)(x, v), 6 * x * v, atol=1e-12)
