"""What a timing depends on: versions, thread settings, the machine and its load."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

PACKAGES = ("tapegrad", "numpy", "numba", "llvmlite", "torch", "jax", "jaxlib", "autograd",
            "micrograd", "scipy", "matplotlib")
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
              "OPENBLAS_CORETYPE", "XLA_FLAGS", "NUMBA_CACHE_DIR")


def versions() -> dict[str, str | None]:
    """Python's version and each package's installed version (None when absent)."""
    found: dict[str, str | None] = {"python": sys.version.split()[0],
                                    "implementation": platform.python_implementation()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def threads() -> dict[str, Any]:
    """Thread settings, as each framework set them by default (read after the run)."""
    info: dict[str, Any] = {"env": {k: os.environ.get(k) for k in THREAD_ENV}}
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch"] = {"num_threads": torch.get_num_threads(),
                         "num_interop_threads": torch.get_num_interop_threads()}
    if "numba" in sys.modules:
        info["numba_num_threads"] = sys.modules["numba"].config.NUMBA_NUM_THREADS
    try:
        import numpy as np

        info["numpy_blas"] = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # the layout of show_config differs across NumPy versions
        pass
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = threadpool_info()
    except ImportError:
        pass
    return info


def machine() -> dict[str, Any]:
    """The machine, and how busy it is (a shared machine skews timings)."""
    info: dict[str, Any] = {
        "platform": platform.platform(), "machine": platform.machine(),
        "processor": platform.processor(), "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["usable_cpus"] = len(os.sched_getaffinity(0))
    return info


def load_average() -> list[float] | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None
