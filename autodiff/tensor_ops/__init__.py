"""The Tensor ops, one concept per module, each op next to its backward rule.

- `elementwise`: + - * / ** and functions of one tensor, maximum/minimum/where, comparisons;
- `reduce`: sum, mean, max, min, amax, amin, var, logsumexp, softmax, log_softmax;
- `shape`: reshape, transpose, expand, indexing, concatenate, stack;
- `matmul`: the matrix product;
- `fused`: linear as one node (fewer nodes on small graphs);
- `losses`: cross_entropy, nll_loss, mse_loss, l1_loss, binary cross-entropy, one node each;
- `activations`: gelu, silu, elu, selu, celu, softsign, hardtanh, relu6, hardsigmoid,
  hardswish, mish, logsigmoid, softmin, softplus;
- `maths`: sin, cos, tan, asin, acos, atan, sinh, cosh, erf, erfc, log2, log10, log1p, exp2,
  expm1, rsqrt, logaddexp, atan2, lerp;
- `rounding`: sign, floor, ceil, round, trunc, %, //, fmod, isnan, isinf, isfinite;
- `reductions`: prod, std, any, all, argmax, argmin (and var's PyTorch-style arguments);
- `scan`: cumsum, cumprod, cummax, cummin, logcumsumexp;
- `sorting`: sort, argsort, topk;
- `indexing`: gather, scatter, scatter_add, index_select, masked_fill, one_hot, nonzero;
- `layout`: repeat, tile, repeat_interleave, flip, roll, split, chunk, unbind, tril, triu,
  diag, diagonal, unfold, movedim;
- `einsum`: einsum;
- `conv`: conv1d, conv2d, conv_transpose1d, conv_transpose2d;
- `pool`: max_pool1d, max_pool2d, avg_pool1d, avg_pool2d;
- `padding`: pad (constant, reflect, replicate, circular);
- `normalization`: batch_norm, layer_norm;
- `embedding`: embedding;
- `numpy_protocol`: numpy functions on Tensors, so one rule serves ndarrays and Tensors.

`install` puts every module's rules into `autodiff.tensor.VJP_RULES` and the ops on `Tensor`
as methods and operators.
"""

from __future__ import annotations

from typing import Any

from autodiff.tensor import VJP_RULES
from autodiff.tensor_ops import (
    activations,
    conv,
    einsum,
    elementwise,
    embedding,
    fused,
    indexing,
    layout,
    losses,
    maths,
    matmul,
    normalization,
    padding,
    pool,
    reduce,
    reductions,
    rounding,
    scan,
    shape,
    sorting,
)
from autodiff.tensor_ops import numpy_protocol as _protocol

# the ops of these modules, attached below after the original ones
_MORE = (activations, maths, rounding, reductions, scan, sorting, indexing, layout, einsum)
# convolution, pooling, padding, normalisation, embedding: functions only, as in PyTorch
_LAYERS = (conv, pool, padding, normalization, embedding)


def install(cls: Any) -> None:
    """Register every rule and attach the ops to `cls` (the Tensor class)."""
    for module in (elementwise, reduce, shape, matmul, fused, losses, *_MORE, *_LAYERS):
        overlap = VJP_RULES.keys() & module.RULES.keys()
        if overlap:  # an internal invariant: each op name has one rule
            raise RuntimeError(f"tensor ops defined twice: {sorted(overlap)}")
        VJP_RULES.update(module.RULES)

    ew, rd, sh = elementwise, reduce, shape
    methods = {
        # operators
        "__add__": ew.add, "__radd__": ew.radd, "__sub__": ew.sub, "__rsub__": ew.rsub,
        "__mul__": ew.mul, "__rmul__": ew.rmul, "__truediv__": ew.div,
        "__rtruediv__": ew.rdiv, "__neg__": ew.neg, "__pos__": ew.pos, "__pow__": ew.power,
        "__rpow__": ew.rpower, "__abs__": ew.abs_, "__matmul__": matmul.matmul,
        "__rmatmul__": matmul.rmatmul, "__getitem__": sh.getitem,
        "__lt__": ew.lt, "__le__": ew.le, "__gt__": ew.gt, "__ge__": ew.ge,
        "__eq__": ew.eq, "__ne__": ew.ne,
        # elementwise functions
        "exp": ew.exp, "log": ew.log, "sqrt": ew.sqrt, "abs": ew.abs_, "tanh": ew.tanh,
        "sigmoid": ew.sigmoid, "relu": ew.relu, "leaky_relu": ew.leaky_relu,
        "softplus": activations.softplus, "clip": ew.clip, "maximum": ew.maximum,
        "minimum": ew.minimum, "matmul": matmul.matmul,
        # reductions
        "sum": rd.sum_, "mean": rd.mean, "max": rd.max_, "min": rd.min_, "amax": rd.amax,
        "amin": rd.amin, "var": rd.var,
        "logsumexp": rd.logsumexp, "softmax": rd.softmax, "log_softmax": rd.log_softmax,
        # shape
        "reshape": sh.reshape, "squeeze": sh.squeeze, "unsqueeze": sh.unsqueeze,
        "flatten": sh.flatten, "transpose": sh.transpose, "permute": sh.transpose,
        "swapaxes": sh.swapaxes, "expand": sh.expand, "broadcast_to": sh.broadcast_to,
        # numpy interop
        "__array_ufunc__": _protocol.array_ufunc, "__array_function__": _protocol.array_function,
    }  # fmt: skip
    methods.update(_more_methods())
    for name, function in methods.items():
        setattr(cls, name, function)
    cls.T = property(sh.transpose, doc="The axes reversed, as numpy's ``.T``.")


def _more_methods() -> dict:
    """The methods PyTorch's Tensor has for the ops of `_MORE` (activations, one_hot and
    einsum are functions only, as in PyTorch)."""
    mt, ro, re, sc, so = maths, rounding, reductions, scan, sorting
    ix, ly = indexing, layout
    return {
        # operators
        "__mod__": ro.remainder, "__rmod__": ro.rremainder, "__floordiv__": ro.floor_divide,
        "__rfloordiv__": ro.rfloor_divide, "__round__": ro.round_,
        # elementwise maths
        "sin": mt.sin, "cos": mt.cos, "tan": mt.tan, "asin": mt.asin, "acos": mt.acos,
        "atan": mt.atan, "arcsin": mt.asin, "arccos": mt.acos, "arctan": mt.atan,
        "sinh": mt.sinh, "cosh": mt.cosh, "erf": mt.erf, "erfc": mt.erfc, "log2": mt.log2,
        "log10": mt.log10, "log1p": mt.log1p, "exp2": mt.exp2, "expm1": mt.expm1,
        "rsqrt": mt.rsqrt, "logaddexp": mt.logaddexp, "atan2": mt.atan2,
        "arctan2": mt.atan2, "lerp": mt.lerp, "clamp": mt.clamp,
        # rounding, remainders, tests of values
        "sign": ro.sign, "floor": ro.floor, "ceil": ro.ceil, "round": ro.round_,
        "trunc": ro.trunc, "remainder": ro.remainder, "fmod": ro.fmod,
        "floor_divide": ro.floor_divide, "isnan": ro.isnan, "isinf": ro.isinf,
        "isfinite": ro.isfinite,
        # reductions and scans
        "prod": re.prod, "std": re.std, "var": re.var, "any": re.any_, "all": re.all_,
        "argmax": re.argmax, "argmin": re.argmin, "cumsum": sc.cumsum, "cumprod": sc.cumprod,
        "cummax": sc.cummax, "cummin": sc.cummin, "logcumsumexp": sc.logcumsumexp,
        "sort": so.sort, "argsort": so.argsort, "topk": so.topk,
        # indexing
        "gather": ix.gather, "scatter": ix.scatter, "scatter_add": ix.scatter_add,
        "index_select": ix.index_select, "masked_fill": ix.masked_fill,
        "nonzero": ix.nonzero, "where": ix.tensor_where,
        # layout
        "repeat": ly.repeat, "tile": ly.tile, "repeat_interleave": ly.repeat_interleave,
        "flip": ly.flip, "roll": ly.roll, "split": ly.split, "chunk": ly.chunk,
        "unbind": ly.unbind, "tril": ly.tril, "triu": ly.triu, "diag": ly.diag,
        "diagonal": ly.diagonal, "unfold": ly.unfold, "movedim": ly.movedim,
        "moveaxis": ly.movedim,
    }  # fmt: skip
