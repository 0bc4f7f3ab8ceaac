"""tg.linalg's determinants: det, slogdet, logdet (and torch.slogdet)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..recording import _wrap
from ..tensor import Tensor
from ._common import _const, _eye, _square
from .decompositions import _Svd
from .solvers import _Inv

_slogdet_result = namedtuple("linalg_slogdet", ["sign", "logabsdet"])


_slogdet_top_result = namedtuple("slogdet", ["sign", "logabsdet"])


class _Det(Function):
    _node_name = "LinalgDetBackward0"

    @staticmethod
    def forward(ctx, A):
        out = _wrap(np.asarray(np.linalg.det(A._v), dtype=A._v.dtype))
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        A, d = ctx.saved_tensors
        return _det_backward(A, d, g)


def _det_backward(A: Tensor, d: Tensor, g: Tensor) -> Tensor:
    """``g`` times d det / dA: det(A) A^{-T} where det(A) != 0; the cofactors through the SVD
    (torch's route) for a singular matrix: det(U) det(Vh) U diag(prod_{j != i} S_j) Vh."""
    nonzero = d._v != 0
    if nonzero.all():
        return (g * d).unsqueeze(-1).unsqueeze(-1) * _Inv.apply(A).mT
    from ..structural import stack, where

    n = A.shape[-1]
    U, S, Vh = _Svd.apply(A, False)
    alpha = _Det.apply(U) * _Det.apply(Vh)  # (+-1: orthogonal, never singular)
    ones = np.ones(n)
    others = []
    for i in range(n):  # prod_{j != i} S_j, exact where some S_j are 0
        keep = ones.copy()
        keep[i] = 0.0
        others.append((S * _const(keep, S._v) + _const(1.0 - keep, S._v)).prod(-1))
    D = stack(others, -1) * (g * alpha).unsqueeze(-1)
    singular = (U * D.unsqueeze(-2)) @ Vh
    if not nonzero.any():
        return singular
    mask = _const(nonzero, A._v).unsqueeze(-1).unsqueeze(-1) != 0
    safe = where(mask, A, _eye(n, A._v))  # (the inverse where it exists)
    regular = (g * d).unsqueeze(-1).unsqueeze(-1) * _Inv.apply(safe).mT
    return where(mask, regular, singular)


def det(A: Tensor) -> Tensor:
    """The determinant of each square matrix in ``A`` (torch.linalg.det); its gradient at a
    singular matrix is the cofactor matrix, through the SVD, as torch's."""
    _square(A, "linalg.det")
    return _Det.apply(A)


class _Slogdet(Function):
    _node_name = "LinalgSlogdetBackward0"

    @staticmethod
    def forward(ctx, A):
        sign, logabs = np.linalg.slogdet(A._v)
        sign = _wrap(np.asarray(sign, dtype=A._v.dtype))
        logabs = _wrap(np.asarray(logabs, dtype=A._v.dtype))
        ctx.save_for_backward(A)
        ctx.set_materialize_grads(False)  # (a backward from sign alone gives A no gradient)
        return sign, logabs

    @staticmethod
    def backward(ctx, _gsign, glogabs):
        if glogabs is None:
            return None
        (A,) = ctx.saved_tensors
        d = np.linalg.det(A._v)
        if np.all(d != 0):
            return glogabs.unsqueeze(-1).unsqueeze(-1) * _Inv.apply(A).mT
        # (a singular matrix: the cofactors over det(A) = 0, infinite as torch's; the signs of
        # the infinities follow NumPy's signed zero, not always torch's)
        d = _const(d, A._v)
        cofactors = _det_backward(A, d, _const(np.ones(d._v.shape), A._v))
        return cofactors * (glogabs / d).unsqueeze(-1).unsqueeze(-1)


def slogdet(A: Tensor) -> tuple[Tensor, Tensor]:
    """``(sign, logabsdet)`` of each square matrix in ``A`` (torch.linalg.slogdet, a named
    tuple); ``sign`` has a grad_fn, as torch's, but a zero gradient (real input)."""
    _square(A, "linalg.slogdet")
    return _slogdet_result(*_Slogdet.apply(A))


def _slogdet_top(A: Tensor) -> tuple[Tensor, Tensor]:
    """torch.slogdet: torch.linalg.slogdet under its top-level name."""
    _square(A, "linalg.slogdet")
    return _slogdet_top_result(*_Slogdet.apply(A))


def logdet(A: Tensor) -> Tensor:
    """The log of the determinant of each square matrix in ``A`` (torch.logdet): nan for a
    negative determinant, -inf for a zero one."""
    _square(A, "logdet")
    from ..structural import where

    sign, logabs = _Slogdet.apply(A)
    # (a 0-d array, not the float nan: tg.where promotes a Python float to float64)
    return where(sign < 0, _const(np.nan, A._v), logabs)
