"""Normalisation, as torch.nn's: ``F.batch_norm``, ``F.layer_norm``, ``F.group_norm`` and
``BatchNorm1d/2d/3d``, ``LayerNorm``, ``GroupNorm``.

The statistics are means of recorded ops (biased variance for normalising, as torch's), so the
gradient through them -- and its higher derivatives -- is the ops'.  Running statistics are
updated in place outside autograd (momentum, and the unbiased variance, as torch's).

>>> import tapegrad as tg
>>> bn = tg.nn.BatchNorm1d(2)
>>> y = bn(tg.tensor([[1.0, 2.0], [3.0, 6.0]]))
>>> bn.running_mean
tensor([0.2000, 0.4000])
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import dtypes
from ..grad_mode import no_grad
from ..node import rename as _named
from ..tensor import Tensor, _wrap
from . import init
from .module import Module, Parameter

__all__ = ["batch_norm", "instance_norm", "layer_norm", "group_norm", "BatchNorm1d",
           "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "LayerNorm",
           "GroupNorm"]


def _floats_only(kernel: str, input: Tensor) -> None:
    if not input.is_floating_point():
        from .pooling import _INT_NAMES

        kind = _INT_NAMES.get(input._v.dtype.name, input._v.dtype.name)
        raise NotImplementedError(f'"{kernel}" not implemented for \'{kind}\'')


def _same_dtype(input: Tensor, *others: Tensor | None) -> None:
    """torch's CPU kernels refuse parameters (or running statistics) of another dtype."""
    if any(t is not None and t.dtype != input.dtype for t in others):
        raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float"
                           if input.dtype == dtypes.float32 else
                           "mixed dtype (CPU): all inputs must share same datatype.")


def _normalized(x: Tensor, dims: tuple, eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """(x - mean) / sqrt(var + eps) over ``dims`` (biased variance), with the mean and
    variance (keepdim)."""
    mean = x.mean(dims, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(dims, keepdim=True)
    return centred * (var + eps).rsqrt(), mean, var


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) by the batch's statistics (``training``) or the running
    ones; while training, the running statistics (if given) move by ``momentum`` towards the
    batch mean and unbiased variance.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.batch_norm(tg.tensor([[1.0], [3.0]]), None, None, training=True, eps=0.0)
    tensor([[-1.],
            [ 1.]])
    """
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
    _floats_only("batch_norm", input)
    _same_dtype(input, running_mean, running_var, weight, bias)
    dims = (0,) + tuple(range(2, input.ndim))
    count = input.numel() // channels if channels else 0
    shape = (1, channels) + (1,) * (input.ndim - 2)
    if training:
        if count == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {input.shape!r}")
        out, mean, var = _normalized(input, dims, eps)
        if running_mean is not None or running_var is not None:
            with no_grad():
                if running_mean is not None:
                    running_mean.mul_(1.0 - momentum).add_(
                        mean.detach().reshape(channels) * momentum)
                if running_var is not None:
                    unbiased = var.detach().reshape(channels) * (count / (count - 1))
                    running_var.mul_(1.0 - momentum).add_(unbiased * momentum)
    else:
        if running_mean is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        if running_var is None:
            raise RuntimeError("running_var must be defined in evaluation mode")
        out = (input - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return _named(out, "NativeBatchNormBackward0")


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel of each sample over its spatial dims (``use_input_stats``) or by
    the running statistics; the running statistics (if given) move towards the batch's
    average of the per-sample mean and unbiased variance, as torch's.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.instance_norm(tg.tensor([[[1.0, 3.0]]]), eps=0.0)
    tensor([[[-1.,  1.]]])
    """
    if input.ndim < 3 and use_input_stats:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape!r}")
    batch, channels = input.shape[:2]
    _floats_only("batch_norm", input)
    _same_dtype(input, running_mean, running_var, weight, bias)
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")
    shape = (1, channels) + (1,) * (input.ndim - 2)
    if use_input_stats:
        count = input.numel() // max(batch * channels, 1)
        if count == 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input "
                             f"size {input.shape!r}")
        out, mean, var = _normalized(input, tuple(range(2, input.ndim)), eps)
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1.0 - momentum).add_(
                    mean.detach().reshape(batch, channels).mean(0) * momentum)
            if running_var is not None:
                unbiased = var.detach().reshape(batch, channels).mean(0) * (count / (count - 1))
                running_var.mul_(1.0 - momentum).add_(unbiased * momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        out = (input - running_mean.reshape(shape)) * (running_var.reshape(shape) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift elementwise.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.layer_norm(tg.tensor([[1.0, 3.0]]), (2,), eps=0.0)
    tensor([[-1.,  1.]])
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(shape)}")
    _floats_only("LayerNormKernelImpl", input)
    _same_dtype(input, weight, bias)
    out = _normalized(input, tuple(range(input.ndim - k, input.ndim)), eps)[0]
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return _named(out, "NativeLayerNormBackward0")


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each of ``num_groups`` groups of channels (with the dims after them) per
    sample, then scale and shift per channel.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.group_norm(tg.tensor([[1.0, 3.0]]), 1, eps=0.0)
    tensor([[-1.,  1.]])
    """
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    batch, channels = input.shape[:2]
    if num_groups <= 0 or channels % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != channels):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {list(t.shape)} and "
                               f"input of shape {list(input.shape)}")
    _floats_only("GroupNormKernelImpl", input)
    _same_dtype(input, weight, bias)
    grouped = input.reshape(batch, num_groups, -1)
    out = _normalized(grouped, (2,), eps)[0].reshape(*input.shape)
    shape = (1, channels) + (1,) * (input.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return _named(out, "NativeGroupNormBackward0")


def _full(shape: tuple, value: float, dtype) -> Tensor:
    np_dtype = dtypes.DEFAULT[0].np if dtype is None else dtypes.to_numpy_dtype(dtype)
    return _wrap(np.full(shape, value, dtype=np_dtype))


class _NormBase(Module):
    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(_full((num_features,), 1.0, dtype))
            if bias:
                self.bias = Parameter(_full((num_features,), 0.0, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _full((num_features,), 0.0, dtype))
            self.register_buffer("running_var", _full((num_features,), 1.0, dtype))
            self.register_buffer("num_batches_tracked", _full((), 0, dtypes.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        raise NotImplementedError

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative average
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        keep = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if keep else None,
                          self.running_var if keep else None, self.weight, self.bias,
                          use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_NormBase):
    """Batch normalisation of (N, C) or (N, C, L) over everything but the channels."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")


class BatchNorm2d(_NormBase):
    """Batch normalisation of (N, C, H, W) per channel."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim != 4:
            raise ValueError(f"expected 4D input (got {input.ndim}D input)")


class BatchNorm3d(_NormBase):
    """Batch normalisation of (N, C, D, H, W) per channel."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim != 5:
            raise ValueError(f"expected 5D input (got {input.ndim}D input)")


class _InstanceNorm(_NormBase):
    _no_batch_dim = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def _apply(self, input: Tensor) -> Tensor:
        return instance_norm(input, self.running_mean, self.running_var, self.weight,
                             self.bias, self.training or not self.track_running_stats,
                             self.momentum if self.momentum is not None else 0.0, self.eps)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        feature_dim = input.ndim - self._no_batch_dim
        if input.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match "
                                 f"num_features ({self.num_features}), but got: "
                                 f"{input.shape[feature_dim]}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. "
                          "You can silence this warning by not passing in num_features, which "
                          "is not used because affine=False", stacklevel=2)
        if input.ndim == self._no_batch_dim:
            return self._apply(input.unsqueeze(0)).squeeze(0)
        return self._apply(input)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or (C, L): each channel of each sample over L."""

    _no_batch_dim = 2

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or (C, H, W): each channel of each sample."""

    _no_batch_dim = 3

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim not in (3, 4):
            raise ValueError(f"expected 3D or 4D input (got {input.ndim}D input)")


def _affine(module: Module, shape: tuple, affine: bool, bias: bool, dtype) -> None:
    """A normalisation's weight (ones) and bias (zeros) of ``shape``, or None for each."""
    module.register_parameter("weight", Parameter(_full(shape, 1.0, dtype)) if affine else None)
    module.register_parameter("bias", Parameter(_full(shape, 0.0, dtype))
                              if affine and bias else None)


def _reset_affine(module: Module) -> None:
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class LayerNorm(Module):
    """Normalisation over the trailing ``normalized_shape`` dims, with elementwise weight (ones)
    and bias (zeros)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine(self, self.normalized_shape, elementwise_affine, bias, dtype)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalisation over groups of channels, with per-channel weight (ones) and bias (zeros)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        _affine(self, (num_channels,), affine, bias, dtype)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")

