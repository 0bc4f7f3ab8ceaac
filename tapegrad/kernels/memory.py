"""Raw views of tape storage inside numba.

The backward kernel sees every slot (value or gradient) as a 1-D float64 array made from an
address and a length.  Small values are packed into one buffer at backward time; large arrays are
read where they already live, so a 100,000-element tape is never copied.  The arrays behind every
address are kept alive by the tape (values) or by the engine's workspace (gradients) for the whole
kernel call.
"""

from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

# The views are intrinsics -- LLVM code written here -- rather than ``carray`` calls in
# ``inline="always"`` functions: numba inlines such a function by copying and re-typing its IR
# at every call site, which was most of the sweep's compile time (dozens of views); an
# intrinsic costs nothing to type and compiles to the same few instructions.


def _view(context, builder, array_type, address, shape):
    """An ``array_type`` (C-contiguous) array of ``shape`` (LLVM intp values) at ``address``,
    owning nothing (no meminfo: nothing to count references of)."""
    array = make_array(array_type)(context, builder)
    item = context.get_data_type(array_type.dtype)
    itemsize = context.get_abi_sizeof(item)
    intp = context.get_value_type(types.intp)
    strides = [intp(itemsize)]
    for n in reversed(shape[1:]):
        strides.insert(0, builder.mul(strides[0], n))
    populate_array(array, data=builder.inttoptr(address, item.as_pointer()), shape=shape,
                   strides=strides, itemsize=itemsize, meminfo=None)
    return array._getvalue()


def _maker(dtype, ndim: int, doc: str):
    array_type = types.Array(dtype, ndim, "C")

    def typer(typingctx, address, *shape):
        if len(shape) != ndim or not all(isinstance(t, types.Integer) for t in shape):
            return None

        def codegen(context, builder, signature, args):
            sizes = [context.cast(builder, v, t, types.intp)
                     for v, t in zip(args[1:], signature.args[1:], strict=True)]
            return _view(context, builder, array_type, args[0], sizes)

        return array_type(types.int64, *shape), codegen

    # (numba's intrinsic needs the arguments spelled out)
    if ndim == 1:
        def view(typingctx, address, size):
            return typer(typingctx, address, size)
    else:
        def view(typingctx, address, rows, columns):
            return typer(typingctx, address, rows, columns)
    view.__doc__ = doc
    return intrinsic(view)


slot_view = _maker(types.float64, 1, "A 1-D float64 array of ``size`` elements at ``address``.")
int_view = _maker(types.int64, 1, "A 1-D int64 array of ``size`` elements at ``address``.")
byte_view = _maker(types.uint8, 1, "A 1-D uint8 array of ``size`` elements at ``address``.")
int_table = _maker(types.int64, 2, "A ``(rows, columns)`` int64 array at ``address``: records.")


@intrinsic
def word(typingctx, address):
    """The int64 at ``address``."""
    sig = types.int64(types.int64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        return builder.load(builder.inttoptr(args[0], i64.as_pointer()))

    return sig, codegen


@intrinsic
def call_address(typingctx, address, args):
    """Call the C function at ``address`` with the int64s of the tuple ``args``; its int64
    result.  How the sweep and the replay reach an op's kernel (see ``optable.py``): numba has
    no call through a pointer it does not know at compile time, which a cached kernel needs."""
    if not isinstance(args, types.BaseTuple) or not all(
            isinstance(t, (types.Integer, types.Boolean)) for t in args):
        return None
    n = len(args)
    sig = types.int64(types.int64, args)

    def codegen(context, builder, signature, llargs):
        i64 = ir.IntType(64)
        fn = builder.inttoptr(llargs[0], ir.FunctionType(i64, [i64] * n).as_pointer())
        values = cgutils.unpack_tuple(builder, llargs[1], n)
        values = [context.cast(builder, v, t, types.int64)
                  for v, t in zip(values, args, strict=True)]
        return builder.call(fn, values)

    return sig, codegen
