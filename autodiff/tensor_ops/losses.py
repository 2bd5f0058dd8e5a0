"""Loss functions with PyTorch's names, arguments and numbers (``torch.nn.functional``), each one
node with its own backward rule.

- ``cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)``: softmax
  cross-entropy with class indices or class probabilities as targets;
- ``nll_loss(input, target, weight, ignore_index, reduction)``: the same on log-probabilities;
- ``mse_loss``, ``l1_loss``: squared and absolute differences;
- ``binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)`` and
  ``binary_cross_entropy(input, target, weight, reduction)`` (on probabilities; its logs are
  clamped at -100, as PyTorch's).

``reduction`` is ``"mean"`` (the default), ``"sum"`` or ``"none"`` (one loss per element, or per
sample for the class losses). Empty batches follow PyTorch: "mean" is nan, "sum" is 0, "none" is
empty, and every gradient is empty. Targets that are float tensors requiring grad receive
gradients (class probabilities, regression targets); class indices, ``weight`` and
``pos_weight`` are constants, as in PyTorch. Shapes must match where PyTorch would broadcast a
target with a warning: here that is a ValueError naming both shapes.

The rules run on ndarrays (``backward()``) and on Tensors (``create_graph=True``), so second
derivatives work for the smooth losses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.tensor import Tensor, _dot, _make, as_tensor
from autodiff.tensor_ops import reduce as _reduce_ops
from autodiff.tensor_ops import shape as _shape_ops
from autodiff.tensor_ops.elementwise import _stable_sigmoid

_REDUCTIONS = ("mean", "sum", "none")
_add_reduce = np.add.reduce
# PyTorch's binary_cross_entropy backward divides by max((1 - p) * p, EPSILON), a float32 1e-12
_BCE_EPSILON = float(np.float32(1e-12))

# --------------------------------------------------------------------------------------------
# Helpers: argument checks, reductions, scaling the output gradient
# --------------------------------------------------------------------------------------------


def _check_reduction(op: str, reduction: Any) -> None:
    if reduction not in _REDUCTIONS:  # (a list or dict is never one of the three strings)
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _input(x: Any, op: str) -> Tensor:
    x = x if type(x) is Tensor else as_tensor(x, None, op)
    if x._data.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got dtype {x._data.dtype}")
    return x


def _same_shape(op: str, x: Tensor, target: Any) -> Tensor:
    """`target` as a float Tensor shaped exactly like `x`."""
    target = target if type(target) is Tensor else as_tensor(target, x, op)
    if target._data.shape != x._data.shape:
        raise ValueError(
            f"{op}: input has shape {x._data.shape} but target has shape {target._data.shape}; "
            "they must match"
        )
    if target._data.dtype.kind != "f":
        target = Tensor(target._data.astype(x._data.dtype))
    return target


def _constant(op: str, name: str, value: Any, shape: tuple, dtype: np.dtype) -> Any:
    """`weight`/`pos_weight` as an ndarray that broadcasts to `shape` (None stays None)."""
    if value is None:
        return None
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{op}: {name} must be real numbers, got dtype {array.dtype}")
    try:
        fits = np.broadcast_shapes(array.shape, shape) == shape
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(
            f"{op}: {name} of shape {array.shape} does not broadcast to the input's shape {shape}"
        )
    return array.astype(dtype, copy=False)


def _reduced(losses: np.ndarray, reduction: str, divisor: float) -> np.ndarray:
    """Per-element `losses` reduced: "none" keeps them, "sum" adds them, "mean" divides the sum
    by `divisor` (nan when it is 0: the mean of nothing, without numpy's warning)."""
    if reduction == "none":
        return losses
    total = _add_reduce(losses, axis=None)
    if reduction == "sum":
        return np.asarray(total, losses.dtype)
    if divisor == 0:
        return np.asarray(np.nan, losses.dtype)
    return np.asarray(total / divisor, losses.dtype)


def _scale(g: Any, reduction: str, divisor: float, factor: float = 1.0) -> Any:
    """The output gradient as a factor for each element's derivative: g * factor / divisor for
    "mean" (the mean of nothing has a gradient of nothing, so divisor 0 divides by nothing),
    g * factor otherwise. One multiplication: `factor` folds a constant of the rule in."""
    if reduction == "mean" and divisor:
        return g * (factor / divisor)
    return g * factor if factor != 1.0 else g


def _sigmoid(x: Any) -> Any:
    return x.sigmoid() if isinstance(x, Tensor) else _stable_sigmoid(x)


def _softplus(x: Any) -> Any:
    """log(1 + exp(x)) without overflow."""
    return x.softplus() if isinstance(x, Tensor) else np.logaddexp(0, x)


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


# --------------------------------------------------------------------------------------------
# mse_loss, l1_loss
# --------------------------------------------------------------------------------------------


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Squared differences ``(input - target) ** 2``, reduced (mean by default), as one node.
    `target` has input's shape and receives a gradient if it requires one.

    >>> from autodiff import Tensor, mse_loss
    >>> float(mse_loss(Tensor([1.0, 3.0]), Tensor([0.0, 1.0])).data)
    2.5
    >>> mse_loss(Tensor([1.0, 3.0]), Tensor([0.0, 1.0]), reduction="none")
    Tensor([1., 4.])
    """
    x = _input(input, "mse_loss")
    target = _same_shape("mse_loss", x, target)
    _check_reduction("mse_loss", reduction)
    diff = x._data - target._data
    if reduction == "mean" and diff.size:  # the common case: one dot product
        flat = diff.reshape(-1)
        # np.dot makes matmul's BLAS call for float32/float64 (the same bits) without the cost
        # of a ufunc, a third of this loss on a small batch
        square = _dot(flat, flat) if diff.dtype.char in "fd" else flat @ flat
        data = np.asarray(square / flat.size, dtype=diff.dtype)
    else:
        data = _reduced(diff * diff, reduction, diff.size)
    return _make(data, (x, target), "mse_loss", reduction)


def _mse_grad_input(g: Any, inputs: tuple, out: Any, reduction: str) -> Any:
    """d (x - t)^2/dx = 2 (x - t)"""
    x, target = inputs
    return (x - target) * _scale(g, reduction, x.size, 2.0)


def _mse_grad_target(g: Any, inputs: tuple, out: Any, reduction: str) -> Any:
    """d (x - t)^2/dt = -2 (x - t)"""
    x, target = inputs
    return (target - x) * _scale(g, reduction, x.size, 2.0)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Absolute differences ``|input - target|``, reduced (mean by default), as one node; the
    derivative where input == target is 0, as PyTorch's.

    >>> from autodiff import Tensor, l1_loss
    >>> float(l1_loss(Tensor([1.0, 3.0]), Tensor([0.0, 1.0])).data)
    1.5
    """
    x = _input(input, "l1_loss")
    target = _same_shape("l1_loss", x, target)
    _check_reduction("l1_loss", reduction)
    losses = np.abs(x.data - target.data)
    data = _reduced(losses, reduction, losses.size)
    return _make(data, (x, target), "l1_loss", reduction)


def _l1_grad_input(g: Any, inputs: tuple, out: Any, reduction: str) -> Any:
    """d |x - t|/dx = sign(x - t)"""
    x, target = inputs
    return np.sign(_raw(x) - _raw(target)) * _scale(g, reduction, x.size)


def _l1_grad_target(g: Any, inputs: tuple, out: Any, reduction: str) -> Any:
    """d |x - t|/dt = -sign(x - t)"""
    x, target = inputs
    return np.sign(_raw(target) - _raw(x)) * _scale(g, reduction, x.size)


# --------------------------------------------------------------------------------------------
# Binary cross-entropy: on logits and on probabilities
# --------------------------------------------------------------------------------------------


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """``-w [p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]`` for logits x and targets t in
    [0, 1], stable for logits of any size (never log(0)); `weight` w rescales each element and
    `pos_weight` p the positive term (both broadcast to the input, as PyTorch's).

    >>> from autodiff import Tensor, binary_cross_entropy_with_logits
    >>> round(binary_cross_entropy_with_logits(Tensor([0.0, 1000.0]), Tensor([1.0, 0.0])).item(), 4)
    500.3466
    """
    op = "binary_cross_entropy_with_logits"
    x = _input(input, op)
    target = _same_shape(op, x, target)
    _check_reduction(op, reduction)
    shape, dtype = x.data.shape, x.data.dtype
    weight = _constant(op, "weight", weight, shape, dtype)
    pos_weight = _constant(op, "pos_weight", pos_weight, shape, dtype)
    z, t = x.data, target.data
    # (1 - t) x + (1 + (p - 1) t) softplus(-x): softplus never overflows
    if pos_weight is None:
        losses = (1 - t) * z + np.logaddexp(0, -z)
    else:
        losses = (1 - t) * z + (1 + (pos_weight - 1) * t) * np.logaddexp(0, -z)
    if weight is not None:
        losses = losses * weight
    data = _reduced(losses, reduction, losses.size)
    return _make(data, (x, target), op, (reduction, weight, pos_weight))


def _bce_logits_grad_input(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d loss/dx = (1 + (p - 1) t) sigmoid(x) - p t  (sigmoid(x) - t without pos_weight p)"""
    x, t = inputs
    reduction, weight, pos_weight = ctx
    if pos_weight is None:
        grad = _sigmoid(x) - t
    else:
        grad = (t * (pos_weight - 1) + 1) * _sigmoid(x) - t * pos_weight
    if weight is not None:
        grad = grad * weight
    return grad * _scale(g, reduction, x.size)


def _bce_logits_grad_target(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d loss/dt = p softplus(-x) - softplus(x)  (-x without pos_weight p)"""
    x, t = inputs
    reduction, weight, pos_weight = ctx
    if pos_weight is None:
        grad = -x
    else:
        grad = _softplus(-x) * pos_weight - _softplus(x)
    if weight is not None:
        grad = grad * weight
    return grad * _scale(g, reduction, x.size)


def binary_cross_entropy(
    input: Tensor, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """``-w [t log(p) + (1 - t) log(1 - p)]`` for probabilities p in [0, 1], each log clamped at
    -100 as PyTorch's (so p = 0 or 1 gives a finite loss). Values outside [0, 1] are a
    ValueError; nan propagates. Prefer `binary_cross_entropy_with_logits` on logits.

    >>> from autodiff import Tensor, binary_cross_entropy
    >>> binary_cross_entropy(Tensor([0.5, 0.0]), Tensor([1.0, 1.0]), reduction="none")
    Tensor([  0.69314718, 100.        ])
    """
    op = "binary_cross_entropy"
    x = _input(input, op)
    target = _same_shape(op, x, target)
    _check_reduction(op, reduction)
    p, t = x.data, target.data
    outside = (p < 0) | (p > 1)
    if outside.any():
        raise ValueError(
            f"{op}: input must be probabilities in [0, 1], got {p[outside].flat[0]!r} "
            "(use binary_cross_entropy_with_logits for logits)"
        )
    weight = _constant(op, "weight", weight, p.shape, p.dtype)
    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped to -100 below
        log_p = np.maximum(np.log(p), -100)
        log_q = np.maximum(np.log1p(-p), -100)
    losses = (t - 1) * log_q - t * log_p
    if weight is not None:
        losses = losses * weight
    data = _reduced(losses, reduction, losses.size)
    return _make(data, (x, target), op, (reduction, weight))


def _bce_grad_input(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d loss/dp = (p - t) / max(p (1 - p), 1e-12)  (PyTorch's clamp of the denominator)"""
    p, t = inputs
    reduction, weight = ctx
    grad = (p - t) / np.maximum((1 - p) * p, _BCE_EPSILON)
    if weight is not None:
        grad = grad * weight
    return grad * _scale(g, reduction, p.size)


def _bce_grad_target(g: Any, inputs: tuple, out: Any, ctx: tuple) -> Any:
    """d loss/dt = log(1 - p) - log(p)  (unclamped, as PyTorch's: +-inf at p = 0 or 1)"""
    p, t = inputs
    reduction, weight = ctx
    with np.errstate(divide="ignore"):
        grad = np.log(1 - p) - np.log(p)
    if weight is not None:
        grad = grad * weight
    return grad * _scale(g, reduction, p.size)


# --------------------------------------------------------------------------------------------
# Class losses: shapes and targets
# --------------------------------------------------------------------------------------------


def _as_rows(op: str, x: Tensor, target: Any) -> tuple:
    """`x` as (rows, classes) and `target` to match, for PyTorch's three layouts: (classes,)
    with a 0-d index or (classes,) probabilities; (n, classes); (n, classes, d1, ...) with
    (n, d1, ...) indices or probabilities shaped like `x`. Returns (x rows, target rows, shape
    of a "none" result). Moving the class axis last is done with Tensor ops, so gradients
    flow back through it."""
    shape = x.data.shape
    if x.data.ndim == 2:
        return x, target, None
    if x.data.ndim == 0:
        raise ValueError(
            f"{op}: input must be (classes,), (n, classes) or (n, classes, ...), got a 0-d tensor"
        )
    classes = shape[0] if x.data.ndim == 1 else shape[1]
    target_shape = np.shape(_raw(target))
    is_probs = target_shape == shape and np.asarray(_raw(target)).dtype.kind == "f"
    if x.data.ndim == 1:
        rows = _shape_ops.reshape(x, (1, classes))
        if is_probs:
            return rows, _reshape(target, (1, classes)), ()
        if target_shape != ():
            raise ValueError(
                f"{op}: target of shape {target_shape} does not fit input of shape {shape} (one "
                f"sample): expected a class index of shape () or probabilities of shape {shape}"
            )
        return rows, _reshape(target, (1,)), ()
    order = (0, *range(2, x.data.ndim), 1)  # the class axis last
    rows = _shape_ops.reshape(_shape_ops.transpose(x, order), (-1, classes))
    none_shape = shape[:1] + shape[2:]
    if is_probs:
        return rows, _reshape(_transpose(target, order), (-1, classes)), none_shape
    if target_shape != none_shape:
        raise ValueError(
            f"{op}: target of shape {target_shape} does not fit input of shape {shape}: expected "
            f"class indices of shape {none_shape} or probabilities of shape {shape}"
        )
    return rows, _reshape(target, (-1,)), none_shape


def _reshape(t: Any, shape: tuple) -> Any:
    return _shape_ops.reshape(t, shape) if isinstance(t, Tensor) else np.reshape(t, shape)


def _transpose(t: Any, order: tuple) -> Any:
    return _shape_ops.transpose(t, order) if isinstance(t, Tensor) else np.transpose(t, order)


def _labels(op: str, target: Any, n: int, classes: int, ignore_index: int) -> tuple:
    """Class indices as an int array of shape (n,), checked, and the mask of ignored ones (None
    when no index equals `ignore_index`)."""
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    if labels.shape != (n,):
        raise ValueError(
            f"{op}: class-index target must have shape ({n},) for input of shape "
            f"({n}, {classes}), got shape {labels.shape}"
        )
    if not n:
        return labels, None
    low, high = labels.min(), labels.max()
    if low >= 0 and high < classes and not 0 <= ignore_index < classes:
        return labels, None  # the common case: every index valid, none ignored
    ignored = labels == ignore_index
    bad = ~ignored & ((labels < 0) | (labels >= classes))
    if bad.any():
        raise ValueError(
            f"{op}: target {labels[bad][0]} is out of bounds: expected class indices in "
            f"[0, {classes}) or ignore_index={ignore_index}"
        )
    return labels, (ignored if ignored.any() else None)


def _check_class_args(op: str, x: Tensor, ignore_index: Any) -> tuple:
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer)):
        raise TypeError(f"{op}: ignore_index must be an int, got {ignore_index!r}")
    n, classes = x.data.shape
    if classes == 0:
        raise ValueError(f"{op}: input of shape {x.data.shape} has no classes")
    return n, classes


class _ClassLoss:
    """What a class loss's rule needs: the targets as a dense (n, classes) matrix ``q`` (None
    in cross_entropy's fast case: indices, no weight, no smoothing, nothing ignored), the
    reduction and its divisor, and arrays the forward pass already computed."""

    __slots__ = ("labels", "q", "reduction", "divisor", "exp", "total", "neg_logp", "weight",
                 "smoothing")  # fmt: skip

    def __init__(self, labels: Any, q: Any, reduction: str, divisor: float) -> None:
        self.labels, self.q, self.reduction, self.divisor = labels, q, reduction, divisor
        self.exp = self.total = self.neg_logp = self.weight = None
        self.smoothing = 0.0


def _row_scale(g: Any, ctx: _ClassLoss) -> Any:
    """The output gradient as a factor per row: a scalar, or a column for "none"."""
    if ctx.reduction == "none":
        return g.reshape(-1, 1)
    return _scale(g, ctx.reduction, ctx.divisor)


def _index_targets(
    labels: np.ndarray, ignored: Any, weight: Any, smoothing: float, classes: int, dtype: Any
) -> tuple:
    """Class indices as a dense (n, classes) matrix q with loss_i = -sum_c q_ic log p_ic, and
    the divisor of "mean" (the summed weight of the kept rows, as PyTorch)."""
    n = labels.shape[0]
    safe = labels if ignored is None else np.where(ignored, 0, labels)
    picked = np.ones(n, dtype) if weight is None else weight[safe]
    if ignored is not None:
        picked = np.where(ignored, 0, picked)
    q = np.zeros((n, classes), dtype)
    q[np.arange(n), safe] = (1 - smoothing) * picked
    if smoothing:
        spread = (smoothing / classes) * (np.ones(classes, dtype) if weight is None else weight)
        q += spread if ignored is None else np.where(ignored[:, None], 0, spread)
    return q, float(_add_reduce(picked))


# --------------------------------------------------------------------------------------------
# cross_entropy
# --------------------------------------------------------------------------------------------


def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy ``-sum_c target_c log softmax(input)_c`` per sample, as PyTorch's.

    `input` holds logits, (n, classes) (also (classes,) or (n, classes, d1, ...)). `target` is
    class indices, (n,) integers, or class probabilities shaped like `input` (floats; they get
    a gradient, -log softmax(input), when they require one; rows need not sum to 1). `weight`
    (classes,) rescales each class; indices equal to `ignore_index` add nothing; "mean"
    divides by the summed weight of the kept samples (for indices) or by n (probabilities).
    `label_smoothing` e mixes each target with the uniform distribution: (1 - e) t + e/classes.
    Exact for huge logits; -inf logits (masked classes) are fine unless the target needs them.

    >>> from autodiff import Tensor, cross_entropy
    >>> float(cross_entropy(Tensor([[1000.0, 0.0]]), [1]).data)
    1000.0
    >>> logits = Tensor([[2.0, -float("inf"), 0.5], [0.1, 0.2, -float("inf")]])
    >>> round(cross_entropy(logits, [0, 1]).item(), 4)  # masked classes
    0.4229
    """
    op = "cross_entropy"
    x = _input(input, op)
    _check_reduction(op, reduction)
    if isinstance(label_smoothing, bool) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    if x.data.ndim != 2:
        rows, target, none_shape = _as_rows(op, x, target)
        loss = cross_entropy(rows, target, weight, ignore_index, reduction, label_smoothing)
        return loss if reduction != "none" else _shape_ops.reshape(loss, none_shape)
    n, classes = _check_class_args(op, x, ignore_index)
    z = x.data
    dtype = z.dtype
    weight = _constant(op, "weight", weight, (classes,), dtype)
    if weight is not None and weight.shape != (classes,):
        raise ValueError(f"{op}: weight must have shape ({classes},), got {weight.shape}")
    target_data = target.data if isinstance(target, Tensor) else np.asarray(target)
    kind = target_data.dtype.kind
    if kind not in "iuf" or (kind == "f" and target_data.shape != z.shape):
        raise ValueError(
            f"{op}: target must be class indices of shape ({n},) (integers) or class "
            f"probabilities of shape {z.shape} (floats), got dtype {target_data.dtype} and "
            f"shape {target_data.shape}"
        )

    with np.errstate(invalid="ignore", divide="ignore"):  # a row of -inf gives nan, as PyTorch
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        total = _add_reduce(e, axis=1, keepdims=True)
        lse = np.log(total)
    if kind in "iu":
        labels, ignored = _labels(op, target_data, n, classes, ignore_index)
        if weight is None and ignored is None and not label_smoothing:  # the common case
            ctx = _ClassLoss(labels, None, reduction, n)
            losses = lse[:, 0] - shifted[np.arange(n), labels]
            inputs: tuple = (x,)
        else:
            q, divisor = _index_targets(labels, ignored, weight, label_smoothing, classes, dtype)
            ctx = _ClassLoss(labels, q, reduction, divisor)
            losses = _dot_rows(q, lse - shifted)
            inputs = (x,)
    else:
        t = target if isinstance(target, Tensor) else Tensor(target_data.astype(dtype))
        q = _smoothed(t.data.astype(dtype, copy=False), weight, label_smoothing, classes)
        ctx = _ClassLoss(None, None, reduction, n)
        ctx.weight, ctx.smoothing = weight, label_smoothing
        ctx.neg_logp = lse - shifted
        losses = _dot_rows(q, ctx.neg_logp)
        inputs = (x, t)
    ctx.exp, ctx.total = e, total
    return _make(_reduced(losses, reduction, ctx.divisor), inputs, op, ctx)


def _dot_rows(q: np.ndarray, neg_logp: np.ndarray) -> np.ndarray:
    """sum_c q_ic (-log p_ic) per row, where a class with q = 0 adds 0 even if p = 0 (a masked
    logit): the limit of t log p as t -> 0, instead of 0 * inf = nan."""
    with np.errstate(invalid="ignore"):
        return _add_reduce(q * np.where(q == 0, 0, neg_logp), axis=1)


def _smoothed(t: Any, weight: Any, smoothing: float, classes: int) -> Any:
    """Probability targets as the matrix q: weight * ((1 - e) t + e / classes)."""
    q = t * (1 - smoothing) + smoothing / classes if smoothing else t
    return q if weight is None else q * weight


def _cross_entropy_grad_input(g: Any, inputs: tuple, out: Any, ctx: _ClassLoss) -> Any:
    """d loss/d logits = softmax(logits) * sum_c q_c - q per row (q: the weighted, smoothed
    targets; their rows need not sum to 1)"""
    z = inputs[0]
    scale = _row_scale(g, ctx)
    if type(z) is not Tensor:
        with np.errstate(invalid="ignore"):
            p = ctx.exp / ctx.total
        if ctx.q is None and ctx.labels is not None:  # one-hot targets: subtract 1 in place
            p[np.arange(p.shape[0]), ctx.labels] -= 1
            p *= scale
            return p
    else:
        p = _reduce_ops.softmax(z, axis=1)
    q = _class_matrix(inputs, ctx, p)
    return (p * _add_rows(q) - q) * scale


def _class_matrix(inputs: tuple, ctx: _ClassLoss, like: Any) -> Any:
    """The dense target matrix q: saved, built from the indices, or from the probabilities."""
    if ctx.labels is None:  # probabilities: from the (possibly differentiable) target
        return _smoothed(inputs[1], ctx.weight, ctx.smoothing, _raw(like).shape[1])
    if ctx.q is not None:
        return ctx.q
    q = np.zeros(_raw(like).shape, _raw(like).dtype)
    q[np.arange(q.shape[0]), ctx.labels] = 1
    return q


def _add_rows(q: Any) -> Any:
    return q.sum(axis=1, keepdims=True)


def _cross_entropy_grad_target(g: Any, inputs: tuple, out: Any, ctx: _ClassLoss) -> Any:
    """d loss/d target = -(1 - e) weight * log softmax(logits)"""
    z = inputs[0]
    neg_logp = ctx.neg_logp if type(z) is not Tensor else -_reduce_ops.log_softmax(z, axis=1)
    factor = 1 - ctx.smoothing if ctx.weight is None else (1 - ctx.smoothing) * ctx.weight
    return neg_logp * factor * _row_scale(g, ctx)


# --------------------------------------------------------------------------------------------
# nll_loss
# --------------------------------------------------------------------------------------------


def nll_loss(
    input: Tensor,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood ``-weight[y] * input[y]`` per sample, for log-probabilities
    `input` (n, classes) (or (classes,), (n, classes, d1, ...)) and class indices `target`;
    indices equal to `ignore_index` add nothing and "mean" divides by the summed weight of the
    kept samples, as PyTorch's. ``nll_loss(log_softmax(x, axis=1), y)`` is cross_entropy.

    >>> from autodiff import Tensor, nll_loss
    >>> float(nll_loss(Tensor([[-0.5, -1.0], [-2.0, -0.1]]), [0, 1]).data)
    0.3
    """
    op = "nll_loss"
    x = _input(input, op)
    _check_reduction(op, reduction)
    if x.data.ndim != 2:
        rows, target, none_shape = _as_rows(op, x, target)
        loss = nll_loss(rows, target, weight, ignore_index, reduction)
        return loss if reduction != "none" else _shape_ops.reshape(loss, none_shape)
    n, classes = _check_class_args(op, x, ignore_index)
    dtype = x.data.dtype
    weight = _constant(op, "weight", weight, (classes,), dtype)
    if weight is not None and weight.shape != (classes,):
        raise ValueError(f"{op}: weight must have shape ({classes},), got {weight.shape}")
    target_data = target.data if isinstance(target, Tensor) else np.asarray(target)
    if target_data.dtype.kind not in "iu":
        raise ValueError(
            f"{op}: target must be class indices (integers) of shape ({n},), got dtype "
            f"{target_data.dtype} and shape {target_data.shape}"
        )
    labels, ignored = _labels(op, target_data, n, classes, ignore_index)
    q, divisor = _index_targets(labels, ignored, weight, 0.0, classes, dtype)
    losses = _dot_rows(q, -x.data)
    ctx = _ClassLoss(labels, q, reduction, divisor)
    return _make(_reduced(losses, reduction, divisor), (x,), op, ctx)


def _nll_grad_input(g: Any, inputs: tuple, out: Any, ctx: _ClassLoss) -> Any:
    """d loss/d input = -weight[y] at the target class, 0 elsewhere"""
    return -ctx.q * _row_scale(g, ctx)


RULES = {
    "mse_loss": (_mse_grad_input, _mse_grad_target),
    "l1_loss": (_l1_grad_input, _l1_grad_target),
    "binary_cross_entropy_with_logits": (_bce_logits_grad_input, _bce_logits_grad_target),
    "binary_cross_entropy": (_bce_grad_input, _bce_grad_target),
    "cross_entropy": (_cross_entropy_grad_input, _cross_entropy_grad_target),
    "nll_loss": (_nll_grad_input,),
}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS);
# {n} is the number of input elements, before the mean.
EDGE_FORMULAS = {
    "mse_loss": {"input": "2·({input} - {target})/{n}", "target": "-2·({input} - {target})/{n}"},
    "l1_loss": {"input": "sign({input} - {target})/{n}", "target": "-sign({input} - {target})/{n}"},
    "binary_cross_entropy_with_logits": {
        "input": "(sigmoid({input}) - {target})/{n}",
        "target": "-{input}/{n}",
    },
    "binary_cross_entropy": {
        "input": "({input} - {target})/({input}·(1 - {input}))/{n}",
        "target": "log(1/{input} - 1)/{n}",
    },
    "cross_entropy": {"input": "(softmax({input}) - target)/rows", "target": "-log_softmax/rows"},
    "nll_loss": {"input": "-1 at the target/rows"},
}
