"""Compiled (define-and-run) vs define-by-run, micrograd and hand-written numpy, side by side.

    python3 benchmarks/bench_compile.py            # full run
    python3 benchmarks/bench_compile.py --quick    # fewer repeats

(a) micrograd's moons demo step (MLP(2, [16, 16, 1]), 100 points, hinge loss + 1e-4 L2, SGD):
    micrograd 0.1.0 and this engine run `demo.moons_step` (forward every point, backward, update);
    the compiled step traces the per-sample hinge loss once, evaluates it for all 100 points at
    once (`CompiledFunction.batched`, averaged), adds the L2 term's value and gradient, and
    takes the SGD step on the parameter vector (the define-by-run steps also count the correct
    predictions, which takes microseconds). With the garbage collector on, as users run it,
    each timing includes collecting the garbage the step left (as benchmarks/bench_scalar.py).
    Also: what compiling costs, in define-by-run steps.
(b) a float32 2-16-16-1 MLP (relu), batch 100, mean squared error, one SGD step: the compiled
    loss-and-gradient of the fused ops (linear, mse_loss) against the step written by hand in
    numpy (benchmarks/bench_tensor.py's), every engine limited to one BLAS thread.

Before timing, each compiled step is checked against the step it replaces (same loss, same
updated parameters). The machine is shared and noisy, so engines alternate and the report is
the median of the paired ratios, with the spread of their middle half.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tensor import Problem, numpy_step  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from autodiff import Value, compile, linear, mse_loss  # noqa: E402
from nn import MLP  # noqa: E402
from nn.demo import moons_data, moons_step  # noqa: E402

try:
    import micrograd.engine as micrograd_engine
    import micrograd.nn as micrograd_nn
except ImportError:  # pragma: no cover
    sys.exit("bench_compile: needs micrograd: pip install micrograd==0.1.0")


def timed(fn: Callable[[], object]) -> float:
    """Wall time of fn(), including collecting the garbage it leaves when gc is on."""
    start = time.perf_counter()
    fn()
    if gc.isenabled():
        gc.collect()
    return time.perf_counter() - start


def spread(ratios: list[float]) -> str:
    r = sorted(ratios)
    return f"middle half {r[len(r) // 4]:.3g}-{r[(3 * len(r)) // 4]:.3g}x"


# ------------------------------------------------------------------------------------------
# (a) the moons step
# ------------------------------------------------------------------------------------------


def compiled_moons(model: MLP, X: list, y: list) -> Callable:
    """The per-sample loss compiled once and batched over the samples (mean, as the demo's
    hinge loss averages): returns (loss, gradient) of hinge + L2 for a parameter vector."""

    def sample_loss(params: list, x: list, label: float) -> Value:
        return (1 + -label * model(x)).relu()  # the model reads `params`: they are its own

    compiled = compile(sample_loss, model.parameters(), X[0], y[0], argnums=0)
    batched = compiled.batched(in_axes=(None, 0, 0), reduce="mean")
    X_array, y_array = np.array(X), np.array(y)

    def loss_and_grad(params: np.ndarray) -> tuple[float, np.ndarray]:
        loss, grad = batched(params, X_array, y_array)
        return loss + 1e-4 * params.dot(params), grad + 2e-4 * params

    return loss_and_grad


def compiled_step(loss_and_grad: Callable, params: np.ndarray, k: int) -> float:
    """One step of the demo on the parameter vector: loss, gradient, SGD (in place)."""
    loss, grad = loss_and_grad(params)
    params -= (1.0 - 0.9 * k / 100) * grad
    return loss


def check_moons(X: list, y: list) -> None:
    """One compiled step against one define-by-run step from the same parameters."""
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    params = np.array([p.data for p in model.parameters()])
    loss = compiled_step(compiled_moons(model, X, y), params, 0)
    expected, _ = moons_step(model, X, y, 0)
    updated = np.array([p.data for p in model.parameters()])
    if not np.isclose(loss, expected, rtol=1e-12) or not np.allclose(params, updated, 1e-10):
        raise AssertionError(f"compiled moons step differs: loss {loss!r} vs {expected!r}")


def bench_moons(repeats: int) -> list[str]:
    X, y = moons_data(seed=1337)
    check_moons(X, y)
    random.seed(1337)
    ours = MLP(2, [16, 16, 1])
    random.seed(1337)
    theirs = micrograd_nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    params = np.array([p.data for p in model.parameters()])

    compile_times = []
    for _ in range(3):
        start = time.perf_counter()
        loss_and_grad = compiled_moons(model, X, y)
        compile_times.append(time.perf_counter() - start)
    for _ in range(5):  # warm up
        compiled_step(loss_and_grad, params.copy(), 0)

    gc.collect()
    gc.freeze()  # long-lived objects out of the collector: each step pays for its own garbage
    t_micrograd, t_ours, t_compiled, vs_micrograd, vs_ours = [], [], [], [], []
    for i in range(repeats):
        order = ["micrograd", "ours", "compiled"]
        order = order[i % 3 :] + order[: i % 3]
        times = {}
        for name in order:
            if name == "micrograd":
                times[name] = timed(lambda: moons_step(theirs, X, y, 0, micrograd_engine.Value))
            elif name == "ours":
                times[name] = timed(lambda: moons_step(ours, X, y, 0))
            else:  # many short steps per sample, so the timer's resolution does not matter
                n = 20
                compiled_step(loss_and_grad, params, 0)  # untimed: the short steps start warm
                start = time.perf_counter()
                for _ in range(n):
                    compiled_step(loss_and_grad, params, 0)
                gc.collect()
                times[name] = (time.perf_counter() - start) / n
        t_micrograd.append(times["micrograd"])
        t_ours.append(times["ours"])
        t_compiled.append(times["compiled"])
        vs_micrograd.append(times["micrograd"] / times["compiled"])
        vs_ours.append(times["ours"] / times["compiled"])
    gc.unfreeze()
    step = statistics.median(t_ours)
    compile_cost = statistics.median(compile_times)
    return [
        "(a) micrograd's moons step (MLP 2-16-16-1, 100 points, hinge + L2, SGD), gc on:",
        f"  micrograd 0.1.0  {statistics.median(t_micrograd) * 1e3:9.2f} ms per step",
        f"  define-by-run    {step * 1e3:9.2f} ms per step",
        f"  compiled         {statistics.median(t_compiled) * 1e3:9.3f} ms per step",
        f"  compiled vs micrograd: {statistics.median(vs_micrograd):.0f}x faster, "
        f"{spread(vs_micrograd)} (target 300x)",
        f"  compiled vs define-by-run: {statistics.median(vs_ours):.1f}x faster, "
        f"{spread(vs_ours)} (target 5x)",
        f"  compiling (trace, write, check, batch): {compile_cost * 1e3:.1f} ms = "
        f"{compile_cost / step:.2f} define-by-run steps (target < 10)",
    ]


# ------------------------------------------------------------------------------------------
# (b) the tensor MLP step
# ------------------------------------------------------------------------------------------


def tensor_loss(w1, b1, w2, b2, w3, b3, x, y):  # noqa: ANN001, ANN201 - traced on arrays
    h = linear(x, w1, b1).relu()
    h = linear(h, w2, b2).relu()
    return mse_loss(linear(h, w3, b3), y)


def compiled_tensor_step(compiled: Callable, problem: Problem, params: list) -> float:
    """One SGD step with the compiled loss and gradients; updates `params` in place."""
    loss, grads = compiled(*params, problem.x, problem.y)
    lr = np.float32(problem.lr)
    for p, g in zip(params, grads):
        p -= lr * g
    return float(loss)


def bench_tensor(repeats: int) -> list[str]:
    problem = Problem("mse", [2, 16, 16, 1], 100, "mse")
    n = len(problem.params)
    # linear takes weights (out, in); the hand-written step keeps them (in, out)
    mine = [np.ascontiguousarray(p.T) if p.ndim == 2 else p for p in problem.copy_params()]
    hand = problem.copy_params()
    compiled = compile(tensor_loss, *mine, problem.x, problem.y, argnums=tuple(range(n)))
    loss, expected = compiled_tensor_step(compiled, problem, mine), numpy_step(problem, hand)
    if not np.isclose(loss, expected, rtol=1e-5) or not all(
        np.allclose(a.T, b, rtol=1e-5, atol=1e-6) for a, b in zip(mine, hand)
    ):
        raise AssertionError(f"compiled tensor step differs: loss {loss!r} vs {expected!r}")
    steps = {
        "numpy": lambda: numpy_step(problem, hand),
        "compiled": lambda: compiled_tensor_step(compiled, problem, mine),
    }
    for step in steps.values():
        for _ in range(20):
            step()
    inner = 200
    times: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(repeats):
        for name in ["numpy", "compiled"] if r % 2 == 0 else ["compiled", "numpy"]:
            start = time.perf_counter()
            for _ in range(inner):
                steps[name]()
            times[name].append((time.perf_counter() - start) / inner)
    ratios = [c / h for c, h in zip(times["compiled"], times["numpy"])]
    return [
        "(b) float32 MLP 2-16-16-1, batch 100, MSE, one SGD step, 1 BLAS thread:",
        f"  hand-written numpy {statistics.median(times['numpy']) * 1e6:8.1f} us per step",
        f"  compiled           {statistics.median(times['compiled']) * 1e6:8.1f} us per step",
        f"  compiled/numpy time ratio: {statistics.median(ratios):.3f}, {spread(ratios)} "
        "(target <= 1.10)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}; medians of paired ratios")
    with threadpool_limits(limits=1):
        lines = bench_moons(5 if args.quick else 15)
        lines += bench_tensor(7 if args.quick else 31)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
