"""scalar-mlp: a micrograd-style MLP 2 -> 16 -> 16 -> 1 on 0-d values, each of its 337
parameters a separate scalar, tanh on every layer including the output, 20 data points,
loss = (sum of squared errors) / 20, then backward: ~13,000 recorded scalar ops."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .base import Call, Case, Workload, as_arrays, rng

LAYERS = ((2, 16), (16, 16), (16, 1))  # (inputs, neurons)
N_PARAMS = sum((nin + 1) * nout for nin, nout in LAYERS)  # 337
N_POINTS = 20


def inputs() -> tuple[list[float], list[list[float]], list[float]]:
    """``(parameters, xs, ys)`` as Python floats, fixed by the seed."""
    g = rng(3)
    params = g.uniform(-1.0, 1.0, N_PARAMS).tolist()
    xs = g.uniform(-2.0, 2.0, (N_POINTS, 2)).tolist()
    ys = np.sign(g.standard_normal(N_POINTS)).tolist()
    return params, xs, ys


def mlp_loss(params: Sequence[Any], tanh: Callable[[Any], Any], xs: list[list[float]],
             ys: list[float]) -> Any:
    """The loss, for any scalar type given its tanh (the same Python loops for every framework).

    ``params`` is laid out neuron by neuron, layer by layer: the neuron's weights, then its bias;
    a neuron computes ``tanh(b + w0*a0 + w1*a1 + ...)`` as micrograd's ``Neuron`` does.
    """
    total = 0.0
    for x, y in zip(xs, ys, strict=True):
        acts: list[Any] = x
        k = 0
        for nin, nout in LAYERS:
            out = []
            for _ in range(nout):
                act = params[k + nin]
                for i in range(nin):
                    act = act + params[k + i] * acts[i]
                out.append(tanh(act))
                k += nin + 1
            acts = out
        err = acts[0] - y
        total = total + err * err
    return total / N_POINTS


def micrograd_tanh(v: Any) -> Any:
    """tanh for micrograd's ``Value`` (its engine has none), written as its lecture version."""
    from micrograd.engine import Value

    t = math.tanh(v.data)
    out = Value(t, (v,), "tanh")

    def _backward() -> None:
        v.grad += (1.0 - t * t) * out.grad
    out._backward = _backward
    return out


def _leaves(make: Callable[[float], Any]) -> tuple[list[Any], list[list[float]], list[float]]:
    params, xs, ys = inputs()
    return [make(p) for p in params], xs, ys


def _tapegrad() -> Call:
    import tapegrad as tg

    params, xs, ys = _leaves(lambda p: tg.tensor(p, requires_grad=True))

    def call() -> list[np.ndarray]:
        for p in params:
            p.grad = None
        mlp_loss(params, tg.tanh, xs, ys).backward()
        return [np.array([p.grad.item() for p in params])]
    return call


def _tapegrad_compiled() -> Call:
    import tapegrad as tg

    params, xs, ys = inputs()
    tape = tg.compile(lambda *ps: mlp_loss(ps, tg.tanh, xs, ys), *params)
    return lambda: [np.array(as_arrays(tape.gradient(*params)))]


def _torch() -> Call:
    import torch

    params, xs, ys = _leaves(lambda p: torch.tensor(p, dtype=torch.float64, requires_grad=True))

    def call() -> list[np.ndarray]:
        for p in params:
            p.grad = None
        mlp_loss(params, torch.tanh, xs, ys).backward()
        return [np.array([p.grad.item() for p in params])]
    return call


def _jax(jit: bool) -> Call:
    from ..frameworks import jax_x64

    jax, jnp = jax_x64()
    params, xs, ys = _leaves(jnp.float64)
    grad = jax.grad(lambda ps: mlp_loss(ps, jnp.tanh, xs, ys))
    if jit:
        grad = jax.jit(grad)
    return lambda: [np.array(as_arrays(grad(params)))]


def _autograd() -> Call:
    import autograd
    import autograd.numpy as anp

    params, xs, ys = inputs()
    # unpack the boxed list once: indexing autograd's list box costs a 337-long VJP per access
    grad = autograd.grad(lambda ps: mlp_loss(list(ps), anp.tanh, xs, ys))
    return lambda: [np.array(as_arrays(grad(params)))]


def _micrograd() -> Call:
    from micrograd.engine import Value

    params, xs, ys = _leaves(Value)

    def call() -> list[np.ndarray]:
        for p in params:
            p.grad = 0.0
        mlp_loss(params, micrograd_tanh, xs, ys).backward()
        return [np.array([p.grad for p in params])]
    return call


WORKLOAD = Workload(
    name="scalar-mlp",
    cases=(Case("scalar-mlp"),),
    setups={
        "tapegrad": _tapegrad,
        "tapegrad-compiled": _tapegrad_compiled,
        "torch": _torch,
        "jax": lambda: _jax(jit=False),
        "jax-jit": lambda: _jax(jit=True),
        "autograd": _autograd,
        "micrograd": _micrograd,
    },
    # too slow for a --quick smoke run: jax.jit compiles ~13k scalar ops for ~40 s; eager jax
    # takes seconds per call, HIPS autograd about one
    heavy=frozenset({"jax", "jax-jit", "autograd"}),
)
