"""Matrix products of 1-D and 2-D operands.

All four cases are one kernel on an ``(m, k) @ (k, n)`` product; a 1-D operand is a row
(``m == 1``) or a column (``n == 1``).  The int parameters are ``[m, k, n]``.  Loops run with the
innermost index contiguous in every array they touch.
"""

import numpy as np

from ..kernels.jit import kernel
from .graphs import as_shape
from .registry import ASSIGN, READS_A, READS_B, defgraph, exposed, register


@kernel
def _mm_fwd(y, a, b, I, F, ip, fp):
    m, k, n = I[ip], I[ip + 1], I[ip + 2]
    for i in range(m * n):
        y[i] = 0.0
    for i in range(m):
        for p in range(k):
            aip = a[i * k + p]
            for j in range(n):
                y[i * n + j] += aip * b[p * n + j]


@kernel
def _mm_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    m, k, n = I[ip], I[ip + 1], I[ip + 2]
    if need_a:  # ga += g @ b.T
        for i in range(m):
            for p in range(k):
                s = 0.0
                for j in range(n):
                    s += g[i * n + j] * b[p * n + j]
                ga[i * k + p] += s
    if need_b:  # gb += a.T @ g
        for i in range(m):
            for p in range(k):
                aip = a[i * k + p]
                for j in range(n):
                    gb[p * n + j] += aip * g[i * n + j]


def product_record(a_shape: tuple, b_shape: tuple) -> tuple[str, tuple]:
    """The op and int params ``[m, k, n]`` of ``a @ b`` for 1-D or 2-D operands whose inner
    sizes agree: a 1-D ``a`` is a row, a 1-D ``b`` a column."""
    m = a_shape[0] if len(a_shape) == 2 else 1
    n = b_shape[1] if len(b_shape) == 2 else 1
    key = {(1, 1): "dot", (2, 1): "mv"}.get((len(a_shape), len(b_shape)), "mm")
    return key, (m, a_shape[-1], n)


DOT = register("dot", "DotBackward0", 2, np.matmul, _mm_fwd, _mm_vjp, READS_B, READS_A,
               matmul=1)
MV = register("mv", "MvBackward0", 2, np.matmul, _mm_fwd, _mm_vjp, READS_B, READS_A,
               matmul=1)
# (``a @ b`` and tapegrad.matmul, by hand in structural.py, record dot, mv, mm or bmm)
MM = register("mm", "MmBackward0", 2, np.matmul, _mm_fwd, _mm_vjp, READS_B, READS_A,
              matmul=1, surface=exposed("matmul", params=("input", "other")))


# -- batched: both operands already expanded to one batch shape; int params [batch, m, k, n] --


def batched_product_params(batch: tuple, m: int, k: int, n: int) -> tuple:
    """The int params of a batched product over the (broadcast) batch dims ``batch``."""
    return (int(np.prod(batch)), m, k, n)


@kernel
def _bmm_fwd(y, a, b, I, F, ip, fp):
    batch, m, k, n = I[ip], I[ip + 1], I[ip + 2], I[ip + 3]
    for t in range(batch):
        ya, aa, ba = t * m * n, t * m * k, t * k * n
        for i in range(m * n):
            y[ya + i] = 0.0
        for i in range(m):
            for p in range(k):
                aip = a[aa + i * k + p]
                for j in range(n):
                    y[ya + i * n + j] += aip * b[ba + p * n + j]


@kernel
def _bmm_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    batch, m, k, n = I[ip], I[ip + 1], I[ip + 2], I[ip + 3]
    for t in range(batch):
        ya, aa, ba = t * m * n, t * m * k, t * k * n
        if need_a:
            for i in range(m):
                for p in range(k):
                    s = 0.0
                    for j in range(n):
                        s += g[ya + i * n + j] * b[ba + p * n + j]
                    ga[aa + i * k + p] += s
        if need_b:
            for i in range(m):
                for p in range(k):
                    aip = a[aa + i * k + p]
                    for j in range(n):
                        gb[ba + p * n + j] += aip * g[ya + i * n + j]


BMM = register("bmm", "BmmBackward0", 2, np.matmul, _bmm_fwd, _bmm_vjp, READS_B, READS_A,
               matmul=2)


# -- graph rules (see registry.py): the products above as products of tensors, as torch's.
# -- The operands' shapes are taken from the int params (a one-element value may be held 0-d).


@defgraph(DOT)
def _dot_graph(g, a, b, y, r):
    return g * b, g * a


@defgraph(MV)
def _mv_graph(g, a, b, y, r):
    m, k = r.I[r.ip], r.I[r.ip + 1]
    g = as_shape(g, (m,))
    ga, gb = g.reshape(m, 1) * as_shape(b, (1, k)), as_shape(a, (m, k)).t() @ g
    return as_shape(ga, _shape(a, ga)), as_shape(gb, _shape(b, gb))


@defgraph(MM)
def _mm_graph(g, a, b, y, r):
    m, k, n = r.I[r.ip], r.I[r.ip + 1], r.I[r.ip + 2]
    g = as_shape(g, (m, n))  # (a 1-D operand is a row or a column: back in its own shape)
    ga, gb = g @ as_shape(b, (k, n)).t(), as_shape(a, (m, k)).t() @ g
    return as_shape(ga, _shape(a, ga)), as_shape(gb, _shape(b, gb))


@defgraph(BMM)
def _bmm_graph(g, a, b, y, r):
    # the operands were expanded to one batch shape before the product (their expand records
    # sum the gradient over broadcast batch dims): a batch of mm gradients
    batch, m, k, n = (r.I[r.ip + i] for i in range(4))
    g = g.reshape(batch, m, n)
    ga = g @ b.reshape(batch, k, n).transpose(1, 2)
    gb = a.reshape(batch, m, k).transpose(1, 2) @ g
    return as_shape(ga, _shape(a, ga)), as_shape(gb, _shape(b, gb))


def _shape(x, grad) -> tuple:
    """``x``'s shape, or ``grad``'s for a one-element value (which may be held 0-d)."""
    return tuple(x.shape) if x.numel() != 1 else tuple(grad.shape)


# -- large products, in NumPy's BLAS: the backward sweep and a compiled tape's replay hand them
# -- back to Python (numba has no BLAS of its own without SciPy; NumPy's is much faster here)


@kernel
def product_size(I, ip, kind):
    """Multiply-adds of a product record (``kind``: ``Op.matmul``, 2 for batched): what decides
    whether the sweep and the replay hand it to BLAS."""
    return I[ip] * I[ip + 1] * I[ip + 2] * (I[ip + 3] if kind == 2 else 1)


def product_params(ints, ip: int, kind: int) -> tuple[int, ...]:
    """A product record's int params: ``(m, k, n)``, or ``(batch, m, k, n)`` (``kind`` 2)."""
    return tuple(int(i) for i in ints[ip:ip + (4 if kind == 2 else 3)])


def blas_fwd(params: tuple, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """``y = a @ b`` on the flat values of a product record (``params`` as above)."""
    *batch, m, k, n = params
    np.matmul(a.reshape(*batch, m, k), b.reshape(*batch, k, n), out=y.reshape(*batch, m, n))


def blas_vjp(params: tuple, g: np.ndarray, a: np.ndarray, b: np.ndarray, ga: np.ndarray | None,
             gb: np.ndarray | None, mode_a: int, mode_b: int) -> None:
    """``ga += g @ bᵀ``, ``gb += aᵀ @ g`` on flat values and gradients; a mode of ``ASSIGN``
    overwrites the (uncleared) gradient instead, 0 skips it.  a's term comes first: for
    ``a @ a``, b's adds onto it."""
    *batch, m, k, n = params
    g = g.reshape(*batch, m, n)
    if mode_a:
        _product_into(ga.reshape(*batch, m, k), mode_a, g,
                      np.swapaxes(b.reshape(*batch, k, n), -1, -2))
    if mode_b:
        _product_into(gb.reshape(*batch, k, n), mode_b,
                      np.swapaxes(a.reshape(*batch, m, k), -1, -2), g)


def _product_into(grad: np.ndarray, mode: int, x: np.ndarray, y: np.ndarray) -> None:
    """``grad = x @ y`` (``ASSIGN``) or ``grad += x @ y``, in place."""
    if mode == ASSIGN:
        np.matmul(x, y, out=grad)
    else:
        grad += x @ y
