"""Statistics (tapegrad/statistics.py) against torch: quantiles, NaN-aware reductions, mean and
variance pairs, covariance and correlation, closeness and the isnan family, nan_to_num, diff
and logspace -- values, gradients, second derivatives, float64/float32, 0-d and empty inputs,
negative dims, keepdim, errors, finite differences and tg.compile."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tapegrad as tg
from tests.helpers import check_gradients

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(29)
NAN, INF = float("nan"), float("inf")


def _distinct(shape, dtype=np.float64) -> np.ndarray:
    n = int(np.prod(shape))
    return (RNG.permutation(n) + RNG.uniform(0.1, 0.9, n)).reshape(shape).astype(dtype)


def _same_values(a, b, tol=None) -> None:
    if isinstance(b, (bool, np.bool_)):
        assert a is b or a == b
        return
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1], (a.dtype, b.dtype)
    av, bv = a.detach().numpy(), b.detach().numpy()
    if av.dtype.kind != "f":
        np.testing.assert_array_equal(av, bv)
        return
    if tol is None:
        tol = 1e-12 if av.dtype == np.float64 else 2e-6
    np.testing.assert_allclose(av, bv, rtol=tol, atol=tol)


def _args(m, args):
    """Arrays among ``args`` as ``m``'s tensors."""
    return [m.tensor(a) if isinstance(a, np.ndarray) else a for a in args]


def _check(name, arrays, *args, method=False, grad=True, tol=None, second=False, **kwargs):
    """``tg.<name>(*arrays, *args, **kwargs)`` against torch's: every output, and the gradients
    of a random weighting of the first (and with ``second`` the second derivative)."""
    arrays = arrays if isinstance(arrays, list) else [arrays]
    leaves = [grad and a.dtype.kind == "f" for a in arrays]
    tt = [torch.tensor(a, requires_grad=r) for a, r in zip(arrays, leaves, strict=True)]
    gt = [tg.tensor(a, requires_grad=r) for a, r in zip(arrays, leaves, strict=True)]
    extra_t, extra_g = _args(torch, args), _args(tg, args)
    kwargs_t = dict(zip(kwargs, _args(torch, kwargs.values()), strict=True))
    kwargs = dict(zip(kwargs, _args(tg, kwargs.values()), strict=True))
    if method:
        rt = getattr(tt[0], name)(*tt[1:], *extra_t, **kwargs_t)
        rg = getattr(gt[0], name)(*gt[1:], *extra_g, **kwargs)
    else:
        rt = getattr(torch, name)(*tt, *extra_t, **kwargs_t)
        rg = getattr(tg, name)(*gt, *extra_g, **kwargs)
    pt = list(rt) if isinstance(rt, tuple) else [rt]
    pg = list(rg) if isinstance(rg, tuple) else [rg]
    assert len(pt) == len(pg)
    for a, b in zip(pg, pt, strict=True):
        _same_values(a, b, tol)
    if not any(leaves) or not isinstance(pt[0], torch.Tensor) or not pt[0].requires_grad:
        if isinstance(pg[0], tg.Tensor):
            assert not pg[0].requires_grad
        return rg
    w = RNG.uniform(0.5, 1.5, tuple(pt[0].shape)).astype(arrays[0].dtype)
    xs_t = [t for t, r in zip(tt, leaves, strict=True) if r]
    xs_g = [t for t, r in zip(gt, leaves, strict=True) if r]
    dt = torch.autograd.grad(pt[0], xs_t, torch.tensor(w), create_graph=second,
                             allow_unused=True)
    dg = tg.autograd.grad(pg[0], xs_g, tg.tensor(w), create_graph=second, allow_unused=True)
    for a, b in zip(dg, dt, strict=True):
        if b is None:
            assert a is None or not a.detach().numpy().any()
        else:
            _same_values(a, b, tol)
    if second:
        st = sum((b * b).sum() for b in dt if b is not None)
        sg = sum((a * a).sum() for a in dg if a is not None)
        if st.requires_grad:
            for a, b in zip(tg.autograd.grad(sg, xs_g, allow_unused=True),
                            torch.autograd.grad(st, xs_t, allow_unused=True), strict=True):
                if b is not None:
                    _same_values(a, b, tol)
    return rg


def _raises(f):
    try:
        f()
    except Exception as e:  # noqa: BLE001 -- the error is the result
        return type(e), str(e).split("\n")[0]
    raise AssertionError("no error")


def _same_errors(*calls):
    for f in calls:
        assert _raises(lambda f=f: f(tg)) == _raises(lambda f=f: f(torch))


# -- quantile, nanquantile ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_quantile_matches_torch(name, interpolation, dtype):
    x = _distinct((3, 5), dtype)
    qs = [0.0, 0.3, 1.0, 0.5, np.array([0.1, 0.5, 0.75, 1.0], dtype), np.array(0.25, dtype)]
    for q in qs:
        for dim, keepdim in [(None, False), (None, True), (1, False), (0, True), (-1, True),
                             (-2, False)]:
            _check(name, x, q, dim, keepdim, interpolation=interpolation)
    _check(name, x[0], 0.4, method=True, interpolation=interpolation)
    _check(name, np.array(2.5, dtype), 0.3, interpolation=interpolation)
    _check(name, np.array(2.5, dtype), np.array([0.2, 0.9], dtype), 0, True,
           interpolation=interpolation)


@pytest.mark.parametrize("name", ["quantile", "nanquantile"])
def test_quantile_with_ties_and_nan_matches_torch(name):
    ties = RNG.integers(0, 3, (4, 9)).astype(np.float64)
    with_nan = ties.copy()
    with_nan[RNG.random(ties.shape) < 0.3] = NAN
    with_nan[2] = NAN
    for x in (ties, with_nan):
        for interpolation in ("linear", "nearest", "midpoint"):
            _check(name, x, np.array([0.0, 0.1, 0.5, 0.9, 1.0]), 1, interpolation=interpolation)
            _check(name, x, 0.6, None, interpolation=interpolation)
            _check(name, x, 0.35, 0, True, interpolation=interpolation)


def test_quantile_gradients_finite_differences_and_second_order():
    x = _distinct((3, 6))
    check_gradients(lambda t: tg.quantile(t, tg.tensor([0.15, 0.5, 0.9]), 1) ** 2, [x])
    check_gradients(lambda t: tg.nanquantile(t * t, 0.3), [x])
    _check("quantile", x * 0.1, np.array([0.2, 0.7]), 0, second=True)
    _check("quantile", x, 0.3, 1, True, second=True)


def test_quantile_errors_match_torch():
    x = np.arange(6.0).reshape(2, 3)
    _same_errors(lambda m: m.quantile(m.tensor(x), 1.5),
                 lambda m: m.quantile(m.tensor(x), -0.1),
                 lambda m: m.quantile(m.tensor(x), m.tensor([0.5, 1.5], dtype=m.float64)),
                 lambda m: m.quantile(m.tensor(x), m.tensor([[0.5]], dtype=m.float64)),
                 lambda m: m.quantile(m.tensor(x), m.tensor([0.5], dtype=m.float32)),
                 lambda m: m.quantile(m.tensor(x), 0.5, interpolation="cubic"),
                 lambda m: m.quantile(m.tensor([1, 2]), 0.5),
                 lambda m: m.nanquantile(m.zeros(0, dtype=m.float64), 0.5),
                 lambda m: m.quantile(m.tensor(x), 0.5, 2),
                 lambda m: m.nanquantile(m.tensor(x), 0.5, -3))


# -- nansum, nanmean, var_mean, std_mean --------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nansum_nanmean_match_torch(dtype):
    x = RNG.normal(size=(3, 4)).astype(dtype)
    x[RNG.random(x.shape) < 0.3] = NAN
    x[1] = NAN
    for name in ("nansum", "nanmean"):
        for dim, keepdim in [(None, False), (None, True), (0, False), (-1, True), ((0, 1), False),
                             ((-1,), True), ((), False)]:
            _check(name, x, dim, keepdim)
            _check(name, x, dim=dim, keepdim=keepdim, method=True)
        _check(name, np.array(NAN, dtype))
        _check(name, np.array(1.5, dtype), 0, True)
        _check(name, np.zeros((0, 3), dtype), 0)
    _check("nansum", np.array([[1, 2], [3, 4]]), 1)
    _same_values(tg.nansum(tg.tensor(x), dtype=tg.float64),
                 torch.nansum(torch.tensor(x), dtype=torch.float64))


def test_nanmean_second_order_and_finite_differences():
    x = RNG.normal(size=(3, 4))
    x[0, 1] = NAN
    _check("nanmean", x, 1, second=True)
    check_gradients(lambda t: tg.nanmean(t * t, 0), [RNG.normal(size=(3, 4))])
    check_gradients(lambda t: tg.nansum(t ** 3, 1, keepdim=True), [RNG.normal(size=(3, 4))])
    _same_errors(lambda m: m.nanmean(m.tensor([1, 2])), lambda m: m.nansum(m.ones(2), 1))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["var_mean", "std_mean"])
def test_var_mean_std_mean_match_torch(dtype, name):
    x = RNG.normal(size=(3, 4, 2)).astype(dtype)
    for kwargs in [{}, {"dim": 1}, {"dim": (0, 2), "keepdim": True}, {"dim": -1,
                   "correction": 0}, {"dim": None, "correction": 2}, {"dim": 0, "unbiased": False},
                   {"dim": [1], "unbiased": True, "keepdim": True}]:
        _check(name, x, **kwargs)
    _check(name, x, 1, False)
    _check(name, x, True)
    _check(name, np.array(2.0, dtype), correction=0)
    check_gradients(lambda t: getattr(tg, name)(t, 1)[0] + getattr(tg, name)(t, 1)[1] ** 2,
                    [RNG.normal(size=(3, 4))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _check(name, np.array([1.5], dtype))
    _same_errors(lambda m: getattr(m, name)(m.ones(2, 3), 2))


# -- cov, corrcoef --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cov_corrcoef_match_torch(dtype):
    x = RNG.normal(size=(3, 6)).astype(dtype)
    f = RNG.integers(0, 4, 6)
    a = RNG.uniform(0.1, 2.0, 6).astype(dtype)
    for correction in (1, 0, 2):
        _check("cov", x, correction=correction)
        _check("cov", x, correction=correction, fweights=f)
        _check("cov", x, correction=correction, aweights=a)
        _check("cov", x, correction=correction, fweights=f, aweights=a, method=True)
    _check("cov", x[0])
    _check("cov", x[:1])
    _check("corrcoef", x)
    _check("corrcoef", x, method=True)
    _check("corrcoef", x[0])
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # (an int input's covariance: the default dtype)
    try:
        _check("cov", RNG.integers(0, 5, (2, 5)))
    finally:
        torch.set_default_dtype(before)
    _check("corrcoef", np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]], dtype))  # (clipped at 1)


def test_cov_gradients_finite_differences_and_weights():
    x = RNG.normal(size=(2, 5))
    a = RNG.uniform(0.5, 2.0, 5)
    check_gradients(lambda t: tg.cov(t, aweights=tg.tensor(a)), [x])
    check_gradients(lambda t: tg.corrcoef(t), [x])
    check_gradients(lambda t, w: tg.cov(t, aweights=w), [x, a])
    xt, at = torch.tensor(x, requires_grad=True), torch.tensor(a, requires_grad=True)
    xg, ag = tg.tensor(x, requires_grad=True), tg.tensor(a, requires_grad=True)
    torch.cov(xt, aweights=at).sum().backward()
    tg.cov(xg, aweights=ag).sum().backward()
    _same_values(ag.grad, at.grad)
    _same_values(xg.grad, xt.grad)
    _check("cov", x, second=True)


def test_cov_errors_and_warning_match_torch():
    x = np.arange(6.0).reshape(2, 3)
    _same_errors(lambda m: m.cov(m.ones(2, 2, 2)),
                 lambda m: m.cov(m.tensor(x), fweights=m.tensor([1.0, 2.0, 3.0], dtype=m.float64)),
                 lambda m: m.cov(m.tensor(x), fweights=m.tensor([1, 2])),
                 lambda m: m.cov(m.tensor(x), fweights=m.tensor([1, -2, 1])),
                 lambda m: m.cov(m.tensor(x), fweights=m.tensor([[1, 2, 1]])),
                 lambda m: m.cov(m.tensor(x), aweights=m.tensor([1, 2, 1])),
                 lambda m: m.cov(m.tensor(x), aweights=m.tensor([1.0, -2.0, 1.0],
                                                                dtype=m.float64)))
    with pytest.warns(UserWarning, match="degrees of freedom"):
        got = tg.cov(tg.tensor([[1.0], [2.0]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = torch.cov(torch.tensor([[1.0], [2.0]], dtype=torch.float64))
    np.testing.assert_array_equal(got.numpy(), want.numpy())


# -- closeness, the isnan family, nan_to_num ----------------------------------------------

SPECIAL = np.array([[0.0, -0.0, 1.0, -2.5, NAN], [INF, -INF, 1e-300, 3.0, NAN]])


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "isposinf", "isneginf",
                                  "isreal"])
def test_isnan_family_matches_torch(name):
    for x in [SPECIAL, SPECIAL.astype(np.float32), np.array(NAN), np.zeros((0, 2)),
              np.array([1, 2]), np.array([True, False])]:
        r = _check(name, x)
        _check(name, x, method=True)
        assert r.grad_fn is None


def test_isclose_allclose_equal_match_torch():
    a = SPECIAL
    b = SPECIAL + np.array([[1e-9, 0, 1e-4, 0, 0], [0, 0, 0, 1e-5, 1.0]])
    for kwargs in [{}, {"equal_nan": True}, {"rtol": 0.0, "atol": 0.0},
                   {"rtol": 1e-3, "atol": 1e-6}]:
        _check("isclose", [a, b], **kwargs)
        _check("isclose", [a, b[1]], method=True, **kwargs)
        assert tg.allclose(tg.tensor(a), tg.tensor(b), **kwargs) == torch.allclose(
            torch.tensor(a), torch.tensor(b), **kwargs)
        assert tg.tensor(a).allclose(tg.tensor(a), **kwargs) == torch.tensor(a).allclose(
            torch.tensor(a), **kwargs)
    _check("isclose", [np.array([1, 2, 3]), np.array([1, 3, 3])])
    _check("isclose", [a.astype(np.float32), b.astype(np.float32)])
    for x, y in [(a, a), (a[:, :4], a[:, :4]), (a[:, :4], a[:, :4] + 1), (a, a[0]),
                 (np.arange(3), np.arange(3))]:
        assert tg.equal(tg.tensor(x), tg.tensor(y)) == torch.equal(torch.tensor(x),
                                                                    torch.tensor(y))
    _same_errors(lambda m: m.isclose(m.ones(2, dtype=m.float64), m.ones(2, dtype=m.float32)),
                 lambda m: m.isclose(m.ones(2), m.ones(3)),
                 lambda m: m.isclose(m.ones(2), m.ones(2), rtol=-1.0),
                 lambda m: m.isclose(m.ones(2), m.ones(2), atol=-1.0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_to_num_matches_torch(dtype):
    x = SPECIAL.astype(dtype)
    _check("nan_to_num", x)
    _check("nan_to_num", x, 1.5, 100.0, -100.0, method=True)
    _check("nan_to_num", x, nan=-1.0, posinf=2.0)
    _check("nan_to_num", np.array(NAN, dtype), second=True)
    _check("nan_to_num", np.array([1, 2]))
    check_gradients(lambda t: tg.nan_to_num(t) ** 2, [RNG.normal(size=(3,))])


# -- diff, logspace --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_diff_matches_torch(dtype):
    x = RNG.normal(size=(3, 5)).astype(dtype)
    app = RNG.normal(size=(1, 5)).astype(dtype)
    for n in (0, 1, 2, 4, 6, 8):
        _check("diff", x, n)
        _check("diff", x, n, 0)
        _check("diff", x, n=n, dim=-2, method=True)
    _check("diff", x, 2, -1, second=True)
    xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    at, ag = torch.tensor(app, requires_grad=True), tg.tensor(app, requires_grad=True)
    pt, pg = torch.tensor(app * 2, requires_grad=True), tg.tensor(app * 2, requires_grad=True)
    rt = torch.diff(xt, 2, 0, prepend=pt, append=at)
    rg = tg.diff(xg, 2, 0, prepend=pg, append=ag)
    _same_values(rg, rt)
    rt.pow(2).sum().backward()
    rg.pow(2).sum().backward()
    for a, b in [(xg, xt), (ag, at), (pg, pt)]:
        _same_values(a.grad, b.grad)
    _check("diff", np.array([True, False, False, True]))
    _check("diff", np.array([1, 4, 9, 16]), 2)
    _check("diff", np.zeros((0,), dtype))
    check_gradients(lambda t: tg.diff(t, 2, 0) ** 2, [RNG.normal(size=(4, 2))])
    _same_errors(lambda m: m.diff(m.tensor(1.0)), lambda m: m.diff(m.ones(3), -1),
                 lambda m: m.diff(m.ones(3), 1, 1),
                 lambda m: m.diff(m.ones(3, 2), prepend=m.ones(2)),
                 lambda m: m.diff(m.ones(3, 2), append=m.ones(2)))


def test_logspace_matches_torch():
    for args, kwargs in [((0, 3, 4), {}), ((-1, 2, 7), {"base": 2}), ((1, 1, 1), {}),
                         ((0.5, -2.5, 9), {"base": 3.0}), ((0, 1, 0), {}),
                         ((0, 2, 5), {"dtype": "float32"}), ((-3, 3, 13), {"base": 10.0})]:
        kw_t = dict(kwargs, dtype=getattr(torch, kwargs.get("dtype", "float64")))
        kw_g = dict(kwargs, dtype=getattr(tg, kwargs.get("dtype", "float64")))
        _same_values(tg.logspace(*args, **kw_g), torch.logspace(*args, **kw_t), tol=1e-15)
    t = tg.logspace(0, 1, 3, requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.dtype == tg.float64
    _same_errors(lambda m: m.logspace(0, 1, -1))


# -- tg.compile -----------------------------------------------------------------------------


def _compiled_statistics(x):
    v = x.reshape(2, 4)
    return (tg.quantile(v, tg.tensor([0.25, 0.8]), 1).sum() + tg.nanmean(v * v)
            + tg.var_mean(v, 1)[0].sum() + tg.cov(v).sum() + tg.diff(x, 2).pow(2).sum()
            + tg.nan_to_num(x / (x - x[0])).sum() + tg.nanquantile(x, 0.5, interpolation="lower"))


def test_compiled_replay_equals_eager():
    x0 = _distinct((8,))
    tape = tg.compile(_compiled_statistics, x0)
    for x in [x0, x0 * 1.01, x0[::-1].copy(), _distinct((8,))]:
        t = tg.tensor(x, requires_grad=True)
        eager = _compiled_statistics(t)
        eager.backward()
        np.testing.assert_allclose(tape(x), eager.item(), rtol=1e-12)
        np.testing.assert_allclose(tape.gradient(x), t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_signatures_are_torchs():
    import inspect

    assert list(inspect.signature(tg.quantile).parameters) == [
        "input", "q", "dim", "keepdim", "interpolation", "out"]
    assert list(inspect.signature(tg.isclose).parameters) == [
        "input", "other", "rtol", "atol", "equal_nan"]
    assert list(inspect.signature(tg.nan_to_num).parameters) == [
        "input", "nan", "posinf", "neginf", "out"]
    assert list(inspect.signature(tg.diff).parameters) == [
        "input", "n", "dim", "prepend", "append", "out"]
    assert list(inspect.signature(tg.cov).parameters) == [
        "input", "correction", "fweights", "aweights"]


def test_out_is_taken_as_torchs():
    x = RNG.normal(size=(3, 4))
    for name, args in [("nansum", (1,)), ("nanmean", ()), ("quantile", (0.3, 1)),
                       ("nanquantile", (0.5,)), ("nan_to_num", ()), ("diff", ())]:
        out_g, out_t = tg.zeros(0), torch.zeros(0, dtype=torch.float64)
        got = getattr(tg, name)(tg.tensor(x), *args, out=out_g)
        want = getattr(torch, name)(torch.tensor(x), *args, out=out_t)
        assert got is out_g
        _same_values(out_g, out_t)
        _same_values(got, want)
    out = tg.zeros(0)
    tg.logspace(0, 2, 3, out=out)
    _same_values(out, torch.logspace(0, 2, 3, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="out="):
        tg.nansum(tg.tensor(x, requires_grad=True), out=tg.zeros(0))


def test_compiled_nanmean_of_an_all_nan_line_has_torchs_gradient():
    def f(x):
        return tg.nanmean(x.reshape(2, 3), 1).sum()

    tape = tg.compile(f, np.array([1.0, NAN, 2.0, 3.0, 4.0, NAN]))
    for x in [np.array([1.0, NAN, 2.0, 3.0, 4.0, NAN]), np.array([NAN, NAN, NAN, 1.0, 2.0, 3.0])]:
        t = tg.tensor(x, requires_grad=True)
        f(t).backward()
        tt = torch.tensor(x, requires_grad=True)
        torch.nanmean(tt.reshape(2, 3), 1).sum().backward()
        np.testing.assert_array_equal(t.grad.numpy(), tt.grad.numpy())
        np.testing.assert_array_equal(tape.gradient(x), tt.grad.numpy())


def _gradient_norm(x):
    y = (tg.sort(x).values ** 3 * tg.arange(5.0)).sum() + tg.quantile(x * x, 0.3) \
        + tg.nanmean(x ** 3)
    (g,) = tg.autograd.grad(y, x, create_graph=True)
    return (g * g).sum()


def test_compiled_second_order_through_sort_quantile_nanmean():
    x0 = np.array([0.3, -1.2, 2.0, 0.7, 1.1])
    tape = tg.compile(_gradient_norm, x0)
    for x in [x0, x0 * 1.1, x0[::-1].copy(), np.array([1.0, 1.0, 2.0, 0.5, -3.0])]:
        t = tg.tensor(x, requires_grad=True)
        eager = _gradient_norm(t)
        eager.backward()
        np.testing.assert_allclose(tape(x), eager.item(), rtol=1e-12)
        np.testing.assert_allclose(tape.gradient(x), t.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert tape.retapes >= 1  # (the order changed: recorded again, never replayed stale)
