"""nn.init: PyTorch's gains and fans, the distributions' bounds and spreads over many draws,
seeding, in-place semantics (a new array assigned to .data), and lists of Values."""

import math
import random

import numpy as np
import pytest

import autodiff
from autodiff import Tensor, Value, zeros
from nn import Neuron, init

N = (400, 500)  # 200,000 draws: a sample std is within ~0.3% of the true one


def empty(*shape, dtype=np.float64):
    return autodiff.empty(*shape, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize(
    "nonlinearity, param",
    [("linear", None), ("identity", None), ("conv2d", None), ("sigmoid", None),
     ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
     ("leaky_relu", 3), ("leaky_relu", math.sqrt(5)), ("selu", None)],
)  # fmt: skip
def test_calculate_gain_matches_torch(nonlinearity, param):
    expected = {
        "linear": 1, "identity": 1, "conv2d": 1, "sigmoid": 1, "tanh": 5 / 3,
        "relu": math.sqrt(2), "selu": 0.75,
        "leaky_relu": math.sqrt(2 / (1 + (0.01 if param is None else param) ** 2)),
    }[nonlinearity]  # fmt: skip
    assert init.calculate_gain(nonlinearity, param) == expected
    torch = pytest.importorskip("torch")
    if nonlinearity != "identity":  # a name torch's calculate_gain does not know
        assert init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(
            nonlinearity, param
        )


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(2, 3), (16, 3, 5, 5), (4, 6, 7), (1, 1)])
def test_fan_in_and_fan_out_match_torch(shape):
    fans = init.calculate_fan_in_and_fan_out(zeros(*shape))
    receptive = math.prod(shape[2:])
    assert fans == (shape[1] * receptive, shape[0] * receptive)
    torch = pytest.importorskip("torch")
    assert fans == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="at least 2 dimensions, got shape \\(5,\\)"):
        init.calculate_fan_in_and_fan_out(zeros(5))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_([Value(0.0), Value(0.0)])


def test_uniform_bounds_mean_and_spread():
    t = init.uniform_(empty(*N), -2.0, 3.0, rng=0)
    assert t.data.min() >= -2.0 and t.data.max() < 3.0
    assert t.data.min() < -1.99 and t.data.max() > 2.99
    assert abs(t.data.mean() - 0.5) < 0.02
    assert abs(t.data.std() - 5 / math.sqrt(12)) < 0.01
    default = init.uniform_(empty(1000), rng=0)
    assert 0 <= default.data.min() and default.data.max() < 1


def test_normal_mean_and_spread():
    t = init.normal_(empty(*N), mean=1.5, std=0.2, rng=0)
    assert abs(t.data.mean() - 1.5) < 0.002 and abs(t.data.std() - 0.2) < 0.002
    with pytest.raises(ValueError, match="std must be >= 0"):
        init.normal_(empty(2), std=-1.0)


def test_initialisers_assign_a_new_array_of_the_same_shape_and_dtype_and_return_the_tensor():
    for fill in (
        lambda t: init.uniform_(t, rng=0), lambda t: init.normal_(t, rng=0),
        lambda t: init.xavier_uniform_(t, rng=0), lambda t: init.xavier_normal_(t, rng=0),
        lambda t: init.kaiming_uniform_(t, rng=0), lambda t: init.kaiming_normal_(t, rng=0),
        lambda t: init.constant_(t, 2.0), init.zeros_, init.ones_,
    ):  # fmt: skip
        t = empty(3, 4, dtype=np.float32)
        t.data[:] = 7.0
        old = t.data
        assert fill(t) is t
        assert t.data is not old and t.data.shape == (3, 4) and t.data.dtype == np.float32
        assert (old == 7.0).all()  # the old array is not written into
        assert t.requires_grad


def test_constant_zeros_ones():
    assert init.constant_(empty(2, 2), -3.5).data.tolist() == [[-3.5, -3.5], [-3.5, -3.5]]
    assert init.zeros_(Tensor(np.ones(3))).data.tolist() == [0.0, 0.0, 0.0]
    assert init.ones_(Tensor(np.zeros(2, np.int64))).data.tolist() == [1, 1]
    values = [Value(5.0), Value(6.0)]
    assert init.constant_(values, 0.25) is values and [v.data for v in values] == [0.25, 0.25]


def xavier_std(shape, gain=1.0):
    fan_in, fan_out = shape[1] * math.prod(shape[2:]), shape[0] * math.prod(shape[2:])
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


@pytest.mark.parametrize("shape, gain", [((400, 500), 1.0), ((50, 80, 3, 3), 5 / 3)])
def test_xavier_uniform_bound_and_spread(shape, gain):
    t = init.xavier_uniform_(empty(*shape), gain=gain, rng=0)
    std = xavier_std(shape, gain)
    bound = math.sqrt(3) * std
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.999 * bound
    assert abs(t.data.std() - std) < 0.01 * std
    torch = pytest.importorskip("torch")
    theirs = torch.nn.init.xavier_uniform_(
        torch.empty(shape, dtype=torch.float64),
        gain=gain,
        generator=torch.Generator().manual_seed(0),
    )
    assert abs(theirs.std().item() - t.data.std()) < 0.015 * std
    assert theirs.abs().max().item() <= bound


@pytest.mark.parametrize("shape, gain", [((400, 500), 1.0), ((300, 200), 2.0)])
def test_xavier_normal_spread(shape, gain):
    t = init.xavier_normal_(empty(*shape), gain=gain, rng=0)
    std = xavier_std(shape, gain)
    assert abs(t.data.std() - std) < 0.01 * std and abs(t.data.mean()) < 0.01 * std
    torch = pytest.importorskip("torch")
    theirs = torch.nn.init.xavier_normal_(
        torch.empty(shape, dtype=torch.float64),
        gain=gain,
        generator=torch.Generator().manual_seed(0),
    )
    assert abs(theirs.std().item() - t.data.std()) < 0.015 * std


KAIMING = [
    ((400, 500), 0, "fan_in", "leaky_relu"),
    ((400, 500), 0, "fan_out", "relu"),
    ((300, 700), math.sqrt(5), "fan_in", "leaky_relu"),
    ((64, 32, 3, 3), 0.2, "fan_out", "leaky_relu"),
    ((500, 300), 0, "fan_in", "tanh"),
]


def kaiming_std(shape, a, mode, nonlinearity):
    fan_in, fan_out = shape[1] * math.prod(shape[2:]), shape[0] * math.prod(shape[2:])
    fan = fan_in if mode == "fan_in" else fan_out
    return init.calculate_gain(nonlinearity, a) / math.sqrt(fan)


@pytest.mark.parametrize("shape, a, mode, nonlinearity", KAIMING)
def test_kaiming_uniform_bound_and_spread(shape, a, mode, nonlinearity):
    t = init.kaiming_uniform_(empty(*shape), a=a, mode=mode, nonlinearity=nonlinearity, rng=0)
    std = kaiming_std(shape, a, mode, nonlinearity)
    bound = math.sqrt(3) * std
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.999 * bound
    assert abs(t.data.std() - std) < 0.01 * std
    torch = pytest.importorskip("torch")
    theirs = torch.nn.init.kaiming_uniform_(
        torch.empty(shape, dtype=torch.float64),
        a=a,
        mode=mode,
        nonlinearity=nonlinearity,
        generator=torch.Generator().manual_seed(0),  # seeded: the tolerance holds every run
    )
    assert abs(theirs.std().item() - t.data.std()) < 0.015 * std
    assert theirs.abs().max().item() <= bound and theirs.abs().max().item() > 0.99 * bound


@pytest.mark.parametrize("shape, a, mode, nonlinearity", KAIMING)
def test_kaiming_normal_spread(shape, a, mode, nonlinearity):
    t = init.kaiming_normal_(empty(*shape), a=a, mode=mode, nonlinearity=nonlinearity, rng=0)
    std = kaiming_std(shape, a, mode, nonlinearity)
    assert abs(t.data.std() - std) < 0.01 * std and abs(t.data.mean()) < 0.01 * std
    torch = pytest.importorskip("torch")
    theirs = torch.nn.init.kaiming_normal_(
        torch.empty(shape, dtype=torch.float64),
        a=a,
        mode=mode,
        nonlinearity=nonlinearity,
        generator=torch.Generator().manual_seed(0),  # seeded: the tolerance holds every run
    )
    assert abs(theirs.std().item() - t.data.std()) < 0.015 * std


def test_kaiming_errors_and_empty_tensors():
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        init.kaiming_uniform_(empty(2, 2), mode="fan_avg")
    with pytest.warns(UserWarning, match="zero-element"):
        t = init.kaiming_uniform_(empty(0, 3))
    assert t.shape == (0, 3)


def test_rng_seeds_generators_and_the_default_generator():
    a = init.normal_(empty(5), rng=3)
    b = init.normal_(empty(5), rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, init.normal_(empty(5), rng=4).data)
    autodiff.manual_seed(9)
    c = init.uniform_(empty(5))
    autodiff.manual_seed(9)
    np.testing.assert_array_equal(c.data, init.uniform_(empty(5)).data)
    with pytest.raises(TypeError, match="rng must be a seed"):
        init.uniform_(empty(2), rng="seed")
    with pytest.raises(TypeError, match="rng must be a seed"):
        init.uniform_(empty(2), rng=True)


def test_values_and_micrograds_draws():
    # micrograd's U(-1, 1) is uniform_(w, -1, 1): with a random.Random, the very same draws
    neuron = Neuron(5, seed=42)
    values = init.uniform_([Value(0.0) for _ in range(5)], -1, 1, rng=random.Random(42))
    assert [v.data for v in values] == [w.data for w in neuron.w]
    values = init.normal_([Value(0.0) for _ in range(20_000)], 2.0, 0.5, rng=0)
    data = np.array([v.data for v in values])
    assert abs(data.mean() - 2.0) < 0.02 and abs(data.std() - 0.5) < 0.01
    gauss = init.normal_(empty(3), rng=random.Random(1))
    r = random.Random(1)
    assert gauss.data.tolist() == [r.gauss(0.0, 1.0) for _ in range(3)]


def test_bad_targets():
    with pytest.raises(TypeError, match="expected a Tensor or a list of Values"):
        init.uniform_(np.zeros(3))
    with pytest.raises(TypeError, match="floating-point tensor"):
        init.normal_(Tensor(np.zeros(3, np.int64)))
    with pytest.raises(TypeError, match="expected a Tensor or a list of Values"):
        init.zeros_([1.0, 2.0])
