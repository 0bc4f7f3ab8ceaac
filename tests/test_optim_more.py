"""Adadelta, Adamax, NAdam, RAdam, ASGD and Rprop against torch.optim: parameters and state
after 100 steps (float64, 1e-12) on tensors of several shapes (0-d and (1,) included) in two
parameter groups, with each optimiser's options; state dicts (torch's keys, round trips, torch's
loaded); errors and signatures; one kernel call per group and step, compiled on first use."""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pytest

import tapegrad as tg

rng = np.random.default_rng(11)
A = rng.standard_normal((6, 4))
B = rng.standard_normal(6)
INIT = [rng.standard_normal(4), rng.standard_normal(1) * 0.1, np.array(0.7),
        rng.standard_normal((2, 3))]
NAMES = ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"]


@pytest.fixture
def torch64():
    """torch with float64 as its default dtype (tapegrad's): torch keeps the 0-d state NAdam's
    ``mu_product`` and ASGD's ``eta``/``mu`` in the default dtype."""
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(old)


def _loss(lib, params):
    w, b, s, m = params
    z = (lib.tensor(A) @ w).tanh() * s + b
    return ((z - lib.tensor(B)) ** 2).sum() + (w * w).sum() * 0.01 + ((m - 0.5) ** 2).sum()


def _run(lib, name, kw, steps=100, opt=None, ps=None):
    sign = -1.0 if kw.get("maximize") else 1.0  # (maximize the negated loss)
    if ps is None:
        ps = [lib.tensor(v.copy(), requires_grad=True) for v in INIT]
    if opt is None:
        spec = [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.02}]
        opt = getattr(lib.optim, name)(spec, **kw)
    for _ in range(steps):
        opt.zero_grad()
        (_loss(lib, ps) * sign).backward()
        opt.step()
    return ps, opt


def _state(opt):
    """Each parameter's state as ``[(key, float64 array), ...]`` in the state's own order."""
    out = []
    for index, st in opt.state_dict()["state"].items():
        for key, v in st.items():
            out.append((index, key, np.asarray(v.detach().numpy(), dtype=np.float64)))
    return out


def _assert_same(a, oa, b, ob, rtol=1e-12, atol=1e-12):
    for x, y in zip(a, b, strict=True):
        assert x.shape == tuple(y.shape)
        np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=rtol, atol=atol)
    sa, sb = _state(oa), _state(ob)
    assert [k[:2] for k in sa] == [k[:2] for k in sb]  # (torch's keys, in torch's order)
    for (i, key, x), (_, _, y) in zip(sa, sb, strict=True):
        assert x.shape == y.shape, (i, key)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"state[{i}][{key!r}]")


CASES = [
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.7, "eps": 1e-5, "weight_decay": 0.1}),
    ("Adadelta", {"lr": 0.5, "rho": 0.95, "maximize": True}),
    ("Adamax", {"lr": 0.01}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.01, "betas": (0.3, 0.9), "maximize": True}),  # (lerp's second form)
    ("NAdam", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True,
               "maximize": True}),
    ("NAdam", {"lr": 0.01, "betas": (0.3, 0.6), "eps": 1e-6}),
    ("RAdam", {"lr": 0.01}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True,
               "maximize": True}),
    ("RAdam", {"lr": 0.01, "betas": (0.3, 0.6)}),  # (rectified from step 2 on)
    ("ASGD", {"lr": 0.01}),
    ("ASGD", {"lr": 0.01, "lambd": 0.01, "alpha": 0.5, "t0": 20, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.01, "t0": 0, "maximize": True}),
    ("Rprop", {"lr": 0.01}),
    ("Rprop", {"lr": 0.01, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.05)}),
    ("Rprop", {"lr": 0.01, "maximize": True}),
]


@pytest.mark.parametrize("name,kw", CASES, ids=lambda v: str(v))
def test_matches_torch_over_100_steps(torch64, name, kw):
    a, oa = _run(tg, name, kw)
    b, ob = _run(torch64, name, kw)
    _assert_same(a, oa, b, ob)
    ga = [{k: v for k, v in g.items() if k != "params"} for g in oa.state_dict()["param_groups"]]
    gb = [{k: v for k, v in g.items() if k != "params"} for g in ob.state_dict()["param_groups"]]
    assert ga == gb
    assert oa.defaults == ob.defaults


def _numpy_grad(v):
    return np.sin(3 * v) + 0.3 * v - 0.2


@pytest.mark.parametrize("name,kw", [c for c in CASES if c[0] in ("Adamax", "ASGD", "Rprop")],
                         ids=lambda v: str(v))
def test_bit_for_bit_where_torch_computes_no_sqrt(torch64, name, kw):
    """Given the same gradients, torch's arithmetic in torch's order gives torch's numbers to
    the last bit.  (The square-root optimisers differ from torch in the last bit now and then:
    torch's sqrt, MKL's, is not correctly rounded, numba's is.)"""
    if torch64.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"):
        pytest.skip("torch's kernels fuse multiply-adds only where the CPU has FMA")
    start = [rng.standard_normal(37), *INIT]
    res = []
    for lib in (tg, torch64):
        ps = [lib.tensor(v.copy(), requires_grad=True) for v in start]
        opt = getattr(lib.optim, name)([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.02}],
                                       **kw)
        for _ in range(60):
            for p in ps:
                p.grad = lib.tensor(_numpy_grad(p.detach().numpy().copy()))
            opt.step()
        res.append(([p.detach().numpy().copy() for p in ps], _state(opt)))
    for x, y in zip(res[0][0], res[1][0], strict=True):
        np.testing.assert_array_equal(x, y)
    for (_, _, x), (_, _, y) in zip(res[0][1], res[1][1], strict=True):
        np.testing.assert_array_equal(x, y)


STAGGERED = [
    ("Adadelta", {"lr": 0.5, "weight_decay": 0.1}),
    ("Adamax", {"lr": 0.05, "weight_decay": 0.1}),
    ("NAdam", {"lr": 0.05, "momentum_decay": 0.02, "maximize": True}),
    ("NAdam", {"lr": 0.05, "weight_decay": 0.2, "decoupled_weight_decay": True}),
    ("RAdam", {"lr": 0.05, "weight_decay": 0.1}),
    ("ASGD", {"lr": 0.05, "lambd": 0.01, "t0": 10}),
    ("Rprop", {"lr": 0.05, "maximize": True}),
]


@pytest.mark.parametrize("name,kw", STAGGERED, ids=lambda v: str(v))
def test_parameters_joining_at_different_steps_match_torch(torch64, name, kw):
    """Parameters that get their first gradient at different steps have different steps (and
    NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``): the kernels' per-segment numbers."""
    sign = -1.0 if kw.get("maximize") else 1.0
    joins = [0, 3, 3, 7, 0]
    start = INIT + [np.arange(5.0) * 0.3 - 0.4]
    res = []
    for lib in (tg, torch64):
        ps = [lib.tensor(v.copy(), requires_grad=True) for v in start]
        opt = getattr(lib.optim, name)(ps, **kw)
        for i in range(40):
            opt.zero_grad()
            used = [p for p, j in zip(ps, joins, strict=True) if i >= j]
            loss = sum(((p.tanh() - 0.3) ** 2).sum() + (p * p).sum() * 0.1 for p in used)
            (loss * sign).backward()
            opt.step()
        res.append((ps, opt))
    _assert_same(*res[0], *res[1], atol=1e-13)


@pytest.mark.parametrize("name,kw", [("NAdam", {"lr": 0.01}), ("ASGD", {"lr": 0.05, "t0": 5}),
                                     ("Rprop", {}), ("RAdam", {"lr": 0.01})],
                         ids=lambda v: str(v))
def test_many_0d_parameters_match_torch(torch64, name, kw):
    r = np.random.default_rng(5)
    start = r.standard_normal(200)
    target = r.standard_normal(200)
    res = []
    for lib in (tg, torch64):
        ps = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in start.tolist()]
        opt = getattr(lib.optim, name)(ps, **kw)
        for _ in range(30):
            opt.zero_grad()
            loss = 0.0
            for p, t in zip(ps, target.tolist(), strict=True):
                loss = loss + (p - t) * (p - t) * p.tanh()
            loss.backward()
            opt.step()
        res.append(np.array([p.item() for p in ps]))
        assert all(p.shape == () for p in ps)
    np.testing.assert_allclose(res[0], res[1], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name,kw", [("NAdam", {"lr": 0.01, "weight_decay": 0.1}),
                                     ("ASGD", {"lr": 0.05, "lambd": 0.01, "t0": 10})],
                         ids=lambda v: str(v))
def test_scalar_state_in_float32_when_that_is_the_default(name, kw):
    """With float32 the default dtype, torch keeps ``mu_product`` / ``eta`` / ``mu`` as float32
    0-d tensors (rounded every step): so does tapegrad, and the float64 parameters still agree
    with torch's to 1e-12."""
    torch = pytest.importorskip("torch")
    old = tg.get_default_dtype()
    tg.set_default_dtype(tg.float32)
    try:
        assert torch.get_default_dtype() == torch.float32
        a, oa = _run(tg, name, kw, steps=60)
    finally:
        tg.set_default_dtype(old)
    b, ob = _run(torch, name, kw, steps=60)
    _assert_same(a, oa, b, ob)
    for key in {"NAdam": ["mu_product"], "ASGD": ["eta", "mu"]}[name]:
        assert oa.state[a[0]][key].dtype == tg.float32
        assert ob.state[b[0]][key].dtype == torch.float32
    # with the default back to float64, the same run keeps them in float64 (and differs)
    c, oc = _run(tg, name, kw, steps=60)
    assert oc.state[c[0]][key].dtype == tg.float64


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip(torch64, name):
    kw = dict(CASES[[c[0] for c in CASES].index(name) + 1][1])
    ps, opt = _run(tg, name, kw, steps=7)
    saved = pickle.loads(pickle.dumps(opt.state_dict()))
    qs = [tg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ps]
    opt2 = getattr(tg.optim, name)([{"params": qs[:2]}, {"params": qs[2:]}], lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == 0.02
    _run(tg, name, kw, steps=5, opt=opt, ps=ps)
    _run(tg, name, kw, steps=5, opt=opt2, ps=qs)
    for p, q in zip(ps, qs, strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    assert saved["state"][0]["step"].item() == 7.0  # (a copy: not advanced by opt2)
    assert opt2.state_dict()["state"][0]["step"].item() == 12.0
    # torch's state dict, loaded into tapegrad, continues as torch continues
    b, ob = _run(torch64, name, kw, steps=7)
    a = [tg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in b]
    oa = getattr(tg.optim, name)([{"params": a[:2]}, {"params": a[2:]}])
    oa.load_state_dict(ob.state_dict())
    _run(torch64, name, kw, steps=20, opt=ob, ps=b)
    _run(tg, name, kw, steps=20, opt=oa, ps=a)
    _assert_same(a, oa, b, ob)


def test_state_keys_are_torchs(torch64):
    want = {"Adadelta": ["step", "square_avg", "acc_delta"],
            "Adamax": ["step", "exp_avg", "exp_inf"],
            "NAdam": ["step", "mu_product", "exp_avg", "exp_avg_sq"],
            "RAdam": ["step", "exp_avg", "exp_avg_sq"],
            "ASGD": ["step", "eta", "mu", "ax"],
            "Rprop": ["step", "prev", "step_size"]}
    for name, keys in want.items():
        for lib in (tg, torch64):
            w = lib.tensor([1.0, 2.0], requires_grad=True)
            opt = getattr(lib.optim, name)([w])
            assert len(opt.state) == 0
            (w * w).sum().backward()
            opt.step()
            assert list(opt.state[w]) == keys, (lib.__name__, name)
            assert opt.state[w]["step"].shape == ()
            shapes = {k: tuple(v.shape) for k, v in opt.state[w].items()}
            assert shapes == {k: (() if k in ("step", "mu_product", "eta", "mu") else (2,))
                              for k in keys}


def test_state_tensors_are_live_views(torch64):
    """``optimizer.state[p][...]`` tensors read the kernels' buffers: a reference taken after
    one step shows the next step's values, as torch's (updated in place) do."""
    res = []
    for lib in (tg, torch64):
        w = lib.tensor([1.0, -2.0, 0.5], requires_grad=True)
        opt = lib.optim.NAdam([w], lr=0.1)
        (w * w).sum().backward()
        opt.step()
        exp_avg, mu_product = opt.state[w]["exp_avg"], opt.state[w]["mu_product"]
        opt.step()
        res.append((exp_avg.detach().numpy().copy(), float(mu_product)))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-14)
    assert res[0][1] == res[1][1]


def test_zero_grad(torch64):
    for name in NAMES:
        ps = [tg.tensor(v.copy(), requires_grad=True) for v in INIT]
        opt = getattr(tg.optim, name)(ps)
        _loss(tg, ps).backward()
        opt.step()
        opt.zero_grad(set_to_none=False)
        assert all(p.grad is not None and not p.grad.numpy().any() for p in ps)
        before = [p.detach().numpy().copy() for p in ps]
        opt.zero_grad()
        assert all(p.grad is None for p in ps)
        opt.step()  # (no gradients: nothing moves)
        for p, v in zip(ps, before, strict=True):
            np.testing.assert_array_equal(p.detach().numpy(), v)


def test_errors_match_torch():
    torch = pytest.importorskip("torch")
    bad = [("Adadelta", {"lr": -1.0}), ("Adadelta", {"rho": 1.5}), ("Adadelta", {"eps": -1e-3}),
           ("Adadelta", {"weight_decay": -0.1}),
           ("Adamax", {"lr": -1.0}), ("Adamax", {"eps": -1.0}), ("Adamax", {"betas": (1.0, 0.9)}),
           ("Adamax", {"betas": (0.9, -0.1)}), ("Adamax", {"weight_decay": -1}),
           ("NAdam", {"lr": -0.5}), ("NAdam", {"betas": (0.9, 1.0)}),
           ("NAdam", {"momentum_decay": -1.0}), ("NAdam", {"weight_decay": -1e-2}),
           ("NAdam", {"eps": -1.0}),
           ("RAdam", {"lr": -1.0}), ("RAdam", {"betas": (-0.1, 0.9)}), ("RAdam", {"eps": -1}),
           ("RAdam", {"weight_decay": -2}),
           ("ASGD", {"lr": -1.0}), ("ASGD", {"weight_decay": -1.0}),
           ("Rprop", {"lr": -1.0}), ("Rprop", {"etas": (1.2, 0.5)}),
           ("Rprop", {"etas": (0.0, 1.2)}), ("Rprop", {"etas": (0.5, 1.0)})]
    for name, kw in bad:
        with pytest.raises(ValueError) as want:
            getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
        with pytest.raises(ValueError) as got:
            getattr(tg.optim, name)([tg.zeros(2, requires_grad=True)], **kw)
        assert str(got.value) == str(want.value), (name, kw)
    with pytest.raises(ValueError, match="Invalid learning rate: -1.0"):
        tg.optim.NAdam([tg.zeros(2, requires_grad=True)], lr=-1.0)
    for name in NAMES:
        with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
            getattr(tg.optim, name)([])
        with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
            getattr(tg.optim, name)([tg.zeros(2, requires_grad=True) * 2])


@pytest.mark.parametrize("name", NAMES)
def test_signatures_are_torchs(name):
    torch = pytest.importorskip("torch")
    want = inspect.signature(getattr(torch.optim, name))
    made = inspect.signature(getattr(tg.optim, name))
    assert [(p.name, p.kind, p.default) for p in made.parameters.values()] == \
        [(p.name, p.kind, p.default) for p in want.parameters.values()]
    assert getattr(tg.optim, name).__doc__


@pytest.mark.parametrize("name,kw,kernel", [
    ("Adadelta", {}, "adadelta"), ("Adamax", {}, "adamax"), ("NAdam", {}, "nadam"),
    ("RAdam", {"decoupled_weight_decay": True}, "radam"), ("ASGD", {}, "asgd"),
    ("Rprop", {}, "rprop")], ids=lambda v: str(v))
def test_one_kernel_call_per_group_and_step(monkeypatch, name, kw, kernel):
    from tapegrad.optim import more_kernels

    calls = []
    real = getattr(more_kernels, kernel)
    monkeypatch.setattr(more_kernels, kernel, lambda *a: (calls.append(len(a[0])), real(*a)))
    ps = [tg.tensor(v.copy(), requires_grad=True) for v in INIT]
    opt = getattr(tg.optim, name)([{"params": ps[:3]}, {"params": ps[3:]}], **kw)
    for _ in range(2):
        opt.zero_grad()
        _loss(tg, ps).backward()
        opt.step()
    assert calls == [4 + 1 + 1, 6] * 2


def test_kernels_compile_when_their_optimiser_is_first_used():
    """``import tapegrad.optim`` builds no kernel (numba is not even imported); an optimiser's
    first step builds its own kernel only, through numba's disk cache."""
    import subprocess
    import sys

    code = ("import sys, tapegrad, tapegrad.optim\n"
            "from tapegrad.kernels.jit import Lazy\n"
            "from tapegrad.optim import more_kernels as k\n"
            "lazy = [n for n, v in vars(k).items() if isinstance(v, Lazy) and n != 'fma']\n"
            "assert sorted(lazy) == ['adadelta', 'adamax', 'asgd', 'nadam', 'radam', 'rprop']\n"
            "assert 'numba' not in sys.modules\n"
            "w = tapegrad.tensor([1.0, 2.0], requires_grad=True)\n"
            "w.grad = tapegrad.tensor([0.5, -0.5])\n"
            "tapegrad.optim.Rprop([w], lr=0.1).step()\n"
            "assert 'numba' in sys.modules\n"
            "built = [n for n in lazy if getattr(k, n)._built is not None]\n"
            "assert built == ['rprop'], built\n"
            "assert type(k.rprop._built._cache).__name__ == 'FunctionCache'\n"
            "print(w.detach().numpy().tolist())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert [float(v) for v in done.stdout.strip()[1:-1].split(",")] == \
        pytest.approx([0.9, 2.1], abs=1e-12)


def test_nan_gradient_propagates_as_torch(torch64):
    grads = ([1.0, float("nan"), 2.0, -1.0], [1.0, 0.5, float("inf"), 0.0],
             [0.1, 0.2, 0.3, 0.4])
    for name in NAMES:
        out = []
        for lib in (tg, torch64):
            w = lib.tensor([1.0, 2.0, 3.0, 4.0], dtype=lib.float64, requires_grad=True)
            opt = getattr(lib.optim, name)([w], lr=0.1)
            for g in grads:
                w.grad = lib.tensor(g, dtype=lib.float64)
                opt.step()
            out.append([w.detach().numpy().copy()] + [x for _, _, x in _state(opt)])
        for x, y in zip(out[0], out[1], strict=True):
            np.testing.assert_allclose(x, y, rtol=1e-14, err_msg=name)  # (NaN where torch's)


def test_optimizers_pickle():
    for name in NAMES:
        w = tg.tensor([1.0, 2.0], requires_grad=True)
        opt = getattr(tg.optim, name)([w], lr=0.1)
        (w * w).sum().backward()
        opt.step()
        copy = pickle.loads(pickle.dumps(opt))
        assert copy.state_dict()["state"][0]["step"].item() == 1.0
        assert list(copy.state_dict()["state"][0]) == list(opt.state_dict()["state"][0])


@pytest.mark.parametrize("name,kw", [c for c in CASES if c[1]], ids=lambda v: str(v))
def test_float32_parameters_match_torch(name, kw):
    """float32 parameters stay float32; tapegrad's update is computed in float64 and rounded
    once, torch's in float32 throughout: they agree to float32's precision."""
    torch = pytest.importorskip("torch")
    sign = -1.0 if kw.get("maximize") else 1.0
    res = []
    for lib in (tg, torch):
        ps = [lib.tensor(v.astype(np.float32), requires_grad=True) for v in INIT]
        opt = getattr(lib.optim, name)([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.02}],
                                       **kw)
        for _ in range(20):
            opt.zero_grad()
            loss = sum(((p.tanh() - 0.3) ** 2).sum() + (p * p).sum() * 0.1 for p in ps)
            (loss * sign).backward()
            opt.step()
        assert all(p.dtype == lib.float32 for p in ps)
        res.append([p.detach().numpy().copy() for p in ps])
    for x, y in zip(*res, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_an_empty_parameter_beside_others(torch64):
    for name in NAMES:
        out = []
        for lib in (tg, torch64):
            ps = [lib.tensor(np.zeros((0, 3)), requires_grad=True),
                  lib.tensor(np.array([0.5, -1.0]), requires_grad=True)]
            opt = getattr(lib.optim, name)(ps, lr=0.1)
            for _ in range(5):
                opt.zero_grad()
                sum((p * p).sum() for p in ps).backward()
                opt.step()
            out.append((ps[1].detach().numpy().copy(), ps[0].shape,
                        {k: tuple(v.shape) for k, v in opt.state[ps[0]].items()}))
        np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-14)
        assert out[0][1] == tuple(out[1][1]) and out[0][2] == out[1][2]
