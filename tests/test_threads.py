"""Grad mode, the functional API's nesting and gradcheck are per thread: threads that train,
backpropagate, differentiate and switch `no_grad` on and off side by side each get exactly the
gradients they get alone. `threading.Barrier`s make the threads overlap at chosen points, so
the tests are deterministic, and a short switch interval makes them interleave in between."""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import Any, Callable

import numpy as np
import pytest

import nn
from autodiff import (
    Tensor,
    Value,
    enable_grad,
    grad,
    gradcheck,
    hessian,
    is_grad_enabled,
    mse_loss,
    no_grad,
)
from autodiff.function import Function
from autodiff.tensor import _ONES, _ONES_MAX_BYTES, _ones_vector

TIMEOUT = 60  # seconds a thread may wait at a barrier: a broken test fails, never hangs


@pytest.fixture(autouse=True)
def frequent_switches():
    """Switch threads every 10 us (default 5 ms), so unsynchronised stretches interleave."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def run_threads(*targets: Callable[[Callable[[], None]], None]) -> None:
    """Run each target in a thread of its own, passing it `sync()` (one shared barrier);
    re-raise the first failure. A failing thread breaks the barrier, so the others stop too."""
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def sync() -> None:
        barrier.wait(TIMEOUT)

    def body(target: Callable) -> None:
        try:
            target(sync)
        except BaseException as error:  # noqa: BLE001 (re-raised in the main thread)
            errors.append(error)  # (a broken barrier too: a thread timed out waiting)
            barrier.abort()

    threads = [threading.Thread(target=body, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 4)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:  # the failure itself, rather than the broken barrier it left the others
        failures = [e for e in errors if not isinstance(e, threading.BrokenBarrierError)]
        raise (failures or errors)[0]
    assert is_grad_enabled(), "grad mode is off in the main thread after the threads ran"


# --------------------------------------------------------------------------------------------
# Models: a scalar MLP from nn and a small Tensor MLP, each trained for a few SGD steps; the
# gradients of every step are compared with those of the same steps run in the main thread.
# --------------------------------------------------------------------------------------------

POINTS = [([0.5, -1.0], 1.0), ([-0.3, 0.8], -1.0), ([1.2, 0.1], 1.0)]


def scalar_training(steps: int) -> Callable[[], list[list[float]]]:
    """A function running `steps` SGD steps of a fresh scalar MLP; one gradient list per step."""

    def train(step_hook: Callable[[], None] = lambda: None) -> list[list[float]]:
        model = nn.MLP(2, [4, 4, 1], activation="tanh", seed=3)
        history = []
        for _ in range(steps):
            step_hook()
            model.zero_grad()
            loss = Value.sum((model(x) - y) ** 2 for x, y in POINTS)
            loss.backward()
            grads = [p.grad for p in model.parameters()]
            history.append(grads)
            for p in model.parameters():
                p.data -= 0.05 * p.grad
        return history

    return train


def tensor_training(steps: int) -> Callable[[], list[list[np.ndarray]]]:
    """The same for a float64 Tensor MLP (x @ w + b, tanh, @ w + b, mse_loss), batch 8."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3))
    y = rng.standard_normal((8, 2))
    start = [rng.standard_normal(s) for s in [(3, 5), (5,), (5, 2), (2,)]]

    def train(step_hook: Callable[[], None] = lambda: None) -> list[list[np.ndarray]]:
        params = [Tensor(p.copy(), requires_grad=True) for p in start]
        w1, b1, w2, b2 = params
        history = []
        for _ in range(steps):
            step_hook()
            for p in params:
                p.grad = None
            loss = mse_loss((Tensor(x) @ w1 + b1).tanh() @ w2 + b2, Tensor(y))
            loss.backward()
            history.append([p.grad.copy() for p in params])
            for p in params:
                p.data -= 0.1 * p.grad
        return history

    return train


def assert_same_history(got: list, want: list) -> None:
    assert len(got) == len(want)
    for step, (g, w) in enumerate(zip(got, want)):
        for i, (a, b) in enumerate(zip(g, w)):
            assert np.array_equal(a, b), f"step {step}, parameter {i}: {a} != {b}"


@pytest.mark.parametrize("training", [scalar_training, tensor_training])
def test_toggling_no_grad_in_one_thread_does_not_touch_another_threads_training(training):
    steps = 12
    train = training(steps)
    reference = train()  # alone, in the main thread
    probe = Value(2.0)

    def toggler(sync: Callable[[], None]) -> None:
        for _ in range(steps // 2):
            with no_grad():
                sync()  # the trainer runs a whole step while this thread is inside no_grad
                for _ in range(50):
                    assert not (probe * probe)._prev, "recorded inside no_grad"
                sync()
            sync()  # ... and another while it is outside
            for _ in range(50):
                assert (probe * probe)._prev, "not recorded outside no_grad"
            sync()

    def trainer(sync: Callable[[], None]) -> None:
        calls = 0

        def between_steps() -> None:  # each step runs between two of the toggler's syncs
            nonlocal calls
            if calls:
                sync()
            sync()
            calls += 1

        history = train(between_steps)
        sync()
        assert_same_history(history, reference)

    run_threads(toggler, trainer)


class Pause(Function):
    """The identity, whose vjp calls `pause`: in a backward pass, it waits twice at the
    barrier, and between the two waits the other thread runs a whole forward and backward pass
    while this thread is inside its backward pass."""

    @staticmethod
    def forward(x: np.ndarray, pause: Callable[[], None]) -> np.ndarray:
        return x.copy()

    @staticmethod
    def vjp(g: Any, x: Any, out: Any, pause: Callable[[], None]) -> tuple:
        pause()
        return (g,)


def pausing_once(sync: Callable[[], None]) -> Callable[[], None]:
    """Waits twice at the barrier the first time it is called, then never again (a second
    derivative backpropagates through the Pause node once more)."""
    calls = []

    def pause() -> None:
        if not calls:
            calls.append(1)
            sync()
            sync()

    return pause


def no_pause() -> None:
    pass


RNG = np.random.default_rng(7)
X, Y = RNG.standard_normal((6, 3)), RNG.standard_normal((6, 2))
START = [RNG.standard_normal(s) for s in [(3, 4), (4,), (4, 2), (2,)]]


def plain_gradients(pause: Callable[[], None]) -> list[np.ndarray]:
    """d loss / d parameters of a small Tensor MLP, a `Pause` between its layers."""
    params = [Tensor(p.copy(), requires_grad=True) for p in START]
    w1, b1, w2, b2 = params
    hidden = Pause.apply((Tensor(X) @ w1 + b1).tanh(), pause=pause)
    mse_loss(hidden @ w2 + b2, Tensor(Y)).backward()
    return [p.grad for p in params]


def second_derivatives(pause: Callable[[], None], i: int) -> tuple:
    """(d/dx, d2/dx2) of sum(tanh(x) * x) by create_graph, a `Pause` in the first pass."""
    x = Tensor(np.array([0.3 + 0.1 * i, -0.7, 1.1]), requires_grad=True)
    y = (Pause.apply(x.tanh(), pause=pause) * x).sum()
    y.backward(create_graph=True)
    first = x.grad
    x.grad = None
    first.sum().backward()
    return first.data, x.grad


def expected_derivatives(i: int) -> tuple:
    x = np.array([0.3 + 0.1 * i, -0.7, 1.1])
    t = np.tanh(x)
    s = 1 - t * t
    return t + x * s, 2 * s - 2 * x * t * s


def test_two_threads_backpropagate_at_once_each_gets_its_own_gradients():
    """One thread runs plain backward passes, the other second derivatives (create_graph).
    Each pauses inside its backward pass while the other runs a whole one: every gradient of
    both is checked."""
    reference = plain_gradients(no_pause)
    rounds = 6

    def plain(sync: Callable[[], None]) -> None:
        for _ in range(rounds):
            for got, want in zip(plain_gradients(pausing_once(sync)), reference):  # the other runs
                np.testing.assert_array_equal(got, want)
            sync()  # the other pauses inside its backward: this one runs a whole pass
            for got, want in zip(plain_gradients(no_pause), reference):
                np.testing.assert_array_equal(got, want)
            sync()

    def with_create_graph(sync: Callable[[], None]) -> None:
        for i in range(rounds):
            sync()  # the other is inside its backward pass
            first, second = second_derivatives(no_pause, i)
            want_first, want_second = expected_derivatives(i)
            np.testing.assert_allclose(first, want_first, rtol=1e-13)
            np.testing.assert_allclose(second, want_second, rtol=1e-13)
            for j, x in enumerate([0.3 + 0.1 * i, -0.7, 1.1]):  # and the scalar engine's
                v = Value(x)
                (v.tanh() * v).backward(create_graph=True)
                dv = v.grad
                v.grad = 0.0
                dv.backward()
                assert dv.data == pytest.approx(want_first[j], rel=1e-13)
                assert v.grad == pytest.approx(want_second[j], rel=1e-13)
            sync()
            first, second = second_derivatives(pausing_once(sync), i)  # the other runs
            np.testing.assert_allclose(first, want_first, rtol=1e-13)
            np.testing.assert_allclose(second, want_second, rtol=1e-13)

    run_threads(plain, with_create_graph)


# --------------------------------------------------------------------------------------------
# no_grad / enable_grad: saved per entry, per thread
# --------------------------------------------------------------------------------------------


def test_one_no_grad_instance_can_be_entered_again():
    x = Value(3.0)
    block = no_grad()
    with block:
        with block:
            assert not is_grad_enabled()
        assert not is_grad_enabled()
        assert not (x * x)._prev
    assert is_grad_enabled()
    assert (x * x)._prev


def test_no_grad_decorates_a_recursive_function():
    x = Value(3.0)
    modes = []

    @no_grad()
    def depth(n: int) -> Value:
        modes.append(is_grad_enabled())
        return x * x if n == 0 else depth(n - 1) * x

    out = depth(4)
    assert modes == [False] * 5
    assert not out._prev  # built under no_grad
    assert is_grad_enabled()  # and recording is back on afterwards
    assert (x * x)._prev


def test_enable_grad_as_a_decorator_inside_no_grad():
    x = Value(3.0)

    @enable_grad()
    def square() -> Value:
        return x * x

    with no_grad():
        y = square()
        z = x * x
    assert y._prev and not z._prev
    assert is_grad_enabled()


def test_an_exception_inside_no_grad_restores_the_mode():
    with pytest.raises(ZeroDivisionError), no_grad():
        Value(1.0) / Value(0.0).data
    assert is_grad_enabled()


def test_enable_grad_inside_no_grad_inside_a_thread_leaves_other_threads_alone():
    x = Value(1.5)

    def nested(sync: Callable[[], None]) -> None:
        with no_grad():
            sync()  # 1: the other thread looks while this one is inside no_grad
            sync()  # 2
            with enable_grad():
                assert (x * x)._prev
                sync()  # 3: ... and inside enable_grad
                sync()  # 4
            assert not (x * x)._prev
            assert not is_grad_enabled()
        assert is_grad_enabled()
        sync()  # 5

    def other(sync: Callable[[], None]) -> None:
        with no_grad():  # this thread's own no_grad, entered and left at other times
            for _ in range(2):
                sync()
                assert not is_grad_enabled()
                assert not (x * x)._prev
                sync()
        assert is_grad_enabled() and (x * x)._prev
        sync()  # 5

    run_threads(nested, other)


def test_a_thread_starts_with_grad_enabled_even_if_its_creator_is_in_no_grad():
    seen = []
    with no_grad():
        thread = threading.Thread(target=lambda: seen.append(is_grad_enabled()))
        thread.start()
        thread.join(TIMEOUT)
    assert seen == [True]


def test_no_grad_in_one_asyncio_task_does_not_reach_another():
    """Grad mode is a context variable: per asyncio task too, even across awaits."""
    x = Value(2.0)

    async def main() -> list:
        entered, checked = asyncio.Event(), asyncio.Event()
        seen = []

        async def quiet() -> None:
            with no_grad():
                entered.set()
                await checked.wait()  # the other task runs while this one is inside no_grad
                seen.append(("quiet", is_grad_enabled(), bool((x * x)._prev)))

        async def recording() -> None:
            await entered.wait()
            seen.append(("recording", is_grad_enabled(), bool((x * x)._prev)))
            checked.set()

        await asyncio.gather(quiet(), recording())
        return seen

    assert asyncio.run(main()) == [("recording", True, True), ("quiet", False, False)]
    assert is_grad_enabled()


# --------------------------------------------------------------------------------------------
# The functional API and gradcheck from two threads at once
# --------------------------------------------------------------------------------------------


def test_grad_and_hessian_from_two_threads_at_once():
    def f(x: Any, y: Any) -> Any:
        return x * x * y + (x * y).tanh()

    def check_grad(a: float, b: float) -> None:
        gx, gy = grad(f, argnums=(0, 1))(a, b)
        t = np.tanh(a * b)
        assert isinstance(gx, float) and isinstance(gy, float)  # the fast path: plain floats
        assert gx == pytest.approx(2 * a * b + b * (1 - t * t), rel=1e-12)
        assert gy == pytest.approx(a * a + a * (1 - t * t), rel=1e-12)

    def check_hessian(a: float, b: float) -> None:
        h = np.array(hessian(f, argnums=(0, 1))(a, b), dtype=float)
        t = np.tanh(a * b)
        s = 1 - t * t  # sech^2
        d2 = -2 * t * s  # d/du of sech^2(u)
        want = [[2 * b + b * b * d2, 2 * a + s + a * b * d2], [0.0, a * a * d2]]
        want[1][0] = want[0][1]
        np.testing.assert_allclose(h, want, rtol=1e-10)

    def holding(sync: Callable[[], None]) -> None:
        # the other thread calls grad() while this one is inside its transformation
        def g(x: Any) -> Any:
            sync()  # 1
            sync()  # 2
            return x * x

        assert grad(g)(3.0) == 6.0
        for i in range(15):
            sync()
            check_hessian(0.5 + 0.1 * i, -0.4)
            check_grad(0.1 * i, 1.3)

    def calling(sync: Callable[[], None]) -> None:
        sync()  # 1
        check_grad(0.7, -1.1)
        sync()  # 2
        for i in range(15):
            sync()
            check_grad(-0.2 * i, 0.6)
            check_hessian(0.3, 0.1 * i - 0.5)

    run_threads(holding, calling)


def test_gradcheck_from_two_threads_at_once():
    """In turn, one thread's gradcheck pauses inside its finite differences (which run under
    no_grad) while the other thread runs whole gradchecks, first and second order."""

    def make(seed: int, pauses_first: bool) -> Callable[[Callable[[], None]], None]:
        data = np.random.default_rng(seed).standard_normal((3, 2))
        w = Tensor(data[:2].copy())

        def run(sync: Callable[[], None]) -> None:
            for i in range(4):
                mine = (i % 2 == 0) == pauses_first
                pause = pausing_once(sync) if mine else no_pause

                def f(a: Tensor, pause: Callable[[], None] = pause) -> Tensor:
                    if not is_grad_enabled():  # finite differences
                        pause()
                    return (a @ w).tanh().sum()

                if not mine:
                    sync()  # the other thread is inside its finite differences
                x = Tensor(data.copy(), requires_grad=True)
                report = gradcheck(f, x)
                assert report.ok, str(report)
                if not mine:
                    report = gradcheck(f, x, order=2)
                    assert report.ok, str(report)
                    v = Value(float(data[0, 0]))
                    assert gradcheck(lambda a: (a * a).sigmoid(), v, order=2).ok
                    sync()

        return run

    run_threads(make(2, True), make(3, False))


def test_the_ones_cache_from_two_threads_stays_within_its_byte_budget():
    def fill(offset: int) -> Callable[[Callable[[], None]], None]:
        def run(sync: Callable[[], None]) -> None:
            sync()
            for i in range(200):
                n = 1000 * (i % 40) + offset
                ones = _ones_vector(n, np.dtype(np.float64))
                assert ones.shape == (n,) and not ones.flags.writeable
                assert ones.min(initial=1.0) == 1.0 and ones.max(initial=1.0) == 1.0

        return run

    run_threads(fill(1), fill(2))
    assert sum(v.nbytes for v in list(_ONES.values())) <= _ONES_MAX_BYTES
