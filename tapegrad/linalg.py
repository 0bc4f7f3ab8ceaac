"""``tapegrad.linalg``: torch.linalg's LAPACK-based functions (issue 19).

numba has no LAPACK without SciPy (not a dependency), so these are not ops of the op table:
each is a custom :class:`tapegrad.autograd.Function` whose forward is NumPy's ``np.linalg`` and
whose backward is written in tensor operations (matmul, ``mT``, and the Functions here), so a
gradient taken with ``create_graph=True`` can be differentiated again.  Their records hand the
numba sweep over to Python once per call (not per element); ``tg.compile`` cannot replay them
(it raises ``NotImplementedError`` naming the function).  ``grad_fn.name()`` answers torch's
node names (``LinalgInvExBackward0``, ...).  torch's top-level names (``tg.inverse``, ``tg.det``,
``tg.logdet``, ``tg.slogdet``, ``tg.cholesky``, ``tg.cross``, ``tg.svd``, ``tg.qr``,
``tg.pinverse``) are in :data:`TOP_LEVEL`, served by ``tapegrad.__getattr__``.

>>> import tapegrad as tg
>>> A = tg.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
>>> d = tg.linalg.det(A)
>>> d.grad_fn.name(), round(d.item(), 12)
('LinalgDetBackward0', 5.0)
>>> d.backward()
>>> A.grad.numpy().round(12).tolist()
[[3.0, -1.0], [-1.0, 2.0]]
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .autograd.function import Function
from .recording import _wrap
from .tensor import Tensor

__all__ = ["LinAlgError", "inv", "solve", "det", "slogdet", "logdet", "cholesky", "vector_norm",
           "matrix_norm", "norm", "cross", "eigh", "eigvalsh", "svd", "svdvals", "qr", "pinv",
           "lstsq"]


class LinAlgError(RuntimeError):
    """torch.linalg.LinAlgError: a matrix the factorization cannot handle (singular, not
    positive-definite)."""


_slogdet_result = namedtuple("linalg_slogdet", ["sign", "logabsdet"])
_slogdet_top_result = namedtuple("slogdet", ["sign", "logabsdet"])

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


def _broadcast_batches(a_batch: tuple, b_batch: tuple) -> None:
    """torch's error for batch dimensions of A and B that do not broadcast."""
    n = max(len(a_batch), len(b_batch))
    for k in range(1, n + 1):
        x = a_batch[-k] if k <= len(a_batch) else 1
        y = b_batch[-k] if k <= len(b_batch) else 1
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({y}) must match the size of tensor b "
                               f"({x}) at non-singleton dimension {n - k}")


class _Det(Function):
    _node_name = "LinalgDetBackward0"

    @staticmethod
    def forward(ctx, A):
        out = _wrap(np.asarray(np.linalg.det(A._v), dtype=A._v.dtype))
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        A, d = ctx.saved_tensors
        return _det_backward(A, d, g)


def _det_backward(A: Tensor, d: Tensor, g: Tensor) -> Tensor:
    """``g`` times d det / dA: det(A) A^{-T} where det(A) != 0; the cofactors through the SVD
    (torch's route) for a singular matrix: det(U) det(Vh) U diag(prod_{j != i} S_j) Vh."""
    nonzero = d._v != 0
    if nonzero.all():
        return (g * d).unsqueeze(-1).unsqueeze(-1) * _Inv.apply(A).mT
    from .structural import stack, where

    n = A.shape[-1]
    U, S, Vh = _Svd.apply(A, False)
    alpha = _Det.apply(U) * _Det.apply(Vh)  # (+-1: orthogonal, never singular)
    ones = np.ones(n)
    others = []
    for i in range(n):  # prod_{j != i} S_j, exact where some S_j are 0
        keep = ones.copy()
        keep[i] = 0.0
        others.append((S * _const(keep, S._v) + _const(1.0 - keep, S._v)).prod(-1))
    D = stack(others, -1) * (g * alpha).unsqueeze(-1)
    singular = (U * D.unsqueeze(-2)) @ Vh
    if not nonzero.any():
        return singular
    mask = _const(nonzero, A._v).unsqueeze(-1).unsqueeze(-1) != 0
    safe = where(mask, A, _eye(n, A._v))  # (the inverse where it exists)
    regular = (g * d).unsqueeze(-1).unsqueeze(-1) * _Inv.apply(safe).mT
    return where(mask, regular, singular)


def det(A: Tensor) -> Tensor:
    """The determinant of each square matrix in ``A`` (torch.linalg.det); its gradient at a
    singular matrix is the cofactor matrix, through the SVD, as torch's."""
    _square(A, "linalg.det")
    return _Det.apply(A)


class _Slogdet(Function):
    _node_name = "LinalgSlogdetBackward0"

    @staticmethod
    def forward(ctx, A):
        sign, logabs = np.linalg.slogdet(A._v)
        sign = _wrap(np.asarray(sign, dtype=A._v.dtype))
        logabs = _wrap(np.asarray(logabs, dtype=A._v.dtype))
        ctx.save_for_backward(A)
        ctx.set_materialize_grads(False)  # (a backward from sign alone gives A no gradient)
        return sign, logabs

    @staticmethod
    def backward(ctx, _gsign, glogabs):
        if glogabs is None:
            return None
        (A,) = ctx.saved_tensors
        d = np.linalg.det(A._v)
        if np.all(d != 0):
            return glogabs.unsqueeze(-1).unsqueeze(-1) * _Inv.apply(A).mT
        # (a singular matrix: the cofactors over det(A) = 0, infinite as torch's; the signs of
        # the infinities follow NumPy's signed zero, not always torch's)
        d = _const(d, A._v)
        cofactors = _det_backward(A, d, _const(np.ones(d._v.shape), A._v))
        return cofactors * (glogabs / d).unsqueeze(-1).unsqueeze(-1)


def slogdet(A: Tensor) -> tuple[Tensor, Tensor]:
    """``(sign, logabsdet)`` of each square matrix in ``A`` (torch.linalg.slogdet, a named
    tuple); ``sign`` has a grad_fn, as torch's, but a zero gradient (real input)."""
    _square(A, "linalg.slogdet")
    return _slogdet_result(*_Slogdet.apply(A))


def _slogdet_top(A: Tensor) -> tuple[Tensor, Tensor]:
    """torch.slogdet: torch.linalg.slogdet under its top-level name."""
    _square(A, "linalg.slogdet")
    return _slogdet_top_result(*_Slogdet.apply(A))


def logdet(A: Tensor) -> Tensor:
    """The log of the determinant of each square matrix in ``A`` (torch.logdet): nan for a
    negative determinant, -inf for a zero one."""
    _square(A, "logdet")
    from .structural import where

    sign, logabs = _Slogdet.apply(A)
    # (a 0-d array, not the float nan: tg.where promotes a Python float to float64)
    return where(sign < 0, _const(np.nan, A._v), logabs)


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


def _dims(ndim: int, dim, fname: str) -> tuple:
    """``dim`` (None: all, an int, or a sequence) as sorted non-negative dims."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return tuple(range(ndim))
    top = max(ndim, 1)
    out = []
    for d in dims:
        if not -top <= d < top:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-top}, "
                             f"{top - 1}], but got {d})")
        out.append(d % top if ndim else 0)
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {out[0]} appears multiple times in the list of dims")
    return tuple(sorted(out)) if ndim else ()


def _kept(shape: tuple, dims: tuple) -> tuple:
    return tuple(1 if i in dims else n for i, n in enumerate(shape))


class _VectorNorm(Function):
    _node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, x, ord, dims, keepdim):
        a = np.abs(x._v)
        axis = dims if dims else None
        if ord == np.inf:
            n = a.max(axis=axis, keepdims=True)
        elif ord == -np.inf:
            n = a.min(axis=axis, keepdims=True)
        elif ord == 0:
            n = (a != 0).sum(axis=axis, keepdims=True)
        elif ord == 1:
            n = a.sum(axis=axis, keepdims=True)
        elif ord == 2:
            n = np.sqrt((a * a).sum(axis=axis, keepdims=True))
        else:
            n = (a ** ord).sum(axis=axis, keepdims=True) ** (1.0 / ord)
        n = np.asarray(n, dtype=x._v.dtype)
        if not keepdim:
            n = n.reshape([k for i, k in enumerate(x._v.shape) if i not in dims])
        out = _wrap(np.array(n))  # (a copy, contiguous; 0-d stays 0-d)
        ctx.ord, ctx.dims = ord, dims
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        # torch's norm_backward, in tensor operations (differentiable again)
        from .structural import where

        x, n = ctx.saved_tensors
        p = ctx.ord
        if p == 0:
            return None, None, None, None
        kshape = _kept(tuple(x.shape), ctx.dims)
        g, n = g.reshape(kshape), n.reshape(kshape)
        zero = _const(0.0, x._v)
        if p == 1:
            grad = x.sign() * g
        elif p == 2:
            grad = g * where(n == 0, zero, x / n)
        elif p in (np.inf, -np.inf):
            hit = where((x.abs() == n) | ((x != x) & (n != n)), _const(1.0, x._v), zero)
            grad = x.sign() * hit * (g / hit.sum(ctx.dims, keepdim=True))
        elif p < 1:
            scaled = x.sign() * where(x == 0, zero, x.abs() ** (p - 1))
            grad = scaled * g * n ** (1 - p)
        else:
            scaled = x.sign() * x.abs() ** (p - 1) if p < 2 else x * x.abs() ** (p - 2)
            grad = scaled * where(n == 0, zero, g / n ** (p - 1))
        return grad, None, None, None


def vector_norm(x: Tensor, ord: float = 2, dim=None, keepdim: bool = False, *,
                dtype=None) -> Tensor:
    """The ``ord``-norm of ``x`` over ``dim`` (all elements if None), as
    torch.linalg.vector_norm: ``ord`` any real, inf, -inf or 0 (the count of non-zeros)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"linalg_vector_norm(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(x).__name__}")
    if x._v.dtype.kind != "f":
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {_TORCH_TYPE.get(x._v.dtype.name, x._v.dtype.name)}")
    if dtype is not None:
        wanted = np.dtype(getattr(dtype, "np", dtype))
        if wanted.kind != "f" or wanted.itemsize < x._v.dtype.itemsize:
            have = _TORCH_TYPE.get(x._v.dtype.name, x._v.dtype.name)
            raise RuntimeError(f"linalg.vector_norm: the dtype of the input ({have}) should be "
                               "convertible without narrowing to the specified dtype "
                               f"({_TORCH_TYPE.get(wanted.name, wanted.name)})")
        x = x.to(dtype)
    ord = float(ord)
    dims = _dims(x._v.ndim, dim, "linalg.vector_norm")
    if ord < 0 or ord == np.inf:
        if x._v.size == 0 and (not dims or any(x._v.shape[d] == 0 for d in dims)):
            raise RuntimeError(f"linalg.vector_norm cannot compute the {_ord_text(ord)} norm on "
                               "an empty tensor because the operation does not have an identity")
    return _VectorNorm.apply(x, ord, dims, bool(keepdim))


def _ord_text(ord: float) -> str:
    if ord in (np.inf, -np.inf):
        return "inf" if ord > 0 else "-inf"
    return f"{ord:g}" if ord != int(ord) else str(int(ord))


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *,
                dtype=None) -> Tensor:
    """The ``ord`` matrix norm of the matrices of ``A`` over the two dims ``dim``, as
    torch.linalg.matrix_norm: 'fro', 'nuc', 1, -1, 2, -2, inf, -inf."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_matrix_norm(): argument 'input' (position 1) must be Tensor, "
                        f"not {type(A).__name__}")
    if A._v.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    if A._v.dtype.kind != "f":
        raise RuntimeError("linalg.matrix_norm: Expected a floating point or complex tensor as "
                           f"input. Got {_TORCH_TYPE.get(A._v.dtype.name, A._v.dtype.name)}")
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) != 2:
        raise RuntimeError("linalg.matrix_norm: dim must be a 2-tuple. Got "
                           + " ".join(map(str, dims)))
    d0, d1 = (d % A._v.ndim for d in _dims_unsorted(A._v.ndim, dims))
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dims[0]}, "
                           f"{dims[1]})")
    if dtype is not None:
        A = A.to(dtype)
    if isinstance(ord, str):
        if ord == "fro":
            return vector_norm(A, 2, (d0, d1), keepdim)
        if ord != "nuc":
            raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if ord in ("nuc", 2, -2):
        rest = [i for i in range(A.ndim) if i not in (d0, d1)]
        s = svdvals(A.permute(tuple(rest) + (d0, d1)))
        out = s.sum(-1) if ord == "nuc" else s.amax(-1) if ord == 2 else s.amin(-1)
        if keepdim:
            out = out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return out
    if ord not in (1, -1, np.inf, -np.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {_ord_text(float(ord))} not supported.")
    # ord +-1: the max/min over columns of their 1-norms; ord +-inf: over rows
    inner, outer = (d0, d1) if abs(ord) == 1 else (d1, d0)
    sums = vector_norm(A, 1, inner, keepdim=keepdim)
    if not keepdim and inner < outer:
        outer -= 1
    return sums.amax(outer, keepdim=keepdim) if ord > 0 else sums.amin(outer, keepdim=keepdim)


def _dims_unsorted(ndim: int, dims: tuple) -> tuple:
    for d in dims:
        if not -ndim <= d < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                             f"{ndim - 1}], but got {d})")
    return dims


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """torch.linalg.norm: a vector norm (``dim`` an int, or ``A`` 1-D) or a matrix norm
    (``dim`` a 2-tuple, or ``A`` 2-D); with ``ord`` and ``dim`` both None, the 2-norm of all
    elements."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_norm(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    if isinstance(ord, str):
        return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or "
                               f"2. Got {list(dims)}")
    elif ord is not None:
        if A.ndim not in (1, 2):
            raise RuntimeError("linalg.norm: If dim is not specified but ord is, the input "
                               f"must be 1D or 2D. Got {A.ndim}D.")
        dims = tuple(range(A.ndim))
    else:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if len(dims) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
    return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of the 3-vectors along ``dim`` of ``input`` and ``other``
    (broadcasting the rest), as torch.linalg.cross."""
    return _cross(input, other, dim, "linalg.cross")


def _cross(a: Tensor, b: Tensor, dim: int, fname: str) -> Tensor:
    from . import node
    from .structural import stack

    for name, t in (("input", a), ("other", b)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_cross(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    ndim = max(a.ndim, b.ndim)
    if a.ndim != b.ndim:
        raise RuntimeError(f"{fname}: inputs must have the same number of dimensions.")
    _dims_unsorted(ndim, (dim,))
    if a.shape[dim] != 3 or b.shape[dim] != 3:
        raise RuntimeError(f"{fname}: inputs dimension {dim} must have length 3. Got "
                           f"{a.shape[dim]} and {b.shape[dim]}")
    d = dim % ndim
    lead = (slice(None),) * d
    at = [a[lead + (k,)] for k in range(3)]
    bt = [b[lead + (k,)] for k in range(3)]
    out = stack([at[1] * bt[2] - at[2] * bt[1], at[2] * bt[0] - at[0] * bt[2],
                 at[0] * bt[1] - at[1] * bt[0]], dim=d)
    return node.rename(out, "LinalgCrossBackward0")


def _cross_top(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """torch.cross: with ``dim`` None (deprecated), the first dim of size 3."""
    if dim is None:
        import warnings

        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\n"
                      "Please either pass the dim explicitly or simply use torch.linalg.cross.\n"
                      "The default value of dim will change to agree with that of linalg.cross "
                      "in a future release.", UserWarning, stacklevel=2)
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
        dim = next((i for i, n in enumerate(shape) if n == 3), -1)
    return _cross(input, other, dim, "linalg.cross")


_eigh_result = namedtuple("linalg_eigh", ["eigenvalues", "eigenvectors"])
_qr_result = namedtuple("linalg_qr", ["Q", "R"])
_svd_result = namedtuple("linalg_svd", ["U", "S", "Vh"])
_lstsq_result = namedtuple("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])


def _eye(n: int, like: np.ndarray) -> Tensor:
    return _const(np.eye(n), like)


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


def _uplo(UPLO: str) -> str:
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO


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
        from .structural import cat

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


def _pinverse_top(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """torch.pinverse: torch.linalg.pinv with ``rtol=rcond``."""
    return pinv(input, rtol=rcond)


# torch's top-level names for these (tg.inverse, tg.det, ...): tapegrad/__init__.py's
# __getattr__ reads this table
TOP_LEVEL = {"inverse": inv, "det": det, "logdet": logdet, "slogdet": _slogdet_top,
             "cholesky": _cholesky_top, "cross": _cross_top, "svd": _svd_top, "qr": _qr_top,
             "pinverse": _pinverse_top}
