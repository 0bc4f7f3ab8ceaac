"""tapegrad.distributions against torch.distributions: log_prob, entropy, moments, cdf/icdf
values and their gradients w.r.t. parameters and value (torch oracle and central finite
differences), for scalar, batched and broadcasting parameters, float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_gradients

import tapegrad as tg

torch = pytest.importorskip("torch")
D = tg.distributions
TD = torch.distributions

RNG = np.random.default_rng(1234)


def _pos(*shape):
    return RNG.uniform(0.4, 2.0, shape)


def _real(*shape):
    return RNG.standard_normal(shape)


def _unit(*shape):
    return RNG.uniform(0.1, 0.9, shape)


def _spd(*shape):
    n = shape[-1]
    a = RNG.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _tril(*shape):
    n = shape[-1]
    a = np.tril(RNG.standard_normal(shape), -1)
    return a + np.eye(n) * RNG.uniform(0.5, 1.5, shape[:-1])[..., None, :] * np.eye(n)


# (id, class name, parameters (name -> array), value, icdf probabilities or None)
SHAPES = [((), ()), ((3,), (3,)), ((2, 1), (4, 2, 3))]  # (parameter shape, value shape)
CASES = []
for ps, vs in SHAPES:
    other = (3,) if ps == (2, 1) else ps  # (the second parameter broadcasts against the first)
    q = _unit(*vs)
    CASES += [
        (f"Normal{ps}", "Normal", {"loc": _real(*ps), "scale": _pos(*other)}, _real(*vs), q),
        (f"Laplace{ps}", "Laplace", {"loc": _real(*ps), "scale": _pos(*other)}, _real(*vs), q),
        (f"Cauchy{ps}", "Cauchy", {"loc": _real(*ps), "scale": _pos(*other)}, _real(*vs), q),
        (f"LogNormal{ps}", "LogNormal", {"loc": _real(*ps), "scale": _pos(*other)},
         _pos(*vs), q),
        (f"HalfNormal{ps}", "HalfNormal", {"scale": _pos(*ps)}, _pos(*vs), q),
        (f"Exponential{ps}", "Exponential", {"rate": _pos(*ps)}, _pos(*vs), q),
        (f"Bernoulli-probs{ps}", "Bernoulli", {"probs": _unit(*ps)},
         RNG.integers(0, 2, vs).astype(float), None),
        (f"Bernoulli-logits{ps}", "Bernoulli", {"logits": 3 * _real(*ps)},
         RNG.integers(0, 2, vs).astype(float), None),
        (f"Geometric-probs{ps}", "Geometric", {"probs": _unit(*ps)},
         RNG.integers(0, 6, vs).astype(float), None),
        (f"Geometric-logits{ps}", "Geometric", {"logits": _real(*ps)},
         RNG.integers(0, 6, vs).astype(float), None),
    ]
    low = _real(*ps)
    CASES.append((f"Uniform{ps}", "Uniform", {"low": low - 3, "high": low + _pos(*other) + 3},
                  RNG.uniform(-1.5, 1.5, vs), q))
CASES += [
    ("Categorical-probs()", "Categorical", {"probs": _pos(4)}, np.array(2), None),
    ("Categorical-probs(3)", "Categorical", {"probs": _pos(3, 4)}, RNG.integers(0, 4, (5, 3)),
     None),
    ("Categorical-logits(2,3)", "Categorical", {"logits": _real(2, 3, 5)},
     RNG.integers(0, 5, (2, 1)), None),
    ("OneHot-probs", "OneHotCategorical", {"probs": _pos(3, 4)},
     np.eye(4)[RNG.integers(0, 4, (2, 3))], None),
    ("OneHot-logits", "OneHotCategorical", {"logits": _real(4)}, np.eye(4)[[1, 3]], None),
    ("MVN-cov", "MultivariateNormal", {"loc": _real(3), "covariance_matrix": _spd(3, 3)},
     _real(3), None),
    ("MVN-cov-batched", "MultivariateNormal", {"loc": _real(2, 3),
                                                "covariance_matrix": _spd(3, 3)},
     _real(4, 2, 3), None),
    ("MVN-prec", "MultivariateNormal", {"loc": _real(3), "precision_matrix": _spd(2, 3, 3)},
     _real(2, 3), None),
    ("MVN-tril", "MultivariateNormal", {"loc": _real(2, 1, 2), "scale_tril": _tril(3, 2, 2)},
     _real(2, 3, 2), None),
]
DISCRETE_VALUE = {"Categorical", "OneHotCategorical"}
INT_VALUE = {"Categorical"}


def _build(cls: str, params: dict, dtype, validate=None):
    """The tapegrad and torch distributions on the same parameters (leaves with grad)."""
    tg_p = {k: tg.tensor(v, dtype=dtype, requires_grad=True) for k, v in params.items()}
    th_p = {k: torch.tensor(v, dtype=getattr(torch, dtype.name), requires_grad=True)
            for k, v in params.items()}
    return (getattr(D, cls)(**tg_p, validate_args=validate), tg_p,
            getattr(TD, cls)(**th_p, validate_args=validate), th_p)


def _values(cls, value, dtype):
    if cls in INT_VALUE:
        return tg.tensor(value), torch.tensor(value)
    return (tg.tensor(value, dtype=dtype, requires_grad=cls not in DISCRETE_VALUE),
            torch.tensor(value, dtype=getattr(torch, dtype.name),
                         requires_grad=cls not in DISCRETE_VALUE))


def _close(a, b, rtol, msg=""):
    if hasattr(b, "dtype") and hasattr(b, "detach"):
        assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1], (msg, a.dtype, b.dtype)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert tuple(a.shape) == tuple(b.shape), (msg, a.shape, b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b, rtol=rtol, atol=rtol, err_msg=msg)


def _quantities(d, v, q, with_q):
    """Every (name, tensor) the distribution offers for ``value`` ``v`` / probabilities ``q``."""
    out = [("log_prob", d.log_prob(v)), ("entropy", d.entropy())]
    for name in ("mean", "variance", "stddev", "mode"):
        out.append((name, getattr(d, name)))
    if with_q:
        out += [("cdf", d.cdf(v)), ("icdf", d.icdf(q))]
    return out


def _run(case, dtype, rtol):
    _, cls, params, value, probs = case
    tgd, tg_p, thd, th_p = _build(cls, params, dtype)
    assert tuple(tgd.batch_shape) == tuple(thd.batch_shape)
    assert tuple(tgd.event_shape) == tuple(thd.event_shape)
    tv, thv = _values(cls, value, dtype)
    with_q = probs is not None
    tq = tg.tensor(probs if with_q else 0.5, dtype=dtype, requires_grad=True)
    thq = torch.tensor(probs if with_q else 0.5, dtype=getattr(torch, dtype.name),
                       requires_grad=True)
    mine = _quantities(tgd, tv, tq, with_q)
    theirs = _quantities(thd, thv, thq, with_q)
    tg_loss, th_loss = 0, 0
    w = np.random.default_rng(5)
    for (name, a), (_, b) in zip(mine, theirs, strict=True):
        _close(a, b, rtol, name)
        if b.dtype.is_floating_point and bool(torch.isfinite(b).all()) and b.requires_grad:
            weights = w.uniform(0.5, 1.5, tuple(b.shape))
            tg_loss = tg_loss + (a * tg.tensor(weights, dtype=dtype)).sum()
            th_loss = th_loss + (b * torch.tensor(weights, dtype=b.dtype)).sum()
    tg_loss.backward()
    th_loss.backward()
    leaves = [(tg_p[k], th_p[k], k) for k in params] + [(tq, thq, "q")]
    if tv.requires_grad:
        leaves.append((tv, thv, "value"))
    for a, b, name in leaves:
        if b.grad is None:
            assert a.grad is None or not a.grad.numpy().any(), name
            continue
        assert a.grad is not None, name
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=rtol,
                                   err_msg=name)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_values_and_gradients_match_torch_float64(case):
    _run(case, tg.float64, 1e-10)


@pytest.mark.parametrize("case", CASES[::3], ids=[c[0] for c in CASES[::3]])
def test_values_and_gradients_match_torch_float32(case):
    _run(case, tg.float32, 2e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] not in INT_VALUE],
                         ids=[c[0] for c in CASES if c[1] not in INT_VALUE])
def test_log_prob_gradient_by_finite_differences(case):
    _, cls, params, value, _ = case
    names = list(params)
    discrete = cls in DISCRETE_VALUE or cls == "Uniform"  # (no gradient w.r.t. the value)

    def fn(*xs):
        kw = dict(zip(names, xs[:len(names)], strict=True))
        for k in ("covariance_matrix", "precision_matrix"):
            if k in kw:  # (a symmetric matrix: finite differences must keep it symmetric)
                kw[k] = (kw[k] + kw[k].mT) / 2
        d = getattr(D, cls)(**kw, validate_args=False)
        v = tg.tensor(value) if discrete else xs[-1]
        return d.log_prob(v) + d.entropy()

    arrays = [np.array(params[k], dtype=np.float64) for k in names]
    if not discrete:
        arrays.append(np.array(value, dtype=np.float64))
    check_gradients(fn, arrays, atol=1e-6, rtol=1e-5)


def test_python_number_parameters_give_scalar_batches():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # (tapegrad's default dtype)
    try:
        _python_numbers()
    finally:
        torch.set_default_dtype(old)


def _python_numbers():
    for cls, args in [("Normal", (0.5, 2.0)), ("Uniform", (-1.0, 3.0)), ("Laplace", (0.0, 1.5)),
                      ("Cauchy", (1.0, 0.5)), ("Exponential", (1.5,)), ("LogNormal", (0.1, 0.7)),
                      ("HalfNormal", (1.3,))]:
        a, b = getattr(D, cls)(*args), getattr(TD, cls)(*args)
        assert tuple(a.batch_shape) == tuple(b.batch_shape) == ()
        assert a.mean.dtype == tg.float64  # (the default dtype, as torch's broadcast_all)
        v = 0.7
        _close(a.log_prob(tg.tensor(v)), b.log_prob(torch.tensor(v)), 1e-12)
        _close(a.entropy(), b.entropy(), 1e-12)
    p = D.Bernoulli(0.3)
    _close(p.log_prob(tg.tensor(1.0)), TD.Bernoulli(0.3).log_prob(torch.tensor(1.0)), 1e-12)
    assert tuple(p.batch_shape) == ()


def test_expand_matches_torch():
    for cls, params in [("Normal", {"loc": _real(3), "scale": _pos(3)}),
                        ("Bernoulli", {"logits": _real(3)}), ("Uniform", {"low": -_pos(3),
                                                                          "high": _pos(3)}),
                        ("Categorical", {"probs": _pos(3, 4)}),
                        ("OneHotCategorical", {"probs": _pos(3, 4)}),
                        ("MultivariateNormal", {"loc": _real(3, 2),
                                                "covariance_matrix": _spd(2, 2)}),
                        ("LogNormal", {"loc": _real(3), "scale": _pos(3)}),
                        ("HalfNormal", {"scale": _pos(3)}), ("Exponential", {"rate": _pos(3)}),
                        ("Geometric", {"probs": _unit(3)})]:
        tgd, _, thd, _ = _build(cls, params, tg.float64)
        a, b = tgd.expand((2, 3)), thd.expand((2, 3))
        assert tuple(a.batch_shape) == tuple(b.batch_shape) == (2, 3)
        assert tuple(a.event_shape) == tuple(b.event_shape)
        _close(a.entropy(), b.entropy(), 1e-10)
        m = b.sample()
        _close(a.log_prob(tg.tensor(m.numpy())), b.log_prob(m), 1e-10)


def test_independent_matches_torch():
    loc, scale = _real(2, 3, 4), _pos(2, 3, 4)
    for n in (0, 1, 2):
        a = D.Independent(D.Normal(tg.tensor(loc), tg.tensor(scale)), n)
        b = TD.Independent(TD.Normal(torch.tensor(loc), torch.tensor(scale)), n)
        assert (tuple(a.batch_shape), tuple(a.event_shape)) == (tuple(b.batch_shape),
                                                                tuple(b.event_shape))
        v = _real(5, 2, 3, 4)
        _close(a.log_prob(tg.tensor(v)), b.log_prob(torch.tensor(v)), 1e-10)
        _close(a.entropy(), b.entropy(), 1e-10)
        _close(a.mean, b.mean, 0)
        e = a.expand((7,) + tuple(a.batch_shape))
        f = b.expand((7,) + tuple(b.batch_shape))
        _close(e.entropy(), f.entropy(), 1e-10)
    with pytest.raises(ValueError, match="Expected reinterpreted_batch_ndims <= "):
        D.Independent(D.Normal(tg.zeros(2), tg.ones(2)), 2)
    check_gradients(lambda lo, sc: D.Independent(D.Normal(lo, sc), 2).log_prob(
        tg.tensor(loc[0] + 0.3)), [loc, scale])


def test_mvn_lazy_matrices_and_scale_tril_gradient_stays_lower():
    L = _tril(3, 3)
    a = D.MultivariateNormal(tg.zeros(3), scale_tril=tg.tensor(L, requires_grad=True))
    b = TD.MultivariateNormal(torch.zeros(3), scale_tril=torch.tensor(L, requires_grad=True))
    for name in ("covariance_matrix", "precision_matrix", "scale_tril", "variance"):
        _close(getattr(a, name), getattr(b, name), 1e-10)
    v = _real(4, 3)
    a.log_prob(tg.tensor(v)).sum().backward()
    b.log_prob(torch.tensor(v)).sum().backward()
    ga = a._unbroadcasted_scale_tril.grad.numpy()
    np.testing.assert_allclose(ga, b._unbroadcasted_scale_tril.grad.numpy(), rtol=1e-10,
                               atol=1e-12)
    assert not np.triu(ga, 1).any()  # (solve_triangular's gradient: the lower triangle only)
    P = _spd(3, 3)
    c = D.MultivariateNormal(tg.zeros(3), precision_matrix=tg.tensor(P))
    e = TD.MultivariateNormal(torch.zeros(3), precision_matrix=torch.tensor(P))
    for name in ("covariance_matrix", "precision_matrix", "scale_tril"):
        _close(getattr(c, name), getattr(e, name), 1e-10)


def test_mvn_argument_errors_match_torch():
    for kwargs in [{}, {"covariance_matrix": tg.eye(2), "scale_tril": tg.eye(2)}]:
        with pytest.raises(ValueError, match="Exactly one of covariance_matrix or "
                                             "precision_matrix or scale_tril may be specified"):
            D.MultivariateNormal(tg.zeros(2), **kwargs)
    with pytest.raises(ValueError, match="loc must be at least one-dimensional."):
        D.MultivariateNormal(tg.tensor(0.0), tg.eye(1))
    with pytest.raises(ValueError, match="covariance_matrix matrix must be at least "):
        D.MultivariateNormal(tg.zeros(2), tg.ones(2))


def test_categorical_enumerate_support_and_discrete_support():
    for cls, kw in [("Categorical", {"probs": _pos(2, 3)}), ("Bernoulli", {"probs": _unit(2)}),
                    ("OneHotCategorical", {"probs": _pos(2, 3)})]:
        tgd, _, thd, _ = _build(cls, kw, tg.float64)
        for expand in (True, False):
            a, b = tgd.enumerate_support(expand), thd.enumerate_support(expand)
            assert tuple(a.shape) == tuple(b.shape)
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_log_prob_second_order_and_compile():
    loc, scale, v = _real(3), _pos(3), _real(3)
    a = tg.tensor(scale, requires_grad=True)
    lp = D.Normal(tg.tensor(loc), a).log_prob(tg.tensor(v)).sum()
    (g,) = tg.autograd.grad(lp, a, create_graph=True)
    (h,) = tg.autograd.grad(g.sum(), a)
    b = torch.tensor(scale, requires_grad=True)
    lpt = TD.Normal(torch.tensor(loc), b).log_prob(torch.tensor(v)).sum()
    (gt,) = torch.autograd.grad(lpt, b, create_graph=True)
    (ht,) = torch.autograd.grad(gt.sum(), b)
    np.testing.assert_allclose(h.numpy(), ht.numpy(), rtol=1e-12)

    def f(lo, sc):
        p = D.Normal(lo, sc, validate_args=False)
        return D.kl_divergence(p, D.Normal(0.0, 1.0)).sum() - p.log_prob(tg.tensor(v)).sum()

    tape = tg.compile(f, loc, scale)
    for _ in range(2):
        lo, sc = _real(3), _pos(3)
        value, grads = tape.value_and_gradient(lo, sc)
        tl = torch.tensor(lo, requires_grad=True)
        ts = torch.tensor(sc, requires_grad=True)
        p = TD.Normal(tl, ts)
        out = (TD.kl_divergence(p, TD.Normal(0.0, 1.0)).sum()
               - p.log_prob(torch.tensor(v)).sum())
        out.backward()
        np.testing.assert_allclose(value, out.item(), rtol=1e-12)
        np.testing.assert_allclose(grads[0], tl.grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(grads[1], ts.grad.numpy(), rtol=1e-12)


def test_bernoulli_gradient_at_zero_logit_and_extreme_logits():
    logits = np.array([0.0, 40.0, -40.0, 800.0, -800.0])
    for value in (0.0, 1.0):
        a = tg.tensor(logits, requires_grad=True)
        b = torch.tensor(logits, requires_grad=True)
        la = D.Bernoulli(logits=a).log_prob(tg.full((5,), value))
        lb = TD.Bernoulli(logits=b).log_prob(torch.full((5,), value, dtype=torch.float64))
        _close(la, lb, 1e-12)
        (la.sum() + D.Bernoulli(logits=a).entropy().sum()).backward()
        (lb.sum() + TD.Bernoulli(logits=b).entropy().sum()).backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-300)
