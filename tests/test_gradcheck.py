"""tapegrad.gradcheck: correct functions pass, wrong derivatives are caught with the right numbers.

Every built-in op has a right derivative, so the wrong "functions" here mix what the tape sees
with values it does not: ``x * x.detach()`` has derivative ``2x`` but the tape only knows ``x``.
"""

from __future__ import annotations

import doctest
import importlib
import re
import time
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.gradcheck import GradcheckError, gradcheck
from tapegrad.tensor import Tensor

# the module, not the function tapegrad exports under the same name
gc_module = importlib.import_module("tapegrad.gradcheck")

rng = np.random.default_rng(1)


def t(*shape, low=-1.5, high=1.5, dtype=None):
    value = rng.uniform(low, high, shape) if shape else np.array(rng.uniform(low, high))
    return tg.tensor(value, dtype=dtype, requires_grad=True)


def pos(*shape):
    return t(*shape, low=0.3, high=2.0)


def worst(message: str) -> tuple[int, int, float, float]:
    """(row, column, numerical, analytical) of the worst element named by a slow-mode message."""
    m = re.search(r"row (\d+), column (\d+) .*numerical (\S+), analytical (\S+),", message)
    assert m, message
    return int(m[1]), int(m[2]), float(m[3]), float(m[4])


def fast_values(message: str) -> tuple[float, float]:
    """(numerical, analytical) of a fast-mode message."""
    n = re.search(r"\nnumerical:(\S+)", message)
    a = re.search(r"\nanalytical:(\S+)", message)
    assert n and a, message
    return float(n[1]), float(a[1])


# --------------------------------------------------------------------------- correct functions

CORRECT = [
    ("0-d exp", tg.exp, lambda: (t(),)),
    ("0-d to 0-d product", lambda a, b: a * b.sin(), lambda: (t(), t())),
    ("vector to scalar", lambda x: (x.sin() * x).sum(), lambda: (t(5),)),
    ("vector output", lambda x: x.tanh() * x, lambda: (t(4),)),
    ("matrix output", lambda x: x.sigmoid().T @ x, lambda: (t(3, 2),)),
    ("broadcasting pair", lambda a, b: a * b + a / (b * b + 1), lambda: (t(3, 1), t(1, 4))),
    ("0-d with matrix", lambda a, b: (a * b).exp(), lambda: (t(), t(2, 3))),
    ("three inputs", lambda a, b, c: (a @ b) * c, lambda: (t(2, 3), t(3), t(2))),
    ("reductions", lambda x: x.mean((0, 2), keepdim=True) + x.sum(1, keepdim=True),
     lambda: (t(2, 3, 2),)),
    ("log/sqrt/pow", lambda x, y: x.log() + x.sqrt() * x ** y, lambda: (pos(3), t(3))),
    ("indexing", lambda x: x[[0, 0, 2]] * x[:, :1] + x[..., 1:], lambda: (t(3, 2),)),
    ("norm", lambda x: x.norm() * x, lambda: (t(2, 2),)),
    ("tuple of outputs", lambda a, b: (a * b, (a + b).sum(), a.exp()), lambda: (t(3), t(3))),
    ("identity (a leaf output)", lambda x: x, lambda: (t(2, 2),)),
    ("output and its input", lambda x: (x, x.cos()), lambda: (t(3),)),
    ("unused input", lambda a, b: a.exp(), lambda: (t(3), t(2))),
    ("non-tensor argument", lambda x, n: x ** n, lambda: (t(3), 3)),
    ("constant tensor argument", lambda x, c: x * c,
     lambda: (t(3), tg.tensor([1.0, -2.0, 0.5]))),
    ("list of inputs", lambda a, b: a - b, lambda: [t(2), t(2)]),
]


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
@pytest.mark.parametrize("desc,fn,make", CORRECT, ids=[c[0] for c in CORRECT])
def test_correct_function_passes(desc, fn, make, fast_mode):
    inputs = make()
    assert gradcheck(fn, inputs, fast_mode=fast_mode) is True


def test_single_tensor_input_is_not_unpacked():
    x = t(3)
    assert gradcheck(lambda x: x * 2.0, x) is True


def test_docstring_example_runs():
    result = doctest.testmod(gc_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# --------------------------------------------------------------------------- wrong derivatives


def test_missing_term_is_reported_with_the_worst_element():
    x = tg.tensor([0.5, -1.0, 3.0], requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: x * x.detach(), x)
    message = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert message.startswith(
        "Jacobian mismatch for output 0 with respect to input 0,\nnumerical:tensor([[")
    assert "\nanalytical:tensor([[" in message
    row, col, numerical, analytical = worst(message)
    # d(x*x)/dx = 2x on the diagonal; the tape knows only x.  Worst: the largest |x|.
    assert (row, col) == (2, 2)
    assert numerical == pytest.approx(6.0, abs=1e-6)
    assert analytical == 3.0
    assert "d output0[2] / d input0[2]" in message


def test_detached_square_plus_identity():
    x = tg.tensor([[0.5, 2.0], [-1.5, 1.0]], requires_grad=True)
    fn = lambda x: (x.detach() ** 2) + x  # noqa: E731
    with pytest.raises(GradcheckError) as info:
        gradcheck(fn, x)
    row, col, numerical, analytical = worst(str(info.value))
    # numerical diag(2x + 1) = (2, 5, -2, 3); analytical: the identity.  Errors 1, 4, 3, 2
    # against tolerances 1e-5 + 1e-3 * (2, 5, 2, 3): the third exceeds its own the most.
    assert (row, col) == (2, 2)
    assert numerical == pytest.approx(-2.0, abs=1e-6)
    assert analytical == 1.0
    assert "d output0[1, 0] / d input0[1, 0]" in str(info.value)
    assert gradcheck(fn, x, raise_exception=False) is False


def test_rows_are_input_elements_and_columns_output_elements():
    # y_i = x_i * sum(x) with the sum detached: the missing term d y_i / d x_j = x_i sits off
    # the diagonal, largest in column i = 2 (x_2 = 2); rows 0 and 1 tie, the first is named.
    x = tg.tensor([0.1, 0.2, 2.0], requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: x * x.detach().sum(), x)
    row, col, numerical, analytical = worst(str(info.value))
    assert (row, col) == (0, 2)
    assert numerical == pytest.approx(2.0, abs=1e-6)
    assert analytical == 0.0


def test_zero_dim_mismatch():
    x = tg.tensor(1.5, requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: x * x.detach(), x)
    row, col, numerical, analytical = worst(str(info.value))
    assert (row, col) == (0, 0)
    assert numerical == pytest.approx(3.0, abs=1e-6) and analytical == 1.5
    assert "d output0[] / d input0[]" in str(info.value)


def test_mismatch_names_the_output_and_input_positions():
    a, b = t(3), pos(2)
    fn = lambda a, b: (a * 2.0, b * b.detach())  # noqa: E731
    with pytest.raises(GradcheckError, match="for output 1 with respect to input 1,"):
        gradcheck(fn, (a, b))
    # positions are positions in the tuples as given, non-tensor arguments included
    fn2 = lambda n, b: b.detach() * b * n  # noqa: E731
    with pytest.raises(GradcheckError, match="for output 0 with respect to input 1,"):
        gradcheck(fn2, (2.0, b))


def test_only_the_wrong_input_fails():
    a, b = pos(3), pos(3)
    fn = lambda a, b: a * b.detach() * b  # noqa: E731  (right in a, wrong in b)
    with pytest.raises(GradcheckError, match="with respect to input 1,"):
        gradcheck(fn, (a, b))
    assert gradcheck(fn, (a, b.detach())) is True  # b no longer checked


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_raise_exception_false_returns_false(fast_mode):
    x = t(4)
    assert gradcheck(lambda x: x * x.detach(), x, raise_exception=False,
                     fast_mode=fast_mode) is False
    assert gradcheck(lambda x: x * x, x, raise_exception=False, fast_mode=fast_mode) is True


def test_tolerances_are_used():
    # y = x + 1e-4 * x.detach()**2: analytical misses 2e-4 x, under atol=1e-3, over atol=1e-6
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    fn = lambda x: x + 1e-4 * x.detach() ** 2  # noqa: E731
    assert gradcheck(fn, x, atol=1e-3, rtol=0.0) is True
    assert gradcheck(fn, x, atol=1e-6, rtol=0.0, raise_exception=False) is False
    assert gradcheck(fn, x, atol=0.0, rtol=1e-3) is True  # 4e-4 < 1e-3 * |1 + 4e-4|


# --------------------------------------------------------------------------- fast mode

BIG = 100_000


def test_fast_mode_catches_a_missing_term_on_a_large_input():
    x = t(BIG, low=-1.0, high=1.0)
    start = time.perf_counter()
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: x * x.detach(), x, fast_mode=True)
    elapsed = time.perf_counter() - start
    message = str(info.value)
    assert message.startswith("Jacobian mismatch for output 0 with respect to input 0 (fast")
    numerical, analytical = fast_values(message)
    # J = diag(2x), the tape's J = diag(x): <u, J v> is exactly twice <J^T u, v>
    assert analytical == pytest.approx(numerical / 2, rel=1e-6)
    assert elapsed < 10, elapsed


def test_fast_mode_catches_detached_square_plus_identity_on_a_large_input():
    # torch's fast mode (positive u, v and atol widened by sum(u) * sum(v)) passes this one
    x = t(BIG, low=0.0, high=1.0)
    fn = lambda x: (x.detach() ** 2) + x  # noqa: E731
    with pytest.raises(GradcheckError) as info:
        gradcheck(fn, x, fast_mode=True)
    numerical, analytical = fast_values(str(info.value))
    assert abs(numerical - analytical) > 1e-3 * abs(numerical) + 1e-5
    assert gradcheck(fn, x, fast_mode=True, raise_exception=False) is False


def test_fast_mode_catches_an_off_diagonal_error_on_a_large_input():
    x = t(BIG, low=-1.0, high=1.0)
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: x * x.detach().sum(), x, fast_mode=True)


def test_fast_mode_passes_correct_functions_on_large_inputs():
    x, y = t(BIG, low=-1.0, high=1.0), t(BIG, low=-1.0, high=1.0)
    start = time.perf_counter()
    assert gradcheck(lambda x, y: (x.sin() * y).exp() + x / (y * y + 1), (x, y), fast_mode=True)
    assert gradcheck(lambda x: (x.tanh() * x).sum(), x, fast_mode=True)
    m = t(300, 300)
    assert gradcheck(lambda m: (m @ m.T).sigmoid(), m, fast_mode=True)
    assert time.perf_counter() - start < 20


def test_fast_mode_seed():
    x = t(50)
    fn = lambda x: x * x.detach()  # noqa: E731

    def message(seed):
        with pytest.raises(GradcheckError) as info:
            gradcheck(fn, x, fast_mode=True, seed=seed)
        return str(info.value)

    assert message(None) == message(None) == message(0)  # fixed default seed
    assert message(3) == message(3)
    assert fast_values(message(3)) != fast_values(message(4))
    assert "seed 3" in message(3)


def test_fast_mode_does_not_touch_the_global_rng():
    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(5)
    gradcheck(lambda x: x.exp(), t(10), fast_mode=True)
    assert np.random.rand() == expected


# --------------------------------------------------------------------------- dtypes and inputs


def test_float64_inputs_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda x: x.exp(), t(3))


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_float32_input_warns_like_torch_and_is_still_checked(fast_mode):
    # documented: torch's warning; finite differences on float64 copies, analytical gradients
    # in float32 -- so a correct float32 function passes and a wrong one is still caught
    x = t(2, 3, dtype=tg.float32)
    with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double"):
        assert gradcheck(lambda x: (x.sin() * x).exp(), x, fast_mode=fast_mode) is True
    with pytest.warns(UserWarning, match="Input #1 requires gradient"):
        assert gradcheck(lambda a, b: a * b, (t(3), t(3, dtype=tg.float32)),
                         fast_mode=fast_mode) is True
    with pytest.warns(UserWarning), pytest.raises(GradcheckError):
        gradcheck(lambda x: x * x.detach(), x, fast_mode=fast_mode)


def test_float32_input_is_evaluated_in_float32_for_the_tape():
    seen = []

    def fn(x):
        seen.append(x.dtype)
        return x * 2.0

    with pytest.warns(UserWarning):
        gradcheck(fn, t(2, dtype=tg.float32))
    assert seen[0] == tg.float32  # the recorded call keeps the input's dtype
    assert set(seen[1:]) == {tg.float64}  # the finite differences run on float64 copies


def test_no_input_requiring_grad_raises_value_error():
    with pytest.raises(ValueError, match="at least one input tensor to require gradient"):
        gradcheck(lambda x: x * 2, tg.tensor([1.0, 2.0]))
    with pytest.raises(ValueError):
        gradcheck(lambda n: n, (3,))


def test_non_tensor_output_raises_type_error():
    with pytest.raises(TypeError, match="output 1 is float"):
        gradcheck(lambda x: (x * 2, 3.0), t(2))


def test_no_differentiable_output():
    x = t(3)
    assert gradcheck(lambda x: tg.ones(2), x) is True
    assert gradcheck(lambda x: tg.ones(2), x, fast_mode=True) is True
    with pytest.raises(GradcheckError, match="Numerical gradient for function expected to be zero"):
        gradcheck(lambda x: x.detach() * 2, x)
    with pytest.raises(GradcheckError, match="expected to be zero"):
        gradcheck(lambda x: x.detach() * 2, x, fast_mode=True)


def test_user_tensors_and_grads_are_untouched():
    x = t(3)
    before = x.detach().numpy().copy()
    w = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w.grad = tg.tensor([10.0, 20.0, 30.0])
    grad_object = w.grad
    u = tg.tensor([0.5, 0.5, 0.5], requires_grad=True)  # a closed-over leaf without .grad
    fn = lambda x: x * w + u.exp()  # noqa: E731
    for fast_mode in (False, True):
        assert gradcheck(fn, x, fast_mode=fast_mode)
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.grad is None
    assert w.grad is grad_object
    np.testing.assert_array_equal(w.grad.numpy(), [10.0, 20.0, 30.0])
    assert u.grad is None


def test_func_changing_its_input_in_place_does_not_corrupt_the_check():
    def fn(x):
        y = x * 1.0
        if not x.requires_grad:  # the finite-difference calls get plain tensors
            x.mul_(0.0)
        return y.exp()

    assert gradcheck(fn, t(3)) is True


# --------------------------------------------------------------------------- torch's extra checks


def test_backward_must_be_reproducible(monkeypatch):
    original = gc_module._Problem.vjp
    calls = [0]

    def flaky(self, k, grad_output):
        calls[0] += 1
        grads = original(self, k, grad_output)
        return {i: g + 1e-12 * calls[0] for i, g in grads.items()}

    monkeypatch.setattr(gc_module._Problem, "vjp", flaky)
    with pytest.raises(GradcheckError, match="Backward is not reentrant"):
        gradcheck(lambda x: x.exp(), t(3))
    with pytest.raises(GradcheckError, match="Backward is not reentrant"):
        gradcheck(lambda x: x.exp(), t(3), fast_mode=True)
    assert gradcheck(lambda x: x.exp(), t(3), nondet_tol=1e-9)


@pytest.mark.parametrize("fast_mode", [False, True], ids=["slow", "fast"])
def test_gradient_dtype_and_shape_are_checked(monkeypatch, fast_mode):
    from tapegrad import engine

    (t(3) * 2.0).sum().backward()  # (loads the kernel, and with it engine._wrap)
    original = Tensor._accumulate, engine._wrap

    def deliver_as(make):
        # a leaf's gradient is stored by Tensor._accumulate, or -- a first float64 one -- by
        # the engine wrapping its copy (engine._wrap): corrupt both
        monkeypatch.setattr(Tensor, "_accumulate",
                            lambda self, g: setattr(self, "_grad", make(g)))
        monkeypatch.setattr(engine, "_wrap", make)

    deliver_as(lambda g: Tensor(np.asarray(g, dtype=np.float32)))
    with pytest.raises(GradcheckError, match="Gradient has dtype mismatch"):
        gradcheck(lambda x: x.exp(), t(3), fast_mode=fast_mode)

    deliver_as(lambda g: Tensor(np.append(np.ravel(g), 0.0)))
    with pytest.raises(GradcheckError, match="Analytical gradient has incorrect size"):
        gradcheck(lambda x: x.exp(), t(3), fast_mode=fast_mode)

    monkeypatch.setattr(Tensor, "_accumulate", original[0])
    monkeypatch.setattr(engine, "_wrap", original[1])
    assert gradcheck(lambda x: x.exp(), t(3), fast_mode=fast_mode)
