"""Reductions and scans in torch's names (issue 19): ``prod``, ``cumsum``, ``cumprod``,
``logcumsumexp``, ``amax``/``amin`` (ops of the table: ops/cumulative.py), ``argmax``/
``argmin`` (no gradient), ``aminmax`` (amin and amax), ``var``/``std`` (composed of mean, sum
and elementwise ops: their gradients are torch's, their ``grad_fn`` names are not).
"""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np

from .grad_mode import STATE
from .node import rename
from .ops.cumulative import line_params
from .ops.reduction import dims_params
from .products import add_methods, takes_out
from .recording import _F64, _OP, _as_tensor, _record, _recording, _user_frame, _wrap
from .structural import _c_order, _normalize_dims, _reduced_dims, where
from .tape import appended
from .tensor import Tensor


def _held(value: np.ndarray):
    """A 0-d float64 result as the NumPy scalar a 0-d float64 value is held as."""
    value = np.asarray(value)
    return value[()] if value.ndim == 0 and value.dtype == _F64 else _c_order(value)


def _cast(a: Tensor, dtype) -> Tensor:
    return a if dtype is None else a.to(dtype)


def _one_dim(dim, ndim: int) -> int:
    if isinstance(dim, (tuple, list)) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"expected dim to be an int, not {type(dim).__name__}")
    (d,) = _normalize_dims(dim, ndim)
    return d


def _along(key: str, a: Tensor, d: int | None, value: np.ndarray) -> Tensor:
    """``value`` recorded as ``key`` along dim ``d`` of ``a`` (None: everything)."""
    value = _held(value)
    if _recording(a):
        return _record(_OP[key], value, a, None, line_params(a._v.shape, d))
    return _wrap(np.asarray(value))


def prod(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of all elements, or along ``dim``, as ``torch.prod``; its gradient is exact
    where the input has zeros (no ``y / x``).

    >>> import tapegrad as tg
    >>> tg.prod(tg.tensor([[1., 2.], [3., 4.]]), 1)
    tensor([ 2., 12.])
    """
    a = _cast(_as_tensor(input), dtype)
    v = a._v
    if dim is None:
        return _along("prod", a, None, np.prod(v))
    d = _one_dim(dim, v.ndim)
    if v.ndim == 0:
        return _along("prod_dim", a, None, np.prod(v))
    return _along("prod_dim", a, d, np.prod(v, axis=d, keepdims=keepdim))


def _scan(key: str, name: str):
    def scan(input, dim, *, dtype=None) -> Tensor:
        if dtype is not None and key == "logcumsumexp":  # (torch's takes none)
            raise TypeError("logcumsumexp() got an unexpected keyword argument 'dtype'")
        a = _cast(_as_tensor(input), dtype)
        v = a._v
        if key == "logcumsumexp" and v.dtype.kind != "f":
            type_name = {"i": "Long", "b": "Bool", "u": "Byte"}.get(v.dtype.kind, "Long")
            raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for '
                                      f"'{type_name}'")
        d = _one_dim(dim, v.ndim)
        value = _OP[key].eager(v, d)
        return _along(key, a, d if v.ndim else None, value)

    scan.__name__ = scan.__qualname__ = name
    scan.__doc__ = f"``torch.{name}`` along ``dim``."
    if key == "logcumsumexp":
        signature = inspect.signature(scan)
        scan.__signature__ = signature.replace(parameters=[
            p for p in signature.parameters.values() if p.name != "dtype"])
    return scan


cumsum = _scan("cumsum", "cumsum")
cumprod = _scan("cumprod", "cumprod")
logcumsumexp = _scan("logcumsumexp", "logcumsumexp")
# (torch's logcumsumexp takes no dtype)


def _extreme_dims(a: Tensor, dim, name: str) -> tuple:
    """The dims ``amax``/``amin``/``aminmax`` reduce (all for ``()``/``None``), checked as
    torch checks them."""
    v = a._v
    every = dim is None or (not isinstance(dim, numbers.Integral) and len(tuple(dim)) == 0)
    dims = tuple(range(v.ndim)) if every else _reduced_dims(dim, v.ndim)
    if v.size == 0:
        if every:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        # (torch names the dim as given: -1 stays -1)
        given = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
        for d in given:
            if v.shape[d % v.ndim] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return dims


def _amax_amin(key: str):
    def reduce(input, dim=(), keepdim: bool = False) -> Tensor:
        a = _as_tensor(input)
        v = a._v
        dims = _extreme_dims(a, dim, key)
        value = _held(_OP[key].eager(v, dims, keepdim))
        if _recording(a):
            return _record(_OP[key], value, a, None, dims_params(v.shape, dims))
        return _wrap(np.asarray(value))

    reduce.__name__ = reduce.__qualname__ = key
    reduce.__doc__ = (f"``torch.{key}`` over ``dim`` (all dims by default); equal extreme "
                      "elements share the gradient evenly.")
    return reduce


amax = _amax_amin("amax")
amin = _amax_amin("amin")


def _arg(name: str, np_arg):
    def arg(input, dim=None, keepdim: bool = False) -> Tensor:
        a = _as_tensor(input)
        v = a._v
        if v.dtype.kind == "b":
            raise RuntimeError(f"{name}(): does not support bool input")
        if dim is None:
            if v.size == 0:
                raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                                 "input.numel() == 0.")
            index = np.asarray(np_arg(v), dtype=np.int64)
            _guard_choice(a, name, dim, (v.size,), 0, index)
            return _wrap(index.reshape((1,) * v.ndim) if keepdim else index)
        d = _one_dim(dim, v.ndim)
        if v.ndim == 0:
            return _wrap(np.zeros((), np.int64))
        if v.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        index = np.asarray(np_arg(v, axis=d), dtype=np.int64)
        _guard_choice(a, name, dim, v.shape, d, index)
        return _wrap(np.expand_dims(index, d) if keepdim else index)

    arg.__name__ = arg.__qualname__ = name
    arg.__doc__ = (f"``torch.{name}``: the index of the first extreme element (NaN counts as "
                   "the extreme), int64, without gradient.")
    return arg


def _guard_choice(a: Tensor, name: str, dim, shape: tuple, d: int, index: np.ndarray) -> None:
    """While compiling: the index chosen from a value the tape computes is a constant of the
    recording, so a replay must choose the same (as ``max(dim)``'s guard; tg.compile
    retapes, or raises, when it does not)."""
    if STATE.compile_tape is not None and _recording(a):
        tape = STATE.compile_tape
        tape.guards = appended(tape.guards, (name, f"{name}(dim={dim})", tape.slot_of(a),
                                             (shape, d, index.copy()), _user_frame()))


argmax = _arg("argmax", np.argmax)
argmin = _arg("argmin", np.argmin)


class _MinMax(tuple):
    """torch.return_types.aminmax: ``min, max = x.aminmax()``."""

    __slots__ = ()

    @property
    def min(self) -> Tensor:
        return self[0]

    @property
    def max(self) -> Tensor:
        return self[1]

    def __repr__(self) -> str:
        return f"tapegrad.return_types.aminmax(\nmin={self[0]!r},\nmax={self[1]!r})"


def aminmax(input, *, dim=None, keepdim: bool = False) -> _MinMax:
    """``(amin, amax)`` over ``dim`` (everything when None), as ``torch.aminmax``."""
    a = _as_tensor(input)
    v = a._v
    if v.size == 0 and dim is None:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    if dim is not None and v.ndim and v.shape[_one_dim(dim, v.ndim)] == 0:
        raise IndexError(f"aminmax: Expected reduction dim {_one_dim(dim, v.ndim)} to have "
                         "non-zero size.")
    if dim is None:
        lo, hi = amin(a), amax(a)
        if keepdim:
            lo, hi = lo.reshape((1,) * v.ndim), hi.reshape((1,) * v.ndim)
        return _MinMax((lo, hi))
    d = _one_dim(dim, v.ndim)
    return _MinMax((amin(a, d, keepdim), amax(a, d, keepdim)))


def _moments(name: str, input, dim, unbiased, keepdim: bool, correction) -> Tensor:
    """``var``: the mean of squared deviations over ``dim``, divided by
    ``max(0, N - correction)`` -- composed of mean, sub, mul and sum."""
    a = _as_tensor(input)
    v = a._v
    if isinstance(dim, bool):  # (torch's var(input, unbiased) overload)
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}(): takes either unbiased= or correction=, not both")
    if v.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if correction is None:
        correction = 0 if unbiased is False else 1
    every = dim is None or (not isinstance(dim, numbers.Integral) and len(tuple(dim)) == 0)
    dims = tuple(range(v.ndim)) if every else _reduced_dims(dim, v.ndim)
    count = int(np.prod([v.shape[d] for d in dims])) if v.ndim else 1
    dof = max(0, count - correction)
    if dof <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                      "less than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
    reduce_dims = dims if v.ndim else 0
    deviation = a - a.mean(reduce_dims, keepdim=True)
    squares = (deviation * deviation).sum(reduce_dims, keepdim=keepdim)
    return squares / float(dof)


def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance over ``dim`` (everything when None), as ``torch.var``: divided by
    ``N - correction`` (``correction=1`` by default; ``unbiased=False`` is ``correction=0``).

    >>> import tapegrad as tg
    >>> tg.var(tg.tensor([1., 2., 3., 4.]))
    tensor(1.6667)
    """
    return rename(_moments("var", input, dim, unbiased, keepdim, correction), "VarBackward0")


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation over ``dim``, as ``torch.std`` (``var``'s arguments); its gradient
    is 0 where it is 0, as torch's."""
    variance = _moments("std", input, dim, unbiased, keepdim, correction)
    # torch's std_backward masks the gradient where std is 0 (sqrt's would be 0 * inf)
    zero = variance.detach() == 0
    one = _wrap(np.ones((), variance._v.dtype))
    nought = _wrap(np.zeros((), variance._v.dtype))
    return rename(where(zero, nought, where(zero, one, variance).sqrt()), "StdBackward0")


def _methods() -> None:
    add_methods(prod, cumsum, cumprod, logcumsumexp, amax, amin, argmax, argmin, var, std)

    def aminmax_method(self, *, dim=None, keepdim: bool = False):
        return aminmax(self, dim=dim, keepdim=keepdim)

    aminmax_method.__name__ = aminmax_method.__qualname__ = "aminmax"
    aminmax_method.__doc__ = aminmax.__doc__
    Tensor.aminmax = aminmax_method


_methods()

# (the functions take out=, as torch's; the methods do not)
prod, cumsum, cumprod = takes_out(prod), takes_out(cumsum), takes_out(cumprod)
logcumsumexp, amax, amin = takes_out(logcumsumexp), takes_out(amax), takes_out(amin)
argmax, argmin, var, std = takes_out(argmax), takes_out(argmin), takes_out(var), takes_out(std)

__all__ = ["prod", "cumsum", "cumprod", "logcumsumexp", "amax", "amin", "argmax", "argmin",
           "aminmax", "var", "std"]
