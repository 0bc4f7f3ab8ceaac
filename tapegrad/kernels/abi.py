"""What Python and the kernels agree on: records, slot flags, scratch, the call frame, statuses.

Everything the kernels' data is made of is described here, once: the record columns, the
per-slot flags and the regions of the sweep's scratch array (read by ``sweep.py``, ``replay.py``
and the engine), the eager backward's call frame, and the op kernels' calling convention.

The backward kernel is called through a C function pointer with one argument, the address of a
*frame*: an int64 array holding the addresses and lengths of every array the sweep reads or
writes (the tape's arrays are read where they were recorded).  One pointer instead of fourteen
typed arguments is what lets the kernel be loaded and called without numba (see ``native.py``),
and it costs less per call than numba's argument checks.  Each op's VJP and forward are
separate C functions too (see ``optable.py``), reached through a table of their addresses: only
the ops a program uses are ever compiled or loaded.  Nothing here imports numba.
"""

import ctypes
import os
import sys

import numpy as np

# how the sweep ended (``REPACK``: a value the sweep was to read in place is not a plain
# C-contiguous float64 array or float; nothing was done, the caller packs the values instead.
# ``MISSING``: the record ``RESULT_RECORD`` needs the VJP of opcode ``RESULT_SLOT``, whose
# address is not in the table yet; nothing was done to that record, and the caller resumes
# there (``START``) once it is.  ``HOOK``: the gradient of slot ``RESULT_SLOT``, which has
# tensor hooks (flag ``HOOKED``), is complete at record ``RESULT_RECORD``, untouched so far; the
# caller runs the hooks and resumes there.  A custom ``autograd.Function``'s records come back
# as ``MISSING`` too: its op has no VJP in the table, ever -- see ``ops/pyfunction.py``)
OK, FREED, STALE, BLAS, REPACK, MISSING, HOOK = 0, 1, 2, 3, 4, 5, 6

# per-slot flag bits in the scratch array (the replay uses NEED and HAS_GRAD too)
NEED, HAS_GRAD, STALE_FLAG, BIG, HOOKED = 1, 2, 4, 8, 16

# columns of the int64 record array (six per record, as ``tape.recs`` holds them)
OP, OUT, A, B, IP, FP = range(6)
N_COLUMNS = 6

# the sweep's scratch array, for n slots: regions of n ints each -- the slots' value addresses,
# gradient addresses, flags, last uses -- then the pool of free gradient regions (2n + 1)
(VALUE_ADDRS, GRAD_ADDRS, FLAGS, LAST_USE, POOL) = range(5)
SCRATCH_PER_SLOT, SCRATCH_EXTRA = 6, 1  # (the scratch holds 6n + 1 ints)

# the op kernels' C signatures (all int64; the return value is unused): addresses and sizes of
# the slots, the gradient modes, the parameter pools and the record's offsets into them
#:   vjp(g, a, b, y, ga, gb, n_y, n_a, n_b, need_a, need_b, I, n_I, F, n_F, ip, fp)
VJP_ARGS = 17
#:   fwd(y, a, b, n_y, n_a, n_b, I, n_I, F, n_F, ip, fp)
FWD_ARGS = 12

# the frame: (address, length) pairs of the arrays (the offsets' length is N_SLOTS + 1),
# scalars, the tape's value lists to read in place (or 0: see OBJECT_LAYOUT), the table of the
# op VJPs' addresses (``optable.VJP``) and two results.  The fields that stay the same call after
# call on a thread come first (the engine writes them only when they change), then those of
# each tape from PER_TAPE on; the offsets follow.
(RESULT_RECORD, RESULT_SLOT, OFFS, SCALARS, N_SCALARS, PACKED, N_PACKED, AUX, N_AUX, KEEP,
 N_KEEP, SEED, N_SEED, GRADS, N_GRADS, SCRATCH, N_SCRATCH, RETAIN, START, BLAS_MIN, LAYOUT,
 VJP_TABLE, RECS, N_RECS, INTS, N_INTS, FLOATS, N_FLOATS, FREED_FLAGS, N_FREED, N_SLOTS,
 OUT_SLOT, ARRAYS_LIST, SCALARS_LIST) = range(34)
HEADER = 34
PER_TAPE = RECS

# a compiled tape's replay (``replay.py``): per-record flag of a one-element elementwise record
# computed inline, how a replay call ended (done, or stopped at a large matrix product for the
# caller's BLAS, or at a record whose op kernel is not in the tables), and the int64 ``state``
# a caller keeps across the calls of one replay: where it stopped (``STAGE``: 0 to start; the
# seed row and record), the product's gradient modes (0: not needed, else ``ADD``/``ASSIGN``),
# the smallest product handed back (0: none) and the op tables' addresses
SCALAR = 1
DONE, BLAS_FORWARD, BLAS_REVERSE, NO_KERNEL = 0, 1, 2, 3
STAGE, ROW, RECORD, MODE_A, MODE_B, STATE_BLAS_MIN, STATE_FWD, STATE_VJP = range(8)
N_STATE = 8

#: the elementwise ops whose small records (at most INLINE_MAX elements, no broadcasting) the
#: sweep and the replay run inline, by their scalar rules compiled into the core kernels: the
#: arithmetic and activation of a scalar network (each costs the core's compile ~0.1 s).  Every
#: other record calls its op's own kernel, compiled when first used: the core's compile time
#: does not grow with the op table.
INLINE_KEYS = ("add", "sub", "mul", "add_scalar", "sub_scalar", "rsub_scalar", "mul_scalar",
               "div_scalar", "pow_scalar", "tanh", "relu")
INLINE_MAX = 32

#: a value of at least this many elements is large: read in place by address, never packed
#: (``tape.BIG``), and its gradient shares pooled memory once dead (``sweep.py``)
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


# -- reading the tape's own Python lists in place -------------------------------------------
#
# Packing a small tape's values for the sweep (their bytes joined, each one-element value
# converted) cost as much as the sweep itself.  Instead, the sweep can be given the tape's
# ``arrays`` and ``scalars`` lists as they are and read each value where it lives: a float's
# double, a NumPy array's data.  That reads CPython's and NumPy's object structs, whose layouts
# are fixed by their C ABIs (``PyListObject``, ``PyFloatObject``, ``PyArrayObject_fields``:
# compiled extensions read them through macros).  They are still not taken on trust: the offsets
# below are checked against live objects at import, and if any check fails ``OBJECT_LAYOUT`` is
# None and values are always packed.  The sweep checks each object it reads (its type, a
# float64 dtype, C-contiguous and aligned data, its size) and answers ``REPACK`` for anything
# else.  Python must hold the GIL while the sweep reads its objects.

#: OBJECT_LAYOUT's fields: where in an object the sweep finds what it reads (byte offsets),
#: then the types and the dtype it accepts (object addresses)
(LIST_SIZE_AT, LIST_ITEMS_AT, TYPE_AT, FLOAT_AT, DATA_AT, NDIM_AT, DIMS_AT, DESCR_AT, FLAGS_AT,
 FLOAT_TYPE, F64_SCALAR_TYPE, NDARRAY_TYPE, F64_DESCR, N_LAYOUT) = range(14)
#: the array flags the sweep requires (NumPy's NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ALIGNED)
C_CONTIGUOUS_ALIGNED = 0x1 | 0x100


def _word(address: int) -> int:
    return ctypes.c_int64.from_address(address).value


def _probe_object_layout() -> np.ndarray | None:
    """The offsets the sweep reads objects at, checked on live objects; None if any differs,
    on any interpreter but CPython (whose object structs these are), or when
    ``TAPEGRAD_READ_IN_PLACE=0`` asks for the packed route (CI runs the suite so too)."""
    if sys.implementation.name != "cpython" or os.environ.get("TAPEGRAD_READ_IN_PLACE") == "0":
        return None
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        return None  # (the sweep reads the lists under the GIL: without one, another thread
        # could change them meanwhile)
    head = object.__basicsize__  # (reference count and type: larger on free-threaded builds)
    layout = [head, head + 8, head - 8, head, head, head + 8, head + 16, head + 40, head + 48,
              id(float), id(np.float64), id(np.ndarray), id(np.dtype(np.float64))]
    items = [2.5, np.float64(-3.25), np.zeros(3), np.ones((2, 3))[:, 1:], np.arange(4.0)[::2]]
    try:
        at = layout
        if _word(id(items) + at[LIST_SIZE_AT]) != len(items):
            return None
        array_of_items = _word(id(items) + at[LIST_ITEMS_AT])
        for i, item in enumerate(items):
            if _word(array_of_items + 8 * i) != id(item) or \
                    _word(id(item) + at[TYPE_AT]) != id(type(item)):
                return None
        for number in items[:2]:
            if ctypes.c_double.from_address(id(number) + at[FLOAT_AT]).value != float(number):
                return None
        for array in items[2:]:
            obj = id(array)
            dims = _word(obj + at[DIMS_AT])
            if _word(obj + at[DATA_AT]) != array.__array_interface__["data"][0] or \
                    _word(obj + at[NDIM_AT]) & 0xFFFFFFFF != array.ndim or \
                    [_word(dims + 8 * d) for d in range(array.ndim)] != list(array.shape) or \
                    _word(obj + at[DESCR_AT]) != id(array.dtype) or \
                    _word(obj + at[FLAGS_AT]) & 0xFFFFFFFF != array.flags.num or \
                    bool(array.flags.num & 1) != array.flags.c_contiguous:
                return None
    except (ValueError, TypeError, OverflowError):
        return None
    return np.array(layout, np.int64)


#: the offsets and identities the sweep reads objects by, or None: always pack
OBJECT_LAYOUT = _probe_object_layout()
