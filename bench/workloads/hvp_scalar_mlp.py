"""hvp-scalar-mlp: the Hessian-vector product of scalar-mlp's loss with respect to its 337
scalar parameters, for a fixed random ``v``: the loss's ~13,000 scalar ops, their backward
recorded (``create_graph``), and a second backward over both.

torch is timed by double backward (two sweeps); ``torch.autograd.functional.hvp``'s
double-backward trick takes three and was the slower here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Call, Case, Workload, as_arrays, rng
from .scalar_mlp import N_PARAMS, _leaves, inputs, mlp_loss


def tangent() -> list[float]:
    return rng(6).standard_normal(N_PARAMS).tolist()


def _double_backward(grad: Any, tanh: Any, params: list[Any], v: list[Any], xs: list,
                     ys: list) -> tuple:
    """``H v`` as a tuple of 0-d tensors, for tapegrad and torch alike."""
    gs = grad(mlp_loss(params, tanh, xs, ys), params, create_graph=True)
    return grad(gs, params, v)


def _tapegrad() -> Call:
    import tapegrad as tg

    params, xs, ys = _leaves(lambda p: tg.tensor(p, requires_grad=True))
    v = [tg.tensor(t) for t in tangent()]

    def call() -> list[np.ndarray]:
        hv = _double_backward(tg.autograd.grad, tg.tanh, params, v, xs, ys)
        return [np.array([h.item() for h in hv])]
    return call


def _tapegrad_compiled() -> Call:
    import tapegrad as tg

    params, xs, ys = inputs()
    v = tangent()

    def hvp(*args: Any) -> Any:
        ps, vs = args[:N_PARAMS], args[N_PARAMS:]
        return tg.stack(_double_backward(tg.autograd.grad, tg.tanh, list(ps), list(vs), xs, ys))

    # recorded at other values: the call replays the tape on new inputs
    tape = tg.compile(hvp, *[p * 0.5 for p in params], *[-t for t in v])
    return lambda: [np.asarray(tape(*params, *v))]


def _torch() -> Call:
    import torch

    params, xs, ys = _leaves(lambda p: torch.tensor(p, dtype=torch.float64, requires_grad=True))
    v = [torch.tensor(t, dtype=torch.float64) for t in tangent()]

    def call() -> list[np.ndarray]:
        hv = _double_backward(torch.autograd.grad, torch.tanh, params, v, xs, ys)
        return [np.array([h.item() for h in hv])]
    return call


def _jax(jit: bool) -> Call:
    from ..frameworks import jax_x64

    jax, jnp = jax_x64()
    params, xs, ys = _leaves(jnp.float64)
    v = [jnp.float64(t) for t in tangent()]
    grad = jax.grad(lambda ps: mlp_loss(ps, jnp.tanh, xs, ys))

    def hvp(ps: Any, vs: Any) -> Any:
        return jax.jvp(grad, (ps,), (vs,))[1]  # forward-over-reverse
    if jit:
        hvp = jax.jit(hvp)
    return lambda: [np.array(as_arrays(hvp(params, v)))]


def _autograd() -> Call:
    import autograd
    import autograd.numpy as anp

    params, xs, ys = inputs()
    hvp = autograd.hessian_tensor_product(
        lambda ps: mlp_loss([ps[i] for i in range(N_PARAMS)], anp.tanh, xs, ys))
    p, v = np.array(params), np.array(tangent())
    return lambda: [np.asarray(hvp(p, v))]


WORKLOAD = Workload(
    name="hvp-scalar-mlp",
    cases=(Case("hvp-scalar-mlp"),),
    setups={
        "tapegrad": _tapegrad,
        "tapegrad-compiled": _tapegrad_compiled,
        "torch": _torch,
        "jax": lambda: _jax(jit=False),
        "autograd": _autograd,
    },
    # eager jax and HIPS autograd take seconds per call
    heavy=frozenset({"jax", "autograd"}),
    unsupported={"jax-jit": "jax.jit of this HVP (the forward, its backward and their "
                            "linearisation, ~13k scalar ops each) had not finished compiling "
                            "after 10 minutes and 15 GB of memory"},
)
