"""Recurrent layers (tapegrad.nn.rnn) against torch: a torch state dict loaded into RNN / LSTM /
GRU and the cells gives torch's outputs, final states and gradients (inputs, initial states,
every parameter) in float64 and float32, over layers, directions, batch_first, biases,
projections and unbatched inputs; reprs, parameter names, initialisation bounds, errors;
finite differences, second order and tg.compile."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from helpers import check_gradients

import tapegrad as tg
from tapegrad import nn

rng = np.random.default_rng(31)


def _torch():
    return pytest.importorskip("torch")


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-5, atol=2e-6)


def _flat(out):
    """The tensors of an RNN's result, in order: output, h_n (, c_n)."""
    if isinstance(out, tuple):
        return [t for part in out for t in _flat(part)]
    return [out]


def _pair(name, dtype, *args, **kwargs):
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(torch.nn, name)(*args, **kwargs).to(getattr(torch, dtype))
        ours = getattr(nn, name)(*args, **kwargs, dtype=getattr(tg, dtype))
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs, torch


def _compare(ours, theirs, x, hx, dtype):
    """Outputs and all gradients (input, initial state, parameters) of both modules."""
    torch = _torch()
    tol = _tol(dtype)
    xa = tg.tensor(x, dtype=getattr(tg, dtype), requires_grad=True)
    xb = torch.tensor(x, dtype=getattr(torch, dtype), requires_grad=True)
    ha = hb = None
    if hx is not None:
        ha = tuple(tg.tensor(h, dtype=getattr(tg, dtype), requires_grad=True) for h in hx)
        hb = tuple(torch.tensor(h, dtype=getattr(torch, dtype), requires_grad=True)
                   for h in hx)
    lstm = "LSTM" in type(ours).__name__
    out_a = ours(xa, None if ha is None else (ha if lstm else ha[0]))
    out_b = theirs(xb, None if hb is None else (hb if lstm else hb[0]))
    fa, fb = _flat(out_a), _flat(out_b)
    assert [tuple(t.shape) for t in fa] == [tuple(t.shape) for t in fb]
    loss_a, loss_b = 0, 0
    for a, b in zip(fa, fb, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), **tol)
        g = rng.standard_normal(tuple(b.shape))
        loss_a = loss_a + (a * tg.tensor(g, dtype=a.dtype)).sum()
        loss_b = loss_b + (b * torch.tensor(g, dtype=b.dtype)).sum()
    loss_a.backward()
    loss_b.backward()
    np.testing.assert_allclose(xa.grad.numpy(), xb.grad.numpy(), **tol)
    for a, b in zip(ha or (), hb or (), strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                 strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), **tol, err_msg=name)


CONFIGS = [
    dict(),
    dict(num_layers=2),
    dict(batch_first=True),
    dict(bidirectional=True),
    dict(num_layers=3, bidirectional=True, batch_first=True),
    dict(bias=False, num_layers=2),
    dict(num_layers=2, dropout=0.5),  # (dropout compared in eval mode: see below)
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", CONFIGS, ids=str)
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("with_hx", [False, True])
def test_rnn_matches_torch(name, kw, dtype, with_hx):
    ours, theirs, _ = _pair(name, dtype, 3, 4, **kw)
    if kw.get("dropout"):
        ours.eval()
        theirs.eval()
    d = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)
    x = rng.standard_normal((2, 5, 3) if kw.get("batch_first") else (5, 2, 3))
    hx = None
    if with_hx:
        hx = [rng.standard_normal((layers * d, 2, 4))]
        if name == "LSTM":
            hx.append(rng.standard_normal((layers * d, 2, 4)))
    _compare(ours, theirs, x, hx, dtype)


@pytest.mark.parametrize("kw", [dict(nonlinearity="relu"), dict(nonlinearity="relu",
                                                                num_layers=2,
                                                                bidirectional=True)], ids=str)
def test_relu_rnn_matches_torch(kw):
    ours, theirs, _ = _pair("RNN", "float64", 3, 4, **kw)
    _compare(ours, theirs, rng.standard_normal((6, 3, 3)), None, "float64")


@pytest.mark.parametrize("kw", [dict(proj_size=2), dict(proj_size=3, num_layers=2,
                                                        bidirectional=True)], ids=str)
def test_lstm_projection_matches_torch(kw):
    ours, theirs, _ = _pair("LSTM", "float64", 3, 4, **kw)
    d = 2 if kw.get("bidirectional") else 1
    n = d * kw.get("num_layers", 1)
    hx = [rng.standard_normal((n, 2, kw["proj_size"])), rng.standard_normal((n, 2, 4))]
    _compare(ours, theirs, rng.standard_normal((5, 2, 3)), hx, "float64")
    assert [n for n, _ in ours.named_parameters()] == \
        [n for n, _ in theirs.named_parameters()]


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_matches_torch(name):
    ours, theirs, _ = _pair(name, "float64", 3, 4, num_layers=2, bidirectional=True)
    _compare(ours, theirs, rng.standard_normal((5, 3)), None, "float64")
    hx = [rng.standard_normal((4, 4))] * (2 if name == "LSTM" else 1)
    _compare(ours, theirs, rng.standard_normal((5, 3)), hx, "float64")


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells_match_torch(name, dtype, bias):
    ours, theirs, _ = _pair(name, dtype, 3, 5, bias=bias)
    n_states = 2 if name == "LSTMCell" else 1
    _compare(ours, theirs, rng.standard_normal((4, 3)), None, dtype)
    _compare(ours, theirs, rng.standard_normal((4, 3)),
             [rng.standard_normal((4, 5)) for _ in range(n_states)], dtype)
    _compare(ours, theirs, rng.standard_normal(3),
             [rng.standard_normal(5) for _ in range(n_states)], dtype)


def test_relu_cell_matches_torch():
    ours, theirs, _ = _pair("RNNCell", "float64", 3, 5, nonlinearity="relu")
    assert repr(ours) == repr(theirs) == "RNNCell(3, 5, nonlinearity=relu)"
    _compare(ours, theirs, rng.standard_normal((4, 3)), [rng.standard_normal((4, 5))],
             "float64")


def test_reprs_names_and_init_match_torch():
    torch = _torch()
    makers = [lambda n: n.RNN(3, 4), lambda n: n.RNN(3, 4, 2, nonlinearity="relu"),
              lambda n: n.LSTM(3, 4, 2, False, True, 0.0, True),
              lambda n: n.RNN(3, 4, 2, "relu", False, True, 0.0, True),
              lambda n: n.LSTM(3, 4, num_layers=2, bias=False, batch_first=True,
                               dropout=0.25, bidirectional=True, proj_size=2),
              lambda n: n.GRU(3, 4, bidirectional=True), lambda n: n.RNNCell(3, 4),
              lambda n: n.LSTMCell(3, 4, bias=False), lambda n: n.GRUCell(3, 4),
              lambda n: n.Sequential(n.LSTM(2, 3), n.GRUCell(3, 3))]
    for make in makers:
        ours, theirs = make(nn), make(torch.nn)
        assert repr(ours) == repr(theirs)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
        for attr in ("mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
                     "dropout", "bidirectional", "proj_size", "nonlinearity",
                     "_flat_weights_names", "_all_weights"):
            assert getattr(ours, attr, None) == getattr(theirs, attr, None), attr
    # the values are tapegrad's draws; the bounds are torch's (+-1/sqrt(hidden_size))
    lstm = nn.LSTM(10, 64, num_layers=2)
    for name, p in lstm.named_parameters():
        v = p.detach().numpy()
        assert np.abs(v).max() <= 1 / 8 and np.abs(v).max() > 0.9 / 8, name
        assert p.requires_grad


def test_flat_weights_and_all_weights():
    gru = nn.GRU(2, 3, num_layers=2, bias=False)
    assert [tuple(w.shape) for layer in gru.all_weights for w in layer] == \
        [(9, 2), (9, 3), (9, 3), (9, 3)]
    assert gru._flat_weights[0] is gru.weight_ih_l0
    gru.flatten_parameters()


def _raised(call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as e:  # noqa: BLE001 -- the error itself is compared
        return type(e), str(e)
    return None


ERRORS = [
    lambda n, z: n.RNN(3, 4)(z(2, 2, 2, 3)),
    lambda n, z: n.LSTM(3, 4)(z(2)),
    lambda n, z: n.GRU(3, 4)(z(2, 2, 2, 3)),
    lambda n, z: n.RNN(3, 4)(z(5, 2, 2)),
    lambda n, z: n.RNN(3, 4)(z(5, 2, 3), z(2, 4)),
    lambda n, z: n.RNN(3, 4)(z(5, 3), z(1, 2, 4)),
    lambda n, z: n.RNN(3, 4)(z(5, 2, 3), z(1, 3, 4)),
    lambda n, z: n.GRU(3, 4, bidirectional=True)(z(5, 2, 3), z(1, 2, 4)),
    lambda n, z: n.LSTM(3, 4)(z(5, 2, 3), (z(1, 2, 4), z(2, 4))),
    lambda n, z: n.LSTM(3, 4)(z(5, 2, 3), (z(1, 2, 3), z(1, 2, 4))),
    lambda n, z: n.LSTM(3, 4)(z(5, 2, 3), (z(1, 2, 4), z(1, 2, 3))),
    lambda n, z: n.LSTM(3, 4, proj_size=4),
    lambda n, z: n.LSTM(3, 4, proj_size=-1),
    lambda n, z: n.GRU(3, 4, proj_size=2),
    lambda n, z: n.RNN(3, 4, nonlinearity="sigmoid"),
    lambda n, z: n.RNN(3, 4, dropout=1.5),
    lambda n, z: n.RNN(3, 0),
    lambda n, z: n.RNN(3, 4, 0),
    lambda n, z: n.RNN(3.0, 4),
    lambda n, z: n.RNN(3, 4, batch_first=1),
    lambda n, z: n.RNNCell(3, 4)(z(2, 2, 3)),
    lambda n, z: n.LSTMCell(3, 4)(z(2, 3), (z(2, 2, 4), z(2, 2, 4))),
    lambda n, z: n.GRUCell(3, 4)(z(2, 2)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    torch = _torch()
    theirs = _raised(lambda: ERRORS[i](torch.nn, torch.zeros))
    assert theirs is not None
    assert _raised(lambda: ERRORS[i](nn, tg.zeros)) == theirs


def test_dropout_warning_and_training_dropout():
    torch = _torch()
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(2, 3, dropout=0.3)
    with pytest.warns(UserWarning) as theirs:
        torch.nn.LSTM(2, 3, dropout=0.3)
    with pytest.warns(UserWarning) as ours:
        nn.LSTM(2, 3, dropout=0.3)
    assert str(ours[0].message) == str(theirs[0].message)
    # while training, the first layer's output is dropped out: outputs differ from eval's
    gru = nn.GRU(2, 3, num_layers=2, dropout=0.9)
    x = tg.tensor(rng.standard_normal((4, 2, 2)))
    train_out = gru(x)[0].detach().numpy()
    gru.eval()
    assert not np.allclose(train_out, gru(x)[0].detach().numpy())


def test_rnn_gradients_by_finite_differences():
    tg.manual_seed(0)
    for make in (lambda: nn.LSTM(2, 3, num_layers=2, bidirectional=True),
                 lambda: nn.GRU(2, 3, batch_first=True), lambda: nn.RNN(2, 3)):
        module = make()
        params = [p.detach().numpy().copy() for p in module.parameters()]
        names = [n for n, _ in module.named_parameters()]

        def run(x, *ps, module=module, names=names):
            state = dict(zip(names, ps, strict=True))
            for n, p in state.items():
                module._parameters[n] = p  # (differentiable stand-ins for the parameters)
            return module(x)[0]

        check_gradients(run, [rng.standard_normal((3, 2, 2))] + params)


def test_lstm_second_order_matches_torch():
    ours, theirs, torch = _pair("LSTM", "float64", 2, 3)
    x = rng.standard_normal((4, 2, 2))
    results = []
    for lib, module in ((tg, ours), (torch, theirs)):
        xt = lib.tensor(x, requires_grad=True)
        y = (module(xt)[0] ** 2).sum()
        grad = tg.autograd.grad if lib is tg else torch.autograd.grad
        gx, = grad(y, [xt], create_graph=True)
        (gx * gx).sum().backward()
        results.append([xt.grad.numpy().copy()] +
                       [p.grad.numpy().copy() for p in module.parameters()])
    for mine, theirs_ in zip(results[0], results[1], strict=True):
        np.testing.assert_allclose(mine, theirs_, rtol=1e-9, atol=1e-11)


def test_gru_under_compile():
    gru = nn.GRU(2, 3, num_layers=2, batch_first=True)

    def f(x):
        out, h = gru(x)
        return (out.sum(1) * h[-1]).sum()

    tape = tg.compile(f, rng.standard_normal((2, 5, 2)))
    for _ in range(2):
        x = rng.standard_normal((2, 5, 2))
        xt = tg.tensor(x, requires_grad=True)
        y = f(xt)
        y.backward()
        np.testing.assert_allclose(tape(x), y.item(), rtol=1e-12)
        np.testing.assert_allclose(tape.gradient(x), xt.grad.numpy(), rtol=1e-11, atol=1e-13)
    assert tape.retapes == 0


def test_char_model_trains_as_torch():
    torch = _torch()

    def build(n):
        class Net(n.Module):
            def __init__(self):
                super().__init__()
                self.rnn = n.LSTM(3, 8, num_layers=2, batch_first=True)
                self.head = n.Linear(8, 3)

            def forward(self, x):
                return self.head(self.rnn(x)[0][:, -1])

        return Net()

    theirs = build(torch.nn).double()
    ours = build(nn)
    ours.load_state_dict(theirs.state_dict())
    oa = tg.optim.SGD(ours.parameters(), lr=0.5)
    ob = torch.optim.SGD(theirs.parameters(), lr=0.5)
    for _ in range(4):
        x = rng.standard_normal((4, 6, 3))
        y = rng.integers(0, 3, 4)
        losses = []
        for lib, net, opt in ((tg, ours, oa), (torch, theirs, ob)):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(net(lib.tensor(x)), lib.tensor(y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert math.isclose(losses[0], losses[1], rel_tol=1e-11)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                 strict=True):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=name)


def test_input_dtype_must_match_weights_as_torch():
    torch = _torch()
    mine = _raised(lambda: nn.LSTM(3, 4, dtype=tg.float32)(tg.zeros(2, 1, 3)))
    theirs = _raised(lambda: torch.nn.LSTM(3, 4)(torch.zeros(2, 1, 3, dtype=torch.float64)))
    assert mine[0] is theirs[0] is ValueError
    assert mine[1].replace("tapegrad.", "torch.") == theirs[1]
