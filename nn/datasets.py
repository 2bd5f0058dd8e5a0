"""The toy data sets, kept importable here: they live in `nn.data.datasets`.

>>> from nn.datasets import make_moons
>>> make_moons(4, seed=0)[0].shape
(4, 2)
"""

from nn.data.datasets import *  # noqa: F403
from nn.data.datasets import __all__  # noqa: F401
