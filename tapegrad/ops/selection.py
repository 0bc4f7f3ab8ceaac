"""Ops that pick between values: where, maximum/minimum, max/min, clamp.

Their gradients flow to the selected element only.  Ties follow torch: ``maximum``/``minimum``
split the gradient evenly between equal operands, a full ``max()``/``min()`` spreads it evenly
over all maximal elements, and ``max(dim)`` gives it to the index it returns (the first).
"""

import numpy as np

from ..kernels.jit import elementwise, kernel
from .elementwise import binary
from .graphs import as_shape, int_params, scatter_add, sum_to, where, zero_like
from .registry import READS_A, READS_B, READS_Y, Surface, defgraph, exposed, register
from .shape import _gather_fwd, _gather_vjp

# -- where(cond, x, y): one record per branch, both writing the output; cond is input b -------


@kernel
def _where_x_fwd(y, a, b, I, F, ip, fp):
    for i in range(y.size):
        if b[i] != 0.0:
            y[i] = a[i]


@kernel
def _where_x_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    for i in range(g.size):
        if b[i] != 0.0:
            ga[i] += g[i]


@kernel
def _where_y_fwd(y, a, b, I, F, ip, fp):
    for i in range(y.size):
        if b[i] == 0.0:
            y[i] = a[i]


@kernel
def _where_y_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    for i in range(g.size):
        if b[i] == 0.0:
            ga[i] += g[i]


def _np_where(cond, x, y):
    return np.where(cond, x, y)


# the condition (input b) is read to route the gradient; torch saves it
WHERE_X = register("where_x", "WhereBackward0", 2, _np_where, _where_x_fwd, _where_x_vjp,
                   READS_B, next_b=False, surface=Surface(function="where"))
WHERE_Y = register("where_y", "WhereBackward0", 2, _np_where, _where_y_fwd, _where_y_vjp,
                   READS_B, next_b=False)


# -- maximum / minimum: elementwise, ties split evenly --------------------------------------


@elementwise
def _share(g, mine, other):
    if mine > other:
        return g
    if mine == other:
        return 0.5 * g
    if mine != mine:  # NaN wins, as in torch
        return g
    return 0.0


MAXIMUM = binary("maximum", "MaximumBackward0", np.maximum,
                 lambda a, b: a if a > b or a != a else (b if b > a or b != b else a),
                 lambda g, a, b, y: _share(g, a, b), lambda g, a, b, y: _share(g, b, a),
                 READS_A | READS_B, READS_A | READS_B,
                 surface=exposed("maximum", params=("input", "other"), inplace=False))
MINIMUM = binary("minimum", "MinimumBackward0", np.minimum,
                 lambda a, b: a if a < b or a != a else (b if b < a or b != b else a),
                 lambda g, a, b, y: _share(g, -a, -b), lambda g, a, b, y: _share(g, -b, -a),
                 READS_A | READS_B, READS_A | READS_B,
                 surface=exposed("minimum", params=("input", "other"), inplace=False))


# -- max() / min() over everything: ties share evenly ----------------------------------------


@kernel
def _max_all_fwd(y, a, b, I, F, ip, fp):
    m = -np.inf
    for i in range(a.size):
        if a[i] > m or a[i] != a[i]:
            m = a[i]
            if m != m:
                break
    y[0] = m


@kernel
def _min_all_fwd(y, a, b, I, F, ip, fp):
    m = np.inf
    for i in range(a.size):
        if a[i] < m or a[i] != a[i]:
            m = a[i]
            if m != m:
                break
    y[0] = m


@kernel
def _extreme_all_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    nan = y[0] != y[0]
    count = 0
    for i in range(a.size):
        if a[i] == y[0] or (nan and a[i] != a[i]):
            count += 1
    share = g[0] / count
    for i in range(a.size):
        if a[i] == y[0] or (nan and a[i] != a[i]):
            ga[i] += share


# (x.max() and x.max(dim), written by hand in tensor.py, record max_all or max_dim)
MAX_ALL = register("max_all", "MaxBackward1", 1, np.max, _max_all_fwd, _extreme_all_vjp,
                   READS_A | READS_Y, surface=exposed("max"))
MIN_ALL = register("min_all", "MinBackward1", 1, np.min, _min_all_fwd, _extreme_all_vjp,
                   READS_A | READS_Y, surface=exposed("min"))


# -- max(dim) / min(dim): a gather of the selected elements (map chosen eagerly) -------------
# A compiled tape guards the choice (tg.compile checks it against the replayed input).


def extreme_map(shape: tuple, dim: int, arg: np.ndarray, keepdim: bool) -> np.ndarray:
    """The flat offsets of the elements ``argmax``/``argmin`` chose along ``dim`` (``arg``), in
    the result's shape: max(dim)'s value is ``a.ravel()[map]``, and its int params the map."""
    arg_k = np.expand_dims(arg, dim)
    flat = np.ravel_multi_index(
        tuple(arg_k if i == dim else np.arange(n).reshape([-1 if j == i else 1
                                                            for j in range(len(shape))])
              for i, n in enumerate(shape)), shape)
    flat = np.broadcast_to(flat, arg_k.shape)
    return flat if keepdim else np.squeeze(flat, dim)


def _np_take(a, flat_index):
    return a.ravel()[flat_index]


# torch's MaxBackward0 keeps the indices tensor
MAX_DIM = register("max_dim", "MaxBackward0", 1, _np_take, _gather_fwd, _gather_vjp, 0,
                   saves=True)
MIN_DIM = register("min_dim", "MinBackward0", 1, _np_take, _gather_fwd, _gather_vjp, 0,
                   saves=True)


# -- clamp: float params [lo, hi] (an absent bound is -inf / inf) ----------------------------


@kernel
def _clamp_fwd(y, a, b, I, F, ip, fp):
    lo, hi = F[fp], F[fp + 1]
    for i in range(y.size):
        v = a[i]
        if v < lo:
            v = lo
        if v > hi:
            v = hi
        y[i] = v


@kernel
def _clamp_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    lo, hi = F[fp], F[fp + 1]
    for i in range(g.size):
        if lo <= a[i] <= hi:
            ga[i] += g[i]


def _np_clamp(a, lo, hi):
    return np.clip(a, lo, hi)


# (x.clamp(min, max), by hand in tensor.py, records clamp, clamp_min or clamp_max)
CLAMP = register("clamp", "ClampBackward1", 1, _np_clamp, _clamp_fwd, _clamp_vjp, READS_A,
                 surface=exposed("clamp", aliases=("clip",), inplace=True))
CLAMP_MIN = register("clamp_min", "ClampMinBackward0", 1, _np_clamp, _clamp_fwd, _clamp_vjp,
                     READS_A)
CLAMP_MAX = register("clamp_max", "ClampMaxBackward0", 1, _np_clamp, _clamp_fwd, _clamp_vjp,
                     READS_A)


# -- graph rules (see registry.py): the routing above, with tapegrad.where (g may be inf: a
# -- gradient is selected, never multiplied by a 0/1 mask)


@defgraph(WHERE_X)
def _where_x_graph(g, a, b, y, r):
    return where(b != 0, g, zero_like(g)), None


@defgraph(WHERE_Y)
def _where_y_graph(g, a, b, y, r):
    return where(b != 0, zero_like(g), g), None


def _broadcast_shapes(r, g) -> tuple:
    """A binary record's operand shapes (padded to the output's dims) and ``g`` in the
    output's shape; ``(None, None, g)`` when the operands' shapes agree (no int params)."""
    if r.ip < 0:
        return None, None, g
    nd = r.I[r.ip]
    a_shape, b_shape, out = (tuple(int_params(r, nd, 1 + k * nd).tolist()) for k in range(3))
    return a_shape, b_shape, as_shape(g, out)


def _extreme_pair_graph(larger: bool):
    # torch's tie rule, as the scalar rule ``_share``: the strictly selected operand (or a NaN
    # one) takes g, equal operands half of it each
    def rule(g, a, b, y, r):
        a_shape, b_shape, g = _broadcast_shapes(r, g)
        zero = zero_like(g)
        half = where(a == b, g * 0.5, zero)
        ga = where(((a > b) if larger else (a < b)) | (a != a), g, half)
        gb = where(((b > a) if larger else (b < a)) | (b != b), g, half)
        if a_shape is not None:
            ga, gb = sum_to(ga, a_shape), sum_to(gb, b_shape)
        return ga, gb

    return rule


defgraph(MAXIMUM)(_extreme_pair_graph(True))
defgraph(MINIMUM)(_extreme_pair_graph(False))


@defgraph(MAX_ALL, MIN_ALL)
def _extreme_all_graph(g, a, b, y, r):
    # evenly over every element equal to the result (every NaN, when it is NaN)
    mask = (a == y) | ((y != y) & (a != a))
    count = mask.to(g.dtype).sum()
    return where(mask, g / count, zero_like(g)), None


@defgraph(MAX_DIM, MIN_DIM)
def _extreme_dim_graph(g, a, b, y, r):
    return scatter_add(g, int_params(r, g.numel()), a.numel(), a.shape), None


@defgraph(CLAMP, CLAMP_MIN, CLAMP_MAX)
def _clamp_graph(g, a, b, y, r):
    # the bounds pass the gradient (torch's clamp_backward); NaN does not
    lo, hi = r.F[r.fp], r.F[r.fp + 1]
    return where((a >= lo) & (a <= hi), g, zero_like(g)), None
