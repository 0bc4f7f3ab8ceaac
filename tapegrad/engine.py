"""backward(): hand a tape to the numba sweep and deliver the gradients.

The Python work here is per *backward call* (writing the kernel's call frame: the offsets, and
for a large tape its small values) and per *leaf* (storing ``.grad``), never per record: the
records are swept by the generated backward kernel, which also lays out the slots and reads a
small tape's values from the tape's own lists.  The kernel takes one argument, the address of
a frame holding everything else (``kernels/abi.py``), and is loaded by ``kernels/native.py``.
"""

from __future__ import annotations

import ctypes
import inspect
import struct
import threading
import time
import weakref
from array import array
from typing import TYPE_CHECKING, Any

import numpy as np

from . import heap
from .kernels import abi
from .kernels.abi import (
    BLAS,
    FLAGS,
    FREED,
    HAS_GRAD,
    HEADER,
    HOOK,
    HOOKED,
    MISSING,
    NEED,
    OBJECT_LAYOUT,
    OK,
    PER_TAPE,
    REPACK,
    SCRATCH_EXTRA,
    SCRATCH_PER_SLOT,
    STALE,
    address_of,
)
from .ops import OPS
from .ops.linalg import blas_vjp, product_params
from .ops.pyfunction import PYTHON_CODES
from .ops.registry import ADD, ASSIGN
from .tape import BUSY, RELEASE_MIN

if TYPE_CHECKING:
    from .tensor import Tensor

_ONE = np.ones(1)
# what the sweep reads the tape's lists in place by (kept alive here), or 0: never
_LAYOUT_ADDRESS = address_of(OBJECT_LAYOUT) if OBJECT_LAYOUT is not None else 0
#: tapes of fewer value elements have their values read in place by the sweep, which holds the
#: GIL meanwhile (a larger one's values are packed, and its sweep lets other threads run)
IN_PLACE_MAX = 1 << 16
_NO_AUX = np.zeros(2, np.int64)  # no big values, no constants, nothing stale
_NO_AUX_ADDRESS, _ONE_ADDRESS = address_of(_NO_AUX), address_of(_ONE)
_packers: dict = {}


def _new_packer(n_offsets: int):
    """``pack_into`` of a frame's fields of one tape (PER_TAPE on) and its ``n_offsets`` slot
    offsets; kept in ``_packers`` by that count (backward looks there first)."""
    if len(_packers) >= 256:  # (programs whose tapes differ call after call)
        _packers.clear()
    pack = _packers[n_offsets] = struct.Struct(f"{HEADER - PER_TAPE + n_offsets}q").pack_into
    return pack


FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.")


class _Workspace:
    """Per-thread buffers reused across backward calls: fresh large buffers page-fault, and
    small allocations cost more than a small tape's whole backward."""

    __slots__ = ("grads", "scratch", "frame", "grads_address", "scratch_address",
                 "frame_address", "buffers", "common", "lent")

    def __init__(self) -> None:
        self.grads = np.zeros(0)
        self.scratch = self.frame = np.zeros(0, np.int64)
        self.grads_address = self.scratch_address = 0
        self.buffers = (0, 0, 0, 0)  # the frame's GRADS..N_SCRATCH
        # whether the frame's fields before PER_TAPE hold the common case's values (see
        # write_head): then a backward writes only its tape's fields
        self.common = False
        # a weak reference to the wrapper through which ``grads`` was last lent (see lend)
        self.lent = None
        self.grow_frame(HEADER + 256)

    def grow_frame(self, n: int) -> np.ndarray:
        """A larger frame, holding the header written so far (but for its own address)."""
        frame = np.zeros(max(n, 2 * self.frame.size), np.int64)
        head = min(HEADER, self.frame.size)
        frame[:head] = self.frame[:head]
        self.frame, self.frame_address = frame, address_of(frame)
        self.common = False
        return frame

    def write_head(self, extras: tuple, retain: bool | None, layout: int) -> None:
        """The frame's fields before PER_TAPE, for the values read in place (``layout``
        nonzero; the packed route then sets its own) -- the same for every backward of the
        common case: no extras, no retained graph."""
        self.frame[abi.OFFS:abi.PER_TAPE] = (
            self.frame_address + 8 * HEADER, 0, 0, 0, 0, *extras, *self.buffers,
            1 if retain else 0, -1, BLAS_MIN, layout, _vjp_table)
        self.common = extras is _COMMON_EXTRAS and not retain and layout != 0

    def lend(self) -> np.ndarray:
        """``grads`` through a wrapper array of its own, to slice the ``.grad`` of leaves
        from instead of copying (see _deliver).  NumPy makes every view of those slices --
        a user's ``x.grad.numpy()[1:]`` too -- a view of the wrapper, not of ``grads``
        (it stops at an array whose base is no array), so a weak reference to the wrapper
        says whether any still lives: then ``take`` does not reuse the buffer."""
        wrapper = self.lent and self.lent()
        if wrapper is None:
            wrapper = np.frombuffer(memoryview(self.grads), np.float64)
            self.lent = weakref.ref(wrapper)
        return wrapper

    def take(self, n_grads: int, n_scratch: int) -> tuple[np.ndarray, np.ndarray]:
        grads = self.grads
        lent = self.lent is not None and self.lent() is not None
        if grads.size < n_grads or lent:  # (a lent buffer is left to its .grads)
            self.grads = np.zeros(max(n_grads, 2 * grads.size if grads.size < n_grads else
                                      grads.size))
            self.grads_address = address_of(self.grads)
        self.lent = None
        if self.scratch.size < n_scratch:
            self.scratch = np.zeros(max(n_scratch, 2 * self.scratch.size), np.int64)
            self.scratch_address = address_of(self.scratch)
        self.buffers = (self.grads_address, self.grads.size, self.scratch_address,
                        self.scratch.size)
        self.common = False
        return self.grads, self.scratch


# this thread's _Workspace, as ``_threads.work`` (one thread-local lookup per backward: each
# costs ~50 ns, where a plain object's attribute costs ~10)
_threads = threading.local()
_kernel = None
_kernel_holding_gil = None  # (the same code, called without releasing the GIL)
_wrap = None  # tensor._wrap, set with the kernel
_vjp_table = 0  # the address of the op VJPs' table (kernels/optable.py), set with the kernel
_provide_vjp = None  # optable.provide_vjp, set with the kernel
_F64 = np.dtype(np.float64)
_tobytes = np.ndarray.tobytes
_TUNE_MIN = heap.TUNE_MIN
_NONE_FREED = array("B", bytes(4096))  # (a slice copies it: a third of array("B", bytes(n)))
#: whether any leaf ever had a hook (set by hooks.py): then backward looks for leaf hooks
_leaf_hooks = False


def _load_kernel():
    # loaded on first use: a program that never calls backward never pays for it
    global _kernel, _kernel_holding_gil, _wrap, _vjp_table, _provide_vjp
    from .kernels.native import backward_kernel
    from .kernels.optable import VJP_ADDRESS, provide_vjp
    from .tensor import _wrap  # (tensor.py imports this module)

    _vjp_table, _provide_vjp = VJP_ADDRESS, provide_vjp
    kernel = backward_kernel()
    _kernel_holding_gil = ctypes.PYFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)(
        ctypes.cast(kernel, ctypes.c_void_p).value)
    _kernel = kernel
    return _kernel


def backward(t: Tensor, gradient: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Any = None, *, _link: tuple | None = None,
             _capture: dict | None = None) -> None:
    """Accumulate the gradient of this tensor into the ``.grad`` of the leaves it depends on.

    ``Tensor.backward`` itself (one Python call less per step than a method calling this).  A
    scalar needs no ``gradient``; a vector output computes the vector-Jacobian product with
    ``gradient`` (same shape as the output).  With ``create_graph=True`` the gradients are
    recorded, so they can be differentiated again (``autograd/graph.py``); ``inputs`` limits
    which tensors' ``.grad`` receive them.

    >>> import tapegrad as tg
    >>> x = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> (x * x).backward(tg.tensor([1.0, 0.5]))
    >>> x.grad
    tensor([2., 2.])
    """
    # (``_link``: ``(tape, slot, seed, found)`` when the sweep continues on an older tape that
    # a swept one links to: see _continue.  ``_capture``: ``{id(leaf): None}`` -- autograd.grad:
    # the leaves' gradients are stored there instead of into their ``.grad``)
    if create_graph or inputs is not None:  # a recorded backward, or only some leaves' .grad
        from .autograd.api import backward as recorded

        return recorded(t, gradient, retain_graph, create_graph, inputs=inputs)
    if _link is None:
        tape = t._tape
        if gradient is None and tape is not None and not t._stop and t._v.size == 1:
            seed = _ONE  # the common case of _seed, without the call
        else:
            seed = _seed(t, gradient)
            if tape is None:  # a leaf: its gradient is the seed itself
                t._accumulate(seed.reshape(t._v.shape))
                return
        out = t._slot
    else:
        tape, out, seed, _ = _link
    sweep = _kernel or _load_kernel()
    # closed for good before it is read (the next graph from leaves starts on a fresh tape);
    # if a thread is appending to it, once that is done (see tape.py)
    if tape.closed is not True:
        if tape.closed is not BUSY:
            tape.closed = True  # (no call since the test: no thread can take it in between)
        else:
            _freeze(tape)
    if _link is None and tape.links:
        for there in tape.reachable()[1:]:  # (all are checked before any .grad changes)
            if there.closed is not True:
                _freeze(there)
            _check(there, len(there.offs) - 1)
    recs, ints, floats, freed = tape.recs, tape.ints, tape.floats, tape.freed
    offs = tape.offs
    n_recs = len(recs) // 6
    n_slots = len(offs) - 1
    if len(tape.scalars) + len(tape.arrays) + len(tape.big_slots) != n_slots or tape.big_slots:
        _check(tape, n_slots)  # (its first test inlined: most tapes hold no large value)
    if freed is None:  # (made, then set only if no other thread's backward set one meanwhile)
        freed = _NONE_FREED[:n_recs] if n_recs <= len(_NONE_FREED) else \
            array("B", bytes(n_recs))
        if tape.freed is None:
            tape.freed = freed
        freed = tape.freed
    elif len(freed) < n_recs:
        freed.frombytes(bytes(n_recs - len(freed)))
    stale = None  # (a loop, not a comprehension: most tapes watch one or two values)
    # (a slot with tensor hooks has an entry here that always reads as changed, slot
    # -(slot + 1): the sweep flags it HOOKED; see hooks.py)
    for box, version, slot, _ in tape.watch:
        if box[0] != version:
            stale = stale or []
            stale.append(slot)
    if tape.bigs or tape.consts or stale or tape.retained or seed is not _ONE:
        aux, keep, extras = _extras(tape, stale, seed)  # (referenced until the kernel returns)
    else:
        extras = _COMMON_EXTRAS
    n_elems = offs[-1]
    if n_elems >= _TUNE_MIN and not heap.tuned:
        # large values recorded by one step are freed together at its backward: let the next
        # step reuse their memory instead of page-faulting fresh memory in (see heap.py)
        heap.tune()
    try:
        work = _threads.work
    except AttributeError:
        work = _threads.work = _Workspace()
    grads, scratch = work.grads, work.scratch
    n_scratch = SCRATCH_PER_SLOT * n_slots + SCRATCH_EXTRA  # (see abi.py)
    if grads.size <= n_elems or scratch.size < n_scratch or work.lent is not None:
        grads, scratch = work.take(n_elems + 1, n_scratch)
    # the frame (see kernels/abi.py): its header and the offsets, written by one pack_into (a
    # third of the time of making them C arrays).  Every array it points to stays referenced
    # by a local name or the tape until the kernel has returned.  A small tape's values are
    # read by the sweep from the tape's own lists (holding the GIL meanwhile: nothing can change
    # them), a large one's -- or any the sweep cannot read so -- packed behind the offsets.
    frame = work.frame
    if tape.shared_scalars:  # (storages made since the last backward: read them in place)
        tape.resolve_shared()
    if n_elems < IN_PLACE_MAX and _LAYOUT_ADDRESS and not tape.shared_scalars:
        if frame.size <= HEADER + n_slots:
            frame = work.grow_frame(HEADER + n_slots + 1)
        if not work.common or extras is not _COMMON_EXTRAS or retain_graph:
            work.write_head(extras, retain_graph, _LAYOUT_ADDRESS)
        (_packers.get(n_slots + 1) or _new_packer(n_slots + 1))(
            frame, 8 * PER_TAPE, recs.buffer_info()[0], n_recs, ints.buffer_info()[0],
            len(ints), floats.buffer_info()[0], len(floats), freed.buffer_info()[0], n_recs,
            n_slots, out, id(tape.arrays), id(tape.scalars), *offs)
        sweep = _kernel_holding_gil
        code = sweep(work.frame_address)
        if code == REPACK:
            sweep = _kernel
            code = _sweep_packed(tape, work, n_slots)
    else:
        work.write_head(extras, retain_graph, 0)
        frame[PER_TAPE:HEADER] = (
            recs.buffer_info()[0], n_recs, ints.buffer_info()[0], len(ints),
            floats.buffer_info()[0], len(floats), freed.buffer_info()[0], n_recs, n_slots, out,
            0, 0)
        code = _sweep_packed(tape, work, n_slots)
    frame = work.frame  # (grown, maybe, by _sweep_packed)
    while code == BLAS or code == MISSING or code == HOOK:
        rec = int(frame[abi.RESULT_RECORD])
        if code == HOOK or (code == MISSING and int(frame[abi.RESULT_SLOT]) in PYTHON_CODES):
            # Python where it sits on the tape: a slot's tensor hooks, or a custom Function's
            # backward (see hooks.py, autograd/function.py); the sweep resumes after it
            code = _python_hand_off(code, tape, work, n_slots, rec, retain_graph, sweep)
            continue
        if code == MISSING:  # an op whose VJP this process has not needed yet: compiled
            # (or loaded) now, and the sweep resumes at that record, untouched so far
            _provide_vjp(int(frame[abi.RESULT_SLOT]), recs, offs)
            frame[abi.START] = rec
            work.common = False
            code = sweep(work.frame_address)
            continue
        # a large matrix product: its VJP runs in NumPy's BLAS
        record = recs[6 * rec:6 * rec + 6]
        _matmul_vjp(tape, record, ints, _GradientRegions(grads, scratch, n_slots, work),
                    lambda slot: _value(int(scratch[slot]), offs[slot + 1] - offs[slot]),
                    scratch[FLAGS * n_slots:(FLAGS + 1) * n_slots],
                    int(frame[abi.RESULT_SLOT]))
        if rec == 0:
            code = OK
            break
        frame[abi.START] = rec - 1
        work.common = False
        code = sweep(work.frame_address)
    if code == FREED:
        raise RuntimeError(FREED_MESSAGE)
    if code == STALE:
        _raise_stale(tape, int(frame[abi.RESULT_RECORD]), int(frame[abi.RESULT_SLOT]))

    flags = FLAGS * n_slots  # (where the slot flags start in scratch)
    if _leaf_hooks:  # (hooks on leaves: run on the gradients before they are delivered)
        _leaf_hand_off(tape, work, grads, scratch, n_slots, False, _capture,
                       None if _link is not None else {} if tape.links else False)
    if _capture is not None:
        _captured(tape, _capture, grads, scratch, flags)
    for slot, leaf in tape.leaves if _capture is None else ():
        if scratch.item(flags + slot) & HAS_GRAD:
            start, end = offs[slot], offs[slot + 1]
            if leaf._grad is None and end - start < LEND_MIN and leaf._v.dtype is _F64:
                g = grads[start:end].copy()  # (the common case of _deliver, inlined)
                g.shape = leaf._v.shape
                g = _wrap(g)
                if leaf._grad is None:  # (no call since the test: no other thread's backward
                    leaf._grad = g  # can have delivered in between)
                else:
                    leaf._accumulate(g._v)
            else:  # (lent only when no other tape's sweep follows: it reuses the workspace)
                _deliver(leaf, grads, start, end,
                         work if _link is None and not tape.links else None)
    if _leaf_hooks and _capture is None:
        _leaf_hand_off(tape, work, grads, scratch, n_slots, True)
    for slot, ref in tape.retained if _capture is None else ():
        kept = ref()
        if kept is not None and scratch.item(flags + slot) & HAS_GRAD:
            kept._accumulate(grads[offs[slot]:offs[slot + 1]].reshape(kept._v.shape))
    if not retain_graph and n_elems >= RELEASE_MIN:  # as torch frees saved tensors: a kept
        tape.release()  # loss holds no values (a small tape's weigh less than its records)
    if tape.links:  # values read from older tapes: their gradients go on there
        seeds = []
        for slot, there, slot_there in tape.links:
            if scratch.item(flags + slot) & HAS_GRAD:
                start, end = offs[slot], offs[slot + 1]
                seed = np.empty(2 + end - start)  # (room for the one-seed header: _continue)
                seed[2:] = grads[start:end]
                seeds.append((there, slot_there, seed))
        if _link is None:
            _continue(tape, seeds, retain_graph, _capture)
            if _leaf_hooks:
                _pending_hand_off(work, _capture)
        else:
            _link[3].extend(seeds)


# (what users see: torch's parameters, not the private ones the sweep passes itself)
backward.__signature__ = inspect.Signature([
    inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    *(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
      for name, default in (("gradient", None), ("retain_graph", None), ("create_graph", False),
                            ("inputs", None)))])


def _python_hand_off(code: int, tape, work: _Workspace, n_slots: int, rec: int,
                     retain_graph: bool | None, sweep) -> int:
    """Run the Python the sweep stopped at -- ``HOOK``: slot ``RESULT_SLOT``'s hooks on its
    complete gradient; ``MISSING`` of a Python op: the Function call at record ``rec`` -- then
    resume the sweep (``sweep``: the kernel it ran on) and return its new status."""
    from . import hooks
    from .autograd import function

    frame, scratch = work.frame, work.scratch
    flags = scratch[FLAGS * n_slots:(FLAGS + 1) * n_slots]
    regions = _GradientRegions(work.grads, scratch, n_slots, work)
    run = _with_own_workspace(work)
    if code == HOOK:
        slot = int(frame[abi.RESULT_SLOT])
        hooks.sweep_slot_hooks(tape, slot, regions(slot, tape.offs[slot + 1] - tape.offs[slot]),
                               run)
        flags[slot] &= ~HOOKED
        start = rec  # (that record is untouched: it runs now)
    else:
        start = function.sweep_call(tape, rec, regions, flags, bool(retain_graph), run) - 1
    if start < 0:
        return OK
    frame[abi.START] = start
    work.common = False
    return sweep(work.frame_address)


def _leaf_hand_off(tape, work: _Workspace, grads: np.ndarray, scratch: np.ndarray,
                   n_slots: int, post: bool, capture: dict | None = None,
                   pending: dict | bool | None = None) -> None:
    """The hooks of ``tape``'s leaves that received a gradient: before delivery (in place in
    ``grads``; of the ``capture``d leaves only, for autograd.grad), or the post-accumulate-grad
    hooks after it (``post``).

    A backward that sweeps several linked tapes delivers a leaf's gradient once per tape; its
    hooks must see the sum (torch calls them once).  So the first tape's sweep (``pending``: a
    new dict; False: no linked tapes) and the linked ones (None: this thread's) set the hooked
    leaves' gradients aside, and :func:`_pending_hand_off` runs their hooks once all are in."""
    from . import hooks

    flags = scratch[FLAGS * n_slots:(FLAGS + 1) * n_slots]
    run = _with_own_workspace(work)
    if post:
        hooks.sweep_post_hooks(tape, flags, run)
        return
    if pending is None:
        pending = _threads.__dict__.get("pending")
    else:
        _threads.pending = pending = pending if pending is not False else None
    hooks.sweep_leaf_hooks(tape, grads, tape.offs, flags, run, capture, pending)


def _pending_hand_off(work: _Workspace, capture: dict | None) -> None:
    """The hooks of the leaves set aside by the sweeps of linked tapes, on their summed
    gradients, then their delivery (into ``.grad``, or ``capture``)."""
    from . import hooks

    pending = _threads.__dict__.pop("pending", None)
    if pending:
        hooks.deliver_pending(pending, capture, _with_own_workspace(work))


def _with_own_workspace(work: _Workspace):
    """``run(fn, *args)``: call user code (a hook, a Function's backward) in the middle of a
    backward; a backward it runs itself takes a workspace of its own, not this one's buffers."""

    def run(fn, *args):
        del _threads.work  # (a backward makes one when it finds none)
        pending = _threads.__dict__.pop("pending", None)  # (see _leaf_hand_off)
        try:
            return fn(*args)
        finally:
            _threads.work = work
            _threads.pending = pending

    return run


def _sweep_packed(tape, work: _Workspace, n_slots: int) -> int:
    """Run the sweep on a frame whose header is written but for the values' fields, after
    packing the offsets and the small values behind it: the one-element values, then the
    others' bytes, joined (a quarter of np.concatenate's time on a few small arrays), each
    array's by a C-level map; any array not of float64 makes the join short -- or, of 8-byte
    elements, marks the tape ``mixed`` -- and is then converted."""
    offs, scalars, arrays = tape.offs, tape.scalars, tape.arrays
    packed = b"".join(map(_tobytes, arrays)) if arrays else b""
    if packed and (tape.mixed or len(packed) != 8 * (offs[-1] - len(scalars) - (
            sum(offs[s + 1] - offs[s] for s in tape.big_slots) if tape.big_slots else 0))):
        packed = b"".join([a.tobytes() if a.dtype is _F64 else a.astype(_F64).tobytes()
                           for a in arrays])
    n_scalars, n_packed = len(scalars), len(packed) >> 3
    n_frame = HEADER + n_slots + 1 + n_scalars + n_packed
    frame = work.frame if work.frame.size >= n_frame else work.grow_frame(n_frame)
    at = work.frame_address + 8 * HEADER
    at_scalars = at + 8 * (n_slots + 1)
    frame[abi.OFFS], frame[abi.SCALARS], frame[abi.N_SCALARS] = at, at_scalars, n_scalars
    frame[abi.PACKED], frame[abi.N_PACKED] = at_scalars + 8 * n_scalars, n_packed
    frame[abi.LAYOUT] = frame[abi.ARRAYS_LIST] = frame[abi.SCALARS_LIST] = 0
    work.common = False
    struct.pack_into(f"{n_slots + 1}q{n_scalars}d{len(packed)}s", frame, 8 * HEADER, *offs,
                     *scalars, packed)
    if tape.shared_scalars:
        values = frame.view(np.float64)
        for index, storage in tape.shared_scalar_indices():
            values[HEADER + n_slots + 1 + index] = storage
    return _kernel(work.frame_address)


def _captured(tape, capture: dict, grads: np.ndarray, scratch: np.ndarray, flags: int) -> None:
    """Add the gradients of the leaves ``capture`` asks for into it (copies: the workspace is
    reused by the next backward)."""
    offs = tape.offs
    for slot, leaf in tape.leaves:
        if id(leaf) in capture and scratch.item(flags + slot) & HAS_GRAD:
            g = grads[offs[slot]:offs[slot + 1]]
            old = capture[id(leaf)]
            capture[id(leaf)] = g.copy() if old is None else old + g


def _continue(start, seeds: list, retain_graph: bool | None, capture: dict | None) -> None:
    """Sweep the tapes ``start`` links to, each once all tapes linking to it are done, from
    all the seeds it received."""
    _sweep_seeds(start.reachable()[1:], seeds, retain_graph, capture)


def backward_several(seeds: list, order: list, retain_graph: bool | None,
                     capture: dict | None) -> None:
    """The numba sweep from several outputs (``autograd.grad`` of a list): ``seeds`` holds
    ``(tape, slot, gradient)`` (float64, flat), ``order`` every tape reachable from theirs,
    each after the tapes that link to it."""
    packed = []
    for tape, slot, g in seeds:
        seed = np.empty(2 + g.size)  # (two free elements, then the gradient: see below)
        seed[2:] = g
        packed.append((tape, slot, seed))
    _sweep_seeds(order, packed, retain_graph, capture)


def _sweep_seeds(order: list, seeds: list, retain_graph: bool | None,
                 capture: dict | None) -> None:
    """Sweep each tape of ``order`` once, from all the seeds it received (packed as the
    kernel's several-seed form), passing on the seeds its links give older tapes."""
    pending: dict[int, dict[int, np.ndarray]] = {}

    def receive(seeds):  # (each seed: two free elements, then the gradient)
        for there, slot, seed in seeds:
            at = pending.setdefault(id(there), {})
            if slot in at:
                at[slot][2:] += seed[2:]
            else:
                at[slot] = seed

    receive(seeds)
    for tape in order:
        at = pending.pop(id(tape), None)
        if at:
            if len(at) == 1:
                (slot, seed), = at.items()
                seed[0], seed[1] = 1, slot
            else:
                seed = np.concatenate([[len(at)], list(at), *(g[2:] for g in at.values())])
            found: list = []
            backward(None, None, retain_graph, _link=(tape, -1, seed, found), _capture=capture)
            receive(found)
    if pending:  # (tapes linking both ways: only threads sharing open tapes can make that)
        raise RuntimeError(
            "backward reached a tape after sweeping it: graphs recorded by two threads on "
            "each other's tensors at once are not supported; detach() the shared tensors")


#: a leaf's first gradient of at least this many elements is handed over as a view of the
#: workspace instead of copied out of it (the next backward then takes a fresh workspace
#: if that view is still alive)
LEND_MIN = 1 << 14


def _deliver(leaf: Tensor, grads: np.ndarray, start: int, end: int,
             work: _Workspace | None) -> None:
    """Add ``grads[start:end]`` (the workspace's) into ``leaf.grad``: a first large gradient
    is that slice itself, lent by ``work`` (None: no lending, another sweep reuses the
    workspace before this backward returns)."""
    if work is not None and leaf._grad is None and end - start >= LEND_MIN and \
            leaf._v.dtype == np.float64:
        lent = _wrap(work.lend()[start:end].reshape(leaf._v.shape))
        if leaf._grad is None:  # (tested again with no call before the store: see backward)
            leaf._grad = lent
            return
    leaf._accumulate(grads[start:end].reshape(leaf._v.shape))


INTERRUPTED_MESSAGE = (
    "the tape of this graph is inconsistent: its recording was interrupted (an exception, such "
    "as KeyboardInterrupt, landed while an operation was being recorded). Recompute the graph.")
#: how long a backward waits for another thread to finish appending to the tape it sweeps
#: before taking the tape as abandoned by an exception (then checked like any other)
_FREEZE_WAIT = 1.0


def _freeze(tape) -> None:
    """Close ``tape`` for good, once no thread holds it (see tape.py)."""
    deadline = None
    while True:
        if tape.closed is not BUSY:
            tape.closed = True  # (no call since the test: no thread can take it in between)
            return
        if deadline is None:
            deadline = time.monotonic() + _FREEZE_WAIT
        elif time.monotonic() > deadline:
            tape.closed = True
            return
        time.sleep(1e-5)


def _check(tape, n_slots: int) -> None:
    """Refuse a tape whose lists are out of step (a record's appends cut short) before the
    kernel trusts any of its addresses: with an error, never a crash or values one slot off."""
    if len(tape.scalars) + len(tape.arrays) + len(tape.big_slots) != n_slots or (
            tape.big_slots and not len(tape.big_slots) == len(tape.bigs) == len(tape.big_addrs)):
        raise RuntimeError(INTERRUPTED_MESSAGE)


#: matrix products of at least this many multiply-adds leave the numba sweep for NumPy's BLAS
BLAS_MIN = 1 << 15


class _GradientRegions:
    """Where the sweep keeps each slot's gradient: a large intermediate's may be in another
    slot's region (see ``sweep.py``), so it is found by its address in scratch."""

    def __init__(self, grads: np.ndarray, scratch: np.ndarray, n_slots: int, work) -> None:
        at = abi.GRAD_ADDRS * n_slots
        self.grads, self.addresses, self.base = grads, scratch[at:at + n_slots], \
            work.grads_address

    def __call__(self, slot: int, size: int) -> np.ndarray:
        at = (int(self.addresses[slot]) - self.base) // 8
        return self.grads[at:at + size]


def _matmul_vjp(tape, rec, ints, gradient_of: _GradientRegions, value_of,
                flags: np.ndarray, fresh: int) -> None:
    """One (batched) matrix-product record's VJP in NumPy's BLAS; an input's first contribution
    (bit 1 of ``fresh`` for a, 2 for b) overwrites its uncleared slot."""
    op, out, a, b, ip, _ = rec.tolist()
    params = product_params(ints, ip, OPS[op].matmul)
    offs = tape.offs
    mode_a = (ASSIGN if fresh & 1 else ADD) if flags[a] & NEED else 0
    mode_b = (ASSIGN if fresh & 2 else ADD) if flags[b] & NEED else 0
    blas_vjp(params, gradient_of(out, offs[out + 1] - offs[out]), value_of(a), value_of(b),
             gradient_of(a, offs[a + 1] - offs[a]) if mode_a else None,
             gradient_of(b, offs[b + 1] - offs[b]) if mode_b else None, mode_a, mode_b)


def _value(address: int, n: int) -> np.ndarray:
    """A slot's ``n`` values where the sweep reads them (its address in scratch: the tape's own
    array or float, a packed copy or a large value), viewed in place for a BLAS hand-off."""
    return np.frombuffer((ctypes.c_double * n).from_address(address), np.float64)


def _raise_stale(tape, rec: int, slot: int) -> None:
    for box, version, watched, shape in tape.watch:
        if watched == slot and box[0] != version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [tapegrad.DoubleTensor [{', '.join(map(str, shape))}]], "
                f"which is used by {OPS[tape.recs[6 * rec]].name}, is at version {box[0]}; "
                f"expected version {version} instead.")
    raise AssertionError("stale slot without a watch entry")  # unreachable


#: the frame's AUX..N_SEED for most calls: no large values, no constants, nothing stale or
#: retained, and the seed 1
_COMMON_EXTRAS = (_NO_AUX_ADDRESS, _NO_AUX.size, 0, 0, _ONE_ADDRESS, 1)


def _extras(tape, stale: list[int] | None, seed: np.ndarray) -> tuple:
    """The frame's AUX..N_SEED in general, and the two arrays they point to."""
    aux = np.array([len(tape.bigs), len(tape.consts), *tape.big_slots, *tape.big_addrs,
                    *tape.consts, *(stale or ())], dtype=np.int64) \
        if tape.bigs or tape.consts or stale else _NO_AUX
    keep = np.array([slot for slot, _ in tape.retained], np.int64) if tape.retained else _NO_AUX
    return aux, keep, (address_of(aux), aux.size, address_of(keep) if tape.retained else 0,
                       keep.size if tape.retained else 0,
                       _ONE_ADDRESS if seed is _ONE else address_of(seed), seed.size)


def _seed(t: Tensor, gradient) -> np.ndarray:
    if not t.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if t._v.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return _ONE
    g = np.asarray(gradient._v if hasattr(gradient, "_v") else gradient, dtype=np.float64)
    if g.shape != t._v.shape:
        raise RuntimeError(
            f"Mismatch in shape: grad_output[0] has a shape of {_size(g.shape)} and output[0] "
            f"has a shape of {_size(t._v.shape)}.")
    return np.ascontiguousarray(g).ravel()


def _size(shape: tuple) -> str:
    return f"tapegrad.Size([{', '.join(map(str, shape))}])"
