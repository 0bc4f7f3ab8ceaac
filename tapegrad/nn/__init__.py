"""``tapegrad.nn``: a small torch.nn -- ``Module``, ``Parameter``, ``Linear``, containers,
activation and loss modules, ``Dropout``, ``Identity``, ``Flatten``, and ``nn.functional`` /
``nn.init``.  No convolutions, normalisation layers or recurrent cells yet.

>>> import tapegrad as tg
>>> tg.nn.Sequential(tg.nn.Linear(2, 16), tg.nn.Tanh(), tg.nn.Linear(16, 1))
Sequential(
  (0): Linear(in_features=2, out_features=16, bias=True)
  (1): Tanh()
  (2): Linear(in_features=16, out_features=1, bias=True)
)
"""

from . import functional, init
from .layers import *  # noqa: F403
from .layers import __all__ as _layers
from .module import Module, Parameter

__all__ = ["Module", "Parameter", "functional", "init", *_layers]
