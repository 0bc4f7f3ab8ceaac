"""torch's math beyond the core (ops/mathfuncs.py) against torch itself: values (edges
included), gradients, dtypes, broadcasting, 0-d, grad_fn names.  Finite differences and second
derivatives of the same ops run in test_ops.py and test_higher_order.py (they walk the table)."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops import mathfuncs, mathfuncs2
from tapegrad.ops.registry import Op

torch = pytest.importorskip("torch")

# (heaviside and signbit, without a gradient, have tests of their own below)
OWN_TESTS = {"heaviside", "signbit"}
OPS = [op for module in (mathfuncs, mathfuncs2) for op in vars(module).values()
       if isinstance(op, Op) and op.key not in OWN_TESTS]
UNARY = [op for op in OPS if op.arity == 1]
BINARY = [op for op in OPS if op.arity == 2]
EDGES = [0.0, -0.0, 0.5, -0.5, 1.5, -2.5, 2.5, 1.0, -1.0, 0.999, -0.3, 3.0, 100.0, -100.0,
         1e-300, float("inf"), float("-inf"), float("nan"), 4503599627370497.0]
# inputs where each op is differentiable (away from kinks and domain edges)
DOMAIN = {"asin": (-0.9, 0.9), "acos": (-0.9, 0.9), "atanh": (-0.9, 0.9), "erfinv": (-0.9, 0.9),
          "acosh": (1.2, 3.0), "log1p": (-0.5, 2.0), "log2": (0.2, 3.0), "log10": (0.2, 3.0),
          "rsqrt": (0.2, 3.0), "logit": (0.1, 0.9)}


def _inputs(key: str, shape, seed: int = 0) -> np.ndarray:
    low, high = DOMAIN.get(key, (-1.4, 1.4))
    return np.random.default_rng(seed).uniform(low, high, shape)


def test_every_op_of_the_module_is_tested_here():
    assert {op.key for op in OPS} == {
        "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "log1p",
        "expm1", "log2", "log10", "exp2", "erfc", "erfinv", "sign", "floor", "ceil", "round",
        "trunc", "frac", "rsqrt", "square", "atan2", "hypot", "fmod", "remainder", "xlogy",
        "logaddexp", "sgn", "deg2rad", "rad2deg", "logit", "sinc", "copysign", "logaddexp2",
        "nextafter"}


@pytest.mark.parametrize("op", UNARY, ids=lambda op: op.key)
def test_unary_values_at_the_edges_equal_torchs(op):
    x = np.array(EDGES)
    want = getattr(torch, op.key)(torch.tensor(x)).numpy()
    got = getattr(tg, op.key)(tg.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=2e-15, atol=0, equal_nan=True)
    # 0-d tensors take the scalar rule (Python), not NumPy
    scalars = [getattr(tg, op.key)(tg.tensor(v) * 1.0).item() for v in EDGES]
    np.testing.assert_allclose(scalars, want, rtol=2e-15, atol=0, equal_nan=True)
    signed = ~np.isnan(want)  # (zeros' signs too; a NaN's sign means nothing)
    assert np.array_equal(np.signbit(got[signed]), np.signbit(want[signed]))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("op", UNARY, ids=lambda op: op.key)
def test_unary_gradients_equal_torchs(op, dtype):
    x = _inputs(op.key, (3, 4)).astype(dtype)
    w = _inputs("w", (3, 4), 1).astype(dtype)
    ours = tg.tensor(x, requires_grad=True)
    y = getattr(ours, op.key)()
    y.backward(tg.tensor(w))
    theirs = torch.tensor(x, requires_grad=True)
    yt = getattr(theirs, op.key)()
    yt.backward(torch.tensor(w))
    assert y.dtype == getattr(tg, dtype) and ours.grad.dtype == getattr(tg, dtype)
    assert y.grad_fn.name() == yt.grad_fn.name()
    tol = 1e-13 if dtype == "float64" else 2e-6
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    # (force: torch's gradient of sgn is a ZeroTensor)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(force=True), rtol=tol,
                               atol=tol)


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.key)
def test_binary_values_at_the_edges_equal_torchs(op):
    a, b = np.meshgrid(np.array(EDGES[:-1]), np.array(EDGES[:-1]))
    want = getattr(torch, op.key)(torch.tensor(a), torch.tensor(b)).numpy()
    got = getattr(tg, op.key)(tg.tensor(a), tg.tensor(b)).numpy()
    # (torch's logaddexp2 kernel is compiled with a fused multiply-add, m + log1p(..) / ln 2 in
    # one rounding: where the sum cancels to 0 -- a == b == -1 -- its result is -5e-17, ours
    # 0; elsewhere equal.  So an absolute half-ulp of the operands' size there, for it only)
    atol = 2.0 ** -53 if op.key == "logaddexp2" else 0
    np.testing.assert_allclose(got, want, rtol=2e-15, atol=atol, equal_nan=True)
    scalars = [getattr(tg, op.key)(tg.tensor(p) * 1.0, tg.tensor(q) * 1.0).item()
               for p, q in zip(a.ravel(), b.ravel(), strict=True)]
    np.testing.assert_allclose(scalars, want.ravel(), rtol=2e-15, atol=atol, equal_nan=True)


@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3), (3,)), ((), (4,)), ((3, 1), (4,))])
@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.key)
def test_binary_gradients_equal_torchs(op, shapes):
    a = _inputs("a", shapes[0], 2)
    b = _inputs("b", shapes[1], 3) + (2.0 if op.key in ("xlogy", "fmod", "remainder") else 0.0)
    ours = [tg.tensor(v, requires_grad=True) for v in (a, b)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (a, b)]
    y = getattr(tg, op.key)(*ours)
    yt = getattr(torch, op.key)(*theirs)
    w = _inputs("w", yt.shape, 4)
    y.backward(tg.tensor(w))
    yt.backward(torch.tensor(w))
    assert y.grad_fn.name() == yt.grad_fn.name()
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-13)
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_atan2_has_no_gradient_at_the_origin_as_torch():
    a = tg.tensor([0.0, 1.0], requires_grad=True)
    b = tg.tensor([0.0, 0.0], requires_grad=True)
    tg.atan2(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, -1.0])


def test_erfinv_is_exact_to_rounding_in_the_tails():
    y = np.array([1 - 1e-12, -1 + 1e-15, 1 - 2 ** -53, 1e-300, 0.4999, 0.5, 0.9999999])
    want = torch.erfinv(torch.tensor(y)).numpy()
    np.testing.assert_allclose(tg.erfinv(tg.tensor(y)).numpy(), want, rtol=1e-15)
    many = np.random.default_rng(5).uniform(-1, 1, 10000)
    np.testing.assert_allclose(tg.erfinv(tg.tensor(many)).numpy(),
                               torch.erfinv(torch.tensor(many)).numpy(), rtol=5e-15, atol=0)


@pytest.mark.parametrize("weight", [0.3, 0.8, "tensor"])
def test_lerp_equals_torchs(weight):
    a, b = _inputs("a", (3,), 5), _inputs("b", (3,), 6)
    wv = np.array([0.2, 0.6, 0.9])
    grads = []
    for lib in (tg, torch):
        start, end = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        w = lib.tensor(wv, requires_grad=True) if weight == "tensor" else weight
        y = lib.lerp(start, end, w)
        y.sum().backward()
        grads.append((y.detach().numpy(), start.grad.numpy(), end.grad.numpy(),
                      w.grad.numpy() if weight == "tensor" else 0.0, y.grad_fn.name()))
    for ours, theirs in zip(*grads, strict=True):
        if isinstance(ours, str):
            assert ours == theirs
        else:
            np.testing.assert_allclose(ours, theirs, rtol=1e-15)


# -- torch's aliases, compositions and the ops without a gradient (ops/mathfuncs2.py, surface.py)

ALIASES = {"negative": "neg", "absolute": "abs", "arccos": "acos", "arcsin": "asin",
           "arctan": "atan", "arccosh": "acosh", "arcsinh": "asinh", "arctanh": "atanh",
           "fix": "trunc", "arctan2": "atan2", "multiply": "mul", "divide": "div",
           "subtract": "sub", "clip": "clamp"}


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_alias_is_its_op_as_torchs(alias):
    x = _inputs("acosh" if alias == "arccosh" else "atanh", (2, 3), 7)
    other = _inputs("b", (3,), 8) + 2.0
    extra = {"arctan2": (other,), "multiply": (other,), "divide": (other,),
             "subtract": (other,), "clip": (-0.5, 0.5)}.get(alias, ())
    results = []
    for lib in (tg, torch):
        t = lib.tensor(x, requires_grad=True)
        args = [lib.tensor(e) if isinstance(e, np.ndarray) else e for e in extra]
        y = getattr(lib, alias)(t, *args)
        m = getattr(t, alias)(*args)
        y.backward(lib.ones_like(y))
        results.append((y.detach().numpy(), m.detach().numpy(), t.grad.numpy(),
                        y.grad_fn.name(), m.grad_fn.name()))
    ours, theirs = results
    assert ours[3:] == theirs[3:]
    for a, b in zip(ours[:3], theirs[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    # (the same op as the name it stands for: the same node)
    assert ours[3] == getattr(tg, ALIASES[alias])(tg.tensor(x, requires_grad=True),
                                                  *[tg.tensor(e) if isinstance(e, np.ndarray)
                                                    else e for e in extra]).grad_fn.name()


@pytest.mark.parametrize("eps", [None, 0.1, 0.3])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logit_with_eps_equals_torchs(eps, dtype):
    x = np.array([0.0, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 1.0, -0.2, 1.2, np.nan])
    x = x.astype(dtype)
    w = np.linspace(0.5, 1.5, x.size).astype(dtype)
    got = []
    for lib in (tg, torch):
        t = lib.tensor(x, requires_grad=True)
        y = lib.logit(t, eps) if eps is not None else t.logit()
        y.backward(lib.tensor(w))
        got.append((y.detach().numpy(), t.grad.numpy(), y.grad_fn.name(), y.dtype))
    ours, theirs = got
    tol = 1e-15 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(ours[0], theirs[0], rtol=tol, equal_nan=True)
    grad, want = ours[1], theirs[1]
    if eps is not None:  # (NaN: torch's gradient there is NaN, through a clamp ours is 0)
        grad, want = grad[:-1], want[:-1]
    np.testing.assert_allclose(grad, want, rtol=tol, equal_nan=True)
    assert ours[2] == theirs[2] == "LogitBackward0"
    assert str(ours[3]).split(".")[-1] == str(theirs[3]).split(".")[-1]


@pytest.mark.parametrize("case", ["float64 number", "float32 number", "float32 tensor",
                                  "int tensor", "0-d"])
def test_float_power_is_float64_as_torchs(case):
    base = np.array([0.5, 1.5, 2.0, 3.0])
    exponent = np.array([2.0, -1.5, 0.5, 3.0])
    got = []
    for lib in (tg, torch):
        if case == "float64 number":
            x, e = lib.tensor(base, requires_grad=True), 2.5
        elif case == "float32 number":
            x, e = lib.tensor(base.astype(np.float32), requires_grad=True), 3
        elif case == "float32 tensor":
            x = lib.tensor(base, requires_grad=True)
            e = lib.tensor(exponent.astype(np.float32), requires_grad=True)
        elif case == "int tensor":
            x, e = lib.tensor([1, 2, 3]), lib.tensor(exponent[:3], requires_grad=True)
        else:
            x = lib.tensor(1.5, dtype=lib.float64, requires_grad=True)
            e = lib.tensor(2.5, dtype=lib.float64, requires_grad=True)
        y = lib.float_power(x, e)
        assert y.dtype == lib.float64
        y.backward(lib.ones_like(y))
        grads = [t.grad.numpy() for t in (x, e) if isinstance(t, lib.Tensor) and t.requires_grad]
        got.append((y.detach().numpy(), grads, y.grad_fn.name(), [g.dtype for g in grads]))
    ours, theirs = got
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-15)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6 if a.dtype == np.float32 else 1e-14)
    assert ours[2:] == theirs[2:]


def test_float_power_in_place_wants_float64_as_torch():
    for lib in (tg, torch):
        with pytest.raises(RuntimeError, match="the base given to float_power_ has dtype Float "
                                               "but the operation's result requires dtype "
                                               "Double"):
            lib.ones(2, dtype=lib.float32).float_power_(2)
        x = lib.tensor([1.5, 2.0], dtype=lib.float64)
        assert x.float_power_(2) is x
        np.testing.assert_array_equal(x.numpy(), [2.25, 4.0])


@pytest.mark.parametrize("name", ["clamp_min", "clamp_max"])
def test_clamp_min_and_max_equal_torchs(name):
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0, np.nan])
    got = []
    for lib in (tg, torch):
        t = lib.tensor(x, requires_grad=True)
        y = getattr(lib, name)(t, 0.25)
        m = getattr(t, name)(-0.25)
        (y + m).sum().backward()
        got.append((y.detach().numpy(), m.detach().numpy(), t.grad.numpy(), y.grad_fn.name()))
    for a, b in zip(*got, strict=True):
        if isinstance(a, str):
            assert a == b
        else:
            np.testing.assert_array_equal(a, b)


def test_copysign_with_a_number_equals_torchs():
    x = np.array([-1.5, 0.0, -0.0, 2.0, np.inf])
    got = []
    for lib in (tg, torch):
        t = lib.tensor(x, requires_grad=True)
        y = t.copysign(-1.0)
        y.backward(lib.ones_like(y))
        got.append((y.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*got, strict=True):
        np.testing.assert_array_equal(a, b)
        assert np.array_equal(np.signbit(a), np.signbit(b))


def test_heaviside_equals_torchs_and_refuses_a_gradient_as_torch():
    edges = np.array(EDGES)
    for values in (np.array(0.5), np.array(np.nan), np.linspace(-1, 1, edges.size)):
        want = torch.heaviside(torch.tensor(edges), torch.tensor(values)).numpy()
        got = tg.heaviside(tg.tensor(edges), tg.tensor(values)).numpy()
        np.testing.assert_array_equal(got, want)
        scalars = [tg.heaviside(tg.tensor(v) * 1.0, tg.tensor(values.flat[0]) * 1.0).item()
                   for v in EDGES]
        np.testing.assert_array_equal(scalars, torch.heaviside(
            torch.tensor(edges), torch.tensor(values.flat[0])).numpy())
    for lib in (tg, torch):
        x = lib.tensor([-1.0, 0.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = lib.heaviside(x, lib.tensor(0.5, dtype=lib.float64))
        assert y.requires_grad and y.grad_fn.name() == "torch::autograd::NotImplemented"
        with pytest.raises(RuntimeError, match="derivative for aten::heaviside is not "
                                               "implemented"):
            (y * x).sum().backward()
        x.grad = None
        (x * 2.0).sum().backward()  # (a graph without it is untouched)
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, 2.0])
        with pytest.raises(RuntimeError, match="heaviside is not yet implemented for tensors "
                                               "with different dtypes."):
            lib.heaviside(x.detach(), lib.tensor(0.5, dtype=lib.float32))


def test_signbit_equals_torchs():
    x = np.array(EDGES + [-np.nan])
    for dtype in (np.float64, np.float32):
        want = torch.signbit(torch.tensor(x.astype(dtype))).numpy()
        t = tg.tensor(x.astype(dtype), requires_grad=True)
        got = tg.signbit(t)
        assert got.dtype == tg.bool and not got.requires_grad and got.grad_fn is None
        np.testing.assert_array_equal(got.numpy(), want)
        np.testing.assert_array_equal(t.signbit().numpy(), want)
    ints = np.array([-3, 0, 4])
    np.testing.assert_array_equal(tg.signbit(tg.tensor(ints)).numpy(),
                                  torch.signbit(torch.tensor(ints)).numpy())
    assert tg.signbit(tg.tensor(-0.0)).item() is True


def test_nextafter_steps_one_ulp_as_torchs():
    a = np.array([0.0, 1.0, -1.0, 1e-300, np.inf, 5e-324])
    b = np.array([1.0, 2.0, -2.0, 0.0, 0.0, -1.0])
    for dtype in (np.float64, np.float32):
        want = torch.nextafter(torch.tensor(a.astype(dtype)), torch.tensor(b.astype(dtype)))
        got = tg.nextafter(tg.tensor(a.astype(dtype)), tg.tensor(b.astype(dtype)))
        assert got.dtype == getattr(tg, np.dtype(dtype).name)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_the_composed_functions_examples_run():
    import doctest

    from tapegrad import surface

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for f in (surface.logit, surface.float_power, surface.clamp_min, surface.clamp_max,
              surface.heaviside):
        for test in finder.find(f):
            assert test.examples, f
            runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
