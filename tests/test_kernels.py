"""The generated dispatch is in step with the op table (and so numba's cache is never stale)."""

from tapegrad.kernels import _dispatch, generate
from tapegrad.ops import OPS


def test_generated_dispatch_is_current():
    assert generate.is_current(), (
        "tapegrad/kernels/_dispatch.py is out of date: run `python -m tapegrad.kernels.generate`")


def test_dispatch_covers_every_op():
    assert _dispatch.N_OPS == len(OPS)
    assert list(_dispatch.READS_A) == [op.reads_a for op in OPS]
    assert list(_dispatch.READS_B) == [op.reads_b for op in OPS]
    assert list(_dispatch.SAVES) == [int(op.saves) for op in OPS]


def test_readme_lists_every_op():
    assert generate.readme_is_current(), (
        "README.md's op list is out of date: run `python -m tapegrad.kernels.generate`")
    text = generate.README.read_text(encoding="utf-8")
    for op in OPS:
        assert f"`{op.key}`" in text and f"`{op.name}`" in text, op


def test_every_kernel_function_has_a_name_of_its_own():
    """numba links compiled functions by module + qualname + a per-process counter; two
    different functions with one name, cached by different processes, could be linked to each
    other's code (factory closures and lambdas share a qualname unless renamed)."""
    seen = {}
    for op in OPS:
        for part in (op.fwd, op.vjp):
            fn = part.py_func
            name = (fn.__module__, fn.__qualname__)
            assert seen.setdefault(name, fn) is fn, f"{name} names two kernels ({op.key})"


def test_every_op_has_its_own_kernels_and_the_inline_ops_their_rules():
    """Each op's VJP and forward is a C function of its own (compiled when first used); the
    core kernels run only the inline ops' records themselves, by their scalar rules."""
    from tapegrad.kernels.abi import INLINE_KEYS

    for op in OPS:
        assert callable(getattr(_dispatch, f"vjp_{op.code}"))
        assert callable(getattr(_dispatch, f"fwd_{op.code}"))
    assert [op.key for op in OPS if _dispatch.INLINE[op.code]] == [
        op.key for op in OPS if op.key in INLINE_KEYS]
    assert all(OPS[code].rules for code, inline in enumerate(_dispatch.INLINE) if inline)
    assert set(INLINE_KEYS) <= {op.key for op in OPS}
