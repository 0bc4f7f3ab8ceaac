"""torch's special functions: the gamma family (``lgamma``, ``digamma``, ``polygamma``), the
modified Bessel functions of orders 0 and 1 (``i0``, ``i0e``, ``i1``, ``i1e``) and the normal
distribution's relatives (``ndtri``, ``log_ndtr``, ``erfcx``), with ``entr`` and ``xlog1py``.

NumPy has none of them: each is written here from its series, its asymptotic expansion and its
functional equations, twice -- a scalar rule (Python for 0-d values, numba for the kernels; one
source, the numba build calling the ``*_nb`` twins of its helpers) and a NumPy forward that
evaluates every branch on its interval's clamp and picks with ``np.where``.  Derivatives are
torch's (``derivatives.yaml``), edges included (``i1``'s 0.5 at the origin, ``entr``'s at 0).
"""

import math
from fractions import Fraction

import numpy as np

from ..kernels.jit import elementwise, named
from .elementwise import (
    _ERFC_P,
    _ERFC_Q,
    _ERFC_R,
    _ERFC_S,
    _compile,
    _np_erf,
    _polynomial,
    _where,
    binary,
    unary,
)
from .mathfuncs import _CENTRAL, _NEWTON_STEPS, _TAIL, _TWO_OVER_SQRT_PI, _np_erfc
from .registry import ASSIGN, READS_A, READS_B, READS_Y, register

_PI = math.pi
_EULER = 0.5772156649015329
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
# (-1)^k (zeta(k) - 1) / k for k = 30 down to 2: the Taylor series of
# lgamma(1 + z) + (euler - 1) z + log1p(z) about 0, over z^2 (it converges like 4^-k on |z| <= 1/2)
_LGAMMA_TAYLOR = (
    3.1044247747322276e-11, -6.4229645638381e-11, 1.330476437424449e-10, -2.7595228851242334e-10,
    5.731367241678862e-10, -1.1921401405860912e-09, 2.4836745438024785e-09,
    -5.183475041970047e-09, 1.0838659214896955e-08, -2.2711094608943164e-08,
    4.7698101693639804e-08, -1.0043224823968099e-07, 2.1207184805554665e-07,
    -4.492469198764566e-07, 9.55141213040742e-07, -2.039215753801366e-06, 4.374866789907488e-06,
    -9.439488275268397e-06, 2.050721277567069e-05, -4.492623673813314e-05, 9.945751278180853e-05,
    -0.00022315475845357939, 0.0005096695247430425, -0.001192753911703261, 0.0028905103307415234,
    -0.007385551028673986, 0.020580808427784546, -0.0673523010531981, 0.3224670334241132)
# The Bernoulli numbers B_2 ... B_24
_BERNOULLI = (Fraction(1, 6), Fraction(-1, 30), Fraction(1, 42), Fraction(-1, 30),
              Fraction(5, 66), Fraction(-691, 2730), Fraction(7, 6), Fraction(-3617, 510),
              Fraction(43867, 798), Fraction(-174611, 330), Fraction(854513, 138),
              Fraction(-236364091, 2730))
# Stirling's series of lgamma: B_2k / (2k (2k - 1)), k = 8 down to 1 (in powers of 1/x^2, times 1/x)
_STIRLING = tuple(float(b / (2 * k * (2 * k - 1)))
                  for k, b in reversed(list(enumerate(_BERNOULLI[:8], 1))))
# digamma's asymptotic series: B_2k / 2k, k = 8 down to 1 (in powers of 1/x^2)
_PSI_SERIES = tuple(float(b / (2 * k)) for k, b in reversed(list(enumerate(_BERNOULLI[:8], 1))))
# Euler-Maclaurin's correction terms for the Hurwitz zeta function: (2k)! / B_2k, k = 1 ... 12
_ZETA_EM = tuple(float(math.factorial(2 * k) / b) for k, b in enumerate(_BERNOULLI, 1))
_EPS = 1.1102230246251565e-16

# --------------------------------------------------------------------------- the gamma family


def _lgamma_positive(x):
    # (self-contained: numba compiles it as it is) near 1 and 2, the zeta series of
    # lgamma(1 + z) or lgamma(2 + z), |z| <= 1/2, exact at the roots and relatively accurate
    # beside them; below 10 a recurrence down to [1.5, 2.5); beyond, Stirling's series
    if x < 1e-30:
        return -math.log(x)
    extra = 0.0
    two = True
    if x < 0.5:
        z = x
        two = False
        extra = -math.log(x)
    elif x < 1.5:
        z = x - 1.0
        two = False
    elif x < 10.0:
        p = 1.0
        while x >= 2.5:  # Gamma(x) = (x - 1)(x - 2) ... Gamma(x - k)
            x -= 1.0
            p *= x
        z = x - 2.0
        extra = math.log(p)
    else:
        r = 1.0 / x
        w = r * r
        t = _STIRLING[0]
        for c in _STIRLING[1:]:
            t = t * w + c
        return (x - 0.5) * (math.log(x) - 1.0) + (_HALF_LOG_2PI - 0.5) + t * r
    q = _LGAMMA_TAYLOR[0]
    for c in _LGAMMA_TAYLOR[1:]:
        q = q * z + c
    s = z * z * q
    if two:
        return extra + (1.0 - _EULER) * z + s
    return extra + (-_EULER * z + (z - math.log1p(z)) + s)


def _abs_sinpi(t):
    # |sin(pi t)| for t > 0, reduced exactly to [0, 1/2] first
    r = t - 2.0 * math.floor(0.5 * t)
    if r > 1.0:
        r -= 1.0
    if r > 0.5:
        r = 1.0 - r
    return math.sin(_PI * r)


def _lgamma(x):
    if x != x:
        return x
    if not abs(x) < math.inf:
        return math.inf
    if x > 0.0:
        return _lgamma_positive(x)
    if x == math.floor(x):
        return math.inf  # (a pole, as torch's; -0.0 too)
    t = -x
    if t < 1e-30:
        return -math.log(t)
    # Gamma(x) Gamma(-x) = -pi / (x sin(pi x))
    return math.log(_PI / (_abs_sinpi(t) * t)) - _lgamma_positive(t)


def _digamma(x):
    if x != x:
        return x
    if x == 0.0:
        return math.copysign(math.inf, -x)  # (torch: -inf at +0, inf at -0)
    if x == math.inf:
        return x
    if x == -math.inf:
        return math.nan
    result = 0.0
    if x < 0.0:
        if x == math.floor(x):
            return math.nan
        # psi(x) = psi(1 - x) - pi / tan(pi x); tan has period 1: x's fraction is exact
        r = x - float(math.trunc(x)) if x > -4503599627370496.0 else 0.0
        result = -_PI / math.tan(_PI * r)
        x = 1.0 - x
    while x < 10.0:
        result -= 1.0 / x
        x += 1.0
    y = 0.0
    if x < 1e17:
        z = 1.0 / (x * x)
        p = _PSI_SERIES[0]
        for c in _PSI_SERIES[1:]:
            p = p * z + c
        y = z * p
    return result + math.log(x) - 0.5 / x - y


def _trigamma(x):
    # torch's own trigamma (and so digamma's gradient) to the last bit: the reflection through
    # sin(pi x) as it rounds (finite at the poles below 0), six steps of the recurrence, then
    # the asymptotic series to its 1/x^7 term -- about 1e-9 relative, torch's accuracy
    sign = 1.0
    result = 0.0
    if x < 0.5:
        sign = -1.0
        s = math.sin(_PI * x)
        result -= (_PI * _PI) / (s * s)
        x = 1.0 - x
    for _ in range(6):
        result += 1.0 / (x * x)
        x += 1.0
    w = 1.0 / (x * x)
    result += (1.0 + 1.0 / (2.0 * x) + w * (1.0 / 6.0 - w * (1.0 / 30.0 - w * (1.0 / 42.0)))) / x
    return sign * result


def _zeta(s, q):
    # Hurwitz's zeta(s, q) for s > 1 (an integer here): q^-s + (q+1)^-s + ... summed until the
    # terms are small or q + k > 9, then Euler-Maclaurin's tail
    if s == 1.0:
        return math.inf
    if s < 1.0:
        return math.nan
    if q <= 0.0:
        if q == -math.inf or q == math.floor(q):
            return math.inf
        if s != math.floor(s) or q < -1e5:
            return math.nan  # (far below 0 the direct sum would take -q steps)
    total = q ** -s
    a = q
    b = 0.0
    i = 0
    while i < 9 or a <= 9.0:
        i += 1
        a += 1.0
        b = a ** -s
        total += b
        if abs(b) < _EPS * abs(total):
            return total
    w = a
    total += b * w / (s - 1.0) - 0.5 * b
    f = 1.0
    k = 0.0
    for c in _ZETA_EM:
        f *= s + k
        b /= w
        t = f * b / c
        total += t
        if abs(t) < _EPS * abs(total):
            return total
        k += 1.0
        f *= s + k
        b /= w
        k += 1.0
    return total


def _zeta_py(s, q):
    try:
        return _zeta(s, q)
    except OverflowError:  # (q ** -s beyond the largest float, as numba's inf)
        return math.copysign(math.inf, q) if s % 2.0 == 1.0 else math.inf


def _polygamma_from(n, x, zeta):
    return (1.0 if n % 2 == 1 else -1.0) * math.exp(math.lgamma(n + 1.0)) * zeta


def _polygamma(x, c):
    n = int(c)
    if n == 0:
        return _digamma(x)
    if n == 1:
        return _trigamma(x)
    return _polygamma_from(n, x, _zeta(n + 1.0, x))


_digamma_nb = elementwise(_digamma)
_trigamma_nb = elementwise(_trigamma)
_zeta_nb = elementwise(_zeta)
_polygamma_from_nb = elementwise(_polygamma_from)
_lgamma_positive_nb = elementwise(_lgamma_positive)
_abs_sinpi_nb = elementwise(_abs_sinpi)


def _lgamma_k(x):
    if x != x:
        return x
    if not abs(x) < math.inf:
        return math.inf
    if x > 0.0:
        return _lgamma_positive_nb(x)
    if x == math.floor(x):
        return math.inf
    t = -x
    if t < 1e-30:
        return -math.log(t)
    return math.log(_PI / (_abs_sinpi_nb(t) * t)) - _lgamma_positive_nb(t)


def _polygamma_k(x, c):
    n = int(c)
    if n == 0:
        return _digamma_nb(x)
    if n == 1:
        return _trigamma_nb(x)
    return _polygamma_from_nb(n, x, _zeta_nb(n + 1.0, x))


_polygamma_k_nb = elementwise(_polygamma_k)


# -- the NumPy forwards: every branch on its own clamp of x, NaN passing through


def _floating(x):
    return np.asarray(x, np.float64), (x.dtype if x.dtype.kind == "f" else np.dtype(np.float64))


def _np_lgamma_positive(t):
    # t > 0 (other entries: anything finite comes out, to be replaced)
    with np.errstate(all="ignore"):
        small = np.clip(t, 1e-300, 0.5)
        near1 = np.clip(t, 0.5, 1.5) - 1.0
        near2 = np.clip(t, 1.5, 2.5) - 2.0
        mid = np.clip(t, 2.5, 10.0)
        p = np.ones_like(mid)
        for _ in range(8):
            down = mid >= 2.5
            mid = np.where(down, mid - 1.0, mid)
            p = np.where(down, p * mid, p)
        big = np.maximum(t, 10.0)

        def series(z, two):
            s = z * z * _polynomial(z, _LGAMMA_TAYLOR)
            return (1.0 - _EULER) * z + s if two else -_EULER * z + (z - np.log1p(z)) + s

        r = 1.0 / big
        stirling = (big - 0.5) * (np.log(big) - 1.0) + (_HALF_LOG_2PI - 0.5) + \
            _polynomial(r * r, _STIRLING) * r
        return np.where(t < 0.5, np.where(t < 1e-30, -np.log(t), series(small, False) -
                                          np.log(small)),
                        np.where(t < 1.5, series(near1, False),
                                 np.where(t < 2.5, series(near2, True),
                                          np.where(t < 10.0, np.log(p) + series(mid - 2.0, True),
                                                   stirling))))


def _np_abs_sinpi(t):
    r = t - 2.0 * np.floor(0.5 * t)
    r = np.where(r > 1.0, r - 1.0, r)
    return np.sin(_PI * np.where(r > 0.5, 1.0 - r, r))


def _np_lgamma(x):
    v, dtype = _floating(x)
    with np.errstate(all="ignore"):
        t = np.abs(v)
        positive = _np_lgamma_positive(t)
        negative = np.where(t < 1e-30, -np.log(t),
                            np.log(_PI / (_np_abs_sinpi(t) * t)) - positive)
        out = np.where(v > 0.0, positive, negative)
        out = np.where((v <= 0.0) & (v == np.floor(v)) | np.isinf(v), np.inf, out)
    return out.astype(dtype, copy=False)


def _np_digamma(x):
    v, dtype = _floating(x)
    with np.errstate(all="ignore"):
        negative = v < 0.0
        r = v - np.trunc(v)
        reflect = np.where(negative, -_PI / np.tan(_PI * r), 0.0)
        w = np.where(negative, 1.0 - v, v)
        result = reflect
        for _ in range(10):
            low = w < 10.0
            result = np.where(low, result - 1.0 / w, result)
            w = np.where(low, w + 1.0, w)
        z = 1.0 / (w * w)
        y = np.where(w < 1e17, z * _polynomial(z, _PSI_SERIES), 0.0)
        out = result + np.log(w) - 0.5 / w - y
        out = np.where(negative & (v == np.floor(v)), np.nan, out)
        out = np.where(v == 0.0, np.copysign(np.inf, -v), out)
        out = np.where(v == np.inf, np.inf, out)
    return out.astype(dtype, copy=False)


def _np_trigamma(v):
    with np.errstate(all="ignore"):
        reflect = v < 0.5
        s = np.sin(_PI * v)
        result = np.where(reflect, -(_PI * _PI) / (s * s), 0.0)
        w = np.where(reflect, 1.0 - v, v)
        for _ in range(6):
            result = result + 1.0 / (w * w)
            w = w + 1.0
        z = 1.0 / (w * w)
        result = result + (1.0 + 1.0 / (2.0 * w) +
                           z * (1.0 / 6.0 - z * (1.0 / 30.0 - z * (1.0 / 42.0)))) / w
        return np.where(reflect, -result, result)


def _np_polygamma(x, c):
    v, dtype = _floating(x)
    n = int(c)
    if n == 0:
        return _np_digamma(x)
    if n == 1:
        out = _np_trigamma(v)
    else:  # (rarely large: the scalar rule, element by element)
        zeta = np.frompyfunc(lambda q: _zeta_py(n + 1.0, q), 1, 1)(v).astype(np.float64)
        out = _polygamma_from(n, v, zeta) if math.lgamma(n + 1.0) < 709.0 else \
            np.asarray(zeta * math.inf, np.float64)
    return np.asarray(out, np.float64).astype(dtype, copy=False)


# --------------------------------------------------------------------------- Bessel I0, I1


def _bessel_i(x, order, scaled):
    # I_order(x) (order 0 or 1), times exp(-|x|) if scaled: the power series up to |x| = 20,
    # where it has converged to the last bit without cancelling; the asymptotic series beyond,
    # whose smallest term there (near its 2|x|-th) is below e^(-2|x|)
    a = abs(x)
    if a != a:
        return a
    if a <= 20.0:
        q = 0.25 * a * a
        t = 1.0 if order == 0 else 0.5 * a
        s = t
        k = 1.0
        while t > s * 1e-17:
            t *= q / (k * (k + order))
            s += t
            k += 1.0
        if scaled:
            s *= math.exp(-a)
    else:
        mu = 4.0 * order * order
        t = 1.0
        s = 1.0
        k = 1.0
        while k < 2.0 * a and k < 80.0:
            t *= -(mu - (2.0 * k - 1.0) ** 2) / (8.0 * k * a)
            s += t
            if abs(t) < s * 1e-17:
                break
            k += 1.0
        s /= math.sqrt(2.0 * _PI * a)
        if not scaled:  # (e^a in halves: I is finite up to |x| 713, e^a to 709)
            h = math.exp(0.5 * a)
            s = h * s * h
    return -s if order == 1 and x < 0.0 else s


_bessel_i_nb = elementwise(_bessel_i)


def _np_bessel_i(x, order, scaled):
    v, dtype = _floating(x)
    with np.errstate(all="ignore"):
        a = np.abs(v)
        near = np.minimum(a, 20.0)
        q = 0.25 * near * near
        t = np.ones_like(near) if order == 0 else 0.5 * near
        s = t
        for k in range(1, 60):  # (t ~ 10^(k...) / (k!)^2: past 60 every term is below s 1e-17)
            t = t * q / (k * (k + order))
            s = s + t
        if scaled:
            s = s * np.exp(-near)
        far = np.maximum(a, 20.0)
        mu = 4.0 * order * order
        u = np.ones_like(far)
        f = np.ones_like(far)
        for k in range(1, 41):  # (the 40th term is below 1e-17 from 20 on; beyond, smaller)
            u = u * (-(mu - (2.0 * k - 1.0) ** 2) / (8.0 * k * far))
            f = f + u
        f = f / np.sqrt(2.0 * _PI * far)
        if not scaled:
            h = np.exp(0.5 * far)
            f = h * f * h
        out = np.where(a <= 20.0, s, f)
        out = np.where(np.isnan(v), v, out)
        if order == 1:
            out = np.where(v < 0.0, -out, out)
    return out.astype(dtype, copy=False)


def _i1_df(g, x, y):
    if x == 0.0:
        return 0.5 * g
    return g * (_bessel_i_nb(x, 0, False) - y / x)


def _i1e_df(g, x, y):
    if x == 0.0:
        return 0.5 * g
    sign = 1.0 if x > 0.0 else -1.0
    return g * (_bessel_i_nb(x, 0, True) - y * (sign + 1.0 / x))


def _i0e_df(g, x, y):
    sign = 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)
    return g * (_bessel_i_nb(x, 1, True) - sign * y)


# --------------------------------------------------------------------------- normal distribution


def _erfcx_positive(u):
    # exp(u^2) erfc(u), u >= 0: Cephes' erfc on [1, 8) and [8, 27) is exp(-u^2) times a
    # rational function -- which is erfcx itself, with no exp(-u^2) whose rounded u^2 would
    # cost u^2 ulp; from 10 on the asymptotic series (its 15th term is below 1e-18 there)
    if u < 1.0:
        return math.exp(u * u) * math.erfc(u)
    if u < 8.0:
        p = _ERFC_P[0]
        for c in _ERFC_P[1:]:
            p = p * u + c
        q = _ERFC_Q[0]
        for c in _ERFC_Q[1:]:
            q = q * u + c
        return p / q
    if u < 10.0:
        p = _ERFC_R[0]
        for c in _ERFC_R[1:]:
            p = p * u + c
        q = _ERFC_S[0]
        for c in _ERFC_S[1:]:
            q = q * u + c
        return p / q
    if u > 1e8:
        return _INV_SQRT_PI / u
    z = 1.0 / (2.0 * u * u)
    t = 1.0
    s = 1.0
    k = 1.0
    while k < 16.0:
        t *= -(2.0 * k - 1.0) * z
        s += t
        k += 1.0
    return _INV_SQRT_PI / u * s


def _exp_square(x):
    # exp(x^2) with x^2 split exactly (Dekker): its rounding would cost x^2 ulp
    c = 134217729.0 * x
    hi = c - (c - x)
    lo = x - hi
    big = x * x
    return math.exp(big) * math.exp(((hi * hi - big) + 2.0 * hi * lo) + lo * lo)


def _erfcx(x):
    if x != x:
        return x
    if x >= 0.0:
        return _erfcx_positive(x)
    if x < -26.7:
        return math.inf
    return 2.0 * _exp_square(x) - _erfcx_positive(-x)  # (erfc(x) = 2 - erfc(-x))


_erfcx_positive_nb = elementwise(_erfcx_positive)
_exp_square_nb = elementwise(_exp_square)


def _erfcx_k(x):
    if x != x:
        return x
    if x >= 0.0:
        return _erfcx_positive_nb(x)
    if x < -26.7:
        return math.inf
    return 2.0 * _exp_square_nb(x) - _erfcx_positive_nb(-x)


def _np_erfcx(x):
    v, dtype = _floating(x)
    with np.errstate(all="ignore"):
        u = np.abs(v)
        small = np.minimum(u, 1.0)
        mid = np.clip(u, 1.0, 8.0)
        tail = np.clip(u, 8.0, 10.0)
        far = np.clip(u, 10.0, 1e8)
        z = 1.0 / (2.0 * far * far)
        t = np.ones_like(far)
        s = np.ones_like(far)
        for k in range(1, 16):
            t = t * (-(2.0 * k - 1.0) * z)
            s = s + t
        positive = np.where(u < 1.0, np.exp(small * small) * _np_erfc(small),
                            np.where(u < 8.0, _polynomial(mid, _ERFC_P) / _polynomial(mid, _ERFC_Q),
                                     np.where(u < 10.0, _polynomial(tail, _ERFC_R) /
                                              _polynomial(tail, _ERFC_S),
                                              np.where(u > 1e8, _INV_SQRT_PI / u,
                                                       _INV_SQRT_PI / far * s))))
        near = np.maximum(v, -26.7)
        c = 134217729.0 * near
        hi = c - (c - near)
        lo = near - hi
        big = near * near
        doubled = 2.0 * np.exp(big) * np.exp(((hi * hi - big) + 2.0 * hi * lo) + lo * lo)
        out = np.where(v >= 0.0, positive, np.where(v < -26.7, np.inf, doubled - positive))
        out = np.where(np.isnan(v), v, out)
    return out.astype(dtype, copy=False)


_erfcx_nb = elementwise(_erfcx_k)


def _log_ndtr(x):
    # log Phi(x): log1p of the small upper tail for x > 0; for x < 0 the tail through erfcx,
    # log(erfcx(-x/sqrt2) / 2) - x^2 / 2, which stays finite far past erfc's underflow
    if x != x:
        return x
    if x == -math.inf:
        return x
    if x > 0.0:
        u = x * _SQRT1_2
        if u > 27.0:
            return -0.0  # (the tail, below 1e-318, is lost in the sum)
        return math.log1p(-0.5 * _erfcx(u) / _exp_square(u))
    return math.log(0.5 * _erfcx(-x * _SQRT1_2)) - 0.5 * x * x


def _log_ndtr_k(x):
    if x != x:
        return x
    if x == -math.inf:
        return x
    if x > 0.0:
        u = x * _SQRT1_2
        if u > 27.0:
            return -0.0
        return math.log1p(-0.5 * _erfcx_nb(u) / _exp_square_nb(u))
    return math.log(0.5 * _erfcx_nb(-x * _SQRT1_2)) - 0.5 * x * x


def _np_log_ndtr(x):
    v, dtype = _floating(x)
    with np.errstate(all="ignore"):
        u = np.clip(v, 0.0, 40.0) * _SQRT1_2
        c = 134217729.0 * u
        hi = c - (c - u)
        lo = u - hi
        big = u * u
        upper = np.log1p(-0.5 * _np_erfcx(u) * np.exp(-big) *
                         np.exp(-(((hi * hi - big) + 2.0 * hi * lo) + lo * lo)))
        low = np.minimum(v, 0.0)
        lower = np.log(0.5 * _np_erfcx(-low * _SQRT1_2)) - 0.5 * low * low
        out = np.where(v > 0.0, upper, lower)
        out = np.where(np.isnan(v), v, out)
    return out.astype(dtype, copy=False)


def _ndtri_start(p):
    # Phi^-1(p) = -sqrt2 erfcinv(2p), from q = 2 min(p, 1 - p) (exact): Giles' start, as
    # erfinv's; then (``_ndtri``) Newton on erf in the centre, on log erfc in the tails --
    # written log erfcx(x) - x^2, which does not underflow where p is subnormal
    upper = p > 0.5
    q = 2.0 * (1.0 - p if upper else p)
    a = 1.0 - q
    w = -math.log(q * (2.0 - q))
    if w > 25.0:  # (past Giles' range: erfc(x) ~ exp(-x^2) / (x sqrt(pi)), solved once)
        return math.sqrt(w - math.log(math.sqrt(_PI * w))), q, a, upper
    if w < 5.0:
        w -= 2.5
        s = _CENTRAL[0]
        for c in _CENTRAL[1:]:
            s = s * w + c
    else:
        w = math.sqrt(w) - 3.0
        s = _TAIL[0]
        for c in _TAIL[1:]:
            s = s * w + c
    return s * a, q, a, upper


def _ndtri(p):
    if p != p or p < 0.0 or p > 1.0:
        return math.nan
    if p == 0.0 or p == 1.0:
        return math.inf if p == 1.0 else -math.inf
    x, q, a, upper = _ndtri_start(p)
    for _ in range(_NEWTON_STEPS):
        if a < 0.5:
            x -= (math.erf(x) - a) / (_TWO_OVER_SQRT_PI * math.exp(-(x * x)))
        else:
            e = _erfcx(x)
            x += (math.log(e) - x * x - math.log(q)) * e / _TWO_OVER_SQRT_PI
    x *= math.sqrt(2.0)
    return 0.0 if x == 0.0 else (x if upper else -x)


_ndtri_start_nb = elementwise(_ndtri_start)


def _ndtri_k(p):
    if p != p or p < 0.0 or p > 1.0:
        return math.nan
    if p == 0.0 or p == 1.0:
        return math.inf if p == 1.0 else -math.inf
    x, q, a, upper = _ndtri_start_nb(p)
    for _ in range(_NEWTON_STEPS):
        if a < 0.5:
            x -= (math.erf(x) - a) / (_TWO_OVER_SQRT_PI * math.exp(-(x * x)))
        else:
            e = _erfcx_nb(x)
            x += (math.log(e) - x * x - math.log(q)) * e / _TWO_OVER_SQRT_PI
    x *= math.sqrt(2.0)
    return 0.0 if x == 0.0 else (x if upper else -x)


def _np_ndtri(p):
    v, dtype = _floating(p)
    with np.errstate(all="ignore"):
        upper = v > 0.5
        q = 2.0 * np.where(upper, 1.0 - v, v)
        a = 1.0 - q
        w = -np.log(q * (2.0 - q))
        central = w < 5.0
        x = a * np.where(central, _polynomial(w - 2.5, _CENTRAL),
                         _polynomial(np.sqrt(np.clip(w, 5.0, 25.0)) - 3.0, _TAIL))
        x = np.where(w > 25.0, np.sqrt(w - np.log(np.sqrt(_PI * w))), x)
        inner = a < 0.5
        for _ in range(_NEWTON_STEPS):
            slope = _TWO_OVER_SQRT_PI * np.exp(-(x * x))
            e = _np_erfcx(np.where(inner, 1.0, x))
            x = np.where(inner, x - (_np_erf(x) - a) / slope,
                         x + (np.log(e) - x * x - np.log(q)) * e / _TWO_OVER_SQRT_PI)
        x = math.sqrt(2.0) * np.where(upper, x, -x) + 0.0
        x = np.where(v == 0.0, -np.inf, np.where(v == 1.0, np.inf, x))
        x = np.where((v < 0.0) | (v > 1.0) | np.isnan(v), np.nan, x)
    return x.astype(dtype, copy=False)


def _entr(x):
    if x > 0.0:
        return -x * math.log(x)
    if x == 0.0:
        return 0.0
    return x if x != x else -math.inf


def _np_entr(x):
    v, dtype = _floating(x)
    with np.errstate(all="ignore"):
        out = np.where(v > 0.0, -v * np.log(np.where(v > 0.0, v, 1.0)),
                       np.where(v == 0.0, 0.0, np.where(np.isnan(v), v, -np.inf)))
    return out.astype(dtype, copy=False)


def _xlog1py(a, b):
    if a == 0.0 and b == b:
        return 0.0
    return a * (math.log1p(b) if b > -1.0 else (-math.inf if b == -1.0 else math.nan))


def _np_xlog1py(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((a == 0) & ~np.isnan(b), 0.0, a * np.log1p(b))
    kind = np.result_type(a, b)
    return out.astype(np.result_type(a, b, np.float32) if kind.kind != "f" else kind, copy=False)


def _xlog1py_da(g, a, b, y):
    # torch: xlog1py(grad, other), zero where self == 0 and other <= -1
    if a == 0.0 and b <= -1.0:
        return 0.0
    if g == 0.0 and b == b:
        return 0.0
    return g * (math.log1p(b) if b > -1.0 else (-math.inf if b == -1.0 else math.nan))


# --------------------------------------------------------------------------- graph rules


def _unary_of(op_key):
    def apply(t):
        from ..fastpath import _unary

        return _unary(t, BY_KEY_LOCAL[op_key])

    return apply


def _polygamma_of(n, t):
    from ..special import polygamma

    return polygamma(n, t)


BY_KEY_LOCAL: dict = {}

# --------------------------------------------------------------------------- the ops


def _special(key, name, eager, py, kernel_f, df, reads, graph, method=True):
    op = unary(key, name, eager, py, df, reads, kernel_f=elementwise(named(kernel_f, f"{key}_f")),
               graph=graph)
    if not method:  # (torch.special's only: no Tensor method, no torch.<key>)
        object.__setattr__(op, "surface", None)
    BY_KEY_LOCAL[key] = op
    return op


LGAMMA = _special("lgamma", "LgammaBackward0", _np_lgamma, _lgamma, _lgamma_k,
                  lambda g, x, y: g * _digamma_nb(x), READS_A,
                  graph=lambda g, a, b, y, r: (g * _unary_of("digamma")(a), None))
DIGAMMA = _special("digamma", "DigammaBackward0", _np_digamma, _digamma, _digamma,
                   lambda g, x, y: g * _trigamma_nb(x), READS_A,
                   graph=lambda g, a, b, y, r: (g * _polygamma_of(1, a), None))


def _polygamma_fwd(y, a, b, I, F, ip, fp):
    c = F[fp]
    for i in range(y.size):
        y[i] = _polygamma_k_nb(a[i], c)


def _polygamma_df(g, x, y, c):
    return g * _polygamma_k_nb(x, c + 1.0)


_polygamma_df_nb = elementwise(named(_polygamma_df, "polygamma_df"))


def _polygamma_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    c = F[fp]
    if need_a == ASSIGN:
        for i in range(g.size):
            ga[i] = _polygamma_df_nb(g[i], a[i], y[i], c)
    else:
        for i in range(g.size):
            ga[i] += _polygamma_df_nb(g[i], a[i], y[i], c)


# (n is a number kept in the float pool, as a scalar op's constant: torch lists no edge for it)
POLYGAMMA = register("polygamma", "PolygammaBackward0", 1, _np_polygamma,
                     _compile(_polygamma_fwd, "polygamma"), _compile(_polygamma_vjp, "polygamma"),
                     READS_A, py=_polygamma, rules=("scalar", _polygamma_k_nb, _polygamma_df_nb),
                     assigns=True,
                     graph=lambda g, a, b, y, r: (g * _polygamma_of(int(r.F[r.fp]) + 1, a),
                                                  None))

I0 = _special("i0", "I0Backward0", lambda x: _np_bessel_i(x, 0, False),
              lambda x: _bessel_i(x, 0, False), lambda x: _bessel_i_nb(x, 0, False),
              lambda g, x, y: g * _bessel_i_nb(x, 1, False), READS_A,
              graph=lambda g, a, b, y, r: (g * _unary_of("special_i1")(a), None))
I0E = _special("special_i0e", "SpecialI0EBackward0", lambda x: _np_bessel_i(x, 0, True),
               lambda x: _bessel_i(x, 0, True), lambda x: _bessel_i_nb(x, 0, True), _i0e_df,
               READS_A | READS_Y, method=False,
               graph=lambda g, a, b, y, r: (g * (_unary_of("special_i1e")(a) - a.sign() * y),
                                            None))
I1 = _special("special_i1", "SpecialI1Backward0", lambda x: _np_bessel_i(x, 1, False),
              lambda x: _bessel_i(x, 1, False), lambda x: _bessel_i_nb(x, 1, False), _i1_df,
              READS_A | READS_Y, method=False,
              graph=lambda g, a, b, y, r: (_where(a == 0.0, 0.5 * g,
                                                  g * (_unary_of("i0")(a) - y / a)), None))
I1E = _special("special_i1e", "SpecialI1EBackward0", lambda x: _np_bessel_i(x, 1, True),
               lambda x: _bessel_i(x, 1, True), lambda x: _bessel_i_nb(x, 1, True), _i1e_df,
               READS_A | READS_Y, method=False,
               graph=lambda g, a, b, y, r: (_where(
                   a == 0.0, 0.5 * g,
                   g * (_unary_of("special_i0e")(a) - y * (a.sign() + 1.0 / a))), None))
NDTRI = _special("special_ndtri", "SpecialNdtriBackward0", _np_ndtri, _ndtri, _ndtri_k,
                 lambda g, x, y: g * _SQRT_2PI * math.exp(0.5 * y * y), READS_Y, method=False,
                 graph=lambda g, a, b, y, r: (g * _SQRT_2PI * (0.5 * y * y).exp(), None))
LOG_NDTR = _special("special_log_ndtr", "SpecialLogNdtrBackward0", _np_log_ndtr, _log_ndtr,
                    _log_ndtr_k,
                    lambda g, x, y: g / _SQRT_2PI * math.exp(-(y + 0.5 * x * x)),
                    READS_A | READS_Y, method=False,
                    graph=lambda g, a, b, y, r: (g / _SQRT_2PI * (-(y + 0.5 * a * a)).exp(),
                                                 None))
ERFCX = _special("special_erfcx", "SpecialErfcxBackward0", _np_erfcx, _erfcx, _erfcx_k,
                 lambda g, x, y: (2.0 * x * y - _TWO_OVER_SQRT_PI) * g, READS_A | READS_Y,
                 method=False, graph=None)
ENTR = _special("special_entr", "SpecialEntrBackward0", _np_entr, _entr, _entr,
                lambda g, x, y: g * -(1.0 + math.log(x)), READS_A, method=False,
                graph=lambda g, a, b, y, r: (g * -(1.0 + a.log()), None))
XLOG1PY = binary("special_xlog1py", "SpecialXlog1PyBackward0", _np_xlog1py, _xlog1py,
                 _xlog1py_da, lambda g, a, b, y: g * a / (b + 1.0),
                 READS_A | READS_B, READS_A | READS_B, surface=None,
                 graph=(lambda g, a, b, y: _where((a == 0.0) & (b <= -1.0), 0.0,
                                                  _where((g == 0.0) & (b == b), 0.0,
                                                         g * b.log1p())),
                        lambda g, a, b, y: g * a / (b + 1.0)))
