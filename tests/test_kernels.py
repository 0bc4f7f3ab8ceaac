"""The generated dispatch is in step with the op table (and so numba's cache is never stale)."""

from tapegrad.kernels import _dispatch, generate
from tapegrad.ops import OPS


def test_generated_dispatch_is_current():
    assert generate.is_current(), (
        "tapegrad/kernels/_dispatch.py is out of date: run `python -m tapegrad.kernels.generate`")


def test_dispatch_covers_every_op():
    assert _dispatch.N_OPS == len(OPS)
    assert list(_dispatch.READS) == [op.reads for op in OPS]
