"""torch's fused products and arithmetic: ``addmm``, ``addmv``, ``addbmm``, ``baddbmm``,
``addr`` (``beta * input + alpha * product``), ``addcmul``, ``addcdiv``, ``rsub``,
``true_divide``, ``floor_divide``, ``positive``, ``cdist``, ``chain_matmul``.

Composed of recorded ops (matmul, arithmetic, ``norm``), named as torch's nodes
(``node.rename``): gradients, second order and ``tg.compile`` come from those.  With
``beta=0`` the input is ignored, as torch's (its nan/inf do not propagate) and its gradient
is zero.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .dtypes import SCALAR_NAMES
from .node import rename
from .products import add_methods, takes_out
from .recording import _as_tensor
from .structural import matmul, where
from .tensor import Tensor


def _name(t: Tensor) -> str:
    return SCALAR_NAMES.get(np.asarray(t._v).dtype, str(np.asarray(t._v).dtype))


def _expand_check(shape: tuple, target: tuple) -> None:
    """torch's error for an ``input`` of ``shape`` that does not expand to ``target``."""
    bad = len(shape) > len(target) or any(
        shape[-i] not in (1, target[-i]) for i in range(1, len(shape) + 1))
    if bad:
        k = next((i for i in range(1, len(shape) + 1)
                  if i > len(target) or shape[-i] not in (1, target[-i])), 1)
        size = target[-k] if k <= len(target) else 1
        raise RuntimeError(
            f"The expanded size of the tensor ({size}) must match the existing size "
            f"({shape[-k]}) at non-singleton dimension {max(len(target) - k, 0)}.  Target "
            f"sizes: {list(target)}.  Tensor sizes: {list(shape)}")


def _scaled_sum(name: str, input, product: Tensor, beta, alpha) -> Tensor:
    """``beta * input + alpha * product``, ``input`` broadcast to ``product``'s shape and
    ignored when ``beta`` is 0, named ``name``."""
    x = _as_tensor(input)
    _expand_check(tuple(x._v.shape), tuple(product._v.shape))
    if np.asarray(x._v).dtype.kind in "iub":
        for arg, v in (("beta", beta), ("alpha", alpha)):
            if isinstance(v, float) and name == "AddrBackward0":
                raise RuntimeError(f"For integral input tensors, argument {arg} must not be a "
                                   "floating point number.")
    term = product if alpha == 1 else product * alpha
    if beta == 0:  # (input's values unread; its gradient zero, as torch's)
        kept = where(_as_tensor(np.zeros((), bool)), x, 0)
    else:
        kept = x if beta == 1 else x * beta
    return rename(kept + term, name)


def _matrix(t: Tensor, which: str) -> None:
    if t._v.ndim != 2:
        raise RuntimeError(f"{which} must be a matrix, got {t._v.ndim}-D tensor")


def addmm(input, mat1, mat2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)`` (``input`` broadcast), as ``torch.addmm``.

    >>> import tapegrad as tg
    >>> tg.addmm(tg.ones(2, 2), tg.eye(2), tg.ones(2, 2), beta=0.5)
    tensor([[1.5000, 1.5000],
            [1.5000, 1.5000]])
    """
    x, a, b = _as_tensor(input), _as_tensor(mat1), _as_tensor(mat2)
    _matrix(a, "mat1")
    _matrix(b, "mat2")
    (m, k), (kb, n) = a._v.shape, b._v.shape
    if k != kb:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {kb}x{n})")
    if a._v.dtype != b._v.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_name(a)} and "
                           f"{_name(b)}")
    if x._v.dtype != b._v.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {_name(x)} and "
                           f"{_name(b)}")
    return _scaled_sum("AddmmBackward0", x, matmul(a, b), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``, as ``torch.addmv``.

    >>> import tapegrad as tg
    >>> tg.addmv(tg.ones(2), tg.eye(2), tg.tensor([1., 2.]), alpha=2)
    tensor([3., 5.])
    """
    x, a, v = _as_tensor(input), _as_tensor(mat), _as_tensor(vec)
    if a._v.ndim != 2 or v._v.ndim != 1 or x._v.ndim > 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {x._v.ndim}, {a._v.ndim}, "
                           f"{v._v.ndim}")
    (m, k), kv = a._v.shape, v._v.shape[0]
    if k != kv or (x._v.ndim and x._v.shape[0] not in (1, m)):
        size = x._v.shape[0] if x._v.ndim else 1
        raise RuntimeError(f"size mismatch, got input ({size}), mat ({m}x{k}), vec ({kv})")
    if not x._v.dtype == a._v.dtype == v._v.dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {_name(x)}, "
                           f"{_name(a)}, and {_name(v)}")
    return _scaled_sum("AddmvBackward0", x, matmul(a, v), beta, alpha)


def _batches(b1: Tensor, b2: Tensor) -> None:
    for which, t in (("batch1", b1), ("batch2", b2)):
        if t._v.ndim != 3:
            raise RuntimeError(f"{which} must be a 3D tensor")


def addbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * sum_i(batch1[i] @ batch2[i])``, as ``torch.addbmm``.

    >>> import tapegrad as tg
    >>> tg.addbmm(tg.zeros(2, 2), tg.ones(3, 2, 1), tg.ones(3, 1, 2))
    tensor([[3., 3.],
            [3., 3.]])
    """
    x, a, b = _as_tensor(input), _as_tensor(batch1), _as_tensor(batch2)
    _batches(a, b)
    (na, m, k), (nb, kb, n) = a._v.shape, b._v.shape
    if na != nb:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {na} and "
                           f"{nb}")
    if k != kb:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({m}x{k} and {kb}x{n})")
    if not x._v.dtype == a._v.dtype == b._v.dtype:
        other = b if x._v.dtype == a._v.dtype else a
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {_name(x)} and "
                           f"{_name(other)}")
    # (one matrix product over the joined inner dims: sum_i A_i B_i = [A_1 .. A_n] [B_1 .. B_n]^T)
    left = a.permute(1, 0, 2).reshape(m, na * k)
    right = b.reshape(na * k, n)
    return _scaled_sum("AddbmmBackward0", x, matmul(left, right), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (batch1 @ batch2)`` per batch, as ``torch.baddbmm``.

    >>> import tapegrad as tg
    >>> tg.baddbmm(tg.ones(1, 2), tg.ones(3, 1, 2), tg.ones(3, 2, 2)).shape
    tapegrad.Size([3, 1, 2])
    """
    x, a, b = _as_tensor(input), _as_tensor(batch1), _as_tensor(batch2)
    _batches(a, b)
    (na, _, k), (nb, kb, _) = a._v.shape, b._v.shape
    if (na, k) != (nb, kb):
        raise RuntimeError("Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{na}, {k}] but got: [{nb}, {kb}].")
    if a._v.dtype != b._v.dtype:
        raise RuntimeError(f"expected scalar type {_name(a)} but found {_name(b)}")
    if x._v.dtype != a._v.dtype:
        raise RuntimeError(f"Input dtypes must be the same, got: input {_c(x)}, batch1: {_c(a)}, "
                           f"batch2: {_c(b)}")
    return _scaled_sum("BaddbmmBackward0", x, matmul(a, b), beta, alpha)


def _c(t: Tensor) -> str:
    return {"float64": "double", "float32": "float", "float16": "half", "int64": "long",
            "int32": "int"}.get(str(np.asarray(t._v).dtype), str(np.asarray(t._v).dtype))


def addr(input, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)``, as ``torch.addr``.

    >>> import tapegrad as tg
    >>> tg.addr(tg.zeros(2, 2), tg.tensor([1., 2.]), tg.tensor([1., 1.]))
    tensor([[1., 1.],
            [2., 2.]])
    """
    x, a, b = _as_tensor(input), _as_tensor(vec1), _as_tensor(vec2)
    for which, t in (("vec1", a), ("vec2", b)):
        if t._v.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {which}, but got {t._v.ndim}-D")
    if np.asarray(x._v).dtype == bool:
        raise NotImplementedError("addr of bool tensors is not supported")
    return _scaled_sum("AddrBackward0", x, a.reshape(-1, 1) * b, beta, alpha)


# -- pointwise ------------------------------------------------------------------------------


def _value_of(value, *ts: Tensor):
    """``value`` as torch applies it: truncated to an int when the result is an integer."""
    if all(np.asarray(t._v).dtype.kind in "iub" for t in ts) and isinstance(value, float):
        return int(value)
    return value


def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2`` (all broadcast), as ``torch.addcmul``.

    >>> import tapegrad as tg
    >>> tg.addcmul(tg.ones(2), tg.tensor([1., 2.]), tg.tensor([3., 4.]), value=0.5)
    tensor([2.5000, 5.0000])
    """
    x, a, b = _as_tensor(input), _as_tensor(tensor1), _as_tensor(tensor2)
    _broadcastable(x, a, b)
    value = _value_of(value, x, a, b)
    product = a * b if value == 1 else a * value * b
    return rename(x + product, "AddcmulBackward0")


def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2`` (all broadcast), as ``torch.addcdiv``.

    >>> import tapegrad as tg
    >>> tg.addcdiv(tg.ones(2), tg.tensor([1., 2.]), tg.tensor([4., 4.]), value=2)
    tensor([1.5000, 2.0000])
    """
    x, a, b = _as_tensor(input), _as_tensor(tensor1), _as_tensor(tensor2)
    if np.asarray(a._v).dtype.kind in "iub" and np.asarray(b._v).dtype.kind in "iub":
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))"
            ".to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for "
            "float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes.")
    _broadcastable(x, a, b)
    quotient = a / b if value == 1 else a * value / b
    return rename(x + quotient, "AddcdivBackward0")


def _broadcastable(*ts: Tensor) -> None:
    shape: tuple = ()
    for t in ts:
        try:
            shape = np.broadcast_shapes(shape, t._v.shape)
        except ValueError:
            a, b = shape, tuple(t._v.shape)
            k = next(i for i in range(1, min(len(a), len(b)) + 1)
                     if a[-i] != b[-i] and 1 not in (a[-i], b[-i]))
            raise RuntimeError(f"The size of tensor a ({a[-k]}) must match the size of tensor b "
                               f"({b[-k]}) at non-singleton dimension {max(len(a), len(b)) - k}"
                               ) from None


def _no_bool_subtraction(*ts) -> None:
    if all(isinstance(t, Tensor) and np.asarray(t._v).dtype == bool for t in ts):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")


def rsub(input, other, *, alpha=1) -> Tensor:
    """``other - alpha * input``, as ``torch.rsub``.

    >>> import tapegrad as tg
    >>> tg.rsub(tg.tensor([1., 2.]), 5)
    tensor([4., 3.])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub() received an invalid combination of arguments - got "
                        f"({type(input).__name__}, {type(other).__name__}), but expected "
                        "(Tensor input, Tensor other, *, Number alpha) or (Tensor input, Number "
                        "other, Number alpha)")
    _no_bool_subtraction(input, other)
    if isinstance(other, Tensor):
        from .functions import FUNCTIONS

        return rename(FUNCTIONS["sub"](other, input, alpha=alpha), "RsubBackward0")
    scaled = input if alpha == 1 else input * alpha
    return rename(other - scaled, "RsubBackward1")


def true_divide(input, other) -> Tensor:
    """``input / other`` (true division, also of integers), as ``torch.true_divide``."""
    x = _as_tensor(input)
    return x / other


def positive(input) -> Tensor:
    """``input`` itself, as ``torch.positive`` (refused for bool, as torch's)."""
    x = _as_tensor(input)
    if np.asarray(x._v).dtype == bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return x


def floor_divide(input, other) -> Tensor:
    """``input // other``: the quotient rounded towards minus infinity (Python's ``//``), as
    ``torch.floor_divide``; as torch's, it has no derivative (a backward through it raises).

    >>> import tapegrad as tg
    >>> tg.floor_divide(tg.tensor([7, -7]), 2)
    tensor([ 3, -4])
    """
    return _floor_divided(input, other, "floor_divide")


def _floor_divided(input, other, aten: str) -> Tensor:
    x = _as_tensor(input)
    y = other if isinstance(other, Tensor) else _number(other, x)
    _broadcastable(x, y)
    if np.asarray(x._v).dtype.kind in "iub" and np.asarray(y._v).dtype.kind in "iub":
        if (np.asarray(y._v) == 0).any():
            raise RuntimeError("ZeroDivisionError")
    return no_derivative(aten, _floor_quotient, x, y)


_NO_DERIVATIVE: dict = {}


def no_derivative(aten: str, compute, *tensors: Tensor) -> Tensor:
    """``compute(*tensors)`` (a tensor without history) as torch computes an op it gives no
    derivative: when an input requires grad, the result has torch's ``NotImplemented`` node,
    and a backward through it raises torch's error."""
    if not any(t.requires_grad for t in tensors):
        return compute(*tensors)
    cls = _NO_DERIVATIVE.get(aten)
    if cls is None:
        from .autograd.function import Function

        def forward(ctx, *args, compute):
            return compute(*args)

        def backward(ctx, *grads):
            raise RuntimeError(f"derivative for aten::{aten} is not implemented")

        cls = _NO_DERIVATIVE[aten] = type(
            f"_{aten}", (Function,), {"_node_name": "torch::autograd::NotImplemented",
                                      "forward": staticmethod(forward),
                                      "backward": staticmethod(backward)})
    return cls.apply(*tensors, compute=compute)


def _number(v, x: Tensor) -> Tensor:
    """A Python number beside ``x``, in the dtype torch's promotion gives the pair."""
    kind = np.asarray(x._v).dtype.kind
    if isinstance(v, bool) or (isinstance(v, numbers.Integral) and kind in "iuf") or (
            isinstance(v, float) and kind == "f"):
        return _as_tensor(np.asarray(v, dtype=np.asarray(x._v).dtype))
    return _as_tensor(v)


def _floor_quotient(a: Tensor, b: Tensor) -> Tensor:
    dtype = _promoted(a, b, np.result_type(np.asarray(a._v).dtype, np.asarray(b._v).dtype))
    x, y = np.asarray(a._v, dtype=dtype), np.asarray(b._v, dtype=dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.floor_divide(x, y) if dtype.kind != "f" else floor_divide_floats(x, y)
    return _as_tensor(np.ascontiguousarray(value))


def floor_divide_floats(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """torch's floored quotient of floats (its ``div_floor_floating``): through ``fmod``, so an
    infinite dividend gives NaN, a zero divisor IEEE's quotient, and a quotient that the
    division rounded up is corrected."""
    a, b = np.broadcast_arrays(a, b)
    mod = np.fmod(a, b)
    div = (a - mod) / b
    div = np.where((mod != 0) & ((b < 0) != (mod < 0)), div - 1, div)
    floored = np.floor(div)
    floored = np.where(div - floored > 0.5, floored + 1, floored)
    floored = np.where(div == 0, np.copysign(np.zeros_like(div), a / b), floored)
    return np.where(b == 0, a / b, floored)


def _promoted(a: Tensor, b: Tensor, numpy_choice: np.dtype) -> np.dtype:
    """torch's dtype for two tensors: a float one's dtype beats any integer's."""
    da, db = np.asarray(a._v).dtype, np.asarray(b._v).dtype
    if da.kind == "f" and db.kind != "f":
        return da
    if db.kind == "f" and da.kind != "f":
        return db
    return numpy_choice


# -- distances and chains -------------------------------------------------------------------


def cdist(x1, x2, p: float = 2.0, compute_mode: str = "use_mm_for_euclid_dist_if_necessary"
          ) -> Tensor:
    """The ``p``-norm distance between each row of ``x1`` and each row of ``x2`` (batch dims
    broadcast), as ``torch.cdist`` (``compute_mode`` is accepted; the distances are always
    computed directly, and a zero distance has torch's zero gradient).

    >>> import tapegrad as tg
    >>> tg.cdist(tg.tensor([[0., 0.]]), tg.tensor([[3., 4.], [0., 1.]]))
    tensor([[5., 1.]])
    """
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist"):
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    a, b = _as_tensor(x1), _as_tensor(x2)
    for which, t in (("X1", a), ("X2", b)):
        if t._v.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {which} got: "
                               f"{t._v.ndim}D")
    if a._v.shape[-1] != b._v.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{a._v.shape[-1]} X2: {b._v.shape[-1]}")
    for which, t in (("X1", a), ("X2", b)):
        if np.asarray(t._v).dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {which} got: "
                               f"{_name(t)}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if a._v.dtype != b._v.dtype:
        raise RuntimeError(f"expected scalar type {_name(a)} but found {_name(b)}")
    _broadcastable(_as_tensor(np.empty(a._v.shape[:-2] + (0, 0))),
                   _as_tensor(np.empty(b._v.shape[:-2] + (0, 0))))
    diff = a.unsqueeze(-2) - b.unsqueeze(-3)
    if diff._v.size == 0:  # (no rows, or rows of no columns: zero distances)
        return rename(diff.sum(-1), "CdistBackward0")
    from .functions import FUNCTIONS

    if p == float("inf"):
        # torch's cdist passes the whole gradient to each tied largest |difference| (its norm
        # shares it out): the ties' sum, entering as t - t (zero in value; a non-finite t
        # enters as 0, without its gradient), beside the largest value itself
        size = diff.abs()
        top = size.amax(-1, keepdim=True).detach()
        tied = (size * (size == top)).sum(-1)
        tied = where(tied < np.inf, tied, 0.0)
        return rename(tied - tied.detach() + top.squeeze(-1), "CdistBackward0")
    return rename(FUNCTIONS["norm"](diff, float(p), dim=-1), "CdistBackward0")


def chain_matmul(*matrices, out=None) -> Tensor:
    """The product of 2-D tensors, left to right, as the deprecated ``torch.chain_matmul``
    (``torch.linalg.multi_dot``'s old spelling; it warns as torch's)."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
                  "release. Use torch.linalg.multi_dot instead, which accepts a list of two or "
                  "more tensors rather than multiple parameters.", UserWarning, stacklevel=2)
    ts = [_as_tensor(m) for m in matrices]
    if not ts:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for t in ts:
        if t._v.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {t._v.ndim}, expected 2 instead.")
    if len(ts) > 1:
        for k in range(len(ts) - 1):
            if ts[k]._v.shape[1] != ts[k + 1]._v.shape[0]:
                raise RuntimeError(f"multi_dot(): tensors {k} and {k + 1} with shapes "
                                   f"{list(ts[k]._v.shape)} and {list(ts[k + 1]._v.shape)} "
                                   "cannot be multiplied")
    if out is None:
        return _chain(*ts)
    from .surface import with_out

    return with_out("mm", out, tuple(ts), _chain, *ts)  # (torch's error names mm())


def _chain(*ts: Tensor) -> Tensor:
    if len(ts) == 1:
        return ts[0].clone()
    result = ts[0]
    for t in ts[1:]:
        result = matmul(result, t)
    return result


add_methods(addmm, addmv, addbmm, baddbmm, addr, addcmul, addcdiv, true_divide, floor_divide,
            positive)

def _floordiv(self, other):
    return floor_divide(self, other)


def _rfloordiv(self, other):
    return floor_divide(_number(other, self), self)


def _ifloordiv(self, other):
    """``x //= y``: the quotient written into ``x`` (torch refuses a result of another
    dtype, and a leaf that requires grad)."""
    result = _floor_divided(self, other, "floor_divide_")
    if result.dtype != self.dtype:
        raise RuntimeError(f"result type {_name(result)} can't be cast to the desired output "
                           f"type {_name(self)}")
    self[...] = result
    if result.grad_fn is not None:
        rename(self, result.grad_fn.name())
    return self


Tensor.__floordiv__, Tensor.__rfloordiv__ = _floordiv, _rfloordiv
Tensor.__ifloordiv__ = Tensor.floor_divide_ = _ifloordiv

# (the functions take out=, as torch's; the methods do not)
addmm, addmv, addbmm, baddbmm = takes_out(addmm), takes_out(addmv), takes_out(addbmm), \
    takes_out(baddbmm)
addr, addcmul, addcdiv = takes_out(addr), takes_out(addcmul), takes_out(addcdiv)
true_divide, floor_divide = takes_out(true_divide), takes_out(floor_divide)

__all__ = ["addmm", "addmv", "addbmm", "baddbmm", "addr", "addcmul", "addcdiv", "rsub",
           "true_divide", "floor_divide", "positive", "cdist", "chain_matmul"]
