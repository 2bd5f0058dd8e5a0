"""`Embedding`: a lookup table of vectors, one row per index, as PyTorch's ``nn.Embedding``
(the function is `autodiff.embedding`).

Rows start from N(0, 1), PyTorch's default, with the `padding_idx` row (if any) zero; that row
gets no gradient, so it stays zero while the others train.

>>> import numpy as np
>>> from nn import Embedding
>>> table = Embedding(10, 3, padding_idx=0, rng=0)
>>> table
Embedding(10, 3, padding_idx=0)
>>> table(np.array([[1, 2, 0]])).shape, table.weight.data[0]
((1, 3, 3), array([0., 0., 0.], dtype=float32))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autodiff import Tensor, embedding
from nn import init
from nn.module import Module


class Embedding(Module):
    """``Embedding(num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
    norm_type=2.0, scale_grad_by_freq=False, sparse=False)``: called on integer indices of any
    shape, it returns their rows, shaped ``indices.shape + (embedding_dim,)``.

    >>> import numpy as np
    >>> from autodiff import Tensor
    >>> words = Embedding(5, 2, rng=0)
    >>> words(np.array([4, 4])).sum().backward()
    >>> words.weight.grad[4]  # picked twice
    array([2., 2.], dtype=float32)
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
        sparse: bool = False, _weight: Any = None, dtype: Any = np.float32, rng: Any = None,
    ) -> None:  # fmt: skip
        for name, n in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Embedding: {name} must be a positive int, got {n!r}")
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
                raise TypeError(f"Embedding: padding_idx must be an int or None, got "
                                f"{padding_idx!r}")  # fmt: skip
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} must be within "
                                 f"num_embeddings ({num_embeddings})")  # fmt: skip
            padding_idx = int(padding_idx) % num_embeddings
        if sparse:
            raise ValueError("Embedding: sparse gradients are not supported; use sparse=False")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            self.weight = Tensor(np.zeros(shape, dtype), requires_grad=True)
            self.reset_parameters(rng)
        else:
            data = np.asarray(_weight.data if isinstance(_weight, Tensor) else _weight)
            if data.shape != shape:
                raise ValueError(f"Embedding: _weight must have shape {shape}, got {data.shape}")
            self.weight = Tensor(data.copy(), requires_grad=True)

    def reset_parameters(self, rng: Any = None) -> None:
        """Rows from N(0, 1) again, the padding row zero."""
        init.normal_(self.weight, rng=init._generator(rng, "Embedding"))
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None,
        max_norm: float | None = None, norm_type: float = 2.0,
        scale_grad_by_freq: bool = False, sparse: bool = False,
    ) -> Embedding:  # fmt: skip
        """An Embedding holding `embeddings` (rows, dim), frozen (no gradient) unless
        ``freeze=False``.

        >>> import numpy as np
        >>> Embedding.from_pretrained(np.eye(3))(np.array([2])).data
        array([[0., 0., 1.]])
        """
        data = np.asarray(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if data.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{data.shape}")  # fmt: skip
        table = cls(data.shape[0], data.shape[1], padding_idx, max_norm, norm_type,
                    scale_grad_by_freq, sparse, _weight=data, dtype=data.dtype)  # fmt: skip
        table.weight.requires_grad_(not freeze)
        return table

    def forward(self, indices: Any) -> Tensor:
        return embedding(indices, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)  # fmt: skip

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text
