"""More of torch's elementwise math (mathfuncs.py's sequel, registered after every older op so that
no opcode moves): ``sgn``, ``copysign``, ``heaviside``, ``logit``, ``sinc``, ``deg2rad``,
``rad2deg``, ``logaddexp2``, ``nextafter`` and ``signbit``.

Each op is one factory call, as in mathfuncs.py, with torch's derivative (``derivatives.yaml``)
and its values at the edges.  ``logit``'s ``eps`` and ``float_power`` are compositions made in
surface.py (a clamp before the op, a cast to float64 before ``pow``).
"""

import math

import numpy as np

from ..kernels.jit import kernel
from .elementwise import _where, _zeros_like, binary, unary
from .mathfuncs import _np_sign, _sign, _zero
from .registry import READS_A, READS_B, READS_Y, exposed, register

_PI_180 = math.pi / 180.0  # (torch multiplies by these constants, so the same rounding)
_180_PI = 180.0 / math.pi
_INPUT_OTHER = ("input", "other")
_INV_LN2 = 1.0 / math.log(2.0)

# (real tensors: sgn is sign, with torch's own node name)
SGN = unary("sgn", "SgnBackward0", _np_sign, _sign, lambda g, x, y: 0.0, 0, graph=_zero)

DEG2RAD = unary("deg2rad", "Deg2RadBackward0", lambda x: x * _PI_180, lambda x: x * _PI_180,
                lambda g, x, y: g * _PI_180, 0)
RAD2DEG = unary("rad2deg", "Rad2DegBackward0", lambda x: x * _180_PI, lambda x: x * _180_PI,
                lambda g, x, y: g * _180_PI, 0)


# -- logit: log(x / (1 - x)), NaN outside [0, 1]; eps (clamping first) is composed in surface.py


def _logit(x):
    if x == 1.0:
        return math.inf
    if not 0.0 <= x <= 1.0:  # (NaN too)
        return math.nan
    q = x / (1.0 - x)
    return math.log(q) if q > 0.0 else -math.inf  # (-inf at both zeros, as torch's)


def _logit_df(g, x, y):
    # torch's: NaN outside [0, 1], an infinite slope at its ends (whatever zero's sign)
    if x < 0.0 or x > 1.0:
        return math.nan
    if x == 0.0 or x == 1.0:
        return g * math.inf
    return g / (x * (1.0 - x))


def _np_logit(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x / (1 - x))


def _logit_graph(g, a, b, y, r):
    # (the ends divide by +0.0: g * inf there, whatever zero's sign, with no inf multiplying a
    # gradient that a second derivative would send back through it)
    ends = _where((a == 0.0) | (a == 1.0), 0.0, a * (1.0 - a))
    return _where((a < 0.0) | (a > 1.0), math.nan, g / ends), None


LOGIT = unary("logit", "LogitBackward0", _np_logit, _logit, _logit_df, READS_A,
              graph=_logit_graph)


# -- sinc: sin(pi x) / (pi x), 1 at 0


def _sinc(x):
    if x == 0.0:
        return 1.0
    p = math.pi * x
    return math.sin(p) / p if abs(p) < math.inf else math.nan


def _sinc_df(g, x, y):
    if x == 0.0:
        return 0.0 * g
    p = math.pi * x
    return g * ((p * math.cos(p) - math.sin(p)) / (p * x)) if abs(p) < math.inf else math.nan


def _np_sinc(x):
    p = math.pi * x
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 1.0, np.sin(p) / p).astype(p.dtype, copy=False)


def _sinc_graph(g, a, b, y, r):
    zero = a == 0.0
    safe = _where(zero, 1.0, a)  # (no 0/0 on the branch not taken: its gradient would be NaN)
    p = math.pi * safe
    return _where(zero, 0.0 * g, g * ((p * p.cos() - p.sin()) / (p * safe))), None


SINC = unary("sinc", "SincBackward0", _np_sinc, _sinc, _sinc_df, READS_A, graph=_sinc_graph)


# -- two operands


def _copysign_da(g, a, b, y):
    # torch's: grad * result / self, 0 where self == 0 (NaN at an infinite self, as torch's)
    return 0.0 if a == 0.0 else g * (y / a)


def _np_copysign(a, b):
    out = np.copysign(a, b)
    return out if np.result_type(a, b).kind == "f" else out.astype(np.float32)


COPYSIGN = binary("copysign", "CopysignBackward0", _np_copysign,
                  lambda a, b: math.copysign(a, b), _copysign_da, lambda g, a, b, y: 0.0,
                  READS_A | READS_Y, 0, surface=exposed("copysign", params=_INPUT_OTHER,
                                    number_name="CopysignBackward1"),
                  graph=(lambda g, a, b, y: _where(a == 0.0, 0.0, g * (y / a)),
                         lambda g, a, b, y: _zeros_like(g)))


def _logaddexp2(a, b):
    m = max(a, b)
    if a != a or b != b:
        return a + b
    if m == -math.inf:
        return -math.inf
    if m == math.inf:
        return math.inf
    return m + math.log1p(2.0 ** -abs(a - b)) * _INV_LN2


def _np_logaddexp2(a, b):
    # torch's formula (NumPy's rounds differently: logaddexp2(-1, -1) is 0 there, -5e-17 here)
    with np.errstate(invalid="ignore"):
        m = np.maximum(a, b)
        out = m + np.log1p(np.exp2(-np.abs(a - b))) * _INV_LN2
        return np.where(np.isinf(a) & (a == b), a, out).astype(out.dtype, copy=False)


LOGADDEXP2 = binary("logaddexp2", "Logaddexp2Backward0", _np_logaddexp2, _logaddexp2,
                    lambda g, a, b, y: g / (1.0 + 2.0 ** (b - a)),
                    lambda g, a, b, y: g / (1.0 + 2.0 ** (a - b)),
                    READS_A | READS_B, READS_A | READS_B,
                    surface=exposed("logaddexp2", params=_INPUT_OTHER, inplace=False),
                    graph=(lambda g, a, b, y: g / (1.0 + 2.0 ** (b - a)),
                           lambda g, a, b, y: g / (1.0 + 2.0 ** (a - b))))

# torch passes the gradient to the input unchanged where the operands differ (0 where they are
# equal, the result then being ``other``) and none to ``other`` (zeros)
NEXTAFTER = binary("nextafter", "NextafterBackward0", np.nextafter,
                   lambda a, b: np.nextafter(a, b), lambda g, a, b, y: 0.0 if a == b else g,
                   lambda g, a, b, y: 0.0, READS_A | READS_B, 0, py=math.nextafter,
                   surface=exposed("nextafter", params=_INPUT_OTHER),
                   graph=(lambda g, a, b, y: _where(a == b, 0.0, g),
                          lambda g, a, b, y: _zeros_like(g)))


# heaviside: torch records it with a node that refuses backward (its derivative is not
# implemented).  The front end (surface.py) has a gradient reaching its output refused with
# torch's error (a hook on it); the VJP, never meant to run, makes NaN, and the graph rule raises
HEAVISIDE_NO_GRADIENT = "derivative for aten::heaviside is not implemented"


def _heaviside(a, b):
    return b if a == 0.0 else (1.0 if a > 0.0 else 0.0)  # (NaN: 0, as torch's)


def _np_heaviside(a, b):
    if a.dtype != b.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    return np.where(a == 0, b, (a > 0).astype(a.dtype))


def _heaviside_graph(g, a, b, y):
    raise RuntimeError(HEAVISIDE_NO_GRADIENT)


HEAVISIDE = binary("heaviside", "torch::autograd::NotImplemented", _np_heaviside, _heaviside,
                   lambda g, a, b, y: math.nan, lambda g, a, b, y: math.nan, 0, 0,
                   graph=(_heaviside_graph, _heaviside_graph))


# signbit: a bool tensor without history, as a comparison's (recorded only while compiling)


@kernel
def _signbit_fwd(y, a, b, I, F, ip, fp):
    for i in range(y.size):
        y[i] = 1.0 if np.signbit(a[i]) else 0.0


@kernel
def _no_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
    pass


SIGNBIT = register("signbit", "SignbitBackward0", 1, np.signbit, _signbit_fwd, _no_vjp, 0,
                   surface=exposed("signbit"), graph=_zero)

#: the ops of this module whose result is a bool tensor with no history (surface.py makes
#: their methods as it makes the comparisons')
BOOL_RESULTS = frozenset({SIGNBIT.key})
