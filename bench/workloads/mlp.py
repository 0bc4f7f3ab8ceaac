"""mlp: batch 256, 784 -> 512 tanh -> 10, mean softmax cross-entropy (via logsumexp) against
fixed labels; the forward alone (``mlp-fwd``) and forward + backward (``mlp-fwd+bwd``).

"Forward alone" is each framework's forward as a training step runs it: torch and tapegrad record
their graph (parameters require grad); JAX and HIPS autograd evaluate plainly, as they only trace
under a transformation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Call, Case, NotApplicable, Workload, as_arrays, rng

BATCH, IN, HIDDEN, OUT = 256, 784, 512, 10
MODES = {"mlp-fwd": "fwd", "mlp-fwd+bwd": "fwdbwd"}


def inputs() -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """``(X, labels, [W1, b1, W2, b2])``, fixed by the seed."""
    g = rng(2)
    x = g.standard_normal((BATCH, IN))
    labels = g.integers(0, OUT, BATCH)
    params = [g.standard_normal((IN, HIDDEN)) / np.sqrt(IN), 0.1 * g.standard_normal(HIDDEN),
              g.standard_normal((HIDDEN, OUT)) / np.sqrt(HIDDEN), 0.1 * g.standard_normal(OUT)]
    return x, labels, params


def logits(x: Any, w1: Any, b1: Any, w2: Any, b2: Any, tanh: Any) -> Any:
    """The network, written once for every array framework."""
    return tanh(x @ w1 + b1) @ w2 + b2


def numpy_loss_and_grad(x: np.ndarray, labels: np.ndarray, params: list[np.ndarray],
                        backward: bool) -> list[np.ndarray]:
    """The loss (``backward=False``) or its gradients by hand, in NumPy."""
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1 + b1)
    z = h @ w2 + b2
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1)
    rows = np.arange(BATCH)
    if not backward:
        return [np.asarray(np.mean(np.log(s) - z[rows, labels]))]
    dz = e / s[:, None]
    dz[rows, labels] -= 1.0
    dz /= BATCH
    dh = (dz @ w2.T) * (1.0 - h * h)
    return [x.T @ dh, dh.sum(axis=0), h.T @ dz, dz.sum(axis=0)]


def _tapegrad_loss(tg: Any, x: Any, labels: np.ndarray, params: list[Any]) -> Any:
    z = logits(x, *params, tanh=tg.tanh)
    return (tg.logsumexp(z, dim=1) - z[np.arange(BATCH), labels]).mean()


def _tapegrad(mode: str) -> Call:
    import tapegrad as tg

    x, labels, init = inputs()
    xt = tg.tensor(x)
    params = [tg.tensor(p, requires_grad=True) for p in init]

    def call() -> list[np.ndarray]:
        loss = _tapegrad_loss(tg, xt, labels, params)
        if mode == "fwd":
            return [loss.detach().numpy()]
        for p in params:
            p.grad = None
        loss.backward()
        return [p.grad.numpy() for p in params]
    return call


def _tapegrad_compiled(mode: str) -> Call:
    import tapegrad as tg

    x, labels, init = inputs()
    xt = tg.tensor(x)
    tape = tg.compile(lambda *ps: _tapegrad_loss(tg, xt, labels, list(ps)), *init)
    if mode == "fwd":
        return lambda: as_arrays(tape(*init))
    return lambda: as_arrays(tape.gradient(*init))


def _torch(mode: str) -> Call:
    import torch

    x, labels, init = inputs()
    xt = torch.tensor(x, dtype=torch.float64)
    rows, lt = torch.arange(BATCH), torch.tensor(labels)
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in init]

    def call() -> list[np.ndarray]:
        z = logits(xt, *params, tanh=torch.tanh)
        loss = (torch.logsumexp(z, dim=1) - z[rows, lt]).mean()
        if mode == "fwd":
            return [loss.detach().numpy()]
        for p in params:
            p.grad = None
        loss.backward()
        return [p.grad.numpy() for p in params]
    return call


def _jax(mode: str, jit: bool) -> Call:
    from ..frameworks import jax_x64

    jax, jnp = jax_x64()
    x, labels, init = inputs()
    xj, lj, rows = jnp.asarray(x), jnp.asarray(labels), jnp.arange(BATCH)
    params = tuple(jnp.asarray(p) for p in init)

    def loss(params: tuple[Any, ...]) -> Any:
        z = logits(xj, *params, tanh=jnp.tanh)
        return (jax.nn.logsumexp(z, axis=1) - z[rows, lj]).mean()

    fn = loss if mode == "fwd" else jax.grad(loss)
    if jit:
        fn = jax.jit(fn)
    return lambda: as_arrays(fn(params))


def _autograd(mode: str) -> Call:
    import autograd
    import autograd.numpy as anp

    try:
        from autograd.scipy.special import logsumexp
    except ImportError as exc:  # autograd's scipy wrappers need scipy
        raise NotApplicable(f"autograd's logsumexp needs scipy ({exc})") from exc
    x, labels, init = inputs()
    rows = np.arange(BATCH)

    def loss(params: tuple[Any, ...]) -> Any:
        z = logits(x, *params, tanh=anp.tanh)
        return anp.mean(logsumexp(z, axis=1) - z[rows, labels])

    fn = loss if mode == "fwd" else autograd.grad(loss)
    params = tuple(init)
    return lambda: as_arrays(fn(params))


def _numpy(mode: str) -> Call:
    x, labels, params = inputs()
    return lambda: numpy_loss_and_grad(x, labels, params, backward=mode == "fwdbwd")


WORKLOAD = Workload(
    name="mlp",
    cases=tuple(Case(name, {"mode": mode}) for name, mode in MODES.items()),
    timed_together=True,  # (forward+backward) / forward is a target
    setups={
        "tapegrad": _tapegrad,
        "tapegrad-compiled": _tapegrad_compiled,
        "torch": _torch,
        "jax": lambda mode: _jax(mode, jit=False),
        "jax-jit": lambda mode: _jax(mode, jit=True),
        "autograd": _autograd,
        "numpy": _numpy,
    },
)
