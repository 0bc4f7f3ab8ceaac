"""The op table: every differentiable operation, defined once.

An :class:`Op` holds everything tapegrad knows about one operation, side by side:

* ``name``   -- the backward node's name that ``grad_fn.name()`` shows (torch's name);
* ``code``   -- the integer opcode written into tape records (its index in :data:`OPS`);
* ``eager``  -- the NumPy forward that computes the op's value while recording; None for an op
                whose value the front end makes as a view of its input's storage (``view``,
                ``transpose``, ``x[1:]`` ...) or writes in place (``fill_``, ``x[k] = v``);
* ``fwd``    -- the numba forward used when a recorded tape is replayed;
* ``vjp``    -- the numba vector-Jacobian product used by the backward sweep;
* ``py``     -- for elementwise ops, the forward as a plain Python scalar rule: a 0-d float64
                tensor is computed with it instead of a 0-d NumPy call (several times slower);
* ``reads_a``/``reads_b`` -- which saved values the VJP reads to make the first / second input's
                gradient (bit 1: first input, 2: second input, 4: output).  Only values read for
                an input that needs a gradient are checked for in-place changes, as in torch;
* ``saves``  -- whether torch's node keeps saved values (so a second backward through it, after
                they were freed, is an error).  Defaults to "reads anything";
* ``graph``  -- the VJP written with tensor operations, so that it is recorded like any other
                computation and can be differentiated again (``create_graph=True``; see
                ``tapegrad/autograd/graph.py``): ``graph(g, a, b, y, r) -> (ga, gb)`` where ``g``
                is the output's gradient and ``a``, ``b``, ``y`` the record's values (tensors on
                the tape, or None where the record has no such input), ``r`` the record's
                :class:`Record`; ``ga``/``gb`` are the inputs' gradients (None: no gradient).
                An elementwise op's is made from its scalar rules where they are plain
                arithmetic; ``tests/test_higher_order.py`` checks every op's against its
                numba VJP;
* ``surface`` -- how users reach the op, in torch's names (:class:`Surface`): the ``Tensor``
                method, the ``tapegrad.`` function, the operators.  ``tapegrad/surface.py`` makes
                them from the table, so a new elementwise op is one ``register`` call.

Every numba part has one fixed signature so that a generated dispatch (``kernels/_dispatch.py``)
can call any op the same way.  An op whose output is assembled from several inputs (``cat``,
``where``, ``x[key] = v``) is recorded as one record per input, all writing the same output
slot; each record's VJP handles its own input::

    fwd(y, a, b, I, F, ip, fp)
    vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp)

``a``, ``b``, ``y`` are the flat float64 values of the first input, second input and output;
``g`` is the output's gradient and ``ga``/``gb`` the inputs' gradient accumulators (VJPs *add*
into them).  ``I``/``F`` are the tape's integer and float parameter pools and ``ip``/``fp`` this
record's offsets into them (shapes, axes, scalar constants).

``need_a``/``need_b`` say whether an input wants its gradient: 0 (no), ``ADD`` (add into its
accumulator), or ``ASSIGN`` -- the accumulator is uncleared memory, to be overwritten.  ``ASSIGN``
is passed only to an op registered with ``assigns=True`` (its VJP writes every element of
``ga``/``gb`` exactly once when ``ip < 0``), and only for a record with ``ip < 0`` -- or, for an
op registered with ``assigns=ANY_RECORD``, whatever its int params (its VJP clears what it does
not write).  It saves the sweep clearing the slot first, a whole extra pass over a large
gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

READS_A, READS_B, READS_Y = 1, 2, 4
# what a VJP does with an input's gradient accumulator (``need_a``/``need_b``; 0: nothing)
ADD, ASSIGN = 1, 2
# ``Op.assigns`` for a VJP that takes ASSIGN for any record, not only those with ``ip < 0``
ANY_RECORD = 2


@dataclass(frozen=True)
class Surface:
    """How users reach an op, in torch's names.

    ``method`` is ``Tensor.<method>``, ``function`` is ``tapegrad.<function>``, ``operators``
    the ``Tensor`` operators that compute the op (``"__neg__"``, ``"__add__"`` ...), ``params``
    the function's parameter names as torch's (the method's are ``self`` and the rest),
    ``aliases`` torch's other names for the same op (``arccos`` for ``acos``: the same node),
    made as the method and function are.  ``inplace``: whether ``Tensor.<method>_`` (and each
    alias's) is made too, torch's in-place form; None: as the kind of op -- every elementwise
    op has one, no other op.  ``number_name``: the node's name when the second operand is a
    Python number, where torch's differs (``FmodBackward0``, where two tensors give
    ``FmodBackward1``).

    For an elementwise op (one with a Python scalar rule) all of them are made from the op
    itself.  Any other op's method is written by hand in ``tensor.py``, and its function calls
    that method -- or is the front end's own function of that name (``cat``, ``where``).
    """

    method: str | None = None
    function: str | None = None
    operators: tuple[str, ...] = ()
    params: tuple[str, ...] = ("input",)
    aliases: tuple[str, ...] = ()
    inplace: bool | None = None
    number_name: str | None = None


# the usual surface of an elementwise op: ``x.<key>()`` and ``tapegrad.<key>(x)``
def exposed(key: str, *operators: str, params: tuple[str, ...] = ("input",),
            aliases: tuple[str, ...] = (), inplace: bool | None = None,
            number_name: str | None = None) -> Surface:
    return Surface(key, key, operators, params, aliases, inplace, number_name)


class Record(NamedTuple):
    """What a graph rule (``Op.graph``) reads of its record besides the values: the tape's int
    and float pools and the record's offsets into them (-1: none), its tape and its index.

    A value's *shape* is known to the rule only from these params and from ``g``: the tape
    keeps a one-element value as a number (a rule sees it 0-d, whatever its shape) and keeps
    no value that no VJP reads (``Op.keeps``): a rule reads only the values its op keeps and
    returns gradients of its inputs' sizes (the sweep gives them their shapes)."""

    I: Any  # the tape's int pool (array('q'))
    ip: int
    F: Any  # the tape's float pool (array('d'))
    fp: int
    tape: Any
    index: int
    need_a: bool = True  # whether the sweep uses ``ga`` (a rule may skip computing it)
    need_b: bool = True


@dataclass(frozen=True)
class Op:
    key: str
    name: str
    code: int
    arity: int
    eager: Callable | None
    fwd: Callable
    vjp: Callable
    reads_a: int
    reads_b: int
    saves: bool
    next_none: bool = False  # torch lists a ``(None, 0)`` entry for a scalar operand
    next_b: bool = True  # input b is an operand torch lists in next_functions (not a mask)
    # a matrix product whose int params are [m, k, n] (1) or [batch, m, k, n] (2): eager
    # backward hands large ones to NumPy's BLAS
    matmul: int = 0
    py: Callable | None = None
    # elementwise ops only: ``(kind, f, d...)`` -- the numba scalar rules the kernels are made
    # of (kind "unary": f(x), df(g, x, y); "scalar": f(x, c), df(g, x, y, c); "binary":
    # f(a, b), da(g, a, b, y), db(g, a, b, y)).  tg.compile's code generator fuses them.
    rules: tuple = ()
    assigns: int = 0  # the VJP overwrites on ``ASSIGN``: True (1) or ANY_RECORD (see above)
    # which values a record of this op makes the tape keep (bits as ``reads_a``): what its VJP
    # reads, for an elementwise op (whose reads the tests check against its scalar rules);
    # every value, for any other op
    keeps: int = READS_A | READS_B | READS_Y
    surface: Surface | None = None  # how users reach it (None: only through other ops)
    graph: Callable | None = None  # the VJP in tensor operations (see the module's docstring)

    def __repr__(self) -> str:
        return f"<op {self.code} {self.key} ({self.name})>"


OPS: list[Op] = []
BY_KEY: dict[str, Op] = {}


def register(key: str, name: str, arity: int, eager: Callable | None, fwd: Callable, vjp: Callable,
             reads_a: int, reads_b: int = 0, saves: bool | None = None,
             next_none: bool = False, next_b: bool = True, matmul: int = 0,
             py: Callable | None = None, rules: tuple = (),
             assigns: int = 0, surface: Surface | None = None,
             graph: Callable | None = None) -> Op:
    """Add an op to the table and give it the next opcode."""
    if key in BY_KEY:
        raise ValueError(f"op {key!r} is defined twice")
    if saves is None:
        saves = (reads_a | reads_b) != 0
    keeps = (reads_a | reads_b) if rules else READS_A | READS_B | READS_Y
    op = Op(key, name, len(OPS), arity, eager, fwd, vjp, reads_a, reads_b, saves, next_none,
            next_b, matmul, py, rules, assigns, keeps, surface, graph)
    OPS.append(op)
    BY_KEY[key] = op
    return op


def defgraph(*ops: Op) -> Callable:
    """Attach the decorated function as these ops' graph rule (``Op.graph``), written next to
    the ops' ``register`` calls as HIPS autograd writes ``defvjp``::

        @defgraph(SUM)
        def _sum_graph(g, a, b, y, r):
            return g.expand(...), None
    """

    def attach(rule: Callable) -> Callable:
        for op in ops:
            object.__setattr__(op, "graph", rule)  # (Op is frozen: set once, here)
        return rule

    return attach
