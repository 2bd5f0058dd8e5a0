"""nn's scalar Neuron/Layer/MLP: micrograd compatibility, names, and the moons demo end to end."""

import random

import pytest

from autodiff import Value
from nn import MLP, Layer, Neuron, make_moons
from nn.demo import moons_data, moons_step
from nn.losses import hinge_loss, l2_penalty


def train_moons(model, X, y, steps):
    """micrograd's demo loop, stopping at 100% training accuracy."""
    history = []
    for k in range(steps):
        history.append(moons_step(model, X, y, k))
        if history[-1][1] == 1.0:
            break
    return history


@pytest.mark.parametrize("data_seed", [0, 1, 2])
def test_moons_demo_reaches_full_training_accuracy_within_100_steps(data_seed):
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    X, y = moons_data(data_seed)
    history = train_moons(model, X, y, 100)
    assert history[-1][1] == 1.0, history[-5:]
    assert history[-1][0] < history[0][0]


def test_same_numbers_as_micrograd_when_seeded_alike():
    micrograd_nn = pytest.importorskip("micrograd.nn")
    micrograd_engine = pytest.importorskip("micrograd.engine")
    X, y = moons_data()
    random.seed(1337)
    ours = MLP(2, [16, 16, 1])
    random.seed(1337)
    theirs = micrograd_nn.MLP(2, [16, 16, 1])
    assert [p.data for p in ours.parameters()] == [p.data for p in theirs.parameters()]
    # micrograd's neurons print alike; its layers and MLP print a flat list, ours a tree
    assert [str(n) for layer in ours.layers for n in layer.neurons] == [
        str(n) for layer in theirs.layers for n in layer.neurons
    ]
    ours_scores = [ours([Value(v) for v in row]) for row in X[:10]]
    their_scores = [theirs([micrograd_engine.Value(v) for v in row]) for row in X[:10]]
    # the forward pass is identical to the last digit (same order of float operations)
    assert [s.data for s in ours_scores] == [s.data for s in their_scores]
    loss = hinge_loss(ours_scores, y[:10]) + l2_penalty(ours.parameters(), 1e-4)
    their_loss = hinge_loss(their_scores, y[:10]) + l2_penalty(theirs.parameters(), 1e-4)
    assert loss.data == their_loss.data
    loss.backward()
    their_loss.backward()
    # gradients agree to rounding: micrograd sums contributions in memory-address order
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert p.grad == pytest.approx(q.grad, rel=1e-12, abs=1e-15)


def test_weights_are_drawn_like_micrograd():
    random.seed(7)
    model = MLP(2, [3, 1])
    random.seed(7)
    expected = []
    for nin, nout in ((2, 3), (3, 1)):
        for _ in range(nout):
            expected += [random.uniform(-1, 1) for _ in range(nin)] + [0.0]
    assert [p.data for p in model.parameters()] == expected


def test_seed_and_rng_make_runs_reproducible_without_touching_global_random():
    random.seed(0)
    state = random.getstate()
    a = MLP(3, [4, 2], seed=42)
    b = MLP(3, [4, 2], rng=random.Random(42))
    assert random.getstate() == state
    assert [p.data for p in a.parameters()] == [p.data for p in b.parameters()]
    other = MLP(3, [4, 2], seed=43)
    assert [p.data for p in a.parameters()] != [p.data for p in other.parameters()]


def test_layer_returns_a_value_for_one_neuron_and_a_list_otherwise():
    assert isinstance(Layer(2, 1, seed=0)([1.0, 2.0]), Value)
    out = Layer(2, 3, seed=0)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 3


def test_neuron_reprs_and_parameters():
    n = Neuron(3, seed=0)
    assert repr(n) == "ReLUNeuron(3)" and len(n.parameters()) == 4
    assert repr(Neuron(2, nonlin=False, seed=0)) == "LinearNeuron(2)"
    assert repr(Neuron(2, activation="tanh", seed=0)) == "TanhNeuron(2)"


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "linear"])
def test_activations(activation):
    n = Neuron(2, activation=activation, seed=3)
    pre = n.b.data + sum(w.data * x for w, x in zip(n.w, [0.5, -1.5]))
    out = n([0.5, -1.5])
    expected = {
        "relu": Value(pre).relu().data,
        "tanh": Value(pre).tanh().data,
        "sigmoid": Value(pre).sigmoid().data,
        "leaky_relu": Value(pre).leaky_relu(0.01).data,
        "linear": pre,
    }[activation]
    assert out.data == pytest.approx(expected)


def test_parameters_are_named_from_where_they_live():
    model = MLP(2, [4, 1], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b"]
    assert names[-1] == "layers.1.neurons.0.b"
    assert model.layers[0].neurons[3].w[1].label == "layers.0.neurons.3.w.1"
    assert len(set(names)) == len(names) == 4 * 3 + 5


def test_zero_grad():
    model = MLP(2, [2, 1], seed=0)
    model([1.0, 2.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())


def test_gradients_of_a_small_mlp_match_finite_differences():
    from autodiff import gradcheck

    model = MLP(2, [3, 1], activation="tanh", seed=5)
    params = model.parameters()

    def f(*ps):
        return model([0.3, -0.8])

    assert gradcheck(f, *params).ok


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: Layer(2, 3, seed=0)([1.0, 2.0, 3.0]), ValueError, ["Layer", "2 inputs", "got 3"]),
        (lambda: Neuron(2, seed=0)([1.0]), ValueError, ["Neuron", "2 inputs", "got 1"]),
        (lambda: MLP(2, [3, 1], seed=0)([1.0]), ValueError, ["expected 2 inputs, got 1"]),
        (lambda: Neuron(2, seed=0)(5.0), TypeError, ["Neuron", "list"]),
        (lambda: Neuron(2, seed=0)(["a", 1.0]), TypeError, ["dot", "str"]),
        (lambda: MLP(2, [3, 1], activation="swish"), ValueError, ["swish", "relu"]),
        (lambda: MLP(2, 3), ValueError, ["nouts"]),
        (lambda: Neuron(0), ValueError, ["nin", "positive"]),
        (lambda: Layer(2, 0), ValueError, ["nout"]),
        (lambda: MLP(2, [1], seed=1, rng=random.Random(1)), ValueError, ["seed or rng"]),
    ],
)
def test_bad_input(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_make_moons_shapes_and_errors():
    X, y = make_moons(50, noise=0.0, seed=0)
    assert X.shape == (50, 2) and y.shape == (50,) and set(y.tolist()) == {0, 1}
    with pytest.raises(ValueError, match="n_samples"):
        make_moons(1)
    with pytest.raises(ValueError, match="noise"):
        make_moons(10, noise=-1)
