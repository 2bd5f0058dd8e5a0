"""nn.optim against torch.optim itself: the same parameters and gradients give the same
parameters after every step (float64 to 1e-12, float32 to float32 rounding), the same state,
and the schedules give the same rates to the bit. Skipped without PyTorch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_optim import configs  # every option of SGD, Adam and AdamW

from autodiff import Tensor, Value
from autodiff.testing import arrays, shapes
from nn import optim
from nn.optim import lr_scheduler

torch = pytest.importorskip("torch")

# torch's extra group entries, for its other code paths (fused, foreach, ...)
TORCH_ONLY_KEYS = {"foreach", "fused", "differentiable", "capturable"}


@st.composite
def problems(draw):
    kind, kwargs = draw(configs())
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    shape = draw(shapes(max_dims=3))
    p0 = draw(arrays(shape, dtype=dtype))
    grads = [draw(arrays(shape, dtype=dtype)) for _ in range(draw(st.integers(1, 6)))]
    return kind, kwargs, p0, grads


def assert_same(ours, theirs, dtype):
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    scale = 1.0 + np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * scale)


@given(problems())
def test_every_step_equals_torch(problem):
    kind, kwargs, p0, grads = problem
    ours = Tensor(p0.copy(), requires_grad=True)
    theirs = torch.tensor(p0.copy(), requires_grad=True)
    o = getattr(optim, kind)([ours], **kwargs)
    t = getattr(torch.optim, kind)([theirs], **kwargs)
    for g in grads:
        ours.grad = g.copy()
        theirs.grad = torch.tensor(g.copy())
        o.step()
        t.step()
        assert ours.data.dtype == p0.dtype
        assert_same(ours.data, theirs.detach().numpy(), p0.dtype)
    ours_state, torch_state = o.state_dict()["state"], t.state_dict()["state"]
    assert ours_state.keys() == torch_state.keys()
    for key, value in torch_state.get(0, {}).items():  # plain SGD keeps no state
        if key == "step":
            assert ours_state[0]["step"] == value.item()
        else:
            assert ours_state[0][key].dtype == p0.dtype
            assert_same(ours_state[0][key], value.numpy(), p0.dtype)


@given(configs())
def test_groups_skipped_parameters_and_value_parameters_equal_torch(config):
    kind, kwargs = config
    rng = np.random.default_rng(0)
    starts = [rng.normal(size=(2, 3)), rng.normal(size=3), np.array(0.7), np.array(-1.2)]
    ours = [Tensor(starts[0].copy(), requires_grad=True),
            Tensor(starts[1].copy(), requires_grad=True), Value(0.7), Value(-1.2)]  # fmt: skip
    theirs = [torch.tensor(s.copy(), requires_grad=True) for s in starts]
    groups = lambda ps: [{"params": ps[:2]}, {"params": ps[2:], "lr": kwargs["lr"] / 3}]  # noqa: E731
    o = getattr(optim, kind)(groups(ours), **kwargs)
    t = getattr(torch.optim, kind)(groups(theirs), **kwargs)
    for step in range(4):
        grads = [rng.normal(size=s.shape) for s in starts]
        for i, (a, b, g) in enumerate(zip(ours, theirs, grads)):
            skip = i == 1 and step < 2  # parameter 1 has no gradient in the first two steps
            a.grad = None if skip else (float(g) if isinstance(a, Value) else g.copy())
            b.grad = None if skip else torch.tensor(g.copy())
        o.step()
        t.step()
        for a, b in zip(ours, theirs):
            assert_same(np.asarray(a.data), b.detach().numpy(), np.float64)
    ours_groups, torch_groups = o.state_dict()["param_groups"], t.state_dict()["param_groups"]
    for mine, theirs_group in zip(ours_groups, torch_groups):
        assert set(theirs_group) - set(mine) <= TORCH_ONLY_KEYS
        assert {k: theirs_group[k] for k in mine} == mine


def test_skipped_parameters_get_no_state_as_in_torch():
    for kind in ("SGD", "Adam", "AdamW"):
        kwargs = {"lr": 0.1, "weight_decay": 0.5, **({"momentum": 0.9} if kind == "SGD" else {})}
        ours = [Tensor(np.ones(2), requires_grad=True) for _ in range(2)]
        theirs = [torch.ones(2, requires_grad=True) for _ in range(2)]
        o, t = getattr(optim, kind)(ours, **kwargs), getattr(torch.optim, kind)(theirs, **kwargs)
        ours[0].grad, theirs[0].grad = np.ones(2), torch.ones(2)
        o.step()
        t.step()
        assert o.state_dict()["state"].keys() == t.state_dict()["state"].keys() == {0}
        np.testing.assert_array_equal(ours[1].data, theirs[1].detach().numpy())


# --- schedules ------------------------------------------------------------------------------


SCHEDULES = [
    ("StepLR", {"step_size": 7, "gamma": 0.3}),
    ("StepLR", {"step_size": 1}),
    ("MultiStepLR", {"milestones": [3, 10, 10, 25], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.93}),
    ("CosineAnnealingLR", {"T_max": 13, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"T_max": 1}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.9, "total_iters": 17}),
    ("LambdaLR", {"lr_lambda": lambda k: 1.0 - 0.9 * k / 100}),
    ("LambdaLR", {"lr_lambda": lambda k: 0.95**k}),
]


def _pair(lrs=(0.1, 0.03)):
    ours = optim.SGD([{"params": [Value(0.0)], "lr": lr} for lr in lrs])
    theirs = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr}
                              for lr in lrs])  # fmt: skip
    return ours, theirs


def _run(ours_schedule, torch_schedule, epochs, metrics=None):
    """Both schedules' rates over `epochs` epochs, each epoch after its optimizer's step."""
    ours, theirs = [ours_schedule.get_last_lr()], [torch_schedule.get_last_lr()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in range(epochs):
            ours_schedule.optimizer.step()
            torch_schedule.optimizer.step()
            if metrics is None:
                ours_schedule.step()
                torch_schedule.step()
            else:
                ours_schedule.step(metrics[epoch])
                torch_schedule.step(metrics[epoch])
            ours.append(ours_schedule.get_last_lr())
            theirs.append(torch_schedule.get_last_lr())
    return ours, theirs


@pytest.mark.parametrize("name, kwargs", SCHEDULES, ids=lambda v: str(v)[:30])
def test_every_epochs_rate_equals_torchs_to_the_bit(name, kwargs):
    o, t = _pair()
    ours = getattr(lr_scheduler, name)(o, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(t, **kwargs)
    got, expected = _run(ours, theirs, 200)
    assert got == expected
    assert [g["initial_lr"] for g in o.param_groups] == [g["initial_lr"] for g in t.param_groups]
    assert ours.last_epoch == theirs.last_epoch == 200


def test_sequential_lr_equals_torchs():
    def build(module, optimizer):
        warm = module.LinearLR(optimizer, start_factor=0.2, total_iters=5)
        cosine = module.CosineAnnealingLR(optimizer, T_max=20, eta_min=1e-4)
        decay = module.ExponentialLR(optimizer, gamma=0.9)
        return module.SequentialLR(optimizer, [warm, cosine, decay], milestones=[5, 25])

    o, t = _pair()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = build(torch.optim.lr_scheduler, t)
    got, expected = _run(build(lr_scheduler, o), theirs, 60)
    assert got == expected


@given(
    st.lists(st.floats(0.0, 10.0) | st.sampled_from([1.0, 2.0]), min_size=1, max_size=40),
    st.sampled_from(["min", "max"]),
    st.sampled_from(["rel", "abs"]),
    st.integers(0, 3),
    st.integers(0, 2),
    st.sampled_from([0.0, 0.01, 0.05]),
)
def test_reduce_on_plateau_equals_torchs(metrics, mode, threshold_mode, patience, cooldown, low):
    kwargs = {"mode": mode, "threshold_mode": threshold_mode, "patience": patience,
              "cooldown": cooldown, "min_lr": low, "factor": 0.5, "threshold": 0.1}  # fmt: skip
    o, t = _pair()
    ours = lr_scheduler.ReduceLROnPlateau(o, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(t, **kwargs)
    got, expected = _run(ours, theirs, len(metrics), metrics)
    assert got == expected
    assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter) == (
        theirs.best, theirs.num_bad_epochs, theirs.cooldown_counter)  # fmt: skip


def test_training_with_adam_and_a_schedule_equals_torch():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), rng.normal(size=32)
    w0 = rng.normal(size=3)
    w = Tensor(w0.copy(), requires_grad=True)
    tw = torch.tensor(w0.copy(), requires_grad=True)
    o, t = optim.AdamW([w], lr=0.05, amsgrad=True), torch.optim.AdamW([tw], lr=0.05, amsgrad=True)
    s = lr_scheduler.CosineAnnealingLR(o, T_max=10)
    ts = torch.optim.lr_scheduler.CosineAnnealingLR(t, T_max=10)
    for _ in range(25):
        o.zero_grad()
        t.zero_grad()
        ((Tensor(X) @ w - Tensor(y)) ** 2).mean().backward()
        ((torch.tensor(X) @ tw - torch.tensor(y)) ** 2).mean().backward()
        o.step()
        t.step()
        s.step()
        ts.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=1e-10)
    assert s.get_last_lr() == ts.get_last_lr()
