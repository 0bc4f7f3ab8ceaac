"""The ``Distribution`` base class (torch.distributions' API) and the helpers the concrete
distributions share: parameter broadcasting, probs/logits conversion, validation.

Every density, entropy and KL is composed of recorded tapegrad ops, so gradients w.r.t. the
parameters (and ``create_graph``, ``tg.compile`` replay) come from the tape; sampling draws
from tapegrad's global random state (``tg.manual_seed``).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .. import creation, grad_mode
from ..dtypes import DEFAULT
from ..joins import broadcast_tensors
from ..structural import where
from ..tensor import Size, Tensor
from . import constraints

__all__ = ["Distribution"]


def _rng() -> np.random.Generator:
    """tapegrad's global random state, read at each draw (``manual_seed`` replaces it)."""
    return creation._rng


def _size(shape) -> Size:
    return shape if isinstance(shape, Size) else Size(tuple(shape))


def broadcast_all(*values) -> tuple:
    """The parameters as tensors of one shape: numbers become tensors of the first tensor's
    dtype (the default dtype if there is none), as torch's ``broadcast_all``."""
    dtype = None
    for v in values:
        if isinstance(v, Tensor):
            dtype = v.dtype
            break
        if not isinstance(v, numbers.Number):
            raise ValueError("Input arguments must all be instances of numbers.Number, "
                             "tapegrad.Tensor or objects implementing __torch_function__.")
    dtype = dtype or DEFAULT[0]
    tensors = [v if isinstance(v, Tensor) else creation.tensor(v, dtype=dtype)
               for v in values]
    if len(tensors) == 1:
        return (tensors[0],)
    return tuple(broadcast_tensors(*tensors))


def _eps(dtype) -> float:
    return float(np.finfo(dtype.np).eps)


def _tiny(dtype) -> float:
    return float(np.finfo(dtype.np).tiny)


def clamp_probs(probs: Tensor) -> Tensor:
    eps = _eps(probs.dtype)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    ps = clamp_probs(probs)
    if is_binary:
        return ps.log() - (-ps).log1p()
    return ps.log()


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    if is_binary:
        return logits.sigmoid()
    return logits.softmax(-1)


def softplus(x: Tensor) -> Tensor:
    """log(1 + exp(x)) exactly (no threshold), with the gradient sigmoid(x) everywhere: each
    branch sees only the inputs it is evaluated on, so no inf/nan reaches the backward."""
    pos = x > 0
    xp = where(pos, x, 0.0)
    xn = where(pos, 0.0, x)
    return where(pos, xp + (-xp).exp().log1p(), xn.exp().log1p())


def _sum_rightmost(value: Tensor, dim: int) -> Tensor:
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.dim() - dim]) + (-1,)).sum(-1)


class lazy_property:
    """A parameter computed from another on first use (``Bernoulli.probs`` from ``logits``)
    and then stored in the instance, as torch's ``lazy_property``."""

    def __init__(self, fn) -> None:
        self.wrapped = fn
        self.__doc__ = fn.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        with grad_mode.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def _text(value: Tensor) -> str:
    """``f"{value}"`` as torch prints it: a 0-d tensor as its number (Tensor.__format__)."""
    return format(value.item()) if value.dim() == 0 else str(value)


def _param_text(value: Tensor) -> str:
    return repr(value.size()) if value.numel() != 1 else _text(value)


class Distribution:
    """Base class of probability distributions, with ``torch.distributions.Distribution``'s
    API: ``batch_shape``, ``event_shape``, ``sample``, ``rsample``, ``log_prob``, ...

    >>> import tapegrad as tg
    >>> tg.distributions.Normal(0.0, 1.0).log_prob(tg.tensor(0.0))
    tensor(-0.9189)
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = __debug__

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument / sample validation on or off for distributions created later."""
        if value not in [True, False]:
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape=Size(), event_shape=Size(),
                 validate_args: bool | None = None) -> None:
        self._batch_shape = _size(batch_shape)
        self._event_shape = _size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            try:
                arg_constraints = self.arg_constraints
            except NotImplementedError:
                arg_constraints = {}
                warnings.warn(f"{self.__class__} does not define `arg_constraints`. Please set "
                              "`arg_constraints = {}` or initialize the distribution with "
                              "`validate_args=False` to turn off validation.", stacklevel=2)
            for param, constraint in arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue
                if param not in self.__dict__ and isinstance(getattr(type(self), param, None),
                                                             lazy_property):
                    continue  # (derived parameters are valid when their source is)
                value = getattr(self, param)
                if not bool(constraint.check(value).all()):
                    raise ValueError(
                        f"Expected parameter {param} ({type(value).__name__} of shape "
                        f"{tuple(value.shape)}) of distribution {self!r} to satisfy the "
                        f"constraint {constraint!r}, but found invalid values:\n{_text(value)}")

    def expand(self, batch_shape, _instance=None):
        """A new distribution whose parameters are expanded to ``batch_shape``."""
        raise NotImplementedError

    def _get_checked_instance(self, cls, _instance=None):
        if _instance is None and type(self).__init__ != cls.__init__:
            raise NotImplementedError(
                f"Subclass {self.__class__.__name__} of {cls.__name__} that defines a custom "
                "__init__ method must also define a custom .expand() method.")
        return self.__new__(type(self)) if _instance is None else _instance

    def _expand_params(self, cls, names, batch_shape, _instance=None):
        """``expand`` of a distribution whose parameters all have the batch shape."""
        new = self._get_checked_instance(cls, _instance)
        batch_shape = _size(batch_shape)
        for name in names:
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(batch_shape))
        Distribution.__init__(new, batch_shape, self._event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def batch_shape(self) -> Size:
        """The shape over which parameters are batched."""
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        """The shape of a single sample (without batching)."""
        return self._event_shape

    @property
    def arg_constraints(self) -> dict:
        raise NotImplementedError

    @property
    def support(self):
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{self.__class__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def sample(self, sample_shape=Size()) -> Tensor:
        """A sample of shape ``sample_shape + batch_shape + event_shape``, without gradient."""
        with grad_mode.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=Size()) -> Tensor:
        """A reparameterised sample: differentiable w.r.t. the parameters."""
        raise NotImplementedError

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def enumerate_support(self, expand: bool = True) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        return self.entropy().exp()

    def _extended_shape(self, sample_shape=Size()) -> Size:
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def _validate_sample(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim_start = len(value.size()) - len(self._event_shape)
        if value.size()[event_dim_start:] != self._event_shape:
            raise ValueError("The right-most size of value must match event_shape: "
                             f"{value.size()} vs {self._event_shape}.")
        actual_shape = value.size()
        expected_shape = Size(tuple(self._batch_shape) + tuple(self._event_shape))
        for i, j in zip(reversed(actual_shape), reversed(expected_shape), strict=False):
            if i != 1 and j != 1 and i != j:
                raise ValueError("Value is not broadcastable with batch_shape+event_shape: "
                                 f"{actual_shape} vs {expected_shape}.")
        try:
            support = self.support
        except NotImplementedError:
            warnings.warn(f"{self.__class__} does not define `support` to enable sample "
                          "validation. Please initialize the distribution with "
                          "`validate_args=False` to turn off validation.", stacklevel=2)
            return
        if not bool(support.check(value).all()):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape "
                f"{tuple(value.shape)}) to be within the support ({support!r}) of the "
                f"distribution {self!r}, but found invalid values:\n{_text(value)}")

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        args = ", ".join(f"{p}: {_param_text(self.__dict__[p])}" for p in names)
        return f"{type(self).__name__}({args})"
