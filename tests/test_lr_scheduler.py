"""nn.optim.lr_scheduler without PyTorch: every schedule against its formula written out here,
state_dict, resuming, errors, and micrograd's demo decay as a LambdaLR.
(tests/test_optim_torch.py checks the same schedules against torch.optim.lr_scheduler.)"""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodiff import Value
from nn import MLP
from nn.demo import moons_data, moons_step
from nn.losses import hinge_loss, l2_penalty
from nn.optim import SGD, Adam
from nn.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

BASE_LRS = (0.1, 0.03)


def optimizer_with_two_groups(lrs=BASE_LRS):
    return SGD([{"params": [Value(0.0)], "lr": lrs[0]}, {"params": [Value(0.0)], "lr": lrs[1]}])


def rates(schedule, epochs):
    """The rates of epochs 0, 1, ..., epochs - 1, one list per epoch (one rate per group)."""
    out = [schedule.get_last_lr()]
    for _ in range(epochs - 1):
        schedule.optimizer.step()
        schedule.step()
        out.append(schedule.get_last_lr())
    return out


# Each schedule beside its textbook formula of the epoch t and the group's base rate.
FORMULAS = {
    "StepLR": (lambda o: StepLR(o, step_size=7, gamma=0.3), lambda t, b: b * 0.3 ** (t // 7)),
    "MultiStepLR": (
        lambda o: MultiStepLR(o, milestones=[10, 3, 10, 25], gamma=0.3),
        lambda t, b: b * 0.3 ** sum(t >= m for m in (3, 10, 10, 25)),
    ),
    "ExponentialLR": (lambda o: ExponentialLR(o, gamma=0.93), lambda t, b: b * 0.93**t),
    "CosineAnnealingLR": (
        lambda o: CosineAnnealingLR(o, T_max=13, eta_min=0.001),
        lambda t, b: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * t / 13)) / 2,
    ),
    "LinearLR": (
        lambda o: LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=17),
        lambda t, b: b * (0.1 + (0.9 - 0.1) * min(t, 17) / 17),
    ),
    "LambdaLR": (
        lambda o: LambdaLR(o, lambda k: 1.0 / (1 + k) ** 0.5),
        lambda t, b: b / (1 + t) ** 0.5,
    ),
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_every_epochs_rate_follows_the_schedules_formula(name):
    make, formula = FORMULAS[name]
    schedule = make(optimizer_with_two_groups())
    for t in range(60):
        if t:
            schedule.step()
        expected = [formula(t, b) for b in BASE_LRS]
        got = schedule.get_last_lr()
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15), (t, got, expected)
        assert schedule._get_closed_form_lr() == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert schedule.last_epoch == 59


@given(st.integers(1, 40), st.floats(0.0, 0.05), st.floats(0.06, 2.0), st.integers(1, 100))
def test_cosine_annealing_follows_its_formula_across_restarts(T_max, eta_min, base, epochs):
    schedule = CosineAnnealingLR(optimizer_with_two_groups((base, base)), T_max, eta_min)
    for t, (got, _) in enumerate(rates(schedule, epochs)):
        expected = eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2
        assert got == pytest.approx(expected, rel=1e-11, abs=1e-14)


def test_schedules_set_the_groups_rates_and_initial_lr():
    optimizer = optimizer_with_two_groups()
    schedule = StepLR(optimizer, step_size=1, gamma=0.5)
    assert [g["initial_lr"] for g in optimizer.param_groups] == list(BASE_LRS)
    assert schedule.base_lrs == list(BASE_LRS) and schedule.last_epoch == 0
    schedule.step()
    assert [g["lr"] for g in optimizer.param_groups] == [0.05, 0.015]
    assert optimizer.lr == 0.05
    last = schedule.get_last_lr()
    last[0] = 99.0  # a copy
    assert schedule.get_last_lr() == [0.05, 0.015]


def test_linear_warm_up_starts_at_start_factor():
    schedule = LinearLR(SGD([Value(0.0)], lr=0.3))  # defaults: 1/3 to 1 over 5 epochs
    got = [r[0] for r in rates(schedule, 7)]
    assert got == pytest.approx([0.1, 0.14, 0.18, 0.22, 0.26, 0.3, 0.3], rel=1e-12)


def test_multistep_counts_a_repeated_milestone_twice():
    schedule = MultiStepLR(SGD([Value(0.0)], lr=1.0), milestones=[2, 2], gamma=0.5)
    assert [r[0] for r in rates(schedule, 4)] == [1.0, 1.0, 0.25, 0.25]


def test_the_schedule_scales_the_rate_the_optimizer_uses():
    p = Value(0.0)
    optimizer = SGD([p], lr=1.0)
    schedule = ExponentialLR(optimizer, gamma=0.5)
    for _ in range(3):
        p.grad = 1.0
        optimizer.step()
        schedule.step()
    assert p.data == -(1.0 + 0.5 + 0.25)


# --- micrograd's demo ----------------------------------------------------------------------


def demo_decay(k):
    return 1.0 - 0.9 * k / 100


def test_lambda_lr_gives_exactly_the_demos_rates():
    schedule = LambdaLR(SGD([Value(0.0)], lr=1.0), demo_decay)
    assert [r[0] for r in rates(schedule, 100)] == [1.0 - 0.9 * k / 100 for k in range(100)]


def test_sgd_with_lambda_lr_trains_micrograds_mlp_exactly_as_the_demo_loop():
    X, y = moons_data()
    random.seed(1337)
    by_hand = MLP(2, [16, 16, 1])
    random.seed(1337)
    model = MLP(2, [16, 16, 1])
    optimizer = SGD(model.parameters(), lr=1.0)
    schedule = LambdaLR(optimizer, demo_decay)
    for k in range(15):
        moons_step(by_hand, X, y, k)
        scores = [model([Value(v) for v in row]) for row in X]
        loss = hinge_loss(scores, y) + l2_penalty(model.parameters(), 1e-4)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        assert [p.data for p in model.parameters()] == [p.data for p in by_hand.parameters()], k


# --- state_dict and resuming ----------------------------------------------------------------


def _plain(x):
    if isinstance(x, dict):
        return all(isinstance(k, (str, int)) and _plain(v) for k, v in x.items())
    if isinstance(x, (list, tuple)):
        return all(_plain(v) for v in x)
    return x is None or type(x) in (int, float, bool, str)


@pytest.mark.parametrize("name", sorted(FORMULAS) + ["SequentialLR"])
def test_state_dict_round_trip_mid_schedule(name):
    def make(optimizer):
        if name == "SequentialLR":
            warm = LinearLR(optimizer, start_factor=0.2, total_iters=4)
            return SequentialLR(optimizer, [warm, CosineAnnealingLR(optimizer, 10)], [4])
        return FORMULAS[name][0](optimizer)

    optimizer = optimizer_with_two_groups()
    schedule = make(optimizer)
    rates(schedule, 9)
    saved_optimizer, saved = optimizer.state_dict(), schedule.state_dict()
    assert _plain(saved)
    if name == "LambdaLR":
        assert saved["lr_lambdas"] == [None, None]  # functions are not saved
    expected = rates(schedule, 12)
    other_optimizer = optimizer_with_two_groups((5.0, 5.0))
    other = make(other_optimizer)
    other_optimizer.load_state_dict(saved_optimizer)
    other.load_state_dict(saved)
    assert rates(other, 12) == expected


def test_resuming_with_last_epoch_needs_initial_lr():
    optimizer = optimizer_with_two_groups()
    schedule = StepLR(optimizer, step_size=2, gamma=0.5)
    rates(schedule, 4)
    saved = optimizer.state_dict()
    fresh = optimizer_with_two_groups()
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(fresh, step_size=2, gamma=0.5, last_epoch=3)
    fresh.load_state_dict(saved)  # brings initial_lr and the current rates
    # as PyTorch: last_epoch is the epoch done; the constructor steps to the next one
    resumed = StepLR(fresh, step_size=2, gamma=0.5, last_epoch=3)
    schedule.step()
    assert resumed.last_epoch == schedule.last_epoch == 4
    assert rates(resumed, 5) == rates(schedule, 5)


def test_loading_a_foreign_state_fails_clearly():
    schedule = StepLR(SGD([Value(0.0)], lr=1.0), step_size=2)
    with pytest.raises(ValueError, match="T_max"):
        schedule.load_state_dict(CosineAnnealingLR(SGD([Value(0.0)], lr=1.0), 5).state_dict())


# --- SequentialLR and ReduceLROnPlateau -----------------------------------------------------


def test_sequential_warm_up_then_cosine():
    optimizer = SGD([Value(0.0)], lr=1.0)
    warm = LinearLR(optimizer, start_factor=0.25, total_iters=3)
    cosine = CosineAnnealingLR(optimizer, T_max=4)
    schedule = SequentialLR(optimizer, [warm, cosine], milestones=[3])
    got = [r[0] for r in rates(schedule, 8)]
    expected = [0.25, 0.5, 0.75] + [(1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_reduce_on_plateau_waits_patience_then_cools_down():
    optimizer = SGD([Value(0.0)], lr=1.0)
    schedule = ReduceLROnPlateau(optimizer, factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    losses = [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 3.0]
    got = []
    for loss in losses:
        schedule.step(loss)
        got.append(schedule.get_last_lr()[0])
    # bad epochs: 3rd, 4th, 5th -> reduce after the 5th; 6th in cooldown; 7th-9th bad ->
    # reduce after the 9th; then min_lr holds the rate at 0.25 -> 0.2 at most
    assert got == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]
    assert schedule.best == 3.0 and schedule.last_epoch == 12


def test_reduce_on_plateau_max_mode_and_thresholds():
    optimizer = SGD([Value(0.0)], lr=1.0)
    schedule = ReduceLROnPlateau(optimizer, mode="max", patience=0, threshold=0.1,
                                 threshold_mode="abs")  # fmt: skip
    schedule.step(0.5)  # the first metric is always an improvement
    schedule.step(0.55)  # not better by 0.1: reduce
    assert schedule.get_last_lr() == [pytest.approx(0.1)]
    schedule.step(0.7)  # better by more than 0.1
    assert schedule.get_last_lr() == [pytest.approx(0.1)] and schedule.best == 0.7
    rel = ReduceLROnPlateau(SGD([Value(0.0)], lr=1.0), patience=0, threshold=0.1)
    rel.step(1.0)
    rel.step(0.95)  # min mode, rel: must go below 0.9
    assert rel.get_last_lr() == [pytest.approx(0.1)]


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, text",
    [
        (lambda o: StepLR(o, step_size=0), ValueError, "step_size.*0"),
        (lambda o: StepLR(o, step_size=1.5), ValueError, "1.5"),
        (lambda o: StepLR(o, step_size=2, gamma=-0.5), ValueError, "-0.5"),
        (lambda o: MultiStepLR(o, milestones=[3, -1]), ValueError, "-1"),
        (lambda o: ExponentialLR(o, gamma="0.9"), TypeError, "'0.9'"),
        (lambda o: CosineAnnealingLR(o, T_max=0), ValueError, "T_max.*0"),
        (lambda o: CosineAnnealingLR(o, T_max=5, eta_min=-1.0), ValueError, "-1.0"),
        (lambda o: LinearLR(o, start_factor=0.0), ValueError, "start_factor.*0.0"),
        (lambda o: LinearLR(o, end_factor=1.5), ValueError, "1.5"),
        (lambda o: LinearLR(o, total_iters=0), ValueError, "total_iters.*0"),
        (
            lambda o: LambdaLR(o, [lambda k: 1.0] * 2),
            ValueError,
            r"expected 1 lr_lambdas \(one per group\), got 2",
        ),
        (lambda o: LambdaLR(o, 0.5), TypeError, "callable"),
        (lambda o: StepLR("sgd", step_size=1), TypeError, "str"),
        (lambda o: ReduceLROnPlateau(o, mode="up"), ValueError, "'up'"),
        (lambda o: ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "'pct'"),
        (lambda o: ReduceLROnPlateau(o, factor=1.0), ValueError, "factor 1.0"),
        (lambda o: ReduceLROnPlateau(o, min_lr=[0.1, 0.1]), ValueError, "1 min_lrs"),
        (lambda o: SequentialLR(o, [StepLR(o, 1)], milestones=[2]), ValueError, "0 milestones"),
        (lambda o: SequentialLR(o, [], milestones=[]), ValueError, "at least one"),
        (lambda o: SequentialLR(o, [StepLR(o, 1), StepLR(o, 1)], [3.5]), ValueError, "3.5"),
        (
            lambda o: SequentialLR(o, [ReduceLROnPlateau(o), StepLR(o, 1)], [2]),
            TypeError,
            "ReduceLROnPlateau",
        ),  # fmt: skip
        (
            lambda o: SequentialLR(o, [StepLR(SGD([Value(0.0)]), 1)], []),
            ValueError,
            "another optimizer",
        ),  # fmt: skip
    ],
)
def test_bad_arguments_name_the_value(make, error, text):
    with pytest.raises(error, match=text):
        make(Adam([Value(0.0)]))


def test_the_base_class_needs_get_lr():
    with pytest.raises(NotImplementedError, match="get_lr"):
        LRScheduler(SGD([Value(0.0)]))
