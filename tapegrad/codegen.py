"""Straight-line numba for small elementwise tapes: forward and reverse fused into one loop.

The interpreter (``kernels/sweep.py``) runs one op kernel per record, over whole slots held in a
buffer: every intermediate is written to memory and read back, forward and reverse.  Many
compiled functions are much simpler than that -- a chain of elementwise ops over arrays of one
size ``N`` (with inputs read directly or through a gather such as ``x[1:]``), summed into the
scalar output.  For such a tape the whole gradient is one loop over ``i < N``: compute every
value of element ``i`` in registers, add it to the sum, then -- the sum's gradient being the seed,
known up front -- run the reverse of the same chain for element ``i`` and add into the
arguments' gradients.  No intermediate touches memory.

:func:`fuse` writes that loop as Python source for one recorded tape and compiles it with numba
(``cache=False``: the code belongs to this process; tapes that produce the same source share
one kernel, and a process compiles at most ``MAX_KERNELS`` different ones).  One-element values
(a 0-d parameter, ``x[0]``, a scalar tensor) may join in: they are the same for every ``i``, and
their gradient is summed over the loop.  From ``BLOCK`` elements on, the loop runs in blocks
(see ``_blocked``) so that LLVM can vectorise it.  :func:`fuse` returns None for any tape outside
that shape (guards, other ops, broadcasting rows against columns, too many records or
arguments); those keep the interpreter.

Example of the source written for ``(x[1:] * x[:-1]).sum()`` (``x`` of 4 elements)::

    def fused(x0, C, I, seed, do_grad):
        G0 = np.zeros(x0.size if do_grad else 0)
        acc = 0.0
        for i in range(3):
            v1 = x0[1 + 1 * i]
            v2 = x0[0 + 1 * i]
            v3 = f20(v1, v2)
            acc += v3
            if do_grad:
                g3 = seed
                g1 = da20(g3, v1, v2, v3)
                g2 = db20(g3, v1, v2, v3)
                G0[0 + 1 * i] += g2
                G0[1 + 1 * i] += g1
        return acc, G0
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

from .cachedir import warn_once
from .kernels.jit import built, jit, plain
from .ops import OPS

#: tapes with more records than this keep the interpreter: numba's compile time grows with the
#: length of the generated function (~1 s for 200 records)
MAX_RECORDS = 320

#: nor more arguments: numba checks each one's type on every call (~0.2 us), and the
#: interpreter takes many float arguments packed in one array instead
MAX_ARGS = 32

#: ops that read their input through a gather map (``I[ip + i]`` is the flat input offset of
#: output element ``i``) -- see ``ops/shape.py``
_GATHERS = {"slice", "select", "index", "transpose", "permute", "t", "expand"}
#: gathers recorded as a strided block instead: ``[nd, offset, shape (nd), strides (nd)]``
_STRIDED = {"slice", "select"}
_COPIES = {"view", "clone"}
#: elements per block of the blocked loop (see ``_blocked``): its scratch stays in L1
BLOCK = 512
#: tapes over ``BLOCK`` elements or more keep the interpreter beyond this many records: one
#: element's long chain of dependent ops (50 tanh in a row) runs at the ops' latency, where the
#: interpreter's op-by-op loops overlap independent elements (chain-1000: 1.4x slower fused)
MAX_BLOCKED_RECORDS = 64
_REDUCTIONS = {"sum": 1.0, "mean": None}  # None: 1/N


class Fused:
    """A tape's fused gradient kernel and what a call must check before using it."""

    def __init__(self, kernel, shapes: list[tuple], flat: list[bool], consts: np.ndarray,
                 ints: np.ndarray, captured: list, out_shape: tuple, source: str) -> None:
        self.kernel = kernel
        self.shapes = shapes
        self.flat = flat  # per argument: already 1-D (no reshape needed)
        self.consts = consts
        self.ints = ints
        self.captured = captured
        self.out_shape = out_shape
        self.source = source

    def run(self, args: tuple, do_grad: bool):
        """``(value, gradients)``, or None when these arguments need the general path."""
        if len(args) == 1 and not self.captured:  # the common case, in the fewest steps
            a = args[0]
            if type(a) is np.ndarray and a.shape == self.shapes[0]:
                try:
                    return self.kernel(a if self.flat[0] else a.reshape(-1), self.consts,
                                       self.ints, 1.0, do_grad)
                except TypeError:  # not float64, not contiguous, read-only
                    return None
        if len(args) != len(self.shapes):
            return None
        arrays = []
        for a, shape, flat in zip(args, self.shapes, self.flat, strict=True):
            if type(a) is not np.ndarray:
                a = getattr(a, "_v", None)
                if type(a) is not np.ndarray:
                    return None
            if a.shape != shape:
                return None  # the general path raises the error naming both shapes
            arrays.append(a if flat else a.reshape(-1))
        for box, version in self.captured:
            if box[0] != version:
                return None  # the general path retapes
        try:
            out = self.kernel(*arrays, self.consts, self.ints, 1.0, do_grad)
        except TypeError:  # not float64, not contiguous, read-only: the general path
            return None
        return out

    def gradients(self, out: tuple):
        """The gradient arrays of a :meth:`run` result, shaped like the arguments."""
        if len(out) == 2:
            g = out[1]
            return g if self.flat[0] else g.reshape(self.shapes[0])
        return tuple(g if flat else g.reshape(shape)
                     for g, shape, flat in zip(out[1:], self.shapes, self.flat, strict=True))


def fuse(variant, shapes: list[tuple]) -> Fused | None:
    """The fused kernel for a recorded variant (see ``compiled._Variant``) whose arguments
    have ``shapes``, or None when the tape is not of the fusable kind."""
    plan = _plan(variant)
    if plan is None:
        return None
    source, names = _render(plan)
    kernel = _KERNELS.get(source)
    if kernel is None:
        if len(_KERNELS) >= MAX_KERNELS:
            warn_once(f"tg.compile: {MAX_KERNELS} different fused kernels compiled in this "
                      "process, and numba never frees compiled code: further tapes replay "
                      "with the interpreter (raise tapegrad.codegen.MAX_KERNELS to allow more)")
            return None
        kernel = _KERNELS[source] = _compile(source, names, len(variant.arg_slots))
    shapes = [tuple(shape) for shape in shapes]
    return Fused(kernel, shapes, [len(s) == 1 for s in shapes], variant.buf, variant.ints,
                 variant.captured, variant.out_shape, source)


#: at most this many different fused kernels per process.  numba keeps every function it
#: compiles (~1.3 MB of LLVM modules and machine code each) until the process exits, whether
#: or not anything still refers to it: a loop compiling ever different tapes (a constant
#: that changes, baked into the source) would grow without bound.  Identical tapes share one
#: kernel (``_KERNELS`` is keyed by the source), so only distinct ones count.
MAX_KERNELS = 256

#: generated source -> its compiled kernel; never evicted (evicting frees nothing, see above)
_KERNELS: dict[str, object] = {}


def _compile(source: str, names: dict, n_args: int):
    """The numba kernel of a generated ``fused`` function (``cache=False``: the code belongs
    to the tapes of this process)."""
    namespace = {"np": np, "math": math, **names}
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    exec(compile(source, f"<tapegrad fused tape {digest}>", "exec"), namespace)
    from numba import njit, types

    arr = types.float64[::1]
    sig = types.Tuple((types.float64,) + (arr,) * n_args)(
        *([arr] * n_args), arr, types.int64[::1], types.float64, types.boolean)
    return njit(sig, error_model="numpy", cache=False)(namespace["fused"])


# -- planning ---------------------------------------------------------------------------------


def _plan(v) -> dict | None:
    """Check that the tape has the fusable shape; collect what the source needs."""
    if (v.guards or v.n_records > MAX_RECORDS or v.n_records == 0
            or len(v.arg_slots) > MAX_ARGS):
        return None
    recs = v.recs.tolist()
    size = np.diff(v.offs)
    args = {s: k for k, s in enumerate(v.arg_slots)}
    if len(args) != len(v.arg_slots):
        return None  # one slot passed twice
    written = [r[1] for r in recs]
    if len(set(written)) != len(written) or any(s in args for s in written):
        return None  # a slot written by several records (cat, where, x[k] = v)
    consts = set(int(s) for s in v.aux[2:2 + v.aux[1]])

    # the output: a full sum/mean of a loop value, or (N == 1) a loop value itself
    out = v.out_slot
    last = [r for r in recs if r[1] == out]
    scale = 1.0
    loop_recs = recs
    if last and OPS[last[0][0]].key in _REDUCTIONS:
        reduced = last[0][2]
        n = int(size[reduced])
        scale = _REDUCTIONS[OPS[last[0][0]].key] or (1.0 / n if n else 0.0)
        loop_recs = [r for r in recs if r[1] != out]
        result = reduced
    else:
        n = 1
        result = out
    if n == 0 or int(size[out]) != 1 or (n >= BLOCK and len(recs) > MAX_BLOCKED_RECORDS):
        return None
    if any(r[2] == out or r[3] == out for r in loop_recs):
        return None  # the reduced scalar feeds other records

    alias: dict[int, int] = {}  # view/clone output (or a repeated computation) -> its value
    seen: dict[tuple, int] = {}  # (op, inputs, parameter) -> the first slot that computed it
    body = []
    for op, y, a, b, ip, fp in loop_recs:
        spec = OPS[op]
        a = alias.get(a, a)
        b = alias.get(b, b)
        # values of n elements, or of one (a 0-d parameter, x[2]): those are recomputed per i
        if size[y] != n and not (size[y] == 1 and (spec.key in _GATHERS or (
                size[a] == 1 and (b < 0 or size[b] == 1)))):
            return None
        if spec.key in _COPIES:
            if y in consts:
                return None  # a detached copy: its gradient is cut, an alias would pass it
            alias[y] = a
            continue
        if spec.key in _GATHERS:
            if a in written or a in alias:  # gathers read arguments or constants only
                return None
            if spec.key in _STRIDED:
                prog = _strided_progression(v.ints, ip)
                if prog is None:
                    return None  # a block that is no single progression (x[:, 1:])
            else:
                prog = _progression(v.ints[ip:ip + int(size[y])])
            if _repeated(seen, alias, consts, y, ("gather", a, prog or ip)):
                continue  # x[:-1] written twice is read once
            body.append(("gather", op, y, a, ip, prog))
            continue
        if not spec.rules:
            return None
        kind = spec.rules[0]
        if kind == "binary" and (size[a] not in (n, 1) or size[b] not in (n, 1)):
            return None  # rows against columns: the interpreter walks the broadcast
        # (an operand of n elements is read in place whatever its shape; one of 1 element
        # -- a 0-d parameter, a scalar tensor -- is the same for every i)
        if kind != "binary" and size[a] != size[y]:
            return None
        c = float(v.floats[fp]) if kind == "scalar" else None
        if _repeated(seen, alias, consts, y, (op, a, b, c)):
            continue
        body.append((kind, op, y, a, b, c))
    result = alias.get(result, result)

    sources = []  # slots read directly in the loop: arguments and constants of size n or 1
    produced = {item[2] for item in body}
    for item in body:
        reads = [item[3]] if item[0] in ("unary", "scalar", "gather") else [item[3], item[4]]
        if item[0] == "gather":
            continue
        for s in reads:
            if s not in produced and s not in sources:
                sources.append(s)  # of n or 1 elements: binary ops were checked above
    if result not in produced and result not in sources:
        if size[result] != n:
            return None
        sources.append(result)

    # which loop values carry a gradient: depend on an argument and are not cut off (consts)
    needs = {s for s in args}
    for item in body:
        ins = [item[3]] if item[0] in ("unary", "scalar", "gather") else [item[3], item[4]]
        if item[2] not in consts and any(s in needs for s in ins):
            needs.add(item[2])
    return {"n": n, "body": body, "sources": sources, "result": result, "scale": scale,
            "args": args, "needs": needs, "offs": v.offs.tolist(),
            "uniform": {s for s in sources if size[s] != n}}  # one element, read at 0


def _repeated(seen: dict, alias: dict, consts: set, y: int, key: tuple) -> bool:
    """Whether ``y`` repeats a computation already made (then it becomes an alias of it).
    Slots whose gradient is cut (detached) are left alone: an alias would pass it on."""
    if y in consts:
        return False
    if key in seen:
        alias[y] = seen[key]
        return True
    seen[key] = y
    return False


def _strided_progression(ints: np.ndarray, ip: int) -> tuple[int, int] | None:
    """``(start, step)`` if a strided block (slice, select) is an arithmetic progression: its
    dims longer than 1 nest without gaps."""
    nd, start = int(ints[ip]), int(ints[ip + 1])
    dims = [(int(ints[ip + 2 + d]), int(ints[ip + 2 + nd + d])) for d in range(nd)
            if ints[ip + 2 + d] != 1]
    if not dims:
        return start, 0
    for (_, outer), (n, inner) in zip(dims, dims[1:], strict=False):
        if outer != inner * n:
            return None
    return start, dims[-1][1]


def _progression(m: np.ndarray) -> tuple[int, int] | None:
    """``(start, step)`` if the gather map is an arithmetic progression (a basic slice)."""
    if m.size == 1:
        return int(m[0]), 0
    step = int(m[1] - m[0])
    if np.array_equal(m, m[0] + step * np.arange(m.size)):
        return int(m[0]), step
    return None


# -- source -----------------------------------------------------------------------------------


def _literal(c: float) -> str:
    # literals let LLVM fold the rules' branches on the constant (x ** 2.0 becomes x * x)
    if math.isnan(c):
        return "math.nan"
    if math.isinf(c):
        return "math.inf" if c > 0 else "-math.inf"
    return repr(c)


def _plain(rule):
    """A scalar rule as an ordinary function, which LLVM inlines (see ``jit.plain``): a
    200-record tape took ~3x longer to compile with numba's own inlining.  Cached on disk:
    the first fused tape of a process then compiles in ~0.3 s instead of ~1 s."""
    return plain(rule)


def _render(plan: dict) -> tuple[str, dict]:
    n, args, needs, offs = plan["n"], plan["args"], plan["needs"], plan["offs"]
    names: dict = {}
    fwd, rev, scatters = [], [], []  # scatters: (argument, index expression, gradient)

    def read(slot: str, index: str) -> str:
        return f"x{args[slot]}[{index}]" if slot in args else f"C[{offs[slot]} + {index}]"

    def where(item) -> str:
        prog = item[5]
        if prog is None:
            return f"I[{item[4]} + i]"
        return f"{prog[0]} + {prog[1]} * i"

    for s in plan["sources"]:
        fwd.append(f"v{s} = {read(s, '0' if s in plan['uniform'] else 'i')}")
    for item in plan["body"]:
        kind, op, y = item[0], item[1], item[2]
        if kind == "gather":
            fwd.append(f"v{y} = {read(item[3], where(item))}")
            continue
        rules = OPS[op].rules
        names[f"f{op}"] = _plain(rules[1])
        if kind == "unary":
            fwd.append(f"v{y} = f{op}(v{item[3]})")
        elif kind == "scalar":
            fwd.append(f"v{y} = f{op}(v{item[3]}, {_literal(item[5])})")
        else:
            fwd.append(f"v{y} = f{op}(v{item[3]}, v{item[4]})")

    result = plan["result"]
    started: set = set()

    def add(slot, expr: str) -> None:
        rev.append(f"g{slot} {'+=' if slot in started else '='} {expr}")
        started.add(slot)

    if result in needs:
        add(result, "seed" if plan["scale"] == 1.0 else f"seed * {_literal(plan['scale'])}")
    for item in reversed(plan["body"]):
        kind, op, y = item[0], item[1], item[2]
        if y not in started:
            continue
        if kind == "gather":
            if item[3] in args:
                scatters.append((args[item[3]], where(item), f"g{y}"))
            continue
        rules = OPS[op].rules
        a = item[3]
        if kind in ("unary", "scalar"):
            if a in needs:
                names[f"d{op}"] = _plain(rules[2])
                extra = f", {_literal(item[5])}" if kind == "scalar" else ""
                add(a, f"d{op}(g{y}, v{a}, v{y}{extra})")
            continue
        b = item[4]
        if a in needs:
            names[f"da{op}"] = _plain(rules[2])
            add(a, f"da{op}(g{y}, v{a}, v{b}, v{y})")
        if b in needs:
            names[f"db{op}"] = _plain(rules[3])
            add(b, f"db{op}(g{y}, v{a}, v{b}, v{y})")
    for s in plan["sources"]:
        if s in args and s in started:
            scatters.append((args[s], "0" if s in plan["uniform"] else "i", f"g{s}"))

    params = ", ".join(f"x{k}" for k in range(len(args)))
    lines = [f"def fused({params}, C, I, seed, do_grad):"]
    lines += [f"    G{k} = np.zeros(x{k}.size if do_grad else 0)" for k in range(len(args))]
    lines.append("    acc = 0.0")
    emit = _blocked if n >= BLOCK else _simple
    lines += emit(n, fwd, rev, scatters, f"v{result}")
    grads = "".join(f", G{k}" for k in range(len(args)))
    total = "acc" if plan["scale"] == 1.0 else f"acc * {_literal(plan['scale'])}"
    lines.append(f"    return {total}{grads}")
    return "\n".join(lines) + "\n", {**names, "block_sum": built(block_sum)}


def _simple(n: int, fwd: list, rev: list, scatters: list, result: str) -> list[str]:
    """One loop; the reverse adds straight into the gradients."""
    lines = [f"    for i in range({n}):"]
    lines += [f"        {line}" for line in fwd]
    lines.append(f"        acc += {result}")
    if rev or scatters:
        lines.append("        if do_grad:")
        lines += [f"            {line}" for line in rev]
        lines += [f"            G{k}[{index}] += {g}" for k, index, g in scatters]
    return lines


def _blocked(n: int, fwd: list, rev: list, scatters: list, result: str) -> list[str]:
    """Blocks of ``BLOCK`` elements: a loop that only writes small scratch arrays (values
    summed, gradient contributions), which LLVM can vectorise, then one loop per gradient
    scatter.  Scattered straight from the main loop, ``x[1:]`` and ``x[:-1]`` would add into
    neighbouring elements of one gradient on every iteration, which rules vectorising out."""
    lines = [f"    R = np.empty({BLOCK})"]
    lines += [f"    T{j} = np.empty({BLOCK})" for j in range(len(scatters))]
    lines += [f"    for start in range(0, {n}, {BLOCK}):",
              f"        m = min({BLOCK}, {n} - start)"]
    for grad in (False, True):
        lines.append("        if do_grad:" if grad else "        if not do_grad:")
        lines += ["            for t in range(m):", "                i = start + t"]
        lines += [f"                {line}" for line in fwd]
        lines.append(f"                R[t] = {result}")
        if grad:
            lines += [f"                {line}" for line in rev]
            lines += [f"                T{j}[t] = {g}" for j, (_, _, g) in enumerate(scatters)]
    lines.append("        acc += block_sum(R, m)")
    if scatters:
        lines.append("        if do_grad:")
        for j, (k, index, _) in enumerate(scatters):
            lines += ["            for t in range(m):", "                i = start + t",
                      f"                G{k}[{index}] += T{j}[t]"]
    return lines


@jit(fastmath={"reassoc"}, error_model="numpy", cache=True)
def block_sum(values, m):
    """The sum of ``values[:m]``, in whatever order vectorises (reassociation allowed here,
    and only here: the rest of the fused code keeps IEEE order)."""
    total = 0.0
    for t in range(m):
        total += values[t]
    return total
