"""The Tensor ops, one concept per module, each op next to its backward rule.

- `elementwise`: + - * / ** and functions of one tensor, maximum/minimum/where, comparisons;
- `reduce`: sum, mean, max, min, var, logsumexp, softmax, log_softmax;
- `shape`: reshape, transpose, expand, indexing, concatenate, stack;
- `matmul`: the matrix product;
- `fused`: linear as one node (fewer nodes on small graphs);
- `losses`: cross_entropy, nll_loss, mse_loss, l1_loss, binary cross-entropy, one node each;
- `numpy_protocol`: numpy functions on Tensors, so one rule serves ndarrays and Tensors.

`install` puts every module's rules into `autodiff.tensor.VJP_RULES` and the ops on `Tensor`
as methods and operators.
"""

from __future__ import annotations

from typing import Any

from autodiff.tensor import VJP_RULES
from autodiff.tensor_ops import elementwise, fused, losses, matmul, reduce, shape
from autodiff.tensor_ops import numpy_protocol as _protocol


def install(cls: Any) -> None:
    """Register every rule and attach the ops to `cls` (the Tensor class)."""
    for module in (elementwise, reduce, shape, matmul, fused, losses):
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
        "softplus": ew.softplus, "clip": ew.clip, "maximum": ew.maximum,
        "minimum": ew.minimum, "matmul": matmul.matmul,
        # reductions
        "sum": rd.sum_, "mean": rd.mean, "max": rd.max_, "min": rd.min_, "var": rd.var,
        "logsumexp": rd.logsumexp, "softmax": rd.softmax, "log_softmax": rd.log_softmax,
        # shape
        "reshape": sh.reshape, "squeeze": sh.squeeze, "unsqueeze": sh.unsqueeze,
        "flatten": sh.flatten, "transpose": sh.transpose, "permute": sh.transpose,
        "swapaxes": sh.swapaxes, "expand": sh.expand, "broadcast_to": sh.broadcast_to,
        # numpy interop
        "__array_ufunc__": _protocol.array_ufunc, "__array_function__": _protocol.array_function,
    }  # fmt: skip
    for name, function in methods.items():
        setattr(cls, name, function)
    cls.T = property(sh.transpose, doc="The axes reversed, as numpy's ``.T``.")
