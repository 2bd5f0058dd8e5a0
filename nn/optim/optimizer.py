"""`Optimizer`: what every optimizer shares: parameter groups, per-parameter state, `zero_grad`,
and `state_dict` / `load_state_dict` in PyTorch's layout.

Parameters are `Value`s or `Tensor`s (mixed lists too). Each subclass checks its hyper-parameters
in `_check_group` and writes its update in `step`.

>>> from autodiff import Tensor
>>> from nn.optim import SGD
>>> w = Tensor([1.0, 2.0], requires_grad=True)
>>> optimizer = SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> optimizer.step()
>>> w.data
array([0.8, 1.6])
>>> optimizer.zero_grad()
>>> w.grad is None
True
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Callable, Iterable

import numpy as np

from autodiff import Tensor, Value

_ndarray = np.ndarray
_SET_MESSAGE = (
    "{name}: parameters must be in an ordered collection (a list), not a set: the order of a "
    "set changes between runs, and state_dict relies on it"
)


def check_number(
    owner: str, name: str, value: Any, low: float = 0.0, high: float | None = None
) -> None:
    """A ValueError unless ``low <= value`` (and ``value < high``); NaN is never valid."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}: {name} must be a real number, got {value!r}")
    if not value >= low or (high is not None and not value < high):
        bounds = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{owner}: invalid {name} {value!r} (must be {bounds})")


def as_array(grad: Any) -> np.ndarray:
    """A Tensor parameter's gradient as an ndarray (it is a Tensor after create_graph=True)."""
    return (
        grad
        if type(grad) is _ndarray
        else np.asarray(grad.data if isinstance(grad, Tensor) else grad)
    )


def _describe(x: Any) -> str:
    text = repr(x)
    return f"{type(x).__name__} {text[:37] + '...' if len(text) > 40 else text}"


class Optimizer:
    """Base class: holds ``param_groups`` (dicts with "params" and every hyper-parameter) and
    ``state`` (a dict keyed by parameter).

    `params` is an iterable of parameters, of ``(name, parameter)`` pairs (as from
    ``model.named_parameters()``), or of group dicts such as ``{"params": [...], "lr": 0.1}``;
    a group's missing hyper-parameters come from `defaults`.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Any, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, (Tensor, Value, dict)):
            raise TypeError(
                f"{self._name}: params must be an iterable of parameters or of group dicts, "
                f"got {_describe(params)}"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE.format(name=self._name))
        groups = list(params)
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise a ValueError/TypeError for a bad hyper-parameter of `group` (per optimizer)."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest).

        >>> from autodiff import Value
        >>> from nn.optim import SGD
        >>> a, b = Value(1.0), Value(2.0)
        >>> optimizer = SGD([a], lr=0.1)
        >>> optimizer.add_param_group({"params": [b], "lr": 0.01})
        >>> [group["lr"] for group in optimizer.param_groups]
        [0.1, 0.01]
        """
        name = self._name
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}: a parameter group must be a dict, got {_describe(param_group)}"
            )
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry, got {param_group}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, (Tensor, Value)):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_SET_MESSAGE.format(name=name))
        params = list(params)
        if params and all(isinstance(p, tuple) for p in params):  # (name, parameter) pairs
            group["param_names"] = [n for n, _ in params]
            params = [p for _, p in params]
        for i, p in enumerate(params):
            if not isinstance(p, (Tensor, Value)):
                raise TypeError(
                    f"{name}: can only optimize Value or Tensor parameters, but parameter {i} "
                    f"is {_describe(p)}"
                )
            if p._prev:
                raise ValueError(
                    f"{name}: can't optimize a non-leaf {type(p).__name__} (parameter {i}, made "
                    f"by op {p._op!r}): optimize the leaves it was computed from"
                )
        group["params"] = params
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        seen = {id(p) for p in params}
        if len(seen) != len(params):
            raise ValueError(f"{name}: a parameter group holds the same parameter twice")
        for k, other in enumerate(self.param_groups):
            if any(id(p) in seen for p in other["params"]):
                raise ValueError(
                    f"{name}: some parameters appear in more than one parameter group "
                    f"(group {k} and the new group {len(self.param_groups)})"
                )
            if ("param_names" in other) != ("param_names" in group):
                raise ValueError(
                    f"{name}: all parameter groups must be given with names, or all without"
                )
        self._check_group(group)
        self.param_groups.append(group)

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])

    @property
    def lr(self) -> Any:
        """The learning rate of the first group; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: Any) -> None:
        check_number(self._name, "learning rate", value)
        for group in self.param_groups:
            group["lr"] = value

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every gradient before the next backward pass: a Tensor's to None (or to zeros
        with ``set_to_none=False``), a Value's to 0.0 (a Value's gradient is always a number)."""
        for group in self.param_groups:
            for p in group["params"]:
                if type(p) is Tensor and set_to_none:  # the common case first
                    p.grad = None
                elif isinstance(p, Value):
                    p.grad = 0.0
                elif set_to_none or p.grad is None:
                    p.grad = None
                elif type(p.grad) is _ndarray and p.grad.flags.writeable:
                    p.grad.fill(0)
                else:
                    p.grad = np.zeros_like(p.data)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns `closure()`'s loss, if given."""
        raise NotImplementedError(f"{self._name} does not implement step()")

    # --- saving and loading ----------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer, in PyTorch's layout: ``{"state": {index: {...}},
        "param_groups": [{..., "params": [indices]}]}``, where a parameter's index counts across
        groups in order. Only dicts, lists, tuples, numpy arrays (copies) and plain numbers.

        >>> from autodiff import Value
        >>> from nn.optim import SGD
        >>> a = Value(1.0)
        >>> a.grad = 0.5
        >>> optimizer = SGD([a], lr=0.1, momentum=0.9)
        >>> optimizer.step()
        >>> optimizer.state_dict()["state"]
        {0: {'momentum_buffer': 0.5}}
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed = {k: _copy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: _copy(v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a `state_dict` saved from an optimizer of the same kind over parameters of
        the same shapes in the same groups. Everything is checked before anything changes;
        state arrays are copied and cast to their parameter's dtype."""
        name = self._name
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            raise ValueError(
                f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups', "
                f"got {_describe(state_dict)}"
            )
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the saved state has {len(saved_groups)} parameter "
                f"groups but this optimizer has {len(self.param_groups)}"
            )
        params: dict[int, Any] = {}
        groups = []
        for k, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: saved parameter group {k} has "
                    f"{len(saved['params'])} parameters but this optimizer's has "
                    f"{len(group['params'])}"
                )
            params.update(zip((int(i) for i in saved["params"]), group["params"]))
            missing = sorted(self.defaults.keys() - saved.keys())
            if missing:
                raise ValueError(
                    f"{name}.load_state_dict: saved parameter group {k} lacks {missing} "
                    "(was it saved from another kind of optimizer?)"
                )
            new = {key: _copy(v) for key, v in saved.items() if key != "params"}
            new["params"] = group["params"]
            self._check_group(new)
            groups.append(new)
        state = {}
        for key, saved_state in state_dict["state"].items():
            p = params.get(int(key))
            if p is None:
                raise ValueError(
                    f"{name}.load_state_dict: state for parameter {key!r}, which no saved "
                    "group holds"
                )
            state[p] = {k: _cast(name, k, v, p) for k, v in saved_state.items()}
        self.param_groups[:] = groups
        self.state.clear()
        self.state.update(state)


def _copy(value: Any) -> Any:
    """A copy that shares nothing mutable: arrays copied, lists and dicts rebuilt."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _cast(owner: str, key: str, value: Any, p: Any) -> Any:
    """A loaded state entry, fitted to its parameter: ``step`` an int, the rest a float (Value)
    or an array of the parameter's dtype and shape (Tensor)."""
    if key == "step":
        return int(value)
    if isinstance(p, Value):
        if np.size(value) != 1:
            raise ValueError(
                f"{owner}.load_state_dict: state {key!r} of a Value parameter must be a number, "
                f"got shape {np.shape(value)}"
            )
        return float(np.asarray(value).reshape(()))
    array = np.array(value, dtype=p.data.dtype)  # a copy, in the parameter's dtype
    if array.shape != p.data.shape:
        raise ValueError(
            f"{owner}.load_state_dict: state {key!r} has shape {array.shape} but its parameter "
            f"has shape {p.data.shape}"
        )
    return array
