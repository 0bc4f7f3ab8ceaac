"""tg.linalg's LU decomposition: lu_factor, lu_factor_ex and lu (Functions: partial-pivoting
elimination in NumPy, torch's backward for square, tall and wide matrices) and lu_solve
(composed of the pivots' permutation and two triangular solves, so its gradient reaches LU and
B as torch's)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..recording import _wrap
from ..tensor import Tensor
from ._common import _TORCH_TYPE, _broadcast_batches, _const
from .triangular import _SolveTriangular

__all__ = ["lu_factor", "lu_factor_ex", "lu", "lu_solve"]

_lu_factor_result = namedtuple("linalg_lu_factor", ["LU", "pivots"])
_lu_factor_ex_result = namedtuple("linalg_lu_factor_ex", ["LU", "pivots", "info"])
_lu_result = namedtuple("linalg_lu", ["P", "L", "U"])


def _lu_np(a: np.ndarray):
    """LAPACK getrf's ``(LU, pivots, info)`` for each matrix of ``a``: partial pivoting,
    1-based int32 pivots, info the first exactly-zero pivot (1-based; 0 if none)."""
    batch, (m, n) = a.shape[:-2], a.shape[-2:]
    k = min(m, n)
    lu = np.array(a, dtype=a.dtype).reshape((int(np.prod(batch)), m, n))
    count = lu.shape[0]
    piv = np.zeros((count, k), np.int32)
    info = np.zeros(count, np.int32)
    at = np.arange(count)
    for j in range(k):
        p = j + np.argmax(np.abs(lu[:, j:, j]), axis=1)
        piv[:, j] = p + 1
        row = lu[at, j].copy()
        lu[at, j] = lu[at, p]
        lu[at, p] = row
        pivot = lu[:, j, j]
        zero = pivot == 0
        info[zero & (info == 0)] = j + 1
        # (a zero pivot's column below it is all zeros: it is left as it is, as getrf's)
        factor = lu[:, j + 1:, j] / np.where(zero, 1, pivot)[:, None]
        lu[:, j + 1:, j] = factor
        lu[:, j + 1:, j + 1:] -= factor[:, :, None] * lu[:, j, None, j + 1:]
    return lu.reshape(a.shape), piv.reshape(batch + (k,)), info.reshape(batch)


def _permutation(piv: np.ndarray, m: int, dtype) -> np.ndarray:
    """P (with ``A = P L U``) from getrf's pivots."""
    flat = piv.reshape((int(np.prod(piv.shape[:-1])), piv.shape[-1])) - 1
    perm = np.tile(np.arange(m), (flat.shape[0], 1))
    at = np.arange(flat.shape[0])
    for j in range(flat.shape[1]):
        row = perm[at, j].copy()
        perm[at, j] = perm[at, flat[:, j]]
        perm[at, flat[:, j]] = row
    P = np.zeros((flat.shape[0], m, m), dtype)
    P[at[:, None], perm, np.arange(m)[None, :]] = 1
    return P.reshape(piv.shape[:-1] + (m, m))


def _unpack(lu: np.ndarray):
    m, n = lu.shape[-2:]
    k = min(m, n)
    L = np.tril(lu[..., :, :k], -1) + np.eye(m, k, dtype=lu.dtype)
    return L, np.triu(lu[..., :k, :])


def _tri(n: int, k: int, like: np.ndarray) -> Tensor:
    return _const(np.tril(np.ones((n, n)), k), like)


def _lu_backward(P: Tensor, L: Tensor, U: Tensor, gL, gU) -> Tensor:
    """torch's linalg_lu_backward, in tensor operations.  In P^T A's coordinates: for square
    A, gA = L^{-T} (tril_{-1}(L^T gL) + triu(gU U^T)) U^{-T}; a wide A = L [U1 U2] adds
    gA2 = L^{-T} gU2 and L's share of U2 = L^{-1} A2; a tall A = [L1; L2] U adds
    gA2 = gL2 U^{-T} and U's share of L2 = A2 U^{-1}."""
    from ..structural import cat

    m, n = L.shape[-2], U.shape[-1]
    k = min(m, n)
    like = L._v
    if gL is None:
        gL = _const(np.zeros(tuple(L.shape)), like)
    if gU is None:
        gU = _const(np.zeros(tuple(U.shape)), like)
    if m == n:
        return P @ _square_lu_backward(L, U, gL, gU)
    if m < n:
        U1, U2, gU1, gU2 = U[..., :k], U[..., k:], gU[..., :k], gU[..., k:]
        gA2 = _SolveTriangular.apply(L.mT, gU2, True, True, True)
        gL = gL - gA2 @ U2.mT
        return P @ cat([_square_lu_backward(L, U1, gL, gU1), gA2], -1)
    L1, L2, gL1, gL2 = L[..., :k, :], L[..., k:, :], gL[..., :k, :], gL[..., k:, :]
    gA2 = _SolveTriangular.apply(U.mT, gL2, False, False, False)  # gL2 U^{-T}
    gU = gU - L2.mT @ gA2
    return P @ cat([_square_lu_backward(L1, U, gL1, gU), gA2], -2)


def _square_lu_backward(L, U, gL, gU):
    k = L.shape[-1]
    phi = (L.mT @ gL) * _tri(k, -1, L._v) + (gU @ U.mT) * _tri(k, 0, L._v).mT
    x = _SolveTriangular.apply(L.mT, phi, True, True, True)  # L^{-T} phi
    return _SolveTriangular.apply(U.mT, x, False, False, False)  # ... U^{-T}


class _Lu(Function):
    _node_name = "LinalgLuBackward0"

    @staticmethod
    def forward(ctx, A):
        lu_, piv, _ = _lu_np(A._v)
        L, U = _unpack(lu_)
        P = _wrap(_permutation(piv, A._v.shape[-2], A._v.dtype))
        L, U = _wrap(np.ascontiguousarray(L)), _wrap(np.ascontiguousarray(U))
        ctx.mark_non_differentiable(P)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(P, L, U)
        return P, L, U

    @staticmethod
    def backward(ctx, _gP, gL, gU):
        if gL is None and gU is None:
            return None
        P, L, U = ctx.saved_tensors
        return _lu_backward(P, L, U, gL, gU)


class _LuFactor(Function):
    _node_name = "LinalgLuFactorExBackward0"

    @staticmethod
    def forward(ctx, A):
        lu_, piv, info = _lu_np(A._v)
        LU, pivots, info = _wrap(lu_), _wrap(piv), _wrap(info)
        ctx.mark_non_differentiable(pivots, info)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(LU)
        ctx.P = _permutation(piv, A._v.shape[-2], A._v.dtype)
        return LU, pivots, info

    @staticmethod
    def backward(ctx, g, _gpivots, _ginfo):
        if g is None:
            return None
        (LU,) = ctx.saved_tensors
        m, n = LU.shape[-2:]
        k = min(m, n)
        like = LU._v
        L = LU[..., :, :k] * _const(np.tril(np.ones((m, k)), -1), like) \
            + _const(np.eye(m, k), like)
        U = LU[..., :k, :] * _const(np.triu(np.ones((k, n))), like)
        gL = g[..., :, :k] * _const(np.tril(np.ones((m, k)), -1), like)
        gU = g[..., :k, :] * _const(np.triu(np.ones((k, n))), like)
        return _lu_backward(_wrap(ctx.P), L, U, gL, gU)


def _check(A, fname: str) -> np.ndarray:
    if not isinstance(A, Tensor):
        raise TypeError(f"{fname.split('.')[-1]}(): argument 'A' (position 1) must be Tensor, "
                        f"not {type(A).__name__}")
    a = A._v
    if a.ndim < 2:
        raise RuntimeError(f"{fname}: Expected tensor with 2 or more dimensions. Got "
                           f"size: {list(a.shape)} instead")
    if a.dtype.kind != "f":
        raise NotImplementedError(f'"lu_cpu" not implemented for '
                                  f"'{_TORCH_TYPE.get(a.dtype.name, a.dtype.name)}'")
    return a


def _no_pivoting(pivot: bool) -> None:
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")


def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False):
    """``(LU, pivots, info)`` of the LU decomposition with partial pivoting of each matrix of
    ``A`` (torch.linalg.lu_factor_ex): ``L`` below the diagonal of ``LU`` (unit diagonal),
    ``U`` on and above; 1-based int32 ``pivots``; ``info`` the first zero pivot (int32).

    >>> import tapegrad as tg
    >>> LU, pivots, info = tg.linalg.lu_factor_ex(tg.tensor([[1.0, 2.0], [3.0, 4.0]]))
    >>> LU.tolist(), pivots.tolist(), info.item()
    ([[3.0, 4.0], [0.3333333333333333, 0.6666666666666667]], [2, 2], 0)
    """
    _check(A, "torch.lu_factor")
    _no_pivoting(pivot)
    out = _lu_factor_ex_result(*_LuFactor.apply(A))
    if check_errors:
        _raise_zero_pivot(out.info._v, "torch.linalg.lu_factor_ex")
    return out


def _raise_zero_pivot(info: np.ndarray, fname: str) -> None:
    flat = info.reshape(-1)
    bad = np.flatnonzero(flat)
    if bad.size:
        b = int(bad[0])
        prefix = f"(Batch element {b}): " if info.ndim else ""
        k = int(flat[b])
        raise RuntimeError(f"{fname}: {prefix}U[{k},{k}] is zero and using it on lu_solve "
                           "would result in a division by zero. If you still want to perform "
                           "the factorization, consider calling linalg.lu(A, pivot) or "
                           "linalg.lu_factor_ex(A, pivot)")


def lu_factor(A: Tensor, *, pivot: bool = True):
    """``(LU, pivots)`` of :func:`lu_factor_ex`, as torch.linalg.lu_factor: an error for a
    matrix with a zero pivot.

    >>> import tapegrad as tg
    >>> tg.linalg.lu_factor(tg.tensor([[0.0, 1.0], [2.0, 3.0]])).pivots.tolist()
    [2, 2]
    """
    _check(A, "torch.lu_factor")
    _no_pivoting(pivot)
    LU, pivots, info = _LuFactor.apply(A)
    _raise_zero_pivot(info._v, "torch.linalg.lu_factor")
    return _lu_factor_result(LU, pivots)


def lu(A: Tensor, *, pivot: bool = True):
    """``(P, L, U)`` with ``A = P L U`` (torch.linalg.lu): ``L`` (m, k) unit lower triangular,
    ``U`` (k, n) upper, k = min(m, n); differentiable as torch's.

    >>> import tapegrad as tg
    >>> P, L, U = tg.linalg.lu(tg.tensor([[0.0, 1.0], [2.0, 3.0]]))
    >>> P.tolist(), L.tolist(), U.tolist()
    ([[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]], [[2.0, 3.0], [0.0, 1.0]])
    """
    _check(A, "linalg.lu")
    _no_pivoting(pivot)
    return _lu_result(*_Lu.apply(A))


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True,
             adjoint: bool = False) -> Tensor:
    """The solution of ``A X = B`` (``X A = B`` if not ``left``; ``A^T`` for ``A`` if
    ``adjoint``) from :func:`lu_factor`'s ``LU, pivots``, as torch.linalg.lu_solve; composed
    of two triangular solves and the pivots' permutation, so differentiable in ``LU`` and
    ``B``.

    >>> import tapegrad as tg
    >>> A = tg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tg.float64)
    >>> LU, pivots = tg.linalg.lu_factor(A)
    >>> tg.linalg.lu_solve(LU, pivots, tg.tensor([[5.0], [11.0]], dtype=tg.float64)).tolist()
    [[1.0], [2.0]]
    """
    for name, t in (("LU", LU), ("pivots", pivots), ("B", B)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_lu_solve(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    a, b, p = LU._v, B._v, pivots._v
    if a.ndim < 2 or b.ndim < 2:
        which = "LU" if a.ndim < 2 else "B"
        raise RuntimeError(f"linalg.lu_solve: The input tensor {which} must have at least 2 "
                           "dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError("torch.linalg.lu_solve: A must be batches of square matrices, but "
                           f"they are {a.shape[-2]} by {a.shape[-1]} matrices")
    if a.dtype.kind != "f":
        raise RuntimeError("linalg.lu_solve: Expected a floating point or complex tensor as "
                           f"input. Got {_TORCH_TYPE.get(a.dtype.name, a.dtype.name)}")
    if b.dtype != a.dtype:
        raise RuntimeError("linalg.lu_solve: Expected LU and B to have the same dtype, but "
                           f"found LU of type {_TORCH_TYPE[a.dtype.name]} and B of type "
                           f"{_TORCH_TYPE.get(b.dtype.name, b.dtype.name)} instead")
    if p.dtype != np.int32:
        raise RuntimeError("linalg.lu_solve: pivots should be a Tensor of scalar type "
                           "torch.int32")
    n = a.shape[-1]
    if p.ndim < 1 or p.shape[-1] != n:
        raise RuntimeError("linalg.lu_solve: Number of pivots per batch should be same as the "
                           "dimension of the matrix")
    if p.shape[:-1] != a.shape[:-2]:
        raise RuntimeError("linalg.lu_solve: Expected LU.shape[:-2] and pivots.shape[:-1] to "
                           f"be the same, but got pivots with shape {list(p.shape)} instead")
    if (b.shape[-2] if left else b.shape[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{eq} ({n}x{n} and {b.shape[-2]}x{b.shape[-1]})")
    _broadcast_batches(a.shape[:-2], b.shape[:-2])
    P = _wrap(_permutation(p, n, a.dtype))
    tri = _SolveTriangular.apply  # (A, B, upper, left, unitriangular); A = P L U
    if left and not adjoint:  # X = U^{-1} L^{-1} P^T B
        y = tri(LU, P.mT @ B, False, True, True)
        return tri(LU, y, True, True, False)
    if left:  # A^T X = B: X = P L^{-T} U^{-T} B
        y = tri(LU.mT, B, False, True, False)
        return P @ tri(LU.mT, y, True, True, True)
    if not adjoint:  # X P L U = B
        y = tri(LU, B, True, False, False)
        return tri(LU, y, False, False, True) @ P.mT
    # X U^T L^T P^T = B
    y = tri(LU.mT, B @ P, True, False, True)
    return tri(LU.mT, y, False, False, False)


_lu_unpack_result = namedtuple("lu_unpack", ["P", "L", "U"])


def _lu_unpack_top(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
                   unpack_pivots: bool = True):
    """torch.lu_unpack: ``(P, L, U)`` from :func:`lu_factor`'s ``LU, pivots`` (composed of
    masks of ``LU``, so differentiable in it; omitted parts are empty)."""
    from ..structural import where

    p = LU_pivots._v
    if p.dtype != np.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of "
                           "torch.int32 dtype.\nNote: this function is intended to be used with "
                           "the output produced by torch.linalg.lu_factor")
    a = LU_data._v
    m, n = a.shape[-2:]
    k = min(m, n)
    if p.size and (p.min() < 1 or p.max() > m):
        raise RuntimeError("pivots passed to lu_unpack must be between 1 and LU.size(-2) "
                           "inclusive.Did you properly pass the result of lu_factor?")
    empty = _wrap(np.zeros((0,), a.dtype))
    P = _wrap(_permutation(p, m, a.dtype)) if unpack_pivots else empty
    if not unpack_data:
        return _lu_unpack_result(P, empty, empty)
    below = _const(np.tril(np.ones((m, k)), -1), a) != 0
    L = where(below, LU_data[..., :, :k], _const(np.eye(m, k), a))
    above = _const(np.triu(np.ones((k, n))), a) != 0
    U = where(above, LU_data[..., :k, :], _const(np.zeros((k, n)), a))
    return _lu_unpack_result(P, L, U)


def _lu_top(A: Tensor, pivot: bool = True, get_infos: bool = False):
    """torch.lu (deprecated in torch for torch.linalg.lu_factor): ``(LU, pivots)``, and
    ``info`` if ``get_infos``."""
    import warnings

    warnings.warn("torch.lu is deprecated in favor of torch.linalg.lu_factor / "
                  "torch.linalg.lu_factor_ex and will be removed in a future PyTorch release.",
                  UserWarning, stacklevel=2)
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    return (LU, pivots, info) if get_infos else (LU, pivots)


def _lu_solve_top(b: Tensor, LU_data: Tensor, LU_pivots: Tensor) -> Tensor:
    """torch.lu_solve (deprecated in torch for torch.linalg.lu_solve, whose arguments are in
    another order)."""
    import warnings

    warnings.warn("torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand will be "
                  "removed in a future PyTorch release.\nNote that torch.linalg.lu_solve has its "
                  "arguments reversed.\nX = torch.lu_solve(B, LU, pivots)\nshould be replaced "
                  "with\nX = torch.linalg.lu_solve(LU, pivots, B)", UserWarning, stacklevel=2)
    return lu_solve(LU_data, LU_pivots, b)
