"""tg.compile: replay equals eager, gradients equal finite differences, guards never let a
recorded branch answer for an input it does not apply to."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import numeric_grad
from test_ops import ALL, CASES

import tapegrad as tg
from tapegrad.ops import BY_KEY

RNG = np.random.default_rng(42)


def rosen(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def mlp_loss(x):
    w = tg.tensor(np.linspace(-1, 1, 12).reshape(4, 3))
    h = (x.reshape(1, 4) @ w).tanh()
    return (h.softmax(1) * tg.tensor([1.0, 2.0, 3.0])).sum() + h.logsumexp(1).sum()


def branchy(x):
    if x.sum() > 0:  # a comparison used in `if`: guarded
        return (x * x).sum()
    return (x.sin() * 3.0).sum()


def float_constant(x):
    c = float(x[0])  # leaves the tape as a Python float: guarded
    return (x * c).sum() + x.exp().sum()


def numpy_detour(x):
    m = x.detach().numpy().max()  # a constant computed outside the tape
    return ((x - m) ** 2).sum()


def no_grad_inside(x):
    with tg.no_grad():
        scale = x.abs().sum()  # depends on x, passes no gradient
    return (x * scale).sum()


def selects(x):
    v = x.reshape(2, 3)
    return v.max(1).values.sum() + tg.where(x > 0.1, x, x * x).sum() + x.clamp(-0.5, 0.5).sum()


def many_guards(x):
    total = x[0] * 0.0
    for i in range(6):  # six guards, checked together: any one flipping must be noticed
        total = total + (x[i] * x[i] if x[i] > 0 else x[i].sin())
    return total


FUNCTIONS = [rosen, mlp_loss, branchy, float_constant, numpy_detour, no_grad_inside, selects,
             many_guards]
SHAPES = {rosen: (6,), mlp_loss: (4,), branchy: (6,), float_constant: (6,), numpy_detour: (6,),
          no_grad_inside: (6,), selects: (6,), many_guards: (6,)}


def eager_value_and_grad(f, x):
    t = tg.tensor(x, requires_grad=True)
    out = f(t)
    out.backward()
    return out.item(), t.grad.numpy()


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
def test_replay_equals_eager_on_50_random_inputs(f):
    shape = SHAPES[f]
    tape = tg.compile(f, RNG.normal(size=shape))
    for _ in range(50):
        x = RNG.normal(size=shape)
        value, grad = eager_value_and_grad(f, x)
        np.testing.assert_allclose(tape(x), value, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tape.gradient(x), grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f", [rosen, mlp_loss, selects], ids=lambda f: f.__name__)
def test_gradient_matches_finite_differences(f):
    shape = SHAPES[f]
    tape = tg.compile(f, RNG.normal(size=shape))
    x = RNG.normal(size=shape)
    expected = numeric_grad(lambda a: float(tape(a)), [x], 0)
    np.testing.assert_allclose(tape.gradient(x), expected, rtol=1e-6, atol=1e-7)


def test_branch_guard_retapes_and_caches_by_outcome():
    tape = tg.compile(branchy, np.ones(3))
    assert tape.retapes == 0
    neg = -np.ones(3)
    np.testing.assert_allclose(tape(neg), 3 * np.sin(neg).sum())
    assert tape.retapes == 1
    np.testing.assert_allclose(tape.gradient(neg), 3 * np.cos(neg))
    np.testing.assert_allclose(tape.gradient(np.full(3, 2.0)), 2 * np.full(3, 2.0))
    tape(-2 * np.ones(3))  # both outcomes are cached: no new recording
    assert tape.retapes == 1


def test_on_guard_raise_names_the_guard_and_suggests_where():
    tape = tg.compile(branchy, np.ones(3), on_guard="raise")
    np.testing.assert_allclose(tape(np.full(3, 2.0)), 12.0)
    with pytest.raises(tg.GuardError, match=r"bool\(\).*test_compiled.py:\d+.*tg\.where"):
        tape(-np.ones(3))


def test_float_constant_guard_retapes_on_change():
    tape = tg.compile(float_constant, np.array([1.0, 2.0]))
    x = np.array([3.0, 2.0])
    value, grad = eager_value_and_grad(float_constant, x)
    np.testing.assert_allclose(tape(x), value)
    np.testing.assert_allclose(tape.gradient(x), grad)
    assert tape.retapes >= 1


def test_captured_tensor_changed_in_place_forces_retape():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    tape = tg.compile(lambda x: (x * w).sum(), np.ones(2))
    np.testing.assert_allclose(tape.gradient(np.ones(2)), [1.0, 2.0])
    with tg.no_grad():
        w += 1.0
    np.testing.assert_allclose(tape.gradient(np.ones(2)), [2.0, 3.0])


def test_shape_and_dtype_mismatch_name_expected_and_given():
    tape = tg.compile(rosen, np.ones(4))
    with pytest.raises(ValueError, match=r"\(4,\).*float64.*\(5,\).*float64"):
        tape(np.ones(5))
    with pytest.raises(ValueError, match=r"float64.*float32"):
        tape(np.ones(4, dtype=np.float32))


def test_results_are_never_overwritten_by_a_later_replay():
    tape = tg.compile(lambda x: x * 2.0, np.ones(3))
    first = tape(np.ones(3))
    tape(np.full(3, 5.0))
    np.testing.assert_array_equal(first, [2.0, 2.0, 2.0])
    g1 = tg.compile(rosen, np.ones(3)).gradient(np.ones(3))
    assert g1.base is None or not np.shares_memory(g1, np.zeros(1))


def test_several_arguments_and_tensor_inputs():
    def f(a, b):
        return (a @ b).tanh().sum()

    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))
    tape = tg.compile(f, a, b)
    ga, gb = tape.gradient(tg.tensor(a), b)
    ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    f(ta, tb).backward()
    np.testing.assert_allclose(ga, ta.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-13)


def _large_products(w, v, x):
    """Large products first, last, batched, of a vector and of a tensor with itself."""
    h = (x @ w).tanh()  # (64, 40): the first record
    sq = w.t() @ w  # (40, 40) @ itself's transpose pair: w is both operands
    batched = (h.reshape(2, 32, 40) @ sq).sin()  # batched, (2, 32, 40) @ (40, 40)
    return v @ (batched.reshape(64, 40) * h).t() @ x  # vector @ (40, 64) @ (64, 32), last


@pytest.mark.parametrize("blas_min", [1 << 15, 0], ids=["blas", "loops"])
def test_large_products_handed_to_blas_equal_eager(blas_min, monkeypatch):
    """A compiled replay stops at products above engine.BLAS_MIN for NumPy's BLAS, forward
    and reverse, and resumes; the gradients equal eager's and the numba loops' (blas_min 0)."""
    from tapegrad import engine

    monkeypatch.setattr(engine, "BLAS_MIN", blas_min)
    w, v, x = RNG.normal(size=(32, 40)) / 6, RNG.normal(size=40), RNG.normal(size=(64, 32)) / 6
    tape = tg.compile(_large_products, w, v, x)
    leaves = [tg.tensor(a, requires_grad=True) for a in (w, v, x)]
    out = _large_products(*leaves)
    jac = tape.jacobian(w, v, x)  # 32 reverse sweeps in one replay, each resumed mid-way
    for i in (0, 7, 31):
        for t in leaves:
            t.grad = None
        out.backward(tg.tensor(np.eye(32)[i]), retain_graph=True)
        got = tape.vjp((w, v, x), np.eye(32)[i])
        for g, rows, t in zip(got, jac, leaves, strict=True):
            np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-11, atol=1e-12)
            np.testing.assert_allclose(rows[i], t.grad.numpy(), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(tape(w, v, x), out.detach().numpy(), rtol=1e-12)


def test_vjp_and_jacobian_equal_stacked_vjps():
    def f(x):
        return (x.reshape(2, 3).softmax(1) * x.reshape(2, 3).sin()).sum(0)

    x = RNG.normal(size=6)
    tape = tg.compile(f, x)
    jac = tape.jacobian(x)
    assert jac.shape == (3, 6)
    for i in range(3):
        v = np.eye(3)[i]
        np.testing.assert_allclose(tape.vjp((x,), v), jac[i], rtol=1e-13)
        t = tg.tensor(x, requires_grad=True)
        f(t).backward(tg.tensor(v))
        np.testing.assert_allclose(jac[i], t.grad.numpy(), rtol=1e-12)
    expected = np.stack([numeric_grad(lambda a, i=i: float(tape(a)[i]), [x], 0)
                         for i in range(3)])
    np.testing.assert_allclose(jac, expected, rtol=1e-6, atol=1e-8)


def test_gradient_batch_equals_a_loop_of_single_calls():
    tape = tg.compile(rosen, np.ones(5))
    X = RNG.normal(size=(64, 5))
    batch = tape.gradient_batch(X)
    loop = np.stack([tape.gradient(row) for row in X])
    np.testing.assert_allclose(batch, loop, rtol=1e-14)


def test_gradient_batch_with_guards_falls_back_per_row():
    tape = tg.compile(branchy, np.ones(4))
    X = RNG.normal(size=(40, 4))
    batch = tape.gradient_batch(X)
    for row, g in zip(X, batch, strict=True):
        np.testing.assert_allclose(g, eager_value_and_grad(branchy, row)[1], rtol=1e-12)


def test_introspection():
    tape = tg.compile(rosen, np.ones(4))
    assert len(tape) == 11
    listing = tape.listing().splitlines()
    assert listing[0] == "%1 = SliceBackward0(arg0)  # slice"
    assert listing[-1] == "return %11"
    summary = tape.summary()
    assert "11 records" in summary and "pow_scalar" in summary and "bytes" in summary
    assert "replay: one fused loop" in summary


def test_float32_arguments_give_float32_results():
    x = np.linspace(0.1, 1.0, 5, dtype=np.float32)
    tape = tg.compile(rosen, x)
    g = tape.gradient(x)
    assert g.dtype == np.float32 and tape(x).dtype == np.float32
    np.testing.assert_allclose(g, eager_value_and_grad(rosen, x.astype(np.float64))[1],
                               rtol=1e-5)


# -- the fused path (codegen.py): small elementwise tapes run as one generated loop ------------

C6 = np.linspace(0.5, 1.5, 6)

FUSABLE = {
    "rosen": rosen,
    "mean_of_chain": lambda x: (x.tanh() * 0.9 + 0.1 * x).sigmoid().mean(),
    "gather_with_repeats": lambda x: (x[[0, 2, 2, 5]] * x[1:5].exp()).sum(),
    "constant_array": lambda x: (x * tg.tensor(C6) - x.sin() / tg.tensor(C6)).sum(),
    "transpose_of_matrix": lambda x: (x.reshape(2, 3).T.reshape(6) * x).pow(3.0).sum(),
    "binary_rules": lambda x: (x.abs() ** (x.cos() + 2.0) + (x * x).sqrt() / (x.exp() + 1)).sum(),
    "one_element_operands": lambda x: (tg.tensor(2.0) * x - x / tg.tensor([3.0])
                                       + x.reshape(1, 6) * 0.5).sum(),
    "comparisons_and_an_element": lambda x: (x * (x > 0.1) + (x <= x[2]) * x.exp()
                                             + x[4].sin() * x).sum(),
}


@pytest.mark.parametrize("name", list(FUSABLE))
def test_fused_tapes_equal_eager(name):
    f = FUSABLE[name]
    tape = tg.compile(f, RNG.normal(size=6))
    assert tape._fused is not None, "expected the fused path"
    for _ in range(10):
        x = RNG.normal(size=6)
        value, grad = eager_value_and_grad(f, x)
        np.testing.assert_allclose(tape(x), value, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(tape.gradient(x), grad, rtol=1e-12, atol=1e-12)
        v2, g2 = tape.value_and_gradient(x)
        np.testing.assert_allclose(v2, value, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g2, grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f", [rosen, FUSABLE["mean_of_chain"],
                               lambda x: (x[::2] * x[1::2].cos() - x[::-2]).sum()])
def test_fused_blocked_loop_for_large_inputs(f):
    from tapegrad.codegen import BLOCK

    x = RNG.normal(size=2 * BLOCK + 2 * 37)  # blocks and a remainder
    tape = tg.compile(f, x)
    assert tape._fused is not None and "block_sum" in tape._fused.source
    value, grad = eager_value_and_grad(f, x)
    np.testing.assert_allclose(tape(x), value, rtol=1e-11)
    np.testing.assert_allclose(tape.gradient(x), grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [7, 2 * 512 + 3])
def test_fused_one_element_argument_gets_the_summed_gradient(n):
    def f(x, a):
        return (a * x * x - a.exp() * x.sin()).sum()

    x, a = RNG.normal(size=n), np.array(0.7)
    tape = tg.compile(f, x, a)
    assert tape._fused is not None
    gx, ga = tape.gradient(x, a)
    tx, ta = tg.tensor(x, requires_grad=True), tg.tensor(a, requires_grad=True)
    f(tx, ta).backward()
    assert ga.shape == ()
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ga, ta.grad.numpy(), rtol=1e-11)


def test_fused_several_arguments_and_shapes():
    def f(a, b):
        return (a * b.reshape(2, 3) + a.tanh()).sum()

    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=6)
    tape = tg.compile(f, a, b)
    assert tape._fused is not None
    ga, gb = tape.gradient(a, b)
    ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    f(ta, tb).backward()
    assert ga.shape == (2, 3) and gb.shape == (6,)
    np.testing.assert_allclose(ga, ta.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=1e-13)
    first = tape.gradient(a, b)[0]
    tape.gradient(a + 1.0, b)
    np.testing.assert_array_equal(first, ga)  # a later replay does not overwrite results


def test_fused_declines_what_it_cannot_take_and_the_general_path_answers():
    for f in (branchy, no_grad_inside, selects, mlp_loss,
              lambda x: (x.reshape(2, 3) * tg.tensor([1.0, 2.0, 3.0])).sum()):
        tape = tg.compile(f, RNG.normal(size=SHAPES.get(f, (6,))))
        assert tape._fused is None
    def long_chain(x):
        for _ in range(40):
            x = x.tanh() * 0.9 + 0.1 * x
        return x.sum()

    from tapegrad.codegen import BLOCK

    assert tg.compile(long_chain, np.ones(6))._fused is not None
    assert tg.compile(long_chain, np.ones(BLOCK))._fused is None  # latency-bound: interpreter
    tape = tg.compile(rosen, np.ones(6))
    assert tape._fused is not None
    with pytest.raises(ValueError, match=r"\(6,\).*\(5,\)"):
        tape.gradient(np.ones(5))
    x = RNG.normal(size=12)[::2]  # not contiguous: the general path takes it
    np.testing.assert_allclose(tape.gradient(x), eager_value_and_grad(rosen, x)[1], rtol=1e-13)


# -- every op of the table under compile: fused, interpreted, and one-element (scalar) records -


def _eager_grads(fn, arrays, weights):
    ts = [tg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    loss = (out * tg.tensor(weights)).sum()
    loss.backward()
    return loss.item(), [t.grad.numpy() if t.grad is not None else np.zeros_like(a)
                         for t, a in zip(ts, arrays, strict=True)]


def _check_tape(tape, arrays, value, grads):
    got = tape.gradient(*arrays)
    got = list(got) if isinstance(got, tuple) else [got]
    np.testing.assert_allclose(tape(*arrays), value, rtol=1e-12, atol=1e-12)
    for g, e in zip(got, grads, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("key,desc,fn,arrays", ALL, ids=[f"{k}-{d}" for k, d, _, _ in ALL])
def test_every_op_case_replays_with_eager_gradients(key, desc, fn, arrays):
    shape = fn(*[tg.tensor(a) for a in arrays]).shape
    weights = np.linspace(0.5, 1.5, int(np.prod(shape))).reshape(shape)
    value, grads = _eager_grads(fn, arrays, weights)

    def loss(*xs):
        return (fn(*xs) * tg.tensor(weights)).sum()

    tape = tg.compile(loss, *arrays)
    _check_tape(tape, arrays, value, grads)
    tape._fused = None  # the interpreter too, when the fused path took it
    _check_tape(tape, arrays, value, grads)


RULE_CASES = [(key, desc, fn, arrays) for key, desc, fn, arrays in ALL
              if BY_KEY[key].rules and desc == CASES[key][0][0]]


@pytest.mark.parametrize("key,desc,fn,arrays", RULE_CASES, ids=[k for k, *_ in RULE_CASES])
def test_one_element_records_use_the_scalar_rules(key, desc, fn, arrays):
    """0-d inputs: every record is one element, computed inline by the op's scalar rules when
    the op is one of the replay's inline ops, else by its own kernel; the same results."""
    from tapegrad.kernels._dispatch import INLINE

    arrays = [np.array(a.ravel()[0]) for a in arrays]

    def f(*xs):
        y = fn(*[x * 1.0 for x in xs])
        return (y * y + y).sum()

    tape = tg.compile(f, *arrays)
    tape._fused = None
    variant = tape._variants[-1]
    kinds = variant.kinds[variant.recs[:, 0] == BY_KEY[key].code]
    assert (kinds.all() if INLINE[BY_KEY[key].code] else not kinds.any()), kinds
    value, grads = _eager_grads(lambda *xs: f(*xs), arrays, np.array(1.0))
    _check_tape(tape, arrays, value, grads)
    floats = [float(a) for a in arrays]  # Python floats: packed in one step
    _check_tape(tape, floats, value, grads)


def test_vjp_with_a_wrong_shaped_v_names_both_shapes():
    tape = tg.compile(lambda x: x.sin() * 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"\(5,\).*\(3,\)"):
        tape.vjp((np.ones(3),), np.ones(5))
    np.testing.assert_allclose(tape.vjp(np.ones(3), np.ones(3)), 2 * np.cos(np.ones(3)))


def _random_program(seed: int):
    """A random elementwise loss of x: unary, scalar and binary ops, slices, one element of x,
    a scalar tensor, reused values; summed or averaged."""
    gen = np.random.default_rng(seed)
    unary = [lambda v: v.tanh(), lambda v: v.sin(), lambda v: v.sigmoid(), lambda v: -v,
             lambda v: v.abs(), lambda v: (v * v + 1.0).sqrt(), lambda v: v.exp() * 0.1]
    scalar = [lambda v, c: v + c, lambda v, c: c - v, lambda v, c: v * c, lambda v, c: v / c,
              lambda v, c: v ** 2.0, lambda v, c: c / (v * v + 1.0)]
    binary = [lambda u, v: u + v, lambda u, v: u - v, lambda u, v: u * v,
              lambda u, v: u / (v * v + 1.0), lambda u, v: (u - v) ** 2.0]
    steps = [(int(gen.integers(3)), int(gen.integers(7)), float(gen.uniform(0.5, 2.0)),
              int(gen.integers(1 << 30))) for _ in range(int(gen.integers(4, 14)))]
    reduce_mean = bool(gen.integers(2))

    def f(x):
        values = [x[1:], x[:-1], x[1:] * x[0], x[:-1] * tg.tensor(0.5)]
        for kind, k, c, pick in steps:
            u = values[pick % len(values)]
            v = values[(pick >> 8) % len(values)]
            if kind == 0:
                values.append(unary[k % len(unary)](u))
            elif kind == 1:
                values.append(scalar[k % len(scalar)](u, c))
            else:
                values.append(binary[k % len(binary)](u, v))
        return values[-1].mean() if reduce_mean else values[-1].sum()

    return f


@pytest.mark.parametrize("seed", range(24))
def test_random_elementwise_programs_fused_equal_eager(seed):
    from tapegrad.codegen import BLOCK

    f = _random_program(seed)
    n = (5, 40, BLOCK + 9)[seed % 3]
    gen = np.random.default_rng(1000 + seed)
    tape = tg.compile(f, gen.normal(size=n))
    assert tape._fused is not None
    for _ in range(3):
        x = gen.normal(size=n)
        value, grad = eager_value_and_grad(f, x)
        np.testing.assert_allclose(tape(x), value, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(tape.gradient(x), grad, rtol=1e-11, atol=1e-12)


def test_scalar_network_of_many_float_parameters():
    """micrograd style: every parameter a Python float; results are 0-d arrays, one each."""
    gen = np.random.default_rng(7)
    params = gen.uniform(-1, 1, 3 * 4 + 4 + 1).tolist()
    points = gen.uniform(-2, 2, (5, 3)).tolist()

    def loss(*ps):
        total = 0.0
        for x in points:
            hidden = [tg.tanh(sum((ps[3 * j + i] * x[i] for i in range(3)), ps[12 + j]))
                      for j in range(4)]
            out = sum((h * ps[16] for h in hidden), 0.1)
            total = total + (out - 0.5) ** 2
        return total / len(points)

    tape = tg.compile(loss, *params)
    ts = [tg.tensor(p, requires_grad=True) for p in params]
    loss(*ts).backward()
    for fused in (True, False):  # fused (196 records), then the interpreter's scalar path
        assert (tape._fused is not None) == fused
        grads = tape.gradient(*params)
        assert len(grads) == len(params) and all(g.shape == () for g in grads)
        np.testing.assert_allclose([float(g) for g in grads], [t.grad.item() for t in ts],
                                   rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(tape(*params), loss(*ts).item(), rtol=1e-13)
        tape._fused = None


def test_in_place_changes_inside_f_do_not_force_retapes():
    def f(x):
        y = x * 2.0
        y += 1.0  # y's version moves on while recording: replay recomputes it anyway
        y *= 3.0
        return (y * y).sum()

    tape = tg.compile(f, np.ones(4))
    for _ in range(3):
        x = RNG.normal(size=4)
        np.testing.assert_allclose(tape.gradient(x), eager_value_and_grad(f, x)[1], rtol=1e-13)
    assert tape.retapes == 0


def test_records_the_output_does_not_need_are_not_replayed_but_guards_are_kept():
    def f(x):
        unused = (x * 3.0).exp()  # noqa: F841 -- recorded, never needed
        if x.sum() > 0:  # a guard: its value must be replayed to be checked
            return (x * x).sum()
        return x.sin().sum()

    tape = tg.compile(f, np.array([1.0, 2.0]))
    counts = tape._variants[-1].op_counts
    assert "exp" not in counts and "sum" in counts
    np.testing.assert_allclose(tape.gradient(np.array([0.5, 1.5])), [1.0, 3.0])
    np.testing.assert_allclose(tape.gradient(np.array([-1.0, -2.0])), np.cos([-1.0, -2.0]))
    assert tape.retapes == 1
