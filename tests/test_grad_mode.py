"""Grad mode (DESIGN.md §2): no_grad / enable_grad / set_grad_enabled / is_grad_enabled.

Context managers, decorators, nesting, restoring on exceptions, and thread locality -- including
several threads recording and backpropagating their own graphs at the same time, every gradient
checked against its closed form.  Expected behaviours were observed in torch 2.13 (quoted in the
docstrings); torch itself is never imported here.
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest
from helpers import values

import tapegrad as tg
from tapegrad.grad_mode import NON_DEFAULT

RTOL = 1e-12




def leaf(values_):
    return tg.tensor(values_, dtype=tg.float64, requires_grad=True)


def records(t) -> bool:
    """Whether ``t`` was recorded (has history), as torch reports it."""
    return t.requires_grad and t.grad_fn is not None and not t.is_leaf


def assert_not_recorded(t) -> None:
    assert not t.requires_grad and t.grad_fn is None and t.is_leaf


# ============================================================================ basic switches


def test_grad_is_enabled_by_default():
    assert tg.is_grad_enabled() is True
    x = leaf([1.0, 2.0])
    assert records(x * 2.0)


def test_no_grad_context_manager():
    x = leaf([1.0, 2.0])
    with tg.no_grad():
        assert tg.is_grad_enabled() is False
        for y in (x * 2.0, x + x, x.exp(), x.sum(), x @ x, -x, x[0], x.reshape(2, 1)):
            assert_not_recorded(y)
        np.testing.assert_array_equal(values(x * 2.0), [2.0, 4.0])
    assert tg.is_grad_enabled() is True
    assert records(x * 2.0)


def test_no_grad_decorator():
    x = leaf([1.0, 2.0])

    @tg.no_grad()
    def double(t):
        """Doubles."""
        assert tg.is_grad_enabled() is False
        return t * 2.0

    y = double(x)
    assert_not_recorded(y)
    np.testing.assert_array_equal(values(y), [2.0, 4.0])
    assert tg.is_grad_enabled() is True
    assert double.__name__ == "double" and double.__doc__ == "Doubles."
    assert records(x * 2.0)


def test_enable_grad_context_manager_and_decorator_inside_no_grad():
    x = leaf([1.0, 2.0])

    @tg.enable_grad()
    def square(t):
        assert tg.is_grad_enabled() is True
        return t * t

    with tg.no_grad():
        with tg.enable_grad():
            assert tg.is_grad_enabled() is True
            y = x * 3.0
        assert tg.is_grad_enabled() is False
        z = square(x)
        assert tg.is_grad_enabled() is False
    assert records(y) and records(z)
    (y + z).sum().backward()
    np.testing.assert_allclose(values(x.grad), 3.0 + 2 * np.array([1.0, 2.0]), rtol=RTOL)


def test_bare_decorators():
    """torch 2.13: @torch.no_grad and @torch.enable_grad also work without parentheses."""

    @tg.no_grad
    def off():
        return tg.is_grad_enabled()

    @tg.enable_grad
    def on():
        return tg.is_grad_enabled()

    assert off() is False
    assert tg.is_grad_enabled() is True
    with tg.no_grad():
        assert on() is True
        assert tg.is_grad_enabled() is False


def test_decorated_generator_runs_each_step_in_the_decorators_mode():
    """torch: a generator function decorated with no_grad() yields False, False while the
    caller between the steps is back in grad mode (True)."""

    @tg.no_grad()
    def steps():
        yield tg.is_grad_enabled()
        yield tg.is_grad_enabled()

    it = steps()
    assert next(it) is False
    assert tg.is_grad_enabled() is True
    assert next(it) is False
    assert tg.is_grad_enabled() is True


def test_context_manager_instance_is_reusable():
    ng = tg.no_grad()
    with ng:
        first = tg.is_grad_enabled()
    with ng:
        second = tg.is_grad_enabled()
    assert (first, second, tg.is_grad_enabled()) == (False, False, True)


# ================================================================================== nesting


def test_nesting_restores_each_level():
    x = leaf([1.0])
    seen = []
    with tg.no_grad():
        seen.append(tg.is_grad_enabled())
        with tg.enable_grad():
            seen.append(tg.is_grad_enabled())
            a = x * 2.0
            with tg.no_grad():
                seen.append(tg.is_grad_enabled())
                b = x * 2.0
                with tg.no_grad():
                    seen.append(tg.is_grad_enabled())
                seen.append(tg.is_grad_enabled())
            seen.append(tg.is_grad_enabled())
        seen.append(tg.is_grad_enabled())
    seen.append(tg.is_grad_enabled())
    assert seen == [False, True, False, False, False, True, False, True]
    assert records(a)
    assert_not_recorded(b)


@pytest.mark.parametrize(
    "make",
    [tg.no_grad, tg.enable_grad, lambda: tg.set_grad_enabled(False),
     lambda: tg.set_grad_enabled(True)],
    ids=["no_grad", "enable_grad", "set_grad_enabled(False)", "set_grad_enabled(True)"],
)
@pytest.mark.parametrize("outer", [True, False])
def test_exceptions_restore_the_previous_mode(make, outer):
    tg.set_grad_enabled(outer)
    with pytest.raises(KeyError):
        with make():
            raise KeyError("boom")
    assert tg.is_grad_enabled() is outer


def test_exception_in_decorated_function_restores_the_mode():
    @tg.no_grad()
    def fails():
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        fails()
    assert tg.is_grad_enabled() is True


# ========================================================================= set_grad_enabled


def test_set_grad_enabled_as_a_call():
    x = leaf([1.0, 2.0])
    tg.set_grad_enabled(False)
    assert tg.is_grad_enabled() is False
    assert_not_recorded(x * 2.0)
    tg.set_grad_enabled(False)  # idempotent
    assert tg.is_grad_enabled() is False
    tg.set_grad_enabled(True)
    assert tg.is_grad_enabled() is True
    assert records(x * 2.0)


def test_set_grad_enabled_as_a_context_manager():
    x = leaf([1.0, 2.0])
    with tg.set_grad_enabled(False):
        assert tg.is_grad_enabled() is False
        assert_not_recorded(x * 2.0)
    assert tg.is_grad_enabled() is True
    with tg.no_grad():
        with tg.set_grad_enabled(True):
            assert tg.is_grad_enabled() is True
            y = x * 2.0
        assert tg.is_grad_enabled() is False
    assert records(y)
    flag = False
    with tg.set_grad_enabled(flag):
        assert tg.is_grad_enabled() is flag


def test_set_grad_enabled_call_inside_a_context_is_undone_when_the_context_exits():
    """torch: with enable_grad(): set_grad_enabled(False)  -> afterwards True again."""
    with tg.enable_grad():
        tg.set_grad_enabled(False)
        assert tg.is_grad_enabled() is False
    assert tg.is_grad_enabled() is True
    with tg.no_grad():
        tg.set_grad_enabled(True)
        assert tg.is_grad_enabled() is True
    assert tg.is_grad_enabled() is True


def test_set_grad_enabled_as_a_decorator_does_not_switch_at_definition():
    """torch: @set_grad_enabled(False) def h(): ... -> True at definition, False inside h."""

    @tg.set_grad_enabled(False)
    def inside():
        return tg.is_grad_enabled()

    assert tg.is_grad_enabled() is True
    assert inside() is False
    assert tg.is_grad_enabled() is True


# ======================================================================= mixing with graphs


def test_values_made_under_no_grad_are_constants_in_a_later_graph():
    """torch: with no_grad: y = 2x; (x*y).sum().backward() -> x.grad = y = 2x (not 4x)."""
    xv = np.array([1.0, 2.0, -0.5])
    x = leaf(xv)
    with tg.no_grad():
        y = x * 2.0
    (x * y).sum().backward()
    np.testing.assert_allclose(values(x.grad), 2 * xv, rtol=RTOL)


def test_no_grad_result_can_become_a_new_leaf():
    x = leaf([1.0, 2.0])
    with tg.no_grad():
        q = x * 3.0
    q.requires_grad_()
    assert q.is_leaf and q.requires_grad
    (q * q).sum().backward()
    np.testing.assert_allclose(values(q.grad), [6.0, 12.0], rtol=RTOL)
    assert x.grad is None


def test_backward_inside_no_grad_still_computes_gradients():
    """torch: loss = (x*x).sum(); with no_grad: loss.backward() -> x.grad == 2x."""
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    with tg.no_grad():
        loss.backward()
    np.testing.assert_allclose(values(x.grad), [2.0, 4.0], rtol=RTOL)


# ============================================================================ thread locality


def test_grad_mode_is_thread_local():
    x = leaf([1.0, 2.0])
    entered, checked = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with tg.no_grad():
            entered.set()
            assert checked.wait(10)
            seen["worker"] = tg.is_grad_enabled()
            seen["worker records"] = records(x * 2.0)
        seen["worker after"] = tg.is_grad_enabled()

    thread = threading.Thread(target=worker)
    thread.start()
    assert entered.wait(10)
    # the other thread is inside no_grad right now; this one is not affected
    seen["main"] = tg.is_grad_enabled()
    y = x * 2.0
    seen["main records"] = records(y)
    checked.set()
    thread.join(10)
    assert not thread.is_alive()
    assert seen == {"main": True, "main records": True, "worker": False,
                    "worker records": False, "worker after": True}
    y.sum().backward()
    np.testing.assert_allclose(values(x.grad), [2.0, 2.0], rtol=RTOL)


def test_main_thread_no_grad_does_not_reach_a_new_thread():
    """torch: a thread started inside no_grad sees is_grad_enabled() == True."""
    seen = []
    x = leaf([1.0, 2.0])

    def worker():
        seen.append(tg.is_grad_enabled())
        y = (x * 2.0).sum()
        seen.append(records(y))

    with tg.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(10)
        assert tg.is_grad_enabled() is False
    assert seen == [True, True]


def test_set_grad_enabled_call_in_a_thread_stays_in_that_thread():
    done = threading.Event()
    seen = []

    def worker():
        tg.set_grad_enabled(False)
        seen.append(tg.is_grad_enabled())
        done.set()

    before = NON_DEFAULT[0]
    thread = threading.Thread(target=worker)
    thread.start()
    assert done.wait(10)
    thread.join(10)
    assert seen == [False]
    assert tg.is_grad_enabled() is True
    # the thread ended with grad mode off: the other threads' per-op path is the fast one again
    assert NON_DEFAULT[0] == before


# ====================================================== concurrent graphs in several threads

ITERATIONS = 300
SHARED_CONSTANT = tg.tensor([0.5, -1.0, 2.0])  # read (never written) by several threads


def _cubes(rng, check):
    xv = rng.uniform(-2, 2, 3)
    x = leaf(xv)
    (x * x * x).sum().backward()
    check(values(x.grad), 3 * xv**2)


def _sin_tanh(rng, check):
    xv = rng.uniform(-2, 2, (2, 3))
    x = leaf(xv)
    loss = (x.sin() * SHARED_CONSTANT).sum() + x.tanh().mean()
    loss.backward()
    check(values(x.grad), np.cos(xv) * values(SHARED_CONSTANT) + (1 - np.tanh(xv) ** 2) / 6)


def _matvec_exp(rng, check):
    av, vv, u = rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 4)
    a, v = leaf(av), leaf(vv)
    y = (a @ (v + SHARED_CONSTANT)).exp()
    y.backward(tg.tensor(u))
    s = vv + values(SHARED_CONSTANT)
    g = u * np.exp(av @ s)
    check(values(a.grad), np.outer(g, s))
    check(values(v.grad), av.T @ g)


def _toggling_mean(rng, check):
    xv = rng.uniform(-2, 2, 5)
    x = leaf(xv)
    with tg.no_grad():  # this thread keeps switching grad mode off and on
        for _ in range(5):
            assert tg.is_grad_enabled() is False
            assert_not_recorded((x * 3.0).exp())
    tg.set_grad_enabled(False)
    for _ in range(5):
        assert_not_recorded((x + 1.0).sin())
    tg.set_grad_enabled(True)
    h = x - 1.0
    h.retain_grad()
    ((h**2) / 2.0).mean().backward()
    check(values(x.grad), (xv - 1) / 5)
    check(values(h.grad), (xv - 1) / 5)


@pytest.fixture
def fine_switching():
    """Make the interpreter switch threads every microsecond, so the threads interleave inside
    each other's forward and backward passes instead of taking turns per iteration."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


@pytest.mark.parametrize("workers", [(_cubes, _sin_tanh), (_cubes, _sin_tanh, _matvec_exp,
                                                         _toggling_mean)],
                         ids=["2 threads", "4 threads"])
def test_threads_record_and_backpropagate_their_own_graphs_concurrently(workers, fine_switching):
    barrier = threading.Barrier(len(workers))
    failures: list[str] = []
    checked = [0] * len(workers)

    def run(index, body):
        rng = np.random.default_rng(1000 + index)

        def check(actual, expected):
            np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-15)
            checked[index] += 1

        try:
            for _ in range(ITERATIONS):
                barrier.wait(30)  # every iteration starts in all threads together
                assert tg.is_grad_enabled() is True  # no other thread's mode leaks in
                body(rng, check)
        except BaseException as exc:  # reported below; the barrier must not hang the others
            failures.append(f"{body.__name__}: {type(exc).__name__}: {exc}")
            barrier.abort()

    threads = [threading.Thread(target=run, args=(i, body)) for i, body in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    per_iteration = {_cubes: 1, _sin_tanh: 1, _matvec_exp: 2, _toggling_mean: 2}
    assert checked == [ITERATIONS * per_iteration[body] for body in workers]
    assert tg.is_grad_enabled() is True


def test_non_default_mode_count_follows_every_switch():
    """The per-op path skips the thread-local mode while no thread is outside the default
    mode: the count must return to where it was after every kind of switch."""
    from tapegrad.grad_mode import NON_DEFAULT

    start = NON_DEFAULT[0]
    with tg.no_grad():
        assert NON_DEFAULT[0] == start + 1
        with tg.enable_grad():
            assert NON_DEFAULT[0] == start
        with tg.no_grad():  # nested: still one thread outside the default
            assert NON_DEFAULT[0] == start + 1
    assert NON_DEFAULT[0] == start
    tg.set_grad_enabled(False)
    tg.set_grad_enabled(False)
    assert NON_DEFAULT[0] == start + 1
    tg.set_grad_enabled(True)
    assert NON_DEFAULT[0] == start
    tape = tg.compile(lambda x: (x * 2.0).sum(), np.ones(2))
    assert NON_DEFAULT[0] == start
    assert tape.gradient(np.ones(2)).tolist() == [2.0, 2.0]


def test_a_thread_left_in_no_grad_does_not_change_other_threads():
    """A thread that switches grad mode off and ends gives its part of the count back (so no
    thread keeps reading its own mode per op for good), and the others still record."""
    from tapegrad import grad_mode

    start = grad_mode.NON_DEFAULT[0]
    seen = []
    thread = threading.Thread(
        target=lambda: (tg.set_grad_enabled(False), seen.append(grad_mode.NON_DEFAULT[0])))
    thread.start()
    thread.join(10)
    assert seen == [start + 1]
    assert grad_mode.NON_DEFAULT[0] == start
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    assert records(y)
    y.backward()
    np.testing.assert_allclose(values(x.grad), [2.0, 4.0], rtol=RTOL)
    with tg.no_grad():
        assert not records(x * 2.0)


# --------------------------------------------------------------------------- inference_mode


class TestInferenceMode:
    """torch 2.13: ``inference_mode()`` turns grad mode off and ``is_inference_mode_enabled()``
    on; ``inference_mode(False)`` inside it turns grad mode back on (even inside no_grad);
    both are restored on exit; it decorates with or without parentheses."""

    def test_context_manager(self):
        x = leaf([1.0, 2.0])
        with tg.inference_mode():
            assert not tg.is_grad_enabled() and tg.is_inference_mode_enabled()
            y = x * x
            with tg.inference_mode(False):
                assert tg.is_grad_enabled() and not tg.is_inference_mode_enabled()
                assert (x * x).requires_grad
            assert not tg.is_grad_enabled() and tg.is_inference_mode_enabled()
        assert not y.requires_grad
        assert tg.is_grad_enabled() and not tg.is_inference_mode_enabled()

    def test_false_inside_no_grad_enables_grad(self):
        with tg.no_grad(), tg.inference_mode(False):
            assert tg.is_grad_enabled()
        assert tg.is_grad_enabled()

    def test_restored_after_an_exception(self):
        with pytest.raises(KeyError), tg.inference_mode():
            raise KeyError("x")
        assert tg.is_grad_enabled() and not tg.is_inference_mode_enabled()

    def test_decorators(self):
        @tg.inference_mode
        def bare():
            return tg.is_inference_mode_enabled(), tg.is_grad_enabled()

        @tg.autograd.inference_mode()
        def called():
            return tg.is_inference_mode_enabled(), tg.is_grad_enabled()

        @tg.autograd.grad_mode.inference_mode(False)
        def off():
            return tg.is_inference_mode_enabled(), tg.is_grad_enabled()

        assert bare() == (True, False) and called() == (True, False)
        with tg.no_grad():
            assert off() == (False, True)
        assert tg.is_grad_enabled() and not tg.is_inference_mode_enabled()

    def test_generator(self):
        @tg.inference_mode()
        def gen():
            yield tg.is_inference_mode_enabled()
            yield tg.is_inference_mode_enabled()

        assert list(gen()) == [True, True]
        assert not tg.is_inference_mode_enabled()

    def test_is_thread_local(self):
        seen = []
        with tg.inference_mode():
            t = threading.Thread(target=lambda: seen.append(tg.is_inference_mode_enabled()))
            t.start()
            t.join()
        assert seen == [False]

    def test_names(self):
        assert tg.autograd.inference_mode is tg.inference_mode
        assert tg.autograd.grad_mode.is_inference_mode_enabled is tg.is_inference_mode_enabled
        assert tg.inference_mode(False).mode is False
        assert tg.inference_mode().clone().mode is True
