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


__all__ = [*FUNCTIONS, "is_tensor"]
