"""What a torch program prints of tapegrad.nn results: ``grad_fn`` names of the functional
losses, activations, ``linear`` and ``pad`` (torch computes each as one op, tapegrad as a few
records whose last one carries torch's name), and ``nn.Parameter``'s repr."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tapegrad as tg

rng = np.random.default_rng(3)
X = rng.standard_normal((2, 3))
Y = np.abs(rng.standard_normal((2, 3)))
P = 1 / (1 + np.exp(-rng.standard_normal((2, 3))))
T01 = (rng.random((2, 3)) > 0.5).astype(float)
CW = np.array([1.0, 2.0, 3.0])
X4 = rng.standard_normal((2, 2, 2, 2))
X5 = rng.standard_normal((2, 2, 2, 2, 2))


class _In:
    """The same inputs as tapegrad or torch tensors (float64; the differentiable ones require
    grad)."""

    def __init__(self, lib):
        f = lib.float64
        self.x = lib.tensor(X, dtype=f, requires_grad=True)
        self.x1 = lib.tensor(X[0], dtype=f, requires_grad=True)
        self.x3 = lib.tensor(X4[0], dtype=f, requires_grad=True)
        self.x4 = lib.tensor(X4, dtype=f, requires_grad=True)
        self.x5 = lib.tensor(X5, dtype=f, requires_grad=True)
        self.y = lib.tensor(Y, dtype=f)
        self.p = lib.tensor(P, dtype=f, requires_grad=True)
        self.t01 = lib.tensor(T01, dtype=f)
        self.cw = lib.tensor(CW, dtype=f)
        self.w = lib.tensor(Y, dtype=f, requires_grad=True)
        self.w2 = lib.tensor(Y[:, :2], dtype=f, requires_grad=True)
        self.b = lib.tensor(CW[:2], dtype=f, requires_grad=True)
        self.idx = lib.tensor(np.array([2, 0]))
        self.idx3 = lib.tensor(np.array([[1, 0], [0, 1]]))
        self.idx4 = lib.tensor(np.zeros((2, 2, 2), dtype=np.int64))
        self.idx5 = lib.tensor(np.zeros((2, 2, 2, 2), dtype=np.int64))
        self.lib = lib


def _inplace(i, fn):
    return fn(i.x * 1.0)


CASES = {
    # losses
    "cross_entropy": lambda F, i: F.cross_entropy(i.x, i.idx),
    "cross_entropy_sum": lambda F, i: F.cross_entropy(i.x, i.idx, reduction="sum"),
    "cross_entropy_none": lambda F, i: F.cross_entropy(i.x, i.idx, reduction="none"),
    "cross_entropy_weight_ignore": lambda F, i: F.cross_entropy(i.x, i.idx, weight=i.cw,
                                                                ignore_index=0),
    "cross_entropy_smoothing": lambda F, i: F.cross_entropy(i.x, i.idx, label_smoothing=0.1),
    "cross_entropy_unbatched": lambda F, i: F.cross_entropy(i.x1, i.idx[0]),
    "cross_entropy_3d": lambda F, i: F.cross_entropy(i.x3, i.idx3),
    "cross_entropy_3d_none": lambda F, i: F.cross_entropy(i.x3, i.idx3, reduction="none"),
    "cross_entropy_4d_none": lambda F, i: F.cross_entropy(i.x4, i.idx4, reduction="none"),
    "cross_entropy_probs": lambda F, i: F.cross_entropy(i.x, i.y),
    "cross_entropy_probs_sum": lambda F, i: F.cross_entropy(i.x, i.y, reduction="sum"),
    "cross_entropy_probs_none": lambda F, i: F.cross_entropy(i.x, i.y, reduction="none"),
    "cross_entropy_probs_smoothing": lambda F, i: F.cross_entropy(i.x, i.y, label_smoothing=0.2),
    "nll_loss": lambda F, i: F.nll_loss(i.x, i.idx),
    "nll_loss_none": lambda F, i: F.nll_loss(i.x, i.idx, reduction="none"),
    "nll_loss_unbatched_none": lambda F, i: F.nll_loss(i.x1, i.idx[0], reduction="none"),
    "nll_loss_4d": lambda F, i: F.nll_loss(i.x4, i.idx4),
    "nll_loss_4d_none": lambda F, i: F.nll_loss(i.x4, i.idx4, reduction="none"),
    "nll_loss_5d_sum": lambda F, i: F.nll_loss(i.x5, i.idx5, reduction="sum"),
    "nll_loss_5d_none": lambda F, i: F.nll_loss(i.x5, i.idx5, reduction="none"),
    "mse_loss": lambda F, i: F.mse_loss(i.x, i.y),
    "mse_loss_sum": lambda F, i: F.mse_loss(i.x, i.y, reduction="sum"),
    "mse_loss_none": lambda F, i: F.mse_loss(i.x, i.y, reduction="none"),
    "mse_loss_broadcast": lambda F, i: F.mse_loss(i.x, i.y[0]),
    "mse_loss_0d": lambda F, i: F.mse_loss(i.x1[0], i.y[0, 0]),
    "mse_loss_weight": lambda F, i: F.mse_loss(i.x, i.y, weight=i.y),
    "l1_loss": lambda F, i: F.l1_loss(i.x, i.y),
    "l1_loss_none": lambda F, i: F.l1_loss(i.x, i.y, reduction="none"),
    "l1_loss_weight_sum": lambda F, i: F.l1_loss(i.x, i.y, weight=i.y, reduction="sum"),
    "smooth_l1_loss": lambda F, i: F.smooth_l1_loss(i.x, i.y),
    "smooth_l1_loss_none": lambda F, i: F.smooth_l1_loss(i.x, i.y, reduction="none"),
    "smooth_l1_loss_beta0": lambda F, i: F.smooth_l1_loss(i.x, i.y, beta=0.0),
    "huber_loss": lambda F, i: F.huber_loss(i.x, i.y, delta=0.5),
    "huber_loss_sum": lambda F, i: F.huber_loss(i.x, i.y, reduction="sum"),
    "huber_loss_weight": lambda F, i: F.huber_loss(i.x, i.y, weight=i.y),
    "binary_cross_entropy": lambda F, i: F.binary_cross_entropy(i.p, i.t01),
    "binary_cross_entropy_none": lambda F, i: F.binary_cross_entropy(i.p, i.t01,
                                                                     reduction="none"),
    "binary_cross_entropy_weight": lambda F, i: F.binary_cross_entropy(i.p, i.t01, weight=i.cw),
    "bce_with_logits": lambda F, i: F.binary_cross_entropy_with_logits(i.x, i.t01),
    "bce_with_logits_none": lambda F, i: F.binary_cross_entropy_with_logits(
        i.x, i.t01, reduction="none"),
    "bce_with_logits_pos_weight": lambda F, i: F.binary_cross_entropy_with_logits(
        i.x, i.t01, pos_weight=i.cw, weight=i.cw, reduction="sum"),
    "kl_div": lambda F, i: F.kl_div(i.x, i.y, reduction="batchmean"),
    "kl_div_none": lambda F, i: F.kl_div(i.x, i.y, reduction="none"),
    "gaussian_nll_loss": lambda F, i: F.gaussian_nll_loss(i.x, i.y, i.y + 0.5),
    "poisson_nll_loss": lambda F, i: F.poisson_nll_loss(i.x, i.y),
    "cosine_similarity": lambda F, i: F.cosine_similarity(i.x, i.y),
    "pairwise_distance": lambda F, i: F.pairwise_distance(i.x, i.y),
    "pairwise_distance_keepdim_p1": lambda F, i: F.pairwise_distance(i.x, i.y, p=1.0,
                                                                     keepdim=True),
    "pairwise_distance_inf": lambda F, i: F.pairwise_distance(i.x, i.y, p=float("inf")),
    "pairwise_distance_p0": lambda F, i: F.pairwise_distance(i.x, i.y, p=0.0),
    "pairwise_distance_0d": lambda F, i: F.pairwise_distance(i.x1[0], i.y[0, 0]),
    # activations
    "relu": lambda F, i: F.relu(i.x),
    "relu6": lambda F, i: F.relu6(i.x),
    "hardtanh": lambda F, i: F.hardtanh(i.x, -0.1, 0.1),
    "leaky_relu": lambda F, i: F.leaky_relu(i.x, 0.2),
    "elu": lambda F, i: F.elu(i.x, alpha=0.5),
    "selu": lambda F, i: F.selu(i.x),
    "celu": lambda F, i: F.celu(i.x),
    "gelu": lambda F, i: F.gelu(i.x),
    "gelu_tanh": lambda F, i: F.gelu(i.x, approximate="tanh"),
    "silu": lambda F, i: F.silu(i.x),
    "mish": lambda F, i: F.mish(i.x),
    "softplus": lambda F, i: F.softplus(i.x, beta=2.0, threshold=1.0),
    "logsigmoid": lambda F, i: F.logsigmoid(i.x),
    "sigmoid": lambda F, i: F.sigmoid(i.x),
    "softsign": lambda F, i: F.softsign(i.x),
    "softmax": lambda F, i: F.softmax(i.x, dim=1),
    "log_softmax": lambda F, i: F.log_softmax(i.x, dim=1),
    "softmin": lambda F, i: F.softmin(i.x, dim=1),
    "normalize": lambda F, i: F.normalize(i.x),
    "gelu_0d": lambda F, i: F.gelu(i.x1[0]),
    "relu_inplace": lambda F, i: _inplace(i, lambda z: F.relu(z, inplace=True)),
    "elu_inplace": lambda F, i: _inplace(i, lambda z: F.elu(z, inplace=True)),
    "selu_inplace": lambda F, i: _inplace(i, lambda z: F.selu(z, inplace=True)),
    "celu_inplace": lambda F, i: _inplace(i, lambda z: F.celu(z, inplace=True)),
    "leaky_relu_inplace": lambda F, i: _inplace(i, lambda z: F.leaky_relu(z, inplace=True)),
    "hardtanh_inplace": lambda F, i: _inplace(i, lambda z: F.hardtanh(z, inplace=True)),
    "relu6_inplace": lambda F, i: _inplace(i, lambda z: F.relu6(z, inplace=True)),
    "silu_inplace": lambda F, i: _inplace(i, lambda z: F.silu(z, inplace=True)),
    "mish_inplace": lambda F, i: _inplace(i, lambda z: F.mish(z, inplace=True)),
    # linear, pad
    "linear": lambda F, i: F.linear(i.x, i.w),
    "linear_bias": lambda F, i: F.linear(i.x, i.w, i.b),
    "linear_1d": lambda F, i: F.linear(i.x1, i.w),
    "linear_1d_bias": lambda F, i: F.linear(i.x1, i.w, i.b),
    "linear_3d": lambda F, i: F.linear(i.x3, i.w2),
    "linear_4d_bias": lambda F, i: F.linear(i.x4, i.w2, i.b),
    "pad_constant": lambda F, i: F.pad(i.x, (1, 2), value=3.0),
    "pad_nothing": lambda F, i: F.pad(i.x, (0, 0)),
    "pad_crop": lambda F, i: F.pad(i.x, (-1, 0, 0, -1)),
    "pad_reflect": lambda F, i: F.pad(i.x3, (1, 1), mode="reflect"),
    "pad_reflect_2": lambda F, i: F.pad(i.x4, (1, 1, 1, 0), mode="reflect"),
    "pad_reflect_3": lambda F, i: F.pad(i.x5, (1, 1, 1, 0, 1, 1), mode="reflect"),
    "pad_replicate": lambda F, i: F.pad(i.x3, (1, 1), mode="replicate"),
    "pad_replicate_2_on_3d": lambda F, i: F.pad(i.x3, (1, 1, 1, 0), mode="replicate"),
    "pad_circular": lambda F, i: F.pad(i.x3, (1, 1), mode="circular"),
}


def _name(lib, F, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = CASES[case](F, _In(lib))
    return None if out.grad_fn is None else out.grad_fn.name()


@pytest.mark.parametrize("case", list(CASES))
def test_grad_fn_name_matches_torch(case):
    torch = pytest.importorskip("torch")
    import tapegrad.nn.functional as F

    # (torch's CopySlices answers name() with a C++ namespace its repr leaves out; tapegrad
    # names it as the repr shows it, for x[k] = v too)
    theirs = _name(torch, torch.nn.functional, case)
    theirs = theirs.replace("torch::autograd::", "") if theirs else theirs
    assert _name(tg, F, case) == theirs


def test_names_without_torch():
    import tapegrad.nn.functional as F

    x = tg.tensor(X, requires_grad=True)
    assert F.cross_entropy(x, tg.tensor(np.array([2, 0]))).grad_fn.name() == "NllLossBackward0"
    loss = F.mse_loss(x, tg.tensor(Y))
    assert repr(loss).endswith("grad_fn=<MseLossBackward0>)")
    assert repr(loss.grad_fn).startswith("<MseLossBackward0 object at ")
    # the renamed node is the record's own: what it reads, and the gradient, are unchanged
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (X - Y) / X.size, rtol=1e-14)
    # a later op on the result gets its own name; a tensor outside autograd has no node
    assert (loss * 2).grad_fn.name() == "MulBackward0"
    assert F.mse_loss(tg.tensor(X), tg.tensor(Y)).grad_fn is None


def test_module_outputs_print_torch_names():
    torch = pytest.importorskip("torch")
    out = []
    for lib in (tg, torch):
        lib.manual_seed(0)
        net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)).to(
            lib.float64)
        x = lib.tensor(X, dtype=lib.float64)
        y = net(x)
        loss = lib.nn.CrossEntropyLoss()(y, lib.tensor(np.array([1, 0])))
        out.append((y.grad_fn.name(), loss.grad_fn.name(),
                    lib.nn.MSELoss()(y, lib.zeros(2, 2, dtype=lib.float64)).grad_fn.name()))
    assert out[0] == out[1] == ("AddmmBackward0", "NllLossBackward0", "MseLossBackward0")


# -- nn.Parameter's repr ---------------------------------------------------------------------


def _param_reprs(lib):
    nn = lib.nn
    ps = [nn.Parameter(lib.tensor([1.0, 2.5], dtype=lib.float64)),
          nn.Parameter(lib.tensor(3.0, dtype=lib.float64)),
          nn.Parameter(lib.zeros(2, 3, dtype=lib.float64)),
          nn.Parameter(lib.tensor([1.0, 2.0], dtype=lib.float64), requires_grad=False)]
    texts = [repr(p) for p in ps] + [str(ps[0]), repr([ps[1]])]
    # what is derived from a parameter is a plain tensor again
    texts += [repr(ps[0].detach()), repr(ps[0].data), repr(ps[0] * 2), repr(ps[0][0])]
    lin = nn.Linear(2, 1).to(lib.float64)
    texts.append(repr(lin.bias).split("\n")[0])
    return [t.replace("torch.", "").replace("tapegrad.", "") for t in texts]


def test_parameter_repr_matches_torch():
    torch = pytest.importorskip("torch")
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # (tapegrad's default: no dtype= on either side)
    try:
        theirs = _param_reprs(torch)
    finally:
        torch.set_default_dtype(default)
    ours = _param_reprs(tg)
    assert ours == theirs
    assert ours[0] == "Parameter containing:\ntensor([1.0000, 2.5000], requires_grad=True)"


def test_parameter_repr_without_torch():
    p = tg.nn.Parameter(tg.tensor([1.0, 2.5]))
    assert repr(p) == str(p) == "Parameter containing:\ntensor([1.0000, 2.5000], " \
        "requires_grad=True)"
    assert repr(p.detach()) == "tensor([1.0000, 2.5000])"


def test_module_reprs_match_torch():
    torch = pytest.importorskip("torch")

    def build(lib):
        nn = lib.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 3)
                self.w = nn.Parameter(lib.zeros(2))
                self.register_buffer("running", lib.zeros(2))
                self.blocks = nn.ModuleList([nn.Linear(3, 3) for _ in range(3)] + [nn.ReLU()])
                self.heads = nn.ModuleDict({"a": nn.Linear(3, 1), "b": nn.Identity()})
                self.seq = nn.Sequential(
                    nn.Dropout(0.2), nn.LeakyReLU(0.2), nn.Flatten(), nn.Softmax(dim=1),
                    nn.ELU(), nn.GELU(approximate="tanh"), nn.Hardtanh(-2, 2),
                    nn.Softplus(beta=2), nn.ReLU(inplace=True), nn.Linear(3, 2, bias=False),
                    nn.Bilinear(2, 3, 4), nn.CrossEntropyLoss(label_smoothing=0.1),
                    nn.MSELoss(reduction="sum"), nn.HuberLoss(delta=0.5), nn.Sequential())

        return repr(Net())

    assert build(tg) == build(torch)


# -- the layers' functions (conv, pooling, normalisation, embedding, extras) -----------------

LAYER_CASES = {
    "conv2d": lambda F, t, x, x1, w, b: F.conv2d(x, w),
    "conv2d_bias": lambda F, t, x, x1, w, b: F.conv2d(x, w, b, stride=2, padding=1),
    "conv2d_unbatched": lambda F, t, x, x1, w, b: F.conv2d(x[0], w, b),
    "conv2d_same": lambda F, t, x, x1, w, b: F.conv2d(x, w, padding="same"),
    "conv1d": lambda F, t, x, x1, w, b: F.conv1d(x1, w[:, :, 0]),
    "conv_transpose2d": lambda F, t, x, x1, w, b: F.conv_transpose2d(x, w, b, stride=2),
    "max_pool2d": lambda F, t, x, x1, w, b: F.max_pool2d(x, 2),
    "max_pool2d_unbatched": lambda F, t, x, x1, w, b: F.max_pool2d(x[0], 2),
    "max_pool2d_indices": lambda F, t, x, x1, w, b: F.max_pool2d(x, 2, return_indices=True)[0],
    "max_pool1d": lambda F, t, x, x1, w, b: F.max_pool1d(x1, 2),
    "max_pool3d": lambda F, t, x, x1, w, b: F.max_pool3d(x, 2),
    "avg_pool2d": lambda F, t, x, x1, w, b: F.avg_pool2d(x, 2),
    "avg_pool2d_unbatched": lambda F, t, x, x1, w, b: F.avg_pool2d(x[0], 2),
    "avg_pool1d": lambda F, t, x, x1, w, b: F.avg_pool1d(x1, 2),
    "avg_pool3d": lambda F, t, x, x1, w, b: F.avg_pool3d(x, 2),
    "adaptive_avg_pool2d": lambda F, t, x, x1, w, b: F.adaptive_avg_pool2d(x, 2),
    "adaptive_avg_pool2d_1": lambda F, t, x, x1, w, b: F.adaptive_avg_pool2d(x, 1),
    "adaptive_avg_pool1d": lambda F, t, x, x1, w, b: F.adaptive_avg_pool1d(x1, 2),
    "adaptive_max_pool2d": lambda F, t, x, x1, w, b: F.adaptive_max_pool2d(x, 2),
    "adaptive_max_pool1d": lambda F, t, x, x1, w, b: F.adaptive_max_pool1d(x1, 2),
    "batch_norm_train": lambda F, t, x, x1, w, b: F.batch_norm(x, None, None, training=True),
    "batch_norm_eval": lambda F, t, x, x1, w, b: F.batch_norm(x, t.zeros(4, dtype=t.float64),
                                                              t.ones(4, dtype=t.float64), b, b),
    "layer_norm": lambda F, t, x, x1, w, b: F.layer_norm(x, (6,)),
    "group_norm": lambda F, t, x, x1, w, b: F.group_norm(x, 2, b, b),
    "embedding": lambda F, t, x, x1, w, b: F.embedding(t.tensor([0, 1]), w.reshape(-1, 9)),
    "embedding_padding": lambda F, t, x, x1, w, b: F.embedding(t.tensor([0, 1]),
                                                               w.reshape(-1, 9), padding_idx=0),
    "prelu": lambda F, t, x, x1, w, b: F.prelu(x, b),
    "tanhshrink": lambda F, t, x, x1, w, b: F.tanhshrink(x),
    "glu": lambda F, t, x, x1, w, b: F.glu(x),
    "hardshrink": lambda F, t, x, x1, w, b: F.hardshrink(x),
    "softshrink": lambda F, t, x, x1, w, b: F.softshrink(x),
    "threshold": lambda F, t, x, x1, w, b: F.threshold(x, 0.1, 2.0),
    "hardswish": lambda F, t, x, x1, w, b: F.hardswish(x),
    "hardsigmoid": lambda F, t, x, x1, w, b: F.hardsigmoid(x),
    "margin_ranking_loss": lambda F, t, x, x1, w, b: F.margin_ranking_loss(b, b * 2, b),
    "margin_ranking_loss_none": lambda F, t, x, x1, w, b: F.margin_ranking_loss(
        b, b * 2, b, reduction="none"),
    "hinge_embedding_loss": lambda F, t, x, x1, w, b: F.hinge_embedding_loss(b, b),
    "triplet_margin_loss": lambda F, t, x, x1, w, b: F.triplet_margin_loss(x1, x1 * 2, x1),
    "dropout2d": lambda F, t, x, x1, w, b: F.dropout2d(x),
    "dropout1d": lambda F, t, x, x1, w, b: F.dropout1d(x1),
}


def _layer_name(lib, F, case):
    r = np.random.default_rng(8)
    f = lib.float64
    args = [lib.tensor(r.standard_normal(s), dtype=f, requires_grad=True)
            for s in ((2, 4, 6, 6), (2, 4, 6), (4, 4, 3, 3), (4,))]
    out = LAYER_CASES[case](F, lib, *args)
    return out.grad_fn.name()


@pytest.mark.parametrize("case", list(LAYER_CASES))
def test_layer_function_grad_fn_names_match_torch(case):
    torch = pytest.importorskip("torch")
    import tapegrad.nn.functional as F

    assert _layer_name(tg, F, case) == _layer_name(torch, torch.nn.functional, case)


# -- signatures of the layers and functions --------------------------------------------------

NEW_FUNCTIONS = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "max_pool1d",
    "max_pool2d", "max_pool3d", "avg_pool1d",
    "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool1d", "adaptive_max_pool2d", "batch_norm", "layer_norm", "group_norm",
    "instance_norm", "embedding", "hardswish", "hardsigmoid", "tanhshrink", "glu", "prelu",
    "hardshrink",
    "softshrink", "threshold", "dropout1d", "dropout2d", "dropout3d", "margin_ranking_loss",
    "hinge_embedding_loss", "triplet_margin_loss",
]

NEW_CLASSES = [
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d",
    "MaxPool2d", "MaxPool3d", "AvgPool1d",
    "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm",
    "InstanceNorm1d", "InstanceNorm2d", "Embedding", "RNNCell", "LSTMCell", "GRUCell",
    "Hardswish", "Hardsigmoid", "Tanhshrink",
    "GLU", "PReLU", "Hardshrink", "Softshrink", "Threshold", "Dropout1d", "Dropout2d",
    "Dropout3d", "Unflatten", "ParameterList", "ParameterDict", "MarginRankingLoss",
    "HingeEmbeddingLoss", "TripletMarginLoss",
]

NEW_UTILS = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
             "parameters_to_vector", "vector_to_parameters"]


def _params(fn):
    import inspect

    try:
        sig = inspect.signature(fn)
    except ValueError:  # (a torch builtin: the signature its docstring documents)
        head = (fn.__doc__ or "").strip().split("\n")[0]
        if "(" not in head:
            return None
        scope: dict = {}
        exec("def _documented" + head[head.index("("):head.rindex(")") + 1] + ": pass", scope)
        sig = inspect.signature(scope["_documented"])
    return [(p.name, p.kind, p.default) for p in sig.parameters.values() if p.name != "self"]


def _check_signature(ours, theirs, name):
    want = _params(theirs)
    if want is None:
        pytest.skip(f"torch's {name} has no Python signature")
    got = _params(ours)
    assert [p[:2] for p in got] == [p[:2] for p in want], name
    for (pname, _, mine), (_, _, default) in zip(got, want, strict=True):
        assert mine == default or (mine is None and default is None), (name, pname)


@pytest.mark.parametrize("name", NEW_FUNCTIONS)
def test_new_function_signatures_match_torch(name):
    torch = pytest.importorskip("torch")
    import tapegrad.nn.functional as F

    assert name in F.__all__
    # (torch's max pools dispatch on return_indices: their documented signature is the
    # *_with_indices function's)
    theirs = getattr(torch.nn.functional, name + "_with_indices",
                     getattr(torch.nn.functional, name))
    _check_signature(getattr(F, name), theirs, name)


@pytest.mark.parametrize("name", NEW_CLASSES)
def test_new_class_signatures_match_torch(name):
    torch = pytest.importorskip("torch")

    assert name in tg.nn.__all__
    theirs = getattr(torch.nn, name).__init__
    if theirs is torch.nn.Module.__init__:  # (no arguments of its own)
        assert _params(getattr(tg.nn, name).__init__) == []
        return
    _check_signature(getattr(tg.nn, name).__init__, theirs, name)


@pytest.mark.parametrize("name", NEW_UTILS)
def test_nn_utils_signatures_match_torch(name):
    torch = pytest.importorskip("torch")

    assert name in tg.nn.utils.__all__
    _check_signature(getattr(tg.nn.utils, name), getattr(torch.nn.utils, name), name)
