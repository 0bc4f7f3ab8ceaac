"""Raw views of tape storage inside numba.

The backward kernel sees every slot (value or gradient) as a 1-D float64 array made from an
address and a length.  Small values are packed into one buffer at backward time; large arrays are
read where they already live, so a 100,000-element tape is never copied.  The arrays behind every
address are kept alive by the tape (values) or by the engine's workspace (gradients) for the whole
kernel call.
"""

import ctypes

import numpy as np
from numba import carray, njit
from numba.core import cgutils, types
from numba.extending import intrinsic

_Byte = ctypes.c_char


@intrinsic
def _as_pointer(typingctx, address):
    """Reinterpret an int64 address as a void pointer (no copy, no check)."""
    sig = types.voidptr(types.int64)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return sig, codegen


@njit(inline="always")
def slot_view(address, size):
    """A 1-D float64 array of ``size`` elements starting at ``address``."""
    return carray(_as_pointer(address), (size,), np.float64)


def address_of(array: np.ndarray) -> int:
    """Address of a C-contiguous array's first element (Python side).

    Through ctypes for a writable array (~0.25 µs, where ``__array_interface__`` builds a dict
    in ~0.9 µs: this runs once per large recorded value)."""
    try:
        return ctypes.addressof(_Byte.from_buffer(array))
    except (TypeError, ValueError, BufferError):  # read-only, or not a plain buffer
        return array.__array_interface__["data"][0]
