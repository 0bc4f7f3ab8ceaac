"""``grad_fn``: a lazy, read-only view of one tape record, shaped like torch's graph nodes.

Nothing here exists while recording; a ``Node`` is made only when a user asks for ``grad_fn``.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import numpy as np

from .ops import OPS

if TYPE_CHECKING:
    from .tape import Tape
    from .tensor import Tensor


#: torch's node names for results of composites that torch computes as one op (``F.mse_loss``
#: is ``MseLossBackward0`` there, several records here): tape -> {output slot: name}.  Set by
#: :func:`rename` off the recording hot path; read only by ``grad_fn.name()``.
_renamed: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def rename(t: Tensor, name: str) -> Tensor:
    """Make ``t.grad_fn.name()`` answer ``name`` (a no-op for a tensor outside autograd)."""
    tape = t._tape
    if tape is not None:
        names = _renamed.get(tape)
        if names is None:
            names = _renamed[tape] = {}
        names[t._slot] = name
    return t


def _records(tape: Tape) -> np.ndarray:
    return np.array(tape.recs, dtype=np.int64).reshape(-1, 6)


def producers(tape: Tape, slot: int) -> list[int]:
    """Indices of the records that write ``slot`` (several for cat, where, x[k] = v)."""
    return np.flatnonzero(_records(tape)[:, 1] == slot).tolist()


def producer(tape: Tape, slot: int) -> int:
    """Index of the first record whose output is ``slot``, or -1 for an input slot."""
    hits = producers(tape, slot)
    return hits[0] if hits else -1


class Node:
    """The backward function of one recorded operation (torch's ``grad_fn``)."""

    __slots__ = ("_tape", "_rec")

    def __init__(self, tape: Tape, rec: int) -> None:
        self._tape, self._rec = tape, rec

    @property
    def _op(self):
        return OPS[self._tape.recs[6 * self._rec]]

    def name(self) -> str:
        """The node's torch name, e.g. ``'MulBackward0'``."""
        names = _renamed.get(self._tape)
        if names:
            name = names.get(self._tape.recs[6 * self._rec + 1])
            if name is not None:
                return name
        return self._op.name

    @property
    def next_functions(self) -> tuple:
        """``((node_or_AccumulateGrad_or_None, 0), ...)`` for each input, as torch lists them."""
        tape = self._tape
        leaves = dict(tape.leaves)
        links = {slot: (there, slot_there) for slot, there, slot_there in tape.links}
        result = []
        inputs = []
        for rec in producers(tape, tape.recs[6 * self._rec + 1]):
            op = OPS[tape.recs[6 * rec]]
            a, b = tape.recs[6 * rec + 2: 6 * rec + 4]
            inputs += [a, b] if b >= 0 and op.next_b else [a]
        for slot in inputs:
            rec = producer(tape, slot)
            if rec >= 0:
                result.append((Node(tape, rec), 0))
            elif slot in leaves:
                result.append((AccumulateGrad(leaves[slot]), 0))
            elif slot in links:  # a value recorded on another tape
                there, slot_there = links[slot]
                result.append((Node(there, producer(there, slot_there)), 0))
            else:
                result.append((None, 0))
        if self._op.next_none:
            result.append((None, 0))
        return tuple(result)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and other._tape is self._tape and other._rec == self._rec

    def __hash__(self) -> int:
        return hash((id(self._tape), self._rec))

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"


class AccumulateGrad:
    """The sink that stores a leaf's gradient into ``leaf.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "torch::autograd::AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self) -> int:
        return id(self.variable)

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self))}>"


def grad_fn_of(t: Tensor) -> Node | None:
    tape = t._tape
    return None if tape is None else Node(tape, producer(tape, t._slot))
