"""nn/attention.py and nn/utils/rnn.py against torch, with torch's weights loaded: outputs,
attention weights and the gradients of inputs and parameters; finite differences for a small
MultiheadAttention."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(11)


@pytest.fixture(autouse=True)
def _torch_in_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _load(mine, theirs):
    mine.load_state_dict({k: tg.tensor(v.detach().numpy()) for k, v in
                          theirs.state_dict().items()})


def _close(a, b, rtol=1e-10):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("kwargs", [{}, {"is_causal": True}, {"scale": 0.3}, {"mask": "bool"},
                                    {"mask": "float"}])
def test_scaled_dot_product_attention(kwargs):
    q, k, v = RNG.random((2, 3, 4)), RNG.random((2, 5, 4)), RNG.random((2, 5, 6))
    if kwargs.get("is_causal"):
        k, v = RNG.random((2, 3, 4)), RNG.random((2, 3, 6))
    mask = kwargs.pop("mask", None)
    m = None
    if mask == "bool":
        m = RNG.random((3, 5)) > 0.4
        m[:, 0] = True
    elif mask == "float":
        m = RNG.standard_normal((3, 5))
    out = []
    for lib in (tg, torch):
        ts = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        y = lib.nn.functional.scaled_dot_product_attention(
            *ts, attn_mask=None if m is None else lib.tensor(m), **kwargs)
        (y * lib.tensor(np.linspace(0, 1, y.numel()).reshape(tuple(y.shape)))).sum().backward()
        out.append([y] + [t.grad for t in ts])
    for a, b in zip(*out, strict=True):
        _close(a, b)


@pytest.mark.parametrize("config", [
    dict(batch_first=True), dict(batch_first=False), dict(batch_first=True, bias=False),
    dict(batch_first=True, kdim=5, vdim=3), dict(unbatched=True),
    dict(batch_first=True, padding=True, attn_mask="bool"),
    dict(batch_first=False, attn_mask="float3d"), dict(batch_first=True, average=False),
    dict(batch_first=True, need_weights=False), dict(batch_first=True, is_causal=True),
])
def test_multihead_attention_matches_torch(config):
    config = dict(config)
    unbatched = config.pop("unbatched", False)
    padding, mask = config.pop("padding", False), config.pop("attn_mask", None)
    average, need = config.pop("average", True), config.pop("need_weights", True)
    is_causal = config.pop("is_causal", False)
    e, h, n, s, b = 8, 2, 4, 5, 3
    theirs = torch.nn.MultiheadAttention(e, h, **config)
    mine = tg.nn.MultiheadAttention(e, h, **config)
    _load(mine, theirs)
    assert list(mine.state_dict()) == list(theirs.state_dict())
    bf = config.get("batch_first", False)
    kd, vd = config.get("kdim", e), config.get("vdim", e)

    def shape(length, d):
        if unbatched:
            return (length, d)
        return (b, length, d) if bf else (length, b, d)

    if is_causal:
        s = n
    q, k, v = RNG.random(shape(n, e)), RNG.random(shape(s, kd)), RNG.random(shape(s, vd))
    kpm = np.zeros((b, s), bool)
    kpm[0, -2:] = True
    am = None
    if mask == "bool":
        am = RNG.random((n, s)) > 0.8
        am[:, 0] = False
    elif mask == "float3d":
        am = RNG.standard_normal((b * h, n, s))
    if is_causal:
        am = ~np.tril(np.ones((n, s), bool))
    results = []
    for lib, module in ((tg, mine), (torch, theirs)):
        ts = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        o, w = module(*ts, key_padding_mask=lib.tensor(kpm) if padding else None,
                      attn_mask=None if am is None else lib.tensor(am), need_weights=need,
                      average_attn_weights=average, is_causal=is_causal)
        loss = (o * o).sum() + (0 if w is None else (w * w).sum())
        loss.backward()
        results.append([o, w] + [t.grad for t in ts] +
                        [p.grad for _, p in sorted(module.named_parameters())])
    for a, b_ in zip(*results, strict=True):
        if a is None or b_ is None:
            assert a is None and b_ is None
        else:
            _close(a, b_)


@pytest.mark.parametrize("norm_first,activation", [(False, "relu"), (True, "gelu")])
def test_transformer_encoder_matches_torch(norm_first, activation):
    d = 8
    kwargs = dict(dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=norm_first,
                  activation=activation)
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(d, 2, **kwargs), 2,
                                         norm=torch.nn.LayerNorm(d), enable_nested_tensor=False)
    mine = tg.nn.TransformerEncoder(tg.nn.TransformerEncoderLayer(d, 2, **kwargs), 2,
                                    norm=tg.nn.LayerNorm(d))
    assert list(mine.state_dict()) == list(theirs.state_dict())
    _load(mine, theirs)
    x = RNG.random((3, 5, d))
    pad = np.zeros((3, 5), bool)
    pad[1, -1] = True
    outs = []
    for lib, module in ((tg, mine), (torch, theirs)):
        xt = lib.tensor(x, requires_grad=True)
        y = module(xt, src_key_padding_mask=lib.tensor(pad))
        (y * y).sum().backward()
        outs.append([y, xt.grad] + [p.grad for _, p in sorted(module.named_parameters())])
    for a, b in zip(*outs, strict=True):
        _close(a, b, rtol=1e-9)


def test_multihead_attention_gradients_by_finite_differences():
    mha = tg.nn.MultiheadAttention(4, 2, batch_first=True)
    x0 = RNG.random((2, 3, 4))

    def loss(x):
        out, w = mha(x, x, x)
        return (out * out).sum() + (w * w).sum()

    x = tg.tensor(x0, requires_grad=True)
    loss(x).backward()
    h = 1e-6
    fd = np.zeros(x0.size)
    for i in range(x0.size):
        e = np.zeros(x0.size)
        e[i] = h
        fd[i] = (loss(tg.tensor(x0 + e.reshape(x0.shape))).item()
                 - loss(tg.tensor(x0 - e.reshape(x0.shape))).item()) / (2 * h)
    np.testing.assert_allclose(x.grad.numpy().reshape(-1), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kwargs", [{}, {"batch_first": True}, {"padding_value": -1.0},
                                    {"batch_first": True, "padding_side": "left"}])
def test_pad_sequence(kwargs):
    from tapegrad.nn.utils.rnn import pad_sequence

    seqs = [RNG.random((3, 2)), RNG.random((1, 2)), RNG.random((4, 2))]
    outs = []
    for lib, f in ((tg, pad_sequence), (torch, torch.nn.utils.rnn.pad_sequence)):
        ts = [lib.tensor(s, requires_grad=True) for s in seqs]
        y = f(ts, **kwargs)
        (y * lib.tensor(np.arange(y.numel(), dtype=float).reshape(tuple(y.shape)))).sum() \
            .backward()
        outs.append([y] + [t.grad for t in ts])
    for a, b in zip(*outs, strict=True):
        _close(a, b)
