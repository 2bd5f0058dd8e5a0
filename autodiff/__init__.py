"""autodiff: a small reverse-mode automatic differentiation engine.

A graph of values records every operation; ``backward()`` applies the chain rule from an output
back to its inputs in reverse topological order.

>>> from autodiff import Value
>>> x = Value(3.0)
>>> y = 5 * x**2 + 30
>>> y.backward()
>>> x.grad
30.0
"""

# the one place the version is written: pyproject.toml reads it from here at build time
__version__ = "0.1.0"

from autodiff.chain_rule import ChainRuleTrace, TraceStep, trace
from autodiff.compiler import compile
from autodiff.creation import (
    arange,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    uniform,
    zeros,
    zeros_like,
)
from autodiff.drawing import GraphDrawing, GraphvizNotFoundWarning, draw
from autodiff.errors import DivisionByZeroError, DomainError
from autodiff.explorer import Explorer, explore
from autodiff.function import Function
from autodiff.functional import grad, hessian, hvp, jacobian, value_and_grad
from autodiff.gradcheck import GradcheckError, GradcheckReport, gradcheck
from autodiff.graph import enable_grad, is_grad_enabled, no_grad, topological_order
from autodiff.tensor import Tensor, manual_seed
from autodiff.tensor_ops.activations import (
    celu,
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    relu6,
    selu,
    silu,
    softmin,
    softplus,
    softsign,
)
from autodiff.tensor_ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from autodiff.tensor_ops.einsum import einsum
from autodiff.tensor_ops.elementwise import maximum, minimum
from autodiff.tensor_ops.embedding import embedding
from autodiff.tensor_ops.fused import linear
from autodiff.tensor_ops.indexing import (
    gather,
    index_select,
    masked_fill,
    nonzero,
    one_hot,
    scatter,
    scatter_add,
    where,
)
from autodiff.tensor_ops.layout import (
    chunk,
    diag,
    diagonal,
    flip,
    movedim,
    repeat_interleave,
    roll,
    split,
    tile,
    tril,
    triu,
    unbind,
    unfold,
)
from autodiff.tensor_ops.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)
from autodiff.tensor_ops.maths import (
    acos,
    asin,
    atan,
    atan2,
    clamp,
    cos,
    cosh,
    erf,
    erfc,
    exp2,
    expm1,
    lerp,
    log1p,
    log2,
    log10,
    logaddexp,
    rsqrt,
    sin,
    sinh,
    tan,
)
from autodiff.tensor_ops.normalization import batch_norm, layer_norm
from autodiff.tensor_ops.padding import pad
from autodiff.tensor_ops.pool import avg_pool1d, avg_pool2d, max_pool1d, max_pool2d
from autodiff.tensor_ops.reduce import amax, amin, log_softmax, logsumexp, softmax
from autodiff.tensor_ops.reductions import all_ as all  # noqa: F401 - torch.all, not star-exported
from autodiff.tensor_ops.reductions import any_ as any  # noqa: F401 - torch.any, not star-exported
from autodiff.tensor_ops.reductions import argmax, argmin, prod, std, var
from autodiff.tensor_ops.rounding import (
    ceil,
    floor,
    floor_divide,
    fmod,
    isfinite,
    isinf,
    isnan,
    remainder,
    sign,
    trunc,
)
from autodiff.tensor_ops.rounding import round_ as round  # noqa: F401 - torch.round, not star-exported
from autodiff.tensor_ops.scan import cummax, cummin, cumprod, cumsum, logcumsumexp
from autodiff.tensor_ops.shape import concatenate, stack
from autodiff.tensor_ops.sorting import ValuesIndices, argsort, sort, topk
from autodiff.value import Value

__all__ = [
    "ChainRuleTrace",
    "GraphDrawing",
    "GraphvizNotFoundWarning",
    "TraceStep",
    "draw",
    "trace",
    "Explorer",
    "explore",
    "DivisionByZeroError",
    "DomainError",
    "Function",
    "GradcheckError",
    "GradcheckReport",
    "Tensor",
    "Value",
    "arange",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "compile",
    "concatenate",
    "cross_entropy",
    "l1_loss",
    "linear",
    "mse_loss",
    "nll_loss",
    "full",
    "log_softmax",
    "amax",
    "amin",
    "logsumexp",
    "manual_seed",
    "maximum",
    "minimum",
    "ones",
    "randn",
    "softmax",
    "stack",
    "uniform",
    "where",
    "zeros",
    # creation functions beyond the ones above, PyTorch's names
    "empty",
    "empty_like",
    "eye",
    "full_like",
    "linspace",
    "ones_like",
    "rand",
    "rand_like",
    "randn_like",
    "zeros_like",
    # more tensor ops, PyTorch's names (any, all and round are attributes but not star-exported,
    # so `from autodiff import *` does not hide Python's builtins)
    "ValuesIndices",
    "acos",
    "argmax",
    "argmin",
    "argsort",
    "asin",
    "atan",
    "atan2",
    "ceil",
    "celu",
    "chunk",
    "clamp",
    "cos",
    "cosh",
    "cummax",
    "cummin",
    "cumprod",
    "cumsum",
    "diag",
    "diagonal",
    "einsum",
    "elu",
    "erf",
    "erfc",
    "exp2",
    "expm1",
    "flip",
    "floor",
    "floor_divide",
    "fmod",
    "gather",
    "gelu",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "index_select",
    "isfinite",
    "isinf",
    "isnan",
    "lerp",
    "log10",
    "log1p",
    "log2",
    "logaddexp",
    "logcumsumexp",
    "logsigmoid",
    "masked_fill",
    "mish",
    "movedim",
    "nonzero",
    "one_hot",
    "prod",
    "relu6",
    "remainder",
    "repeat_interleave",
    "roll",
    "rsqrt",
    "scatter",
    "scatter_add",
    "selu",
    "sign",
    "silu",
    "sin",
    "sinh",
    "softmin",
    "softplus",
    "softsign",
    "sort",
    "split",
    "std",
    "tan",
    "tile",
    "topk",
    "tril",
    "triu",
    "trunc",
    "unbind",
    "unfold",
    "var",
    "enable_grad",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "value_and_grad",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "topological_order",
    # convolution, pooling, padding, normalisation, embedding
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "embedding",
    "layer_norm",
    "max_pool1d",
    "max_pool2d",
    "pad",
]
