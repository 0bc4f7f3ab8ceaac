"""Module forward hooks and pre-hooks (register_forward_hook / register_forward_pre_hook),
against torch: order, prepend, with_kwargs, replaced arguments and outputs, removal, the
gradient through a hook's replacement; and get_buffer."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")


class _Scale:
    def __init__(self, lib):
        self.lib = lib

    def make(self):
        lib = self.lib

        class Net(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = lib.nn.Linear(2, 3)
                self.register_buffer("offset", lib.ones(3))

            def forward(self, x, scale=1.0):
                return self.fc(x) * scale + self.offset

        return Net()


def _program(lib):
    torch.manual_seed(0)
    net = _Scale(lib).make()
    if lib is tg:  # (torch's initial weights, so both compute the same numbers)
        theirs = _program.weights
        net.load_state_dict({k: tg.tensor(v) for k, v in theirs.items()})
    else:
        _program.weights = {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}
    calls = []
    handles = [
        net.register_forward_pre_hook(lambda m, args: calls.append("pre1")),
        net.register_forward_pre_hook(lambda m, args: (args[0] * 2,)),
        net.register_forward_pre_hook(lambda m, args, kwargs: calls.append("pre0"),
                                      prepend=True, with_kwargs=True),
        net.register_forward_pre_hook(
            lambda m, args, kwargs: (args, {**kwargs, "scale": 3.0}), with_kwargs=True),
        net.register_forward_hook(lambda m, args, out: calls.append(("out", tuple(out.shape)))),
        net.register_forward_hook(lambda m, args, out: out * out),
        net.register_forward_hook(lambda m, args, kwargs, out: calls.append(kwargs["scale"]),
                                  with_kwargs=True),
    ]
    x = lib.tensor([[1.0, -1.0], [0.5, 2.0]], requires_grad=True)
    y = net(x, scale=0.5)
    y.sum().backward()
    handles[1].remove()
    handles[5].remove()
    z = net(x)
    return calls, y.tolist(), x.grad.tolist(), z.tolist(), net.get_buffer("offset").tolist()


def test_forward_hooks_run_as_torch_s():
    theirs = _program(torch)
    mine = _program(tg)
    assert mine[0] == theirs[0]
    for a, b in zip(mine[1:], theirs[1:], strict=True):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-6)


def test_a_module_without_hooks_calls_forward_directly():
    net = tg.nn.Linear(2, 1)
    assert "_forward_hooks" not in net.__dict__
    handle = net.register_forward_hook(lambda m, a, o: o * 0)
    assert net(tg.ones(1, 2)).tolist() == [[0.0]]
    handle.remove()
    assert net(tg.ones(1, 2)).tolist() != [[0.0]]
