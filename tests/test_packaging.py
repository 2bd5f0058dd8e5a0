"""The wheel users install: every package and module of the checkout, the PEP 561 markers, the
license and the version, checked in a wheel built here from a copy of the checkout (offline, with
the setuptools at hand) and imported from where it unpacks, away from the checkout."""

from __future__ import annotations

import email.parser
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import autodiff

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("autodiff", "nn")
BUILD_FILES = ("pyproject.toml", "README.md", "LICENSE")  # what the build reads besides packages


def _cannot_build() -> str | None:
    """Why the wheel cannot be built offline with this interpreter, or None if it can."""
    if importlib.util.find_spec("pip") is None:
        return "pip is not installed"
    if importlib.util.find_spec("setuptools") is None:
        return "setuptools is not installed (pip install '.[dev]' brings it)"
    wanted = re.search(r'"setuptools>=(\d+)"', (ROOT / "pyproject.toml").read_text())
    have = importlib.metadata.version("setuptools")
    if wanted and int(have.split(".")[0]) < int(wanted.group(1)):
        return f"setuptools {have} is older than the {wanted.group(1)} the build needs"
    return None


def _checkout_files(package: str) -> list[Path]:
    """The files of a package folder of the checkout, compiled caches left out."""
    return [
        p
        for p in (ROOT / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    ]


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    reason = _cannot_build()
    if reason is not None:
        if os.environ.get("CI"):  # CI installs what this needs: never skip there
            pytest.fail(f"cannot build the wheel in CI: {reason}")
        pytest.skip(f"cannot build the wheel: {reason}")
    # a copy, so that no build/ or *.egg-info left in the checkout can add stale files
    source = tmp_path_factory.mktemp("source")
    for name in BUILD_FILES:
        shutil.copy2(ROOT / name, source / name)
    for package in PACKAGES:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "-q", "-w", str(out), str(source)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    (path,) = out.glob("autodiff-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def _metadata(wheel: zipfile.ZipFile) -> email.message.Message:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.parser.Parser().parsestr(wheel.read(name).decode())


def test_every_package_and_module_of_the_checkout_is_in_the_wheel(wheel):
    names = set(wheel.namelist())
    packages = [_name(p.parent) for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")]
    assert "autodiff/tensor_ops" in packages  # the walk sees subpackages
    missing = [p for p in sorted(packages) if f"{p}/__init__.py" not in names]
    assert not missing, f"packages left out of the wheel: {missing} (see packages.find)"
    modules = [_name(p) for pkg in PACKAGES for p in _checkout_files(pkg) if p.suffix == ".py"]
    missing = [m for m in sorted(modules) if m not in names]
    assert not missing, f"modules left out of the wheel: {missing}"


def test_every_folder_of_modules_is_a_package():
    # packages.find takes folders with an __init__.py only: one without would silently not ship
    folders = {p.parent for pkg in PACKAGES for p in _checkout_files(pkg) if p.suffix == ".py"}
    without = sorted(_name(f) for f in folders if not (f / "__init__.py").exists())
    assert not without, f"folders of modules without an __init__.py: {without}"


def test_type_markers_and_committed_data_files_are_in_the_wheel(wheel):
    names = set(wheel.namelist())
    assert {"autodiff/py.typed", "nn/py.typed"} <= names  # PEP 561
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--", *PACKAGES], capture_output=True, text=True
    )
    if listed.returncode != 0:  # not a git checkout (an unpacked sdist): the markers suffice
        return
    data = [n for n in listed.stdout.split() if not n.endswith(".py")]
    assert "autodiff/py.typed" in data
    missing = [n for n in data if n not in names]
    assert not missing, f"committed files left out of the wheel: {missing} (see package-data)"


def test_the_license_travels_in_the_metadata(wheel):
    metadata = _metadata(wheel)
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
    assert wheel.read(name).decode() == (ROOT / "LICENSE").read_text()
    assert "Copyright (c) 2026 the autodiff contributors" in wheel.read(name).decode()


def test_the_version_is_autodiffs_own(wheel):
    assert re.fullmatch(r"\d+\.\d+\.\d+", autodiff.__version__)
    assert _metadata(wheel)["Version"] == autodiff.__version__
    assert any(
        n.startswith(f"autodiff-{autodiff.__version__}.dist-info/") for n in wheel.namelist()
    )


def test_the_extras_the_readme_and_ci_install_exist(wheel):
    extras = set(_metadata(wheel).get_all("Provides-Extra"))
    assert {"dev", "bench", "testing", "data", "plot", "progress", "notebooks", "browser"} <= extras
    requires = _metadata(wheel).get_all("Requires-Dist")
    assert any(r.startswith("numpy") and "extra" not in r for r in requires)


def test_the_unpacked_wheel_imports_every_module_without_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    wheel.extractall(site)
    script = """
import importlib, pathlib, pkgutil, sys
import autodiff, nn
site = pathlib.Path(sys.argv[1]).resolve()
for package in (autodiff, nn):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        here = pathlib.Path(module.__file__).resolve()
        assert site in here.parents, f"{info.name} came from {here}, not the wheel"
        print(info.name)
"""
    env = dict(os.environ, PYTHONPATH=str(site))  # before site-packages and any older install
    result = subprocess.run(
        [sys.executable, "-c", script, str(site)],
        cwd=tmp_path,  # not the checkout, which would be importable from the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "autodiff.tensor_ops" in result.stdout.split() and "nn.demo" in result.stdout.split()
