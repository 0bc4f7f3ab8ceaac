"""Reductions: sum, mean and the 2-norm, over everything or over chosen dims.

For a reduction over dims, the int parameters are ``[nd, shape of a (nd), keep mask (nd)]``:
the kernels walk ``a`` in order and keep the output's flat offset with an odometer whose stride is
0 along reduced dims -- the same walk serves the forward (scatter-add) and the VJP (gather).
"""

import math

import numpy as np

from ..kernels.jit import elementwise, kernel
from .registry import ASSIGN, READS_A, READS_Y, register


@elementwise
def _reduced_strides(I, ip):
    """Shape of ``a`` and, per dim, the output's stride (0 where the dim is reduced)."""
    nd = I[ip]
    shape = I[ip + 1: ip + 1 + nd]
    strides = np.zeros(nd, np.int64)
    stride = 1
    for d in range(nd - 1, -1, -1):
        if I[ip + 1 + nd + d]:
            strides[d] = stride
            stride *= shape[d]
    return nd, shape, strides


@elementwise
def _next_offset(idx, shape, strides, nd, j):
    d = nd - 1
    while d >= 0:
        idx[d] += 1
        j += strides[d]
        if idx[d] < shape[d]:
            break
        j -= strides[d] * shape[d]
        idx[d] = 0
        d -= 1
    return j


@elementwise
def _sum_dims_into(y, a, I, ip, scale):
    nd, shape, strides = _reduced_strides(I, ip)
    idx = np.zeros(nd, np.int64)
    for j in range(y.size):
        y[j] = 0.0
    j = 0
    for i in range(a.size):
        y[j] += a[i] * scale
        j = _next_offset(idx, shape, strides, nd, j)


@elementwise
def _spread_dims_into(ga, g, I, ip, scale):
    # a row (the last dim of a) at a time: the odometer turns only between rows, and each row
    # reads the output's row (kept dim) or one element of it (reduced dim)
    if ga.size == 0:
        return
    nd, shape, strides = _reduced_strides(I, ip)
    if nd == 0:  # a 0-d tensor summed over its "dim 0"
        ga[0] += g[0] * scale
        return
    row, step = shape[nd - 1], strides[nd - 1]
    idx = np.zeros(nd, np.int64)
    j = 0
    for start in range(0, ga.size, row):
        gar = ga[start:start + row]
        if step == 0:
            v = g[j] * scale
            for k in range(row):
                gar[k] += v
        else:
            gr = g[j:j + row]
            for k in range(row):
                gar[k] += gr[k] * scale
        j = _next_offset(idx, shape, strides, nd - 1, j)


def _mean_scale(a, y):
    return 1.0 / (a.size // y.size) if y.size else 0.0


@kernel
def _sum_fwd(y, a, b, I, F, ip, fp):
    y[0] = a.sum()


@kernel
def _sum_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    if need_a == ASSIGN:
        ga[:] = g[0]
        return
    for i in range(ga.size):
        ga[i] += g[0]


@kernel
def _mean_fwd(y, a, b, I, F, ip, fp):
    y[0] = a.sum() / a.size


@kernel
def _mean_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    s = g[0] / ga.size
    if need_a == ASSIGN:
        ga[:] = s
        return
    for i in range(ga.size):
        ga[i] += s


@kernel
def _sum_dim_fwd(y, a, b, I, F, ip, fp):
    _sum_dims_into(y, a, I, ip, 1.0)


@kernel
def _sum_dim_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    _spread_dims_into(ga, g, I, ip, 1.0)


@kernel
def _mean_dim_fwd(y, a, b, I, F, ip, fp):
    _sum_dims_into(y, a, I, ip, 1.0 / (a.size // y.size) if y.size else 0.0)


@kernel
def _mean_dim_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    _spread_dims_into(ga, g, I, ip, 1.0 / (ga.size // g.size) if g.size else 0.0)


@kernel
def _norm_fwd(y, a, b, I, F, ip, fp):
    s = 0.0
    for i in range(a.size):
        s += a[i] * a[i]
    y[0] = math.sqrt(s)


@kernel
def _norm_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    # torch's subgradient at the origin is 0
    if y[0] == 0.0:
        return
    s = g[0] / y[0]
    for i in range(ga.size):
        ga[i] += s * a[i]


def _np_sum_dims(a, dims, keepdim):
    return np.sum(a, axis=dims, keepdims=keepdim)


def _np_mean_dims(a, dims, keepdim):
    return np.mean(a, axis=dims, keepdims=keepdim)


def _np_norm(a):
    return np.sqrt(np.sum(a * a))


_F64 = np.dtype(np.float64)


# (a NumPy scalar, as a 0-d float64 result is held: see tensor._storage)
def _np_sum(a):
    # NumPy's sum of fewer than 16 contiguous float64 elements, as its pairwise_sum adds them:
    # in order from 0.0 below 8, else the first 8 pairwise, then the rest in order.  The same
    # additions in Python give the same value without the reduction's set-up (half the time
    # of a.sum() on a 2x2; tests/test_op_details.py checks every size bit for bit)
    if a.size < 16 and a.dtype is _F64 and a.flags.c_contiguous:
        v = (a if a.ndim == 1 else a.ravel()).tolist()
        if len(v) < 8:
            total = 0.0
            for x in v:
                total += x
        else:
            total = 0.0 + (((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])))
            for x in v[8:]:
                total += x
        return np.float64(total)
    return a.sum()


def _np_mean(a):
    # the sum / a.size: the same value as np.mean at a fraction of its call overhead
    return _np_sum(a) / a.size if a.size else a.dtype.type(np.nan)


SUM = register("sum", "SumBackward0", 1, _np_sum, _sum_fwd, _sum_vjp, 0, assigns=True)
SUM_DIM = register("sum_dim", "SumBackward1", 1, _np_sum_dims, _sum_dim_fwd, _sum_dim_vjp, 0)
MEAN = register("mean", "MeanBackward0", 1, _np_mean, _mean_fwd, _mean_vjp, 0, assigns=True)
MEAN_DIM = register("mean_dim", "MeanBackward1", 1, _np_mean_dims, _mean_dim_fwd, _mean_dim_vjp, 0)
NORM = register("norm", "LinalgVectorNormBackward0", 1, _np_norm, _norm_fwd, _norm_vjp,
                READS_A | READS_Y)
