"""Training through nn's public API vs hand-written numpy vs PyTorch, side by side.

    python3 benchmarks/bench_train.py            # full run
    python3 benchmarks/bench_train.py --quick    # a short run
    python3 benchmarks/bench_train.py --only digits

(a) one step of a float32 2-16-16-1 MLP (relu), batch 100, mean squared error;
(b) one step of a float32 784-256-256-10 MLP (relu), batch 128, softmax cross-entropy, and the
    peak memory one step allocates (tracemalloc);
(c) the digits training loop of ``python -m nn.demo``: a 64-256-10 MLP, Adam (lr 1e-3), batch
    32, a cosine schedule, the validation set measured after every epoch, the same epochs.

A step of ``nn`` is written as a PyTorch user writes one, through the public API only::

    optimizer.zero_grad()
    loss = loss_fn(model(Tensor(x)), Tensor(y))      # nn.Sequential of nn.Linear / nn.ReLU
    loss.backward()                                  # loss_fn from nn.losses
    optimizer.step()                                 # nn.optim.SGD

(the conversion of the batch to Tensors included). ``engine`` is bench_tensor's step written
with the engine's ops directly (no modules, no optimizer, data converted once): the difference
is what the public API costs. ``numpy`` is bench_tensor's hand-written
step (forward and backward derived by hand, the floor for a numpy engine); ``torch-nn`` is the
idiomatic PyTorch step (nn.Sequential, a loss module, optim.SGD with zero_grad/step). Before
timing, each engine runs one step from the same parameters and the losses and updated
parameters must agree, so all do the same work.

For (c), ``nn`` is ``nn.fit`` exactly as the demo calls it (progress bar off). ``torch`` is the
same loop as a PyTorch user writes it: torch's DataLoader over a TensorDataset (shuffled), the
per-epoch sums of loss and right answers, ``model.eval()`` and ``torch.no_grad()`` for
validation, ``scheduler.step()``. ``torch-lean`` is that loop with the batches cut from a
``torch.randperm`` instead of the DataLoader (PyTorch's floor for this loop); the target is
against ``torch``. Both frameworks start from the same weights and see the same batches' sizes.

Engines alternate within each repeat (the order rotates) and every engine is limited to the
same number of BLAS/OpenMP threads (``--threads``, default 1). Each timed block of steps (a, b)
follows untimed steps of the same engine, so every engine is timed warm, as in a training loop,
whatever ran just before it: otherwise an engine's first step after another engine's pays for
caches the other one filled, and the rotation makes some engines follow PyTorch (which fills
them most) far more often than others. The machine is shared and noisy, so the report is the
median of the per-repeat ratios and their spread (the middle half of the ratios, and the lowest
and highest), not an absolute time.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tensor import (  # noqa: E402
    Problem,
    engine_data,
    engine_params,
    engine_step,
    engine_views,
    numpy_step,
    torch_nn_model,
    torch_nn_step,
)
from threadpoolctl import threadpool_limits  # noqa: E402

import nn  # noqa: E402
from autodiff import Tensor  # noqa: E402

try:
    import torch
except ImportError:  # PyTorch is optional: its columns are then left out
    torch = None


# ------------------------------------------------------------------------------------------
# One step through nn's public API
# ------------------------------------------------------------------------------------------


def nn_model(problem: Problem) -> tuple[nn.Sequential, list[np.ndarray]]:
    """nn.Sequential of nn.Linear / nn.ReLU holding the problem's starting parameters, and
    live (in, out) views of them, the layout the other engines use."""
    layers: list = []
    params = problem.copy_params()
    for i in range(len(params) // 2):
        w, b = params[2 * i], params[2 * i + 1]
        linear = nn.Linear(*w.shape, rng=0)
        linear.weight.data[...] = w.T
        linear.bias.data[...] = b
        layers += [linear, nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    views: list = []
    for layer in layers[0::2]:
        views += [layer.weight.data.T, layer.bias.data]
    return model, views


def nn_step_for(problem: Problem) -> tuple[Callable[[], float], list[np.ndarray]]:
    """The public-API step of the problem, with its own model; and the parameters' views."""
    model, views = nn_model(problem)
    optimizer = nn.optim.SGD(model.parameters(), lr=problem.lr)
    x = problem.x
    if problem.loss == "xent":
        loss_fn, y = nn.losses.cross_entropy, problem.y
    else:
        loss_fn, y = nn.losses.mse_loss, problem.y

    def step() -> float:
        optimizer.zero_grad()
        target = y if y.dtype.kind != "f" else Tensor(y)
        loss = loss_fn(model(Tensor(x)), target)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step, views


def engines_for(problem: Problem) -> dict[str, tuple[Callable[[], float], list]]:
    engines: dict[str, tuple[Callable[[], float], list]] = {}
    np_params = problem.copy_params()
    engines["numpy"] = (lambda: numpy_step(problem, np_params), np_params)
    engines["nn"] = nn_step_for(problem)
    e_params, e_data = engine_params(problem), engine_data(problem)
    engines["engine"] = (lambda: engine_step(problem, e_params, e_data), engine_views(e_params))
    if torch is not None:
        model, loss_fn, optimizer, views = torch_nn_model(problem)
        data = {"x": torch.from_numpy(problem.x), "y": torch.from_numpy(problem.y)}
        engines["torch-nn"] = (lambda: torch_nn_step(model, loss_fn, optimizer, data), views)
    return engines


def check_agreement(problem: Problem) -> str:
    """One step of every engine from the same start: same loss, same updated parameters."""
    engines = engines_for(problem)
    losses = {name: step() for name, (step, _) in engines.items()}
    reference = engines["numpy"][1]
    for name, (_, params) in engines.items():
        if not np.isclose(losses[name], losses["numpy"], rtol=1e-4, atol=1e-6):
            raise AssertionError(f"{name} loss {losses[name]!r} != numpy's {losses['numpy']!r}")
        for k, (ours, ref) in enumerate(zip(params, reference)):
            ours = ours.detach().numpy() if torch is not None and torch.is_tensor(ours) else ours
            if not np.allclose(ours, ref, rtol=1e-4, atol=1e-5):
                raise AssertionError(f"{name}: parameter {k} after one step differs from numpy's")
    return ", ".join(f"{name} {loss:.6f}" for name, loss in losses.items())


def peak_memory(step: Callable[[], Any]) -> int:
    """tracemalloc's peak during one step, above what was allocated before it."""
    step()  # warm up, so one-off allocations are not counted
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return peak


# ------------------------------------------------------------------------------------------
# The digits loop
# ------------------------------------------------------------------------------------------


def digits_runs(epochs: int, seed: int = 0) -> dict[str, Callable[[], float]]:
    """name -> a function that trains a fresh model for `epochs` epochs and returns its final
    validation accuracy (so the runs can be checked to learn alike)."""
    from nn.demo import digits_data

    (X_train, y_train), (X_val, y_val), _ = digits_data(seed)
    start = nn.tensor_mlp([64, 256, 10], rng=seed).state_dict()

    def ours() -> float:
        model = nn.tensor_mlp([64, 256, 10], rng=seed)
        optimizer = nn.optim.Adam(model.parameters(), lr=1e-3)
        schedule = nn.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        loader = nn.data.DataLoader((X_train, y_train), batch_size=32, shuffle=True, seed=seed)
        history = nn.fit(model, nn.losses.cross_entropy, optimizer, loader, epochs,
                         val_loader=(X_val, y_val), scheduler=schedule, progress=False)  # fmt: skip
        return history.val_accuracy[-1]

    runs = {"nn": ours}
    if torch is None:
        return runs
    tX, ty = torch.from_numpy(X_train), torch.from_numpy(y_train)
    vX, vy = torch.from_numpy(X_val), torch.from_numpy(y_val)

    def torch_model() -> Any:
        model = torch.nn.Sequential(
            torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
        )
        with torch.no_grad():  # the same starting weights as nn's
            for k, layer in enumerate((model[0], model[2])):
                layer.weight.copy_(torch.from_numpy(start[f"{2 * k}.weight"]))
                layer.bias.copy_(torch.from_numpy(start[f"{2 * k}.bias"]))
        return model

    def torch_loop(batches: Callable[[torch.Generator], Any]) -> float:
        model = torch_model()
        loss_fn = torch.nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        generator = torch.Generator().manual_seed(seed)
        history = []
        for _ in range(epochs):
            model.train()
            total, right, seen = 0.0, 0, 0
            for xb, yb in batches(generator):
                optimizer.zero_grad()
                out = model(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(yb)
                right += (out.argmax(dim=1) == yb).sum().item()
                seen += len(yb)
            model.eval()
            with torch.no_grad():
                out = model(vX)
                val_loss = loss_fn(out, vy).item()
                val_accuracy = (out.argmax(dim=1) == vy).float().mean().item()
            schedule.step()
            history.append((total / seen, right / seen, val_loss, val_accuracy))
        return history[-1][3]

    dataset = torch.utils.data.TensorDataset(tX, ty)

    def data_loader(generator: Any) -> Any:
        return torch.utils.data.DataLoader(dataset, batch_size=32, shuffle=True,
                                           generator=generator)  # fmt: skip

    def randperm(generator: Any) -> Any:
        order = torch.randperm(len(tX), generator=generator)
        for i in range(0, len(order), 32):
            index = order[i : i + 32]
            yield tX[index], ty[index]

    runs["torch"] = lambda: torch_loop(data_loader)
    runs["torch-lean"] = lambda: torch_loop(randperm)
    return runs


# ------------------------------------------------------------------------------------------
# Timing and reporting
# ------------------------------------------------------------------------------------------


def time_rotating(
    fns: dict[str, Callable[[], Any]], repeats: int, inner: int, warm: int = 0
) -> dict:
    """Seconds per call of every function, per repeat; the order rotates each repeat. Each
    timed block of `inner` calls follows `warm` untimed calls of the same function."""
    names = list(fns)
    for name in names:  # warm up: caches, lazy imports, BLAS buffers
        fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    clock = time.perf_counter
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            fn = fns[name]
            for _ in range(warm):
                fn()
            start = clock()
            for _ in range(inner):
                fn()
            times[name].append((clock() - start) / inner)
    return times


def ratio_line(times: dict, a: str, b: str, target: float | None) -> str:
    if a not in times or b not in times:
        return f"  {a}/{b}: skipped (torch is not installed)"
    ratios = sorted(x / y for x, y in zip(times[a], times[b]))
    n = len(ratios)
    median = statistics.median(ratios)
    spread = (
        f"middle half {ratios[n // 4]:.3f}-{ratios[(3 * n) // 4]:.3f}, "
        f"range {ratios[0]:.3f}-{ratios[-1]:.3f}"
    )
    if target is None:
        return f"  {a}/{b} time ratio: {median:.3f}  ({spread}; reference)"
    verdict = "ok" if median <= target else "MISSED"
    return f"  {a}/{b} time ratio: {median:.3f}  ({spread}; target <= {target:.2f})  {verdict}"


def times_lines(title: str, times: dict, unit: str = "ms") -> list[str]:
    scale = 1e3 if unit == "ms" else 1.0
    lines = [f"\n{title}: median {unit} per {'step' if unit == 'ms' else 'run'} over "
             f"{len(next(iter(times.values())))} repeats"]  # fmt: skip
    for name, ts in times.items():
        lines.append(f"  {name:<10} {scale * statistics.median(ts):9.3f} {unit}")
    return lines


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            names = [line.split(":", 1)[1].strip() for line in info if "model name" in line]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "?"
    now = datetime.datetime.now().isoformat(timespec="seconds")
    return f"{now}  {cpu}, {os.cpu_count()} cores, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (fewer repeats)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads per engine")
    parser.add_argument("--repeats", type=int, default=None, help="repeats of each part")
    parser.add_argument("--epochs", type=int, default=None, help="digits epochs (demo: 30)")
    parser.add_argument("--only", choices=["small", "big", "digits"], default=None)
    args = parser.parse_args()
    repeats = args.repeats or (7 if args.quick else 31)
    epochs = args.epochs or (10 if args.quick else 30)
    parts = [args.only] if args.only else ["small", "big", "digits"]

    print(machine())
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, torch "
        f"{torch.__version__ if torch else 'not installed'}, threads per engine {args.threads}"
    )
    small = Problem("(a) 2-16-16-1 MLP, batch 100, MSE", [2, 16, 16, 1], 100, "mse")
    big = Problem("(b) 784-256-256-10 MLP, batch 128, cross-entropy", [784, 256, 256, 10], 128,
                  "xent")  # fmt: skip
    with threadpool_limits(limits=args.threads):
        if torch is not None:
            torch.set_num_threads(args.threads)
        lines: list[str] = []
        if "small" in parts:
            print(f"{small.name}: first-step losses agree ({check_agreement(small)})")
            fns = {name: step for name, (step, _) in engines_for(small).items()}
            # short timed blocks (about 1 ms), many of them: on a shared machine most blocks
            # then run uninterrupted, and the median of the paired ratios ignores the others
            times = time_rotating(fns, 8 * repeats, inner=8, warm=2)
            lines += times_lines(small.name, times)
            lines.append(ratio_line(times, "nn", "numpy", 1.30))
            lines.append(ratio_line(times, "nn", "torch-nn", 0.30))
            lines.append(ratio_line(times, "nn", "engine", None))
            lines.append(ratio_line(times, "engine", "numpy", None))
        if "big" in parts:
            print(f"{big.name}: first-step losses agree ({check_agreement(big)})")
            fns = {name: step for name, (step, _) in engines_for(big).items()}
            times = time_rotating(fns, 2 * repeats, inner=1, warm=1)
            lines += times_lines(big.name, times)
            lines.append(ratio_line(times, "nn", "numpy", 1.05))
            lines.append(ratio_line(times, "nn", "torch-nn", None))
            lines.append(ratio_line(times, "nn", "engine", None))
            ours = peak_memory(nn_step_for(big)[0])
            start = big.copy_params()
            theirs = peak_memory(lambda: numpy_step(big, start))
            verdict = "ok" if ours <= 1.15 * theirs else "MISSED"
            lines.append(
                f"  peak traced memory of one step: nn {ours / 1e6:.2f} MB, numpy "
                f"{theirs / 1e6:.2f} MB, ratio {ours / theirs:.3f}  (target <= 1.15)  {verdict}"
            )
        if "digits" in parts:
            runs = digits_runs(epochs)
            accuracy = {name: run() for name, run in runs.items()}
            print(
                f"(c) digits, {epochs} epochs: final validation accuracy "
                + ", ".join(f"{name} {value:.1%}" for name, value in accuracy.items())
            )
            times = time_rotating(runs, max(3, repeats // 4), inner=1)
            lines += times_lines(f"(c) the digits loop, {epochs} epochs", times, unit="s")
            lines.append(ratio_line(times, "nn", "torch", 0.35))
            lines.append(ratio_line(times, "nn", "torch-lean", None))
    print("\n".join(lines))
    print(f"\nfinished {machine()}")


if __name__ == "__main__":
    main()
