"""tapegrad.optim against torch.optim: parameters and state after 100 steps (float64, 1e-12),
on raw tensors of several shapes (0-d and (1,) included) in two parameter groups."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import tapegrad as tg

rng = np.random.default_rng(1)
A = rng.standard_normal((6, 4))
B = rng.standard_normal(6)
INIT = [rng.standard_normal(4), rng.standard_normal(1) * 0.1, np.array(0.7),
        rng.standard_normal((2, 3))]


def _loss(lib, params):
    w, b, s, m = params
    z = (lib.tensor(A) @ w).tanh() * s + b
    return ((z - lib.tensor(B)) ** 2).sum() + (w * w).sum() * 0.01 + ((m - 0.5) ** 2).sum()


def _run(lib, name, kw, steps=100, sched=None, groups=True):
    sign = -1.0 if kw.get("maximize") else 1.0  # (maximize the negated loss)
    ps = [lib.tensor(v.copy(), requires_grad=True) for v in INIT]
    spec = [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.02}] if groups else ps
    opt = getattr(lib.optim, name)(spec, **kw)
    sc = getattr(lib.optim.lr_scheduler, sched[0])(opt, **sched[1]) if sched else None
    for _ in range(steps):
        if name == "LBFGS":
            def closure():
                opt.zero_grad()
                loss = _loss(lib, ps)
                loss.backward()
                return loss
            opt.step(closure)
            continue
        opt.zero_grad()
        loss = _loss(lib, ps) * sign
        loss.backward()
        opt.step()
        if sc is not None:
            sc.step(loss.item()) if sched[0] == "ReduceLROnPlateau" else sc.step()
    return ps, opt


def _state_arrays(opt):
    out = []
    for st in opt.state_dict()["state"].values():
        for key in sorted(st):
            v = st[key]
            if hasattr(v, "detach"):
                out.append((key, np.asarray(v.detach().numpy(), dtype=np.float64)))
    return out


CASES = [
    ("SGD", {"lr": 0.01}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.01, "momentum": 0.9, "dampening": 0.3, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "maximize": True, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.3}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.1,
                 "initial_accumulator_value": 0.1, "maximize": True}),
]


@pytest.mark.parametrize("name,kw", CASES, ids=lambda v: str(v))
def test_matches_torch_over_100_steps(name, kw):
    torch = pytest.importorskip("torch")
    a, oa = _run(tg, name, kw)
    b, ob = _run(torch, name, kw)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)
        assert x.shape == tuple(y.shape)
    assert sorted(oa.state_dict()["state"]) == sorted(ob.state_dict()["state"])
    sa, sb = _state_arrays(oa), _state_arrays(ob)
    assert [k for k, _ in sa] == [k for k, _ in sb]
    for (_, x), (_, y) in zip(sa, sb, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)
    ga = [{k: v for k, v in g.items() if k != "params"} for g in oa.state_dict()["param_groups"]]
    gb = [{k: v for k, v in g.items() if k != "params"} for g in ob.state_dict()["param_groups"]]
    assert ga == gb


SCHEDULES = [("StepLR", {"step_size": 7, "gamma": 0.5}), ("ExponentialLR", {"gamma": 0.97}),
             ("CosineAnnealingLR", {"T_max": 30, "eta_min": 0.001}),
             ("ReduceLROnPlateau", {"patience": 2, "factor": 0.5, "cooldown": 1})]


@pytest.mark.parametrize("sched", SCHEDULES, ids=lambda v: v[0])
def test_schedulers_match_torch(sched):
    torch = pytest.importorskip("torch")
    a, oa = _run(tg, "Adam", {"lr": 0.05}, sched=sched)
    b, ob = _run(torch, "Adam", {"lr": 0.05}, sched=sched)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.detach().numpy(), y.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)
    assert [g["lr"] for g in oa.param_groups] == [g["lr"] for g in ob.param_groups]


def test_scheduler_rates_and_closed_form():
    w = tg.zeros(1, requires_grad=True)
    opt = tg.optim.SGD([w], lr=1.0)
    sc = tg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    rates = []
    for _ in range(5):
        opt.step()
        sc.step()
        rates.append(sc.get_last_lr()[0])
    assert rates == [1.0, 0.5, 0.5, 0.25, 0.25]
    state = sc.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 5


def _rosenbrock(lib, p):
    x = p[0]
    return ((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2).sum()


@pytest.mark.parametrize("kw", [{"line_search_fn": "strong_wolfe"},
                                {"lr": 0.1, "max_iter": 10},
                                {"line_search_fn": "strong_wolfe", "history_size": 3}],
                         ids=str)
def test_lbfgs_matches_torch(kw):
    torch = pytest.importorskip("torch")
    start = np.array([-1.2, 1.0, 0.5, -0.3])
    out = []
    for lib in (tg, torch):
        x = lib.tensor(start.copy(), requires_grad=True)
        opt = lib.optim.LBFGS([x], **kw)
        losses = []

        def closure(opt=opt, x=x, lib=lib):
            opt.zero_grad()
            loss = _rosenbrock(lib, [x])
            loss.backward()
            return loss
        for _ in range(3):
            losses.append(opt.step(closure).item())
        out.append((x.detach().numpy().copy(), losses, opt.state[x]["func_evals"],
                    opt.state[x]["n_iter"]))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-12)
    assert out[0][2:] == out[1][2:]


def test_lbfgs_converges_without_torch():
    x = tg.tensor([-1.2, 1.0], requires_grad=True)
    opt = tg.optim.LBFGS([x], line_search_fn="strong_wolfe", max_iter=200,
                         tolerance_change=1e-15, tolerance_grad=1e-12)

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(tg, [x])
        loss.backward()
        return loss
    opt.step(closure)
    np.testing.assert_allclose(x.detach().numpy(), [1.0, 1.0], atol=1e-6)


def test_sgd_closed_form_without_torch():
    # one step of momentum SGD on 0.5 x^2, by hand
    x = tg.tensor(2.0, requires_grad=True)
    opt = tg.optim.SGD([x], lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        (0.5 * x * x).backward()
        opt.step()
    # step 1: buf = 2, x = 1.8; step 2: buf = 0.9 * 2 + 1.8 = 3.6, x = 1.8 - 0.36
    assert x.item() == pytest.approx(1.44, abs=1e-15)
    assert opt.state[x]["momentum_buffer"].item() == pytest.approx(3.6, abs=1e-15)


def test_adam_on_0d_and_one_element_parameters():
    # a 0-d leaf, a (1,) leaf, and a leaf made from a recorded result (a NumPy-scalar value)
    a = tg.tensor(1.5, requires_grad=True)
    b = tg.tensor([-0.5], requires_grad=True)
    c = (tg.tensor(2.0) * 1.0).detach().requires_grad_()
    opt = tg.optim.Adam([a, b, c], lr=0.1)
    values = []
    for _ in range(3):
        opt.zero_grad()
        (a * a + b * b + c * c).sum().backward()
        opt.step()
        values.append([float(t.detach().numpy().reshape(())) for t in (a, b, c)])
    # Adam's first step is lr * sign(grad) (up to eps)
    np.testing.assert_allclose(values[0], [1.4, -0.4, 1.9], atol=1e-7)
    for t in (a, b, c):
        assert t._version == 3
    assert a.shape == () and b.shape == (1,)
    assert opt.state[a]["exp_avg"].shape == () and opt.state[b]["exp_avg"].shape == (1,)
    torch = pytest.importorskip("torch")
    ta, tb, tc = (torch.tensor(v, dtype=torch.float64, requires_grad=True)
                  for v in (1.5, [-0.5], 2.0))
    topt = torch.optim.Adam([ta, tb, tc], lr=0.1)
    for _ in range(3):
        topt.zero_grad()
        (ta * ta + tb * tb + tc * tc).sum().backward()
        topt.step()
    np.testing.assert_allclose(values[-1], [ta.item(), tb.item(), tc.item()], rtol=1e-14)


def test_step_writes_in_place_and_bumps_version():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    alias = w.detach()
    opt = tg.optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    before = w._version
    opt.step()
    np.testing.assert_array_equal(alias.numpy(), [0.0, 0.0])
    assert w._version == before + 1
    # a graph that saved w before the step refuses to backward through the stale value
    y = (w * w).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_params_without_grad_are_skipped_and_state_survives_layout_changes():
    torch = pytest.importorskip("torch")
    res = []
    for lib in (tg, torch):
        ps = [lib.tensor(v.copy(), requires_grad=True) for v in INIT]
        opt = lib.optim.Adam(ps, lr=0.05)
        for i in range(12):
            opt.zero_grad()
            used = ps if i % 3 else ps[:2]  # some steps leave two parameters without grad
            sum(((p - 1.0) ** 2).sum() for p in used).backward()
            opt.step()
        res.append([p.detach().numpy().copy() for p in ps] +
                   [float(opt.state[p]["step"]) for p in ps])
    for x, y in zip(*res, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13)


def test_zero_grad_and_state_dict_round_trip():
    ps = [tg.tensor(v.copy(), requires_grad=True) for v in INIT]
    opt = tg.optim.Adam(ps, lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        _loss(tg, ps).backward()
        opt.step()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in ps)
    opt.zero_grad()
    assert all(p.grad is None for p in ps)
    saved = pickle.loads(pickle.dumps(opt.state_dict()))
    qs = [tg.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ps]
    opt2 = tg.optim.Adam(qs, lr=0.5)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == 0.01
    for o, params in ((opt, ps), (opt2, qs)):
        for _ in range(2):
            o.zero_grad()
            _loss(tg, params).backward()
            o.step()
    for p, q in zip(ps, qs, strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    # the loaded state is a copy, not shared with the saved dict
    assert saved["state"][0]["step"].item() == 3.0


def test_load_torch_state_dict():
    torch = pytest.importorskip("torch")
    b, ob = _run(torch, "Adam", {"lr": 0.01}, steps=5, groups=False)
    a, oa = _run(tg, "Adam", {"lr": 0.01}, steps=5, groups=False)
    oa.load_state_dict(ob.state_dict())
    np.testing.assert_allclose(oa.state[a[0]]["exp_avg"].numpy(),
                               ob.state[b[0]]["exp_avg"].numpy(), rtol=1e-12)


def test_errors_match_torch():
    w = tg.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        tg.optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        tg.optim.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum"):
        tg.optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="optimizer got an empty parameter list"):
        tg.optim.Adam([])
    with pytest.raises(TypeError, match="should be an iterable of Tensors or dicts"):
        tg.optim.Adam(w)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        tg.optim.Adam([w * 2])
    with pytest.raises(ValueError, match="some parameters appear in more than one"):
        tg.optim.Adam([{"params": [w]}, {"params": [w]}])
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        tg.optim.LBFGS([{"params": [w]}, {"params": [tg.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        tg.optim.lr_scheduler.ReduceLROnPlateau(tg.optim.SGD([w], lr=0.1), factor=1.0)


@pytest.mark.parametrize("script", ["fit_lbfgs.py"])  # (.ci/run runs both)
def test_examples_run_and_agree_with_torch(script):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, str(root / "examples" / script)],
                            capture_output=True, text=True, timeout=600, cwd=root,
                            env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith(("largest difference", "(torch is not installed"))
    if lines[-1].startswith("largest difference"):
        assert float(lines[-1].rsplit(" ", 1)[1]) < 1e-10


def test_state_replaced_from_outside_and_reshaped_parameters():
    torch = pytest.importorskip("torch")
    res = []
    for lib in (tg, torch):
        ps = [lib.tensor(v.copy(), requires_grad=True) for v in INIT]
        opt = lib.optim.SGD(ps, lr=0.05, momentum=0.9)
        for i in range(6):
            opt.zero_grad()
            sum(((p - 1.0) ** 2).sum() for p in ps).backward()
            opt.step()
            if i == 2:  # reset one momentum buffer, as a user might
                opt.state[ps[0]]["momentum_buffer"] = lib.zeros(4, dtype=lib.float64)
            if i == 3:
                del opt.state[ps[1]]["momentum_buffer"]
        res.append([p.detach().numpy().copy() for p in ps] +
                   [opt.state[p]["momentum_buffer"].numpy().copy() for p in ps])
    for x, y in zip(*res, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-14)
    # a parameter given another shape (p.data = ...) gets a new layout
    w = tg.zeros(2, requires_grad=True)
    opt = tg.optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    w.data = tg.zeros(3)
    w.grad = tg.ones(3)
    opt.state.clear()
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [-0.1] * 3, rtol=1e-6)


def test_optimizer_pickles():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    opt = tg.optim.Adam([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    copy = pickle.loads(pickle.dumps(opt))
    assert copy.state_dict()["state"][0]["step"].item() == 1.0


# -- the numba kernels: one call per group and step ---------------------------------------------

STAGGERED = [
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "maximize": True}),
    ("Adam", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.05, "betas": (0.3, 0.6), "maximize": True}),  # (lerp's second form)
    ("AdamW", {"lr": 0.05, "amsgrad": True, "weight_decay": 0.3, "maximize": True}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "centered": True, "momentum": 0.5,
                 "maximize": True}),
    ("RMSprop", {"lr": 0.01, "weight_decay": 0.2}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1,
                 "initial_accumulator_value": 0.2}),
]


@pytest.mark.parametrize("name,kw", STAGGERED, ids=lambda v: str(v))
def test_parameters_joining_at_different_steps_match_torch(name, kw):
    """Parameters that get their first gradient at different steps have different step
    counts (Adam's bias corrections, Adagrad's decayed rate) and SGD's momentum buffers are
    made at different steps: the kernels' per-segment numbers."""
    torch = pytest.importorskip("torch")
    sign = -1.0 if kw.get("maximize") else 1.0
    joins = [0, 3, 3, 7, 0]
    start = INIT + [np.arange(5.0) * 0.3 - 0.4]
    res = []
    for lib in (tg, torch):
        ps = [lib.tensor(v.copy(), requires_grad=True) for v in start]
        opt = getattr(lib.optim, name)(ps, **kw)
        for i in range(40):
            opt.zero_grad()
            used = [p for p, j in zip(ps, joins, strict=True) if i >= j]
            loss = sum(((p.tanh() - 0.3) ** 2).sum() + (p * p).sum() * 0.1 for p in used)
            (loss * sign).backward()
            opt.step()
        res.append([p.detach().numpy().copy() for p in ps] + _state_arrays(opt))
    a, b = res
    assert len(a) == len(b)
    for x, y in zip(a[:len(ps)], b[:len(ps)], strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13)
    for (kx, x), (ky, y) in zip(a[len(ps):], b[len(ps):], strict=True):
        assert kx == ky
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name,kw", CASES[::2] + [("Adam", {"lr": 0.01, "amsgrad": True})],
                         ids=lambda v: str(v))
def test_many_0d_parameters_match_torch(name, kw):
    """The scalar-mlp layout: hundreds of 0-d parameters (gathered from, and written back to,
    their own storages around the kernel)."""
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(5)
    start = r.standard_normal(300)
    target = r.standard_normal(300)
    res = []
    for lib in (tg, torch):
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


@pytest.mark.parametrize("name,kw,kernel", [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, "sgd"), ("Adam", {}, "adam"),
    ("AdamW", {"amsgrad": True}, "adam"), ("RMSprop", {"centered": True}, "rmsprop"),
    ("Adagrad", {}, "adagrad")], ids=lambda v: str(v))
def test_one_kernel_call_per_group_and_step(monkeypatch, name, kw, kernel):
    from tapegrad.optim import kernels

    calls = []
    real = getattr(kernels, kernel)
    monkeypatch.setattr(kernels, kernel, lambda *a: (calls.append(len(a[0])), real(*a)))
    ps = [tg.tensor(v.copy(), requires_grad=True) for v in INIT]
    opt = getattr(tg.optim, name)([{"params": ps[:3]}, {"params": ps[3:]}], **kw)
    for _ in range(2):
        opt.zero_grad()
        _loss(tg, ps).backward()
        opt.step()
    # two groups, two steps; each call sees its whole group end to end
    assert calls == [4 + 1 + 1, 6] * 2


def test_amsgrad_nan_propagates_as_torch():
    torch = pytest.importorskip("torch")
    out = []
    for lib in (tg, torch):
        w = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        opt = lib.optim.Adam([w], lr=0.1, amsgrad=True)
        for g in ([1.0, float("nan"), 2.0], [1.0, 0.5, float("inf")], [0.1, 0.2, 0.3]):
            w.grad = lib.tensor(g, dtype=lib.float64)
            opt.step()
        out.append((w.detach().numpy().copy(),
                    opt.state[w]["max_exp_avg_sq"].detach().numpy().copy()))
    for x, y in zip(out[0], out[1], strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-14)  # (NaN where torch has NaN)


def test_import_does_not_import_numba_and_first_step_compiles():
    """numba is imported by the first step, not by ``import tapegrad`` or
    ``import tapegrad.optim`` (its import costs more than tapegrad's whole cold start)."""
    import subprocess
    import sys

    code = ("import sys, tapegrad, tapegrad.optim, tapegrad.nn\n"
            "assert 'numba' not in sys.modules, 'imported by import tapegrad'\n"
            "w = tapegrad.tensor([1.0, 2.0], requires_grad=True)\n"
            "w.grad = tapegrad.tensor([0.5, -0.5])\n"
            "assert 'numba' not in sys.modules, 'imported before the step'\n"
            "tapegrad.optim.Adam([w], lr=0.1).step()\n"
            "assert 'numba' in sys.modules\n"
            "print(w.detach().numpy().tolist())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert [float(v) for v in done.stdout.strip()[1:-1].split(",")] == \
        pytest.approx([0.9, 2.1], abs=1e-7)
