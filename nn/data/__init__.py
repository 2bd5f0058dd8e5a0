"""nn.data: data to train on: toy data sets, train/test splits, and mini-batches.

>>> from nn.data import DataLoader, make_moons, train_test_split
>>> X, y = make_moons(100, seed=0)
>>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0, stratify=y)
>>> loader = DataLoader((X_train, y_train), batch_size=32, shuffle=True, seed=0)
>>> len(loader), [len(xb) for xb, yb in loader]
(3, [32, 32, 16])
"""

from nn.data.datasets import (
    load_digits,
    make_blobs,
    make_circles,
    make_moons,
    make_spiral,
    make_xor,
    pig_farm,
    pig_sales,
)
from nn.data.loader import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset
from nn.data.split import train_test_split

__all__ = [
    "BatchSampler",
    "DataLoader",
    "RandomSampler",
    "SequentialSampler",
    "TensorDataset",
    "load_digits",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spiral",
    "make_xor",
    "pig_farm",
    "pig_sales",
    "train_test_split",
]
