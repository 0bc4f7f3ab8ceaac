"""Numerical calculus on sampled functions, as torch's: ``trapezoid`` (``trapz``),
``cumulative_trapezoid`` and ``gradient`` (finite differences).

Each is a linear combination of slices of its input, written in recorded tensor ops, so its
gradient (and second order, and ``tg.compile``) comes from those ops.
"""

from __future__ import annotations

import numbers

import numpy as np

from .recording import _as_tensor, _wrap
from .structural import cat
from .tensor import Tensor


def _dim(dim: int, ndim: int) -> int:
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {dim})")
    return dim % max(ndim, 1)


def _slice(t: Tensor, dim: int, start: int | None, stop: int | None) -> Tensor:
    return t[(slice(None),) * dim + (slice(start, stop),)]


def _spacings(y: Tensor, x, dx, dim: int, name: str):
    """The widths between samples along ``dim``: a number, or a tensor broadcasting with the
    pairs of samples."""
    if x is not None and dx is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments: pass x or dx, "
                        "not both")
    if x is None:
        return 1.0 if dx is None else dx
    x = _as_tensor(x)
    if x.dim() == 1:
        if x.shape[0] != y.shape[dim]:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        widths = x[1:] - x[:-1]
        return widths.reshape((-1,) + (1,) * (y.dim() - dim - 1))
    d = x.dim() + dim - y.dim()  # (the same dim counted from the end: x broadcasts with y)
    return _slice(x, d, 1, None) - _slice(x, d, None, -1)


def trapezoid(y, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The integral of the samples ``y`` along ``dim`` by the trapezoidal rule, at points ``x``
    (or spaced ``dx``, 1 by default), as ``torch.trapezoid``.

    >>> import tapegrad as tg
    >>> tg.trapezoid(tg.tensor([1.0, 2.0, 3.0]))
    tensor(4.)
    >>> tg.trapezoid(tg.tensor([1.0, 2.0, 3.0]), tg.tensor([0.0, 1.0, 3.0]))
    tensor(6.5000)
    """
    y = _as_tensor(y)
    d = _dim(dim, y.dim())
    if y.shape[d] == 0:  # (torch's zeros, outside autograd)
        return _wrap(np.zeros(y.shape[:d] + y.shape[d + 1:], np.asarray(y._v).dtype))
    w = _spacings(y, x, dx, d, "trapezoid")
    pairs = _slice(y, d, 1, None) + _slice(y, d, None, -1)
    if isinstance(w, numbers.Number):
        return pairs.sum(d) * (w / 2)
    return (pairs * w).sum(d) / 2


def trapz(y, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """``trapezoid``'s older name, as ``torch.trapz``."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The running trapezoidal integral of ``y`` along ``dim`` (one element fewer), as
    ``torch.cumulative_trapezoid``.

    >>> import tapegrad as tg
    >>> tg.cumulative_trapezoid(tg.tensor([1.0, 2.0, 3.0]))
    tensor([1.5000, 4.0000])
    """
    y = _as_tensor(y)
    d = _dim(dim, y.dim())
    w = _spacings(y, x, dx, d, "cumulative_trapezoid")
    pairs = _slice(y, d, 1, None) + _slice(y, d, None, -1)
    areas = pairs * (w / 2) if isinstance(w, numbers.Number) else pairs * w / 2
    return areas.cumsum(d)


def gradient(input, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """The derivative of the samples ``input`` along each of ``dim`` (every dim by default) by
    central differences inside and one-sided ones of order ``edge_order`` at the ends, with
    uniform ``spacing`` (a number, or one per dim), as ``torch.gradient``.

    >>> import tapegrad as tg
    >>> tg.gradient(tg.tensor([1.0, 4.0, 9.0, 16.0]))
    (tensor([3., 4., 6., 7.]),)
    """
    f = _as_tensor(input)
    dims = list(range(f.dim())) if dim is None else (
        [dim] if isinstance(dim, numbers.Integral) else list(dim))
    dims = [_dim(d, f.dim()) for d in dims]
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims) and dim is None:
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, or "
                               f"a list of length equal to 'self.dim() = {f.dim()}', since dim "
                               f"argument was not given, but got a list of length "
                               f"{len(spacing)}")
        if len(spacing) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or "
                               f"it's spacing and dim arguments to have the same length, but got"
                               f" a spacing argument of length {len(spacing)} and a dim argument "
                               f"of length {len(dims)}.")
        spacings = list(spacing)
    else:
        spacings = [spacing] * len(dims)
    if any(isinstance(h, Tensor) and h.dim() > 0 for h in spacings):
        raise NotImplementedError("tapegrad.gradient: spacing as coordinate tensors is not "
                                  "supported yet; pass the (uniform) spacing as numbers")
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    out = []
    for d, h in zip(dims, spacings, strict=True):
        h = float(h.item() if isinstance(h, Tensor) else h)
        n = f.shape[d]
        if n < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1")
        inner = (_slice(f, d, 2, None) - _slice(f, d, None, -2)) / (2 * h)
        if edge_order == 1:
            first = (_slice(f, d, 1, 2) - _slice(f, d, 0, 1)) / h
            last = (_slice(f, d, n - 1, n) - _slice(f, d, n - 2, n - 1)) / h
        else:
            first = (-1.5 * _slice(f, d, 0, 1) + 2 * _slice(f, d, 1, 2)
                     - 0.5 * _slice(f, d, 2, 3)) / h
            last = (0.5 * _slice(f, d, n - 3, n - 2) - 2 * _slice(f, d, n - 2, n - 1)
                    + 1.5 * _slice(f, d, n - 1, n)) / h
        out.append(cat([first, inner, last], d))
    return tuple(out)

