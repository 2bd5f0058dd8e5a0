"""Custom ops whose backward rules hand back gradient arrays that something else also holds,
shared by the tests that .grad never aliases another gradient (tests/test_grad_storage.py,
tests/test_backward_fast_path.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.function import Function


class SameGradientTwice(Function):
    """a + b, whose vjp hands the very same gradient object to both inputs."""

    @staticmethod
    def forward(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    @staticmethod
    def vjp(g: Any, a: Any, b: Any, out: Any) -> tuple:
        return (g, g)


class PassThrough(Function):
    """The identity, whose vjp returns the incoming gradient itself."""

    @staticmethod
    def forward(x: np.ndarray) -> np.ndarray:
        return x.copy()

    @staticmethod
    def vjp(g: Any, x: Any, out: Any) -> tuple:
        return (g,)
