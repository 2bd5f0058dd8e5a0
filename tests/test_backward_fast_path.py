"""``Tensor.backward()`` runs the chain rule of `autodiff.graph.backpropagate` written out for
ndarray gradients (`autodiff.tensor._backpropagate_arrays`). It must leave exactly what the
general driver leaves: the same gradients to the bit, in the same leaves and retained
intermediates, accumulated the same way, never two ``.grad`` sharing memory.

Random graphs are built twice from one recipe: one copy goes through ``backward()``, the other
through ``backpropagate``. The recipes reuse nodes (``x * x``, a node read by three or more
ops, whose gradient is a sum whose order matters to the last bit), broadcast, mix inputs that
need no gradient, pass one gradient object to two inputs (`SameGradientTwice`) or hand the
incoming gradient on unchanged (``clone``, `PassThrough`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest
from aliasing_ops import PassThrough, SameGradientTwice
from hypothesis import given
from hypothesis import strategies as st

from autodiff import Tensor, linear
from autodiff.graph import backpropagate

# Every op maps (2, 3) nodes (and the fixed leaves: bias (3,), matrix (3, 3)) to a (2, 3) node.
OPS: list[tuple[str, int, Callable]] = [
    ("add", 2, lambda a, b, k: a + b),
    ("sub", 2, lambda a, b, k: a - b),
    ("mul", 2, lambda a, b, k: a * b),
    ("square", 1, lambda a, k: a * a),
    ("tanh", 1, lambda a, k: a.tanh()),
    ("relu", 1, lambda a, k: a.relu()),
    ("scale", 1, lambda a, k: a * 0.5),
    ("bias", 1, lambda a, k: a + k["bias"]),
    ("matmul", 1, lambda a, k: a @ k["matrix"]),
    ("linear", 1, lambda a, k: linear(a, k["matrix"], k["bias"])),
    ("colsum", 2, lambda a, b, k: a.sum(axis=0, keepdims=True) * b),
    ("clone", 1, lambda a, k: a.clone()),
    ("twice", 2, lambda a, b, k: SameGradientTwice.apply(a, b)),
    ("pass", 1, lambda a, k: PassThrough.apply(a)),
]

# A recipe: leaves (requires_grad?, earlier gradient?), then op steps (op, input picks,
# retain_grad?), then the picks the root sums.
recipes = st.tuples(
    st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=4),
    st.lists(
        st.tuples(
            st.integers(0, len(OPS) - 1),
            st.integers(0, 10**6),
            st.integers(0, 10**6),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    ),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=4),
    st.booleans(),  # the fixed leaves require grad
)


def build(recipe: tuple, seed: int = 0) -> tuple[Tensor, list[Tensor], list[Tensor]]:
    """(root, leaves that require grad, retained intermediates) of a recipe's graph."""
    leaf_specs, steps, root_picks, fixed_grad = recipe
    rng = np.random.default_rng(seed)
    fixed = {
        "bias": Tensor(rng.standard_normal(3), requires_grad=fixed_grad),
        "matrix": Tensor(rng.standard_normal((3, 3)), requires_grad=fixed_grad),
    }
    pool: list[Tensor] = []
    for requires, earlier in leaf_specs:
        leaf = Tensor(rng.uniform(-2, 2, (2, 3)), requires_grad=requires)
        if requires and earlier:
            leaf.grad = rng.standard_normal((2, 3))  # backward adds to it
        pool.append(leaf)
    leaves = [t for t in [*pool, *fixed.values()] if t.requires_grad]
    kept = []
    for op, first, second, retain in steps:
        _, arity, fn = OPS[op]
        args = [pool[first % len(pool)]] + ([pool[second % len(pool)]] if arity == 2 else [])
        node = fn(*args, fixed)
        if retain and node.requires_grad:
            node.retain_grad()
            kept.append(node)
        pool.append(node)
    root = pool[root_picks[0] % len(pool)].sum()
    for pick in root_picks[1:]:
        root = root + pool[pick % len(pool)].sum()
    return root, leaves, kept


def grads(tensors: list[Tensor]) -> list[Any]:
    return [
        None if t.grad is None else (t.grad.dtype, t.grad.shape, t.grad.tobytes()) for t in tensors
    ]


def general(recipe: tuple, seed: int = 0, times: int = 1) -> list[Any]:
    root, leaves, kept = build(recipe, seed)
    for _ in range(times):
        backpropagate(root, np.array(1.0), follow=Tensor._follow)
    return grads(leaves + kept)


def assert_own_arrays(tensors: list[Tensor]) -> None:
    arrays = [t.grad for t in tensors if t.grad is not None]
    for i, a in enumerate(arrays):
        assert type(a) is np.ndarray and a.flags.writeable
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b)


@given(recipes)
def test_backward_leaves_what_the_general_driver_leaves(recipe):
    root, leaves, kept = build(recipe)
    if not root.requires_grad:
        return
    root.backward()
    assert grads(leaves + kept) == general(recipe)
    assert_own_arrays(leaves + kept)


@given(recipes)
def test_a_second_backward_accumulates_as_the_general_driver_does(recipe):
    root, leaves, kept = build(recipe)
    if not root.requires_grad:
        return
    root.backward(retain_graph=True)
    root.backward()
    assert grads(leaves + kept) == general(recipe, times=2)
    assert_own_arrays(leaves + kept)


def test_a_node_read_by_three_ops_sums_their_gradients_in_the_general_order():
    # (a + b) + c and (a + c) + b differ in the last bit for these numbers: the order of the
    # sum is the walk's, as in backpropagate
    x = Tensor([0.1], requires_grad=True)
    y = (x * 3.0).sum() + (x * 1e-17).sum() + (x * -3.0).sum()
    y.backward()
    expected = Tensor([0.1], requires_grad=True)
    z = (expected * 3.0).sum() + (expected * 1e-17).sum() + (expected * -3.0).sum()
    backpropagate(z, np.array(1.0), follow=Tensor._follow)
    assert x.grad.tobytes() == expected.grad.tobytes()


def test_backward_releases_each_op_and_a_second_backward_says_so():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).tanh().sum()
    y.backward()
    with pytest.raises(RuntimeError, match="a second time"):
        y.backward()
    z = (x * x).tanh().sum()
    z.backward(retain_graph=True)
    z.backward()  # retained: works once more, then released
    with pytest.raises(RuntimeError, match="a second time"):
        z.backward()


def test_a_leaf_root_keeps_its_own_seed():
    w = Tensor([3.0], requires_grad=True)
    w.backward()
    assert w.grad.tolist() == [1.0] and w.grad.flags.writeable


def float32_leaves() -> list[Tensor]:
    rng = np.random.default_rng(1)
    shapes = ((5, 4), (3, 4), (3,))
    return [Tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]


def test_a_float32_graph_keeps_float32_gradients_equal_to_the_general_drivers():
    x, w, b = float32_leaves()
    x2, w2, b2 = float32_leaves()
    linear(x, w, b).relu().sum().backward()
    backpropagate(linear(x2, w2, b2).relu().sum(), np.array(1, np.float32), follow=Tensor._follow)
    for ours, theirs in ((x, x2), (w, w2), (b, b2)):
        assert ours.grad.dtype == np.float32
        assert ours.grad.tobytes() == theirs.grad.tobytes()


def test_two_leaves_handed_one_fresh_array_keep_an_array_each():
    # the product makes a fresh array; SameGradientTwice hands that one object to both leaves
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    (SameGradientTwice.apply(a, b) * 2.0).sum().backward()
    assert a.grad.tolist() == b.grad.tolist() == [2.0, 2.0]
    assert not np.shares_memory(a.grad, b.grad)
    a.grad += 1  # each is its own
    assert b.grad.tolist() == [2.0, 2.0]


def test_a_retained_intermediate_and_a_leaf_handed_one_array_keep_an_array_each():
    x = Tensor([1.0, 2.0], requires_grad=True)
    z = x.clone().retain_grad()
    (z * 2.0).sum().backward()  # clone hands z's (fresh) gradient itself on to x
    assert x.grad.tolist() == z.grad.tolist() == [2.0, 2.0]
    assert not np.shares_memory(x.grad, z.grad)
