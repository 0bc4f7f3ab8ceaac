"""Products and scans along one dim (prod, cumsum, cumprod, logcumsumexp) and the extreme
values over dims (amax, amin), with torch's gradients.

The one-dim ops see their input as ``(outer, n, inner)`` -- ``n`` the dim's size -- and their
int params are ``[outer, n, inner]``: element ``j`` of group ``(o, i)`` is at
``o * n * inner + j * inner + i``, and the group's reduced output (prod) at ``o * inner + i``.
``prod()`` of everything is the same with ``[1, numel, 1]``.

amax/amin take a reduction's int params (``reduction.dims_params``).
"""

import math

import numpy as np

from ..kernels.jit import elementwise, kernel
from .graphs import as_shape, constant, group_sum, reduced_shapes, where
from .reduction import _next_offset, _reduced_strides
from .registry import READS_A, READS_Y, defgraph, register


def line_params(shape: tuple, dim: int | None) -> tuple:
    """``[outer, n, inner]`` of an op along ``dim`` of an input of ``shape`` (None: all)."""
    if dim is None or not shape:
        return (1, math.prod(shape), 1)
    return (math.prod(shape[:dim]), shape[dim], math.prod(shape[dim + 1:]))


# -- prod ----------------------------------------------------------------------------------------


@kernel
def _prod_fwd(y, a, b, I, F, ip, fp):
    outer, n, inner = I[ip], I[ip + 1], I[ip + 2]
    for o in range(outer):
        for i in range(inner):
            p = 1.0
            for j in range(n):
                p *= a[o * n * inner + j * inner + i]
            y[o * inner + i] = p


@kernel
def _prod_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    # torch's prod_backward: grad * (result / input) unless the input has a zero anywhere;
    # then grad * (product before) * (product after), exact with zeros
    outer, n, inner = I[ip], I[ip + 1], I[ip + 2]
    zeros = False
    for k in range(a.size):
        if a[k] == 0.0:
            zeros = True
            break
    before = np.empty(n)
    for o in range(outer):
        for i in range(inner):
            t = o * inner + i
            base = o * n * inner + i
            if not zeros:
                for j in range(n):
                    ga[base + j * inner] += g[t] * (y[t] / a[base + j * inner])
                continue
            p = 1.0
            for j in range(n):
                before[j] = p
                p *= a[base + j * inner]
            p = 1.0
            for j in range(n - 1, -1, -1):
                ga[base + j * inner] += g[t] * (before[j] * p)
                p *= a[base + j * inner]


def np_prod(a, dim=None, keepdim=False):
    return np.prod(a, axis=dim, keepdims=keepdim)


PROD = register("prod", "ProdBackward0", 1, np_prod, _prod_fwd, _prod_vjp, READS_A | READS_Y)
PROD_DIM = register("prod_dim", "ProdBackward1", 1, np_prod, _prod_fwd, _prod_vjp,
                    READS_A | READS_Y)


# -- cumsum / cumprod / logcumsumexp ------------------------------------------------------------


@kernel
def _cumsum_fwd(y, a, b, I, F, ip, fp):
    outer, n, inner = I[ip], I[ip + 1], I[ip + 2]
    for o in range(outer):
        for i in range(inner):
            base = o * n * inner + i
            s = 0.0
            for j in range(n):
                s += a[base + j * inner]
                y[base + j * inner] = s


@kernel
def _cumsum_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    # the reversed cumulative sum of g (torch's flip, cumsum, flip)
    outer, n, inner = I[ip], I[ip + 1], I[ip + 2]
    for o in range(outer):
        for i in range(inner):
            base = o * n * inner + i
            s = 0.0
            for j in range(n - 1, -1, -1):
                s += g[base + j * inner]
                ga[base + j * inner] += s


@kernel
def _cumprod_fwd(y, a, b, I, F, ip, fp):
    outer, n, inner = I[ip], I[ip + 1], I[ip + 2]
    for o in range(outer):
        for i in range(inner):
            base = o * n * inner + i
            p = 1.0
            for j in range(n):
                p *= a[base + j * inner]
                y[base + j * inner] = p


@kernel
def _cumprod_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    # torch's cumprod_backward: before a group's first zero z, the reversed cumulative sum of
    # g * y divided by the input; at z, the sum over k >= z of g_k times the product of the
    # inputs up to k but z; after z, 0 (every product there holds the zero)
    outer, n, inner = I[ip], I[ip + 1], I[ip + 2]
    for o in range(outer):
        for i in range(inner):
            base = o * n * inner + i
            z = n
            for j in range(n):
                if a[base + j * inner] == 0.0:
                    z = j
                    break
            s = 0.0
            for j in range(z - 1, -1, -1):
                k = base + j * inner
                s += g[k] * y[k]
                ga[k] += s / a[k]
            if z < n:
                p = 1.0 if z == 0 else y[base + (z - 1) * inner]
                s = g[base + z * inner] * p
                for j in range(z + 1, n):
                    p *= a[base + j * inner]
                    s += g[base + j * inner] * p
                ga[base + z * inner] += s


@elementwise
def _log_add_exp(x, y):
    # torch's _log_add_exp_helper: exact for equal infinities
    lo, hi = min(x, y), max(x, y)
    if x != x or y != y:
        return x + y
    if lo != hi or (not math.isinf(lo)):
        return hi + math.log1p(math.exp(lo - hi))
    return x


@kernel
def _logcumsumexp_fwd(y, a, b, I, F, ip, fp):
    outer, n, inner = I[ip], I[ip + 1], I[ip + 2]
    for o in range(outer):
        for i in range(inner):
            base = o * n * inner + i
            s = -math.inf
            for j in range(n):
                s = _log_add_exp(s, a[base + j * inner])
                y[base + j * inner] = s


_LOWEST = float(np.finfo(np.float64).min)


@kernel
def _logcumsumexp_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    # torch's logcumsumexp_backward: the positive and the negative parts of g, each as the
    # exp of a reversed logcumsumexp of log|g| - y, plus the input
    outer, n, inner = I[ip], I[ip + 1], I[ip + 2]
    for o in range(outer):
        for i in range(inner):
            base = o * n * inner + i
            sp, sn = -math.inf, -math.inf
            for j in range(n - 1, -1, -1):
                k = base + j * inner
                lg = math.log(abs(g[k])) if g[k] != 0.0 else -math.inf
                sp = _log_add_exp(sp, (lg if g[k] > 0.0 else _LOWEST) - y[k])
                sn = _log_add_exp(sn, (lg if g[k] < 0.0 else _LOWEST) - y[k])
                ga[k] += math.exp(sp + a[k]) - math.exp(sn + a[k])


def _np_scan(scan):
    # (np.cumsum/np.cumprod: integers become int64, as torch's)
    def along(a, dim):
        return scan(a, axis=dim) if a.ndim else scan(a).reshape(())

    return along


def _np_logcumsumexp(a, dim):
    if a.ndim == 0:
        return a.copy()
    return np.logaddexp.accumulate(a, axis=dim)


CUMSUM = register("cumsum", "CumsumBackward0", 1, _np_scan(np.cumsum), _cumsum_fwd, _cumsum_vjp, 0)
CUMPROD = register("cumprod", "CumprodBackward0", 1, _np_scan(np.cumprod), _cumprod_fwd,
                   _cumprod_vjp, READS_A | READS_Y)
LOGCUMSUMEXP = register("logcumsumexp", "LogcumsumexpBackward0", 1, _np_logcumsumexp,
                        _logcumsumexp_fwd, _logcumsumexp_vjp, READS_A | READS_Y)


# -- amax / amin over dims: ties share evenly (torch's scale_grad_by_count) ---------------------


@elementwise
def _extreme_dims_into(y, a, I, ip, larger):
    nd, shape, strides = _reduced_strides(I, ip)
    start = -math.inf if larger else math.inf
    for j in range(y.size):
        y[j] = start
    idx = np.zeros(nd, np.int64)
    j = 0
    for i in range(a.size):
        v = a[i]
        if y[j] == y[j] and (v != v or (v > y[j] if larger else v < y[j])):
            y[j] = v
        j = _next_offset(idx, shape, strides, nd, j)


@kernel
def _amax_fwd(y, a, b, I, F, ip, fp):
    _extreme_dims_into(y, a, I, ip, True)


@kernel
def _amin_fwd(y, a, b, I, F, ip, fp):
    _extreme_dims_into(y, a, I, ip, False)


@kernel
def _extreme_dims_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    # (grad / count) * mask, as torch: a NaN result (mask empty) makes NaN gradients
    nd, shape, strides = _reduced_strides(I, ip)
    count = np.zeros(y.size)
    idx = np.zeros(nd, np.int64)
    j = 0
    for i in range(a.size):
        if a[i] == y[j]:
            count[j] += 1.0
        j = _next_offset(idx, shape, strides, nd, j)
    idx[:] = 0
    j = 0
    for i in range(a.size):
        ga[i] += (g[j] / count[j]) * (1.0 if a[i] == y[j] else 0.0)
        j = _next_offset(idx, shape, strides, nd, j)


def _np_amax(a, dims, keepdim):
    return np.max(a, axis=dims, keepdims=keepdim)


def _np_amin(a, dims, keepdim):
    return np.min(a, axis=dims, keepdims=keepdim)


AMAX = register("amax", "AmaxBackward0", 1, _np_amax, _amax_fwd, _extreme_dims_vjp,
                READS_A | READS_Y)
AMIN = register("amin", "AminBackward0", 1, _np_amin, _amin_fwd, _extreme_dims_vjp,
                READS_A | READS_Y)


# -- graph rules (see registry.py), as torch's formulas on (outer, n, inner) views --------------


def _line(r) -> tuple:
    return r.I[r.ip], r.I[r.ip + 1], r.I[r.ip + 2]


def _flip(t):
    """``t`` of shape (outer, n, inner) reversed along n (torch's flip), as an index."""
    n = t.shape[1]
    return t[:, list(range(n - 1, -1, -1))] if n > 1 else t


def _reversed_cumsum(t):
    return _flip(_flip(t).cumsum(1))


def _shortcut(a) -> bool:
    """Whether a rule may take torch's shortcut for an input without zeros (``y / x``): not
    while tg.compile records -- a rule branches on no value there, as its replay runs on
    other values -- and the exact form holds for any input."""
    from ..grad_mode import STATE

    return STATE.compile_tape is None and not np.any(np.asarray(a._v) == 0)


@defgraph(PROD, PROD_DIM)
def _prod_graph(g, a, b, y, r):
    outer, n, inner = _line(r)
    a3 = a.reshape(outer, n, inner)
    g3, y3 = g.reshape(outer, 1, inner), y.reshape(outer, 1, inner)
    if _shortcut(a):
        return g3 * (y3 / a3), None
    # torch's prod_safe_zeros_backward: the products before and after each element
    from ..structural import cat

    ones = constant(np.ones((outer, 1, inner), np.asarray(a._v).dtype))
    before = cat([ones, a3[:, :n - 1]], 1).cumprod(1)
    after = _flip(cat([ones, _flip(a3)[:, :n - 1]], 1).cumprod(1))
    return g3 * (before * after), None


@defgraph(CUMSUM)
def _cumsum_graph(g, a, b, y, r):
    outer, n, inner = _line(r)
    return _reversed_cumsum(g.reshape(outer, n, inner)), None


@defgraph(CUMPROD)
def _cumprod_graph(g, a, b, y, r):
    outer, n, inner = _line(r)
    a3, g3, y3 = (t.reshape(outer, n, inner) for t in (a, g, y))
    if _shortcut(a):
        return _reversed_cumsum(g3 * y3) / a3, None
    # with zeros: d y_k / d x_j is the product of x_0..x_k but x_j (k >= j): row j of a
    # (n, n) cumprod of the inputs with x_j replaced by 1 -- exact and differentiable
    dtype = np.asarray(a._v).dtype
    eye = constant(np.eye(n, dtype=bool).reshape(1, n, n, 1))
    rows = where(eye, constant(np.ones((), dtype)), a3.reshape(outer, 1, n, inner))
    later = constant(np.triu(np.ones((n, n), dtype)).reshape(1, n, n, 1))  # k >= j
    partial = rows.cumprod(2) * later
    return (partial * g3.reshape(outer, 1, n, inner)).sum(2), None


@defgraph(LOGCUMSUMEXP)
def _logcumsumexp_graph(g, a, b, y, r):
    outer, n, inner = _line(r)
    a3, g3, y3 = (t.reshape(outer, n, inner) for t in (a, g, y))
    lowest = constant(np.asarray(np.finfo(np.asarray(a._v).dtype).min))
    log_abs = g3.abs().log()
    pos = where(g3 > 0, log_abs, lowest)
    neg = where(g3 < 0, log_abs, lowest)

    def reversed_lcse(t):
        return _flip(_flip(t).logcumsumexp(1))

    return (reversed_lcse(pos - y3) + a3).exp() - (reversed_lcse(neg - y3) + a3).exp(), None


@defgraph(AMAX, AMIN)
def _extreme_dims_graph(g, a, b, y, r):
    # (the mask a recorded comparison: a compiled replay computes it from its own values)
    shape, dims, kept = reduced_shapes(r)
    mask = (as_shape(a, shape) == as_shape(y, kept)).to(g.dtype)
    count = group_sum(mask, dims)
    return (as_shape(g, kept) / count) * mask, None
