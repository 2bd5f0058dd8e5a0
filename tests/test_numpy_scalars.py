"""numpy's scalars (np.sqrt(2), np.float64(3), np.int64(2)) count as numbers next to a Tensor,
as in PyTorch: float32 data stays float32, where numpy 2's own rules would promote it."""

from __future__ import annotations

import numpy as np
import pytest

import autodiff as ad
from autodiff import Tensor

CASES = {
    "x * np.sqrt(2)": lambda x: x * np.sqrt(2),
    "np.sqrt(2) * x": lambda x: np.sqrt(2) * x,
    "x / np.float64(3)": lambda x: x / np.float64(3),
    "np.float64(3) / x": lambda x: np.float64(3) / x,
    "x + np.float64(1)": lambda x: x + np.float64(1),
    "x - np.int64(1)": lambda x: x - np.int64(1),
    "x ** np.float64(2)": lambda x: x ** np.float64(2),
    "np.float64(2) ** x": lambda x: np.float64(2) ** x,
    "lerp": lambda x: ad.lerp(x, x * 2, np.float64(0.5)),
    "clamp": lambda x: x.clamp(np.float64(0.5), np.float64(1.5)),
    "clip": lambda x: x.clip(np.float64(0.5), None),
    "maximum": lambda x: ad.maximum(x, np.float64(0.5)),
    "where": lambda x: ad.where(x > 1, x, np.float64(0)),
    "masked_fill": lambda x: x.masked_fill(x > 1, np.float64(0)),
}


@pytest.mark.parametrize("name", CASES)
def test_float32_stays_float32_next_to_a_numpy_scalar(name: str) -> None:
    x = Tensor(np.array([0.5, 1.0, 2.0], np.float32), requires_grad=True)
    out = CASES[name](x)
    assert out.dtype == np.float32, name
    out.sum().backward()
    assert x.grad.dtype == np.float32
    # the same numbers as in float64, to float32's rounding
    wide = CASES[name](Tensor(np.array([0.5, 1.0, 2.0])))
    assert wide.dtype == np.float64
    np.testing.assert_allclose(out.data, wide.data, rtol=1e-6)


def test_the_value_is_the_scalars_and_the_ops_constant_a_python_number() -> None:
    x = Tensor(np.array([1.0, 4.0], np.float32), requires_grad=True)
    np.testing.assert_allclose((x * np.sqrt(np.float64(2))).data, [2**0.5, 4 * 2**0.5], rtol=1e-7)
    y = x ** np.float64(0.5)
    assert type(y._ctx) is float and y.data.tolist() == [1.0, 2.0]


def test_integer_tensors_still_promote_as_numpy_does() -> None:
    i = Tensor(np.array([1, 2]))
    assert (i * np.float64(1.5)).dtype == np.float64
    assert (i * np.int32(2)).dtype == np.int64


def test_a_numpy_scalar_alone_and_0d_arrays_keep_their_dtype() -> None:
    assert ad.tensor.as_tensor(np.float32(2.0)).dtype == np.float32
    x = Tensor(np.ones(2, np.float32))
    assert (x * np.array(2.0)).dtype == np.float64  # an array, not a scalar: numpy's rule


def test_as_pytorch_does() -> None:
    torch = pytest.importorskip("torch")
    ours = Tensor(np.ones(2, np.float32)) * np.sqrt(2)
    theirs = torch.ones(2, dtype=torch.float32) * np.sqrt(2)
    assert str(theirs.dtype) == "torch.float32" == f"torch.{ours.dtype}"
    np.testing.assert_array_equal(ours.data, theirs.numpy())
