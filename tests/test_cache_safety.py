"""Compiled code kept in memory and on disk: bounded, never blocking, never untrusted.

* ``tg.compile`` of a fusable function in a loop: numba never frees a compiled function, so
  identical tapes must share one kernel and distinct ones must stop compiling at a budget
  (``codegen.MAX_KERNELS``);
* a cache entry that is not a regular file (a FIFO) must not hang the process;
* no writable cache folder (a read-only install with a read-only home) runs uncached, with one
  warning, instead of raising ``cannot cache function`` on every call;
* a cache folder or file that another user could have written is not run from.

Cases that need a fresh process run one, with a timeout, so that a hang fails instead of
hanging the suite.  None of them compiles the eager backward kernel or the replay kernel into
an empty cache: they use small functions, or the kernels' caches as the suite leaves them.
"""

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import cachedir, codegen
from tapegrad.kernels import native

PACKAGE = Path(tg.__file__).resolve().parent
IS_ROOT = os.geteuid() == 0


def _python(program: str, env: dict | None = None, timeout: float = 600) -> dict:
    """Run ``program`` in a fresh interpreter; its last line of output is JSON."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(program)],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(autouse=True)
def fresh_trust_state():
    """Each case judges folders anew and sees its own warnings."""
    cachedir.untrusted.cache_clear()
    cachedir._warned.clear()
    yield
    cachedir.untrusted.cache_clear()
    cachedir._warned.clear()


# -- item 18: compiled kernels in a loop ------------------------------------------------------

def test_compiling_the_same_function_again_reuses_its_kernel():
    def f(v):
        return (v * v.sin() + 1.5).sum()

    x = np.linspace(0.1, 1.0, 7)
    first = tg.compile(f, x)
    again = tg.compile(lambda v: (v * v.sin() + 1.5).sum(), x)  # another function, same tape
    assert first._fused is not None and again._fused is not None
    assert again._fused.kernel is first._fused.kernel
    np.testing.assert_allclose(again.gradient(x), np.sin(x) + x * np.cos(x), rtol=1e-14)
    other_size = tg.compile(f, np.linspace(0.1, 1.0, 8))  # the size is in the source
    assert other_size._fused.kernel is not first._fused.kernel


LOOP = """
    import gc, json, sys
    import numpy as np, psutil
    import tapegrad as tg
    from tapegrad import codegen

    codegen.MAX_KERNELS = {budget}
    proc = psutil.Process()
    x = np.linspace(0.1, 1.0, 5)

    def step(k):
        c = {constant}
        tape = tg.compile(lambda v: (v * c + v.exp()).sum(), x)
        g = tape.gradient(x)
        assert np.allclose(g, c + np.exp(x), rtol=1e-14, atol=0), (k, g)

    for k in range(12):  # the first compiles (and, past the budget, the interpreter) warm up
        step(k)
    gc.collect()
    before = proc.memory_info().rss
    n = {n}
    for k in range(12, 12 + n):
        step(k)
    gc.collect()
    print(json.dumps({{"per_compile": (proc.memory_info().rss - before) / n,
                      "kernels": len(getattr(codegen, "_KERNELS", ()))}}))
"""

#: numba keeps ~1.3 MB per compiled kernel for good; a loop that reuses or no longer compiles
#: kernels grows by far less than that per iteration (the bound is generous on purpose)
GROWTH_PER_COMPILE = 256 * 1024


def test_compiling_the_same_function_in_a_loop_keeps_memory_flat():
    report = _python(LOOP.format(budget=64, constant="2.5", n=60))
    assert report["per_compile"] < GROWTH_PER_COMPILE, report
    assert report["kernels"] == 1


def test_compiling_ever_different_functions_in_a_loop_keeps_memory_bounded():
    """A constant that changes per iteration is baked into each fused source: past the
    budget, tapes replay with the interpreter (correctly) instead of compiling more code."""
    report = _python(LOOP.format(budget=6, constant="0.25 + k", n=40))
    assert report["per_compile"] < GROWTH_PER_COMPILE, report
    assert report["kernels"] == 6


def test_the_kernel_budget_warns_once_and_falls_back_to_the_interpreter(monkeypatch):
    monkeypatch.setattr(codegen, "MAX_KERNELS", len(codegen._KERNELS))
    x = np.linspace(0.1, 1.0, 5)
    with pytest.warns(RuntimeWarning, match="MAX_KERNELS") as record:
        tapes = [tg.compile(lambda v, c=c: (v * c - v.cos()).sum(), x) for c in (7.25, 8.25)]
    assert len([w for w in record if "MAX_KERNELS" in str(w.message)]) == 1
    for tape, c in zip(tapes, (7.25, 8.25), strict=True):
        assert tape._fused is None
        np.testing.assert_allclose(tape.gradient(x), c + np.sin(x), rtol=1e-14)


# -- item 21 (a): only regular files are opened -------------------------------------------------

EAGER = """
    import json, os, sys, warnings
    warnings.simplefilter("always")
    import tapegrad as tg
    with warnings.catch_warnings(record=True) as caught:
        x = tg.ones(2, 2, requires_grad=True)
        ((x + 2) * (x + 2) * 3).mean().backward()
    print(json.dumps({"grad": x.grad.tolist(), "numba": "numba" in sys.modules,
                      "warnings": [str(w.message) for w in caught]}))
"""


def _object_name(monkeypatch, folder) -> str:
    monkeypatch.setenv("TAPEGRAD_CACHE_DIR", str(folder))
    return f"backward-{native._key()}.o"  # (as object_path(), without judging the folder)


def test_a_fifo_under_the_kernels_name_does_not_hang(tmp_path, monkeypatch):
    fifo = tmp_path / _object_name(monkeypatch, tmp_path)
    os.mkfifo(fifo)
    report = _python(EAGER, {"TAPEGRAD_CACHE_DIR": str(tmp_path)}, timeout=300)
    assert report["grad"] == [[4.5, 4.5], [4.5, 4.5]]
    assert any("not a regular file" in w for w in report["warnings"]), report["warnings"]
    assert stat.S_ISREG(os.lstat(fifo).st_mode)  # the numba route wrote the kernel in its place


@pytest.mark.parametrize("kind", ["fifo", "symlink", "folder"])
def test_only_regular_files_are_read(tmp_path, kind):
    path = tmp_path / "entry.o"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink":
        (tmp_path / "real.o").write_bytes(b"code")
        path.symlink_to(tmp_path / "real.o")
    else:
        path.mkdir()
    with pytest.raises(PermissionError, match="not a regular file"):
        cachedir.read_trusted(path)
    assert cachedir.read_trusted(tmp_path / "absent.o") is None


def test_a_fifo_in_numbas_cache_does_not_hang(tmp_path):
    """numba opens its cache index without looking at what it is: tapegrad looks first."""
    report = _python("""
        import json, os, warnings
        warnings.simplefilter("always")
        import numpy as np
        import tapegrad as tg
        from tapegrad import codegen
        from numba.core.caching import FunctionCache

        index = FunctionCache(codegen.block_sum.py_func)._cache_file._index_path
        os.makedirs(os.path.dirname(index), exist_ok=True)
        os.mkfifo(index)
        x = np.linspace(0.1, 1.0, 2 * codegen.BLOCK)  # blocked: the fused loop calls block_sum
        with warnings.catch_warnings(record=True) as caught:
            g = tg.compile(lambda v: (v * v).sum(), x).gradient(x)
        print(json.dumps({"ok": bool(np.allclose(g, 2 * x, rtol=1e-14, atol=0)),
                          "warnings": [str(w.message) for w in caught]}))
    """, {"NUMBA_CACHE_DIR": str(tmp_path)}, timeout=300)
    assert report["ok"]
    assert any("not a regular file" in w for w in report["warnings"]), report["warnings"]


# -- item 21 (b): no writable cache folder ------------------------------------------------------

def test_every_cached_numba_function_goes_through_jit_cached():
    """numba's own ``cache=True`` raises when no folder is writable and trusts any folder:
    every cached kernel is made by ``jit.cached`` (or ``@jit(cache=True)``, which calls it)."""
    direct = re.compile(r"\b(njit|cfunc|numba\.jit)\([^)]*\bcache\s*=\s*True")
    offenders = [f"{path.relative_to(PACKAGE)}:{n}"
                 for path in sorted(PACKAGE.rglob("*.py"))
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if direct.search(line)]
    assert not offenders


def test_without_a_writable_cache_folder_kernels_compile_uncached(tmp_path):
    """As a read-only install with a read-only home: numba finds no folder it can write
    (a path below a regular file cannot be created, even by root)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    report = _python("""
        import json, warnings
        warnings.simplefilter("always")
        import numpy as np
        import tapegrad as tg

        x = np.linspace(0.1, 1.0, 5)
        with warnings.catch_warnings(record=True) as caught:
            tape = tg.compile(lambda v: (v * v.exp()).sum(), x)
            g = tape.gradient(x)
            # the interpreter's kernels are made when this module is imported (compiling
            # them uncached here would take minutes: importing is what used to raise)
            import tapegrad.kernels._dispatch
        print(json.dumps({"fused": tape._fused is not None,
                          "ok": bool(np.allclose(g, (1 + x) * np.exp(x), rtol=1e-14, atol=0)),
                          "warnings": [str(w.message) for w in caught]}))
    """, {"NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator",
          "NUMBA_CACHE_DIR": str(blocker / "numba"),
          "TAPEGRAD_CACHE_DIR": str(blocker / "tapegrad")}, timeout=600)
    assert report["ok"] and report["fused"], report
    assert len(report["warnings"]) == 1, report["warnings"]  # once per process, not per kernel
    assert "without numba's disk cache" in report["warnings"][0]


def test_the_warning_shows_when_a_kernel_module_imported_on_first_use_gives_it(tmp_path):
    """``_dispatch`` makes its kernels as it is imported: the warning is raised from inside
    importlib's frames, and must still be attributed outside tapegrad (whose RuntimeWarnings
    ``import tapegrad`` ignores)."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    report = _python("""
        import json, warnings
        warnings.simplefilter("always")
        import tapegrad
        with warnings.catch_warnings(record=True) as caught:
            import tapegrad.kernels._dispatch
        print(json.dumps([str(w.message) for w in caught]))
    """, {"NUMBA_CACHE_LOCATOR_CLASSES": "UserProvidedCacheLocator",
          "NUMBA_CACHE_DIR": str(blocker / "numba")}, timeout=300)
    assert len(report) == 1 and "without numba's disk cache" in report[0], report


def _eager_backward():
    x = tg.ones(3, requires_grad=True)
    (x * x).sum().backward()
    return x.grad.tolist()


def test_a_read_only_install_runs_the_kernel_it_was_built_with(tmp_path, monkeypatch):
    """An image built by running tapegrad once holds the object file beside the package; run
    read-only (no writable folder for this user), the file is linked, not rebuilt."""
    for name in ("TAPEGRAD_CACHE_DIR", "NUMBA_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _eager_backward() == [2.0, 2.0, 2.0]  # (this process's kernel, from any route)
    built = PACKAGE / "kernels" / "__pycache__" / native.object_path().name
    if not built.exists():  # (this process loaded its kernel from another folder)
        from tapegrad.kernels._dispatch import backward_entry

        native._save(built, backward_entry())
    monkeypatch.setattr(native.os, "access", lambda path, mode: False)  # a read-only install
    loaded = []
    monkeypatch.setattr(native, "_load", lambda path, data=None: loaded.append(path) or 1234)

    def no_numba(path, make, what):
        raise AssertionError("took the numba route, which cannot cache here")

    monkeypatch.setattr(native, "_build", no_numba)
    assert native.kernel_address("backward", None, "") == 1234
    assert loaded == [built]
    assert native.cache_dir() == tmp_path / "tapegrad"  # where it would write, could it


def test_a_damaged_file_in_the_read_only_folder_does_not_shadow_a_good_one(tmp_path,
                                                                           monkeypatch):
    for name in ("TAPEGRAD_CACHE_DIR", "NUMBA_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(native, "_HERE", tmp_path / "package")
    name = f"backward-{native._key()}.o"
    (tmp_path / "package" / "__pycache__").mkdir(parents=True)
    (tmp_path / "package" / "__pycache__" / name).write_bytes(b"damaged")
    (tmp_path / "tapegrad").mkdir()
    (tmp_path / "tapegrad" / name).write_bytes(b"good")
    loaded = []

    def load(path, data=None):
        loaded.append(data)
        if data != b"good":
            raise ValueError("damaged")
        return 1234

    monkeypatch.setattr(native, "_load", load)
    assert native.kernel_address("backward", None, "") == 1234
    assert loaded == [b"damaged", b"good"]


# -- item 21 (c): folders and files other users can write ---------------------------------------

def test_folders_others_can_write_are_untrusted(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o755)
    os.chmod(mine, 0o755)
    assert cachedir.untrusted(str(mine)) is None
    assert cachedir.untrusted(str(mine / "not" / "made" / "yet")) is None
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    assert "writable by every user" in cachedir.untrusted(str(shared))
    # below it, even a folder of one's own: whoever can write the parent can swap it
    (shared / "inner").mkdir(mode=0o700)
    assert "writable by every user" in cachedir.untrusted(str(shared / "inner"))
    assert "writable by every user" in cachedir.untrusted(str(shared / "to" / "be" / "made"))
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)  # as /tmp: others add entries but cannot replace ours
    assert cachedir.untrusted(str(sticky)) is None
    link = tmp_path / "link"
    link.symlink_to(shared)
    assert cachedir.untrusted(str(link)) is not None  # judged by where it leads


@pytest.mark.skipif(not IS_ROOT, reason="needs root to give a folder to another user")
def test_a_folder_owned_by_another_user_is_untrusted(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 4321, 4321)
    assert "owned by another user" in cachedir.untrusted(str(theirs))


def test_files_others_can_write_or_own_are_not_read(tmp_path):
    path = tmp_path / "kernel.o"
    path.write_bytes(b"code")
    os.chmod(path, 0o644)
    assert cachedir.read_trusted(path) == b"code"
    os.chmod(path, 0o666)
    with pytest.raises(PermissionError, match="writable by every user"):
        cachedir.read_trusted(path)
    if IS_ROOT:
        os.chmod(path, 0o644)
        os.chown(path, 4321, 4321)
        with pytest.raises(PermissionError, match="owned by another user"):
            cachedir.read_trusted(path)


def test_the_kernel_is_not_run_from_a_folder_others_can_write(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    name = _object_name(monkeypatch, shared)
    (shared / name).write_bytes(b"planted")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    loaded = []
    monkeypatch.setattr(native, "_load", lambda path, data=None: loaded.append(path) or 1234)
    monkeypatch.setattr(native, "_build", lambda path, make, what: loaded.append(path) or 1234)
    with pytest.warns(RuntimeWarning, match="writable by every user"):
        assert native.kernel_address("backward", None, "") == 1234
    assert loaded and all(path.parent != shared for path in loaded)
    assert shared not in native.places()


def test_a_planted_kernel_file_in_a_sticky_folder_is_not_run(tmp_path, monkeypatch):
    if not IS_ROOT:
        pytest.skip("needs root to plant a file as another user")
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    name = _object_name(monkeypatch, sticky)
    (sticky / name).write_bytes(b"planted")
    os.chown(sticky / name, 4321, 4321)
    monkeypatch.setattr(native, "_load", lambda path, data=None: pytest.fail(f"ran {path}"))
    monkeypatch.setattr(native, "_build", lambda path, make, what: 4321)  # the numba route
    with pytest.warns(RuntimeWarning, match="owned by another user"):
        assert native.kernel_address("backward", None, "") == 4321


def test_numbas_cache_is_not_used_in_a_folder_others_can_write(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    report = _python("""
        import json, warnings
        warnings.simplefilter("always")
        import numpy as np
        import tapegrad as tg

        x = np.linspace(0.1, 1.0, 5)
        with warnings.catch_warnings(record=True) as caught:
            g = tg.compile(lambda v: (v * v.exp()).sum(), x).gradient(x)
        print(json.dumps({"ok": bool(np.allclose(g, (1 + x) * np.exp(x), rtol=1e-14, atol=0)),
                          "warnings": [str(w.message) for w in caught]}))
    """, {"NUMBA_CACHE_DIR": str(shared)}, timeout=600)
    assert report["ok"]
    assert any("writable by every user" in w for w in report["warnings"]), report["warnings"]
    written = [p for p in shared.rglob("*") if p.suffix in (".nbi", ".nbc")]
    assert not written  # numba neither read nor wrote machine code there


def test_folders_the_cache_creates_are_writable_by_their_owner_only(tmp_path):
    old = os.umask(0o002)  # as on distributions with user-private groups
    try:
        cachedir.make_folder(tmp_path / "a" / "b")
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(os.stat(folder).st_mode) & 0o022 == 0
    assert cachedir.untrusted(str(tmp_path / "a" / "b")) is None


def test_warnings_are_given_once_per_process_and_are_not_filtered_out():
    """``import tapegrad`` ignores RuntimeWarnings raised in its modules (NumPy's, for inf and
    nan): these are attributed to the caller, so that the default filters show them."""
    program = """
        import json, warnings
        import tapegrad
        from tapegrad import cachedir
        with warnings.catch_warnings(record=True) as caught:
            for _ in range(3):
                cachedir.warn_once("tapegrad: a problem")
        print(json.dumps([str(w.message) for w in caught]))
    """
    assert _python(program, timeout=120) == ["tapegrad: a problem"]


def test_numba_cache_entries_must_be_regular_and_this_users(tmp_path):
    """In a sticky folder (as ``/tmp``) others can add files: one planted under a cached
    function's name is refused, as is one that others can write."""
    prefix = "codegen.block_sum-1.py311"
    assert cachedir.regular_entries_only(str(tmp_path), prefix) is None
    (tmp_path / "other.nbi").write_bytes(b"")
    os.chmod(tmp_path / "other.nbi", 0o666)  # another function's: not this one's concern
    entry = tmp_path / f"{prefix}.nbi"
    entry.write_bytes(b"index")
    os.chmod(entry, 0o644)
    assert cachedir.regular_entries_only(str(tmp_path), prefix) is None
    os.chmod(entry, 0o666)
    assert "writable by every user" in cachedir.regular_entries_only(str(tmp_path), prefix)
    if IS_ROOT:
        os.chmod(entry, 0o644)
        os.chown(entry, 4321, 4321)
        assert "owned by another user" in cachedir.regular_entries_only(str(tmp_path), prefix)
    entry.unlink()
    os.mkfifo(entry)
    assert "not a regular file" in cachedir.regular_entries_only(str(tmp_path), prefix)
