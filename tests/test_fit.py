"""nn.fit, nn.evaluate, History and EarlyStopping: training lowers the loss for tensor and
scalar models, the recorded numbers are the right ones, early stopping restores the best
weights, Ctrl-C keeps what was learned, a resumed run equals an uninterrupted one to the bit,
the digits reach 97%, and under- and overfitting show in the history."""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import sys

import numpy as np
import pytest

import nn
from autodiff import Tensor
from nn import EarlyStopping, History, evaluate, fit
from nn.data import DataLoader, make_circles, make_moons, pig_sales
from nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    l2_penalty,
    mse_loss,
)
from nn.optim import SGD, Adam
from nn.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau, StepLR


def moons(n=200, noise=0.1, seed=0):
    X, y = make_moons(n, noise=noise, seed=seed)
    return X, y


def tensor_setup(seed=0, lr=0.02, hidden=16, momentum=0.0, adam=True):
    X, y = moons()
    model = nn.tensor_mlp([2, hidden, hidden, 2], rng=seed)
    if adam:
        optimizer = Adam(model.parameters(), lr=lr)
    else:
        optimizer = SGD(model.parameters(), lr=lr, momentum=momentum)
    loader = DataLoader((X[:160], y[:160]), batch_size=32, shuffle=True, seed=seed)
    return model, optimizer, loader, (X[160:], y[160:])


def params_of(model):
    return [np.array(p.data) for p in model.parameters()]


def assert_bitwise_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()


class Logits(nn.Module):
    """A model without parameters whose outputs are its inputs: accuracy is then known."""

    def forward(self, x):
        return x


# --- training lowers the loss -----------------------------------------------------------------


def test_fit_trains_a_tensor_mlp_on_moons_and_records_every_epoch():
    model, optimizer, loader, val = tensor_setup()
    history = fit(model, cross_entropy, optimizer, loader, epochs=15, val_loader=val)
    assert history.epoch == list(range(15))
    for key in History.KEYS:
        assert len(history[key]) == 15, key
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.train_accuracy[-1] > 0.95 and history.val_accuracy[-1] > 0.95
    assert history.lr == [0.02] * 15
    assert all(t > 0 for t in history.time)
    assert history.stop_reason == "completed" and not history.interrupted
    # the validation numbers are evaluate's, on the final weights
    assert history.val_loss[-1] == evaluate(model, val, cross_entropy).loss
    assert history.val_accuracy[-1] == evaluate(model, val, cross_entropy).accuracy


def test_fit_trains_micrograds_scalar_mlp_with_the_demos_loss():
    X, y = moons(100)
    labels = 2.0 * y - 1  # micrograd's {-1, +1}
    random.seed(1337)
    model = nn.MLP(2, [16, 16, 1])
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LambdaLR(optimizer, lambda k: 1.0 - 0.9 * k / 100)

    def loss_fn(scores, targets):
        assert isinstance(scores, list) and isinstance(targets, list)  # micrograd's lists
        assert isinstance(targets[0], float)
        return hinge_loss(scores, targets) + l2_penalty(model.parameters(), 1e-4)

    loader = DataLoader((X, labels), batch_size=50, shuffle=True, seed=0)
    history = fit(model, loss_fn, optimizer, loader, epochs=10, scheduler=schedule)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.train_accuracy[-1] >= 0.9  # one output, labels +-1: the sign decides
    assert history.lr[:3] == [1.0, 0.991, 0.982]
    assert evaluate(model, (X, labels), loss_fn).accuracy >= 0.9


def test_one_full_batch_epoch_is_micrograds_step_exactly():
    """An epoch of one batch of every point is the demo's step: the same numbers to the bit."""
    from nn.demo import moons_data, moons_step

    X, y = moons_data()
    random.seed(1337)
    by_hand = nn.MLP(2, [16, 16, 1])
    random.seed(1337)
    model = nn.MLP(2, [16, 16, 1])
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LambdaLR(optimizer, lambda k: 1.0 - 0.9 * k / 100)
    history = fit(
        model,
        lambda s, t: hinge_loss(s, t) + l2_penalty(model.parameters(), 1e-4),
        optimizer,
        DataLoader((np.array(X), np.array(y)), batch_size=100),
        epochs=5,
        scheduler=schedule,
    )
    expected = [moons_step(by_hand, X, y, k) for k in range(5)]
    assert history.train_loss == [loss for loss, _ in expected]
    assert history.train_accuracy == [accuracy for _, accuracy in expected]
    assert [p.data for p in model.parameters()] == [p.data for p in by_hand.parameters()]


def test_regression_has_no_accuracy_and_targets_get_the_outputs_shape():
    X, y = pig_sales(10)  # y = 10 x + 30, targets of shape (n,) for outputs (n, 1)
    model = nn.Linear(1, 1, rng=0)
    optimizer = SGD(model.parameters(), lr=0.02)
    seen = []

    def loss_fn(output, target):
        seen.append((output.shape, target.shape, target.dtype))
        return mse_loss(output, target)

    history = fit(model, loss_fn, optimizer, DataLoader((X, y), batch_size=5), epochs=50)
    assert seen[0] == ((5, 1), (5, 1), np.dtype(np.float32))  # targets 30, 40, ...: no labels
    assert history.train_accuracy == [] and "train_accuracy" not in history.history
    assert history.train_loss[-1] < 0.1 * history.train_loss[0]
    assert evaluate(model, (X, y), mse_loss).accuracy is None


def test_float64_inputs_become_the_parameters_dtype_and_labels_stay_integers():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 3, rng=0)

        def forward(self, x):
            seen.append(x.dtype)
            return self.layer(x)

    def loss_fn(output, target):
        seen.append(type(target))
        return cross_entropy(output, target)

    model = Probe()
    X, y = np.zeros((4, 2)), np.array([0, 1, 2, 1])
    fit(model, loss_fn, SGD(model.parameters(), lr=0.1), DataLoader((X, y), batch_size=4), 1)
    assert seen[:2] == [np.dtype(np.float32), np.ndarray]


def test_binary_logits_with_one_output_and_labels_0_1():
    X, y = moons(200)
    model = nn.tensor_mlp([2, 16, 16, 1], rng=0)
    optimizer = Adam(model.parameters(), lr=0.03)
    loader = DataLoader((X, y), batch_size=20, shuffle=True, seed=0)
    history = fit(model, binary_cross_entropy_with_logits, optimizer, loader, epochs=20)
    assert history.train_accuracy[-1] > 0.95


# --- what accuracy means -------------------------------------------------------------------


def test_accuracy_argmax_for_several_outputs_and_a_nan_row_never_counts():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.0, 1.0, 5.0], [np.nan, 9.0, 0.0]])
    labels = np.array([0, 1, 0, 1])  # right, right, wrong, NaN row
    assert evaluate(Logits(), (logits, labels)).accuracy == 0.5
    assert evaluate(Logits(), (logits, labels), cross_entropy).accuracy == 0.5
    # one-hot (or soft) targets: the largest target is the class
    onehot = np.eye(3)[labels]
    assert evaluate(Logits(), (logits, onehot), cross_entropy).accuracy == 0.5
    infinite = np.array([[np.inf, -np.inf, 0.0], [0.0, 1.0, 2.0]])  # infinities are no NaN
    assert evaluate(Logits(), (infinite, np.array([0, 2]))).accuracy == 1.0


@pytest.mark.parametrize("negative", [0, -1])
def test_accuracy_one_output_positive_means_the_positive_class(negative):
    scores = np.array([[2.0], [-1.0], [0.0], [0.5], [np.nan]])
    labels = np.array([1, negative, 1, negative, negative])
    # 2 > 0 right, -1 right, 0 is not positive: wrong, 0.5 wrong, NaN never right
    assert evaluate(Logits(), (scores, labels)).accuracy == pytest.approx(2 / 5)
    assert evaluate(Logits(), (scores[:, 0], labels), hinge_loss).accuracy == pytest.approx(2 / 5)


def test_accuracy_for_probabilities_thresholds_at_one_half():
    probabilities = np.array([[0.9], [0.6], [0.4], [0.1]])
    labels = np.array([1, 0, 0, 1])
    assert evaluate(Logits(), (probabilities, labels), binary_cross_entropy).accuracy == 0.5
    # read as logits (another loss), every output is positive
    result = evaluate(Logits(), (probabilities, labels), binary_cross_entropy_with_logits)
    assert result.accuracy == 0.5  # labels 1, 1 right; 0, 0 wrong


def test_accuracy_none_or_a_function_of_the_batch():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    labels = np.array([0, 1, 1])
    assert evaluate(Logits(), (logits, labels), accuracy=None).accuracy is None
    result = evaluate(
        Logits(), DataLoader((logits, labels), batch_size=2), accuracy=lambda out, y: 1.0
    )
    assert result.accuracy == 1.0
    # a function's fractions are weighted by batch size: batches of 2 and 1
    result = evaluate(
        Logits(),
        DataLoader((logits, labels), batch_size=2),
        accuracy=lambda out, y: float(len(y) == 1),
    )
    assert result.accuracy == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="accuracy must be"):
        evaluate(Logits(), (logits, labels), accuracy="top5")


def test_unknown_loss_functions_judge_by_the_targets():
    scores = np.array([[1.0], [-1.0], [2.0]])

    def distance(output, target):
        return ((output - target) ** 2).mean()

    signs = evaluate(Logits(), (scores, np.array([1.0, -1.0, -1.0])), distance)
    assert signs.accuracy == pytest.approx(2 / 3)
    integers = evaluate(Logits(), (scores, np.array([1, 0, 0])), distance)
    assert integers.accuracy == pytest.approx(2 / 3)
    numbers = evaluate(Logits(), (scores, np.array([0.5, -1.0, 2.0])), distance)
    assert numbers.accuracy is None and numbers.loss == pytest.approx(0.25 / 3)
    assert evaluate(Logits(), (scores, np.array([2.0, 3.0, 4.0])), distance).accuracy is None


def test_epoch_means_weight_batches_by_their_size():
    """With a frozen model (lr 0), the training loss and accuracy of an epoch in uneven
    batches are those of the whole data set."""
    X, y = moons(50, noise=0.3)
    model = nn.tensor_mlp([2, 8, 2], rng=0)
    whole = evaluate(model, (X, y), cross_entropy)
    loader = DataLoader((X, y), batch_size=16)  # 16, 16, 16, 2
    history = fit(model, cross_entropy, SGD(model.parameters(), lr=0.0), loader, epochs=1)
    assert history.train_loss[0] == pytest.approx(whole.loss, rel=1e-6)
    assert history.train_accuracy[0] == whole.accuracy


# --- modes -------------------------------------------------------------------------------------


def test_evaluate_runs_in_eval_mode_without_graph_and_restores_the_mode():
    model = nn.Sequential(nn.Linear(2, 8, rng=0), nn.Dropout(0.5, rng=0), nn.Linear(8, 2, rng=1))
    X, y = moons(40)
    first = evaluate(model, (X, y), cross_entropy)
    assert first == evaluate(model, (X, y), cross_entropy)  # no dropout: the same numbers
    assert model.training and model[1].training
    model.eval()
    evaluate(model, (X, y))
    assert not model.training

    captured = []

    class Spy(nn.Module):
        def __init__(self):
            self.inner = nn.Linear(2, 2, rng=0)

        def forward(self, x):
            out = self.inner(x)
            captured.append((self.training, out.requires_grad))
            return out

    spy = Spy()
    evaluate(spy, (X, y), cross_entropy)
    assert captured == [(False, False)]


def test_fit_trains_in_training_mode_and_leaves_the_mode_as_it_found_it():
    modes = []

    class Spy(nn.Module):
        def __init__(self):
            self.inner = nn.Linear(2, 2, rng=0)

        def forward(self, x):
            modes.append(self.training)
            return self.inner(x)

    X, y = moons(20)
    model = Spy().eval()
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), DataLoader((X, y), batch_size=20),
        epochs=2, val_loader=(X, y))  # fmt: skip
    assert modes == [True, False, True, False]
    assert not model.training


# --- schedules ---------------------------------------------------------------------------------


def test_the_schedule_steps_once_per_epoch():
    model, optimizer, loader, _ = tensor_setup(adam=False, lr=0.1)
    schedule = StepLR(optimizer, step_size=2, gamma=0.5)
    history = fit(model, cross_entropy, optimizer, loader, epochs=5, scheduler=schedule)
    assert history.lr == [0.1, 0.1, 0.05, 0.05, 0.025]


def test_reduce_lr_on_plateau_gets_the_validation_loss():
    X, y = moons(100)
    model = nn.tensor_mlp([2, 16, 2], rng=0)
    optimizer = Adam(model.parameters(), lr=0.05)
    schedule = ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    flipped = (X, 1 - y)  # validation on flipped labels: its loss rises as training succeeds
    history = fit(model, cross_entropy, optimizer, DataLoader((X, y), batch_size=25), 6,
                  val_loader=flipped, scheduler=schedule)  # fmt: skip
    replay = ReduceLROnPlateau(SGD([Tensor([0.0], requires_grad=True)], lr=0.05), factor=0.5,
                               patience=1)  # fmt: skip
    rates = []
    for loss in history.val_loss:
        rates.append(replay.get_last_lr()[0])
        replay.step(loss)
    assert history.lr == rates and rates[-1] < 0.05


# --- early stopping ----------------------------------------------------------------------------


def test_early_stopping_stops_when_validation_loss_rises_and_restores_the_best_weights():
    X, y = moons(100)
    model = nn.tensor_mlp([2, 16, 2], rng=0)
    optimizer = Adam(model.parameters(), lr=0.05)
    flipped = (X, 1 - y)  # the better the model, the worse its validation loss
    history = fit(model, cross_entropy, optimizer, DataLoader((X, y), batch_size=25), 30,
                  val_loader=flipped, early_stopping=3)  # fmt: skip
    best = history.best_epoch
    assert history.stopped_early and history.stop_reason == "early_stopping"
    assert best == 0 and len(history) == best + 3 + 1  # 3 epochs without progress, then stop
    assert history.val_loss[-1] > history.val_loss[best]
    # the weights are those of the best epoch: evaluating them gives its numbers exactly
    assert evaluate(model, flipped, cross_entropy).loss == history.val_loss[best]


def test_without_restore_best_the_last_weights_stay():
    X, y = moons(100)
    model = nn.tensor_mlp([2, 16, 2], rng=0)
    optimizer = Adam(model.parameters(), lr=0.05)
    flipped = (X, 1 - y)
    stopper = EarlyStopping(patience=2, restore_best=False)
    history = fit(model, cross_entropy, optimizer, DataLoader((X, y), batch_size=25), 30,
                  val_loader=flipped, early_stopping=stopper)  # fmt: skip
    assert len(history) == 3 and stopper.best_state is None
    assert evaluate(model, flipped, cross_entropy).loss == history.val_loss[-1]


def test_the_best_weights_come_back_also_when_the_epochs_run_out():
    X, y = moons(100)
    model = nn.tensor_mlp([2, 16, 2], rng=0)
    optimizer = Adam(model.parameters(), lr=0.05)
    flipped = (X, 1 - y)
    history = fit(model, cross_entropy, optimizer, DataLoader((X, y), batch_size=25), 3,
                  val_loader=flipped, early_stopping=10)  # fmt: skip
    assert history.stop_reason == "completed" and history.best_epoch == 0
    assert evaluate(model, flipped, cross_entropy).loss == history.val_loss[0]


def test_early_stopping_counts_patience_and_min_delta():
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    # 1.0 best; 0.95 is not better by more than 0.1; 0.85 is; then two without progress
    stops = [stopper.update(e, loss) for e, loss in enumerate([1.0, 0.95, 0.85, 0.8, 0.9])]
    assert stops == [False, False, False, False, True]
    assert (stopper.best_epoch, stopper.best, stopper.stopped_epoch) == (2, 0.85, 4)
    zero = EarlyStopping(patience=0)
    assert [zero.update(e, loss) for e, loss in enumerate([2.0, 1.0, 1.0])] == [False, False, True]
    nan = EarlyStopping(patience=1)
    assert [nan.update(e, loss) for e, loss in enumerate([1.0, math.nan])] == [False, True]
    restored = EarlyStopping(patience=2, min_delta=0.1)
    restored.load_state_dict(stopper.state_dict())
    assert restored.state_dict() == stopper.state_dict()


def test_early_stopping_errors():
    model, optimizer, loader, _ = tensor_setup()
    with pytest.raises(ValueError, match="pass a val_loader"):
        fit(model, cross_entropy, optimizer, loader, 1, early_stopping=2)
    with pytest.raises(TypeError, match="patience"):
        fit(model, cross_entropy, optimizer, loader, 1, val_loader=loader, early_stopping=2.5)
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match="min_delta"):
        EarlyStopping(min_delta=float("nan"))


# --- Ctrl-C ------------------------------------------------------------------------------------


def manual_steps(steps, seed=0):
    """The same training as tensor_setup + fit, written out, for `steps` batches."""
    model, optimizer, loader, _ = tensor_setup(seed)
    done = 0
    while done < steps:
        for xb, yb in loader:
            optimizer.zero_grad()
            cross_entropy(model(Tensor(xb.astype(np.float32))), yb).backward()
            optimizer.step()
            done += 1
            if done == steps:
                break
    return model


def test_keyboard_interrupt_inside_a_batch_keeps_the_learned_weights():
    model, optimizer, loader, val = tensor_setup()
    calls = []

    def loss_fn(output, target):
        calls.append(output.requires_grad)  # False: validation
        if calls.count(True) == 8:  # the 3rd batch of the 2nd epoch (5 batches per epoch)
            raise KeyboardInterrupt
        return cross_entropy(output, target)

    history = fit(model, loss_fn, optimizer, loader, epochs=5, val_loader=val)
    assert history.interrupted and history.stop_reason == "interrupted"
    assert len(history) == 1 and all(len(history[k]) == 1 for k in History.KEYS)
    # 7 steps were taken (5 + 2); the 8th never reached its update
    assert_bitwise_equal(params_of(model), params_of(manual_steps(7)))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_finishes_the_batch_under_way_then_stops():
    model, optimizer, loader, _ = tensor_setup()
    calls = []

    def loss_fn(output, target):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C during the 3rd batch
        return cross_entropy(output, target)

    history = fit(model, loss_fn, optimizer, loader, epochs=5)
    assert history.interrupted and len(history) == 0 and len(calls) == 3
    assert_bitwise_equal(params_of(model), params_of(manual_steps(3)))  # its update was made
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_second_ctrl_c_stops_at_once():
    model, optimizer, loader, _ = tensor_setup()
    calls = []

    def loss_fn(output, target):
        calls.append(1)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)  # raises here, before the loss exists
        return cross_entropy(output, target)

    history = fit(model, loss_fn, optimizer, loader, epochs=5)
    assert history.interrupted and len(calls) == 1
    assert_bitwise_equal(params_of(model), params_of(tensor_setup()[0]))  # nothing updated


# --- resuming, to the bit ----------------------------------------------------------------------


def resumable_setup(kind):
    """Fresh model, optimizer, schedule and loader for the same seeded run."""
    X, y = moons(120, noise=0.2)
    if kind == "dropout":  # masks from autodiff's generator, which the checkpoint keeps
        model = nn.Sequential(nn.Linear(2, 16, rng=0), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(16, 2, rng=1))  # fmt: skip
    elif kind == "dropout_rng":  # masks from the layer's own generator, kept too
        model = nn.tensor_mlp([2, 16, 16, 2], dropout=0.2, rng=np.random.default_rng(5))
    else:
        model = nn.tensor_mlp([2, 16, 16, 2], rng=0)
    if kind == "sgd":
        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        schedule = StepLR(optimizer, step_size=1, gamma=0.7)
    else:
        optimizer = Adam(model.parameters(), lr=0.01)
        # halve the rate unless the validation loss halved: it will change
        schedule = ReduceLROnPlateau(optimizer, factor=0.5, patience=0, threshold=0.5)
    # "unseeded": the shuffle's seed comes from autodiff.manual_seed's generator
    seed = None if kind == "unseeded" else 3
    loader = DataLoader((X[:90], y[:90]), batch_size=16, shuffle=True, seed=seed)
    return model, optimizer, schedule, loader, (X[90:], y[90:])


@pytest.mark.parametrize("kind", ["adam", "sgd", "dropout", "dropout_rng", "unseeded"])
def test_resumed_training_equals_uninterrupted_training_to_the_bit(tmp_path, kind):
    import autodiff

    autodiff.manual_seed(11)
    model, optimizer, schedule, loader, val = resumable_setup(kind)
    straight = fit(model, cross_entropy, optimizer, loader, 4, val_loader=val, scheduler=schedule,
                   early_stopping=EarlyStopping(patience=10))  # fmt: skip
    expected = params_of(model)

    path = tmp_path / "run.npz"
    autodiff.manual_seed(11)
    model, optimizer, schedule, loader, val = resumable_setup(kind)
    first = fit(model, cross_entropy, optimizer, loader, 2, val_loader=val, scheduler=schedule,
                early_stopping=EarlyStopping(patience=10), checkpoint=path)  # fmt: skip
    assert len(first) == 2 and path.exists()
    autodiff.manual_seed(999)  # whatever happens in between: the checkpoint has the generators
    model, optimizer, schedule, loader, val = resumable_setup(kind)  # all fresh objects
    resumed = fit(model, cross_entropy, optimizer, loader, 4, val_loader=val, scheduler=schedule,
                  early_stopping=EarlyStopping(patience=10), checkpoint=path,
                  resume=True)  # fmt: skip
    assert_bitwise_equal(params_of(model), expected)
    for key in ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
        assert resumed[key] == straight[key], key
    assert len(set(resumed.lr)) > 1  # the schedule changed the rate along the way


def test_a_hand_written_loop_resumes_to_the_bit_with_save_checkpoint(tmp_path):
    """Without fit: the checkpoint holds model, optimizer, schedule and the loader's epoch."""

    def train(model, optimizer, schedule, loader, epochs):
        for _ in range(epochs):
            for xb, yb in loader:
                optimizer.zero_grad()
                cross_entropy(model(Tensor(xb.astype(np.float32))), yb).backward()
                optimizer.step()
            schedule.step()

    model, optimizer, _, loader, _ = resumable_setup("sgd")
    schedule = StepLR(optimizer, step_size=1, gamma=0.7)
    train(model, optimizer, schedule, loader, 4)
    expected = params_of(model)

    model, optimizer, _, loader, _ = resumable_setup("sgd")
    schedule = StepLR(optimizer, step_size=1, gamma=0.7)
    train(model, optimizer, schedule, loader, 2)
    path = tmp_path / "hand.npz"
    nn.save_checkpoint(path, model=model, optimizer=optimizer, scheduler=schedule, epoch=2,
                       loader_epoch=loader.sampler.epoch)  # fmt: skip
    model, optimizer, _, loader, _ = resumable_setup("sgd")
    schedule = StepLR(optimizer, step_size=1, gamma=0.7)
    saved = nn.load_checkpoint(path, model=model, optimizer=optimizer, scheduler=schedule)
    loader.sampler.epoch = saved["loader_epoch"]
    train(model, optimizer, schedule, loader, 4 - saved["epoch"])
    assert_bitwise_equal(params_of(model), expected)


def test_the_checkpoint_holds_the_whole_training_state(tmp_path):
    model, optimizer, schedule, loader, val = resumable_setup("adam")
    path = tmp_path / "run.npz"
    fit(model, cross_entropy, optimizer, loader, 2, val_loader=val, scheduler=schedule,
        checkpoint=path)  # fmt: skip
    state = nn.load_state(path)
    assert state["epoch"] == 2 and state["history"]["epoch"] == [0, 1]
    assert state["data"] == {"train": {"seed": 3, "epoch": 2}}
    assert state["optimizer"]["state"][0]["step"] == 2 * len(loader)
    assert set(state) >= {"model", "optimizer", "scheduler", "random"}


def test_resuming_without_a_checkpoint_file_starts_afresh(tmp_path):
    path = tmp_path / "new.npz"
    model, optimizer, _, loader, _ = resumable_setup("adam")
    history = fit(model, cross_entropy, optimizer, loader, 2, checkpoint=path, resume=True)
    assert len(history) == 2 and path.exists()
    with pytest.raises(ValueError, match="more than epochs=1"):
        fit(model, cross_entropy, optimizer, loader, 1, checkpoint=path, resume=True)
    with pytest.raises(ValueError, match="needs the checkpoint path"):
        fit(model, cross_entropy, optimizer, loader, 1, resume=True)


def test_a_run_that_stopped_early_stays_stopped(tmp_path):
    X, y = moons(100)
    path = tmp_path / "run.npz"

    def run(epochs):
        model = nn.tensor_mlp([2, 16, 2], rng=0)
        optimizer = Adam(model.parameters(), lr=0.05)
        loader = DataLoader((X, y), batch_size=25)
        history = fit(model, cross_entropy, optimizer, loader, epochs, val_loader=(X, 1 - y),
                      early_stopping=2, checkpoint=path, resume=True)  # fmt: skip
        return model, history

    model, history = run(30)
    assert history.stopped_early
    again, resumed = run(30)
    assert resumed.stopped_early and len(resumed) == len(history)
    assert_bitwise_equal(params_of(again), params_of(model))  # best weights restored again


# --- the progress bar --------------------------------------------------------------------------


class FakeTerminal:
    def __init__(self):
        self.text = []

    def write(self, text):
        self.text.append(text)

    def flush(self):
        pass

    def isatty(self):
        return True


def test_no_progress_bar_when_stderr_is_not_a_terminal(capsys):
    model, optimizer, loader, _ = tensor_setup()
    fit(model, cross_entropy, optimizer, loader, epochs=2, progress=True)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_a_progress_bar_on_a_terminal_and_none_when_asked_or_without_tqdm(monkeypatch):
    pytest.importorskip("tqdm")
    model, optimizer, loader, val = tensor_setup()
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    fit(model, cross_entropy, optimizer, loader, epochs=2, val_loader=val)
    text = "".join(terminal.text)
    assert "epoch 2/2" in text and "val_acc" in text and "10/10" in text
    terminal.text.clear()
    fit(model, cross_entropy, optimizer, loader, epochs=1, progress=False)
    assert terminal.text == []
    monkeypatch.setitem(sys.modules, "tqdm", None)  # not installed: no bar, no error
    fit(model, cross_entropy, optimizer, loader, epochs=1)
    assert terminal.text == []


# --- under- and overfitting ----------------------------------------------------------------


def test_underfitting_and_overfitting_show_in_the_history():
    """On 60 noisy circle points: a big network trained long learns the training noise (high
    training accuracy, much lower validation), a linear model cannot learn circles at all
    (both low)."""
    X, y = make_circles(200, noise=0.25, factor=0.5, seed=1)
    train, val = DataLoader((X[:60], y[:60]), batch_size=20, shuffle=True, seed=0), (X[60:], y[60:])

    big = nn.tensor_mlp([2, 128, 128, 2], rng=0)
    history = fit(big, cross_entropy, Adam(big.parameters(), lr=0.01), train, 150, val_loader=val)
    assert history.train_accuracy[-1] >= 0.95
    assert history.val_accuracy[-1] <= history.train_accuracy[-1] - 0.15
    assert history.val_loss[-1] > 2 * min(history.val_loss)  # validation loss turned up

    tiny = nn.tensor_mlp([2, 2], rng=0)  # a straight line through circles
    history = fit(tiny, cross_entropy, Adam(tiny.parameters(), lr=0.05), train, 150,
                  val_loader=val)  # fmt: skip
    assert history.train_accuracy[-1] <= 0.75 and history.val_accuracy[-1] <= 0.75


# --- the digits ----------------------------------------------------------------------------


def test_the_digits_reach_97_percent_test_accuracy():
    pytest.importorskip("sklearn")
    from nn.demo import train_digits

    try:  # one BLAS thread: small products on a busy machine are many times slower with two
        from threadpoolctl import threadpool_limits

        threads = threadpool_limits(1)
    except ImportError:
        threads = contextlib.nullcontext()
    with threads:
        model, history, accuracy = train_digits(epochs=30, seed=0, progress=False)
    assert accuracy["test"] >= 0.97, accuracy
    assert len(history) == 30 and history.val_accuracy[-1] >= 0.95


# --- History -------------------------------------------------------------------------------


def test_history_as_plain_data():
    history = History()
    history._append(epoch=0, train_loss=1.0, lr=0.1, time=0.5)
    history._append(epoch=1, train_loss=float("nan"), lr=0.1, time=0.5)
    history._append(epoch=2, train_loss=0.5, lr=0.1, time=0.5)
    assert history["train_loss"][2] == 0.5 and history.val_loss == []
    assert set(history.history) == {"epoch", "train_loss", "lr", "time"}
    assert history.monitor == "train_loss" and history.best_epoch == 2
    assert history.best_loss == 0.5
    copy = History()
    copy.load_state_dict(history.state_dict())
    assert copy.state_dict()["train_loss"][2] == 0.5 and len(copy) == 3
    assert "best_epoch=2" in repr(history)
    with pytest.raises(KeyError, match="no 'loss'"):
        history["loss"]
    broken = history.state_dict()
    broken["lr"] = [0.1]
    with pytest.raises(ValueError, match="lr has 1 entries for 3 epochs"):
        History().load_state_dict(broken)


# --- bad input -----------------------------------------------------------------------------


def test_fit_errors_name_what_was_expected():
    model, optimizer, loader, _ = tensor_setup()
    X, y = moons(20)
    with pytest.raises(TypeError, match="must be a DataLoader"):
        fit(model, cross_entropy, optimizer, (X, y), 1)
    with pytest.raises(ValueError, match="epochs must be an integer"):
        fit(model, cross_entropy, optimizer, loader, -1)
    with pytest.raises(TypeError, match="optimizer must be"):
        fit(model, cross_entropy, model.parameters(), loader, 1)
    with pytest.raises(TypeError, match="loss_fn must be"):
        fit(model, "cross_entropy", optimizer, loader, 1)
    with pytest.raises(TypeError, match="each batch must be a pair"):
        fit(model, cross_entropy, optimizer, [X], 1)
    with pytest.raises(ValueError, match="gave no batches"):
        fit(model, cross_entropy, optimizer, [], 1)
    assert len(fit(model, cross_entropy, optimizer, loader, 0)) == 0
