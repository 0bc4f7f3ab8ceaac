"""The reverse sweep: walk a tape's records from the output down, accumulating VJPs.

This is the only loop that runs per record during ``backward``, and it runs in numba.  It is
written against a ``dispatch`` function (generated from the op table, see ``generate.py``) that
calls the right op's VJP for an opcode, so the sweep itself knows nothing about individual ops.

Records whose output received no gradient are skipped at the cost of one load and a branch, so a
tape shared by unrelated graphs costs little.  The sweep refuses -- instead of returning a silently
wrong gradient -- when a record it must use has had its saved values freed by an earlier backward
(``FREED``) or modified in place since it was recorded (``STALE``).
"""

from .jit import kernel
from .memory import slot_view

OK, FREED, STALE = 0, 1, 2

# columns of the int64 record array
OP, OUT, A, B, IP, FP = range(6)


def make_sweep(dispatch):
    """The sweep, compiled around one ``dispatch``.

    ``dispatch`` is closed over rather than passed as an argument: numba refuses to cache a
    function that receives another function as an argument.
    """

    @kernel
    def sweep(recs, I, F, value_addr, grad_addr, size, need, has_grad, stale, freed, reads, start,
              retain):
        """Run VJPs for records ``start, start-1, ..., 0``; return ``(status, record, slot)``."""
        for r in range(start, -1, -1):
            out = recs[r, OUT]
            if not has_grad[out]:
                continue
            op = recs[r, OP]
            a = recs[r, A]
            b = recs[r, B]
            rd = reads[op]
            if freed[r] and rd != 0:
                return FREED, r, out
            if (rd & 1) and stale[a]:
                return STALE, r, a
            if (rd & 2) and stale[b]:
                return STALE, r, b
            if (rd & 4) and stale[out]:
                return STALE, r, out
            need_a = need[a] != 0
            need_b = b >= 0 and need[b] != 0
            if need_a or need_b:
                bslot = b if b >= 0 else a
                bsize = size[b] if b >= 0 else 0
                dispatch(op,
                         slot_view(grad_addr[out], size[out]),
                         slot_view(value_addr[a], size[a]),
                         slot_view(value_addr[bslot], bsize),
                         slot_view(value_addr[out], size[out]),
                         slot_view(grad_addr[a], size[a]),
                         slot_view(grad_addr[bslot], bsize),
                         need_a, need_b, I, F, recs[r, IP], recs[r, FP])
                if need_a:
                    has_grad[a] = 1
                if need_b:
                    has_grad[b] = 1
            if not retain:
                freed[r] = 1
        return OK, 0, 0

    return sweep
