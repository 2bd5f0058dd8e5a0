"""Custom differentiable ops: a forward pass and its vector-Jacobian product, nothing else.

Subclass `Function`, write ``forward`` on ndarrays and ``vjp`` (given the output's gradient
``g``, the inputs and the output, return one gradient per input), then call ``apply`` on
Tensors, arrays or numbers. The result is an ordinary Tensor node: it composes with every other
op, backward() runs your ``vjp``, and gradcheck checks it.

>>> import numpy as np
>>> from autodiff import Tensor, gradcheck
>>> from autodiff.function import Function
>>> class Softsign(Function):
...     '''x / (1 + |x|), elementwise.'''
...     @staticmethod
...     def forward(x):
...         return x / (1 + np.abs(x))
...     @staticmethod
...     def vjp(g, x, out):
...         return (g / (1 + np.abs(x)) ** 2,)  # d/dx x / (1 + |x|) = 1 / (1 + |x|)**2
>>> x = Tensor([-2.0, 0.5, 3.0], requires_grad=True)
>>> (Softsign.apply(x) * 2).sum().backward()
>>> x.grad
array([0.22222222, 0.88888889, 0.125     ])
>>> gradcheck(Softsign.apply, Tensor([0.3, -1.2], requires_grad=True)).ok
True

Write ``vjp`` with operators and numpy functions (``np.exp``, ``np.where``, ``np.sum``,
``np.abs``...): with ``backward(create_graph=True)`` it is called with Tensors instead of
ndarrays, and those dispatch to differentiable Tensor ops, so second derivatives of your op
work too. Gradients may be shaped like the output where an input was broadcast: they are summed
back to the input's shape, as for built-in ops. Keyword arguments of ``apply`` are constants
passed to both ``forward`` and ``vjp``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.tensor import VJP_RULES, Tensor, _make, as_tensor


class Function:
    """Base class of a custom op: define ``forward(*arrays, **params)`` and
    ``vjp(g, *inputs, out, **params)`` as staticmethods; use ``apply(*inputs, **params)``.

    The op's name (``name``, by default the class name) labels its nodes in reprs and drawings.
    """

    name: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            cls.name = cls.__name__
        existing = VJP_RULES.get(cls.name)
        if existing is not None and existing is not _function_rule:
            raise ValueError(
                f"Function {cls.__name__}: op name {cls.name!r} is a built-in op; set a "
                "different `name`"
            )
        # Every Function shares one rule: the node's ctx says which class's vjp to call.
        VJP_RULES[cls.name] = _function_rule

    @staticmethod
    def forward(*inputs: np.ndarray, **params: Any) -> Any:
        """The op's value, computed from the inputs' ndarrays."""
        raise NotImplementedError("a Function subclass must define forward")

    @staticmethod
    def vjp(g: Any, *inputs_and_out: Any, **params: Any) -> Any:
        """``vjp(g, *inputs, out)``: one gradient per input (None for none), given d loss/d out."""
        raise NotImplementedError("a Function subclass must define vjp")

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op on `inputs` (Tensors, arrays or numbers) and record it in the graph."""
        if cls is Function:
            raise TypeError("apply: subclass Function and call apply on the subclass")
        like = next((x for x in inputs if isinstance(x, Tensor)), None)
        tensors = tuple(as_tensor(x, like, cls.name) for x in inputs)
        out = cls.forward(*(t.data for t in tensors), **params)
        if isinstance(out, Tensor):
            out = out.data
        out = np.asarray(out)
        if out.dtype.kind not in "biuf":
            raise TypeError(
                f"{cls.name}.forward must return real numbers, got an array of dtype {out.dtype}"
            )
        return _make(out, tensors, cls.name, (cls, params))


def _function_rule(g: Any, inputs: Any, out: Any, ctx: tuple) -> list:
    """d f/d inputs: whatever the Function's ``vjp`` returns, checked and as arrays"""
    cls, params = ctx
    grads = cls.vjp(g, *inputs, out, **params)
    if len(inputs) == 1 and not isinstance(grads, (tuple, list)):
        grads = (grads,)  # a single gradient for a single input is fine too
    if not isinstance(grads, (tuple, list)) or len(grads) != len(inputs):
        count = len(grads) if isinstance(grads, (tuple, list)) else type(grads).__name__
        raise TypeError(
            f"{cls.name}.vjp must return one gradient per input ({len(inputs)}), got {count}"
        )
    checked = []
    for i, (x, grad) in enumerate(zip(inputs, grads)):
        if grad is not None:
            if not isinstance(grad, (np.ndarray, Tensor)):
                grad = np.asarray(grad, dtype=x.dtype)
            elif type(grad) is np.ndarray and not grad.flags.writeable and grad.base is None:
                grad = grad.copy()  # (a frozen array the vjp may keep: .grad must be writable)
            if grad.shape != x.shape and not _reduces_to(grad.shape, x.shape):
                raise ValueError(
                    f"{cls.name}.vjp: gradient {i} has shape {grad.shape} but input {i} has "
                    f"shape {x.shape}"
                )
        checked.append(grad)
    return checked


def _reduces_to(grad_shape: tuple, shape: tuple) -> bool:
    """Whether a gradient of `grad_shape` is `shape` broadcast (so it can be summed back)."""
    try:
        return np.broadcast_shapes(grad_shape, shape) == grad_shape
    except ValueError:
        return False
