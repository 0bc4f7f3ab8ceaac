"""Minimise with SciPy, using tapegrad for exact gradients.

Run:  python examples/scipy_minimize.py      (needs scipy: pip install scipy)

``tg.value_and_grad(f)`` turns a function of tensors into one that takes a NumPy array and
returns ``(value, gradient)`` as NumPy arrays -- exactly what ``scipy.optimize.minimize(fun,
x0, jac=True)`` expects, so SciPy never needs finite differences.
"""

import time

import numpy as np
from scipy.optimize import minimize

import tapegrad as tg

start = time.perf_counter()


# --- 1. The Rosenbrock function in 10-D ---------------------------------------------------------
# f(x) = sum_i 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, minimum 0 at x = (1, ..., 1).
# Written with slices of a tensor: tapegrad records them, and the gradient comes for free.
def rosenbrock(x):
    return (100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum()


x0 = np.tile([1.3, 0.7, 0.8, 1.9, 1.2], 2)  # SciPy's tutorial start, in 10-D
result = minimize(tg.value_and_grad(rosenbrock), x0, jac=True, method="BFGS",
                  options={"gtol": 1e-8})
print("Rosenbrock 10-D (BFGS)")
print(f"  success: {result.success}, {result.nit} iterations, {result.nfev} evaluations")
print(f"  f(x*) = {result.fun:.3e}")
print(f"  x* = {np.array2string(result.x, precision=6)}")


# --- 2. L2-regularised logistic regression ------------------------------------------------------
# Data: 200 points in 3-D whose labels come from a known weight vector (plus label noise).
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 3))
w_true = np.array([2.0, -1.0, 0.5])
y = (X @ w_true + 0.3 * rng.normal(size=200) > 0).astype(np.float64)


def loss(params, X, y, l2=1e-2):
    # Extra arguments (the data) are passed through unchanged; only `params` is differentiated.
    w, b = params[:3], params[3]
    logits = X @ w + b
    # log(1 + exp(z)) - y z, written with logsumexp over [0, z] so large |z| cannot overflow
    zeros = tg.zeros(logits.shape)
    nll = tg.logsumexp(tg.stack([zeros, logits], dim=1), dim=1) - y * logits
    return nll.mean() + l2 * (w ** 2).sum()


result = minimize(tg.value_and_grad(loss), np.zeros(4), args=(X, y), jac=True, method="L-BFGS-B")
w, b = result.x[:3], result.x[3]
accuracy = np.mean(((X @ w + b) > 0) == (y > 0.5))
print("\nLogistic regression (L-BFGS-B)")
print(f"  success: {result.success}, {result.nit} iterations, loss {result.fun:.4f}")
direction = np.array2string(w / np.linalg.norm(w), precision=3)
true_direction = np.array2string(w_true / np.linalg.norm(w_true), precision=3)
print(f"  weights {np.array2string(w, precision=3)}, bias {b:.3f}")
print(f"  direction of the weights: fitted {direction}, true {true_direction}")
print(f"  training accuracy {accuracy:.1%}")

print(f"\n(done in {time.perf_counter() - start:.2f} s)")
