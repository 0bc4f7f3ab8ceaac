"""tg.linalg's ``_ex`` variants: inv_ex, solve_ex, cholesky_ex -- the same Functions (and
gradients) as inv, solve and cholesky, which do not raise for a singular or
non-positive-definite matrix unless ``check_errors``; an int32 ``info`` says which failed (0:
none), as LAPACK's."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..recording import _wrap
from ..tensor import Tensor
from ._common import _positive_definite_error, _singular_error, _solve_singular, _square
from .decompositions import _Cholesky
from .lu import _lu_np, _permutation
from .solvers import _check_solve, _Inv, _Solve
from .triangular import _substitute

__all__ = ["inv_ex", "solve_ex", "cholesky_ex"]

_inv_ex_result = namedtuple("linalg_inv_ex", ["inverse", "info"])
_solve_ex_result = namedtuple("linalg_solve_ex", ["result", "info"])
_cholesky_ex_result = namedtuple("linalg_cholesky_ex", ["L", "info"])


def _lu_solve_np(a: np.ndarray, b: np.ndarray):
    """``a^{-1} b`` through getrf's LU (inf / nan past a zero pivot, as LAPACK's) and getrf's
    info, for matrices NumPy's solve refuses."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    lu, piv, info = _lu_np(a)
    pb = np.swapaxes(_permutation(piv, a.shape[-1], a.dtype), -1, -2) @ b
    y = _substitute(lu, pb, False, True)
    return _substitute(lu, y, True, False), info


class _InvEx(_Inv):
    @staticmethod
    def forward(ctx, A):
        a = A._v
        try:
            x, info = np.linalg.inv(a), np.zeros(a.shape[:-2], np.int32)
        except np.linalg.LinAlgError:
            x, info = _lu_solve_np(a, np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype),
                                                      a.shape))
        out, info = _wrap(np.ascontiguousarray(x, dtype=a.dtype)), _wrap(info)
        ctx.mark_non_differentiable(info)
        ctx.save_for_backward(out)
        return out, info

    @staticmethod
    def backward(ctx, g, _ginfo):
        return _Inv.backward(ctx, g)


def inv_ex(A: Tensor, *, check_errors: bool = False):
    """``(inverse, info)`` (torch.linalg.inv_ex): ``info`` the 1-based index of the first zero
    pivot of each matrix's LU (int32), the inverse then inf / nan; with ``check_errors``, inv's
    error.

    >>> import tapegrad as tg
    >>> tg.linalg.inv_ex(tg.tensor([[1.0, 2.0], [2.0, 4.0]])).info.item()
    2
    """
    a = _square(A, "linalg.inv_ex")
    out = _inv_ex_result(*_InvEx.apply(A))
    if check_errors and out.info._v.any():
        raise _singular_error(a, "linalg.inv_ex")
    return out


class _SolveEx(_Solve):
    @staticmethod
    def forward(ctx, A, B, left, vector):
        a, b = A._v, B._v
        if vector:
            b = b[..., None]
        elif not left:
            a, b = np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        try:
            x, info = np.linalg.solve(a, b), np.zeros(batch, np.int32)
        except np.linalg.LinAlgError:
            x, info = _lu_solve_np(a, b)
        x = x[..., 0] if vector else x if left else np.swapaxes(x, -1, -2)
        out, info = _wrap(np.ascontiguousarray(x, dtype=A._v.dtype)), _wrap(info)
        ctx.left, ctx.vector = left, vector
        ctx.mark_non_differentiable(info)
        ctx.save_for_backward(A, out)
        return out, info

    @staticmethod
    def backward(ctx, g, _ginfo):
        return _Solve.backward(ctx, g)


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False):
    """``(result, info)`` (torch.linalg.solve_ex): :func:`solve`'s result, and ``info`` the
    first zero pivot of each matrix's LU (int32; 0 if none).

    >>> import tapegrad as tg
    >>> tg.linalg.solve_ex(tg.tensor([[2.0, 0.0], [0.0, 4.0]]), tg.tensor([2.0, 2.0])).result
    tensor([1.0000, 0.5000])
    """
    vector = _check_solve(A, B, left)
    out = _solve_ex_result(*_SolveEx.apply(A, B, bool(left), vector))
    if check_errors and out.info._v.any():
        err = _solve_singular(A._v, B._v[..., None] if vector else B._v)
        raise type(err)(f"torch.linalg.solve_ex: {str(err).split(': ', 1)[1]}")
    return out


def _potf2(m: np.ndarray):
    """LAPACK potf2's partial factor and info for one matrix that is not positive-definite:
    the columns before the failing one factored, the failing diagonal entry left unrooted,
    the rest as they were (lower triangle)."""
    L = np.tril(np.array(m, dtype=np.float64))
    n = L.shape[0]
    for j in range(n):
        d = L[j, j] - L[j, :j] @ L[j, :j]
        if not d > 0:
            L[j, j] = d
            return L, j + 1
        L[j, j] = np.sqrt(d)
        L[j + 1:, j] = (L[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    return L, 0


class _CholeskyEx(_Cholesky):
    @staticmethod
    def forward(ctx, A, upper):
        a = A._v
        try:
            lower, info = np.linalg.cholesky(a), np.zeros(a.shape[:-2], np.int32)
        except np.linalg.LinAlgError:
            flat = a.reshape((-1,) + a.shape[-2:])
            lower = np.empty(flat.shape, a.dtype)
            info = np.zeros(flat.shape[0], np.int32)
            for k, m in enumerate(flat):
                try:
                    lower[k] = np.linalg.cholesky(m)
                except np.linalg.LinAlgError:
                    lower[k], info[k] = _potf2(m)
            lower, info = lower.reshape(a.shape), info.reshape(a.shape[:-2])
        ctx.upper = upper
        out = _wrap(np.ascontiguousarray(np.swapaxes(lower, -1, -2)) if upper
                    else np.ascontiguousarray(lower))
        info = _wrap(info)
        ctx.mark_non_differentiable(info)
        ctx.save_for_backward(out)
        return out, info

    @staticmethod
    def backward(ctx, g, _ginfo):
        return _Cholesky.backward(ctx, g)


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False):
    """``(L, info)`` (torch.linalg.cholesky_ex): ``info`` the order of the first leading minor
    that is not positive-definite (int32; 0 if none), ``L`` then LAPACK's partial factor; with
    ``check_errors``, cholesky's error.

    >>> import tapegrad as tg
    >>> tg.linalg.cholesky_ex(tg.tensor([[4.0, 2.0], [2.0, 2.0]])).L.tolist()
    [[2.0, 0.0], [1.0, 1.0]]
    """
    a = _square(A, "linalg.cholesky_ex")
    out = _cholesky_ex_result(*_CholeskyEx.apply(A, bool(upper)))
    if check_errors and out.info._v.any():
        raise _positive_definite_error(a, "linalg.cholesky_ex")
    return out
