"""Custom autograd Functions (``torch.autograd.Function``): an operation whose backward is Python.

>>> import tapegrad as tg
>>> class Cube(tg.autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x ** 3
...     @staticmethod
...     def backward(ctx, grad):
...         (x,) = ctx.saved_tensors
...         return grad * 3 * x ** 2
>>> x = tg.tensor([1.0, 2.0], requires_grad=True)
>>> y = Cube.apply(x)
>>> y.grad_fn.name()
'CubeBackward'
>>> y.sum().backward()
>>> x.grad
tensor([ 3., 12.])

A call is recorded as a group of records of the ``function`` op (``ops/pyfunction.py``); the
call itself -- the class, its ``ctx``, which slots are its inputs and outputs -- is a
:class:`_Call` in the tape's ``calls`` list, found by the records' int param.  The numba sweep
stops at the group (it never has a VJP for that op), and the engine calls :func:`sweep_call`,
which runs the user's backward once for the whole group and writes the inputs' gradients into
the sweep's buffer; the sweep then resumes below the group.  The Python sweep of
``create_graph=True`` calls :func:`graph_call` instead, with tensors.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Callable
from typing import Any

import numpy as np

from ..grad_mode import STATE, no_grad, set_grad_enabled
from ..kernels.abi import HAS_GRAD, HOOKED, NEED
from ..ops.pyfunction import FUNCTION
from ..tape import BUSY, RECORD, interrupted, tape_for_all

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.")


def _tensor_class():
    from ..tensor import Tensor

    return Tensor


class FunctionCtx:
    """The ``ctx`` a Function's forward (or ``setup_context``) and backward share; each call's
    is an instance of a subclass named after the Function (``FBackward`` for ``F``), as torch's.
    """

    needs_input_grad: tuple = ()
    _saved: tuple | None = None
    _freed = False
    _materialize = True

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (or None) for backward, read back as ``ctx.saved_tensors``; a change
        made to one in place before backward makes reading them an error, as in torch."""
        Tensor = _tensor_class()
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{tensors.index(t)} is of type {type(t).__name__}")
        self._saved = tuple(tensors)
        self._versions = tuple(None if t is None else t._version for t in tensors)

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(_FREED_MESSAGE)
        saved = self._saved or ()
        for i, t in enumerate(saved):
            if t is not None and t._version != self._versions[i]:
                shape = ", ".join(map(str, t.shape))
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: [tapegrad.DoubleTensor [{shape}]], which is saved "
                    f"by {type(self).__name__}, is at version {t._version}; expected version "
                    f"{self._versions[i]} instead.")
        return saved

    saved_variables = saved_tensors

    def mark_dirty(self, *tensors) -> None:
        """Inputs that forward modified in place (and returns)."""
        self._dirty = tuple(tensors)

    def mark_non_differentiable(self, *tensors) -> None:
        """Outputs that get no gradient (backward receives zeros, or None, for them)."""
        self._non_differentiable = tuple(tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """Whether backward receives zeros (True, the default) or None for an output that got
        no gradient."""
        self._materialize = bool(value)

    def name(self) -> str:
        return type(self).__name__


class Function:
    """An operation whose forward and backward are written by the user, as torch's: static
    ``forward(ctx, *args)`` -- or ``forward(*args)`` with ``setup_context(ctx, inputs,
    output)`` -- and ``backward(ctx, *grad_outputs)`` returning one gradient (or None) per
    forward argument; called as ``F.apply(*args)``."""

    def __init__(self, *args, **kwargs) -> None:
        import warnings

        warnings.warn(f"{type(self)} should not be instantiated. Methods on autograd functions "
                      "are all static, so you should invoke them on the class itself.",
                      DeprecationWarning, stacklevel=2)

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward "
                                  "mode AD.")

    vjp = backward

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run ``forward`` (grad mode off) and record the call, if an argument requires grad
        under grad mode, so that a backward through its outputs calls ``backward``."""
        Tensor = _tensor_class()
        ctx = _ctx_class(cls)()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx.needs_input_grad = needs
        if STATE.compile_tape is not None:
            return _compiled_apply(cls, ctx, args, kwargs)
        output = _forward(cls, ctx, args, kwargs)
        record = STATE.grad_enabled and any(needs)
        return _outputs(cls, ctx, args, output, record)


def _forward(cls, ctx, args: tuple, kwargs: dict):
    """The user's forward (and ``setup_context``), grad mode off, as ``apply`` runs it."""
    with no_grad():
        if cls.setup_context is not Function.setup_context:
            output = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, output)
        else:
            output = cls.forward(ctx, *args, **kwargs)
    return output


def _compiled_apply(cls, ctx, args: tuple, kwargs: dict):
    """``apply`` while ``tg.compile`` records: the forward runs with nothing recorded inside it
    (each replay runs it again, in Python, on that replay's values: see :func:`replay_forward`),
    and the call is recorded if an argument depends on the compiled function's inputs."""
    from ..recording import _recording

    Tensor = _tensor_class()
    tape = STATE.compile_tape
    for value in kwargs.values():
        if isinstance(value, Tensor):
            raise NotImplementedError(
                f"tapegrad.compile cannot replay {cls.__name__}.apply with a tensor passed by "
                "keyword; pass it by position")
    STATE.compile_tape = None
    try:
        output = _forward(cls, ctx, args, kwargs)
    finally:
        STATE.compile_tape = tape
    tensors = [a for a in args if isinstance(a, Tensor)]
    if not (tensors and _recording(*tensors)):
        return _outputs(cls, ctx, args, output, False)
    outs = output if isinstance(output, tuple) else (output,)
    for o in outs:
        if isinstance(o, Tensor) and o._v.dtype.kind != "f":
            raise NotImplementedError(
                f"tapegrad.compile cannot replay {cls.__name__}: it returns a {o.dtype} tensor, "
                "and a compiled tape holds floating-point values only")
    if getattr(ctx, "_dirty", ()):
        raise NotImplementedError(f"tapegrad.compile cannot replay {cls.__name__}: its forward "
                                  "changes an input in place (mark_dirty)")
    return _outputs(cls, ctx, args, output, True, kwargs)


def _ctx_class(cls: type) -> type:
    made = cls.__dict__.get("_ctx_type")
    if made is None:
        made = type(getattr(cls, "_node_name", f"{cls.__name__}Backward"), (FunctionCtx,), {})
        cls._ctx_type = made
    return made


class _Call:
    """One recorded Function call: what a backward through its records needs."""

    __slots__ = ("cls", "ctx", "n_args", "is_tensor", "inputs", "outputs", "first", "n_recs",
                 "replay")

    def __init__(self, cls, ctx, n_args, is_tensor, inputs, outputs) -> None:
        self.cls, self.ctx, self.n_args, self.is_tensor = cls, ctx, n_args, is_tensor
        self.inputs = inputs  # (argument position, slot, shape, dtype) per differentiable input
        self.outputs = outputs  # (slot or -1: no gradient, shape, dtype) per tensor output
        self.first = self.n_recs = 0
        # recorded by tg.compile only: (the arguments, each a tensor's (slot, shape, dtype) or
        # the value itself; the keyword arguments; every tensor output's (slot, shape, dtype))
        self.replay = None

    @property
    def name(self) -> str:
        return type(self.ctx).__name__


def _outputs(cls, ctx, args: tuple, output, record: bool, kwargs: dict | None = None):
    """The call's outputs as apply returns them, recorded on the tape if ``record`` (by
    ``tg.compile`` when ``kwargs`` is given)."""
    Tensor = _tensor_class()
    from ..recording import _make_plain, _wrap

    single = not isinstance(output, tuple)
    outs = [output] if single else list(output)
    dirty = getattr(ctx, "_dirty", ())
    non_diff = getattr(ctx, "_non_differentiable", ())
    inputs = [a for a in args if isinstance(a, Tensor)]
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            continue
        if any(o is d for d in dirty):
            if record and o._tape is None and o._rg:
                raise RuntimeError("a leaf Variable that requires grad has been used in an "
                                   "in-place operation.")
            continue
        if any(o is t for t in inputs) or o._tape is not None or o._rg:
            outs[i] = _wrap(o._v)  # (an input returned as it is: a new tensor, as torch's view)
        elif o.__class__ is not Tensor:
            o._v  # noqa: B018 -- (a _OneFloat's array made, before its class changes)
            _make_plain(o)
    if record:
        _record(cls, ctx, args, outs, dirty, non_diff, kwargs)
    else:
        for o in outs:  # (a dirty input was changed in place)
            if isinstance(o, Tensor) and any(o is d for d in dirty):
                o._version_box()[0] += 1
    return outs[0] if single else tuple(outs)


def _record(cls, ctx, args: tuple, outs: list, dirty, non_diff, kwargs: dict | None) -> None:
    """Record the call: one record per (output, pair of inputs) -- the differentiable ones; or,
    for ``tg.compile`` (``kwargs`` given), every tensor argument and every output, since a
    replay recomputes them all (``replay`` keeps what it needs)."""
    from .. import node
    from ..recording import _stop_if_no_grad

    Tensor = _tensor_class()
    compiled = kwargs is not None
    diff = [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    read = [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor)] if compiled else diff
    tensors = [a for _, a in read]
    tape = STATE.compile_tape if compiled else tape_for_all(tensors)
    while tape.closed:  # (taken by another thread since: see tape.py)
        tape = tape_for_all(tensors)
    written = []  # (output, its slot, whether it is differentiable)
    try:
        tape.closed = BUSY
        slots = [tape.slot_of(a) for a in tensors]
        slot_at = {i: s for (i, _), s in zip(read, slots, strict=True)}
        inputs = [(i, slot_at[i], tuple(a._v.shape), a._v.dtype) for i, a in diff]
        calls = getattr(tape, "calls", None)
        if calls is None:
            calls = tape.calls = []
        first = len(tape.recs) // 6
        outputs = []
        for o in outs:
            if not isinstance(o, Tensor):
                continue
            differentiable = o._v.dtype.kind == "f" and not any(o is t for t in non_diff)
            if not (differentiable or compiled):
                outputs.append((-1, tuple(o._v.shape), o._v.dtype))
                continue
            slot = tape.new_slot(o._v, keep=False)  # (its backward reads no tape value)
            outputs.append((slot if differentiable else -1, tuple(o._v.shape), o._v.dtype))
            written.append((o, slot, differentiable))
        pairs = [(slots[k], slots[k + 1] if k + 1 < len(slots) else -1)
                 for k in range(0, len(slots), 2)]
        n_recs = len(pairs) * len(written)
        ip = tape.push_ints((len(calls), first, n_recs))
        call = _Call(cls, ctx, len(args), tuple(isinstance(a, Tensor) for a in args), inputs,
                     outputs)
        call.first, call.n_recs = first, n_recs
        if compiled:
            call.replay = (
                tuple((slot_at[i], tuple(a._v.shape), a._v.dtype) if i in slot_at else a
                      for i, a in enumerate(args)),
                kwargs, tuple((slot, tuple(o._v.shape), o._v.dtype) for o, slot, _ in written))
        calls.append(call)
        for _, slot, _ in written:
            for a, b in pairs:
                tape.recs.frombytes(RECORD(FUNCTION.code, slot, a, b, ip, -1))
        for o, slot, differentiable in written:
            if any(o is d for d in dirty):  # changed in place: the records that read its old
                o._version_box()[0] += 1  # value (watched from here on, if not yet) are stale
            o._tape, o._slot = tape, slot
            if compiled:  # (recorded for the replay only when it passes no gradient back)
                _stop_if_no_grad(o, tensors if differentiable else ())
        tape.closed = False
    except BaseException:
        interrupted(tape)
        raise
    for o, _, differentiable in written:
        if differentiable:
            node.rename(o, call.name)


def call_of(tape, rec: int) -> _Call:
    """The Function call record ``rec`` (of the ``function`` op) belongs to."""
    return tape.calls[tape.ints[tape.recs[6 * rec + 4]]]


def _run_backward(call: _Call, grads: list, create_graph: bool) -> list:
    """The user's backward on the outputs' gradients (tensors, None where none came), checked
    as torch checks it: one gradient per differentiable input (tensors or None), shapes
    reduced where they broadcast to the input's."""
    Tensor = _tensor_class()
    from ..recording import _wrap

    ctx = call.ctx
    if ctx._materialize:
        grads = [g if g is not None else _wrap(np.zeros(shape, dtype))
                 for g, (_, shape, dtype) in zip(grads, call.outputs, strict=True)]
    with set_grad_enabled(create_graph):
        result = call.cls.backward(ctx, *grads)
    if not isinstance(result, tuple):
        result = (result,)
    n = call.n_args
    if len(result) > n and all(g is None for g in result[n:]):
        result = result[:n]
    if len(result) != n:
        raise RuntimeError(f"function {call.name} returned an incorrect number of gradients "
                           f"(expected {n}, got {len(result)})")
    for i, g in enumerate(result):
        if g is not None and not call.is_tensor[i]:
            raise RuntimeError(
                f"function {call.name} returned a gradient different than None at position "
                f"{i + 1}, but the corresponding forward input was not a Variable")
    found = []
    for i, slot, shape, _dtype in call.inputs:
        g = result[i]
        if g is None:
            found.append((slot, None))
            continue
        if not isinstance(g, Tensor):
            raise TypeError(f"function {call.name} returned a gradient of type "
                            f"{type(g).__name__} at index {i}: expected a Tensor or None")
        if tuple(g._v.shape) != shape:
            g = _reduce_to(g, shape, call.name, i)
        found.append((slot, g))
    return found


def _reduce_to(g, shape: tuple, name: str, index: int):
    """``g`` summed to ``shape`` where ``shape`` broadcasts to it (torch's rule), else torch's
    error."""
    gshape = tuple(g._v.shape)
    lead = len(gshape) - len(shape)
    if lead < 0 or any(s != 1 and s != n for s, n in zip(shape, gshape[lead:], strict=True)):
        raise RuntimeError(
            f"Function {name} returned an invalid gradient at index {index} - got "
            f"{list(gshape)} but expected shape compatible with {list(shape)}")
    dims = tuple(range(lead)) + tuple(lead + d for d, s in enumerate(shape)
                                      if s == 1 and gshape[lead + d] != 1)
    if dims:
        g = g.sum(dims, keepdim=True)
    return g.reshape(shape)


def sweep_call(tape, rec: int, gradient_of: Callable, flags: np.ndarray, retain: bool,
               run: Callable) -> int:
    """A Function's records met by the numba sweep at record ``rec``: its backward, run once
    (by ``run(fn, *args)``, which guards the sweep's workspace), its inputs' gradients added into
    their slots (``gradient_of(slot, size)``: a slot's gradient in the sweep's buffer; ``flags``
    the slots' flags); returns the group's first record (the sweep resumes below it)."""
    from .. import hooks
    from ..recording import _wrap

    call = call_of(tape, rec)
    offs = tape.offs
    grads = []
    for slot, shape, dtype in call.outputs:
        if slot < 0 or not flags[slot] & HAS_GRAD:
            grads.append(None)
            continue
        region = gradient_of(slot, offs[slot + 1] - offs[slot])
        if flags[slot] & HOOKED:  # (an output below the record the sweep stopped at)
            hooks.sweep_slot_hooks(tape, slot, region, run)
            flags[slot] &= ~HOOKED
        grads.append(_wrap(region.reshape(shape).astype(dtype)))
    _add_gradients(run(_run_backward, call, grads, False),
                   lambda slot: gradient_of(slot, offs[slot + 1] - offs[slot]), flags)
    if not retain:
        _free(tape, call)
    return call.first


def _add_gradients(found: list, region_of: Callable, flags: np.ndarray) -> None:
    """The inputs' gradients a backward returned, added into their slots' regions of a sweep's
    buffer (``region_of(slot)``; ``flags``: the slots' flags)."""
    for slot, g in found:
        if g is None or not flags[slot] & NEED:
            continue
        region = region_of(slot)
        value = np.asarray(g._v, dtype=np.float64).reshape(-1)
        if flags[slot] & HAS_GRAD:
            region += value
        else:  # (its own region, uncleared: no record wrote it yet)
            region[:] = value
            flags[slot] |= HAS_GRAD


def replay_forward(call: _Call, region_of: Callable) -> FunctionCtx:
    """A compiled tape's replay at this call (``tg.compile``): the user's forward again, on the
    values the replay holds (``region_of(slot)``: a slot's flat values in its buffer), writing
    its outputs there; returns the new ``ctx``, for :func:`replay_backward`."""
    from ..recording import _wrap

    args, kwargs, written = call.replay
    ctx = _ctx_class(call.cls)()
    ctx.needs_input_grad = call.ctx.needs_input_grad
    values = [_wrap(np.array(region_of(a[0]).reshape(a[1]), dtype=a[2]))
              if call.is_tensor[i] else a for i, a in enumerate(args)]
    output = _forward(call.cls, ctx, values, kwargs)
    Tensor = _tensor_class()
    outs = [o for o in (output if isinstance(output, tuple) else (output,))
            if isinstance(o, Tensor)]
    if len(outs) != len(written) or any(tuple(o._v.shape) != shape
                                        for o, (_, shape, _) in zip(outs, written, strict=False)):
        raise RuntimeError(
            f"tg.compile: {call.cls.__name__}'s forward returned "
            f"{[tuple(o._v.shape) for o in outs]} on replay, where it returned "
            f"{[shape for _, shape, _ in written]} when recorded; a compiled tape keeps the "
            "shapes it recorded")
    for o, (slot, _, _) in zip(outs, written, strict=True):
        region_of(slot)[:] = np.ravel(o._v)
    return ctx


def replay_backward(call: _Call, ctx: FunctionCtx, region_of: Callable,
                    flags: np.ndarray) -> None:
    """A compiled tape's reverse replay at this call: the user's backward with the ``ctx`` of
    this replay's forward, its results added into the inputs' gradients (``region_of(slot)``:
    a slot's region of the gradient buffer; ``flags``: the replay's slot flags)."""
    from ..recording import _wrap

    grads = [_wrap(region_of(slot).reshape(shape).astype(dtype))
             if slot >= 0 and flags[slot] & HAS_GRAD else None
             for slot, shape, dtype in call.outputs]
    if all(g is None for g in grads):
        return  # (only outputs without a gradient reached it)
    replayed = _Call(call.cls, ctx, call.n_args, call.is_tensor, call.inputs, call.outputs)
    _add_gradients(_run_backward(replayed, grads, False), region_of, flags)


def _free(tape, call: _Call) -> None:
    n_recs = len(tape.recs) // 6
    if tape.freed is None:  # (the Python sweep may be the first to free records here)
        tape.freed = array("B", bytes(n_recs))
    elif len(tape.freed) < n_recs:
        tape.freed.frombytes(bytes(n_recs - len(tape.freed)))
    freed = tape.freed
    for r in range(call.first, call.first + call.n_recs):
        freed[r] = 1
    call.ctx._freed = True  # (as torch frees saved tensors: reading them again is an error)
    call.ctx._saved = None


def graph_call(tape, rec: int, gradient_of: Callable, create_graph: bool,
               retain: bool) -> tuple[int, list]:
    """A Function's records met by the Python sweep (``autograd/graph.py``) at record ``rec``:
    its backward run on the outputs' gradients (``gradient_of(slot)``: a tensor, or None if none
    came), recorded if ``create_graph``; returns the group's first record (the sweep goes on
    below it) and ``(input slot, gradient tensor or None)`` for each differentiable input."""
    call = call_of(tape, rec)
    grads = [gradient_of(slot) if slot >= 0 else None for slot, _, _ in call.outputs]
    found = _run_backward(call, grads, create_graph)
    if not retain:
        _free(tape, call)
    return call.first, found


class _DelayedError(Function):
    """Marks the results of a ``once_differentiable`` backward under ``create_graph``:
    differentiating them raises, as torch's ``DelayedError`` node."""

    _node_name = "DelayedError"

    @staticmethod
    def forward(ctx, n, *tensors):
        """Copies of the first ``n`` tensors (the backward's results), made to depend on the
        others (its inputs that require grad)."""
        from ..recording import _wrap

        out = tuple(_wrap(np.array(t._v, copy=True)) for t in tensors[:n])
        return out[0] if n == 1 else out

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")


def once_differentiable(fn: Callable) -> Callable:
    """Decorate a Function's backward that is not itself differentiable: it runs with grad
    mode off, and under ``create_graph`` its results raise if they are differentiated."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        Tensor = _tensor_class()
        with no_grad():
            outputs = fn(ctx, *args)
        if not STATE.grad_enabled or not any(
                isinstance(a, Tensor) and a.requires_grad for a in args):
            return outputs
        single = not isinstance(outputs, tuple)
        items = [outputs] if single else list(outputs)
        at = [i for i, g in enumerate(items) if isinstance(g, Tensor) and
              g._v.dtype.kind == "f"]
        if at:
            marked = _DelayedError.apply(len(at), *[items[i] for i in at], *[
                a for a in args if isinstance(a, Tensor) and a.requires_grad])
            marked = marked if isinstance(marked, tuple) else (marked,)
            for i, g in zip(at, marked, strict=True):
                items[i] = g
        return items[0] if single else tuple(items)

    return wrapper
