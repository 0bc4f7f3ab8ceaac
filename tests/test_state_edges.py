"""Values replaced or changed behind the tape's back, and what the tape keeps (issue 15: items
6, 7, 8, 10, 13, 19, 20).  torch is the oracle: the same program runs on both libraries and
values, gradients and errors are compared, for float64 and float32, 0-d, (1,) and larger shapes.
"""

from __future__ import annotations

import gc
import tracemalloc
import warnings

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

SHAPES = [(), (1,), (3,)]
DTYPES = ["float64", "float32"]


def _start(m, shape, dtype, offset=1.0):
    values = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) + offset
    return m.tensor(values, dtype=getattr(m, dtype), requires_grad=True)


def _same(a, b, rtol=1e-6):
    """tapegrad's tensor (or None) against torch's."""
    if b is None:
        assert a is None
        return
    assert a is not None
    a_np = np.asarray(a.detach().numpy(), dtype=np.float64)
    b_np = b.detach().numpy().astype(np.float64)
    assert a_np.shape == b_np.shape
    np.testing.assert_allclose(a_np, b_np, rtol=rtol, atol=1e-6)


def _both(program, *args):
    """``program(m, ...)`` for m = tapegrad, torch; its results compared one by one."""
    mine, theirs = program(tg, *args), program(torch, *args)
    for a, b in zip(mine, theirs, strict=True):
        _same(a, b)


def _numpy_of(t):
    """The storage of ``t`` through NumPy (torch needs a detach first, as tapegrad does)."""
    return t.detach().numpy()


# ---------------------------------------------------------------- item 6: the .data setter


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_data_setter_on_leaf_reaches_the_next_graph(shape, dtype):
    def program(m, shape, dtype):
        x = _start(m, shape, dtype)
        first = (x * x).sum()  # a graph on the open tape that stays alive
        x.data = m.tensor(np.full(shape, 3.0) + np.arange(int(np.prod(shape))).reshape(shape),
                          dtype=getattr(m, dtype))
        (x * x).sum().backward()
        new = x.grad.clone()
        x.grad = None
        first.backward()  # the first graph saved the old value
        return new, x.grad

    _both(program, shape, dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_data_setter_on_non_leaf(shape, dtype):
    def program(m, shape, dtype):
        x = _start(m, shape, dtype)
        y = x * 2
        kept = (y * y).sum()  # saved y's old value
        y.data = m.tensor(np.full(shape, 5.0), dtype=getattr(m, dtype))
        (y * x).sum().backward(retain_graph=True)
        after = x.grad.clone()
        x.grad = None
        kept.backward()
        return after, x.grad, y

    _both(program, shape, dtype)


@pytest.mark.parametrize("shape", SHAPES)
def test_data_setter_on_a_value_its_own_backward_reads(shape):
    def program(m, shape):
        x = _start(m, shape, "float64")
        y = x.exp()  # ExpBackward0 saves its output: torch keeps the old storage for it
        y.data = m.tensor(np.full(shape, 5.0), dtype=m.float64)
        (y * x).sum().backward()
        return x.grad, y

    _both(program, shape)


def test_data_setter_of_another_shape_on_non_leaf_is_refused():
    x = tg.ones(2, requires_grad=True)
    y = x * 2
    with pytest.raises(NotImplementedError, match="shape"):
        y.data = tg.ones(3)


@pytest.mark.parametrize("shape", SHAPES)
def test_detach_in_place_of_a_registered_leaf(shape):
    def program(m, shape):
        x = _start(m, shape, "float64")
        w = _start(m, shape, "float64", 2.0)
        alive = (x * w).sum()  # x is an input of the open tape
        x.detach_()
        (x * w).sum().backward()
        return x.grad, w.grad, alive

    _both(program, shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_detach_in_place_of_another_tapes_value(shape):
    def program(m, shape):
        x = _start(m, shape, "float64")
        y = x * 3
        y.sum().backward(retain_graph=True)  # y's tape is closed: later ops link to it
        x.grad = None
        w = _start(m, shape, "float64", 2.0)
        (y * w).sum()  # y registered on the open tape as a link
        y.detach_()
        (y * w).sum().backward()
        return x.grad, w.grad

    _both(program, shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_requires_grad_toggled_between_graphs(shape):
    def program(m, shape):
        x = _start(m, shape, "float64")
        w = _start(m, shape, "float64", 2.0)
        alive = (x * w).sum()
        x.requires_grad_(False)
        (x * w).sum().backward()
        return x.grad, w.grad, alive

    _both(program, shape)


# ---------------------------------------------------------------- items 7, 8: fill_ and zero_


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["fill_", "zero_"])
def test_fill_of_a_non_leaf(shape, dtype, method):
    def program(m, shape, dtype, method):
        x = _start(m, shape, dtype)
        y = x * 2
        getattr(y, method)(*((5.0,) if method == "fill_" else ()))
        z = (y * x + y.exp()).sum()
        z.backward()
        return x.grad, y, z

    _both(program, shape, dtype, method)


def test_fill_grad_fn_names_and_nan_input():
    x = tg.tensor([np.inf, np.nan, 1.0], requires_grad=True)
    y = x * 1
    y.fill_(2.0)
    assert y.grad_fn.name() == "FillBackward2"
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
    assert (x * 1).zero_().grad_fn.name() == "ZeroBackward0"


def _filled(x):
    y = x * 3
    y.fill_(2.0)
    z = x.exp() * 2
    z.zero_()
    return (y * x + z * x + y).sum()


def _filled_torch(x):
    y = x * 3
    y.fill_(2.0)
    z = x.exp() * 2
    z.zero_()
    return (y * x + z * x + y).sum()


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("route", ["fused", "interpreter"])
def test_fill_in_compiled_replay(shape, dtype, route):
    arg = (np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape) + 1.5).astype(dtype)
    tape = tg.compile(_filled, arg)
    if route == "interpreter":
        tape._fused = None
    for probe in (arg, (arg * -2.0 + 0.25).astype(dtype), np.full(shape, np.inf, dtype)):
        t = torch.tensor(probe.astype(np.float64), requires_grad=True)
        expected = _filled_torch(t)
        expected.backward()
        value, grad = tape.value_and_gradient(probe)
        np.testing.assert_allclose(float(value), expected.item(), rtol=1e-6)
        np.testing.assert_allclose(np.asarray(grad, np.float64), t.grad.numpy(), rtol=1e-6)


# ---------------------------------------------------------------- item 10: retain_grad


@pytest.mark.parametrize("shape", SHAPES)
def test_retain_grad_twice(shape):
    def program(m, shape):
        x = _start(m, shape, "float64")
        y = x * 2
        y.retain_grad()
        y.retain_grad()
        (y * y).sum().backward()
        return y.grad, x.grad

    _both(program, shape)


# ---------------------------------------------------------------- item 13: shared storage


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("through", ["detach", "data"])
def test_change_through_numpy_after_recording(shape, dtype, through):
    def program(m, shape, dtype, through):
        x = _start(m, shape, dtype)
        y = x * 2
        z = (y * x).sum()  # mul's VJP for x reads y
        storage = _numpy_of(y) if through == "detach" else y.data.numpy()
        storage[...] = 5.0
        z.backward()
        return x.grad, y

    _both(program, shape, dtype, through)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_change_through_numpy_of_an_in_place_result(shape, dtype):
    def program(m, shape, dtype):
        x = _start(m, shape, dtype)
        y = x * 2
        y += 1
        z = (y * x).sum()
        _numpy_of(y)[...] = 7.0
        z.backward()
        return x.grad, y

    _both(program, shape, dtype)


@pytest.mark.parametrize("shape", [(1,), (1, 1)])
def test_change_of_a_one_element_value_read_first(shape):
    def program(m, shape):
        x = _start(m, shape, "float64")
        y = x * 2
        assert tuple(y.shape) == shape  # its array made by a read, before it is shared
        z = (y * x).sum()
        _numpy_of(y)[...] = 5.0
        z.backward()
        return (x.grad,)

    _both(program, shape)


# ---------------------------------------------------------------- item 19: .item() in compile


def _scaled(x):
    return (x * x.sum().item()).sum()


def test_item_in_compile_caps_the_variants():
    tape = tg.compile(_scaled, np.array([1.0, 2.0]))
    limit = tape.max_variants
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(3 * limit):
            x = np.array([1.0, 2.0 + k])
            np.testing.assert_allclose(tape.gradient(x), np.full_like(x, x.sum()))
    assert len(tape._variants) <= limit
    assert sum("variants" in str(w.message) for w in caught) == 1


def test_item_in_compile_finds_its_variant_without_replaying_all(monkeypatch):
    tape = tg.compile(_scaled, np.array([1.0, 2.0]))
    probes = [np.array([1.0, 2.0 + k]) for k in range(5)]
    for x in probes:
        tape.gradient(x)
    runs = []
    real = type(tape._variants[0]).run

    def counted(self, args, seeds):
        runs.append(self)
        return real(self, args, seeds)

    monkeypatch.setattr(type(tape._variants[0]), "run", counted)
    for x in probes:
        runs.clear()
        np.testing.assert_allclose(tape.gradient(x), np.full_like(x, x.sum()))
        assert len(runs) <= 2
    assert tape.retapes == len(probes) - 1


def test_item_in_compile_raise_mode_still_raises():
    tape = tg.compile(_scaled, np.array([1.0, 2.0]), on_guard="raise")
    with pytest.raises(tg.GuardError):
        tape.gradient(np.array([1.0, 3.0]))


# ---------------------------------------------------------------- item 20: memory after backward


def _held_by(build, n):
    """Bytes that the tensor returned by ``build()`` keeps alive after its backward: traced
    memory with it, minus traced memory once it is dropped."""
    gc.collect()
    tracemalloc.start()
    try:
        loss = build()
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0]
        del loss
        gc.collect()
        dropped = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return kept - dropped


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [200_000, 2_000])
def test_kept_loss_frees_saved_values(dtype, n):
    x = tg.tensor(np.linspace(-1, 1, n), dtype=getattr(tg, dtype), requires_grad=True)

    def build():
        h = (x * 2).tanh()
        h = (h * x).exp() * h
        loss = (h * h).sum()
        loss.backward()
        return loss

    build()  # the backward's workspace exists before tracing starts
    held = _held_by(build, n)
    # the values are n elements each; what a kept loss may hold is its records, not them
    assert held < n * 8 // 4, held


def test_second_backward_after_freeing_still_refused():
    x = tg.tensor(np.linspace(0, 1, 10_000), requires_grad=True)
    loss = (x.exp() * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_retain_graph_keeps_values():
    def program(m):
        x = m.tensor(np.linspace(0, 1, 10_000), requires_grad=True)
        loss = (x.exp() * x).sum()
        loss.backward(retain_graph=True)
        loss.backward()
        return (x.grad,)

    _both(program)


@pytest.mark.parametrize("n", [3, 10_000])
def test_two_losses_on_one_tape_after_freeing(n):
    def program(m):
        x = m.tensor(np.linspace(0.1, 1, n), requires_grad=True)
        a = (x * x).sum()
        b = (x.exp() * x.sin()).sum()  # not swept by a's backward: keeps its values
        a.backward()
        first = x.grad.clone()
        x.grad = None
        b.backward()
        return first, x.grad

    _both(program)


def test_freed_tape_without_saved_values_backward_again():
    def program(m):
        x = m.tensor(np.linspace(0.1, 1, 5_000), requires_grad=True)
        loss = (x + 1).sum()
        loss.backward()
        loss.backward()  # nothing saved: torch allows it
        return (x.grad,)

    _both(program)
