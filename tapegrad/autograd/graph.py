"""The backward pass as tensor operations: what ``create_graph=True`` runs.

Without ``create_graph`` a backward is one numba sweep over the records (``engine.py``).  With
it, the gradient must itself be a recorded computation that can be differentiated again, so this
module walks the same records in reverse in Python and calls each op's *graph rule*
(``Op.graph``, see ``ops/registry.py``): the op's VJP written with tensor operations, which
record on a tape like any user code.  Python per record is the price of a differentiable
gradient; torch pays it too (one node call per op).

The values a rule reads are the tape's own, wrapped as tensors that stand for their slots
(:meth:`_TapeView.handle`): an operation on one records a reference to that slot, so the new
records connect to the old graph, and a second backward runs through both.  Inside
``tg.compile`` everything lands on the one compile tape, so a function that differentiates
inside replays, forward and reverse, in numba.
"""

from __future__ import annotations

import functools
from array import array
from typing import TYPE_CHECKING

import numpy as np

from .. import engine, hooks
from ..ops import OPS
from ..ops.pyfunction import FUNCTION
from ..ops.registry import READS_A, READS_B, READS_Y, Record
from ..recording import _wrap
from ..tape import sweep_order
from ..tensor import Tensor
from . import function

if TYPE_CHECKING:
    from ..tape import Tape

_new = object.__new__
_F64 = np.dtype(np.float64)


class _TapeView:
    """One tape as the sweep reads it: the records and slots there were when it started (the
    rules may append to the same tape), each slot's value as a tensor, which slots need a
    gradient."""

    def __init__(self, tape: Tape, record: bool, last_slot: int | None = None) -> None:
        self.tape = tape
        self.record = record  # whether handles are tensors on the tape (create_graph)
        n_recs = len(tape.recs) // 6
        if last_slot is not None and n_recs:
            # records making later slots than the outputs' cannot lead to them (an open tape
            # holds every graph recorded since its last backward)
            outs = np.frombuffer(tape.recs, np.int64)[1:6 * n_recs:6]
            n_recs = int(np.searchsorted(outs, last_slot, side="right"))
            del outs  # (a live view would stop the tape's array from growing)
        self.n_recs = n_recs
        self.recs = tape.recs[:6 * n_recs].tolist()
        offs = tape.offs
        self.n_slots = n_slots = len(offs) - 1
        self.sizes, self.kinds, self.index = _places(offs, n_slots, tape.big_slots)
        self.shared = dict(tape.shared_scalars) if tape.shared_scalars else {}
        self.leaves = dict(tape.leaves)
        self.links = {slot: (there, at) for slot, there, at in tape.links}
        self.consts = set(tape.consts)
        # one-element inputs' shapes (the tape keeps their values as numbers)
        self.input_shapes = {slot: shape for _, _, slot, shape in tape.watch}
        self.handles: dict[int, Tensor] = {}
        self.shapes: dict[int, tuple | None] = {}
        need = bytearray(n_slots)
        for slot in self.leaves:
            need[slot] = 1
        for slot in self.links:
            need[slot] = 1
        recs = self.recs
        for i in range(0, len(recs), 6):
            out, a, b = recs[i + 1], recs[i + 2], recs[i + 3]
            if (a >= 0 and need[a]) or (b >= 0 and need[b]):
                need[out] = 1
        for slot in self.consts:
            if slot < n_slots:
                need[slot] = 0
        self.need = need

    def value(self, slot: int) -> np.ndarray:
        tape = self.tape
        kind = self.kinds[slot]
        if kind == _ONE:
            storage = self.shared.get(slot)
            v = storage if storage is not None else tape.scalars[self.index[slot]]
            v = np.array(v, dtype=v.dtype if hasattr(v, "dtype") else _F64)
            shape = self.input_shapes.get(slot)
            return v.reshape(shape) if shape is not None else v.reshape(())
        if kind == _BIG:
            v = tape.bigs[self.index[slot]]
            if v.size == 0 and self.sizes[slot]:
                raise RuntimeError(_UNKEPT)
            return v
        return tape.arrays[self.index[slot]]

    def handle(self, slot: int, views: dict) -> Tensor:
        """Slot ``slot``'s value as a tensor: the leaf itself, the linked tape's handle, or a
        tensor standing for the slot (a constant: a plain tensor)."""
        h = self.handles.get(slot)
        if h is not None:
            return h
        leaf = self.leaves.get(slot)
        if leaf is not None:
            h = leaf
        elif slot in self.links:
            there, at = self.links[slot]
            h = _view(there, views, self.record).handle(at, views)
        else:
            v = self.value(slot)
            if not self.record or slot in self.consts:
                h = _wrap(v)
            else:
                h = _new(Tensor)
                h._v, h._tape, h._slot, h._vc = v, self.tape, slot, None
        self.handles[slot] = h
        return h

    def shape(self, slot: int) -> tuple | None:
        """The shape a gradient of ``slot`` takes (None: any, a value the tape did not keep)."""
        shape = self.shapes.get(slot, _UNKNOWN)
        if shape is _UNKNOWN:
            shape = self.shapes[slot] = self._shape(slot)
        return shape

    def _shape(self, slot: int) -> tuple | None:
        kind = self.kinds[slot]
        if kind == _ONE:
            return self.input_shapes.get(slot, ())
        if kind == _BIG:
            v = self.tape.bigs[self.index[slot]]
            return v.shape if v.size else None
        return self.tape.arrays[self.index[slot]].shape


#: where a tape keeps a slot's value: ``scalars``, ``arrays`` or ``bigs`` (see tape.py)
_ONE, _ARRAY, _BIG = 0, 1, 2


def _places(offs: list, n_slots: int, big_slots) -> tuple[list, list, list]:
    """Per slot: its size, where its value is kept (``_ONE``...) and its index there."""
    big_index = {slot: i for i, slot in enumerate(big_slots)} if big_slots else {}
    if n_slots > 4096:  # (NumPy's passes beat Python's loop on long tapes)
        sizes = np.diff(np.array(offs[:n_slots + 1], dtype=np.int64))
        big = np.zeros(n_slots, dtype=bool)
        big[[s for s in big_index if s < n_slots]] = True
        one = (sizes == 1) & ~big
        kinds = np.where(big, _BIG, np.where(one, _ONE, _ARRAY))
        index = np.where(one, np.cumsum(one) - 1, np.cumsum(~one & ~big) - 1)
        for slot, i in big_index.items():
            if slot < n_slots:
                index[slot] = i
        return sizes.tolist(), kinds.tolist(), index.tolist()
    sizes = [offs[s + 1] - offs[s] for s in range(n_slots)]
    kinds, index = [], []
    n_one = n_array = 0
    for slot, n in enumerate(sizes):
        if big_index and slot in big_index:
            kinds.append(_BIG)
            index.append(big_index[slot])
        elif n == 1:
            kinds.append(_ONE)
            index.append(n_one)
            n_one += 1
        else:
            kinds.append(_ARRAY)
            index.append(n_array)
            n_array += 1
    return sizes, kinds, index


_FUNCTION = FUNCTION.code
_UNKNOWN = object()
_record_of = functools.partial(tuple.__new__, Record)
_UNKEPT = ("a value needed to differentiate the gradient was not kept by the tape; record the "
           "graph again")


def _view(tape: Tape, views: dict, record: bool, last_slot: int | None = None) -> _TapeView:
    view = views.get(id(tape))
    if view is None:
        view = views[id(tape)] = _TapeView(tape, record, last_slot)
    return view


def _add(grads: dict, key, g: Tensor, shape: tuple | None) -> None:
    if shape is not None and g._v.shape != shape:
        g = g.reshape(shape)
    old = grads.get(key)
    grads[key] = g if old is None else old + g


class Found:
    """What a sweep delivers: ``leaves`` ``{id(leaf): (leaf, gradient)}``, ``slots``
    ``{(id(tape), slot): gradient}`` for the non-leaf targets, ``retained`` ``[(tensor,
    gradient)]`` for the ``retain_grad`` tensors reached."""

    def __init__(self) -> None:
        self.leaves: dict = {}
        self.slots: dict = {}
        self.retained: list = []

    def leaf(self, t: Tensor, g: Tensor) -> None:
        old = self.leaves.get(id(t))
        if g._v.shape != t._v.shape:
            g = g.reshape(t._v.shape)
        self.leaves[id(t)] = (t, g if old is None else old[1] + g)

    def of(self, t: Tensor) -> Tensor | None:
        """``t``'s gradient (None: not reached)."""
        if t._tape is None or t._stop:
            found = self.leaves.get(id(t))
            return found[1] if found is not None else None
        return self.slots.get((id(t._tape), t._slot))


def sweep(outputs: list[Tensor], seeds: list[Tensor], record: bool, retain_graph: bool,
          targets: tuple | None = None) -> Found:
    """Backpropagate ``seeds`` from ``outputs`` through their tapes with the graph rules, to
    every leaf reached and to the non-leaves of ``targets``.  ``record``: whether the rules'
    operations are recorded (create_graph) -- the caller sets grad mode to match."""
    from ..engine import FREED_MESSAGE, _raise_stale

    grads: dict = {}
    found = Found()
    roots = []
    for t, g in zip(outputs, seeds, strict=True):
        if t._tape is None or t._stop:  # a leaf: its gradient is the seed itself
            found.leaf(t, g)
        else:
            _add(grads, (id(t._tape), t._slot), g, None)
            roots.append(t._tape)
    wanted = {(id(t._tape), t._slot) for t in targets or () if t._tape is not None}
    views: dict = {}
    last = {}  # id(tape) -> the latest output slot there
    for t in outputs:
        if t._tape is not None and not t._stop:
            last[id(t._tape)] = max(last.get(id(t._tape), -1), t._slot)
    for tape in sweep_order(roots):
        view = _view(tape, views, record, last.get(id(tape)))
        tid = id(tape)
        recs, need = view.recs, view.need
        stale = {slot for box, version, slot, _ in tape.watch if box[0] != version}
        freed = tape.freed
        hooked = _Hooked(tape, tid, grads)
        below = view.n_recs  # (records from here up belong to a Function call already run)
        handles, handle, sizes, ints, floats = view.handles, view.handle, view.sizes, \
            tape.ints, tape.floats
        for r in range(view.n_recs - 1, -1, -1):
            i = 6 * r
            out = recs[i + 1]
            g = grads.get((tid, out))
            if g is None or r >= below:
                continue
            code, _, a, b, ip, fp = recs[i:i + 6]
            if hooked.slots:  # (tensor hooks, on a slot's gradient once it is complete)
                g = hooked.gradient(out)
            need_a = a >= 0 and need[a] == 1
            need_b = b >= 0 and need[b] == 1
            if not (need_a or need_b):
                continue
            if code == _FUNCTION:  # a custom Function: its backward, for the whole call
                below, found_in = function.graph_call(tape, r, hooked.gradient, record,
                                                      retain_graph)
                for slot, gi in found_in:
                    if gi is not None and need[slot] == 1:
                        _add(grads, (tid, slot), gi, view.shape(slot))
                continue
            op = OPS[code]
            if freed is not None and r < len(freed) and freed[r] and op.saves:
                raise RuntimeError(FREED_MESSAGE)
            if stale:
                reads = (op.reads_a if need_a else 0) | (op.reads_b if need_b else 0)
                for bit, slot in ((READS_A, a), (READS_B, b), (READS_Y, out)):
                    if reads & bit and slot in stale:
                        _raise_stale(tape, r, slot)
            rule = op.graph
            if rule is None:
                raise NotImplementedError(
                    f"tapegrad cannot differentiate the backward of {op.name} yet "
                    "(create_graph=True)")
            keeps = op.keeps  # (the values the tape holds for this op; a rule reads no other)
            # (the handles' lookups inlined: this loop is the create_graph path's own cost)
            ha = hb = hy = None
            if a >= 0 and keeps & READS_A:
                ha = handles.get(a)
                if ha is None:
                    ha = handle(a, views)
            if b >= 0 and keeps & READS_B:
                hb = handles.get(b)
                if hb is None:
                    hb = handle(b, views)
            if keeps & READS_Y:
                hy = handles.get(out)
                if hy is None:
                    hy = handle(out, views)
            ga, gb = rule(g, ha, hb, hy,  # (Record's fields, without its Python __new__)
                          _record_of((ints, ip, floats, fp, tape, r, need_a, need_b)))
            if need_a and ga is not None:
                if ga._v.size != sizes[a]:
                    _wrong_size(ga, sizes[a], op)
                _add(grads, (tid, a), ga, view.shape(a))
            if need_b and gb is not None:
                if gb._v.size != sizes[b]:
                    _wrong_size(gb, sizes[b], op)
                _add(grads, (tid, b), gb, view.shape(b))
            if not retain_graph:
                if tape.freed is None:
                    tape.freed = freed = array("B", bytes(view.n_recs))
                elif len(tape.freed) < view.n_recs:
                    tape.freed.frombytes(bytes(view.n_recs - len(tape.freed)))
                    freed = tape.freed
                freed[r] = 1
        for key in wanted:
            if key[0] == tid and key in grads:
                found.slots[key] = grads[key]
        for slot, leaf in tape.leaves:
            g = grads.get((tid, slot))
            if g is not None:
                found.leaf(leaf, g)
        for slot, there, at in tape.links:
            g = grads.get((tid, slot))
            if g is not None:
                _add(grads, (id(there), at), g, None)
        for slot, ref in tape.retained:
            kept = ref()
            g = grads.get((tid, slot))
            if kept is not None and g is not None:
                found.retained.append((kept, g))
    if engine._leaf_hooks:  # (each leaf's hooks once, on its gradient summed over all tapes)
        for key, (leaf, g) in found.leaves.items():
            if targets is None or any(t is leaf for t in targets):
                found.leaves[key] = (leaf, hooks.run_leaf_hooks(leaf, g))
    return found


class _Hooked:
    """A tape's slot gradients as the tensor hooks leave them: each hooked slot's hooks run
    once, when its gradient is first read (complete: the sweep is at its topmost writer)."""

    def __init__(self, tape, tid: int, grads: dict) -> None:
        table = getattr(tape, "hooks", None)
        self.slots = {slot for slot, h in table.items() if h} if table else ()
        self.tape, self.tid, self.grads = tape, tid, grads

    def gradient(self, slot: int) -> Tensor | None:
        key = (self.tid, slot)
        g = self.grads.get(key)
        if g is not None and slot in self.slots:
            self.slots.discard(slot)
            g = self.grads[key] = hooks.run_slot_hooks(self.tape, slot, g)
        return g


def _wrong_size(g: Tensor, size: int, op) -> None:
    # a rule's result of another size would broadcast silently in the sums that follow
    raise AssertionError(f"the graph rule of {op.name} gave a gradient of {g._v.size} elements "
                         f"for an input of {size}")
