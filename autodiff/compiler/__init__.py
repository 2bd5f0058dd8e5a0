"""`autodiff.compile`: a function's graph, recorded once, written out as Python you can read.

This engine is define-by-run: the graph is recorded as the code runs, anew on every call.
`compile(f, *example_args)` records `f` once on the example arguments and writes that graph as
a plain program (define-and-run): the forward pass one line per node, in topological order,
then the backward pass one line per edge, from the output back to the inputs, each the upstream
gradient times the edge's local partial derivative, produced by the very rules ``backward()``
uses. Calling the result returns what ``value_and_grad(f, argnums)`` returns, to the bit:

>>> from autodiff import compile
>>> def f(x1, x2, x3):  # the article's pig farm: years, farm area, employees
...     return 5 * x1**2 + 8 * x2 + 35 * x3 + 30
>>> compiled = compile(f, 2.0, 1.0, 4.0)
>>> compiled(2.0, 1.0, 4.0)
(198.0, (20.0, 8.0, 35.0))
>>> compiled(3.0, 1.0, 4.0)  # dy/dx1 = 10 x1
(223.0, (30.0, 8.0, 35.0))
>>> "g_x3 = g_v10 * 35.0" in compiled.source  # dy/dx3: upstream times d(35 x3)/dx3
True

Like ``jax.jit`` and ``torch.jit.trace``, compiling fixes Python control flow that depends on
values (an ``if x > 0`` in `f`) at the branch the trace took; the ops themselves (relu, abs,
max, clip, hardtanh, where on a comparison...) are written branch-free and are right for every
input, and the positions that sort, topk, argsort, cummax and cummin find are computed again.
Other values taken out of the graph (``float(x)``, an argmax or isnan mask used as an index)
are fixed at the traced ones. Calls with arguments of another kind, number or shape are
refused with an error, and so are inputs the engine refuses (``log(-1.0)``, ``x / 0`` or
``0.0 ** -1`` on a Value), with Value's error and message, for every sample of a batched call.

Every built-in op compiles except ``logcumsumexp`` (its rule branches on the gradient's sign)
and custom `Function` ops: those raise NotImplementedError naming the op. ``x ** y`` with a
`Value` exponent compiles to selects that are right for every input (0 ** 0, a zero base, nan).

A scalar graph traced on one sample can be evaluated for a whole batch at once with numpy
(`CompiledFunction.batched`); ``.save(path)`` writes a module that needs numpy alone.

The package, in the order a compilation goes through it: `trace` records `f` on leaves made
from the arguments; `program` turns the graph into statements, running each op's rule on the
symbolic operands of `expr`; `source` prints them (with the small functions of `helpers`) as a
module; `function` runs that module behind the argument guard, and saves it.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

from autodiff.compiler.function import BatchedFunction, CompiledFunction, verify
from autodiff.compiler.program import build
from autodiff.compiler.trace import record

__all__ = ["BatchedFunction", "CompiledFunction", "CompileWarning", "compile"]


class CompileWarning(UserWarning):
    """Something about the traced function that may make the compiled one differ from it."""


def compile(f: Callable, *example_args: Any, argnums: Any = None) -> CompiledFunction:  # noqa: A001
    """Record `f` on `example_args` once and return it as a `CompiledFunction`.

    Arguments: numbers or `Value`s (and lists of them, such as ``model.parameters()``) give a
    scalar graph; numpy arrays or `Tensor`s a tensor graph. `f` must return a scalar. The
    compiled function returns ``(value, gradients)`` with the gradients of the arguments in
    `argnums` (default: all, as a tuple; an int gives one gradient), equal to the bit to what
    ``backward()`` computes. The other arguments are inputs without gradients (data).

    >>> import numpy as np
    >>> from autodiff import compile
    >>> step = compile(lambda w, x: ((x @ w).tanh() ** 2).sum(), np.ones(2), np.eye(2), argnums=0)
    >>> value, g_w = step(np.array([0.5, -0.5]), np.eye(2))
    >>> g_w.shape
    (2,)
    """
    recording = record(f, example_args, argnums)
    program = build(recording)
    in_graph = {id(node) for node in program.order}
    for argument in recording.arguments:
        unused = [
            n
            for n in argument.nodes
            if id(n) not in in_graph and id(getattr(n, "data", None)) not in program.read
        ]
        if unused:
            warnings.warn(
                CompileWarning(
                    f"compile: argument {argument.position} ({argument.name}) "
                    + ("does not" if len(unused) == len(argument.nodes) else "partly does not")
                    + " reach the output through recorded ops: its gradient is 0 there, and if "
                    f"{recording.name} used its value otherwise (an if, float(), a constant "
                    "mask) that use is fixed at the traced value"
                ),
                stacklevel=2,
            )
    compiled = CompiledFunction(program)
    verify(compiled)
    return compiled
