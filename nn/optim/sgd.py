"""`SGD`: stochastic gradient descent, optionally with momentum, Nesterov momentum and weight
decay; PyTorch's ``torch.optim.SGD`` (same arguments, same numbers).

With gradient g of parameter p, each step (g negated first when ``maximize``)::

    g = g + weight_decay * p
    b = g                                       (first step)
    b = momentum * b + (1 - dampening) * g      (later steps)
    g = g + momentum * b  if nesterov  else  b  (only with momentum)
    p = p - lr * g

>>> from autodiff import Value
>>> from nn.optim import SGD
>>> x = Value(3.0)
>>> optimizer = SGD([x], lr=0.1)
>>> for _ in range(3):
...     optimizer.zero_grad()
...     (x * x).backward()      # d(x^2)/dx = 2x: each step multiplies x by 1 - 0.2
...     optimizer.step()
>>> round(x.data, 6)
1.536
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from autodiff import Tensor, Value
from autodiff.tensor import changed_in_place
from nn.optim.optimizer import Optimizer, as_array, check_number

_ndarray = np.ndarray


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
    maximize=False)``, as ``torch.optim.SGD``.

    A parameter whose gradient is None (a Tensor no backward pass reached) is skipped: no
    state, no weight decay. A `Value`'s gradient is always a number (0.0 until a backward pass
    reaches it), so every Value parameter is updated, as micrograd's loop does.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        self._check_group(defaults)  # before looking at params: the error names the real fault
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_number("SGD", "learning rate", group["lr"])
        check_number("SGD", "momentum", group["momentum"])
        check_number("SGD", "dampening", group["dampening"], low=-np.inf)
        check_number("SGD", "weight_decay", group["weight_decay"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got momentum="
                f"{group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns `closure()`'s loss, if given."""
        loss = None if closure is None else closure()
        state = self.state
        # Tensors are updated in place, ``p.data -= lr * g`` without the assignment, and the
        # version check is told of them all at once at the end (one lock, not one per tensor)
        changed: list[Tensor] = []
        try:
            for group in self.param_groups:
                lr = float(group["lr"])  # a plain float keeps float32 arithmetic in float32
                momentum = float(group["momentum"])
                dampening = float(group["dampening"])
                decay = float(group["weight_decay"])
                nesterov = bool(group["nesterov"])
                maximize = bool(group["maximize"])
                plain = not (momentum or decay or maximize)
                rate_dtype = rate = None
                for p in group["params"]:
                    g = p.grad
                    if g is None:
                        continue
                    if plain and type(p) is Tensor and type(g) is _ndarray:  # the common case
                        if g.dtype is not rate_dtype:
                            rate_dtype, rate = g.dtype, _rate(lr, g.dtype)
                        p._data -= rate * g
                        changed.append(p)
                    elif isinstance(p, Value):
                        if type(g) is not float:  # an int, or a Value after create_graph=True
                            g = float(g)
                        if plain:
                            p.data -= lr * g
                        else:
                            _sgd_value(p, g, state, lr, momentum, dampening, decay, nesterov,
                                       maximize)  # fmt: skip
                    elif plain:
                        p.data -= lr * as_array(g)
                    else:
                        _sgd_array(p, as_array(g), state, lr, momentum, dampening, decay,
                                   nesterov, maximize)  # fmt: skip
        finally:
            changed_in_place(changed)
        return loss


def _rate(lr: float, dtype: np.dtype) -> Any:
    """`lr` as a 0-d array of a float `dtype`, the number ``lr * g`` would use (numpy multiplies
    by a Python float through its rules for Python scalars, about 0.2 us a call: a fifth of a
    small layer's update); `lr` itself for other dtypes."""
    return np.array(lr, dtype) if dtype.kind == "f" else lr


# The two updates below are the same formulas, term for term, so a float64 Tensor and a Value
# get the same numbers to the last bit.


def _sgd_array(p, g, state, lr, momentum, dampening, decay, nesterov, maximize) -> None:
    """One SGD step of a Tensor parameter, in place on ``p.data``."""
    if maximize:
        g = -g
    if decay:
        g = g + decay * p.data
    if momentum:
        s = state.get(p)
        if s is None:
            s = state[p] = {}
        buf = s.get("momentum_buffer")
        if buf is None:  # the first step takes the gradient itself: no dampening yet
            buf = s["momentum_buffer"] = np.array(g, dtype=p.data.dtype)
        else:
            buf *= momentum
            buf += (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    p.data -= lr * g


def _sgd_value(p, g, state, lr, momentum, dampening, decay, nesterov, maximize) -> None:
    """One SGD step of a Value parameter (its state holds floats)."""
    if maximize:
        g = -g
    if decay:
        g = g + decay * p.data
    if momentum:
        s = state.get(p)
        if s is None:
            s = state[p] = {}
        buf = s.get("momentum_buffer")
        if buf is None:
            buf = g
        else:
            buf = buf * momentum + (1 - dampening) * g
        s["momentum_buffer"] = buf
        g = g + momentum * buf if nesterov else buf
    p.data -= lr * g
