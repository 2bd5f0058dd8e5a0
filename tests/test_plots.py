"""nn.plots: training curves and decision boundaries written as valid PNG files, the regions
coloured by the class the model predicts there, and a clear error without matplotlib."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest

import nn
from nn import History, plot_decision_boundary, plot_history
from nn.data import DataLoader, make_blobs

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.image import imread  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def a_history(validation=True, accuracy=True):
    history = History()
    for epoch, (loss, val) in enumerate([(1.0, 1.1), (0.6, 0.8), (0.4, 0.9)]):
        history._append(
            epoch=epoch, train_loss=loss, val_loss=val if validation else None,
            train_accuracy=1 - loss / 2 if accuracy else None,
            val_accuracy=1 - val / 2 if accuracy and validation else None, lr=0.1, time=0.1,
        )  # fmt: skip
    history.stop_reason = "completed"
    return history


def assert_png(path, min_width=200):
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    image = imread(path)
    assert image.ndim == 3 and image.shape[1] >= min_width
    return image


def test_plot_history_writes_a_png_with_a_panel_for_loss_and_one_for_accuracy(tmp_path):
    figure = plot_history(a_history(), tmp_path / "curves.png", title="run")
    assert len(figure.axes) == 2
    loss_axes, accuracy_axes = figure.axes
    labels = [line.get_label() for line in loss_axes.get_lines()]
    assert labels == ["training", "validation", "best (epoch 2)"]
    np.testing.assert_allclose(loss_axes.get_lines()[1].get_ydata(), [1.1, 0.8, 0.9])
    np.testing.assert_allclose(loss_axes.get_lines()[0].get_xdata(), [1, 2, 3])  # from 1
    assert accuracy_axes.get_ylabel() == "accuracy"
    wide = assert_png(tmp_path / "curves.png")
    plot_history(a_history(validation=False, accuracy=False), tmp_path / "loss.png")
    narrow = assert_png(tmp_path / "loss.png")
    assert narrow.shape[1] < wide.shape[1]  # one panel


def test_plot_history_takes_a_dict_of_lists_and_refuses_an_empty_history(tmp_path):
    figure = plot_history({"train_loss": [3.0, 2.0], "val_loss": [3.5, 2.5]})
    assert len(figure.axes) == 1 and figure.axes[0].get_lines()[0].get_ydata().tolist() == [3, 2]
    with pytest.raises(ValueError, match="no epochs"):
        plot_history(History())
    with pytest.raises(TypeError, match="History"):
        plot_history([1.0, 2.0])


def pixel(figure, ax, x, y):
    """The RGB colour drawn at data point (x, y)."""
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    image = np.asarray(canvas.buffer_rgba())[..., :3].astype(float)
    px, py = ax.transData.transform((x, y))
    return image[int(image.shape[0] - py), int(px)]


def split_by_x1(n_outputs):
    """A linear model predicting class 1 for x1 > 0 (one output: the score x1)."""
    model = nn.Linear(2, n_outputs, rng=0)
    model.bias.data[:] = 0
    model.weight.data[:] = [[1.0, 0.0]] if n_outputs == 1 else [[-1.0, 0.0], [1.0, 0.0]]
    return model


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_the_regions_have_the_colour_of_the_predicted_class(tmp_path, n_outputs):
    X = np.array([[-2.0, -1.0], [-1.5, 1.0], [2.0, -1.0], [1.5, 1.0]])
    y = np.array([0, 0, 1, 1])
    figure = plot_decision_boundary(split_by_x1(n_outputs), X, y, tmp_path / "regions.png")
    assert_png(tmp_path / "regions.png")
    ax = figure.axes[0]
    left, right = pixel(figure, ax, -1.0, 0.0), pixel(figure, ax, 1.0, 0.0)
    # class 0 blue, class 1 red (coolwarm's ends, paled by the transparency)
    assert left[2] > left[0] + 30 and right[0] > right[2] + 30


def test_decision_boundary_of_micrograds_scalar_mlp_and_of_three_classes(tmp_path):
    X, y = make_blobs(60, centers=[[0.0, 3.0], [3.0, 0.0], [-3.0, 0.0]], seed=0)
    model = nn.tensor_mlp([2, 16, 3], rng=0)
    nn.fit(model, nn.losses.cross_entropy, nn.optim.Adam(model.parameters(), lr=0.05),
           DataLoader((X, y), batch_size=20), epochs=20)  # fmt: skip
    plot_decision_boundary(model, X, y, tmp_path / "three.png")
    assert_png(tmp_path / "three.png")

    random.seed(1337)
    scalar = nn.MLP(2, [4, 1])
    was = scalar.training
    plot_decision_boundary(scalar, X[:, :2], np.sign(X[:, 0]), tmp_path / "scalar.png",
                           resolution=20)  # fmt: skip
    assert_png(tmp_path / "scalar.png")
    assert scalar.training == was


def test_decision_boundary_errors(tmp_path):
    model = split_by_x1(2)
    X, y = np.zeros((4, 2)), np.zeros(4, dtype=int)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plot_decision_boundary(model, np.zeros((4, 3)), y)
    with pytest.raises(ValueError, match="one label per point"):
        plot_decision_boundary(model, X, np.zeros(5))
    with pytest.raises(ValueError, match="resolution"):
        plot_decision_boundary(model, X, y, resolution=1)
    with pytest.raises(ValueError, match="image format"):
        plot_decision_boundary(model, X, y, tmp_path / "picture.unknown")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plot_decision_boundary(model, X, y, tmp_path / "missing" / "picture.png")


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "curves.png"
    path.write_bytes(b"old")

    def broken(*args, **kwargs):
        raise RuntimeError("renderer failed")

    figure_class = __import__("matplotlib.figure", fromlist=["Figure"]).Figure
    monkeypatch.setattr(figure_class, "savefig", broken)
    with pytest.raises(RuntimeError, match="renderer failed"):
        plot_history(a_history(), path)
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]


def test_without_matplotlib_the_error_says_how_to_install_it(monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "autodiff\[plot\]"'):
        plot_history(a_history())
    with pytest.raises(ImportError, match=r'pip install "autodiff\[plot\]"'):
        plot_decision_boundary(split_by_x1(1), np.zeros((2, 2)), np.zeros(2))
