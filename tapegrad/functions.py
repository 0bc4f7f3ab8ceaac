"""Module-level math: ``tg.exp(x)``, ``tg.sum(x, dim)`` ... -- thin calls into Tensor methods."""

from __future__ import annotations

from .tensor import Tensor, _as_tensor, cat, matmul, stack, where  # noqa: F401

exp = Tensor.exp
log = Tensor.log
sin = Tensor.sin
cos = Tensor.cos
tanh = Tensor.tanh
sigmoid = Tensor.sigmoid
relu = Tensor.relu
sqrt = Tensor.sqrt
abs = Tensor.abs  # noqa: A001


def neg(x) -> Tensor:
    return -_as_tensor(x)


def pow(x, exponent) -> Tensor:  # noqa: A001
    return _as_tensor(x) ** exponent


def add(x, y) -> Tensor:
    return _as_tensor(x) + y


def sub(x, y) -> Tensor:
    return _as_tensor(x) - y


def mul(x, y) -> Tensor:
    return _as_tensor(x) * y


def div(x, y) -> Tensor:
    return _as_tensor(x) / y


def sum(x, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    return _as_tensor(x).sum(dim, keepdim)


def mean(x, dim=None, keepdim: bool = False) -> Tensor:
    return _as_tensor(x).mean(dim, keepdim)


def norm(x, p="fro", dim=None, keepdim: bool = False) -> Tensor:
    return _as_tensor(x).norm(p, dim, keepdim)


def reshape(x, shape) -> Tensor:
    return _as_tensor(x).reshape(shape)


def transpose(x, dim0: int, dim1: int) -> Tensor:
    return _as_tensor(x).transpose(dim0, dim1)


def logical_and(x, y) -> Tensor:
    return _as_tensor(x).logical_and(y)


def logical_or(x, y) -> Tensor:
    return _as_tensor(x).logical_or(y)


def logical_xor(x, y) -> Tensor:
    return _as_tensor(x).logical_xor(y)


def logical_not(x) -> Tensor:
    return _as_tensor(x).logical_not()


def eq(x, y) -> Tensor:
    return _as_tensor(x).eq(y)


def all(x) -> Tensor:  # noqa: A001
    return _as_tensor(x).all()


def any(x) -> Tensor:  # noqa: A001
    return _as_tensor(x).any()


def is_tensor(x) -> bool:
    return isinstance(x, Tensor)


def clamp(x, min=None, max=None) -> Tensor:  # noqa: A002
    return _as_tensor(x).clamp(min, max)


def maximum(x, y) -> Tensor:
    return _as_tensor(x).maximum(y)


def minimum(x, y) -> Tensor:
    return _as_tensor(x).minimum(y)


def max(x, dim=None, keepdim: bool = False):  # noqa: A001
    return _as_tensor(x).max(dim, keepdim)


def min(x, dim=None, keepdim: bool = False):  # noqa: A001
    return _as_tensor(x).min(dim, keepdim)


def softmax(x, dim: int) -> Tensor:
    return _as_tensor(x).softmax(dim)


def log_softmax(x, dim: int) -> Tensor:
    return _as_tensor(x).log_softmax(dim)


def logsumexp(x, dim, keepdim: bool = False) -> Tensor:
    return _as_tensor(x).logsumexp(dim, keepdim)


def squeeze(x, dim=None) -> Tensor:
    return _as_tensor(x).squeeze(dim)


def unsqueeze(x, dim: int) -> Tensor:
    return _as_tensor(x).unsqueeze(dim)


def permute(x, dims) -> Tensor:
    return _as_tensor(x).permute(tuple(dims))


def clone(x) -> Tensor:
    return _as_tensor(x).clone()
