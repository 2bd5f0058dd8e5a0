"""nn.optim: optimizers and learning-rate schedules with PyTorch's names, arguments and numbers.

>>> from autodiff import Tensor
>>> from nn.optim import Adam, lr_scheduler
>>> w = Tensor([1.0, -2.0], requires_grad=True)
>>> optimizer = Adam([w], lr=0.1)
>>> schedule = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
>>> for epoch in range(4):
...     optimizer.zero_grad()
...     (w * w).sum().backward()
...     optimizer.step()
...     schedule.step()
>>> schedule.get_last_lr()
[0.025]
"""

from nn.optim import lr_scheduler
from nn.optim.adam import Adam, AdamW
from nn.optim.optimizer import Optimizer
from nn.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
