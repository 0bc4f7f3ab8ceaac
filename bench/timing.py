"""Adaptive timing of one case on several frameworks: first calls apart, warm-up, then batched
samples until a budget.

On short calls (the per-op workloads) each framework's samples are taken in turns with
tapegrad's (one sample of each, then again), not one framework after the other: a shared
machine's speed drifts by up to 1.7x over seconds, and a ratio is only fair when both sides
sampled the same stretch of time.  Pairs, not all frameworks at once: a third framework's live
objects and garbage would slow the collector for the other two (micrograd's scalar-mlp read
2.2x slower with jax's set-up alive beside it).  Calls of a millisecond or more are not mixed
across frameworks: their thread pools (OpenBLAS's, torch's OpenMP) spin for a while after each
call and would slow whichever framework ran next; only one framework's own calls (the mlp's
forward and forward+backward) take turns there.

The garbage collector stays on, as users run with it: its pauses are part of a framework's cost
(micrograd's reference cycles make it pay them), and the median keeps them from dominating.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter
from typing import Any


@dataclass(frozen=True)
class Budget:
    """How long to spend on one cell."""

    seconds: float  # for warm-up plus samples, once the first call is done
    sample: float  # target duration of one sample: short calls are batched to reach it
    min_samples: int

    @classmethod
    def normal(cls) -> Budget:
        return cls(seconds=0.7, sample=2e-3, min_samples=5)

    @classmethod
    def quick(cls) -> Budget:
        return cls(seconds=0.01, sample=1e-4, min_samples=2)


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the first call (compiles and caches included) and the steady samples."""

    first: float
    samples: list[float]  # seconds per call, each the mean over ``number`` back-to-back calls
    number: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def as_dict(self) -> dict[str, Any]:
        return {"first_call_s": self.first, "median_s": self.median, "min_s": self.min,
                "max_s": self.max, "calls_per_sample": self.number, "samples_s": self.samples}


def time_first(call: Callable[[], Any]) -> tuple[float, Any]:
    """``(seconds, result)`` of one call."""
    t0 = perf_counter()
    result = call()
    return perf_counter() - t0, result


#: calls at least this long are sampled in turns only with calls of the same framework
TURNS_ACROSS_FRAMEWORKS_MAX = 1e-3


def measure_in_turns(calls: dict[Any, tuple[Callable[[], Any], float]], budget: Budget,
                     framework_of: Callable[[Any], str] = str
                     ) -> tuple[dict[Any, Timing], dict[Any, Exception]]:
    """Time each ``key: (call, seconds its first call took)``, sampling them in turns (calls
    of a millisecond or more: only with calls of the same ``framework_of(key)``); each gets
    ``budget.seconds`` of samples, as if it ran alone.  A call that raises drops out:
    ``(timings, errors)``."""
    numbers, wanted, errors, last_seen = {}, {}, {}, {}
    for name, (call, first) in calls.items():
        # warm-up: ~10% of the budget, skipped when the first call alone outlasted the budget
        last = first
        if first < budget.seconds:
            end = perf_counter() + 0.1 * budget.seconds
            try:
                while True:
                    last, _ = time_first(call)
                    if perf_counter() >= end:
                        break
            except Exception as exc:
                errors[name] = exc
        last_seen[name] = last
        numbers[name] = max(1, int(budget.sample / max(last, 1e-9)))
        # a call of a second or more gets fewer samples, so a slow framework cannot stall the run
        wanted[name] = min(budget.min_samples, 5 if last < 0.2 else 3 if last < 1.0 else 1)
    samples: dict[Any, list[float]] = {name: [] for name in calls}
    spent = dict.fromkeys(calls, 0.0)
    if all(t < TURNS_ACROSS_FRAMEWORKS_MAX for t in last_seen.values()):
        groups = [list(calls)]
    else:  # one framework after the other
        by_framework: dict[str, list[Any]] = {}
        for name in calls:
            by_framework.setdefault(framework_of(name), []).append(name)
        groups = list(by_framework.values())
    for group in groups:
        _sample_in_turns(group, calls, numbers, wanted, budget, samples, spent, errors)
    return ({name: Timing(first=calls[name][1], samples=samples[name], number=numbers[name])
             for name in calls if name not in errors}, errors)


def _sample_in_turns(group: list[Any], calls: dict, numbers: dict, wanted: dict, budget: Budget,
                     samples: dict, spent: dict, errors: dict) -> None:
    while True:
        turn = [name for name in group if name not in errors and
                (len(samples[name]) < wanted[name] or spent[name] < budget.seconds)]
        if not turn:
            break
        for name in turn:
            call, number = calls[name][0], numbers[name]
            try:
                t0 = perf_counter()
                for _ in range(number):
                    call()
                elapsed = perf_counter() - t0
            except Exception as exc:  # a broken framework must not stop the others
                errors[name] = exc
                continue
            spent[name] += elapsed
            samples[name].append(elapsed / number)
