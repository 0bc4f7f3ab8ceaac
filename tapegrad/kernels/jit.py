"""The ways tapegrad compiles numba code -- without importing numba until it must.

``import numba`` and its first compile set-up cost ~0.3 s, more than the rest of a cold start
together.  An eager backward does not need numba at all once its kernel is on disk (see
``native.py``), so the op table's kernels are declared here as :class:`Lazy` functions: plain
Python until numba code first needs them, then built into numba dispatchers.

IEEE semantics everywhere (``error_model="numpy"``): a division by zero gives inf or nan, as in
NumPy and torch, instead of raising ZeroDivisionError inside a kernel.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .. import cachedir


class Lazy:
    """A function that becomes a numba object (by ``make(function)``) the first time numba code
    needs it: when it is :meth:`build`-ed, called from Python, or referenced by another lazy
    function being built."""

    def __init__(self, fn: Callable, make: Callable[[Callable], Any]) -> None:
        self.py_func = fn
        self._make = make
        self._built = None
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self.__doc__ = fn.__doc__

    def build(self) -> Any:
        """The numba object, made on first use."""
        if self._built is None:
            _resolve_references(self.py_func)
            self._built = self._make(self.py_func)
        return self._built

    def __call__(self, *args: Any) -> Any:
        return self.build()(*args)

    def __repr__(self) -> str:
        state = "built" if self._built is not None else "not built yet"
        return f"<lazy numba function {self.__qualname__} ({state})>"


def built(obj: Any) -> Any:
    """``obj``'s numba object if it is :class:`Lazy`, else ``obj`` itself."""
    return obj.build() if isinstance(obj, Lazy) else obj


def _resolve_references(fn: Callable) -> None:
    """Swap the lazy functions ``fn`` reads (globals by name, closure cells) for their numba
    objects, as numba resolves both when it compiles ``fn``."""
    namespace = fn.__globals__
    for name in fn.__code__.co_names:
        value = namespace.get(name)
        if isinstance(value, Lazy):
            namespace[name] = value.build()
    for cell in fn.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, Lazy):
            cell.cell_contents = value.build()


def jit(**options: Any) -> Callable[[Callable], Lazy]:
    """A decorator: the function, compiled by ``numba.njit(**options)`` when first needed
    (``cache=True`` through :func:`cached`)."""

    def make(fn: Callable) -> Any:
        from numba import njit

        if options.get("cache"):
            rest = {k: v for k, v in options.items() if k != "cache"}
            return cached(njit, **rest)(fn)
        return njit(**options)(fn)

    return lambda fn: Lazy(fn, make)


def cached(decorator: Callable, *args: Any, **options: Any) -> Callable[[Callable], Any]:
    """``decorator(*args, cache=True, **options)`` (numba's ``njit`` or ``cfunc``), where
    numba's disk cache can be used and trusted; else the same without the cache, and one
    warning per process.  Every numba function tapegrad caches goes through here.

    numba's ``cache=True`` raises ``RuntimeError: cannot cache function`` when no cache
    folder is writable (a read-only install with a read-only home), and it runs whatever
    machine code it finds in its folder, whoever wrote it (see ``tapegrad/cachedir.py``).
    """

    def decorate(fn: Callable) -> Any:
        reason = _unusable_cache(fn)  # (before decorating: a cfunc loads its cache at once)
        if reason is None:
            return decorator(*args, cache=True, **options)(fn)
        cachedir.warn_once(f"tapegrad: compiling without numba's disk cache, because {reason}"
                           "; every process compiles the kernels again (see README, "
                           "'The cache folders')", topic="cache")
        return decorator(*args, cache=False, **options)(fn)

    return decorate


def _unusable_cache(fn: Callable) -> str | None:
    """Why the disk cache numba would choose for ``fn`` cannot or must not be used, or None."""
    from numba.core.caching import FunctionCache

    try:
        cache = FunctionCache(fn)  # what ``cache=True`` makes: the same choice of folder
    except RuntimeError:  # "cannot cache function ...: no locator available"
        return "numba finds no cache folder it can write"
    try:
        folder = cache.cache_path
        prefix = cache._cache_file._index_name.rpartition(".nbi")[0]
    except AttributeError:
        return "this numba's cache cannot be checked"
    return cachedir.untrusted(folder) or cachedir.regular_entries_only(folder, prefix)


_PLAIN: dict = {}


def plain(rule: Lazy) -> Any:
    """A scalar rule (``Op.rules``) compiled as an ordinary numba function, which LLVM inlines
    where it is called.  The op table's rules are inlined by numba itself
    (``inline="always"``), which copies and re-types their IR at every call site: several times
    the compile time, for the same machine code.  Cached on disk (a rule calls only code of its
    own file, which is what numba's cache is keyed on): the core kernels and ``tg.compile``'s
    fused loops share one compiled copy per process."""
    compiled = _PLAIN.get(rule)
    if compiled is None:
        from numba import njit

        built(rule)  # (swaps the lazy functions the rule reads for numba's)
        compiled = _PLAIN[rule] = cached(njit, error_model="numpy")(rule.py_func)
    return compiled


#: a loop-level kernel (one op's forward or VJP over whole arrays)
kernel = jit(error_model="numpy")

#: a per-element rule (one op's scalar derivative), inlined into the loop that uses it
elementwise = jit(inline="always", error_model="numpy")


def named(fn, name: str):
    """Give a function made by a factory its own name before it is compiled.

    numba names compiled functions by ``__qualname__`` plus a per-process counter.  Factory
    closures (and lambdas) all share one qualname, so two kernels cached by *different*
    processes could carry the same symbol name for different ops -- and the process that loads
    both would call one op's code for the other.  A unique qualname rules that out.
    """
    fn.__name__ = fn.__qualname__ = name
    return fn


#: a compile taking longer than this (seconds) is announced on stderr, once per process
ANNOUNCE_AFTER = 1.0
_announced = threading.Event()


@contextlib.contextmanager
def compiling(what: str, where: Path | str | None = None) -> Iterator[None]:
    """Around numba work that may compile: if it lasts more than :data:`ANNOUNCE_AFTER`, say
    once per process, on stderr, what is compiled, why, and where it is cached -- never a
    silent freeze.  Nothing is said when the work is quick (a warm cache), nor with
    ``TAPEGRAD_QUIET=1``.  ``where``: the folder the code is kept in (default: numba's cache
    folder for tapegrad's kernels)."""
    if _announced.is_set() or os.environ.get("TAPEGRAD_QUIET", "") not in ("", "0"):
        yield
        return
    timer = threading.Timer(ANNOUNCE_AFTER, _announce, (what, where))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _announce(what: str, where: Path | str | None) -> None:
    if _announced.is_set():
        return
    _announced.set()
    if where is None:
        where = os.environ.get("NUMBA_CACHE_DIR") or Path(__file__).parent / "__pycache__"
    try:
        sys.stderr.write(
            f"tapegrad: compiling {what} with numba, once for this installation: only the "
            "kernels of the ops a program uses are compiled, each the first time it is "
            f"needed (seconds each), and cached in {where} for every later process. "
            "`python -m tapegrad.warmup` compiles them all ahead of time; TAPEGRAD_QUIET=1 "
            "silences this note.\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # (no stderr, or closed)
        pass
