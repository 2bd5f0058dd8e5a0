"""Learning-rate schedules, as ``torch.optim.lr_scheduler`` (same names, arguments and numbers).

A schedule sets ``group["lr"]`` of every parameter group of its optimizer. Make it after the
optimizer and call ``step()`` once per epoch, after the epoch's ``optimizer.step()`` calls; its
constructor sets the epoch-0 rate and stores each group's starting rate as ``initial_lr``.

``get_lr()`` is PyTorch's recursive ("chainable") form, which scales the current rate, so it
composes with other changes to it and gives PyTorch's numbers to the last bit.
``_get_closed_form_lr()`` is the textbook formula in ``last_epoch`` and ``base_lrs``; the two
agree to rounding when the schedule is the only thing changing the rate.

>>> from autodiff import Value
>>> from nn.optim import SGD
>>> from nn.optim.lr_scheduler import StepLR
>>> optimizer = SGD([Value(0.0)], lr=1.0)
>>> schedule = StepLR(optimizer, step_size=2, gamma=0.5)
>>> rates = []
>>> for epoch in range(5):
...     rates.append(schedule.get_last_lr()[0])    # ...the epoch's training uses this rate
...     schedule.step()
>>> rates
[1.0, 1.0, 0.5, 0.5, 0.25]
"""

from __future__ import annotations

import math
from bisect import bisect_right
from typing import Any, Callable, Sequence

from nn.optim.optimizer import Optimizer, check_number

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "StepLR",
    "MultiStepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "LinearLR",
    "SequentialLR",
    "ReduceLROnPlateau",
]


def _check_int(owner: str, name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{owner}: {name} must be an integer >= {low}, got {value!r}")


def _check_optimizer(owner: str, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{owner}: expected an nn.optim optimizer, got {type(optimizer).__name__}")


class LRScheduler:
    """Base class: ``step()``, ``get_last_lr()``, ``last_epoch``, ``base_lrs``, and
    ``state_dict()`` / ``load_state_dict()`` (every attribute but the optimizer)."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        _check_optimizer(name, optimizer)
        _check_int(name, "last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{name}: param_groups[{i}] has no 'initial_lr', needed to resume at "
                    f"last_epoch={last_epoch}: load the optimizer's state_dict first"
                )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Set the rates of the first epoch (the constructor's step)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The rates for ``last_epoch``, from the current ones (PyTorch's chainable form)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr()")

    def _get_closed_form_lr(self) -> list[float]:
        """The rates at ``last_epoch`` by the schedule's formula in ``base_lrs``."""
        return self.get_lr()

    def step(self) -> None:
        """Move to the next epoch and set its learning rate in every group."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._get_closed_form_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rate of each group, as last set by this schedule."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer: plain numbers, strings and lists."""
        return {k: _copy(v) for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what `state_dict` returned (of a schedule of the same kind)."""
        unknown = sorted(set(state_dict) - set(vars(self))) if isinstance(state_dict, dict) else []
        if not isinstance(state_dict, dict) or unknown:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: not a state of this schedule "
                f"(unknown entries {unknown})"
            )
        self.__dict__.update({k: _copy(v) for k, v in state_dict.items()})


def _copy(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(epoch); `lr_lambda` is one function or one per group.

    micrograd's demo decays its rate as 1.0 - 0.9 k / 100 from base rate 1.0:

    >>> from autodiff import Value
    >>> from nn.optim import SGD
    >>> schedule = LambdaLR(SGD([Value(0.0)], lr=1.0), lambda k: 1.0 - 0.9 * k / 100)
    >>> schedule.step()
    >>> schedule.get_last_lr()
    [0.991]

    The functions are not saved by `state_dict` (as in PyTorch): pass them again when loading.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer("LambdaLR", optimizer)
        n = len(optimizer.param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(lambdas) != n:
            raise ValueError(
                f"LambdaLR: expected {n} lr_lambdas (one per group), got {len(lambdas)}"
            )
        for f in lambdas:
            if not callable(f):
                raise TypeError(f"LambdaLR: lr_lambda must be callable, got {f!r}")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * f(self.last_epoch) for f, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        state = {k: _copy(v) for k, v in vars(self).items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None] * len(self.lr_lambdas)
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = {k: v for k, v in state_dict.items() if k != "lr_lambdas"}
        lambdas = self.lr_lambdas
        super().load_state_dict(state)
        self.lr_lambdas = lambdas


class StepLR(LRScheduler):
    """lr = base_lr * gamma ** (epoch // step_size): decay by `gamma` every `step_size` epochs.

    >>> from autodiff import Value
    >>> from nn.optim import SGD
    >>> schedule = StepLR(SGD([Value(0.0)], lr=0.05), step_size=30, gamma=0.1)
    >>> for _ in range(30):
    ...     schedule.step()
    >>> schedule.last_epoch, schedule.get_last_lr()
    (30, [0.005000000000000001])
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        _check_int("StepLR", "step_size", step_size, 1)
        check_number("StepLR", "gamma", gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr = base_lr * gamma ** (number of milestones <= epoch).

    >>> from autodiff import Value
    >>> from nn.optim import SGD
    >>> schedule = MultiStepLR(SGD([Value(0.0)], lr=1.0), milestones=[2, 3], gamma=0.5)
    >>> rates = [schedule.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     schedule.step()
    ...     rates.append(schedule.get_last_lr()[0])
    >>> rates
    [1.0, 1.0, 0.5, 0.25, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Sequence[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        milestones = list(milestones)
        for m in milestones:
            _check_int("MultiStepLR", "every milestone", m, 0)
        check_number("MultiStepLR", "gamma", gamma)
        self.milestones = sorted(milestones)  # a milestone listed twice decays twice
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        hits = self.milestones.count(self.last_epoch)
        if not hits:
            return self._current_lrs()
        return [lr * self.gamma**hits for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        passed = bisect_right(self.milestones, self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma ** epoch.

    >>> from autodiff import Value
    >>> from nn.optim import SGD
    >>> schedule = ExponentialLR(SGD([Value(0.0)], lr=1.0), gamma=0.5)
    >>> schedule.step(); schedule.step()
    >>> schedule.get_last_lr()
    [0.25]
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_number("ExponentialLR", "gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:  # resuming: the constructor must not decay once more
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2: half a cosine
    from base_lr down to eta_min over T_max epochs (and back up after, as PyTorch).

    >>> from autodiff import Value
    >>> from nn.optim import SGD
    >>> schedule = CosineAnnealingLR(SGD([Value(0.0)], lr=1.0), T_max=4)
    >>> rates = [schedule.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     schedule.step()
    ...     rates.append(round(schedule.get_last_lr()[0], 6))
    >>> rates
    [1.0, 0.853553, 0.5, 0.146447, 0.0]
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        _check_int("CosineAnnealingLR", "T_max", T_max, 1)
        check_number("CosineAnnealingLR", "eta_min", eta_min)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:  # resumed mid-schedule: the formula itself
            return self._get_closed_form_lr()
        if (t - 1 - T) % (2 * T) == 0:  # leaving the bottom: the ratio below would divide by 0
            return [
                lr + (base - low) * (1 - math.cos(math.pi / T)) / 2
                for base, lr in zip(self.base_lrs, self._current_lrs())
            ]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - low) + low for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        t, T, low = self.last_epoch, self.T_max, self.eta_min
        return [low + (base - low) * (1 + math.cos(math.pi * t / T)) / 2 for base in self.base_lrs]


class LinearLR(LRScheduler):
    """lr = base_lr * factor, the factor going linearly from `start_factor` at epoch 0 to
    `end_factor` at epoch `total_iters` and staying there: a warm-up.

    >>> from autodiff import Value
    >>> from nn.optim import SGD
    >>> schedule = LinearLR(SGD([Value(0.0)], lr=1.0), start_factor=0.25, total_iters=3)
    >>> rates = [schedule.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     schedule.step()
    ...     rates.append(schedule.get_last_lr()[0])
    >>> rates
    [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        check_number("LinearLR", "start_factor", start_factor)
        check_number("LinearLR", "end_factor", end_factor)
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor!r}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor!r}")
        _check_int("LinearLR", "total_iters", total_iters, 1)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * start for lr in self._current_lrs()]
        if self._is_initial or t > self.total_iters:
            return self._current_lrs()
        # the ratio of this epoch's factor to the last one's
        ratio = 1.0 + (end - start) / (self.total_iters * start + (t - 1) * (end - start))
        return [lr * ratio for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        factor = start + (end - start) * min(self.total_iters, t) / self.total_iters
        return [base * factor for base in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run `schedulers` one after another, switching at each epoch of `milestones`: e.g. a
    LinearLR warm-up for 5 epochs, then a CosineAnnealingLR (which restarts from epoch 0).

    >>> from autodiff import Value
    >>> from nn.optim import SGD
    >>> optimizer = SGD([Value(0.0)], lr=1.0)
    >>> warm_up = LinearLR(optimizer, start_factor=0.5, total_iters=2)
    >>> decay = ExponentialLR(optimizer, gamma=0.5)
    >>> schedule = SequentialLR(optimizer, [warm_up, decay], milestones=[2])
    >>> rates = [schedule.get_last_lr()[0]]
    >>> for _ in range(4):
    ...     schedule.step()
    ...     rates.append(schedule.get_last_lr()[0])
    >>> rates
    [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer("SequentialLR", optimizer)
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR: needs at least one scheduler, got none")
        for i, s in enumerate(schedulers):
            if not isinstance(s, LRScheduler) or isinstance(s, (SequentialLR, ReduceLROnPlateau)):
                raise TypeError(
                    f"SequentialLR: scheduler {i} must be an epoch schedule, got {type(s).__name__}"
                )
            if s.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: scheduler {i} belongs to another optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} "
                f"milestones, got {milestones!r}"
            )
        for m in milestones:
            _check_int("SequentialLR", "every milestone", m, 1)
        if milestones != sorted(milestones):
            raise ValueError(f"SequentialLR: milestones must increase, got {milestones!r}")
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        # start from the initial rates, undoing each schedule's constructor step
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for s in schedulers:
            s.last_epoch -= 1
        first = schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        i = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            scheduler._update_lr(0)  # the next schedule starts at its own epoch 0
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = {
            k: _copy(v) for k, v in vars(self).items() if k not in ("optimizer", "_schedulers")
        }
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        inner = state_dict.get("_schedulers")
        if not isinstance(inner, list) or len(inner) != len(self._schedulers):
            raise ValueError(
                f"SequentialLR.load_state_dict: expected {len(self._schedulers)} scheduler "
                f"states, got {inner!r:.60}"
            )
        schedulers = self._schedulers
        super().load_state_dict({k: v for k, v in state_dict.items() if k != "_schedulers"})
        self._schedulers = schedulers
        for s, saved in zip(schedulers, inner):
            s.load_state_dict(saved)


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by `factor` once a metric has not improved for more than `patience`
    epochs: ``step(metric)`` after each epoch's validation, as PyTorch's.

    `mode` "min" (a loss) or "max" (an accuracy); an improvement must beat the best by
    `threshold` (relative in "rel" `threshold_mode`, absolute in "abs"); after a reduction
    `cooldown` epochs pass before counting again; rates never go below `min_lr` (one number or
    one per group), and changes smaller than `eps` are skipped.

    >>> from autodiff import Value
    >>> from nn.optim import SGD
    >>> optimizer = SGD([Value(0.0)], lr=1.0)
    >>> schedule = ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    >>> for loss in [3.0, 2.0, 2.0, 2.0, 2.0]:
    ...     schedule.step(loss)
    >>> schedule.get_last_lr()
    [0.5]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        owner = "ReduceLROnPlateau"
        _check_optimizer(owner, optimizer)
        check_number(owner, "factor", factor, high=1.0)
        _check_int(owner, "patience", patience, 0)
        _check_int(owner, "cooldown", cooldown, 0)
        check_number(owner, "threshold", threshold)
        check_number(owner, "eps", eps)
        if mode not in ("min", "max"):
            raise ValueError(f"{owner}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"{owner}: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}"
            )
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(
                    f"{owner}: expected {n} min_lrs (one per group), got {len(min_lr)}"
                )
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        for value in self.min_lrs:
            check_number(owner, "min_lr", value)
        self.optimizer = optimizer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: Any) -> None:  # type: ignore[override]
        """Record this epoch's metric (a number or a one-element Tensor/Value)."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(self.min_lrs) != len(groups):
            if self.default_min_lr is None:
                raise ValueError(
                    f"ReduceLROnPlateau: the optimizer now has {len(groups)} groups but "
                    f"{len(self.min_lrs)} min_lrs were given"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, low in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, low)
            if old - new > self.eps:
                group["lr"] = new

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return a < best * (1.0 - self.threshold)
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold
