"""Convolutions, as torch.nn's: ``F.conv1d/2d/3d`` and ``Conv1d/2d/3d``.

A convolution is an im2col by composition: the (padded) input is sliced once per kernel offset
(a strided slice each, so the gradient is a strided add, no scatter), the slices are stacked and
one matmul with the weight does the rest.  Every step is a recorded op, so the gradient, its
higher derivatives and ``tg.compile`` come from the ops.

>>> import tapegrad as tg
>>> conv = tg.nn.Conv2d(1, 2, 3, padding=1)
>>> conv(tg.zeros(4, 1, 5, 5)).shape
tapegrad.Size([4, 2, 5, 5])
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from .. import dtypes
from ..node import rename as _named
from ..tensor import Tensor, matmul, stack
from . import init
from .functional import pad as _pad
from .module import Module, Parameter

__all__ = ["conv1d", "conv2d", "conv3d", "Conv1d", "Conv2d", "Conv3d"]


def _ntuple(value: Any, n: int) -> tuple:
    if isinstance(value, (tuple, list)):
        if len(value) == 1 and n > 1:
            return tuple(value) * n
        return tuple(value)
    return (value,) * n


def _shape_str(shape) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def windows(x: Tensor, kernel: tuple, stride: tuple, pads: list, dilation: tuple,
            out: tuple, value: float = 0.0, channels_last: bool = False) -> Tensor:
    """(N, C, *spatial) -> (N, C, prod(kernel), *out): each kernel offset's strided slice of
    ``x`` padded by ``pads`` ((left, right) per spatial dim) with ``value``.  With
    ``channels_last``: (N, *out, C, prod(kernel)), the rows of one 2-D matmul."""
    n = len(kernel)
    flat = [w for pair in reversed(pads) for w in pair]
    if any(flat):
        x = _pad(x, tuple(flat), value=value)
    parts = []
    for offs in itertools.product(*(range(k) for k in kernel)):
        index = [slice(None), slice(None)]
        for d in range(n):
            start = offs[d] * dilation[d]
            index.append(slice(start, start + stride[d] * (out[d] - 1) + 1, stride[d]))
        part = x[tuple(index)]
        parts.append(part.permute(0, *range(2, n + 2), 1) if channels_last else part)
    axis = n + 2 if channels_last else 2
    return parts[0].unsqueeze(axis) if len(parts) == 1 else stack(parts, axis)


_TYPE_NAMES = {dtypes.float16: "Half", dtypes.float32: "Float", dtypes.float64: "Double"}
_C_NAMES = {dtypes.float16: "c10::Half", dtypes.float32: "float", dtypes.float64: "double"}


def _conv(name: str, n: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride,
          padding, dilation, groups: int) -> Tensor:
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to "
                           f"{name}, but got input of size: {_shape_str(input.shape)}")
    if weight.ndim != n + 2:
        raise RuntimeError("weight should have at least three dimensions" if weight.ndim < 3
                           else f"expected stride to be a single integer value or a list of "
                           f"{weight.ndim - 2} values to match the convolution dimensions, but "
                           f"got stride={list(_ntuple(stride, n))}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"expected scalar type {_TYPE_NAMES.get(input.dtype)} but found "
                           f"{_TYPE_NAMES.get(weight.dtype)}")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({_C_NAMES.get(input.dtype)}) and bias type "
                           f"({_C_NAMES.get(bias.dtype)}) should be the same")
    unbatched = input.ndim == n + 1
    if unbatched:
        input = input.unsqueeze(0)
    stride = _ntuple(stride, n)
    dilation = _ntuple(dilation, n)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * n
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = []
            for k, d in zip(kernel, dilation, strict=True):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))  # (the odd one on the right)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        padding = _ntuple(padding, n)
        if any(p < 0 for p in padding):
            raise RuntimeError("negative padding is not supported")
        pads = [(p, p) for p in padding]
    batch, channels = input.shape[:2]
    out_channels = weight.shape[0]
    if out_channels % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                           f"{groups} at dimension 0, but got weight of size "
                           f"[{_shape_str(weight.shape)}] instead")  # (torch's brackets)
    if channels != weight.shape[1] * groups:
        shown = _shape_str(input.shape) if not unbatched else _shape_str(input.shape[1:])
        raise RuntimeError(f"Given groups={groups}, weight of size {_shape_str(weight.shape)}, "
                           f"expected input{shown} to have {weight.shape[1] * groups} "
                           f"channels, but got {channels} channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(f"Given weight of size {_shape_str(weight.shape)}, expected bias to "
                           f"be 1-dimensional with {out_channels} elements, but got bias of "
                           f"size {_shape_str(bias.shape)} instead")
    spatial = tuple(input.shape[2:])
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(spatial, pads, strict=True))
    reach = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    if any(p < r for p, r in zip(padded, reach, strict=True)):
        raise RuntimeError("Calculated padded input size per channel: ("
                           + " x ".join(map(str, padded)) + "). Kernel size: ("
                           + " x ".join(map(str, reach)) + "). Kernel size can't be greater "
                           "than actual input size")
    out = tuple((p - r) // s + 1 for p, r, s in zip(padded, reach, stride, strict=True))
    # one 2-D product (N * L, C * K) @ (C * K, O): BLAS, not a batch of small products
    cols = windows(input, kernel, stride, pads, dilation, out, channels_last=True)
    k_size = math.prod(kernel)
    rows = batch * math.prod(out)
    if groups == 1:
        y = matmul(cols.reshape(rows, channels * k_size),
                   weight.reshape(out_channels, channels * k_size).t())
    else:
        per = channels // groups
        grouped = cols.reshape(rows, groups, per * k_size).transpose(0, 1).contiguous()
        w = weight.reshape(groups, out_channels // groups, per * k_size).transpose(1, 2)
        y = matmul(grouped, w).transpose(0, 1)  # (rows, groups, O / groups)
    # (contiguous, as torch's: ``view`` after a convolution is common)
    y = y.reshape(batch, *out, out_channels).permute(0, n + 1, *range(1, n + 1)).contiguous()
    if bias is not None:
        y = y + bias.reshape(out_channels, *(1,) * n)
    _named(y, "ConvolutionBackward0")
    return y.squeeze(0) if unbatched else y


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) of (N, C_in, L) with weight (C_out, C_in/groups, k).

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.conv1d(tg.ones(1, 1, 4), tg.ones(1, 1, 2))
    tensor([[[2., 2., 2.]]])
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) of (N, C_in, H, W) with weight
    (C_out, C_in/groups, kH, kW); ``padding`` an int, a pair, ``'valid'`` or ``'same'``.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.conv2d(tg.ones(1, 1, 3, 3), tg.ones(1, 1, 2, 2)).shape
    tapegrad.Size([1, 1, 2, 2])
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-D convolution (cross-correlation) of (N, C_in, D, H, W).

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.conv3d(tg.ones(1, 1, 2, 2, 2), tg.ones(1, 1, 2, 2, 2))
    tensor([[[[[8.]]]]])
    """
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _n = 2
    _fn = staticmethod(conv2d)

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        super().__init__()
        n = self._n
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        valid = {"same", "valid"}
        if isinstance(padding, str):
            if padding not in valid:
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{valid}")
            if padding == "same" and any(s != 1 for s in _ntuple(stride, n)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in _PADDING_MODES:
            valid_modes = {"zeros", "reflect", "replicate", "circular"}  # (torch prints a set)
            raise ValueError(f"padding_mode must be one of {valid_modes}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, n)
        self.stride = _ntuple(stride, n)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, n)
        self.dilation = _ntuple(dilation, n)
        self.transposed = False
        self.output_padding = (0,) * n
        self.groups = groups
        self.padding_mode = padding_mode
        if isinstance(self.padding, str):
            twice = [0, 0] * n
            if padding == "same":
                for d, k, i in zip(self.dilation, self.kernel_size, range(n - 1, -1, -1),
                                   strict=True):
                    total = d * (k - 1)
                    left = total // 2
                    twice[2 * i] = left
                    twice[2 * i + 1] = total - left
        else:
            twice = tuple(p for p in reversed(self.padding) for _ in range(2))
        self._reversed_padding_repeated_twice = twice  # (torch's: a list for a string padding)
        from .layers import _empty

        self.weight = Parameter(_empty((out_channels, in_channels // groups,
                                        *self.kernel_size), dtype))
        if bias:
            self.bias = Parameter(_empty((out_channels,), dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch's: kaiming_uniform_(a=sqrt(5)) -- uniform in +-1/sqrt(fan_in) -- for both
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = init._fans(self.weight)[0]
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        if self.padding_mode != "zeros":
            return self._fn(_pad(input, tuple(self._reversed_padding_repeated_twice),
                                 mode=self.padding_mode), weight, bias, self.stride, 0,
                            self.dilation, self.groups)
        return self._fn(input, weight, bias, self.stride, self.padding, self.dilation,
                        self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        n = self._n
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution layer: weight (out_channels, in_channels/groups, k), torch's
    initialisation (uniform in +-1/sqrt(fan_in))."""

    _n = 1
    _fn = staticmethod(conv1d)


class Conv2d(_ConvNd):
    """2-D convolution layer: weight (out_channels, in_channels/groups, kH, kW), torch's
    initialisation (uniform in +-1/sqrt(fan_in))."""

    _n = 2
    _fn = staticmethod(conv2d)


class Conv3d(_ConvNd):
    """3-D convolution layer: weight (out_channels, in_channels/groups, kD, kH, kW)."""

    _n = 3
    _fn = staticmethod(conv3d)
