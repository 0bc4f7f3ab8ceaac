"""A one-line progress indicator on stderr, silent for runs of a few seconds."""

from __future__ import annotations

import sys
from time import perf_counter

QUIET_FOR = 3.0  # seconds before anything is shown
LINE_EVERY = 10.0  # seconds between lines when stderr is not a terminal


class Progress:
    """``tick(label)`` before each step of a run of ``total`` steps."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.start = perf_counter()
        self.last_line = self.start
        self.tty = sys.stderr.isatty()
        self.shown = False

    def tick(self, label: str) -> None:
        self.done += 1
        now = perf_counter()
        if now - self.start < QUIET_FOR:
            return
        text = f"[{self.done}/{self.total} {now - self.start:5.0f} s] {label}"
        if self.tty:
            sys.stderr.write("\r\033[K" + text)
        elif now - self.last_line >= LINE_EVERY:
            sys.stderr.write(text + "\n")
            self.last_line = now
        else:
            return
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        """Clear the indicator's line before the report is printed."""
        if self.shown and self.tty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
