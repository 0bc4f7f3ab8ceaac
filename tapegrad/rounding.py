"""The rounding forms of torch's arithmetic the op table's plain ops do not take:
``div(..., rounding_mode=)``, ``round(..., decimals=)``, and the ``%`` operators.

A rounded result is a step function of its operands: torch gives it a node
(``DivBackward2``, ``RoundBackward1``) whose gradient is zero.  Here the value is computed in
NumPy and joined to the operands that require grad through ``where`` on an all-true mask, which
passes them exactly that zero (``x * 0`` would give NaN at an infinite operand).
"""

from __future__ import annotations

import numpy as np

from . import dtypes, surface
from .fused import _floor_quotient, _number, no_derivative
from .node import rename
from .promotion import result_dtype
from .recording import _as_tensor, _wrap
from .structural import where
from .tensor import Tensor

_plain_div = surface.FUNCTIONS["div"]
_plain_div_method = Tensor.div
_plain_div_inplace = Tensor.div_
_plain_round = surface.FUNCTIONS["round"]
_plain_round_method = Tensor.round
_plain_round_inplace = Tensor.round_
_remainder = surface.FUNCTIONS["remainder"]


def _with_zero_gradient(value: np.ndarray, name: str, *inputs) -> Tensor:
    out = _wrap(value)
    parents = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if parents:
        true = _wrap(np.ones((), np.bool_))
        for t in parents:
            out = where(true, out, t)
        rename(out, name)
    return out


def _rounded_quotient(x: Tensor, y: Tensor, rounding_mode: str) -> np.ndarray:
    if rounding_mode == "floor":
        return np.asarray(_floor_quotient(x.detach(), y.detach())._v)
    a, b = np.asarray(x._v), np.asarray(y._v)
    dtype = result_dtype(a if a.ndim else a[()], b if b.ndim else b[()])
    if dtype.kind in "iub":
        if (b == 0).any():
            raise RuntimeError("ZeroDivisionError")
        a, b = a.astype(dtype), b.astype(dtype)
        q = np.abs(a) // np.abs(b)  # (C's truncation: towards zero)
        return np.where((a < 0) != (b < 0), -q, q).astype(dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.trunc(np.true_divide(a.astype(dtype), b.astype(dtype)))


def div(input, other, *, rounding_mode: str | None = None, out=None) -> Tensor:
    """``input / other``, rounded towards zero (``rounding_mode="trunc"``) or minus infinity
    (``"floor"``) if asked, as ``torch.div``; a rounded quotient passes zero gradient.

    >>> import tapegrad as tg
    >>> tg.div(tg.tensor([7.0, -7.0]), 2, rounding_mode="trunc")
    tensor([ 3., -3.])
    """
    if rounding_mode is None:
        return _plain_div(input, other, out=out)
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    x = _as_tensor(input)
    y = other if isinstance(other, Tensor) else _number(other, x)
    if out is not None:
        return surface.with_out("div", out, (x, y), div, x, y, rounding_mode=rounding_mode)
    return _with_zero_gradient(_rounded_quotient(x, y, rounding_mode), "DivBackward2", x, y)


def _div_method(self, other, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is None:
        return _plain_div_method(self, other)
    return div(self, other, rounding_mode=rounding_mode)


def _div_inplace(self, other, *, rounding_mode: str | None = None) -> Tensor:
    if rounding_mode is None:
        return _plain_div_inplace(self, other)
    self[...] = div(self, other, rounding_mode=rounding_mode).to(self.dtype)
    return self


def round(input, *, decimals: int = 0, out=None) -> Tensor:  # noqa: A001 (torch's name)
    """``input`` rounded half to even, to ``decimals`` decimal places (negative: to tens,
    hundreds ...), as ``torch.round``.

    >>> import tapegrad as tg
    >>> tg.round(tg.tensor([1.25, 1234.5]), decimals=1)
    tensor([   1.2000, 1234.5000])
    """
    if decimals == 0:
        return _plain_round(input, out=out)
    if out is not None:
        return surface.with_out("round", out, (input,), round, input, decimals=decimals)
    x = _as_tensor(input)
    v = np.asarray(x._v)
    if v.dtype.kind != "f":
        raise NotImplementedError(f'"round_vml_cpu" not implemented for '
                                  f"'{dtypes.SCALAR_NAMES[v.dtype]}'")
    scale = v.dtype.type(10.0 ** abs(decimals))
    # torch's order of operations: nearbyint(x * 10^d) / 10^d, or nearbyint(x / 10^-d) * 10^-d
    value = np.rint(v * scale) / scale if decimals > 0 else np.rint(v / scale) * scale
    return _with_zero_gradient(value.astype(v.dtype), "RoundBackward1", x)


def _round_method(self, *, decimals: int = 0) -> Tensor:
    if decimals == 0:
        return _plain_round_method(self)
    return round(self, decimals=decimals)


def _round_inplace(self, *, decimals: int = 0) -> Tensor:
    if decimals == 0:
        return _plain_round_inplace(self)
    self[...] = round(self, decimals=decimals)
    return self


def _mod(self, other) -> Tensor:
    return _remainder(self, other)


def _rmod(self, other) -> Tensor:
    # (torch has no derivative of remainder(number, tensor) for the tensor)
    return no_derivative("remainder", _remainder, _number(other, self), self)


def _imod(self, other) -> Tensor:
    return self.remainder_(other)


for _name, _f in (("div", _div_method), ("divide", _div_method), ("div_", _div_inplace),
                  ("divide_", _div_inplace), ("round", _round_method),
                  ("round_", _round_inplace), ("__mod__", _mod), ("__rmod__", _rmod),
                  ("__imod__", _imod)):
    _f.__name__, _f.__qualname__ = _name, f"Tensor.{_name}"
    setattr(Tensor, _name, _f)
divide = div
