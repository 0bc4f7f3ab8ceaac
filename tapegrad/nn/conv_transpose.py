"""Transposed convolutions, as torch.nn's: ``F.conv_transpose1d/2d`` and
``ConvTranspose1d/2d``.

Each input position's contributions (one matmul: input channels to output channels times
kernel offsets) are added into the output at stride * position + dilation * offset (one
``index_add``), then ``padding`` is cropped.  Recorded ops only: gradients, higher derivatives
and ``tg.compile`` follow.

>>> import tapegrad as tg
>>> up = tg.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)
>>> up(tg.zeros(1, 4, 5, 5)).shape
tapegrad.Size([1, 2, 10, 10])
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..node import rename as _named
from ..tensor import Size, Tensor, _wrap, matmul
from .conv import _TYPE_NAMES, _ConvNd, _ntuple, _shape_str
from .module import Parameter

__all__ = ["conv_transpose1d", "conv_transpose2d", "ConvTranspose1d", "ConvTranspose2d"]


def _conv_transpose(name: str, n: int, input: Tensor, weight: Tensor, bias: Tensor | None,
                    stride, padding, output_padding, groups: int, dilation) -> Tensor:
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to "
                           f"{name}, but got input of size: {_shape_str(input.shape)}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"expected scalar type {_TYPE_NAMES.get(input.dtype)} but found "
                           f"{_TYPE_NAMES.get(weight.dtype)}")
    if bias is not None and bias.dtype != input.dtype:
        bias = bias.to(input.dtype)  # (torch's transposed convolution casts the bias)
    unbatched = input.ndim == n + 1
    if unbatched:
        input = input.unsqueeze(0)
    s, p, op, d = (_ntuple(v, n) for v in (stride, padding, output_padding, dilation))
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if any(v <= 0 for v in s):
        raise RuntimeError("non-positive stride is not supported")
    if any(v < 0 for v in p):
        raise RuntimeError("negative padding is not supported")
    if any(o >= si and o >= di for o, si, di in zip(op, s, d, strict=True)):
        lead = [(0, 1, 1)] if n == 1 else []  # (torch's 1-d is 2-d of height 1)
        table = lead + list(zip(op, s, d, strict=True))
        names = ("height", "width") if len(table) == 2 else ("depth", "height", "width")
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got " +
            " ".join(f"{kind}_{a}: {row[j]}" for j, kind in
                     enumerate(("output_padding", "stride", "dilation"))
                     for a, row in zip(names, table, strict=True)))
    batch, c_in = input.shape[:2]
    if c_in != weight.shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {_shape_str(weight.shape)}, "
                           f"expected input{_shape_str(input.shape)} to have {weight.shape[0]} "
                           f"channels, but got {c_in} channels instead")
    if c_in % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                           f"{groups} at dimension 0, but got weight of size "
                           f"[{_shape_str(weight.shape)}] instead")
    kernel = tuple(weight.shape[2:])
    c_out = weight.shape[1] * groups
    spatial = tuple(input.shape[2:])
    full = tuple((i - 1) * si + di * (k - 1) + 1 + o
                 for i, si, di, k, o in zip(spatial, s, d, kernel, op, strict=True))
    out = tuple(f - 2 * pi for f, pi in zip(full, p, strict=True))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, spatial))}). "
                           f"Calculated output size per channel: "
                           f"({' x '.join(map(str, out))}). Output size is too small")
    length, k_size = math.prod(spatial), math.prod(kernel)
    rows = input.reshape(batch, c_in, length).transpose(1, 2).reshape(batch * length, c_in)
    if groups == 1:
        z = matmul(rows, weight.reshape(c_in, c_out * k_size))
        z = z.reshape(batch, length, c_out, k_size)
    else:
        per_in, per_out = c_in // groups, c_out // groups
        grouped = rows.reshape(batch * length, groups, per_in).transpose(0, 1)
        z = matmul(grouped, weight.reshape(groups, per_in, per_out * k_size))
        z = z.reshape(groups, batch, length, per_out, k_size).permute(1, 2, 0, 3, 4)
        z = z.reshape(batch, length, c_out, k_size)
    z = z.permute(0, 2, 1, 3).reshape(batch, c_out, length * k_size)
    # where each (input position, kernel offset) lands in the uncropped output plane
    target = np.zeros((length, k_size), dtype=np.int64)
    positions = list(itertools.product(*(range(i) for i in spatial)))
    offsets = list(itertools.product(*(range(k) for k in kernel)))
    pos = np.array(positions, dtype=np.int64).reshape(length, 1, n)
    off = np.array(offsets, dtype=np.int64).reshape(1, k_size, n)
    coords = pos * np.array(s) + off * np.array(d)
    for axis in range(n):
        target = target * full[axis] + coords[..., axis]
    plane = _wrap(np.zeros((batch, c_out, math.prod(full)), dtype=input._v.dtype))
    y = plane.index_add(2, _wrap(target.reshape(-1)), z).reshape(batch, c_out, *full)
    crop = (slice(None), slice(None)) + tuple(slice(pi, f - pi) for pi, f in zip(p, full,
                                                                                strict=True))
    y = y[crop].contiguous()
    if bias is not None:
        y = y + bias.reshape(c_out, *(1,) * n)
    _named(y, "ConvolutionBackward0")
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution of (N, C_in, L) with weight (C_in, C_out/groups, k).

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.conv_transpose1d(tg.ones(1, 1, 2), tg.ones(1, 1, 2))
    tensor([[[1., 2., 1.]]])
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution of (N, C_in, H, W) with weight (C_in, C_out/groups, kH, kW).

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.conv_transpose2d(tg.ones(1, 1, 2, 2), tg.ones(1, 1, 2, 2), stride=2).shape
    tapegrad.Size([1, 1, 4, 4])
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


class _ConvTransposeNd(_ConvNd):
    _fn_t = staticmethod(conv_transpose2d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f"{self.__class__.__name__}")
        if isinstance(padding, str):
            raise ValueError(f"padding={padding!r} is not supported for "
                             f"{self.__class__.__name__}")
        if groups <= 0:  # (before _ConvNd's, whose channels are swapped)
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        # (the weight is (in, out / groups, *kernel): built by _ConvNd with the two swapped)
        super().__init__(out_channels, in_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.transposed = True
        self.output_padding = _ntuple(output_padding, self._n)
        if bias:
            # torch's bias has out_channels entries and its bound uses the weight's fan-in
            from .layers import _empty

            self.bias = Parameter(_empty((out_channels,), dtype))
            self.reset_parameters()

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        if output_size is None:
            return self.output_padding
        n = self._n
        output_size = list(output_size)[-n:]
        if len(output_size) != n:
            raise ValueError(f"ConvTranspose{n}D: for {input.ndim}D input, output_size must "
                             f"have {n} or {n + 2} elements (got {len(output_size)})")
        lows, highs = [], []
        for i in range(n):
            size = input.shape[input.ndim - n + i]
            lows.append((size - 1) * self.stride[i] - 2 * self.padding[i] +
                        self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            highs.append(lows[-1] + self.stride[i] - 1)
        if any(not lo <= o <= hi for lo, o, hi in zip(lows, output_size, highs, strict=True)):
            raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                             f"range from {lows} to {highs} (for an input of "
                             f"{Size(input.shape[input.ndim - n:])!r})")
        return tuple(o - lo for o, lo in zip(output_size, lows, strict=True))

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        return self._fn_t(input, self.weight, self.bias, self.stride, self.padding,
                          self._output_padding(input, output_size), self.groups,
                          self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution layer: weight (in_channels, out_channels/groups, k)."""

    _n = 1
    _fn_t = staticmethod(conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution layer: weight (in_channels, out_channels/groups, kH, kW)."""

    _n = 2
    _fn_t = staticmethod(conv_transpose2d)

