"""Tensor's dtype conversions -- ``to``, ``double``, ``float``, ``half``, ``long``, ``int``,
``bool``, ``cpu`` -- as torch's: a copy (recorded between float dtypes, as ``ToCopyBackward0``),
or the tensor itself when nothing changes.  Made methods of ``Tensor`` by :func:`install`.
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from .fastpath import _unary
from .grad_mode import STATE
from .ops import BY_KEY
from .ops.shape import CAST_TO
from .recording import _stop_gradient, _wrap
from .structural import _to_arguments
from .tensor import Tensor

_CAST = BY_KEY["to_copy"]
_F64 = np.dtype(np.float64)


def to(self, *args, **kwargs) -> Tensor:
    """``x.to(tg.float32)``, ``x.to(other)`` (its dtype), ``x.to("cpu")``,
    ``x.to(dtype=..., copy=True)``: as torch's, on the CPU.

    >>> import tapegrad as tg
    >>> x = tg.tensor([1.5, 2.5], requires_grad=True)
    >>> y = x.to(tg.float32)
    >>> y
    tensor([1.5000, 2.5000], dtype=tapegrad.float32, grad_fn=<ToCopyBackward0>)
    >>> (y * y).sum().backward()
    >>> x.grad
    tensor([3., 5.])
    """
    dtype, copy = _to_arguments(args, kwargs)
    return self._cast(self._v.dtype if dtype is None else dtype, copy)

def double(self) -> Tensor:
    """``x.to(tg.float64)``: a copy in float64 (``x`` itself if it is float64 already).

    >>> import tapegrad as tg
    >>> tg.tensor([1.5], dtype=tg.float32).double()
    tensor([1.5000])
    """
    return self._cast(dtypes.float64)

def float(self) -> Tensor:
    """``x.to(tg.float32)``, differentiable (the gradient comes back in ``x``'s dtype).

    >>> import tapegrad as tg
    >>> tg.tensor([1.5]).float()
    tensor([1.5000], dtype=tapegrad.float32)
    """
    return self._cast(dtypes.float32)

def half(self) -> Tensor:
    return self._cast(dtypes.float16)

def long(self) -> Tensor:
    """``x.to(tg.int64)``: truncated toward zero, with no gradient (as in torch).

    >>> import tapegrad as tg
    >>> tg.tensor([1.7, -2.7]).long()
    tensor([ 1, -2])
    """
    return self._cast(dtypes.int64)

def int(self) -> Tensor:
    return self._cast(dtypes.int32)

def bool(self) -> Tensor:
    return self._cast(dtypes.bool)

def cpu(self) -> Tensor:
    return self

def _cast(self, dtype, copy: bool = False) -> Tensor:  # noqa: A002 (torch's method names)
    target = dtypes.from_numpy_dtype(dtypes.to_numpy_dtype(dtype)).np  # (refuses others)
    v = self._v
    if v.dtype == target and not copy:
        return self
    to = CAST_TO.index(target)
    value = _CAST.eager(np.asarray(v), to)
    if value.ndim == 0 and value.dtype is _F64:
        value = value[()]  # (a 0-d float64 is held as a NumPy scalar)
    between_floats = target.kind == "f" and v.dtype.kind == "f"
    if not between_floats and (STATE.compile_tape is None or self._tape is None):
        return _wrap(value)  # nothing to differentiate, as in torch
    out = _unary(self, _CAST, value, (to,))
    if not between_floats:  # while compiling, a function of the inputs: replayed, passing
        _stop_gradient(out)  # no gradient
        out._tape.mixed = True  # (an int64 value on the tape: see Tape.mixed)
    return out


def install() -> None:
    for function in (to, double, float, half, long, int, bool, cpu, _cast):
        function.__qualname__ = f"Tensor.{function.__name__}"
        setattr(Tensor, function.__name__, function)
