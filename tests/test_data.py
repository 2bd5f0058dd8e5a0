"""nn.data: every sample once per epoch in mini-batches, reproducible shuffles, train/test
splits that keep class proportions, the toy data sets, and scikit-learn's digits."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import nn
from nn.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
    load_digits,
    make_blobs,
    make_circles,
    make_moons,
    make_spiral,
    make_xor,
    pig_farm,
    pig_sales,
    train_test_split,
)

# --- DataLoader -----------------------------------------------------------------------------


def epoch(loader):
    """The labels one epoch yields, batch by batch."""
    return [yb.tolist() for _, yb in loader]


@given(
    n=st.integers(0, 120),
    batch_size=st.integers(1, 50),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_every_sample_once_per_epoch_in_batches_of_batch_size(
    n, batch_size, shuffle, drop_last, seed
):
    X = np.arange(2 * n, dtype=np.float64).reshape(n, 2)
    y = np.arange(n)
    loader = DataLoader((X, y), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                        seed=seed)  # fmt: skip
    expected_batches = n // batch_size if drop_last else -(-n // batch_size)
    assert len(loader) == expected_batches
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == expected_batches
        sizes = [len(yb) for _, yb in batches]
        assert all(size == batch_size for size in sizes[:-1])
        if batches:
            assert sizes[-1] == (batch_size if drop_last else n - batch_size * (len(sizes) - 1))
        seen = np.concatenate([yb for _, yb in batches]) if batches else np.array([], int)
        assert len(set(seen.tolist())) == len(seen)  # none twice
        if not drop_last:
            assert sorted(seen.tolist()) == list(range(n))  # all of them
        if not shuffle:
            assert seen.tolist() == list(range(len(seen)))
        for xb, yb in batches:  # rows stay with their labels
            np.testing.assert_array_equal(xb, X[yb])
            assert xb.dtype == np.float64 and yb.dtype == y.dtype


def test_shuffles_differ_across_epochs_and_repeat_across_runs():
    X, y = np.zeros((50, 1)), np.arange(50)
    first = DataLoader((X, y), batch_size=8, shuffle=True, seed=7)
    second = DataLoader((X, y), batch_size=8, shuffle=True, seed=7)
    epochs = [epoch(first) for _ in range(3)]
    assert epochs[0] != epochs[1] != epochs[2] != epochs[0]
    assert [epoch(second) for _ in range(3)] == epochs  # epoch k is the same in every run
    other_seed = DataLoader((X, y), batch_size=8, shuffle=True, seed=8)
    assert epoch(other_seed) != epochs[0]
    unseeded = [DataLoader((X, y), batch_size=8, shuffle=True) for _ in range(2)]
    assert epoch(unseeded[0]) != epoch(unseeded[1])  # a fresh seed each (1 in 50! to clash)


def test_without_a_seed_the_shuffle_follows_autodiff_manual_seed_as_pytorchs():
    import autodiff

    X, y = np.zeros((50, 1)), np.arange(50)
    runs = []
    for _ in range(2):
        autodiff.manual_seed(4)
        loader = DataLoader((X, y), batch_size=8, shuffle=True)
        runs.append([epoch(loader) for _ in range(2)])
    assert runs[0] == runs[1] and runs[0][0] != runs[0][1]
    autodiff.manual_seed(5)
    assert epoch(DataLoader((X, y), batch_size=8, shuffle=True)) != runs[0][0]


def test_a_resumed_sampler_repeats_the_epoch():
    sampler = RandomSampler(20, seed=3)
    orders = [list(sampler) for _ in range(4)]
    resumed = RandomSampler(20, seed=3)
    resumed.epoch = 2
    assert list(resumed) == orders[2]


def test_dataset_forms():
    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    # one array: batches are arrays, not 1-tuples
    batches = list(DataLoader(X, batch_size=4))
    assert isinstance(batches[0], np.ndarray) and batches[1].shape == (2, 2)
    # a TensorDataset, Tensors accepted as arrays
    from autodiff import Tensor

    data = TensorDataset(Tensor(X), y)
    assert [b[1].tolist() for b in DataLoader(data, batch_size=4)] == [[0, 1, 2, 3], [4, 5]]

    # any object with __len__/__getitem__ returning tuples (PyTorch's map-style data sets)
    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], dtype=np.float64), i % 2

    xb, yb = next(iter(DataLoader(Squares(), batch_size=3)))
    np.testing.assert_array_equal(xb, [[0, 0], [1, 1], [2, 4]])
    assert yb.tolist() == [0, 1, 0] and yb.dtype == np.int64

    class Records:
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return {"x": float(i), "label": i}

    batch = next(iter(DataLoader(Records(), batch_size=2)))
    assert batch["x"].tolist() == [0.0, 1.0] and batch["label"].tolist() == [0, 1]


def test_samplers_and_batch_sampler():
    assert list(SequentialSampler(np.zeros(3))) == [0, 1, 2] and len(SequentialSampler(3)) == 3
    batches = BatchSampler([4, 3, 2, 1, 0], batch_size=2, drop_last=True)  # any iterable
    assert [b.tolist() for b in batches] == [[4, 3], [2, 1]] and len(batches) == 2
    loader = DataLoader((np.arange(5),), batch_size=2, sampler=[4, 0, 2])
    assert [b[0].tolist() for b in loader] == [[4, 0], [2]]


def test_batches_match_torchs_data_loader():
    torch = pytest.importorskip("torch")
    for n, batch_size, drop_last in [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False)]:
        ours = DataLoader((np.arange(n),), batch_size=batch_size, drop_last=drop_last)
        theirs = torch.utils.data.DataLoader(torch.arange(n), batch_size=batch_size,
                                             drop_last=drop_last)  # fmt: skip
        assert len(ours) == len(theirs)
        assert [b[0].tolist() for b in ours] == [b.tolist() for b in theirs]


@pytest.mark.parametrize(
    "make, error, text",
    [
        (lambda d: DataLoader(d, batch_size=0), ValueError, "batch_size.*0"),
        (lambda d: DataLoader(d, batch_size=-2), ValueError, "-2"),
        (lambda d: DataLoader(d, batch_size=2.5), ValueError, "2.5"),
        (lambda d: DataLoader(d, batch_size=True), ValueError, "True"),
        (lambda d: DataLoader((np.zeros(3), np.zeros(4))), ValueError, r"\[\(3,\), \(4,\)\]"),
        (lambda d: DataLoader((np.zeros(3), np.array(1.0))), ValueError, r"\(\)"),
        (lambda d: DataLoader(()), ValueError, "at least one array"),
        (lambda d: DataLoader(42), TypeError, "int"),
        (lambda d: DataLoader(d, shuffle=True, sampler=[0]), ValueError, "mutually exclusive"),
        (lambda d: DataLoader(d, shuffle=True, seed=-1), ValueError, "-1"),
        (lambda d: RandomSampler(object()), TypeError, "object"),
    ],
)
def test_loader_errors(make, error, text):
    with pytest.raises(error, match=text):
        make((np.zeros((4, 2)), np.zeros(4)))


# --- train_test_split -----------------------------------------------------------------------


def test_split_sizes_order_and_alignment():
    X, y = np.arange(40).reshape(20, 2), np.arange(20)
    X_train, X_test, y_train, y_test = train_test_split(X, y, seed=0)
    assert (len(X_train), len(X_test)) == (15, 5)  # a quarter by default
    np.testing.assert_array_equal(X_train[:, 0], 2 * y_train)
    np.testing.assert_array_equal(X_test[:, 0], 2 * y_test)
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(20))
    assert [len(a) for a in train_test_split(y, test_size=0.33)] == [13, 7]  # ceil(6.6)
    assert [len(a) for a in train_test_split(y, test_size=4)] == [16, 4]
    assert [len(a) for a in train_test_split(y, train_size=0.5)] == [10, 10]
    assert [len(a) for a in train_test_split(y, train_size=5, test_size=3)] == [5, 3]


def test_split_sizes_match_scikit_learns():
    sklearn_split = pytest.importorskip("sklearn.model_selection").train_test_split
    for n in (2, 3, 7, 10, 101):
        for test_size in (None, 0.1, 0.25, 0.5, 0.9, 1, 5):
            y = np.arange(n)
            try:
                theirs = [len(a) for a in sklearn_split(y, test_size=test_size, random_state=0)]
            except ValueError:  # an empty part: refused by both
                with pytest.raises(ValueError):
                    train_test_split(y, test_size=test_size, seed=0)
                continue
            ours = [len(a) for a in train_test_split(y, test_size=test_size, seed=0)]
            assert ours == theirs, (n, test_size)


def test_seeded_splits_repeat_and_seeds_differ():
    y = np.arange(30)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(train_test_split(y, seed=1), train_test_split(y, seed=1))
    )
    assert not np.array_equal(train_test_split(y, seed=1)[1], train_test_split(y, seed=2)[1])


def test_without_shuffle_the_order_is_kept_and_lists_stay_lists():
    train, test = train_test_split(list("abcdefgh"), test_size=0.25, shuffle=False)
    assert (train, test) == (list("abcdef"), ["g", "h"])


@given(
    counts=st.lists(st.integers(2, 40), min_size=2, max_size=5),
    test_size=st.floats(0.1, 0.9),
    seed=st.integers(0, 1000),
)
def test_stratified_splits_keep_each_class_share(counts, test_size, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    n = len(y)
    n_test = int(np.ceil(test_size * n))
    if min(n_test, n - n_test) < len(counts):
        with pytest.raises(ValueError, match="cannot each hold all|do not fit"):
            train_test_split(y, test_size=test_size, seed=seed, stratify=y)
        return
    y_train, y_test = train_test_split(y, test_size=test_size, seed=seed, stratify=y)
    assert len(y_test) == n_test and len(y_train) == n - n_test
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == sorted(y.tolist())
    share = np.array(counts) * n_test / n
    got = np.bincount(y_test, minlength=len(counts))
    # each class gets its exact share rounded down or up, and the samples left over go to the
    # largest remainders: no class rounded up has a smaller remainder than one rounded down
    assert np.all((got == np.floor(share)) | (got == np.ceil(share)))
    remainder = share - np.floor(share)
    up = got > np.floor(share)
    if up.any() and (~up).any():
        assert remainder[up].min() >= remainder[~up].max() - 1e-12


def test_stratified_proportions_on_unbalanced_classes():
    y = np.array([0] * 90 + [1] * 10)
    X = np.arange(100)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, seed=0, stratify=y)
    assert np.bincount(y_test).tolist() == [18, 2] and np.bincount(y_train).tolist() == [72, 8]
    np.testing.assert_array_equal(y[X_test], y_test)
    # shares 3.5, 0.75, 0.75 of 5 test samples: the two left over go to the 0.75s
    y = np.array([0] * 14 + [1] * 3 + [2] * 3)
    assert np.bincount(train_test_split(y, test_size=5, seed=0, stratify=y)[1]).tolist() == [
        3, 1, 1]  # fmt: skip


@pytest.mark.parametrize(
    "call, error, text",
    [
        (lambda: train_test_split(), ValueError, "at least one array"),
        (lambda: train_test_split(np.zeros(4), np.zeros(5)), ValueError, r"\[4, 5\]"),
        (lambda: train_test_split(np.zeros(1)), ValueError, "at least 2 samples"),
        (lambda: train_test_split(np.zeros(4), test_size=1.5), ValueError, "1.5"),
        (lambda: train_test_split(np.zeros(4), test_size=4), ValueError, "test_size=4"),
        (lambda: train_test_split(np.zeros(4), test_size="half"), TypeError, "half"),
        (lambda: train_test_split(np.zeros(4), test_size=3, train_size=3), ValueError, "fit"),
        (
            lambda: train_test_split(np.zeros(4), shuffle=False, stratify=[0, 0, 1, 1]),
            ValueError,
            "shuffle=True",
        ),  # fmt: skip
        (lambda: train_test_split(np.zeros(4), stratify=[0, 0, 1]), ValueError, "3 labels"),
        (
            lambda: train_test_split(np.zeros(5), stratify=[0, 0, 0, 0, 1], test_size=2),
            ValueError,
            "only 1 member",
        ),  # fmt: skip
    ],
)
def test_split_errors(call, error, text):
    with pytest.raises(error, match=text):
        call()


# --- toy data sets --------------------------------------------------------------------------

CLASSIFICATION = {
    "make_moons": lambda seed: make_moons(60, noise=0.1, seed=seed),
    "make_circles": lambda seed: make_circles(60, noise=0.05, seed=seed),
    "make_spiral": lambda seed: make_spiral(60, n_classes=4, seed=seed),
    "make_blobs": lambda seed: make_blobs(60, centers=3, n_features=5, seed=seed),
    "make_xor": lambda seed: make_xor(60, noise=0.1, seed=seed),
}


@pytest.mark.parametrize("name", sorted(CLASSIFICATION))
def test_toy_data_shapes_dtypes_labels_and_seeds(name):
    X, y = CLASSIFICATION[name](0)
    k = {"make_spiral": 4, "make_blobs": 3}.get(name, 2)
    assert X.shape == (60, 5 if name == "make_blobs" else 2) and X.dtype == np.float64
    assert y.shape == (60,) and y.dtype == np.int64
    if name == "make_xor":  # labels follow the points
        assert set(y.tolist()) == {0, 1}
    else:
        assert np.bincount(y).tolist() == [60 // k] * k
    again, _ = CLASSIFICATION[name](0)
    other, _ = CLASSIFICATION[name](1)
    np.testing.assert_array_equal(X, again)
    assert not np.array_equal(X, other)


def test_make_moons_numbers_are_unchanged():
    X, y = make_moons(7, noise=0.1, seed=3)
    expected = [[1.478440283691, -0.568024016699], [1.976806762236, 0.413478692373],
                [-0.667700048336, 0.022578661323], [-0.035263079434, 0.971871258185],
                [0.433195365389, -0.471540458905], [-0.039080097723, 0.548194538851],
                [0.976144639343, 0.095775870296]]  # fmt: skip
    np.testing.assert_allclose(X, expected, atol=1e-12)
    assert y.tolist() == [1, 1, 0, 0, 1, 1, 0]
    assert nn.make_moons is make_moons and nn.datasets.make_moons is make_moons


def test_the_geometry_of_each_toy_set():
    X, y = make_circles(100, factor=0.3, seed=0)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0)
    np.testing.assert_allclose(radius[y == 1], 0.3)
    X, y = make_spiral(300, n_classes=3, noise=0.0, seed=0)
    angle, radius = np.arctan2(X[:, 0], X[:, 1]), np.hypot(X[:, 0], X[:, 1])
    for k in range(3):  # arm k: angle = 2 pi k / 3 + 4 r
        arm = y == k
        turned = np.angle(np.exp(1j * (angle[arm] - 2 * np.pi * k / 3 - 4 * radius[arm])))
        np.testing.assert_allclose(turned[radius[arm] > 0], 0.0, atol=1e-9)
    X, y = make_blobs(300, centers=[[0.0, 0.0], [10.0, 0.0]], cluster_std=0.5, seed=0)
    np.testing.assert_allclose(X[y == 1].mean(axis=0), [10.0, 0.0], atol=0.15)
    np.testing.assert_allclose(X[y == 0].std(axis=0), [0.5, 0.5], atol=0.1)
    X, y = make_blobs(50, centers=4, n_features=3, center_box=(5.0, 6.0), cluster_std=0.0)
    assert X.min() >= 5.0 and X.max() <= 6.0
    X, y = make_xor(500, seed=0)
    assert np.all(y == ((X[:, 0] > 0) ^ (X[:, 1] > 0))) and np.abs(X).max() <= 1.0


def test_the_articles_pig_data():
    X, y = pig_sales(years=5)
    assert X.shape == (5, 1) and y.tolist() == [30.0, 40.0, 50.0, 60.0, 70.0]
    X, y = pig_sales(years=50, noise=2.0, seed=0)
    slope = np.polyfit(X[:, 0], y, 1)[0]
    assert abs(slope - 10.0) < 0.2  # dy/dx = 10 through the noise
    X, y = pig_farm(200, seed=0)
    x1, x2, x3 = X.T
    np.testing.assert_allclose(y, 5 * x1**2 + 8 * x2 + 35 * x3 + 30)
    assert np.all(x3 == np.round(x3)) and x3.min() >= 1 and x3.max() <= 20
    assert x1.min() >= 0 and x1.max() <= 10 and y.dtype == np.float64
    noisy = pig_farm(200, noise=1.0, seed=0)[1]
    assert 0.5 < np.std(noisy - y) < 1.5


@pytest.mark.parametrize(
    "call, text",
    [
        (lambda: make_circles(1), "n_samples"),
        (lambda: make_circles(10, factor=1.0), "factor"),
        (lambda: make_spiral(2, n_classes=3), "n_samples"),
        (lambda: make_spiral(10, n_classes=0), "n_classes"),
        (lambda: make_blobs(10, centers=0), "centers"),
        (lambda: make_blobs(10, centers=np.zeros(3)), "shape"),
        (lambda: make_blobs(10, cluster_std=-1.0), "cluster_std"),
        (lambda: make_xor(10, noise=-0.1), "-0.1"),
        (lambda: pig_sales(years=0), "years"),
        (lambda: pig_farm(n_samples=2.5), "2.5"),
    ],
)
def test_toy_data_errors(call, text):
    with pytest.raises(ValueError, match=text):
        call()


# --- scikit-learn's digits ------------------------------------------------------------------


def test_load_digits():
    pytest.importorskip("sklearn")
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64 and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert sorted(set(y.tolist())) == list(range(10)) and y[:3].tolist() == [0, 1, 2]
    bunch = load_digits(return_X_y=False)
    assert bunch["images"].shape == (1797, 8, 8)
    np.testing.assert_array_equal(bunch["images"][5].ravel(), X[5])


def test_load_digits_without_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn...` fail
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r'pip install "autodiff\[data\]"'):
        load_digits()
