"""torch's gamma family: ``lgamma``, ``digamma`` and ``polygamma`` (its derivative chain:
lgamma' = digamma, digamma' = polygamma(1), polygamma(n)' = polygamma(n + 1)).

NumPy has none of them: each is written here from its series, its asymptotic expansion and its
functional equations, twice -- a scalar rule (Python for 0-d values, numba for the kernels; one
source, the numba build calling the ``*_nb`` twins of its helpers) and a NumPy forward that
evaluates every branch on its interval's clamp and picks with ``np.where``.  Derivatives are
torch's (``derivatives.yaml``); trigamma is torch's own to the ulp (see ``_trigamma``).
"""

import math
from fractions import Fraction

import numpy as np

from ..kernels.jit import elementwise, named
from .elementwise import _compile, _polynomial, unary
from .registry import ASSIGN, BY_KEY, READS_A, register

_PI = math.pi
_EULER = 0.5772156649015329
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
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
        # (np.asarray: on a 0-d input frompyfunc gives a Python float, not an array)
        zeta = np.asarray(np.frompyfunc(lambda q: _zeta_py(n + 1.0, q), 1, 1)(v), np.float64)
        out = _polygamma_from(n, v, zeta) if math.lgamma(n + 1.0) < 709.0 else \
            np.asarray(zeta * math.inf, np.float64)
    return np.asarray(out, np.float64).astype(dtype, copy=False)


# --------------------------------------------------------------------------- graph rules


def _unary_of(op_key):
    def apply(t):
        from ..fastpath import _unary

        return _unary(t, BY_KEY[op_key])

    return apply


def _polygamma_of(n, t):
    from ..special import polygamma

    return polygamma(n, t)



# --------------------------------------------------------------------------- the ops


def _special(key, name, eager, py, kernel_f, df, reads, graph, method=True):
    op = unary(key, name, eager, py, df, reads, kernel_f=elementwise(named(kernel_f, f"{key}_f")),
               graph=graph)
    if not method:  # (torch.special's only: no Tensor method, no torch.<key>)
        object.__setattr__(op, "surface", None)
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
