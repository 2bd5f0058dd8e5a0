"""micrograd's network pieces on the scalar `Value`: `Neuron`, `Layer`, `MLP`.

Same constructor arguments, call conventions, parameter order and weight draws as micrograd
(``random.uniform(-1, 1)`` per weight, in order; bias 0), so a model seeded alike gives the same
numbers. Each neuron's weighted sum is one graph node (`Value.dot`) instead of 2n, which is most
of why training is faster.

>>> import random
>>> from nn import MLP
>>> random.seed(1337)
>>> model = MLP(2, [16, 16, 1])
>>> model([2.0, -1.0])  # doctest: +ELLIPSIS
Value(data=..., grad=0.0, op='dot')
"""

from __future__ import annotations

import random
from typing import Any, Sequence

from autodiff import Value
from nn.activations import get_activation
from nn.module import Module

# How reprs name each activation (as the tensor activation modules are named).
_KIND = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyReLU",
         "linear": "Linear"}  # fmt: skip


def _generator(seed: int | None, rng: random.Random | None) -> Any:
    """Where weights are drawn from: `rng`, else a new Random(seed), else the `random` module
    itself (micrograd's behaviour, so `random.seed(1337)` reproduces its models)."""
    if rng is not None and seed is not None:
        raise ValueError("pass either seed or rng, not both")
    if rng is not None:
        if not hasattr(rng, "uniform"):
            raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
        return rng
    if seed is not None:
        return random.Random(seed)
    return random


# Layers call their neurons' forward (and MLPs their layers') directly, as Sequential does:
# Module.__call__ only calls forward, and its frame costs a tenth of a neuron's time. A module
# whose class defines its own __call__ is called through it.
_module_call = Module.__call__


def _check_inputs(owner: str, nin: int, x: Sequence[Any]) -> None:
    try:
        n = len(x)
    except TypeError:
        raise TypeError(f"{owner}: expected a list of {nin} numbers or Values, got {x!r}") from None
    if n != nin:
        raise ValueError(f"{owner}: expected {nin} inputs, got {n}")


def _check_size(owner: str, what: str, n: Any) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{owner}: {what} must be a positive integer, got {n!r}")


class Neuron(Module):
    """activation(w . x + b): one weight per input, drawn from U(-1, 1); bias 0.

    `nonlin=False` (micrograd's spelling) means ``activation='linear'``.
    """

    def __init__(
        self,
        nin: int,
        nonlin: bool = True,
        activation: str = "relu",
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        _check_size("Neuron", "nin", nin)
        draw = _generator(seed, rng)
        self.w = [Value(draw.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = nonlin
        self.activation = activation if nonlin else "linear"
        self._activate = get_activation(self.activation)
        self.name_parameters()

    def forward(self, x: Sequence[Any]) -> Value:
        w = self.w
        if not isinstance(x, (list, tuple)) or len(x) != len(w):
            _check_inputs(repr(self), len(w), x)
        return self._activate(Value.dot(w, x, self.b))

    def __repr__(self) -> str:
        return f"{_KIND.get(self.activation, self.activation)}Neuron({len(self.w)})"


class Layer(Module):
    """`nout` neurons reading the same `nin` inputs; returns one Value if nout == 1, else a list."""

    def __init__(self, nin: int, nout: int, **kwargs: Any) -> None:
        _check_size("Layer", "nout", nout)
        if kwargs.get("seed") is not None:  # one generator for the whole layer, not one per neuron
            kwargs["rng"] = _generator(kwargs.pop("seed"), kwargs.get("rng"))
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]
        self.nin = nin
        self.name_parameters()

    def forward(self, x: Sequence[Any]) -> Value | list[Value]:
        if not isinstance(x, (list, tuple)) or len(x) != self.nin:
            _check_inputs(f"Layer({self.nin} -> {len(self.neurons)})", self.nin, x)
        out = [n.forward(x) if type(n).__call__ is _module_call else n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        kinds = ", ".join(sorted({_KIND.get(n.activation, n.activation) for n in self.neurons}))
        return f"Layer({self.nin} -> {len(self.neurons)}, {kinds})"


class MLP(Module):
    """Layers of neurons: `activation` on every hidden layer, the last layer linear.

    >>> MLP(3, [4, 4, 1], seed=0)
    MLP(
      (layers.0): Layer(3 -> 4, ReLU)
      (layers.1): Layer(4 -> 4, ReLU)
      (layers.2): Layer(4 -> 1, Linear)
    )
    >>> MLP(3, [4, 4, 1], seed=0).layers[0].neurons[0]
    ReLUNeuron(3)
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "relu",
        seed: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(nouts, int) or not all(isinstance(n, int) for n in nouts) or not nouts:
            raise ValueError(f"MLP: nouts must be a non-empty list of layer sizes, got {nouts!r}")
        get_activation(activation)  # fail before drawing any weight
        draw = _generator(seed, rng)
        sizes = [nin, *nouts]
        last = len(nouts) - 1
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlin=i != last, activation=activation, rng=draw)
            for i in range(len(nouts))
        ]
        self.name_parameters()

    def forward(self, x: Sequence[Any]) -> Value | list[Value]:
        for layer in self.layers:
            x = layer.forward(x) if type(layer).__call__ is _module_call else layer(x)
        return x
