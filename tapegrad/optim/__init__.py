"""``tapegrad.optim``: torch.optim's optimisers and learning-rate schedules for tapegrad tensors.

>>> import tapegrad as tg
>>> w = tg.zeros(3, requires_grad=True)
>>> opt = tg.optim.Adam([w], lr=0.1)
>>> for _ in range(3):
...     opt.zero_grad()
...     ((w - 1.0) ** 2).sum().backward()
...     opt.step()
>>> w
tensor([0.2984, 0.2984, 0.2984], requires_grad=True)
"""

from . import lr_scheduler
from .algorithms import SGD, Adagrad, Adam, AdamW, RMSprop
from .lbfgs import LBFGS
from .more_algorithms import ASGD, Adadelta, Adamax, NAdam, RAdam, Rprop
from .optimizer import Optimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LBFGS", "Adadelta",
           "Adamax", "NAdam", "RAdam", "ASGD", "Rprop", "lr_scheduler"]
