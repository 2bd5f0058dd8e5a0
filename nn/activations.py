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

import autodiff as ad
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


# --------------------------------------------------------------------------------------------
# More activation modules, PyTorch's, for the Tensor functions of autodiff's activations
# --------------------------------------------------------------------------------------------


def refuse_inplace(op: str, inplace: Any) -> None:
    """PyTorch's ``inplace=True`` overwrites the input; here every tensor is a value in the
    graph that backward may still need, so it is refused with a clear error."""
    if inplace:
        raise ValueError(
            f"{op}: inplace=True is not supported (a tensor may still be needed by backward); "
            "use inplace=False, the default"
        )


class GELU(Module):
    """x * Phi(x), or its tanh approximation with ``approximate="tanh"`` (`autodiff.gelu`).

    >>> from autodiff import Tensor
    >>> GELU()(Tensor([1.0]))
    Tensor([0.84134475])
    """

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return ad.gelu(_tensor(x, "GELU"), self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _Elementwise(Module):
    """An activation with no arguments but PyTorch's ``inplace`` (refused if True)."""

    _function: Any = None

    def __init__(self, inplace: bool = False) -> None:
        refuse_inplace(type(self).__name__, inplace)

    def forward(self, x: Tensor) -> Tensor:
        return type(self)._function(_tensor(x, type(self).__name__))


class SiLU(_Elementwise):
    """x * sigmoid(x), also called swish (`autodiff.silu`)."""

    _function = staticmethod(ad.silu)


class SELU(_Elementwise):
    """scale * elu(x, alpha) with the self-normalising constants (`autodiff.selu`)."""

    _function = staticmethod(ad.selu)


class ReLU6(_Elementwise):
    """min(max(0, x), 6) (`autodiff.relu6`)."""

    _function = staticmethod(ad.relu6)


class Hardsigmoid(_Elementwise):
    """relu6(x + 3) / 6 (`autodiff.hardsigmoid`)."""

    _function = staticmethod(ad.hardsigmoid)


class Hardswish(_Elementwise):
    """x * relu6(x + 3) / 6 (`autodiff.hardswish`)."""

    _function = staticmethod(ad.hardswish)


class Mish(_Elementwise):
    """x * tanh(softplus(x)) (`autodiff.mish`)."""

    _function = staticmethod(ad.mish)


class Softsign(_Elementwise):
    """x / (1 + |x|) (`autodiff.softsign`)."""

    _function = staticmethod(ad.softsign)

    def __init__(self) -> None:
        pass


class LogSigmoid(_Elementwise):
    """log(sigmoid(x)), stable for large |x| (`autodiff.logsigmoid`)."""

    _function = staticmethod(ad.logsigmoid)

    def __init__(self) -> None:
        pass


class ELU(Module):
    """x where x > 0, else alpha (e**x - 1) (`autodiff.elu`).

    >>> ELU(alpha=2.0)
    ELU(alpha=2.0)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        refuse_inplace("ELU", inplace)
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return ad.elu(_tensor(x, "ELU"), self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class CELU(Module):
    """x where x > 0, else alpha (e**(x / alpha) - 1) (`autodiff.celu`)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        refuse_inplace("CELU", inplace)
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return ad.celu(_tensor(x, "CELU"), self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class Hardtanh(Module):
    """x clipped to [min_val, max_val] (`autodiff.hardtanh`).

    >>> from autodiff import Tensor
    >>> Hardtanh(0.0, 2.0)(Tensor([-1.0, 1.0, 3.0])).data
    array([0., 1., 2.])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        refuse_inplace("Hardtanh", inplace)
        self.min_val = min_val
        self.max_val = max_val

    def forward(self, x: Tensor) -> Tensor:
        return ad.hardtanh(_tensor(x, "Hardtanh"), self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


class Softplus(Module):
    """log(1 + e**(beta x)) / beta, and x itself where beta x > threshold
    (`autodiff.softplus`)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        self.beta = beta
        self.threshold = threshold

    def forward(self, x: Tensor) -> Tensor:
        return ad.softplus(_tensor(x, "Softplus"), self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmin(Module):
    """softmax(-x) along `dim` (`autodiff.softmin`)."""

    def __init__(self, dim: int) -> None:
        self.dim = _check_dim("Softmin", dim)

    def forward(self, x: Tensor) -> Tensor:
        return ad.softmin(_tensor(x, "Softmin"), self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
