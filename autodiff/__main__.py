"""``python -m autodiff EXPRESSION --at NAME=NUMBER ... [--draw FILE] [--trace] [--html FILE]``

Prints the expression's value and its partial derivative with respect to every variable:

    $ python -m autodiff "5*x1**2 + 8*x2 + 35*x3 + 30" --at x1=2 x2=1 x3=4
    y = 5*x1**2 + 8*x2 + 35*x3 + 30 = 198   at x1=2, x2=1, x3=4
    dy/dx1 = 20
    dy/dx2 = 8
    dy/dx3 = 35

The output is called y, or f when y is one of the variables (then f_, f__...), in the header,
the derivatives, the trace and the drawing. ``--at`` may be repeated (``--at x=1 --at y=2``); a
variable given twice must have the same value both times. ``--draw graph.svg`` also writes the
graph (svg, png, pdf or gv; ``--highlight x1`` draws the paths from x1 in red), ``--trace``
prints the chain-rule steps, ``--html page.html`` writes a page that steps through them on the
picture (see `autodiff.explore`).

Bad input exits with status 2 after one line saying what is wrong (and where: the line and
column); a problem in the expression is then shown under it, marked with ``^``:

    autodiff: error: column 2: missing operator: did you mean 5*x1?
      5x1 + 2
       ^

A drawing that cannot be rendered (no Graphviz) exits with status 1 after writing the DOT
source; so does a page without Graphviz (after a line saying how to install it).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import secrets
import sys
import unicodedata
import warnings
from typing import Iterator, Sequence, TextIO

from autodiff.chain_rule import trace
from autodiff.drawing import GraphvizNotFoundWarning, draw
from autodiff.explorer import GraphvizNotFoundError, explore
from autodiff.expression import ALLOWED, ExpressionError, evaluate

EXIT_OK, EXIT_NOT_RENDERED, EXIT_BAD_INPUT = 0, 1, 2


class _BadArguments(Exception):
    """argparse's complaint, kept to one line instead of usage + error + exit."""


_OPTIONS = {"-h", "--help", "--at", "--draw", "--highlight", "--trace", "--html"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _BadArguments(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m autodiff",
        allow_abbrev=False,  # so that any other argument starting with '-' is an expression
        description="Evaluate an expression and every partial derivative of it (reverse mode).",
        epilog=f"Allowed in EXPRESSION: {ALLOWED}. Example: python -m autodiff "
        '"5*x1**2 + 8*x2 + 35*x3 + 30" --at x1=2 x2=1 x3=4 --trace',
    )
    parser.add_argument("expression", help='e.g. "5*x1**2 + 8*x2 + 35*x3 + 30"')
    parser.add_argument(
        "--at",
        nargs="+",
        action="extend",
        default=[],
        metavar="NAME=NUMBER",
        help="the value of each variable, e.g. --at x1=2 x2=1 x3=4 (may be repeated)",
    )
    parser.add_argument(
        "--draw", metavar="FILE", help="write the graph to FILE (.svg, .png, .pdf or .gv)"
    )
    parser.add_argument(
        "--highlight",
        metavar="NAME",
        help="with --draw: draw every path from variable NAME to the output in red",
    )
    parser.add_argument("--trace", action="store_true", help="print the chain-rule steps")
    parser.add_argument(
        "--html",
        metavar="FILE",
        help="write a page that steps through the backward pass on the graph (open it in a "
        "browser; it needs no network)",
    )
    return parser


def _values(pairs: Sequence[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    for pair in pairs:
        name, sep, number = pair.partition("=")
        # names as Python (and the expression) read them: NFKC, so é is é however typed
        name, number = unicodedata.normalize("NFKC", name.strip()), number.strip()
        if not sep or not name.isidentifier() or not number:
            raise ExpressionError(f"--at: expected NAME=NUMBER, got {pair!r}")
        try:
            value = float(number)
        except ValueError:
            raise ExpressionError(f"--at {name}: {number!r} is not a number") from None
        if not math.isfinite(value):
            raise ExpressionError(f"--at {name}: {number!r} is not a finite number")
        if name in values and values[name] != value:
            raise ExpressionError(
                f"--at: {name} is given twice, as {_num(values[name])} and {_num(value)} "
                "(give each variable one value)"
            )
        values[name] = value
    return values


def _num(x: float) -> str:
    return format(x, ".12g")


def output_name(variables: Sequence[str]) -> str:
    """What to call the output: y, or f if y is a variable, then f_, f__...

    >>> output_name(["x", "y"])
    'f'
    """
    taken = set(variables)
    for name in ("y", "f"):
        if name not in taken:
            return name
    name = "f_"
    while name in taken:
        name += "_"
    return name


def _width(ch: str, encoding: str) -> int:
    """Columns `ch` takes on a terminal: tabs are kept as tabs by the caller, wide (CJK)
    characters take two, combining marks none, and a character the terminal's encoding
    cannot show takes its backslash escape (the streams use errors='backslashreplace')."""
    try:
        ch.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return len(ch.encode("ascii", "backslashreplace"))
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def excerpt(text: str, line: int, column: int, encoding: str = "utf-8", width: int = 72) -> str:
    """Line `line` of `text` (cut to about `width` characters around the column), and under it
    a '^' at `column` (1-based, in characters), both indented by two spaces.

    >>> print(excerpt("5x1 + 2", 1, 2))
      5x1 + 2
       ^
    """
    lines = text.split("\n")
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    index = max(column - 1, 0)
    start = 0
    if len(source) > width:  # a window around the column, marked '...' where cut
        start = max(0, min(index - width // 2, len(source) - width))
    end = min(len(source), start + width)
    shown = "".join(ch if ch == "\t" or ch.isprintable() else "\ufffd" for ch in source[start:end])
    before = "..." if start else ""
    after = "..." if end < len(source) else ""
    pad = "".join(ch if ch == "\t" else " " * _width(ch, encoding) for ch in shown[: index - start])
    return f"  {before}{shown}{after}\n  {' ' * len(before)}{pad}^"


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: building a graph of a million acyclic nodes would
    otherwise run it hundreds of times over a growing heap, for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _printable(text: str) -> str:
    """`text` with characters that would break or hide the error line (a newline, NEL, a
    control character from a user's argument) written as their escapes: one line stays one."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _report(error: ExpressionError, text: str, err: TextIO) -> None:
    """One line saying what and where; for a place in the expression, the line and a '^'."""
    print(f"autodiff: error: {error}", file=err)
    if error.column is not None:
        encoding = getattr(err, "encoding", None) or "utf-8"
        print(excerpt(text, error.line, error.column, encoding), file=err)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with `argv` (default: ``sys.argv[1:]``); returns the exit status."""
    out, err = sys.stdout, sys.stderr
    for stream in (out, err):  # a variable named é must not crash an ASCII terminal
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    argv = list(sys.argv[1:] if argv is None else argv)
    # An expression may start with '-' ("-x + 1", "--x"): argparse would take it for an option,
    # so arguments that are none of ours travel under a stand-in name.
    originals: dict[str, str] = {}
    for i, arg in enumerate(argv):
        if arg.startswith("-") and arg != "--" and arg.split("=")[0] not in _OPTIONS:
            stand_in = f"expression-{secrets.token_hex(8)}"
            originals[stand_in] = arg
            argv[i] = stand_in
    try:
        args = _parser().parse_args(argv)
        args.expression = originals.get(args.expression, args.expression)
        args.at = [originals.get(a, a) for a in args.at]
    except _BadArguments as error:
        for stand_in, arg in originals.items():
            error = _BadArguments(str(error).replace(stand_in, arg))
        print(f"autodiff: error: {_printable(str(error))} (see python -m autodiff --help)",
              file=err)  # fmt: skip
        return EXIT_BAD_INPUT
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else EXIT_OK
    if args.highlight is not None and not args.draw:
        print("autodiff: error: argument --highlight: needs --draw FILE (it marks the paths in "
              "the drawing; see python -m autodiff --help)", file=err)  # fmt: skip
        return EXIT_BAD_INPUT
    try:
        values = _values(args.at)
        with _gc_paused():
            y, inputs = evaluate(args.expression, values)
            if args.highlight is not None and args.highlight not in inputs:
                raise ExpressionError(
                    f"--highlight: {args.highlight!r} is not a variable of the expression "
                    f"(its variables: {', '.join(inputs) or 'none'})"
                )
            y.backward()
    except ExpressionError as error:
        _report(error, args.expression, err)
        return EXIT_BAD_INPUT

    name = output_name(list(inputs))
    text = y.label
    at = ", ".join(f"{x}={_num(v.data)}" for x, v in inputs.items())
    print(f"{name} = {text or _num(y.data)} = {_num(y.data)}" + (f"   at {at}" if at else ""),
          file=out)  # fmt: skip
    for x, v in inputs.items():
        print(f"d{name}/d{x} = {_num(v.grad)}", file=out)

    if args.trace:
        if y._prev:  # the trace calls the output what the lines above call it
            y.label = name
        steps = trace(y)
        # constants' gradients (d y / d 5) are real but not what a learner asked about
        shown = [s for s in steps if s.node._prev or s.node.label]
        print(file=out)
        print(steps.table(shown), file=out)

    if args.draw:
        if y._prev:  # the output box reads like the first line printed: y = expression
            y.label = f"{name} = {text}"
        highlight = inputs[args.highlight] if args.highlight else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", GraphvizNotFoundWarning)
            try:
                written = draw(y, highlight=highlight).save(args.draw)
            except ValueError as error:  # a suffix that names no format
                print(f"autodiff: error: --draw: {_printable(str(error))}", file=err)
                return EXIT_BAD_INPUT
            except OSError as error:
                where = _printable(args.draw)
                print(f"autodiff: error: --draw: cannot write {where}: {error.strerror}", file=err)
                return EXIT_BAD_INPUT
            except RuntimeError as error:  # dot itself failed
                print(f"autodiff: error: --draw: {_printable(str(error))}", file=err)
                return EXIT_NOT_RENDERED
        missing = [w for w in caught if issubclass(w.category, GraphvizNotFoundWarning)]
        if missing:
            print(f"autodiff: {missing[0].message}", file=err)
            return EXIT_NOT_RENDERED
        print(f"wrote {written}", file=out)

    if args.html:
        if y._prev:  # the output box is called what the lines above call it; the title says all
            y.label = name
        title = f"{name} = {text}" + (f"   at {at}" if at else "") if y._prev else name
        try:
            written = explore(y, title=title).save(args.html)
        except GraphvizNotFoundError as error:
            print(f"autodiff: error: --html: {_printable(str(error))}", file=err)
            return EXIT_NOT_RENDERED
        except OSError as error:
            where = _printable(args.html)
            print(f"autodiff: error: --html: cannot write {where}: {error.strerror}", file=err)
            return EXIT_BAD_INPUT
        except ValueError as error:  # a backward pass too long to step through
            print(f"autodiff: error: --html: {_printable(str(error))}", file=err)
            return EXIT_BAD_INPUT
        except RuntimeError as error:  # dot itself failed or ran out of time
            print(f"autodiff: error: --html: {_printable(str(error))}", file=err)
            return EXIT_NOT_RENDERED
        print(f"wrote {written}", file=out)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
