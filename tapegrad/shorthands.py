"""torch functions that are a line or two of other tapegrad functions: ``select``,
``take_along_dim``, ``diagflat``, ``vdot``, ``dist``, ``isin``, ``unravel_index``, ``fmax``,
``fmin``, ``ldexp``, ``renorm``, ``pdist``, ``select_scatter``, ``slice_scatter``,
``histogram``, the integer functions ``bitwise_*``, ``gcd``, ``lcm``, and ``not_equal``.

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


def fmax(input, other) -> Tensor:
    """The larger of each pair, ignoring a NaN (NaN only where both are), as ``torch.fmax``;
    the gradient goes to the one taken (to ``input`` on ties).

    >>> import tapegrad as tg
    >>> tg.fmax(tg.tensor([1.0, float("nan")]), tg.tensor([float("nan"), 2.0]))
    tensor([1., 2.])
    """
    from .structural import where

    a, b = _as_tensor(input), _as_tensor(other)
    return rename(where((a >= b) | b.isnan(), a, b), "FmaxBackward0")


def fmin(input, other) -> Tensor:
    """The smaller of each pair, ignoring a NaN, as ``torch.fmin``."""
    from .structural import where

    a, b = _as_tensor(input), _as_tensor(other)
    return rename(where((a <= b) | b.isnan(), a, b), "FminBackward0")


def ldexp(input, other) -> Tensor:
    """``input * 2 ** other``, as ``torch.ldexp`` (differentiable in both).

    >>> import tapegrad as tg
    >>> tg.ldexp(tg.tensor([1.0, 3.0]), tg.tensor([2, -1]))
    tensor([4.0000, 1.5000])
    """
    x, e = _as_tensor(input), _as_tensor(other)
    if x._v.dtype.kind != "f":
        from .recording import _DEFAULT_FLOAT

        x = x.to(from_numpy_dtype(_DEFAULT_FLOAT))
    return x * (2.0 ** e.to(x.dtype))


def renorm(input, p: float, dim: int, maxnorm: float) -> Tensor:
    """Each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` scaled down to it, as
    ``torch.renorm``."""
    from .structural import where

    x = _as_tensor(input)
    if x.dim() <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {x.dim()} "
                           "dimensions")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    d = _dim(dim, x.dim())
    norms = x.norm(p, tuple(k for k in range(x.dim()) if k != d), keepdim=True)
    factor = where(norms > maxnorm, maxnorm / (norms + 1e-7), _wrap(np.ones((), x._v.dtype)))
    return rename(x * factor, "RenormBackward0")


def pdist(input, p: float = 2) -> Tensor:
    """The ``p``-distances between the rows of a 2-D ``input``, upper triangle row by row, as
    ``torch.pdist``.

    >>> import tapegrad as tg
    >>> tg.pdist(tg.tensor([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]))
    tensor([ 5., 10.,  5.])
    """
    from .fused import cdist

    x = _as_tensor(input)
    if x.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {x.dim()}D")
    n = x.shape[0]
    rows, cols = np.triu_indices(n, 1)
    return rename(cdist(x, x, p)[_wrap(rows), _wrap(cols)], "PdistBackward0")


def select_scatter(input, src, dim: int, index: int) -> Tensor:
    """``input`` with ``src`` written at ``index`` along ``dim`` (a copy), as
    ``torch.select_scatter``: gradients flow to both."""
    out = _as_tensor(input).clone()
    d = _dim(dim, out.dim())
    out[(slice(None),) * d + (index,)] = _as_tensor(src)
    return rename(out, "SelectScatterBackward0")


def slice_scatter(input, src, dim: int = 0, start: int | None = None, end: int | None = None,
                  step: int = 1) -> Tensor:
    """``input`` with ``src`` written into ``input[start:end:step]`` along ``dim`` (a copy), as
    ``torch.slice_scatter``."""
    out = _as_tensor(input).clone()
    d = _dim(dim, out.dim())
    out[(slice(None),) * d + (slice(start, end, step),)] = _as_tensor(src)
    return rename(out, "SliceScatterBackward0")


def histogram(input, bins=100, *, range=None, weight=None,  # noqa: A002 (torch's names)
              density: bool = False) -> tuple:
    """Counts of ``input`` in ``bins`` (a number of equal bins over ``range``, or their edges),
    weighted by ``weight``, as ``torch.histogram``: ``(hist, bin_edges)``, no gradient."""
    x = np.asarray(_as_tensor(input)._v)
    if x.dtype.kind != "f":
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the same "
                           f"dtype, but got input {SCALAR_NAMES[x.dtype].lower()} and bins "
                           f"{SCALAR_NAMES[x.dtype].lower()}")
    edges = np.asarray(bins._v) if isinstance(bins, Tensor) else int(bins)
    w = None if weight is None else np.asarray(_as_tensor(weight)._v)
    hist, edge_values = np.histogram(x, edges, range=range, weights=w, density=density)
    return _Histogram((_wrap(hist.astype(x.dtype)), _wrap(edge_values.astype(x.dtype))))


class _Histogram(tuple):
    """torch.return_types.histogram: ``hist, bin_edges = torch.histogram(...)``."""

    __slots__ = ()

    @property
    def hist(self) -> Tensor:
        return self[0]

    @property
    def bin_edges(self) -> Tensor:
        return self[1]

    def __repr__(self) -> str:
        return (f"tapegrad.return_types.histogram(\nhist={self[0]!r},\n"
                f"bin_edges={self[1]!r})")


def _integer_function(name: str, compute, arity: int):
    """``torch.<name>``: NumPy's ``compute`` on bool/integer tensors, torch's refusal of floats."""

    def function(input, other=None):
        xs = [_as_tensor(input)] + ([_as_tensor(other)] if arity == 2 else [])
        if arity == 2 and not isinstance(other, Tensor) and name in ("gcd", "lcm"):
            raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                            f"{type(other).__name__}")
        for t in xs:
            kind = np.asarray(t._v).dtype
            if kind.kind == "f" or (kind.kind == "b" and name in ("gcd", "lcm")):
                raise NotImplementedError(f'"{name}_cpu" not implemented for '
                                          f"'{SCALAR_NAMES[kind]}'")
        return _wrap(np.asarray(compute(*[np.asarray(t._v) for t in xs])))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``{name}`` of bool or integer tensors, as ``torch.{name}``."
    return function


bitwise_and = _integer_function("bitwise_and", np.bitwise_and, 2)
bitwise_or = _integer_function("bitwise_or", np.bitwise_or, 2)
bitwise_xor = _integer_function("bitwise_xor", np.bitwise_xor, 2)
bitwise_not = _integer_function("bitwise_not", np.invert, 1)
bitwise_left_shift = _integer_function("bitwise_left_shift", np.left_shift, 2)
bitwise_right_shift = _integer_function("bitwise_right_shift", np.right_shift, 2)
gcd = _integer_function("gcd", np.gcd, 2)
lcm = _integer_function("lcm", np.lcm, 2)


def not_equal(input, other) -> Tensor:
    """``input != other``, as ``torch.not_equal`` (``ne``'s alias)."""
    return _as_tensor(input).ne(other)


add_methods(select, take_along_dim, diagflat, vdot, dist, fmax, fmin, ldexp, renorm,
            select_scatter, slice_scatter, histogram, bitwise_and, bitwise_or, bitwise_xor,
            bitwise_not, bitwise_left_shift, bitwise_right_shift, gcd, lcm, not_equal)
