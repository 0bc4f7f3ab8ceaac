"""The kernels' machine code, kept on disk and loaded without importing numba.

numba compiles the eager backward kernel (``_dispatch.backward_entry``, a C callback of one
frame address, see ``abi.py``) and each op's kernels (``_dispatch.op_kernel``, see
``optable.py``) once, and caches them; but *loading* anything from numba's cache means importing
numba and setting up its compiler (~0.3 s), the larger part of a fresh process's
import-plus-first-gradient.  So the process that compiles a kernel also writes its object code to
a file of its own, and every later process links that file with llvmlite (~10 ms for the first,
less for each further one) and calls it by address: numba is never imported by an eager program.

The object code refers to a few C functions of numba's runtime (allocation, error reporting),
which live in two of numba's C extension modules; those are loaded on their own, without the
``numba`` package.  Anything unexpected while loading (a changed numba, a missing symbol, a
damaged file) falls back to numba itself.  The file names hash everything the code depends on:
the kernel sources, numba's and llvmlite's builds, NumPy's and Python's versions and this CPU.
The files are machine code this process runs: each is read only from a folder no other user can
write, and only if it is a regular file (``tapegrad/cachedir.py``).  Object files are ELF here:
on other platforms (macOS, Windows) the kernels are always numba's, from numba's own cache.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import importlib.machinery
import importlib.util
import os
import struct
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .. import cachedir

_HERE = Path(__file__).resolve().parent
_MAGIC = b"tapegrad-kernel-3\n"  # then the name, a SHA-256 and the object code

#: the backward kernel's C signature: ``int64 backward(int64 *frame)``
_SIGNATURE = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p)

#: whether object files are written and linked here: numba makes ELF objects on Linux and the
#: BSDs, which ``_undefined_symbols`` can check before LLVM links them.  ``TAPEGRAD_NATIVE=0``
#: takes the numba route everywhere (CI runs the backward path's tests so too)
NATIVE = sys.platform.startswith(("linux", "freebsd")) and \
    os.environ.get("TAPEGRAD_NATIVE") != "0"

_engines: list = []  # llvmlite execution engines: the loaded code lives as long as they do


def backward_kernel() -> Callable[[int], int]:
    """The eager backward kernel, callable with a frame's address; loaded from an object file
    when a trusted one matches, else made (and its file written) through numba."""
    address = kernel_address("backward", lambda d: d.backward_entry(),
                             "the backward sweep (the core of every backward)")
    return _SIGNATURE(address)


def op_kernel(kind: str, code: int) -> int:
    """The address of op ``code``'s ``kind`` kernel ("vjp" or "fwd"; see ``optable.py``)."""
    return kernel_address(*op_kernel_parts(kind, code))


def op_kernel_parts(kind: str, code: int) -> tuple[str, Callable, str]:
    """``(stem, make, what)`` of op ``code``'s ``kind`` kernel, for :func:`kernel_address`."""
    from ..ops import OPS

    key = OPS[code].key
    return (f"{kind}-{key}", lambda d: d.op_kernel(kind, code),
            f"the {'VJP' if kind == 'vjp' else 'forward'} of {key}")


def kernel_address(stem: str, make: Callable, what: str) -> int:
    """The address of the kernel ``stem``: linked from its object file when a trusted one
    matches (:func:`find`), else ``make(_dispatch)`` (numba: compiled, or loaded from numba's
    cache), whose object file is then written for later processes."""
    address = find(stem)
    if address is not None:
        return address
    from .jit import compiling

    with compiling(what, cache_dir() if NATIVE else None):
        return build(stem, make, what)


def find(stem: str) -> int | None:
    """The address of the kernel ``stem`` linked from a trusted object file, or None."""
    if not NATIVE:
        return None
    name = f"{stem}-{_key()}.o"
    for folder in places():
        path = folder / name
        try:
            code = cachedir.read_trusted(path)  # (never blocks: a FIFO is refused unopened)
        except PermissionError as exc:
            cachedir.warn_once(f"tapegrad: not running the cached kernel {path.name}, "
                               f"because {exc} (see README, 'The cache folders')",
                               topic="cache")
            continue
        except OSError:
            continue
        if code is None:
            continue
        try:
            return _load(path, code)
        except Exception:  # noqa: BLE001 -- any failure here only costs the numba route
            pass
    return None


def build(stem: str, make: Callable, what: str) -> int:
    """The address of the kernel ``stem`` made through numba (:func:`kernel_address`)."""
    return _build(cache_dir() / f"{stem}-{_key()}.o" if NATIVE else None, make, what)


def object_path(stem: str = "backward") -> Path:
    """Where the object file of kernel ``stem`` for this installation, numba and CPU is
    written."""
    return cache_dir() / f"{stem}-{_key()}.o"


def cache_dir() -> Path:
    """The folder the object file is written to: the first of :func:`places` that this
    process can write (checked with ``os.access``: writing is tried anyway, and may fail)."""
    folders = places()
    for folder in folders:
        probe = folder
        while not probe.exists() and probe.parent != probe:
            probe = probe.parent
        if os.access(probe, os.W_OK):
            return folder
    return folders[-1] if folders else _HERE / "__pycache__"


def places() -> list[Path]:
    """The folders the object file may be in, in order: ``TAPEGRAD_CACHE_DIR``; else beside
    numba's own cache (``NUMBA_CACHE_DIR``, or the package's ``__pycache__``), so that clearing
    numba's cache clears this one too, then the user's cache folder (as numba does) -- for a
    read-only install, which may still hold a file written when it was built.  A folder that
    others can write is left out (see ``tapegrad/cachedir.py``), with one warning; if that
    leaves none, the defaults (package, user) stand in."""
    explicit = os.environ.get("TAPEGRAD_CACHE_DIR")
    numba_dir = os.environ.get("NUMBA_CACHE_DIR")
    user = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    defaults = [_HERE / "__pycache__", Path(user) / "tapegrad"]
    if explicit:
        chosen = [Path(explicit)]
    elif numba_dir:
        chosen = [Path(numba_dir) / "tapegrad"]
    else:
        chosen = defaults
    trusted = []
    for folder in chosen:
        reason = cachedir.untrusted(str(folder))
        if reason is None:
            trusted.append(folder)
        else:
            cachedir.warn_once(f"tapegrad: not using the cache folder {folder}, because "
                               f"{reason} (see README, 'The cache folders')", topic="cache")
    if trusted or chosen is defaults:
        return trusted
    return [folder for folder in defaults if cachedir.untrusted(str(folder)) is None]


def _key() -> str:
    """What the object files' names hash (computed once per process and kernel folder)."""
    return _key_of(_HERE)


@functools.cache
def _key_of(here: Path) -> str:
    import numpy

    digest = hashlib.sha256(sys.version.encode())
    digest.update(numpy.__version__.encode())
    for folder in (here, here.parent / "ops"):
        for path in sorted(folder.glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    for package, marker in (("numba", "_helperlib"), ("llvmlite", "binding")):
        spec = importlib.util.find_spec(package)  # (finds, does not import)
        if spec is None or spec.origin is None:
            raise ImportError(f"tapegrad needs {package}")
        folder = Path(spec.origin).parent
        for path in sorted(folder.glob(f"{marker}*")) + [Path(spec.origin)]:
            stat = path.stat()
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    import llvmlite.binding as ll

    digest.update(ll.get_process_triple().encode())
    digest.update(ll.get_host_cpu_name().encode())
    digest.update(ll.get_host_cpu_features().flatten().encode())
    return digest.hexdigest()[:20]


# -- the numba route -----------------------------------------------------------------------


def _build(path: Path | None, make: Callable, what: str) -> int:
    from . import _dispatch  # imports numba

    entry = make(_dispatch)  # compiled, or loaded from numba's cache
    if path is not None and path.parent in places():  # (not a folder refused for its permissions)
        try:
            _save(path, entry)
        except (OSError, ValueError, RuntimeError, AttributeError, TypeError) as exc:
            # a read-only install, or a numba whose internals differ: this process runs
            # numba's code, later ones take this route too
            cachedir.warn_once(f"tapegrad: could not keep the compiled kernels in "
                               f"{path.parent} ({type(exc).__name__}: {exc}); each process "
                               "compiles or loads them through numba, which is slower to start "
                               "(see README, 'The cache folders')", topic="cache")
    return entry.address


def _object_code(entry) -> bytes:
    """The callback's machine code, with everything it calls linked in."""
    try:
        return entry._library._get_compiled_object()  # compiled by this process
    except (ValueError, RuntimeError):
        pass
    # loaded from numba's cache, which hands the code to its linker and drops it: read the
    # cache entry again (``CompileResult._reduce``: library state first)
    cache = entry._cache
    key = cache._index_key(entry._sig, entry._targetdescr.target_context.codegen())
    _, kind, data = cache._cache_file.load(key)[0]
    if kind != "object":
        raise ValueError(f"numba cached the kernel as {kind!r}, not as object code")
    return data[0]


def _save(path: Path, entry) -> None:
    code = _object_code(entry)
    name = entry.native_name.encode()
    cachedir.make_folder(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".backward-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            # readable by every user, as an installed package is (an image built as root and
            # run as another user links it too); writable by its owner only (see cachedir.py)
            os.fchmod(f.fileno(), 0o644)
            f.write(_MAGIC + len(name).to_bytes(4, "little") + name
                    + hashlib.sha256(code).digest() + code)
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the new one
    except BaseException:
        os.unlink(tmp)
        raise


# -- the standalone route ------------------------------------------------------------------


def _load(path: Path, data: bytes | None = None) -> int:
    """Link the object file ``path`` (whose bytes are ``data``, read by the caller); the
    address of its kernel.  Each file gets an LLVM engine of its own: files written by
    different processes may use one internal symbol name for different functions."""
    if data is None:
        data = cachedir.read_trusted(path)
        if data is None:
            raise FileNotFoundError(path)
    if not data.startswith(_MAGIC):
        raise ValueError(f"{path} is not a tapegrad kernel")
    at = len(_MAGIC)
    n = int.from_bytes(data[at:at + 4], "little")
    name = data[at + 4:at + 4 + n].decode()
    checksum, code = data[at + 4 + n:at + 36 + n], data[at + 36 + n:]
    if hashlib.sha256(code).digest() != checksum:  # LLVM would crash on a damaged object
        raise ValueError(f"{path} is damaged")

    import llvmlite.binding as ll

    _register_runtime_symbols(ll)
    # LLVM aborts the whole process on a symbol it cannot resolve (say, SVML's, when numba
    # compiled with intel-cmplr-lib-rt installed): check every one first
    process = ctypes.CDLL(None)
    for symbol in _undefined_symbols(code):
        if ll.address_of_symbol(symbol) is None and not _defined_in(process, symbol):
            raise RuntimeError(f"{path} needs {symbol}, which this process does not define")
    engine = ll.create_mcjit_compiler(ll.parse_assembly(""), _target_machine())
    engine.add_object_file(ll.ObjectFileRef.from_data(code))
    engine.finalize_object()
    address = engine.get_function_address(name)
    if not address:
        raise RuntimeError(f"{name} is not defined in {path}")
    _engines.append(engine)
    return address


@functools.cache
def _target_machine():
    import llvmlite.binding as ll

    ll.initialize_native_target()
    ll.initialize_native_asmprinter()
    return ll.Target.from_default_triple().create_target_machine(
        cpu=ll.get_host_cpu_name(), features=ll.get_host_cpu_features().flatten(),
        codemodel="jitdefault")


def _undefined_symbols(code: bytes) -> list[str]:
    """The names an ELF64 little-endian object file refers to but does not define.

    Any other format raises ValueError: the standalone route is then not taken (macOS and
    Windows keep the numba route)."""
    if code[:6] != b"\x7fELF\x02\x01":
        raise ValueError("not an ELF64 little-endian object")
    shoff, = struct.unpack_from("<Q", code, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", code, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", code, shoff + i * shentsize)
                for i in range(shnum)]
    names = []
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != 2:  # SHT_SYMTAB
            continue
        strings = sections[link]
        str_offset, str_size = strings[4], strings[5]
        table = code[str_offset:str_offset + str_size]
        for at in range(offset, offset + size, entsize or 24):
            name, _, _, shndx = struct.unpack_from("<IBBH", code, at)
            if shndx == 0 and name:  # SHN_UNDEF
                names.append(table[name:table.index(b"\0", name)].decode())
    return names


def _defined_in(library: ctypes.CDLL, symbol: str) -> bool:
    try:
        library[symbol]
    except AttributeError:
        return False
    return True


@functools.cache
def _register_runtime_symbols(ll) -> None:
    """Make numba's C runtime functions that compiled code calls resolvable by the linker."""
    helperlib = _extension("numba._helperlib", "numba", "_helperlib")
    nrt = _extension("numba.core.runtime._nrt_python", "numba", "core/runtime/_nrt_python")
    for name, address in helperlib.c_helpers.items():
        ll.add_symbol(f"numba_{name}", address)
    for name, address in nrt.c_helpers.items():  # (as numba's own runtime set-up names them)
        ll.add_symbol(name if name.startswith("_") else f"NRT_{name}", address)


def _extension(module: str, package: str, stem: str):
    """One of numba's C extension modules, loaded without importing the ``numba`` package.

    Not put in ``sys.modules``: numba, if imported later, imports it the usual way and Python
    hands it the same initialised module (extension modules are initialised once per process).
    """
    loaded = sys.modules.get(module)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec(package)
    folder = Path(spec.origin).parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / f"{stem}{suffix}"
        if path.exists():
            break
    else:
        raise ImportError(f"no {module} extension in {folder}")
    loader = importlib.machinery.ExtensionFileLoader(module, str(path))
    spec = importlib.util.spec_from_file_location(module, path, loader=loader)
    extension = importlib.util.module_from_spec(spec)
    loader.exec_module(extension)
    return extension
