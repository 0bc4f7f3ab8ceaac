"""calculus.py (trapezoid, cumulative_trapezoid, gradient), realness.py (torch's complex API on
real tensors) and shorthands.py (select, take_along_dim, diagflat, vdot, dist, isin,
unravel_index): values, gradients and errors against torch, gradients by finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(5)


@pytest.fixture(autouse=True)
def _torch_in_float64():
    """torch's default dtype as tapegrad's (float64), for dtypes in messages."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
Y = RNG.standard_normal((3, 5))
X1 = np.sort(RNG.random(5))
X2 = np.sort(RNG.random((3, 5)), axis=1)

# (name, program(lib, *tensors), inputs): each program returns one tensor of the inputs
CASES = [
    ("trapezoid", lambda lib, y: lib.trapezoid(y), [Y]),
    ("trapezoid x", lambda lib, y, x: lib.trapezoid(y, x), [Y, X1]),
    ("trapezoid x 2-d", lambda lib, y, x: lib.trapezoid(y, x), [Y, X2]),
    ("trapezoid dx dim0", lambda lib, y: lib.trapezoid(y, dx=0.5, dim=0), [Y]),
    ("trapz", lambda lib, y, x: lib.trapz(y, x, dim=-1), [Y, X1]),
    ("trapezoid empty", lambda lib, y: lib.trapezoid(y[:, :0]), [Y]),
    ("trapezoid one", lambda lib, y: lib.trapezoid(y[:, :1]), [Y]),
    ("cumulative_trapezoid", lambda lib, y, x: lib.cumulative_trapezoid(y, x), [Y, X1]),
    ("cumulative_trapezoid dx", lambda lib, y: lib.cumulative_trapezoid(y, dx=2.0, dim=0), [Y]),
    ("gradient", lambda lib, y: lib.gradient(y)[1], [Y]),
    ("gradient dim0", lambda lib, y: lib.gradient(y, dim=0)[0], [Y]),
    ("gradient spacing", lambda lib, y: lib.gradient(y, spacing=[2.0, 0.25])[0], [Y]),
    ("gradient edge 2", lambda lib, y: lib.gradient(y, edge_order=2, dim=1)[0], [Y]),
    ("gradient 1-d", lambda lib, y: lib.gradient(y[0], spacing=0.1)[0], [Y]),
    ("select", lambda lib, y: lib.select(y, 1, -2), [Y]),
    ("select method", lambda lib, y: y.select(0, 2), [Y]),
    ("take_along_dim", lambda lib, y: lib.take_along_dim(y, y.argsort(dim=1), dim=1), [Y]),
    ("take_along_dim none", lambda lib, y: lib.take_along_dim(y, y.reshape(-1).argsort()), [Y]),
    ("take_along_dim broadcast",
     lambda lib, y: lib.take_along_dim(y[:1], lib.tensor([[[0], [4], [4]]]).reshape(3, 1), 1),
     [Y]),
    ("diagflat", lambda lib, y: lib.diagflat(y[:2, :2], -1), [Y]),
    ("vdot", lambda lib, a, b: lib.vdot(a[0], b[1]), [Y, Y + 1]),
    ("dist", lambda lib, a, b: lib.dist(a, b[0]), [Y, Y + 0.5]),
    ("dist p3", lambda lib, a, b: a.dist(b, 3), [Y, Y * 0.5]),
    ("dist inf", lambda lib, a, b: lib.dist(a, b, float("inf")), [Y, Y * 0.5]),
    ("fmax", lambda lib, a, b: lib.fmax(a, b), [np.array([1.0, np.nan, np.nan, 2.0, 3.0]),
                                                  np.array([np.nan, 2.0, np.nan, 2.0, -1.0])]),
    ("fmin", lambda lib, a, b: lib.fmin(a, b), [np.array([1.0, np.nan, np.nan, 2.0, 3.0]),
                                                  np.array([np.nan, 2.0, np.nan, 2.0, -1.0])]),
    ("ldexp", lambda lib, a, b: lib.ldexp(a, b), [Y[0], np.array([1.0, -2.0, 0.5, 3.0, 0.0])]),
    ("renorm", lambda lib, y: lib.renorm(y, 2, 0, 1.5), [Y]),
    ("renorm p1 dim1", lambda lib, y: y.renorm(1, 1, 0.8), [Y]),
    ("pdist", lambda lib, y: lib.pdist(y), [Y]),
    ("pdist p1", lambda lib, y: lib.pdist(y, 1), [Y]),
    ("select_scatter", lambda lib, a, b: lib.select_scatter(a, b[0], 0, 1), [Y, Y * 2]),
    ("slice_scatter", lambda lib, a, b: lib.slice_scatter(a, b[:, :2], 1, 1, 5, 2), [Y, Y * 2]),
    ("angle", lambda lib, y: lib.angle(y), [np.array([1.0, -2.0, np.nan, np.inf, -np.inf, 0.0])]),
    ("real conj", lambda lib, y: lib.real(y).conj().resolve_conj() * 2, [Y]),
]


def _run(lib, program, arrays, requires_grad):
    ts = [lib.tensor(a, dtype=lib.float64, requires_grad=requires_grad) for a in arrays]
    return program(lib, *ts), ts


@pytest.mark.parametrize("name,program,arrays", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_match_torch(name, program, arrays):
    out = {}
    for lib in (tg, torch):
        y, ts = _run(lib, program, arrays, True)
        out[lib.__name__ + " requires_grad"] = y.requires_grad
        if not y.requires_grad:  # (torch's trapezoid of nothing: zeros outside autograd)
            out[lib.__name__] = (y.detach().numpy(), [None for _ in ts])
            continue
        weights = lib.tensor(np.linspace(0.5, 1.5, y.numel()).reshape(tuple(y.shape)),
                             dtype=lib.float64)
        (y * weights).sum().backward()
        out[lib.__name__] = (y.detach().numpy(), [t.grad for t in ts])
    (mine, my_grads), (theirs, their_grads) = out["tapegrad"], out["torch"]
    assert out["tapegrad requires_grad"] == out["torch requires_grad"]
    np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-14, equal_nan=True)
    for g, h in zip(my_grads, their_grads, strict=True):
        if h is None:
            assert g is None or not g.numpy().any()
        else:
            np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=1e-12, atol=1e-14)


_FD = [c for c in CASES  # (NaN inputs: no finite differences of them)
       if "angle" not in c[0] and "empty" not in c[0] and not c[0].startswith("fm")]


@pytest.mark.parametrize("name,program,arrays", _FD, ids=[c[0] for c in _FD])
def test_gradients_by_finite_differences(name, program, arrays):
    y, ts = _run(tg, program, arrays, True)
    w = np.linspace(0.5, 1.5, y.numel()).reshape(tuple(y.shape))
    (y * tg.tensor(w)).sum().backward()
    h = 1e-6
    for k, a in enumerate(arrays):
        fd = np.zeros(a.size)
        for i in range(a.size):
            for sign in (1, -1):
                moved = [b.copy() for b in arrays]
                moved[k].reshape(-1)[i] += sign * h
                value = (_run(tg, program, moved, False)[0].numpy() * w).sum()
                fd[i] += sign * value / (2 * h)
        np.testing.assert_allclose(ts[k].grad.numpy().reshape(-1), fd, rtol=1e-6, atol=1e-8)


def test_second_derivative_of_a_trapezoid_integral():
    x = tg.tensor(np.linspace(0.1, 2.0, 7), requires_grad=True)
    area = tg.trapezoid(x ** 3, x)
    (g,) = tg.autograd.grad(area, x, create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), x)
    xt = torch.tensor(np.linspace(0.1, 2.0, 7), requires_grad=True)
    (gt,) = torch.autograd.grad(torch.trapezoid(xt ** 3, xt), xt, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-12)


def test_isin_and_unravel_index_match_torch():
    for args, kwargs in [(([1, 2, 3, 2], [2, 5]), {}), (([1, 2, 3], 2), dict(invert=True)),
                         (([[1.5, 2.0]], [2.0]), {})]:
        mine = tg.isin(tg.tensor(args[0]), tg.tensor(args[1]), **kwargs)
        theirs = torch.isin(torch.tensor(args[0]), torch.tensor(args[1]), **kwargs)
        assert mine.tolist() == theirs.tolist() and mine.dtype == tg.bool
    for indices, shape in [([6, -1, 4, -7], (2, 3)), (5, 7), ([[3]], (2, 2, 1)), ([0, 5], (6,))]:
        mine = tg.unravel_index(tg.tensor(indices), shape)
        theirs = torch.unravel_index(torch.tensor(indices), shape)
        assert [t.tolist() for t in mine] == [t.tolist() for t in theirs]


def test_integer_functions_histogram_and_not_equal_match_torch():
    a, b = [6, -4, 9, 0, 12], [4, 6, -3, 5, 0]
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "gcd", "lcm"):
        mine = getattr(tg, name)(tg.tensor(a), tg.tensor(b))
        assert mine.tolist() == getattr(torch, name)(torch.tensor(a), torch.tensor(b)).tolist()
    assert tg.bitwise_not(tg.tensor(a)).tolist() == torch.bitwise_not(torch.tensor(a)).tolist()
    assert tg.bitwise_left_shift(tg.tensor([1, 3]), tg.tensor([2, 1])).tolist() == [4, 6]
    assert tg.bitwise_and(tg.tensor([True, False]), tg.tensor([True, True])).tolist() == \
        [True, False]
    assert tg.not_equal(tg.tensor([1.0, 2.0]), 2.0).tolist() == [True, False]
    x = [1.0, 2.0, 1.0, 2.9, 0.1]
    for kwargs in (dict(bins=4, range=(0.0, 3.0)), dict(bins=3), dict(bins=3, density=True),
                   dict(bins=2, weight=[1.0, 2.0, 3.0, 4.0, 5.0])):
        weight = kwargs.pop("weight", None)
        mine = tg.histogram(tg.tensor(x), **kwargs,
                            weight=None if weight is None else tg.tensor(weight))
        theirs = torch.histogram(torch.tensor(x), **kwargs,
                                 weight=None if weight is None else torch.tensor(weight))
        np.testing.assert_allclose(mine.hist.numpy(), theirs.hist.numpy(), rtol=1e-12)
        np.testing.assert_allclose(mine.bin_edges.numpy(), theirs.bin_edges.numpy(), rtol=1e-12)


def test_real_tensors_answer_the_complex_api_as_torch():
    for lib in (tg, torch):
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        assert x.real is x and x.conj() is x and x.resolve_conj() is x
        assert not x.is_complex() and not lib.is_complex(x) and not x.is_conj()
        with pytest.raises(RuntimeError, match="imag is not implemented for tensors with "
                                               "non-complex dtypes."):
            x.imag  # noqa: B018
    assert tg.angle(tg.tensor([-1, 2])).dtype == tg.float64


@pytest.mark.parametrize("call", [
    lambda lib: lib.select(lib.ones(2, 3), 1, 3),
    lambda lib: lib.select(lib.tensor(1.0), 0, 0),
    lambda lib: lib.take_along_dim(lib.ones(2, 3), lib.ones(2, 1), 1),
    lambda lib: lib.take_along_dim(lib.ones(2, 3), lib.ones(2, dtype=lib.long), 1),
    lambda lib: lib.vdot(lib.ones(2, 2), lib.ones(2)),
    lambda lib: lib.unravel_index(lib.tensor([0.5]), (2, 3)),
    lambda lib: lib.trapezoid(lib.tensor(2.0)),
    lambda lib: lib.trapezoid(lib.ones(3), lib.ones(4)),
    lambda lib: lib.gradient(lib.tensor([1.0])),
    lambda lib: lib.gradient(lib.ones(3, 3), spacing=[1.0]),
    lambda lib: lib.bitwise_and(lib.ones(2), lib.ones(2)),
    lambda lib: lib.gcd(lib.ones(2), lib.ones(2)),
    lambda lib: lib.lcm(lib.tensor([2]), 4),
    lambda lib: lib.renorm(lib.ones(3), 2, 0, 1.0),
    lambda lib: lib.pdist(lib.ones(3)),
])
def test_errors_are_torch_s(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as mine:
        call(tg)
    expected = str(theirs.value).splitlines()[0].replace("torch.float", "tapegrad.float")
    assert str(mine.value).splitlines()[0] == expected


def test_torch_s_other_overloads_where_of_a_condition_and_max_of_two_tensors():
    out = []
    for lib in (tg, torch):
        x = lib.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
        big, small = lib.max(x, lib.tensor([0.5, 0.5])), x.min(x * 0)
        (big.sum() + small.sum() + lib.min(x, 0).values.sum()).backward()
        out.append(([t.tolist() for t in lib.where(x > 0.7)], big.tolist(), small.tolist(),
                    x.grad.tolist()))
    assert out[0] == out[1]
