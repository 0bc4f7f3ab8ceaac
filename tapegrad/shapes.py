"""Indexing and shape in torch's names (issue 19): ``flatten``, ``unflatten``, ``movedim``,
``narrow``, ``flip``, ``roll``, ``repeat``, ``tile``, ``split``, ``chunk``, ``unbind``,
``gather``, ``index_select``, ``take``, ``masked_select``, ``masked_fill``, ``scatter``,
``scatter_add``, ``index_add``, ``tril``, ``triu``, ``diag``, ``diagonal``, ``diag_embed``,
``trace``, ``meshgrid``.

No op of its own: each is a reshape/permute/slice the front end has, or a gather by a flat map
(the ``index`` op, whose VJP and graph rule exist) or a scatter-add by one, named as torch's
node (``node.rename``).  A map made from an index tensor's values is data-dependent: while
compiling, such an index is guarded (recording._guard), so a replay with other index values is
refused, never replayed stale.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .fastpath import _storage
from .node import rename
from .ops.graphs import gather as _gather_op
from .ops.graphs import scatter_add as _scatter_op
from .ops.graphs import zero_like
from .products import add_methods, takes_out
from .recording import _OP, _as_tensor, _guard, _record, _recording, _share_version, _wrap
from .structural import _normalize_dims, where
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


def _index_values(index, name: str) -> np.ndarray:
    """An index tensor's values (guarded while compiling: the map depends on them)."""
    t = _as_tensor(index)
    _guard(t, "index")
    v = np.asarray(t._v)
    if v.dtype.kind not in "iu" or v.dtype.itemsize < 4:
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    return v.astype(np.int64)


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


# -- gathers and scatters by index tensors --------------------------------------------------


def _positions(index: np.ndarray, dim: int, shape: tuple, name: str = "") -> np.ndarray:
    """Flat offsets in ``shape`` of ``index``'s elements, each at its own coordinates except
    along ``dim``, where its value (torch's gather/scatter addressing)."""
    n = shape[dim] if shape else 1
    bad = (index < 0) | (index >= n)
    if bad.any():
        raise RuntimeError(f"index {int(index[bad].reshape(-1)[0])} is out of bounds for "
                           f"dimension {dim} with size {n}")
    if not shape:
        return np.zeros(index.size, dtype=np.int64)
    coords = list(np.indices(index.shape, dtype=np.int64))
    coords[dim] = index
    return np.ravel_multi_index(tuple(coords), shape).reshape(-1)


def gather(input, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` (along ``dim``), as ``torch.gather``."""
    x = _as_tensor(input)
    idx = _index_values(index, "gather")
    shape = x._v.shape
    d = _dim(dim, len(shape))
    if idx.ndim != len(shape) and idx.ndim and len(shape) > 1:
        raise RuntimeError("Index tensor must have the same number of dimensions as input "
                           "tensor")
    if idx.ndim != len(shape):  # (a 0-d index of a 1-d input, or the reverse: as 1-element)
        return _gathered(x, _positions(idx.reshape(-1), 0, (shape[0] if shape else 1,)),
                         idx.shape, "GatherBackward0", _INDEX)
    for k in range(idx.ndim if shape else 0):
        if k != d and idx.shape[k] > shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(idx.shape)} to be no larger than self {list(shape)} "
                               f"apart from dimension {d}")
    return _gathered(x, _positions(idx.reshape(idx.shape if shape else ()), d, shape),
                     idx.shape, "GatherBackward0", _INDEX)


def index_select(input, dim: int, index) -> Tensor:
    """The entries ``index`` of ``input`` along ``dim``, as ``torch.index_select``."""
    x = _as_tensor(input)
    t = _as_tensor(index)
    _guard(t, "index")
    idx = np.asarray(t._v)
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if idx.dtype.kind not in "iu":
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    idx = idx.astype(np.int64).reshape(-1)
    shape = x._v.shape
    d = _dim(dim, len(shape))
    n = shape[d] if shape else 1
    bad = (idx < 0) | (idx >= n)
    if bad.any():
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={int(idx[bad][0])} "
                           f"axis_dim={n}")
    if not shape:
        return _gathered(x, np.zeros(idx.size, np.int64), (), "IndexSelectBackward0", _INDEX)
    picked = np.take(_offsets(shape), idx, axis=d)
    return _gathered(x, picked, picked.shape, "IndexSelectBackward0", _INDEX)


def take(input, index) -> Tensor:
    """``input``'s flat elements at ``index`` (in ``index``'s shape), as ``torch.take``."""
    x = _as_tensor(input)
    t = _as_tensor(index)
    _guard(t, "index")
    idx = np.asarray(t._v)
    if idx.dtype != np.int64:
        raise RuntimeError(f"take(): Expected a long tensor for index, but got "
                           f"{_type_name(t)}")
    n = x._v.size
    if n == 0 and idx.size:
        raise IndexError("take(): tried to take from an empty tensor")
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(f"out of range: tried to access index {int(idx[bad].reshape(-1)[0])} "
                         f"on a tensor of {n} elements.")
    return _gathered(x, np.where(idx < 0, idx + n, idx), idx.shape, "TakeBackward0", _INDEX)


def _bool_mask(mask, message: str) -> Tensor:
    m = _as_tensor(mask)
    if np.asarray(m._v).dtype != np.bool_:
        raise RuntimeError(message.format(dtype=_c_type(np.asarray(m._v).dtype)))
    return m


def _c_type(dtype: np.dtype) -> str:
    return {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "float64": "double", "float32": "float",
            "float16": "c10::Half"}.get(str(dtype), str(dtype))


def _broadcast(a: tuple, b: tuple) -> tuple:
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise RuntimeError(f"shape mismatch: {list(a)} and {list(b)} cannot be broadcast "
                           "together") from None


def masked_select(input, mask) -> Tensor:
    """The elements of ``input`` where ``mask`` holds (both broadcast), flat, as
    ``torch.masked_select``."""
    x = _as_tensor(input)
    m = _bool_mask(mask, "masked_select: expected BoolTensor for mask")
    _guard(m, "index")
    shape = _broadcast(x._v.shape, m._v.shape)
    offsets = np.broadcast_to(_offsets(x._v.shape), shape)
    picked = offsets[np.broadcast_to(np.asarray(m._v), shape)]
    return _gathered(x, picked, picked.shape, "MaskedSelectBackward0", _INDEX)


def masked_fill(input, mask, value) -> Tensor:
    """``input`` with ``value`` (a number or a 0-d tensor) where ``mask`` holds, as
    ``torch.masked_fill``; differentiable in ``input`` and in a tensor ``value``."""
    x = _as_tensor(input)
    m = _bool_mask(mask, "masked_fill_ only supports boolean masks, but got mask with dtype "
                         "{dtype}")
    name = "MaskedFillBackward0"
    if isinstance(value, Tensor):
        if value._v.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value._v.ndim} dimension(s).")
        value = value.to(x.dtype) if value.dtype != x.dtype else value
        name = "MaskedFillBackward1"
    else:  # (a number takes x's dtype, as torch's: 1.5 into an int64 tensor is 1)
        value = _as_tensor(np.asarray(value).astype(np.asarray(x._v).dtype))
    return rename(where(m, value, x), name)


def _scatter_positions(x: Tensor, dim, idx: np.ndarray, src_shape: tuple | None, name: str):
    """The flat positions in ``x`` that ``idx`` addresses along ``dim``, and the flat offsets
    in ``src`` (of ``src_shape``) of the elements written there."""
    shape = x._v.shape
    d = _dim(dim, len(shape))
    if idx.ndim != len(shape) and idx.ndim and shape:
        raise RuntimeError("Index tensor must have the same number of dimensions as self "
                           "tensor")
    if shape and idx.ndim:
        too_big = any(idx.shape[k] > shape[k] for k in range(idx.ndim) if k != d)
        if src_shape is not None and len(src_shape) == idx.ndim:
            too_big = too_big or any(idx.shape[k] > src_shape[k] for k in range(idx.ndim))
        if too_big:
            raise RuntimeError(
                f"Expected index {list(idx.shape)} to be no larger than self {list(shape)} "
                f"apart from dimension {d}" + (
                    f" and to be no larger size than src {list(src_shape)}"
                    if src_shape is not None else ""))
    positions = _positions(idx.reshape(idx.shape if shape else ()), d, shape)
    if src_shape is None:
        return positions, None
    if not src_shape or not idx.ndim:
        return positions, np.zeros(positions.size, np.int64)
    sources = np.ravel_multi_index(tuple(np.indices(idx.shape, dtype=np.int64)),
                                   src_shape).reshape(-1)
    return positions, sources


def scatter(input, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """``input`` with ``src``'s elements (or the number ``value``) written where ``index``
    addresses along ``dim``, as ``torch.scatter``; differentiable in ``input`` and ``src``
    (torch's gradients: a duplicate position passes its gradient to each ``src`` element
    written there)."""
    if reduce is not None:
        raise NotImplementedError("scatter(reduce=...) is not supported; use scatter_add")
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing its 'src' tensor or 'value' number")
    x = _as_tensor(input)
    idx = _index_values(index, "scatter")
    tensor_src = isinstance(src, Tensor)
    positions, sources = _scatter_positions(
        x, dim, idx, tuple(src._v.shape) if tensor_src else None, "scatter")
    mask = np.zeros(x._v.size, dtype=bool)
    mask[positions] = True
    mask_t = _as_tensor(mask.reshape(x._v.shape))
    if not tensor_src:
        filler = _as_tensor(np.asarray(src).astype(np.asarray(x._v).dtype))
        return rename(where(mask_t, filler, x), "ScatterBackward1")
    if src.dtype != x.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    s = src
    picked = _gathered(s, sources, (positions.size,), "GatherBackward0", _INDEX)
    # the last write to a position gives its value; every src element written there takes the
    # position's gradient, as torch's (grad.gather(dim, index)): the others enter as p - p,
    # zero in value, one in derivative
    _, last_reversed = np.unique(positions[::-1], return_index=True)
    last = np.zeros(positions.size, dtype=bool)
    last[positions.size - 1 - last_reversed] = True
    if not last.all():
        # (a non-finite p would make p - p nan: it enters as 0, without its gradient)
        finite = where(picked.abs() < np.inf, picked, zero_like(picked))
        picked = where(_as_tensor(last), picked, finite - finite.detach())
    placed = _scatter_op(picked, positions, x._v.size, x._v.shape) if _recording(picked) else \
        _as_tensor(_np_place(picked, positions, x._v.size, x._v.shape))
    return rename(where(mask_t, placed, x), "ScatterBackward0")


def _np_place(picked: Tensor, positions: np.ndarray, n: int, shape: tuple) -> np.ndarray:
    out = np.zeros(n, dtype=np.asarray(picked._v).dtype)
    np.add.at(out, positions, np.asarray(picked._v).reshape(-1))
    return out.reshape(shape)


def _type_name(t: Tensor) -> str:
    return {"float64": "Double", "float32": "Float", "float16": "Half", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(str(np.asarray(t._v).dtype), str(np.asarray(t._v).dtype))


def _added(x: Tensor, s: Tensor, positions: np.ndarray, sources, name: str) -> Tensor:
    """``x`` plus ``s``'s elements at ``sources`` added at ``positions``."""
    picked = s.reshape(-1) if sources is None else _gathered(s, sources, (positions.size,),
                                                             "GatherBackward0", _INDEX)
    if _recording(picked):
        spread = _scatter_op(picked, positions, x._v.size, x._v.shape)
    else:
        spread = _as_tensor(_np_place(picked, positions, x._v.size, x._v.shape))
    return rename(x + spread, name)


def scatter_add(input, dim: int, index, src) -> Tensor:
    """``input`` with ``src``'s elements added where ``index`` addresses along ``dim``
    (duplicates add), as ``torch.scatter_add``."""
    x = _as_tensor(input)
    idx = _index_values(index, "scatter_add")
    s = _as_tensor(src)
    if s.dtype != x.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    positions, sources = _scatter_positions(x, dim, idx, tuple(s._v.shape), "scatter_add")
    return _added(x, s, positions, sources, "ScatterAddBackward0")


def index_add(input, dim: int, index, source, *, alpha=1) -> Tensor:
    """``input`` with ``alpha * source``'s slices along ``dim`` added at the entries
    ``index``, as ``torch.index_add``."""
    x = _as_tensor(input)
    t = _as_tensor(index)
    _guard(t, "index")
    idx = np.asarray(t._v)
    if idx.dtype.kind not in "iu":
        raise RuntimeError("index_add_(): Expected dtype int32/int64 for index")
    if idx.ndim > 1:
        raise IndexError("index_add_(): Index is supposed to be a vector")
    idx = idx.astype(np.int64).reshape(-1)
    s = _as_tensor(source)
    if s.dtype != x.dtype:
        raise RuntimeError(f"index_add_(): self ({_type_name(x)}) and source ({_type_name(s)}) "
                           "must have the same scalar type")
    shape, sshape = x._v.shape, s._v.shape
    d = _dim(dim, len(shape))
    ns = sshape[d] if sshape else 1
    if idx.size != ns:
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                           f"source.size(dim): ({ns}), for dim: {d}")
    if shape and (len(sshape) != len(shape) or any(
            sshape[k] != shape[k] for k in range(len(shape)) if k != d)):
        raise RuntimeError("index_add_(): self and source must have the same shape apart "
                           f"from dim {d}")
    n = shape[d] if shape else 1
    bad = (idx < 0) | (idx >= n)
    if bad.any() and len(shape) <= 1:  # (torch's 1-d kernel words it so)
        raise IndexError("index out of range in self")
    if bad.any():
        raise RuntimeError(f"index {int(idx[bad][0])} is out of bounds for dimension {d} with "
                           f"size {n}")
    if shape:
        coords = list(np.indices(sshape, dtype=np.int64))
        coords[d] = idx[coords[d]]
        positions = np.ravel_multi_index(tuple(coords), shape).reshape(-1)
    else:
        positions = np.zeros(s._v.size, np.int64)
    if alpha != 1:
        s = s * alpha
    return _added(x, s, positions, None, "IndexAddBackward0")


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


# -- Tensor methods -------------------------------------------------------------------------


def _in_place(f):
    """``x.<f>_(...)``: ``f``'s result written into ``x`` (recorded as ``x[...] = result``, so
    the gradient flows as torch's; a leaf that requires grad is refused as torch refuses it)."""

    def method(self, *args, **kwargs):
        if not isinstance(self, Tensor):
            raise TypeError(f"{f.__name__}_() needs a tensor")
        result = f(self, *args, **kwargs)
        if result._v.shape != self._v.shape:
            raise RuntimeError(f"{f.__name__}_(): the result of shape {tuple(result.shape)} "
                               f"cannot be written into a tensor of shape {tuple(self.shape)}")
        self[...] = result.to(self.dtype) if result.dtype != self.dtype else result
        return self

    method.__name__ = method.__qualname__ = f.__name__ + "_"
    method.__doc__ = f"In-place ``{f.__name__}``: writes the result into ``self``."
    return method


def _methods() -> None:
    add_methods(flatten, unflatten, movedim, narrow, roll, chunk, unbind, gather, index_select,
                take, masked_select, masked_fill, scatter, scatter_add, index_add, tril, triu,
                diag, diagonal, diag_embed, trace, tile)

    def moveaxis_method(self, source, destination):
        return movedim(self, source, destination)

    def flip_method(self, *dims):
        return flip(self, dims[0] if len(dims) == 1 and not isinstance(
            dims[0], numbers.Integral) else dims)

    for f in (masked_fill, scatter, scatter_add, index_add):
        setattr(Tensor, f.__name__ + "_", _in_place(f))

    moveaxis_method.__name__ = moveaxis_method.__qualname__ = "moveaxis"
    flip_method.__name__ = flip_method.__qualname__ = "flip"
    repeat_method.__name__ = repeat_method.__qualname__ = "repeat"
    split_method.__name__ = split_method.__qualname__ = "split"
    Tensor.moveaxis = moveaxis_method
    Tensor.flip = flip_method
    Tensor.repeat = repeat_method
    Tensor.split = split_method


_methods()

# (the functions take out=, as torch's; the methods do not)
gather, index_select, take = takes_out(gather), takes_out(index_select), takes_out(take)
masked_select, scatter = takes_out(masked_select), takes_out(scatter)
scatter_add, index_add = takes_out(scatter_add), takes_out(index_add)
tril, triu, diag = takes_out(tril), takes_out(triu), takes_out(diag)

__all__ = ["flatten", "unflatten", "movedim", "moveaxis", "narrow", "flip", "roll", "tile",
           "split", "chunk", "unbind", "gather", "index_select", "take", "masked_select",
           "masked_fill", "scatter", "scatter_add", "index_add", "tril", "triu", "diag",
           "diagonal", "diag_embed", "trace", "meshgrid"]
