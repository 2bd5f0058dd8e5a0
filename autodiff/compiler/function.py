"""The compiled function: the generated module run in-process, its argument guard, and export.

`CompiledFunction` checks that each call's arguments have the kind, number and shapes it was
traced with (anything else is a clear error, never a wrong result), runs the generated code,
and hands results back in the arguments' own kinds (floats, Values, arrays, Tensors), as
`value_and_grad` does. `BatchedFunction` is the same program evaluated for many samples at
once. Both print their module (``.source``) and write it (``.save(path)``).

>>> from autodiff import compile
>>> square = compile(lambda w, x: (w * x) ** 2, 1.0, 2.0)
>>> square(3.0, 2.0)  # (w x)^2 = 36, d/dw = 2 w x^2 = 24, d/dx = 2 w^2 x = 36
(36.0, (24.0, 36.0))
>>> square.batched(in_axes=(None, 0))(3.0, np.array([1.0, 2.0]))  # summed over the x's
(45.0, (30.0, array([18., 36.])))
"""

from __future__ import annotations

import contextlib
import io
import itertools
import linecache
import os
import secrets
from numbers import Real
from pathlib import Path
from typing import Any, Callable

import numpy as np

from autodiff.compiler.program import Program
from autodiff.compiler.source import function_source, laid_out, module_source
from autodiff.compiler.trace import Argument
from autodiff.tensor import Tensor
from autodiff.value import Value

_ndarray = np.ndarray
_counter = itertools.count()


def _describe(x: Any) -> str:
    if isinstance(x, (np.ndarray, Tensor)):
        return f"{type(x).__name__} of shape {x.shape} and dtype {x.dtype}"
    text = repr(x)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(x).__name__} {text}"


def _scalar(x: Any, where: Callable[[], str]) -> float:
    if type(x) is float:
        return x
    if isinstance(x, Value):
        return x.data
    if isinstance(x, Real) and not isinstance(x, bool):
        return float(x)
    if (
        isinstance(x, (np.ndarray, Tensor))
        and np.shape(x) == ()
        and np.asarray(x).dtype.kind in "fiu"
    ):
        return float(np.asarray(x))
    raise TypeError(f"{where()}: expected a number or Value, got {_describe(x)}")


def _scalars(x: Any, length: int, where: Callable[[], str]) -> list[float]:
    if isinstance(x, np.ndarray):
        if x.shape != (length,) or x.dtype.kind not in "fiu":
            raise ValueError(f"{where()}: expected {length} numbers, got {_describe(x)}")
        return x.tolist()
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{where()}: expected a list of {length} numbers, got {_describe(x)}")
    if len(x) != length:
        raise ValueError(f"{where()}: expected a list of {length} numbers, got {len(x)}")
    return [_scalar(v, where) for v in x]


def _load(source: str, name: str, arrays: dict) -> Callable:
    """Run the module text and return its function; its lines show in tracebacks."""
    filename = f"<autodiff.compile {name} #{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"__name__": f"autodiff_compiled_{name}", **arrays}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - code we generated
    return namespace[name]


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that it is either the old file or the whole new one: a
    temporary file in the same folder, flushed to disk, then renamed over `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class _Module:
    """A generated module: its text, the arrays kept beside it, and its function."""

    def __init__(self, program: Program, flavour: str, function_text: str, title: str) -> None:
        self.program = program
        self.flavour = flavour
        self.function_text = function_text
        self.title = title
        name = program.recording.name
        self.source, self.arrays = module_source(
            program, flavour, function_text, f"{name}.npz", title
        )
        runnable, _ = module_source(program, flavour, function_text, None, title)
        self.function = _load(runnable, name, self.arrays)

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        if path.suffix != ".py":
            raise ValueError(f"save: the module's file name must end in .py, got {str(path)!r}")
        if not path.stem.isidentifier():
            raise ValueError(
                f"save: {path.stem!r} is not a valid module name (use letters, digits and _)"
            )
        npz = path.with_suffix(".npz")
        text, arrays = module_source(
            self.program, self.flavour, self.function_text, npz.name, self.title
        )
        if arrays:  # the arrays first: the module must never point at a missing file
            buffer = io.BytesIO()
            np.savez(buffer, **{name: laid_out(a) for name, a in arrays.items()})
            write_atomic(npz, buffer.getvalue())
        write_atomic(path, text.encode("utf-8"))
        return path


class CompiledFunction:
    """`f` recorded once and written out as Python (see `autodiff.compile`).

    Calling it returns ``(value, gradients)`` as ``value_and_grad(f, argnums)`` would, from
    the generated code. ``.source`` is that code; ``.save(path)`` writes it as a module that
    needs only numpy; ``.batched(in_axes)`` evaluates a scalar graph for many samples at once.
    """

    def __init__(self, program: Program) -> None:
        self.program = program
        rec = program.recording
        self.name = rec.name
        self.tensor = rec.tensor
        self.arguments: list[Argument] = rec.arguments
        flavour = "numpy" if rec.tensor else "python"
        text = function_source(program, flavour)
        self._module = _Module(program, flavour, text, _title(program, None))
        self._function = self._module.function
        self._checks = [_check(self.name, a) for a in self.arguments]
        # gradients need no conversion when every differentiated argument is an array or,
        # in a scalar graph, a number
        self._arrays_only = all(
            self.arguments[i].kind == ("array" if self.tensor else "scalar") for i in rec.argnums
        )

    @property
    def source(self) -> str:
        """The generated module, as ``save`` writes it."""
        return self._module.source

    def save(self, path: str | os.PathLike) -> Path:
        """Write the module to `path` (``name.py``), atomically; arrays too large to print
        go beside it in ``name.npz``. Returns the path. The module imports numpy alone."""
        return self._module.save(path)

    def __call__(self, *args: Any) -> tuple:
        if len(args) != len(self._checks):
            raise TypeError(
                f"compiled {self.name}: takes {len(self._checks)} arguments, as it was traced "
                f"({_signature(self.arguments)}); got {len(args)}"
            )
        plain = True
        inputs = []
        for check, x in zip(self._checks, args):
            inputs.append(check(x))
            if plain and isinstance(x, (Value, Tensor)):
                plain = False
        value, grads = self._function(*inputs)
        return self._results(args, value, grads, plain)

    def _results(self, args: tuple, value: Any, grads: Any, plain: bool) -> tuple:
        rec = self.program.recording
        if self.tensor:
            value = value if plain else Tensor(value)
        else:
            value = value if plain else Value(value)
        if plain and self._arrays_only:
            return value, grads
        items = grads if rec.as_tuple else (grads,)
        items = tuple(_mirror(args[i], g) for i, g in zip(rec.argnums, items))
        return value, items if rec.as_tuple else items[0]

    def batched(self, in_axes: Any = 0, reduce: str = "sum") -> BatchedFunction:
        """The same program evaluated for a batch of samples at once (scalar graphs).

        `in_axes` gives, for each argument, 0 if it holds one value per sample along its first
        axis (a number becomes an array of shape (n,), a list of k numbers an array of shape
        (n, k)) or None if every sample shares it (an int or None applies to all). The value
        and the shared arguments' gradients are summed over the samples (``reduce="sum"``) or
        averaged (``"mean"``); per-sample arguments get one gradient per sample.
        """
        return BatchedFunction(self, in_axes, reduce)

    def __repr__(self) -> str:
        kind = "tensor" if self.tensor else "scalar"
        lines = self.source.count("\n")
        return f"<compiled {self.name}({_signature(self.arguments)}): {kind} graph, {lines} lines>"


class BatchedFunction:
    """A scalar graph's program evaluated for many samples at once (see `CompiledFunction
    .batched`): numpy arrays hold one value per sample, so a Python loop over the samples
    becomes one pass over the program."""

    def __init__(self, compiled: CompiledFunction, in_axes: Any, reduce: str) -> None:
        name = compiled.name
        if compiled.tensor:
            raise TypeError(
                f"batched: compiled {name} is a tensor graph, which already takes whole "
                "batches; batched evaluates scalar graphs (numbers and Values) for many samples"
            )
        if reduce not in ("sum", "mean"):
            raise ValueError(f"batched: reduce must be 'sum' or 'mean', got {reduce!r}")
        arguments = compiled.arguments
        if in_axes is None or isinstance(in_axes, int) and not isinstance(in_axes, bool):
            in_axes = (in_axes,) * len(arguments)
        if not isinstance(in_axes, (tuple, list)) or len(in_axes) != len(arguments):
            raise ValueError(
                f"batched: in_axes must be 0, None or one of them per argument "
                f"({len(arguments)}: {_signature(arguments)}), got {in_axes!r}"
            )
        for axis in in_axes:
            if axis is not None and (isinstance(axis, bool) or axis != 0):
                raise ValueError(
                    f"batched: each in_axes entry is 0 (one value per sample, along the first "
                    f"axis) or None (shared by every sample), got {axis!r}"
                )
        self.in_axes = tuple(in_axes)
        flags = tuple(axis == 0 for axis in self.in_axes)
        if not any(flags):
            raise ValueError("batched: in_axes marks no argument as batched (0)")
        self.name = name
        self.reduce = reduce
        self.compiled = compiled
        self.arguments = arguments
        program = compiled.program
        text = function_source(program, "numpy", flags, reduce == "mean")
        self._module = _Module(program, "numpy", text, _title(program, (flags, reduce)))
        self._function = self._module.function
        self._flags = flags

    @property
    def source(self) -> str:
        """The generated module, as ``save`` writes it."""
        return self._module.source

    def save(self, path: str | os.PathLike) -> Path:
        """Write the module to `path` (``name.py``), atomically. Returns the path."""
        return self._module.save(path)

    def __call__(self, *args: Any) -> tuple:
        arguments = self.arguments
        if len(args) != len(arguments):
            raise TypeError(
                f"batched {self.name}: takes {len(arguments)} arguments "
                f"({_signature(arguments)}); got {len(args)}"
            )
        inputs = []
        n = None
        for argument, is_batched, x in zip(arguments, self._flags, args):

            def where(a: Argument = argument) -> str:
                return f"batched {self.name}: argument {a.position} ({a.name})"

            if is_batched:
                array = _batch(x, argument, where)
                if n is None:
                    n = len(array)
                elif len(array) != n:
                    raise ValueError(
                        f"{where()}: {len(array)} samples, but the arguments before it have {n}"
                    )
                inputs.append(array)
            elif argument.kind == "list":
                inputs.append(np.array(_scalars(x, argument.length, where), dtype=np.float64))
            else:
                inputs.append(np.float64(_scalar(x, where)))
        value, grads = self._function(*inputs)
        rec = self.compiled.program.recording
        items = grads if rec.as_tuple else (grads,)
        items = tuple(
            float(g) if self.arguments[i].kind == "scalar" and not self._flags[i] else g
            for i, g in zip(rec.argnums, items)
        )
        return float(value), items if rec.as_tuple else items[0]

    def __repr__(self) -> str:
        return (
            f"<batched {self.name}({_signature(self.arguments)}), in_axes={self.in_axes}, "
            f"reduce={self.reduce!r}>"
        )


def _batch(x: Any, argument: Argument, where: Callable[[], str]) -> np.ndarray:
    array = np.asarray(x.data if isinstance(x, Tensor) else x)
    expected = "(n,)" if argument.kind == "scalar" else f"(n, {argument.length})"
    ok = array.dtype.kind in "fiu" and (
        array.shape[1:] == ()
        if argument.kind == "scalar"
        else array.shape[1:] == (argument.length,)
    )
    if not ok or array.ndim == 0 or len(array) == 0:
        raise ValueError(
            f"{where()}: expected an array of shape {expected} holding one sample per row "
            f"(n >= 1), got {_describe(x)}"
        )
    return array.astype(np.float64, copy=False)


def _mirror(x: Any, grad: Any) -> Any:
    """A gradient in the kind of the argument it belongs to."""
    if isinstance(x, Real) and not isinstance(x, bool):
        return float(grad)
    if isinstance(x, Value):
        return Value(grad)
    if isinstance(x, Tensor):
        return Tensor(grad)
    if isinstance(x, np.ndarray) and isinstance(grad, list):
        return np.array(grad)
    if isinstance(x, tuple) and isinstance(grad, list):
        return grad
    return grad


def _signature(arguments: list[Argument]) -> str:
    return ", ".join(f"{a.name}: {a.describe()}" for a in arguments)


def _check(name: str, argument: Argument) -> Callable[[Any], Any]:
    """A function that returns a call's argument as the generated code takes it, or raises."""

    def where() -> str:
        return f"compiled {name}: argument {argument.position} ({argument.name})"

    retrace = "compile again for other shapes: compile(f, *new_examples)"
    if argument.kind == "list":
        length = argument.length
        return lambda x: _scalars(x, length, where)
    if argument.kind == "scalar" and not argument.shape and argument.dtype is None:
        return lambda x: _scalar(x, where)
    shape, dtype = argument.shape, np.dtype(argument.dtype)

    def check_array(x: Any) -> Any:
        data = x
        if type(x) is not _ndarray:
            if isinstance(x, Tensor):
                data = x.data
            elif argument.kind == "scalar" and isinstance(x, Real) and not isinstance(x, bool):
                return np.asarray(float(x), dtype)
            else:
                raise TypeError(f"{where()}: traced as {argument.describe()}; got {_describe(x)}")
        if data.shape != shape:
            raise ValueError(
                f"{where()}: traced with shape {shape}, got shape {data.shape}; {retrace}"
            )
        if data.dtype != dtype:
            raise TypeError(
                f"{where()}: traced with dtype {dtype}, got dtype {data.dtype}; convert it "
                f"(x.astype(np.{dtype.name})) or compile again"
            )
        return data

    return check_array


def _title(program: Program, batched: tuple | None) -> str:
    rec = program.recording
    name = rec.name
    lines = [
        f"{name} and its gradient, written out by autodiff.compile (define-and-run).",
        "",
        f"autodiff recorded the graph of {name} as it ran once (define-by-run); here it is as",
        "a program: the forward pass one line per node, then the backward pass one line per",
        "edge, each the upstream gradient times the edge's local partial derivative (the chain",
        f"rule, from the output back to the inputs). Python control flow in {name} (an if on",
        "a value) was fixed by that run. The module runs without autodiff.",
    ]
    if batched is not None:
        how = "summed" if batched[1] == "sum" else "averaged"
        lines += ["", f"Evaluated for a batch of samples at once; results are {how} over them."]
    return "\n".join(lines) + "\n"


def verify(compiled: CompiledFunction) -> None:
    """Run the generated code on the traced arguments and compare it, to the bit, with the
    engine's own backward pass over the recorded graph; raise if they differ anywhere."""
    from autodiff.graph import backpropagate

    rec = compiled.program.recording
    root = rec.root
    nodes = [node for i in rec.argnums for node in rec.arguments[i].nodes]
    if rec.tensor:
        seed = np.ones(root.data.shape, root.data.dtype)
        _, expected = backpropagate(root, seed, follow=Tensor._follow, wrt=nodes)
    else:
        _, expected = backpropagate(root, 1.0, wrt=nodes)
        # as Value.backward() gives them: summed into a .grad that starts at 0.0 (see source)
        expected = [None if e is None else e + 0.0 for e in expected]
    inputs = []
    for argument in rec.arguments:
        data = [node.data for node in argument.nodes]
        inputs.append(data if argument.kind == "list" else data[0])
    value, grads = compiled._function(*inputs)
    got = []
    for i, g in zip(rec.argnums, grads if rec.as_tuple else (grads,)):
        got += list(g) if rec.arguments[i].kind == "list" else [g]
    pairs = [("the value", value, root.data)]
    pairs += [
        (f"the gradient of {_element_name(rec.arguments, node)}", g, _in_dtype_of(node, e))
        for node, g, e in zip(nodes, got, expected)
    ]
    for what, actual, reference in pairs:
        if reference is None:
            reference = np.zeros_like(np.asarray(actual))
        a, b = np.asarray(actual), np.asarray(reference)
        same = a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
        # the same sign of zero too (a NaN's sign means nothing: nan + nan may take either's)
        if not same or not np.array_equal(np.signbit(a) & (a == a), np.signbit(b) & (b == b)):
            raise RuntimeError(
                f"compile: the generated code for {rec.name} computes {what} as {actual!r}, "
                f"but backward() gives {reference!r} at the traced arguments; this is a bug "
                "in autodiff.compile"
            )


def _in_dtype_of(node: Any, grad: Any) -> Any:
    """A tensor leaf's gradient in the leaf's dtype, as value_and_grad returns it (a float32
    argument's gradient summed from float64 contributions is float32)."""
    if grad is None or not isinstance(node, Tensor):
        return grad
    return np.asarray(grad).astype(node.data.dtype, copy=False)


def _element_name(arguments: list[Argument], node: Any) -> str:
    for argument in arguments:
        for k, m in enumerate(argument.nodes):
            if m is node:
                return argument.element_names[k] if argument.kind == "list" else argument.name
    return "?"
