"""Shared test oracles: central finite differences in float64."""

from __future__ import annotations

import numpy as np

import tapegrad as tg


def numeric_grad(f, arrays: list[np.ndarray], i: int, eps: float = 1e-6) -> np.ndarray:
    """d f(*arrays) / d arrays[i] by central differences (f returns a Python float)."""
    x = arrays[i]
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        plus = [a.copy() for a in arrays]
        minus = [a.copy() for a in arrays]
        plus[i][idx] += eps
        minus[i][idx] -= eps
        grad[idx] = (f(*plus) - f(*minus)) / (2 * eps)
    return grad


def check_gradients(fn, arrays: list[np.ndarray], atol: float = 1e-6, rtol: float = 1e-5,
                    weights: np.ndarray | None = None) -> None:
    """Compare tapegrad's gradient of ``sum(weights * fn(*tensors))`` with finite differences.

    Random weights make a vector output's VJP as strict a check as a full Jacobian row mix.
    """
    tensors = [tg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    if weights is None:
        weights = np.random.default_rng(7).uniform(0.5, 1.5, out.shape)
    out.backward(tg.tensor(weights))

    def scalar(*xs):
        with tg.no_grad():
            y = fn(*[tg.tensor(x) for x in xs])
        return float(np.sum(np.asarray(y.detach().numpy(), dtype=np.float64) * weights))

    for i, t in enumerate(tensors):
        expected = numeric_grad(scalar, arrays, i)
        assert t.grad is not None, f"input {i} got no gradient"
        assert t.grad.shape == t.shape
        np.testing.assert_allclose(t.grad.numpy(), expected, atol=atol, rtol=rtol,
                                   err_msg=f"gradient of input {i}")


def values(t) -> np.ndarray:
    """A copy of a tensor's values as a NumPy array."""
    return np.array(t.detach().numpy(), copy=True)
