"""The README's main job runs and shows what it promises."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_prints_the_articles_partials_and_trains_moons_to_full_accuracy():
    # -m with cwd=ROOT runs the checkout's nn.demo, as `python -m nn.demo` does for a user there
    result = subprocess.run(
        [sys.executable, "-m", "nn.demo"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "dy/dx1  = 20" in out and "dy/dx2  = 8" in out and "dy/dx3  = 35" in out
    assert "dy/dx = 30" in out and "d2y/dx2 = 10 " in out
    assert "accuracy 100%" in out
