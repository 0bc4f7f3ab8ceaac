"""Products and reductions in torch's names (issue 19 item 1): values, gradients and second
derivatives against torch's, float64 and float32, and torch's errors for wrong shapes."""

from __future__ import annotations

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


def test_einsum_diagonal_is_refused_clearly():
    with pytest.raises(NotImplementedError, match="diagonal"):
        tg.einsum("ii->i", tg.ones(2, 2))
