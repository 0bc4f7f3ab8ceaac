"""tg.linalg's decompositions: cholesky, eigh / eigvalsh, svd / svdvals, qr (and torch.cholesky,
torch.svd, torch.qr)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..recording import _wrap
from ..tensor import Tensor
from ._common import _const, _eye, _matrix, _positive_definite_error, _square, _uplo
from .solvers import _Solve


class _Cholesky(Function):
    _node_name = "LinalgCholeskyExBackward0"

    @staticmethod
    def forward(ctx, A, upper):
        try:
            lower = np.linalg.cholesky(A._v)
        except np.linalg.LinAlgError:
            raise _positive_definite_error(A._v, "linalg.cholesky") from None
        ctx.upper = upper
        # the output is saved (not a copy): differentiating the backward again reaches A
        out = _wrap(np.ascontiguousarray(np.swapaxes(lower, -1, -2)) if upper else lower)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        # torch's cholesky_backward: with phi = tril(L^T gL), symmetrized with half its
        # diagonal, gA = L^{-T} phi L^{-1}
        (L,) = ctx.saved_tensors
        if ctx.upper:
            L, g = L.mT, g.mT
        n = L.shape[-1]
        lower = _const(np.tril(np.ones((n, n))), L._v)
        strict = _const(np.tril(np.ones((n, n)), -1), L._v)
        phi = (L.mT @ g) * lower
        phi = 0.5 * (phi + (phi * strict).mT)
        y = _Solve.apply(L.mT, phi, True, False)  # L^{-T} phi
        return _Solve.apply(L, y, False, False), None  # y L^{-1}


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor ``L`` (lower; ``L^T`` if ``upper``) of each symmetric
    positive-definite matrix in ``A`` (torch.linalg.cholesky; only the lower triangle is read);
    ``LinAlgError`` with torch's words for one that is not positive-definite."""
    _square(A, "linalg.cholesky")
    return _Cholesky.apply(A, bool(upper))


class _CholeskyTop(_Cholesky):
    _node_name = "CholeskyBackward0"


def _cholesky_top(A: Tensor, upper: bool = False) -> Tensor:
    """torch.cholesky (deprecated in torch for torch.linalg.cholesky): node CholeskyBackward0."""
    _square(A, "linalg.cholesky")
    return _CholeskyTop.apply(A, bool(upper))


_eigh_result = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])


_qr_result = namedtuple("linalg_qr", ["Q", "R"])


_svd_result = namedtuple("linalg_svd", ["U", "S", "Vh"])


class _Eigh(Function):
    _node_name = "LinalgEighBackward0"

    @staticmethod
    def forward(ctx, A, uplo):
        w, v = np.linalg.eigh(A._v, UPLO=uplo)
        L, V = _wrap(np.asarray(w, dtype=A._v.dtype)), _wrap(np.asarray(v, dtype=A._v.dtype))
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(L, V)
        return L, V

    @staticmethod
    def backward(ctx, gL, gV):
        # torch's linalg_eig_backward (hermitian): gA = V (skew(V^T gV) / E + diag(gL)) V^T,
        # E_ij = L_j - L_i off the diagonal
        L, V = ctx.saved_tensors
        if gL is None and gV is None:
            return None, None
        eye = _eye(L.shape[-1], L._v)
        inner = gL.unsqueeze(-1) * eye if gL is not None else None
        if gV is not None:
            VhgV = V.mT @ gV
            E = L.unsqueeze(-2) - L.unsqueeze(-1) + eye
            part = (0.5 * (VhgV - VhgV.mT)) / E
            inner = part if inner is None else part + inner
        return V @ inner @ V.mT, None


def eigh(A: Tensor, UPLO: str = "L") -> tuple[Tensor, Tensor]:
    """Eigenvalues (ascending) and eigenvectors of the symmetric matrices of ``A`` (reading
    the ``UPLO`` triangle), as torch.linalg.eigh (a named tuple ``eigenvalues, eigenvectors``;
    torch's gradient, not symmetrized).  Eigenvectors are determined up to sign."""
    _square(A, "linalg.eigh")
    return _eigh_result(*_Eigh.apply(A, _uplo(UPLO)))


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues of :func:`eigh` (torch.linalg.eigvalsh)."""
    _square(A, "linalg.eigvalsh")
    return _Eigh.apply(A, _uplo(UPLO))[0]


class _Svd(Function):
    _node_name = "LinalgSvdBackward0"

    @staticmethod
    def forward(ctx, A, full_matrices):
        a = A._v
        u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
        outs = tuple(_wrap(np.asarray(t, dtype=a.dtype)) for t in (u, s, vh))
        ctx.full = full_matrices
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(*outs)
        return outs

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        # torch's svd_backward (full_matrices: the first k = min(m, n) singular vectors only)
        U, S, Vh = ctx.saved_tensors
        if gU is None and gS is None and gVh is None:
            return None, None
        m, n = U.shape[-2], Vh.shape[-1]
        k = S.shape[-1]
        if ctx.full:
            U, Vh = U[..., :k], Vh[..., :k, :]
            gU = None if gU is None else gU[..., :k]
            gVh = None if gVh is None else gVh[..., :k, :]
        if gU is None and gVh is None:
            if m >= n:
                return U @ (gS.unsqueeze(-1) * Vh), None
            return (U * gS.unsqueeze(-2)) @ Vh, None
        eye = _eye(k, S._v)
        S2 = S * S
        E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + eye
        UhgU = None if gU is None else (U.mT @ gU) - (U.mT @ gU).mT
        VhgV = None if gVh is None else (Vh @ gVh.mT) - (Vh @ gVh.mT).mT
        if UhgU is not None and VhgV is not None:
            gA = (UhgU * S.unsqueeze(-2) + S.unsqueeze(-1) * VhgV) / E
        elif UhgU is None:
            gA = S.unsqueeze(-1) * (VhgV / E)
        else:
            gA = (UhgU / E) * S.unsqueeze(-2)
        if gS is not None:
            gA = gA + gS.unsqueeze(-1) * eye
        if m > n and gU is not None:
            gA = U @ gA
            gUSinv = gU / S.unsqueeze(-2)
            gA = (gA + gUSinv - U @ (U.mT @ gUSinv)) @ Vh
        elif m < n and gVh is not None:
            gA = gA @ Vh
            SinvgVh = gVh / S.unsqueeze(-1)
            gA = U @ (gA + SinvgVh - (SinvgVh @ Vh.mT) @ Vh)
        else:
            gA = U @ (gA @ Vh) if m >= n else (U @ gA) @ Vh
        return gA, None


def svd(A: Tensor, full_matrices: bool = True) -> tuple[Tensor, Tensor, Tensor]:
    """``U, S, Vh`` with ``A = U diag(S) Vh`` (torch.linalg.svd, a named tuple); torch's
    gradient (singular vectors are determined up to sign: differentiate functions that do not
    depend on it).  With ``full_matrices`` the extra singular vectors get no gradient."""
    _matrix(A, "linalg.svd")
    return _svd_result(*_Svd.apply(A, bool(full_matrices)))


def svdvals(A: Tensor) -> Tensor:
    """The singular values of ``A``, descending (torch.linalg.svdvals)."""
    _matrix(A, "linalg.svdvals")
    return _Svd.apply(A, False)[1]


class _Qr(Function):
    _node_name = "LinalgQrBackward0"

    @staticmethod
    def forward(ctx, A, mode):
        a = A._v
        if mode == "r":
            q, r = np.zeros((0,), a.dtype), np.linalg.qr(a, mode="r")
        else:
            q, r = np.linalg.qr(a, mode=mode)
        Q, R = _wrap(np.asarray(q, dtype=a.dtype)), _wrap(np.asarray(r, dtype=a.dtype))
        ctx.mode, ctx.shape = mode, a.shape
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(Q, R)
        return Q, R

    @staticmethod
    def backward(ctx, gQ, gR):
        Q, R = ctx.saved_tensors
        m, n = ctx.shape[-2:]
        if ctx.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                               "are going to differentiate through linalg.qr.")
        if ctx.mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when "
                               "mode='complete' and nrows > ncols.")
        if gQ is None and gR is None:
            return None, None
        if m >= n:
            return _qr_tall_backward(Q, R, gQ, gR), None
        # torch's wide case: A = [X | Y] with X m x m: Q R_X = X, Y = Q R_Y; gY = Q gR_Y and
        # X's gradient is the square case's, with gQ + Y gR_Y^T for gQ
        from ..structural import cat

        RX, RY = R[..., :m], R[..., m:]
        gRX = None if gR is None else gR[..., :m]
        gY = None
        if gR is not None:
            gRY = gR[..., m:]
            gY = Q @ gRY
            gQY = (Q @ RY) @ gRY.mT
            gQ = gQY if gQ is None else gQ + gQY
        gX = _qr_tall_backward(Q, RX, gQ, gRX)
        if gY is None:
            gY = _const(np.zeros(gX._v.shape[:-1] + (n - m,)), gX._v)
        return cat([gX, gY], -1), None


def _qr_tall_backward(Q, R, gQ, gR):
    """For nrows >= ncols: M = R gR^T - gQ^T Q, gA = (gQ + Q copyltu(M)) R^{-T}."""
    M = None
    if gR is not None:
        M = R @ gR.mT
    if gQ is not None:
        M = -(gQ.mT @ Q) if M is None else M - gQ.mT @ Q
    k = R.shape[-2]
    lower = _const(np.tril(np.ones((k, k))), R._v)
    strict = _const(np.tril(np.ones((k, k)), -1), R._v)
    inner = Q @ (M * lower + (M * strict).mT)
    if gQ is not None:
        inner = inner + gQ
    return _Solve.apply(R.mT, inner, False, False)


def qr(A: Tensor, mode: str = "reduced") -> tuple[Tensor, Tensor]:
    """``Q, R`` with ``A = Q R`` (torch.linalg.qr, a named tuple); mode 'reduced', 'complete'
    or 'r' (Q empty); differentiable as torch's (not with 'r', nor 'complete' for nrows >
    ncols)."""
    _matrix(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    return _qr_result(*_Qr.apply(A, mode))


_svd_top_result = namedtuple("svd", ["U", "S", "V"])


_qr_top_result = namedtuple("qr", ["Q", "R"])


def _svd_top(input: Tensor, some: bool = True, compute_uv: bool = True):
    """torch.svd: ``U, S, V`` (V, not Vh); with ``compute_uv`` False, U and V zero-filled
    (m, m) and (n, n) matrices."""
    a = _matrix(input, "linalg.svd")
    if not compute_uv:
        m, n = a.shape[-2:]
        lead = a.shape[:-2]
        return _svd_top_result(_wrap(np.zeros(lead + (m, m), a.dtype)), svdvals(input),
                               _wrap(np.zeros(lead + (n, n), a.dtype)))
    U, S, Vh = _Svd.apply(input, not some)
    return _svd_top_result(U, S, Vh.mT)


def _qr_top(input: Tensor, some: bool = True):
    """torch.qr (deprecated in torch for torch.linalg.qr)."""
    import warnings

    warnings.warn("The boolean parameter 'some' has been replaced with a string parameter "
                  "'mode'.\nQ, R = torch.qr(A, some)\nshould be replaced with\nQ, R = "
                  "torch.linalg.qr(A, 'reduced' if some else 'complete')", UserWarning,
                  stacklevel=2)
    return _qr_top_result(*qr(input, "reduced" if some else "complete"))
