"""Recording a function once: its arguments become graph leaves, and the graph it builds is kept.

`record(f, args, argnums)` turns each example argument into leaf nodes (`Argument`), calls `f`
on them with gradients recorded, and returns the output node. Numbers and `Value`s give a
scalar graph; arrays and `Tensor`s a tensor graph (a number there becomes a 0-d tensor). A
list or tuple of numbers/Values is one argument holding many scalars (a model's parameters).

A `Value` or `Tensor` leaf that requires a gradient is used *itself* as the input node, so a
function that closes over it (a model calling its own parameters) reads the argument; anything
else gets a fresh leaf, as `value_and_grad` does.

>>> recording = record(lambda x, ws: x * ws[0] + ws[1], (3.0, [2.0, 1.0]), None)
>>> recording.root.data, [a.kind for a in recording.arguments]
(7.0, ['scalar', 'list'])
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Callable

import numpy as np

from autodiff.graph import enable_grad
from autodiff.naming import as_identifier
from autodiff.tensor import Tensor
from autodiff.tensor_ops.elementwise import COMPARISONS
from autodiff.value import Value


@dataclass
class Argument:
    """One argument of the compiled function: how it was traced and which leaves stand for it."""

    position: int
    name: str  # the parameter's name in the generated code
    kind: str  # "scalar", "list" (of scalars) or "array"
    example: str  # the example's type: float, Value, list, tuple, ndarray, Tensor
    nodes: list  # its graph leaves: one, or one per element of a list
    differentiated: bool
    shape: tuple = ()
    dtype: Any = None
    element_names: list = field(default_factory=list)  # list arguments: each element's name

    @property
    def length(self) -> int:
        return len(self.nodes)

    def describe(self) -> str:
        """How the argument was traced, for error messages."""
        if self.kind == "scalar":
            return "a number"
        if self.kind == "list":
            return f"a list of {self.length} numbers"
        return f"an array of shape {self.shape} and dtype {self.dtype}"


@dataclass
class Recording:
    """What one call of `f` on the example arguments left behind."""

    function: Callable
    name: str  # the generated function's name
    arguments: list[Argument]
    argnums: tuple[int, ...]
    as_tuple: bool  # gradients as a tuple (argnums None or a tuple) or one (an int)
    root: Any  # the output node
    tensor: bool  # a tensor graph (else scalar)
    comparisons: list  # (mask, op, a, b) for each tensor comparison made while tracing


def _describe(x: Any) -> str:
    text = repr(x)
    if len(text) > 50:
        text = text[:47] + "..."
    return f"{type(x).__name__} {text}"


def _is_number(x: Any) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, Tensor))


def parameter_names(f: Callable, count: int) -> list[str]:
    """The names of f's first `count` positional parameters (arg0, arg1... where unknown)."""
    names: list[str] = []
    try:
        parameters = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    for p in parameters:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind == p.VAR_POSITIONAL:
            names += [f"{p.name}_{i}" for i in range(count - len(names))]
    names = [as_identifier(n) or f"arg{i}" for i, n in enumerate(names[:count])]
    return names + [f"arg{i}" for i in range(len(names), count)]


def function_name(f: Callable) -> str:
    raw = getattr(f, "__name__", "") or ""
    name = as_identifier(raw)
    return name if name and raw != "<lambda>" else "f"


def normalise_argnums(argnums: Any, count: int) -> tuple[tuple[int, ...], bool]:
    """(positions differentiated, whether gradients come as a tuple)."""
    if argnums is None:
        return tuple(range(count)), True
    if isinstance(argnums, bool) or not isinstance(argnums, (int, tuple, list)):
        raise TypeError(
            f"compile: argnums must be None, an int or a tuple of ints, got {argnums!r}"
        )
    as_tuple = not isinstance(argnums, int)
    positions = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if any(isinstance(i, bool) or not isinstance(i, int) for i in positions) or not positions:
        raise TypeError(
            f"compile: argnums must be an int or a non-empty tuple of ints, got {argnums!r}"
        )
    normal = []
    for i in positions:
        if not -count <= i < count:
            raise ValueError(
                f"compile: argnums {argnums!r} asks for argument {i}, but {count} were given"
            )
        normal.append(i % count)
    if len(set(normal)) != len(normal):
        raise ValueError(f"compile: argnums {argnums!r} repeats an argument")
    return tuple(normal), as_tuple


def record(f: Callable, args: tuple, argnums: Any) -> Recording:
    """Call `f` once on leaves made from `args`, recording the graph; see the module docs."""
    if not callable(f):
        raise TypeError(f"compile: expected a function, got {_describe(f)}")
    if not args:
        raise TypeError("compile: give example arguments to trace f on, e.g. compile(f, 2.0)")
    positions, as_tuple = normalise_argnums(argnums, len(args))
    tensor = any(_is_array(x) for x in args)
    names = parameter_names(f, len(args))
    seen: dict[int, int] = {}
    arguments = []
    for i, x in enumerate(args):
        argument = _argument(i, names[i], x, tensor, i in positions)
        for node in argument.nodes:
            if id(node) in seen:
                raise ValueError(
                    f"compile: argument {i} ({argument.name}) holds the same node as argument "
                    f"{seen[id(node)]}; pass each input once"
                )
            seen[id(node)] = i
        arguments.append(argument)
    call_args = [_call_value(a, x) for a, x in zip(arguments, args)]
    log: list = []
    before = COMPARISONS.log
    COMPARISONS.log = log
    try:
        with enable_grad():  # f must record its graph even inside no_grad()
            out = f(*call_args)
    finally:
        COMPARISONS.log = before
    root = _root(f, out, tensor)
    return Recording(
        function=f,
        name=function_name(f),
        arguments=arguments,
        argnums=positions,
        as_tuple=as_tuple,
        root=root,
        tensor=tensor,
        comparisons=log,
    )


def _argument(i: int, name: str, x: Any, tensor: bool, differentiated: bool) -> Argument:
    where = f"compile: argument {i} ({name})"
    if isinstance(x, Value) or _is_number(x):
        if tensor:
            if isinstance(x, Value):
                raise TypeError(
                    f"{where} is a Value, but other arguments are arrays: a function works on "
                    "scalar Values or on Tensors, not both"
                )
            node = Tensor(np.asarray(float(x)), requires_grad=True)  # a 0-d tensor
            return Argument(i, name, "scalar", "float", [node], differentiated, (), node.dtype)
        node = _scalar_leaf(x)
        label = as_identifier(str(x.label)) if isinstance(x, Value) and x.label else ""
        example = "Value" if isinstance(x, Value) else "float"
        return Argument(i, label or name, "scalar", example, [node], differentiated)
    if isinstance(x, (list, tuple)) and not tensor:
        if not x:
            raise ValueError(f"{where} is an empty {type(x).__name__}")
        for k, item in enumerate(x):
            if not (isinstance(item, Value) or _is_number(item)):
                raise TypeError(
                    f"{where}: a list argument holds numbers or Values, got "
                    f"{_describe(item)} at index {k}"
                )
        nodes = [_scalar_leaf(item) for item in x]
        return Argument(i, name, "list", type(x).__name__, nodes, differentiated)
    if _is_array(x):
        data = x.data if isinstance(x, Tensor) else x
        if data.dtype.kind != "f":
            raise TypeError(
                f"{where} is an array of dtype {data.dtype}; compile traces arrays as float "
                "tensors (pass labels as float one-hot rows, or close over them as constants)"
            )
        reuse = isinstance(x, Tensor) and x.requires_grad and not x._prev
        node = x if reuse else Tensor(data, requires_grad=True)
        if isinstance(x, Tensor) and x.label and not reuse:
            node.label = x.label
        label = as_identifier(str(node.label)) if node.label else ""
        example = "Tensor" if isinstance(x, Tensor) else "ndarray"
        return Argument(i, label or name, "array", example, [node], differentiated,
                        data.shape, data.dtype)  # fmt: skip
    kinds = "arrays or Tensors" if tensor else "numbers, Values, lists of them, arrays or Tensors"
    raise TypeError(f"{where}: expected {kinds}, got {_describe(x)}")


def _scalar_leaf(x: Any) -> Value:
    if isinstance(x, Value):
        if not x._prev:
            return x  # the node itself: a function closing over it reads the argument
        return Value(x.data, label=x.label)
    return Value(float(x))


def _call_value(argument: Argument, x: Any) -> Any:
    """What `f` receives for an argument: its leaf, or a list of leaves."""
    if argument.kind == "list":
        leaves = list(argument.nodes)
        return tuple(leaves) if isinstance(x, tuple) else leaves
    return argument.nodes[0]


def _root(f: Callable, out: Any, tensor: bool) -> Any:
    name = getattr(f, "__name__", "f")
    if isinstance(out, Value) and not tensor:
        return out
    if isinstance(out, Tensor):
        if out.data.size != 1:
            raise TypeError(
                f"compile: {name} must return a scalar, got a Tensor of shape {out.shape}; "
                "reduce it (e.g. .sum())"
            )
        if not out.requires_grad:
            raise ValueError(
                f"compile: {name}'s output does not depend on its arguments (no recorded op "
                "reads them), so there is nothing to compile"
            )
        return out
    if _is_number(out):
        raise ValueError(
            f"compile: {name} returned the number {out!r}: its output does not depend on its "
            "arguments, so there is nothing to compile"
        )
    raise TypeError(
        f"compile: {name} must return a scalar {'Tensor' if tensor else 'Value'}, got "
        f"{_describe(out)}"
    )
