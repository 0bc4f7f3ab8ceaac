"""``tapegrad.cuda``: what torch programs ask of CUDA before choosing a device.

tapegrad runs on the CPU only, so CUDA is never available; a program's usual guard
``device = "cuda" if tg.cuda.is_available() else "cpu"`` picks the CPU.
"""

from __future__ import annotations


def is_available() -> bool:
    """``False``: tapegrad has no CUDA device.

    >>> import tapegrad as tg
    >>> tg.cuda.is_available(), tg.cuda.device_count()
    (False, 0)
    """
    return False


def device_count() -> int:
    """``0``: tapegrad has no CUDA device."""
    return 0


def manual_seed(seed: int) -> None:
    """Does nothing, as torch's does without a CUDA device (``tg.manual_seed`` seeds the CPU
    generator)."""


def manual_seed_all(seed: int) -> None:
    """Does nothing, as torch's does without a CUDA device."""
