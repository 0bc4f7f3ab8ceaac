"""Grad mode: whether new operations are recorded.  Thread-local, as in torch."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

#: how many threads are not in the default mode (grad mode off, or tg.compile recording); while
#: it is 0, the per-op path knows without a thread-local lookup that it records as usual
NON_DEFAULT = [0]
_count_lock = threading.Lock()


def _count(delta: int) -> None:
    with _count_lock:
        NON_DEFAULT[0] += delta


class _Share:
    """One thread's part of ``NON_DEFAULT``.  A thread that ends with grad mode off (or while
    compiling) frees its thread-local state, and with it this, which gives its part back:
    otherwise every other thread would take the slow path for good."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def add(self, delta: int) -> None:
        self.n += delta
        _count(delta)

    def __del__(self) -> None:
        if self.n:
            _count(-self.n)


class _ThreadState(threading.local):
    """Per-thread recording state: grad mode and the tape new graphs start on."""

    def __init__(self) -> None:
        self.share = _Share()

    _grad_enabled = True
    # inside inference_mode(): only what is_inference_mode_enabled() reports (tapegrad's
    # inference mode is no_grad)
    inference = False
    # a weak reference to the open Tape that the next graph started from leaves is recorded
    # on: weak, so that a tape dies with its last tensor
    tape_ref = None
    _compile_tape = None

    @property
    def grad_enabled(self) -> bool:
        return self._grad_enabled

    @grad_enabled.setter
    def grad_enabled(self, flag: bool) -> None:
        flag = bool(flag)
        if flag != self._grad_enabled:
            self._grad_enabled = flag
            self.share.add(-1 if flag else 1)

    @property
    def compile_tape(self):
        """While tg.compile records a function: its Tape (every op on a value that depends on
        the inputs is then recorded, even under no_grad, and values leaving for Python are
        guarded)."""
        return self._compile_tape

    @compile_tape.setter
    def compile_tape(self, tape) -> None:
        if (tape is None) != (self._compile_tape is None):
            self.share.add(1 if tape is not None else -1)
        self._compile_tape = tape


STATE = _ThreadState()


def is_grad_enabled() -> bool:
    """Whether operations in this thread are recorded for backward.

    >>> import tapegrad as tg
    >>> tg.is_grad_enabled()
    True
    """
    return STATE.grad_enabled


def is_inference_mode_enabled() -> bool:
    """Whether this thread is inside :class:`inference_mode` (torch's name).

    >>> import tapegrad as tg
    >>> with tg.inference_mode():
    ...     print(tg.is_inference_mode_enabled())
    True
    """
    return STATE.inference


def _decorate(fn: Callable, make_mode: Callable[[], Any]) -> Callable:
    """Run ``fn`` under a fresh grad-mode context; a generator, at each of its steps."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args: Any, **kwargs: Any):
            gen = fn(*args, **kwargs)
            try:
                with make_mode():
                    value = next(gen)
                while True:
                    sent = yield value
                    with make_mode():
                        value = gen.send(sent)
            except StopIteration as stop:
                return stop.value

        return generator

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with make_mode():
            return fn(*args, **kwargs)

    return wrapper


class _GradMode:
    """Base of the grad-mode switches: a context manager and a decorator, with or without
    parentheses (``@tg.no_grad`` and ``@tg.no_grad()``), as in torch."""

    enabled: bool

    def __new__(cls, orig_func: Callable | None = None):
        if orig_func is None:
            return super().__new__(cls)
        return _decorate(orig_func, cls)

    def __enter__(self) -> None:
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        STATE.grad_enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        return _decorate(fn, self.__class__)


class no_grad(_GradMode):
    """Stop recording inside a ``with`` block or a decorated function.

    >>> import tapegrad as tg
    >>> x = tg.ones(2, requires_grad=True)
    >>> with tg.no_grad():
    ...     print((x * 2).requires_grad)
    False
    """

    enabled = False


class enable_grad(_GradMode):
    """Record again inside a ``no_grad`` region.

    >>> import tapegrad as tg
    >>> with tg.no_grad(), tg.enable_grad():
    ...     print(tg.is_grad_enabled())
    True
    """

    enabled = True


class set_grad_enabled(_GradMode):
    """Set grad mode: as a plain call, a context manager or a decorator.

    >>> import tapegrad as tg
    >>> with tg.set_grad_enabled(False):
    ...     print(tg.is_grad_enabled())
    False
    """

    def __new__(cls, mode: bool):
        return object.__new__(cls)

    def __init__(self, mode: bool) -> None:
        self.enabled = bool(mode)
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self.enabled

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: Any) -> None:
        STATE.grad_enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        STATE.grad_enabled = self._prev  # a decorator does not switch mode at definition
        mode = self.enabled
        return _decorate(fn, lambda: set_grad_enabled(mode))


class inference_mode(_GradMode):
    """torch's ``inference_mode(mode=True)``: a context manager and a decorator (with or without
    parentheses) that stops recording, as :class:`no_grad` does.

    torch's inference mode additionally skips view and version-counter bookkeeping and forbids
    using the tensors it makes in recorded computations later; tapegrad has no such bookkeeping
    to skip, so its tensors made here are ordinary tensors that do not require grad.
    ``inference_mode(False)`` leaves inference mode and, as in torch, turns recording on.

    >>> import tapegrad as tg
    >>> x = tg.ones(2, requires_grad=True)
    >>> with tg.inference_mode():
    ...     y = x * x
    >>> y.requires_grad
    False
    >>> @tg.inference_mode
    ... def doubler(x):
    ...     return x * 2
    >>> doubler(x).requires_grad
    False
    """

    def __new__(cls, mode: Any = True):
        if isinstance(mode, bool):
            return object.__new__(cls)
        return cls()(mode)  # @inference_mode without parentheses: mode is the function

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode
        self.enabled = not mode

    def __enter__(self) -> None:
        self._prev = STATE.grad_enabled
        self._prev_inference = STATE.inference
        STATE.grad_enabled = self.enabled
        STATE.inference = self.mode

    def __exit__(self, *exc: Any) -> None:
        STATE.grad_enabled = self._prev
        STATE.inference = self._prev_inference

    def __call__(self, fn: Callable) -> Callable:
        mode = self.mode
        return _decorate(fn, lambda: inference_mode(mode))

    def clone(self) -> inference_mode:
        """A new context manager with the same mode (torch's method)."""
        return self.__class__(self.mode)
