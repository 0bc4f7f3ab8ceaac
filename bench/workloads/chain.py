"""chain-K: 50 steps of ``y = tanh(y)*0.9 + 0.1*y`` on K elements (200 recorded ops), then
``(y*y).sum()``: per-op overhead at K = 1, memory bandwidth at K = 100000."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Call, Case, NotApplicable, Workload, as_arrays, rng

SIZES = (1, 1000, 100_000)
STEPS = 50


def chain(x: Any, tanh: Callable[[Any], Any]) -> Any:
    """The chain before the loss, for any framework given its tanh."""
    y = x
    for _ in range(STEPS):
        y = tanh(y) * 0.9 + 0.1 * y
    return y


def inputs(k: int) -> np.ndarray:
    return rng(0).standard_normal(k)


def _tapegrad(k: int) -> Call:
    import tapegrad as tg

    x = tg.tensor(inputs(k), requires_grad=True)

    def call() -> list[np.ndarray]:
        x.grad = None
        y = chain(x, tg.tanh)
        (y * y).sum().backward()
        return [x.grad.numpy()]
    return call


def _tapegrad_compiled(k: int) -> Call:
    import tapegrad as tg

    def loss(x: Any) -> Any:
        y = chain(x, tg.tanh)
        return (y * y).sum()

    x0 = inputs(k)
    tape = tg.compile(loss, x0)
    return lambda: as_arrays(tape.gradient(x0))


def _torch(k: int) -> Call:
    import torch

    x = torch.tensor(inputs(k), dtype=torch.float64, requires_grad=True)

    def call() -> list[np.ndarray]:
        x.grad = None
        y = chain(x, torch.tanh)
        (y * y).sum().backward()
        return [x.grad.numpy()]
    return call


def _jax(k: int, jit: bool) -> Call:
    from ..frameworks import jax_x64

    jax, jnp = jax_x64()

    def loss(x: Any) -> Any:
        y = chain(x, jnp.tanh)
        return (y * y).sum()

    grad = jax.jit(jax.grad(loss)) if jit else jax.grad(loss)
    x = jnp.asarray(inputs(k))
    return lambda: [np.asarray(grad(x))]


def _autograd(k: int) -> Call:
    import autograd
    import autograd.numpy as anp

    def loss(x: Any) -> Any:
        y = chain(x, anp.tanh)
        return anp.sum(y * y)

    grad = autograd.grad(loss)
    x = inputs(k)
    return lambda: [grad(x)]


def _micrograd(k: int) -> Call:
    if k != 1:
        raise NotApplicable("micrograd works on scalars only")
    from micrograd.engine import Value

    from .scalar_mlp import micrograd_tanh

    x = Value(float(inputs(1)[0]))

    def call() -> list[np.ndarray]:
        x.grad = 0.0
        y = chain(x, micrograd_tanh)
        (y * y).backward()
        return [np.array([x.grad])]
    return call


WORKLOAD = Workload(
    name="chain",
    cases=tuple(Case(f"chain-{k}", {"k": k}, size=k, quick=k == 1) for k in SIZES),
    setups={
        "tapegrad": _tapegrad,
        "tapegrad-compiled": _tapegrad_compiled,
        "torch": _torch,
        "jax": lambda k: _jax(k, jit=False),
        "jax-jit": lambda k: _jax(k, jit=True),
        "autograd": _autograd,
        "micrograd": _micrograd,
    },
)
