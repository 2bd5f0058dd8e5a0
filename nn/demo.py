"""The main demo: the article's partial derivatives, micrograd's moons MLP trained here, and a
tensor MLP that learns the 8x8 handwritten digits with `nn.fit`.

Run it with ``python -m nn.demo [OUTPUT_FOLDER]`` (installed, or from the checkout's root). It
writes its pictures into the folder (default ``demo-output``): the digits' loss and accuracy
curves, the moons decision boundary, and the gradient graph of one neuron. Without the optional
extras it skips what needs them and says so: the digits need scikit-learn, the pictures
matplotlib, the progress bar tqdm (``pip install "autodiff[data,plot,progress]"``), and the
drawing Graphviz's ``dot`` (without it, the drawing's DOT source is written instead).
"""

from __future__ import annotations

import argparse
import contextlib
import random
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from autodiff import GraphvizNotFoundWarning, Value, draw, grad
from nn import MLP, make_moons, tensor_mlp
from nn.data import DataLoader, load_digits, train_test_split
from nn.losses import binary_accuracy, cross_entropy, hinge_loss, l2_penalty
from nn.optim import SGD, Adam
from nn.optim.lr_scheduler import CosineAnnealingLR, LambdaLR
from nn.training import History, evaluate, fit

EXTRAS = 'pip install "autodiff[data,plot,progress]"'


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


# --- micrograd's moons MLP ------------------------------------------------------------------


def moons_data(seed: int = 0) -> tuple[list[list[float]], list[float]]:
    """100 two-moons points and their labels in {-1, +1}, as micrograd's demo uses them.

    >>> X, y = moons_data()
    >>> len(X), len(X[0]), sorted(set(y))
    (100, 2, [-1.0, 1.0])
    """
    X, labels = make_moons(100, noise=0.1, seed=seed)
    return X.tolist(), [float(2 * v - 1) for v in labels]


def micrograd_decay(k: int) -> float:
    """micrograd's learning-rate factor at step k: from 1.0 down to 0.109 over 100 steps."""
    return 1.0 - 0.9 * k / 100


def moons_step(
    model: Any, X: list, y: list, k: int = 0, value: type = Value, optimizer: Any = None
) -> tuple[float, float]:
    """One step of micrograd's demo: forward all points, hinge loss + 1e-4 L2, zero_grad,
    backward, update. Returns (loss, accuracy).

    The update is ``optimizer.step()`` when an optimizer is given (the demo: `SGD` at rate 1.0,
    its `LambdaLR` schedule stepping the rate down by `micrograd_decay`); without one it is
    micrograd's own loop, ``p.data -= (1.0 - 0.9 k / 100) * p.grad``: the same numbers. `value`
    is the scalar class to wrap inputs in, so that benchmarks run this very step on micrograd.

    >>> random.seed(1337)
    >>> model = MLP(2, [16, 16, 1])
    >>> optimizer = SGD(model.parameters(), lr=1.0)
    >>> X, y = moons_data()
    >>> loss, accuracy = moons_step(model, X, y, optimizer=optimizer)
    >>> round(loss, 6), accuracy
    (0.909944, 0.5)
    """
    scores = [model([value(v) for v in row]) for row in X]
    loss = hinge_loss(scores, y) + l2_penalty(model.parameters(), 1e-4)
    accuracy = binary_accuracy(scores, y)
    if optimizer is not None:
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.data, accuracy
    model.zero_grad()
    loss.backward()
    learning_rate = micrograd_decay(k)
    for p in model.parameters():
        p.data -= learning_rate * p.grad
    return loss.data, accuracy


def train_moons(steps: int = 100) -> tuple[MLP, list, list]:
    """micrograd's demo: MLP(2, [16, 16, 1]) on 100 two-moons points until 100% accuracy,
    with SGD and micrograd's decaying rate as a LambdaLR schedule. Returns (model, X, y)."""
    X, y = moons_data()
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LambdaLR(optimizer, micrograd_decay)
    print(
        f"\ntraining micrograd's MLP(2, [16, 16, 1]) ({len(model.parameters())} parameters) on "
        f"{len(X)} two-moons points:\n  SGD(lr=1.0) with LambdaLR(1.0 - 0.9 * k / 100), "
        "micrograd's decaying rate"
    )
    start = time.perf_counter()
    for k in range(steps):
        loss, accuracy = moons_step(model, X, y, optimizer=optimizer)
        schedule.step()
        if k % 10 == 0 or accuracy == 1.0:
            print(f"  step {k:3d}  loss {loss:.4f}  accuracy {accuracy:.0%}")
        if accuracy == 1.0:
            break
    per_step = (time.perf_counter() - start) / (k + 1)
    print(f"  {k + 1} steps, {per_step * 1e3:.1f} ms per step")
    return model, X, y


# --- the digits -----------------------------------------------------------------------------


def digits_data(seed: int = 0) -> tuple[tuple, tuple, tuple]:
    """The 1797 digits split 70/10/20 into training, validation and test sets (stratified,
    seeded), standardised with the training set's statistics, as float32 pixels and int64
    labels: ``(X_train, y_train), (X_val, y_val), (X_test, y_test)``. Needs scikit-learn."""
    X, y = load_digits()
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.2, seed=seed, stratify=y)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=0.125, seed=seed, stratify=y_rest
    )
    mean, std = X_train.mean(axis=0), X_train.std(axis=0)
    std[std == 0] = 1.0  # pixels that are blank in every training image stay 0

    def scale(images: np.ndarray) -> np.ndarray:
        return ((images - mean) / std).astype(np.float32)

    return (scale(X_train), y_train), (scale(X_val), y_val), (scale(X_test), y_test)


def train_digits(
    epochs: int = 30, seed: int = 0, progress: bool = True
) -> tuple[Any, History, dict[str, float]]:
    """A tensor MLP 64-256-10 trained on the digits with `nn.fit`: Adam (lr 1e-3, batch 32),
    a cosine schedule over the epochs, validation after every epoch. Returns the model, its
    history and its accuracy on each split."""
    (X_train, y_train), val, (X_test, y_test) = digits_data(seed)
    model = tensor_mlp([64, 256, 10], rng=seed)
    optimizer = Adam(model.parameters(), lr=1e-3)
    schedule = CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    loader = DataLoader((X_train, y_train), batch_size=32, shuffle=True, seed=seed)
    history = fit(
        model, cross_entropy, optimizer, loader, epochs, val_loader=val, scheduler=schedule,
        progress=progress,
    )  # fmt: skip
    accuracy = {
        "train": evaluate(model, (X_train, y_train)).accuracy,
        "validation": evaluate(model, val).accuracy,
        "test": evaluate(model, (X_test, y_test)).accuracy,
    }
    return model, history, accuracy


def _one_blas_thread() -> Any:
    """One BLAS thread while training: products this small run as fast on one, and on a busy
    machine more threads fight over the cores (many times slower). threadpoolctl comes with
    scikit-learn; without it, nothing changes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def digits_demo(epochs: int) -> History | None:
    """Train on the digits and print the accuracies; None (and a note) without scikit-learn."""
    print("\ntraining a tensor MLP 64-256-10 on the 8x8 handwritten digits with nn.fit")
    try:
        load_digits()
    except ImportError:
        print("  skipped: the digits ship with scikit-learn, which is not installed")
        return None
    start = time.perf_counter()
    with _one_blas_thread():
        model, history, accuracy = train_digits(epochs)
    seconds = time.perf_counter() - start
    print(f"  {model!r}".replace("\n", "\n  "))
    print(f"  {len(history)} epochs in {seconds:.1f} s: Adam(lr=1e-3), batch 32, cosine schedule")
    print(
        f"  train accuracy {accuracy['train']:.1%}, validation {accuracy['validation']:.1%}, "
        f"test accuracy {accuracy['test']:.1%}"
    )
    return history


# --- pictures -------------------------------------------------------------------------------


def draw_neuron(model: MLP, X: list, folder: Path) -> str:
    """The gradient graph of the trained model's first neuron on the first point, saved as
    SVG (or as DOT source without Graphviz's dot). Returns what to tell the user."""
    neuron = model.layers[0].neurons[0]
    inputs = [Value(v, label=f"x{i + 1}") for i, v in enumerate(X[0])]
    out = neuron(inputs)
    out.label = "out"
    out.backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GraphvizNotFoundWarning)
        written = draw(out).save(folder / "neuron.svg")
    missing = [w for w in caught if issubclass(w.category, GraphvizNotFoundWarning)]
    if missing:
        return f"{written.name} (no svg: {missing[0].message})"
    return written.name


def pictures(model: MLP, X: list, y: list, history: History | None, folder: Path) -> list[str]:
    """Write the pictures into `folder`; returns their names (and notes on what was skipped)."""
    written = [draw_neuron(model, X, folder)]
    try:
        from nn.plots import plot_decision_boundary, plot_history

        plot_decision_boundary(model, X, y, folder / "moons-boundary.png",
                               title="micrograd's MLP on the moons")  # fmt: skip
        written.append("moons-boundary.png")
        if history is not None:
            plot_history(history, folder / "digits-training.png",
                         title="tensor MLP on the digits")  # fmt: skip
            written.append("digits-training.png")
    except ImportError:
        written.append("no plots: matplotlib is not installed")
    return written


def _missing_extras() -> list[str]:
    missing = []
    for module, what in (("sklearn", "scikit-learn"), ("matplotlib", "matplotlib"),
                         ("tqdm", "tqdm")):  # fmt: skip
        try:
            __import__(module)
        except ImportError:
            missing.append(what)
    return missing


def main(argv: Sequence[str] | None = None) -> None:
    """The whole demo, as ``python -m nn.demo [OUTPUT_FOLDER] [--epochs N]`` runs it."""
    summary = " ".join(__doc__.split("\n\n")[0].split())  # the first paragraph, whole
    parser = argparse.ArgumentParser(prog="python -m nn.demo", description=summary)
    parser.add_argument(
        "output", nargs="?", default="demo-output", help="folder for the pictures (made if new)"
    )
    parser.add_argument("--epochs", type=int, default=30, help="epochs on the digits (30)")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    folder = Path(args.output)
    folder.mkdir(parents=True, exist_ok=True)

    article_example()
    model, X, y = train_moons()
    history = digits_demo(args.epochs)
    written = pictures(model, X, y, history, folder)
    print(f"\nwritten to {folder}/: {', '.join(written)}")
    missing = _missing_extras()
    if missing:
        print(f"skipped what needs {', '.join(missing)}; to install them: {EXTRAS}")


if __name__ == "__main__":
    main()
