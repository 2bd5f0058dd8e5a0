"""The graph core shared by `Value` and `Tensor`.

A node is any object that hashes by identity and has:

- ``_prev``: the tuple of its inputs, *in order* (so ``x * x`` has two edges to ``x``);
- ``_op``: the name of the op that made it ('' for a leaf);
- ``_partials``: d node / d input for each input as plain numbers (scalars), or ``None`` when
  the node instead applies a vector-Jacobian product (tensors);
- ``_vjp(grad)``: one gradient per input (``None`` where an input gets none), as numbers or
  arrays; called only when ``_partials`` is None;
- ``_vjp_graph(grad)``: the same, built from differentiable graph ops (``create_graph=True``), so
  a gradient can itself be differentiated;
- ``_store_grad(grad, kept)``: keep the gradient that reached this node (leaves accumulate);
  `kept` holds the ids of the gradient objects other nodes kept as they are during this
  pass: a node keeping one of those keeps a copy, and a node keeping `grad` itself adds its
  id, so no two nodes' ``.grad`` are ever one array;
- ``_local_partials()``: each edge's local partial, for drawing and the chain-rule trace.

The core knows nothing of scalars or tensors: it orders the graph and applies the chain rule.
`backpropagate` is the driver every path can use, and the place to read the chain rule. Two
drivers compute the very same numbers faster for the commonest call, a plain ``backward()``:
`backpropagate_numeric` here, for graphs whose partials are all numbers (scalar `Value`s),
summing into ``.grad`` in place; and ``autodiff.tensor._backpropagate_arrays`` for tensors,
`backpropagate` with the tensor node's methods written into its loop.

Threads: what changes during a forward or backward pass is per thread (and per asyncio task):
grad mode here, and the functional API's nesting depth, are context variables. The rest of the
package's module-level state is shared on purpose and safe to share: the op rule tables are
filled at import (and when a `Function` subclass is defined) and only read afterwards; the
cached ones vectors of `autodiff.tensor` are read-only arrays, added under a lock; the change
clock behind ``Tensor.data``'s version is bumped under a lock; numpy's random Generator behind
``randn`` locks itself. Nodes themselves are not locked: two threads may share a graph's inputs
(parameters) to build graphs of their own, but should not backpropagate through one graph, or
change one tensor's ``.data``, at the same time.
"""

from __future__ import annotations

import contextlib
import math
from contextvars import ContextVar
from typing import Any, Callable, Iterator

# Grad mode lives in a context variable, so it is per thread (each thread starts with it on, as
# PyTorch's thread-local grad mode) and per asyncio task: `no_grad` in one thread never turns
# recording off in another. Reading it is a C call (`ContextVar.get` caches its last lookup),
# as cheap as reading an attribute; every op reads it through `grad_enabled`.
_GRAD_ENABLED: ContextVar[bool] = ContextVar("autodiff_grad_enabled", default=True)
# The modes saved by the `no_grad`/`enable_grad` blocks this thread is inside, innermost first,
# as an immutable linked list ``(saved mode, rest)``: saved per entry, never on the instance, so
# one instance can be re-entered and a decorated function can recurse.
_SAVED_MODES: ContextVar[tuple | None] = ContextVar("autodiff_saved_grad_modes", default=None)

grad_enabled: Callable[[], bool] = _GRAD_ENABLED.get
"""This thread's grad mode, for the hot paths (`_make`, `_new`): a bound C method."""


class _GradMode:
    """``grad_mode.enabled``: whether new ops record the graph, in the calling thread."""

    __slots__ = ()

    @property
    def enabled(self) -> bool:
        return _GRAD_ENABLED.get()


grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True when ops record the graph (the default); False inside `no_grad()`. Per thread.

    >>> from autodiff import no_grad, is_grad_enabled
    >>> with no_grad():
    ...     is_grad_enabled()
    False
    """
    return _GRAD_ENABLED.get()


def _push_mode(enabled: bool) -> None:
    _SAVED_MODES.set((_GRAD_ENABLED.get(), _SAVED_MODES.get()))
    _GRAD_ENABLED.set(enabled)


def _pop_mode(name: str) -> None:
    saved = _SAVED_MODES.get()
    if saved is None:
        raise RuntimeError(
            f"{name}: exited more often than entered in this thread (each __exit__ must follow "
            "an __enter__ in the same thread)"
        )
    before, rest = saved
    _SAVED_MODES.set(rest)
    _GRAD_ENABLED.set(before)


class no_grad(contextlib.ContextDecorator):
    """Context manager (or decorator) in which ops build no graph, in the calling thread.

    Blocks nest, one instance can be entered again while it is active, and ``@no_grad()`` can
    decorate a recursive function: each entry saves the mode it found and its exit restores it.

    >>> from autodiff import Value, no_grad
    >>> x = Value(2.0)
    >>> with no_grad():
    ...     y = x * x
    >>> y._prev
    ()
    """

    def __enter__(self) -> None:
        _push_mode(False)

    def __exit__(self, *exc: object) -> None:
        _pop_mode("no_grad")


class enable_grad(contextlib.ContextDecorator):
    """Context manager (or decorator) in which ops record the graph again (undoes an enclosing
    `no_grad`), in the calling thread.

    >>> from autodiff import Value, no_grad, enable_grad
    >>> x = Value(2.0)
    >>> with no_grad():
    ...     with enable_grad():
    ...         y = x * x
    >>> y._op
    '*'
    """

    def __enter__(self) -> None:
        _push_mode(True)

    def __exit__(self, *exc: object) -> None:
        _pop_mode("enable_grad")


def topological_order(root: Any, follow: Callable[[Any], bool] | None = None) -> list:
    """Every node `root` depends on, inputs before the nodes made from them; `root` is last.

    Iterative depth-first search, so a chain of a million nodes needs no recursion. A node
    reached by several paths appears once. `follow(node)` decides whether to walk into a node
    at all (e.g. skip tensors that need no gradient); by default every input is walked.
    """
    order: list = []
    visited = {root}  # nodes hash by identity
    # Each stack entry is (node, iterator over its inputs); a node is emitted once all of its
    # inputs are. Keeping the iterator means no input is scanned twice.
    stack: list[tuple[Any, Iterator]] = [(root, iter(root._prev))]
    push, pop, emit, mark = stack.append, stack.pop, order.append, visited.add
    placed = visited.issuperset
    while stack:
        node, inputs = stack[-1]
        for parent in inputs:
            if parent not in visited and (follow is None or follow(parent)):
                mark(parent)
                # A node is done at once, with no stack entry, when it is a leaf (MLPs have
                # many) or when all of its inputs are placed already: in a wide graph most
                # nodes read weights and activations that other nodes read first, and one
                # set check in C replaces a loop over all their inputs.
                if not parent._prev or placed(parent._prev):
                    emit(parent)
                else:
                    push((parent, iter(parent._prev)))
                    break
        else:
            pop()
            emit(node)
    return order


def backpropagate(
    root: Any,
    seed: Any,
    *,
    create_graph: bool = False,
    follow: Callable[[Any], bool] | None = None,
    wrt: tuple | list | None = None,
) -> tuple[list, list | None]:
    """Apply the chain rule from `root` (whose gradient is `seed`) back to every input.

    Nodes are visited in reverse topological order, so a node's gradient is complete (all paths
    summed) before it is passed on. An edge whose local partial is a number (``_partials``, as
    scalars have) costs one multiply-add; otherwise the node applies its vector-Jacobian product
    (``_vjp``). With ``create_graph`` every node uses ``_vjp_graph``, whose gradients are graph
    nodes themselves.

    Without `wrt`, every node keeps its gradient (``_store_grad``). With `wrt`, nothing is
    stored: the gradients of those nodes are returned (``None`` where the output does not
    depend on one), as the functional API needs. Returns ``(order, gradients of wrt or None)``.
    """
    order = topological_order(root, follow)
    pending: dict[Any, Any] = {root: seed}
    take = pending.pop
    wanted = None if wrt is None else dict.fromkeys(wrt)
    # A vjp may hand one array to several inputs (a + b), or pass its own gradient through:
    # `kept` lets `_store_grad` copy only an array another node already keeps.
    kept: set[int] = set()
    # ops record the gradient's graph only with create_graph (a token restores the mode
    # exactly, cheaper than a `no_grad` block: this runs once per backward pass)
    token = _GRAD_ENABLED.set(bool(create_graph))
    try:
        for node in reversed(order):
            grad = take(node, None)
            if grad is None:  # every path to this node carried no gradient
                continue
            if wanted is None:
                node._store_grad(grad, kept)
            elif node in wanted:
                wanted[node] = grad
            inputs = node._prev
            if not inputs:
                continue
            partials = None if create_graph else node._partials
            if partials is not None:  # numeric edges: the chain rule is one multiply-add each
                for parent, partial in zip(inputs, partials):
                    if parent in pending:
                        pending[parent] = pending[parent] + grad * partial
                    else:
                        pending[parent] = grad * partial
                continue
            input_grads = node._vjp_graph(grad) if create_graph else node._vjp(grad)
            for parent, parent_grad in zip(inputs, input_grads):
                if parent_grad is None:
                    continue
                # never `+=`: a vjp may hand the same array to several inputs
                if parent in pending:
                    pending[parent] = pending[parent] + parent_grad
                else:
                    pending[parent] = parent_grad
    finally:
        _GRAD_ENABLED.reset(token)
    if wanted is None:
        return order, None
    return order, [wanted[node] for node in wrt]


_isfinite, _sum = math.isfinite, sum


def backpropagate_numeric(root: Any, seed: float) -> list:
    """`backpropagate` for a graph whose every edge has a numeric partial (``_partials``), as
    scalar `Value` graphs do: the same numbers, about a quarter faster.

    Each node's gradient is summed in place in its ``.grad`` (``parent.grad += grad * partial``)
    instead of in a dictionary, so the chain rule costs one attribute update per edge. Every
    ``.grad`` starts the pass at 0, so a second call does not double-count; a leaf's gradient
    from earlier calls is added back afterwards (leaves accumulate across calls, as in PyTorch:
    earlier + this pass's sum). Used only for a plain backward: `create_graph` and `wrt` go
    through `backpropagate`. Returns the order.
    """
    order = topological_order(root)
    earlier = []  # leaves holding gradients from earlier calls
    for node in order:
        if not node._prev and not (node.grad.__class__ is float and node.grad == 0.0):
            earlier.append((node, node.grad))
        node.grad = 0.0
    root.grad = seed
    for node in reversed(order):
        grad = node.grad
        # A zero gradient would add zeros only, which change no bit of any sum: every .grad
        # but the root's starts this pass at +0.0, and a sum started at +0.0 is never -0.0,
        # so x + (+-0.0) is x. Skipped, unless a partial is inf or nan (0 * inf is nan, which
        # must spread); their sum is finite only if each one is. In a classifier most nodes
        # carry zero (dead ReLUs, samples past the hinge margin): most of the pass is skipped.
        if grad == 0.0 and _isfinite(_sum(node._partials)):
            continue
        # the same products, added in the same order, as `backpropagate`'s pending sums; most
        # ops have one or two inputs, unpacked here: zip's objects would cost more than the sums
        inputs = node._prev
        if len(inputs) == 2:
            a, b = inputs
            da, db = node._partials
            a.grad += grad * da
            b.grad += grad * db
        elif len(inputs) == 1:
            inputs[0].grad += grad * node._partials[0]
        else:
            for parent, partial in zip(inputs, node._partials):
                parent.grad += grad * partial
    for leaf, grad in earlier:
        leaf.grad = grad + leaf.grad
    return order


def local_partials(node: Any) -> tuple:
    """d node / d input for each edge of `node`, in the order of ``node._prev``.

    Scalars give numbers; tensors give whatever their op can state (see `Tensor`).
    """
    return node._local_partials()
