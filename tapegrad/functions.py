"""Module-level math: ``tapegrad.exp(x)``, ``tapegrad.sum(x, dim)`` ... -- made from the op table.

Every op whose ``Surface`` names a function is one here (surface.py makes them); only what is
not an op is written below.
"""

from __future__ import annotations

from .node import rename
from .products import add_methods
from .structural import where
from .surface import FUNCTIONS
from .tensor import Tensor

globals().update(FUNCTIONS)


def is_tensor(x) -> bool:
    """Whether ``x`` is a tensor, as ``torch.is_tensor``."""
    return isinstance(x, Tensor)


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``, computed as torch does (from the nearer end); also
    ``Tensor.lerp``.

    >>> import tapegrad as tg
    >>> tg.lerp(tg.zeros(2), tg.ones(2), 0.25)
    tensor([0.2500, 0.2500])
    """
    diff = end - input
    if isinstance(weight, Tensor):
        out = where(weight < 0.5, input + weight * diff, end - diff * (1.0 - weight))
        return rename(out, "LerpBackward1")
    weight = float(weight)
    out = input + diff * weight if weight < 0.5 else end - diff * (1.0 - weight)
    return rename(out, "LerpBackward0")


def _linalg_method(name: str):
    """``Tensor.<name>`` for one of torch's top-level linear algebra names (tg.linalg is
    imported at the first call, not with tapegrad)."""

    def method(self, *args, **kwargs):
        from .linalg import TOP_LEVEL

        return TOP_LEVEL[name](self, *args, **kwargs)

    method.__name__, method.__qualname__ = name, f"Tensor.{name}"
    return method


for _name in ("inverse", "det", "logdet", "slogdet", "cholesky", "pinverse", "svd", "qr",
              "cross", "cholesky_inverse", "cholesky_solve", "lu", "lu_solve", "matrix_exp",
              "matrix_power", "triangular_solve", "orgqr"):
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _linalg_method(_name))

add_methods(lerp)


__all__ = [*FUNCTIONS, "is_tensor", "lerp"]
