"""Transformations of functions, in the style of JAX and HIPS autograd.

``grad(f)`` is a new function that returns the gradient of ``f``; it can be transformed again,
so ``grad(grad(f))`` is the second derivative. Arguments may be floats, `Value`s, numpy arrays
or `Tensor`s, and results mirror them (float -> float, ndarray -> ndarray, ...).

>>> from autodiff import grad, hessian
>>> f = lambda x: 5 * x**2 + 30          # the article's y = 5x^2 + 30
>>> grad(f)(3.0), grad(grad(f))(3.0)     # dy/dx = 10x, d2y/dx2 = 10
(30.0, 10.0)

How nesting works: the outermost transformation takes the fast path (numeric gradients, no graph
of the gradient). A transformation that runs *inside* another one (or whose arguments are
themselves computed from other nodes) backpropagates with ``create_graph=True``, so its result is
a graph node the enclosing transformation can differentiate. Each differentiated argument enters
``f`` as a node of its own, so a function that closes over an outer variable and also receives
it as an argument is differentiated correctly (no "perturbation confusion"). Users' ``.grad``
attributes are never read or written.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from numbers import Real
from typing import Any, Callable, Sequence

import numpy as np

from autodiff.graph import backpropagate, enable_grad, grad_enabled, topological_order
from autodiff.value import Value

Argnums = int | tuple[int, ...]


# How many transformations are evaluating their function right now in this thread (0: none).
# Per thread (a context variable, as grad mode): a transformation running in one thread must
# not make another thread's build graphs it does not need, nor miss graphs it does need.
_nesting: ContextVar[int] = ContextVar("autodiff_functional_nesting", default=0)


# --------------------------------------------------------------------------------------------
# Arguments: what each kind of argument becomes inside `f`, and what its gradient becomes after.
# --------------------------------------------------------------------------------------------


def _tensor_type() -> type | None:
    """`Tensor`, imported on first use (autodiff.tensor imports this package's modules)."""
    global _TENSOR
    if _TENSOR is None:
        try:
            from autodiff.tensor import Tensor
        except ImportError:  # scalar-only use needs no Tensor
            return None
        _TENSOR = Tensor
    return _TENSOR


_TENSOR: type | None = None  # (shared: every thread would store the same class)


def _describe(x: Any) -> str:
    text = repr(x)
    if len(text) > 50:
        text = text[:47] + "..."
    return f"{type(x).__name__} {text}"


class _Arg:
    """One differentiated argument: the node `f` sees, and how to hand its gradient back."""

    __slots__ = ("kind", "node", "stop")

    def __init__(self, name: str, position: int, x: Any, build_graph: bool) -> None:
        self.stop: Any = None  # the outer node the entry node is made from, if any
        Tensor = _tensor_type()
        if isinstance(x, Value):
            self.kind = "value"
            if build_graph:  # a node of its own, still connected to the caller's graph
                self.node = Value.sum((x,))
                self.stop = x
            else:  # a fresh leaf: the result is a constant anyway
                self.node = Value(x.data)
        elif Tensor is not None and isinstance(x, Tensor):
            self.kind = "tensor"
            _require_float_dtype(name, position, x.data.dtype, "Tensor")
            if build_graph and x.requires_grad:
                self.node = x.reshape(x.shape)  # an identity op: a node of its own
                self.stop = x
            else:  # a fresh leaf sharing x's data: x is a constant for the caller
                self.node = Tensor(x.data, requires_grad=True)
        elif isinstance(x, np.ndarray):
            self.kind = "array"
            _require_float_dtype(name, position, x.dtype, "array")
            if Tensor is None:
                raise TypeError(
                    f"{name}: argument {position} is a numpy array, which needs "
                    "autodiff.tensor (not available)"
                )
            self.node = Tensor(x, requires_grad=True)
        elif isinstance(x, Real) and not isinstance(x, bool):
            self.kind = "float"
            self.node = Value(float(x))
        else:
            raise TypeError(
                f"{name}: argument {position} cannot be differentiated: expected a float, Value, "
                f"numpy float array or float Tensor, got {_describe(x)}"
            )

    def result(self, gradient: Any, build_graph: bool) -> Any:
        """The gradient w.r.t. this argument, as the argument's own kind (a node if nested)."""
        if gradient is None:
            return self.zero(build_graph)
        if build_graph:
            return gradient
        data = _data(gradient)
        # + 0.0: Value.backward() sums into a .grad that starts at 0.0, so its zeros are +0.0;
        # the driver here keeps the first product as it is (-0.0 where it is). A sum differs
        # from the same sum started at 0.0 only there, so this gives backward()'s bits.
        if self.kind == "float":
            return float(data) + 0.0
        if self.kind == "value":
            return Value(float(data) + 0.0)
        array = np.array(data, dtype=self.node.data.dtype)
        if self.kind == "array":
            return array
        return _tensor_type()(array)

    def zero(self, build_graph: bool) -> Any:
        """The gradient when the output does not depend on this argument."""
        if self.kind in ("float", "value"):
            return Value(0.0) if build_graph or self.kind == "value" else 0.0
        zeros = np.zeros_like(self.node.data)
        return _tensor_type()(zeros) if build_graph or self.kind == "tensor" else zeros

    @property
    def shape(self) -> tuple:
        return np.shape(self.node.data)


def _data(x: Any) -> Any:
    """The number or array inside a node; plain numbers and arrays as they are (an ndarray's
    own ``.data`` is a memoryview, hence no ``getattr(x, "data", x)``)."""
    return x.data if isinstance(x, Value) or _is_tensor(x) else x


def _is_tensor(x: Any) -> bool:
    Tensor = _tensor_type()
    return Tensor is not None and isinstance(x, Tensor)


def _require_float_dtype(name: str, position: int, dtype: np.dtype, what: str) -> None:
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(
            f"{name}: argument {position} is a {what} of dtype {dtype}, which cannot be "
            f"differentiated; convert it to a float dtype first (e.g. .astype(np.float64))"
        )


def _normalise_argnums(name: str, argnums: Any) -> tuple[tuple[int, ...], bool]:
    """(positions, whether the caller gave a tuple): an int gives one result, a tuple a tuple."""
    if isinstance(argnums, bool) or not isinstance(argnums, (int, tuple, list)):
        raise TypeError(f"{name}: argnums must be an int or a tuple of ints, got {argnums!r}")
    if isinstance(argnums, int):
        return (argnums,), False
    positions = tuple(argnums)
    if not positions or any(isinstance(i, bool) or not isinstance(i, int) for i in positions):
        raise TypeError(
            f"{name}: argnums must be an int or a non-empty tuple of ints, got {argnums!r}"
        )
    if len(set(positions)) != len(positions):
        raise ValueError(f"{name}: argnums {argnums!r} repeats an argument")
    return positions, True


def _needs_graph(args: Sequence) -> bool:
    """Whether results must be differentiable: inside another transformation, or when an
    argument is itself computed from other nodes (so the caller may differentiate through it)."""
    if not grad_enabled():
        return False
    if _nesting.get() > 0:
        return True
    Tensor = _tensor_type()
    for x in args:
        if isinstance(x, Value) and x._prev:
            return True
        if Tensor is not None and isinstance(x, Tensor) and (x._prev or x.requires_grad):
            return True
    return False


class _Call:
    """One evaluation of `f` with its differentiated arguments replaced by fresh entry nodes."""

    def __init__(self, name: str, f: Callable, args: tuple, argnums: Any) -> None:
        positions, self.as_tuple = _normalise_argnums(name, argnums)
        for i in positions:
            if not -len(args) <= i < len(args):
                raise ValueError(
                    f"{name}: argnums {argnums!r} asks for argument {i}, but "
                    f"{getattr(f, '__name__', 'f')} was called with {len(args)} arguments"
                )
        self.name = name
        self.build_graph = _needs_graph(args)
        self.args = [_Arg(name, i, args[i], self.build_graph) for i in positions]
        call_args = list(args)
        for i, arg in zip(positions, self.args):
            call_args[i] = arg.node
        token = _nesting.set(_nesting.get() + 1)
        try:
            with enable_grad():  # f must record its graph even inside no_grad()
                self.out = f(*call_args)
        finally:
            _nesting.reset(token)

    def gradients(self, out: Any, seed: Any) -> list:
        """d <out, seed> / d argument for each differentiated argument (None: no dependence)."""
        nodes = [arg.node for arg in self.args]
        stops = {id(arg.stop) for arg in self.args if arg.stop is not None}
        base = getattr(type(out), "_follow", None)  # e.g. tensors: skip those needing no grad
        follow = base
        if stops:

            def follow(node: Any) -> bool:  # never walk back into the caller's graph
                return id(node) not in stops and (base is None or base(node))

        if self.build_graph:
            # Only nodes on a path from the arguments to `out` get gradient graphs built.
            relevant = set(map(id, nodes))
            for node in topological_order(out, follow):
                if id(node) not in relevant and any(id(p) in relevant for p in node._prev):
                    relevant.add(id(node))
            if id(out) not in relevant:
                return [None] * len(nodes)

            def follow(node: Any) -> bool:  # noqa: F811 (the pruned walk)
                return id(node) in relevant

        _, grads = backpropagate(
            out,
            seed,
            create_graph=self.build_graph,
            follow=follow,
            wrt=nodes,
        )
        return grads

    def results(self, grads: list) -> Any:
        """Gradients mirrored to the arguments' kinds: one, or a tuple if argnums was a tuple."""
        out = []
        for arg, g in zip(self.args, grads):
            result = arg.result(g, self.build_graph)
            if (isinstance(result, Value) or _is_tensor(result)) and any(
                result is earlier for earlier in out
            ):  # one node for two arguments (x + y): each gets its own
                result = result.clone() if _is_tensor(result) else Value.sum((result,))
            out.append(result)
        return tuple(out) if self.as_tuple else out[0]

    def plain_value(self, out: Any) -> Any:
        """`out` for the caller: a number or array on the fast path with plain arguments."""
        if self.build_graph:
            return out
        data = _data(out)
        plain = all(arg.kind in ("float", "array") for arg in self.args)
        if isinstance(out, Value) or isinstance(out, Real):
            return float(data) if plain else Value(float(data))
        return np.array(data) if plain else _tensor_type()(np.array(data))


def _function_name(f: Callable) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _scalar_seed(name: str, f: Callable, out: Any, build_graph: bool) -> tuple[Any, Any]:
    """(output node or None for a constant, seed) for a function that must return a scalar."""
    Tensor = _tensor_type()
    if isinstance(out, Value):
        return out, Value(1.0) if build_graph else 1.0
    if Tensor is not None and isinstance(out, Tensor):
        if out.data.size != 1:
            raise TypeError(
                f"{name}: {_function_name(f)} must return a scalar, got a Tensor of shape "
                f"{out.shape}; use jacobian for vector outputs, or reduce it (e.g. .sum())"
            )
        return out, _tensor_seed(out, np.ones(out.shape), build_graph)
    if isinstance(out, Real) and not isinstance(out, bool):
        return None, None  # a constant: every gradient is zero
    raise TypeError(
        f"{name}: {_function_name(f)} must return a scalar (a Value, a one-element Tensor or a "
        f"number), got {_describe(out)}"
        + ("; use jacobian for vector outputs" if isinstance(out, (list, tuple)) else "")
        + ("; did it convert a Tensor with numpy?" if isinstance(out, np.ndarray) else "")
    )


def _tensor_seed(out: Any, seed: np.ndarray, build_graph: bool) -> Any:
    seed = np.asarray(seed, dtype=out.data.dtype)
    return _tensor_type()(seed) if build_graph else seed


# --------------------------------------------------------------------------------------------
# The transformations
# --------------------------------------------------------------------------------------------


def value_and_grad(f: Callable, argnums: Argnums = 0) -> Callable:
    """A function returning ``(f(*args), gradient of f w.r.t. args[argnums])``; `f` must
    return a scalar.

    >>> value_and_grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 4.0)
    (12.0, (4.0, 3.0))
    """
    return _value_and_grad(f, argnums, "value_and_grad")


def grad(f: Callable, argnums: Argnums = 0) -> Callable:
    """A function returning the gradient of scalar-valued `f` w.r.t. ``args[argnums]``
    (a tuple of gradients when `argnums` is a tuple). Composable: ``grad(grad(f))``.

    >>> grad(lambda x: x.tanh())(0.0)
    1.0
    """
    return _grad(f, argnums, "grad")


def _grad(f: Callable, argnums: Any, name: str) -> Callable:
    with_value = _value_and_grad(f, argnums, name)

    @functools.wraps(f)
    def gradient(*args: Any) -> Any:
        return with_value(*args)[1]

    return gradient


def _value_and_grad(f: Callable, argnums: Any, name: str) -> Callable:
    _normalise_argnums(name, argnums)  # fail early, at definition

    @functools.wraps(f)
    def value_and_gradient(*args: Any) -> tuple[Any, Any]:
        call = _Call(name, f, args, argnums)
        out, seed = _scalar_seed(name, f, call.out, call.build_graph)
        if out is None:
            return call.out, call.results([None] * len(call.args))
        return call.plain_value(out), call.results(call.gradients(out, seed))

    return value_and_gradient


def jacobian(f: Callable, argnums: Argnums = 0) -> Callable:
    """A function returning the Jacobian of `f` w.r.t. ``args[argnums]``: rows are outputs.

    The result has the structure of f's output (a scalar, a list/tuple of scalars, a tensor),
    each scalar replaced by its gradient (a tuple of gradients when `argnums` is a tuple). A
    tensor output of shape S w.r.t. an argument of shape A gives an array of shape S + A.

    >>> jacobian(lambda x: [x * x, 3 * x])(2.0)
    [4.0, 3.0]
    """
    return _jacobian(f, argnums, "jacobian")


def _jacobian(f: Callable, argnums: Any, name: str) -> Callable:
    _normalise_argnums(name, argnums)

    @functools.wraps(f)
    def jacobian_of_f(*args: Any) -> Any:
        call = _Call(name, f, args, argnums)
        return _jacobian_of(call, call.out, f)

    return jacobian_of_f


def _jacobian_of(call: _Call, out: Any, f: Callable) -> Any:
    """Map every leaf of f's output structure to its gradient(s)."""
    if isinstance(out, (list, tuple)):
        return type(out)(_jacobian_of(call, item, f) for item in out)
    if _is_tensor(out):
        return _tensor_jacobian(call, out)
    if not isinstance(out, (Value, Real)) or isinstance(out, bool):
        raise TypeError(
            f"{call.name}: {_function_name(f)} must return a Value, a Tensor, a number, or a "
            f"list or tuple of them, got {_describe(out)}"
        )
    node, seed = _scalar_seed(call.name, f, out, call.build_graph)
    if node is None:
        return call.results([None] * len(call.args))
    return call.results(call.gradients(node, seed))


def _tensor_jacobian(call: _Call, out: Any) -> Any:
    """One backward pass per output element; row i is d out[i] / d argument."""
    blocks: list[list] = [[] for _ in call.args]
    for index in np.ndindex(out.shape):
        one_hot = np.zeros(out.shape)
        one_hot[index] = 1.0
        grads = call.gradients(out, _tensor_seed(out, one_hot, call.build_graph))
        for rows, arg, g in zip(blocks, call.args, grads):
            rows.append(arg.zero(call.build_graph) if g is None else g)
    results = []
    for arg, rows in zip(call.args, blocks):
        shape = tuple(out.shape) + arg.shape
        if call.build_graph:
            results.append(_stack_nodes(rows).reshape(shape))
        else:
            block = np.array([_data(r) for r in rows])
            results.append(arg.result(block.reshape(shape), False))
    return tuple(results) if call.as_tuple else results[0]


def _stack_nodes(rows: list) -> Any:
    from autodiff.tensor_ops.shape import stack

    return stack(rows)


def hessian(f: Callable, argnums: Argnums = 0) -> Callable:
    """A function returning the matrix of second derivatives of scalar-valued `f`.

    For a tuple `argnums` the result is nested: ``H[i][j] = d2 f / d args[i] d args[j]``; a
    tensor argument of shape A gives an array of shape A + A.

    >>> import numpy as np
    >>> f = lambda x1, x2, x3: 5 * x1**2 + 8 * x2 + 35 * x3 + 30
    >>> np.array(hessian(f, argnums=(0, 1, 2))(2.0, 1.0, 4.0))
    array([[10.,  0.,  0.],
           [ 0.,  0.,  0.],
           [ 0.,  0.,  0.]])
    """
    _normalise_argnums("hessian", argnums)
    return _jacobian(_grad(f, argnums, "hessian"), argnums, "hessian")


def hvp(f: Callable, argnums: Argnums = 0) -> Callable:
    """A function of ``(*args, v)`` returning the Hessian of scalar-valued `f` times `v`.

    Computed as the gradient of ``<grad f, v>`` (two backward passes), never forming the
    Hessian: it costs about as much as two gradients. `v` has the shape of ``args[argnums]``
    (a tuple of such when `argnums` is a tuple).

    >>> hvp(lambda x: x**3)(2.0, 1.0)   # f''(2) * 1 = 6 * 2
    12.0
    """
    _normalise_argnums("hvp", argnums)
    gradient = _grad(f, argnums, "hvp")

    @functools.wraps(f)
    def hessian_vector_product(*args: Any) -> Any:
        if not args:
            raise TypeError("hvp: expected the arguments of f followed by the vector v")
        *f_args, v = args

        def directional_derivative(*inner: Any) -> Any:  # <grad f, v>
            return _inner_product(gradient(*inner), v, argnums)

        return _grad(directional_derivative, argnums, "hvp")(*f_args)

    return hessian_vector_product


def _inner_product(gradients: Any, v: Any, argnums: Any) -> Any:
    if isinstance(argnums, int):
        gradients, v = (gradients,), (v,)
    elif not isinstance(v, (tuple, list)) or len(v) != len(gradients):
        raise TypeError(
            f"hvp: with argnums={argnums!r}, v must be a tuple of {len(gradients)} vectors, got "
            f"{_describe(v)}"
        )
    total: Any = 0.0
    for g, direction in zip(gradients, v):
        total = total + _dot(g, direction)
    return total


def _dot(g: Any, direction: Any) -> Any:
    direction = _data(direction)
    if isinstance(g, Value) or isinstance(g, Real):
        if not isinstance(direction, Real) and np.ndim(direction) != 0:
            raise ValueError(
                f"hvp: v must be a number for a scalar argument, got {_describe(direction)}"
            )
        return g * float(direction)
    direction = np.asarray(direction, dtype=np.float64)
    g_shape = np.shape(_data(g))
    if direction.shape != g_shape:
        raise ValueError(
            f"hvp: v has shape {direction.shape} but the argument has shape "
            f"{g_shape}; they must match"
        )
    if isinstance(g, np.ndarray):
        return float(np.sum(g * direction))
    return (g * _tensor_type()(direction.astype(g.data.dtype))).sum()
