"""tapegrad.distributions: sampling (shapes, moments, reparameterised gradients), validation
errors against torch's messages, constraints, kl_divergence against torch, and a small
variational-inference fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")
D = tg.distributions
TD = torch.distributions
N = 200_000


def _pair(cls, dtype=np.float64, **params):
    return _leaves(cls, dtype, **params)[:2]


def _leaves(cls, dtype=np.float64, **params):
    """tapegrad's and torch's distribution on the same parameters, and those leaf tensors."""
    mine = {k: tg.tensor(np.asarray(v, dtype), requires_grad=True) for k, v in params.items()}
    theirs = {k: torch.tensor(np.asarray(v, dtype), requires_grad=True)
              for k, v in params.items()}
    return getattr(D, cls)(**mine), getattr(TD, cls)(**theirs), mine, theirs


UNIVARIATE = [
    ("Normal", {"loc": [0.5, -1.0], "scale": [1.5, 0.3]}),
    ("Laplace", {"loc": [0.5, -1.0], "scale": [1.5, 0.3]}),
    ("LogNormal", {"loc": [0.2, -1.0], "scale": [0.5, 0.3]}),
    ("HalfNormal", {"scale": [1.5, 0.3]}),
    ("Exponential", {"rate": [1.5, 0.3]}),
    ("Uniform", {"low": [-1.0, 2.0], "high": [0.5, 7.0]}),
    ("Bernoulli", {"probs": [0.2, 0.9]}),
    ("Bernoulli", {"logits": [0.2, -1.9]}),
    ("Cauchy", {"loc": [0.5, -1.0], "scale": [1.5, 0.3]}),
    ("Geometric", {"probs": [0.2, 0.9]}),
    ("Geometric", {"logits": [0.2, -1.9]}),
]
MULTI = [
    ("Categorical", {"probs": [[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]}),
    ("Categorical", {"logits": [[0.1, 0.2, 0.7], [0.5, 0.25, -2.0]]}),
    ("OneHotCategorical", {"probs": [[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]]}),
    ("MultivariateNormal", {"loc": [[0.0, 1.0], [2.0, -1.0]],
                            "covariance_matrix": [[2.0, 0.6], [0.6, 0.5]]}),
]
ALL = UNIVARIATE + MULTI
IDS = [f"{c}-{'-'.join(p)}" for c, p in ALL]


@pytest.mark.parametrize(("cls", "params"), ALL, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sample_shapes_dtypes_and_grad(cls, params, dtype):
    a, b = _pair(cls, dtype, **params)
    for shape in [(), (5,), (2, 3)]:
        sa, sb = a.sample(shape), b.sample(shape)
        assert tuple(sa.shape) == tuple(sb.shape)
        assert str(sa.dtype).split(".")[1] == str(sb.dtype).split(".")[1]
        assert not sa.requires_grad
        if b.has_rsample:
            assert a.has_rsample
            ra = a.rsample(shape)
            assert tuple(ra.shape) == tuple(sb.shape) and ra.requires_grad
            assert str(ra.dtype).split(".")[1] == str(sb.dtype).split(".")[1]
        else:
            assert not a.has_rsample
            with pytest.raises(NotImplementedError):
                a.rsample(shape)


def _within(x: np.ndarray, mean, var, axis=0):
    n = x.shape[axis]
    err = np.abs(x.mean(axis) - mean)
    assert np.all(err < 6 * np.sqrt(var / n)), (x.mean(axis), mean)


@pytest.mark.parametrize(("cls", "params"), ALL, ids=IDS)
def test_sample_moments(cls, params):
    tg.manual_seed(11)
    a, b = _pair(cls, **params)
    x = a.sample((N,)).numpy()
    if cls == "Cauchy":  # (no moments: the fraction below each quantile instead)
        for q in (0.25, 0.5, 0.9):
            below = (x < a.icdf(tg.tensor(q)).detach().numpy()).astype(float)
            _within(below, q, q * (1 - q))
        return
    mean, var = b.mean.detach().numpy(), b.variance.detach().numpy()
    if cls == "Categorical":
        probs = b.probs.detach().numpy()
        for k in range(probs.shape[-1]):
            _within((x == k).astype(float), probs[..., k], probs[..., k] * (1 - probs[..., k]))
        return
    _within(x, mean, var)
    if cls in ("Normal", "Laplace", "Exponential", "Uniform", "HalfNormal", "MultivariateNormal"):
        # (the variance: the spread of (x - mean)^2 is bounded by the fourth moment)
        sq = (x - mean) ** 2
        _within(sq, var, (sq.var(0)))
    if cls == "MultivariateNormal":
        c = ((x[:, 0] - mean[0])[..., :, None] * (x[:, 0] - mean[0])[..., None, :])
        _within(c, b.covariance_matrix.detach().numpy()[0], c.var(0))


def test_samples_follow_manual_seed():
    d = D.MultivariateNormal(tg.zeros(3), tg.eye(3))
    for draw in (lambda: d.sample((4,)), lambda: D.Categorical(tg.ones(5)).sample((9,)),
                 lambda: D.Bernoulli(tg.full((6,), 0.5)).sample(), lambda: D.Laplace(
                     0.0, 1.0).rsample((3,))):
        tg.manual_seed(5)
        first = draw().tolist()
        tg.manual_seed(5)
        assert draw().tolist() == first


def test_rsample_pathwise_gradient_with_a_fixed_standard_draw():
    loc, scale = np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.3, 0.7])
    w = np.array([1.0, -2.0, 0.5])
    shape = (4, 3)
    # the standard draws tapegrad's global state gives after manual_seed(s)
    eps = np.random.default_rng(3).standard_normal(shape)
    expo = np.random.default_rng(3).standard_exponential(shape)
    unif = np.random.default_rng(3).uniform(0.0, 1.0, shape)
    eps64 = float(np.finfo(np.float64).eps)
    lap = np.random.default_rng(3).uniform(eps64 - 1, 1.0, shape)
    lap_std = -np.sign(lap) * np.log1p(-np.abs(lap))
    cau = np.random.default_rng(3).standard_cauchy(shape)
    cases = [
        ("Normal", (loc, scale), loc + eps * scale,
         [(w * np.ones(shape)).sum(0), (w * eps).sum(0)]),
        ("LogNormal", (loc, scale), np.exp(loc + eps * scale),
         [(w * np.exp(loc + eps * scale)).sum(0), (w * np.exp(loc + eps * scale) * eps).sum(0)]),
        ("Laplace", (loc, scale), loc + scale * lap_std,
         [(w * np.ones(shape)).sum(0), (w * lap_std).sum(0)]),
        ("Cauchy", (loc, scale), loc + scale * cau,
         [(w * np.ones(shape)).sum(0), (w * cau).sum(0)]),
        ("HalfNormal", (scale,), np.abs(eps * scale), [(w * np.abs(eps)).sum(0)]),
        ("Exponential", (scale,), expo / scale, [(-w * expo / scale ** 2).sum(0)]),
        ("Uniform", (loc - 3, loc + scale), loc - 3 + unif * (scale + 3),
         [(w * (1 - unif)).sum(0), (w * unif).sum(0)]),
    ]
    for cls, params, expected, grads in cases:
        ts = [tg.tensor(p, requires_grad=True) for p in params]
        tg.manual_seed(3)
        x = getattr(D, cls)(*ts).rsample((4,))
        np.testing.assert_allclose(x.detach().numpy(), expected, rtol=1e-14, err_msg=cls)
        (x * tg.tensor(w)).sum().backward()
        for t, g in zip(ts, grads, strict=True):
            np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-13, err_msg=cls)
    # MultivariateNormal: x = loc + L eps, so d(w.x)/dL = sum_s w eps_s^T
    L = np.array([[1.0, 0.0], [0.4, 0.8]])
    tl, tL = tg.tensor([0.1, 0.2], requires_grad=True), tg.tensor(L, requires_grad=True)
    tg.manual_seed(3)
    x = D.MultivariateNormal(tl, scale_tril=tL).rsample((5,))
    e = np.random.default_rng(3).standard_normal((5, 2))
    np.testing.assert_allclose(x.detach().numpy(), [0.1, 0.2] + e @ L.T, rtol=1e-14)
    wm = np.array([1.5, -0.5])
    (x * tg.tensor(wm)).sum().backward()
    np.testing.assert_allclose(tL.grad.numpy(), np.einsum("i,sj->ij", wm, e), rtol=1e-13)
    np.testing.assert_allclose(tl.grad.numpy(), 5 * wm, rtol=1e-14)


def _message(fn):
    with pytest.raises(ValueError) as info:
        fn()
    return str(info.value)


@pytest.fixture
def torch_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # (both print float64 tensors without a dtype)
    yield
    torch.set_default_dtype(old)


VALIDATION = [
    ("Normal", ([0.0, 1.0], [1.0, -1.0]), None),
    ("Normal", (0.0, -2.0), None),
    ("Normal", ([0.0, math.nan], [1.0, 1.0]), None),
    ("Laplace", ([0.0], [0.0]), None),
    ("Cauchy", ([0.0, 1.0], [1.0, 1.0]), ("log_prob", [math.nan, 0.0])),
    ("Exponential", ([1.0, -1.0],), None),
    ("Exponential", ([1.0, 2.0],), ("log_prob", [-1.0, 1.0])),
    ("Exponential", ([1.0, 2.0],), ("cdf", [-1.0, 1.0])),
    ("HalfNormal", ([1.0, -1.0],), None),
    ("HalfNormal", ([1.0, 2.0],), ("log_prob", [-1.0, 1.0])),
    ("LogNormal", ([1.0, 2.0], [-1.0, 1.0]), None),
    ("LogNormal", ([1.0, 2.0], [1.0, 1.0]), ("log_prob", [0.0, 1.0])),
    ("Uniform", ([0.0, 2.0], [1.0, 1.0]), None),
    ("Uniform", ([0.0, 0.0], [1.0, 1.0]), ("log_prob", [0.5, 1.5])),
    ("Bernoulli", ([0.5, 1.5],), None),
    ("Geometric", ([0.5, 1.5],), None),
    ("Geometric", ([0.5, 0.0],), None),
    ("Geometric", (0.0,), None),
    ("Geometric", ([0.5, 0.5],), ("log_prob", [1.0, 0.5])),
    ("Bernoulli", ([0.5, 0.5],), ("log_prob", [1.0, 0.5])),
    ("Categorical", ([[0.5, 0.5], [-0.1, 1.1]],), None),
    ("Categorical", ([0.5, 0.5],), ("log_prob", [1, 2])),
    ("OneHotCategorical", ([0.5, 0.5],), ("log_prob", [[1.0, 1.0]])),
]


@pytest.mark.parametrize(("cls", "args", "call"), VALIDATION,
                         ids=[f"{v[0]}-{i}" for i, v in enumerate(VALIDATION)])
def test_validation_errors_match_torch(cls, args, call, torch_float64):
    def build(lib, tensor):
        args_t = [tensor(a) if isinstance(a, list) else a for a in args]
        return getattr(lib, cls)(*args_t)

    if call is None:
        mine = _message(lambda: build(D, tg.tensor))
        theirs = _message(lambda: build(TD, torch.tensor))
    else:
        method, value = call
        mine = _message(lambda: getattr(build(D, tg.tensor), method)(tg.tensor(value)))
        theirs = _message(lambda: getattr(build(TD, torch.tensor), method)(torch.tensor(value)))
    assert mine == theirs.replace("torch.", "tapegrad.")


def test_validation_of_shapes_and_non_tensors_match_torch():
    cases = [(lambda L: L.Normal(L_zeros(L, 3), 1.0).log_prob(L_zeros(L, 2))),
             (lambda L: L.MultivariateNormal(L_zeros(L, 2), L_eye(L, 2)).log_prob(L_zeros(L, 3))),
             (lambda L: L.Normal(L_zeros(L, 3), 1.0).log_prob(0.5))]
    for case in cases:
        assert _message(lambda c=case: c(D)) == _message(lambda c=case: c(TD)).replace(
            "torch.", "tapegrad.")
    mine = _message(lambda: D.MultivariateNormal(tg.zeros(2), tg.tensor([[1.0, 2.0],
                                                                          [2.0, 1.0]])))
    assert mine.startswith("Expected parameter covariance_matrix (Tensor of shape (2, 2)) of "
                           "distribution MultivariateNormal(loc: tapegrad.Size([2]), "
                           "covariance_matrix: tapegrad.Size([2, 2])) to satisfy the constraint "
                           "PositiveDefinite(), but found invalid values:")
    mine = _message(lambda: D.MultivariateNormal(tg.zeros(2), scale_tril=tg.tensor(
        [[1.0, 1.0], [0.0, 1.0]])))
    assert "LowerCholesky()" in mine


def L_zeros(lib, n):
    return (tg if lib is D else torch).zeros(n, dtype=tg.float64 if lib is D else torch.float64)


def L_eye(lib, n):
    return (tg if lib is D else torch).eye(n, dtype=tg.float64 if lib is D else torch.float64)


def test_validate_args_off_and_default():
    D.Normal(0.0, -1.0, validate_args=False)  # no error
    try:
        D.Distribution.set_default_validate_args(False)
        D.Normal(0.0, -1.0)
        assert D.Normal(0.0, 1.0).log_prob(tg.tensor(math.nan)).isnan().item()
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args(2)
    with pytest.raises(ValueError, match="Either `probs` or `logits` must be specified, but "
                                         "not both."):
        D.Bernoulli(probs=0.5, logits=0.0)
    with pytest.raises(ValueError, match="`probs` parameter must be at least one-dimensional."):
        D.Categorical(tg.tensor(1.0))


def test_constraints_repr_and_check():
    C = D.constraints
    TC = TD.constraints
    pairs = [(C.real, TC.real), (C.positive, TC.positive), (C.unit_interval, TC.unit_interval),
             (C.simplex, TC.simplex), (C.boolean, TC.boolean),
             (C.nonnegative_integer, TC.nonnegative_integer),
             (C.integer_interval(0, 3), TC.integer_interval(0, 3)),
             (C.greater_than(-1.5), TC.greater_than(-1.5)), (C.interval(0.0, 2.0),
                                                             TC.interval(0.0, 2.0)),
             (C.nonnegative, TC.nonnegative), (C.real_vector, TC.real_vector),
             (C.less_than(2.0), TC.less_than(2.0)), (C.one_hot, TC.one_hot),
             (C.half_open_interval(0.0, 1.0), TC.half_open_interval(0.0, 1.0))]
    values = [[0.0, 1.0, 2.0, -1.0, 0.5], [[0.2, 0.8], [1.0, 0.0], [0.5, 0.6], [1.0, 1.0]],
              [math.nan, math.inf, 3.0]]
    for mine, theirs in pairs:
        assert repr(mine) == repr(theirs)
        assert mine.event_dim == theirs.event_dim and mine.is_discrete == theirs.is_discrete
        for v in values:
            np.testing.assert_array_equal(mine.check(tg.tensor(v)).numpy(),
                                          theirs.check(torch.tensor(v)).numpy())
    assert D.constraints.is_dependent(D.Uniform.support)
    assert repr(D.Uniform(0.0, 2.0).support) == repr(TD.Uniform(0.0, 2.0).support)


KL_CASES = [
    ("Normal", {"loc": [0.5, -1.0], "scale": [1.5, 0.3]}, {"loc": [0.0, 1.0], "scale": [1.0, 2.0]}),
    ("Exponential", {"rate": [1.5, 0.3]}, {"rate": [0.5, 2.0]}),
    ("Laplace", {"loc": [0.5, -1.0], "scale": [1.5, 0.3]}, {"loc": [0.0, 1.0],
                                                           "scale": [1.0, 2.0]}),
    ("Uniform", {"low": [0.0, -1.0, 0.0], "high": [1.0, 1.0, 2.0]},
     {"low": [-1.0, -1.5, 0.5], "high": [2.0, 1.0, 3.0]}),
    ("Bernoulli", {"probs": [0.3, 0.0, 1.0, 0.5, 0.2]}, {"probs": [0.6, 0.4, 0.3, 0.0, 1.0]}),
    ("Bernoulli", {"logits": [0.3, -2.0]}, {"logits": [1.0, 0.0]}),
    ("Categorical", {"probs": [[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]]},
     {"probs": [[0.1, 0.1, 0.8], [0.3, 0.3, 0.4]]}),
    ("Categorical", {"probs": [[0.2, 0.3, 0.5]]}, {"probs": [[0.0, 0.5, 0.5]]}),
    ("Categorical", {"logits": [[0.2, 0.3, 0.5]]}, {"logits": [[1.0, -0.5, 0.5]]}),
    ("OneHotCategorical", {"probs": [[0.2, 0.3, 0.5]]}, {"probs": [[0.1, 0.1, 0.8]]}),
    ("HalfNormal", {"scale": [1.5, 0.3]}, {"scale": [0.5, 2.0]}),
    ("LogNormal", {"loc": [0.5, -1.0], "scale": [1.5, 0.3]}, {"loc": [0.0, 1.0],
                                                             "scale": [1.0, 2.0]}),
    ("Cauchy", {"loc": [0.5, -1.0], "scale": [1.5, 0.3]}, {"loc": [0.0, 1.0],
                                                          "scale": [1.0, 2.0]}),
    ("Geometric", {"probs": [0.3, 0.9]}, {"probs": [0.6, 0.2]}),
    ("Geometric", {"logits": [0.3, -2.0]}, {"logits": [1.0, 0.0]}),
    ("MultivariateNormal", {"loc": [[0.0, 1.0], [2.0, -1.0]],
                            "covariance_matrix": [[2.0, 0.6], [0.6, 0.5]]},
     {"loc": [0.5, 0.0], "covariance_matrix": [[[1.0, -0.2], [-0.2, 3.0]],
                                               [[0.7, 0.1], [0.1, 0.4]]]}),
    ("MultivariateNormal", {"loc": [0.0, 1.0, 0.5], "scale_tril": [[1.0, 0.0, 0.0],
                                                                   [0.3, 2.0, 0.0],
                                                                   [-0.4, 0.1, 0.5]]},
     {"loc": [0.5, 0.0, 0.0], "precision_matrix": [[1.0, -0.2, 0.0], [-0.2, 3.0, 0.1],
                                                   [0.0, 0.1, 0.8]]}),
]


@pytest.mark.parametrize(("cls", "pp", "qp"), KL_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(KL_CASES)])
def test_kl_divergence_values_and_gradients_match_torch(cls, pp, qp):
    p, tp, p_leaves, tp_leaves = _leaves(cls, **pp)
    q, tq, q_leaves, tq_leaves = _leaves(cls, **qp)
    a, b = D.kl_divergence(p, q), TD.kl_divergence(tp, tq)
    assert tuple(a.shape) == tuple(b.shape)
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)
    finite = np.isfinite(b.detach().numpy())
    w = np.linspace(0.5, 1.5, finite.size).reshape(finite.shape) * finite
    (tg.where(tg.tensor(finite), a, 0.0) * tg.tensor(w)).sum().backward()
    (torch.where(torch.tensor(finite), b, 0.0) * torch.tensor(w)).sum().backward()
    for mine, theirs in ((p_leaves, tp_leaves), (q_leaves, tq_leaves)):
        for k, t in theirs.items():
            assert (mine[k].grad is None) == (t.grad is None), k
            if t.grad is not None:
                np.testing.assert_allclose(mine[k].grad.numpy(), t.grad.numpy(), rtol=1e-10,
                                           atol=1e-12, err_msg=k)


def test_kl_gradients_of_categorical_leaves_and_independent():
    lp = np.array([[0.2, -0.3, 0.5], [1.0, 0.0, 0.1]])
    lq = np.array([[0.1, 0.4, -0.8], [0.3, 0.3, 0.4]])
    a, b = tg.tensor(lp, requires_grad=True), torch.tensor(lp, requires_grad=True)
    c, e = tg.tensor(lq, requires_grad=True), torch.tensor(lq, requires_grad=True)
    D.kl_divergence(D.Categorical(logits=a), D.Categorical(probs=c.exp())).sum().backward()
    TD.kl_divergence(TD.Categorical(logits=b), TD.Categorical(probs=e.exp())).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(c.grad.numpy(), e.grad.numpy(), rtol=1e-12)
    loc, scale = np.array([[0.5, -1.0], [0.1, 0.2]]), np.array([[1.5, 0.3], [0.8, 1.1]])
    p = D.Independent(D.Normal(tg.tensor(loc, requires_grad=True), tg.tensor(scale)), 1)
    q = D.Independent(D.Normal(tg.zeros(2, 2), tg.ones(2, 2)), 1)
    tp = TD.Independent(TD.Normal(torch.tensor(loc, requires_grad=True),
                                  torch.tensor(scale)), 1)
    tq = TD.Independent(TD.Normal(torch.zeros(2, 2, dtype=torch.float64),
                                  torch.ones(2, 2, dtype=torch.float64)), 1)
    k, kt = D.kl_divergence(p, q), TD.kl_divergence(tp, tq)
    np.testing.assert_allclose(k.detach().numpy(), kt.detach().numpy(), rtol=1e-12)
    k.sum().backward()
    kt.sum().backward()
    np.testing.assert_allclose(p.base_dist.loc.grad.numpy(), tp.base_dist.loc.grad.numpy(),
                               rtol=1e-12)
    with pytest.raises(NotImplementedError):
        D.kl_divergence(p, D.Independent(D.Normal(tg.zeros(2, 2), tg.ones(2, 2)), 2))


def test_kl_dispatch_and_unregistered_pairs():
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p "
                                                  "type Normal and q type Laplace"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Laplace(0.0, 1.0))

    class MyNormal(D.Normal):
        pass

    # a subclass uses its base's registered pair until a more specific one is registered
    k = D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 2.0))
    np.testing.assert_allclose(k.item(), TD.kl_divergence(TD.Normal(0.0, 1.0),
                                                          TD.Normal(1.0, 2.0)).item())

    @D.register_kl(MyNormal, D.Normal)
    def _kl(p, q):
        return tg.tensor(7.0)

    assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 2.0)).item() == 7.0
    assert D.kl_divergence(D.Normal(0.0, 1.0), MyNormal(1.0, 2.0)).item() != 7.0


def test_variational_inference_fits_a_normal():
    """Maximise the ELBO of q = Normal(m, s) against the posterior of a conjugate model
    (prior N(0, 1), likelihood N(x_i | z, 1)); the optimum is the exact posterior."""
    data = np.random.default_rng(0).normal(2.0, 1.0, 20)
    post_var = 1 / (1 + len(data))
    post_mean = data.sum() * post_var
    m = tg.tensor(0.0, requires_grad=True)
    log_s = tg.tensor(0.0, requires_grad=True)
    opt = tg.optim.Adam([m, log_s], lr=0.05)
    x = tg.tensor(data)
    prior = D.Normal(0.0, 1.0)
    tg.manual_seed(0)
    for _ in range(1500):
        q = D.Normal(m, log_s.exp())
        z = q.rsample((32,))
        lik = D.Normal(z.unsqueeze(-1), 1.0).log_prob(x).sum(-1)
        elbo = (lik + prior.log_prob(z)).mean() + q.entropy()
        opt.zero_grad()
        (-elbo).backward()
        opt.step()
    assert abs(m.item() - post_mean) < 0.05
    assert abs(math.exp(log_s.item()) - math.sqrt(post_var)) < 0.03


def test_empty_batches():
    n = D.Normal(tg.zeros(0), tg.ones(0))
    assert tuple(n.log_prob(tg.zeros(0)).shape) == (0,)
    assert tuple(n.rsample((2,)).shape) == (2, 0)
    assert tuple(D.Categorical(probs=tg.ones(0, 3)).sample((2,)).shape) == (2, 0)
    assert tuple(D.Categorical(probs=tg.ones(0, 3)).entropy().shape) == (0,)
    assert tuple(D.OneHotCategorical(probs=tg.ones(0, 3)).sample((2,)).shape) == (2, 0, 3)
    assert tuple(D.Bernoulli(probs=tg.ones(0) / 2).sample((2,)).shape) == (2, 0)
    m = D.MultivariateNormal(tg.zeros(0, 2), tg.eye(2))
    assert tuple(m.log_prob(tg.zeros(0, 2)).shape) == (0,)
    assert tuple(m.rsample((3,)).shape) == (3, 0, 2)
    assert tuple(m.entropy().shape) == (0,)


def test_docstring_examples_run():
    import doctest

    import tapegrad.distributions as package
    from tapegrad.distributions import continuous, discrete, distribution, kl, multivariate

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    count = 0
    for module in (package, continuous, discrete, distribution, kl, multivariate):
        for test in finder.find(module, module.__name__):
            count += len(test.examples)
            runner.run(test)
    assert count > 10
    assert runner.failures == 0


SECOND_ORDER = [
    ("MultivariateNormal", {"loc": [0.3, -0.2], "scale_tril": [[1.2, 0.0], [0.4, 0.7]]},
     [[0.1, 0.5], [1.0, -1.0]]),
    ("MultivariateNormal", {"loc": [0.3, -0.2], "covariance_matrix": [[1.2, 0.3], [0.3, 0.7]]},
     [0.1, 0.5]),
    ("Bernoulli", {"logits": [0.0, 1.3, -2.0]}, [1.0, 0.0, 1.0]),
    ("Categorical", {"logits": [[0.1, 1.3, -2.0], [0.5, 0.5, 0.0]]}, [2, 0]),
    ("Laplace", {"loc": [0.1, 1.3], "scale": [0.5, 2.0]}, [0.7, -1.0]),
    ("Geometric", {"probs": [0.3, 0.8]}, [2.0, 0.0]),
    ("Uniform", {"low": [0.1, -1.3], "high": [0.5, 2.0]}, [0.2, 1.0]),
]


@pytest.mark.parametrize(("cls", "params", "value"), SECOND_ORDER,
                         ids=[c[0] for c in SECOND_ORDER])
def test_second_order_gradients_match_torch(cls, params, value):
    """d/dθ (v . d/dθ [log_prob + entropy]) against torch (create_graph through the
    composed ops)."""
    a, b, mine, theirs = _leaves(cls, **params)
    va = tg.tensor(value) if cls == "Categorical" else tg.tensor(value, dtype=tg.float64)
    vb = torch.tensor(value) if cls == "Categorical" else torch.tensor(value,
                                                                       dtype=torch.float64)
    fa = a.log_prob(va).sum() + a.entropy().sum()
    fb = b.log_prob(vb).sum() + b.entropy().sum()
    ga = tg.autograd.grad(fa, list(mine.values()), create_graph=True)
    gb = torch.autograd.grad(fb, list(theirs.values()), create_graph=True)
    rng = np.random.default_rng(2)
    weights = [rng.uniform(0.5, 1.5, tuple(g.shape)) for g in gb]
    sa = sum((g * tg.tensor(w)).sum() for g, w in zip(ga, weights, strict=True))
    sb = sum((g * torch.tensor(w)).sum() for g, w in zip(gb, weights, strict=True))
    ha = tg.autograd.grad(sa, list(mine.values()), allow_unused=True)
    hb = torch.autograd.grad(sb, list(theirs.values()), allow_unused=True)
    for x, y, k in zip(ha, hb, theirs, strict=True):
        if y is None:
            assert x is None or not x.numpy().any(), k
        else:
            np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_compile_replays_mvn_and_categorical_log_prob():
    v = np.array([[0.1, 0.5], [1.0, -1.0]])
    idx = tg.tensor([2, 0])

    def f(loc, cov, logits):
        m = D.MultivariateNormal(loc, covariance_matrix=cov)
        c = D.Categorical(logits=logits)
        return m.log_prob(tg.tensor(v)).sum() + c.log_prob(idx).sum() + c.entropy().sum()

    cov0 = np.array([[1.2, 0.3], [0.3, 0.7]])
    tape = tg.compile(f, np.zeros(2), cov0, np.zeros((2, 3)))
    rng = np.random.default_rng(4)
    for _ in range(2):
        loc, logits = rng.standard_normal(2), rng.standard_normal((2, 3))
        cov = cov0 + 0.1 * np.eye(2) * rng.uniform()
        value, grads = tape.value_and_gradient(loc, cov, logits)
        ts = [torch.tensor(x, requires_grad=True) for x in (loc, cov, logits)]
        m = TD.MultivariateNormal(ts[0], covariance_matrix=ts[1])
        c = TD.Categorical(logits=ts[2])
        out = (m.log_prob(torch.tensor(v)).sum() + c.log_prob(torch.tensor([2, 0])).sum()
               + c.entropy().sum())
        out.backward()
        np.testing.assert_allclose(value, out.item(), rtol=1e-12)
        for g, t in zip(grads, ts, strict=True):
            np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_compiled_replay_still_validates_parameters():
    def f(loc, scale):
        return D.Normal(loc, scale).log_prob(tg.tensor([0.1, 0.2])).sum()

    tape = tg.compile(f, np.zeros(2), np.ones(2))
    value, _ = tape.value_and_gradient(np.array([0.5, 0.1]), np.array([2.0, 3.0]))
    expected = TD.Normal(torch.tensor([0.5, 0.1]), torch.tensor([2.0, 3.0])).log_prob(
        torch.tensor([0.1, 0.2])).sum().item()
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="Expected parameter scale"):
        tape.value_and_gradient(np.array([0.5, 0.1]), np.array([-2.0, 3.0]))


FD_KL = [case for case in KL_CASES
         if case[0] not in ("Uniform", "OneHotCategorical") and not (
             case[0] in ("Bernoulli", "Categorical") and "probs" in case[1])]


@pytest.mark.parametrize(("cls", "pp", "qp"), FD_KL, ids=[f"{c[0]}-{i}" for i, c in
                                                         enumerate(FD_KL)])
def test_kl_gradient_by_finite_differences(cls, pp, qp):
    from helpers import check_gradients

    names = list(pp) + list(qp)

    def fn(*xs):
        kw = [dict(zip(pp, xs[:len(pp)], strict=True)),
              dict(zip(qp, xs[len(pp):], strict=True))]
        for k in kw:
            for m in ("covariance_matrix", "precision_matrix"):
                if m in k:  # (symmetric matrices: the finite differences keep them so)
                    k[m] = (k[m] + k[m].mT) / 2
        p = getattr(D, cls)(**kw[0], validate_args=False)
        q = getattr(D, cls)(**kw[1], validate_args=False)
        return D.kl_divergence(p, q)

    arrays = [np.array(v, dtype=np.float64) for v in list(pp.values()) + list(qp.values())]
    assert len(arrays) == len(names)
    check_gradients(fn, arrays, atol=1e-6, rtol=1e-5)


def test_modes_with_ties_and_nan():
    p = [0.2, 0.5, 0.7]
    np.testing.assert_array_equal(D.Bernoulli(tg.tensor(p)).mode.numpy(),
                                  TD.Bernoulli(torch.tensor(p)).mode.numpy())
    probs = [[0.4, 0.4, 0.2], [0.1, 0.3, 0.6]]
    np.testing.assert_array_equal(D.Categorical(tg.tensor(probs)).mode.numpy(),
                                  TD.Categorical(torch.tensor(probs)).mode.numpy())
    np.testing.assert_array_equal(D.OneHotCategorical(tg.tensor(probs)).mode.numpy(),
                                  TD.OneHotCategorical(torch.tensor(probs)).mode.numpy())
    assert D.Categorical(tg.tensor(probs)).mode.dtype == tg.int64
