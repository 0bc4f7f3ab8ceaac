"""dtype objects with torch's names (``tg.float32``, ``tg.float`` ...), backed by NumPy dtypes."""

from __future__ import annotations

import numpy as np


class dtype:
    """A tensor element type; ``repr`` is ``tapegrad.float32`` as torch prints ``torch.float32``."""

    __slots__ = ("name", "np", "is_floating_point", "itemsize")

    def __init__(self, name: str, np_dtype: type) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"tapegrad.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


float64 = double = dtype("float64", np.float64)
float32 = float = dtype("float32", np.float32)  # noqa: A001 -- torch.float is float32
float16 = half = dtype("float16", np.float16)
int64 = long = dtype("int64", np.int64)
int32 = int = dtype("int32", np.int32)  # noqa: A001
int16 = short = dtype("int16", np.int16)
int8 = dtype("int8", np.int8)
uint8 = dtype("uint8", np.uint8)
bool = dtype("bool", np.bool_)  # noqa: A001

#: [the dtype of new float tensors]: creation.set_default_dtype sets it (and the module globals
#: the creation paths read)
DEFAULT = [float64]

_BY_NP = {d.np: d for d in (float64, float32, float16, int64, int32, int16, int8, uint8, bool)}

#: torch's names of the scalar types, as its messages show them ("result type Float ...")
SCALAR_NAMES = {float64.np: "Double", float32.np: "Float", float16.np: "Half", int64.np: "Long",
                int32.np: "Int", int16.np: "Short", int8.np: "Char", uint8.np: "Byte",
                bool.np: "Bool"}
#: their C++ names, as other messages show them ("Expected out tensor to have dtype float ...")
CPP_NAMES = {float64.np: "double", float32.np: "float", float16.np: "c10::Half",
             int64.np: "long int", int32.np: "int", int16.np: "short int", int8.np: "signed char",
             uint8.np: "unsigned char", bool.np: "bool"}


def _by_name(name: str) -> dtype:
    return globals()[name]


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        raise TypeError(f"tapegrad does not support NumPy dtype {np_dtype}") from None


def to_numpy_dtype(d) -> np.dtype | None:
    """Accept a tapegrad dtype, a NumPy dtype or a Python type; ``None`` passes through."""
    if d is None:
        return None
    if isinstance(d, dtype):
        return d.np
    np_dtype = np.dtype(d)
    if np_dtype.kind == "c":
        raise complex_error(np_dtype)
    return np_dtype


def not_floating(name: str, np_dtype) -> RuntimeError:
    """torch's refusal of a bool or integral input by a function defined on floats only."""
    return RuntimeError(f"{name}: Expected a floating point or complex tensor as input. Got "
                        f"{SCALAR_NAMES[np.dtype(np_dtype)]}")


def complex_error(np_dtype) -> TypeError:
    """The error for complex data, which torch would hold as a complex tensor: tapegrad has no
    complex dtypes yet, and a cast to a real one would silently drop the imaginary parts."""
    return TypeError(f"tapegrad does not support complex tensors yet (got {np.dtype(np_dtype)} "
                     "data); pass the real and imaginary parts as separate real tensors")
