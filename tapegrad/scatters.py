"""Gathers and scatters by index tensors in torch's names (issue 19): ``gather``,
``index_select``, ``take``, ``masked_select``, ``masked_fill``, ``scatter``, ``scatter_add``,
``index_add``, ``scatter_reduce`` and their in-place methods (whose nodes are named as torch's,
not ``CopySlices``).

No op of its own: a gather by a flat map (the ``index`` op) or a scatter-add by one, named as
torch's node (``node.rename``).  A map made from an index tensor's values is data-dependent:
while compiling, such an index is guarded (recording._guard), so a replay with other index
values is refused, never replayed stale.
"""

from __future__ import annotations

import warnings

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
    written there).  With ``reduce`` ("add" or "multiply") they are added or multiplied in,
    without a derivative, as torch's (a backward through the result raises)."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing its 'src' tensor or 'value' number")
    if reduce is not None:
        return _scatter_reduced(input, dim, index, src, reduce)
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


def _scatter_reduced(input, dim, index, src, reduce: str) -> Tensor:
    """``scatter(..., reduce=)``: torch gives it no derivative (and deprecates it for a tensor
    ``src``)."""
    from .fused import no_derivative

    if reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    x = _as_tensor(input)
    idx = _index_values(index, "scatter")
    tensor_src = isinstance(src, Tensor)
    if tensor_src:
        if src.dtype != x.dtype:
            raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
        warnings.warn("The reduce argument of torch.scatter with Tensor src is deprecated and "
                      "will be removed in a future PyTorch release. Use torch.scatter_reduce "
                      "instead for more reduction options.", UserWarning, stacklevel=3)
    positions, sources = _scatter_positions(
        x, dim, idx, tuple(src._v.shape) if tensor_src else None, "scatter")
    ufunc = np.add if reduce == "add" else np.multiply

    def compute(*ts):
        out = np.array(ts[0]._v, copy=True).reshape(-1)
        if tensor_src:
            ufunc.at(out, positions, np.asarray(ts[1]._v).reshape(-1)[sources])
        else:
            ufunc.at(out, positions, np.asarray(src).astype(out.dtype))
        return _as_tensor(out.reshape(ts[0]._v.shape))

    return no_derivative("scatter", compute, *((x, src) if tensor_src else (x,)))


_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(input, dim: int, index, src, reduce: str, *, include_self: bool = True
                   ) -> Tensor:
    """``input`` with ``src``'s elements reduced in where ``index`` addresses along ``dim``
    ("sum", "prod", "mean", "amax" or "amin"; ``input``'s own value among them when
    ``include_self``), as ``torch.scatter_reduce``, with torch's gradients: "amax"/"amin"
    share a position's gradient evenly among its tied largest (smallest) values, "prod"'s
    zeros are handled as ``prod``'s.

    >>> import tapegrad as tg
    >>> x = tg.tensor([1., 2., 3.])
    >>> tg.scatter_reduce(x, 0, tg.tensor([0, 0, 2]), tg.tensor([5., 6., 7.]), "amax")
    tensor([6., 2., 7.])
    """
    if reduce not in _REDUCTIONS:
        raise RuntimeError("reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    x = _as_tensor(input)
    idx = _index_values(index, "scatter_reduce")
    s = _as_tensor(src)
    if s.dtype != x.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    positions, sources = _scatter_positions(x, dim, idx, tuple(s._v.shape), "scatter_reduce")
    shape, n = x._v.shape, x._v.size
    touched = np.zeros(n, dtype=bool)
    touched[positions] = True
    touched_t = _as_tensor(touched.reshape(shape))
    name = "ScatterReduceBackward0"
    if reduce in ("sum", "mean"):
        base = x if include_self else where(touched_t, zero_like(x), x)
        total = _added(base, s, positions, sources, name)
        if reduce == "sum":
            return total
        counts = np.bincount(positions, minlength=n).reshape(shape) + int(include_self)
        counts = np.asarray(np.maximum(counts, 1), dtype=np.asarray(x._v).dtype)
        if np.asarray(x._v).dtype.kind != "f":  # (torch: an integer mean rounds down)
            return _as_tensor(np.floor_divide(np.asarray(total._v), counts))
        return rename(total / _as_tensor(counts), name)
    # amax, amin, prod: each touched position's candidates (its own value when include_self,
    # then the src elements sent there) gathered as the rows of a matrix, one matrix per
    # number of candidates, reduced along the rows by amax/amin/prod (whose gradients are
    # torch's scatter_reduce's), and put back among the untouched elements
    picked = _gathered(s, sources, (positions.size,), "GatherBackward0", _INDEX)
    pool = _cat_flat(x, picked)
    order = np.argsort(positions, kind="stable")
    where_to, first, count = np.unique(positions[order], return_index=True, return_counts=True)
    placed = zero_like(x)
    for c in np.unique(count):
        rows = np.flatnonzero(count == c)
        columns = order[first[rows][:, None] + np.arange(c)] + n
        if include_self:
            columns = np.concatenate([where_to[rows][:, None], columns], axis=1)
        matrix = _gathered(pool, columns, columns.shape, "GatherBackward0", _INDEX)
        if not include_self and reduce != "prod":
            matrix = _with_tied_self(matrix, x, where_to[rows], reduce)
        reduced = getattr(matrix, reduce)(1)
        placed = placed + _placed(reduced, where_to[rows], n, shape)
    return rename(where(touched_t, placed, x), name)


def _with_tied_self(matrix: Tensor, x: Tensor, rows: np.ndarray, reduce: str) -> Tensor:
    """``matrix`` with a first column holding ``x``'s element of each row where it ties the
    row's extreme (else one that cannot win), without gradient: torch's amax/amin share out a
    position's gradient among every value equal to the result, ``input``'s own among them even
    when ``include_self=False`` (its share is then dropped)."""
    from .structural import cat

    own = x.detach().reshape(-1)[_as_tensor(rows)].reshape(-1, 1)
    extreme = getattr(matrix.detach(), reduce)(1, keepdim=True)
    dtype = np.asarray(x._v).dtype
    info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
    loser = np.asarray(-np.inf if dtype.kind == "f" else info.min) if reduce == "amax" else \
        np.asarray(np.inf if dtype.kind == "f" else info.max)
    loser = _as_tensor(loser.astype(dtype))
    return cat([where(own == extreme, own, loser), matrix], 1)


def _cat_flat(x: Tensor, picked: Tensor) -> Tensor:
    from .structural import cat

    return cat([x.reshape(-1), picked])


def _placed(t: Tensor, positions: np.ndarray, n: int, shape: tuple) -> Tensor:
    """``t``'s elements at the distinct flat ``positions`` of a zero tensor of ``shape``."""
    if _recording(t):
        return _scatter_op(t, positions, n, shape, unique=True)
    return _as_tensor(_np_place(t, positions, n, shape))


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
        if result.grad_fn is not None:  # (torch names the node after the op, not CopySlices)
            rename(self, result.grad_fn.name())
        return self

    method.__name__ = method.__qualname__ = f.__name__ + "_"
    method.__doc__ = f"In-place ``{f.__name__}``: writes the result into ``self``."
    return method


def _methods() -> None:
    add_methods(gather, index_select, take, masked_select, masked_fill, scatter, scatter_add,
                index_add, scatter_reduce)
    for f in (masked_fill, scatter, scatter_add, index_add, scatter_reduce):
        setattr(Tensor, f.__name__ + "_", _in_place(f))


_methods()

# (the functions take out=, as torch's; the methods do not)
gather, index_select, take = takes_out(gather), takes_out(index_select), takes_out(take)
masked_select, scatter = takes_out(masked_select), takes_out(scatter)
scatter_add, index_add = takes_out(scatter_add), takes_out(index_add)
scatter_reduce = takes_out(scatter_reduce)

__all__ = ["gather", "index_select", "take", "masked_select", "masked_fill", "scatter",
           "scatter_add", "index_add", "scatter_reduce"]
