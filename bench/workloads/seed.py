"""seed: the seed tutorial's own chain on a 2x2 tensor, creation of ``x`` included in the call."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Call, Case, Workload, as_arrays


def seed_out(x: Any) -> Any:
    """``out = ((x + 2) * (x + 2) * 3).mean()``, written once for every array framework."""
    y = x + 2
    z = y * y * 3
    return z.mean()


def _tapegrad() -> Call:
    import tapegrad as tg

    def call() -> list[np.ndarray]:
        x = tg.ones(2, 2, requires_grad=True)
        seed_out(x).backward()
        return [x.grad.numpy()]
    return call


def _tapegrad_compiled() -> Call:
    import tapegrad as tg

    tape = tg.compile(seed_out, np.ones((2, 2)))
    return lambda: as_arrays(tape.gradient(np.ones((2, 2))))


def _torch() -> Call:
    import torch

    def call() -> list[np.ndarray]:
        x = torch.ones(2, 2, dtype=torch.float64, requires_grad=True)
        seed_out(x).backward()
        return [x.grad.numpy()]
    return call


def _jax(jit: bool) -> Call:
    from ..frameworks import jax_x64

    jax, jnp = jax_x64()
    grad = jax.grad(seed_out)
    if jit:
        grad = jax.jit(grad)
    return lambda: [np.asarray(grad(jnp.ones((2, 2))))]


def _autograd() -> Call:
    import autograd

    grad = autograd.grad(seed_out)
    return lambda: [grad(np.ones((2, 2)))]


def _micrograd() -> Call:
    from micrograd.engine import Value

    def call() -> list[np.ndarray]:
        xs = [Value(1.0) for _ in range(4)]
        ys = [x + 2 for x in xs]
        out = sum(y * y * 3 for y in ys) / 4
        out.backward()
        return [np.array([x.grad for x in xs]).reshape(2, 2)]
    return call


WORKLOAD = Workload(
    name="seed",
    cases=(Case("seed"),),
    setups={
        "tapegrad": _tapegrad,
        "tapegrad-compiled": _tapegrad_compiled,
        "torch": _torch,
        "jax": lambda: _jax(jit=False),
        "jax-jit": lambda: _jax(jit=True),
        "autograd": _autograd,
        "micrograd": _micrograd,
    },
)
