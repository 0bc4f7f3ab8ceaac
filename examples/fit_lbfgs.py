"""Fit a damped oscillator to noisy measurements with ``tapegrad.optim.LBFGS`` (strong-Wolfe
line search) -- and, when torch is installed, the same program under ``torch.optim.LBFGS``.

Run:  python examples/fit_lbfgs.py

Model: x(t) = A exp(-gamma t) cos(omega t + phi), four parameters, 120 samples on [0, 10] with
Gaussian noise (sigma = 0.02), generated here.  The loss is the mean squared residual; the
closure re-evaluates it and its gradient, as L-BFGS asks.
"""

import numpy as np

import tapegrad as tg

TRUE = {"A": 1.3, "gamma": 0.35, "omega": 2.1, "phi": 0.4}
START = {"A": 1.0, "gamma": 0.2, "omega": 2.0, "phi": 0.0}

rng = np.random.default_rng(1)
T = np.linspace(0.0, 10.0, 120)
X = TRUE["A"] * np.exp(-TRUE["gamma"] * T) * np.cos(TRUE["omega"] * T + TRUE["phi"])
X = X + rng.normal(0.0, 0.02, T.shape)


def fit(lib):
    """The fitting program, written once for ``lib`` = tapegrad or torch."""
    params = {k: lib.tensor(v, dtype=lib.float64, requires_grad=True) for k, v in START.items()}
    t, x = lib.tensor(T), lib.tensor(X)
    opt = lib.optim.LBFGS(list(params.values()), lr=1.0, max_iter=100,
                          line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                          tolerance_change=1e-14)

    def closure():
        opt.zero_grad()
        p = params
        model = p["A"] * lib.exp(-p["gamma"] * t) * lib.cos(p["omega"] * t + p["phi"])
        loss = ((model - x) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    evals = opt.state[params["A"]]["func_evals"]
    return float(closure().item()), {k: v.item() for k, v in params.items()}, evals


def report(name, result):
    loss, fitted, evals = result
    values = "  ".join(f"{k}={v:.10f}" for k, v in fitted.items())
    print(f"{name:9s} mse {loss:.12e}  {values}  ({evals} evaluations)")


print("true      " + "  ".join(f"{k}={v}" for k, v in TRUE.items()))
ours = fit(tg)
report("tapegrad", ours)
try:
    import torch
except ImportError:
    print("(torch is not installed: no comparison)")
else:
    theirs = fit(torch)
    report("torch", theirs)
    diff = max(abs(ours[1][k] - theirs[1][k]) for k in TRUE)
    print(f"largest difference in the fitted parameters: {diff:.1e}")
