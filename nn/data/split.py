"""`train_test_split`: hold samples out to test on, with scikit-learn's arguments and return
order. The training set finds the weights; the test set, never trained on, checks the model
(the article's "看图识字": teach with some pictures, examine with others).

>>> import numpy as np
>>> from nn.data import train_test_split
>>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
>>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, seed=0)
>>> X_train.shape, X_test.shape, y_test.shape
((7, 2), (3, 2), (3,))
>>> sorted(y_train.tolist() + y_test.tolist()) == list(range(10))
True
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = ["train_test_split"]


def _count(name: str, size: Any, n: int) -> int | None:
    """A test/train size (a fraction of `n` or a number of samples) as a number of samples."""
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, Real):
        raise TypeError(f"train_test_split: {name} must be a fraction or a count, got {size!r}")
    if isinstance(size, Integral):
        if not 0 < size < n:
            raise ValueError(
                f"train_test_split: {name}={size} must be between 1 and {n - 1} for {n} samples"
            )
        return int(size)
    if not 0.0 < size < 1.0:
        raise ValueError(f"train_test_split: {name}={size!r} as a fraction must be in (0, 1)")
    return math.ceil(size * n) if name == "test_size" else math.floor(size * n)


def _take(array: Any, index: np.ndarray) -> Any:
    if isinstance(array, np.ndarray):
        return array[index]
    return [array[i] for i in index.tolist()]  # lists stay lists, as in scikit-learn


def _stratified(labels: np.ndarray, n_take: int, rng: np.random.Generator) -> np.ndarray:
    """`n_take` indices holding each class in (nearly) its share of `labels`: every class gets
    the floor of its exact share, and the samples left go to the largest remainders."""
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    exact = counts * n_take / len(labels)
    take = np.floor(exact).astype(np.int64)
    # equal remainders are broken at random, so no class is always favoured
    by_remainder = np.lexsort((rng.random(len(classes)), -(exact - take)))
    take[by_remainder[: n_take - take.sum()]] += 1
    chosen = [rng.permutation(np.flatnonzero(inverse == k))[:t] for k, t in enumerate(take)]
    return rng.permutation(np.concatenate(chosen))


def _check_strata(labels: np.ndarray, n_train: int, n_test: int) -> None:
    classes, counts = np.unique(labels, return_counts=True)
    if counts.min() < 2:
        raise ValueError(
            f"train_test_split: class {classes[counts.argmin()]!r} has only 1 member; "
            "stratify needs at least 2 per class"
        )
    if min(n_train, n_test) < len(classes):
        raise ValueError(
            f"train_test_split: {n_train} training and {n_test} test samples cannot each "
            f"hold all {len(classes)} classes"
        )


def train_test_split(
    *arrays: Any,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    seed: int | None = None,
    shuffle: bool = True,
    stratify: Any = None,
) -> list:
    """Split arrays of the same length into train and test parts: returns
    ``[a_train, a_test, b_train, b_test, ...]`` (scikit-learn's order).

    `test_size` / `train_size`: a fraction in (0, 1) or a number of samples; with neither,
    a quarter is held out (the test part is rounded up, as scikit-learn). `seed` makes the
    split reproducible; ``shuffle=False`` trains on the first samples and tests on the next.
    `stratify` (labels, usually ``y``) keeps each class's proportion in both parts.

    >>> import numpy as np
    >>> y = np.array([0] * 8 + [1] * 4)
    >>> y_train, y_test = train_test_split(y, test_size=0.5, seed=0, stratify=y)
    >>> np.bincount(y_train).tolist(), np.bincount(y_test).tolist()
    ([4, 2], [4, 2])
    """
    if not arrays:
        raise ValueError("train_test_split: needs at least one array")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) != 1:
        raise ValueError(f"train_test_split: the arrays have different lengths {lengths}")
    n = lengths[0]
    if n < 2:
        raise ValueError(f"train_test_split: needs at least 2 samples, got {n}")
    n_test = _count("test_size", test_size, n)
    n_train = _count("train_size", train_size, n)
    if n_test is None:
        n_test = n - n_train if n_train is not None else math.ceil(0.25 * n)
    if n_train is None:
        n_train = n - n_test
    if n_train + n_test > n or n_train < 1 or n_test < 1:
        raise ValueError(
            f"train_test_split: {n_train} training + {n_test} test samples do not fit in {n} "
            "samples with at least one in each part"
        )
    if stratify is not None:
        if not shuffle:
            raise ValueError("train_test_split: stratify needs shuffle=True")
        labels = np.asarray(stratify)
        if labels.shape[:1] != (n,):
            raise ValueError(f"train_test_split: stratify has {len(labels)} labels for {n} samples")
        _check_strata(labels, n_train, n_test)
    rng = np.random.default_rng(seed)
    if not shuffle:
        train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    elif stratify is not None:
        test = _stratified(labels, n_test, rng)
        rest = np.setdiff1d(np.arange(n), test)
        train = rest[_stratified(labels[rest], n_train, rng)]
    else:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test : n_test + n_train]
    out = []
    for a in arrays:
        out += [_take(a, train), _take(a, test)]
    return out
