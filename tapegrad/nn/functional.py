"""``tapegrad.nn.functional``: torch.nn.functional's activations and losses (these in losses.py,
imported here), with torch's names, signatures, defaults, ``reduction=`` modes and error messages.

Each function is a composition of tapegrad's differentiable ops, so its gradient (and its higher
derivatives) is whatever those ops give; nothing here adds a record type.

>>> import tapegrad as tg
>>> import tapegrad.nn.functional as F
>>> F.relu(tg.tensor([-1.0, 2.0]))
tensor([0., 2.])
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .. import creation as _creation
from ..node import rename as _named
from ..tensor import Tensor, _as_tensor, _wrap, cat, matmul, where

__all__ = [
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus",
    "softsign", "hardtanh", "sigmoid", "logsigmoid", "tanh", "softmax", "log_softmax", "softmin",
    "normalize", "linear", "bilinear", "dropout", "one_hot", "pad", "mse_loss", "l1_loss",
    "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "gaussian_nll_loss", "poisson_nll_loss",
    "cosine_similarity", "pairwise_distance",
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "max_pool1d",
    "max_pool2d", "max_pool3d", "avg_pool1d",
    "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "batch_norm", "layer_norm", "group_norm",
    "instance_norm",
    "hardswish", "hardsigmoid", "tanhshrink", "glu", "prelu", "hardshrink", "softshrink",
    "threshold", "dropout1d", "dropout2d", "dropout3d", "embedding", "margin_ranking_loss",
    "hinge_embedding_loss", "triplet_margin_loss", "scaled_dot_product_attention",
    "interpolate", "cosine_embedding_loss", "multi_margin_loss", "multilabel_soft_margin_loss",
    "soft_margin_loss", "triplet_margin_with_distance_loss", "pixel_shuffle", "pixel_unshuffle",
    "channel_shuffle", "rms_norm", "fold", "unfold",
]


# --------------------------------------------------------------------------- helpers


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else _as_tensor(x)


def _write_back(input: Tensor, out: Tensor, name: str) -> Tensor:
    """``inplace=True``: ``out`` (computed from a copy of ``input``, so that no record reads the
    value about to be overwritten) is written into ``input`` -- recorded as an in-place copy,
    so the gradient flows as torch's; a leaf that requires grad is refused with torch's error.
    ``name``: torch's node for the in-place op (``EluBackward1`` for ``elu_``)."""
    input[...] = out
    return _named(input, name)


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """torch's deprecated ``size_average``/``reduce`` arguments, mapped to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use "
                  "reduction='{}' instead.", UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(reduction: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _same_size(name: str, input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size "
            f"({input.shape}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.", UserWarning, stacklevel=3)


# --------------------------------------------------------------------------- activations


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(0, x)."""
    if inplace:
        return _write_back(input, relu(input.clone()), "ReluBackward0")
    return input.relu()


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]; as torch's, the gradient is 0 at both ends."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return _write_back(input, hardtanh(input.clone(), min_val, max_val),
                           "HardtanhBackward0")
    return _named(where(input <= min_val, float(min_val),
                        where(input >= max_val, float(max_val), input)), "HardtanhBackward0")


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(0, x), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, else negative_slope * x."""
    if inplace:
        return _write_back(input, leaky_relu(input.clone(), negative_slope),
                           "LeakyReluBackward1")
    return _named(where(input > 0, input, input * negative_slope), "LeakyReluBackward0")


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha * (exp(x) - 1)."""
    if inplace:
        return _write_back(input, elu(input.clone(), alpha), "EluBackward1")
    return _named(where(input > 0, input, input.clamp(max=0.0).expm1() * alpha),
                  "EluBackward0")


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    if inplace:
        return _write_back(input, selu(input.clone()), "EluBackward1")
    return _named(elu(input, _SELU_ALPHA) * _SELU_SCALE, "EluBackward0")


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, else alpha * (exp(x / alpha) - 1)."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    if inplace:
        return _write_back(input, celu(input.clone(), alpha), "CeluBackward1")
    return _named(where(input > 0, input,
                        (input.clamp(max=0.0) / alpha).expm1() * alpha), "CeluBackward0")


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (``approximate='none'``, through erf) or its tanh approximation."""
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return _named(input * 0.5 * (inner.tanh() + 1.0), "GeluBackward0")
    if approximate != "none":
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _named(input * 0.5 * ((input * math.sqrt(0.5)).erf() + 1.0), "GeluBackward0")


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return input.tanh()


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    if inplace:
        return _write_back(input, silu(input.clone()), "SiluBackward0")
    return _named(input * input.sigmoid(), "SiluBackward0")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    scaled = input * beta
    soft = scaled.clamp(max=float(threshold)).exp().log1p() / beta
    return _named(where(scaled > threshold, input, soft), "SoftplusBackward0")


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    if inplace:
        return _write_back(input, mish(input.clone()), "MishBackward0")
    return _named(input * softplus(input).tanh(), "MishBackward0")


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return input / (input.abs() + 1.0)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), without overflow for either sign of x."""
    pos = input.clamp(min=0.0)
    neg = input.clamp(max=0.0)
    return _named(where(input >= 0, -(-pos).exp().log1p(), neg - neg.exp().log1p()),
                  "LogSigmoidBackward0")


def _softmax_dim(name: str, input: Tensor, dim) -> int:
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the "
                      "call to include dim=X as an argument.", UserWarning, stacklevel=3)
        nd = input.ndim
        return 0 if nd in (0, 1, 3) else 1
    return dim


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return input.softmax(_softmax_dim("softmax", input, dim))


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """x - logsumexp(x) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return input.log_softmax(_softmax_dim("log_softmax", input, dim))


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """softmax(-x) along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return (-input).softmax(_softmax_dim("softmin", input, dim))


# --------------------------------------------------------------------------- linear and others


def _vector_norm(x: Tensor, p: float, dim, keepdim: bool) -> Tensor:
    """||x||_p along ``dim``, with torch's gradient 0 at a zero vector (not 0 * inf = NaN)."""
    if p == math.inf:
        return x.abs().max(dim=dim, keepdim=keepdim).values
    if p == 1:
        return x.abs().sum(dim, keepdim)
    if p == 0:  # the count of non-zeros; gradient 0 (a sum of zeros selected from x)
        nonzero = x.detach() != 0
        return where(nonzero, 1.0, 0.0).sum(dim, keepdim) + \
            where(_wrap(np.ones(x.shape, dtype=bool)), 0.0, x).sum(dim, keepdim)
    total = (x * x).sum(dim, keepdim) if p == 2 else (x.abs() ** p).sum(dim, keepdim)
    zero = total == 0
    root = where(zero, 1.0, total)
    return where(zero, 0.0, root.sqrt() if p == 2 else root ** (1.0 / p))


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out=None) -> Tensor:
    """x / max(||x||_p, eps) along ``dim``."""
    return input / _vector_norm(input, p, dim, True).clamp(min=eps)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias."""
    if weight.ndim == 2:
        out = matmul(input, weight.t())
    elif weight.ndim == 1:
        out = matmul(input, weight)
    else:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{weight.ndim}D")
    out = out if bias is None else out + bias
    if weight.ndim == 2 and input.ndim != 2:  # (torch: addmm on a flattened input, reshaped)
        _named(out, ("SqueezeBackward4" if input.ndim == 1 else "UnsafeViewBackward0")
               if bias is None else "ViewBackward0")
    elif weight.ndim == 2 and bias is not None:
        _named(out, "AddmmBackward0")
    return out


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """y_k = x1 @ weight[k] @ x2 + bias_k, over the leading dims of both inputs."""
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be three-dimensional, but got "
                           f"{weight.ndim}D tensor")
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {in2}")
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    w = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    t = matmul(x1, w).reshape(-1, out_f, in2)
    out = (t * x2.unsqueeze(1)).sum(2)
    if bias is not None:
        out = out + bias
    return out.reshape(*lead, out_f)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) while
    ``training``; the mask is drawn from the generator ``tg.manual_seed`` seeds."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if inplace:
        return _write_back(input, dropout(input.clone(), p, training), "MulBackward0")
    if p == 1.0:
        return input * 0.0
    keep = _creation._rng.random(input.shape) >= p
    mask = keep.astype(np.float64) / (1.0 - p)
    return input * _wrap(mask.astype(input._v.dtype, copy=False))


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """An int64 tensor with a trailing dim of ``num_classes``, 1 at each index."""
    v = tensor._v
    if v.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if v.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(v.max()) + 1
    if v.size and v.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if v.size and v.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = (v[..., None] == np.arange(num_classes)).astype(np.int64)
    return _wrap(out)


def _index_along(x: Tensor, dim: int, idx: np.ndarray) -> Tensor:
    return x[(slice(None),) * dim + (idx,)]


def pad(input: Tensor, pad: tuple, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left_last, right_last, left_prev, ...)``;
    modes ``constant`` (negative pads crop), ``reflect``, ``replicate``, ``circular``."""
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError("Padding length should be less than or equal to two times the "
                           "input dimension but got padding length "
                           f"{len(pad)} and input of dimension {input.ndim}")
    if mode != "constant" and value not in (None, 0, 0.0):
        raise NotImplementedError(f"Padding mode \"{mode}\" doesn't take in value argument.")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if mode != "constant" and not (len(pad) in (2, 4, 6) and
                                   input.ndim in (len(pad) // 2 + 1, len(pad) // 2 + 2)):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    fill = 0.0 if value is None else float(value)
    out = input
    for i in range(len(pad) // 2):
        d = input.ndim - 1 - i
        left, right = int(pad[2 * i]), int(pad[2 * i + 1])
        n = out.shape[d]
        if mode == "constant":
            lo, hi = max(-left, 0), n - max(-right, 0)
            if lo or hi != n:
                out = out[(slice(None),) * d + (slice(lo, hi),)]
            parts = []
            for width in (max(left, 0), max(right, 0)):
                shape = list(out.shape)
                shape[d] = width
                parts.append(_wrap(np.full(shape, fill, dtype=out._v.dtype)) if width else None)
            pieces = [t for t in (parts[0], out, parts[1]) if t is not None]
            out = cat(pieces, d) if len(pieces) > 1 else out
            continue
        pos = np.arange(-left, n + right)
        if mode == "replicate":
            idx = np.clip(pos, 0, n - 1)
        elif mode == "circular":
            if left > n or right > n:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            idx = pos % n
        else:
            if left >= n or right >= n:
                raise RuntimeError(f"Argument #4: Padding size should be less than the "
                                   f"corresponding input dimension, but got: padding "
                                   f"({left}, {right}) at dimension {d} of input {input.shape}")
            period = 2 * (n - 1) if n > 1 else 1
            m = np.mod(pos, period)
            idx = np.where(m < n, m, period - m)
        out = _index_along(out, d, idx)
    if mode == "constant":
        # torch's constant_pad_nd gives new storage even when it only crops or pads nothing
        if out is input or not any(int(w) > 0 for w in pad):
            out = out.clone()
        return _named(out, "ConstantPadNdBackward0")
    k = len(pad) // 2
    return _named(out, {"reflect": f"ReflectionPad{k}DBackward0",
                        "replicate": f"ReplicationPad{k}DBackward0",
                        "circular": "CopySlices"}[mode])  # (as tapegrad names x[k] = v)


# the losses live in losses.py (imported here, below the helpers it shares with this module)
from .losses import (  # noqa: E402
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    gaussian_nll_loss,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    poisson_nll_loss,
    smooth_l1_loss,
)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """(x1 / max(||x1||, eps)) . (x2 / max(||x2||, eps)) along ``dim``; as torch's, the clamp
    is outside autograd."""
    n1 = _vector_norm(x1, 2, dim, True)
    n2 = _vector_norm(x2, 2, dim, True)
    n1 = n1 + (n1.clamp(min=eps) - n1).detach()
    n2 = n2 + (n2.clamp(min=eps) - n2).detach()
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last dim."""
    d = x1 - x2 + eps
    if d.ndim == 0:
        out = _vector_norm(d.reshape(1), p, 0, keepdim).reshape(()) if not keepdim else \
            _vector_norm(d.reshape(1), p, 0, True)
    else:
        out = _vector_norm(d, p, d.ndim - 1, keepdim)
    return _named(out, "NormBackward1")


# the layers' functions live in their layers' modules (which import this one's helpers)
from .activation import (  # noqa: E402
    dropout1d,
    dropout2d,
    dropout3d,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    prelu,
    softshrink,
    tanhshrink,
    threshold,
)
from .attention import scaled_dot_product_attention  # noqa: E402
from .conv import conv1d, conv2d, conv3d  # noqa: E402
from .conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: E402
from .margin import (  # noqa: E402
    cosine_embedding_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from .normalization import batch_norm, group_norm, instance_norm, layer_norm  # noqa: E402
from .pooling import (  # noqa: E402
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    max_pool1d,
    max_pool2d,
    max_pool3d,
)
from .reshaping import (  # noqa: E402
    channel_shuffle,
    fold,
    pixel_shuffle,
    pixel_unshuffle,
    rms_norm,
    unfold,
)
from .sparse import embedding  # noqa: E402
from .upsampling import interpolate  # noqa: E402

# -- torch's in-place spellings of the activations: the same functions with inplace=True -----


def relu_(input: Tensor) -> Tensor:
    """``relu(input, inplace=True)``."""
    return relu(input, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``elu(input, alpha, inplace=True)``."""
    return elu(input, alpha, inplace=True)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``leaky_relu(input, negative_slope, inplace=True)``."""
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``hardtanh(input, min_val, max_val, inplace=True)``."""
    return hardtanh(input, min_val, max_val, inplace=True)


def selu_(input: Tensor) -> Tensor:
    """``selu(input, inplace=True)``."""
    return selu(input, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``celu(input, alpha, inplace=True)``."""
    return celu(input, alpha, inplace=True)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """``threshold(input, threshold, value, inplace=True)``."""
    from .activation import threshold as _threshold

    return _threshold(input, threshold, value, inplace=True)


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """Samples of the Gumbel-softmax distribution over ``dim``: ``softmax((logits + g) /
    tau)`` with Gumbel noise ``g``; ``hard``: one-hot of its argmax in the forward, the soft
    sample's gradient in the backward (straight-through), as torch's."""
    from ..creation import _rng

    noise = -np.log(_rng.exponential(size=tuple(logits.shape)))
    soft = ((logits + _as_tensor(noise.astype(np.asarray(logits._v).dtype))) / tau).softmax(dim)
    if not hard:
        return soft
    index = np.asarray(soft._v).argmax(axis=dim)
    one_hot_value = np.zeros(soft.shape, np.asarray(soft._v).dtype)
    np.put_along_axis(one_hot_value, np.expand_dims(index, dim), 1.0, axis=dim)
    return _as_tensor(one_hot_value) - soft.detach() + soft


__all__ += ["relu_", "elu_", "leaky_relu_", "hardtanh_", "selu_", "celu_", "threshold_",
            "gumbel_softmax"]
