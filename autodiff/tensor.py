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

import threading
from numbers import Number
from operator import attrgetter
from typing import Any, Callable, Sequence

import numpy as np

from autodiff.graph import (
    _GRAD_ENABLED,
    backpropagate,
    enable_grad,
    grad_enabled,
)

_ndarray = np.ndarray
_asarray = np.asarray
_object_new = object.__new__
_ones = np.ones
# np.dot without its __array_function__ dispatch (a Python call; NEP 18 names the
# implementation `_implementation`): `_matmul` calls it on ndarrays only
_dot = getattr(np.dot, "_implementation", np.dot)


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


# Cached vectors of ones, shared by every thread: they are read-only, and a dict lookup or
# insertion is atomic, so readers need no lock; the lock only keeps the byte count exact.
_ONES: dict[tuple, np.ndarray] = {}
_ONES_MAX_BYTES = 4 << 20  # a few dozen batch sizes; a vector larger than this is not cached
_ones_bytes = 0
_ones_lock = threading.Lock()


def _ones_vector(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of `n` ones, cached (np.ones is a Python function: ~1 us a call).

    The cache holds at most ``_ONES_MAX_BYTES`` bytes of vectors in all.
    """
    key = (n, dtype)
    ones = _ONES.get(key)
    if ones is None:
        ones = _ones(n, dtype)
        ones.flags.writeable = False
        if ones.nbytes <= _ONES_MAX_BYTES:
            _cache_ones(key, ones)
    return ones


def _cache_ones(key: tuple, ones: np.ndarray) -> None:
    global _ones_bytes
    with _ones_lock:
        if key in _ONES:  # another thread cached it meanwhile
            return
        if _ones_bytes + ones.nbytes > _ONES_MAX_BYTES:  # full: start again
            _ONES.clear()
            _ones_bytes = 0
        _ONES[key] = ones
        _ones_bytes += ones.nbytes


# The change clock: +1 each time any tensor's `.data` is set. A tensor's ``_version`` is the
# clock at its last change (0: never changed) and a node's ``_recorded`` the clock when its op
# ran, so an input (or the output) changed after the node was recorded has ``_version >
# _recorded``. Backward compares ``_clock`` with ``_recorded`` first: while nothing changed
# since the forward pass, as in every training step, each node costs one comparison.
_clock = 0
_clock_lock = threading.Lock()
_clock_acquire, _clock_release = _clock_lock.acquire, _clock_lock.release


def changed_in_place(tensors: Sequence[Tensor]) -> None:
    """Tell the version check that the arrays of `tensors` were changed in place, as
    ``t.data -= update`` tells it for one tensor: one tick of the change clock for them all.

    For optimizers, which update every parameter's array in place in one step (one lock for
    all of them instead of one per ``.data =``). A graph recorded before the change then
    refuses to backpropagate, as after any ``.data =``.

    >>> import numpy as np
    >>> w = Tensor([1.0, 2.0], requires_grad=True)
    >>> loss = (w * w).sum()
    >>> w.data[...] -= 0.1         # in place: the version check does not see it...
    >>> changed_in_place([w])      # ...until it is told
    >>> loss.backward()
    Traceback (most recent call last):
    ...
    RuntimeError: backward through op '*': the .data of the tensor of shape (2,) ...
    """
    global _clock
    with _clock_lock:
        _clock += 1
        for t in tensors:
            t._version = _clock


def _as_array(data: Any, dtype: Any) -> np.ndarray:
    """`Tensor`'s `data` as an ndarray: a Tensor's or ndarray's shared (cast to `dtype` if
    given), numbers and lists float64 unless `dtype` says otherwise."""
    if isinstance(data, Tensor):
        data = data._data
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
    return array if type(array) is _ndarray else _asarray(array)


def _real_array(value: Any) -> np.ndarray:
    """`value` (a number, list or array-like) as an ndarray of real numbers, for ``.data =``."""
    array = _asarray(value)
    _check_dtype(array, value)
    return array


def _describe_tensor(t: Tensor) -> str:
    """How an error names a tensor: its label, or its shape and dtype."""
    if t.label:
        return f"tensor {t.label!r}"
    return f"the tensor of shape {t._data.shape} and dtype {t._data.dtype}"


def _matmul(a: Any, b: Any) -> Any:
    """``a @ b``, through np.dot when both are contiguous 2-D ndarrays of float32 or float64.

    For those, np.dot and matmul make the same BLAS call on the same numbers (the same bits),
    and np.dot skips the ufunc machinery of matmul: a third of a small layer's product, and
    three quarters of an outer product such as (batch, 1) @ (1, n), which matmul does without
    BLAS. For anything else (Tensors, other ranks or dtypes, strided views) it is ``a @ b``;
    also when an operand has one element, which np.dot multiplies by directly while matmul
    calls BLAS (which skips a zero: inf * 0 is 0 there, nan in np.dot), or the result has one
    element (np.dot's -0.0 * 1 is -0.0, matmul's 0 + -0.0 is 0.0).
    """
    if (
        type(a) is _ndarray
        and type(b) is _ndarray
        and a.ndim == 2
        and b.ndim == 2
        and a.dtype is b.dtype
        and a.dtype.char in "fd"
        and a.flags.forc
        and b.flags.forc
        and a.size != 1
        and b.size != 1
        and (a.shape[0] != 1 or b.shape[1] != 1)
    ):
        return _dot(a, b)
    return a @ b


def _sum_rows(grad: np.ndarray) -> np.ndarray:
    """The rows of a 2-D ndarray summed, as `_unbroadcast` sums a bias's gradient over a batch.

    A vector-matrix product, ones @ grad, sums the rows several times faster than
    ``.sum(axis=0)`` on small arrays; np.dot is the same BLAS call as @ when grad is contiguous
    and of a BLAS dtype, without the ufunc cost (not for one row, see `_matmul`).
    """
    ones = _ones_vector(grad.shape[0], grad.dtype)
    if grad.dtype.char in "fd" and grad.flags.forc and grad.shape[0] != 1:
        return _dot(ones, grad)
    return ones @ grad


def _unbroadcast(grad: Any, shape: tuple) -> Any:
    """Sum `grad` (ndarray or Tensor) over the axes broadcasting added or stretched to `shape`.

    The one place where broadcasting is undone: every op's input gradient passes through here
    when its shape differs from the input's.
    """
    extra = grad.ndim - len(shape)
    if extra == 1 and grad.ndim == 2 and type(grad) is _ndarray and shape[0] == grad.shape[1]:
        return _sum_rows(grad)  # a bias over a batch of rows, the commonest case
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

    Backward rules read their inputs' (and output's) ``.data`` when ``backward()`` runs, so
    setting ``.data`` of a tensor the graph recorded, between the forward pass and
    ``backward()``, would give the gradients of other numbers. Every assignment to ``.data``
    (``t.data = new``, and ``t.data -= x``, ``+=``, ``*=``..., which assign too) bumps the
    tensor's version (``_version``), and ``backward()`` raises a `RuntimeError` naming the
    tensor and the op instead. Change ``.data`` after ``backward()`` (the optimizer step) and
    compute the forward pass again. Writes into the array itself are not seen: by index
    (``t.data[0] = 5``), through numpy (``np.add(t.data, 1, out=t.data)``) or through another
    name for the same memory (the ndarray passed in, ``numpy()``, ``detach()``, a reshaped
    view). PyTorch does not track its ``.data`` at all.

    >>> w = Tensor([1.0, 2.0], requires_grad=True, label="w")
    >>> loss = (w * w).sum()
    >>> w.data -= 0.1  # too early: the pass above used the old numbers
    >>> loss.backward()
    Traceback (most recent call last):
    ...
    RuntimeError: backward through op '*': the .data of tensor 'w' (inputs 0 and 1) was changed ...
    """

    __slots__ = (
        "_data", "grad", "requires_grad", "label", "_prev", "_op", "_ctx", "_keep_grad",
        "_version", "_recorded",
    )  # fmt: skip
    # `backpropagate` applies `_vjp` for nodes whose `_partials` is None: all tensor nodes.
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
        # an ndarray is shared as it is (the common case: a batch of data, each step)
        array = data if type(data) is _ndarray and dtype is None else _as_array(data, dtype)
        kind = array.dtype.kind
        if kind not in "biuf":
            _check_dtype(array, data)  # raises, naming the data
        if requires_grad and kind != "f":
            raise TypeError(
                f"Tensor: only floating-point tensors can require gradients, got dtype "
                f"{array.dtype} (pass dtype=np.float64 or float data)"
            )
        self._data: np.ndarray = array
        self._version = 0
        self.grad: Any = None
        self.requires_grad = bool(requires_grad)
        self.label = label
        self._prev: tuple = ()
        self._op = ""
        self._ctx: Any = None
        self._keep_grad = False

    # --- data -------------------------------------------------------------------------------

    def _set_data(self, value: Any) -> None:
        global _clock
        if value is not self._data:  # (`t.data -= x` changes the array in place: no checks)
            if type(value) is not _ndarray:
                value = value._data if isinstance(value, Tensor) else _real_array(value)
            if self.requires_grad and value.dtype.kind != "f":
                raise TypeError(
                    f"data: a tensor that requires grad needs floating-point data, got dtype "
                    f"{value.dtype}"
                )
        _clock_acquire()  # one clock for every thread: each change gets a tick of its own
        try:
            _clock += 1
            self._version = _clock
        finally:
            _clock_release()
        self._data = value

    # Reading is a C call (attrgetter); setting bumps the version (see the class docstring).
    data = property(
        attrgetter("_data"),
        _set_data,
        doc="The numbers, an ndarray (shared, not copied). Setting it bumps ``_version``.",
    )

    # --- array attributes -----------------------------------------------------------------

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def size(self) -> int:
        return self._data.size

    def __len__(self) -> int:
        if not self._data.ndim:
            raise TypeError("len() of a 0-d Tensor")
        return len(self._data)

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(
                f"item: only one-element tensors convert to a number, got shape {self.shape}"
            )
        return self._data.item()

    def numpy(self) -> np.ndarray:
        """The data as an ndarray (shared, not copied)."""
        return self._data

    def tolist(self) -> Any:
        """The data as (nested) Python lists of Python numbers, as ``torch.Tensor.tolist``.

        >>> Tensor([[1.0, 2.0]]).tolist(), Tensor(3.5).tolist()
        ([[1.0, 2.0]], 3.5)
        """
        return self._data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is None or dtype == self._data.dtype:
            return self._data.copy() if copy else self._data
        return self._data.astype(dtype)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise ValueError(
                f"the truth value of a Tensor of shape {self.shape} is ambiguous; "
                "use .any() / .all() on .data"
            )
        return bool(self._data)

    # --- graph --------------------------------------------------------------------------

    # Whether backward walks into a node: only tensors that need a gradient. (`_follow(node)`
    # is ``node.requires_grad``; an attrgetter runs in C, and the walk calls it on every edge.)
    _follow = staticmethod(attrgetter("requires_grad"))

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op that records the graph."""
        return not self._prev

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value``, in place, with numpy's indexing and casting to t's dtype. As
        in PyTorch it bumps the tensor's version, so a graph that saved t refuses to
        backpropagate; a tensor that requires grad is changed only under ``no_grad()`` (the
        assignment is not recorded, so in grad mode it is an error).

        >>> from autodiff import Tensor, no_grad
        >>> t = Tensor([1.0, 2.0, 3.0])
        >>> t[t > 1.5] = 0.0
        >>> t
        Tensor([1., 0., 0.])
        >>> w = Tensor([1.0, 2.0], requires_grad=True)
        >>> with no_grad():
        ...     w[0] = 5.0
        >>> w.data
        array([5., 2.])
        """
        if self.requires_grad and grad_enabled():
            raise RuntimeError(
                f"setitem: {_describe_tensor(self)} requires grad, and assigning into it is not "
                "recorded for backward; assign under no_grad() (to set a parameter's values), or "
                "build a new tensor with where, masked_fill or scatter"
            )
        target = index._data if isinstance(index, Tensor) else index
        if isinstance(target, tuple):
            target = tuple(i._data if isinstance(i, Tensor) else i for i in target)
        numbers = value._data if isinstance(value, Tensor) else value
        try:
            self._data[target] = numbers
        except (ValueError, IndexError, TypeError) as error:
            raise type(error)(
                f"setitem: cannot assign {_describe(value)} to index {index!r} of "
                f"{_describe_tensor(self)}: {error}"
            ) from None
        changed_in_place([self])

    def detach(self) -> Tensor:
        """The same data (shared) as a new tensor outside the graph."""
        return Tensor(self._data)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` on a leaf, in place; returns self."""
        if self._prev:
            raise ValueError("requires_grad_: only leaf tensors can change requires_grad")
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad_: only floating-point tensors can require gradients, got dtype "
                f"{self._data.dtype}"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> Tensor:
        """Keep this intermediate tensor's gradient in ``.grad`` after backward (as PyTorch).

        The kept gradient is an array of its own, writable, shared with no other tensor.
        """
        self._keep_grad = True
        return self

    def clone(self) -> Tensor:
        """A copy of the data, in the graph: the gradient flows back to self unchanged.

        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> y = x.clone()
        >>> y.data is x.data, y._op
        (False, 'clone')
        """
        return _make(self._data.copy(), (self,), "clone")

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
            if self._data.size != 1:
                raise ValueError(
                    f"backward: grad can be implied only for one-element tensors; this one has "
                    f"shape {self.shape}, so pass backward(grad) with that shape"
                )
            shape = self._data.shape
            # a scalar loss is the common case: np.array is cheaper than np.ones' Python wrapper
            seed: Any = (
                np.array(1, self._data.dtype) if not shape else np.ones(shape, self._data.dtype)
            )
        else:
            grad_data = grad._data if isinstance(grad, Tensor) else grad
            if np.shape(grad_data) != self._data.shape:
                raise ValueError(
                    f"backward: grad has shape {np.shape(grad_data)} but the tensor has shape "
                    f"{self._data.shape}; they must match"
                )
            seed = np.array(grad_data, dtype=self._data.dtype)  # a copy: leaves may keep it
        if create_graph:
            if isinstance(grad, Tensor):  # a copy, still in grad's graph: .grad never aliases it
                with enable_grad():
                    seed = grad.clone()
            else:
                seed = Tensor(seed)
        if retain_graph is None:
            retain_graph = create_graph
        if not create_graph:
            _backpropagate_arrays(self, seed, release=not retain_graph)
            return
        order, _ = backpropagate(self, seed, create_graph=True, follow=Tensor._follow)
        if not retain_graph:
            for node in order:
                if node._prev:
                    node._ctx = RELEASED

    def _seed(self, grad: Any) -> np.ndarray:
        """`grad` as an ndarray of this tensor's dtype (gradcheck's seed)."""
        return np.asarray(grad, dtype=self._data.dtype)

    def _rules(self) -> tuple | Callable:
        rules = VJP_RULES.get(self._op)
        if rules is None or self._ctx is RELEASED:
            self._no_rules(self._ctx is RELEASED)
        return rules

    def _no_rules(self, released: bool) -> None:
        """Raise why this node cannot backpropagate: its values were released, or no rule."""
        if released:
            raise RuntimeError(
                f"backward through op {self._op!r} a second time: its saved values were released "
                "by the first backward; pass retain_graph=True to the first backward() to "
                "backpropagate through the graph again"
            )
        raise NotImplementedError(f"no backward rule for tensor op {self._op!r}")

    def _check_unchanged(self) -> None:
        """Raise if ``.data`` of an input or of the output was set after this node was recorded."""
        recorded = self._recorded
        slots: dict[Tensor, list] = {}  # each changed tensor, with where the op uses it
        for i, x in enumerate(self._prev):
            if x._version > recorded:
                slots.setdefault(x, []).append(str(i))
        if self._version > recorded:
            slots.setdefault(self, []).append("output")
        if slots:
            parts = []
            for t, where in slots.items():
                if where == ["output"]:
                    place = "its output"
                else:
                    place = ("inputs " if len(where) > 1 else "input ") + " and ".join(where)
                parts.append(f"{_describe_tensor(t)} ({place})")
            changed = " and ".join(parts)
            raise RuntimeError(
                f"backward through op {self._op!r}: the .data of {changed} was changed after "
                "the forward pass recorded it, so backward would give the gradients of other "
                "numbers; compute the forward pass again after changing .data (or change .data "
                "only after backward())"
            )

    def _vjp(self, grad: np.ndarray) -> list:
        """One ndarray (or None) per input, for `backpropagate` (gradients with respect to
        chosen inputs, gradcheck, the chain-rule trace); ``backward()`` runs the same rules in
        `_backpropagate_arrays`."""
        rules = VJP_RULES.get(self._op)
        ctx = self._ctx
        if rules is None or ctx is RELEASED:
            self._no_rules(self._ctx is RELEASED)
        if _clock > self._recorded:  # some tensor's .data changed since this op ran
            self._check_unchanged()
        prev = self._prev
        inputs = [p._data for p in prev]
        if type(rules) is tuple:
            grads = []
            out = self._data
            for parent, rule in zip(prev, rules):
                if parent.requires_grad:
                    g = rule(grad, inputs, out, ctx)
                    # (a rule may return `grad` itself: `_store_grad` copies what is shared)
                    shape = parent._data.shape
                    if g.shape != shape:
                        g = _unbroadcast(g, shape)
                    grads.append(g)
                else:
                    grads.append(None)
            return grads
        grads = rules(grad, inputs, self._data, ctx)
        return [
            None if g is None or not p.requires_grad else _fit(g, p._data.shape)
            for p, g in zip(prev, grads)
        ]

    def _vjp_graph(self, grad: Tensor) -> list:
        """The same rules run on Tensors, so the gradients are differentiable (create_graph)."""
        rules = self._rules()
        if _clock > self._recorded:
            self._check_unchanged()
        prev = self._prev
        ctx = self._ctx
        if type(rules) is tuple:
            grads = [
                _fit(rule(grad, prev, self, ctx), p._data.shape) if p.requires_grad else None
                for p, rule in zip(prev, rules)
            ]
        else:
            grads = [
                None if g is None or not p.requires_grad else _fit(g, p._data.shape)
                for p, g in zip(prev, rules(grad, prev, self, ctx))
            ]
        return [g if g is None or isinstance(g, Tensor) else Tensor(g) for g in grads]

    def _store_grad(self, grad: Any, kept: set) -> None:
        """Keep `grad` in ``.grad`` (leaves accumulate); `kept`: ids of the gradients other
        nodes keep as they are in this pass (see `autodiff.graph`). A kept array is always
        this tensor's own: writable and shared with no other ``.grad``."""
        if self._prev:  # intermediate: kept only on request, as in PyTorch
            if self._keep_grad:
                self.grad = _own(grad, kept)
            return
        if not self.requires_grad:
            return
        if self.grad is None:
            if type(grad) is _ndarray and grad.dtype == self._data.dtype:
                # `_own`, inlined: this runs for every parameter in every training step. (Rules
                # make new, writable arrays or views; `Function` copies a read-only one.)
                key = id(grad)
                if grad.base is None and key not in kept:
                    kept.add(key)
                    self.grad = grad
                else:
                    self.grad = grad.copy()
            elif type(grad) is Tensor:
                self.grad = _own(grad, kept)
            else:  # own, writeable, in the leaf's dtype
                self.grad = np.array(grad, dtype=self._data.dtype)
        elif isinstance(grad, Tensor) or isinstance(self.grad, Tensor):
            self.grad = self.grad + grad
        else:
            total = self.grad + grad  # a new array: nothing to copy
            dtype = self._data.dtype
            self.grad = total if total.dtype == dtype else total.astype(dtype)

    def _local_partials(self) -> tuple:
        """Each edge's local derivative, for drawing: for elementwise ops the array
        d out / d input (the rule applied to ones), otherwise a shape note."""
        if not self._prev:
            return ()
        rules = VJP_RULES.get(self._op)
        out_shape = self._data.shape
        notes = []
        for i, parent in enumerate(self._prev):
            note: Any = f"d{out_shape}/d{parent._data.shape}"
            if (
                type(rules) is tuple
                and self._op in ELEMENTWISE_OPS
                and self._ctx is not RELEASED
                and self._data.size <= 16
            ):
                ones = np.ones(out_shape, dtype=self._data.dtype)
                inputs = tuple([p._data for p in self._prev])
                note = np.asarray(rules[i](ones, inputs, self._data, self._ctx))
            notes.append(note)
        return tuple(notes)

    # --- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(", threshold=200)
        parts = [body]
        if self._data.ndim > 1 or self._data.size > 6:
            parts.append(f"shape={self._data.shape}")
        if self._data.dtype != np.float64:
            parts.append(f"dtype={self._data.dtype}")
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
     "leaky_relu", "softplus", "clip", "maximum", "minimum", "where", "clone",
     "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "erf", "erfc", "log2",
     "log10", "log1p", "exp2", "expm1", "rsqrt", "gelu", "silu", "mish", "elu", "selu", "celu",
     "softsign", "logsigmoid", "hardtanh", "relu6", "hardsigmoid", "hardswish", "sign", "floor",
     "ceil", "trunc", "round", "%", "fmod", "//", "logaddexp", "atan2", "lerp"]
)  # fmt: skip


def _clone_grad(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d clone(x)/dx = 1: g passes through"""
    return g


VJP_RULES["clone"] = (_clone_grad,)
EDGE_FORMULAS = {"clone": {"x": "1"}}  # for drawings, as in the tensor_ops modules


def _own(grad: Any, kept: set) -> Any:
    """`grad` if it can be one tensor's ``.grad`` (it then joins `kept`), else a copy of it.

    A copy is needed when another node keeps the same array, when it is a view (of another
    gradient, or a read-only broadcast) or read-only. A Tensor gradient (create_graph) is copied
    with `Tensor.clone`, which keeps it differentiable.
    """
    kind = type(grad)
    if kind is Tensor:
        array = grad._data
    elif kind is _ndarray:
        array = grad
    else:  # a numpy scalar (some reductions return one): an array of its own
        return np.array(grad)
    if id(grad) in kept or array.base is not None or not array.flags.writeable:
        return grad.clone() if kind is Tensor else array.copy()
    kept.add(id(grad))
    return grad


def _fit(grad: Any, shape: tuple) -> Any:
    return grad if grad.shape == shape else _unbroadcast(grad, shape)


def _backpropagate_arrays(root: Tensor, seed: np.ndarray, release: bool) -> None:
    """`autodiff.graph.backpropagate` for a plain ``backward()`` (ndarray gradients, kept in
    ``.grad``), written for speed: the same numbers to the bit. With `release`, each op's saved
    values are released as it is passed (see ``retain_graph``).

    `backpropagate` states the chain rule for every kind of node; a training step is a graph of
    a dozen tensor nodes, whose per-node method calls and lists would cost as much as the numpy
    work of small layers. So, with the same walk, the same rules called in the same order and
    the same sums:

    - the walk (`graph.topological_order`'s) orders only the op nodes: a leaf needs no place in
      the order, since its gradient is complete once every op is done (half the nodes of an
      MLP's graph are its parameters);
    - each op's rules run in this loop (``Tensor._vjp`` written out), their gradients going
      straight into `pending`;
    - what is left in `pending` at the end is the leaves' gradients, kept by ``_store_grad``.
    """
    # The depth-first walk of `topological_order`, following inputs that require grad (as
    # `Tensor._follow`) and emitting op nodes only.
    order: list[Tensor] = []
    if root._prev:
        visited = {root}
        nodes = [root]  # the path being walked, and an iterator over each one's inputs
        inputs = [iter(root._prev)]
        while inputs:
            for parent in inputs[-1]:
                if parent._prev and parent.requires_grad and parent not in visited:
                    visited.add(parent)
                    nodes.append(parent)
                    inputs.append(iter(parent._prev))
                    break
            else:  # every input of the last node is placed: the node is done
                inputs.pop()
                order.append(nodes.pop())
    pending: dict[Tensor, Any] = {root: seed}
    take = pending.pop
    kept: set[int] = set()  # see `backpropagate`: no two nodes' .grad are ever one array
    token = _GRAD_ENABLED.set(False)  # a rule (a Function's vjp) may use Tensor ops
    try:
        for node in reversed(order):
            ctx = node._ctx
            if release:
                node._ctx = RELEASED
            grad = take(node, None)
            if grad is None:  # every path to this node carried no gradient
                continue
            if node._keep_grad:
                node._store_grad(grad, kept)
            try:
                rules = VJP_RULES[node._op]
            except KeyError:
                rules = None
            if rules is None or ctx is RELEASED:
                node._no_rules(ctx is RELEASED)
            if _clock > node._recorded:  # some tensor's .data changed since this op ran
                node._check_unchanged()
            inputs = node._prev
            arrays = [p._data for p in inputs]
            if type(rules) is tuple:
                out = node._data
                for parent, rule in zip(inputs, rules):
                    if not parent.requires_grad:
                        continue
                    g = rule(grad, arrays, out, ctx)
                    shape = parent._data.shape
                    if g.shape != shape:
                        g = _unbroadcast(g, shape)
                    # never `+=`: a rule may hand the same array to several inputs
                    pending[parent] = pending[parent] + g if parent in pending else g
            else:
                for parent, g in zip(inputs, rules(grad, arrays, node._data, ctx)):
                    if g is None or not parent.requires_grad:
                        continue
                    g = _fit(g, parent._data.shape)
                    pending[parent] = pending[parent] + g if parent in pending else g
        for leaf, grad in pending.items():
            key = id(grad)
            if (
                leaf.grad is None
                and key not in kept
                and type(grad) is _ndarray
                and grad.base is None
                and grad.dtype is leaf._data.dtype
            ):
                # `_store_grad`'s commonest case (a parameter's first gradient, a fresh array
                # of its dtype that no other node keeps), written out: kept as it is
                kept.add(key)
                leaf.grad = grad
            else:
                leaf._store_grad(grad, kept)
    finally:
        _GRAD_ENABLED.reset(token)


# --------------------------------------------------------------------------------------------
# Making nodes: every op's result goes through `_make` (three lines per op, micrograd style).
# --------------------------------------------------------------------------------------------


def _make(data: Any, inputs: tuple, op: str, ctx: Any = None) -> Tensor:
    """The result node of an op; it records `inputs` only when one of them needs a gradient."""
    t = _object_new(Tensor)
    t._data = data if type(data) is _ndarray else _asarray(data)
    t._version = 0
    t.grad = None
    t.label = None
    t._keep_grad = False
    if grad_enabled():
        for x in inputs:
            if x.requires_grad:
                t.requires_grad = True
                t._prev = inputs
                t._op = op
                t._ctx = ctx
                t._recorded = _clock
                return t
    t.requires_grad = False
    t._prev = ()
    t._op = ""
    t._ctx = None
    return t


def _constant(data: Any) -> Tensor:
    """A tensor that needs no gradient, without `Tensor.__init__`'s checks."""
    t = _object_new(Tensor)
    t._data = data if type(data) is _ndarray else _asarray(data)
    t._version = 0
    t.grad = None
    t.label = None
    t._keep_grad = False
    t.requires_grad = False
    t._prev = ()
    t._op = ""
    t._ctx = None
    return t


def as_tensor(x: Any, like: Tensor | None = None, op: str = "op") -> Tensor:
    """`x` as a Tensor: tensors pass through; numbers, numpy's scalars included, take `like`'s
    dtype when it is a float dtype (float32 * 2.0 and float32 * np.sqrt(2) stay float32, as in
    PyTorch); arrays keep theirs."""
    if isinstance(x, Tensor):
        return x
    kind = type(x)
    if (kind is float or kind is int) and like is not None and like._data.dtype.kind == "f":
        return _constant(_asarray(x, dtype=like._data.dtype))  # the common `t * 2.0`, `t / n`
    if kind is _ndarray:
        _check_dtype(x, x)
        return _constant(x)
    if like is not None and isinstance(x, np.generic) and x.dtype.kind in "biuf":
        # numpy's scalars (np.sqrt(2), np.float64(3)) count as numbers, as in PyTorch:
        # float32 * np.sqrt(2) stays float32, where numpy 2 would promote it to float64
        return as_tensor(x.item(), like, op)
    if isinstance(x, (bool, Number)) and not isinstance(x, complex):
        if like is not None:
            return _constant(_asarray(x, dtype=np.result_type(like._data, x)))
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
# The seedable numpy Generator of the random creation functions (``autodiff/creation.py``).
# --------------------------------------------------------------------------------------------

_default_rng = np.random.default_rng()  # shared by threads: a Generator locks itself per call


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator the random creation functions (`rand`, `randn`, `uniform`, the
    ``*_like`` ones) and ``nn.init`` draw from when no `rng` is passed; returns it.

    >>> a = manual_seed(0).random()
    >>> manual_seed(0).random() == a
    True
    """
    global _default_rng
    _default_rng = np.random.default_rng(seed)
    return _default_rng


def _rng_of(rng: np.random.Generator | int | None) -> np.random.Generator:
    if rng is None:
        return _default_rng
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


# The ops themselves live next to their backward rules; importing them attaches the methods.
from autodiff.tensor_ops import install as _install_ops  # noqa: E402

_install_ops(Tensor)
