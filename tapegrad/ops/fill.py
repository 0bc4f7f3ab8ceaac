"""In-place fills: ``fill_(c)`` and ``zero_()`` on a tensor with history.

The new value is the constant ``c`` whatever the old one was (an infinity or a NaN included),
and the old value gets a zero gradient, as torch's ``FillBackward2`` / ``ZeroBackward0`` give.
Registered last, so the opcodes of the other ops do not move.
"""

import numpy as np

from .elementwise import scalar


def _fill(x, c):
    return np.full_like(x, c)


FILL = scalar("fill", "FillBackward2", _fill, lambda x, c: c, lambda g, x, y, c: 0.0, 0,
              next_none=False, saves=False)
ZERO = scalar("zero", "ZeroBackward0", _fill, lambda x, c: c, lambda g, x, y, c: 0.0, 0,
              next_none=False, saves=False)
