"""Custom autograd Functions (issue 18): torch 2.13 is the oracle for values, gradients and
error messages.  Each test runs one program twice, with ``lib`` = torch and = tapegrad."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _torch_float64():
    """torch's default dtype as tapegrad's (float64), for this module's tests only."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def both(program):
    """``program(lib)`` run with torch and with tapegrad, its results as float64 arrays."""
    out = []
    for lib in (torch, tg):
        found = program(lib)
        out.append([None if v is None else np.asarray(v.detach().numpy() if hasattr(v, "detach")
                                                      else v, dtype=np.float64)
                    for v in found])
    return out


def assert_same(program, rtol=1e-12, atol=0.0):
    expected, got = both(program)
    assert len(expected) == len(got)
    for e, g in zip(expected, got, strict=True):
        if e is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)


def error_of(program, lib):
    with pytest.raises(Exception) as info:
        program(lib)
    return type(info.value), str(info.value)


def assert_same_error(program):
    expected = error_of(program, torch)
    assert error_of(program, tg) == expected


def legendre(lib):
    class LegendrePolynomial3(lib.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    return LegendrePolynomial3


def test_the_tutorials_legendre_polynomial_trains_as_torch():
    # https://pytorch.org/tutorials/beginner/examples_autograd/polynomial_custom_function.html
    def program(lib):
        dtype = lib.float64
        x = lib.linspace(-math.pi, math.pi, 2000, dtype=dtype)
        y = lib.sin(x)
        a = lib.full((), 0.0, dtype=dtype, requires_grad=True)
        b = lib.full((), -1.0, dtype=dtype, requires_grad=True)
        c = lib.full((), 0.0, dtype=dtype, requires_grad=True)
        d = lib.full((), 0.3, dtype=dtype, requires_grad=True)
        learning_rate = 5e-6
        losses = []
        P3 = legendre(lib).apply
        for _ in range(30):
            y_pred = a + b * P3(c + d * x)
            loss = (y_pred - y).pow(2).sum()
            losses.append(loss.item())
            loss.backward()
            with lib.no_grad():
                a -= learning_rate * a.grad
                b -= learning_rate * b.grad
                c -= learning_rate * c.grad
                d -= learning_rate * d.grad
                a.grad = None
                b.grad = None
                c.grad = None
                d.grad = None
        return [np.array(losses), a, b, c, d]

    # (c's value stays ~1e-20: a sum of 2000 terms that cancel, in either library's order)
    assert_same(program, rtol=1e-11, atol=1e-15)


def test_closed_form_and_node_name():
    P3 = legendre(tg)
    x = tg.tensor([-0.5, 0.25, 2.0], requires_grad=True)
    y = P3.apply(x)
    assert y.grad_fn.name() == "LegendrePolynomial3Backward"
    assert y.requires_grad and not y.is_leaf
    np.testing.assert_allclose(y.detach().numpy(), 0.5 * (5 * x.detach().numpy() ** 3 -
                                                          3 * x.detach().numpy()))
    y.backward(tg.tensor([1.0, 2.0, 3.0]))
    xv = np.array([-0.5, 0.25, 2.0])
    np.testing.assert_allclose(x.grad.numpy(),
                               np.array([1.0, 2.0, 3.0]) * 1.5 * (5 * xv ** 2 - 1))


def two_outputs(lib):
    class SumProd(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            ctx.save_for_backward(x, y)
            return x + y, x * y

        @staticmethod
        def backward(ctx, gs, gp):
            x, y = ctx.saved_tensors
            return gs + gp * y, gs + gp * x

    return SumProd


@pytest.mark.parametrize("use", ["both", "first", "second"])
def test_several_outputs(use):
    def program(lib):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        y = lib.tensor([0.5, 4.0, -1.0], requires_grad=True)
        s, p = two_outputs(lib).apply(x * 2, y)
        loss = {"both": (s * p).sum(), "first": (s ** 2).sum(), "second": p.exp().sum()}[use]
        loss.backward()
        return [s, p, x.grad, y.grad]

    assert_same(program)


def test_a_function_setup_context_and_non_tensor_arguments():
    def program(lib):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(x, k, label):
                return x * k

            @staticmethod
            def setup_context(ctx, inputs, output):
                _, k, label = inputs
                ctx.k, ctx.label = k, label

            @staticmethod
            def backward(ctx, g):
                assert ctx.label == "scale"
                return g * ctx.k, None, None

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        (Scale.apply(x, 3.5, "scale") ** 2).sum().backward()
        return [x.grad]

    assert_same(program)


def test_needs_input_grad():
    seen = {}

    def program(lib):
        class F(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y, k):
                return x * y * k

            @staticmethod
            def backward(ctx, g):
                seen[lib.__name__] = ctx.needs_input_grad
                return None, g * 2, None

        x = lib.tensor([1.0, 2.0])
        y = lib.tensor([3.0, 4.0], requires_grad=True)
        F.apply(x, y, 2).sum().backward()
        return [y.grad]

    assert_same(program)
    assert seen["tapegrad"] == seen["torch"] == (False, True, False)


def test_mark_non_differentiable():
    def program(lib):
        class MaxAndMask(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                mask = (x > 0).to(x.dtype)
                ctx.mark_non_differentiable(mask)
                ctx.save_for_backward(mask)
                return x * mask, mask

            @staticmethod
            def backward(ctx, g, g_mask):
                assert float(g_mask.abs().sum()) == 0.0  # (materialized zeros)
                (mask,) = ctx.saved_tensors
                return g * mask

        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        y, mask = MaxAndMask.apply(x)
        assert not mask.requires_grad and y.requires_grad
        (y * 3).sum().backward()
        return [y, mask, x.grad]

    assert_same(program)


def test_mark_dirty():
    def program(lib):
        class AddOne_(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.add_(1.0)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2  # (not the true derivative: shows this backward ran)

        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 3
        out = AddOne_.apply(x)
        assert out is x
        (out * a).sum().backward()
        return [out, a.grad]

    assert_same(program)


def test_mark_dirty_on_a_leaf_is_an_error():
    def program(lib):
        class AddOne_(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.add_(1.0)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g

        AddOne_.apply(lib.tensor([1.0], requires_grad=True))

    assert_same_error(program)


def test_mark_dirty_makes_records_that_read_the_old_value_stale():
    def program(lib):
        class Twice_(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                x.mul_(2.0)
                ctx.mark_dirty(x)
                return x

            @staticmethod
            def backward(ctx, g):
                return g * 2

        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 1.0
        w = x * a  # reads x's value for a's gradient
        Twice_.apply(x)
        (w + x).sum().backward()

    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        program(torch)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        program(tg)


def test_set_materialize_grads_false_passes_none():
    def program(lib):
        got = []

        class Split(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(False)
                return x * 2, x * 3

            @staticmethod
            def backward(ctx, g1, g2):
                got.append((g1 is None, g2 is None))
                total = None
                for g, k in ((g1, 2), (g2, 3)):
                    if g is not None:
                        total = g * k if total is None else total + g * k
                return total

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, b = Split.apply(x)
        b.sum().backward()
        return [x.grad, np.array(got[0], dtype=float)]

    assert_same(program)


def wrong_count(lib):
    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x = lib.ones(2, requires_grad=True)
    F.apply(x, x).sum().backward()


def wrong_shape(lib):
    class G(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return lib.ones(3)

    G.apply(lib.ones(2, requires_grad=True)).sum().backward()


def gradient_for_a_number(lib):
    class H(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, g

    H.apply(lib.ones(2, requires_grad=True), 2.0).sum().backward()


@pytest.mark.parametrize("program", [wrong_count, wrong_shape, gradient_for_a_number])
def test_torchs_errors_for_a_wrong_backward(program):
    assert_same_error(program)
    _, message = error_of(program, tg)
    assert message.startswith(("function FBackward returned an incorrect number of gradients "
                               "(expected 2, got 1)",
                               "Function GBackward returned an invalid gradient at index 0 - "
                               "got [3] but expected shape compatible with [2]",
                               "function HBackward returned a gradient different than None"))


def test_extra_none_gradients_are_allowed_and_a_broadcast_gradient_is_summed():
    def program(lib):
        class B(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return lib.ones(5, 2) * g, None, None

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        B.apply(x).sum().backward()
        return [x.grad]

    assert_same(program)


def test_a_second_backward_reads_freed_saved_tensors():
    def program(lib):
        P3 = legendre(lib)
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = P3.apply(x * 1.0).sum()
        y.backward()
        y.backward()

    assert_same_error(program)


def test_retain_graph_backwards_twice_and_without_saved_tensors_too():
    def program(lib):
        P3 = legendre(lib)

        class Double(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = P3.apply(x).sum()
        y.backward(retain_graph=True)
        y.backward()
        z = Double.apply(x).sum()
        z.backward()
        z.backward()  # (torch: nothing saved, nothing freed)
        return [x.grad]

    assert_same(program)


def test_an_input_used_twice_and_a_function_of_a_function():
    def program(lib):
        x = lib.tensor([0.5, -1.5], requires_grad=True)
        s, p = two_outputs(lib).apply(x, x)
        q = legendre(lib).apply(p)
        (q * s).sum().backward()
        return [x.grad]

    assert_same(program)


@pytest.mark.parametrize("n", [5, 70000])  # small tape: values read in place; large: packed
def test_between_ordinary_ops_in_a_larger_graph(n):
    rng = np.random.default_rng(3)
    data = rng.uniform(-1, 1, (3, n))

    def program(lib):
        w = lib.tensor(data[0], requires_grad=True)
        v = lib.tensor(data[1], requires_grad=True)
        h = (w * v).tanh() + w
        s, p = two_outputs(lib).apply(h, v.exp())
        q = legendre(lib).apply(s * 0.5)
        loss = (q * p).sum() + (s ** 2).mean() + (w * 2.0).sum()
        loss.backward()
        return [loss, w.grad, v.grad]

    assert_same(program, rtol=1e-10)


def test_a_large_matrix_product_around_a_function():
    rng = np.random.default_rng(4)
    A, B = rng.normal(size=(200, 200)), rng.normal(size=(200, 200))

    def program(lib):
        a = lib.tensor(A, requires_grad=True)
        b = lib.tensor(B, requires_grad=True)
        c = legendre(lib).apply((a @ b) * 0.01) @ b
        c.sum().backward()
        return [a.grad, b.grad]

    assert_same(program, rtol=1e-9)


def test_linked_tapes_a_function_output_used_after_a_backward():
    def program(lib):
        x = lib.tensor([0.3, -0.7], requires_grad=True)
        y = legendre(lib).apply(x * 2)
        (y * 2).sum().backward(retain_graph=True)
        first = x.grad.clone()
        (y * y).sum().backward()  # (y's tape was closed by the first backward)
        return [first, x.grad]

    assert_same(program)


def test_float32():
    def program(lib):
        x = lib.tensor([0.3, -0.7], dtype=lib.float32, requires_grad=True)
        y = legendre(lib).apply(x)
        y.sum().backward()
        assert y.dtype == x.grad.dtype == lib.float32
        return [y, x.grad]

    assert_same(program, rtol=1e-6)


def test_no_grad_records_nothing():
    with tg.no_grad():
        y = legendre(tg).apply(tg.tensor([1.0], requires_grad=True))
    assert y.grad_fn is None and not y.requires_grad
    y = legendre(tg).apply(tg.tensor([1.0]))
    assert y.grad_fn is None and not y.requires_grad


def test_once_differentiable_backward():
    from tapegrad.autograd.function import once_differentiable

    def program(lib):
        from torch.autograd.function import once_differentiable as torch_once

        decorate = torch_once if lib is torch else once_differentiable

        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 2

            @staticmethod
            @decorate
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                assert not lib.is_grad_enabled()
                return 2 * x * g

        x = lib.tensor([1.0, 3.0], requires_grad=True)
        Square.apply(x).sum().backward()
        return [x.grad]

    assert_same(program)


def test_a_backward_that_runs_a_backward_itself():
    """The user's backward may run a whole backward of its own (here: its gradient by
    autodiff): the outer sweep's buffers must not be reused meanwhile."""

    def program(lib):
        class ViaAutodiff(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x.sin() * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                with lib.enable_grad():
                    inner = x.detach().requires_grad_(True)
                    (inner.sin() * inner * g).sum().backward()
                return inner.grad

        x = lib.tensor([0.5, 1.0, -2.0], requires_grad=True)
        w = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        loss = (ViaAutodiff.apply(x * w) * w).sum()
        loss.backward()
        return [x.grad, w.grad]

    assert_same(program)


def test_compile_replays_a_function():  # (more in test_compile_functions.py)
    P3 = legendre(tg)
    tape = tg.compile(lambda x: P3.apply(x).sum(), np.array([1.0, 2.0]))
    x = np.array([0.5, -0.25])
    np.testing.assert_allclose(tape.gradient(x), 1.5 * (5 * x ** 2 - 1), rtol=1e-14)


def test_threads_run_their_own_functions():
    P3 = legendre(tg)
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(50):
                v = rng.uniform(-1, 1, 4)
                x = tg.tensor(v, requires_grad=True)
                (P3.apply(x) * 2).sum().backward()
                np.testing.assert_allclose(x.grad.numpy(), 3.0 * (5 * v ** 2 - 1))
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_custom_backward_differentiated_twice():
    """Under create_graph the custom backward is recorded, so it can be differentiated again:
    d2/dx2 of P3(x) is 15x."""
    x = tg.tensor([0.5, -1.0], requires_grad=True)
    (g,) = tg.autograd.grad(legendre(tg).apply(x), x, tg.ones(2), create_graph=True)
    assert g.grad_fn is not None
    np.testing.assert_allclose(g.detach().numpy(), 1.5 * (5 * np.array([0.5, -1.0]) ** 2 - 1))
    g.backward(tg.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), 15 * np.array([0.5, -1.0]))


def test_create_graph_through_functions_and_hooks_as_torch():
    def program(lib):
        x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        w = lib.tensor([1.5, 0.5, -0.25], requires_grad=True)
        s, p = two_outputs(lib).apply(x * w, x.sin())
        p.register_hook(lambda g: g * 2)
        q = legendre(lib).apply(s)
        gx, gw = lib.autograd.grad(q * p, (x, w), lib.ones(3), create_graph=True)
        (gx * gx).backward(lib.tensor([1.0, 2.0, 3.0]))  # (no sum: its graph rule is not here)
        return [gx, gw, x.grad, w.grad]

    assert_same(program)


def test_once_differentiable_under_create_graph():
    from tapegrad.autograd.function import once_differentiable

    def program(lib):
        from torch.autograd.function import once_differentiable as torch_once

        decorate = torch_once if lib is torch else once_differentiable

        class Square(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 2

            @staticmethod
            @decorate
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * x * g

        x = lib.tensor([1.0, 3.0], requires_grad=True)
        y = Square.apply(x * 1.0)
        (g,) = lib.autograd.grad(y, x, lib.ones(2, requires_grad=True), create_graph=True)
        assert g.requires_grad
        g.backward(lib.ones(2))

    assert_same_error(program)
