"""The reverse sweep: walk a tape's records from the output down, accumulating VJPs.

This is the only loop that runs per record during ``backward``, and it runs in numba.  It
reaches each op's VJP through a table of their addresses (``optable.py``), so the sweep itself
knows nothing about individual ops, and compiling it compiles none: an op's VJP is compiled (or
loaded) the first time a tape needs it, which the sweep reports (``MISSING``) before touching
that record.  Small elementwise records of the common ops run inline from their scalar rules.

The sweep also does the set-up that would otherwise cost one NumPy call each in Python: slot
offsets, the addresses of every value and gradient, and the per-slot flags.  Records whose output
received no gradient are skipped at the cost of one load and a branch, so a tape shared by
unrelated graphs costs little.  The sweep refuses -- instead of returning a silently wrong
gradient -- when a record it must use has had its saved values freed by an earlier backward
(``FREED``) or modified in place since it was recorded (``STALE``).
"""

from ..ops.linalg import product_size
from ..ops.registry import ADD, ANY_RECORD, ASSIGN
from . import abi
from .abi import (
    BIG,
    BLAS,
    C_CONTIGUOUS_ALIGNED,
    DATA_AT,
    DESCR_AT,
    DIMS_AT,
    F64_DESCR,
    F64_SCALAR_TYPE,
    FLAGS,
    FLAGS_AT,
    FLOAT_AT,
    FLOAT_TYPE,
    FP,
    FREED,
    GRAD_ADDRS,
    HAS_GRAD,
    HEADER,
    HOOK,
    HOOKED,
    INLINE_MAX,
    IP,
    LARGE,
    LAST_USE,
    LIST_ITEMS_AT,
    LIST_SIZE_AT,
    MISSING,
    N_COLUMNS,
    N_LAYOUT,
    NDARRAY_TYPE,
    NDIM_AT,
    NEED,
    OK,
    OP,
    OUT,
    POOL,
    REPACK,
    STALE,
    STALE_FLAG,
    TYPE_AT,
    VALUE_ADDRS,
    A,
    B,
)
from .jit import jit, kernel
from .memory import byte_view, call_address, int_table, int_view, slot_view, word


def make_sweep(READS_A, READS_B, SAVES, MATMUL, ASSIGNS, scalar_vjp, INLINE):
    """The sweep, compiled around the op table's per-opcode facts, closed over as constant
    tuples: which saved values each VJP reads, whether the op saves any, whether it is a matrix
    product, whether its VJP can overwrite a gradient instead of adding to it, and whether it
    is one of the common elementwise ops (``INLINE``) whose records of a few elements (up to
    ``INLINE_MAX``: scalar work, a micrograd-style network, small vectors) are done inline by
    ``scalar_vjp``, the op's scalar derivative rules: no call through the table (a call costs
    more than the record's work, as in ``replay.py``).  Every other record calls its op's VJP
    at the address ``vjp_table[opcode]``.
    """

    @kernel
    def sweep(recs, offs, scalars, packed, arrays_list, scalars_list, layout, I, F, aux, keep,
              seed, out, grads, scratch, freed, retain, start, blas_min, vjp_table):
        """Backpropagate ``seed`` from slot ``out``; return ``(status, record, slot)``.  With
        ``out < 0``, ``seed`` holds several seeds: their count k, k slots, then their values.

        The small values are read from ``scalars`` (one-element ones) and ``packed``, each in
        slot order; or, given a ``layout`` (``abi.OBJECT_LAYOUT``), from the tape's own Python
        lists at ``arrays_list`` and ``scalars_list`` (``REPACK`` if one cannot be read so).

        A matrix product of at least ``blas_min`` multiply-adds (``blas_min > 0``) is handed
        back (status ``BLAS``, with the inputs whose gradient slots are still uncleared as
        ``slot``: bit 1 for a, 2 for b): numba has no BLAS of its own without SciPy, and NumPy's
        is ~10x faster than any loop here on such sizes.  The caller computes that record's VJP and
        resumes the sweep with ``start`` = the next record down (set-up is then skipped).

        Slot ``s`` holds ``offs[s+1] - offs[s]`` elements; its gradient is at address
        ``scratch[n + s]`` (n slots), valid where ``scratch[2n + s] & HAS_GRAD``.  That is
        ``grads[offs[s]:offs[s+1]]`` for a slot no record writes (a leaf) and for the slots in
        ``keep`` (retained gradients); a large intermediate slot's gradient may live in the
        region of another, dead one (see the loop below).
        ``aux`` is ``[n_big, n_const, big slots, big addresses, const slots, stale slots]``;
        a "stale slot" ``-(s + 1)`` is slot ``s`` with tensor hooks (returned as ``HOOK``
        when its gradient is complete: see ``tapegrad/hooks.py``).
        ``scratch`` (at least 6n + 1 ints) is reused across calls: allocating in numba costs
        ~1 us per array, more than this whole set-up for a small tape.
        """
        n_slots = offs.size - 1
        value_addr = scratch[VALUE_ADDRS * n_slots:(VALUE_ADDRS + 1) * n_slots]
        grad_addr = scratch[GRAD_ADDRS * n_slots:(GRAD_ADDRS + 1) * n_slots]
        flags = scratch[FLAGS * n_slots:(FLAGS + 1) * n_slots]
        last_use = scratch[LAST_USE * n_slots:(LAST_USE + 1) * n_slots]
        pool = scratch[POOL * n_slots:]
        if start < 0:  # (else resumed after a hand-off: set up already)
            if not _set_up(recs, offs, scalars, packed, arrays_list, scalars_list, layout, aux,
                           keep, seed, out, grads, value_addr, grad_addr, flags, last_use,
                           pool):
                return REPACK, 0, 0
            start = recs.shape[0] - 1
        # The records from ``start`` down (in this function, not one of its own: numba
        # optimises a callee's code again inside every caller, and this is most of the code).
        #
        # Gradient memory is reused, as torch's short-lived gradient tensors reuse freed memory:
        # on a 100,000-element chain, giving each slot a region of its own had the sweep write
        # 160 MB of cold memory, twice torch's backward time.  A large slot that is an input
        # takes, at its first contribution, the region of a dead slot of its size if the pool
        # has one (else its own); a slot's region returns to the pool after its last writer's
        # VJP.
        for r in range(start, -1, -1):
            y = recs[r, OUT]
            fy = flags[y]
            if not fy & HAS_GRAD:
                continue
            if fy & HOOKED:  # tensor hooks on y, whose gradient is complete here (every
                # record reading y is above): the caller runs them, clears the flag, resumes
                return HOOK, r, y
            op = recs[r, OP]
            a = recs[r, A]
            b = recs[r, B]
            need_a = flags[a] & NEED != 0
            need_b = b >= 0 and flags[b] & NEED != 0
            if not (need_a or need_b):
                if last_use[y] == r:
                    _release(pool, grad_addr[y], offs[y + 1] - offs[y])
                continue
            if freed[r] and SAVES[op]:
                return FREED, r, y
            rd = (READS_A[op] if need_a else 0) | (READS_B[op] if need_b else 0)
            if (rd & 1) and flags[a] & STALE_FLAG:
                return STALE, r, a
            if (rd & 2) and flags[b] & STALE_FLAG:
                return STALE, r, b
            if (rd & 4) and flags[y] & STALE_FLAG:
                return STALE, r, y
            handoff = blas_min > 0 and MATMUL[op] > 0 and \
                product_size(I, recs[r, IP], MATMUL[op]) >= blas_min
            asize = offs[a + 1] - offs[a]
            bsize = offs[b + 1] - offs[b] if b >= 0 else 0
            ysize = offs[y + 1] - offs[y]
            # a small elementwise record (no element repeated: equal sizes mean equal shapes
            # but for leading ones) of a common op runs inline, by its scalar rules
            inline = INLINE[op] and asize == ysize and (b < 0 or bsize == ysize) and \
                ysize <= INLINE_MAX
            vjp = 0
            if not (inline or handoff):
                vjp = vjp_table[op]
                if vjp == 0:  # (before anything is done to this record: resumed here)
                    return MISSING, r, op
            # An input's first contribution finds its slot uncleared: a VJP that can overwrite
            # is told to (ASSIGN), for any other the slot is cleared first.  Either way the
            # slot is written while it is about to be in cache, and slots no gradient reaches
            # are never touched.
            # (a matrix product handed to BLAS is overwritten there: ``out=`` instead of ``+=``)
            assigns = handoff or ASSIGNS[op] == ANY_RECORD or (ASSIGNS[op] and recs[r, IP] < 0)
            mode_a = ADD if need_a else 0
            mode_b = ADD if need_b else 0
            if need_a and not flags[a] & HAS_GRAD:
                mode_a = _first_contribution(a, asize, assigns, grad_addr, flags, last_use, pool)
            if need_b and not flags[b] & HAS_GRAD:  # (not when b is a: a's term comes first)
                mode_b = _first_contribution(b, bsize, assigns, grad_addr, flags, last_use, pool)
            bslot = b if b >= 0 else a
            if inline:
                fp = recs[r, FP]
                c = F[fp] if fp >= 0 else 0.0
                gy = slot_view(grad_addr[y], ysize)
                av = slot_view(value_addr[a], ysize)
                bv = slot_view(value_addr[bslot], ysize)
                yv = slot_view(value_addr[y], ysize)
                ga = slot_view(grad_addr[a], ysize)
                gb = slot_view(grad_addr[bslot], ysize)
                for i in range(ysize):
                    da, db = scalar_vjp(op, gy[i], av[i], bv[i], yv[i], c)
                    if need_a:
                        ga[i] = da if mode_a == ASSIGN else ga[i] + da
                    if need_b:  # after a's: when b is a, a's term came first
                        gb[i] = db if mode_b == ASSIGN else gb[i] + db
            elif not handoff:
                call_address(vjp, (grad_addr[y], value_addr[a], value_addr[bslot],
                                   value_addr[y], grad_addr[a], grad_addr[bslot], ysize, asize,
                                   bsize, mode_a, mode_b, I.ctypes.data, I.size,
                                   F.ctypes.data, F.size, recs[r, IP], recs[r, FP]))
            if not retain:
                freed[r] = 1
            if last_use[y] == r:  # y's gradient is dead from here on (after the VJP that
                # read it; a hand-off's VJP runs before the sweep resumes and takes from the pool)
                _release(pool, grad_addr[y], ysize)
            if handoff:  # the caller runs this record's VJP, then resumes below it; the third
                # value says which inputs' slots it must overwrite (1: a, 2: b)
                return BLAS, r, (mode_a == ASSIGN) + 2 * (mode_b == ASSIGN)
        return OK, 0, 0

    return sweep


@kernel
def _set_up(recs, offs, scalars, packed, arrays_list, scalars_list, layout, aux, keep, seed, out,
            grads, value_addr, grad_addr, flags, last_use, pool):
    """The sweep's set-up: every slot's value and gradient address, flags and last use, and the
    seeds; False (nothing read past it) if a value to read in place cannot be read so."""
    n_slots = offs.size - 1
    packed_base = packed.ctypes.data
    grads_base = grads.ctypes.data
    n_big = aux[0]
    n_const = aux[1]
    for s in range(n_slots):
        flags[s] = NEED
    for i in range(n_big):
        flags[aux[2 + i]] |= BIG
    for s in range(n_slots):
        grad_addr[s] = grads_base + 8 * offs[s]
    if layout.size == N_LAYOUT:
        if not _values_in_place(arrays_list, scalars_list, layout, offs, flags, value_addr):
            return False
    else:
        # small values: one-element ones in ``scalars`` when it is not empty (an eager
        # tape), the others -- or all (a compiled tape) -- in ``packed``, each in slot order
        scalars_base = scalars.ctypes.data
        split = scalars.size > 0
        packed_at = 0
        scalar_at = 0
        for s in range(n_slots):
            if flags[s] & BIG == 0:
                size = offs[s + 1] - offs[s]
                if split and size == 1:
                    value_addr[s] = scalars_base + 8 * scalar_at
                    scalar_at += 1
                else:
                    value_addr[s] = packed_base + 8 * packed_at
                    packed_at += size
    for i in range(n_big):
        # a value the tape did not keep (no VJP reads it) gets a harmless address: its
        # own gradient region, so even an op wrongly declaring its reads could not crash
        address = aux[2 + n_big + i]
        value_addr[aux[2 + i]] = address if address != 0 else grad_addr[aux[2 + i]]
    for i in range(2 + 2 * n_big, 2 + 2 * n_big + n_const):
        flags[aux[i]] &= ~NEED
    for i in range(2 + 2 * n_big + n_const, aux.size):
        s = aux[i]
        if s >= 0:
            flags[s] |= STALE_FLAG
        else:  # (a slot with tensor hooks, -(slot + 1): see the sweep's HOOK)
            flags[-s - 1] |= HOOKED
    # a large intermediate gradient is dead once the last record writing its slot (the
    # lowest-numbered: the sweep runs downwards) has been swept; its memory is then reused
    for s in range(n_slots):
        last_use[s] = -1
    if n_big > 0:
        for r in range(recs.shape[0] - 1, -1, -1):
            y = recs[r, OUT]
            if offs[y + 1] - offs[y] >= LARGE:
                last_use[y] = r
        for i in range(keep.size):
            last_use[keep[i]] = -1
    pool[0] = 0  # free regions, as (address, size) pairs after the count
    # no slot is zeroed up front: a gradient slot is cleared when its first contribution
    # arrives (see the sweep), while it is about to be in cache anyway; slots that get
    # none are never touched -- on a 100,000-element chain the grads buffer is 160 MB
    if out >= 0:
        flags[out] |= HAS_GRAD
        o = offs[out]
        for i in range(seed.size):
            grads[o + i] = seed[i]
    else:  # several seeds (a tape other tapes link to): [k, k slots, their values]
        k = int(seed[0])
        at = 1 + k
        for j in range(k):
            s = int(seed[1 + j])
            flags[s] |= HAS_GRAD
            o = offs[s]
            for i in range(offs[s + 1] - o):
                grads[o + i] = seed[at + i]
            at += offs[s + 1] - o
    return True


@kernel
def _values_in_place(arrays_list, scalars_list, layout, offs, flags, value_addr):
    """Point each small slot at its value where the tape holds it: the one-element values are
    the items of the Python list at ``scalars_list`` (floats, NumPy float64 scalars or 0-d
    arrays), the others those of ``arrays_list`` (arrays), each list in slot order.  False,
    with nothing read past it, at the first object that is not one of those or whose array is
    not C-contiguous, aligned float64 data of the slot's size (see ``abi.OBJECT_LAYOUT``)."""
    n_arrays = word(arrays_list + layout[LIST_SIZE_AT])
    array_items = word(arrays_list + layout[LIST_ITEMS_AT])
    n_scalars = word(scalars_list + layout[LIST_SIZE_AT])
    scalar_items = word(scalars_list + layout[LIST_ITEMS_AT])
    i_array = 0
    i_scalar = 0
    for s in range(offs.size - 1):
        if flags[s] & BIG:
            continue
        size = offs[s + 1] - offs[s]
        if size == 1:
            if i_scalar == n_scalars:
                return False
            obj = word(scalar_items + 8 * i_scalar)
            i_scalar += 1
            kind = word(obj + layout[TYPE_AT])
            if kind == layout[FLOAT_TYPE] or kind == layout[F64_SCALAR_TYPE]:
                value_addr[s] = obj + layout[FLOAT_AT]
                continue
        else:
            if i_array == n_arrays:
                return False
            obj = word(array_items + 8 * i_array)
            i_array += 1
            kind = word(obj + layout[TYPE_AT])
        if kind != layout[NDARRAY_TYPE] or word(obj + layout[DESCR_AT]) != layout[F64_DESCR] \
                or word(obj + layout[FLAGS_AT]) & C_CONTIGUOUS_ALIGNED != C_CONTIGUOUS_ALIGNED:
            return False
        n_dims = word(obj + layout[NDIM_AT]) & 0xFFFFFFFF
        dims = word(obj + layout[DIMS_AT])
        n = 1
        for d in range(n_dims):
            n *= word(dims + 8 * d)
        if n != size:
            return False
        value_addr[s] = word(obj + layout[DATA_AT])
    return i_array == n_arrays and i_scalar == n_scalars


@kernel
def _first_contribution(slot, size, assigns, grad_addr, flags, last_use, pool):
    """Ready ``slot``'s uncleared gradient for its first contribution: give a pooled slot a
    region, then tell a VJP that can overwrite to do so (``ASSIGN``), or clear it for one that
    adds (``ADD``)."""
    if last_use[slot] >= 0:
        grad_addr[slot] = _region(pool, size, grad_addr[slot])
    flags[slot] |= HAS_GRAD
    if assigns:
        return ASSIGN
    slot_view(grad_addr[slot], size)[:] = 0.0
    return ADD


@kernel
def _release(pool, address, size):
    n = pool[0]
    pool[1 + 2 * n] = address
    pool[2 + 2 * n] = size
    pool[0] = n + 1


@kernel
def _region(pool, size, own):
    """A pooled region of ``size`` elements (removed from the pool), else ``own``."""
    n = pool[0]
    for i in range(n - 1, -1, -1):  # the most recently freed first: likeliest still in cache
        if pool[2 + 2 * i] == size:
            address = pool[1 + 2 * i]
            pool[1 + 2 * i] = pool[2 * n - 1]
            pool[2 + 2 * i] = pool[2 * n]
            pool[0] = n - 1
            return address
    return own


def make_entry(sweep, N_OPS):
    """The sweep behind a one-argument entry point that reads everything from a call frame
    (layout in ``abi.py``), writing the record and slot of its result back into the frame.

    Inlined by numba into the C callback that calls it (``_dispatch.backward_entry``): numba
    optimises a callee's machine code again inside each caller, and the sweep is large."""

    @jit(error_model="numpy", inline="always")
    def entry(frame_address):
        head = int_view(frame_address, HEADER)
        recs = int_table(head[abi.RECS], head[abi.N_RECS], N_COLUMNS)
        offs = int_view(head[abi.OFFS], head[abi.N_SLOTS] + 1)
        code, record, slot = sweep(
            recs, offs,
            slot_view(head[abi.SCALARS], head[abi.N_SCALARS]),
            slot_view(head[abi.PACKED], head[abi.N_PACKED]),
            head[abi.ARRAYS_LIST], head[abi.SCALARS_LIST],
            int_view(head[abi.LAYOUT], N_LAYOUT if head[abi.LAYOUT] != 0 else 0),
            int_view(head[abi.INTS], head[abi.N_INTS]),
            slot_view(head[abi.FLOATS], head[abi.N_FLOATS]),
            int_view(head[abi.AUX], head[abi.N_AUX]),
            int_view(head[abi.KEEP], head[abi.N_KEEP]),
            slot_view(head[abi.SEED], head[abi.N_SEED]),
            head[abi.OUT_SLOT],
            slot_view(head[abi.GRADS], head[abi.N_GRADS]),
            int_view(head[abi.SCRATCH], head[abi.N_SCRATCH]),
            byte_view(head[abi.FREED_FLAGS], head[abi.N_FREED]),
            head[abi.RETAIN] != 0, head[abi.START], head[abi.BLAS_MIN],
            int_view(head[abi.VJP_TABLE], N_OPS))
        head[abi.RESULT_RECORD] = record
        head[abi.RESULT_SLOT] = slot
        return code

    return entry


def make_forward():
    """The forward replay of a compiled tape, each record through its op's forward at the
    address ``fwd_table[opcode]``.

    Every slot lives in one float64 buffer (``buf[offs[s]:offs[s+1]]``); inputs and constants
    are already in place, and records run in order, each writing its output slot.
    """

    @kernel
    def forward(recs, offs, buf, I, F, fwd_table):
        """False, with nothing done past it, at a record whose op is not in the table."""
        base = buf.ctypes.data
        for r in range(recs.shape[0]):
            fn = fwd_table[recs[r, OP]]
            if fn == 0:
                return False
            call_fwd(fn, recs, r, offs, base, I, F)
        return True

    return forward


@kernel
def call_fwd(fn, recs, r, offs, base, I, F):
    """Record ``r``'s forward, by the op kernel at ``fn``, on the slots in the buffer at
    ``base``."""
    y = recs[r, OUT]
    a = recs[r, A]
    b = recs[r, B]
    bslot = b if b >= 0 else a
    bsize = offs[b + 1] - offs[b] if b >= 0 else 0
    call_address(fn, (base + 8 * offs[y], base + 8 * offs[a], base + 8 * offs[bslot],
                      offs[y + 1] - offs[y], offs[a + 1] - offs[a], bsize, I.ctypes.data,
                      I.size, F.ctypes.data, F.size, recs[r, IP], recs[r, FP]))


@kernel
def call_vjp(fn, recs, r, offs, base, gbase, I, F, need_a, need_b):
    """Record ``r``'s VJP, by the op kernel at ``fn``, on the values in the buffer at ``base``
    and the gradients in the one at ``gbase`` (laid out alike)."""
    y = recs[r, OUT]
    a = recs[r, A]
    b = recs[r, B]
    bslot = b if b >= 0 else a
    bsize = offs[b + 1] - offs[b] if b >= 0 else 0
    call_address(fn, (gbase + 8 * offs[y], base + 8 * offs[a], base + 8 * offs[bslot],
                      base + 8 * offs[y], gbase + 8 * offs[a], gbase + 8 * offs[bslot],
                      offs[y + 1] - offs[y], offs[a + 1] - offs[a], bsize, need_a, need_b,
                      I.ctypes.data, I.size, F.ctypes.data, F.size, recs[r, IP], recs[r, FP]))
