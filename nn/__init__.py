"""nn: neural networks on the autodiff graph.

- `Module`: the base of every piece (parameters, state_dict, train/eval, repr);
- micrograd's scalar `Neuron`, `Layer`, `MLP` (same draws and numbers as micrograd);
- tensor layers as PyTorch names them: `Linear`, `Sequential`, `ReLU`, `LeakyReLU`, `Sigmoid`,
  `Tanh`, `Softmax`, `LogSoftmax`, `Identity`, `Flatten`, `Dropout`, and `tensor_mlp`;
- `init`: weight initialisers (``nn.init.kaiming_uniform_`` ...);
- `save`/`load`/`load_state`, `save_checkpoint`/`load_checkpoint`: models and training
  states in ``.npz`` files, written atomically, read without pickle;
- `losses`: the article's squared error, hinge loss, cross-entropy and friends;
- `optim`: `SGD`, `Adam`, `AdamW` and learning-rate schedules (``nn.optim.lr_scheduler``);
- `data`: `DataLoader`, `train_test_split`, toy data sets and the handwritten digits;
- `fit`, `evaluate`, `History`, `EarlyStopping`: training loops in a few lines (`training`);
- `plot_history`, `plot_decision_boundary`: pictures of training, as PNG files (`plots`);
- `Conv1d`, `Conv2d`, `ConvTranspose1d/2d`, `MaxPool1d/2d`, `AvgPool1d/2d`, `BatchNorm1d/2d`,
  `LayerNorm`, `Embedding`, PyTorch's other activation modules, and `functional` (``F``).

>>> from nn import MLP
>>> model = MLP(2, [16, 16, 1], seed=1)
>>> len(model.parameters())
337
"""

from nn import data, functional, init, losses, optim
from nn.activations import (
    ACTIVATIONS,
    CELU,
    ELU,
    GELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Tanh,
    get_activation,
)
from nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from nn.datasets import make_moons
from nn.embedding import Embedding
from nn.layers import Dropout, Flatten, Identity, Linear, Sequential, tensor_mlp
from nn.module import IncompatibleKeys, Module
from nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from nn.plots import plot_decision_boundary, plot_history
from nn.pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from nn.scalar import MLP, Layer, Neuron
from nn.serialization import load, load_checkpoint, load_state, save, save_checkpoint
from nn.training import EarlyStopping, Evaluation, History, evaluate, fit

__all__ = [
    "ACTIVATIONS",
    "EarlyStopping",
    "Evaluation",
    "History",
    "MLP",
    "Dropout",
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "Layer",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "Module",
    "Neuron",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "Tanh",
    "get_activation",
    "data",
    "evaluate",
    "fit",
    "init",
    "losses",
    "optim",
    "load",
    "load_checkpoint",
    "load_state",
    "make_moons",
    "plot_decision_boundary",
    "plot_history",
    "save",
    "save_checkpoint",
    "tensor_mlp",
    # convolution, pooling, normalisation, embedding, more activations, functional
    "AvgPool1d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "CELU", "Conv1d", "Conv2d",
    "ConvTranspose1d", "ConvTranspose2d", "ELU", "Embedding", "GELU", "Hardsigmoid", "Hardswish",
    "Hardtanh", "LayerNorm", "LogSigmoid", "MaxPool1d", "MaxPool2d", "Mish", "ReLU6", "SELU",
    "SiLU", "Softmin", "Softplus", "Softsign", "functional",
]  # fmt: skip
