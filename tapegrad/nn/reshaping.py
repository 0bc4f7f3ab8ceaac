"""Layers that move values without weights, as torch's: the padding modules
(``ZeroPad2d``, ``ConstantPad1d``, ``ReflectionPad2d``, ``ReplicationPad3d``, ``CircularPad1d``
...), ``PixelShuffle``/``PixelUnshuffle``, ``ChannelShuffle``, ``Softmax2d``, and
``UpsamplingNearest2d``/``UpsamplingBilinear2d``; plus ``F.rms_norm`` and ``nn.RMSNorm``.

All are one call of a functional form (``F.pad``, a reshape and permute, ``F.interpolate``),
so their gradients are those ops'.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter
from .upsampling import Upsample


def _padding(padding, n: int) -> tuple:
    if isinstance(padding, numbers.Integral):
        return (int(padding),) * (2 * n)
    padding = tuple(int(p) for p in padding)
    if len(padding) != 2 * n:
        raise ValueError(f"expected padding of length {2 * n}, got {len(padding)}")
    return padding


class _Pad(Module):
    mode = "constant"
    dims = 1

    def __init__(self, padding, value: float = 0.0) -> None:
        super().__init__()
        self.padding = _padding(padding, self.dims)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        if self.mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        if self.mode == "constant" and type(self).__name__.startswith("Constant"):
            return f"padding={self.padding}, value={self.value}"
        return f"{self.padding}"


def _pad_class(name: str, mode: str, dims: int) -> type:
    if name.startswith("Constant"):
        def __init__(self, padding, value: float) -> None:
            _Pad.__init__(self, padding, value)
    else:
        def __init__(self, padding) -> None:
            _Pad.__init__(self, padding)
    doc = f"``F.pad(input, padding, {mode!r})`` over the last {dims} dim(s), as torch's."
    return type(name, (_Pad,), {"mode": mode, "dims": dims, "__init__": __init__,
                                "__doc__": doc, "__module__": __name__})


ZeroPad1d, ZeroPad2d, ZeroPad3d = (_pad_class(f"ZeroPad{d}d", "constant", d) for d in (1, 2, 3))
ConstantPad1d, ConstantPad2d, ConstantPad3d = (_pad_class(f"ConstantPad{d}d", "constant", d)
                                               for d in (1, 2, 3))
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (
    _pad_class(f"ReflectionPad{d}d", "reflect", d) for d in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (
    _pad_class(f"ReplicationPad{d}d", "replicate", d) for d in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (_pad_class(f"CircularPad{d}d", "circular", d)
                                               for d in (1, 2, 3))


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) to (*, C, H r, W r), as ``torch.nn.functional.pixel_shuffle``."""
    r = int(upscale_factor)
    *batch, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c}"
                           f" is not divisible by {r * r}")
    n = len(batch)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) to (*, C r^2, H, W), as ``torch.nn.functional.pixel_unshuffle``."""
    r = int(downscale_factor)
    *batch, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by "
                           f"downscale_factor, but input.size(-2)={h} is not divisible by {r}"
                           if h % r else
                           f"pixel_unshuffle expects width to be divisible by downscale_factor,"
                           f" but input.size(-1)={w} is not divisible by {r}")
    n = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*batch, c * r * r, h // r, w // r)


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Channels (dim 1) regrouped: (N, g, C/g, ...) transposed to (N, C/g, g, ...), as
    ``torch.nn.functional.channel_shuffle``."""
    n, c, *rest = input.shape
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    x = input.reshape(n, groups, c // groups, *rest).transpose(1, 2)
    return x.reshape(n, c, *rest)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``input / sqrt(mean(input^2 over normalized_shape) + eps) * weight``, as
    ``torch.nn.functional.rms_norm`` (``eps`` defaults to the dtype's machine epsilon)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else \
        tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    if eps is None:
        eps = float(np.finfo(np.asarray(input._v).dtype).eps)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out


class RMSNorm(Module):
    """``F.rms_norm`` with a learned elementwise weight (ones at first), as ``torch.nn.RMSNorm``.
    """

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else \
            tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            from ..creation import ones

            self.weight = Parameter(ones(*shape, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def forward(self, input: Tensor) -> Tensor:
        return rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class PixelShuffle(Module):
    """``F.pixel_shuffle`` as a module."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``F.pixel_unshuffle`` as a module."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """``F.channel_shuffle`` as a module."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class Softmax2d(Module):
    """Softmax over the channels (dim -3) at each position, as ``torch.nn.Softmax2d``."""

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D "
                             "instead")
        return input.softmax(-3)


class UpsamplingNearest2d(Upsample):
    """``Upsample(mode="nearest")``, torch's older name."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(mode="bilinear", align_corners=True)``, torch's older name."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)



def _pair(v, name: str) -> tuple:
    if isinstance(v, numbers.Integral):
        return (int(v), int(v))
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints")
    return v


def _blocks(size: tuple, kernel: tuple, dilation: tuple, padding: tuple, stride: tuple):
    """The number of sliding blocks along each spatial dim (torch's formula)."""
    return tuple((size[k] + 2 * padding[k] - dilation[k] * (kernel[k] - 1) - 1) // stride[k] + 1
                 for k in range(2))


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """The sliding blocks of a (N, C, H, W) ``input`` as columns (N, C kh kw, L), as
    ``torch.nn.functional.unfold`` (im2col)."""
    if input.dim() != 4:
        raise NotImplementedError(f"Input Error: Only 4D input Tensors are supported (got "
                                  f"{input.dim()}D)")
    k, d, p, s = (_pair(kernel_size, "kernel_size"), _pair(dilation, "dilation"),
                  _pair(padding, "padding"), _pair(stride, "stride"))
    n, c, h, w = input.shape
    oh, ow = _blocks((h, w), k, d, p, s)
    if oh <= 0 or ow <= 0:
        raise RuntimeError(f"Given input with spatial size ({h}, {w}), kernel_size={k}, "
                           f"dilation={d}, padding={p}, calculated shape of the array of sliding "
                           f"blocks as ({oh}, {ow}), but its components must be at least one.")
    x = F.pad(input, (p[1], p[1], p[0], p[0])) if any(p) else input
    pieces = [x[:, :, i * d[0]:i * d[0] + (oh - 1) * s[0] + 1:s[0],
                j * d[1]:j * d[1] + (ow - 1) * s[1] + 1:s[1]]
              for i in range(k[0]) for j in range(k[1])]
    from ..structural import stack

    return stack(pieces, 2).reshape(n, c * k[0] * k[1], oh * ow)


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Columns (N, C kh kw, L) summed back into a (N, C, H, W) image, overlaps added, as
    ``torch.nn.functional.fold`` (``unfold``'s adjoint)."""
    from ..creation import zeros

    size, k = _pair(output_size, "output_size"), _pair(kernel_size, "kernel_size")
    d, p, s = _pair(dilation, "dilation"), _pair(padding, "padding"), _pair(stride, "stride")
    batched = input.dim() == 3
    x = input if batched else input.unsqueeze(0)
    n, ckk, length = x.shape
    if ckk % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={ckk} and "
                           f"kernel_size={k}")
    oh, ow = _blocks(size, k, d, p, s)
    if oh * ow != length:
        raise RuntimeError(f"Given output_size={size}, kernel_size={k}, dilation={d}, "
                           f"padding={p}, stride={s}, expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks {oh} * {ow} = "
                           f"{oh * ow}, but got input.size(2)={length}.")
    c = ckk // (k[0] * k[1])
    hp, wp = size[0] + 2 * p[0], size[1] + 2 * p[1]
    i, j, bi, bj = np.meshgrid(np.arange(k[0]), np.arange(k[1]), np.arange(oh), np.arange(ow),
                               indexing="ij")
    positions = ((bi * s[0] + i * d[0]) * wp + bj * s[1] + j * d[1]).reshape(-1)
    image = zeros(n, c, hp * wp, dtype=input.dtype)
    image = image.index_add(2, _as(positions), x.reshape(n, c, k[0] * k[1] * length))
    image = image.reshape(n, c, hp, wp)[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]
    return image if batched else image.squeeze(0)


def _as(values: np.ndarray) -> Tensor:
    from ..recording import _wrap

    return _wrap(values.astype(np.int64))


class Unfold(Module):
    """``F.unfold`` as a module."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """``F.fold`` as a module."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input: Tensor) -> Tensor:
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                    self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
