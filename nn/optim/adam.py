"""`Adam` and `AdamW`: adaptive moment estimation, as ``torch.optim.Adam`` and
``torch.optim.AdamW`` (same arguments, same numbers).

With gradient g of parameter p at step t = 1, 2, ... (g negated first when ``maximize``)::

    p = p * (1 - lr * weight_decay)          AdamW (decoupled weight decay), or
    g = g + weight_decay * p                 Adam (L2 penalty in the gradient)
    m = beta1 * m + (1 - beta1) * g          first moment (*)
    v = beta2 * v + (1 - beta2) * g * g      second moment
    v_hat = max(v_hat, v)  if amsgrad  else  v
    p = p - lr / (1 - beta1**t) * m / (sqrt(v_hat) / sqrt(1 - beta2**t) + eps)

The first step therefore moves every coordinate by about lr, whatever the gradient's scale.
(*) computed as PyTorch does, ``torch.lerp(m, g, 1 - beta1)``: ``m + (1 - beta1) * (g - m)``
for beta1 > 0.5, else ``g - (g - m) * beta1``, which stays exact as beta1 nears 0 (the other
form would cancel there, and with a tiny second moment the step magnifies the error).

>>> from autodiff import Value
>>> from nn.optim import Adam
>>> x = Value(3.0)
>>> x.grad = 6.0
>>> Adam([x], lr=0.1).step()
>>> round(x.data, 6)
2.9
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

import numpy as np

from autodiff import Value
from nn.optim.optimizer import Optimizer, as_array, check_number


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
    maximize=False, decoupled_weight_decay=False)``, as ``torch.optim.Adam``.

    Per-parameter state: ``step`` (an int), ``exp_avg`` and ``exp_avg_sq`` (and
    ``max_exp_avg_sq`` with amsgrad), arrays of the parameter's dtype (floats for a Value).
    A Tensor whose gradient is None is skipped (no state, no decay); a Value's gradient is
    always a number, so every Value parameter takes a step (0.0 counts as a gradient).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = self._name
        check_number(name, "learning rate", group["lr"])
        check_number(name, "epsilon", group["eps"])
        betas = group["betas"]
        if isinstance(betas, list):  # e.g. from a state dict saved as JSON
            betas = group["betas"] = tuple(betas)
        if not isinstance(betas, tuple) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        check_number(name, "betas[0]", betas[0], high=1.0)
        check_number(name, "betas[1]", betas[1], high=1.0)
        check_number(name, "weight_decay", group["weight_decay"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns `closure()`'s loss, if given."""
        loss = None if closure is None else closure()
        state = self.state
        for group in self.param_groups:
            beta1, beta2 = (float(b) for b in group["betas"])
            hyper = (
                float(group["lr"]),
                beta1,
                beta2,
                float(group["eps"]),
                float(group["weight_decay"]),
                bool(group["amsgrad"]),
                bool(group["maximize"]),
                bool(group["decoupled_weight_decay"]),
            )
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                s = state.get(p)
                if s is None:
                    s = state[p] = {}
                if isinstance(p, Value):
                    _adam_value(p, float(g), s, *hyper)
                else:
                    _adam_array(p, as_array(g), s, *hyper)
        return loss


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
    amsgrad=False, *, maximize=False)``: Adam whose weight decay shrinks the parameter directly
    (``p *= 1 - lr * weight_decay``) instead of entering the moments, as ``torch.optim.AdamW``.

    >>> from autodiff import Value
    >>> from nn.optim import AdamW
    >>> x = Value(3.0)
    >>> x.grad = 0.0        # no gradient: only the decay moves x, by lr * weight_decay * x
    >>> AdamW([x], lr=0.1, weight_decay=0.5).step()
    >>> round(x.data, 12)
    2.85
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
            decoupled_weight_decay=True,
        )  # fmt: skip

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # AdamW always decouples, whatever was saved
            group["decoupled_weight_decay"] = True


# The two updates below are the same formulas, term for term, so a float64 Tensor and a Value
# get the same numbers to the last bit.


def _adam_array(p, g, s, lr, beta1, beta2, eps, decay, amsgrad, maximize, decoupled) -> None:
    """One Adam step of a Tensor parameter, in place on ``p.data`` and its state arrays."""
    if not s:
        s["step"] = 0
        s["exp_avg"] = np.zeros_like(p.data)
        s["exp_avg_sq"] = np.zeros_like(p.data)
    if amsgrad and "max_exp_avg_sq" not in s:  # also when amsgrad is switched on mid-training
        s["max_exp_avg_sq"] = np.zeros_like(p.data)
    step = s["step"] = s["step"] + 1
    if maximize:
        g = -g
    if decay:
        if decoupled:
            p.data *= 1 - lr * decay
        else:
            g = g + decay * p.data
    m, v = s["exp_avg"], s["exp_avg_sq"]
    w = 1 - beta1
    if w < 0.5:  # torch.lerp(m, g, w), (*) in the module's docstring
        m += w * (g - m)
    else:
        m[...] = g - (g - m) * (1 - w)
    v *= beta2
    v += (1 - beta2) * g * g
    if amsgrad:
        v = np.maximum(s["max_exp_avg_sq"], v, out=s["max_exp_avg_sq"])
    step_size = lr / (1 - beta1**step)
    denom = np.sqrt(v)
    denom /= (1 - beta2**step) ** 0.5
    denom += eps
    p.data -= step_size * m / denom


def _adam_value(p, g, s, lr, beta1, beta2, eps, decay, amsgrad, maximize, decoupled) -> None:
    """One Adam step of a Value parameter (its state holds floats)."""
    if not s:
        s["step"] = 0
        s["exp_avg"] = 0.0
        s["exp_avg_sq"] = 0.0
    if amsgrad and "max_exp_avg_sq" not in s:
        s["max_exp_avg_sq"] = 0.0
    step = s["step"] = s["step"] + 1
    if maximize:
        g = -g
    if decay:
        if decoupled:
            p.data *= 1 - lr * decay
        else:
            g = g + decay * p.data
    m, w = s["exp_avg"], 1 - beta1
    m = s["exp_avg"] = m + w * (g - m) if w < 0.5 else g - (g - m) * (1 - w)
    v = s["exp_avg_sq"] = s["exp_avg_sq"] * beta2 + (1 - beta2) * g * g
    if amsgrad:
        top = s["max_exp_avg_sq"]
        if top >= v or top != top:  # as np.maximum: NaN wins
            v = top
        s["max_exp_avg_sq"] = v
    step_size = lr / (1 - beta1**step)
    denom = math.sqrt(v) / (1 - beta2**step) ** 0.5 + eps
    p.data -= step_size * m / denom
