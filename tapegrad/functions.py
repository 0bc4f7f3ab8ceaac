"""Module-level math: ``tapegrad.exp(x)``, ``tapegrad.sum(x, dim)`` ... -- made from the op table.

Every op whose ``Surface`` names a function is one here (surface.py makes them); only what is
not an op is written below.
"""

from __future__ import annotations

from .surface import FUNCTIONS
from .tensor import Tensor

globals().update(FUNCTIONS)


def is_tensor(x) -> bool:
    """Whether ``x`` is a tensor, as ``torch.is_tensor``."""
    return isinstance(x, Tensor)


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``, as ``torch.lerp``.

    >>> import tapegrad as tg
    >>> tg.lerp(tg.zeros(2), tg.ones(2), 0.25)
    tensor([0.2500, 0.2500])
    """
    return input.lerp(end, weight)


__all__ = [*FUNCTIONS, "is_tensor", "lerp"]
