"""`Module`: the base of every network piece, scalar (`Value`) or tensor (`Tensor`).

A module finds what it holds by looking at its attributes, as PyTorch registers what is
assigned to it: every attribute counts, public or private, and lists, tuples and dicts are
looked into (their indices and keys become parts of the dotted name). What it finds is either

- a *parameter*: a leaf graph node (a `Value` or `Tensor` made by the user, not the result of
  an op, so an activation cached on a module is not a parameter), or
- a *submodule*: another `Module`.

Numpy arrays registered with `register_buffer` (running statistics and the like) are saved
with the parameters but never trained. An object reachable twice (tied weights, a layer used
twice) is listed once, under its first name; a module that holds itself is not walked into
again, so nothing loops.

>>> from nn import MLP
>>> model = MLP(2, [3, 1], seed=0)
>>> [name for name, _ in model.named_parameters()][:3]
['layers.0.neurons.0.w.0', 'layers.0.neurons.0.w.1', 'layers.0.neurons.0.b']
>>> model
MLP(
  (layers.0): Layer(2 -> 3, ReLU)
  (layers.1): Layer(3 -> 1, Linear)
)
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import numpy as np

from autodiff import Tensor, Value


class IncompatibleKeys(NamedTuple):
    """What `load_state_dict` could not match: names the model has that the state lacks, and
    names the state has that the model lacks."""

    missing_keys: list[str]
    unexpected_keys: list[str]


_NONE = object()


def _is_parameter(x: Any) -> bool:
    """A leaf graph node: a Value or Tensor (or micrograd's Value) no op has made."""
    # getattr with a default raises nothing for the many attributes that are not nodes
    prev = getattr(x, "_prev", _NONE)
    return prev is not _NONE and not prev and hasattr(x, "grad")


def _collect(name: str, value: Any, params: list, modules: list, path: set) -> None:
    """Sort `value` (and what a list, tuple or dict in it holds) into parameters and modules.

    A parameter is kept as (name, key, node), its name being ``name.key`` (or `name` if key is
    None): names are only formatted when asked for, since `parameters()` runs every step.
    """
    if isinstance(value, Module):
        modules.append((name, value))
    elif isinstance(value, (list, tuple, dict)):
        if id(value) in path:  # a container that holds itself
            return
        path.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            kind = type(item)
            if (kind is Value or kind is Tensor) and not item._prev:  # a list of weights
                params.append((name, key, item))
            else:
                _collect(f"{name}.{key}", item, params, modules, path)
        path.discard(id(value))
    elif _is_parameter(value):
        params.append((name, None, value))


def _members(module: Module) -> tuple[list, list]:
    """The parameters (as `_collect` keeps them) and (name, submodule) pairs `module` holds
    itself, in attribute order; buffers are neither."""
    params: list = []
    modules: list = []
    buffers = module.__dict__.get("_buffer_names", ())
    path: set = set()
    for name, value in vars(module).items():
        if name not in buffers:
            _collect(name, value, params, modules, path)
    return params, modules


def _param_name(prefix: str, name: str, key: Any) -> str:
    if key is not None:
        name = f"{name}.{key}"
    return f"{prefix}.{name}" if prefix else name


def _walk(
    module: Module, prefix: str, memo: set | None, ancestors: set
) -> Iterator[tuple[str, Module, list]]:
    """(name, module, its own parameters) for `module` and every submodule, depth first.

    With a `memo` each module comes once; without, a module reachable twice comes twice, but
    one inside itself is not entered again (`ancestors`: the modules on the current path).
    """
    key = id(module)
    if memo is not None:
        if key in memo:
            return
        memo.add(key)
    elif key in ancestors:
        return
    params, children = _members(module)
    yield prefix, module, params
    ancestors.add(key)
    for name, child in children:
        yield from _walk(child, f"{prefix}.{name}" if prefix else name, memo, ancestors)
    ancestors.discard(key)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _indent(text: str) -> str:
    return text.replace("\n", "\n  ")


def _tree(module: Module, ancestors: set) -> str:
    """PyTorch's module repr: `extra_repr()` then one indented line per child."""
    extra = module.extra_repr()
    lines = extra.split("\n") if extra else []
    ancestors.add(id(module))
    children = []
    for name, child in _members(module)[1]:
        if id(child) in ancestors:  # a module inside itself: name it, do not print it again
            text = f"{type(child).__name__}(...)"
        elif type(child).__repr__ is Module.__repr__:
            text = _tree(child, ancestors)
        else:
            text = repr(child)
        children.append(f"({name}): {_indent(text)}")
    ancestors.discard(id(module))
    head = type(module).__name__ + "("
    if len(lines) == 1 and not children:
        return head + lines[0] + ")"
    if not lines and not children:
        return head + ")"
    return head + "\n  " + "\n  ".join(lines + children) + "\n)"


class Module:
    """Base class of networks: calling a module runs its `forward`; parameters, submodules and
    buffers are found in its attributes (see the module docstring).

    >>> import numpy as np
    >>> from autodiff import Tensor
    >>> class Scale(Module):
    ...     def __init__(self):
    ...         self.factor = Tensor(np.array([2.0]), requires_grad=True)
    ...     def forward(self, x):
    ...         return x * self.factor
    >>> Scale()(Tensor([1.0, 3.0]))
    Tensor([2., 6.], op='*')
    >>> dict(Scale().state_dict())
    {'factor': array([2.])}
    """

    #: True in training mode (`train()`), False in evaluation mode (`eval()`); layers such as
    #: `Dropout` behave differently in each.
    training: bool = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """What calling the module computes; every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__}: define forward(...) to call it")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # --- what a module holds --------------------------------------------------------------

    def named_modules(
        self, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module ('') and every submodule, depth first."""
        for name, module, _ in _walk(self, prefix, set() if remove_duplicate else None, set()):
            yield name, module

    def modules(self) -> Iterator[Module]:
        """This module and every submodule, each once."""
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for each direct submodule, each once: ``('layers.0', Layer(...))``."""
        seen = set()
        for name, child in _members(self)[1]:
            if id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        """Each direct submodule, once."""
        for _, child in self.named_children():
            yield child

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Any]]:
        """(dotted name, parameter) pairs, e.g. ``('layers.0.neurons.3.w.1', Value(...))``.

        A module's own parameters come first, then its submodules' (PyTorch's order); a
        parameter reachable twice comes once, under its first name, unless
        ``remove_duplicate=False``.
        """
        memo = set() if remove_duplicate else None
        if recurse:
            walk = _walk(self, prefix, memo, set())
        else:
            walk = iter([(prefix, self, _members(self)[0])])
        seen = set()
        for module_name, _, params in walk:
            for name, key, p in params:
                if remove_duplicate:
                    if id(p) in seen:
                        continue
                    seen.add(id(p))
                yield _param_name(module_name, name, key), p

    def parameters(self, recurse: bool = True) -> list:
        """Every parameter once, in a stable order (micrograd's: each neuron's w then b)."""
        walk = _walk(self, "", set(), set()) if recurse else [("", self, _members(self)[0])]
        seen = set()
        found = []
        for _, _, params in walk:
            for _, _, p in params:
                if id(p) not in seen:
                    seen.add(id(p))
                    found.append(p)
        return found

    def num_parameters(self) -> int:
        """How many numbers the parameters hold (a Value counts 1, a Tensor its size).

        >>> from nn import MLP
        >>> MLP(2, [16, 16, 1], seed=0).num_parameters()
        337
        """
        return sum(p.data.size if isinstance(p, Tensor) else 1 for p in self.parameters())

    def register_buffer(self, name: str, array: np.ndarray | None, persistent: bool = True) -> None:
        """Keep `array` as ``self.<name>``: saved in `state_dict` (unless not `persistent`)
        and loaded back, but not a parameter. Assigning ``self.<name> = new_array`` later
        replaces it.

        >>> import numpy as np
        >>> m = Module()
        >>> m.register_buffer("running_mean", np.zeros(3))
        >>> dict(m.state_dict())
        {'running_mean': array([0., 0., 0.])}
        """
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"register_buffer: name must be a non-empty string without '.', "
                             f"got {name!r}")  # fmt: skip
        if array is not None and not isinstance(array, np.ndarray):
            hint = " (pass its .data)" if isinstance(array, Tensor) else ""
            raise TypeError(
                f"register_buffer: {name!r} must be a numpy array or None, got "
                f"{type(array).__name__}{hint}"
            )
        buffers = self.__dict__.get("_buffer_names")
        if name in self.__dict__ and (buffers is None or name not in buffers):
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        if buffers is None:
            buffers = self._buffer_names = {}
        buffers[name] = bool(persistent)
        setattr(self, name, array)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """(dotted name, array) for every buffer of this module and its submodules."""
        for module_name, module, _ in _walk(self, prefix, set(), set()):
            for name in module.__dict__.get("_buffer_names", ()):
                array = getattr(module, name, None)
                if array is not None:
                    yield _join(module_name, name), array

    def buffers(self) -> Iterator[np.ndarray]:
        """Every buffer's array."""
        for _, array in self.named_buffers():
            yield array

    # --- training -----------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient before the next backward pass: a Value's to 0.0,
        a Tensor's to None (or to zeros with ``set_to_none=False``), as PyTorch does."""
        for p in self.parameters():
            if not isinstance(p, Tensor):
                p.grad = 0.0
            elif set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = np.zeros_like(p.data)

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=False``: evaluation mode) on this module and every
        submodule; returns self.

        >>> from nn import Dropout, Sequential
        >>> model = Sequential(Dropout(0.5)).eval()
        >>> model.training, model[0].training
        (False, False)
        """
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be True or False, got {mode!r}")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (``train(False)``): Dropout passes its input through; returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Turn gradients on or off for every Tensor parameter (to freeze part of a model);
        returns self. Value parameters always track gradients."""
        params = self.parameters()
        if not requires_grad:
            values = [name for name, p in self.named_parameters() if not isinstance(p, Tensor)]
            if values:
                raise TypeError(
                    f"requires_grad_(False): Value parameters always track gradients "
                    f"({len(values)} here, e.g. {values[0]!r}); only Tensor parameters can be "
                    "frozen"
                )
        for p in params:
            if isinstance(p, Tensor):
                p.requires_grad_(requires_grad)
        return self

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn(module)`` on every submodule, then on this one (PyTorch's order: children
        first), e.g. to initialise weights; returns self."""
        order: list[Module] = []
        done: set = set()

        def visit(module: Module) -> None:
            done.add(id(module))
            for child in module.children():
                if id(child) not in done:
                    visit(child)
            order.append(module)

        visit(self)
        for module in order:
            fn(module)
        return self

    def name_parameters(self) -> None:
        """Label each parameter with its dotted name, so drawings and traces show it."""
        for name, p in self.named_parameters():
            p.label = name

    # --- saving and loading -----------------------------------------------------------------

    def state_dict(self, prefix: str = "") -> OrderedDict[str, np.ndarray]:
        """A copy of every parameter and persistent buffer as a numpy array, by dotted name.

        A Value becomes a 0-d float64 array. As in PyTorch, a tied parameter appears under
        each of its names, each module's own parameters then buffers come before its
        submodules'.
        """
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for module_name, module, params in _walk(self, prefix, None, set()):
            for name, key, p in params:
                state[_param_name(module_name, name, key)] = np.array(p.data)
            buffers = module.__dict__.get("_buffer_names", {})
            for name, persistent in buffers.items():
                array = getattr(module, name, None)
                if persistent and array is not None:
                    state[_join(module_name, name)] = np.array(array)
        return state

    def _state_targets(self) -> OrderedDict[str, tuple]:
        """name -> (parameter, None, None) or (None, module, buffer name), as `state_dict`."""
        targets: OrderedDict[str, tuple] = OrderedDict()
        for module_name, module, params in _walk(self, "", None, set()):
            for name, key, p in params:
                targets[_param_name(module_name, name, key)] = (p, None, None)
            for name, persistent in module.__dict__.get("_buffer_names", {}).items():
                if persistent and getattr(module, name, None) is not None:
                    targets[_join(module_name, name)] = (None, module, name)
        return targets

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy the arrays of `state_dict` into the parameters and buffers of the same names.

        Every name, shape and dtype is checked first, and every mismatch is reported in one
        ValueError; then nothing has changed. With ``strict=False`` missing and unexpected
        names are allowed (shape and dtype must still match) and returned.

        >>> from nn import Linear
        >>> a, b = Linear(2, 3, rng=0), Linear(2, 3, rng=1)
        >>> b.load_state_dict(a.state_dict())
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        >>> bool((a.weight.data == b.weight.data).all())
        True
        >>> Linear(3, 3).load_state_dict(a.state_dict())
        Traceback (most recent call last):
        ...
        ValueError: load_state_dict: cannot load into Linear (nothing was changed):
          size mismatch for weight: shape (3, 2) in the state, (3, 3) in the model
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict: expected a mapping of name -> array, got "
                f"{type(state_dict).__name__}"
            )
        targets = self._state_targets()
        missing = [name for name in targets if name not in state_dict]
        unexpected = [name for name in state_dict if name not in targets]
        problems = []
        updates = []
        for name, (param, module, attr) in targets.items():
            if name not in state_dict:
                continue
            current = np.asarray(param.data if param is not None else getattr(module, attr))
            try:
                array = np.asarray(state_dict[name])
            except Exception as error:  # e.g. ragged nested lists
                problems.append(f"cannot read {name} as an array: {error}")
                continue
            if array.shape != current.shape:
                problems.append(
                    f"size mismatch for {name}: shape {array.shape} in the state, "
                    f"{current.shape} in the model"
                )
            elif array.dtype != current.dtype:
                problems.append(
                    f"dtype mismatch for {name}: {array.dtype} in the state, {current.dtype} "
                    "in the model"
                )
            else:
                updates.append((param, module, attr, array))
        if strict:
            problems += [f"missing key {name}" for name in missing]
            problems += [f"unexpected key {name}" for name in unexpected]
        if problems:
            raise ValueError(
                f"load_state_dict: cannot load into {type(self).__name__} (nothing was "
                "changed):\n  " + "\n  ".join(problems)
            )
        for param, module, attr, array in updates:
            if module is not None:
                setattr(module, attr, array.copy())
            elif isinstance(param, Tensor):
                # assigned, never written into: the old array may be shared with others
                param.data = array.copy()
            else:
                param.data = float(array)
        return IncompatibleKeys(missing, unexpected)

    # --- display ----------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """This module's settings for its repr, e.g. ``in_features=2, out_features=16``."""
        return ""

    def __repr__(self) -> str:
        return _tree(self, set())
