"""``tapegrad.save`` and ``tapegrad.load``: objects holding tensors (a ``state_dict``, a model,
an optimiser's state) to a file and back, as ``torch.save``/``torch.load``.

The format is Python's pickle; a tensor pickles as its values, dtype and ``requires_grad``
(its history is not saved, as torch's is not).  A file written by torch cannot be read here,
nor one of ours by torch.  Like ``pickle``, ``load`` runs code named by the file: load only
files you trust, or pass ``weights_only=True`` (torch's default): then the file may name
only tensors, NumPy arrays and dtypes, and Python's containers and numbers.
"""

from __future__ import annotations

import io
import os
import pickle
from typing import IO, Any

_PROTOCOL = pickle.HIGHEST_PROTOCOL


def save(obj: Any, f: str | os.PathLike | IO[bytes], pickle_module=pickle,
         pickle_protocol: int = _PROTOCOL, _use_new_zipfile_serialization: bool = True) -> None:
    """Write ``obj`` to the path or binary file ``f``.

    >>> import io, tapegrad as tg
    >>> buffer = io.BytesIO(); tg.save({"w": tg.ones(2)}, buffer); _ = buffer.seek(0)
    >>> tg.load(buffer, weights_only=True)
    {'w': tensor([1., 1.])}
    """
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as file:
            pickle_module.dump(obj, file, protocol=pickle_protocol)
    else:
        pickle_module.dump(obj, f, protocol=pickle_protocol)


#: what a weights-only file may name: tensors, arrays, dtypes, containers (module, name)
_WEIGHTS = {("collections", "OrderedDict"), ("tapegrad.recording", "_rebuild"),
            ("tapegrad.tensor", "Size"), ("numpy", "dtype"), ("numpy", "ndarray"),
            ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"),
            ("builtins", "complex")}
_WEIGHTS |= {(f"numpy.{core}.{module}", name) for core in ("core", "_core")
             for module, name in (("numeric", "_frombuffer"), ("multiarray", "_reconstruct"),
                                  ("multiarray", "scalar"))}


class _WeightsUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _WEIGHTS or (module == "numpy.dtypes" and name.endswith("DType")):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"Weights only load failed: the file names {module}.{name}, which is not a tensor, "
            "an array or a container. Load it with weights_only=False only if you trust its "
            "source.")


def load(f: str | os.PathLike | IO[bytes], map_location=None, pickle_module=None, *,
         weights_only: bool | None = None, mmap: bool | None = None, **pickle_load_args) -> Any:
    """The object ``save`` wrote to ``f``.  ``map_location`` may name the CPU only.  With
    ``weights_only=True`` the file may name only tensors, arrays and containers (an
    ``UnpicklingError`` otherwise); by default, or with ``weights_only=False``, it is unpickled
    as it is: load only files you trust."""
    if map_location not in (None, "cpu") and not callable(map_location) and \
            not isinstance(map_location, dict):
        from .device import check

        check(map_location)
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is "
                           "specified")
    if isinstance(f, (bytes, bytearray)):
        f = io.BytesIO(f)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as file:
            return _load(file, weights_only, pickle_module, pickle_load_args)
    return _load(f, weights_only, pickle_module, pickle_load_args)


def _load(file: IO[bytes], weights_only, pickle_module, pickle_load_args: dict) -> Any:
    if weights_only:
        return _WeightsUnpickler(file, **pickle_load_args).load()
    return (pickle_module or pickle).load(file, **pickle_load_args)
