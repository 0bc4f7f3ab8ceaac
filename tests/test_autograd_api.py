"""tapegrad.autograd.grad / backward: torch's signatures, conventions and errors, and
higher-order gradients against closed forms and torch."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

import tapegrad as tg


def _raises(fn, kind, message):
    with pytest.raises(kind) as info:
        fn()
    assert str(info.value) == message


def test_signatures_are_torchs():
    torch = pytest.importorskip("torch")
    for name in ("grad", "backward"):
        ours = inspect.signature(getattr(tg.autograd, name)).parameters
        theirs = inspect.signature(getattr(torch.autograd, name)).parameters
        assert list(ours) == list(theirs), name
        for p in theirs:
            assert ours[p].default == theirs[p].default, (name, p)
    ours = inspect.signature(tg.Tensor.backward).parameters
    theirs = inspect.signature(torch.Tensor.backward).parameters
    assert list(ours) == list(theirs)


def test_third_derivative_of_a_power():
    x = tg.tensor(1.5, requires_grad=True)
    y = x ** 4
    (d1,) = tg.autograd.grad(y, x, create_graph=True)
    (d2,) = tg.autograd.grad(d1, x, create_graph=True)
    (d3,) = tg.autograd.grad(d2, x)
    assert d1.item() == pytest.approx(4 * 1.5 ** 3)
    assert d2.item() == pytest.approx(12 * 1.5 ** 2)
    assert d3.item() == pytest.approx(24 * 1.5)
    assert x.grad is None  # autograd.grad never touches .grad


def test_grad_never_touches_dot_grad_and_frees_the_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    (g,) = tg.autograd.grad(y, x, tg.ones(2))
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])
    assert x.grad is None and not g.requires_grad
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second"):
        tg.autograd.grad(y, x, tg.ones(2))


def test_retain_graph_allows_a_second_grad():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    first = tg.autograd.grad(y, x, tg.ones(2), retain_graph=True)
    second = tg.autograd.grad(y, x, tg.ones(2))
    np.testing.assert_array_equal(first[0].numpy(), second[0].numpy())


def test_errors_in_torchs_words():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    unused = tg.tensor(1.0, requires_grad=True)
    y = x * 3.0
    _raises(lambda: tg.autograd.grad(y, x), RuntimeError,
            "grad can be implicitly created only for scalar outputs")
    _raises(lambda: tg.autograd.grad(y, [x, unused], tg.ones(2), retain_graph=True),
            RuntimeError, "The differentiated Tensor at index 1 appears to not have been used "
            "in the graph. Set allow_unused=True if this is the desired behavior.")
    _raises(lambda: tg.autograd.grad(x.detach(), x), RuntimeError,
            "element 0 of tensors does not require grad and does not have a grad_fn")
    _raises(lambda: tg.autograd.grad(y, x.detach(), tg.ones(2)), RuntimeError,
            "One of the differentiated Tensors does not require grad")
    _raises(lambda: tg.autograd.grad(y, x, tg.ones(3)), RuntimeError,
            "Mismatch in shape: grad_output[0] has a shape of tapegrad.Size([3]) and output[0] "
            "has a shape of tapegrad.Size([2]).")
    _raises(lambda: tg.autograd.grad(y, x, tg.ones(2), materialize_grads=True,
                                     allow_unused=False), ValueError,
            "Expected allow_unused to be True or not passed when materialize_grads=True, but "
            "got: allow_unused=False.")
    _raises(lambda: tg.autograd.grad([y, y], x, [tg.ones(2)]), RuntimeError,
            "got 2 tensors and 1 gradients")
    _raises(lambda: tg.autograd.grad(y, []), RuntimeError,
            "`inputs` argument to `grad()` cannot be empty.")


def test_allow_unused_and_materialize_grads():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    unused = tg.tensor([5.0, 6.0, 7.0], requires_grad=True)
    y = x * x
    g = tg.autograd.grad(y, [x, unused], tg.ones(2), allow_unused=True, retain_graph=True)
    assert g[1] is None
    g = tg.autograd.grad(y, [x, unused], tg.ones(2), materialize_grads=True)
    np.testing.assert_array_equal(g[1].numpy(), np.zeros(3))


def test_grad_of_a_leaf_is_its_grad_output_and_non_leaf_inputs():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.autograd.grad(x, x, tg.tensor([3.0, 4.0]))
    np.testing.assert_array_equal(g.numpy(), [3.0, 4.0])
    h = x.exp()
    y = h * h
    gh, gx = tg.autograd.grad(y, [h, x], tg.ones(2))
    np.testing.assert_allclose(gh.numpy(), 2 * np.exp([1.0, 2.0]))
    np.testing.assert_allclose(gx.numpy(), 2 * np.exp([2.0, 4.0]))


def test_several_outputs_sum_their_gradients():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    a, b = x * x, x.sin()
    (g,) = tg.autograd.grad([a, b], x, [tg.ones(2), tg.tensor([2.0, 2.0])])
    np.testing.assert_allclose(g.numpy(), 2 * np.array([1.0, 2.0]) + 2 * np.cos([1.0, 2.0]))


def test_backward_create_graph_makes_dot_grad_a_graph():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).backward(tg.ones(2), create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.detach().numpy(), [3.0, 12.0])
    g = x.grad
    x.grad = None
    g.backward(tg.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 12.0])


def test_backward_inputs_accumulates_only_there():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    w = tg.tensor([3.0, 4.0], requires_grad=True)
    (x * w).backward(tg.ones(2), inputs=[w])
    assert x.grad is None
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 2.0])
    tg.autograd.backward([x * w], [tg.ones(2)], inputs=x)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 2.0])


def test_autograd_backward_of_several_tensors():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    tg.autograd.backward([x * x, x * 3.0], [tg.ones(2), tg.ones(2)])
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 7.0])


def test_grad_outputs_that_require_grad_are_part_of_the_graph():
    x = tg.tensor([0.5, 1.5], requires_grad=True)
    v = tg.tensor([2.0, -1.0], requires_grad=True)
    (g,) = tg.autograd.grad(x.sin(), x, v, create_graph=True)  # v * cos(x)
    gx, gv = tg.autograd.grad(g, [x, v], tg.ones(2))
    np.testing.assert_allclose(gv.numpy(), np.cos([0.5, 1.5]))
    np.testing.assert_allclose(gx.numpy(), -np.array([2.0, -1.0]) * np.sin([0.5, 1.5]))


def test_float32_gradients_stay_float32():
    x = tg.tensor([0.5, 1.5], dtype=tg.float32, requires_grad=True)
    (g,) = tg.autograd.grad(x.exp(), x, tg.ones(2, dtype=tg.float32), create_graph=True)
    assert g.dtype == tg.float32
    (h,) = tg.autograd.grad(g, x, tg.ones(2, dtype=tg.float32))
    assert h.dtype == tg.float32
    np.testing.assert_allclose(h.numpy(), np.exp([0.5, 1.5]), rtol=1e-6)


def test_through_a_closed_tape():
    x = tg.tensor([0.5, 1.5], requires_grad=True)
    h = x.exp()
    (h * 2.0).backward(tg.ones(2), retain_graph=True)  # closes h's tape
    y = h * x  # on a new tape, linked to h's
    (g,) = tg.autograd.grad(y, x, tg.ones(2), create_graph=True)  # e^x x + e^x
    (h2,) = tg.autograd.grad(g, x, tg.ones(2))
    xv = np.array([0.5, 1.5])
    np.testing.assert_allclose(g.detach().numpy(), np.exp(xv) * (xv + 1))
    np.testing.assert_allclose(h2.numpy(), np.exp(xv) * (xv + 2))


def test_compile_replays_a_gradient_recorded_inside():
    def first_derivative(x):
        (g,) = tg.autograd.grad((x ** 3).sin(), x, tg.ones(3), create_graph=True)
        return g

    x0 = np.array([0.3, -0.5, 1.2])
    tape = tg.compile(first_derivative, x0)
    for x in (x0, np.array([1.0, 2.0, -0.1])):
        np.testing.assert_allclose(tape(x), 3 * x ** 2 * np.cos(x ** 3), rtol=1e-13)
        v = np.array([1.0, 0.5, 2.0])
        second = 6 * x * np.cos(x ** 3) - 9 * x ** 4 * np.sin(x ** 3)
        np.testing.assert_allclose(tape.vjp(x, v), v * second, rtol=1e-12)


def test_compile_replays_a_gradient_taken_without_create_graph_inside():
    def value_plus_gradient(x):
        (g,) = tg.autograd.grad(x.exp(), x, tg.ones(2))
        return x * g

    tape = tg.compile(value_plus_gradient, np.array([0.1, 0.2]))
    x = np.array([1.0, -1.0])
    np.testing.assert_allclose(tape(x), x * np.exp(x), rtol=1e-13)
    # the inner gradient passes no gradient back, as outside compile
    np.testing.assert_allclose(tape.vjp(x, np.ones(2)), np.exp(x), rtol=1e-13)


def test_black_scholes_greeks():
    """The torch docs' use: delta and gamma of a call price by autograd.grad(create_graph)."""
    def call_price(spot, strike, vol, rate, t):
        def cdf(z):
            return 0.5 * (1.0 + (z / math.sqrt(2.0)).erf())

        d1 = ((spot / strike).log() + (rate + 0.5 * vol * vol) * t) / (vol * math.sqrt(t))
        d2 = d1 - vol * math.sqrt(t)
        return spot * cdf(d1) - strike * math.exp(-rate * t) * cdf(d2)

    spot = tg.tensor(100.0, requires_grad=True)
    price = call_price(spot, 95.0, tg.tensor(0.2), 0.01, 0.5)
    (delta,) = tg.autograd.grad(price, spot, create_graph=True)
    (gamma,) = tg.autograd.grad(delta, spot)
    d1 = (math.log(100 / 95) + (0.01 + 0.02) * 0.5) / (0.2 * math.sqrt(0.5))
    assert delta.item() == pytest.approx(0.5 * (1 + math.erf(d1 / math.sqrt(2))), rel=1e-12)
    pdf = math.exp(-d1 * d1 / 2) / math.sqrt(2 * math.pi)
    assert gamma.item() == pytest.approx(pdf / (100 * 0.2 * math.sqrt(0.5)), rel=1e-10)


def test_against_torch_on_a_mixed_graph():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    xv, wv, u = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(4, 2))

    def f(lib, x, w):
        h = (x @ w).tanh() * x[:, :2].exp()
        return (h * h).sum() + (x.sin() ** 2).mean()

    results = []
    for lib, make in ((tg, tg.tensor), (torch, torch.tensor)):
        x, w = make(xv, requires_grad=True), make(wv, requires_grad=True)
        gx, gw = lib.autograd.grad(f(lib, x, w), [x, w], create_graph=True)
        hx, hw = lib.autograd.grad((gx ** 2).sum() + (gw * make(u)).sum(), [x, w])
        results.append([t.detach().numpy() for t in (gx, gw, hx, hw)])
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_one_element_values_keep_their_shapes(shape):
    x = tg.tensor(np.full(shape, 0.7), requires_grad=True)
    h = (x * 2.0).sin()  # a one-element intermediate
    y = h * h * x
    gh, gx = tg.autograd.grad(y, [h, x], create_graph=True)
    assert gh.shape == shape and gx.shape == shape
    (second,) = tg.autograd.grad(gx, x)
    assert second.shape == shape
    # y = sin(2x)^2 x: y' = 2 sin(2x) cos(2x) 2 x + sin(2x)^2 = 2 x sin(4x) + sin(2x)^2
    xv = 0.7
    assert gx.item() == pytest.approx(2 * xv * math.sin(4 * xv) + math.sin(2 * xv) ** 2)
    assert second.item() == pytest.approx(2 * math.sin(4 * xv) + 8 * xv * math.cos(4 * xv)
                                          + 2 * math.sin(4 * xv))


def test_variable_is_a_tensor_as_in_torch():
    x = tg.ones(2)
    v = tg.autograd.Variable(x, requires_grad=True)
    assert v is not x and v.requires_grad and v.is_leaf and not x.requires_grad
    assert isinstance(x * 2, tg.autograd.Variable)
    v.data[0] = 5.0  # (shares x's storage)
    assert x[0].item() == 5.0


def test_several_outputs_on_linked_tapes_take_one_numba_sweep_each():
    x = tg.tensor([0.5, 1.5], requires_grad=True)
    h = x.exp()
    (h * 1.0).backward(tg.ones(2), retain_graph=True)  # closes h's tape
    a = h * x  # on a new tape, linked to h's
    b = h.sin()  # (the same new tape)
    c = x * 3.0
    grads = tg.autograd.grad([a, b, c, a], x, [tg.ones(2)] * 4, retain_graph=True)
    xv = np.array([0.5, 1.5])
    want = 2 * np.exp(xv) * (xv + 1) + np.cos(np.exp(xv)) * np.exp(xv) + 3.0
    np.testing.assert_allclose(grads[0].numpy(), want, rtol=1e-14)
    (recorded,) = tg.autograd.grad([h * x, h.sin(), x * 3.0, h * x], x, [tg.ones(2)] * 4,
                                   create_graph=True)
    np.testing.assert_allclose(recorded.detach().numpy(), want, rtol=1e-14)
