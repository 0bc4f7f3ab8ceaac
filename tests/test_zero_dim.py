"""Recorded 0-d float64 tensors (``tensor._ZeroDim``): their operators and math functions record
on a short path when both values are NumPy float64 scalars.  Everything a user can see must be
what the general path gives -- values, gradients, node names, errors -- and the short path must
be the one taken where it applies."""

from __future__ import annotations

import copy
import importlib
import math
import pickle
import warnings

import numpy as np
import pytest
from helpers import numeric_grad

import tapegrad as tg
from tapegrad.ops import OPS

fastpath = importlib.import_module("tapegrad.fastpath")
ZeroDim = fastpath._ZeroDim

VALUES = [0.0, -0.0, 0.5, -1.5, 2.0, 710.0, 1e308, math.inf, -math.inf, math.nan]
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "pow": lambda a, b: a ** b}
WITH_NUMBER = [lambda t, c: t + c, lambda t, c: c + t, lambda t, c: t - c, lambda t, c: c - t,
               lambda t, c: t * c, lambda t, c: c * t, lambda t, c: t / c, lambda t, c: c / t,
               lambda t, c: t ** c, lambda t, c: c ** t]
# every elementwise op of one operand, as its tapegrad function (torch.special's: "special.x")
UNARY = tuple(op.surface.function if op.surface else "special." + op.key.removeprefix("special_")
              for op in OPS if op.rules and op.rules[0] == "unary" and op.py is not None)


def _zero_dim(value: float):
    """A 0-d leaf and a recorded 0-d result equal to it."""
    x = tg.tensor(value, requires_grad=True)
    y = x * 1.0
    assert type(y) is ZeroDim
    return x, y


def _general(t):
    """``t`` made a plain Tensor: its ops take the general path (the oracle)."""
    t.__class__ = tg.Tensor
    return t


@pytest.fixture
def general_calls(monkeypatch) -> list:
    """One entry per op of a 0-d tensor that left its short path for ``_arithmetic`` (a plain
    Tensor's operators are copies of it, not counted)."""
    calls: list = []
    real = fastpath._arithmetic

    def counting(*args, **kwargs):
        calls.append(args[2].key if len(args) > 2 and args[2] is not None else None)
        return real(*args, **kwargs)

    monkeypatch.setattr(fastpath, "_arithmetic", counting)
    return calls


def _rule_answers(key: str, a: float, b: float) -> bool:
    """Whether the op's Python rule computes ``a <op> b`` (math.pow refuses some: the short
    path then hands the op to the general one, whose NumPy gives IEEE answers)."""
    try:
        fastpath._OP[key].py(np.float64(a), np.float64(b))
    except (ArithmeticError, ValueError):
        return False
    return True


def _signature(out, leaves) -> tuple:
    """What a user sees of a result: value, type, node, and the leaves' gradients."""
    value = out.item()
    seen = (repr(value), out.shape, out.dtype, out.grad_fn.name(),
            [n.name() if n else None for n, _ in out.grad_fn.next_functions])
    out.backward()
    return seen + tuple(repr(leaf.grad.item()) if leaf.grad is not None else None
                        for leaf in leaves)


@pytest.mark.parametrize("key", sorted(BINARY))
def test_two_zero_dims_and_a_leaf_match_the_general_path(key, general_calls):
    f = BINARY[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in VALUES:
            for b in VALUES[::3]:
                for form in ("both recorded", "leaf left", "leaf right"):
                    results = []
                    for general in (False, True):
                        x, y = _zero_dim(a)
                        w, v = _zero_dim(b)
                        if general:
                            _general(y), _general(v)
                        left, right = {"both recorded": (y, v), "leaf left": (w, y),
                                       "leaf right": (y, w)}[form]
                        del general_calls[:]
                        out = f(left, right)
                        assert type(out) is ZeroDim  # (either path makes one)
                        if not general and _rule_answers(key, left.item(), right.item()):
                            assert general_calls == [], (key, a, b, form)
                        results.append(_signature(out, (x, w)))
                    assert results[0] == results[1], (key, a, b, form)


@pytest.mark.parametrize("form", range(len(WITH_NUMBER)))
def test_with_a_number_matches_the_general_path(form, general_calls):
    f = WITH_NUMBER[form]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in VALUES:
            for c in (0.0, 2.0, -1.5, 3, -2, 2**70):
                results = []
                for general in (False, True):
                    x, y = _zero_dim(a)
                    if general:
                        _general(y)
                    del general_calls[:]
                    out = f(y, c)
                    assert general or general_calls == [], (form, a, c)
                    results.append(_signature(out, (x,)))
                assert results[0] == results[1], (form, a, c)


@pytest.mark.parametrize("key", UNARY)
def test_math_matches_the_general_path(key):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in VALUES:
            results = []
            for general in (False, True):
                x, y = _zero_dim(a)
                if general:
                    _general(y)
                namespace, _, name = ("tapegrad." + key).rpartition(".")
                out = getattr(tg.special if namespace.endswith("special") else tg, name)(y)
                assert type(out) is ZeroDim  # (either path makes one)
                results.append(_signature(out, (x,)))
            assert results[0] == results[1], (key, a)


def test_a_scalar_network_matches_finite_differences():
    """A micrograd-style neuron layer: leaves times recorded values, sums, tanh."""
    rng = np.random.default_rng(2)
    ws, xs = rng.uniform(-1, 1, 7), rng.uniform(-2, 2, 3)

    def loss(params, tanh):
        total = 0.0
        for j in range(2):
            act = params[6 - j]
            for i in range(3):
                act = act + params[3 * j + i] * xs[i]
            h = tanh(act)
            total = total + (h - 0.5) * (h - 0.5) / 2
        return total

    params = [tg.tensor(w, requires_grad=True) for w in ws]
    out = loss(params, tg.tanh)
    assert type(out) is ZeroDim
    out.backward()

    def value(array):
        return float(loss(list(array), np.tanh))
    expected = numeric_grad(value, [ws.copy()], 0)
    np.testing.assert_allclose([p.grad.item() for p in params], expected, rtol=1e-7)


def test_other_kinds_of_operands_take_the_general_path(general_calls):
    """Vectors, one-floats, 0-d arrays (a leaf whose storage was shared), values of a closed
    tape, NumPy numbers and bools: the general path's answers."""
    cases = [
        lambda y, w: tg.ones(3) * 2.0 - y, lambda y, w: y * tg.tensor([1.0, 2.0]),
        lambda y, w: y * (tg.tensor([3.0], requires_grad=True) * 1.0),
        lambda y, w: y * np.float64(3.0), lambda y, w: np.float64(3.0) - y,
        lambda y, w: y + True, lambda y, w: y * np.array(2.0), lambda y, w: w.double() - y,
        lambda y, w: tg.maximum(y, w), lambda y, w: y * w.detach(),
    ]
    for case in cases:
        results = []
        for general in (False, True):
            x, y = _zero_dim(0.6)
            w = tg.tensor(1.7, requires_grad=True)
            if general:
                _general(y)
            out = case(y, w)
            results.append((out.tolist(), out.grad_fn.name()))
            out.sum().backward()
            results[-1] += (x.grad.tolist(), w.grad.tolist() if w.grad is not None else None)
        assert results[0] == results[1], case

    x, y = _zero_dim(0.5)
    z = y * 3.0
    z.backward(retain_graph=True)  # closes the tape: the next op reads z from a closed tape
    x.grad = None
    out = z * y
    assert type(out) is tg.Tensor and out._tape is not z._tape
    out.backward()
    assert x.grad.item() == 2 * 3.0 * 0.5

    x, y = _zero_dim(0.5)
    x.detach().numpy()  # the leaf's storage is now a 0-d array: the general path reads it
    del general_calls[:]
    out = x * y
    assert general_calls == ["mul"]
    out.backward()
    assert x.grad.item() == 2 * 0.5


def test_it_looks_and_behaves_like_any_tensor():
    x, y = _zero_dim(0.25)
    z = y * 2.0
    assert isinstance(z, tg.Tensor) and repr(type(z)) == repr(tg.Tensor)
    assert z.requires_grad and not z.is_leaf and z.shape == () and z.dim() == 0
    assert z.grad_fn.name() == "MulBackward0"
    assert (1.0 - z).grad_fn.name() == "RsubBackward1"
    assert repr(z) == "tensor(0.5000, grad_fn=<MulBackward0>)"
    assert z.item() == 0.5 and float(z) == 0.5 and z.tolist() == 0.5
    assert type(z) is ZeroDim  # reading its value made no storage
    d = z.detach()
    assert type(z) is tg.Tensor  # sharing its storage did
    d.zero_()
    assert z.item() == 0.0
    for clone in (copy.copy(y * 3.0), copy.deepcopy(y * 3.0), pickle.loads(pickle.dumps(y * 3.0))):
        assert clone.item() == 0.75


def test_inplace_changes_and_errors_as_on_the_general_path():
    x, y = _zero_dim(2.0)
    z = y * y  # MulBackward0 reads y
    with tg.no_grad():
        y.mul_(3.0)
    assert type(y) is tg.Tensor
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()

    x, y = _zero_dim(2.0)
    y += 1.0
    assert y.item() == 3.0
    (y * x).backward()
    assert x.grad.item() == 3.0 + 2.0

    x, y = _zero_dim(2.0)
    zero = x * 0.0
    n = len(y._tape)
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        y / zero  # (NumPy's error state, as on the general path; nothing recorded)
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        y / 0.0
    assert len(y._tape) == n


def test_no_grad_and_compile_take_the_general_path():
    x, y = _zero_dim(0.5)
    with tg.no_grad():
        z = y * 2.0 + tg.tanh(y) * y
    assert not z.requires_grad and type(z) is tg.Tensor
    assert z.item() == pytest.approx(1.0 + math.tanh(0.5) * 0.5, rel=1e-15)

    def loss(x):
        y = x.sum()
        for _ in range(5):
            y = tg.tanh(y) * 0.9 + 0.1 * y * y
        return y
    tape = tg.compile(loss, np.array([0.4, 0.1]))
    x = tg.tensor([0.7, -0.2], requires_grad=True)
    loss(x).backward()
    np.testing.assert_allclose(tape.gradient(np.array([0.7, -0.2])), x.grad.numpy(),
                               rtol=1e-14)


def test_retain_grad_on_a_zero_dim_result():
    w = tg.tensor(-0.3, requires_grad=True)
    x, y = _zero_dim(0.5)
    h = tg.sigmoid(w * y)
    h.retain_grad()
    ((h - 1.0) * (h - 1.0)).backward()
    s = 1 / (1 + math.exp(0.15))
    assert h.grad.item() == pytest.approx(2 * (s - 1), rel=1e-14)
    assert w.grad.item() == pytest.approx(2 * (s - 1) * s * (1 - s) * 0.5, rel=1e-14)
    assert x.grad.item() == pytest.approx(2 * (s - 1) * s * (1 - s) * -0.3, rel=1e-14)
