"""Products and reductions in torch's names (issue 19 item 1): values, gradients and second
derivatives against torch's, float64 and float32, and torch's errors for wrong shapes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(19)


def _arrays(shapes, dtype):
    return [RNG.standard_normal(s).astype(dtype) for s in shapes]


def _compare(tg_fn, torch_fn, shapes, dtype=np.float64, second=True, grad_of=None):
    """Values, gradients (of a random weighting of the output) and, in float64, the gradient of
    the gradients' weighted sum (create_graph=True) against torch's."""
    arrays = _arrays(shapes, dtype)
    grad_of = range(len(arrays)) if grad_of is None else grad_of
    tt = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    gt = [tg.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    yt, yg = torch_fn(*tt), tg_fn(*gt)
    assert tuple(yg.shape) == tuple(yt.shape)
    assert yg.dtype == getattr(tg, str(yt.dtype).split(".")[1])
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), **tol)
    if not grad_of or yt.numel() == 0 and not second:
        return
    w = RNG.uniform(0.5, 1.5, tuple(yt.shape)).astype(dtype)
    leaves_t = [tt[i] for i in grad_of]
    leaves_g = [gt[i] for i in grad_of]
    dt = torch.autograd.grad(yt, leaves_t, torch.tensor(w), create_graph=True,
                             allow_unused=True)
    dg = tg.autograd.grad(yg, leaves_g, tg.tensor(w), create_graph=True, allow_unused=True)
    for a, b in zip(dg, dt, strict=True):
        _same(a, b, tol)
    if not second or dtype != np.float64:
        return
    # second order: d/dx of sum(v * dy/dx) for random v
    pairs = [(a, b) for a, b in zip(dg, dt, strict=True) if b is not None]
    vs = [RNG.uniform(0.5, 1.5, tuple(b.shape)) for _, b in pairs]
    st = sum((b * torch.tensor(v)).sum() for (_, b), v in zip(pairs, vs, strict=True))
    sg = sum((a * tg.tensor(v)).sum() for (a, _), v in zip(pairs, vs, strict=True))
    if not pairs or not st.requires_grad:  # (linear in every input: no second derivative)
        return
    d2t = torch.autograd.grad(st, leaves_t, allow_unused=True)
    d2g = tg.autograd.grad(sg, leaves_g, allow_unused=True)
    for a, b in zip(d2g, d2t, strict=True):
        _same(a, b, tol)


def _same(a, b, tol):
    """tapegrad's gradient ``a`` and torch's ``b`` (None: zero) agree."""
    if a is None and b is None:
        return
    want = None if b is None else b.detach().numpy()
    got = None if a is None else a.detach().numpy()
    if want is None:
        want = np.zeros_like(got)
    if got is None:
        got = np.zeros_like(want)
    np.testing.assert_allclose(got, want, **tol)


def _errors(tg_fn, torch_fn, shapes, dtypes=None):
    dtypes = dtypes or [np.float64] * len(shapes)
    arrays = [RNG.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes, strict=True)]
    with pytest.raises(Exception) as want:
        torch_fn(*[torch.tensor(a) for a in arrays])
    with pytest.raises(type(want.value)) as got:
        tg_fn(*[tg.tensor(a) for a in arrays])
    assert str(got.value) == str(want.value)


# -- products ----------------------------------------------------------------------------------

PRODUCTS = [
    ("dot", (lambda a, b: a.dot(b)), [(4,), (4,)]),
    ("dot1", (lambda a, b: tg.dot(a, b)), [(1,), (1,)]),
    ("mv", None, [(3, 4), (4,)]),
    ("mv1", None, [(1, 1), (1,)]),
    ("mm", None, [(2, 3), (3, 4)]),
    ("mm_empty", None, [(0, 3), (3, 2)]),
    ("mm_k0", None, [(2, 0), (0, 2)]),
    ("bmm", None, [(2, 3, 4), (2, 4, 5)]),
    ("bmm1", None, [(1, 1, 1), (1, 1, 1)]),
    ("outer", None, [(3,), (4,)]),
    ("ger", None, [(2,), (1,)]),
    ("inner", None, [(2, 3), (4, 3)]),
    ("inner_1d", None, [(3,), (3,)]),
    ("inner_0d", None, [(), (2, 3)]),
    ("inner_3d", None, [(2, 2, 3), (3,)]),
    ("kron", None, [(2, 3), (2, 2)]),
    ("kron_ranks", None, [(2,), (3, 2)]),
    ("kron_0d", None, [(), (3,)]),
    ("kron_3d", None, [(2, 1, 2), (1, 3, 2)]),
]


def _named(name):
    base = name.split("_")[0].rstrip("1")
    return getattr(tg, base), getattr(torch, base)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fn,shapes", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_products_match_torch(name, fn, shapes, dtype):
    f_tg, f_torch = _named(name)
    _compare(fn or f_tg, f_torch, shapes, dtype)


@pytest.mark.parametrize("name", ["dot", "mv", "mm", "bmm", "outer", "ger", "inner", "kron"])
def test_product_methods(name):
    shapes = dict(_named_shapes())[name]
    _compare(lambda a, b: getattr(a, name)(b), lambda a, b: getattr(a, name)(b), shapes)


def _named_shapes():
    return [(n, s) for n, _, s in PRODUCTS]


TENSORDOT = [
    ([(2, 3, 4), (3, 4, 5)], 2),
    ([(2, 3), (3, 4)], 1),
    ([(2, 3), (4, 5)], 0),
    ([(), ()], 0),
    ([(2, 3, 4), (4, 3, 5)], ([1, 2], [1, 0])),
    ([(2, 3, 4), (4, 3, 5)], ([-2, -1], [1, 0])),
    ([(2, 3), (1, 5)], ([1], [0])),  # (a size-1 dim broadcast against a larger one)
    ([(2, 1), (3, 5)], ([1], [0])),
    ([(2, 3), (3, 4)], ((1,), (0,))),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shapes,dims", TENSORDOT)
def test_tensordot_matches_torch(shapes, dims, dtype):
    _compare(lambda a, b: tg.tensordot(a, b, dims), lambda a, b: torch.tensordot(a, b, dims),
             shapes, dtype)


def test_tensordot_default_dims():
    _compare(tg.tensordot, torch.tensordot, [(2, 3, 4), (3, 4, 2)])


EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("...ij,...jk", [(5, 1, 3, 4), (2, 4, 2)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(3,), (3,)]),
    ("i,i", [(3,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ij", [(2, 3)]),
    ("ba", [(2, 3)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("ij,kj->ik", [(2, 3), (4, 3)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("ij,ij->", [(2, 3), (2, 3)]),
    ("ijk,ikl->jl", [(2, 3, 4), (2, 4, 5)]),
    ("ij,jk->ik", [(2, 1), (3, 4)]),  # (size-1 broadcast, as torch)
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("i j , j k -> i k", [(2, 3), (3, 4)]),
    ("Ab,bc->Ac", [(2, 3), (3, 2)]),
    ("i,->i", [(3,), ()]),
    ("->", [()]),
    ("ij,jk->ik", [(0, 3), (3, 2)]),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("eq,shapes", EINSUM)
def test_einsum_matches_torch(eq, shapes, dtype):
    _compare(lambda *xs: tg.einsum(eq, *xs), lambda *xs: torch.einsum(eq, *xs), shapes, dtype)


def test_einsum_takes_a_list():
    _compare(lambda a, b: tg.einsum("ij,jk->ik", [a, b]),
             lambda a, b: torch.einsum("ij,jk->ik", [a, b]), [(2, 3), (3, 4)])


def test_product_grad_fn_names():
    a, b = tg.randn(3, requires_grad=True), tg.randn(3)
    assert tg.dot(a, b).grad_fn.name() == "DotBackward0"
    assert tg.mv(tg.randn(2, 3, requires_grad=True), b).grad_fn.name() == "MvBackward0"
    assert tg.mm(tg.randn(2, 3, requires_grad=True), tg.randn(3, 2)).grad_fn.name() == \
        "MmBackward0"
    assert tg.bmm(tg.randn(2, 2, 3, requires_grad=True), tg.randn(2, 3, 2)).grad_fn.name() == \
        "BmmBackward0"
    assert tg.outer(a, b).grad_fn.name() == "MulBackward0"


def test_products_without_grad_and_integers():
    a = tg.tensor([1, 2, 3])
    assert tg.dot(a, a).item() == 14 and tg.dot(a, a).dtype == tg.int64
    np.testing.assert_array_equal(tg.outer(a, a).numpy(), np.outer([1, 2, 3], [1, 2, 3]))
    np.testing.assert_array_equal(tg.kron(a, a).numpy(), np.kron([1, 2, 3], [1, 2, 3]))


F32 = np.float32

ERRORS = [
    ("dot", [(3,), (4,)], None),
    ("dot", [(3, 1), (3,)], None),
    ("dot", [(3,), (3, 1)], None),
    ("dot", [(), (3,)], None),
    ("dot", [(3,), (3,)], [F32, np.float64]),
    ("mv", [(3,), (3,)], None),
    ("mv", [(2, 3), (3, 1)], None),
    ("mv", [(2, 3), (4,)], None),
    ("mv", [(2, 3), (3,)], [F32, np.float64]),
    ("mv", [(2, 3), (3,)], [np.float64, F32]),
    ("mm", [(3,), (3, 2)], None),
    ("mm", [(2, 3), (3,)], None),
    ("mm", [(2, 3), (4, 2)], None),
    ("mm", [(2, 3), (3, 2)], [F32, np.float64]),
    ("mm", [(2, 3), (3, 2)], [np.float64, F32]),
    ("bmm", [(2, 3), (3, 2)], None),
    ("bmm", [(2, 2, 3), (2, 3)], None),
    ("bmm", [(2, 2, 3), (3, 3, 2)], None),
    ("bmm", [(2, 2, 3), (2, 4, 2)], None),
    ("bmm", [(2, 2, 3), (2, 3, 2)], [F32, np.float64]),
    ("outer", [(2, 2), (3,)], None),
    ("outer", [(), (3,)], None),
    ("outer", [(2,), (2, 2)], None),
    ("ger", [(2,), (2, 2)], None),
    ("inner", [(2, 3), (4,)], None),
]


@pytest.mark.parametrize("name,shapes,dtypes", ERRORS)
def test_product_errors_match_torch(name, shapes, dtypes):
    _errors(getattr(tg, name), getattr(torch, name), shapes, dtypes)


@pytest.mark.parametrize("dims,shapes", [
    (1, [(2, 3), (4, 3)]), (3, [(2, 3), (3, 4)]), (-1, [(2, 3), (3, 4)]),
    (([1], [0, 1]), [(2, 3), (3, 4)]),
])
def test_tensordot_errors_match_torch(dims, shapes):
    _errors(lambda a, b: tg.tensordot(a, b, dims), lambda a, b: torch.tensordot(a, b, dims),
            shapes)


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(2, 3), (4, 2)]),
    ("ij,jk", [(2, 3)]),
    ("ij,jk->ik", [(2, 3, 1), (3, 2)]),
    ("i,i->ii", [(2,), (2,)]),
    ("ij,jk->iq", [(2, 3), (3, 4)]),
])
def test_einsum_errors_match_torch(eq, shapes):
    _errors(lambda *xs: tg.einsum(eq, *xs), lambda *xs: torch.einsum(eq, *xs), shapes)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("eq,shapes", [
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ii->", [(2, 2)]), ("iij->j", [(2, 2, 3)]),
    ("iji->j", [(2, 3, 2)]), ("ij,jj->i", [(2, 3), (3, 3)]), ("iii->i", [(2, 2, 2)]),
    ("bii->bi", [(2, 3, 3)]), ("...ii->...i", [(2, 3, 3)]), ("ii,i->i", [(1, 1), (3,)]),
])
def test_einsum_diagonals_and_traces_match_torch(eq, shapes, dtype):
    _compare(lambda *xs: tg.einsum(eq, *xs), lambda *xs: torch.einsum(eq, *xs), shapes, dtype)


def test_einsum_repeated_subscript_sizes_error_as_torch():
    _errors(lambda x: tg.einsum("ii->i", x), lambda x: torch.einsum("ii->i", x), [(2, 3)])


# -- reductions and scans ----------------------------------------------------------------------


def _both(name, *args, **kwargs):
    """``tg.<name>`` and ``torch.<name>`` with the same extra arguments."""
    return (lambda x: getattr(tg, name)(x, *args, **kwargs),
            lambda x: getattr(torch, name)(x, *args, **kwargs))


REDUCTIONS = [
    ("prod", (), [(2, 3)]), ("prod", (), [()]), ("prod", (), [(1,)]), ("prod", (), [(0, 3)]),
    ("prod", (1,), [(2, 3)]), ("prod", (-1, True), [(2, 3, 2)]), ("prod", (0,), [()]),
    ("prod", (0,), [(0, 3)]), ("prod", (1,), [(0, 3)]),
    ("cumsum", (1,), [(2, 3)]), ("cumsum", (-1,), [(2, 3, 4)]), ("cumsum", (0,), [()]),
    ("cumsum", (0,), [(1,)]), ("cumsum", (0,), [(0, 2)]),
    ("cumprod", (0,), [(4, 2)]), ("cumprod", (-2,), [(2, 3, 2)]), ("cumprod", (0,), [()]),
    ("cumprod", (1,), [(2, 0)]),
    ("logcumsumexp", (1,), [(2, 3)]), ("logcumsumexp", (0,), [()]),
    ("logcumsumexp", (-3,), [(3, 2, 2)]),
    ("amax", (), [(2, 3)]), ("amax", (1,), [(2, 3)]), ("amax", ((0, 2), True), [(2, 3, 2)]),
    ("amax", ((),), [(2, 3)]), ("amax", (0,), [()]), ("amax", (1,), [(0, 3)]),
    ("amin", (-1,), [(2, 3)]), ("amin", (), [()]), ("amin", ((0, 1),), [(3, 2)]),
    ("var", (), [(2, 3)]), ("var", (1,), [(2, 3)]), ("var", (1, True, True), [(2, 3)]),
    ("var", (False,), [(4,)]), ("var", ((0, 2),), [(2, 3, 2)]), ("var", (None,), [(3, 2)]),
    ("std", (), [(2, 3)]), ("std", (0,), [(3, 2)]), ("std", (-1, False, True), [(2, 3)]),
    ("std", ((0, 1),), [(2, 2, 3)]),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,args,shapes", REDUCTIONS, ids=[f"{n}{a}{s}" for n, a, s in
                                                               REDUCTIONS])
def test_reductions_match_torch(name, args, shapes, dtype):
    _compare(*_both(name, *args), shapes, dtype)


@pytest.mark.parametrize("name,kwargs", [
    ("var", dict(correction=0)), ("var", dict(dim=1, correction=2)),
    ("var", dict(dim=0, keepdim=True, correction=0.5)), ("std", dict(correction=0)),
    ("std", dict(dim=(0, 1), correction=3)), ("var", dict(dim=1, unbiased=False)),
    ("prod", dict(dim=1, keepdim=True)), ("cumsum", dict(dim=0)), ("amax", dict(dim=[0, 1])),
])
def test_reduction_keywords_match_torch(name, kwargs):
    _compare(*_both(name, **kwargs), [(3, 4)])


@pytest.mark.parametrize("name", ["prod", "cumsum", "cumprod", "logcumsumexp", "amax", "amin",
                                  "var", "std"])
def test_reduction_methods(name):
    args = () if name in ("prod", "amax", "amin", "var", "std") else (1,)
    _compare(lambda x: getattr(x, name)(*args), lambda x: getattr(x, name)(*args), [(2, 3)])


ZEROS = [
    np.array([0.5, 0.0, -1.2, 2.0]), np.array([0.0, 0.7, 0.0, 1.3]), np.array([0.0]),
    np.array([[0.5, 0.0, 1.5], [1.1, -0.8, 0.9], [0.0, 0.0, 2.0]]),
    np.array([[0.0, 2.0, 0.0, 3.0], [1.5, 0.0, 2.0, 0.5]]),
]


@pytest.mark.parametrize("x", ZEROS, ids=range(len(ZEROS)))
@pytest.mark.parametrize("name,args", [("prod", ()), ("prod", (-1,)), ("prod", (0,)),
                                       ("cumprod", (-1,)), ("cumprod", (0,))])
def test_zeros_in_products_and_cumprod_exact_as_torch(name, args, x):
    tt, gt = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    yt, yg = getattr(torch, name)(tt, *args), getattr(tg, name)(gt, *args)
    w = RNG.uniform(0.5, 1.5, tuple(yt.shape))
    (dt,) = torch.autograd.grad(yt, tt, torch.tensor(w), create_graph=True)
    (dg,) = tg.autograd.grad(yg, gt, tg.tensor(w), create_graph=True)
    np.testing.assert_allclose(dg.detach().numpy(), dt.detach().numpy(), rtol=1e-12, atol=0)
    assert np.all(np.isfinite(dg.detach().numpy()))
    if not dt.requires_grad:  # (one element: a gradient that does not depend on x)
        return
    v = RNG.uniform(0.5, 1.5, x.shape)
    (d2t,) = torch.autograd.grad((dt * torch.tensor(v)).sum(), tt, allow_unused=True)
    (d2g,) = tg.autograd.grad((dg * tg.tensor(v)).sum(), gt, allow_unused=True)
    want = np.zeros(x.shape) if d2t is None else d2t.numpy()
    got = np.zeros(x.shape) if d2g is None else d2g.numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name,args", [("amax", ()), ("amax", (1,)), ("amin", (0,)),
                                       ("amin", ((0, 1),))])
def test_amax_amin_ties_split_evenly_as_torch(name, args):
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, -1.0], [3.0, 0.5, -1.0]])
    tt, gt = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    yt, yg = getattr(torch, name)(tt, *args), getattr(tg, name)(gt, *args)
    w = RNG.uniform(0.5, 1.5, tuple(yt.shape))
    yt.backward(torch.tensor(w))
    yg.backward(tg.tensor(w))
    np.testing.assert_allclose(gt.grad.numpy(), tt.grad.numpy(), rtol=1e-15)
    (dg,) = tg.autograd.grad(getattr(tg, name)(gt, *args), gt, tg.tensor(w), create_graph=True)
    np.testing.assert_allclose(dg.detach().numpy(), tt.grad.numpy(), rtol=1e-15)


def test_nan_propagates_as_torch():
    x = np.array([[1.0, np.nan, 2.0], [0.5, 0.2, 0.1]])
    for name, args in [("amax", (1,)), ("amin", (1,)), ("prod", (1,)), ("cumsum", (1,)),
                       ("logcumsumexp", (1,))]:
        yt = getattr(torch, name)(torch.tensor(x), *args).numpy()
        yg = getattr(tg, name)(tg.tensor(x), *args).numpy()
        np.testing.assert_array_equal(np.isnan(yg), np.isnan(yt), err_msg=name)
        np.testing.assert_allclose(yg, yt, rtol=1e-15, err_msg=name)


def test_logcumsumexp_of_infinities_as_torch():
    x = np.array([-np.inf, -np.inf, 0.0, np.inf, 1.0])
    np.testing.assert_array_equal(tg.logcumsumexp(tg.tensor(x), 0).numpy(),
                                  torch.logcumsumexp(torch.tensor(x), 0).numpy())


def test_std_at_zero_has_torch_gradient():
    x = np.full((2, 3), 0.75)
    tt, gt = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    torch.std(tt, 1).sum().backward()
    tg.std(gt, 1).sum().backward()
    np.testing.assert_array_equal(gt.grad.numpy(), tt.grad.numpy())


def test_var_degrees_of_freedom_warns_as_torch():
    with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
        y = tg.var(tg.tensor([1.0, 2.0]), correction=2)
    assert np.isinf(y.item()) or np.isnan(y.item())
    with pytest.warns(UserWarning, match="std"):
        tg.std(tg.tensor(1.0))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("args,kwargs,shape", [
    ((), {}, (2, 3)), ((1,), {}, (2, 3)), ((0,), dict(keepdim=True), (2, 3)),
    ((), dict(keepdim=True), (2, 3)), ((0,), {}, ()), ((), {}, ()), ((-1,), {}, (2, 3, 4)),
    ((1,), {}, (0, 3)),
])
def test_argmax_argmin_match_torch(name, args, kwargs, shape):
    x = RNG.standard_normal(shape)
    want = getattr(torch, name)(torch.tensor(x), *args, **kwargs)
    got = getattr(tg, name)(tg.tensor(x, requires_grad=True), *args, **kwargs)
    assert got.dtype == tg.int64 and not got.requires_grad and got.grad_fn is None
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    np.testing.assert_array_equal(getattr(tg.tensor(x), name)(*args, **kwargs).numpy(),
                                  want.numpy())


def test_argmax_ties_and_nan_as_torch():
    x = np.array([[1.0, 3.0, 3.0], [np.nan, 2.0, np.nan]])
    for name in ("argmax", "argmin"):
        for args in ((), (1,), (0,)):
            np.testing.assert_array_equal(getattr(tg, name)(tg.tensor(x), *args).numpy(),
                                          getattr(torch, name)(torch.tensor(x), *args).numpy())


@pytest.mark.parametrize("kwargs,shape", [({}, (2, 3)), (dict(dim=1), (2, 3)),
                                          (dict(dim=0, keepdim=True), (2, 3)),
                                          (dict(keepdim=True), (2, 3)), ({}, ()),
                                          (dict(dim=1), (0, 3))])
def test_aminmax_matches_torch(kwargs, shape):
    x = RNG.standard_normal(shape)
    tt, gt = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    want, got = torch.aminmax(tt, **kwargs), tg.aminmax(gt, **kwargs)
    assert got.min.shape == tuple(want.min.shape) and got.max.shape == tuple(want.max.shape)
    np.testing.assert_allclose(got.min.detach().numpy(), want.min.detach().numpy())
    np.testing.assert_allclose(got.max.detach().numpy(), want.max.detach().numpy())
    if x.size:
        (want.min.sum() + 2 * want.max.sum()).backward()
        (got.min.sum() + 2 * got.max.sum()).backward()
        np.testing.assert_allclose(gt.grad.numpy(), tt.grad.numpy())
    lo, hi = gt.aminmax(**kwargs)
    np.testing.assert_allclose(hi.detach().numpy(), want.max.detach().numpy())


def test_reduction_dtypes_as_torch():
    for name, args in [("prod", ()), ("prod", (0,)), ("cumsum", (0,)), ("cumprod", (0,)),
                       ("amax", ()), ("argmax", ())]:
        for dtype in ("int32", "int64", "bool")[:2 if name == "argmax" else 3]:
            x = np.array([1, 0, 3]).astype(dtype)
            want = getattr(torch, name)(torch.tensor(x), *args)
            got = getattr(tg, name)(tg.tensor(x), *args)
            assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], \
                (name, dtype)
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    want = torch.cumsum(torch.tensor([1.0, 2.0], dtype=torch.float32), 0, dtype=torch.float64)
    got = tg.cumsum(tg.tensor([1.0, 2.0], dtype=tg.float32), 0, dtype=tg.float64)
    assert got.dtype == tg.float64 and want.dtype == torch.float64
    assert tg.prod(tg.tensor([1.0, 2.0]), dtype=tg.float32).dtype == tg.float32


def test_reduction_grad_fn_names():
    x = tg.randn(2, 3, requires_grad=True)
    assert x.prod().grad_fn.name() == "ProdBackward0"
    assert x.prod(1).grad_fn.name() == "ProdBackward1"
    assert x.cumsum(1).grad_fn.name() == "CumsumBackward0"
    assert x.cumprod(1).grad_fn.name() == "CumprodBackward0"
    assert x.logcumsumexp(1).grad_fn.name() == "LogcumsumexpBackward0"
    assert x.amax(1).grad_fn.name() == "AmaxBackward0"
    assert x.amin().grad_fn.name() == "AminBackward0"


@pytest.mark.parametrize("tg_fn,torch_fn,shape", [
    (lambda x: tg.amax(x, 0), lambda x: torch.amax(x, 0), (0, 3)),
    (lambda x: tg.amax(x), lambda x: torch.amax(x), (0, 3)),
    (lambda x: tg.amax(x, -1), lambda x: torch.amax(x, -1), (2, 0)),
    (lambda x: tg.amin(x, (0, -1)), lambda x: torch.amin(x, (0, -1)), (2, 0)),
    (lambda x: tg.argmax(x, -1), lambda x: torch.argmax(x, -1), (2, 0)),
    (lambda x: tg.aminmax(x, dim=-1), lambda x: torch.aminmax(x, dim=-1), (2, 0)),
    (lambda x: tg.amin(x, (0, 0)), lambda x: torch.amin(x, (0, 0)), (2, 3)),
    (lambda x: tg.argmax(x), lambda x: torch.argmax(x), (0, 3)),
    (lambda x: tg.argmax(x > 0), lambda x: torch.argmax(x > 0), (2, 3)),
    (lambda x: tg.argmin(x, 0), lambda x: torch.argmin(x, 0), (0, 3)),
    (lambda x: tg.aminmax(x), lambda x: torch.aminmax(x), (0, 3)),
    (lambda x: tg.aminmax(x, dim=0), lambda x: torch.aminmax(x, dim=0), (0, 3)),
    (lambda x: tg.cumsum(x, 2), lambda x: torch.cumsum(x, 2), (2, 3)),
    (lambda x: tg.prod(x, 2), lambda x: torch.prod(x, 2), (2, 3)),
    (lambda x: tg.var(x.long()), lambda x: torch.var(x.long()), (2, 3)),
    (lambda x: tg.logcumsumexp(x.long(), 0), lambda x: torch.logcumsumexp(x.long(), 0), (3,)),
])
def test_reduction_errors_match_torch(tg_fn, torch_fn, shape):
    _errors(tg_fn, torch_fn, [shape])


def _compiled_uses_of_new_names(x):
    v = x.reshape(2, 3)
    i = v.argmax(1)  # (an index chosen from the input: a compiled replay must see it again)
    j = tg.argmin(x)
    picked = v[[0, 1], i]
    return (picked.sum() + x[j] * 2.0 + v.prod(1).sum() + v.cumsum(1).sum() + v.amax(0).sum()
            + tg.var(v, 1).sum() + tg.std(x) + tg.einsum("ij,ij->", v, v)
            + tg.logcumsumexp(x, 0).sum() + tg.cumprod(x, 0).sum())


def test_compiled_replay_equals_eager_with_the_new_names():
    rng = np.random.default_rng(5)
    tape = tg.compile(_compiled_uses_of_new_names, rng.normal(size=6))
    for _ in range(20):
        x = rng.normal(size=6)
        t = tg.tensor(x, requires_grad=True)
        out = _compiled_uses_of_new_names(t)
        out.backward()
        np.testing.assert_allclose(tape(x), out.item(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tape.gradient(x), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def _second_order_of_products(x):
    y = x.reshape(2, 3)
    (g,) = tg.autograd.grad(y.prod(1).sum() + y.cumprod(1).sum() + x.prod()
                            + (y * y).amax(1).sum() + y.amin(), x, create_graph=True)
    return (g * g).sum()


def test_compiled_graph_rules_hold_for_other_values():
    # recorded on an input without zeros, replayed on inputs with them: the rules must not
    # have chosen torch's y / x shortcut from the recorded values, nor amax/amin's mask
    tape = tg.compile(_second_order_of_products, np.array([0.5, 1.5, -0.7, 1.2, 0.9, 2.0]))
    for x in [np.array([0.5, 0.0, -0.7, 1.2, 0.9, 2.0]), np.array([0.0, 0.0, -0.7, 0.0, 0.9, 2.0]),
              np.array([1.5, 0.3, -0.7, 1.1, 0.9, 2.0])]:
        t = tg.tensor(x, requires_grad=True)
        eager = _second_order_of_products(t)
        np.testing.assert_allclose(tape(x), eager.item(), rtol=1e-12)
        eager.backward()
        np.testing.assert_allclose(tape.gradient(x), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,args,shapes", [
    ("mm", (), [(2, 3), (3, 2)]), ("dot", (), [(3,), (3,)]), ("outer", (), [(2,), (3,)]),
    ("kron", (), [(2,), (3,)]), ("tensordot", (1,), [(2, 3), (3, 2)]), ("prod", (1,), [(2, 3)]),
    ("cumsum", (0,), [(2, 3)]), ("amax", (1,), [(2, 3)]), ("argmax", (1,), [(2, 3)]),
    ("var", (1,), [(2, 3)]), ("std", (), [(2, 3)]), ("logcumsumexp", (1,), [(2, 3)]),
])
def test_out_as_torch(name, args, shapes):
    arrays = _arrays(shapes, np.float64)
    want = getattr(torch, name)(*[torch.tensor(a) for a in arrays], *args)
    out = tg.empty(0, dtype=tg.int64 if name == "argmax" else tg.float64)
    got = getattr(tg, name)(*[tg.tensor(a) for a in arrays], *args, out=out)
    assert got is out and tuple(out.shape) == tuple(want.shape)
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-12)
    x = tg.tensor(arrays[0], requires_grad=True)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        getattr(tg, name)(x, *[tg.tensor(a) for a in arrays[1:]], *args, out=tg.empty(0))


# -- fused products and arithmetic (tapegrad/fused.py) ----------------------------------------

FUSED = [
    ("addmm", lambda L, m, a, b: L.addmm(m, a, b), [(2, 3), (2, 4), (4, 3)]),
    ("addmm_ba", lambda L, m, a, b: L.addmm(m, a, b, beta=0.5, alpha=-2), [(3,), (2, 4), (4, 3)]),
    ("addmm_0d", lambda L, m, a, b: m.addmm(a, b, alpha=3), [(), (2, 4), (4, 3)]),
    ("addmm_k0", lambda L, m, a, b: L.addmm(m, a, b), [(2, 1), (2, 0), (0, 3)]),
    ("addmm_empty", lambda L, m, a, b: L.addmm(m, a, b), [(0, 3), (0, 4), (4, 3)]),
    ("addmv", lambda L, m, a, v: L.addmv(m, a, v, beta=2), [(2,), (2, 4), (4,)]),
    ("addmv_1", lambda L, m, a, v: m.addmv(a, v, alpha=0.5), [(1,), (3, 2), (2,)]),
    ("addmv_0d", lambda L, m, a, v: L.addmv(m, a, v), [(), (3, 2), (2,)]),
    ("addbmm", lambda L, m, a, b: L.addbmm(m, a, b), [(2, 3), (5, 2, 4), (5, 4, 3)]),
    ("addbmm_ba", lambda L, m, a, b: m.addbmm(a, b, beta=-1, alpha=0.5), [(1, 3), (2, 2, 4),
                                                                           (2, 4, 3)]),
    ("addbmm_b0", lambda L, m, a, b: L.addbmm(m, a, b), [(2, 3), (0, 2, 4), (0, 4, 3)]),
    ("baddbmm", lambda L, m, a, b: L.baddbmm(m, a, b), [(5, 2, 3), (5, 2, 4), (5, 4, 3)]),
    ("baddbmm_bc", lambda L, m, a, b: m.baddbmm(a, b, beta=2, alpha=3), [(2, 3), (5, 2, 4),
                                                                          (5, 4, 3)]),
    ("addr", lambda L, m, a, b: L.addr(m, a, b), [(2, 3), (2,), (3,)]),
    ("addr_ba", lambda L, m, a, b: m.addr(a, b, beta=0.5, alpha=2), [(3,), (2,), (3,)]),
    ("addcmul", lambda L, x, a, b: L.addcmul(x, a, b), [(2, 3), (3,), (2, 1)]),
    ("addcmul_v", lambda L, x, a, b: x.addcmul(a, b, value=-0.5), [(3,), (2, 3), ()]),
    ("addcmul_0d", lambda L, x, a, b: L.addcmul(x, a, b, value=2), [(), (), ()]),
    ("addcdiv", lambda L, x, a, b: L.addcdiv(x, a, b), [(2, 3), (3,), (2, 1)]),
    ("addcdiv_v", lambda L, x, a, b: x.addcdiv(a, b, value=3), [(3,), (2, 3), ()]),
    ("rsub", lambda L, x, y: L.rsub(x, y), [(2, 3), (3,)]),
    ("rsub_alpha", lambda L, x, y: L.rsub(x, y, alpha=0.5), [(3,), (2, 3)]),
    ("rsub_number", lambda L, x: L.rsub(x, 2, alpha=3), [(2, 3)]),
    ("rsub_number1", lambda L, x: L.rsub(x, 1.5), [()]),
    ("true_divide", lambda L, x, y: L.true_divide(x, y), [(2, 3), (3,)]),
    ("true_divide_m", lambda L, x: x.true_divide(4), [(2, 3)]),
    ("positive", lambda L, x: L.positive(x) * 2, [(2, 3)]),
    ("positive_m", lambda L, x: x.positive() * 2, [()]),
    ("cdist", lambda L, a, b: L.cdist(a, b), [(3, 2), (4, 2)]),
    ("cdist_p1", lambda L, a, b: L.cdist(a, b, p=1), [(3, 2), (4, 2)]),
    ("cdist_p3", lambda L, a, b: L.cdist(a, b, 3.0), [(2, 3, 2), (1, 4, 2)]),
    ("cdist_half", lambda L, a, b: L.cdist(a, b, p=0.5), [(3, 2), (2, 2)]),
    ("cdist_inf", lambda L, a, b: L.cdist(a, b, p=float("inf")), [(3, 2), (2, 2)]),
    ("cdist_0", lambda L, a, b: L.cdist(a, b, p=0), [(3, 2), (2, 2)]),
    ("cdist_batch", lambda L, a, b: L.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist"),
     [(2, 1, 3, 2), (4, 2, 2)]),
    ("cdist_empty", lambda L, a, b: L.cdist(a, b), [(0, 2), (3, 2)]),
    ("cdist_m0", lambda L, a, b: L.cdist(a, b, 1.0), [(2, 0), (3, 0)]),
    ("chain_matmul", lambda L, a, b, c: L.chain_matmul(a, b, c), [(2, 3), (3, 4), (4, 2)]),
    ("chain_matmul_1", lambda L, a: L.chain_matmul(a) * 2, [(2, 3)]),
]

# torch's cdist has no second derivative ('_cdist_backward' is not implemented): its second
# order is compared with torch's norm of the differences below
_NO_TORCH_SECOND = ("cdist", "chain_matmul")


@pytest.mark.filterwarnings("ignore:torch.chain_matmul is deprecated")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fn,shapes", FUSED, ids=[f[0] for f in FUSED])
def test_fused_match_torch(name, fn, shapes, dtype):
    _compare(lambda *t: fn(tg, *t), lambda *t: fn(torch, *t), shapes, dtype,
             second=not name.startswith(_NO_TORCH_SECOND))
    arrays = _arrays(shapes, dtype)
    yt = fn(torch, *[torch.tensor(a, requires_grad=True) for a in arrays])
    yg = fn(tg, *[tg.tensor(a, requires_grad=True) for a in arrays])
    if not name.startswith("chain_matmul"):  # (torch's multi_dot ends in a view)
        assert yg.grad_fn.name() == yt.grad_fn.name()


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf")])
def test_cdist_second_order_as_torchs_norm_of_differences(p):
    a, b = RNG.standard_normal((3, 2)), RNG.standard_normal((4, 2))

    def by_norm(x, y):
        return (x.unsqueeze(-2) - y.unsqueeze(-3)).norm(p, dim=-1)

    # (p = 1 and inf are piecewise linear: torch's second gradient is a zero tensor, tapegrad's
    # none, which _compare cannot differentiate)
    _compare(lambda x, y: tg.cdist(x, y, p), by_norm, [(3, 2), (4, 2)],
             second=p not in (1.0, float("inf")))
    ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    assert tg.gradcheck(lambda x, y: tg.cdist(x, y, p), (ta, tb))


def test_cdist_zero_distance_gradient_as_torch():
    # (zero distances, single zero differences, and ties of the largest |difference|)
    a = np.array([[0., 1.], [2., 2.]])
    b = np.array([[0., 1.], [2., 2.], [1., 0.], [0., 3.]])
    for p in (2.0, 1.0, 3.0, 0.5, 1.5, 0.0, float("inf")):
        ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        ga, gb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
        torch.cdist(ta, tb, p).sum().backward()
        tg.cdist(ga, gb, p).sum().backward()
        np.testing.assert_allclose(ga.grad.numpy(), ta.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gb.grad.numpy(), tb.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["addmm", "addmv", "addbmm", "baddbmm", "addr"])
def test_beta_zero_ignores_input_as_torch(name):
    shapes = {"addmm": [(2, 3), (2, 4), (4, 3)], "addmv": [(2,), (2, 4), (4,)],
              "addbmm": [(2, 3), (2, 2, 4), (2, 4, 3)], "baddbmm": [(2, 2, 3), (2, 2, 4),
                                                                    (2, 4, 3)],
              "addr": [(2, 3), (2,), (3,)]}[name]
    arrays = _arrays(shapes, np.float64)
    arrays[0][...] = np.nan
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    gt = [tg.tensor(a, requires_grad=True) for a in arrays]
    yt, yg = getattr(torch, name)(*tt, beta=0), getattr(tg, name)(*gt, beta=0)
    np.testing.assert_allclose(yg.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
    yt.sum().backward()
    yg.sum().backward()
    for a, b in zip(gt, tt, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)


def _second_order_by_finite_differences(first, shapes, atol=1e-6):
    """The gradient of sum(v * first(*xs)) (``first`` differentiates inside, create_graph)
    against central differences of that sum, in float64."""
    from tests.helpers import numeric_grad

    arrays = _arrays(shapes, np.float64)
    ts = [tg.tensor(a, requires_grad=True) for a in arrays]
    g = first(*ts)
    v = RNG.uniform(0.5, 1.5, tuple(g.shape))
    got = tg.autograd.grad((g * tg.tensor(v)).sum(), ts, allow_unused=True,
                           materialize_grads=True)

    def scalar(*xs):
        return float((first(*[tg.tensor(x, requires_grad=True) for x in xs]).detach().numpy()
                      * v).sum())

    for i, t in enumerate(got):
        np.testing.assert_allclose(t.numpy(), numeric_grad(scalar, arrays, i), atol=atol,
                                   rtol=1e-5)


def test_second_order_of_addmm_addcmul_cdist_by_finite_differences():
    def addmm_grad(m, a, b):
        y = tg.addmm(m, a, b, beta=0.5, alpha=2)
        return tg.autograd.grad((y * y).sum(), a, create_graph=True)[0]

    def addcmul_grad(x, a, b):
        y = tg.addcmul(x, a, b, value=1.5)
        return tg.autograd.grad((y * y * y).sum(), b, create_graph=True)[0]

    def cdist_grad(a, b):
        return tg.autograd.grad((tg.cdist(a, b) ** 3).sum() + tg.cdist(a, b, 3.0).sum(), a,
                                create_graph=True)[0]

    _second_order_by_finite_differences(addmm_grad, [(2, 3), (2, 4), (4, 3)])
    _second_order_by_finite_differences(addcmul_grad, [(2, 3), (3,), (2, 1)])
    _second_order_by_finite_differences(cdist_grad, [(3, 2), (4, 2)], atol=1e-5)


def test_integer_fused_and_floor_divide_as_torch():
    i, j = [5, -7, 3], [2, 2, -2]
    cases = [
        lambda L: L.addcmul(L.tensor(i), L.tensor(i), L.tensor(j), value=2),
        lambda L: L.addcmul(L.tensor(i), L.tensor(i), L.tensor(j), value=0.5),
        lambda L: L.addcdiv(L.tensor(i), L.tensor(i, dtype=L.float64), L.tensor(j)),
        lambda L: L.rsub(L.tensor(i), L.tensor(j), alpha=2),
        lambda L: L.true_divide(L.tensor(i), L.tensor(j)).to(L.float64),  # (default dtypes)
        lambda L: L.floor_divide(L.tensor(i), L.tensor(j)),
        lambda L: L.floor_divide(L.tensor(i), 2),
        lambda L: L.floor_divide(L.tensor(i, dtype=L.float32), L.tensor(j, dtype=L.float32)),
        lambda L: L.floor_divide(L.tensor([1., -1., 0., 7.], dtype=L.float32), 0.),
        lambda L: L.floor_divide(L.tensor([1.], dtype=L.float32), 0.1),
        lambda L: L.floor_divide(L.tensor([-7.5, 7.5], dtype=L.float32),
                                 L.tensor([2.], dtype=L.float32)),
        lambda L: L.tensor(i).floor_divide(L.tensor([-2])),
        lambda L: L.positive(L.tensor(i)),
        lambda L: L.addmm(L.tensor([[1, 2]]), L.tensor([[1], [2]]), L.tensor([[3, 4]]), alpha=2),
    ]
    for fn in cases:
        a, b = fn(tg), fn(torch)
        assert a.dtype == getattr(tg, str(b.dtype).split(".")[1])
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_floor_division_operators_as_torch():
    outcomes = []
    for L in (tg, torch):
        f = L.tensor([7., -7., 0.5], dtype=L.float64)
        i = L.tensor([7, -7, 3])
        y = f.clone()
        y //= 2
        j = i.clone()
        j.floor_divide_(L.tensor([2, 2, -2]))
        x = L.tensor([7., -7.], dtype=L.float64, requires_grad=True)
        z = x * 1
        z //= 2
        with pytest.raises(RuntimeError) as err:
            z.sum().backward()
        outcomes.append(((f // 2).tolist(), (7 // f).tolist(), (i // 2).tolist(),
                         (7 // i).tolist(), y.tolist(), j.tolist(), z.grad_fn.name(),
                         str(err.value), _raised(lambda x=x: x.__ifloordiv__(2))))
    assert outcomes[0] == outcomes[1]
    # (the result's dtype named is the default float dtype's: tapegrad's float64)
    with pytest.raises(RuntimeError, match="^result type Double can't be cast to the desired "
                                           "output type Long$"):
        tg.tensor([7, -7]).__ifloordiv__(2.5)


def _raised(f):
    try:
        f()
    except Exception as e:  # noqa: BLE001 -- the error is the result
        return type(e).__name__, str(e)
    raise AssertionError("no error")


def test_floor_divide_has_torchs_missing_derivative():
    x = tg.tensor([1.5, -2.5], requires_grad=True)
    y = tg.floor_divide(x, 0.5)
    assert y.requires_grad and y.grad_fn.name() == torch.floor_divide(
        torch.tensor([1.], requires_grad=True), 2.).grad_fn.name()
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not impl"):
        (x * 2 + y).sum().backward()


def test_positive_and_chain_matmul_as_torch():
    x = tg.ones(2)
    assert tg.positive(x) is x
    with pytest.warns(UserWarning, match="chain_matmul is deprecated"):
        tg.chain_matmul(tg.ones(2, 2))
    out = tg.empty(0)
    with pytest.warns(UserWarning):
        assert tg.chain_matmul(tg.ones(2, 3), tg.ones(3, 1), out=out) is out
    assert out.tolist() == [[3.], [3.]]
    with pytest.warns(UserWarning), pytest.raises(RuntimeError) as got:
        tg.chain_matmul(tg.ones(1, 2, requires_grad=True), tg.ones(2, 1), out=tg.empty(0))
    with warnings.catch_warnings(), pytest.raises(RuntimeError) as want:
        warnings.simplefilter("ignore")  # (torch warns once per process)
        torch.chain_matmul(torch.ones(1, 2, requires_grad=True), torch.ones(2, 1),
                           out=torch.empty(0))
    assert str(got.value) == str(want.value)


FUSED_ERRORS = [
    (lambda L, m, a, b: L.addmm(m, a, b.T), [(2, 3), (2, 4), (4, 3)]),
    (lambda L, m, a, b: L.addmm(m, a[0], b), [(2, 3), (2, 4), (4, 3)]),
    (lambda L, m, a, b: L.addmm(m, a, b[:, 0]), [(2, 3), (2, 4), (4, 3)]),
    (lambda L, m, a, b: L.addmm(m, a, b), [(3, 3), (2, 4), (4, 3)]),
    (lambda L, m, a, b: L.addmm(m, a.float(), b), [(2, 3), (2, 4), (4, 3)]),
    (lambda L, m, a, b: L.addmm(m.float(), a, b), [(2, 3), (2, 4), (4, 3)]),
    (lambda L, m, a, v: L.addmv(m, a, v[:3]), [(2,), (2, 4), (4,)]),
    (lambda L, m, a, v: L.addmv(m, a, v), [(3,), (2, 4), (4,)]),
    (lambda L, m, a, v: L.addmv(m, a, v), [(1, 2), (2, 4), (4,)]),
    (lambda L, m, a, v: L.addmv(m, a, v.float()), [(2,), (2, 4), (4,)]),
    (lambda L, m, a, b: L.addbmm(m, a, b[:, :3]), [(2, 3), (5, 2, 4), (5, 4, 3)]),
    (lambda L, m, a, b: L.addbmm(m, a, b[:4]), [(2, 3), (5, 2, 4), (5, 4, 3)]),
    (lambda L, m, a, b: L.addbmm(m, a, b.float()), [(2, 3), (5, 2, 4), (5, 4, 3)]),
    (lambda L, m, a, b: L.addbmm(m.float(), a, b), [(2, 3), (5, 2, 4), (5, 4, 3)]),
    (lambda L, m, a, b: L.baddbmm(m, a, b[:, :3]), [(2, 3), (5, 2, 4), (5, 4, 3)]),
    (lambda L, m, a, b: L.baddbmm(m, a, b[:4]), [(2, 3), (5, 2, 4), (5, 4, 3)]),
    (lambda L, m, a, b: L.baddbmm(m, a, b.float()), [(2, 3), (5, 2, 4), (5, 4, 3)]),
    (lambda L, m, a, b: L.baddbmm(m.float(), a, b), [(2, 3), (5, 2, 4), (5, 4, 3)]),
    (lambda L, m, a, b: L.baddbmm(m, a, b), [(2, 4, 3), (5, 2, 4), (5, 4, 3)]),
    (lambda L, m, a, b: L.addr(m, a, b), [(2, 3), (2, 2), (3,)]),
    (lambda L, m, a, b: L.addr(m, a, b), [(2, 3), (2,), (3, 1)]),
    (lambda L, m, a, b: L.addr(m, a, b), [(2, 2), (2,), (3,)]),
    (lambda L, m, a, b: L.addr(m.long(), a.long(), b.long(), beta=0.5), [(2, 3), (2,), (3,)]),
    (lambda L, x, a, b: L.addcmul(x, a, b), [(3,), (2, 1), (4,)]),
    (lambda L, x, a, b: L.addcdiv(x, a.long(), b.long()), [(3,), (3,), (3,)]),
    (lambda L, x, y: L.rsub(x > 0, y > 0), [(3,), (3,)]),
    (lambda L, x: L.positive(x > 0), [(3,)]),
    (lambda L, x: L.floor_divide(x.long(), 0), [(3,)]),
    (lambda L, a, b: L.cdist(a[0], b), [(2, 3), (2, 3)]),
    (lambda L, a, b: L.cdist(a, b), [(2, 3), (2, 4)]),
    (lambda L, a, b: L.cdist(a, b, p=-1), [(2, 3), (2, 3)]),
    (lambda L, a, b: L.cdist(a.long(), b.long()), [(2, 3), (2, 3)]),
    (lambda L, a, b: L.cdist(a, b.float()), [(2, 3), (2, 3)]),
    (lambda L, a, b: L.cdist(a, b), [(5, 2, 3), (3, 4, 3)]),
    (lambda L, a, b: L.cdist(a, b, compute_mode="bad"), [(2, 3), (2, 3)]),
    (lambda L, a, b: L.chain_matmul(a, b), [(2, 3), (2, 3)]),
    (lambda L, a, b: L.chain_matmul(a[0], b), [(2, 3), (3, 3)]),
    (lambda L: L.chain_matmul(), []),
]


@pytest.mark.filterwarnings("ignore:torch.chain_matmul is deprecated")
@pytest.mark.parametrize("k", range(len(FUSED_ERRORS)))
def test_fused_errors_match_torch(k):
    fn, shapes = FUSED_ERRORS[k]
    _errors(lambda *t: fn(tg, *t), lambda *t: fn(torch, *t), shapes)


def test_fused_names_and_methods_as_torch():
    for name in ("addmm", "addmv", "addbmm", "baddbmm", "addr", "addcmul", "addcdiv", "rsub",
                 "true_divide", "floor_divide", "positive", "cdist", "chain_matmul"):
        assert name in tg.__all__ and callable(getattr(tg, name))
        assert hasattr(tg.Tensor, name) == hasattr(torch.Tensor, name), name


def test_fused_compiled_replay_equals_eager():
    def f(m, a, b):
        y = tg.addmm(m, a, b, beta=0.5, alpha=2) + tg.addcmul(m, m, m, value=0.5)
        return (y * y).sum() + tg.cdist(a, b.T).sum() + tg.rsub(m, 1.0).sum() + (
            tg.cdist(a.round(), b.T.round(), float("inf")) * tg.cdist(a, b.T, 0.5)).sum()

    arrays = _arrays([(2, 3), (2, 4), (4, 3)], np.float64)
    tape = tg.compile(f, *[tg.tensor(a) for a in arrays])
    fresh = _arrays([(2, 3), (2, 4), (4, 3)], np.float64)
    ts = [tg.tensor(a, requires_grad=True) for a in fresh]
    f(*ts).backward()
    for got, t in zip(tape.gradient(*fresh), ts, strict=True):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-12)


def test_cdist_inf_ties_replay_as_torch():
    def f(a, b):
        return (tg.cdist(a, b, float("inf")) ** 2).sum()

    a = np.array([[0., 1.], [2., 2.]])
    b = np.array([[0., 1.], [2., 2.], [1., 0.], [0., 3.]])
    tape = tg.compile(f, tg.tensor(a + 0.25), tg.tensor(b))
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (torch.cdist(ta, tb, float("inf")) ** 2).sum().backward()
    ga, gb = tape.gradient(a, b)
    np.testing.assert_allclose(ga, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-12)


def test_var_and_std_nodes_are_named_as_torch_s():
    for lib in (tg, torch):
        x = lib.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
        names = [type(y.grad_fn).__name__ if lib is torch else y.grad_fn.name()
                 for y in (x.var(), x.std(0), lib.var(x, 1, keepdim=True), x.std(correction=0))]
        assert names == ["VarBackward0", "StdBackward0", "VarBackward0", "StdBackward0"]
