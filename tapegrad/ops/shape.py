"""Shape ops: views, copies, transposes and indexing.

``view``/``reshape``/``clone`` keep the flat (C-order) data as it is.  Every other way of
rearranging elements -- transposes, permutes, indexing with ints, slices, None, Ellipsis or index
arrays -- is recorded as a *gather*: the int parameters hold, for each output element, the flat
offset of the input element it came from.  The VJP scatter-adds through the same map, so repeated
indices accumulate as torch's do.
"""

import numpy as np

from ..kernels.jit import kernel
from .registry import register


@kernel
def _copy_fwd(y, a, b, I, F, ip, fp):
    for i in range(y.size):
        y[i] = a[i]


@kernel
def _copy_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
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


def _np_gather(a, key):
    return a[key]


VIEW = register("view", "ViewBackward0", 1, np.reshape, _copy_fwd, _copy_vjp, 0)
CLONE = register("clone", "CloneBackward0", 1, np.copy, _copy_fwd, _copy_vjp, 0)
# the gather kernels under torch's names for the ways an element map arises
TRANSPOSE = register("transpose", "TransposeBackward0", 1, np.swapaxes, _gather_fwd, _gather_vjp, 0)
PERMUTE = register("permute", "PermuteBackward0", 1, np.transpose, _gather_fwd, _gather_vjp, 0)
T = register("t", "TBackward0", 1, np.transpose, _gather_fwd, _gather_vjp, 0)
SELECT = register("select", "SelectBackward0", 1, _np_gather, _gather_fwd, _gather_vjp, 0)
SLICE = register("slice", "SliceBackward0", 1, _np_gather, _gather_fwd, _gather_vjp, 0)
# torch's IndexBackward0 keeps the index tensor: a second backward through it is refused
INDEX = register("index", "IndexBackward0", 1, _np_gather, _gather_fwd, _gather_vjp, 0,
                 saves=True)
