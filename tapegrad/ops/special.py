"""torch's special functions beyond the gamma family (``gamma.py``): the modified Bessel
functions of orders 0 and 1 (``i0``, ``i0e``, ``i1``, ``i1e``), the normal distribution's relatives
(``ndtri``, ``log_ndtr``, ``erfcx``), ``entr`` and ``xlog1py``.

Written as ``gamma.py``'s: a scalar rule (Python and numba, one source; the numba build calls the
``*_nb`` twins of its helpers) and a NumPy forward evaluating every branch on its interval's clamp.
Derivatives are torch's (``derivatives.yaml``), edges included (``i1``'s 0.5 at the origin,
``entr``'s at 0).
"""

import math

import numpy as np

from ..kernels.jit import elementwise
from .elementwise import (
    _ERFC_P,
    _ERFC_Q,
    _ERFC_R,
    _ERFC_S,
    _np_erf,
    _polynomial,
    _where,
    binary,
)
from .gamma import _PI, _floating, _special, _unary_of
from .mathfuncs import _CENTRAL, _NEWTON_STEPS, _TAIL, _TWO_OVER_SQRT_PI, _np_erfc
from .registry import READS_A, READS_B, READS_Y

_SQRT_2PI = math.sqrt(2.0 * math.pi)
_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)

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
    out = out.astype(dtype, copy=False)
    return out[()] if out.ndim == 0 else out  # (a 0-d input gives a NumPy scalar, as ufuncs do)


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


# --------------------------------------------------------------------------- the ops

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
