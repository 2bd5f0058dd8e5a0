"""Drawings and traces at the REPL and in Jupyter: reprs, escaping any label or op name (rendered
with dot for real), tensor edge formulas, parameter colours, the default drawing of an MLP's loss
fitting a screen, refusing drawings too large for dot, and dot's timeout."""

from __future__ import annotations

import html
import os
import re
import shutil
import stat
import subprocess
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autodiff import Tensor, Value, draw, topological_order, trace
from autodiff.drawing import (
    COLORS,
    MAX_LAYOUT_COST,
    DrawingTooLargeError,
    _write_atomic,
    edge_formula,
    printable,
)
from autodiff.function import Function
from autodiff.tensor import VJP_RULES

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot not installed")


def article_y() -> tuple:
    """The article's y = 5*x1**2 + 8*x2 + 35*x3 + 30."""
    x = Value(2.0, label="x1"), Value(1.0, label="x2"), Value(4.0, label="x3")
    y = 5 * x[0] ** 2 + 8 * x[1] + 35 * x[2] + 30
    y.label = "y"
    return y, x


def svg_text(svg: str) -> str:
    """All the text an SVG shows, joined, whitespace removed."""
    texts = re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)
    return "".join("".join(html.unescape(t) for t in texts).split())


def render(source: str) -> str:
    done = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"), capture_output=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert b"rror" not in done.stderr, done.stderr  # 'Error' or 'syntax error'
    return done.stdout.decode("utf-8")


# --- reprs ------------------------------------------------------------------------------------


def test_drawing_repr_says_what_it_is_and_how_to_save_it():
    y, _ = article_y()
    order = topological_order(y)
    ops = sum(1 for n in order if n._prev)
    assert repr(draw(y)) == (
        f"<GraphDrawing of {len(order)} values, {ops} ops: .save('y.svg') writes "
        "svg/png/pdf/gv; in Jupyter it displays inline>"
    )
    assert (len(order), ops) == (14, 7)


def test_repr_of_a_grouped_drawing_says_so():
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [16, 16, 1], seed=0)
    loss = (model([0.5, -1.0]) - 1.0) ** 2
    order = topological_order(loss)
    ops = sum(1 for n in order if n._prev)
    drawing = draw(loss)
    assert repr(drawing) == (
        f"<GraphDrawing of {len(order):,} values, {ops} ops, drawn as {drawing.boxes} boxes "
        "(grouped by layer; see .note): .save('y.svg') writes svg/png/pdf/gv; in Jupyter it "
        "displays inline>"
    )


@needs_dot
def test_jupyter_keeps_the_inline_svg():
    bundle = draw(Value(2.0, label="x") * 3)._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"]
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    png = draw(Value(2.0, label="x") * 3)._repr_mimebundle_(include=["image/png"])
    assert png["image/png"].startswith(b"\x89PNG")


def test_trace_repr_is_its_table():
    y, _ = article_y()
    steps = trace(y)
    assert repr(steps) == steps.table() == str(steps)
    assert repr(steps).splitlines()[-1].split() == ["13", "x1", "#2", "**", "(**", "2)", "5",
                                                    "4", "20", "20"]  # fmt: skip


def test_a_long_trace_repr_is_cut():
    x = Value(0.5, label="x")
    y = x
    for _ in range(100):
        y = y * 1.01
    steps = trace(y)
    lines = repr(steps).splitlines()
    assert len(lines) == 2 + 60 + 1
    assert lines[-1] == "... 140 more steps (200 in all; print(...) shows them all)"
    assert len(str(steps).splitlines()) == 2 + 200


def test_trace_html_table_is_escaped():
    a = Value(2.0, label="<b>&a")
    y = a * a
    y.label = 'y "out"'
    page = trace(y)._repr_html_()
    assert page.count("<tr>") == 3  # the header and two steps
    assert "&lt;b&gt;&amp;a" in page and "<b>&a" not in page
    assert "y &quot;out&quot; (*)" in page
    assert '<td style="text-align:right">4</td>' in page  # 2 + 2 accumulated


def test_value_item_is_the_float():
    y, _ = article_y()
    assert y.item() == 198.0 and type(y.item()) is float
    assert Value(3).item() == 3.0 and type(Value(3).item()) is float


# --- escaping ---------------------------------------------------------------------------------

NASTY = ['<b>', 'a"b', '{x}|<p>', 'one\ntwo', 'back\\slash', '\\', 'end\\', '"', '<>', '\\N',
         'é漢字🙂', '\x00\x01', '\udc80', 'tab\there', '\u202e', 'a\r\nb', '&lt;', '&amp;',
         '']  # fmt: skip


def custom_op(name: str, class_name: str = "Op") -> type:
    """A Function subclass with this op name (x * 2, elementwise)."""
    body = {
        "forward": staticmethod(lambda x: x * 2),
        "vjp": staticmethod(lambda g, x, out: (2 * g,)),
    }
    if name:
        body["name"] = name
    return type(class_name, (Function,), body)


def test_labels_and_op_names_are_escaped_in_the_source():
    x = Value(1.0, label='a{b}|<c>\\"')
    source = draw(x * 2).source
    assert r'label="{ a\{b\}\|\<c\>\\\" | data 1 | grad not computed }"' in source
    op = custom_op('<b> & "q"', "OpEscaped")
    t = Tensor([1.0, 2.0], requires_grad=True, label="t")
    source = draw(op.apply(t).sum()).source
    assert 'label="<b> &amp; \\"q\\""' in source  # quoted, so not an HTML label


@needs_dot
@pytest.mark.parametrize("text", NASTY)
def test_any_label_renders_as_written(text):
    x = Value(2.0, label=text)
    y = x * 3
    y.label = text
    svg = render(draw(y, highlight=x).source)
    shown = "".join(printable(text).split())
    if shown:  # in both boxes and in the note
        assert svg_text(svg).count(shown) >= 3


_builtin = {name for name, rule in VJP_RULES.items() if "tensor_ops" in getattr(
    rule[0] if isinstance(rule, tuple) else rule, "__module__", "")}  # fmt: skip


@needs_dot
@pytest.mark.parametrize("name", [n for n in NASTY if n and n not in _builtin])
def test_any_op_name_renders_as_written(name):
    op = custom_op(name, "OpNamed")
    t = Tensor([1.0, 2.0], requires_grad=True, label="t")
    svg = render(draw(op.apply(t).sum()).source)
    assert "".join(printable(name).split()) in svg_text(svg)


@needs_dot
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=30), st.text(min_size=1, max_size=30), st.text(max_size=20))
def test_arbitrary_labels_and_op_names_give_dot_that_renders(label, op_name, group_name):
    # a Value graph with the label everywhere a label goes (box, note, group box), and a
    # tensor graph whose custom op has the arbitrary name (and class name)
    x = Value(2.0, label=label)
    y = (x * 3).tanh()
    y.label = label
    svg = render(draw(y, highlight=x).source)
    shown = "".join(printable(label).split())
    assert shown in svg_text(svg)
    grouped = draw(y, group=lambda n: group_name if n is not y else None)
    render(grouped.source)
    if op_name in VJP_RULES:  # a built-in op's name is refused for a custom op
        return
    op = custom_op(op_name, op_name.replace("\x00", "?"))  # a class name has no NUL
    t = Tensor([1.0, -1.0], requires_grad=True, label=label)
    svg = render(draw(op.apply(t).sum()).source)
    assert "".join(printable(op_name).split()) in svg_text(svg)


@given(st.text(max_size=40))
def test_dot_source_keeps_each_statement_on_one_line(label):
    x = Value(1.0, label=label)
    source = draw(x * 2, highlight=x).source
    lines = source.splitlines()
    assert lines[0] == "digraph autodiff {" and lines[-1] == "}"
    for line in lines[1:-1]:  # no raw line break inside a label: every line is a statement
        assert line.startswith("\t"), line
        unescaped = re.sub(r"\\.", "", line)  # drop escaped characters
        assert unescaped.count('"') % 2 == 0, line  # quotes balanced
    source.encode("utf-8")  # no lone surrogates


def test_long_file_names_save_atomically(tmp_path):
    name = "n" * 255  # the longest name most file systems allow
    _write_atomic(tmp_path / name, b"data")
    assert os.listdir(tmp_path) == [name]
    assert (tmp_path / name).read_bytes() == b"data"


# --- colours and edge formulas ----------------------------------------------------------------


def fill(source: str, box: str) -> str:
    (line,) = [ln for ln in source.splitlines() if ln.strip().startswith(f"{box} [label")]
    return re.search(r'fillcolor="([^"]+)"', line).group(1)


def test_tensor_leaves_that_require_grad_are_parameters():
    w = Tensor([[1.0, 2.0]], requires_grad=True)  # unnamed: still a parameter
    x = Tensor([[3.0], [4.0]], label="x")  # data: an input
    c = Tensor([0.5])  # unnamed, no grad: a constant
    y = ((x @ w) * c).sum()
    index = {id(n): i for i, n in enumerate(topological_order(y))}
    source = draw(y).source
    assert fill(source, f"n{index[id(w)]}") == COLORS["parameter"]
    assert fill(source, f"n{index[id(x)]}") == COLORS["input"]
    assert fill(source, f"n{index[id(c)]}") == COLORS["constant"]
    assert fill(source, f"n{index[id(y)]}") == COLORS["output"]


def edge_labels(root) -> dict:
    """(input box, op box) -> edge label."""
    edge = re.compile(r'(\w+) -> (\w+) \[label=(?:"((?:[^"\\]|\\.)*)"|([^\s\]]+))')
    found = {}
    for src, dst, quoted, bare in edge.findall(draw(root, group=None).source):
        found[(src, dst)] = quoted.replace('\\"', '"') if quoted else bare
    return found


def test_matmul_edges_carry_transposes_named_by_the_operands():
    x = Tensor(np.ones((4, 3)), label="x")
    W = Tensor(np.ones((3, 2)), requires_grad=True, label="W")
    y = x @ W
    assert (edge_formula(y, 0), edge_formula(y, 1)) == ("W.T", "x.T")
    b = Tensor(np.ones((3, 2)), requires_grad=True)  # unnamed: the formula's letters
    z = Tensor(np.ones((4, 3))) @ b
    assert (edge_formula(z, 0), edge_formula(z, 1)) == ("b.T", "a.T")
    labels = edge_labels(y.sum())
    assert labels[("n0", "n2op")] == "W.T" and labels[("n1", "n2op")] == "x.T"


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda x, b: x.tanh(), ["1 - tanh^2"]),
        (lambda x, b: x.sigmoid(), ["sigmoid·(1 - sigmoid)"]),
        (lambda x, b: x**2, ["2·x"]),
        (lambda x, b: x**3, ["3·x^2"]),
        (lambda x, b: x**0.5, ["0.5·x^(-0.5)"]),
        (lambda x, b: x / b, ["1/b", "-x/b^2"]),
        (lambda x, b: b - x, ["1", "-1"]),
        (lambda x, b: x * b, ["b", "x"]),
        (lambda x, b: x.exp(), ["exp(x)"]),
        (lambda x, b: x.log(), ["1/x"]),
        (lambda x, b: x.relu(), ["1 where x > 0"]),
        (lambda x, b: x.leaky_relu(0.1), ["1 where x > 0, else 0.1"]),
        (lambda x, b: x.clip(-1, None), ["1 where -1 <= x"]),
        (lambda x, b: x.mean(), ["1/3"]),
        (lambda x, b: x.var(ddof=1), ["2·(x - mean)/2"]),
        (lambda x, b: x.reshape(3, 1), ["1, reshaped"]),
    ],
)
def test_edge_formulas(make, expected):
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True, label="x")
    b = Tensor([2.0, 2.0, 4.0], requires_grad=True, label="b")
    y = make(x, b)
    assert [edge_formula(y, i) for i in range(len(y._prev))] == expected


def test_long_or_compound_operand_names():
    h = Tensor([1.0, 2.0], requires_grad=True, label="h + 1")
    w = Tensor([3.0, 4.0], requires_grad=True, label="a_very_long_weight_name")
    y = h * w
    assert (edge_formula(y, 0), edge_formula(y, 1)) == ("b", "(h + 1)")


def test_small_elementwise_edges_show_the_formula_and_its_values():
    x = Tensor([0.0, 1.0], requires_grad=True, label="x")
    labels = edge_labels((x * x).tanh().sum())
    assert labels[("n0", "n1op")] == "x = [0, 1]"  # d(x * x)/dx, each slot
    assert labels[("n1", "n2op")] == "1 - tanh^2 = [1, 0.42]"
    assert labels[("n2", "n3op")] == "1"  # a constant formula shows no values
    assert edge_labels((x**2).sum())[("n0", "n1op")] == "2·x"


def test_every_built_in_op_has_a_formula_per_input():
    # a new op must add its formula next to its rule (else its edges show only shapes)
    import sys

    for op in sorted(_builtin):
        rules = VJP_RULES[op]
        module = sys.modules[(rules[0] if isinstance(rules, tuple) else rules).__module__]
        table = module.EDGE_FORMULAS[op]
        if isinstance(rules, tuple):
            assert len(table) == len(rules), op
        else:  # any number of inputs
            assert list(table) == ["*"], op


def test_a_custom_function_without_formulas_shows_shapes_and_with_them_its_own():
    t = Tensor([1.0, -2.0, 3.0], requires_grad=True, label="t")
    plain = custom_op("twice_plain", "TwicePlain")
    assert edge_formula(plain.apply(t), 0) is None
    assert 'label="d(3,)/d(3,)"' in draw(plain.apply(t).sum()).source

    class Twice(Function):
        edge_formulas = {"x": "2"}

        @staticmethod
        def forward(x):
            return 2 * x

        @staticmethod
        def vjp(g, x, out):
            return (2 * g,)

    assert edge_formula(Twice.apply(t), 0) == "2"


def test_scalar_edges_keep_numbers():
    y, (x1, _, _) = article_y()
    order = topological_order(y)
    assert f"n{order.index(x1)} -> n{order.index(x1) + 1}op [label=4]" in draw(y).source


# --- large graphs -----------------------------------------------------------------------------


def mlp_loss(n_samples: int = 2) -> Value:
    nn = pytest.importorskip("nn")
    model = nn.MLP(2, [16, 16, 1], seed=0)
    data = [([0.5, -1.0], 1.0), ([2.0, 0.3], -1.0), ([-0.4, 0.8], 1.0)][:n_samples]
    loss = Value.sum((model(p) - t) ** 2 for p, t in data)
    loss.backward()
    return loss


def test_default_drawing_of_an_mlp_loss_is_grouped_and_says_so():
    loss = mlp_loss()
    default = draw(loss)
    assert default.grouping == "layer" and default.boxes <= 24
    assert default.note.startswith("grouped by layer to fit a screen (538 values in")
    assert "group=None, max_nodes=None draws every value" in default.note
    assert default.note.split(";")[0] in default.source.replace("\\'", "'")
    everything = draw(loss, group=None, max_nodes=None)
    assert everything.shown == everything.total == 538 and everything.note == ""
    small = draw(Value(1.0, label="layers.0.w") * 2)  # small graphs are never grouped
    assert small.grouping == "" and "group" not in small.note


@needs_dot
def test_default_drawing_of_an_mlp_loss_fits_a_screen():
    svg = draw(mlp_loss()).render_bytes("svg").decode()
    width, height = map(float, re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"',
                                         svg).groups())  # fmt: skip
    assert width <= 1440 and height <= 810  # 1920 x 1080 pixels at 96 per inch


def reused_chain(n: int) -> Value:
    """x feeds every step: each of its edges crosses all the ranks before it."""
    x = Value(1.0, label="x")
    y = x
    for _ in range(n):
        y = y * 1.0001 + x
    return y


def test_layout_cost_grows_with_long_edges():
    short, long = draw(reused_chain(10)), draw(reused_chain(40))
    assert short.layout_cost < MAX_LAYOUT_COST < long.layout_cost
    chain = Value(1.0, label="x")
    for _ in range(60):
        chain = chain.tanh()
    assert draw(chain).layout_cost < 5 * 120  # no long edges: about nodes + edges


def test_a_drawing_too_large_for_dot_is_refused_with_advice(tmp_path):
    big = draw(reused_chain(40))
    assert "too large for Graphviz" in repr(big) and "too large" in big.note
    with pytest.raises(DrawingTooLargeError, match="group='layer'.*max_nodes=100"):
        big.save(tmp_path / "big.svg")
    with pytest.raises(DrawingTooLargeError):
        big.pipe(format="svg")
    with pytest.raises(DrawingTooLargeError):
        big.render(tmp_path / "big", format="svg")
    assert big.save(tmp_path / "big.gv").read_text() == big.source  # the source is always fine
    bundle = big._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "max_nodes=100" in bundle["text/plain"]
    assert sorted(os.listdir(tmp_path)) == ["big.gv"]


@needs_dot
def test_forcing_a_large_drawing_still_stops_at_the_timeout(tmp_path):
    big = draw(reused_chain(60))
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="did not finish .* within 1 s"):
        big.save(tmp_path / "big.svg", force=True, timeout=1)
    assert time.perf_counter() - start < 10
    assert os.listdir(tmp_path) == []


def test_a_hanging_dot_is_stopped(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nexec {shutil.which('sleep')} 30\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake.parent))
    drawing = draw(Value(2.0, label="x") * 3)
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="within 0.5 s"):
        drawing.save(tmp_path / "y.svg", timeout=0.5)
    assert time.perf_counter() - start < 10
    drawing.timeout = 0.5  # what Jupyter's display waits
    bundle = drawing._repr_mimebundle_()  # a message, not a hang or a traceback
    assert list(bundle) == ["text/plain"] and "within 0.5 s" in bundle["text/plain"]
    assert time.perf_counter() - start < 20


def test_a_failing_dot_is_one_message(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'Error: something broke' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake.parent))
    with pytest.raises(RuntimeError, match="save: Graphviz's dot failed: Error: something broke"):
        draw(Value(2.0, label="x") * 3).save(tmp_path / "y.png")
    assert not list(tmp_path.glob("y.*"))
