"""`Value`: a scalar node in the graph, compatible with micrograd's.

Every op computes its result and, at the same moment, the local partial derivative of the result
with respect to each input (``_partials``). Backward is then one multiply-add per edge, the
drawing can label each edge with its partial, and the chain-rule trace can print it.

Each op's partials come from one *rule*: a function of the inputs, the output and the op's
constant (``ctx``) that uses only arithmetic. It runs on floats in the forward pass, and on
`Value`s when ``backward(create_graph=True)`` needs the partials as graph nodes, so higher-order
derivatives use the very same rule.

>>> x1, x2, x3 = Value(2.0), Value(1.0), Value(4.0)
>>> y = 5 * x1**2 + 8 * x2 + 35 * x3 + 30
>>> y.backward()
>>> x1.grad, x2.grad, x3.grad
(20.0, 8.0, 35.0)
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, Callable, Iterable, Sequence

from autodiff.errors import DivisionByZeroError, DomainError
from autodiff.graph import backpropagate, backpropagate_numeric, grad_enabled

# --------------------------------------------------------------------------------------------
# Partial-derivative rules: rule(inputs, out, ctx) -> one partial per input.
# `inputs` and `out` are floats (forward pass) or Values (create_graph): rules use arithmetic
# only, plus `_log` which works on both.
# --------------------------------------------------------------------------------------------


def _log(x: Any) -> Any:
    # numbers: math.log; Values and the expressions autodiff.compile runs rules on: .log()
    return math.log(x) if isinstance(x, (int, float)) else x.log()


def _select(condition: Any, if_true: Any, if_false: Any) -> Any:
    """`if_true` where `condition` holds, else `if_false`, without branching on symbolic
    operands: a comparison of numbers or Values is a bool; one of the expressions
    `autodiff.compile` runs the rules on builds a conditional expression instead."""
    if condition is True:  # (the common case first: a comparison of numbers)
        return if_true
    if condition is False:
        return if_false
    select = getattr(condition, "select", None)
    if select is None:  # another truth value
        return if_true if condition else if_false
    return select(if_true, if_false)


def _pow(x: Any, exponent: Any) -> Any:
    """x ** exponent for floats or Values, with IEEE results where Python raises: overflow
    gives inf, 0 ** (negative) gives inf (as numpy and PyTorch)."""
    try:
        return x**exponent if isinstance(x, Value) else _power(x, exponent)
    except ZeroDivisionError:  # a Value base 0 with a negative exponent refuses; its slope is inf
        return math.inf


def _number(x: Any) -> float:
    return x.data if isinstance(x, Value) else x


def _add_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d(a + b)/da = 1, d(a + b)/db = 1"""
    return (1.0, 1.0)


def _sub_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d(a - b)/da = 1, d(a - b)/db = -1"""
    return (1.0, -1.0)


def _mul_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d(a * b)/da = b, d(a * b)/db = a"""
    a, b = inputs
    return (b, a)


def _div_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d(a / b)/da = 1 / b, d(a / b)/db = -a / b**2 = -out / b"""
    b = inputs[1]
    return (1.0 / b, -out / b)


def _neg_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d(-a)/da = -1"""
    return (-1.0,)


def _pow_const_partials(inputs: Sequence, out: Any, ctx: float) -> tuple:
    """d(a ** c)/da = c * a ** (c - 1), for a constant exponent c (0 where c = 0, as PyTorch)"""
    if ctx == 0:  # a ** 0 is the constant 1: slope 0 everywhere, even at a = 0, inf or nan
        return (0.0,)
    return (ctx * _pow(inputs[0], ctx - 1),)


def _pow_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d(a ** b)/da = b * a ** (b - 1), d(a ** b)/db = a ** b * log(a)  (a >= 0)"""
    a, b = inputs
    a_number, b_number = _number(a), _number(b)
    at_zero = a_number == 0
    # PyTorch's conventions: d/da is 0 where b = 0 (a ** 0 is constant), d/db is 0 where
    # a = 0 and b >= 0 (the limit of a**b * log(a)); nan and inf flow through the formulas.
    # The constant 0 replaces the formula only where it is not 0 already (a = 0: 0 * inf, or
    # nan), so higher derivatives such as d/db (b * a ** (b - 1)) = 1/a at b = 0 survive.
    # Selects, not ifs, so that autodiff.compile writes the rule out for every input. Where a
    # select discards a formula, its operands are made harmless (exponent 1 for 0 ** -1,
    # log(1) for log(0), which raises), so that numpy, evaluating both sides of a select for a
    # batch, neither warns nor computes 0 * inf. (a = 0 with b < 0 never gets here: ** refuses
    # it; a = 0 with b = nan gives out * log(1) = nan, as out is nan.)
    constant = (b_number == 0) & (at_zero | (a_number != a_number))  # a != a: a is nan
    d_base = _select(constant, 0.0, b * _pow(a, _select(constant, 1.0, b - 1)))
    log_a = _log(_select(at_zero, 1.0, a))
    d_exponent = _select(at_zero & (b_number >= 0), 0.0, out * log_a)
    return (d_base, d_exponent)


def _exp_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d exp(a)/da = exp(a)"""
    return (out,)


def _log_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d log(a)/da = 1 / a"""
    return (1.0 / inputs[0],)


def _tanh_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d tanh(a)/da = 1 - tanh(a)**2"""
    return (1.0 - out * out,)


def _sigmoid_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d sigmoid(a)/da = sigmoid(a) * (1 - sigmoid(a))"""
    return (out * (1.0 - out),)


def _relu_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d relu(a)/da = 0 if a <= 0 else 1 (1 at nan, as PyTorch)"""
    return (_select(inputs[0] <= 0, 0.0, 1.0),)


def _leaky_relu_partials(inputs: Sequence, out: Any, ctx: float) -> tuple:
    """d leaky_relu(a)/da = 1 if a > 0 else slope"""
    return (_select(inputs[0] > 0, 1.0, ctx),)


def _dot_partials(inputs: Sequence, out: Any, ctx: int) -> tuple:
    """d(b + sum_i w_i x_i)/dw_i = x_i, /dx_i = w_i, /db = 1; inputs are (w..., x..., b)"""
    n = ctx
    return (*inputs[n : 2 * n], *inputs[:n], 1.0)


def _sum_partials(inputs: Sequence, out: Any, ctx: Any) -> tuple:
    """d(sum_i a_i)/da_i = 1"""
    return (1.0,) * len(inputs)


PARTIAL_RULES: dict[str, Callable[[Sequence, Any, Any], tuple]] = {
    "+": _add_partials,
    "-": _sub_partials,
    "*": _mul_partials,
    "/": _div_partials,
    "neg": _neg_partials,
    "**": _pow_const_partials,
    "pow": _pow_partials,
    "exp": _exp_partials,
    "log": _log_partials,
    "tanh": _tanh_partials,
    "sigmoid": _sigmoid_partials,
    "relu": _relu_partials,
    "leaky_relu": _leaky_relu_partials,
    "dot": _dot_partials,
    "sum": _sum_partials,
}
"""The partial-derivative rule of every scalar op, keyed by the op's name (its ``_op``)."""


def _new(data: float, inputs: tuple, op: str, partials: tuple, ctx: Any = None) -> Value:
    """Make an op's result node, skipping `Value.__init__`'s checks (data is a float already)."""
    node = _object_new(Value)
    node.data = data
    node.grad = 0.0
    node.label = ""
    if grad_enabled():
        node._prev = inputs
        node._op = op
        node._partials = partials
        node._ctx = ctx
    else:
        node._prev = ()
        node._op = ""
        node._partials = ()
        node._ctx = None
    return node


_object_new = object.__new__


def _describe(x: Any) -> str:
    text = repr(x)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(x).__name__} {text}"


def _as_value(other: Any, op: str, left: Any) -> Value:
    """`other` as a Value, or a TypeError naming the op and the offending operand."""
    if isinstance(other, Value):
        return other
    kind = type(other)
    if kind is float or kind is int or (isinstance(other, Real) and not isinstance(other, bool)):
        return Value(other)
    if isinstance(other, bool):
        return Value(float(other))
    raise TypeError(f"{op}: expected a number or Value, got {_describe(other)} (with {left!r})")


class Value:
    """A scalar that remembers how it was computed, so gradients can flow back through it.

    >>> a = Value(-4.0, label="a")
    >>> b = (a * a).relu()
    >>> b.backward()
    >>> a.grad
    -8.0
    """

    __slots__ = ("data", "grad", "label", "_prev", "_op", "_partials", "_ctx", "__weakref__")

    def __init__(self, data: Any, _children: Iterable = (), _op: str = "", label: str = "") -> None:
        if type(data) is not float:  # (a float needs no check: the common case, each input)
            if isinstance(data, Value):
                data = data.data
            if isinstance(data, bool) or not isinstance(data, Real):
                raise TypeError(f"Value: data must be a real number, got {_describe(data)}")
            data = float(data)
        self.data = data
        self.grad: Any = 0.0
        self.label = label
        self._prev = tuple(_children)
        self._op = _op
        # Built by hand (micrograd style) with children but no rule: each edge gets partial 0.
        self._partials: tuple = (0.0,) * len(self._prev)
        self._ctx: Any = None

    # --- arithmetic --------------------------------------------------------------------------

    def __add__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else _as_value(other, "+", self)
        return _new(self.data + other.data, (self, other), "+", (1.0, 1.0))

    def __radd__(self, other: Any) -> Value:  # other + self
        return _as_value(other, "+", self) + self

    def __sub__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else _as_value(other, "-", self)
        return _new(self.data - other.data, (self, other), "-", (1.0, -1.0))

    def __rsub__(self, other: Any) -> Value:  # other - self
        return _as_value(other, "-", self) - self

    def __mul__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else _as_value(other, "*", self)
        return _new(self.data * other.data, (self, other), "*", (other.data, self.data))

    def __rmul__(self, other: Any) -> Value:  # other * self
        return _as_value(other, "*", self) * self

    def __truediv__(self, other: Any) -> Value:
        other = other if isinstance(other, Value) else _as_value(other, "/", self)
        if other.data == 0.0:
            raise DivisionByZeroError(f"/: division by zero ({self.data!r} / {other.data!r})")
        out = self.data / other.data
        return _new(out, (self, other), "/", _div_partials((self.data, other.data), out, None))

    def __rtruediv__(self, other: Any) -> Value:  # other / self
        return _as_value(other, "/", self) / self

    def __neg__(self) -> Value:
        return _new(-self.data, (self,), "neg", (-1.0,))

    def __pos__(self) -> Value:
        return self

    def __pow__(self, other: Any) -> Value:
        if isinstance(other, Value):
            return self._pow_value(other)
        if isinstance(other, bool) or not isinstance(other, Real):
            raise TypeError(f"**: exponent must be a number or Value, got {_describe(other)}")
        exponent = float(other)
        base = self.data
        if base == 0.0 and exponent < 0:
            raise DivisionByZeroError(f"**: 0.0 ** {other!r} divides by zero")
        if base < 0 and not exponent.is_integer():
            raise DomainError(
                f"**: {base!r} ** {other!r} is not a real number "
                "(a negative base needs an integer exponent)"
            )
        out = _power(base, exponent)
        # micrograd's x ** c has one edge (the constant is not a node); so does ours.
        return _new(out, (self,), "**", _pow_const_partials((base,), out, exponent), exponent)

    def _pow_value(self, exponent: Value) -> Value:
        base, power = self.data, exponent.data
        if base < 0:
            raise DomainError(
                f"**: {base!r} ** Value({power!r}): a Value exponent needs a base >= 0, "
                "since d/dy x**y = x**y * log(x)"
            )
        if base == 0.0 and power < 0:
            raise DivisionByZeroError(f"**: 0.0 ** Value({power!r}) divides by zero")
        out = _power(base, power)
        if base > 0:  # the rule's formulas, which its selects keep for every base > 0
            partials = (power * _power(base, power - 1), out * math.log(base))
        else:  # 0 or nan
            partials = _pow_partials((base, power), out, None)
        return _new(out, (self, exponent), "pow", partials)

    def __rpow__(self, other: Any) -> Value:  # other ** self
        return _as_value(other, "**", self)._pow_value(self)

    # --- functions -----------------------------------------------------------------------

    def exp(self) -> Value:
        """e ** self."""
        out = _exp(self.data)
        return _new(out, (self,), "exp", (out,))

    def log(self) -> Value:
        """Natural logarithm; needs self > 0."""
        if self.data <= 0:
            raise DomainError(f"log: needs a positive number, got {self.data!r}")
        return _new(math.log(self.data), (self,), "log", (1.0 / self.data,))

    def tanh(self) -> Value:
        """Hyperbolic tangent, in (-1, 1)."""
        out = math.tanh(self.data)
        return _new(out, (self,), "tanh", (1.0 - out * out,))

    def sigmoid(self) -> Value:
        """1 / (1 + e**-x), computed without overflow for large |x|."""
        x = self.data
        if x >= 0:
            out = 1.0 / (1.0 + math.exp(-x))
        else:  # e**-x would overflow for x < -709; e**x cannot
            e = math.exp(x)
            out = e / (1.0 + e)
        return _new(out, (self,), "sigmoid", (out * (1.0 - out),))

    def relu(self) -> Value:
        """max(0, x), as micrograd: the derivative at 0 is taken as 0. NaN stays NaN (with
        slope 1), as in PyTorch, so a NaN input cannot hide behind a finite output."""
        x = self.data
        if x <= 0:  # False for nan: it takes the other branch
            return _new(0.0, (self,), "relu", (0.0,))
        return _new(x, (self,), "relu", (1.0,))

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """x for x > 0, else slope * x (the article's own variant uses slope 0.01)."""
        if isinstance(slope, bool) or not isinstance(slope, Real):
            raise TypeError(f"leaky_relu: slope must be a number, got {_describe(slope)}")
        x = self.data
        slope = float(slope)
        if x > 0:
            return _new(x, (self,), "leaky_relu", (1.0,), slope)
        return _new(slope * x, (self,), "leaky_relu", (slope,), slope)

    @staticmethod
    def dot(weights: Sequence[Value], inputs: Sequence[Any], bias: Value) -> Value:
        """``bias + sum(w * x)`` as *one* node with one partial per input (x_i for w_i, w_i for
        x_i, 1 for the bias): a neuron's weighted sum without 2n intermediate nodes.

        Summed in micrograd's order, ``((b + w0*x0) + w1*x1) + ...``, so results match it to
        the last digit.
        """
        n = len(weights)
        if n != len(inputs):
            raise ValueError(f"dot: {n} weights but {len(inputs)} inputs; they must match")
        # This op is most of a training step: one type check covers all its inputs at once
        children = (*weights, *inputs, bias)
        if not _ONLY_VALUES.issuperset(map(type, children)):
            for w in weights:
                if not isinstance(w, Value):
                    raise TypeError(f"dot: weights must be Values, got {_describe(w)}")
            xs = [x if isinstance(x, Value) else _as_value(x, "dot", bias) for x in inputs]
            children = (*weights, *xs, bias)
        data = [c.data for c in children]  # (w..., x..., b)
        w_data, x_data = data[:n], data[n : 2 * n]
        total = data[-1]
        for w, x in zip(w_data, x_data):  # ((b + w0 x0) + w1 x1) + ...: micrograd's order
            total += w * x
        return _new(total, children, "dot", (*x_data, *w_data, 1.0), n)

    @staticmethod
    def sum(values: Iterable[Any]) -> Value:
        """Sum of many Values as one node (Python's ``sum`` makes one node per ``+``)."""
        xs = tuple(values)
        if not _ONLY_VALUES.issuperset(map(type, xs)):  # numbers among them (rare)
            xs = tuple(v if isinstance(v, Value) else _as_value(v, "sum", "Value.sum") for v in xs)
        total = 0.0
        for x in xs:
            total += x.data
        return _new(total, xs, "sum", (1.0,) * len(xs))

    # --- comparisons (on data, as plain bools: they have no gradient) -------------------------

    def __lt__(self, other: Any) -> bool:
        return self.data < _data_of(other, "<")

    def __le__(self, other: Any) -> bool:
        return self.data <= _data_of(other, "<=")

    def __gt__(self, other: Any) -> bool:
        return self.data > _data_of(other, ">")

    def __ge__(self, other: Any) -> bool:
        return self.data >= _data_of(other, ">=")

    def __float__(self) -> float:
        return self.data

    def item(self) -> float:
        """The value as a Python float, as PyTorch's ``.item()``.

        >>> (Value(2.0) * 3).item()
        6.0
        """
        return float(self.data)

    # numpy scalars on the left (np.float64(2) * x) defer to our reflected ops
    __array_ufunc__ = None

    # --- gradients ------------------------------------------------------------------------

    def backward(self, create_graph: bool = False) -> None:
        """Fill ``.grad`` of every node this one depends on with d self / d node.

        Intermediate nodes get this pass's gradient (so calling backward twice does not
        double-count them); leaves accumulate across calls, as in PyTorch. With
        ``create_graph=True`` the gradients are themselves `Value`s in a graph, so they can be
        differentiated again.

        Each op saves its local partials as numbers when it runs, so if a node's ``.data`` is
        changed between the forward pass and ``backward()``, the gradients are those at the
        forward-time numbers, with or without ``create_graph``: the partials that
        ``create_graph`` rebuilds as graph nodes carry the saved numbers (the difference is
        added as a constant). Only first derivatives are kept consistent so: differentiating
        such a gradient again mixes old and new numbers. Compute the forward pass again after
        changing ``.data``.

        >>> x = Value(3.0)
        >>> y = x * x
        >>> x.data = 10.0          # too late for y: its partials were saved at x = 3
        >>> y.backward(create_graph=True)
        >>> x.grad.data            # dy/dx at x = 3, as a plain backward() gives
        6.0
        """
        if create_graph:
            backpropagate(self, Value(1.0), create_graph=True)
        else:
            backpropagate_numeric(self, 1.0)

    def _vjp(self, grad: float) -> list:  # unused by the driver: it multiplies _partials inline
        return [grad * p for p in self._partials]

    def _vjp_graph(self, grad: Value) -> list:
        rule = PARTIAL_RULES.get(self._op)
        if rule is None:
            raise NotImplementedError(
                f"no partial-derivative rule for op {self._op!r}, so create_graph=True cannot "
                "differentiate through it"
            )
        partials = rule(self._prev, self, self._ctx)
        grads = []
        for partial, saved in zip(partials, self._partials):
            now = partial.data if isinstance(partial, Value) else partial
            if now != saved and not (now != now and saved != saved):  # (NaN == NaN here)
                # .data changed since the forward pass: keep the forward-time partial, as the
                # plain backward() does
                partial = _saved_partial(partial, now, saved)
            grads.append(grad * partial)
        return grads

    def _store_grad(self, grad: Any, kept: set) -> None:
        # (`kept` is for arrays: every Value gradient is a new node or an immutable float)
        if self._prev:  # intermediate: this pass's gradient, never stale sums from earlier passes
            self.grad = grad
        elif isinstance(self.grad, (float, int)) and self.grad == 0:
            self.grad = grad
        else:  # leaf: accumulate, as PyTorch does
            self.grad = self.grad + grad

    def _local_partials(self) -> tuple:
        """d self / d input for each input, in order (numbers)."""
        return self._partials

    # --- display ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        parts = [f"data={self.data!r}", f"grad={self.grad!r}"]
        if self._op:
            parts.append(f"op={self._op!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        return f"Value({', '.join(parts)})"


_ONLY_VALUES = {Value}


def _saved_partial(partial: Any, now: float, saved: float) -> Any:
    """A partial node worth `saved` (the forward-time number) where the rule now gives `now`:
    `partial` plus the constant difference, so its own derivatives are still the rule's."""
    if not isinstance(partial, Value) or not (math.isfinite(now) and math.isfinite(saved)):
        return saved  # a constant (inf - inf has no meaning): the number alone
    shifted = partial + (saved - now)
    shifted.data = saved  # exactly the saved number, whatever the rounding of the sum
    return shifted


def _data_of(other: Any, op: str) -> float:
    if isinstance(other, Value):
        return other.data
    if isinstance(other, Real):
        return other
    raise TypeError(f"{op}: cannot compare a Value with {_describe(other)}")


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:  # as numpy and PyTorch: overflow gives inf, not an exception
        return math.inf


def _power(base: float, exponent: float) -> float:
    """base ** exponent, giving inf where Python raises (overflow, or 0.0 to a negative power),
    with the sign IEEE gives: negative for a negative base and an odd integer exponent."""
    try:
        return base**exponent
    except (OverflowError, ZeroDivisionError):
        odd = float(exponent).is_integer() and exponent % 2 == 1
        return -math.inf if odd and math.copysign(1.0, base) < 0 else math.inf
