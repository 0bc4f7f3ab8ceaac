"""Integrity of the tape: never a wrong gradient, never a crash.

* an exception (KeyboardInterrupt, as Ctrl-C in Jupyter, which keeps the traceback alive)
  injected at every line of the recording path leaves this thread able to record and
  differentiate a fresh graph correctly, and the interrupted graph either differentiates
  correctly or refuses with a clear error;
* threads recording on (and backpropagating through) values of another thread's open tape;
* concurrent reads of a shared one-element result's storage;
* concurrent backwards accumulating into one shared leaf's ``.grad``.
"""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.tape import BIG

TAPEGRAD_DIR = os.path.dirname(tg.__file__)


@pytest.fixture
def fine_switching():
    """Threads switch every microsecond: they interleave inside each other's ops."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def _run_threads(n: int, body) -> None:
    """Run ``body(index)`` in ``n`` threads started together; re-raise the first failure."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i):
        try:
            barrier.wait()
            body(i)
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]


# ============================================================== an exception at every line


class _Interrupt:
    """A trace function raising KeyboardInterrupt at the n-th line executed inside tapegrad."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.fired = False

    def global_trace(self, frame, event, arg):
        if frame.f_code.co_filename.startswith(TAPEGRAD_DIR):
            return self.local_trace
        return None

    def local_trace(self, frame, event, arg):
        if event == "line":
            self.n -= 1
            if self.n == 0:
                self.fired = True
                raise KeyboardInterrupt
        return self.local_trace


def _steps(m, x, w, c):
    """The program: each partial result, for module ``m`` (tapegrad or torch); every
    recording path is taken: leaf and non-leaf inputs, numbers, unary math, broadcasting,
    a reduction, a large value (when ``x`` is large)."""
    a = x * w                    # two leaves
    yield a
    b = a.sin() + 2.0            # unary, then a number
    yield b
    d = b * x - w / 3.0          # a non-leaf with a leaf, a leaf with a number
    yield d
    e = (d * c).tanh()           # a broadcast constant
    yield e
    f = e.sum() * x.sum()        # reductions, then two 0-d values
    yield f
    g = f * f + x[0] * 1.5       # 0-d arithmetic, an index
    yield g


def _closed_form(xv, wv, cv):
    """d g / d x and d g / d w of _steps's last value."""
    a = xv * wv
    b = np.sin(a) + 2.0
    d = b * xv - wv / 3.0
    e = np.tanh(d * cv)
    f = e.sum() * xv.sum()
    de = 1 - e * e  # tanh'
    # f = S_e * S_x; df/dx_i = (de_i * c_i * dd/dx_i) * S_x + S_e, dd/dx_i = cos(a) w x + b
    dd_dx = np.cos(a) * wv * xv + b
    dd_dw = np.cos(a) * xv * xv - 1.0 / 3.0
    sx, se = xv.sum(), e.sum()
    df_dx = de * cv * dd_dx * sx + se
    df_dw = de * cv * dd_dw * sx
    dg_dx = 2 * f * df_dx
    dg_dx[0] += 1.5
    return dg_dx, 2 * f * df_dw


def _inputs(shape, seed):
    rng = np.random.default_rng(seed)
    return (rng.uniform(0.2, 0.9, shape), rng.uniform(-0.9, 0.9, shape),
            rng.uniform(0.5, 1.5, shape))


def _fresh_graph_is_right(shape, seed) -> None:
    xv, wv, cv = _inputs(shape, seed)
    x, w = tg.tensor(xv, requires_grad=True), tg.tensor(wv, requires_grad=True)
    *_, g = _steps(tg, x, w, tg.tensor(cv))
    g.backward()
    gx, gw = _closed_form(xv, wv, cv)
    np.testing.assert_allclose(x.grad.numpy(), gx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), gw, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(3,), (1,), (BIG + 5,)], ids=["small", "one", "large"])
def test_an_interrupt_at_any_line_of_recording_leaves_the_thread_sound(shape):
    torch = pytest.importorskip("torch")
    xv, wv, cv = _inputs(shape, 1)
    _fresh_graph_is_right(shape, 2)  # (compiles the kernels before tracing)
    n, clean_errors, completed, oracle = 0, 0, False, {}
    while not completed:
        n += 1
        x, w = tg.tensor(xv, requires_grad=True), tg.tensor(wv, requires_grad=True)
        partial: list = []
        interrupt = _Interrupt(n)
        kept = None
        sys.settrace(interrupt.global_trace)
        try:
            for value in _steps(tg, x, w, tg.tensor(cv)):
                partial.append(value)
        except KeyboardInterrupt as err:
            kept = err  # its traceback (and every frame's locals) stays alive, as in Jupyter
        finally:
            sys.settrace(None)
        completed = not interrupt.fired
        assert completed == (kept is None)
        # a fresh graph on this thread: right, whatever the interrupt left behind
        _fresh_graph_is_right(shape, 3 + n % 5)
        # the interrupted graph: its last complete value differentiates right or refuses
        if partial:
            if len(partial) not in oracle:  # (torch's gradient of the same partial result)
                xt = torch.tensor(xv, requires_grad=True)
                wt = torch.tensor(wv, requires_grad=True)
                *_, want = zip(range(len(partial)), _steps(torch, xt, wt, torch.tensor(cv)),
                               strict=False)
                want[1].sum().backward()
                oracle[len(partial)] = xt.grad.numpy(), wt.grad.numpy()
            want_x, want_w = oracle[len(partial)]
            try:
                partial[-1].sum().backward()
            except RuntimeError as err:
                assert "interrupted" in str(err)
                clean_errors += 1
            else:
                np.testing.assert_allclose(x.grad.numpy(), want_x, rtol=1e-10, atol=1e-12)
                np.testing.assert_allclose(w.grad.numpy(), want_w, rtol=1e-10, atol=1e-12)
        del kept, partial
    assert n > 100  # (every line of the recording paths of the whole program was hit)
    assert 0 < clean_errors < n  # (both outcomes of the interrupted graph were seen)


def test_a_tape_whose_lists_are_out_of_step_refuses_backward():
    """The consistency check before the kernel trusts an address: a slot without its value (as
    an interrupt between two appends once left) raises, never reads one slot off."""
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3.0).sum()
    y._tape.offs.append(y._tape.offs[-1] + 1)  # a slot whose value never came
    with pytest.raises(RuntimeError, match="interrupted"):
        y.backward()
    z = (x * 2.0).sum()  # this thread's next graph is on a fresh tape
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


def test_a_large_slot_without_its_address_refuses_backward():
    x = tg.tensor(np.ones(BIG + 1), requires_grad=True)
    y = (x * x).sum()
    tape = y._tape
    tape.big_addrs.pop()  # (a slot number would be read as an address)
    with pytest.raises(RuntimeError, match="interrupted"):
        y.backward()


# ================================================================ threads on a shared tape


def test_threads_recording_on_another_threads_open_tape(fine_switching):
    """Round after round, this thread records h (and a 0-d and a one-float value) on its open
    tape, then four threads record graphs on them and backpropagate while this one goes on
    recording on that tape."""
    xv = np.array([0.5, 1.5, -2.0])
    rounds, n = 60, 4
    ks = np.arange(1, n + 1, dtype=float)[:, None]
    hv = 2 * xv
    start, done = threading.Barrier(n + 1), threading.Barrier(n + 1)
    shared: dict = {}
    errors: list = []

    def worker(i):
        k = float(i + 1)
        try:
            for _ in range(rounds):
                start.wait()
                h, s, o = shared["h"], shared["s"], shared["o"]
                w = tg.tensor(np.full(3, k), requires_grad=True)
                for _ in range(3):
                    y = ((h * h) * k + h * w + h.tanh()).sum() + s * k + (o * k).sum()
                    y.backward(retain_graph=True)  # (h's records are shared by every thread)
                np.testing.assert_allclose(w.grad.numpy(), 3 * hv, rtol=1e-12)
                done.wait()
        except BaseException as err:
            errors.append(err)
            start.abort()
            done.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    try:
        for _ in range(rounds):
            x = tg.tensor(xv, requires_grad=True)
            p = tg.tensor([0.25], requires_grad=True)
            shared.update(h=x * 2.0, s=(x * 1.0).sum() * 1.0, o=p * 4.0)
            start.wait()
            for _ in range(20):  # this thread goes on recording on its tape
                (shared["h"] * 3.0 + shared["s"]).sum()
            done.wait()
            per_k = 8 * xv * ks + 2 * ks + 2 * (1 - np.tanh(hv) ** 2) + ks
            np.testing.assert_allclose(x.grad.numpy(), 3 * per_k.sum(0), rtol=1e-12)
            np.testing.assert_allclose(p.grad.numpy(), [3 * 4 * ks.sum()], rtol=1e-12)
    except threading.BrokenBarrierError:  # (a worker failed: its error is raised below)
        pass
    except BaseException:
        start.abort()  # (only now: aborting a barrier just passed breaks it for late wakers)
        done.abort()
        raise
    finally:
        for t in threads:
            t.join(60)
    errors.sort(key=lambda err: isinstance(err, threading.BrokenBarrierError))
    if errors:
        raise errors[0]


# ============================================================= a shared one-element result


def test_concurrent_reads_of_a_shared_one_float_result(fine_switching):
    p = tg.tensor([0.5], requires_grad=True)
    for _ in range(3):
        shared = [p * float(i) for i in range(4000)]
        assert type(shared[1]) is not tg.Tensor  # (still a one-float tensor)

        def body(i, shared=shared):
            for t in shared:
                assert t.shape == (1,)

        _run_threads(4, body)
        for i, t in enumerate(shared):
            assert t.detach().numpy().tolist() == [0.5 * i]


_CLASS_CHANGE_RACE = """
import gc, sys, threading, time
import tapegrad as tg

# a collection now runs Python code (as hypothesis's GC callback does), so it lets another
# thread run wherever the interpreter allocates
gc.callbacks.append(lambda phase, info: time.sleep(0))
gc.set_threshold(20)
sys.setswitchinterval(1e-6)


def race(results, read):
    def body():
        for t in results:
            read(t)

    threads = [threading.Thread(target=body) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


p = tg.tensor([0.5], requires_grad=True)
q = tg.tensor(0.5, requires_grad=True)
for _ in range(8):
    ones = [p * float(i) for i in range(4000)]  # one-float results: .shape makes their array
    race(ones, lambda t: t.shape)
    assert [t.detach().numpy().tolist() for t in ones] == [[0.5 * i] for i in range(4000)]
    zeros = [q * float(i) for i in range(4000)]  # 0-d results: .numpy() makes theirs
    race(zeros, lambda t: t.numpy())
    assert [float(t) for t in zeros] == [0.5 * i for i in range(4000)]
print("ok")
"""


def test_threads_making_one_results_array_at_once_do_not_crash():
    """Several threads reading a fresh one-element result at once each change its class (it
    becomes a plain Tensor once its array is made).  CPython 3.11's class store can run other
    threads midway when a GC callback is installed; it must not release the old class twice
    (which froze the interpreter or segfaulted).  In a child process: a crash fails the test,
    not the suite."""
    import subprocess

    env = dict(os.environ, PYTHONPATH=os.path.dirname(TAPEGRAD_DIR))
    for _ in range(2):
        run = subprocess.run([sys.executable, "-c", _CLASS_CHANGE_RACE], env=env,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


# ============================================================== concurrent accumulation


def test_threads_backpropagating_into_one_large_leaf_lose_nothing(fine_switching):
    """(NumPy's add into the shared .grad lets other threads run: two at once lost updates)"""
    size, rounds, n = 400_000, 8, 8
    x = tg.tensor(np.zeros(size), requires_grad=True)

    def body(i):
        for _ in range(rounds):
            (x * float(i + 1)).sum().backward()

    _run_threads(n, body)
    np.testing.assert_array_equal(x.grad.numpy(), np.full(size, rounds * n * (n + 1) / 2))


def test_threads_delivering_a_small_leafs_first_gradient_at_once_lose_nothing(fine_switching):
    """Each round, eight threads backpropagate into a fresh leaf at once: each may find its
    ``.grad`` still None (the first gradient is stored, not added)."""
    rounds, n = 150, 8
    barrier = threading.Barrier(n)
    leaves = [tg.tensor(np.zeros(3), requires_grad=True) for _ in range(rounds)]

    def body(i):
        for x in leaves:
            y = (x * float(i + 1)).sum()
            barrier.wait()
            y.backward()

    _run_threads(n, body)
    for x in leaves:
        np.testing.assert_array_equal(x.grad.numpy(), np.full(3, n * (n + 1) / 2))


# ============================================================== a lent gradient buffer


def test_a_lent_gradient_outlives_its_tensor_through_a_numpy_view():
    """A large leaf's first ``.grad`` is a slice of the backward's workspace (no copy).  A view
    of it kept after the tensor is dropped must keep its values through later backwards."""
    n = 1 << 15
    x = tg.tensor(np.ones(n), requires_grad=True)
    (x * 2.0).sum().backward()
    kept = x.grad.numpy()[1:]  # a view of the lent slice; the .grad tensor itself is dropped
    x.grad = None
    for k in range(3, 6):
        (x * float(k)).sum().backward()
        assert x.grad.numpy()[0] == k
        x.grad = None
    np.testing.assert_array_equal(kept, np.full(n - 1, 2.0))


def test_a_dropped_lent_gradient_gives_its_buffer_back():
    """(The buffer is reused once nothing views it: a training loop does not page-fault a
    fresh one each step.)"""
    n = 1 << 15
    x = tg.tensor(np.ones(n), requires_grad=True)
    addresses = set()
    for k in range(4):
        (x * float(k)).sum().backward()
        addresses.add(x.grad.numpy().__array_interface__["data"][0])
        x.grad = None
    assert len(addresses) == 1
