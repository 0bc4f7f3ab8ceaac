"""rosenbrock-N: the gradient of ``sum(100*(x[1:]-x[:-1]**2)**2 + (1-x[:-1])**2)`` at
``x = 0.5 + 0.1*randn(N)``.  Hand-written NumPy and numba gradients stand for "no AD overhead"."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Call, Case, Workload, as_arrays, rng

SIZES = (10, 1000, 100_000)


def rosenbrock(x: Any) -> Any:
    """The function, written once for every array framework."""
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


def rosenbrock_grad(x: np.ndarray) -> np.ndarray:
    """Its gradient by hand, in NumPy."""
    head = x[:-1]
    d = x[1:] - head * head
    g = np.zeros_like(x)
    g[:-1] = -400.0 * d * head - 2.0 * (1.0 - head)
    g[1:] += 200.0 * d
    return g


def inputs(n: int) -> np.ndarray:
    return 0.5 + 0.1 * rng(1).standard_normal(n)


def _tapegrad(n: int) -> Call:
    import tapegrad as tg

    x = tg.tensor(inputs(n), requires_grad=True)

    def call() -> list[np.ndarray]:
        x.grad = None
        rosenbrock(x).backward()
        return [x.grad.numpy()]
    return call


def _tapegrad_compiled(n: int) -> Call:
    import tapegrad as tg

    x0 = inputs(n)
    tape = tg.compile(rosenbrock, x0)
    return lambda: as_arrays(tape.gradient(x0))


def _torch(n: int) -> Call:
    import torch

    x = torch.tensor(inputs(n), dtype=torch.float64, requires_grad=True)

    def call() -> list[np.ndarray]:
        x.grad = None
        rosenbrock(x).backward()
        return [x.grad.numpy()]
    return call


def _jax(n: int, jit: bool) -> Call:
    from ..frameworks import jax_x64

    jax, jnp = jax_x64()
    grad = jax.jit(jax.grad(rosenbrock)) if jit else jax.grad(rosenbrock)
    x = jnp.asarray(inputs(n))
    return lambda: [np.asarray(grad(x))]


def _autograd(n: int) -> Call:
    import autograd

    grad = autograd.grad(rosenbrock)
    x = inputs(n)
    return lambda: [grad(x)]


def _numpy(n: int) -> Call:
    x = inputs(n)
    return lambda: [rosenbrock_grad(x)]


def _numba(n: int) -> Call:
    from ._numba_kernels import rosenbrock_grad as kernel

    x = inputs(n)
    return lambda: [kernel(x)]


WORKLOAD = Workload(
    name="rosenbrock",
    cases=tuple(Case(f"rosenbrock-{n}", {"n": n}, size=n, quick=n == 10) for n in SIZES),
    setups={
        "tapegrad": _tapegrad,
        "tapegrad-compiled": _tapegrad_compiled,
        "torch": _torch,
        "jax": lambda n: _jax(n, jit=False),
        "jax-jit": lambda n: _jax(n, jit=True),
        "autograd": _autograd,
        "numpy": _numpy,
        "numba": _numba,
    },
)
