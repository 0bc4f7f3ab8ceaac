"""Shape ops: views, copies, transposes and indexing.

``view``/``reshape``/``clone`` keep the flat (C-order) data as it is.  Every other way of
rearranging elements -- transposes, permutes, indexing with index arrays -- is recorded as a
*gather*: the int parameters hold, for each output element, the flat offset of the input element
it came from.  The VJP scatter-adds through the same map, so repeated indices accumulate as
torch's do.  Basic indexing (ints, slices, None, Ellipsis) picks a strided block instead, recorded
by its offset, shape and strides.
"""

import functools
import math

import numpy as np

from ..kernels.jit import elementwise, kernel
from .elementwise import _odometer_step
from .graphs import constant, gather, int_params, np_scatter, scatter_add, sum_to, where, zero_like
from .registry import ANY_RECORD, ASSIGN, Surface, defgraph, exposed, register


@kernel
def _copy_fwd(y, a, b, I, F, ip, fp):
    for i in range(y.size):
        y[i] = a[i]


@kernel
def _copy_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    if need_a == ASSIGN:
        for i in range(g.size):  # (a loop: numba's array-to-slice assignment compiles its
            ga[i] = g[i]  # shape-mismatch message, seconds of compile for a copy)
        return
    for i in range(g.size):
        ga[i] += g[i]


@kernel
def _gather_fwd(y, a, b, I, F, ip, fp):
    for i in range(y.size):
        y[i] = a[I[ip + i]]


@kernel
def _gather_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    for i in range(g.size):
        ga[I[ip + i]] += g[i]


def gather_map(shape: tuple, key) -> np.ndarray:
    """Flat source offsets of ``np.empty(shape)[key]``, in the result's C order."""
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)[key].ravel()


def permutation_map(shape: tuple, perm) -> np.ndarray:
    """Flat source offsets of ``np.empty(shape).transpose(perm)`` (transpose, permute, t)."""
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape).transpose(perm).ravel()


# -- basic indexing (ints, slices, None, Ellipsis) picks a strided block of the input: its int
# params are ``[nd, offset, shape (nd), strides (nd)]`` in elements of the input's flat C order,
# a few ints where a gather map would hold one per element (800 KB for x[1:] on 100,000).


def basic_params(shape: tuple, key: tuple) -> tuple:
    """The int params of ``x[key]`` (the select and slice ops) for ``x`` of ``shape`` and a
    basic key that NumPy has already accepted."""
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    n_dims = sum(k is not None and k is not Ellipsis for k in key)
    offset, out_shape, out_strides, d = 0, [], [], 0
    for k in key:
        if k is Ellipsis:
            for _ in range(len(shape) - n_dims):
                out_shape.append(shape[d])
                out_strides.append(strides[d])
                d += 1
        elif k is None:
            out_shape.append(1)
            out_strides.append(0)
        elif isinstance(k, slice):
            start, stop, step = k.indices(shape[d])
            offset += start * strides[d]
            out_shape.append(len(range(start, stop, step)))
            out_strides.append(step * strides[d])
            d += 1
        else:
            offset += (int(k) % shape[d]) * strides[d]
            d += 1
    out_shape += shape[d:]
    out_strides += strides[d:]
    return (len(out_shape), offset, *out_shape, *out_strides)


@elementwise
def _block_walk(I, ip):
    nd = I[ip]
    return nd, I[ip + 1], I[ip + 2:ip + 2 + nd], I[ip + 2 + nd:ip + 2 + 2 * nd]


@kernel
def _strided_fwd(y, a, b, I, F, ip, fp):
    nd, src, shape, st = _block_walk(I, ip)
    if nd == 0 or y.size == 0:
        if y.size:
            y[0] = a[src]
        return
    row, step = shape[nd - 1], st[nd - 1]
    idx = np.zeros(nd, np.int64)
    for start in range(0, y.size, row):
        yr = y[start:start + row]
        if step == 1:
            ar = a[src:src + row]
            for j in range(row):
                yr[j] = ar[j]
        else:
            for j in range(row):
                yr[j] = a[src + j * step]
        src, _ = _odometer_step(idx, shape, st, st, nd - 1, src, src)


@kernel
def _strided_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    nd, src, shape, st = _block_walk(I, ip)
    if need_a == ASSIGN:
        if nd == 1 and st[0] == 1:  # one run (x[1:]): clear around it, overwrite it
            ga[:src] = 0.0
            ga[src + g.size:] = 0.0
            for i in range(g.size):  # (a loop: see _copy_vjp)
                ga[src + i] = g[i]
            return
        ga[:] = 0.0
    if nd == 0 or g.size == 0:
        if g.size:
            ga[src] += g[0]
        return
    row, step = shape[nd - 1], st[nd - 1]
    idx = np.zeros(nd, np.int64)
    for start in range(0, g.size, row):
        gr = g[start:start + row]
        if step == 1:
            gar = ga[src:src + row]
            for j in range(row):
                gar[j] += gr[j]
        else:
            for j in range(row):
                ga[src + j * step] += gr[j]
        src, _ = _odometer_step(idx, shape, st, st, nd - 1, src, src)


def _np_gather(a, key):
    return a[key]


def _copy_op(key, name, eager, surface=None):
    """An op whose output is its input's elements in the same flat order."""
    return register(key, name, 1, eager, _copy_fwd, _copy_vjp, 0, assigns=True, surface=surface)


# (x.view, x.reshape and x.flatten, by hand in tensor.py, record view)
# (no NumPy forward for an op whose value is a view of its input's storage, or a copy in its
# layout: the front end makes those values itself, the way torch's storage semantics need)
VIEW = _copy_op("view", "ViewBackward0", None, exposed("reshape", params=("input", "shape")))
CLONE = _copy_op("clone", "CloneBackward0", None, exposed("clone"))

# -- a cast (``x.float()``, ``x.to(tg.int64)``).  The tape holds float64, so between float
# dtypes the VJP is a copy (a leaf's gradient is cast to its own dtype when delivered, as
# torch's ToCopyBackward0 casts it back); a cast to an int or bool dtype passes no gradient and
# is recorded only while compiling (its result may select elements later).  The replay does
# what the cast did: rounds to float32/float16, truncates to an int (NumPy leaves values out of
# an int's range undefined), tests for nonzero.  Int param: the target's index in CAST_TO.
CAST_TO = tuple(np.dtype(d) for d in (np.float64, np.float32, np.float16, np.int64, np.int32,
                                      np.int16, np.int8, np.uint8, np.bool_))


@elementwise
def _round_to_half(x):
    """``float(np.float16(x))``, which numba lacks: 11 significant bits, round half to even."""
    if x != x or x == 0.0 or abs(x) == np.inf:
        return x
    if abs(x) >= 65520.0:  # (rounds past float16's largest finite, 65504)
        return np.inf if x > 0.0 else -np.inf
    m, e = math.frexp(x)  # x = m * 2**e, 0.5 <= |m| < 1
    if e < -13:  # float16's subnormals: a fixed step of 2**-24
        return np.round(x * 16777216.0) / 16777216.0
    return math.ldexp(np.round(m * 2048.0) / 2048.0, e)


@kernel
def _cast_fwd(y, a, b, I, F, ip, fp):
    to = I[ip]
    for i in range(y.size):
        if to == 0:
            y[i] = a[i]
        elif to == 1:
            y[i] = np.float32(a[i])
        elif to == 2:
            y[i] = _round_to_half(a[i])
        elif to == 8:
            y[i] = 1.0 if a[i] != 0.0 else 0.0
        else:
            y[i] = math.trunc(a[i])


def _np_cast(a, to):
    return a.astype(CAST_TO[to])


CAST = register("to_copy", "ToCopyBackward0", 1, _np_cast, _cast_fwd, _copy_vjp, 0,
                assigns=True)
# the gather kernels under torch's names for the ways an element map arises
TRANSPOSE = register("transpose", "TransposeBackward0", 1, None, _gather_fwd, _gather_vjp, 0,
                     surface=exposed("transpose"))
PERMUTE = register("permute", "PermuteBackward0", 1, None, _gather_fwd, _gather_vjp, 0,
                   surface=exposed("permute", params=("input", "dims")))
T = register("t", "TBackward0", 1, None, _gather_fwd, _gather_vjp, 0)
SELECT = register("select", "SelectBackward0", 1, None, _strided_fwd, _strided_vjp, 0,
                  assigns=ANY_RECORD)
SLICE = register("slice", "SliceBackward0", 1, None, _strided_fwd, _strided_vjp, 0,
                 assigns=ANY_RECORD)
# torch's IndexBackward0 keeps the index tensor: a second backward through it is refused
INDEX = register("index", "IndexBackward0", 1, _np_gather, _gather_fwd, _gather_vjp, 0,
                 saves=True)


def broadcast_map(shape: tuple, new_shape: tuple) -> np.ndarray:
    """Flat source offsets of ``np.broadcast_to(a, new_shape)`` for ``a`` of ``shape``."""
    return np.broadcast_to(np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape),
                           new_shape).ravel()


# expanding is a gather whose map repeats offsets; its VJP sums the repeats back
EXPAND = register("expand", "ExpandBackward0", 1, None, _gather_fwd, _gather_vjp, 0)
SQUEEZE = _copy_op("squeeze", "SqueezeBackward0", None, exposed("squeeze"))
SQUEEZE_DIM = _copy_op("squeeze_dim", "SqueezeBackward1", None)
UNSQUEEZE = _copy_op("unsqueeze", "UnsqueezeBackward0", None, exposed("unsqueeze"))


# -- joining: one record per input, all writing the same output slot ------------------------
# The output is seen as ``outer`` rows of ``row`` elements; input i fills the columns
# ``[col, col + width)`` of every row.  int params: ``[outer, row, col, width]``.


def join_params(out_shape: tuple, dim: int, sizes: list[int]) -> list[tuple]:
    """Each input's int params for a join along ``dim`` giving ``out_shape``, the inputs having
    ``sizes`` elements each."""
    outer = int(np.prod(out_shape[:dim]))
    row = int(np.prod(out_shape[dim:]))
    params, col = [], 0
    for size in sizes:
        width = size // outer if outer else 0
        params.append((outer, row, col, width))
        col += width
    return params


@kernel
def _block_fwd(y, a, b, I, F, ip, fp):
    outer, row, col, width = I[ip], I[ip + 1], I[ip + 2], I[ip + 3]
    for o in range(outer):
        for j in range(width):
            y[o * row + col + j] = a[o * width + j]


@kernel
def _block_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    outer, row, col, width = I[ip], I[ip + 1], I[ip + 2], I[ip + 3]
    for o in range(outer):
        for j in range(width):
            ga[o * width + j] += g[o * row + col + j]


CAT = register("cat", "CatBackward0", 1, np.concatenate, _block_fwd, _block_vjp, 0,
               surface=Surface(function="cat"))
STACK = register("stack", "StackBackward0", 1, np.stack, _block_fwd, _block_vjp, 0,
                 surface=Surface(function="stack"))


# -- x[key] = v under grad mode (torch's CopySlices): two records on one output slot ---------
# The first copies the old x except the assigned positions; the second writes v there.
# int params: ``[n, positions (n), v offsets (n)]`` -- the flat positions assigned, in NumPy's
# assignment order, and for each the (broadcast) element of v written there.


def setitem_params(shape: tuple, key: tuple, value_shape: tuple) -> np.ndarray:
    """The int params of ``x[key] = v`` for ``x`` of ``shape`` and ``v`` of ``value_shape``
    (both records share them); ValueError if ``v`` does not broadcast to ``x[key]``."""
    positions = gather_map(shape, key)
    target_shape = np.empty(shape)[key].shape
    sources = np.broadcast_to(np.arange(int(np.prod(value_shape)), dtype=np.int64)
                              .reshape(value_shape), target_shape).ravel()
    return np.concatenate([[positions.size], positions, sources])


@kernel
def _keep_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    # the assigned positions are skipped, not added then subtracted: g - g is nan where g is
    # inf (torch's CopySlices passes exactly 0 there)
    n = I[ip]
    assigned = np.zeros(g.size, np.bool_)
    for k in range(n):
        assigned[I[ip + 1 + k]] = True
    for i in range(g.size):
        if not assigned[i]:
            ga[i] += g[i]


@kernel
def _put_fwd(y, a, b, I, F, ip, fp):
    n = I[ip]
    for k in range(n):
        y[I[ip + 1 + k]] = a[I[ip + 1 + n + k]]


@kernel
def _put_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    n = I[ip]
    # the last write to a position wins, so only it receives that position's gradient
    last = np.full(g.size, -1, np.int64)
    for k in range(n):
        last[I[ip + 1 + k]] = k
    for k in range(n):
        p = I[ip + 1 + k]
        if last[p] == k:
            ga[I[ip + 1 + n + k]] += g[p]


# forward: copy all of x (the second record then overwrites the assigned positions); eagerly
# the new value is written into x's storage (indexing.py), no forward of its own
SETITEM_KEEP = register("setitem_keep", "CopySlices", 1, None, _copy_fwd, _keep_vjp, 0)
SETITEM_PUT = register("setitem_put", "CopySlices", 1, None, _put_fwd, _put_vjp, 0)


# -- scatter-add by a flat map: the transpose of the gather above (``y[map[i]] += a[i]``), what a
# -- gather's gradient is as a recorded op (graph rules).  int params: the map, one per element
# -- of ``a``; the output's size is the record's.


@kernel
def _scatter_fwd(y, a, b, I, F, ip, fp):
    for i in range(y.size):
        y[i] = 0.0
    for i in range(a.size):
        y[I[ip + i]] += a[i]


@kernel
def _scatter_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    for i in range(ga.size):
        ga[i] += g[I[ip + i]]


# (torch's name for the node of an accumulating index_put, what its index backward records)
SCATTER = register("scatter_add", "IndexPutImplBackward0", 1, np_scatter, _scatter_fwd,
                   _scatter_vjp, 0)


# -- graph rules (see registry.py): the VJPs above as recorded tensor operations ------------


def _value_shape(a, g) -> tuple:
    """A permuted input's shape: ``a``'s, except that a one-element value may be held 0-d; a
    permuted one-element input has ``g``'s (all ones, as many)."""
    return tuple(a.shape) if a.numel() != 1 else tuple(g.shape)


@defgraph(VIEW, SQUEEZE, SQUEEZE_DIM, UNSQUEEZE)
def _reshape_graph(g, a, b, y, r):
    return g.reshape(a.shape), None


@defgraph(CLONE)
def _clone_graph(g, a, b, y, r):
    return g, None


@defgraph(CAST)
def _cast_graph(g, a, b, y, r):
    # the gradient goes back in the input's dtype (torch's ToCopyBackward0); a cast to an int
    # or bool dtype, or from one, passes none
    if CAST_TO[r.I[r.ip]].kind != "f" or not a.is_floating_point():
        return None, None
    return g.to(a.dtype), None


def _permutation_graph(op):
    def rule(g, a, b, y, r):
        # the map is a permutation: its inverse gathers the gradient back, recorded as the op
        inverse = np.argsort(int_params(r, g.numel()), kind="stable")
        return gather(op, g, inverse, _value_shape(a, g)), None

    return rule


for _op in (TRANSPOSE, PERMUTE, T):
    defgraph(_op)(_permutation_graph(_op))


def strided_map(r) -> np.ndarray:
    """The flat offsets a select/slice record picks (its strided block), in order."""
    nd = r.I[r.ip]
    return _strided_map(tuple(r.I[r.ip:r.ip + 2 + 2 * nd]))


@functools.lru_cache(maxsize=256)
def _strided_map(params: tuple) -> np.ndarray:
    # (a loop differentiates the same slices step after step: each map made once)
    nd, offset = params[0], params[1]
    shape, strides = params[2:2 + nd], params[2 + nd:2 + 2 * nd]
    offsets = np.full((), offset, dtype=np.int64)
    for d in range(nd):
        offsets = offsets[..., None] + np.arange(shape[d], dtype=np.int64) * strides[d]
    offsets = offsets.reshape(-1)
    offsets.flags.writeable = False
    return offsets


@defgraph(SELECT, SLICE)
def _strided_graph(g, a, b, y, r):
    return scatter_add(g, strided_map(r), a.numel(), a.shape, unique=True), None


@defgraph(INDEX)
def _gather_graph(g, a, b, y, r):
    return scatter_add(g, int_params(r, g.numel()), a.numel(), a.shape), None


@defgraph(SCATTER)
def _scatter_graph(g, a, b, y, r):
    return gather(INDEX, g, int_params(r, a.numel()), a.shape), None


@defgraph(EXPAND)
def _expand_graph(g, a, b, y, r):
    # torch's sum_to: summed over the leading and the broadcast dims (a one-element input,
    # whose shape the value may not tell: over everything)
    if a.numel() == 1:
        return g.sum(), None
    return sum_to(g, tuple(a.shape)), None


@defgraph(CAT, STACK)
def _join_graph(g, a, b, y, r):
    outer, row, col, width = (r.I[r.ip + i] for i in range(4))
    return g.reshape(outer, row)[:, col:col + width].reshape(a.shape), None


@defgraph(SETITEM_KEEP)
def _keep_graph(g, a, b, y, r):
    # the assigned positions get no gradient: selected away, not multiplied by 0 (g may be inf)
    assigned = np.zeros(g.numel(), dtype=bool)
    assigned[int_params(r, r.I[r.ip], 1)] = True
    return where(constant(assigned.reshape(g.shape)), zero_like(g), g), None


@defgraph(SETITEM_PUT)
def _put_graph(g, a, b, y, r):
    n = r.I[r.ip]
    positions, sources = int_params(r, n, 1), int_params(r, n, 1 + n)
    # the last write to a position wins: only it takes that position's gradient
    _, last_reversed = np.unique(positions[::-1], return_index=True)
    kept = np.sort(n - 1 - last_reversed)
    positions, sources = positions[kept], sources[kept]
    size = a.numel()
    if positions.size == size and np.array_equal(np.sort(sources), np.arange(size)):
        # each element of v written once (no broadcast): a gather
        return gather(INDEX, g, positions[np.argsort(sources)], a.shape), None
    picked = gather(INDEX, g, positions, positions.shape)
    return scatter_add(picked, sources, size, a.shape), None
