"""Pooling, as torch.nn's: max, average and adaptive pooling over 1, 2 or 3 spatial dims.

Fixed windows are the convolution's strided slices (``conv.windows``) reduced by ``max`` or
``sum``; adaptive average pooling is a matmul with an averaging matrix per dim; adaptive max
pooling gathers its (ragged) windows padded with -inf.  All recorded ops: gradients, higher
derivatives and ``tg.compile`` follow.  The indices ``return_indices`` gives are plain int64
tensors into each flattened input plane, as torch's.

>>> import tapegrad as tg, tapegrad.nn.functional as F
>>> F.max_pool2d(tg.arange(16.0).reshape(1, 1, 4, 4), 2)
tensor([[[[ 5.,  7.],
          [13., 15.]]]])
"""

from __future__ import annotations

import math

import numpy as np

from ..node import rename as _named
from ..tensor import Tensor, _wrap, cat, matmul, where
from .conv import _ntuple, windows
from .module import Module

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
]


def _done(values: Tensor, unbatched: bool, n: int, name: str) -> Tensor:
    """Drop the batch dim added to an unbatched input; torch's grad_fn name (its 1-d pooling
    is the 2-d one between an unsqueeze and a squeeze)."""
    if unbatched:
        values = values.squeeze(0)
    return _named(values, "SqueezeBackward1" if n == 1 else name)


def _batched(name: str, n: int, input: Tensor) -> tuple[Tensor, bool]:
    if input.ndim not in (n + 1, n + 2) or input.numel() == 0 and input.ndim == n + 1:
        if name.startswith("adaptive") and n == 2:
            sep = ":" if "max" in name else ""
            msg = f"{name}(): Expected 3D or 4D tensor, but got{sep} {list(input.shape)}"
        elif n == 1 and name != "max_pool1d":
            msg = (f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional tensor for "
                   f"argument #1 'self' (while checking arguments for {name})")
        elif n == 1:
            msg = (f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim "
                   f"batch size for input, but got:{list(input.shape)}")
        else:
            msg = f"non-empty {n + 1}D or {n + 2}D (batch mode) tensor expected for input"
        raise RuntimeError(msg)
    if input.ndim == n + 1:
        return input.unsqueeze(0), True
    return input, False


def _out_size(size: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    span = size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = span // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _geometry(name: str, n: int, input: Tensor, kernel_size, stride, padding, dilation,
              ceil_mode: bool):
    k = _ntuple(kernel_size, n)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) \
        else _ntuple(stride, n)
    p = _ntuple(padding, n)
    d = _ntuple(dilation, n)
    one = name == "max_pool1d"  # (its own checks and messages)
    if not one and any(v <= 0 for v in s):  # (before the kernel: 0 is a 0 default stride)
        raise RuntimeError("stride should not be zero")
    if any(v <= 0 for v in k):
        raise RuntimeError(f"max_pool1d() kernel_size must be greater than zero, but got {k[0]}"
                           if one else "kernel size should be greater than zero, but got " +
                           " ".join(f"k{a}: {v}" for a, v in zip("THW"[-max(n, 2):],
                                                                (1,) * (n < 2) + k,
                                                                strict=True)))
    if one and s[0] <= 0:
        raise RuntimeError(f"max_pool1d() stride must be greater than zero, but got {s[0]}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"max_pool1d() dilation must be greater than zero, but got {d[0]}"
                           if one else "dilation should be greater than zero, but got " +
                           " ".join(f"dilation{a}: {v}" for a, v in zip("THW"[-max(n, 2):],
                                                                        (1,) * (n < 2) + d,
                                                                        strict=True)))
    for pi, ki, di in zip(p, k, d, strict=True):
        if pi > ki // 2:
            raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, "
                               f"but got padding={pi} and kernel_size={ki}" if one else
                               f"pad should be at most half of effective kernel size, but got "
                               f"pad={pi}, kernel_size={ki} and dilation={di}")
    spatial = tuple(input.shape[-n:])
    out = tuple(_out_size(*args, ceil_mode) for args in zip(spatial, k, s, p, d, strict=True))
    if one and out[0] < 1:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out[0]}")
    if any(o < 1 for o in out):
        lead = tuple(input.shape[-n - 1:-n]) + (1,) * (n == 1)
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, lead + spatial))}). "
                           f"Calculated output size: ({'x'.join(map(str, lead + out))}). "
                           "Output size is too small")
    # ceil_mode's last window may run past the right padding: pad that far (never counted)
    pads = [(pi, max(pi, (o - 1) * si + di * (ki - 1) + 1 - size - pi))
            for pi, o, si, di, ki, size in zip(p, out, s, d, k, spatial, strict=True)]
    return k, s, p, d, out, pads, spatial


def _pick_max(cols: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """The max along ``dim`` and a bool mask of the element it is taken from -- torch's pooling
    choice: the first max, or, in a window holding NaN, the last NaN.  Built from comparisons and
    ``where`` rather than ``max(dim)``, whose choice would be a guard under ``tg.compile``: this
    way a compiled tape replays any input without recording again."""
    d = cols.detach()
    top = d.amax(dim, keepdim=True)
    nan = d != d
    hit = (d == top) | nan
    seen = hit.to(d.dtype).cumsum(dim)
    first = hit & (seen == 1)
    last_nan = nan & (seen == seen.amax(dim, keepdim=True))
    pick = where(top != top, last_nan, first)
    zero = 0.0 if d.is_floating_point() else 0
    return where(pick, cols, zero).sum(dim), pick


def _max_pool(name: str, n: int, input: Tensor, kernel_size, stride, padding, dilation,
              ceil_mode: bool, return_indices: bool):
    x, unbatched = _batched(name, n, input)
    if n == 1:
        _floats_only("max_pool1d_impl", x)
    k, s, p, d, out, pads, spatial = _geometry(name, n, x, kernel_size, stride, padding, dilation,
                                               ceil_mode)
    low = -math.inf if x.is_floating_point() else int(np.iinfo(x._v.dtype).min)
    cols = windows(x, k, s, pads, d, out, value=low)  # (N, C, K, *out)
    values, pick = _pick_max(cols, 2)
    values = _done(values, unbatched, n, f"MaxPool{n}DWithIndicesBackward0")
    if not return_indices:
        return values
    # each (kernel offset, output position)'s flat index into the input plane
    coords = np.meshgrid(*[np.arange(kk) for kk in k], *[np.arange(o) for o in out],
                         indexing="ij")
    flat = np.zeros(coords[0].shape, dtype=np.int64)
    for i in range(n):
        pos = coords[n + i] * s[i] - p[i] + coords[i] * d[i]
        flat = flat * spatial[i] + pos
    flat = flat.reshape(math.prod(k), *out)
    pick = np.argmax(pick.numpy(), axis=2)
    idx = np.take_along_axis(np.broadcast_to(flat, pick.shape[:2] + flat.shape),
                             pick[:, :, None], axis=2)[:, :, 0]
    indices = _wrap(np.ascontiguousarray(idx[0] if unbatched else idx))
    return values, indices


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over sliding windows of the last dim; with ``return_indices`` also the argmax.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.max_pool1d(tg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
    tensor([[[3., 2.]]])
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over sliding windows of the last two dims (padding counts as -inf); with
    ``return_indices`` also each max's index into the flattened input plane.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.max_pool2d(tg.tensor([[[[1.0, 2.0], [4.0, 3.0]]]]), 2, return_indices=True)[1]
    tensor([[[[2]]]])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """Max over sliding windows of the last three dims.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.max_pool3d(tg.arange(8.0).reshape(1, 1, 2, 2, 2), 2)
    tensor([[[[[7.]]]]])
    """
    return _max_pool("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def _avg_pool(name: str, n: int, input: Tensor, kernel_size, stride, padding, ceil_mode: bool,
              count_include_pad: bool, divisor_override) -> Tensor:
    x, unbatched = _batched(name, n, input)
    k, s, p, d, out, pads, spatial = _geometry(name, n, x, kernel_size, stride, padding, 1,
                                               ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    total = windows(x, k, s, pads, d, out).sum(2)
    if divisor_override is not None:
        divisor = np.full(out, float(divisor_override))
    else:
        # torch's divisor: the window clipped to the padded input (count_include_pad) or to
        # the input itself -- a ceil_mode window past the padding counts only what it covers
        divisor = np.ones(out)
        for i in range(n):
            start = np.arange(out[i]) * s[i] - p[i]
            end = np.minimum(start + k[i], spatial[i] + p[i])
            size = end - start if count_include_pad else \
                np.minimum(end, spatial[i]) - np.maximum(start, 0)
            divisor = divisor * size.reshape((-1,) + (1,) * (n - 1 - i))
    if x.is_floating_point():
        y = total / _wrap(divisor.astype(x._v.dtype))
    else:  # (torch's integer average: the quotient truncated, in the input's dtype)
        y = (total.double() / _wrap(divisor)).trunc().to(x.dtype)
    return _done(y, unbatched, n, f"AvgPool{n}DBackward0")


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows of the last dim.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.avg_pool1d(tg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
    tensor([[[2., 1.]]])
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows of the last two dims, with torch's divisor rules
    (``count_include_pad``, ``ceil_mode``, ``divisor_override``).

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.avg_pool2d(tg.ones(1, 1, 2, 2), 2, padding=1, count_include_pad=False)
    tensor([[[[1., 1.],
              [1., 1.]]]])
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows of the last three dims.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.avg_pool3d(tg.ones(1, 1, 2, 2, 2), 2)
    tensor([[[[[1.]]]]])
    """
    return _avg_pool("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _adaptive_bounds(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)  # floor, ceil


_INT_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
              "uint8": "Byte", "bool": "Bool"}


def _floats_only(name: str, x: Tensor) -> None:
    if not x.is_floating_point():
        kind = _INT_NAMES.get(x._v.dtype.name, x._v.dtype.name)
        raise NotImplementedError(f'"{name}" not implemented for \'{kind}\'')


def _adaptive_sizes(n: int, x: Tensor, output_size) -> tuple:
    sizes = _ntuple(output_size, n)
    if len(sizes) != n:
        raise RuntimeError(f"adaptive_avg_pool{n}d: output_size must be {n}")
    spatial = tuple(x.shape[-n:])
    return tuple(sp if o is None else int(o) for o, sp in zip(sizes, spatial, strict=True))


def _adaptive_avg(name: str, n: int, input: Tensor, output_size) -> Tensor:
    x, unbatched = _batched(name, n, input)
    _floats_only(name if n == 2 else name.replace("1d", "2d"), x)
    out = _adaptive_sizes(n, x, output_size)
    if any(o < 0 for o in out):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal "
                           "to 0 but received {" + ", ".join(map(str, out)) + "}")
    y = x
    for i in range(n):  # one averaging matrix per dim, last dim first
        axis = x.ndim - 1 - i
        size, o = x.shape[axis], out[n - 1 - i]
        lo, hi = _adaptive_bounds(size, o)
        cols = np.arange(size)
        avg = ((cols >= lo[:, None]) & (cols < hi[:, None])) / (hi - lo)[:, None]
        a = _wrap(avg.T.astype(x._v.dtype))
        if i == 0:
            y = matmul(y, a)
        else:
            y = matmul(y.movedim(axis, -1), a).movedim(-1, axis)
    return _done(y.contiguous(), unbatched, n, "MeanBackward1" if all(o == 1 for o in out) else
                 f"AdaptiveAvgPool{n}DBackward0")


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Mean over ``output_size`` windows that tile the last dim (torch's window bounds).

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.adaptive_avg_pool1d(tg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
    tensor([[[2., 1.]]])
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Mean over windows tiling the last two dims into ``output_size`` (int, pair, or None
    for an unchanged dim); any sizes, not only divisors.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.adaptive_avg_pool2d(tg.ones(1, 1, 5, 7), (2, 3)).shape
    tapegrad.Size([1, 1, 2, 3])
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


def _adaptive_max(name: str, n: int, input: Tensor, output_size, return_indices: bool):
    x, unbatched = _batched(name, n, input)
    _floats_only(name if n == 2 else name.replace("1d", "2d"), x)
    out = _adaptive_sizes(n, x, output_size)
    spatial = tuple(x.shape[-n:])
    lead = tuple(x.shape[:2])
    if any(o < 0 for o in out):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(out)}: "
                           f"{list(lead + out)}")
    if 0 in out:  # (no windows: an empty result, still connected to the input)
        values = x.reshape(*lead, -1)[:, :, :0].reshape(*lead, *out)
        indices = _wrap(np.zeros(lead + out, dtype=np.int64))
        values, indices = (values.squeeze(0), indices[0]) if unbatched else (values, indices)
        return (values, indices) if return_indices else values
    # per dim: each window's positions, padded to the longest window with -1
    per_dim = []
    for size, o in zip(spatial, out, strict=True):
        lo, hi = _adaptive_bounds(size, o)
        width = int((hi - lo).max()) if o else 0
        pos = lo[:, None] + np.arange(width)
        per_dim.append(np.where(pos < hi[:, None], pos, -1))
    table = np.zeros((1,) * (2 * n), dtype=np.int64)
    valid = np.ones((1,) * (2 * n), dtype=bool)
    for i, pos in enumerate(per_dim):
        shape = [1] * (2 * n)
        shape[i], shape[n + i] = pos.shape
        pos = pos.reshape(shape)
        table = table * spatial[i] + np.maximum(pos, 0)
        valid = valid & (pos >= 0)
    plane = math.prod(spatial)
    table = np.where(valid, table, plane).reshape(math.prod(out), -1)  # plane: the -inf slot
    flat = x.reshape(*lead, plane)
    filler = _wrap(np.full(lead + (1,), -math.inf, dtype=x._v.dtype))
    gathered = cat([flat, filler], 2)[:, :, table]  # (N, C, L, K)
    values, pick = _pick_max(gathered, 3)
    values = _done(values.reshape(*lead, *out), unbatched, n, f"AdaptiveMaxPool{n}DBackward0")
    if not return_indices:
        return values
    idx = table[np.arange(table.shape[0]), np.argmax(pick.numpy(), axis=3)].reshape(*lead, *out)
    indices = _wrap(np.ascontiguousarray(idx[0] if unbatched else idx))
    return values, indices


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max over ``output_size`` windows tiling the last dim.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.adaptive_max_pool1d(tg.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2)
    tensor([[[3., 2.]]])
    """
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max over windows tiling the last two dims into ``output_size``.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.adaptive_max_pool2d(tg.arange(16.0).reshape(1, 1, 4, 4), 1)
    tensor([[[[15.]]]])
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


# --------------------------------------------------------------------------- modules


class _MaxPoolNd(Module):
    _fn = staticmethod(max_pool2d)

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor):
        return self._fn(input, self.kernel_size, self.stride, self.padding, self.dilation,
                        ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max pooling over the last dim."""

    _fn = staticmethod(max_pool1d)


class MaxPool2d(_MaxPoolNd):
    """Max pooling over the last two dims."""

    _fn = staticmethod(max_pool2d)


class MaxPool3d(_MaxPoolNd):
    """Max pooling over the last three dims."""

    _fn = staticmethod(max_pool3d)


class AvgPool1d(Module):
    """Average pooling over the last dim."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = _ntuple(kernel_size, 1)
        self.stride = _ntuple(stride if stride is not None else kernel_size, 1)
        self.padding = _ntuple(padding, 1)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(Module):
    """Average pooling over the last two dims."""

    _fn = staticmethod(avg_pool2d)

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                        self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool3d(AvgPool2d):
    """Average pooling over the last three dims."""

    _fn = staticmethod(avg_pool3d)


class _AdaptiveAvg(Module):
    _fn = staticmethod(adaptive_avg_pool2d)

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvg):
    """Adaptive average pooling over the last dim."""

    _fn = staticmethod(adaptive_avg_pool1d)


class AdaptiveAvgPool2d(_AdaptiveAvg):
    """Adaptive average pooling over the last two dims."""

    _fn = staticmethod(adaptive_avg_pool2d)


class _AdaptiveMax(Module):
    _fn = staticmethod(adaptive_max_pool2d)

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor):
        return self._fn(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMax):
    """Adaptive max pooling over the last dim."""

    _fn = staticmethod(adaptive_max_pool1d)


class AdaptiveMaxPool2d(_AdaptiveMax):
    """Adaptive max pooling over the last two dims."""

    _fn = staticmethod(adaptive_max_pool2d)
