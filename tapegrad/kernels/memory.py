"""Raw views of tape storage inside numba.

The backward kernel sees every slot (value or gradient) as a 1-D float64 array made from an
address and a length.  Small values are packed into one buffer at backward time; large arrays are
read where they already live, so a 100,000-element tape is never copied.  The arrays behind every
address are kept alive by the tape (values) or by the engine's workspace (gradients) for the whole
kernel call.
"""

import numpy as np
from numba import carray, njit
from numba.core import cgutils, types
from numba.extending import intrinsic


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


@njit(inline="always")
def int_view(address, size):
    """A 1-D int64 array of ``size`` elements starting at ``address``."""
    return carray(_as_pointer(address), (size,), np.int64)


@njit(inline="always")
def int_table(address, rows):
    """A ``(rows, 6)`` int64 array starting at ``address``: tape records."""
    return carray(_as_pointer(address), (rows, 6), np.int64)


@njit(inline="always")
def byte_view(address, size):
    """A 1-D uint8 array of ``size`` elements starting at ``address``."""
    return carray(_as_pointer(address), (size,), np.uint8)


@njit(inline="always")
def word(address):
    """The int64 at ``address``."""
    return carray(_as_pointer(address), (1,), np.int64)[0]
