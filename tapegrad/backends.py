"""``tapegrad.backends``: the backend switches torch programs read or set (``mps``, ``cudnn``).

tapegrad runs on the CPU only: no backend here is available; cudnn's flags are kept, and do
nothing, so that programs that set them run unchanged.
"""

from __future__ import annotations

from types import SimpleNamespace


def _false() -> bool:
    return False


_false.__doc__ = "``False``: tapegrad runs on the CPU only."

#: ``tg.backends.mps.is_available()``, ``.is_built()``: both False
mps = SimpleNamespace(is_available=_false, is_built=_false)
#: ``tg.backends.cudnn``: ``is_available()`` False; ``enabled``, ``deterministic``,
#: ``benchmark`` settable (and without effect), with torch's defaults
cudnn = SimpleNamespace(is_available=_false, enabled=True, deterministic=False,
                        benchmark=False)
