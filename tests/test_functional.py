"""The functional API (DESIGN.md §4): grad, value_and_grad, vjp, jacobian, hvp, hessian, jvp.

Oracles: closed-form derivatives and central finite differences (``helpers.numeric_grad``).
"""

from __future__ import annotations

import doctest
import threading

import numpy as np
import pytest
from helpers import numeric_grad

import tapegrad as tg
import tapegrad.functional as functional
from tapegrad.functional import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp

RNG = np.random.default_rng(1234)



def f_scalar(x):
    """sum(sin(x) * x): gradient cos(x) * x + sin(x)."""
    return (x.sin() * x).sum()


def df_scalar(x: np.ndarray) -> np.ndarray:
    return np.cos(x) * x + np.sin(x)


def f_two(x, y):
    """sum(x * y) + sum(y ** 2) * x[0]: grads y + e_0 sum(y^2), x + 2 y x[0]."""
    return (x * y).sum() + (y ** 2).sum() * x[0]


def df_two(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gx = y.copy()
    gx[0] += np.sum(y ** 2)
    return gx, x + 2 * y * x[0]


def as_float(fn):
    """``fn`` on NumPy arrays, returning a Python float: the finite-difference oracle's form."""

    def scalar(*arrays):
        with tg.no_grad():
            return float(fn(*[tg.tensor(a) for a in arrays]).item())

    return scalar


def numeric_jacobian(fn, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d fn(x) / d x by central differences, shaped ``out.shape + x.shape``."""

    def value(a):
        with tg.no_grad():
            return np.array(fn(tg.tensor(a)).detach().numpy(), dtype=np.float64)

    out_shape = value(x).shape
    jac = np.zeros(out_shape + x.shape)
    for idx in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[idx] += eps
        minus[idx] -= eps
        jac[(...,) + idx] = (value(plus) - value(minus)) / (2 * eps)
    return jac


def assert_no_history(t) -> None:
    assert isinstance(t, tg.Tensor)
    assert not t.requires_grad
    assert t.grad_fn is None
    assert t.is_leaf


# --------------------------------------------------------------------------- grad


def test_grad_numpy_matches_closed_form_and_finite_differences():
    x = RNG.normal(size=5)
    g = grad(f_scalar)(x)
    assert type(g) is np.ndarray
    assert g.dtype == np.float64 and g.shape == x.shape
    np.testing.assert_allclose(g, df_scalar(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, numeric_grad(as_float(f_scalar), [x], 0), atol=1e-7)


def test_grad_int_argnums_selects_the_argument():
    x, y = RNG.normal(size=3), RNG.normal(size=3)
    gx, gy = df_two(x, y)
    np.testing.assert_allclose(grad(f_two)(x, y), gx, rtol=1e-12)
    np.testing.assert_allclose(grad(f_two, argnums=1)(x, y), gy, rtol=1e-12)
    np.testing.assert_allclose(grad(f_two, argnums=-1)(x, y), gy, rtol=1e-12)
    for i, expected in enumerate((gx, gy)):
        np.testing.assert_allclose(expected, numeric_grad(as_float(f_two), [x, y], i),
                                   atol=1e-7)


def test_grad_tuple_argnums_gives_a_tuple_in_argnums_order():
    x, y = RNG.normal(size=3), RNG.normal(size=3)
    gx, gy = df_two(x, y)
    both = grad(f_two, argnums=(0, 1))(x, y)
    assert isinstance(both, tuple) and len(both) == 2
    np.testing.assert_allclose(both[0], gx, rtol=1e-12)
    np.testing.assert_allclose(both[1], gy, rtol=1e-12)
    swapped = grad(f_two, argnums=(1, 0))(x, y)
    np.testing.assert_allclose(swapped[0], gy, rtol=1e-12)
    np.testing.assert_allclose(swapped[1], gx, rtol=1e-12)
    (only,) = grad(f_two, argnums=(1,))(x, y)  # a 1-tuple stays a tuple, as in jax
    np.testing.assert_allclose(only, gy, rtol=1e-12)


def test_grad_passes_other_arguments_and_keywords_through():
    def loss(w, X, y, *, scale):
        return scale * ((X @ w - y) ** 2).sum()

    X, y, w = RNG.normal(size=(6, 3)), RNG.normal(size=6), RNG.normal(size=3)
    g = grad(loss)(w, X, y, scale=0.5)
    np.testing.assert_allclose(g, X.T @ (X @ w - y), rtol=1e-12)


def test_grad_of_python_float_list_and_int_inputs_is_float64_numpy():
    g = grad(lambda x: x * x * x)(2.0)
    assert type(g) is np.ndarray and g.shape == () and g.dtype == np.float64
    assert g == 12.0
    g = grad(lambda x: (x ** 2).sum())([1.0, 2.0])
    assert type(g) is np.ndarray
    np.testing.assert_array_equal(g, [2.0, 4.0])
    g = grad(lambda x: (x ** 2).sum())(np.array([1, 2, 3]))  # integers: differentiated as float64
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g, [2.0, 4.0, 6.0])


def test_grad_keeps_float32():
    x = RNG.normal(size=4).astype(np.float32)
    g = grad(f_scalar)(x)
    assert type(g) is np.ndarray and g.dtype == np.float32
    np.testing.assert_allclose(g, df_scalar(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    gt = grad(f_scalar)(tg.tensor(x))
    assert isinstance(gt, tg.Tensor) and gt.dtype == tg.float32


def test_grad_tensor_in_tensor_out_without_history():
    x0 = RNG.normal(size=(2, 3))
    x = tg.tensor(x0)
    g = grad(f_scalar)(x)
    assert_no_history(g)
    assert g.dtype == tg.float64 and g.shape == x.shape
    np.testing.assert_allclose(g.numpy(), df_scalar(x0), rtol=1e-12)


def test_grad_leaves_the_users_tensors_untouched():
    x0 = RNG.normal(size=3)
    x = tg.tensor(x0, requires_grad=True)
    previous = tg.tensor([10.0, 20.0, 30.0])
    x.grad = previous
    y = tg.tensor(RNG.normal(size=3), requires_grad=True)  # no .grad yet
    gx, gy = grad(f_two, argnums=(0, 1))(x, y)
    for g in (gx, gy):
        assert_no_history(g)
    assert x.grad is previous
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 20.0, 30.0])
    assert y.grad is None
    np.testing.assert_array_equal(x.detach().numpy(), x0)
    assert x.requires_grad and x.is_leaf and y.requires_grad and y.is_leaf
    assert x._version == 0


def test_grad_of_a_tensor_with_history_is_taken_at_its_value():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3  # has history; grad(f)(h) differentiates f at h's value only
    g = grad(lambda x: (x ** 2).sum())(h)
    assert_no_history(g)
    np.testing.assert_allclose(g.numpy(), [6.0, 12.0])
    assert w.grad is None
    h.sum().backward()  # the user's graph still works
    np.testing.assert_allclose(w.grad.numpy(), [3.0, 3.0])


def test_grad_leaves_closed_over_parameters_alone():
    w = tg.tensor([1.0, -1.0], requires_grad=True)
    b = tg.tensor(0.5, requires_grad=True)
    b.grad = tg.tensor(7.0)
    g = grad(lambda x: ((x * w).sum() + b) ** 2)(np.array([2.0, 3.0]))
    # d/dx (x.w + b)^2 = 2 (x.w + b) w = 2 * (-0.5) * w
    np.testing.assert_allclose(g, [-1.0, 1.0])
    assert w.grad is None
    assert b.grad.item() == 7.0


def test_grad_does_not_free_a_graph_the_caller_still_needs():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    h = w * w  # a non-leaf f closes over; its record is reachable from f's output
    g = grad(lambda x: (x * h).sum())(np.array([3.0, 4.0]))
    np.testing.assert_allclose(g, [1.0, 4.0])
    assert w.grad is None
    h.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 4.0])


def test_grad_accepts_one_element_outputs_of_any_rank():
    x = np.array([1.0, 2.0])
    for f in (lambda x: (x ** 2).sum().reshape(1),
              lambda x: (x ** 2).sum().reshape(1, 1),
              lambda x: (x ** 2).sum(dim=0, keepdim=True)):
        np.testing.assert_allclose(grad(f)(x), [2.0, 4.0])
        value, g = value_and_grad(f)(x)
        assert value.size == 1 and float(value.ravel()[0]) == 5.0


def test_grad_of_identity_on_a_one_element_input():
    g = grad(lambda x: x)(np.array([3.0]))
    np.testing.assert_array_equal(g, [1.0])


def test_unused_inputs_get_zeros_of_their_shape_and_dtype():
    x = np.ones(2)
    y = np.ones((2, 3), dtype=np.float32)
    gx, gy = grad(lambda x, y: (x ** 2).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, [2.0, 2.0])
    assert gy.shape == (2, 3) and gy.dtype == np.float32 and not gy.any()
    gt = grad(lambda x, y: (x ** 2).sum(), argnums=1)(x, tg.tensor(y))
    assert_no_history(gt)
    assert gt.shape == (2, 3) and gt.dtype == tg.float32 and not gt.any()


def test_outputs_that_do_not_depend_on_the_inputs_give_zeros():
    x = np.array([1.0, 2.0])
    w = tg.tensor(3.0, requires_grad=True)
    constants = [
        lambda x: tg.tensor(5.0),  # a constant tensor
        lambda x: x.detach().sum(),  # history cut
        lambda x: 4.0,  # a Python number
        lambda x: np.float64(4.0),  # a NumPy scalar
        lambda x: w,  # a closed-over leaf: a constant here, and its .grad stays None
    ]
    for f in constants:
        value, g = value_and_grad(f)(x)
        np.testing.assert_array_equal(g, [0.0, 0.0])
        assert g.dtype == np.float64
    assert w.grad is None

    def no_grad_inside(x):
        with tg.no_grad():
            return (x ** 2).sum()

    np.testing.assert_array_equal(grad(no_grad_inside)(x), [0.0, 0.0])


# --------------------------------------------------------------------------- value_and_grad


def test_value_and_grad_numpy():
    x = RNG.normal(size=4)
    value, g = value_and_grad(f_scalar)(x)
    assert type(value) is np.ndarray and value.shape == () and value.dtype == np.float64
    np.testing.assert_allclose(value, np.sum(np.sin(x) * x), rtol=1e-14)
    np.testing.assert_allclose(g, df_scalar(x), rtol=1e-12)


def test_value_and_grad_tuple_argnums():
    x, y = RNG.normal(size=3), RNG.normal(size=3)
    value, (gx, gy) = value_and_grad(f_two, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(value, np.sum(x * y) + np.sum(y ** 2) * x[0], rtol=1e-14)
    ex, ey = df_two(x, y)
    np.testing.assert_allclose(gx, ex, rtol=1e-12)
    np.testing.assert_allclose(gy, ey, rtol=1e-12)


def test_value_and_grad_tensor_mode():
    x = tg.tensor(RNG.normal(size=3), requires_grad=True)
    value, g = value_and_grad(f_scalar)(x)
    assert_no_history(value)
    assert_no_history(g)
    assert value.shape == () and value.dtype == tg.float64
    assert x.grad is None


def test_value_is_a_copy_not_an_alias_of_the_tape():
    x = np.array([1.0, 2.0])
    value, _ = value_and_grad(lambda x: (x * 2).sum())(x)
    value[...] = 100.0  # the user may write to what they got
    np.testing.assert_array_equal(x, [1.0, 2.0])


# --------------------------------------------------------------------------- vjp


def f_vec(x, y, z):
    """Three arguments, broadcasting: out_i = x_i * y + sin(z_i) * x_i."""
    return x * y + z.sin() * x


def test_vjp_several_arguments_closed_form_and_two_calls():
    x, y, z = RNG.normal(size=4), np.array(0.7), RNG.normal(size=4)
    out, vjp_fn = vjp(f_vec, x, y, z)
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, x * y + np.sin(z) * x, rtol=1e-14)
    for _ in range(2):  # each call sweeps the same retained tape; results do not accumulate
        for v in (RNG.normal(size=4), np.ones(4)):
            cot = vjp_fn(v)
            assert isinstance(cot, tuple) and len(cot) == 3
            gx, gy, gz = cot
            np.testing.assert_allclose(gx, v * (y + np.sin(z)), rtol=1e-12)
            assert gy.shape == () and type(gy) is np.ndarray
            np.testing.assert_allclose(gy, np.sum(v * x), rtol=1e-12)
            np.testing.assert_allclose(gz, v * np.cos(z) * x, rtol=1e-12)


def test_vjp_against_finite_differences():
    x, y, z = RNG.normal(size=3), np.array(-0.3), RNG.normal(size=3)
    v = RNG.normal(size=3)
    _, vjp_fn = vjp(f_vec, x, y, z)
    cot = vjp_fn(v)

    def weighted(*arrays):  # <v, f(x, y, z)>: its gradient is the VJP
        with tg.no_grad():
            return float((f_vec(*[tg.tensor(a) for a in arrays]) * tg.tensor(v)).sum())

    for i in range(3):
        np.testing.assert_allclose(cot[i], numeric_grad(weighted, [x, y, z], i), atol=1e-7)


def test_vjp_mixed_tensor_and_numpy_arguments():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32)
    out, vjp_fn = vjp(lambda a, b: a * b, x, y)
    assert_no_history(out)  # a tensor argument: tensor out
    gx, gy = vjp_fn(tg.tensor([1.0, 1.0]))
    assert_no_history(gx)
    assert type(gy) is np.ndarray and gy.dtype == np.float32
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gy, [1.0, 2.0])
    assert x.grad is None


def test_vjp_scalar_output_and_unused_argument():
    out, vjp_fn = vjp(lambda a, b: (a ** 2).sum(), np.array([1.0, 2.0]), np.ones(3))
    assert out.shape == ()
    ga, gb = vjp_fn(2.0)
    np.testing.assert_allclose(ga, [4.0, 8.0])
    np.testing.assert_array_equal(gb, np.zeros(3))


def test_vjp_fn_rejects_a_cotangent_of_the_wrong_shape():
    _, vjp_fn = vjp(lambda a: a * 2, np.ones(3))
    with pytest.raises(RuntimeError, match=r"Size\(\[2\]\).*Size\(\[3\]\)"):
        vjp_fn(np.ones(2))


def test_vjp_inside_no_grad_and_called_later_inside_no_grad():
    with tg.no_grad():
        out, vjp_fn = vjp(lambda a: a.exp(), np.array([0.0, 1.0]))
        (g,) = vjp_fn(np.ones(2))
        assert not tg.is_grad_enabled()
    np.testing.assert_allclose(g, np.exp([0.0, 1.0]))


# --------------------------------------------------------------------------- jacobian


A = RNG.normal(size=(3, 4))


def f_vec_vec(x):
    return (tg.tensor(A) @ x).tanh() + x[:3] ** 2


def test_jacobian_vector_to_vector_matches_finite_differences_and_stacked_vjps():
    x = RNG.normal(size=4)
    jac = jacobian(f_vec_vec)(x)
    assert type(jac) is np.ndarray and jac.shape == (3, 4) and jac.dtype == np.float64
    # closed form: diag(1 - tanh^2(Ax)) A + [2 diag(x[:3]) | 0]
    expected = (1 - np.tanh(A @ x) ** 2)[:, None] * A
    expected[:, :3] += np.diag(2 * x[:3])
    np.testing.assert_allclose(jac, expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jac, numeric_jacobian(f_vec_vec, x), atol=1e-7)
    _, vjp_fn = vjp(f_vec_vec, x)
    stacked = np.stack([vjp_fn(e)[0] for e in np.eye(3)])
    np.testing.assert_allclose(jac, stacked, rtol=1e-14, atol=1e-15)


def test_jacobian_matrix_to_vector():
    x0 = RNG.normal(size=4)
    W = RNG.normal(size=(3, 4))

    def f(W):
        return (W @ tg.tensor(x0)).sigmoid()

    jac = jacobian(f)(W)
    assert jac.shape == (3, 3, 4)
    s = 1 / (1 + np.exp(-(W @ x0)))
    expected = np.einsum("i,ij,k->ijk", s * (1 - s), np.eye(3), x0)
    np.testing.assert_allclose(jac, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(jac, numeric_jacobian(f, W), atol=1e-7)


def test_jacobian_matrix_output():
    x = RNG.normal(size=3)

    def outer(x):
        return x.unsqueeze(1) * x.unsqueeze(0)  # (3, 3)

    jac = jacobian(outer)(x)
    assert jac.shape == (3, 3, 3)
    eye = np.eye(3)
    expected = np.einsum("ik,j->ijk", eye, x) + np.einsum("i,jk->ijk", x, eye)
    np.testing.assert_allclose(jac, expected, rtol=1e-14)


def test_jacobian_of_a_scalar_output_is_the_gradient():
    x = RNG.normal(size=(2, 3))
    jac = jacobian(f_scalar)(x)
    assert jac.shape == (2, 3)
    np.testing.assert_allclose(jac, grad(f_scalar)(x), rtol=1e-14)


def test_jacobian_tuple_argnums_tensor_mode_and_unused_argument():
    x = tg.tensor([1.0, 2.0])
    y = tg.tensor([3.0, 4.0, 5.0], dtype=tg.float32)
    jx, jy = jacobian(lambda x, y: x * 3, argnums=(0, 1))(x, y)
    assert_no_history(jx)
    assert_no_history(jy)
    np.testing.assert_array_equal(jx.numpy(), 3 * np.eye(2))
    assert jy.shape == (2, 3) and jy.dtype == tg.float32 and not jy.any()


def test_jacobian_records_f_once():
    calls = []

    def f(x):
        calls.append(1)
        return x.exp()

    jac = jacobian(f)(np.array([0.0, 1.0, 2.0]))
    assert len(calls) == 1
    np.testing.assert_allclose(jac, np.diag(np.exp([0.0, 1.0, 2.0])), rtol=1e-14)


def test_jacobian_of_constant_and_empty_outputs():
    jac = jacobian(lambda x: tg.zeros(2))(np.ones(3))
    assert jac.shape == (2, 3) and not jac.any()
    jac = jacobian(lambda x: x[:0])(np.ones(3))
    assert jac.shape == (0, 3)


def test_jacobian_leaves_closed_over_parameters_alone():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    jac = jacobian(lambda x: x * w)(np.array([5.0, 6.0]))
    np.testing.assert_array_equal(jac, np.diag([1.0, 2.0]))
    assert w.grad is None


def test_jacobian_through_an_inplace_product_on_an_intermediate():
    """``h *= x`` with ``x`` requiring grad: torch saves a clone of ``h``'s old value for the
    product's backward (gen_variable_type.py: ``original_self = self.clone()``), so this works
    in torch.  KNOWN TAPEGRAD BUG (reported, not fixed here): the recorded product reads the
    very array ``np.copyto`` overwrites, the version check fires, and backward raises "modified
    by an inplace operation".  Minimal repro without the functional API::

        x = tg.tensor([1., 2., 3.], requires_grad=True)
        h = x * 1.0
        h *= x
        h.sum().backward()  # torch: x.grad == [2., 4., 6.]; tapegrad: RuntimeError
    """

    def f(x):
        h = x * 1.0
        h += 1.0
        h *= x  # h = (x + 1) x
        return h

    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(jacobian(f)(x), np.diag(2 * x + 1))


# --------------------------------------------------------------------------- grad mode, threads


def test_everything_works_inside_no_grad():
    x = np.array([0.5, -1.0])
    with tg.no_grad():
        g = grad(f_scalar)(x)
        value, g2 = value_and_grad(f_scalar)(x)
        jac = jacobian(lambda x: x ** 2)(x)
        assert not tg.is_grad_enabled()  # restored after each call
    np.testing.assert_allclose(g, df_scalar(x), rtol=1e-12)
    np.testing.assert_allclose(g2, df_scalar(x), rtol=1e-12)
    np.testing.assert_allclose(jac, np.diag(2 * x))


def test_no_grad_decorated_caller():
    @tg.no_grad()
    def step(x):
        return x - 0.1 * grad(f_scalar)(x)

    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(step(x), x - 0.1 * df_scalar(x), rtol=1e-12)


def test_threads_compute_independently():
    xs = [RNG.normal(size=5) for _ in range(8)]
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []
    df = grad(f_scalar)

    def work(i):
        try:
            for _ in range(20):
                results[i] = df(xs[i])
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, x in enumerate(xs):
        np.testing.assert_allclose(results[i], df_scalar(x), rtol=1e-12)


# --------------------------------------------------------------------------- errors


def test_grad_of_a_non_scalar_output_raises():
    with pytest.raises(RuntimeError, match="only for scalar outputs.*shape \\[3\\]"):
        grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(RuntimeError, match="scalar outputs"):
        value_and_grad(lambda x: x.sum() * tg.ones(2))(np.ones(3))


@pytest.mark.parametrize("transform", [grad, value_and_grad, jacobian])
def test_f_must_return_a_tensor(transform):
    with pytest.raises(TypeError, match="expected f to return a Tensor.*NoneType"):
        transform(lambda x: None)(np.ones(2))
    with pytest.raises(TypeError, match="tuple"):
        transform(lambda x: (x.sum(), x.sum()))(np.ones(2))


def test_vjp_f_must_return_a_tensor():
    with pytest.raises(TypeError, match="vjp: expected f to return a Tensor"):
        vjp(lambda x: "nope", np.ones(2))


@pytest.mark.parametrize("transform", [grad, value_and_grad, jacobian])
@pytest.mark.parametrize("argnums", ["0", 1.0, True, [0, 1], (0, "1"), None])
def test_argnums_of_the_wrong_type(transform, argnums):
    with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
        transform(f_two, argnums=argnums)


@pytest.mark.parametrize("transform", [grad, value_and_grad, jacobian])
def test_argnums_out_of_range_empty_or_repeated(transform):
    x = np.ones(2)
    with pytest.raises(ValueError, match="non-empty"):
        transform(f_two, argnums=())
    with pytest.raises(TypeError, match="argnums=2 needs at least 3 positional arguments.*2"):
        transform(f_two, argnums=2)(x, x)
    with pytest.raises(TypeError, match="argnums=-3"):
        transform(f_two, argnums=(0, -3))(x, x)
    with pytest.raises(ValueError, match="unique"):
        transform(f_two, argnums=(1, -1))(x, x)


def test_non_real_arguments_are_refused():
    with pytest.raises(TypeError, match="real numbers.*argument 0.*complex"):
        grad(lambda x: x.sum())(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="real numbers.*argument 1"):
        vjp(lambda x, s: x, np.ones(2), "text")


def test_transformed_function_is_named_after_f():
    assert grad(f_scalar).__name__ == "f_scalar"
    assert "grad of f_scalar" in grad(f_scalar).__doc__
    assert jacobian(f_vec_vec).__qualname__ == "f_vec_vec"


def test_docstring_examples():
    result = doctest.testmod(functional, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0


# --------------------------------------------------------------------------- scipy


def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def test_value_and_grad_drives_scipy_bfgs_on_rosenbrock_10d():
    optimize = pytest.importorskip("scipy.optimize")
    # scipy's tutorial start, twice (from the classic (-1.2, 1, ...) BFGS rightly stops at the
    # 10-D function's other, local minimum near (-1, 1, ..., 1))
    x0 = np.tile([1.3, 0.7, 0.8, 1.9, 1.2], 2)
    fun = value_and_grad(rosenbrock)
    # the gradient first, against scipy's own closed form
    value, g = fun(x0)
    np.testing.assert_allclose(value, optimize.rosen(x0), rtol=1e-14)
    np.testing.assert_allclose(g, optimize.rosen_der(x0), rtol=1e-12)
    result = optimize.minimize(fun, x0, jac=True, method="BFGS", options={"gtol": 1e-8})
    assert result.success, result.message
    np.testing.assert_allclose(result.x, np.ones(10), atol=1e-6)
    assert result.fun < 1e-12
    np.testing.assert_allclose(result.jac, optimize.rosen_der(result.x), atol=1e-12)


# --------------------------------------------------------------------------- second order


def d2f_scalar(x: np.ndarray) -> np.ndarray:
    """The Hessian's diagonal of sum(sin(x) * x) (it is diagonal): 2 cos(x) - x sin(x)."""
    return 2 * np.cos(x) - x * np.sin(x)


def hessian_two(x: np.ndarray, y: np.ndarray) -> tuple[tuple[np.ndarray, ...], ...]:
    """f_two's Hessian blocks: Hxx = 0, Hxy = I + 2 e_0 y^T, Hyy = 2 x[0] I."""
    n = x.size
    hxy = np.eye(n)
    hxy[0] += 2 * y
    return (np.zeros((n, n)), hxy), (hxy.T, 2 * x[0] * np.eye(n))


def test_hvp_closed_form_and_types():
    x, v = RNG.standard_normal(5), RNG.standard_normal(5)
    hv = hvp(f_scalar)(x, v)
    assert isinstance(hv, np.ndarray) and hv.shape == (5,)
    np.testing.assert_allclose(hv, d2f_scalar(x) * v, rtol=1e-12)
    t = hvp(f_scalar)(tg.tensor(x), v)
    assert isinstance(t, tg.Tensor) and not t.requires_grad
    np.testing.assert_allclose(t.numpy(), d2f_scalar(x) * v, rtol=1e-12)


def test_hvp_tuple_argnums_blocks():
    x, y = RNG.standard_normal(3), RNG.standard_normal(3)
    vx, vy = RNG.standard_normal(3), RNG.standard_normal(3)
    (hxx, hxy), (hyx, hyy) = hessian_two(x, y)
    hx, hy = hvp(f_two, argnums=(0, 1))(x, y, (vx, vy))
    np.testing.assert_allclose(hx, hxx @ vx + hxy @ vy, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hy, hyx @ vx + hyy @ vy, rtol=1e-12)
    # one argument differentiated, the other a constant
    np.testing.assert_allclose(hvp(f_two, argnums=1)(x, y, vy), hyy @ vy, rtol=1e-12)


def test_hvp_float32_and_unused_argument_and_linear_function():
    x = np.array([0.5, -1.0], dtype=np.float32)
    hv = hvp(f_scalar)(x, np.ones(2, dtype=np.float32))
    assert hv.dtype == np.float32
    np.testing.assert_allclose(hv, d2f_scalar(x.astype(np.float64)), rtol=1e-6)
    # a linear function has a zero Hessian, an unused argument a zero block
    np.testing.assert_array_equal(hvp(lambda x: (3 * x).sum())(np.ones(3), np.ones(3)),
                                  np.zeros(3))
    np.testing.assert_array_equal(
        hvp(lambda x, y: (y ** 2).sum(), argnums=0)(np.ones(2), np.ones(3), np.ones(2)),
        np.zeros(2))


def test_hvp_errors():
    with pytest.raises(RuntimeError, match="one-element tensor"):
        hvp(lambda x: x ** 2)(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="shape"):
        hvp(f_scalar)(np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="tuple of tangents"):
        hvp(f_two, argnums=(0, 1))(np.ones(2), np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="argnums"):
        hvp(f_scalar, argnums="0")


def test_hessian_closed_form():
    x, y = RNG.standard_normal(4), RNG.standard_normal(4)
    np.testing.assert_allclose(hessian(f_scalar)(x), np.diag(d2f_scalar(x)), rtol=1e-12,
                               atol=1e-15)
    blocks = hessian(f_two, argnums=(0, 1))(x, y)
    for got_row, want_row in zip(blocks, hessian_two(x, y), strict=True):
        for got, want in zip(got_row, want_row, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    t = hessian(f_scalar)(tg.tensor(x))
    assert isinstance(t, tg.Tensor) and tuple(t.shape) == (4, 4)


def test_hessian_of_a_vector_output_against_finite_differences():
    """jax.hessian's shape for an output of shape S: S + A + A."""
    x = RNG.standard_normal(3)

    def f(x):
        return tg.stack([(x ** 3).sum(), (x[0] * x[1] * x[2]).sin()])

    h = hessian(f)(x)
    assert h.shape == (2, 3, 3)
    eps = 1e-5
    num = np.zeros((2, 3, 3))
    for j in range(3):
        step = np.zeros(3)
        step[j] = eps
        num[:, :, j] = (jacobian(f)(x + step) - jacobian(f)(x - step)) / (2 * eps)
    np.testing.assert_allclose(h, num, rtol=1e-6, atol=1e-8)


def test_hessian_drives_scipy_newton_on_rosenbrock():
    """scipy's closed forms are the oracle: rosen_hess and rosen_hess_prod."""
    optimize = pytest.importorskip("scipy.optimize")
    x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    np.testing.assert_allclose(hessian(rosenbrock)(x0), optimize.rosen_hess(x0), rtol=1e-12)
    v = RNG.standard_normal(5)
    np.testing.assert_allclose(hvp(rosenbrock)(x0, v), optimize.rosen_hess_prod(x0, v),
                               rtol=1e-12)
    result = optimize.minimize(rosenbrock, x0, jac=grad(rosenbrock), method="Newton-CG",
                               hessp=hvp(rosenbrock), options={"xtol": 1e-10})
    assert result.success, result.message
    np.testing.assert_allclose(result.x, np.ones(5), atol=1e-6)


def test_jvp_closed_form_and_types():
    x, y = RNG.standard_normal(3), RNG.standard_normal(3)
    tx, ty = RNG.standard_normal(3), RNG.standard_normal(3)
    out, tangent = jvp(lambda x, y: x.sin() * y, (x, y), (tx, ty))
    np.testing.assert_allclose(out, np.sin(x) * y, rtol=1e-14)
    np.testing.assert_allclose(tangent, np.cos(x) * y * tx + np.sin(x) * ty, rtol=1e-12)
    out, tangent = jvp(lambda x: x.exp(), [tg.tensor(x)], [tx])
    assert isinstance(out, tg.Tensor) and isinstance(tangent, tg.Tensor)
    assert not tangent.requires_grad
    np.testing.assert_allclose(tangent.numpy(), np.exp(x) * tx, rtol=1e-12)


def test_jvp_against_jacobian():
    A = RNG.standard_normal((4, 3))
    x, t = RNG.standard_normal(3), RNG.standard_normal(3)

    def f(x):
        return (tg.tensor(A) @ x).tanh()

    np.testing.assert_allclose(jvp(f, (x,), (t,))[1], jacobian(f)(x) @ t, rtol=1e-12)


def test_jvp_constant_output_and_errors():
    out, tangent = jvp(lambda x: tg.ones(2), (np.ones(3),), (np.ones(3),))
    np.testing.assert_array_equal(tangent, np.zeros(2))
    with pytest.raises(TypeError, match="tuples or lists"):
        jvp(f_scalar, np.ones(2), np.ones(2))
    with pytest.raises(TypeError, match="lengths"):
        jvp(f_two, (np.ones(2), np.ones(2)), (np.ones(2),))
    with pytest.raises(ValueError, match="shape"):
        jvp(f_scalar, (np.ones(2),), (np.ones(3),))


def test_second_order_inside_no_grad_and_exports():
    x = RNG.standard_normal(3)
    with tg.no_grad():
        np.testing.assert_allclose(hvp(f_scalar)(x, np.ones(3)), d2f_scalar(x), rtol=1e-12)
        np.testing.assert_allclose(jvp(lambda x: x * x, (x,), (np.ones(3),))[1], 2 * x)
    assert tg.hvp is hvp and tg.hessian is hessian and tg.jvp is jvp


def test_second_order_keeps_the_callers_graph():
    """f closes over a non-leaf of the caller's graph: hvp and jvp leave that graph usable."""
    w = tg.tensor(2.0, requires_grad=True)
    h = w * w.sin()
    hv = hvp(lambda x: x ** 3 * h)(1.5, 1.0)
    np.testing.assert_allclose(hv, 6 * 1.5 * h.item(), rtol=1e-14)
    _, t = jvp(lambda x: x ** 3 * h, (1.5,), (1.0,))
    np.testing.assert_allclose(t, 3 * 1.5 ** 2 * h.item(), rtol=1e-14)
    np.testing.assert_allclose(hessian(lambda x: x ** 3 * h)(1.5), 6 * 1.5 * h.item(),
                               rtol=1e-14)
    assert w.grad is None  # a closed-over leaf's .grad is not touched
    h.backward()
    np.testing.assert_allclose(w.grad.item(), np.sin(2.0) + 2.0 * np.cos(2.0), rtol=1e-14)
