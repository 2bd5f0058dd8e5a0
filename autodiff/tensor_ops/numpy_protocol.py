"""numpy interop: ``np.exp(t)``, ``np.sum(t, axis=0)``, ``ndarray * t`` give differentiable Tensors.

`Tensor.__array_ufunc__` and `Tensor.__array_function__` send the numpy functions that backward
rules use to the matching Tensor ops, so each rule is written once and runs on ndarrays (fast
path) and on Tensors (``create_graph=True``). A numpy function with no Tensor op runs on the
plain data when no input needs a gradient (``np.allclose(t, a)`` works); otherwise it is a
TypeError, since its result could not carry gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff.graph import grad_enabled
from autodiff.tensor import Tensor, as_tensor
from autodiff.tensor_ops import elementwise as ew
from autodiff.tensor_ops import layout, maths, reductions, rounding, scan, sorting
from autodiff.tensor_ops import matmul as mm
from autodiff.tensor_ops import reduce as rd
from autodiff.tensor_ops import shape as sh
from autodiff.tensor_ops.einsum import einsum

UFUNCS = {
    np.add: ew.add,
    np.subtract: ew.sub,
    np.multiply: ew.mul,
    np.true_divide: ew.div,
    np.negative: ew.neg,
    np.positive: ew.pos,
    np.power: ew.power,
    np.exp: ew.exp,
    np.log: ew.log,
    np.sqrt: ew.sqrt,
    np.absolute: ew.abs_,
    np.tanh: ew.tanh,
    np.maximum: ew.maximum,
    np.minimum: ew.minimum,
    np.matmul: mm.matmul,
    np.less: ew.lt,
    np.less_equal: ew.le,
    np.greater: ew.gt,
    np.greater_equal: ew.ge,
    np.equal: ew.eq,
    np.not_equal: ew.ne,
}
"""numpy ufunc -> Tensor op."""

UFUNCS.update(
    {
        np.sin: maths.sin,
        np.cos: maths.cos,
        np.tan: maths.tan,
        np.arcsin: maths.asin,
        np.arccos: maths.acos,
        np.arctan: maths.atan,
        np.sinh: maths.sinh,
        np.cosh: maths.cosh,
        np.log2: maths.log2,
        np.log10: maths.log10,
        np.log1p: maths.log1p,
        np.exp2: maths.exp2,
        np.expm1: maths.expm1,
        np.logaddexp: maths.logaddexp,
        np.arctan2: maths.atan2,
        np.sign: rounding.sign,
        np.floor: rounding.floor,
        np.ceil: rounding.ceil,
        np.trunc: rounding.trunc,
        np.rint: rounding.round_,
        np.remainder: rounding.remainder,
        np.fmod: rounding.fmod,
        np.floor_divide: rounding.floor_divide,
        np.isnan: rounding.isnan,
        np.isinf: rounding.isinf,
        np.isfinite: rounding.isfinite,
    }
)


def _data(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_data(item) for item in x)
    return x


def _needs_grad(values: Any) -> bool:
    if not grad_enabled():
        return False
    for x in values:
        if isinstance(x, Tensor) and x.requires_grad:
            return True
        if isinstance(x, (list, tuple)) and _needs_grad(x):
            return True
    return False


def array_ufunc(self: Tensor, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
    """numpy ufuncs on Tensors: differentiable where a Tensor op exists (see `UFUNCS`)."""
    op = UFUNCS.get(ufunc) if method == "__call__" and not kwargs else None
    if op is not None:
        like = next(x for x in inputs if isinstance(x, Tensor))
        return op(*(as_tensor(x, like, ufunc.__name__) for x in inputs))
    if _needs_grad(inputs) or "out" in kwargs:
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        raise TypeError(
            f"np.{name} on a Tensor that requires grad: no differentiable Tensor op for it "
            f"(supported ufuncs: {', '.join(sorted(u.__name__ for u in UFUNCS))}); "
            "use .detach() for a constant result"
        )
    return getattr(ufunc, method)(*_data(inputs), **kwargs)


def _np_reshape(a: Any, shape: Any = None, order: str = "C", **kwargs: Any) -> Tensor:
    return sh.reshape(a, kwargs.get("newshape", shape))


def _np_transpose(a: Any, axes: Any = None) -> Tensor:
    return sh.transpose(a) if axes is None else sh.transpose(a, tuple(axes))


def _np_sum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
            **kwargs: Any) -> Tensor:  # fmt: skip
    _no_extras("sum", dtype, out, kwargs)
    return rd.sum_(a, axis, keepdims)


def _np_mean(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
             **kwargs: Any) -> Tensor:  # fmt: skip
    _no_extras("mean", dtype, out, kwargs)
    return rd.mean(a, axis, keepdims)


def _np_max(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, **kwargs: Any):
    _no_extras("max", None, out, kwargs)
    return rd.max_(a, axis, keepdims)


def _np_min(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, **kwargs: Any):
    _no_extras("min", None, out, kwargs)
    return rd.min_(a, axis, keepdims)


def _np_var(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
            keepdims: bool = False, **kwargs: Any) -> Tensor:  # fmt: skip
    _no_extras("var", dtype, out, kwargs)
    return rd.var(a, axis, keepdims, ddof)


def _no_extras(name: str, dtype: Any, out: Any, kwargs: dict) -> None:
    extras = [k for k, v in (("dtype", dtype), ("out", out)) if v is not None] + list(kwargs)
    if extras:
        raise TypeError(f"np.{name} on a Tensor: unsupported arguments {extras}")


def _np_where(condition: Any, x: Any = None, y: Any = None) -> Tensor:
    if x is None or y is None:
        raise TypeError("np.where on a Tensor needs all three arguments (condition, x, y)")
    return ew.where(condition, x, y)


def _np_clip(a: Any, a_min: Any = None, a_max: Any = None, **kwargs: Any) -> Tensor:
    return ew.clip(a, kwargs.get("min", a_min), kwargs.get("max", a_max))


def _np_shape(a: Any) -> tuple:
    return np.shape(_data(a))


def _np_ndim(a: Any) -> int:
    return np.ndim(_data(a))


def _np_size(a: Any, axis: int | None = None) -> int:
    return np.size(_data(a), axis)


FUNCTIONS = {
    np.sum: _np_sum,
    np.mean: _np_mean,
    np.max: _np_max,
    np.amax: _np_max,
    np.min: _np_min,
    np.amin: _np_min,
    np.var: _np_var,
    np.reshape: _np_reshape,
    np.transpose: _np_transpose,
    np.swapaxes: sh.swapaxes,
    np.expand_dims: sh.unsqueeze,
    np.squeeze: sh.squeeze,
    np.broadcast_to: sh.broadcast_to,
    np.concatenate: sh.concatenate,
    np.stack: sh.stack,
    np.where: _np_where,
    np.clip: _np_clip,
    np.shape: _np_shape,
    np.ndim: _np_ndim,
    np.size: _np_size,
}
"""numpy function -> Tensor op (or attribute)."""


def _flat_or(a: Any, axis: Any) -> tuple:
    """numpy's axis=None means the flattened array."""
    return (sh.reshape(a, -1), 0) if axis is None else (a, axis)


def _np_cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Tensor:
    _no_extras("cumsum", dtype, out, {})
    return scan.cumsum(*_flat_or(a, axis))


def _np_cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Tensor:
    _no_extras("cumprod", dtype, out, {})
    return scan.cumprod(*_flat_or(a, axis))


def _np_prod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False,
             **kwargs: Any) -> Tensor:  # fmt: skip
    _no_extras("prod", dtype, out, kwargs)
    return reductions.prod(a, axis, keepdims)


def _np_std(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
            keepdims: bool = False, **kwargs: Any) -> Tensor:  # fmt: skip
    _no_extras("std", dtype, out, kwargs)
    return reductions.std(a, axis, correction=ddof, keepdim=keepdims)


def _np_flip(m: Any, axis: Any = None) -> Tensor:
    axes = range(np.ndim(m.data)) if axis is None else axis
    return layout.flip(m, tuple(axes) if not isinstance(axes, int) else axes)


def _np_roll(a: Any, shift: Any, axis: Any = None) -> Tensor:
    return layout.roll(a, shift, axis)


def _np_diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    return layout.diagonal(a, offset, axis1, axis2)


def _np_einsum(subscripts: str, *operands: Any, out: Any = None, **kwargs: Any) -> Tensor:
    _no_extras("einsum", None, out, {k: v for k, v in kwargs.items() if k != "optimize"})
    return einsum(subscripts, *operands)


def _np_round(a: Any, decimals: int = 0, out: Any = None) -> Tensor:
    _no_extras("round", None, out, {})
    return rounding.round_(a, decimals)


def _np_sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, **kwargs: Any):
    _no_extras("sort", None, None, {"order": order} if order is not None else {})
    return sorting.sort(*_flat_or(a, axis)).values


def _np_argsort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, **kwargs: Any):
    return sorting.argsort(*_flat_or(a, axis))


def _np_argmax(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Tensor:
    _no_extras("argmax", None, out, {})
    return reductions.argmax(a, axis, keepdims)


def _np_argmin(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Tensor:
    _no_extras("argmin", None, out, {})
    return reductions.argmin(a, axis, keepdims)


def _np_any(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Tensor:
    _no_extras("any", None, out, {})
    return reductions.any_(a, axis, keepdims)


def _np_all(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Tensor:
    _no_extras("all", None, out, {})
    return reductions.all_(a, axis, keepdims)


def _np_repeat(a: Any, repeats: Any, axis: Any = None) -> Tensor:
    return layout.repeat_interleave(a, repeats, axis)


FUNCTIONS.update(
    {
        np.cumsum: _np_cumsum,
        np.cumprod: _np_cumprod,
        np.prod: _np_prod,
        np.std: _np_std,
        np.flip: _np_flip,
        np.roll: _np_roll,
        np.tile: layout.tile,
        np.tril: layout.tril,
        np.triu: layout.triu,
        np.diag: layout.diag,
        np.diagonal: _np_diagonal,
        np.moveaxis: layout.movedim,
        np.einsum: _np_einsum,
        np.round: _np_round,
        np.around: _np_round,
        np.sort: _np_sort,
        np.argsort: _np_argsort,
        np.argmax: _np_argmax,
        np.argmin: _np_argmin,
        np.any: _np_any,
        np.all: _np_all,
        np.repeat: _np_repeat,
    }
)


def array_function(self: Tensor, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
    """numpy functions on Tensors: differentiable where a Tensor op exists (see `FUNCTIONS`)."""
    handler = FUNCTIONS.get(func)
    if handler is not None:
        return handler(*args, **kwargs)
    if _needs_grad(args) or _needs_grad(kwargs.values()):
        raise TypeError(
            f"np.{func.__name__} on a Tensor that requires grad: no differentiable Tensor op "
            "for it; use Tensor ops, or .detach() for a constant result"
        )
    return func(*_data(args), **{k: _data(v) for k, v in kwargs.items()})
