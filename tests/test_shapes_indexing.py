"""Indexing and shape in torch's names (issue 19, tapegrad/shapes.py): values, gradients,
second derivatives (create_graph=True) and grad_fn names against torch's, float64 and float32,
0-d / (1,) / empty inputs, negative dims, and torch's errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(1919)


def _pieces(y):
    return list(y) if isinstance(y, (tuple, list)) else [y]


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
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, **tol)


def _check(fn, shapes, dtype=np.float64, names=True):
    """``fn(lib, *tensors)`` in tapegrad and torch: values, shapes, dtypes, grad_fn names, the
    gradients of sum(w * y * y) (so the second order is not zero) and, in float64, the gradient
    of the gradients' weighted sum."""
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


def _i(lib, values):
    return lib.tensor(values)


def _joined(lib, pieces):
    """Pieces (split, chunk, unbind) weighted differently, as one tensor."""
    return [p * float(k + 1) for k, p in enumerate(pieces)]


CASES = [
    # -- 1. views and rearrangements by shape
    ("flatten", lambda L, x: x.flatten(), [(2, 3, 4)]),
    ("flatten_mid", lambda L, x: L.flatten(x, 1, -2), [(2, 3, 4, 2)]),
    ("flatten_same", lambda L, x: x.flatten(1, 1), [(2, 3)]),
    ("flatten_0d", lambda L, x: L.flatten(x), [()]),
    ("flatten_empty", lambda L, x: x.flatten(0, 1), [(0, 3)]),
    ("unflatten", lambda L, x: x.unflatten(1, (2, -1)), [(3, 4)]),
    ("unflatten_neg", lambda L, x: L.unflatten(x, -1, (2, 2)), [(3, 4)]),
    ("movedim", lambda L, x: x.movedim(0, -1), [(2, 3, 4)]),
    ("movedim_many", lambda L, x: L.movedim(x, (0, 2), (2, 0)), [(2, 3, 4)]),
    ("moveaxis", lambda L, x: L.moveaxis(x, -1, 0), [(2, 3, 4)]),
    ("moveaxis_m", lambda L, x: x.moveaxis(1, 0), [(2, 3)]),
    ("narrow", lambda L, x: x.narrow(1, 1, 2), [(3, 4)]),
    ("narrow_neg", lambda L, x: L.narrow(x, -1, -3, 2), [(3, 4)]),
    ("narrow_empty", lambda L, x: x.narrow(0, 2, 0), [(3, 4)]),
    ("flip", lambda L, x: x.flip(0), [(3, 4)]),
    ("flip_many", lambda L, x: L.flip(x, (0, -1)), [(2, 3, 4)]),
    ("flip_varargs", lambda L, x: x.flip(0, 1), [(2, 3)]),
    ("flip_0d", lambda L, x: L.flip(x, ()), [()]),
    ("flip_empty", lambda L, x: x.flip(1), [(0, 3)]),
    ("roll", lambda L, x: x.roll(1, 0), [(3, 4)]),
    ("roll_flat", lambda L, x: L.roll(x, -5), [(3, 4)]),
    ("roll_many", lambda L, x: L.roll(x, (1, -2), (0, -1)), [(3, 4)]),
    ("roll_1", lambda L, x: x.roll(3), [(1,)]),
    ("repeat", lambda L, x: x.repeat(2, 3), [(2, 3)]),
    ("repeat_lead", lambda L, x: x.repeat((2, 1, 2)), [(2, 3)]),
    ("repeat_0d", lambda L, x: x.repeat(3), [()]),
    ("repeat_zero", lambda L, x: x.repeat(0, 1), [(2, 3)]),
    ("tile", lambda L, x: L.tile(x, (2,)), [(2, 3)]),
    ("tile_m", lambda L, x: x.tile((2, 1, 2)), [(2, 3)]),
    ("split", lambda L, x: _joined(L, x.split(2, 1)), [(3, 5)]),
    ("split_sizes", lambda L, x: _joined(L, L.split(x, [1, 0, 3], -1)), [(3, 4)]),
    ("split_0", lambda L, x: _joined(L, x.split(2)), [(0, 3)]),
    ("chunk", lambda L, x: _joined(L, x.chunk(3, 1)), [(2, 7)]),
    ("chunk_few", lambda L, x: _joined(L, L.chunk(x, 4)), [(3, 2)]),
    ("chunk_empty", lambda L, x: _joined(L, L.chunk(x, 3)), [(0,)]),
    ("unbind", lambda L, x: _joined(L, x.unbind(1)), [(2, 3)]),
    ("unbind_neg", lambda L, x: _joined(L, L.unbind(x, -1)), [(2, 3, 2)]),
    # -- 2. gathers and scatters by index tensors
    ("gather", lambda L, x: x.gather(1, _i(L, [[0, 2, 2], [3, 0, 1], [1, 1, 1]])), [(3, 4)]),
    ("gather_small", lambda L, x: L.gather(x, 0, _i(L, [[2], [0]])), [(3, 4)]),
    ("gather_neg", lambda L, x: L.gather(x, -1, _i(L, [[3, 3]])), [(3, 4)]),
    ("gather_0d", lambda L, x: L.gather(x, 0, _i(L, 0)), [()]),
    ("gather_empty", lambda L, x: x.gather(1, L.zeros((3, 0), dtype=L.int64)), [(3, 4)]),
    ("index_select", lambda L, x: x.index_select(1, _i(L, [3, 0, 3])), [(3, 4)]),
    ("index_select_neg", lambda L, x: L.index_select(x, -2, _i(L, [2])), [(3, 4)]),
    ("index_select_0d", lambda L, x: L.index_select(x, 0, _i(L, 1)), [(3, 4)]),
    ("index_select_empty", lambda L, x: x.index_select(0, L.zeros(0, dtype=L.int64)),
     [(3, 4)]),
    ("take", lambda L, x: x.take(_i(L, [[0, 11], [-1, 5]])), [(3, 4)]),
    ("take_empty", lambda L, x: x.take(L.zeros((2, 0), dtype=L.int64)), [(3, 4)]),
    ("gather_1d_0d", lambda L, x: L.gather(x, 0, _i(L, 2)), [(3,)]),
    ("gather_int32", lambda L, x: L.gather(x, 1, L.tensor([[1], [0]], dtype=L.int32)),
     [(2, 3)]),
    ("take_0d", lambda L, x: L.take(x, _i(L, 0)), [()]),
    ("masked_select", lambda L, x: x.masked_select(x > 0), [(3, 4)]),
    ("masked_select_bc", lambda L, x: L.masked_select(x, _i(L, [True, False, True, True])),
     [(3, 4)]),
    ("masked_select_none", lambda L, x: x.masked_select(x > 100), [(3, 4)]),
    ("masked_fill", lambda L, x: x.masked_fill(x > 0, 0.5), [(3, 4)]),
    ("masked_fill_t", lambda L, x, v: L.masked_fill(x, x < 0, v), [(3, 4), ()]),
    ("masked_fill_bc", lambda L, x, v: x.masked_fill(_i(L, [True, False, False, True]), v),
     [(3, 4), ()]),
    ("scatter", lambda L, x, s: x.scatter(1, _i(L, [[0, 2], [3, 1]]), s), [(3, 4), (2, 2)]),
    ("scatter_small", lambda L, x, s: x.scatter(1, _i(L, [[0], [3]]), s[:, :1]), [(3, 4), (2, 3)]),
    ("scatter_dup", lambda L, x, s: L.scatter(x, 0, _i(L, [[1, 1, 0, 1], [1, 2, 0, 2]]), s),
     [(3, 4), (2, 4)]),
    ("scatter_value", lambda L, x: x.scatter(-1, _i(L, [[0], [2], [1]]), 2.5), [(3, 4)]),
    ("scatter_add", lambda L, x, s: x.scatter_add(1, _i(L, [[0, 0], [3, 1]]), s),
     [(3, 4), (2, 2)]),
    ("scatter_add_f", lambda L, x, s: L.scatter_add(x, 0, _i(L, [[2, 2, 0, 1]]), s),
     [(3, 4), (1, 4)]),
    ("index_add", lambda L, x, s: x.index_add(1, _i(L, [0, 3, 0]), s), [(3, 4), (3, 3)]),
    ("index_add_alpha", lambda L, x, s: L.index_add(x, 0, _i(L, [2, 2]), s, alpha=-1.5),
     [(3, 4), (2, 4)]),
    # -- 3. triangles and diagonals
    ("tril", lambda L, x: x.tril(), [(3, 4)]),
    ("tril_k", lambda L, x: L.tril(x, -1), [(2, 3, 4)]),
    ("triu", lambda L, x: x.triu(1), [(4, 3)]),
    ("triu_neg", lambda L, x: L.triu(x, -2), [(2, 4, 3)]),
    ("triu_empty", lambda L, x: x.triu(), [(0, 3)]),
    ("diag_vec", lambda L, x: x.diag(), [(3,)]),
    ("diag_vec_k", lambda L, x: L.diag(x, -2), [(3,)]),
    ("diag_mat", lambda L, x: x.diag(1), [(3, 4)]),
    ("diag_mat_neg", lambda L, x: L.diag(x, -1), [(3, 4)]),
    ("diagonal", lambda L, x: x.diagonal(), [(3, 4)]),
    ("diagonal_dims", lambda L, x: L.diagonal(x, 1, -1, 0), [(3, 2, 4)]),
    ("diagonal_far", lambda L, x: x.diagonal(7), [(3, 4)]),
    ("diag_embed", lambda L, x: x.diag_embed(), [(2, 3)]),
    ("diag_embed_dims", lambda L, x: L.diag_embed(x, -1, 0, 2), [(2, 3)]),
    ("diag_embed_1", lambda L, x: L.diag_embed(x, 1), [(1,)]),
    ("trace", lambda L, x: x.trace(), [(3, 4)]),
    ("trace_f", lambda L, x: L.trace(x), [(1, 1)]),
    ("meshgrid", lambda L, a, b: L.meshgrid(a, b, indexing="ij"), [(3,), (2,)]),
    ("meshgrid_xy", lambda L, a, b, c: L.meshgrid([a, b, c], indexing="xy"),
     [(3,), (2,), (4,)]),
    ("meshgrid_0d", lambda L, a, b: L.meshgrid(a, b, indexing="ij"), [(), (2,)]),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fn,shapes", CASES, ids=[c[0] for c in CASES])
def test_shapes_and_indexing_match_torch(name, fn, shapes, dtype):
    _check(fn, shapes, dtype)


def test_without_grad_and_integers_as_torch():
    x = np.arange(12).reshape(3, 4)
    for fn in (lambda L, t: t.flip(0), lambda L, t: t.roll(1, 1), lambda L, t: t.repeat(2, 1),
               lambda L, t: t.gather(1, _i(L, [[1], [0], [3]])), lambda L, t: t.tril(),
               lambda L, t: t.masked_fill(t > 4, 0), lambda L, t: t.diagonal(),
               lambda L, t: t.scatter(1, _i(L, [[1], [0], [3]]), L.ones(3, 1, dtype=L.int64)),
               lambda L, t: t.index_add(0, _i(L, [1, 1]), L.ones(2, 4, dtype=L.int64))):
        got, want = fn(tg, tg.tensor(x)), fn(torch, torch.tensor(x))
        assert got.dtype == tg.int64 and got.grad_fn is None
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_narrow_split_unbind_are_views_sharing_storage():
    x = tg.zeros(3, 4)
    x.narrow(1, 1, 2)[0, 0] = 5.0
    x.split(2)[1][0, 3] = 7.0
    x.unbind(1)[0][1] = 9.0
    x.diagonal(1)[1] = 4.0
    x.movedim(0, 1)[3, 0] = 3.0
    x.flatten()[5] = 1.0
    want = np.zeros((3, 4))
    want[0, 1], want[2, 3], want[1, 0], want[0, 3], want[1, 1] = 5.0, 7.0, 9.0, 3.0, 1.0
    want[1, 2] = 4.0
    np.testing.assert_array_equal(x.numpy(), want)
    y = tg.zeros(2, 3, 3)
    d = y.diagonal(-1, 1, 2)
    d.add_(1.0)
    assert y._version == d._version == 1
    np.testing.assert_array_equal(y.numpy(), np.tile(np.eye(3, k=-1), (2, 1, 1)))
    np.testing.assert_array_equal(d.numpy(), np.ones((2, 2)))


def test_diagonal_of_a_view_is_a_view_of_the_same_storage():
    x = tg.zeros(4, 4)
    x[1:, 1:].diagonal()[0] = 2.0
    assert x.numpy()[1, 1] == 2.0
    x.t().diagonal(1)[0] = 3.0
    assert x.numpy()[1, 0] == 3.0


def test_copies_do_not_share_storage_as_torch():
    for fn in (lambda t: t.flip(0), lambda t: t.roll(1), lambda t: t.repeat(1, 1),
               lambda t: t.diag(), lambda t: t.gather(0, tg.tensor([[0, 1]])),
               lambda t: t.index_select(0, tg.tensor([0])), lambda t: t.tril()):
        x = tg.zeros(2, 2)
        y = fn(x)
        y.add_(1.0)
        assert float(x.abs().sum()) == 0.0


def test_meshgrid_of_a_matrix_refused_as_torch():
    with pytest.raises(RuntimeError, match="Expected 0D or 1D tensor in the tensor list"):
        tg.meshgrid(tg.ones(2, 2), tg.ones(2), indexing="ij")


def test_meshgrid_without_indexing_warns_as_torch():
    with pytest.warns(UserWarning, match="indexing argument"):
        a, b = tg.meshgrid(tg.ones(2), tg.ones(3))
    assert tuple(a.shape) == (2, 3) and tuple(b.shape) == (2, 3)


def _idx(L, v):
    return L.tensor(v)


ERRORS = [
    (lambda L, x: x.flatten(1, 0), (3, 4)),
    (lambda L, x: x.flatten(2), (3, 4)),
    (lambda L, x: x.unflatten(1, (3, 2)), (3, 4)),
    (lambda L, x: x.unflatten(1, ()), (3, 4)),
    (lambda L, x: x.movedim((0, 1), (1,)), (3, 4)),
    (lambda L, x: x.movedim((0, 0), (1, 0)), (3, 4)),
    (lambda L, x: x.narrow(1, 5, 1), (3, 4)),
    (lambda L, x: x.narrow(1, 2, 3), (3, 4)),
    (lambda L, x: x.narrow(0, 0, 1), ()),
    (lambda L, x: x.flip(0, 0), (3, 4)),
    (lambda L, x: x.flip(2), (3, 4)),
    (lambda L, x: x.roll((1, 2), (0,)), (3, 4)),
    (lambda L, x: x.repeat(2), (3, 4)),
    (lambda L, x: x.split([1, 2], 1), (3, 4)),
    (lambda L, x: x.chunk(0), (3, 4)),
    (lambda L, x: x.unbind(2), (3, 4)),
    (lambda L, x: x.gather(1, _idx(L, [[5]])), (3, 4)),
    (lambda L, x: x.gather(1, _idx(L, [1])), (3, 4)),
    (lambda L, x: x.gather(1, _idx(L, [[-1]])), (3, 4)),
    (lambda L, x: x.index_select(1, _idx(L, [5])), (3, 4)),
    (lambda L, x: x.index_select(1, _idx(L, [[1]])), (3, 4)),
    (lambda L, x: x.index_select(1, _idx(L, [1.0])), (3, 4)),
    (lambda L, x: x.take(_idx(L, [12])), (3, 4)),
    (lambda L, x: x.take(_idx(L, [-13])), (3, 4)),
    (lambda L, x: x.masked_select(_idx(L, [1, 0, 1, 0])), (3, 4)),
    (lambda L, x: x.masked_fill(_idx(L, [1, 0, 1, 0]), 1.0), (3, 4)),
    (lambda L, x: x.masked_fill(_idx(L, [True, False, True, False]), L.ones(1)), (3, 4)),
    (lambda L, x: x.scatter(1, _idx(L, [[5]]), L.ones(1, 1, dtype=L.float64)), (3, 4)),
    (lambda L, x: x.scatter(1, _idx(L, [[1, 1, 1, 1, 1]]), L.ones(1, 1, dtype=L.float64)),
     (3, 4)),
    (lambda L, x: x.scatter(1, _idx(L, [[1]]), L.ones(1, 1, dtype=L.float32)), (3, 4)),
    (lambda L, x: x.scatter_add(1, _idx(L, [[1]]), L.ones(1, 1, dtype=L.float32)), (3, 4)),
    (lambda L, x: x.index_add(1, _idx(L, [0]), L.ones(3, 2, dtype=L.float64)), (3, 4)),
    (lambda L, x: x.index_add(1, _idx(L, [9]), L.ones(3, 1, dtype=L.float64)), (3, 4)),
    (lambda L, x: x.index_add(1, _idx(L, [1]), L.ones(3, 1, dtype=L.float32)), (3, 4)),
    (lambda L, x: x.index_add(0, _idx(L, [-1]), L.ones(1, 4, dtype=L.float64)), (3, 4)),
    (lambda L, x: x.index_add(0, _idx(L, [-1]), L.ones(1, dtype=L.float64)), (3,)),
    (lambda L, x: x.index_add(0, _idx(L, [3]), L.ones(1, dtype=L.float64)), (3,)),
    (lambda L, x: x.gather(0, _idx(L, [0.0])), (3,)),
    (lambda L, x: x.gather(0, _idx(L, [True])), (3,)),
    (lambda L, x: x.scatter(0, _idx(L, [0.0]), 1.0), (3,)),
    (lambda L, x: x.take(L.tensor([0.0], dtype=L.float64)), (3,)),
    (lambda L, x: x.take(L.tensor([0], dtype=L.int32)), (3,)),
    (lambda L, x: x.take(_idx(L, [0])), (0,)),
    (lambda L, x: x.roll(1, 0), ()),
    (lambda L, x: x.unflatten(0, (1,)), ()),
    (lambda L, x: x.unflatten(0, (-1, 0)), (0,)),
    (lambda L, x: x.unflatten(0, (-1, -1)), (4,)),
    (lambda L, x: x.repeat(-1, 2), (2, 3)),
    (lambda L, x: x.tril(), (4,)),
    (lambda L, x: x.triu(), ()),
    (lambda L, x: x.diagonal(0, 1, 1), (3, 4)),
    (lambda L, x: x.diag(), (2, 2, 2)),
    (lambda L, x: x.trace(), (4,)),
    (lambda L, x: L.meshgrid(x, indexing="foo"), (3,)),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_match_torch(k):
    fn, shape = ERRORS[k]
    a = RNG.standard_normal(shape)
    with pytest.raises(Exception) as want:
        fn(torch, torch.tensor(a))
    with pytest.raises(type(want.value)) as got:
        fn(tg, tg.tensor(a))
    # (torch's message may go on with a C++ traceback after its reason)
    assert str(got.value).split("\n")[:2] == str(want.value).split("\n")[:2]


def _compiled_gather(x):
    # the index is computed from the input: its values must be guarded, never replayed stale
    i = (x > 0).long()
    return (x.reshape(2, 3).gather(1, i.reshape(2, 3)) * 2.0).sum()


def test_compiled_index_from_the_inputs_is_guarded_not_replayed_stale():
    x0 = np.array([0.5, -1.0, 2.0, -0.3, 0.7, 1.1])
    tape = tg.compile(_compiled_gather, x0, on_guard="raise")
    np.testing.assert_allclose(tape(x0), _compiled_gather(tg.tensor(x0)).item())
    with pytest.raises(tg.GuardError):
        tape(-x0)


def _compiled_shapes(x):
    y = x.reshape(2, 3)
    return ((y.flip(0).roll(1, 1) * y).sum() + y.tril().sum() * 2.0 + y.repeat(2, 1)[3].sum()
            + y.diag_embed().sum() + y.t().trace() + y.masked_fill(y > 0, 3.0).sum()
            + y.index_select(1, tg.tensor([2, 0])).pow(2).sum()
            + (y.scatter(1, tg.tensor([[0, 0], [2, 2]]), y[:, 1:] * y[:, 1:]) * y).sum()
            + y.scatter_add(0, tg.tensor([[1, 1, 0]]), y[:1] * 3.0).pow(2).sum())


def test_compiled_replay_equals_eager_with_the_new_names():
    rng = np.random.default_rng(7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tape = tg.compile(_compiled_shapes, rng.normal(size=6))
    for _ in range(5):
        x = rng.normal(size=6)
        t = tg.tensor(x, requires_grad=True)
        out = _compiled_shapes(t)
        out.backward()
        np.testing.assert_allclose(tape(x), out.item(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tape.gradient(x), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,call", [
    ("gather", lambda L, x, **o: L.gather(x, 1, _i(L, [[0], [3], [1]]), **o)),
    ("index_select", lambda L, x, **o: L.index_select(x, 1, _i(L, [2, 0]), **o)),
    ("take", lambda L, x, **o: L.take(x, _i(L, [[0, 5]]), **o)),
    ("masked_select", lambda L, x, **o: L.masked_select(x, x > 0, **o)),
    ("scatter", lambda L, x, **o: L.scatter(x, 1, _i(L, [[0], [3], [1]]), x, **o)),
    ("scatter_add", lambda L, x, **o: L.scatter_add(x, 1, _i(L, [[0], [3], [1]]), x, **o)),
    ("index_add", lambda L, x, **o: L.index_add(x, 1, _i(L, [0, 0, 1, 2]), x, **o)),
    ("tril", lambda L, x, **o: L.tril(x, 1, **o)),
    ("triu", lambda L, x, **o: L.triu(x, **o)),
    ("diag", lambda L, x, **o: L.diag(x, -1, **o)),
])
def test_out_as_torch(name, call):
    a = RNG.standard_normal((3, 4))
    want = call(torch, torch.tensor(a))
    out = tg.empty(0)
    got = call(tg, tg.tensor(a), out=out)
    assert got is out and tuple(out.shape) == tuple(want.shape)
    np.testing.assert_allclose(out.numpy(), want.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        call(tg, tg.tensor(a, requires_grad=True), out=tg.empty(0))
    with pytest.raises(TypeError, match="out"):  # (the methods take no out=)
        getattr(tg.tensor(a), name)(out=out)


def test_scatter_duplicates_with_infinite_sources_keep_torchs_values():
    src = np.array([[np.inf, 1.0, -np.inf], [2.0, np.nan, 3.0]])
    index = [[0, 1, 1], [0, 1, 1]]
    x = np.zeros((2, 3))
    want = torch.tensor(x).scatter(1, torch.tensor(index), torch.tensor(src))
    s = tg.tensor(src, requires_grad=True)
    got = tg.tensor(x).scatter(1, tg.tensor(index), s)
    np.testing.assert_array_equal(got.detach().numpy(), want.numpy())
    got.sum().backward()
    # the finite duplicates take the position's gradient, as torch's
    assert s.grad.numpy()[0, 1] == 1.0 and s.grad.numpy()[1, 0] == 1.0


def _compiled_masked_select(x):
    return (x.masked_select(x > 0) * 3.0).sum()


def test_compiled_mask_from_the_inputs_is_guarded_not_replayed_stale():
    x0 = np.array([0.5, -1.0, 2.0])
    tape = tg.compile(_compiled_masked_select, x0, on_guard="raise")
    np.testing.assert_allclose(tape(x0 * 2.0), 15.0)
    with pytest.raises(tg.GuardError):
        tape(-x0)


def _second_order_through_shapes(x):
    y = x.reshape(2, 3)
    z = (y.flip(1).roll(1, 0) * y).sum() + (y.diag_embed() ** 3).sum() \
        + (y.gather(1, tg.tensor([[2, 2], [0, 1]])) ** 2).prod() \
        + (y.scatter_add(1, tg.tensor([[0, 0, 1]]), y[:1] ** 2) ** 2).sum() \
        + y.repeat(2, 1).tril().pow(3).sum() \
        + y.t().unflatten(0, (3, 1)).diagonal(0, 1, 2).pow(2).sum()
    (g,) = tg.autograd.grad(z, x, create_graph=True)
    return (g * g).sum()


def test_compiled_second_order_through_the_new_names_equals_eager():
    rng = np.random.default_rng(11)
    tape = tg.compile(_second_order_through_shapes, rng.normal(size=6))
    for _ in range(3):
        x = rng.normal(size=6)
        t = tg.tensor(x, requires_grad=True)
        eager = _second_order_through_shapes(t)
        np.testing.assert_allclose(tape(x), eager.item(), rtol=1e-11)
        eager.backward()
        np.testing.assert_allclose(tape.gradient(x), t.grad.numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name,fn", [
    ("flip", lambda L, x: x.flip(0)), ("roll", lambda L, x: x.roll(1)),
    ("repeat", lambda L, x: x.repeat(2)), ("tile", lambda L, x: x.tile((2,))),
    ("tril", lambda L, x: x.reshape(1, 3).tril()), ("diagonal", lambda L, x: x.diag_embed()
                                                    .diagonal()),
    ("trace", lambda L, x: x.reshape(1, 3).trace()), ("split", lambda L, x: x.split(2)[0]),
    ("diag", lambda L, x: x.diag()),
    ("gather", lambda L, x: x.gather(0, L.tensor([1, 0]))),
    ("index_select", lambda L, x: x.index_select(0, L.tensor([1]))),
    ("take", lambda L, x: x.take(L.tensor([1]))),
    ("masked_select", lambda L, x: x.masked_select(x > 2)),
    ("masked_fill", lambda L, x: x.masked_fill(x > 2, 0.0)),
])
def test_a_second_backward_is_allowed_or_refused_as_torchs(name, fn):
    # torch's nodes for maps made from shapes keep nothing; those of an index tensor keep it
    outcomes = []
    for L in (torch, tg):
        x = L.tensor([1.0, 2.0, 3.0], dtype=L.float64, requires_grad=True)
        y = fn(L, x).sum()
        y.backward()
        try:
            y.backward()
            outcomes.append(x.grad.numpy().tolist())
        except RuntimeError as err:
            outcomes.append("backward through the graph a second time" in str(err))
    assert outcomes[0] == outcomes[1]


def test_in_place_forms_equal_torchs():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tg, torch):
        x = lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64, requires_grad=True)
        y = x * 2.0
        assert y.masked_fill_(y > 5, 0.5) is y
        y.index_add_(0, lib.tensor([0, 2]), lib.tensor([10.0, 20.0], dtype=lib.float64))
        z = y * 1.0
        z.scatter_(0, lib.tensor([1]), lib.tensor([7.0], dtype=lib.float64))
        z.scatter_add_(0, lib.tensor([3, 3]), lib.tensor([1.0, 2.0], dtype=lib.float64))
        (z * lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64)).sum().backward()
        results.append((z.tolist(), x.grad.tolist()))
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            lib.tensor([1.0, 2.0], requires_grad=True).masked_fill_(lib.tensor([True, False]),
                                                                    0.0)
    assert results[0] == results[1]


# -- scatter_reduce, scatter(reduce=), and the in-place forms' node names ----------------------

def _sr(reduce, include_self, dim, index):
    return lambda L, x, s: L.scatter_reduce(x, dim, L.tensor(index, dtype=L.int64), s, reduce,
                                            include_self=include_self)


SCATTER_REDUCE = [
    (f"{reduce}_{'self' if inc else 'noself'}_{k}", _sr(reduce, inc, dim, index), shapes)
    for reduce in ("sum", "mean", "prod", "amax", "amin")
    for inc in (True, False)
    for k, (dim, index, shapes) in enumerate([
        (0, [0, 0, 2, 0], [(4,), (4,)]),
        (1, [[0, 0, 3], [1, 1, 1]], [(3, 4), (2, 3)]),
        (-2, [[2, 2, 0, 1]], [(3, 4), (1, 4)]),
        (0, [], [(3,), (0,)]),
        (0, 0, [(), ()]),
    ])
    # (an empty src is not reached by prod/amax/amin: tapegrad's gradient of it is None,
    # torch's an empty tensor, which _check's second order cannot compare)
    if not (k == 3 and reduce in ("prod", "amax", "amin"))
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fn,shapes", SCATTER_REDUCE, ids=[c[0] for c in SCATTER_REDUCE])
def test_scatter_reduce_matches_torch(name, fn, shapes, dtype):
    _check(fn, shapes, dtype)


@pytest.mark.parametrize("reduce", ["amax", "amin", "prod", "mean", "sum"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_ties_and_zeros_as_torch(reduce, include_self):
    x = np.array([[2., 0., 5.], [1., 1., -3.]])
    s = np.array([[2., 0., 5.], [2., 0., 1.], [0., 7., 5.]])
    index = [[0, 0, 0], [0, 1, 0], [0, 0, 0]]
    grads = []
    for L in (tg, torch):
        xt, st = L.tensor(x, requires_grad=True), L.tensor(s, requires_grad=True)
        y = L.scatter_reduce(xt, 0, L.tensor(index), st, reduce, include_self=include_self)
        y.backward(L.tensor([[1., 2., 3.], [4., 5., 6.]], dtype=L.float64))
        grads.append((y.tolist(), xt.grad.tolist(), st.grad.tolist()))
    assert grads[0] == grads[1]


@pytest.mark.parametrize("reduce", ["prod", "amax", "amin"])
def test_scatter_reduce_of_an_empty_src_as_torch(reduce):
    got, want = (L.scatter_reduce(L.tensor([1., 2.], dtype=L.float64, requires_grad=True), 0,
                                  L.zeros(0, dtype=L.int64), L.zeros(0, dtype=L.float64),
                                  reduce) for L in (tg, torch))
    assert got.tolist() == want.tolist() and got.grad_fn.name() == want.grad_fn.name()


def test_scatter_reduce_gradients_by_finite_differences():
    from tests.helpers import check_gradients

    index = tg.tensor([[0, 2, 2, 0], [1, 1, 0, 0]])
    for reduce in ("sum", "mean", "prod", "amax", "amin"):
        for include_self in (True, False):
            check_gradients(lambda x, s, r=reduce, i=include_self: tg.scatter_reduce(
                x, 1, index, s, r, include_self=i), [RNG.standard_normal((2, 3)),
                                                     RNG.standard_normal((2, 4))])


def test_scatter_reduce_integers_and_method_as_torch():
    for reduce in ("sum", "mean", "prod", "amax", "amin"):
        for include_self in (True, False):
            got, want = (L.tensor([1, 2, 3]).scatter_reduce(
                0, L.tensor([0, 0, 2]), L.tensor([4, 5, -7]), reduce, include_self=include_self)
                for L in (tg, torch))
            assert got.dtype == tg.int64 and got.tolist() == want.tolist()
    got, want = (L.tensor([1., 2.], dtype=L.float64) for L in (tg, torch))
    got.scatter_reduce_(0, tg.tensor([1, 1]), tg.tensor([5., 3.]), "amin")
    want.scatter_reduce_(0, torch.tensor([1, 1]), torch.tensor([5., 3.], dtype=torch.float64),
                         "amin")
    assert got.tolist() == want.tolist()


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("call", [
    lambda L, x, s: L.scatter_reduce(x, 0, _i(L, [0]), s, "add"),
    lambda L, x, s: L.scatter_reduce(x, 0, _i(L, [0]), s.float(), "sum"),
    lambda L, x, s: L.scatter_reduce(x, 0, _i(L, [5]), s, "amax"),
    lambda L, x, s: L.scatter(x, 0, _i(L, [0.]), s, reduce="add"),
    lambda L, x, s: L.scatter(x, 0, _i(L, [0]), s, reduce="sum"),
    lambda L, x, s: L.scatter(x, 0, _i(L, [0]), s.float(), reduce="add"),
])
def test_scatter_reduce_errors_match_torch(call):
    def run(L):
        x = L.tensor([1., 2., 3.], dtype=L.float64)
        s = L.tensor([4., 5.], dtype=L.float64)
        try:
            call(L, x, s)
        except Exception as e:  # noqa: BLE001 -- the error is the result
            return type(e), str(e)
        raise AssertionError("no error")

    assert run(tg) == run(torch)


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("reduce", ["add", "multiply"])
@pytest.mark.parametrize("tensor_src", [True, False])
def test_scatter_with_reduce_has_torchs_values_and_no_derivative(reduce, tensor_src):
    outcomes = []
    for L in (tg, torch):
        x = L.tensor([[1., 2., 3.], [4., 5., 6.]], dtype=L.float64, requires_grad=True)
        index = L.tensor([[0, 0, 1], [0, 0, 0]])
        src = L.tensor([[2., 3., 4.], [5., 6., 7.]], dtype=L.float64) if tensor_src else 1.5
        y = L.scatter(x, 0, index, src, reduce=reduce)
        with pytest.raises(RuntimeError) as err:
            (y * 2).sum().backward()
        z = x.detach().clone()
        assert z.scatter_(0, index, src, reduce=reduce) is z
        outcomes.append((y.tolist(), y.grad_fn.name(), str(err.value), z.tolist()))
    assert outcomes[0] == outcomes[1]


def test_scatter_with_a_tensor_src_and_reduce_warns_as_torch():
    with pytest.warns(UserWarning, match="The reduce argument of torch.scatter with Tensor src"):
        tg.scatter(tg.ones(3), 0, tg.tensor([0]), tg.ones(1), reduce="add")


def test_in_place_forms_are_named_as_torchs():
    names = []
    for L in (tg, torch):
        x = L.tensor([1.0, 2.0, 3.0, 4.0], dtype=L.float64, requires_grad=True)
        value = L.tensor(9.0, dtype=L.float64, requires_grad=True)
        y = [x * 2.0 for _ in range(6)]
        y[0].masked_fill_(y[0] > 5, 0.5)
        y[1].masked_fill_(y[1] > 5, value)
        y[2].scatter_(0, L.tensor([1]), L.tensor([7.0], dtype=L.float64))
        y[3].scatter_(0, L.tensor([1]), 7.0)
        y[4].scatter_add_(0, L.tensor([3, 3]), L.tensor([1.0, 2.0], dtype=L.float64))
        y[5].index_add_(0, L.tensor([0, 2]), L.tensor([10.0, 20.0], dtype=L.float64))
        plain = L.zeros(4, dtype=L.float64)
        plain.masked_fill_(plain == 0, value)
        names.append([t.grad_fn.name() for t in y] + [plain.grad_fn.name()])
    assert names[0] == names[1]


def test_compiled_scatter_reduce_replays_as_eager():
    index = tg.tensor([[0, 2, 2, 0], [1, 1, 0, 0]])

    def f(x, s):
        out = 0.0
        for reduce in ("sum", "mean", "prod", "amax", "amin"):
            for include_self in (True, False):
                y = tg.scatter_reduce(x, 1, index, s, reduce, include_self=include_self)
                out = out + (y * y).sum()
        return out

    arrays = [RNG.standard_normal((2, 3)), RNG.standard_normal((2, 4))]
    tape = tg.compile(f, *[tg.tensor(a) for a in arrays])
    fresh = [RNG.standard_normal((2, 3)), RNG.standard_normal((2, 4))]
    fresh[1][0, 1] = fresh[1][0, 2]  # (a tie)
    ts = [tg.tensor(a, requires_grad=True) for a in fresh]
    f(*ts).backward()
    for got, t in zip(tape.gradient(*fresh), ts, strict=True):
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-12)
