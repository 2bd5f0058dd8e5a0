"""Mini-batches, as ``torch.utils.data``: a sampler says *which* samples an epoch visits and in
what order; `BatchSampler` cuts that order into batches; `DataLoader` gathers each batch.

Batches are numpy arrays. The loader cannot know whether a batch should become Tensors, scalar
Values or stay arrays (labels usually should), and ``Tensor(batch)`` wraps an array without
copying it, so turning a batch into Tensors is the training loop's one-line choice.

>>> import numpy as np
>>> from nn.data import DataLoader
>>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
>>> for xb, yb in DataLoader((X, y), batch_size=2):
...     print(xb.tolist(), yb.tolist())
[[0.0, 1.0], [2.0, 3.0]] [0, 1]
[[4.0, 5.0], [6.0, 7.0]] [2, 3]
[[8.0, 9.0]] [4]
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from autodiff.tensor import _rng_of

__all__ = ["BatchSampler", "DataLoader", "RandomSampler", "SequentialSampler", "TensorDataset"]


def _length(owner: str, data_source: Any) -> int:
    """How many samples: `data_source` is a count or anything with a length."""
    if isinstance(data_source, (int, np.integer)) and not isinstance(data_source, bool):
        n = int(data_source)
    else:
        try:
            n = len(data_source)
        except TypeError:
            raise TypeError(
                f"{owner}: expected a data set (with len()) or a number of samples, got "
                f"{type(data_source).__name__}"
            ) from None
    if n < 0:
        raise ValueError(f"{owner}: the number of samples must be >= 0, got {n}")
    return n


def _check_seed(owner: str, seed: Any) -> None:
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise ValueError(f"{owner}: seed must be None or an integer >= 0, got {seed!r}")


class TensorDataset:
    """Arrays of the same length seen as samples: ``dataset[i]`` is ``(X[i], y[i], ...)``, and
    an index array gives a whole batch at once (fancy indexing, no loop over samples).

    >>> import numpy as np
    >>> data = TensorDataset(np.zeros((3, 2)), np.array([7, 8, 9]))
    >>> len(data), int(data[1][1]), data[np.array([2, 0])][1].tolist()
    (3, 8, [9, 7])
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset: needs at least one array")
        arrays = tuple(np.asarray(a.data if hasattr(a, "_prev") else a) for a in arrays)
        shapes = [a.shape for a in arrays]
        if any(not shape for shape in shapes) or len({shape[0] for shape in shapes}) != 1:
            raise ValueError(
                "TensorDataset: every array must hold the same number of samples along its "
                f"first axis, got shapes {shapes}"
            )
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: Any) -> tuple:
        return tuple(a[index] for a in self.arrays)


class SequentialSampler:
    """The samples in order, 0 to n - 1, every epoch. `data_source`: a data set or a count.

    >>> list(SequentialSampler(4))
    [0, 1, 2, 3]
    """

    def __init__(self, data_source: Any) -> None:
        self.num_samples = _length("SequentialSampler", data_source)

    def indices(self) -> np.ndarray:
        """This epoch's order, as an int64 array."""
        return np.arange(self.num_samples, dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class RandomSampler:
    """Every sample once per epoch, in a new random order each epoch. The order of epoch k
    depends only on (`seed`, k), so a seeded run repeats exactly, and so does a resumed one
    (set ``epoch`` to the next epoch to draw). Without a seed, one is drawn from the generator
    `autodiff.manual_seed` seeds, as PyTorch's sampler draws from ``torch.manual_seed``'s: after
    ``manual_seed(0)`` a run repeats exactly.

    >>> sampler = RandomSampler(5, seed=0)
    >>> first, second = list(sampler), list(sampler)
    >>> sorted(first) == sorted(second) == [0, 1, 2, 3, 4], first != second
    (True, True)
    >>> list(RandomSampler(5, seed=0)) == first       # the same seed: the same epochs
    True
    """

    def __init__(self, data_source: Any, seed: int | None = None) -> None:
        self.num_samples = _length("RandomSampler", data_source)
        _check_seed("RandomSampler", seed)
        if seed is None:
            seed = _rng_of(None).integers(2**63)
        self.seed = int(seed)
        self.epoch = 0  # the epoch the next indices() call draws

    def indices(self) -> np.ndarray:
        """The next epoch's order, as an int64 array (and count the epoch)."""
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        return rng.permutation(self.num_samples).astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler:
    """Cut each epoch's order from `sampler` into index arrays of `batch_size` (the last one
    shorter, or dropped with `drop_last`).

    >>> [b.tolist() for b in BatchSampler(SequentialSampler(5), batch_size=2, drop_last=False)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Any, batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise ValueError(
                f"BatchSampler: batch_size must be a positive integer, got {batch_size!r}"
            )
        if batch_size < 1:
            raise ValueError(
                f"BatchSampler: batch_size must be a positive integer, got {batch_size!r}"
            )
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = bool(drop_last)

    def __iter__(self) -> Iterator[np.ndarray]:
        sampler = self.sampler
        if hasattr(sampler, "indices"):
            order = sampler.indices()
        else:  # any iterable of indices, as PyTorch's samplers
            order = np.fromiter(iter(sampler), dtype=np.int64)
        size = self.batch_size
        stop = len(order) - len(order) % size if self.drop_last else len(order)
        for start in range(0, stop, size):
            yield order[start : start + size]

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DataLoader:
    """Iterate over `dataset` in mini-batches; each ``for`` loop over the loader is one epoch.

    `dataset` is a tuple of arrays of the same length (``(X, y)``: batches are tuples of
    arrays), one array (batches are arrays), a `TensorDataset`, or any object with ``len()``
    and ``dataset[i]`` returning a sample or a tuple (PyTorch's map-style data sets; a batch
    stacks the samples' fields). With ``shuffle=True`` each epoch visits the samples in a new
    order, the same in every run for the same `seed` (or, without one, after the same
    `autodiff.manual_seed`); `sampler` picks another order instead.
    ``len(loader)`` is the number of batches per epoch.

    >>> import numpy as np
    >>> X, y = np.random.default_rng(0).normal(size=(100, 2)), np.arange(100)
    >>> loader = DataLoader((X, y), batch_size=32, shuffle=True, seed=0)
    >>> len(loader), [len(yb) for _, yb in loader]
    (4, [32, 32, 32, 4])
    >>> seen = np.concatenate([yb for _, yb in loader])      # the second epoch: every sample
    >>> sorted(seen.tolist()) == list(range(100))             # exactly once
    True
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        *,
        sampler: Any = None,
        drop_last: bool = False,
        seed: int | None = None,
    ) -> None:
        self._single = isinstance(dataset, np.ndarray)
        if isinstance(dataset, tuple) or self._single:
            dataset = TensorDataset(*(dataset if isinstance(dataset, tuple) else (dataset,)))
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                "DataLoader: dataset must be a tuple of arrays, an array, or have __len__ and "
                f"__getitem__, got {type(dataset).__name__}"
            )
        if sampler is not None and (shuffle or seed is not None):
            raise ValueError("DataLoader: sampler is mutually exclusive with shuffle and seed")
        self.dataset = dataset
        if sampler is None:
            sampler = RandomSampler(dataset, seed) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        self.batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = self.batch_sampler.batch_size
        self.drop_last = self.batch_sampler.drop_last

    def __len__(self) -> int:
        return len(self.batch_sampler)

    def __iter__(self) -> Iterator[Any]:
        dataset = self.dataset
        if isinstance(dataset, TensorDataset):
            arrays = dataset.arrays
            for index in self.batch_sampler:
                batch = tuple(a[index] for a in arrays)
                yield batch[0] if self._single else batch
        else:
            for index in self.batch_sampler:
                yield _collate([dataset[i] for i in index.tolist()])


def _collate(samples: list) -> Any:
    """Stack samples into a batch: field by field for tuples and dicts, else as one array."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        return tuple(_collate(list(field)) for field in zip(*samples))
    if isinstance(first, dict):
        return {key: _collate([s[key] for s in samples]) for key in first}
    return np.stack([np.asarray(s.data if hasattr(s, "_prev") else s) for s in samples])
