"""Convolutions and pooling (tapegrad.nn.conv, tapegrad.nn.pooling) against torch: values, input
and parameter gradients in float64 and float32 over strides, paddings, dilations and groups;
indices; torch's errors; finite differences, second order and tg.compile; module reprs and
initialisation bounds; a small CNN trained with SGD step for step as torch's."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import check_gradients

import tapegrad as tg
import tapegrad.nn.functional as F
from tapegrad import nn

rng = np.random.default_rng(11)


def _torch():
    return pytest.importorskip("torch")


def _tol(dtype):
    return dict(rtol=1e-11, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-5)


def _both(arrays, dtype, grad=True):
    torch = _torch()
    a = [tg.tensor(x, dtype=getattr(tg, dtype), requires_grad=grad) for x in arrays]
    b = [torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=grad) for x in arrays]
    return a, b


def _check(fn_tg, fn_torch, arrays, dtype, grad_of=None):
    """Values of fn on both sides, then the gradients of a random weighting of the output."""
    torch = _torch()
    a, b = _both(arrays, dtype)
    out_a, out_b = fn_tg(*a), fn_torch(*b)
    tol = _tol(dtype)
    np.testing.assert_allclose(out_a.detach().numpy(), out_b.detach().numpy(), **tol)
    assert out_a.dtype == getattr(tg, dtype)
    g = rng.standard_normal(tuple(out_b.shape))
    (out_a * tg.tensor(g, dtype=out_a.dtype)).sum().backward()
    (out_b * torch.tensor(g, dtype=out_b.dtype)).sum().backward()
    for i in range(len(arrays)) if grad_of is None else grad_of:
        np.testing.assert_allclose(a[i].grad.numpy(), b[i].grad.numpy(), **tol,
                                   err_msg=f"gradient of argument {i}")


CONV2D = [
    dict(),
    dict(stride=2),
    dict(padding=1),
    dict(padding=(2, 1), stride=(1, 2)),
    dict(dilation=2, padding=2),
    dict(dilation=(1, 2), stride=(2, 1), padding=(0, 1)),
    dict(groups=2),
    dict(groups=4, padding=1, stride=2),
    dict(padding="same"),
    dict(padding="same", dilation=(2, 1)),
    dict(padding="valid", groups=2),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", CONV2D, ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_matches_torch(kw, dtype, bias):
    torch = _torch()
    groups = kw.get("groups", 1)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((8, 4 // groups, 3, 2))
    arrays = [x, w] + ([rng.standard_normal(8)] if bias else [])
    _check(lambda *t: F.conv2d(*t[:2], t[2] if bias else None, **kw),
           lambda *t: torch.nn.functional.conv2d(*t[:2], t[2] if bias else None, **kw),
           arrays, dtype)


CONV1D = [dict(), dict(stride=3, padding=2), dict(dilation=3), dict(groups=3, padding="same"),
          dict(padding="same", dilation=2)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", CONV1D, ids=str)
def test_conv1d_matches_torch(kw, dtype):
    torch = _torch()
    groups = kw.get("groups", 1)
    arrays = [rng.standard_normal((3, 6, 11)), rng.standard_normal((6, 6 // groups, 4)),
              rng.standard_normal(6)]
    _check(lambda *t: F.conv1d(*t, **kw), lambda *t: torch.nn.functional.conv1d(*t, **kw),
           arrays, dtype)


@pytest.mark.parametrize("kw", [dict(), dict(stride=(1, 2, 1), padding=1, groups=2)], ids=str)
def test_conv3d_matches_torch(kw):
    torch = _torch()
    groups = kw.get("groups", 1)
    arrays = [rng.standard_normal((2, 2, 4, 5, 3)), rng.standard_normal((4, 2 // groups, 2, 3, 2)),
              rng.standard_normal(4)]
    _check(lambda *t: F.conv3d(*t, **kw), lambda *t: torch.nn.functional.conv3d(*t, **kw),
           arrays, "float64")


def test_conv_unbatched_matches_torch():
    torch = _torch()
    _check(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: torch.nn.functional.conv2d(
        x, w, padding=1), [rng.standard_normal((2, 4, 4)), rng.standard_normal((3, 2, 3, 3))],
        "float64")
    _check(lambda x, w: F.conv1d(x, w), lambda x, w: torch.nn.functional.conv1d(x, w),
           [rng.standard_normal((2, 5)), rng.standard_normal((3, 2, 2))], "float64")


def test_conv_gradients_by_finite_differences():
    check_gradients(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2),
                                             groups=2),
                    [rng.standard_normal((1, 2, 5, 6)), rng.standard_normal((4, 1, 2, 2)),
                     rng.standard_normal(4)])
    check_gradients(lambda x, w: F.conv1d(x, w, padding="same"),
                    [rng.standard_normal((2, 2, 5)), rng.standard_normal((3, 2, 4))])


def test_conv_second_order_matches_torch():
    torch = _torch()
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    grads = []
    for lib, f in ((tg, F), (torch, torch.nn.functional)):
        xt = lib.tensor(x, requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)
        y = f.conv2d(xt, wt, stride=2, padding=1).tanh().sum()
        gx, = (tg.autograd.grad if lib is tg else torch.autograd.grad)(y, [xt],
                                                                       create_graph=True)
        (gx * gx).sum().backward()
        grads.append((wt.grad.numpy().copy(), xt.grad.numpy().copy()))
    for mine, theirs in zip(grads[0], grads[1], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_conv_and_pool_under_compile():
    w = tg.tensor(rng.standard_normal((3, 2, 3, 3)))

    def f(x):
        h = F.conv2d(x, w, padding=1).relu()
        return (F.max_pool2d(h, 2) + F.avg_pool2d(h, 2)).sum()

    x0, x1 = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((2, 2, 6, 6))
    tape = tg.compile(f, x0)
    xt = tg.tensor(x1, requires_grad=True)
    y = f(xt)
    y.backward()
    np.testing.assert_allclose(tape(x1), y.item(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(x1), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- pooling

MAXPOOL2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1)),
    dict(kernel_size=2, stride=1),  # overlapping windows: gradients add up
    dict(kernel_size=3, stride=2, ceil_mode=True),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", MAXPOOL2D, ids=str)
def test_max_pool2d_matches_torch(kw, dtype):
    torch = _torch()
    x = rng.standard_normal((2, 3, 7, 6))
    _check(lambda t: F.max_pool2d(t, **kw), lambda t: torch.nn.functional.max_pool2d(t, **kw),
           [x], dtype)
    _, idx = F.max_pool2d(tg.tensor(x), return_indices=True, **kw)
    _, want = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    assert idx.dtype == tg.int64 and not idx.requires_grad
    np.testing.assert_array_equal(idx.numpy(), want.numpy())


def test_max_pool_ties_go_to_the_first_as_torch():
    torch = _torch()
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1:3, 1:3] = 1.0
    _check(lambda t: F.max_pool2d(t, 2, 1), lambda t: torch.nn.functional.max_pool2d(t, 2, 1),
           [x], "float64")
    _check(lambda t: F.max_pool1d(t, 3, 1, 1), lambda t: torch.nn.functional.max_pool1d(
        t, 3, 1, 1), [np.array([[[2.0, 2.0, 1.0, 2.0, 2.0]]])], "float64")


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1,
                                                          ceil_mode=True),
                                dict(kernel_size=2, dilation=2, return_indices=True)], ids=str)
def test_max_pool1d_and_3d_match_torch(kw):
    torch = _torch()
    ri = kw.get("return_indices", False)
    pick = (lambda r: r[0]) if ri else (lambda r: r)
    _check(lambda t: pick(F.max_pool1d(t, **kw)),
           lambda t: pick(torch.nn.functional.max_pool1d(t, **kw)),
           [rng.standard_normal((2, 3, 9))], "float64")
    _check(lambda t: pick(F.max_pool3d(t, **kw)),
           lambda t: pick(torch.nn.functional.max_pool3d(t, **kw)),
           [rng.standard_normal((1, 2, 5, 4, 6))], "float64")
    if ri:
        x = rng.standard_normal((1, 2, 5, 4, 6))
        np.testing.assert_array_equal(
            F.max_pool3d(tg.tensor(x), **kw)[1].numpy(),
            torch.nn.functional.max_pool3d(torch.tensor(x), **kw)[1].numpy())


AVGPOOL2D = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 1), divisor_override=5),
    dict(kernel_size=2, stride=3, ceil_mode=True),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", AVGPOOL2D, ids=str)
def test_avg_pool2d_matches_torch(kw, dtype):
    torch = _torch()
    _check(lambda t: F.avg_pool2d(t, **kw), lambda t: torch.nn.functional.avg_pool2d(t, **kw),
           [rng.standard_normal((2, 3, 7, 8))], dtype)


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=3, stride=2, padding=1,
                                                          ceil_mode=True,
                                                          count_include_pad=False)], ids=str)
def test_avg_pool1d_and_3d_match_torch(kw):
    torch = _torch()
    _check(lambda t: F.avg_pool1d(t, **kw), lambda t: torch.nn.functional.avg_pool1d(t, **kw),
           [rng.standard_normal((2, 3, 10))], "float64")
    _check(lambda t: F.avg_pool3d(t, **kw), lambda t: torch.nn.functional.avg_pool3d(t, **kw),
           [rng.standard_normal((1, 2, 5, 6, 7))], "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("size", [1, 2, (3, 2), (4, 5), (None, 3), (7, 6), (10, 8), (9, 13)],
                         ids=str)
def test_adaptive_pool2d_matches_torch(size, dtype):
    torch = _torch()
    x = rng.standard_normal((2, 3, 7, 6))
    _check(lambda t: F.adaptive_avg_pool2d(t, size),
           lambda t: torch.nn.functional.adaptive_avg_pool2d(t, size), [x], dtype)
    _check(lambda t: F.adaptive_max_pool2d(t, size),
           lambda t: torch.nn.functional.adaptive_max_pool2d(t, size), [x], dtype)
    _, idx = F.adaptive_max_pool2d(tg.tensor(x), size, return_indices=True)
    _, want = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), size, True)
    np.testing.assert_array_equal(idx.numpy(), want.numpy())


@pytest.mark.parametrize("size", [1, 3, 4])
def test_adaptive_pool1d_matches_torch(size):
    torch = _torch()
    x = rng.standard_normal((2, 3, 10))
    _check(lambda t: F.adaptive_avg_pool1d(t, size),
           lambda t: torch.nn.functional.adaptive_avg_pool1d(t, size), [x], "float64")
    _check(lambda t: F.adaptive_max_pool1d(t, size),
           lambda t: torch.nn.functional.adaptive_max_pool1d(t, size), [x], "float64")


def test_pool_unbatched_matches_torch():
    torch = _torch()
    x = rng.standard_normal((3, 5, 6))
    for name, kw in [("max_pool2d", dict(kernel_size=2)), ("avg_pool2d", dict(kernel_size=2)),
                     ("adaptive_avg_pool2d", dict(output_size=2)),
                     ("adaptive_max_pool2d", dict(output_size=(2, 3))),
                     ("max_pool1d", dict(kernel_size=2))]:
        _check(lambda t, n=name, k=kw: getattr(F, n)(t, **k),
               lambda t, n=name, k=kw: getattr(torch.nn.functional, n)(t, **k), [x], "float64")
    _, idx = F.max_pool2d(tg.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(
        idx.numpy(), torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)[1])


def test_pool_gradients_by_finite_differences():
    x = rng.standard_normal((1, 2, 5, 5))
    check_gradients(lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True), [x])
    check_gradients(lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True,
                                           count_include_pad=False), [x])
    check_gradients(lambda t: F.adaptive_avg_pool2d(t, (3, 2)), [x])
    check_gradients(lambda t: F.adaptive_max_pool2d(t, (2, 3)), [x])


def _raised(call):
    try:
        call()
    except Exception as e:  # noqa: BLE001 -- the error itself is compared
        return type(e), str(e)
    return None


ERRORS = [
    lambda f, z: f.conv2d(z(4, 4), z(1, 1, 2, 2)),
    lambda f, z: f.conv2d(z(1, 2, 4, 4), z(1, 1, 2, 2)),
    lambda f, z: f.conv2d(z(1, 1, 1, 1), z(1, 1, 2, 2)),
    lambda f, z: f.conv2d(z(1, 1, 4, 4), z(1, 1, 2, 2), stride=2, padding="same"),
    lambda f, z: f.conv2d(z(1, 1, 4, 4), z(1, 1, 2, 2), padding="foo"),
    lambda f, z: f.conv1d(z(2, 4, 4), z(3, 2, 2), groups=2),
    lambda f, z: f.conv1d(z(1, 2, 4), z(2, 2, 2), groups=0),
    lambda f, z: f.conv1d(z(1, 2, 4), z(2, 2, 2), stride=0),
    lambda f, z: f.conv1d(z(1, 2, 4), z(2, 2, 2), padding=-1),
    lambda f, z: f.conv2d(z(1, 1, 4, 4), z(1, 1, 2, 2), z(2)),
    lambda f, z: f.conv2d(z(1, 2, 4, 4), z(2, 2)),
    lambda f, z: f.max_pool2d(z(1, 1, 4, 4), 2, padding=2),
    lambda f, z: f.max_pool2d(z(1, 1, 6, 6), (4, 2), padding=(3, 1)),
    lambda f, z: f.max_pool2d(z(1, 1, 1, 1), 2),
    lambda f, z: f.max_pool2d(z(4, 4), 2),
    lambda f, z: f.max_pool3d(z(6, 6), 2),
    lambda f, z: f.max_pool1d(z(1, 1, 4), 2, padding=2),
    lambda f, z: f.max_pool1d(z(6), 2),
    lambda f, z: f.max_pool1d(z(1, 1, 6), 0, stride=1),
    lambda f, z: f.max_pool1d(z(1, 1, 6), 2, stride=0),
    lambda f, z: f.max_pool1d(z(1, 1, 6), 2, dilation=0),
    lambda f, z: f.max_pool1d(z(1, 1, 1), 2),
    lambda f, z: f.max_pool2d(z(1, 1, 4, 4), 0),
    lambda f, z: f.max_pool2d(z(1, 1, 6, 6), (2, 0), stride=1),
    lambda f, z: f.max_pool2d(z(1, 1, 6, 6), 2, dilation=0),
    lambda f, z: f.avg_pool2d(z(1, 1, 4, 4), 2, padding=2),
    lambda f, z: f.avg_pool1d(z(1, 1, 4), 2, padding=2),
    lambda f, z: f.avg_pool1d(z(1, 1, 1), 2),
    lambda f, z: f.avg_pool1d(z(6), 2),
    lambda f, z: f.avg_pool2d(z(1, 1, 4, 4), 2, divisor_override=0),
    lambda f, z: f.adaptive_avg_pool2d(z(4), 2),
    lambda f, z: f.adaptive_max_pool2d(z(4), 2),
    lambda f, z: f.adaptive_avg_pool1d(z(6), 2),
    lambda f, z: f.adaptive_avg_pool2d(z(1, 6, 6), (2, -1)),
    lambda f, z: f.adaptive_max_pool2d(z(2, 3, 6, 6), (-1, 2)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    torch = _torch()
    mine = _raised(lambda: ERRORS[i](F, tg.zeros))
    theirs = _raised(lambda: ERRORS[i](torch.nn.functional, torch.zeros))
    assert theirs is not None and mine == theirs


# --------------------------------------------------------------------------- modules


def _module_pair(make):
    torch = _torch()
    ours, theirs = make(nn), make(torch.nn).double()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs, torch


MODULES = [
    lambda n: n.Conv2d(4, 6, 3),
    lambda n: n.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2,
                       bias=False),
    lambda n: n.Conv2d(4, 4, 3, padding="same", groups=4),
    lambda n: n.Conv2d(4, 2, 3, padding=(1, 2), padding_mode="reflect"),
    lambda n: n.Conv2d(4, 2, 3, padding=1, padding_mode="replicate"),
    lambda n: n.Conv2d(4, 2, 3, padding=1, padding_mode="circular"),
    lambda n: n.Conv2d(4, 2, 4, padding="same", padding_mode="circular"),
    lambda n: n.Conv1d(4, 3, 2, stride=2),
    lambda n: n.MaxPool2d(2),
    lambda n: n.MaxPool2d(3, 2, 1, ceil_mode=True),
    lambda n: n.AvgPool2d(3, 2, 1, count_include_pad=False),
    lambda n: n.AdaptiveAvgPool2d((3, None)),
    lambda n: n.AdaptiveMaxPool2d(2),
]


@pytest.mark.parametrize("i", range(len(MODULES)))
def test_modules_match_torch(i):
    ours, theirs, torch = _module_pair(MODULES[i])
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    shape = (2, 4, 7, 6) if "2d" in repr(ours) else (2, 4, 9)
    x = rng.standard_normal(shape)
    _check(ours, theirs, [x], "float64")
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                 strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-11, atol=1e-12,
                                   err_msg=name)


def test_module_reprs_and_attributes_match_torch():
    torch = _torch()
    makers = MODULES + [
        lambda n: n.Conv1d(2, 4, 3, padding="valid"), lambda n: n.Conv3d(2, 4, (1, 2, 3)),
        lambda n: n.MaxPool1d(3, 2, 1, dilation=1), lambda n: n.MaxPool3d(2, return_indices=True),
        lambda n: n.AvgPool1d(3), lambda n: n.AvgPool3d(2, ceil_mode=True),
        lambda n: n.AdaptiveAvgPool1d(4), lambda n: n.AdaptiveMaxPool1d(3)]
    for make in makers:
        ours, theirs = make(nn), make(torch.nn)
        assert repr(ours) == repr(theirs)
        for attr in ("kernel_size", "stride", "padding", "dilation", "groups", "padding_mode",
                     "_reversed_padding_repeated_twice", "output_size", "ceil_mode",
                     "count_include_pad", "return_indices", "transposed", "output_padding"):
            assert getattr(ours, attr, None) == getattr(theirs, attr, None), attr


def _unordered(error):
    """A message with torch's printed sets (in hash order) sorted."""
    import re

    kind, text = error
    return kind, re.sub(r"\{[^}]*\}", lambda m: str(sorted(m.group(0)[1:-1].split(", "))),
                        text)


def test_conv_module_errors_match_torch():
    torch = _torch()
    for args, kw in [((4, 6, 3), dict(groups=3)), ((3, 6, 3), dict(groups=2)),
                     ((4, 5, 3), dict(groups=2)), ((4, 4, 3), dict(groups=0)),
                     ((4, 4, 3), dict(padding="full")),
                     ((4, 4, 3), dict(padding="same", stride=2)),
                     ((4, 4, 3), dict(padding_mode="mirror"))]:
        assert _unordered(_raised(lambda a=args, k=kw: nn.Conv2d(*a, **k))) == \
            _unordered(_raised(lambda a=args, k=kw: torch.nn.Conv2d(*a, **k)))


def test_conv_init_bounds_match_torch():
    # the values are drawn from tapegrad's generator; their bounds are torch's
    tg.manual_seed(3)
    for module, fan_in in [(nn.Conv2d(6, 8, (3, 5), groups=2), 3 * 15),
                           (nn.Conv1d(4, 50, 7), 28)]:
        bound = 1 / math.sqrt(fan_in)
        for p in (module.weight, module.bias):
            v = p.detach().numpy()
            assert np.abs(v).max() <= bound
            if v.size >= 50:  # spread over the interval, not a corner of it
                assert np.abs(v).max() > 0.8 * bound and v.min() < 0 < v.max()
        assert module.weight.requires_grad and module.weight.dtype == tg.float64
    assert nn.Conv2d(1, 1, 1, dtype=tg.float32).weight.dtype == tg.float32


def test_conv_module_float32_matches_torch():
    torch = _torch()
    theirs = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
    ours = nn.Conv2d(3, 4, 3, stride=2, padding=1, dtype=tg.float32)
    ours.load_state_dict(theirs.state_dict())
    x = rng.standard_normal((2, 3, 8, 8))
    _check(ours, theirs, [x], "float32")


def _small_cnn(n):
    return n.Sequential(n.Conv2d(1, 4, 3, padding=1), n.ReLU(), n.MaxPool2d(2),
                        n.Conv2d(4, 6, 3, stride=2, groups=2), n.Tanh(),
                        n.AdaptiveAvgPool2d(1), n.Flatten(), n.Linear(6, 3))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_small_cnn_trains_as_torch(dtype):
    torch = _torch()
    theirs = _small_cnn(torch.nn).to(getattr(torch, dtype))
    ours = _small_cnn(nn).to(getattr(tg, dtype))
    ours.load_state_dict(theirs.state_dict())
    rtol = 1e-11 if dtype == "float64" else 1e-4
    opt_a = tg.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    opt_b = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    for step in range(4):
        x = rng.standard_normal((5, 1, 10, 10))
        y = rng.integers(0, 3, 5)
        losses = []
        for lib, net, opt in ((tg, ours, opt_a), (torch, theirs, opt_b)):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(net(lib.tensor(x, dtype=getattr(lib, dtype))),
                                                   lib.tensor(y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        np.testing.assert_allclose(losses[0], losses[1], rtol=rtol, err_msg=f"step {step}")
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                 strict=True):
        assert p.dtype == getattr(tg, dtype)
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=rtol * 10,
                                   atol=rtol * 10, err_msg=name)


def test_max_pool_nan_and_ties_as_torch():
    # torch takes a window's first max, or its last NaN: values, indices and gradients
    torch = _torch()
    x = rng.standard_normal((1, 2, 4, 6))
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = np.nan
    x[0, 1, 2:4, 2:4] = 3.0
    for name, args in [("max_pool2d", (2,)), ("max_pool2d", (3, 1, 1)),
                       ("adaptive_max_pool2d", ((3, 4),))]:
        a = tg.tensor(x, requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        ya, ia = getattr(F, name)(a, *args, return_indices=True)
        yb, ib = getattr(torch.nn.functional, name)(b, *args, return_indices=True)
        np.testing.assert_array_equal(ya.detach().numpy(), yb.detach().numpy())
        np.testing.assert_array_equal(ia.numpy(), ib.numpy())
        ya.sum().backward()
        yb.sum().backward()
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_compiled_max_pool_replays_without_recording_again():
    # the window's choice stays on the tape: new inputs (new argmaxes) need no retape
    def f(x):
        return (F.max_pool2d(x, 2, 1) ** 2).sum() + F.adaptive_max_pool2d(x, 2).sum()

    tape = tg.compile(f, rng.standard_normal((1, 2, 5, 5)), on_guard="raise")
    for _ in range(3):
        x = rng.standard_normal((1, 2, 5, 5))
        xt = tg.tensor(x, requires_grad=True)
        f(xt).backward()
        np.testing.assert_allclose(tape.gradient(x), xt.grad.numpy(), rtol=1e-12)
    assert tape.retapes == 0


def test_outputs_are_contiguous_as_torch():
    torch = _torch()
    x = rng.standard_normal((2, 4, 6, 5))
    for name, args in [("conv2d", (rng.standard_normal((4, 2, 3, 3)), None, 1, 1, 1, 2)),
                       ("conv1d", (rng.standard_normal((3, 4, 2)),)),
                       ("max_pool2d", (2,)), ("avg_pool2d", (3, 2, 1)),
                       ("adaptive_avg_pool2d", ((2, 3),)), ("adaptive_max_pool2d", (3,))]:
        xi = x[:, :, 0] if name == "conv1d" else x
        ours = getattr(F, name)(tg.tensor(xi), *[tg.tensor(a) if isinstance(a, np.ndarray)
                                                 else a for a in args])
        theirs = getattr(torch.nn.functional, name)(
            torch.tensor(xi), *[torch.tensor(a) if isinstance(a, np.ndarray) else a
                                for a in args])
        assert ours.is_contiguous() == theirs.is_contiguous() is True, name
        assert tuple(ours.view(-1).shape) == (theirs.numel(),)


def test_mixed_dtypes_refused_as_torch():
    torch = _torch()
    for x, w, b in [("float32", "float64", None), ("float64", "float32", None),
                    ("float32", "float32", "float64")]:
        def call(lib, f, x=x, w=w, b=b):
            return f.conv2d(lib.zeros(1, 1, 3, 3, dtype=getattr(lib, x)),
                            lib.zeros(1, 1, 2, 2, dtype=getattr(lib, w)),
                            None if b is None else lib.zeros(1, dtype=getattr(lib, b)))
        assert _raised(lambda c=call: c(tg, F)) == \
            _raised(lambda c=call: c(torch, torch.nn.functional))

        def call_t(lib, f, x=x, w=w, b=b):
            return f.conv_transpose2d(lib.zeros(1, 1, 3, 3, dtype=getattr(lib, x)),
                                      lib.zeros(1, 1, 2, 2, dtype=getattr(lib, w)),
                                      None if b is None else lib.zeros(1, dtype=getattr(lib, b)))
        if b is None:
            assert _raised(lambda c=call_t: c(tg, F)) == \
                _raised(lambda c=call_t: c(torch, torch.nn.functional))
        else:  # (torch's transposed convolution casts the bias to the input's dtype)
            assert call_t(tg, F).dtype == tg.float32


def test_pool_second_order_matches_torch():
    torch = _torch()
    x = rng.standard_normal((2, 2, 5, 5))
    out = []
    for lib, f in ((tg, F), (torch, torch.nn.functional)):
        xt = lib.tensor(x, requires_grad=True)
        y = ((f.max_pool2d(xt, 2, 1) ** 3).sum() + (f.avg_pool2d(xt, 3, 2, 1) ** 3).sum() +
             (f.adaptive_max_pool2d(xt, 2) ** 3).sum())
        grad = tg.autograd.grad if lib is tg else torch.autograd.grad
        gx, = grad(y, [xt], create_graph=True)
        (gx * gx).sum().backward()
        out.append(xt.grad.numpy().copy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- transposed

CONV_T2D = [
    dict(),
    dict(stride=2),
    dict(stride=2, padding=1, output_padding=1),
    dict(stride=(2, 3), dilation=(1, 2), padding=(1, 2), groups=2, output_padding=(1, 0)),
    dict(groups=2, dilation=2, output_padding=1),
    dict(stride=3, padding=(0, 1)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", CONV_T2D, ids=str)
def test_conv_transpose2d_matches_torch(kw, dtype):
    torch = _torch()
    g = kw.get("groups", 1)
    arrays = [rng.standard_normal((2, 4, 5, 4)), rng.standard_normal((4, 6 // g, 3, 2)),
              rng.standard_normal(6)]
    _check(lambda *t: F.conv_transpose2d(*t, **kw),
           lambda *t: torch.nn.functional.conv_transpose2d(*t, **kw), arrays, dtype)


@pytest.mark.parametrize("kw", [dict(), dict(stride=3, padding=1, output_padding=2),
                                dict(groups=3, dilation=2)], ids=str)
def test_conv_transpose1d_matches_torch(kw):
    torch = _torch()
    arrays = [rng.standard_normal((2, 6, 5)), rng.standard_normal((6, 2, 4))]
    _check(lambda *t: F.conv_transpose1d(*t, **kw),
           lambda *t: torch.nn.functional.conv_transpose1d(*t, **kw), arrays, "float64")
    _check(lambda *t: F.conv_transpose1d(t[0][0], t[1], **kw),  # unbatched
           lambda *t: torch.nn.functional.conv_transpose1d(t[0][0], t[1], **kw), arrays,
           "float64")


def test_conv_transpose_gradients_by_finite_differences():
    check_gradients(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1,
                                                       output_padding=1, groups=2),
                    [rng.standard_normal((1, 2, 3, 2)), rng.standard_normal((2, 2, 3, 3)),
                     rng.standard_normal(4)])


def test_conv_transpose_modules_match_torch():
    torch = _torch()
    for make, shape in [(lambda n: n.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                     output_padding=1, groups=2), (2, 4, 5, 4)),
                        (lambda n: n.ConvTranspose2d(4, 2, (2, 3), bias=False, dilation=2),
                         (2, 4, 3, 3)),
                        (lambda n: n.ConvTranspose1d(3, 5, 4, stride=2), (2, 3, 6))]:
        ours, theirs = make(nn), make(torch.nn).double()
        assert repr(ours) == repr(theirs)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
        for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding",
                     "dilation", "output_padding", "groups", "transposed"):
            assert getattr(ours, attr) == getattr(theirs, attr), attr
        ours.load_state_dict(theirs.state_dict())
        _check(ours, theirs, [rng.standard_normal(shape)], "float64")
        for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                     strict=True):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-11,
                                       err_msg=name)
    # output_size picks the output padding, as torch's
    ours, theirs, _ = _module_pair(lambda n: n.ConvTranspose2d(2, 3, 3, stride=2, padding=1))
    x = rng.standard_normal((1, 2, 4, 4))
    for size in ([7, 7], [8, 7], (1, 3, 8, 8)):
        ya = ours(tg.tensor(x), output_size=size)
        yb = theirs(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-12)
    mine = _raised(lambda: ours(tg.tensor(x), output_size=[9, 9]))
    want = _raised(lambda: theirs(torch.tensor(x), output_size=[9, 9]))
    assert mine[0] is want[0] and mine[1].replace("tapegrad.", "torch.") == want[1]
    # initialisation bounds: 1/sqrt(fan_in), fan_in from the weight's dim 1 (out/groups * k)
    tg.manual_seed(4)
    m = nn.ConvTranspose2d(6, 40, 3, groups=2)
    bound = 1 / math.sqrt(20 * 9)
    for p in m.parameters():
        v = p.detach().numpy()
        assert np.abs(v).max() <= bound and np.abs(v).max() > 0.8 * bound


CONV_T_ERRORS = [
    lambda f, z: f.conv_transpose2d(z(1, 2, 3, 3), z(2, 1, 3, 3), output_padding=1),
    lambda f, z: f.conv_transpose2d(z(1, 2, 3, 3), z(3, 1, 3, 3)),
    lambda f, z: f.conv_transpose1d(z(1, 2, 3), z(2, 1, 3), stride=2, output_padding=2),
    lambda f, z: f.conv_transpose2d(z(3, 3), z(3, 1, 3, 3)),
]


@pytest.mark.parametrize("i", range(len(CONV_T_ERRORS)))
def test_conv_transpose_errors_match_torch(i):
    torch = _torch()
    theirs = _raised(lambda: CONV_T_ERRORS[i](torch.nn.functional, torch.zeros))
    assert theirs is not None
    assert _raised(lambda: CONV_T_ERRORS[i](F, tg.zeros)) == theirs
    assert _raised(lambda: nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")) == \
        _raised(lambda: torch.nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect"))
    for args in [(3, 4, 3, 1, 0, 0, 2), (4, 3, 3, 1, 0, 0, 2), (4, 4, 3, 1, 0, 0, 0)]:
        assert _raised(lambda a=args: nn.ConvTranspose2d(*a)) == \
            _raised(lambda a=args: torch.nn.ConvTranspose2d(*a))


def test_conv_transpose_under_compile():
    w = tg.tensor(rng.standard_normal((2, 3, 3, 3)))

    def f(x):
        return (F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1) ** 2).sum()

    tape = tg.compile(f, rng.standard_normal((2, 2, 4, 4)))
    x = rng.standard_normal((2, 2, 4, 4))
    xt = tg.tensor(x, requires_grad=True)
    y = f(xt)
    y.backward()
    np.testing.assert_allclose(tape(x), y.item(), rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(x), xt.grad.numpy(), rtol=1e-11, atol=1e-13)
    assert tape.retapes == 0


def test_adaptive_pool_to_empty_output():
    # torch gives the empty result (its avg backward then refuses; tapegrad's is zeros)
    torch = _torch()
    x = rng.standard_normal((2, 3, 7, 6))
    for name in ("adaptive_avg_pool2d", "adaptive_max_pool2d"):
        xt = tg.tensor(x, requires_grad=True)
        ours = getattr(F, name)(xt, (0, 2))
        theirs = getattr(torch.nn.functional, name)(torch.tensor(x), (0, 2))
        assert tuple(ours.shape) == tuple(theirs.shape) == (2, 3, 0, 2)
        ours.sum().backward()
        assert (xt.grad.numpy() == 0).all()
    _, idx = F.adaptive_max_pool2d(tg.tensor(x[0]), (2, 0), return_indices=True)
    assert tuple(idx.shape) == (3, 2, 0) and idx.dtype == tg.int64


def test_integer_pooling_as_torch():
    torch = _torch()
    x = rng.integers(-50, 50, (2, 3, 7, 6))
    for name, args in [("max_pool2d", (2,)), ("max_pool2d", (3, 2, 1)), ("avg_pool2d", (2,)),
                       ("avg_pool2d", (3, 2, 1)), ("avg_pool2d", (3, 2, 1, True, False))]:
        xi = x[:, :, 0] if name.endswith("1d") else x
        ours = getattr(F, name)(tg.tensor(xi), *args)
        theirs = getattr(torch.nn.functional, name)(torch.tensor(xi), *args)
        assert ours.dtype == tg.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)
    for name in ("adaptive_avg_pool2d", "adaptive_max_pool2d", "adaptive_avg_pool1d",
                 "max_pool1d"):
        xi = x[:, :, 0] if name.endswith("1d") else x
        assert _raised(lambda n=name, v=xi: getattr(F, n)(tg.tensor(v), 2)) == \
            _raised(lambda n=name, v=xi: getattr(torch.nn.functional, n)(torch.tensor(v), 2))
