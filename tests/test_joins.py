"""torch's joins and shape functions (tapegrad/joins.py, tapegrad/shapes.py): values, dtypes,
grad_fn names, gradients and second derivatives against torch's, float64 and float32, 0-d /
(1,) / empty inputs, negative dims, finite differences, and torch's errors."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import tapegrad as tg
from tests.helpers import check_gradients

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(2026)


def _pieces(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


def _same(a, b, tol):
    if a is None and b is None:
        return
    want = None if b is None else b.detach().numpy()
    got = None if a is None else a.detach().numpy()
    if want is None:
        want = np.zeros_like(got)
    if got is None:
        got = np.zeros_like(want)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, **tol)


def _check(fn, shapes, dtype=np.float64, names=True):
    """``fn(lib, *tensors)`` in tapegrad and torch: values, shapes, dtypes, grad_fn names, the
    gradients of sum(w * y * y) and, in float64, the gradient of the gradients."""
    arrays = [RNG.standard_normal(s).astype(dtype) for s in shapes]
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    gt = [tg.tensor(a, requires_grad=True) for a in arrays]
    yt, yg = _pieces(fn(torch, *tt)), _pieces(fn(tg, *gt))
    assert len(yt) == len(yg)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    for a, b in zip(yg, yt, strict=True):
        assert tuple(a.shape) == tuple(b.shape)
        assert a.dtype == getattr(tg, str(b.dtype).split(".")[1])
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)
        if names and b.grad_fn is not None:
            assert a.grad_fn.name() == b.grad_fn.name()
    ws = [RNG.uniform(0.5, 1.5, tuple(b.shape)).astype(dtype) for b in yt]
    lt = sum((b * b * torch.tensor(w)).sum() for b, w in zip(yt, ws, strict=True))
    lg = sum((a * a * tg.tensor(w)).sum() for a, w in zip(yg, ws, strict=True))
    if not isinstance(lt, torch.Tensor) or not lt.requires_grad:
        return
    dt = torch.autograd.grad(lt, tt, create_graph=True, allow_unused=True)
    dg = tg.autograd.grad(lg, gt, create_graph=True, allow_unused=True)
    for a, b in zip(dg, dt, strict=True):
        _same(a, b, tol)
    if dtype != np.float64:
        return
    pairs = [(a, b, RNG.uniform(0.5, 1.5, tuple(b.shape)))
             for a, b in zip(dg, dt, strict=True) if b is not None and b.requires_grad]
    if not pairs:
        return
    st = sum((b * torch.tensor(v)).sum() for _, b, v in pairs)
    sg = sum((a * tg.tensor(v)).sum() for a, _, v in pairs)
    d2t = torch.autograd.grad(st, tt, allow_unused=True)
    d2g = tg.autograd.grad(sg, gt, allow_unused=True)
    for a, b in zip(d2g, d2t, strict=True):
        _same(a, b, tol)


def _i(L, values, dtype=None):
    return L.tensor(values) if dtype is None else L.tensor(values, dtype=getattr(L, dtype))


CASES = [
    # -- joins
    ("hstack", lambda L, a, b: L.hstack([a, b]), [(2, 3), (2, 1)]),
    ("hstack_1d", lambda L, a, b: L.hstack((a, b)), [(3,), (2,)]),
    ("hstack_0d", lambda L, a, b: L.hstack([a, b]), [(), ()]),
    ("vstack", lambda L, a, b: L.vstack([a, b]), [(3,), (2, 3)]),
    ("vstack_0d", lambda L, a, b: L.vstack([a, b]), [(), (1,)]),
    ("row_stack", lambda L, a, b: L.row_stack([a, b]), [(3,), (3,)]),
    ("dstack", lambda L, a, b: L.dstack([a, b]), [(3,), (1, 3)]),
    ("dstack_3d", lambda L, a, b: L.dstack([a, b]), [(2, 3, 1), (2, 3)]),
    ("column_stack", lambda L, a, b: L.column_stack([a, b]), [(3,), (3, 2)]),
    ("column_stack_0d", lambda L, a, b: L.column_stack([a, b]), [(), (1,)]),
    ("hstack_empty", lambda L, a, b: L.hstack([a, b]), [(0,), (2,)]),
    ("atleast_1d", lambda L, a: L.atleast_1d(a), [()]),
    ("atleast_1d_same", lambda L, a: L.atleast_1d(a) * 2, [(2,)]),
    ("atleast_2d", lambda L, a, b: L.atleast_2d(a, b), [(), (3,)]),
    ("atleast_3d", lambda L, a, b, c: L.atleast_3d([a, b, c]), [(), (3,), (2, 3)]),
    ("atleast_3d_4d", lambda L, a: L.atleast_3d(a) * 2, [(1, 2, 1, 2)]),
    # -- broadcasting and views
    ("broadcast_to", lambda L, a: L.broadcast_to(a, (2, 3)), [(3,)]),
    ("broadcast_to_keep", lambda L, a: a.broadcast_to((4, -1, 3)), [(2, 1)]),
    ("broadcast_to_0d", lambda L, a: L.broadcast_to(a, (2,)), [()]),
    ("broadcast_tensors", lambda L, a, b: L.broadcast_tensors(a, b), [(2, 1), (3,)]),
    ("broadcast_tensors_same", lambda L, a, b: [t * 2 for t in L.broadcast_tensors(a, b)],
     [(2,), (2,)]),
    ("ravel", lambda L, a: L.ravel(a.transpose(0, 1)), [(2, 3)]),
    ("ravel_0d", lambda L, a: a.ravel(), [()]),
    ("t", lambda L, a: L.t(a), [(2, 3)]),
    ("t_1d", lambda L, a: L.t(a) * 2, [(3,)]),
    ("swapaxes", lambda L, a: L.swapaxes(a, 0, -1), [(2, 3, 4)]),
    ("swapdims", lambda L, a: a.swapdims(-1, 1), [(2, 3, 4)]),
    ("swapaxes_m", lambda L, a: a.swapaxes(0, 1), [(2, 3)]),
    ("view_as", lambda L, a, b: a.view_as(b.detach()), [(2, 3), (3, 2)]),
    ("reshape_as", lambda L, a, b: a.reshape_as(b.detach()), [(2, 3), (6,)]),
    ("sum_to_size", lambda L, a: a.sum_to_size(1, 3), [(2, 3)]),
    ("sum_to_size_lead", lambda L, a: a.sum_to_size((3,)), [(2, 3)]),
    ("sum_to_size_0d", lambda L, a: a.sum_to_size(()), [(2, 3)]),
    ("sum_to_size_mid", lambda L, a: a.sum_to_size(2, 1, 4), [(2, 3, 4)]),
    # -- splits
    ("split_with_sizes", lambda L, a: L.split_with_sizes(a, [1, 2], 1), [(2, 3)]),
    ("split_with_sizes_m", lambda L, a: a.split_with_sizes([2, 0, 1], dim=-1), [(2, 3)]),
    ("tensor_split_n", lambda L, a: L.tensor_split(a, 3), [(7,)]),
    ("tensor_split_many", lambda L, a: L.tensor_split(a, 10), [(7,)]),
    ("tensor_split_idx", lambda L, a: L.tensor_split(a, [1, 5], dim=-1), [(2, 7)]),
    ("tensor_split_odd", lambda L, a: L.tensor_split(a, (5, 1, 9, -2)), [(7,)]),
    ("tensor_split_t0", lambda L, a: a.tensor_split(_i(L, 2)), [(5, 2)]),
    ("tensor_split_t1", lambda L, a: a.tensor_split(_i(L, [2, 4]), 0), [(7,)]),
    ("tensor_split_empty", lambda L, a: L.tensor_split(a, 2), [(0, 3)]),
    ("hsplit", lambda L, a: L.hsplit(a, 2), [(2, 4)]),
    ("hsplit_1d", lambda L, a: a.hsplit([2]), [(5,)]),
    ("vsplit", lambda L, a: L.vsplit(a, [1]), [(3, 2)]),
    ("dsplit", lambda L, a: a.dsplit(2), [(1, 2, 4)]),
    # -- rotations and flips
    ("rot90", lambda L, a: L.rot90(a), [(2, 3)]),
    ("rot90_2", lambda L, a: L.rot90(a, 2, [1, 2]), [(2, 3, 4)]),
    ("rot90_neg", lambda L, a: a.rot90(-1, (-1, 0)), [(2, 3)]),
    ("rot90_5", lambda L, a: L.rot90(a, 5), [(2, 3)]),
    ("rot90_0", lambda L, a: L.rot90(a, 0) * 2, [(2, 3)]),
    ("rot90_empty", lambda L, a: L.rot90(a), [(0, 3)]),
    ("fliplr", lambda L, a: L.fliplr(a), [(2, 3, 2)]),
    ("flipud", lambda L, a: a.flipud(), [(3,)]),
    # -- block diagonals, products of sets, repeats
    ("block_diag", lambda L, a, b, c: L.block_diag(a, b, c), [(2, 3), (2,), ()]),
    ("block_diag_one", lambda L, a: L.block_diag(a), [(2, 2)]),
    ("block_diag_empty", lambda L, a, b: L.block_diag(a, b), [(0, 2), (1, 1)]),
    ("cartesian_prod", lambda L, a, b: L.cartesian_prod(a, b), [(2,), (3,)]),
    ("cartesian_prod3", lambda L, a, b, c: L.cartesian_prod(a, b, c), [(2,), (1,), (2,)]),
    ("cartesian_prod1", lambda L, a: L.cartesian_prod(a) * 2, [(3,)]),
    ("combinations", lambda L, a: L.combinations(a), [(4,)]),
    ("combinations_r", lambda L, a: L.combinations(a, 3, True), [(3,)]),
    ("combinations_none", lambda L, a: L.combinations(a, r=3), [(2,)]),
    ("repeat_interleave", lambda L, a: L.repeat_interleave(a, 2), [(2, 3)]),
    ("repeat_interleave_dim", lambda L, a: a.repeat_interleave(3, dim=-1), [(2, 3)]),
    ("repeat_interleave_t", lambda L, a: L.repeat_interleave(a, _i(L, [1, 0, 2]), dim=1),
     [(2, 3)]),
    ("repeat_interleave_t1", lambda L, a: a.repeat_interleave(_i(L, [2]), 0), [(2, 3)]),
    ("repeat_interleave_t0", lambda L, a: L.repeat_interleave(a, _i(L, 2), 0), [(2, 3)]),
    ("repeat_interleave_flat", lambda L, a: L.repeat_interleave(a, _i(L, [1, 2, 0, 1]),
                                                                output_size=4), [(2, 2)]),
    ("repeat_interleave_0d", lambda L, a: L.repeat_interleave(a, 3), [()]),
    ("repeat_interleave_zero", lambda L, a: L.repeat_interleave(a, 0, 0), [(2, 3)]),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, fn, shapes, dtype):
    _check(fn, shapes, dtype)


FD = [
    (lambda a, b: tg.hstack([a, b]), [(2, 3), (2, 2)]),
    (lambda a, b: tg.column_stack([a, b]), [(3,), (3, 2)]),
    (lambda a, b, c: tg.block_diag(a, b, c), [(2, 3), (2,), ()]),
    (lambda a, b: tg.cartesian_prod(a, b), [(2,), (3,)]),
    (lambda a: tg.combinations(a, 2, True), [(3,)]),
    (lambda a: tg.repeat_interleave(a, tg.tensor([2, 0, 1]), 1), [(2, 3)]),
    (lambda a: tg.rot90(a, 3, (1, 0)), [(2, 3)]),
    (lambda a: a.sum_to_size(2, 1), [(2, 3)]),
    (lambda a: tg.tensor_split(a, [1, 3])[1], [(2, 4)]),
    (lambda a: tg.broadcast_to(a, (2, 3)), [(3,)]),
]


@pytest.mark.parametrize("k", range(len(FD)))
def test_gradients_by_finite_differences(k):
    fn, shapes = FD[k]
    check_gradients(fn, [RNG.standard_normal(s) for s in shapes])


def test_integer_and_bool_inputs_as_torch():
    for fn in (lambda L: L.hstack([_i(L, [1, 2]), _i(L, [3])]),
               lambda L: L.block_diag(_i(L, [[1, 2]]), _i(L, 3.5, "float32")),
               lambda L: L.block_diag(_i(L, [[1]]), _i(L, [True])),
               lambda L: L.block_diag(_i(L, [1], "int32"), _i(L, [2], "float32")),
               lambda L: L.combinations(_i(L, [1, 2, 3]), 0),
               lambda L: L.combinations(_i(L, [True, False]), 2, with_replacement=True),
               lambda L: L.cartesian_prod(_i(L, [1, 2]), _i(L, [3, 4])),
               lambda L: L.repeat_interleave(_i(L, [1, 0, 2])),
               lambda L: L.repeat_interleave(_i(L, [[1, 2], [3, 4]]), 2),
               lambda L: L.tril_indices(3, 4, -1),
               lambda L: L.triu_indices(3, 4, 1, dtype=L.int32),
               lambda L: L.tril_indices(3, 4, 10),
               lambda L: L.triu_indices(0, 4),
               lambda L: L.rot90(_i(L, [[1, 2], [3, 4]]), 1),
               lambda L: L.atleast_2d(_i(L, True))):
        a, b = fn(tg), fn(torch)
        assert a.dtype == getattr(tg, str(b.dtype).split(".")[1])
        assert a.requires_grad is False
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    empty = tg.block_diag()
    assert empty.shape == (1, 0) and empty.dtype == tg.get_default_dtype()


def test_broadcast_shapes_and_questions_as_torch():
    for shapes in [((2, 1), (3,)), ((), (2,)), (3, (2, 1)), ((0,), (1,)), ()]:
        got, want = tg.broadcast_shapes(*shapes), torch.broadcast_shapes(*shapes)
        assert isinstance(got, tg.Size) and tuple(got) == tuple(want)
    for v in ([0.], 1, [True], float("nan"), [-0.0]):
        assert tg.is_nonzero(tg.tensor(v)) == torch.is_nonzero(torch.tensor(v))
    assert tg.tensor([2.]).is_nonzero()
    for v in ([[1., 2.]], [1, 2, 3], True):
        assert tg.numel(tg.tensor(v)) == torch.numel(torch.tensor(v))
        assert tg.is_floating_point(tg.tensor(v)) == torch.is_floating_point(torch.tensor(v))


def test_as_tensor_and_asarray_share_as_torch():
    t = tg.ones(2)
    assert tg.as_tensor(t) is t and tg.asarray(t) is t
    assert tg.as_tensor(t, dtype=tg.float32) is not t
    assert tg.asarray(t, copy=True) is not t
    a = np.ones(3)
    shared = tg.as_tensor(a)
    a[0] = 5.0
    assert shared[0].item() == 5.0
    assert tg.asarray(a, copy=True)[1].item() == 1.0
    assert tg.asarray([1, 2]).dtype == tg.int64
    assert tg.as_tensor([1.5], dtype=tg.float32).dtype == tg.float32
    z = tg.ones(2)
    assert tg.asarray(z, requires_grad=True) is z and z.requires_grad
    got = _raises(lambda: tg.asarray(tg.ones(2, dtype=tg.float32), dtype=tg.float64,
                                     copy=False))
    want = _raises(lambda: torch.asarray(torch.ones(2), dtype=torch.float64, copy=False))
    assert got == want
    with pytest.raises(TypeError):
        tg.as_tensor([1], tg.float32)  # (keyword-only, as torch's)


def _raises(f):
    try:
        f()
    except Exception as e:  # noqa: BLE001 -- the error is the result
        return type(e), str(e)
    raise AssertionError("no error")


ERRORS = [
    lambda L, x, m, s: L.hstack([]),
    lambda L, x, m, s: L.atleast_1d([x, [1]]),
    lambda L, x, m, s: L.broadcast_to(x, (2, 4)),
    lambda L, x, m, s: L.broadcast_to(m, (3,)),
    lambda L, x, m, s: L.broadcast_tensors(x, L.ones(4)),
    lambda L, x, m, s: L.broadcast_shapes((2, 1), (3,), 5),
    lambda L, x, m, s: L.broadcast_shapes((2,), (3,)),
    lambda L, x, m, s: L.broadcast_shapes((-1,), (3,)),
    lambda L, x, m, s: L.t(L.ones(2, 2, 2)),
    lambda L, x, m, s: L.swapdims(m, 0, 5),
    lambda L, x, m, s: L.split_with_sizes(m, [1, 1], 1),
    lambda L, x, m, s: L.tensor_split(x, 0),
    lambda L, x, m, s: L.tensor_split(x, _i(L, [[2, 4]])),
    lambda L, x, m, s: L.tensor_split(x, _i(L, [2., 4.], "float32")),
    lambda L, x, m, s: L.tensor_split(s, 2),
    lambda L, x, m, s: L.hsplit(m, 2),
    lambda L, x, m, s: L.hsplit(m, 0),
    lambda L, x, m, s: L.hsplit(s, 1),
    lambda L, x, m, s: L.vsplit(x, 1),
    lambda L, x, m, s: L.dsplit(m, 1),
    lambda L, x, m, s: L.rot90(x),
    lambda L, x, m, s: L.rot90(m, 1, [0]),
    lambda L, x, m, s: L.rot90(m, 1, [0, -2]),
    lambda L, x, m, s: L.rot90(m, 1, [0, 2]),
    lambda L, x, m, s: L.fliplr(x),
    lambda L, x, m, s: L.flipud(s),
    lambda L, x, m, s: L.block_diag(L.ones(2, 2, 2)),
    lambda L, x, m, s: L.block_diag([m]),
    lambda L, x, m, s: L.cartesian_prod(m),
    lambda L, x, m, s: L.cartesian_prod(),
    lambda L, x, m, s: L.combinations(s),
    lambda L, x, m, s: L.combinations(x, -1),
    lambda L, x, m, s: L.triu_indices(-1, 4),
    lambda L, x, m, s: L.tril_indices(3, 4, dtype=L.float32),
    lambda L, x, m, s: L.repeat_interleave(m, -1),
    lambda L, x, m, s: L.repeat_interleave(m, _i(L, [-1, 2]), 0),
    lambda L, x, m, s: L.repeat_interleave(m, _i(L, [1, 2])),
    lambda L, x, m, s: L.repeat_interleave(m, 2, dim=0, output_size=5),
    lambda L, x, m, s: L.repeat_interleave(m, _i(L, [1., 2.], "float32"), 0),
    lambda L, x, m, s: L.repeat_interleave(m, _i(L, [[1, 2]]), 0),
    lambda L, x, m, s: L.repeat_interleave(s, 3, 0),
    lambda L, x, m, s: m.sum_to_size(4),
    lambda L, x, m, s: m.sum_to_size(1, 2, 3),
    lambda L, x, m, s: m.view_as(L.ones(4)),
    lambda L, x, m, s: m.view_as([1]),
    lambda L, x, m, s: L.is_nonzero(L.ones(2)),
    lambda L, x, m, s: L.is_nonzero(L.ones(0)),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_match_torch(k):
    def run(L):
        x = L.tensor(RNG.standard_normal(7), requires_grad=True)
        m = L.tensor(RNG.standard_normal((2, 5)), requires_grad=True)
        s = L.tensor(1.5, requires_grad=True)
        return lambda: ERRORS[k](L, x, m, s)

    assert _raises(run(tg)) == _raises(run(torch))


def test_out_as_torch():
    out = tg.empty(0)
    got = tg.hstack([tg.ones(2), tg.zeros(1)], out=out)
    assert got is out and out.tolist() == [1., 1., 0.]
    for name in ("hstack", "vstack", "row_stack", "dstack", "column_stack"):
        assert "out" in inspect.signature(getattr(tg, name)).parameters
        got = _raises(lambda n=name: getattr(tg, n)([tg.ones(2, requires_grad=True)] * 2,
                                                    out=tg.empty(0)))
        want = _raises(lambda n=name: getattr(torch, n)(
            [torch.ones(2, requires_grad=True)] * 2, out=torch.empty(0)))
        assert got == want


def test_docstring_examples_run():
    import doctest

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    from tapegrad import fused, joins, shapes

    for name in joins.__all__ + fused.__all__ + shapes.__all__ + ["scatter_reduce"]:
        for test in finder.find(getattr(tg, name), name, globs={}):
            runner.run(test)
    for name in ("sum_to_size", "view_as", "reshape_as"):
        for test in finder.find(getattr(tg.Tensor, name), name, globs={}):
            runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0 and result.attempted > 50


@pytest.mark.parametrize("name", ["hstack", "vstack", "row_stack", "dstack", "column_stack",
                                  "atleast_1d", "atleast_2d", "atleast_3d", "ravel", "t",
                                  "broadcast_to", "broadcast_tensors", "broadcast_shapes",
                                  "swapaxes", "swapdims", "split_with_sizes", "tensor_split",
                                  "hsplit", "vsplit", "dsplit", "rot90", "fliplr", "flipud",
                                  "block_diag", "cartesian_prod", "combinations",
                                  "triu_indices", "tril_indices", "repeat_interleave",
                                  "as_tensor", "asarray", "numel", "is_floating_point",
                                  "is_nonzero"])
def test_names_and_methods_as_torch(name):
    assert name in tg.__all__ and callable(getattr(tg, name))
    assert hasattr(tg.Tensor, name) == hasattr(torch.Tensor, name), name


@pytest.mark.parametrize("name", ["view_as", "reshape_as", "sum_to_size"])
def test_methods_only_as_torch(name):
    assert hasattr(tg.Tensor, name) and not hasattr(tg, name) and not hasattr(torch, name)


def test_compiled_replay_equals_eager():
    def f(a, b):
        j = tg.block_diag(a, b) + tg.hstack([a, a]).sum()
        r = tg.rot90(a).repeat_interleave(2, 0)
        return (j * j).sum() + (r * r).sum() + tg.cartesian_prod(b[0], b[1]).sum()

    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 2))
    tape = tg.compile(f, tg.tensor(a), tg.tensor(b))
    a2, b2 = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 2))
    ta, tb = tg.tensor(a2, requires_grad=True), tg.tensor(b2, requires_grad=True)
    f(ta, tb).backward()
    ga, gb = tape.gradient(a2, b2)
    np.testing.assert_allclose(ga, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-12)
