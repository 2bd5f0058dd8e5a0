"""nn.Module: what counts as a parameter, tied weights, cycles, names and order as PyTorch,
train/eval, state_dict and load_state_dict, requires_grad_, buffers, the repr tree."""

import numpy as np
import pytest

from autodiff import Tensor, Value
from nn import (
    MLP,
    Dropout,
    Identity,
    Layer,
    Linear,
    Module,
    Neuron,
    ReLU,
    Sequential,
    Tanh,
    tensor_mlp,
)


def leaf(*shape, seed=0, dtype=np.float64):
    return Tensor(np.random.default_rng(seed).normal(size=shape).astype(dtype), requires_grad=True)


class Tied(Module):
    """An autoencoder-like module: the same weight encodes and decodes."""

    def __init__(self):
        self.encoder = leaf(3, 2)
        self.decoder = self.encoder  # tied
        self.scale = Value(0.5)
        self.scale_again = self.scale  # a tied Value

    def forward(self, x):
        h = (x @ self.encoder).tanh()
        return ((h @ self.decoder.T) * float(self.scale.data)).sum()


# --- what a module holds ------------------------------------------------------------------


def test_own_parameters_come_before_submodules_as_in_pytorch():
    class Net(Module):
        def __init__(self):
            self.fc = Linear(1, 1, rng=0)
            self.w = leaf(1)

    assert [name for name, _ in Net().named_parameters()] == ["w", "fc.weight", "fc.bias"]
    torch = pytest.importorskip("torch")

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(1, 1)
            self.w = torch.nn.Parameter(torch.zeros(1))

    assert [n for n, _ in TorchNet().named_parameters()] == ["w", "fc.weight", "fc.bias"]


def test_private_attributes_dicts_and_nested_lists_are_found():
    class Net(Module):
        def __init__(self):
            self._hidden = Linear(2, 2, rng=0)
            self.heads = {"cls": Linear(2, 3, rng=1), 7: leaf(2)}
            self.grid = [[Value(1.0), Value(2.0)], (Value(3.0),)]
            self.config = {"lr": 0.1, "name": "net"}  # plain data: ignored

    names = [name for name, _ in Net().named_parameters()]
    assert names == [
        "heads.7",
        "grid.0.0",
        "grid.0.1",
        "grid.1.0",
        "_hidden.weight",
        "_hidden.bias",
        "heads.cls.weight",
        "heads.cls.bias",
    ]
    assert [name for name, _ in Net().named_children()] == ["_hidden", "heads.cls"]


def test_results_of_ops_cached_on_a_module_are_not_parameters():
    class Cache(Module):
        def __init__(self):
            self.w = leaf(2)

        def forward(self, x):
            self.out = (x * self.w).tanh()  # Karpathy's style: keep activations to inspect
            return self.out

    m = Cache()
    m(Tensor([1.0, 2.0]))
    assert [name for name, _ in m.named_parameters()] == ["w"]
    assert list(m.state_dict()) == ["w"]


def test_tied_weights_are_listed_once_under_their_first_name():
    m = Tied()
    assert [name for name, _ in m.named_parameters()] == ["encoder", "scale"]
    assert len(m.parameters()) == 2
    assert m.num_parameters() == 7
    everything = [name for name, _ in m.named_parameters(remove_duplicate=False)]
    assert everything == ["encoder", "decoder", "scale", "scale_again"]


def test_one_sgd_step_moves_a_tied_weight_once():
    m = Tied()
    x = Tensor(np.array([[0.3, -0.7, 1.1]]))
    before = m.encoder.data.copy()
    loss = m(x)
    loss.backward()
    grad = m.encoder.grad.copy()
    assert np.abs(grad).max() > 0
    for p in m.parameters():
        if isinstance(p, Tensor):
            p.data = p.data - 0.1 * p.grad
    np.testing.assert_array_equal(m.encoder.data, before - 0.1 * grad)


def test_a_layer_used_twice_is_one_module_and_its_weights_count_once():
    layer = Linear(2, 2, rng=0)
    model = Sequential(layer, ReLU(), layer)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert [name for name, _ in model.named_modules()] == ["", "0", "1"]
    assert list(model.children()) == [layer, model[1]]
    # as PyTorch: the state lists the shared weights under every name
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    torch = pytest.importorskip("torch")
    t = torch.nn.Linear(2, 2)
    t_model = torch.nn.Sequential(t, torch.nn.ReLU(), t)
    assert [n for n, _ in t_model.named_parameters()] == ["0.weight", "0.bias"]
    assert [n for n, _ in t_model.named_modules()] == ["", "0", "1"]
    assert list(t_model.state_dict()) == list(model.state_dict())


def test_named_modules_and_children_as_pytorch():
    model = Sequential(Linear(2, 3, rng=0), Sequential(ReLU(), Linear(3, 1, rng=1)))
    assert [name for name, _ in model.named_modules()] == ["", "0", "1", "1.0", "1.1"]
    assert [name for name, _ in model.named_modules(prefix="net")] == [
        "net", "net.0", "net.1", "net.1.0", "net.1.1",
    ]  # fmt: skip
    assert [name for name, _ in model.named_children()] == ["0", "1"]
    assert list(model.modules())[0] is model
    assert [name for name, _ in model.named_parameters(recurse=False)] == []
    assert [name for name, _ in model[0].named_parameters(prefix="x")] == ["x.weight", "x.bias"]


def test_a_module_that_holds_itself_does_not_loop():
    class Loop(Module):
        def __init__(self):
            self.w = leaf(2)
            self.me = self
            self.again = [self, {"me": self}]
            self.items = []
            self.items.append(self.items)  # a list inside itself

        def forward(self, x):
            return x * self.w

    m = Loop()
    assert [name for name, _ in m.named_parameters()] == ["w"]
    assert [name for name, _ in m.named_modules()] == [""]
    assert [name for name, _ in m.named_modules(remove_duplicate=False)] == [""]
    assert list(m.state_dict()) == ["w"]
    assert m.load_state_dict(m.state_dict()) == ([], [])
    assert repr(m) == (
        "Loop(\n  (me): Loop(...)\n  (again.0): Loop(...)\n  (again.1.me): Loop(...)\n)"
    )
    m.eval()
    assert m.training is False
    m.zero_grad()
    m.apply(lambda module: None)
    assert m.num_parameters() == 2


def test_two_modules_holding_each_other_do_not_loop():
    a, b = Linear(1, 1, rng=0), Linear(1, 1, rng=1)
    a.partner, b.partner = b, a
    assert [name for name, _ in a.named_parameters()] == ["weight", "bias", "partner.weight",
                                                           "partner.bias"]  # fmt: skip
    assert list(a.state_dict()) == ["weight", "bias", "partner.weight", "partner.bias"]
    a.train(False)
    assert b.training is False
    assert "(partner): Linear(" in repr(a) and "Linear(...)" in repr(a)


# --- training helpers ---------------------------------------------------------------------


def test_zero_grad_sets_values_to_zero_and_tensors_to_none():
    m = Tied()
    m(Tensor(np.ones((1, 3)))).backward()
    m.scale.grad = 3.0
    m.zero_grad()
    assert m.encoder.grad is None and m.scale.grad == 0.0
    m(Tensor(np.ones((1, 3)))).backward()
    m.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(m.encoder.grad, np.zeros((3, 2)))


def test_train_and_eval_reach_every_submodule_and_return_self():
    class Net(Module):
        def __init__(self):
            self.body = Sequential(Linear(2, 2, rng=0), Dropout(0.5))
            self.heads = {"a": Dropout(0.1), "b": [Identity()]}

    net = Net()
    modules = list(net.modules())
    assert len(modules) == 6 and all(m.training for m in modules)
    assert net.eval() is net
    assert not any(m.training for m in modules)
    assert net.train() is net
    assert all(m.training for m in modules)
    net.heads["a"].eval()  # one submodule alone
    assert [m.training for m in net.modules()] == [True, True, True, True, False, True]
    with pytest.raises(ValueError, match="True or False"):
        net.train("no")


def test_requires_grad_freezes_tensor_parameters():
    model = tensor_mlp([2, 3, 1], rng=0)
    assert model[0].requires_grad_(False) is model[0]
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())
    with pytest.raises(TypeError, match="Value parameters always track"):
        MLP(2, [1], seed=0).requires_grad_(False)
    MLP(2, [1], seed=0).requires_grad_(True)  # nothing to do, no error


def test_apply_visits_children_before_parents_each_once():
    inner = Sequential(Tanh())
    model = Sequential(Linear(1, 1, rng=0), inner, inner)
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "Tanh", "Sequential", "Sequential"]
    assert [type(m).__name__ for m in model.modules()] == ["Sequential", "Linear", "Sequential",
                                                           "Tanh"]  # fmt: skip


def test_calling_a_module_runs_forward_with_its_arguments():
    class Add(Module):
        def forward(self, a, b=0):
            return a + b

    assert Add()(1, b=2) == 3
    with pytest.raises(NotImplementedError, match="Module: define forward"):
        Module()(1)


# --- state_dict / load_state_dict -----------------------------------------------------------


class WithBuffers(Module):
    def __init__(self):
        self.child = Linear(2, 2, rng=0)
        self.w = leaf(2, dtype=np.float32)
        self.register_buffer("running_mean", np.zeros(2))
        self.register_buffer("steps", np.array(0))
        self.register_buffer("scratch", np.ones(3), persistent=False)
        self.register_buffer("unused", None)


def test_state_dict_holds_copies_of_parameters_then_buffers_then_submodules():
    m = WithBuffers()
    state = m.state_dict()
    assert list(state) == ["w", "running_mean", "steps", "child.weight", "child.bias"]
    assert state["w"].dtype == np.float32 and state["steps"].dtype == np.array(0).dtype
    state["w"][0] = 99.0
    assert m.w.data[0] != 99.0  # a copy, not the parameter's array
    m.running_mean = m.running_mean + 1  # assigning a buffer replaces it
    assert m.state_dict()["running_mean"].tolist() == [1.0, 1.0]
    assert [name for name, _ in m.named_buffers()] == ["running_mean", "steps", "scratch"]
    assert [name for name, _ in m.named_parameters()] == ["w", "child.weight", "child.bias"]
    torch = pytest.importorskip("torch")

    class TorchWithBuffers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.child = torch.nn.Linear(2, 2)
            self.w = torch.nn.Parameter(torch.zeros(2))
            self.register_buffer("running_mean", torch.zeros(2))
            self.register_buffer("steps", torch.tensor(0))
            self.register_buffer("scratch", torch.ones(3), persistent=False)
            self.register_buffer("unused", None)

    assert list(TorchWithBuffers().state_dict()) == list(state)


def test_value_parameters_are_zero_d_float64_arrays():
    state = MLP(2, [3, 1], seed=0).state_dict()
    assert len(state) == 13
    first = state["layers.0.neurons.0.w.0"]
    assert first.shape == () and first.dtype == np.float64


def test_state_dict_round_trip_is_exact_for_values_and_tensors():
    for make in (lambda s: MLP(2, [4, 1], seed=s), lambda s: tensor_mlp([2, 4, 1], rng=s)):
        a, b = make(0), make(1)
        assert b.load_state_dict(a.state_dict()) == ([], [])
        for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
            assert np.array_equal(np.array(p.data), np.array(q.data)), name
        x = [0.3, -0.2] if isinstance(a, MLP) else Tensor(np.array([[0.3, -0.2]], np.float32))
        assert float(np.array(a(x).data).sum()) == float(np.array(b(x).data).sum())


def test_load_state_dict_copies_and_assigns_new_arrays():
    a, b = Linear(2, 2, rng=0), Linear(2, 2, rng=1)
    old = b.weight.data
    state = a.state_dict()
    b.load_state_dict(state)
    assert b.weight.data is not old and b.weight.data is not state["weight"]
    state["weight"][:] = 0
    assert np.abs(b.weight.data).sum() > 0
    m, n = WithBuffers(), WithBuffers()
    m.running_mean = np.array([1.0, 2.0])
    n.load_state_dict(m.state_dict())
    assert n.running_mean.tolist() == [1.0, 2.0]


def test_load_state_dict_reports_every_mismatch_at_once_and_changes_nothing():
    model = tensor_mlp([2, 4, 1], rng=0)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    state = tensor_mlp([3, 5, 1], rng=1).state_dict()
    state["0.bias"] = np.zeros(4, np.float64)  # right shape, wrong dtype
    del state["2.bias"]
    state["3.weight"] = np.zeros(1)
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    for expected in [
        "size mismatch for 0.weight: shape (5, 3) in the state, (4, 2) in the model",
        "dtype mismatch for 0.bias: float64 in the state, float32 in the model",
        "size mismatch for 2.weight: shape (1, 5) in the state, (1, 4) in the model",
        "missing key 2.bias",
        "unexpected key 3.weight",
        "nothing was changed",
    ]:
        assert expected in message
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])
    # a good parameter next to a bad one is not loaded either
    good = tensor_mlp([2, 4, 1], rng=5).state_dict()
    good["2.bias"] = np.zeros((2,), np.float32)
    with pytest.raises(ValueError, match="2.bias"):
        model.load_state_dict(good)
    np.testing.assert_array_equal(model[0].weight.data, before["0.weight"])


def test_load_state_dict_not_strict_returns_missing_and_unexpected_and_loads_the_rest():
    model = tensor_mlp([2, 4, 1], rng=0)
    source = tensor_mlp([2, 4, 1], rng=1).state_dict()
    del source["2.bias"]
    source["extra"] = np.zeros(1)
    result = model.load_state_dict(source, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model[0].weight.data, source["0.weight"])
    source["0.weight"] = np.zeros((9, 9), np.float32)  # shapes are checked even so
    with pytest.raises(ValueError, match="size mismatch for 0.weight"):
        model.load_state_dict(source, strict=False)
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([("0.weight", 1)])


def test_load_state_dict_into_values_checks_shape_and_dtype():
    model = MLP(2, [1], seed=0)
    state = model.state_dict()
    state["layers.0.neurons.0.b"] = np.array([1.0])
    state["layers.0.neurons.0.w.0"] = np.array(1, np.int64)
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    assert "size mismatch for layers.0.neurons.0.b: shape (1,) in the state, () in the" in str(
        info.value
    )
    assert "dtype mismatch for layers.0.neurons.0.w.0: int64" in str(info.value)
    state = {name: np.array(2.5) for name in model.state_dict()}
    model.load_state_dict(state)
    assert [p.data for p in model.parameters()] == [2.5, 2.5, 2.5]
    assert all(type(p.data) is float for p in model.parameters())


def test_register_buffer_errors():
    m = Module()
    with pytest.raises(ValueError, match="without '.'"):
        m.register_buffer("a.b", np.zeros(1))
    with pytest.raises(TypeError, match="pass its .data"):
        m.register_buffer("t", Tensor([1.0]))
    with pytest.raises(TypeError, match="numpy array or None"):
        m.register_buffer("t", [1.0])
    m.w = leaf(1)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("w", np.zeros(1))
    m.register_buffer("b", np.zeros(1))
    m.register_buffer("b", np.ones(1))  # registering again replaces
    assert m.b.tolist() == [1.0]


# --- repr ------------------------------------------------------------------------------------


def test_repr_tree_is_pytorchs_for_the_same_layers():
    model = Sequential(
        Linear(2, 16, rng=0), ReLU(), Sequential(Linear(16, 16, bias=False, rng=1), Tanh()),
        Identity(),
    )  # fmt: skip
    expected = (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=16, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=16, out_features=16, bias=False)\n"
        "    (1): Tanh()\n"
        "  )\n"
        "  (3): Identity()\n"
        ")"
    )
    assert repr(model) == expected
    torch = pytest.importorskip("torch")
    t = torch.nn
    theirs = t.Sequential(
        t.Linear(2, 16), t.ReLU(), t.Sequential(t.Linear(16, 16, bias=False), t.Tanh()),
        t.Identity(),
    )  # fmt: skip
    assert repr(theirs) == expected


def test_micrograd_reprs_are_short():
    model = MLP(2, [16, 16, 1], seed=0)
    assert repr(model) == (
        "MLP(\n"
        "  (layers.0): Layer(2 -> 16, ReLU)\n"
        "  (layers.1): Layer(16 -> 16, ReLU)\n"
        "  (layers.2): Layer(16 -> 1, Linear)\n"
        ")"
    )
    assert repr(Layer(3, 2, activation="leaky_relu", seed=0)) == "Layer(3 -> 2, LeakyReLU)"
    assert repr(Neuron(3, activation="sigmoid", seed=0)) == "SigmoidNeuron(3)"
    assert repr(Module()) == "Module()"


def test_extra_repr_of_a_custom_module():
    class Scale(Module):
        def __init__(self, factor):
            self.factor = factor
            self.inner = ReLU()

        def extra_repr(self):
            return f"factor={self.factor}"

    assert repr(Scale(2)) == "Scale(\n  factor=2\n  (inner): ReLU()\n)"
    assert repr(Dropout(0.25)) == "Dropout(p=0.25)"
