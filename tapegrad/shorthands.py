"""torch functions that are a line or two of other tapegrad functions: ``select``,
``take_along_dim``, ``diagflat``, ``vdot``, ``dist``, ``isin``, ``unravel_index``.

Gradients, second order and ``tg.compile`` come from the functions they call.
"""

from __future__ import annotations

import numbers

import numpy as np

from .dtypes import SCALAR_NAMES, from_numpy_dtype
from .node import rename
from .products import add_methods
from .recording import _as_tensor, _wrap
from .tensor import Tensor


def _dim(dim: int, ndim: int) -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim % n


def select(input, dim: int, index: int) -> Tensor:
    """``input`` at ``index`` along ``dim``, that dim removed (a view), as ``torch.select``.

    >>> import tapegrad as tg
    >>> tg.arange(6).reshape(2, 3).select(1, -1)
    tensor([2, 5])
    """
    x = _as_tensor(input)
    if x.dim() == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _dim(dim, x.dim())
    size = x.shape[d]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(x.shape)} at dimension {d}")
    return x[(slice(None),) * d + (index,)]


def take_along_dim(input, indices, dim: int | None = None) -> Tensor:
    """The values of ``input`` at ``indices`` along ``dim`` (the two broadcast over the other
    dims; no ``dim``: both flattened), as ``torch.take_along_dim`` -- ``argsort``'s partner.

    >>> import tapegrad as tg
    >>> x = tg.tensor([[3.0, 1.0, 2.0]])
    >>> tg.take_along_dim(x, x.argsort(dim=1), dim=1)
    tensor([[1., 2., 3.]])
    """
    x, idx = _as_tensor(input), _as_tensor(indices)
    if idx._v.dtype.kind not in "iu":
        raise RuntimeError("torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{SCALAR_NAMES.get(idx._v.dtype, str(idx._v.dtype))}")
    if dim is None:
        return x.reshape(-1).gather(0, idx.reshape(-1))
    if x.dim() != idx.dim():
        raise RuntimeError("torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {x.dim()} dimensions for input, and "
                           f"{idx.dim()} dimensions for indices")
    d = _dim(dim, x.dim())
    xs, js = list(x.shape), list(idx.shape)
    xs[d] = js[d] = 1
    common = np.broadcast_shapes(tuple(xs), tuple(js))
    x_shape, i_shape = list(common), list(common)
    x_shape[d], i_shape[d] = x.shape[d], idx.shape[d]
    return x.expand(*x_shape).gather(d, idx.expand(*i_shape))


def diagflat(input, offset: int = 0) -> Tensor:
    """A matrix with the flattened ``input`` on its diagonal ``offset``, as ``torch.diagflat``.

    >>> import tapegrad as tg
    >>> tg.diagflat(tg.tensor([[1.0, 2.0]]))
    tensor([[1., 0.],
            [0., 2.]])
    """
    from .diagonals import diag

    return rename(diag(_as_tensor(input).reshape(-1), offset), "DiagEmbedBackward0")


def vdot(input, other) -> Tensor:
    """The dot product of two 1-D tensors (conjugating the first, which for real tensors is
    ``dot``), as ``torch.vdot``."""
    from .products import dot

    a, b = _as_tensor(input), _as_tensor(other)
    if a.dim() != 1 or b.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.dim()}D and {b.dim()}D tensors")
    return dot(a, b)


def dist(input, other, p: float = 2) -> Tensor:
    """The ``p``-norm of ``input - other`` (broadcast), as ``torch.dist``.

    >>> import tapegrad as tg
    >>> tg.dist(tg.tensor([1.0, 2.0]), tg.tensor([4.0, 6.0]))
    tensor(5.)
    """
    if not isinstance(p, numbers.Real):
        raise TypeError(f"dist(): argument 'p' must be Number, not {type(p).__name__}")
    return rename((_as_tensor(input) - _as_tensor(other)).norm(p), "DistBackward0")


def isin(elements, test_elements, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    """Whether each of ``elements`` is among ``test_elements`` (either may be a number), as
    ``torch.isin``.

    >>> import tapegrad as tg
    >>> tg.isin(tg.tensor([1, 2, 3]), tg.tensor([2, 5]))
    tensor([False,  True, False])
    """
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments - got "
                        f"({type(elements).__name__}, {type(test_elements).__name__}), but "
                        "expected one of:\n * (Tensor elements, Tensor test_elements, *, bool "
                        "assume_unique = False, bool invert = False, Tensor out = None)")
    a = np.asarray(elements._v if isinstance(elements, Tensor) else elements)
    b = np.asarray(test_elements._v if isinstance(test_elements, Tensor) else test_elements)
    return _wrap(np.isin(a, b, assume_unique=assume_unique, invert=invert))


def unravel_index(indices, shape) -> tuple:
    """The coordinates in ``shape`` of flat ``indices``, one int64 tensor per dim, as
    ``torch.unravel_index``.

    >>> import tapegrad as tg
    >>> tg.unravel_index(tg.tensor([4, 1]), (2, 3))
    (tensor([1, 0]), tensor([1, 1]))
    """
    idx = np.asarray(_as_tensor(indices)._v)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got "
                        f"{from_numpy_dtype(idx.dtype)}")
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {tuple(shape)}")
    # torch's arithmetic, out-of-range and negative indices included: (i // stride) % size
    strides = np.cumprod((1,) + shape[:0:-1])[::-1] if shape else np.ones(0, np.int64)
    return tuple(_wrap((idx // int(st) % size).astype(np.int64))
                 for st, size in zip(strides, shape, strict=True))


add_methods(select, take_along_dim, diagflat, vdot, dist)
