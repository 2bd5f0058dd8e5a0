"""Training in a few lines: `fit` runs the epochs and returns a `History` of per-epoch numbers,
`evaluate` measures a model on data, `EarlyStopping` ends training once validation stops
improving.

>>> import nn
>>> from nn.data import DataLoader, make_moons
>>> X, y = make_moons(200, noise=0.1, seed=0)
>>> model = nn.tensor_mlp([2, 16, 16, 2], rng=0)
>>> optimizer = nn.optim.Adam(model.parameters(), lr=0.02)
>>> loader = DataLoader((X, y), batch_size=32, shuffle=True, seed=0)
>>> history = nn.fit(model, nn.losses.cross_entropy, optimizer, loader, epochs=30)
>>> history.train_loss[-1] < history.train_loss[0], history.train_accuracy[-1] > 0.95
(True, True)
>>> nn.evaluate(model, (X, y), nn.losses.cross_entropy).accuracy > 0.95
True

**What the model and the loss receive.** A batch from the loader is a pair ``(x, y)`` of
arrays. Whether the model is a tensor model or a scalar one is read from the optimizer's
parameters (`evaluate`: the model's):

- tensor models (`Tensor` parameters, e.g. `nn.Sequential` of `nn.Linear`): the model gets
  ``Tensor(x)``, floating-point ``x`` first cast to the parameters' dtype (float32 for
  `nn.Linear`), as ``torch.tensor(x, dtype=torch.float32)`` would; integer ``x`` stays as it is.
  The loss gets ``(output, target)``: integer labels against an output with several columns
  stay an integer array (class indices, what `cross_entropy` takes); any other target becomes a
  Tensor of the output's dtype, and labels of shape (n,) against an output of shape (n, 1) are
  given that shape (so `mse_loss` and `binary_cross_entropy_with_logits` see matching shapes).
- scalar models (`Value` parameters, micrograd's `nn.MLP`): each sample's features become a list
  of floats and the model is called once per sample; the loss gets the list of outputs and the
  list of targets (numbers), as micrograd's demo computes its loss.

**Accuracy** (``accuracy="auto"``) is the fraction of samples whose predicted class is right:

- several outputs per sample: the class with the largest output (argmax of the logits);
- one output: a positive output predicts the positive class, i.e. a label > 0 (1 of {0, 1} or
  +1 of {-1, +1}): the output is read as a score or a logit, as `hinge_loss` and
  `binary_cross_entropy_with_logits` read it (0.5 for `binary_cross_entropy`'s probabilities);
- regression has none: not with a loss that measures a distance (`mse_loss`, `l1_loss`,
  `squared_error`). Another loss function (your own, say) is taken for a classification when
  the targets are integers, or floats that are all -1, 0 or 1 (micrograd's labels), judged on
  the first batch.
  ``accuracy=None`` turns it off; a function ``accuracy(outputs, targets)`` of numpy arrays
  returning the fraction right in a batch replaces it.

Losses and accuracies of an epoch are means over its samples (batches weighted by their
size); the training ones are measured while the weights change along the epoch, as a training
loop usually reports them, the validation ones after the epoch, in evaluation mode.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple

import numpy as np

import autodiff.tensor
from autodiff import Tensor, no_grad
from nn.optim.lr_scheduler import ReduceLROnPlateau
from nn.serialization import load_checkpoint, save_checkpoint

__all__ = ["EarlyStopping", "Evaluation", "History", "evaluate", "fit"]

_ndarray = np.ndarray

# Loss functions whose name says what the outputs mean, for accuracy="auto". Other functions
# (a lambda adding a penalty, say) are judged by their targets.
_REGRESSION = {
    "mse_loss", "l1_loss", "squared_error", "smooth_l1_loss", "huber_loss",
    "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss",
}  # fmt: skip
_CLASSES = {"cross_entropy", "nll_loss", "CrossEntropyLoss", "NLLLoss"}
_SCORES = {"hinge_loss", "binary_cross_entropy_with_logits", "BCEWithLogitsLoss"}
_PROBABILITIES = {"binary_cross_entropy", "BCELoss"}

_STOP_REASONS = ("", "completed", "early_stopping", "interrupted")


# --------------------------------------------------------------------------------------------
# History and EarlyStopping
# --------------------------------------------------------------------------------------------


class History:
    """What `fit` measured, one entry per epoch, in plain lists (Keras's History):

    ``epoch`` (0, 1, ...), ``train_loss``, ``train_accuracy``, ``val_loss``, ``val_accuracy``,
    ``lr`` (the first parameter group's learning rate during the epoch) and ``time`` (seconds).
    A quantity that was not measured (no validation data, no accuracy for a regression) has an
    empty list; every other list has one number per completed epoch. ``history["val_loss"]``
    works too, and ``history.history`` is the dict of the measured lists (to plot or to
    ``json.dump``).

    ``stop_reason`` says how the run ended: "completed" (every epoch ran), "early_stopping",
    "interrupted" (Ctrl-C; the epoch under way is not recorded), or "" while it runs.

    >>> h = History()
    >>> h.val_loss, len(h), h.best_epoch
    ([], 0, None)
    """

    KEYS = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "time")

    def __init__(self) -> None:
        self.epoch: list[int] = []
        self.train_loss: list[float] = []
        self.train_accuracy: list[float] = []
        self.val_loss: list[float] = []
        self.val_accuracy: list[float] = []
        self.lr: list[float] = []
        self.time: list[float] = []
        self.stop_reason = ""

    def _append(self, **numbers: Any) -> None:
        for key in self.KEYS:
            value = numbers.get(key)
            if value is not None:
                getattr(self, key).append(value)

    @property
    def history(self) -> dict[str, list]:
        """The measured lists by name (the empty ones left out), as Keras's ``history``."""
        return {key: list(getattr(self, key)) for key in self.KEYS if getattr(self, key)}

    def __getitem__(self, key: str) -> list:
        if key not in self.KEYS:
            raise KeyError(f"History has no {key!r}; it has {', '.join(self.KEYS)}")
        return getattr(self, key)

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def interrupted(self) -> bool:
        """True if Ctrl-C stopped the run."""
        return self.stop_reason == "interrupted"

    @property
    def stopped_early(self) -> bool:
        """True if early stopping ended the run."""
        return self.stop_reason == "early_stopping"

    @property
    def monitor(self) -> str:
        """The loss `best_epoch` looks at: "val_loss" when there was validation data."""
        return "val_loss" if self.val_loss else "train_loss"

    @property
    def best_epoch(self) -> int | None:
        """The epoch with the lowest validation loss (training loss without validation data;
        the first one on ties; NaN never counts), or None before any epoch."""
        losses = getattr(self, self.monitor)
        best = None
        for epoch, loss in zip(self.epoch, losses):
            if loss == loss and (best is None or loss < best[1]):
                best = (epoch, loss)
        return None if best is None else best[0]

    @property
    def best_loss(self) -> float | None:
        """The monitored loss at `best_epoch` (None before any epoch)."""
        best = self.best_epoch
        return None if best is None else getattr(self, self.monitor)[self.epoch.index(best)]

    def state_dict(self) -> dict[str, Any]:
        """The lists and the stop reason, as plain data (for `nn.save_checkpoint`)."""
        state: dict[str, Any] = {key: list(getattr(self, key)) for key in self.KEYS}
        state["stop_reason"] = self.stop_reason
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        if not isinstance(state, dict) or set(state) != {*self.KEYS, "stop_reason"}:
            raise ValueError(
                f"History.load_state_dict: expected the entries {', '.join(self.KEYS)} and "
                f"stop_reason, got {sorted(state) if isinstance(state, dict) else state!r}"
            )
        n = len(state["epoch"])
        for key in self.KEYS:
            if len(state[key]) not in (0, n):
                raise ValueError(
                    f"History.load_state_dict: {key} has {len(state[key])} entries for {n} epochs"
                )
        if state["stop_reason"] not in _STOP_REASONS:
            raise ValueError(
                f"History.load_state_dict: unknown stop_reason {state['stop_reason']!r}"
            )
        for key in self.KEYS:
            setattr(self, key, [int(v) if key == "epoch" else float(v) for v in state[key]])
        self.stop_reason = state["stop_reason"]

    def __repr__(self) -> str:
        parts = [f"epochs={len(self)}"]
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            values = getattr(self, key)
            if values:
                parts.append(f"{key}={values[-1]:.4g}")
        if self.best_epoch is not None:
            parts.append(f"best_epoch={self.best_epoch}")
        if self.stop_reason:
            parts.append(f"stop_reason={self.stop_reason!r}")
        return f"History({', '.join(parts)})"


class EarlyStopping:
    """Stop training once the validation loss has not improved (fallen below the best by more
    than `min_delta`) for `patience` epochs in a row (0: at the first epoch without progress).
    With `restore_best` the model gets the weights of its best epoch back when training ends
    (by early stopping or because the epochs ran out, as Keras's ``restore_best_weights``; not
    after Ctrl-C, which keeps what was learned).

    ``fit(..., early_stopping=5)`` means ``EarlyStopping(patience=5)``.

    >>> stopper = EarlyStopping(patience=2)
    >>> [stopper.update(epoch, loss) for epoch, loss in enumerate([3.0, 2.0, 2.5, 2.1])]
    [False, False, False, True]
    >>> stopper.best_epoch, stopper.best
    (1, 2.0)
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0, restore_best: bool = True):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 0, got {patience!r}")
        if (
            isinstance(min_delta, bool)
            or not isinstance(min_delta, (int, float))
            or not (min_delta >= 0)
        ):
            raise ValueError(f"EarlyStopping: min_delta must be a number >= 0, got {min_delta!r}")
        self.patience = patience
        self.min_delta = float(min_delta)
        self.restore_best = bool(restore_best)
        self.reset()

    def reset(self) -> None:
        """Forget every epoch seen (`fit` calls it when a run starts afresh)."""
        self.best = math.inf
        self.best_epoch: int | None = None
        self.wait = 0  # epochs since the last improvement
        self.best_state: dict[str, np.ndarray] | None = None
        self.stopped_epoch: int | None = None

    def update(self, epoch: int, loss: float, model: Any = None) -> bool:
        """Record epoch `epoch`'s validation `loss` (keeping `model`'s weights if it is the best
        so far and `restore_best`); True when training should stop."""
        if loss < self.best - self.min_delta:  # NaN is never an improvement
            self.best = float(loss)
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best and model is not None:
                self.best_state = model.state_dict()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            return True
        return False

    def restore(self, model: Any) -> bool:
        """Load the best epoch's weights into `model`; False if there are none to load."""
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True

    def state_dict(self) -> dict[str, Any]:
        """Settings and progress, with the best weights (for `nn.save_checkpoint`)."""
        return {
            "patience": self.patience, "min_delta": self.min_delta,
            "restore_best": self.restore_best, "best": self.best, "best_epoch": self.best_epoch,
            "wait": self.wait, "best_state": self.best_state,
            "stopped_epoch": self.stopped_epoch,
        }  # fmt: skip

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        expected = set(self.state_dict())
        if not isinstance(state, dict) or set(state) != expected:
            raise ValueError(
                f"EarlyStopping.load_state_dict: expected the entries {sorted(expected)}, got "
                f"{sorted(state) if isinstance(state, dict) else state!r}"
            )
        best_state = state["best_state"]
        self.__dict__.update(state)
        self.best_state = None if best_state is None else dict(best_state)

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
            f"restore_best={self.restore_best})"
        )


# --------------------------------------------------------------------------------------------
# Batches in, numbers out
# --------------------------------------------------------------------------------------------


def _parameters(source: Any) -> list:
    """The parameters of an optimizer (its groups) or of a model."""
    groups = getattr(source, "param_groups", None)
    if groups is not None:
        return [p for group in groups for p in group["params"]]
    parameters = getattr(source, "parameters", None)
    return list(parameters()) if callable(parameters) else []


class _Feed:
    """How a batch ``(x, y)`` becomes the model's input and the loss's target (see the module
    docstring), for tensor or scalar models."""

    def __init__(self, parameters: list) -> None:
        self.scalar = bool(parameters) and not any(isinstance(p, Tensor) for p in parameters)
        floats = [p.data.dtype for p in parameters if isinstance(p, Tensor)]
        floats = [d for d in floats if d.kind == "f"]
        self.dtype = floats[0] if floats else None

    def forward(self, model: Callable, x: Any) -> Any:
        if self.scalar:
            rows = np.asarray(x)
            return [model(row) for row in rows.reshape(len(rows), -1).tolist()]
        if type(x) is not Tensor:
            if type(x) is not _ndarray:
                x = np.asarray(x)
            dtype = self.dtype
            if dtype is not None and x.dtype != dtype and x.dtype.kind == "f":
                x = x.astype(dtype)
            x = Tensor(x)
        return model(x)

    def target(self, y: Any, out: Any) -> Any:
        if self.scalar:
            return np.asarray(y).tolist()
        if type(y) is Tensor or type(out) is not Tensor:
            return y
        if type(y) is not _ndarray:
            y = np.asarray(y)
        shape = out.data.shape
        if y.dtype.kind in "iub" and len(shape) == y.ndim + 1 and shape[-1] > 1:
            return y  # class indices
        dtype = out.data.dtype
        if y.dtype != dtype and dtype.kind == "f":
            y = y.astype(dtype)
        if y.shape != shape and y.shape + (1,) == shape:
            y = y.reshape(shape)
        return Tensor(y)

    def numbers(self, out: Any) -> np.ndarray:
        """The model's outputs for a batch as one array (n,) or (n, k)."""
        if type(out) is Tensor:
            return out.data
        if self.scalar and isinstance(out, list):
            return np.array(
                [[v.data for v in o] if isinstance(o, (list, tuple)) else o.data for o in out]
            )
        return np.asarray(getattr(out, "data", out))


def _loss_name(loss_fn: Any) -> str:
    """The name a loss function goes by: a function's, a partial's, a loss object's class."""
    fn = getattr(loss_fn, "func", loss_fn)  # functools.partial
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


def _hits_argmax(out: np.ndarray, y: np.ndarray) -> int:
    """How many rows have their largest output at the label (a row with a NaN never counts)."""
    hits = out.argmax(axis=-1) == y
    if out.dtype.kind == "f" and out.size:
        top = out.max()  # one reduction: NaN if and only if some output is NaN
        if top != top:
            hits &= ~np.isnan(out).any(axis=-1)
    return int(np.count_nonzero(hits))


def _hits_threshold(out: np.ndarray, y: np.ndarray, threshold: float) -> int:
    """How many outputs lie on the label's side of `threshold` (labels > 0 are positive)."""
    n = len(y)
    out = out.reshape(n)
    hits = (out > threshold) == (np.asarray(y).reshape(n) > 0)
    if out.dtype.kind == "f":
        hits &= ~np.isnan(out)
    return int(np.count_nonzero(hits))


class _Accuracy:
    """Counts right predictions batch by batch; "auto" decides how on the first batch."""

    def __init__(self, accuracy: Any, loss_fn: Any) -> None:
        if accuracy is not None and accuracy != "auto" and not callable(accuracy):
            raise ValueError(
                f"accuracy must be 'auto', None or a function (outputs, targets) -> fraction "
                f"right, got {accuracy!r}"
            )
        self.user = accuracy if callable(accuracy) else None
        self.enabled = accuracy is not None
        self.kind: str | None = None if self.enabled else "none"
        name = _loss_name(loss_fn) if loss_fn is not None else ""
        self.threshold = 0.5 if name in _PROBABILITIES else 0.0
        if accuracy == "auto" and name in _REGRESSION:
            self.kind, self.enabled = "none", False
        elif accuracy == "auto" and name in _CLASSES | _SCORES | _PROBABILITIES:
            self.kind = "classes"

    def _decide(self, out: np.ndarray, y: np.ndarray) -> None:
        if self.kind is None:  # an unknown loss: integers, or -1, 0, 1 as floats, are labels
            labels = y.dtype.kind in "iub" or (
                y.dtype.kind == "f" and bool(np.isin(y, (-1.0, 0.0, 1.0)).all())
            )
            self.kind = "classes" if labels else "none"
        self.enabled = self.kind != "none"
        if self.enabled:
            several = out.ndim >= 2 and out.shape[-1] > 1
            if several and y.shape == out.shape:  # one-hot or soft labels
                self.kind = "argmax_both"
            else:
                self.kind = "argmax" if several else "threshold"

    def hits(self, out: np.ndarray, y: Any) -> float:
        """Right predictions in one batch (a count, fractional from a user's function)."""
        y = y.data if type(y) is Tensor else np.asarray(y)
        if self.user is not None:
            return float(self.user(out, y)) * len(y)
        if self.kind in (None, "classes"):
            self._decide(out, y)
        if self.kind == "argmax":
            return _hits_argmax(out, y)
        if self.kind == "argmax_both":
            return _hits_argmax(out, y.argmax(axis=-1))
        if self.kind == "threshold":
            return _hits_threshold(out, y, self.threshold)
        return 0.0


def _batch(batch: Any) -> tuple[Any, Any]:
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(
        f"fit: each batch must be a pair (inputs, targets), got {type(batch).__name__}"
        + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
    )


def _as_loader(data: Any, name: str, arrays: bool = True) -> Any:
    """A DataLoader or any iterable of (x, y) batches; with `arrays`, a tuple (X, y) of whole
    arrays too (measured in batches of 1024)."""
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], (_ndarray, Tensor)):
        if not arrays:
            raise TypeError(
                f"{name} must be a DataLoader, which decides the batch size and shuffling: "
                "DataLoader((X, y), batch_size=32, shuffle=True, seed=0)"
            )
        from nn.data import DataLoader

        return DataLoader(data, batch_size=1024)
    if not hasattr(data, "__iter__"):
        also = ", or a tuple (X, y) of arrays" if arrays else ""
        raise TypeError(
            f"{name} must be a DataLoader (or an iterable of (inputs, targets) batches{also}), "
            f"got {type(data).__name__}"
        )
    return data


class _Run:
    """Ctrl-C while `fit` runs: the batch under way finishes, then training stops (so no update
    is half applied); a second Ctrl-C stops at once. Only in the main thread, and only when
    Python's own handler is in place (a program with its own keeps it)."""

    def __init__(self) -> None:
        self.stop_requested = False
        self._previous: Any = None

    def __enter__(self) -> _Run:
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        ):
            self._previous = signal.signal(signal.SIGINT, self._interrupt)
        return self

    def _interrupt(self, signum: int, frame: Any) -> None:
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


_NO_RUN = _Run()  # never asked to stop: `evaluate` on its own


def _epoch(
    model: Any,
    loader: Iterable,
    feed: _Feed,
    loss_fn: Callable | None,
    accuracy: _Accuracy,
    run: _Run,
    optimizer: Any = None,
    bar: Any = None,
) -> tuple[float | None, float | None]:
    """One pass over `loader`: training steps if an `optimizer` is given, else measurement
    only. Returns the mean loss and accuracy over the samples (None when not measured)."""
    total = right = 0.0
    seen = 0
    forward, target, numbers = feed.forward, feed.target, feed.numbers
    if optimizer is not None:
        zero_grad, step = optimizer.zero_grad, optimizer.step
    for batch in loader:
        x, y = _batch(batch)
        n = len(y)
        if optimizer is not None:
            zero_grad()
        out = forward(model, x)
        if loss_fn is not None:
            loss = loss_fn(out, target(y, out))
            if optimizer is not None:
                loss.backward()
                step()
            total += loss.item() * n
        if accuracy.enabled:
            right += accuracy.hits(numbers(out), y)
        seen += n
        if bar is not None:
            bar.update(1)
        if run.stop_requested:
            raise KeyboardInterrupt
    if not seen:
        raise ValueError("fit: the loader gave no batches (is the data set empty?)")
    loss_mean = total / seen if loss_fn is not None else None
    return loss_mean, right / seen if accuracy.enabled else None


class Evaluation(NamedTuple):
    """`evaluate`'s result: the mean loss (None without a loss function) and the accuracy
    (None for a regression)."""

    loss: float | None
    accuracy: float | None


def _modes(model: Any) -> bool | None:
    return getattr(model, "training", None)


def evaluate(
    model: Callable,
    loader: Any,
    loss_fn: Callable | None = None,
    *,
    accuracy: Any = "auto",
) -> Evaluation:
    """The mean loss and accuracy of `model` over `loader` (a DataLoader, any iterable of
    ``(x, y)`` batches, or a tuple ``(X, y)`` of arrays), measured in evaluation mode under
    ``no_grad`` (the model's mode is restored after). Batches reach the model and the loss as
    in `fit`; see the module docstring for the accuracy.

    >>> import numpy as np
    >>> import nn
    >>> model = nn.Linear(1, 1, rng=0)
    >>> model.weight.data[:] = 2.0; model.bias.data[:] = 0.0
    >>> X, y = np.array([[1.0], [2.0]]), np.array([2.0, 5.0])
    >>> nn.evaluate(model, (X, y), nn.losses.mse_loss)   # ((2-2)**2 + (4-5)**2) / 2
    Evaluation(loss=0.5, accuracy=None)
    """
    return _evaluate(model, loader, loss_fn, accuracy, _NO_RUN, _Feed(_parameters(model)))


def _evaluate(
    model: Any, loader: Any, loss_fn: Any, accuracy: Any, run: _Run, feed: _Feed
) -> Evaluation:
    loader = _as_loader(loader, "evaluate: loader")
    counter = accuracy if isinstance(accuracy, _Accuracy) else _Accuracy(accuracy, loss_fn)
    was_training = _modes(model)
    if was_training is not None:
        model.eval()
    try:
        with no_grad():
            loss, acc = _epoch(model, loader, feed, loss_fn, counter, run)
    finally:
        if was_training is not None:
            model.train(was_training)
    return Evaluation(loss, acc)


# --------------------------------------------------------------------------------------------
# Checkpoints: what besides model, optimizer and schedule a resumed run needs
# --------------------------------------------------------------------------------------------


class _Loaders:
    """The position of each loader's shuffling (its RandomSampler's seed and epoch)."""

    def __init__(self, **loaders: Any) -> None:
        self.samplers = {
            name: loader.sampler
            for name, loader in loaders.items()
            if loader is not None and hasattr(getattr(loader, "sampler", None), "epoch")
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            name: {"seed": int(s.seed), "epoch": int(s.epoch)} for name, s in self.samplers.items()
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state) != set(self.samplers):
            raise ValueError(
                f"the checkpoint has the shuffling state of loaders {sorted(state)}, but the "
                f"loaders given shuffle {sorted(self.samplers)}"
            )
        for name, saved in state.items():
            self.samplers[name].seed = int(saved["seed"])
            self.samplers[name].epoch = int(saved["epoch"])


class _Generators:
    """The state of the random generators training draws from: `autodiff.manual_seed`'s and
    each module's own (`Dropout(rng=...)` keeps one), so dropout masks resume where they were."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def _generators(self) -> dict[str, np.random.Generator]:
        found = {"autodiff": autodiff.tensor._rng_of(None)}
        named = getattr(self.model, "named_modules", None)
        if callable(named):
            for name, module in named():
                rng = module.__dict__.get("_rng")
                if isinstance(rng, np.random.Generator):
                    found[f"module:{name}"] = rng
        return found

    def state_dict(self) -> dict[str, Any]:
        return {name: rng.bit_generator.state for name, rng in self._generators().items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        generators = self._generators()
        if set(state) != set(generators):
            raise ValueError(
                f"the checkpoint has random generators {sorted(state)}, the model "
                f"{sorted(generators)}"
            )
        for name, saved in state.items():
            generators[name].bit_generator.state = saved


# --------------------------------------------------------------------------------------------
# The progress bar
# --------------------------------------------------------------------------------------------


def _progress_bar(enabled: bool, total: int | None, desc: str) -> Any:
    """A tqdm bar on stderr when asked for, stderr is a terminal and tqdm is installed
    (``pip install "autodiff[progress]"``); None otherwise (training stays silent)."""
    stream = sys.stderr
    if not enabled or stream is None or not getattr(stream, "isatty", lambda: False)():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="batch", file=stream, dynamic_ncols=True)


def _summary(train_loss: Any, train_acc: Any, val: Evaluation | None) -> str:
    parts = []
    if train_loss is not None:
        parts.append(f"loss {train_loss:.4f}")
    if train_acc is not None:
        parts.append(f"acc {train_acc:.1%}")
    if val is not None:
        if val.loss is not None:
            parts.append(f"val_loss {val.loss:.4f}")
        if val.accuracy is not None:
            parts.append(f"val_acc {val.accuracy:.1%}")
    return ", ".join(parts)


# --------------------------------------------------------------------------------------------
# fit
# --------------------------------------------------------------------------------------------


def _check_fit(model: Any, loss_fn: Any, optimizer: Any, epochs: Any, stopper: Any) -> None:
    if not callable(model):
        raise TypeError(f"fit: model must be callable (a Module), got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(
            f"fit: loss_fn must be a function (output, target) -> loss, got "
            f"{type(loss_fn).__name__}"
        )
    if not (callable(getattr(optimizer, "step", None)) and hasattr(optimizer, "param_groups")):
        raise TypeError(
            f"fit: optimizer must be an nn.optim optimizer, got {type(optimizer).__name__}"
        )
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be an integer >= 0, got {epochs!r}")
    if (
        stopper is not None
        and stopper.restore_best
        and not callable(getattr(model, "state_dict", None))
    ):
        raise TypeError("fit: early stopping with restore_best needs a model with state_dict()")


def _stopper(early_stopping: Any, val_loader: Any) -> EarlyStopping | None:
    if early_stopping is None or early_stopping is False:
        return None
    if val_loader is None:
        raise ValueError("fit: early_stopping watches the validation loss: pass a val_loader")
    if isinstance(early_stopping, EarlyStopping):
        return early_stopping
    if isinstance(early_stopping, int) and not isinstance(early_stopping, bool):
        return EarlyStopping(patience=early_stopping)
    raise TypeError(
        f"fit: early_stopping must be a patience (int) or an EarlyStopping, got {early_stopping!r}"
    )


def fit(
    model: Callable,
    loss_fn: Callable,
    optimizer: Any,
    train_loader: Iterable,
    epochs: int,
    val_loader: Any = None,
    scheduler: Any = None,
    early_stopping: int | EarlyStopping | None = None,
    progress: bool = True,
    *,
    accuracy: Any = "auto",
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
) -> History:
    """Train `model` for `epochs` epochs over the mini-batches of `train_loader` and return
    the `History` of per-epoch losses, accuracies, learning rates and times.

    Each batch: ``optimizer.zero_grad()``, forward, ``loss_fn(output, target)``,
    ``loss.backward()``, ``optimizer.step()`` (how batches become inputs and targets, and how
    accuracy is counted: see the module docstring). After each epoch, `val_loader` (a
    DataLoader or a tuple ``(X, y)``) is measured with `evaluate`, and `scheduler` steps once
    (``ReduceLROnPlateau`` with the validation loss, or the training loss without validation).

    - `early_stopping`: a patience (int) or an `EarlyStopping`: stop once the validation loss
      has not improved for that many epochs, and restore the best epoch's weights.
    - `progress`: a tqdm bar on stderr, only if it is a terminal and tqdm is installed
      (``pip install "autodiff[progress]"``); otherwise training is silent.
    - Ctrl-C stops training after the batch under way (twice: at once) and returns: the model
      keeps what it learned, the history holds the completed epochs, ``history.interrupted``.
    - `checkpoint`: a path where the whole training state is saved (atomically) after every
      epoch: model, optimizer, schedule, history, early stopping, the loaders' shuffling
      position and the random generators. With ``resume=True``, an existing checkpoint is
      loaded first and training continues from its epoch up to `epochs` (the total), giving
      the same numbers, to the bit, as a run that was never interrupted; so the same call
      starts a run and resumes it. A run that stopped early stays stopped.

    >>> import numpy as np
    >>> import nn
    >>> from nn.data import DataLoader, make_blobs
    >>> X, y = make_blobs(120, centers=[[-2.0, 0.0], [2.0, 0.0]], cluster_std=0.5, seed=0)
    >>> train, val = DataLoader((X[:80], y[:80]), batch_size=16), (X[80:], y[80:])
    >>> model = nn.Linear(2, 2, rng=0)
    >>> optimizer = nn.optim.SGD(model.parameters(), lr=0.1)
    >>> history = nn.fit(model, nn.losses.cross_entropy, optimizer, train, epochs=5,
    ...                  val_loader=val, early_stopping=2)
    >>> len(history.val_loss), history.val_accuracy[-1], history.stop_reason
    (5, 1.0, 'completed')
    """
    stopper = _stopper(early_stopping, val_loader)
    _check_fit(model, loss_fn, optimizer, epochs, stopper)
    if resume and checkpoint is None:
        raise ValueError("fit: resume=True needs the checkpoint path to resume from")
    train_loader = _as_loader(train_loader, "fit: train_loader", arrays=False)
    if val_loader is not None:
        val_loader = _as_loader(val_loader, "fit: val_loader")
    feed = _Feed(_parameters(optimizer))
    train_accuracy = _Accuracy(accuracy, loss_fn)
    val_accuracy = _Accuracy(accuracy, loss_fn)
    history = History()
    if stopper is not None:
        stopper.reset()
    extras = {
        "history": history,
        "early_stopping": stopper,
        "data": _Loaders(train=train_loader, val=val_loader),
        "random": _Generators(model),
    }
    extras = {name: obj for name, obj in extras.items() if obj is not None}
    if resume and Path(checkpoint).exists():
        load_checkpoint(checkpoint, model=model, optimizer=optimizer, scheduler=scheduler, **extras)
        if len(history) > epochs:
            raise ValueError(
                f"fit: the checkpoint {checkpoint} holds {len(history)} epochs, more than "
                f"epochs={epochs}"
            )
    start = len(history)
    try:
        batches = len(train_loader)
    except TypeError:
        batches = None
    remaining = 0 if history.stopped_early else epochs - start
    bar = _progress_bar(progress, batches * remaining if batches else None, "training")
    was_training = _modes(model)
    history.stop_reason = "" if not history.stopped_early else history.stop_reason
    try:
        with _Run() as run:
            for epoch in range(start, start + remaining):
                if bar is not None:
                    bar.set_description(f"epoch {epoch + 1}/{epochs}")
                began = time.perf_counter()
                lr = float(optimizer.param_groups[0]["lr"])
                if was_training is not None:
                    model.train()
                train_loss, train_acc = _epoch(
                    model, train_loader, feed, loss_fn, train_accuracy, run, optimizer, bar
                )
                val = None
                if val_loader is not None:
                    val = _evaluate(model, val_loader, loss_fn, val_accuracy, run, feed)
                if scheduler is not None:
                    if isinstance(scheduler, ReduceLROnPlateau):
                        scheduler.step(val.loss if val is not None else train_loss)
                    else:
                        scheduler.step()
                stop = stopper is not None and stopper.update(epoch, val.loss, model)
                history._append(
                    epoch=epoch, train_loss=train_loss, train_accuracy=train_acc,
                    val_loss=None if val is None else val.loss,
                    val_accuracy=None if val is None else val.accuracy,
                    lr=lr, time=time.perf_counter() - began,
                )  # fmt: skip
                if stop:
                    history.stop_reason = "early_stopping"
                if bar is not None:
                    bar.set_postfix_str(_summary(train_loss, train_acc, val))
                if checkpoint is not None:
                    save_checkpoint(
                        checkpoint, model=model, optimizer=optimizer, scheduler=scheduler,
                        epoch=len(history), **extras,
                    )  # fmt: skip
                if stop:
                    break
    except KeyboardInterrupt:
        history.stop_reason = "interrupted"
    finally:
        if bar is not None:
            bar.close()
        if was_training is not None:
            model.train(was_training)
    if not history.interrupted:
        if not history.stopped_early:
            history.stop_reason = "completed"
        if (
            stopper is not None
            and stopper.restore_best
            and stopper.best_epoch != (history.epoch[-1] if history.epoch else None)
        ):
            stopper.restore(model)
    return history
