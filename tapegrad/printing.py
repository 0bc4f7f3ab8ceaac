"""Render tensor data exactly like PyTorch's ``repr(tensor)``.

This is a NumPy port of ``torch/_tensor_str.py`` (PyTorch 2.13, CPU, strided,
real dtypes).  :func:`format_tensor` formats the numbers and appends the
suffixes the caller chose (``requires_grad=True``, ``grad_fn=<...>``,
``dtype=...``), wrapping them the way torch does.  Suffixes that depend only
on the data (``size=(0, 3)`` for empty tensors, ``size=...`` when
``edgeitems=0``) are added here.  Whether a ``dtype=`` suffix is needed can be
asked from :func:`needs_dtype_suffix`.

Example:
    >>> import numpy as np
    >>> format_tensor(np.array([1.0, 2.5, -3.0], dtype=np.float32), ["requires_grad=True"])
    'tensor([ 1.0000,  2.5000, -3.0000], requires_grad=True)'
    >>> format_tensor(np.array([[1, 2], [3, 40]]), [])
    'tensor([[ 1,  2],\\n        [ 3, 40]])'
    >>> format_tensor(np.zeros((0, 3), dtype=np.float32), [])
    'tensor([], size=(0, 3))'
    >>> with printoptions(precision=2):
    ...     format_tensor(np.array(1 / 3), [])
    'tensor(0.33)'
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_PRINT_OPTIONS",
    "PRINT_OPTIONS",
    "PrintOptions",
    "format_tensor",
    "get_printoptions",
    "needs_dtype_suffix",
    "printoptions",
    "set_printoptions",
]

# torch uses the class name as prefix; tapegrad tensors print as "tensor(".
_PREFIX = "tensor("


@dataclasses.dataclass
class PrintOptions:
    """Printing knobs, same names and defaults as ``torch.set_printoptions``."""

    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


# Never mutated: the reference defaults.
DEFAULT_PRINT_OPTIONS = PrintOptions()
# The live options. Mutated in place (never rebound) so that
# ``from tapegrad.printing import PRINT_OPTIONS`` always sees current values.
PRINT_OPTIONS = PrintOptions()

_PROFILES = {
    "default": PrintOptions(),
    "short": PrintOptions(precision=2, edgeitems=2),
    "full": PrintOptions(threshold=math.inf),
}


def set_printoptions(
    precision: int | None = None,
    threshold: float | None = None,
    edgeitems: int | None = None,
    linewidth: int | None = None,
    profile: str | None = None,
    sci_mode: bool | None = None,
) -> None:
    """Set printing options, like ``torch.set_printoptions``.

    Options left as ``None`` keep their value, except ``sci_mode``: as in
    torch, every call resets it to the given value (``None`` = automatic).
    ``profile`` is one of ``"default"``, ``"short"``, ``"full"`` and is
    applied before the explicit options.
    """
    if profile is not None:
        base = _PROFILES[profile]
        PRINT_OPTIONS.precision = base.precision
        PRINT_OPTIONS.threshold = base.threshold
        PRINT_OPTIONS.edgeitems = base.edgeitems
        PRINT_OPTIONS.linewidth = base.linewidth
    if precision is not None:
        PRINT_OPTIONS.precision = precision
    if threshold is not None:
        PRINT_OPTIONS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTIONS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTIONS.linewidth = linewidth
    PRINT_OPTIONS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """Return the current options as keywords for :func:`set_printoptions`."""
    return dataclasses.asdict(PRINT_OPTIONS)


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """Temporarily change printing options (same keywords as :func:`set_printoptions`)."""
    saved = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**saved)


def needs_dtype_suffix(values: np.ndarray, default_dtype: Any = np.float32) -> bool:
    """Tell whether torch would print a ``dtype=...`` suffix for this data.

    Empty tensors show every dtype except the default float one, because
    there is no element to infer it from.  Other tensors hide the default
    float dtype, its complex counterpart, int64 and bool.
    """
    array = np.asarray(values)
    default = np.dtype(default_dtype)
    if array.size == 0:
        return array.dtype != default
    default_complex = np.complex128 if default == np.float64 else np.complex64
    return array.dtype not in (
        default,
        np.dtype(default_complex),
        np.dtype(np.int64),
        np.dtype(np.bool_),
    )


def format_tensor(values: np.ndarray, suffixes: Sequence[str]) -> str:
    """Return what ``repr(torch.tensor(values))`` would, plus ``suffixes``.

    ``values`` may be bool, integer or floating point of any shape.  Floats
    are formatted from their own precision (float32 data prints its float32
    values), exactly as torch does.  ``suffixes`` are appended in order after
    any data-dependent ``size=`` suffix.
    """
    array = np.asarray(values)
    if not (
        array.dtype == np.bool_
        or np.issubdtype(array.dtype, np.integer)
        or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"cannot format tensor data of dtype {array.dtype}")
    opts = dataclasses.replace(PRINT_OPTIONS)  # snapshot: one call, one set of options
    indent = len(_PREFIX)
    data_suffixes = []
    if array.size == 0:
        # torch shows the shape unless it is (0,), to match NumPy.
        if array.ndim != 1:
            data_suffixes.append(f"size={tuple(array.shape)}")
        body = "[]"
    else:
        # With edgeitems=0 the data degenerates to "[...]", so torch adds the shape.
        if not opts.edgeitems:
            data_suffixes.append(f"size={tuple(array.shape)}")
        body = _tensor_str(array, indent, opts)
    return _add_suffixes(
        _PREFIX + body, [*data_suffixes, *suffixes], indent, opts.linewidth
    )


class _Formatter:
    """Choose one notation and width for all elements (torch's ``_Formatter``).

    Built from the elements that will actually be shown, so summarized
    tensors are sized from their edges only.
    """

    def __init__(self, shown: np.ndarray, opts: PrintOptions) -> None:
        self.floating = bool(np.issubdtype(shown.dtype, np.floating))
        self.precision = opts.precision
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = shown.reshape(-1)
        if not self.floating:
            self.max_width = max([1, *(len(str(v)) for v in flat.tolist())])
            return
        candidates = flat[np.isfinite(flat) & (flat != 0)]
        if candidates.size == 0:
            return  # only zeros / nan / inf: keep the defaults, like torch
        self.int_mode = bool(np.all(candidates == np.ceil(candidates)))
        self.sci_mode = (
            _wants_sci_mode(candidates) if opts.sci_mode is None else opts.sci_mode
        )
        self.max_width = max(self._width_of(v) for v in candidates.tolist())

    def _width_of(self, value: float) -> int:
        if self.sci_mode:
            return len(f"{value:.{self.precision}e}")
        if self.int_mode:
            return len(f"{value:.0f}") + 1  # room for the trailing "."
        return len(f"{value:.{self.precision}f}")

    def width(self) -> int:
        return self.max_width

    def format(self, value: float) -> str:
        if not self.floating:
            text = f"{value}"
        elif self.sci_mode:
            text = f"{value:{self.max_width}.{self.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}"
            # The "." marks the tensor as floating point; nan/inf need no marker.
            if not (math.isinf(value) or math.isnan(value)):
                text += "."
        else:
            text = f"{value:.{self.precision}f}"
        return text.rjust(self.max_width)


def _wants_sci_mode(nonzero_finite: np.ndarray) -> bool:
    """torch's automatic switch to scientific notation (computed in float64)."""
    magnitudes = np.abs(nonzero_finite).astype(np.float64)
    smallest, largest = magnitudes.min(), magnitudes.max()
    # float64 data can overflow the ratio to inf; torch then picks sci mode too.
    with np.errstate(over="ignore"):
        ratio = largest / smallest
    return bool(ratio > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4)


def _summarized_data(array: np.ndarray, edgeitems: int) -> np.ndarray:
    """Keep only the elements a summarized print shows (``get_summarized_data``)."""
    if array.ndim == 0:
        return array
    if array.ndim == 1:
        if array.shape[0] > 2 * edgeitems:
            # With edgeitems=0, array[-0:] is the whole array, just as in torch.
            return np.concatenate((array[:edgeitems], array[-edgeitems:]))
        return array
    if not edgeitems:
        return np.empty((0,) * array.ndim, dtype=array.dtype)
    length = array.shape[0]
    rows = range(length)
    if length > 2 * edgeitems:
        rows = [*range(edgeitems), *range(length - edgeitems, length)]
    return np.stack([_summarized_data(array[i], edgeitems) for i in rows])


def _tensor_str(array: np.ndarray, indent: int, opts: PrintOptions) -> str:
    summarize = array.size > opts.threshold
    shown = _summarized_data(array, opts.edgeitems) if summarize else array
    formatter = _Formatter(shown, opts)
    return _nested_str(array, indent, summarize, formatter, opts)


def _nested_str(
    array: np.ndarray,
    indent: int,
    summarize: bool,
    formatter: _Formatter,
    opts: PrintOptions,
) -> str:
    """Format recursively; inner blocks are separated by ndim-1 newlines."""
    if array.ndim == 0:
        return formatter.format(array.item())
    if array.ndim == 1:
        return _vector_str(array, indent, summarize, formatter, opts)

    def render(i: int) -> str:
        return _nested_str(array[i], indent + 1, summarize, formatter, opts)

    length, edge = len(array), opts.edgeitems
    if summarize and length > 2 * edge:
        head = [render(i) for i in range(edge)]
        tail = [render(i) for i in range(length - edge, length)]
        slices = [*head, "...", *tail]
    else:
        slices = [render(i) for i in range(length)]
    separator = "," + "\n" * (array.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(slices) + "]"


def _vector_str(
    array: np.ndarray,
    indent: int,
    summarize: bool,
    formatter: _Formatter,
    opts: PrintOptions,
) -> str:
    """Format a 1-d slice, packing as many elements per line as fit."""
    element_length = formatter.width() + 2  # ", " between elements
    per_line = max(1, math.floor((opts.linewidth - indent) / element_length))
    edge = opts.edgeitems
    if summarize and not edge:
        data = ["..."]
    elif summarize and array.shape[0] > 2 * edge:
        head = [formatter.format(v) for v in array[:edge].tolist()]
        tail = [formatter.format(v) for v in array[-edge:].tolist()]
        data = [*head, " ...", *tail]
    else:
        data = [formatter.format(v) for v in array.tolist()]
    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _add_suffixes(
    tensor_str: str, suffixes: Sequence[str], indent: int, linewidth: int
) -> str:
    """Append ``, suffix`` items, moving one to a new line when it would overflow."""
    parts = [tensor_str]
    # torch's own arithmetic, kept verbatim although it over-counts the last
    # line by 2 characters: wrapping must happen at exactly the same places.
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)
