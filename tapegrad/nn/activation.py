"""More activations, as torch.nn's: ``hardswish``, ``hardsigmoid``, ``tanhshrink``, ``glu``,
``prelu``, ``hardshrink``, ``softshrink``, ``threshold`` and their modules, and the channel-wise
dropouts ``dropout1d/2d/3d`` (``Dropout1d/2d/3d``).

The piecewise ones are ``where`` over the pieces, with torch's gradient at each boundary (the
side torch's backward takes).

>>> import tapegrad as tg, tapegrad.nn.functional as F
>>> F.hardswish(tg.tensor([-4.0, 0.0, 1.0, 4.0]))
tensor([-0.0000, 0.0000, 0.6667, 4.0000])
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import creation as _creation
from ..node import rename as _named
from ..tensor import Tensor, _wrap, where
from .functional import _write_back
from .layers import Dropout, _inplace_repr, _simple
from .module import Module, Parameter

__all__ = [
    "hardswish", "hardsigmoid", "tanhshrink", "glu", "prelu", "hardshrink", "softshrink",
    "threshold", "dropout1d", "dropout2d", "dropout3d",
    "Hardswish", "Hardsigmoid", "Tanhshrink", "GLU", "PReLU", "Hardshrink", "Softshrink",
    "Threshold", "Dropout1d", "Dropout2d", "Dropout3d",
]


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6; torch's gradient: 0 up to -3, x/3 + 1/2 inside, 1 from 3 on.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.hardswish(tg.tensor([3.0]))
    tensor([3.])
    """
    if inplace:
        return _write_back(input, hardswish(input.clone()), "HardswishBackward0")
    mid = input * (input + 3.0) / 6.0
    # (input * 0: torch's -0. below -3)
    return _named(where(input <= -3.0, input * 0.0, where(input < 3.0, mid, input)),
                  "HardswishBackward0")


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6; torch's gradient: 1/6 strictly inside (-3, 3), else 0.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.hardsigmoid(tg.tensor([-4.0, 0.0, 4.0]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    if inplace:
        return _write_back(input, hardsigmoid(input.clone()), "HardsigmoidBackward0")
    return _named(where(input <= -3.0, 0.0, where(input >= 3.0, 1.0, input / 6.0 + 0.5)),
                  "HardsigmoidBackward0")


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x).

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.tanhshrink(tg.tensor([0.0]))
    tensor([0.])
    """
    return input - input.tanh()


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), a and b the two halves of ``input`` along ``dim``.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.glu(tg.tensor([2.0, 0.0]))
    tensor([1.])
    """
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    nd = input.ndim
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, "
                         f"{nd - 1}], but got {dim})")
    d = dim % nd
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size "
                           f"{input.shape[d]}")
    a, b = input.chunk(2, d)
    return _named(a * b.sigmoid(), "GluBackward0")


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x for x > 0, else weight * x, ``weight`` one value or one per channel (dim 1).

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.prelu(tg.tensor([-2.0, 3.0]), tg.tensor([0.25]))
    tensor([-0.5000,  3.0000])
    """
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    channels = input.shape[1] if input.ndim >= 2 else 1
    n = weight.numel()
    if n != 1 and n != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {n} and channel size = {channels}.")
    w = weight.reshape((n,) + (1,) * (input.ndim - 2)) if n != 1 and input.ndim > 2 else \
        weight if n != 1 else weight.reshape(())
    return _named(where(input > 0, input, w * input), "PreluKernelBackward0")


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0 (gradient 0 at +-lambd, as torch's).

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.hardshrink(tg.tensor([-1.0, 0.2, 0.7]))
    tensor([-1.0000,  0.0000,  0.7000])
    """
    return _named(where((input < -lambd) | (input > lambd), input, 0.0), "HardshrinkBackward0")


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, else 0.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.softshrink(tg.tensor([-1.0, 0.2, 0.75]))
    tensor([-0.5000,  0.0000,  0.2500])
    """
    if lambd < 0:
        name = {np.dtype(np.float32): ("3.40282e+38", "Float"),
                np.dtype(np.float64): ("1.79769e+308", "Double")}.get(input._v.dtype)
        top, kind = name if name else ("inf", str(input.dtype))
        raise RuntimeError(f"lambda must be in range [0, {top}] for input dtype {kind}, but "
                           f"found {lambd:g}")
    return _named(where(input > lambd, input - lambd, where(input < -lambd, input + lambd, 0.0)),
                  "SoftshrinkBackward0")


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else ``value``.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.threshold(tg.tensor([0.5, 2.0]), 1.0, -1.0)
    tensor([-1.,  2.])
    """
    if inplace:
        return _write_back(input, F_threshold(input.clone(), threshold, value),
                           "ThresholdBackward1")
    return _named(where(input > threshold, input, float(value)), "ThresholdBackward0")


F_threshold = threshold  # (the parameter named like the function hides it inside)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool) -> Tensor:
    """Zero whole channels (dim 1 of a batched input) with probability p, scale by 1/(1-p)."""
    if not training or p == 0.0:
        return input
    if inplace:
        return _write_back(input, _feature_dropout(input.clone(), p, training, False),
                           "MulBackward0")
    if p == 1.0:
        return input * 0.0
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    keep = _creation._rng.random(shape) >= p
    mask = keep.astype(np.float64) / (1.0 - p)
    return input * _wrap(mask.astype(input._v.dtype, copy=False))


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) with probability ``p`` while ``training``.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.dropout1d(tg.ones(1, 2, 3), training=False).shape
    tapegrad.Size([1, 2, 3])
    """
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           "input. Note that dropout1d exists to provide channel-wise dropout "
                           "on inputs with 1 spatial dimension, a channel dimension, and an "
                           "optional batch dimension (i.e. 2D or 3D inputs).")
    if not training or p == 0.0:
        return input
    if input.ndim == 2:
        if inplace:
            return _write_back(input, dropout1d(input.clone(), p, training), "MulBackward0")
        return _feature_dropout(input.unsqueeze(0), p, training, False).squeeze(0)
    return _feature_dropout(input, p, training, inplace)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (dim 1) of (N, C, H, W) with probability ``p`` while ``training``
    (a 3-D input is taken as (N, C, L), with torch's warning).

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.dropout2d(tg.ones(1, 2, 2, 2), p=0.0).shape
    tapegrad.Size([1, 2, 2, 2])
    """
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead. Note "
                      "that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 3D or 4D inputs).", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout "
                      "behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability ``p``.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.dropout3d(tg.ones(1, 2, 1, 2, 2), training=False).shape
    tapegrad.Size([1, 2, 1, 2, 2])
    """
    _check_p(p)
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead. Note "
                      "that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 4D or 5D inputs).", stacklevel=2)
    if not training or p == 0.0:
        return input
    if input.ndim == 4:
        if inplace:
            return _write_back(input, dropout3d(input.clone(), p, training), "MulBackward0")
        return _feature_dropout(input.unsqueeze(0), p, training, False).squeeze(0)
    return _feature_dropout(input, p, training, inplace)


# --------------------------------------------------------------------------- modules

Hardswish = _simple("Hardswish", hardswish, "x * relu6(x + 3) / 6.", inplace=True)
Hardsigmoid = _simple("Hardsigmoid", hardsigmoid, "relu6(x + 3) / 6.", inplace=True)
Tanhshrink = _simple("Tanhshrink", tanhshrink, "x - tanh(x).")
for _cls in (Hardswish, Hardsigmoid, Tanhshrink):
    _cls.__module__ = __name__
for _cls in (Hardswish, Hardsigmoid):  # (torch's print no ``inplace``)
    _cls.extra_repr = lambda self: ""


class GLU(Module):
    """a * sigmoid(b) over the halves of ``dim``."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class PReLU(Module):
    """x for x > 0, else a * x with a learnt ``a`` (one, or one per channel), initialised to
    ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None,
                 dtype=None) -> None:
        super().__init__()
        from .layers import _empty

        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(_empty((num_parameters,), dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        from . import init as _init

        _init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class _Shrink(Module):
    _fn = staticmethod(hardshrink)

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return self._fn(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(_Shrink):
    """x where |x| > lambd, else 0."""

    _fn = staticmethod(hardshrink)


class Softshrink(_Shrink):
    """x shrunk towards 0 by lambd (0 inside [-lambd, lambd])."""

    _fn = staticmethod(softshrink)


class Threshold(Module):
    """x where x > threshold, else ``value``."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F_threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace, f"threshold={self.threshold}, value={self.value}")


class Dropout1d(Dropout):
    """Channel-wise dropout of (N, C, L) or (C, L)."""

    def forward(self, input: Tensor) -> Tensor:
        return dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(Dropout):
    """Channel-wise dropout of (N, C, H, W)."""

    def forward(self, input: Tensor) -> Tensor:
        return dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(Dropout):
    """Channel-wise dropout of (N, C, D, H, W) or (C, D, H, W)."""

    def forward(self, input: Tensor) -> Tensor:
        return dropout3d(input, self.p, self.training, self.inplace)
