"""Comparisons and all/any: no gradient, recorded only inside ``tg.compile``.

Eagerly they are plain NumPy (a bool tensor has no history).  While a function is being
compiled, a comparison of a value that depends on the inputs must be replayed too -- its result
may decide a branch (a guard) or select elements (``tg.where``) -- so it is recorded, with a
VJP that passes nothing back.  Results are stored as 1.0 / 0.0.
"""

import numpy as np

from ..kernels.jit import kernel
from .elementwise import binary
from .registry import defgraph, exposed, register


def _compare(key, eager, test, operator=None):
    return binary(key, f"{key.capitalize()}Backward0", eager, test,
                  lambda g, a, b, y: 0.0, lambda g, a, b, y: 0.0, 0, 0,
                  scalar_forward=False,  # eagerly a bool, not the replay's 1.0 / 0.0
                  surface=exposed(key, *((operator,) if operator else ()),
                                  params=("input", "other")))


EQ = _compare("eq", np.equal, lambda a, b: 1.0 if a == b else 0.0, "__eq__")
NE = _compare("ne", np.not_equal, lambda a, b: 1.0 if a != b else 0.0, "__ne__")
LT = _compare("lt", np.less, lambda a, b: 1.0 if a < b else 0.0, "__lt__")
LE = _compare("le", np.less_equal, lambda a, b: 1.0 if a <= b else 0.0, "__le__")
GT = _compare("gt", np.greater, lambda a, b: 1.0 if a > b else 0.0, "__gt__")
GE = _compare("ge", np.greater_equal, lambda a, b: 1.0 if a >= b else 0.0, "__ge__")


# logical ops (``&``, ``|``, ``^`` and ``~`` on bool tensors) select elements as comparisons do
LOGICAL_AND = _compare("logical_and", np.logical_and,
                       lambda a, b: 1.0 if a != 0.0 and b != 0.0 else 0.0)
LOGICAL_OR = _compare("logical_or", np.logical_or,
                      lambda a, b: 1.0 if a != 0.0 or b != 0.0 else 0.0)
LOGICAL_XOR = _compare("logical_xor", np.logical_xor,
                       lambda a, b: 1.0 if (a != 0.0) != (b != 0.0) else 0.0)


@kernel
def _not_fwd(y, a, b, I, F, ip, fp):
    for i in range(y.size):
        y[i] = 1.0 if a[i] == 0.0 else 0.0


@kernel
def _all_fwd(y, a, b, I, F, ip, fp):
    y[0] = 1.0
    for i in range(a.size):
        if a[i] == 0.0:
            y[0] = 0.0
            break


@kernel
def _any_fwd(y, a, b, I, F, ip, fp):
    y[0] = 0.0
    for i in range(a.size):
        if a[i] != 0.0:
            y[0] = 1.0
            break


@kernel
def _no_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    pass


ALL = register("all", "AllBackward0", 1, np.all, _all_fwd, _no_vjp, 0, surface=exposed("all"))
ANY = register("any", "AnyBackward0", 1, np.any, _any_fwd, _no_vjp, 0, surface=exposed("any"))
LOGICAL_NOT = register("logical_not", "LogicalNotBackward0", 1, np.logical_not, _not_fwd,
                       _no_vjp, 0, surface=exposed("logical_not"))

# the ops whose result is a bool tensor with no history (surface.py makes their methods so)
COMPARISONS = frozenset(op.key for op in (EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR,
                                          LOGICAL_XOR, ALL, ANY, LOGICAL_NOT))


@defgraph(EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR, LOGICAL_XOR, ALL, ANY, LOGICAL_NOT)
def _no_graph(g, a, b, y, r):
    return None, None  # (no gradient, as torch's)
