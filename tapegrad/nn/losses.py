"""The losses of ``tapegrad.nn.functional`` (regression and classification), with torch's names,
signatures, ``reduction=`` modes, legacy ``size_average``/``reduce`` arguments, error messages and
``grad_fn`` names.  ``tapegrad.nn.functional`` imports them: use them from there.

>>> import tapegrad as tg
>>> import tapegrad.nn.functional as F
>>> F.mse_loss(tg.tensor([1.0, 2.0]), tg.tensor([1.0, 4.0]))
tensor(2.)
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from ..node import rename as _named
from ..tensor import Tensor, _wrap, where
from .functional import (
    _check_reduction,
    _legacy_reduction,
    _reduce,
    _same_size,
    _t,
    logsigmoid,
)

# --------------------------------------------------------------------------- regression losses


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """(x - y)^2, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _same_size("mse_loss", input, target)
    d = input - target
    loss = d * d
    if weight is not None:
        return _weighted(loss, weight, input, reduction)
    return _named(_reduce(loss, reduction), "MseLossBackward0")


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """|x - y|, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _same_size("l1_loss", input, target)
    loss = (input - target).abs()
    if weight is not None:
        return _weighted(loss, weight, input, reduction)
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (d = x - y), reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _same_size("smooth_l1_loss", input, target)
    d = (input - target).abs()
    if beta == 0.0:
        return _reduce(d, reduction)
    loss = where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _named(_reduce(loss, reduction), "SmoothL1LossBackward0")


def _check_weight(weight: Tensor | None, input: Tensor) -> None:
    if weight is not None and tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")


def _weighted(loss: Tensor, weight: Tensor, input: Tensor, reduction: str) -> Tensor:
    """mse_loss's and l1_loss's ``weight``: as torch's, the mean is the weighted sum over the
    sum of the weights."""
    _check_weight(weight, input)
    loss = loss * weight
    if reduction == "mean":
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2), reduced."""
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _same_size("huber_loss", input, target)
    _check_weight(weight, input)
    d = (input - target).abs()
    loss = where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:  # (torch: the mean of the weighted losses, not divided by weight)
        return _reduce(loss * weight, reduction)
    return _named(_reduce(loss, reduction), "HuberLossBackward0")


# --------------------------------------------------------------------------- classification


def _class_last(input: Tensor) -> Tensor:
    """(N, C, d1, ...) -> (N * d1 * ..., C)."""
    if input.ndim <= 2:
        return input
    perm = (0, *range(2, input.ndim), 1)
    return input.permute(*perm).reshape(-1, input.shape[1])


def _check_target(input: Tensor, target: Tensor) -> None:
    if target._v.dtype.kind not in "iu":
        name = {"float64": "Double", "float32": "Float"}.get(target._v.dtype.name,
                                                          target._v.dtype.name)
        raise RuntimeError(f"expected scalar type Long but found {name}")
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        return
    if input.ndim == 0:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    if target.ndim != input.ndim - 1 or target.shape[0] != input.shape[0] or \
            tuple(target.shape[1:]) != tuple(input.shape[2:]):
        if target.ndim >= 1 and target.shape[0] != input.shape[0]:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                             f"batch_size ({target.shape[0]}).")
        raise RuntimeError(f"Expected target size {(input.shape[0], *input.shape[2:])}, "
                           f"got {tuple(target.shape)}")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """-weight[t] * input[n, t] (input holds log-probabilities along dim 1), reduced; the mean
    divides by the sum of the weights of the targets not ignored."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_target(input, target)
    n_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    if weight is not None and tuple(weight.shape) != (n_classes,):
        raise RuntimeError(f"weight tensor should be defined either for all {n_classes} "
                           f"classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    out_shape = tuple(target.shape)
    flat = _class_last(input) if input.ndim != 1 else input.reshape(1, n_classes)
    t = target._v.reshape(-1).astype(np.int64)
    keep = t != ignore_index
    bad = keep & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    safe = np.where(keep, t, 0)
    picked = flat[np.arange(len(t)), safe]
    w = np.ones(len(t)) if weight is None else weight._v[safe].astype(np.float64)
    w = np.where(keep, w, 0.0)
    wt = _wrap(w.astype(input._v.dtype, copy=False))
    losses = -(picked * wt)
    # torch's node: NllLoss2d for (N, C, d1, ...) -- whose 'none' result is reshaped from 4-D
    # but for a 4-D input
    name = "NllLossBackward0" if input.ndim <= 2 else "NllLoss2DBackward0"
    if reduction == "none":
        out = losses.reshape(*out_shape)
        return _named(out, name) if input.ndim <= 2 or input.ndim == 4 else out
    if reduction == "sum":
        return _named(losses.sum(), name)
    return _named(losses.sum() / wt.sum(), name)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax along the class dim (1, or 0 for an unbatched input) then the negative
    log-likelihood of class indices, or the cross-entropy with class probabilities (a float
    target of the input's shape); ``weight``, ``ignore_index`` and ``label_smoothing`` as
    torch's."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    class_dim = 0 if input.ndim == 1 else 1
    logp = input.log_softmax(class_dim)
    n_classes = input.shape[class_dim]
    wshape = (n_classes,) + (1,) * (input.ndim - class_dim - 1)
    if target._v.dtype.kind == "f":  # class probabilities
        if target.shape != input.shape:
            raise RuntimeError(f"Expected target size {tuple(input.shape)}, got "
                               f"{tuple(target.shape)}")
        if label_smoothing > 0:
            target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
        prod = logp * target
        if weight is not None:
            prod = prod * weight.reshape(*wshape)
        losses = -prod.sum(class_dim)
        if reduction == "mean":
            return _named(losses.sum() / (input._v.size / n_classes) if input._v.size else
                          losses.sum() / 0.0, "DivBackward1")
        return _named(_reduce(losses, reduction), "NegBackward0")
    nll = nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if label_smoothing == 0.0:
        return nll
    keep = target._v != ignore_index
    keep_t = _wrap(keep.astype(input._v.dtype))
    if weight is not None:
        smooth = -(logp * weight.reshape(*wshape)).sum(class_dim)
    else:
        smooth = -logp.sum(class_dim)
    smooth = smooth * keep_t
    if reduction == "mean":
        if weight is not None:
            t = target._v.reshape(-1)[keep.reshape(-1)]
            denom = weight[_wrap(t.astype(np.int64))].sum() if t.size else weight.sum() * 0.0
            smooth = smooth.sum() / denom
        else:
            smooth = smooth.sum() / float(keep.sum())
    elif reduction == "sum":
        smooth = smooth.sum()
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / n_classes)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """-(y log x + (1 - y) log(1 - x)), each log clamped at -100 as torch's, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the "
                         f"input size ({input.shape}) is deprecated. Please ensure they have "
                         "the same size.")
    v = input._v
    if np.any((v < 0) | (v > 1)):
        raise RuntimeError("all elements of input should be between 0 and 1")
    # (x = 0 or 1 exactly: the clamped log passes no gradient, and its NaN-free input keeps a
    # 0 * inf out of the backward; torch's own backward gives (x - y) / 1e-12 there instead)
    one_m = 1.0 - input
    log_x = where(input > 0, where(input > 0, input, 1.0).log(), -100.0).clamp(min=-100.0)
    log_1mx = where(one_m > 0, where(one_m > 0, one_m, 1.0).log(), -100.0).clamp(min=-100.0)
    loss = -(target * log_x + (1.0 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _named(_reduce(loss, reduction), "BinaryCrossEntropyBackward0")


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """(1 - y) x - w_pos(y) log sigmoid(x) with w_pos(y) = 1 + (pos_weight - 1) y: never
    overflows, whatever the logits."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    log_sig = logsigmoid(input)
    if pos_weight is not None:
        log_sig = log_sig * ((_t(pos_weight) - 1.0) * target + 1.0)
    loss = (1.0 - target) * input - log_sig
    if weight is not None:
        loss = loss * weight
    return _named(_reduce(loss, reduction), "BinaryCrossEntropyWithLogitsBackward0")


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """target * (log target - input) (input holds log-probabilities), reduced; ``batchmean``
    divides the sum by the batch size."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        # xlogy(y, y): 0 at y = 0; its gradient there is NaN, as torch's
        xlogy = where(target > 0, target * target.log(), 0.0)
        loss = xlogy - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """0.5 (log var + (x - y)^2 / var) (+ 0.5 log 2 pi if ``full``), with var clamped at
    ``eps`` outside autograd as torch does, reduced."""
    if not isinstance(var, Tensor):
        var = _wrap(np.full(input.shape, float(var)))
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    if np.any(var._v < 0):
        raise ValueError("var has negative entry/entries")
    var = var + (var.clamp(min=eps) - var).detach()
    d = input - target
    loss = (var.log() + d * d / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """exp(x) - y x (``log_input``) or x - y log(x + eps), plus Stirling's term for y > 1 if
    ``full``, reduced."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        big = target > 1
        ts = where(big, target, 2.0)
        stirling = ts * ts.log() - ts + (ts * (2 * math.pi)).log() * 0.5
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)
