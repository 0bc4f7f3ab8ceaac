"""Recording: how an op's result lands on the tape.

``_record`` is the general path every op can take: it finds the tape of the inputs (joining
closed or other tapes by links, see tape.py), registers each input's slot, pushes the int and
float parameters and calls ``_emit``, the one place that makes a result's slot, its record and
its tensor.  ``_record_parts`` does the same for an output assembled from several records.  The
elementwise fast paths (fastpath.py) write the same sequence inline; see there for why.

Also here: whether an op records at all (``_recording``), what ``tg.compile`` adds (guards on
values that leave the tape, results that pass no gradient), plain tensors without history
(``_wrap``, ``_as_tensor``), and values shared between a tensor and the tape (``.data =``,
views' version boxes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import dtypes
from .grad_mode import NON_DEFAULT as _NON_DEFAULT
from .grad_mode import STATE
from .ops import BY_KEY
from .tape import BIG, BUSY, appended, interrupted, open_tape_if, tape_for, tape_for_all
from .tape import RECORD as _RECORD
from .tensor import Tensor

_OP = dict(BY_KEY)
_f64 = np.float64
_ndarray = np.ndarray
_F64 = np.dtype(np.float64)
_new = object.__new__


def _stop_gradient(out: Tensor) -> None:
    """A recorded value that passes no gradient (tg.compile only)."""
    if not out._stop:
        out._stop = True
        out._tape.consts = appended(out._tape.consts, out._slot)


def _detached_in_compile(t: Tensor) -> Tensor:
    """detach() while compiling: still a function of the inputs, so recorded (no gradient)."""
    out = _record(_OP["clone"], t._v, t, None)
    out._stop = True
    if out._slot not in out._tape.consts[-1:]:
        out._tape.consts = appended(out._tape.consts, out._slot)
    return out


def _recording(*ts: Tensor) -> bool:
    """Whether an op on these tensors is recorded: under grad mode, when one requires grad;
    while ``tg.compile`` records, also when one merely depends on the inputs."""
    if not _NON_DEFAULT[0]:
        for t in ts:
            if t._tape is not None or t._rg:
                return True
        return False
    if STATE.compile_tape is not None:
        return any(t._tape is not None or t._rg for t in ts)
    return STATE.grad_enabled and any(t._tape is not None or t._rg for t in ts)


def _stop_if_no_grad(out: Tensor, inputs) -> None:
    """While compiling: an output recorded only for replay (no input requires grad, or grad
    mode is off) passes no gradient back -- its slot is a constant of the backward sweep."""
    if STATE.grad_enabled and any((t._tape is not None and not t._stop) or t._rg
                                  for t in inputs if t is not None):
        return
    out._stop = True
    out._tape.consts = appended(out._tape.consts, out._slot)


def _guard(t: Tensor, kind: str) -> None:
    """While compiling: a value of ``t`` leaves the tape for Python; replay must see it again."""
    if _NON_DEFAULT[0] and STATE.compile_tape is not None and t._tape is STATE.compile_tape:
        tape = STATE.compile_tape
        tape.guards = appended(tape.guards, ("value", kind, t._slot,
                                             np.array(t._v, np.float64), _user_frame()))


def _user_frame() -> str:
    """``file:line`` of the innermost caller outside tapegrad (for guard messages)."""
    import sys

    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("tapegrad"):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"


def _make_plain(t: Tensor) -> None:
    """Make a _ZeroDim or _OneFloat a plain Tensor (the same layout: only the class changes).

    The instance dict is made first.  Otherwise CPython 3.11's ``__class__`` store makes it,
    between reading the old class and storing the new one; that allocation can start a garbage
    collection whose callbacks or finalizers run another thread, which may change the same
    tensor's class meanwhile.  Both stores then release the old class, and the class object is
    freed while in use (a segfault, seen with hypothesis's GC callback installed).  With the
    dict made, the store runs no Python code and no other thread."""
    t.__dict__  # noqa: B018
    t.__class__ = Tensor


def _replace_value(t: Tensor, new: np.ndarray) -> None:
    """``t.data = new``.  As torch's saved tensors of inputs (which save the tensor itself, not
    a copy of its storage), every record that reads ``t`` -- those recorded so far included --
    reads ``new`` from now on: the slot holding ``t``'s value on its tape (or, for a leaf, its
    registration on the open tape) is made to read ``new``."""
    old_shape = t._v.shape
    recorded = t._tape is not None and not t._stop
    if recorded and new.shape != old_shape:
        raise NotImplementedError(
            f"assigning .data of shape {tuple(new.shape)} to a tensor with history of shape "
            f"{tuple(old_shape)} is not supported (torch fails at its backward)")
    if recorded and STATE.compile_tape is not None:
        raise NotImplementedError(
            "assigning .data to a value computed from the inputs inside tapegrad.compile is not "
            "supported: the replay would not see it")
    producer_reads_it = recorded and _reads_own_output(t._tape, t._slot)
    if producer_reads_it == 2:
        raise NotImplementedError(
            "assigning .data to a tensor whose own backward reads its value (exp, tanh, "
            "sigmoid, sqrt, ...) after other recorded ops read it is not supported: torch "
            "gives the first the old value and the others the new one")
    if t.__class__ is not Tensor:
        t._v  # noqa: B018 -- (a _OneFloat's array made, before it is replaced)
        _make_plain(t)
    t._v = new
    if producer_reads_it:
        # torch saves an op's output as a snapshot of its storage: the producing record keeps
        # the old value, and later records read the new one from a slot of their own, which
        # passes its gradient on unchanged
        out = _record(_OP["clone"], new, t, None)
        _share(out._tape, out._slot, new)
        t._tape, t._slot = out._tape, out._slot
        return
    if recorded:
        t._tape.share_slot(t._slot, new)
    reg = t._lreg  # (a leaf's registration, or a closed tape's value's link on the open tape)
    if reg is not None:
        tape = open_tape_if(reg[0])
        if tape is not None and new.shape == old_shape:
            tape.share_slot(reg[1], new)
        else:  # (the next graph registers the new value)
            t._lreg = None


def _reads_own_output(tape, slot: int) -> int:
    """Whether a record writing ``slot`` reads its output in its VJP: 0 no, 1 yes, 2 yes and
    another record's VJP reads the slot as an input."""
    from .ops import OPS, READS_A, READS_B, READS_Y

    recs = np.array(tape.recs, dtype=np.int64).reshape(-1, 6)
    if not any((OPS[op].reads_a | OPS[op].reads_b) & READS_Y
               for op in recs[recs[:, 1] == slot, 0].tolist()):
        return 0
    for op, _, a, b, _, _ in recs[(recs[:, 2] == slot) | (recs[:, 3] == slot)].tolist():
        reads = OPS[op].reads_a | OPS[op].reads_b
        if (a == slot and reads & READS_A) or (b == slot and reads & READS_B):
            return 2
    return 1


def _share(tape, slot: int, storage) -> None:
    """Have ``tape`` read slot ``slot``'s value (the latest slot made) from ``storage``, a
    tensor's array, so a change made to it through ``.data`` or NumPy reaches backward."""
    if storage.__class__ is _ndarray:
        tape.share_last(slot, storage)


def _wrap(value: np.ndarray) -> Tensor:
    """A plain tensor (no history) around an existing array."""
    t = _new(Tensor)
    t._v = value
    t._tape = None
    t._slot = -1
    t._vc = None
    return t


def _record(op, value: np.ndarray, a: Tensor, b: Tensor | None, ints=None, fp: int = -1,
            scalar: float | None = None, scalars: tuple | None = None) -> Tensor:
    """Append one record for ``op`` and return its output tensor."""
    tape = tape_for(a, b)
    while tape.closed:  # (taken by another thread since: see tape.py)
        tape = tape_for(a, b)
    try:
        tape.closed = BUSY
        sa = tape.slot_of(a)
        sb = -1 if b is None else tape.slot_of(b)
        if tape.unkept:
            tape.keep_read(op.keeps, sa, a, sb, b)
        ip = -1 if ints is None else tape.push_ints(ints)
        if scalar is not None:
            fp = tape.push_float(scalar)
        elif scalars is not None:
            fp = tape.push_float(scalars[0])
            for extra in scalars[1:]:
                tape.push_float(extra)
        out = _emit(tape, op.code, value, sa, sb, ip, fp)
    except BaseException:
        interrupted(tape)
        raise
    if _NON_DEFAULT[0] and STATE.compile_tape is not None:
        _stop_if_no_grad(out, (a, b))
    return out


def _record_parts(value: np.ndarray, parts: list) -> Tensor:
    """One output assembled by several records, one per input: ``parts`` holds
    ``(op, a, b, ints)`` tuples (``b`` a mask/condition input or None)."""
    inputs = [t for _, a, b, _ in parts for t in (a, b) if t is not None]
    tape = tape_for_all(inputs)
    while tape.closed:  # (taken by another thread since: see tape.py)
        tape = tape_for_all(inputs)
    try:
        tape.closed = BUSY
        slots = [(op, tape.slot_of(a), -1 if b is None else tape.slot_of(b),
                  -1 if ints is None else tape.push_ints(ints)) for op, a, b, ints in parts]
        if tape.unkept:
            for (op, sa, sb, _), (_, a, b, _) in zip(slots, parts, strict=True):
                tape.keep_read(op.keeps, sa, a, sb, b)
        out = _new(Tensor)
        out._v = value
        out._tape = tape
        out._vc = None
        slot = out._slot = tape.new_slot(value)
        for op, sa, sb, ip in slots:
            tape.recs.frombytes(_RECORD(op.code, slot, sa, sb, ip, -1))
        tape.closed = False
    except BaseException:
        interrupted(tape)
        raise
    if STATE.compile_tape is not None:
        _stop_if_no_grad(out, [a for _, a, _, _ in parts])
    return out


def _let_go(tape) -> None:
    """After an exception in a recording function: a tape it held is closed for good (its lists
    may be out of step).  (``tape`` is unbound until the function reads it: the hot paths set
    no placeholder for this handler.)"""
    if tape is not None and tape.closed is BUSY:
        interrupted(tape)


def _emit(tape, code: int, value, sa: int, sb: int, ip: int, fp: int) -> Tensor:
    """The hot end of recording: a new slot for ``value``, one record, the output tensor; then
    lets the tape go.  (``Tape.new_slot`` inlined for small values: this runs once per recorded
    op; the caller took the tape and closes it if this raises.)"""
    offs = tape.offs
    slot = len(offs) - 1
    n = value.size
    if n == 1:  # (Tape.new_slot, inlined)
        offs.append(offs[-1] + 1)
        tape.scalars.append(tape.one_element(slot, value) if value.__class__ is _ndarray
                            else value)
    elif n < BIG:
        offs.append(offs[-1] + n)
        tape.arrays.append(value)
    else:
        tape.new_slot(value)
    out = _new(Tensor)
    out._v = value
    out._tape = tape
    out._slot = slot
    out._vc = None
    tape.recs.frombytes(_RECORD(code, slot, sa, sb, ip, fp))
    tape.closed = False
    return out


def _share_version(out: Tensor, src: Tensor) -> None:
    """``out`` is a view of ``src``'s storage: one version counter for both."""
    box = src._vc
    if box is None:
        box = src._version_box()
    if len(box) == 1:
        box.append(True)  # marks the storage as viewed
    out._vc = box
    out._base = src if src._base is None else src._base


# --------------------------------------------------------------------------- helpers

# the dtype float data becomes (``tg.set_default_dtype``, which sets it here and in creation.py):
# a module global, read once per call
_DEFAULT_FLOAT = _F64


def _as_array(data: Any, dtype) -> np.ndarray:
    np_dtype = dtypes.to_numpy_dtype(dtype)
    if isinstance(data, Tensor):
        data = data._v
    if np_dtype is None and not isinstance(data, np.ndarray):
        probe = np.asarray(data)
        if probe.dtype.kind == "c":  # (a cast to float64 would drop the imaginary parts)
            raise dtypes.complex_error(probe.dtype)
        np_dtype = _DEFAULT_FLOAT if probe.dtype.kind == "f" else None
        arr = np.array(probe, dtype=np_dtype, copy=True)
    else:
        if isinstance(data, np.ndarray) and data.dtype.kind == "c":
            raise dtypes.complex_error(data.dtype)
        arr = np.array(data, dtype=np_dtype, copy=True)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"can't convert data of dtype {arr.dtype} to a tensor")
    if arr.dtype.kind == "u" and arr.dtype != np.uint8:
        arr = arr.astype(np.int64)
    if not arr.dtype.isnative:  # (a big-endian array, say: its values in this machine's order)
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else _wrap(_as_array(x, None))


def _value(x: Any):
    return x._v if isinstance(x, Tensor) else x


def _rebuild(value: np.ndarray, requires_grad: bool) -> Tensor:
    t = _wrap(value)
    t._rg = requires_grad
    return t
