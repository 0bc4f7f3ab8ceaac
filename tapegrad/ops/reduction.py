"""Reductions: sum, mean and vector norms, over everything or over chosen dims.

For a reduction over dims, the int parameters are ``[nd, shape of a (nd), keep mask (nd)]``:
the kernels walk ``a`` in order and keep the output's flat offset with an odometer whose stride is
0 along reduced dims -- the same walk serves the forward (scatter-add) and the VJP (gather).
"""

import math

import numpy as np

from ..dtypes import not_floating
from ..kernels.jit import elementwise, kernel
from .graphs import as_shape, constant, dtype_of, group_sum, reduced_shapes, sgn, where, zero_like
from .registry import ASSIGN, READS_A, READS_Y, defgraph, exposed, register


def dims_params(shape: tuple, dims: tuple) -> tuple:
    """The int params of an op over ``dims`` of an input of ``shape`` (reductions, norms,
    softmax and logsumexp): ``[nd, shape (nd), keep mask (nd)]``, decoded below."""
    return (len(shape), *shape, *(0 if d in dims else 1 for d in range(len(shape))))


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
    # the sum, then divided by the count: over an empty dim that is 0 / 0, nan (as np.mean)
    _sum_dims_into(y, a, I, ip, 1.0)
    n = a.size // y.size if y.size else 0
    for j in range(y.size):
        y[j] = y[j] / n


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
    # torch's g * (a / y), with a / y taken as 0 at the origin; (g / y) * a overflows for a
    # tiny norm
    if y[0] == 0.0:
        for i in range(ga.size):
            ga[i] += g[0] * 0.0
        return
    for i in range(ga.size):
        ga[i] += g[0] * (a[i] / y[0])


def _np_sum_dims(a, dims, keepdim):
    return np.sum(a, axis=dims, keepdims=keepdim)


def _np_mean_dims(a, dims, keepdim):
    return np.mean(a, axis=dims, keepdims=keepdim)


_F64 = np.dtype(np.float64)


_f64, _sqrt = np.float64, math.sqrt


def _np_norm(a):
    # the 2-norm of everything: below 16 float64 elements, in Python (faster than any NumPy
    # call there); else one dot (much faster than np.sum(a * a) on small vectors).  A float64
    # result is a NumPy scalar, as a 0-d float64 value is held (see fastpath._storage)
    if a.size < 16 and a.dtype is _F64:
        squares = 0.0
        for x in (a if a.ndim == 1 else a.reshape(-1)).tolist():
            squares += x * x
        return _f64(_sqrt(squares))
    if a.dtype.kind != "f":
        raise not_floating("linalg.vector_norm", a.dtype)
    flat = a if a.ndim == 1 else a.reshape(-1)
    squares = flat.dot(flat)
    return np.float64(math.sqrt(squares)) if squares.__class__ is np.float64 else \
        np.asarray(np.sqrt(squares))


# (a NumPy scalar, as a 0-d float64 result is held: see fastpath._storage)
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


# (x.sum(dim) and x.mean(dim), by hand in tensor.py, record sum or sum_dim, mean or mean_dim)
SUM = register("sum", "SumBackward0", 1, _np_sum, _sum_fwd, _sum_vjp, 0, assigns=True,
               surface=exposed("sum"))
SUM_DIM = register("sum_dim", "SumBackward1", 1, _np_sum_dims, _sum_dim_fwd, _sum_dim_vjp, 0)
MEAN = register("mean", "MeanBackward0", 1, _np_mean, _mean_fwd, _mean_vjp, 0, assigns=True,
                surface=exposed("mean"))
MEAN_DIM = register("mean_dim", "MeanBackward1", 1, _np_mean_dims, _mean_dim_fwd, _mean_dim_vjp, 0)
# (x.norm(p, dim), by hand in tensor.py, records norm or norm_p)
NORM = register("norm", "LinalgVectorNormBackward0", 1, _np_norm, _norm_fwd, _norm_vjp,
                READS_A | READS_Y, surface=exposed("norm"))


# -- the p-norm over dims (torch.linalg.vector_norm): int params as a reduction's, float
# -- param p (inf and -inf included).  A 2-norm of everything takes NORM above.


@elementwise
def _sgn(x):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0  # (torch's sgn of -0.0 and of nan too)


@kernel
def _norm_p_fwd(y, a, b, I, F, ip, fp):
    p = F[fp]
    nd, shape, strides = _reduced_strides(I, ip)
    start = math.inf if p == -math.inf else 0.0
    for j in range(y.size):
        y[j] = start
    idx = np.zeros(nd, np.int64)
    j = 0
    for i in range(a.size):
        v = abs(a[i])
        if p == math.inf:
            if v > y[j] or v != v:
                y[j] = v if y[j] == y[j] else y[j]
        elif p == -math.inf:
            if v < y[j] or v != v:
                y[j] = v if y[j] == y[j] else y[j]
        elif p == 0.0:
            y[j] += 1.0 if v != 0.0 else 0.0
        elif p == 1.0:
            y[j] += v
        elif p == 2.0:
            y[j] += v * v
        else:
            y[j] += v ** p
        j = _next_offset(idx, shape, strides, nd, j)
    if p == 2.0:
        for j in range(y.size):
            y[j] = math.sqrt(y[j])
    elif p != 0.0 and p != 1.0 and not math.isinf(p):
        for j in range(y.size):
            y[j] = y[j] ** (1.0 / p)


@kernel
def _norm_p_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    # torch's norm_backward, case by case and in its order of operations; where it masks a
    # factor (x / norm at a zero norm, |x|**(p-1) at x == 0) the factor, not the product, is 0
    p = F[fp]
    if p == 0.0:  # a count: no gradient
        return
    nd, shape, strides = _reduced_strides(I, ip)
    idx = np.zeros(nd, np.int64)
    if math.isinf(p):  # the extreme |x| of each group (and any nan) shares its gradient
        count = np.zeros(y.size)
        j = 0
        for i in range(a.size):
            v = abs(a[i])
            if v == y[j] or v != v:
                count[j] += 1.0
            j = _next_offset(idx, shape, strides, nd, j)
        idx[:] = 0
        j = 0
        for i in range(a.size):
            v = abs(a[i])
            mask = 1.0 if v == y[j] or v != v else 0.0
            ga[i] += _sgn(a[i]) * ((g[j] / count[j]) * mask)
            j = _next_offset(idx, shape, strides, nd, j)
        return
    j = 0
    for i in range(a.size):
        x = a[i]
        n = y[j]
        if p == 1.0:
            d = _sgn(x) * g[j]
        elif p == 2.0:
            d = g[j] * (0.0 if n == 0.0 else x / n)
        elif p < 1.0:
            scaled = 0.0 if x == 0.0 else _sgn(x) * abs(x) ** (p - 1.0)
            d = scaled * g[j] * n ** (1.0 - p)
        elif p < 2.0:
            d = _sgn(x) * abs(x) ** (p - 1.0) * (0.0 if n == 0.0 else g[j] / n ** (p - 1.0))
        else:
            d = x * abs(x) ** (p - 2.0) * (0.0 if n == 0.0 else g[j] / n ** (p - 1.0))
        ga[i] += d
        j = _next_offset(idx, shape, strides, nd, j)


def np_norm_p(a, dims: tuple, keepdim: bool, p: float):
    """``torch.linalg.vector_norm(a, p, dims, keepdim)`` in NumPy (empty dims: elementwise)."""
    if p == 2.0:
        return np.sqrt(np.sum(a * a, axis=dims, keepdims=keepdim))
    v = np.abs(a)
    if p == math.inf:
        return np.max(v, axis=dims, keepdims=keepdim)
    if p == -math.inf:
        return np.min(v, axis=dims, keepdims=keepdim)
    if p == 0.0:
        return np.sum(a != 0, axis=dims, keepdims=keepdim).astype(a.dtype)
    if p == 1.0:
        return np.sum(v, axis=dims, keepdims=keepdim)
    return np.sum(v ** p, axis=dims, keepdims=keepdim) ** (1.0 / p)


NORM_P = register("norm_p", "LinalgVectorNormBackward0", 1, np_norm_p, _norm_p_fwd, _norm_p_vjp,
                  READS_A | READS_Y)


# -- graph rules (see registry.py), as torch's formulas -----------------------------------------


def _spread(g, a):
    """A whole reduction's gradient ``g`` expanded over ``a`` (a one-element value may be held
    0-d: then ``g`` itself, of the same one element)."""
    if a.numel() == 1:
        return g
    if not g.requires_grad:  # (a constant, the seed most often: a new array is cheaper to make
        return _filled(a.shape, g)  # than NumPy's broadcast view)
    return g.expand(a.shape)


def _filled(shape: tuple, g):
    from ..recording import _wrap

    return _wrap(np.full(shape, g._v, dtype=np.asarray(g._v).dtype))


@defgraph(SUM)
def _sum_graph(g, a, b, y, r):
    return _spread(g, a), None


@defgraph(MEAN)
def _mean_graph(g, a, b, y, r):
    n = a.numel()
    return _spread(g / n if n else g, a), None


def _dims_graph(mean: bool):
    def rule(g, a, b, y, r):
        shape, dims, kept = reduced_shapes(r)
        count = math.prod(shape[d] for d in dims)
        if mean and count and g.numel():
            g = g * (1.0 / count)  # (the VJP's scale: a reciprocal)
        return as_shape(g, kept).expand(shape), None

    return rule


defgraph(SUM_DIM)(_dims_graph(False))
defgraph(MEAN_DIM)(_dims_graph(True))


@defgraph(NORM)
def _norm_graph(g, a, b, y, r):
    # torch: grad * (self / norm).masked_fill_(norm == 0, 0)
    return g * where(y == 0, zero_like(y), a / y), None


@defgraph(NORM_P)
def _norm_p_graph(g, a, b, y, r):
    # torch's norm_backward, case by case (what the numba VJP computes)
    p = r.F[r.fp]
    shape, dims, kept = reduced_shapes(r)
    if p == 0.0:  # a count: a zero gradient
        return constant(np.zeros(shape, dtype_of(g))), None
    g, n = as_shape(g, kept), as_shape(y, kept)
    zero = zero_like(g)
    if p == 1.0:
        return sgn(a) * g, None
    if p == 2.0:
        return g * where(n == 0, zero, a / n), None
    if math.isinf(p):
        # the extreme |x| of each group (and any NaN) shares the group's gradient
        size = a.abs()
        mask = ((size == n) | (size != size)).to(a.dtype)
        count = group_sum(mask, dims)
        return sgn(a) * ((g / count) * mask), None
    if p < 1.0:
        scaled = sgn(a) * where(a == 0, zero, a.abs() ** (p - 1.0))
        return scaled * g * n ** (1.0 - p), None
    scale = where(n == 0, zero, g / n ** (p - 1.0))
    if p < 2.0:
        return sgn(a) * a.abs() ** (p - 1.0) * scale, None
    return a * a.abs() ** (p - 2.0) * scale, None
