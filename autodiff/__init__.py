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
from autodiff.drawing import GraphDrawing, GraphvizNotFoundWarning, draw
from autodiff.errors import DivisionByZeroError, DomainError
from autodiff.function import Function
from autodiff.functional import grad, hessian, hvp, jacobian, value_and_grad
from autodiff.gradcheck import GradcheckError, GradcheckReport, gradcheck
from autodiff.graph import enable_grad, is_grad_enabled, no_grad, topological_order
from autodiff.tensor import Tensor, arange, full, manual_seed, ones, randn, uniform, zeros
from autodiff.tensor_ops.elementwise import maximum, minimum, where
from autodiff.tensor_ops.fused import cross_entropy, linear, mse_loss
from autodiff.tensor_ops.reduce import log_softmax, logsumexp, softmax
from autodiff.tensor_ops.shape import concatenate, stack
from autodiff.value import Value

__all__ = [
    "ChainRuleTrace",
    "GraphDrawing",
    "GraphvizNotFoundWarning",
    "TraceStep",
    "draw",
    "trace",
    "DivisionByZeroError",
    "DomainError",
    "Function",
    "GradcheckError",
    "GradcheckReport",
    "Tensor",
    "Value",
    "arange",
    "concatenate",
    "cross_entropy",
    "linear",
    "mse_loss",
    "full",
    "log_softmax",
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
]
