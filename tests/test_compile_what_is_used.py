"""Compile what is used (issue 17): each op's kernels are compiled -- or loaded -- the first time a
tape needs them; never a silent freeze; a warm-up command; a cache that is safe to share and lose.

The sweep reports a VJP missing from the table (``abi.MISSING``) before touching its record and
is resumed there: the in-process cases empty the table and check the gradients that come out
against closed forms.  The fresh-process cases start from an empty cache folder (a new
virtualenv, a CI run), which costs them a compile of the core kernels each.
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import engine
from tapegrad.kernels import jit, native, optable
from tapegrad.ops import BY_KEY, OPS

ROOT = Path(tg.__file__).resolve().parent.parent


@pytest.fixture
def empty_table():
    """Every VJP address forgotten: the next backward finds each one missing (they come back
    from the cache, warm by now)."""
    saved = optable.VJP.copy()
    optable.VJP[:] = 0
    yield
    missing = optable.VJP == 0
    optable.VJP[missing] = saved[missing]


def test_a_sweep_resumes_where_an_op_was_missing(empty_table):
    x = tg.tensor(np.linspace(-1.0, 1.0, 100), requires_grad=True)
    y = tg.tensor(np.linspace(0.5, 2.0, 100), requires_grad=True)
    ((x.exp() * y).sin()).sum().backward()
    u = np.exp(x.detach().numpy()) * y.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.cos(u) * u, rtol=1e-14)
    np.testing.assert_allclose(y.grad.numpy(), np.cos(u) * u / y.detach().numpy(), rtol=1e-14)
    for key in ("sum", "sin", "mul", "exp"):
        assert optable.VJP[BY_KEY[key].code] != 0, key


def test_resuming_keeps_the_graph_when_retained_and_gradients_accumulate(empty_table):
    x = tg.tensor(np.linspace(0.1, 2.0, 64), requires_grad=True)
    h = x.log()
    h.retain_grad()
    out = (h * h).mean()
    out.backward(retain_graph=True)
    optable.VJP[:] = 0  # (missing again: the second sweep resumes as well)
    out.backward()
    v = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * np.log(v) / v / v.size), rtol=1e-13)
    np.testing.assert_allclose(h.grad.numpy(), 2 * (2 * np.log(v) / v.size), rtol=1e-13)


def test_resuming_on_a_large_tape_whose_values_are_packed(empty_table):
    """A tape beyond ``engine.IN_PLACE_MAX`` elements: the packed route resumes too."""
    n = engine.IN_PLACE_MAX + 10
    x = tg.tensor(np.linspace(-2.0, 2.0, n), requires_grad=True)
    (x.cos() * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -3.0 * np.sin(x.detach().numpy()), rtol=1e-14)


def test_resuming_beside_a_blas_hand_off(empty_table):
    rng = np.random.default_rng(0)
    a = tg.tensor(rng.standard_normal((64, 64)), requires_grad=True)
    b = tg.tensor(rng.standard_normal((64, 64)), requires_grad=True)
    ((a @ b).sigmoid() * 2.0).sum().backward()
    s = 1 / (1 + np.exp(-(a.detach().numpy() @ b.detach().numpy())))
    g = 2.0 * s * (1 - s)
    # (sums of 64 products, in whatever order BLAS blocks them: exact to rounding at their scale)
    ga, gb = g @ b.detach().numpy().T, a.detach().numpy().T @ g
    np.testing.assert_allclose(a.grad.numpy(), ga, rtol=0, atol=1e-13 * np.abs(ga).max())
    np.testing.assert_allclose(b.grad.numpy(), gb, rtol=0, atol=1e-13 * np.abs(gb).max())


def test_threads_missing_the_same_ops_at_once(empty_table):
    results, errors = [None] * 4, []

    def work(k):
        try:
            x = tg.tensor(np.linspace(0.0, 1.0, 50) + k, requires_grad=True)
            (x.tanh() * x).sum().backward()
            results[k] = x.grad.numpy()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k, g in enumerate(results):
        v = np.linspace(0.0, 1.0, 50) + k
        np.testing.assert_allclose(g, np.tanh(v) + v * (1 - np.tanh(v) ** 2), rtol=1e-14)


def test_the_ops_a_tape_calls_through_the_table():
    """Small elementwise records of the inline ops run inline; everything else is called."""
    small = tg.ones(2, 2, requires_grad=True)
    out = ((small + 2) * (small + 2) * 3).mean()
    tape = out._tape
    assert {OPS[c].key for c in optable.tape_vjps(tape.recs, tape.offs)} == {"mean"}
    out.backward()  # (the next graph goes on a tape of its own)
    big = tg.ones(40, requires_grad=True)
    tape = ((big + 2) * big.sin()).sum()._tape
    assert {OPS[c].key for c in optable.tape_vjps(tape.recs, tape.offs)} == {
        "add_scalar", "sin", "mul", "sum"}


# -- never a silent freeze ----------------------------------------------------------------------


@pytest.fixture
def fresh_announcement(monkeypatch):
    monkeypatch.setattr(jit, "_announced", threading.Event())
    monkeypatch.setattr(jit, "ANNOUNCE_AFTER", 0.05)
    monkeypatch.delenv("TAPEGRAD_QUIET", raising=False)


def test_a_long_compile_is_announced_once(fresh_announcement, capsys):
    stop = threading.Event()
    with jit.compiling("the things", "/some/folder"):
        stop.wait(0.5)
    with jit.compiling("other things"):
        stop.wait(0.5)
    err = capsys.readouterr().err
    assert err.count("tapegrad: compiling") == 1, err
    assert "the things" in err and "/some/folder" in err and "TAPEGRAD_QUIET" in err
    assert "tapegrad.warmup" in err


def test_a_quick_load_says_nothing(fresh_announcement, capsys):
    with jit.compiling("the things"):
        pass
    threading.Event().wait(0.2)
    assert capsys.readouterr().err == ""


def test_tapegrad_quiet_silences_the_note(fresh_announcement, monkeypatch, capsys):
    monkeypatch.setenv("TAPEGRAD_QUIET", "1")
    with jit.compiling("the things"):
        threading.Event().wait(0.3)
    assert capsys.readouterr().err == ""


# -- fresh processes, empty caches ------------------------------------------------------------

PROGRAM = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tapegrad as tg
    from tapegrad.kernels import jit
    jit.ANNOUNCE_AFTER = 0.0  # (any compile is announced: what is tested is when, not how long)
    x = tg.ones(2, 2, requires_grad=True)
    ((x + 2) * (x + 2) * 3).mean().backward()
    report = {"seed": x.grad.tolist()}
    if "more" in sys.argv:  # other ops, on arrays too large to be swept inline
        v = np.linspace(0.1, 1.0, 40)
        y = tg.tensor(v, requires_grad=True)
        (y.exp() * y).sum().backward()
        report["more"] = bool(np.allclose(y.grad.numpy(), np.exp(v) * (1 + v), rtol=1e-14))
    report["numba"] = "numba" in sys.modules
    print(json.dumps(report))
""")


def _run(folder: Path, *args, env=None, timeout=900) -> tuple[dict, str]:
    environment = {k: v for k, v in os.environ.items() if k != "TAPEGRAD_QUIET"}
    environment.update({"TAPEGRAD_CACHE_DIR": str(folder / "tapegrad"),
                        "NUMBA_CACHE_DIR": str(folder / "numba"), **(env or {})})
    proc = subprocess.run([sys.executable, "-c", PROGRAM, *args], env=environment,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def _kernels(folder: Path) -> set[str]:
    return {p.name.rpartition("-")[0] for p in (folder / "tapegrad").glob("*.o")}


@pytest.fixture(scope="module")
def cold(tmp_path_factory):
    """A first process on an empty cache, then a second one using more ops."""
    folder = tmp_path_factory.mktemp("cold")
    first, first_err = _run(folder)
    after_first = _kernels(folder)
    second, second_err = _run(folder, "more")
    return folder, (first, first_err, after_first), (second, second_err)


def test_a_fresh_cache_compiles_only_the_kernels_a_program_uses(cold):
    folder, (first, _, after_first), (second, _) = cold
    assert first["seed"] == [[4.5, 4.5], [4.5, 4.5]]
    assert after_first == {"backward", "vjp-mean"}  # the small records ran inline
    assert second["seed"] == first["seed"] and second["more"]
    assert _kernels(folder) == after_first | {"vjp-exp", "vjp-mul", "vjp-sum"}


def test_a_compile_says_so_once_on_stderr(cold):
    folder, (_, first_err, _), (_, second_err) = cold
    for err in (first_err, second_err):  # (the second compiled the VJPs of its new ops)
        assert err.count("tapegrad: compiling") == 1, err
        assert f"cached in {folder / 'tapegrad'}" in err, err


def test_a_warm_cache_says_nothing_and_needs_no_numba(cold):
    folder = cold[0]
    report, err = _run(folder, "more")
    assert report["more"] and not report["numba"]
    assert err == ""


def test_two_processes_compiling_into_one_empty_cache_at_once(tmp_path):
    env = {**os.environ, "TAPEGRAD_CACHE_DIR": str(tmp_path / "tapegrad"),
           "NUMBA_CACHE_DIR": str(tmp_path / "numba"), "TAPEGRAD_QUIET": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", PROGRAM, "more"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        report = json.loads(out.strip().splitlines()[-1])
        assert report["seed"] == [[4.5, 4.5], [4.5, 4.5]] and report["more"]
        assert "compiling" not in err  # (TAPEGRAD_QUIET)
    report, _ = _run(tmp_path, "more", env={"TAPEGRAD_QUIET": "1"})  # what they left is sound
    assert report["more"] and not report["numba"]


def test_without_object_files_or_a_writable_cache_one_warning(tmp_path):
    """The route of platforms without ELF object files (numba's own cache only), where numba
    finds no folder it can write either: correct gradients, one warning."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    program = textwrap.dedent("""
        import json, warnings
        warnings.simplefilter("always")
        import numpy as np
        from tapegrad.kernels import native
        native.NATIVE = False
        import tapegrad as tg
        with warnings.catch_warnings(record=True) as caught:
            v = np.linspace(0.1, 1.0, 40)
            y = tg.tensor(v, requires_grad=True)
            (y.exp() * 2.0).sum().backward()
        print(json.dumps({"ok": bool(np.allclose(y.grad.numpy(), 2 * np.exp(v), rtol=1e-14)),
                          "warnings": [str(w.message) for w in caught]}))
    """)
    env = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator",
           "NUMBA_CACHE_DIR": str(blocker / "numba"),
           "TAPEGRAD_CACHE_DIR": str(blocker / "tapegrad"), "TAPEGRAD_QUIET": "1"}
    proc = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                          text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["ok"]
    assert len(report["warnings"]) == 1, report["warnings"]
    assert "without numba's disk cache" in report["warnings"][0]


def test_a_kernel_that_cannot_be_kept_warns_once(tmp_path, monkeypatch):
    """A failed save of an object file (a full disk, a read-only folder) costs later processes
    a compile, never this one its kernel: one warning, whatever the number of kernels."""
    from tapegrad import cachedir

    monkeypatch.setenv("TAPEGRAD_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(cachedir, "_warned", set())

    def no_room(path, entry):
        raise OSError(28, "No space left on device")

    class Entry:
        address = 4321

    monkeypatch.setattr(native, "_save", no_room)
    with pytest.warns(RuntimeWarning, match="could not keep") as record:
        for name in ("a.o", "b.o"):
            assert native._build(tmp_path / name, lambda d: Entry(), "") == 4321
    assert len([w for w in record if "could not keep" in str(w.message)]) == 1


def test_the_object_files_names_change_with_numpy(monkeypatch):
    before = native._key()
    native._key_of.cache_clear()
    monkeypatch.setattr(np, "__version__", np.__version__ + ".other")
    try:
        assert native._key() != before
    finally:
        native._key_of.cache_clear()


# -- the warm-up command ------------------------------------------------------------------------


def test_warmup_covers_every_kernel():
    from tapegrad import warmup

    names = [what for what, _ in warmup.steps()]
    assert names[0] == "backward sweep"
    for op in OPS:
        assert f"vjp of {op.key}" in names and f"fwd of {op.key}" in names
    assert "tg.compile's replay" in names and "tg.compile's batch gradients" in names


def test_warmup_draws_a_progress_bar(monkeypatch):
    import io

    from tapegrad import warmup

    done = []
    monkeypatch.setattr(warmup, "steps", lambda: [("one", lambda: done.append(1)),
                                                  ("two", lambda: done.append(2))])
    out = io.StringIO()
    warmup.run(out)
    text = out.getvalue()
    assert done == [1, 2]
    assert "0/2 one" in text and "1/2 two" in text and "2/2 done" in text
    assert "[" + "#" * warmup.WIDTH + "]" in text


def test_warmup_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "tapegrad.warmup", "--help"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0 and "ahead of time" in proc.stdout
