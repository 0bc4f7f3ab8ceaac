"""hvp-rosenbrock-N: the Hessian-vector product ``H(x) v`` of rosenbrock-N's function at its
``x``, for a fixed random ``v``.  A hand-written NumPy product stands for "no AD overhead".

torch is timed by double backward (``autograd.grad(create_graph=True)``, then a second
``autograd.grad`` seeded with ``v``: two sweeps); ``torch.autograd.functional.hvp`` computes the
same by the double-backward trick in three sweeps, and was the slower of the two here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Call, Case, Workload, rng
from .rosenbrock import inputs, rosenbrock

SIZES = (10, 1000)


def tangent(n: int) -> np.ndarray:
    return rng(5).standard_normal(n)


def rosenbrock_hvp(x: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``H(x) v`` by hand: each term ``100 (b - a^2)^2 + (1 - a)^2`` of ``a = x[i]``,
    ``b = x[i+1]`` has the Hessian ``[[1200 a^2 - 400 b + 2, -400 a], [-400 a, 200]]``."""
    a, b = x[:-1], x[1:]
    va, vb = v[:-1], v[1:]
    hv = np.zeros_like(x)
    hv[:-1] = (1200.0 * a * a - 400.0 * b + 2.0) * va - 400.0 * a * vb
    hv[1:] += -400.0 * a * va + 200.0 * vb
    return hv


def _tapegrad(n: int) -> Call:
    import tapegrad as tg

    x = tg.tensor(inputs(n), requires_grad=True)
    v = tg.tensor(tangent(n))

    def call() -> list[np.ndarray]:
        (g,) = tg.autograd.grad(rosenbrock(x), x, create_graph=True)
        (hv,) = tg.autograd.grad(g, x, v)
        return [hv.numpy()]
    return call


def hvp_of(f: Any) -> Any:
    """``(x, v) -> H(x) v`` for ``f``, written with tapegrad.autograd.grad (for tg.compile)."""
    import tapegrad as tg

    def hvp(x: Any, v: Any) -> Any:
        (g,) = tg.autograd.grad(f(x), x, create_graph=True)
        (hv,) = tg.autograd.grad(g, x, v)
        return hv
    return hvp


def _tapegrad_compiled(n: int) -> Call:
    import tapegrad as tg

    x0, v = inputs(n), tangent(n)
    # recorded at other values: the call replays the tape on new inputs
    tape = tg.compile(hvp_of(rosenbrock), x0 + 0.25, -v)
    return lambda: [tape(x0, v)]


def _torch(n: int) -> Call:
    import torch

    x = torch.tensor(inputs(n), dtype=torch.float64, requires_grad=True)
    v = torch.tensor(tangent(n), dtype=torch.float64)

    def call() -> list[np.ndarray]:
        (g,) = torch.autograd.grad(rosenbrock(x), x, create_graph=True)
        (hv,) = torch.autograd.grad(g, x, v)
        return [hv.numpy()]
    return call


def _jax(n: int, jit: bool) -> Call:
    from ..frameworks import jax_x64

    jax, jnp = jax_x64()

    def hvp(x: Any, v: Any) -> Any:
        return jax.jvp(jax.grad(rosenbrock), (x,), (v,))[1]  # forward-over-reverse
    if jit:
        hvp = jax.jit(hvp)
    x, v = jnp.asarray(inputs(n)), jnp.asarray(tangent(n))
    return lambda: [np.asarray(hvp(x, v))]


def _autograd(n: int) -> Call:
    import autograd

    hvp = autograd.hessian_tensor_product(rosenbrock)
    x, v = inputs(n), tangent(n)
    return lambda: [hvp(x, v)]


def _numpy(n: int) -> Call:
    x, v = inputs(n), tangent(n)
    return lambda: [rosenbrock_hvp(x, v)]


WORKLOAD = Workload(
    name="hvp-rosenbrock",
    cases=tuple(Case(f"hvp-rosenbrock-{n}", {"n": n}, size=n, quick=n == 10) for n in SIZES),
    setups={
        "tapegrad": _tapegrad,
        "tapegrad-compiled": _tapegrad_compiled,
        "torch": _torch,
        "jax": lambda n: _jax(n, jit=False),
        "jax-jit": lambda n: _jax(n, jit=True),
        "autograd": _autograd,
        "numpy": _numpy,
    },
)
