"""Grad mode: whether new operations are recorded.  Thread-local, as in torch."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any


class _ThreadState(threading.local):
    """Per-thread recording state: grad mode and the tape new graphs start on."""

    grad_enabled = True
    tape = None  # the open Tape that the next graph started from leaves is recorded on


STATE = _ThreadState()


def is_grad_enabled() -> bool:
    """Whether operations in this thread are recorded for backward.

    >>> import tapegrad as tg
    >>> tg.is_grad_enabled()
    True
    """
    return STATE.grad_enabled


class _GradMode:
    """Base of the grad-mode switches: a context manager and a decorator."""

    enabled: bool

    def __enter__(self) -> None:
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self.enabled

    def __exit__(self, *exc: Any) -> None:
        STATE.grad_enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


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

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
