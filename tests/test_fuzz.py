"""Differential fuzzer: random programs of 3-12 ops over the whole op table, run by tapegrad and
by torch, eagerly and through ``tg.compile``.

Each program (``fuzz_ops.py``) is drawn step by step while its values are computed (tapegrad,
float64, no grad), so every step can respect its op's domain at the drawn point: ``log``,
``sqrt`` and fractional powers only of values >= ``POS`` (or of ``x*x + 0.5``), division only
by values >= ``SAFE`` in magnitude, ``exp`` only of bounded values, kinks and ties (``relu``,
``abs``, ``clamp``, ``maximum``/``minimum``, ``max``/``min``, masks, ``where``) only at a distance
``KINK`` -- far more than a finite-difference step moves any intermediate.  A step whose result
is not finite or exceeds ``BOUND`` is dropped.  Shapes include 0-d, ``(1,)``, broadcasting pairs
and empty tensors; steps include in-place changes (of a fresh clone or of an existing
intermediate), ``retain_grad`` and mid-graph ``backward(W, retain_graph=True)``.

Checks, for ``F = sum_k <W_k, out_k> + sum of the mid-graph backward terms``:

* tapegrad's accumulated input gradients against central finite differences of ``F`` (always);
* when torch is installed: every node's value, every input's ``.grad`` (None-ness included),
  every retained intermediate's ``.grad``, and raised errors (stage and type) against torch,
  to ``RTOL`` (float64);
* ``tg.compile`` of ``F`` on the example inputs and on perturbed inputs: value and gradient
  against eager tapegrad on the same inputs.

CI runs ``DEFAULT_EXAMPLES`` programs, derandomized (reproducible) when ``CI`` is set;
``TAPEGRAD_FUZZ_EXAMPLES=3000`` runs more.  ``fuzz_ops.FOUND`` (bugs this fuzzer found, still
open) lists the patterns the generator avoids until their fixes land; deleting a name there
turns its pattern back on.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field

import numpy as np
import pytest
from fuzz_ops import (
    APPLY,
    BOUND,
    FOUND,
    KINK,
    NO_NODE,
    POS,
    SAFE,
    VIEWS,
    Program,
    Step,
    execute,
)
from helpers import numeric_grad
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import tapegrad as tg

try:
    import torch
except ImportError:  # the finite-difference and compiled checks still run
    torch = None

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_EXAMPLES = 300  # programs per default (CI) run
EXAMPLES = int(os.environ.get("TAPEGRAD_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")

RTOL = 1e-10  # tapegrad against torch, and compiled against eager (float64 both)
FD_EPS = 1e-6
FD_RTOL, FD_ATOL = 1e-4, 1e-5
PERTURB = 1e-3

HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
SHAPES = [(2, 3), (3,), (), (1,), (0,), (2, 0), (3, 1), (1, 3), (2, 1, 3)]

magnitudes = st.floats(0.25, 2.0)
values = st.builds(lambda m, s: m * s, magnitudes, st.sampled_from([1.0, -1.0]))
constants = st.builds(lambda m, s: m * s, st.floats(0.5, 2.5), st.sampled_from([1.0, -1.0]))


# --------------------------------------------------------------------------- drawing programs


@dataclass
class Draft:
    """A program being drawn, with each node's value and what the generator must know of it."""

    nodes: list  # tapegrad tensors (values computed without grad)
    rg: list[bool]  # requires grad
    deps: list[set]  # inputs it depends on differentiably
    view: list[bool]  # is a view, or has views: no in-place change of it
    leaf: list[bool]
    made_by: list[str]  # the op of the step that made (or last changed) the node
    tensor: list[int]  # which tensor the node is: an in-place step's node is its target's

    def v(self, i: int) -> np.ndarray:
        return self.nodes[i].detach().numpy()


def _broadcasts(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _pick(draw, d: Draft, pred=lambda v: True) -> int | None:
    """A node index satisfying ``pred`` on its value, the newest first (hypothesis shrinks toward
    the first choice)."""
    choices = [i for i in reversed(range(len(d.nodes))) if pred(d.v(i))]
    return draw(st.sampled_from(choices)) if choices else None


def _min_abs(v: np.ndarray) -> float:
    return float(np.min(np.abs(v), initial=np.inf))


def _max_abs(v: np.ndarray) -> float:
    return float(np.max(np.abs(v), initial=0.0))


def _separated(v: np.ndarray, axis=None) -> bool:
    """The largest and the smallest entries (along ``axis``) are unique by a margin."""
    if v.ndim == 0:
        return True
    w = np.moveaxis(v, axis, -1) if axis is not None else v.reshape(-1)
    if w.shape[-1] == 0:
        return False
    if w.shape[-1] < 2 or w.size == 0:
        return True
    s = np.sort(w, axis=-1)
    return bool(np.all(s[..., -1] - s[..., -2] >= KINK) and np.all(s[..., 1] - s[..., 0] >= KINK))


def _dim(draw, nd: int) -> int:
    return draw(st.integers(-max(nd, 1), max(nd, 1) - 1))


UNARY = {"sin", "cos", "tanh", "sigmoid", "neg", "clone", "log_sq", "sqrt_sq", "sum", "mean",
         "reshape_flat", "slice_step", "none_index", "squeeze"}
SCALAR = {"add_c", "radd_c", "sub_c", "rsub_c", "mul_c", "rmul_c", "div_c"}
BINARY = {"add", "sub", "mul", "div", "pow", "maximum", "minimum"}


def _draw_step(draw, name: str, d: Draft) -> Step | None:  # noqa: C901 -- one case per op
    """A step of op ``name`` on nodes of ``d``, or None if no node suits it."""
    if name in UNARY:
        pred = {"slice_step": lambda v: v.ndim >= 1}.get(name, lambda v: True)
        i = _pick(draw, d, pred)
        return None if i is None else Step(name, (i,), None)
    if name == "exp":
        i = _pick(draw, d, lambda v: _max_abs(v) <= 3)
        return None if i is None else Step(name, (i,))
    if name in ("log", "sqrt"):
        i = _pick(draw, d, lambda v: np.all(v >= POS))
        return None if i is None else Step(name, (i,))
    if name in ("relu", "abs"):
        i = _pick(draw, d, lambda v: _min_abs(v) >= KINK)
        return None if i is None else Step(name, (i,))
    if name in ("recip", "rdiv_c"):
        i = _pick(draw, d, lambda v: _min_abs(v) >= SAFE)
        return None if i is None else Step(name, (i,),
                                           draw(constants) if name == "rdiv_c" else None)
    if name in SCALAR:
        return Step(name, (_pick(draw, d),), draw(constants))
    if name in ("pow_c", "pow_m"):
        p = draw(st.sampled_from([2, 3, 2.0, -1, 0.5, 1.5, -0.5]))
        if p in (2, 3, 2.0):
            pred = lambda v: True  # noqa: E731
        elif p == -1:
            pred = lambda v: _min_abs(v) >= SAFE  # noqa: E731
        else:
            pred = lambda v: np.all(v >= POS)  # noqa: E731
        i = _pick(draw, d, pred)
        return None if i is None else Step(name, (i,), p)
    if name == "rpow_c":
        i = _pick(draw, d, lambda v: _max_abs(v) <= 3)
        return None if i is None else Step(name, (i,), draw(st.sampled_from([2.0, 0.5, 3])))
    if name in BINARY or name == "where":
        if name == "where":
            c = _pick(draw, d, lambda v: _min_abs(v) >= KINK)
            if c is None:
                return None
        a = _pick(draw, d, (lambda v: np.all(v >= POS)) if name == "pow" else (lambda v: True))
        if a is None:
            return None
        sa = d.nodes[a].shape
        va = d.v(a)
        if name == "div":
            pred = lambda v: _broadcasts(sa, v.shape) and _min_abs(v) >= SAFE  # noqa: E731
        elif name == "pow":
            pred = lambda v: _broadcasts(sa, v.shape) and _max_abs(v) <= 2  # noqa: E731
        elif name in ("maximum", "minimum"):
            pred = lambda v: (_broadcasts(sa, v.shape)  # noqa: E731
                              and _min_abs(va - v) >= KINK)
        else:
            pred = lambda v: _broadcasts(sa, v.shape)  # noqa: E731
        if name == "where":
            sc = d.nodes[c].shape
            pred_ab = pred
            pred = lambda v: pred_ab(v) and _broadcasts(  # noqa: E731
                np.broadcast_shapes(sc, sa), v.shape)
            if not _broadcasts(sc, sa):
                return None
        b = _pick(draw, d, pred)
        if b is None:
            return None
        return Step(name, (c, a, b) if name == "where" else (a, b))
    if name in ("sum_dim", "mean_dim", "norm_dim"):
        i = _pick(draw, d)
        if i is None:
            return None
        nd = d.nodes[i].ndim
        dims = draw(st.one_of(
            st.integers(-max(nd, 1), max(nd, 1) - 1),
            # (torch's norm over a tuple of more than two dims is a matrix norm: refused)
            st.lists(st.integers(0, max(nd, 1) - 1), min_size=1,
                     max_size=min(max(nd, 1), 2 if name == "norm_dim" else 3),
                     unique=True).map(tuple)))
        keepdim = draw(st.booleans())
        if name == "norm_dim":
            v = d.v(i)
            axes = dims if isinstance(dims, tuple) else (dims,)
            axes = tuple(a % max(nd, 1) for a in axes) if nd else None
            rows = np.sqrt(np.sum(v * v, axis=axes)) if nd else np.abs(v)
            lengths = np.prod([v.shape[a] for a in axes]) if nd else 1
            if lengths and np.min(rows, initial=np.inf) < 0.1:
                return None
        return Step(name, (i,), (dims, keepdim))
    if name in ("norm", "normalize"):
        i = _pick(draw, d, lambda v: np.linalg.norm(v) >= 0.1)
        return None if i is None else Step(name, (i,))
    if name == "norm_p":
        p = draw(st.sampled_from([1, 3, 2.5, float("inf")]))
        i = _pick(draw, d, lambda v: np.linalg.norm(v) >= 0.1 and _min_abs(v) >= KINK
                  and (p != float("inf") or _separated(np.abs(v))))
        return None if i is None else Step(name, (i,), p)
    if name in ("max_all", "min_all"):
        i = _pick(draw, d, lambda v: v.size > 0 and _separated(v))
        return None if i is None else Step(name, (i,))
    if name in ("max_dim", "min_dim", "logsumexp", "softmax", "log_softmax"):
        softmax = name in ("softmax", "log_softmax")
        i = _pick(draw, d)
        if i is None:
            return None
        nd = d.nodes[i].ndim
        dim = _dim(draw, nd)
        if name in ("max_dim", "min_dim") and not _separated(d.v(i), dim % nd if nd else None):
            return None
        return Step(name, (i,), dim if softmax else (dim, draw(st.booleans())))
    if name in ("reshape", "view"):
        i = _pick(draw, d)
        shape = d.nodes[i].shape
        kind = draw(st.sampled_from(["flat", "reversed", "lead1"]))
        target = {"flat": (-1,), "reversed": tuple(reversed(shape)),
                  "lead1": (1, *shape)}[kind]
        return Step(name, (i,), target)
    if name == "transpose":
        i = _pick(draw, d)
        if i is None:
            return None
        nd = d.nodes[i].ndim
        return Step(name, (i,), (_dim(draw, nd), _dim(draw, nd)))
    if name == "permute":
        i = _pick(draw, d)
        if i is None:
            return None
        return Step(name, (i,), tuple(draw(st.permutations(range(d.nodes[i].ndim)))))
    if name == "T":
        i = _pick(draw, d, lambda v: v.ndim == 2)
        return None if i is None else Step(name, (i,))
    if name == "t":
        i = _pick(draw, d, lambda v: v.ndim <= 2)
        return None if i is None else Step(name, (i,))
    if name == "unsqueeze":
        i = _pick(draw, d, lambda v: v.ndim <= 2)
        if i is None:
            return None
        nd = d.nodes[i].ndim
        return Step(name, (i,), draw(st.integers(-nd - 1, nd)))
    if name == "squeeze_dim":
        i = _pick(draw, d)
        return Step("squeeze", (i,), _dim(draw, d.nodes[i].ndim))
    if name == "expand":
        i = _pick(draw, d, lambda v: v.ndim <= 2)
        if i is None:
            return None
        sizes = [draw(st.integers(0, 3)) if n == 1 else (-1 if draw(st.booleans()) else n)
                 for n in d.nodes[i].shape]
        if not sizes or draw(st.booleans()):
            sizes.insert(0, draw(st.integers(0, 3)))
        return Step(name, (i,), tuple(sizes))
    if name in ("select", "select_last", "index"):
        i = _pick(draw, d, lambda v: v.ndim >= 1 and v.shape[0 if name != "select_last" else -1])
        if i is None:
            return None
        n = d.nodes[i].shape[0 if name != "select_last" else -1]
        if name == "index":
            return Step(name, (i,), tuple(draw(st.lists(st.integers(-n, n - 1), min_size=0,
                                                         max_size=4))))
        return Step(name, (i,), draw(st.integers(-n, n - 1)))
    if name == "slice":
        i = _pick(draw, d, lambda v: v.ndim >= 1)
        if i is None:
            return None
        return Step(name, (i,), (draw(st.sampled_from([None, 0, 1, -1])),
                                 draw(st.sampled_from([None, 1, 2, -1]))))
    if name == "mask":
        i = _pick(draw, d, lambda v: v.ndim >= 1 and _min_abs(v) >= KINK)
        return None if i is None else Step(name, (i,))
    if name in ("cat", "stack"):
        a = _pick(draw, d, lambda v: v.ndim >= 1 or name == "stack")
        if a is None:
            return None
        sa = d.nodes[a].shape
        nd = len(sa)
        if name == "stack":
            dim = draw(st.integers(-nd - 1, nd))
            b = _pick(draw, d, lambda v: v.shape == sa)
        else:
            dim = draw(st.integers(-nd, nd - 1))
            k = dim % nd
            b = _pick(draw, d, lambda v: v.ndim == nd and all(
                n == m for j, (n, m) in enumerate(zip(v.shape, sa, strict=True)) if j != k))
        return None if b is None else Step(name, (a, b), dim)
    if name == "clamp":
        i = _pick(draw, d)
        lo, hi = sorted(draw(st.lists(st.floats(-2.0, 2.0), min_size=2, max_size=2)))
        param = draw(st.sampled_from([(lo, hi), (lo, None), (None, hi)]))
        bounds = np.array([b for b in param if b is not None])
        if _min_abs(d.v(i).reshape(-1, 1) - bounds) < KINK:
            return None
        return Step(name, (i,), param)
    if name == "matmul":
        a = _pick(draw, d, lambda v: 1 <= v.ndim <= 3)
        if a is None:
            return None
        sa = d.nodes[a].shape
        b = _pick(draw, d, lambda v: 1 <= v.ndim <= 3 and _matmul_ok(sa, v.shape))
        return None if b is None else Step(name, (a, b))
    if name in ("matmul_c", "rmatmul_c"):
        i = _pick(draw, d, lambda v: 1 <= v.ndim <= 3)
        if i is None:
            return None
        shape = d.nodes[i].shape
        k = shape[-1] if name == "matmul_c" else shape[-2 if len(shape) >= 2 else 0]
        m = draw(st.integers(0, 3))  # 0: a vector constant
        w_shape = (k,) if m == 0 else ((k, m) if name == "matmul_c" else (m, k))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        return Step(name, (i,), rng.uniform(-1, 1, w_shape))
    if name == "inplace":
        return _draw_inplace(draw, d)
    raise AssertionError(name)


def _matmul_ok(sa: tuple, sb: tuple) -> bool:
    try:
        np.matmul(np.empty(sa), np.empty(sb))
    except ValueError:
        return False
    return True


def _draw_inplace(draw, d: Draft) -> Step | None:
    # an existing intermediate (not a leaf, no view, no views of it), or a fresh clone of any
    fresh = draw(st.booleans())
    pred = (lambda v: True) if fresh else None
    if fresh:
        t = _pick(draw, d, pred)
    else:
        cands = [i for i in reversed(range(len(d.nodes)))
                 if not d.leaf[i] and not d.view[d.tensor[i]]]
        if not cands:
            return None
        t = draw(st.sampled_from(cands))
    st_ = d.nodes[t].shape
    method = draw(st.sampled_from(["add_", "sub_", "mul_", "div_", "iadd", "imul", "fill_",
                                   "zero_", "setitem"]))
    if method in ("fill_", "zero_"):
        return Step("inplace", (t,), (fresh, method, draw(constants) if method == "fill_"
                                      else None))
    if method == "setitem":
        v = d.v(t)
        keys = []
        if v.ndim >= 1 and v.shape[0] > 0:
            keys += [0, -1, slice(1, None), (Ellipsis, 0) if v.shape[-1] else 0]
        if v.ndim >= 1 and _min_abs(v) >= KINK:
            keys.append("mask")
        keys.append(Ellipsis)
        key = draw(st.sampled_from(keys))
        part = v[v > 0] if key == "mask" else v[key]
        if draw(st.booleans()):  # a constant value
            return Step("inplace", (t,), (fresh, method, key))
        o = _pick(draw, d, lambda w: (w.ndim == 0 if key == "mask"
                                      else _broadcasts_to(w.shape, part.shape)))
        if o is None:
            return None
        return Step("inplace", (t, o), (fresh, method, key))
    if draw(st.booleans()):  # a Python number
        c = draw(constants)
        return Step("inplace", (t,), (fresh, method, c))
    if method in ("div_",):
        pred = lambda w: _broadcasts_to(w.shape, st_) and _min_abs(w) >= SAFE  # noqa: E731
    else:
        pred = lambda w: _broadcasts_to(w.shape, st_)  # noqa: E731
    o = _pick(draw, d, pred)
    return None if o is None else Step("inplace", (t, o), (fresh, method, None))


def _broadcasts_to(a: tuple, target: tuple) -> bool:
    return _broadcasts(a, target) and np.broadcast_shapes(a, target) == tuple(target)


# hypothesis favours (and shrinks toward) the first choice: a broadcasting product; in-place
# steps have many variants, so they are drawn as often as several ops
OP_NAMES = ["mul"] + sorted((set(APPLY) | {"squeeze_dim"}) - {"mul", "add_sum"}) + ["inplace"] * 7


def _acceptable(t) -> bool:
    v = t.detach().numpy()
    return bool(np.all(np.isfinite(v))) and _max_abs(v) <= BOUND


def _apply(d: Draft, step: Step):
    with tg.no_grad():
        return APPLY[step.op](tg, *(d.nodes[a] for a in step.args), step.param)


@st.composite
def programs(draw, min_ops: int = 3, max_ops: int = 12) -> Program:
    n_inputs = draw(st.integers(1, 3))
    first = draw(st.sampled_from(SHAPES))
    shapes = [first]
    for _ in range(n_inputs - 1):
        kind = draw(st.sampled_from(["broadcast", "same", "any"]))
        pool = [s for s in SHAPES if _broadcasts(first, s)] if kind == "broadcast" else SHAPES
        shapes.append(first if kind == "same" else draw(st.sampled_from(pool)))
    arrays = [np.array(draw(st.lists(values, min_size=int(np.prod(s)), max_size=int(np.prod(s)))),
                       dtype=np.float64).reshape(s) for s in shapes]
    rg = [draw(st.booleans()) if i else True for i in range(n_inputs)]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    program = Program(arrays, rg)
    d = Draft([tg.tensor(a) for a in arrays], list(rg), [{i} if rg[i] else set()
                                                         for i in range(n_inputs)],
              [False] * n_inputs, [True] * n_inputs, ["input"] * n_inputs,
              list(range(n_inputs)))
    n_ops = draw(st.integers(min_ops, max_ops))
    attempts = 0
    while sum(s.op not in NO_NODE for s in program.steps) < n_ops and attempts < 4 * n_ops:
        attempts += 1
        extra = draw(st.sampled_from(["op"] * 10 + ["retain_grad", "backward"]))
        if extra != "op":
            cands = [i for i in range(len(d.nodes)) if d.rg[i] and not d.leaf[i]]
            if cands:
                i = draw(st.sampled_from(cands))
                w = rng.uniform(0.5, 1.5, d.nodes[i].shape)
                program.steps.append(Step(extra, (i,), w if extra == "backward" else None))
            continue
        name = draw(st.sampled_from(OP_NAMES))
        step = _draw_step(draw, name, d)
        if step is None:
            continue
        try:
            if step.op == "inplace" and not step.param[0]:  # try it on a copy first
                with tg.no_grad():
                    probe = APPLY["inplace"](tg, d.nodes[step.args[0]],
                                             *(d.nodes[a] for a in step.args[1:]),
                                             (True,) + step.param[1:])
                if not _acceptable(probe):
                    continue
            value = _apply(d, step)
        except Exception:  # noqa: BLE001
            # tapegrad refuses a step drawn as valid: the program ends with it, and the eager
            # run's error is checked against torch's (whose raising nothing is a bug)
            program.steps.append(step)
            program.raises = True
            break
        if not _acceptable(value):
            continue
        program.steps.append(step)
        _track(d, step, value)
    if not program.raises:
        _join_inputs(program, d)
    # every node no later step reads is an output, so that every step counts in F
    used = {a for s in program.steps for a in s.args if s.op not in NO_NODE}
    outputs = [i for i in range(n_inputs, len(d.nodes)) if i not in used]
    if not outputs or draw(st.booleans()):  # and maybe any other node, an input included
        outputs.append(draw(st.integers(0, len(d.nodes) - 1)))
    outputs = list(dict.fromkeys(outputs))
    program.outputs = tuple(outputs)
    program.weights = tuple(rng.uniform(0.5, 1.5, d.nodes[o].shape) for o in outputs)
    program.shapes = [tuple(n.shape) for n in d.nodes]
    return program


def _track(d: Draft, step: Step, value) -> None:
    diff_args = step.args[1:] if step.op == "where" else step.args
    deps = set().union(*(d.deps[a] for a in diff_args))
    rg = any(d.rg[a] for a in diff_args)
    if step.op == "inplace" and not step.param[0]:  # the node itself changed
        t = step.args[0]
        d.deps[t] = deps
        d.rg[t] = rg
        d.made_by[t] = step.op
    if step.op in VIEWS:
        d.view[d.tensor[step.args[0]]] = True
    d.nodes.append(value)
    d.rg.append(rg)
    d.deps.append(deps)
    d.view.append(step.op in VIEWS)
    d.leaf.append(False)
    d.made_by.append(step.op)
    same = step.op == "inplace" and not step.param[0]
    d.tensor.append(d.tensor[step.args[0]] if same else len(d.nodes) - 1)


def _join_inputs(program: Program, d: Draft) -> None:
    """Every input that requires grad takes part in the last node."""
    for i, rg in enumerate(program.requires_grad):
        if rg and i not in d.deps[-1]:
            last = len(d.nodes) - 1
            op = "add" if _broadcasts_to(d.nodes[i].shape, d.nodes[last].shape) else "add_sum"
            step = Step(op, (last, i))
            program.steps.append(step)
            _track(d, step, _apply(d, step))


# --------------------------------------------------------------------------- running programs


@dataclass
class Outcome:
    error: tuple | None = None  # (stage, exception type name, message)
    values: list = field(default_factory=list)  # every node's value at the end
    grads: list = field(default_factory=list)  # per input: array or None
    retained: dict = field(default_factory=dict)  # node -> array or None


def _np(t) -> np.ndarray:
    return np.array(t.detach().numpy(), dtype=np.float64, copy=True)


def run_eager(M, program: Program) -> Outcome:
    """Forward with grad, the mid-graph backwards, then the outputs' backwards."""
    out = Outcome()
    xs = [M.tensor(a, requires_grad=rg)
          for a, rg in zip(program.arrays, program.requires_grad, strict=True)]
    stage = "forward"
    try:
        nodes, _ = execute(M, program, xs, grad_steps=True)
        for k, (o, w) in enumerate(zip(program.outputs, program.weights, strict=True)):
            stage = f"backward of output {k}"
            if nodes[o].requires_grad:
                nodes[o].backward(M.tensor(w), retain_graph=True)
    except Exception as exc:  # compared with the other framework's
        frames = traceback.extract_tb(exc.__traceback__)
        # (torch raises from C++, so its refusals show the harness's line as their last frame:
        # only tapegrad's run tells the harness's own mistakes apart, and it runs the same code)
        if M is tg and frames and os.path.dirname(os.path.abspath(frames[-1].filename)) == HERE:
            raise  # the harness's own mistake, not the framework's refusal
        out.error = (stage, type(exc).__name__, str(exc))
        return out
    out.values = [_np(n) for n in nodes]
    out.grads = [None if x.grad is None else _np(x.grad) for x in xs]
    out.retained = {s.args[0]: (None if nodes[s.args[0]].grad is None
                                else _np(nodes[s.args[0]].grad))
                    for s in program.steps if s.op == "retain_grad"}
    return out


def scalar_value(program: Program, arrays: list[np.ndarray]) -> float:
    with tg.no_grad():
        _, total = execute(tg, program, [tg.tensor(a) for a in arrays], grad_steps=False)
    return float(total)


def value_and_grad(program: Program, arrays: list[np.ndarray]):
    """F and its gradient in one eager backward, every input requiring grad."""
    xs = [tg.tensor(a, requires_grad=True) for a in arrays]
    _, total = execute(tg, program, xs, grad_steps=False)
    total.backward()
    return float(total), [np.zeros(a.shape) if x.grad is None else _np(x.grad)
                          for a, x in zip(arrays, xs, strict=True)]


def _close(got, expected, what: str, rtol: float = RTOL, atol: float | None = None) -> None:
    expected = np.asarray(expected, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    assert got.shape == expected.shape, f"{what}: shape {got.shape}, expected {expected.shape}"
    scale = max(1.0, _max_abs(expected[np.isfinite(expected)]))
    np.testing.assert_allclose(got, expected, rtol=rtol,
                               atol=rtol * scale if atol is None else atol * scale,
                               equal_nan=True, err_msg=what)


def check_against_torch(program: Program, mine: Outcome) -> None:
    ref = run_eager(torch, program)
    if ref.error and not mine.error and "modified by an inplace operation" in ref.error[2]:
        # torch saves values that its backward does not read for the inputs requiring grad
        # here (pow's result when only the base needs a gradient, say); tapegrad refuses only
        # a change to a value its VJPs read, so it answers: finite differences check the answer
        _event("torch refused an in-place change that tapegrad's VJPs do not read")
        return
    if ref.error or mine.error:
        assert mine.error is not None, f"torch raised {ref.error}, tapegrad did not"
        assert ref.error is not None, f"tapegrad raised {mine.error}, torch did not"
        assert mine.error[:2] == ref.error[:2], f"tapegrad raised {mine.error}, torch {ref.error}"
        return
    for i, (got, exp) in enumerate(zip(mine.values, ref.values, strict=True)):
        _close(got, exp, f"value of n{i}")
    for i, (got, exp) in enumerate(zip(mine.grads, ref.grads, strict=True)):
        assert (got is None) == (exp is None), f"n{i}.grad: tapegrad {got}, torch {exp}"
        if exp is not None:
            _close(got, exp, f"n{i}.grad")
    for i, exp in ref.retained.items():
        got = mine.retained[i]
        assert (got is None) == (exp is None), f"retained n{i}.grad: tapegrad {got}, torch {exp}"
        if exp is not None:
            _close(got, exp, f"retained n{i}.grad")


def check_finite_differences(program: Program, mine: Outcome) -> None:
    arrays = [a.copy() for a in program.arrays]
    f = lambda *xs: scalar_value(program, list(xs))  # noqa: E731
    for i, rg in enumerate(program.requires_grad):
        if not rg:
            continue
        expected = numeric_grad(f, arrays, i, FD_EPS)
        got = mine.grads[i] if mine.grads[i] is not None else np.zeros(arrays[i].shape)
        _close(got, expected, f"n{i}.grad against finite differences", FD_RTOL, FD_ATOL)


def check_compiled(program: Program, seed: int) -> None:
    arrays = [a.copy() for a in program.arrays]
    try:
        value, grads = value_and_grad(program, arrays)
    except RuntimeError:
        # with every input requiring grad an in-place change may now hit a saved value: the
        # eager run refuses, and so there is nothing to compare with
        _event("compiled check skipped: eager refuses with every input requiring grad")
        return
    f = lambda *xs: execute(tg, program, list(xs), grad_steps=False)[1]  # noqa: E731
    tape = tg.compile(f, *arrays)
    rng = np.random.default_rng(seed)
    perturbed = [a + PERTURB * rng.uniform(-1, 1, a.shape) for a in arrays]
    for label, args in (("example", arrays), ("perturbed", perturbed)):
        if label == "perturbed":
            try:
                value, grads = value_and_grad(program, args)
            except RuntimeError:
                continue
            if not np.isfinite(value) or not all(np.all(np.isfinite(g)) for g in grads):
                continue
        _close(tape(*args), value, f"compiled value ({label} inputs)")
        got = tape.gradient(*args)
        got = list(got) if isinstance(got, tuple) else [got]
        for i, (g, e) in enumerate(zip(got, grads, strict=True)):
            _close(g, e, f"compiled gradient of n{i} ({label} inputs)")
        _event(f"compiled check on {label} inputs")


def _event(what: str) -> None:
    try:
        event(what)
    except InvalidArgument:  # outside a hypothesis test
        pass


def check_program(program: Program, seed: int) -> None:
    mine = run_eager(tg, program)
    _event("raises" if mine.error else "runs")
    if torch is not None:
        check_against_torch(program, mine)
    elif mine.error is not None:  # (without torch, only refusals torch is known to share)
        inplace = any(s.op == "inplace" and not s.param[0] for s in program.steps)
        view = program.steps[-1].op == "view"  # (of a tensor whose strides do not allow it)
        assert mine.error[1] == "RuntimeError" and (
            (inplace and "inplace" in mine.error[2])
            or (view and "view size is not compatible" in mine.error[2])), \
            f"tapegrad raised {mine.error}"
    if mine.error is not None:
        return
    check_finite_differences(program, mine)
    check_compiled(program, seed)


# --------------------------------------------------------------------------- the test

SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=IN_CI,
                    suppress_health_check=HEALTH, print_blob=True)


@SETTINGS
@given(programs(), st.integers(0, 2**32 - 1))
def test_random_programs_match_torch_fd_and_compile(program, seed):
    note(program.describe())
    check_program(program, seed)


def test_known_and_found_name_existing_patterns():
    """Every exclusion is one the generator consults (a stale name is deleted, not kept)."""
    import inspect

    import fuzz_ops

    source = inspect.getsource(fuzz_ops) + inspect.getsource(inspect.getmodule(programs))
    for name in FOUND:
        assert source.count(f'"{name}"') >= 2, f"{name} is listed but never consulted"


@pytest.mark.skipif(torch is None, reason="torch is the oracle for error parity")
def test_interpreter_runs_the_same_program_in_both_frameworks():
    """A fixed program touching each step kind: the harness itself works."""
    program = Program([np.array([[0.5, -1.25, 2.0], [1.5, 0.75, -0.5]]), np.array(1.5)],
                      [True, True])
    program.steps = [
        Step("mul", (0, 1)),                        # n2
        Step("retain_grad", (2,)),
        Step("inplace", (2,), (True, "add_", 1.0)),  # n3
        Step("backward", (3,), np.full((2, 3), 0.5)),
        Step("inplace", (3, 1), (False, "mul_", None)),  # n4 (is n3)
        Step("softmax", (4,), -1),                  # n5
        Step("sum_dim", (5,), ((0,), True)),        # n6
    ]
    program.outputs = (6,)
    program.weights = (np.array([[0.7, 1.1, 1.3]]),)
    check_program(program, 0)
