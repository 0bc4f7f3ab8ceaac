"""The op table of the differential fuzzer (``test_fuzz.py``): one interpreter for tapegrad and
torch.

A program is a list of :class:`Step` over a growing list of nodes (the inputs first).  Every op
is written once, against the API tapegrad and torch share, and is called with the framework
module ``M`` (``tapegrad`` or ``torch``) so that the very same program runs in both.  Two steps
add no node: ``retain_grad`` (on a recorded intermediate) and ``backward`` (a mid-graph
``backward(W, retain_graph=True)``).  In-place steps either change a fresh ``clone()`` of a node
or change an existing node itself (it then appears twice in the node list: both entries are
the same tensor, in every framework, so aliasing is part of the program's meaning).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Bugs the fuzzer found that are still open.  While a name is in this set the fuzzer does not
#: generate exactly that pattern; delete the name once its fix is merged, and the fuzzer covers
#: it again.
FOUND: set[str] = set()  # (every bug it found so far is fixed)

BOUND = 20.0  # largest |value| any accepted step may produce
KINK = 0.02  # smallest distance of a value to a kink or tie (relu, abs, clamp, max, masks ...)
SAFE = 0.3  # smallest |divisor|
POS = 0.1  # smallest argument of log, sqrt and fractional powers


@dataclass(frozen=True)
class Step:
    op: str
    args: tuple[int, ...]
    param: Any = None

    def describe(self, out: int | None) -> str:
        args = ", ".join(f"n{a}" for a in self.args)
        param = "" if self.param is None else f", {_short(self.param)}"
        head = "" if out is None else f"n{out} = "
        return f"{head}{self.op}({args}{param})"


def _short(p: Any) -> str:
    if isinstance(p, np.ndarray):
        return f"array({p.tolist()!r})"
    if isinstance(p, tuple):
        return "(" + ", ".join(_short(q) for q in p) + ("," if len(p) == 1 else "") + ")"
    return repr(p)


@dataclass
class Program:
    arrays: list[np.ndarray]
    requires_grad: list[bool]
    steps: list[Step] = field(default_factory=list)
    outputs: tuple[int, ...] = ()
    weights: tuple[np.ndarray, ...] = ()  # one per output: F = sum(w * out) (+ backward terms)
    shapes: list[tuple] = field(default_factory=list)  # every node's, as drawn
    raises: bool = False  # tapegrad raised at the last step while it was drawn

    def describe(self) -> str:
        lines = [f"n{i} = input {a.shape} requires_grad={rg}: {a.tolist()!r}"
                 for i, (a, rg) in enumerate(zip(self.arrays, self.requires_grad, strict=True))]
        n = len(self.arrays)
        for s in self.steps:
            if s.op in NO_NODE:
                lines.append(s.describe(None))
            else:
                lines.append(s.describe(n))
                n += 1
        lines += [f"output n{o}, weights {w.tolist()!r}"
                  for o, w in zip(self.outputs, self.weights, strict=True)]
        return "\n".join(lines)

    def ops(self) -> set[str]:
        return {s.op for s in self.steps}


NO_NODE = {"retain_grad", "backward"}


# --------------------------------------------------------------------------- op semantics


def _c(M, p):
    return M.tensor(p)


def _contiguous_view(x, shape):
    return x.view(shape)


def _inplace(M, t, *rest):
    """``(fresh, method, extra)``: change ``t`` (or a clone of it) in place, return it."""
    *others, p = rest
    fresh, method, extra = p
    if fresh:
        t = t.clone()
    other = others[0] if others else None
    if method == "add_":
        t.add_(other if other is not None else extra)
    elif method == "sub_":
        t.sub_(other if other is not None else extra)
    elif method == "mul_":
        t.mul_(other if other is not None else extra)
    elif method == "div_":
        t.div_(other if other is not None else extra)
    elif method == "iadd":
        t += other if other is not None else extra
    elif method == "imul":
        t *= other if other is not None else extra
    elif method == "fill_":
        t.fill_(extra)
    elif method == "zero_":
        t.zero_()
    elif method == "setitem":
        key = extra
        if key == "mask":
            key = t.detach() > 0
        t[key] = other if other is not None else 0.75
    else:  # pragma: no cover
        raise AssertionError(method)
    return t


APPLY = {
    # unary, smooth where the generator applies them
    "exp": lambda M, x, p: x.exp(),
    "log": lambda M, x, p: x.log(),
    "log_sq": lambda M, x, p: M.log(x * x + 0.5),
    "sqrt": lambda M, x, p: x.sqrt(),
    "sqrt_sq": lambda M, x, p: (x * x + 0.5).sqrt(),
    "sin": lambda M, x, p: x.sin(),
    "cos": lambda M, x, p: M.cos(x),
    "tanh": lambda M, x, p: x.tanh(),
    "sigmoid": lambda M, x, p: x.sigmoid(),
    "neg": lambda M, x, p: -x,
    "relu": lambda M, x, p: x.relu(),
    "abs": lambda M, x, p: abs(x),
    "clone": lambda M, x, p: x.clone(),
    "recip": lambda M, x, p: 1.0 / x,
    # a Python constant on either side
    "add_c": lambda M, x, p: x + p,
    "radd_c": lambda M, x, p: p + x,
    "sub_c": lambda M, x, p: x - p,
    "rsub_c": lambda M, x, p: p - x,
    "mul_c": lambda M, x, p: x * p,
    "rmul_c": lambda M, x, p: p * x,
    "div_c": lambda M, x, p: x / p,
    "rdiv_c": lambda M, x, p: p / x,
    "pow_c": lambda M, x, p: x ** p,
    "pow_m": lambda M, x, p: x.pow(p),
    "rpow_c": lambda M, x, p: p ** x,
    # binary, broadcasting
    "add": lambda M, a, b, p: a + b,
    "sub": lambda M, a, b, p: a - b,
    "mul": lambda M, a, b, p: a * b,
    "div": lambda M, a, b, p: a / b,
    "pow": lambda M, a, b, p: a ** b,
    "maximum": lambda M, a, b, p: M.maximum(a, b),
    "minimum": lambda M, a, b, p: a.minimum(b),
    "where": lambda M, c, a, b, p: M.where(c.detach() > 0, a, b),
    "add_sum": lambda M, a, b, p: a + b.sum(),
    # reductions
    "sum": lambda M, x, p: x.sum(),
    "sum_dim": lambda M, x, p: x.sum(p[0], keepdim=p[1]),
    "mean": lambda M, x, p: M.mean(x),
    "mean_dim": lambda M, x, p: x.mean(p[0], keepdim=p[1]),
    "norm": lambda M, x, p: x.norm(),
    "norm_dim": lambda M, x, p: x.norm(dim=p[0], keepdim=p[1]),
    "norm_p": lambda M, x, p: x.norm(p=p),
    "normalize": lambda M, x, p: x / x.norm(),
    "max_all": lambda M, x, p: x.max(),
    "min_all": lambda M, x, p: M.min(x),
    "max_dim": lambda M, x, p: x.max(p[0], keepdim=p[1]).values,
    "min_dim": lambda M, x, p: x.min(p[0], p[1])[0],
    "logsumexp": lambda M, x, p: x.logsumexp(p[0], keepdim=p[1]),
    "softmax": lambda M, x, p: x.softmax(p),
    "log_softmax": lambda M, x, p: M.log_softmax(x, p),
    # shapes and indexing
    "reshape_flat": lambda M, x, p: x.reshape(-1),
    "reshape": lambda M, x, p: M.reshape(x, p),
    "view": lambda M, x, p: _contiguous_view(x, p),
    "transpose": lambda M, x, p: x.transpose(*p),
    "permute": lambda M, x, p: x.permute(p),  # (a tuple: () for a 0-d tensor)
    "T": lambda M, x, p: x.T,
    "t": lambda M, x, p: x.t(),
    "unsqueeze": lambda M, x, p: x.unsqueeze(p),
    "squeeze": lambda M, x, p: x.squeeze() if p is None else x.squeeze(p),
    "expand": lambda M, x, p: x.expand(*p),
    "select": lambda M, x, p: x[p],
    "select_last": lambda M, x, p: x[..., p],
    "slice": lambda M, x, p: x[p[0]:p[1]],
    "slice_step": lambda M, x, p: x[::2],
    "none_index": lambda M, x, p: x[None],
    "index": lambda M, x, p: x[list(p)],
    "mask": lambda M, x, p: x[x.detach() > 0],
    "cat": lambda M, a, b, p: M.cat([a, b], p),
    "stack": lambda M, a, b, p: M.stack([a, b], dim=p),
    "clamp": lambda M, x, p: x.clamp(*p),
    # matrix products
    "matmul": lambda M, a, b, p: a @ b,
    "matmul_c": lambda M, x, p: x @ _c(M, p),
    "rmatmul_c": lambda M, x, p: M.matmul(_c(M, p), x),
    # in place: on a fresh clone, or on the node itself
    "inplace": _inplace,
}

#: ops whose result shares storage with their (first) argument
VIEWS = {"reshape_flat", "reshape", "view", "transpose", "permute", "T", "t", "unsqueeze",
         "squeeze", "expand", "select", "select_last", "slice", "slice_step", "none_index"}


def execute(M, program: Program, xs: list, grad_steps: bool):
    """Run ``program`` on the input tensors ``xs``.

    ``grad_steps``: run ``retain_grad`` and ``backward`` steps as such; otherwise a ``backward``
    step's ``sum(W * node)`` becomes a term of the returned scalar, whose gradient is then the
    total gradient the eager run accumulates.  Returns ``(nodes, F)``; ``F`` is None with
    ``grad_steps``.
    """
    nodes = list(xs)
    terms = []
    for s in program.steps:
        if s.op == "retain_grad":
            if grad_steps:
                nodes[s.args[0]].retain_grad()
            continue
        if s.op == "backward":
            node = nodes[s.args[0]]
            if grad_steps:
                node.backward(M.tensor(s.param), retain_graph=True)
            else:
                terms.append((node * M.tensor(s.param)).sum())
            continue
        nodes.append(APPLY[s.op](M, *(nodes[a] for a in s.args), s.param))
    if grad_steps:
        return nodes, None
    total = None
    for o, w in zip(program.outputs, program.weights, strict=True):
        terms.append((nodes[o] * M.tensor(w)).sum())
    for t in terms:
        total = t if total is None else total + t
    return nodes, total
