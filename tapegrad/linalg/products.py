"""tg.linalg's products: cross (and torch.cross)."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .norms import _dims_unsorted


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of the 3-vectors along ``dim`` of ``input`` and ``other``
    (broadcasting the rest), as torch.linalg.cross."""
    return _cross(input, other, dim, "linalg.cross")


def _cross(a: Tensor, b: Tensor, dim: int, fname: str) -> Tensor:
    from .. import node
    from ..structural import stack

    for name, t in (("input", a), ("other", b)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linalg_cross(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    ndim = max(a.ndim, b.ndim)
    if a.ndim != b.ndim:
        raise RuntimeError(f"{fname}: inputs must have the same number of dimensions.")
    _dims_unsorted(ndim, (dim,))
    if a.shape[dim] != 3 or b.shape[dim] != 3:
        raise RuntimeError(f"{fname}: inputs dimension {dim} must have length 3. Got "
                           f"{a.shape[dim]} and {b.shape[dim]}")
    d = dim % ndim
    lead = (slice(None),) * d
    at = [a[lead + (k,)] for k in range(3)]
    bt = [b[lead + (k,)] for k in range(3)]
    out = stack([at[1] * bt[2] - at[2] * bt[1], at[2] * bt[0] - at[0] * bt[2],
                 at[0] * bt[1] - at[1] * bt[0]], dim=d)
    return node.rename(out, "LinalgCrossBackward0")


def _cross_top(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """torch.cross: with ``dim`` None (deprecated), the first dim of size 3."""
    if dim is None:
        import warnings

        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\n"
                      "Please either pass the dim explicitly or simply use torch.linalg.cross.\n"
                      "The default value of dim will change to agree with that of linalg.cross "
                      "in a future release.", UserWarning, stacklevel=2)
        shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
        dim = next((i for i, n in enumerate(shape) if n == 3), -1)
    return _cross(input, other, dim, "linalg.cross")
