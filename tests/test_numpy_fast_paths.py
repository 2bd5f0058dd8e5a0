"""Hot paths call numpy more cheaply than the plain formulas; the numbers must be the plain
formulas' to the last bit, NaN, inf and -0.0 included:

- the backward rules of ``linear`` and ``matmul`` and the bias sum of `_unbroadcast` take
  np.dot instead of ``@`` where the two are the same BLAS call (`autodiff.tensor._matmul`), for
  every shape (rows and columns of one, the outer product (n, 1) @ (1, m)), layout (C order,
  transposed views, strided views) and dtype; `mse_loss`'s sum of squares is ``flat @ flat``;
- relu and its rule compare with a 0-d zero of the data's dtype rather than a Python 0;
- `SGD` multiplies by its rate as a 0-d array of the gradient's dtype, not a Python float.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from autodiff import Tensor, linear, mse_loss
from autodiff.graph import backpropagate
from autodiff.tensor import _matmul, _unbroadcast
from nn.optim import SGD

SIZES = st.sampled_from([1, 2, 3, 5, 16, 17, 100])
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e30]


def _same_bits(x: np.ndarray, y: np.ndarray) -> None:
    assert x.dtype == y.dtype and x.shape == y.shape
    assert np.array_equal(x, y, equal_nan=True)
    assert np.array_equal(np.signbit(x), np.signbit(y))  # -0.0 stays -0.0


@st.composite
def operand(draw: st.DrawFn, shape: tuple, dtype: np.dtype) -> np.ndarray:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    layout = draw(st.sampled_from(["C", "transposed", "strided"]))
    full = shape if layout != "strided" else (shape[0], 2 * shape[1])
    a = rng.standard_normal(full[::-1] if layout == "transposed" else full).astype(dtype)
    if dtype.kind == "f" and draw(st.booleans()):  # a few special values
        for _ in range(draw(st.integers(1, 3))):
            with np.errstate(over="ignore"):  # 1e30 is inf in float16
                a.flat[rng.integers(a.size)] = draw(st.sampled_from(SPECIAL))
    if layout == "transposed":
        return a.T
    return a[:, ::2] if layout == "strided" else a


@given(st.data(), SIZES, SIZES, SIZES, st.sampled_from([np.float32, np.float64, np.int64]))
def test_matmul_is_at_to_the_bit(data: st.DataObject, m: int, k: int, p: int, dtype) -> None:
    a = data.draw(operand((m, k), np.dtype(dtype)))
    b = data.draw(operand((k, p), np.dtype(dtype)))
    with np.errstate(all="ignore"):
        _same_bits(_matmul(a, b), a @ b)


@given(st.data(), SIZES, SIZES, st.sampled_from([np.float32, np.float64]))
def test_bias_sum_is_ones_at_grad_to_the_bit(data: st.DataObject, n: int, m: int, dtype) -> None:
    grad = data.draw(operand((n, m), np.dtype(dtype)))
    with np.errstate(all="ignore"):
        _same_bits(_unbroadcast(grad, (m,)), np.ones(n, dtype) @ grad)


def test_mixed_dtypes_and_other_ranks_are_left_to_matmul() -> None:
    a32 = np.arange(6, dtype=np.float32).reshape(2, 3)
    b64 = np.arange(12, dtype=np.float64).reshape(3, 4)
    _same_bits(_matmul(a32, b64), a32 @ b64)  # promoted as @ promotes
    batch = np.arange(24.0).reshape(2, 3, 4)
    _same_bits(_matmul(batch, b64.T), batch @ b64.T)
    x = Tensor(a32)
    assert isinstance(_matmul(x, Tensor(b64)), Tensor)  # Tensors (create_graph) stay Tensors


def test_linear_backward_matches_the_hand_written_rules_to_the_bit() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 16)).astype(np.float32)
    w = Tensor(rng.standard_normal((1, 16)).astype(np.float32), requires_grad=True)
    b = Tensor(rng.standard_normal(1).astype(np.float32), requires_grad=True)
    xt = Tensor(x, requires_grad=True)
    g = rng.standard_normal((100, 1)).astype(np.float32)
    linear(xt, w, b).backward(g)
    _same_bits(xt.grad, g @ w.data)  # the outer product (100, 1) @ (1, 16)
    _same_bits(w.grad, g.T @ x)
    _same_bits(b.grad, np.ones(100, np.float32) @ g)


@given(st.data(), SIZES, SIZES, st.sampled_from([np.float32, np.float64]))
def test_mse_loss_is_the_matmul_formula_to_the_bit(data: st.DataObject, n: int, m: int, dtype):
    x = data.draw(operand((n, m), np.dtype(dtype)))
    t = data.draw(operand((n, m), np.dtype(dtype)))
    with np.errstate(all="ignore"):
        diff = (x - t).reshape(-1)
        expected = np.asarray((diff @ diff) / diff.size, dtype=dtype)
        _same_bits(mse_loss(Tensor(x), Tensor(t)).data, expected)


FLOATS = st.sampled_from([np.float16, np.float32, np.float64])


@given(st.data(), SIZES, SIZES, FLOATS)
def test_relu_and_its_rule_are_the_plain_formulas_to_the_bit(
    data: st.DataObject, n: int, m: int, dtype
) -> None:
    x = data.draw(operand((n, m), np.dtype(dtype)))
    g = data.draw(operand((n, m), np.dtype(dtype)))
    t = Tensor(x, requires_grad=True)
    out = t.relu()
    _same_bits(out.data, np.maximum(x, 0))
    with np.errstate(all="ignore"):
        out.backward(g)
        _same_bits(t.grad, g * ~(x <= 0))  # PyTorch's mask: a nan lets the gradient through
    # the general driver with create_graph runs the rule on Tensors: the same numbers
    t2 = Tensor(x, requires_grad=True)
    with np.errstate(all="ignore"):
        backpropagate(t2.relu(), Tensor(g), create_graph=True, follow=Tensor._follow)
    _same_bits(t2.grad.data, t.grad)


def test_relu_of_integers_keeps_numpys_dtype() -> None:
    for data in (np.array([-2, 0, 3]), np.array([True, False])):
        out = Tensor(data).relu().data
        _same_bits(out, np.maximum(data, 0))  # bool and ints: no float zero slipped in


@given(st.data(), SIZES, FLOATS, st.sampled_from([0.01, 0.1, 1.0, 3.7, 1e-8, 1e39]))
def test_sgd_step_is_p_minus_lr_g_to_the_bit(data: st.DataObject, n: int, dtype, lr) -> None:
    start = data.draw(operand((n, 3), np.dtype(dtype)))
    g = np.ascontiguousarray(data.draw(operand((n, 3), np.dtype(dtype))))
    p = Tensor(start.copy(), requires_grad=True)
    p.grad = g
    with np.errstate(all="ignore"):
        SGD([p], lr=lr).step()
        _same_bits(p.data, start - lr * g)
