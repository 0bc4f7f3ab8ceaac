"""The public ``Tensor``: torch's API over NumPy values, recording onto the tape.

Every differentiable method follows one path: compute the value eagerly with the op's NumPy
forward (bad shapes raise here, before anything is recorded), and -- only when grad mode is on and
an input requires grad -- append one record to the tape.  The class holds the API; the work is
done in four rooms, imported below the class (each needs the class itself):

* recording.py  -- how a result lands on the tape (``_record``, ``_emit``), whether an op
                   records, what ``tg.compile`` adds;
* fastpath.py   -- the elementwise paths every operator and math function takes, and the
                   ``_ZeroDim`` and ``_OneFloat`` subclasses, with the reasons for their shape;
* indexing.py   -- ``x[key]``, ``x[key] = v`` and the in-place ops;
* structural.py -- reductions, softmax, max/min, matmul, views, joins, comparisons.

The elementwise methods, operators and ``tapegrad.`` functions are made from the op table
(surface.py), not written here.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import numpy as np

from . import dtypes
from .device import CPU as _CPU
from .engine import backward as _engine_backward
from .grad_mode import NON_DEFAULT as _NON_DEFAULT
from .grad_mode import STATE
from .node import grad_fn_of
from .ops import BY_KEY
from .ops.shape import broadcast_map
from .printing import format_tensor, needs_dtype_suffix
from .tape import appended

_OP = dict(BY_KEY)
_NORM = _OP["norm"]
_norm_2 = _NORM.eager  # (read once: a loop's y.data.norm() test is a few hundred ns in all)
_FRO = "fro"  # (norm's default, the same object: told apart by identity)
_CAST = _OP["to_copy"]
_F64 = np.dtype(np.float64)
_f64 = np.float64
_ndarray = np.ndarray
_ACCUMULATING = threading.Lock()  # (one for all leaves: backwards meet rarely)


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

    def __init__(self, *args: Any, dtype=None, requires_grad: bool = False) -> None:
        if len(args) == 1 and dtype is not None or isinstance(args[0] if args else 0, np.ndarray):
            value = _as_array(args[0], dtype)
        else:  # (torch.Tensor(2, 3), Tensor([1, 2]), Tensor(x.shape): legacy.py's)
            from .legacy import constructed

            value = constructed(args, dtype)
        self._v = value
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
        if dim is None:
            return Size(self._v.shape)
        n = self._v.ndim
        if not -n <= dim < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, "
                             f"{n - 1}], but got {dim})" if n else f"Dimension specified as "
                             f"{dim} but tensor has no dimensions")
        return self._v.shape[dim]

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

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient when a backward computes it; a
        tensor it returns replaces the gradient.  Returns a handle (``.remove()``)."""
        from .hooks import register_hook

        return register_hook(self, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` (a leaf) once a backward has accumulated into ``.grad``."""
        from .hooks import register_post_accumulate_grad_hook

        return register_post_accumulate_grad_hook(self, hook)

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

    def numpy(self, *, force: bool = False) -> np.ndarray:
        if _NON_DEFAULT[0]:  # (only while compiling can it be a guard: _guard's test first)
            _guard(self, "numpy()")
        if (self._rg or (self._tape is not None and not self._stop)) and not force:
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
        if needs_dtype_suffix(self._v, dtypes.DEFAULT[0].np):
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

    # (+ - * / ** and their named forms x.add(y) ..., unary - and abs(): made from the op
    # table by surface.py, once the class exists)

    def __pos__(self):
        return self

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

    # (eq ne lt le gt ge, their operators, logical_and/or/xor/not, all, any: made from the op
    # table by surface.py; ``& | ^ ~`` are logical on bool tensors, bitwise on integer ones)

    def __and__(self, other):
        return _bitwise(self, other, "logical_and", np.bitwise_and)

    def __or__(self, other):
        return _bitwise(self, other, "logical_or", np.bitwise_or)

    def __xor__(self, other):
        return _bitwise(self, other, "logical_xor", np.bitwise_xor)

    def __invert__(self):
        return _bitwise(self, None, "logical_not", np.invert)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def equal(self, other: Tensor) -> bool:
        return self.shape == other.shape and bool(np.array_equal(self._v, other._v))

    # -- elementwise math ----------------------------------------------------------------------

    # (exp, log, tanh ... and maximum, minimum: made from the op table by surface.py)

    def clamp(self, min=None, max=None):  # noqa: A002 -- torch's names
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        key = "clamp" if min is not None and max is not None else (
            "clamp_min" if min is not None else "clamp_max")
        lo = -np.inf if min is None else float(min)
        hi = np.inf if max is None else float(max)
        value = np.asarray(_OP[key].eager(self._v, min, max))
        if _recording(self):
            return _record(_OP[key], value, self, None, scalars=(lo, hi))
        return _wrap(value)

    clip = clamp

    # (each method taking ``dim`` also takes torch's NumPy spellings ``axis=``/``keepdims=``,
    # and ``dtype=`` where torch's does: positional defaults, free on a call that does not give
    # them, hidden from the signatures -- see structural._numpy_signatures)

    def softmax(self, dim=None, dtype=None, axis=None):
        if axis is not None or dtype is not None or dim is None:
            self, dim, _ = _numpy_aliases(self, "softmax", dim, False, dtype, axis, None)
            if dim is None:
                raise TypeError("softmax() missing 1 required positional argument: 'dim'")
        return _along(self, dim, "softmax", lambda v, d: _OP["softmax"].eager(v, d))

    def log_softmax(self, dim=None, dtype=None, axis=None):
        if axis is not None or dtype is not None or dim is None:
            self, dim, _ = _numpy_aliases(self, "log_softmax", dim, False, dtype, axis, None)
            if dim is None:
                raise TypeError("log_softmax() missing 1 required positional argument: 'dim'")
        return _along(self, dim, "log_softmax", lambda v, d: _OP["log_softmax"].eager(v, d))

    def logsumexp(self, dim=None, keepdim: bool = False, axis=None, keepdims=None):
        if axis is not None or keepdims is not None or dim is None:
            self, dim, keepdim = _numpy_aliases(self, "logsumexp", dim, keepdim, None, axis,
                                                keepdims)
            if dim is None:
                raise TypeError("logsumexp() missing 1 required positional argument: 'dim'")
        return _along(self, dim, "logsumexp",
                      lambda v, d: _OP["logsumexp"].eager(v, d, keepdim))

    def max(self, dim=None, keepdim: bool = False, axis=None, keepdims=None):
        if axis is not None or keepdims is not None:
            self, dim, keepdim = _numpy_aliases(self, "max", dim, keepdim, None, axis, keepdims)
        return _extreme(self, dim, keepdim, "max")

    def min(self, dim=None, keepdim: bool = False, axis=None, keepdims=None):
        if axis is not None or keepdims is not None:
            self, dim, keepdim = _numpy_aliases(self, "min", dim, keepdim, None, axis, keepdims)
        return _extreme(self, dim, keepdim, "min")

    # -- reductions ----------------------------------------------------------------------------

    def sum(self, dim=None, keepdim: bool = False, dtype=None, axis=None, keepdims=None):
        if axis is not None or keepdims is not None or dtype is not None:
            self, dim, keepdim = _numpy_aliases(self, "sum", dim, keepdim, dtype, axis, keepdims)
        return _reduce(self, dim, keepdim, "sum", "sum_dim")

    def mean(self, dim=None, keepdim: bool = False, dtype=None, axis=None, keepdims=None):
        if axis is not None or keepdims is not None or dtype is not None:
            self, dim, keepdim = _numpy_aliases(self, "mean", dim, keepdim, dtype, axis,
                                                keepdims)
        if self._v.dtype.kind != "f":
            raise RuntimeError(
                "mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {self.dtype.name.capitalize()}")
        return _reduce(self, dim, keepdim, "mean", "mean_dim")

    def norm(self, p=_FRO, dim=None, keepdim: bool = False):
        """The vector ``p``-norm over ``dim`` (every dim if None), as ``torch.norm``: ``p`` any
        number, ``inf``, ``-inf`` or ``"fro"`` (the 2-norm), with torch's gradients at zeros
        and ties.

        >>> import tapegrad as tg
        >>> tg.tensor([[3.0, -4.0], [0.0, 1.0]]).norm(float("inf"), dim=1)
        tensor([4., 1.])
        """
        if dim is None and not keepdim and (p is _FRO or p == 2):  # (the default: first)
            value = _norm_2(self._v)
            if self._tape is None and not self._rg:  # e.g. y.data.norm() in a loop test
                return _wrap(value)
            return _unary(self, op=_NORM, value=value)
        if p.__class__ is not int and p.__class__ is not float:
            p = 2 if p.__class__ is str and p == "fro" else _norm_order(p)
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
            value = _reshape_without_copy(v, shape)
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

    # (dtype conversion -- to, double, float, half, long, int, bool, cpu -- is casting.py's)

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

    def squeeze(self, dim=None, axis=None):
        if axis is not None:
            dim = _numpy_aliases(self, "squeeze", dim, False, None, axis, None)[1]
        v = _storage(self)
        if dim is None:
            return _view(_OP["squeeze"], self, v.reshape([n for n in v.shape if n != 1]))
        dims = _normalize_dims(dim, v.ndim)
        shape = [n for d, n in enumerate(v.shape) if not (d in dims and n == 1)]
        return _view(_OP["squeeze_dim"], self, v.reshape(shape))

    def unsqueeze(self, dim=None, axis=None):
        if axis is not None or dim is None:
            dim = _numpy_aliases(self, "unsqueeze", dim, False, None, axis, None)[1]
            if dim is None:
                raise TypeError("unsqueeze() missing 1 required positional argument: 'dim'")
        v = _storage(self)
        d = dim if dim >= 0 else dim + v.ndim + 1
        if not 0 <= d <= v.ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-v.ndim - 1}, {v.ndim}], but got {dim})")
        return _view(_OP["unsqueeze"], self, np.expand_dims(v, d))

    # (x[key] and x[key] = v: indexing.getitem and indexing.setitem, bound below the class)


# The rooms: each imports ``Tensor`` from this module, so they are imported once it exists.
# (``import tapegrad`` imports this module first, so no room is ever imported on its own.)
from .fastpath import _storage, _unary  # noqa: E402
from .indexing import _check_real_fill, _inplace, getitem, setitem  # noqa: E402
from .recording import (  # noqa: E402
    _as_array,
    _as_tensor,
    _detached_in_compile,
    _guard,
    _make_plain,
    _rebuild,
    _record,
    _recording,
    _replace_value,
    _share_version,
    _wrap,
)
from .structural import (  # noqa: E402
    _along,
    _bitwise,
    _check_permutation,
    _check_shape,
    _expand_to,
    _extreme,
    _norm_order,
    _norm_p,
    _normalize_dims,
    _numpy_aliases,
    _numpy_signatures,
    _rearrange,
    _reduce,
    _reshape_without_copy,
    _shape_arg,
    _view,
    cat,  # noqa: F401 -- (tapegrad.tensor's own names, as other modules import them)
    matmul,
    stack,  # noqa: F401
    where,  # noqa: F401
)

Tensor.__getitem__ = getitem
Tensor.__setitem__ = setitem

from .casting import install as _install_casts  # noqa: E402

_install_casts()
_numpy_signatures()


from .surface import install  # noqa: E402

install()
