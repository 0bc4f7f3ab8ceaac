"""``python -m tapegrad.warmup`` (or ``tapegrad-warmup``): compile every kernel ahead of time.

A program compiles only the kernels of the ops it uses, each the first time it needs it (seconds
each, then cached).  Images, CI jobs and shared installs that want that cost paid once, up
front, run this: it compiles -- or finds in the cache -- the backward sweep, every op's VJP and
forward, ``tg.compile``'s replay and batch kernels and the scalar rules its fused loops are made
of, with a progress bar on stderr.  The caches it fills are the ones later processes use
(``TAPEGRAD_CACHE_DIR``, ``NUMBA_CACHE_DIR``: see the README's "The cache folders").
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import numpy as np

#: the progress bar's width in characters
WIDTH = 30


def steps() -> list[tuple[str, Callable[[], object]]]:
    """Everything there is to compile, as ``(what, how)``, in the order it is done."""
    from .kernels import native, optable
    from .kernels.jit import plain
    from .ops import OPS

    todo: list[tuple[str, Callable[[], object]]] = [
        ("backward sweep", native.backward_kernel)]
    for kind in ("vjp", "fwd"):
        todo += [(f"{kind} of {op.key}", lambda kind=kind, op=op: optable.provide(kind, [op.code]))
                 for op in OPS]
    todo += [("tg.compile's replay", _replay), ("tg.compile's batch gradients", _batch)]
    rules = list(dict.fromkeys(rule for op in OPS for rule in op.rules[1:]))
    todo += [(f"scalar rule {rule.__name__}", lambda rule=rule: plain(rule)) for rule in rules]
    todo.append(("fused-loop sums", _block_sum))
    return todo


def _replay() -> None:
    from .compiled import _first_replay

    _first_replay()


def _batch() -> None:
    import tapegrad as tg

    # (a product: never fused, so the batch runs the replay's own kernels)
    tape = tg.compile(lambda x: (x @ x).sum(), np.ones(2))
    tape.gradient_batch(np.ones((2, 2)))


def _block_sum() -> None:
    from .codegen import block_sum

    block_sum(np.zeros(2), 2)


def run(out=None) -> float:
    """Do every step, drawing the progress bar on ``out`` (stderr); the seconds it took."""
    out = sys.stderr if out is None else out
    todo = steps()
    started = time.perf_counter()
    for done, (what, how) in enumerate(todo):
        _bar(out, done, len(todo), what)
        how()
    _bar(out, len(todo), len(todo), "done")
    out.write("\n")
    return time.perf_counter() - started


def _bar(out, done: int, total: int, what: str) -> None:
    filled = WIDTH * done // total
    line = f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total} {what}"
    out.write(f"{line:<79}"[:79])
    out.flush()


def main(argv: list[str] | None = None) -> int:
    """The console script: compile everything, then say where it is cached."""
    argparse.ArgumentParser(
        prog="python -m tapegrad.warmup",
        description="Compile every tapegrad kernel ahead of time (numba), into the caches later "
                    "processes load from.").parse_args(argv)
    import os

    os.environ.setdefault("TAPEGRAD_QUIET", "1")  # (the bar says what is being compiled)
    from .kernels import native

    seconds = run()
    print(f"tapegrad: every kernel compiled or found in the cache in {seconds:.1f} s; object "
          f"files in {native.cache_dir()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
