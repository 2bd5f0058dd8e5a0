"""`python -m autodiff` under stress: parsing in linear time (a megabyte parses), long --draw
names, overflow in words, repeated --at, --highlight without --draw, an output name apart from
the variables, implicit-multiplication hints and the '^' marker under the right column."""

from __future__ import annotations

import contextlib
import gc
import io
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autodiff import Value
from autodiff.__main__ import excerpt, main, output_name
from autodiff.expression import ExpressionError, evaluate, parse

ROOT = Path(__file__).resolve().parent.parent


def run_main(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "autodiff", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **env),
        cwd=ROOT,
        timeout=120,
    )


# --- linear time ------------------------------------------------------------------------------

SHAPES = {  # n -> an expression of about n terms, in the shapes long input takes
    "sum": lambda n: " + ".join(f"{i % 89}*x" for i in range(n)),
    "sum over lines": lambda n: "(" + "\n + ".join(f"{i % 89}*x" for i in range(n)) + ")",
    "product": lambda n: "*".join(["x"] * n),
    "nested": lambda n: "(" * n + "x" + " + 1)" * n,
    "signs": lambda n: "-" * n + "x",
    "powers": lambda n: "**".join(["x"] * n),
    "calls": lambda n: "tanh(" * n + "x" + ")" * n,
    "variables": lambda n: " + ".join(f"v{i}" for i in range(n)),
}


def best_time(f, repeat: int = 3) -> float:
    """The least CPU time of this process `f` takes: other processes on a busy machine do
    not count, and neither does the garbage collector (not the parser's work)."""
    best = math.inf
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.process_time()
            f()
            best = min(best, time.process_time() - start)
    finally:
        if enabled:
            gc.enable()
    return best


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_parsing_and_building_take_linear_time(shape):
    # 8 times the text must take about 8 times as long: a quadratic step would take 64 times.
    # CPU time, best of three, without the garbage collector: stable to about 10% here.
    make = SHAPES[shape]

    def job(n: int):
        text = make(n)
        expr = parse(text)
        values = dict.fromkeys(expr.variables, 0.5)
        return lambda: evaluate(text, values)

    small, large = job(1_000), job(8_000)
    small()  # warm up
    ratio = best_time(large) / best_time(small)
    assert ratio < 20, f"{shape}: 8x the input took {ratio:.1f}x the time"


def test_a_megabyte_expression_is_evaluated():
    terms = [f"{i % 97}*x{i % 50}" for i in range(122_000)]
    text = " + ".join(terms)
    assert len(text) > 2**20
    at = [f"x{j}={j / 10}" for j in range(50)]
    status, out, err = run_main(text, "--at", *at)
    assert status == 0, err
    lines = out.splitlines()
    # d/dx_j of sum_i (i % 97) * x_(i % 50) is the sum of the coefficients of x_j
    coefficient = [0] * 50
    for i in range(122_000):
        coefficient[i % 50] += i % 97
    value = sum(c * j / 10 for j, c in enumerate(coefficient))
    assert float(lines[0].rsplit(" = ", 1)[1].split()[0]) == pytest.approx(value, rel=1e-12)
    assert lines[1:] == [f"dy/dx{j} = {coefficient[j]}" for j in range(50)]
    assert lines[0].startswith("y = 0*x0 + 1*x1 + 2*x2") and "..." in lines[0]


def test_deep_nesting_has_no_limit():
    depth = 100_000
    y, _ = evaluate("(" * depth + "x" + ")" * depth, {"x": 2.0})
    assert y.data == 2.0
    y, inputs = evaluate("tanh(" * 3 + "-" * depth + "x" + ")" * 3, {"x": 0.5})
    y.backward()
    assert y.data == pytest.approx(math.tanh(math.tanh(math.tanh(0.5))))


# --- --draw with a long name ------------------------------------------------------------------


def test_draw_to_a_long_file_name(tmp_path):
    name = "g" * 250 + ".gv"  # 253 bytes: a valid name, with no room for a suffix
    status, out, err = run_main("x*x", "--at", "x=3", "--draw", str(tmp_path / name))
    assert status == 0, err
    assert os.listdir(tmp_path) == [name]
    assert (tmp_path / name).read_text().startswith("digraph")
    multibyte = "é" * 124 + ".gv"  # 251 bytes in UTF-8
    status, _, err = run_main("x*x", "--at", "x=3", "--draw", str(tmp_path / multibyte))
    assert status == 0, err
    assert multibyte in os.listdir(tmp_path)


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot not installed")
def test_render_to_a_long_file_name(tmp_path):
    name = "y" * 251 + ".svg"
    status, _, err = run_main("x*x", "--at", "x=3", "--draw", str(tmp_path / name))
    assert status == 0, err
    assert os.listdir(tmp_path) == [name]
    assert (tmp_path / name).read_text().lstrip().startswith("<?xml")


def test_a_too_long_file_name_is_one_line(tmp_path):
    status, out, err = run_main("x", "--at", "x=1", "--draw", str(tmp_path / ("z" * 300 + ".gv")))
    assert status == 2
    assert err.startswith("autodiff: error: --draw: cannot write") and len(err.splitlines()) == 1


# --- overflow ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["10**400"], ["x**400", "--at", "x=1000"], ["exp(1000)*0"], ["x**x", "--at", "x=1000"],
     ["exp(x)**2 * 0", "--at", "x=1000"], ["2**1024"]],
)  # fmt: skip
def test_overflow_reads_as_words(args):
    status, out, err = run_main(*args)
    assert "(34" not in out + err and "Numerical result" not in out + err
    assert status in (0, 2)
    if status == 2:  # where a float overflows outside the ops' own guards
        assert "overflow: the result is too large for a float" in err
    else:
        assert err == "" and re.search(r"= (-?inf|nan)\b", out), out


def test_an_overflow_error_from_an_op_is_phrased(monkeypatch):
    def overflowing(self, other):
        raise OverflowError(34, "Numerical result out of range")  # as float ** does

    monkeypatch.setattr(Value, "__mul__", overflowing)
    status, out, err = run_main("x*2", "--at", "x=1")
    assert status == 2
    line = err.splitlines()[0]
    assert (
        line == "autodiff: error: column 1: overflow: the result is too large for a float (in x*2)"
    )


# --- --at and --highlight ---------------------------------------------------------------------


def test_repeated_at_merges():
    status, out, err = run_main("x*z", "--at", "x=3", "--at", "z=2")
    assert status == 0, err
    assert out.splitlines() == ["y = x*z = 6   at x=3, z=2", "dy/dx = 2", "dy/dz = 3"]
    # the same value twice is harmless; two different values are refused
    assert run_main("x*z", "--at", "x=3", "z=2", "--at", "x=3.0")[0] == 0
    status, out, err = run_main("x*z", "--at", "x=3", "z=2", "--at", "x=4")
    assert status == 2 and out == ""
    assert (
        err
        == "autodiff: error: --at: x is given twice, as 3 and 4 (give each variable one value)\n"
    )


def test_highlight_needs_draw():
    status, out, err = run_main("x*x", "--at", "x=1", "--highlight", "x")
    assert status == 2 and out == ""
    assert err.startswith("autodiff: error: argument --highlight: needs --draw FILE")
    assert len(err.splitlines()) == 1


# --- the output's name ------------------------------------------------------------------------


def test_output_name_never_collides():
    assert output_name(["x1", "x2"]) == "y"
    assert output_name(["x", "y"]) == "f"
    assert output_name(["y", "f"]) == "f_"
    assert output_name(["y", "f", "f_", "f__"]) == "f___"


def test_output_name_is_used_everywhere(tmp_path):
    graph = tmp_path / "g.gv"
    status, out, err = run_main("x*y + f", "--at", "x=3", "y=2", "f=1", "--trace",
                                "--draw", str(graph))  # fmt: skip
    assert status == 0, err
    lines = out.splitlines()
    assert lines[:4] == ["f_ = x*y + f = 7   at x=3, y=2, f=1", "df_/dx = 2", "df_/dy = 3",
                         "df_/df = 1"]  # fmt: skip
    assert lines[5].startswith("backward from f_ (gradient 1)")
    assert [line.split()[2:4] for line in lines[7:9]] == [["f_", "(+)"], ["f_", "(+)"]]
    assert 'label="{ f_ = x*y + f | data 7 | grad 1 }"' in graph.read_text()
    assert "dy/dy" not in out


# --- hints and the marker ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, message",
    [
        ("5x1 + 2", "column 2: missing operator: did you mean 5*x1?"),
        ("2 x", "column 3: missing operator: did you mean 2*x?"),
        ("3(x + 1)", "column 2: missing operator: did you mean 3*(x + 1)?"),
        ("(x + 1)(x - 1)", "column 8: missing operator: did you mean (x + 1)*(x - 1)?"),
        ("x(1 + x)", "unknown function 'x'"),
        ("x(1 + x)", "did you mean x*(1 + x)?"),
        ("x1 + x1(2)", "did you mean x1*(2)?"),  # a variable used as a function
        ("2x**2", "column 2: missing operator: did you mean 2*x?"),
        ("Exp(x)", "did you mean exp?"),
        ("ln(x)", "did you mean log?"),
        ("x²", "column 2: '²' is not allowed; write x**2"),
        ("x × 2", "write '*'"),
        ("1.5.2", "column 1: 1.5.2 is not a number"),
    ],
)
def test_hints(text, message):
    with pytest.raises(ExpressionError) as error:
        evaluate(text, {"x": 1.0, "x1": 1.0})
    assert message in str(error.value)


def marker(*argv: str) -> tuple[str, str]:
    """The excerpt and marker lines the command prints under its one-line error."""
    status, out, err = run_main(*argv)
    assert status == 2 and out == ""
    _, shown, mark = err.splitlines()
    return shown, mark


@pytest.mark.parametrize(
    "text, pad",
    [
        ("5x1 + 2", " "),  # under x1, where the '*' is missing
        ("  é + foo(é)", " " * 6),  # leading spaces; é is two bytes but one column
        ("\tx +\tfoo(x)", "\t   \t"),  # tabs stay tabs, so the terminal aligns both lines
        ("-x + foo(x)", " " * 5),  # an expression argparse could take for an option
        ("--x + foo(x)", " " * 6),
        ("漢字 + foo(x)", " " * 7),  # wide characters take two columns
        ("e\u0301 + foo(x)", " " * 4),  # a combining accent takes none
        ("x +\n  foo(x)", "  "),  # the line of the error, not the first
    ],
)
def test_marker_is_under_the_column(text, pad):
    shown, mark = marker(text, "--at", "x=1", "é=1", "漢字=1", "é=1")
    assert shown == "  " + text.split("\n")[-1 if "\n" in text else 0]
    assert mark == "  " + pad + "^"


def test_marker_after_the_separator():
    # '--' ends the options, and an expression after it may start with '-' too
    assert marker("--at", "x=1", "--", "-x + foo(x)") == ("  -x + foo(x)", "  " + " " * 5 + "^")
    assert marker("--at", "x=1", "--", "--x + fo(x)")[1] == "  " + " " * 6 + "^"


def test_marker_in_a_long_line_is_windowed():
    text = " + ".join(["x"] * 3000) + " + foo(x)" + " + x" * 3000
    shown, mark = marker(text, "--at", "x=1")
    assert len(shown) < 90 and shown.startswith("  ...") and shown.endswith("...")
    assert shown[len(mark) - 1 :].startswith("foo(x)")  # the '^' stands under the f


def test_marker_on_an_ascii_terminal():
    # é cannot be encoded: the stream writes it as \xe9, four columns, and the marker follows
    result = run("é + foo(é)", "--at", "é=1", PYTHONIOENCODING="ascii")
    assert result.returncode == 2
    _, shown, mark = result.stderr.splitlines()
    assert shown == "  \\xe9 + foo(\\xe9)"
    assert mark == "  " + " " * 7 + "^"


def test_excerpt_marks_the_end_of_the_text():
    assert excerpt("x +", 1, 4) == "  x +\n     ^"
    assert excerpt("a\x00b", 1, 3) == "  a\ufffdb\n    ^"  # unprintable characters take one column


def test_the_command_modules_docstring_examples():
    # tests/test_docs.py leaves __main__ out (importing it there would parse pytest's argv)
    import doctest

    import autodiff.__main__ as command

    result = doctest.testmod(command)
    assert result.attempted >= 2 and result.failed == 0
