"""Activation functions by name, for `Neuron(..., activation=...)`."""

from __future__ import annotations

from typing import Any, Callable

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
