"""Tensor hooks (issue 18): register_hook on leaves and non-leaves, handles, post-accumulate
hooks, retain_grad; torch 2.13 is the oracle.  Programs run twice, ``lib`` = torch / tapegrad."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _torch_float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def _arrays(found):
    return [None if v is None else np.asarray(v.detach().numpy() if hasattr(v, "detach") else v,
                                              dtype=np.float64) for v in found]


def assert_same(program, rtol=1e-12):
    expected, got = _arrays(program(torch)), _arrays(program(tg))
    assert len(expected) == len(got)
    for e, g in zip(expected, got, strict=True):
        if e is None:
            assert g is None
        else:
            assert e.shape == g.shape
            np.testing.assert_allclose(g, e, rtol=rtol)


def test_the_tutorials_leaf_hook_doubles_the_gradient():
    def program(lib):
        seen = []
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x.register_hook(lambda g: seen.append(g.clone()))
        h = x.register_hook(lambda g: g * 2)
        (x * x).sum().backward()
        first = x.grad.clone()
        h.remove()
        x.grad = None
        (x * x).sum().backward()
        return [seen[0], first, seen[1], x.grad]

    assert_same(program)


def test_a_non_leaf_hook_replaces_the_gradient_passed_on():
    def program(lib):
        seen = []
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        y = x.exp()
        z = y * 3
        y.register_hook(lambda g: seen.append(g.clone()) or g + 1)
        z.register_hook(lambda g: g * 10)
        (z * z).sum().backward()
        return [seen[0], x.grad]

    assert_same(program)


def test_hooks_run_in_order_each_on_the_last_result():
    def program(lib):
        order = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: order.append(("a", g.clone())) or g * 3)
        y.register_hook(lambda g: order.append(("b", g.clone())) or g + 1)
        x.register_hook(lambda g: order.append(("c", g.clone())))
        y.sum().backward()
        assert [name for name, _ in order] == ["a", "b", "c"]
        return [g for _, g in order] + [x.grad]

    assert_same(program)


def test_a_tensor_used_twice_gets_one_call_with_the_sum():
    def program(lib):
        calls = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.register_hook(lambda g: calls.append(g.clone()))
        x.register_hook(lambda g: calls.append(g.clone()))
        (y * y + y.sin()).sum().backward()
        assert len(calls) == 2
        return calls + [x.grad]

    assert_same(program)


def test_handle_remove_and_context_manager():
    x = tg.tensor([1.0], requires_grad=True)
    y = x * 2
    with y.register_hook(lambda g: g * 100):
        pass
    h = y.register_hook(lambda g: g * 5)
    h.remove()
    h.remove()  # (twice: nothing)
    y.sum().backward()
    assert x.grad.tolist() == [2.0]


def test_post_accumulate_grad_hook():
    def program(lib):
        seen = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(lambda g: g * 2)
        x.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.clone()))
        (x * 3).sum().backward()
        (x * x).sum().backward()
        return seen + [x.grad]

    assert_same(program)


def test_retain_grad_twice_gives_the_gradient_once():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.retain_grad()
        (y * y).sum().backward()
        return [y.grad, x.grad]

    assert_same(program)


def test_retained_gradient_is_the_hooks_result():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g * 7)
        (y * y).sum().backward()
        return [y.grad, x.grad]

    assert_same(program)


def test_hooks_run_again_in_a_second_backward_with_retain_graph():
    def program(lib):
        calls = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x.tanh()
        y.register_hook(lambda g: calls.append(g.clone()) or g * 2)
        loss = (y * y).sum()
        loss.backward(retain_graph=True)
        loss.backward()
        assert len(calls) == 2
        return calls + [x.grad]

    assert_same(program)


def test_a_hook_on_the_output_gets_the_seed():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        seen = []
        y.register_hook(lambda g: seen.append(g.clone()) or g * 3)
        y.backward(lib.tensor([1.0, -1.0]))
        return seen + [x.grad]

    assert_same(program)


@pytest.mark.parametrize("n", [3, 70000])  # small tape: values read in place; large: packed
def test_hooks_in_a_larger_graph(n):
    data = np.random.default_rng(5).uniform(-1, 1, (2, n))

    def program(lib):
        sums = []
        w = lib.tensor(data[0], requires_grad=True)
        v = lib.tensor(data[1], requires_grad=True)
        h = (w * v).tanh()
        h.register_hook(lambda g: sums.append(float(g.sum())) or g * 0.5)
        u = h.exp() + w
        u.register_hook(lambda g: g - 1)
        w.register_hook(lambda g: g * 3)
        ((u * v).sum() + (h ** 2).mean()).backward()
        return [np.array(sums), w.grad, v.grad]

    assert_same(program, rtol=1e-10)


def test_hooks_on_a_functions_outputs():
    def program(lib):
        class SumProd(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                ctx.save_for_backward(x, y)
                return x + y, x * y

            @staticmethod
            def backward(ctx, gs, gp):
                x, y = ctx.saved_tensors
                return gs + gp * y, gs + gp * x

        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = lib.tensor([3.0, -1.0], requires_grad=True)
        s, p = SumProd.apply(x, y)
        s.register_hook(lambda g: g * 2)
        p.register_hook(lambda g: g + 10)
        (s * p).sum().backward()
        return [x.grad, y.grad]

    assert_same(program)


def test_float32_hooks_see_float32():
    def program(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float32, requires_grad=True)
        y = x * 2
        dtypes = []
        y.register_hook(lambda g: dtypes.append(g.dtype))
        x.register_hook(lambda g: dtypes.append(g.dtype))
        y.sum().backward()
        assert dtypes == [lib.float32, lib.float32]
        return [x.grad]

    assert_same(program)


def test_errors():
    for lib in (torch, tg):
        z = lib.tensor([1.0, 2.0], requires_grad=True)
        z.register_hook(lambda g, lib=lib: lib.ones(3))
        with pytest.raises(RuntimeError, match="hook '<lambda>' has changed the size of value"):
            (z * 2).sum().backward()
        w = lib.tensor([1.0, 2.0])
        with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't "
                                               "require gradient"):
            w.register_hook(print)
        with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered "
                                               "on non-leaf tensors"):
            (w * z).register_post_accumulate_grad_hook(print)


@pytest.mark.parametrize("where", ["leaf", "non-leaf"])
def test_a_hook_may_not_change_the_dtype_or_return_a_non_tensor(where):
    # torch refuses both (a cast would hand the sweep a gradient of the wrong dtype silently)
    for lib, prefix in ((torch, "torch"), (tg, "tapegrad")):
        for hook, error, message in (
                (lambda g: g.float(), RuntimeError,
                 f"hook '<lambda>' has changed the type of value (was {prefix}.DoubleTensor got "
                 f"{prefix}.FloatTensor)"),
                (lambda g: 3, TypeError, "expected Variable, but hook returned 'int'")):
            x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
            y = x * 2
            (x if where == "leaf" else y).register_hook(hook)
            with pytest.raises(error) as info:
                (y * 3).sum().backward()
            assert str(info.value) == message


def test_a_hook_that_runs_a_backward_itself():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        other = lib.tensor([3.0], requires_grad=True)

        def hook(g):
            with lib.enable_grad():  # a whole backward inside the outer one
                (other * g.sum()).sum().backward()
            return g * 2

        y = (x * x).exp()
        y.register_hook(hook)
        (y * x).sum().backward()
        return [x.grad, other.grad]

    assert_same(program)


def test_compile_refuses_hooks():
    def f(x):
        y = x * 2
        y.register_hook(lambda g: g)
        return y.sum()

    with pytest.raises(NotImplementedError, match="hooks"):
        tg.compile(f, np.array([1.0, 2.0]))


def test_two_threads_hooks_do_not_mix():
    errors = []
    barrier = threading.Barrier(2)

    def work(k):
        try:
            barrier.wait()
            for i in range(200):
                seen = []
                x = tg.tensor([float(k), float(i)], requires_grad=True)
                y = x * (k + 1)
                y.register_hook(lambda g, k=k, seen=seen: seen.append(("y", k, g.tolist())) or
                                g * (k + 2))
                x.register_hook(lambda g, k=k, seen=seen: seen.append(("x", k, g.tolist())))
                (y * 1.0).sum().backward()
                assert seen == [("y", k, [1.0, 1.0]),
                                ("x", k, [float((k + 1) * (k + 2))] * 2)], seen
                assert x.grad.tolist() == [float((k + 1) * (k + 2))] * 2
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_the_python_sweep_interface():
    """What the create_graph sweep calls (autograd/graph.py)."""
    from tapegrad import hooks

    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert not hooks.has_slot_hooks(y._tape)
    y.register_hook(lambda g: g * 3)
    x.register_hook(lambda g: g + 1)
    x.register_post_accumulate_grad_hook(lambda t: seen.append(t))
    seen = []
    assert hooks.has_slot_hooks(y._tape)
    g = hooks.run_slot_hooks(y._tape, y._slot, tg.tensor([1.0, 1.0]))
    assert g.tolist() == [3.0, 3.0]
    assert hooks.run_leaf_hooks(x, g).tolist() == [4.0, 4.0]
    hooks.run_post_accumulate_hooks(x)
    assert seen == [x]


def test_a_leaf_on_linked_tapes_gets_one_call_with_the_sum():
    """``y``'s tape is closed by the first backward, so ``z`` is recorded on a new tape that
    links to it; ``x`` is read on both: its hook still sees its whole gradient, once."""

    def program(lib):
        calls = []
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        y = x * x
        y.sum().backward(retain_graph=True)
        x.grad = None
        x.register_hook(lambda g: calls.append(g.clone()) or g.clamp(-3.0, 3.0))
        x.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.clone()))
        z = (y * x).sum()
        z.backward(retain_graph=True)
        assert len(calls) == 2
        (g,) = lib.autograd.grad(z, x)
        return calls + [x.grad, g]

    assert_same(program)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_hooks_under_create_graph():
    def program(lib):
        calls = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        y.register_hook(lambda g: g * 3)
        x.register_hook(lambda g: calls.append(g.detach().clone()) or g + 1)
        x.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.detach().clone()))
        y.backward(lib.ones(2), create_graph=True)
        assert x.grad.requires_grad
        (g,) = lib.autograd.grad(y, x, lib.ones(2), create_graph=True)
        return calls + [x.grad, g]

    assert_same(program)


def test_a_hook_that_changes_the_gradient_in_place():
    def program(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 3
        def double(g):
            g.mul_(2)  # (returns None: the gradient itself was changed)

        def add_one(g):
            g.add_(1)

        y.register_hook(double)
        x.register_hook(add_one)
        (y * y).sum().backward()
        return [x.grad]

    assert_same(program)
