"""The shortcuts that keep nn's public API as fast as hand-written engine code stay correct:
Sequential's cached order of modules follows every change, and the activations' Tensor
shortcut gives what the general path gives."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import nn
from autodiff import Tensor, Value


def calls(seq, x=1.0):
    """Which modules ran, in order: each Tag appends its name."""
    trail = []
    for module in seq:
        module.trail = trail
    seq(x)
    return trail


class Tag(nn.Module):
    def __init__(self, name):
        self.name = name

    def forward(self, x):
        self.trail.append(self.name)
        return x


def test_sequential_follows_every_change_to_its_modules():
    seq = nn.Sequential(Tag("a"), Tag("b"))
    assert calls(seq) == ["a", "b"]
    seq.append(Tag("c"))
    assert calls(seq) == ["a", "b", "c"]
    seq[0] = Tag("z")
    assert calls(seq) == ["z", "b", "c"]
    del seq[1]
    assert calls(seq) == ["z", "c"]
    seq.insert(1, Tag("y"))
    assert calls(seq) == ["z", "y", "c"]
    seq.extra = Tag("e")  # any Module attribute is a step, as before
    assert calls(seq) == ["z", "y", "c", "e"]
    del seq.extra
    assert calls(seq) == ["z", "y", "c"]
    seq.extend([Tag("d")])
    assert calls(seq[1:]) == ["y", "c", "d"]


def test_the_cache_is_not_state_and_survives_copies():
    seq = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 1, rng=1))
    x = Tensor(np.ones((4, 2), np.float32))
    expected = seq(x).data
    assert "_chain" not in vars(seq)
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(list(seq.named_modules(remove_duplicate=False))) == 4
    for twin in (copy.deepcopy(seq), pickle.loads(pickle.dumps(seq))):
        np.testing.assert_array_equal(twin(x).data, expected)
        twin[0].weight.data[...] = 0  # the copy runs its own layers
        assert not np.array_equal(twin(x).data, expected)
    np.testing.assert_array_equal(seq(x).data, expected)


def test_a_subclass_that_skips_sequentials_init_still_runs():
    class Bare(nn.Sequential):
        def __init__(self):
            self.first = Tag("first")

    seq = Bare()
    assert calls(seq) == ["first"]


@pytest.mark.parametrize("module", [nn.ReLU(), nn.Sigmoid(), nn.Tanh()], ids=repr)
def test_activation_shortcut_equals_the_general_path(module):
    data = np.array([-2.0, -0.5, 0.0, 0.5, 3.0])
    x = Tensor(data, requires_grad=True)
    out = module(x)
    out.sum().backward()
    values = [Value(v) for v in data]
    scalar = module(values)
    for v in scalar:
        v.backward()
    np.testing.assert_allclose(out.data, [v.data for v in scalar])
    np.testing.assert_allclose(x.grad, [v.grad for v in values])
    with pytest.raises(TypeError, match=type(module).__name__):
        module("text")
