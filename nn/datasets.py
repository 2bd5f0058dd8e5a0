"""Small synthetic data sets, made here so that nothing is downloaded."""

from __future__ import annotations

import numpy as np


def make_moons(
    n_samples: int = 100, noise: float = 0.1, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (the data of micrograd's demo), shuffled, with Gaussian noise.

    Returns ``X`` of shape (n_samples, 2) and labels ``y`` in {0, 1}.

    >>> X, y = make_moons(10, seed=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((10, 2), [0, 1])
    """
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"make_moons: n_samples must be an integer >= 2, got {n_samples!r}")
    if noise < 0:
        raise ValueError(f"make_moons: noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    outer = np.linspace(0, np.pi, n_outer)
    inner = np.linspace(0, np.pi, n_inner)
    X = np.concatenate(
        [
            np.stack([np.cos(outer), np.sin(outer)], axis=1),
            np.stack([1 - np.cos(inner), 1 - np.sin(inner) - 0.5], axis=1),
        ]
    )
    y = np.concatenate([np.zeros(n_outer, dtype=np.int64), np.ones(n_inner, dtype=np.int64)])
    order = rng.permutation(n_samples)
    X, y = X[order], y[order]
    X = X + rng.normal(scale=noise, size=X.shape)
    return X, y
