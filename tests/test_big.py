"""Large arrays: the paths taken only above a size threshold give the same values and gradients
as the small-array paths, and the process-wide heap setting can be turned off."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import tapegrad as tg
from tapegrad import engine, heap


def _rosenbrock_grad(x: np.ndarray) -> np.ndarray:
    head = x[:-1]
    d = x[1:] - head * head
    g = np.zeros_like(x)
    g[:-1] = -400.0 * d * head - 2.0 * (1.0 - head)
    g[1:] += 200.0 * d
    return g


def test_gradient_slots_need_no_zeroed_workspace():
    # the sweep clears a gradient slot on its first contribution; a workspace left full of
    # garbage by an earlier backward must not leak into any gradient
    x0 = 0.5 + 0.1 * np.random.default_rng(1).standard_normal(20_000)
    for _ in range(2):
        x = tg.tensor(x0, requires_grad=True)
        (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), _rosenbrock_grad(x0), rtol=1e-12, atol=1e-12)
        engine._workspace.grads[:] = np.nan


def test_heap_tuning_is_applied_on_glibc_and_can_be_turned_off():
    glibc = hasattr(os, "confstr") and os.confstr("CS_GNU_LIBC_VERSION") is not None \
        and os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
    assert heap.tune() == glibc
    code = "from tapegrad import heap; print(heap.tune())"
    env = {**os.environ, "TAPEGRAD_MALLOPT": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"
