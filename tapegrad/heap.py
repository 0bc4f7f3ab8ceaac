"""Let freed large arrays be reused by the next allocation instead of page-faulting again.

A recorded forward keeps every large value alive until ``backward`` frees the tape, all at once.
With glibc's default settings each such array (>= 128 KiB) is a fresh ``mmap``: its pages are
faulted in and zeroed by the kernel on first touch, and handed back to the kernel on free.  On a
100,000-element chain that is 160 MB of page faults per step -- three quarters of the step's
time, charged to whichever NumPy call first writes the array.  (glibc raises its threshold after
freeing a larger block, so whether a process pays depends on what it happened to free before.)

``tune()`` serves requests below 32 MiB from the heap and keeps up to 256 MiB of freed memory
there, so the next step's arrays reuse the pages of the last step's.  It is process-wide -- other
libraries in the process get the same behaviour -- and the cost is that a process which once
held a large graph keeps up to 256 MiB more resident.  So it is not done at import: the first
backward of a tape whose values weigh glibc's default mmap threshold or more (``TUNE_MIN``
elements) does it (``engine.backward``), once: such a backward's packed values and gradient
buffers are themselves that large.  A program that never differentiates anything that large
keeps glibc's defaults.
``TAPEGRAD_MALLOPT=0`` opts out; on other C libraries (macOS, musl) nothing changes.
"""

from __future__ import annotations

import ctypes
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 256 << 20
#: a tape of at least this many float64 value elements (128 KiB) tunes the heap at its backward
TUNE_MIN = 1 << 14
#: whether tune() has run in this process (whatever it found)
tuned = False


def tune() -> bool:
    """Apply the settings above; return whether they were applied."""
    global tuned
    tuned = True
    if os.environ.get("TAPEGRAD_MALLOPT", "1") == "0":
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, ValueError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    # mallopt returns 1 on success, 0 on error
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
