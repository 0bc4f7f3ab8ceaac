"""0-d float64 tensors: computed by each op's Python scalar rule, held as NumPy scalars until
their storage is shared or written; and a leaf read on two linked tapes."""

from __future__ import annotations

import importlib
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops import OPS

fastpath = importlib.import_module("tapegrad.fastpath")

SCALAR_OPS = [op for op in OPS if op.py is not None]
# ordinary values, the edges of each op's domain, and non-finite values
VALUES = [0.0, -0.0, 0.5, -1.5, 2.0, 3.0, 710.0, -710.0, 1e308, math.inf, -math.inf, math.nan]
CONSTANTS = [0.0, 2.0, -1.0, 0.5, 1.0 / 3.0, 3, -2]


def _same(got, want) -> bool:
    got, want = np.float64(got), np.float64(want)
    if np.isnan(want):
        return bool(np.isnan(got))
    return bool(got == want or abs(got - want) <= 4e-16 * abs(want))


@pytest.mark.parametrize("op", SCALAR_OPS, ids=lambda op: op.key)
def test_scalar_rule_matches_numpy_forward(op):
    """The 0-d path gives what the op's NumPy forward gives on a 0-d array (to an ulp)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in VALUES:
            x = tg.tensor(a)
            if op.arity == 2:
                for b in VALUES[:8]:
                    # (NumPy's loop for arrays: on 0-d ones its power takes a square root for
                    # ** 0.5, which torch's tensor ** tensor does not)
                    want = np.asarray(op.eager(np.array([a]), np.array([b])))[0]
                    got = _apply(op, x, tg.tensor(b))
                    assert got._v.dtype == np.float64 and got.shape == ()
                    assert _same(got._v, want), (op.key, a, b, got._v, want)
            elif op.rules and op.rules[0] == "scalar":  # (a number beside the tensor)
                for c in (0, 1, 2, 3) if op.key == "polygamma" else CONSTANTS:  # (its order)
                    want = np.asarray(op.eager(np.array(a), c))
                    got = _apply(op, x, c)
                    assert got._v.dtype == np.float64 and got.shape == ()
                    assert _same(got._v, want), (op.key, a, c, got._v, want)
            else:
                want = np.asarray(op.eager(np.array(a)))
                got = _apply(op, x)
                assert got._v.dtype == np.float64 and got.shape == ()
                assert _same(got._v, want), (op.key, a, got._v, want)


def _apply(op, *args):
    """The op through the tensor front end's own elementwise path."""
    if op.arity == 2:
        return fastpath._binary(op, *args)
    if op.rules and op.rules[0] == "scalar":
        return fastpath._arithmetic(*args, scalar_op=op)
    return fastpath._unary(*args, op=op)


def test_scalar_results_are_float32_when_inputs_are():
    x = tg.tensor(1.5, dtype=tg.float32, requires_grad=True)
    y = (x * 2.0).tanh() + x
    assert y.dtype == tg.float32
    y.backward()
    assert x.grad.dtype == tg.float32


def test_inplace_on_a_scalar_result_without_grad():
    y = tg.tensor(1.0).tanh()
    y += 1
    assert y.item() == pytest.approx(math.tanh(1.0) + 1)
    y *= 2
    assert y.item() == pytest.approx(2 * (math.tanh(1.0) + 1))


def test_inplace_on_a_scalar_non_leaf_is_recorded():
    x = tg.tensor(1.0, requires_grad=True)
    y = x * 3.0
    y += 1
    assert y.item() == 4.0
    y.backward()
    assert x.grad.item() == 3.0
    z = x.tanh()  # tanh's backward reads its output: changing it is refused, as in torch
    z += 1
    with pytest.raises(RuntimeError, match="TanhBackward0, is at version 1"):
        z.backward()


def test_detached_scalar_shares_storage():
    x = tg.tensor(0.5, requires_grad=True)
    y = x * 3.0
    d = y.detach()
    d.zero_()
    assert y.item() == 0.0  # torch: detach() shares storage
    z = x.exp()
    n = z.detach().numpy()
    n[()] = 7.0
    assert z.item() == 7.0


def test_setitem_on_a_scalar_result():
    x = tg.tensor(2.0, requires_grad=True)
    y = x * x
    y[()] = 5.0 * x
    assert y.item() == 10.0
    y.backward()
    assert x.grad.item() == 5.0


def test_view_of_a_scalar_result_shares_storage():
    x = tg.tensor(2.0, requires_grad=True)
    y = x * 1.0
    v = y.reshape(1)
    with tg.no_grad():
        y += 1.0
    assert v.tolist() == [3.0]


def test_scalar_chain_gradient_matches_closed_form():
    a, b = 0.3, -1.2
    x = tg.tensor(a, requires_grad=True)
    w = tg.tensor(b, requires_grad=True)
    out = (x * w + 1.0).tanh() ** 2 / (1.0 + w.exp())
    out.backward()
    t = math.tanh(a * b + 1.0)
    den = 1.0 + math.exp(b)
    dt = 2 * t * (1 - t * t)
    assert x.grad.item() == pytest.approx(dt * b / den, rel=1e-12)
    want_w = dt * a / den - t * t * math.exp(b) / den ** 2
    assert w.grad.item() == pytest.approx(want_w, rel=1e-12)


def test_leaf_read_on_two_linked_tapes():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2.0
    a.sum().backward(retain_graph=True)  # closes a's tape: the next graph starts a new one
    x.grad = None
    b = x * 3.0
    assert b._tape is not a._tape
    c = a + b  # on b's tape, linking to a's; x was registered on both
    tape = c._tape
    assert sum(1 for _, leaf in tape.leaves if leaf is x) == 1
    c.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]


def test_leaf_changed_between_tapes_keeps_both_slots():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    a = x * x
    a.sum().backward(retain_graph=True)
    with tg.no_grad():
        x.mul_(2.0)  # a saved the old x: the new registration must not alias it
    x.grad = None
    b = x * 3.0
    c = a + b
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_signed_zero_constants_stay_distinct():
    x = tg.tensor([-0.0, 1.0])
    a = x + (-0.0)
    b = x + 0.0
    assert math.copysign(1.0, a.tolist()[0]) == -1.0  # -0.0 + -0.0 == -0.0
    assert math.copysign(1.0, b.tolist()[0]) == 1.0  # -0.0 + 0.0 == 0.0
    c = x + 0.0
    assert math.copysign(1.0, c.tolist()[0]) == 1.0
    d = x + (-0.0)
    assert math.copysign(1.0, d.tolist()[0]) == -1.0


def test_one_element_records_in_the_sweep_match_closed_form():
    """The sweep computes one-element elementwise records by their scalar rules: a value read
    several times (x * x reads one slot twice), a second backward with retain_graph, the
    freed-graph error and in-place detection all still hold."""
    a = 1.5
    x = tg.tensor(a, requires_grad=True)
    y = x * x + x * 3.0 - (x / 2.0).exp() + tg.tensor([a]).sum() * x
    y.backward(retain_graph=True)
    want = 2 * a + 3.0 - 0.5 * math.exp(a / 2) + a
    assert x.grad.item() == pytest.approx(want, rel=1e-14)
    y.backward()
    assert x.grad.item() == pytest.approx(2 * want, rel=1e-14)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    z = x.tanh()
    w = z * 2.0
    with tg.no_grad():
        z += 1.0  # tanh's output is read by its VJP
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        w.backward()
