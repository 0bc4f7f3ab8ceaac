"""tapegrad.autograd.functional (DESIGN.md §6): vjp, jvp, jacobian, hessian, hvp, vhp against
torch.autograd.functional -- values, the nesting of the tuples returned, whether results carry
history (create_graph), the derivatives of results made with create_graph, strict-mode errors
and the other errors (type and message); torch's docstring examples included.
"""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import functional as F

torch = pytest.importorskip("torch")
TF = torch.autograd.functional

RNG = np.random.default_rng(18)



# --------------------------------------------------------------------------- helpers


def to_torch(x):
    """A tapegrad tensor (or a tuple of them) as torch tensors with the same values and
    requires_grad."""
    if isinstance(x, (tuple, list)):
        return type(x)(to_torch(e) for e in x)
    if isinstance(x, tg.Tensor):
        t = torch.tensor(x.detach().numpy().copy())
        return t.requires_grad_(x.requires_grad) if x.requires_grad else t
    return x


def assert_same(got, want, path="result", requires_grad=True):
    """Same nesting of tuples, same shapes and dtypes, same values, same requires_grad (unless
    ``requires_grad=False``)."""
    if isinstance(want, (tuple, list)):
        assert type(got) is type(want), f"{path}: torch gives a {type(want)}, tapegrad {type(got)}"
        assert len(got) == len(want), f"{path}: length {len(got)} vs torch's {len(want)}"
        for k, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{k}]", requires_grad)
        return
    assert isinstance(want, torch.Tensor), path
    assert isinstance(got, tg.Tensor), f"{path}: torch gives a Tensor, tapegrad {type(got)}"
    assert tuple(got.shape) == tuple(want.shape), f"{path}: shape {got.shape} vs {want.shape}"
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], path
    tol = 1e-12 if want.dtype == torch.float64 else 1e-6
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=tol, atol=tol,
                               err_msg=path)
    assert not requires_grad or got.requires_grad == want.requires_grad, (
        f"{path}: requires_grad {got.requires_grad} vs torch's {want.requires_grad}")


def flat_tensors(x):
    if isinstance(x, tuple):
        return [t for e in x for t in flat_tensors(e)]
    return [x]


def same_call(api, func, inputs, *args, **kwargs):
    """Call ``api`` in tapegrad and torch on the same values; compare results, or errors."""
    try:
        want = getattr(TF, api)(func, to_torch(inputs), *to_torch(args), **kwargs)
    except Exception as exc:  # torch's error is the contract
        with pytest.raises(type(exc)) as info:
            getattr(F, api)(func, inputs, *args, **kwargs)
        assert normalized(str(info.value)) == normalized(str(exc))
        return None, None
    got = getattr(F, api)(func, inputs, *args, **kwargs)
    assert_same(got, want)
    return got, want


def normalized(message: str) -> str:
    return message.replace("torch.Size", "tapegrad.Size").replace(
        "<class 'torch.Tensor'>", "<class 'tapegrad.tensor.Tensor'>")


def rand(*shape, requires_grad=False):
    return tg.tensor(np.asarray(RNG.uniform(0.1, 1.0, shape)), requires_grad=requires_grad)


# functions written once for both frameworks


def exp_reducer(x):
    return x.exp().sum(dim=1)


def adder(x, y):
    return 2 * x + 3 * y


def exp_adder(x, y):
    return 2 * x.exp() + 3 * y


def pow_reducer(x):
    return x.pow(3).sum()


def pow_adder_reducer(x, y):
    return (2 * x.pow(2) + 3 * y.pow(2)).sum()


def two_outputs(x, y):
    return (x * y).sin(), (x.exp() * y.pow(2)).sum()


def mixed_scalar(x, y):
    return (x.sin() * y.pow(3)).sum() + (x * x).sum() * y[0]


def linear(x):
    return 3 * x + 1


def ignores_y(x, y):
    # (a cube: torch's graph of x ** 2's second derivative still depends on x, tapegrad's not)
    return (x ** 3).sum()


# --------------------------------------------------------------------------- docstring examples


class TestDocstringExamples:
    """torch's own examples, on fixed random inputs, compared with torch's outputs."""

    def test_vjp(self):
        inputs, v = rand(4, 4), tg.ones(4)
        same_call("vjp", exp_reducer, inputs, v)
        (out, grads), _ = same_call("vjp", exp_reducer, inputs, v, create_graph=True)
        assert out.grad_fn is not None and grads.grad_fn is not None
        same_call("vjp", adder, (rand(2), rand(2)), tg.ones(2))

    def test_jvp(self):
        inputs, v = rand(4, 4), tg.ones(4, 4)
        same_call("jvp", exp_reducer, inputs, v)
        same_call("jvp", exp_reducer, inputs, v, create_graph=True)
        same_call("jvp", adder, (rand(2), rand(2)), (tg.ones(2), tg.ones(2)))

    def test_jacobian(self):
        inputs = rand(2, 2)
        same_call("jacobian", exp_reducer, inputs)
        same_call("jacobian", exp_reducer, inputs, create_graph=True)
        same_call("jacobian", exp_adder, (rand(2), rand(2)))

    def test_jacobian_vectorize(self):
        def linear_model(x, lib):
            W = lib.tensor([[2.0, -1.0], [0.0, 1.0]], dtype=lib.float64)
            b = lib.tensor([1.0, 0.5], dtype=lib.float64)
            return x @ W.T + b

        x = tg.tensor(RNG.standard_normal((4, 2)), requires_grad=True)
        got = F.jacobian(lambda x: linear_model(x, tg), x, vectorize=True)
        want = TF.jacobian(lambda x: linear_model(x, torch), to_torch(x), vectorize=True)
        assert tuple(got.shape) == (4, 2, 4, 2)
        assert_same(got, want)

    def test_hessian(self):
        inputs = rand(2, 2)
        same_call("hessian", pow_reducer, inputs)
        same_call("hessian", pow_reducer, inputs, create_graph=True)
        same_call("hessian", pow_adder_reducer, (rand(2), rand(2)))

    def test_vhp(self):
        inputs, v = rand(2, 2), tg.ones(2, 2)
        same_call("vhp", pow_reducer, inputs, v)
        same_call("vhp", pow_reducer, inputs, v, create_graph=True)
        same_call("vhp", pow_adder_reducer, (rand(2), rand(2)), (tg.zeros(2), tg.ones(2)))

    def test_hvp(self):
        inputs, v = rand(2, 2), tg.ones(2, 2)
        same_call("hvp", pow_reducer, inputs, v)
        same_call("hvp", pow_reducer, inputs, v, create_graph=True)
        same_call("hvp", pow_adder_reducer, (rand(2), rand(2)), (tg.zeros(2), tg.ones(2)))


# --------------------------------------------------------------------------- values and nesting


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("requires_grad", [False, True])
class TestAgainstTorch:
    def test_vjp(self, create_graph, requires_grad):
        x, y = rand(3, requires_grad=requires_grad), rand(3, requires_grad=requires_grad)
        v = (rand(3), rand())
        same_call("vjp", two_outputs, (x, y), v, create_graph=create_graph)
        same_call("vjp", mixed_scalar, (x, y), create_graph=create_graph)
        same_call("vjp", mixed_scalar, [x, y], create_graph=create_graph)  # a list: tuple out

    def test_jvp(self, create_graph, requires_grad):
        x, y = rand(3, requires_grad=requires_grad), rand(3, requires_grad=requires_grad)
        same_call("jvp", two_outputs, (x, y), (rand(3), rand(3)), create_graph=create_graph)
        same_call("jvp", lambda x: x.sin() * x, rand(requires_grad=requires_grad),
                  create_graph=create_graph)  # v may be omitted for a one-element input

    def test_jacobian(self, create_graph, requires_grad):
        x, y = rand(3, requires_grad=requires_grad), rand(3, requires_grad=requires_grad)
        same_call("jacobian", two_outputs, (x, y), create_graph=create_graph)
        same_call("jacobian", lambda x: (x.sin(), x.sum()), x, create_graph=create_graph)
        same_call("jacobian", lambda x, y: x * y, (x, y), create_graph=create_graph)
        same_call("jacobian", lambda x: x.pow(2).sum(), rand(2, 3), create_graph=create_graph)

    def test_hessian(self, create_graph, requires_grad):
        x, y = rand(3, requires_grad=requires_grad), rand(2, requires_grad=requires_grad)
        same_call("hessian", mixed_scalar, (x, rand(3)), create_graph=create_graph)
        same_call("hessian", lambda x: (x.sin() * x).sum(), x, create_graph=create_graph)
        same_call("hessian", ignores_y, (x, y), create_graph=create_graph)

    def test_vhp_hvp(self, create_graph, requires_grad):
        x, y = rand(3, requires_grad=requires_grad), rand(3, requires_grad=requires_grad)
        for api in ("vhp", "hvp"):
            same_call(api, mixed_scalar, (x, y), (rand(3), rand(3)), create_graph=create_graph)
            same_call(api, lambda x: (x.sin() * x).sum(), x, rand(3),
                      create_graph=create_graph)
            same_call(api, ignores_y, (x, y), (rand(3), rand(3)), create_graph=create_graph)


@pytest.mark.parametrize("api", ["vjp", "jvp", "vhp", "hvp"])
def test_results_made_with_create_graph_differentiate_as_torchs(api):
    """The product is connected to the inputs: its own gradient equals torch's."""
    x = rand(3, requires_grad=True)
    v = rand(3)
    func = (lambda x: (x.sin() * x.pow(2)).sum()) if api in ("vhp", "hvp") else (
        lambda x: x.sin() * x.pow(2))
    xt = to_torch(x)
    _, got = getattr(F, api)(func, x, v, create_graph=True)
    _, want = getattr(TF, api)(func, xt, to_torch(v), create_graph=True)
    (dgot,) = tg.autograd.grad((got * got).sum(), x)
    (dwant,) = torch.autograd.grad((want * want).sum(), xt)
    np.testing.assert_allclose(dgot.numpy(), dwant.numpy(), rtol=1e-12)


def test_hessian_with_create_graph_differentiates_as_torchs():
    x = rand(3, requires_grad=True)
    xt = to_torch(x)
    got = F.hessian(lambda x: (x.sin() * x.pow(2)).sum(), x, create_graph=True)
    want = TF.hessian(lambda x: (x.sin() * x.pow(2)).sum(), xt, create_graph=True)
    (dgot,) = tg.autograd.grad(got.sum(), x)
    (dwant,) = torch.autograd.grad(want.sum(), xt)
    np.testing.assert_allclose(dgot.numpy(), dwant.numpy(), rtol=1e-12)


def test_hvp_against_closed_form():
    """An oracle independent of torch: f = sum(x^3) * y, H = [[6 x y diag, 3x^2], [3x^2^T, 0]]."""
    x, y = rand(4), rand()
    vx, vy = rand(4), rand()
    _, (hx, hy) = F.hvp(lambda x, y: (x ** 3).sum() * y, (x, y), (vx, vy))
    xn, yn, vxn, vyn = (t.numpy() for t in (x, y, vx, vy))
    np.testing.assert_allclose(hx.numpy(), 6 * xn * yn * vxn + 3 * xn ** 2 * vyn, rtol=1e-12)
    np.testing.assert_allclose(hy.numpy(), np.dot(3 * xn ** 2, vxn), rtol=1e-12)


def test_float32_inputs_keep_their_dtype():
    x = tg.tensor(RNG.uniform(size=3), dtype=tg.float32)
    same_call("jacobian", lambda x: x.sin() * x, x)
    same_call("hvp", lambda x: (x.sin() * x).sum(), x, tg.ones(3, dtype=tg.float32))


def test_inputs_are_not_touched():
    x = rand(3, requires_grad=True)
    before = x.detach().numpy().copy()
    F.hessian(lambda x: (x ** 3).sum(), x)
    F.vjp(lambda x: x * 2, x, tg.ones(3))
    assert x.grad is None and x.is_leaf
    np.testing.assert_array_equal(x.detach().numpy(), before)


def test_closed_over_tensor_is_not_an_input():
    """torch issue 32576: ``func`` closing over the very tensor given as input differentiates
    only the fresh input object."""
    x = rand(3, requires_grad=True)
    xt = to_torch(x)
    same_call_pair = (F.vjp(lambda a: a * x, x, tg.ones(3)),
                      TF.vjp(lambda a: a * xt, xt, torch.ones(3, dtype=torch.float64)))
    assert_same(*same_call_pair)


@pytest.mark.parametrize("create_graph", [False, True])
def test_under_no_grad(create_graph):
    x = rand(3, requires_grad=True)
    with tg.no_grad(), torch.no_grad():
        same_call("vjp", lambda x: x.sin(), x, rand(3), create_graph=create_graph)
        same_call("hvp", lambda x: (x.sin() * x).sum(), x, rand(3), create_graph=create_graph)
        same_call("jacobian", lambda x: x.sin(), x, create_graph=create_graph)


# --------------------------------------------------------------------------- strict mode


STRICT_CASES = [
    ("vjp", ignores_y, (rand(2), rand(2)), (rand(),), {}),
    ("vjp", lambda x: tg.ones(2) if isinstance(x, tg.Tensor) else torch.ones(2), rand(2),
     (rand(2),), {}),
    ("jvp", ignores_y, (rand(2), rand(2)), ((rand(2), rand(2)),), {}),
    ("jacobian", ignores_y, (rand(2), rand(2)), (), {}),
    ("jacobian", linear, rand(2), (), {"create_graph": True}),
    ("hessian", lambda x: x.sum(), rand(2), (), {}),
    ("hessian", lambda x: (x ** 2).sum(), rand(2), (), {}),
    ("hessian", lambda x: (x * x).sum(), rand(2), (), {"create_graph": True}),
    ("vhp", lambda x: x.sum(), rand(2), (rand(2),), {}),
    ("vhp", ignores_y, (rand(2), rand(2)), ((rand(2), rand(2)),), {}),
    ("vhp", lambda x: (x * x).sum(), rand(2), (rand(2),), {"create_graph": True}),
    ("hvp", lambda x: x.sum(), rand(2), (rand(2),), {}),
    ("hvp", ignores_y, (rand(2), rand(2)), ((rand(2), rand(2)),), {}),
    ("hvp", lambda x: (x * x).sum(), rand(2), (rand(2),), {"create_graph": True}),
    ("vjp", lambda x: x.sin(), rand(2), (rand(2),), {}),  # passes strict mode
    ("hessian", lambda x: (x ** 3).sum(), rand(2), (), {"create_graph": True}),  # passes
]


@pytest.mark.parametrize("case", range(len(STRICT_CASES)))
def test_strict_mode_as_torch(case):
    api, func, inputs, args, kwargs = STRICT_CASES[case]
    same_call(api, func, inputs, *args, strict=True, **kwargs)


@pytest.mark.parametrize("api", ["vjp", "jvp", "jacobian", "vhp", "hvp"])
def test_not_strict_gives_zeros_for_unused_inputs(api):
    inputs = (rand(2), rand(2))
    args = {"vjp": (rand(),), "jacobian": ()}.get(api, ((rand(2), rand(2)),))
    same_call(api, ignores_y, inputs, *args)


# --------------------------------------------------------------------------- errors


ERROR_CASES = [
    ("vjp", lambda x: x, 3.0, (), {}),
    ("vjp", lambda x, y: x, (rand(2), 3), (), {}),
    ("jacobian", lambda x: 2.0, rand(2), (), {}),
    ("vjp", lambda x: x * 2, rand(2), (), {}),  # v needed for a non-scalar output
    ("vjp", lambda x: x * 2, rand(2), (rand(3),), {}),
    ("vjp", lambda x: (x, x), rand(2), ((rand(2),),), {}),
    ("vjp", lambda x: (x, x), rand(2), ((rand(2), rand(3)),), {}),
    ("vjp", lambda x: x * 2, rand(2), ((rand(2), rand(2)),), {}),
    ("jvp", lambda x: x * 2, rand(2), (), {}),
    ("jvp", lambda x, y: x * y, (rand(2), rand(2)), ((rand(2), rand(3)),), {}),
    ("hvp", lambda x: x * 2, rand(2), (rand(2),), {}),  # not a one-element output
    ("vhp", lambda x: (x.sum(), x.sum()), rand(2), (rand(2),), {}),
    ("hvp", lambda x: x.sum(), rand(2), (), {}),
    ("hessian", lambda x: x * x, rand(2), (), {}),
    ("hessian", lambda x: (x.sum(), x.sum()), rand(2), (), {}),
    ("jacobian", lambda x: x, rand(2), (), {"strategy": "sideways"}),
    ("hessian", lambda x: x.sum(), rand(2), (), {"outer_jacobian_strategy": "sideways"}),
    ("jacobian", lambda x: x, rand(2), (), {"strategy": "forward-mode", "create_graph": True}),
    ("jacobian", lambda x: x, rand(2), (), {"strategy": "forward-mode", "strict": True}),
    ("jacobian", lambda x: x, rand(2), (), {"strategy": "forward-mode"}),
    ("jacobian", lambda x: x, rand(2), (), {"vectorize": True, "strict": True}),
    ("hessian", lambda x: x.sum(), rand(2), (), {"outer_jacobian_strategy": "forward-mode"}),
    ("jacobian", lambda x: x[:0], rand(2), (), {}),  # an empty output
    ("jacobian", lambda x: x * 2, rand(0), (), {}),
]


@pytest.mark.parametrize("case", range(len(ERROR_CASES)))
def test_errors_as_torch(case):
    api, func, inputs, args, kwargs = ERROR_CASES[case]
    with pytest.raises(Exception):  # noqa: B017 (same_call checks torch's type and message)
        getattr(TF, api)(func, to_torch(inputs), *to_torch(args), **kwargs)
    same_call(api, func, inputs, *args, **kwargs)


def test_forward_mode_with_vectorize_gives_torchs_numbers():
    """The numbers and the nesting (lists) of torch's forward mode.  torch's forward-over-reverse
    hessian sets requires_grad on the caller's own input tensors and returns results connected
    to them; tapegrad leaves the inputs alone and returns results without history."""
    x, y = rand(3), rand(3)
    same_call("jacobian", two_outputs, (x, y), vectorize=True, strategy="forward-mode")
    got = F.hessian(mixed_scalar, (x, y), vectorize=True, outer_jacobian_strategy="forward-mode")
    want = TF.hessian(mixed_scalar, to_torch((x, y)), vectorize=True,
                      outer_jacobian_strategy="forward-mode")
    assert_same(got, want, requires_grad=False)
    assert not x.requires_grad and not y.requires_grad


# --------------------------------------------------------------------------- elementwise only


def elementwise(x, y):
    return x.sin() * y ** 3 + x * x * y / (1 + y * y)


class TestElementwiseScalars:
    """0-d inputs and elementwise ops only."""

    @pytest.mark.parametrize("create_graph", [False, True])
    def test_every_function(self, create_graph):
        x, y = rand(), rand()
        same_call("vjp", elementwise, (x, y), create_graph=create_graph)
        same_call("vjp", elementwise, (x, y), rand(), create_graph=create_graph)
        same_call("jvp", elementwise, (x, y), (rand(), rand()), create_graph=create_graph)
        same_call("jvp", lambda x: (x.exp(), x * x), x, create_graph=create_graph)
        same_call("vhp", elementwise, (x, y), (rand(), rand()), create_graph=create_graph)
        same_call("hvp", elementwise, (x, y), (rand(), rand()), create_graph=create_graph)
        same_call("hvp", lambda x: x.tanh() * x, x, create_graph=create_graph)
        same_call("jacobian", elementwise, (x, y), create_graph=create_graph)
        same_call("jacobian", lambda x, y: (x * y, y.exp()), (x, y), create_graph=create_graph)
        same_call("jacobian", lambda x: x.sin() * x, rand(3), create_graph=create_graph)

    def test_strict(self):
        for api, func, inputs, args in [
                ("vjp", lambda x, y: x.sin(), (rand(), rand()), (rand(),)),
                ("jvp", lambda x, y: x.sin(), (rand(), rand()), ((rand(), rand()),)),
                ("jacobian", lambda x, y: x.sin(), (rand(), rand()), ()),
                ("vhp", lambda x: 3 * x + 1, rand(), (rand(),)),
                ("hvp", lambda x: 3 * x + 1, rand(), (rand(),)),
                ("vhp", elementwise, (rand(), rand()), ((rand(), rand()),)),
                ("hvp", elementwise, (rand(), rand()), ((rand(), rand()),))]:
            same_call(api, func, inputs, *args, strict=True)

    def test_not_strict_zeros(self):
        same_call("hvp", lambda x, y: x.exp(), (rand(), rand()), (rand(), rand()))
        same_call("vhp", lambda x: 3 * x + 1, rand(), rand())
        same_call("jvp", lambda x, y: x.exp(), (rand(), rand()), (rand(), rand()))


def test_docstring_examples():
    import doctest
    import importlib

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(importlib.import_module("tapegrad.autograd.functional")):
        runner.run(test)
    assert runner.failures == 0 and runner.tries >= 20
