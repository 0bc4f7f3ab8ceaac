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
from .abi import address_of

#: per opcode: the address of the op's VJP (``vjp``) and forward (``fwd``), or 0
VJP = np.zeros(len(OPS), np.int64)
FWD = np.zeros(len(OPS), np.int64)
VJP_ADDRESS, FWD_ADDRESS = address_of(VJP), address_of(FWD)
TABLES = {"vjp": VJP, "fwd": FWD}

_lock = threading.Lock()  # (two threads needing one op compile it once)


def provide(kind: str, codes: Iterable[int]) -> None:
    """Fill the ``kind`` table ("vjp" or "fwd") for the opcodes ``codes``: each op's kernel is
    loaded from the cache, or compiled (and cached) if it is not there."""
    table = TABLES[kind]
    missing = sorted({int(c) for c in codes if table[c] == 0})
    if not missing:
        return
    from . import native

    with _lock:
        for code in missing:
            if table[code] == 0:
                table[code] = native.op_kernel(kind, code)


def provide_vjp(code: int) -> None:
    """:func:`provide` of one op's VJP (what the engine calls on ``MISSING``)."""
    provide("vjp", (code,))


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
