"""In-place fills: ``fill_(c)`` and ``zero_()`` on a tensor with history.

The new value is the constant ``c`` whatever the old one was (an infinity or a NaN included),
and the old value gets a zero gradient, as torch's ``FillBackward2`` / ``ZeroBackward0`` give.
Registered last, so the opcodes of the other ops do not move.
"""

import dataclasses

import numpy as np

from .elementwise import scalar
from .graphs import constant, dtype_of
from .registry import BY_KEY, OPS, defgraph


def _fill_op(key: str, name: str):
    op = scalar(key, name, None, lambda x, c: c, lambda g, x, y, c: 0.0, 0, next_none=False,
                saves=False)
    # no NumPy forward nor Python rule: the value is written into the tensor's storage
    # (indexing.py), never computed (the scalar rules above are what the replay and the sweep
    # use)
    op = OPS[op.code] = BY_KEY[key] = dataclasses.replace(op, py=None)
    return op


FILL = _fill_op("fill", "FillBackward2")
ZERO = _fill_op("zero", "ZeroBackward0")


@defgraph(FILL, ZERO)
def _fill_graph(g, a, b, y, r):
    # torch's zeros_like(grad): a zero, with no history
    return constant(np.zeros(g.shape, dtype_of(g))), None
