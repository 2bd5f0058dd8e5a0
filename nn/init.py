"""Weight initialisers with PyTorch's names, formulas and defaults (``torch.nn.init``).

Each fills a Tensor (or a list of scalar Values) in place and returns it. A Tensor gets a new
array assigned to ``t.data`` (same shape and dtype), never one written into, so anything that
watches assignments sees the change. `rng` picks the random numbers: a seed, a numpy
``Generator``, a ``random.Random`` (Python's own draws, in order, as micrograd makes them), or
None for the generator `autodiff.manual_seed` seeds.

Fan-in and fan-out read a weight as PyTorch's ``Linear`` stores it, (out_features,
in_features, *kernel): fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field.

>>> import numpy as np
>>> from autodiff import Tensor
>>> from nn import init
>>> w = init.kaiming_uniform_(Tensor(np.empty((256, 784), np.float32)), nonlinearity="relu", rng=0)
>>> bound = init.calculate_gain("relu") * (3 / 784) ** 0.5
>>> bool(abs(w.data).max() <= bound), w.dtype
(True, dtype('float32'))
"""

from __future__ import annotations

import math
import random
import warnings
from typing import Any, Sequence

import numpy as np

import autodiff.tensor
from autodiff import Tensor

_LINEAR = ("linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d")  # fmt: skip


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended factor on the weights' standard deviation after `nonlinearity`:
    1 for linear and sigmoid, 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope**2)) for
    leaky_relu (`param` is the slope, default 0.01), 3/4 for selu.

    >>> calculate_gain("tanh"), calculate_gain("leaky_relu", 0.2)
    (1.6666666666666667, 1.3867504905630728)
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope must be a number, got {param!r}")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    choices = ", ".join([*_LINEAR[:2], "sigmoid", "tanh", "relu", "leaky_relu", "selu"])
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; use {choices}")


def calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel): how many inputs feed each
    output, and how many outputs each input feeds.

    >>> from autodiff import zeros
    >>> calculate_fan_in_and_fan_out(zeros(16, 3, 5, 5))
    (75, 400)
    """
    shape = np.shape(tensor.data if isinstance(tensor, Tensor) else tensor)
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out need a tensor of at least 2 dimensions, got shape {shape}"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


# --------------------------------------------------------------------------------------------
# Where the numbers come from, and where they go
# --------------------------------------------------------------------------------------------


def _generator(rng: Any, op: str) -> Any:
    """A numpy Generator or a random.Random (or the `random` module) to draw from."""
    if rng is None:
        return autodiff.tensor._rng_of(None)  # read now: manual_seed replaces it
    if isinstance(rng, (np.random.Generator, random.Random)) or rng is random:
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(
        f"{op}: rng must be a seed, a numpy Generator, a random.Random or None, got "
        f"{type(rng).__name__}"
    )


def _shape(target: Any, op: str) -> tuple:
    if isinstance(target, Tensor):
        return target.data.shape
    if isinstance(target, (list, tuple)) and all(hasattr(v, "_prev") for v in target):
        return (len(target),)
    raise TypeError(f"{op}: expected a Tensor or a list of Values, got {type(target).__name__}")


def _float_target(target: Any, op: str) -> tuple:
    shape = _shape(target, op)
    if isinstance(target, Tensor) and target.data.dtype.kind != "f":
        raise TypeError(f"{op}: random values need a floating-point tensor, got {target.dtype}")
    return shape


def _fill(target: Any, values: np.ndarray) -> Any:
    """Put `values` (float64, shaped like the target) into the Tensor or the Values."""
    if isinstance(target, Tensor):
        target.data = np.asarray(values, dtype=target.data.dtype).reshape(target.data.shape)
    else:
        for v, x in zip(target, values.tolist()):
            v.data = x
    return target


def _uniform(gen: Any, low: float, high: float, shape: tuple) -> np.ndarray:
    if isinstance(gen, np.random.Generator):
        return gen.uniform(low, high, shape)
    return np.array([gen.uniform(low, high) for _ in range(math.prod(shape))]).reshape(shape)


def _normal(gen: Any, mean: float, std: float, shape: tuple) -> np.ndarray:
    if isinstance(gen, np.random.Generator):
        return gen.normal(mean, std, shape)
    return np.array([gen.gauss(mean, std) for _ in range(math.prod(shape))]).reshape(shape)


# --------------------------------------------------------------------------------------------
# The initialisers
# --------------------------------------------------------------------------------------------


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0, rng: Any = None) -> Any:
    """Fill with draws from U(a, b). micrograd's weights are ``uniform_(w, -1, 1)``.

    >>> import random
    >>> from autodiff import Value
    >>> from nn import Neuron
    >>> w = uniform_([Value(0.0), Value(0.0)], -1, 1, rng=random.Random(0))
    >>> [v.data for v in w] == [v.data for v in Neuron(2, seed=0).w]  # micrograd's draws
    True
    """
    shape = _float_target(tensor, "uniform_")
    return _fill(tensor, _uniform(_generator(rng, "uniform_"), a, b, shape))


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0, rng: Any = None) -> Any:
    """Fill with draws from N(mean, std**2).

    >>> from autodiff import zeros
    >>> w = normal_(zeros(1000, 100), std=0.02, rng=0)
    >>> round(float(w.data.std()), 3)
    0.02
    """
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std!r}")
    shape = _float_target(tensor, "normal_")
    return _fill(tensor, _normal(_generator(rng, "normal_"), mean, std, shape))


def constant_(tensor: Any, val: float) -> Any:
    """Fill with `val`.

    >>> from autodiff import zeros
    >>> constant_(zeros(2), 0.5)
    Tensor([0.5, 0.5])
    """
    return _fill(tensor, np.full(_shape(tensor, "constant_"), val, dtype=np.float64))


def zeros_(tensor: Any) -> Any:
    """Fill with 0 (PyTorch's default for biases is not this: see `nn.Linear`).

    >>> from autodiff import ones
    >>> zeros_(ones(2))
    Tensor([0., 0.])
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Any) -> Any:
    """Fill with 1.

    >>> from autodiff import zeros
    >>> ones_(zeros(2))
    Tensor([1., 1.])
    """
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    """Glorot: U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)), which keeps
    the variance of activations and of gradients alike from layer to layer.

    >>> from autodiff import zeros
    >>> w = xavier_uniform_(zeros(30, 20), rng=0)
    >>> bool(abs(w.data).max() <= (6 / 50) ** 0.5)
    True
    """
    _float_target(tensor, "xavier_uniform_")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std  # a uniform on (-b, b) has standard deviation b / sqrt(3)
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, rng: Any = None) -> Tensor:
    """Glorot: N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    >>> from autodiff import zeros
    >>> w = xavier_normal_(zeros(300, 200), rng=0)
    >>> round(float(w.data.std()), 2)
    0.06
    """
    _float_target(tensor, "xavier_normal_")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, rng)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, op: str) -> float | None:
    _float_target(tensor, op)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if tensor.data.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: Any = None,
) -> Tensor:
    """He: U(-bound, bound) with bound = gain * sqrt(3 / fan), fan = fan_in or fan_out by
    `mode`, gain = ``calculate_gain(nonlinearity, a)`` (`a`: the leaky_relu slope).

    ``kaiming_uniform_(w, a=math.sqrt(5))`` is PyTorch's default for ``Linear`` weights:
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    >>> import math
    >>> from autodiff import zeros
    >>> w = kaiming_uniform_(zeros(10, 4), a=math.sqrt(5), rng=0)
    >>> bool(abs(w.data).max() <= 1 / math.sqrt(4))
    True
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    rng: Any = None,
) -> Tensor:
    """He: N(0, std**2) with std = gain / sqrt(fan) (arguments as `kaiming_uniform_`).

    >>> from autodiff import zeros
    >>> w = kaiming_normal_(zeros(500, 200), nonlinearity="relu", rng=0)
    >>> round(float(w.data.std()), 2)  # sqrt(2 / 200)
    0.1
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, rng)


__all__: Sequence[str] = [
    "calculate_fan_in_and_fan_out",
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]
