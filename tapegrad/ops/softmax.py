"""softmax, log_softmax and logsumexp over one dim, stable in both directions.

Every group (the elements that share all coordinates but the reduced dim) is shifted by its
maximum before ``exp``, so inputs of +-1000 give finite values and gradients.  The int
parameters are those of a reduction, ``[nd, shape (nd), keep mask (nd)]``, and the kernels map
each element to its group with the reductions' odometer.
"""

import math

import numpy as np

from ..kernels.jit import elementwise, kernel
from .graphs import as_shape, group_sum, reduced_shapes
from .reduction import _next_offset, _reduced_strides
from .registry import READS_A, READS_Y, defgraph, exposed, register


@elementwise
def _group_max_and_sum(a, I, ip, n_groups):
    """Per group: the maximum, and the sum of exp(a - maximum)."""
    nd, shape, strides = _reduced_strides(I, ip)
    m = np.full(n_groups, -np.inf)
    idx = np.zeros(nd, np.int64)
    j = 0
    for i in range(a.size):
        if a[i] > m[j] or a[i] != a[i]:
            m[j] = a[i]
        j = _next_offset(idx, shape, strides, nd, j)
    s = np.zeros(n_groups)
    idx[:] = 0
    j = 0
    for i in range(a.size):
        if math.isinf(m[j]):  # all -inf, or a +inf present: exp of the shifted value
            s[j] += 1.0 if a[i] == m[j] else 0.0
        else:
            s[j] += math.exp(a[i] - m[j])
        j = _next_offset(idx, shape, strides, nd, j)
    return m, s


@elementwise
def _group_sum(v, w, I, ip, n_groups):
    """Per group: the sum of v * w (w=None-like when w.size == 0: the sum of v)."""
    nd, shape, strides = _reduced_strides(I, ip)
    t = np.zeros(n_groups)
    idx = np.zeros(nd, np.int64)
    j = 0
    for i in range(v.size):
        t[j] += v[i] * w[i] if w.size else v[i]
        j = _next_offset(idx, shape, strides, nd, j)
    return t


@elementwise
def _groups(I, ip):
    nd = I[ip]
    n = 1
    for d in range(nd):
        if I[ip + 1 + nd + d]:
            n *= I[ip + 1 + d]
    return n


# -- logsumexp: y has one element per group ------------------------------------------------


@kernel
def _logsumexp_fwd(y, a, b, I, F, ip, fp):
    m, s = _group_max_and_sum(a, I, ip, y.size)
    for j in range(y.size):
        y[j] = m[j] if math.isinf(m[j]) else m[j] + math.log(s[j])


@kernel
def _logsumexp_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    nd, shape, strides = _reduced_strides(I, ip)
    idx = np.zeros(nd, np.int64)
    j = 0
    # torch's formula as it is, also where y is infinite: inf - inf makes those elements nan
    for i in range(ga.size):
        ga[i] += g[j] * math.exp(a[i] - y[j])
        j = _next_offset(idx, shape, strides, nd, j)


# -- softmax / log_softmax: y has a's shape --------------------------------------------------


@kernel
def _softmax_fwd(y, a, b, I, F, ip, fp):
    m, s = _group_max_and_sum(a, I, ip, _groups(I, ip))
    nd, shape, strides = _reduced_strides(I, ip)
    idx = np.zeros(nd, np.int64)
    j = 0
    for i in range(a.size):
        y[i] = math.exp(a[i] - m[j]) / s[j]
        j = _next_offset(idx, shape, strides, nd, j)


@kernel
def _softmax_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    t = _group_sum(g, y, I, ip, _groups(I, ip))  # sum over the group of g * y
    nd, shape, strides = _reduced_strides(I, ip)
    idx = np.zeros(nd, np.int64)
    j = 0
    for i in range(ga.size):
        ga[i] += y[i] * (g[i] - t[j])
        j = _next_offset(idx, shape, strides, nd, j)


@kernel
def _log_softmax_fwd(y, a, b, I, F, ip, fp):
    m, s = _group_max_and_sum(a, I, ip, _groups(I, ip))
    nd, shape, strides = _reduced_strides(I, ip)
    idx = np.zeros(nd, np.int64)
    j = 0
    for i in range(a.size):
        y[i] = a[i] - m[j] - math.log(s[j])
        j = _next_offset(idx, shape, strides, nd, j)


@kernel
def _log_softmax_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    t = _group_sum(g, g[:0], I, ip, _groups(I, ip))  # sum over the group of g
    nd, shape, strides = _reduced_strides(I, ip)
    idx = np.zeros(nd, np.int64)
    j = 0
    for i in range(ga.size):
        ga[i] += g[i] - math.exp(y[i]) * t[j]
        j = _next_offset(idx, shape, strides, nd, j)


# -- NumPy forwards ---------------------------------------------------------------------------


# (``initial``: the maximum over an empty dim is -inf, as torch's: logsumexp is then -inf and
# softmax empty, where np.max without it raises)


def np_logsumexp(a, dim: int, keepdim: bool):
    m = np.max(a, axis=dim, keepdims=True, initial=-np.inf)
    m = np.where(np.isinf(m), 0.0, m)  # all -inf stays -inf; +inf stays +inf
    out = np.log(np.sum(np.exp(a - m), axis=dim, keepdims=True)) + m
    return out if keepdim else np.squeeze(out, axis=dim)


def np_softmax(a, dim: int):
    e = np.exp(a - np.max(a, axis=dim, keepdims=True, initial=-np.inf))
    return e / np.sum(e, axis=dim, keepdims=True)


def np_log_softmax(a, dim: int):
    shifted = a - np.max(a, axis=dim, keepdims=True, initial=-np.inf)
    return shifted - np.log(np.sum(np.exp(shifted), axis=dim, keepdims=True))


LOGSUMEXP = register("logsumexp", "LogsumexpBackward0", 1, np_logsumexp, _logsumexp_fwd,
                     _logsumexp_vjp, READS_A | READS_Y, surface=exposed("logsumexp"))
SOFTMAX = register("softmax", "SoftmaxBackward0", 1, np_softmax, _softmax_fwd, _softmax_vjp,
                   READS_Y, surface=exposed("softmax"))
LOG_SOFTMAX = register("log_softmax", "LogSoftmaxBackward0", 1, np_log_softmax,
                       _log_softmax_fwd, _log_softmax_vjp, READS_Y,
                       surface=exposed("log_softmax"))


# -- graph rules (see registry.py): the VJPs above in tensor operations, as torch's formulas


@defgraph(LOGSUMEXP)
def _logsumexp_graph(g, a, b, y, r):
    _, _, kept = reduced_shapes(r)
    return as_shape(g, kept) * (a - as_shape(y, kept)).exp(), None


@defgraph(SOFTMAX)
def _softmax_graph(g, a, b, y, r):
    _, dims, _ = reduced_shapes(r)
    return y * (g - group_sum(g * y, dims)), None


@defgraph(LOG_SOFTMAX)
def _log_softmax_graph(g, a, b, y, r):
    _, dims, _ = reduced_shapes(r)
    return g - y.exp() * group_sum(g, dims), None
