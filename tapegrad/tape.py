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
reads in place, by address.  The others are lists (a list append costs ~30 ns less than an
``array`` append, and they grow once per recorded op); at backward the sweep reads the values
from ``scalars`` and ``arrays`` themselves (see ``kernels/abi.py``), and ``offs`` is copied into
its call frame (so are the values of a large tape).
Values are held by reference, not copied: as torch's saved tensors, they see a change made to
their storage through ``.data`` or NumPy, which bumps no version (changes that do bump one make
the sweep refuse, see ``watch``).

A *slot* is one value: a record's output, or an input that entered the tape from outside
(a leaf that requires grad, a constant, or a *link*: a tensor recorded on another, older tape).
No Python object per operation survives: the backward pass hands these lists and arrays to
numba as they are (a large tape's values packed first).

Lifetime: tensors hold their tape; the tape holds no tensor except the leaves it must deliver
gradients to, and the tapes it links to.  A tape is freed as soon as no live tensor and no
linking tape refers to it.  Each thread records new graphs on one open tape; the tape is closed
(later graphs start a fresh one) by ``backward`` or once it is large, so a loop that never calls
backward still frees old steps' tapes.  An op reading a tensor of a closed tape (or tensors of
two tapes) records on the open tape, which links to the other: records are never appended to an
older tape, so a long-lived tensor keeps its own graph alive, not every later graph that read
it.  A backward continues along the links (``engine._continue``).

Integrity: every append sequence (a record, or an input's registration) runs while its thread
holds the tape, ``closed`` set to :data:`BUSY`, which every other thread reads as closed (it then
records on its own open tape, linking to this one).  Taking the tape is its test and its set with
no call between them, so no other Python thread can run in between: two threads never interleave
appends, whichever of them opened the tape.  Closing waits for that too (a backward, see
``engine._freeze``) or leaves it to the holder (a rollover: the tape is then no thread's open tape
and takes no new graphs).  An exception that lands in such a sequence (Ctrl-C) closes the tape
for good: the thread's next graph starts on a fresh tape, and a backward through the interrupted
one first checks that its lists are in step (see ``engine._check``).
"""

from __future__ import annotations

import itertools
import operator
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
#: an open tape takes no new graphs once it has this many records or value elements: what a
#: long-lived tensor can keep of the graphs recorded after it on its tape (16 MB of values).
#: Not less: a graph that outgrows its tape continues on the next one, and each op reading the
#: older tape then takes the general path, and a backward sweeps both tapes (scalar-mlp
#: records 13,000 values, rosenbrock-100000 1.1 million).
CLOSE_RECORDS = 1 << 15
CLOSE_ELEMENTS = 1 << 21
_CLOSE_RECS = 6 * CLOSE_RECORDS  # (the length of ``recs`` then)
#: ``tape.closed`` while a thread appends to the tape (truthy: read as closed by every other)
BUSY = 2

#: a tape of fewer value elements keeps its values after backward (see ``Tape.release``)
RELEASE_MIN = 1024
_ZEROS: dict[int, np.ndarray] = {}


def _zeros(n: int) -> np.ndarray:
    """A read-only float64 zero array of ``n`` elements, shared (what a released value reads
    as: see ``Tape.release``)."""
    z = _ZEROS.get(n)
    if z is None:
        if len(_ZEROS) >= 256:
            _ZEROS.clear()
        z = _ZEROS[n] = np.zeros(n)
        z.flags.writeable = False
    return z


#: one record's bytes: ``tape.recs.frombytes(RECORD(op, out, a, b, ip, fp))``
RECORD = struct.Struct("6q").pack

_EMPTY = np.empty(0)
_SIZE = operator.attrgetter("size")
_NO_INTS, _NO_FLOATS = array("q"), array("d")
_F64 = np.dtype(np.float64)
_serials = itertools.count(1)
#: what a tape's rarely used containers hold until their first item (see ``appended``): a
#: new tape makes only the lists every graph uses, a third less time
_NONE = ()


def appended(items, item):
    """``items`` with ``item`` appended, made a list if it was still the shared empty tuple.
    (``tape.consts = appended(tape.consts, slot)``.)"""
    if items:
        items.append(item)
        return items
    return [item]


class Tape:
    __slots__ = ("recs", "offs", "scalars", "shared_scalars", "arrays", "bigs", "big_slots",
                 "big_addrs", "unkept", "consts", "leaves", "links", "watch", "retained",
                 "ints", "floats", "freed", "closed", "serial", "guards", "mixed",
                 "calls", "hooks", "__weakref__")
    # ``calls`` (autograd/function.py) and ``hooks`` (hooks.py) are set only on the tapes that
    # use them: read them with getattr(tape, name, None)

    def __init__(self) -> None:
        self.recs = _NO_INTS[:]  # (copies of empty arrays: half the time of array("q"))
        self.offs = [0]
        self.scalars: list = []
        # (slot, 0-d array): one-element values recorded as NumPy scalars whose tensors have
        # since been given an array storage (to share it through .data, a view, detach): that
        # array is read at backward, as torch's saved tensor shares the storage
        self.shared_scalars: list[tuple[int, np.ndarray]] = _NONE
        self.arrays: list[np.ndarray] = []
        self.bigs: list[np.ndarray] = _NONE  # large values, kept alive while read by address
        self.big_slots: list[int] = _NONE
        self.big_addrs: list[int] = _NONE
        # large values not kept (yet): no VJP recorded so far reads them, so -- as torch saves
        # only what its backward needs -- their memory is freed with their tensors;
        # slot -> index in ``bigs``
        self.unkept: dict[int, int] = _NONE
        self.consts: list[int] = _NONE  # slots whose gradient nobody needs
        self.leaves: list[tuple[int, Tensor]] = []  # slots that deliver into a leaf's .grad
        # (slot, tape, slot there): a value read from an older tape; its gradient goes on there
        self.links: list[tuple[int, Tape, int]] = _NONE
        self.watch: list[tuple[list, int, int, tuple]] = []  # (version box, version, slot, shape)
        self.retained: list[tuple[int, object]] = _NONE  # (slot, weakref: retain_grad tensor)
        self.ints = _NO_INTS[:]
        self.floats = _NO_FLOATS[:]
        # per record, set once its saved values are released (made, then grown, by backward)
        self.freed: array | None = None
        self.closed = False  # (or BUSY)
        self.serial = next(_serials)
        self.guards: list = _NONE  # tg.compile only: values that left the tape for Python
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
            self.big_slots = appended(self.big_slots, slot)
            if keep:
                big = np.ascontiguousarray(value, dtype=np.float64)
                self.bigs = appended(self.bigs, big)
                self.big_addrs = appended(self.big_addrs, address_of(big))
            else:
                if not self.unkept:
                    self.unkept = {}
                self.unkept[slot] = len(self.bigs)
                self.bigs = appended(self.bigs, _EMPTY)
                self.big_addrs = appended(self.big_addrs, 0)  # (the sweep never reads it)
        elif n == 1:
            self.scalars.append(self.one_element(slot, value) if value.__class__ is np.ndarray
                                else value)
        else:
            self.arrays.append(value)
        return slot

    def keep(self, slot: int, value: np.ndarray) -> None:
        """Hold large slot ``slot``'s value after all: a VJP recorded now reads it."""
        i = self.unkept.get(slot) if self.unkept else None
        if i is not None:
            big = np.ascontiguousarray(value, dtype=np.float64)
            self.bigs[i] = big
            self.big_addrs[i] = address_of(big)
            del self.unkept[slot]  # (last: until here an interrupted keep is redone)

    def keep_read(self, keeps: int, sa: int, a: Tensor, sb: int = -1,
                  b: Tensor | None = None) -> None:
        """Hold the large inputs a record reads (``keeps``: ``Op.keeps``'s bits, 1 for input
        ``a`` in slot ``sa``, 2 for ``b`` in ``sb``) that no earlier record needed."""
        if keeps & 1:
            self.keep(sa, a._v)
        if keeps & 2 and b is not None:
            self.keep(sb, b._v)

    def input_slot(self, t: Tensor) -> int:
        """The slot of a leaf, a constant or another tape's value on this tape, registering it
        on first use."""
        reg = t._lreg
        if reg is not None and reg[0] == self.serial and reg[2] == t._vc[0]:
            return reg[1]  # registered here already, and not changed in place since
        v = t._v
        n = v.size
        if 1 < n < BIG:  # (new_slot's common case, inlined: a new graph starts here)
            if v.dtype is not _F64:  # (before the append: never an unflagged odd array)
                self.mixed = True
            offs = self.offs
            slot = len(offs) - 1
            offs.append(offs[-1] + n)
            self.arrays.append(v)
        elif n == 1 and v.__class__ is np.ndarray:
            # its storage itself, read in place at backward as for the other sizes (so not
            # one of ``shared_scalars``, which a backward must look up)
            offs = self.offs
            slot = len(offs) - 1
            offs.append(offs[-1] + 1)
            self.scalars.append(v.reshape(()))
        else:
            slot = self.new_slot(v)
        box = t._vc
        if box is None:
            box = t._version_box()
        if t._rg:
            self.leaves.append((slot, t))
        elif t._tape is not None and self is not STATE.compile_tape:
            # a recorded value of another tape (while compiling, a constant): its gradient
            # continues on that tape, from its slot there
            self.links = appended(self.links, (slot, t._tape, t._slot))
        else:
            self.consts = appended(self.consts, slot)
        # every input is watched: changing it in place later must not go unnoticed
        self.watch.append((box, box[0], slot, v.shape))
        t._lreg = (self.serial, slot, box[0])
        return slot

    def slot_of(self, t: Tensor) -> int:
        """The slot of any input tensor: its own if it lives here, else registered as an input
        (a leaf, a constant, or a value from another tape)."""
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

    def release(self) -> None:
        """Drop the values that no record left to sweep reads, after a backward that freed
        records (without ``retain_graph``): as torch frees a graph's saved tensors, so a loss
        kept after its backward holds its records, not its values.

        Each dropped value is replaced by a shared zero array of its size (a one-element one
        by 0.0), so the sweep's layout holds; only records whose VJPs read no value can be swept
        again, and those never read them (a record that saves values raises at a second
        backward, ``freed``)."""
        freed = self.freed
        if freed is None or len(self.offs) - 1 < 2 or self.offs[-1] < RELEASE_MIN:
            return  # (too small to matter: the records themselves weigh more)
        n_recs = len(self.recs) // 6
        if freed.tobytes().find(0, 0, n_recs) < 0:  # every record swept: drop every value
            # (a memchr over the bytes: array.count compares element by element, as objects)
            self.scalars = [0.0] * len(self.scalars)
            sizes = list(map(_SIZE, self.arrays))
            try:  # (C-level maps over the cached zeros: a Python loop costs ~1 us a backward)
                self.arrays = list(map(_ZEROS.__getitem__, sizes))
            except KeyError:
                self.arrays = list(map(_zeros, sizes))
            if self.bigs:
                self.bigs = [_EMPTY] * len(self.bigs)
                self.big_addrs = [0] * len(self.big_addrs)
            self.shared_scalars = self.unkept = _NONE
            return
        # some records are still to be swept (another output of this tape, say): keep what
        # they read (conservatively, every slot they touch)
        if len(self.offs) <= 257:
            self._release_small(n_recs)
            return
        recs = np.array(self.recs, dtype=np.int64).reshape(-1, 6)
        live = recs[np.frombuffer(freed, np.uint8)[:n_recs] == 0][:, 1:4].ravel()
        keep = np.zeros(len(self.offs) - 1, dtype=bool)
        keep[live[live >= 0]] = True
        sizes = np.diff(np.array(self.offs, dtype=np.int64))
        big = np.zeros(sizes.size, dtype=bool)
        big[list(self.big_slots)] = True
        one = (sizes == 1) & ~big
        many = ~one & ~big
        for i in np.flatnonzero(~keep[one]).tolist():
            self.scalars[i] = 0.0
        arrays = self.arrays
        for i in np.flatnonzero(~keep[many]).tolist():
            arrays[i] = _zeros(arrays[i].size)
        for i, slot in enumerate(self.big_slots):
            if not keep[slot]:
                self.bigs[i] = _EMPTY
                self.big_addrs[i] = 0
        if self.shared_scalars:
            self.shared_scalars = [(slot, v) for slot, v in self.shared_scalars if keep[slot]]

    def _release_small(self, n_recs: int) -> None:
        """``release`` of some slots of a tape of few slots: Python's loops beat NumPy's calls
        there (a Hessian-vector product's second sweep leaves some of the first's records)."""
        freed, recs = self.freed, self.recs
        live = set()
        for r in range(n_recs):
            if not freed[r]:
                live.update(recs[6 * r + 1:6 * r + 4])
        offs, scalars, arrays = self.offs, self.scalars, self.arrays
        big = set(self.big_slots) if self.big_slots else ()
        n_one = n_array = 0
        for slot in range(len(offs) - 1):
            if big and slot in big:
                if slot not in live:
                    i = self.big_slots.index(slot)
                    self.bigs[i] = _EMPTY
                    self.big_addrs[i] = 0
            elif offs[slot + 1] - offs[slot] == 1:
                if slot not in live:
                    scalars[n_one] = 0.0
                n_one += 1
            else:
                if slot not in live:
                    arrays[n_array] = _zeros(arrays[n_array].size)
                n_array += 1
        if self.shared_scalars:
            self.shared_scalars = [(slot, v) for slot, v in self.shared_scalars if slot in live]

    def share_last(self, slot: int, storage: np.ndarray) -> None:
        """Read slot ``slot`` -- the latest slot made -- from ``storage`` from now on: the array
        an in-place op or a ``.data`` assignment left in a tensor, whose later changes through
        ``.data`` or NumPy backward must see, as torch's saved tensor shares the storage."""
        offs = self.offs
        if slot != len(offs) - 2:
            return
        n = offs[-1] - offs[-2]
        if n == 1:
            self.shared_scalars = appended(self.shared_scalars, (slot, storage.reshape(())))
        elif n < BIG:
            self.arrays[-1] = storage
        elif not (self.unkept and slot in self.unkept):
            big = np.ascontiguousarray(storage, dtype=np.float64)
            self.bigs[-1] = big
            self.big_addrs[-1] = address_of(big)

    def share_slot(self, slot: int, storage: np.ndarray) -> None:
        """Read slot ``slot``'s value from ``storage`` from now on (a ``.data`` assignment:
        every record reading the slot sees it, as torch's saved inputs do)."""
        offs = self.offs
        n = offs[slot + 1] - offs[slot]
        if n == 1:
            self.shared_scalars = appended(self.shared_scalars, (slot, storage.reshape(())))
        elif n >= BIG:
            i = list(self.big_slots).index(slot)
            if self.bigs[i].size:  # (one not kept is taken from the tensor if a VJP needs it)
                big = np.ascontiguousarray(storage, dtype=np.float64)
                self.bigs[i] = big
                self.big_addrs[i] = address_of(big)
        else:
            sizes = np.diff(np.array(offs[:slot + 1], dtype=np.int64))
            index = int(np.count_nonzero(sizes != 1)) - sum(1 for s in self.big_slots
                                                            if s < slot)
            self.arrays[index] = storage
            if storage.dtype.itemsize == 8 and storage.dtype != np.float64:
                self.mixed = True

    def resolve_shared(self) -> None:
        """Put each of ``shared_scalars`` into ``scalars`` in place of the number it replaces,
        so the sweep reads the storage where the tape holds its values; one that cannot be read
        so (not float64) stays in ``shared_scalars`` (read then from the packed copy)."""
        left = False
        scalars = self.scalars
        offs = self.offs
        last = len(offs) - 2
        indices = []
        for slot, storage in self.shared_scalars:
            if last - slot > 16:  # (far from the end: all at once, from the offsets)
                indices = self.shared_scalar_indices()
                break
            # (near the end -- a chain's result, read once recorded: count back from there)
            index = len(scalars) - 1
            for s in range(last, slot, -1):
                if offs[s + 1] - offs[s] == 1:
                    index -= 1
            indices.append((index, storage))
        for index, storage in indices:
            if storage.dtype is _F64:
                scalars[index] = storage
            else:
                left = True
        if not left:  # (else all stay: the packed copy applies them in order)
            self.shared_scalars = _NONE

    def one_element(self, slot: int, value: np.ndarray) -> float:
        """A one-element array value's number for ``scalars``; the array itself is read at
        backward (see :meth:`resolve_shared`), as torch's saved tensor shares its storage."""
        self.shared_scalars = appended(self.shared_scalars, (slot, value.reshape(())))
        return value.item()

    def shared_scalar_indices(self) -> list[tuple[int, np.ndarray]]:
        """``(index in scalars, storage)`` of each of ``shared_scalars``."""
        offs = np.array(self.offs, dtype=np.int64)
        one = np.diff(offs) == 1
        one[list(self.big_slots)] = False
        index = np.cumsum(one) - 1
        return [(int(index[slot]), storage) for slot, storage in self.shared_scalars]

    def flat_values(self) -> np.ndarray:
        """Every slot's value, flat, in slot order (the layout of ``offs``); a large value the
        tape did not keep reads as zeros."""
        offs = np.array(self.offs, dtype=np.int64)
        sizes = np.diff(offs)
        big = np.zeros(sizes.size, dtype=bool)
        big[list(self.big_slots)] = True
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

    def grad_receivers(self) -> list[Tensor]:
        """The tensors whose ``.grad`` a backward through this tape may change: the leaves and
        the live ``retain_grad`` tensors of this tape and of the tapes it links to."""
        found = []
        for tape in self.reachable():
            found += [leaf for _, leaf in tape.leaves]
            found += [kept for kept in (ref() for _, ref in tape.retained) if kept is not None]
        return found

    def reachable(self) -> list[Tape]:
        """This tape and every tape its links lead to, each after all tapes that link to it
        (the order a backward sweeps them in)."""
        return sweep_order([self])


def sweep_order(roots: list[Tape]) -> list[Tape]:
    """The tapes reachable from ``roots`` along their links, each after every tape that links
    to it: the order a backward sweeps them in."""
    order: list[Tape] = []
    seen: set[int] = set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.links))]
        while stack:  # (a depth-first walk; its post-order, reversed, is the order)
            tape, links = stack[-1]
            for _, there, _ in links:
                if id(there) not in seen:
                    seen.add(id(there))
                    stack.append((there, iter(there.links)))
                    break
            else:
                stack.pop()
                order.append(tape)
    order.reverse()
    return order


def open_tape() -> Tape:
    """This thread's open tape for a graph that starts from leaves.  (A caller takes it before
    appending -- ``while tape.closed: tape = open_tape()``, then ``tape.closed = BUSY`` -- and
    lets it go after: ``tape.closed = False``.)"""
    if NON_DEFAULT[0] and STATE.compile_tape is not None:
        return STATE.compile_tape
    ref = STATE.tape_ref
    tape = ref() if ref is not None else None
    if tape is None or tape.closed or len(tape.recs) >= _CLOSE_RECS \
            or tape.offs[-1] >= CLOSE_ELEMENTS:
        if tape is not None and tape.closed is not BUSY:  # (if another thread holds it, it
            tape.closed = True  # stays open, but no thread's: new graphs go on the new tape)
        tape = Tape()
        STATE.tape_ref = weakref.ref(tape)
    return tape


def open_tape_if(serial: int) -> Tape | None:
    """This thread's open tape, if it is the one numbered ``serial``."""
    ref = STATE.tape_ref
    tape = ref() if ref is not None else None
    return tape if tape is not None and tape.serial == serial else None


def tape_for(a: Tensor, b: Tensor | None) -> Tape:
    """The tape an operation on ``a`` (and ``b``) is recorded on (taken as open_tape's)."""
    return tape_for_all((a,) if b is None else (a, b))


def tape_for_all(tensors) -> Tape:
    """The tape an operation on several tensors is recorded on: theirs, if they are all on one
    tape still open; else this thread's open tape, which then links to the others' tapes.

    A graph is never appended to another tape's records: a long-lived tensor's tape would
    otherwise keep every later graph that reads it (torch frees a graph with its outputs).
    """
    if NON_DEFAULT[0] and STATE.compile_tape is not None:
        return STATE.compile_tape  # other tapes' values are constants of a compiled one
    tape = None
    for t in tensors:
        there = t._tape
        if there is not None and there is not tape:
            if tape is not None or there.closed:
                return open_tape()
            tape = there
    return tape if tape is not None else open_tape()


def interrupted(tape: Tape) -> None:
    """An exception landed while this thread held ``tape`` (or was about to): close it for good,
    whatever its lists hold (a compile tape is left to tg.compile, which drops it)."""
    if tape is not None and tape is not STATE.compile_tape:
        tape.closed = True
    elif tape is not None:
        tape.closed = False
