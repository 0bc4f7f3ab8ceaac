"""nn/reshaping.py (padding modules, pixel and channel shuffles, Softmax2d, the Upsampling
modules, RMSNorm) and nn.init's trunc_normal_/orthogonal_/eye_/dirac_ against torch."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(8)
X = RNG.random((2, 8, 3, 4))

MODULES = [
    ("ZeroPad2d", (1,), X), ("ZeroPad1d", ((2, 0),), X[0]), ("ConstantPad1d", ((1, 2), 3.5), X[0]),
    ("ConstantPad2d", (1, -1.0), X), ("ReflectionPad2d", ((1, 1, 2, 0),), X),
    ("ReflectionPad1d", (2,), X[0]), ("ReplicationPad1d", (2,), X[0]),
    ("ReplicationPad2d", ((0, 1, 1, 2),), X), ("CircularPad2d", (1,), X),
    ("CircularPad1d", ((1, 2),), X[0]), ("ZeroPad3d", (1,), X[None]),
    ("ReplicationPad3d", (1,), X[None]), ("PixelShuffle", (2,), X),
    ("PixelUnshuffle", (2,), X[:, :, :2, :4]), ("ChannelShuffle", (4,), X), ("Softmax2d", (), X),
    ("UpsamplingNearest2d", (None, 2), X), ("UpsamplingBilinear2d", ((5, 7),), X),
    ("RMSNorm", ((3, 4),), X), ("RMSNorm", (4, 1e-3, False), X), ("RMSNorm", (4,), X),
]


@pytest.fixture(autouse=True)
def _torch_in_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("name,args,x", MODULES, ids=[f"{m[0]}{m[1]}" for m in MODULES])
def test_module_matches_torch(name, args, x):
    out = []
    for lib in (tg, torch):
        module = getattr(lib.nn, name)(*args)
        t = lib.tensor(x, requires_grad=True)
        y = module(t)
        (y * y).sum().backward()
        out.append((y.detach().numpy(), t.grad.numpy(), repr(module),
                    [p.grad.numpy() for p in module.parameters()]))
    (y1, g1, r1, p1), (y2, g2, r2, p2) = out
    assert r1 == r2 and y1.shape == y2.shape
    np.testing.assert_allclose(y1, y2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-12)
    for a, b in zip(p1, p2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_functional_forms_and_float32_rms_norm():
    F, TF = tg.nn.functional, torch.nn.functional
    for f, args in (("pixel_shuffle", (2,)), ("channel_shuffle", (2,))):
        assert np.allclose(getattr(F, f)(tg.tensor(X), *args).numpy(),
                           getattr(TF, f)(torch.tensor(X), *args).numpy())
    x32 = X.astype(np.float32)
    mine = F.rms_norm(tg.tensor(x32), (4,))
    theirs = TF.rms_norm(torch.tensor(x32), (4,))
    assert mine.dtype == tg.float32
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-6)
    with pytest.raises(RuntimeError, match="pixel_shuffle expects its input's 'channel'"):
        F.pixel_shuffle(tg.ones(1, 3, 2, 2), 2)


def test_new_initialisers():
    w = tg.empty(300, 200)
    tg.nn.init.trunc_normal_(w, 0.5, 1.0, -1.0, 2.0)
    assert w.min().item() >= -1.0 and w.max().item() <= 2.0
    q = tg.empty(6, 10)
    tg.nn.init.orthogonal_(q, gain=2.0)
    np.testing.assert_allclose(q.numpy() @ q.numpy().T, 4 * np.eye(6), atol=1e-12)
    q = tg.empty(10, 6)
    tg.nn.init.orthogonal_(q)
    np.testing.assert_allclose(q.numpy().T @ q.numpy(), np.eye(6), atol=1e-12)
    for shape, groups in (((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((2, 2, 1, 3, 3), 1)):
        mine, theirs = tg.empty(*shape), torch.empty(*shape)
        tg.nn.init.dirac_(mine, groups)
        torch.nn.init.dirac_(theirs, groups)
        assert mine.tolist() == theirs.tolist()
    e = tg.empty(3, 5)
    tg.nn.init.eye_(e)
    assert e.tolist() == torch.nn.init.eye_(torch.empty(3, 5)).tolist()
    g = tg.Generator().manual_seed(1)
    a = tg.nn.init.kaiming_uniform_(tg.empty(4, 4), generator=g).tolist()
    g.manual_seed(1)
    assert tg.nn.init.kaiming_uniform_(tg.empty(4, 4), generator=g).tolist() == a


LOSSES = [
    ("soft", lambda lib, a, b: lib.nn.functional.soft_margin_loss(a, lib.tensor(np.sign(X2)))),
    ("cos", lambda lib, a, b: lib.nn.functional.cosine_embedding_loss(a, b, lib.tensor(SIGNS),
                                                                       margin=0.2)),
    ("cos none", lambda lib, a, b: lib.nn.functional.cosine_embedding_loss(
        a, b, lib.tensor(SIGNS), reduction="none")),
    ("multi margin", lambda lib, a, b: lib.nn.functional.multi_margin_loss(a, lib.tensor(CLS))),
    ("multi margin p2", lambda lib, a, b: lib.nn.functional.multi_margin_loss(
        a, lib.tensor(CLS), p=2, margin=0.5, weight=lib.tensor(W), reduction="sum")),
    ("multilabel soft", lambda lib, a, b: lib.nn.functional.multilabel_soft_margin_loss(
        a, lib.tensor(T01), weight=lib.tensor(W))),
    ("triplet distance", lambda lib, a, b: lib.nn.functional.triplet_margin_with_distance_loss(
        a, b, a * 0.5, swap=True)),
    ("modules", lambda lib, a, b: lib.nn.MultiMarginLoss()(a, lib.tensor(CLS))
     + lib.nn.SoftMarginLoss()(a, b.detach().sign())
     + lib.nn.CosineEmbeddingLoss()(a, b, lib.tensor(SIGNS))
     + lib.nn.MultiLabelSoftMarginLoss()(a, lib.tensor(T01))
     + lib.nn.TripletMarginWithDistanceLoss()(a, b, a * 2)),
]
X1, X2 = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
SIGNS, CLS = np.array([1, -1, 1, -1.0]), np.array([0, 3, 4, 1])
T01, W = (RNG.random((4, 5)) > 0.5).astype(float), RNG.random(5)


@pytest.mark.parametrize("name,loss", LOSSES, ids=[c[0] for c in LOSSES])
def test_losses_match_torch(name, loss):
    out = []
    for lib in (tg, torch):
        a, b = lib.tensor(X1, requires_grad=True), lib.tensor(X2, requires_grad=True)
        value = loss(lib, a, b)
        value.sum().backward()
        out.append((value.detach().numpy(), a.grad.numpy(),
                    None if b.grad is None else b.grad.numpy()))
    for x, y in zip(*out, strict=True):
        if x is None or y is None:
            assert x is None and y is None
        else:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-14)


def test_in_place_activation_functions_and_gumbel_softmax():
    out = []
    for lib in (tg, torch):
        F = lib.nn.functional
        x = lib.tensor([-1.0, 0.5, 2.0], requires_grad=True)
        ys = [x * 1 for _ in range(7)]
        F.relu_(ys[0]), F.elu_(ys[1], 0.5), F.hardtanh_(ys[2], -0.5, 0.5)
        F.threshold_(ys[3], 0.6, -3.0), F.leaky_relu_(ys[4], 0.2), F.selu_(ys[5])
        F.celu_(ys[6], 2.0)
        sum(y.sum() for y in ys).backward()
        out.append([y.tolist() for y in ys] + [x.grad.tolist()])
    np.testing.assert_allclose(np.array(out[0], dtype=object).tolist(), out[1], rtol=1e-12)
    tg.manual_seed(0)
    logits = tg.tensor([[0.0, 1.0, 2.0]], requires_grad=True)
    hard = tg.nn.functional.gumbel_softmax(logits, tau=0.5, hard=True)
    assert hard.sum().item() == 1.0 and sorted(hard.tolist()[0]) == [0.0, 0.0, 1.0]
    (hard * tg.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert logits.grad.abs().sum().item() > 0  # (straight through: the soft sample's gradient)
    counts = np.zeros(3)
    for _ in range(3000):
        counts += tg.nn.functional.gumbel_softmax(logits.detach(), hard=True).numpy()[0]
    np.testing.assert_allclose(counts / 3000, np.exp([0, 1, 2]) / np.exp([0, 1, 2]).sum(),
                               atol=0.04)


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=(3, 2), stride=2,
                                                               padding=1),
                                    dict(kernel_size=3, dilation=2, padding=(2, 1),
                                         stride=(1, 2))])
def test_unfold_and_fold_match_torch(kwargs):
    x = RNG.random((2, 3, 7, 6))
    out = []
    for lib in (tg, torch):
        t = lib.tensor(x, requires_grad=True)
        cols = lib.nn.functional.unfold(t, **kwargs)
        image = lib.nn.Fold((7, 6), **kwargs)(cols * 2)
        (cols.sum() + (image * image).sum()).backward()
        out.append((cols.detach().numpy(), image.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*out, strict=True):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12)
