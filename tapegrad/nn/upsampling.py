"""``F.interpolate`` and ``nn.Upsample`` for the modes small models use: ``nearest``,
``nearest-exact``, ``linear``, ``bilinear``, ``trilinear`` (with torch's ``align_corners`` and
its coordinate rules for ``size`` and ``scale_factor``).

Each spatial dim is resampled in turn (the linear modes are separable): ``nearest`` gathers
one source index per output position, the linear modes two, weighted.  Gathers and
arithmetic are recorded ops, so the gradient -- the transposed resampling -- comes from them.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..recording import _as_tensor, _wrap
from ..tensor import Tensor
from .module import Module

_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}


def _sizes_and_scales(x: Tensor, size, scale_factor, spatial: int):
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    in_sizes = tuple(x.shape[2:])
    if size is not None:
        sizes = (size,) * spatial if isinstance(size, numbers.Integral) else tuple(size)
        if len(sizes) != spatial:
            raise ValueError(f"Input and output must have the same number of spatial dimensions,"
                             f" but got input with spatial dimensions of {list(in_sizes)} and "
                             f"output size of {size}. Please provide input tensor in (N, "
                             "C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                             "format.")
        return [int(s) for s in sizes], [None] * spatial
    scales = (scale_factor,) * spatial if isinstance(scale_factor, numbers.Real) else \
        tuple(scale_factor)
    if len(scales) != spatial:
        raise ValueError("Input and scale_factor must have the same number of spatial "
                         f"dimensions, but got input with spatial dimensions of "
                         f"{list(in_sizes)} and scale_factor of shape {list(scales)}. Please "
                         "provide input tensor in (N, C, d1, d2, ...,dK) format and "
                         "scale_factor in (s1, s2, ...,sK) format.")
    return [int(math.floor(n * float(s))) for n, s in zip(in_sizes, scales, strict=True)], \
        [float(s) for s in scales]


def _along(x: Tensor, dim: int, index: np.ndarray) -> Tensor:
    return x.index_select(dim, _wrap(index.astype(np.int64)))


def _nearest(x: Tensor, dim: int, out: int, scale, exact: bool) -> Tensor:
    n = x.shape[dim]
    ratio = 1.0 / scale if scale is not None else n / out
    # (torch's kernel computes the source index in float32)
    dst, r = np.arange(out, dtype=np.float32), np.float32(ratio)
    src = np.floor((dst + np.float32(0.5)) * r) if exact else np.floor(dst * r)
    return _along(x, dim, np.minimum(src, n - 1))


def _linear(x: Tensor, dim: int, out: int, scale, align_corners: bool) -> Tensor:
    n = x.shape[dim]
    dst = np.arange(out, dtype=np.float64)
    if align_corners:
        src = dst * ((n - 1) / (out - 1) if out > 1 else 0.0)
    else:
        ratio = 1.0 / scale if scale is not None else n / out
        src = np.maximum((dst + 0.5) * ratio - 0.5, 0.0)
    low = np.minimum(np.floor(src), n - 1)
    high = np.minimum(low + 1, n - 1)
    weight = (src - low).astype(np.asarray(x._v).dtype)
    shape = [1] * x.dim()
    shape[dim] = out
    w = _wrap(weight.reshape(shape))
    return _along(x, dim, low) * (1 - w) + _along(x, dim, high) * w


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """``input`` (N, C, *spatial) resampled to ``size`` or by ``scale_factor``, as
    ``torch.nn.functional.interpolate``.

    >>> import tapegrad as tg
    >>> tg.nn.functional.interpolate(tg.tensor([[[1.0, 2.0]]]), scale_factor=2)
    tensor([[[1., 1., 2., 2.]]])
    """
    x = _as_tensor(input)
    spatial = x.dim() - 2
    if spatial < 1:
        raise ValueError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                         f"{x.dim()}D) for the modes: nearest | linear | bilinear | bicubic | "
                         f"trilinear | area | nearest-exact (got {mode})")
    if mode in ("nearest", "nearest-exact") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if mode in _LINEAR and _LINEAR[mode] != spatial:
        raise NotImplementedError(f"Got {x.dim()}D input, but {mode} mode needs "
                                  f"{_LINEAR[mode] + 2}D input")
    if antialias or mode not in ("nearest", "nearest-exact", *_LINEAR):
        raise NotImplementedError(f"interpolate(mode={mode!r}, antialias={antialias}) is not "
                                  "supported")
    sizes, scales = _sizes_and_scales(x, size, scale_factor, spatial)
    if recompute_scale_factor:
        scales = [None] * spatial
    for k, (out, scale) in enumerate(zip(sizes, scales, strict=True)):
        dim = 2 + k
        if mode in _LINEAR:
            x = _linear(x, dim, out, scale, bool(align_corners))
        else:
            x = _nearest(x, dim, out, scale, mode == "nearest-exact")
    return x


class Upsample(Module):
    """``F.interpolate`` as a module, as ``torch.nn.Upsample``."""

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, numbers.Real) \
            else (tuple(float(s) for s in scale_factor) if scale_factor else None)
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = (f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None else
                f"size={self.size!r}")
        return f"{info}, mode={self.mode!r}"
