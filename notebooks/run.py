"""Execute the notebooks with a real Jupyter kernel: regenerate their outputs, or check they run.

    python notebooks/run.py                    # run every notebook, write its outputs in place
    python notebooks/run.py 01 03_chain_rule   # only these (a number or a name is enough)
    python notebooks/run.py --check            # run in memory, write nothing, fail on an error

The kernel is ipykernel on this very interpreter (whatever kernels Jupyter has installed), its
working directory is ``notebooks/``, and it imports ``autodiff`` and ``nn`` from this checkout
(``PYTHONPATH``), which a first cell, run before the notebook's own and never saved, asserts.
A cell that raises stops the run with the notebook's name, the cell's number and its first
line. Written notebooks keep only what a reader needs (outputs and execution counts, no
timings), so that regenerating them gives small diffs; one that printed to stderr (a
warning) or shows a path of this machine is refused, since readers would see it.

Needs nbclient, ipykernel and nbformat: ``pip install "autodiff[notebooks]"``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from traitlets import default

NOTEBOOKS = Path(__file__).resolve().parent
ROOT = NOTEBOOKS.parent
CELL_TIMEOUT = 120  # seconds one cell may run before the run fails
PATTERN = "[0-9][0-9]_*.ipynb"  # 00_tour.ipynb, 01_derivatives.ipynb, ...
# The notebooks' matrix products are small: one BLAS thread runs them as fast, while on a busy
# machine (the test suite running beside other work) numpy's threads wait for one another and
# training runs several times slower. As nn.demo does while it trains.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

# The metadata a written notebook keeps: the same on every machine, whatever Python runs it.
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}

# Run first in the kernel (and dropped afterwards): the notebook must test this checkout's code
# on this interpreter, not a copy installed elsewhere. Inside a function, so that it leaves no
# names behind: a notebook that forgets to import something must fail here as for its readers.
PROBE = """\
def _probe(root, python):
    import pathlib, sys, autodiff, nn
    for package in (autodiff, nn):
        where = pathlib.Path(package.__file__).resolve()
        assert root in where.parents, f"{{package.__name__}} imported from {{where}}, not {{root}}"
    assert pathlib.Path(sys.executable).resolve() == python.resolve(), sys.executable
_probe(__import__("pathlib").Path({root!r}), __import__("pathlib").Path({python!r}))
del _probe
"""


class NotebookError(RuntimeError):
    """A notebook failed to run (or produced output a reader must not see); says where."""


class _ThisPython(KernelSpecManager):
    """Every kernel name means ipykernel on the interpreter running this script."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        # (log_level: the kernel's own notices, such as "running over TCP without encryption"
        # on a local machine, are noise here; the notebook's warnings still reach its outputs)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                "--IPKernelApp.log_level=ERROR"]  # fmt: skip
        return KernelSpec(argv=argv, display_name=KERNELSPEC["display_name"], language="python")


class _KernelManager(AsyncKernelManager):
    @default("kernel_spec_manager")
    def _kernel_spec_manager_default(self) -> KernelSpecManager:
        return _ThisPython()


def kernel_env() -> dict[str, str]:
    """The kernel's environment: this checkout first on the path; fixed hashing, so that
    anything printed from a set comes out in the same order on every run; and one BLAS thread
    unless the caller chose a number (see `BLAS_THREADS`)."""
    env = dict(os.environ)
    paths = [str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONHASHSEED"] = "0"
    for name in BLAS_THREADS:
        env.setdefault(name, "1")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # the debugger's note about frozen modules
    env.pop("MPLBACKEND", None)  # matplotlib's inline backend, whatever the shell says
    return env


def find(names: list[str] | None = None) -> list[Path]:
    """The notebooks in reading order; `names` picks some by number or name ('01', '01_deriv')."""
    found = sorted(NOTEBOOKS.glob(PATTERN))
    if not names:
        return found
    picked = []
    for name in names:
        matches = [p for p in found if p.name.startswith(Path(name).name)]
        if not matches:
            raise NotebookError(f"no notebook in {NOTEBOOKS.name}/ starts with {name!r}")
        picked.extend(m for m in matches if m not in picked)
    return picked


def execute(path: Path, timeout: int = CELL_TIMEOUT) -> Any:
    """Run the notebook at `path` top to bottom in a fresh kernel; return it with its outputs.

    Raises `NotebookError` naming the notebook and the cell when a cell raises or times out.
    """
    nb = nbformat.read(path, as_version=4)
    probe = nbformat.v4.new_code_cell(PROBE.format(root=str(ROOT), python=sys.executable))
    nb.cells.insert(0, probe)
    client = NotebookClient(
        nb,
        timeout=timeout,
        startup_timeout=120,
        kernel_name="python3",
        kernel_manager_class=_KernelManager,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        record_timing=False,
        shutdown_kernel="immediate",  # the run is over: no need to wait for a graceful exit
    )
    env = kernel_env()
    try:
        # hypothesis caches what it learns about the code under test: not in notebooks/
        with tempfile.TemporaryDirectory(prefix="notebook-hypothesis-") as storage:
            env.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", storage)
            client.execute(env=env)
    except (CellExecutionError, CellTimeoutError) as error:
        raise NotebookError(_where_it_failed(path, nb, error)) from None
    del nb.cells[0]
    for cell in nb.cells:  # the probe's execution was number 1
        if cell.cell_type == "code" and cell.get("execution_count"):
            cell.execution_count -= 1
            for output in cell.outputs:
                if "execution_count" in output:
                    output.execution_count -= 1
    return nb


def _where_it_failed(path: Path, nb: Any, error: Exception) -> str:
    error_text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # the traceback's colours
    index = next(
        (
            i
            for i, cell in enumerate(nb.cells)
            if cell.cell_type == "code" and any(o.output_type == "error" for o in cell.outputs)
        ),
        None,
    )
    if index is None:  # a timeout leaves no error output: the last cell that started
        started = [i for i, c in enumerate(nb.cells) if c.get("execution_count")]
        index = started[-1] if started else 0
    if index == 0:
        return (
            f"{path.name}: the kernel does not run this checkout's autodiff and nn on "
            f"{sys.executable}:\n{error_text}"
        )
    cell = nb.cells[index]
    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
    # cells numbered from 1 as a reader counts them, markdown included (the probe is not one)
    return f"{path.name}, cell {index} ({first!r}) failed:\n{error_text}"


def problems(nb: Any) -> list[str]:
    """What a reader must not see in a notebook's outputs: errors, stderr, this machine's paths."""
    found = []
    machine = [str(ROOT), str(Path.home()), "/tmp/"]
    for number, cell in enumerate(nb.cells, 1):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found.append(f"cell {number} shows an error: {output.ename}")
            if output.output_type == "stream" and output.name == "stderr":
                found.append(f"cell {number} printed to stderr: {output.text.strip()[:200]!r}")
            text = _output_text(output)
            for path in machine:
                if path and path != "/" and path in text:
                    found.append(f"cell {number} shows a path of this machine ({path})")
    return found


def _output_text(output: Any) -> str:
    if output.output_type == "stream":
        return output.text
    data = output.get("data", {})
    return "".join(str(v) for k, v in data.items() if k.startswith("text/"))


def clean(nb: Any) -> Any:
    """Keep what a reader needs: outputs and execution counts; no timings or machine details."""
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
        if cell.cell_type == "code":
            cell.outputs = _coalesce_streams(cell.outputs)
    return nb


def _coalesce_streams(outputs: list) -> list:
    """Consecutive prints to one stream as one output, as Jupyter shows them."""
    merged: list = []
    for output in outputs:
        if (
            output.output_type == "stream"
            and merged
            and merged[-1].output_type == "stream"
            and merged[-1].name == output.name
        ):
            merged[-1].text += output.text
        else:
            merged.append(output)
    return merged


def write(nb: Any, path: Path) -> None:
    """Save `nb` at `path` through a temporary file and a rename (never half-written)."""
    text = nbformat.writes(nb)
    text = re.sub(r"[ \t]+\n", "\n", text)  # trailing blanks some reprs print
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def run(path: Path, check: bool = False, timeout: int = CELL_TIMEOUT) -> Any:
    """Execute one notebook; unless `check`, write its outputs in place (refused if a reader
    would see an error, stderr or a path of this machine). Returns the executed notebook."""
    nb = clean(execute(path, timeout))
    found = problems(nb)
    if found and not check:
        raise NotebookError(f"{path.name}: not written, since\n  " + "\n  ".join(found))
    if not check:
        write(nb, path)
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebooks to run (default: all), e.g. 01")
    parser.add_argument(
        "--check", action="store_true", help="execute in memory only; fail on the first error"
    )
    parser.add_argument(
        "--timeout", type=int, default=CELL_TIMEOUT, help="seconds per cell (default %(default)s)"
    )
    args = parser.parse_args(argv)
    try:
        paths = find(args.names)
        for path in paths:
            print(f"{'checking' if args.check else 'running'} {path.name}", flush=True)
            nb = run(path, check=args.check, timeout=args.timeout)
            for problem in problems(nb):
                print(f"  note: {problem}", flush=True)
    except NotebookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(paths)} notebook(s) {'ran' if args.check else 'written'} without errors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
