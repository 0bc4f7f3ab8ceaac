"""Every op in the op table, against central finite differences in float64.

``CASES`` maps each op key to functions that exercise it; a test fails when an op of the table
has no case, and each case must actually record its op (checked on the tape).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_gradients

import tapegrad as tg
from tapegrad.ops import BY_KEY, OPS

rng = np.random.default_rng(0)


def r(*shape, low=-1.5, high=1.5):
    return rng.uniform(low, high, shape) if shape else np.array(rng.uniform(low, high))


def pos(*shape):
    return r(*shape, low=0.3, high=2.0)


# op key -> list of (description, function of tensors, input arrays)
CASES: dict[str, list] = {
    "neg": [("vec", lambda x: -x, [r(4)]), ("0-d", lambda x: -x, [r()])],
    "exp": [("mat", lambda x: x.exp(), [r(2, 3)]), ("0-d", tg.exp, [r()])],
    "log": [("vec", lambda x: x.log(), [pos(5)]), ("0-d", tg.log, [pos()])],
    "sin": [("mat", lambda x: x.sin(), [r(3, 2)])],
    "cos": [("mat", lambda x: x.cos(), [r(3, 2)]), ("0-d", tg.cos, [r()])],
    "tanh": [("3-d", lambda x: x.tanh(), [r(2, 2, 3)])],
    "sigmoid": [("vec", lambda x: x.sigmoid(), [r(6, low=-30, high=30)])],
    "relu": [("vec", lambda x: x.relu(), [np.array([-1.0, -0.2, 0.3, 2.0])])],
    "sqrt": [("vec", lambda x: x.sqrt(), [pos(4)])],
    "abs": [("vec", lambda x: x.abs(), [np.array([-1.0, -0.2, 0.3, 2.0])])],
    "add_scalar": [("x+2", lambda x: x + 2, [r(3)]), ("2+x", lambda x: 2.5 + x, [r()])],
    "sub_scalar": [("x-2", lambda x: x - 2, [r(2, 2)])],
    "rsub_scalar": [("2-x", lambda x: 2 - x, [r(2, 2)])],
    "mul_scalar": [("x*3", lambda x: x * 3, [r(3)]), ("3*x", lambda x: 3.0 * x, [r()])],
    "div_scalar": [("x/3", lambda x: x / 3, [r(3)])],
    "rdiv_scalar": [("3/x", lambda x: 3 / x, [pos(3)])],
    "pow_scalar": [("x**2", lambda x: x ** 2, [r(3)]), ("x**0.5", lambda x: x ** 0.5, [pos(3)]),
                   ("x**-1", lambda x: x ** -1, [pos()])],
    "rpow_scalar": [("2**x", lambda x: 2 ** x, [r(3)])],
    "add": [("same", lambda a, b: a + b, [r(2, 3), r(2, 3)]),
            ("(3,1)+(1,4)", lambda a, b: a + b, [r(3, 1), r(1, 4)]),
            ("(2,3)+(3,)", lambda a, b: a + b, [r(2, 3), r(3)]),
            ("0-d+mat", lambda a, b: a + b, [r(), r(2, 2)])],
    "sub": [("same", lambda a, b: a - b, [r(4), r(4)]),
            ("(2,3)-(2,1)", lambda a, b: a - b, [r(2, 3), r(2, 1)])],
    "mul": [("same", lambda a, b: a * b, [r(2, 2), r(2, 2)]),
            ("(3,1)*(1,4)", lambda a, b: a * b, [r(3, 1), r(1, 4)]),
            ("(2,3,4)*(3,1)", lambda a, b: a * b, [r(2, 3, 4), r(3, 1)]),
            ("0-d*0-d", lambda a, b: a * b, [r(), r()])],
    "div": [("same", lambda a, b: a / b, [r(3), pos(3)]),
            ("(2,3)/(3,)", lambda a, b: a / b, [r(2, 3), pos(3)])],
    "pow": [("same", lambda a, b: a ** b, [pos(3), r(3)]),
            ("(2,3)**(3,)", lambda a, b: a.pow(b), [pos(2, 3), r(3)])],
    "sum": [("all", lambda x: x.sum(), [r(2, 3)]), ("0-d", lambda x: x.sum(), [r()]),
            ("keepdim", lambda x: x.sum(keepdim=True), [r(2, 2)])],
    "sum_dim": [("dim0", lambda x: x.sum(0), [r(3, 4)]),
                ("dim-1 keep", lambda x: x.sum(-1, keepdim=True), [r(2, 3, 4)]),
                ("dims (0,2)", lambda x: x.sum((0, 2)), [r(2, 3, 4)])],
    "mean": [("all", lambda x: x.mean(), [r(2, 3)])],
    "mean_dim": [("dim1", lambda x: x.mean(1), [r(3, 4)]),
                 ("dims keep", lambda x: x.mean((0, 1), keepdim=True), [r(2, 3, 2)])],
    "norm": [("vec", lambda x: x.norm(), [r(5)]), ("mat", lambda x: x.norm(), [r(2, 3)])],
    "view": [("view", lambda x: x.view(3, 2), [r(2, 3)]),
             ("reshape", lambda x: x.reshape(-1), [r(2, 2, 2)])],
    "clone": [("clone", lambda x: x.clone() * 1.0, [r(3)])],
    "transpose": [("2-d", lambda x: x.transpose(0, 1), [r(2, 3)]),
                  ("3-d", lambda x: x.transpose(0, 2), [r(2, 3, 4)])],
    "permute": [("T", lambda x: x.T, [r(2, 3)]), ("perm", lambda x: x.permute(2, 0, 1),
                                                   [r(2, 3, 4)])],
    "t": [("t", lambda x: x.t(), [r(3, 2)])],
    "select": [("x[1]", lambda x: x[1], [r(3, 4)]), ("x[:,2]", lambda x: x[:, 2], [r(3, 4)]),
               ("x[0,1]", lambda x: x[0, 1], [r(3, 4)])],
    "slice": [("x[1:]", lambda x: x[1:], [r(4)]), ("x[::2,None]", lambda x: x[::2, None],
                                                   [r(5, 2)]),
              ("x[...,1:]", lambda x: x[..., 1:], [r(2, 3)])],
    "index": [("repeated", lambda x: x[[0, 0, 2]], [r(3, 2)]),
              ("mask", lambda x: x[x.detach() > 0], [np.array([1.0, -1.0, 2.0, -0.5])])],
    "dot": [("1-d@1-d", lambda a, b: a @ b, [r(4), r(4)])],
    "mv": [("2-d@1-d", lambda a, b: a @ b, [r(3, 4), r(4)])],
    "mm": [("2-d@2-d", lambda a, b: a @ b, [r(3, 4), r(4, 2)]),
           ("1-d@2-d", lambda a, b: tg.matmul(a, b), [r(4), r(4, 2)])],
}

ALL = [(key, desc, fn, arrays) for key, cases in CASES.items() for desc, fn, arrays in cases]


def test_every_op_has_a_case():
    assert set(CASES) == set(BY_KEY), (
        f"ops without a test case: {sorted(set(BY_KEY) - set(CASES))}; "
        f"cases without an op: {sorted(set(CASES) - set(BY_KEY))}")


def test_every_op_has_all_parts():
    for op in OPS:
        assert op.name.endswith(("Backward0", "Backward1", "Backward2")), op
        assert callable(op.eager) and callable(op.fwd) and callable(op.vjp), op
        assert op.arity in (1, 2), op
        assert OPS[op.code] is op


@pytest.mark.parametrize("key,desc,fn,arrays", ALL, ids=[f"{k}-{d}" for k, d, _, _ in ALL])
def test_gradient_matches_finite_differences(key, desc, fn, arrays):
    check_gradients(fn, arrays)


@pytest.mark.parametrize("key,desc,fn,arrays", ALL, ids=[f"{k}-{d}" for k, d, _, _ in ALL])
def test_case_records_its_op(key, desc, fn, arrays):
    out = fn(*[tg.tensor(a, requires_grad=True) for a in arrays])
    codes = out._tape.recs[0::6]
    assert BY_KEY[key].code in codes, f"{desc} did not record {key}"


@pytest.mark.parametrize("key,desc,fn,arrays", ALL, ids=[f"{k}-{d}" for k, d, _, _ in ALL])
def test_replay_forward_matches_eager(key, desc, fn, arrays):
    """Each op's numba forward (used by compiled tapes) reproduces its NumPy forward."""
    out = fn(*[tg.tensor(a, requires_grad=True) for a in arrays])
    tape = out._tape
    recs = np.array(tape.recs, dtype=np.int64).reshape(-1, 6)
    ints = (np.concatenate(tape.ipool, axis=None).astype(np.int64) if tape.ipool
            else np.zeros(0, np.int64))
    floats = np.array(tape.fpool, dtype=np.float64)
    values = {s: np.asarray(v, dtype=np.float64).ravel() for s, v in enumerate(tape.vals)}
    for slot, big in zip(tape.big_slots, tape.bigs, strict=True):
        values[slot] = big.ravel()
    for op_code, o, a, b, ip, fp in recs:
        op = OPS[op_code]
        y = np.full(tape.offs[o + 1] - tape.offs[o], np.nan)
        bv = values[b] if b >= 0 else np.zeros(0)
        op.fwd(y, values[a], bv, ints, floats, ip, fp)
        np.testing.assert_allclose(y, values[o], rtol=1e-13, atol=1e-15, err_msg=op.key)
