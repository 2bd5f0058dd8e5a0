"""`Module`: the base of every network piece: parameters, their names, and zero_grad.

>>> from nn import MLP
>>> model = MLP(2, [3, 1], seed=0)
>>> [name for name, _ in model.named_parameters()][:3]
['layers.0.neurons.0.w.0', 'layers.0.neurons.0.w.1', 'layers.0.neurons.0.b']
"""

from __future__ import annotations

from typing import Any, Iterator

from autodiff import Value


def _is_parameter(x: Any) -> bool:
    # Any graph node (Value or Tensor) held by a module is one of its parameters.
    return hasattr(x, "_prev") and hasattr(x, "grad")


class Module:
    """Base class: finds parameters in attributes (nodes, modules, lists of them), in order."""

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """(dotted name, parameter) pairs, e.g. ``('layers.0.neurons.3.w.1', Value(...))``."""
        stack: list[tuple[str, Any]] = [(prefix, self)]
        while stack:  # iterative walk, depth first, in attribute order
            name, obj = stack.pop()
            if _is_parameter(obj):
                yield name, obj
                continue
            if isinstance(obj, Module):
                children = [(key, value) for key, value in vars(obj).items() if key[0] != "_"]
            elif isinstance(obj, (list, tuple)):
                children = [(str(i), value) for i, value in enumerate(obj)]
            else:
                continue
            for key, value in reversed(children):
                stack.append((f"{name}.{key}" if name else key, value))

    def parameters(self) -> list:
        """Every parameter, in a stable order (micrograd's: each neuron's w then b)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Reset every parameter's gradient before the next backward pass."""
        for p in self.parameters():
            p.grad = 0.0 if isinstance(p, Value) else None

    def name_parameters(self) -> None:
        """Label each parameter with its dotted name, so drawings and traces show it."""
        for name, p in self.named_parameters():
            p.label = name
