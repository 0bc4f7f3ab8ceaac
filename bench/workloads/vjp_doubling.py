"""vjp-doubling: the seed tutorial's data-dependent loop ``while norm(y) < 1000: y = y*2``, then
the vector-Jacobian product with ``v = [0.1, 1.0, 1e-4]``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .base import Call, Case, Workload, as_arrays

X0 = np.array([0.1, 0.2, 0.3])
V = np.array([0.1, 1.0, 1e-4])


def doubling(x: Any, norm: Callable[[Any], Any]) -> Any:
    """Double ``x`` until its norm reaches 1000 (the loop count depends on the values)."""
    y = x * 2
    while norm(y) < 1000:
        y = y * 2
    return y


def _data_norm(y: Any) -> Any:
    """The tutorial's ``y.data.norm()``: the loop test itself is not recorded."""
    return y.data.norm()


def _tapegrad() -> Call:
    import tapegrad as tg

    x = tg.tensor(X0, requires_grad=True)
    v = tg.tensor(V)

    def call() -> list[np.ndarray]:
        x.grad = None
        doubling(x, _data_norm).backward(v)
        return [x.grad.numpy()]
    return call


def _tapegrad_compiled() -> Call:
    import tapegrad as tg

    # the loop test leaves the tape as a value: tg.compile records it as a guard
    tape = tg.compile(lambda x: doubling(x, _data_norm), X0)
    return lambda: as_arrays(tape.vjp((X0,), V))


def _torch() -> Call:
    import torch

    x = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
    v = torch.tensor(V, dtype=torch.float64)

    def call() -> list[np.ndarray]:
        x.grad = None
        doubling(x, _data_norm).backward(v)
        return [x.grad.numpy()]
    return call


def _jax() -> Call:
    from ..frameworks import jax_x64

    jax, jnp = jax_x64()
    x, v = jnp.asarray(X0), jnp.asarray(V)

    def call() -> list[np.ndarray]:
        _, vjp = jax.vjp(lambda x: doubling(x, jnp.linalg.norm), x)
        return [np.asarray(vjp(v)[0])]
    return call


def _autograd() -> Call:
    import autograd
    import autograd.numpy as anp

    make_vjp = autograd.make_vjp(lambda x: doubling(x, anp.linalg.norm))

    def call() -> list[np.ndarray]:
        vjp, _ = make_vjp(X0)
        return [vjp(V)]
    return call


WORKLOAD = Workload(
    name="vjp-doubling",
    cases=(Case("vjp-doubling"),),
    setups={
        "tapegrad": _tapegrad,
        "tapegrad-compiled": _tapegrad_compiled,
        "torch": _torch,
        "jax": _jax,
        "autograd": _autograd,
    },
    unsupported={
        "jax-jit": "a value-dependent Python loop cannot be traced by jax.jit, and "
                   "lax.while_loop has no reverse mode",
    },
)
