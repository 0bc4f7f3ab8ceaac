"""tg.linalg's solvers: inv, solve, pinv, lstsq (and torch.pinverse)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..recording import _wrap
from ..tensor import Tensor
from ._common import (
    _TORCH_TYPE,
    _broadcast_batches,
    _matrix,
    _np_inv,
    _singular_values,
    _solve_singular,
    _square,
    _tolerance,
)


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
    vector = _check_solve(A, B, left)
    return _Solve.apply(A, B, bool(left), vector)


def _check_solve(A, B, left) -> bool:
    """torch.linalg.solve's checks; whether ``B`` is a (batch of) vector(s)."""
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
    return vector


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


def _np_pinv(a: np.ndarray, atol, rtol, hermitian: bool) -> np.ndarray:
    """torch's pinv: the inverse of the singular values (eigenvalues if ``hermitian``) above
    ``max(atol, rtol * largest)``, zero for the others."""
    m, n = a.shape[-2:]
    if a.size == 0:
        return np.zeros(a.shape[:-2] + (n, m), a.dtype)
    if hermitian:
        w, v = np.linalg.eigh(a)
        tol = _tolerance(np.abs(w), a, atol, rtol)
        with np.errstate(divide="ignore"):
            winv = np.where(np.abs(w) > tol[..., None], 1.0 / w, 0.0)
        p = (v * winv[..., None, :]) @ np.swapaxes(v, -1, -2)
    else:
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        tol = _tolerance(s, a, atol, rtol)
        with np.errstate(divide="ignore"):
            sinv = np.where(s > tol[..., None], 1.0 / s, 0.0)
        p = (np.swapaxes(vh, -1, -2) * sinv[..., None, :]) @ np.swapaxes(u, -1, -2)
    return np.ascontiguousarray(p, dtype=a.dtype)


class _Pinv(Function):
    _node_name = "LinalgPinvBackward0"

    @staticmethod
    def forward(ctx, A, atol, rtol, hermitian):
        out = _wrap(_np_pinv(A._v, atol, rtol, hermitian))
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        A, pinvA = ctx.saved_tensors
        return _pinv_backward(g, pinvA, A), None, None, None


def _tol_value(t):
    """A tolerance as a float or an array (a tensor's values: tolerances get no gradient)."""
    if t is None:
        return None
    return np.array(t._v) if isinstance(t, Tensor) else float(t)


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse, as torch.linalg.pinv: singular values (eigenvalue
    magnitudes if ``hermitian``) at or below ``max(atol, rtol * largest)`` are treated as
    zero, ``rtol`` defaulting to eps * max(m, n) when both are None (to 0 where ``atol`` > 0);
    ``atol`` and ``rtol`` floats or tensors broadcasting against the batch.

    >>> import tapegrad as tg
    >>> tg.linalg.pinv(tg.tensor([[2.0, 0.0], [0.0, 0.0]])).tolist()
    [[0.5, 0.0], [0.0, 0.0]]
    """
    if isinstance(A, Tensor) and (A._v.ndim < 2 or A._v.dtype.kind != "f"):
        kind = _TORCH_TYPE.get(A._v.dtype.name, A._v.dtype.name)
        raise RuntimeError(f"linalg.pinv({kind}{{{list(A._v.shape)}}}): expected a tensor with "
                           "2 or more dimensions of float, double, cfloat or cdouble types")
    _matrix(A, "linalg.pinv")
    return _Pinv.apply(A, _tol_value(atol), _tol_value(rtol), bool(hermitian))


_lstsq_result = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])
_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


class _Lstsq(Function):
    _node_name = "LinalgLstsqBackward0"

    @staticmethod
    def forward(ctx, A, B, rcond, vector):
        p = _np_pinv(A._v, None, rcond, False)
        x = p @ B._v[..., None] if vector else p @ B._v
        x = _wrap(np.ascontiguousarray(x[..., 0] if vector else x, dtype=A._v.dtype))
        ctx.vector = vector
        ctx.save_for_backward(A, B)
        ctx.set_materialize_grads(False)
        # (the empty residuals are an output too, as torch's: they have its grad_fn)
        return x, _wrap(np.zeros((0,), A._v.dtype))

    @staticmethod
    def backward(ctx, g, _gresiduals):
        # torch's linalg_lstsq_backward: X = pinv(A) B
        if g is None:
            return None, None, None, None
        A, B = ctx.saved_tensors
        if ctx.vector:
            g, B = g.unsqueeze(-1), B.unsqueeze(-1)
        pinvA = _Pinv.apply(A, None, None, False)
        gA = _pinv_backward(g @ B.mT, pinvA, A) if ctx.needs_input_grad[0] else None
        gB = None
        if ctx.needs_input_grad[1]:
            gB = pinvA.mT @ g
            gB = gB.squeeze(-1) if ctx.vector else gB
        return gA, gB, None, None


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None):
    """The least-squares solution of ``A X = B`` (torch.linalg.lstsq, a named tuple
    ``solution, residuals, rank, singular_values``; ``B`` a (batch of) matrices, or vectors if
    it has one dim fewer than ``A``).  The solution is the minimum-norm one, pinv(A) B with
    singular values at or below ``rcond`` * the largest dropped (``rcond`` defaulting to
    eps * max(m, n)): torch's 'gelsd' and 'gelss' drivers' solution, and for a full-rank ``A``
    every driver's (the default CPU driver 'gelsy' gives another one for a rank-deficient
    ``A``).  As torch: ``rank`` (int64) except for 'gels'; ``singular_values`` for 'gelsd' and
    'gelss'; ``residuals``, the squared residuals of each column, when m > n, every matrix has
    full rank and the driver is not 'gelsy' -- else these are empty.

    >>> import tapegrad as tg
    >>> A = tg.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=tg.float64)
    >>> r = tg.linalg.lstsq(A, tg.tensor([[1.0], [1.0], [0.0]], dtype=tg.float64), driver="gelsd")
    >>> r.solution.numpy().round(6).tolist(), r.residuals.numpy().round(6).tolist(), r.rank.item()
    ([[0.333333], [0.333333]], [1.333333], 2)
    """
    if not isinstance(A, Tensor) or not isinstance(B, Tensor):
        name, t = ("A", A) if not isinstance(A, Tensor) else ("B", B)
        raise TypeError(f"linalg_lstsq(): argument '{name}' must be Tensor, not "
                        f"{type(t).__name__}")
    a, b = A._v, B._v
    if a.dtype.kind != "f" or b.dtype.kind != "f":
        raise RuntimeError("This function doesn't handle types other than float and double")
    if a.dtype != b.dtype:
        raise RuntimeError("torch.linalg.lstsq: Expected input and other to have the same "
                           f"dtype, but got input's dtype {_TORCH_TYPE[a.dtype.name]} and "
                           f"other's dtype {_TORCH_TYPE[b.dtype.name]}")
    if a.ndim < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if not (a.ndim >= b.ndim and a.ndim - b.ndim <= 1):
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to "
                           "other.dim() and (input.dim() - other.dim()) <= 1")
    vector = b.ndim == a.ndim - 1
    if (b.shape[-1] if vector else b.shape[-2]) != a.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match "
                           f"other.size({-1 if vector else -2})")
    if driver is None:
        driver = "gelsy"
    if driver not in _DRIVERS:
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           "gelsy, gelsd, gelss)")
    m, n = a.shape[-2:]
    rtol = np.finfo(a.dtype).eps * max(m, n) if rcond is None or rcond < 0 else float(rcond)
    x, residuals = _Lstsq.apply(A, B, rtol, vector)
    s = _singular_values(a, False)
    full = s.shape[-1] == 0 or np.all(s > (rtol * s.max(-1, initial=0.0))[..., None])
    rank_np = (s > (rtol * s.max(-1, initial=0.0))[..., None]).sum(-1)
    rank = _wrap(np.zeros((0,), np.int64) if driver == "gels" else
                 np.asarray(rank_np, dtype=np.int64))
    if m > n and driver != "gelsy" and (driver == "gels" or (full and n > 0)):
        r = A @ x.unsqueeze(-1) - B.unsqueeze(-1) if vector else A @ x - B
        residuals = (r * r).sum(-2)
    if driver not in ("gelsd", "gelss"):
        values = _wrap(np.zeros((0,), a.dtype))
    elif a.size == 0:
        values = _wrap(np.ascontiguousarray(s))
    else:  # (svdvals, a recorded Function: tg.compile's replay computes them anew)
        from .decompositions import svdvals

        values = svdvals(A).detach()
    return _lstsq_result(x, residuals, rank, values)


def _pinverse_top(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """torch.pinverse: torch.linalg.pinv with ``rtol=rcond``."""
    return pinv(input, rtol=rcond)
