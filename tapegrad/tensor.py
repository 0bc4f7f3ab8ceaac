"""The Tensor front end: torch's API over NumPy values, recording onto the tape.

Every differentiable method follows one path: compute the value eagerly with the op's NumPy
forward (bad shapes raise here, before anything is recorded), and -- only when grad mode is on and
an input requires grad -- append one record to the tape.  The per-op Python work on that path is
what users feel, so it is kept short: no Python object per operation is created besides the
result tensor.
"""

from __future__ import annotations

import math
import numbers
import operator
import struct
import threading
import weakref
from array import array
from types import FunctionType
from typing import Any

import numpy as np

from . import dtypes
from .device import CPU as _CPU
from .device import check as _check_device
from .device import device as _device
from .engine import backward as _engine_backward
from .grad_mode import NON_DEFAULT as _NON_DEFAULT
from .grad_mode import STATE
from .node import grad_fn_of
from .ops import BY_KEY
from .ops.elementwise import TWO
from .ops.shape import CAST_TO, basic_params, broadcast_map, gather_map
from .printing import format_tensor, needs_dtype_suffix
from .tape import BIG, BUSY, appended, interrupted, open_tape, open_tape_if, tape_for, tape_for_all
from .tape import RECORD as _RECORD

_OP = {key: op for key, op in BY_KEY.items()}
_SLICE = _OP["slice"]
_CAST = _OP["to_copy"]
_Real = (int, float)
_f64 = np.float64
_ndarray = np.ndarray
_F64 = np.dtype(np.float64)
_new = object.__new__
_ACCUMULATING = threading.Lock()  # (one for all leaves: backwards meet rarely)

LEAF_INPLACE = "a leaf Variable that requires grad is being used in an in-place operation."
VIEW_OF_LEAF_INPLACE = ("a view of a leaf Variable that requires grad is being used in an "
                        "in-place operation.")


class Size(tuple):
    """A shape, printed as torch prints ``torch.Size``."""

    __slots__ = ()

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n

    def __repr__(self) -> str:
        return f"tapegrad.Size([{', '.join(map(str, self))}])"


def _operator(key: str, scalar_key: str | None = None, reflected: bool = False,
              function=None, extra: tuple = ()):
    """``a <op> b`` (``b <op> a`` if ``reflected``) for a tensor ``a``: the per-op entry point of
    + - * / **.  It is ``_arithmetic`` itself -- or ``function``, a tensor subclass's own --
    with this operator's ops (and ``extra``) as its defaults (one function object per operator,
    sharing one code object): a Python call less per op than a method calling ``_arithmetic``,
    ~8% of an op on a small tensor."""
    name = f"__{'r' if reflected else ''}{key}__"
    method = FunctionType((function or _arithmetic).__code__, globals(), name,
                          (_OP[key], _OP[scalar_key or key + "_scalar"], reflected, *extra))
    method.__qualname__ = f"Tensor.{name}"
    return method


def _subclass_operators(cls, function, extra=lambda op, reflected: ()) -> None:
    """Give a tensor subclass its own + - * / ** both ways: ``function`` bound to each (see
    _operator; ``extra(op, reflected)`` gives further defaults).  Python asks a subclass's
    reflected operator before a plain tensor's own, so ``function`` sees those too."""
    for key, method, reflected_number in (("add", "add", "add_scalar"),
                                          ("sub", "sub", "rsub_scalar"),
                                          ("mul", "mul", "mul_scalar"),
                                          ("div", "truediv", None),
                                          ("pow", "pow", "rpow_scalar")):
        setattr(cls, f"__{method}__", _operator(key, function=function,
                                                extra=extra(_OP[key], False)))
        setattr(cls, f"__r{method}__", _operator(key, reflected_number, True, function,
                                                 extra(_OP[key], True)) if reflected_number
                else _rdiv)


class Tensor:
    """An n-dimensional array that records the operations made on it for reverse-mode AD.

    >>> import tapegrad as tg
    >>> x = tg.ones(2, 2, requires_grad=True)
    >>> out = ((x + 2) * (x + 2) * 3).mean()
    >>> out.backward()
    >>> x.grad
    tensor([[4.5000, 4.5000],
            [4.5000, 4.5000]])
    """

    # read on every op, so slots (set by each constructor: _wrap, _emit, _record, ...):
    # _v     -- the value: an array, or a NumPy float64 for a 0-d float64 (see _storage)
    # _tape  -- the Tape of a non-leaf (recorded) tensor, else None
    # _slot  -- its slot on that tape (-1)
    # _vc    -- version box [n], shared with views and detached aliases; None until needed
    # _f     -- set on a _OneFloat only: its value as a Python float, ``_v`` not made yet
    __slots__ = ("_v", "_tape", "_slot", "_vc", "_f", "__dict__", "__weakref__")
    # class-level defaults: a new tensor only sets what differs from a plain constant
    _rg = False  # requires_grad, for leaves
    _grad = None
    _lreg = None  # (tape serial, slot, version) of its latest registration as a tape input
    _base = None  # for a view: the tensor whose storage it shares
    _stop = False  # tg.compile only: recorded for replay, passes no gradient (no_grad, detach)
    __array_priority__ = 1000
    __array_ufunc__ = None  # NumPy defers to our reflected operators
    __hash__ = object.__hash__

    def __init__(self, data: Any, dtype=None, requires_grad: bool = False) -> None:
        self._v = _as_array(data, dtype)
        self._tape = None
        self._slot = -1
        self._vc = None
        if requires_grad:
            self.requires_grad_(True)

    # -- attributes ---------------------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        return (self._tape is not None and not self._stop) or self._rg

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    @property
    def is_leaf(self) -> bool:
        return self._tape is None or self._stop

    @property
    def grad_fn(self):
        return None if self._stop else grad_fn_of(self)

    @property
    def grad(self) -> Tensor | None:
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"assigned grad expected to be a Tensor or None, got {type(value)}")
        if value is not None and value.shape != self.shape:
            raise RuntimeError(
                f"assigned grad has data of a different size: {value.shape} vs {self.shape}")
        self._grad = value

    @property
    def data(self) -> Tensor:
        if _NON_DEFAULT[0] and STATE.compile_tape is not None and self._tape is not None:
            return _detached_in_compile(self)
        return _wrap(_storage(self))

    @data.setter
    def data(self, value: Tensor) -> None:
        new = _storage(value) if isinstance(value, Tensor) else _as_array(value, None)
        _replace_value(self, new)

    @property
    def shape(self) -> Size:
        return Size(self._v.shape)

    def size(self, dim: int | None = None):
        return Size(self._v.shape) if dim is None else self._v.shape[dim]

    @property
    def device(self):
        """Always the CPU (``device(type='cpu')``), as torch's ``.device``."""
        return _CPU

    is_cuda = False

    @property
    def ndim(self) -> int:
        return self._v.ndim

    def dim(self) -> int:
        return self._v.ndim

    def numel(self) -> int:
        return self._v.size

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.from_numpy_dtype(self._v.dtype)

    @property
    def T(self) -> Tensor:
        return self.permute(tuple(range(self._v.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        if self._v.ndim < 2:
            if not self._v.ndim:
                return self  # (torch: deprecated on a 0-d tensor, which it returns)
            raise RuntimeError("tensor.mT is only supported on matrices or batches of "
                               f"matrices. Got {self._v.ndim}-D tensor.")
        return self.transpose(-2, -1)

    def is_floating_point(self) -> bool:
        return self._v.dtype.kind == "f"

    # -- autograd -----------------------------------------------------------------------------

    backward = _engine_backward  # (defined in engine.py, with the sweep it runs)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self._tape is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach().")
            return self
        if requires_grad and self._v.dtype.kind != "f":
            raise RuntimeError(
                "only floating point and complex dtype tensors can require gradients "
                f"(got {self.dtype})")
        self._rg = bool(requires_grad)
        self._lreg = None
        return self

    def retain_grad(self) -> None:
        if self._tape is None:
            if not self._rg:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        tape = self._tape
        for slot, ref in tape.retained:
            if slot == self._slot and ref() is self:
                return  # retained already: torch's second call does nothing
        tape.retained = appended(tape.retained, (self._slot, weakref.ref(self)))

    def detach(self) -> Tensor:
        """A tensor with the same storage (and version counter) and no history."""
        if _NON_DEFAULT[0] and STATE.compile_tape is not None and self._tape is not None:
            return _detached_in_compile(self)
        out = _wrap(_storage(self))
        out._vc = self._version_box()
        return out

    def detach_(self) -> Tensor:
        if self._tape is not None:
            if self.__class__ is not Tensor:  # (their short paths assume a tape)
                self._v  # noqa: B018 -- a _OneFloat's array, made
                _make_plain(self)
            self._tape = None
            self._slot = -1
        self._rg = False
        self._lreg = None  # (a registration as a leaf or a link would still pass gradients)
        return self

    def _accumulate(self, g: np.ndarray) -> None:
        """Add a gradient (float64) into ``.grad``, in this tensor's dtype: atomically with
        respect to other threads' backwards (NumPy's add lets other threads run meanwhile)."""
        if self._grad is None:
            first = _wrap(g.astype(self._v.dtype, copy=True))
            if self._grad is None:  # (no call since the test: no other thread came between)
                self._grad = first
                return
        with _ACCUMULATING:
            np.add(self._grad._v, g, out=self._grad._v, casting="unsafe")

    def _version_box(self) -> list:
        box = self._vc
        if box is None:
            box = self._vc = [0]
            if self._tape is not None:  # from now on, in-place changes are seen by the tape
                self._tape.watch.append((box, 0, self._slot, self._v.shape))
        return box

    @property
    def _version(self) -> int:
        return 0 if self._vc is None else self._vc[0]

    # -- conversion ---------------------------------------------------------------------------

    def item(self):
        _guard(self, "item()")
        if self._v.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._v.size} elements cannot be converted to Scalar")
        return self._v.reshape(()).item()

    def tolist(self):
        _guard(self, "tolist()")
        return self._v.tolist()

    def numpy(self) -> np.ndarray:
        if _NON_DEFAULT[0]:  # (only while compiling can it be a guard: _guard's test first)
            _guard(self, "numpy()")
        if self._rg or (self._tape is not None and not self._stop):  # (requires_grad)
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead.")
        v = self._v
        return v if v.__class__ is _ndarray else _storage(self)

    def __array__(self, dtype=None, copy=None):
        _guard(self, "np.asarray()")
        return np.asarray(self._v, dtype=dtype)

    def __bool__(self) -> bool:
        _guard(self, "bool()")
        if self._v.size != 1:
            raise RuntimeError(
                "Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._v)

    def __float__(self) -> float:
        _guard(self, "float()")
        return float(self._item())

    def __int__(self) -> int:
        _guard(self, "int()")
        return int(self._item())

    def _item(self):
        if self._v.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._v.size} elements cannot be converted to Scalar")
        return self._v.reshape(()).item()

    def __index__(self) -> int:
        if self._v.dtype.kind not in "iub" or self._v.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        _guard(self, "index")
        return int(self._item())

    def __len__(self) -> int:
        if self._v.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._v.shape[0]

    def __iter__(self):
        if self._v.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._v.shape[0]))

    def __repr__(self) -> str:
        suffixes = []
        if needs_dtype_suffix(self._v, np.float64):
            suffixes.append(f"dtype={self.dtype}")
        if self._tape is not None:
            suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self._rg:
            suffixes.append("requires_grad=True")
        text = format_tensor(self._v, suffixes)
        # (an nn.Parameter is a marked Tensor, not a subclass: see tapegrad/nn/module.py)
        return "Parameter containing:\n" + text if self.__dict__.get("_is_param") else text

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._v.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self) if not spec else format(repr(self), spec)

    def __reduce__(self):
        return (_rebuild, (self._v, self._rg))

    # -- arithmetic ---------------------------------------------------------------------------

    # (+ - * / ** are _arithmetic bound to their ops by _operator, and unary - and abs() are
    # _unary bound by _math, once the class exists)

    def __pos__(self):
        return self

    # (the named forms take exactly one operand, as torch's do)
    def add(self, other) -> Tensor:
        return self + other

    def sub(self, other) -> Tensor:
        return self - other

    def mul(self, other) -> Tensor:
        return self * other

    def div(self, other) -> Tensor:
        return self / other

    def pow(self, exponent) -> Tensor:
        return self ** exponent

    def __matmul__(self, other):
        return matmul(self, other)

    def __rmatmul__(self, other):
        return matmul(_as_tensor(other), self)

    matmul = __matmul__

    def __iadd__(self, other):
        return _inplace(self, other, "add", "add_scalar")

    def __isub__(self, other):
        return _inplace(self, other, "sub", "sub_scalar")

    def __imul__(self, other):
        return _inplace(self, other, "mul", "mul_scalar")

    def __itruediv__(self, other):
        return _inplace(self, other, "div", "div_scalar")

    add_ = __iadd__
    sub_ = __isub__
    mul_ = __imul__
    div_ = __itruediv__

    def zero_(self) -> Tensor:
        return _inplace(self, 0.0, "mul", "zero", fill=0.0)

    def fill_(self, value: float) -> Tensor:
        _check_real_fill(self, value)
        return _inplace(self, 0.0, "mul", "fill", fill=float(value))

    # -- comparisons (no gradient) -------------------------------------------------------------

    def eq(self, other):
        return _compare(self, other, "eq")

    def ne(self, other):
        return _compare(self, other, "ne")

    def logical_and(self, other):
        """Elementwise ``and`` of truth values (nonzero is true), as a bool tensor; ``&`` on
        two bool tensors is the same.

        >>> import tapegrad as tg
        >>> x = tg.tensor([-1.0, 0.5, 2.0])
        >>> (x > 0) & (x < 1), tg.logical_not(x > 0)
        (tensor([False,  True, False]), tensor([ True, False, False]))
        """
        return _compare(self, other, "logical_and")

    def logical_or(self, other):
        return _compare(self, other, "logical_or")

    def logical_xor(self, other):
        return _compare(self, other, "logical_xor")

    def logical_not(self):
        return _compare(self, None, "logical_not")

    def __and__(self, other):
        return _bitwise(self, other, "logical_and", np.bitwise_and)

    def __or__(self, other):
        return _bitwise(self, other, "logical_or", np.bitwise_or)

    def __xor__(self, other):
        return _bitwise(self, other, "logical_xor", np.bitwise_xor)

    def __invert__(self):
        return _bitwise(self, None, "logical_not", np.invert)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def lt(self, other):
        return _compare(self, other, "lt")

    def le(self, other):
        return _compare(self, other, "le")

    def gt(self, other):
        return _compare(self, other, "gt")

    def ge(self, other):
        return _compare(self, other, "ge")

    __eq__ = eq
    __ne__ = ne
    __lt__ = lt
    __le__ = le
    __gt__ = gt
    __ge__ = ge

    def all(self) -> Tensor:
        return _compare(self, None, "all")

    def any(self) -> Tensor:
        return _compare(self, None, "any")

    def equal(self, other: Tensor) -> bool:
        return self.shape == other.shape and bool(np.array_equal(self._v, other._v))

    # -- elementwise math ----------------------------------------------------------------------

    # (exp log sin cos tanh sigmoid relu sqrt neg abs: _unary bound by _math below the class)

    def clamp(self, min=None, max=None):  # noqa: A002 -- torch's names
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        key = "clamp" if min is not None and max is not None else (
            "clamp_min" if min is not None else "clamp_max")
        lo = -np.inf if min is None else float(min)
        hi = np.inf if max is None else float(max)
        value = np.asarray(np.clip(self._v, min, max))
        if _recording(self):
            return _record(_OP[key], value, self, None, scalars=(lo, hi))
        return _wrap(value)

    clip = clamp

    def softmax(self, dim: int):
        return _along(self, dim, "softmax", lambda v, d: _OP["softmax"].eager(v, d))

    def log_softmax(self, dim: int):
        return _along(self, dim, "log_softmax", lambda v, d: _OP["log_softmax"].eager(v, d))

    def logsumexp(self, dim, keepdim: bool = False):
        return _along(self, dim, "logsumexp",
                      lambda v, d: _OP["logsumexp"].eager(v, d, keepdim))

    def max(self, dim=None, keepdim: bool = False):
        return _extreme(self, dim, keepdim, "max")

    def min(self, dim=None, keepdim: bool = False):
        return _extreme(self, dim, keepdim, "min")

    def maximum(self, other):
        return _binary(_OP["maximum"], self, _as_tensor(other))

    def minimum(self, other):
        return _binary(_OP["minimum"], self, _as_tensor(other))

    # -- reductions ----------------------------------------------------------------------------

    def sum(self, dim=None, keepdim: bool = False):
        return _reduce(self, dim, keepdim, "sum", "sum_dim")

    def mean(self, dim=None, keepdim: bool = False):
        if self._v.dtype.kind != "f":
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {self.dtype.name.capitalize()}")
        return _reduce(self, dim, keepdim, "mean", "mean_dim")

    def norm(self, p="fro", dim=None, keepdim: bool = False):
        """The vector ``p``-norm over ``dim`` (every dim if None), as ``torch.norm``: ``p`` any
        number, ``inf``, ``-inf`` or ``"fro"`` (the 2-norm), with torch's gradients at zeros
        and ties.

        >>> import tapegrad as tg
        >>> tg.tensor([[3.0, -4.0], [0.0, 1.0]]).norm(float("inf"), dim=1)
        tensor([4., 1.])
        """
        if p.__class__ is not int and p.__class__ is not float:
            p = 2 if p.__class__ is str and p == "fro" else _norm_order(p)
        if p == 2 and dim is None and not keepdim:
            v = self._v
            if v.size < 16 and v.dtype is _F64:  # (in Python: a third of a dot's time)
                squares = 0.0
                for x in (v if v.ndim == 1 else v.reshape(-1)).tolist():
                    squares += x * x
                value = _f64(math.sqrt(squares))
            else:
                flat = v if v.ndim == 1 else v.reshape(-1)
                squares = flat.dot(flat)  # a fifth of np.sum(v * v)'s time on small vectors
                value = _f64(math.sqrt(squares)) if squares.__class__ is _f64 else \
                    np.asarray(np.sqrt(squares))
            if self._tape is None and not self._rg:  # e.g. y.data.norm() in a loop test
                return _wrap(value)
            return _unary(self, op=_OP["norm"], value=value)
        return _norm_p(self, float(p), dim, keepdim)

    # -- shapes --------------------------------------------------------------------------------

    def reshape(self, *shape):
        shape = _shape_arg(shape)
        if min(shape, default=0) < -1:  # (NumPy takes any negative size for -1)
            _check_shape(shape, self._v.size)
        try:
            value = _storage(self).reshape(shape)
        except ValueError:
            _check_shape(shape, self._v.size)
            raise
        return _view(_OP["view"], self, value)

    def view(self, *shape):
        shape = _shape_arg(shape)
        v = _storage(self)
        if min(shape, default=0) < -1:  # (NumPy takes any negative size for -1)
            _check_shape(shape, v.size)
        try:
            # torch views whenever the strides allow it (a slice viewed as its own shape, a
            # column of a matrix as a vector), which is NumPy's rule for a reshape without copy
            value = v.reshape(shape, copy=False)
        except ValueError:
            _check_shape(shape, v.size)
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) "
                "instead.") from None
        return _view(_OP["view"], self, value)

    def flatten(self):
        return self.reshape(-1)

    def clone(self):
        # torch's clone keeps the layout of a dense input (a transposed one stays transposed)
        v = self._v
        return _unary(self, op=_OP["clone"], value=v.copy() if v.__class__ is not _ndarray or
                      v.flags.c_contiguous else v.copy(order="K"))

    def contiguous(self):
        if self._v.flags.c_contiguous:
            return self
        return _unary(self, op=_OP["clone"], value=np.ascontiguousarray(self._v))

    # -- dtype conversion: a copy (recorded between float dtypes), or ``self`` if nothing changes

    def to(self, *args, **kwargs) -> Tensor:
        """``x.to(tg.float32)``, ``x.to(other)`` (its dtype), ``x.to("cpu")``,
        ``x.to(dtype=..., copy=True)``: as torch's, on the CPU.

        >>> import tapegrad as tg
        >>> x = tg.tensor([1.5, 2.5], requires_grad=True)
        >>> y = x.to(tg.float32)
        >>> y
        tensor([1.5000, 2.5000], dtype=tapegrad.float32, grad_fn=<ToCopyBackward0>)
        >>> (y * y).sum().backward()
        >>> x.grad
        tensor([3., 5.])
        """
        dtype, copy = _to_arguments(args, kwargs)
        return self._cast(self._v.dtype if dtype is None else dtype, copy)

    def double(self) -> Tensor:
        """``x.to(tg.float64)``: a copy in float64 (``x`` itself if it is float64 already).

        >>> import tapegrad as tg
        >>> tg.tensor([1.5], dtype=tg.float32).double()
        tensor([1.5000])
        """
        return self._cast(dtypes.float64)

    def float(self) -> Tensor:
        """``x.to(tg.float32)``, differentiable (the gradient comes back in ``x``'s dtype).

        >>> import tapegrad as tg
        >>> tg.tensor([1.5]).float()
        tensor([1.5000], dtype=tapegrad.float32)
        """
        return self._cast(dtypes.float32)

    def half(self) -> Tensor:
        return self._cast(dtypes.float16)

    def long(self) -> Tensor:
        """``x.to(tg.int64)``: truncated toward zero, with no gradient (as in torch).

        >>> import tapegrad as tg
        >>> tg.tensor([1.7, -2.7]).long()
        tensor([ 1, -2])
        """
        return self._cast(dtypes.int64)

    def int(self) -> Tensor:
        return self._cast(dtypes.int32)

    def bool(self) -> Tensor:
        return self._cast(dtypes.bool)

    def cpu(self) -> Tensor:
        return self

    def _cast(self, dtype, copy: bool = False) -> Tensor:
        target = dtypes.from_numpy_dtype(dtypes.to_numpy_dtype(dtype)).np  # (refuses others)
        v = self._v
        if v.dtype == target and not copy:
            return self
        value = np.asarray(v).astype(target)
        if value.ndim == 0 and value.dtype is _F64:
            value = value[()]  # (a 0-d float64 is held as a NumPy scalar)
        between_floats = target.kind == "f" and v.dtype.kind == "f"
        if not between_floats and (STATE.compile_tape is None or self._tape is None):
            return _wrap(value)  # nothing to differentiate, as in torch
        out = _unary(self, _CAST, value, (CAST_TO.index(target),))
        if not between_floats:  # while compiling, a function of the inputs: replayed, passing
            _stop_gradient(out)  # no gradient
            out._tape.mixed = True  # (an int64 value on the tape: see Tape.mixed)
        return out

    def transpose(self, dim0: int, dim1: int):
        nd = _storage(self).ndim
        n = nd or 1  # (a 0-d tensor takes dims 0 and -1, as a 1-d one: the identity)
        for d in (dim0, dim1):
            if not -n <= d < n:
                raise IndexError(f"Dimension out of range (expected to be in range of "
                                 f"[{-n}, {n - 1}], but got {d})")
        perm = list(range(nd))
        if nd:
            perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
        return _rearrange(_OP["transpose"], self, self._v.transpose(perm), perm)

    def permute(self, *dims):
        if not dims:
            raise TypeError('permute() missing 1 required positional arguments: "dims"')
        dims = _shape_arg(dims)
        v = _storage(self)
        try:
            value = v.transpose(dims)
        except (ValueError, IndexError, TypeError):
            _check_permutation(dims, v.ndim)
            raise
        return _rearrange(_OP["permute"], self, value, dims)

    def t(self):
        if _storage(self).ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self._v.ndim}D")
        return _rearrange(_OP["t"], self, self._v.T, tuple(range(self._v.ndim - 1, -1, -1)))

    def expand(self, *sizes):
        if not sizes:
            raise TypeError('expand() missing 1 required positional arguments: "size"')
        sizes = _shape_arg(sizes)
        v = _storage(self)
        if len(sizes) < v.ndim:
            raise RuntimeError(
                f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal "
                f"to the number of dimensions in the tensor ({v.ndim})")
        lead = len(sizes) - v.ndim
        shape = tuple(v.shape[d - lead] if s == -1 and d >= lead else s
                      for d, s in enumerate(sizes))
        try:
            value = np.broadcast_to(v, shape)
        except ValueError:
            raise RuntimeError(
                f"The expanded size of the tensor ({shape}) must match the existing size "
                f"{tuple(v.shape)} at non-singleton dimensions") from None
        if value.shape == v.shape:
            # torch's result is a new tensor here too (ExpandBackward0, a writable view of
            # self), not self: its retain_grad, is_leaf and grad_fn are its own
            value = v[...]
            out = _record(_OP["expand"], value, self, None, broadcast_map(v.shape, v.shape)) \
                if _recording(self) else _wrap(value)
            _share_version(out, self)
            return out
        return _expand_to(self, value)

    def expand_as(self, other: Tensor):
        return self.expand(tuple(other.shape))

    def squeeze(self, dim=None):
        v = _storage(self)
        if dim is None:
            return _view(_OP["squeeze"], self, v.reshape([n for n in v.shape if n != 1]))
        dims = _normalize_dims(dim, v.ndim)
        shape = [n for d, n in enumerate(v.shape) if not (d in dims and n == 1)]
        return _view(_OP["squeeze_dim"], self, v.reshape(shape))

    def unsqueeze(self, dim: int):
        v = _storage(self)
        d = dim if dim >= 0 else dim + v.ndim + 1
        if not 0 <= d <= v.ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-v.ndim - 1}, {v.ndim}], but got {dim})")
        return _view(_OP["unsqueeze"], self, np.expand_dims(v, d))

    def __getitem__(self, key):
        v = self._v
        if key.__class__ is slice and v.__class__ is _ndarray and v.ndim:  # the common case, as
            value = v[key]  # below without scans (a NumPy scalar value: below, via _storage)
            if self._tape is None and not self._rg:
                out = _wrap(value)
            else:
                ints = _basic_maps.get((v.shape, key.start, key.stop, key.step))
                out = _unary(self, _SLICE, value, ints if ints is not None else
                             _basic_map(v.shape, (key,)))
            box = self._vc  # (_share_version, inlined)
            if box is None or len(box) == 1:
                _share_version(out, self)
            else:
                out._vc = box
                out._base = self if self._base is None else self._base
            return out
        name = None
        if key.__class__ is slice:
            key, basic, name = (key,), True, "slice"
        elif key.__class__ is int:
            key, basic, name = (key,), True, "select"
        else:
            key = _index_key(key)
            basic = _is_basic(key)
        if not basic:  # advanced indexing: a copy
            _check_advanced(self._v.shape, key)
            value = self._v[key]
            if not _recording(self):
                return _wrap(value)
            return _record(_OP["index"], value, self, None, gather_map(self._v.shape, key))
        # basic indexing: a view, sharing storage and version counter (a trailing Ellipsis
        # makes NumPy return a 0-d view instead of a scalar copy)
        v = _storage(self)
        value = v[key + (Ellipsis,)] if Ellipsis not in key else v[key]
        if self._tape is None and not self._rg:  # (nothing to record: _unary's first test)
            out = _wrap(value)
        else:
            if name is None:
                name = "select" if any(isinstance(k, (int, np.integer)) for k in key) else "slice"
            out = _unary(self, op=_OP[name], value=value, ints=_basic_map(v.shape, key))
        _share_version(out, self)
        return out

    def __setitem__(self, key, value) -> None:
        if value.__class__ is not float and value.__class__ is not int and \
                not isinstance(value, Tensor):
            _check_real_fill(self, value)
        key = _index_key(key)
        other = value._v if isinstance(value, Tensor) else value
        recording = _recording(self, value) if isinstance(value, Tensor) else _recording(self)
        _check_inplace(self, recording)
        if recording:
            _record_setitem(self, key, _as_tensor(value))
            return
        _storage(self)[key] = other
        self._version_box()[0] += 1


# --------------------------------------------------------------------------- the recording path


def _compare(a: Tensor, other, key: str) -> Tensor:
    """A comparison (or all/any): a bool tensor without history.  While compiling, one that
    depends on the inputs is recorded (it may decide a branch), passing no gradient."""
    op = _OP[key]
    if other.__class__ is float or other.__class__ is int:
        if not _NON_DEFAULT[0] or STATE.compile_tape is None or a._tape is None:
            v = a._v
            # a NumPy scalar compares with Python's operator ~10x faster than through a ufunc,
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


def _stop_gradient(out: Tensor) -> None:
    """A recorded value that passes no gradient (tg.compile only)."""
    if not out._stop:
        out._stop = True
        out._tape.consts = appended(out._tape.consts, out._slot)


def _detached_in_compile(t: Tensor) -> Tensor:
    """detach() while compiling: still a function of the inputs, so recorded (no gradient)."""
    out = _record(_OP["clone"], t._v, t, None)
    out._stop = True
    if out._slot not in out._tape.consts[-1:]:
        out._tape.consts = appended(out._tape.consts, out._slot)
    return out


def _recording(*ts: Tensor) -> bool:
    """Whether an op on these tensors is recorded: under grad mode, when one requires grad;
    while ``tg.compile`` records, also when one merely depends on the inputs."""
    if not _NON_DEFAULT[0]:
        for t in ts:
            if t._tape is not None or t._rg:
                return True
        return False
    if STATE.compile_tape is not None:
        return any(t._tape is not None or t._rg for t in ts)
    return STATE.grad_enabled and any(t._tape is not None or t._rg for t in ts)


def _stop_if_no_grad(out: Tensor, inputs) -> None:
    """While compiling: an output recorded only for replay (no input requires grad, or grad
    mode is off) passes no gradient back -- its slot is a constant of the backward sweep."""
    if STATE.grad_enabled and any((t._tape is not None and not t._stop) or t._rg
                                  for t in inputs if t is not None):
        return
    out._stop = True
    out._tape.consts = appended(out._tape.consts, out._slot)


_COMPARE_OPERATOR = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
                     "gt": operator.gt, "ge": operator.ge, "logical_and": np.logical_and,
                     "logical_or": np.logical_or, "logical_xor": np.logical_xor}


def _guard(t: Tensor, kind: str) -> None:
    """While compiling: a value of ``t`` leaves the tape for Python; replay must see it again."""
    if _NON_DEFAULT[0] and STATE.compile_tape is not None and t._tape is STATE.compile_tape:
        tape = STATE.compile_tape
        tape.guards = appended(tape.guards, ("value", kind, t._slot,
                                             np.array(t._v, np.float64), _user_frame()))


def _user_frame() -> str:
    """``file:line`` of the innermost caller outside tapegrad (for guard messages)."""
    import sys

    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("tapegrad"):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"


def _storage(t: Tensor) -> np.ndarray:
    """``t``'s value as an array that can be shared and written in place.

    A 0-d float64 result is held as an immutable NumPy scalar (scalar arithmetic on it costs a
    fraction of a 0-d array op); it becomes a real array the first time its storage is viewed,
    shared (detach, .data, .numpy()) or written.
    """
    v = t._v
    if v.__class__ is not _ndarray:
        v = t._v = np.array(v)
        if t.__class__ is _ZeroDim:
            _make_plain(t)
        # a tape holding the number must read the array from now on
        if t._tape is not None:
            t._tape.shared_scalars = appended(t._tape.shared_scalars, (t._slot, v))
        elif t._lreg is not None:  # an input of the open tape, most likely
            tape = open_tape_if(t._lreg[0])
            if tape is not None:
                tape.shared_scalars = appended(tape.shared_scalars, (t._lreg[1], v))
    return v


def _replace_value(t: Tensor, new: np.ndarray) -> None:
    """``t.data = new``.  As torch's saved tensors of inputs (which save the tensor itself, not
    a copy of its storage), every record that reads ``t`` -- those recorded so far included --
    reads ``new`` from now on: the slot holding ``t``'s value on its tape (or, for a leaf, its
    registration on the open tape) is made to read ``new``."""
    old_shape = t._v.shape
    recorded = t._tape is not None and not t._stop
    if recorded and new.shape != old_shape:
        raise NotImplementedError(
            f"assigning .data of shape {tuple(new.shape)} to a tensor with history of shape "
            f"{tuple(old_shape)} is not supported (torch fails at its backward)")
    if recorded and STATE.compile_tape is not None:
        raise NotImplementedError(
            "assigning .data to a value computed from the inputs inside tapegrad.compile is not "
            "supported: the replay would not see it")
    producer_reads_it = recorded and _reads_own_output(t._tape, t._slot)
    if producer_reads_it == 2:
        raise NotImplementedError(
            "assigning .data to a tensor whose own backward reads its value (exp, tanh, "
            "sigmoid, sqrt, ...) after other recorded ops read it is not supported: torch "
            "gives the first the old value and the others the new one")
    if t.__class__ is not Tensor:
        t._v  # noqa: B018 -- (a _OneFloat's array made, before it is replaced)
        _make_plain(t)
    t._v = new
    if producer_reads_it:
        # torch saves an op's output as a snapshot of its storage: the producing record keeps
        # the old value, and later records read the new one from a slot of their own, which
        # passes its gradient on unchanged
        out = _record(_OP["clone"], new, t, None)
        _share(out._tape, out._slot, new)
        t._tape, t._slot = out._tape, out._slot
        return
    if recorded:
        t._tape.share_slot(t._slot, new)
    reg = t._lreg  # (a leaf's registration, or a closed tape's value's link on the open tape)
    if reg is not None:
        tape = open_tape_if(reg[0])
        if tape is not None and new.shape == old_shape:
            tape.share_slot(reg[1], new)
        else:  # (the next graph registers the new value)
            t._lreg = None


def _reads_own_output(tape, slot: int) -> int:
    """Whether a record writing ``slot`` reads its output in its VJP: 0 no, 1 yes, 2 yes and
    another record's VJP reads the slot as an input."""
    from .ops import OPS, READS_A, READS_B, READS_Y

    recs = np.array(tape.recs, dtype=np.int64).reshape(-1, 6)
    if not any((OPS[op].reads_a | OPS[op].reads_b) & READS_Y
               for op in recs[recs[:, 1] == slot, 0].tolist()):
        return 0
    for op, _, a, b, _, _ in recs[(recs[:, 2] == slot) | (recs[:, 3] == slot)].tolist():
        reads = OPS[op].reads_a | OPS[op].reads_b
        if (a == slot and reads & READS_A) or (b == slot and reads & READS_B):
            return 2
    return 1


def _share(tape, slot: int, storage) -> None:
    """Have ``tape`` read slot ``slot``'s value (the latest slot made) from ``storage``, a
    tensor's array, so a change made to it through ``.data`` or NumPy reaches backward."""
    if storage.__class__ is _ndarray:
        tape.share_last(slot, storage)


def _wrap(value: np.ndarray) -> Tensor:
    """A plain tensor (no history) around an existing array."""
    t = _new(Tensor)
    t._v = value
    t._tape = None
    t._slot = -1
    t._vc = None
    return t


def _record(op, value: np.ndarray, a: Tensor, b: Tensor | None, ints=None, fp: int = -1,
            scalar: float | None = None, scalars: tuple | None = None) -> Tensor:
    """Append one record for ``op`` and return its output tensor."""
    tape = tape_for(a, b)
    while tape.closed:  # (taken by another thread since: see tape.py)
        tape = tape_for(a, b)
    try:
        tape.closed = BUSY
        sa = tape.slot_of(a)
        sb = -1 if b is None else tape.slot_of(b)
        if tape.unkept:
            tape.keep_read(op.keeps, sa, a, sb, b)
        ip = -1 if ints is None else tape.push_ints(ints)
        if scalar is not None:
            fp = tape.push_float(scalar)
        elif scalars is not None:
            fp = tape.push_float(scalars[0])
            for extra in scalars[1:]:
                tape.push_float(extra)
        out = _emit(tape, op.code, value, sa, sb, ip, fp)
    except BaseException:
        interrupted(tape)
        raise
    if _NON_DEFAULT[0] and STATE.compile_tape is not None:
        _stop_if_no_grad(out, (a, b))
    return out


def _record_parts(value: np.ndarray, parts: list) -> Tensor:
    """One output assembled by several records, one per input: ``parts`` holds
    ``(op, a, b, ints)`` tuples (``b`` a mask/condition input or None)."""
    inputs = [t for _, a, b, _ in parts for t in (a, b) if t is not None]
    tape = tape_for_all(inputs)
    while tape.closed:  # (taken by another thread since: see tape.py)
        tape = tape_for_all(inputs)
    try:
        tape.closed = BUSY
        slots = [(op, tape.slot_of(a), -1 if b is None else tape.slot_of(b),
                  -1 if ints is None else tape.push_ints(ints)) for op, a, b, ints in parts]
        if tape.unkept:
            for (op, sa, sb, _), (_, a, b, _) in zip(slots, parts, strict=True):
                tape.keep_read(op.keeps, sa, a, sb, b)
        out = _new(Tensor)
        out._v = value
        out._tape = tape
        out._vc = None
        slot = out._slot = tape.new_slot(value)
        for op, sa, sb, ip in slots:
            tape.recs.frombytes(_RECORD(op.code, slot, sa, sb, ip, -1))
        tape.closed = False
    except BaseException:
        interrupted(tape)
        raise
    if STATE.compile_tape is not None:
        _stop_if_no_grad(out, [a for _, a, _, _ in parts])
    return out


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
    value = _c_order(np.asarray(eager(v, (dims if len(dims) > 1 else dims[0]) if v.ndim
                                     else None)))
    if _recording(a):
        keep = tuple(0 if i in dims else 1 for i in range(v.ndim))
        return _record(_OP[key], value, a, None, (v.ndim, *v.shape, *keep))
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
    v = a._v
    if dim is None:
        if v.size == 0:
            raise RuntimeError(f"{kind}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        value = np.asarray(np.max(v) if kind == "max" else np.min(v))
        return _unary(a, op=_OP[f"{kind}_all"], value=value)
    (d,) = _normalize_dims(dim, v.ndim)
    result = _ValuesIndices if kind == "max" else _MinValuesIndices
    if v.ndim == 0:
        return result((a.clone(), _wrap(np.asarray(0))))
    arg = np.argmax(v, axis=d) if kind == "max" else np.argmin(v, axis=d)
    # NaN is the extreme, as in torch (argmax/argmin already pick the first NaN)
    arg_k = np.expand_dims(arg, d)
    flat = np.ravel_multi_index(
        tuple(arg_k if i == d else np.arange(n).reshape([-1 if j == i else 1
                                                          for j in range(v.ndim)])
              for i, n in enumerate(v.shape)), v.shape)
    flat = np.broadcast_to(flat, arg_k.shape)
    if not keepdim:
        flat = np.squeeze(flat, d)
        arg_k = arg
    value = v.ravel()[flat]
    indices = _wrap(np.asarray(arg_k, dtype=np.int64))
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


def _record_setitem(x: Tensor, key: tuple, v: Tensor) -> None:
    """``x[key] = v`` under grad mode: x becomes the output of a CopySlices node."""
    positions = gather_map(x._v.shape, key)
    target_shape = np.empty(x._v.shape)[key].shape
    try:
        sources = np.broadcast_to(np.arange(v._v.size, dtype=np.int64).reshape(v._v.shape),
                                  target_shape).ravel()
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(v._v.shape)} cannot "
                           f"be broadcast to indexing result of shape "
                           f"{list(target_shape)}") from None
    new = np.array(x._v)  # a copy, and an array even when x holds a NumPy scalar
    new[key] = v._v
    n = positions.size
    ints = np.concatenate([[n], positions, sources])
    out = _record_parts(new, [(_OP["setitem_keep"], x, None, ints),
                              (_OP["setitem_put"], v, None, ints)])
    np.copyto(_storage(x), new)
    x._version_box()[0] += 1
    if x._tape is not None and x._tape.retained:
        _follow_retained(x, out._tape, out._slot)
    x._tape, x._slot = out._tape, out._slot


def _let_go(tape) -> None:
    """After an exception in a recording function: a tape it held is closed for good (its lists
    may be out of step).  (``tape`` is unbound until the function reads it: the hot paths set
    no placeholder for this handler.)"""
    if tape is not None and tape.closed is BUSY:
        interrupted(tape)


def _emit(tape, code: int, value, sa: int, sb: int, ip: int, fp: int) -> Tensor:
    """The hot end of recording: a new slot for ``value``, one record, the output tensor; then
    lets the tape go.  (``Tape.new_slot`` inlined for small values: this runs once per recorded
    op; the caller took the tape and closes it if this raises.)"""
    offs = tape.offs
    slot = len(offs) - 1
    n = value.size
    if n == 1:  # (Tape.new_slot, inlined)
        offs.append(offs[-1] + 1)
        tape.scalars.append(tape.one_element(slot, value) if value.__class__ is _ndarray
                            else value)
    elif n < BIG:
        offs.append(offs[-1] + n)
        tape.arrays.append(value)
    else:
        tape.new_slot(value)
    out = _new(Tensor)
    out._v = value
    out._tape = tape
    out._slot = slot
    out._vc = None
    tape.recs.frombytes(_RECORD(code, slot, sa, sb, ip, fp))
    tape.closed = False
    return out


# The three elementwise paths below are the per-op cost users feel: each computes the value
# (a 0-d float64 by the op's Python rule, anything else by NumPy) and, in the common case --
# grad mode on, not compiling, inputs on one open tape or leaves -- records it inline.  Anything
# else (inputs of a closed tape or of two tapes, tg.compile) takes the general ``_record``.
# ``_NON_DEFAULT[0]`` is 0 while no thread has grad mode off or is compiling: then the
# thread-local mode needs no look.


def _unary(a: Tensor, op=None, value: np.ndarray | None = None,
           ints: tuple | None = None) -> Tensor:
    """``op`` on ``a``; ``value`` when the caller computed it.  The math methods and functions
    (``x.tanh()``, ``tg.tanh(x)``) are this function bound to their op (see _math)."""
    try:
        if value is None and a.__class__ is _OneFloat and not _NON_DEFAULT[0]:
            # (_OneFloat's path: Python's math on its float, recorded as below)
            tape = a._tape
            try:
                value = op.py(a._f)
            except (ArithmeticError, ValueError, AttributeError, TypeError):
                pass  # (overflow, a domain error, no Python rule, x.tanh(2): NumPy's path decides)
            if value.__class__ is float and not tape.closed:
                tape.closed = BUSY
                offs = tape.offs
                slot = len(offs) - 1
                offs.append(offs[-1] + 1)
                tape.scalars.append(value)
                out = _new(_OneFloat)
                out._f = value
                out._tape = tape
                out._slot = slot
                out._vc = None
                tape.recs.frombytes(_RECORD(op.code, slot, a._slot, -1, -1, -1))
                tape.closed = False
                return out
            value = None
        elif value is None and a.__class__ is _ZeroDim and not _NON_DEFAULT[0]:
            # (_ZeroDim's path: the op's Python rule on its NumPy float64, recorded as below)
            tape = a._tape
            v = a._v
            try:
                value = op.py(v) if v.__class__ is _f64 else None
            except (ArithmeticError, ValueError, AttributeError, TypeError):
                value = None  # (as for _OneFloat above)
            if value is not None and not tape.closed and (a._vc is None or not op.keeps & 1):
                tape.closed = BUSY
                return _record_zero_dim(tape, value, op.code, a._slot, -1, -1, -1)
            value = None
        try:
            v = a._v
        except AttributeError:  # tg.tanh(an array or a number)
            a = _as_tensor(a)
            v = a._v
        if value is None:
            try:
                py, eager = op.py, op.eager
            except AttributeError:  # x.tanh(2): the extra argument landed on ``op``
                raise TypeError(f"elementwise math takes one tensor, not also {op!r}") from None
            if v.__class__ is not _f64 and v.ndim == 0 and v.dtype is _F64:
                v = v[()]
            if v.__class__ is _f64 and py is not None:
                try:
                    value = py(v)
                except (ArithmeticError, ValueError):  # Python's math refuses overflow, domains
                    pass
                else:
                    if value.__class__ is not _f64:
                        value = _f64(value)
            if value is None:
                value = eager(a._v)
                if value.__class__ is not _ndarray and value.__class__ is not _f64:
                    value = np.asarray(value)
        tape = a._tape
        if tape is None and not a._rg:
            return _wrap(value)
        if _NON_DEFAULT[0] and (not STATE.grad_enabled or STATE.compile_tape is not None):
            return _record(op, value, a, None, ints) if STATE.compile_tape is not None else \
                _wrap(value)
        if tape is None:  # (a leaf: its slot on the open tape, registered there already mostly)
            tape = open_tape()
            while tape.closed:  # (taken by another thread since: see tape.py)
                tape = open_tape()
            tape.closed = BUSY
            reg = a._lreg
            sa = reg[1] if reg is not None and reg[0] == tape.serial and reg[2] == a._vc[0] else \
                tape.input_slot(a)
        elif tape.closed:
            return _record(op, value, a, None, ints)
        else:  # (a value with a version box -- a view, say -- is watched if this VJP reads it)
            tape.closed = BUSY
            sa = a._slot if a._vc is None or not op.keeps & 1 else tape.slot_of(a)
        if ints is None:
            ip = -1
        else:  # (Tape.push_ints, inlined: ``ints`` is a basic index's memoised int64 array)
            ip = len(tape.ints)
            tape.ints.extend(ints)
        if tape.unkept:  # (a large input no earlier VJP needed)
            tape.keep_read(op.keeps, sa, a)
        # _emit, inlined (a call costs ~10% of this path); a result of another class is made by a
        # function of its own (see _record_zero_dim)
        offs = tape.offs
        slot = len(offs) - 1
        n = value.size
        if n == 1:
            if value.__class__ is _f64:
                return _record_zero_dim(tape, value, op.code, sa, -1, ip, -1)
            if value.__class__ is _ndarray and value.ndim == 1 and value.dtype is _F64 and \
                    value.base is None and value is not v:  # (a fresh vector, not a view)
                return _record_one_float(tape, value.item(), op.code, sa, -1, ip, -1)
            offs.append(offs[-1] + 1)  # (Tape.new_slot, inlined)
            tape.scalars.append(tape.one_element(slot, value) if value.__class__ is _ndarray
                                else value)
        elif n < BIG:
            offs.append(offs[-1] + n)
            tape.arrays.append(value)
        else:
            tape.new_slot(value, op.keeps & 4)  # held only if the VJP reads it
        out = _new(Tensor)
        out._v = value
        out._tape = tape
        out._slot = slot
        out._vc = None
        tape.recs.frombytes(_RECORD(op.code, slot, sa, -1, ip, -1))
        tape.closed = False
        return out
    except BaseException:  # (Ctrl-C, say): a tape held here is closed for good
        _let_go(locals().get("tape"))
        raise


def _constant(c) -> np.ndarray:
    """``c`` as a read-only float64 0-d array, kept for the next use (see _scalar)."""
    if len(_CONSTANTS) >= 4096:
        _CONSTANTS.clear()
        _CONSTANTS[2] = TWO
    constant = _CONSTANTS[c] = np.array(c, np.float64)
    constant.flags.writeable = False
    return constant


def _arithmetic(a: Tensor, other, op=None, scalar_op=None, reflected: bool = False) -> Tensor:
    """``a <op> other``, or ``other <op> a`` if ``reflected`` (``other`` is then not a tensor):
    ``op`` for a tensor operand, ``scalar_op`` for a Python number kept as a constant.  Each
    operator is this function bound to its ops (see _operator)."""
    try:
        if other.__class__ is not Tensor and (
                other.__class__ is float or other.__class__ is int or (
                isinstance(other, _Real) and (reflected or not isinstance(other, bool)))):
            # -- a tensor and a Python number: ``scalar_op``, the number kept in the float pool
            op, c = scalar_op, other
            v = a._v
            value = None
            if (v.__class__ is _f64 or not v.ndim) and op.py is not None and v.dtype is _F64:
                try:
                    value = op.py(v if v.__class__ is _f64 else v[()], c)
                except (ArithmeticError, ValueError):
                    pass
                else:
                    if value.__class__ is not _f64:
                        value = _f64(value)
            if value is None:
                if c and v.dtype is _F64:
                    # NumPy 2 takes a Python number ~130 ns slower than a float64 0-d array, which
                    # (for a float64 operand) gives the same result.  Zero is left out: 0.0 and -0.0
                    # are one dict key but not one constant.
                    constant = _CONSTANTS.get(c)
                    value = op.eager(v, constant if constant is not None else _constant(c))
                else:
                    value = op.eager(v, c)
                if not v.ndim and value.__class__ is not _ndarray and value.__class__ is not _f64:
                    value = np.asarray(value)  # (an array operand gives an array)
            tape = a._tape
            if tape is None and not a._rg:
                return _wrap(value)
            if _NON_DEFAULT[0] and (not STATE.grad_enabled or STATE.compile_tape is not None):
                if STATE.compile_tape is not None:
                    return _record(op, value, a, None, scalar=float(c))
                return _wrap(value)
            if tape is None:  # (a leaf: as in _unary)
                tape = open_tape()
                while tape.closed:
                    tape = open_tape()
                tape.closed = BUSY
                reg = a._lreg
                sa = reg[1] if reg is not None and reg[0] == tape.serial and \
                    reg[2] == a._vc[0] else tape.input_slot(a)
            elif tape.closed:
                return _record(op, value, a, None, scalar=float(c))
            else:
                tape.closed = BUSY
                sa = a._slot if a._vc is None or not op.keeps & 1 else tape.slot_of(a)
            if tape.unkept:  # (a large input no earlier VJP needed)
                tape.keep_read(op.keeps, sa, a)
            floats = tape.floats
            floats.append(c)
            sb, ip, fp = -1, -1, len(floats) - 1
        else:
            if other.__class__ is Tensor or other.__class__ is _ZeroDim or \
                    other.__class__ is _OneFloat:
                b = other
            else:  # an array, a list ...: a constant tensor
                b = _as_tensor(other)
                if reflected:
                    a, b = b, a
            # -- two tensors: ``op``, NumPy broadcasting recorded as int params when shapes differ
            av, bv = a._v, b._v
            value = None
            both_0d = av.ndim == 0 and bv.ndim == 0
            if both_0d and op.py is not None:
                if av.__class__ is not _f64 and av.dtype is _F64:
                    av = av[()]
                if bv.__class__ is not _f64 and bv.dtype is _F64:
                    bv = bv[()]
                if av.__class__ is _f64 and bv.__class__ is _f64:
                    try:
                        value = op.py(av, bv)
                    except (ArithmeticError, ValueError):
                        pass
                    else:
                        if value.__class__ is not _f64:
                            value = _f64(value)
            if value is None:
                value = op.eager(av, bv)
                if value.__class__ is not _ndarray and value.__class__ is not _f64:
                    value = np.asarray(value)
            ta, tb = a._tape, b._tape
            if ta is None and tb is None and not a._rg and not b._rg:
                return _wrap(value)
            if _NON_DEFAULT[0] and (not STATE.grad_enabled or STATE.compile_tape is not None):
                if STATE.compile_tape is not None:
                    return _record(op, value, a, b, _broadcast_ints(av, bv, value))
                return _wrap(value)
            tape = ta if ta is not None else tb
            if tape is None:
                tape = open_tape()
                while tape.closed:
                    tape = open_tape()
            elif tape.closed or (tb is not None and tb is not tape):
                return _record(op, value, a, b, _broadcast_ints(av, bv, value))
            tape.closed = BUSY
            # each input's slot: its own on this tape, or -- a leaf used again -- its registration
            # (Tape.slot_of's checks, inlined for the two common cases)
            if ta is tape and (a._vc is None or not op.keeps & 1):
                sa = a._slot
            else:
                reg = a._lreg
                sa = reg[1] if (ta is None and reg is not None and reg[0] == tape.serial
                                and reg[2] == a._vc[0]) else tape.slot_of(a)
            if tb is tape and (b._vc is None or not op.keeps & 2):
                sb = b._slot
            else:
                reg = b._lreg
                sb = reg[1] if (tb is None and reg is not None and reg[0] == tape.serial
                                and reg[2] == b._vc[0]) else tape.slot_of(b)
            ip = -1 if both_0d or av.shape == bv.shape else \
                tape.push_ints(_broadcast_ints(av, bv, value))
            if tape.unkept:  # (a large input no earlier VJP needed)
                tape.keep_read(op.keeps, sa, a, sb, b)
            fp = -1
        # _emit, inlined, one copy for both kinds of operand (a call costs ~10% of this path); a
        # result of another class is made by a function of its own (see _record_zero_dim)
        offs = tape.offs
        slot = len(offs) - 1
        n = value.size
        if n == 1:
            if value.__class__ is _f64:
                return _record_zero_dim(tape, value, op.code, sa, sb, ip, fp)
            if value.__class__ is _ndarray and value.ndim == 1 and value.dtype is _F64:
                return _record_one_float(tape, value.item(), op.code, sa, sb, ip, fp)
            offs.append(offs[-1] + 1)  # (Tape.new_slot, inlined)
            tape.scalars.append(tape.one_element(slot, value) if value.__class__ is _ndarray
                                else value)
        elif n < BIG:
            offs.append(offs[-1] + n)
            tape.arrays.append(value)
        else:
            tape.new_slot(value, op.keeps & 4)  # held only if the VJP reads it
        out = _new(Tensor)
        out._v = value
        out._tape = tape
        out._slot = slot
        out._vc = None
        tape.recs.frombytes(_RECORD(op.code, slot, sa, sb, ip, fp))
        tape.closed = False
        return out
    except BaseException:  # (Ctrl-C, say): a tape held here is closed for good
        _let_go(locals().get("tape"))
        raise


def _binary(op, a: Tensor, b: Tensor) -> Tensor:
    return _arithmetic(a, b, op)


def _math(key: str):
    """``x.<key>()`` and ``tg.<key>(x)``: ``_unary`` with ``op`` bound (as _operator binds
    _arithmetic), one Python call per op."""
    function = FunctionType(_unary.__code__, globals(), key, (_OP[key], None, None))
    function.__qualname__ = key
    function.__doc__ = (f"Elementwise {key}, as ``torch.{key}`` (the parameters after the "
                        f"tensor are the engine's own).\n\n"
                        f"    >>> import tapegrad as tg\n    >>> tg.ones(2).{key}().shape\n"
                        f"    tapegrad.Size([2])\n")
    return function


for _key in ("exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "sqrt", "neg", "abs"):
    setattr(Tensor, _key, _math(_key))
Tensor.__neg__, Tensor.__abs__ = Tensor.neg, Tensor.abs

Tensor.__add__ = Tensor.__radd__ = _operator("add")
Tensor.__sub__ = _operator("sub")
Tensor.__rsub__ = _operator("sub", "rsub_scalar", reflected=True)
Tensor.__mul__ = Tensor.__rmul__ = _operator("mul")
Tensor.__truediv__ = _operator("div")


def _rdiv(a: Tensor, other) -> Tensor:
    """``other / a``: for a number ``c``, torch's ``reciprocal(a) * c`` (two records, so that
    the gradient reads only the reciprocal's own result, which no in-place change reaches).

    The common cases -- a float64 0-d, one-element vector or small array, recorded or a leaf,
    grad mode on, no other tape to join -- compute both values and write both records here in
    one go, with the results the two ops would give one after the other (the classes
    included), at little more than one op's cost."""
    if other.__class__ is float or other.__class__ is int:
        tape = a._tape
        if not _NON_DEFAULT[0] and (tape is None and a._rg or tape is not None and
                                    not tape.closed):
            try:
                if tape is None:  # (a leaf: its slot on the open tape, as in _unary)
                    tape = open_tape()
                    while tape.closed:  # (taken by another thread since: see tape.py)
                        tape = open_tape()
                    tape.closed = BUSY
                    reg = a._lreg
                    sa = reg[1] if reg is not None and reg[0] == tape.serial and \
                        reg[2] == a._vc[0] else tape.input_slot(a)
                else:
                    tape.closed = BUSY  # (taken right at the test: see tape.py)
                    sa = a._slot  # (the reciprocal reads its result only: no watch)
                r = None
                if a.__class__ is _OneFloat:
                    f = a._f
                else:
                    v = a._v
                    f = None
                    if v.__class__ is _ndarray and v.dtype is _F64:
                        if v.ndim == 0:
                            v = v[()]
                        elif v.ndim == 1 and v.size == 1:
                            f = v.item()
                        elif 1 < v.size < BIG:
                            r = np.divide(_ONE, v)  # (faster than np.reciprocal, as exact)
                            if other == 1:  # (1 / x, the common case: r * 1 is r)
                                y = r.copy()
                            else:
                                constant = _CONSTANTS.get(other) if other else None
                                y = np.multiply(r, constant if constant is not None else
                                                _constant(other) if other else other)
                            out = _new(Tensor)
                            out._v = y
                    if v.__class__ is _f64:
                        try:
                            r = 1.0 / v
                            y = r * other
                        except (ArithmeticError, ValueError):  # (NumPy's error state)
                            r = None
                        else:
                            if y.__class__ is not _f64:
                                y = _f64(y)
                            out = _new(_ZeroDim)
                            out._v = y
                if f is not None:
                    try:
                        r = 1.0 / f
                        y = r * other
                    except (ArithmeticError, ValueError):  # (1 / 0: NumPy's IEEE answer)
                        r = None
                    else:
                        out = _new(_OneFloat)
                        out._f = y
                if r is not None:
                    offs = tape.offs
                    slot = len(offs) - 1
                    if r.__class__ is _ndarray:
                        n = offs[-1] + r.size
                        offs.append(n)
                        offs.append(n + r.size)
                        tape.arrays.append(r)
                        tape.arrays.append(y)
                    else:
                        n = offs[-1]
                        offs.append(n + 1)
                        offs.append(n + 2)
                        tape.scalars.append(r)
                        tape.scalars.append(y)
                    floats = tape.floats
                    floats.append(other)
                    tape.recs.frombytes(_TWO_RECORDS(_RECIPROCAL.code, slot, sa, -1, -1, -1,
                                                     _MUL_SCALAR.code, slot + 1, slot, -1, -1,
                                                     len(floats) - 1))
                    out._tape = tape
                    out._slot = slot + 1
                    out._vc = None
                    tape.closed = False
                    return out
                tape.closed = False
            except BaseException:  # (Ctrl-C, say): a tape held here is closed for good
                _let_go(tape)
                raise
        return _unary(a, _RECIPROCAL) * other
    if other.__class__ is not Tensor and isinstance(other, _Real):
        return _unary(a, _RECIPROCAL) * (other if not isinstance(other, bool) else int(other))
    if a.__class__ is not Tensor:  # (a subclass's reflected operator, asked first: see there)
        return _subclass_general(a, other, _OP["div"], None, True)
    return _arithmetic(a, other, _OP["div"], None, True)


_RECIPROCAL, _MUL_SCALAR = _OP["reciprocal"], _OP["mul_scalar"]
_TWO_RECORDS = struct.Struct("12q").pack
_ONE = np.array(1.0)
_ONE.flags.writeable = False
Tensor.__rtruediv__ = _rdiv
Tensor.__pow__ = _operator("pow")
Tensor.__rpow__ = _operator("pow", "rpow_scalar", reflected=True)


# --------------------------------------------------------------------------- one-float tensors


# the storage slot ``_v`` itself (a _OneFloat's ``_v`` is the property below)
_set_slot = Tensor.__dict__["_v"].__set__


def _make_plain(t: Tensor) -> None:
    """Make a _ZeroDim or _OneFloat a plain Tensor (the same layout: only the class changes).

    The instance dict is made first.  Otherwise CPython 3.11's ``__class__`` store makes it,
    between reading the old class and storing the new one; that allocation can start a garbage
    collection whose callbacks or finalizers run another thread, which may change the same
    tensor's class meanwhile.  Both stores then release the old class, and the class object is
    freed while in use (a segfault, seen with hypothesis's GC callback installed).  With the
    dict made, the store runs no Python code and no other thread."""
    t.__dict__  # noqa: B018
    t.__class__ = Tensor


def _set_value(t: Tensor, v: np.ndarray) -> None:
    # the value first: a tensor whose class has changed always has one (an exception between
    # the two leaves a one-float tensor with the value stored, which is made again)
    _set_slot(t, v)
    _make_plain(t)


def _materialize(t: Tensor) -> np.ndarray:
    # ``_f`` is kept: another thread may have read the class just before it changed, and read
    # the float now (two threads that make the array at once both store theirs; the tensor
    # keeps the one stored last, and so does the tape: it reads the one registered last)
    v = np.array((t._f,))
    if t.__class__ is _OneFloat:
        _set_slot(t, v)
        _make_plain(t)
        # from now on the value may be changed through NumPy or .data: the tape reads the array
        # (as it reads a 0-d value's once made, see _storage)
        tape = t._tape
        tape.shared_scalars = appended(tape.shared_scalars, (t._slot, v.reshape(())))
    return t._v


class _OneFloat(Tensor):
    """A recorded one-element float64 vector (shape ``(1,)``) whose value is still only a Python
    float, ``_f``.

    A ``randn(1)`` parameter's graph is hundreds of tiny ops, and on a one-element array the
    NumPy call and the new array cost more than the rest of recording an op.  So arithmetic
    and math on such a tensor are Python's float arithmetic: ``+ - * / **`` with a number or
    with another one-float tensor on the same tape, and the math functions.  The first read of
    ``_v`` (its shape, printing, ``.numpy()``, any other op) makes the array, and the tensor
    becomes a plain ``Tensor`` for good.  The tape holds the float either way, as it holds any
    one-element value.  The class prints as ``Tensor`` and ``isinstance`` sees a Tensor; only
    ``type(t) is Tensor`` tells them apart.
    """

    __slots__ = ()
    _v = property(_materialize, _set_value)


_OneFloat.__name__ = _OneFloat.__qualname__ = "Tensor"


def _one_float_arithmetic(a: _OneFloat, other, op=None, scalar_op=None,
                          reflected: bool = False) -> Tensor:
    """``_arithmetic`` for a one-float tensor ``a``: with a Python number, or with another
    one-float tensor on the same tape, the value is Python's float arithmetic; anything else
    goes the general way."""
    try:
        tape = a._tape
        if not _NON_DEFAULT[0] and not tape.closed:
            tape.closed = BUSY  # (taken right at the test: see tape.py)
            value = None
            if other.__class__ is float or other.__class__ is int:
                try:
                    value = scalar_op.py(a._f, other)
                except (ArithmeticError, ValueError):
                    pass  # (1/0, overflow: NumPy's IEEE answers)
                if value.__class__ is float:  # (not a complex: a negative base's fractional power)
                    floats = tape.floats
                    floats.append(other)
                    op, sb, fp = scalar_op, -1, len(floats) - 1
                else:
                    value = None
            elif other.__class__ is _OneFloat and other._tape is tape and not reflected and \
                    op.py is not None:
                try:
                    value = op.py(a._f, other._f)
                except (ArithmeticError, ValueError):
                    pass
                if value.__class__ is float:
                    sb, fp = other._slot, -1
                else:
                    value = None
            if value is not None:
                offs = tape.offs
                slot = len(offs) - 1
                offs.append(offs[-1] + 1)
                tape.scalars.append(value)
                out = _new(_OneFloat)
                out._f = value
                out._tape = tape
                out._slot = slot
                out._vc = None
                tape.recs.frombytes(_RECORD(op.code, slot, a._slot, sb, -1, fp))
                tape.closed = False
                return out
            tape.closed = False
        return _subclass_general(a, other, op, scalar_op, reflected)
    except BaseException:  # (Ctrl-C, say): a tape held here is closed for good
        _let_go(locals().get("tape"))
        raise


def _subclass_general(a: Tensor, other, op, scalar_op, reflected: bool) -> Tensor:
    """The general path for an operator of a tensor subclass's ``a`` (see _subclass_operators)."""
    if reflected and other.__class__ is not float and other.__class__ is not int and \
            isinstance(other, Tensor):
        # ``other <op> a`` for a tensor ``other``: Python asks a subclass's reflected operator
        # first, so this is ``other``'s own operator, taken over
        return _arithmetic(other, a, op, scalar_op)
    return _arithmetic(a, other, op, scalar_op, reflected)


_subclass_operators(_OneFloat, _one_float_arithmetic)


# --------------------------------------------------------------------------- 0-d tensors


class _ZeroDim(Tensor):
    """A recorded 0-d float64 tensor whose value is a NumPy float64 scalar (as every such result
    is until its storage is shared, see ``_storage``).

    A micrograd-style network is thousands of ops on two such tensors, or on one and a 0-d leaf,
    and the general path's checks (number or tensor, shapes, dtypes, broadcasting) are most of
    such an op's cost.  Its operators therefore try a short path first: both values NumPy
    float64 scalars, the other tensor a value of the same tape or a leaf, grad mode on -- the
    value is then the op's scalar rule and the record is written in a few lines.  The class
    prints as ``Tensor`` and becomes a plain ``Tensor`` once its storage is made; only
    ``type(t) is Tensor`` tells them apart.
    """

    __slots__ = ()


_ZeroDim.__name__ = _ZeroDim.__qualname__ = "Tensor"


def _zero_dim_arithmetic(s: _ZeroDim, other, op=None, scalar_op=None, reflected: bool = False,
                         py=None, code: int = 0, keeps_s: int = 0, keeps_o: int = 0) -> Tensor:
    """``_arithmetic`` for a 0-d float64 tensor ``s`` (``other <op> s`` if ``reflected``):
    with a NumPy float64-valued tensor of the same tape or a leaf, or with a Python number,
    recorded in a few lines; anything else goes the general way.  (Each operator is this
    function with its op's rule, opcode and the ``keeps`` bits of both operands bound.)"""
    try:
        tape = s._tape
        kind = other.__class__
        if (kind is _ZeroDim or kind is Tensor) and py is not None and not tape.closed and \
                not _NON_DEFAULT[0]:
            tape.closed = BUSY  # (taken right at the test: see tape.py)
            sv, ov, there = s._v, other._v, other._tape
            if sv.__class__ is _f64 and ov.__class__ is _f64:
                # each input's slot, as _arithmetic finds it
                if there is tape:
                    so = other._slot if other._vc is None or not keeps_o else \
                        tape.slot_of(other)
                elif there is None:
                    reg = other._lreg
                    so = reg[1] if reg is not None and reg[0] == tape.serial and \
                        reg[2] == other._vc[0] else tape.slot_of(other)
                else:
                    tape.closed = False
                    return _subclass_general(s, other, op, scalar_op, reflected)
                ss = s._slot if s._vc is None or not keeps_s else tape.slot_of(s)
                try:
                    value = py(ov, sv) if reflected else py(sv, ov)
                except (ArithmeticError, ValueError):  # (NumPy's error state says raise)
                    tape.closed = False
                    return _subclass_general(s, other, op, scalar_op, reflected)
                if value.__class__ is not _f64:
                    value = _f64(value)  # (a rule written with Python's math)
                offs = tape.offs
                slot = len(offs) - 1
                offs.append(offs[-1] + 1)
                tape.scalars.append(value)
                out = _new(_ZeroDim)
                out._v = value
                out._tape = tape
                out._slot = slot
                out._vc = None
                tape.recs.frombytes(_RECORD(code, slot, so, ss, -1, -1) if reflected else
                                    _RECORD(code, slot, ss, so, -1, -1))
                tape.closed = False
                return out
            tape.closed = False
        elif (kind is float or kind is int) and not tape.closed and not _NON_DEFAULT[0]:
            tape.closed = BUSY
            sv = s._v
            try:
                value = scalar_op.py(sv, other) if sv.__class__ is _f64 else None
            except (ArithmeticError, ValueError):
                value = None
            if value is not None:
                floats = tape.floats
                floats.append(other)
                return _record_zero_dim(tape, value, scalar_op.code, s._slot, -1, -1,
                                        len(floats) - 1)
            tape.closed = False
        return _subclass_general(s, other, op, scalar_op, reflected)
    except BaseException:  # (Ctrl-C, say): a tape held here is closed for good
        _let_go(locals().get("tape"))
        raise


def _record_zero_dim(tape, value, code: int, sa: int, sb: int, ip: int, fp: int) -> _ZeroDim:
    """A new slot and record for a 0-d float64 value (a Python float is made a NumPy one).

    The general paths make their other results' attributes inline; a ``_ZeroDim`` (or a
    ``_OneFloat``) is made here instead, because CPython 3.11 specialises an attribute store for
    one class: a store that sees two classes in turn (rosenbrock's ``sum`` after its arrays)
    slowed every op of the graph by 1.5%.  The short paths above and in _unary write these lines
    inline (a call costs ~10% of such an op)."""
    if value.__class__ is not _f64:
        value = _f64(value)
    offs = tape.offs
    slot = len(offs) - 1
    offs.append(offs[-1] + 1)
    tape.scalars.append(value)
    out = _new(_ZeroDim)
    out._v = value
    out._tape = tape
    out._slot = slot
    out._vc = None
    tape.recs.frombytes(_RECORD(code, slot, sa, sb, ip, fp))
    tape.closed = False
    return out


def _record_one_float(tape, value: float, code: int, sa: int, sb: int, ip: int,
                      fp: int) -> _OneFloat:
    """As _record_zero_dim, for a fresh one-element float64 vector whose value is ``value``.
    (Both let go of the tape their caller took.)"""
    offs = tape.offs
    slot = len(offs) - 1
    offs.append(offs[-1] + 1)
    tape.scalars.append(value)
    out = _new(_OneFloat)
    out._f = value
    out._tape = tape
    out._slot = slot
    out._vc = None
    tape.recs.frombytes(_RECORD(code, slot, sa, sb, ip, fp))
    tape.closed = False
    return out


# (the op's rule, its opcode, then s's and the other operand's bit in ``keeps``)
_subclass_operators(_ZeroDim, _zero_dim_arithmetic, lambda op, reflected: (
    op.py, op.code, op.keeps & (2 if reflected else 1), op.keeps & (1 if reflected else 2)))


def _broadcast_ints(av, bv, value) -> tuple | None:
    """A broadcasting binary op's int parameters: ndim, both input shapes padded to it, the
    output shape; None when the shapes agree."""
    if av.shape == bv.shape:
        return None
    nd = value.ndim
    return (nd, *(1,) * (nd - av.ndim), *av.shape, *(1,) * (nd - bv.ndim), *bv.shape,
            *value.shape)


def _check_inplace(self: Tensor, recording: bool) -> None:
    """torch's refusals of in-place changes that would corrupt a gradient."""
    if not STATE.grad_enabled:
        return
    if self._rg:
        raise RuntimeError(LEAF_INPLACE)
    base = self._base
    if base is not None and base._rg and base._tape is None:
        raise RuntimeError(VIEW_OF_LEAF_INPLACE)
    if recording and (base is not None or (self._vc is not None and len(self._vc) > 1)):
        # torch rewrites the history of the base and of every view here (CopySlices);
        # recording it as a plain in-place op would give silently wrong gradients
        raise NotImplementedError(
            "in-place changes to a view (or to a tensor that has views) that requires grad "
            "are not supported yet; use an out-of-place op, or make the change under "
            "tapegrad.no_grad()")


def _inplace(self: Tensor, other, key: str, scalar_key: str, fill=None) -> Tensor:
    _storage(self)
    recording = _recording(self, other) if isinstance(other, Tensor) else _recording(self)
    _check_inplace(self, recording)
    if recording:
        # recorded: the new value gets its own record and slot; the old slot is marked as
        # changed (version bump), so a VJP that saved it refuses instead of using it.
        if fill is not None:
            # the constant, whatever the old value (inf, NaN), with a zero gradient to it;
            # recorded with self's own storage as its value (see below)
            self._v.fill(fill)
            result = _record(_OP[scalar_key], self._v, self, None, scalar=fill)
        else:
            source = self
            if key in ("mul", "div") and isinstance(other, Tensor) and other.requires_grad:
                # other's gradient needs self's value from before the change: read a recorded
                # copy of it (torch keeps original_self), not the storage about to be
                # overwritten
                source = _unary(self, op=_OP["clone"], value=self._v.copy())
            result = _arithmetic(source, other, op=_OP[key], scalar_op=_OP[scalar_key])
            np.copyto(self._v, result._v, casting="unsafe")
        self._version_box()[0] += 1
        # the new slot's value is self's storage from now on: a change made to it through
        # .data or NumPy reaches backward, as for any other recorded value
        _share(result._tape, result._slot, self._v)
        if self._tape is not None and self._tape.retained:  # (None: self had no history)
            _follow_retained(self, result._tape, result._slot)
        self._tape, self._slot = result._tape, result._slot
        return self
    if fill is not None:
        self._v.fill(fill)
    else:
        ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[key]
        ufunc(self._v, _value(other), out=self._v, casting="same_kind")
    self._version_box()[0] += 1
    return self


def _follow_retained(t: Tensor, tape, slot: int) -> None:
    """``t`` changed in place, its new version recorded at ``slot`` of ``tape``: if it retains
    its grad, the registration moves there, as torch's retained grad is that of the tensor's
    newest version (the gradient of the version it replaces no longer reaches ``.grad``)."""
    old = t._tape
    for i, (s, ref) in enumerate(old.retained):
        if s == t._slot and ref() is t:
            del old.retained[i]
            tape.retained = appended(tape.retained, (slot, ref))
            return


def _share_version(out: Tensor, src: Tensor) -> None:
    """``out`` is a view of ``src``'s storage: one version counter for both."""
    box = src._vc
    if box is None:
        box = src._version_box()
    if len(box) == 1:
        box.append(True)  # marks the storage as viewed
    out._vc = box
    out._base = src if src._base is None else src._base
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
        ints = np.arange(a._v.size, dtype=np.int64).reshape(a._v.shape).transpose(perm).ravel()
        out = _record(op, value, a, None, ints)
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
        keep = tuple(0 if d in dims else 1 for d in range(v.ndim))
        return _record(_OP[key_dim], value, a, None, (v.ndim, *v.shape, *keep))
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
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {a.dtype.name.capitalize()}")
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
        keep = tuple(0 if d in dims else 1 for d in range(v.ndim))
        return _record(_OP["norm_p"], value, a, None, (v.ndim, *v.shape, *keep), scalar=p)
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


def matmul(a, b) -> Tensor:
    """Matrix product of 1-D and 2-D tensors, as ``torch.matmul``.

    >>> import tapegrad as tg
    >>> tg.matmul(tg.ones(2, 3), tg.ones(3))
    tensor([3., 3.])
    """
    a, b = _as_tensor(a), _as_tensor(b)
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
    value = np.asarray(np.matmul(a._v, b._v))
    if not (_recording(a, b)):
        return _wrap(value)
    m = sa[0] if a._v.ndim == 2 else 1
    n = sb[1] if b._v.ndim == 2 else 1
    key = {(1, 1): "dot", (2, 1): "mv"}.get((a._v.ndim, b._v.ndim), "mm")
    return _record(_OP[key], value, a, b, (m, k_a, n))


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
    value = np.matmul(a3._v, b3._v)
    if _recording(a3, b3):
        out = _record(_OP["bmm"], value, a3, b3, (int(np.prod(batch)), m, k, n))
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


# --------------------------------------------------------------------------- helpers


def _as_array(data: Any, dtype) -> np.ndarray:
    np_dtype = dtypes.to_numpy_dtype(dtype)
    if isinstance(data, Tensor):
        data = data._v
    if np_dtype is None and not isinstance(data, np.ndarray):
        probe = np.asarray(data)
        if probe.dtype.kind == "c":  # (a cast to float64 would drop the imaginary parts)
            raise dtypes.complex_error(probe.dtype)
        np_dtype = np.float64 if probe.dtype.kind == "f" else None
        arr = np.array(probe, dtype=np_dtype, copy=True)
    else:
        if isinstance(data, np.ndarray) and data.dtype.kind == "c":
            raise dtypes.complex_error(data.dtype)
        arr = np.array(data, dtype=np_dtype, copy=True)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"can't convert data of dtype {arr.dtype} to a tensor")
    if arr.dtype.kind == "u" and arr.dtype != np.uint8:
        arr = arr.astype(np.int64)
    if not arr.dtype.isnative:  # (a big-endian array, say: its values in this machine's order)
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def _check_real_fill(t: Tensor, value) -> None:
    """torch's refusal to write a complex number into a real tensor."""
    if isinstance(value, (complex, np.complexfloating)) or (
            not isinstance(value, Tensor) and np.asarray(value).dtype.kind == "c"):
        kind = {"f": "double" if t._v.dtype.itemsize == 8 else (
            "float" if t._v.dtype.itemsize == 4 else "c10::Half"),
            "b": "bool"}.get(t._v.dtype.kind, str(t._v.dtype))
        if t._v.dtype.kind in "iu":
            kind = {1: "signed char" if t._v.dtype.kind == "i" else "unsigned char",
                    2: "short", 4: "int", 8: "long"}[t._v.dtype.itemsize]
        raise RuntimeError(f"value cannot be converted to type {kind} without overflow")


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


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else _wrap(_as_array(x, None))


def _value(x: Any):
    return x._v if isinstance(x, Tensor) else x


def _rebuild(value: np.ndarray, requires_grad: bool) -> Tensor:
    t = _wrap(value)
    t._rg = requires_grad
    return t


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


_CONSTANTS: dict = {2: TWO}  # Python number -> read-only float64 0-d array (see _scalar)
_basic_maps: dict = {}


def _basic_map(shape: tuple, key: tuple) -> array:
    """The int params of a basic index (ints, slices, None, ...: ``basic_params``), remembered
    (a loop slices the same shapes the same way on every step) as an int64 array, which the
    tape's int pool extends by one copy."""
    if len(key) == 1 and key[0].__class__ is slice:
        k = key[0]
        memo = (shape, k.start, k.stop, k.step)
    else:
        memo = (shape, *((k.start, k.stop, k.step) if k.__class__ is slice else (k,)
                         for k in key))
    found = _basic_maps.get(memo)
    if found is None:
        if len(_basic_maps) >= 1024:
            _basic_maps.clear()
        found = _basic_maps[memo] = array("q", basic_params(shape, key))
    return found


def _index_key(key) -> tuple:
    if not isinstance(key, tuple):
        # torch's (and old NumPy's) rule: a short list holding a sequence, a slice, None or
        # an Ellipsis is a tuple of indices (x[[[0, 1], [1, 0]]] is x[[0, 1], [1, 0]])
        key = tuple(key) if key.__class__ is list and len(key) < 32 and any(
            isinstance(k, _SEQUENCE_LIKE) or k is None for k in key) else (key,)
    for k in key:
        if isinstance(k, Tensor):
            _guard(k, "index")  # while compiling, an index computed from the inputs is guarded
    return tuple(k._v if isinstance(k, Tensor) else (_list_index(k) if isinstance(k, list) else k)
                 for k in key)


_SEQUENCE_LIKE = (list, tuple, np.ndarray, slice, type(Ellipsis), Tensor)


def _list_index(k: list) -> np.ndarray:
    """A list of indices as an array: an empty one is of int64, as torch's (NumPy makes it
    float64 and refuses it)."""
    a = np.asarray(k)
    return a.astype(np.int64) if a.size == 0 and a.dtype.kind == "f" else a


def _check_advanced(shape: tuple, key: tuple) -> None:
    """torch's refusals of an advanced index that NumPy takes or words otherwise: too many
    indices, and a boolean mask whose shape is not that of the dims it covers (NumPy takes an
    empty mask on any dim)."""
    used = sum(0 if k is None or k is Ellipsis or isinstance(k, (bool, np.bool_))
               else k.ndim if isinstance(k, np.ndarray) and k.dtype == np.bool_ else 1
               for k in key)
    if used > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    if not any(isinstance(k, np.ndarray) and k.dtype == np.bool_ and k.ndim for k in key):
        return
    dims, masks, src = [], [], 0  # (the indexed shape as torch words it: basic indices taken)
    for k in key:
        if k is None or isinstance(k, (bool, np.bool_)):
            dims.append(1)
        elif k is Ellipsis:
            dims += shape[src:src + len(shape) - used]
            src += len(shape) - used
        elif isinstance(k, slice):
            dims.append(len(range(*k.indices(shape[src]))))
            src += 1
        elif isinstance(k, np.ndarray) and k.dtype == np.bool_:
            masks.append((len(dims), k.shape))
            dims += shape[src:src + k.ndim]
            src += k.ndim
        elif isinstance(k, np.ndarray):
            dims.append(shape[src])
            src += 1
        else:  # an int
            src += 1
    dims += shape[src:]
    for at, mask in masks:
        for j, n in enumerate(mask):
            if n != dims[at + j]:
                raise IndexError(f"The shape of the mask {list(mask)} at index {j} does not "
                                 f"match the shape of the indexed tensor {list(dims)} at index "
                                 f"{at + j}")


def _is_basic(key: tuple) -> bool:
    return all(k is None or k is Ellipsis or isinstance(k, (slice, int, np.integer))
               and not isinstance(k, bool) for k in key)


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
        value = _c_order(np.concatenate(values, axis=d) if kind == "cat" else
                         np.stack(values, axis=d))
    except ValueError as err:
        shapes = ", ".join(str(list(v.shape)) for v in values)
        raise RuntimeError(f"{kind}(): tensors must have matching sizes except in the "
                           f"concatenated dim; got shapes {shapes} ({err})") from None
    if not (_recording(*ts)):
        return _wrap(value)
    outer = int(np.prod(value.shape[:d]))
    row = int(np.prod(value.shape[d:]))
    parts, col = [], 0
    for t in ts:
        width = t._v.size // outer if outer else 0
        parts.append((_OP[kind], t, None, (outer, row, col, width)))
        col += width
    return _record_parts(value, parts)


def where(condition, x, y) -> Tensor:
    """Elements of ``x`` where ``condition`` holds, else of ``y`` (broadcasting all three).

    >>> import tapegrad as tg
    >>> x = tg.tensor([-1.0, 2.0])
    >>> tg.where(x > 0, x, 0.0)
    tensor([0., 2.])
    """
    c, xt, yt = _as_tensor(condition), _as_tensor(x), _as_tensor(y)
    value = np.asarray(np.where(c._v, xt._v, yt._v))
    if not (_recording(xt, yt)):
        return _wrap(value)
    shape = value.shape
    # the condition stays the tensor it is: while compiling it may be a recorded comparison
    mask = _broadcast_operand(c, np.broadcast_to(c._v, shape))
    xe = _broadcast_operand(xt, np.broadcast_to(xt._v, shape))
    ye = _broadcast_operand(yt, np.broadcast_to(yt._v, shape))
    return _record_parts(value, [(_OP["where_x"], xe, mask, None),
                                 (_OP["where_y"], ye, mask, None)])
