"""A compiled tape's replay: forward, then reverse sweeps, in one numba call.

``tg.compile`` replays a tape many times, so each call should cost as little set-up as possible:

* one kernel call does the forward and every reverse sweep (one per seed row), instead of a
  forward kernel, a guard check in Python and a reverse kernel -- the guards are checked after
  the call, and a result computed along a branch they reject is thrown away;
* a compiled tape is never freed or changed in place, so the reverse walk needs none of the
  eager sweep's freed/stale bookkeeping (``sweep.py``);
* records of a one-element elementwise op (``records`` flags them ``SCALAR``) -- the whole of a
  micrograd-style scalar network -- are computed inline on the buffer by the op's scalar rules
  (``scalar_fwd``/``scalar_vjp``, generated from the op table for the common ops): no call per
  record.  Every other record calls its op's forward or VJP through the tables of their
  addresses (``optable.py``; the caller puts every op of the tape in them first);
* except a large matrix product: numba has no BLAS of its own (without SciPy), and NumPy's is
  ~10x faster than any loop here on such sizes, so -- as the eager sweep does -- the replay
  stops there and returns ``BLAS_FORWARD`` or ``BLAS_REVERSE``; the caller computes that record
  in NumPy (``ops/linalg.py``) and calls again to resume, where ``state`` says;
* and a custom Function's records (``HOST``): the replay stops at the group, in both
  directions, for the caller to run the Function's forward or backward in Python
  (``compiled.py``), and resumes past the group where the caller leaves ``state[RECORD]``.
"""

import numpy as np

from ..ops.linalg import product_size
from ..ops.registry import ADD, ANY_RECORD, ASSIGN
from .abi import (  # noqa: F401  (re-exported: the replay's statuses and state, for callers)
    BLAS_FORWARD,
    BLAS_REVERSE,
    DONE,
    FLAGS,
    FP,
    HAS_GRAD,
    IP,
    MODE_A,
    MODE_B,
    N_COLUMNS,
    N_STATE,
    NEED,
    NO_KERNEL,
    OP,
    OUT,
    RECORD,
    ROW,
    SCALAR,
    SCRATCH_EXTRA,
    SCRATCH_PER_SLOT,
    STAGE,
    STATE_BLAS_MIN,
    STATE_FWD,
    STATE_VJP,
    A,
    B,
)
from .jit import jit, kernel
from .memory import int_view
from .sweep import call_fwd, call_vjp


def scalar_records(recs: np.ndarray, offs: np.ndarray, inline) -> np.ndarray:
    """Per record, ``SCALAR`` where every slot it touches holds one element and its op's scalar
    rules are compiled into the replay (``inline[opcode]``); 0 elsewhere."""
    size = np.diff(offs)
    b = recs[:, B]
    one = (size[recs[:, OUT]] == 1) & (size[recs[:, A]] == 1) & ((b < 0) | (size[b] == 1))
    return (one & np.asarray(inline, dtype=bool)[recs[:, OP]]).astype(np.uint8) * SCALAR


def pack(recs, offs, ints, aux, kinds, args, out: int) -> np.ndarray:
    """A tape's int arrays as one: ``[header (8), recs, offs, ints, aux, kinds, args]``.

    numba's dispatcher checks every argument's type on each call (~0.2 us per array): one
    array for six saves a microsecond per replay.  ``aux`` is ``[0, n_const, const slots...]``
    (slots whose gradient nobody needs), ``kinds`` the per-record flags of
    :func:`scalar_records`, ``args`` the argument slots, ``out`` the output slot.
    """
    parts = [recs.ravel(), offs, ints, aux, kinds, args]
    header = [recs.shape[0], offs.size, ints.size, aux.size, args.size, out, 0, 0]
    return np.concatenate([np.array(header, np.int64)] + [np.asarray(p, np.int64)
                                                           for p in parts])


@kernel
def unpack(program):
    """Views of the arrays :func:`pack` put in ``program``."""
    n_rec, n_offs, n_ints, n_aux, n_args, out = (program[0], program[1], program[2],
                                                  program[3], program[4], program[5])
    at = 8
    recs = program[at:at + N_COLUMNS * n_rec].reshape((n_rec, N_COLUMNS))
    at += N_COLUMNS * n_rec
    offs = program[at:at + n_offs]
    at += n_offs
    ints = program[at:at + n_ints]
    at += n_ints
    aux = program[at:at + n_aux]
    at += n_aux
    kinds = program[at:at + n_rec]
    at += n_rec
    return recs, offs, ints, aux, kinds, program[at:at + n_args], out


def make_replay(scalar_fwd, scalar_vjp, ASSIGNS, MATMUL, HOST, N_OPS):
    """The replay kernel, compiled around the common ops' scalar rules (closed over, not passed:
    numba cannot cache a function that takes another as an argument); ``ASSIGNS`` and
    ``MATMUL`` are the per-opcode ``Op.assigns`` and ``Op.matmul``, as in ``sweep.py``;
    ``HOST`` marks the ops whose records run in Python (a custom Function's)."""

    @kernel
    def handed_off(recs, r, I, blas_min):
        """Whether record ``r`` is a product large enough for NumPy's BLAS."""
        kind = MATMUL[recs[r, OP]]
        return blas_min > 0 and kind > 0 and product_size(I, recs[r, IP], kind) >= blas_min

    @kernel
    def replay(program, buf, F, seeds, grads, flags, result, state):
        """Forward over ``buf`` (inputs already written), then one reverse sweep per row of
        ``seeds``, leaving row ``k`` of ``result`` = the arguments' gradients, concatenated;
        ``DONE``, or where it stopped for the caller's BLAS (see the module docstring).

        ``program`` is the tape's int arrays in one (see :func:`pack`); ``grads`` holds
        ``offs[-1]`` floats and ``flags`` one byte per slot, reused across calls.
        """
        recs, offs, I, aux, kinds, args, out = unpack(program)
        base = buf.ctypes.data
        n_rec = recs.shape[0]
        blas_min = state[STATE_BLAS_MIN]
        fwd_table = int_view(state[STATE_FWD], N_OPS)
        vjp_table = int_view(state[STATE_VJP], N_OPS)
        stage = state[STAGE]
        if stage != BLAS_REVERSE:
            for r in range(state[RECORD] + 1 if stage == BLAS_FORWARD else 0, n_rec):
                op = recs[r, OP]
                y = recs[r, OUT]
                a = recs[r, A]
                b = recs[r, B]
                fp = recs[r, FP]
                if kinds[r] == SCALAR:
                    buf[offs[y]] = scalar_fwd(op, buf[offs[a]],
                                              buf[offs[b] if b >= 0 else offs[a]],
                                              F[fp] if fp >= 0 else 0.0)
                elif HOST[op] or handed_off(recs, r, I, blas_min):
                    state[STAGE] = BLAS_FORWARD
                    state[RECORD] = r
                    return BLAS_FORWARD
                elif fwd_table[op] == 0:
                    return NO_KERNEL  # (the caller's error: never a call to address 0)
                else:
                    # (in a function of its own: written inline in this loop, its call slows
                    # down the scalar path that shares the loop ~4x, measured)
                    call_fwd(fwd_table[op], recs, r, offs, base, I, F)

        n_slots = offs.size - 1
        gbase = grads.ctypes.data
        resume = stage == BLAS_REVERSE
        for k in range(state[ROW] if resume else 0, seeds.shape[0]):
            if resume:  # back from a hand-off: on down from the record below it
                start = state[RECORD] - 1
                resume = False
            else:
                start = n_rec - 1
                for s in range(n_slots):
                    flags[s] = NEED
                for i in range(aux[1]):
                    flags[aux[2 + i]] = 0
                # no slot is cleared up front: an input's gradient is overwritten (or
                # cleared) at its first contribution, as in sweep.py -- on a 100,000-element
                # chain the buffer is 160 MB, and clearing it was a pass of its own
                o = offs[out]
                n_seed = min(seeds.shape[1], offs[out + 1] - o)  # a wrong-sized seed is the
                for i in range(n_seed):  # caller's error to raise: never write past
                    grads[o + i] = seeds[k, i]
                grads[o + n_seed:offs[out + 1]] = 0.0
                flags[out] |= HAS_GRAD
            for r in range(start, -1, -1):
                y = recs[r, OUT]
                if not flags[y] & HAS_GRAD:
                    continue
                a = recs[r, A]
                b = recs[r, B]
                need_a = flags[a] & NEED != 0
                need_b = b >= 0 and flags[b] & NEED != 0
                if not (need_a or need_b):
                    continue
                op = recs[r, OP]
                fp = recs[r, FP]
                if kinds[r] == SCALAR:
                    ob = offs[b] if b >= 0 else offs[a]
                    da, db = scalar_vjp(op, grads[offs[y]], buf[offs[a]], buf[ob], buf[offs[y]],
                                        F[fp] if fp >= 0 else 0.0)
                    if need_a:
                        grads[offs[a]] = grads[offs[a]] + da if flags[a] & HAS_GRAD else da
                        flags[a] |= HAS_GRAD
                    if need_b:  # (after a's: when b is a, a's term came first)
                        grads[ob] = grads[ob] + db if flags[b] & HAS_GRAD else db
                        flags[b] |= HAS_GRAD
                elif HOST[op]:  # (the caller runs the whole group, and sets its slots' flags)
                    state[STAGE] = BLAS_REVERSE
                    state[ROW] = k
                    state[RECORD] = r
                    return BLAS_REVERSE
                else:
                    # (a product handed to BLAS overwrites there: ``out=`` instead of ``+=``)
                    handoff = handed_off(recs, r, I, blas_min)
                    if not handoff and vjp_table[op] == 0:
                        return NO_KERNEL
                    assigns = handoff or ASSIGNS[op] == ANY_RECORD or (
                        ASSIGNS[op] and recs[r, IP] < 0)
                    mode_a = ADD if need_a else 0
                    mode_b = ADD if need_b else 0
                    if need_a and not flags[a] & HAS_GRAD:
                        mode_a = _first(grads, offs, a, assigns, flags)
                    if need_b and not flags[b] & HAS_GRAD:
                        mode_b = _first(grads, offs, b, assigns, flags)
                    if handoff:
                        state[STAGE] = BLAS_REVERSE
                        state[ROW] = k
                        state[RECORD] = r
                        state[MODE_A] = mode_a
                        state[MODE_B] = mode_b
                        return BLAS_REVERSE
                    call_vjp(vjp_table[op], recs, r, offs, base, gbase, I, F, mode_a, mode_b)
            at = 0
            for i in range(args.size):
                s = args[i]
                n = offs[s + 1] - offs[s]
                if flags[s] & HAS_GRAD:
                    result[k, at:at + n] = grads[offs[s]:offs[s] + n]
                else:
                    result[k, at:at + n] = 0.0
                at += n
        return DONE

    return replay


@kernel
def _first(grads, offs, slot, assigns, flags):
    """``slot``'s gradient gets its first contribution: overwritten by a VJP that can
    (``ASSIGN``), else cleared for one that adds."""
    flags[slot] |= HAS_GRAD
    if assigns:
        return ASSIGN
    grads[offs[slot]:offs[slot + 1]] = 0.0
    return ADD


def make_batch_gradients(forward, sweep):
    """Forward and reverse for each row of a batch, the rows spread over all cores, by the
    compiled tape's ``forward`` and the eager ``sweep`` (``sweep.py``), compiled around them.

    Every buffer is allocated before the parallel loop (numba hoists allocations out of a
    prange body, which would share them between threads)."""
    from numba import prange

    @jit(error_model="numpy", parallel=True)
    def batch_gradients(recs, offs, buf, I, F, aux, arg_slot, out, X, result, watched, observed,
                        statuses, n_chunks, fwd_table, vjp_table):
        n_slots = offs.size - 1
        size = offs[n_slots]
        width = offs[arg_slot + 1] - offs[arg_slot]
        work = np.empty((n_chunks, size))
        grads = np.empty((n_chunks, size + 1))
        scratch = np.empty((n_chunks, SCRATCH_PER_SLOT * n_slots + SCRATCH_EXTRA), np.int64)
        keep = np.zeros(0, np.int64)
        freed = np.zeros((n_chunks, recs.shape[0]), np.uint8)
        seed = np.ones(1)
        all_packed = np.zeros(0)  # (no separate one-element values: buf holds every slot)
        no_layout = np.zeros(0, np.int64)  # (values are in buf, not read from objects)
        for c in prange(n_chunks):
            mine = work[c]
            for row in range(c, X.shape[0], n_chunks):
                mine[:] = buf
                mine[offs[arg_slot]:offs[arg_slot] + width] = X[row]
                if not forward(recs, offs, mine, I, F, fwd_table):
                    statuses[row] = -1  # (an op missing from the table: nothing swept)
                    continue
                for i in range(watched.size):  # guarded slots, for the caller to check
                    s = watched[i]
                    observed[row, offs[s]:offs[s + 1]] = mine[offs[s]:offs[s + 1]]
                status, _, _ = sweep(recs, offs, all_packed, mine, 0, 0, no_layout, I, F, aux,
                                     keep, seed, out, grads[c], scratch[c], freed[c], True, -1,
                                     0, vjp_table)
                statuses[row] = status  # (not OK only for an op missing from the table)
                if scratch[c, FLAGS * n_slots + arg_slot] & HAS_GRAD:
                    result[row] = grads[c, offs[arg_slot]:offs[arg_slot] + width]
                else:
                    result[row] = 0.0

    return batch_gradients
