"""Tensor creation functions with torch's signatures.  Floats default to float64."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from . import dtypes
from .device import CPU as _CPU
from .device import check as _check_device
from .tensor import Tensor, _as_array, _shape_arg, _wrap

_seed = int(np.random.SeedSequence().entropy) % 2 ** 63  # (tg.initial_seed())
_rng = np.random.default_rng(_seed)
_F64 = np.dtype(np.float64)
# the dtype float creation gives (``set_default_dtype``): a module global, read once per call
_DEFAULT = _F64
_empty = np.empty


def set_default_dtype(d, /) -> None:
    """The dtype of new float tensors (float64 unless set; a floating dtype only), as
    ``torch.set_default_dtype``: ``tensor([1.0])``, ``ones``, ``zeros``, ``randn``, ``rand``,
    ``empty``, ``full`` with a float, ``arange``/``linspace`` with floats and ``eye`` follow it.

    >>> import tapegrad as tg
    >>> tg.set_default_dtype(tg.float32); tg.ones(2).dtype
    tapegrad.float32
    >>> tg.set_default_dtype(tg.float64); tg.ones(2).dtype
    tapegrad.float64
    """
    global _DEFAULT
    from . import recording  # (its _as_array reads the default too)

    np_dtype = dtypes.to_numpy_dtype(d) if isinstance(d, dtypes.dtype) else None
    if np_dtype is None or np_dtype.kind != "f":
        raise TypeError("only floating-point types are supported as the default type")
    _DEFAULT = recording._DEFAULT_FLOAT = np_dtype
    dtypes.DEFAULT[0] = d


def get_default_dtype() -> dtypes.dtype:
    """The dtype of new float tensors: ``tapegrad.float64`` unless ``set_default_dtype`` changed
    it (torch's default is float32)."""
    return dtypes.DEFAULT[0]


def set_default_device(device) -> None:
    """As ``torch.set_default_device``, for the one device tapegrad has: ``None``, ``"cpu"``
    or a CPU ``device``; any other is refused as ``tensor(..., device=...)`` refuses it."""
    _check_device(device)


def get_default_device():
    """``device(type='cpu')``: tapegrad runs on the CPU only."""
    return _CPU


def _sizes(sizes: tuple, size, name: str) -> tuple:
    """``*size`` or ``size=`` (torch takes either, not both)."""
    if size is None:
        return sizes
    if sizes:
        raise TypeError(f"{name}() received an invalid combination of arguments - got both "
                        "positional sizes and size=")
    return (size,)


def manual_seed(seed: int):
    """Seed the global random state (the numbers differ from torch's); returns
    ``tg.default_generator``, as torch's returns its own.

    >>> import tapegrad as tg
    >>> _ = tg.manual_seed(0); a = tg.randn(3); _ = tg.manual_seed(0)
    >>> bool((a == tg.randn(3)).all())
    True
    """
    from .generator import default_generator

    return default_generator.manual_seed(seed)


def _draws(generator) -> np.random.Generator:
    if generator is None:
        return _rng
    from .generator import draws

    return draws(generator)


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
    value = _empty(size, _DEFAULT if dtype is None else dtypes.to_numpy_dtype(dtype))
    value.fill(fill)
    # (_make's work, inlined: a call less pays for the ``size=`` keyword ones/zeros take)
    if device is not None:
        _check_device(device)
    t = _wrap(value)
    if requires_grad:
        if value.dtype.kind == "f":
            t._rg = True
        else:
            t.requires_grad_(True)  # (which refuses)
    return t


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
    return _DEFAULT if dtype is None else dtypes.to_numpy_dtype(dtype)


def zeros(*sizes, size=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """``tg.zeros(2, 3)`` (or ``zeros((2, 3))``, ``zeros(size=(2, 3))``): a tensor of zeros."""
    if size is not None:
        sizes = _sizes(sizes, size, "zeros")
    return _filled(sizes, 0, dtype, requires_grad, device)


def ones(*sizes, size=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """``tg.ones(2, 2, requires_grad=True)``: a tensor of ones.

    >>> import tapegrad as tg
    >>> tg.ones(2, 2, requires_grad=True)
    tensor([[1., 1.],
            [1., 1.]], requires_grad=True)
    """
    if size is not None:
        sizes = _sizes(sizes, size, "ones")
    return _filled(sizes, 1, dtype, requires_grad, device)


def empty(*sizes, size=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """An uninitialised tensor (``tg.empty(2, 3)``)."""
    sizes = _sizes(sizes, size, "empty")
    return _make(np.empty(_shape_arg(sizes), _float(dtype)), None, requires_grad, device)


def full(size, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """``tg.full((2, 2), 7.0)``; the dtype follows the fill value, as in torch."""
    if dtype is None:
        dtype = _DEFAULT if isinstance(fill_value, float) else np.asarray(fill_value).dtype
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
        value = value.astype(_DEFAULT)
    return _make(value, dtype, requires_grad, device)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False,
             device=None) -> Tensor:
    return _make(np.linspace(start, end, steps, dtype=_float(dtype)), None, requires_grad,
                 device)


def eye(n: int, m: int | None = None, dtype=None, requires_grad: bool = False,
        device=None) -> Tensor:
    return _make(np.eye(n, m, dtype=_float(dtype)), None, requires_grad, device)


def randn(*sizes, size=None, generator=None, dtype=None, requires_grad: bool = False,
          device=None) -> Tensor:
    """Standard normal samples from ``generator`` (the global state ``manual_seed`` seeds)."""
    _check_device(device)  # (before drawing: a refusal leaves the generator as it was)
    sizes = _sizes(sizes, size, "randn")
    value = _draws(generator).standard_normal(_shape_arg(sizes))
    return _make(value.astype(_float(dtype), copy=False), None, requires_grad)


def rand(*sizes, size=None, generator=None, dtype=None, requires_grad: bool = False,
         device=None) -> Tensor:
    """Uniform samples on [0, 1) from ``generator`` (the global state by default)."""
    _check_device(device)  # (before drawing: a refusal leaves the generator as it was)
    sizes = _sizes(sizes, size, "rand")
    value = _draws(generator).random(_shape_arg(sizes))
    return _make(value.astype(_float(dtype), copy=False), None, requires_grad)


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


def randn_like(t: Tensor, dtype=None, requires_grad: bool = False, device=None, *,
               generator=None) -> Tensor:
    return randn(*t.shape, generator=generator, dtype=dtype or t.dtype,
                 requires_grad=requires_grad, device=device)


def rand_like(input: Tensor, *, generator=None, dtype=None,  # noqa: A002
              requires_grad: bool = False, device=None) -> Tensor:
    """Uniform samples on [0, 1) in ``input``'s shape and (float) dtype."""
    dtype = input.dtype if dtype is None else dtype
    if not dtypes.to_numpy_dtype(dtype).kind == "f":
        raise NotImplementedError(f'"check_uniform_bounds" not implemented for '
                                  f"'{dtypes.SCALAR_NAMES[dtypes.to_numpy_dtype(dtype)]}'")
    return rand(*input.shape, generator=generator, dtype=dtype, requires_grad=requires_grad,
                device=device)


def empty_like(input: Tensor, *, dtype=None, requires_grad: bool = False,  # noqa: A002
               device=None) -> Tensor:
    """An uninitialised tensor of ``input``'s shape and dtype."""
    np_dtype = dtypes.to_numpy_dtype(dtype) or input._v.dtype
    return _make(np.empty(input._v.shape, np_dtype), None, requires_grad, device)


def _integers(low, high, shape: tuple, dtype, requires_grad: bool, device,
              generator=None) -> Tensor:
    _check_device(device)
    if not low < high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                           f"from={low} >= to={high}")
    np_dtype = np.dtype(np.int64) if dtype is None else dtypes.to_numpy_dtype(dtype)
    if requires_grad and np_dtype.kind != "f":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")
    for n in shape:
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: "
                               f"{list(shape)}")
    return _make(_draws(generator).integers(low, high, shape).astype(np_dtype, copy=False),
                 None, requires_grad)


def _size_tuple(size, name: str, position: int) -> tuple:
    if isinstance(size, Tensor) or not isinstance(size, (tuple, list)):
        raise TypeError(f"{name}(): argument 'size' (position {position}) must be tuple of "
                        f"ints, not {type(size).__name__}")
    return tuple(size)


def randint(*args, low=None, high=None, size=None, generator=None, dtype=None,
            requires_grad: bool = False, device=None) -> Tensor:
    """Integers uniform on [low, high) (``low`` 0 if omitted), int64 unless ``dtype`` says,
    as ``torch.randint(low=0, high, size)``: ``randint(10, (3,))``, ``randint(1, 7, (2, 2))``.

    >>> import tapegrad as tg
    >>> x = tg.randint(3, 5, (4,))
    >>> x.dtype, x.shape, bool(((x >= 3) & (x < 5)).all())
    (tapegrad.int64, tapegrad.Size([4]), True)
    """
    given = list(args)
    if size is None and given:
        size = given.pop()
        position = len(given) + 1
    else:
        position = len(given) + 1
    if high is None and given:
        high = given.pop()
    if low is None and given:
        low = given.pop()
    if given or high is None or size is None:
        raise TypeError("randint() received an invalid combination of arguments - expected "
                        "(int high, tuple of ints size) or (int low, int high, tuple of ints "
                        "size)")
    shape = _size_tuple(size, "randint", position)
    return _integers(0 if low is None else low, high, shape, dtype, requires_grad, device,
                     generator)


randint.__signature__ = inspect.Signature(  # torch's documented one (it has no Python one)
    [inspect.Parameter("low", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=0),
     inspect.Parameter("high", inspect.Parameter.POSITIONAL_OR_KEYWORD),
     inspect.Parameter("size", inspect.Parameter.POSITIONAL_OR_KEYWORD),
     *(inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=d)
       for n, d in (("generator", None), ("dtype", None), ("requires_grad", False),
                    ("device", None)))],
    __validate_parameters__=False)


def randint_like(input: Tensor, low: int = 0, high: int | None = None, *,  # noqa: A002
                 generator=None, dtype=None, requires_grad: bool = False,
                 device=None) -> Tensor:
    """Integers uniform on [low, high) in ``input``'s shape and dtype: ``randint_like(x, 10)``
    (``high`` 10) or ``randint_like(x, 1, 10)``."""
    if high is None:
        low, high = 0, low
    return _integers(low, high, input._v.shape, input._v.dtype if dtype is None else dtype,
                     requires_grad, device, generator)


def randperm(n: int, *, generator=None, dtype=None, requires_grad: bool = False,
             device=None) -> Tensor:
    """A random permutation of ``0 .. n-1``, int64 unless ``dtype`` says.

    >>> import tapegrad as tg
    >>> sorted(tg.randperm(4).tolist())
    [0, 1, 2, 3]
    """
    _check_device(device)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    np_dtype = np.dtype(np.int64) if dtype is None else dtypes.to_numpy_dtype(dtype)
    if requires_grad and np_dtype.kind != "f":
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")
    return _make(_draws(generator).permutation(n).astype(np_dtype, copy=False), None,
                 requires_grad)


_NORMAL_OVERLOADS = (
    "normal() received an invalid combination of arguments - got ({}), but expected one of:\n"
    " * (Tensor mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (Tensor mean, float std = 1, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (float mean, Tensor std, *, torch.Generator generator = None, Tensor out = None)\n"
    " * (float mean, float std, tuple of ints size, *, torch.Generator generator = None, "
    "Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, torch.device "
    "device = None, bool pin_memory = False, bool requires_grad = False)\n")


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None,
           requires_grad: bool = False, device=None) -> Tensor:
    """Normal samples, as ``torch.normal``'s overloads: ``normal(mean, std)`` with either or
    both tensors (the result has their broadcast shape), ``normal(mean_tensor)`` (std 1), or
    ``normal(mean, std, size)`` with two numbers.  Like torch's, the result passes a zero
    gradient to a ``mean``/``std`` that requires grad.

    >>> import tapegrad as tg
    >>> tg.normal(tg.zeros(2, 1), tg.ones(3)).shape, tg.normal(0.0, 1.0, (2,)).dtype
    (tapegrad.Size([2, 3]), tapegrad.float64)
    """
    mean_t, std_t = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mean_t and not std_t:
        if size is None:
            raise TypeError(_NORMAL_OVERLOADS.format(
                f"{type(mean).__name__}, {type(std).__name__}"))
        _check_device(device)
        shape = _size_tuple(size, "normal", 3)
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        value = _draws(generator).normal(mean, std, shape).astype(_float(dtype), copy=False)
        return _make(value, None, requires_grad)
    if size is not None:
        names = ", ".join("Tensor" if isinstance(a, Tensor) else type(a).__name__
                          for a in (mean, std, size))
        raise TypeError(_NORMAL_OVERLOADS.format(names))
    for t in (mean, std):
        if isinstance(t, Tensor) and t._v.dtype.kind != "f":
            raise NotImplementedError(f'"normal_kernel_cpu" not implemented for '
                                      f"'{dtypes.SCALAR_NAMES[t._v.dtype]}'")
    m = mean._v if mean_t else mean
    s = std._v if std_t else std
    if std_t:
        if (s < 0).any():
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif s < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {s:g}")
    shape = _broadcast_shape(np.shape(m), np.shape(s))
    out_dtype = mean._v.dtype if mean_t else std._v.dtype
    sample = _wrap(_draws(generator).normal(m, s, shape).astype(out_dtype, copy=False))
    inputs = [t for t in (mean, std) if isinstance(t, Tensor) and t.requires_grad]
    if not inputs:
        return sample
    from .structural import where  # (recorded: torch's result passes zero gradients)

    true = _wrap(np.ones(shape, np.bool_))
    for t in inputs:
        sample = where(true, sample, t)
    return sample


def _broadcast_shape(a: tuple, b: tuple) -> tuple:
    """The broadcast shape of ``a`` and ``b``, or torch's error for the last dim that differs."""
    n = max(len(a), len(b))
    shape = []
    for i in range(n - 1, -1, -1):
        da = a[i - n + len(a)] if i - n + len(a) >= 0 else 1
        db = b[i - n + len(b)] if i - n + len(b) >= 0 else 1
        if da != db and da != 1 and db != 1:
            raise RuntimeError(f"The size of tensor a ({da}) must match the size of tensor b "
                               f"({db}) at non-singleton dimension {i}")
        shape.append(db if da == 1 else da)
    return tuple(reversed(shape))
