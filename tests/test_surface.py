"""The API made from the op table (tapegrad/surface.py): every name an op's ``Surface`` gives
exists, shows torch's parameters only, and computes what torch computes.

The case lists here are the table itself: a new elementwise op is checked against torch's
function of the same name, values and gradients, on every path (arrays, 0-d tensors, one-element
vectors), with no line added here.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops import OPS

SURFACED = [op for op in OPS if op.surface is not None]
# elementwise ops of one operand, which the table's entry alone makes into a method and function
UNARY = [op for op in SURFACED if op.rules and op.rules[0] == "unary" and op.py is not None]
# what the engine binds as defaults, which no public signature may show
ENGINE = {"op", "value", "ints", "scalar_op", "reflected", "py", "code", "keeps_s", "keeps_o"}


def _callables():
    for op in SURFACED:
        s = op.surface
        if s.method:
            yield f"Tensor.{s.method}", getattr(tg.Tensor, s.method)
        if s.function:
            yield f"tg.{s.function}", getattr(tg, s.function)
        for dunder in s.operators:
            yield f"Tensor.{dunder}", getattr(tg.Tensor, dunder)


CALLABLES = dict(_callables())


def test_every_name_of_the_table_exists_and_is_exported():
    for op in SURFACED:
        s = op.surface
        assert s.method is None or callable(getattr(tg.Tensor, s.method, None)), op
        if s.function:
            assert callable(getattr(tg, s.function, None)), op
            assert s.function in tg.__all__, op
        for dunder in s.operators:
            assert callable(tg.Tensor.__dict__.get(dunder)), (op, dunder)
    assert len(set(tg.__all__)) == len(tg.__all__)
    assert all(hasattr(tg, name) for name in tg.__all__)


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_public_signatures_show_torchs_parameters_only(name):
    params = inspect.signature(CALLABLES[name]).parameters
    assert not ENGINE & set(params), (name, list(params))


def test_generated_signatures_are_the_tables():
    assert str(inspect.signature(tg.Tensor.tanh)) == "(self)"
    assert str(inspect.signature(tg.tanh)) == "(input)"
    assert str(inspect.signature(tg.Tensor.__add__)) == "(self, other)"
    assert str(inspect.signature(tg.pow)) == "(input, exponent, *, out=None)"
    assert str(inspect.signature(tg.Tensor.pow)) == "(self, exponent)"
    assert str(inspect.signature(tg.maximum)) == "(input, other, *, out=None)"
    assert list(inspect.signature(tg.sum).parameters) == ["input", "dim", "keepdim", "dtype",
                                                          "out"]


def test_torchs_keyword_names_are_taken():
    x = tg.tensor([0.5, 2.0])
    np.testing.assert_array_equal(tg.tanh(input=x).numpy(), np.tanh(x.numpy()))
    np.testing.assert_array_equal(x.pow(exponent=2).numpy(), x.numpy() ** 2)
    np.testing.assert_array_equal(tg.pow(x, exponent=3.0).numpy(), x.numpy() ** 3)
    np.testing.assert_array_equal(tg.add(input=x, other=1.0).numpy(), x.numpy() + 1.0)
    np.testing.assert_array_equal(tg.maximum(x, other=tg.ones(2)).numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(tg.sum(x, dim=0).numpy(), 2.5)
    with pytest.raises(TypeError):
        tg.tanh(x, 2)  # (the engine's parameters take no argument from users)


VALUES = [-3.0, -1.2, -0.4, -0.0, 0.0, 0.3, 1.0, 2.5, math.inf, -math.inf, math.nan]


def _torch_grad(torch, key, values):
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    out = getattr(torch, key)(t)
    out.sum().backward()
    return out.detach().numpy(), t.grad.numpy()


def _same(got, want, what, rtol=1e-15) -> None:
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0, equal_nan=True, err_msg=str(what))


# torch's libm and NumPy's loops may round a transcendental function an ulp or two apart; a
# gradient such as tanh's 1 - y * y then differs by those ulps over a small difference (at
# x = -3, one ulp of y is 2e-14 of 1 - y * y)
GRAD_RTOL = 1e-13


@pytest.mark.parametrize("op", UNARY, ids=lambda op: op.key)
def test_each_elementwise_op_is_torchs_function(op):
    torch = pytest.importorskip("torch")
    key = op.surface.function
    want_value, want_grad = _torch_grad(torch, key, VALUES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for form in ("method", "function"):
            x = tg.tensor(VALUES, requires_grad=True)
            out = getattr(x, key)() if form == "method" else getattr(tg, key)(x)
            assert out.grad_fn.name() == op.name
            out.sum().backward()
            _same(out.detach().numpy(), want_value, (key, form))
            _same(x.grad.numpy(), want_grad, (key, form), GRAD_RTOL)
        # one element at a time, through the 0-d and one-element paths (Python's scalar rule)
        for shape in ((), (1,)):
            for i, v in enumerate(VALUES):
                x = tg.tensor(np.full(shape, v), requires_grad=True)
                y = x * 1.0  # (a recorded value: a subclass's own short path)
                out = getattr(tg, key)(y)
                out.sum().backward()
                _same(out.detach().numpy().reshape(-1), want_value[i:i + 1], (key, shape, v))
                _same(x.grad.numpy().reshape(-1), want_grad[i:i + 1], (key, shape, v), GRAD_RTOL)


BINARY = [op for op in SURFACED if op.rules and op.rules[0] == "binary" and op.py is not None]


@pytest.mark.parametrize("op", BINARY, ids=lambda op: op.key)
def test_each_binary_elementwise_op_is_torchs_function(op):
    torch = pytest.importorskip("torch")
    key = op.surface.function
    a, b = np.array([[0.5, 1.5, 2.0]]), np.array([[0.7], [1.5]])
    ta = torch.tensor(a, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    getattr(torch, key)(ta, tb).sum().backward()
    for form in ("method", "function", "number"):
        x, y = tg.tensor(a, requires_grad=True), tg.tensor(b, requires_grad=True)
        if form == "method":
            out = getattr(x, op.surface.method)(y)
        elif form == "function":
            out = getattr(tg, key)(x, y)
        else:  # a number first operand, made a tensor by the function
            out = getattr(tg, key)(2.0, y)
            want = getattr(torch, key)(torch.tensor(2.0, dtype=torch.float64), tb.detach())
            np.testing.assert_allclose(out.detach().numpy(), want.numpy(), rtol=1e-15)
            continue
        out.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), ta.grad.numpy(), rtol=1e-15)
        np.testing.assert_allclose(y.grad.numpy(), tb.grad.numpy(), rtol=1e-15)


def test_erf_on_arrays_is_within_ulps_of_pythons():
    """erf's NumPy forward (Cephes in NumPy) against math.erf, on the whole range."""
    xs = np.concatenate([np.linspace(-7.0, 7.0, 20001), [1e-300, -1e-300, 26.0, 30.0]])
    want = np.array([math.erf(v) for v in xs])
    got = tg.erf(tg.tensor(xs)).numpy()
    np.testing.assert_allclose(got, want, rtol=5e-16, atol=0)
    assert tg.erf(tg.tensor([1.0], dtype=tg.float32)).dtype == tg.float32
