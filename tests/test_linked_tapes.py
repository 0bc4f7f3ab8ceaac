"""Graphs spread over several tapes: an op reading a tensor of a closed tape (after a backward,
or once the open tape rolled over) records on the open tape, which links to the other; a
backward continues along the links, sweeping each tape once, after every tape that links to
it.  Gradients are checked against finite differences or closed forms."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from helpers import numeric_grad

import tapegrad as tg

tape_module = importlib.import_module("tapegrad.tape")


def _close(t: tg.Tensor) -> None:
    """Close ``t``'s tape the way users do: a backward through it, keeping its values."""
    t.sum().backward(retain_graph=True)


def _leaf(values):
    return tg.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_a_graph_continues_on_a_closed_tape():
    xv = np.array([0.3, -0.8, 1.1])

    def f(x):
        a = (x * x).tanh() * 2.0
        return (a * x + a.exp()).sum()

    x = _leaf(xv)
    a = (x * x).tanh() * 2.0
    _close(a)
    x.grad = None
    out = (a * x + a.exp()).sum()
    assert out._tape is not a._tape and a._tape.closed
    assert [there for _, there, _ in out._tape.links] == [a._tape]
    out.backward()

    def value(xa):
        with tg.no_grad():
            return f(tg.tensor(xa)).item()
    np.testing.assert_allclose(x.grad.numpy(), numeric_grad(value, [xv], 0), rtol=1e-7)


def test_several_tensors_of_one_tape_seed_one_sweep(monkeypatch):
    x = _leaf([0.5, -1.5])
    a1 = x * 3.0
    a2 = (x * x).sin()
    _close(a1 + a2)
    x.grad = None
    out = (a1 * a2 + a1.exp() - a2 * 2.0).sum()
    assert len(out._tape.links) == 2

    from tapegrad import engine
    sweeps = []
    real = engine.backward

    def counting(t, gradient=None, retain_graph=None, *, _link=None, _capture=None):
        sweeps.append(_link is not None)
        return real(t, gradient, retain_graph, _link=_link, _capture=_capture)
    monkeypatch.setattr(engine, "backward", counting)  # (what _continue calls)
    counting(out)
    assert sweeps == [False, True]  # the output's tape, then the linked one once

    xv = np.array([0.5, -1.5])
    a1v, a2v = 3 * xv, np.sin(xv * xv)
    da2 = np.cos(xv * xv) * 2 * xv
    want = 3 * a2v + a1v * da2 + 3 * np.exp(a1v) - 2 * da2
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-13)


def test_a_tape_linked_twice_is_swept_after_both():
    """t2 links to t1 and to t0, t1 to t0: t0's seeds from both arrive before its sweep."""
    x = _leaf([0.7, -0.2])
    a = x * 2.0  # t0
    _close(a)
    b = a * 3.0  # t1, linked to t0
    _close(b)
    x.grad = None
    c = (a * b).sum()  # t2, linked to t0 and t1
    tapes = c._tape.reachable()
    assert tapes == [c._tape, b._tape, a._tape]
    c.backward()
    np.testing.assert_allclose(x.grad.numpy(), 24.0 * np.array([0.7, -0.2]), rtol=1e-14)


def test_rolled_over_tapes_chain_a_long_graph(monkeypatch):
    """A graph longer than a tape: ops starting from leaves roll the open tape over, and the
    graph continues on the next one (here every 8 records)."""
    monkeypatch.setattr(tape_module, "_CLOSE_RECS", 6 * 8)
    w = _leaf([0.9])
    xs = np.linspace(-1.0, 1.0, 40)
    h = tg.zeros(1)
    first = None
    for xv in xs:
        u = w * float(xv)  # from a leaf: may start a new tape
        first = first or u._tape
        h = (h * w + u).tanh()
    out = (h * h).sum()
    assert len(out._tape.reachable()) > 5 and first is not out._tape
    out.backward()

    def value(wa):
        wv, hv = wa[0], 0.0
        for xv in xs:
            hv = np.tanh(hv * wv + wv * xv)
        return hv * hv
    np.testing.assert_allclose(w.grad.numpy(), numeric_grad(value, [np.array([0.9])], 0),
                               rtol=1e-6)


def test_backward_through_a_freed_linked_tape_is_refused():
    x = _leaf([1.0, 2.0])
    a = x * x
    a.sum().backward()  # frees a's graph
    b = a * 2.0
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        b.sum().backward()


def test_retain_graph_keeps_linked_tapes():
    x = _leaf([1.0, 2.0])
    a = x * x
    _close(a)
    x.grad = None
    out = (a * 2.0).sum()
    out.backward(retain_graph=True)
    out.backward()
    assert x.grad.tolist() == [8.0, 16.0]


def test_changing_a_linked_value_in_place_is_refused():
    x = _leaf([1.0, 2.0])
    a = x * 3.0
    _close(a)
    b = a * a  # MulBackward0 reads a, from the linked tape
    with tg.no_grad():
        a.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        b.sum().backward()


def test_grad_fn_follows_the_link_and_retain_grad_works_across_it():
    x = _leaf([1.0, -1.0])
    a = x.exp()
    _close(a)
    x.grad = None
    a.retain_grad()
    b = a * 5.0
    assert b.grad_fn.next_functions[0][0] == a.grad_fn
    assert b.grad_fn.next_functions[0][0].name() == "ExpBackward0"
    b.sum().backward()
    assert a.grad.tolist() == [5.0, 5.0]
    np.testing.assert_allclose(x.grad.numpy(), 5 * np.exp([1.0, -1.0]), rtol=1e-15)


def test_functional_grad_leaves_linked_tapes_leaves_alone():
    w = _leaf([2.0])
    a = w * 3.0
    _close(a)
    w.grad = tg.tensor([7.0])
    g = tg.grad(lambda x: (x * a).sum())(tg.tensor([1.5]))
    assert g.tolist() == [6.0]
    assert w.grad.tolist() == [7.0]  # w is on a's tape: tg.grad restores its .grad


def test_a_long_lived_non_leaf_does_not_collect_later_graphs():
    x = _leaf([0.5, 1.5])
    kept = (x * x).sum()
    kept_tape = kept._tape
    records = len(kept_tape)
    for _ in range(3 * tape_module.CLOSE_RECORDS):
        y = x * 2.0 + kept * 0.5  # each graph reads kept
    assert len(kept_tape) <= records + tape_module.CLOSE_RECORDS
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0 + 2 * 0.5 * 2 * np.array([0.5, 1.5]))


def test_tapes_linking_both_ways_raise_instead_of_dropping_a_gradient():
    """Only two threads recording on each other's open tapes can link two tapes both ways;
    made here in one thread by swapping its open tape by hand."""
    import weakref

    from tapegrad.grad_mode import STATE

    x = _leaf([1.0, 2.0])
    a = x * 2.0
    first = a._tape
    second = tape_module.Tape()
    STATE.tape_ref = weakref.ref(second)
    b = x * 3.0
    c = a * b  # on the second tape, linking to the first
    STATE.tape_ref = weakref.ref(first)
    d = (b * a + c).sum()  # on the first tape, linking to the second
    assert d._tape is first and c._tape is second
    with pytest.raises(RuntimeError, match="each other's tensors"):
        d.backward()


def test_a_large_leaf_read_on_both_sides_of_a_rollover(monkeypatch):
    """rosenbrock on 20,000 elements with the open tape rolling over mid-graph: x is a leaf of
    both tapes, its large gradient delivered from two sweeps."""
    monkeypatch.setattr(tape_module, "CLOSE_ELEMENTS", 50_000)
    xv = 0.5 + 0.1 * np.random.default_rng(3).standard_normal(20_000)
    x = _leaf(xv)
    for _ in range(2):  # (the second time, x.grad accumulates)
        d = x[1:] - x[:-1] ** 2
        head = x[:-1]  # from a leaf, on a tape already past the limit: a new tape
        assert head._tape is not d._tape
        out = (100 * d ** 2 + (1 - head) ** 2).sum()
        out.backward()
    h = xv[:-1]
    dv = xv[1:] - h * h
    want = np.zeros_like(xv)
    want[:-1] = -400.0 * dv * h - 2.0 * (1.0 - h)
    want[1:] += 200.0 * dv
    np.testing.assert_allclose(x.grad.numpy(), 2 * want, rtol=1e-12, atol=1e-11)  # (terms ~100)
