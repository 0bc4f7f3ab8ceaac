"""Sorting, selection and counting in torch's names: ``sort``, ``argsort``, ``msort``, ``topk``,
``kthvalue``, ``median``, ``nanmedian``, ``mode``, ``cummax``, ``cummin``, ``unique``,
``unique_consecutive``, ``searchsorted``, ``bucketize``, ``bincount``, ``histc``,
``count_nonzero``, ``nonzero``, ``argwhere``.

No op of its own: the order is found with NumPy, and the values it selects are a gather by a
flat map (the ``index`` op, as shapes.py's ``gather``), renamed as torch's node -- so backward,
create_graph and tg.compile follow.  Of equal elements, the one torch's CPU kernel picks gets
the gradient: a stable order (NaN largest) where torch's is stable or breaks ties by index
(``stable=True``, median), otherwise torch's selection algorithm replayed on the lines that
hold ties (tie_order.py); ``>=`` for ``cummax``.

While compiling, a choice made from values the tape computes is guarded: the sorted line's
neighbours compared (``<``, ``==``, NaN) are recorded and their outcome kept, so a replay whose
order or ties differ retapes (or raises) instead of replaying a stale choice.
"""

from __future__ import annotations

import numbers

import numpy as np

from .grad_mode import STATE
from .node import rename
from .ops.graphs import gather as _gather_op
from .products import add_methods, takes_out
from .recording import _OP, _as_tensor, _guard, _recording, _wrap
from .structural import _normalize_dims, _reduced_dims, _ValuesIndices
from .tensor import Tensor
from .tie_order import first_of_equals, quickselect, std_sort, topk_order

_INDEX = _OP["index"]


def _result(kind: str) -> type:
    """torch.return_types.<kind>: a (values, indices) tuple."""
    return type(f"_{kind}", (_ValuesIndices,), {"__slots__": (), "kind": kind})


_SORT, _TOPK, _KTH = _result("sort"), _result("topk"), _result("kthvalue")
_MEDIAN, _NANMEDIAN, _MODE = _result("median"), _result("nanmedian"), _result("mode")
_CUMMAX, _CUMMIN = _result("cummax"), _result("cummin")


def _dim(dim, ndim: int) -> int:
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"expected dim to be an int, not {type(dim).__name__}")
    (d,) = _normalize_dims(int(dim), ndim)
    return d


def _c(a: np.ndarray) -> np.ndarray:
    """An int64 C-order copy (a 0-d array stays 0-d, unlike ``np.ascontiguousarray``'s)."""
    return np.array(a, dtype=np.int64, order="C")


def _offsets(shape: tuple) -> np.ndarray:
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.int64).reshape(shape)


def _take(x: Tensor, idx: np.ndarray, d: int, name: str) -> Tensor:
    """``x``'s elements at ``idx`` along dim ``d`` (``take_along_axis``), recorded as a gather
    named ``name``: its gradient scatters back to those elements."""
    v = np.asarray(x._v)
    idx = np.asarray(idx, dtype=np.int64)
    if v.ndim == 0:
        flat = np.zeros(idx.shape, np.int64)
    else:
        flat = np.take_along_axis(_offsets(v.shape), idx, axis=d)
    out = _gather_op(_INDEX, x, np.ascontiguousarray(flat).reshape(-1), idx.shape)
    return rename(out, name)


def _order(v: np.ndarray, d: int, descending: bool = False) -> np.ndarray:
    """A stable argsort along ``d`` in torch's order: NaN is the largest value."""
    if v.ndim == 0:
        return np.zeros((), np.int64)
    if not descending:
        return np.argsort(v, axis=d, kind="stable").astype(np.int64)
    if v.dtype.kind == "b":
        key = ~v
    elif v.dtype.kind in "iu":
        key = ~v  # (reverses the order without -v's overflow at the smallest int)
    else:
        key = -v
    nan = np.isnan(v) if v.dtype.kind == "f" else np.zeros(v.shape, bool)
    # lexsort is stable, its last key the first: NaN first, then the values descending
    return np.lexsort((key, ~nan), axis=d).astype(np.int64)


def _has_ties(v: np.ndarray, order: np.ndarray, d: int) -> np.ndarray:
    """Per line along ``d`` (sorted by ``order``): whether equal elements (or two NaNs)
    occur -- where the choice among them is the algorithm's."""
    ranked = np.moveaxis(np.take_along_axis(v, order, axis=d), d, -1)
    nans = np.isnan(v).sum(axis=d) if v.dtype.kind == "f" else 0
    return (ranked[..., 1:] == ranked[..., :-1]).any(axis=-1) | (nans > 1)


def _torch_order(v: np.ndarray, d: int, descending: bool, stable: bool) -> np.ndarray:
    """``torch.sort``'s order along ``d``: stable, except that its default sorts lines of
    more than 16 elements with ties by libstdc++'s introsort (replayed for those lines;
    1-D int lines of 32768 or more ascending take a stable radix sort)."""
    order = _order(v, d, descending)
    if stable or v.ndim == 0 or v.shape[d] <= 16:
        return order
    if v.ndim == 1 and v.dtype.kind in "iu" and v.size >= 32768 and not descending:
        return order
    ties = _has_ties(v, order, d)
    if ties.any():
        lines, out = np.moveaxis(v, d, -1), np.moveaxis(order, d, -1)  # (a view of order)
        for at in np.ndindex(ties.shape):
            if ties[at]:
                out[at] = std_sort(lines[at], descending)
    return order


def _guard_order(x: Tensor, d: int, order: np.ndarray | None = None) -> None:
    """While compiling: keep how the sorted neighbours of ``x`` along ``d`` compare (less,
    equal, NaN) -- everything a choice by order or by equality depends on."""
    if STATE.compile_tape is None or not _recording(x) or x._v.size < 1:
        return
    v = np.asarray(x._v)
    if v.ndim == 0:
        _guard(x != x, "order")
        return
    order = _order(v, d) if order is None else order
    s = _take(x, order, d, "SortBackward0")
    n = v.shape[d]
    _guard(s != s, "order")
    if n > 1:
        a, b = s.narrow(d, 0, n - 1), s.narrow(d, 1, n - 1)
        _guard(a < b, "order")
        _guard(a == b, "order")


def _guard_values(x: Tensor) -> None:
    """While compiling: a result made from ``x``'s values (a count, a position) holds only
    for those values."""
    if STATE.compile_tape is not None and _recording(x):
        flat = _offsets(x._v.shape).reshape(-1)
        _guard(_gather_op(_INDEX, x, flat, flat.shape), "value")


# -- sort and what it selects ---------------------------------------------------------------


def sort(input, dim: int = -1, descending: bool = False, *, stable: bool = False) -> _SORT:
    """``(values, indices)`` sorted along ``dim``, as ``torch.sort``: NaN sorts as the
    largest value; equal values keep their order with ``stable=True``, and otherwise come in
    the order torch's introsort leaves them.

    >>> import tapegrad as tg
    >>> tg.sort(tg.tensor([3., 1., 2.])).indices
    tensor([1, 2, 0])
    """
    x = _as_tensor(input)
    v = np.asarray(x._v)
    d = _dim(dim, v.ndim)
    order = _torch_order(v, d, bool(descending), bool(stable))
    _guard_order(x, d)
    name = "SortBackward1" if stable else "SortBackward0"
    return _SORT((_take(x, order, d, name), _wrap(order)))


def argsort(input, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim``, as ``torch.argsort`` (int64, no
    gradient)."""
    x = _as_tensor(input)
    v = np.asarray(x._v)
    d = _dim(dim, v.ndim)
    _guard_order(x, d)
    return _wrap(_torch_order(v, d, bool(descending), bool(stable)))


def msort(input) -> Tensor:
    """``input`` sorted along its first dim, as ``torch.msort``."""
    return sort(input, 0)[0]


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> _TOPK:  # noqa: A002
    """The ``k`` largest (``largest=False``: smallest) elements along ``dim`` and their
    indices, as ``torch.topk``; NaN counts as the largest.  Of equal elements, the ones
    torch's selection picks, in its order."""
    x = _as_tensor(input)
    v = np.asarray(x._v)
    d = _dim(dim, v.ndim)
    n = v.shape[d] if v.ndim else 1
    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        raise TypeError(f"topk(): argument 'k' must be int, not {type(k).__name__}")
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    if v.dtype.kind == "b":
        raise RuntimeError("topk does not support bool dtypes on CPU")
    order = _order(v, d, bool(largest))
    _guard_order(x, d)
    if not v.ndim:
        return _TOPK((_take(x, order, d, "TopkBackward0"), _wrap(_c(order))))
    idx = np.take(order, np.arange(k), axis=d)
    # lines with ties (and, unsorted, any line torch's nth_element leaves unordered): torch's
    # selection replayed
    redo = _has_ties(v, order, d) | (not sorted and 1 < k and k * 64 > n)
    if redo.any():
        lines, out = np.moveaxis(v, d, -1), np.moveaxis(idx, d, -1)
        for at in np.ndindex(redo.shape):
            if redo[at]:
                out[at] = topk_order(lines[at], k, bool(largest), bool(sorted))
    return _TOPK((_take(x, idx, d, "TopkBackward0"), _wrap(_c(idx))))


def _select(x: Tensor, d: int, k_of, keepdim: bool, name: str, result: type, order=None):
    """Per line along ``d``: the element at position ``k_of(line)`` of the stable order (an
    int array over the lines), with its index."""
    v = np.asarray(x._v)
    if v.ndim == 0:
        idx = np.zeros((), np.int64)
        return result((_take(x, idx, d, name), _wrap(idx)))
    order = _order(v, d) if order is None else order
    _guard_order(x, d, order)
    pos = np.expand_dims(np.asarray(k_of, dtype=np.int64), d)
    idx = np.take_along_axis(order, pos, axis=d)
    values = _take(x, idx, d, name)
    if not keepdim:
        idx = np.squeeze(idx, d)
        values = values.squeeze(d)
        rename(values, name)
    return result((values, _wrap(_c(idx))))


def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False) -> _KTH:
    """The ``k``-th smallest element along ``dim`` and its index, as ``torch.kthvalue``."""
    x = _as_tensor(input)
    v = np.asarray(x._v)
    d = _dim(dim, v.ndim)
    n = v.shape[d] if v.ndim else 1
    if isinstance(k, bool) or not isinstance(k, numbers.Integral):
        raise TypeError(f"kthvalue(): argument 'k' must be int, not {type(k).__name__}")
    if v.ndim and n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    _no_bool(v, "kthvalue_cpu")
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if v.ndim == 0:
        return _select(x, d, None, keepdim, "KthvalueBackward0", _KTH)
    order = _order(v, d)
    _guard_order(x, d, order)
    # a line with ties: the index torch's quickselect leaves at k - 1
    ranked = np.moveaxis(np.take_along_axis(v, order, axis=d), d, -1)
    nans = np.isnan(v).sum(axis=d) if v.dtype.kind == "f" else 0
    ties = (ranked[..., 1:] == ranked[..., :-1]).any(axis=-1) | (nans > 1)
    pos = np.full(ties.shape, k - 1)
    lines = np.moveaxis(v, d, -1)
    for at in np.ndindex(ties.shape):
        if not ties[at]:
            continue
        chosen = quickselect(lines[at], k - 1)
        pos[at] = int(np.flatnonzero(np.moveaxis(order, d, -1)[at] == chosen)[0])
    return _select(x, d, pos, keepdim, "KthvalueBackward0", _KTH, order)


def _evenly(x: Tensor, value, name: str) -> Tensor:
    """``value`` (an element of ``x``) with its gradient shared evenly by the elements equal
    to it (NaN: by the NaNs), as torch's median() and nanmedian(): the amax of those."""
    v = np.asarray(x._v).reshape(-1)
    same = np.isnan(v) if np.isnan(value) else v == value
    picked = np.flatnonzero(same)
    _guard_order(x.reshape(-1), 0)
    picked = _gather_op(_INDEX, x, picked.astype(np.int64), picked.shape)
    # (the amax of equal values is exactly that value; NaN's are shared by the mean)
    return rename(picked.mean() if np.isnan(value) else picked.amax(), name)


def _median_all(x: Tensor, skip_nan: bool, name: str) -> Tensor:
    v = np.asarray(x._v).reshape(-1)
    if v.size == 0:
        return rename(x.sum() * float("nan"), name)
    nan = np.isnan(v) if v.dtype.kind == "f" else np.zeros(v.shape, bool)
    if nan.any() and (not skip_nan or nan.all()):
        return _evenly(x, np.nan, name)
    valid = int(v.size - nan.sum())
    value = np.sort(v[~nan])[(valid - 1) // 2]
    return _evenly(x, value, name)


def _median_dim(x: Tensor, dim, keepdim: bool, skip_nan: bool, name: str, result: type):
    v = np.asarray(x._v)
    d = _dim(dim, v.ndim)
    if v.ndim and v.shape[d] == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    if v.ndim == 0:
        return _select(x, d, None, keepdim, name, result)
    n = v.shape[d]
    nan = np.isnan(v) if v.dtype.kind == "f" else np.zeros(v.shape, bool)
    count = nan.sum(axis=d)
    order = _order(v, d)
    if skip_nan:
        pos = np.maximum(n - count - 1, 0) // 2
        if (count == n).any():  # an all-NaN line: where torch's nth_element leaves NaNs
            # (its stable order is the line's own: the position is the index)
            pos = np.where(count == n, first_of_equals(n), pos)
    else:
        # a line with NaN answers its first NaN: the first past the values in the order
        pos = np.where(count > 0, n - count, (n - 1) // 2)
    return _select(x, d, pos, keepdim, name, result, order)


def _no_bool(v: np.ndarray, kernel: str) -> None:
    if v.dtype.kind == "b":
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def median(input, dim=None, keepdim: bool = False):
    """The lower median, as ``torch.median``: of all elements (NaN if any is NaN; the
    gradient is shared by the elements equal to it), or ``(values, indices)`` along ``dim``.

    >>> import tapegrad as tg
    >>> tg.median(tg.tensor([4., 1., 3., 2.]))
    tensor(2.)
    """
    x = _as_tensor(input)
    _no_bool(x._v, "median_cpu" if dim is None else "median_out")
    if dim is None:
        return _median_all(x, False, "MedianBackward0")
    return _median_dim(x, dim, keepdim, False, "MedianBackward1", _MEDIAN)


def nanmedian(input, dim=None, keepdim: bool = False):
    """``median`` ignoring NaN (NaN only where everything is NaN), as ``torch.nanmedian``."""
    x = _as_tensor(input)
    _no_bool(x._v, "median_cpu" if dim is None else "median_out")
    if dim is None:
        return _median_all(x, True, "NanmedianBackward0")
    return _median_dim(x, dim, keepdim, True, "NanmedianBackward1", _NANMEDIAN)


def mode(input, dim: int = -1, keepdim: bool = False) -> _MODE:
    """The most frequent value along ``dim`` (the smallest of equally frequent ones) and the
    index of its last occurrence, as ``torch.mode``."""
    x = _as_tensor(input)
    v = np.asarray(x._v)
    d = _dim(dim, v.ndim)
    if v.ndim and v.shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    if v.ndim == 0:
        return _select(x, d, None, keepdim, "ModeBackward0", _MODE)
    _guard_order(x, d)
    lines = np.moveaxis(v, d, -1)
    best = np.empty(lines.shape[:-1], np.int64)
    for at in np.ndindex(best.shape):
        best[at] = _mode_of(lines[at])
    idx = np.expand_dims(best, d)
    values = _take(x, idx, d, "ModeBackward0")
    if not keepdim:
        idx = np.squeeze(idx, d)
        values = rename(values.squeeze(d), "ModeBackward0")
    return _MODE((values, _wrap(_c(idx))))


def _mode_of(line: np.ndarray) -> int:
    """torch's mode of one line: sorted by value (``std::sort`` with a bare ``<``: stable up
    to 16 elements without NaN), the first longest run of equal values, its last element."""
    if len(line) > 16 or (line.dtype.kind == "f" and np.isnan(line).any()):
        order = std_sort(line, False, plain=True)
    else:
        order = np.argsort(line, kind="stable")
    s = line[order]
    ends = np.flatnonzero(np.append(s[1:] != s[:-1], True))
    counts = np.diff(np.append(-1, ends))
    return int(order[ends[int(np.argmax(counts))]])


def _cumulative(input, dim, kind: str):
    x = _as_tensor(input)
    v = np.asarray(x._v)
    d = _dim(dim, v.ndim)
    result, name = (_CUMMAX, "CummaxBackward0") if kind == "max" else (_CUMMIN, "CumminBackward0")
    if v.ndim == 0 or v.size == 0:
        idx = np.zeros(v.shape, np.int64)
        return result((_take(x, idx, d, name), _wrap(idx)))
    _guard_order(x, d)
    w = np.moveaxis(v, d, -1)
    idx = np.zeros(w.shape, np.int64)
    best = w[..., 0].copy()
    at = np.zeros(w.shape[:-1], np.int64)
    floating = w.dtype.kind == "f"
    for i in range(1, w.shape[-1]):
        e = w[..., i]
        better = (e >= best) if kind == "max" else (e <= best)
        if floating:  # a NaN takes over and stays, each later NaN taking its place
            better = np.isnan(e) | (better & ~np.isnan(best))
        best = np.where(better, e, best)
        at = np.where(better, i, at)
        idx[..., i] = at
    idx = np.ascontiguousarray(np.moveaxis(idx, -1, d))
    return result((_take(x, idx, d, name), _wrap(idx)))


def cummax(input, dim: int) -> _CUMMAX:
    """The running maximum along ``dim`` and where it was reached (the last index of equal
    maxima; NaN propagates), as ``torch.cummax``."""
    return _cumulative(input, dim, "max")


def cummin(input, dim: int) -> _CUMMIN:
    """The running minimum along ``dim`` and where it was reached, as ``torch.cummin``."""
    return _cumulative(input, dim, "min")


# -- unique values, positions and counts (no gradient) --------------------------------------


def _unique_parts(v: np.ndarray, consecutive: bool, return_inverse: bool,
                  return_counts: bool, shape: tuple):
    flat = v.reshape(-1)
    if consecutive:
        starts = np.flatnonzero(np.append(True, flat[1:] != flat[:-1])) if flat.size else \
            np.zeros(0, np.int64)
        values = flat[starts]
        inverse = np.cumsum(np.append(False, flat[1:] != flat[:-1])) if flat.size else \
            np.zeros(0, np.int64)
        counts = np.diff(np.append(starts, flat.size))
    else:
        values, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True,
                                            equal_nan=False)
    out = [_wrap(np.ascontiguousarray(values))]
    if return_inverse:
        out.append(_wrap(np.asarray(inverse, np.int64).reshape(shape)))
    if return_counts:
        out.append(_wrap(np.asarray(counts, np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique(input, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim=None):
    """The distinct elements, sorted, as ``torch.unique`` (``dim=None`` only); with
    ``return_inverse`` each element's place among them, with ``return_counts`` how often
    each occurs.  No gradient.

    >>> import tapegrad as tg
    >>> tg.unique(tg.tensor([2, 1, 2]))
    tensor([1, 2])
    """
    x = _as_tensor(input)
    if dim is not None:
        raise NotImplementedError("tapegrad.unique: dim= is not supported yet (dim=None only)")
    _guard_order(x.reshape(-1), 0)
    return _unique_parts(np.asarray(x._v), False, return_inverse, return_counts, x._v.shape)


def unique_consecutive(input, return_inverse: bool = False, return_counts: bool = False,
                       dim=None):
    """The elements with each run of equal neighbours made one, as
    ``torch.unique_consecutive`` (``dim=None`` only).  No gradient."""
    x = _as_tensor(input)
    if dim is not None:
        raise NotImplementedError("tapegrad.unique_consecutive: dim= is not supported yet "
                                  "(dim=None only)")
    _guard_values(x)
    return _unique_parts(np.asarray(x._v), True, return_inverse, return_counts, x._v.shape)


def searchsorted(sorted_sequence, input, *, out_int32: bool = False, right: bool = False,
                 side=None, sorter=None) -> Tensor:
    """Where each of ``input`` would be inserted into the innermost dim of
    ``sorted_sequence`` to keep it sorted, as ``torch.searchsorted``.  No gradient."""
    seq = _as_tensor(sorted_sequence)
    scalar = not isinstance(input, Tensor)
    values = _as_tensor(input)
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to "
                               "opposites, got side of left while right was True")
        right = side == "right"
    s, q = np.asarray(seq._v), np.asarray(values._v)
    if s.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive "
                           "dimension, but got 0 dimension")
    if sorter is not None:
        sort_idx = np.asarray(_as_tensor(sorter)._v)
        if sort_idx.shape != s.shape:
            raise RuntimeError("torch.searchsorted(): boundary and sorter must have the same "
                               f"size, but got boundary tensor {list(s.shape)}and got sorter "
                               f"tensor {list(sort_idx.shape)}")
        s = np.take_along_axis(s, sort_idx.astype(np.int64), axis=-1)
    if s.ndim > 1 and (scalar or q.shape[:-1] != s.shape[:-1]):
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or "
                           "the first N-1 dimensions of boundaries tensor and input value "
                           "tensor must match, but we got boundaries tensor "
                           f"{list(s.shape)} and input value tensor {list(q.shape)}")
    _guard_values(seq)
    _guard_values(values)
    how = "right" if right else "left"
    if s.ndim == 1:
        out = np.searchsorted(s, q, side=how)
    else:
        lines_s, lines_q = s.reshape(-1, s.shape[-1]), q.reshape(-1, q.shape[-1])
        out = np.stack([np.searchsorted(a, b, side=how) for a, b in
                        zip(lines_s, lines_q, strict=True)]).reshape(q.shape)
    return _wrap(np.asarray(out, np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket of each element of ``input`` among the 1-D ``boundaries``, as
    ``torch.bucketize``.  No gradient."""
    b = _as_tensor(boundaries)
    if b._v.ndim != 1:
        raise RuntimeError("boundaries tensor must be 1 dimension, but got dim("
                           f"{b._v.ndim})")
    return searchsorted(b, input, out_int32=out_int32, right=right)


def bincount(input, weights=None, minlength: int = 0) -> Tensor:
    """How often each value 0, 1, ... occurs in the 1-D non-negative int ``input`` (or the
    sum of ``weights`` there), as ``torch.bincount``.  No gradient."""
    x = _as_tensor(input)
    v = np.asarray(x._v)
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if v.dtype.kind == "f":
        name = "Double" if v.dtype == np.float64 else "Float"
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{name}'")
    if v.ndim != 1 or v.dtype.kind not in "iub" or (v.size and v.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    w = None
    if weights is not None:
        wt = _as_tensor(weights)
        w = np.asarray(wt._v)
        if w.ndim != 1 or w.shape[0] != v.shape[0]:
            raise RuntimeError("weights should be 1-d and have the same length as input")
        _guard_values(wt)
    _guard_values(x)
    counts = np.bincount(v.astype(np.int64), weights=w, minlength=int(minlength))
    if w is None:
        return _wrap(counts.astype(np.int64))
    return _wrap(counts.astype(np.float32 if w.dtype == np.float32 else np.float64))


def histc(input, bins: int = 100, min=0, max=0) -> Tensor:  # noqa: A002
    """A histogram of ``bins`` equal bins between ``min`` and ``max`` (the data's own when
    both are 0), as ``torch.histc``; elements outside are ignored.  No gradient."""
    x = _as_tensor(input)
    v = np.asarray(x._v)
    if v.dtype.kind == "b":
        raise NotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    if v.dtype.kind != "f":
        name = {"i": "Long", "u": "Byte"}[v.dtype.kind]
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{name}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for "
                           "dimension 0")
    lo, hi = v.dtype.type(min), v.dtype.type(max)
    if lo == hi and v.size:
        lo, hi = v.min(), v.max()
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    _guard_values(x)
    flat = v.reshape(-1)
    inside = flat[(flat >= lo) & (flat <= hi)]
    pos = ((inside - lo) * v.dtype.type(bins) / (hi - lo)).astype(np.int64)
    pos = np.minimum(pos, bins - 1)  # (the last edge closes the last bin)
    return _wrap(np.bincount(pos, minlength=bins).astype(v.dtype))


def count_nonzero(input, dim=None) -> Tensor:
    """How many elements are not zero (along ``dim``: an int or a tuple), as
    ``torch.count_nonzero`` (int64, no gradient)."""
    x = _as_tensor(input)
    v = np.asarray(x._v)
    if STATE.compile_tape is not None and _recording(x):
        _guard(x != 0, "nonzero")
    if dim is None:
        return _wrap(np.asarray(np.count_nonzero(v), np.int64))
    dims = _reduced_dims(dim, v.ndim)
    if v.ndim == 0:
        return _wrap(np.asarray(np.count_nonzero(v), np.int64))
    return _wrap(np.asarray(np.count_nonzero(v, axis=dims), np.int64))


def nonzero(input, *, as_tuple: bool = False):
    """The indices of the non-zero elements, one row each, as ``torch.nonzero``
    (``as_tuple=True``: one index tensor per dim).  No gradient."""
    x = _as_tensor(input)
    v = np.asarray(x._v)
    if STATE.compile_tape is not None and _recording(x):
        _guard(x != 0, "nonzero")
    if as_tuple:
        if v.ndim == 0:
            return (_wrap(np.flatnonzero(v.reshape(1)).astype(np.int64)),)
        return tuple(_wrap(i.astype(np.int64)) for i in np.nonzero(v))
    return _wrap(np.ascontiguousarray(np.argwhere(v).astype(np.int64)))


def argwhere(input) -> Tensor:
    """The indices of the non-zero elements, one row each, as ``torch.argwhere``."""
    return nonzero(input)


add_methods(sort, argsort, msort, topk, kthvalue, median, nanmedian, mode, cummax, cummin,
            unique, unique_consecutive, bincount, histc, count_nonzero, nonzero, argwhere)

# (the functions take out=, as torch's; the methods do not)
msort, histc, nonzero = takes_out(msort), takes_out(histc), takes_out(nonzero)
searchsorted, bucketize = takes_out(searchsorted), takes_out(bucketize)

__all__ = ["sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode",
           "cummax", "cummin", "unique", "unique_consecutive", "searchsorted", "bucketize",
           "bincount", "histc", "count_nonzero", "nonzero", "argwhere"]
