"""Memory: a tape costs nothing once no live tensor can reach it.

The loops below keep the garbage collector on and never call ``gc.collect()`` -- users don't --
so a tape must be freed by reference counting alone.  Resident memory is sampled at step 1,000
(after warm-up: numba kernels loaded, NumPy and allocator pools settled) and at step 10,000; it
may grow by less than 20 MB in between.
"""

from __future__ import annotations

import weakref

import numpy as np
import psutil
import pytest

import tapegrad as tg

STEPS = 10_000
SAMPLE_AT = 1_000
LIMIT_MB = 20.0
LR = 0.01


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _mlp():
    tg.manual_seed(0)
    params = [tg.randn(8, 32, requires_grad=True), tg.randn(32, requires_grad=True),
              tg.randn(32, 1, requires_grad=True), tg.randn(1, requires_grad=True)]
    x = tg.randn(16, 8)
    y = tg.randn(16, 1)
    return params, x, y


def _loss(params, x, y):
    w1, b1, w2, b2 = params
    h = (x @ w1 + b1).tanh()
    out = h @ w2 + b2
    return ((out - y) ** 2).mean()


def _run(step, steps: int = STEPS) -> tuple[float, float]:
    """Call ``step(i)`` ``steps`` times; RSS in MB after step SAMPLE_AT and after the last."""
    start = None
    for i in range(1, steps + 1):
        step(i)
        if i == SAMPLE_AT:
            start = _rss_mb()
    return start, _rss_mb()


def _assert_flat(start: float, end: float, what: str) -> None:
    growth = end - start
    print(f"{what}: RSS {start:.1f} MB at step {SAMPLE_AT}, {end:.1f} MB at step {STEPS} "
          f"(+{growth:.2f} MB)")
    assert growth < LIMIT_MB, (
        f"{what}: resident memory grew {growth:.1f} MB from step {SAMPLE_AT} to step {STEPS}")


@pytest.fixture(autouse=True)
def _warm():
    """Load the numba sweep before measuring, so compilation is not counted as growth."""
    a = tg.ones(2, requires_grad=True)
    (a * a).sum().backward()


def test_training_loop_memory_is_flat():
    params, x, y = _mlp()
    losses = []

    def step(i):
        loss = _loss(params, x, y)
        loss.backward()
        with tg.no_grad():
            for w in params:
                w -= LR * w.grad
        for w in params:
            w.grad = None
        if i in (1, STEPS):
            losses.append(loss.item())

    start, end = _run(step)
    assert losses[1] < losses[0]  # it did train
    _assert_flat(start, end, "training loop")


def test_graphs_without_backward_memory_is_flat():
    params, x, y = _mlp()

    def step(i):
        loss = _loss(params, x, y)
        assert loss.requires_grad
        # the graph is dropped here, never backpropagated

    start, end = _run(step)
    _assert_flat(start, end, "graphs without backward")


def test_long_lived_non_leaf_keeps_memory_flat():
    params, x, y = _mlp()
    kept = _loss(params, x, y)  # a non-leaf alive for the whole loop
    kept_tape = weakref.ref(kept._tape)

    def step(i):
        loss = _loss(params, x, y)
        if i % 2:
            loss.backward()
            for w in params:
                w.grad = None

    start, end = _run(step)
    _assert_flat(start, end, "loop beside a long-lived non-leaf")
    # the kept tensor's graph is still usable
    assert kept_tape() is not None
    kept.backward()
    assert params[0].grad is not None and np.isfinite(params[0].grad.numpy()).all()


def _graph():
    params, x, y = _mlp()
    return params, _loss(params, x, y)


def test_tape_freed_when_last_tensor_dies():
    params, loss = _graph()
    h = (params[0] * 2).sum()  # a second tensor on the same tape
    ref = weakref.ref(loss._tape)
    assert h._tape is loss._tape
    del loss
    assert ref() is not None  # h still reaches it
    del h
    assert ref() is None, "tape still alive after its last tensor was deleted (no gc.collect)"


def test_tape_freed_after_backward_when_last_tensor_dies():
    params, loss = _graph()
    ref = weakref.ref(loss._tape)
    loss.backward()
    assert params[0].grad is not None
    del loss
    assert ref() is None, ("tape still alive after backward and deletion of its last tensor "
                           "(no gc.collect)")
    # the leaves and their gradients are untouched by the tape going away
    assert params[0].grad.shape == (8, 32)
