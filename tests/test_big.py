"""Large arrays: the paths taken only above a size threshold give the same values and gradients
as the small-array paths, and the process-wide heap setting can be turned off."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from helpers import check_gradients, values

import tapegrad as tg
from tapegrad import engine, heap


def rosenbrock_grad(x: np.ndarray) -> np.ndarray:
    """The Rosenbrock sum's gradient in closed form."""
    head = x[:-1]
    d = x[1:] - head * head
    g = np.zeros_like(x)
    g[:-1] = -400.0 * d * head - 2.0 * (1.0 - head)
    g[1:] += 200.0 * d
    return g


def test_gradient_slots_need_no_zeroed_workspace():
    # the sweep clears a gradient slot on its first contribution; a workspace left full of
    # garbage by an earlier backward must not leak into any gradient
    x0 = 0.5 + 0.1 * np.random.default_rng(1).standard_normal(20_000)
    for _ in range(2):
        x = tg.tensor(x0, requires_grad=True)
        (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), rosenbrock_grad(x0), rtol=1e-12, atol=1e-12)
        engine._threads.work.grads[:] = np.nan


def test_heap_tuning_is_applied_on_glibc_and_can_be_turned_off():
    glibc = hasattr(os, "confstr") and os.confstr("CS_GNU_LIBC_VERSION") is not None \
        and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    assert heap.tune() == (glibc and os.environ.get("TAPEGRAD_MALLOPT") != "0")
    code = "from tapegrad import heap; print(heap.tune())"
    env = {**os.environ, "TAPEGRAD_MALLOPT": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


BROADCASTS = [((3, 1, 4), (2, 1)), ((5,), (4, 5)), ((2, 3), (2, 1)), ((4, 1), (1, 3)),
              ((2, 1, 3, 1), (1, 4, 1, 2)), ((1,), (3, 2)), ((0, 3), (3,))]


@pytest.mark.parametrize("sa,sb", BROADCASTS)
@pytest.mark.parametrize("fn", [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a / b,
                                lambda a, b: a ** b, tg.maximum],
                         ids=["add", "mul", "div", "pow", "maximum"])
def test_broadcast_rows_match_finite_differences(fn, sa, sb):
    # the broadcast walk goes a row at a time, with a fast path for rows contiguous in both
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.5, 1.5, sa), rng.uniform(0.5, 1.5, sb)
    reference = np.maximum(a, b) if fn is tg.maximum else fn(a, b)
    np.testing.assert_allclose(fn(tg.tensor(a), tg.tensor(b)).numpy(), reference, rtol=1e-15)
    replayed = tg.compile(fn, a, b)(a, b)  # the numba forward, as a compiled tape replays it
    np.testing.assert_allclose(np.asarray(replayed), reference, rtol=1e-15)
    check_gradients(fn, [a, b])


KEYS = [(slice(1, None),), (slice(None, -1),), (slice(None, None, -2),), (1, slice(None, None, 2)),
        (Ellipsis, 2), (None, slice(1, 3), Ellipsis, None), (-1, -2), (slice(5, 1),),
        (np.int64(1), slice(None), slice(3, 0, -1)), (slice(None), None, 0)]


@pytest.mark.parametrize("key", KEYS, ids=[str(k) for k in KEYS])
def test_basic_indexing_records_a_strided_block(key):
    # x[key] is recorded as (offset, shape, strides): the gather map it replaces is the oracle
    from tapegrad.ops.shape import gather_map

    a = np.random.default_rng(5).standard_normal((3, 4, 5))
    x = tg.tensor(a, requires_grad=True)
    y = x[key]
    np.testing.assert_array_equal(y.detach().numpy(), a[key])
    w = np.random.default_rng(6).standard_normal(a[key].shape)
    engine._threads.work.grads[:] = np.nan  # x's slot is written first by the slice's VJP
    (y * tg.tensor(w)).sum().backward()
    expected = np.zeros(a.size)
    np.add.at(expected, gather_map(a.shape, key), w.ravel())
    np.testing.assert_array_equal(x.grad.numpy().ravel(), expected)
    compiled = tg.compile(lambda t: t[key] * 1.0, a)  # the numba forward of the replay
    np.testing.assert_array_equal(np.asarray(compiled(a)), a[key])


def test_large_matrix_products_overwrite_or_add_their_gradients():
    # handed to BLAS: an input's first contribution overwrites its uncleared slot, a later one
    # adds (w is used twice; a @ a reads one slot as both inputs)
    rng = np.random.default_rng(9)
    a0, w0 = rng.standard_normal((64, 64)), rng.standard_normal((64, 64))
    one = np.ones((64, 64))
    for _ in range(2):  # the second time over a workspace left full of NaN
        a, w = tg.tensor(a0, requires_grad=True), tg.tensor(w0, requires_grad=True)
        ((a @ w) @ w + a @ a).sum().backward()
        np.testing.assert_allclose(values(w.grad), a0.T @ one @ w0.T + (a0 @ w0).T @ one)
        np.testing.assert_allclose(values(a.grad), one @ (w0 @ w0).T + one @ a0.T + a0.T @ one)
        engine._threads.work.grads[:] = np.nan


@pytest.mark.parametrize("shape,dim", [((3, 4, 5), 0), ((3, 4, 5), 2), ((3, 4, 5), (0, 2)),
                                       ((3, 4, 5), (1,)), ((6,), 0), ((2, 0, 3), 1)])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_reductions_over_dims_spread_gradients_a_row_at_a_time(shape, dim, reduce):
    a = np.random.default_rng(10).standard_normal(shape)
    check_gradients(lambda t: getattr(t, reduce)(dim=dim, keepdim=False), [a])
    check_gradients(lambda t: getattr(t, reduce)(dim=dim, keepdim=True), [a])


def test_compiled_tapes_read_strided_blocks():
    # fused code turns a block that is one progression into start + step * i, and leaves any
    # other (x[:, 1:]) to the interpreter
    def f(x):
        return (x[:, 1:] * x[:, :-1]).sum() + (x[1:] ** 2).sum() + x[2, 1:4].sum() + x[1, 3]

    a = np.random.default_rng(11).standard_normal((4, 5))
    tape = tg.compile(f, a)
    for _ in range(3):
        x = tg.tensor(a, requires_grad=True)
        f(x).backward()
        np.testing.assert_allclose(tape.gradient(a), values(x.grad), rtol=1e-13)
        np.testing.assert_allclose(tape(a), f(tg.tensor(a)).item(), rtol=1e-13)
        a = a + 0.5


def test_large_first_gradient_is_lent_and_never_overwritten():
    """A large leaf's first .grad is a view of the backward's workspace (no copy); a later
    backward must neither overwrite it while it is alive nor lose accumulation into it."""
    n = 1 << 15
    x = tg.tensor(np.linspace(-1.0, 1.0, n), requires_grad=True)
    (x * 2.0).sum().backward()
    first = x.grad
    np.testing.assert_array_equal(first.numpy(), np.full(n, 2.0))
    (x * 3.0).sum().backward()  # accumulates into the same tensor, as torch does
    assert x.grad is first
    np.testing.assert_array_equal(first.numpy(), np.full(n, 5.0))
    x.grad = None
    (x * x).sum().backward()  # `first` is still alive: the workspace must not be reused
    np.testing.assert_array_equal(first.numpy(), np.full(n, 5.0))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.linspace(-1.0, 1.0, n))
    second = x.grad.numpy().copy()
    x.grad = None
    del first
    (x * 7.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full(n, 7.0))
    assert not np.shares_memory(x.grad.numpy(), second)


# -- large intermediates share gradient memory once dead (sweep._records) --------------------

N = 6000  # above abi.LARGE: every intermediate of these functions is pooled


def _pooled(x, w):
    """Many same-sized large intermediates, several consumers each, a multi-record output
    (cat), a matrix product large enough for the BLAS hand-off, and a where."""
    y = x
    for _ in range(6):
        y = tg.tanh(y) * 0.9 + 0.1 * y
    z = tg.cat([y * 2, tg.sin(y)])  # 2N
    m = z.reshape(60, 200) @ w  # 60x200 @ 200x200: 2.4e6 multiply-adds, handed to BLAS
    s = tg.where(m > 0, m, 0.5 * m)
    return (s * s).sum() + (y * x).sum()


def test_pooled_gradient_memory_matches_finite_differences():
    rng = np.random.default_rng(3)
    x = tg.tensor(0.3 * rng.standard_normal(N), requires_grad=True)
    w = tg.tensor(0.1 * rng.standard_normal((200, 200)), requires_grad=True)
    assert tg.gradcheck(_pooled, (x, w), fast_mode=True, seed=0)
    _pooled(x, w).backward()
    # the same function replayed by tg.compile's sweep, which pools nothing
    tape = tg.compile(_pooled, x.detach(), w.detach())
    gx, gw = tape.gradient(x.detach(), w.detach())
    np.testing.assert_allclose(x.grad.numpy(), gx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), gw, rtol=1e-12, atol=1e-12)


def test_retained_large_intermediates_keep_their_own_gradient():
    x0 = np.linspace(-1, 1, N)
    x = tg.tensor(x0, requires_grad=True)
    t = tg.tanh(x)
    t.retain_grad()
    u = t * 3.0
    u.retain_grad()
    v = tg.tanh(u)  # more same-sized intermediates whose memory is reused meanwhile
    (v * v).sum().backward()
    dv = 2 * np.tanh(3 * np.tanh(x0))
    du = dv * (1 - np.tanh(3 * np.tanh(x0)) ** 2)
    np.testing.assert_allclose(u.grad.numpy(), du, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(t.grad.numpy(), 3 * du, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), 3 * du * (1 - np.tanh(x0) ** 2), rtol=1e-13,
                               atol=1e-15)


def test_heap_is_tuned_at_the_first_large_backward_not_at_import():
    """(mallopt is process-wide: a program differentiating nothing large keeps its defaults)"""
    code = ("import numpy as np, tapegrad as tg; from tapegrad import heap\n"
            "a = heap.tuned\n"
            "x = tg.tensor(np.ones(3), requires_grad=True); (x * x).sum().backward()\n"
            "b = heap.tuned\n"
            "x = tg.tensor(np.ones(20_000), requires_grad=True); (x * x).sum().backward()\n"
            "print(a, b, heap.tuned)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False", "True"]
