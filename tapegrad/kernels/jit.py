"""The two ways tapegrad compiles numba code.

IEEE semantics everywhere (``error_model="numpy"``): a division by zero gives inf or nan, as in
NumPy and torch, instead of raising ZeroDivisionError inside a kernel.
"""

from numba import njit

#: a loop-level kernel (one op's forward or VJP over whole arrays)
kernel = njit(error_model="numpy")

#: a per-element rule (one op's scalar derivative), inlined into the loop that uses it
elementwise = njit(inline="always", error_model="numpy")
