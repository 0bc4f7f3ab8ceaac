"""The backward kernel runs from its own object file, without importing numba (kernels/native.py).

Each case runs a fresh interpreter: what is being tested is what a new process imports and
loads.  ``TAPEGRAD_CACHE_DIR`` points the object file at a temporary folder; numba's own cache is
left where it is (warm by the time these run, so the numba route costs seconds, not a compile).
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tapegrad.kernels import native

# the seed tutorial's chain: out = mean(3 (x + 2)^2) over a 2x2 of ones, d out/dx = 1.5 (x + 2)
PROGRAM = textwrap.dedent("""
    import json, sys
    import tapegrad as tg
    after_import = "numba" in sys.modules
    x = tg.ones(2, 2, requires_grad=True)
    out = ((x + 2) * (x + 2) * 3).mean()
    out.backward()
    report = {"numba_after_import": after_import, "numba_after_backward": "numba" in sys.modules,
              "grad": x.grad.tolist()}
    if len(sys.argv) > 1:  # then numba's own route, in the same process
        f = tg.compile(lambda v: (v.exp() * v).sum(), tg.ones(3))
        report["compiled"] = f.gradient(tg.ones(3)).tolist()
    print(json.dumps(report))
""")


def _run(cache_dir, *args) -> dict:
    env = {**os.environ, "TAPEGRAD_CACHE_DIR": str(cache_dir)}
    proc = subprocess.run([sys.executable, "-c", PROGRAM, *args], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def warm_dir(tmp_path_factory):
    """A cache folder holding the object file, written by a first process."""
    folder = tmp_path_factory.mktemp("native")
    first = _run(folder)
    assert first["grad"] == [[4.5, 4.5], [4.5, 4.5]]
    assert list(folder.glob("backward-*.o")), "the first process wrote no object file"
    return folder


def test_import_does_not_import_numba(warm_dir):
    assert not _run(warm_dir)["numba_after_import"]


def test_backward_from_the_object_file_needs_no_numba(warm_dir):
    report = _run(warm_dir)
    assert report["grad"] == [[4.5, 4.5], [4.5, 4.5]]
    assert not report["numba_after_backward"]


def test_numba_imported_afterwards_still_works(warm_dir):
    """Loading numba's C runtime on our own must not upset numba loading it later."""
    report = _run(warm_dir, "compile")
    assert not report["numba_after_backward"]
    e = 2.718281828459045
    assert report["compiled"] == pytest.approx([2 * e] * 3, rel=1e-15)


def test_a_damaged_object_file_falls_back_to_numba_and_is_rewritten(tmp_path):
    first = _run(tmp_path)
    (path,) = tmp_path.glob("backward-*.o")
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    report = _run(tmp_path)
    assert report["grad"] == [[4.5, 4.5], [4.5, 4.5]] == first["grad"]
    assert report["numba_after_backward"]
    assert path.stat().st_size > 1000
    assert not _run(tmp_path)["numba_after_backward"]


def test_the_file_name_changes_with_the_kernel_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("TAPEGRAD_CACHE_DIR", str(tmp_path))
    before = native.object_path()
    monkeypatch.setattr(native, "_HERE", tmp_path)  # a kernels folder with other sources
    (tmp_path / "sweep.py").write_text("# changed\n")
    assert native.object_path() != before
    assert native.object_path().parent == tmp_path


def test_a_read_only_install_uses_the_user_cache_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("TAPEGRAD_CACHE_DIR", raising=False)
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert native.cache_dir() == native._HERE / "__pycache__"  # (writable here)
    monkeypatch.setattr(native.os, "access", lambda path, mode: False)  # as for a non-root
    # user of a system-wide install (this test may run as root, who can write anywhere)
    assert native.cache_dir() == tmp_path / "tapegrad"


def test_every_symbol_the_kernel_needs_is_checked_before_linking(warm_dir, monkeypatch):
    """LLVM aborts the process on an unresolvable symbol: the loader must refuse first."""
    (path,) = warm_dir.glob("backward-*.o")
    data = path.read_bytes()
    at = len(native._MAGIC)
    n = int.from_bytes(data[at:at + 4], "little")
    needed = native._undefined_symbols(data[at + 36 + n:])
    assert "NRT_MemInfo_alloc_aligned" in needed or "memset" in needed, needed
    with pytest.raises(ValueError):
        native._undefined_symbols(b"\xcf\xfa\xed\xfe" + bytes(60))  # Mach-O: not taken
    monkeypatch.setattr(native, "_undefined_symbols", lambda code: ["tapegrad_no_such_symbol"])
    with pytest.raises(RuntimeError, match="tapegrad_no_such_symbol"):
        native._load(path)
