r"""The flat Wengert tape.

A tape is a few flat arrays and lists that grow by appends while the forward pass is recorded:

* ``recs``    -- six int64 per record: ``opcode, out slot, input a, input b, int param, float
                 param`` (``-1`` where unused), packed by :data:`RECORD`;
* ``offs``    -- slot boundaries: slot ``s`` holds elements ``offs[s]:offs[s+1]`` of the flat
                 layout that gradients use;
* ``scalars`` -- the values of one-element slots, in slot order: numbers, or (for an input) a
                 0-d view of its storage;
* ``arrays``  -- the values of the other small slots, in slot order (large values are held in
                 ``bigs`` instead and read in place by address, never copied);
* ``ints``/``floats`` -- shapes, axes, index maps and scalar constants the records point into;
* ``freed``   -- per record, a flag set once a backward has released its saved values.

``recs``, ``ints``, ``floats`` and ``freed`` are ``array.array``\ s that the backward kernel
reads in place, by address.  The others are lists (a list append costs ~40 ns less than an
``array`` append, and they grow once per recorded op), packed behind the kernel's call frame at
backward.
Values are held by reference, not copied: as torch's saved tensors, they see a change made to
their storage through ``.data`` or NumPy, which bumps no version (changes that do bump one make
the sweep refuse, see ``watch``).

A *slot* is one value: a record's output, or an input that entered the tape from outside
(a leaf that requires grad, or a constant).  No Python object per operation survives: the
backward pass turns these lists into a few NumPy arrays and hands them to numba.

Lifetime: tensors hold their tape; the tape holds no tensor except the leaves it must deliver
gradients to.  A tape is freed as soon as no live tensor refers to it.  Each thread records new
graphs on one open tape; the tape is closed (later graphs start a fresh one) by ``backward`` or
once it is large, so a loop that never calls backward still frees old steps' tapes.
"""

from __future__ import annotations

import itertools
import struct
import weakref
from array import array
from typing import TYPE_CHECKING

import numpy as np

from .grad_mode import NON_DEFAULT, STATE
from .kernels.abi import LARGE, address_of

if TYPE_CHECKING:
    from .tensor import Tensor

#: arrays with at least this many elements are read in place by address, not packed
BIG = LARGE
#: an open tape takes no new graphs once it has this many records or value elements
CLOSE_RECORDS = 1 << 15
CLOSE_ELEMENTS = 1 << 22
_CLOSE_RECS = 6 * CLOSE_RECORDS  # (the length of ``recs`` then)

#: one record's bytes: ``tape.recs.frombytes(RECORD(op, out, a, b, ip, fp))``
RECORD = struct.Struct("6q").pack

_EMPTY = np.empty(0)
_F64 = np.dtype(np.float64)
_serials = itertools.count(1)


class Tape:
    __slots__ = ("recs", "offs", "scalars", "shared_scalars", "arrays", "bigs", "big_slots",
                 "big_addrs", "unkept", "consts", "leaves", "leaf_regs", "watch", "retained",
                 "ints", "floats", "freed", "closed", "serial", "merged_into", "slot_offset",
                 "guards", "mixed", "__weakref__")

    def __init__(self) -> None:
        self.recs = array("q")
        self.offs = [0]
        self.scalars: list = []
        # (slot, 0-d array): one-element values recorded as NumPy scalars whose tensors have
        # since been given an array storage (to share it through .data, a view, detach): that
        # array is read at backward, as torch's saved tensor shares the storage
        self.shared_scalars: list[tuple[int, np.ndarray]] = []
        self.arrays: list[np.ndarray] = []
        self.bigs: list[np.ndarray] = []  # large values, kept alive while read by address
        self.big_slots: list[int] = []
        self.big_addrs: list[int] = []
        # large values not kept (yet): no VJP recorded so far reads them, so -- as torch saves
        # only what its backward needs -- their memory is freed with their tensors;
        # slot -> index in ``bigs``
        self.unkept: dict[int, int] = {}
        self.consts: list[int] = []  # slots whose gradient nobody needs
        self.leaves: list[tuple[int, Tensor]] = []  # slots that deliver into a leaf's .grad
        self.leaf_regs: dict[int, tuple[int, int]] = {}  # id(leaf) -> its latest (slot, version)
        self.watch: list[tuple[list, int, int, tuple]] = []  # (version box, version, slot, shape)
        self.retained: list[tuple[int, object]] = []  # (slot, weakref to a retain_grad tensor)
        self.ints = array("q")
        self.floats = array("d")
        # per record, set once its saved values are released (made, then grown, by backward)
        self.freed: array | None = None
        self.closed = False
        self.serial = next(_serials)
        self.merged_into: Tape | None = None
        self.slot_offset = 0
        self.guards: list = []  # tg.compile only: values that left the tape for Python
        # whether ``arrays`` may hold a value of 8-byte elements that are not native float64
        # (an int64 constant, say): backward then converts each array (see engine.backward)
        self.mixed = False

    def __len__(self) -> int:
        return len(self.recs) // 6

    @property
    def n_elems(self) -> int:
        """Elements of all slots together (the flat layout's length)."""
        return self.offs[-1]

    # -- slots -----------------------------------------------------------------------------

    def new_slot(self, value: np.ndarray, keep: bool = True) -> int:
        """A slot for ``value``; a large one is held only if ``keep`` (see :meth:`keep`)."""
        slot = len(self.offs) - 1
        n = value.size
        self.offs.append(self.offs[-1] + n)
        if n >= BIG:
            self.big_slots.append(slot)
            if keep:
                big = np.ascontiguousarray(value, dtype=np.float64)
                self.bigs.append(big)
                self.big_addrs.append(address_of(big))
            else:
                self.unkept[slot] = len(self.bigs)
                self.bigs.append(_EMPTY)
                self.big_addrs.append(0)  # (the sweep never reads it: see sweep.py)
        elif n == 1:
            self.scalars.append(value.item() if value.__class__ is np.ndarray else value)
        else:
            self.arrays.append(value)
        return slot

    def keep(self, slot: int, value: np.ndarray) -> None:
        """Hold large slot ``slot``'s value after all: a VJP recorded now reads it."""
        i = self.unkept.pop(slot, None)
        if i is not None:
            big = np.ascontiguousarray(value, dtype=np.float64)
            self.bigs[i] = big
            self.big_addrs[i] = address_of(big)

    def keep_read(self, keeps: int, sa: int, a: Tensor, sb: int = -1,
                  b: Tensor | None = None) -> None:
        """Hold the large inputs a record reads (``keeps``: ``Op.keeps``'s bits, 1 for input
        ``a`` in slot ``sa``, 2 for ``b`` in ``sb``) that no earlier record needed."""
        if keeps & 1:
            self.keep(sa, a._v)
        if keeps & 2 and b is not None:
            self.keep(sb, b._v)

    def input_slot(self, t: Tensor) -> int:
        """The slot of a leaf or constant tensor on this tape, registering it on first use."""
        reg = t._lreg
        if reg is not None and reg[0] == self.serial and reg[2] == t._vc[0]:
            return reg[1]  # registered here already, and not changed in place since
        v = t._v
        n = v.size
        if 1 < n < BIG:  # (new_slot's common case, inlined: a new graph starts here)
            offs = self.offs
            slot = len(offs) - 1
            offs.append(offs[-1] + n)
            self.arrays.append(v)
            if v.dtype is not _F64:
                self.mixed = True
        else:
            slot = self.new_slot(v)
            if n == 1 and v.__class__ is np.ndarray:
                self.scalars[-1] = v.reshape(())  # its storage, as for the other sizes
        box = t._vc
        if box is None:
            box = t._version_box()
        if t._rg:
            self.leaves.append((slot, t))
            self.leaf_regs[id(t)] = (slot, box[0])
        else:
            self.consts.append(slot)
        # every input is watched: changing it in place later must not go unnoticed
        self.watch.append((box, box[0], slot, v.shape))
        t._lreg = (self.serial, slot, box[0])
        return slot

    def slot_of(self, t: Tensor) -> int:
        """The slot of any input tensor: its own if it lives here, else registered as an input
        (a leaf, a constant, or -- while compiling -- a value from another tape)."""
        if t._tape is self:
            if t._vc is not None:
                self.watch.append((t._vc, t._vc[0], t._slot, t._v.shape))
            return t._slot
        reg = t._lreg  # (input_slot's first check, inlined: leaves are read op after op)
        if reg is not None and reg[0] == self.serial and reg[2] == t._vc[0]:
            return reg[1]
        return self.input_slot(t)

    def push_ints(self, ints) -> int:
        """Append ints (a tuple or an int array) to the int pool; return their offset."""
        at = len(self.ints)
        if ints.__class__ is tuple or ints.__class__ is array:
            self.ints.extend(ints)
        else:  # (an index map may be long: no Python int per element)
            self.ints.frombytes(np.ascontiguousarray(ints, dtype=np.int64).tobytes())
        return at

    def push_float(self, value: float) -> int:
        self.floats.append(value)
        return len(self.floats) - 1

    def shared_scalar_indices(self) -> list[tuple[int, np.ndarray]]:
        """``(index in scalars, storage)`` of each of ``shared_scalars``."""
        offs = np.array(self.offs, dtype=np.int64)
        one = np.diff(offs) == 1
        one[self.big_slots] = False
        index = np.cumsum(one) - 1
        return [(int(index[slot]), storage) for slot, storage in self.shared_scalars]

    def flat_values(self) -> np.ndarray:
        """Every slot's value, flat, in slot order (the layout of ``offs``); a large value the
        tape did not keep reads as zeros."""
        offs = np.array(self.offs, dtype=np.int64)
        sizes = np.diff(offs)
        big = np.zeros(sizes.size, dtype=bool)
        big[self.big_slots] = True
        kind = np.where(big, 2, np.where(sizes == 1, 1, 0))  # arrays, scalars, bigs
        elements = np.repeat(kind, sizes)
        out = np.zeros(int(offs[-1]))
        if self.arrays:
            out[elements == 0] = np.concatenate(self.arrays, axis=None, dtype=np.float64)
        out[elements == 1] = np.array(self.scalars, dtype=np.float64).reshape(-1)
        for slot, value in zip(self.big_slots, self.bigs, strict=True):
            if value.size:
                out[offs[slot]:offs[slot + 1]] = value.ravel()
        return out

    # -- merging ----------------------------------------------------------------------------

    def absorb(self, other: Tape) -> None:
        """Append ``other``'s records to this tape; ``other`` forwards its tensors here.

        Needed only when one operation combines tensors from two tapes (a graph recorded
        before a backward or a tape closing, used with one recorded after).  A leaf registered
        on both tapes (unchanged since) keeps one slot: its records are pointed at this tape's
        slot, so its gradient is summed by the sweep and delivered once.
        """
        so, ro, io, fo = len(self.offs) - 1, len(self), len(self.ints), len(self.floats)
        slot_map = np.arange(so, so + len(other.offs) - 1, dtype=np.int64)
        leaves = []
        for slot, t in other.leaves:
            there = other.leaf_regs[id(t)]
            here = self.leaf_regs.get(id(t))
            if there[0] == slot and here is not None and here[1] == there[1]:
                slot_map[slot] = here[0]  # the same leaf at the same version: one slot
                continue
            leaves.append((slot + so, t))
            if there[0] == slot:
                self.leaf_regs[id(t)] = (slot + so, there[1])
                reg = t._lreg
                if reg is not None and reg[0] == other.serial and reg[1] == slot:
                    t._lreg = (self.serial, slot + so, reg[2])
        recs = np.array(other.recs, dtype=np.int64).reshape(-1, 6)
        for col in (1, 2, 3):
            column = recs[:, col]
            used = column >= 0
            column[used] = slot_map[column[used]]
        for col, offset in ((4, io), (5, fo)):
            column = recs[:, col]
            column[column >= 0] += offset
        self.recs.frombytes(recs.tobytes())
        self.arrays.extend(other.arrays)
        self.mixed = self.mixed or other.mixed
        self.shared_scalars.extend((s + so, v) for s, v in other.shared_scalars)
        self.scalars.extend(other.scalars)
        base = self.offs[-1]
        self.offs.extend(o + base for o in other.offs[1:])
        self.unkept.update((s + so, i + len(self.bigs)) for s, i in other.unkept.items())
        self.bigs.extend(other.bigs)
        self.big_slots.extend(s + so for s in other.big_slots)
        self.big_addrs.extend(other.big_addrs)
        self.consts.extend(s + so for s in other.consts)
        self.leaves.extend(leaves)
        self.watch.extend((b, v, s + so, sh) for b, v, s, sh in other.watch)
        self.retained.extend((s + so, w) for s, w in other.retained)
        self.ints.extend(other.ints)
        self.floats.extend(other.floats)
        if self.freed is not None or other.freed is not None:
            freed = self.freed if self.freed is not None else array("B")
            freed.frombytes(bytes(ro - len(freed)))
            if other.freed is not None:
                freed.extend(other.freed)
            freed.frombytes(bytes(ro + len(other) - len(freed)))
            self.freed = freed
        other.merged_into, other.slot_offset = self, so
        other.closed = True
        other.recs, other.arrays, other.scalars, other.offs = array("q"), [], [], [0]


def resolve(t: Tensor) -> Tape:
    """The tape a non-leaf tensor lives on, following merges (and updating the tensor)."""
    tape = t._tape
    while tape.merged_into is not None:
        t._slot += tape.slot_offset
        tape = tape.merged_into
    t._tape = tape
    return tape


def open_tape() -> Tape:
    """This thread's open tape for a graph that starts from leaves."""
    if NON_DEFAULT[0] and STATE.compile_tape is not None:
        return STATE.compile_tape
    ref = STATE.tape_ref
    tape = ref() if ref is not None else None
    if tape is None or tape.closed or len(tape.recs) >= _CLOSE_RECS \
            or tape.offs[-1] >= CLOSE_ELEMENTS:
        tape = Tape()
        STATE.tape_ref = weakref.ref(tape)
    return tape


def open_tape_if(serial: int) -> Tape | None:
    """This thread's open tape, if it is the one numbered ``serial``."""
    ref = STATE.tape_ref
    tape = ref() if ref is not None else None
    return tape if tape is not None and tape.serial == serial else None


def tape_for(a: Tensor, b: Tensor | None) -> Tape:
    """The tape an operation on ``a`` (and ``b``) is recorded on, merging two if needed."""
    if NON_DEFAULT[0] and STATE.compile_tape is not None:
        return STATE.compile_tape  # other tapes' values are constants of a compiled one
    ta = a._tape
    tb = b._tape if b is not None else None
    if ta is not None and ta.merged_into is not None:
        ta = resolve(a)
    if tb is not None and tb.merged_into is not None:
        tb = resolve(b)
    if ta is None:
        return tb if tb is not None else open_tape()
    if tb is None or tb is ta:
        return ta
    small, large = (ta, tb) if len(ta) < len(tb) else (tb, ta)
    large.absorb(small)
    resolve(a)
    resolve(b)
    return large


def tape_for_all(tensors) -> Tape:
    """The tape an operation on several tensors is recorded on (merging theirs into one)."""
    if STATE.compile_tape is not None:
        return STATE.compile_tape
    tapes = []
    for t in tensors:
        if t._tape is not None:
            tape = resolve(t)
            if all(tape is not other for other in tapes):
                tapes.append(tape)
    if not tapes:
        return open_tape()
    target = max(tapes, key=len)
    for tape in tapes:
        if tape is not target:
            target.absorb(tape)
    for t in tensors:
        if t._tape is not None:
            resolve(t)
    return target
