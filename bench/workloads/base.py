"""What a workload module defines: its cases and, per framework, a setup that returns the call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: The timed work: one gradient (or forward) evaluation, returning its results as NumPy arrays
#: so that they can be checked against tapegrad's.
Call = Callable[[], list[np.ndarray]]
#: Builds the inputs (outside the timed region) for one case and returns its call.
Setup = Callable[..., Call]


@dataclass(frozen=True)
class Case:
    """One row group of the report, e.g. ``rosenbrock-1000``: a workload at given parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    size: int | None = None  # x-axis of the plot, for workloads that sweep a size
    quick: bool = True  # part of a ``--quick`` smoke run


@dataclass(frozen=True)
class Workload:
    """A workload: its cases, and one setup per framework that implements it."""

    name: str
    cases: tuple[Case, ...]
    setups: dict[str, Setup]
    # frameworks too slow (to compile or to run) for a --quick smoke run
    heavy: frozenset[str] = frozenset()
    # why a framework cannot run this workload at all, when it is not obvious
    unsupported: dict[str, str] = field(default_factory=dict)
    # its cases are compared with each other (a ratio of two of them is a target): each
    # framework's are timed in the same turns, so a drift in the machine's speed reaches all
    timed_together: bool = False


class NotApplicable(Exception):
    """Raised by a setup when its framework cannot run this case (reported as "n/a")."""


def as_arrays(results: Any) -> list[np.ndarray]:
    """A result or a sequence of results as a list of NumPy arrays."""
    if isinstance(results, (tuple, list)):
        return [np.asarray(r) for r in results]
    return [np.asarray(results)]


def rng(seed: int) -> np.random.Generator:
    """The fixed-seed generator every workload draws its inputs from."""
    return np.random.default_rng(seed)


def grads_of(params: Sequence[Any]) -> list[np.ndarray]:
    """``.grad`` of torch or tapegrad leaves as NumPy arrays."""
    return [p.grad.numpy() for p in params]
