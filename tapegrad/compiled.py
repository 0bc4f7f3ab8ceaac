"""``tg.compile``: record a function once, then replay it -- forward and reverse -- in numba.

Recording runs ``f`` eagerly on a dedicated tape, with two differences from plain grad mode:
every operation on a value that depends on the inputs is recorded (even under ``no_grad`` or
after ``detach``, as a record that passes no gradient), and every place where such a value
leaves the tape for Python -- ``bool``, ``float``, ``int``, ``item``, ``tolist``, ``numpy``, an
index, the choice of ``max(dim)`` -- is written down as a *guard* with the value it had.

A replay writes the new inputs into the tape's value buffer and makes one numba call
(``kernels/replay.py``) that runs the records forward and, for a gradient, in reverse; then the
guards are checked.  If one no longer holds, the recorded branch is wrong for this input: the
result is dropped and the function is recorded again for it (a new *variant*, kept; ``retapes``
counts them), or, with ``on_guard="raise"``, the replay refuses.  It never returns an answer
computed along the wrong branch.

A tape without guards made of elementwise ops over one size, summed into the output (a loss
such as Rosenbrock's) skips all of that: ``codegen.py`` writes it as one numba loop, forward and
reverse fused, compiled when the tape is (``_fused``; None for every other tape).
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from . import dtypes, engine
from .codegen import fuse
from .grad_mode import STATE
from .ops import OPS
from .ops.linalg import blas_fwd, blas_vjp, product_params
from .ops.pyfunction import PYTHON_CODES
from .tape import Tape

_SCALAR_SEED = np.ones((1, 1))
_NO_SEED = np.ones((0, 1))
_F64 = np.dtype(np.float64)


class GuardError(RuntimeError):
    """A compiled tape's recorded branch does not hold for these inputs (``on_guard="raise"``)."""


#: variants a compiled tape keeps by default (see :func:`compile`)
MAX_VARIANTS = 8


def compile(f: Callable, *example_args, on_guard: str = "retape",  # noqa: A001
            max_variants: int = MAX_VARIANTS) -> CompiledTape:
    """Record ``f`` on ``example_args`` and return a tape that replays it inside numba.

    Where a value computed from the inputs leaves the tape for Python -- ``t.item()``,
    ``float(t)``, ``bool(t)`` (an ``if`` on a comparison), ``t.tolist()``, ``t.numpy()``, an
    index -- the tape is specialised on the value it had: a *guard*.  ``x.sum().item()`` in
    ``f`` makes the tape valid for inputs of that exact sum only.  A call whose guards differ
    records ``f`` again for its inputs (``on_guard="retape"``; ``retapes`` counts it) and keeps
    that recording as a *variant*, found again by its guards' values; or refuses
    (``on_guard="raise"``, :class:`GuardError`).  At most ``max_variants`` are kept: once
    they are taken, a :class:`RuntimeWarning` says so (once), and a call matching none of them
    runs ``f`` recorded for that call only -- correct, at the cost of an eager call.  To keep
    one tape for all inputs, keep such values on the tape: ``tg.where(cond, a, b)`` instead of
    an ``if``, tensor arithmetic instead of ``.item()``.

    >>> import numpy as np, tapegrad as tg
    >>> tape = tg.compile(lambda x: (x * x).sum(), np.array([1.0, 2.0]))
    >>> tape(np.array([3.0, 4.0]))
    array(25.)
    >>> tape.gradient(np.array([3.0, 4.0]))
    array([6., 8.])
    """
    if on_guard not in ("retape", "raise"):
        raise ValueError(f"on_guard must be 'retape' or 'raise', not {on_guard!r}")
    if int(max_variants) < 1:
        raise ValueError(f"max_variants must be at least 1, not {max_variants!r}")
    return CompiledTape(f, example_args, on_guard, int(max_variants))


def _live(recs: np.ndarray, roots: list[int]) -> np.ndarray:
    """The records that ``roots``' values depend on (every record writing a needed slot: an
    output assembled by several records needs them all), in tape order.  A custom Function's
    records are one call: kept or dropped together."""
    needed = set(roots)
    keep = np.zeros(len(recs), dtype=bool)
    r = len(recs) - 1
    while r >= 0:
        op, out, a, b, ip = recs[r, :5].tolist()
        if op in PYTHON_CODES:
            first = r
            while first > 0 and recs[first - 1, 0] == op and recs[first - 1, 4] == ip:
                first -= 1
            group = recs[first:r + 1]
            if not needed.isdisjoint(group[:, 1].tolist()):
                keep[first:r + 1] = True
                needed.update(group[:, 2].tolist())
                needed.update(group[:, 3].tolist())
            r = first - 1
            continue
        if out in needed:
            keep[r] = True
            needed.add(a)
            needed.add(b)
        r -= 1
    return recs if keep.all() else recs[keep]


class _Variant:
    """One recording of ``f``: the tape as arrays, ready for the kernels."""

    def __init__(self, f: Callable, args: list[np.ndarray]) -> None:
        from .tensor import Tensor, _wrap

        tape = Tape()
        saved = (STATE.compile_tape, STATE.grad_enabled)
        STATE.compile_tape, STATE.grad_enabled = tape, True
        try:
            inputs = []
            for a in args:
                t = _wrap(np.array(a, copy=True))
                t._rg = True
                inputs.append(t)
            self.arg_slots = [tape.input_slot(t) for t in inputs]
            for t, slot in zip(inputs, self.arg_slots, strict=True):
                # inputs live on the tape like recorded values, so that everything derived
                # from them -- detach() and .data included -- is recorded too
                t._tape, t._slot = tape, slot
            out = f(*inputs)
        finally:
            STATE.compile_tape, STATE.grad_enabled = saved
        if not isinstance(out, Tensor):
            raise TypeError("tg.compile: f must return one tensor (got "
                            f"{type(out).__name__})")
        self.out_slot = tape.slot_of(out) if out._tape is not tape else out._slot
        self.out_shape = out._v.shape
        self.out_size = out._v.size
        self.out_dtype = out._v.dtype if out._v.dtype.kind == "f" else np.dtype(np.float64)
        self.n_records = len(tape)
        self.recs = np.array(tape.recs, dtype=np.int64).reshape(-1, 6)
        self.offs = np.array(tape.offs, dtype=np.int64)
        self.ints = np.array(tape.ints, dtype=np.int64)
        self.floats = np.array(tape.floats, dtype=np.float64)
        self.buf = tape.flat_values()
        consts = list(dict.fromkeys(tape.consts))
        self.aux = np.array([0, len(consts)] + consts, dtype=np.int64)
        self.guards = tape.guards
        values = [g for g in self.guards if g[0] == "value"]
        self.guard_at = np.array([i for g in values
                                  for i in range(self.offs[g[2]], self.offs[g[2] + 1])],
                                 dtype=np.int64)
        self.guard_values = np.array([x for g in values for x in np.ravel(g[3])],
                                     dtype=np.float64)
        self.choice_guards = [g for g in self.guards if g[0] != "value"]
        # tensors captured from outside f: a later in-place change to one forces a retape.
        # Values the records compute (intermediates of f) are recomputed by every replay:
        # their version boxes need no check.
        inputs = set(range(len(tape.offs) - 1)) - set(self.arg_slots) - set(
            self.recs[:, 1].tolist())
        self.captured = [(box, version) for box, version, slot, _ in tape.watch
                         if slot in inputs]
        # records the output and the guards do not depend on are never replayed (a gradient
        # recorded inside f leaves the first sweep's own sums dead, say)
        self.recs = _live(self.recs, [self.out_slot, *(g[2] for g in self.guards)])
        self.op_counts = Counter(OPS[c].key for c in self.recs[:, 0])
        # custom Functions' calls: the records of each (first and last, by call), run in Python
        self.calls = getattr(tape, "calls", None) or []
        self.spans: dict[int, tuple[int, int]] = {}
        for r in np.flatnonzero(np.isin(self.recs[:, 0], list(PYTHON_CODES))).tolist():
            call = int(self.ints[self.recs[r, 4]])
            self.spans[call] = (self.spans.get(call, (r, r))[0], r)
        self.arg_array = np.array(self.arg_slots, dtype=np.int64)
        self.arg_width = sum(int(self.offs[s + 1] - self.offs[s]) for s in self.arg_slots)
        self.arg_offsets = self.offs[self.arg_array]
        self.arg_ranges = [(int(self.offs[s]), int(self.offs[s + 1])) for s in self.arg_slots]
        from .kernels._dispatch import INLINE  # (imports numba)
        from .kernels.replay import pack, scalar_records

        self.kinds = scalar_records(self.recs, self.offs, INLINE)
        self.program = pack(self.recs, self.offs, self.ints, self.aux, self.kinds,
                            self.arg_array, self.out_slot)
        # the ops whose kernels the replay calls (the others run inline): put in the tables
        # at the first replay -- a tape replayed by fused code never needs them
        self.table_ops = sorted(set(self.recs[self.kinds == 0, 0].tolist()) - PYTHON_CODES)
        self.local = threading.local()

    def _provide_kernels(self) -> None:
        """Every op kernel this tape's replay calls, compiled or loaded (``optable.py``)."""
        from .kernels.optable import provide

        provide("fwd", self.table_ops)
        provide("vjp", self.table_ops)
        self.table_ops = []

    # -- replay ------------------------------------------------------------------------------

    def run(self, args, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Replay forward and one reverse sweep per row of ``seeds`` (none: forward only) in
        this thread's buffers; return ``(values buffer, gradient rows)`` -- the rows hold every
        argument's gradient, flattened and concatenated, and are the caller's to keep."""
        from .kernels._dispatch import replay
        from .kernels.optable import FWD_ADDRESS, VJP_ADDRESS
        from .kernels.replay import DONE, N_STATE, NO_KERNEL, STATE_BLAS_MIN, STATE_FWD, STATE_VJP

        local = self.local
        buf = getattr(local, "buf", None)
        if buf is None:  # reused: fresh large buffers page-fault
            if self.table_ops:
                self._provide_kernels()
            if not _replay_ready:
                _first_replay()
            buf = local.buf = self.buf.copy()
            local.grads = np.empty(int(self.offs[-1]) + 1)
            local.flags = np.empty(self.offs.size - 1, np.uint8)
            local.state = np.zeros(N_STATE, np.int64)
        if isinstance(args, np.ndarray):  # one element per argument, packed by _check
            buf[self.arg_offsets] = args
        else:
            for (start, stop), a in zip(self.arg_ranges, args, strict=True):
                buf[start:stop] = a.ravel()
        result = np.empty((seeds.shape[0], self.arg_width))
        state = local.state
        state[:] = 0
        state[STATE_BLAS_MIN] = engine.BLAS_MIN
        state[STATE_FWD] = FWD_ADDRESS
        state[STATE_VJP] = VJP_ADDRESS
        while (status := replay(self.program, buf, self.floats, seeds, local.grads, local.flags,
                                result, state)) != DONE:
            if status == NO_KERNEL:  # (_provide_kernels put every op in: unreachable)
                raise AssertionError("tg.compile: an op kernel is missing from the tables")
            self._hand_off(state, buf, local)  # a large product, or a Function's call
        return buf, result

    def _hand_off(self, state: np.ndarray, buf: np.ndarray, local) -> None:
        """The record the replay stopped at: a large matrix product, in NumPy's BLAS; or a
        custom Function's call, in Python (see replay.py)."""
        from .kernels.replay import BLAS_FORWARD, MODE_A, MODE_B, RECORD, STAGE

        grads = local.grads
        op, y, a, b, ip, _ = self.recs[state[RECORD]].tolist()
        if op in PYTHON_CODES:
            from .autograd import function

            offs = self.offs
            call = int(self.ints[ip])
            first, last = self.spans[call]
            if state[STAGE] == BLAS_FORWARD:
                contexts = getattr(local, "contexts", None)
                if contexts is None:
                    contexts = local.contexts = {}
                contexts[call] = function.replay_forward(
                    self.calls[call], lambda slot: buf[offs[slot]:offs[slot + 1]])
                state[RECORD] = last  # (the replay goes on after the call's records)
            else:
                function.replay_backward(self.calls[call], local.contexts[call],
                                         lambda slot: grads[offs[slot]:offs[slot + 1]],
                                         local.flags)
                state[RECORD] = first  # (and on down from below them)
            return
        params = product_params(self.ints, ip, OPS[op].matmul)
        offs = self.offs
        if state[STAGE] == BLAS_FORWARD:
            blas_fwd(params, buf[offs[y]:offs[y + 1]], buf[offs[a]:offs[a + 1]],
                     buf[offs[b]:offs[b + 1]])
        else:
            blas_vjp(params, grads[offs[y]:offs[y + 1]], buf[offs[a]:offs[a + 1]],
                     buf[offs[b]:offs[b + 1]], grads[offs[a]:offs[a + 1]],
                     grads[offs[b]:offs[b + 1]], int(state[MODE_A]), int(state[MODE_B]))

    def broken_guard(self, buf: np.ndarray):
        """The first guard that does not hold for the values in ``buf``, or None."""
        for box, version in self.captured:
            if box[0] != version:
                return ("captured", "a tensor captured from outside f changed in place", -1,
                        None, "?")
        # every value guard at once (one gather, one comparison); the loop below runs only
        # for the argmax/argmin guards, or to name the guard that broke
        guards = self.choice_guards
        if self.guard_at.size:
            seen = buf[self.guard_at]
            if not (seen == self.guard_values).all() and not np.array_equal(
                    seen, self.guard_values, equal_nan=True):  # NaN == NaN counts as held
                guards = self.guards
        for guard in guards:
            kind, _, slot, recorded, _ = guard
            values = buf[self.offs[slot]:self.offs[slot + 1]]
            if kind == "value":
                if not np.array_equal(values, recorded.ravel(), equal_nan=True):
                    return guard
            else:  # argmax / argmin: the element max(dim) / min(dim) selects
                shape, d, arg = recorded
                pick = np.argmax if kind == "argmax" else np.argmin
                if not np.array_equal(pick(values.reshape(shape), axis=d), arg):
                    return guard
        return None

    def outcome(self, buf: np.ndarray) -> bytes:
        """What this variant's guards saw in ``buf``: the key that finds the variant recorded
        for those outcomes (see ``CompiledTape._run``)."""
        seen = [buf[self.guard_at].tobytes()]
        for kind, _, slot, recorded, _ in self.choice_guards:
            shape, d, _ = recorded
            values = buf[self.offs[slot]:self.offs[slot + 1]].reshape(shape)
            seen.append((np.argmax if kind == "argmax" else np.argmin)(values, axis=d).tobytes())
        return b"|".join(seen)

    def output(self, buf: np.ndarray) -> np.ndarray:
        o = self.offs[self.out_slot]
        return buf[o:self.offs[self.out_slot + 1]].reshape(self.out_shape).astype(
            self.out_dtype, copy=True)


class CompiledTape:
    """A recorded function, replayed forward and reverse in numba (see :func:`compile`)."""

    def __init__(self, f: Callable, example_args: tuple, on_guard: str,
                 max_variants: int = MAX_VARIANTS) -> None:
        self.f = f
        self.on_guard = on_guard
        self.max_variants = max_variants
        # the first variant's guard outcomes -> the variants recorded for them (see _run)
        self._by_outcome: dict[bytes, list[_Variant]] = {}
        self._warned = False
        self.specs = [_spec(a, i) for i, a in enumerate(example_args)]
        self.sizes = [int(np.prod(shape)) for shape, _ in self.specs]
        self.retapes = 0
        self._scalar_args = all(spec == ((), _F64) for spec in self.specs)
        self._variants = [_Variant(f, self._check(example_args))]
        # small elementwise tapes: one generated loop does forward and reverse (codegen.py);
        # it declines (returns None) whatever it cannot take, which then runs the general path
        try:
            self._fused = None if self._variants[0].spans else fuse(
                self._variants[0], [shape for shape, _ in self.specs])
        except Exception as exc:  # a code-generation bug must not cost the (correct) replay
            warnings.warn(f"tg.compile: the fused kernel did not compile ({exc}); the tape "
                          "replays with the interpreter", RuntimeWarning, stacklevel=3)
            self._fused = None

    # -- public calls ------------------------------------------------------------------------

    def __call__(self, *args) -> np.ndarray:
        """Replay the forward: ``f(*args)`` as a NumPy array."""
        if self._fused is not None:
            out = self._fused.run(args, False)
            if out is not None:
                return np.array(out[0]).reshape(self._fused.out_shape)
        variant, buf = self._replay(self._check(args))
        return variant.output(buf)

    def gradient(self, *args):
        """The gradient of scalar ``f`` at ``args``: one array, or a tuple for several args."""
        if self._fused is not None:
            out = self._fused.run(args, True)
            if out is not None:
                return self._fused.gradients(out)
        variant, _, rows = self._run(self._check(args), _SCALAR_SEED)
        if variant.out_size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return self._split(rows[0])

    def value_and_gradient(self, *args):
        """``(f(*args), gradient)`` from one replay."""
        if self._fused is not None:
            out = self._fused.run(args, True)
            if out is not None:
                return (np.array(out[0]).reshape(self._fused.out_shape),
                        self._fused.gradients(out))
        variant, buf, rows = self._run(self._check(args), _SCALAR_SEED)
        if variant.out_size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return variant.output(buf), self._split(rows[0])

    def vjp(self, args, v):
        """Vector-Jacobian product ``vᵀ J`` at ``args`` (a tuple, or one array)."""
        args = self._check(args if isinstance(args, (tuple, list)) else (args,))
        seed = np.asarray(getattr(v, "_v", v), dtype=np.float64)
        variant, _, rows = self._run(args, seed.reshape(1, -1))
        if seed.shape != variant.out_shape:
            raise ValueError(f"vjp: v has shape {seed.shape}, the output has shape "
                             f"{variant.out_shape}")
        return self._split(rows[0])

    def jacobian(self, *args):
        """The Jacobian ``d out / d args``: every output row's reverse sweep in one kernel call.

        Shape ``out.shape + arg.shape`` (a tuple of those for several arguments).
        """
        args = self._check(args)
        variant, _, rows = self._run(args, np.eye(self._variants[-1].out_size))
        if rows.shape[0] != variant.out_size:  # a retape changed the output's size
            rows = variant.run(args, np.eye(variant.out_size))[1]
        parts, at = [], 0
        for spec in self.specs:
            n = int(np.prod(spec[0]))
            parts.append(rows[:, at:at + n].reshape(variant.out_shape + spec[0])
                         .astype(spec[1], copy=False))
            at += n
        return parts[0] if len(parts) == 1 else tuple(parts)

    def gradient_batch(self, X) -> np.ndarray:
        """Gradients of scalar ``f`` at each row of ``X`` (one argument), rows in parallel."""
        from .kernels._dispatch import batch_gradients
        from .kernels.jit import compiling
        from .kernels.optable import FWD, VJP, provide

        if len(self.specs) != 1:
            raise ValueError("gradient_batch: f must take exactly one argument")
        shape, dtype = self.specs[0]
        X = np.asarray(getattr(X, "_v", X), dtype=np.float64)
        if X.shape[1:] != shape:
            raise ValueError(f"gradient_batch: rows must have shape {shape} (the compiled "
                             f"argument's), got {X.shape[1:]}")
        variant = self._variants[-1]
        if variant.out_size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        if variant.spans:  # (a Function's call runs in Python: no parallel kernel for it)
            return np.stack([np.asarray(self.gradient(x)) for x in X]).astype(dtype, copy=False)
        rows = X.reshape(X.shape[0], -1)
        watched = np.array(sorted({g[2] for g in variant.guards}), dtype=np.int64)
        observed = np.zeros((X.shape[0], int(variant.offs[-1])))
        result = np.empty_like(rows)
        statuses = np.zeros(len(rows), np.int64)
        import numba

        if variant.table_ops:
            variant._provide_kernels()
        provide("fwd", set(variant.recs[:, 0].tolist()))  # (its forward inlines none)
        # (the note on a long compile is set up for the first call only: a timer per call
        # would cost more than a small batch)
        with compiling("tg.compile's batch gradient kernel") if not batch_gradients.signatures \
                else contextlib.nullcontext():
            batch_gradients(variant.recs, variant.offs, variant.buf, variant.ints,
                            variant.floats, variant.aux, variant.arg_slots[0], variant.out_slot,
                            rows, result, watched, observed, statuses,
                            max(1, min(numba.get_num_threads(), len(rows))), FWD, VJP)
        if statuses.any():  # (_provide_kernels put every op in: unreachable)
            raise AssertionError("gradient_batch: an op kernel is missing from the tables")
        captured_changed = any(box[0] != version for box, version in variant.captured)
        for i in range(X.shape[0]):  # rows whose guards flipped take the checked path
            if captured_changed or variant.broken_guard(observed[i]) is not None:
                result[i] = self.gradient(X[i]).ravel()
        return result.reshape(X.shape).astype(dtype, copy=False)

    # -- introspection -----------------------------------------------------------------------

    def __len__(self) -> int:
        return self._variants[-1].n_records

    def summary(self) -> str:
        """Counts of records by op, slots, guards and the memory the values take."""
        v = self._variants[-1]
        lines = [f"compiled tape of {getattr(self.f, '__name__', 'f')}: {v.n_records} records, "
                 f"{v.offs.size - 1} slots, {len(v.guards)} guards, {len(self._variants)} "
                 f"variant(s), {self.retapes} retape(s)",
                 f"values: {v.buf.nbytes:,} bytes; params: {v.ints.nbytes + v.floats.nbytes:,}"
                 " bytes",
                 "replay: " + ("one fused loop (generated code)" if self._fused is not None
                               else "the record interpreter")]
        lines += [f"  {count:6d}  {key}" for key, count in v.op_counts.most_common()]
        return "\n".join(lines)

    def listing(self) -> str:
        """One line per record: ``%5 = MulBackward0(%3, %4)``."""
        v = self._variants[-1]
        inputs = {s: f"arg{i}" for i, s in enumerate(v.arg_slots)}
        lines = []
        for op, out, a, b, _, _ in v.recs.tolist():
            operands = [inputs.get(s, f"%{s}") for s in (a, b) if s >= 0]
            lines.append(f"%{out} = {OPS[op].name}({', '.join(operands)})  # {OPS[op].key}")
        lines.append(f"return %{v.out_slot}")
        return "\n".join(lines)

    __str__ = listing

    def __repr__(self) -> str:
        return (f"<CompiledTape of {getattr(self.f, '__name__', 'f')}: {len(self)} records, "
                f"{self.retapes} retapes>")

    # -- internals ---------------------------------------------------------------------------

    def _check(self, args) -> list[np.ndarray] | np.ndarray:
        """The arguments as arrays, checked against the recorded shapes and dtypes.  Many
        Python floats for as many 0-d float64 arguments (a scalar network's parameters) come
        back packed in one array, written into the tape in one step."""
        if self._scalar_args and len(args) == len(self.specs) and all(
                type(a) is float for a in args):
            return np.array(args)
        if len(args) != len(self.specs):
            raise TypeError(f"compiled tape expects {len(self.specs)} argument(s), got "
                            f"{len(args)}")
        out = []
        for i, (a, (shape, dtype)) in enumerate(zip(args, self.specs, strict=True)):
            arr = np.asarray(getattr(a, "_v", a))
            if arr.shape != shape or arr.dtype != dtype:
                raise ValueError(f"compiled tape: argument {i} expects shape {shape} and dtype "
                                 f"{dtype}, given shape {arr.shape} and dtype {arr.dtype}")
            out.append(arr)
        return out

    def _replay(self, args):
        """The forward of a variant whose guards hold for ``args``: ``(variant, buffer)``."""
        return self._run(args, _NO_SEED)[:2]

    def _run(self, args, seeds: np.ndarray):
        """Replay (forward, and reverse for ``seeds``) a variant whose guards hold for ``args``;
        record a new one if none does.  Returns ``(variant, buffer, gradient rows)``."""
        # The first variant runs first; when its guards fail, what they saw finds the variants
        # recorded for such inputs (a dict lookup: a call never replays every variant in turn)
        first = self._variants[0]
        buf, rows = first.run(args, seeds)
        first_broken = first.broken_guard(buf)  # rows computed on a broken branch are dropped
        if first_broken is None:
            return first, buf, rows
        outcome = first.outcome(buf)
        for variant in reversed(self._by_outcome.get(outcome, ())):
            buf, rows = variant.run(args, seeds)
            if variant.broken_guard(buf) is None:
                return variant, buf, rows
        if self.on_guard == "raise":
            kind, what, _, recorded, where = first_broken
            raise GuardError(
                f"compiled tape: guard on {what} recorded at {where} no longer holds for these "
                f"inputs (recorded {_short(recorded)}); the branch taken while recording does "
                "not apply. Make the choice part of the tape with tg.where(cond, a, b), or "
                "compile with on_guard='retape'.")
        self.retapes += 1
        variant = _Variant(self.f, args)
        if len(self._variants) < self.max_variants:
            self._variants.append(variant)
            self._by_outcome.setdefault(outcome, []).append(variant)
        elif not self._warned:
            self._warned = True
            warnings.warn(
                f"tg.compile: {getattr(self.f, '__name__', 'f')} has taken its "
                f"{self.max_variants} variants (recordings for different outcomes of its guards:"
                " .item(), float(), bool(), comparisons in an if); calls matching none of them "
                "now run f recorded for that call only, not cached. Keep such values on the "
                "tape (tg.where, tensor arithmetic instead of .item()), or pass "
                "max_variants=... to tg.compile.", RuntimeWarning, stacklevel=3)
        return (variant,) + variant.run(args, seeds)

    def _split(self, flat: np.ndarray):
        """One array per argument, from a fresh row of gradients (no copy where none is
        needed: every call allocates its own result)."""
        if len(self.specs) == 1:
            shape, dtype = self.specs[0]
            return flat.reshape(shape).astype(dtype, copy=False)
        if self._scalar_args:  # 0-d views, ~10x cheaper than reshape per argument
            return tuple(flat[i, ...] for i in range(flat.size))
        parts, at = [], 0
        for (shape, dtype), n in zip(self.specs, self.sizes, strict=True):
            parts.append(flat[at:at + n].reshape(shape).astype(dtype, copy=False))
            at += n
        return tuple(parts)


_replay_ready = False


def _first_replay() -> None:
    """Compile (or load from numba's cache) the replay kernel, saying so if that takes long."""
    global _replay_ready
    from numba import types

    from .kernels._dispatch import replay
    from .kernels.jit import compiling

    ints, floats, table = types.int64[::1], types.float64[::1], types.float64[:, ::1]
    with compiling("tg.compile's replay kernel"):
        replay.compile((ints, floats, floats, table, floats, types.uint8[::1], table, ints))
    _replay_ready = True


def _spec(a, i: int) -> tuple[tuple, np.dtype]:
    arr = np.asarray(getattr(a, "_v", a))
    if arr.dtype.kind != "f":
        raise TypeError(f"tg.compile: argument {i} must be floating point, got {arr.dtype}")
    dtypes.from_numpy_dtype(arr.dtype)
    return arr.shape, arr.dtype


def _short(recorded: Any) -> str:
    if isinstance(recorded, np.ndarray):
        flat = recorded.ravel()
        return np.array2string(flat[:4]) + (" ..." if flat.size > 4 else "")
    return "a different value"

