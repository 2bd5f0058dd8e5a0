"""The examples users read are examples that run: every docstring in the packages, and every
Python block of README.md (REPL blocks as doctests, the others executed, their test functions
called)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import autodiff
import nn

README = Path(__file__).resolve().parent.parent / "README.md"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    names = []
    for package in (autodiff, nn):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not info.name.endswith("__main__"):  # running it would parse pytest's argv
                names.append(info.name)
    return names


@pytest.mark.parametrize("module", _modules())
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=FLAGS, report=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {module} fail"


def test_every_public_module_has_examples() -> None:
    without = [
        name
        for name in _modules()
        if doctest.testmod(importlib.import_module(name), report=False).attempted == 0
    ]
    # modules that only hold rules or data for others (each is covered by its users' tests)
    assert set(without) <= {
        "autodiff.errors",
        "autodiff.tensor_ops",
        "autodiff.tensor_ops.matmul",
        "autodiff.tensor_ops.numpy_protocol",
        "nn.activations",
        "nn.losses",
    }, without


def _python_blocks() -> list[tuple[int, str]]:
    text = README.read_text()
    blocks = []
    for match in re.finditer(r"```python\n(.*?)```", text, re.S):
        line = text[: match.start()].count("\n") + 2
        blocks.append((line, match.group(1)))
    return blocks


def test_the_readme_has_python_examples() -> None:
    assert len(_python_blocks()) >= 6


@pytest.mark.parametrize("line, code", _python_blocks(), ids=lambda v: str(v)[:12])
def test_readme_block_runs(line: int, code: str) -> None:
    if ">>>" in code:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(code, {}, f"README.md:{line}", str(README), line - 1)
        runner = doctest.DocTestRunner(optionflags=FLAGS)
        runner.run(test)
        assert runner.failures == 0, f"README.md block at line {line} fails (see output)"
        return
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(code, f"README.md:{line}", "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()  # e.g. the hypothesis property check shown to users
