"""The notebooks teach what the engine does, so they must keep running: each one is executed top
to bottom by a real Jupyter kernel (nbclient + ipykernel, through ``notebooks/run.py``) on this
checkout's code, and each is checked to be committed the way readers see it: with its outputs,
a picture, and a first cell that says what the reader will learn."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
IMAGES = ("image/png", "image/svg+xml")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _runner():
    """notebooks/run.py as a module (notebooks/ is not a package), or a skip saying what is
    missing to execute notebooks."""
    for needed in ("nbclient", "ipykernel", "nbformat"):
        reason = f'executing notebooks needs {needed}: pip install ".[notebooks]"'
        pytest.importorskip(needed, reason=reason)
    spec = importlib.util.spec_from_file_location("notebooks_run", NOTEBOOKS / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def test_there_are_notebooks() -> None:
    """The tour and one notebook for each part of the article, 01 to 08, one per number."""
    names = [p.name for p in PATHS]
    assert "00_tour.ipynb" in names, names
    numbers = [name[:2] for name in names]
    assert len(set(numbers)) == len(numbers), f"two notebooks share a number: {names}"
    missing = sorted({f"{n:02d}" for n in range(9)} - set(numbers))
    assert not missing, f"no notebook numbered {missing}: {names}"


def test_notebooks_point_to_each_other() -> None:
    """A reader finds every notebook: the index (notebooks/README.md) links each one, the
    tour's "Where next" names each of the others, and each notebook from 01 on closes by
    naming the one after it."""
    index = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    tour = _source(_load(NOTEBOOKS / "00_tour.ipynb")["cells"][-1])
    assert tour.startswith("## Where next"), tour[:80]
    for path in PATHS:
        assert f"]({path.name})" in index, f"notebooks/README.md does not link {path.name}"
        if path.stem != "00_tour":
            assert f"`{path.stem}`" in tour, f"00_tour's Where next does not name {path.stem}"
    for path, following in zip(PATHS[1:], PATHS[2:]):
        last = _source(_load(path)["cells"][-1])
        assert f"Next, `{following.stem}`" in last, (
            f"{path.name} should close with 'Next, `{following.stem}`: ...'"
        )


def test_the_readme_lists_every_notebook() -> None:
    """The front door names each notebook, one line each, in its Notebooks section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Notebooks", 1)[1].split("\n## ", 1)[0]
    for path in PATHS:
        assert f"- `{path.stem}`:" in section, f"README.md's Notebooks section misses {path.stem}"


def test_the_chain_rule_notebook_embeds_the_step_through_page() -> None:
    """03 shows `explore`'s page inline: an iframe holding the whole page, nothing fetched."""
    cells = [c for c in _code_cells(_load(NOTEBOOKS / "03_chain_rule.ipynb"))
             if "explore(" in _source(c) and "import" not in _source(c)]  # fmt: skip
    assert cells, "03_chain_rule calls explore() in no cell"
    pages = ["".join(o["data"]["text/html"]) for c in cells for o in c["outputs"]
             if "text/html" in o.get("data", {})]  # fmt: skip
    assert any(p.startswith("<iframe srcdoc=") and "Backward pass of" in p for p in pages)
    assert not any(re.search(r"(src|href)=&quot;https?:", p) for p in pages)


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs(path: Path) -> None:
    """Every cell runs without an error in a fresh kernel on this checkout's code (the runner's
    first, unsaved cell asserts where autodiff and nn were imported from), in under a minute
    (a learner waits for it)."""
    run = _runner()
    for needed in ("matplotlib", "sklearn", "hypothesis"):  # plots, the digits, 08's tests
        reason = f'the notebooks need {needed}: pip install ".[notebooks,plot,data,testing]"'
        pytest.importorskip(needed, reason=reason)
    began = time.perf_counter()
    try:
        run.run(path, check=True)
    except run.NotebookError as error:
        pytest.fail(str(error), pytrace=False)
    seconds = time.perf_counter() - began
    assert seconds < 60, f"{path.name} took {seconds:.0f} s to run, over a minute"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_is_committed_with_outputs(path: Path) -> None:
    nb = _load(path)
    first = nb["cells"][0]
    assert first["cell_type"] == "markdown", f"{path.name}: the first cell must be markdown"
    assert re.match(r"# \S", _source(first)), f"{path.name}: the first cell must open with a title"
    assert "you will learn" in _source(first).lower(), (
        f"{path.name}: the first cell must say what the reader will learn"
    )
    cells = _code_cells(nb)
    missing = [
        i
        for i, cell in enumerate(nb["cells"], 1)
        if cell["cell_type"] == "code"
        and not cell["outputs"]
        and "silent" not in cell["metadata"].get("tags", [])
    ]
    assert not missing, (
        f"{path.name}: cells {missing} have no outputs (run `python notebooks/run.py`, or tag a "
        "cell that prints nothing 'silent')"
    )
    counts = [cell["execution_count"] for cell in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: cells were not run top to bottom in one kernel (execution counts "
        f"{counts}); regenerate with `python notebooks/run.py {path.stem[:2]}`"
    )
    outputs = [o for cell in cells for o in cell["outputs"]]
    assert any(set(IMAGES) & set(o.get("data", {})) for o in outputs), (
        f"{path.name}: no picture (a drawing or a plot)"
    )
    for output in outputs:
        assert output["output_type"] != "error", f"{path.name}: committed with an error"
        assert not (output["output_type"] == "stream" and output["name"] == "stderr"), (
            f"{path.name}: committed with output on stderr: {output['text'][:200]!r}"
        )


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_is_valid(path: Path) -> None:
    """A notebook Jupyter and GitHub can open: nbformat 4's schema, with cell ids."""
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.nbformat_minor >= 5, (nb.nbformat, nb.nbformat_minor)


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_shows_a_picture_early(path: Path) -> None:
    """A picture within the first third of the notebook's cells (the reader sees one early)."""
    cells = _load(path)["cells"]
    first = next(
        i
        for i, cell in enumerate(cells)
        if any(set(IMAGES) & set(o.get("data", {})) for o in cell.get("outputs", []))
    )
    assert first <= max(8, len(cells) // 3), f"{path.name}: the first picture is cell {first + 1}"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_uses_the_library(path: Path) -> None:
    """Notebooks import the engine instead of redefining it: no class of their own with a
    backward pass, except the `Function` subclasses that show how users add an op."""
    nb = _load(path)
    code = "\n".join(_source(c) for c in _code_cells(nb))
    assert re.search(r"^\s*(from|import) (autodiff|nn)\b", code, re.M), (
        f"{path.name} does not import autodiff or nn"
    )
    for match in re.finditer(r"^class (\w+)(\((.*?)\))?:", code, re.M):
        assert match.group(3) == "Function", (
            f"{path.name} defines class {match.group(1)}: import the engine's instead"
        )
    assert "def backward" not in code, f"{path.name} writes its own backward()"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_shows_nothing_of_this_machine(path: Path) -> None:
    """Committed outputs hold no absolute path of the machine that ran them, and the metadata
    names no interpreter version (so regenerating elsewhere gives the same file)."""
    nb = _load(path)
    text = json.dumps([cell.get("outputs", []) for cell in nb["cells"]])
    for marker in (str(NOTEBOOKS.parent), str(Path.home()), "/tmp/", "site-packages"):
        assert marker not in text, f"{path.name}: an output shows {marker!r}"
    assert "version" not in nb["metadata"].get("language_info", {}), path.name
    for cell in nb["cells"]:
        assert "execution" not in cell["metadata"], f"{path.name}: timings were committed"


# --------------------------------------------------------------------------------------------
# The runner itself: it must fail loudly, and only pass notebooks that ran on this checkout
# --------------------------------------------------------------------------------------------


def _notebook(tmp_path: Path, *sources: str) -> Path:
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A test\n\nYou will learn nothing.")]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    path = tmp_path / "01_test.ipynb"
    nbformat.write(nb, path)
    return path


def test_runner_names_the_notebook_and_cell_that_failed(tmp_path: Path) -> None:
    run = _runner()
    path = _notebook(tmp_path, "x = 1", "print('fine')\ny = 1 / 0", "z = 2")
    before = path.read_bytes()
    with pytest.raises(run.NotebookError) as caught:
        run.run(path)
    message = str(caught.value)
    assert "01_test.ipynb, cell 3 (\"print('fine')\") failed" in message, message
    assert "ZeroDivisionError" in message and "\x1b[" not in message, message
    assert path.read_bytes() == before  # nothing written


def test_runner_refuses_a_kernel_that_imports_another_autodiff(tmp_path: Path, monkeypatch) -> None:
    """The first, unsaved cell checks where autodiff comes from: pretend the checkout is
    elsewhere and the notebook must fail, naming the reason."""
    run = _runner()
    path = _notebook(tmp_path, "x = 1")
    monkeypatch.setattr(run, "ROOT", tmp_path)
    with pytest.raises(run.NotebookError, match="does not run this checkout's autodiff"):
        run.run(path, check=True)


def test_runner_writes_outputs_and_renumbers_cells(tmp_path: Path) -> None:
    run = _runner()
    path = _notebook(tmp_path, "import autodiff", "print('a')\nprint('b')\n6 * 7")
    run.run(path)
    nb = _load(path)
    cells = _code_cells(nb)
    assert [c["execution_count"] for c in cells] == [1, 2]  # the probe cell is not counted
    outputs = cells[1]["outputs"]
    assert outputs[0]["output_type"] == "stream" and "".join(outputs[0]["text"]) == "a\nb\n"
    assert "".join(outputs[1]["data"]["text/plain"]) == "42" and outputs[1]["execution_count"] == 2
    assert nb["metadata"] == {"kernelspec": run.KERNELSPEC, "language_info": run.LANGUAGE_INFO}
    assert len(nb["cells"]) == 3  # the probe is gone


def test_runner_reports_what_readers_must_not_see() -> None:
    run = _runner()
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("...")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: careful\n"),
        nbformat.v4.new_output("stream", name="stdout", text=f"saved {run.ROOT}/x.svg\n"),
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[]),
    ]
    nb.cells = [cell]
    found = run.problems(nb)
    assert any("stderr" in p and "careful" in p for p in found), found
    assert any("path of this machine" in p for p in found), found
    assert any("ValueError" in p for p in found), found


def test_runner_gives_the_kernel_this_checkout_and_one_blas_thread(monkeypatch) -> None:
    run = _runner()
    monkeypatch.setenv("PYTHONPATH", "elsewhere")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the caller's choice wins
    env = run.kernel_env()
    assert env["PYTHONPATH"].split(os.pathsep) == [str(run.ROOT), "elsewhere"]
    assert env["OPENBLAS_NUM_THREADS"] == "1" and env["OMP_NUM_THREADS"] == "2", env
    assert env["PYTHONHASHSEED"] == "0"


def test_runner_finds_notebooks_by_number_or_name() -> None:
    run = _runner()
    assert [p.name for p in run.find(["00"])] == ["00_tour.ipynb"]
    assert run.find() == PATHS
    with pytest.raises(run.NotebookError, match="no notebook"):
        run.find(["99_missing"])


def test_runner_leaves_no_names_in_the_kernel(tmp_path: Path) -> None:
    """The checking cell imports autodiff and nn; a notebook that forgets to must still fail."""
    run = _runner()
    path = _notebook(tmp_path, "autodiff", "nn")
    with pytest.raises(
        run.NotebookError, match="(?s)cell 2 .*NameError: name 'autodiff' is not defined"
    ):
        run.run(path, check=True)
