"""tapegrad.nn.utils (gradient clipping, parameter vectors) and the smaller layers against
torch: the extra activations (hardswish, hardsigmoid, tanhshrink, glu, prelu, shrinks,
threshold), channel dropout, Embedding, Unflatten, ParameterList / ParameterDict and the margin
losses -- values, gradients (float64 and float32, at the piecewise boundaries too), reprs and
errors, and finite differences."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from helpers import check_gradients

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad import nn

rng = np.random.default_rng(41)
X = np.concatenate([rng.standard_normal(12) * 3,
                    [-3.0, 3.0, -0.5, 0.5, 0.0, 1.0, -1.0, 2.0]]).reshape(4, 5)


def _torch():
    return pytest.importorskip("torch")


def _tol(dtype):
    return dict(rtol=1e-12, atol=1e-14) if dtype == "float64" else dict(rtol=1e-6, atol=1e-6)


def _check(fn_tg, fn_torch, arrays, dtype="float64", grad_of=None):
    torch = _torch()
    grad_of = range(len(arrays)) if grad_of is None else grad_of
    a = [tg.tensor(x, dtype=getattr(tg, dtype), requires_grad=i in grad_of)
         for i, x in enumerate(arrays)]
    b = [torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=i in grad_of)
         for i, x in enumerate(arrays)]
    out_a, out_b = fn_tg(*a), fn_torch(*b)
    np.testing.assert_allclose(out_a.detach().numpy(), out_b.detach().numpy(), **_tol(dtype))
    g = rng.standard_normal(tuple(out_b.shape))
    (out_a * tg.tensor(g, dtype=out_a.dtype)).sum().backward()
    (out_b * torch.tensor(g, dtype=out_b.dtype)).sum().backward()
    for i in grad_of:
        ga = a[i].grad.numpy() if a[i].grad is not None else np.zeros(arrays[i].shape)
        gb = b[i].grad.numpy() if b[i].grad is not None else np.zeros(arrays[i].shape)
        np.testing.assert_allclose(ga, gb, **_tol(dtype), err_msg=f"gradient {i}")


ACTIVATIONS = [("hardswish", {}), ("hardsigmoid", {"dtype": "float32"}), ("tanhshrink", {}),
               ("glu", {}), ("glu", {"dim": 0}), ("hardshrink", {}), ("hardshrink", {"lambd": 1.0}),
               ("softshrink", {}), ("softshrink", {"lambd": 2.0}),
               ("threshold", {"threshold": 1.0, "value": -2.0}),
               ("threshold", {"threshold": -0.5, "value": 0.0})]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=str)
def test_activations_match_torch(name, kw, dtype):
    torch = _torch()
    kw = dict(kw)
    if kw.pop("dtype", dtype) != dtype:
        pytest.skip("see test_hardsigmoid_gradient_is_exact")
    x = X if name != "glu" or kw else X[:, :4]  # (the boundaries -3, 3, +-0.5, +-1 included)
    _check(lambda t: getattr(F, name)(t, **kw),
           lambda t: getattr(torch.nn.functional, name)(t, **kw), [x], dtype)


def test_hardsigmoid_gradient_is_exact():
    # torch's float64 hardsigmoid backward multiplies by a float32 1/6 (off by 3e-8): the
    # closed form is the oracle in float64, torch in float32 (above)
    a = tg.tensor(X, requires_grad=True)
    y = F.hardsigmoid(a)
    y.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.where(np.abs(X) < 3, 1 / 6, 0.0))
    np.testing.assert_array_equal(y.detach().numpy(), np.clip(X / 6 + 0.5, 0, 1))


@pytest.mark.parametrize("name", ["hardswish", "hardsigmoid"])
def test_inplace_activations_match_torch(name):
    torch = _torch()
    _check(lambda t: getattr(F, name)(t * 1.0, inplace=True),
           lambda t: getattr(torch.nn.functional, name)(t * 1.0, inplace=True), [X],
           "float32" if name == "hardsigmoid" else "float64")
    _check(lambda t: F.threshold(t * 1.0, 0.5, 9.0, inplace=True),
           lambda t: torch.nn.functional.threshold(t * 1.0, 0.5, 9.0, inplace=True), [X])


@pytest.mark.parametrize("shape,wsize", [((4, 5), 5), ((4, 5), 1), ((2, 3, 4), 3),
                                         ((2, 3, 2, 2), 3), ((5,), 1), ((), 1)], ids=str)
def test_prelu_matches_torch(shape, wsize):
    torch = _torch()
    x = rng.standard_normal(shape)
    if x.size:
        x.flat[0] = 0.0
    _check(F.prelu, torch.nn.functional.prelu, [x, rng.standard_normal(wsize)])


def test_activation_gradients_by_finite_differences():
    x = rng.standard_normal((3, 4)) * 3
    for fn in (F.hardswish, F.hardsigmoid, F.tanhshrink, F.glu, F.softshrink):
        check_gradients(fn, [x])
    check_gradients(F.prelu, [x, rng.standard_normal(4)])


def test_activation_modules_match_torch():
    torch = _torch()
    makers = [lambda n: n.Hardswish(), lambda n: n.Hardsigmoid(inplace=True),
              lambda n: n.Tanhshrink(), lambda n: n.GLU(), lambda n: n.GLU(dim=0),
              lambda n: n.PReLU(), lambda n: n.PReLU(5, init=0.1), lambda n: n.Hardshrink(),
              lambda n: n.Softshrink(0.3), lambda n: n.Threshold(0.1, 20.0),
              lambda n: n.Threshold(0.1, 20.0, inplace=True), lambda n: n.Dropout1d(),
              lambda n: n.Dropout2d(0.2), lambda n: n.Dropout3d(inplace=True),
              lambda n: n.Unflatten(1, (2, 2)), lambda n: n.Unflatten(-1, [5, 1])]
    for make in makers:
        ours, theirs = make(nn), make(torch.nn).double()
        assert repr(ours) == repr(theirs)
        ours.load_state_dict(theirs.state_dict())
        np.testing.assert_array_equal([p.detach().numpy() for p in ours.parameters()],
                                      [p.detach().numpy() for p in theirs.parameters()])
        if "Dropout" in repr(ours) or getattr(ours, "inplace", False):
            continue
        x = X[:, :4] if "Unflatten(dim=1" in repr(ours) or repr(ours) == "GLU(dim=-1)" else X
        _check(lambda t, m=ours: m(t), lambda t, m=theirs: m(t), [x])
        for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def _raised(call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as e:  # noqa: BLE001 -- the error itself is compared
        return type(e), str(e).replace("tapegrad.", "torch.")
    return None


ERRORS = [
    lambda f, n, z, t: f.prelu(z(2, 4), z(3)),
    lambda f, n, z, t: f.prelu(z(4), z(4)),
    lambda f, n, z, t: f.prelu(z(2, 4), z(2, 2)),
    lambda f, n, z, t: f.glu(z(2, 3)),
    lambda f, n, z, t: f.glu(z(())),
    lambda f, n, z, t: f.glu(z(2, 4), dim=3),
    lambda f, n, z, t: f.softshrink(z(2, dtype=t.float32), -1.0),
    lambda f, n, z, t: f.dropout1d(z(2, 3, 4, 5)),
    lambda f, n, z, t: f.dropout2d(z(2, 2, 2, 2), p=1.5),
    lambda f, n, z, t: f.embedding(t.tensor([3]), z(3, 2)),
    lambda f, n, z, t: f.embedding(t.tensor([-1]), z(3, 2)),
    lambda f, n, z, t: f.embedding(t.tensor([1]), z(3, 2), padding_idx=3),
    lambda f, n, z, t: f.embedding(t.tensor([1]), z(3, 2), padding_idx=-4),
    lambda f, n, z, t: f.embedding(t.tensor([1]), z(3)),
    lambda f, n, z, t: n.Embedding(3, 2, padding_idx=3),
    lambda f, n, z, t: n.Embedding.from_pretrained(z(3)),
    lambda f, n, z, t: n.Embedding(3, 2, _weight=z(2, 2)),
    lambda f, n, z, t: n.Unflatten(1, 3),
    lambda f, n, z, t: n.Unflatten(1, (2, 2.0)),
    lambda f, n, z, t: f.margin_ranking_loss(z(2), z(2), z(2, 1)),
    lambda f, n, z, t: f.triplet_margin_loss(z(2, 3), z(2, 3), z(2, 3), margin=0.0),
    lambda f, n, z, t: f.triplet_margin_loss(z(2, 3), z(2, 3), z(3)),
    lambda f, n, z, t: n.TripletMarginLoss(margin=-1.0),
    lambda f, n, z, t: f.hinge_embedding_loss(z(2), z(2), reduction="avg"),
    lambda f, n, z, t: n.ParameterList(z(2)),
    lambda f, n, z, t: n.ParameterList([z(2)])[1],
    lambda f, n, z, t: n.utils.vector_to_parameters([1.0], []),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    torch = _torch()
    theirs = _raised(lambda: ERRORS[i](torch.nn.functional, torch.nn, torch.zeros, torch))
    assert theirs is not None
    assert _raised(lambda: ERRORS[i](F, nn, tg.zeros, tg)) == theirs


def test_embedding_index_dtype_error():
    torch = _torch()
    mine = _raised(lambda: F.embedding(tg.zeros(2), tg.zeros(3, 2)))
    theirs = _raised(lambda: torch.nn.functional.embedding(torch.zeros(2, dtype=torch.float64),
                                                           torch.zeros(3, 2)))
    assert mine == theirs


# --------------------------------------------------------------------------- dropout


def test_channel_dropout_drops_whole_channels():
    tg.manual_seed(0)
    for fn, shape in [(F.dropout1d, (50, 40, 3)), (F.dropout1d, (400, 3)),
                      (F.dropout2d, (50, 40, 2, 3)), (F.dropout3d, (50, 40, 2, 2, 2)),
                      (F.dropout3d, (400, 2, 2, 2))]:
        x = tg.tensor(rng.random(shape) + 0.5, requires_grad=True)
        y = fn(x, p=0.3)
        ratio = (y / x).detach().numpy()
        lead = 2 if len(shape) in (3, 5) or fn is F.dropout2d else 1
        per_channel = ratio.reshape(shape[:lead] + (-1,))
        np.testing.assert_allclose(per_channel, np.broadcast_to(per_channel[..., :1],
                                                                per_channel.shape),
                                   rtol=1e-14)  # one draw per channel
        kept = per_channel[..., 0]
        assert np.all((kept == 0) | np.isclose(kept, 1 / 0.7, rtol=1e-14, atol=0))
        assert 0.2 < (kept == 0).mean() < 0.4
        y.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), ratio, rtol=1e-12)
        assert fn(x, p=0.3, training=False) is x


def test_channel_dropout_modules_and_warnings():
    m = nn.Dropout2d(0.5)
    x = tg.ones(2, 3, 2, 2)
    m.eval()
    assert m(x) is x
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        F.dropout2d(tg.ones(2, 3, 4))
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
        F.dropout2d(tg.ones(2, 3))
    assert (F.dropout2d(tg.ones(2, 3, 2, 2), p=1.0).numpy() == 0).all()
    y = tg.ones(2, 3, 2, 2) * 1.0
    out = F.dropout2d(y, 0.5, inplace=True)
    assert out is y


# --------------------------------------------------------------------------- embedding


@pytest.mark.parametrize("kw", [dict(), dict(padding_idx=2), dict(padding_idx=-1),
                                dict(scale_grad_by_freq=True),
                                dict(scale_grad_by_freq=True, padding_idx=0)], ids=str)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_embedding_matches_torch(kw, dtype):
    torch = _torch()
    idx = np.array([[0, 2, 1, 2], [3, 3, 3, 4]])
    w = rng.standard_normal((5, 3))
    _check(lambda t: F.embedding(tg.tensor(idx), t, **kw),
           lambda t: torch.nn.functional.embedding(torch.tensor(idx), t, **kw), [w], dtype)


def test_embedding_max_norm_matches_torch():
    torch = _torch()
    idx = np.array([0, 2, 2, 4])
    w = rng.standard_normal((5, 3)) * 2
    for norm_type in (2.0, 1.0):
        a = tg.tensor(w, requires_grad=True)
        b = torch.tensor(w, requires_grad=True)
        with torch.no_grad():
            wb = b.clone()
        wa = a.detach().clone()
        ya = F.embedding(tg.tensor(idx), wa, max_norm=1.0, norm_type=norm_type)
        yb = torch.nn.functional.embedding(torch.tensor(idx), wb, max_norm=1.0,
                                           norm_type=norm_type)
        np.testing.assert_allclose(ya.numpy(), yb.numpy(), rtol=1e-12)
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), rtol=1e-12)  # renormed in place


def test_embedding_module_matches_torch():
    torch = _torch()
    theirs = torch.nn.Embedding(6, 4, padding_idx=1).double()
    ours = nn.Embedding(6, 4, padding_idx=1)
    assert repr(ours) == repr(theirs)
    ours.load_state_dict(theirs.state_dict())
    idx = np.array([[1, 2, 5], [0, 1, 1]])
    ya, yb = ours(tg.tensor(idx)), theirs(torch.tensor(idx))
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-15)
    g = rng.standard_normal((2, 3, 4))
    (ya * tg.tensor(g)).sum().backward()
    (yb * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                               rtol=1e-14)
    assert (ours.weight.grad.numpy()[1] == 0).all()
    # initialisation: N(0, 1), the padding row zero
    big = nn.Embedding(2000, 10, padding_idx=3)
    v = big.weight.detach().numpy()
    assert (v[3] == 0).all() and abs(v.std() - 1) < 0.05 and abs(v.mean()) < 0.05
    for kw in [dict(max_norm=2.0), dict(norm_type=1.0), dict(scale_grad_by_freq=True),
               dict(sparse=True), dict(padding_idx=-2)]:
        assert repr(nn.Embedding(6, 4, **kw)) == repr(torch.nn.Embedding(6, 4, **kw))
    pre = nn.Embedding.from_pretrained(tg.tensor(np.eye(3)))
    assert not pre.weight.requires_grad and repr(pre) == "Embedding(3, 3)"
    assert nn.Embedding.from_pretrained(tg.tensor(np.eye(3)), freeze=False).weight.requires_grad
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(3, 2, sparse=True)(tg.tensor([0]))


def test_embedding_gradient_by_finite_differences():
    idx = tg.tensor(np.array([[0, 2], [2, 2]]))
    check_gradients(lambda w: F.embedding(idx, w), [rng.standard_normal((3, 2))])
    check_gradients(lambda w: F.embedding(idx, w) ** 2, [rng.standard_normal((3, 2))])


# --------------------------------------------------------------------------- containers


def test_parameter_list_and_dict_match_torch():
    torch = _torch()

    def build(lib):
        n = lib.nn

        class Net(n.Module):
            def __init__(self):
                super().__init__()
                self.plist = n.ParameterList([n.Parameter(lib.zeros(2, 3)), lib.ones(4)])
                self.plist.append(lib.zeros(1))
                self.plist.extend([n.Parameter(lib.ones(2), requires_grad=False)])
                self.pdict = n.ParameterDict({"b": lib.zeros(2), "a": n.Parameter(lib.ones(3))})
                self.pdict["c"] = lib.zeros(1, 1)
                self.pdict.update([("d", lib.ones(2))])

        return Net().double()

    ours, theirs = build(tg), build(torch)
    assert repr(ours).replace("tapegrad.", "") == repr(theirs).replace("torch.", "")
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    assert [p.requires_grad for p in ours.parameters()] == \
        [p.requires_grad for p in theirs.parameters()]
    assert all(isinstance(p, nn.Parameter) for p in ours.plist)
    assert len(ours.plist) == 4 and len(ours.plist[1:3]) == 2
    assert ours.plist[-1] is ours.plist[3]
    assert list(ours.pdict) == list(theirs.pdict) == ["a", "b", "c", "d"]
    assert "c" in ours.pdict and ours.pdict.get("zz") is None
    popped = ours.pdict.pop("c")
    assert tuple(popped.shape) == (1, 1) and "c" not in ours.pdict
    assert [k for k, _ in ours.named_parameters()] == \
        ["plist.0", "plist.1", "plist.2", "plist.3", "pdict.a", "pdict.b", "pdict.d"]


# --------------------------------------------------------------------------- margin losses


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_margin_losses_match_torch(reduction, dtype):
    torch = _torch()
    x1, x2 = rng.standard_normal(8), rng.standard_normal(8)
    x2[:2] = x1[:2] + np.array([0.5, -0.5])  # on the hinge: -y * (x1 - x2) + margin == 0
    y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
    kw = dict(reduction=reduction)
    _check(lambda a, b: F.margin_ranking_loss(a, b, tg.tensor(y, dtype=a.dtype), margin=0.5,
                                              **kw),
           lambda a, b: torch.nn.functional.margin_ranking_loss(
               a, b, torch.tensor(y, dtype=a.dtype), margin=0.5, **kw), [x1, x2], dtype)
    h = x1.copy()
    h[0] = 1.0  # margin - x == 0 for a -1 target
    y3 = np.array([-1.0, -1.0, 1.0, 1.0, -1.0, 0.0, 2.0, -1.0])  # (0 and 2: both terms)
    _check(lambda a: F.hinge_embedding_loss(a, tg.tensor(y3, dtype=a.dtype), **kw),
           lambda a: torch.nn.functional.hinge_embedding_loss(
               a, torch.tensor(y3, dtype=a.dtype), **kw), [h], dtype)
    arrays = [rng.standard_normal((5, 3)) for _ in range(3)]
    for extra in (dict(), dict(swap=True), dict(p=1.0, margin=2.0), dict(p=3.0, eps=0.0)):
        _check(lambda a, p, n, e=extra: F.triplet_margin_loss(a, p, n, **e, **kw),
               lambda a, p, n, e=extra: torch.nn.functional.triplet_margin_loss(a, p, n, **e,
                                                                                **kw),
               arrays, dtype)


def test_margin_loss_modules_match_torch():
    torch = _torch()
    for make, arrays in [
            (lambda n: n.MarginRankingLoss(margin=0.2),
             [rng.standard_normal(4), rng.standard_normal(4), np.array([1.0, -1, 1, -1])]),
            (lambda n: n.HingeEmbeddingLoss(margin=2.0, reduction="sum"),
             [rng.standard_normal(4), np.array([1.0, -1, 1, -1])]),
            (lambda n: n.TripletMarginLoss(p=1.0, swap=True),
             [rng.standard_normal((3, 4)) for _ in range(3)])]:
        ours, theirs = make(nn), make(torch.nn)
        assert repr(ours) == repr(theirs)
        grad_of = range(len(arrays)) if "Triplet" in repr(ours) else range(len(arrays) - 1)
        _check(ours, theirs, arrays, grad_of=list(grad_of))


def test_margin_loss_gradients_by_finite_differences():
    check_gradients(lambda a, p, n: F.triplet_margin_loss(a, p, n, swap=True, reduction="none"),
                    [rng.standard_normal((4, 3)) for _ in range(3)])
    check_gradients(lambda a, b: F.margin_ranking_loss(a, b, tg.tensor([1.0, -1.0, 1.0]), 0.3),
                    [rng.standard_normal(3), rng.standard_normal(3)])


# --------------------------------------------------------------------------- nn.utils


def _grads_pair(torch, shapes, scale=1.0):
    grads = [rng.standard_normal(s) * scale for s in shapes]
    ours = [nn.Parameter(tg.zeros(s)) for s in shapes]
    theirs = [torch.nn.Parameter(torch.zeros(s, dtype=torch.float64)) for s in shapes]
    for p, q, g in zip(ours, theirs, grads, strict=True):
        p.grad = tg.tensor(g)
        q.grad = torch.tensor(g)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf, -math.inf, 0.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = _torch()
    ours, theirs = _grads_pair(torch, [(3, 4), (5,), ()])
    ours.append(nn.Parameter(tg.zeros(2)))  # (one without a gradient)
    theirs.append(torch.nn.Parameter(torch.zeros(2, dtype=torch.float64)))
    ta = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    tb = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    np.testing.assert_allclose(ta.numpy(), tb.numpy(), rtol=1e-13)
    assert isinstance(ta, tg.Tensor) and ta.ndim == 0 and not ta.requires_grad
    for p, q in zip(ours, theirs, strict=True):
        if q.grad is None:
            assert p.grad is None
            continue
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-13)


def test_clip_grad_norm_edges_match_torch():
    torch = _torch()
    ours, theirs = _grads_pair(torch, [(4,)])
    a = nn.utils.clip_grad_norm_(ours[0], 0.1)  # a single tensor
    b = torch.nn.utils.clip_grad_norm_(theirs[0], 0.1)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-14)
    np.testing.assert_allclose(ours[0].grad.numpy(), theirs[0].grad.numpy(), rtol=1e-14)
    assert float(nn.utils.clip_grad_norm_([nn.Parameter(tg.zeros(2))], 1.0)) == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        nn.utils.clip_grad_norm_((p for p in []), 1.0)
    ours, theirs = _grads_pair(torch, [(3,)])
    ours[0].grad = tg.tensor([1.0, math.inf, 2.0])
    theirs[0].grad = torch.tensor([1.0, math.inf, 2.0], dtype=torch.float64)
    mine = _raised(lambda: nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True))
    want = _raised(lambda: torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True))
    assert mine == want and mine[0] is RuntimeError
    np.testing.assert_array_equal(ours[0].grad.numpy(), theirs[0].grad.numpy())  # untouched
    ta = nn.utils.clip_grad_norm_(ours, 1.0)
    tb = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert math.isinf(float(ta)) and math.isinf(float(tb))
    np.testing.assert_array_equal(ours[0].grad.numpy(), theirs[0].grad.numpy())


def test_clip_grad_norm_float32_and_total_norm_helpers():
    torch = _torch()
    g = rng.standard_normal((3, 5)).astype(np.float32)
    p = nn.Parameter(tg.zeros(3, 5, dtype=tg.float32))
    q = torch.nn.Parameter(torch.zeros(3, 5))
    p.grad, q.grad = tg.tensor(g), torch.tensor(g)
    ta, tb = nn.utils.clip_grad_norm_([p], 1.0), torch.nn.utils.clip_grad_norm_([q], 1.0)
    assert ta.dtype == tg.float32
    np.testing.assert_allclose(ta.numpy(), tb.numpy(), rtol=1e-6)
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)
    ts = [rng.standard_normal(4), rng.standard_normal((2, 2))]
    np.testing.assert_allclose(
        nn.utils.get_total_norm([tg.tensor(t) for t in ts], 3.0).numpy(),
        torch.nn.utils.get_total_norm([torch.tensor(t) for t in ts], 3.0).numpy(), rtol=1e-13)


def test_clip_grad_value_matches_torch():
    torch = _torch()
    ours, theirs = _grads_pair(torch, [(3, 4), (5,)], scale=2.0)
    nn.utils.clip_grad_value_(ours, 0.7)
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, q in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    nn.utils.clip_grad_value_(ours[0], 0.1)
    assert np.abs(ours[0].grad.numpy()).max() == 0.1


def test_parameters_vector_round_trip_matches_torch():
    torch = _torch()
    ta, tb = nn.Linear(3, 2), torch.nn.Linear(3, 2).double()
    ta.load_state_dict(tb.state_dict())
    va, vb = nn.utils.parameters_to_vector(ta.parameters()), \
        torch.nn.utils.parameters_to_vector(tb.parameters())
    np.testing.assert_array_equal(va.detach().numpy(), vb.detach().numpy())
    assert va.requires_grad and va.shape == (8,)
    (va * tg.arange(8.0)).sum().backward()
    np.testing.assert_array_equal(ta.weight.grad.numpy(), np.arange(6.0).reshape(2, 3))
    new = rng.standard_normal(8)
    nn.utils.vector_to_parameters(tg.tensor(new), ta.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), tb.parameters())
    for p, q in zip(ta.parameters(), tb.parameters(), strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
        assert isinstance(p, nn.Parameter) and p.requires_grad


def test_docstring_examples_run():
    import doctest
    import importlib

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for name in ("conv", "pooling", "normalization", "rnn", "activation", "sparse", "params",
                 "margin", "utils"):
        for test in finder.find(importlib.import_module(f"tapegrad.nn.{name}")):
            runner.run(test)
    assert runner.failures == 0 and runner.tries >= 60


def test_new_modules_pickle_and_deepcopy():
    import copy
    import pickle

    modules = [nn.Conv2d(2, 3, 3), nn.ConvTranspose2d(2, 2, 3), nn.BatchNorm2d(3),
               nn.InstanceNorm1d(2, affine=True), nn.LSTM(3, 4, 2), nn.GRUCell(2, 3),
               nn.Embedding(5, 2, padding_idx=0), nn.ParameterList([tg.zeros(2)]),
               nn.ParameterDict({"a": tg.zeros(2)}), nn.PReLU(), nn.GroupNorm(1, 2)]
    for m in modules:
        for twin in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
            assert repr(twin) == repr(m)
            assert list(twin.state_dict()) == list(m.state_dict())
            for a, b in zip(twin.state_dict().values(), m.state_dict().values(), strict=True):
                np.testing.assert_array_equal(a.numpy(), b.numpy())
            assert all(isinstance(p, nn.Parameter) and p.is_leaf for p in twin.parameters())
            assert all(p is not q for p, q in zip(twin.parameters(), m.parameters(),
                                                  strict=True))
    lstm = copy.deepcopy(modules[4])
    out, (h, c) = lstm(tg.zeros(2, 1, 3))
    assert tuple(out.shape) == (2, 1, 4) and tuple(h.shape) == (2, 1, 4)
