"""autodiff.explore: the page that steps through a backward pass. Its data (embedded as JSON)
is checked against `trace` and `backward()` step by step, for Values, Tensors and grouped
graphs; then the page itself (no network, escaping, atomic save, Jupyter) and --html.
The page in a real browser: tests/test_explore_browser.py."""

from __future__ import annotations

import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import autodiff.drawing
from autodiff import Tensor, Value, explore, topological_order, trace
from autodiff.drawing import DrawingTooLargeError, format_array, format_number
from autodiff.explorer import Explorer, GraphvizNotFoundError, json_for_script, quantity

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot not installed")

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = "5*x1**2 + 8*x2 + 35*x3 + 30"


def article_y() -> tuple:
    """The article's y = 5*x1**2 + 8*x2 + 35*x3 + 30 at x1=2, x2=1, x3=4."""
    x1, x2, x3 = Value(2.0, label="x1"), Value(1.0, label="x2"), Value(4.0, label="x3")
    y = 5 * x1**2 + 8 * x2 + 35 * x3 + 30
    y.label = "y"
    return y, (x1, x2, x3)


def mlp_loss(sizes: list[int], points: int = 2) -> tuple:
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, sizes, seed=0)
    data = [([0.5, -1.0], 1.0), ([2.0, 0.3], -1.0), ([-0.7, 0.2], 1.0)][:points]
    loss = Value.sum((model(x) - t) ** 2 for x, t in data)
    loss.label = "loss"
    return model, loss


def embedded(page: Explorer) -> dict:
    """The JSON the page carries, read back from its HTML as the browser reads it."""
    (text,) = re.findall(
        r'<script type="application/json" id="ad-data">(.*?)</script>', page.html, re.S
    )
    return json.loads(text)


def value_of(q: dict) -> float:
    v = q["value"]
    return float(v) if isinstance(v, str) else v  # 'nan', 'inf', '-inf'


def check_against_trace(root, page: Explorer, seed=None) -> dict:
    """Every step of the page equals the trace's: nodes, slot, and the four numbers."""
    data = embedded(page)
    assert data == page.data  # what is embedded is what Python built
    nodes = topological_order(root)
    steps = trace(root, seed)
    assert len(data["steps"]) == len(steps) > 0
    assert len(data["nodes"]) == len(nodes)
    for got, want in zip(data["steps"], steps):
        assert nodes[got["node"]] is want.node and nodes[got["output"]] is want.output
        assert got["slot"] == want.slot and got["op"] == want.op
        assert data["nodes"][got["node"]]["name"] == want.name
        assert data["nodes"][got["output"]]["name"] == want.output_name
        for key in ("upstream", "local", "product", "accumulated"):
            q, x = got[key], getattr(want, key)
            if isinstance(x, np.ndarray):
                assert q["shape"] == list(x.shape) and q["text"] == format_array(x)
                assert q["size"] == x.size
                np.testing.assert_array_equal(q["head"], x.reshape(-1)[:8])
                assert (q["min"], q["max"]) == (x.min(), x.max())
                assert q["mean"] == pytest.approx(x.mean(), rel=1e-12)
            elif isinstance(x, str):
                assert q == {"text": x}
            else:
                assert q["text"] == format_number(x)
                assert value_of(q) == x or (math.isnan(x) and math.isnan(value_of(q)))
    return data


def svg_ids(svg: str) -> set:
    """The ids of the picture's elements, as the browser reads them (dot writes '-' as &#45;)."""
    return {html.unescape(i) for i in re.findall(r'<g id="([^"]+)"', svg)}


def final_gradients(data: dict) -> dict:
    """node index -> the gradient the page shows at its last step (the root: the seed)."""
    grads = {data["output"]: data["seed"]}
    for step in data["steps"]:
        grads[step["node"]] = step["accumulated"]
    return grads


# --- the data, step by step --------------------------------------------------------------------


def test_article_example_steps_are_the_traces_and_end_at_backwards_gradients():
    y, (x1, x2, x3) = article_y()
    page = explore(y)
    data = check_against_trace(y, page)
    assert x1.grad == 0.0  # exploring changes no gradient
    y.backward()
    nodes = topological_order(y)
    grads = final_gradients(data)
    assert set(grads) == set(range(len(nodes)))  # every value of a scalar graph gets one
    for i, node in enumerate(nodes):
        assert value_of(grads[i]) == node.grad, data["nodes"][i]["name"]
    by_name = {n["name"]: value_of(grads[i]) for i, n in enumerate(data["nodes"])}
    assert (by_name["x1"], by_name["x2"], by_name["x3"]) == (20.0, 8.0, 35.0)
    last = data["steps"][-1]  # 5 * 2*x1 = 20: right to left, multiplying the partials
    assert (last["upstream"]["text"], last["local"]["text"], last["product"]["text"]) == (
        "5",
        "4",
        "20",
    )
    assert data["title"] == "y" and data["nodes"][data["output"]]["role"] == "output"
    roles = {n["name"]: n["role"] for n in data["nodes"]}
    assert roles["x1"] == "input" and roles["5"] == "constant"


def test_article_example_y_equals_5x_squared_plus_30():
    x = Value(3.0, label="x")
    y = 5 * x**2 + 30
    data = check_against_trace(y, explore(y))
    y.backward()
    assert value_of(final_gradients(data)[topological_order(y).index(x)]) == x.grad == 30.0


def test_repeated_input_gets_one_edge_per_use_and_accumulates():
    x = Value(3.0, label="x")
    y = x * x
    page = explore(y)
    data = check_against_trace(y, page)
    first, second = data["steps"]
    assert (first["accumulated"]["value"], second["accumulated"]["value"]) == (3.0, 6.0)
    edges = [data["places"][s["place"]]["edge"] for s in data["steps"]]
    assert edges == ["n0-n1op-0", "n0-n1op-1"]  # two edges, not one drawn twice
    assert set(edges) <= svg_ids(page.svg)


def test_every_outlined_element_is_in_the_picture():
    _, loss = mlp_loss([3, 1], points=1)
    for root in (article_y()[0], loss):
        page = explore(root)
        ids = svg_ids(page.svg)
        for place in page.data["places"]:
            assert set(place["ids"]) <= ids, place
        for node in page.data["nodes"]:
            assert node["box"] in ids


def test_step_places_name_the_edge_the_drawing_draws():
    y, (x1, _, _) = article_y()
    page = explore(y)
    drawing = page.drawing
    nodes = topological_order(y)
    for step, s in zip(page.data["steps"], trace(y)):
        place = page.data["places"][step["place"]]
        assert place["edge"] == drawing.edge_of[s.output, s.slot]
        assert place["boxes"] == [drawing.box_of[s.node], drawing.box_of[s.output]]
        assert place["edge"] == f"n{nodes.index(s.node)}-n{nodes.index(s.output)}op-{s.slot}"
    # the last step runs along x1 -> ** 2 and outlines x1, the op and x1**2
    last = page.data["places"][page.data["steps"][-1]["place"]]
    i, j = nodes.index(x1), nodes.index(x1) + 1
    assert set(last["ids"]) == {f"n{i}", f"n{j}", f"n{j}op", f"n{j}op-n{j}", last["edge"]}


def test_mlp_steps_and_final_gradients_equal_backward():
    model, loss = mlp_loss([3, 1])
    data = check_against_trace(loss, explore(loss))
    loss.backward()
    grads = final_gradients(data)
    nodes = topological_order(loss)
    for i, node in enumerate(nodes):
        assert value_of(grads[i]) == node.grad
    params = {id(p) for p in model.parameters()}
    assert {data["nodes"][i]["role"] for i, n in enumerate(nodes) if id(n) in params} == {
        "parameter"
    }


def test_grouped_mlp_steps_are_steps_of_the_group_boxes():
    model, loss = mlp_loss([16, 16, 1])
    page = explore(loss)
    data = check_against_trace(loss, page)
    assert data["grouping"] == "layer"
    assert data["note"].startswith("grouped by layer to fit a screen")
    assert "not computed" not in data["note"]  # the page says that itself, per step
    boxes = {n["box"] for n in data["nodes"]}
    assert len(boxes) == page.drawing.boxes == 6
    inside = [p for p in data["places"] if p["inside"]]
    assert inside and all(p["edge"] is None and p["ids"] == [p["inside"]] for p in inside)
    assert {p["inside"] for p in inside} <= boxes
    # steps between boxes run along the bundled edges drawn between them
    between = [p for p in data["places"] if p["edge"] and not re.search(r"-\d+$", p["edge"])]
    assert between and {p["edge"] for p in between} <= svg_ids(page.svg)
    # each run of steps inside one box is contiguous and the runs are few: stepping by box
    places = [s["place"] for s in data["steps"]]
    runs = 1 + sum(a != b for a, b in zip(places, places[1:]))
    assert runs < len(places) / 10
    loss.backward()
    grads = final_gradients(data)
    for i, node in enumerate(topological_order(loss)):
        assert value_of(grads[i]) == node.grad
    layer = {data["nodes"][i]["box"] for i, n in enumerate(topological_order(loss))
             if n.label == "layers.0.neurons.3.w.1"}  # fmt: skip
    assert len(layer) == 1 and layer <= inside_boxes(data)


def inside_boxes(data: dict) -> set:
    return {p["inside"] for p in data["places"] if p["inside"]}


def test_node_budget_collapses_into_the_hidden_box_and_says_so():
    _, loss = mlp_loss([4, 4, 1])
    page = explore(loss, group=None, max_nodes=20)
    data = check_against_trace(loss, page)
    hidden = [n for n in data["nodes"] if n["box"] == "hidden"]
    assert len(hidden) == len(data["nodes"]) - 20
    assert "beyond the node budget (max_nodes=20)" in data["note"]
    assert any("hidden" in p["boxes"] for p in data["places"])
    assert "hidden" in svg_ids(page.svg)


def test_tensor_graph_steps_and_gradients():
    W = Tensor(np.linspace(-0.3, 0.4, 6).reshape(3, 2), requires_grad=True, label="W")
    b = Tensor([0.1, -0.2], requires_grad=True, label="b")
    x = Tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], label="x")
    h = (x @ W + b).tanh().retain_grad()
    loss = (h * h).mean()
    page = explore(loss)
    data = check_against_trace(loss, page)
    nodes = topological_order(loss)
    at = {id(n): i for i, n in enumerate(nodes)}  # tensors compare elementwise: by identity
    loss.backward()
    grads = final_gradients(data)
    for tensor in (W, b, h):
        q = grads[at[id(tensor)]]
        entry = data["nodes"][at[id(tensor)]]
        assert entry["kept"] and q["text"] == format_array(tensor.grad)
        np.testing.assert_array_equal(q["head"], tensor.grad.reshape(-1)[:8])
        assert q["shape"] == list(tensor.grad.shape)
    assert not data["nodes"][at[id(x)]]["gets_grad"]  # needs no gradient
    intermediate = at[id(h._prev[0])]  # x @ W + b: passed on, not kept
    assert data["nodes"][intermediate]["gets_grad"] and not data["nodes"][intermediate]["kept"]
    matmul = [s for s in data["steps"] if s["op"] == "matmul"]
    assert [s["formula"] for s in matmul] == ["x.T"]  # d(x @ W)/dW; x needs no gradient
    entry = data["nodes"][at[id(W)]]["data"]
    assert entry["summary"] == "min -0.3, mean 0.05, max 0.4" and entry["dtype"] == "float64"


def test_tensor_seed_is_needed_for_a_non_scalar_output_and_is_shown():
    x = Tensor([1.0, 2.0], requires_grad=True, label="x")
    y = x * 3
    with pytest.raises(ValueError, match=r"^explore: the output has shape \(2,\); pass seed"):
        explore(y)
    seed = np.array([1.0, -1.0])
    page = explore(y, seed=seed)
    data = check_against_trace(y, page, seed=seed)
    assert data["seed"]["text"] == "[1, -1]"
    y.backward(seed)
    assert final_gradients(data)[0]["text"] == format_array(x.grad) == "[3, -3]"


def test_quantities_keep_exact_values_and_non_finite_numbers():
    assert quantity(0.1 + 0.2) == {"value": 0.30000000000000004, "text": "0.3"}
    assert quantity(float("inf"))["value"] == "inf" and quantity(-math.inf)["text"] == "-inf"
    q = quantity(np.array([[1.0, np.nan], [3.0, 4.0]]))
    assert q["head"] == [1.0, "nan", 3.0, 4.0] and q["min"] == "nan"
    json.dumps(q, allow_nan=False)  # valid JSON
    big = quantity(np.arange(20.0).reshape(4, 5))
    assert big["text"] == "0 .. 19" and big["entries"].endswith("... (12 more)")
    assert big["summary"] == "min 0, mean 9.5, max 19"
    assert quantity("d(1, 2)/d(3, 2)") == {"text": "d(1, 2)/d(3, 2)"}


def test_nan_flows_through_the_page_as_through_backward():
    x = Value(float("nan"), label="x")
    y = x * 2 + 1
    data = check_against_trace(y, explore(y))
    grads = {data["nodes"][s["node"]]["name"]: s["accumulated"] for s in data["steps"]}
    assert grads["x"] == {"value": 2.0, "text": "2"}  # d(2x + 1)/dx whatever x is
    assert grads["2"] == {"value": "nan", "text": "nan"}  # d(2x + 1)/d2 = x = nan
    assert data["nodes"][0]["data"]["value"] == "nan"


def test_a_leaf_output_has_no_steps():
    x = Value(2.0, label="x")
    page = explore(x)
    assert page.data["steps"] == [] and page.data["seed"]["text"] == "1"


def test_exploring_changes_no_gradient_and_can_follow_backward():
    y, (x1, _, _) = article_y()
    y.backward()
    before = [n.grad for n in topological_order(y)]
    page = explore(y)
    assert [n.grad for n in topological_order(y)] == before
    assert page.svg.count("grad not computed") == len(before)  # step 0: the forward pass


# --- bad input ---------------------------------------------------------------------------------


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(TypeError, match="explore: expected a Value or Tensor, got float"):
        explore(3.0)
    y, _ = article_y()
    with pytest.raises(ValueError, match="explore: max_steps must be a positive int"):
        explore(y, max_steps=0)
    with pytest.raises(ValueError, match=r"explore: the backward pass has 13 steps, more than "):
        explore(y, max_steps=12)
    with pytest.raises(ValueError, match="explore: group must be one of"):
        explore(y, group="row")
    with pytest.raises(ValueError, match="explore: this tensor does not require grad"):
        explore(Tensor([1.0]) * 2)


def test_without_graphviz_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(autodiff.drawing.shutil, "which", lambda name: None)
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz") as caught:
        explore(article_y()[0])
    assert "dot program was not found" in str(caught.value)
    assert isinstance(caught.value, RuntimeError)


# --- the page ----------------------------------------------------------------------------------

NETWORK = re.compile(
    r"""(?:\b(?:src|href|action|data|poster|xlink:href)\s*=\s*["']?\s*(?:https?:)?//)"""
    r"""|url\(\s*["']?\s*(?:https?:)?//|@import|<link\b|\bfetch\(|XMLHttpRequest|WebSocket"""
    r"""|\bimport\(|<iframe\b|\bsrc\s*=""",
    re.I,
)


def test_the_page_fetches_nothing():
    _, loss = mlp_loss([16, 16, 1])
    for root in (article_y()[0], loss):
        page = explore(root).html
        assert page.startswith("<!doctype html>")
        assert not NETWORK.search(page), NETWORK.search(page)
        # the only addresses are inside text (none here at all)
        assert "http://" not in page and "https://" not in page
        assert page.count("<script") == 2  # the data, and the inline script: no src
        assert "font-face" not in page


def test_labels_cannot_break_out_of_the_page():
    nasty = "</script><script>alert(1)</script> <!-- \"' & {a|b} \u2028"
    x = Value(2.0, label=nasty)
    y = x * 3
    y.label = "<b>y</b>"
    page = explore(y)
    assert "<script>alert" not in page.html and "<b>y</b>" not in page.html
    data = embedded(page)
    assert data["nodes"][0]["label"] == nasty.replace("\u2028", "\\u2028")  # made visible
    assert data["title"] == "<b>y</b>"
    assert page.html.count("</script>") == 2
    assert json.loads(json_for_script({"a": "</script>&"})) == {"a": "</script>&"}


def test_page_shows_the_note_colours_and_legend_from_the_drawing():
    from autodiff.drawing import COLORS, HIGHLIGHT

    _, loss = mlp_loss([16, 16, 1])
    page = explore(loss)
    for role, colour in COLORS.items():
        assert f"--ad-{role}: {colour};" in page.html
    assert f"--ad-highlight: {HIGHLIGHT};" in page.html
    assert {item["color"] for item in page.data["legend"]} <= set(COLORS.values())
    assert "gradients not computed yet" not in page.svg  # the drawing's title lines are gone
    assert "blue: input" not in page.svg


def test_save_is_atomic(tmp_path, monkeypatch):
    y, _ = article_y()
    page = explore(y)
    path = page.save(tmp_path / "y.html")
    assert path == tmp_path / "y.html" and path.read_text(encoding="utf-8") == page.html
    path.write_text("old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        page.save(path)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["y.html"]  # no temporary left behind


def test_jupyter_shows_the_page_in_an_iframe():
    y, _ = article_y()
    page = explore(y)
    frame = page._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and frame.endswith("</iframe>")
    assert "<script" not in frame and "</script" not in frame  # all of it inside the attribute
    srcdoc = re.fullmatch(r'<iframe srcdoc="([^"]*)".*', frame, re.S).group(1)
    assert html.unescape(srcdoc) == page.html
    assert 'sandbox="allow-scripts"' in frame and "allow-same-origin" not in frame
    height = int(re.search(r'style="width: 100%; height: (\d+)px', frame).group(1))
    assert 480 <= height <= 900
    assert repr(page).startswith("<Explorer of the backward pass from y: 13 steps over 14 values")


def test_jupyter_displays_it_as_html_as_the_last_expression_of_a_cell(tmp_path):
    # a real kernel runs a notebook whose cell ends with explore(...), as a user's would
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
            "from autodiff import Value, explore\n"
            "x = Value(3.0, label='x')\n"
            "explore(5 * x**2 + 30)"
        )
    ]
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    (output,) = notebook.cells[0].outputs
    assert output["output_type"] == "execute_result"
    assert output["data"]["text/html"].startswith("<iframe srcdoc=")
    assert output["data"]["text/plain"].startswith("<Explorer of the backward pass")


# --- the command -------------------------------------------------------------------------------


def run(*args: str, path: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "autodiff", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def test_command_writes_the_page_with_draw_and_trace(tmp_path):
    page, svg = tmp_path / "y.html", tmp_path / "y.svg"
    result = run(ARTICLE, "--at", "x1=2", "x2=1", "x3=4", "--trace", "--draw", str(svg),
                 "--html", str(page))  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "y = 5*x1**2 + 8*x2 + 35*x3 + 30 = 198   at x1=2, x2=1, x3=4",
        "dy/dx1 = 20",
        "dy/dx2 = 8",
        "dy/dx3 = 35",
    ]
    assert any(line.startswith("backward from y (gradient 1)") for line in lines)
    assert lines[-2:] == [f"wrote {svg}", f"wrote {page}"]
    assert result.stderr == ""
    text = page.read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="ad-data">(.*?)</script>', text, re.S).group(1))
    assert data["title"] == "y = 5*x1**2 + 8*x2 + 35*x3 + 30   at x1=2, x2=1, x3=4"
    grads = final_gradients(data)
    by_name = {n["name"]: grads[i]["text"] for i, n in enumerate(data["nodes"])}
    assert (by_name["x1"], by_name["x2"], by_name["x3"], by_name["y"]) == ("20", "8", "35", "1")
    assert len(data["steps"]) == 13  # every step, constants' too (the --trace table hides them)
    assert svg.read_text().startswith("<?xml")


def test_command_html_alone_and_for_a_single_variable(tmp_path):
    result = run("x", "--at", "x=2", "--html", str(tmp_path / "x.html"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"wrote {tmp_path / 'x.html'}"


def test_command_html_errors_are_one_line(tmp_path):
    result = run(ARTICLE, "--at", "x1=2", "x2=1", "x3=4", "--html", str(tmp_path / "no" / "y.html"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"autodiff: error: --html: cannot write {tmp_path / 'no' / 'y.html'}: "
        "No such file or directory"
    ]
    result = run(ARTICLE, "--at", "x1=2", "x2=1", "x3=4", "--html")
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "--html: expected one argument" in result.stderr
    # a long sum: more steps than a page steps through
    result = run("+".join(["x"] * 20_001), "--at", "x=1", "--html", str(tmp_path / "long.html"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("autodiff: error: --html: explore: the backward pass has ")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "long.html").exists()


def test_command_without_graphviz_says_how_to_install_it(tmp_path):
    bare = tmp_path / "bin"
    bare.mkdir()  # a PATH with no dot on it
    result = run(ARTICLE, "--at", "x1=2", "x2=1", "x3=4", "--html", str(tmp_path / "y.html"),
                 path=str(bare))  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("autodiff: error: --html: explore: Graphviz's dot program was not")
    assert "apt-get install graphviz" in line
    assert not (tmp_path / "y.html").exists()
    assert result.stdout.splitlines()[0].startswith("y = 5*x1**2")  # the numbers still print


def test_command_help_mentions_html():
    result = run("--help")
    assert result.returncode == 0 and "--html FILE" in result.stdout


def test_a_picture_too_large_for_dot_is_refused_saying_how_to_show_less():
    y = x = Value(0.5, label="x")
    for _ in range(1_000):  # a deep chain: few steps, but a long picture for dot
        y = (y * 1.001).tanh()
    with pytest.raises(DrawingTooLargeError, match=r"^explore: the picture is too large") as err:
        explore(y, group=None, max_nodes=None)
    assert "group='layer'" in str(err.value) and "max_nodes=100" in str(err.value)
    assert explore(y).drawing.boxes == 151  # by default: the node budget, and the rest in one
    assert x.grad == 0.0
