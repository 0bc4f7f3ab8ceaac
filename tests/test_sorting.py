"""Sorting, selection and counting (tapegrad/sorting.py) against torch: values, indices,
gradients (of a random weighting of the values), second derivatives, ties where torch's
choice is defined, NaN, 0-d and empty inputs, negative dims, keepdim, errors, finite
differences, and tg.compile's guards on the order."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tests.helpers import check_gradients

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(13)
NAN = float("nan")


def _distinct(shape, dtype=np.float64) -> np.ndarray:
    """Values without ties (the order, so the gradient, is unambiguous)."""
    n = int(np.prod(shape))
    return (RNG.permutation(n) + RNG.uniform(0.1, 0.9, n)).reshape(shape).astype(dtype)


def _ties(shape, dtype=np.float64, k=3) -> np.ndarray:
    return RNG.integers(0, k, shape).astype(dtype)


def _parts(r):
    return list(r) if isinstance(r, tuple) else [r]


def _same_values(a, b, exact=False) -> None:
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    av, bv = a.detach().numpy(), b.detach().numpy()
    if exact or av.dtype.kind != "f":
        np.testing.assert_array_equal(av, bv)
    else:
        tol = 1e-12 if av.dtype == np.float64 else 1e-6
        np.testing.assert_allclose(av, bv, rtol=tol, atol=tol)


def _check(name, array, *args, method=False, grad=True, **kwargs):
    """``tg.<name>(x, *args, **kwargs)`` (``x.<name>`` with ``method``) against torch's:
    every output, and the gradient of a random weighting of the float outputs."""
    float_in = array.dtype.kind == "f"
    xt = torch.tensor(array, requires_grad=grad and float_in)
    xg = tg.tensor(array, requires_grad=grad and float_in)
    if method:
        rt, rg = getattr(xt, name)(*args, **kwargs), getattr(xg, name)(*args, **kwargs)
    else:
        rt, rg = getattr(torch, name)(xt, *args, **kwargs), getattr(tg, name)(xg, *args, **kwargs)
    pt, pg = _parts(rt), _parts(rg)
    assert len(pt) == len(pg)
    for a, b in zip(pg, pt, strict=True):
        _same_values(a, b, exact=True)
    if isinstance(rt, tuple) and hasattr(rt, "values"):
        assert type(rg).__name__.endswith(type(rt).__name__)
        _same_values(rg.values, rt.values, exact=True)
        _same_values(rg.indices, rt.indices, exact=True)
        assert not rg.indices.requires_grad
    if not (grad and float_in) or not pt[0].requires_grad:
        return rg
    assert pg[0].grad_fn.name() == pt[0].grad_fn.name()
    w = RNG.uniform(0.5, 1.5, tuple(pt[0].shape)).astype(array.dtype)
    (gt,) = torch.autograd.grad(pt[0], xt, torch.tensor(w))
    (gg,) = tg.autograd.grad(pg[0], xg, tg.tensor(w))
    _same_values(gg, gt)
    return rg


# -- sort, argsort, msort ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,dim", [((7,), -1), ((3, 5), 0), ((3, 5), -1), ((2, 3, 4), 1),
                                       ((), 0), ((), -1), ((0,), 0), ((2, 0), 1), ((1,), 0)])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_argsort_match_torch(dtype, shape, dim, descending):
    x = _distinct(shape, dtype)
    _check("sort", x, dim, descending)
    _check("sort", x, dim=dim, descending=descending, stable=True, method=True)
    _check("argsort", x, dim, descending)
    _check("argsort", x, dim=dim, descending=descending, method=True)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_ties_and_nan_follow_torch(descending):
    # lines of up to 16: torch's default sort is an insertion sort there, so stable too
    for x in [_ties((4, 16)), _ties((3, 9), k=2), np.array([1., NAN, 2., NAN, 0., 1.]),
              np.array([[NAN, -np.inf, np.inf, 0., -0., 0.]])]:
        _check("sort", x, -1, descending)
        _check("argsort", x, -1, descending)
    # longer lines with ties: torch's introsort's choice, replayed
    for x in [_ties((3, 40)), _ties((2, 300), k=5), _ties((70, 2), k=3)]:
        x[RNG.random(x.shape) < 0.1] = NAN
        _check("sort", x, 0, descending)
        _check("sort", x, -1, descending)
        _check("argsort", x, -1, descending, method=True)
    _check("sort", RNG.integers(0, 3, (2, 50)), -1, descending)
    # a stable sort: the same at any length
    big = _ties((3, 200), k=4)
    _check("sort", big, dim=1, descending=descending, stable=True)
    _check("argsort", big, dim=1, descending=descending, stable=True)
    _check("sort", _ties((50, 2)), dim=0, descending=descending, stable=True)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_sort_of_ints_and_bools(dtype):
    x = RNG.integers(-3, 3, (4, 6)).astype(dtype)
    if dtype == np.int64:
        x[0, 0] = np.iinfo(np.int64).min  # (descending must not negate it)
    for descending in (False, True):
        _check("sort", x, dim=1, descending=descending, stable=True)
        _check("argsort", x, dim=0, descending=descending, stable=True)


def test_msort():
    _check("msort", _distinct((4, 3)))
    _check("msort", np.array(1.5))
    _check("msort", _ties((5,)), method=True)
    _check("msort", _distinct((4,), np.float32))


def test_sort_gradient_finite_differences_and_second_order():
    x = _distinct((3, 4))
    check_gradients(lambda t: tg.sort(t, 1, descending=True).values ** 2, [x])
    check_gradients(lambda t: tg.sort(t, 0)[0] * tg.arange(4.0), [x])
    # second order: d/dx sum(v * d(sum(w * sort(x)^3))/dx)
    xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    w = RNG.uniform(0.5, 1.5, (3, 4))
    (dt,) = torch.autograd.grad((torch.sort(xt, 1)[0] ** 3 * torch.tensor(w)).sum(), xt,
                                create_graph=True)
    (dg,) = tg.autograd.grad((tg.sort(xg, 1)[0] ** 3 * tg.tensor(w)).sum(), xg,
                             create_graph=True)
    _same_values(dg, dt)
    (d2t,) = torch.autograd.grad((dt * dt).sum(), xt)
    (d2g,) = tg.autograd.grad((dg * dg).sum(), xg)
    _same_values(d2g, d2t)


def test_sort_errors_match_torch():
    x = _distinct((2, 3))
    for f in [lambda m: m.sort(m.tensor(x), 2), lambda m: m.argsort(m.tensor(x), -3),
              lambda m: m.sort(m.tensor(1.0), 1),
              lambda m: m.topk(m.tensor(x), 4), lambda m: m.topk(m.tensor(x), 1, 2),
              lambda m: m.kthvalue(m.tensor(x), 4), lambda m: m.kthvalue(m.tensor(x), 0),
              lambda m: m.median(m.tensor(x), 2), lambda m: m.mode(m.tensor(x), -3),
              lambda m: m.cummax(m.tensor(x), 2), lambda m: m.median(m.ones(2, 0), 1),
              lambda m: m.mode(m.ones(2, 0), 1)]:
        _same_error(lambda f=f: f(tg), lambda f=f: f(torch))


def _raises(f):
    try:
        f()
    except Exception as e:  # noqa: BLE001 -- the error is the result
        return type(e), str(e).split("\n")[0]
    raise AssertionError("no error")


def _same_error(tg_call, torch_call):
    assert _raises(tg_call) == _raises(torch_call)


# -- topk, kthvalue, median, nanmedian, mode ---------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,dim", [((9,), 0), ((4, 6), -1), ((4, 6), 0), ((2, 3, 5), -2),
                                       ((), 0), ((1,), -1)])
def test_topk_kthvalue_match_torch(dtype, shape, dim):
    x = _distinct(shape, dtype)
    n = x.shape[dim] if x.ndim else 1
    for k in sorted({0, 1, (n + 1) // 2, n}):
        _check("topk", x, k, dim)
        _check("topk", x, k, dim, largest=False, method=True)
        _check("topk", x, k, dim=dim, largest=True, sorted=False)
    for k in sorted({1, (n + 1) // 2, n}):
        for keepdim in (False, True):
            _check("kthvalue", x, k, dim, keepdim)
            _check("kthvalue", x, k, dim=dim, keepdim=keepdim, method=True)


def test_kthvalue_ties_pick_torchs_index():
    # torch's quickselect decides which of equal elements is the k-th: replayed
    for _ in range(40):
        n = int(RNG.integers(1, 40))
        x = _ties((3, n), k=int(RNG.integers(1, 4)))
        x[RNG.random(x.shape) < 0.2] = NAN
        for k in sorted({1, (n + 1) // 2, n}):
            _check("kthvalue", x, k, 1)


def test_topk_ties_pick_torchs_indices():
    # torch's partial_sort (k * 64 <= n) or nth_element + sort, replayed on lines with ties
    for n, ks in [(7, (1, 3, 7)), (40, (0, 1, 5, 39)), (200, (1, 3, 100))]:
        x = _ties((3, n), k=3)
        x[RNG.random(x.shape) < 0.1] = NAN
        for k in ks:
            for largest in (True, False):
                for is_sorted in (True, False):
                    _check("topk", x, k, 1, largest, is_sorted)
                    _check("topk", x.T.copy(), k, 0, largest=largest, sorted=is_sorted)


def test_mode_of_long_lines_picks_torchs_index():
    # torch sorts by value alone (introsort beyond 16) and takes the last of the run
    for x in [_ties((3, 40), k=4), _ties((2, 100), k=6), _ties((30, 2), k=3)]:
        _check("mode", x, 0)
        _check("mode", x, -1)
    x = _ties((2, 12))
    x[0, 3] = NAN
    _check("mode", x, 1)


def test_median_ties_pick_torchs_index():
    for _ in range(30):
        x = _ties((4, int(RNG.integers(1, 30))), k=int(RNG.integers(1, 4)))
        x[RNG.random(x.shape) < 0.2] = NAN
        x[0] = NAN
        _check("median", x, 1)
        _check("nanmedian", x, -1)
        _check("nanmedian", x.T.copy(), 0, True)


def test_topk_and_kthvalue_with_nan_and_infinities():
    x = np.array([[1., NAN, 2., np.inf, -np.inf, 0.5]])
    for k in range(1, 7):
        _check("topk", x, k)
        _check("topk", x, k, largest=False)
        _check("kthvalue", x, k)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,dim", [((7,), 0), ((4, 6), -1), ((5, 3), 0), ((2, 3, 4), 1),
                                       ((), 0), ((1,), -1)])
def test_median_nanmedian_match_torch(dtype, shape, dim):
    x = _distinct(shape, dtype)
    for name in ("median", "nanmedian"):
        _check(name, x)
        _check(name, x, method=True)
        for keepdim in (False, True):
            _check(name, x, dim, keepdim)
            _check(name, x, dim=dim, keepdim=keepdim, method=True)


def test_median_of_all_shares_the_gradient_of_ties_as_torch():
    for x in [_ties((12,)), _ties((3, 4), k=2), np.array([2., 1., 2., np.inf, np.inf]),
              np.array([NAN, 1., NAN]), np.array([NAN, NAN]), np.array([[1., 1.], [1., 1.]])]:
        _check("median", x)
        _check("nanmedian", x)


def test_median_with_nan_along_a_dim():
    x = np.array([[1., NAN, 2., NAN, 0.], [3., 1., 2., 0., 4.], [NAN, NAN, NAN, NAN, NAN],
                  [NAN, 1., 5., 2., NAN]])
    for name in ("median", "nanmedian"):
        _check(name, x, 1)
        _check(name, x, 1, True)
        _check(name, x.T.copy(), 0)


def test_median_of_empty_is_nan():
    _check("median", np.zeros((0,)))
    _check("nanmedian", np.zeros((2, 0)))


def test_median_ints():
    x = RNG.integers(0, 100, (3, 5))
    _check("median", x)
    _check("median", x, 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mode_matches_torch(dtype):
    for x, dim in [(_ties((4, 9), dtype), 1), (_ties((10, 3), dtype, k=4), 0),
                   (_ties((2, 3, 5), dtype), -1), (_distinct((6,), dtype), 0),
                   (np.array([1., 2., 2., 1., 3.], dtype), 0), (np.array(2.5, dtype), 0),
                   (np.array([5., 5., 4., 4., 4.], dtype), -1)]:
        for keepdim in (False, True):
            _check("mode", x, dim, keepdim)
            _check("mode", x, dim=dim, keepdim=keepdim, method=True)


def test_mode_of_ints():
    _check("mode", RNG.integers(0, 3, (4, 7)), 1)


def test_selection_gradients_finite_differences():
    x = _distinct((3, 5))
    check_gradients(lambda t: tg.topk(t, 2, 1).values ** 2, [x])
    check_gradients(lambda t: tg.kthvalue(t, 2, 0, keepdim=True).values ** 2, [x])
    check_gradients(lambda t: tg.median(t, 1).values * t.sum(1), [x])
    check_gradients(lambda t: tg.median(t * t), [x])
    check_gradients(lambda t: tg.nanmedian(t, 0)[0] ** 3, [x])
    check_gradients(lambda t: tg.mode(t, 1).values ** 2, [x])
    check_gradients(lambda t: tg.cummax(t, 1).values ** 2, [x])
    check_gradients(lambda t: tg.cummin(t, 0)[0] * t, [x])


def test_topk_second_order():
    x = _distinct((2, 6))
    xt, xg = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    (dt,) = torch.autograd.grad((torch.topk(xt, 3)[0] ** 3).sum(), xt, create_graph=True)
    (dg,) = tg.autograd.grad((tg.topk(xg, 3)[0] ** 3).sum(), xg, create_graph=True)
    _same_values(dg, dt)
    _same_values(tg.autograd.grad(dg.sum(), xg)[0], torch.autograd.grad(dt.sum(), xt)[0])


# -- cummax, cummin ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_match_torch(dtype, name):
    for x, dim in [(_distinct((6,), dtype), 0), (_ties((4, 7), dtype), 1),
                   (_ties((5, 3), dtype), -2), (_ties((2, 3, 4), dtype), 2),
                   (np.array(1.5, dtype), 0), (np.array(1.5, dtype), -1),
                   (np.zeros((0, 3), dtype), 0), (np.zeros((2, 0), dtype), 1),
                   (np.array([1., NAN, 2., NAN, 0.], dtype), 0),
                   (np.array([-np.inf, np.inf, 1., np.inf], dtype), 0)]:
        _check(name, x, dim)
        _check(name, x, dim=dim, method=True)


def test_cummax_of_ints():
    _check("cummax", RNG.integers(0, 4, (3, 6)), 1)
    _check("cummin", RNG.integers(0, 4, (3, 6)), 0)


# -- unique, unique_consecutive (no gradient) ---------------------------------------------


@pytest.mark.parametrize("name", ["unique", "unique_consecutive"])
def test_unique_matches_torch(name):
    for x in [_ties((10,)), _ties((3, 4), k=2), RNG.integers(-2, 3, (4, 5)), np.zeros((0,)),
              np.array(3.0), np.array([True, False, True]), np.array([1., 1., 2., 2., 1.])]:
        for inverse in (False, True):
            for counts in (False, True):
                _check(name, x, return_inverse=inverse, return_counts=counts, grad=False)
                _check(name, x, return_inverse=inverse, return_counts=counts, method=True,
                       grad=False)


def test_unique_dim_is_not_implemented():
    with pytest.raises(NotImplementedError, match="dim"):
        tg.unique(tg.ones(2, 2), dim=0)
    with pytest.raises(NotImplementedError, match="dim"):
        tg.unique_consecutive(tg.ones(2, 2), dim=1)


# -- searchsorted, bucketize, bincount, histc -------------------------------------------


def test_searchsorted_bucketize_match_torch():
    seq = np.array([1., 2., 2., 3., 5.])
    vals = np.array([[0., 2., 2.5], [5., 6., 1.]])
    for kwargs in [{}, {"right": True}, {"side": "right"}, {"side": "left"},
                   {"out_int32": True}]:
        got = tg.searchsorted(tg.tensor(seq), tg.tensor(vals), **kwargs)
        _same_values(got, torch.searchsorted(torch.tensor(seq), torch.tensor(vals), **kwargs))
    got = tg.searchsorted(tg.tensor(seq), 2.0)
    _same_values(got, torch.searchsorted(torch.tensor(seq), 2.0))
    seq2 = np.sort(RNG.integers(0, 9, (2, 6)).astype(np.float64), axis=1)
    vals2 = RNG.integers(0, 9, (2, 4)).astype(np.float64)
    for right in (False, True):
        _same_values(tg.searchsorted(tg.tensor(seq2), tg.tensor(vals2), right=right),
                     torch.searchsorted(torch.tensor(seq2), torch.tensor(vals2), right=right))
        _same_values(tg.bucketize(tg.tensor(vals), tg.tensor(seq), right=right),
                     torch.bucketize(torch.tensor(vals), torch.tensor(seq), right=right))
    unsorted = np.array([3., 1., 2.])
    sorter = np.argsort(unsorted)
    _same_values(tg.searchsorted(tg.tensor(unsorted), tg.tensor([2.5]),
                                 sorter=tg.tensor(sorter)),
                 torch.searchsorted(torch.tensor(unsorted), torch.tensor([2.5]),
                                    sorter=torch.tensor(sorter)))
    for f in [lambda m: m.searchsorted(m.tensor(seq), m.tensor(vals), right=True, side="left"),
              lambda m: m.searchsorted(m.tensor(1.0), m.tensor(vals)),
              lambda m: m.searchsorted(m.tensor(seq2), m.tensor(vals[:1]))]:
        _same_error(lambda f=f: f(tg), lambda f=f: f(torch))


def test_bincount_histc_match_torch():
    x = RNG.integers(0, 5, (20,))
    _check("bincount", x, grad=False)
    _check("bincount", x, minlength=8, grad=False, method=True)
    _check("bincount", np.zeros((0,), np.int64), grad=False)
    for wdtype in (np.float64, np.float32):
        w = RNG.uniform(0, 1, 20).astype(wdtype)
        _same_values(tg.bincount(tg.tensor(x), tg.tensor(w)),
                     torch.bincount(torch.tensor(x), torch.tensor(w)))
    for f in [lambda m: m.bincount(m.tensor([-1, 2])), lambda m: m.bincount(m.ones(2, 2).long()),
              lambda m: m.bincount(m.tensor([1.0, 2.0], dtype=m.float32))]:
        _same_error(lambda f=f: f(tg), lambda f=f: f(torch))
    for dtype in (np.float64, np.float32):
        y = RNG.normal(size=(50,)).astype(dtype)
        _check("histc", y, grad=False)
        _check("histc", y, bins=7, min=-1, max=1, grad=False, method=True)
        _check("histc", np.array([1.0, 1.0], dtype), bins=4, grad=False)
        _check("histc", np.linspace(0, 1, 11).astype(dtype), 10, 0, 1, grad=False)
    _same_error(lambda: tg.histc(tg.tensor([1, 2])), lambda: torch.histc(torch.tensor([1, 2])))


# -- count_nonzero, nonzero, argwhere -----------------------------------------------------


def test_counting_and_positions_match_torch():
    x = RNG.integers(0, 2, (3, 4)) * RNG.normal(size=(3, 4))
    for dim in [None, 0, -1, (0, 1), (1,)]:
        _check("count_nonzero", x, dim=dim, grad=False)
        _check("count_nonzero", x, dim, grad=False, method=True)
    for a in [x, np.array(0.0), np.array(2.0), np.zeros((0, 3)), np.array([True, False]),
              RNG.integers(0, 2, (2, 2, 3))]:
        _check("nonzero", a, grad=False)
        _check("nonzero", a, as_tuple=True, grad=False, method=True)
        _check("argwhere", a, grad=False)
        _check("argwhere", a, grad=False, method=True)
    _same_error(lambda: tg.count_nonzero(tg.tensor(x), 2),
                lambda: torch.count_nonzero(torch.tensor(x), 2))


def test_refusals_of_dtypes_and_arguments_match_torch():
    b = np.array([True, False, True])
    f64 = np.array([1.0, 2.0])
    for f in [lambda m: m.topk(m.tensor(b), 1), lambda m: m.median(m.tensor(b)),
              lambda m: m.median(m.tensor(b), 0), lambda m: m.nanmedian(m.tensor(b)),
              lambda m: m.nanmedian(m.tensor(b), 0), lambda m: m.kthvalue(m.tensor(b), 1),
              lambda m: m.histc(m.tensor(b)), lambda m: m.histc(m.tensor(f64), bins=0),
              lambda m: m.histc(m.tensor(f64), bins=3, min=3, max=1),
              lambda m: m.bincount(m.tensor([1, 2]), minlength=-1),
              lambda m: m.bincount(m.tensor([1, 2]), m.tensor(f64[:1])),
              lambda m: m.bucketize(m.tensor([1, 2]), m.tensor([[1, 2]]))]:
        _same_error(lambda f=f: f(tg), lambda f=f: f(torch))
    for f in [lambda m: m.sort(m.tensor(b)), lambda m: m.msort(m.tensor(b)),
              lambda m: m.cummin(m.tensor(b), 0), lambda m: m.mode(m.tensor(b)),
              lambda m: m.unique(m.tensor(b)), lambda m: m.bucketize(1.5, m.tensor([1, 2])),
              lambda m: m.searchsorted(m.tensor([1, 2]), 1.5),
              lambda m: m.searchsorted(m.tensor([1, 2]), m.tensor(f64))]:
        got, want = f(tg), f(torch)
        for a, w in zip(_parts(got), _parts(want), strict=True):
            _same_values(a, w, exact=True)


def test_signatures_are_torchs():
    import inspect

    assert list(inspect.signature(tg.sort).parameters) == ["input", "dim", "descending",
                                                           "stable"]
    assert list(inspect.signature(tg.topk).parameters) == ["input", "k", "dim", "largest",
                                                           "sorted"]
    assert list(inspect.signature(tg.Tensor.median).parameters) == ["self", "dim", "keepdim"]
    assert "sorter" in inspect.signature(tg.searchsorted).parameters


# -- tg.compile: the order is guarded ------------------------------------------------------


def _compiled_selection(x):
    v = x.reshape(2, 4)
    return ((tg.sort(v, 1).values * tg.arange(4.0)).sum() + tg.topk(x, 3).values.pow(2).sum()
            + tg.median(v, 0).values.sum() + tg.kthvalue(x, 2).values
            + tg.cummax(x, 0).values.sum() + tg.mode(v, 1).values.sum() + tg.median(x))


def test_compiled_selection_replays_and_retapes_when_the_order_changes():
    x0 = _distinct((8,))
    tape = tg.compile(_compiled_selection, x0)
    for x in [x0, x0 + 0.01, x0[::-1].copy(), _ties((8,), k=2), _distinct((8,))]:
        t = tg.tensor(x, requires_grad=True)
        eager = _compiled_selection(t)
        eager.backward()
        np.testing.assert_allclose(tape(x), eager.item(), rtol=1e-12)
        np.testing.assert_allclose(tape.gradient(x), t.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert tape.retapes >= 2


def test_compiled_sort_refuses_a_changed_order_with_on_guard_raise():
    x0 = _distinct((5,))
    tape = tg.compile(lambda x: (tg.sort(x).values * tg.arange(5.0)).sum(), x0,
                      on_guard="raise")
    tape(x0 * 2.0)  # (the same order)
    with pytest.raises(tg.GuardError):
        tape(-x0)
    ties = np.array([1.0, 1.0, 2.0, 3.0, 4.0])
    tape2 = tg.compile(lambda x: (tg.sort(x).values * tg.arange(5.0)).sum(),
                       np.array([1.0, 1.5, 2.0, 3.0, 4.0]), on_guard="raise")
    with pytest.raises(tg.GuardError):  # (a tie where there was none)
        tape2(ties)


def test_out_is_taken_as_torchs():
    x = _distinct((3, 4))
    seq = np.array([0.5, 2.0, 7.5])
    for name, args, kwargs in [("msort", (x,), {}), ("histc", (x,), {"bins": 5}),
                               ("nonzero", (x > 5,), {}), ("searchsorted", (seq, x), {}),
                               ("bucketize", (x, seq), {"right": True})]:
        out_g = tg.zeros(0, dtype=tg.int64 if name in ("nonzero", "searchsorted",
                                                        "bucketize") else tg.float64)
        out_t = torch.zeros(0, dtype=torch.int64 if name in ("nonzero", "searchsorted",
                                                              "bucketize") else torch.float64)
        got = getattr(tg, name)(*[tg.tensor(a) for a in args], out=out_g, **kwargs)
        getattr(torch, name)(*[torch.tensor(a) for a in args], out=out_t, **kwargs)
        assert got is out_g
        _same_values(out_g, out_t)


@pytest.mark.parametrize("seed", range(6))
def test_random_ties_and_nan_everything_matches_torch(seed):
    # values, indices and gradients of every tie-sensitive function on random tie data
    rng = np.random.default_rng(100 + seed)
    dtype = np.float64 if seed % 2 else np.float32
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 45)))
    x = rng.integers(0, int(rng.integers(1, 5)), shape).astype(dtype)
    if seed % 3 == 0:
        x[rng.random(shape) < 0.15] = NAN
    d = int(rng.integers(-2, 2))
    n = shape[d]
    k = int(rng.integers(1, n + 1))
    _check("sort", x, d, bool(seed % 2))
    _check("argsort", x, d, not seed % 2)
    _check("topk", x, k, d, bool(seed % 2), bool(seed % 4))
    _check("kthvalue", x, k, d)
    _check("median", x, d)
    _check("nanmedian", x, d, True)
    _check("median", x)
    _check("nanmedian", x)
    _check("mode", x, d)
    _check("cummax", x, d)
    _check("cummin", x, d)
    _check("msort", x)
