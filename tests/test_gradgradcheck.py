"""tapegrad.autograd.gradcheck / gradgradcheck (DESIGN.md §6): torch's signatures, passing on
smooth functions, failing -- with torch's message shape, or False -- where the recorded gradient
computation (create_graph) is wrong although the first derivative is right.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import gradcheck, gradgradcheck
from tapegrad.autograd.gradcheck import GradcheckError

RNG = np.random.default_rng(7)



def leaf(*shape):
    return tg.tensor(RNG.uniform(-1.0, 1.0, shape), requires_grad=True)


def cube_with_broken_second_derivative(x):
    """x^3 in value and first derivative (3 x^2, through the linear term); the second derivative
    is lost to detach(): 0 instead of 6 x."""
    d = x.detach()
    return d ** 3 + (x - d) * 3 * d ** 2


@pytest.mark.parametrize("name", ["gradcheck", "gradgradcheck"])
def test_signature_is_torchs(name):
    torch = pytest.importorskip("torch")
    ours = inspect.signature(getattr(tg.autograd, name))
    theirs = inspect.signature(getattr(torch.autograd, name))
    assert list(ours.parameters) == list(theirs.parameters)
    for p, q in zip(ours.parameters.values(), theirs.parameters.values(), strict=True):
        assert (p.kind, p.default) == (q.kind, q.default), p.name


SMOOTH = [
    (lambda x: (x.sin() * x).sum(), lambda: (leaf(3),)),
    (lambda x: x.exp() * x.pow(2), lambda: (leaf(2, 2),)),
    (lambda x, y: (x * y.tanh(), x ** 2 * y / (1 + x * x)), lambda: (leaf(3), leaf(3))),
    (lambda x, y: (x * y.tanh(), (x ** 2 * y).sum()), lambda: (leaf(3), leaf(3))),
    (lambda x, y: x @ y, lambda: (leaf(2, 3), leaf(3))),
    # an input that is not differentiated, and one the output does not depend on
    (lambda x, c, z: (x * c).sin(), lambda: (leaf(3), tg.tensor([1.0, 2.0, 3.0]), leaf(2))),
]


@pytest.mark.parametrize(("func", "make"), SMOOTH)
@pytest.mark.parametrize("fast_mode", [False, True])
def test_passes_on_smooth_functions(func, make, fast_mode):
    inputs = make()
    assert gradcheck(func, inputs, fast_mode=fast_mode)
    assert gradgradcheck(func, inputs, fast_mode=fast_mode)


def test_given_grad_outputs():
    x = leaf(3)
    assert gradgradcheck(lambda x: x.sin() * x, (x,), (leaf(3),))
    # a grad_output without requires_grad is a constant of the checked function
    assert gradgradcheck(lambda x: x.sin() * x, (x,), tg.tensor([1.0, -2.0, 0.5]))


def test_inputs_are_not_touched():
    x = leaf(3)
    before = x.detach().numpy().copy()
    gradgradcheck(lambda x: x.sin() * x, (x,))
    assert x.grad is None and x.is_leaf and x.requires_grad
    np.testing.assert_array_equal(x.detach().numpy(), before)


def test_broken_second_derivative_fails():
    x = leaf(3)
    assert gradcheck(cube_with_broken_second_derivative, (x,))  # the first derivative is right
    assert gradgradcheck(cube_with_broken_second_derivative, (x,),
                         raise_exception=False) is False
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to "
                                             "input 0,\nnumerical:") as info:
        gradgradcheck(cube_with_broken_second_derivative, (x,))
    assert isinstance(info.value, RuntimeError)
    # the worst element: d(3 x^2 g)/dx = 6 x g numerically, 0 analytically
    assert "analytical 0.0" in str(info.value)


def test_broken_second_derivative_fails_in_fast_mode():
    x = leaf(4)
    assert gradgradcheck(cube_with_broken_second_derivative, (x,), fast_mode=True,
                         raise_exception=False) is False


def test_message_shape_is_torchs():
    """torch fails on the same function at the same output and input, and its message opens
    the same way."""
    torch = pytest.importorskip("torch")
    x = leaf(3)
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    from torch.autograd.gradcheck import GradcheckError as TorchGradcheckError

    with pytest.raises(TorchGradcheckError) as theirs:
        torch.autograd.gradgradcheck(cube_with_broken_second_derivative, (xt,))
    with pytest.raises(GradcheckError) as ours:
        gradgradcheck(cube_with_broken_second_derivative, (x,))
    first = str(theirs.value).splitlines()[:2]
    assert str(ours.value).splitlines()[:2][0] == first[0]
    assert str(ours.value).splitlines()[1].startswith("numerical:tensor(")
    assert first[1].startswith("numerical:tensor(")


def test_unsupported_checks_say_so():
    x = leaf(2)
    with pytest.raises(NotImplementedError, match="check_forward_ad"):
        gradcheck(lambda x: x * 2, (x,), check_forward_ad=True)
    with pytest.raises(NotImplementedError, match="check_batched_grad"):
        gradgradcheck(lambda x: x * x, (x,), check_batched_grad=True)
    with pytest.raises(NotImplementedError, match="check_fwd_over_rev"):
        gradgradcheck(lambda x: x * x, (x,), check_fwd_over_rev=True,
                      check_undefined_grad=True)


def test_torchs_assertions():
    x = leaf(2)
    with pytest.raises(AssertionError, match="check_forward_ad or check_backward_ad"):
        gradcheck(lambda x: x * 2, (x,), check_backward_ad=False)
    with pytest.raises(AssertionError, match="check_fwd_over_rev or check_rev_over_rev"):
        gradgradcheck(lambda x: x * 2, (x,), check_rev_over_rev=False)
    with pytest.raises(AssertionError, match="requires check_rev_over_rev"):
        gradgradcheck(lambda x: x * 2, (x,), check_rev_over_rev=False, check_fwd_over_rev=True)


def test_no_input_requires_grad():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradgradcheck(lambda x: x * 2, (tg.ones(2),))


def test_docstring_examples():
    import doctest
    import importlib

    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for name in ("tapegrad.autograd.gradcheck", "tapegrad.grad_mode"):
        for test in finder.find(importlib.import_module(name)):
            runner.run(test)
    assert runner.failures == 0 and runner.tries >= 12
