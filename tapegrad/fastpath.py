"""The fast paths: the per-op cost users feel, and the two tensor subclasses that shorten it.

Recording the forward pass, not the backward sweep, is what users feel on small tensors, so the
elementwise ops -- ``+ - * / **`` (``_arithmetic``, with ``_rdiv`` for a number over a tensor)
and the math functions (``_unary``) -- compute their value and, in the common case (grad mode
on, not compiling, inputs on one open tape or leaves), write their record inline.  Anything
else (inputs of a closed tape or of two tapes, ``tg.compile``) takes recording.py's general
``_record``.  ``_NON_DEFAULT[0]`` is 0 while no thread has grad mode off or is compiling: then
the thread-local mode needs no look.

Why the code looks the way it does (each was measured, op by op, on CPython 3.11):

* Each operator and math function *is* one of these functions, bound to its ops as defaults
  (surface.py's ``_bind``: one function object per name, all sharing one code object), so an
  op costs one Python call, not a method calling a helper.
* The record-emission sequence (new slot, record, result tensor: recording.py's ``_emit``) and
  a leaf's slot lookup (``Tape.slot_of``'s check of the leaf's last registration) are written
  out inline in each path here: a call there is a large share of such an op.  Each inline copy
  says so; any change to the sequence must be made in every copy (``_emit``, ``_unary``,
  ``_arithmetic``, ``_rdiv``, ``_one_float_arithmetic``, ``_zero_dim_arithmetic``,
  ``_record_zero_dim``, ``_record_one_float``).
* Module-level names (``_f64``, ``_ndarray``, ``BUSY``) are read as globals, which CPython
  caches, not as attributes (``np.float64``) or closure cells.
* A result of another class than ``Tensor`` is made by a function of its own
  (``_record_zero_dim``, ``_record_one_float``), because CPython 3.11 specialises an attribute
  store for one class: a store that sees two classes in turn slows every op that runs it.

The two subclasses, both printed as ``Tensor`` and ``isinstance`` of it (only
``type(t) is Tensor`` tells them apart):

* ``_ZeroDim``: a recorded 0-d float64 whose value is a NumPy float64 scalar (every 0-d float64
  result is held so until its storage is shared, see ``_storage``): its operators try a short
  path first, the op's Python scalar rule and a record in a few lines.  A micrograd-style
  network is almost only such ops.
* ``_OneFloat``: a recorded ``(1,)`` float64 whose value is still only a Python float; the first
  read of its array makes it a plain ``Tensor``.  A ``randn(1)`` parameter's graph is hundreds
  of such ops, each cheaper as float arithmetic than as a one-element NumPy call.
"""

from __future__ import annotations

import struct

import numpy as np

from .grad_mode import NON_DEFAULT as _NON_DEFAULT
from .grad_mode import STATE
from .ops.elementwise import TWO, broadcast_params
from .promotion import from_integral, promoted
from .recording import (
    _F64,
    _OP,
    _as_tensor,
    _f64,
    _let_go,
    _make_plain,
    _ndarray,
    _new,
    _record,
    _wrap,
)
from .tape import BIG, BUSY, appended, open_tape, open_tape_if
from .tape import RECORD as _RECORD
from .tensor import Tensor

_Real = (int, float)


def _storage(t: Tensor) -> np.ndarray:
    """``t``'s value as an array that can be shared and written in place.

    A 0-d float64 result is held as an immutable NumPy scalar (scalar arithmetic on it costs a
    fraction of a 0-d array op); it becomes a real array the first time its storage is viewed,
    shared (detach, .data, .numpy()) or written.
    """
    v = t._v
    if v.__class__ is not _ndarray:
        v = t._v = np.array(v)
        if t.__class__ is _ZeroDim:
            _make_plain(t)
        # a tape holding the number must read the array from now on
        if t._tape is not None:
            t._tape.shared_scalars = appended(t._tape.shared_scalars, (t._slot, v))
        elif t._lreg is not None:  # an input of the open tape, most likely
            tape = open_tape_if(t._lreg[0])
            if tape is not None:
                tape.shared_scalars = appended(tape.shared_scalars, (t._lreg[1], v))
    return v


def _unary(input: Tensor, op=None, value: np.ndarray | None = None,
           ints: tuple | None = None) -> Tensor:
    """``op`` on ``input``; ``value`` when the caller computed it.  The math methods and
    functions (``x.tanh()``, ``tg.tanh(x)``) are this function bound to their op (surface.py)."""
    try:
        if value is None and input.__class__ is _OneFloat and not _NON_DEFAULT[0]:
            # (_OneFloat's path: Python's math on its float, recorded as below)
            tape = input._tape
            try:
                value = op.py(input._f)
            except (ArithmeticError, ValueError, AttributeError, TypeError):
                pass  # (overflow, a domain error, no Python rule, x.tanh(2): NumPy's path decides)
            if value.__class__ is float and not tape.closed:
                tape.closed = BUSY
                offs = tape.offs
                slot = len(offs) - 1
                offs.append(offs[-1] + 1)
                tape.scalars.append(value)
                out = _new(_OneFloat)
                out._f = value
                out._tape = tape
                out._slot = slot
                out._vc = None
                tape.recs.frombytes(_RECORD(op.code, slot, input._slot, -1, -1, -1))
                tape.closed = False
                return out
            value = None
        elif value is None and input.__class__ is _ZeroDim and not _NON_DEFAULT[0]:
            # (_ZeroDim's path: the op's Python rule on its NumPy float64, recorded as below)
            tape = input._tape
            v = input._v
            try:
                value = op.py(v) if v.__class__ is _f64 else None
            except (ArithmeticError, ValueError, AttributeError, TypeError):
                value = None  # (as for _OneFloat above)
            if value is not None and not tape.closed and (input._vc is None or not op.keeps & 1):
                tape.closed = BUSY
                return _record_zero_dim(tape, value, op.code, input._slot, -1, -1, -1)
            value = None
        try:
            v = input._v
        except AttributeError:  # tg.tanh(an array or a number)
            input = _as_tensor(input)
            v = input._v
        if value is None:
            try:
                py, eager = op.py, op.eager
            except AttributeError:  # x.tanh(2): the extra argument landed on ``op``
                raise TypeError(f"elementwise math takes one tensor, not also {op!r}") from None
            if v.__class__ is not _f64 and v.ndim == 0 and v.dtype is _F64:
                v = v[()]
            if v.__class__ is _f64 and py is not None:
                try:
                    value = py(v)
                except (ArithmeticError, ValueError):  # Python's math refuses overflow, domains
                    pass
                else:
                    if value.__class__ is not _f64:
                        value = _f64(value)
            if value is None:
                try:
                    value = eager(input._v)
                except TypeError:  # (NumPy refuses some math on bools, where torch's casts)
                    if input._v.dtype.kind == "f":
                        raise
                    value = from_integral(op, input._v)
                if value.__class__ is not _ndarray and value.__class__ is not _f64:
                    value = np.asarray(value)
        tape = input._tape
        if tape is None and not input._rg:  # (torch's dtype for math on integers: promotion.py)
            return _wrap(value if v.dtype.kind == "f" else from_integral(op, input._v, value))
        if _NON_DEFAULT[0] and (not STATE.grad_enabled or STATE.compile_tape is not None):
            return _record(op, value, input, None, ints) if STATE.compile_tape is not None else \
                _wrap(value)
        if tape is None:  # (a leaf: its slot on the open tape, registered there already mostly)
            tape = open_tape()
            while tape.closed:  # (taken by another thread since: see tape.py)
                tape = open_tape()
            tape.closed = BUSY
            reg = input._lreg
            sa = reg[1] if reg is not None and reg[0] == tape.serial and \
                reg[2] == input._vc[0] else tape.input_slot(input)
        elif tape.closed:
            return _record(op, value, input, None, ints)
        else:  # (a value with a version box -- a view, say -- is watched if this VJP reads it)
            tape.closed = BUSY
            sa = input._slot if input._vc is None or not op.keeps & 1 else tape.slot_of(input)
        if ints is None:
            ip = -1
        else:  # (Tape.push_ints, inlined: ``ints`` is a basic index's memoised int64 array)
            ip = len(tape.ints)
            tape.ints.extend(ints)
        if tape.unkept:  # (a large input no earlier VJP needed)
            tape.keep_read(op.keeps, sa, input)
        # recording._emit, inlined (see the module's docstring); a result of another class is
        # made by a function of its own (see _record_zero_dim)
        offs = tape.offs
        slot = len(offs) - 1
        n = value.size
        if n == 1:
            if value.__class__ is _f64:
                return _record_zero_dim(tape, value, op.code, sa, -1, ip, -1)
            if value.__class__ is _ndarray and value.ndim == 1 and value.dtype is _F64 and \
                    value.base is None and value is not v:  # (a fresh vector, not a view)
                return _record_one_float(tape, value.item(), op.code, sa, -1, ip, -1)
            offs.append(offs[-1] + 1)  # (Tape.new_slot, inlined)
            tape.scalars.append(tape.one_element(slot, value) if value.__class__ is _ndarray
                                else value)
        elif n < BIG:
            offs.append(offs[-1] + n)
            tape.arrays.append(value)
        else:
            tape.new_slot(value, op.keeps & 4)  # held only if the VJP reads it
        out = _new(Tensor)
        out._v = value
        out._tape = tape
        out._slot = slot
        out._vc = None
        tape.recs.frombytes(_RECORD(op.code, slot, sa, -1, ip, -1))
        tape.closed = False
        return out
    except BaseException:  # (Ctrl-C, say): a tape held here is closed for good
        _let_go(locals().get("tape"))
        raise


def _constant(c) -> np.ndarray:
    """``c`` as a read-only float64 0-d array, kept for the next use (see _arithmetic)."""
    if len(_CONSTANTS) >= 4096:
        _CONSTANTS.clear()
        _CONSTANTS[2] = TWO
    constant = _CONSTANTS[c] = np.array(c, np.float64)
    constant.flags.writeable = False
    return constant


def _arithmetic(a: Tensor, other, op=None, scalar_op=None, reflected: bool = False) -> Tensor:
    """``a <op> other``, or ``other <op> a`` if ``reflected`` (``other`` is then not a tensor):
    ``op`` for a tensor operand, ``scalar_op`` for a Python number kept as a constant.  Each
    operator is this function bound to its ops (surface.py)."""
    try:
        if other.__class__ is not Tensor and (
                other.__class__ is float or other.__class__ is int or (
                isinstance(other, _Real) and (reflected or not isinstance(other, bool)))):
            # -- a tensor and a Python number: ``scalar_op``, the number kept in the float pool
            op, c = scalar_op, other
            v = a._v
            value = None
            if (v.__class__ is _f64 or not v.ndim) and op.py is not None and v.dtype is _F64:
                try:
                    value = op.py(v if v.__class__ is _f64 else v[()], c)
                except (ArithmeticError, ValueError):
                    pass
                else:
                    if value.__class__ is not _f64:
                        value = _f64(value)
            if value is None:
                if c and v.dtype is _F64:
                    # NumPy 2 takes a Python number slower than a float64 0-d array, which (for
                    # a float64 operand) gives the same result.  Zero is left out: 0.0 and -0.0
                    # are one dict key but not one constant.
                    constant = _CONSTANTS.get(c)
                    value = op.eager(v, constant if constant is not None else _constant(c))
                else:
                    value = op.eager(v, c)
                if not v.ndim and value.__class__ is not _ndarray and value.__class__ is not _f64:
                    value = np.asarray(value)  # (an array operand gives an array)
            tape = a._tape
            if tape is None and not a._rg:  # (an integral tensor and a float: promotion.py)
                return _wrap(value if v.dtype.kind == "f" else promoted(op, v, c, value))
            if _NON_DEFAULT[0] and (not STATE.grad_enabled or STATE.compile_tape is not None):
                if STATE.compile_tape is not None:
                    return _record(op, value, a, None, scalar=float(c))
                return _wrap(value)
            if tape is None:  # (a leaf: as in _unary)
                tape = open_tape()
                while tape.closed:
                    tape = open_tape()
                tape.closed = BUSY
                reg = a._lreg
                sa = reg[1] if reg is not None and reg[0] == tape.serial and \
                    reg[2] == a._vc[0] else tape.input_slot(a)
            elif tape.closed:
                return _record(op, value, a, None, scalar=float(c))
            else:
                tape.closed = BUSY
                sa = a._slot if a._vc is None or not op.keeps & 1 else tape.slot_of(a)
            if tape.unkept:  # (a large input no earlier VJP needed)
                tape.keep_read(op.keeps, sa, a)
            floats = tape.floats
            floats.append(c)
            sb, ip, fp = -1, -1, len(floats) - 1
        else:
            if other.__class__ is Tensor or other.__class__ is _ZeroDim or \
                    other.__class__ is _OneFloat:
                b = other
            else:  # an array, a list ...: a constant tensor
                b = _as_tensor(other)
                if reflected:
                    a, b = b, a
            # -- two tensors: ``op``, NumPy broadcasting recorded as int params when shapes differ
            av, bv = a._v, b._v
            value = None
            both_0d = av.ndim == 0 and bv.ndim == 0
            if both_0d and op.py is not None:
                if av.__class__ is not _f64 and av.dtype is _F64:
                    av = av[()]
                if bv.__class__ is not _f64 and bv.dtype is _F64:
                    bv = bv[()]
                if av.__class__ is _f64 and bv.__class__ is _f64:
                    try:
                        value = op.py(av, bv)
                    except (ArithmeticError, ValueError):
                        pass
                    else:
                        if value.__class__ is not _f64:
                            value = _f64(value)
            if value is None:
                try:
                    value = op.eager(av, bv)
                except TypeError:  # (NumPy refuses some math on bools: torch's errors then)
                    value = promoted(op, av, bv)
                if value.__class__ is not _ndarray and value.__class__ is not _f64:
                    value = np.asarray(value)
                if av.dtype is not bv.dtype:  # (torch's promotion of mixed dtypes differs)
                    value = promoted(op, av, bv, value)
            ta, tb = a._tape, b._tape
            if ta is None and tb is None and not a._rg and not b._rg:  # (integers: promotion.py)
                return _wrap(value if av.dtype.kind == "f" else promoted(op, av, bv, value))
            if _NON_DEFAULT[0] and (not STATE.grad_enabled or STATE.compile_tape is not None):
                if STATE.compile_tape is not None:
                    return _record(op, value, a, b, broadcast_params(av, bv, value))
                return _wrap(value)
            tape = ta if ta is not None else tb
            if tape is None:
                tape = open_tape()
                while tape.closed:
                    tape = open_tape()
            elif tape.closed or (tb is not None and tb is not tape):
                return _record(op, value, a, b, broadcast_params(av, bv, value))
            tape.closed = BUSY
            # each input's slot: its own on this tape, or -- a leaf used again -- its registration
            # (Tape.slot_of's checks, inlined for the two common cases)
            if ta is tape and (a._vc is None or not op.keeps & 1):
                sa = a._slot
            else:
                reg = a._lreg
                sa = reg[1] if (ta is None and reg is not None and reg[0] == tape.serial
                                and reg[2] == a._vc[0]) else tape.slot_of(a)
            if tb is tape and (b._vc is None or not op.keeps & 2):
                sb = b._slot
            else:
                reg = b._lreg
                sb = reg[1] if (tb is None and reg is not None and reg[0] == tape.serial
                                and reg[2] == b._vc[0]) else tape.slot_of(b)
            ip = -1 if both_0d or av.shape == bv.shape else \
                tape.push_ints(broadcast_params(av, bv, value))
            if tape.unkept:  # (a large input no earlier VJP needed)
                tape.keep_read(op.keeps, sa, a, sb, b)
            fp = -1
        # recording._emit, inlined, one copy for both kinds of operand (see the module's
        # docstring); a result of another class is made by a function of its own
        offs = tape.offs
        slot = len(offs) - 1
        n = value.size
        if n == 1:
            if value.__class__ is _f64:
                return _record_zero_dim(tape, value, op.code, sa, sb, ip, fp)
            if value.__class__ is _ndarray and value.ndim == 1 and value.dtype is _F64:
                return _record_one_float(tape, value.item(), op.code, sa, sb, ip, fp)
            offs.append(offs[-1] + 1)  # (Tape.new_slot, inlined)
            tape.scalars.append(tape.one_element(slot, value) if value.__class__ is _ndarray
                                else value)
        elif n < BIG:
            offs.append(offs[-1] + n)
            tape.arrays.append(value)
        else:
            tape.new_slot(value, op.keeps & 4)  # held only if the VJP reads it
        out = _new(Tensor)
        out._v = value
        out._tape = tape
        out._slot = slot
        out._vc = None
        tape.recs.frombytes(_RECORD(op.code, slot, sa, sb, ip, fp))
        tape.closed = False
        return out
    except BaseException:  # (Ctrl-C, say): a tape held here is closed for good
        _let_go(locals().get("tape"))
        raise


def _binary(op, a: Tensor, b: Tensor) -> Tensor:
    return _arithmetic(a, b, op)


def _rdiv(a: Tensor, other) -> Tensor:
    """``other / a``: for a number ``c``, torch's ``reciprocal(a) * c`` (two records, so that
    the gradient reads only the reciprocal's own result, which no in-place change reaches).

    The common cases -- a float64 0-d, one-element vector or small array, recorded or a leaf,
    grad mode on, no other tape to join -- compute both values and write both records here in
    one go, with the results the two ops would give one after the other (the classes
    included), at little more than one op's cost."""
    if other.__class__ is float or other.__class__ is int:
        tape = a._tape
        if not _NON_DEFAULT[0] and (tape is None and a._rg or tape is not None and
                                    not tape.closed):
            try:
                if tape is None:  # (a leaf: its slot on the open tape, as in _unary)
                    tape = open_tape()
                    while tape.closed:  # (taken by another thread since: see tape.py)
                        tape = open_tape()
                    tape.closed = BUSY
                    reg = a._lreg
                    sa = reg[1] if reg is not None and reg[0] == tape.serial and \
                        reg[2] == a._vc[0] else tape.input_slot(a)
                else:
                    tape.closed = BUSY  # (taken right at the test: see tape.py)
                    sa = a._slot  # (the reciprocal reads its result only: no watch)
                r = None
                if a.__class__ is _OneFloat:
                    f = a._f
                else:
                    v = a._v
                    f = None
                    if v.__class__ is _ndarray and v.dtype is _F64:
                        if v.ndim == 0:
                            v = v[()]
                        elif v.ndim == 1 and v.size == 1:
                            f = v.item()
                        elif 1 < v.size < BIG:
                            r = np.divide(_ONE, v)  # (faster than np.reciprocal, as exact)
                            if other == 1:  # (1 / x, the common case: r * 1 is r)
                                y = r.copy()
                            else:
                                constant = _CONSTANTS.get(other) if other else None
                                y = np.multiply(r, constant if constant is not None else
                                                _constant(other) if other else other)
                            out = _new(Tensor)
                            out._v = y
                    if v.__class__ is _f64:
                        try:
                            r = 1.0 / v
                            y = r * other
                        except (ArithmeticError, ValueError):  # (NumPy's error state)
                            r = None
                        else:
                            if y.__class__ is not _f64:
                                y = _f64(y)
                            out = _new(_ZeroDim)
                            out._v = y
                if f is not None:
                    try:
                        r = 1.0 / f
                        y = r * other
                    except (ArithmeticError, ValueError):  # (1 / 0: NumPy's IEEE answer)
                        r = None
                    else:
                        out = _new(_OneFloat)
                        out._f = y
                if r is not None:
                    offs = tape.offs
                    slot = len(offs) - 1
                    if r.__class__ is _ndarray:
                        n = offs[-1] + r.size
                        offs.append(n)
                        offs.append(n + r.size)
                        tape.arrays.append(r)
                        tape.arrays.append(y)
                    else:
                        n = offs[-1]
                        offs.append(n + 1)
                        offs.append(n + 2)
                        tape.scalars.append(r)
                        tape.scalars.append(y)
                    floats = tape.floats
                    floats.append(other)
                    tape.recs.frombytes(_TWO_RECORDS(_RECIPROCAL.code, slot, sa, -1, -1, -1,
                                                     _MUL_SCALAR.code, slot + 1, slot, -1, -1,
                                                     len(floats) - 1))
                    out._tape = tape
                    out._slot = slot + 1
                    out._vc = None
                    tape.closed = False
                    return out
                tape.closed = False
            except BaseException:  # (Ctrl-C, say): a tape held here is closed for good
                _let_go(tape)
                raise
        return _unary(a, _RECIPROCAL) * other
    if other.__class__ is not Tensor and isinstance(other, _Real):
        return _unary(a, _RECIPROCAL) * (other if not isinstance(other, bool) else int(other))
    if a.__class__ is not Tensor:  # (a subclass's reflected operator, asked first: see there)
        return _subclass_general(a, other, _OP["div"], None, True)
    return _arithmetic(a, other, _OP["div"], None, True)


_RECIPROCAL, _MUL_SCALAR = _OP["reciprocal"], _OP["mul_scalar"]
_TWO_RECORDS = struct.Struct("12q").pack
_ONE = np.array(1.0)
_ONE.flags.writeable = False


# --------------------------------------------------------------------------- one-float tensors


# the storage slot ``_v`` itself (a _OneFloat's ``_v`` is the property below)
_set_slot = Tensor.__dict__["_v"].__set__


def _set_value(t: Tensor, v: np.ndarray) -> None:
    # the value first: a tensor whose class has changed always has one (an exception between
    # the two leaves a one-float tensor with the value stored, which is made again)
    _set_slot(t, v)
    _make_plain(t)


def _materialize(t: Tensor) -> np.ndarray:
    # ``_f`` is kept: another thread may have read the class just before it changed, and read
    # the float now (two threads that make the array at once both store theirs; the tensor
    # keeps the one stored last, and so does the tape: it reads the one registered last)
    v = np.array((t._f,))
    if t.__class__ is _OneFloat:
        _set_slot(t, v)
        _make_plain(t)
        # from now on the value may be changed through NumPy or .data: the tape reads the array
        # (as it reads a 0-d value's once made, see _storage)
        tape = t._tape
        tape.shared_scalars = appended(tape.shared_scalars, (t._slot, v.reshape(())))
    return t._v


class _OneFloat(Tensor):
    """A recorded one-element float64 vector (shape ``(1,)``) whose value is still only a Python
    float, ``_f``.

    A ``randn(1)`` parameter's graph is hundreds of tiny ops, and on a one-element array the
    NumPy call and the new array cost more than the rest of recording an op.  So arithmetic
    and math on such a tensor are Python's float arithmetic: ``+ - * / **`` with a number or
    with another one-float tensor on the same tape, and the math functions.  The first read of
    ``_v`` (its shape, printing, ``.numpy()``, any other op) makes the array, and the tensor
    becomes a plain ``Tensor`` for good.  The tape holds the float either way, as it holds any
    one-element value.  The class prints as ``Tensor`` and ``isinstance`` sees a Tensor; only
    ``type(t) is Tensor`` tells them apart.
    """

    __slots__ = ()
    _v = property(_materialize, _set_value)


_OneFloat.__name__ = _OneFloat.__qualname__ = "Tensor"
_OneFloat.__module__ = Tensor.__module__


def _one_float_arithmetic(a: _OneFloat, other, op=None, scalar_op=None,
                          reflected: bool = False) -> Tensor:
    """``_arithmetic`` for a one-float tensor ``a``: with a Python number, or with another
    one-float tensor on the same tape, the value is Python's float arithmetic; anything else
    goes the general way."""
    try:
        tape = a._tape
        if not _NON_DEFAULT[0] and not tape.closed:
            tape.closed = BUSY  # (taken right at the test: see tape.py)
            value = None
            if other.__class__ is float or other.__class__ is int:
                try:
                    value = scalar_op.py(a._f, other)
                except (ArithmeticError, ValueError):
                    pass  # (1/0, overflow: NumPy's IEEE answers)
                if value.__class__ is float:  # (not a complex: a negative base's fractional power)
                    floats = tape.floats
                    floats.append(other)
                    op, sb, fp = scalar_op, -1, len(floats) - 1
                else:
                    value = None
            elif other.__class__ is _OneFloat and other._tape is tape and not reflected and \
                    op.py is not None:
                try:
                    value = op.py(a._f, other._f)
                except (ArithmeticError, ValueError):
                    pass
                if value.__class__ is float:
                    sb, fp = other._slot, -1
                else:
                    value = None
            if value is not None:
                offs = tape.offs
                slot = len(offs) - 1
                offs.append(offs[-1] + 1)
                tape.scalars.append(value)
                out = _new(_OneFloat)
                out._f = value
                out._tape = tape
                out._slot = slot
                out._vc = None
                tape.recs.frombytes(_RECORD(op.code, slot, a._slot, sb, -1, fp))
                tape.closed = False
                return out
            tape.closed = False
        return _subclass_general(a, other, op, scalar_op, reflected)
    except BaseException:  # (Ctrl-C, say): a tape held here is closed for good
        _let_go(locals().get("tape"))
        raise


def _subclass_general(a: Tensor, other, op, scalar_op, reflected: bool) -> Tensor:
    """The general path for an operator of a tensor subclass's ``a`` (see SUBCLASSES)."""
    if reflected and other.__class__ is not float and other.__class__ is not int and \
            isinstance(other, Tensor):
        # ``other <op> a`` for a tensor ``other``: Python asks a subclass's reflected operator
        # first, so this is ``other``'s own operator, taken over
        return _arithmetic(other, a, op, scalar_op)
    return _arithmetic(a, other, op, scalar_op, reflected)


# --------------------------------------------------------------------------- 0-d tensors


class _ZeroDim(Tensor):
    """A recorded 0-d float64 tensor whose value is a NumPy float64 scalar (as every such result
    is until its storage is shared, see ``_storage``).

    A micrograd-style network is thousands of ops on two such tensors, or on one and a 0-d leaf,
    and the general path's checks (number or tensor, shapes, dtypes, broadcasting) are most of
    such an op's cost.  Its operators therefore try a short path first: both values NumPy
    float64 scalars, the other tensor a value of the same tape or a leaf, grad mode on -- the
    value is then the op's scalar rule and the record is written in a few lines.  The class
    prints as ``Tensor`` and becomes a plain ``Tensor`` once its storage is made; only
    ``type(t) is Tensor`` tells them apart.
    """

    __slots__ = ()


_ZeroDim.__name__ = _ZeroDim.__qualname__ = "Tensor"
_ZeroDim.__module__ = Tensor.__module__


def _zero_dim_arithmetic(s: _ZeroDim, other, op=None, scalar_op=None, reflected: bool = False,
                         py=None, code: int = 0, keeps_s: int = 0, keeps_o: int = 0) -> Tensor:
    """``_arithmetic`` for a 0-d float64 tensor ``s`` (``other <op> s`` if ``reflected``):
    with a NumPy float64-valued tensor of the same tape or a leaf, or with a Python number,
    recorded in a few lines; anything else goes the general way.  (Each operator is this
    function with its op's rule, opcode and the ``keeps`` bits of both operands bound.)"""
    try:
        tape = s._tape
        kind = other.__class__
        if (kind is _ZeroDim or kind is Tensor) and py is not None and not tape.closed and \
                not _NON_DEFAULT[0]:
            tape.closed = BUSY  # (taken right at the test: see tape.py)
            sv, ov, there = s._v, other._v, other._tape
            if sv.__class__ is _f64 and ov.__class__ is _f64:
                # each input's slot, as _arithmetic finds it
                if there is tape:
                    so = other._slot if other._vc is None or not keeps_o else \
                        tape.slot_of(other)
                elif there is None:
                    reg = other._lreg
                    so = reg[1] if reg is not None and reg[0] == tape.serial and \
                        reg[2] == other._vc[0] else tape.slot_of(other)
                else:
                    tape.closed = False
                    return _subclass_general(s, other, op, scalar_op, reflected)
                ss = s._slot if s._vc is None or not keeps_s else tape.slot_of(s)
                try:
                    value = py(ov, sv) if reflected else py(sv, ov)
                except (ArithmeticError, ValueError):  # (NumPy's error state says raise)
                    tape.closed = False
                    return _subclass_general(s, other, op, scalar_op, reflected)
                if value.__class__ is not _f64:
                    value = _f64(value)  # (a rule written with Python's math)
                offs = tape.offs
                slot = len(offs) - 1
                offs.append(offs[-1] + 1)
                tape.scalars.append(value)
                out = _new(_ZeroDim)
                out._v = value
                out._tape = tape
                out._slot = slot
                out._vc = None
                tape.recs.frombytes(_RECORD(code, slot, so, ss, -1, -1) if reflected else
                                    _RECORD(code, slot, ss, so, -1, -1))
                tape.closed = False
                return out
            tape.closed = False
        elif (kind is float or kind is int) and not tape.closed and not _NON_DEFAULT[0]:
            tape.closed = BUSY
            sv = s._v
            try:
                value = scalar_op.py(sv, other) if sv.__class__ is _f64 else None
            except (ArithmeticError, ValueError):
                value = None
            if value is not None:
                floats = tape.floats
                floats.append(other)
                return _record_zero_dim(tape, value, scalar_op.code, s._slot, -1, -1,
                                        len(floats) - 1)
            tape.closed = False
        return _subclass_general(s, other, op, scalar_op, reflected)
    except BaseException:  # (Ctrl-C, say): a tape held here is closed for good
        _let_go(locals().get("tape"))
        raise


def _record_zero_dim(tape, value, code: int, sa: int, sb: int, ip: int, fp: int) -> _ZeroDim:
    """A new slot and record for a 0-d float64 value (a Python float is made a NumPy one).

    The general paths make their other results' attributes inline; a ``_ZeroDim`` (or a
    ``_OneFloat``) is made here instead, because CPython 3.11 specialises an attribute store for
    one class: a store that sees two classes in turn (rosenbrock's ``sum`` after its arrays)
    slowed every op of the graph.  The short paths above and in _unary write these lines
    inline (see the module's docstring)."""
    if value.__class__ is not _f64:
        value = _f64(value)
    offs = tape.offs
    slot = len(offs) - 1
    offs.append(offs[-1] + 1)
    tape.scalars.append(value)
    out = _new(_ZeroDim)
    out._v = value
    out._tape = tape
    out._slot = slot
    out._vc = None
    tape.recs.frombytes(_RECORD(code, slot, sa, sb, ip, fp))
    tape.closed = False
    return out


def _record_one_float(tape, value: float, code: int, sa: int, sb: int, ip: int,
                      fp: int) -> _OneFloat:
    """As _record_zero_dim, for a fresh one-element float64 vector whose value is ``value``.
    (Both let go of the tape their caller took.)"""
    offs = tape.offs
    slot = len(offs) - 1
    offs.append(offs[-1] + 1)
    tape.scalars.append(value)
    out = _new(_OneFloat)
    out._f = value
    out._tape = tape
    out._slot = slot
    out._vc = None
    tape.recs.frombytes(_RECORD(code, slot, sa, sb, ip, fp))
    tape.closed = False
    return out


def _zero_dim_defaults(op, reflected: bool) -> tuple:
    """What ``_zero_dim_arithmetic`` has bound besides the ops: the op's rule, its opcode, then
    the 0-d operand's and the other operand's bit in ``keeps``."""
    return (op.py, op.code, op.keeps & (2 if reflected else 1), op.keeps & (1 if reflected else 2))


# Each subclass's operators are its function bound to the ops, with these further defaults
# (surface.py binds them; Python asks a subclass's reflected operator before a plain tensor's
# own, so the function sees those too, and hands them to _subclass_general)
SUBCLASSES = ((_OneFloat, _one_float_arithmetic, lambda op, reflected: ()),
              (_ZeroDim, _zero_dim_arithmetic, _zero_dim_defaults))


_CONSTANTS: dict = {2: TWO}  # Python number -> read-only float64 0-d array (see _arithmetic)
