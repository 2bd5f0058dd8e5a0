"""Custom ops (`autodiff.Function`): a forward and a vjp compose with everything else."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given

import autodiff
from autodiff import Function, Tensor, gradcheck
from autodiff.testing import arrays, assert_gradients_match, broadcastable_shapes, shapes


class Softsign(Function):
    """x / (1 + |x|): the example of autodiff.function's docstring."""

    @staticmethod
    def forward(x: np.ndarray) -> np.ndarray:
        return x / (1 + np.abs(x))

    @staticmethod
    def vjp(g: Any, x: Any, out: Any) -> tuple:
        return (g / (1 + np.abs(x)) ** 2,)


class ScaledHypot(Function):
    """scale * sqrt(a**2 + b**2), broadcasting, with a keyword constant."""

    name = "scaled_hypot"

    @staticmethod
    def forward(a: np.ndarray, b: np.ndarray, scale: float = 1.0) -> np.ndarray:
        return scale * np.sqrt(a * a + b * b)

    @staticmethod
    def vjp(g: Any, a: Any, b: Any, out: Any, scale: float = 1.0) -> tuple:
        # gradients shaped like the output: summing back to a broadcast input is automatic
        return (g * scale * scale * a / out, g * scale * scale * b / out)


@given(arrays(shapes()))
def test_custom_op_matches_finite_differences_and_composes(a: np.ndarray) -> None:
    x = Tensor(a, requires_grad=True)
    y = Softsign.apply(x)
    assert y._op == "Softsign" and y._prev == (x,)
    np.testing.assert_allclose(y.data, a / (1 + np.abs(a)))
    assert_gradients_match(lambda t: (Softsign.apply(t.tanh()) * t).exp().sum(), Tensor(a, True))


@given(arrays(shapes(), avoid=(0.0,), gap=1e-2))
def test_custom_op_second_order(a: np.ndarray) -> None:
    # its vjp uses operators and np.abs only, so create_graph differentiates through it
    report = gradcheck(lambda t: Softsign.apply(t).sum(), Tensor(a, True), order=2)
    assert report.ok, str(report)


@given(broadcastable_shapes().flatmap(lambda p: arrays(p[0]).flatmap(
    lambda a: arrays(p[1], avoid=(0.0,), gap=0.1).map(lambda b: (a, b)))))  # fmt: skip
def test_two_input_custom_op_with_broadcasting_and_constants(pair: tuple) -> None:
    a, b = pair
    out = ScaledHypot.apply(Tensor(a), Tensor(b), scale=2.0)
    np.testing.assert_allclose(out.data, 2 * np.hypot(a, b))
    assert_gradients_match(
        lambda s, t: ScaledHypot.apply(s, t, scale=2.0), Tensor(a, True), Tensor(b, True)
    )


def test_custom_op_accepts_arrays_and_numbers_and_skips_constants() -> None:
    x = Tensor([3.0], requires_grad=True)
    y = ScaledHypot.apply(x, 4.0)
    np.testing.assert_allclose(y.data, [5.0])
    y.backward()
    np.testing.assert_allclose(x.grad, [0.6])
    assert autodiff.tensor.VJP_RULES["scaled_hypot"] is autodiff.tensor.VJP_RULES["Softsign"]


def test_custom_op_with_no_grad_records_nothing() -> None:
    with autodiff.no_grad():
        y = Softsign.apply(Tensor([1.0], requires_grad=True))
    assert not y.requires_grad and y._prev == ()


class WrongCount(Function):
    @staticmethod
    def forward(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    @staticmethod
    def vjp(g: Any, a: Any, b: Any, out: Any) -> Any:
        return (g * b,)


class WrongShape(Function):
    @staticmethod
    def forward(a: np.ndarray) -> np.ndarray:
        return a.sum()

    @staticmethod
    def vjp(g: Any, a: Any, out: Any) -> Any:
        return (np.ones(7),)


class Text(Function):
    @staticmethod
    def forward(a: np.ndarray) -> np.ndarray:
        return np.array(["no"])

    @staticmethod
    def vjp(g: Any, a: Any, out: Any) -> Any:
        return (g,)


def test_custom_op_errors_name_the_op() -> None:
    a = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"WrongCount.vjp must return one gradient per input \(2\)"):
        WrongCount.apply(a, a).sum().backward()
    with pytest.raises(ValueError, match=r"WrongShape.vjp: gradient 0 has shape \(7,\) but input"):
        WrongShape.apply(a).backward()
    with pytest.raises(TypeError, match="Text.forward must return real numbers"):
        Text.apply(a)
    with pytest.raises(ValueError, match="op name 'exp' is a built-in op"):

        class Exp(Function):  # noqa: F841 - defining it is the error
            name = "exp"

    with pytest.raises(TypeError, match="subclass Function"):
        Function.apply(a)
