"""The frameworks a workload can be timed on, each imported lazily and only if installed."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Framework:
    """One column of the benchmark: a way of computing gradients."""

    name: str
    description: str
    modules: tuple[str, ...]  # what must be importable for it to run at all
    uses_numba: bool = False  # whether a cleared numba cache makes its cold start slower
    extra_check: Callable[[], str | None] | None = None  # returns why it is n/a, or None

    def unavailable_reason(self) -> str | None:
        """None if this framework can run here, else a short reason for "n/a"."""
        for mod in self.modules:
            if importlib.util.find_spec(mod) is None:
                return f"{mod} is not installed"
        return self.extra_check() if self.extra_check else None

    def load(self) -> None:
        """Import the framework (what a user's process pays before its first gradient)."""
        for mod in self.modules:
            importlib.import_module(mod)
        if self.modules[0] == "jax":
            jax_x64()


def _tapegrad_compile_missing() -> str | None:
    import tapegrad

    return None if hasattr(tapegrad, "compile") else "tapegrad.compile does not exist yet"


FRAMEWORKS: dict[str, Framework] = {f.name: f for f in (
    Framework("tapegrad", "tapegrad, eager", ("tapegrad",), uses_numba=True),
    Framework("tapegrad-compiled", "tapegrad, tg.compile'd tape replayed by numba", ("tapegrad",),
              uses_numba=True, extra_check=_tapegrad_compile_missing),
    Framework("torch", "PyTorch eager, float64, CPU", ("torch",)),
    Framework("jax", "JAX eager (op by op), x64", ("jax",)),
    Framework("jax-jit", "JAX, jax.jit of the gradient, x64", ("jax",)),
    Framework("autograd", "HIPS autograd", ("autograd",)),
    Framework("micrograd", "micrograd (scalar Values)", ("micrograd",)),
    Framework("numpy", "hand-written NumPy gradient (no AD overhead)", ("numpy",)),
    Framework("numba", "hand-written numba @njit gradient (no AD overhead)", ("numba",),
              uses_numba=True),
)}


def jax_x64() -> tuple[ModuleType, ModuleType]:
    """``(jax, jax.numpy)`` with float64 enabled (it must be set before any array is made)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    return jax, jnp

