"""Tensor engine vs hand-written numpy vs PyTorch CPU: one training step, side by side (issue 3).

    python3 benchmarks/bench_tensor.py            # full run
    python3 benchmarks/bench_tensor.py --quick    # a short run
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/bench_tensor.py
                                                  # let numpy's OpenBLAS pick its own kernel

(a) a float32 784-256-256-10 MLP (relu), batch 128, softmax cross-entropy;
(b) a float32 2-16-16-1 MLP (relu), batch 100, mean squared error.

One step is forward, loss, backward and an SGD update, written four ways over the same
parameters: ``autodiff`` with `autodiff.Tensor` ops, using the fused ``linear`` (weights
(out, in), as nn.Linear stores them), ``mse_loss`` and ``cross_entropy`` as torch-nn uses
nn.Linear and its loss modules (``unfused``: the same step composed from ``@``, ``+``,
``log_softmax``..., with weights (in, out)); ``numpy`` with the backward pass derived by
hand (the floor for any numpy-based engine); and, if torch is importable, ``torch`` with PyTorch
tensors in the same style as ours (``x @ W + b``, ``F.cross_entropy``, ``loss.backward()``, an
in-place update: the leanest PyTorch step) and ``torch-nn`` as a PyTorch user writes it
(``nn.Sequential`` of ``nn.Linear``/``nn.ReLU``, a loss module, ``optim.SGD`` with
``zero_grad``/``step``). Before timing, each engine runs one step from the same starting point
and the losses and updated parameters are checked to agree, so all of them do the same work.

Engines alternate within each repeat (the order rotates) and every engine is limited to the same
number of BLAS/OpenMP threads (``--threads``, default 1). Each timed block follows an untimed
step of the same engine, so every engine is timed warm, whatever ran just before it (PyTorch
fills the caches most, and the rotation puts some engines after it far more often than others).
The machine is shared and noisy, so the report is the median of the per-repeat ratios, not an
absolute time. Peak memory is
tracemalloc's peak during one step, above what was allocated before it (numpy reports its array
buffers to tracemalloc; PyTorch does not, so it has no memory column).
"""

from __future__ import annotations

import argparse
import collections
import gc
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

from autodiff.tensor import VJP_RULES, Tensor  # noqa: E402
from autodiff.tensor_ops.fused import linear  # noqa: E402
from autodiff.tensor_ops.losses import cross_entropy, mse_loss  # noqa: E402

try:
    import torch
except ImportError:  # PyTorch is optional: its columns are then left out
    torch = None

Params = list  # [W1, b1, W2, b2, ...] for one engine

# ------------------------------------------------------------------------------------------
# The problems: same sizes, data and starting parameters for every engine.
# ------------------------------------------------------------------------------------------


class Problem:
    """An MLP (relu between layers), a batch of data, a loss ('xent' or 'mse'), a learning rate."""

    def __init__(self, name: str, sizes: list[int], batch: int, loss: str, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.name, self.sizes, self.batch, self.loss, self.lr = name, sizes, batch, loss, 0.01
        self.params: list[np.ndarray] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            # He initialisation keeps relu activations of a similar size layer to layer.
            self.params.append(
                (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(np.float32)
            )
            self.params.append((rng.standard_normal(n_out) * 0.01).astype(np.float32))
        self.x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        if loss == "xent":
            self.y = rng.integers(0, sizes[-1], batch)  # class labels
            self.onehot = np.eye(sizes[-1], dtype=np.float32)[self.y]
        else:
            self.y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)

    def copy_params(self) -> list[np.ndarray]:
        return [p.copy() for p in self.params]


# ------------------------------------------------------------------------------------------
# Hand-written numpy: forward and backward derived by hand (the floor).
# ------------------------------------------------------------------------------------------


def numpy_step(problem: Problem, params: Params) -> float:
    """One SGD step in plain numpy; updates `params` in place and returns the loss."""
    x, n = problem.x, problem.batch
    weights, biases = params[0::2], params[1::2]
    # forward: keep each layer's input and pre-activation for the backward pass
    inputs, pre = [], []
    h = x
    for i, (w, b) in enumerate(zip(weights, biases)):
        inputs.append(h)
        z = h @ w + b
        if i < len(weights) - 1:
            pre.append(z)
            h = np.maximum(z, 0)
        else:
            h = z
    if problem.loss == "xent":
        shifted = h - h.max(axis=1, keepdims=True)  # stable log-softmax
        exp = np.exp(shifted)
        total = exp.sum(axis=1, keepdims=True)
        rows = np.arange(n)
        loss = float(np.log(total).mean() - shifted[rows, problem.y].mean())
        grad = exp / total  # d loss / d logits = (softmax - onehot) / n
        grad[rows, problem.y] -= 1
        grad /= n
    else:
        diff = h - problem.y
        loss = float((diff * diff).mean())
        grad = diff * (2.0 / diff.size)
    # backward, last layer first
    grads = [None] * len(params)
    for i in range(len(weights) - 1, -1, -1):
        grads[2 * i] = inputs[i].T @ grad
        grads[2 * i + 1] = grad.sum(axis=0)
        if i > 0:
            grad = (grad @ weights[i].T) * (pre[i - 1] > 0)
    lr = np.float32(problem.lr)
    for p, g in zip(params, grads):
        p -= lr * g
    return loss


# ------------------------------------------------------------------------------------------
# The autodiff Tensor engine.
# ------------------------------------------------------------------------------------------


def engine_params(problem: Problem, fused: bool = True) -> Params:
    """The starting parameters as Tensors: weights (out, in) for the fused ``linear``, as
    nn.Linear stores them; (in, out) for the unfused ``h @ W + b``."""
    params = problem.copy_params()
    if fused:
        params = [np.ascontiguousarray(p.T) if p.ndim == 2 else p for p in params]
    return [Tensor(p, requires_grad=True) for p in params]


def engine_views(params: Params) -> list[np.ndarray]:
    """The fused engine's parameters in the (in, out) layout of the other engines, as live
    views (the update changes the data in place)."""
    return [p.data.T if p.data.ndim == 2 else p.data for p in params]


def engine_step(problem: Problem, params: Params, data: dict, fused: bool = True) -> float:
    """One SGD step with autodiff Tensors; updates `params` in place and returns the loss."""
    loss = (engine_loss if fused else engine_loss_unfused)(problem, params, data)
    loss.backward()
    engine_update(problem, params)
    return float(loss.data)


def engine_loss(problem: Problem, params: Params, data: dict) -> Tensor:
    """The forward pass and the loss with the fused ops (as torch-nn's nn.Linear/MSELoss)."""
    h = data["x"]
    last = len(params) // 2 - 1
    for i in range(last + 1):
        h = linear(h, params[2 * i], params[2 * i + 1])
        if i < last:
            h = h.relu()
    if problem.loss == "xent":
        return cross_entropy(h, data["labels"])
    return mse_loss(h, data["y"])


def engine_loss_unfused(problem: Problem, params: Params, data: dict) -> Tensor:
    """The same loss composed from elementary ops (@, +, log_softmax, *, mean)."""
    h = data["x"]
    last = len(params) // 2 - 1
    for i in range(last + 1):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < last:
            h = h.relu()
    if problem.loss == "xent":
        loss = -(h.log_softmax(axis=1) * data["onehot"]).sum() / problem.batch
    else:
        diff = h - data["y"]
        loss = (diff * diff).mean()
    return loss


def engine_update(problem: Problem, params: Params) -> None:
    """SGD: p -= lr * grad, then forget the gradient (as zero_grad(set_to_none=True))."""
    lr = np.float32(problem.lr)
    for p in params:
        p.data -= lr * p.grad
        p.grad = None


def engine_data(problem: Problem) -> dict:
    data = {"x": Tensor(problem.x)}
    if problem.loss == "xent":
        data["onehot"] = Tensor(problem.onehot)
        data["labels"] = problem.y
    else:
        data["y"] = Tensor(problem.y)
    return data


# ------------------------------------------------------------------------------------------
# PyTorch, written the same way (tensors, not nn.Module, so no framework layer is timed).
# ------------------------------------------------------------------------------------------


def torch_params(problem: Problem) -> Params:
    return [torch.from_numpy(p).requires_grad_() for p in problem.copy_params()]


def torch_data(problem: Problem) -> dict:
    return {"x": torch.from_numpy(problem.x), "y": torch.from_numpy(problem.y)}


def torch_step(problem: Problem, params: Params, data: dict) -> float:
    """One SGD step in PyTorch; updates `params` in place and returns the loss."""
    h = data["x"]
    last = len(params) // 2 - 1
    for i in range(last + 1):
        h = h @ params[2 * i] + params[2 * i + 1]
        if i < last:
            h = h.relu()
    if problem.loss == "xent":
        loss = torch.nn.functional.cross_entropy(h, data["y"])
    else:
        loss = ((h - data["y"]) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        for p in params:
            p.add_(p.grad, alpha=-problem.lr)
            p.grad = None
    return loss.item()


def torch_nn_model(problem: Problem) -> tuple:
    """The idiomatic PyTorch version: nn.Sequential of nn.Linear/nn.ReLU, a loss module and
    torch.optim.SGD, started from the same parameters (nn.Linear stores W transposed)."""
    layers: list = []
    params = problem.copy_params()
    for i in range(len(params) // 2):
        w, b = params[2 * i], params[2 * i + 1]
        linear = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    loss_fn = torch.nn.CrossEntropyLoss() if problem.loss == "xent" else torch.nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=problem.lr)
    # the (W, b) layout of the other engines, as live views of the parameters
    views: list = []
    for layer in layers[0::2]:
        views += [layer.weight.detach().T, layer.bias.detach()]
    return model, loss_fn, optimizer, views


def torch_nn_step(model: Any, loss_fn: Any, optimizer: Any, data: dict) -> float:
    """One SGD step as a PyTorch user writes it."""
    optimizer.zero_grad()
    loss = loss_fn(model(data["x"]), data["y"])
    loss.backward()
    optimizer.step()
    return loss.item()


# ------------------------------------------------------------------------------------------
# Checking and timing
# ------------------------------------------------------------------------------------------


def as_numpy(p: Any) -> np.ndarray:
    if isinstance(p, Tensor):
        return p.data
    if isinstance(p, np.ndarray):
        return p
    return p.detach().numpy()


def engines_for(problem: Problem) -> dict[str, tuple[Callable[[], float], Params]]:
    """name -> (step function with its own parameters bound, those parameters)."""
    engines: dict[str, tuple[Callable[[], float], Params]] = {}
    np_params = problem.copy_params()
    engines["numpy"] = (lambda: numpy_step(problem, np_params), np_params)
    e_params, e_data = engine_params(problem), engine_data(problem)
    engines["autodiff"] = (lambda: engine_step(problem, e_params, e_data), engine_views(e_params))
    u_params = engine_params(problem, fused=False)
    engines["unfused"] = (lambda: engine_step(problem, u_params, e_data, False), u_params)
    if torch is not None:
        t_params, t_data = torch_params(problem), torch_data(problem)
        engines["torch"] = (lambda: torch_step(problem, t_params, t_data), t_params)
        model, loss_fn, optimizer, views = torch_nn_model(problem)
        engines["torch-nn"] = (lambda: torch_nn_step(model, loss_fn, optimizer, t_data), views)
    return engines


def check_agreement(problem: Problem) -> dict[str, float]:
    """One step of every engine from the same start: same loss, same updated parameters."""
    engines = engines_for(problem)
    losses = {name: step() for name, (step, _) in engines.items()}
    reference = engines["numpy"][1]
    for name, (_, params) in engines.items():
        if not np.isclose(losses[name], losses["numpy"], rtol=1e-4, atol=1e-6):
            raise AssertionError(
                f"{problem.name}: {name} loss {losses[name]!r} != numpy loss {losses['numpy']!r}"
            )
        for k, (ours, ref) in enumerate(zip(params, reference)):
            if not np.allclose(as_numpy(ours), ref, rtol=1e-4, atol=1e-5):
                worst = np.abs(as_numpy(ours) - ref).max()
                raise AssertionError(
                    f"{problem.name}: {name} parameter {k} after one step differs from numpy's "
                    f"by up to {worst:.3g}"
                )
    return losses


def time_engines(problem: Problem, repeats: int, inner: int) -> dict[str, list[float]]:
    """Seconds per step of every engine, per repeat; the engines' order rotates each repeat."""
    engines = engines_for(problem)
    names = list(engines)
    for name in names:  # warm up: caches, lazy imports, BLAS buffers
        for _ in range(2):
            engines[name][0]()
    times: dict[str, list[float]] = {name: [] for name in names}
    clock = time.perf_counter
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            step = engines[name][0]
            step()  # untimed: the block starts warm, whatever ran before it
            start = clock()
            for _ in range(inner):
                step()
            times[name].append((clock() - start) / inner)
    return times


def peak_memory(problem: Problem, name: str) -> tuple[int, int]:
    """(tracemalloc peak bytes above the starting level during one step, objects left in
    cycles afterwards: garbage only the cyclic collector can free)."""
    step = engines_for(problem)[name][0]
    step()  # warm up, so one-off allocations are not counted
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        step()
        peak = tracemalloc.get_traced_memory()[1] - before
        tracemalloc.stop()
        cyclic = gc.collect()
    finally:
        gc.enable()
    return peak, cyclic


def engine_breakdown(problem: Problem, steps: int) -> list[str]:
    """Where an autodiff step's time goes: forward, backward (each op's backward rules, and the
    rest: graph walk, gradient bookkeeping), update. Microseconds per step, means over `steps`."""
    params, data = engine_params(problem), engine_data(problem)
    for _ in range(5):
        engine_step(problem, params, data)
    clock = time.perf_counter
    rule_time: dict[str, float] = collections.defaultdict(float)
    rule_calls: collections.Counter = collections.Counter()

    def timed(op: str, rule: Callable) -> Callable:
        def run(*args: Any) -> Any:
            start = clock()
            result = rule(*args)
            rule_time[op] += clock() - start
            rule_calls[op] += 1
            return result

        return run

    # backward() looks each node's rules up in VJP_RULES, so wrapped rules see every node
    original = dict(VJP_RULES)
    for op, rules in original.items():
        VJP_RULES[op] = (
            tuple(timed(op, rule) for rule in rules) if type(rules) is tuple else timed(op, rules)
        )
    forward = backward = update = 0.0
    try:
        for _ in range(steps):
            t0 = clock()
            loss = engine_loss(problem, params, data)
            t1 = clock()
            loss.backward()
            t2 = clock()
            engine_update(problem, params)
            t3 = clock()
            forward, backward, update = forward + t1 - t0, backward + t2 - t1, update + t3 - t2
    finally:
        VJP_RULES.update(original)
    us = 1e6 / steps
    lines = [
        f"  autodiff breakdown (us per step; the timer adds ~0.2 us per rule): forward "
        f"{forward * us:.1f}, backward {backward * us:.1f}, update {update * us:.1f}"
    ]
    for op in sorted(rule_time, key=rule_time.get, reverse=True):
        lines.append(
            f"    rules of {op:<10} {rule_time[op] * us:8.1f}  ({rule_calls[op] // steps} calls)"
        )
    rest = backward - sum(rule_time.values())
    lines.append(f"    rest of backward (graph walk, bookkeeping) {rest * us:.1f}")
    return lines


def median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b))


def report(problem: Problem, times: dict[str, list[float]], targets: dict) -> list[str]:
    lines = [f"\n{problem.name}: median ms per step over {len(times['numpy'])} repeats"]
    for name, ts in times.items():
        lines.append(f"  {name:<9} {1e3 * statistics.median(ts):8.3f} ms")
    for (a, b), target in targets.items():
        if a not in times or b not in times:
            lines.append(f"  {a}/{b}: skipped (torch is not installed)")
            continue
        ratio = median_ratio(times[a], times[b])
        verdict = "" if target is None else ("  ok" if ratio <= target else "  MISSED")
        goal = "reference" if target is None else f"target <= {target:.2f}"
        lines.append(f"  {a}/{b} time ratio: {ratio:.3f}  ({goal}){verdict}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (fewer repeats)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads per engine")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per problem")
    parser.add_argument(
        "--breakdown", action="store_true", help="also show where autodiff's step time goes"
    )
    args = parser.parse_args()
    repeats = args.repeats or (7 if args.quick else 41)

    big = Problem(
        "(a) 784-256-256-10 MLP, batch 128, cross-entropy", [784, 256, 256, 10], 128, "xent"
    )
    small = Problem("(b) 2-16-16-1 MLP, batch 100, mean squared error", [2, 16, 16, 1], 100, "mse")

    with threadpool_limits(limits=args.threads):
        if torch is not None:
            torch.set_num_threads(args.threads)
        blas = [
            f"{info['internal_api']} {info.get('version')} {info.get('architecture')} "
            f"threads={info['num_threads']}"
            for info in threadpool_info()
        ]
        print(f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'}")
        print(f"thread pools: {'; '.join(blas)}")
        print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
        for problem in (big, small):
            losses = check_agreement(problem)
            agreed = ", ".join(f"{k} {v:.6f}" for k, v in losses.items())
            print(f"{problem.name}: first-step losses agree ({agreed})")

        lines: list[str] = []
        times = time_engines(big, repeats, inner=3)
        lines += report(
            big,
            times,
            {
                ("autodiff", "numpy"): 1.10,
                ("unfused", "autodiff"): None,
                ("autodiff", "torch"): 1.20,
                ("autodiff", "torch-nn"): 1.20,
            },
        )
        (engine_peak, engine_cycles) = peak_memory(big, "autodiff")
        (numpy_peak, _) = peak_memory(big, "numpy")
        ratio = engine_peak / numpy_peak
        lines.append(
            f"  peak traced memory of one step: autodiff {engine_peak / 1e6:.2f} MB, numpy "
            f"{numpy_peak / 1e6:.2f} MB, ratio {ratio:.3f}  (target <= 1.30)"
            + ("  ok" if ratio <= 1.30 else "  MISSED")
        )
        lines.append(f"  objects left in reference cycles by one autodiff step: {engine_cycles}")
        if args.breakdown:
            lines += engine_breakdown(big, 50 if args.quick else 200)

        times = time_engines(small, repeats, inner=40)
        lines += report(
            small,
            times,
            {
                ("autodiff", "torch"): 0.35,
                ("autodiff", "torch-nn"): 0.35,
                ("autodiff", "numpy"): None,
                ("unfused", "autodiff"): None,
                ("numpy", "torch"): None,
                ("numpy", "torch-nn"): None,
            },
        )
        if args.breakdown:
            lines += engine_breakdown(small, 500 if args.quick else 3000)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
