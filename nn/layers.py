"""Tensor layers with PyTorch's names, shapes and defaults: `Linear`, `Sequential`,
`Identity`, `Flatten`, `Dropout`, and `tensor_mlp`, which stacks them into a network.

`tensor_mlp([784, 256, 10])` is the tensor counterpart of micrograd's `MLP(784, [256, 10])`:
the same shape of network (activation on every hidden layer, the last one linear), but each
layer is one matrix product on a whole batch of rows instead of one `Value` per neuron and
sample, and the weights are drawn as PyTorch draws them.

>>> import numpy as np
>>> from autodiff import Tensor
>>> from nn import tensor_mlp
>>> model = tensor_mlp([2, 16, 16, 1], rng=0)
>>> model
Sequential(
  (0): Linear(in_features=2, out_features=16, bias=True)
  (1): ReLU()
  (2): Linear(in_features=16, out_features=16, bias=True)
  (3): ReLU()
  (4): Linear(in_features=16, out_features=1, bias=True)
)
>>> model(Tensor(np.zeros((5, 2), np.float32))).shape
(5, 1)
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from autodiff import Tensor, linear
from nn import init
from nn.activations import LeakyReLU, ReLU, Sigmoid, Tanh
from nn.module import Module


def _check_size(op: str, what: str, n: Any, low: int = 0) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < low:
        raise ValueError(f"{op}: {what} must be an integer >= {low}, got {n!r}")
    return int(n)


class Linear(Module):
    """``y = x @ weight.T + bias``, with weight of shape (out_features, in_features).

    Weight and bias start as PyTorch's do, from U(-1/sqrt(in_features), 1/sqrt(in_features))
    (``init.kaiming_uniform_(weight, a=math.sqrt(5))``), drawn from `rng` (a seed or a numpy
    Generator; default: the generator `autodiff.manual_seed` seeds), weight first.

    >>> from autodiff import Tensor
    >>> layer = Linear(3, 2, rng=0)
    >>> layer.weight.shape, layer.bias.shape, layer.weight.dtype
    ((2, 3), (2,), dtype('float32'))
    >>> layer(Tensor([[1.0, 2.0, 3.0]])).shape
    (1, 2)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = np.float32,
        rng: Any = None,
    ) -> None:
        self.in_features = _check_size("Linear", "in_features", in_features)
        self.out_features = _check_size("Linear", "out_features", out_features)
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Linear: dtype must be a floating-point type, got {dtype}")
        shape = (self.out_features, self.in_features)
        self.weight = Tensor(np.zeros(shape, dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(self.out_features, dtype), requires_grad=True) if bias else None
        self.reset_parameters(rng)

    def reset_parameters(self, rng: Any = None) -> None:
        """Draw weight, then bias, again from PyTorch's default distribution."""
        generator = init._generator(rng, "Linear")  # one stream: weight, then bias
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), rng=generator)
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound, rng=generator)

    def forward(self, x: Tensor) -> Tensor:
        try:
            return linear(x, self.weight, self.bias)  # x @ weight.T + bias, one node
        except ValueError:
            shape = np.shape(x.data if isinstance(x, Tensor) else x)
            raise ValueError(
                f"{self!r}: expected input whose last axis has size {self.in_features}, got "
                f"shape {shape}"
            ) from None

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Sequential(Module):
    """Modules called one after another, each on the previous one's output.

    ``Sequential(a, b, c)`` names them '0', '1', '2' (so parameters are '0.weight'...);
    ``Sequential({'fc': a, 'act': b})`` takes the names given. Index, slice, iterate,
    ``len``, ``append``, ``extend``, ``insert`` and ``del`` work as on PyTorch's.

    >>> from nn import Linear, ReLU
    >>> model = Sequential(Linear(2, 4, rng=0), ReLU())
    >>> model.append(Linear(4, 1, rng=1))[2]
    Linear(in_features=4, out_features=1, bias=True)
    >>> len(model), [name for name, _ in model.named_parameters()][:2]
    (3, ['0.weight', '0.bias'])
    """

    # The modules in calling order, kept outside __dict__ (so no walk over the attributes finds
    # it) and dropped whenever an attribute changes: forward runs every step.
    __slots__ = ("_chain",)

    def __init__(self, *modules: Module | dict[str, Module]) -> None:
        self._chain = None
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, module in modules[0].items():
                self._add(name, module)
        else:
            for module in modules:
                self._add(str(len(self)), module)

    def _add(self, name: str, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: {type(module).__name__} is not a Module")
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"Sequential: a name must be a non-empty string without '.', "
                             f"got {name!r}")  # fmt: skip
        if name not in self.__dict__ and hasattr(self, name):
            raise KeyError(f"Sequential: name {name!r} is taken by an attribute of Sequential")
        setattr(self, name, module)

    def _items(self) -> list[tuple[str, Module]]:
        return [(k, v) for k, v in vars(self).items() if isinstance(v, Module)]

    def _rebuild(self, modules: list[Module]) -> None:
        """Hold exactly `modules`, named '0', '1', ... again (as PyTorch renumbers)."""
        for name, _ in self._items():
            delattr(self, name)
        for module in modules:
            self._add(str(len(self)), module)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        object.__setattr__(self, "_chain", None)

    def __delattr__(self, name: str) -> None:
        object.__delattr__(self, name)
        object.__setattr__(self, "_chain", None)

    def forward(self, x: Any) -> Any:
        try:
            chain = self._chain
        except AttributeError:  # a subclass that did not call Sequential.__init__
            chain = None
        if chain is None:
            # calling forward directly skips Module.__call__'s frame, unless a module's class
            # has its own __call__
            chain = tuple(
                (module, type(module).__call__ is Module.__call__) for _, module in self._items()
            )
            object.__setattr__(self, "_chain", chain)
        for module, plain in chain:
            x = module.forward(x) if plain else module(x)
        return x

    def __len__(self) -> int:
        return sum(isinstance(v, Module) for v in vars(self).values())

    def __iter__(self) -> Iterator[Module]:
        return iter([module for _, module in self._items()])

    def _index(self, index: Any) -> int:
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"Sequential indices must be integers or slices, not "
                            f"{type(index).__name__}")  # fmt: skip
        if not -n <= index < n:
            raise IndexError(f"Sequential: index {index} is out of range for {n} modules")
        return int(index) % n

    def __getitem__(self, index: int | slice) -> Module:
        items = self._items()
        if isinstance(index, slice):
            return Sequential(dict(items[index]))
        return items[self._index(index)][1]

    def __setitem__(self, index: int, module: Module) -> None:
        self._add(self._items()[self._index(index)][0], module)

    def __delitem__(self, index: int | slice) -> None:
        modules = list(self)
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[self._index(index)]
        self._rebuild(modules)

    def append(self, module: Module) -> Sequential:
        """Add `module` at the end; returns self."""
        self._add(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        """Add each of `modules` at the end; returns self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Put `module` before position `index` (the names are renumbered); returns self."""
        modules = list(self)
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: {type(module).__name__} is not a Module")
        modules.insert(index, module)
        self._rebuild(modules)
        return self


class Identity(Module):
    """Returns its input unchanged (a placeholder where a layer is optional); arguments are
    ignored, as in PyTorch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Merges axes start_dim..end_dim of a Tensor into one: (n, 28, 28) -> (n, 784).

    >>> from autodiff import zeros
    >>> Flatten()(zeros(5, 28, 28)).shape
    (5, 784)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"Flatten: expected a Tensor, got {type(x).__name__}")
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """In training mode, zeroes each element with probability `p` and scales the others by
    1 / (1 - p), so the expected output is the input ("inverted" dropout); in evaluation mode
    (`eval()`) it returns the input. `rng` (a seed or numpy Generator) makes the masks
    reproducible; by default they come from the generator `autodiff.manual_seed` seeds.

    >>> from autodiff import ones
    >>> drop = Dropout(0.5, rng=0)
    >>> drop(ones(6))
    Tensor([2., 0., 0., 0., 2., 2.])
    >>> drop.eval()(ones(6))
    Tensor([1., 1., 1., 1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, rng: Any = None) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability p must be between 0 and 1, got {p!r}")
        self.p = float(p)
        self._rng = None if rng is None else init._generator(rng, "Dropout")

    def forward(self, x: Any) -> Any:
        if not self.training or self.p == 0:
            return x
        rng = self._rng if self._rng is not None else init._generator(None, "Dropout")
        if isinstance(x, Tensor):
            return x * self._mask(rng, x.data.shape, x.data.dtype)
        if hasattr(x, "_prev"):
            return x * float(self._mask(rng, (), np.float64))
        if isinstance(x, (list, tuple)) and all(hasattr(v, "_prev") for v in x):
            mask = self._mask(rng, (len(x),), np.float64).tolist()
            return [v * m for v, m in zip(x, mask)]
        raise TypeError(
            f"Dropout: expected a Tensor, a Value or a list of Values, got {type(x).__name__}"
        )

    def _mask(self, rng: Any, shape: tuple, dtype: Any) -> np.ndarray:
        """0 where dropped, 1 / (1 - p) where kept, in the input's float dtype."""
        dtype = dtype if np.dtype(dtype).kind == "f" else np.float64
        if self.p == 1:
            return np.zeros(shape, dtype)
        keep = init._uniform(rng, 0.0, 1.0, shape) >= self.p
        return keep.astype(dtype) * np.asarray(1 / (1 - self.p), dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"


_ACTIVATION_MODULES: dict[str, Callable[[], Module] | None] = {
    "relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "leaky_relu": LeakyReLU, "linear": None,
}  # fmt: skip


def tensor_mlp(
    sizes: Sequence[int],
    activation: str | Callable[[], Module] = "relu",
    dropout: float = 0.0,
    bias: bool = True,
    dtype: Any = np.float32,
    rng: Any = None,
) -> Sequential:
    """A multilayer perceptron of tensor layers, as a `Sequential`: ``Linear(sizes[i],
    sizes[i+1])`` for each pair, each hidden one followed by `activation` (a name, as for
    `MLP`, or a Module class such as `nn.Tanh`) and, if ``dropout > 0``, ``Dropout(dropout)``;
    the last layer is linear. Parameters are labelled with their names for drawings.

    Unlike micrograd's `MLP` (scalar Values, one neuron at a time, sizes given as ``nin,
    nouts``), it takes one list of sizes and runs on Tensor batches of shape (n, sizes[0]).

    >>> tensor_mlp([784, 256, 10], activation="tanh", dropout=0.2, rng=0)
    Sequential(
      (0): Linear(in_features=784, out_features=256, bias=True)
      (1): Tanh()
      (2): Dropout(p=0.2)
      (3): Linear(in_features=256, out_features=10, bias=True)
    )
    """
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, Sequence) or len(sizes) < 2:
        raise ValueError(f"tensor_mlp: sizes must list at least 2 layer sizes, got {sizes!r}")
    for n in sizes:
        _check_size("tensor_mlp", "every size", n, low=1)
    if isinstance(activation, str):
        if activation not in _ACTIVATION_MODULES:
            choices = ", ".join(sorted(_ACTIVATION_MODULES))
            raise ValueError(f"tensor_mlp: unknown activation {activation!r}; choose one of "
                             f"{choices}")  # fmt: skip
        make_activation = _ACTIVATION_MODULES[activation]
    elif callable(activation):
        make_activation = activation
    else:
        raise TypeError(f"tensor_mlp: activation must be a name or a Module class, got "
                        f"{activation!r}")  # fmt: skip
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
        raise ValueError(f"tensor_mlp: dropout must be between 0 and 1, got {dropout!r}")
    generator = None if rng is None else init._generator(rng, "tensor_mlp")
    model = Sequential()
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        model.append(Linear(n_in, n_out, bias=bias, dtype=dtype, rng=generator))
        if i == len(sizes) - 2:
            break
        if make_activation is not None:
            layer = make_activation()
            if not isinstance(layer, Module):
                raise TypeError(f"tensor_mlp: activation() must make a Module, got "
                                f"{type(layer).__name__}")  # fmt: skip
            model.append(layer)
        if dropout > 0:
            model.append(Dropout(dropout, rng=generator))
    model.name_parameters()
    return model
