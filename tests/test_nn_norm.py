"""Normalisation (tapegrad.nn.normalization) against torch: F.batch_norm / layer_norm /
group_norm values and gradients in float64 and float32; BatchNorm's train/eval modes, running
statistics (momentum, cumulative average, unbiased variance, num_batches_tracked),
track_running_stats and affine; reprs, state dicts, errors; finite differences, second order
and tg.compile (which replays the running statistics' update)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_gradients

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad import nn

rng = np.random.default_rng(21)


def _torch():
    return pytest.importorskip("torch")


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-11) if dtype == "float64" else dict(rtol=1e-4, atol=1e-4)


def _check(fn_tg, fn_torch, arrays, dtype, grad_of=None):
    torch = _torch()
    a = [tg.tensor(x, dtype=getattr(tg, dtype), requires_grad=True) for x in arrays]
    b = [torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True) for x in arrays]
    out_a, out_b = fn_tg(*a), fn_torch(*b)
    tol = _tol(dtype)
    np.testing.assert_allclose(out_a.detach().numpy(), out_b.detach().numpy(), **tol)
    g = rng.standard_normal(tuple(out_b.shape))
    (out_a * tg.tensor(g, dtype=out_a.dtype)).sum().backward()
    (out_b * torch.tensor(g, dtype=out_b.dtype)).sum().backward()
    for i in range(len(arrays)) if grad_of is None else grad_of:
        np.testing.assert_allclose(a[i].grad.numpy(), b[i].grad.numpy(), **tol,
                                   err_msg=f"gradient of argument {i}")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (2, 3, 4, 5), (2, 3, 2, 2, 3)], ids=str)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(shape, dtype, affine):
    torch = _torch()
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    rm, rv = rng.standard_normal(c), rng.random(c) + 0.5
    stats = {}

    def run(lib, f, *t):
        m = lib.tensor(rm, dtype=t[0].dtype)
        v = lib.tensor(rv, dtype=t[0].dtype)
        out = f.batch_norm(t[0], m, v, *(t[1:] if affine else ()), training=True,
                           momentum=0.3, eps=1e-3)
        stats[lib.__name__] = (m.numpy(), v.numpy())
        return out

    _check(lambda *t: run(tg, F, *t), lambda *t: run(torch, torch.nn.functional, *t),
           [x, w, b] if affine else [x], dtype)
    for mine, theirs in zip(stats["tapegrad"], stats["torch"], strict=True):
        np.testing.assert_allclose(mine, theirs, **_tol(dtype))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batch_norm_eval_matches_torch(dtype):
    torch = _torch()
    x = rng.standard_normal((4, 3, 5))
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    _check(lambda x, w, b: F.batch_norm(x, tg.tensor(rm, dtype=x.dtype),
                                        tg.tensor(rv, dtype=x.dtype), w, b),
           lambda x, w, b: torch.nn.functional.batch_norm(
               x, torch.tensor(rm, dtype=x.dtype), torch.tensor(rv, dtype=x.dtype), w, b),
           [x, w, b], dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm_shape", [(6,), (5, 6), (4, 5, 6)], ids=str)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_matches_torch(norm_shape, dtype, affine):
    torch = _torch()
    x = rng.standard_normal((2, 4, 5, 6)) * 3
    params = {"both": 2, "weight": 1, "none": 0}[affine]
    arrays = [x] + [rng.standard_normal(norm_shape) for _ in range(params)]
    _check(lambda *t: F.layer_norm(t[0], norm_shape, *t[1:], eps=1e-4),
           lambda *t: torch.nn.functional.layer_norm(t[0], norm_shape, *t[1:], eps=1e-4),
           arrays, dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape,groups", [((3, 6), 2), ((2, 6, 5), 3), ((2, 4, 3, 3), 4),
                                          ((2, 4, 3, 3), 1)], ids=str)
def test_group_norm_matches_torch(shape, groups, dtype):
    torch = _torch()
    c = shape[1]
    arrays = [rng.standard_normal(shape), rng.standard_normal(c), rng.standard_normal(c)]
    _check(lambda *t: F.group_norm(t[0], groups, *t[1:]),
           lambda *t: torch.nn.functional.group_norm(t[0], groups, *t[1:]), arrays, dtype)


def test_norm_gradients_by_finite_differences():
    x = rng.standard_normal((3, 2, 4))
    check_gradients(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [
        x, rng.standard_normal(2), rng.standard_normal(2)])
    check_gradients(lambda x, w, b: F.layer_norm(x, (2, 4), w, b), [
        x, rng.standard_normal((2, 4)), rng.standard_normal((2, 4))])
    check_gradients(lambda x, w: F.group_norm(x, 2, w), [rng.standard_normal((2, 4, 3)),
                                                         rng.standard_normal(4)])


def test_batch_norm_second_order_matches_torch():
    torch = _torch()
    x = rng.standard_normal((4, 3, 2))
    w = rng.standard_normal(3)
    out = []
    for lib, f in ((tg, F), (torch, torch.nn.functional)):
        xt = lib.tensor(x, requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)
        y = (f.batch_norm(xt, None, None, wt, training=True) ** 3).sum()
        grad = tg.autograd.grad if lib is tg else torch.autograd.grad
        gx, = grad(y, [xt], create_graph=True)
        (gx * gx).sum().backward()
        out.append((xt.grad.numpy().copy(), wt.grad.numpy().copy()))
    for mine, theirs in zip(out[0], out[1], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-10)


# --------------------------------------------------------------------------- modules


@pytest.mark.parametrize("kw", [dict(), dict(momentum=0.3), dict(momentum=None),
                                dict(affine=False), dict(track_running_stats=False),
                                dict(bias=False), dict(eps=1e-2)], ids=str)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_batch_norm_module_steps_as_torch(kw, dtype):
    torch = _torch()
    ours = nn.BatchNorm2d(3, dtype=getattr(tg, dtype), **kw)
    theirs = torch.nn.BatchNorm2d(3, dtype=getattr(torch, dtype), **kw)
    if theirs.weight is not None:
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(rng.standard_normal(3)))
    ours.load_state_dict(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for mode in ["train", "train", "train", "eval", "train", "eval"]:
        getattr(ours, mode)()
        getattr(theirs, mode)()
        x = rng.standard_normal((4, 3, 2, 3)) * 2 + 0.5
        _check(ours, theirs, [x], dtype)
        for name, b in theirs.named_buffers():
            mine = dict(ours.named_buffers())[name]
            np.testing.assert_allclose(mine.numpy(), b.numpy(), **_tol(dtype), err_msg=name)
            assert mine.dtype == getattr(tg, str(b.dtype).split(".")[1])
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                     strict=True):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **_tol(dtype),
                                       err_msg=name)
            p.grad = None
            q.grad = None


def test_batch_norm1d_and_3d_modules_match_torch():
    torch = _torch()
    for make, shape in [(lambda n: n.BatchNorm1d(4), (6, 4)), (lambda n: n.BatchNorm1d(4),
                                                               (3, 4, 5)),
                        (lambda n: n.BatchNorm3d(2, momentum=None), (2, 2, 3, 2, 2))]:
        ours, theirs = make(nn), make(torch.nn).double()
        for _ in range(2):
            _check(ours, theirs, [rng.standard_normal(shape)], "float64")
        np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(),
                                   rtol=1e-12)
        ours.eval()
        theirs.eval()
        _check(ours, theirs, [rng.standard_normal(shape)], "float64")


def test_batch_norm_loads_a_torch_state_dict():
    torch = _torch()
    theirs = torch.nn.BatchNorm1d(3).double()
    theirs(torch.randn(5, 3, dtype=torch.float64) * 3 + 1)
    theirs.eval()
    ours = nn.BatchNorm1d(3)
    ours.load_state_dict(theirs.state_dict())
    ours.eval()
    assert int(ours.num_batches_tracked) == 1
    _check(ours, theirs, [rng.standard_normal((4, 3))], "float64")


@pytest.mark.parametrize("make", [
    lambda n: n.LayerNorm(6), lambda n: n.LayerNorm([5, 6], eps=1e-3),
    lambda n: n.LayerNorm(6, elementwise_affine=False), lambda n: n.LayerNorm(6, bias=False),
    lambda n: n.GroupNorm(2, 4), lambda n: n.GroupNorm(1, 4, affine=False),
    lambda n: n.GroupNorm(4, 4, bias=False)])
def test_layer_and_group_norm_modules_match_torch(make):
    torch = _torch()
    ours, theirs = make(nn), make(torch.nn).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for p in theirs.parameters():  # (not the initial ones and zeros)
        with torch.no_grad():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))
    ours.load_state_dict(theirs.state_dict())
    shape = (2, 4, 5, 6)
    _check(ours, theirs, [rng.standard_normal(shape)], "float64")
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                 strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, err_msg=name)


def test_norm_initialisation_matches_torch():
    torch = _torch()
    for make in [lambda n: n.BatchNorm2d(5), lambda n: n.LayerNorm((2, 3)),
                 lambda n: n.GroupNorm(1, 3)]:
        ours, theirs = make(nn), make(torch.nn).double()
        for name, v in theirs.state_dict().items():
            np.testing.assert_array_equal(ours.state_dict()[name].numpy(), v.numpy())
        assert all(p.requires_grad for p in ours.parameters())


def _raised(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001 -- the error itself is compared
        return type(e), str(e).replace("tapegrad.", "torch.")
    return None


ERRORS = [
    lambda f, n, z: f.layer_norm(z(2, 4), (3,)),
    lambda f, n, z: f.layer_norm(z(2, 4), (2, 3)),
    lambda f, n, z: f.layer_norm(z(2, 4), (4,), z(3)),
    lambda f, n, z: f.group_norm(z(2, 3, 4), 2),
    lambda f, n, z: f.group_norm(z(2, 4, 4), 2, z(3)),
    lambda f, n, z: f.group_norm(z(2), 1),
    lambda f, n, z: f.batch_norm(z(1, 3), z(3), z(3), training=True),
    lambda f, n, z: f.batch_norm(z(1, 3, 1), z(3), z(3), training=True),
    lambda f, n, z: f.batch_norm(z(2, 3), None, None, training=False),
    lambda f, n, z: f.batch_norm(z(2, 3), z(4), z(4)),
    lambda f, n, z: f.batch_norm(z(2, 3), z(3), z(3), z(4)),
    lambda f, n, z: n.BatchNorm1d(3)(z(2, 3, 4, 5)),
    lambda f, n, z: n.BatchNorm2d(3)(z(2, 3)),
    lambda f, n, z: n.BatchNorm3d(3)(z(2, 3)),
    lambda f, n, z: n.GroupNorm(2, 3),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    torch = _torch()
    mine = _raised(lambda: ERRORS[i](F, nn, tg.zeros))
    theirs = _raised(lambda: ERRORS[i](torch.nn.functional, torch.nn, torch.zeros))
    assert theirs is not None
    assert mine == theirs


def test_batch_norm_under_compile_updates_running_stats():
    bn = nn.BatchNorm1d(3)
    ref = nn.BatchNorm1d(3)
    w = tg.tensor(rng.standard_normal(3))

    def f(module):
        return lambda x: (module(x) * w).tanh().sum()

    x0 = rng.standard_normal((5, 3))
    tape = tg.compile(f(bn), x0)
    f(ref)(tg.tensor(x0))
    for _ in range(2):
        x = rng.standard_normal((5, 3)) * 2
        xt = tg.tensor(x, requires_grad=True)
        y = f(ref)(xt)
        y.backward()
        np.testing.assert_allclose(tape(x), y.item(), rtol=1e-12)
        np.testing.assert_allclose(bn.running_mean.detach().numpy(), ref.running_mean.numpy(),
                                   rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.detach().numpy(), ref.running_var.numpy(),
                                   rtol=1e-12)
    # (a buffer updated while tg.compile records is left on the compile tape -- it reports
    # requires_grad -- hence the detach above)
    # the gradient call replays the forward too: one more update on both sides
    g = tape.gradient(x)
    xt = tg.tensor(x, requires_grad=True)
    f(ref)(xt).backward()
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(bn.running_var.detach().numpy(), ref.running_var.numpy(), rtol=1e-12)


def test_mixed_dtypes_refused_as_torch():
    torch = _torch()
    cases = [
        lambda f, t: f.batch_norm(t.zeros(2, 3, dtype=t.float64), t.zeros(3), t.ones(3),
                                  training=True),
        lambda f, t: f.batch_norm(t.zeros(2, 3), None, None, t.ones(3, dtype=t.float64),
                                  training=True),
        lambda f, t: f.layer_norm(t.zeros(2, 3, dtype=t.float64), (3,), t.ones(3)),
        lambda f, t: f.group_norm(t.zeros(2, 4), 2, t.ones(4, dtype=t.float64)),
    ]
    for case in cases:
        theirs = _raised(lambda c=case: c(torch.nn.functional, torch))
        assert theirs is not None
        assert _raised(lambda c=case: c(F, _F32(tg))) == theirs


class _F32:
    """tapegrad with torch's float32 default for zeros/ones (tapegrad's is float64)."""

    def __init__(self, lib):
        self.float64 = lib.float64
        self._lib = lib

    def zeros(self, *shape, dtype=None):
        return self._lib.zeros(*shape, dtype=dtype or self._lib.float32)

    def ones(self, *shape, dtype=None):
        return self._lib.ones(*shape, dtype=dtype or self._lib.float32)


# --------------------------------------------------------------------------- instance norm


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(3, 2, 5), (2, 3, 4, 5)], ids=str)
def test_instance_norm_matches_torch(shape, dtype):
    torch = _torch()
    c = shape[1]
    x = rng.standard_normal(shape) * 2 + 1
    rm, rv = rng.standard_normal(c), rng.random(c) + 0.5
    stats = {}

    def run(lib, f, x, w, b):
        m = lib.tensor(rm, dtype=x.dtype)
        v = lib.tensor(rv, dtype=x.dtype)
        out = f.instance_norm(x, m, v, w, b, momentum=0.2, eps=1e-3)
        stats[lib.__name__] = (m.numpy(), v.numpy())
        return out

    _check(lambda *t: run(tg, F, *t), lambda *t: run(torch, torch.nn.functional, *t),
           [x, rng.standard_normal(c), rng.standard_normal(c)], dtype)
    for mine, theirs in zip(stats["tapegrad"], stats["torch"], strict=True):
        np.testing.assert_allclose(mine, theirs, **_tol(dtype))
    _check(lambda x: F.instance_norm(x, tg.tensor(rm, dtype=x.dtype),
                                     tg.tensor(rv, dtype=x.dtype), use_input_stats=False),
           lambda x: torch.nn.functional.instance_norm(
               x, torch.tensor(rm, dtype=x.dtype), torch.tensor(rv, dtype=x.dtype),
               use_input_stats=False), [x], dtype)
    check_gradients(lambda x: F.instance_norm(x), [rng.standard_normal((2, 2, 3))])


@pytest.mark.parametrize("make,shape", [
    (lambda n: n.InstanceNorm2d(3), (2, 3, 4, 5)),
    (lambda n: n.InstanceNorm2d(3, affine=True, track_running_stats=True), (2, 3, 4, 5)),
    (lambda n: n.InstanceNorm1d(3, momentum=0.3, track_running_stats=True), (2, 3, 6)),
    (lambda n: n.InstanceNorm1d(3, affine=True), (3, 6)),  # unbatched
    (lambda n: n.InstanceNorm2d(3, affine=True, bias=False), (3, 4, 5))], ids=str)
def test_instance_norm_modules_match_torch(make, shape):
    torch = _torch()
    ours, theirs = make(nn), make(torch.nn).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for p in theirs.parameters():
        with torch.no_grad():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape))))
    ours.load_state_dict(theirs.state_dict())
    for mode in ["train", "train", "eval"]:
        getattr(ours, mode)()
        getattr(theirs, mode)()
        _check(ours, theirs, [rng.standard_normal(shape) * 2 + 1], "float64")
        for name, b in theirs.named_buffers():
            np.testing.assert_allclose(dict(ours.named_buffers())[name].numpy(), b.numpy(),
                                       rtol=1e-12, err_msg=name)
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                     strict=True):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10,
                                       err_msg=name)
            p.grad = q.grad = None


def test_instance_norm_errors_and_warning_match_torch():
    torch = _torch()
    cases = [lambda f, n, z: n.InstanceNorm2d(3)(z(2, 3)),
             lambda f, n, z: n.InstanceNorm1d(3)(z(2, 3, 4, 5)),
             lambda f, n, z: n.InstanceNorm1d(3, affine=True)(z(2, 4, 5)),
             lambda f, n, z: f.instance_norm(z(2, 3, 1))]
    for case in cases:
        theirs = _raised(lambda c=case: c(torch.nn.functional, torch.nn, torch.zeros))
        assert theirs is not None
        assert _raised(lambda c=case: c(F, nn, tg.zeros)) == theirs
    with pytest.warns(UserWarning) as ours:
        nn.InstanceNorm1d(3)(tg.zeros(2, 4, 5))
    with pytest.warns(UserWarning) as want:
        torch.nn.InstanceNorm1d(3)(torch.zeros(2, 4, 5))
    assert str(ours[0].message) == str(want[0].message)


def test_integer_inputs_refused_as_torch():
    torch = _torch()
    x = np.arange(12).reshape(2, 3, 2)
    for call in (lambda f, t: f.batch_norm(t, None, None, training=True),
                 lambda f, t: f.layer_norm(t, (2,)), lambda f, t: f.group_norm(t, 1),
                 lambda f, t: f.instance_norm(t)):
        theirs = _raised(lambda c=call: c(torch.nn.functional, torch.tensor(x)))
        assert theirs[0] is NotImplementedError
        assert _raised(lambda c=call: c(F, tg.tensor(x))) == theirs
