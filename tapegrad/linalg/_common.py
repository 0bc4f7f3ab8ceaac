"""Checks and errors shared by tg.linalg's functions: torch's argument checks for (square) float
matrices, its LinAlgError messages for singular and non-positive-definite input, and small
constant helpers."""

from __future__ import annotations

import numpy as np

from ..recording import _wrap
from ..tensor import Tensor


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a matrix the factorization cannot handle (singular, not
    positive-definite)."""


_TORCH_TYPE = {"float64": "Double", "float32": "Float", "float16": "Half", "int64": "Long",
               "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _square(A, fname: str) -> np.ndarray:
    """``A``'s array, checked as torch checks a batch of square float matrices."""
    if not isinstance(A, Tensor):
        raise TypeError(f"{fname}(): argument 'A' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    a = A._v
    if a.ndim < 2:
        raise RuntimeError(f"{fname}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{fname}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    if a.dtype.kind != "f":
        raise RuntimeError(f"{fname}: Expected a floating point or complex tensor as input. "
                           f"Got {_TORCH_TYPE.get(a.dtype.name, a.dtype.name)}")
    return a


def _matrix(A, fname: str) -> np.ndarray:
    if not isinstance(A, Tensor):
        raise TypeError(f"{fname}(): argument 'A' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    a = A._v
    if a.ndim < 2:
        raise RuntimeError(f"{fname}: The input tensor A must have at least 2 dimensions.")
    if a.dtype.kind != "f":
        raise RuntimeError(f"{fname}: Expected a floating point or complex tensor as input. "
                           f"Got {_TORCH_TYPE.get(a.dtype.name, a.dtype.name)}")
    return a


def _batch_prefix(a: np.ndarray, index: int) -> str:
    return f"(Batch element {index}): " if a.ndim > 2 else ""


def _first_zero_pivot(m: np.ndarray) -> int:
    """LAPACK getrf's info for ``m``: the (1-based) first exactly-zero pivot of LU with partial
    pivoting, 0 if none (only on the error path: its cost does not matter)."""
    u = np.array(m, dtype=np.float64)
    n = u.shape[0]
    for j in range(n):
        p = j + int(np.argmax(np.abs(u[j:, j])))
        if u[p, j] == 0.0:
            return j + 1
        u[[j, p]] = u[[p, j]]
        u[j + 1:, j:] -= np.outer(u[j + 1:, j] / u[j, j], u[j, j:])
    return 0


def _singular_error(a: np.ndarray, fname: str) -> LinAlgError:
    flat = a.reshape((-1,) + a.shape[-2:])
    for b, m in enumerate(flat):
        k = _first_zero_pivot(m)
        if k:
            return LinAlgError(f"{fname}: {_batch_prefix(a, b)}The diagonal element {k} is zero, "
                               "the inversion could not be completed because the input matrix "
                               "is singular.")
    return LinAlgError(f"{fname}: The inversion could not be completed because the input matrix "
                       "is singular.")


def _solve_singular(a: np.ndarray, b: np.ndarray) -> LinAlgError:
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    flat = np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
    prefix = ""
    if batch:
        index = next((i for i, m in enumerate(flat) if _first_zero_pivot(m)), 0)
        prefix = f"(Batch element {index}): "
    return LinAlgError(f"torch.linalg.solve: {prefix}The solver failed because the input "
                       "matrix is singular.")


def _np_inv(a: np.ndarray, fname: str) -> np.ndarray:
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise _singular_error(a, fname) from None


def _const(array: np.ndarray, like: np.ndarray) -> Tensor:
    return _wrap(np.asarray(array, dtype=like.dtype))


def _eye(n: int, like: np.ndarray) -> Tensor:
    return _const(np.eye(n), like)


def _broadcast_batches(a_batch: tuple, b_batch: tuple) -> None:
    """torch's error for batch dimensions of A and B that do not broadcast."""
    n = max(len(a_batch), len(b_batch))
    for k in range(1, n + 1):
        x = a_batch[-k] if k <= len(a_batch) else 1
        y = b_batch[-k] if k <= len(b_batch) else 1
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({y}) must match the size of tensor b "
                               f"({x}) at non-singleton dimension {n - k}")


def _positive_definite_error(a: np.ndarray, fname: str) -> LinAlgError:
    flat = a.reshape((-1,) + a.shape[-2:])
    n = a.shape[-1]
    for b, m in enumerate(flat):
        for k in range(1, n + 1):
            try:
                np.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                return LinAlgError(
                    f"{fname}: {_batch_prefix(a, b)}The factorization could not be completed "
                    "because the input is not positive-definite (the leading minor of order "
                    f"{k} is not positive-definite).")
    return LinAlgError(f"{fname}: The factorization could not be completed because the input "
                       "is not positive-definite.")


def _uplo(UPLO: str) -> str:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO


def _singular_values(a: np.ndarray, hermitian: bool) -> np.ndarray:
    if a.size == 0:
        return np.zeros(a.shape[:-2] + (min(a.shape[-2:]),), a.dtype)
    if hermitian:
        return np.abs(np.linalg.eigvalsh(a))
    return np.linalg.svd(a, compute_uv=False)


def _tolerance(s: np.ndarray, a: np.ndarray, atol, rtol) -> np.ndarray:
    """torch's ``max(atol, rtol * s_max)`` per matrix; ``atol`` and ``rtol`` floats or tensors
    broadcasting against the batch."""
    def value(t):
        return t._v if isinstance(t, Tensor) else t

    atol, rtol = value(atol), value(rtol)
    if rtol is None:  # (torch's default; 0 where a positive atol is given)
        rtol = np.finfo(a.dtype).eps * max(a.shape[-2:])
        if atol is not None:
            rtol = np.where(np.asarray(atol) > 0, 0.0, rtol)
    smax = s.max(-1, initial=0.0) if s.shape[-1] else np.zeros(s.shape[:-1], s.dtype)
    return np.maximum(0.0 if atol is None else atol, np.asarray(rtol) * smax)
