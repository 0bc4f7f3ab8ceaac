"""Logistic regression trained with tapegrad.nn and tapegrad.optim -- the torch program with
only the import changed -- and, when torch is installed, the same program under torch.

Run:  python examples/logistic_regression.py

Data: two overlapping Gaussian clouds in 2-D (generated here, no download), 400 points, labels
0/1.  Model: ``nn.Linear(2, 1)`` on standardised features, ``nn.BCEWithLogitsLoss``, plain SGD
with momentum for 200 full-batch epochs and a StepLR schedule.  Both frameworks start from the
same weights, so their losses and weights agree to rounding.
"""

import numpy as np

import tapegrad as tg

rng = np.random.default_rng(0)
N = 200
X = np.concatenate([rng.normal([-1.0, -0.5], 1.0, (N, 2)),
                    rng.normal([1.0, 0.8], 1.0, (N, 2))])
Y = np.concatenate([np.zeros(N), np.ones(N)])[:, None]
X = (X - X.mean(0)) / X.std(0)
W0, B0 = np.array([[0.3, -0.2]]), np.array([0.1])


def train(lib):
    """The training program, written once for ``lib`` = tapegrad or torch."""
    nn = lib.nn
    model = nn.Linear(2, 1).double()
    model.load_state_dict({"weight": lib.tensor(W0), "bias": lib.tensor(B0)})  # same start
    loss_fn = nn.BCEWithLogitsLoss()
    opt = lib.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    sched = lib.optim.lr_scheduler.StepLR(opt, step_size=50, gamma=0.5)
    x, y = lib.tensor(X), lib.tensor(Y)
    for _ in range(200):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
    with lib.no_grad():
        logits = model(x)
        accuracy = float(((logits > 0).double() == y).double().mean())
    return (float(loss.item()), accuracy, model.weight.detach().numpy().ravel().copy(),
            float(model.bias.item()))


def report(name, result):
    loss, accuracy, w, b = result
    print(f"{name:9s} loss {loss:.12f}  accuracy {accuracy:.3f}  "
          f"weight {np.array2string(w, precision=10)}  bias {b:.10f}")


ours = train(tg)
report("tapegrad", ours)
try:
    import torch
except ImportError:
    print("(torch is not installed: no comparison)")
else:
    theirs = train(torch)
    report("torch", theirs)
    print(f"largest difference in the weights: {np.abs(ours[2] - theirs[2]).max():.1e}")
