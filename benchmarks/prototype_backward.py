"""What a leaner Tensor backward pass in the core would buy, measured on bench_train's steps.

    python3 benchmarks/prototype_backward.py [--repeats N]

The core's backward (``Tensor.backward`` -> ``graph.backpropagate`` -> ``Tensor._vjp`` ->
``Tensor._store_grad``) serves Values and Tensors, ``create_graph``, ``wrt`` and custom `follow`
functions. This prototype is the same chain rule for the one case a training step needs (a
Tensor loss, no create_graph, no retain_graph), written as one function:

1. the depth-first walk tests ``requires_grad`` inline instead of calling ``Tensor._follow``;
2. each node's rules run inside the driver's loop: no list of input gradients per node, no
   second loop over it, no ``_vjp``/``_store_grad`` method calls;
3. a node's saved values are released as it is passed (no second walk over the graph for
   ``retain_graph=False``);
4. leaves store their gradient directly (the same copy rules as ``_store_grad``).

It must give the same gradients to the bit; it is checked against ``loss.backward()`` first.
The timings compare the public-API step with ``loss.backward()`` and with this driver, and the
hand-written numpy step, interleaved, median of paired ratios. Nothing here is used by the
package: it only measures what such a change to autodiff/graph.py and autodiff/tensor.py
would gain.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tensor import Problem, numpy_step  # noqa: E402
from bench_train import machine, nn_model  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import nn  # noqa: E402
from autodiff import Tensor  # noqa: E402
from autodiff.tensor import RELEASED, VJP_RULES, _fit, _ndarray, _unbroadcast  # noqa: E402


def lean_backward(root: Tensor) -> None:
    """``root.backward()`` for a one-element Tensor root, without create_graph/retain_graph."""
    order: list = []
    visited = {root}
    stack = [(root, iter(root._prev))]
    while stack:
        node, inputs = stack[-1]
        for parent in inputs:
            if parent not in visited and parent.requires_grad:
                visited.add(parent)
                if parent._prev:
                    stack.append((parent, iter(parent._prev)))
                    break
                order.append(parent)
        else:
            stack.pop()
            order.append(node)
    pending: dict = {root: np.array(1, root.data.dtype)}
    take = pending.pop
    for node in reversed(order):
        grad = take(node, None)
        if grad is None:
            continue
        prev = node._prev
        if not prev:  # a leaf that requires grad: keep the gradient (_store_grad's rules)
            dtype = node.data.dtype
            if node.grad is None:
                if type(grad) is not _ndarray or grad.base is not None or grad.dtype != dtype:
                    grad = np.array(grad, dtype=dtype)
                node.grad = grad
            else:
                total = node.grad + grad
                node.grad = total if total.dtype == dtype else total.astype(dtype)
            continue
        if node._keep_grad:
            node.grad = grad
        rules = VJP_RULES[node._op]
        ctx = node._ctx
        node._ctx = RELEASED
        inputs = [p.data for p in prev]
        out = node.data
        if type(rules) is tuple:
            for parent, rule in zip(prev, rules):
                if not parent.requires_grad:
                    continue
                g = rule(grad, inputs, out, ctx)
                shape = parent.data.shape
                if g.shape != shape:
                    g = _unbroadcast(g, shape)
                elif g is grad and not parent._prev:
                    g = g.copy()
                if parent in pending:
                    pending[parent] = pending[parent] + g
                else:
                    pending[parent] = g
        else:
            for parent, g in zip(prev, rules(grad, inputs, out, ctx)):
                if g is None or not parent.requires_grad:
                    continue
                g = _fit(g, parent.data.shape)
                pending[parent] = pending[parent] + g if parent in pending else g


def steps_for(problem: Problem) -> dict[str, Any]:
    def make(lean: bool) -> Any:
        model, _ = nn_model(problem)
        optimizer = nn.optim.SGD(model.parameters(), lr=problem.lr)
        loss_fn = nn.losses.cross_entropy if problem.loss == "xent" else nn.losses.mse_loss
        x, y = problem.x, problem.y

        def step() -> float:
            optimizer.zero_grad()
            target = y if y.dtype.kind != "f" else Tensor(y)
            loss = loss_fn(model(Tensor(x)), target)
            lean_backward(loss) if lean else loss.backward()
            optimizer.step()
            return loss.item()

        return step, model

    params = problem.copy_params()
    return {"numpy": (lambda: numpy_step(problem, params), None), "nn": make(False),
            "nn-lean": make(True)}  # fmt: skip


def check(problem: Problem) -> None:
    steps = steps_for(problem)
    for _ in range(3):
        steps["nn"][0]()
        steps["nn-lean"][0]()
    for a, b in zip(steps["nn"][1].parameters(), steps["nn-lean"][1].parameters()):
        if a.data.tobytes() != b.data.tobytes():
            raise AssertionError("the lean driver's training differs from loss.backward()'s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=401)
    args = parser.parse_args()
    problem = Problem("2-16-16-1 MLP, batch 100, MSE", [2, 16, 16, 1], 100, "mse")
    with threadpool_limits(1):
        check(problem)
        steps = {name: step for name, (step, _) in steps_for(problem).items()}
        names = list(steps)
        times: dict[str, list[float]] = {name: [] for name in names}
        for r in range(args.repeats):
            for name in names[r % 3 :] + names[: r % 3]:
                start = time.perf_counter()
                for _ in range(8):  # short blocks: most run uninterrupted on a shared machine
                    steps[name]()
                times[name].append((time.perf_counter() - start) / 8)
    print(f"{machine()}; {args.repeats} repeats of 8 steps, engines interleaved, 1 thread")
    print(f"{problem.name}: same parameters to the bit after 3 steps with either driver")
    for name in names:
        print(f"  {name:<8} {statistics.median(times[name]) * 1e6:8.1f} us per step")
    for a, b in (("nn", "numpy"), ("nn-lean", "numpy"), ("nn-lean", "nn")):
        ratios = sorted(x / y for x, y in zip(times[a], times[b]))
        n = len(ratios)
        print(f"  {a}/{b}: {statistics.median(ratios):.3f} (middle half "
              f"{ratios[n // 4]:.3f}-{ratios[3 * n // 4]:.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
