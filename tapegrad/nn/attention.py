"""Attention, as torch's: ``F.scaled_dot_product_attention``, ``nn.MultiheadAttention`` and
``nn.TransformerEncoderLayer``/``TransformerEncoder``.

All are compositions of recorded ops (matmul, softmax, masking by ``where``), so their
gradients, second order and ``tg.compile`` replays come from those.  Parameter names, shapes
and initialisation follow torch's, so a torch ``state_dict`` loads and gives torch's outputs.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from .. import dtypes
from ..recording import _as_tensor, _wrap
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import Dropout, Linear
from .module import Module, Parameter
from .normalization import LayerNorm


def _additive_mask(mask: Tensor | None, dtype) -> Tensor | None:
    """A boolean mask (True: take part) as the additive one torch makes of it (-inf where
    False); a float mask as it is."""
    if mask is None:
        return None
    mask = _as_tensor(mask)
    if np.asarray(mask._v).dtype.kind == "b":
        return _wrap(np.where(np.asarray(mask._v), 0.0, -np.inf).astype(dtype))
    return mask


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key.T * scale + mask) @ value`` over the last two dims, as
    ``torch.nn.functional.scaled_dot_product_attention``: a boolean ``attn_mask`` says which
    keys a query may attend to, a float one is added; ``is_causal`` masks the future.

    >>> import tapegrad as tg
    >>> q = k = v = tg.ones(1, 2, 4)
    >>> tg.nn.functional.scaled_dot_product_attention(q, k, v).shape
    tapegrad.Size([1, 2, 4])
    """
    q, k, v = _as_tensor(query), _as_tensor(key), _as_tensor(value)
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention(enable_gqa=True) is not "
                                  "supported")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    dtype = np.asarray(q._v).dtype
    factor = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * factor
    if is_causal:
        n, m = q.shape[-2], k.shape[-2]
        attn_mask = _wrap(np.tril(np.ones((n, m), np.bool_)))
    mask = _additive_mask(attn_mask, dtype)
    if mask is not None:
        scores = scores + mask
    weights = scores.softmax(-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p, training=True)
    return weights @ v


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads over ``embed_dim`` features, as
    ``torch.nn.MultiheadAttention`` (``in_proj_weight``, ``in_proj_bias`` and ``out_proj`` as
    torch names them; separate ``q/k/v_proj_weight`` when ``kdim``/``vdim`` differ).

    >>> import tapegrad as tg
    >>> mha = tg.nn.MultiheadAttention(8, 2, batch_first=True)
    >>> out, weights = mha(tg.ones(3, 5, 8), tg.ones(3, 5, 8), tg.ones(3, 5, 8))
    >>> out.shape, weights.shape
    (tapegrad.Size([3, 5, 8]), tapegrad.Size([3, 5, 5]))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        if add_bias_kv or add_zero_attn:
            raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are "
                                      "not supported")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        np_dtype = dtypes.to_numpy_dtype(dtype) if dtype is not None else None
        def make(*shape):
            return Parameter(_wrap(np.empty(shape, np_dtype or _default())))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = make(3 * embed_dim, embed_dim)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = make(embed_dim, embed_dim)
            self.k_proj_weight = make(embed_dim, self.kdim)
            self.v_proj_weight = make(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = make(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def _projections(self, query, key, value):
        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask=None,
                need_weights: bool = True, attn_mask=None, average_attn_weights: bool = True,
                is_causal: bool = False):
        batched = query.dim() == 3
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = _as_tensor(key_padding_mask).unsqueeze(0)
        elif self.batch_first:  # (the computation below is torch's: sequence first)
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        length, batch, _ = query.shape
        source = key.shape[0]
        q, k, v = self._projections(query, key, value)
        h, d = self.num_heads, self.head_dim

        def heads(t: Tensor, n: int) -> Tensor:  # (n, batch, e) -> (batch, h, n, d)
            return t.reshape(n, batch * h, d).transpose(0, 1).reshape(batch, h, n, d)

        q, k, v = heads(q, length), heads(k, source), heads(v, source)
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))
        dtype = np.asarray(scores._v).dtype
        if is_causal and attn_mask is None:
            attn_mask = _wrap(~np.tril(np.ones((length, source), np.bool_)))
        if attn_mask is not None:
            mask = _as_tensor(attn_mask)
            if np.asarray(mask._v).dtype.kind == "b":  # (torch's: True means *masked out*)
                mask = _wrap(np.where(np.asarray(mask._v), -np.inf, 0.0).astype(dtype))
            if mask.dim() == 3:  # (batch * heads, L, S)
                mask = mask.reshape(batch, h, length, source)
            scores = scores + mask
        if key_padding_mask is not None:
            pad = np.asarray(_as_tensor(key_padding_mask)._v)
            additive = np.where(pad, -np.inf, 0.0) if pad.dtype.kind == "b" else pad
            scores = scores + _wrap(additive.astype(dtype).reshape(batch, 1, 1, source))
        weights = scores.softmax(-1)
        if self.dropout > 0.0 and self.training:
            weights = F.dropout(weights, self.dropout, training=True)
        out = (weights @ v).permute(2, 0, 1, 3).reshape(length, batch, self.embed_dim)
        out = self.out_proj(out)
        if self.batch_first and batched:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            weights = weights.squeeze(0)
        return out, weights


def _default():
    from ..recording import _DEFAULT_FLOAT

    return _DEFAULT_FLOAT


_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and
    ``LayerNorm`` (after, or before with ``norm_first``), as ``torch.nn.TransformerEncoderLayer``.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation="relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                raise RuntimeError(f"activation should be relu/gelu, not {activation}")
            activation = _ACTIVATIONS[activation]
        self.activation = activation

    def _attention(self, x, mask, padding, is_causal):
        out = self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=padding,
                             need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(out)

    def _feed_forward(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src: Tensor, src_mask=None, src_key_padding_mask=None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self._attention(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._feed_forward(x))


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn, then ``norm`` if given, as
    ``torch.nn.TransformerEncoder``."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm=None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        from .layers import ModuleList

        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Tensor, mask=None, src_key_padding_mask=None,
                is_causal: bool | None = None) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=bool(is_causal))
        return self.norm(x) if self.norm is not None else x
