"""The README's main job runs and shows what it promises: the article's partials, micrograd's
moons MLP (now on SGD and a LambdaLR schedule, with the same numbers), the digits with nn.fit,
the pictures in the output folder, and a clean finish without the optional extras."""

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nn import MLP
from nn.demo import EXTRAS, main, micrograd_decay, moons_data, moons_step
from nn.optim import SGD
from nn.optim.lr_scheduler import LambdaLR

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_demo_prints_the_articles_partials_trains_and_writes_its_pictures(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    # the two packages alone, as an install has them (no tests, benchmarks or README), run
    # from another folder: the output goes to ./demo-output there
    site = tmp_path / "site"
    for package in ("autodiff", "nn"):
        shutil.copytree(ROOT / package, site / package,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-m", "nn.demo", "--epochs", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"from {site}" in subprocess.run(
        [sys.executable, "-c", "import nn.demo; print('from', nn.demo.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert "dy/dx1  = 20" in out and "dy/dx2  = 8" in out and "dy/dx3  = 35" in out
    assert "dy/dx = 30" in out and "d2y/dx2 = 10 " in out
    assert "accuracy 100%" in out
    assert "train accuracy" in out and "test accuracy" in out
    folder = tmp_path / "demo-output"
    assert f"written to {Path('demo-output')}/" in out
    for name in ("digits-training.png", "moons-boundary.png"):
        assert (folder / name).read_bytes().startswith(PNG_SIGNATURE), name
    assert (folder / "neuron.svg").read_text().lstrip().startswith("<?xml")
    assert "skipped" not in out
    assert result.stderr == ""  # not a terminal: no progress bar


def test_the_demos_optimizer_and_schedule_give_micrograds_numbers():
    X, y = moons_data()
    random.seed(1337)
    by_hand = MLP(2, [16, 16, 1])
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LambdaLR(optimizer, micrograd_decay)
    for k in range(30):
        expected = moons_step(by_hand, X, y, k)  # micrograd's own update loop
        assert moons_step(model, X, y, optimizer=optimizer) == expected, k
        schedule.step()
        assert [p.data for p in model.parameters()] == [p.data for p in by_hand.parameters()], k


def hide(monkeypatch, *packages):
    for name in list(sys.modules):
        if name.split(".")[0] in packages:
            monkeypatch.delitem(sys.modules, name)
    for package in packages:
        monkeypatch.setitem(sys.modules, package, None)  # import now raises ImportError


def test_without_the_extras_and_graphviz_the_demo_skips_and_says_how_to_install(
    tmp_path, monkeypatch, capsys
):
    hide(monkeypatch, "sklearn", "matplotlib", "tqdm")
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # no Graphviz's dot either
    main([str(tmp_path / "out"), "--epochs", "1"])
    out = capsys.readouterr().out
    assert "dy/dx1  = 20" in out and "accuracy 100%" in out
    assert "skipped: the digits ship with scikit-learn" in out
    assert "no plots: matplotlib is not installed" in out
    assert f"skipped what needs scikit-learn, matplotlib, tqdm; to install them: {EXTRAS}" in out
    assert EXTRAS == 'pip install "autodiff[data,plot,progress]"'
    assert "neuron.gv (no svg: Graphviz's `dot` program was not found" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["neuron.gv"]
    assert (tmp_path / "out" / "neuron.gv").read_text().startswith("digraph")


def test_demo_arguments():
    with pytest.raises(SystemExit):
        main(["--epochs", "0"])


def test_demo_help_gives_the_whole_first_paragraph(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a tensor MLP that learns the 8x8 handwritten digits with `nn.fit`." in text
