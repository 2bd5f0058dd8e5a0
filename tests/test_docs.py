"""The examples users read are examples that run: every docstring in the packages, and every
Python block of README.md and of the guides in docs/ (REPL blocks as doctests, the others
executed, their test functions called)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
import textwrap
from pathlib import Path

import pytest

import autodiff
import nn

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
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


def _python_blocks(page: Path = README) -> list[tuple[int, str]]:
    text = page.read_text()
    blocks = []
    for match in re.finditer(r"```python\n(.*?)```", text, re.S):
        line = text[: match.start()].count("\n") + 2
        blocks.append((line, textwrap.dedent(match.group(1))))
    return blocks


def test_the_readme_and_guides_have_python_examples() -> None:
    assert len(_python_blocks()) >= 2
    assert all(_python_blocks(page) for page in PAGES), "a guide in docs/ without an example"


@pytest.mark.parametrize(
    "where, code",
    [(f"{page.relative_to(ROOT)}:{line}", code) for page in PAGES for line, code in
     _python_blocks(page)],
    ids=lambda v: str(v)[:24],
)  # fmt: skip
def test_readme_block_runs(where: str, code: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # an example that saves a file writes it here
    path, line = where.rsplit(":", 1)
    if ">>>" in code:
        parser = doctest.DocTestParser()
        test = parser.get_doctest(code, {}, where, str(ROOT / path), int(line) - 1)
        runner = doctest.DocTestRunner(optionflags=FLAGS)
        runner.run(test)
        assert runner.failures == 0, f"{where}: the block fails (see output)"
        return
    namespace: dict = {"__name__": "readme_example"}
    exec(compile(code, where, "exec"), namespace)
    for name, value in list(namespace.items()):
        if name.startswith("test_") and callable(value):
            value()  # e.g. the hypothesis property check shown to users
