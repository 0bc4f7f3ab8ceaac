"""The benchmark workloads of ``shared/bench/WORKLOADS.md``, one module each.

This ``__init__`` imports nothing: a cold-start child imports one workload module after it has
timed its framework's import, and must not pay for the others.
"""

from __future__ import annotations

import importlib

from .base import Workload

MODULES = ("seed", "chain", "vjp_doubling", "rosenbrock", "mlp", "scalar_mlp", "train_mlp",
           "hvp_rosenbrock", "hvp_scalar_mlp")


def all_workloads() -> list[Workload]:
    """Every workload, in the order of the report."""
    return [importlib.import_module(f"{__name__}.{m}").WORKLOAD for m in MODULES]
