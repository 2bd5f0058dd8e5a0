"""`nn.functional`: PyTorch's names and argument names, each the autodiff op it wraps,
``inplace=True`` and the deprecated loss arguments refused, softmax's implicit dim, weighted
pointwise losses and dropout as PyTorch's; and the digits CNN of `nn.examples` learning."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import autodiff as ad
import nn
import nn.functional as F
from autodiff import Tensor
from nn.examples import digits_cnn, train_digits_cnn

try:
    import torch
    import torch.nn.functional as TF  # noqa: N812 - PyTorch's own spelling
except ImportError:
    torch = TF = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed")

X = Tensor(np.linspace(-3, 3, 12).reshape(3, 4))


@needs_torch
@pytest.mark.parametrize("name", F.__all__)
def test_every_name_is_pytorchs_with_its_argument_names(name) -> None:
    theirs = getattr(TF, name)
    try:
        wanted = list(inspect.signature(theirs).parameters)
    except (TypeError, ValueError):  # a builtin without a signature: read its docstring's
        first = (theirs.__doc__ or "").strip().splitlines()[0]
        wanted = [
            p.split("=")[0].strip(" *")
            for p in first[first.index("(") + 1 : first.index(")")].split(",")
        ]
    ours = list(inspect.signature(getattr(F, name)).parameters)
    if wanted in (["args", "kwargs"], ["input", "args", "kwargs"]):  # torch's dispatch wrappers
        return
    assert ours == wanted


@pytest.mark.parametrize(
    "ours, expected",
    [
        (lambda: F.relu(X), X.relu()),
        (lambda: F.relu6(X), ad.relu6(X)),
        (lambda: F.leaky_relu(X, negative_slope=0.2), X.leaky_relu(0.2)),
        (lambda: F.elu(X, alpha=0.5), ad.elu(X, 0.5)),
        (lambda: F.selu(X), ad.selu(X)),
        (lambda: F.celu(X, alpha=2.0), ad.celu(X, 2.0)),
        (lambda: F.gelu(X, approximate="tanh"), ad.gelu(X, "tanh")),
        (lambda: F.silu(X), ad.silu(X)),
        (lambda: F.mish(X), ad.mish(X)),
        (lambda: F.hardtanh(X, min_val=-2.0, max_val=1.0), ad.hardtanh(X, -2.0, 1.0)),
        (lambda: F.hardsigmoid(X), ad.hardsigmoid(X)),
        (lambda: F.hardswish(X), ad.hardswish(X)),
        (lambda: F.softsign(X), ad.softsign(X)),
        (lambda: F.softplus(X, beta=2.0, threshold=3.0), ad.softplus(X, 2.0, 3.0)),
        (lambda: F.logsigmoid(X), ad.logsigmoid(X)),
        (lambda: F.sigmoid(X), X.sigmoid()),
        (lambda: F.tanh(X), X.tanh()),
        (lambda: F.softmax(X, dim=0), X.softmax(0)),
        (lambda: F.log_softmax(X, dim=1), X.log_softmax(1)),
        (lambda: F.softmin(X, dim=1), ad.softmin(X, 1)),
        (lambda: F.one_hot(np.array([0, 2]), 3), ad.one_hot(np.array([0, 2]), 3)),
    ],
)
def test_each_function_is_the_autodiff_op(ours, expected) -> None:
    np.testing.assert_array_equal(ours().data, expected.data)


@pytest.mark.parametrize(
    "call",
    [
        lambda: F.relu(X, inplace=True),
        lambda: F.leaky_relu(X, 0.1, True),
        lambda: F.elu(X, inplace=True),
        lambda: F.hardtanh(X, inplace=True),
        lambda: F.dropout(X, inplace=True),
        lambda: nn.SiLU(inplace=True),
    ],
)
def test_inplace_is_refused_clearly(call) -> None:
    with pytest.raises(ValueError, match="inplace=True is not supported"):
        call()


def test_softmax_without_dim_warns_and_picks_pytorchs_dim() -> None:
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = F.softmax(X)
    np.testing.assert_array_equal(out.data, X.softmax(1).data)  # 2-d: dim 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.softmax(X, dim=1)
    with pytest.raises(TypeError, match="casting with dtype"):
        F.log_softmax(X, 1, dtype=np.float32)


def test_losses_take_pytorchs_positional_order_and_refuse_the_deprecated_arguments() -> None:
    logits, target = Tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), np.array([0, 2])
    weight = np.array([1.0, 2.0, 3.0])
    # weight, size_average, ignore_index, reduce, reduction, label_smoothing
    out = F.cross_entropy(logits, target, weight, None, -100, None, "sum", 0.1)
    expected = ad.cross_entropy(logits, target, weight, reduction="sum", label_smoothing=0.1)
    np.testing.assert_array_equal(out.data, expected.data)
    for call in (
        lambda: F.cross_entropy(logits, target, size_average=True),
        lambda: F.nll_loss(logits, target, reduce=False),
        lambda: F.mse_loss(logits, logits, size_average=False),
        lambda: F.binary_cross_entropy_with_logits(logits, logits, reduce=True),
    ):
        with pytest.raises(ValueError, match="deprecated"):
            call()


@needs_torch
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_pointwise_losses_match_torch(name, reduction) -> None:
    rng = np.random.default_rng(0)
    a, b, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0, 2, (3, 4))
    x = Tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    out = getattr(F, name)(x, Tensor(b), reduction=reduction, weight=w)
    ref = getattr(TF, name)(t, torch.tensor(b), reduction=reduction, weight=torch.tensor(w))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-12)


def test_dropout_in_training_and_not() -> None:
    x = ad.ones(1000)
    np.testing.assert_array_equal(F.dropout(x, 0.3, training=False).data, x.data)
    ad.manual_seed(0)
    kept = F.dropout(x, 0.3).data
    assert set(np.unique(kept)) <= {0.0, 1 / 0.7} and 0.6 < (kept > 0).mean() < 0.8
    assert (F.dropout(x, 1.0).data == 0).all() and (F.dropout(x, 0.0).data == 1).all()


def test_functional_layers_are_the_autodiff_functions() -> None:
    for name in (
        "conv1d",
        "conv2d",
        "conv_transpose1d",
        "conv_transpose2d",
        "max_pool1d",
        "max_pool2d",
        "avg_pool1d",
        "avg_pool2d",
        "pad",
        "batch_norm",
        "layer_norm",
        "embedding",
        "linear",
        "one_hot",
    ):
        assert getattr(F, name) is getattr(ad, name)


# --------------------------------------------------------------------------------------------
# The digits CNN
# --------------------------------------------------------------------------------------------


def _one_thread():
    """BLAS threads fight over tiny products on a busy machine: one is faster here."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a development tool, not a dependency
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(1)


def test_digits_cnn_shapes_and_parameters() -> None:
    model = digits_cnn(rng=0)
    out = model(Tensor(np.zeros((5, 1, 8, 8), np.float32)))
    assert out.shape == (5, 10) and out.dtype == np.float32
    assert model.num_parameters() == 32 * 9 + 32 + 64 * 32 * 9 + 64 + 256 * 10 + 10
    assert [name for name, _ in model.named_parameters()][:2] == ["0.weight", "0.bias"]


def test_digits_cnn_learns_to_read_the_digits() -> None:
    pytest.importorskip("sklearn")  # the digits ship with scikit-learn
    with _one_thread():
        result = train_digits_cnn(epochs=6, lr=3e-3, seed=0)
    assert len(result.losses) == len(result.accuracies) == 6
    assert result.losses[-1] < 0.1 * result.losses[0]
    assert max(result.accuracies[-2:]) > 0.95  # chance is 0.1; 20 epochs reach about 0.99
    assert result.test_accuracy == result.accuracies[-1]
