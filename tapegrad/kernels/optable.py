"""The tables of op kernels the sweep and the replay call: compile what is used.

Each op's VJP and forward is a C function of its own (``_dispatch.vjp_<opcode>`` and
``fwd_<opcode>``, signatures in ``abi.py``).  The core kernels -- the eager sweep, the replay --
call them through the addresses in :data:`VJP` and :data:`FWD` (0: not there yet), so compiling
the core compiles no op, and an op is compiled, or loaded from the cache, the first time a tape
holds it: a program pays for the ops it uses, not for the whole table.  The eager sweep reports
a missing VJP before touching its record (``abi.MISSING``), and the engine resumes it there once
:func:`provide` has filled the entry; a compiled tape provides all of its ops before its first
replay.

An entry, once filled, never changes, and the machine code behind it lives as long as the
process (numba's, or the object file's linked by ``native.py``), so a kernel reading the table
while another thread fills another entry is safe.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import numpy as np

from ..ops import OPS
from ..ops.pyfunction import PYTHON_CODES
from .abi import INLINE_KEYS, INLINE_MAX, N_COLUMNS, OP, OUT, A, B, address_of

#: per opcode: the address of the op's VJP (``vjp``) and forward (``fwd``), or 0
VJP = np.zeros(len(OPS), np.int64)
FWD = np.zeros(len(OPS), np.int64)
VJP_ADDRESS, FWD_ADDRESS = address_of(VJP), address_of(FWD)
TABLES = {"vjp": VJP, "fwd": FWD}
_INLINE = np.array([op.key in INLINE_KEYS for op in OPS])

_lock = threading.Lock()  # (two threads needing one op compile it once)


def provide(kind: str, codes: Iterable[int]) -> None:
    """Fill the ``kind`` table ("vjp" or "fwd") for the opcodes ``codes``: each op's kernel is
    loaded from its object file, or else made through numba -- compiled (and cached), or loaded
    from numba's cache -- all of those under one note on stderr if that takes long."""
    table = TABLES[kind]
    # (a Function's records must keep coming back as MISSING: their backward is Python)
    missing = sorted({int(c) for c in codes if table[c] == 0 and int(c) not in PYTHON_CODES})
    if not missing:
        return
    from . import native
    from .jit import compiling

    with _lock:
        missing = [code for code in missing if table[code] == 0]
        for code in missing:
            address = native.find(native.op_kernel_parts(kind, code)[0])
            if address is not None:
                table[code] = address
        missing = [code for code in missing if table[code] == 0]
        if not missing:
            return
        what = (f"the {'VJPs' if kind == 'vjp' else 'forwards'} of "
                f"{', '.join(OPS[code].key for code in missing)}")
        with compiling(what, native.cache_dir() if native.NATIVE else None):
            for code in missing:
                table[code] = native.build(*native.op_kernel_parts(kind, code))


def provide_vjp(code: int, recs, offs) -> None:
    """What the engine calls when the sweep reports op ``code``'s VJP missing: that VJP, and
    those of every other op the tape may call through the table (``recs``, ``offs``: its
    records and slot offsets) -- compiled together, under one note if that takes long, rather
    than one at a time in a silent wait."""
    provide("vjp", [code, *tape_vjps(recs, offs)])


def tape_vjps(recs, offs) -> list[int]:
    """The opcodes of the records (an int64 buffer, six per record) whose VJP the sweep calls
    through the table: all but the small elementwise ones it runs inline (as in ``sweep.py``).
    """
    r = np.frombuffer(recs, np.int64).reshape(-1, N_COLUMNS)
    size = np.diff(np.asarray(offs, np.int64))
    op, y, a, b = r[:, OP], size[r[:, OUT]], size[r[:, A]], r[:, B]
    b_size = np.where(b >= 0, size[np.maximum(b, 0)], y)
    inline = _INLINE[op] & (a == y) & (b_size == y) & (y <= INLINE_MAX)
    return sorted(set(op[~inline].tolist()))  # (np.unique imports numpy.ma: ~15 ms)


def provide_all(progress=None) -> None:
    """Every op's kernels (``python -m tapegrad.warmup``); ``progress(done, total, what)`` is
    called before each."""
    total = 2 * len(OPS)
    done = 0
    for kind in ("vjp", "fwd"):
        for op in OPS:
            if progress is not None:
                progress(done, total, f"{kind} of {op.key}")
            provide(kind, (op.code,))
            done += 1
