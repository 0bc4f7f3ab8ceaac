"""The op table.  Importing this package registers every op, in a fixed order (= opcodes)."""

# registration order = opcodes
from . import compare, elementwise, linalg, reduction, selection, shape, softmax  # noqa: F401

# isort: split
from . import fill  # noqa: F401  (its opcodes follow all the ones above)

# isort: split
from . import mathfuncs  # noqa: F401  (torch's math beyond the core, added later: new opcodes)

# isort: split
from . import cumulative  # noqa: F401  (prod, scans, amax/amin: issue 19, new opcodes)

# isort: split
from . import rearrange  # noqa: F401  (repeat: a gather keeping nothing, issue 19, new opcode)

# isort: split
from . import pyfunction  # noqa: F401  (the opcodes before it do not move)

# isort: split
from . import mathfuncs2  # noqa: F401  (more of torch's elementwise math: new opcodes)

# isort: split
from . import gamma, special  # noqa: F401  (torch's special functions, added later: new opcodes)

# isort: split
from .registry import BY_KEY, OPS, READS_A, READS_B, READS_Y, Op

__all__ = ["OPS", "BY_KEY", "Op", "READS_A", "READS_B", "READS_Y"]
