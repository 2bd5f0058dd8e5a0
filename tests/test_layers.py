"""Tensor layers: Linear (shapes, PyTorch's initialisation, seeding, forward and gradients
against numpy, torch and central differences), Sequential, the activation modules, Flatten,
Dropout, and tensor_mlp."""

import math
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autodiff
from autodiff import Tensor, Value, gradcheck, mse_loss
from nn import (
    Dropout,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    LogSoftmax,
    Module,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    make_moons,
    tensor_mlp,
)


def rows(n, d, seed=0, dtype=np.float64):
    return Tensor(np.random.default_rng(seed).normal(size=(n, d)).astype(dtype))


# --- Linear -----------------------------------------------------------------------------------


def test_linear_shapes_dtype_and_repr():
    layer = Linear(3, 5)
    assert layer.weight.shape == (5, 3) and layer.bias.shape == (5,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert layer.weight.requires_grad and layer.bias.requires_grad
    assert repr(layer) == "Linear(in_features=3, out_features=5, bias=True)"
    no_bias = Linear(3, 5, bias=False, dtype=np.float64)
    assert no_bias.bias is None and no_bias.weight.dtype == np.float64
    assert [name for name, _ in no_bias.named_parameters()] == ["weight"]
    assert repr(no_bias) == "Linear(in_features=3, out_features=5, bias=False)"


@pytest.mark.parametrize("in_features, out_features", [(3, 5), (4, 4), (1, 2)])
def test_linear_computes_x_times_weight_transposed_plus_bias(in_features, out_features):
    layer = Linear(in_features, out_features, dtype=np.float64, rng=1)
    x = rows(7, in_features, seed=2)
    expected = x.data @ layer.weight.data.T + layer.bias.data
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12, atol=1e-12)
    no_bias = Linear(in_features, out_features, bias=False, dtype=np.float64, rng=1)
    np.testing.assert_allclose(no_bias(x).data, x.data @ no_bias.weight.data.T, rtol=1e-12)
    # a single row (1-D input) works as in PyTorch
    assert layer(Tensor(x.data[0])).shape == (out_features,)


def test_linear_float32_stays_float32():
    layer = Linear(3, 2, rng=0)
    out = layer(rows(4, 3, dtype=np.float32))
    assert out.dtype == np.float32
    out.sum().backward()
    assert layer.weight.grad.dtype == np.float32 and layer.weight.grad.shape == (2, 3)


def test_linear_gradients_match_central_differences():
    layer = Linear(3, 4, dtype=np.float64, rng=0)
    x = Tensor(rows(5, 3, seed=1).data, requires_grad=True)
    report = gradcheck(lambda x, w, b: layer(x).tanh(), x, layer.weight, layer.bias)
    assert report.ok, report


@given(
    st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**31), st.booleans()
)
def test_linear_gradients_match_central_differences_for_many_shapes(n_in, n_out, n, seed, bias):
    layer = Linear(n_in, n_out, bias=bias, dtype=np.float64, rng=seed)
    x = Tensor(rows(n, n_in, seed=seed).data, requires_grad=True)
    params = [layer.weight] + ([layer.bias] if bias else [])
    report = gradcheck(lambda x, *ps: (layer(x) ** 2).sum(), x, *params)
    assert report.ok, report


def test_linear_starts_as_pytorch_does_within_one_over_sqrt_fan_in():
    layer = Linear(400, 300, dtype=np.float64, rng=0)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.data, layer.bias.data
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.999 * bound  # the whole range is used, not a narrower one
    assert w.min() < -0.999 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound  # uniform, not normal
    assert abs(w.mean()) < 0.01 * bound
    assert np.abs(b).max() > 0.9 * bound  # the bias too (zeros would fail)
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Linear(400, 300).weight.detach().numpy()
    assert abs(theirs.std() - w.std()) < 0.01 * bound
    assert np.abs(theirs).max() <= bound + 1e-7


def test_linear_draws_are_seedable():
    a, b = Linear(4, 3, rng=7), Linear(4, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, Linear(4, 3, rng=8).weight.data)
    # the weight comes first, then the bias, from one stream, in float64 then cast
    g = np.random.default_rng(7)
    np.testing.assert_array_equal(a.weight.data, g.uniform(-0.5, 0.5, (3, 4)).astype(np.float32))
    np.testing.assert_array_equal(a.bias.data, g.uniform(-0.5, 0.5, 3).astype(np.float32))
    autodiff.manual_seed(3)
    c = Linear(4, 3)
    autodiff.manual_seed(3)
    d = Linear(4, 3)
    np.testing.assert_array_equal(c.weight.data, d.weight.data)
    layer = Linear(4, 3, rng=7)
    layer.reset_parameters(rng=7)
    np.testing.assert_array_equal(layer.weight.data, a.weight.data)


def test_linear_bad_input():
    with pytest.raises(ValueError, match="in_features must be an integer >= 0"):
        Linear(-1, 2)
    with pytest.raises(ValueError, match="out_features"):
        Linear(2, 2.5)
    with pytest.raises(TypeError, match="floating-point"):
        Linear(2, 2, dtype=np.int64)
    with pytest.raises(ValueError) as info:
        Linear(3, 2, rng=0)(rows(4, 5))
    assert "Linear(in_features=3, out_features=2, bias=True)" in str(info.value)
    assert "last axis has size 3" in str(info.value) and "(4, 5)" in str(info.value)


def test_linear_and_sequential_match_torch_forward_and_gradients():
    torch = pytest.importorskip("torch")
    ours = Sequential(Linear(3, 5, dtype=np.float64, rng=0), Tanh(),
                      Linear(5, 2, dtype=np.float64, rng=1), Sigmoid())  # fmt: skip
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2),
                                 torch.nn.Sigmoid()).double()  # fmt: skip
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    x_data = np.random.default_rng(0).normal(size=(4, 3))
    x = Tensor(x_data, requires_grad=True)
    tx = torch.tensor(x_data, requires_grad=True)
    out, t_out = ours(x), theirs(tx)
    np.testing.assert_allclose(out.data, t_out.detach().numpy(), rtol=1e-12)
    (out**2).sum().backward()
    (t_out**2).sum().backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10)
    for (name, p), (t_name, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == t_name
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_sequential_gradients_match_central_differences():
    model = tensor_mlp([3, 4, 4, 2], activation="tanh", dtype=np.float64, rng=0)
    x = Tensor(rows(5, 3, seed=1).data, requires_grad=True)
    report = gradcheck(lambda x, *ps: (model(x) ** 2).sum(), x, *model.parameters())
    assert report.ok, report


# --- Sequential -------------------------------------------------------------------------------


def test_sequential_runs_modules_in_order():
    model = Sequential(Linear(2, 3, dtype=np.float64, rng=0), ReLU())
    x = rows(4, 2)
    np.testing.assert_array_equal(model(x).data, np.maximum(model[0](x).data, 0))
    assert Sequential()(x) is x


def test_sequential_indexing_and_editing_as_pytorch():
    a, b, c, d = Linear(1, 1, rng=0), ReLU(), Tanh(), Sigmoid()
    model = Sequential(a, b, c)
    assert len(model) == 3 and list(model) == [a, b, c]
    assert model[0] is a and model[-1] is c
    sliced = model[1:]
    assert isinstance(sliced, Sequential) and list(sliced) == [b, c]
    assert [name for name, _ in sliced.named_children()] == ["1", "2"]  # names kept, as PyTorch
    assert model.append(d) is model and model[3] is d
    model[1] = Identity()
    assert isinstance(model[1], Identity) and len(model) == 4
    del model[0]
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]  # renumbered
    assert list(model)[1:] == [c, d]
    model.insert(0, a)
    assert list(model)[0] is a and len(model) == 4
    model.extend([ReLU(), ReLU()])
    assert len(model) == 6
    del model[1:5]
    assert list(model)[0] is a and len(model) == 2
    with pytest.raises(IndexError, match="index 5 is out of range for 2 modules"):
        model[5]
    with pytest.raises(IndexError):
        model[-3]
    with pytest.raises(TypeError, match="integers or slices"):
        model["0"]
    with pytest.raises(TypeError, match="not a Module"):
        Sequential(Linear(1, 1), lambda x: x)
    with pytest.raises(TypeError, match="not a Module"):
        model.append(np.tanh)


def test_sequential_takes_names_from_a_dict():
    model = Sequential(OrderedDict(hidden=Linear(2, 3, rng=0), act=ReLU(), out=Linear(3, 1)))
    assert [name for name, _ in model.named_parameters()] == [
        "hidden.weight", "hidden.bias", "out.weight", "out.bias",
    ]  # fmt: skip
    assert model[1].__class__ is ReLU
    with pytest.raises(KeyError, match="taken"):
        Sequential({"forward": ReLU()})
    with pytest.raises(ValueError, match="without '.'"):
        Sequential({"a.b": ReLU()})


# --- activations ------------------------------------------------------------------------------

ACTIVATION_CASES = [
    (ReLU(), lambda x: np.maximum(x, 0), "ReLU()"),
    (LeakyReLU(), lambda x: np.where(x > 0, x, 0.01 * x), "LeakyReLU(negative_slope=0.01)"),
    (LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x), "LeakyReLU(negative_slope=0.2)"),
    (Sigmoid(), lambda x: 1 / (1 + np.exp(-x)), "Sigmoid()"),
    (Tanh(), np.tanh, "Tanh()"),
    (Identity(), lambda x: x, "Identity()"),
]


@pytest.mark.parametrize("module, reference, text", ACTIVATION_CASES)
def test_activation_modules_on_tensors_values_and_lists(module, reference, text):
    data = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(module(Tensor(data)).data, reference(data), rtol=1e-12)
    assert module(Value(-0.5)).data == pytest.approx(reference(np.array(-0.5)))
    outs = module([Value(v) for v in data])
    np.testing.assert_allclose([v.data for v in outs], reference(data), rtol=1e-12)
    assert repr(module) == text


@pytest.mark.parametrize("module", [ReLU(), LeakyReLU(0.3), Sigmoid(), Tanh()])
def test_activation_module_gradients(module):
    x = Tensor(np.array([-1.3, -0.2, 0.4, 2.1]), requires_grad=True)
    assert gradcheck(lambda x: module(x), x).ok


def test_activation_reprs_match_torch():
    torch = pytest.importorskip("torch")
    t = torch.nn
    pairs = [(ReLU(), t.ReLU()), (LeakyReLU(0.2), t.LeakyReLU(0.2)), (Tanh(), t.Tanh()),
             (Sigmoid(), t.Sigmoid()), (Softmax(1), t.Softmax(dim=1)),
             (LogSoftmax(dim=-1), t.LogSoftmax(dim=-1)), (Flatten(), t.Flatten()),
             (Flatten(0, 2), t.Flatten(0, 2)), (Identity(), t.Identity())]  # fmt: skip
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


def test_softmax_and_log_softmax_modules():
    x = Tensor(np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]]))
    probs = Softmax(dim=1)(x).data
    np.testing.assert_allclose(probs.sum(axis=1), [1.0, 1.0])
    np.testing.assert_allclose(np.exp(LogSoftmax(dim=1)(x).data), probs, rtol=1e-12)
    cols = Softmax(dim=0)(x).data
    np.testing.assert_allclose(cols.sum(axis=0), [1.0, 1.0, 1.0])
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(probs, torch.softmax(torch.tensor(x.data), 1).numpy(), atol=1e-15)
    with pytest.raises(TypeError, match="Softmax: expected a Tensor"):
        Softmax(1)(Value(1.0))
    with pytest.raises(TypeError, match="dim must be an integer"):
        Softmax(None)


def test_activation_modules_reject_other_inputs():
    with pytest.raises(TypeError, match="ReLU: expected a Tensor, a Value or a list of Values"):
        ReLU()(np.zeros(3))
    with pytest.raises(TypeError, match="Tanh"):
        Tanh()([1.0, 2.0])
    with pytest.raises(TypeError, match="negative_slope"):
        LeakyReLU("0.1")


def test_flatten():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert Flatten()(x).shape == (2, 12)
    assert Flatten(0, 1)(x).shape == (6, 4)
    assert Flatten(0)(x).shape == (24,)
    np.testing.assert_array_equal(Flatten()(x).data, x.data.reshape(2, 12))
    with pytest.raises(TypeError, match="Flatten"):
        Flatten()(np.zeros((2, 2)))


# --- Dropout ----------------------------------------------------------------------------------


def test_dropout_zeroes_about_p_and_scales_the_rest_by_one_over_one_minus_p():
    drop = Dropout(0.3, rng=0)
    x = Tensor(np.ones(100_000))
    out = drop(x).data
    dropped = out == 0
    assert abs(dropped.mean() - 0.3) < 0.01
    np.testing.assert_allclose(out[~dropped], 1 / 0.7, rtol=1e-15)
    assert abs(out.mean() - 1.0) < 0.02  # the expectation is the input


def test_dropout_is_identity_in_eval_mode_and_for_p_zero():
    x = rows(3, 4)
    drop = Dropout(0.5, rng=0).eval()
    assert drop(x) is x
    assert Dropout(0.0)(x) is x
    model = Sequential(Linear(4, 4, dtype=np.float64, rng=0), Dropout(0.9, rng=1))
    model.eval()
    np.testing.assert_array_equal(model(x).data, model[0](x).data)
    model.train()
    assert (model(x).data == 0).mean() > 0.5


def test_dropout_gradient_is_the_mask():
    drop = Dropout(0.5, rng=3)
    x = Tensor(np.random.default_rng(1).normal(size=(50, 4)), requires_grad=True)
    out = drop(x)
    out.sum().backward()
    mask = np.where(out.data == 0, 0.0, 2.0)
    np.testing.assert_array_equal(x.grad, mask)
    np.testing.assert_array_equal(out.data, x.data * mask)
    # the same mask on the way back as on the way forward, for every element
    y = Tensor(np.ones(10), requires_grad=True)
    z = Dropout(0.5, rng=4)(y)
    (z * np.arange(10.0)).sum().backward()
    np.testing.assert_array_equal(y.grad, z.data * np.arange(10.0))


def test_dropout_p_one_drops_everything_with_zero_gradient():
    x = Tensor(np.ones(5), requires_grad=True)
    out = Dropout(1.0)(x)
    np.testing.assert_array_equal(out.data, np.zeros(5))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, np.zeros(5))
    assert np.isfinite(out.data).all()


def test_dropout_is_seedable_and_draws_a_new_mask_each_call():
    x = Tensor(np.ones(64))
    a, b = Dropout(0.5, rng=0), Dropout(0.5, rng=0)
    first = a(x).data
    np.testing.assert_array_equal(first, b(x).data)
    assert not np.array_equal(first, a(x).data)
    autodiff.manual_seed(11)
    c = Dropout(0.5)(x).data
    autodiff.manual_seed(11)
    np.testing.assert_array_equal(c, Dropout(0.5)(x).data)


def test_dropout_keeps_float32_and_works_on_values():
    out = Dropout(0.5, rng=0)(Tensor(np.ones(8, np.float32)))
    assert out.dtype == np.float32 and set(out.data.tolist()) <= {0.0, 2.0}
    outs = Dropout(0.5, rng=0)([Value(1.0) for _ in range(40)])
    assert {v.data for v in outs} == {0.0, 2.0}
    assert Dropout(0.5, rng=0)(Value(1.5)).data in (0.0, 3.0)


@pytest.mark.parametrize("p", [-0.1, 1.5, True, "0.5", None])
def test_dropout_rejects_p_outside_zero_one(p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        Dropout(p)


# --- tensor_mlp -------------------------------------------------------------------------------


def test_tensor_mlp_layout_and_names():
    model = tensor_mlp([784, 256, 256, 10], activation="leaky_relu", dropout=0.1, rng=0)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "LeakyReLU", "Dropout", "Linear", "LeakyReLU", "Dropout", "Linear"]
    assert model.num_parameters() == 784 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10
    assert model[0].weight.label == "0.weight" and model[6].bias.label == "6.bias"
    linear_only = tensor_mlp([2, 3, 1], activation="linear")
    assert [type(m).__name__ for m in linear_only] == ["Linear", "Linear"]
    custom = tensor_mlp([2, 3, 1], activation=Tanh, dtype=np.float64)
    assert isinstance(custom[1], Tanh) and custom[0].weight.dtype == np.float64
    torch = pytest.importorskip("torch")
    theirs = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.LeakyReLU(),
                                 torch.nn.Dropout(0.1), torch.nn.Linear(256, 256),
                                 torch.nn.LeakyReLU(), torch.nn.Dropout(0.1),
                                 torch.nn.Linear(256, 10))  # fmt: skip
    assert list(theirs.state_dict()) == list(model.state_dict())
    assert sum(p.numel() for p in theirs.parameters()) == model.num_parameters()


def test_tensor_mlp_is_seedable():
    a, b = tensor_mlp([3, 4, 2], rng=5), tensor_mlp([3, 4, 2], rng=5)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    c = tensor_mlp([3, 4, 2], rng=6)
    assert not np.array_equal(a[0].weight.data, c[0].weight.data)
    square = tensor_mlp([3, 3, 3], rng=5)  # one stream for all layers, not a seed per layer
    assert not np.array_equal(square[0].weight.data, square[2].weight.data)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(sizes=[3]), ValueError, "at least 2"),
        (dict(sizes=3), ValueError, "at least 2"),
        (dict(sizes=[3, 0]), ValueError, "every size"),
        (dict(sizes=[3, 2], activation="swish"), ValueError, "swish"),
        (dict(sizes=[3, 2], activation=3), TypeError, "activation"),
        (dict(sizes=[3, 2, 1], activation=lambda: np.tanh), TypeError, "make a Module"),
        (dict(sizes=[3, 2], dropout=2.0), ValueError, "dropout"),
    ],
)
def test_tensor_mlp_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        tensor_mlp(**kwargs)


def test_tensor_mlp_learns_the_moons():
    X, y = make_moons(200, noise=0.1, seed=0)
    X, y = Tensor(X.astype(np.float32)), Tensor((2.0 * y - 1).astype(np.float32)[:, None])
    model = tensor_mlp([2, 16, 16, 1], rng=0)
    for _ in range(300):
        loss = mse_loss(model(X), y)
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data = p.data - 0.1 * p.grad
    accuracy = float(((model(X).data > 0) == (y.data > 0)).mean())
    assert accuracy > 0.95, accuracy


def test_module_subclass_with_linear_layers():
    class TwoLayer(Module):
        def __init__(self):
            self.hidden = Linear(2, 8, dtype=np.float64, rng=0)
            self.out = Linear(8, 1, dtype=np.float64, rng=1)

        def forward(self, x):
            return self.out(self.hidden(x).relu())

    model = TwoLayer()
    x = rows(3, 2)
    assert model(x).shape == (3, 1)
    assert [name for name, _ in model.named_parameters()] == [
        "hidden.weight", "hidden.bias", "out.weight", "out.bias",
    ]  # fmt: skip
