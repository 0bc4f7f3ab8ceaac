"""Higher order: every op of the table differentiated twice (``create_graph=True``).

Walks ``test_ops.CASES`` (every op has a case there).  For each case:

* the first-order gradient from the recorded path (each op's graph rule, ``Op.graph``) equals
  the numba sweep's (each op's numba VJP): the two forms of each rule agree;
* the second-order gradient -- of ``<grad f(x) . w, u>`` -- matches central finite differences
  of the (numba) first-order gradient, in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_ops import CASES, COMPILE_CASES, PYTHON_OPS

import tapegrad as tg
from tapegrad.ops import BY_KEY, OPS

ALL = [(key, desc, fn, arrays) for key, cases in CASES.items() for desc, fn, arrays in cases]
IDS = [f"{k}-{d}" for k, d, _, _ in ALL]


def _weights(shape: tuple, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 1.5, shape)


def _first_order(fn, arrays, w, create_graph: bool):
    """The gradients of ``sum(w * fn(x))`` (None for an input not reached), and the leaves."""
    leaves = [tg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    grads = tg.autograd.grad(out, leaves, tg.tensor(w), create_graph=create_graph,
                             allow_unused=True)
    return grads, leaves


def test_every_op_has_a_graph_rule():
    missing = [op.key for op in OPS if op.graph is None]
    assert not missing, f"ops without a graph rule (Op.graph): {missing}"


def test_every_op_has_a_case():
    assert set(CASES) | set(COMPILE_CASES) | PYTHON_OPS == set(BY_KEY)


@pytest.mark.parametrize("key,desc,fn,arrays", ALL, ids=IDS)
def test_recorded_gradient_equals_the_numba_sweeps(key, desc, fn, arrays):
    w = _weights(fn(*[tg.tensor(a) for a in arrays]).shape, 1)
    swept, _ = _first_order(fn, arrays, w, create_graph=False)
    recorded, _ = _first_order(fn, arrays, w, create_graph=True)
    for i, (s, r) in enumerate(zip(swept, recorded, strict=True)):
        assert (s is None) == (r is None), f"input {i}: one path reached it, the other not"
        if s is not None:
            assert r.shape == s.shape and r.dtype == s.dtype
            np.testing.assert_allclose(r.detach().numpy(), s.numpy(), rtol=1e-12, atol=1e-14,
                                       err_msg=f"input {i}")


@pytest.mark.parametrize("key,desc,fn,arrays", ALL, ids=IDS)
def test_second_derivative_matches_finite_differences(key, desc, fn, arrays):
    if any(np.asarray(a).dtype.kind != "f" for a in arrays):
        pytest.skip("integer inputs")
    w = _weights(fn(*[tg.tensor(a) for a in arrays]).shape, 2)
    us = [_weights(np.shape(a), 3 + i) for i, a in enumerate(arrays)]

    def h_value(*xs) -> float:
        """``sum_i <grad_i f(x) . w, u_i>`` from the numba sweep (not recorded)."""
        grads, _ = _first_order(fn, [np.array(x) for x in xs], w, create_graph=False)
        return float(sum(np.sum(g.numpy() * u) for g, u in zip(grads, us, strict=True)
                         if g is not None))

    grads, leaves = _first_order(fn, arrays, w, create_graph=True)
    terms = [(g * tg.tensor(u)).sum() for g, u in zip(grads, us, strict=True)
             if g is not None and g.requires_grad]
    if not terms:
        pytest.skip("the gradient does not depend on the inputs (a linear op)")
    h = terms[0]
    for t in terms[1:]:
        h = h + t
    second = tg.autograd.grad(h, leaves, allow_unused=True, materialize_grads=True)
    eps = 1e-6
    for i, a in enumerate(arrays):
        expected = np.zeros(np.shape(a))
        for idx in np.ndindex(np.shape(a)):
            plus = [np.array(x, dtype=np.float64, copy=True) for x in arrays]
            minus = [np.array(x, dtype=np.float64, copy=True) for x in arrays]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            expected[idx] = (h_value(*plus) - h_value(*minus)) / (2 * eps)
        np.testing.assert_allclose(second[i].numpy(), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"second derivative, input {i}")


@pytest.mark.parametrize("key,desc,fn,arrays", ALL, ids=IDS)
def test_gradgradcheck_passes(key, desc, fn, arrays):
    """torch's own second-order check, ``gradgradcheck`` (finite differences of the recorded
    gradient, in the inputs and in the output's gradient), on every op's case."""
    if any(np.asarray(a).dtype.kind != "f" for a in arrays):
        pytest.skip("integer inputs")
    inputs = tuple(tg.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays)
    assert tg.autograd.gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
