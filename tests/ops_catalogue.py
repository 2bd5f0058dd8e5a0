"""The catalogue of the PyTorch-style tensor ops (activations, maths, rounding, reductions,
scans, sorting, indexing, layout, einsum), shared by the property tests
(tests/test_ops_properties.py) and the PyTorch comparison (tests/test_ops_torch.py).

Each entry names the op, gives it on autodiff Tensors and (where PyTorch has the same thing) on
torch tensors, and says where its inputs come from: one domain per input (a function of a
shape strategy giving arrays, kept away from kinks, jumps and domain edges) and a strategy for
the inputs' shapes (0-d, size-1 and broadcasting included where the op allows them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import hypothesis.extra.numpy as hnp
import numpy as np
from hypothesis import strategies as st

import autodiff as ad
from autodiff.testing import arrays, broadcastable_shapes, positive_arrays, shapes

try:
    import torch
    import torch.nn.functional as F  # noqa: N812 - PyTorch's own spelling
except ImportError:  # the PyTorch comparison is skipped; everything else runs
    torch = F = None

# small shapes: a gradient check costs two evaluations per element
MAX_DIMS, MAX_SIDE = 3, 3


def any_shape(min_dims: int = 0, min_side: int = 1) -> st.SearchStrategy:
    return shapes(min_dims, MAX_DIMS, min_side, MAX_SIDE).map(lambda s: (s,))


ONE = any_shape()
AT_LEAST_1D = any_shape(1)
AT_LEAST_2D = any_shape(2)
PAIR = broadcastable_shapes(max_dims=MAX_DIMS, max_side=MAX_SIDE)
TRIPLE = hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=MAX_DIMS, max_side=MAX_SIDE).map(
    lambda r: tuple(r.input_shapes)
)
SAME_PAIR = shapes(1, MAX_DIMS, 1, MAX_SIDE).map(lambda s: (s, s))


def real(low: float = -3.0, high: float = 3.0, avoid: tuple = (), gap: float = 1e-2) -> Callable:
    return lambda s: arrays(s, low, high, avoid=avoid, gap=gap)


def positive(low: float = 0.1, high: float = 3.0) -> Callable:
    return lambda s: positive_arrays(s, low, high)


def distinct(s: Any) -> Any:
    return arrays(s, distinct=True, gap=1e-2)


REAL = real()
INTEGERS = tuple(range(-3, 4))
HALVES = tuple(k + 0.5 for k in range(-4, 4))


@dataclass(frozen=True)
class Op:
    """One catalogue entry: `fn` on autodiff Tensors, `torch_fn` on torch tensors (None where
    PyTorch has no counterpart with the same semantics), one domain per input."""

    name: str
    fn: Callable
    torch_fn: Callable | None
    domains: tuple = (REAL,)
    shapes: Any = ONE
    valid: Callable | None = None  # inputs -> bool, assumed (e.g. away from a jump)
    smooth: bool = True  # second derivatives exist off the avoided points
    torch_rtol: float = 1e-9  # float64 comparison with PyTorch
    nan_elementwise: bool = False  # a NaN input gives a NaN at the same place

    def inputs(self) -> st.SearchStrategy:
        """Lists of input arrays (float64), one per domain."""

        def arrays_for(shape_tuple: tuple) -> st.SearchStrategy:
            return st.tuples(*(domain(s) for domain, s in zip(self.domains, shape_tuple)))

        strategy = self.shapes.flatmap(arrays_for).map(list)
        return strategy if self.valid is None else strategy.filter(lambda xs: self.valid(*xs))


def _t(a: Any) -> Any:
    return torch.as_tensor(a)


def _index_for(shape: tuple, dim: int, size: int, unique: bool = False) -> np.ndarray:
    """A fixed integer index of `shape` with entries in 0..size-1 along `dim` (a permutation
    along `dim` when `unique`), the same every call for the same shapes."""
    rng = np.random.default_rng(sum(shape) * 31 + len(shape) + size)
    if not unique:
        return rng.integers(0, size, shape)
    perm = np.argsort(rng.random((*shape[:dim], size, *shape[dim + 1 :])), axis=dim)
    return np.take(perm, np.arange(shape[dim]), axis=dim)


def _gather_index(t: Any, dim: int) -> np.ndarray:
    return _index_for(tuple(t.shape), dim % len(t.shape), t.shape[dim])


def _smaller_index(t: Any) -> np.ndarray:
    # gather along 0 with an index no larger than t off dim 0 (shrunk where it can be)
    shape = (4,) + tuple(max(1, n - 1) for n in t.shape[1:])
    return _index_for(shape, 0, t.shape[0])


def _mask_for(shape: tuple) -> np.ndarray:
    return (np.arange(int(np.prod(shape))) % 3 == 1).reshape(shape)


def _away_from_jumps(quotient: Callable) -> Callable:
    """a, b -> the fractional part of quotient(a, b) is not within 1e-3 of a jump."""

    def valid(a: np.ndarray, b: np.ndarray) -> bool:
        q = quotient(a, b)
        return bool(np.all(np.abs(q - np.round(q)) > 1e-3))

    return valid


def _repeat_sizes(ndim: int) -> tuple:
    return (2,) + (1, 3, 2)[:ndim]


def _counts(n: int, wrap: Callable = list) -> Any:
    """Per-element repeat counts for n elements (one count for a single element)."""
    return wrap([2, 0, 1][:n]) if n > 1 else 3


def _pieces_weighted(pieces: Any, axis: int, cat: Callable) -> Any:
    return cat([p * float(i + 1) for i, p in enumerate(pieces)], axis)


# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------

ACTIVATIONS = [
    Op("gelu", ad.gelu, lambda t: F.gelu(t), nan_elementwise=True),
    Op("gelu tanh", lambda t: ad.gelu(t, approximate="tanh"),
       lambda t: F.gelu(t, approximate="tanh"), nan_elementwise=True),
    Op("silu", ad.silu, lambda t: F.silu(t), nan_elementwise=True),
    Op("elu", lambda t: ad.elu(t, alpha=1.3), lambda t: F.elu(t, alpha=1.3),
       (real(avoid=(0.0,)),), nan_elementwise=True),
    Op("selu", ad.selu, lambda t: F.selu(t), (real(avoid=(0.0,)),), nan_elementwise=True),
    # PyTorch's celu gradient rounds 1 / alpha to float32, even in float64
    Op("celu", lambda t: ad.celu(t, alpha=0.7), lambda t: F.celu(t, alpha=0.7),
       (real(avoid=(0.0,)),), torch_rtol=1e-7, nan_elementwise=True),
    Op("softsign", ad.softsign, lambda t: F.softsign(t), (real(avoid=(0.0,)),),
       nan_elementwise=True),
    Op("hardtanh", lambda t: ad.hardtanh(t, -0.5, 1.5), lambda t: F.hardtanh(t, -0.5, 1.5),
       (real(avoid=(-0.5, 1.5)),), smooth=False, nan_elementwise=True),
    Op("relu6", ad.relu6, lambda t: F.relu6(t), (real(-2, 8, avoid=(0.0, 6.0)),),
       smooth=False, nan_elementwise=True),
    # PyTorch's hardsigmoid gradient uses 1/6 rounded to float32, even in float64
    Op("hardsigmoid", ad.hardsigmoid, lambda t: F.hardsigmoid(t),
       (real(-5, 5, avoid=(-3.0, 3.0)),), smooth=False, torch_rtol=1e-7, nan_elementwise=True),
    Op("hardswish", ad.hardswish, lambda t: F.hardswish(t), (real(-5, 5, avoid=(-3.0, 3.0)),),
       smooth=False, nan_elementwise=True),
    Op("mish", ad.mish, lambda t: F.mish(t), nan_elementwise=True),
    Op("logsigmoid", ad.logsigmoid, lambda t: F.logsigmoid(t), nan_elementwise=True),
    Op("softmin", lambda t: ad.softmin(t, dim=-1), lambda t: F.softmin(t, dim=-1),
       shapes=AT_LEAST_1D),
    Op("softplus", lambda t: t.softplus(), lambda t: F.softplus(t), nan_elementwise=True),
    Op("softplus beta threshold", lambda t: ad.softplus(t, beta=2.0, threshold=3.0),
       lambda t: F.softplus(t, beta=2.0, threshold=3.0), (real(avoid=(1.5,)),),
       nan_elementwise=True),
]  # fmt: skip

# --------------------------------------------------------------------------------------------
# Elementwise maths
# --------------------------------------------------------------------------------------------


def _unary(name: str, domain: Callable = REAL, torch_name: str | None = None) -> Op:
    method = torch_name or name
    return Op(name, lambda t: getattr(t, name)(), lambda t: getattr(torch, method)(t),
              (domain,), nan_elementwise=True)  # fmt: skip


MATHS = [
    _unary("sin"),
    _unary("cos"),
    _unary("tan", real(-1.2, 1.2)),
    _unary("asin", real(-0.9, 0.9)),
    _unary("acos", real(-0.9, 0.9)),
    _unary("atan"),
    _unary("sinh"),
    _unary("cosh"),
    _unary("erf"),
    _unary("erfc"),
    _unary("log2", positive()),
    _unary("log10", positive()),
    _unary("log1p", real(-0.8, 3)),
    _unary("exp2"),
    _unary("expm1"),
    _unary("rsqrt", positive()),
    Op("logaddexp", ad.logaddexp, lambda a, b: torch.logaddexp(a, b), (REAL, REAL), PAIR),
    # a away from 0: atan2 jumps by 2 pi across the negative b axis
    Op("atan2", ad.atan2, lambda a, b: torch.atan2(a, b), (real(avoid=(0.0,)), REAL), PAIR),
    Op("lerp", ad.lerp, lambda s, e, w: torch.lerp(s, e, w), (REAL, REAL, REAL), TRIPLE),
    Op("lerp number weight", lambda s, e: s.lerp(e, 0.7), lambda s, e: torch.lerp(s, e, 0.7),
       (REAL, REAL), PAIR),
    Op("clamp", lambda t: t.clamp(min=-1.0, max=1.0), lambda t: t.clamp(min=-1.0, max=1.0),
       (real(avoid=(-1.0, 1.0)),), smooth=False, nan_elementwise=True),
    Op("numpy ufuncs", lambda t: np.arctan2(np.sin(t), np.cosh(t)) + np.log1p(np.exp2(t)),
       lambda t: torch.atan2(torch.sin(t), torch.cosh(t)) + torch.log1p(torch.exp2(t))),
]  # fmt: skip

# --------------------------------------------------------------------------------------------
# Rounding and remainders: zero gradients (or 1 and minus the quotient), off the jumps
# --------------------------------------------------------------------------------------------

ROUNDING = [
    Op("sign", lambda t: t.sign(), lambda t: torch.sign(t), (real(avoid=(0.0,)),),
       smooth=False),
    Op("floor", lambda t: t.floor(), lambda t: torch.floor(t), (real(avoid=INTEGERS),),
       smooth=False, nan_elementwise=True),
    Op("ceil", lambda t: t.ceil(), lambda t: torch.ceil(t), (real(avoid=INTEGERS),),
       smooth=False, nan_elementwise=True),
    Op("trunc", lambda t: t.trunc(), lambda t: torch.trunc(t), (real(avoid=INTEGERS),),
       smooth=False, nan_elementwise=True),
    Op("round", lambda t: t.round(), lambda t: torch.round(t), (real(avoid=HALVES),),
       smooth=False, nan_elementwise=True),
    Op("round decimals", lambda t: t.round(decimals=1), lambda t: torch.round(t, decimals=1),
       (real(-1, 1, avoid=tuple(np.arange(-1.05, 1.0, 0.1)), gap=1e-3),), smooth=False),
    Op("%", lambda a, b: a % b, lambda a, b: torch.remainder(a, b),
       (REAL, real(-2, 2, avoid=(0.0,), gap=0.3)), PAIR,
       valid=_away_from_jumps(lambda a, b: a / b), smooth=False),
    Op("number % tensor", lambda t: 5.0 % t,
       lambda t: torch.remainder(torch.full_like(t, 5.0), t), (positive(0.5),),
       valid=lambda b: _away_from_jumps(lambda a, b: a / b)(5.0, b), smooth=False),
    Op("fmod", ad.fmod, lambda a, b: torch.fmod(a, b), (REAL, real(-2, 2, avoid=(0.0,), gap=0.3)),
       PAIR, valid=_away_from_jumps(lambda a, b: a / b), smooth=False),
    # PyTorch has no derivative for floor division (it raises in backward)
    Op("//", lambda a, b: a // b, None, (REAL, real(-2, 2, avoid=(0.0,), gap=0.3)), PAIR,
       valid=_away_from_jumps(lambda a, b: a / b), smooth=False),
]  # fmt: skip

# --------------------------------------------------------------------------------------------
# Reductions, scans, sorting
# --------------------------------------------------------------------------------------------


def _at_least_two(*xs: np.ndarray) -> bool:
    return xs[0].size >= 2


def _last_at_least_two(*xs: np.ndarray) -> bool:
    return xs[0].ndim >= 1 and xs[0].shape[-1] >= 2


REDUCTIONS = [
    # the numpy-named reductions under PyTorch's names (dim, keepdim, (values, indices))
    Op("sum dim keepdim", lambda t: t.sum(dim=-1, keepdim=True),
       lambda t: t.sum(dim=-1, keepdim=True), shapes=AT_LEAST_1D),
    Op("sum dims", lambda t: t.sum(dim=(0, -1)), lambda t: t.sum(dim=(0, -1)),
       shapes=AT_LEAST_2D),
    Op("mean dim", lambda t: t.mean(dim=0), lambda t: t.mean(dim=0), shapes=AT_LEAST_1D),
    # max/min(dim) give ties' gradient to one index in PyTorch: distinct elements
    Op("max dim values", lambda t: t.max(dim=-1).values, lambda t: t.max(dim=-1).values,
       (distinct,)),
    Op("min dim keepdim values", lambda t: t.min(dim=0, keepdim=True).values,
       lambda t: t.min(dim=0, keepdim=True).values, (distinct,), AT_LEAST_1D),
    Op("amax dims", lambda t: ad.amax(t, dim=(0, -1)), lambda t: torch.amax(t, dim=(0, -1)),
       (distinct,), AT_LEAST_2D),
    Op("amin", lambda t: t.amin(), lambda t: t.amin(), (distinct,)),
    Op("amin dim keepdim", lambda t: t.amin(dim=-1, keepdim=True),
       lambda t: t.amin(dim=-1, keepdim=True), (distinct,), AT_LEAST_1D),
    Op("logsumexp dim", lambda t: t.logsumexp(dim=-1, keepdim=True),
       lambda t: t.logsumexp(dim=-1, keepdim=True), shapes=AT_LEAST_1D),
    Op("softmax dim", lambda t: t.softmax(dim=0), lambda t: t.softmax(dim=0),
       shapes=AT_LEAST_1D),
    Op("log_softmax dim", lambda t: ad.log_softmax(t, dim=-1),
       lambda t: torch.log_softmax(t, dim=-1), shapes=AT_LEAST_1D),
    Op("prod", lambda t: t.prod(), lambda t: t.prod()),
    Op("prod dim keepdim", lambda t: t.prod(dim=-1, keepdim=True),
       lambda t: t.prod(dim=-1, keepdim=True), shapes=AT_LEAST_1D),
    Op("prod dim 0", lambda t: ad.prod(t, 0), lambda t: torch.prod(t, 0)),
    # std has a kink where all elements are equal: distinct elements
    Op("std", lambda t: t.std(), lambda t: t.std(), (distinct,), valid=_at_least_two),
    Op("std dim correction keepdim", lambda t: t.std(dim=0, correction=0, keepdim=True),
       lambda t: t.std(dim=0, correction=0, keepdim=True), (distinct,), AT_LEAST_1D),
    Op("std dims", lambda t: t.std(dim=(0, -1)), lambda t: t.std(dim=(0, -1)), (distinct,),
       AT_LEAST_2D, valid=lambda x: x.shape[0] * x.shape[-1] >= 2),
    Op("var correction", lambda t: t.var(dim=-1, correction=1),
       lambda t: t.var(dim=-1, correction=1), shapes=AT_LEAST_1D, valid=_last_at_least_two),
    Op("cumsum", lambda t: t.cumsum(-1), lambda t: t.cumsum(-1)),
    Op("cumsum dim 0", lambda t: ad.cumsum(t, 0), lambda t: torch.cumsum(t, 0)),
    # cumprod's rule divides by x where x has no zeros (as PyTorch's): its second derivative
    # overflows for |x| < 1e-154. Exact zeros are tested in tests/test_ops_scan.py.
    Op("cumprod", lambda t: t.cumprod(-1), lambda t: t.cumprod(-1), (real(avoid=(0.0,)),)),
    Op("cumprod dim 0", lambda t: ad.cumprod(t, 0), lambda t: torch.cumprod(t, 0),
       (real(avoid=(0.0,)),)),
    Op("cummax", lambda t: t.cummax(-1).values, lambda t: t.cummax(-1).values, (distinct,),
       AT_LEAST_1D, smooth=False),
    Op("cummin dim 0", lambda t: ad.cummin(t, 0).values, lambda t: torch.cummin(t, 0).values,
       (distinct,), AT_LEAST_1D, smooth=False),
    Op("logcumsumexp", lambda t: t.logcumsumexp(-1), lambda t: t.logcumsumexp(-1)),
    Op("logcumsumexp dim 0", lambda t: ad.logcumsumexp(t, 0),
       lambda t: torch.logcumsumexp(t, 0), (real(-30, 30),)),
    Op("sort", lambda t: t.sort().values, lambda t: t.sort().values, (distinct,), AT_LEAST_1D,
       smooth=False),
    Op("sort descending dim 0", lambda t: ad.sort(t, 0, descending=True).values,
       lambda t: torch.sort(t, 0, descending=True).values, (distinct,), AT_LEAST_1D,
       smooth=False),
    Op("topk", lambda t: t.topk(min(2, t.shape[-1])).values,
       lambda t: t.topk(min(2, t.shape[-1])).values, (distinct,), AT_LEAST_1D, smooth=False),
    Op("topk smallest dim 0", lambda t: ad.topk(t, 1, dim=0, largest=False).values,
       lambda t: torch.topk(t, 1, dim=0, largest=False).values, (distinct,), AT_LEAST_1D,
       smooth=False),
    Op("numpy reductions",
       lambda t: np.cumprod(np.std(t * 2, axis=None) + np.cumsum(t, axis=0) + 10, axis=0),
       lambda t: torch.cumprod(torch.std(t * 2, correction=0) + torch.cumsum(t, 0) + 10, 0),
       # elements spread out: std's gradient (x - mean) / std of nearly equal float32 numbers
       # keeps only a few digits, more than float32's tolerance can follow through cumprod
       (distinct,), AT_LEAST_1D, valid=lambda x: x.size >= 2 and x.std() >= 0.25),
]  # fmt: skip

# --------------------------------------------------------------------------------------------
# Indexing and layout
# --------------------------------------------------------------------------------------------

INDEXING = [
    Op("gather", lambda t: t.gather(-1, _gather_index(t, -1)),
       lambda t: t.gather(-1, _t(_gather_index(t, -1))), shapes=AT_LEAST_1D),
    Op("gather smaller index", lambda t: ad.gather(t, 0, _smaller_index(t)),
       lambda t: torch.gather(t, 0, _t(_smaller_index(t))), shapes=AT_LEAST_1D),
    Op("index_select", lambda t: t.index_select(0, np.array([0, t.shape[0] - 1, 0])),
       lambda t: t.index_select(0, _t(np.array([0, t.shape[0] - 1, 0]))), shapes=AT_LEAST_1D),
    Op("scatter", lambda x, s: x.scatter(-1, _index_for(s.shape, s.ndim - 1, s.shape[-1], True), s),
       lambda x, s: x.scatter(-1, _t(_index_for(tuple(s.shape), s.ndim - 1, s.shape[-1], True)), s),
       (REAL, REAL), SAME_PAIR),
    Op("scatter_add", lambda x, s: ad.scatter_add(x, 0, _index_for(s.shape, 0, s.shape[0]), s),
       lambda x, s: torch.scatter_add(x, 0, _t(_index_for(tuple(s.shape), 0, s.shape[0])), s),
       (REAL, REAL), SAME_PAIR),
    Op("scatter value", lambda x: ad.scatter(x, 0, _index_for(x.shape, 0, x.shape[0], True), 2.5),
       lambda x: torch.scatter(x, 0, _t(_index_for(tuple(x.shape), 0, x.shape[0], True)), 2.5),
       shapes=AT_LEAST_1D),
    Op("masked_fill", lambda t: t.masked_fill(_mask_for(t.shape), -1.5),
       lambda t: t.masked_fill(_t(_mask_for(tuple(t.shape))), -1.5)),
    Op("masked_fill tensor value", lambda t, v: ad.masked_fill(t, _mask_for(t.shape), v * v),
       lambda t, v: t.masked_fill(_t(_mask_for(tuple(t.shape))), v * v), (REAL, REAL),
       shapes(0, MAX_DIMS, 1, MAX_SIDE).map(lambda s: (s, ()))),
    Op("repeat", lambda t: t.repeat(*_repeat_sizes(t.ndim)),
       lambda t: t.repeat(*_repeat_sizes(t.ndim))),
    Op("tile", lambda t: ad.tile(t, (2,)), lambda t: torch.tile(t, (2,))),
    Op("repeat_interleave", lambda t: t.repeat_interleave(2),
       lambda t: t.repeat_interleave(2)),
    Op("repeat_interleave counts", lambda t: t.repeat_interleave(_counts(t.shape[0]), dim=0),
       lambda t: t.repeat_interleave(_counts(t.shape[0], _t), dim=0), shapes=AT_LEAST_1D),
    Op("flip", lambda t: t.flip(0, -1), lambda t: t.flip(0, -1), shapes=AT_LEAST_2D),
    Op("flip one dim", lambda t: ad.flip(t, -1), lambda t: torch.flip(t, (-1,)),
       shapes=AT_LEAST_1D),
    Op("roll", lambda t: t.roll(1, 0), lambda t: t.roll(1, 0), shapes=AT_LEAST_1D),
    Op("roll flat", lambda t: ad.roll(t, -2), lambda t: torch.roll(t, -2)),
    Op("roll two dims", lambda t: t.roll((1, -2), (0, -1)), lambda t: t.roll((1, -2), (0, -1)),
       shapes=AT_LEAST_2D),
    Op("split", lambda t: _pieces_weighted(t.split(2, -1), -1, ad.concatenate),
       lambda t: _pieces_weighted(t.split(2, -1), -1, torch.cat), shapes=AT_LEAST_1D),
    Op("split sections",
       lambda t: _pieces_weighted(ad.split(t, [1, t.shape[0] - 1]), 0, ad.concatenate),
       lambda t: _pieces_weighted(torch.split(t, [1, t.shape[0] - 1]), 0, torch.cat),
       shapes=AT_LEAST_1D),
    Op("chunk", lambda t: _pieces_weighted(t.chunk(2, 0), 0, ad.concatenate),
       lambda t: _pieces_weighted(t.chunk(2, 0), 0, torch.cat), shapes=AT_LEAST_1D),
    Op("unbind", lambda t: _pieces_weighted(t.unbind(-1), 0, ad.stack),
       lambda t: _pieces_weighted(t.unbind(-1), 0, torch.stack), shapes=AT_LEAST_1D),
    Op("tril", lambda t: t.tril(), lambda t: t.tril(), shapes=AT_LEAST_2D),
    Op("tril -1", lambda t: ad.tril(t, -1), lambda t: torch.tril(t, -1), shapes=AT_LEAST_2D),
    Op("triu 1", lambda t: t.triu(1), lambda t: t.triu(1), shapes=AT_LEAST_2D),
    Op("diag of a vector", lambda t: ad.diag(t, 1), lambda t: torch.diag(t, 1),
       shapes=shapes(1, 1, 1, MAX_SIDE).map(lambda s: (s,))),
    Op("diag of a matrix", lambda t: t.diag(-1), lambda t: t.diag(-1),
       shapes=shapes(2, 2, 1, MAX_SIDE).map(lambda s: (s,))),
    Op("diagonal", lambda t: t.diagonal(), lambda t: t.diagonal(), shapes=AT_LEAST_2D),
    Op("diagonal offset dims", lambda t: t.diagonal(1, 0, -1), lambda t: t.diagonal(1, 0, -1),
       shapes=AT_LEAST_2D),
    Op("unfold", lambda t: t.unfold(-1, 2, 1), lambda t: t.unfold(-1, 2, 1),
       shapes=AT_LEAST_1D, valid=_last_at_least_two),
    Op("unfold step", lambda t: t.unfold(0, 1, 2), lambda t: t.unfold(0, 1, 2),
       shapes=AT_LEAST_1D),
    Op("movedim", lambda t: t.movedim(0, -1), lambda t: t.movedim(0, -1), shapes=AT_LEAST_1D),
    Op("numpy layout", lambda t: np.roll(np.flip(np.tile(t, 2), axis=0), 1, axis=0),
       lambda t: torch.roll(torch.flip(torch.tile(t, (2,)), (0,)), 1, 0), shapes=AT_LEAST_1D),
]  # fmt: skip

# --------------------------------------------------------------------------------------------
# einsum: subscripts and the size of each label; 1 marks a dim that broadcasts
# --------------------------------------------------------------------------------------------

EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 2)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->i", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ij", [(2, 2, 3)]),
    ("ii,ij->j", [(2, 2), (2, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
    ("...i,...i->...", [(1, 3), (2, 3)]),
    ("i...->...", [(2, 3, 1)]),
    ("...ii->...i", [(2, 3, 3)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("i,i,i->i", [(3,), (3,), (3,)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 2), (1, 2, 2, 2)]),
    ("ab,cd->", [(2, 2), (3, 1)]),
    ("->", [()]),
    ("i,->i", [(3,), ()]),
    ("ij,ji->", [(2, 3), (3, 2)]),
    ("Ab,bA", [(2, 3), (3, 2)]),
]

CATALOGUE = ACTIVATIONS + MATHS + ROUNDING + REDUCTIONS + INDEXING
