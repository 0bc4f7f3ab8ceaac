"""torch's type promotion where NumPy's differs, for the elementwise paths in ``fastpath.py``.

NumPy and torch agree on operands of one dtype, and the fast paths assume that case.  They
differ when dtypes mix:

- an integral or bool tensor with a float one: torch takes the float dtype (``int64 + float32``
  is float32), NumPy the smallest float that holds both (float64);
- a 0-d tensor or a Python number beside a dimensioned tensor: torch lets it raise the
  *category* (bool < integral < floating) but never the size within a category
  (``float32 vector * float64 0-d`` is float32), NumPy 2 only treats Python numbers so;
- floating math on an integral or bool tensor (``exp``, ``sqrt``, ``x * 0.5``): torch gives
  the default float dtype, NumPy float16 for bool and 8-bit integers, float32 for 16-bit ones,
  and refuses ``-`` on bools inside ``sigmoid``.

The fast paths call in here only where dtypes differ or a non-float operand is seen, so that
operands of one float dtype pay nothing.  Gradients are unaffected either way: the backward
sweep reads every value as float64 and hands each leaf its gradient in the leaf's dtype.
"""

from __future__ import annotations

import numpy as np

from . import dtypes, recording

_BOOL, _INT64 = np.dtype(np.bool_), np.dtype(np.int64)
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _promote(higher: np.dtype, lower: np.dtype) -> np.dtype:
    """torch's promoteTypes: NumPy's, except that an integral type with a float one gives the
    float one."""
    kh, kl = higher.kind, lower.kind
    if kh == "f" and kl != "f":
        return higher
    if kl == "f" and kh != "f":
        return lower
    return np.promote_types(higher, lower)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """torch's combine_categories: a lower-priority operand only raises the category."""
    if higher is None:
        return lower
    if lower is None or higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return _promote(higher, lower)
    return higher


def result_dtype(a, b) -> np.dtype:
    """The dtype torch gives ``a <op> b``: each an array, a NumPy scalar (a 0-d value) or a
    Python number.

    >>> import numpy as np
    >>> result_dtype(np.ones(2, np.int64), np.ones(2, np.float32))
    dtype('float32')
    >>> result_dtype(np.ones(2, np.float32), np.float64(2.0))
    dtype('float32')
    """
    by_priority: list[np.dtype | None] = [None, None, None]  # dimensioned, 0-d, numbers
    for x in (a, b):
        if isinstance(x, (np.ndarray, np.generic)):
            at, dtype = (0 if x.ndim else 1), x.dtype
        elif isinstance(x, bool):
            at, dtype = 2, _BOOL
        elif isinstance(x, int):
            at, dtype = 2, _INT64
        else:
            at, dtype = 2, recording._DEFAULT_FLOAT
        old = by_priority[at]
        by_priority[at] = dtype if old is None else _promote(old, dtype)
    dim, zero, number = by_priority
    return _combine(dim, _combine(zero, number))


def _as(v, dtype: np.dtype):
    return v if v.dtype == dtype else np.asarray(v).astype(dtype)


_SUBTRACTIONS = ("sub", "sub_scalar", "rsub_scalar")


def promoted(op, a, b, value=None):
    """``op(a, b)`` as torch computes it, where NumPy's ``value`` (None if NumPy refused) may
    differ: ``a`` a tensor's value, ``b`` another's or a Python number, of different dtypes or
    not floating.  The operands are taken to torch's result dtype first (a comparison then
    compares in it, as torch's does), and a floating result of integral operands (division,
    ``atan2``) comes in the default dtype."""
    if op.key in _SUBTRACTIONS and (a.dtype.kind == "b" or getattr(b, "dtype", a.dtype).kind
                                    == "b" or isinstance(b, bool)):
        if a.dtype.kind == "b" and getattr(b, "dtype", None) == a.dtype:
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    dtype = result_dtype(a, b)
    if value is not None and value.dtype == dtype:
        return value
    if dtype.kind != "f" and (value is None or value.dtype.kind == "f"):
        out = op.eager(_as(a, dtype), _as(b, dtype) if hasattr(b, "dtype") else b)
        if out.dtype.kind != "f":
            return out if out.__class__ is np.ndarray else np.asarray(out)
        dtype = recording._DEFAULT_FLOAT  # (true division, atan2 ... of integers)
    out = op.eager(_as(a, dtype), _as(b, dtype) if hasattr(b, "dtype") else b)
    if out.dtype != dtype and out.dtype.kind == dtype.kind:  # (NumPy's own promotion again)
        out = out.astype(dtype)
    return out if out.__class__ is np.ndarray else np.asarray(out)


#: the ops torch computes on integers as integers, and the kernel its refusal of bools names
#: (None: it takes bools too)
_ON_INTEGERS = {"abs": "abs_cpu", "ceil": "ceil_vml_cpu", "floor": "floor_vml_cpu",
                "trunc": "trunc_vml_cpu", "round": "round_vml_cpu", "sign": None, "sgn": None,
                "square": None, "relu": None, "neg": None}


def from_integral(op, v, value=None):
    """``op(v)`` for a bool or integral ``v``, as torch computes it: floating math in the
    default dtype (NumPy would give float16 for bool and 8-bit integers, or refuse ``sigmoid``
    of a bool), rounding and sign functions on integers as integers; ``value`` is NumPy's
    answer, or None if NumPy refused."""
    v = np.asarray(v)
    key, is_bool = op.key, v.dtype.kind == "b"
    if key in _ON_INTEGERS:
        if is_bool and key == "neg":
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        if is_bool and key == "relu":
            raise RuntimeError("Boolean inputs not supported for relu")
        if is_bool and _ON_INTEGERS[key] is not None:
            raise NotImplementedError(f'"{_ON_INTEGERS[key]}" not implemented for \'Bool\'')
        if key in ("sign", "sgn") and is_bool:
            return v.copy()
        if key == "square":
            return np.square(v.astype(_INT64) if is_bool else v)
        if key == "relu":
            return np.maximum(v, 0).astype(v.dtype)
        return value if value is not None and value.dtype.kind != "f" else op.eager(v)
    if key == "frac":
        raise NotImplementedError(
            f'"frac_cpu" not implemented for \'{dtypes.SCALAR_NAMES[v.dtype]}\'')
    if value is not None and value.dtype.kind != "f":
        return value
    out = op.eager(v.astype(recording._DEFAULT_FLOAT))
    return out if out.__class__ is np.ndarray else np.asarray(out)
