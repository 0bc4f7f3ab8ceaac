"""tg.linalg's norms: vector_norm, matrix_norm, norm."""

from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..recording import _wrap
from ..tensor import Tensor
from ._common import _TORCH_TYPE, _const
from .decompositions import svdvals


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
        from ..structural import where

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


def cond(A: Tensor, p=None) -> Tensor:
    """The condition number of each matrix of ``A`` in the ``p`` norm, as torch.linalg.cond:
    ``p`` None or 2 (largest / smallest singular value; any shape), -2, or, for square
    matrices, 'fro', 'nuc', inf, -inf, 1, -1 (``norm(A) * norm(inv(A))``, inf for a singular
    matrix).

    >>> import tapegrad as tg
    >>> tg.linalg.cond(tg.tensor([[2.0, 0.0], [0.0, 0.5]])).item()
    4.0
    """
    from ..structural import where
    from .solvers import inv

    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_cond(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    if not (p is None or (p in ("fro", "nuc") if isinstance(p, str) else
                          not isinstance(p, bool) and p in (2, -2, 1, -1, np.inf, -np.inf))):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    shown = "" if p in (None, 2, -2) else f"(ord={_ord_name(p)})"
    a = A._v
    if a.ndim < 2:
        raise RuntimeError(f"linalg.cond{shown}: The input tensor {'A ' if shown else ''}must "
                           "have at least 2 dimensions.")
    if a.dtype.kind != "f":
        raise RuntimeError(f"linalg.cond{shown}: Expected a floating point or complex tensor "
                           f"as input. Got {_TORCH_TYPE.get(a.dtype.name, a.dtype.name)}")
    if p in (None, 2, -2):
        if min(a.shape[-2:]) == 0:  # (torch's 0 for an empty matrix)
            return A.sum((-2, -1)) * 0.0
        s = svdvals(A)
        return s[..., 0] / s[..., -1] if p != -2 else s[..., -1] / s[..., 0]
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.cond{shown}: A must be batches of square matrices, but "
                           f"they are {a.shape[-2]} by {a.shape[-1]} matrices")
    if a.shape[-1] == 0:
        return A.sum((-2, -1)) * 0.0
    from .determinants import _Slogdet

    # a singular matrix's condition number is inf, and its inverse is taken of the identity,
    # so that no inf or nan reaches the gradient; singular means LU's exact zero pivot, read
    # from slogdet's sign (a recorded Function: tg.compile's replay tells them apart anew)
    singular = _Slogdet.apply(A.detach())[0] == 0
    safe = where(singular[..., None, None], _const(np.eye(a.shape[-1]), a), A)
    value = matrix_norm(A, p) * matrix_norm(inv(safe), p)
    return where(singular, _const(np.inf, a), value)


def _ord_name(p) -> str:
    if isinstance(p, str):
        return p
    return _ord_text(float(p))
