"""tg.linalg's triangular solvers: solve_triangular (a Function: substitution in NumPy, torch's
backward), and torch's top-level cholesky_solve, cholesky_inverse and triangular_solve."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..autograd.function import Function
from ..recording import _wrap
from ..tensor import Tensor
from ._common import _TORCH_TYPE, _broadcast_batches, _const, _square

__all__ = ["solve_triangular"]


def _substitute(a: np.ndarray, b: np.ndarray, upper: bool, unit: bool) -> np.ndarray:
    """X with ``tri(a) X = b`` by substitution (batch dims broadcast), reading only ``a``'s
    triangle; a zero on the diagonal gives inf / nan, as LAPACK's trsm."""
    n = a.shape[-1]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    x = np.empty(batch + b.shape[-2:], np.result_type(a, b))
    rows = range(n - 1, -1, -1) if upper else range(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in rows:
            done = slice(i + 1, n) if upper else slice(0, i)
            s = b[..., i, :] - (a[..., i:i + 1, done] @ x[..., done, :])[..., 0, :]
            x[..., i, :] = s if unit else s / a[..., i, i, None]
    return x


def _solve_tri_np(a, b, upper, left, unit):
    if left:
        return _substitute(a, b, upper, unit)
    x = _substitute(np.swapaxes(a, -1, -2), np.swapaxes(b, -1, -2), not upper, unit)
    return np.swapaxes(x, -1, -2)


def _triangle(n: int, upper: bool, unit: bool, like: np.ndarray) -> Tensor:
    ones = np.ones((n, n))
    mask = (np.triu(ones, 1 if unit else 0) if upper else np.tril(ones, -1 if unit else 0))
    return _const(mask, like)


class _SolveTriangular(Function):
    _node_name = "LinalgSolveTriangularBackward0"

    @staticmethod
    def forward(ctx, A, B, upper, left, unit):
        x = _solve_tri_np(A._v, B._v, upper, left, unit)
        out = _wrap(np.ascontiguousarray(x, dtype=A._v.dtype))
        ctx.flags = (upper, left, unit)
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # torch's: gB = A^{-T} g (g A^{-T} if not left), gA = -gB X^T (-X^T gB), A's triangle
        upper, left, unit = ctx.flags
        A, x = ctx.saved_tensors
        gB = _SolveTriangular.apply(A.mT, g, not upper, left, unit)
        gA = None
        if ctx.needs_input_grad[0]:
            gA = -(gB @ x.mT) if left else -(x.mT @ gB)
            gA = gA * _triangle(A.shape[-1], upper, unit, A._v)
        return gA, gB if ctx.needs_input_grad[1] else None, None, None, None


def _check_b(B, fname: str, argname: str = "B") -> np.ndarray:
    if not isinstance(B, Tensor):
        raise TypeError(f"{fname}(): argument '{argname}' must be Tensor, not "
                        f"{type(B).__name__}")
    return B._v


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False) -> Tensor:
    """The solution ``X`` of ``A X = B`` (``X A = B`` if not ``left``) for triangular ``A``
    (its ``upper`` or lower triangle is read; a unit diagonal is assumed if
    ``unitriangular``), as torch.linalg.solve_triangular: batch dims broadcast; a zero on the
    diagonal gives inf / nan, without an error.

    >>> import tapegrad as tg
    >>> A = tg.tensor([[2.0, 1.0], [0.0, 4.0]])
    >>> tg.linalg.solve_triangular(A, tg.tensor([[3.0], [4.0]]), upper=True).tolist()
    [[1.0], [1.0]]
    """
    a = _square(A, "linalg.solve_triangular")
    b = _check_b(B, "linalg_solve_triangular")
    if b.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    if b.dtype != a.dtype:  # (torch solves in A's dtype)
        B = B.to(A.dtype)
    n = a.shape[-1]
    if (b.shape[-2] if left else b.shape[-1]) != n:
        eq = "AX = B" if left else "XA = B"
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                           f"equation {eq} ({n}x{n} and {b.shape[-2]}x{b.shape[-1]})")
    _broadcast_batches(a.shape[:-2], b.shape[:-2])
    return _SolveTriangular.apply(A, B, bool(upper), bool(left), bool(unitriangular))


class _TriangularSolveTop(_SolveTriangular):
    _node_name = "TriangularSolveBackward0"


_triangular_solve_result = namedtuple("triangular_solve", ["solution", "cloned_coefficient"])


def _triangular_solve_top(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                          unitriangular: bool = False):
    """torch.triangular_solve (deprecated in torch for torch.linalg.solve_triangular):
    ``(solution, cloned_coefficient)`` with ``op(A) X = b``, op the transpose if
    ``transpose``."""
    import warnings

    warnings.warn("torch.triangular_solve is deprecated in favor of "
                  "torch.linalg.solve_triangularand will be removed in a future PyTorch release.\n"
                  "torch.linalg.solve_triangular has its arguments reversed and does not return a "
                  "copy of one of the inputs.\nX = torch.triangular_solve(B, A).solution\nshould "
                  "be replaced with\nX = torch.linalg.solve_triangular(A, B).", UserWarning,
                  stacklevel=2)
    bv = _check_b(b, "triangular_solve", "input")
    if bv.ndim < 2:
        raise RuntimeError("torch.triangular_solve: Expected b to have at least 2 dimensions, "
                           f"but it has {bv.ndim} dimensions instead")
    a = _square_as(A, "")
    if bv.shape[-2] != a.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for triangular_solve: each A matrix is "
                           f"{a.shape[-1]} by {a.shape[-1]} but each b matrix is "
                           f"{bv.shape[-2]} by {bv.shape[-1]}")
    _broadcast_batches(a.shape[:-2], bv.shape[:-2])
    op = A.mT if transpose else A
    x = _TriangularSolveTop.apply(op, b, bool(upper) != bool(transpose), True,
                                  bool(unitriangular))
    return _triangular_solve_result(x, A.clone())


def _square_as(A, prefix: str) -> np.ndarray:
    """_square's checks with the words of torch's older top-level functions."""
    if not isinstance(A, Tensor) or A._v.ndim < 2 or A._v.dtype.kind != "f":
        return _square(A, prefix.rstrip(": ") or "linalg.solve_triangular")
    a = A._v
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{prefix}A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    return a


def _cholesky_solve_np(b, l_, upper):
    if upper:  # (A = U^T U)
        y = _substitute(np.swapaxes(l_, -1, -2), b, False, False)
        return _substitute(l_, y, True, False)
    y = _substitute(l_, b, False, False)
    return _substitute(np.swapaxes(l_, -1, -2), y, True, False)


class _CholeskySolve(Function):
    _node_name = "CholeskySolveBackward0"

    @staticmethod
    def forward(ctx, B, L, upper):
        x = _cholesky_solve_np(B._v, L._v, upper)
        out = _wrap(np.ascontiguousarray(x, dtype=L._v.dtype))
        ctx.upper = upper
        ctx.save_for_backward(L, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # torch's cholesky_solve_backward: gB = A^{-1} g; with S = gB X^T + X gB^T, the factor's
        # gradient is -S L (-U S if upper), over the whole factor
        L, x = ctx.saved_tensors
        gB = _CholeskySolve.apply(g, L, ctx.upper)
        gL = None
        if ctx.needs_input_grad[1]:
            S = gB @ x.mT
            S = S + S.mT
            gL = -(L @ S) if ctx.upper else -(S @ L)
        return gB if ctx.needs_input_grad[0] else None, gL, None


def _cholesky_solve_top(B: Tensor, L: Tensor, upper: bool = False) -> Tensor:
    """torch.cholesky_solve: ``X`` with ``A X = B`` for ``A = L L^T`` (``U^T U`` if
    ``upper``), ``L`` the Cholesky factor."""
    b = _check_b(B, "cholesky_solve", "input")
    if b.ndim < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {b.ndim} dimensions "
                           "instead")
    a = _square_as(L, "")
    if b.dtype != a.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{_TORCH_TYPE.get(b.dtype.name, b.dtype.name)} and A of type "
                           f"{_TORCH_TYPE[a.dtype.name]} instead.")
    if b.shape[-2] != a.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for cholesky_solve: each A matrix is "
                           f"{a.shape[-1]} by {a.shape[-1]} but each b matrix is "
                           f"{b.shape[-2]} by {b.shape[-1]}")
    _broadcast_batches(a.shape[:-2], b.shape[:-2])
    return _CholeskySolve.apply(B, L, bool(upper))


class _CholeskyInverse(Function):
    _node_name = "CholeskyInverseBackward0"

    @staticmethod
    def forward(ctx, L, upper):
        a = L._v
        eye = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape)
        out = _wrap(np.ascontiguousarray(_cholesky_solve_np(eye, a, upper), dtype=a.dtype))
        ctx.upper = upper
        ctx.save_for_backward(L, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # torch's cholesky_inverse_backward: with S = X (g + g^T) X, -S L (-U S if upper)
        L, x = ctx.saved_tensors
        S = x @ (g + g.mT) @ x
        return (-(L @ S) if ctx.upper else -(S @ L)), None


def _cholesky_inverse_top(L: Tensor, upper: bool = False) -> Tensor:
    """torch.cholesky_inverse: ``A^{-1}`` for ``A = L L^T`` (``U^T U`` if ``upper``), from the
    factor ``L``."""
    _square_as(L, "cholesky_inverse: ")
    return _CholeskyInverse.apply(L, bool(upper))
