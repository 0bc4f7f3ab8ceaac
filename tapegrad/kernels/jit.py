"""The two ways tapegrad compiles numba code.

IEEE semantics everywhere (``error_model="numpy"``): a division by zero gives inf or nan, as in
NumPy and torch, instead of raising ZeroDivisionError inside a kernel.
"""

from numba import njit

#: a loop-level kernel (one op's forward or VJP over whole arrays)
kernel = njit(error_model="numpy")

#: a per-element rule (one op's scalar derivative), inlined into the loop that uses it
elementwise = njit(inline="always", error_model="numpy")


def named(fn, name: str):
    """Give a function made by a factory its own name before it is compiled.

    numba names compiled functions by ``__qualname__`` plus a per-process counter.  Factory
    closures (and lambdas) all share one qualname, so two kernels cached by *different*
    processes could carry the same symbol name for different ops -- and the process that loads
    both would call one op's code for the other.  A unique qualname rules that out.
    """
    fn.__name__ = fn.__qualname__ = name
    return fn
