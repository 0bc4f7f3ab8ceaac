"""The op table: every differentiable operation, defined once.

An :class:`Op` holds everything tapegrad knows about one operation, side by side:

* ``name``   -- the backward node's name that ``grad_fn.name()`` shows (torch's name);
* ``code``   -- the integer opcode written into tape records (its index in :data:`OPS`);
* ``eager``  -- the NumPy forward used while recording;
* ``fwd``    -- the numba forward used when a recorded tape is replayed;
* ``vjp``    -- the numba vector-Jacobian product used by the backward sweep;
* ``reads``  -- which saved values the VJP reads (bit 1: first input, 2: second, 4: output).

Every numba part has one fixed signature so that a generated dispatch (``kernels/_dispatch.py``)
can call any op the same way::

    fwd(y, a, b, I, F, ip, fp)
    vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp)

``a``, ``b``, ``y`` are the flat float64 values of the first input, second input and output;
``g`` is the output's gradient and ``ga``/``gb`` the inputs' gradient accumulators (VJPs *add*
into them).  ``I``/``F`` are the tape's integer and float parameter pools and ``ip``/``fp`` this
record's offsets into them (shapes, axes, scalar constants).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

READS_A, READS_B, READS_Y = 1, 2, 4


@dataclass(frozen=True)
class Op:
    key: str
    name: str
    code: int
    arity: int
    eager: Callable
    fwd: Callable
    vjp: Callable
    reads: int
    next_none: bool = False  # torch lists a ``(None, 0)`` entry for a scalar operand

    @property
    def saves(self) -> bool:
        """Whether the VJP needs saved values (and so can hit a freed graph)."""
        return self.reads != 0

    def __repr__(self) -> str:
        return f"<op {self.code} {self.key} ({self.name})>"


OPS: list[Op] = []
BY_KEY: dict[str, Op] = {}


def register(key: str, name: str, arity: int, eager: Callable, fwd: Callable, vjp: Callable,
             reads: int, next_none: bool = False) -> Op:
    """Add an op to the table and give it the next opcode."""
    if key in BY_KEY:
        raise ValueError(f"op {key!r} is defined twice")
    op = Op(key, name, len(OPS), arity, eager, fwd, vjp, reads, next_none)
    OPS.append(op)
    BY_KEY[key] = op
    return op
