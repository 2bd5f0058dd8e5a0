"""Activation functions: by name for `Neuron(..., activation=...)`, and as modules for
`Sequential` (PyTorch's ``nn.ReLU``, ``nn.Tanh``...).

The elementwise modules take a Tensor, a Value, or a list of Values (what micrograd's `Layer`
returns), so they fit between scalar layers too.

>>> from autodiff import Tensor, Value
>>> from nn import LeakyReLU, ReLU
>>> ReLU()(Tensor([-1.0, 2.0]))
Tensor([0., 2.])
>>> [v.data for v in LeakyReLU(0.1)([Value(-1.0), Value(2.0)])]
[-0.1, 2.0]
"""

from __future__ import annotations

from typing import Any, Callable

from autodiff import Tensor
from nn.module import Module

ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "relu": lambda v: v.relu(),
    "tanh": lambda v: v.tanh(),
    "sigmoid": lambda v: v.sigmoid(),
    "leaky_relu": lambda v: v.leaky_relu(0.01),  # the article's 0.01x for x < 0
    "linear": lambda v: v,
}


def get_activation(name: str) -> Callable[[Any], Any]:
    """The activation called `name`, or a ValueError listing the choices."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        choices = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"activation: unknown {name!r}; choose one of {choices}") from None


def _each(x: Any, fn: Callable[[Any], Any], op: str) -> Any:
    """fn(x) for a Tensor or a Value; [fn(v) for v in x] for a list of Values."""
    if type(x) is Tensor or hasattr(x, "_prev"):
        return fn(x)
    if isinstance(x, (list, tuple)) and all(hasattr(v, "_prev") for v in x):
        return [fn(v) for v in x]
    raise TypeError(f"{op}: expected a Tensor, a Value or a list of Values, got {type(x).__name__}")


class ReLU(Module):
    """max(0, x), elementwise."""

    def forward(self, x: Any) -> Any:
        if type(x) is Tensor:  # the common case, without _each's checks
            return x.relu()
        return _each(x, _relu, "ReLU")


class LeakyReLU(Module):
    """x for x > 0, else negative_slope * x (PyTorch's default slope 0.01, the article's)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float)):
            raise TypeError(f"LeakyReLU: negative_slope must be a number, got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Any:
        slope = self.negative_slope
        return _each(x, lambda v: v.leaky_relu(slope), "LeakyReLU")

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise."""

    def forward(self, x: Any) -> Any:
        if type(x) is Tensor:  # the common case, without _each's checks
            return x.sigmoid()
        return _each(x, _sigmoid, "Sigmoid")


class Tanh(Module):
    """tanh(x), elementwise."""

    def forward(self, x: Any) -> Any:
        if type(x) is Tensor:  # the common case, without _each's checks
            return x.tanh()
        return _each(x, _tanh, "Tanh")


class Softmax(Module):
    """exp(x) / sum(exp(x)) along `dim` of a Tensor: rows of probabilities.

    >>> from autodiff import Tensor
    >>> Softmax(dim=1)(Tensor([[0.0, 0.0]]))
    Tensor([[0.5, 0.5]], shape=(1, 2))
    """

    def __init__(self, dim: int) -> None:
        self.dim = _check_dim("Softmax", dim)

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x, "Softmax").softmax(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x - logsumexp(x) along `dim` of a Tensor: log-probabilities, stable for large x."""

    def __init__(self, dim: int) -> None:
        self.dim = _check_dim("LogSoftmax", dim)

    def forward(self, x: Tensor) -> Tensor:
        return _tensor(x, "LogSoftmax").log_softmax(self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def _relu(v: Any) -> Any:
    return v.relu()


def _sigmoid(v: Any) -> Any:
    return v.sigmoid()


def _tanh(v: Any) -> Any:
    return v.tanh()


def _check_dim(op: str, dim: Any) -> int:
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"{op}: dim must be an integer axis, got {dim!r}")
    return dim


def _tensor(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x
