"""The sweep reads a small tape's values where the tape holds them (its Python lists of floats
and arrays, see ``abi.OBJECT_LAYOUT``), and packs them instead when it cannot.

Each case checks the route taken (the packing sweeps are counted) and the gradient, against a
closed form or central finite differences.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from helpers import check_gradients

import tapegrad as tg
from tapegrad import engine
from tapegrad.kernels import abi

#: the tests that expect the in-place route (CI also runs this file with it turned off)
in_place = pytest.mark.skipif(os.environ.get("TAPEGRAD_READ_IN_PLACE") == "0",
                              reason="TAPEGRAD_READ_IN_PLACE=0: values are always packed")


@pytest.fixture
def packed_sweeps(monkeypatch) -> list:
    """One entry per backward whose values were packed instead of read in place."""
    calls: list = []
    real = engine._sweep_packed

    def counting(*args):
        calls.append(args[0])
        return real(*args)

    monkeypatch.setattr(engine, "_sweep_packed", counting)
    return calls


@in_place
def test_the_object_layout_checks_pass_on_this_python_and_numpy(monkeypatch):
    assert abi.OBJECT_LAYOUT is not None
    assert engine._LAYOUT_ADDRESS != 0
    np.testing.assert_array_equal(abi._probe_object_layout(), abi.OBJECT_LAYOUT)
    # without a GIL another thread could change a list while the sweep reads it: never
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    assert abi._probe_object_layout() is None


@in_place
def test_floats_float64_scalars_arrays_and_0d_arrays_are_read_in_place(packed_sweeps):
    xs, s0 = np.array([0.5, -1.0, 2.0]), 3.0
    x = tg.tensor(xs, requires_grad=True)
    s = tg.tensor(s0, requires_grad=True)  # a 0-d leaf: its storage, a 0-d array, is read
    y = x[1:] - x[:-1]  # views of a leaf
    loss = ((x * s) ** 2).sum() + y.sum() * s + (s * s) * 0.5  # 0-d results: NumPy scalars
    loss.backward()
    assert packed_sweeps == []
    np.testing.assert_allclose(x.grad.numpy(), 2 * xs * s0 ** 2 + np.array([-s0, 0.0, s0]))
    np.testing.assert_allclose(s.grad.numpy(), np.sum(2 * xs ** 2 * s0) + xs[2] - xs[0] + s0)


@in_place
def test_one_element_vectors_kept_as_python_floats_are_read_in_place(packed_sweeps):
    x = tg.tensor([0.7], requires_grad=True)
    y = x
    for _ in range(5):
        y = y.tanh() * 0.9 + 0.1 * y
    y.sum().backward()
    assert packed_sweeps == []
    eps, f = 1e-6, _chain_value
    np.testing.assert_allclose(x.grad.numpy(), [(f(0.7 + eps) - f(0.7 - eps)) / (2 * eps)],
                               rtol=1e-7)


def _chain_value(v: float) -> float:
    for _ in range(5):
        v = np.tanh(v) * 0.9 + 0.1 * v
    return float(v)


def test_a_float32_value_is_packed_instead(packed_sweeps):
    xs = np.array([1.5, -2.0, 0.25], np.float32)
    x = tg.tensor(xs, requires_grad=True)
    (x * x).sum().backward()
    assert len(packed_sweeps) == 1
    np.testing.assert_allclose(x.grad.numpy(), 2 * xs, rtol=1e-6)


def test_a_value_that_is_not_c_contiguous_is_packed_instead(packed_sweeps):
    xs = np.arange(6.0).reshape(2, 3)
    w = np.array([[1.0, -2.0], [0.5, 3.0], [4.0, -1.0]])
    x = tg.tensor(xs, requires_grad=True)
    ((x.t() * tg.tensor(w)) ** 2).sum().backward()  # x.t(): a transposed view
    assert len(packed_sweeps) == 1
    np.testing.assert_allclose(x.grad.numpy(), (2 * xs.T * w ** 2).T)


def test_a_one_element_integer_constant_is_packed_instead(packed_sweeps):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * tg.tensor([3])).sum().backward()  # its storage: a 0-d int64 array
    assert len(packed_sweeps) == 1
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


@in_place
def test_a_shared_scalar_storage_is_read_in_place(packed_sweeps):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    a = (x * x).sum()
    storage = a.detach().numpy()  # the 0-d result now has a storage the tape must read
    storage[...] = 10.0  # (as torch's saved tensor, the VJP sees it)
    (a * a).backward()
    assert len(packed_sweeps) == 0  # (the storage took the number's place in the tape's list)
    np.testing.assert_allclose(x.grad.numpy(), 2 * 10.0 * 2 * np.array([1.0, 2.0]))


def test_a_large_tape_is_packed():
    xs = np.linspace(-1.0, 1.0, engine.IN_PLACE_MAX + 10)
    x = tg.tensor(xs, requires_grad=True)
    calls = []
    real = engine._sweep_packed
    engine._sweep_packed = lambda *args: calls.append(1) or real(*args)
    try:
        (x * x).sum().backward()
    finally:
        engine._sweep_packed = real
    assert calls == [1]
    np.testing.assert_allclose(x.grad.numpy(), 2 * xs)


@in_place
def test_a_blas_hand_off_reads_values_from_a_tape_read_in_place(packed_sweeps):
    rng = np.random.default_rng(5)
    a, b, c = rng.standard_normal((3, 40, 40))  # 64,000 multiply-adds: NumPy's BLAS
    assert a.shape[0] ** 3 >= engine.BLAS_MIN
    ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    ((ta @ tb) * tg.tensor(c)).sum().backward()
    assert packed_sweeps == []
    np.testing.assert_allclose(ta.grad.numpy(), c @ b.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tb.grad.numpy(), a.T @ c, rtol=1e-12, atol=1e-12)


def test_a_blas_hand_off_after_repacking():
    rng = np.random.default_rng(6)
    a, c = rng.standard_normal((2, 40, 40))
    b = np.asfortranarray(rng.standard_normal((40, 40)))
    check_gradients(lambda x, y, z: (x @ y.t()) * z, [a, b.T.copy(), c])
    ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
    ((ta @ tb.t().t()) * tg.tensor(c)).sum().backward()
    np.testing.assert_allclose(ta.grad.numpy(), c @ b.T, rtol=1e-12, atol=1e-12)


def test_backwards_of_every_kind_in_turn_on_one_thread():
    """The frame's fields shared by calls are rewritten whenever a backward of another kind
    (retained graph, a vector seed, a BLAS hand-off that resumes the sweep, packed values, a
    grown workspace) changed them: each gradient against its closed form, in turn."""
    rng = np.random.default_rng(9)
    a, b = rng.standard_normal((2, 40, 40))
    xs = np.array([0.5, -1.0, 2.0])

    def plain():
        x = tg.tensor(xs, requires_grad=True)
        (x * x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 2 * xs)

    def retained():
        x = tg.tensor(xs, requires_grad=True)
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()
        np.testing.assert_allclose(x.grad.numpy(), 4 * xs)

    def vector_seed():
        x = tg.tensor(xs, requires_grad=True)
        (x * 3.0).backward(tg.tensor([1.0, 2.0, 3.0]))
        np.testing.assert_allclose(x.grad.numpy(), [3.0, 6.0, 9.0])

    def blas():  # (the product is not the first record: the sweep resumes below it)
        ta, tb = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
        ((ta * 2.0) @ tb).sum().backward()
        np.testing.assert_allclose(ta.grad.numpy(), 2 * np.ones((40, 40)) @ b.T, rtol=1e-12)
        np.testing.assert_allclose(tb.grad.numpy(), 2 * a.T @ np.ones((40, 40)), rtol=1e-12)

    def packed():
        x = tg.tensor(xs.astype(np.float32), requires_grad=True)
        (x * x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 2 * xs, rtol=1e-6)

    def large():
        x = tg.tensor(np.linspace(0.0, 1.0, engine.IN_PLACE_MAX + 3), requires_grad=True)
        (x * 2.0).sum().backward()
        assert np.all(x.grad.numpy() == 2.0)

    kinds = [plain, retained, plain, vector_seed, plain, blas, plain, packed, plain, large,
             plain, blas, retained, vector_seed, packed, large, blas, plain]
    for kind in kinds:
        kind()


@pytest.mark.parametrize("shape", [(), (1,), (1, 1)])
def test_a_one_element_leaf_is_its_own_storage_on_the_tape(shape):
    # the storage goes into ``scalars`` itself, so a backward has no shared value to look up
    # (a small graph's backward paid more for that lookup than for its sweep), and a change
    # made through NumPy after recording still reaches the gradient, as in torch
    x = tg.tensor(np.full(shape, 0.5), requires_grad=True)
    y = x.sin()
    assert 0 not in [slot for slot, _ in y._tape.shared_scalars]  # (x's slot)
    x.detach().numpy().reshape(-1)[0] = 2.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy().reshape(-1), [np.cos(2.0)], rtol=1e-15)
