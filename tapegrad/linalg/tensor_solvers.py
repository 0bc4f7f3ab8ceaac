"""tg.linalg's tensorinv and tensorsolve (composed of reshapes, inv and solve) and
householder_product (composed of matmuls)."""

from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from ._common import _TORCH_TYPE, LinAlgError, _const

__all__ = ["tensorinv", "tensorsolve", "householder_product"]


def tensorinv(A: Tensor, ind: int = 2) -> Tensor:
    """The inverse of ``A`` for :func:`tensordot` over its first ``ind`` dims, shape
    ``A.shape[ind:] + A.shape[:ind]``, as torch.linalg.tensorinv.

    >>> import tapegrad as tg
    >>> tg.linalg.tensorinv(tg.eye(4).reshape(4, 2, 2) * 2, ind=1).shape
    tapegrad.Size([2, 2, 4])
    """
    from .solvers import inv

    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_tensorinv(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(A).__name__}")
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    shape = tuple(A.shape)
    before, after = math.prod(shape[:ind]), math.prod(shape[ind:])
    if before != after:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {after} != {before}")
    try:
        return inv(A.reshape(before, after)).reshape(shape[ind:] + shape[:ind])
    except LinAlgError as error:  # (torch's words here)
        raise LinAlgError(str(error).replace("linalg.inv:", "inv:", 1)) from None


def tensorsolve(A: Tensor, B: Tensor, dims=None) -> Tensor:
    """``X`` with ``tensordot(A, X, X.ndim) = B`` (``dims`` of ``A`` moved to its end first), as
    torch.linalg.tensorsolve.

    >>> import tapegrad as tg
    >>> A = tg.eye(6).reshape(6, 2, 3) * 2
    >>> tg.linalg.tensorsolve(A, tg.ones(6)).tolist()
    [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    """
    from .solvers import solve

    for name, t in (("A", A), ("B", B)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_tensorsolve(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if dims is not None:
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        k = len(dims)
        A = A.movedim(dims, tuple(range(A.ndim - k, A.ndim)))
    shape = tuple(A.shape)
    rows, cols = math.prod(tuple(B.shape)), math.prod(shape[B.ndim:])
    if rows != cols:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[other.ndim:])"
                           f" == prod(self.shape[:other.ndim]), but got {cols} != {rows}")
    return solve(A.reshape(rows, cols), B.reshape(rows)).reshape(shape[B.ndim:])


def householder_product(A: Tensor, tau: Tensor) -> Tensor:
    """The first n columns of the product ``H_1 ... H_k`` of Householder reflections
    ``H_i = I - tau_i v_i v_i^T``, ``v_i`` column i of ``A`` below the diagonal with a unit
    i-th entry, as torch.linalg.householder_product (LAPACK's orgqr).

    >>> import tapegrad as tg
    >>> A = tg.tensor([[1.0, 0.0], [1.0, 1.0]])
    >>> tg.linalg.householder_product(A, tg.tensor([1.0, 0.0])).tolist()
    [[0.0, -1.0], [-1.0, 0.0]]
    """
    fname = "torch.linalg.householder_product"
    for name, t in (("input", A), ("tau", tau)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_householder_product(): argument '{name}' must be Tensor, "
                            f"not {type(t).__name__}")
    a, t = A._v, tau._v
    if a.ndim < 2:
        raise RuntimeError(f"{fname}: input must have at least 2 dimensions.")
    m, n = a.shape[-2:]
    if m < n:
        raise RuntimeError(f"{fname}: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if t.ndim < 1 or t.shape[-1] > n:
        raise RuntimeError(f"{fname}: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    if t.shape[:-1] != a.shape[:-2]:
        raise RuntimeError(f"{fname}: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {list(t.shape[:-1])}")
    if t.dtype != a.dtype:
        raise RuntimeError(f"{fname}: tau dtype {_TORCH_TYPE.get(t.dtype.name, t.dtype.name)} "
                           f"does not match input dtype {_TORCH_TYPE.get(a.dtype.name)}")
    V = A * _const(np.tril(np.ones((m, n)), -1), a) + _const(np.eye(m, n), a)
    Q = _const(np.broadcast_to(np.eye(m), a.shape[:-2] + (m, m)), a)
    for i in range(t.shape[-1]):
        v = V[..., :, i:i + 1]
        Q = Q - (Q @ v) @ (v.mT * tau[..., i:i + 1].unsqueeze(-1))
    return Q[..., :, :n]


def _orgqr_top(input: Tensor, tau: Tensor) -> Tensor:
    """torch.orgqr: :func:`householder_product` under its top-level name."""
    return householder_product(input, tau)
