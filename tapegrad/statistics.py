"""Statistics in torch's names: ``quantile``/``nanquantile``, ``nansum``/``nanmean``,
``var_mean``/``std_mean``, ``cov``/``corrcoef``, ``isclose``/``allclose``/``equal``, the
``isnan`` family, ``nan_to_num``, ``diff`` and ``logspace``.

Each is composed of recorded ops (where, sum, gathers, lerp, comparisons), so gradients,
create_graph and tg.compile come from those; the bool results are comparisons, which pass no
gradient.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import creation
from .functions import lerp
from .grad_mode import STATE, no_grad
from .node import rename
from .products import add_methods, takes_out
from .recording import _as_tensor, _wrap
from .reductions import std, var
from .sorting import _dim, _guard_order, _take, _torch_order
from .structural import _reduced_dims, cat, where
from .tensor import Tensor

_TYPE_NAMES = {"float64": "Double", "float32": "Float", "float16": "Half", "int64": "Long",
               "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
               "bool": "Bool"}


def _type_name(v) -> str:
    return _TYPE_NAMES.get(np.asarray(v).dtype.name, np.asarray(v).dtype.name)


def _zero(x: Tensor) -> Tensor:
    return _wrap(np.zeros((), np.asarray(x._v).dtype))


# -- the isnan family and closeness (bool results, no gradient) ------------------------------


def isnan(input) -> Tensor:
    """Where ``input`` is NaN, as ``torch.isnan``."""
    x = _as_tensor(input)
    return x != x


def isposinf(input) -> Tensor:
    """Where ``input`` is +inf, as ``torch.isposinf``."""
    return _as_tensor(input) == float("inf")


def isneginf(input) -> Tensor:
    """Where ``input`` is -inf, as ``torch.isneginf``."""
    return _as_tensor(input) == float("-inf")


def isinf(input) -> Tensor:
    """Where ``input`` is +inf or -inf, as ``torch.isinf``."""
    x = _as_tensor(input)
    return (x == float("inf")) | (x == float("-inf"))


def isfinite(input) -> Tensor:
    """Where ``input`` is neither NaN nor infinite, as ``torch.isfinite``."""
    x = _as_tensor(input)
    return (x > float("-inf")) & (x < float("inf"))


def isreal(input) -> Tensor:
    """Where ``input`` has no imaginary part: everywhere, for tapegrad's real dtypes."""
    return _wrap(np.ones(np.shape(_as_tensor(input)._v), bool))


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """Where ``|input - other| <= atol + rtol * |other|`` (or both are equal, or both NaN
    with ``equal_nan``), as ``torch.isclose``.

    >>> import tapegrad as tg
    >>> tg.isclose(tg.tensor([1., 2.]), tg.tensor([1., 2.1]))
    tensor([ True, False])
    """
    a, b = _as_tensor(input), _as_tensor(other)
    _broadcastable(a.shape, b.shape)
    if np.asarray(a._v).dtype != np.asarray(b._v).dtype:
        raise RuntimeError(f"{_type_name(a._v)} did not match {_type_name(b._v)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol:g}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol:g}")
    with no_grad():  # (the arithmetic only decides bools; while compiling it is recorded)
        close = a == b
        if equal_nan:
            close = close | ((a != a) & (b != b))
        if np.asarray(a._v).dtype.kind == "b" or (rtol == 0 and atol == 0):
            return close
        if np.asarray(a._v).dtype.kind != "f":
            a, b = a.to(creation.get_default_dtype()), b.to(creation.get_default_dtype())
        allowed = atol + rtol * b.abs()
        actual = (a - b).abs()
        return close | (isfinite(actual) & (actual <= allowed))


def _broadcastable(sa: tuple, sb: tuple) -> None:
    for i in range(1, min(len(sa), len(sb)) + 1):
        x, y = sa[-i], sb[-i]
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b "
                               f"({y}) at non-singleton dimension {max(len(sa), len(sb)) - i}")


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether ``isclose`` holds everywhere, as ``torch.allclose``."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


def equal(input, other) -> bool:
    """Whether both have the same shape and elements, as ``torch.equal`` (NaN is never
    equal)."""
    a, b = _as_tensor(input), _as_tensor(other)
    if tuple(a.shape) != tuple(b.shape):
        return False
    return bool((a == b).all())


# -- NaN-aware reductions, nan_to_num --------------------------------------------------------


def nan_to_num(input, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """``input`` with NaN, +inf and -inf replaced (by 0 and the dtype's largest and smallest
    finite values by default), as ``torch.nan_to_num``; the gradient passes where the value
    was finite.

    >>> import tapegrad as tg
    >>> tg.nan_to_num(tg.tensor([float('nan'), 1.]))
    tensor([0., 1.])
    """
    x = _as_tensor(input)
    dtype = np.asarray(x._v).dtype
    if dtype.kind != "f":
        return x.clone()
    info = np.finfo(dtype)
    hi = info.max if posinf is None else posinf
    lo = info.min if neginf is None else neginf

    def constant(value) -> Tensor:
        return _wrap(np.asarray(value, dtype))

    out = where(x != x, constant(nan), where(x == float("inf"), constant(hi),
                                             where(x == float("-inf"), constant(lo), x)))
    return rename(out, "NanToNumBackward0")


def _every(dim) -> bool:
    return dim is None or (not isinstance(dim, numbers.Integral) and len(tuple(dim)) == 0)


def nansum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The sum treating NaN as 0, as ``torch.nansum`` (NaN's gradient is 0)."""
    x = _as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    if np.asarray(x._v).dtype.kind == "f":
        x = where(x != x, _zero(x), x)
    return rename(_sum(x, dim, keepdim), "NansumBackward0")


def _sum(x: Tensor, dim, keepdim: bool) -> Tensor:
    if _every(dim):
        out = x.sum()
        return out.reshape((1,) * x.ndim) if keepdim else out
    return x.sum(_reduced_dims(dim, x.ndim) if x.ndim else dim, keepdim)


def nanmean(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The mean of the elements that are not NaN, as ``torch.nanmean``.

    >>> import tapegrad as tg
    >>> tg.nanmean(tg.tensor([1., float('nan'), 3.]))
    tensor(2.)
    """
    x = _as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    if np.asarray(x._v).dtype.kind != "f":
        raise RuntimeError("nanmean(): expected input to have floating point or complex dtype "
                           f"but got {_type_name(x._v)}")
    with no_grad():
        count = nansum((x == x).to(x.dtype), dim, keepdim)
    out = nansum(x, dim, keepdim) / count
    empty = np.asarray(count._v) == 0
    if out.requires_grad and (empty.any() or STATE.compile_tape is not None):
        # torch's gradient of an all-NaN line is (grad / 0) * 0: NaN there, as here (while
        # compiling always: 0 where a line has values, so a replay may meet either)
        lines = (count == 0).expand_as(x) if keepdim or _every(dim) else \
            (count == 0).reshape(_kept_shape(x, dim)).expand_as(x)
        out = rename(out + _sum(where(lines, x, _zero(x)) * 0.0, dim, keepdim) / count,
                     "DivBackward0")
    return out


def _kept_shape(x: Tensor, dim) -> tuple:
    dims = _reduced_dims(dim, x.ndim)
    return tuple(1 if i in dims else n for i, n in enumerate(x.shape))


def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(var, mean)`` over ``dim``, as ``torch.var_mean`` (``var``'s arguments)."""
    x = _as_tensor(input)
    out = var(x, dim, unbiased, keepdim, correction=correction)
    return (rename(out, "VarMeanBackward0"), rename(_mean(x, dim, keepdim), "VarMeanBackward0"))


def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """``(std, mean)`` over ``dim``, as ``torch.std_mean`` (``std``'s arguments)."""
    x = _as_tensor(input)
    out = std(x, dim, unbiased, keepdim, correction=correction)
    return (rename(out, "StdMeanBackward0"), rename(_mean(x, dim, keepdim), "StdMeanBackward0"))


def _mean(x: Tensor, dim, keepdim: bool) -> Tensor:
    if isinstance(dim, bool):  # (the var(input, unbiased) overload)
        dim = None
    if _every(dim):
        out = x.mean()
        return out.reshape((1,) * x.ndim) if keepdim else out
    return x.mean(_reduced_dims(dim, x.ndim) if x.ndim else dim, keepdim)


# -- covariance ------------------------------------------------------------------------------


def cov(input, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """The covariance matrix of the variables in the rows of ``input`` (observations in its
    columns), as ``torch.cov``; ``fweights``/``aweights`` weight the observations."""
    x = _as_tensor(input)
    if x.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                         f"input with {x.ndim} dimensions")
    if np.asarray(x._v).dtype.kind != "f":
        x = x.to(creation.get_default_dtype())
    x = x.reshape(1, -1) if x.ndim < 2 else x
    n = x.shape[1]
    w = None
    if fweights is not None:
        f = _as_tensor(fweights)
        _check_weights(f, "fweights", n, integral=True)
        w = f.to(x.dtype)
    if aweights is not None:
        a = _as_tensor(aweights)
        _check_weights(a, "aweights", n, integral=False)
        a = a.to(x.dtype)
        w = a if w is None else w * a
    if w is None:
        w_sum = float(n)
        avg = x.mean(1)
    else:
        w_sum = w.sum()
        avg = (x * w).sum(1) / w_sum
    if w is not None and correction != 0 and aweights is not None:
        norm = w_sum - correction * (w * a).sum() / w_sum
    else:
        norm = w_sum - correction
    if float(norm) <= 0:
        import warnings

        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the number of observations.", UserWarning, stacklevel=2)
        norm = 0.0 if w is None else norm * 0.0
    centred = x - avg.unsqueeze(1)
    c = (centred @ (centred if w is None else centred * w).T) / norm
    return c.squeeze()


def _check_weights(t: Tensor, name: str, n: int, integral: bool) -> None:
    v = np.asarray(t._v)
    if v.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                         f"{name} with {v.ndim} dimensions")
    if integral and v.dtype.kind not in "iu":
        raise RuntimeError(f"cov(): expected {name} to have integral dtype but got {name} with "
                         f"{_type_name(v)} dtype")
    if not integral and v.dtype.kind != "f":
        raise RuntimeError(f"cov(): expected {name} to have floating point dtype but got "
                         f"{name} with {_type_name(v)} dtype")
    if v.size != n:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                         f"observations in the input but got {v.size} != {n}")
    if v.size and v.min() < 0:
        raise RuntimeError(f"cov(): {name} cannot be negative")


def corrcoef(input) -> Tensor:
    """Pearson correlation coefficients of the rows of ``input``, as ``torch.corrcoef``
    (clipped to [-1, 1])."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    stddev = c.diagonal().sqrt()
    c = c / stddev.reshape(-1, 1)
    c = c / stddev.reshape(1, -1)
    return c.clamp(-1, 1)


# -- quantiles ------------------------------------------------------------------------------

_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(name: str, input, q, dim, keepdim: bool, interpolation: str,
              skip_nan: bool) -> Tensor:
    x = _as_tensor(input)
    v = np.asarray(x._v)
    if v.size == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if isinstance(q, Tensor):
        qv = np.asarray(q._v)
        if qv.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    else:
        qv = np.asarray(float(q))
    if v.dtype.kind != "f":
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor) and qv.dtype != v.dtype:
        raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if qv.ndim == 0 and not isinstance(q, Tensor) and not 0 <= float(qv) <= 1:
        raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {float(qv)}")
    if isinstance(q, Tensor) and not ((qv >= 0) & (qv <= 1)).all():
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    qv = qv.astype(v.dtype)
    if dim is None:
        lines = x.reshape(-1)
        d = None
    else:
        d = _dim(dim, v.ndim)
        lines = x.movedim(d, -1) if v.ndim else x.reshape(1)
    lv = np.asarray(lines._v)
    n = lv.shape[-1]
    order = _torch_order(lv, lv.ndim - 1, False, False)
    _guard_order(lines, lv.ndim - 1, order)
    qs = qv.reshape(-1)  # (m,) ranks per line: (*lines, m)
    nan = np.isnan(lv).sum(axis=-1, keepdims=True)
    if skip_nan:
        ranks = np.maximum(qs * (n - nan - 1).astype(v.dtype), 0)
    else:
        ranks = np.where(nan > 0, v.dtype.type(n - 1), qs * v.dtype.type(n - 1))
    ranks = ranks.astype(v.dtype)
    if interpolation == "lower":
        ranks = np.floor(ranks)
    elif interpolation == "higher":
        ranks = np.ceil(ranks)
    elif interpolation == "nearest":
        ranks = np.round(ranks)  # (half to even, as torch's round)
    below = ranks.astype(np.int64)
    values = _take(lines, np.take_along_axis(order, below, axis=-1), lv.ndim - 1,
                   "IndexBackward0")
    if interpolation in ("linear", "midpoint"):
        above = np.ceil(ranks).astype(np.int64)
        upper = _take(lines, np.take_along_axis(order, above, axis=-1), lv.ndim - 1,
                      "IndexBackward0")
        weights = np.full(ranks.shape, 0.5, v.dtype) if interpolation == "midpoint" else \
            (ranks - below).astype(v.dtype)
        values = lerp(values, upper, _wrap(weights))
    # values: (*lines, m) -> (m, *out) as torch's (q's dim first)
    if qv.ndim:
        values = values.movedim(-1, 0)
    else:
        values = values.squeeze(-1)
    if keepdim:
        if d is None:
            values = values.reshape(*qv.shape, *(1,) * v.ndim)
        elif v.ndim:
            values = values.unsqueeze(d + qv.ndim)
    elif d is not None and not v.ndim:
        values = values.reshape(qv.shape)
    return values


def quantile(input, q, dim=None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The ``q``-th quantiles (a float or a 1-D tensor of them; its dim comes first) of all
    elements or along ``dim``, as ``torch.quantile``: NaN if a line holds a NaN.

    >>> import tapegrad as tg
    >>> tg.quantile(tg.tensor([1., 2., 3., 4.]), 0.5)
    tensor(2.5000)
    """
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """``quantile`` ignoring NaN (NaN only where a line is all NaN), as
    ``torch.nanquantile``."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


# -- differences, logspace -------------------------------------------------------------------


def diff(input, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (after joining ``prepend`` and
    ``append`` there), as ``torch.diff``; bool tensors give ``!=``.

    >>> import tapegrad as tg
    >>> tg.diff(tg.tensor([1., 4., 9.]))
    tensor([3., 5.])
    """
    x = _as_tensor(input)
    if x.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _dim(dim, x.ndim)
    parts = [x]
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is None:
            continue
        e = _as_tensor(extra)
        if e.ndim != x.ndim:
            raise RuntimeError(f"diff expects {name} or append to be the same dimension as "
                               "input" if name == "prepend" else
                               "diff expects prepend or append to be the same dimension as "
                               "input")
        parts.insert(0, e) if name == "prepend" else parts.append(e)
    out = cat(parts, d) if len(parts) > 1 else x
    for _ in range(n):
        size = out.shape[d]
        if size == 0:
            break
        hi, lo = out.narrow(d, 1, size - 1), out.narrow(d, 0, size - 1)
        out = (hi != lo) if np.asarray(out._v).dtype.kind == "b" else hi - lo
    return out


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` values from ``base ** start`` to ``base ** end``, evenly spaced in the
    exponent, as ``torch.logspace``.

    >>> import tapegrad as tg
    >>> tg.logspace(0, 2, 3)
    tensor([  1.,  10., 100.])
    """
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    np_dtype = creation._float(dtype)
    start, end = float(start), float(end)
    i = np.arange(steps, dtype=np.float64)
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    halfway = steps // 2
    # (torch's: the first half counted from start, the second from end)
    exponent = np.where(i < halfway, start + step * i, end - step * (steps - 1 - i))
    value = np.power(float(base), exponent)
    return creation._make(value.astype(np_dtype), None, requires_grad, device)


add_methods(isnan, isposinf, isneginf, isinf, isfinite, isreal, isclose, allclose,
            nan_to_num, nansum, nanmean, cov, corrcoef, quantile, nanquantile, diff)

# (the functions take out=, as torch's; the methods do not)
nan_to_num, nansum, nanmean = takes_out(nan_to_num), takes_out(nansum), takes_out(nanmean)
quantile, nanquantile, diff = takes_out(quantile), takes_out(nanquantile), takes_out(diff)
logspace = takes_out(logspace)

__all__ = ["isnan", "isposinf", "isneginf", "isinf", "isfinite", "isreal", "isclose",
           "allclose", "equal", "nan_to_num", "nansum", "nanmean", "var_mean", "std_mean",
           "cov", "corrcoef", "quantile", "nanquantile", "diff", "logspace"]
