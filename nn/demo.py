"""The main demo: the article's partial derivatives, then micrograd's moons MLP trained here.

Run it with ``python -m nn.demo`` (installed, or from the checkout's root).
"""

from __future__ import annotations

import random
import time
from typing import Any

from autodiff import Value, grad
from nn import MLP, make_moons
from nn.losses import binary_accuracy, hinge_loss, l2_penalty


def article_example() -> None:
    """y = 5 x1^2 + 8 x2 + 35 x3 + 30: years, farm area and employees of a pig farm."""
    x1, x2, x3 = Value(2.0, label="x1"), Value(1.0, label="x2"), Value(4.0, label="x3")
    y = 5 * x1**2 + 8 * x2 + 35 * x3 + 30
    y.backward()
    print("y = 5*x1**2 + 8*x2 + 35*x3 + 30 at x1=2, x2=1, x3=4")
    print(f"  y       = {y.data:g}")
    print(f"  dy/dx1  = {x1.grad:g}   (10 * x1)")
    print(f"  dy/dx2  = {x2.grad:g}    (8)")
    print(f"  dy/dx3  = {x3.grad:g}   (35: each employee sells 35 more pigs)")
    x = Value(3.0)
    y = 5 * x**2 + 30
    y.backward()
    print(f"y = 5*x**2 + 30 at x=3: dy/dx = {x.grad:g}   (10 * x: the rate of change changes)")
    # ...and how fast it changes: the derivative of the derivative (create_graph under the hood)
    second = grad(grad(lambda x: 5 * x**2 + 30))(3.0)
    print(f"                        d2y/dx2 = {second:g}   (10, the same at every x)")


def moons_data(seed: int = 0) -> tuple[list[list[float]], list[float]]:
    """100 two-moons points and their labels in {-1, +1}, as micrograd's demo uses them.

    >>> X, y = moons_data()
    >>> len(X), len(X[0]), sorted(set(y))
    (100, 2, [-1.0, 1.0])
    """
    X, labels = make_moons(100, noise=0.1, seed=seed)
    return X.tolist(), [float(2 * v - 1) for v in labels]


def moons_step(model: Any, X: list, y: list, k: int, value: type = Value) -> tuple[float, float]:
    """One step of micrograd's demo: forward all points, hinge loss + 1e-4 L2, zero_grad,
    backward, SGD with learning rate 1.0 - 0.9 k / 100. Returns (loss, accuracy).

    `value` is the scalar class to wrap inputs in, so the benchmark runs the very same step
    on micrograd's engine.
    """
    scores = [model([value(v) for v in row]) for row in X]
    loss = hinge_loss(scores, y) + l2_penalty(model.parameters(), 1e-4)
    accuracy = binary_accuracy(scores, y)
    model.zero_grad()
    loss.backward()
    learning_rate = 1.0 - 0.9 * k / 100
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return loss.data, accuracy


def train_moons(steps: int = 100) -> None:
    """micrograd's demo: MLP(2, [16, 16, 1]) on 100 two-moons points, until 100% accuracy."""
    X, y = moons_data()
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    print(f"\ntraining {model!r:.60}... ({len(model.parameters())} parameters)")
    start = time.perf_counter()
    for k in range(steps):
        loss, accuracy = moons_step(model, X, y, k)
        if k % 10 == 0 or accuracy == 1.0:
            print(f"  step {k:3d}  loss {loss:.4f}  accuracy {accuracy:.0%}")
        if accuracy == 1.0:
            break
    per_step = (time.perf_counter() - start) / (k + 1)
    print(f"  {k + 1} steps, {per_step * 1e3:.1f} ms per step")


def main() -> None:
    """The whole demo, as ``python -m nn.demo`` runs it."""
    article_example()
    train_moons()


if __name__ == "__main__":
    main()
