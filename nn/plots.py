"""Pictures of training: `plot_history` draws the loss and accuracy curves of a `History`,
`plot_decision_boundary` the regions a classifier of 2-D points assigns to each class, with
the points on top.

Both need matplotlib (``pip install "autodiff[plot]"``) and draw on a bare matplotlib
``Figure`` rendered by Agg, never through pyplot: no window opens, no global backend changes,
and ``plt.show()`` is never called. Each returns the Figure (a notebook displays it) and, given
a `path`, writes it there as PNG (or the format the suffix names), atomically.

>>> import os, tempfile
>>> import nn
>>> from nn.data import DataLoader, make_moons
>>> X, y = make_moons(100, seed=0)
>>> model = nn.tensor_mlp([2, 16, 2], rng=0)
>>> history = nn.fit(model, nn.losses.cross_entropy, nn.optim.Adam(model.parameters(), 0.05),
...                  DataLoader((X, y), batch_size=20), epochs=3)
>>> folder = tempfile.mkdtemp()
>>> figure = nn.plot_history(history, os.path.join(folder, "loss.png"))
>>> figure = nn.plot_decision_boundary(model, X, y, os.path.join(folder, "moons.png"))
>>> sorted(os.listdir(folder))
['loss.png', 'moons.png']
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from autodiff import no_grad
from nn.serialization import _atomic_write
from nn.training import History, _Feed, _parameters

__all__ = ["plot_decision_boundary", "plot_history"]

INSTALL_HINT = 'pip install "autodiff[plot]"'


def _figure_class() -> Any:
    """matplotlib's Figure, or an ImportError that says how to install matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            f"plotting needs matplotlib, which is not installed: {INSTALL_HINT} (or pip install "
            "matplotlib)"
        ) from error
    return Figure


def _save(figure: Any, path: str | os.PathLike, op: str) -> None:
    """Render `figure` in memory, then write the file atomically (never half a picture)."""
    path = Path(path)
    fmt = path.suffix[1:].lower() or "png"
    supported = figure.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(
            f"{op}: cannot tell the image format from {str(path)!r}; use a suffix such as .png "
            f"(supported: {', '.join(sorted(supported))})"
        )
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=100, bbox_inches="tight")
    _atomic_write(path, lambda file: file.write(buffer.getvalue()), op)


def _lists(history: Any) -> dict[str, list]:
    if isinstance(history, History):
        return history.history
    if isinstance(history, Mapping):
        return {key: list(values) for key, values in history.items()}
    raise TypeError(
        f"plot_history: expected a History (from nn.fit) or a dict of per-epoch lists, got "
        f"{type(history).__name__}"
    )


def plot_history(
    history: History | Mapping[str, list],
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
) -> Any:
    """Loss curves (training and validation) per epoch, and accuracy curves beside them when
    accuracy was measured; a dotted line marks the best epoch. Returns the matplotlib Figure;
    with `path`, also writes it there (PNG unless the suffix says otherwise).

    Falling validation loss with training loss: still learning. Both high and flat:
    underfitting (the model is too small, or the rate too low). Training loss falling while the
    validation loss rises: overfitting (the model learns the training samples' noise).

    >>> figure = plot_history({"train_loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.8]})
    >>> [line.get_label() for line in figure.axes[0].get_lines()]
    ['training', 'validation']
    """
    lists = _lists(history)
    if not lists.get("train_loss") and not lists.get("val_loss"):
        raise ValueError("plot_history: the history holds no epochs to plot")
    Figure = _figure_class()
    panels = [("loss", "loss")]
    if lists.get("train_accuracy") or lists.get("val_accuracy"):
        panels.append(("accuracy", "accuracy"))
    figure = Figure(figsize=(5.0 * len(panels), 3.6), layout="constrained")
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    epochs = lists.get("epoch") or list(range(len(lists.get("train_loss") or lists["val_loss"])))
    shown = [e + 1 for e in epochs]  # people count epochs from 1
    best = history.best_epoch if isinstance(history, History) else None
    for ax, (what, label) in zip(axes, panels):
        for prefix, name, style in (("train", "training", "-"), ("val", "validation", "--")):
            values = lists.get(f"{prefix}_{what}")
            if values:
                ax.plot(shown[: len(values)], values, style, marker=".", label=name)
        if best is not None:
            ax.axvline(best + 1, color="grey", linestyle=":", label=f"best (epoch {best + 1})")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)  # no epoch 2.5 on short runs
        ax.set_ylabel(label)
        if what == "accuracy":
            ax.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    if path is not None:
        _save(figure, path, "plot_history")
    return figure


def _outputs(model: Any, points: np.ndarray) -> np.ndarray:
    """`model`'s outputs at `points` (eval mode, no_grad), as float64: (n,) or (n, k)."""
    feed = _Feed(_parameters(model))
    was_training = getattr(model, "training", None)
    if was_training is not None:
        model.eval()
    try:
        with no_grad():
            outputs = []
            for start in range(0, len(points), 4096):  # bounded memory for fine grids
                out = feed.forward(model, points[start : start + 4096])
                outputs.append(np.asarray(feed.numbers(out), dtype=np.float64))
    finally:
        if was_training is not None:
            model.train(was_training)
    out = np.concatenate(outputs)
    return out if out.ndim == 2 and out.shape[1] > 1 else out.reshape(len(points))


def _colour(cmap: str, k: int, count: int) -> Any:
    """The colour of class `k` of `count`: the ends of a diverging map for two classes."""
    from matplotlib import colormaps

    colours = colormaps[cmap]
    return colours(k / max(count - 1, 1)) if count <= 2 else colours(k % 10)


def plot_decision_boundary(
    model: Any,
    X: Any,
    y: Any,
    path: str | os.PathLike | None = None,
    *,
    resolution: int | None = None,
    threshold: float = 0.0,
    title: str | None = None,
) -> Any:
    """The plane around the 2-D points `X` coloured by the class `model` predicts there, and
    the points coloured by their labels `y`. Returns the matplotlib Figure; with `path`, also
    writes it there.

    Several outputs: the predicted class is the largest; one output: above `threshold` (0 for
    scores and logits) is the positive class, drawn with the labels > 0 (1 of {0, 1}, +1 of
    {-1, +1}). `resolution` points per side of the grid: 200 for tensor models, 60 for scalar
    models (one call per point).

    >>> import numpy as np
    >>> from nn import Linear
    >>> X, y = np.array([[-1.0, 0.0], [1.0, 0.0]]), np.array([0, 1])
    >>> plot_decision_boundary(Linear(2, 1, rng=0), X, y, title="a line").axes[0].get_title()
    'a line'
    """
    points = np.asarray(X.data if hasattr(X, "_prev") else X, dtype=np.float64)
    labels = np.asarray(y.data if hasattr(y, "_prev") else y)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(
            f"plot_decision_boundary: X must hold 2-D points, shape (n, 2), got {points.shape}"
        )
    if labels.shape[:1] != points.shape[:1] or labels.ndim > 2:
        raise ValueError(
            f"plot_decision_boundary: y must hold one label per point ({len(points)}), got "
            f"shape {labels.shape}"
        )
    Figure = _figure_class()
    feed = _Feed(_parameters(model))
    if resolution is None:
        resolution = 60 if feed.scalar else 200
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 2:
        raise ValueError(
            f"plot_decision_boundary: resolution must be an integer >= 2, got {resolution!r}"
        )
    low, high = points.min(axis=0), points.max(axis=0)
    margin = 0.1 * np.maximum(high - low, 1e-6)
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], resolution)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    out = _outputs(model, grid)
    if out.ndim == 1:  # one output: class 1 above the threshold
        labels = (labels.reshape(len(labels)) > 0).astype(np.int64)
        # the score itself is contoured, so the boundary is interpolated between grid points
        field = np.nan_to_num(out - threshold, nan=0.0).reshape(grid_x.shape)
        count, levels = 2, [-np.inf, 0.0, np.inf]
    else:
        if labels.ndim == 2:  # one-hot rows
            labels = labels.argmax(axis=1)
        field = out.argmax(axis=1).reshape(grid_x.shape)
        count = int(max(field.max(), labels.max())) + 1
        levels = np.arange(count + 1) - 0.5
    figure = Figure(figsize=(5.0, 4.4), layout="constrained")
    ax = figure.subplots()
    cmap = "coolwarm" if count <= 2 else "tab10"
    colours = [_colour(cmap, k, count) for k in range(count)]
    ax.contourf(grid_x, grid_y, field, levels=levels, colors=colours, alpha=0.35)
    ax.scatter(points[:, 0], points[:, 1], c=[colours[k] for k in labels], s=18,
               edgecolors="black", linewidths=0.5)  # fmt: skip
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title or "decision boundary")
    if path is not None:
        _save(figure, path, "plot_decision_boundary")
    return figure
