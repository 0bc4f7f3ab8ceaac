"""tapegrad.nn.functional against torch.nn.functional (values and gradients, float64) and, for
torch-free runs, against central finite differences (tg.gradcheck)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.nn.functional as F

rng = np.random.default_rng(0)
X = rng.standard_normal((5, 4)) * 3
X[0, :3] = (0.0, -1e-9, 1e-9)
X[1] = (-40.0, 40.0, 1.0, -1.0)  # ends of every piecewise rule, and overflowing logits
X2 = rng.standard_normal((5, 4))
POS = np.abs(X2) * 3
PROBS = np.abs(X2) / np.abs(X2).sum(1, keepdims=True)
TARGET = np.array([0, 3, -100, 1, 2])
WEIGHT = np.abs(rng.standard_normal(4)) + 0.1


def _compare(fn_tg, fn_torch, *arrays, grad_of=None, rtol=1e-12, grad_rtol=1e-10):
    torch = pytest.importorskip("torch")
    grad_of = range(len(arrays)) if grad_of is None else grad_of
    a = [tg.tensor(x, requires_grad=i in grad_of) for i, x in enumerate(arrays)]
    b = [torch.tensor(x, requires_grad=i in grad_of) for i, x in enumerate(arrays)]
    out_a, out_b = fn_tg(*a), fn_torch(*b)
    np.testing.assert_allclose(out_a.detach().numpy(), out_b.detach().numpy(), rtol=rtol,
                               atol=1e-14)
    g = rng.standard_normal(tuple(out_b.shape))
    (out_a * tg.tensor(g)).sum().backward()
    (out_b * torch.tensor(g)).sum().backward()
    for i in grad_of:
        ga = a[i].grad.numpy() if a[i].grad is not None else np.zeros(arrays[i].shape)
        gb = b[i].grad.numpy() if b[i].grad is not None else np.zeros(arrays[i].shape)
        np.testing.assert_allclose(ga, gb, rtol=grad_rtol, atol=1e-13)


ACTIVATIONS = [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("celu", {}), ("gelu", {}),
    ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}), ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 5.0}), ("softsign", {}), ("hardtanh", {}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("sigmoid", {}), ("logsigmoid", {}),
    ("tanh", {}), ("softmax", {"dim": 1}), ("log_softmax", {"dim": 0}), ("softmin", {"dim": 1}),
    ("normalize", {}), ("normalize", {"p": 1.0, "dim": 0}),
]


@pytest.mark.parametrize("name,kw", ACTIVATIONS, ids=lambda v: str(v))
def test_activation_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    _compare(lambda a: getattr(F, name)(a, **kw),
             lambda a: getattr(torch.nn.functional, name)(a, **kw), X)


def test_gelu_exact_over_a_range():
    torch = pytest.importorskip("torch")
    _compare(F.gelu, torch.nn.functional.gelu, np.linspace(-9.0, 9.0, 301))


def test_celu_gradient_is_exact():
    # torch's celu backward uses a float32 1/alpha (off by 1.7e-8); the closed form is the oracle
    x = np.array([-5.0, -0.3, -1e-9, 0.0, 0.4])
    a = tg.tensor(x, requires_grad=True)
    y = F.celu(a, alpha=0.7)
    y.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.where(x > 0, 1.0, np.exp(x / 0.7)),
                               rtol=1e-15)
    np.testing.assert_allclose(y.detach().numpy(),
                               np.where(x > 0, x, 0.7 * np.expm1(x / 0.7)), rtol=1e-15)


def test_stable_helpers_keep_full_precision():
    x = np.array([-1e-12, -1e-5, -40.0, -800.0, 0.0])
    y = F.elu(tg.tensor(x))
    np.testing.assert_allclose(y.numpy(), np.expm1(x), rtol=1e-15)
    s = F.softplus(tg.tensor(np.array([-40.0, -745.0, 0.0, 30.0])))
    np.testing.assert_allclose(s.numpy(), [np.log1p(np.exp(-40.0)), 5e-324, math.log(2), 30.0],
                               rtol=1e-15)
    big = F.binary_cross_entropy_with_logits(tg.tensor([1000.0, -1000.0]), tg.tensor([0.0, 1.0]),
                                             reduction="none")
    np.testing.assert_allclose(big.numpy(), [1000.0, 1000.0])


@pytest.mark.parametrize("name", ["gelu", "mish", "logsigmoid", "softplus", "elu", "selu",
                                  "silu", "softsign"])
def test_activation_finite_differences(name):
    x = tg.tensor(np.array([-3.0, -0.7, -1e-3, 0.4, 2.5]), requires_grad=True)
    assert tg.gradcheck(getattr(F, name), (x,))


def test_linear_and_bilinear():
    torch = pytest.importorskip("torch")
    _compare(F.linear, torch.nn.functional.linear, X, rng.standard_normal((3, 4)),
             rng.standard_normal(3))
    _compare(F.bilinear, torch.nn.functional.bilinear, X, rng.standard_normal((5, 3)),
             rng.standard_normal((2, 4, 3)), rng.standard_normal(2))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad(mode):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 5))
    _compare(lambda a: F.pad(a, (2, 1, 1, 2), mode=mode),
             lambda a: torch.nn.functional.pad(a, (2, 1, 1, 2), mode=mode), x)


def test_pad_negative_and_value():
    torch = pytest.importorskip("torch")
    _compare(lambda a: F.pad(a, (-1, 2), value=3.0),
             lambda a: torch.nn.functional.pad(a, (-1, 2), value=3.0), X)


REGRESSION = [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
              ("smooth_l1_loss", {}), ("huber_loss", {"delta": 0.7}), ("poisson_nll_loss", {}),
              ("poisson_nll_loss", {"full": True})]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,kw", REGRESSION, ids=lambda v: str(v))
def test_regression_losses(name, kw, reduction):
    torch = pytest.importorskip("torch")
    _compare(lambda a, b: getattr(F, name)(a, b, reduction=reduction, **kw),
             lambda a, b: getattr(torch.nn.functional, name)(a, b, reduction=reduction, **kw),
             X, POS)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_probability_losses(reduction):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    _compare(lambda a, b: F.poisson_nll_loss(a, b, log_input=False, reduction=reduction),
             lambda a, b: tf.poisson_nll_loss(a, b, log_input=False, reduction=reduction),
             np.abs(X) + 0.1, POS)
    p = 1 / (1 + np.exp(-X))
    p[1, :2] = (1e-6, 1 - 1e-6)
    t = rng.random((5, 4))
    _compare(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
             lambda a, b: tf.binary_cross_entropy(a, b, reduction=reduction), p, t)
    _compare(lambda a, b: F.binary_cross_entropy(a, b, weight=tg.tensor(WEIGHT),
                                                 reduction=reduction),
             lambda a, b: tf.binary_cross_entropy(a, b, weight=torch.tensor(WEIGHT),
                                                  reduction=reduction), p, t)
    for pw in (None, WEIGHT):
        _compare(lambda a, b, pw=pw: F.binary_cross_entropy_with_logits(
                     a, b, reduction=reduction, pos_weight=None if pw is None else tg.tensor(pw)),
                 lambda a, b, pw=pw: tf.binary_cross_entropy_with_logits(
                     a, b, reduction=reduction,
                     pos_weight=None if pw is None else torch.tensor(pw)), X * 30, t)
    tk = PROBS.copy()
    tk[0, 1] = 0.5
    _compare(lambda a, b: F.kl_div(a, b, reduction=reduction),
             lambda a, b: tf.kl_div(a, b, reduction=reduction), np.log(PROBS), tk)
    _compare(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=True),
             lambda a, b: tf.kl_div(a, b, reduction=reduction, log_target=True),
             np.log(PROBS), np.log(PROBS[::-1].copy()))
    var = POS.copy()
    var[0, 0] = 1e-9  # clamped at eps outside autograd
    _compare(lambda a, b, v: F.gaussian_nll_loss(a, b, v, full=True, reduction=reduction),
             lambda a, b, v: tf.gaussian_nll_loss(a, b, v, full=True, reduction=reduction),
             X, X2, var)
    _compare(lambda a, b, v: F.gaussian_nll_loss(a, b, v, reduction=reduction),
             lambda a, b, v: tf.gaussian_nll_loss(a, b, v, reduction=reduction),
             X, X2, POS[:, 0].copy())


def test_kl_div_batchmean_and_zero_target():
    torch = pytest.importorskip("torch")
    _compare(lambda a, b: F.kl_div(a, b, reduction="batchmean"),
             lambda a, b: torch.nn.functional.kl_div(a, b, reduction="batchmean"),
             np.log(PROBS), PROBS[::-1].copy())
    t = PROBS.copy()
    t[0, 0] = 0.0
    _compare(lambda a, b: F.kl_div(a, b, reduction="sum"),
             lambda a, b: torch.nn.functional.kl_div(a, b, reduction="sum"),
             np.log(PROBS), t, grad_of=(0,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_class_indices(reduction, smoothing, weighted):
    torch = pytest.importorskip("torch")
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    _compare(lambda a: F.cross_entropy(a, tg.tensor(TARGET),
                                       weight=tg.tensor(WEIGHT) if weighted else None, **kw),
             lambda a: torch.nn.functional.cross_entropy(
                 a, torch.tensor(TARGET), weight=torch.tensor(WEIGHT) if weighted else None,
                 **kw), X)
    _compare(lambda a: F.nll_loss(a, tg.tensor(TARGET), reduction=reduction,
                                  weight=tg.tensor(WEIGHT) if weighted else None),
             lambda a: torch.nn.functional.nll_loss(
                 a, torch.tensor(TARGET), reduction=reduction,
                 weight=torch.tensor(WEIGHT) if weighted else None), X)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probabilities_and_spatial(reduction):
    torch = pytest.importorskip("torch")
    _compare(lambda a, p: F.cross_entropy(a, p, weight=tg.tensor(WEIGHT), reduction=reduction,
                                          label_smoothing=0.1),
             lambda a, p: torch.nn.functional.cross_entropy(
                 a, p, weight=torch.tensor(WEIGHT), reduction=reduction, label_smoothing=0.1),
             X, PROBS)
    x4 = rng.standard_normal((2, 4, 3, 2))
    t4 = rng.integers(0, 4, (2, 3, 2))
    _compare(lambda a: F.cross_entropy(a, tg.tensor(t4), reduction=reduction),
             lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(t4),
                                                         reduction=reduction), x4)
    _compare(lambda a: F.cross_entropy(a, tg.tensor(2)),
             lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(2)), X[0].copy())


def test_cross_entropy_finite_differences():
    x = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    t = tg.tensor(np.array([1, 0, 3]))
    assert tg.gradcheck(lambda a: F.cross_entropy(a, t, label_smoothing=0.1), (x,))


def test_distances():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    _compare(F.cosine_similarity, tf.cosine_similarity, X, X2)
    _compare(lambda a, b: F.cosine_similarity(a, b, dim=0),
             lambda a, b: tf.cosine_similarity(a, b, dim=0), X, X2)
    for p in (2.0, 1.0, 3.0, math.inf):
        _compare(lambda a, b, p=p: F.pairwise_distance(a, b, p=p),
                 lambda a, b, p=p: tf.pairwise_distance(a, b, p=p), X, X2)


def test_one_hot():
    out = F.one_hot(tg.tensor([0, 2, 1]))
    assert out.dtype == tg.int64
    np.testing.assert_array_equal(out.numpy(), np.eye(3, dtype=np.int64)[[0, 2, 1]])
    assert F.one_hot(tg.tensor([1]), num_classes=4).shape == (1, 4)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(tg.tensor([3]), num_classes=2)
    with pytest.raises(RuntimeError, match="Class values must be non-negative"):
        F.one_hot(tg.tensor([-1]))


def test_dropout_is_seeded_and_scaled():
    x = tg.ones(1000, requires_grad=True)
    tg.manual_seed(3)
    a = F.dropout(x, p=0.25)
    tg.manual_seed(3)
    b = F.dropout(x, p=0.25)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert set(np.unique(a.detach().numpy())) <= {0.0, 1 / 0.75}
    a.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a.detach().numpy())
    assert F.dropout(x, 0.5, training=False) is x
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        F.dropout(x, 1.5)


def test_errors_match_torch():
    x, t = tg.tensor(X), tg.tensor(rng.random((5, 4)))
    with pytest.raises(ValueError, match="bogus is not a valid value for reduction"):
        F.mse_loss(x, t, reduction="bogus")
    with pytest.raises(ValueError, match="Using a target size"):
        F.binary_cross_entropy(tg.tensor(rng.random(3)), tg.tensor(rng.random(4)))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(x, t)
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(x, tg.tensor(rng.random(3)))
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.cross_entropy(x, tg.tensor(np.array([0, 7, 1, 1, 1])))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(5\) to match target"):
        F.cross_entropy(x, tg.tensor(np.array([0, 1])))
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(x, t, tg.tensor(-np.ones((5, 4))))


_BILINEAR_W = tg.tensor(rng.standard_normal((2, 3, 3)))
LOSS_FD = [
    lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=tg.tensor([0.5, 2.0, 1.0])),
    lambda a, b: F.huber_loss(a, b, delta=0.5),
    lambda a, b: F.smooth_l1_loss(a, b, beta=0.3, reduction="sum"),
    lambda a, b: F.kl_div(a.log_softmax(1), b.softmax(1), reduction="batchmean"),
    lambda a, b: F.gaussian_nll_loss(a, b, b * b + 0.1, full=True),
    lambda a, b: F.poisson_nll_loss(a, b.abs(), full=True),
    lambda a, b: F.cosine_similarity(a, b).sum(),
    lambda a, b: F.pairwise_distance(a, b, p=3.0).sum(),
    lambda a, b: F.binary_cross_entropy(a.sigmoid(), b.sigmoid()),
    lambda a, b: F.bilinear(a, b, _BILINEAR_W).sum(),
]


@pytest.mark.parametrize("k", range(len(LOSS_FD)))
def test_losses_finite_differences(k):
    # both arguments differentiable, away from the kinks of |x| and of the piecewise rules
    a = tg.tensor(np.array([[0.3, -1.2, 2.0], [1.1, 0.4, -0.7]]), requires_grad=True)
    b = tg.tensor(np.array([[1.7, 0.35, -0.2], [0.1, -1.5, 1.3]]), requires_grad=True)
    assert tg.gradcheck(LOSS_FD[k], (a, b))


def test_norms_of_zero_vectors_have_torch_gradients():
    torch = pytest.importorskip("torch")
    x = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    y = np.array([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]])
    tf = torch.nn.functional
    _compare(F.normalize, tf.normalize, x)
    _compare(lambda a: F.normalize(a, p=3.0), lambda a: tf.normalize(a, p=3.0), x)
    _compare(F.cosine_similarity, tf.cosine_similarity, x, y)
    _compare(lambda a, b: F.pairwise_distance(a, b, eps=0.0),
             lambda a, b: tf.pairwise_distance(a, b, eps=0.0), x, x.copy(), grad_of=(0,))


@pytest.mark.parametrize("name", ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "silu",
                                  "mish", "hardtanh"])
def test_inplace_writes_the_input_as_torch(name):
    torch = pytest.importorskip("torch")
    x = np.array([-2.0, -0.5, 0.0, 0.7, 3.0])
    g = np.array([1.0, -2.0, 0.5, 3.0, 1.5])
    a = tg.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    ha, hb = a * 1.5, b * 1.5
    ra = getattr(F, name)(ha, inplace=True)
    assert getattr(torch.nn.functional, name)(hb, inplace=True) is hb
    assert ra is ha
    np.testing.assert_allclose(ha.detach().numpy(), hb.detach().numpy(), rtol=1e-12)
    (ha * tg.tensor(g)).sum().backward()
    (hb * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        getattr(F, name)(a, inplace=True)
    plain = tg.tensor(x)
    getattr(F, name)(plain, inplace=True)
    np.testing.assert_allclose(plain.numpy(), getattr(F, name)(tg.tensor(x)).numpy())


@pytest.mark.parametrize("pads", [(0, 0), (0, 0, 0, 0), (-1, 0), (0, -1, -1, 0)], ids=str)
def test_constant_pad_without_growth_is_a_copy(pads):
    """torch's constant_pad_nd returns new storage even when it only crops, or pads nothing:
    writing into the result must not change the input."""
    torch = pytest.importorskip("torch")
    a = tg.tensor(X.copy())
    b = torch.tensor(X.copy())
    ya, yb = F.pad(a, pads), torch.nn.functional.pad(b, pads)
    assert ya is not a
    ya.add_(1.0)
    yb.add_(1.0)
    np.testing.assert_array_equal(a.numpy(), X)
    np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    _compare(lambda x: F.pad(x, pads), lambda x: torch.nn.functional.pad(x, pads), X)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("ndim,pads", [(4, (1, 1)), (1, (1, 1)), (2, (1, 1, 1, 1)),
                                       (6, (1, 1, 1, 1, 1, 1)), (5, (1, 1, 1, 1))], ids=str)
def test_non_constant_pad_rejects_torch_unsupported_dims(mode, ndim, pads):
    torch = pytest.importorskip("torch")
    shape = (3,) * ndim
    with pytest.raises(NotImplementedError) as theirs:
        torch.nn.functional.pad(torch.zeros(shape), pads, mode=mode)
    with pytest.raises(NotImplementedError) as ours:
        F.pad(tg.zeros(shape), pads, mode=mode)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
def test_loss_weight_of_another_size_is_refused_as_torch(name):
    torch = pytest.importorskip("torch")
    w = np.abs(rng.standard_normal(4))
    with pytest.raises(ValueError) as theirs:
        getattr(torch.nn.functional, name)(torch.tensor(X), torch.tensor(X2),
                                           weight=torch.tensor(w))
    with pytest.raises(ValueError) as ours:
        getattr(F, name)(tg.tensor(X), tg.tensor(X2), weight=tg.tensor(w))
    assert str(ours.value) == str(theirs.value)
    # the same size is accepted, and matches torch
    w = np.abs(rng.standard_normal(X.shape))
    _compare(lambda a, b: getattr(F, name)(a, b, weight=tg.tensor(w)),
             lambda a, b: getattr(torch.nn.functional, name)(a, b, weight=torch.tensor(w)),
             X, X2)


def test_pairwise_distance_p0_counts_nonzeros_as_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[0.0, 1.0, 2.0], [0.5, 0.0, 3.0]])
    b = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    ours = F.pairwise_distance(tg.tensor(a, requires_grad=True), tg.tensor(b), p=0.0, eps=0.0)
    theirs = torch.nn.functional.pairwise_distance(torch.tensor(a, requires_grad=True),
                                                   torch.tensor(b), p=0.0, eps=0.0)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    assert ours.requires_grad and theirs.requires_grad
