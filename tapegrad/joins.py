"""Joins, broadcasts and combinatorics in torch's names: ``hstack``, ``vstack``, ``row_stack``,
``dstack``, ``column_stack``, ``atleast_1d/2d/3d``, ``broadcast_to``, ``broadcast_tensors``,
``broadcast_shapes``, ``block_diag``, ``cartesian_prod``, ``combinations``,
``triu_indices``/``tril_indices``, ``repeat_interleave``, ``sum_to_size``, ``view_as``,
``reshape_as`` -- and the tensor-level questions ``numel``, ``is_floating_point``,
``is_nonzero``, ``as_tensor``, ``asarray``.

No op of its own: each is ``cat``/``stack``, a view, a sum, or a gather/scatter by a flat map
(the ``index`` op), so gradients, second order and ``tg.compile`` come from those.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from .node import rename
from .ops.graphs import scatter_add as _scatter_op
from .products import add_methods
from .recording import _as_tensor, _recording, _wrap
from .scatters import index_select
from .shapes import _dim, meshgrid
from .structural import cat, stack
from .tensor import Size, Tensor


def _tensor_list(tensors, name: str) -> list:
    if isinstance(tensors, Tensor):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        "not Tensor")
    ts = list(tensors)
    for k, t in enumerate(ts):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {k} in argument 0, but got "
                            f"{type(t).__name__}")
    return ts


def _at_least(n: int):
    def atleast(*tensors):
        if len(tensors) == 1:
            tensors = tensors[0]
        if isinstance(tensors, Tensor):
            return _lifted(tensors, n)
        return tuple(_lifted(t, n) for t in _tensor_list(tensors, f"atleast_{n}d"))

    atleast.__name__ = atleast.__qualname__ = f"atleast_{n}d"
    atleast.__doc__ = (f"Each tensor with at least {n} dims (a view; one tensor in, one out; "
                       f"several: a tuple), as ``torch.atleast_{n}d``.\n\n"
                       f"    >>> import tapegrad as tg\n"
                       f"    >>> tg.atleast_{n}d(tg.tensor(1.)).shape\n"
                       f"    tapegrad.Size([{', '.join(['1'] * n)}])\n")
    return atleast


def _lifted(t: Tensor, n: int) -> Tensor:
    nd = t._v.ndim
    if nd >= n:
        return t
    if nd == 0:
        return t.reshape((1,) * n)
    if n == 2 or nd == 2:  # (1-D to 2-D: a leading 1; 2-D to 3-D: a trailing 1, as torch)
        return t.unsqueeze(0 if nd == 1 else -1)
    return t.unsqueeze(0).unsqueeze(-1)


atleast_1d, atleast_2d, atleast_3d = _at_least(1), _at_least(2), _at_least(3)


def _stacker(name: str, lift, dim: int | None, doc: str):
    def function(tensors, *, out=None) -> Tensor:
        ts = _tensor_list(tensors, name)
        if not ts:
            raise RuntimeError(f"{name} expects a non-empty TensorList")
        ts = [lift(t) for t in ts]
        d = dim if dim is not None else (0 if all(t._v.ndim == 1 for t in ts) else 1)
        if out is None:
            return cat(ts, d)
        from .functions import FUNCTIONS  # (cat's out=, and its name in the errors, as torch)

        return FUNCTIONS["cat"](ts, d, out=out)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


def _column(t: Tensor) -> Tensor:
    return t.reshape(t._v.size, 1) if t._v.ndim <= 1 else t


hstack = _stacker("hstack", atleast_1d, None, """Tensors joined along their columns (1-D ones
end to end), as ``torch.hstack``.

    >>> import tapegrad as tg
    >>> tg.hstack([tg.ones(2), tg.zeros(1)])
    tensor([1., 1., 0.])
    """)
vstack = _stacker("vstack", atleast_2d, 0, """Tensors (1-D ones as rows) joined along dim 0, as
``torch.vstack``.

    >>> import tapegrad as tg
    >>> tg.vstack([tg.ones(2), tg.zeros(2)]).shape
    tapegrad.Size([2, 2])
    """)
row_stack = _stacker("row_stack", atleast_2d, 0, "``torch.row_stack``: an alias of "
                     ":func:`vstack`.")
dstack = _stacker("dstack", atleast_3d, 2, """Tensors (made at least 3-D) joined along dim 2,
as ``torch.dstack``.

    >>> import tapegrad as tg
    >>> tg.dstack([tg.ones(2), tg.zeros(2)]).shape
    tapegrad.Size([1, 2, 2])
    """)
column_stack = _stacker("column_stack", _column, 1, """Tensors (0-d and 1-D ones as columns)
joined along dim 1, as ``torch.column_stack``.

    >>> import tapegrad as tg
    >>> tg.column_stack([tg.ones(2), tg.zeros(2)]).shape
    tapegrad.Size([2, 2])
    """)


# -- broadcasting -----------------------------------------------------------------------------


def broadcast_shapes(*shapes) -> Size:
    """The shape the ``shapes`` broadcast to, as ``torch.broadcast_shapes``.

    >>> import tapegrad as tg
    >>> tg.broadcast_shapes((2, 1), (3,))
    tapegrad.Size([2, 3])
    """
    sized = [(s,) if isinstance(s, numbers.Integral) else tuple(int(d) for d in s)
             for s in shapes]
    for s in sized:
        if any(d < 0 for d in s):
            raise ValueError("Attempting to broadcast a dimension with negative length!")
    out: list = []
    for k, s in enumerate(sized):
        before = list(out)
        out = [1] * (len(s) - len(out)) + out
        for i in range(1, len(s) + 1):
            d = s[-i]
            if d != 1 and out[-i] != 1 and out[-i] != d:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {d} at {-i}! Mismatching "
                    f"argument at index {k} had {s}; but expected shape should be "
                    f"broadcastable to {before}")
            if d != 1:
                out[-i] = d
    return Size(out)


def _expand_check(shape: tuple, target: tuple, type_name: str) -> None:
    """torch's error for ``shape`` that does not expand to ``target``."""
    if len(target) < len(shape):
        raise RuntimeError(f"expand(torch.{type_name}Tensor{{{list(shape)}}}, size="
                           f"{list(target)}): the number of sizes provided ({len(target)}) must "
                           f"be greater or equal to the number of dimensions in the tensor "
                           f"({len(shape)})")
    for i in range(1, len(shape) + 1):
        if shape[-i] != 1 and shape[-i] != target[-i] and target[-i] != -1:
            raise RuntimeError(
                f"The expanded size of the tensor ({target[-i]}) must match the existing size "
                f"({shape[-i]}) at non-singleton dimension {len(target) - i}.  Target sizes: "
                f"{list(target)}.  Tensor sizes: {list(shape)}")


def broadcast_to(input, size) -> Tensor:
    """``input`` expanded to ``size`` (a view; -1 keeps a dim), as ``torch.broadcast_to``.

    >>> import tapegrad as tg
    >>> tg.broadcast_to(tg.tensor([1., 2.]), (2, 2))
    tensor([[1., 2.],
            [1., 2.]])
    """
    x = _as_tensor(input)
    size = (size,) if isinstance(size, numbers.Integral) else tuple(int(s) for s in size)
    _expand_check(tuple(x._v.shape), size, _scalar_name(np.asarray(x._v).dtype))
    return x.expand(*size)


def broadcast_tensors(*tensors) -> tuple:
    """The tensors expanded to their common shape (views), as ``torch.broadcast_tensors``.

    >>> import tapegrad as tg
    >>> [t.shape for t in tg.broadcast_tensors(tg.ones(2, 1), tg.ones(3))]
    [tapegrad.Size([2, 3]), tapegrad.Size([2, 3])]
    """
    ts = _tensor_list(tensors, "broadcast_tensors")
    shape: tuple = ()
    for t in ts:
        try:
            shape = np.broadcast_shapes(shape, t._v.shape)
        except ValueError:
            a, b = shape, tuple(t._v.shape)
            k = next(i for i in range(1, min(len(a), len(b)) + 1)
                     if a[-i] != b[-i] and 1 not in (a[-i], b[-i]))
            raise RuntimeError(f"The size of tensor a ({a[-k]}) must match the size of tensor b "
                               f"({b[-k]}) at non-singleton dimension {len(b) - k}") from None
    return tuple(t if t._v.shape == shape else t.expand(*shape) for t in ts)


def sum_to_size(self, *size) -> Tensor:
    """``Tensor.sum_to_size``: ``self`` summed down to ``size`` (which must expand to
    ``self``'s shape).

    >>> import tapegrad as tg
    >>> tg.ones(2, 3).sum_to_size(1, 3)
    tensor([[2., 2., 2.]])
    """
    if len(size) == 1 and not isinstance(size[0], numbers.Integral):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    shape = tuple(self._v.shape)
    lead = len(shape) - len(size)
    if lead < 0 or any(s != 1 and s != shape[lead + i] for i, s in enumerate(size)):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    if size == shape:
        return self
    if not size:
        return self.sum()
    dims = tuple(range(lead)) + tuple(i for i in range(lead, len(shape))
                                      if size[i - lead] == 1 and shape[i] != 1)
    out = self.sum(dims, keepdim=True)
    return out.reshape(size) if lead else out


def view_as(self, other) -> Tensor:
    """``Tensor.view_as``: ``self`` viewed in ``other``'s shape."""
    if not isinstance(other, Tensor):
        raise TypeError("view_as(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(other).__name__}")
    return self.view(*other._v.shape)


def reshape_as(self, other) -> Tensor:
    """``Tensor.reshape_as``: ``self`` in ``other``'s shape (a view where possible)."""
    if not isinstance(other, Tensor):
        raise TypeError("reshape_as(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(other).__name__}")
    return self.reshape(*other._v.shape)


# -- block diagonals and combinatorics --------------------------------------------------------


def _promoted(ts: list) -> np.dtype:
    """torch's result dtype of tensors (a float beats any integer, the widest of a kind)."""
    dtypes = [np.asarray(t._v).dtype for t in ts]
    for kind in "fiub":
        of_kind = [d for d in dtypes if d.kind == kind]
        if of_kind:
            return np.result_type(*of_kind) if kind != "b" else np.dtype(bool)
    return np.result_type(*dtypes)


def block_diag(*tensors) -> Tensor:
    """The tensors (0-d, 1-D as one row, or 2-D) as the blocks of a block-diagonal matrix,
    zero elsewhere, as ``torch.block_diag``.

    >>> import tapegrad as tg
    >>> tg.block_diag(tg.ones(1, 2), tg.tensor(2.))
    tensor([[1., 1., 0.],
            [0., 0., 2.]])
    """
    ts = _tensor_list(tensors, "block_diag")
    for k, t in enumerate(ts):
        if t._v.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {k} has {t._v.ndim} dimensions")
    dtype = _promoted(ts) if ts else np.dtype(np.float64)
    blocks = [t.reshape(1, -1) if t._v.ndim < 2 else t for t in ts]
    blocks = [b if b._v.dtype == dtype else b.to(_tg_dtype(dtype)) for b in blocks]
    rows = sum(b._v.shape[0] for b in blocks)
    cols = sum(b._v.shape[1] for b in blocks)
    shape = (rows, cols) if ts else (1, 0)
    positions, r0, c0 = [], 0, 0
    for b in blocks:
        r, c = b._v.shape
        positions.append(((np.arange(r)[:, None] + r0) * cols + np.arange(c) + c0).reshape(-1))
        r0, c0 = r0 + r, c0 + c
    if not ts:
        from .creation import zeros

        return zeros(shape)
    flat = cat([b.reshape(-1) for b in blocks]) if len(blocks) > 1 else blocks[0].reshape(-1)
    where = np.concatenate(positions).astype(np.int64)
    if _recording(flat):
        return rename(_scatter_op(flat, where, rows * cols, shape, unique=True),
                      "BlockDiagBackward0")
    value = np.zeros(rows * cols, dtype=dtype)
    value[where] = np.asarray(flat._v).reshape(-1)
    return _wrap(value.reshape(shape))


def _tg_dtype(np_dtype: np.dtype):
    from .dtypes import from_numpy_dtype

    return from_numpy_dtype(np_dtype)


def _vector(t: Tensor) -> None:
    if t._v.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(t._v.shape)}")


def cartesian_prod(*tensors) -> Tensor:
    """Every tuple of one element from each 1-D tensor, as rows (one tensor: itself), as
    ``torch.cartesian_prod``.

    >>> import tapegrad as tg
    >>> tg.cartesian_prod(tg.tensor([1, 2]), tg.tensor([3, 4]))
    tensor([[1, 3],
            [1, 4],
            [2, 3],
            [2, 4]])
    """
    ts = _tensor_list(tensors, "cartesian_prod")
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in ts:
        _vector(t)
    if len(ts) == 1:
        return ts[0]
    return stack([g.reshape(-1) for g in meshgrid(*ts, indexing="ij")], 1)


def combinations(input, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The ``r``-element combinations of a 1-D tensor's elements (with repeats when
    ``with_replacement``), as rows, as ``torch.combinations``.

    >>> import tapegrad as tg
    >>> tg.combinations(tg.tensor([1, 2, 3]))
    tensor([[1, 2],
            [1, 3],
            [2, 3]])
    """
    x = _as_tensor(input)
    _vector(x)
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return _wrap(np.empty(0, dtype=np.asarray(x._v).dtype))
    pick = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    rows = np.array(list(pick(range(x._v.shape[0]), r)), dtype=np.int64).reshape(-1, r)
    return stack([index_select(x, 0, _wrap(np.ascontiguousarray(rows[:, k])))
                  for k in range(r)], 1)


def _tri_indices(name: str):
    def indices(row: int, col: int, offset: int = 0, *, dtype=None, device="cpu",
                layout=None) -> Tensor:
        for arg, v in (("row", row), ("col", col), ("offset", offset)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"{name}(): argument '{arg}' must be int, not "
                                f"{type(v).__name__}")
        for arg, v in (("row", row), ("col", col)):
            if v < 0:
                raise RuntimeError(f"{arg} must be non-negative, got{v}")
        from .dtypes import int64, to_numpy_dtype

        np_dtype = np.dtype(to_numpy_dtype(int64 if dtype is None else dtype))
        if np_dtype.kind not in "iu":
            raise NotImplementedError(f'"{name}" not implemented for '
                                      f"'{_scalar_name(np_dtype)}'")
        r, c = np.indices((row, col)).reshape(2, -1)
        keep = c - r <= offset if name == "tril_indices" else c - r >= offset
        return _wrap(np.ascontiguousarray(np.stack([r[keep], c[keep]]).astype(np_dtype)))

    indices.__name__ = indices.__qualname__ = name
    part = "lower" if name == "tril_indices" else "upper"
    indices.__doc__ = (f"The (row, column) coordinates of a ``row`` x ``col`` matrix's {part} "
                       f"triangle (from diagonal ``offset``), as a 2 x N tensor, as "
                       f"``torch.{name}``.\n\n    >>> import tapegrad as tg\n"
                       f"    >>> tg.{name}(2, 2).shape\n    tapegrad.Size([2, 3])\n")
    return indices


def _scalar_name(np_dtype: np.dtype) -> str:
    from .dtypes import SCALAR_NAMES

    return SCALAR_NAMES.get(np_dtype, str(np_dtype))


tril_indices, triu_indices = _tri_indices("tril_indices"), _tri_indices("triu_indices")


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Each element (or slice along ``dim``; flat when ``dim`` is None) repeated ``repeats``
    times (an int, or a tensor of counts), as ``torch.repeat_interleave``; one int tensor
    alone: its positions repeated by its values.

    >>> import tapegrad as tg
    >>> tg.repeat_interleave(tg.tensor([1., 2.]), 2)
    tensor([1., 1., 2., 2.])
    """
    if repeats is None:  # (torch.repeat_interleave(repeats): indices by counts)
        counts = _counts(_as_tensor(input))
        return _wrap(np.repeat(np.arange(counts.size, dtype=np.int64), counts))
    x = _as_tensor(input)
    if dim is None:
        x = x.reshape(-1)
        d = 0
    elif x._v.ndim == 0:  # (torch's kernel unsqueezes dim + 1 first)
        raise IndexError(f"Dimension out of range (expected to be in range of [-1, 0], but got "
                         f"{int(dim) + 1})")
    else:
        d = _dim(dim, x._v.ndim)
    n = x._v.shape[d]
    if isinstance(repeats, Tensor):
        counts = _counts(repeats)
        if counts.size == 1 and repeats._v.ndim == 0:
            counts = np.full(n, counts.item(), dtype=np.int64)
        elif counts.size == 1:
            counts = np.full(n, counts[0], dtype=np.int64)
        if counts.size != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {counts.size} and input.size({d}) = {n}")
        total = int(counts.sum())
    else:
        if int(repeats) < 0:
            raise RuntimeError("Repeats must be non-negative")
        counts, total = None, n * int(repeats)
    if output_size is not None and output_size != total:
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {total} but got "
                           f"{output_size}")
    if counts is None:
        shape = list(x._v.shape)
        k = int(repeats)
        lifted = x.unsqueeze(d + 1)
        out = lifted.expand(*shape[:d + 1], k, *shape[d + 1:])
        return out.reshape(*shape[:d], shape[d] * k, *shape[d + 1:])
    index = _wrap(np.repeat(np.arange(n, dtype=np.int64), counts))
    return index_select(x, d, index)


def _counts(t: Tensor) -> np.ndarray:
    v = np.asarray(t._v)
    if v.ndim > 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    if v.dtype.kind not in "iu":
        raise NotImplementedError(f'"repeat_interleave_cpu" not implemented for '
                                  f"'{_scalar_name(v.dtype)}'")
    if (v < 0).any():
        raise RuntimeError("repeats can not be negative")
    return v.astype(np.int64).reshape(-1)


# -- questions and conversions ----------------------------------------------------------------


def numel(input) -> int:
    """The number of elements, as ``torch.numel``."""
    return int(_tensor_arg(input, "numel")._v.size)


def is_floating_point(input) -> bool:
    """Whether ``input``'s dtype is a floating point one, as ``torch.is_floating_point``."""
    return np.asarray(_tensor_arg(input, "is_floating_point")._v).dtype.kind == "f"


def is_nonzero(input) -> bool:
    """Whether a one-element tensor is not zero, as ``torch.is_nonzero``."""
    t = _tensor_arg(input, "is_nonzero")
    n = t._v.size
    if n != 1:
        raise RuntimeError("Boolean value of Tensor with " + (
            "no values is ambiguous" if n == 0 else "more than one value is ambiguous"))
    return bool(t)


def _tensor_arg(x, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")
    return x


def as_tensor(data, *, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing a tensor (or a NumPy array's memory) when no conversion
    is needed, as ``torch.as_tensor``.

    >>> import tapegrad as tg
    >>> t = tg.ones(2)
    >>> tg.as_tensor(t) is t
    True
    """
    return asarray(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None,
            requires_grad: bool = False) -> Tensor:
    """``obj`` as a tensor -- the same tensor, or one sharing a NumPy array's memory, unless
    ``copy`` or a ``dtype`` conversion asks for new memory -- as ``torch.asarray``.

    >>> import tapegrad as tg
    >>> tg.asarray([1, 2])
    tensor([1, 2])
    """
    from .creation import from_numpy, tensor
    from .dtypes import to_numpy_dtype

    want = None if dtype is None else np.dtype(to_numpy_dtype(dtype))
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "fiub" and obj.dtype.isnative:
        obj = from_numpy(obj)
    if isinstance(obj, Tensor):
        out = obj
        have = np.asarray(obj._v).dtype
        if want is not None and have != want:
            if copy is False:
                raise ValueError(f"can't alias tensor with dtype '{_scalar_name(have)}' into "
                                 f"dtype '{_scalar_name(want)}'.")
            out = obj.to(dtype)
        elif copy:
            out = obj.clone()
    else:
        out = tensor(obj, dtype=dtype)
    if requires_grad:
        out.requires_grad_(True)
    return out


def _methods() -> None:
    add_methods(broadcast_to, repeat_interleave, is_nonzero)
    for f in (sum_to_size, view_as, reshape_as):
        setattr(Tensor, f.__name__, f)


_methods()

__all__ = ["hstack", "vstack", "row_stack", "dstack", "column_stack", "atleast_1d",
           "atleast_2d", "atleast_3d", "broadcast_to", "broadcast_tensors", "broadcast_shapes",
           "block_diag", "cartesian_prod", "combinations", "tril_indices", "triu_indices",
           "repeat_interleave", "numel", "is_floating_point", "is_nonzero", "as_tensor",
           "asarray"]
