"""``Variable``: torch's pre-0.4 wrapper, which is now a plain tensor (old tutorials use it)."""

from __future__ import annotations

from ..tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, Tensor)


class Variable(metaclass=_VariableMeta):
    """``Variable(t, requires_grad=False)``: a tensor sharing ``t``'s storage, as torch's.

    >>> import tapegrad as tg
    >>> v = tg.autograd.Variable(tg.ones(2), requires_grad=True)
    >>> v.requires_grad, isinstance(v, tg.autograd.Variable)
    (True, True)
    """

    def __new__(cls, data: Tensor, requires_grad: bool = False, volatile: bool = False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        out = data.detach()
        if requires_grad:
            out.requires_grad_(True)
        return out
