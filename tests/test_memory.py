"""Memory: a tape costs nothing once no live tensor can reach it.

The loops below keep the garbage collector on and never call ``gc.collect()`` -- users don't --
so tapes must be freed by reference counting alone.  Resident memory is sampled after step
1,000 (numba kernels loaded, NumPy and allocator pools settled) and after step 10,000; it may
grow by less than 20 MB in between.  A 16x8 batch through an 8 -> 32 (tanh) -> 1 MLP records
about 2,000 values (~16 KB) per step, so keeping even one step's tape in ten would show.
"""

from __future__ import annotations

import gc
import types
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


def _run(step, tapes: weakref.WeakSet) -> tuple[float, float]:
    """Call ``step(i)`` for i = 1..STEPS; RSS in MB after step SAMPLE_AT and after the last.

    ``step`` returns a tensor of the graph it built; its tape goes into ``tapes`` (weakly), so
    the caller can check how many of the loop's tapes are still alive at the end.
    """
    start = None
    for i in range(1, STEPS + 1):
        tapes.add(step(i)._tape)
        if i == SAMPLE_AT:
            start = _rss_mb()
    return start, _rss_mb()


def _assert_flat(start: float, end: float, tapes: weakref.WeakSet, what: str,
                 kept: int = 0) -> None:
    growth = end - start
    print(f"\n{what}: RSS {start:.1f} MB after step {SAMPLE_AT}, {end:.1f} MB after step "
          f"{STEPS} ({growth:+.2f} MB); {len(tapes)} of the loop's tapes alive")
    assert growth < LIMIT_MB, (
        f"{what}: resident memory grew {growth:.1f} MB from step {SAMPLE_AT} to step {STEPS}")
    # the last step's tape, plus the tapes of tensors the test itself keeps
    assert len(tapes) <= 1 + kept, f"{what}: {len(tapes)} tapes of the loop still alive"


def _holders(ref: weakref.ref) -> str:
    """Who still refers to the object behind ``ref`` (for a failure message)."""
    found = []
    for r in gc.get_referrers(ref()):
        if isinstance(r, types.FrameType):
            continue
        if isinstance(r, dict):
            found.append(f"a dict, under key(s) {[k for k, v in r.items() if v is ref()]}")
        else:
            found.append(f"a {type(r).__qualname__}")
    return "; ".join(found) or "nothing gc can see (a reference from C)"


@pytest.fixture(autouse=True)
def _warm():
    """Load the numba sweep before measuring, so compilation is not counted as growth."""
    a = tg.ones(2, requires_grad=True)
    (a * a).sum().backward()


# --------------------------------------------------------------------------- loops


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
        return loss

    tapes = weakref.WeakSet()
    start, end = _run(step, tapes)
    assert losses[1] < losses[0]  # it did train
    _assert_flat(start, end, tapes, "training loop")


def test_graphs_without_backward_memory_is_flat():
    params, x, y = _mlp()

    def step(i):
        loss = _loss(params, x, y)
        assert loss.requires_grad
        return loss  # dropped by the loop: never backpropagated

    tapes = weakref.WeakSet()
    start, end = _run(step, tapes)
    _assert_flat(start, end, tapes, "graphs without backward")


def test_long_lived_non_leaf_keeps_memory_flat():
    params, x, y = _mlp()
    kept = _loss(params, x, y)  # a non-leaf alive for the whole loop, used by no other graph

    def step(i):
        loss = _loss(params, x, y)
        if i % 2:
            loss.backward()
            for w in params:
                w.grad = None
        return loss

    tapes = weakref.WeakSet()
    start, end = _run(step, tapes)
    _assert_flat(start, end, tapes, "graphs beside a long-lived non-leaf", kept=1)
    kept.backward()  # its graph is still whole
    assert params[0].grad is not None and np.isfinite(params[0].grad.numpy()).all()


def test_graphs_reading_a_long_lived_non_leaf_keep_memory_flat():
    params, x, y = _mlp()
    kept = _loss(params, x, y)  # a non-leaf alive for the whole loop, read by every step

    def step(i):
        return _loss(params, x, y) + kept * 0.5  # dropped by the loop

    tapes = weakref.WeakSet()
    start, end = _run(step, tapes)
    _assert_flat(start, end, tapes, "graphs reading a long-lived non-leaf", kept=1)
    kept.backward()  # its graph is still whole
    assert params[0].grad is not None and np.isfinite(params[0].grad.numpy()).all()


# --------------------------------------------------------------------------- single tapes


def test_tape_freed_when_last_tensor_dies():
    params, x, y = _mlp()
    loss = _loss(params, x, y)
    other = (params[0] * 2).sum()  # a second tensor on the same tape
    ref = weakref.ref(loss._tape)
    assert other._tape is ref()
    del loss
    assert ref() is not None  # ``other`` still reaches it
    del other
    if ref() is not None:
        pytest.fail(f"tape alive after its last tensor was deleted; held by {_holders(ref)}")


def test_tape_freed_after_backward_when_last_tensor_dies():
    params, x, y = _mlp()
    loss = _loss(params, x, y)
    ref = weakref.ref(loss._tape)
    loss.backward()
    del loss
    if ref() is not None:
        pytest.fail(f"tape alive after backward and deletion of its last tensor; held by "
                    f"{_holders(ref)}")
    assert params[0].grad.shape == (8, 32)  # the gradients outlive the tape
