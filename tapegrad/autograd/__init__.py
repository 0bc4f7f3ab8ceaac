"""``tapegrad.autograd``: torch.autograd's API over the tape.

``backward`` and ``grad`` differentiate recorded graphs; with ``create_graph=True`` the gradient
computation is itself recorded (``graph.py``), so it can be differentiated again.  ``Function``
adds an operation whose backward is Python, ``functional`` has torch.autograd.functional's
``vjp``/``jvp``/``jacobian``/``hessian``/``hvp``/``vhp``.

>>> import tapegrad as tg
>>> x = tg.tensor(2.0, requires_grad=True)
>>> (dy,) = tg.autograd.grad(x ** 3, x, create_graph=True)
>>> (d2y,) = tg.autograd.grad(dy, x)
>>> dy.item(), d2y.item()
(12.0, 12.0)
"""

from ..grad_mode import enable_grad, no_grad, set_grad_enabled
from . import functional, grad_mode
from .api import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .gradcheck import gradcheck, gradgradcheck
from .variable import Variable

__all__ = [
    "backward", "grad", "Function", "FunctionCtx", "once_differentiable", "gradcheck",
    "gradgradcheck", "no_grad", "enable_grad", "set_grad_enabled", "grad_mode", "functional",
    "Variable",
]
