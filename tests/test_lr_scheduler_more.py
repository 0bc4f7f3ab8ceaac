"""tapegrad.optim.lr_scheduler against torch's: the rates (and cycled momenta) of every
schedule over 40 steps, exactly; ``step(epoch)``'s closed forms; resuming with ``last_epoch``;
state dicts (round trips, torch's loaded); errors and signatures; training with a schedule."""

from __future__ import annotations

import inspect
import pickle
import warnings

import numpy as np
import pytest

import tapegrad as tg

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def torch64():
    """torch with tapegrad's default dtype, float64 (NAdam's ``mu_product`` is kept in it)."""
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield torch
    torch.set_default_dtype(old)


class Scale:
    """A callable object (its attributes travel in the state dicts)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def __call__(self, epoch: int) -> float:
        return self.rate ** epoch


# each: (optimizer name, its options, how to make the scheduler)
SPECS = {
    "LambdaLR": ("SGD", {}, lambda S, o: S("LambdaLR")(o, lambda e: 0.95 ** e)),
    "LambdaLR_per_group": ("SGD", {}, lambda S, o: S("LambdaLR")(
        o, [lambda e: 1 / (e + 1), Scale(0.9)])),
    "MultiplicativeLR": ("SGD", {}, lambda S, o: S("MultiplicativeLR")(o, lambda e: 0.95)),
    "MultiplicativeLR_per_group": ("SGD", {}, lambda S, o: S("MultiplicativeLR")(
        o, [lambda e: 0.9, lambda e: 1 - 0.01 * e])),
    "MultiStepLR": ("SGD", {}, lambda S, o: S("MultiStepLR")(o, [5, 12, 12, 30], gamma=0.5)),
    "ConstantLR": ("SGD", {}, lambda S, o: S("ConstantLR")(o)),
    "ConstantLR_7": ("SGD", {}, lambda S, o: S("ConstantLR")(o, factor=0.3, total_iters=7)),
    "LinearLR": ("SGD", {}, lambda S, o: S("LinearLR")(o)),
    "LinearLR_up": ("SGD", {}, lambda S, o: S("LinearLR")(o, start_factor=0.25,
                                                         end_factor=0.75, total_iters=17)),
    "LinearLR_down": ("SGD", {}, lambda S, o: S("LinearLR")(o, start_factor=1.0,
                                                           end_factor=0.1, total_iters=10)),
    "PolynomialLR": ("SGD", {}, lambda S, o: S("PolynomialLR")(o)),
    "PolynomialLR_2": ("SGD", {}, lambda S, o: S("PolynomialLR")(o, total_iters=25,
                                                                power=2.0)),
    "PolynomialLR_half": ("SGD", {}, lambda S, o: S("PolynomialLR")(o, total_iters=30,
                                                                   power=0.5)),
    "CosineAnnealingWarmRestarts": ("SGD", {}, lambda S, o: S("CosineAnnealingWarmRestarts")(
        o, T_0=7)),
    "CosineAnnealingWarmRestarts_mult": ("SGD", {}, lambda S, o: S(
        "CosineAnnealingWarmRestarts")(o, T_0=3, T_mult=2, eta_min=0.01)),
    "CyclicLR": ("SGD", {"momentum": 0.9}, lambda S, o: S("CyclicLR")(
        o, base_lr=0.01, max_lr=0.1, step_size_up=5)),
    "CyclicLR_triangular2_betas": ("Adam", {}, lambda S, o: S("CyclicLR")(
        o, base_lr=[0.01, 0.02], max_lr=[0.1, 0.3], step_size_up=4, step_size_down=6,
        mode="triangular2", base_momentum=0.7, max_momentum=[0.9, 0.95])),
    "CyclicLR_exp_range": ("SGD", {"momentum": 0.5}, lambda S, o: S("CyclicLR")(
        o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="exp_range", gamma=0.97)),
    "CyclicLR_scale_fn": ("RMSprop", {"momentum": 0.5}, lambda S, o: S("CyclicLR")(
        o, base_lr=0.01, max_lr=0.1, step_size_up=3, scale_fn=Scale(0.99),
        scale_mode="iterations")),
    "CyclicLR_no_momentum": ("Adagrad", {}, lambda S, o: S("CyclicLR")(
        o, base_lr=0.01, max_lr=0.1, step_size_up=7, cycle_momentum=False)),
    "OneCycleLR": ("SGD", {"momentum": 0.9}, lambda S, o: S("OneCycleLR")(
        o, max_lr=0.5, total_steps=40)),
    "OneCycleLR_three_phase_linear": ("Adam", {}, lambda S, o: S("OneCycleLR")(
        o, max_lr=[0.5, 1.0], epochs=8, steps_per_epoch=5, pct_start=0.25,
        anneal_strategy="linear", three_phase=True, div_factor=10.0)),
    "OneCycleLR_no_momentum": ("Rprop", {}, lambda S, o: S("OneCycleLR")(
        o, max_lr=0.5, total_steps=45, cycle_momentum=False, final_div_factor=100.0)),
    "SequentialLR": ("SGD", {}, lambda S, o: S("SequentialLR")(
        o, [S("LinearLR")(o, start_factor=0.1, total_iters=5),
            S("CosineAnnealingLR")(o, T_max=30)], milestones=[5])),
    "SequentialLR_three": ("SGD", {}, lambda S, o: S("SequentialLR")(
        o, [S("ConstantLR")(o, factor=0.5, total_iters=3), S("ExponentialLR")(o, gamma=0.9),
            S("MultiStepLR")(o, [3, 9], gamma=0.5)], milestones=[6, 15])),
    "SequentialLR_nested": ("SGD", {}, lambda S, o: S("SequentialLR")(
        o, [S("SequentialLR")(o, [S("ConstantLR")(o, factor=0.5, total_iters=2),
                                  S("StepLR")(o, 3, gamma=0.7)], milestones=[4]),
            S("PolynomialLR")(o, total_iters=10)], milestones=[12])),
    "ChainedScheduler": ("SGD", {}, lambda S, o: S("ChainedScheduler")(
        [S("ConstantLR")(o, factor=0.1, total_iters=4), S("ExponentialLR")(o, gamma=0.9)])),
    "ChainedScheduler_optimizer": ("SGD", {"momentum": 0.9}, lambda S, o: S(
        "ChainedScheduler")([S("MultiStepLR")(o, [7, 20]), S("LinearLR")(o, total_iters=9),
                             S("CosineAnnealingWarmRestarts")(o, T_0=6)], optimizer=o)),
}


def _make(lib, key, resume=False):
    opt_name, opt_kw, make = SPECS[key]
    ps = [lib.zeros(2, requires_grad=True), lib.zeros(1, requires_grad=True)]
    groups = [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.3}]
    if resume:  # (what a resumed run's groups hold)
        for g, lr in zip(groups, (0.2, 0.5), strict=True):
            g.update(initial_lr=lr, max_lr=lr * 2, min_lr=lr / 100, max_momentum=0.9,
                     base_momentum=0.8)
    opt = getattr(lib.optim, opt_name)(groups, lr=0.1, **opt_kw)
    sched = make(lambda name: getattr(lib.optim.lr_scheduler, name), opt)
    return opt, sched


def _row(opt, sched):
    groups = opt.param_groups
    return (list(sched.get_last_lr()), [g["lr"] for g in groups],
            [g.get("momentum") for g in groups], [tuple(g["betas"]) if "betas" in g else None
                                                  for g in groups])


def _steps(opt, sched, n):
    rows = []
    for _ in range(n):
        opt.step()
        sched.step()
        rows.append(_row(opt, sched))
    return rows


def _sequence(lib, key, n=40):
    opt, sched = _make(lib, key)
    return [_row(opt, sched)] + _steps(opt, sched, n), sched


@pytest.mark.parametrize("key", list(SPECS))
def test_rates_match_torch_exactly(key):
    torch = pytest.importorskip("torch")
    n = 40 if not key.startswith("OneCycleLR") else \
        _make(torch, key)[1].total_steps  # (all of its steps)
    a, sa = _sequence(tg, key, n)
    b, sb = _sequence(torch, key, n)
    assert len(a) == n + 1 >= 31
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        assert x == y, (i, x, y)  # (rates, group lrs, momenta, betas: the same floats)
    if hasattr(sb, "last_epoch"):
        assert sa.last_epoch == sb.last_epoch
    if hasattr(sb, "_step_count"):
        assert sa._step_count == sb._step_count
    ignore = {"_get_lr_called_within_step"}  # (torch's warning's flag)
    assert set(sa.state_dict()) == set(sb.state_dict()) - ignore


def test_one_cycle_refuses_a_step_past_its_end():
    torch = pytest.importorskip("torch")
    for lib in (tg, torch):
        opt, sched = _make(lib, "OneCycleLR")
        _steps(opt, sched, 40)
        with pytest.raises(ValueError, match="Tried to step 41 times. The specified number of "
                                             "total steps is 40"):
            sched.step()


CLOSED = {
    "MultiStepLR": [1, 4, 5, 2, 12, 13, 11, 31, 0],
    "ConstantLR_7": [1, 6, 7, 8, 3, 0, 20],
    "LinearLR_up": [1, 5, 17, 20, 3, 0],
    "PolynomialLR_2": [1, 10, 25, 30, 4],
    "LambdaLR": [3, 1, 7],
    "CosineAnnealingWarmRestarts": [0.5, 1.25, 7, 7.5, 20.3, 3, 14],
    "CosineAnnealingWarmRestarts_mult": [0.5, 2.9, 3, 8.5, 9, 21, 22.75, 1],
}


@pytest.mark.parametrize("key", list(CLOSED))
def test_step_to_an_epoch_matches_torch(key):
    torch = pytest.importorskip("torch")
    out = []
    for lib in (tg, torch):
        opt, sched = _make(lib, key)
        rows = _steps(opt, sched, 2)
        for epoch in CLOSED[key]:
            opt.step()
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                sched.step(epoch)
            rows.append((_row(opt, sched), sched.last_epoch,
                         [str(w.message)[:40] for w in seen if "epoch" in str(w.message)]))
            rows += _steps(opt, sched, 1)
        out.append(rows)
    assert out[0] == out[1]


@pytest.mark.parametrize("key", [k for k in SPECS if not k.startswith(
    ("ChainedScheduler", "SequentialLR"))])
def test_resuming_with_last_epoch_matches_torch(key):
    torch = pytest.importorskip("torch")
    out = []
    for lib in (tg, torch):
        opt, sched = _make(lib, key, resume=True) if "OneCycle" not in key else \
            (None, None)
        if opt is None:  # (resumed at step 9 of 45)
            opt_name, opt_kw, _ = SPECS[key]
            groups = [{"params": [lib.zeros(1, requires_grad=True)], "initial_lr": 0.02,
                       "max_lr": 0.5, "min_lr": 2e-6, "max_momentum": 0.95,
                       "base_momentum": 0.85}]
            opt = getattr(lib.optim, opt_name)(groups, lr=0.1, **opt_kw)
            sched = lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=45,
                                                      cycle_momentum=opt_name != "Rprop",
                                                      last_epoch=9)
            out.append([_row(opt, sched)] + _steps(opt, sched, 30))
            continue
        out.append([_row(opt, sched)] + _steps(opt, sched, 30))
    assert out[0] == out[1]


def test_resuming_without_initial_lr_is_refused_as_torch():
    torch = pytest.importorskip("torch")
    msgs = []
    for lib in (tg, torch):
        opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.1)
        with pytest.raises(KeyError) as e:
            lib.optim.lr_scheduler.LinearLR(opt, last_epoch=3)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


@pytest.mark.parametrize("key", list(SPECS))
def test_state_dict_round_trip_and_torchs_state_dict(key):
    torch = pytest.importorskip("torch")
    n = 13
    rest = 20 if not key.startswith("OneCycleLR") else 25
    # tapegrad: save after n steps, restore into a new optimiser and scheduler, continue
    opt, sched = _make(tg, key)
    _steps(opt, sched, n)
    saved = pickle.loads(pickle.dumps((opt.state_dict(), sched.state_dict())))
    opt2, sched2 = _make(tg, key)
    opt2.load_state_dict(saved[0])
    sched2.load_state_dict(saved[1])
    assert _row(opt2, sched2) == _row(opt, sched)
    expected = _steps(opt, sched, rest)
    assert _steps(opt2, sched2, rest) == expected
    # torch's state dicts, loaded into tapegrad, continue as torch continues
    topt, tsched = _make(torch, key)
    _steps(topt, tsched, n)
    opt3, sched3 = _make(tg, key)
    opt3.load_state_dict(topt.state_dict())
    sched3.load_state_dict(tsched.state_dict())
    assert _steps(opt3, sched3, rest) == _steps(topt, tsched, rest)
    assert expected == _steps(*_make_at(torch, key, n), rest)


def _make_at(lib, key, n):
    opt, sched = _make(lib, key)
    _steps(opt, sched, n)
    return opt, sched


def test_lambda_state_dict_keeps_callable_objects_attributes():
    opt, sched = _make(tg, "LambdaLR_per_group")
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"rate": 0.9}]
    state["lr_lambdas"][1] = {"rate": 0.5}
    sched.load_state_dict(state)
    assert sched.lr_lambdas[1].rate == 0.5
    opt.step()
    sched.step()
    assert sched.get_last_lr()[1] == 0.3 * 0.5


def test_cyclic_scale_fn_object_state_travels():
    opt, sched = _make(tg, "CyclicLR_scale_fn")
    state = sched.state_dict()
    assert state["_scale_fn_custom"] == {"rate": 0.99} and "_scale_fn_ref" not in state
    state["_scale_fn_custom"] = {"rate": 0.5}
    sched.load_state_dict(state)
    assert sched._scale_fn_custom.rate == 0.5


def _bad(S, lib):
    def sgd(**kw):
        return lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.1, **kw)

    def two():
        return lib.optim.SGD([{"params": [lib.zeros(1, requires_grad=True)]},
                              {"params": [lib.zeros(1, requires_grad=True)]}], lr=0.1)
    o = sgd(momentum=0.9)
    return [
        lambda: S("ConstantLR")(sgd(), factor=1.5),
        lambda: S("ConstantLR")(sgd(), factor=-0.5),
        lambda: S("LinearLR")(sgd(), start_factor=0),
        lambda: S("LinearLR")(sgd(), start_factor=1.5),
        lambda: S("LinearLR")(sgd(), end_factor=1.5),
        lambda: S("LambdaLR")(two(), [lambda e: 1.0]),
        lambda: S("MultiplicativeLR")(two(), [lambda e: 1.0] * 3),
        lambda: S("MultiplicativeLR")(sgd(), 0.5),
        lambda: S("CosineAnnealingWarmRestarts")(sgd(), T_0=0),
        lambda: S("CosineAnnealingWarmRestarts")(sgd(), T_0=2.0),
        lambda: S("CosineAnnealingWarmRestarts")(sgd(), T_0=2, T_mult=0),
        lambda: S("CosineAnnealingWarmRestarts")(sgd(), T_0=2, T_mult=1.5),
        lambda: S("CosineAnnealingWarmRestarts")(sgd(), T_0=2, eta_min="0"),
        lambda: S("CosineAnnealingWarmRestarts")(sgd(), T_0=2).step(-1),
        lambda: S("CyclicLR")(sgd(momentum=0.9), 0.1, 1.0, mode="square"),
        lambda: S("CyclicLR")(lib.optim.Adagrad([lib.zeros(1, requires_grad=True)]), 0.1, 1),
        lambda: S("CyclicLR")(two(), [0.1], 1.0, cycle_momentum=False),
        lambda: S("CyclicLR")(two(), 0.1, [1.0, 2.0, 3.0], cycle_momentum=False),
        lambda: S("CyclicLR")(object(), 0.1, 1.0),
        lambda: S("OneCycleLR")(sgd(momentum=0.9), 1.0),
        lambda: S("OneCycleLR")(sgd(momentum=0.9), 1.0, total_steps=0),
        lambda: S("OneCycleLR")(sgd(momentum=0.9), 1.0, total_steps=2.0),
        lambda: S("OneCycleLR")(sgd(momentum=0.9), 1.0, epochs=0, steps_per_epoch=3),
        lambda: S("OneCycleLR")(sgd(momentum=0.9), 1.0, epochs=2, steps_per_epoch=-3),
        lambda: S("OneCycleLR")(sgd(momentum=0.9), 1.0, total_steps=9, pct_start=1),
        lambda: S("OneCycleLR")(sgd(momentum=0.9), 1.0, total_steps=9, pct_start=1.5),
        lambda: S("OneCycleLR")(sgd(momentum=0.9), 1.0, total_steps=9,
                                anneal_strategy="cosine"),
        lambda: S("OneCycleLR")(lib.optim.Rprop([lib.zeros(1, requires_grad=True)]), 1.0,
                                total_steps=9),
        lambda: S("OneCycleLR")(two(), [1.0], total_steps=9, cycle_momentum=False),
        lambda: S("SequentialLR")(o, [], milestones=[]),
        lambda: S("SequentialLR")(o, [S("StepLR")(o, 2), S("StepLR")(o, 3)], milestones=[]),
        lambda: S("SequentialLR")(o, [S("StepLR")(o, 2), S("StepLR")(sgd(), 3)],
                                  milestones=[3]),
        lambda: S("SequentialLR")(o, [S("StepLR")(o, 2), S("ReduceLROnPlateau")(o)],
                                  milestones=[3]),
        lambda: S("SequentialLR")(o, [S("StepLR")(o, 2), 3], milestones=[3]),
        lambda: S("ChainedScheduler")([]),
        lambda: S("ChainedScheduler")([S("StepLR")(o, 2), S("ReduceLROnPlateau")(o)]),
        lambda: S("ChainedScheduler")([S("StepLR")(o, 2), S("StepLR")(sgd(), 2)]),
    ]


def test_errors_match_torch():
    torch = pytest.importorskip("torch")
    got, want = [], []
    for lib, out in ((tg, got), (torch, want)):
        for make in _bad(lambda name, lib=lib: getattr(lib.optim.lr_scheduler, name), lib):
            try:
                make()
            except Exception as e:  # noqa: BLE001 (the type is what is compared)
                message = str(e)
                # (an optimiser's repr is its library's: compare up to it)
                out.append((type(e).__name__, message.split(" has ")[0]))
            else:
                out.append(None)
    assert None not in want
    for i, (x, y) in enumerate(zip(got, want, strict=True)):
        assert x == y, (i, x, y)


TORCH_NAMES = ["LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
               "LinearLR", "ExponentialLR", "SequentialLR", "CosineAnnealingLR",
               "ChainedScheduler", "ReduceLROnPlateau", "CyclicLR",
               "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR", "LRScheduler"]


@pytest.mark.parametrize("name", TORCH_NAMES)
def test_signatures_are_torchs(name):
    torch = pytest.importorskip("torch")
    want = inspect.signature(getattr(torch.optim.lr_scheduler, name))
    made = inspect.signature(getattr(tg.optim.lr_scheduler, name))
    assert [(p.name, p.kind, p.default) for p in made.parameters.values()] == \
        [(p.name, p.kind, p.default) for p in want.parameters.values()]
    assert name in tg.optim.lr_scheduler.__all__
    assert getattr(tg.optim.lr_scheduler, name).__doc__


TRAINING = [
    ("NAdam", {"lr": 0.05, "weight_decay": 0.01}, "OneCycleLR",
     {"max_lr": 0.1, "total_steps": 30}),
    ("RAdam", {"lr": 0.05}, "CyclicLR",
     {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "mode": "triangular2"}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}, "CyclicLR",
     {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4}),
    ("Adamax", {"lr": 0.05}, "CosineAnnealingWarmRestarts", {"T_0": 4, "T_mult": 2}),
    ("Rprop", {"lr": 0.05}, "PolynomialLR", {"total_iters": 20, "power": 1.5}),
]


@pytest.mark.parametrize("opt_name,opt_kw,name,kw", TRAINING, ids=lambda v: str(v))
def test_training_with_a_schedule_matches_torch(torch64, opt_name, opt_kw, name, kw):
    """The rates and momenta a schedule sets are the ones the next step uses."""
    torch = torch64
    rng = np.random.default_rng(2)
    start = [rng.standard_normal(5), rng.standard_normal((2, 2))]
    res = []
    for lib in (tg, torch):
        ps = [lib.tensor(v.copy(), requires_grad=True) for v in start]
        opt = getattr(lib.optim, opt_name)([{"params": ps[:1]}, {"params": ps[1:]}], **opt_kw)
        sched = getattr(lib.optim.lr_scheduler, name)(opt, **kw)
        for _ in range(30):
            opt.zero_grad()
            sum(((p.tanh() - 0.2) ** 2).sum() for p in ps).backward()
            opt.step()
            sched.step()
        res.append([p.detach().numpy().copy() for p in ps])
    for x, y in zip(*res, strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-13)
