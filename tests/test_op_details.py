"""Op behaviour beyond smooth gradients: stability, ties, NaN, shapes, graph names (torch 2.13)."""

import numpy as np
import pytest

import tapegrad as tg


def leaf(values):
    return tg.tensor(values, requires_grad=True)


@pytest.mark.parametrize("scale", [1000.0, -1000.0])
def test_logsumexp_softmax_log_softmax_are_stable_at_1000(scale):
    xv = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, -1.0]]) * scale
    x = leaf(xv)
    lse = x.logsumexp(1)
    m = xv.max(axis=1)
    expected = m + np.log(np.exp(xv - m[:, None]).sum(axis=1))
    np.testing.assert_allclose(lse.detach().numpy(), expected, rtol=1e-15)
    (lse.sum() + x.softmax(1)[:, 0].sum() + x.log_softmax(1)[:, 1].sum()).backward()
    assert np.all(np.isfinite(x.grad.numpy()))
    sm = np.exp(xv - expected[:, None])
    g = sm.copy()  # d lse / dx
    g += sm[:, [0]] * ((np.arange(3) == 0) - sm)  # d softmax_0 / dx
    g += (np.arange(3) == 1) - sm  # d log_softmax_1 / dx
    np.testing.assert_allclose(x.grad.numpy(), g, rtol=1e-12, atol=1e-300)


def test_logsumexp_of_minus_inf_row_is_minus_inf():
    x = tg.tensor([[-np.inf, -np.inf], [0.0, 0.0]])
    np.testing.assert_array_equal(x.logsumexp(1).numpy(), [-np.inf, np.log(2.0)])


def test_max_all_spreads_gradient_over_ties():
    x = leaf([1.0, 3.0, 3.0, 2.0])
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.5, 0.5, 0.0])


def test_max_dim_gives_gradient_to_the_returned_index():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    values, indices = x.max(1)
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    assert indices.dtype == tg.int64
    assert values.grad_fn.name() == "MaxBackward0"
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])


def test_maximum_splits_ties_evenly():
    a, b = leaf([1.0, 2.0, 3.0]), leaf([1.0, 5.0, 0.0])
    tg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1.0, 0.0])


def test_clamp_passes_gradient_at_the_bounds():
    x = leaf([-2.0, -1.0, 0.0, 1.0, 2.0])
    x.clamp(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 1, 0])


def test_where_routes_gradient_and_names_node():
    x, y = leaf([1.0, -2.0, 3.0]), leaf([10.0])
    out = tg.where(x > 0, x * 2.0, y)
    np.testing.assert_array_equal(out.detach().numpy(), [2.0, 10.0, 6.0])
    assert out.grad_fn.name() == "WhereBackward0"
    assert len(out.grad_fn.next_functions) == 2
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 2.0])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0])


def test_cat_and_stack_names_and_next_functions():
    a, b = leaf([1.0, 2.0]), leaf([3.0])
    c = tg.cat([a, b])
    assert c.grad_fn.name() == "CatBackward0"
    assert [type(f).__name__ for f, _ in c.grad_fn.next_functions] == ["AccumulateGrad"] * 2
    s = tg.stack([a, a * 2.0])
    assert s.grad_fn.name() == "StackBackward0"
    (c.sum() + s.sum()).backward()
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 4.0])


def test_cat_shape_mismatch_names_shapes():
    with pytest.raises(RuntimeError, match=r"\[2, 3\].*\[2, 2\]"):
        tg.cat([tg.ones(2, 3), tg.ones(2, 2)], dim=0)


def test_setitem_under_grad_mode_is_differentiable_in_both():
    x = tg.zeros(4)  # a leaf without grad becomes the output of CopySlices
    v = leaf([1.0, 2.0])
    x[1:3] = v * v
    assert not x.is_leaf and x.grad_fn.name() == "CopySlices"
    (x * tg.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(v.grad.numpy(), [4.0, 12.0])

    y0 = leaf([1.0, 2.0, 3.0])
    y = y0 * 1.0
    y[[0, 2]] = tg.tensor(5.0, requires_grad=True)
    np.testing.assert_array_equal(y.detach().numpy(), [5.0, 2.0, 5.0])
    y.sum().backward()
    np.testing.assert_array_equal(y0.grad.numpy(), [0.0, 1.0, 0.0])


def test_setitem_on_leaf_that_requires_grad_is_refused():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 3.0


def test_batched_matmul_broadcasts_batch_dims():
    rng = np.random.default_rng(1)
    av, bv = rng.normal(size=(2, 1, 3, 4)), rng.normal(size=(5, 4, 2))
    a, b = leaf(av), leaf(bv)
    out = a @ b
    np.testing.assert_allclose(out.detach().numpy(), av @ bv, rtol=1e-14)
    out.sum().backward()
    g = np.ones((2, 5, 3, 2))
    np.testing.assert_allclose(a.grad.numpy(), (g @ np.swapaxes(bv, -1, -2)).sum(1,
                                                                                  keepdims=True))
    np.testing.assert_allclose(b.grad.numpy(), (np.swapaxes(av, -1, -2) @ g).sum(0))


def test_expand_squeeze_unsqueeze_shapes():
    x = leaf([[1.0], [2.0]])
    e = x.expand(2, 3)
    assert e.shape == (2, 3) and e.grad_fn.name() == "ExpandBackward0"
    assert x.unsqueeze(0).shape == (1, 2, 1)
    assert x.squeeze().shape == (2,)
    assert x.squeeze(1).shape == (2,) and x.squeeze(0).shape == (2, 1)
    e.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3.0], [3.0]])


def test_inplace_on_non_leaf_records_and_bumps_version():
    x = leaf([1.0, 2.0])
    y = x * 3.0
    y += 1.0
    y *= y.detach().clone()  # without clone torch (and tapegrad) refuse: mul_ changes `other`
    assert y.grad_fn.name() == "MulBackward0"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [12.0, 21.0])  # torch 2.13's values
    z = x.exp()
    z += 1.0  # exp saved its output, which has now changed
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_logsumexp_over_a_tuple_of_dims():
    xv = np.random.default_rng(3).normal(size=(2, 3, 4))
    x = leaf(xv)
    out = x.logsumexp((0, 2))
    expected = np.log(np.exp(xv).sum(axis=(0, 2)))
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-14)
    assert tg.gradcheck(lambda t: t.logsumexp((0, 2), keepdim=True), (x,))


def test_min_dim_returns_min_return_type():
    assert repr(tg.tensor([[1.0, 2.0]]).min(1)).startswith("tapegrad.return_types.min(")


@pytest.mark.parametrize("fn", [
    lambda x: (x * 2.0).exp().sum(),
    lambda x: (x @ tg.ones(3, 2)).tanh().sum(),
    lambda x: x.sum(0).sum() + x.mean(),
    lambda x: tg.cat([x, x]).sigmoid().sum(),
    lambda x: (x.T.reshape(-1) ** 2).sum(),
    lambda x: tg.where(x > 0, x, -x).sum() + x.clamp(0, 1).sum(),
    lambda x: x.softmax(1).sum() + x.logsumexp(1).sum(),
], ids=["elementwise", "matmul", "reductions", "cat", "shape", "select", "softmax"])
def test_size_zero_tensors_give_empty_gradients(fn):
    x = leaf(np.zeros((0, 3)))
    out = fn(x)
    out.backward()
    assert x.grad.shape == (0, 3)
    assert tg.gradcheck(fn, (leaf(np.zeros((0, 3))),))


@pytest.mark.parametrize("shapes", [((40, 50), (50, 30)), ((3, 40, 50), (50, 30)),
                                    ((50,), (50, 700)), ((1, 1), (1, 40000))],
                         ids=["mm", "bmm", "vm", "one-element"])
def test_large_products_handed_to_blas_match_the_numba_loops(shapes, monkeypatch):
    """Products above engine.BLAS_MIN leave the sweep for NumPy's BLAS, also as the tape's
    first record (where the sweep has nothing left to resume)."""
    from tapegrad import engine

    rng = np.random.default_rng(5)
    av, bv = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])

    def grads(blas_min):
        monkeypatch.setattr(engine, "BLAS_MIN", blas_min)
        a, b = leaf(av), leaf(bv)
        y = a @ b
        loss = (y.tanh() * y).sum() + (a * 2.0).sum()
        loss.backward(retain_graph=True)
        loss.backward()  # retain_graph: the handed-off record is not freed either
        with pytest.raises(RuntimeError, match="second time"):
            loss.backward()
        return a.grad.numpy(), b.grad.numpy()

    assert np.prod(shapes[0]) * shapes[1][-1] >= engine.BLAS_MIN
    with_blas, loops = grads(engine.BLAS_MIN), grads(0)
    for x, y in zip(with_blas, loops, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


def test_compiled_tanh_is_within_2_ulp_of_numpy():
    """Compiled tapes evaluate tanh with vmath.tanh (arithmetic LLVM vectorises, not a libm
    call): checked against NumPy's tanh over the whole range, its edges and special values."""
    grid = np.concatenate([
        np.linspace(-30.0, 30.0, 200_001), np.logspace(-310, 1.5, 20_000),
        -np.logspace(-310, 1.5, 20_000),
        [0.625, -0.625, np.nextafter(0.625, 0.0), 22.0, np.nextafter(22.0, 0.0), 19.0, 5e-324,
         1e308, -1e308]])
    tape = tg.compile(lambda x: x.tanh(), grid)
    got, want = tape(grid), np.tanh(grid)
    assert np.all(np.abs(got - want) <= 2 * np.spacing(np.abs(want)))
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])
    got = tg.compile(lambda x: x.tanh(), special)(special)
    np.testing.assert_array_equal(got, [0.0, -0.0, 1.0, -1.0, np.nan])
    assert np.signbit(got[1]) and not np.signbit(got[0])


@pytest.mark.parametrize("shape", [(0,), (1,), (3,), (2, 2), (7,), (8,), (9,), (2, 5), (15,),
                                   (3, 5), (4, 4), (17,)])
def test_whole_sum_and_mean_equal_numpy_bit_for_bit(shape):
    """Small sums take a Python path (ops/reduction.py): the value must be NumPy's own, with
    the same rounding, -0.0, inf and nan; a transposed (non-contiguous) value too."""
    rng = np.random.default_rng(len(shape) * 10 + sum(shape))
    for trial in range(200):
        a = rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 8, shape)
        if trial == 1:
            a = -np.zeros(shape)
        if trial == 2 and a.size > 1:
            a.flat[0], a.flat[-1] = np.inf, -np.inf
        if trial == 3 and a.size:
            a.flat[0] = np.nan
        for value in (a, a.T):
            np.testing.assert_array_equal(tg.tensor(value).sum().numpy(), value.sum())
            if value.size:
                np.testing.assert_array_equal(tg.tensor(value).mean().numpy(), value.mean())
        got = tg.tensor(a).sum().numpy()
        assert np.signbit(got) == np.signbit(a.sum())
