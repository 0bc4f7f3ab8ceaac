"""The ops beyond elementwise arithmetic, as the Tensor API calls them: reductions and norms,
softmax-like ops, max/min, matrix products, views and rearrangements, joins (cat, stack,
where), casts' arguments, and comparisons (no gradient).

Each computes its value with NumPy, then records it through recording.py's ``_record`` with
the int parameters its kernels decode (their format is defined beside the kernels, in ops/).
"""

from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from . import dtypes
from . import recording as _recording_module
from .device import check as _check_device
from .device import device as _device
from .dtypes import not_floating
from .fastpath import _binary, _unary
from .grad_mode import NON_DEFAULT as _NON_DEFAULT
from .grad_mode import STATE
from .ops.linalg import batched_product_params, product_record
from .ops.reduction import dims_params
from .ops.selection import extreme_map
from .ops.shape import broadcast_map, join_params, permutation_map
from .promotion import result_dtype
from .recording import (
    _F64,
    _OP,
    _as_tensor,
    _f64,
    _record,
    _record_parts,
    _recording,
    _share_version,
    _stop_gradient,
    _user_frame,
    _wrap,
)
from .tape import appended
from .tensor import Size, Tensor


def _reshape_without_copy(v: np.ndarray, shape: tuple) -> np.ndarray:
    """``v`` reshaped as a view, or ValueError where that would need a copy (NumPy's
    ``reshape(copy=False)``, which NumPy before 2.1 lacks: there a view's shape is set)."""
    if _HAS_RESHAPE_COPY:
        return v.reshape(shape, copy=False)
    value = v.view()
    try:
        value.shape = shape
    except AttributeError as exc:  # (NumPy's word for "only with a copy")
        raise ValueError(str(exc)) from None
    return value


try:
    _HAS_RESHAPE_COPY = np.zeros(1).reshape(1, copy=False) is not None
except TypeError:
    _HAS_RESHAPE_COPY = False


def _compare(a: Tensor, other, key: str) -> Tensor:
    """A comparison (or all/any): a bool tensor without history.  While compiling, one that
    depends on the inputs is recorded (it may decide a branch), passing no gradient."""
    op = _OP[key]
    if other.__class__ is float or other.__class__ is int:
        if not _NON_DEFAULT[0] or STATE.compile_tape is None or a._tape is None:
            v = a._v
            # a NumPy scalar compares with Python's operator much faster than through a ufunc,
            # and its result is held as the NumPy bool it is (see _storage), as a float64 is
            if v.__class__ is _f64:
                return _wrap(_COMPARE_OPERATOR[key](v, other))
            return _wrap(np.asarray(op.eager(v, other)))
    b = None if other is None else _as_tensor(other)
    if STATE.compile_tape is None or (a._tape is None and (b is None or b._tape is None)):
        value = op.eager(a._v) if b is None else op.eager(a._v, b._v)
        return _wrap(np.asarray(value))
    out = _unary(a, op) if b is None else _binary(op, a, b)
    _stop_gradient(out)
    return out


def _bitwise(a: Tensor, other, logical_key: str, ufunc) -> Tensor:
    """``& | ^ ~``: logical on bool tensors (recorded while compiling, as comparisons are),
    bitwise on integer ones; refused on floats with torch's error."""
    b = None if other is None else _as_tensor(other)
    for t in (a, b):
        if t is not None and t._v.dtype.kind == "f":
            name = {"float64": "Double", "float32": "Float"}.get(t._v.dtype.name, "Half")
            raise NotImplementedError(f'"{ufunc.__name__}_cpu" not implemented for \'{name}\'')
    if a._v.dtype.kind == "b" and (b is None or b._v.dtype.kind == "b"):
        return _compare(a, b, logical_key)
    if STATE.compile_tape is not None and (a._tape is not None or
                                           (b is not None and b._tape is not None)):
        raise NotImplementedError(
            f"{ufunc.__name__} on integer values computed from the inputs cannot be compiled "
            "yet; compute it outside tapegrad.compile, or use comparisons and tapegrad.where")
    return _wrap(np.asarray(ufunc(a._v) if b is None else ufunc(a._v, b._v)))


_COMPARE_OPERATOR = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
                     "gt": operator.gt, "ge": operator.ge, "logical_and": np.logical_and,
                     "logical_or": np.logical_or, "logical_xor": np.logical_xor}


def _expand_to(a: Tensor, value: np.ndarray) -> Tensor:
    """``a`` broadcast to ``value``'s shape (``value`` is the broadcast view)."""
    if value.shape == a._v.shape:
        return a
    if _recording(a):
        out = _record(_OP["expand"], value, a, None, broadcast_map(a._v.shape, value.shape))
    else:
        out = _wrap(value)
    _share_version(out, a)
    return out


def _broadcast_operand(a: Tensor, value: np.ndarray) -> Tensor:
    """``a`` broadcast to ``value``'s shape as an op's internal operand (where, batched
    matmul): recorded as an expand, but no view the user can reach -- so ``a`` is not marked
    as having views (an in-place change of it stays allowed), yet the expand shares ``a``'s
    version box, so that a VJP reading the broadcast value refuses once ``a`` has changed."""
    if value.shape == a._v.shape:
        return a
    return _operand_view(_OP["expand"], a, value, broadcast_map(a._v.shape, value.shape))


def _operand_view(op, a: Tensor, value: np.ndarray, ints=None) -> Tensor:
    """A view of ``a`` that only an op uses internally (see ``_broadcast_operand``), or of
    its own internal result (a batched matmul's squeezed back): a view no user can reach."""
    if not _recording(a):
        return _wrap(value)
    out = _record(op, value, a, None, ints)
    out._vc = a._version_box()
    return out


def _along(a: Tensor, dim, key: str, eager) -> Tensor:
    """softmax-like ops over dims (params as a reduction over them; softmax takes one)."""
    v = a._v
    dims = _normalize_dims(dim, v.ndim)
    if key != "logsumexp" and len(dims) != 1:
        raise TypeError(f"{key}(): dim must be an int, got {dim!r}")
    if v.dtype.kind != "f":  # (torch: logsumexp of integers in the default dtype, no softmax)
        if key != "logsumexp":
            last = "lastdim_" if not v.ndim or dims[0] == v.ndim - 1 else ""
            raise NotImplementedError(f'"{key}_{last}kernel_impl" not implemented for '
                                      f"'{dtypes.SCALAR_NAMES[v.dtype]}'")
        a = _wrap(v.astype(_recording_module._DEFAULT_FLOAT))
        v = a._v
    value = _c_order(np.asarray(eager(v, (dims if len(dims) > 1 else dims[0]) if v.ndim
                                     else None)))
    if _recording(a):
        return _record(_OP[key], value, a, None, dims_params(v.shape, dims))
    return _wrap(value)


class _ValuesIndices(tuple):
    """torch.return_types.max / min: ``values, indices = x.max(dim)``."""

    __slots__ = ()
    kind = "max"

    @property
    def values(self) -> Tensor:
        return self[0]

    @property
    def indices(self) -> Tensor:
        return self[1]

    def __repr__(self) -> str:
        return (f"tapegrad.return_types.{self.kind}(\nvalues={self[0]!r},\n"
                f"indices={self[1]!r})")


class _MinValuesIndices(_ValuesIndices):
    __slots__ = ()
    kind = "min"


def _extreme(a: Tensor, dim, keepdim: bool, kind: str):
    if isinstance(dim, Tensor):  # (torch.max(input, other): the elementwise maximum)
        return a.maximum(dim) if kind == "max" else a.minimum(dim)
    v = a._v
    if dim is None:
        if v.size == 0:
            raise RuntimeError(f"{kind}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        value = np.asarray(_OP[f"{kind}_all"].eager(v))
        return _unary(a, op=_OP[f"{kind}_all"], value=value)
    (d,) = _normalize_dims(dim, v.ndim)
    result = _ValuesIndices if kind == "max" else _MinValuesIndices
    if v.ndim == 0:
        return result((a.clone(), _wrap(np.asarray(0))))
    arg = np.argmax(v, axis=d) if kind == "max" else np.argmin(v, axis=d)
    # NaN is the extreme, as in torch (argmax/argmin already pick the first NaN)
    flat = extreme_map(v.shape, d, arg, keepdim)
    value = _OP[f"{kind}_dim"].eager(v, flat)
    indices = _wrap(np.asarray(np.expand_dims(arg, d) if keepdim else arg, dtype=np.int64))
    if STATE.compile_tape is not None and _recording(a):  # the choice must hold on replay
        tape = STATE.compile_tape
        tape.guards = appended(tape.guards, ("arg" + kind, f"{kind}(dim={dim})",
                                             tape.slot_of(a), (v.shape, d, arg.copy()),
                                             _user_frame()))
    if _recording(a):
        values = _record(_OP[f"{kind}_dim"], value, a, None, flat.ravel().astype(np.int64))
    else:
        values = _wrap(np.asarray(value))
    return result((values, indices))
    # (no watch entry for ``out`` here: each record whose VJP reads it adds one when it takes
    # it as an input, with the version it read -- see Tape.slot_of)


def _view(op, a: Tensor, value: np.ndarray) -> Tensor:
    if _recording(a):
        out = _record(op, value, a, None)
    else:
        out = _wrap(value)
    if np.may_share_memory(value, a._v):
        _share_version(out, a)
    return out


def _rearrange(op, a: Tensor, value: np.ndarray, perm) -> Tensor:
    if _recording(a):
        out = _record(op, value, a, None, permutation_map(a._v.shape, perm))
    else:
        out = _wrap(value)
    _share_version(out, a)
    return out


def _reduce(a: Tensor, dim, keepdim: bool, key_all: str, key_dim: str) -> Tensor:
    v = a._v
    if dim is None:
        op = _OP[key_all]
        value = op.eager(v)  # (a NumPy scalar: a float64 0-d result is held as one)
        if keepdim:
            value = np.asarray(value).reshape((1,) * v.ndim)
        elif value.__class__ is not _f64:
            value = np.asarray(value)
        return _unary(a, op, value)
    dims = _reduced_dims(dim, v.ndim)
    value = _c_order(np.asarray(_OP[key_dim].eager(v, dims, keepdim)))
    if _recording(a):
        return _record(_OP[key_dim], value, a, None, dims_params(v.shape, dims))
    return _wrap(value)


def _norm_order(p) -> float:
    """A norm order given as other than a Python number: ``"fro"`` is the 2-norm."""
    if isinstance(p, str):
        if p == "fro":
            return 2.0
        if p == "nuc":
            raise NotImplementedError("tapegrad does not support the nuclear norm (p='nuc')")
        raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
    if isinstance(p, Tensor) or not isinstance(p, numbers.Real) or isinstance(p, bool):
        raise TypeError(f"norm(): argument 'p' must be a number or 'fro', not "
                        f"{type(p).__name__}")
    return float(p)


def _norm_p(a: Tensor, p: float, dim, keepdim: bool) -> Tensor:
    v = a._v
    if v.dtype.kind != "f":
        raise not_floating("linalg.vector_norm", v.dtype)
    dims = tuple(range(v.ndim)) if dim is None else _reduced_dims(dim, v.ndim)
    if math.isinf(p) and v.size == 0:
        order = "inf" if p > 0 else "-inf"
        if dim is None:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {order} norm on an "
                               "empty tensor because the operation does not have an identity")
        for d in dims:
            if v.shape[d] == 0:  # (torch's message, its missing space included)
                raise RuntimeError(f"linalg.vector_norm cannot compute the {order} norm on the "
                                   f"dimension {d}because this dimension is empty and the "
                                   "operation does not have an identity")
    value = _c_order(np.asarray(_OP["norm_p"].eager(v, dims, keepdim, p)))
    if value.ndim == 0 and value.dtype == _F64:
        value = value[()]  # (a 0-d float64 is held as a NumPy scalar)
    if _recording(a):
        return _record(_OP["norm_p"], value, a, None, dims_params(v.shape, dims), scalar=p)
    return _wrap(value)


def _check_shape(shape: tuple, size: int) -> None:
    """torch's error for a view or reshape to a shape of another number of elements."""
    dims = [int(n) for n in shape]
    if dims.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    for i, n in enumerate(dims):
        if n < -1:
            raise RuntimeError(f"invalid shape dimension {n} at index {i} of shape "
                               f"[{', '.join(map(str, dims))}]")
    known = math.prod(n for n in dims if n != -1)
    if -1 in dims and known == 0 and size == 0:
        raise RuntimeError(f"cannot reshape tensor of 0 elements into shape "
                           f"[{', '.join(map(str, dims))}] because the unspecified dimension "
                           "size -1 can be any value and is ambiguous")
    if (-1 in dims and (known == 0 or size % known)) or (-1 not in dims and known != size):
        raise RuntimeError(f"shape '[{', '.join(map(str, dims))}]' is invalid for input of "
                           f"size {size}")


def _c_order(value: np.ndarray) -> np.ndarray:
    """``value`` in C order: NumPy keeps an input's layout (a transposed input's sum over a
    dim is a strided view) where torch's reductions, softmax and cat return contiguous
    tensors, which ``view`` must accept."""
    return value if value.flags.c_contiguous else np.ascontiguousarray(value)


def _reduced_dims(dim, ndim: int) -> tuple:
    """``dim`` as the sorted dims a reduction removes (none for a 0-d tensor, whose only
    valid dims are 0 and -1), refusing a dim given twice as torch does."""
    dims = _normalize_dims(dim, ndim)
    if not isinstance(dim, numbers.Integral) and len(dims) != len(tuple(dim)):
        d = [d % max(ndim, 1) for d in dim]
        twice = next(x for x in d if d.count(x) > 1)
        raise RuntimeError(f"dim {twice} appears multiple times in the list of dims")
    return dims if ndim else ()


def matmul(input, other) -> Tensor:
    """Matrix product, as ``torch.matmul``: 1-D and 2-D operands, and batches of them (the
    batch dims broadcast).

    >>> import tapegrad as tg
    >>> tg.matmul(tg.ones(2, 3), tg.ones(3))
    tensor([3., 3.])
    """
    a, b = _as_tensor(input), _as_tensor(other)
    sa, sb = a._v.shape, b._v.shape
    if a._v.ndim == 0 or b._v.ndim == 0:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                           f"{a._v.ndim}D and {b._v.ndim}D")
    if a._v.ndim > 2 or b._v.ndim > 2:
        return _batched_matmul(a, b)
    k_a = sa[-1]
    k_b = sb[0]
    if k_a != k_b:
        if a._v.ndim == 1 and b._v.ndim == 1:
            raise RuntimeError(
                f"inconsistent tensor size, expected tensor [{sa[0]}] and src [{sb[0]}] to "
                f"have the same number of elements, but got {sa[0]} and {sb[0]} elements "
                "respectively")
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_mat(sa)} and {_mat(sb, True)})")
    key, ints = product_record(sa, sb)
    value = np.asarray(_OP[key].eager(a._v, b._v))
    if not (_recording(a, b)):
        return _wrap(value)
    return _record(_OP[key], value, a, b, ints)


def _batched_matmul(a: Tensor, b: Tensor) -> Tensor:
    """``(..., m, k) @ (..., k, n)`` with NumPy broadcasting of the batch dims.

    1-D operands are promoted as torch does; operands are expanded to the common batch shape
    (recorded as ExpandBackward0 when needed) and multiplied as contiguous stacks.
    """
    a2 = _operand_view(_OP["unsqueeze"], a, a._v[None]) if a._v.ndim == 1 else a
    b2 = _operand_view(_OP["unsqueeze"], b, b._v[:, None]) if b._v.ndim == 1 else b
    (m, k), (k_b, n) = a2._v.shape[-2:], b2._v.shape[-2:]
    try:
        batch = np.broadcast_shapes(a2._v.shape[:-2], b2._v.shape[:-2])
    except ValueError:
        batch = None
    if k != k_b or batch is None:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"{list(a._v.shape)} @ {list(b._v.shape)} cannot be multiplied")
    a3 = _broadcast_operand(a2, np.broadcast_to(a2._v, batch + (m, k)))
    b3 = _broadcast_operand(b2, np.broadcast_to(b2._v, batch + (k, n)))
    value = _OP["bmm"].eager(a3._v, b3._v)
    if _recording(a3, b3):
        out = _record(_OP["bmm"], value, a3, b3, batched_product_params(batch, m, k, n))
    else:
        out = _wrap(value)
    v = out._v
    if a._v.ndim == 1:
        out = _operand_view(_OP["squeeze_dim"], out, v.reshape(v.shape[:-2] + v.shape[-1:]))
    elif b._v.ndim == 1:
        out = _operand_view(_OP["squeeze_dim"], out, v.reshape(v.shape[:-1]))
    return out


def _mat(shape, right: bool = False) -> str:
    if len(shape) == 2:
        return f"{shape[0]}x{shape[1]}"
    return f"{shape[0]}x1" if right else f"1x{shape[0]}"


def _to_arguments(args: tuple, kwargs: dict) -> tuple:
    """``Tensor.to``'s arguments, as torch takes them: the target dtype (or None), ``copy``."""
    unknown = set(kwargs) - {"dtype", "device", "copy", "non_blocking"}
    if unknown:
        raise TypeError(f"to() got an unexpected keyword argument '{sorted(unknown)[0]}'")
    dtype, device = kwargs.get("dtype"), kwargs.get("device")
    for arg in args:
        if isinstance(arg, Tensor):
            dtype = arg._v.dtype
        elif isinstance(arg, (str, _device)):
            device = arg
        elif arg is not None:
            dtype = arg
    _check_device(device)
    return dtype, bool(kwargs.get("copy", False))


def _shape_arg(shape: tuple) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        return tuple(shape[0])
    return tuple(shape)


def _check_permutation(dims: tuple, ndim: int) -> None:
    """torch's refusal of ``dims`` that are not a permutation of ``range(ndim)``."""
    if len(dims) != ndim:
        raise RuntimeError(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the "
            "length of the desired ordering of dimensions i.e. input.dim() = "
            f"{ndim} is not equal to len(dims) = {len(dims)}")
    for d in dims:
        if not isinstance(d, numbers.Integral):
            raise TypeError(f"permute(): argument 'dims' must be tuple of ints, but found "
                            f"element of type {type(d).__name__}")
    if len(set(_normalize_dims(d, ndim)[0] for d in dims)) != ndim:
        raise RuntimeError("permute(): duplicate dims are not allowed.")


def _normalize_dims(dim, ndim: int) -> tuple:
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {d})")
        out.append(d % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def cat(tensors, dim: int = 0) -> Tensor:
    """Concatenate along an existing dim, as ``torch.cat``.

    >>> import tapegrad as tg
    >>> tg.cat([tg.ones(1, 2), tg.zeros(1, 2)])
    tensor([[1., 1.],
            [0., 0.]])
    """
    return _join(tensors, dim, "cat")


def stack(tensors, dim: int = 0) -> Tensor:
    """Stack along a new dim, as ``torch.stack``.

    >>> import tapegrad as tg
    >>> tg.stack([tg.ones(2), tg.zeros(2)], dim=1)
    tensor([[1., 0.],
            [1., 0.]])
    """
    return _join(tensors, dim, "stack")


def _join(tensors, dim: int, kind: str) -> Tensor:
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise RuntimeError(f"{kind}(): expected a non-empty list of Tensors")
    values = [t._v for t in ts]
    ndim = values[0].ndim + (kind == "stack")
    (d,) = _normalize_dims(dim, ndim)
    try:
        value = _c_order(_OP[kind].eager(values, axis=d))
    except ValueError as err:
        shapes = ", ".join(str(list(v.shape)) for v in values)
        raise RuntimeError(f"{kind}(): tensors must have matching sizes except in the "
                           f"concatenated dim; got shapes {shapes} ({err})") from None
    if not (_recording(*ts)):
        return _wrap(value)
    params = join_params(value.shape, d, [t._v.size for t in ts])
    return _record_parts(value, [(_OP[kind], t, None, ints)
                                 for t, ints in zip(ts, params, strict=True)])


def where(condition, input=None, other=None) -> Tensor:
    """Elements of ``input`` where ``condition`` holds, else of ``other`` (broadcasting all
    three), as ``torch.where``; ``where(condition)`` alone is ``nonzero(condition,
    as_tuple=True)``.

    >>> import tapegrad as tg
    >>> x = tg.tensor([-1.0, 2.0])
    >>> tg.where(x > 0, x, 0.0)
    tensor([0., 2.])
    """
    if input is None and other is None:
        from .sorting import nonzero

        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where() received an invalid combination of arguments: give both "
                        "input and other, or neither")
    c, xt, yt = _as_tensor(condition), _as_tensor(input), _as_tensor(other)
    x_number, y_number = not isinstance(input, Tensor), not isinstance(other, Tensor)
    if x_number or y_number or xt._v.dtype is not yt._v.dtype:  # (torch's promotion)
        dtype = result_dtype(input if x_number else xt._v, other if y_number else yt._v)
        xt, yt = _in_dtype(xt, dtype), _in_dtype(yt, dtype)
    value = np.asarray(_OP["where_x"].eager(c._v, xt._v, yt._v))
    # while compiling, a condition computed from the inputs is recorded too (it passes no
    # gradient): the replay must route constants by it (a graph rule's seed gradient)
    if not (_recording(xt, yt) or (STATE.compile_tape is not None and c._tape is not None)):
        return _wrap(value)
    shape = value.shape
    # the condition stays the tensor it is: while compiling it may be a recorded comparison
    mask = _broadcast_operand(c, np.broadcast_to(c._v, shape))
    xe = _broadcast_operand(xt, np.broadcast_to(xt._v, shape))
    ye = _broadcast_operand(yt, np.broadcast_to(yt._v, shape))
    return _record_parts(value, [(_OP["where_x"], xe, mask, None),
                                 (_OP["where_y"], ye, mask, None)])


def _in_dtype(t: Tensor, dtype: np.dtype) -> Tensor:
    """``t`` in ``dtype`` (a recorded cast if it has a history)."""
    if t._v.dtype == dtype:
        return t
    if t._tape is None and not t._rg:
        return _wrap(np.asarray(t._v).astype(dtype))
    return t.to(dtypes.from_numpy_dtype(dtype))


def reshape(input, shape) -> Tensor:
    """``input`` with the shape ``shape`` (a view where the strides allow), as ``torch.reshape``.

    >>> import tapegrad as tg
    >>> tg.reshape(tg.arange(4.0), (2, 2))
    tensor([[0., 1.],
            [2., 3.]])
    """
    return _as_tensor(input).reshape(shape)


def permute(input, dims) -> Tensor:
    """``input``'s dims in the order ``dims`` (a view), as ``torch.permute``.

    >>> import tapegrad as tg
    >>> tg.permute(tg.ones(2, 3), (1, 0)).shape
    tapegrad.Size([3, 2])
    """
    return _as_tensor(input).permute(tuple(dims))


def _numpy_aliases(a: Tensor, name: str, dim, keepdim, dtype, axis, keepdims):
    """torch's NumPy spellings ``axis=`` (for ``dim``) and ``keepdims=`` (for ``keepdim``),
    and ``dtype=`` (the input cast first), resolved off the common path: a method calls this
    only when one of them is given."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}() got an unexpected keyword argument 'axis'")
        dim = axis
    if keepdims is not None:
        if keepdim:
            raise TypeError(f"{name}() got an unexpected keyword argument 'keepdims'")
        keepdim = keepdims
    if dtype is not None:
        a = a.to(dtype)
    return a, dim, bool(keepdim)


def _numpy_signatures() -> None:
    """The methods taking ``axis=``/``keepdims=`` (see _numpy_aliases) show torch's documented
    parameters only.  Called by tensor.py before surface.install, which gives the ``tapegrad.``
    functions the methods' signatures."""
    import inspect

    p = inspect.Parameter

    def sig(*params):
        return inspect.Signature([p("self", p.POSITIONAL_OR_KEYWORD), *params])

    dim, dim_none = p("dim", p.POSITIONAL_OR_KEYWORD), p("dim", p.POSITIONAL_OR_KEYWORD,
                                                          default=None)
    keepdim = p("keepdim", p.POSITIONAL_OR_KEYWORD, default=False)
    dtype_kw = p("dtype", p.KEYWORD_ONLY, default=None)
    for name in ("sum", "mean"):
        Tensor.__dict__[name].__signature__ = sig(dim_none, keepdim, dtype_kw)
    for name in ("max", "min"):
        Tensor.__dict__[name].__signature__ = sig(dim_none, keepdim)
    for name in ("softmax", "log_softmax"):
        Tensor.__dict__[name].__signature__ = sig(
            dim, p("dtype", p.POSITIONAL_OR_KEYWORD, default=None))
    Tensor.logsumexp.__signature__ = sig(dim, keepdim)
    Tensor.squeeze.__signature__ = sig(dim_none)
    Tensor.unsqueeze.__signature__ = sig(dim)
