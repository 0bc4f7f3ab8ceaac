"""What Python and the backward kernel agree on: the call frame, status codes and slot flags.

The backward kernel is called through a C function pointer with one argument, the address of a
*frame*: an int64 array holding the addresses and lengths of every array the sweep reads or
writes (the tape's arrays are read where they were recorded).  One pointer instead of fourteen
typed arguments is what lets the kernel be loaded and called without numba (see ``native.py``),
and it costs less per call than numba's argument checks.  Nothing here imports numba.
"""

import ctypes

import numpy as np

# how the sweep ended
OK, FREED, STALE, BLAS = 0, 1, 2, 3

# per-slot flag bits in the scratch array
NEED, HAS_GRAD, STALE_FLAG, BIG = 1, 2, 4, 8

# columns of the int64 record array
OP, OUT, A, B, IP, FP = range(6)

# the frame: (address, length) pairs of the arrays (the offsets' length is N_SLOTS + 1), then
# scalars and two results
(RECS, N_RECS, OFFS, SCALARS, N_SCALARS, PACKED, N_PACKED, INTS, N_INTS, FLOATS, N_FLOATS, AUX,
 N_AUX, KEEP, N_KEEP, SEED, N_SEED, GRADS, N_GRADS, SCRATCH, N_SCRATCH, FREED_FLAGS, N_FREED,
 N_SLOTS, OUT_SLOT, RETAIN, START, BLAS_MIN, RESULT_RECORD, RESULT_SLOT) = range(30)
HEADER = 30

#: a value of at least this many elements is large: read in place by address, never packed
#: (``tape.BIG``), and its gradient shares pooled memory once dead (``sweep._records``)
LARGE = 4096

_Byte = ctypes.c_char


def address_of(array: np.ndarray) -> int:
    """Address of a C-contiguous array's first element (Python side).

    Through ctypes for a writable array (~0.25 µs, where ``__array_interface__`` builds a dict
    in ~0.9 µs: this runs a few times per backward)."""
    try:
        return ctypes.addressof(_Byte.from_buffer(array))
    except (TypeError, ValueError, BufferError):  # read-only, or not a plain buffer
        return array.__array_interface__["data"][0]
