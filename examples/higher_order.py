"""torch.autograd programs run with ``import tapegrad as torch``: greeks of an option price by
``autograd.grad(..., create_graph=True)``, a gradient penalty, ``autograd.functional``, a custom
``Function`` (PyTorch's tutorial's Legendre polynomial) and tensor hooks.

Each part prints tapegrad's numbers; with torch installed, torch's beside them (they agree to
float64 rounding).  Run: ``python examples/higher_order.py``.
"""

from __future__ import annotations

import math

import numpy as np

import tapegrad


def greeks(torch):
    """Delta and gamma of a Black-Scholes call (the normal CDF written with erf)."""
    def cdf(z):
        return 0.5 * (1.0 + torch.erf(z / math.sqrt(2.0)))

    spot = torch.tensor(100.0, dtype=torch.float64, requires_grad=True)
    vol, strike, rate, t = 0.2, 95.0, 0.01, 0.5
    d1 = (torch.log(spot / strike) + (rate + 0.5 * vol ** 2) * t) / (vol * math.sqrt(t))
    d2 = d1 - vol * math.sqrt(t)
    price = spot * cdf(d1) - strike * math.exp(-rate * t) * cdf(d2)
    (delta,) = torch.autograd.grad(price, spot, create_graph=True)
    (gamma,) = torch.autograd.grad(delta, spot)
    return [price.item(), delta.item(), gamma.item()]


def gradient_penalty(torch):
    """WGAN-GP's penalty: the critic's input-gradient norm, itself differentiated."""
    g = np.random.default_rng(0)
    w1 = torch.tensor(g.normal(size=(4, 8)), requires_grad=True)
    w2 = torch.tensor(g.normal(size=(8, 1)), requires_grad=True)
    x = torch.tensor(g.normal(size=(5, 4)), requires_grad=True)
    critic = (torch.tanh(x @ w1) @ w2).sum()
    (gx,) = torch.autograd.grad(critic, x, create_graph=True)
    penalty = ((gx.norm(dim=1) - 1.0) ** 2).mean()
    penalty.backward()
    return [penalty.item(), float(w1.grad.sum()), float(w2.grad.sum())]


def functional(torch):
    """The torch.autograd.functional docstring's kind of calls."""
    def pow_reducer(x):
        return x.pow(3).sum()

    x = torch.tensor([[0.5, 1.0], [1.5, 2.0]], dtype=torch.float64)
    v = torch.ones(2, 2, dtype=torch.float64)
    _, hvp = torch.autograd.functional.hvp(pow_reducer, x, v)
    hessian = torch.autograd.functional.hessian(pow_reducer, x)
    _, jvp = torch.autograd.functional.jvp(lambda t: t.exp(), x, v)
    return [float(hvp.sum()), float(hessian.sum()), float(jvp.sum())]


def legendre(torch):
    """PyTorch's tutorial "Defining new autograd functions", a few steps."""
    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    x = torch.linspace(-math.pi, math.pi, 200, dtype=torch.float64)
    y = torch.sin(x)
    a = torch.full((), 0.0, dtype=torch.float64, requires_grad=True)
    b = torch.full((), -1.0, dtype=torch.float64, requires_grad=True)
    c = torch.full((), 0.0, dtype=torch.float64, requires_grad=True)
    d = torch.full((), 0.3, dtype=torch.float64, requires_grad=True)
    for _ in range(20):
        y_pred = a + b * LegendrePolynomial3.apply(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= 5e-6 * p.grad
                p.grad = None
    return [loss.item(), a.item(), b.item(), c.item(), d.item()]


def hooks(torch):
    """A hook doubling a non-leaf's gradient, one on a leaf, and retain_grad."""
    x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.sum().item()))
    h = x * x
    h.register_hook(lambda g: g * 2)
    h.retain_grad()
    (h.sin()).sum().backward()
    return [*x.grad.tolist(), *h.grad.tolist(), *seen]


def main() -> None:
    try:
        import torch
    except ImportError:
        torch = None
    for part in (greeks, gradient_penalty, functional, legendre, hooks):
        ours = part(tapegrad)
        line = f"{part.__name__:17} tapegrad " + " ".join(f"{v:.10g}" for v in ours)
        if torch is not None:
            torch.set_default_dtype(torch.float64)
            theirs = part(torch)
            np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
            line += "\n" + " " * 18 + "torch    " + " ".join(f"{v:.10g}" for v in theirs)
        print(line)


if __name__ == "__main__":
    main()
