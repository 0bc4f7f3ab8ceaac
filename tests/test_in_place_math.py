"""The in-place forms made from the op table (``x.exp_()``, ``x.atan2_(y)``, ``x.clamp_(0, 1)``
...; surface.py) against torch: which exist, values, gradients through them, node names, version
counters, and torch's refusals (a leaf that requires grad, a value a backward needs changed, a
result that does not fit)."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops import OPS
from tapegrad.surface import COMPOSED

torch = pytest.importorskip("torch")

# inputs where each op is defined and differentiable (default: (-1.4, 1.4))
DOMAIN = {"asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atanh": (-0.9, 0.9),
          "erfinv": (-0.9, 0.9), "acosh": (1.2, 3.0), "log1p": (-0.5, 2.0), "log2": (0.2, 3.0),
          "log10": (0.2, 3.0), "rsqrt": (0.2, 3.0), "log": (0.2, 3.0), "sqrt": (0.2, 3.0),
          "reciprocal": (0.3, 3.0), "logit": (0.1, 0.9)}
ALIAS_OF = {alias: op.key for op in OPS if op.surface is not None
            for alias in op.surface.aliases}
ALIAS_OF.update({"arctanh": "atanh", "arcsin": "asin", "arccos": "acos", "arccosh": "acosh"})
UNARY = sorted(name for op in OPS if op.surface is not None and op.rules
               and op.rules[0] == "unary" and op.py is not None
               for name in (op.surface.method, *op.surface.aliases))


def _inputs(name: str, shape, seed: int = 0) -> np.ndarray:
    low, high = DOMAIN.get(ALIAS_OF.get(name, name), (-1.4, 1.4))
    x = np.random.default_rng(seed).uniform(low, high, shape)
    return np.where(np.abs(x - np.round(x)) < 0.05, x + 0.1, x)  # (off the rounding kinks)


def test_the_in_place_forms_are_torchs():
    names = {name for op in OPS if op.surface is not None and op.surface.method is not None
             and (op.rules or op.key == "clamp")
             for name in (op.surface.method, *op.surface.aliases)} | set(COMPOSED)
    ours = {name for name in names if hasattr(tg.Tensor, f"{name}_")}
    theirs = {name for name in names if hasattr(torch.Tensor, f"{name}_")}
    # (torch's in-place comparisons, eq_ lt_ ..., and logical_*_ are not made here)
    missing = theirs - ours
    assert missing <= {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or",
                       "logical_xor", "logical_not"}, sorted(missing)
    assert ours <= theirs, sorted(ours - theirs)
    assert {"exp", "sin", "clamp", "clip", "clamp_min", "clamp_max", "pow", "atan2", "hypot",
            "fmod", "remainder", "copysign", "logit", "arccos", "fix", "negative",
            "float_power"} <= ours


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", UNARY)
def test_unary_in_place_equals_torchs(name, dtype):
    x = _inputs(name, (2, 3)).astype(dtype)
    w = np.random.default_rng(1).uniform(0.5, 1.5, (2, 3)).astype(dtype)
    got = []
    for lib in (tg, torch):
        t = lib.tensor(x, requires_grad=True)
        y = t * 1.0
        version = y._version
        assert getattr(y, f"{name}_")() is y
        assert y._version == version + 1
        name_ = y.grad_fn.name()
        try:
            y.backward(lib.tensor(w))
        except NotImplementedError as e:  # (torch's acosh_ asinh_ atanh_)
            grad = str(e)
        else:  # (force: torch's gradient of sgn is a ZeroTensor)
            grad = t.grad.numpy(force=True) if lib is torch else t.grad.numpy()
        got.append((y.detach().numpy(), grad, name_, y.dtype))
    ours, theirs = got
    tol = 1e-14 if dtype == "float64" else 2e-6
    np.testing.assert_allclose(ours[0], theirs[0], rtol=tol, atol=tol)
    if isinstance(theirs[1], str):
        assert ours[1] == theirs[1]
    else:
        np.testing.assert_allclose(ours[1], theirs[1], rtol=tol, atol=tol)
    assert ours[2] == theirs[2]
    assert str(ours[3]).split(".")[-1] == str(theirs[3]).split(".")[-1]


@pytest.mark.parametrize("name", ["exp", "sin", "abs", "sigmoid", "square"])
def test_unary_in_place_on_a_0d_tensor_equals_torchs(name):
    got = []
    for lib in (tg, torch):
        t = lib.tensor(0.7, dtype=lib.float64, requires_grad=True)
        y = t * 2.0
        getattr(y, f"{name}_")()
        y.backward()
        got.append((y.item(), t.grad.item(), y.grad_fn.name()))
    assert got[0][2] == got[1][2]
    np.testing.assert_allclose(got[0][:2], got[1][:2], rtol=1e-15)


BINARY = [("pow", "tensor"), ("pow", 2.0), ("pow", 0.5), ("atan2", "tensor"),
          ("arctan2", "tensor"), ("hypot", "tensor"), ("fmod", "tensor"), ("fmod", 0.7),
          ("remainder", "tensor"), ("remainder", -0.8), ("xlogy", "tensor"), ("xlogy", 2.0),
          ("copysign", "tensor"), ("copysign", -1.0), ("nextafter", "tensor"),
          ("float_power", "tensor"), ("float_power", 3), ("multiply", "tensor"),
          ("divide", "tensor"), ("subtract", "tensor")]


@pytest.mark.parametrize("other_shape", [(2, 3), (3,), ()])
@pytest.mark.parametrize("name,other", BINARY, ids=[f"{n}-{o}" for n, o in BINARY])
def test_binary_in_place_equals_torchs(name, other, other_shape):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.3, 2.0, (2, 3))
    o = rng.uniform(0.3, 2.0, other_shape) * (-1.0 if name == "copysign" else 1.0)
    w = rng.uniform(0.5, 1.5, (2, 3))
    got = []
    for lib in (tg, torch):
        t = lib.tensor(x, requires_grad=True)
        ot = lib.tensor(o, requires_grad=True) if other == "tensor" else other
        y = t * 1.0
        assert getattr(y, f"{name}_")(ot) is y
        y.backward(lib.tensor(w))
        grads = [t.grad.numpy()] + ([ot.grad.numpy()] if other == "tensor" else [])
        got.append((y.detach().numpy(), grads, y.grad_fn.name(), y._version))
    ours, theirs = got
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-14)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    assert ours[2:] == theirs[2:]


def test_in_place_when_only_the_other_operand_requires_grad():
    got = []
    for lib in (tg, torch):
        y = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64)
        w = lib.tensor([1.5, 0.3, -0.7], dtype=lib.float64, requires_grad=True)
        y.atan2_(w)
        assert y.requires_grad and not y.is_leaf
        y.pow_(w)  # (pow's gradients read the base: the value before the change)
        y.sum().backward()
        got.append((y.detach().numpy(), w.grad.numpy(), y.grad_fn.name()))
    for a, b in zip(*got, strict=True):
        if isinstance(a, str):
            assert a == b
        else:
            np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize("chain", [("sin", "exp"), ("exp", "sin"), ("sqrt", "log"),
                                   ("tanh", "abs"), ("sigmoid", "neg")])
def test_chains_of_in_place_ops_equal_torchs_or_fail_as_torchs(chain):
    """An op that saved its result (exp, sqrt, tanh, sigmoid) refuses once a later in-place op
    changed it; one that saved its input reads a copy (sin, log, abs)."""
    x = np.array([0.4, 1.2, 2.0])
    got = []
    for lib in (tg, torch):
        t = lib.tensor(x, requires_grad=True)
        y = t * 1.0
        for name in chain:
            getattr(y, f"{name}_")()
        try:
            y.sum().backward()
        except RuntimeError as e:
            assert "modified by an inplace operation" in str(e)
            got.append(("refused", str(e).split(":")[0]))
        else:
            got.append((y.detach().numpy(), t.grad.numpy()))
    ours, theirs = got
    assert type(ours[0]) is type(theirs[0])
    if isinstance(ours[0], str):
        assert ours == theirs
    else:
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-14)


def test_a_saved_value_changed_in_place_is_refused_as_torch():
    for lib in (tg, torch):
        t = lib.tensor([0.5, 1.0], dtype=lib.float64, requires_grad=True)
        y = t.exp()  # (saves its result)
        y.cos_()
        with pytest.raises(RuntimeError, match=r"one of the variables needed for gradient "
                                               r"computation has been modified by an inplace "
                                               r"operation: \[\w+\.DoubleTensor \[2\]\].*is at "
                                               r"version 1; expected version 0 instead"):
            y.sum().backward()


@pytest.mark.parametrize("name,args", [("exp", ()), ("clamp", (0.0, 1.0)), ("atan2", ("t",)),
                                       ("logit", (0.1,)), ("copysign", (-1.0,))])
def test_a_leaf_that_requires_grad_is_refused_as_torch(name, args):
    for lib in (tg, torch):
        t = lib.tensor([0.5, 0.25], dtype=lib.float64, requires_grad=True)
        real = [lib.ones(2, dtype=lib.float64) if a == "t" else a for a in args]
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being "
                                               "used in an in-place operation."):
            getattr(t, f"{name}_")(*real)
        np.testing.assert_array_equal(t.detach().numpy(), [0.5, 0.25])  # (untouched)
        with lib.no_grad():  # (allowed under no_grad, as torch's; the version counts it)
            getattr(t, f"{name}_")(*real)
        assert t._version == 1


def test_results_that_do_not_fit_are_refused_as_torch():
    for lib in (tg, torch):
        with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                                               r"broadcast shape \[2, 3\]"):
            lib.ones(3, dtype=lib.float64).atan2_(lib.ones(2, 3, dtype=lib.float64))
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
            lib.tensor([1, 2]).exp_()
        i = lib.tensor([-1, 2])
        i.neg_()
        i.abs_()
        np.testing.assert_array_equal(i.numpy(), [1, 2])
        assert i.dtype == lib.int64
    # (a tensor operand that requires grad: refused before anything is recorded)
    w = tg.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="result type Double can't be cast to the desired "
                                           "output type Long"):
        tg.tensor([1, 2, 3]).atan2_(w)


def test_clamp_family_in_place_equals_torchs():
    x = np.array([-2.0, -0.5, 0.2, 0.7, 3.0])
    got = []
    for lib in (tg, torch):
        t = lib.tensor(x, requires_grad=True)
        y = t * 2.0
        y.clamp_(-1.5, 2.5).clip_(max=2.0).clamp_min_(-1.2).clamp_max_(1.8)
        y.backward(lib.tensor(np.linspace(0.5, 1.5, 5)))
        got.append((y.detach().numpy(), t.grad.numpy(), y.grad_fn.name(), y._version))
    for a, b in zip(*got, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b


def test_in_place_changes_reach_views_and_share_the_version():
    for lib in (tg, torch):
        base = lib.tensor([0.5, 1.0, 2.0], dtype=lib.float64)
        view = base[1:]
        view.exp_()
        np.testing.assert_allclose(base.numpy(), [0.5, np.e, np.exp(2.0)], rtol=1e-15)
        assert base._version == view._version == 1


@pytest.mark.parametrize("then", ["*=", "mul_", "add_", "zero_", "setitem"])
def test_a_result_saved_by_an_in_place_op_is_watched_as_torchs(then):
    """exp_ saves its result (self's new value): a later change to self, by any in-place op,
    makes backward refuse rather than read the changed value."""
    outcomes = []
    for lib in (tg, torch):
        t = lib.tensor([0.5, 1.5], dtype=lib.float64, requires_grad=True)
        y = t * 1.0
        y.exp_()
        if then == "*=":
            y *= 2.0
        elif then == "mul_":
            y.mul_(2.0)
        elif then == "add_":  # (add_ keeps nothing; exp's saved result is still changed)
            y.add_(1.0)
        elif then == "zero_":
            y.zero_()
        else:
            y[0] = 3.0
        try:
            y.sum().backward()
        except RuntimeError as e:
            outcomes.append(str(e).split(":")[0])
        else:
            outcomes.append(t.grad.numpy().tolist())
    assert outcomes[0] == outcomes[1]


def test_in_place_signatures_are_the_methods():
    import inspect

    assert str(inspect.signature(tg.Tensor.exp_)) == "(self)"
    assert str(inspect.signature(tg.Tensor.atan2_)) == "(self, other)"
    assert str(inspect.signature(tg.Tensor.pow_)) == "(self, exponent)"
    assert str(inspect.signature(tg.Tensor.clamp_)) == "(self, min=None, max=None)"
    logit = inspect.signature(tg.Tensor.logit_).parameters
    assert list(logit) == ["self", "eps"] and logit["eps"].default is None
    assert tg.Tensor.multiply_ is tg.Tensor.mul_ and tg.Tensor.arccos_ is not None
