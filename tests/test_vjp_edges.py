"""Gradients and errors at the edges (issue 15): zeros, infinities, tiny values, empty dims,
0-d tensors, complex input.  torch is the oracle for every value, gradient and error.

Each gradient is checked along every path that computes it: the eager sweep -- an elementwise
record of at most ``sweep.INLINE_MAX`` elements runs inline from its op's scalar rules, a
larger one through the op's array VJP, so each case comes in both sizes -- and a compiled
tape's replay (generated fused code for small elementwise tapes, the replay kernel otherwise).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.kernels.sweep import INLINE_MAX

torch = pytest.importorskip("torch")

SMALL, LARGE = 3, INLINE_MAX + 8  # an inline-swept record, an array-VJP one
INF = math.inf


def _torch_dtype(dtype):
    return {np.float64: torch.float64, np.float32: torch.float32}[np.dtype(dtype).type]


def torch_value_and_grad(f, x: np.ndarray):
    """``f(x)``'s value and the gradient of its sum, in torch (None: torch gives no gradient)."""
    xt = torch.tensor(x, dtype=_torch_dtype(x.dtype), requires_grad=True)
    y = f(xt, torch)
    y.sum().backward()
    return y.detach().numpy(), (None if xt.grad is None else xt.grad.numpy())


def eager_value_and_grad(f, x: np.ndarray):
    xg = tg.tensor(x, requires_grad=True)
    y = f(xg, tg)
    y.sum().backward()
    return y.detach().numpy(), (None if xg.grad is None else xg.grad.numpy())


def compiled_value_and_grad(f, x: np.ndarray):
    tape = tg.compile(lambda t: f(t, tg).sum(), x)
    value, grad = tape.value_and_gradient(x)
    return value, grad


def assert_same(actual, expected, rtol=1e-12, atol=0.0):
    """Equal values, nan where torch has nan, infinities of the same sign."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)


def check_against_torch(f, x: np.ndarray, rtol=1e-12, atol=0.0, compiled=True):
    value, grad = torch_value_and_grad(f, x)
    ev, eg = eager_value_and_grad(f, x)
    assert_same(ev, value, rtol, atol)
    assert_same(eg, grad, rtol, atol)
    if compiled:
        cv, cg = compiled_value_and_grad(f, x)
        assert_same(cv, np.sum(value), rtol, atol)
        assert_same(cg, grad, rtol, atol)


# -- item 4: x[k] = v, then a function whose gradient is infinite at the assigned place -------


def _set_zero_then_sqrt(x, m):
    h = x * 1.0
    h[0] = 0.0
    return h.sqrt()


@pytest.mark.parametrize("n", [SMALL, LARGE])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_setitem_passes_zero_where_assigned_even_under_an_infinite_gradient(n, dtype):
    x = np.arange(1.0, n + 1.0).astype(dtype)
    _, grad = eager_value_and_grad(_set_zero_then_sqrt, x)
    assert grad[0] == 0.0
    check_against_torch(_set_zero_then_sqrt, x, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_setitem_of_a_slice_and_repeated_positions_keep_torch_gradients():
    def f(x, m):
        h = x * 1.0
        h[1:3] = 0.0
        h[[0, 0]] = x[4] * 0.0
        return h.sqrt() * 2.0

    check_against_torch(f, np.arange(1.0, 7.0))


# -- item 5: norm over a dim with an all-zero group --------------------------------------------


@pytest.mark.parametrize("n", [SMALL, LARGE])
def test_norm_over_a_dim_with_a_zero_row_has_zero_gradient_there(n):
    x = np.zeros((3, n))
    x[1] = np.arange(1.0, n + 1.0)
    x[2, 0] = -2.0

    def f(t, m):
        return t.norm(dim=1)

    _, grad = eager_value_and_grad(f, x)
    assert np.all(grad[0] == 0.0)
    check_against_torch(f, x)


# -- item 11: quotients of tiny and huge values ------------------------------------------------


@pytest.mark.parametrize("n", [SMALL - 1, LARGE])
def test_normalising_tiny_values_gives_torch_gradients(n):
    x = np.arange(1.0, n + 1.0) * 1e-160

    def f(t, m):
        return t / t.norm()

    _, grad = eager_value_and_grad(f, x)
    assert np.all(np.isfinite(grad))
    # (the norm of subnormal squares is inexact in torch too, and the gradient's terms cancel)
    check_against_torch(f, x, rtol=1e-6, atol=1e-9 * np.max(np.abs(grad)))


@pytest.mark.parametrize("n", [SMALL, LARGE])
@pytest.mark.parametrize("scale", [1e-160, 1e160])
def test_division_gradient_of_the_divisor_neither_underflows_nor_overflows(n, scale):
    a = np.linspace(1.0, 2.0, n) * scale
    b = np.linspace(2.0, 3.0, n) * scale

    ag = tg.tensor(a, requires_grad=True)
    bg = tg.tensor(b, requires_grad=True)
    (ag / bg).sum().backward()
    at = torch.tensor(a, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    (at / bt).sum().backward()
    assert np.all(np.isfinite(bg.grad.numpy()))
    assert_same(bg.grad.numpy(), bt.grad.numpy())
    assert_same(ag.grad.numpy(), at.grad.numpy())
    tape = tg.compile(lambda p, q: (p / q).sum(), a, b)
    assert tape._fused is not None  # generated code, from the same scalar rules
    ga, gb = tape.gradient(a, b)
    assert_same(gb, bt.grad.numpy())
    assert_same(ga, at.grad.numpy())


@pytest.mark.parametrize("n", [1, SMALL, LARGE])
def test_division_gradient_of_tiny_values_in_the_replay_interpreter(n):
    # the norm keeps the tape from being fused: one-element records replay by their scalar
    # rules, larger ones by the array VJPs
    a = np.linspace(1.0, 2.0, n) * 1e-160
    b = np.linspace(2.0, 3.0, n) * 1e-160
    at = torch.tensor(a, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    (at / bt).norm().backward()
    tape = tg.compile(lambda p, q: (p / q).norm(), a, b)
    assert tape._fused is None
    ga, gb = tape.gradient(a, b)
    assert np.all(np.isfinite(gb))
    assert_same(gb, bt.grad.numpy())
    assert_same(ga, at.grad.numpy())


def test_division_gradient_in_float32():
    a = np.array([1.0, 2.0, 3.0], np.float32) * np.float32(1e-20)
    b = np.array([2.0, 3.0, 4.0], np.float32) * np.float32(1e-20)
    bg = tg.tensor(b, requires_grad=True)
    (tg.tensor(a) / bg).sum().backward()
    bt = torch.tensor(b, requires_grad=True)
    (torch.tensor(a) / bt).sum().backward()
    assert np.all(np.isfinite(bg.grad.numpy()))
    assert_same(bg.grad.numpy(), bt.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("n", [2, LARGE])
def test_norm_gradient_of_a_subnormal_vector_does_not_overflow(n):
    x = np.zeros(n)
    x[0] = 1e-310

    check_against_torch(lambda t, m: t.norm(), x)
    check_against_torch(lambda t, m: t.norm(dim=0), x)


# -- item 12: complex input is refused, never silently made real -------------------------------


@pytest.mark.parametrize("make", [
    lambda: tg.tensor([1 + 2j]),
    lambda: tg.tensor(1j),
    lambda: tg.tensor(np.array([1 + 2j])),
    lambda: tg.tensor(np.array([1.0, 2.0]), dtype=np.complex128),
    lambda: tg.from_numpy(np.array([1 + 2j])),
    lambda: tg.zeros(2, dtype=np.complex64),
    lambda: tg.full((2,), 1j),
    lambda: tg.tensor([1.0, 2.0]) * 1j,
    lambda: 1j * tg.tensor([1.0, 2.0]),
    lambda: tg.tensor([1.0, 2.0], requires_grad=True) + np.complex128(1j),
    lambda: tg.tensor([1.0, 2.0], requires_grad=True) - np.array([1j, 2j]),
    lambda: tg.tensor(2.0, requires_grad=True) * 1j,
    lambda: (tg.tensor([2.0], requires_grad=True) * 2.0) * 1j,
    lambda: (tg.tensor(2.0, requires_grad=True) * 2.0) * 1j,
], ids=range(14))
def test_complex_data_is_refused(make):
    with pytest.raises(TypeError, match="complex"):
        make()


def test_writing_a_list_with_a_complex_number_into_a_real_tensor_is_refused():
    t = tg.ones(2)  # (torch refuses any list here; tapegrad takes real ones)
    with pytest.raises(RuntimeError, match="cannot be converted"):
        t[:] = [1j, 2.0]
    assert np.all(t.numpy() == 1.0)


@pytest.mark.parametrize("write", [lambda t: t.__setitem__(0, 1j), lambda t: t.fill_(1j)],
                         ids=["setitem", "fill_"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_writing_a_complex_number_into_a_real_tensor_raises_torchs_error(write, dtype):
    with pytest.raises(RuntimeError) as expected:
        write(torch.ones(2, dtype=_torch_dtype(dtype)))
    t = tg.ones(2, dtype=dtype)
    with pytest.raises(RuntimeError) as raised:
        write(t)
    assert str(raised.value) == str(expected.value)
    assert np.all(t.numpy() == 1.0)


# -- item 14: a compiled mean over an empty dim is nan, as eagerly -----------------------------


def test_compiled_mean_over_an_empty_dim_is_nan():
    x = np.zeros((0, 3))
    assert np.all(np.isnan(tg.tensor(x).mean(0).numpy()))
    tape = tg.compile(lambda t: t.mean(0), x)
    out = tape(x)
    assert out.shape == (3,) and np.all(np.isnan(out))
    tape = tg.compile(lambda t: t.mean(0).sum(), x)
    assert math.isnan(tape(x))
    value, grad = tape.value_and_gradient(x)
    assert math.isnan(value) and grad.shape == (0, 3)
    y = np.zeros((2, 0, 3))
    assert np.all(np.isnan(tg.compile(lambda t: t.mean((0, 1)), y)(y)))


def test_compiled_mean_over_dims_equals_eager():
    x = np.random.default_rng(3).normal(size=(4, 5, 6))
    for dims in (0, 1, (0, 2), (1, 2)):
        eager = tg.tensor(x).mean(dims).numpy()
        np.testing.assert_allclose(tg.compile(lambda t, d=dims: t.mean(d), x)(x), eager,
                                   rtol=1e-14)


# -- item 15: logsumexp at infinities -------------------------------------------------------


@pytest.mark.parametrize("x", [[-INF, -INF], [INF, 1.0], [INF, -INF], [-INF, 0.0],
                               [math.nan, 1.0], [1.0, 2.0]])
def test_logsumexp_gradient_at_infinities_is_torchs(x):
    x = np.array(x)
    check_against_torch(lambda t, m: t.logsumexp(0), x)
    check_against_torch(lambda t, m: m.logsumexp(t.reshape(1, 2).expand(LARGE, 2), 1), x)


# -- item 16: every vector norm torch offers, values and gradients -----------------------------


P = [2, 1, INF, -INF, 0, 0.5, 3, 1.5, -1, -2, "fro"]


def _norm_input(cols: int) -> np.ndarray:
    x = np.zeros((3, cols))
    x[0, :3] = [1.0, -3.0, 3.0]  # a tie of the largest |x|, opposite signs
    x[2, :3] = [2.0, 0.0, -0.5]  # a zero beside others
    x[0, 3:] = 0.25 * np.arange(1, cols - 2)
    x[2, 3:] = -0.5
    return x  # (row 1: all zero)


@pytest.mark.parametrize("p", P, ids=str)
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, False), (1, True),
                                         (0, False), ((0, 1), False), (-1, True)])
@pytest.mark.parametrize("cols", [SMALL, LARGE])
def test_norm_values_and_gradients_equal_torchs(p, dim, keepdim, cols):
    x = _norm_input(cols)

    def f(t, m):
        return m.norm(t, p=p, dim=dim, keepdim=keepdim)

    value, grad = torch_value_and_grad(f, x)
    ev, eg = eager_value_and_grad(f, x)
    assert_same(ev, value, rtol=1e-12)
    if grad is None:  # torch: no gradient for p = 0 (a count)
        assert eg is None or np.all(eg == 0.0)
        return
    assert_same(eg, grad, rtol=1e-11)
    cv, cg = compiled_value_and_grad(f, x)
    assert_same(cv, np.sum(value), rtol=1e-12)
    assert_same(cg, grad, rtol=1e-11)


@pytest.mark.parametrize("p", [2, 1, INF, -INF, 3, 0.5])
def test_norm_of_nan_and_infinite_values_equals_torchs(p):
    for row in ([1.0, math.nan, -2.0], [INF, -1.0, 2.0], [-INF, INF, 0.0]):
        check_against_torch(lambda t, m: m.norm(t, p=p), np.array(row), compiled=False)


@pytest.mark.parametrize("p", [2, 1, INF, 3])
def test_norm_in_float32_equals_torchs(p):
    x = _norm_input(SMALL).astype(np.float32)
    value, grad = torch_value_and_grad(lambda t, m: t.norm(p, dim=1), x)
    xg = tg.tensor(x, requires_grad=True)
    y = xg.norm(p, dim=1)
    assert y.dtype == tg.float32
    y.sum().backward()
    assert xg.grad.dtype == tg.float32
    assert_same(y.detach().numpy(), value, rtol=1e-6)
    assert_same(xg.grad.numpy(), grad, rtol=1e-6)


def test_norm_of_everything_in_float32_keeps_float32():
    x = _norm_input(SMALL).astype(np.float32)
    for p in (1, INF, 3):
        out = tg.tensor(x).norm(p)
        assert out.dtype == tg.float32 and out.shape == ()
        assert_same(out.numpy(), torch.tensor(x).norm(p).numpy(), rtol=1e-6)


def test_norm_of_a_0d_tensor_over_dim_0():
    check_against_torch(lambda t, m: t.norm(dim=0), np.array(-3.0), compiled=False)
    check_against_torch(lambda t, m: t.norm(INF, dim=0), np.array(-3.0), compiled=False)


@pytest.mark.parametrize("p", [INF, -INF])
def test_extreme_norms_of_empty_tensors_raise_torchs_errors(p):
    for call in (lambda m, t: m.norm(t, p=p), lambda m, t: m.norm(t, p=p, dim=0)):
        with pytest.raises(RuntimeError) as expected:
            call(torch, torch.zeros(0, 3, dtype=torch.float64))
        with pytest.raises(RuntimeError) as raised:
            call(tg, tg.zeros(0, 3))
        assert str(raised.value) == str(expected.value)
    assert tg.zeros(0, 3).norm(p, dim=1).shape == (0,)


def test_norms_of_empty_tensors_equal_torchs():
    for p in (2, 1, 0, 3):
        for dim in (None, 0, 1):
            expected = torch.zeros(0, 3, dtype=torch.float64).norm(p, dim=dim).numpy()
            assert_same(tg.zeros(0, 3).norm(p, dim=dim).numpy(), expected)


def test_unsupported_norm_orders_are_refused():
    with pytest.raises(RuntimeError, match="Order abc not supported"):
        tg.ones(2, 2).norm("abc")
    with pytest.raises(NotImplementedError, match="nuc"):
        tg.ones(2, 2).norm("nuc")


# -- item 17: empty dims, 0-d tensors, np.matrix, views -----------------------------------------


@pytest.mark.parametrize("shape,dim", [((0, 3), 0), ((0, 3), 1), ((3, 0), 1), ((3, 0), 0)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp"])
def test_softmax_family_over_an_empty_dim_equals_torch(shape, dim, name):
    x = np.zeros(shape)
    check_against_torch(lambda t, m: getattr(t, name)(dim), x, compiled=False)


@pytest.mark.parametrize("call", [
    lambda t: t.sum(0), lambda t: t.sum(-1), lambda t: t.mean(0), lambda t: t.sum(0, keepdim=True),
    lambda t: t.mean((0,)), lambda t: t.norm(dim=0), lambda t: t.norm(1, dim=-1, keepdim=True),
    lambda t: t.logsumexp(0), lambda t: t.softmax(0),
], ids=range(9))
def test_reductions_of_a_0d_tensor_over_dim_0_equal_torchs(call):
    check_against_torch(lambda t, m: call(t), np.array(-3.0), compiled=False)


@pytest.mark.parametrize("call", [lambda t: t.sum(1), lambda t: t.sum((0, 0)),
                                  lambda t: t.mean((0, -1))], ids=range(3))
def test_bad_dims_of_a_0d_tensor_raise_torchs_errors(call):
    with pytest.raises(Exception) as expected:
        call(torch.tensor(3.0, dtype=torch.float64))
    with pytest.raises(Exception) as raised:
        call(tg.tensor(3.0))
    assert type(raised.value) is type(expected.value)
    assert str(raised.value) == str(expected.value)


def test_reductions_of_an_np_matrix_equal_torchs():
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    t, g = torch.from_numpy(m), tg.from_numpy(m)
    assert tuple(g.shape) == (2, 2)
    for call in (lambda x: x.sum(), lambda x: x.sum(0), lambda x: x.mean(1), lambda x: x.norm(),
                 lambda x: x.max(), lambda x: x[0], lambda x: x[:, 1], lambda x: x * x):
        assert_same(call(g).numpy(), call(t).numpy())
    m[0, 0] = 10.0  # the same memory
    assert g[0, 0].item() == 10.0


def _permuted(t):
    return t.reshape(3, 2, 2).permute(2, 0, 1)


VIEW_CASES = {
    "sum over a dim of a permuted tensor": lambda m, t: _permuted(t).sum(1),
    "mean over a dim of a permuted tensor": lambda m, t: _permuted(t).mean(1),
    "softmax of a transposed tensor": lambda m, t: t.t().softmax(0),
    "log_softmax of a transposed tensor": lambda m, t: t.t().log_softmax(1),
    "logsumexp of a permuted tensor": lambda m, t: _permuted(t).logsumexp(1),
    "norm over a dim of a permuted tensor": lambda m, t: _permuted(t).norm(dim=1),
    "cat of transposed tensors": lambda m, t: m.cat([t.t(), t.t()], 1),
    "stack of transposed tensors": lambda m, t: m.stack([t.t(), t.t()], 1),
    "a slice viewed as its own shape": lambda m, t: t[:, :2],
    "a column": lambda m, t: t[:, 1:2],
    "a squeezed column": lambda m, t: t[:, 1:2].squeeze(1),
    "a product of a transposed tensor": lambda m, t: t.t() * 2.0,
    "a clone of a transposed tensor": lambda m, t: t.t().clone(),
    "contiguous of a transposed tensor": lambda m, t: t.t().contiguous(),
    "an expanded row": lambda m, t: t[:1].expand(3, 4),
}


@pytest.mark.parametrize("name", VIEW_CASES)
def test_view_accepts_and_refuses_as_torch_does(name):
    make = VIEW_CASES[name]
    x = np.arange(12.0).reshape(3, 4)
    expected = make(torch, torch.tensor(x, requires_grad=True))
    got = make(tg, tg.tensor(x, requires_grad=True))
    for shape in ((-1,), tuple(expected.shape), (1, -1)):
        try:
            want = expected.view(*shape)
        except RuntimeError as err:
            with pytest.raises(RuntimeError) as raised:
                got.view(*shape)
            assert str(raised.value) == str(err)
            continue
        out = got.view(*shape)
        assert tuple(out.shape) == tuple(want.shape)
        assert_same(out.detach().numpy(), want.detach().numpy())
    if got.requires_grad:  # the view's gradient reaches the input
        out = got.reshape(-1)
        out.backward(tg.tensor(np.arange(out.numel(), dtype=np.float64)))


@pytest.mark.parametrize("shape", [(4,), (-1, -1), (-1, 4), (-2, 3), (2, 2)])
def test_view_and_reshape_to_a_bad_shape_raise_torchs_errors(shape):
    for method in ("view", "reshape"):
        with pytest.raises(RuntimeError) as expected:
            getattr(torch.zeros(6), method)(*shape)
        with pytest.raises(RuntimeError) as raised:
            getattr(tg.zeros(6), method)(*shape)
        assert str(raised.value) == str(expected.value)
    with pytest.raises(RuntimeError) as expected:
        torch.zeros(0).view(-1, 0)
    with pytest.raises(RuntimeError) as raised:
        tg.zeros(0).view(-1, 0)
    assert str(raised.value) == str(expected.value)
