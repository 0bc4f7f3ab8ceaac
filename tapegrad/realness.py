"""torch's complex-number API on real tensors: what a program written for both kinds calls.

tapegrad's tensors are real, so ``x.real``, ``x.conj()`` and ``x.resolve_conj()`` are ``x``
itself (as torch's are for a real tensor), ``angle`` is 0 or pi, and ``x.imag`` is refused as
torch refuses it.  Complex data itself is refused where tensors are made (``dtypes.complex_error``).
"""

from __future__ import annotations

import math

import numpy as np

from .node import rename
from .products import add_methods
from .recording import _as_tensor, _wrap
from .tensor import Tensor


def real(input) -> Tensor:
    """``input`` itself: a real tensor is its own real part, as ``torch.real``.

    >>> import tapegrad as tg
    >>> x = tg.ones(2); tg.real(x) is x
    True
    """
    return _as_tensor(input)


def conj(input) -> Tensor:
    """``input`` itself (a real tensor is its own conjugate), as ``torch.conj``."""
    return _as_tensor(input)


def resolve_conj(input) -> Tensor:
    """``input`` itself, as ``torch.resolve_conj`` of a real tensor."""
    return _as_tensor(input)


def resolve_neg(input) -> Tensor:
    """``input`` itself, as ``torch.resolve_neg`` of a real tensor."""
    return _as_tensor(input)


def conj_physical(input) -> Tensor:
    """A copy of ``input`` (a real tensor's conjugate), as ``torch.conj_physical``."""
    return _as_tensor(input).clone()


def is_complex(input) -> bool:
    """False: tapegrad's tensors are real."""
    return False


def is_conj(input) -> bool:
    """False: no tensor of tapegrad's is a lazy conjugate."""
    return False


def is_neg(input) -> bool:
    """False: no tensor of tapegrad's is a lazy negation."""
    return False


def angle(input) -> Tensor:
    """The argument of each element: 0 where it is >= 0, pi where negative, NaN kept, as
    ``torch.angle`` of a real tensor (gradient zero; an integral tensor gives the default float).

    >>> import tapegrad as tg
    >>> tg.angle(tg.tensor([2.0, -1.0]))
    tensor([0.0000, 3.1416])
    """
    x = _as_tensor(input)
    v = np.asarray(x._v)
    if v.dtype.kind != "f":
        from .recording import _DEFAULT_FLOAT

        x, v = _wrap(v.astype(_DEFAULT_FLOAT)), v.astype(_DEFAULT_FLOAT)
    from .structural import where

    # NaN stays NaN through x * 0, which also keeps the graph (its gradient: torch's zero)
    constant = _wrap(np.where(v < 0, math.pi, 0.0).astype(v.dtype))
    return rename(where(_wrap(np.isnan(v)), x * 0.0, constant), "AngleBackward0")


def _imag(self):
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


add_methods(conj, resolve_conj, resolve_neg, conj_physical, is_complex, is_conj, is_neg, angle)
Tensor.real = property(real, doc="``self``: a real tensor is its own real part.")
Tensor.imag = property(_imag, doc="Refused, as torch refuses it for a real tensor.")
