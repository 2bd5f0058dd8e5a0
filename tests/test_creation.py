"""The creation functions: values, dtypes, shapes, requires_grad, seeding, every error, and
PyTorch's numbers for eye, linspace and arange (when torch is installed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff as ad
from autodiff import Tensor

SIZED = [ad.zeros, ad.ones, ad.empty, ad.rand, ad.randn]
LIKE = [ad.zeros_like, ad.ones_like, ad.empty_like, ad.rand_like, ad.randn_like]


# --------------------------------------------------------------------------------------------
# zeros, ones, empty, full, eye
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", SIZED)
def test_sizes_as_arguments_or_one_tuple(make) -> None:
    for args in [(2, 3), ((2, 3),), ([2, 3],), (np.int64(2), 3)]:
        t = make(*args)
        assert isinstance(t, Tensor) and t.shape == (2, 3) and t.dtype == np.float64
        assert not t.requires_grad
    assert make().shape == () and make(0, 4).shape == (0, 4)
    assert make(2, dtype=np.float32).dtype == np.float32
    assert make(2, requires_grad=True).requires_grad


def test_filled_values() -> None:
    assert ad.zeros(2, 2).data.tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert ad.ones(3).data.tolist() == [1.0, 1.0, 1.0]
    assert ad.empty(2).data.tolist() == [0.0, 0.0]  # zeros here, never garbage
    ints = ad.ones(2, dtype=np.int64)
    assert ints.dtype == np.int64 and ints.data.tolist() == [1, 1]
    assert ad.ones(2, dtype="float32").dtype == np.float32
    assert ad.zeros(2, dtype=bool).data.tolist() == [False, False]


def test_full_takes_its_dtype_from_the_value_as_pytorch() -> None:
    assert ad.full((2, 2), 7.0).data.tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert ad.full((2,), 7.0).dtype == np.float64
    assert ad.full((2,), 7).dtype == np.int64 and ad.full((2,), 7).data.tolist() == [7, 7]
    assert ad.full((2,), True).dtype == np.bool_
    assert ad.full(3, 0.5).shape == (3,) and ad.full([], 2.0).shape == ()
    assert ad.full((2,), 7, dtype=np.float32).dtype == np.float32
    assert np.isnan(ad.full((1,), math.nan).data).all()
    assert ad.full((1,), 2.0, requires_grad=True).requires_grad


def test_eye() -> None:
    np.testing.assert_array_equal(ad.eye(3).data, np.eye(3))
    wide = ad.eye(2, 4)
    assert wide.shape == (2, 4) and wide.data.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0]]
    assert ad.eye(3, 1).data.tolist() == [[1.0], [0.0], [0.0]]
    assert ad.eye(0).shape == (0, 0) and ad.eye(3, 0).shape == (3, 0)
    assert ad.eye(2, dtype=np.int64).dtype == np.int64
    assert ad.eye(2).dtype == np.float64 and ad.eye(2, requires_grad=True).requires_grad


# --------------------------------------------------------------------------------------------
# arange and linspace
# --------------------------------------------------------------------------------------------


def test_arange_dtype_follows_the_arguments() -> None:
    three = ad.arange(3)
    assert three.dtype == np.int64 and three.data.tolist() == [0, 1, 2]
    assert ad.arange(2, 8, 3).data.tolist() == [2, 5]
    assert ad.arange(5, 0, -2).data.tolist() == [5, 3, 1]
    assert ad.arange(3.0).dtype == np.float64 and ad.arange(3.0).data.tolist() == [0.0, 1.0, 2.0]
    assert ad.arange(0, 3, 1.0).dtype == np.float64  # any float argument: a float result
    assert ad.arange(1, 2, 0.5).data.tolist() == [1.0, 1.5]
    assert ad.arange(3, dtype=np.float32).dtype == np.float32
    assert ad.arange(np.int32(2)).dtype == np.int64
    assert ad.arange(4, 4).shape == (0,)
    assert ad.arange(1.5, requires_grad=True).requires_grad


def test_arange_elements_are_start_plus_i_step() -> None:
    t = ad.arange(1, 0, -0.3)
    assert t.shape == (4,)  # 1, 0.7, 0.4, 0.1 (not 0.1 - 0.3 < 0)
    assert t.data.tolist() == [1 + i * -0.3 for i in range(4)]
    # an int dtype truncates the arguments first, as PyTorch
    assert ad.arange(-1.5, 2, dtype=np.int64).data.tolist() == [-1, 0, 1]


@given(st.integers(-50, 50), st.integers(-50, 50), st.integers(-7, 7).filter(lambda s: s != 0))
def test_arange_ints_match_python_range(start: int, end: int, step: int) -> None:
    if (step > 0 and end < start) or (step < 0 and end > start):
        with pytest.raises(ValueError, match="arange: end"):
            ad.arange(start, end, step)
    else:
        assert ad.arange(start, end, step).data.tolist() == list(range(start, end, step))


def test_linspace() -> None:
    assert ad.linspace(0, 1, 5).data.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert ad.linspace(0, 1, 5).dtype == np.float64
    assert ad.linspace(2, 3, 1).data.tolist() == [2.0]
    assert ad.linspace(2, 3, 0).shape == (0,)
    assert ad.linspace(1, 0, 3).data.tolist() == [1.0, 0.5, 0.0]  # counting down
    assert ad.linspace(0, 10, 4, dtype=np.int64).data.tolist() == [0, 3, 6, 10]
    assert ad.linspace(-10, 0, 4, dtype=np.int64).data.tolist() == [-10, -6, -3, 0]  # truncated
    assert ad.linspace(0, 1, 3, dtype=np.float32).dtype == np.float32
    assert np.isnan(ad.linspace(0, math.nan, 3).data).all()
    assert ad.linspace(0, 1, 2, requires_grad=True).requires_grad


@given(
    st.floats(-1e6, 1e6), st.floats(-1e6, 1e6), st.integers(2, 60),
    st.sampled_from([np.float32, np.float64]),
)  # fmt: skip
def test_linspace_ends_are_exact_and_steps_even(start, end, steps, dtype) -> None:
    data = ad.linspace(start, end, steps, dtype=dtype).data
    assert data.shape == (steps,) and data.dtype == dtype
    assert data[0] == dtype(start) and data[-1] == dtype(end)
    scale = max(abs(start), abs(end), 1.0) * np.finfo(dtype).eps * 8
    np.testing.assert_allclose(np.diff(data), (dtype(end) - dtype(start)) / (steps - 1),
                               rtol=0, atol=scale)  # fmt: skip


# --------------------------------------------------------------------------------------------
# rand, randn, uniform: ranges, dtypes and seeding
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_rand_is_uniform_on_0_1(dtype) -> None:
    x = ad.rand(20_000, dtype=dtype, rng=0).data
    assert x.dtype == dtype and x.min() >= 0 and x.max() < 1
    assert abs(x.astype(np.float64).mean() - 0.5) < 0.01
    assert abs(x.astype(np.float64).var() - 1 / 12) < 0.005


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_randn_is_standard_normal(dtype) -> None:
    x = ad.randn(20_000, dtype=dtype, rng=0).data.astype(np.float64)
    assert ad.randn(2, dtype=dtype).dtype == dtype
    assert abs(x.mean()) < 0.03 and abs(x.std() - 1) < 0.03


@pytest.mark.parametrize("make", [ad.rand, ad.randn, lambda *s, **k: ad.uniform(s, **k)])
def test_random_draws_from_the_seeded_generator(make) -> None:
    ad.manual_seed(11)
    first = make(2, 3).data
    second = make(2, 3).data
    assert not np.array_equal(first, second)  # the generator moves on
    ad.manual_seed(11)
    np.testing.assert_array_equal(make(2, 3).data, first)
    np.testing.assert_array_equal(make(2, 3, rng=5).data, make(2, 3, rng=5).data)
    gen = np.random.default_rng(5)
    np.testing.assert_array_equal(make(2, 3, rng=gen).data, make(2, 3, rng=5).data)
    assert not np.array_equal(make(2, 3, rng=gen).data, make(2, 3, rng=5).data)


def test_rand_and_randn_draw_numpys_numbers() -> None:
    np.testing.assert_array_equal(ad.rand(4, rng=3).data, np.random.default_rng(3).random(4))
    np.testing.assert_array_equal(
        ad.randn(4, rng=3).data, np.random.default_rng(3).standard_normal(4)
    )


# --------------------------------------------------------------------------------------------
# *_like
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", LIKE)
def test_like_takes_shape_and_dtype_of_the_input(make) -> None:
    for source in [Tensor(np.ones((2, 3), np.float32)), np.ones((2, 3), np.float32)]:
        t = make(source)
        assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad
    assert make([[1, 2], [3, 4]]).dtype == np.float64  # a list as Tensor() takes it
    assert make(2.0).shape == ()
    assert make(ad.zeros(3), dtype=np.float32).dtype == np.float32
    assert make(ad.zeros(3), requires_grad=True).requires_grad
    source = Tensor([1.0, 2.0], requires_grad=True)
    assert not make(source).requires_grad  # like PyTorch: not inherited


def test_like_values() -> None:
    ints = ad.arange(4)
    assert ad.zeros_like(ints).data.tolist() == [0, 0, 0, 0]
    assert ad.zeros_like(ints).dtype == np.int64
    assert ad.ones_like(ints).data.tolist() == [1, 1, 1, 1]
    assert ad.empty_like(ints).data.tolist() == [0, 0, 0, 0]
    assert ad.full_like(ints, 2.7).data.tolist() == [2, 2, 2, 2]  # the input's dtype, as torch
    assert ad.full_like(ints, 2.7, dtype=np.float64).data.tolist() == [2.7] * 4
    assert ad.full_like(ad.zeros(2), 5, requires_grad=True).data.tolist() == [5.0, 5.0]
    assert ad.zeros_like(ints, dtype=np.float64).dtype == np.float64
    x = ad.rand_like(ad.zeros(10_000), rng=0).data
    assert x.min() >= 0 and x.max() < 1
    np.testing.assert_array_equal(x, ad.rand(10_000, rng=0).data)
    np.testing.assert_array_equal(ad.randn_like(ad.zeros(5), rng=2).data, ad.randn(5, rng=2).data)
    ad.manual_seed(4)
    first = ad.randn_like(ad.zeros(3)).data
    ad.manual_seed(4)
    np.testing.assert_array_equal(ad.randn(3).data, first)


# --------------------------------------------------------------------------------------------
# errors: each names the function and the value
# --------------------------------------------------------------------------------------------

ERRORS = [
    (lambda: ad.zeros(-1, 2), ValueError, r"zeros: sizes must be non-negative, got -1"),
    (lambda: ad.ones(2.5), TypeError, r"ones: sizes must be ints, got 2\.5"),
    (lambda: ad.empty(True), TypeError, r"empty: sizes must be ints, got True"),
    (lambda: ad.rand((2, "3")), TypeError, r"rand: sizes must be ints, got '3'"),
    (lambda: ad.randn(-3), ValueError, r"randn: sizes must be non-negative, got -3"),
    (lambda: ad.uniform((2, -1)), ValueError, r"uniform: sizes must be non-negative, got -1"),
    (lambda: ad.full((-2,), 1.0), ValueError, r"full: sizes must be non-negative, got -2"),
    (lambda: ad.full((2,), "a"), TypeError, r"full: fill_value must be a real number, got str"),
    (lambda: ad.full((2,), None), TypeError, r"full: fill_value must be a real number"),
    (lambda: ad.full((2,), math.nan, dtype=np.int64), ValueError, r"full: fill_value nan"),
    (lambda: ad.full((2,), 300, dtype=np.uint8), ValueError, r"full: fill_value 300 is out of"),
    (lambda: ad.zeros(2, dtype="floaty"), TypeError, r"zeros: dtype must be a numpy dtype"),
    (lambda: ad.ones(2, dtype=np.complex128), TypeError, r"ones: dtype must be bool, an int"),
    (lambda: ad.eye(-1), ValueError, r"eye: n must be non-negative, got -1"),
    (lambda: ad.eye(2, -3), ValueError, r"eye: m must be non-negative, got -3"),
    (lambda: ad.eye(2.0), TypeError, r"eye: n must be an int, got float 2\.0"),
    (lambda: ad.arange(0, 1, 0), ValueError, r"arange: step must be nonzero, got 0"),
    (lambda: ad.arange(0, 1, 0.0), ValueError, r"arange: step must be nonzero, got 0\.0"),
    (lambda: ad.arange(0, 2.5, 0.5, dtype=np.int64), ValueError, r"arange: step must be non"),
    (lambda: ad.arange(0, -5), ValueError, r"arange: end -5 is on the wrong side of start 0"),
    (lambda: ad.arange(5, 0, 1.0), ValueError, r"arange: end 0 is on the wrong side"),
    (lambda: ad.arange(0, math.inf), ValueError, r"arange: unsupported range 0 -> inf"),
    (lambda: ad.arange(math.nan), ValueError, r"arange: unsupported range 0 -> nan"),
    (lambda: ad.arange("a"), TypeError, r"arange: end must be a real number, got str 'a'"),
    (lambda: ad.arange(0, 3, None), TypeError, r"arange: step must be a real number"),
    (lambda: ad.arange(3, dtype=bool), TypeError, r"arange: dtype bool is not supported"),
    (lambda: ad.linspace(0, 1, -1), ValueError, r"linspace: steps must be non-negative, got -1"),
    (lambda: ad.linspace(0, 1, 2.0), TypeError, r"linspace: steps must be an int, got float"),
    (lambda: ad.linspace("0", 1, 2), TypeError, r"linspace: start must be a real number"),
    (lambda: ad.linspace(0, [1], 2), TypeError, r"linspace: end must be a real number"),
    (lambda: ad.linspace(0, math.inf, 2, dtype=np.int64), ValueError, r"linspace: start 0 and"),
    (lambda: ad.rand(2, dtype=np.int64), TypeError, r"rand: random numbers need a floating"),
    (lambda: ad.randn(2, dtype=bool), TypeError, r"randn: random numbers need a floating"),
    (lambda: ad.uniform(2, dtype=np.int64), TypeError, r"uniform: random numbers need a float"),
    (lambda: ad.rand_like(ad.arange(3)), TypeError, r"rand_like: random numbers need a float"),
    (lambda: ad.randn_like(ad.arange(3)), TypeError, r"randn_like: random numbers need a flo"),
    (lambda: ad.zeros_like("ab"), TypeError, r"zeros_like: input must be a Tensor or an array"),
    (lambda: ad.ones_like(None), TypeError, r"ones_like: input must be a Tensor or an array"),
    (lambda: ad.full_like(ad.zeros(2), "x"), TypeError, r"full_like: fill_value must be a real"),
    (lambda: ad.empty_like([[1], [2, 3]]), TypeError, r"empty_like: input must be a Tensor"),
    (lambda: ad.zeros_like(ad.zeros(2), dtype="x"), TypeError, r"zeros_like: dtype must be a"),
]


@pytest.mark.parametrize(("call", "error", "message"), ERRORS)
def test_bad_arguments_raise_clear_errors(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "call",
    [
        lambda: ad.zeros(2, dtype=np.int64, requires_grad=True),
        lambda: ad.arange(3, requires_grad=True),
        lambda: ad.eye(2, dtype=np.int32, requires_grad=True),
        lambda: ad.full((2,), 1, requires_grad=True),
        lambda: ad.linspace(0, 4, 3, dtype=np.int64, requires_grad=True),
        lambda: ad.zeros_like(ad.arange(3), requires_grad=True),
        lambda: ad.ones(2, dtype=bool, requires_grad=True),
    ],
)
def test_requires_grad_needs_a_float_dtype(call) -> None:
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        call()


def test_exported_from_autodiff() -> None:
    names = [
        "eye",
        "linspace",
        "rand",
        "empty",
        "zeros_like",
        "ones_like",
        "full_like",
        "rand_like",
        "randn_like",
        "empty_like",
        "arange",
        "zeros",
        "ones",
        "full",
        "randn",
    ]
    for name in names:
        assert name in ad.__all__ and callable(getattr(ad, name))


# --------------------------------------------------------------------------------------------
# against PyTorch
# --------------------------------------------------------------------------------------------

LINSPACE = [
    (0, 1, 0),
    (0, 1, 1),
    (3.5, -1, 1),
    (0, 1, 2),
    (0, 1, 5),
    (0, 1, 7),
    (-3.3, 7.1, 11),
    (1e-3, 1e3, 101),
    (0, 10, 4),
    (5, -5, 9),
    (0.1, 0.7, 100),
    (1, 1, 3),
    (-10, 0, 4),
]
ARANGE = [
    (5,),
    (3.0,),
    (2, 9),
    (2, 9, 3),
    (9, 2, -3),
    (-4, -20, -5),
    (0, 1, 0.1),
    (1, 0, -0.3),
    (-2.5, 3, 0.7),
    (0.1, 0.9, 0.1),
    (1e-3, 1, 1e-2),
    (-5, -50, -0.37),
    (4, 4),
    (2.5, 2.5),
]


def _torch_dtypes(torch):
    return [(None, None), (np.float64, torch.float64), (np.float32, torch.float32),
            (np.int64, torch.int64)]  # fmt: skip


def _assert_matches(ours: Tensor, theirs, dtype) -> None:
    """The same dtype (PyTorch's float32 default being our float64), length and ends; the rest
    within a few units in the last place (PyTorch's vectorised loop rounds a little apart)."""
    expected = theirs.numpy()
    if dtype is None and expected.dtype == np.float32:
        assert ours.dtype == np.float64
        expected = expected.astype(np.float64)
        assert ours.shape == expected.shape
        np.testing.assert_allclose(ours.data, expected, rtol=1e-6, atol=1e-6)
        return
    assert ours.dtype == expected.dtype and ours.shape == expected.shape
    if expected.size == 0:
        return
    if expected.dtype.kind != "f":
        np.testing.assert_array_equal(ours.data, expected)
        return
    assert ours.data.flat[0] == expected.flat[0]
    scale = np.abs(expected).max() * np.finfo(expected.dtype).eps * 4
    np.testing.assert_allclose(ours.data, expected, rtol=0, atol=scale)


@pytest.mark.parametrize("args", LINSPACE)
def test_linspace_matches_torch(args) -> None:
    torch = pytest.importorskip("torch")
    for ours, theirs in _torch_dtypes(torch):
        got = ad.linspace(*args, dtype=ours)
        _assert_matches(got, torch.linspace(*args, dtype=theirs), ours)
        if args[2] > 0 and ours is not None:  # both ends exact
            assert got.data[-1] == torch.linspace(*args, dtype=theirs).numpy()[-1]


@pytest.mark.parametrize("args", ARANGE)
def test_arange_matches_torch(args) -> None:
    torch = pytest.importorskip("torch")
    for ours, theirs in _torch_dtypes(torch):
        try:
            expected = torch.arange(*args, dtype=theirs)
        except (RuntimeError, ValueError):  # an int dtype truncates a float step to 0
            with pytest.raises(ValueError, match="arange: step must be nonzero"):
                ad.arange(*args, dtype=ours)
            continue
        _assert_matches(ad.arange(*args, dtype=ours), expected, ours)


@pytest.mark.parametrize("args", [(0,), (1,), (3,), (2, 4), (4, 2), (3, 0), (0, 3)])
def test_eye_matches_torch(args) -> None:
    torch = pytest.importorskip("torch")
    for ours, theirs in _torch_dtypes(torch):
        _assert_matches(ad.eye(*args, dtype=ours), torch.eye(*args, dtype=theirs), ours)


def test_full_and_like_dtypes_match_torch() -> None:
    torch = pytest.importorskip("torch")
    assert ad.full((2,), 7).dtype == np.int64 and torch.full((2,), 7).dtype == torch.int64
    assert ad.full((2,), True).dtype == np.bool_ and torch.full((2,), True).dtype == torch.bool
    ints = torch.arange(3)
    np.testing.assert_array_equal(ad.full_like(ad.arange(3), 2.7).data, torch.full_like(ints, 2.7))
