"""Gathers and scatters by index tensors in torch's names (issue 19): ``gather``,
``index_select``, ``take``, ``masked_select``, ``masked_fill``, ``scatter``, ``scatter_add``,
``index_add`` and their in-place methods.

No op of its own: a gather by a flat map (the ``index`` op) or a scatter-add by one, named as
torch's node (``node.rename``).  A map made from an index tensor's values is data-dependent:
while compiling, such an index is guarded (recording._guard), so a replay with other index
values is refused, never replayed stale.
"""

from __future__ import annotations

import numpy as np

from .node import rename
from .ops.graphs import scatter_add as _scatter_op
from .ops.graphs import zero_like
from .products import add_methods, takes_out
from .recording import _as_tensor, _guard, _recording
from .shapes import _INDEX, _dim, _gathered, _offsets
from .structural import where
from .tensor import Tensor


def _index_values(index, name: str) -> np.ndarray:
    """An index tensor's values (guarded while compiling: the map depends on them)."""
    t = _as_tensor(index)
    _guard(t, "index")
    v = np.asarray(t._v)
    if v.dtype.kind not in "iu" or v.dtype.itemsize < 4:
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    return v.astype(np.int64)


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
    add_methods(gather, index_select, take, masked_select, masked_fill, scatter, scatter_add,
                index_add)
    for f in (masked_fill, scatter, scatter_add, index_add):
        setattr(Tensor, f.__name__ + "_", _in_place(f))


_methods()

# (the functions take out=, as torch's; the methods do not)
gather, index_select, take = takes_out(gather), takes_out(index_select), takes_out(take)
masked_select, scatter = takes_out(masked_select), takes_out(scatter)
scatter_add, index_add = takes_out(scatter_add), takes_out(index_add)

__all__ = ["gather", "index_select", "take", "masked_select", "masked_fill", "scatter",
           "scatter_add", "index_add"]
