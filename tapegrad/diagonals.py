"""Triangles and diagonals in torch's names (issue 19): ``tril``, ``triu``, ``diagonal``,
``diag_embed``, ``diag``, ``trace``.

No op of its own: a gather by a flat map made from shapes (the ``repeat`` op) or a scatter by
one among zeros, named as torch's node (``node.rename``); ``diagonal`` is a writable view.
"""

from __future__ import annotations

import numpy as np

from .fastpath import _storage
from .node import rename
from .ops.graphs import scatter_add as _scatter_op
from .products import add_methods, takes_out
from .recording import _as_tensor, _record, _recording, _share_version, _wrap
from .shapes import _REPEAT, _dim, _gathered, _offsets
from .tensor import Tensor

# -- triangles and diagonals ----------------------------------------------------------------


def _triangle(name: str):
    def triangle(input, diagonal: int = 0) -> Tensor:
        x = _as_tensor(input)
        shape = x._v.shape
        if len(shape) < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
        rows, cols = np.indices(shape[-2:])
        keep = cols - rows <= diagonal if name == "tril" else cols - rows >= diagonal
        keep = np.broadcast_to(keep, shape)
        v = np.asarray(x._v)
        if not _recording(x):
            return _as_tensor(np.where(keep, v, np.zeros((), v.dtype)))
        # the kept elements gathered and put back among zeros: nothing kept (torch's nodes
        # keep nothing), and an inf outside the triangle passes no nan
        kept = np.flatnonzero(keep)
        picked = _gathered(x, kept, kept.shape, "TrilBackward0")
        out = _scatter_op(picked, kept, v.size, shape, unique=True)
        return rename(out, "TrilBackward0" if name == "tril" else "TriuBackward0")

    triangle.__name__ = triangle.__qualname__ = name
    triangle.__doc__ = (f"``input``'s {'lower' if name == 'tril' else 'upper'} triangle "
                        f"(of its last two dims, from ``diagonal``), the rest 0, as "
                        f"``torch.{name}``.")
    return triangle


tril = _triangle("tril")
triu = _triangle("triu")


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal ``offset`` of the planes (``dim1``, ``dim2``) as a last dim (a view), as
    ``torch.diagonal``."""
    return _diagonal(_as_tensor(input), offset, dim1, dim2, "DiagonalBackward0")


def _diagonal(x: Tensor, offset: int, dim1: int, dim2: int, name: str) -> Tensor:
    shape = x._v.shape
    a, b = _dim(dim1, len(shape)), _dim(dim2, len(shape))
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    picked = np.diagonal(_offsets(shape), offset, a, b)
    if name != "DiagonalBackward0":  # (diag and trace: a copy, as torch's)
        return _gathered(x, picked, picked.shape, name)
    # torch's diagonal is a view: a writable strided one of x's storage (NumPy's diagonal is
    # read-only), recorded as the gather it is, sharing x's version counter as a slice does
    v = _storage(x)
    key = [slice(None)] * len(shape)
    key[a], key[b] = slice(max(-offset, 0), None), slice(max(offset, 0), None)
    corner = v[tuple(key)]
    value = np.lib.stride_tricks.as_strided(corner, picked.shape,
                                            np.diagonal(corner, 0, a, b).strides)
    out = _record(_REPEAT, value, x, None, picked.reshape(-1)) if _recording(x) else _wrap(value)
    _share_version(out, x)
    return rename(out, name)


def _embed_positions(shape: tuple, offset: int, dim1: int, dim2: int) -> tuple:
    nd = len(shape) + 1
    a, b = _dim(dim1, nd), _dim(dim2, nd)
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = (shape[-1] if shape else 1) + abs(offset)
    batch = list(shape[:-1])
    out_shape = []
    for k in range(nd):
        out_shape.append(n if k in (a, b) else batch.pop(0))
    positions = np.diagonal(_offsets(tuple(out_shape)), offset, a, b)
    return tuple(out_shape), positions.reshape(-1)


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices (in dims ``dim1``, ``dim2``) with ``input``'s last dim on their diagonal
    ``offset``, zero elsewhere, as ``torch.diag_embed``."""
    x = _as_tensor(input)
    out_shape, positions = _embed_positions(tuple(x._v.shape), offset, dim1, dim2)
    return _embedded(x, positions, out_shape)


def _embedded(x: Tensor, positions: np.ndarray, out_shape: tuple) -> Tensor:
    size = int(np.prod(out_shape, dtype=np.int64))
    if _recording(x):
        out = _scatter_op(x, positions, size, out_shape, unique=True)
        return rename(out, "DiagEmbedBackward0")
    value = np.zeros(size, dtype=np.asarray(x._v).dtype)
    value[positions] = np.asarray(x._v).reshape(-1)
    return _as_tensor(value.reshape(out_shape))


def diag(input, diagonal: int = 0) -> Tensor:
    """A 1-D ``input`` as the diagonal ``diagonal`` of a square matrix, or a matrix's
    diagonal ``diagonal`` as a vector, as ``torch.diag``."""
    x = _as_tensor(input)
    nd = x._v.ndim
    if nd == 1:
        n = x._v.shape[0] + abs(diagonal)
        positions = np.diagonal(_offsets((n, n)), diagonal).reshape(-1)
        return _embedded(x, positions, (n, n))
    if nd != 2:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {nd}D")
    return _diagonal(x, diagonal, 0, 1, "DiagonalBackward0_copy")


def trace(input) -> Tensor:
    """The sum of a matrix's diagonal, as ``torch.trace``."""
    x = _as_tensor(input)
    if x._v.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x._v.ndim}")
    return rename(_diagonal(x, 0, 0, 1, "DiagonalBackward0").sum(), "TraceBackward0")


add_methods(tril, triu, diag, diagonal, diag_embed, trace)

# (the functions take out=, as torch's; the methods do not)
tril, triu, diag = takes_out(tril), takes_out(triu), takes_out(diag)

__all__ = ["tril", "triu", "diag", "diagonal", "diag_embed", "trace"]
