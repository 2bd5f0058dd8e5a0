"""nn.optim's optimizers without PyTorch: their updates against the formulas written out here,
Value and Tensor parameters alike, parameter groups, state_dict, skipped parameters, errors.
(tests/test_optim_torch.py checks the same updates against torch.optim itself.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autodiff import Tensor, Value
from autodiff.testing import arrays, shapes
from nn.optim import SGD, Adam, AdamW, Optimizer

# --- the updates written out, one float at a time (PyTorch's documented algorithms) ---------


def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                  maximize=False):  # fmt: skip
    """The parameter after each step, for one float parameter and its gradients."""
    out, buf = [], None
    for g in grads:
        g = -g if maximize else g
        g = g + weight_decay * p
        if momentum:
            buf = g if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p)
    return out


def lerp(start, end, weight):
    """torch.lerp on floats: start + weight * (end - start), in the form exact at its end.

    (beta1 * m + (1 - beta1) * g rounds differently; when the second moment is ~0 the step
    magnifies that difference past 1e-12.)"""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


def adam_reference(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   amsgrad=False, maximize=False, decoupled=False):  # fmt: skip
    """The parameter after each Adam (decoupled=False) or AdamW (True) step."""
    beta1, beta2 = betas
    out, m, v, v_max = [], 0.0, 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        g = -g if maximize else g
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = lerp(m, g, 1 - beta1)  # beta1 * m + (1 - beta1) * g, rounded as PyTorch does
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)
        m_hat = m / (1 - beta1**t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2**t)
        p = p - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(p)
    return out


def reference(kind, p0, grads, kwargs):
    """The reference trajectory of an array parameter, element by element: (steps, *shape)."""
    kwargs = dict(kwargs)
    if kind == "SGD":
        run = sgd_reference
    else:
        kwargs.setdefault("weight_decay", 0.01 if kind == "AdamW" else 0.0)
        kwargs["decoupled"] = kind == "AdamW"
        run = adam_reference
    flat = [run(float(x), [float(g.flat[i]) for g in grads], **kwargs) for i, x in
            enumerate(p0.flat)]  # fmt: skip
    return np.array(flat).T.reshape((len(grads), *p0.shape))


OPTIMIZERS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}


@st.composite
def configs(draw, kind=None):
    """An optimizer name and keyword arguments covering every option."""
    kind = kind or draw(st.sampled_from(sorted(OPTIMIZERS)))
    unit = st.floats(0.0, 0.99)
    if kind == "SGD":
        kwargs = {"lr": draw(st.floats(0.0, 1.0)), "maximize": draw(st.booleans())}
        kwargs["momentum"] = draw(st.sampled_from([0.0, 0.9]) | unit)
        kwargs["weight_decay"] = draw(st.sampled_from([0.0, 0.1]) | st.floats(0.0, 0.5))
        if kwargs["momentum"] > 0 and draw(st.booleans()):
            kwargs["nesterov"] = True
        else:
            kwargs["dampening"] = draw(st.sampled_from([0.0, 0.5]) | unit)
        return kind, kwargs
    kwargs = {
        "lr": draw(st.floats(1e-4, 0.5)),
        "betas": (draw(st.sampled_from([0.9]) | unit), draw(st.sampled_from([0.999]) | unit)),
        "eps": draw(st.sampled_from([1e-8]) | st.floats(1e-10, 1e-2)),
        "weight_decay": draw(st.sampled_from([0.0, 0.01]) | st.floats(0.0, 0.5)),
        "amsgrad": draw(st.booleans()),
        "maximize": draw(st.booleans()),
    }
    return kind, kwargs


def run_tensor(kind, kwargs, p0, grads):
    p = Tensor(p0.copy(), requires_grad=True)
    optimizer = OPTIMIZERS[kind]([p], **kwargs)
    out = []
    for g in grads:
        p.grad = g.copy()
        optimizer.step()
        out.append(p.data.copy())
    return np.array(out), optimizer


def run_values(kind, kwargs, p0, grads):
    params = [Value(float(x)) for x in p0.flat]
    optimizer = OPTIMIZERS[kind](params, **kwargs)
    out = []
    for g in grads:
        for p, gi in zip(params, g.flat):
            p.grad = float(gi)
        optimizer.step()
        out.append([p.data for p in params])
    return np.array(out).reshape((len(grads), *p0.shape)), optimizer


@st.composite
def problems(draw, kind=None):
    """A configuration, a starting parameter and 1-5 steps' gradients."""
    kind, kwargs = draw(configs(kind))
    shape = draw(shapes(max_dims=2))
    p0 = draw(arrays(shape))
    grads = [draw(arrays(shape)) for _ in range(draw(st.integers(1, 5)))]
    return kind, kwargs, p0, grads


def assert_close(ours, expected, rtol=1e-12):
    scale = 1.0 + np.abs(expected).max()
    np.testing.assert_allclose(ours, expected, rtol=rtol, atol=rtol * scale)


# --- the updates -------------------------------------------------------------------------


@given(problems())
def test_every_update_follows_the_written_out_formulas(problem):
    kind, kwargs, p0, grads = problem
    ours, _ = run_tensor(kind, kwargs, p0, grads)
    assert_close(ours, reference(kind, p0, grads, kwargs))


@given(problems())
def test_value_and_tensor_parameters_get_the_same_numbers_to_the_bit(problem):
    kind, kwargs, p0, grads = problem
    tensors, _ = run_tensor(kind, kwargs, p0, grads)
    values, _ = run_values(kind, kwargs, p0, grads)
    np.testing.assert_array_equal(tensors, values)


def test_sgd_first_steps_by_hand():
    # p = 1, gradients 2 then 3, lr 0.1, momentum 0.9, dampening 0.5, weight decay 0.1
    # step 1: g = 2 + 0.1 * 1 = 2.1; the buffer starts as g itself (no dampening): b = 2.1
    #         p = 1 - 0.1 * 2.1 = 0.79
    # step 2: g = 3 + 0.1 * 0.79 = 3.079; b = 0.9 * 2.1 + 0.5 * 3.079 = 3.4295
    #         p = 0.79 - 0.1 * 3.4295 = 0.44705
    p = Value(1.0)
    optimizer = SGD([p], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.1)
    p.grad = 2.0
    optimizer.step()
    assert p.data == pytest.approx(0.79, abs=1e-15)
    assert optimizer.state[p]["momentum_buffer"] == pytest.approx(2.1, abs=1e-15)
    p.grad = 3.0
    optimizer.step()
    assert p.data == pytest.approx(0.44705, abs=1e-15)


def test_sgd_nesterov_by_hand():
    # lr 0.1, momentum 0.5: step 1: b = 2, g = 2 + 0.5 * 2 = 3, p = 1 - 0.3 = 0.7
    # step 2 (gradient 4): b = 0.5 * 2 + 4 = 5, g = 4 + 0.5 * 5 = 6.5 (the new buffer, not
    # the old one), p = 0.7 - 0.65 = 0.05
    p = Tensor([1.0], requires_grad=True)
    optimizer = SGD([p], lr=0.1, momentum=0.5, nesterov=True)
    p.grad = np.array([2.0])
    optimizer.step()
    np.testing.assert_allclose(p.data, [0.7], atol=1e-15)
    p.grad = np.array([4.0])
    optimizer.step()
    np.testing.assert_allclose(p.data, [0.05], atol=1e-15)


def test_sgd_maximize_climbs():
    p = Value(1.0)
    p.grad = 2.0
    SGD([p], lr=0.1, maximize=True).step()
    assert p.data == pytest.approx(1.2, abs=1e-15)


def test_adam_first_step_moves_by_lr_whatever_the_gradient_scale():
    # m = 0.1 g, v = 0.001 g^2; bias-corrected: m_hat = g, v_hat = g^2, so the step is
    # lr * g / (|g| + eps): lr in the gradient's direction (without the corrections it
    # would be lr * 0.1 / sqrt(0.001) = 3.16 lr)
    for g in (1e-3, 5.0, -300.0):
        p = Tensor([2.0], requires_grad=True)
        p.grad = np.array([g])
        Adam([p], lr=0.01).step()
        expected = 2.0 - 0.01 * g / (abs(g) + 1e-8)
        np.testing.assert_allclose(p.data, [expected], rtol=1e-14)


def test_adam_second_step_by_hand():
    # gradients 1 then 3, betas (0.5, 0.75), lr 0.1, eps 0
    # step 2: m = 0.5 * 0.5 + 0.5 * 3 = 1.75, v = 0.75 * 0.25 + 0.25 * 9 = 2.4375
    # m_hat = 1.75 / 0.75, v_hat = 2.4375 / 0.4375; step = 0.1 * m_hat / sqrt(v_hat)
    p = Value(0.0)
    optimizer = Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.0)
    p.grad = 1.0
    optimizer.step()
    assert p.data == pytest.approx(-0.1, abs=1e-15)
    p.grad = 3.0
    optimizer.step()
    expected = -0.1 - 0.1 * (1.75 / 0.75) / math.sqrt(2.4375 / 0.4375)
    assert p.data == pytest.approx(expected, abs=1e-14)
    state = optimizer.state[p]
    assert (state["step"], state["exp_avg"], state["exp_avg_sq"]) == (2, 1.75, 2.4375)


@pytest.mark.parametrize("beta1", [0.2, 0.8])  # both of torch.lerp's forms
@pytest.mark.parametrize("kind", [Value, Tensor])
def test_adam_first_moment_by_hand(beta1, kind):
    # gradients 1 then 3: m = (1 - beta1) after step 1, beta1 (1 - beta1) + (1 - beta1) 3 after 2
    p = Value(0.0) if kind is Value else Tensor([0.0], requires_grad=True)
    optimizer = Adam([p], lr=0.1, betas=(beta1, 0.5))
    expected = [1 - beta1, beta1 * (1 - beta1) + (1 - beta1) * 3]
    for g, m in zip([1.0, 3.0], expected):
        p.grad = g if kind is Value else np.array([g])
        optimizer.step()
        assert np.asarray(optimizer.state[p]["exp_avg"]) == pytest.approx(m, rel=1e-15)


def test_adam_weight_decay_enters_the_moments_but_adamw_shrinks_the_parameter():
    # p = 2, gradient 0, lr 0.1, weight decay 0.5, betas (0.5, 0.5), eps 0:
    # Adam: g = 0 + 0.5 * 2 = 1 enters m and v: the first step is lr = 0.1 -> p = 1.9
    # AdamW: p = 2 * (1 - 0.1 * 0.5) = 1.9, and then g = 0: m = v = 0 -> 0 / 0 with eps = 0,
    # so eps 1e-8 there: p stays 1.9. The second step differs: Adam's moments remember the
    # decay term, AdamW's hold only gradients.
    adam, adamw = Value(2.0), Value(2.0)
    o1 = Adam([adam], lr=0.1, betas=(0.5, 0.5), eps=1e-8, weight_decay=0.5)
    o2 = AdamW([adamw], lr=0.1, betas=(0.5, 0.5), eps=1e-8, weight_decay=0.5)
    for o, p in ((o1, adam), (o2, adamw)):
        p.grad = 0.0
        o.step()
    assert adam.data == pytest.approx(1.9, abs=1e-8)
    assert adamw.data == pytest.approx(1.9, abs=1e-15)
    assert o1.state[adam]["exp_avg"] == pytest.approx(0.5) and o2.state[adamw]["exp_avg"] == 0.0
    adam.grad = adamw.grad = 1.0
    o1.step()
    o2.step()
    # Adam: g = 1 + 0.95 = 1.95, m = 0.25 + 0.975, v = 0.125 + 0.5 * 1.95^2
    m, v = 0.5 * 0.5 + 0.5 * 1.95, 0.5 * 0.5 + 0.5 * 1.95**2
    assert adam.data == pytest.approx(1.9 - 0.1 * (m / 0.75) / math.sqrt(v / 0.75), abs=1e-7)
    # AdamW: p = 1.9 * 0.95, m = 0.5, v = 0.5 -> m_hat = 2/3, v_hat = 2/3
    expected = 1.9 * 0.95 - 0.1 * (0.5 / 0.75) / (math.sqrt(0.5 / 0.75) + 1e-8)
    assert adamw.data == pytest.approx(expected, abs=1e-14)


def test_amsgrad_keeps_the_largest_second_moment():
    # a large gradient, then small ones: v falls, but amsgrad divides by the largest v seen
    grads = [10.0, 0.1, 0.1]
    plain, ams = Value(0.0), Value(0.0)
    o1, o2 = Adam([plain], lr=0.1), Adam([ams], lr=0.1, amsgrad=True)
    for g in grads:
        plain.grad = ams.grad = g
        o1.step()
        o2.step()
    assert o2.state[ams]["max_exp_avg_sq"] == pytest.approx(0.001 * 100)
    assert o2.state[ams]["max_exp_avg_sq"] > o1.state[plain]["exp_avg_sq"]
    assert ams.data == pytest.approx(adam_reference(0.0, grads, lr=0.1, amsgrad=True)[-1])
    assert ams.data > plain.data  # smaller later steps


def test_dtypes_are_kept_float32_state_and_parameters():
    for optimizer_class, kwargs in ((SGD, {"momentum": 0.9}), (Adam, {"amsgrad": True}),
                                    (AdamW, {})):  # fmt: skip
        p = Tensor(np.ones((2, 3), dtype=np.float32), requires_grad=True)
        optimizer = optimizer_class([p], lr=0.1, weight_decay=0.1, **kwargs)
        for _ in range(2):
            p.grad = np.full((2, 3), 0.5, dtype=np.float32)
            optimizer.step()
        assert p.data.dtype == np.float32
        for value in optimizer.state[p].values():
            assert not isinstance(value, np.ndarray) or value.dtype == np.float32


def test_updates_are_in_place_on_the_parameters_array():
    for optimizer_class in (SGD, Adam, AdamW):
        p = Tensor(np.ones(3), requires_grad=True)
        array = p.data
        optimizer = optimizer_class([p], lr=0.1, weight_decay=0.1)
        p.grad = np.ones(3)
        optimizer.step()
        assert p.data is array and not np.all(array == 1.0)


def test_the_gradient_is_not_changed_by_a_step():
    for optimizer_class, kwargs in ((SGD, {"momentum": 0.9, "maximize": True}), (Adam, {})):
        p = Tensor(np.ones(3), requires_grad=True)
        optimizer = optimizer_class([p], lr=0.1, weight_decay=0.1, **kwargs)
        p.grad = np.array([1.0, 2.0, 3.0])
        optimizer.step()
        optimizer.step()  # the buffer is not the gradient either
        np.testing.assert_array_equal(p.grad, [1.0, 2.0, 3.0])


def test_a_gradient_from_create_graph_is_used_as_numbers():
    p = Tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward(create_graph=True)
    assert isinstance(p.grad, Tensor)
    SGD([p], lr=0.1).step()
    assert type(p.data) is np.ndarray
    np.testing.assert_allclose(p.data, [0.8, 1.6])
    v = Value(3.0)
    (v * v).backward(create_graph=True)
    SGD([v], lr=0.1, momentum=0.5).step()
    assert type(v.data) is float and v.data == pytest.approx(2.4)


def test_training_a_tensor_model_lowers_the_loss():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    for optimizer_class, lr in ((SGD, 0.1), (Adam, 0.05), (AdamW, 0.05)):
        w, b = Tensor(np.zeros(3), requires_grad=True), Tensor(0.0, requires_grad=True)
        optimizer = optimizer_class([w, b], lr=lr)
        losses = []
        for _ in range(200):
            optimizer.zero_grad()
            loss = ((Tensor(X) @ w + b - Tensor(y)) ** 2).mean()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert losses[-1] < 0.01 * losses[0], (optimizer_class, losses[-1])


# --- parameters without a gradient, zero_grad, closure --------------------------------------


@pytest.mark.parametrize("optimizer_class", [SGD, Adam, AdamW])
def test_tensors_without_a_gradient_are_skipped_entirely(optimizer_class):
    used = Tensor([1.0, 2.0], requires_grad=True)
    unused = Tensor([3.0, 4.0], requires_grad=True)
    extra = {"momentum": 0.9} if optimizer_class is SGD else {}
    optimizer = optimizer_class([used, unused], lr=0.1, weight_decay=0.5, **extra)
    for _ in range(3):
        used.grad = np.array([1.0, 1.0])
        optimizer.step()
    np.testing.assert_array_equal(unused.data, [3.0, 4.0])  # no weight decay either
    assert unused not in optimizer.state and used in optimizer.state
    assert len(optimizer.state_dict()["state"]) == 1


def test_a_value_always_has_a_gradient_so_weight_decay_moves_it():
    p = Value(2.0)  # grad 0.0: no backward pass reached it
    SGD([p], lr=0.1, weight_decay=0.5).step()
    assert p.data == pytest.approx(1.9)
    q = Value(2.0)
    q.grad = None  # set by hand: skipped like a Tensor
    SGD([q], lr=0.1, weight_decay=0.5).step()
    assert q.data == 2.0


def test_zero_grad():
    t = Tensor([1.0, 2.0], requires_grad=True)
    v = Value(1.0)
    optimizer = SGD([t, v], lr=0.1)
    t.grad, v.grad = np.array([5.0, 5.0]), 5.0
    optimizer.zero_grad()
    assert t.grad is None and v.grad == 0.0
    t.grad = np.array([5.0, 5.0])
    array = t.grad
    optimizer.zero_grad(set_to_none=False)
    assert t.grad is array and np.all(array == 0.0)
    t.grad = None
    optimizer.zero_grad(set_to_none=False)
    assert t.grad is None


def test_step_calls_the_closure_and_returns_its_loss():
    p = Tensor([3.0], requires_grad=True)
    optimizer = SGD([p], lr=0.25)

    def closure():
        optimizer.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss.item()

    assert optimizer.step(closure) == 9.0
    np.testing.assert_allclose(p.data, [1.5])
    assert optimizer.step() is None


def test_mixed_value_and_tensor_parameters_in_one_optimizer():
    t, v = Tensor([1.0, -1.0], requires_grad=True), Value(0.5)
    optimizer = Adam([t, v], lr=0.1)
    for _ in range(3):
        t.grad, v.grad = np.array([0.3, -0.2]), 0.7
        optimizer.step()
    expected = adam_reference(0.5, [0.7] * 3, lr=0.1)[-1]
    assert v.data == pytest.approx(expected, rel=1e-14)
    np.testing.assert_allclose(t.data, [adam_reference(x, [g] * 3, lr=0.1)[-1] for x, g in
                                        ((1.0, 0.3), (-1.0, -0.2))], rtol=1e-14)  # fmt: skip


# --- parameter groups and the lr attribute --------------------------------------------------


def test_parameter_groups_take_their_own_hyper_parameters_and_defaults_fill_the_rest():
    a, b = Value(1.0), Value(1.0)
    optimizer = SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
    groups = optimizer.param_groups
    assert [g["lr"] for g in groups] == [0.1, 0.5]
    assert all(g["momentum"] == 0.9 and g["nesterov"] is False for g in groups)
    a.grad = b.grad = 1.0
    optimizer.step()
    assert (a.data, b.data) == (pytest.approx(0.9), pytest.approx(0.5))


def test_add_param_group_and_its_errors():
    a, b, c = Value(1.0), Value(2.0), Value(3.0)
    optimizer = Adam([a], lr=0.1)
    optimizer.add_param_group({"params": b, "betas": (0.5, 0.6)})  # a single parameter
    assert optimizer.param_groups[1]["params"] == [b]
    assert optimizer.param_groups[1]["betas"] == (0.5, 0.6)
    assert optimizer.param_groups[1]["lr"] == 0.1
    assert Adam([c], betas=[0.5, 0.6]).param_groups[0]["betas"] == (0.5, 0.6)  # as PyTorch
    with pytest.raises(ValueError, match="more than one parameter group"):
        optimizer.add_param_group({"params": [c, a]})
    with pytest.raises(ValueError, match="same parameter twice"):
        optimizer.add_param_group({"params": [c, c]})
    with pytest.raises(ValueError, match="betas"):
        optimizer.add_param_group({"params": [c], "betas": (0.5, 1.0)})
    with pytest.raises(TypeError, match="must be a dict"):
        optimizer.add_param_group([c])
    with pytest.raises(ValueError, match="'params'"):
        optimizer.add_param_group({"lr": 0.1})
    assert len(optimizer.param_groups) == 2  # a failed add leaves nothing behind


def test_named_parameters_give_param_names():
    a, b = Value(1.0), Value(2.0)
    optimizer = SGD([("layer.w", a), ("layer.b", b)], lr=0.1)
    assert optimizer.param_groups[0]["params"] == [a, b]
    assert optimizer.state_dict()["param_groups"][0]["param_names"] == ["layer.w", "layer.b"]
    with pytest.raises(ValueError, match="with names, or all without"):
        optimizer.add_param_group({"params": [Value(0.0)]})


def test_repr_lists_each_groups_hyper_parameters_as_pytorch():
    optimizer = SGD([Value(1.0)], lr=0.1, momentum=0.9)
    assert repr(optimizer).splitlines() == [
        "SGD (", "Parameter Group 0", "    dampening: 0.0", "    lr: 0.1", "    maximize: False",
        "    momentum: 0.9", "    nesterov: False", "    weight_decay: 0.0", ")",
    ]  # fmt: skip


def test_the_lr_attribute_reads_the_first_group_and_sets_every_group():
    optimizer = SGD([{"params": [Value(1.0)]}, {"params": [Value(1.0)], "lr": 0.5}], lr=0.1)
    assert optimizer.lr == 0.1
    optimizer.lr = 0.01
    assert [g["lr"] for g in optimizer.param_groups] == [0.01, 0.01]
    with pytest.raises(ValueError, match="-1"):
        optimizer.lr = -1


def test_works_on_a_models_parameters():
    from nn import MLP

    model = MLP(2, [3, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=0.1)
    before = [p.data for p in model.parameters()]
    loss = model([1.0, -1.0]) ** 2
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    after = [p.data for p in model.parameters()]
    assert before != after


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, text",
    [
        (lambda p: SGD(p, lr=-0.1), ValueError, "-0.1"),
        (lambda p: SGD(p, lr=float("nan")), ValueError, "nan"),
        (lambda p: SGD(p, lr="0.1"), TypeError, "'0.1'"),
        (lambda p: SGD(p, lr=0.1, momentum=-0.5), ValueError, "-0.5"),
        (lambda p: SGD(p, lr=0.1, weight_decay=-1e-3), ValueError, "-0.001"),
        (lambda p: SGD(p, lr=0.1, nesterov=True), ValueError, "momentum=0"),
        (
            lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
            ValueError,
            "dampening=0.1",
        ),  # fmt: skip
        (lambda p: Adam(p, lr=-1.0), ValueError, "-1.0"),
        (lambda p: Adam(p, betas=(1.0, 0.999)), ValueError, r"betas\[0\] 1.0"),
        (lambda p: Adam(p, betas=(0.9, -0.1)), ValueError, "-0.1"),
        (lambda p: Adam(p, betas=(0.9,)), ValueError, r"\(0.9,\)"),
        (lambda p: Adam(p, eps=-1e-8), ValueError, "-1e-08"),
        (lambda p: AdamW(p, weight_decay=-0.01), ValueError, "-0.01"),
        (lambda p: SGD([{"params": p, "lr": -2.0}], lr=0.1), ValueError, "-2.0"),
    ],
)
def test_bad_hyper_parameters_name_the_value(make, error, text):
    with pytest.raises(error, match=text):
        make([Value(1.0)])


@pytest.mark.parametrize(
    "params, error, text",
    [
        ([], ValueError, "empty parameter list"),
        (Tensor([1.0]), TypeError, "iterable"),
        ({Value(1.0)}, TypeError, "set"),
        ([np.zeros(3)], TypeError, "parameter 0 is ndarray"),
        ([Value(1.0), 2.0], TypeError, "parameter 1 is float"),
        ([Value(1.0) * 2], ValueError, "non-leaf"),
        ([Tensor([1.0], requires_grad=True) * 2], ValueError, "non-leaf"),
    ],
)
def test_bad_parameter_lists(params, error, text):
    for optimizer_class in (SGD, Adam, AdamW):
        with pytest.raises(error, match=text):
            optimizer_class(params, lr=0.1)


def test_a_parameter_in_two_groups():
    a = Value(1.0)
    with pytest.raises(ValueError, match="more than one parameter group"):
        SGD([{"params": [a]}, {"params": [a]}], lr=0.1)


def test_the_base_class_has_no_step():
    with pytest.raises(NotImplementedError, match="step"):
        Optimizer([Value(1.0)], {"lr": 0.1}).step()


# --- state_dict ---------------------------------------------------------------------------


def _leaves_follow_the_contract(x):
    """Only dicts (str or int keys), lists, tuples, arrays and plain scalars."""
    if isinstance(x, dict):
        return all(isinstance(k, (str, int)) and _leaves_follow_the_contract(v)
                   for k, v in x.items())  # fmt: skip
    if isinstance(x, (list, tuple)):
        return all(_leaves_follow_the_contract(v) for v in x)
    return x is None or type(x) in (np.ndarray, int, float, bool, str)


def _feed(params, step):
    """Reproducible gradients for every parameter at `step`."""
    for i, p in enumerate(params):
        rng = np.random.default_rng([i, step])
        if isinstance(p, Value):
            p.grad = float(rng.normal())
        else:
            p.grad = rng.normal(size=p.data.shape).astype(p.data.dtype)


def _make_params(dtype=np.float64):
    rng = np.random.default_rng(0)
    return [
        Tensor(rng.normal(size=(3, 2)).astype(dtype), requires_grad=True),
        Value(0.5),
        Tensor(rng.normal(size=4).astype(dtype), requires_grad=True),
        Value(-1.5),
    ]


def _snapshot(params):
    return [p.data.copy() if isinstance(p, Tensor) else p.data for p in params]


@given(configs())
def test_state_dict_round_trip_mid_training_continues_bit_for_bit(config):
    kind, kwargs = config
    params = _make_params()
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": kwargs["lr"] / 2}]
    optimizer = OPTIMIZERS[kind](groups, **kwargs)
    for step in range(3):
        _feed(params, step)
        optimizer.step()
    saved = optimizer.state_dict()
    assert _leaves_follow_the_contract(saved)
    # a fresh optimizer over copies of the parameters, loaded from the saved state
    copies = [Tensor(p.data.copy(), requires_grad=True) if isinstance(p, Tensor) else Value(p.data)
              for p in params]  # fmt: skip
    other = OPTIMIZERS[kind]([{"params": copies[:2]}, {"params": copies[2:]}], lr=0.123)
    other.load_state_dict(saved)
    assert other.param_groups[1]["lr"] == kwargs["lr"] / 2
    for step in range(3, 6):
        _feed(params, step)
        _feed(copies, step)
        optimizer.step()
        other.step()
    for a, b in zip(_snapshot(params), _snapshot(copies)):
        np.testing.assert_array_equal(a, b)


def test_state_dict_layout_is_pytorchs():
    params = _make_params()
    optimizer = Adam([{"params": params[:3]}, {"params": params[3:], "lr": 0.5}], lr=0.1)
    _feed(params, 0)
    params[2].grad = None
    optimizer.step()
    saved = optimizer.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1, 2], [3]]
    assert set(saved["state"]) == {0, 1, 3}  # parameter 2 had no gradient: no state
    assert set(saved["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert saved["state"][0]["step"] == 1 and saved["state"][1]["exp_avg"] == pytest.approx(
        0.1 * params[1].grad
    )
    group = saved["param_groups"][1]
    assert group["lr"] == 0.5 and group["betas"] == (0.9, 0.999) and group["amsgrad"] is False


def test_state_dict_is_a_snapshot_and_loading_copies():
    p = Tensor(np.zeros(3), requires_grad=True)
    optimizer = SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones(3)
    optimizer.step()
    saved = optimizer.state_dict()
    optimizer.step()
    np.testing.assert_array_equal(saved["state"][0]["momentum_buffer"], np.ones(3))
    optimizer.load_state_dict(saved)
    saved["state"][0]["momentum_buffer"][:] = 100.0
    np.testing.assert_array_equal(optimizer.state[p]["momentum_buffer"], np.ones(3))


def test_loading_casts_state_to_the_parameters_dtype_and_accepts_lists_for_tuples():
    p64 = Tensor(np.zeros(3), requires_grad=True)
    o64 = Adam([p64], lr=0.1)
    p64.grad = np.ones(3)
    o64.step()
    saved = o64.state_dict()
    saved["param_groups"][0]["betas"] = list(saved["param_groups"][0]["betas"])  # as from JSON
    saved["state"][0]["exp_avg"] = saved["state"][0]["exp_avg"].tolist()
    p32 = Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    o32 = Adam([p32], lr=0.1)
    o32.load_state_dict(saved)
    assert o32.param_groups[0]["betas"] == (0.9, 0.999)
    assert all(v.dtype == np.float32 for v in o32.state[p32].values() if hasattr(v, "dtype"))
    p32.grad = np.ones(3, dtype=np.float32)
    o32.step()
    assert p32.data.dtype == np.float32 and o32.state[p32]["step"] == 2


def test_load_state_dict_errors_leave_the_optimizer_unchanged():
    a, b = Tensor(np.zeros(3), requires_grad=True), Value(1.0)
    optimizer = SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = np.ones(3), 1.0
    optimizer.step()
    good = optimizer.state_dict()
    before = optimizer.state_dict()

    def broken(change):
        saved = optimizer.state_dict()
        change(saved)
        return saved

    cases = [
        ("not a dict", ValueError, "expected a dict"),
        ({"state": {}}, ValueError, "param_groups"),
        (
            broken(lambda s: s["param_groups"].append(s["param_groups"][0])),
            ValueError,
            "2 parameter groups but this optimizer has 1",
        ),  # fmt: skip
        (
            broken(lambda s: s["param_groups"][0]["params"].pop()),
            ValueError,
            "group 0 has 1 parameters but this optimizer's has 2",
        ),  # fmt: skip
        (
            broken(lambda s: s["state"][0].update(momentum_buffer=np.ones(4))),
            ValueError,
            r"shape \(4,\).*shape \(3,\)",
        ),  # fmt: skip
        (
            broken(lambda s: s["state"][1].update(momentum_buffer=np.ones(2))),
            ValueError,
            "must be a number",
        ),  # fmt: skip
        (broken(lambda s: s["state"].update({7: {}})), ValueError, "parameter 7"),
        (broken(lambda s: s["param_groups"][0].update(lr=-5.0)), ValueError, "-5.0"),
        (Adam([Value(0.0), Value(0.0)]).state_dict(), ValueError, "another kind of optimizer"),
    ]
    for saved, error, text in cases:
        with pytest.raises(error, match=text):
            optimizer.load_state_dict(saved)
        after = optimizer.state_dict()
        assert after["param_groups"] == before["param_groups"]
        np.testing.assert_array_equal(after["state"][0]["momentum_buffer"],
                                      before["state"][0]["momentum_buffer"])  # fmt: skip
    optimizer.load_state_dict(good)
