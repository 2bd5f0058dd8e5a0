"""autodiff.drawing (`draw`): DOT source of the article's examples, rendering with `dot`, the path
without `dot`, tensors, names from nn, highlighting, and collapsing large graphs."""

from __future__ import annotations

import math
import os
import re
import shutil
import time
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodiff import Tensor, Value, draw, topological_order
from autodiff.drawing import COLORS, GraphDrawing, GraphvizNotFoundWarning

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot not installed")

EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", re.M)
NODE = re.compile(r"^\s*(\w+) \[label=\"(.*?)\"(.*)\]$", re.M)


def article_y(x1: float = 2.0, x2: float = 1.0, x3: float = 4.0) -> tuple:
    """The article's y = 5*x1**2 + 8*x2 + 35*x3 + 30 (years, farm area, employees)."""
    x = Value(x1, label="x1"), Value(x2, label="x2"), Value(x3, label="x3")
    y = 5 * x[0] ** 2 + 8 * x[1] + 35 * x[2] + 30
    y.label = "y"
    return y, x


def edges(dot: GraphDrawing) -> list[tuple[str, str, dict]]:
    """(source id, target id, attributes) of every edge in the DOT source."""
    found = []
    for src, dst, attrs in EDGE.findall(dot.source):
        found.append((src, dst, dict(re.findall(r'(\w+)=("[^"]*"|\S+)', attrs))))
    return found


def box(order: list, node: Value) -> str:
    return f"n{order.index(node)}"


def partial_edges(dot: GraphDrawing, order: list, node: Value) -> list[float]:
    """The partial labels of the edges leaving `node`'s box."""
    return [float(a["label"].strip('"')) for s, _, a in edges(dot) if s == box(order, node)]


# --- the article's examples -----------------------------------------------------------------


def test_article_example_labels_data_and_grads():
    y, (x1, x2, x3) = article_y()
    y.backward()
    source = draw(y).source
    assert 'label="{ x1 | data 2 | grad 20 }"' in source  # dy/dx1 = 10 * x1
    assert 'label="{ x2 | data 1 | grad 8 }"' in source  # each unit of farm area: 8 more pigs
    assert 'label="{ x3 | data 4 | grad 35 }"' in source  # each employee: 35 more pigs
    assert 'label="{ y | data 198 | grad 1 }"' in source
    assert "rankdir=LR" in source  # left to right, like the article's figures


def test_article_example_edges_carry_local_partials():
    y, (x1, x2, x3) = article_y()
    order = topological_order(y)
    dot = draw(y)
    square = next(n for n in order if n._op == "**")
    assert partial_edges(dot, order, x1) == [4.0]  # d(x1**2)/dx1 = 2 * x1
    assert partial_edges(dot, order, square) == [5.0]  # d(5 * s)/ds = 5
    assert partial_edges(dot, order, x2) == [8.0]
    assert partial_edges(dot, order, x3) == [35.0]
    # every edge into an op is labelled; the op -> result edges are not
    for src, dst, attrs in edges(dot):
        assert ("label" in attrs) == dst.endswith("op"), (src, dst)


@given(st.floats(-50, 50, allow_nan=False))
def test_product_of_partials_along_the_path_is_10_x1(x):
    # The chain rule read off the picture: x1 -> ** -> * -> + -> + -> + gives 10 * x1.
    y, (x1, _, _) = article_y(x1=x)
    order = topological_order(y)
    dot = draw(y, digits=17)
    product, node = 1.0, x1
    while node is not y:
        (partial,) = partial_edges(dot, order, node)
        product *= partial
        node = next(n for n in order if any(p is node for p in n._prev))
    assert product == pytest.approx(10 * x, abs=1e-12)


def test_repeated_input_shows_two_edges():
    x = Value(3.0, label="x")
    y = x * x
    order = topological_order(y)
    dot = draw(y)
    into_mul = [(s, a["label"]) for s, d, a in edges(dot) if d == f"{box(order, y)}op"]
    assert into_mul == [(box(order, x), "3"), (box(order, x), "3")]  # d(x*x)/dx = x, twice
    a = Value(2.0, label="a")
    assert len([e for e in edges(draw(a + a)) if e[0] == "n0"]) == 2


def test_grads_show_as_not_computed_before_backward():
    y, _ = article_y()
    before = draw(y)
    assert before.source.count("grad not computed") == len(topological_order(y))
    assert "grad 0" not in before.source
    assert "gradients not computed yet" in before.note
    y.backward()
    after = draw(y)
    assert "not computed" not in after.source
    assert after.note == ""
    # forcing either way
    assert "grad not computed" in draw(y, show_grad=False).source
    assert "grad 0" in draw(article_y()[0], show_grad=True).source


def test_colours_mark_inputs_constants_parameters_and_output():
    y, (x1, _, _) = article_y()
    w = Value(0.5, label="w")
    z = w * y
    order = topological_order(z)
    source = draw(z, params=[w]).source

    def fill(node: Value) -> str:
        start = box(order, node) + " [label"
        (line,) = [ln for ln in source.splitlines() if ln.strip().startswith(start)]
        return re.search(r'fillcolor="([^"]+)"', line).group(1)

    assert fill(x1) == COLORS["input"]
    assert fill(w) == COLORS["parameter"]
    assert fill(z) == COLORS["output"]
    five = next(n for n in order if not n._prev and n.data == 5.0)
    assert fill(five) == COLORS["constant"]
    assert fill(y) == COLORS["intermediate"]


def test_nn_parameter_names_appear_and_are_parameters():
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [3, 1], seed=0)
    out = model([1.0, -2.0])
    out.backward()
    source = draw(out).source
    for name, p in model.named_parameters():
        assert f"{{ {name} | data {p.data:.4g} |" in source
    assert source.count(f'fillcolor="{COLORS["parameter"]}"') == len(model.parameters())
    assert "layers.1.neurons.0.b" in source


def test_highlight_marks_every_path_from_an_input():
    y, (x1, x2, x3) = article_y()
    order = topological_order(y)
    red = [(s, d) for s, d, a in edges(draw(y, highlight=x1)) if "color" in a]
    sources = {s for s, _ in red}
    assert box(order, x1) in sources and box(order, x2) not in sources
    assert box(order, x3) not in sources
    # x * x: both edges lie on x's path
    x = Value(1.5, label="x")
    assert sum("color" in a for *_, a in edges(draw(x * x, highlight=x))) == 3  # 2 in, 1 out


def test_op_labels_show_constant_exponent_and_slope():
    x = Value(-2.0, label="x")
    source = draw((x**3).leaky_relu(0.1)).source
    assert 'label="** 3"' in source
    assert 'label="leaky_relu(0.1)"' in source


def test_record_characters_in_labels_are_escaped():
    x = Value(1.0, label="a{b}|<c>\\")
    source = draw(x * 2).source
    assert r"a\{b\}\|\<c\>\\" in source


def test_bad_arguments():
    with pytest.raises(TypeError, match="expected a Value or Tensor, got float"):
        draw(3.0)
    x = Value(1.0)
    with pytest.raises(ValueError, match="max_nodes must be a positive int"):
        draw(x, max_nodes=0)
    with pytest.raises(ValueError, match="group must be one of"):
        draw(x, group="neurons")
    with pytest.raises(TypeError, match="group must be"):
        draw(x, group=2.5)
    with pytest.raises(ValueError, match="digits"):
        draw(x, digits=0)
    with pytest.raises(ValueError, match="highlight Value.* is not in the graph"):
        draw(x * 2, highlight=Value(3.0))


# --- tensors --------------------------------------------------------------------------------


def test_tensor_graph_shapes_values_and_missing_grads():
    w = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True, label="W")
    x = Tensor([1.0, -1.0], label="x")
    h = (w @ x).tanh()
    loss = h.sum()
    loss.label = "loss"
    before = draw(loss).source
    assert "{ W | (2, 2) float64 | data [[1, 2], [3, 4]] | grad not computed }" in before
    assert "{ x | (2,) float64 | data [1, -1] }" in before  # needs no grad: no grad field
    assert 'n0 -> n2op [label="x.T"]' in before  # d(W @ x)/dW, named by the operands
    assert 'n1 -> n2op [label="W.T"]' in before  # d(W @ x)/dx
    assert 'label="1 - tanh^2 = [0.42, 0.42]"' in before  # 1 - tanh(-1)**2, elementwise
    h.retain_grad()
    loss.backward()
    after = draw(loss).source
    g = np.outer(1 - np.tanh(-1.0) ** 2, [1.0, -1.0])
    assert np.allclose(w.grad, g)
    assert "grad [[0.42, -0.42], [0.42, -0.42]]" in after
    assert "grad [1, 1]" in after  # h kept its gradient (retain_grad)
    assert "grad not kept" in after  # w @ x did not


def test_large_tensor_values_are_summarised():
    x = Tensor(np.arange(100.0), requires_grad=True, label="x")
    source = draw((x * 2).sum()).source
    assert "data 0 .. 99" in source and "(100,) float64" in source
    assert "0, 1, 2, 3" not in source


# --- large graphs ---------------------------------------------------------------------------


def mlp_batch_loss(n_samples: int) -> tuple:
    nn = pytest.importorskip("nn")
    import random

    rng = random.Random(0)
    model = nn.MLP(2, [16, 16, 1], seed=0)
    xs = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(n_samples)]
    loss = Value.sum([(model(x) - rng.choice([-1.0, 1.0])) ** 2 for x in xs])
    loss.label = "loss"
    loss.backward()
    return model, loss


def test_mlp_on_a_batch_node_budget_and_groups_are_fast_and_noted():
    _, loss = mlp_batch_loss(320)
    total = len(topological_order(loss))
    assert total >= 20_000
    start = time.perf_counter()
    budget = draw(loss, group=None, max_nodes=60)
    layers = draw(loss, group="layer")
    neurons = draw(loss, group="neuron")
    default = draw(loss)
    assert time.perf_counter() - start < 8.0  # four drawings of 32k nodes (~0.1 s each here)

    assert budget.total == total and budget.shown == 60
    assert f"{total - 60:,} of {total:,} values beyond the node budget" in budget.note
    assert budget.note in budget.source.replace("\\n", "\n")  # visible above the picture
    assert budget.source.count("->") < 400
    assert 'label="{ loss | data' in budget.source  # the output is always kept

    # one box per layer, one for the batch's copies of each loss op, then the output
    boxes = re.findall(r'label="(layers\.\d|- x320|\*\* 2 x320)\\n', layers.source)
    assert sorted(boxes) == ["** 2 x320", "- x320", "layers.0", "layers.1", "layers.2"]
    assert "values collapsed into 5 group boxes" in layers.note
    assert len(layers.source) < 5_000
    # by default: grouped by layer (one box per neuron would be too many for a screen)
    assert default.grouping == "layer" and default.boxes == layers.boxes == 6
    assert default.note.startswith("grouped by layer to fit a screen (32,338 values in 6 boxes)")
    assert "group=None, max_nodes=None draws every value" in default.note
    # 16 + 16 + 1 neurons, each one box; edges between boxes carry counts, not partials
    assert len(re.findall(r'label="layers\.\d\.neurons\.\d+\\n', neurons.source)) == 33
    assert "320 edges" in neurons.source


def test_group_by_callable_and_depth():
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [2, 1], seed=1)
    out = model([0.5, -1.0])
    by_depth = draw(out, group=2).source
    by_callable = draw(out, group=lambda n: n.label.split(".")[1] if n.label else None).source
    assert 'label="layers.0\\n' in by_depth
    assert 'label="0\\n' in by_callable


def test_deep_chain_draws_without_recursion():
    x = Value(0.0, label="x")
    y = x
    for _ in range(100_000):
        y = y + 1.0
    dot = draw(y, max_nodes=20)
    assert dot.shown == 20 and dot.total == 200_001
    assert "199,981 of 200,001 values beyond the node budget" in dot.note


# --- saving and rendering -------------------------------------------------------------------


@needs_dot
@pytest.mark.parametrize(
    "suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF")]
)
def test_save_renders_with_dot(tmp_path, suffix, magic):
    y, _ = article_y()
    y.backward()
    path = draw(y, highlight=y._prev[0]).save(tmp_path / f"graph{suffix}")
    assert path == tmp_path / f"graph{suffix}"
    assert path.read_bytes().startswith(magic)
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left behind


@needs_dot
def test_rendered_svg_shows_partials_and_escaped_labels(tmp_path):
    x = Value(3.0, label="odd {name} | <here>")
    y = x * x
    y.backward()
    svg = draw(y).save(tmp_path / "g.svg").read_text()
    assert svg.count(">3</text>") == 2  # the two edge partials of x * x (the box says data 3)
    assert svg.count(">data 3</text>") == 1
    assert "odd {name} | &lt;here&gt;" in svg


@needs_dot
def test_jupyter_display_is_svg():
    bundle = draw(Value(2.0, label="x") * 3)._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"]
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


def test_save_source_needs_no_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    dot = draw(Value(2.0, label="x") ** 2)
    for name in ("g.gv", "g.dot"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert dot.save(tmp_path / name).read_text() == dot.source


def test_without_dot_save_writes_source_and_warns_once(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # Graphviz's dot cannot be found
    y, _ = article_y()
    dot = draw(y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        written = dot.save(tmp_path / "graph.svg")
    assert written == tmp_path / "graph.gv"
    assert written.read_text() == dot.source
    assert not (tmp_path / "graph.svg").exists()
    assert len(caught) == 1 and caught[0].category is GraphvizNotFoundWarning
    message = str(caught[0].message)
    assert "\n" not in message
    assert "install Graphviz" in message and "graph.gv" in message
    assert "apt-get install graphviz" in message
    assert sorted(os.listdir(tmp_path)) == ["empty", "graph.gv"]
    # Jupyter: the source with the hint, not a traceback
    bundle = dot._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "install Graphviz" in bundle["text/plain"]


def test_save_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the format"):
        draw(Value(1.0)).save(tmp_path / "graph.xyz")
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "graph.gv"
    path.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        draw(Value(1.0, label="x") * 2).save(path)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["graph.gv"]


def test_numbers_are_compact():
    x = Value(1234567.0, label="big")
    y = x * 1e-7
    source = draw(y).source
    assert "data 1.235e+06" in source and "data 0.1235" in source
    assert "inf" in draw(Value(math.inf) * 1).source
