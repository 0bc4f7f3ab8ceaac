"""tg.linalg's matrix functions: matrix_power (composed of matmul and inv), matrix_exp (a
Function: Pade scaling and squaring in NumPy, torch's block-matrix backward) and matrix_rank
(not differentiable)."""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..recording import _wrap
from ..tensor import Tensor
from ._common import _const, _matrix, _singular_values, _square, _tolerance

__all__ = ["matrix_power", "matrix_exp", "matrix_rank"]


def matrix_power(A: Tensor, n: int) -> Tensor:
    """``A`` to the integer power ``n`` (by repeated squaring; a negative ``n`` inverts ``A``
    first, raising torch's error for a singular matrix), as torch.linalg.matrix_power.

    >>> import tapegrad as tg
    >>> tg.linalg.matrix_power(tg.tensor([[1.0, 1.0], [0.0, 1.0]]), 3).tolist()
    [[1.0, 3.0], [0.0, 1.0]]
    """
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_matrix_power(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(A).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"linalg_matrix_power(): argument 'n' (position 2) must be int, not "
                        f"{type(n).__name__}")
    a = A._v
    if a.ndim < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 "
                           "dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError("linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {a.shape[-2]} by {a.shape[-1]} matrices")
    n = int(n)
    if n == 0:
        from ..structural import where

        # (the identity, with A's dtype, and a zero gradient for A)
        eye = _wrap(np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape).copy())
        return where(_wrap(np.zeros(a.shape, bool)), A, eye)
    if n < 0:
        from .solvers import inv

        A, n = inv(A), -n
    if n == 1:
        return A.clone()
    result, z = None, A
    while n:
        if n & 1:
            result = z if result is None else result @ z
        n >>= 1
        if n:
            z = z @ z
    return result


def _matrix_power_top(input: Tensor, n: int) -> Tensor:
    """torch.matrix_power: :func:`matrix_power` under its top-level name."""
    return matrix_power(input, n)


# Higham (2005)'s degree-13 Pade approximant: its coefficients and the 1-norm below which it
# is accurate to double precision without scaling
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _expm(a: np.ndarray) -> np.ndarray:
    """exp of each square matrix of ``a`` (float64 arithmetic): scale each by 2^-s to a
    1-norm below theta_13, Pade 13, then square s times."""
    dtype = a.dtype
    x = np.asarray(a, np.float64)
    n = x.shape[-1]
    if x.size == 0:
        return np.zeros(a.shape, dtype)
    norm = np.abs(x).sum(-2).max(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(np.isfinite(norm) & (norm > _THETA13),
                     np.ceil(np.log2(np.where(np.isfinite(norm) & (norm > 0), norm, 1.0)
                                     / _THETA13)), 0.0).astype(np.int64)
    x = x / (2.0 ** s)[..., None, None]
    b = _PADE13
    eye = np.broadcast_to(np.eye(n), x.shape)
    x2 = x @ x
    x4 = x2 @ x2
    x6 = x4 @ x2
    u = x @ (x6 @ (b[13] * x6 + b[11] * x4 + b[9] * x2) + b[7] * x6 + b[5] * x4 + b[3] * x2
             + b[1] * eye)
    v = x6 @ (b[12] * x6 + b[10] * x4 + b[8] * x2) + b[6] * x6 + b[4] * x4 + b[2] * x2 \
        + b[0] * eye
    try:
        r = np.linalg.solve(v - u, v + u)
    except np.linalg.LinAlgError:  # (non-finite input: nan, as torch's)
        r = np.full(x.shape, np.nan)
    for k in range(int(s.max(initial=0))):
        squared = r @ r
        r = np.where((s > k)[..., None, None], squared, r)
    return np.ascontiguousarray(r, dtype=dtype)


class _MatrixExp(Function):
    _node_name = "LinalgMatrixExpBackward0"

    @staticmethod
    def forward(ctx, A):
        ctx.save_for_backward(A)
        return _wrap(_expm(A._v))

    @staticmethod
    def backward(ctx, g):
        # torch's rule: the gradient is the top-right block of exp([[A^T, g], [0, A^T]])
        from ..structural import cat

        (A,) = ctx.saved_tensors
        n = A.shape[-1]
        At = A.mT
        zero = _const(np.zeros(tuple(At.shape)), A._v)
        block = cat([cat([At, g], -1), cat([zero, At], -1)], -2)
        return _MatrixExp.apply(block)[..., :n, n:]


def matrix_exp(A: Tensor) -> Tensor:
    """The matrix exponential of each square matrix of ``A``, as torch.linalg.matrix_exp
    (torch's gradient, differentiable again).

    >>> import tapegrad as tg
    >>> tg.linalg.matrix_exp(tg.tensor([[0.0, 1.0], [0.0, 0.0]])).numpy().round(12).tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    _square(A, "linalg.matrix_exp")
    return _MatrixExp.apply(A)


def matrix_rank(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The number of singular values (eigenvalue magnitudes if ``hermitian``) of each matrix of
    ``A`` above ``max(atol, rtol * largest)`` (``rtol`` defaulting to eps * max(m, n) when both
    are None, else to 0), as torch.linalg.matrix_rank: an int64 tensor.

    >>> import tapegrad as tg
    >>> tg.linalg.matrix_rank(tg.tensor([[1.0, 2.0], [2.0, 4.0]])).item()
    1
    """
    a = _matrix(A, "linalg.matrix_rank")
    s = _singular_values(a, hermitian)
    tol = _tolerance(s, a, atol, rtol)
    return _wrap(np.asarray((s > tol[..., None]).sum(-1), dtype=np.int64))
