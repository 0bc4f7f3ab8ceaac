"""torch's elementwise math beyond the core ops: trigonometric and hyperbolic functions, logs and
exponentials, the error function's relatives, rounding, and the two-operand functions.

Each op is one factory call of ``elementwise.py``: its NumPy forward, its scalar rules (the
Python/numba forward and derivative) and, where the derivative is not plain arithmetic, its rule
in tensor operations (``graph``, for create_graph).  Derivatives are torch's
(``derivatives.yaml``), including its values at the edges (``atan2`` at the origin, ``sign`` and
the rounding functions' zero gradient).
"""

import math

import numpy as np

from ..kernels.jit import elementwise
from .elementwise import (
    _ERFC_P,
    _ERFC_Q,
    _ERFC_R,
    _ERFC_S,
    _TWO_OVER_SQRT_PI,
    _np_erf,
    _polynomial,
    _where,
    binary,
    unary,
)
from .registry import READS_A, READS_B, READS_Y, exposed

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_SQRT_PI = math.sqrt(math.pi)


def _zero(g, a, b, y, r):
    return None, None  # (a step function: no gradient flows, as torch's zeros)


# --------------------------------------------------------------------------- trigonometric

TAN = unary("tan", "TanBackward0", np.tan, lambda x: math.tan(x),
            lambda g, x, y: g * (1.0 + y * y), READS_Y)
ASIN = unary("asin", "AsinBackward0", np.arcsin, lambda x: math.asin(x),
             lambda g, x, y: g / math.sqrt(1.0 - x * x), READS_A,
             graph=lambda g, a, b, y, r: (g * (1.0 - a * a).rsqrt(), None),
             aliases=("arcsin",))
ACOS = unary("acos", "AcosBackward0", np.arccos, lambda x: math.acos(x),
             lambda g, x, y: -g / math.sqrt(1.0 - x * x), READS_A,
             graph=lambda g, a, b, y, r: (-g * (1.0 - a * a).rsqrt(), None),
             aliases=("arccos",))
ATAN = unary("atan", "AtanBackward0", np.arctan, lambda x: math.atan(x),
             lambda g, x, y: g / (1.0 + x * x), READS_A, aliases=("arctan",))
SINH = unary("sinh", "SinhBackward0", np.sinh, lambda x: math.sinh(x),
             lambda g, x, y: g * math.cosh(x), READS_A,
             graph=lambda g, a, b, y, r: (g * a.cosh(), None))
COSH = unary("cosh", "CoshBackward0", np.cosh, lambda x: math.cosh(x),
             lambda g, x, y: g * math.sinh(x), READS_A,
             graph=lambda g, a, b, y, r: (g * a.sinh(), None))
ASINH = unary("asinh", "AsinhBackward0", np.arcsinh, lambda x: math.asinh(x),
              lambda g, x, y: g / math.sqrt(x * x + 1.0), READS_A,
              graph=lambda g, a, b, y, r: (g * (a * a + 1.0).rsqrt(), None),
              aliases=("arcsinh",))
ACOSH = unary("acosh", "AcoshBackward0", np.arccosh, lambda x: math.acosh(x),
              lambda g, x, y: g / math.sqrt(x * x - 1.0), READS_A,
              graph=lambda g, a, b, y, r: (g * (a * a - 1.0).rsqrt(), None),
              aliases=("arccosh",))
ATANH = unary("atanh", "AtanhBackward0", np.arctanh, lambda x: math.atanh(x),
              lambda g, x, y: g / (1.0 - x * x), READS_A, aliases=("arctanh",))

# --------------------------------------------------------------------------- logs and exps

LOG1P = unary("log1p", "Log1PBackward0", np.log1p, lambda x: math.log1p(x),
              lambda g, x, y: g / (1.0 + x), READS_A)
# (torch's derivative is ``grad * (result + 1)``, which cancels where the result nears -1: exp
# itself keeps full precision, and elu/celu's gradients with it)
EXPM1 = unary("expm1", "Expm1Backward0", np.expm1, lambda x: math.expm1(x),
              lambda g, x, y: g * math.exp(x), READS_A,
              graph=lambda g, a, b, y, r: (g * a.exp(), None))
LOG2 = unary("log2", "Log2Backward0", np.log2, lambda x: math.log2(x),
             lambda g, x, y: g / (x * _LN2), READS_A)
LOG10 = unary("log10", "Log10Backward0", np.log10, lambda x: math.log10(x),
              lambda g, x, y: g / (x * _LN10), READS_A)
EXP2 = unary("exp2", "Exp2Backward0", np.exp2, lambda x: 2.0 ** x,
             lambda g, x, y: g * y * _LN2, READS_Y)
RSQRT = unary("rsqrt", "RsqrtBackward0", lambda x: 1.0 / np.sqrt(x),
              lambda x: 1.0 / math.sqrt(x), lambda g, x, y: -0.5 * g * y * y * y, READS_Y)
SQUARE = unary("square", "PowBackward0", np.square, lambda x: x * x,
               lambda g, x, y: g * 2.0 * x, READS_A)

# --------------------------------------------------------------------------- erf's relatives


def _np_erfc(x):
    # 1 - erf where that loses nothing (|x| < 1); Cephes' erfc pieces beyond, so the tail keeps
    # its relative precision (erfc(10) is 2e-45, where 1 - erf(10) is 0)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    v = np.asarray(x, np.float64)
    a = np.abs(v)
    mid = np.clip(a, 1.0, 8.0)
    far = np.clip(a, 8.0, 27.0)
    tail = np.where(a < 8.0, np.exp(-(mid * mid)) * _polynomial(mid, _ERFC_P) /
                    _polynomial(mid, _ERFC_Q),
                    np.exp(-(far * far)) * _polynomial(far, _ERFC_R) / _polynomial(far, _ERFC_S))
    tail = np.where(a > 27.0, 0.0, tail)
    out = np.where(a < 1.0, 1.0 - _np_erf(v), np.where(v > 0.0, tail, 2.0 - tail))
    return out.astype(dtype, copy=False)


ERFC = unary("erfc", "ErfcBackward0", _np_erfc, lambda x: math.erfc(x),
             lambda g, x, y: -_TWO_OVER_SQRT_PI * math.exp(-(x * x)) * g, READS_A,
             graph=lambda g, a, b, y, r: (-_TWO_OVER_SQRT_PI * (-(a * a)).exp() * g, None))

# M. Giles' single-precision erfinv ("Approximating the erfinv function", GPU Computing Gems,
# 2011) as a start, highest power first, then Newton steps on erf (|y| < 0.5) or on erfc (the
# tails, where 1 - |y| is exact and erfc keeps its relative precision)
_CENTRAL = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
            -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)
_NEWTON_STEPS = 4
_TAIL = (-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
         -0.0076224613, 0.00943887047, 1.00167406, 2.83297682)


def _erfinv(y):
    if y != y or y < -1.0 or y > 1.0:
        return math.nan
    a = abs(y)
    if a == 1.0:
        return math.copysign(math.inf, y)
    w = -math.log((1.0 - a) * (1.0 + a))
    if w < 5.0:
        w -= 2.5
        p = _CENTRAL[0]
        for c in _CENTRAL[1:]:
            p = p * w + c
    else:
        w = math.sqrt(w) - 3.0
        p = _TAIL[0]
        for c in _TAIL[1:]:
            p = p * w + c
    x = p * a
    q = 1.0 - a
    for _ in range(_NEWTON_STEPS):
        slope = _TWO_OVER_SQRT_PI * math.exp(-(x * x))
        if a < 0.5:
            x -= (math.erf(x) - a) / slope
        else:  # (on log erfc, nearly a parabola: Newton converges from a far start)
            c = math.erfc(x)
            x += (math.log(c) - math.log(q)) * c / slope
    return math.copysign(x, y)


def _np_erfinv(y):
    dtype = y.dtype if y.dtype.kind == "f" else np.dtype(np.float64)
    v = np.asarray(y, np.float64)
    a = np.abs(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = -np.log((1.0 - a) * (1.0 + a))
        central = w < 5.0
        x = a * np.where(central, _polynomial(w - 2.5, _CENTRAL),
                         _polynomial(np.sqrt(np.where(central, 5.0, w)) - 3.0, _TAIL))
        inner = a < 0.5
        q = 1.0 - a
        for _ in range(_NEWTON_STEPS):
            slope = _TWO_OVER_SQRT_PI * np.exp(-(x * x))
            c = _np_erfc(x)
            x = np.where(inner, x - (_np_erf(x) - a) / slope,
                         x + (np.log(c) - np.log(q)) * c / slope)
    x = np.where(a == 1.0, np.inf, np.where(a > 1.0, np.nan, x))
    return np.copysign(x, v).astype(dtype, copy=False)


ERFINV = unary("erfinv", "ErfinvBackward0", _np_erfinv, _erfinv,
               lambda g, x, y: 0.5 * _SQRT_PI * math.exp(y * y) * g, READS_Y,
               graph=lambda g, a, b, y, r: (0.5 * _SQRT_PI * (y * y).exp() * g, None))

# --------------------------------------------------------------------------- steps


def _sign(x):
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)  # (NaN: 0, as torch's)


def _np_sign(x):
    return np.nan_to_num(np.sign(x), nan=0.0) if x.dtype.kind == "f" else np.sign(x)


# (2**52: every float at least this large is a whole number; below it ``int(x)`` is exact.  The
# forward rules are self-contained: numba compiles them as they are, Python calls them as they
# are, so they call no helper)
_WHOLE = 4503599627370496.0


def _round(x):
    # half to even, as torch's and NumPy's (Python's round too, but it raises at inf/nan)
    if not abs(x) < _WHOLE:
        return x
    r = float(int(x + 0.5)) if x >= -0.5 else -float(int(-x + 0.5))
    if abs(r - x) == 0.5 and r % 2.0 != 0.0:
        r -= math.copysign(1.0, r - x)
    return math.copysign(r, x) if r == 0.0 else r


def _trunc(x):
    return x if not abs(x) < _WHOLE else math.copysign(float(int(x)), x)


def _floor(x):
    if not abs(x) < _WHOLE:
        return x
    r = float(int(x))
    return r - 1.0 if r > x else math.copysign(r, x)


def _ceil(x):
    if not abs(x) < _WHOLE:
        return x
    r = float(int(x))
    return math.copysign(r + 1.0 if r < x else r, x)


def _frac(x):
    return x - x if not abs(x) < _WHOLE else x - float(int(x))


_trunc_jit, _floor_jit = elementwise(_trunc), elementwise(_floor)


SIGN = unary("sign", "SignBackward0", _np_sign, _sign, lambda g, x, y: 0.0, 0, graph=_zero)
FLOOR = unary("floor", "FloorBackward0", np.floor, _floor, lambda g, x, y: 0.0, 0, graph=_zero)
CEIL = unary("ceil", "CeilBackward0", np.ceil, _ceil, lambda g, x, y: 0.0, 0, graph=_zero)
ROUND = unary("round", "RoundBackward0", np.round, _round, lambda g, x, y: 0.0, 0, graph=_zero)
TRUNC = unary("trunc", "TruncBackward0", np.trunc, _trunc, lambda g, x, y: 0.0, 0,
              graph=_zero, aliases=("fix",))
FRAC = unary("frac", "FracBackward0", lambda x: x - np.trunc(x), _frac, lambda g, x, y: g, 0)

# --------------------------------------------------------------------------- two operands

_INPUT_OTHER = ("input", "other")


def _atan2_da(g, a, b, y):
    d = a * a + b * b
    return 0.0 if d == 0.0 else g * b / d  # (torch: no gradient at the origin)


def _atan2_db(g, a, b, y):
    d = a * a + b * b
    return -0.0 if d == 0.0 else -g * a / d


# (numba has no math.fmod, Python no np.fmod on floats that returns a float: each side its own)
def _fmod(a, b):
    if b == 0.0 or a != a or b != b or not abs(a) < math.inf:
        return math.nan
    return math.fmod(a, b)


def _remainder(a, b):
    if b == 0.0 or a != a or b != b or not abs(a) < math.inf:
        return math.nan
    r = math.fmod(a, b)
    return r + b if r != 0.0 and (r < 0.0) != (b < 0.0) else r


def _fmod_kernel(a, b):
    return np.fmod(a, b)


def _remainder_kernel(a, b):
    r = np.fmod(a, b)
    return r + b if r != 0.0 and (r < 0.0) != (b < 0.0) else r


def _xlogy(a, b):
    if a == 0.0 and b == b:
        return 0.0
    return a * (math.log(b) if b > 0.0 else (-math.inf if b == 0.0 else math.nan))


def _xlogy_da(g, a, b, y):
    if a == 0.0 and b == b:
        return 0.0
    return g * (math.log(b) if b > 0.0 else (-math.inf if b == 0.0 else math.nan))


def _np_xlogy(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((a == 0) & ~np.isnan(b), 0.0, a * np.log(b))
    return out.astype(np.result_type(a, b, np.float32) if np.result_type(a, b).kind != "f"
                      else np.result_type(a, b), copy=False)


def _logaddexp(a, b):
    m = max(a, b)
    if m == -math.inf or a != a or b != b:
        return a + b if a != a or b != b else -math.inf
    if m == math.inf:
        return math.inf
    return m + math.log1p(math.exp(-abs(a - b)))


ATAN2 = binary("atan2", "Atan2Backward0", np.arctan2, lambda a, b: math.atan2(a, b),
               _atan2_da, _atan2_db, READS_A | READS_B, READS_A | READS_B,
               surface=exposed("atan2", params=_INPUT_OTHER, aliases=("arctan2",)),
               graph=(lambda g, a, b, y: _where(a * a + b * b == 0.0, 0.0,
                                                g * b / (a * a + b * b)),
                      lambda g, a, b, y: _where(a * a + b * b == 0.0, 0.0,
                                                -g * a / (a * a + b * b))))
HYPOT = binary("hypot", "HypotBackward0", np.hypot, lambda a, b: math.hypot(a, b),
               lambda g, a, b, y: g * a / y, lambda g, a, b, y: g * b / y,
               READS_A | READS_Y, READS_B | READS_Y, surface=exposed("hypot", params=_INPUT_OTHER))
FMOD = binary("fmod", "FmodBackward1", np.fmod, _fmod_kernel,
              lambda g, a, b, y: g, lambda g, a, b, y: -g * _trunc_jit(a / b),
              0, READS_A | READS_B, py=_fmod,
              surface=exposed("fmod", params=_INPUT_OTHER, number_name="FmodBackward0"),
              graph=(lambda g, a, b, y: g, lambda g, a, b, y: -g * (a / b).trunc()))
REMAINDER = binary("remainder", "RemainderBackward1", np.remainder, _remainder_kernel,
                   lambda g, a, b, y: g, lambda g, a, b, y: -g * _floor_jit(a / b),
                   0, READS_A | READS_B, py=_remainder,
                   surface=exposed("remainder", params=_INPUT_OTHER,
                                   number_name="RemainderBackward0"),
                   graph=(lambda g, a, b, y: g, lambda g, a, b, y: -g * (a / b).floor()))
XLOGY = binary("xlogy", "XlogyBackward0", _np_xlogy, _xlogy,
               _xlogy_da,
               lambda g, a, b, y: g * a / b, READS_A | READS_B, READS_A | READS_B,
               surface=exposed("xlogy", params=_INPUT_OTHER, number_name="XlogyBackward2"),
               graph=(lambda g, a, b, y: _where((a == 0.0) & (b == b), 0.0, g * b.log()),
                      lambda g, a, b, y: g * a / b))
LOGADDEXP = binary("logaddexp", "LogaddexpBackward0", np.logaddexp, _logaddexp,
                   lambda g, a, b, y: g / (1.0 + math.exp(b - a)),
                   lambda g, a, b, y: g / (1.0 + math.exp(a - b)),
                   READS_A | READS_B, READS_A | READS_B,
                   surface=exposed("logaddexp", params=_INPUT_OTHER, inplace=False),
                   graph=(lambda g, a, b, y: g / (1.0 + (b - a).exp()),
                          lambda g, a, b, y: g / (1.0 + (a - b).exp())))
