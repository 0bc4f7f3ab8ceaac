"""The op table.  Importing this package registers every op, in a fixed order (= opcodes)."""

from . import elementwise, linalg, reduction, shape  # noqa: F401  (registration order)
from .registry import BY_KEY, OPS, READS_A, READS_B, READS_Y, Op

__all__ = ["OPS", "BY_KEY", "Op", "READS_A", "READS_B", "READS_Y"]
