"""The layers: BatchNorm's running statistics step by step against PyTorch and by hand (the
momentum convention, the unbiased variance, momentum=None's cumulative average, eval, no
tracking), LayerNorm, Embedding's accumulation and padding row, the convolution and pooling
layers' initialisation, arguments and reprs, the new activation modules, and the batch_norm,
layer_norm and embedding functions' gradients against central differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import autodiff as ad
import nn
from autodiff import Tensor
from autodiff.testing import arrays, assert_gradients_match, assert_second_derivatives_match

FEW = settings(max_examples=max(5, settings().max_examples // 4))

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")


def _batches(shape: tuple, steps: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * (1 + i) + i).astype(np.float32) for i in range(steps)]


# --------------------------------------------------------------------------------------------
# BatchNorm
# --------------------------------------------------------------------------------------------


def test_running_statistics_by_hand_momentum_and_unbiased_variance() -> None:
    # running = (1 - momentum) * running + momentum * batch; the variance unbiased (n - 1)
    bn = nn.BatchNorm1d(2, momentum=0.25)
    bn.running_mean[...] = [1.0, -2.0]
    bn.running_var[...] = [4.0, 0.5]
    x = np.array([[0.0, 1.0], [2.0, 5.0], [4.0, 3.0]], np.float32)
    bn(Tensor(x))
    mean, unbiased = x.mean(axis=0), x.var(axis=0, ddof=1)
    np.testing.assert_allclose(bn.running_mean, 0.75 * np.array([1.0, -2.0]) + 0.25 * mean)
    np.testing.assert_allclose(bn.running_var, 0.75 * np.array([4.0, 0.5]) + 0.25 * unbiased)
    assert bn.num_batches_tracked == 1


def test_training_normalises_with_the_biased_batch_variance() -> None:
    x = np.array([[0.0], [2.0], [4.0], [10.0]])
    out = nn.BatchNorm1d(1, eps=0.0)(Tensor(x)).data
    np.testing.assert_allclose(out, (x - x.mean()) / x.std(), rtol=1e-6)  # std: ddof 0


def test_momentum_none_is_the_cumulative_average() -> None:
    bn = nn.BatchNorm2d(3, momentum=None)
    batches = _batches((4, 3, 2, 2), 5)
    for x in batches:
        bn(Tensor(x))
    means = [x.mean(axis=(0, 2, 3)) for x in batches]
    variances = [x.var(axis=(0, 2, 3), ddof=1) for x in batches]
    # the running values start at 0 and 1, which the first batch replaces entirely (factor 1)
    np.testing.assert_allclose(bn.running_mean, np.mean(means, axis=0), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, np.mean(variances, axis=0), rtol=1e-5)
    assert bn.num_batches_tracked == 5


def test_eval_uses_the_running_statistics_and_leaves_them_alone() -> None:
    bn = nn.BatchNorm1d(2)
    bn.running_mean[...] = [1.0, 2.0]
    bn.running_var[...] = [4.0, 9.0]
    bn.weight.data = np.array([2.0, 1.0], np.float32)
    bn.eval()
    out = bn(Tensor(np.array([[3.0, 5.0]], np.float32)))  # one sample is fine in eval
    np.testing.assert_allclose(
        out.data, [[2 * 2 / np.sqrt(4 + 1e-5), 3 / np.sqrt(9 + 1e-5)]], rtol=1e-6
    )
    np.testing.assert_array_equal(bn.running_mean, [1.0, 2.0])
    assert bn.num_batches_tracked == 0
    bn.train()
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(Tensor(np.array([[3.0, 5.0]], np.float32)))


def test_without_running_statistics_the_batch_is_used_in_eval_too() -> None:
    bn = nn.BatchNorm1d(2, track_running_stats=False, affine=False).eval()
    assert bn.running_mean is None and dict(bn.state_dict()) == {}
    x = np.array([[0.0, 1.0], [2.0, 3.0]])
    np.testing.assert_allclose(bn(Tensor(x)).data, [[-1, -1], [1, 1]], rtol=1e-4)
    assert bn.parameters() == []


def test_state_dict_holds_the_buffers_and_loads_back() -> None:
    bn = nn.BatchNorm2d(2)
    for x in _batches((3, 2, 2, 2), 3):
        bn(Tensor(x))
    state = bn.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    fresh = nn.BatchNorm2d(2)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh.running_var, bn.running_var)
    assert fresh.num_batches_tracked == 3
    fresh.reset_running_stats()
    assert fresh.num_batches_tracked == 0 and (fresh.running_var == 1).all()


def test_batch_norm_checks_the_input_rank() -> None:
    with pytest.raises(ValueError, match="expected \\(N, C, H, W\\) input, got 2-d"):
        nn.BatchNorm2d(3)(Tensor(np.zeros((4, 3))))
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        nn.BatchNorm1d(0)


@pytest.mark.parametrize("layer, shape", [(nn.BatchNorm1d, (2, 3)), (nn.BatchNorm2d, (2, 3, 5, 5))])
def test_batch_norm_names_a_wrong_channel_count_and_counts_nothing(layer, shape) -> None:
    bn = layer(4)
    with pytest.raises(ValueError, match=r"expected 4 channels \(num_features\) in dim 1, got "
                       rf"input of shape \({shape[0]}, 3"):  # fmt: skip
        bn(Tensor(np.zeros(shape)))
    assert bn.num_batches_tracked == 0 and (bn.running_mean == 0).all()


@needs_torch
@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize(
    "layer, shape",
    [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)), ("BatchNorm2d", (4, 3, 2, 3))],
)
def test_batch_norm_layers_match_torch_over_several_steps(layer, shape, momentum) -> None:
    ours = getattr(nn, layer)(3, momentum=momentum)
    theirs = getattr(torch.nn, layer)(3, momentum=momentum)
    rng = np.random.default_rng(0)
    weight, bias = rng.standard_normal(3).astype(np.float32), rng.standard_normal(3)
    ours.weight.data, ours.bias.data = weight.copy(), bias.astype(np.float32)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(weight))
        theirs.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    for step, x in enumerate(_batches(shape, 4)):
        if step == 3:
            ours.eval(), theirs.eval()
        out, ref = ours(Tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-5)
        g = rng.standard_normal(out.shape).astype(np.float32)
        out.backward(g)
        ref.backward(torch.tensor(g))
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-4)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad.numpy(), rtol=1e-4)
        np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-5)
        np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-5)
        assert int(ours.num_batches_tracked) == int(theirs.num_batches_tracked)


@needs_torch
def test_reprs_match_torch() -> None:
    pairs = [
        (nn.BatchNorm2d(16), torch.nn.BatchNorm2d(16)),
        (
            nn.BatchNorm1d(4, momentum=None, affine=False, track_running_stats=False),
            torch.nn.BatchNorm1d(4, momentum=None, affine=False, track_running_stats=False),
        ),
        (
            nn.LayerNorm((3, 4), elementwise_affine=False),
            torch.nn.LayerNorm((3, 4), elementwise_affine=False),
        ),
        (nn.LayerNorm(5, bias=False), torch.nn.LayerNorm(5, bias=False)),
        (nn.Embedding(10, 3, padding_idx=0), torch.nn.Embedding(10, 3, padding_idx=0)),
        (
            nn.Embedding(10, 3, max_norm=1.0, scale_grad_by_freq=True),
            torch.nn.Embedding(10, 3, max_norm=1.0, scale_grad_by_freq=True),
        ),
        (
            nn.Conv1d(4, 8, 3, padding="same", padding_mode="reflect"),
            torch.nn.Conv1d(4, 8, 3, padding="same", padding_mode="reflect"),
        ),
        (
            nn.Conv2d(3, 6, (3, 5), stride=2, dilation=2, groups=3, bias=False),
            torch.nn.Conv2d(3, 6, (3, 5), stride=2, dilation=2, groups=3, bias=False),
        ),
        (
            nn.ConvTranspose2d(
                16, 8, 3, stride=2, padding=1, output_padding=1, groups=2, bias=False, dilation=2
            ),
            torch.nn.ConvTranspose2d(
                16, 8, 3, stride=2, padding=1, output_padding=1, groups=2, bias=False, dilation=2
            ),
        ),
        (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
        (nn.MaxPool1d(3, 2), torch.nn.MaxPool1d(3, 2)),
        (nn.AvgPool2d(2, 1, 1), torch.nn.AvgPool2d(2, 1, 1)),
        (nn.AvgPool1d(3), torch.nn.AvgPool1d(3)),
        (nn.GELU("tanh"), torch.nn.GELU("tanh")),
        (nn.ELU(2.0), torch.nn.ELU(2.0)),
        (nn.CELU(), torch.nn.CELU()),
        (nn.Hardtanh(0.0, 2.0), torch.nn.Hardtanh(0.0, 2.0)),
        (nn.Softplus(2, 10), torch.nn.Softplus(2, 10)),
        (nn.Softmin(1), torch.nn.Softmin(1)),
        (nn.ReLU6(), torch.nn.ReLU6()),
        (nn.SiLU(), torch.nn.SiLU()),
        (nn.Mish(), torch.nn.Mish()),
    ]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)


# --------------------------------------------------------------------------------------------
# LayerNorm
# --------------------------------------------------------------------------------------------


def test_layer_norm_normalises_each_sample_over_its_last_dims() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 4)) * 5 + 3
    out = nn.LayerNorm((3, 4), eps=0.0, dtype=np.float64)(Tensor(x)).data
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(1, 2)), 1, rtol=1e-12)
    ln = nn.LayerNorm(4)
    ln.eval()  # the same in both modes
    np.testing.assert_allclose(ln(Tensor(x)).data, ln.train()(Tensor(x)).data)
    with pytest.raises(ValueError, match="expects input of shape \\(\\*, 3\\)"):
        nn.LayerNorm(3)(Tensor(x))


@needs_torch
def test_layer_norm_layer_matches_torch() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    ours, theirs = nn.LayerNorm((3, 4)), torch.nn.LayerNorm((3, 4))
    ours.weight.data = rng.standard_normal((3, 4)).astype(np.float32)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.data))
    out, ref = ours(Tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------
# Embedding
# --------------------------------------------------------------------------------------------


def test_embedding_gradient_accumulates_for_repeated_indices_and_calls() -> None:
    table = nn.Embedding(4, 2, rng=0)
    g = np.array([[[1.0, 2.0], [10.0, 20.0], [100.0, 200.0]]], np.float32)
    table(np.array([[3, 1, 3]])).backward(g)
    np.testing.assert_array_equal(table.weight.grad, [[0, 0], [10, 20], [0, 0], [101, 202]])
    table(np.array([1])).sum().backward()  # a second backward adds on
    np.testing.assert_array_equal(table.weight.grad[1], [11, 21])


def test_embedding_padding_row_starts_zero_and_gets_no_gradient() -> None:
    table = nn.Embedding(5, 3, padding_idx=-1, rng=0)
    assert table.padding_idx == 4
    np.testing.assert_array_equal(table.weight.data[4], 0)
    assert np.abs(table.weight.data[:4]).min() > 0
    table(np.array([4, 4, 0])).sum().backward()
    np.testing.assert_array_equal(table.weight.grad[4], 0)
    np.testing.assert_array_equal(table.weight.grad[0], 1)


def test_embedding_rows_are_standard_normal_and_errors_are_clear() -> None:
    weights = nn.Embedding(1000, 50, rng=0).weight.data
    assert abs(weights.mean()) < 0.01 and abs(weights.std() - 1) < 0.01
    frozen = nn.Embedding.from_pretrained(np.eye(3))
    assert not frozen.weight.requires_grad and frozen.parameters() == [frozen.weight]
    with pytest.raises(IndexError, match="index 5 is out of range for a weight of 5 rows"):
        nn.Embedding(5, 2)(np.array([0, 5]))
    with pytest.raises(TypeError, match="must hold integers"):
        nn.Embedding(5, 2)(np.array([0.0]))
    with pytest.raises(ValueError, match="padding_idx 5 must be within"):
        nn.Embedding(5, 2, padding_idx=5)


@FEW
@given(arrays((4, 3)), st.lists(st.integers(0, 3), min_size=1, max_size=6))
def test_embedding_gradients_match_finite_differences(weight, indices) -> None:
    index = np.array(indices)
    w = Tensor(weight, requires_grad=True)
    assert_gradients_match(lambda t: (ad.embedding(index, t) ** 2).sum(), w)
    assert_second_derivatives_match(lambda t: (ad.embedding(index, t) ** 3).sum(), w)


def test_embedding_padding_gradient_in_a_graph_is_zero_too() -> None:
    w = Tensor(np.ones((3, 2)), requires_grad=True)
    loss = (ad.embedding(np.array([0, 1, 1]), w, padding_idx=1) ** 2).sum()
    loss.backward(create_graph=True)
    np.testing.assert_array_equal(w.grad.data, [[2, 2], [0, 0], [0, 0]])


# --------------------------------------------------------------------------------------------
# batch_norm and layer_norm: gradients and second derivatives
# --------------------------------------------------------------------------------------------


@st.composite
def _normalisations(draw):
    kind = draw(st.sampled_from(["batch", "batch_eval", "layer"]))
    shape = draw(st.sampled_from([(4, 2), (3, 2, 3), (2, 2, 2, 2)]))
    x = draw(arrays(shape, distinct=True, gap=0.05))
    channels = shape[1] if kind != "layer" else shape[-1]
    w, b = draw(arrays((channels,))), draw(arrays((channels,)))
    return kind, x, w, b


def _normalise(kind: str):
    stats = np.array([0.3, -0.2]), np.array([1.5, 0.7])
    if kind == "batch":
        return lambda x, w, b: ad.batch_norm(x, None, None, w, b, training=True)
    if kind == "batch_eval":
        return lambda x, w, b: ad.batch_norm(x, *stats, w, b)
    return lambda x, w, b: ad.layer_norm(x, x.shape[-1], w, b)


@given(_normalisations())
def test_normalisation_gradients_match_finite_differences(case) -> None:
    kind, x, w, b = case
    f = _normalise(kind)
    target = np.random.default_rng(0).standard_normal(x.shape)
    leaves = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    assert_gradients_match(lambda *t: ((f(*t) - target) ** 2).sum(), *leaves)


@FEW
@given(_normalisations())
def test_normalisation_second_derivatives_match_finite_differences(case) -> None:
    kind, x, w, b = case
    f = _normalise(kind)
    leaves = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    assert_second_derivatives_match(lambda *t: (f(*t) ** 3).sum(), *leaves)


def test_normalisation_without_weight_and_bias_and_float32() -> None:
    x = Tensor(
        np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32), requires_grad=True
    )
    out = ad.batch_norm(x, None, None, training=True) + ad.layer_norm(x, 3)
    assert out.dtype == np.float32
    (out**2).sum().backward()
    assert x.grad.dtype == np.float32
    with pytest.raises(ValueError, match="running_mean and running_var must be given"):
        ad.batch_norm(x, None, None)
    with pytest.raises(ValueError, match="weight must have shape \\(3,\\)"):
        ad.batch_norm(x, None, None, np.ones(2), training=True)
    with pytest.raises(ValueError, match="running_mean must be an array of shape \\(3,\\)"):
        ad.batch_norm(x, np.zeros(2), np.ones(3))


# --------------------------------------------------------------------------------------------
# Convolution and pooling layers, activation modules
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "layer, fan_in",
    [
        (nn.Conv2d(3, 8, 5, rng=0), 75),
        (nn.Conv2d(4, 8, 3, groups=2, rng=0), 18),
        (nn.Conv1d(2, 4, 7, rng=0), 14),
        (nn.ConvTranspose2d(8, 6, 3, rng=0), 54),  # weight (in, out, k, k): fan_in from dim 1
    ],
)
def test_conv_layers_start_as_pytorch_does(layer, fan_in) -> None:
    # kaiming_uniform_(a=sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the bias from the same
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32 and p.requires_grad
        assert np.abs(p.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.8 * bound  # hundreds of draws reach the edge


def test_conv_layer_init_is_seeded_and_parameters_are_named() -> None:
    a, b = nn.Conv2d(1, 4, 3, rng=7), nn.Conv2d(1, 4, 3, rng=7)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert [name for name, _ in a.named_parameters()] == ["weight", "bias"]
    assert nn.Conv2d(1, 4, 3, bias=False).parameters()[0].shape == (4, 1, 3, 3)


@needs_torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")  # PyTorch's note on its own copy
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same", "valid"])
def test_conv2d_layer_padding_modes_match_torch(mode, padding) -> None:
    theirs = torch.nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=mode).double()
    ours = nn.Conv2d(2, 3, (3, 2), padding=padding, padding_mode=mode, dtype=np.float64)
    ours.weight.data = theirs.weight.detach().numpy().copy()
    ours.bias.data = theirs.bias.detach().numpy().copy()
    x = np.random.default_rng(0).standard_normal((2, 2, 5, 4))
    out, ref = ours(Tensor(x, requires_grad=True)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, atol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad.numpy(), rtol=1e-12)


def test_conv_transpose_layer_output_size() -> None:
    up = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, rng=0)
    x = Tensor(np.zeros((1, 4, 5, 5), np.float32))
    assert up(x).shape == (1, 2, 9, 9) and up(x, output_size=(10, 10)).shape == (1, 2, 10, 10)
    with pytest.raises(ValueError, match="not reachable"):
        up(x, output_size=(12, 12))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nn.Conv2d(3, 4, 3, groups=2), "divisible by groups"),
        (lambda: nn.Conv2d(0, 4, 3), "in_channels must be a positive int"),
        (lambda: nn.Conv2d(1, 4, 3, padding="same", stride=2), "strided"),
        (lambda: nn.Conv2d(1, 4, 3, padding_mode="mirror"), "padding_mode"),
        (lambda: nn.ConvTranspose2d(1, 4, 3, padding_mode="reflect"), "padding_mode"),
        (lambda: nn.ConvTranspose2d(1, 4, 3, output_padding=1), "output_padding"),
        (lambda: nn.Conv2d(1, 4, 3, dtype=np.int32), "floating-point"),
        (lambda: nn.ELU(inplace=True), "inplace=True is not supported"),
        (lambda: nn.GELU("fast"), "approximate"),
    ],
)
def test_layer_arguments_are_checked(make, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_pool_layers_call_their_functions() -> None:
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 6)))
    np.testing.assert_array_equal(nn.MaxPool2d(3, 2, 1)(x).data, ad.max_pool2d(x, 3, 2, 1).data)
    np.testing.assert_array_equal(
        nn.AvgPool2d(2, ceil_mode=True)(x).data, ad.avg_pool2d(x, 2, ceil_mode=True).data
    )
    out, indices = nn.MaxPool2d(2, return_indices=True)(x)
    assert indices.shape == out.shape == (2, 3, 3, 3)
    line = x.reshape(2, 3, 36)
    assert nn.MaxPool1d(4)(line).shape == nn.AvgPool1d(4)(line).shape == (2, 3, 9)


@pytest.mark.parametrize(
    "module, function",
    [
        (nn.GELU(), ad.gelu),
        (nn.GELU("tanh"), lambda t: ad.gelu(t, approximate="tanh")),
        (nn.SiLU(), ad.silu),
        (nn.ELU(0.5), lambda t: ad.elu(t, 0.5)),
        (nn.SELU(), ad.selu),
        (nn.CELU(2.0), lambda t: ad.celu(t, 2.0)),
        (nn.Softsign(), ad.softsign),
        (nn.Hardtanh(-2.0, 0.5), lambda t: ad.hardtanh(t, -2.0, 0.5)),
        (nn.ReLU6(), ad.relu6),
        (nn.Hardsigmoid(), ad.hardsigmoid),
        (nn.Hardswish(), ad.hardswish),
        (nn.Mish(), ad.mish),
        (nn.LogSigmoid(), ad.logsigmoid),
        (nn.Softmin(1), lambda t: ad.softmin(t, 1)),
        (nn.Softplus(2.0, 5.0), lambda t: ad.softplus(t, 2.0, 5.0)),
    ],
)
def test_activation_modules_are_their_functions(module, function) -> None:
    x = Tensor(np.linspace(-8, 8, 12).reshape(3, 4))
    np.testing.assert_array_equal(module(x).data, function(x).data)
    with pytest.raises(TypeError, match="expected a Tensor"):
        module([1.0, 2.0])


def test_layers_compose_into_a_network_that_trains() -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, rng=0),
        nn.BatchNorm2d(4),
        nn.GELU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.LayerNorm(16),
        nn.Linear(16, 2, rng=0),
    )
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 1, 4, 4)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    optimizer = nn.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(30):
        loss = ad.cross_entropy(model(Tensor(x)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.data))
    assert losses[-1] < 0.3 * losses[0]
    assert len(model.state_dict()) == 11  # 3 weights, 3 biases... and BatchNorm's 3 buffers
