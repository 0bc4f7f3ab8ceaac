"""tg.linalg's solvers: inv, solve, pinv, lstsq (and torch.pinverse)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..recording import _wrap
from ..tensor import Tensor
from ._common import _TORCH_TYPE, _broadcast_batches, _matrix, _np_inv, _solve_singular, _square


class _Inv(Function):
    _node_name = "LinalgInvExBackward0"

    @staticmethod
    def forward(ctx, A):
        out = _wrap(_np_inv(A._v, "linalg.inv"))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        t = out.mT
        return -(t @ g @ t)


def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix in ``A`` (torch.linalg.inv); ``LinAlgError`` for a
    singular one, with torch's words."""
    _square(A, "linalg.inv")
    return _Inv.apply(A)


class _Solve(Function):
    _node_name = "LinalgSolveExBackward0"

    @staticmethod
    def forward(ctx, A, B, left, vector):
        a, b = A._v, B._v
        if vector:
            b = b[..., None]
        elif not left:  # X A = B is A^T X^T = B^T
            a, b = np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2)
        try:
            x = np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            raise _solve_singular(A._v, b) from None
        x = x[..., 0] if vector else x if left else np.swapaxes(x, -1, -2)
        out = _wrap(np.ascontiguousarray(x, dtype=A._v.dtype))
        ctx.left, ctx.vector = left, vector
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # X = A^{-1} B: gB = A^{-T} g, gA = -gB X^T (X A = B: gB = g A^{-T}, gA = -X^T gB)
        A, x = ctx.saved_tensors
        if ctx.vector:
            gB = _Solve.apply(A.mT, g, True, True)
            gA = -(gB.unsqueeze(-1) @ x.unsqueeze(-2))
        elif ctx.left:
            gB = _Solve.apply(A.mT, g, True, False)
            gA = -(gB @ x.mT)
        else:
            gB = _Solve.apply(A.mT, g, False, False)
            gA = -(x.mT @ gB)
        return (gA if ctx.needs_input_grad[0] else None,
                gB if ctx.needs_input_grad[1] else None, None, None)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """The solution ``X`` of ``A X = B`` (``X A = B`` if not ``left``), torch.linalg.solve:
    ``B`` is a (batch of) vector(s) if it is 1-D or has ``A``'s shape without its last
    dimension; batch dimensions broadcast."""
    a = _square(A, "linalg.solve")
    if not isinstance(B, Tensor):
        raise TypeError(f"linalg_solve(): argument 'B' (position 2) must be Tensor, not "
                        f"{type(B).__name__}")
    b = B._v
    if b.dtype.kind != "f":
        raise RuntimeError(f"linalg.solve: Expected a floating point or complex tensor as "
                           f"input. Got {_TORCH_TYPE.get(b.dtype.name, b.dtype.name)}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {_TORCH_TYPE[a.dtype.name]} and B of type "
                           f"{_TORCH_TYPE[b.dtype.name]} instead")
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    n = a.shape[-1]
    if vector:
        rows, cols = b.shape[-1], 1
    else:
        if b.ndim < 2:
            raise RuntimeError("linalg.solve: The input tensor B must have at least 2 "
                               "dimensions.")
        rows, cols = (b.shape[-2], b.shape[-1]) if left else (b.shape[-1], b.shape[-2])
    if rows != n:
        eq = "AX = B" if left else "XA = B"
        shown = f"{rows}x{cols}" if left or vector else f"{cols}x{rows}"
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation {eq} "
                           f"({n}x{n} and {shown})")
    _broadcast_batches(a.shape[:-2], b.shape[:-1 if vector else -2])
    return _Solve.apply(A, B, bool(left), vector)


def _pinv_backward(g, pinvA, A):
    """torch's pinv_backward, in tensor operations."""
    m, n = A.shape[-2], A.shape[-1]
    pinvAh, gh = pinvA.mT, g.mT
    if m <= n:
        K = gh @ pinvA
        KpinvAh = K @ pinvAh
        return (-(pinvA @ K).mT + KpinvAh - (A @ pinvA) @ KpinvAh
                + (pinvAh @ pinvA) @ (gh - K @ A))
    K = pinvA @ gh
    pinvAhK = pinvAh @ K
    return (-(K @ pinvA).mT + ((gh - A @ K) @ pinvA) @ pinvAh + pinvAhK
            - (pinvAhK @ pinvA) @ A)


class _Pinv(Function):
    _node_name = "LinalgPinvBackward0"

    @staticmethod
    def forward(ctx, A, rtol, hermitian):
        a = A._v
        p = np.linalg.pinv(a, hermitian=hermitian) if rtol is None else \
            np.linalg.pinv(a, rtol=rtol, hermitian=hermitian)
        out = _wrap(np.asarray(p, dtype=a.dtype))
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        A, pinvA = ctx.saved_tensors
        return _pinv_backward(g, pinvA, A), None, None


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse (torch.linalg.pinv; singular values below
    ``rtol * max singular value`` are zeroed, ``rtol`` defaulting to eps * max(m, n));
    ``atol`` is not supported."""
    if isinstance(A, Tensor) and (A._v.ndim < 2 or A._v.dtype.kind != "f"):
        kind = _TORCH_TYPE.get(A._v.dtype.name, A._v.dtype.name)
        raise RuntimeError(f"linalg.pinv({kind}{{{list(A._v.shape)}}}): expected a tensor with "
                           "2 or more dimensions of float, double, cfloat or cdouble types")
    _matrix(A, "linalg.pinv")
    if atol is not None:
        raise NotImplementedError("tapegrad.linalg.pinv: atol is not supported")
    return _Pinv.apply(A, None if rtol is None else float(rtol), bool(hermitian))


_lstsq_result = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


class _Lstsq(Function):
    _node_name = "LinalgLstsqBackward0"

    @staticmethod
    def forward(ctx, A, B):
        p = np.linalg.pinv(A._v)
        x = _wrap(np.asarray(p @ B._v, dtype=A._v.dtype))
        ctx.save_for_backward(A, B)
        ctx.set_materialize_grads(False)
        # (the empty residuals are an output too, as torch's: they have its grad_fn)
        return x, _wrap(np.zeros((0,), A._v.dtype))

    @staticmethod
    def backward(ctx, g, _gresiduals):
        # torch's linalg_lstsq_backward: X = pinv(A) B
        if g is None:
            return None, None
        A, B = ctx.saved_tensors
        pinvA = _Pinv.apply(A, None, False)
        gA = _pinv_backward(g @ B.mT, pinvA, A) if ctx.needs_input_grad[0] else None
        gB = pinvA.mT @ g if ctx.needs_input_grad[1] else None
        return gA, gB


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None):
    """The least-squares solution of ``A X = B`` (torch.linalg.lstsq, a named tuple
    ``solution, residuals, rank, singular_values``).  The solution is the minimum-norm one
    (pinv(A) B: torch's default CPU driver 'gelsy' gives a different one for a rank-deficient
    A); residuals and singular_values are empty, as with torch's 'gelsy'."""
    a = _matrix(A, "linalg.lstsq")
    if not isinstance(B, Tensor) or B._v.ndim < 2:
        raise NotImplementedError("tapegrad.linalg.lstsq: B must be a (batch of) matrices")
    if B._v.shape[-2] != a.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    if rcond is not None or driver not in (None, "gelsy"):
        raise NotImplementedError("tapegrad.linalg.lstsq: only the default rcond and driver")
    x, residuals = _Lstsq.apply(A, B)
    rank = _wrap(np.asarray(np.linalg.matrix_rank(a), dtype=np.int64))
    return _lstsq_result(x, residuals, rank, _wrap(np.zeros((0,), a.dtype)))


def _pinverse_top(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """torch.pinverse: torch.linalg.pinv with ``rtol=rcond``."""
    return pinv(input, rtol=rcond)
