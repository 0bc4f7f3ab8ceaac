"""``tg.compile`` of a tape holding custom Functions -- ``tapegrad.linalg``'s LAPACK calls
among them: the replay stops at each call and runs its forward, or its backward, in Python on
that replay's values.  Oracles: the same function run eagerly on the new inputs, closed forms,
central finite differences, and torch."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tapegrad as tg


class Cube(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2


class ScaledPair(tg.autograd.Function):
    """Two outputs, a non-tensor argument and a second tensor argument."""

    @staticmethod
    def forward(ctx, x, k, w):
        ctx.save_for_backward(x, w)
        ctx.k = k
        return x * w * k, (x - w).exp()

    @staticmethod
    def backward(ctx, g1, g2):
        x, w = ctx.saved_tensors
        e = (x - w).exp()
        return g1 * w * ctx.k + g2 * e, None, g1 * x * ctx.k - g2 * e


def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        g[i] = (f(up) - f(down)) / (2 * h)
    return g


def _eager_gradient(f, *arrays):
    ts = [tg.tensor(a, requires_grad=True) for a in arrays]
    out = f(*ts)
    out.backward()
    return out.item(), [t.grad.numpy() for t in ts]


def test_a_function_replays_on_new_inputs():
    f = lambda x: Cube.apply(x * 2).sin().sum()  # noqa: E731
    tape = tg.compile(f, np.array([1.0, 2.0]))
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal(2)
        value, grad = tape.value_and_gradient(x)
        np.testing.assert_allclose(value, np.sin((2 * x) ** 3).sum(), rtol=1e-14)
        np.testing.assert_allclose(grad, np.cos((2 * x) ** 3) * 3 * (2 * x) ** 2 * 2, rtol=1e-13)
        np.testing.assert_allclose(tape(x), value, rtol=0)


def test_jacobian_vjp_and_batch_run_through_a_function():
    f = lambda x: Cube.apply(x) * x  # noqa: E731  (x^4, elementwise)
    tape = tg.compile(f, np.array([1.0, 2.0, 3.0]))
    x = np.array([0.5, -1.5, 2.0])
    np.testing.assert_allclose(tape.jacobian(x), np.diag(4 * x ** 3), rtol=1e-14)
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(tape.vjp((x,), v), v * 4 * x ** 3, rtol=1e-14)
    s = tg.compile(lambda x: (Cube.apply(x) * x).sum(), x)
    X = np.array([[0.5, -1.5, 2.0], [1.0, 0.1, -0.3]])
    np.testing.assert_allclose(s.gradient_batch(X), 4 * X ** 3, rtol=1e-14)


def test_two_outputs_a_number_and_a_second_tensor():
    def f(x, w):
        p, q = ScaledPair.apply(x, 1.5, w)
        return (p.sin() + q * x).sum()

    x0, w0 = np.array([0.2, 0.4]), np.array([-0.3, 0.9])
    tape = tg.compile(f, x0, w0)
    x, w = np.array([0.7, -0.1]), np.array([0.25, 0.5])
    value, (gx, gw) = tape.value_and_gradient(x, w)
    ev, (ex, ew) = _eager_gradient(f, x, w)
    np.testing.assert_allclose(value, ev, rtol=1e-14)
    np.testing.assert_allclose(gx, ex, rtol=1e-13)
    np.testing.assert_allclose(gw, ew, rtol=1e-13)
    np.testing.assert_allclose(gx, _fd(lambda a: f(tg.tensor(a), tg.tensor(w)).item(), x),
                               rtol=1e-7)


def test_an_unused_output_keeps_the_call_and_gets_no_gradient():
    def f(x, w):
        _, q = ScaledPair.apply(x, 2.0, w)  # (the first output is dead)
        return q.sum()

    tape = tg.compile(f, np.array([0.2, 0.4]), np.array([-0.3, 0.9]))
    x, w = np.array([0.1, 0.3]), np.array([0.5, -0.5])
    gx, gw = tape.gradient(x, w)
    np.testing.assert_allclose(gx, np.exp(x - w), rtol=1e-14)
    np.testing.assert_allclose(gw, -np.exp(x - w), rtol=1e-14)


class WithIndexOutput(tg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        shift = x.detach() * 0 + x.max()
        ctx.mark_non_differentiable(shift)
        return x - shift, shift

    @staticmethod
    def backward(ctx, g, _):
        return g


def test_a_non_differentiable_output_is_recomputed_and_passes_no_gradient():
    f = lambda x: (WithIndexOutput.apply(x)[1] * x).sum()  # noqa: E731
    tape = tg.compile(f, np.array([1.0, 3.0, 2.0]))
    x = np.array([5.0, -1.0, 0.5])
    np.testing.assert_allclose(tape(x), 5.0 * x.sum())
    np.testing.assert_allclose(tape.gradient(x), np.full(3, 5.0))  # (the shift: a constant)


def test_a_captured_tensor_argument_is_read_at_each_replay():
    w = tg.tensor([1.0, 2.0])
    tape = tg.compile(lambda x: ScaledPair.apply(x, 1.0, w)[0].sum(), np.array([1.0, 1.0]))
    np.testing.assert_allclose(tape.gradient(np.array([3.0, 4.0])), [1.0, 2.0])
    with tg.no_grad():
        w.mul_(10)
    np.testing.assert_allclose(tape.gradient(np.array([3.0, 4.0])), [10.0, 20.0])


def test_nothing_inside_the_forward_is_recorded():
    class Many(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x
            for _ in range(20):
                y = y.sin()
            return y

        @staticmethod
        def backward(ctx, g):
            raise AssertionError("not called")

    tape = tg.compile(lambda x: Many.apply(x).sum(), np.array([1.0, 2.0]))
    assert tape.summary().count("sin") == 0
    np.testing.assert_allclose(tape(np.array([0.5, 0.1])),
                               sum(_sin20(v) for v in (0.5, 0.1)), rtol=1e-14)


def _sin20(v):
    for _ in range(20):
        v = np.sin(v)
    return v


def test_a_function_under_no_grad_inside_f_replays_without_gradient():
    def f(x):
        with tg.no_grad():
            c = Cube.apply(x)
        return (c * x).sum()

    tape = tg.compile(f, np.array([1.0, 2.0]))
    x = np.array([2.0, -1.0])
    np.testing.assert_allclose(tape(x), (x ** 4).sum())
    np.testing.assert_allclose(tape.gradient(x), x ** 3)  # (c held constant)


def test_what_a_replay_cannot_take_is_refused_while_recording():
    class ToInt(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.argmax()

        @staticmethod
        def backward(ctx, g):
            return None

    with pytest.raises(NotImplementedError, match="ToInt: it returns a tapegrad.int64"):
        tg.compile(lambda x: ToInt.apply(x).sum(), np.array([1.0, 2.0]))

    class InPlace(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    with pytest.raises(NotImplementedError, match="mark_dirty"):
        tg.compile(lambda x: InPlace.apply(x * 1).sum(), np.array([1.0, 2.0]))

    class Keyword(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x, w=None):
            return x * w

        @staticmethod
        def backward(ctx, g):
            return g

    with pytest.raises(NotImplementedError, match="by keyword"):
        tg.compile(lambda x: Keyword.apply(x, w=x).sum(), np.array([1.0, 2.0]))


def test_a_forward_whose_shape_follows_the_values_is_an_error_on_replay():
    class Positive(tg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x[x > 0]

        @staticmethod
        def backward(ctx, g):
            raise AssertionError("not called")

    tape = tg.compile(lambda x: Positive.apply(x).sum(), np.array([1.0, 2.0]))
    assert tape(np.array([3.0, 4.0])) == 7.0
    with pytest.raises(RuntimeError, match="keeps the shapes it recorded"):
        tape(np.array([3.0, -4.0]))


def test_threads_replay_their_own_calls():
    tape = tg.compile(lambda x: (Cube.apply(x) * x).sum(), np.array([1.0, 2.0]))
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(200):
                x = rng.standard_normal(2)
                np.testing.assert_allclose(tape.gradient(x), 4 * x ** 3, rtol=1e-13)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# -- tapegrad.linalg under tg.compile ---------------------------------------------------------


def _matrix(seed, n=3, shift=None):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, n)) + (n if shift is None else shift) * np.eye(n)


def _spd(seed, n=3):
    m = _matrix(seed, n, 0.0)
    return m @ m.T + n * np.eye(n)


LINALG = {  # name -> (scalar function of a tensor, example matrix maker)
    "inv": (lambda a: (tg.linalg.inv(a) ** 2).sum(), _matrix),
    "solve": (lambda a: tg.linalg.solve(a, a[:, :1] + 1).sum(), _matrix),
    "det": (lambda a: tg.linalg.det(a), _matrix),
    "slogdet": (lambda a: tg.linalg.slogdet(a)[1] * tg.linalg.slogdet(a)[0], _matrix),
    "logdet": (lambda a: tg.logdet(a), _spd),
    # (symmetrised first: torch's gradients of these assume a symmetric input, which finite
    # differences of one element do not keep)
    "cholesky": (lambda a: tg.linalg.cholesky((a + a.mT) / 2).sin().sum(), _spd),
    "eigh": (lambda a: (tg.linalg.eigh((a + a.mT) / 2)[0] * tg.tensor([1.0, 2.0, 3.0])).sum(),
             _spd),
    "qr": (lambda a: (tg.linalg.qr(a)[1] ** 2).triu(1).sum(), _matrix),
    "svd": (lambda a: tg.linalg.svdvals(a).max() if hasattr(tg.linalg, "svdvals")
            else tg.linalg.svd(a)[1].max(), _matrix),
    "pinv": (lambda a: tg.linalg.pinv(a[:, :2]).sum(), _matrix),
    "lstsq": (lambda a: tg.linalg.lstsq(a, a[:, :1].exp()).solution.sum(), _matrix),
    "vector_norm": (lambda a: tg.linalg.vector_norm(a, 3), _matrix),
    "matrix_norm": (lambda a: tg.linalg.matrix_norm(a, "nuc"), _matrix),
    "norm2": (lambda a: tg.linalg.norm(a, 2), _matrix),
    "matrix_exp": (lambda a: (tg.linalg.matrix_exp(a * 0.5) * tg.tensor([1.0, -2.0, 0.5])).sum(),
                   _matrix),
    "solve_triangular": (lambda a: tg.linalg.solve_triangular(a, a[:, :2] ** 2, upper=True)
                         .sum(), _matrix),
    "solve_triangular_right": (lambda a: tg.linalg.solve_triangular(
        a, a[:1] - 1, upper=False, left=False, unitriangular=True).exp().sum(), _matrix),
    "matrix_power": (lambda a: tg.linalg.matrix_power(a, -2).sum(), _matrix),
    "lu": (lambda a: (lambda r: (r.L * r.U).sum())(tg.linalg.lu(a)), _matrix),
    "cholesky_solve": (lambda a: tg.cholesky_solve(a[:, :2], tg.linalg.cholesky((a + a.mT) / 2))
                       .sum(), _spd),
    "cond_fro": (lambda a: tg.linalg.cond(a, "fro"), _matrix),
}


def test_lstsq_singular_values_are_replayed():
    def f(a):
        return (tg.linalg.lstsq(a, a[:, :1], driver="gelsd").singular_values * a[0]).sum()

    tape = tg.compile(f, _matrix(0))
    for seed in (1, 2):
        np.testing.assert_allclose(tape(_matrix(seed)), f(tg.tensor(_matrix(seed))).item(),
                                   rtol=1e-13)


def test_cond_replays_a_singular_matrix_as_eager():
    singular = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 1.0]])
    for first, then in ((singular, _matrix(1)), (_matrix(1), singular)):
        tape = tg.compile(lambda a: tg.linalg.cond(a, 1), first)
        assert tape(then) == tg.linalg.cond(tg.tensor(then), 1).item()
    assert tape(singular) == np.inf


@pytest.mark.parametrize("f", [lambda a: tg.linalg.inv_ex(a).inverse.sum(),
                               lambda a: tg.linalg.lu_factor(a).LU.sum(),
                               lambda a: tg.linalg.cholesky_ex(a).L.sum()])
def test_linalg_with_int_results_is_refused_by_compile(f):
    # (their pivots / info are int32 tensors, which a compiled tape cannot hold: a replay
    # would reuse the recorded ones)
    with pytest.raises(NotImplementedError, match="int32"):
        tg.compile(f, _spd(0))


@pytest.mark.parametrize("name", sorted(LINALG))
def test_linalg_replays_as_eager(name):
    f, make = LINALG[name]
    tape = tg.compile(f, make(0))
    for seed in (1, 2):
        a = make(seed)
        value, grad = tape.value_and_gradient(a)
        ev, (eg,) = _eager_gradient(f, a)
        np.testing.assert_allclose(value, ev, rtol=1e-12)
        np.testing.assert_allclose(grad, eg, rtol=1e-10, atol=1e-12)
    assert tape.retapes == 0
    np.testing.assert_allclose(grad, _fd(lambda m: f(tg.tensor(m)).item(), a), rtol=1e-5,
                               atol=1e-7)


def test_linalg_replay_checks_as_torch_on_new_values():
    tape = tg.compile(lambda a: tg.linalg.inv(a).sum(), _matrix(0))
    with pytest.raises(tg.linalg.LinAlgError, match="singular"):
        tape(np.zeros((3, 3)))
    np.testing.assert_allclose(tape(np.eye(3) * 2), 1.5)  # (and recovers)


def test_a_hessian_vector_product_through_logdet_compiles():
    torch = pytest.importorskip("torch")

    def hvp(a, v):
        (g,) = tg.autograd.grad(tg.logdet(a), a, create_graph=True)
        return (g * v).sum()

    a0, v = _spd(3), _matrix(4)
    tape = tg.compile(lambda a: hvp(a, tg.tensor(v)), a0)
    a = _spd(5)
    ta = torch.tensor(a, requires_grad=True)
    (tg1,) = torch.autograd.grad(torch.logdet(ta), ta, create_graph=True)
    (expected,) = torch.autograd.grad((tg1 * torch.tensor(v)).sum(), ta)
    np.testing.assert_allclose(tape.gradient(a), expected.numpy(), rtol=1e-10, atol=1e-12)
