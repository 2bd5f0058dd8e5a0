"""Small data sets made with numpy (nothing is downloaded), each seedable: classification sets
return ``X`` (float64, one row per sample) and labels ``y`` (int64, 0 to k - 1); the article's
pig-farm regressions return float64 targets. `load_digits` reads scikit-learn's bundled digits.

>>> from nn.data import make_spiral
>>> X, y = make_spiral(90, n_classes=3, seed=0)
>>> X.shape, X.dtype, y.dtype, sorted(set(y.tolist()))
((90, 2), dtype('float64'), dtype('int64'), [0, 1, 2])
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Sequence

import numpy as np

__all__ = [
    "load_digits",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spiral",
    "make_xor",
    "pig_farm",
    "pig_sales",
]


def _check_count(owner: str, name: str, n: Any, low: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}, got {n!r}")


def _check_noise(owner: str, noise: Any, name: str = "noise") -> None:
    if isinstance(noise, bool) or not isinstance(noise, Real) or not noise >= 0:
        raise ValueError(f"{owner}: {name} must be a number >= 0, got {noise!r}")


def _split(n_samples: int, k: int) -> list[int]:
    """`n_samples` shared among `k` groups as evenly as possible (the first get the extra)."""
    return [n_samples // k + (i < n_samples % k) for i in range(k)]


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


def make_circles(
    n_samples: int = 100, noise: float = 0.0, factor: float = 0.8, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A large circle (label 0) around a smaller one (label 1, radius `factor`), shuffled, with
    Gaussian noise of standard deviation `noise`: no straight line separates them.

    >>> X, y = make_circles(8, factor=0.5, seed=0)
    >>> sorted(np.round(np.hypot(X[:, 0], X[:, 1]), 6).tolist())
    [0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0]
    """
    _check_count("make_circles", "n_samples", n_samples, 2)
    _check_noise("make_circles", noise)
    if isinstance(factor, bool) or not isinstance(factor, Real) or not 0 <= factor < 1:
        raise ValueError(f"make_circles: factor must be in [0, 1), got {factor!r}")
    rng = np.random.default_rng(seed)
    n_outer, n_inner = _split(n_samples, 2)
    outer = np.linspace(0, 2 * np.pi, n_outer, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n_inner, endpoint=False)
    X = np.concatenate(
        [
            np.stack([np.cos(outer), np.sin(outer)], axis=1),
            factor * np.stack([np.cos(inner), np.sin(inner)], axis=1),
        ]
    )
    y = np.repeat(np.arange(2, dtype=np.int64), [n_outer, n_inner])
    order = rng.permutation(n_samples)
    return X[order] + rng.normal(scale=noise, size=X.shape), y[order]


def make_spiral(
    n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """`n_classes` interleaved spiral arms (one class each) winding out from the origin, the
    classic data set a linear classifier cannot learn (CS231n's). Each arm's angle gets
    Gaussian noise of standard deviation `noise` radians. Samples come arm by arm, unshuffled.

    >>> X, y = make_spiral(6, n_classes=2, noise=0.0, seed=0)
    >>> y.tolist()
    [0, 0, 0, 1, 1, 1]
    >>> np.round(np.hypot(X[:, 0], X[:, 1]), 3).tolist()   # radius 0 to 1 along each arm
    [0.0, 0.5, 1.0, 0.0, 0.5, 1.0]
    """
    _check_count("make_spiral", "n_classes", n_classes, 1)
    _check_count("make_spiral", "n_samples", n_samples, n_classes)
    _check_noise("make_spiral", noise)
    rng = np.random.default_rng(seed)
    turn = 2 * np.pi / n_classes
    parts = []
    for k, n in enumerate(_split(n_samples, n_classes)):
        radius = np.linspace(0.0, 1.0, n)
        angle = k * turn + radius * 4.0 + rng.normal(scale=noise, size=n)
        parts.append(radius[:, None] * np.stack([np.sin(angle), np.cos(angle)], axis=1))
    y = np.repeat(np.arange(n_classes, dtype=np.int64), _split(n_samples, n_classes))
    return np.concatenate(parts), y


def make_blobs(
    n_samples: int = 100,
    centers: int | Sequence[Sequence[float]] = 3,
    n_features: int = 2,
    cluster_std: float = 1.0,
    center_box: tuple[float, float] = (-10.0, 10.0),
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters, one class each, shuffled: `centers` is a count (centres drawn
    uniformly in `center_box`) or the centres themselves, one row each.

    >>> X, y = make_blobs(200, centers=[[0.0, 0.0], [5.0, 5.0]], cluster_std=0.5, seed=0)
    >>> np.round(X[y == 1].mean(axis=0)).tolist()
    [5.0, 5.0]
    """
    _check_count("make_blobs", "n_samples", n_samples, 1)
    _check_noise("make_blobs", cluster_std, "cluster_std")
    rng = np.random.default_rng(seed)
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        _check_count("make_blobs", "centers", centers, 1)
        _check_count("make_blobs", "n_features", n_features, 1)
        low, high = center_box
        if not low <= high:
            raise ValueError(f"make_blobs: center_box must be (low, high), got {center_box!r}")
        points = rng.uniform(low, high, size=(centers, n_features))
    else:
        points = np.asarray(centers, dtype=np.float64)
        if points.ndim != 2 or not len(points):
            raise ValueError(
                f"make_blobs: centers must be a count or rows of coordinates, got shape "
                f"{points.shape}"
            )
    counts = _split(n_samples, len(points))
    X = np.repeat(points, counts, axis=0) + rng.normal(
        scale=cluster_std, size=(n_samples, points.shape[1])
    )
    y = np.repeat(np.arange(len(points), dtype=np.int64), counts)
    order = rng.permutation(n_samples)
    return X[order], y[order]


def make_xor(
    n_samples: int = 100, noise: float = 0.0, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform in the square [-1, 1]^2, labelled 1 where exactly one coordinate is
    positive (XOR of the signs); Gaussian noise of std `noise` is added after labelling.
    The smallest problem a single neuron cannot solve.

    >>> X, y = make_xor(200, seed=0)
    >>> bool(np.all(y == ((X[:, 0] > 0) != (X[:, 1] > 0))))
    True
    """
    _check_count("make_xor", "n_samples", n_samples, 1)
    _check_noise("make_xor", noise)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(np.int64)
    return X + rng.normal(scale=noise, size=X.shape), y


def pig_sales(
    years: int = 10, noise: float = 0.0, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The article's first example: Wang Xiao'er sells 30 pigs in his first year and 10 more
    every year after, y = 10 x + 30, with x = 0, 1, ... the years since he started. Returns
    ``X`` of shape (years, 1) and sales ``y`` (float64), plus Gaussian noise of std `noise`.

    >>> X, y = pig_sales(years=4)
    >>> X.ravel().tolist(), y.tolist()
    ([0.0, 1.0, 2.0, 3.0], [30.0, 40.0, 50.0, 60.0])
    """
    _check_count("pig_sales", "years", years, 1)
    _check_noise("pig_sales", noise)
    rng = np.random.default_rng(seed)
    x = np.arange(years, dtype=np.float64)
    return x[:, None], 10.0 * x + 30.0 + rng.normal(scale=noise, size=years)


def pig_farm(
    n_samples: int = 100, noise: float = 0.0, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The article's pig farm as a regression data set: y = 5 x1^2 + 8 x2 + 35 x3 + 30 pigs
    sold, with x1 the years (uniform in [0, 10]), x2 the farm's area (uniform in [1, 10]) and
    x3 the employees (whole numbers 1 to 20). ``X`` has columns x1, x2, x3; `noise` adds
    Gaussian noise of that std to y (float64).

    >>> X, y = pig_farm(3, seed=0)
    >>> bool(np.allclose(y, 5 * X[:, 0] ** 2 + 8 * X[:, 1] + 35 * X[:, 2] + 30))
    True
    """
    _check_count("pig_farm", "n_samples", n_samples, 1)
    _check_noise("pig_farm", noise)
    rng = np.random.default_rng(seed)
    years = rng.uniform(0.0, 10.0, n_samples)
    area = rng.uniform(1.0, 10.0, n_samples)
    employees = rng.integers(1, 21, n_samples).astype(np.float64)
    y = 5 * years**2 + 8 * area + 35 * employees + 30 + rng.normal(scale=noise, size=n_samples)
    return np.stack([years, area, employees], axis=1), y


def load_digits(return_X_y: bool = True) -> Any:
    """scikit-learn's bundled 8x8 images of handwritten digits (1797 of them; nothing is
    downloaded): ``X`` of shape (1797, 64) scaled to [0, 1] (float64) and labels ``y`` 0-9
    (int64). With ``return_X_y=False``, a dict with "data", "target", "images" (1797, 8, 8)
    and "target_names". Needs scikit-learn: ``pip install "autodiff[data]"``.

    >>> X, y = load_digits()                         # doctest: +SKIP
    >>> X.shape, float(X.max()), y[:5].tolist()      # doctest: +SKIP
    ((1797, 64), 1.0, [0, 1, 2, 3, 4])
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as error:
        raise ImportError(
            "load_digits reads the digits that ship with scikit-learn, which is not installed: "
            'pip install "autodiff[data]" (or pip install scikit-learn)'
        ) from error
    X, y = sklearn_digits(return_X_y=True)
    X = np.asarray(X, dtype=np.float64) / 16.0  # pixel intensities are 0..16
    y = np.asarray(y, dtype=np.int64)
    if return_X_y:
        return X, y
    return {"data": X, "target": y, "images": X.reshape(-1, 8, 8), "target_names": np.arange(10)}
