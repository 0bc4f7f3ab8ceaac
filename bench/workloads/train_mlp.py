"""train-mlp: training through each framework's nn and optim packages.

- ``train-mlp``: 100 steps of Adam (lr 1e-3) on the ``mlp`` workload's network (784 -> 512 tanh
  -> 10, batch 256, mean softmax cross-entropy against fixed labels), written with
  ``nn.Sequential(nn.Linear, nn.Tanh, nn.Linear)``, ``nn.CrossEntropyLoss`` and
  ``optim.Adam``, from the same starting parameters on every call.  The results are the final
  parameters, as the ``mlp`` workload lays them out (``W1, b1, W2, b2``).
- ``adam-step-337``: one ``Adam.step()`` over the ``scalar-mlp`` workload's 337 parameters, each
  a separate 0-d tensor holding a fixed gradient (the optimiser's own cost, no model).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import mlp, scalar_mlp
from .base import Call, Case, Workload, rng

STEPS = 100
LR = 1e-3


def _train(lib: Any, float64: Any) -> Call:
    """The training program, once for tapegrad and torch (the same text)."""
    nn = lib.nn
    x, labels, (w1, b1, w2, b2) = mlp.inputs()
    start = {"0.weight": w1.T.copy(), "0.bias": b1, "2.weight": w2.T.copy(), "2.bias": b2}
    model = nn.Sequential(nn.Linear(mlp.IN, mlp.HIDDEN), nn.Tanh(),
                          nn.Linear(mlp.HIDDEN, mlp.OUT)).to(float64)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = lib.tensor(x, dtype=float64), lib.tensor(labels)
    start_tensors = {k: lib.tensor(v, dtype=float64) for k, v in start.items()}

    def call() -> list[np.ndarray]:
        model.load_state_dict(start_tensors)
        opt = lib.optim.Adam(model.parameters(), lr=LR)
        for _ in range(STEPS):
            opt.zero_grad()
            loss_fn(model(xt), yt).backward()
            opt.step()
        sd = model.state_dict()
        return [sd["0.weight"].numpy().T.copy(), sd["0.bias"].numpy().copy(),
                sd["2.weight"].numpy().T.copy(), sd["2.bias"].numpy().copy()]
    return call


def _adam_step(lib: Any, float64: Any) -> Call:
    params, _, _ = scalar_mlp.inputs()
    grads = rng(4).standard_normal(len(params)).tolist()
    ps = [lib.tensor(p, dtype=float64, requires_grad=True) for p in params]
    for p, g in zip(ps, grads, strict=True):
        p.grad = lib.tensor(g, dtype=float64)
    opt = lib.optim.Adam(ps, lr=LR)

    def call() -> list[np.ndarray]:
        opt.step()
        return [np.array([p.item() for p in ps])]
    return call


def _tapegrad(mode: str) -> Call:
    import tapegrad as tg

    return (_train if mode == "train" else _adam_step)(tg, tg.float64)


def _torch(mode: str) -> Call:
    import torch

    return (_train if mode == "train" else _adam_step)(torch, torch.float64)


WORKLOAD = Workload(
    name="train-mlp",
    # (train-mlp runs in --quick only when asked for by name: 100 full training steps)
    cases=(Case("train-mlp", {"mode": "train"}, quick=False),
           Case("adam-step-337", {"mode": "step"})),
    setups={"tapegrad": _tapegrad, "torch": _torch},
    unsupported={name: "no nn/optim package to time (the workload is nn + optim)"
                 for name in ("tapegrad-compiled", "jax", "jax-jit", "autograd", "micrograd",
                              "numpy", "numba")},
)
