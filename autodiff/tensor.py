"""`Tensor`: a numpy array that remembers how it was computed, on the same graph core as `Value`.

Each op (in ``autodiff/tensor_ops/``) computes its result with numpy and records its inputs; its
backward rule, kept next to it, turns the output's gradient into each input's gradient. A rule
uses only operators and numpy functions (``np.exp``, ``np.where``, ``np.sum``, ``@``...), so the
very same rule runs on ndarrays (the fast path of ``backward()``) and on Tensors
(``backward(create_graph=True)``: `Tensor` implements ``__array_ufunc__`` and
``__array_function__`` by dispatching to its own differentiable ops). The gradient of a
broadcast input is reduced back to the input's shape in one place, `_unbroadcast`.

>>> from autodiff import Tensor
>>> w = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> x = Tensor([1.0, -1.0])
>>> loss = (w @ x).tanh().sum()
>>> loss.backward()
>>> w.grad.shape
(2, 2)
"""

from __future__ import annotations

from numbers import Number
from typing import Any, Callable, Sequence

import numpy as np

from autodiff.graph import backpropagate, grad_mode

_ndarray = np.ndarray
_asarray = np.asarray
_object_new = object.__new__
_ones = np.ones


class _Released:
    """Marks a node whose saved values were freed by ``backward()`` (see ``retain_graph``)."""

    def __repr__(self) -> str:
        return "<released>"


RELEASED = _Released()

# The backward rules of every op, keyed by op name (the node's ``_op``): filled in by the modules
# of ``autodiff/tensor_ops`` and by `autodiff.function.Function`. An entry is either a tuple with
# one rule per input, ``rule(g, inputs, out, ctx) -> gradient`` (inputs that need no gradient
# are skipped), or one callable ``rule(g, inputs, out, ctx) -> tuple of gradients`` (ops with a
# variable number of inputs). ``inputs``/``out``/``g`` are ndarrays on the fast path and Tensors
# with ``create_graph=True``; ``ctx`` holds the op's constants (axis, shape, index...).
VJP_RULES: dict[str, tuple | Callable] = {}


def _describe(x: Any) -> str:
    text = repr(x)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(x).__name__} {text}"


def _check_dtype(data: np.ndarray, source: Any) -> None:
    if data.dtype.kind not in "biuf":
        raise TypeError(f"Tensor: data must be real numbers, got {_describe(source)}")


_ONES: dict[tuple, np.ndarray] = {}


def _ones_vector(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of `n` ones, cached (np.ones is a Python function: ~1 us a call)."""
    key = (n, dtype)
    ones = _ONES.get(key)
    if ones is None:
        if len(_ONES) > 64:  # many batch sizes: start again rather than grow without bound
            _ONES.clear()
        ones = _ONES[key] = _ones(n, dtype)
        ones.flags.writeable = False
    return ones


def _unbroadcast(grad: Any, shape: tuple) -> Any:
    """Sum `grad` (ndarray or Tensor) over the axes broadcasting added or stretched to `shape`.

    The one place where broadcasting is undone: every op's input gradient passes through here
    when its shape differs from the input's.
    """
    extra = grad.ndim - len(shape)
    if extra == 1 and grad.ndim == 2 and type(grad) is _ndarray and shape[0] == grad.shape[1]:
        # a bias over a batch of rows, the commonest case: a vector-matrix product sums the
        # rows several times faster than .sum(axis=0) on small arrays
        return _ones_vector(grad.shape[0], grad.dtype) @ grad
    stretched = tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    if not stretched:  # only new leading axes (a bias): no keepdims, no reshape
        return grad.sum(axis=tuple(range(extra))) if extra else grad
    grad = grad.sum(axis=tuple(range(extra)) + stretched, keepdims=True)
    return grad.reshape(shape) if extra else grad


class Tensor:
    """An n-dimensional array of numbers that records the ops made from it, for ``backward()``.

    ``Tensor(data, requires_grad=False, dtype=None, label=None)``: `data` is a number, a nested
    list or an ndarray (shared, not copied, when its dtype already fits). Numbers and lists
    become float64 unless `dtype` says otherwise; ndarrays keep their dtype, so float32 stays
    float32 in ``data`` and in ``grad``. Only floating-point tensors can require gradients.

    >>> x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    array([2., 4., 6.])
    """

    __slots__ = ("data", "grad", "requires_grad", "label", "_prev", "_op", "_ctx", "_keep_grad")
    # The driver applies `_vjp` for nodes whose `_partials` is None: all tensor nodes.
    _partials = None
    # `==` is elementwise, so tensors hash by identity (the driver keys dicts by node).
    __hash__ = object.__hash__

    def __init__(
        self,
        data: Any,
        requires_grad: bool = False,
        dtype: Any = None,
        label: str | None = None,
    ) -> None:
        if isinstance(data, Tensor):
            data = data.data
        if type(data) is _ndarray or isinstance(data, np.generic):
            array = data if dtype is None else _asarray(data, dtype=dtype)
        else:
            if data is None or isinstance(data, (str, bytes)):
                raise TypeError(f"Tensor: data must be real numbers, got {_describe(data)}")
            try:
                array = np.array(data, dtype=np.float64 if dtype is None else dtype)
            except (ValueError, TypeError) as error:
                raise TypeError(
                    f"Tensor: cannot make an array of real numbers from {_describe(data)} ({error})"
                ) from None
        if type(array) is not _ndarray:
            array = _asarray(array)
        _check_dtype(array, data)
        if requires_grad and array.dtype.kind != "f":
            raise TypeError(
                f"Tensor: only floating-point tensors can require gradients, got dtype "
                f"{array.dtype} (pass dtype=np.float64 or float data)"
            )
        self.data: np.ndarray = array
        self.grad: Any = None
        self.requires_grad = bool(requires_grad)
        self.label = label
        self._prev: tuple = ()
        self._op = ""
        self._ctx: Any = None
        self._keep_grad = False

    # --- array attributes -----------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        if not self.data.ndim:
            raise TypeError("len() of a 0-d Tensor")
        return len(self.data)

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors convert to a number, got shape {self.shape}"
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The data as an ndarray (shared, not copied)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is None or dtype == self.data.dtype:
            return self.data.copy() if copy else self.data
        return self.data.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a Tensor of shape {self.shape} is ambiguous; "
                "use .any() / .all() on .data"
            )
        return bool(self.data)

    # --- graph --------------------------------------------------------------------------

    @staticmethod
    def _follow(node: Tensor) -> bool:
        """Whether backward walks into `node`: only tensors that need a gradient."""
        return node.requires_grad

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op that records the graph."""
        return not self._prev

    def detach(self) -> Tensor:
        """The same data (shared) as a new tensor outside the graph."""
        return Tensor(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` on a leaf, in place; returns self."""
        if self._prev:
            raise ValueError("requires_grad_: only leaf tensors can change requires_grad")
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad_: only floating-point tensors can require gradients, got dtype "
                f"{self.data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep this intermediate tensor's gradient in ``.grad`` after backward (as PyTorch)."""
        self._keep_grad = True
        return self

    def backward(
        self, grad: Any = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Fill ``.grad`` of every leaf this tensor depends on with d self / d leaf.

        A one-element tensor needs no `grad`; otherwise pass d loss / d self, shaped like self.
        Leaves accumulate across calls (set ``.grad = None`` to reset); intermediate tensors keep
        theirs only after ``retain_grad()``. The graph's saved values are released afterwards
        unless ``retain_graph=True`` (default: `create_graph`). With ``create_graph=True`` the
        gradients are Tensors in a graph of their own, so they can be differentiated again.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad (no input has requires_grad=True, "
                "or it was computed under no_grad)"
            )
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward: grad can be implied only for one-element tensors; this one has "
                    f"shape {self.shape}, so pass backward(grad) with that shape"
                )
            shape = self.data.shape
            # a scalar loss is the common case: np.array is cheaper than np.ones' Python wrapper
            seed: Any = (
                np.array(1, self.data.dtype) if not shape else np.ones(shape, self.data.dtype)
            )
        else:
            grad_data = grad.data if isinstance(grad, Tensor) else grad
            if np.shape(grad_data) != self.data.shape:
                raise ValueError(
                    f"backward: grad has shape {np.shape(grad_data)} but the tensor has shape "
                    f"{self.data.shape}; they must match"
                )
            seed = np.array(grad_data, dtype=self.data.dtype)  # a copy: leaves may keep it
        if create_graph:
            seed = grad if isinstance(grad, Tensor) else Tensor(seed)
        if retain_graph is None:
            retain_graph = create_graph
        order, _ = backpropagate(self, seed, create_graph=create_graph, follow=Tensor._follow)
        if not retain_graph:
            for node in order:
                if node._prev:
                    node._ctx = RELEASED

    def _seed(self, grad: Any) -> np.ndarray:
        """`grad` as an ndarray of this tensor's dtype (gradcheck's seed)."""
        return np.asarray(grad, dtype=self.data.dtype)

    def _rules(self) -> tuple | Callable:
        rules = VJP_RULES.get(self._op)
        if rules is None or self._ctx is RELEASED:
            self._no_rules()
        return rules

    def _no_rules(self) -> None:
        if self._ctx is RELEASED:
            raise RuntimeError(
                f"backward through op {self._op!r} a second time: its saved values were released "
                "by the first backward; pass retain_graph=True to the first backward() to "
                "backpropagate through the graph again"
            )
        raise NotImplementedError(f"no backward rule for tensor op {self._op!r}")

    def _vjp(self, grad: np.ndarray) -> list:
        """One ndarray (or None) per input: the fast path of backward."""
        rules = VJP_RULES.get(self._op)
        ctx = self._ctx
        if rules is None or ctx is RELEASED:
            self._no_rules()
        prev = self._prev
        inputs = [p.data for p in prev]
        if type(rules) is tuple:
            grads = []
            out = self.data
            for parent, rule in zip(prev, rules):
                if parent.requires_grad:
                    g = rule(grad, inputs, out, ctx)
                    shape = parent.data.shape
                    if g.shape != shape:
                        g = _unbroadcast(g, shape)
                    elif g is grad and not parent._prev:
                        g = g.copy()  # a pass-through gradient must not alias another leaf's
                    grads.append(g)
                else:
                    grads.append(None)
            return grads
        grads = rules(grad, inputs, self.data, ctx)
        return [
            None if g is None or not p.requires_grad else _fit(g, p.data.shape)
            for p, g in zip(prev, grads)
        ]

    def _vjp_graph(self, grad: Tensor) -> list:
        """The same rules run on Tensors, so the gradients are differentiable (create_graph)."""
        rules = self._rules()
        prev = self._prev
        ctx = self._ctx
        if type(rules) is tuple:
            grads = [
                _fit(rule(grad, prev, self, ctx), p.data.shape) if p.requires_grad else None
                for p, rule in zip(prev, rules)
            ]
        else:
            grads = [
                None if g is None or not p.requires_grad else _fit(g, p.data.shape)
                for p, g in zip(prev, rules(grad, prev, self, ctx))
            ]
        return [g if g is None or isinstance(g, Tensor) else Tensor(g) for g in grads]

    def _store_grad(self, grad: Any) -> None:
        if self._prev:  # intermediate: kept only on request, as in PyTorch
            if self._keep_grad:
                self.grad = grad
            return
        if not self.requires_grad:
            return
        if isinstance(grad, Tensor):
            self.grad = grad if self.grad is None else self.grad + grad
            return
        dtype = self.data.dtype
        if self.grad is None:
            if type(grad) is not _ndarray or grad.base is not None or grad.dtype != dtype:
                grad = np.array(grad, dtype=dtype)  # own, writeable, in the leaf's dtype
            self.grad = grad
        else:
            total = self.grad + grad
            self.grad = total if total.dtype == dtype else total.astype(dtype)

    def _local_partials(self) -> tuple:
        """Each edge's local derivative, for drawing: for elementwise ops the array
        d out / d input (the rule applied to ones), otherwise a shape note."""
        if not self._prev:
            return ()
        rules = VJP_RULES.get(self._op)
        out_shape = self.data.shape
        notes = []
        for i, parent in enumerate(self._prev):
            note: Any = f"d{out_shape}/d{parent.data.shape}"
            if (
                type(rules) is tuple
                and self._op in ELEMENTWISE_OPS
                and self._ctx is not RELEASED
                and self.data.size <= 16
            ):
                ones = np.ones(out_shape, dtype=self.data.dtype)
                inputs = tuple([p.data for p in self._prev])
                note = np.asarray(rules[i](ones, inputs, self.data, self._ctx))
            notes.append(note)
        return tuple(notes)

    # --- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(", threshold=200)
        parts = [body]
        if self.data.ndim > 1 or self.data.size > 6:
            parts.append(f"shape={self.data.shape}")
        if self.data.dtype != np.float64:
            parts.append(f"dtype={self.data.dtype}")
        if self._op:
            parts.append(f"op={self._op!r}")
        elif self.requires_grad:
            parts.append("requires_grad=True")
        if self.label:
            parts.append(f"label={self.label!r}")
        return f"Tensor({', '.join(parts)})"


# Ops whose rule applied to ones gives the local derivative elementwise (for drawing).
ELEMENTWISE_OPS = frozenset(
    ["+", "-", "*", "/", "neg", "pow", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu",
     "leaky_relu", "softplus", "clip", "maximum", "minimum", "where"]
)  # fmt: skip


def _fit(grad: Any, shape: tuple) -> Any:
    return grad if grad.shape == shape else _unbroadcast(grad, shape)


# --------------------------------------------------------------------------------------------
# Making nodes: every op's result goes through `_make` (three lines per op, micrograd style).
# --------------------------------------------------------------------------------------------


def _make(data: Any, inputs: tuple, op: str, ctx: Any = None) -> Tensor:
    """The result node of an op; it records `inputs` only when one of them needs a gradient."""
    t = _object_new(Tensor)
    t.data = data if type(data) is _ndarray else _asarray(data)
    t.grad = None
    t.label = None
    t._keep_grad = False
    if grad_mode.enabled:
        for x in inputs:
            if x.requires_grad:
                t.requires_grad = True
                t._prev = inputs
                t._op = op
                t._ctx = ctx
                return t
    t.requires_grad = False
    t._prev = ()
    t._op = ""
    t._ctx = None
    return t


def _constant(data: Any) -> Tensor:
    """A tensor that needs no gradient, without `Tensor.__init__`'s checks."""
    t = _object_new(Tensor)
    t.data = data if type(data) is _ndarray else _asarray(data)
    t.grad = None
    t.label = None
    t._keep_grad = False
    t.requires_grad = False
    t._prev = ()
    t._op = ""
    t._ctx = None
    return t


def as_tensor(x: Any, like: Tensor | None = None, op: str = "op") -> Tensor:
    """`x` as a Tensor: tensors pass through; numbers take `like`'s dtype when it is a float
    dtype (as numpy does for Python numbers: float32 * 2.0 stays float32); arrays keep theirs."""
    if isinstance(x, Tensor):
        return x
    kind = type(x)
    if (kind is float or kind is int) and like is not None and like.data.dtype.kind == "f":
        return _constant(_asarray(x, dtype=like.data.dtype))  # the common `t * 2.0`, `t / n`
    if kind is _ndarray:
        _check_dtype(x, x)
        return _constant(x)
    if isinstance(x, (bool, Number)) and not isinstance(x, complex):
        if like is not None:
            return _constant(_asarray(x, dtype=np.result_type(like.data, x)))
        return _constant(_asarray(x, dtype=np.float64 if isinstance(x, float) else None))
    if isinstance(x, np.generic):
        return _constant(_asarray(x))
    if isinstance(x, (list, tuple)):
        return Tensor(x)
    raise TypeError(
        f"{op}: expected a Tensor, array or number, got {_describe(x)}"
        + ("" if like is None else f" (with a Tensor of shape {like.shape})")
    )


# --------------------------------------------------------------------------------------------
# Creation helpers, with one seedable numpy Generator.
# --------------------------------------------------------------------------------------------

_default_rng = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator used by `randn` and `uniform` when none is passed; returns it."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)
    return _default_rng


def _rng_of(rng: np.random.Generator | int | None) -> np.random.Generator:
    if rng is None:
        return _default_rng
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _shape_of(shape: Sequence) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(n) for n in shape)


def zeros(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return Tensor(np.zeros(_shape_of(shape), dtype=dtype), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor of ones: ``ones(2, 3)`` or ``ones((2, 3))``."""
    return Tensor(np.ones(_shape_of(shape), dtype=dtype), requires_grad=requires_grad)


def full(shape: Any, value: float, dtype: Any = np.float64, requires_grad: bool = False) -> Tensor:
    """A tensor filled with `value`: ``full((2, 3), 7.0)``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return Tensor(np.full(shape, value, dtype=dtype), requires_grad=requires_grad)


def arange(
    start: float, stop: float | None = None, step: float = 1, dtype: Any = np.float64,
    requires_grad: bool = False,
) -> Tensor:  # fmt: skip
    """Evenly spaced values, as ``np.arange`` (float64 by default): ``arange(3)`` is [0, 1, 2]."""
    data = (
        np.arange(start, stop, step, dtype=dtype)
        if stop is not None
        else np.arange(start, step=step, dtype=dtype)
    )
    return Tensor(data, requires_grad=requires_grad)


def randn(
    *shape: Any, dtype: Any = np.float64, requires_grad: bool = False,
    rng: np.random.Generator | int | None = None,
) -> Tensor:  # fmt: skip
    """Standard normal samples: ``randn(2, 3, rng=0)``; `rng` is a Generator or a seed
    (default: the module's generator, see `manual_seed`)."""
    data = _rng_of(rng).standard_normal(_shape_of(shape), dtype=dtype)
    return Tensor(data, requires_grad=requires_grad)


def uniform(
    shape: Any, low: float = 0.0, high: float = 1.0, dtype: Any = np.float64,
    requires_grad: bool = False, rng: np.random.Generator | int | None = None,
) -> Tensor:  # fmt: skip
    """Uniform samples in [low, high): ``uniform((2, 3), -1, 1, rng=0)``."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    data = _rng_of(rng).uniform(low, high, shape).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)


# The ops themselves live next to their backward rules; importing them attaches the methods.
from autodiff.tensor_ops import install as _install_ops  # noqa: E402

_install_ops(Tensor)
