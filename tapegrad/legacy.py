"""torch's legacy tensor types (``tg.FloatTensor`` ...), ``Tensor.type`` and the ``Tensor``
methods torch programs call that are spelled in terms of other ones (``new_zeros``,
``type_as``, ``nelement``, ``stride`` ...).

Calling a type makes a tensor of its dtype (``tg.FloatTensor([1, 2])``; ``tg.FloatTensor(2, 3)``
uninitialised), and ``isinstance(x, tg.FloatTensor)`` tells whether ``x`` is a float32 tensor,
as in torch.  Type names print with ``tapegrad.`` where torch's print ``torch.``, as dtypes do;
``x.type("torch.FloatTensor")`` takes either spelling.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from . import dtypes, recording
from .creation import _sizes, empty, full, tensor
from .device import check as _check_device
from .recording import _as_array
from .tensor import Size, Tensor

_NEW_OVERLOADS = (
    "new() received an invalid combination of arguments - got ({}), but expected one of:\n"
    " * (*, torch.device device = None)\n"
    " * (torch.Storage storage)\n"
    " * (Tensor other)\n"
    " * (tuple of ints size, *, torch.device device = None)\n"
    " * (object data, *, torch.device device = None)\n")


def _options(dtype: dtypes.dtype) -> str:
    return (f"TensorOptions(dtype={dtypes.CPP_NAMES[dtype.np]}, device=cpu, layout=Strided, "
            "requires_grad=false (default), pinned_memory=false (default), "
            "memory_format=(nullopt))")


class _TensorType(type):
    """The metaclass of the legacy types: calling one makes a tensor, ``isinstance`` checks
    the dtype."""

    dtype: dtypes.dtype

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj._v.dtype == cls.dtype.np

    def __call__(cls, *args: Any, device=None, **kwargs: Any) -> Tensor:
        if kwargs:
            got = ", ".join([_type_name(a) for a in args] +
                            [f"{k}={_type_name(v)}" for k, v in kwargs.items()])
            raise TypeError(_NEW_OVERLOADS.format(got))
        _check_device(device)
        dtype = cls.dtype
        if not args:
            return empty(0, dtype=dtype)
        if len(args) == 1:
            (data,) = args
            if isinstance(data, Tensor):
                if data._v.dtype != dtype.np:
                    raise TypeError(f"expected {_options(dtype)} (got {_options(data.dtype)})")
                return data.view(data.shape)  # (an alias, as torch's: gradients pass)
            if isinstance(data, Size):
                return _uninitialised(tuple(data), dtype)
            if isinstance(data, (list, tuple, np.ndarray)):
                return tensor(data, dtype=dtype)
            if not isinstance(data, int) or isinstance(data, bool):
                raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
        for position, n in enumerate(args, 1):
            if not isinstance(n, int) or isinstance(n, bool):
                raise TypeError(f"new(): argument 'size' failed to unpack the object at pos "
                                f"{position} with error \"type must be tuple of ints,but got "
                                f"{type(n).__name__}\"")
        return _uninitialised(args, dtype)

    def __repr__(cls) -> str:
        return f"<class 'tapegrad.{cls.__name__}'>"


def constructed(args: tuple, dtype) -> np.ndarray:
    """The value of ``Tensor(*args)`` as torch's constructor makes it: ``Tensor(2, 3)`` and
    ``Tensor()`` uninitialised, ``Tensor(x.shape)`` of that shape, ``Tensor([1, 2])`` of the
    default float dtype whatever the numbers; a number refused."""
    default = recording._DEFAULT_FLOAT
    if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return np.empty(args if args else (0,), default)
    if len(args) != 1:
        raise TypeError("new(): invalid arguments: Tensor takes data, or sizes as ints")
    data = args[0]
    if type(data) in (float, complex, bool):  # (a Python number; NumPy's scalars are data)
        raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
    if isinstance(data, Size):
        return np.empty(tuple(data), default)
    if dtype is None and isinstance(data, (list, tuple)):
        return _as_array(data, None).astype(default, copy=False)
    return _as_array(data, dtype)


def _type_name(value: Any) -> str:
    """A value's type as torch's argument errors name it."""
    return "torch.dtype" if isinstance(value, dtypes.dtype) else type(value).__name__


def _uninitialised(shape: tuple, dtype: dtypes.dtype) -> Tensor:
    for n in shape:
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: "
                               f"{list(shape)}")
    return empty(*shape, dtype=dtype)


def _legacy(name: str, dtype: dtypes.dtype) -> _TensorType:
    return _TensorType(name, (), {"dtype": dtype, "is_cuda": False, "__module__": "tapegrad",
                                  "__doc__": f"torch's legacy ``{name}``: {dtype} tensors."})


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
HalfTensor = _legacy("HalfTensor", dtypes.float16)
LongTensor = _legacy("LongTensor", dtypes.int64)
IntTensor = _legacy("IntTensor", dtypes.int32)
ShortTensor = _legacy("ShortTensor", dtypes.int16)
CharTensor = _legacy("CharTensor", dtypes.int8)
ByteTensor = _legacy("ByteTensor", dtypes.uint8)
BoolTensor = _legacy("BoolTensor", dtypes.bool)

TYPES = (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor, CharTensor,
         ByteTensor, BoolTensor)
_BY_DTYPE = {t.dtype.np: t for t in TYPES}
_BY_NAME = {**{f"torch.{t.__name__}": t for t in TYPES},
            **{f"tapegrad.{t.__name__}": t for t in TYPES}}


# -- Tensor methods -----------------------------------------------------------------------------


def type_(self, dtype=None, non_blocking: bool = False) -> Any:
    """With no argument, the tensor's type name (``'tapegrad.FloatTensor'``, torch's
    ``'torch.FloatTensor'``); otherwise ``self`` cast to a legacy type, its name (``torch.``
    or ``tapegrad.``) or a dtype -- ``self`` itself if it has that type already.

    >>> import tapegrad as tg
    >>> x = tg.tensor([1.5, 2.5])
    >>> x.type(), x.type(tg.LongTensor), x.type("torch.FloatTensor").type()
    ('tapegrad.DoubleTensor', tensor([1, 2]), 'tapegrad.FloatTensor')
    """
    if dtype is None:
        return f"tapegrad.{_BY_DTYPE[self._v.dtype].__name__}"
    if isinstance(dtype, str):
        try:
            dtype = _BY_NAME[dtype]
        except KeyError:
            raise ValueError(f"invalid type: {dtype!r}") from None
    if isinstance(dtype, _TensorType):
        dtype = dtype.dtype
    elif not isinstance(dtype, dtypes.dtype):
        raise TypeError("dtype must be a type, str, or dtype object")
    return self._cast(dtype)


def type_as(self, other: Tensor) -> Tensor:
    """``self`` cast to ``other``'s dtype (``self`` itself if it has it already)."""
    return self._cast(other.dtype)


def _new(self, sizes: tuple, size, name: str) -> tuple:
    return tuple(_sizes(sizes, size, name) if size is not None else sizes)


def new_zeros(self, *sizes, size=None, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    """Zeros of ``size``, in ``self``'s dtype unless ``dtype`` says."""
    return full(_shape(_new(self, sizes, size, "new_zeros")), 0, dtype=dtype or self.dtype,
                requires_grad=requires_grad, device=device)


def new_ones(self, *sizes, size=None, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """Ones of ``size``, in ``self``'s dtype unless ``dtype`` says."""
    return full(_shape(_new(self, sizes, size, "new_ones")), 1, dtype=dtype or self.dtype,
                requires_grad=requires_grad, device=device)


def new_empty(self, *sizes, size=None, dtype=None, device=None,
              requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of ``size``, in ``self``'s dtype unless ``dtype`` says."""
    return empty(_shape(_new(self, sizes, size, "new_empty")), dtype=dtype or self.dtype,
                 requires_grad=requires_grad, device=device)


def new_full(self, size, fill_value, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``fill_value`` in ``size``, in ``self``'s dtype unless ``dtype`` says."""
    return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad,
                device=device)


def new_tensor(self, data, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A copy of ``data``, in ``self``'s dtype unless ``dtype`` says."""
    return tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad, device=device)


def _shape(sizes: tuple) -> tuple:
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        return tuple(sizes[0])
    return sizes


def ndimension(self) -> int:
    """The number of dimensions (``dim()``)."""
    return self._v.ndim


def nelement(self) -> int:
    """The number of elements (``numel()``)."""
    return self._v.size


def stride(self, dim: int | None = None):
    """The strides in elements, as torch's (``stride()`` all, ``stride(d)`` one)."""
    v = self._v
    item = v.itemsize
    strides = tuple(s // item for s in v.strides)
    if dim is None:
        return strides
    return strides[_dim(dim, v.ndim)]


def is_contiguous(self, memory_format=None) -> bool:
    """Whether the elements lie in row-major order without gaps."""
    return bool(self._v.flags.c_contiguous)


def _dim(dim: int, ndim: int) -> int:
    if not ndim:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                         f"{ndim - 1}], but got {dim})")
    return dim % ndim


def _install() -> None:
    type_.__name__ = "type"  # (a module-level ``type`` would hide the builtin here)
    for function in (type_, type_as, new_zeros, new_ones, new_empty, new_full, new_tensor,
                     ndimension, nelement, stride, is_contiguous):
        function.__qualname__ = f"Tensor.{function.__name__}"
        function.__module__ = "tapegrad.tensor"
        setattr(Tensor, function.__name__, function)
    # torch's documented parameters, without the keyword size= alias
    p = inspect.Parameter
    for function in (new_zeros, new_ones, new_empty):
        function.__signature__ = inspect.Signature(
            [p("self", p.POSITIONAL_OR_KEYWORD), p("size", p.VAR_POSITIONAL),
             *(p(n, p.KEYWORD_ONLY, default=d) for n, d in
               (("dtype", None), ("device", None), ("requires_grad", False)))])


_install()
