"""What the op table's graph rules (``Op.graph``, see registry.py) are written with: the front
end's tensor operations, imported when a rule first runs (the front end imports this package),
and a few rearrangements by a flat map recorded as the gather and scatter-add ops.

Nothing here registers an op: any ops module may import it without moving opcodes.
"""

from __future__ import annotations

import numpy as np


def int_params(r, n: int, at: int = 0) -> np.ndarray:
    """``n`` of a record's int params from its offset plus ``at``, as an int64 array."""
    return np.array(r.I[r.ip + at:r.ip + at + n], dtype=np.int64)


def np_scatter(a: np.ndarray, flat_map: np.ndarray, n: int) -> np.ndarray:
    """Zeros of ``n`` elements with ``a``'s flat elements added at ``flat_map`` (the
    scatter-add op's NumPy forward)."""
    # (bincount adds duplicates in map order, as np.add.at does, at a fraction of its cost)
    out = np.bincount(flat_map, weights=a.reshape(-1), minlength=n)
    return out if out.dtype == a.dtype else out.astype(a.dtype)


def dtype_of(t) -> np.dtype:
    return np.asarray(t._v).dtype


def constant(value):
    """A tensor without history around ``value`` (a mask, a zero)."""
    from ..recording import _wrap

    return _wrap(np.asarray(value))


def zero_like(t):
    """A 0-d zero of ``t``'s dtype (``tg.where(c, g, 0.0)`` is float64 whatever g's)."""
    return constant(np.zeros((), dtype=dtype_of(t)))


def where(cond, x, y):
    """``tapegrad.where``."""
    from ..structural import where as _where

    return _where(cond, x, y)


def gather(op, x, flat_map: np.ndarray, shape: tuple):
    """``x``'s flat elements at ``flat_map``, in ``shape``, recorded as ``op`` (a gather op:
    its int params are the map)."""
    from ..recording import _record, _recording, _wrap

    value = np.asarray(x._v).reshape(-1)[flat_map].reshape(shape)
    if _recording(x):
        return _record(op, value, x, None, flat_map)
    return _wrap(value)


def scatter_add(x, flat_map: np.ndarray, n: int, shape: tuple, unique: bool = False):
    """Zeros of ``n`` elements (in ``shape``) with ``x``'s flat elements added at ``flat_map``,
    recorded as the scatter-add op (the transpose of a gather by the same map).  ``unique``:
    no offset repeats in the map (a slice's), so the elements are stored, not summed."""
    from ..recording import _OP, _record, _recording, _wrap

    v = np.asarray(x._v)
    if unique:
        value = np.zeros(n, dtype=v.dtype)
        value[flat_map] = v.reshape(-1)
        value = value.reshape(shape)
    else:
        value = np_scatter(v, flat_map, n).reshape(shape)
    if _recording(x):
        return _record(_OP["scatter_add"], value, x, None, flat_map)
    return _wrap(value)


def as_shape(t, shape: tuple):
    """``t`` reshaped to ``shape`` (``t`` itself if it has it: no view recorded)."""
    shape = tuple(shape)
    return t if tuple(t.shape) == shape else t.reshape(shape)


def sum_to(t, shape: tuple):
    """``t`` (of as many dims as ``shape``, or more leading ones) summed over the dims that
    ``shape`` broadcasts along, in ``shape``: the gradient of a broadcast (torch's sum_to)."""
    shape = tuple(shape)
    lead = t.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(lead + d for d, n in enumerate(shape)
                                      if n == 1 and t.shape[lead + d] != 1)
    if dims:  # (t.sum(()) would sum everything)
        t = t.sum(dims, keepdim=True)
    return as_shape(t, shape)


def sgn(a):
    """torch's sgn of real values (0 at 0 and at NaN), as a constant: its gradient is 0."""
    dtype = a.dtype
    return (a > 0).to(dtype) - (a < 0).to(dtype)


def reduced_shapes(r) -> tuple[tuple, tuple, tuple]:
    """A dims record's (reductions, norms, softmax: ``reduction.dims_params``) input shape, the
    dims it reduces, and its output's shape with those dims kept as 1."""
    nd = r.I[r.ip]
    shape = tuple(r.I[r.ip + 1:r.ip + 1 + nd])
    keep = r.I[r.ip + 1 + nd:r.ip + 1 + 2 * nd]
    dims = tuple(d for d in range(nd) if not keep[d])
    return shape, dims, tuple(n if keep[d] else 1 for d, n in enumerate(shape))


def group_sum(t, dims: tuple):
    """``t`` summed over ``dims``, kept as 1 (none: ``t``)."""
    return t.sum(dims, keepdim=True) if dims else t
