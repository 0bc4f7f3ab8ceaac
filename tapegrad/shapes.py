"""Shape in torch's names (issue 19): ``flatten``, ``unflatten``, ``movedim``, ``narrow``,
``flip``, ``roll``, ``repeat``, ``tile``, ``split``, ``chunk``, ``unbind``, ``meshgrid`` -- and
the helpers the index family (tapegrad/scatters.py) and the diagonal family
(tapegrad/diagonals.py) share: a dim checked as torch checks it, and a gather by a flat map.

No op of its own: each is a reshape/permute/slice the front end has, or a gather by a flat map
(the ``index`` op, whose VJP and graph rule exist) named as torch's node (``node.rename``).
"""

from __future__ import annotations

import itertools
import numbers
import warnings

import numpy as np

from .node import rename
from .ops.graphs import gather as _gather_op
from .products import add_methods
from .recording import _OP, _as_tensor
from .structural import _normalize_dims
from .tensor import Tensor

_INDEX = _OP["index"]
# (a map made from shapes is recorded as the repeat op, which keeps nothing, as torch's nodes;
# one made from an index tensor's values as the index op, which keeps it, as torch's)
_REPEAT = _OP["repeat"]

def _dim(dim, ndim: int) -> int:
    """One dim, checked and made non-negative as torch does (a 0-d tensor takes 0 and -1)."""
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"expected dim to be an int, not {type(dim).__name__}")
    (d,) = _normalize_dims(int(dim), ndim)
    return d


def _offsets(shape: tuple) -> np.ndarray:
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)


def _gathered(x: Tensor, flat_map: np.ndarray, shape: tuple, name: str, op=_REPEAT) -> Tensor:
    """``x``'s flat elements at ``flat_map`` in ``shape``, recorded as a gather named ``name``."""
    out = _gather_op(op, x, np.ascontiguousarray(flat_map, dtype=np.int64).reshape(-1),
                     tuple(shape))
    return rename(out, name)


# -- views and rearrangements by shape ------------------------------------------------------


def flatten(input, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """``input`` with dims ``start_dim..end_dim`` made one, as ``torch.flatten``.

    >>> import tapegrad as tg
    >>> tg.flatten(tg.ones(2, 3, 4), 1).shape
    tapegrad.Size([2, 12])
    """
    x = _as_tensor(input)
    shape = tuple(x._v.shape)
    s, e = _dim(start_dim, len(shape)), _dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if not shape:
        return x.reshape(1)
    if s == e:
        return x
    return x.reshape(*shape[:s], int(np.prod(shape[s:e + 1], dtype=np.int64)), *shape[e + 1:])


def unflatten(input, dim: int, sizes) -> Tensor:
    """``input`` with dim ``dim`` split into ``sizes`` (one may be -1), as ``torch.unflatten``."""
    x = _as_tensor(input)
    shape = tuple(x._v.shape)
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if not shape:
        raise RuntimeError("unflatten got an unexpected error:\nDimension specified as 0 but "
                           "tensor has no dimensions")
    d = _dim(dim, len(shape))
    n = shape[d]
    known = int(np.prod([s for s in sizes if s != -1], dtype=np.int64))
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten got an unexpected error:\nonly one dimension can be "
                           "inferred")
    if -1 in sizes and known == 0:
        raise RuntimeError(f"unflatten got an unexpected error:\ncannot reshape tensor of 0 "
                           f"elements into shape {list(sizes)} because the unspecified "
                           "dimension size -1 can be any value and is ambiguous")
    if (-1 not in sizes and known != n) or (-1 in sizes and n % known):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    return x.reshape(*shape[:d], *sizes, *shape[d + 1:])


def movedim(input, source, destination) -> Tensor:
    """``input`` with dims ``source`` moved to ``destination``, as ``torch.movedim``."""
    x = _as_tensor(input)
    nd = x._v.ndim
    src = [source] if isinstance(source, numbers.Integral) else list(source)
    dst = [destination] if isinstance(destination, numbers.Integral) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} "
                           "dims)")
    s = [_dim(d, nd) for d in src]
    t = [_dim(d, nd) for d in dst]
    if len(set(s)) != len(s):
        raise RuntimeError(f"movedim: repeated dim in `source` ({src})")
    if len(set(t)) != len(t):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({dst})")
    if nd == 0:
        return x.permute(())
    perm = [-1] * nd
    for a, b in zip(s, t, strict=True):
        perm[b] = a
    rest = iter(d for d in range(nd) if d not in s)
    perm = [p if p >= 0 else next(rest) for p in perm]
    return x.permute(*perm)


moveaxis = movedim


def _narrow_key(d: int, start: int, length: int) -> tuple:
    return (slice(None),) * d + (slice(start, start + length),)


def narrow(input, dim: int, start, length: int) -> Tensor:
    """``length`` elements of dim ``dim`` from ``start`` (a view), as ``torch.narrow``."""
    x = _as_tensor(input)
    if x._v.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _dim(dim, x._v.ndim)
    if isinstance(start, Tensor):
        start = int(start.item())
    n = x._v.shape[d]
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    start = start % n if start < 0 else start
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return x[_narrow_key(d, start, length)]


def _dims_list(dims, nd: int) -> list[int]:
    dims = [dims] if isinstance(dims, numbers.Integral) else list(dims)
    out = [_dim(d, nd) for d in dims]
    for d in out:
        if out.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return out


def flip(input, dims) -> Tensor:
    """``input`` reversed along ``dims``, as ``torch.flip``."""
    x = _as_tensor(input)
    shape = x._v.shape
    ds = _dims_list(dims, len(shape))
    key = tuple(slice(None, None, -1) if d in ds else slice(None) for d in range(len(shape)))
    return _gathered(x, _offsets(shape)[key], shape, "FlipBackward0")


def roll(input, shifts, dims=None) -> Tensor:
    """``input`` rolled by ``shifts`` along ``dims`` (flattened when None), as ``torch.roll``."""
    x = _as_tensor(input)
    shape = x._v.shape
    shifts = [shifts] if isinstance(shifts, numbers.Integral) else [int(s) for s in shifts]
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               "dims:0")
        return _gathered(x, np.roll(_offsets(shape).reshape(-1), shifts[0]), shape,
                         "RollBackward0")
    ds = [dims] if isinstance(dims, numbers.Integral) else list(dims)
    if len(shifts) != len(ds):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(ds)}")
    if not shape:  # (torch's roll takes no dim of a 0-d tensor)
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    ds = [_dim(d, len(shape)) for d in ds]
    offsets = _offsets(shape)
    if shape:
        offsets = np.roll(offsets, shifts, ds)
    return _gathered(x, offsets, shape, "RollBackward0")


def _repeat(x: Tensor, sizes: tuple, name: str = "RepeatBackward0") -> Tensor:
    shape = x._v.shape
    if len(sizes) < len(shape):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    lead = (1,) * (len(sizes) - len(shape))
    if any(s < 0 for s in sizes):
        made = [n * s for n, s in zip(lead + tuple(shape), sizes, strict=True)]
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(made)}: "
                           f"{made}")
    tiled = np.tile(_offsets(shape).reshape(lead + tuple(shape)), sizes)
    return _gathered(x, tiled, tiled.shape, name)


def _sizes(sizes: tuple) -> tuple:
    if len(sizes) == 1 and not isinstance(sizes[0], numbers.Integral):
        sizes = tuple(sizes[0])
    return tuple(int(s) for s in sizes)


def repeat_method(self, *sizes) -> Tensor:
    """``Tensor.repeat``: ``self`` tiled ``sizes`` times along each dim (new leading dims
    when ``sizes`` is longer)."""
    return _repeat(self, _sizes(sizes))


def tile(input, dims) -> Tensor:
    """``input`` repeated ``dims`` times (leading 1s added to whichever is shorter), as
    ``torch.tile``."""
    x = _as_tensor(input)
    dims = _sizes((dims,))
    dims = (1,) * (x._v.ndim - len(dims)) + dims
    return _repeat(x, dims)


def split(tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """``tensor`` cut along ``dim`` into pieces of ``split_size_or_sections`` elements (an
    int: the last may be shorter) or of the listed sizes, as ``torch.split``."""
    x = _as_tensor(tensor)
    if x._v.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _dim(dim, x._v.ndim)
    n = x._v.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n != 0):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}" if size == 0 else
                               f"split expects split_size be non-negative, but got "
                               f"split_size={size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] if size and n else [0]
        name = "SplitBackward0"
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
        name = "SplitWithSizesBackward0"
    pieces, start = [], 0
    for size in sizes:
        pieces.append(rename(x[_narrow_key(d, start, size)], name))
        start += size
    return tuple(pieces)


def split_method(self, split_size, dim: int = 0) -> tuple:
    return split(self, split_size, dim)


def chunk(input, chunks: int, dim: int = 0) -> tuple:
    """``input`` cut along ``dim`` into ``chunks`` pieces (fewer if not divisible), as
    ``torch.chunk``."""
    x = _as_tensor(input)
    if x._v.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _dim(dim, x._v.ndim)
    n = x._v.shape[d]
    if n == 0:  # (torch: ``chunks`` empty pieces)
        return tuple(rename(x[_narrow_key(d, 0, 0)], "SplitBackward0") for _ in range(chunks))
    return split(x, -(-n // chunks), d)


def unbind(input, dim: int = 0) -> tuple:
    """The slices of ``input`` along ``dim``, as ``torch.unbind``."""
    x = _as_tensor(input)
    if x._v.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = _dim(dim, x._v.ndim)
    lead = (slice(None),) * d
    return tuple(rename(x[lead + (i,)], "UnbindBackward0") for i in range(x._v.shape[d]))


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 0-d or 1-d tensors, as ``torch.meshgrid`` (``indexing`` "ij",
    the default with torch's warning, or "xy")."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    ts = [_as_tensor(t) for t in tensors]
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError('torch.meshgrid: indexing must be one of "xy" or "ij", but '
                           f"received: {indexing}")
    if not ts:
        raise RuntimeError("torch.meshgrid: Expected at least one tensor")
    for t in ts:
        if t._v.ndim > 1:
            raise RuntimeError("torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: {t}")
    sizes = [t._v.size for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for k, t in enumerate(ts):
        at = {0: 1, 1: 0}.get(k, k) if swap else k
        view = [1] * len(ts)
        view[at] = -1
        out.append(t.reshape(view).expand(*sizes))
    return tuple(out)


def split_with_sizes(input, split_sizes, dim: int = 0) -> tuple:
    """``input`` cut along ``dim`` into pieces of the listed sizes, as
    ``torch.split_with_sizes``.

    >>> import tapegrad as tg
    >>> [p.shape for p in tg.split_with_sizes(tg.ones(5), [2, 3])]
    [tapegrad.Size([2]), tapegrad.Size([3])]
    """
    return split(input, [int(s) for s in split_sizes], dim)


def tensor_split(input, indices_or_sections, dim: int = 0) -> tuple:
    """``input`` cut along ``dim`` into ``n`` near-equal pieces (an int: the first
    ``size % n`` one longer) or at the listed indices (slices between them, as Python's), as
    ``torch.tensor_split``; a 0-d int tensor gives ``n``, a 1-D one the indices.

    >>> import tapegrad as tg
    >>> [p.shape for p in tg.tensor_split(tg.ones(7), 3)]
    [tapegrad.Size([3]), tapegrad.Size([2]), tapegrad.Size([2])]
    """
    x = _as_tensor(input)
    if isinstance(indices_or_sections, Tensor):
        v = np.asarray(indices_or_sections._v)
        if v.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a "
                               "zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {v.ndim} dims")
        if v.dtype != np.int64:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have dtype "
                               f"of long, but got {_scalar_name(v.dtype)}")
        indices_or_sections = int(v) if v.ndim == 0 else [int(i) for i in v]
    if x._v.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = _dim(dim, x._v.ndim)
    n = x._v.shape[d]
    if isinstance(indices_or_sections, numbers.Integral) and not isinstance(
            indices_or_sections, bool):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        size, extra = divmod(n, sections)
        bounds = list(itertools.accumulate(size + (k < extra) for k in range(sections - 1)))
    elif isinstance(indices_or_sections, (list, tuple)):
        bounds = [int(i) for i in indices_or_sections]
    else:
        raise TypeError("tensor_split() received an invalid combination of arguments - got "
                        f"(Tensor, {type(indices_or_sections).__name__})")
    lead = (slice(None),) * d
    starts = [None, *bounds]
    ends = [*bounds, None]
    return tuple(x[lead + (slice(a, b),)] for a, b in zip(starts, ends, strict=True))


def _scalar_name(dtype: np.dtype) -> str:
    from .dtypes import SCALAR_NAMES

    return SCALAR_NAMES.get(dtype, str(dtype))


def _directional_split(name: str, dim: int, least: int):
    def function(input, indices_or_sections) -> tuple:
        x = _as_tensor(input)
        nd = x._v.ndim
        if nd < least:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {least} "
                               f"dimension, but got a tensor with {nd} dimensions!")
        d = 0 if name == "hsplit" and nd == 1 else dim
        if isinstance(indices_or_sections, numbers.Integral):
            size = x._v.shape[d]
            k = int(indices_or_sections)
            if k == 0 or size % k:
                raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, "
                                   f"but the size of the dimension {size} is not divisible "
                                   f"by the split_size {k}!")
        elif isinstance(indices_or_sections, Tensor):
            raise TypeError(f"{name}() received an invalid combination of arguments - got "
                            "(Tensor, Tensor)")
        return tensor_split(x, indices_or_sections, d)

    function.__name__ = function.__qualname__ = name
    where = {"hsplit": "horizontally (dim 1; dim 0 of a 1-D tensor)", "vsplit":
             "vertically (dim 0)", "dsplit": "depthwise (dim 2)"}[name]
    function.__doc__ = (f"``input`` split {where} into equal sections or at indices, as "
                        f"``torch.{name}``.")
    return function


hsplit = _directional_split("hsplit", 1, 1)
vsplit = _directional_split("vsplit", 0, 2)
dsplit = _directional_split("dsplit", 2, 3)


def rot90(input, k: int = 1, dims=(0, 1)) -> Tensor:
    """``input`` rotated by ``k`` quarter turns in the plane ``dims`` (from the first dim
    towards the second), as ``torch.rot90``.

    >>> import tapegrad as tg
    >>> tg.rot90(tg.tensor([[1, 2], [3, 4]]))
    tensor([[2, 4],
            [1, 3]])
    """
    x = _as_tensor(input)
    shape = x._v.shape
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if len(shape) < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {len(shape)}")
    a, b = _dim(dims[0], len(shape)), _dim(dims[1], len(shape))
    if a == b:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} "
                           f"and dim1 = {dims[1]}")
    turned = np.rot90(_offsets(shape), k, (a, b))
    return _gathered(x, turned, turned.shape, "Rot90Backward0")


def fliplr(input) -> Tensor:
    """``input`` reversed along dim 1 (left to right), as ``torch.fliplr``."""
    x = _as_tensor(input)
    if x._v.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(x, (1,))


def flipud(input) -> Tensor:
    """``input`` reversed along dim 0 (up to down), as ``torch.flipud``."""
    x = _as_tensor(input)
    if x._v.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(x, (0,))


def ravel(input) -> Tensor:
    """``input``'s elements as one dim (a view where possible), as ``torch.ravel``."""
    return _as_tensor(input).reshape(-1)


def t(input) -> Tensor:
    """A matrix transposed (0-d and 1-D tensors as they are), as ``torch.t``."""
    return _as_tensor(input).t()


def swapaxes(input, axis0: int, axis1: int) -> Tensor:
    """``torch.swapaxes``: NumPy's name of ``transpose``."""
    return _as_tensor(input).transpose(axis0, axis1)


def swapdims(input, dim0: int, dim1: int) -> Tensor:
    """``torch.swapdims``: another name of ``transpose``."""
    return _as_tensor(input).transpose(dim0, dim1)


# -- Tensor methods -------------------------------------------------------------------------


def _methods() -> None:
    add_methods(flatten, unflatten, movedim, narrow, roll, chunk, unbind, tile,
                split_with_sizes, tensor_split, hsplit, vsplit, dsplit, rot90, fliplr,
                flipud, ravel, swapaxes, swapdims)

    def moveaxis_method(self, source, destination):
        return movedim(self, source, destination)

    def flip_method(self, *dims):
        return flip(self, dims[0] if len(dims) == 1 and not isinstance(
            dims[0], numbers.Integral) else dims)

    moveaxis_method.__name__ = moveaxis_method.__qualname__ = "moveaxis"
    flip_method.__name__ = flip_method.__qualname__ = "flip"
    repeat_method.__name__ = repeat_method.__qualname__ = "repeat"
    split_method.__name__ = split_method.__qualname__ = "split"
    Tensor.moveaxis = moveaxis_method
    Tensor.flip = flip_method
    Tensor.repeat = repeat_method
    Tensor.split = split_method


_methods()

__all__ = ["flatten", "unflatten", "movedim", "moveaxis", "narrow", "flip", "roll", "tile",
           "split", "chunk", "unbind", "meshgrid", "split_with_sizes", "tensor_split", "hsplit",
           "vsplit", "dsplit", "rot90", "fliplr", "flipud", "ravel", "t", "swapaxes",
           "swapdims"]
