"""`python -m autodiff EXPRESSION --at ...`: values, partials, --trace, --draw, and bad input
ending in one line and exit status 2 (never a traceback), including a fuzz of arbitrary text."""

from __future__ import annotations

import builtins
import contextlib
import io
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from autodiff.__main__ import main
from autodiff.expression import ExpressionError, evaluate, parse

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = "5*x1**2 + 8*x2 + 35*x3 + 30"
PLACED = re.compile(r"autodiff: error: (line \d+, )?column \d+: ")  # an error with a place


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


def test_article_example_prints_value_and_every_partial():
    result = run(ARTICLE, "--at", "x1=2", "x2=1", "x3=4")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "y = 5*x1**2 + 8*x2 + 35*x3 + 30 = 198   at x1=2, x2=1, x3=4",
        "dy/dx1 = 20",  # 10 * x1
        "dy/dx2 = 8",
        "dy/dx3 = 35",
    ]
    assert result.stderr == ""


def test_trace_prints_the_chain_rule_steps():
    result = run(ARTICLE, "--at", "x1=2", "x2=1", "x3=4", "--trace")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[5].startswith("backward from y (gradient 1)")  # the output's name, as above
    assert lines[7].split()[:4] == ["1", "5*x1**2", "+", "8*x2"]  # the first step, into y's +
    assert lines[7].split()[-6:-4] == ["y", "(+)"]
    # the last step: dy/d(x1**2) = 5 times d(x1**2)/dx1 = 4 gives 20
    assert lines[-1].split() == ["13", "x1", "x1**2", "(**", "2)", "5", "4", "20", "20"]
    assert any(line.split()[:2] == ["6", "x3"] and line.split()[-2:] == ["35", "35"]
               for line in lines)  # fmt: skip
    assert not any(line.split()[1:2] == ["5"] for line in lines[7:])  # constants left out


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot not installed")
def test_draw_writes_svg(tmp_path):
    out = tmp_path / "graph.svg"
    result = run("x*x + log(x)", "--at", "x=2", "--draw", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"wrote {out}"
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "x*x + log(x)" in svg
    assert svg.count(">2</text>") == 2  # the two edges of x*x carry d(x*x)/dx = x = 2


def test_draw_highlight_marks_the_paths_of_one_variable(tmp_path, capsys):
    out = tmp_path / "graph.gv"
    assert (
        main([ARTICLE, "--at", "x1=2", "x2=1", "x3=4", "--draw", str(out), "--highlight", "x1"])
        == 0
    )
    source = out.read_text()
    assert "red: every path from x1 to the output" in source
    assert 'label="{ x1 | data 2 | grad 20 }" color=' in source  # highlighted
    assert 'label="{ x2 | data 1 | grad 8 }" fillcolor=' in source  # not
    assert 'label="{ y = 5*x1**2 + 8*x2 + 35*x3 + 30 | data 198 | grad 1 }"' in source
    assert main(["x", "--at", "x=1", "--draw", str(out), "--highlight", "z"]) == 2
    assert "--highlight: 'z' is not a variable" in capsys.readouterr().err


def test_draw_without_dot_writes_source_and_one_line(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "graph.png"
    result = run("x*x", "--at", "x=3", "--draw", str(out), path=str(empty))
    assert result.returncode == 1
    assert result.stdout.splitlines()[:2] == ["y = x*x = 9   at x=3", "dy/dx = 6"]
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "install Graphviz" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "graph.gv").read_text().startswith("digraph")
    assert not out.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["5*x1**2 +", "--at", "x1=2"], "column 10: the expression ends too early"),
        (["x + foo(x)", "--at", "x=1"], "column 5: unknown function 'foo'"),
        (["x.real + 1", "--at", "x=1"], "column 1: attribute access 'x.real' is not allowed"),
        (["__import__('os')", "--at"], "argument --at: expected at least one argument"),
        (["x", "--at", "x=1", "--highlight", "x"], "argument --highlight: needs --draw FILE"),
        (["x + y", "--at", "x=1"], "column 5: no value for y"),
        (["x + 1", "--at", "x"], "--at: expected NAME=NUMBER, got 'x'"),
        (["x + 1", "--at", "x=abc"], "--at x: 'abc' is not a number"),
        (["x + 1", "--at", "x=1", "z=2"], "z not used in the expression"),
        (["x + 1", "--at", "x=1", "x=2"], "x is given twice, as 1 and 2"),
        (["x + 1", "--at", "x=1", "--at", "x=2"], "x is given twice, as 1 and 2"),
        (["x + 1", "--at", "x=nan"], "not a finite number"),
        (["2 * log(x)", "--at", "x=-1"], "column 5: log: needs a positive number, got -1.0"),
        (["1 / (x - 1)", "--at", "x=1"], "column 1: /: division by zero"),
        (["x ^ 2", "--at", "x=1"], "'^' is not a power here; write x**2"),
        (["[x]", "--at", "x=1"], "a list is not allowed"),
        (["x if x else 1", "--at", "x=1"], "if/else is not allowed"),
        (["x", "--at", "x=1", "--draw", "g.unknown"], "cannot tell the format"),
        (["x", "--bogus"], "unrecognized arguments: --bogus"),
        ([], "the following arguments are required: expression"),
    ],
)
def test_bad_input_is_one_line_and_status_2(args, message):
    result = run(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == "" or result.stdout.startswith("y = ")  # --draw fails after values
    first, *rest = result.stderr.splitlines()
    assert first.startswith("autodiff: error: ")
    assert message in first  # the whole message is on the first line
    # a problem placed in the expression shows it, marked; others are one line
    assert len(rest) == (2 if PLACED.match(first) else 0), rest
    if rest:
        assert rest[0] == "  " + args[0] and rest[1].endswith("^")


def test_expression_may_start_with_minus_and_use_functions(capsys):
    assert main(["-x + tanh(x) - leaky_relu(-x, 0.1)", "--at", "x=0.5"]) == 0
    out = capsys.readouterr().out.splitlines()
    t = math.tanh(0.5)
    assert out[0].endswith(f"= {format(-0.5 + t + 0.05, '.12g')}   at x=0.5")
    assert out[1] == f"dy/dx = {format(-1 + (1 - t * t) + 0.1, '.12g')}"


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "--at NAME=NUMBER" in capsys.readouterr().out


def test_no_eval_or_exec(monkeypatch, capsys):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    assert main([ARTICLE, "--at", "x1=2", "x2=1", "x3=4", "--trace"]) == 0
    assert main(["__import__('os').system('echo hi')"]) == 2
    err = capsys.readouterr().err
    assert "column 1: unknown function '__import__' (allowed: exp, log" in err


def test_deep_nesting_is_evaluated_without_recursion(capsys):
    # the parser and the graph builder keep explicit stacks, so nesting has no limit
    assert main(["-" * 100_001 + "x", "--at", "x=2"]) == 0
    assert main(["(" * 50_000 + "x" + ")" * 50_000 + " * 3", "--at", "x=2"]) == 0
    assert main(["(" * 5_000 + "x", "--at", "x=1"]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines()[:2] == [f"y = {'-' * 57}... = -2   at x=2", "dy/dx = -1"]
    assert out.splitlines()[2:] == [f"y = {'(' * 57}... = 6   at x=2", "dy/dx = 3"]
    assert err.splitlines()[0] == "autodiff: error: column 5000: '(' is never closed (add ')')"


def test_evaluate_builds_one_node_per_variable():
    y, inputs = evaluate("x * x + x", {"x": 3})
    y.backward()
    assert inputs["x"].grad == 7.0  # 2x + 1
    assert parse("b * a + b").variables == ("b", "a")
    with pytest.raises(ExpressionError) as error:
        evaluate("  log(q)", {"q": 0})
    assert error.value.column == 3 and "log" in error.value.message
    with pytest.raises(ExpressionError) as error:
        evaluate("x +\n  log(q)", {"q": 0, "x": 1})
    assert (error.value.line, error.value.column) == (2, 3)


# --- fuzz: arbitrary text must end in success or one clean line with status 2 -----------------

pieces = st.sampled_from(
    ["x", "y", "2", "0", "0.5", "1e3", "-", "+", "*", "/", "**", "(", ")", "exp(", "log(",
     "tanh(", "sigmoid(", "relu(", "leaky_relu(", ",", " ", "x.y", "[", "]", "^", "%", "z",
     "lambda", ":", "'s'", "1j", "True", "==", "9" * 400, "é", "\n", "\\", "#"]
)  # fmt: skip


@contextlib.contextmanager
def _in_empty_directory() -> Iterator[None]:
    """Fuzzed arguments can spell `--draw FILE`: whatever gets written lands in a throwaway
    folder, never in the checkout."""
    before = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(before)


def _one_line(text: str) -> bool:
    """One line as the program writes lines, ended by its only "\n". Not str.splitlines(),
    which also splits at characters a user's text may carry and a terminal does not break
    at (NEL "\x85", "\x1c".."\x1e", "\u2028", ...)."""
    return text.endswith("\n") and text.count("\n") == 1


def check_outcome(argv: list[str]) -> None:
    """Run main in-process (hypothesis cannot share pytest's capsys between examples).

    The outcomes a user may see: the results (status 0); the help, when -h/--help is among the
    arguments (status 0, on stdout as argparse prints it); one line saying what is wrong
    (status 2), after the results when it is --draw's FILE that is wrong; a drawing that could
    not be rendered (status 1, with --draw only). Never a traceback, never a second line.
    """
    out, err = io.StringIO(), io.StringIO()
    with _in_empty_directory(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    out, err = out.getvalue(), err.getvalue()
    asked_for_help = "-h" in argv or "--help" in argv
    drawing = "--draw" in argv
    if status == 0:
        assert err == ""
        assert out.startswith(("y = ", "f = ")) or (
            asked_for_help and out.startswith("usage: python -m autodiff")
        ), out
    elif status == 2:
        # one line; a problem placed in the expression adds the line and a '^' under it
        assert err.startswith("autodiff: error: "), err
        lines = err.split("\n")[:-1]  # the program's lines end at "\n" only (see _one_line)
        if PLACED.match(lines[0]):
            assert len(lines) == 3 and lines[2].rstrip().endswith("^"), err
        else:
            assert _one_line(err), err
        assert out == "" or (drawing and out.startswith(("y = ", "f = "))), out
    else:
        assert status == 1 and drawing, (status, out, err)
        assert _one_line(err) and err.startswith("autodiff: "), err


@given(st.text(max_size=60))
def test_fuzz_arbitrary_text(text):
    check_outcome([text, "--at", "x=1.5", "y=-2"])


@given(st.lists(pieces, max_size=25).map("".join))
def test_fuzz_expression_like_text(text):
    check_outcome([text, "--at", "x=1.5", "y=-2", "--trace"])


arguments = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["--", "-h", "--help", "--at", "--trace", "--highlight", "--draw", "x=1",
                     "y=-2", "x", "g.gv", "g.txt", "no/such/g.gv"]),
)  # fmt: skip


@given(st.lists(arguments, max_size=5), st.text(max_size=20))
@example(at=[], text="--help")  # the help, on stdout, status 0
@example(at=["x=1", "-h"], text="")
@example(at=["x=1", "--trace", "\x85"], text="")  # NEL: not a line break for the program
@example(at=["x=1", "y=2", "--draw", "g.gv"], text="")  # written in a throwaway folder
@example(at=["x=1", "y=2", "--draw", "no/such/g.gv"], text="")  # status 2 after the results
def test_fuzz_arguments(at, text):
    check_outcome(["x + y", "--at", *at] if at else [text])


@pytest.mark.parametrize(
    "argv",
    [
        ["x + y", "--at", "x=1", "--trace", "a\nb"],  # argparse: unrecognized arguments: a\nb
        ["x + y", "--at", "x=1", "y=2", "--draw", "no/such\n/g.gv"],  # --draw: cannot write
    ],
)
def test_a_line_break_in_an_argument_stays_in_the_error_line(argv):
    out, err = io.StringIO(), io.StringIO()
    with _in_empty_directory(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(argv) == 2
    assert _one_line(err.getvalue()), err.getvalue()
