"""A tape keeps a large value only when a recorded VJP reads it (``Op.keeps``), as torch saves
only what its backward needs; elementwise ops' declared reads must cover their scalar rules."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops import OPS
from tapegrad.ops.registry import READS_A, READS_B, READS_Y

RULED = [op for op in OPS if op.rules]


def _depends(rule, args: list[float], k: int, rng) -> bool:
    """Whether ``rule`` changes when argument ``k`` alone takes other values."""
    for _ in range(40):
        base = [float(v) for v in rng.uniform(-2, 2, len(args))]
        base[0] = abs(base[0]) + 0.5  # g
        other = list(base)
        other[k] = float(rng.uniform(-2, 2))
        try:
            first, second = rule(*base), rule(*other)
        except (ArithmeticError, ValueError):  # log of a negative and the like
            continue
        if first != second and not (math.isnan(first) and math.isnan(second)):
            return True
    return False


@pytest.mark.parametrize("op", RULED, ids=lambda op: op.key)
def test_declared_reads_cover_what_the_scalar_rules_read(op):
    """An op's VJP may read only the values its flags name: the tape frees the others."""
    rng = np.random.default_rng(op.code)
    kind, *rules = op.rules
    if kind == "binary":
        # da(g, a, b, y) / db(g, a, b, y)
        for rule, reads in ((rules[1], op.reads_a), (rules[2], op.reads_b)):
            fn = rule.py_func
            for k, bit in ((1, READS_A), (2, READS_B), (3, READS_Y)):
                if _depends(fn, [1.0, 0.0, 0.0, 0.0], k, rng):
                    assert reads & bit, f"{op.key}: {fn.__name__} reads argument {k}"
    else:  # unary df(g, x, y); scalar df(g, x, y, c)
        fn = rules[1].py_func
        n = 3 if kind == "unary" else 4
        for k, bit in ((1, READS_A), (2, READS_Y)):
            if _depends(fn, [1.0] + [0.0] * (n - 1), k, rng):
                assert op.reads_a & bit, f"{op.key}: {fn.__name__} reads argument {k}"


N = 8000  # above tape.BIG


def test_a_long_elementwise_chain_keeps_only_what_its_vjps_read():
    x0 = np.linspace(-1, 1, N)
    x = tg.tensor(x0, requires_grad=True)
    y = x
    for _ in range(10):
        y = tg.tanh(y) * 0.9 + 0.1 * y  # tanh's VJP reads its output; * and + read nothing
    loss = (y * y).sum()  # (y * y reads y)
    tape = loss._tape
    kept = len(tape.big_slots) - len(tape.unkept)
    # x, the ten tanh outputs, the last y (read by y * y), and y * y: sum is not elementwise,
    # and ops other than elementwise ones keep their inputs
    assert kept == 1 + 10 + 1 + 1
    loss.backward()
    ref = x0.copy()
    deriv = np.ones(N)
    for _ in range(10):
        t = np.tanh(ref)
        deriv *= 0.9 * (1 - t * t) + 0.1
        ref = 0.9 * t + 0.1 * ref
    np.testing.assert_allclose(x.grad.numpy(), 2 * ref * deriv, rtol=1e-13, atol=1e-15)


def test_a_value_dropped_at_first_is_kept_when_a_later_vjp_reads_it():
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(N)
    w0 = rng.standard_normal((100, 3))
    x = tg.tensor(x0, requires_grad=True)
    w = tg.tensor(w0, requires_grad=True)
    t = x * 2.0  # nothing reads t yet: not kept
    assert t._slot in t._tape.unkept
    u = t ** 3  # reads t
    m = t.reshape(80, 100) @ w  # reads t (a general op)
    s = tg.cat([t, u])  # keeps its inputs (a general op)
    loss = u.sum() + (m * m).sum() + (s * 0.5).sum()
    loss.backward()
    t0 = 2 * x0
    m0 = t0.reshape(80, 100) @ w0
    dt = 3 * t0 ** 2 + (2 * m0 @ w0.T).ravel() + 0.5 + 0.5 * 3 * t0 ** 2
    # (terms of ~100 cancel in some elements: the tolerance is absolute there)
    np.testing.assert_allclose(x.grad.numpy(), 2 * dt, rtol=1e-12, atol=1e-11)
    np.testing.assert_allclose(w.grad.numpy(), t0.reshape(80, 100).T @ (2 * m0), rtol=1e-12)


def test_compiled_tapes_keep_every_value():
    f = tg.compile(lambda v: (tg.tanh(v * 2.0) + v).sum(), np.ones(N))
    np.testing.assert_allclose(f.gradient(np.full(N, 0.5)),
                               2 * (1 - np.tanh(1.0) ** 2) + 1, rtol=1e-14)
