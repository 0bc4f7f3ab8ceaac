"""Cold start: a fresh process's import plus first gradient of rosenbrock-10, per framework.

The parent runs ``python -m bench.coldstart FRAMEWORK`` as a child, with numba's on-disk cache
warm (populated by a first, unmeasured run) and, for frameworks that compile with numba, cleared
(``NUMBA_CACHE_DIR`` pointing at an empty directory).  The child reports its import time and its
time to the first gradient (import included), both from its own clock; the parent also reports
the child's whole wall time, interpreter start-up included.
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

# the first gradient a cold-start child computes: rosenbrock-10 (the benchmark's), or the seed
# tutorial's chain (``--coldstart-case seed``)
CASES = {"rosenbrock-10": ("rosenbrock", {"n": 10}), "seed": ("seed", {})}
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
    """The frameworks a cold start can be measured for here."""
    workload, _ = _workload(case)
    return [f for f in frameworks
            if f in workload.setups and FRAMEWORKS[f].unavailable_reason() is None]


def measure(frameworks: list[str], quick: bool, progress: Progress,
            case: str = DEFAULT_CASE) -> list[dict[str, Any]]:
    """One record per framework: its warm runs and, where numba compiles, its cold run."""
    repeats = 1 if quick else 3
    results = []
    for name in frameworks:
        progress.tick(f"cold start / {name}")
        rec: dict[str, Any] = {"framework": name, "case": case}
        try:
            if not quick:  # a smoke run relies on its in-process cells having populated it
                _spawn(name, case, {})  # populates the numba cache (and the OS file cache)
            runs = [_spawn(name, case, {}) for _ in range(repeats)]
            rec["warm_cache"] = {"runs": runs, **_medians(runs)}
            if FRAMEWORKS[name].uses_numba and not quick:
                with tempfile.TemporaryDirectory(prefix="bench-numba-cache-") as empty:
                    run = _spawn(name, case, {"NUMBA_CACHE_DIR": empty})
                rec["cold_cache"] = {"runs": [run], **_medians([run])}
            rec["status"] = "ok"
        except RuntimeError as exc:
            rec["status"], rec["reason"] = "error", str(exc)
        results.append(rec)
    return results


def _spawn(name: str, case: str, env: dict[str, str]) -> dict[str, float]:
    t0 = perf_counter()
    proc = subprocess.run([sys.executable, "-m", f"{__package__}.coldstart", name, case], cwd=ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=TIMEOUT)
    wall = perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start child for {name} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "wall_s": wall}


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


if __name__ == "__main__":
    child(*sys.argv[1:3])
