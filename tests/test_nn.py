"""tapegrad.nn against torch.nn: registration and traversal, repr, state dicts, dtype
conversion, modes, initialisation, and whole networks (values, gradients, training)."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn

rng = np.random.default_rng(5)


def _pair():
    torch = pytest.importorskip("torch")

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(),
                                            torch.nn.Linear(5, 4))
            self.heads = torch.nn.ModuleList([torch.nn.Linear(4, 2),
                                              torch.nn.Linear(4, 2, bias=False)])
            self.extra = torch.nn.ModuleDict({"act": torch.nn.GELU(),
                                              "drop": torch.nn.Dropout(0.3)})
            self.register_buffer("scale", torch.tensor([2.0], dtype=torch.float64))

        def forward(self, x):
            h = self.extra["act"](self.body(x)) * self.scale
            return self.heads[0](h) + self.heads[1](h)

    class TgNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4))
            self.heads = nn.ModuleList([nn.Linear(4, 2), nn.Linear(4, 2, bias=False)])
            self.extra = nn.ModuleDict({"act": nn.GELU(), "drop": nn.Dropout(0.3)})
            self.register_buffer("scale", tg.tensor([2.0]))

        def forward(self, x):
            h = self.extra["act"](self.body(x)) * self.scale
            return self.heads[0](h) + self.heads[1](h)

    a, b = TgNet(), TorchNet().double()
    a.load_state_dict(b.state_dict())  # (a torch state dict, converted)
    return a, b, torch


def test_traversal_and_repr_match_torch():
    a, b, torch = _pair()
    assert [n for n, _ in a.named_parameters()] == [n for n, _ in b.named_parameters()]
    assert [tuple(p.shape) for p in a.parameters()] == [tuple(p.shape) for p in b.parameters()]
    assert [n for n, _ in a.named_modules()] == [n for n, _ in b.named_modules()]
    assert [n for n, _ in a.named_children()] == [n for n, _ in b.named_children()]
    assert [n for n, _ in a.named_buffers()] == [n for n, _ in b.named_buffers()]
    assert list(a.state_dict()) == list(b.state_dict())
    assert repr(a).replace("TgNet", "X") == repr(b).replace("TorchNet", "X")
    assert all(isinstance(p, nn.Parameter) for p in a.parameters())
    assert all(p.requires_grad and p.is_leaf for p in a.parameters())


def test_forward_backward_match_torch():
    a, b, torch = _pair()
    x = rng.standard_normal((7, 3))
    ya, yb = a(tg.tensor(x)), b(torch.tensor(x))
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-12)
    (ya * ya).sum().backward()
    (yb * yb).sum().backward()
    for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-11, err_msg=n)


def test_training_with_optimizer_matches_torch():
    a, b, torch = _pair()
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
    oa = tg.optim.Adam(a.parameters(), lr=0.01)
    ob = torch.optim.Adam(b.parameters(), lr=0.01)
    la, lb = nn.MSELoss(), torch.nn.MSELoss()
    xa, ya, xb, yb = tg.tensor(x), tg.tensor(y), torch.tensor(x), torch.tensor(y)
    for _ in range(100):
        oa.zero_grad()
        la(a(xa), ya).backward()
        oa.step()
        ob.zero_grad()
        lb(b(xb), yb).backward()
        ob.step()
    for (n, p), (_, q) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-12, atol=1e-12, err_msg=n)


def test_state_dict_round_trip_and_errors():
    net = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    sd = pickle.loads(pickle.dumps(net.state_dict()))
    other = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    weight = other[0].weight
    assert repr(other.load_state_dict(sd)) == "<All keys matched successfully>"
    assert other[0].weight is weight  # copied in place
    for p, q in zip(net.parameters(), other.parameters(), strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    # state_dict values are detached views of the parameters
    sd_live = net.state_dict()
    assert not sd_live["0.weight"].requires_grad
    with tg.no_grad():
        net[0].weight.mul_(2.0)
    np.testing.assert_array_equal(sd_live["0.weight"].numpy(), net[0].weight.detach().numpy())
    bad = dict(sd)
    bad["0.weight"] = tg.zeros(4, 2)
    del bad["2.bias"]
    bad["extra"] = tg.zeros(1)
    with pytest.raises(RuntimeError) as info:
        other.load_state_dict(bad)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:")
    assert 'Missing key(s) in state_dict: "2.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra".' in msg
    assert "size mismatch for 0.weight: copying a param with shape tapegrad.Size([4, 2]) " \
           "from checkpoint, the shape in current model is tapegrad.Size([3, 2])." in msg
    del bad["0.weight"]
    result = other.load_state_dict({k: v for k, v in sd.items() if k != "2.bias"},
                                   strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == []


def test_buffers_modes_dtype_and_zero_grad():
    m = nn.Linear(3, 2)
    m.register_buffer("running", tg.zeros(2))
    m.register_buffer("tmp", tg.ones(1), persistent=False)
    assert list(m.state_dict()) == ["weight", "bias", "running"]
    assert [n for n, _ in m.named_buffers()] == ["running", "tmp"]
    assert m.training and not m.eval().training and m.train().training
    seq = nn.Sequential(m, nn.Dropout())
    seq.eval()
    assert not seq[1].training and not seq[0].training
    x = tg.ones(4, 3)
    np.testing.assert_array_equal(seq(x).detach().numpy(), m(x).detach().numpy())
    m(x).sum().backward()
    m.zero_grad(set_to_none=False)
    assert not m.weight.grad.numpy().any()
    m.zero_grad()
    assert m.weight.grad is None
    w = m.weight
    m.to(tg.float32)
    assert m.weight is w and m.weight.dtype == tg.float32 and m.running.dtype == tg.float32
    assert m(tg.ones(1, 3, dtype=tg.float32)).dtype == tg.float32
    m.double()
    assert m.weight.dtype == tg.float64 and m.weight.requires_grad
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        m.train("yes")


def test_registration_rules():
    m = nn.Module()
    m.w = nn.Parameter(tg.zeros(2))
    m.sub = nn.Linear(1, 1)
    m.plain = tg.zeros(1)  # a plain tensor attribute is not a parameter
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    with pytest.raises(TypeError, match="cannot assign 'tapegrad.tensor.Tensor' as parameter"):
        m.w = tg.zeros(2)
    m.w = None
    assert [n for n, _ in m.named_parameters()] == ["sub.weight", "sub.bias"]
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'missing'"):
        _ = m.missing
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        m(1)
    shared = nn.Linear(2, 2)
    twice = nn.Sequential(shared, shared)
    assert len(list(twice.parameters())) == 2
    del m.sub
    assert list(m.parameters()) == []


def test_parameter_shares_storage_and_is_marked():
    data = tg.tensor([1.0, 2.0])
    p = nn.Parameter(data)
    assert isinstance(p, nn.Parameter) and isinstance(p, tg.Tensor)
    assert not isinstance(data, nn.Parameter) and not isinstance(p * 2, nn.Parameter)
    assert p.requires_grad and p.is_leaf
    with tg.no_grad():
        p.add_(1.0)
    np.testing.assert_array_equal(data.numpy(), [2.0, 3.0])
    assert not nn.Parameter(tg.zeros(1), requires_grad=False).requires_grad
    scalar = nn.Parameter(tg.tensor(3.0))
    (scalar * scalar).backward()
    assert scalar.grad.item() == 6.0


def test_linear_default_init_and_init_functions():
    tg.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for t in (lin.weight, lin.bias):
        v = t.detach().numpy()
        assert v.min() >= -bound and v.max() <= bound and v.std() > 0.8 * bound / math.sqrt(3)
    w = tg.empty(200, 300)
    nn.init.xavier_uniform_(w)
    a = math.sqrt(6 / 500)
    assert w.numpy().max() <= a and w.numpy().min() >= -a
    nn.init.kaiming_normal_(w, nonlinearity="relu")
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 300), rel=0.05)
    nn.init.kaiming_uniform_(w, mode="fan_out")
    assert abs(w.numpy()).max() <= math.sqrt(3) * math.sqrt(2.0) / math.sqrt(200)  # (a = 0)
    nn.init.xavier_normal_(w, gain=2.0)
    assert w.numpy().std() == pytest.approx(2 * math.sqrt(2 / 500), rel=0.05)
    nn.init.normal_(w, 3.0, 0.5)
    assert w.numpy().mean() == pytest.approx(3.0, abs=0.01)
    nn.init.uniform_(w, 2.0, 3.0)
    assert 2.0 <= w.numpy().min() and w.numpy().max() <= 3.0
    nn.init.constant_(w, 0.25)
    assert (w.numpy() == 0.25).all()
    nn.init.ones_(w)
    nn.init.zeros_(lin.weight)  # on a parameter: in place, outside autograd
    assert not lin.weight.detach().numpy().any() and lin.weight.requires_grad
    assert nn.init.calculate_gain("tanh") == 5.0 / 3
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed"):
        nn.init.xavier_uniform_(tg.zeros(3))
    tg.manual_seed(1)
    x = nn.Linear(3, 3).weight.detach().numpy()
    tg.manual_seed(1)
    np.testing.assert_array_equal(x, nn.Linear(3, 3).weight.detach().numpy())


MODULES = [
    ("ReLU", (), {}), ("ReLU6", (), {}), ("LeakyReLU", (0.2,), {}), ("ELU", (0.5,), {}),
    ("SELU", (), {}), ("CELU", (1.0,), {}), ("GELU", (), {"approximate": "tanh"}),
    ("SiLU", (), {}), ("Mish", (), {}), ("Softplus", (2.0, 5.0), {}), ("Softsign", (), {}),
    ("Hardtanh", (-0.5, 0.5), {}), ("Sigmoid", (), {}), ("LogSigmoid", (), {}),
    ("Tanh", (), {}), ("Softmax", (1,), {}), ("LogSoftmax", (0,), {}), ("Softmin", (1,), {}),
    ("Identity", (), {}), ("Flatten", (), {}), ("Flatten", (0, -1), {}),
    ("Dropout", (0.5,), {}),
]


@pytest.mark.parametrize("name,args,kw", MODULES, ids=lambda v: str(v))
def test_activation_modules_match_torch(name, args, kw):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((3, 4, 2))
    a = getattr(nn, name)(*args, **kw).eval()
    b = getattr(torch.nn, name)(*args, **kw).eval()
    assert repr(a) == repr(b)
    np.testing.assert_allclose(a(tg.tensor(x)).numpy(), b(torch.tensor(x)).numpy(), rtol=1e-12)


LOSSES = [
    ("MSELoss", {}), ("L1Loss", {"reduction": "sum"}), ("SmoothL1Loss", {"beta": 0.5}),
    ("HuberLoss", {"delta": 0.3}), ("KLDivLoss", {"reduction": "batchmean"}),
    ("PoissonNLLLoss", {"full": True}), ("BCEWithLogitsLoss", {}),
]


@pytest.mark.parametrize("name,kw", LOSSES, ids=lambda v: str(v))
def test_loss_modules_match_torch(name, kw):
    torch = pytest.importorskip("torch")
    x, t = rng.standard_normal((4, 3)), rng.random((4, 3))
    a, b = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(a) == repr(b)
    np.testing.assert_allclose(a(tg.tensor(x), tg.tensor(t)).numpy(),
                               b(torch.tensor(x), torch.tensor(t)).numpy(), rtol=1e-12)


def test_weighted_loss_modules_match_torch():
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((5, 3))
    target = np.array([0, 2, 1, 1, -100])
    w = np.array([0.2, 1.0, 3.0])
    for name in ("CrossEntropyLoss", "NLLLoss"):
        a = getattr(nn, name)(weight=tg.tensor(w), ignore_index=-100)
        b = getattr(torch.nn, name)(weight=torch.tensor(w))
        assert list(a.state_dict()) == list(b.state_dict()) == ["weight"]
        np.testing.assert_allclose(a(tg.tensor(x), tg.tensor(target)).numpy(),
                                   b(torch.tensor(x), torch.tensor(target)).numpy(), rtol=1e-12)
    p, t = 1 / (1 + np.exp(-x)), rng.random((5, 3))
    np.testing.assert_allclose(nn.BCELoss(weight=tg.tensor(w))(tg.tensor(p), tg.tensor(t)).numpy(),
                               torch.nn.BCELoss(weight=torch.tensor(w))(
                                   torch.tensor(p), torch.tensor(t)).numpy(), rtol=1e-12)
    var = np.abs(x) + 0.1
    np.testing.assert_allclose(
        nn.GaussianNLLLoss(full=True)(tg.tensor(x), tg.tensor(t), tg.tensor(var)).numpy(),
        torch.nn.GaussianNLLLoss(full=True)(torch.tensor(x), torch.tensor(t),
                                            torch.tensor(var)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        nn.CosineSimilarity(dim=0)(tg.tensor(x), tg.tensor(t)).numpy(),
        torch.nn.CosineSimilarity(dim=0)(torch.tensor(x), torch.tensor(t)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        nn.PairwiseDistance(p=1.0)(tg.tensor(x), tg.tensor(t)).numpy(),
        torch.nn.PairwiseDistance(p=1.0)(torch.tensor(x), torch.tensor(t)).numpy(), rtol=1e-12)
    bil_a = nn.Bilinear(3, 2, 4)
    bil_b = torch.nn.Bilinear(3, 2, 4).double()
    bil_a.load_state_dict(bil_b.state_dict())
    x2 = rng.standard_normal((5, 2))
    np.testing.assert_allclose(bil_a(tg.tensor(x), tg.tensor(x2)).detach().numpy(),
                               bil_b(torch.tensor(x), torch.tensor(x2)).detach().numpy(),
                               rtol=1e-12)


def test_containers():
    layers = [nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and seq[-1] is layers[2] and list(seq) == layers
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    seq.append(nn.Sigmoid())
    assert len(seq) == 4
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"]
    ml = nn.ModuleList()
    ml.append(nn.Linear(1, 1))
    ml.extend([nn.Linear(1, 2)])
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Linear", "Linear"]
    assert len(list(ml.parameters())) == 4
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.ReLU()
    assert list(md.keys()) == ["a", "b"] and "b" in md and len(md) == 2
    with pytest.raises(IndexError, match="index 5 is out of range"):
        seq[5]


def test_docstring_examples():
    import doctest
    import importlib

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for name in ("tapegrad.nn", "tapegrad.nn.functional", "tapegrad.nn.module",
                 "tapegrad.optim", "tapegrad.optim.optimizer", "tapegrad.optim.lbfgs"):
        for test in finder.find(importlib.import_module(name)):
            runner.run(test)
    assert runner.failures == 0 and runner.tries >= 15


def test_modules_pickle_and_deepcopy():
    import copy

    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    x = tg.tensor(rng.standard_normal((4, 2)))
    for other in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in other.parameters())
        np.testing.assert_array_equal(other(x).detach().numpy(), net(x).detach().numpy())
        with tg.no_grad():
            other[0].weight.mul_(0.0)
        assert net[0].weight.detach().numpy().any()  # a copy, not shared


def test_inplace_activation_modules_in_a_network_match_torch():
    torch = pytest.importorskip("torch")
    a = nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True), nn.Linear(4, 4),
                      nn.LeakyReLU(0.1, inplace=True), nn.Linear(4, 1))
    b = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(inplace=True),
                            torch.nn.Linear(4, 4), torch.nn.LeakyReLU(0.1, inplace=True),
                            torch.nn.Linear(4, 1)).double()
    a.load_state_dict(b.state_dict())
    assert repr(a) == repr(b)
    x = rng.standard_normal((6, 3))
    a(tg.tensor(x)).sum().backward()
    b(torch.tensor(x)).sum().backward()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
