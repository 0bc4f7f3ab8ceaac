"""torch.distributions.constraints: the regions a distribution's parameters and samples live in.

``check(value)`` answers elementwise (over the constraint's ``event_dim`` rightmost dims
reduced) with a bool tensor.  The elementwise checks of a tensor are tapegrad comparisons, so
inside ``tg.compile`` the validation's ``bool(...)`` is a guard (an invalid parameter in a
replay re-records and raises, as eager code does); the structured ones (simplex, integers,
matrices) run on the values with NumPy.  ``repr`` matches torch's
(``GreaterThan(lower_bound=0.0)``), because the validation messages print it.
"""

from __future__ import annotations

import numpy as np

from ..recording import _wrap
from ..tensor import Tensor

__all__ = ["Constraint", "boolean", "dependent", "dependent_property", "greater_than",
           "greater_than_eq", "half_open_interval", "independent", "integer_interval",
           "interval", "is_dependent", "less_than", "lower_cholesky", "lower_triangular",
           "nonnegative", "nonnegative_integer", "one_hot", "positive", "positive_definite",
           "positive_integer", "real", "real_vector", "simplex", "symmetric", "unit_interval"]


def _np(x):
    return np.asarray(x._v) if isinstance(x, Tensor) else np.asarray(x)


def _is_integer(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):  # (nan and inf are simply not integers)
        return (v % 1) == 0


def _same(x):
    return x


def _result(mask) -> Tensor:
    return _wrap(np.asarray(mask, dtype=np.bool_))


class Constraint:
    """A region of valid values; ``check(value)`` says elementwise whether ``value`` is in it."""

    is_discrete = False
    event_dim = 0
    _elementwise = False  # (whether _check is written in operators tensors have too)

    def check(self, value) -> Tensor:
        if self._elementwise and isinstance(value, Tensor):
            return self._check(value, _same)
        return _result(self._check(_np(value), _np))

    def _check(self, v, bound):
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__[1:] + "()"


class _Dependent(Constraint):
    """Placeholder for parameters whose valid values depend on other parameters."""

    def __init__(self, *, is_discrete=NotImplemented, event_dim=NotImplemented) -> None:
        self._is_discrete = is_discrete
        self._event_dim = event_dim

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        if self._is_discrete is NotImplemented:
            raise NotImplementedError(".is_discrete cannot be determined statically")
        return self._is_discrete

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        if self._event_dim is NotImplemented:
            raise NotImplementedError(".event_dim cannot be determined statically")
        return self._event_dim

    def __call__(self, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        if is_discrete is NotImplemented:
            is_discrete = self._is_discrete
        if event_dim is NotImplemented:
            event_dim = self._event_dim
        return _Dependent(is_discrete=is_discrete, event_dim=event_dim)

    def check(self, value):
        raise ValueError("Cannot determine validity of dependent constraint")


def is_dependent(constraint) -> bool:
    """Whether ``constraint`` is a ``dependent`` placeholder (not checkable on its own)."""
    return isinstance(constraint, _Dependent)


class _DependentProperty(property, _Dependent):
    """A property whose value is a constraint built from the instance (``Uniform.support``);
    on the class it acts as a ``dependent`` placeholder."""

    def __init__(self, fn=None, *, is_discrete=NotImplemented, event_dim=NotImplemented):
        property.__init__(self, fn)
        self._is_discrete = is_discrete
        self._event_dim = event_dim

    def __call__(self, fn):  # (decorator use with keyword arguments)
        return _DependentProperty(fn, is_discrete=self._is_discrete, event_dim=self._event_dim)


def dependent_property(fn=None, *, is_discrete=NotImplemented, event_dim=NotImplemented):
    """Decorator: ``@constraints.dependent_property(is_discrete=False, event_dim=0)``."""
    return _DependentProperty(fn, is_discrete=is_discrete, event_dim=event_dim)


class _IndependentConstraint(Constraint):
    """``base_constraint`` with its ``reinterpreted_batch_ndims`` rightmost dims reduced by
    ``all`` (an event of several coordinates)."""

    def __init__(self, base_constraint: Constraint, reinterpreted_batch_ndims: int) -> None:
        self.base_constraint = base_constraint
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    @property
    def is_discrete(self) -> bool:  # type: ignore[override]
        return self.base_constraint.is_discrete

    @property
    def event_dim(self) -> int:  # type: ignore[override]
        return self.base_constraint.event_dim + self.reinterpreted_batch_ndims

    def check(self, value) -> Tensor:
        result = _np(self.base_constraint.check(value))
        n = self.reinterpreted_batch_ndims
        if result.ndim < n:
            raise ValueError(f"Expected value.dim() >= {self.event_dim} but got "
                             f"{_np(value).ndim}")
        batch, event = result.shape[:result.ndim - n], result.shape[result.ndim - n:]
        # (an explicit event size: reshape(..., -1) is ambiguous on an empty batch)
        return _result(result.reshape(batch + (int(np.prod(event)),)).all(-1))

    def __repr__(self) -> str:
        return (f"{type(self).__name__[1:]}({self.base_constraint!r}, "
                f"{self.reinterpreted_batch_ndims})")


class _Boolean(Constraint):
    _elementwise = True
    is_discrete = True

    def _check(self, v, bound):
        return (v == 0) | (v == 1)


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def _check(self, v, bound):
        return ((v == 0) | (v == 1)).all(-1) & (v.sum(-1) == 1)


def _bound_text(b) -> str:
    # (torch formats a 0-d tensor bound as its number: Tensor.__format__)
    if isinstance(b, Tensor) and b.dim() == 0:
        return format(b.item())
    return str(b)


class _IntegerInterval(Constraint):
    is_discrete = True

    def __init__(self, lower_bound, upper_bound) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _check(self, v, bound):
        return (_is_integer(v) & (bound(self.lower_bound) <= v)
                & (v <= bound(self.upper_bound)))

    def __repr__(self) -> str:
        return (f"{type(self).__name__[1:]}(lower_bound={_bound_text(self.lower_bound)}, "
                f"upper_bound={_bound_text(self.upper_bound)})")


class _IntegerGreaterThan(Constraint):
    is_discrete = True

    def __init__(self, lower_bound) -> None:
        self.lower_bound = lower_bound

    def _check(self, v, bound):
        return _is_integer(v) & (v >= bound(self.lower_bound))

    def __repr__(self) -> str:
        return f"{type(self).__name__[1:]}(lower_bound={_bound_text(self.lower_bound)})"


class _Real(Constraint):
    _elementwise = True

    def _check(self, v, bound):
        return v == v  # (False for NaN)


class _GreaterThan(Constraint):
    _elementwise = True

    def __init__(self, lower_bound) -> None:
        self.lower_bound = lower_bound

    def _check(self, v, bound):
        return bound(self.lower_bound) < v

    def __repr__(self) -> str:
        return f"{type(self).__name__[1:]}(lower_bound={_bound_text(self.lower_bound)})"


class _GreaterThanEq(_GreaterThan):
    def _check(self, v, bound):
        return bound(self.lower_bound) <= v


class _LessThan(Constraint):
    _elementwise = True

    def __init__(self, upper_bound) -> None:
        self.upper_bound = upper_bound

    def _check(self, v, bound):
        return v < bound(self.upper_bound)

    def __repr__(self) -> str:
        return f"{type(self).__name__[1:]}(upper_bound={_bound_text(self.upper_bound)})"


class _Interval(Constraint):
    _elementwise = True

    def __init__(self, lower_bound, upper_bound) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def _check(self, v, bound):
        return (bound(self.lower_bound) <= v) & (v <= bound(self.upper_bound))

    def __repr__(self) -> str:
        return (f"{type(self).__name__[1:]}(lower_bound={_bound_text(self.lower_bound)}, "
                f"upper_bound={_bound_text(self.upper_bound)})")


class _HalfOpenInterval(_Interval):
    def _check(self, v, bound):
        return (bound(self.lower_bound) <= v) & (v < bound(self.upper_bound))


class _Simplex(Constraint):
    event_dim = 1

    def _check(self, v, bound):
        return (v >= 0).all(-1) & (np.abs(v.sum(-1) - 1) < 1e-6)


class _LowerTriangular(Constraint):
    event_dim = 2

    def _check(self, v, bound):
        return (np.tril(v) == v).all((-2, -1))


class _LowerCholesky(Constraint):
    event_dim = 2

    def _check(self, v, bound):
        lower = (np.tril(v) == v).all((-2, -1))
        return lower & (np.diagonal(v, axis1=-2, axis2=-1) > 0).all(-1)


class _Symmetric(Constraint):
    event_dim = 2

    def _check(self, v, bound):
        if v.shape[-2] != v.shape[-1]:
            return np.zeros(v.shape[:-2], np.bool_)
        return np.isclose(v, np.swapaxes(v, -1, -2), rtol=1e-5, atol=1e-6).all((-2, -1))


class _PositiveDefinite(_Symmetric):
    def _check(self, v, bound):
        sym = super()._check(v, bound)
        if not sym.all():
            return sym
        flat = v.reshape((-1,) + v.shape[-2:])
        ok = np.empty(len(flat), np.bool_)
        for i, m in enumerate(flat):
            try:
                np.linalg.cholesky(m)
                ok[i] = True
            except np.linalg.LinAlgError:
                ok[i] = False
        return ok.reshape(v.shape[:-2])


dependent = _Dependent()
independent = _IndependentConstraint
boolean = _Boolean()
one_hot = _OneHot()
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
integer_interval = _IntegerInterval
real = _Real()
real_vector = independent(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
unit_interval = _Interval(0.0, 1.0)
interval = _Interval
half_open_interval = _HalfOpenInterval
simplex = _Simplex()
lower_triangular = _LowerTriangular()
lower_cholesky = _LowerCholesky()
symmetric = _Symmetric()
positive_definite = _PositiveDefinite()
