"""Hand-written numba gradients: the "no autodiff overhead at all" reference.

A module of its own so that numba is imported only when the ``numba`` framework runs, and so
that ``cache=True`` has a stable file to key its on-disk cache on.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def rosenbrock_grad(x: np.ndarray) -> np.ndarray:
    """The Rosenbrock gradient in one fused loop (see ``rosenbrock.rosenbrock_grad``)."""
    n = x.shape[0]
    g = np.zeros(n)
    for i in range(n - 1):
        d = x[i + 1] - x[i] * x[i]
        g[i] += -400.0 * d * x[i] - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * d
    return g
