"""Cold start: a fresh process's import plus first gradient, per framework and case.

The cases are the seed tutorial's chain and rosenbrock-10; the frameworks include tapegrad
eager and compiled (``tg.compile``), torch and jax when installed.  The parent runs
``python -m bench.coldstart FRAMEWORK CASE`` as a child, with the on-disk caches warm (populated
by a first, unmeasured run) and, for frameworks that compile with numba, empty: each cold run
gets a fresh empty folder as ``NUMBA_CACHE_DIR`` and ``TAPEGRAD_CACHE_DIR`` -- what a new
virtualenv, a CI run or an upgrade meets.  The child reports its import time and its time to
the first gradient (import included), both from its own clock; the parent also reports the
child's whole wall time, interpreter start-up included.  Medians of three runs each (one
warm run in a smoke run, and no cold one).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from typing import Any

from .frameworks import FRAMEWORKS
from .progress import Progress

# the first gradients a cold-start child computes: the seed tutorial's chain and rosenbrock-10
# (``--coldstart-case`` picks one; a smoke run takes the first)
CASES = {"seed": ("seed", {}), "rosenbrock-10": ("rosenbrock", {"n": 10})}
DEFAULT_CASE = "rosenbrock-10"
ROOT = Path(__file__).resolve().parent.parent  # where this package is importable from
TIMEOUT = 600.0


def _workload(case: str):
    import importlib

    module, kwargs = CASES[case]
    return importlib.import_module(f".workloads.{module}", __package__).WORKLOAD, kwargs


def child(framework: str, case: str = DEFAULT_CASE) -> None:
    """In the fresh process: time the import, then the first gradient; print them as JSON."""
    t0 = perf_counter()
    FRAMEWORKS[framework].load()
    t1 = perf_counter()
    workload, kwargs = _workload(case)
    workload.setups[framework](**kwargs)()
    t2 = perf_counter()
    print(json.dumps({"import_s": t1 - t0, "first_grad_s": t2 - t0}))


def runnable(frameworks: list[str], case: str = DEFAULT_CASE) -> list[str]:
    """The frameworks a cold start of ``case`` can be measured for here."""
    workload, _ = _workload(case)
    return [f for f in frameworks
            if f in workload.setups and FRAMEWORKS[f].unavailable_reason() is None]


def plan(frameworks: list[str], cases: list[str]) -> list[tuple[str, str]]:
    """``(framework, case)`` pairs to measure, case by case."""
    return [(f, case) for case in cases for f in runnable(frameworks, case)]


def measure(pairs: list[tuple[str, str]], quick: bool,
            progress: Progress) -> list[dict[str, Any]]:
    """One record per ``(framework, case)``: its warm runs and, where numba compiles, its cold
    runs (each in a fresh empty cache folder)."""
    repeats = 1 if quick else 3
    results = []
    for name, case in pairs:
        progress.tick(f"cold start / {case} / {name}")
        rec: dict[str, Any] = {"framework": name, "case": case}
        try:
            if not quick:  # a smoke run relies on its in-process cells having populated it
                _spawn(name, case, {})  # populates the caches (and the OS file cache)
            runs = [_spawn(name, case, {}) for _ in range(repeats)]
            rec["warm_cache"] = {"runs": runs, **_medians(runs)}
            if FRAMEWORKS[name].uses_numba and not quick:
                cold = []
                for _ in range(repeats):
                    with tempfile.TemporaryDirectory(prefix="bench-empty-cache-") as empty:
                        cold.append(_spawn(name, case, {
                            "NUMBA_CACHE_DIR": os.path.join(empty, "numba"),
                            "TAPEGRAD_CACHE_DIR": os.path.join(empty, "tapegrad")}))
                rec["cold_cache"] = {"runs": cold, **_medians(cold)}
            rec["status"] = "ok"
        except RuntimeError as exc:
            rec["status"], rec["reason"] = "error", str(exc)
        results.append(rec)
    return results


def _spawn(name: str, case: str, env: dict[str, str]) -> dict[str, float]:
    # (TAPEGRAD_QUIET: the child's note on compiling would only clutter the parent's output)
    env = {**os.environ, "TAPEGRAD_QUIET": "1", **env}
    t0 = perf_counter()
    proc = subprocess.run([sys.executable, "-m", f"{__package__}.coldstart", name, case], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=TIMEOUT)
    wall = perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start child for {name} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "wall_s": wall}


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


if __name__ == "__main__":
    child(*sys.argv[1:3])
