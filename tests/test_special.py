"""torch's special functions (tapegrad/ops/special.py, tapegrad/special.py) against torch: values
in float64 (a few ulp, over the whole domain: large, small, negative, near poles and roots) and
float32, edge values, gradients (torch and finite differences), second order, errors."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
from helpers import check_gradients

import tapegrad as tg

torch = pytest.importorskip("torch")

rng = np.random.default_rng(7)
EDGES = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-320, -1e-320, 1e-30, 5e-300])


def _grid(low, high, n=4000):
    return rng.uniform(low, high, n)


WIDE = np.concatenate([_grid(-30, 30), _grid(0, 3), _grid(-3, 0), 10 ** _grid(-300, 300, 2000),
                       -(10 ** _grid(-300, 4, 2000)), np.arange(-20, 20, 0.5) + 0.25])

# name -> (tapegrad function, torch function, points, rtol vs torch in float64)
FUNCTIONS = {
    "lgamma": (tg.lgamma, torch.lgamma, np.concatenate([_grid(0, 40), 10 ** _grid(-300, 300, 2000),
                                                        _grid(0.9, 1.1), _grid(1.9, 2.1)]), 4e-15),
    "digamma": (tg.digamma, torch.digamma, np.concatenate([_grid(2.0, 60), _grid(-30, 1.3),
                                                           10 ** _grid(1, 300, 2000)]), 1e-14),
    "i0": (tg.i0, torch.i0, np.concatenate([_grid(-700, 700), _grid(-25, 25)]), 4e-15),
    "i0e": (tg.special.i0e, torch.special.i0e, WIDE, 4e-15),
    "i1": (tg.special.i1, torch.special.i1, np.concatenate([_grid(-700, 700), _grid(-25, 25)]),
           4e-15),
    "i1e": (tg.special.i1e, torch.special.i1e, WIDE, 4e-15),
    "erfcx": (tg.special.erfcx, torch.special.erfcx, np.concatenate([_grid(0, 40),
                                                                     10 ** _grid(0, 300, 2000),
                                                                     _grid(-6, 0)]), 1e-14),
    "log_ndtr": (tg.special.log_ndtr, torch.special.log_ndtr, np.concatenate([
        _grid(-40, 10), -(10 ** _grid(0, 150, 2000)), _grid(10, 37)]), 1e-14),
    "ndtri": (tg.special.ndtri, torch.special.ndtri, np.concatenate([
        _grid(0, 1), 10 ** _grid(-300, 0, 2000), 1 - 10 ** _grid(-16, 0, 2000)]), 1e-14),
    "entr": (tg.special.entr, torch.special.entr, np.concatenate([_grid(0, 10), WIDE]), 4e-16),
}


def _close(ours, theirs, rtol, atol=0.0):
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, equal_nan=True)


def _close_each(ours, theirs, rtol):
    """Within ``rtol`` (an array: one per element) of torch's values."""
    assert np.all(np.abs(ours - theirs) <= rtol * np.abs(theirs))


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_values_float64_match_torch(name):
    ours_f, torch_f, x, rtol = FUNCTIONS[name]
    expected = torch_f(torch.tensor(x)).numpy()
    _close(ours_f(tg.tensor(x)).numpy(), expected, rtol, atol=1e-15 if name == "digamma" else 0)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_zero_dim_values_use_the_scalar_rule_and_agree(name):
    ours_f, torch_f, x, rtol = FUNCTIONS[name]
    for v in x[::97]:
        expected = torch_f(torch.tensor(v, dtype=torch.float64)).item()
        _close(ours_f(tg.tensor(float(v), dtype=tg.float64)).item(), expected, rtol,
               atol=1e-15 if name == "digamma" else 0)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_edge_values_match_torch(name):
    ours_f, torch_f, _, _ = FUNCTIONS[name]
    x = np.concatenate([EDGES, [-1.0, -2.0, -3.0, 1.0, 2.0, 0.5, 800.0, -800.0, 1e300, -1e300]])
    if name == "ndtri":
        x = np.array([0.0, -0.0, 1.0, 0.5, -0.1, 1.1, np.nan, np.inf, -np.inf, 1e-320])
    expected = torch_f(torch.tensor(x)).numpy()
    got = ours_f(tg.tensor(x)).numpy()
    keep = np.abs(x) < 709 if name in ("i0", "i1") else np.ones(x.shape, bool)
    # (torch's e^x overflows from 709 on, where I0 is finite to 713)
    _close(got[keep], expected[keep], 1e-14)
    for v, e in zip(x, expected, strict=True):  # (and the 0-d path)
        if name in ("i0", "i1") and abs(v) >= 709:
            continue
        _close(ours_f(tg.tensor(float(v), dtype=tg.float64)).item(), e, 1e-14)


def test_lgamma_near_its_roots_and_poles():
    x = np.concatenate([1.0 + 10 ** _grid(-15, -1, 500), 2.0 - 10 ** _grid(-15, -1, 500),
                        -0.5 - 10 ** _grid(-15, -1, 200), -3.0 + 10 ** _grid(-12, -1, 200)])
    _close(tg.lgamma(tg.tensor(x)).numpy(), torch.lgamma(torch.tensor(x)).numpy(), 4e-15)
    poles = np.array([0.0, -0.0, -1.0, -2.0, -50.0, -1e20, np.inf, -np.inf])
    assert np.all(tg.lgamma(tg.tensor(poles)).numpy() == np.inf)


def test_lgamma_negative_axis_is_accurate_away_from_its_zeros():
    # (near the zeros of lgamma on the negative axis, -2.457..., only the absolute error is
    # small: torch's glibc lgamma is relatively exact there)
    x = _grid(-40, 0, 6000)
    x = x[np.abs(x - np.round(x)) > 1e-6]
    ours, theirs = tg.lgamma(tg.tensor(x)).numpy(), torch.lgamma(torch.tensor(x)).numpy()
    _close(ours, theirs, 1e-13, atol=2e-14)


def test_digamma_near_its_root():
    x = 1.4616321449683623 + _grid(-1e-3, 1e-3, 300)
    _close(tg.digamma(tg.tensor(x)).numpy(), torch.digamma(torch.tensor(x)).numpy(), 0,
           atol=5e-16)


def test_trigamma_is_torchs():
    # torch's trigamma (digamma's gradient) stops its asymptotic series early: 1e-9 relative
    # to the exact psi1(1) = pi^2 / 6, psi1(1/2) = pi^2 / 2; tapegrad's is torch's, to the ulp
    x = tg.tensor([1.0, 0.5], dtype=tg.float64)
    _close(tg.polygamma(1, x).numpy(), [math.pi ** 2 / 6, math.pi ** 2 / 2], 1e-9)
    t = np.concatenate([_grid(-20, 30, 3000), [0.0, -1.0, -3.0, np.inf, -np.inf, np.nan, 1e-300]])
    _close(tg.polygamma(1, tg.tensor(t)).numpy(), torch.polygamma(1, torch.tensor(t)).numpy(),
           1e-15)
    for v in t[::50]:
        _close(tg.polygamma(1, tg.tensor(float(v), dtype=tg.float64)).item(),
               torch.polygamma(1, torch.tensor(v)).item(), 1e-15)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 7])
def test_polygamma_matches_torch(n):
    x = np.concatenate([_grid(0.01, 50, 2000), _grid(-20, 0, 2000) + 1e-3,
                        10 ** _grid(-5, 10, 500)])
    expected = torch.polygamma(n, torch.tensor(x)).numpy()
    got = tg.polygamma(n, tg.tensor(x)).numpy()
    _close(got, expected, 1e-13 if n < 2 else 5e-13, atol=1e-15 if n == 0 else 0)
    assert tg.tensor(x).polygamma(n).numpy().tolist() == got.tolist()
    edges = np.array([0.0, -1.0, -2.0, np.inf, -np.inf, np.nan])
    _close(tg.polygamma(n, tg.tensor(edges)).numpy(),
           torch.polygamma(n, torch.tensor(edges)).numpy(), 0)


def test_erfcx_negative_axis_is_exact():
    # (torch's 2 exp(x*x) rounds x*x: x^2 ulp; ours splits it.  Reference: mpmath, 30 digits)
    assert tg.special.erfcx(tg.tensor(-24.291448926960555, dtype=tg.float64)).item() == \
        pytest.approx(3.6908409994614455e+256, rel=4e-16)
    x = _grid(-26.6, 0, 2000)
    _close_each(tg.special.erfcx(tg.tensor(x)).numpy(),
                torch.special.erfcx(torch.tensor(x)).numpy(), np.maximum(x * x, 4.0) * 2.5e-16)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_float32_matches_torch(name):
    ours_f, torch_f, x, _ = FUNCTIONS[name]
    x32 = x.astype(np.float32)
    x32 = x32[np.isfinite(x32) & (np.abs(x32) < 80)]
    got = ours_f(tg.tensor(x32)).numpy()
    assert got.dtype == np.float32
    expected = torch_f(torch.tensor(x32)).numpy()
    finite = np.isfinite(expected) & (np.abs(expected) > 1e-30)
    _close(got[finite], expected[finite], 2e-5, atol=1e-6)


def test_integers_and_shapes_as_torch():
    for shape in [(), (1,), (0,), (2, 3)]:
        x = np.arange(1, 1 + int(np.prod(shape))).reshape(shape)
        for ours, theirs in [(tg.lgamma, torch.lgamma), (tg.digamma, torch.digamma),
                             (tg.special.i1, torch.special.i1),
                             (lambda t: tg.polygamma(2, t), lambda t: torch.polygamma(2, t)),
                             (lambda t: tg.mvlgamma(t, 1), lambda t: torch.mvlgamma(t.double(), 1)
                              .float())]:
            got, expected = ours(tg.tensor(x)), theirs(torch.tensor(x))
            assert tuple(got.shape) == tuple(expected.shape)
            assert got.dtype == tg.get_default_dtype()  # (tapegrad's default: float64)
            _close(got.numpy(), expected.numpy(), 1e-6)


def _torch_and_ours(fn_tg, fn_torch, *arrays):
    xs = [tg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    w = rng.standard_normal(np.broadcast_shapes(*[a.shape for a in arrays]))
    (fn_tg(*xs) * tg.tensor(w)).sum().backward()
    (fn_torch(*ts) * torch.tensor(w)).sum().backward()
    return [x.grad.numpy() for x in xs], [t.grad.numpy() for t in ts]


GRADS = [
    ("lgamma", tg.lgamma, torch.lgamma, [np.array([0.3, 1.7, -2.5, 7.0, 30.0, -0.2])]),
    ("digamma", tg.digamma, torch.digamma, [np.array([0.3, 1.7, -2.5, 70.0, -0.2])]),
    ("polygamma2", lambda x: tg.polygamma(2, x), lambda x: torch.polygamma(2, x),
     [np.array([0.3, 1.7, -2.5, 7.0])]),
    ("mvlgamma", lambda x: tg.mvlgamma(x, 3), lambda x: torch.mvlgamma(x, 3),
     [np.array([[1.3, 2.5], [4.0, 9.0]])]),
    ("i0", tg.i0, torch.i0, [np.array([0.0, 0.3, -2.5, 30.0])]),
    ("i0e", tg.special.i0e, torch.special.i0e, [np.array([0.0, 0.3, -2.5, 30.0])]),
    ("i1", tg.special.i1, torch.special.i1, [np.array([0.0, 0.3, -2.5, 30.0])]),
    ("i1e", tg.special.i1e, torch.special.i1e, [np.array([0.0, 0.3, -2.5, 30.0])]),
    ("ndtr", tg.special.ndtr, torch.special.ndtr, [np.array([0.0, 0.3, -2.5, 3.0])]),
    ("ndtri", tg.special.ndtri, torch.special.ndtri, [np.array([0.0, 0.3, 0.5, 0.999, 1.0])]),
    ("log_ndtr", tg.special.log_ndtr, torch.special.log_ndtr,
     [np.array([-30.0, 0.3, -2.5, 3.0])]),
    ("erfcx", tg.special.erfcx, torch.special.erfcx, [np.array([-3.0, 0.3, 2.5, 30.0])]),
    ("entr", tg.special.entr, torch.special.entr, [np.array([0.0, 0.3, -2.5, 3.0])]),
    ("xlog1py", tg.special.xlog1py, torch.special.xlog1py,
     [np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0]), np.array([-1.0, -2.0, 0.5, np.nan, -1.0, 3.0])]),
    ("xlog1py broadcast", tg.special.xlog1py, torch.special.xlog1py,
     [np.array([[0.5], [2.0]]), np.array([0.3, 1.5, 4.0])]),
]


@pytest.mark.parametrize("name, ours, theirs, arrays", GRADS, ids=[g[0] for g in GRADS])
def test_gradients_match_torch(name, ours, theirs, arrays):
    got, expected = _torch_and_ours(ours, theirs, *arrays)
    for g, e in zip(got, expected, strict=True):
        _close(g, e, 1e-13, atol=1e-300)


@pytest.mark.parametrize("name, ours, theirs, arrays", GRADS, ids=[g[0] for g in GRADS])
def test_grad_fn_names_match_torch(name, ours, theirs, arrays):
    xs = [tg.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    got, expected = ours(*xs).grad_fn.name(), theirs(*ts).grad_fn.name()
    if name not in ("ndtr", "mvlgamma"):  # (composed here)
        assert got == expected


@pytest.mark.parametrize("fn, x", [
    (tg.lgamma, np.array([0.4, 1.3, -1.6, 12.0])), (tg.digamma, np.array([0.4, 1.3, -1.6, 12.0])),
    (lambda x: tg.polygamma(3, x), np.array([0.4, 1.3, -1.6])),
    (lambda x: tg.mvlgamma(x, 2), np.array([1.4, 2.3])),
    (tg.special.i1e, np.array([0.4, -1.3, 22.0])), (tg.special.log_ndtr, np.array([-9.0, 0.5])),
    (tg.special.ndtri, np.array([0.01, 0.6])), (tg.special.erfcx, np.array([-1.0, 12.0])),
    (tg.special.entr, np.array([0.2, 3.0])), (tg.special.ndtr, np.array([-1.0, 0.2]))])
def test_gradients_match_finite_differences(fn, x):
    check_gradients(fn, [x])


@pytest.mark.parametrize("ours, theirs", [
    (tg.lgamma, torch.lgamma), (tg.digamma, torch.digamma),
    (lambda x: tg.polygamma(2, x), lambda x: torch.polygamma(2, x)),
    (tg.i0, torch.i0), (tg.special.i1, torch.special.i1), (tg.special.i1e, torch.special.i1e),
    (tg.special.log_ndtr, torch.special.log_ndtr)])
def test_second_order_matches_torch(ours, theirs):
    x = np.array([0.45, 1.3, 2.7, 6.0])
    a = tg.tensor(x, requires_grad=True)
    (g,) = tg.autograd.grad(ours(a).sum(), a, create_graph=True)
    (h,) = tg.autograd.grad((g * g).sum(), a)
    t = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(theirs(t).sum(), t, create_graph=True)
    (ht,) = torch.autograd.grad((gt * gt).sum(), t)
    _close(g.detach().numpy(), gt.detach().numpy(), 1e-8)
    _close(h.numpy(), ht.numpy(), 1e-7)


def test_errors_as_torch():
    x = tg.tensor([1.5])
    with pytest.raises(RuntimeError, match="does not support negative n"):
        tg.polygamma(-1, x)
    with pytest.raises(TypeError, match="must be int, not float"):
        tg.polygamma(1.5, x)
    with pytest.raises(RuntimeError, match=r"^p has to be greater than or equal to 1$"):
        tg.mvlgamma(x, 0)


def test_mvlgamma_values_and_out():
    x = rng.uniform(1.5, 9.0, (3, 4))
    for p in (1, 2, 5):
        _close(tg.mvlgamma(tg.tensor(x), p).numpy(),
               torch.mvlgamma(torch.tensor(x), p).numpy(), 1e-14)
        _close(tg.tensor(x).mvlgamma(p).numpy(), torch.tensor(x).mvlgamma(p).numpy(), 1e-14)
    out = tg.empty(3, 4, dtype=tg.float64)
    assert tg.special.multigammaln(tg.tensor(x), 2, out=out) is out
    _close(out.numpy(), torch.special.multigammaln(torch.tensor(x), 2).numpy(), 1e-14)


def test_special_namespace_matches_torch():
    names = ["gammaln", "digamma", "psi", "polygamma", "multigammaln", "i0", "i0e", "i1", "i1e",
             "ndtr", "ndtri", "log_ndtr", "erf", "erfc", "erfcx", "erfinv", "expit", "xlogy",
             "xlog1py", "entr", "exp2", "expm1", "log1p", "round", "softmax", "log_softmax",
             "logsumexp"]
    x = np.array([0.2, 0.7, 1.3])
    for name in names:
        ours, theirs = getattr(tg.special, name), getattr(torch.special, name)
        assert callable(ours)
        if name in ("softmax", "log_softmax", "logsumexp"):
            got, expected = ours(tg.tensor(x), 0), theirs(torch.tensor(x), 0)
        elif name in ("polygamma",):
            got, expected = ours(2, tg.tensor(x)), theirs(2, torch.tensor(x))
        elif name in ("multigammaln",):
            got, expected = ours(tg.tensor(x + 1), 2), theirs(torch.tensor(x + 1), 2)
        elif name in ("xlogy", "xlog1py"):
            got, expected = ours(tg.tensor(x), tg.tensor(x)), theirs(torch.tensor(x),
                                                                     torch.tensor(x))
        else:
            got, expected = ours(tg.tensor(x)), theirs(torch.tensor(x))
        _close(got.numpy(), expected.numpy(), 1e-14, atol=1e-16)
    for name in ["polygamma", "mvlgamma"]:
        assert list(inspect.signature(getattr(tg, name)).parameters) == \
            (["n", "input", "out"] if name == "polygamma" else ["input", "p", "out"])


def test_out_and_no_grad():
    x = tg.tensor([0.5, 2.0], requires_grad=True)
    with tg.no_grad():
        y = tg.special.i1e(x)
    assert y.grad_fn is None and not y.requires_grad
    out = tg.empty(2, dtype=tg.float64)
    tg.special.ndtri(tg.tensor([0.1, 0.9], dtype=tg.float64), out=out)
    _close(out.numpy(), torch.special.ndtri(torch.tensor([0.1, 0.9], dtype=torch.float64)),
           1e-15)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        tg.special.i0e(x, out=tg.empty(2))


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_polygamma_of_a_0d_float32_tensor(n):
    # (against torch's float64 value rounded to float32: torch's float32 digamma is a few ulp
    # off; ours computes in float64 and rounds once)
    mine = tg.polygamma(n, tg.tensor(1.5, dtype=tg.float32))
    theirs = torch.polygamma(n, torch.tensor(1.5, dtype=torch.float64)).float()
    assert mine.dtype == tg.float32 and mine.shape == ()
    np.testing.assert_allclose(mine.item(), theirs.item(), rtol=1.2e-7)
