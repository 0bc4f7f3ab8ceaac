"""Tensor creation functions with torch's signatures.  Floats default to float64."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes
from .device import check as _check_device
from .tensor import Tensor, _as_array, _shape_arg, _wrap

_rng = np.random.default_rng()
_F64 = np.dtype(np.float64)
_empty = np.empty


def manual_seed(seed: int) -> None:
    """Seed the generator behind ``randn``/``rand`` (values need not match torch's).

    >>> import tapegrad as tg
    >>> tg.manual_seed(0); a = tg.randn(3); tg.manual_seed(0); bool((a == tg.randn(3)).all())
    True
    """
    global _rng
    _rng = np.random.default_rng(seed)


def _make(value: np.ndarray, dtype, requires_grad: bool, device=None) -> Tensor:
    if device is not None:  # (the CPU only; a call less on the common path)
        _check_device(device)
    if dtype is not None:
        np_dtype = dtypes.to_numpy_dtype(dtype)
        if value.dtype != np_dtype:
            value = value.astype(np_dtype)
    t = _wrap(value)
    if requires_grad:
        if value.dtype.kind == "f":
            t._rg = True  # (requires_grad_, without its checks: a new tensor passes them)
        else:
            t.requires_grad_(True)  # (which refuses)
    return t


def _filled(size: tuple, fill, dtype, requires_grad: bool, device) -> Tensor:
    """``tg.ones``/``tg.zeros``: np.empty + fill, a third of np.ones's call overhead on small
    shapes (x = tg.ones(2, 2, requires_grad=True) is ~5% of the seed benchmark's step)."""
    if len(size) == 1 and size[0].__class__ is not int:  # ones((2, 2)), ones([2]), ones(Size)
        size = _shape_arg(size)
    value = _empty(size, _F64 if dtype is None else dtypes.to_numpy_dtype(dtype))
    value.fill(fill)
    return _make(value, None, requires_grad, device)


def tensor(data: Any, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A new tensor holding a copy of ``data``.

    >>> import tapegrad as tg
    >>> tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    tensor([[1., 2.],
            [3., 4.]], requires_grad=True)
    """
    value = _as_array(data, dtype)
    if value.ndim == 0 and value.dtype == _F64:
        # held as a NumPy scalar, as a 0-d float64 result is (see tensor._storage): scalar
        # networks read their parameters op after op
        value = value[()]
    return _make(value, None, requires_grad, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array.

    >>> import numpy as np, tapegrad as tg
    >>> tg.from_numpy(np.arange(3))
    tensor([0, 1, 2])
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    if not array.dtype.isnative:
        raise ValueError("given numpy array has byte order different from the native byte "
                         "order. Conversion between byte orders is currently not supported.")
    if array.dtype.kind == "c":
        raise dtypes.complex_error(array.dtype)
    dtypes.from_numpy_dtype(array.dtype)  # (refuses a dtype tapegrad has no name for)
    if type(array) is not np.ndarray:  # np.matrix, a masked array ...: their reductions and
        array = array.view(np.ndarray)  # indexing differ; the same memory as a plain array
    return _wrap(array)


def _float(dtype) -> np.dtype:
    return _F64 if dtype is None else dtypes.to_numpy_dtype(dtype)


def zeros(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """``tg.zeros(2, 3)``: a tensor of zeros."""
    return _filled(size, 0, dtype, requires_grad, device)


def ones(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """``tg.ones(2, 2, requires_grad=True)``: a tensor of ones.

    >>> import tapegrad as tg
    >>> tg.ones(2, 2, requires_grad=True)
    tensor([[1., 1.],
            [1., 1.]], requires_grad=True)
    """
    return _filled(size, 1, dtype, requires_grad, device)


def empty(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _make(np.empty(_shape_arg(size), _float(dtype)), None, requires_grad, device)


def full(size, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """``tg.full((2, 2), 7.0)``; the dtype follows the fill value, as in torch."""
    if dtype is None:
        dtype = np.float64 if isinstance(fill_value, float) else np.asarray(fill_value).dtype
    if np.asarray(fill_value).dtype.kind == "c":
        raise dtypes.complex_error(np.asarray(fill_value).dtype)
    return _make(np.full(_shape_arg((size,)), fill_value, dtypes.to_numpy_dtype(dtype)), None,
                 requires_grad, device)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """``tg.arange(5)``; integer arguments give int64, as in torch."""
    if end is None:
        start, end = 0, start
    value = np.arange(start, end, step)
    if value.dtype.kind == "f":
        value = value.astype(np.float64)
    return _make(value, dtype, requires_grad, device)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False,
             device=None) -> Tensor:
    return _make(np.linspace(start, end, steps), dtype, requires_grad, device)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False,
        device=None) -> Tensor:
    return _make(np.eye(n, m, dtype=_float(dtype)), None, requires_grad, device)


def randn(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Standard normal samples from the generator ``manual_seed`` sets."""
    _check_device(device)  # (before drawing: a refusal leaves the generator as it was)
    return _make(_rng.standard_normal(_shape_arg(size)).astype(_float(dtype), copy=False), None,
                 requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Uniform samples on [0, 1)."""
    _check_device(device)  # (before drawing: a refusal leaves the generator as it was)
    return _make(_rng.random(_shape_arg(size)).astype(_float(dtype), copy=False), None,
                 requires_grad)


def _like(t: Tensor, fill, dtype, requires_grad: bool, device) -> Tensor:
    np_dtype = dtypes.to_numpy_dtype(dtype) or t._v.dtype
    return _make(np.full(t._v.shape, fill, np_dtype), None, requires_grad, device)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _like(t, 0, dtype, requires_grad, device)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return _like(t, 1, dtype, requires_grad, device)


def full_like(t: Tensor, fill_value, dtype=None, requires_grad: bool = False,
              device=None) -> Tensor:
    return _like(t, fill_value, dtype, requires_grad, device)


def randn_like(t: Tensor, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    return randn(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, device=device)
