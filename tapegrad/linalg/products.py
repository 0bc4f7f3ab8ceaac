"""tg.linalg's products, composed of recorded ops (their gradients, create_graph and tg.compile
come from those): cross, matmul, vecdot, multi_dot, diagonal, vander (and torch.cross)."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._common import _TORCH_TYPE
from .norms import _dims_unsorted


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of the 3-vectors along ``dim`` of ``input`` and ``other``
    (broadcasting the rest), as torch.linalg.cross."""
    return _cross(input, other, dim, "linalg.cross")


def _cross(a: Tensor, b: Tensor, dim: int, fname: str) -> Tensor:
    from .. import node
    from ..structural import stack

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


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """torch.linalg.matmul: :func:`tapegrad.matmul` under its linalg name.

    >>> import tapegrad as tg
    >>> tg.linalg.matmul(tg.tensor([[1.0, 2.0]]), tg.tensor([[3.0], [4.0]])).tolist()
    [[11.0]]
    """
    from ..structural import matmul as _matmul

    return _matmul(input, other)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """The dot products of the vectors along ``dim`` of ``x`` and ``y`` (broadcast), as
    torch.linalg.vecdot (real tensors: no conjugation).

    >>> import tapegrad as tg
    >>> tg.linalg.vecdot(tg.tensor([[1.0, 2.0], [3.0, 4.0]]), tg.tensor([1.0, -1.0])).tolist()
    [-1.0, -1.0]
    """
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_vecdot(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if x.dtype != y.dtype:
        raise RuntimeError("linalg.vecdot: Expected x and y to have the same dtype, but found "
                           f"x of type {_type(x)} and y of type {_type(y)} instead")
    _broadcastable(tuple(x.shape), tuple(y.shape))
    return (x * y).sum(dim)


def _broadcastable(a: tuple, b: tuple) -> None:
    n = max(len(a), len(b))
    for k in range(1, n + 1):
        p = a[-k] if k <= len(a) else 1
        q = b[-k] if k <= len(b) else 1
        if p != q and p != 1 and q != 1:
            raise RuntimeError(f"The size of tensor a ({p}) must match the size of tensor b "
                               f"({q}) at non-singleton dimension {n - k}")


def _type(t: Tensor) -> str:
    return _TORCH_TYPE.get(t._v.dtype.name, t._v.dtype.name)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """torch.linalg.diagonal: :func:`tapegrad.diagonal` with the last two dims as defaults.

    >>> import tapegrad as tg
    >>> tg.linalg.diagonal(tg.tensor([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [1.0, 4.0]
    """
    from .. import diagonal as _diagonal  # (the public name: its module moves)

    return _diagonal(A, offset, dim1, dim2)


def multi_dot(tensors) -> Tensor:
    """The product of a chain of matrices (the first may be a row vector, the last a column
    vector: 1-D), multiplied in the order that costs the fewest multiplications, as
    torch.linalg.multi_dot.

    >>> import tapegrad as tg
    >>> a = tg.tensor([1.0, 2.0])
    >>> tg.linalg.multi_dot([a, tg.eye(2, dtype=a.dtype) * 3, a]).item()
    15.0
    """
    tensors = list(tensors)
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_multi_dot(): argument 'tensors' must be tuple of Tensors, "
                            f"but found element of type {type(t).__name__} at pos {i}")
    first, last = tensors[0], tensors[-1]
    if first.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got "
                           f"{first.ndim}D")
    if last.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last.ndim}D")
    for i in range(1, n - 1):
        if tensors[i].ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got "
                               f"{tensors[i].ndim}D")
    for i in range(1, n):
        if tensors[i].dtype != first.dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but "
                               f"tensor 0 is {_dtype_word(first)} and tensor {i} "
                               f"{_dtype_word(tensors[i])}")
    mats = list(tensors)
    if first.ndim == 1:
        mats[0] = first.unsqueeze(0)
    if last.ndim == 1:
        mats[-1] = last.unsqueeze(-1)
    for i in range(n - 1):
        if mats[i].shape[-1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"{list(tensors[i].shape)} and {list(tensors[i + 1].shape)} "
                               "cannot be multiplied")
    dims = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    out = _chain(mats, _order(dims), 0, n - 1)
    if first.ndim == 1 and last.ndim == 1:
        return out.reshape(())
    if first.ndim == 1:
        return out.squeeze(0)
    if last.ndim == 1:
        return out.squeeze(-1)
    return out


def _dtype_word(t: Tensor) -> str:
    return {"float64": "double", "float32": "float", "float16": "half", "int64": "long",
            "int32": "int"}.get(t._v.dtype.name, t._v.dtype.name)


def _order(dims: list) -> list:
    """The classic matrix-chain dynamic programme: split[i][j] is where the cheapest product of
    matrices i..j splits."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(mats: list, split: list, i: int, j: int) -> Tensor:
    if i == j:
        return mats[i]
    k = split[i][j]
    return _chain(mats, split, i, k) @ _chain(mats, split, k + 1, j)


def vander(x: Tensor, N: int | None = None) -> Tensor:
    """The Vandermonde matrices of the vectors along ``x``'s last dim: columns ``x**0, ...,
    x**(N-1)`` (increasing powers; ``N`` defaults to ``x.shape[-1]``), as torch.linalg.vander.

    >>> import tapegrad as tg
    >>> tg.linalg.vander(tg.tensor([1.0, 2.0, 3.0])).tolist()
    [[1.0, 1.0, 1.0], [1.0, 2.0, 4.0], [1.0, 3.0, 9.0]]
    """
    from ..structural import stack

    if not isinstance(x, Tensor):
        raise TypeError(f"linalg_vander(): argument 'x' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")
    if x.ndim == 0:
        raise RuntimeError("N must be greater than 1.")
    if N is None:
        N = x.shape[-1]
    if N <= 1:
        raise RuntimeError("N must be greater than 1.")
    from ..recording import _wrap

    columns = [_wrap(np.ones(x._v.shape, x._v.dtype)), x]
    for _ in range(N - 2):
        columns.append(columns[-1] * x)
    return stack(columns, -1)


def _vander_top(x: Tensor, N: int | None = None, increasing: bool = False) -> Tensor:
    """torch.vander: the powers ``x**(N-1), ..., x**0`` of a 1-D ``x`` as columns (increasing
    if ``increasing``)."""
    from ..recording import _wrap
    from ..structural import stack

    if not isinstance(x, Tensor):
        raise TypeError(f"vander(): argument 'x' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    if N is None:
        N = x.shape[0]
    if N < 0:
        raise RuntimeError("N must be non-negative.")
    columns = [_wrap(np.ones(x._v.shape, x._v.dtype))] if N else []
    for _ in range(N - 1):
        columns.append(x if len(columns) == 1 else columns[-1] * x)
    if not columns:
        return _wrap(np.zeros((x.shape[0], 0), x._v.dtype))
    return stack(columns if increasing else columns[::-1], -1)
