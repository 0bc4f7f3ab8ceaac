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
    assert str(inspect.signature(tg.tanh)) == "(input, *, out=None)"
    assert str(inspect.signature(tg.relu)) == "(input)"  # (torch's relu takes no out=)
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
    return out.detach().numpy(), t.grad.numpy(force=True)  # (sgn's is a ZeroTensor)


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


# (heaviside's gradient is refused, as torch's: tests/test_mathfuncs.py)
BINARY = [op for op in SURFACED if op.rules and op.rules[0] == "binary" and op.py is not None
          and op.key != "heaviside"]


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


# -- torch's signatures and out= on every elementwise function (and its aliases)

ELEMENTWISE = sorted({name for op in SURFACED if op.rules and op.py is not None
                      and op.surface.function
                      for name in (op.surface.function, *op.surface.aliases)}
                     | {"logit", "float_power", "heaviside", "signbit", "clamp_min", "clamp_max",
                        "clip"})


def _torchs_parameters(torch, name: str) -> list | None:
    """torch's documented parameters of ``torch.<name>`` (its builtins have no signature to
    inspect), as (name, keyword-only) pairs; None where its docstring shows none."""
    doc = (getattr(torch, name).__doc__ or "").strip()
    if not doc.startswith(f"{name}("):
        return None
    inside, depth, params = doc[len(name) + 1:], 1, ""
    for c in inside:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(c, 0)
        if depth == 0:
            break
        params += c if depth == 1 or c not in "," else ";"
    out, keyword_only = [], False
    for part in params.split(","):
        part = part.strip()
        if part == "*":
            keyword_only = True
        elif part:
            out.append((part.split("=")[0].split(":")[0].strip(), keyword_only))
    return out


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_signatures_are_torchs(name):
    torch = pytest.importorskip("torch")
    theirs = _torchs_parameters(torch, name)
    if theirs is None:  # (relu, clamp_min, clamp_max: no documented signature)
        assert name in ("relu", "clamp_min", "clamp_max")
        return
    ours = [(p.name, p.kind is p.KEYWORD_ONLY)
            for p in inspect.signature(getattr(tg, name)).parameters.values()]
    assert ours == theirs
    if ("out", True) in ours:
        assert inspect.signature(getattr(tg, name)).parameters["out"].default is None


def _operands(name: str, lib, dtype="float64"):
    x = lib.tensor(np.array([[0.25, 0.5, 0.75], [0.3, 0.6, 0.9]]), dtype=getattr(lib, dtype))
    other = lib.tensor(np.array([0.4, 0.8, 1.2]), dtype=getattr(lib, dtype))
    params = inspect.signature(getattr(tg, name)).parameters
    if name in ("clamp", "clip"):
        return (x, 0.3, 0.7)
    if name in ("clamp_min", "clamp_max"):
        return (x, 0.5)
    if name == "float_power":
        return (x, other)
    second = [p for p in params.values() if p.kind is p.POSITIONAL_OR_KEYWORD][1:]
    if second and second[0].name in ("other", "exponent", "values"):
        return (x, other)
    return (x,)


OUT = [name for name in ELEMENTWISE if name not in ("relu", "clamp_min", "clamp_max")]


@pytest.mark.parametrize("name", OUT)
def test_elementwise_out_equals_torchs(name):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tg, torch):
        args = _operands(name, lib)
        want = getattr(lib, name)(*args)
        out = lib.empty(want.shape, dtype=want.dtype)
        assert getattr(lib, name)(*args, out=out) is out
        np.testing.assert_array_equal(out.numpy(), want.numpy())
        # an empty out is resized silently; a non-empty one of another shape with a warning
        empty = lib.empty(0, dtype=want.dtype)
        getattr(lib, name)(*args, out=empty)
        wrong = lib.empty(7, dtype=want.dtype)
        with pytest.warns(UserWarning, match="An output with one or more elements was resized"):
            getattr(lib, name)(*args, out=wrong)
        results.append((out.numpy(), tuple(empty.shape), tuple(wrong.shape)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-15, equal_nan=True)
    assert results[0][1:] == results[1][1:]


def _error(call) -> tuple:
    try:
        call()
    except (RuntimeError, TypeError) as e:
        return type(e).__name__, str(e)
    return None, None


@pytest.mark.parametrize("name", OUT)
def test_elementwise_out_refusals_are_torchs(name):
    torch = pytest.importorskip("torch")
    for dtype in ("float32", "int64", "bool"):
        got = []
        for lib in (tg, torch):
            args = _operands(name, lib)
            got.append(_error(lambda lib=lib, args=args, dtype=dtype: getattr(lib, name)(
                *args, out=lib.empty(2, 3, dtype=getattr(lib, dtype)))))
        assert got[0] == got[1], (name, dtype)
    got = []  # (an input that requires grad, in grad mode)
    for lib in (tg, torch):
        args = list(_operands(name, lib))
        args[0] = args[0].requires_grad_()
        got.append(_error(lambda lib=lib, args=args: getattr(lib, name)(
            *args, out=lib.empty(2, 3, dtype=lib.float64))))
    assert got[0] == got[1]


def test_out_writes_into_outs_storage_and_counts_a_version():
    x = tg.tensor([0.5, 1.0, 2.0])
    out = tg.zeros(3)
    view = out[1:]
    tg.exp(x, out=out)
    np.testing.assert_allclose(view.numpy(), np.exp([1.0, 2.0]), rtol=1e-15)
    assert out._version == 1
    with tg.no_grad():  # (an input that requires grad is fine under no_grad, as torch's)
        tg.sin(tg.ones(3, requires_grad=True), out=out)
    np.testing.assert_allclose(out.numpy(), np.sin(np.ones(3)), rtol=1e-15)


def test_methods_and_operators_take_no_out():
    x = tg.tensor([0.5, 1.0])
    for call in (lambda: x.exp(out=tg.empty(2)), lambda: x.atan2(x, out=tg.empty(2))):
        with pytest.raises(TypeError):
            call()
