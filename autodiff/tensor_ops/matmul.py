"""Matrix product ``a @ b`` with numpy's semantics, and its backward rules.

1-D operands are promoted to matrices (a row for `a`, a column for `b`) and the added axis is
dropped again; leading (batch) axes broadcast. The rules compute the gradient for the promoted
shapes and drop the added axis; summing over broadcast batch axes happens in `_unbroadcast`.
"""

from __future__ import annotations

from typing import Any

from autodiff.tensor import Tensor, _make, _matmul, as_tensor


def _shape_error(a: Tensor, b: Tensor) -> ValueError:
    sa, sb = a.data.shape, b.data.shape
    prefix = f"matmul: {sa} @ {sb}"
    if not sa or not sb:
        return ValueError(
            f"{prefix}: both operands need at least one dimension (use * for scalars)"
        )
    inner_a = sa[-1]
    inner_b = sb[-2] if len(sb) > 1 else sb[0]
    if inner_a != inner_b:
        return ValueError(f"{prefix}: inner dimensions {inner_a} and {inner_b} differ")
    return ValueError(f"{prefix}: batch dimensions {sa[:-2]} and {sb[:-2]} do not broadcast")


def matmul(a: Tensor, b: Any) -> Tensor:
    """a @ b, as ``np.matmul``: 1-D, 2-D and batched with broadcast batch dimensions."""
    b = b if type(b) is Tensor else as_tensor(b, a, "matmul")
    try:
        data = a.data @ b.data
    except ValueError:
        raise _shape_error(a, b) from None
    return _make(data, (a, b), "matmul")


def rmatmul(a: Tensor, b: Any) -> Tensor:  # b @ a
    return matmul(as_tensor(b, a, "matmul"), a)


def _matrix_t(x: Any) -> Any:
    """The last two axes swapped (the method: np.swapaxes costs a dispatch)."""
    return x.swapaxes(-1, -2)


def matmul_grad_a(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(a @ b)/da: g @ b^T"""
    a, b = inputs
    if b.ndim == 1:
        if a.ndim == 1:  # a dot product: out is a scalar
            return g * b
        return g[..., None] * b  # outer product with the column b
    grad = g[..., None, :] if a.ndim == 1 else g
    grad = _matmul(grad, _matrix_t(b))  # np.dot when it is the same product
    return grad[..., 0, :] if a.ndim == 1 else grad


def matmul_grad_b(g: Any, inputs: tuple, out: Any, ctx: Any) -> Any:
    """d(a @ b)/db: a^T @ g"""
    a, b = inputs
    if a.ndim == 1:
        if b.ndim == 1:
            return g * a
        return a[:, None] * g[..., None, :]  # outer product with the row a
    grad = g[..., None] if b.ndim == 1 else g
    grad = _matmul(_matrix_t(a), grad)
    return grad[..., 0] if b.ndim == 1 else grad


RULES = {"matmul": (matmul_grad_a, matmul_grad_b)}


# Each edge's local derivative as a short formula, for drawings (see elementwise.EDGE_FORMULAS):
# d(x @ W)/dx is W.T, d(x @ W)/dW is x.T.
EDGE_FORMULAS = {"matmul": {"a": "{b}.T", "b": "{a}.T"}}
