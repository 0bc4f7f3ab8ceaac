"""The graph rules (``Op.graph``) of every op outside elementwise.py: the VJPs written with
tensor operations, which ``create_graph=True`` records so that they can be differentiated again.

Each case records a function of leaves, then runs a small Python sweep of its own (``graph_sweep``
below: reverse order, one rule call per record, gradients accumulated per slot) in place of the
real one, and checks

1. first order: the rules' gradients equal the numba VJPs' (``y.backward(g)``) and torch's, in the
   inputs' dtypes;
2. second order: the rules' recorded ops are differentiable in the inputs and in ``g``: the
   gradient of ``sum(w * grad)`` (by the ordinary backward) equals torch's double backward.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import pkgutil
from dataclasses import dataclass, field

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.ops
from tapegrad import recording, structural
from tapegrad.ops import BY_KEY, OPS, Op
from tapegrad.ops.registry import Record

torch = pytest.importorskip("torch")

# --------------------------------------------------------------------------- the small sweep


def slot_in(t, tape) -> int | None:
    """``t``'s slot on ``tape`` (its own, or its registration as an input there)."""
    if t._tape is tape:
        return t._slot
    reg = t._lreg
    if reg is not None and reg[0] == tape.serial:
        return reg[1]
    return None


def records_of(y) -> list[tuple[Op, Record, int, int]]:
    """The records writing ``y``'s slot: ``(op, Record, slot a, slot b)`` each."""
    tape = y._tape
    recs = np.array(tape.recs, dtype=np.int64).reshape(-1, 6)
    return [(OPS[code], Record(tape.ints, ip, tape.floats, fp, tape, index), sa, sb)
            for index, (code, out, sa, sb, ip, fp) in enumerate(recs.tolist())
            if out == y._slot]


def graph_sweep(y, g, known) -> tuple[dict, list[str]]:
    """``y``'s graph swept in reverse with the graph rules: each slot's gradient as a tensor
    (recorded, so differentiable), and the keys of the ops whose rules ran.  ``known``: a tensor
    for every slot a rule reads (leaves, intermediates); other input slots (constants) are read
    from the tape."""
    tape = y._tape
    tensors = {}
    for t in [y, *known]:
        s = slot_in(t, tape)
        if s is not None:
            tensors.setdefault(s, t)
    recs = np.array(tape.recs, dtype=np.int64).reshape(-1, 6).tolist()
    for rec in recs:
        for s in rec[2:4]:
            if s >= 0 and s not in tensors:
                tensors[s] = _input_tensor(tape, s)
    grads, called = {y._slot: g}, []
    for index in range(len(recs) - 1, -1, -1):
        code, out, sa, sb, ip, fp = recs[index]
        if out not in grads:
            continue
        op = OPS[code]
        assert op.graph is not None, f"{op.key} has no graph rule"
        ga, gb = op.graph(grads[out], tensors.get(sa), tensors.get(sb), tensors[out],
                          Record(tape.ints, ip, tape.floats, fp, tape, index))
        called.append(op.key)
        for s, grad in ((sa, ga), (sb, gb)):
            if s < 0 or grad is None:
                continue
            t = tensors[s]
            assert grad.numel() == t.numel(), (op.key, grad.shape, t.shape)
            if tuple(grad.shape) != tuple(t.shape):
                grad = grad.reshape(t.shape)
            grads[s] = grad if s not in grads else grads[s] + grad
    return grads, called


def _input_tensor(tape, slot):
    """A tensor for an input slot the test holds no tensor of (a constant made inside an op or
    a rule): its value as the tape holds it, in the shape the tape watches it with."""
    shapes = [shape for _, _, s, shape in tape.watch if s == slot]
    if not shapes:
        return None
    t = tg.Tensor.__new__(tg.Tensor)
    t._v = tape.flat_values()[tape.offs[slot]:tape.offs[slot + 1]].reshape(shapes[0])
    t._tape, t._slot, t._vc = tape, slot, None
    return t


@contextlib.contextmanager
def spy():
    """The tensors structural.py's ops make internally (where's and matmul's broadcast
    operands, recorded or constant) and the rules' gathers and scatters, which the sweep needs
    as values of their slots."""
    made = []
    originals = {(module, name): getattr(module, name) for module, name in (
        (structural, "_record"), (structural, "_record_parts"), (structural, "_operand_view"),
        (recording, "_record"))}

    def spying(original):
        def call(*args, **kwargs):
            out = original(*args, **kwargs)
            made.append(out)
            return out

        return call

    for (module, name), original in originals.items():
        setattr(module, name, spying(original))
    try:
        yield made
    finally:
        for (module, name), original in originals.items():
            setattr(module, name, original)


# --------------------------------------------------------------------------- the cases


@dataclass
class Case:
    id: str
    inputs: list  # NumPy arrays: the leaves (all require grad)
    tg_fn: object  # (*tensors) -> y, or (y, [intermediate tensors the sweep needs])
    torch_fn: object  # (*torch tensors) -> y
    covers: tuple  # op keys whose rules the case must run
    extra: dict = field(default_factory=dict)


R = np.random.default_rng(18)


def rand(*shape, dtype=np.float64):
    return R.standard_normal(shape).astype(dtype)


def f32(*shape):
    return rand(*shape, dtype=np.float32)


def _alias(x):
    """A tensor for ``x``'s current slot and value, before ``x`` is changed in place (which
    moves ``x`` to a new slot): the value the in-place op's record reads."""
    old = tg.Tensor.__new__(tg.Tensor)
    old._v, old._tape, old._slot, old._vc = x._v.copy(), x._tape, x._slot, None
    return old


def _setitem(key, value_from_leaf=True):
    def tg_fn(a, v):
        x = a.clone()
        old = _alias(x)
        x[key] = v
        return x, [old]

    def torch_fn(a, v):
        x = a.clone()
        x[key] = v
        return x

    return tg_fn, torch_fn


def _fill(kind):
    def tg_fn(a):
        x = a.clone()
        old = _alias(x)
        return (x.fill_(2.5) if kind == "fill" else x.zero_()), [old]

    def torch_fn(a):
        x = a.clone()
        return x.fill_(2.5) if kind == "fill" else x.zero_()

    return tg_fn, torch_fn


def _where(cond):
    """where(cond(x), x, y): the condition is a value the sweep hands to the rule."""

    def tg_fn(a, b=0.0):
        c = tg.tensor(cond) if isinstance(cond, np.ndarray) else a > 0
        other = b if isinstance(b, tg.Tensor) else tg.tensor(b)
        return tg.where(c, a, other), [c, other]

    def torch_fn(a, b=0.0):
        return torch.where(torch.tensor(cond) if isinstance(cond, np.ndarray) else a > 0, a, b)

    return tg_fn, torch_fn


def _norm(p, dim=None, keepdim=False):
    return (lambda a: a.norm(p, dim, keepdim),
            lambda a: torch.linalg.vector_norm(a, p, dim, keepdim))


def _scatter(flat_map, n, shape):
    from tapegrad.ops.graphs import scatter_add

    index = torch.tensor(flat_map)
    return (lambda a: scatter_add(a, np.asarray(flat_map, np.int64), n, shape),
            lambda a: torch.zeros(n, dtype=a.dtype).index_add(0, index, a.reshape(-1))
            .reshape(shape))


TIES = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, -4.0, -4.0], [2.0, -1.0, 7.0, 0.0]])
NORM_INPUT = np.array([[0.0, 1.5, -2.0, 0.7], [3.0, -0.2, 0.0, 1.1], [-3.0, 3.0, 1.0, 0.4]])
INDEX = np.array([0, 2, 2, 1])
MASK = np.array([True, False, True, True])
COND = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, True]])

CASES = [
    # -- shape ops
    Case("view", [rand(2, 3)], lambda a: a.reshape(3, 2), lambda a: a.reshape(3, 2), ("view",)),
    Case("view-one", [rand(1)], lambda a: a.reshape(()), lambda a: a.reshape(()), ("view",)),
    Case("view-0d", [rand()], lambda a: a.reshape(1, 1), lambda a: a.reshape(1, 1), ("view",)),
    Case("view-empty", [rand(0, 3)], lambda a: a.reshape(3, 0), lambda a: a.reshape(3, 0),
         ("view",)),
    Case("view-f32", [f32(4)], lambda a: a.reshape(2, 2), lambda a: a.reshape(2, 2), ("view",)),
    Case("clone", [rand(2, 3)], lambda a: a.clone(), lambda a: a.clone(), ("clone",)),
    Case("clone-0d", [rand()], lambda a: a.clone(), lambda a: a.clone(), ("clone",)),
    Case("to-f32", [rand(3)], lambda a: a.float(), lambda a: a.float(), ("to_copy",)),
    Case("to-f64", [f32(2, 2)], lambda a: a.double(), lambda a: a.double(), ("to_copy",)),
    Case("to-f16", [rand(3)], lambda a: a.half(), lambda a: a.half(), ("to_copy",)),
    Case("to-f32-one", [rand(1)], lambda a: a.float(), lambda a: a.float(), ("to_copy",)),
    Case("transpose", [rand(2, 3, 4)], lambda a: a.transpose(0, 2),
         lambda a: a.transpose(0, 2), ("transpose",)),
    Case("transpose-0d", [rand()], lambda a: a.transpose(0, -1), lambda a: a.transpose(0, -1),
         ("transpose",)),
    Case("transpose-one", [rand(1, 1, 1)], lambda a: a.transpose(0, 1),
         lambda a: a.transpose(0, 1), ("transpose",)),
    Case("transpose-empty", [rand(0, 2)], lambda a: a.transpose(0, 1),
         lambda a: a.transpose(0, 1), ("transpose",)),
    Case("permute", [rand(2, 3, 4)], lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1),
         ("permute",)),
    Case("permute-f32", [f32(2, 1, 3)], lambda a: a.permute(1, 2, 0),
         lambda a: a.permute(1, 2, 0), ("permute",)),
    Case("t", [rand(2, 3)], lambda a: a.t(), lambda a: a.t(), ("t",)),
    Case("t-1d", [rand(3)], lambda a: a.t(), lambda a: a.t(), ("t",)),
    Case("select", [rand(3, 4)], lambda a: a[1], lambda a: a[1], ("select",)),
    Case("select-0d", [rand(3, 4)], lambda a: a[1, -2], lambda a: a[1, -2], ("select",)),
    Case("select-1d", [rand(3)], lambda a: a[-1], lambda a: a[-1], ("select",)),
    Case("slice", [rand(5)], lambda a: a[1:], lambda a: a[1:], ("slice",)),
    Case("slice-step", [rand(3, 5)], lambda a: a[:, ::2], lambda a: a[:, ::2], ("slice",)),
    Case("slice-none", [rand(3, 5)], lambda a: a[None, 1:3], lambda a: a[None, 1:3],
         ("slice",)),
    Case("slice-empty", [rand(4)], lambda a: a[3:3], lambda a: a[3:3], ("slice",)),
    Case("slice-one", [rand(1)], lambda a: a[0:1], lambda a: a[0:1], ("slice",)),
    Case("index", [rand(4, 3)], lambda a: a[[0, 2, 2]], lambda a: a[[0, 2, 2]], ("index",)),
    Case("index-2d", [rand(3, 4)], lambda a: a[:, INDEX], lambda a: a[:, torch.tensor(INDEX)],
         ("index",)),
    Case("index-mask", [rand(4)], lambda a: a[MASK], lambda a: a[torch.tensor(MASK)],
         ("index",)),
    Case("index-empty", [rand(3)], lambda a: a[np.array([], np.int64)],
         lambda a: a[torch.tensor([], dtype=torch.int64)], ("index",)),
    Case("expand", [rand(3, 1)], lambda a: a.expand(2, 3, 4), lambda a: a.expand(2, 3, 4),
         ("expand",)),
    Case("repeat", [rand(2, 3)], lambda a: a.repeat(2, 1, 2), lambda a: a.repeat(2, 1, 2),
         ("repeat",)),
    Case("repeat-flip", [rand(3, 4)], lambda a: a.flip(0, 1), lambda a: a.flip(0, 1),
         ("repeat",)),
    Case("repeat-diagonal", [rand(3, 4)], lambda a: a.diagonal(1), lambda a: a.diagonal(1),
         ("repeat",)),
    Case("repeat-one", [rand(1)], lambda a: a.repeat(3), lambda a: a.repeat(3), ("repeat",)),
    Case("expand-one", [rand(1)], lambda a: a.expand(5), lambda a: a.expand(5), ("expand",)),
    Case("expand-0d", [rand()], lambda a: a.expand(2, 2), lambda a: a.expand(2, 2),
         ("expand",)),
    Case("expand-same", [rand(3)], lambda a: a.expand(3), lambda a: a.expand(3), ("expand",)),
    Case("expand-empty", [rand(1, 1)], lambda a: a.expand(1, 0), lambda a: a.expand(1, 0),
         ("expand",)),
    Case("expand-f32", [f32(2, 1)], lambda a: a.expand(3, 2, 2), lambda a: a.expand(3, 2, 2),
         ("expand",)),
    Case("squeeze", [rand(1, 3, 1)], lambda a: a.squeeze(), lambda a: a.squeeze(),
         ("squeeze",)),
    Case("squeeze-one", [rand(1)], lambda a: a.squeeze(), lambda a: a.squeeze(), ("squeeze",)),
    Case("squeeze-dim", [rand(1, 3)], lambda a: a.squeeze(0), lambda a: a.squeeze(0),
         ("squeeze_dim",)),
    Case("unsqueeze", [rand(2, 3)], lambda a: a.unsqueeze(1), lambda a: a.unsqueeze(1),
         ("unsqueeze",)),
    Case("unsqueeze-0d", [rand()], lambda a: a.unsqueeze(0), lambda a: a.unsqueeze(0),
         ("unsqueeze",)),
    Case("cat", [rand(2, 3), rand(1, 3)], lambda a, b: tg.cat([a, b]),
         lambda a, b: torch.cat([a, b]), ("cat",)),
    Case("cat-dim1", [rand(2, 1), rand(2, 2)], lambda a, b: tg.cat([a, b, a], 1),
         lambda a, b: torch.cat([a, b, a], 1), ("cat",)),
    Case("cat-empty", [rand(0, 3), rand(2, 3)], lambda a, b: tg.cat([a, b]),
         lambda a, b: torch.cat([a, b]), ("cat",)),
    Case("cat-one", [rand(1), rand(1)], lambda a, b: tg.cat([a, b]),
         lambda a, b: torch.cat([a, b]), ("cat",)),
    Case("stack", [rand(3), rand(3)], lambda a, b: tg.stack([a, b], 1),
         lambda a, b: torch.stack([a, b], 1), ("stack",)),
    Case("stack-0d", [rand(), rand()], lambda a, b: tg.stack([a, b, a]),
         lambda a, b: torch.stack([a, b, a]), ("stack",)),
    Case("setitem", [rand(3, 3), rand(3)], *_setitem(1), ("setitem_keep", "setitem_put")),
    # (a position written twice: the last write takes its gradient, as the numba VJP; torch
    # leaves the order of such writes undefined and passes the gradient to every write)
    Case("setitem-repeat", [rand(4), rand(3)], *_setitem([0, 2, 0]),
         ("setitem_keep", "setitem_put"), {"torch": False}),
    Case("setitem-broadcast", [rand(3, 4), rand()], *_setitem((slice(None), 1)),
         ("setitem_keep", "setitem_put")),
    Case("setitem-rows", [rand(3, 2), rand(1, 2)], *_setitem(slice(0, 2)),
         ("setitem_keep", "setitem_put")),
    Case("setitem-0d", [rand(), rand()], *_setitem(()), ("setitem_keep", "setitem_put")),
    Case("scatter_add", [rand(5)], *_scatter([0, 2, 2, 3, 0], 4, (2, 2)), ("scatter_add",)),
    Case("scatter_add-one", [rand(1)], *_scatter([2], 3, (3,)), ("scatter_add",)),
    # -- reductions
    Case("sum", [rand(2, 3)], lambda a: a.sum(), lambda a: a.sum(), ("sum",)),
    Case("sum-keepdim", [rand(2, 3)], lambda a: a.sum(keepdim=True),
         lambda a: a.sum((0, 1), keepdim=True), ("sum",)),
    Case("sum-0d", [rand()], lambda a: a.sum(), lambda a: a.sum(), ("sum",)),
    Case("sum-one", [rand(1, 1)], lambda a: a.sum(), lambda a: a.sum(), ("sum",)),
    Case("sum-empty", [rand(0, 3)], lambda a: a.sum(), lambda a: a.sum(), ("sum",)),
    Case("sum-f32", [f32(4)], lambda a: a.sum(), lambda a: a.sum(), ("sum",)),
    Case("sum_dim", [rand(2, 3)], lambda a: a.sum(1), lambda a: a.sum(1), ("sum_dim",)),
    Case("sum_dim-keep", [rand(2, 3, 4)], lambda a: a.sum((0, 2), keepdim=True),
         lambda a: a.sum((0, 2), keepdim=True), ("sum_dim",)),
    Case("sum_dim-0d", [rand()], lambda a: a.sum(0), lambda a: a.sum(0), ("sum_dim",)),
    Case("sum_dim-empty", [rand(0, 3)], lambda a: a.sum(0), lambda a: a.sum(0), ("sum_dim",)),
    Case("mean", [rand(2, 3)], lambda a: a.mean(), lambda a: a.mean(), ("mean",)),
    Case("mean-one", [rand(1)], lambda a: a.mean(), lambda a: a.mean(), ("mean",)),
    Case("mean-f32", [f32(3, 2)], lambda a: a.mean(), lambda a: a.mean(), ("mean",)),
    Case("mean_dim", [rand(2, 3, 4)], lambda a: a.mean(1), lambda a: a.mean(1),
         ("mean_dim",)),
    Case("mean_dim-keep", [rand(2, 3, 4)], lambda a: a.mean((0, 2), keepdim=True),
         lambda a: a.mean((0, 2), keepdim=True), ("mean_dim",)),
    Case("mean_dim-emptydim", [rand(3, 0)], lambda a: a.mean(1), lambda a: a.mean(1),
         ("mean_dim",)),
    Case("norm", [rand(2, 3)], lambda a: a.norm(), lambda a: a.norm(), ("norm",)),
    Case("norm-zero", [np.zeros(3)], lambda a: a.norm(), lambda a: a.norm(), ("norm",)),
    Case("norm-one", [rand(1)], lambda a: a.norm(), lambda a: a.norm(), ("norm",)),
    Case("norm-f32", [f32(4)], lambda a: a.norm(), lambda a: a.norm(), ("norm",)),
    *[Case(f"norm_p-{p}-{dim}-{keep}", [NORM_INPUT.copy()], *_norm(p, dim, keep), ("norm_p",))
      for p in (1.0, 2.0, 3.0, 0.5, 1.5, math.inf, -math.inf, 0.0)
      for dim, keep in ((1, False), ((0, 1), True), (None, True))],
    Case("norm_p-zeros", [np.zeros((2, 3))], *_norm(3.0, 1), ("norm_p",)),
    Case("norm_p-ties", [TIES.copy()], *_norm(math.inf, 1), ("norm_p",)),
    Case("norm_p-0d", [rand()], *_norm(1.5, 0), ("norm_p",)),
    # -- selection
    Case("where", [rand(3, 4), rand(3, 4)], *_where(COND), ("where_x", "where_y")),
    Case("where-broadcast", [rand(3, 1), rand(4)], *_where(COND[:1]),
         ("where_x", "where_y", "expand")),
    Case("where-scalar", [rand(4)], *_where(None), ("where_x", "where_y")),
    Case("where-f32", [f32(3, 4), f32(3, 4)], *_where(COND), ("where_x", "where_y")),
    Case("maximum", [TIES.copy(), TIES[::-1].copy()], lambda a, b: tg.maximum(a, b),
         lambda a, b: torch.maximum(a, b), ("maximum",)),
    Case("maximum-broadcast", [rand(3, 1), np.array([0.5, -1.0, 2.0, 0.5])],
         lambda a, b: tg.maximum(a, b), lambda a, b: torch.maximum(a, b), ("maximum",)),
    Case("maximum-0d", [np.array(0.5), np.array([0.5, -1.0, 2.0])],
         lambda a, b: tg.maximum(a, b), lambda a, b: torch.maximum(a, b), ("maximum",)),
    Case("minimum", [TIES.copy(), TIES[::-1].copy()], lambda a, b: tg.minimum(a, b),
         lambda a, b: torch.minimum(a, b), ("minimum",)),
    Case("minimum-broadcast", [rand(2, 1, 3), np.array([[0.5, -1.0, 0.0]])],
         lambda a, b: tg.minimum(a, b), lambda a, b: torch.minimum(a, b), ("minimum",)),
    Case("max_all", [TIES.copy()], lambda a: a.max(), lambda a: a.max(), ("max_all",)),
    Case("max_all-one", [rand(1)], lambda a: a.max(), lambda a: a.max(), ("max_all",)),
    Case("max_all-f32", [TIES.astype(np.float32)], lambda a: a.max(), lambda a: a.max(),
         ("max_all",)),
    Case("min_all", [TIES.copy()], lambda a: a.min(), lambda a: a.min(), ("min_all",)),
    Case("max_dim", [TIES.copy()], lambda a: a.max(1)[0], lambda a: a.max(1)[0],
         ("max_dim",)),
    Case("max_dim-keep", [rand(3, 4)], lambda a: a.max(0, keepdim=True)[0],
         lambda a: a.max(0, keepdim=True)[0], ("max_dim",)),
    Case("min_dim", [TIES.copy()], lambda a: a.min(1)[0], lambda a: a.min(1)[0],
         ("min_dim",)),
    Case("clamp", [np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])], lambda a: a.clamp(-1.0, 1.0),
         lambda a: a.clamp(-1.0, 1.0), ("clamp",)),
    Case("clamp_min", [np.array([[-2.0, 0.0], [0.5, 1.0]])], lambda a: a.clamp(min=0.0),
         lambda a: a.clamp(min=0.0), ("clamp_min",)),
    Case("clamp_max-0d", [np.array(1.0)], lambda a: a.clamp(max=1.0),
         lambda a: a.clamp(max=1.0), ("clamp_max",)),
    Case("clamp-f32", [np.array([-2.0, -1.0, 0.25, 1.0], np.float32)],
         lambda a: a.clamp(-1.0, 1.0), lambda a: a.clamp(-1.0, 1.0), ("clamp",)),
    # -- softmax and logsumexp
    Case("softmax", [rand(3, 4)], lambda a: a.softmax(1), lambda a: a.softmax(1),
         ("softmax",)),
    Case("softmax-dim0", [rand(3, 4, 2)], lambda a: a.softmax(0), lambda a: a.softmax(0),
         ("softmax",)),
    Case("softmax-0d", [rand()], lambda a: a.softmax(0), lambda a: a.softmax(0), ("softmax",)),
    Case("softmax-large", [np.array([[1000.0, -1000.0, 999.0]])], lambda a: a.softmax(1),
         lambda a: a.softmax(1), ("softmax",)),
    Case("softmax-f32", [f32(2, 3)], lambda a: a.softmax(1), lambda a: a.softmax(1),
         ("softmax",)),
    Case("log_softmax", [rand(3, 4)], lambda a: a.log_softmax(1), lambda a: a.log_softmax(1),
         ("log_softmax",)),
    Case("log_softmax-dim0", [rand(3, 4)], lambda a: a.log_softmax(0),
         lambda a: a.log_softmax(0), ("log_softmax",)),
    Case("logsumexp", [rand(3, 4)], lambda a: a.logsumexp(1), lambda a: a.logsumexp(1),
         ("logsumexp",)),
    Case("logsumexp-keep", [rand(2, 3, 4)], lambda a: a.logsumexp((0, 2), keepdim=True),
         lambda a: a.logsumexp((0, 2), keepdim=True), ("logsumexp",)),
    Case("logsumexp-one", [rand(1, 1)], lambda a: a.logsumexp(1), lambda a: a.logsumexp(1),
         ("logsumexp",)),
    # -- empty operands
    Case("softmax-empty", [rand(0, 3)], lambda a: a.softmax(1), lambda a: a.softmax(1),
         ("softmax",)),
    Case("logsumexp-emptydim", [rand(3, 0)], lambda a: a.logsumexp(1), lambda a: a.logsumexp(1),
         ("logsumexp",)),
    Case("norm_p-empty", [rand(2, 0)], *_norm(3.0, 1), ("norm_p",)),
    Case("clamp-empty", [rand(0)], lambda a: a.clamp(-1.0, 1.0), lambda a: a.clamp(-1.0, 1.0),
         ("clamp",)),
    Case("maximum-empty", [rand(0, 2), rand(2)], lambda a, b: tg.maximum(a, b),
         lambda a, b: torch.maximum(a, b), ("maximum",)),
    Case("where-empty", [rand(0), rand(0)], *_where(np.zeros(0, bool)), ("where_x", "where_y")),
    Case("permute-empty", [rand(2, 0, 3)], lambda a: a.permute(2, 0, 1),
         lambda a: a.permute(2, 0, 1), ("permute",)),
    # -- prod, scans, amax/amin (ops/cumulative.py)
    *[Case(f"{name}-{i}", [x.copy()], (lambda a, n=name, ar=args: getattr(a, n)(*ar)),
           (lambda a, n=name, ar=args: getattr(a, n)(*ar)), (key,))
      for i, (name, args, key, x) in enumerate([
          ("prod", (), "prod", rand(2, 3)), ("prod", (), "prod", NORM_INPUT),
          ("prod", (), "prod", rand()), ("prod", (), "prod", rand(0, 2)),
          ("prod", (1,), "prod_dim", rand(2, 3)), ("prod", (1, True), "prod_dim", NORM_INPUT),
          ("prod", (0,), "prod_dim", f32(3, 2)), ("prod", (0,), "prod_dim", rand(0, 2)),
          ("cumsum", (1,), "cumsum", rand(2, 3)), ("cumsum", (0,), "cumsum", f32(3)),
          ("cumsum", (0,), "cumsum", rand()), ("cumsum", (1,), "cumsum", rand(2, 0)),
          ("cumprod", (1,), "cumprod", rand(2, 3)), ("cumprod", (1,), "cumprod", NORM_INPUT),
          ("cumprod", (0,), "cumprod", NORM_INPUT), ("cumprod", (0,), "cumprod", f32(3)),
          ("logcumsumexp", (1,), "logcumsumexp", rand(2, 3)),
          ("logcumsumexp", (0,), "logcumsumexp", f32(4)),
          ("amax", (1,), "amax", TIES), ("amax", (), "amax", TIES),
          ("amin", ((0, 1), True), "amin", TIES), ("amin", (0,), "amin", f32(3, 2)),
      ])],
    # -- products
    Case("dot", [rand(3), rand(3)], lambda a, b: a @ b, lambda a, b: a @ b, ("dot",)),
    Case("dot-one", [rand(1), rand(1)], lambda a, b: a @ b, lambda a, b: a @ b, ("dot",)),
    Case("mv", [rand(2, 3), rand(3)], lambda a, b: a @ b, lambda a, b: a @ b, ("mv",)),
    Case("mv-one", [rand(1, 1), rand(1)], lambda a, b: a @ b, lambda a, b: a @ b, ("mv",)),
    Case("mm", [rand(2, 3), rand(3, 4)], lambda a, b: a @ b, lambda a, b: a @ b, ("mm",)),
    Case("mm-vec-mat", [rand(3), rand(3, 4)], lambda a, b: a @ b, lambda a, b: a @ b, ("mm",)),
    Case("mm-one", [rand(1, 1), rand(1, 1)], lambda a, b: a @ b, lambda a, b: a @ b, ("mm",)),
    Case("mm-empty", [rand(0, 3), rand(3, 2)], lambda a, b: a @ b, lambda a, b: a @ b,
         ("mm",)),
    Case("mm-f32", [f32(2, 3), f32(3, 2)], lambda a, b: a @ b, lambda a, b: a @ b, ("mm",)),
    Case("bmm", [rand(2, 2, 3), rand(2, 3, 4)], lambda a, b: a @ b, lambda a, b: a @ b,
         ("bmm",)),
    Case("bmm-broadcast", [rand(2, 1, 2, 3), rand(3, 3, 4)], lambda a, b: a @ b,
         lambda a, b: a @ b, ("bmm", "expand")),
    Case("bmm-vec-left", [rand(3), rand(2, 3, 4)], lambda a, b: a @ b, lambda a, b: a @ b,
         ("bmm", "expand", "unsqueeze", "squeeze_dim")),
    Case("bmm-vec-right", [rand(2, 2, 3), rand(3)], lambda a, b: a @ b, lambda a, b: a @ b,
         ("bmm", "expand", "unsqueeze", "squeeze_dim")),
    Case("bmm-empty-batch", [rand(0, 2, 3), rand(3, 2)], lambda a, b: a @ b,
         lambda a, b: a @ b, ("bmm",)),
    # -- fills
    Case("fill", [rand(2, 3)], *_fill("fill"), ("fill",)),
    Case("zero", [rand(3)], *_fill("zero"), ("zero",)),
]


def np_dtype(t) -> np.dtype:
    return np.asarray(t._v).dtype


def _tolerances(dtype) -> dict:
    return dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-6, atol=1e-6)


def _values(t, like) -> np.ndarray:
    """A gradient's values (None: zeros like ``like``)."""
    return np.zeros(like.shape) if t is None else np.asarray(t.detach().numpy(), np.float64)


def _torch_values(t, like) -> np.ndarray:
    # (force: torch's zero gradients of a double backward may be ZeroTensors)
    return np.zeros(like.shape) if t is None else t.detach().double().numpy(force=True)


def _run(case: Case, rng):
    """The rules' gradients, the numba VJP's, torch's; then the second order both ways."""
    leaves = [tg.tensor(x, requires_grad=True) for x in case.inputs]
    with spy() as made:
        out = case.tg_fn(*leaves)
    y, extra = out if isinstance(out, tuple) else (out, [])
    gv = np.asarray(rng.standard_normal(y.shape)).astype(np_dtype(y))
    g = tg.tensor(gv, requires_grad=True)
    slots = [slot_in(t, y._tape) for t in leaves]
    grads, called = graph_sweep(y, g, [*leaves, *extra, *made])
    rule = [grads.get(s) for s in slots]
    assert set(case.covers) <= set(called), (case.covers, called)

    # 1. first order: the numba VJPs
    again = [tg.tensor(x, requires_grad=True) for x in case.inputs]
    y2 = case.tg_fn(*again)
    y2 = y2[0] if isinstance(y2, tuple) else y2
    y2.backward(tg.tensor(gv))
    for x, r, t in zip(case.inputs, rule, again, strict=True):
        if r is not None:
            assert r.dtype == t.dtype, (r.dtype, t.dtype)
            assert tuple(r.shape) == x.shape
        np.testing.assert_allclose(_values(r, x), _values(t.grad, x), equal_nan=True,
                                   **_tolerances(x.dtype))

    if not case.extra.get("torch", True):
        return
    # torch, first and second order
    tl = [torch.tensor(x, requires_grad=True) for x in case.inputs]
    ty = case.torch_fn(*tl)
    tgrad = torch.tensor(gv, requires_grad=True)
    first = torch.autograd.grad(ty, tl, tgrad, create_graph=True, allow_unused=True)
    for x, r, t in zip(case.inputs, rule, first, strict=True):
        np.testing.assert_allclose(_values(r, x), _torch_values(t, x), equal_nan=True,
                                   rtol=1e-10 if x.dtype == np.float64 else 1e-5,
                                   atol=1e-12 if x.dtype == np.float64 else 1e-6)
    weights = [rng.standard_normal(x.shape) for x in case.inputs]

    # 2. second order: d sum(w * grad) / d (inputs, g), through the rules' recorded ops
    total = None
    for r, w in zip(rule, weights, strict=True):
        if r is not None:
            term = (r * tg.tensor(w.astype(np_dtype(r)))).sum()
            total = term if total is None else total + term
    if total is not None and total.requires_grad:
        total.backward()
    ttotal = sum((t * torch.tensor(w, dtype=t.dtype)).sum() for t, w in
                 zip(first, weights, strict=True) if t is not None and t.requires_grad)
    if isinstance(ttotal, torch.Tensor):
        second = torch.autograd.grad(ttotal, [*tl, tgrad], allow_unused=True)
    else:
        second = [None] * (len(tl) + 1)
    tol = (dict(rtol=1e-9, atol=1e-12) if case.inputs[0].dtype == np.float64
           else dict(rtol=1e-4, atol=1e-5))
    for x, t, s in zip([*case.inputs, gv], [*leaves, g], second, strict=True):
        np.testing.assert_allclose(_values(t.grad, np.asarray(x)),
                                   _torch_values(s, np.asarray(x)), equal_nan=True, **tol)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule_first_and_second_order(case):
    _run(case, np.random.default_rng(abs(hash(case.id)) % 2**32))


def _ops_outside_elementwise() -> dict[str, Op]:
    found = {}
    for info in pkgutil.iter_modules(tapegrad.ops.__path__):
        # (elementwise ops' rules are walked by test_higher_order.py; pyfunction's by
        # test_function.py)
        if info.name in ("elementwise", "mathfuncs", "mathfuncs2", "special", "gamma",
                         "pyfunction"):
            continue
        module = importlib.import_module(f"tapegrad.ops.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Op) and OPS[value.code] is value:
                found[value.key] = value
    return found


def test_every_op_outside_elementwise_has_a_graph_rule():
    ops = _ops_outside_elementwise()
    assert {"maximum", "minimum", "fill", "zero", "eq", "softmax", "bmm", "scatter_add"} <= set(ops)
    assert [key for key, op in ops.items() if op.graph is None] == []


def test_the_cases_cover_every_differentiable_op_outside_elementwise():
    from tapegrad.ops import compare

    covered = {key for case in CASES for key in case.covers}
    no_gradient = {op.key for op in vars(compare).values() if isinstance(op, Op)}
    assert set(_ops_outside_elementwise()) - no_gradient - covered == set()


def test_comparisons_pass_no_gradient():
    from tapegrad.ops import compare

    g = tg.ones(3, requires_grad=True)
    a = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for op in vars(compare).values():
        if isinstance(op, Op):
            assert op.graph(g, a, a, a, Record(None, -1, None, -1, None, 0)) == (None, None)


def test_rules_pass_nan_and_inf_as_the_numba_vjp():
    """NaN operands and infinite gradients: selected, never multiplied by a 0/1 mask (torch's
    conventions, as the numba VJPs; no torch oracle needed)."""
    nan, inf = math.nan, math.inf
    cases = [
        ([np.array([nan, 1.0, 2.0]), np.array([0.0, nan, 2.0])], lambda a, b: tg.maximum(a, b)),
        ([np.array([nan, 1.0, 2.0]), np.array([0.0, nan, 2.0])], lambda a, b: tg.minimum(a, b)),
        ([np.array([1.0, nan, 3.0, nan])], lambda a: a.max()),
        ([np.array([nan, 0.0, 2.0])], lambda a: a.clamp(-1.0, 1.0)),
        ([np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])],
         _where(np.array([True, False, True]))[0]),
    ]
    for inputs, fn in cases:
        for gv_fill in (inf, 1.5):
            leaves = [tg.tensor(x, requires_grad=True) for x in inputs]
            with spy() as made:
                y = fn(*leaves)
            y, extra = y if isinstance(y, tuple) else (y, [])
            gv = np.full(y.shape, gv_fill)
            grads, _ = graph_sweep(y, tg.tensor(gv), [*leaves, *extra, *made])
            again = [tg.tensor(x, requires_grad=True) for x in inputs]
            y2 = fn(*again)
            (y2[0] if isinstance(y2, tuple) else y2).backward(tg.tensor(gv))
            for t, t2 in zip(leaves, again, strict=True):
                got = grads.get(slot_in(t, y._tape))
                np.testing.assert_array_equal(_values(got, t2), _values(t2.grad, t2))


def test_setitem_keep_passes_zero_not_nan_at_assigned_positions_of_an_inf_gradient():
    a = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x = a.clone()
    x[1] = 5.0
    (op, r, _, _), = [rec for rec in records_of(x) if rec[0] is BY_KEY["setitem_keep"]]
    ga, _ = op.graph(tg.tensor([inf := math.inf, inf, inf]), a, None, x, r)
    np.testing.assert_array_equal(ga.numpy(), [inf, 0.0, inf])


COMPILED = ["where-scalar", "maximum-broadcast", "minimum", "max_all", "clamp",
            "norm_p-inf-1-False", "norm_p-0.5-1-False", "norm_p-3.0-(0, 1)-True", "norm",
            "softmax", "log_softmax", "logsumexp-keep", "setitem-repeat", "index",
            "slice-step", "bmm-broadcast", "mean_dim-keep", "expand", "cat-dim1", "max_dim",
            "permute"]


@pytest.mark.parametrize("case", [c for c in CASES if c.id in COMPILED], ids=lambda c: c.id)
def test_rules_replay_under_compile(case):
    """tg.compile records a rule once and replays it in numba: the rules branch on no value
    (masks are recorded comparisons), so the replay on new inputs equals the eager rules (the
    value; and the gradient, where the rules' result depends on the inputs beyond masks)."""
    rng = np.random.default_rng(5)
    shapes = [x.shape for x in case.inputs]
    gv, weights = None, None

    def f(*leaves):
        nonlocal gv, weights
        with spy() as made:
            out = case.tg_fn(*leaves)
        y, extra = out if isinstance(out, tuple) else (out, [])
        if gv is None:
            gv = rng.standard_normal(y.shape)
            weights = [rng.standard_normal(s) for s in shapes]
        grads, _ = graph_sweep(y, tg.tensor(gv), [*leaves, *extra, *made])
        total = None
        for t, w in zip(leaves, weights, strict=True):
            grad = grads.get(slot_in(t, y._tape))
            if grad is not None:
                term = (grad * tg.tensor(w)).sum()
                total = term if total is None else total + term
        return total

    tape = tg.compile(f, *case.inputs)
    for _ in range(3):
        xs = [rng.standard_normal(s) for s in shapes]
        leaves = [tg.tensor(x, requires_grad=True) for x in xs]
        eager = f(*leaves)
        np.testing.assert_allclose(tape(*xs), eager.item(), rtol=1e-12, atol=1e-12)
        if not eager.requires_grad:  # (a linear map of g: routed by masks, or fixed)
            continue
        eager.backward()
        got = tape.gradient(*xs)
        got = got if isinstance(got, tuple) else (got,)
        for t, grad in zip(leaves, got, strict=True):
            np.testing.assert_allclose(grad, _values(t.grad, t), rtol=1e-10, atol=1e-12)


def test_where_of_constants_on_a_condition_from_the_inputs_replays_under_compile():
    """A rule routes a constant gradient (backward's seed) by a mask of the inputs: while
    compiling, where must be recorded when only its condition depends on the inputs."""
    def f(x):
        return tg.where(x > 0, tg.tensor([2.0, 3.0, 4.0]), tg.tensor(-1.0)).sum()

    tape = tg.compile(f, np.array([1.0, -1.0, 2.0]))
    for x in (np.array([-1.0, 1.0, -2.0]), np.array([3.0, 1.0, 2.0])):
        assert tape(x) == f(tg.tensor(x)).item()


# (the cases whose rules are made of ops outside elementwise.py, whose rules are not written yet)
LINEAR = ["index", "index-2d", "select", "slice-step", "cat", "stack", "expand", "transpose",
          "permute", "t", "setitem", "setitem-broadcast", "setitem-repeat", "max_dim",
          "sum_dim-keep", "sum", "view", "squeeze", "unsqueeze", "scatter_add", "where-broadcast",
          "mm", "bmm-broadcast", "fill"]


@pytest.mark.parametrize("case", [c for c in CASES if c.id in LINEAR], ids=lambda c: c.id)
def test_rules_of_the_rules(case):
    """A rule's result swept again by the rules (third order: the scatter-add's rule, a
    gather's, the slice's and sum's in turn): its gradient in ``g`` equals the numba VJP's."""
    rng = np.random.default_rng(3)
    leaves = [tg.tensor(x, requires_grad=True) for x in case.inputs]
    with spy() as made:
        out = case.tg_fn(*leaves)
        y, extra = out if isinstance(out, tuple) else (out, [])
        g = tg.tensor(rng.standard_normal(y.shape), requires_grad=True)
        grads, _ = graph_sweep(y, g, [*leaves, *extra, *made])
    for t in leaves:
        ga = grads.get(slot_in(t, y._tape))
        if ga is None or ga._tape is None:
            continue
        h = rng.standard_normal(ga.shape)
        g_slot = slot_in(g, ga._tape)  # (before the sweep: its rules may register g on a new
        # tape)
        again, called = graph_sweep(ga, tg.tensor(h), [g, *leaves, *extra, *made])
        assert called
        by_rules = again.get(g_slot)
        g.grad = None
        ga.backward(tg.tensor(h))
        np.testing.assert_allclose(_values(by_rules, g), _values(g.grad, g), rtol=1e-12,
                                   atol=1e-12)
