"""Indexing and in-place ops: ``x[key]``, ``x[key] = v``, ``+= -= *= /=``, ``zero_``, ``fill_``.

Basic indexing (ints, slices, None, Ellipsis) gives a view sharing storage and version counter;
advanced indexing a copy, recorded as a gather.  Under grad mode ``x[key] = v`` makes ``x`` the
output of a CopySlices node (two records on one slot), and an in-place op records its new value
on a new slot and bumps the version of the old, so a VJP that saved the old value refuses, as
torch's does.  torch's refusals (a leaf that requires grad, a view of one) come first.
"""

from __future__ import annotations

from array import array

import numpy as np

from .fastpath import _arithmetic, _storage, _unary
from .grad_mode import STATE
from .ops.shape import basic_params, gather_map, setitem_params
from .recording import (
    _OP,
    _as_tensor,
    _guard,
    _ndarray,
    _record,
    _record_parts,
    _recording,
    _share,
    _share_version,
    _value,
    _wrap,
)
from .tape import appended
from .tensor import Tensor

_SLICE = _OP["slice"]

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_INPLACE = ("a view of a leaf Variable that requires grad is being used in an "
                        "in-place operation.")


def getitem(self: Tensor, key) -> Tensor:
    """``x[key]`` (``Tensor.__getitem__``)."""
    v = self._v
    if key.__class__ is slice and v.__class__ is _ndarray and v.ndim:  # the common case, as
        value = v[key]  # below without scans (a NumPy scalar value: below, via _storage)
        if self._tape is None and not self._rg:
            out = _wrap(value)
        else:
            ints = _basic_maps.get((v.shape, key.start, key.stop, key.step))
            out = _unary(self, _SLICE, value, ints if ints is not None else
                         _basic_map(v.shape, (key,)))
        box = self._vc  # (_share_version, inlined)
        if box is None or len(box) == 1:
            _share_version(out, self)
        else:
            out._vc = box
            out._base = self if self._base is None else self._base
        return out
    name = None
    if key.__class__ is slice:
        key, basic, name = (key,), True, "slice"
    elif key.__class__ is int:
        key, basic, name = (key,), True, "select"
    else:
        key = _index_key(key)
        basic = _is_basic(key)
    if not basic:  # advanced indexing: a copy
        _check_advanced(self._v.shape, key)
        value = _OP["index"].eager(self._v, key)
        if not _recording(self):
            return _wrap(value)
        return _record(_OP["index"], value, self, None, gather_map(self._v.shape, key))
    # basic indexing: a view, sharing storage and version counter (a trailing Ellipsis
    # makes NumPy return a 0-d view instead of a scalar copy)
    v = _storage(self)
    value = v[key + (Ellipsis,)] if Ellipsis not in key else v[key]
    if self._tape is None and not self._rg:  # (nothing to record: _unary's first test)
        out = _wrap(value)
    else:
        if name is None:
            name = "select" if any(isinstance(k, (int, np.integer)) for k in key) else "slice"
        out = _unary(self, op=_OP[name], value=value, ints=_basic_map(v.shape, key))
    _share_version(out, self)
    return out

def setitem(self: Tensor, key, value) -> None:
    """``x[key] = value`` (``Tensor.__setitem__``)."""
    if value.__class__ is not float and value.__class__ is not int and \
            not isinstance(value, Tensor):
        _check_real_fill(self, value)
    key = _index_key(key)
    other = value._v if isinstance(value, Tensor) else value
    recording = _recording(self, value) if isinstance(value, Tensor) else _recording(self)
    _check_inplace(self, recording)
    if recording:
        _record_setitem(self, key, _as_tensor(value))
        return
    _storage(self)[key] = other
    self._version_box()[0] += 1


def _record_setitem(x: Tensor, key: tuple, v: Tensor) -> None:
    """``x[key] = v`` under grad mode: x becomes the output of a CopySlices node."""
    try:
        ints = setitem_params(x._v.shape, key, v._v.shape)
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(v._v.shape)} cannot "
                           f"be broadcast to indexing result of shape "
                           f"{list(np.empty(x._v.shape)[key].shape)}") from None
    new = np.array(x._v)  # a copy, and an array even when x holds a NumPy scalar
    new[key] = v._v
    out = _record_parts(new, [(_OP["setitem_keep"], x, None, ints),
                              (_OP["setitem_put"], v, None, ints)])
    np.copyto(_storage(x), new)
    x._version_box()[0] += 1
    if x._tape is not None and x._tape.retained:
        _follow_retained(x, out._tape, out._slot)
    x._tape, x._slot = out._tape, out._slot


def _check_inplace(self: Tensor, recording: bool) -> None:
    """torch's refusals of in-place changes that would corrupt a gradient."""
    if not STATE.grad_enabled:
        return
    if self._rg:
        raise RuntimeError(LEAF_INPLACE)
    base = self._base
    if base is not None and base._rg and base._tape is None:
        raise RuntimeError(VIEW_OF_LEAF_INPLACE)
    if recording and (base is not None or (self._vc is not None and len(self._vc) > 1)):
        # torch rewrites the history of the base and of every view here (CopySlices);
        # recording it as a plain in-place op would give silently wrong gradients
        raise NotImplementedError(
            "in-place changes to a view (or to a tensor that has views) that requires grad "
            "are not supported yet; use an out-of-place op, or make the change under "
            "tapegrad.no_grad()")


def _inplace(self: Tensor, other, key: str, scalar_key: str, fill=None) -> Tensor:
    _storage(self)
    recording = _recording(self, other) if isinstance(other, Tensor) else _recording(self)
    _check_inplace(self, recording)
    if recording:
        # recorded: the new value gets its own record and slot; the old slot is marked as
        # changed (version bump), so a VJP that saved it refuses instead of using it.
        if fill is not None:
            # the constant, whatever the old value (inf, NaN), with a zero gradient to it;
            # recorded with self's own storage as its value (see below)
            self._v.fill(fill)
            result = _record(_OP[scalar_key], self._v, self, None, scalar=fill)
        else:
            source = self
            if key in ("mul", "div") and isinstance(other, Tensor) and other.requires_grad:
                # other's gradient needs self's value from before the change: read a recorded
                # copy of it (torch keeps original_self), not the storage about to be
                # overwritten
                source = _unary(self, op=_OP["clone"], value=self._v.copy())
            result = _arithmetic(source, other, op=_OP[key], scalar_op=_OP[scalar_key])
            np.copyto(self._v, result._v, casting="unsafe")
        return commit_inplace(self, result)
    if fill is not None:
        self._v.fill(fill)
    else:
        ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[key]
        ufunc(self._v, _value(other), out=self._v, casting="same_kind")
    self._version_box()[0] += 1
    return self


def commit_inplace(self: Tensor, result: Tensor) -> Tensor:
    """``self``, whose storage now holds ``result``'s value (recorded as the latest slot),
    becomes that record's output: the old slot is marked as changed (version bump), so a VJP
    that saved it refuses instead of using it.  (Every recorded in-place op ends here.)"""
    box = self._version_box()
    box[0] += 1
    # the new slot's value is self's storage from now on: a change made to it through
    # .data or NumPy reaches backward, as for any other recorded value
    tape, slot = result._tape, result._slot
    _share(tape, slot, self._v)
    if self._tape is not None and self._tape.retained:  # (None: self had no history)
        _follow_retained(self, tape, slot)
    self._tape, self._slot = tape, slot
    # ... and it is watched at this version: a VJP that reads it (exp_'s reads its result)
    # refuses once a later in-place op changed it, as torch's saved result does
    tape.watch.append((box, box[0], slot, self._v.shape))
    return self


def _follow_retained(t: Tensor, tape, slot: int) -> None:
    """``t`` changed in place, its new version recorded at ``slot`` of ``tape``: if it retains
    its grad, the registration moves there, as torch's retained grad is that of the tensor's
    newest version (the gradient of the version it replaces no longer reaches ``.grad``)."""
    old = t._tape
    for i, (s, ref) in enumerate(old.retained):
        if s == t._slot and ref() is t:
            del old.retained[i]
            tape.retained = appended(tape.retained, (slot, ref))
            return


def _check_real_fill(t: Tensor, value) -> None:
    """torch's refusal to write a complex number into a real tensor."""
    if isinstance(value, (complex, np.complexfloating)) or (
            not isinstance(value, Tensor) and np.asarray(value).dtype.kind == "c"):
        kind = {"f": "double" if t._v.dtype.itemsize == 8 else (
            "float" if t._v.dtype.itemsize == 4 else "c10::Half"),
            "b": "bool"}.get(t._v.dtype.kind, str(t._v.dtype))
        if t._v.dtype.kind in "iu":
            kind = {1: "signed char" if t._v.dtype.kind == "i" else "unsigned char",
                    2: "short", 4: "int", 8: "long"}[t._v.dtype.itemsize]
        raise RuntimeError(f"value cannot be converted to type {kind} without overflow")
_basic_maps: dict = {}


def _basic_map(shape: tuple, key: tuple) -> array:
    """The int params of a basic index (ints, slices, None, ...: ``basic_params``), remembered
    (a loop slices the same shapes the same way on every step) as an int64 array, which the
    tape's int pool extends by one copy."""
    if len(key) == 1 and key[0].__class__ is slice:
        k = key[0]
        memo = (shape, k.start, k.stop, k.step)
    else:
        memo = (shape, *((k.start, k.stop, k.step) if k.__class__ is slice else (k,)
                         for k in key))
    found = _basic_maps.get(memo)
    if found is None:
        if len(_basic_maps) >= 1024:
            _basic_maps.clear()
        found = _basic_maps[memo] = array("q", basic_params(shape, key))
    return found


def _index_key(key) -> tuple:
    if not isinstance(key, tuple):
        # torch's (and old NumPy's) rule: a short list holding a sequence, a slice, None or
        # an Ellipsis is a tuple of indices (x[[[0, 1], [1, 0]]] is x[[0, 1], [1, 0]])
        key = tuple(key) if key.__class__ is list and len(key) < 32 and any(
            isinstance(k, _SEQUENCE_LIKE) or k is None for k in key) else (key,)
    for k in key:
        if isinstance(k, Tensor):
            _guard(k, "index")  # while compiling, an index computed from the inputs is guarded
    return tuple(k._v if isinstance(k, Tensor) else (_list_index(k) if isinstance(k, list) else k)
                 for k in key)


_SEQUENCE_LIKE = (list, tuple, np.ndarray, slice, type(Ellipsis), Tensor)


def _list_index(k: list) -> np.ndarray:
    """A list of indices as an array: an empty one is of int64, as torch's (NumPy makes it
    float64 and refuses it)."""
    a = np.asarray(k)
    return a.astype(np.int64) if a.size == 0 and a.dtype.kind == "f" else a


def _check_advanced(shape: tuple, key: tuple) -> None:
    """torch's refusals of an advanced index that NumPy takes or words otherwise: too many
    indices, and a boolean mask whose shape is not that of the dims it covers (NumPy takes an
    empty mask on any dim)."""
    used = sum(0 if k is None or k is Ellipsis or isinstance(k, (bool, np.bool_))
               else k.ndim if isinstance(k, np.ndarray) and k.dtype == np.bool_ else 1
               for k in key)
    if used > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    if not any(isinstance(k, np.ndarray) and k.dtype == np.bool_ and k.ndim for k in key):
        return
    dims, masks, src = [], [], 0  # (the indexed shape as torch words it: basic indices taken)
    for k in key:
        if k is None or isinstance(k, (bool, np.bool_)):
            dims.append(1)
        elif k is Ellipsis:
            dims += shape[src:src + len(shape) - used]
            src += len(shape) - used
        elif isinstance(k, slice):
            dims.append(len(range(*k.indices(shape[src]))))
            src += 1
        elif isinstance(k, np.ndarray) and k.dtype == np.bool_:
            masks.append((len(dims), k.shape))
            dims += shape[src:src + k.ndim]
            src += k.ndim
        elif isinstance(k, np.ndarray):
            dims.append(shape[src])
            src += 1
        else:  # an int
            src += 1
    dims += shape[src:]
    for at, mask in masks:
        for j, n in enumerate(mask):
            if n != dims[at + j]:
                raise IndexError(f"The shape of the mask {list(mask)} at index {j} does not "
                                 f"match the shape of the indexed tensor {list(dims)} at index "
                                 f"{at + j}")


def _is_basic(key: tuple) -> bool:
    return all(k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer))
               and not isinstance(k, bool) for k in key)
