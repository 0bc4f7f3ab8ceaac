"""torch.linalg's names tapegrad does not compute: eig and eigvals (their results are complex,
and tapegrad has no complex dtypes) and the LDL^T (Bunch-Kaufman) functions.  Each raises a
NotImplementedError that names itself and what to use instead."""

from __future__ import annotations

__all__ = ["eig", "eigvals", "ldl_factor", "ldl_factor_ex", "ldl_solve"]

_COMPLEX = ("tapegrad.linalg.{}: torch.linalg.{} returns complex tensors, and complex results "
            "are not supported by tapegrad; for a symmetric matrix use tapegrad.linalg.eigh / "
            "eigvalsh")
_LDL = ("tapegrad.linalg.{}: the LDL^T (Bunch-Kaufman) factorization is not implemented; use "
        "tapegrad.linalg.cholesky / cholesky_ex (positive-definite) or lu_factor and lu_solve")


def eig(A, *, out=None):
    """Not supported: complex results (torch.linalg.eig)."""
    raise NotImplementedError(_COMPLEX.format("eig", "eig"))


def eigvals(A, *, out=None):
    """Not supported: complex results (torch.linalg.eigvals)."""
    raise NotImplementedError(_COMPLEX.format("eigvals", "eigvals"))


def ldl_factor(A, *, hermitian: bool = False, out=None):
    """Not implemented (torch.linalg.ldl_factor)."""
    raise NotImplementedError(_LDL.format("ldl_factor"))


def ldl_factor_ex(A, *, hermitian: bool = False, check_errors: bool = False, out=None):
    """Not implemented (torch.linalg.ldl_factor_ex)."""
    raise NotImplementedError(_LDL.format("ldl_factor_ex"))


def ldl_solve(LD, pivots, B, *, hermitian: bool = False, out=None):
    """Not implemented (torch.linalg.ldl_solve)."""
    raise NotImplementedError(_LDL.format("ldl_solve"))
