"""Check backward gradients against central finite differences.

Works for functions of `Value`s and of `Tensor`s: any node whose ``.data`` is a float or a
numpy array. The inputs' data are nudged in place (and restored), so `f` must recompute its
output from its inputs each call.

>>> from autodiff import Value, gradcheck
>>> gradcheck(lambda x, y: x * y + x.tanh(), Value(0.5), Value(-2.0)).ok
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from autodiff.graph import backpropagate, enable_grad, is_grad_enabled, no_grad
from autodiff.value import Value


class GradcheckError(AssertionError):
    """Backward and finite differences disagree; the message names the worst element."""


@dataclass
class Mismatch:
    """One element's analytic (backward) and numeric (finite-difference) derivative."""

    input_index: int
    element: tuple
    analytic: float
    numeric: float
    shape: tuple = ()  # the input's shape, () for a scalar
    label: str = ""  # the input's label, if it has one

    @property
    def error(self) -> float:
        return abs(self.analytic - self.numeric)


@dataclass
class GradcheckReport:
    """What `gradcheck` found: ``ok``, and the ``worst`` element (largest excess over tolerance)."""

    ok: bool
    worst: Mismatch | None
    checked: int
    order: int = 1  # 2: second derivatives (see gradcheck's `order`)

    def __str__(self) -> str:
        name = "gradcheck" if self.order == 1 else f"gradcheck (order {self.order})"
        if self.worst is None:
            return f"{name}: nothing to check ({self.checked} elements)"
        w = self.worst
        where = f"input {w.input_index}" + (f" ({w.label!r})" if w.label else "")
        if w.shape:
            where += f" of shape {w.shape} at index {w.element}"
        verdict = "ok" if self.ok else "MISMATCH"
        # order 2 compares (Hessian @ u)[element] with differences of <gradient, u>
        of = "" if self.order == 1 else " of the gradient (Hessian @ u)"
        # 10 significant digits: enough to see a real mismatch, without finite differences'
        # last-digit noise (2.2499999999814335 reads as 2.25)
        return (
            f"{name} {verdict}: worst is {where}: backward{of} gives {w.analytic:.10g}, "
            f"finite differences give {w.numeric:.10g} (|diff| = {w.error:.3g}; "
            f"{self.checked} elements checked)"
        )


def _scalar_output(out: Any, cotangent: Any) -> float:
    """The number that finite differences compare: the output itself, or <out, cotangent>."""
    data = out.data
    if cotangent is None:  # a scalar, or a one-element array such as shape (1,) or (1, 1)
        return float(np.asarray(data).item())
    return float(np.sum(np.asarray(data, dtype=np.float64) * cotangent))


def _as_inputs(inputs: tuple) -> list:
    for i, x in enumerate(inputs):
        if not hasattr(x, "_prev") or not hasattr(x, "data"):
            raise TypeError(
                f"gradcheck: input {i} must be a Value or Tensor, got {type(x).__name__}"
            )
    return list(inputs)


def gradcheck(
    f: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    raise_exception: bool = False,
    seed: int = 0,
    order: int = 1,
) -> GradcheckReport:
    """Compare d f / d input from ``backward`` with central differences.

    The numeric derivative is (f(x + eps) - f(x - eps)) / (2 eps), element by element.

    A non-scalar output is checked through a fixed random projection ``sum(out * r)``, which
    tests the whole vector-Jacobian product. An element passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|``. Returns a `GradcheckReport`; with
    ``raise_exception=True`` a failure raises `GradcheckError` naming the worst element
    (which input, index, both values). Use float64 data: float32 is too coarse for
    finite differences.

    ``order=2`` checks second derivatives: the gradient of the gradient (built with
    ``create_graph=True``) against central differences of the first gradient, both along a
    fixed random direction u, i.e. ``Hessian @ u`` element by element.

    >>> from autodiff import Value
    >>> gradcheck(lambda x, y: (x * y).tanh(), Value(0.3), Value(-1.5), order=2).ok
    True
    """
    if isinstance(order, bool) or order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2, got {order!r}")
    nodes = _as_inputs(inputs)
    if order == 2:
        f = _projected_gradient(f, nodes, seed)
    out = f(*nodes)
    if not hasattr(out, "_prev"):
        raise TypeError(f"gradcheck: f must return a Value or Tensor, got {type(out).__name__}")
    out_shape = np.shape(out.data)
    cotangent = None
    seed_grad: Any = 1.0
    if out_shape != () and int(np.prod(out_shape)) != 1:
        cotangent = np.random.default_rng(seed).standard_normal(out_shape)
        seed_grad = cotangent
    elif out_shape != ():
        seed_grad = np.ones(out_shape)
    if hasattr(out, "_seed"):  # tensors wrap the seed in their own dtype
        seed_grad = out._seed(seed_grad)
    _, analytic = backpropagate(out, seed_grad, wrt=nodes, follow=_follow_of(out))

    worst: Mismatch | None = None
    worst_excess = -np.inf
    checked = 0
    with no_grad():
        for i, node in enumerate(nodes):
            grad_i = analytic[i]
            scalar_input = np.ndim(node.data) == 0 and not isinstance(node.data, np.ndarray)
            analytic_i = (
                np.zeros(np.shape(node.data))
                if grad_i is None
                else np.asarray(getattr(grad_i, "data", grad_i), dtype=np.float64)
            )
            for index in np.ndindex(np.shape(node.data)):
                numeric = _central_difference(f, nodes, node, index, scalar_input, eps, cotangent)
                a = float(analytic_i[index]) if analytic_i.ndim else float(analytic_i)
                excess = abs(a - numeric) - (atol + rtol * abs(numeric))
                if np.isnan(a) != np.isnan(numeric):
                    excess = np.inf
                checked += 1
                if excess > worst_excess:
                    worst_excess = excess
                    shape = np.shape(node.data)
                    label = getattr(node, "label", "") or ""
                    worst = Mismatch(i, index, a, numeric, shape, label)
    report = GradcheckReport(ok=bool(worst_excess <= 0), worst=worst, checked=checked, order=order)
    if raise_exception and not report.ok:
        raise GradcheckError(str(report))
    return report


def _follow_of(out: Any) -> Callable[[Any], bool] | None:
    return getattr(type(out), "_follow", None)


def _central_difference(
    f: Callable, nodes: list, node: Any, index: tuple, scalar: bool, eps: float, cotangent: Any
) -> float:
    # `finally`: an input is never left nudged by eps, even when f raises
    if scalar:
        original = node.data
        try:
            node.data = original + eps
            plus = _scalar_output(f(*nodes), cotangent)
            node.data = original - eps
            minus = _scalar_output(f(*nodes), cotangent)
        finally:
            node.data = original
    else:
        original = node.data[index].copy() if node.data.ndim == 0 else node.data[index]
        try:
            node.data[index] = original + eps
            plus = _scalar_output(f(*nodes), cotangent)
            node.data[index] = original - eps
            minus = _scalar_output(f(*nodes), cotangent)
        finally:
            node.data[index] = original
    return (plus - minus) / (2 * eps)


def _projected_gradient(f: Callable, nodes: list, seed: int) -> Callable:
    """x -> <d f / d x, u> for fixed random directions u (one per input).

    Its gradient is the Hessian times u, so a first-order check of it compares second
    derivatives with finite differences of the first gradient, without forming the Hessian.
    A non-scalar output of `f` is first projected, as in the first-order check.
    """
    rng = np.random.default_rng(seed + 1)
    directions = [rng.standard_normal(np.shape(node.data)) for node in nodes]

    def projected(*xs: Any) -> Any:
        # Finite differences evaluate this under no_grad: then plain numbers suffice.
        build = is_grad_enabled()
        with enable_grad():  # the first gradient always needs f's graph
            out = f(*xs)
        if not hasattr(out, "_prev"):
            raise TypeError(f"gradcheck: f must return a Value or Tensor, got {type(out).__name__}")
        shape = np.shape(out.data)
        seed_grad: Any = 1.0
        if shape != () and int(np.prod(shape)) != 1:
            seed_grad = np.random.default_rng(seed).standard_normal(shape)
        elif shape != ():
            seed_grad = np.ones(shape)
        if hasattr(out, "_seed"):  # tensors wrap the seed in their own dtype
            seed_grad = out._seed(seed_grad)
        if build:  # a graph node, so that the gradients come out as graphs
            seed_grad = type(out)(seed_grad)
        _, grads = backpropagate(
            out, seed_grad, create_graph=build, follow=_follow_of(out), wrt=list(xs)
        )
        total: Any = 0.0
        with enable_grad() if build else no_grad():
            for g, u in zip(grads, directions):
                if g is not None:
                    total = total + _inner(g, u)
        return total if hasattr(total, "_prev") else Value(float(total))

    return projected


def _inner(g: Any, u: np.ndarray) -> Any:
    """<g, u> for a gradient `g` (number, array, Value or Tensor) and a fixed direction `u`."""
    if isinstance(g, np.ndarray):  # (an ndarray's own .data is a memoryview)
        return float(np.sum(g * u))
    data = getattr(g, "data", g)
    if not isinstance(data, np.ndarray):
        return g * float(u)
    return (g * type(g)(u.astype(data.dtype))).sum()  # a Tensor: stay in the graph
