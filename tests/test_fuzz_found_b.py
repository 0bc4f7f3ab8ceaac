"""Regressions for bugs the differential fuzzer (``test_fuzz.py``) found: in-place changes after
a broadcasting op, after ``c / x`` and after ``norm(p)``.  torch is the oracle."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

STALE = "modified by an inplace operation"


def _both(fn):
    """``fn`` run with tapegrad and with torch (float64): the two leaves' gradients."""
    out = []
    for m in (tg, torch):
        x = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
        fn(m, x)
        out.append(np.asarray(x.grad.detach().numpy(), dtype=np.float64))
    return out


# -- inplace_after_broadcast: the internal broadcast of where / batched matmul is no view


def test_where_broadcasting_an_operand_lets_it_change_in_place_after():
    def run(m, x):
        y = x * 2
        w = m.where(m.tensor([[True, False, True]]), y, x)
        y.mul_(3)
        (w.sum() + y.sum()).backward()

    ours, theirs = _both(run)
    np.testing.assert_allclose(ours, theirs)
    np.testing.assert_allclose(ours, [8.0, 7.0, 8.0])


def test_where_broadcasting_the_other_operand_and_the_condition():
    def run(m, x):
        y = x * 2
        z = x + 1
        w = m.where(m.tensor([[True], [False]]), z, y)
        y.add_(1)
        z.mul_(2)
        (w * m.tensor([[1.0], [3.0]], dtype=m.float64)).sum().backward()

    ours, theirs = _both(run)
    np.testing.assert_allclose(ours, theirs)


def test_batched_matmul_broadcasting_an_operand_lets_it_change_in_place_when_not_read():
    # (the ones do not require grad: the VJP of the batched product never reads y)
    def run(m, x):
        y = x * 2
        p = m.ones(4, 2, 3, dtype=m.float64) @ y
        y.mul_(3)
        (p.sum() + y.sum()).backward()

    ours, theirs = _both(run)
    np.testing.assert_allclose(ours, theirs)
    np.testing.assert_allclose(ours, [22.0, 22.0, 22.0])


@pytest.mark.parametrize("m", [tg, torch], ids=["tapegrad", "torch"])
def test_batched_matmul_still_refuses_when_its_vjp_needs_the_old_value(m):
    x = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
    a = m.ones(4, 2, 3, dtype=m.float64, requires_grad=True)
    y = x * 2
    p = a @ y
    y.mul_(3)
    with pytest.raises(RuntimeError, match=STALE):
        p.sum().backward()


@pytest.mark.parametrize("m", [tg, torch], ids=["tapegrad", "torch"])
def test_batched_matmul_refuses_when_the_broadcast_matrix_operand_changes(m):
    x = m.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=m.float64, requires_grad=True)
    b = m.ones(3, 2, 2, dtype=m.float64, requires_grad=True)
    y = x * 1
    p = y @ b
    y.add_(1)
    with pytest.raises(RuntimeError, match=STALE):
        p.sum().backward()


def test_a_user_expand_is_still_a_view():
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    e = y.expand(2, 3)
    assert e._base is y
    with pytest.raises(NotImplementedError, match="view"):
        y.mul_(3)
