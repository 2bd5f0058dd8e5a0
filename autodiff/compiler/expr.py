"""Symbolic operands: the backward rules run on these to print themselves as source.

An `Expr` is a node of an expression tree (a name, a constant, ``a * b``, ``np.exp(a)``,
``a.sum(axis=0)``...) that also carries its *trace-time value*, computed with the very numpy
operation the tree stands for. The rules of `autodiff.value.PARTIAL_RULES` (scalars) and
`autodiff.tensor.VJP_RULES` (tensors) are written with operators and numpy functions, so calling
a rule on Exprs instead of floats or ndarrays returns the rule's formula as a tree: the code
generator needs no second copy of any derivative. The values answer the questions rules ask
about shapes (``b.ndim == 1``, ``x.size``), so each rule takes the branch it took at trace time.

A rule that branches on a *value* (``if a > 0``) cannot be written out branch-free: asking an
Expr for its truth raises `SymbolicBranchError`, naming the op.

>>> import numpy as np
>>> x = Expr.name("x", np.array([1.0, -2.0]))
>>> y = np.where(x > 0, x * 2.0, 0.0)
>>> render(y)
'np.where(x > 0, x * 2.0, 0.0)'
>>> y.value
array([2., 0.])
"""

from __future__ import annotations

import contextlib
import math
import operator
import threading
from typing import Any, Callable, Iterator

import numpy as np

# Python's operator precedence, loosest first (only the levels generated code uses).
SELECT, COMPARE, OR, AND, SUM, PRODUCT, UNARY, POWER, PRIMARY, ATOM = range(10)

BINARY = {
    "+": (SUM, operator.add),
    "-": (SUM, operator.sub),
    "*": (PRODUCT, operator.mul),
    "/": (PRODUCT, operator.truediv),
    "@": (PRODUCT, operator.matmul),
    "**": (POWER, operator.pow),
    "<": (COMPARE, operator.lt),
    "<=": (COMPARE, operator.le),
    ">": (COMPARE, operator.gt),
    ">=": (COMPARE, operator.ge),
    "==": (COMPARE, operator.eq),
    "!=": (COMPARE, operator.ne),
    "&": (AND, operator.and_),
    "|": (OR, operator.or_),
}

# numpy ufuncs that read best as operators
UFUNC_OPERATORS = {
    np.add: "+",
    np.subtract: "-",
    np.multiply: "*",
    np.true_divide: "/",
    np.matmul: "@",
    np.power: "**",
    np.less: "<",
    np.less_equal: "<=",
    np.greater: ">",
    np.greater_equal: ">=",
    np.equal: "==",
    np.not_equal: "!=",
    np.logical_and: "&",
    np.bitwise_and: "&",
    np.logical_or: "|",
    np.bitwise_or: "|",
}


class SymbolicBranchError(NotImplementedError):
    """A rule asked for the truth of a symbolic value: it branches on data, so its formula
    depends on which branch the trace took and cannot be written out for every input."""


class Expr:
    """A value in generated code: an expression tree plus its trace-time value.

    ``kind`` is one of name, const, binary, neg, call, method, attr, index, select; ``parts``
    holds its pieces; ``value`` is the number or array the expression had at trace time (None
    when not tracked, as for scalar graphs, whose rules only do arithmetic).
    """

    __slots__ = ("kind", "parts", "value")
    __hash__ = object.__hash__  # == builds an expression, so Exprs hash by identity
    __array_priority__ = 1000.0

    def __init__(self, kind: str, parts: tuple, value: Any) -> None:
        self.kind = kind
        self.parts = parts
        self.value = value

    # --- making expressions ------------------------------------------------------------

    @staticmethod
    def name(text: str, value: Any = None) -> Expr:
        """A variable of the generated code."""
        return Expr("name", (text,), value)

    @staticmethod
    def const(value: Any, typed: bool = False) -> Expr:
        """A literal: a Python number or a numpy scalar. A float64 scalar prints as a plain
        float unless `typed` (where its type decides the result's dtype, as next to float32)."""
        return Expr("const", (value, typed), value)

    # --- arithmetic and comparisons: operators build trees ------------------------------

    def __add__(self, other: Any) -> Expr:
        return binary("+", self, other)

    def __radd__(self, other: Any) -> Expr:
        return binary("+", other, self)

    def __sub__(self, other: Any) -> Expr:
        return binary("-", self, other)

    def __rsub__(self, other: Any) -> Expr:
        return binary("-", other, self)

    def __mul__(self, other: Any) -> Expr:
        return binary("*", self, other)

    def __rmul__(self, other: Any) -> Expr:
        return binary("*", other, self)

    def __truediv__(self, other: Any) -> Expr:
        return binary("/", self, other)

    def __rtruediv__(self, other: Any) -> Expr:
        return binary("/", other, self)

    def __matmul__(self, other: Any) -> Expr:
        return binary("@", self, other)

    def __rmatmul__(self, other: Any) -> Expr:
        return binary("@", other, self)

    def __pow__(self, other: Any) -> Expr:
        return binary("**", self, other)

    def __rpow__(self, other: Any) -> Expr:
        return binary("**", other, self)

    def __neg__(self) -> Expr:
        if self.kind == "neg":
            return self.parts[0]  # -(-x) is x, bit for bit
        return Expr("neg", (self,), _apply(operator.neg, self.value))

    def __pos__(self) -> Expr:
        return self

    def __lt__(self, other: Any) -> Expr:
        return binary("<", self, other)

    def __le__(self, other: Any) -> Expr:
        return binary("<=", self, other)

    def __gt__(self, other: Any) -> Expr:
        return binary(">", self, other)

    def __ge__(self, other: Any) -> Expr:
        return binary(">=", self, other)

    def __eq__(self, other: Any) -> Expr:  # type: ignore[override]
        return binary("==", self, other)

    def __ne__(self, other: Any) -> Expr:  # type: ignore[override]
        return binary("!=", self, other)

    def __and__(self, other: Any) -> Expr:
        return binary("&", self, other)

    def __rand__(self, other: Any) -> Expr:
        return binary("&", other, self)

    def __or__(self, other: Any) -> Expr:
        return binary("|", self, other)

    def __ror__(self, other: Any) -> Expr:
        return binary("|", other, self)

    def select(self, if_true: Any, if_false: Any) -> Expr:
        """``if_true if self else if_false``, elementwise: what a rule's ``_select`` builds."""
        if self.kind == "const" and isinstance(self.parts[0], (bool, np.bool_)):
            return lift(if_true if self.parts[0] else if_false)  # asked of a constant operand
        a, b = lift(if_true), lift(if_false)
        value = None
        if self.value is not None and a.value is not None and b.value is not None:
            value = np.where(self.value, a.value, b.value)
        return Expr("select", (self, a, b), value)

    # --- a symbolic value has no truth value and no number --------------------------------

    def __bool__(self) -> bool:
        raise SymbolicBranchError(
            f"the rule branches on the value of {render(self)} (an `if` or `and`/`or` on data)"
        )

    def __float__(self) -> float:
        raise SymbolicBranchError(f"the rule turns {render(self)} into a number")

    __int__ = __index__ = __float__  # type: ignore[assignment]

    def __iter__(self) -> Any:
        raise TypeError(f"cannot iterate over the symbolic value {render(self)}")

    # --- array attributes, answered from the trace-time value ---------------------------

    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def size(self) -> int:
        return int(np.size(self.value))

    @property
    def dtype(self) -> np.dtype:
        return np.asarray(self.value).dtype

    @property
    def T(self) -> Expr:
        return Expr("attr", (self, "T"), _apply(lambda v: v.T, self.value))

    # --- array methods the rules use -------------------------------------------------------

    def reshape(self, *shape: Any) -> Expr:
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        shape = tuple(int(n) for n in shape)
        if shape == self.shape and self.kind != "const":
            # a reshape to the same shape is the same values (a view); skip it
            return self
        return method(self, "reshape", (shape,))

    def swapaxes(self, axis1: int, axis2: int) -> Expr:
        if self.ndim == 2 and {axis1 % 2, axis2 % 2} == {0, 1}:
            return self.T  # the same view, written as a reader expects
        return method(self, "swapaxes", (axis1, axis2))

    def transpose(self, *axes: Any) -> Expr:
        if not axes or axes == (None,):
            return self.T
        return method(self, "transpose", axes)

    def sum(self, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Expr:
        return method(self, "sum", (), _reduction_options(axis, keepdims, kwargs))

    def mean(self, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Expr:
        return method(self, "mean", (), _reduction_options(axis, keepdims, kwargs))

    def max(self, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Expr:
        return method(self, "max", (), _reduction_options(axis, keepdims, kwargs))

    def min(self, axis: Any = None, keepdims: bool = False, **kwargs: Any) -> Expr:
        return method(self, "min", (), _reduction_options(axis, keepdims, kwargs))

    def astype(self, dtype: Any, copy: bool = True) -> Expr:
        dtype = np.dtype(dtype)
        if not copy and self.value is not None and self.dtype == dtype:
            return self  # astype(..., copy=False) to the same dtype returns the array itself
        return method(self, "astype", (dtype,), {} if copy else {"copy": False})

    def log(self) -> Expr:
        """log(self): what a scalar rule's ``_log`` asks of its operand."""
        return call("log", (self,), {})

    def copy(self) -> Expr:
        return method(self, "copy", ())

    def scatter_add(self, shape: tuple, index: Any, may_repeat: bool) -> Expr:
        """Zeros of `shape` with self added at [index] (getitem's rule, written out)."""
        from autodiff.compiler import helpers

        name = "add_at" if may_repeat else "scatter"
        index = _Index(_lift_index(index))
        return call(name, (self, tuple(shape), index), {}, helpers.function(name))

    def __getitem__(self, index: Any) -> Expr:
        index = _lift_index(index)
        value = _apply(lambda v: v[_values(index)], self.value)
        return Expr("index", (self, index), value)

    def __setitem__(self, index: Any, value: Any) -> None:
        """``self[index] = value`` on an array a rule has just computed (``p[rows, labels] -=
        1``): self becomes a copy of what it was with `value` written at [index]."""
        from autodiff.compiler import helpers

        if self.kind in ("name", "const"):  # a variable or constant of the program: never
            raise TypeError(f"a backward rule writes into {render(self)} in place")
        before = Expr(self.kind, self.parts, self.value)
        value = _replaced(lift(value), self, before)  # self[index] in value: the old self
        written = call("setitem", (before, _Index(_lift_index(index)), value), {},
                       helpers.function("setitem"))  # fmt: skip
        self.kind, self.parts, self.value = written.kind, written.parts, written.value

    def __getattr__(self, name: str) -> Any:
        """Other ndarray methods (``x.any()``, ``x.cumsum(axis=0)``...) as method calls."""
        if name.startswith("_") or not callable(getattr(np.ndarray, name, None)):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return lambda *args, **kwargs: method(self, name, args, kwargs)

    # --- numpy dispatch: np.exp(expr), np.where(c, expr, 0)... build trees -----------------

    def __array_ufunc__(self, ufunc: Any, method_name: str, *inputs: Any, **kwargs: Any) -> Any:
        if "out" in kwargs:  # writing into an array: not an expression
            return NotImplemented
        if method_name in ("reduce", "accumulate"):  # np.maximum.reduce(x, axis=..., ...)
            name = f"np.{ufunc.__name__}.{method_name}"
            return call(name, inputs, kwargs, getattr(ufunc, method_name))
        if method_name != "__call__":
            return NotImplemented
        symbol = UFUNC_OPERATORS.get(ufunc)
        if symbol is not None and len(inputs) == 2 and not kwargs:
            return binary(symbol, inputs[0], inputs[1])
        if ufunc is np.negative and not kwargs:
            return -lift(inputs[0])
        return call(f"np.{ufunc.__name__}", inputs, kwargs, ufunc)

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        if func is np.transpose and len(args) == 1 and not kwargs:
            return lift(args[0]).transpose()
        module = func.__module__ or "numpy"
        prefix = "np" + module[len("numpy") :] if module.startswith("numpy") else module
        return call(f"{prefix}.{func.__name__}", args, kwargs, func)

    def __repr__(self) -> str:
        return f"Expr({render(self)!r})"


# --------------------------------------------------------------------------------------------
# Building trees, with the folds that are exact for every input
# --------------------------------------------------------------------------------------------


def lift(x: Any) -> Expr:
    """`x` as an Expr: Exprs pass through; numbers become constants."""
    if isinstance(x, Expr):
        return x
    if isinstance(x, (bool, int, float, np.generic)):
        return Expr.const(x)
    if isinstance(x, np.ndarray):
        arrays = getattr(_context, "arrays", None)
        if arrays is None:
            raise TypeError("a constant array outside a compilation (see `collecting`)")
        return arrays.lift(x)
    raise TypeError(f"a backward rule used {type(x).__name__} {x!r}, which has no source form")


def _is_number(x: Any, number: float) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == number


def binary(op: str, a: Any, b: Any) -> Expr:
    """``a op b`` as a tree; folds ``x * 1``, ``x / 1``, ``x ** 1``, ``x - 0`` and ``x * -1``
    (exact for every float, NaN and infinities included), and computes constant operations."""
    if not isinstance(a, Expr) and not isinstance(b, Expr):
        return lift(BINARY[op][1](a, b))
    a_const = a.parts[0] if isinstance(a, Expr) and a.kind == "const" else a
    b_const = b.parts[0] if isinstance(b, Expr) and b.kind == "const" else b
    if isinstance(a, Expr) and a.kind == "const" and isinstance(b, Expr) and b.kind == "const":
        return lift(BINARY[op][1](a_const, b_const))
    if op in _TRUTH_OPS:
        folded = _fold_truth(op, a, b, a_const, b_const)
        if folded is not None:
            return folded
    value = None
    a_expr, b_expr = _typed_constants([lift(a), lift(b)])
    if a_expr.value is not None and b_expr.value is not None:
        value = _apply2(BINARY[op][1], a_expr.value, b_expr.value)
    if op in ("*", "/", "**") and _is_number(b_const, 1) and _same_kind(a_expr, value):
        return a_expr
    if op == "*" and _is_number(a_const, 1) and _same_kind(b_expr, value):
        return b_expr
    if op == "-" and _is_number(b_const, 0) and _same_kind(a_expr, value):
        return a_expr
    if op == "*" and _is_number(b_const, -1) and _same_kind(a_expr, value):
        return -a_expr
    if op == "*" and _is_number(a_const, -1) and _same_kind(b_expr, value):
        return -b_expr
    return Expr("binary", (op, a_expr, b_expr), value)


_TRUTH_OPS = ("<", "<=", ">", ">=", "==", "!=", "&", "|")


def _fold_truth(op: str, a: Any, b: Any, a_const: Any, b_const: Any) -> Expr | None:
    """A comparison of constants as its truth value (``2.0 == 0`` is False, as a rule asks
    of a constant operand), and ``False & c``, ``True & c``, ``True | c``, ``False | c`` of a
    scalar condition c as what they are; None where nothing folds."""
    if _is_scalar_constant(a) and _is_scalar_constant(b):
        return lift(BINARY[op][1](a_const, b_const))
    if op not in ("&", "|"):
        return None
    for const, other in ((a_const, b), (b_const, a)):
        truth = isinstance(const, (bool, np.bool_))
        if truth and _is_condition(other) and other.value is None:  # a scalar graph's
            absorbs = bool(const) == (op == "|")  # False & c is False; True | c is True
            return lift(bool(const)) if absorbs else other
    return None


def _is_scalar_constant(x: Any) -> bool:
    if isinstance(x, Expr):
        return x.kind == "const"
    return isinstance(x, (bool, int, float, np.generic))


def _is_condition(e: Any) -> bool:
    return isinstance(e, Expr) and e.kind == "binary" and e.parts[0] in _TRUTH_OPS


def _typed_constants(operands: list) -> list:
    """Mark float64 scalar constants as typed where another operand is a narrower float array:
    numpy keeps an array's float32 against a plain Python float, not against a float64 scalar."""
    if all(not isinstance(x, Expr) or x.value is None for x in operands):
        return operands  # scalar graphs: no arrays, nothing to mark
    narrow = any(
        isinstance(x, Expr)
        and isinstance(x.value, (np.ndarray, np.generic))
        and x.value.dtype.kind == "f"
        and x.value.dtype != np.float64
        for x in operands
    )
    if not narrow:
        return operands
    return [
        Expr.const(x.parts[0], True)
        if isinstance(x, Expr) and x.kind == "const" and isinstance(x.parts[0], np.float64)
        else x
        for x in operands
    ]


def _same_kind(operand: Expr, result: Any) -> bool:
    """Whether dropping the op keeps the type, dtype and shape of its result (a float array
    times 1.0 is itself; a boolean mask times 1.0 is not)."""
    v = operand.value
    if v is None or result is None:
        return v is None and result is None and operand.kind != "const"
    if isinstance(result, np.ndarray) or isinstance(v, np.ndarray):
        return (
            isinstance(result, np.ndarray)
            and isinstance(v, np.ndarray)
            and result.dtype == v.dtype
            and result.shape == v.shape
        )
    return type(result) is type(v)


def call(function: str, args: tuple | list, kwargs: dict, numpy_function: Any = None) -> Expr:
    """``function(*args, **kwargs)``; its value from `numpy_function` on the args' values."""
    lifted = tuple(_typed_constants([_lift_argument(a) for a in args]))
    options = {k: _lift_argument(v) for k, v in kwargs.items()}
    value = None
    known = all(_known(a) for a in lifted) and all(_known(v) for v in options.values())
    if numpy_function is not None and known:
        value = _apply_call(numpy_function, _values(lifted), _values(options))
    return Expr("call", (function, lifted, tuple(options.items())), value)


def _replaced(e: Expr, old: Expr, new: Expr) -> Expr:
    """`e` with every occurrence of the node `old` (by identity) replaced by `new`."""
    if e is old:
        return new
    if e.kind in ("name", "const"):
        return e

    def swap(x: Any) -> Any:
        if isinstance(x, Expr):
            return _replaced(x, old, new)
        if isinstance(x, _Index):
            return _Index(swap(x.index))
        if isinstance(x, (tuple, list)):
            return type(x)(swap(item) for item in x)
        return x

    parts = swap(e.parts)
    if all(a is b for a, b in zip(_flat(parts), _flat(e.parts))):
        return e
    return Expr(e.kind, parts, e.value)


def _flat(parts: Any) -> list:
    if isinstance(parts, (tuple, list)):
        return [y for x in parts for y in _flat(x)]
    if isinstance(parts, _Index):
        return _flat(parts.index)
    return [parts]


def method(obj: Expr, name: str, args: tuple, kwargs: dict | None = None) -> Expr:
    """``obj.name(*args, **kwargs)``."""
    kwargs = kwargs or {}
    value = None
    if obj.value is not None:
        value = _apply_call(getattr(obj.value, name), _values(args), kwargs)
    return Expr("method", (obj, name, tuple(args), tuple(kwargs.items())), value)


def _lift_index(index: Any) -> Any:
    """An index with its arrays as Exprs (named constants, or values the program computes)."""
    if isinstance(index, tuple):
        return tuple(lift(p) if isinstance(p, np.ndarray) else p for p in index)
    return lift(index) if isinstance(index, np.ndarray) else index


class _Index:
    """An index passed as an argument (to scatter): prints as the tuple, slice or array it is."""

    def __init__(self, index: Any) -> None:
        self.index = index


def _lift_argument(a: Any) -> Any:
    """Call arguments: Exprs and arrays as Exprs, lists of them as lists; the rest (axes,
    shapes, dtypes, None) stay literal."""
    if isinstance(a, (list, tuple)) and any(isinstance(x, (Expr, np.ndarray)) for x in a):
        return [lift(x) for x in a]
    if isinstance(a, (Expr, np.ndarray)):
        return lift(a)
    return a


def _known(a: Any) -> bool:
    if isinstance(a, Expr):
        return a.value is not None
    if isinstance(a, list):
        return all(_known(x) for x in a)
    return True


def _values(x: Any) -> Any:
    """Replace every Expr inside `x` (tuples, lists, dicts) by its trace-time value."""
    if isinstance(x, Expr):
        return x.value
    if isinstance(x, _Index):
        return _values(x.index)
    if isinstance(x, tuple):
        return tuple(_values(item) for item in x)
    if isinstance(x, list):
        return [_values(item) for item in x]
    if isinstance(x, dict):
        return {k: _values(v) for k, v in x.items()}
    return x


def _reduction_options(axis: Any, keepdims: bool, extra: dict) -> dict:
    options: dict = {}
    if axis is not None:
        axis = tuple(int(a) for a in axis) if isinstance(axis, (tuple, list)) else int(axis)
        options["axis"] = axis[0] if isinstance(axis, tuple) and len(axis) == 1 else axis
    if keepdims:
        options["keepdims"] = True
    options.update(extra)
    return options


def _apply(function: Callable, value: Any) -> Any:
    if value is None:
        return None
    with np.errstate(all="ignore"):
        return function(value)


def _apply2(function: Callable, a: Any, b: Any) -> Any:
    # numpy semantics for the trace-time value: inf and nan instead of Python's exceptions
    if not isinstance(a, (np.ndarray, np.generic)) and not isinstance(b, (np.ndarray, np.generic)):
        a = np.float64(a) if isinstance(a, float) else a
    with np.errstate(all="ignore"):
        return function(a, b)


def _apply_call(function: Callable, args: Any, kwargs: dict) -> Any:
    with np.errstate(all="ignore"):
        return function(*args, **kwargs)


# --------------------------------------------------------------------------------------------
# Constant arrays: each gets a name in the generated module
# --------------------------------------------------------------------------------------------


class ConstantArrays:
    """The arrays a generated program needs as constants, each named once (by identity).

    The code generator sets `resolve` to map arrays that are really graph values (a recorded
    comparison such as ``x > 0``, or an argument's data) back to their expressions.
    """

    def __init__(self, new_name: Callable[[], str] | None = None) -> None:
        self.named: dict[int, tuple[str, np.ndarray]] = {}
        self.resolve: Callable[[np.ndarray], Expr | None] | None = None
        self.new_name = new_name or (lambda: f"c{len(self.named)}")

    def lift(self, array: np.ndarray) -> Expr:
        if self.resolve is not None:
            found = self.resolve(array)
            if found is not None:
                return found
        if array.ndim == 0:
            return Expr.const(array[()])  # a numpy scalar prints with its dtype
        entry = self.named.get(id(array))
        if entry is None:
            entry = (self.new_name(), array)
            self.named[id(array)] = entry
        return Expr.name(entry[0], array)


_context = threading.local()  # .arrays: the ConstantArrays of the compilation on this thread


@contextlib.contextmanager
def collecting(arrays: ConstantArrays) -> Iterator[ConstantArrays]:
    """Name the constant arrays met while building expressions in `arrays` (per thread)."""
    before = getattr(_context, "arrays", None)
    _context.arrays = arrays
    try:
        yield arrays
    finally:
        _context.arrays = before


# --------------------------------------------------------------------------------------------
# Rendering: a tree as Python source, with only the parentheses Python needs
# --------------------------------------------------------------------------------------------

# How `call` names print in each flavour of generated code: "python" (plain floats, bit for bit
# as the scalar engine) and "numpy" (arrays). Names not listed print as they are.
FLAVOURS: dict[str, dict[str, str]] = {
    "python": {"exp": "exp", "log": "log", "tanh": "math.tanh", "power": "power"},
    "numpy": {"exp": "np.exp", "log": "log", "tanh": "np.tanh", "power": "power"},
}


def literal(x: Any, flavour: str = "numpy", typed: bool = False) -> str:
    """Python source for a constant, exact when read back (floats print with repr)."""
    if isinstance(x, np.generic) and not isinstance(x, np.bool_):
        if x.dtype == np.float64 and not typed:
            return literal(float(x), flavour)
        return f"np.{x.dtype.name}({literal(x.item(), flavour)})"
    if isinstance(x, (bool, np.bool_)):
        return repr(bool(x))
    if isinstance(x, float):
        if math.isnan(x):
            return "math.nan" if flavour == "python" else "np.nan"
        if math.isinf(x):
            text = "math.inf" if flavour == "python" else "np.inf"
            return text if x > 0 else "-" + text
        return repr(x)
    if isinstance(x, np.dtype):
        return f"np.{x.name}"
    if isinstance(x, slice):
        return _slice(x, flavour)
    if x is Ellipsis:
        return "..."
    if isinstance(x, tuple):
        items = ", ".join(literal(i, flavour) for i in x)
        return f"({items},)" if len(x) == 1 else f"({items})"
    if isinstance(x, list):
        return "[" + ", ".join(literal(i, flavour) for i in x) + "]"
    if isinstance(x, Expr):
        return render(x, flavour)
    return repr(x)


def _slice(s: slice, flavour: str) -> str:
    def part(v: Any) -> str:
        return "" if v is None else literal(v, flavour)

    text = f"{part(s.start)}:{part(s.stop)}"
    return text + (f":{part(s.step)}" if s.step is not None else "")


def precedence(e: Expr, flavour: str = "numpy") -> int:
    kind = e.kind
    if kind == "name":
        return ATOM
    if kind == "const":
        text = literal(e.parts[0], flavour, e.parts[1])
        return UNARY if text.startswith("-") else ATOM
    if kind == "binary":
        if e.parts[0] == "**" and flavour == "python":
            return PRIMARY
        return BINARY[e.parts[0]][0]
    if kind == "neg":
        return UNARY
    if kind == "select":
        return SELECT if flavour == "python" else PRIMARY
    return PRIMARY


def render(e: Expr, flavour: str = "numpy", names: dict | None = None) -> str:
    """`e` as source. `names` maps sub-expressions (by identity) to temporaries already
    assigned, so shared sub-trees print once."""
    if names is not None and id(e) in names:
        return names[id(e)]
    kind = e.kind
    if kind == "name":
        return e.parts[0]
    if kind == "const":
        return literal(e.parts[0], flavour, e.parts[1])
    if kind == "binary":
        op, a, b = e.parts
        if op == "**" and flavour == "python":  # plain floats: inf, not OverflowError
            return f"ieee_power({render(a, flavour, names)}, {render(b, flavour, names)})"
        level = BINARY[op][0]
        if level in (SUM, PRODUCT):  # a long chain a + b + c + ...: its left spine, no recursion
            tail = []
            while True:
                tail.append(f" {op} {_operand(b, flavour, names, level, right=True, op=op)}")
                nested = a.kind == "binary" and (names is None or id(a) not in names)
                if not nested or BINARY[a.parts[0]][0] != level:
                    break
                op, a, b = a.parts
            head = _operand(a, flavour, names, level, right=False, op=op)
            return head + "".join(reversed(tail))
        left = _operand(a, flavour, names, level, right=False, op=op)
        right = _operand(b, flavour, names, level, right=True, op=op)
        return f"{left} {op} {right}"
    if kind == "neg":
        inner = e.parts[0]
        text = render(inner, flavour, names)
        if precedence(inner, flavour) < UNARY or inner.kind == "neg" or text.startswith("-"):
            text = f"({text})"
        return f"-{text}"
    if kind == "select":
        cond, a, b = (render(p, flavour, names) for p in e.parts)
        if flavour == "numpy" and _is_relu(e):  # max(x, 0) as the tensor engine's relu computes it
            return f"np.maximum({render(e.parts[1], flavour, names)}, 0.0)"
        if flavour == "python":
            parts = e.parts
            a = _wrap(a, precedence(parts[1], flavour) <= SELECT)
            b_text = b
            cond = _wrap(cond, precedence(parts[0], flavour) <= SELECT)
            return f"{a} if {cond} else {b_text}"
        return f"np.where({cond}, {a}, {b})"
    if kind == "call":
        function, args, kwargs = e.parts
        function = FLAVOURS[flavour].get(function, function)
        return f"{function}({_arguments(args, kwargs, flavour, names)})"
    if kind == "method":
        obj, name, args, kwargs = e.parts
        return f"{_primary(obj, flavour, names)}.{name}({_arguments(args, kwargs, flavour, names)})"
    if kind == "attr":
        obj, name = e.parts
        return f"{_primary(obj, flavour, names)}.{name}"
    if kind == "index":
        obj, index = e.parts
        parts = index if isinstance(index, tuple) else (index,)
        inner = ", ".join(_index_part(p, flavour, names) for p in parts)
        if isinstance(index, tuple) and len(index) == 1:
            inner += ","
        return f"{_primary(obj, flavour, names)}[{inner}]"
    raise AssertionError(f"unknown expression kind {kind!r}")


def _is_relu(e: Expr) -> bool:
    """``x if x > 0 else 0.0``."""
    cond, a, b = e.parts
    return (
        cond.kind == "binary"
        and cond.parts[0] == ">"
        and cond.parts[1] is a
        and cond.parts[2].kind == "const"
        and cond.parts[2].parts[0] == 0
        and b.kind == "const"
        and b.parts[0] == 0
    )


def _wrap(text: str, needed: bool) -> str:
    return f"({text})" if needed else text


def _operand(e: Expr, flavour: str, names: dict | None, level: int, right: bool, op: str) -> str:
    text = render(e, flavour, names)
    inner = PRIMARY if names is not None and id(e) in names else precedence(e, flavour)
    if op == "**":
        # right-associative, and binds tighter than a unary minus on its left: (-x) ** 2
        needed = inner <= POWER if not right else inner < UNARY
    elif level == COMPARE:
        needed = inner <= COMPARE  # comparisons chain in Python: a < (b < c)
    else:
        needed = inner < level or (right and inner == level)
    return _wrap(text, needed)


def _primary(e: Expr, flavour: str, names: dict | None) -> str:
    text = render(e, flavour, names)
    if names is not None and id(e) in names:
        return text
    if precedence(e, flavour) < PRIMARY or (e.kind == "const" and not text.startswith("np.")):
        return f"({text})"
    return text


def _index_argument(p: Any, flavour: str, names: dict | None) -> str:
    """An index part outside brackets: slices as slice(...), ... as Ellipsis."""
    if isinstance(p, slice):
        return f"slice({literal(p.start)}, {literal(p.stop)}, {literal(p.step)})"
    if p is Ellipsis:
        return "Ellipsis"
    return _index_part(p, flavour, names)


def _index_part(p: Any, flavour: str, names: dict | None) -> str:
    if isinstance(p, Expr):
        return render(p, flavour, names)
    if isinstance(p, np.ndarray):
        return render(lift(p), flavour, names)
    if p is None:
        return "None"
    return literal(p, flavour)


def _arguments(args: tuple, kwargs: tuple, flavour: str, names: dict | None) -> str:
    parts = [_argument(a, flavour, names) for a in args]
    parts += [f"{k}={_argument(v, flavour, names)}" for k, v in kwargs]
    return ", ".join(parts)


def _argument(a: Any, flavour: str, names: dict | None) -> str:
    if isinstance(a, Expr):
        return render(a, flavour, names)
    if isinstance(a, _Index):
        parts = a.index if isinstance(a.index, tuple) else (a.index,)
        inner = ", ".join(_index_argument(p, flavour, names) for p in parts)
        return (
            f"({inner},)"
            if len(parts) == 1 and isinstance(a.index, tuple)
            else (f"({inner})" if isinstance(a.index, tuple) else inner)
        )
    if isinstance(a, list):
        return "[" + ", ".join(_argument(x, flavour, names) for x in a) + "]"
    return literal(a, flavour)


def children(e: Expr) -> list[Expr]:
    """The sub-expressions of `e` (for counting shared sub-trees)."""
    kind = e.kind
    if kind == "binary":
        return [e.parts[1], e.parts[2]]
    if kind in ("name", "const"):
        return []
    if kind in ("neg", "select"):
        return list(e.parts)
    found: list[Expr] = []

    def visit(x: Any) -> None:
        if isinstance(x, Expr):
            found.append(x)
        elif isinstance(x, (list, tuple)):
            for item in x:
                visit(item)

    if kind == "call":
        visit(e.parts[1])
        visit([v for _, v in e.parts[2]])
    elif kind == "method":
        visit(e.parts[0])
        visit(e.parts[2])
        visit([v for _, v in e.parts[3]])
    elif kind == "attr":
        visit(e.parts[0])
    elif kind == "index":
        visit(e.parts[0])
        visit(e.parts[1])
    return found
