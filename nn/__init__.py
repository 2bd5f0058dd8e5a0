"""nn: neural networks on the autodiff graph.

>>> from nn import MLP
>>> model = MLP(2, [16, 16, 1], seed=1)
>>> len(model.parameters())
337
"""

from nn.activations import ACTIVATIONS, get_activation
from nn.datasets import make_moons
from nn.module import Module
from nn.scalar import MLP, Layer, Neuron

__all__ = ["ACTIVATIONS", "MLP", "Layer", "Module", "Neuron", "get_activation", "make_moons"]
