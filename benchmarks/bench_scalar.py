"""Scalar engine vs micrograd, side by side in one process (issue: foundation).

    python3 benchmarks/bench_scalar.py            # full run
    python3 benchmarks/bench_scalar.py --quick    # fewer repeats

(a) forward + backward cost per node on a wide graph of ``x = x*a + b`` chains;
(b) one full training step of micrograd's moons demo (MLP(2, [16, 16, 1]), 100 points, hinge loss
    + 1e-4 L2, zero_grad, backward, SGD update), the model built by each engine's ``MLP``: ours as
    the demo trains it, with ``nn.optim.SGD`` and its ``LambdaLR`` schedule (micrograd's decay),
    micrograd's with its own update loop, as in its demo.

Engines alternate run by run and the report is the median of the paired ratios (micrograd time /
our time), since this machine is shared and noisy. With the garbage collector on (as users run
it), each timing includes a full collection of the engine's own garbage, so an engine whose graph
forms reference cycles pays for reclaiming them (long-lived objects are frozen out of the
collector first, so neither engine pays for scanning the rest of the heap).
Needs ``pip install micrograd==0.1.0``.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autodiff import Value  # noqa: E402
from nn import MLP  # noqa: E402
from nn.demo import micrograd_decay, moons_data, moons_step  # noqa: E402
from nn.optim import SGD  # noqa: E402
from nn.optim.lr_scheduler import LambdaLR  # noqa: E402

try:
    import micrograd.engine as micrograd_engine
    import micrograd.nn as micrograd_nn
except ImportError:  # pragma: no cover
    sys.exit("bench_scalar: needs micrograd: pip install micrograd==0.1.0")


def chains(value_cls: type, width: int, depth: int) -> int:
    """Build `width` chains of `depth` steps x = x*a + b, sum them, backward. Returns #nodes."""
    a, b = value_cls(1.0001), value_cls(0.0001)
    total = value_cls(0.0)
    for i in range(width):
        x = value_cls(i / width)
        for _ in range(depth):
            x = x * a + b
        total = total + x
    total.backward()
    return 3 + width * (1 + 2 * depth + 1)


def timed(fn, *args) -> float:
    """Wall time of fn(*args), including collecting the garbage it leaves when gc is on."""
    start = time.perf_counter()
    fn(*args)
    if gc.isenabled():
        gc.collect()
    return time.perf_counter() - start


def paired(ours, theirs, repeats: int) -> tuple[float, float, float, str]:
    """Median (their time / our time), the median times, and the ratios' spread (lowest and
    highest of the middle half), alternating who goes first."""
    ratios, ours_t, theirs_t = [], [], []
    gc.collect()
    for i in range(repeats):
        if i % 2:
            t_theirs, t_ours = theirs(), ours()
        else:
            t_ours, t_theirs = ours(), theirs()
        ratios.append(t_theirs / t_ours)
        ours_t.append(t_ours)
        theirs_t.append(t_theirs)
    ratios.sort()
    n = len(ratios)
    spread = f"middle half {ratios[n // 4]:.2f}-{ratios[(3 * n) // 4]:.2f}x"
    return statistics.median(ratios), statistics.median(ours_t), statistics.median(theirs_t), spread


class DemoStep:
    """Our side of (b): the demo's step, SGD(lr=1.0) with micrograd's decay as a LambdaLR."""

    def __init__(self, model: MLP) -> None:
        self.model = model
        self.optimizer = SGD(model.parameters(), lr=1.0)
        self.schedule = LambdaLR(self.optimizer, micrograd_decay)

    def __call__(self, X: list, y: list) -> tuple[float, float]:
        result = moons_step(self.model, X, y, optimizer=self.optimizer)
        self.schedule.step()
        return result


def same_losses(steps: int) -> tuple[list[float], list[float]]:
    X, y = moons_data(seed=1337)
    random.seed(1337)
    ours = DemoStep(MLP(2, [16, 16, 1]))
    random.seed(1337)
    theirs = micrograd_nn.MLP(2, [16, 16, 1])
    return (
        [ours(X, y)[0] for k in range(steps)],
        [moons_step(theirs, X, y, k, micrograd_engine.Value)[0] for k in range(steps)],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    node_repeats, step_repeats = (5, 3) if args.quick else (11, 7)
    width, depth = 100, 100
    nodes = chains(Value, width, depth)

    X, y = moons_data(seed=1337)
    random.seed(1337)
    demo_step = DemoStep(MLP(2, [16, 16, 1]))
    random.seed(1337)
    their_model = micrograd_nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    by_hand_model = MLP(2, [16, 16, 1])  # our engine, micrograd's update loop

    # Long-lived objects (interpreter, numpy, both models) go to the permanent generation, so a
    # collection walks only what the timed run allocated: each engine pays for its own garbage,
    # not a fixed few milliseconds for the rest of the heap.
    gc.collect()
    gc.freeze()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{datetime.datetime.now().isoformat(timespec='seconds')}  load average {load:.2f}; "
        f"python {sys.version.split()[0]}; {nodes} nodes per graph; medians of paired ratios"
    )
    for gc_on in (True, False):
        gc.enable() if gc_on else gc.disable()
        node_ratio, ours_node, their_node, node_spread = paired(
            lambda: timed(chains, Value, width, depth),
            lambda: timed(chains, micrograd_engine.Value, width, depth),
            node_repeats,
        )
        step_ratio, ours_step, their_step, step_spread = paired(
            lambda: timed(demo_step, X, y),
            lambda: timed(moons_step, their_model, X, y, 0, micrograd_engine.Value),
            step_repeats,
        )
        hand_ratio, _, _, hand_spread = paired(
            lambda: timed(moons_step, by_hand_model, X, y, 0, Value),
            lambda: timed(demo_step, X, y),
            step_repeats,
        )
        label = "gc on " if gc_on else "gc off"
        node_goal = "target 5x" if gc_on else "no target: pure interpretive cost"
        step_goal = "target 40x" if gc_on else "no target: pure interpretive cost"
        print(
            f"[{label}] per node: ours {ours_node / nodes * 1e6:.2f} us, micrograd "
            f"{their_node / nodes * 1e6:.2f} us -> {node_ratio:.1f}x faster, {node_spread} "
            f"({node_goal})"
        )
        print(
            f"[{label}] training step: ours {ours_step * 1e3:.1f} ms, micrograd "
            f"{their_step * 1e3:.1f} ms -> {step_ratio:.1f}x faster, {step_spread} "
            f"({step_goal})"
        )
        print(
            f"[{label}] the demo's step (SGD + LambdaLR) takes {hand_ratio:.2f}x the time of "
            f"micrograd's update loop on our engine, {hand_spread} (reference)"
        )
    gc.enable()

    ours, theirs = same_losses(3 if args.quick else 10)
    first_equal = ours[0] == theirs[0]
    worst = max(abs(a - b) / abs(b) for a, b in zip(ours, theirs))
    print(
        f"losses: first step identical to the last digit: {first_equal}; over {len(ours)} steps "
        f"the largest relative difference is {worst:.1e} (micrograd's own run-to-run spread: "
        "its set-ordered graph sums gradients in memory-address order)"
    )


if __name__ == "__main__":
    main()
