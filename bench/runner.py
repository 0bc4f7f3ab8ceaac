"""Runs the selected cells (case x framework): set up, check against tapegrad, time."""

from __future__ import annotations

import gc
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .frameworks import FRAMEWORKS
from .progress import Progress
from .timing import Budget, Timing, measure_in_turns, time_first
from .workloads.base import Case, NotApplicable, Workload

REFERENCE = "tapegrad"
RTOL = 1e-8
# elements far below the array's scale are compared at this fraction of the scale instead: a
# gradient entry that cancels to ~0 differs by rounding only, which rtol alone would reject
ATOL_OF_SCALE = 1e-10


@dataclass
class Cell:
    """The outcome of one case on one framework."""

    workload: str
    case: str
    size: int | None
    framework: str
    status: str  # "ok", "n/a", "skipped", "mismatch" or "error"
    reason: str = ""
    timing: Timing | None = None
    max_rel_err: float | None = None
    beside_reference: Timing | None = None  # tapegrad's, sampled in turns with this cell's

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"workload": self.workload, "case": self.case, "size": self.size,
                             "framework": self.framework, "status": self.status}
        if self.reason:
            d["reason"] = self.reason
        if self.max_rel_err is not None:
            d["max_rel_err_vs_tapegrad"] = self.max_rel_err
        if self.timing is not None:
            d.update(self.timing.as_dict())
        if self.beside_reference is not None:
            d["tapegrad_median_in_the_same_turns_s"] = self.beside_reference.median
        return d


@dataclass
class Plan:
    """What to run: cases per workload, frameworks, and how long to spend."""

    cases: list[tuple[Workload, Case]]
    frameworks: Sequence[str]
    budget: Budget
    quick: bool
    failures: list[str] = field(default_factory=list)


def compare(got: list[np.ndarray], ref: list[np.ndarray]) -> tuple[float, str | None]:
    """``(largest relative error, None or what disagrees)`` of results against the reference."""
    if len(got) != len(ref):
        return float("inf"), f"{len(got)} results, tapegrad gives {len(ref)}"
    worst = 0.0
    for i, (g, r) in enumerate(zip(got, ref, strict=True)):
        g = np.asarray(g, dtype=np.float64)
        if g.shape != r.shape:
            return float("inf"), f"result {i} has shape {g.shape}, tapegrad's {r.shape}"
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        err = np.abs(g - r)
        tol = RTOL * np.abs(r) + ATOL_OF_SCALE * scale
        rel = err / np.maximum(np.abs(r), ATOL_OF_SCALE * scale + 1e-300)
        worst = max(worst, float(np.max(rel)) if r.size else 0.0)
        if not np.all(err <= tol):  # also false for NaN
            at = np.unravel_index(int(np.argmax(np.where(np.isnan(err), np.inf, err - tol))),
                                  r.shape)
            return worst, (f"result {i} at index {tuple(int(j) for j in at)}: {float(g[at]):.17g}"
                           f" vs tapegrad {float(r[at]):.17g} (rtol {RTOL:g})")
    return worst, None


def run(plan: Plan, progress: Progress) -> list[Cell]:
    """Every selected cell, in report order."""
    cells = []
    for workload, cases in _groups(plan.cases):
        cells.extend(_run_group(workload, cases, plan, progress))
    return cells


def _groups(cases: list[tuple[Workload, Case]]) -> list[tuple[Workload, list[Case]]]:
    """The cases, each alone, except consecutive cases of a workload that are compared with
    each other (``Workload.timed_together``: the mlp's forward and forward+backward, whose
    ratio is a target), which are timed together."""
    groups: list[tuple[Workload, list[Case]]] = []
    for workload, case in cases:
        if groups and workload.timed_together and groups[-1][0] is workload:
            groups[-1][1].append(case)
        else:
            groups.append((workload, [case]))
    return groups


def _run_group(workload: Workload, cases: list[Case], plan: Plan,
               progress: Progress) -> list[Cell]:
    """Check every framework against tapegrad, then time each in turns with tapegrad (see
    timing.py): one framework at a time, so no third framework's objects or garbage are alive
    to slow the collector down for the two being compared."""
    cells = {(case.name, name): Cell(workload.name, case.name, case.size, name, "ok")
             for case in cases for name in plan.frameworks}  # (in report order)
    refs: dict[str, list[np.ndarray] | None] = {}  # tapegrad's results, to check against
    reference: dict[str, tuple[Callable[[], Any], float]] = {}  # tapegrad's calls, kept
    beside: dict[str, dict[str, Timing]] = {}  # framework -> case -> tapegrad's timing there
    if REFERENCE not in plan.frameworks:  # the check needs tapegrad's answer all the same
        refs = {case.name: _reference(workload, case, plan) for case in cases}
    for name in plan.frameworks:  # in registry order: tapegrad, the reference, first
        ready: dict[tuple[str, str], tuple[Callable[[], Any], float]] = {}
        for case in cases:
            progress.tick(f"{case.name} / {name}")
            cell = cells[case.name, name]
            reason = _not_runnable(workload, name, plan.quick)
            if reason is not None:
                cell.status, cell.reason = reason
                continue
            try:
                call = workload.setups[name](**case.params)
                first, result = time_first(call)
                result = [np.array(r, dtype=np.float64) for r in result]  # a copy of each
                if name == REFERENCE:
                    refs[case.name] = result
                if refs.get(case.name) is None:
                    raise RuntimeError("no tapegrad reference to check against")
                cell.max_rel_err, problem = compare(result, refs[case.name])
                if problem is not None:
                    cell.status, cell.reason = "mismatch", problem
                    _fail(plan, f"GRADIENT MISMATCH: {case.name} on {name}: {problem}")
                elif name == REFERENCE:
                    reference[case.name] = (call, first)
                else:
                    ready[case.name, name] = (call, first)
                    if case.name in reference:
                        ready[case.name, REFERENCE] = reference[case.name]
            except NotApplicable as exc:
                cell.status, cell.reason = "n/a", str(exc)
            except Exception as exc:  # a broken framework must not hide the others' results
                _error(plan, cell, exc)
            finally:
                call = None
        if ready:
            timings, errors = measure_in_turns(ready, plan.budget, _framework)
            for (case_name, framework), timing in timings.items():
                if framework == name:
                    cells[case_name, name].timing = timing
                else:
                    beside.setdefault(name, {})[case_name] = timing
                    cells[case_name, name].beside_reference = timing
            for (case_name, framework), exc in errors.items():
                _error(plan, cells[case_name, framework], exc)
        ready.clear()  # free the cases' inputs and graphs before the next framework
        gc.collect()
    # tapegrad's own rows: its samples beside torch (the ratios' baseline), else beside the
    # first framework that ran, else timed alone
    own = beside.get("torch") or next(iter(beside.values()), {})
    alone = {(c, REFERENCE): call for c, call in reference.items() if c not in own}
    if alone:
        timings, errors = measure_in_turns(alone, plan.budget, _framework)
        own = {**own, **{c: t for (c, _), t in timings.items()}}
        for (c, framework), exc in errors.items():
            _error(plan, cells[c, framework], exc)
    for case_name, timing in own.items():
        cells[case_name, REFERENCE].timing = timing
    return list(cells.values())


def _framework(key: tuple[str, str]) -> str:
    return key[1]  # (keys of the calls timed together: (case, framework))


def _error(plan: Plan, cell: Cell, exc: Exception) -> None:
    cell.status, cell.reason = "error", f"{type(exc).__name__}: {exc}"
    traceback.print_exception(exc, file=sys.stderr)
    _fail(plan, f"ERROR: {cell.case} on {cell.framework}: {cell.reason}")


def _not_runnable(workload: Workload, name: str, quick: bool) -> tuple[str, str] | None:
    """``(status, reason)`` when this framework does not run this workload here."""
    why = FRAMEWORKS[name].unavailable_reason()
    if why is not None:
        return "n/a", why
    if name not in workload.setups:
        return "n/a", workload.unsupported.get(name, "no implementation for this workload")
    if quick and name in workload.heavy:
        return "skipped", "too slow for --quick"
    return None


def _reference(workload: Workload, case: Case, plan: Plan) -> list[np.ndarray] | None:
    try:
        return [np.array(r, dtype=np.float64) for r in workload.setups[REFERENCE](**case.params)()]
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        _fail(plan, f"ERROR: tapegrad reference for {case.name}: {type(exc).__name__}: {exc}")
        return None


def _fail(plan: Plan, message: str) -> None:
    """Record a failure and say so at once, loudly, on stderr."""
    plan.failures.append(message)
    print(f"\n*** {message}", file=sys.stderr, flush=True)
