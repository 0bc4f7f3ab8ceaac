"""Elementwise ops: each is a pair of scalar rules (forward, derivative) and its NumPy forward.

Three factories turn scalar rules into whole-array kernels with the op table's fixed signature:

* ``unary``   -- ``y = f(a)``;  derivative ``df(g, a, y)``
* ``scalar``  -- ``y = f(a, c)`` for a Python-number constant ``c`` kept in the float pool;
                 derivative ``df(g, a, y, c)``
* ``binary``  -- ``y = f(a, b)`` with NumPy broadcasting; derivatives ``da(g, a, b, y)`` and
                 ``db(g, a, b, y)``.  When the shapes differ the record's int parameters hold the
                 broadcast shapes and the kernels walk them with an odometer, summing each input's
                 gradient back into its own shape.

The forward rule ``f`` also computes 0-d float64 tensors eagerly, in plain Python (``Op.py``).
"""

import math

import numpy as np

from ..kernels.jit import elementwise, kernel, named
from . import vmath
from .registry import ASSIGN, READS_A, READS_B, READS_Y, Surface, exposed, register

# --------------------------------------------------------------------------- graph rules
# (``Op.graph``: the VJP in tensor operations, for create_graph.  Where an op's scalar
# derivative is plain arithmetic it is the rule itself, run on tensors; the others pass their
# own, written beside the op.)


def _unary_graph(df):
    def graph(g, a, b, y, r):
        return df(g, a, y), None

    return graph


def _scalar_graph(df):
    def graph(g, a, b, y, r):
        return df(g, a, y, r.F[r.fp]), None

    return graph


def _sum_to(grad, I, ip: int, at: int):
    """``grad`` (the output's shape) summed over the dims a broadcast input was expanded along;
    the input's padded shape is ``I[ip + 1 + at * nd:][:nd]`` (see ``broadcast_params``)."""
    nd = I[ip]
    shape = tuple(I[ip + 1 + at * nd: ip + 1 + (at + 1) * nd])
    out = tuple(I[ip + 1 + 2 * nd: ip + 1 + 3 * nd])
    dims = tuple(d for d in range(nd) if shape[d] == 1 and out[d] != 1)
    if dims:
        grad = grad.sum(dims, keepdim=True)
    return grad.reshape(shape) if grad.shape != shape else grad


def _binary_graph(da, db):
    """From each input's derivative rule ``d(g, a, b, y)`` (the output's shape)."""

    def graph(g, a, b, y, r):
        ga = da(g, a, b, y) if r.need_a else None
        gb = db(g, a, b, y) if r.need_b else None
        if r.ip >= 0:  # broadcast: each input's gradient summed back to its shape
            ga = _sum_to(ga, r.I, r.ip, 0) if r.need_a else None
            gb = _sum_to(gb, r.I, r.ip, 1) if r.need_b else None
        return ga, gb

    return graph


# --------------------------------------------------------------------------- factories


def _compile(kernel_fn, key: str):
    """A factory-made kernel, compiled under a name of its own (see ``jit.named``)."""
    return kernel(named(kernel_fn, f"{key}_{kernel_fn.__name__}"))



def unary(key, name, eager, f, df, reads, kernel_f=None, operators: tuple = (), graph=None,
          aliases: tuple = ()):
    """``kernel_f``: the forward rule numba compiles, when it must differ from the Python one
    (``f``), e.g. to let LLVM vectorise it (``vmath.py``).  Users reach the op as ``x.<key>()``
    and ``tapegrad.<key>(x)``, through ``operators`` if given, and by torch's ``aliases``.
    ``graph``: the VJP in tensor operations, when ``df`` is not plain arithmetic (which runs
    on tensors as it is)."""
    py = f
    graph = graph or _unary_graph(df)
    f = kernel_f if kernel_f is not None else elementwise(named(f, f"{key}_f"))
    df = elementwise(named(df, f"{key}_df"))

    def fwd(y, a, b, I, F, ip, fp):
        for i in range(y.size):
            y[i] = f(a[i])

    def vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
        if need_a == ASSIGN:
            for i in range(g.size):
                ga[i] = df(g[i], a[i], y[i])
        else:
            for i in range(g.size):
                ga[i] += df(g[i], a[i], y[i])

    return register(key, name, 1, eager, _compile(fwd, key), _compile(vjp, key), reads, py=py,
                    rules=("unary", f, df), assigns=True,
                    surface=exposed(key, *operators, aliases=aliases),
                    graph=graph)


def scalar(key, name, eager, f, df, reads, next_none=True, saves=None, graph=None):
    py = f
    graph = graph or _scalar_graph(df)
    f, df = elementwise(named(f, f"{key}_f")), elementwise(named(df, f"{key}_df"))

    def fwd(y, a, b, I, F, ip, fp):
        c = F[fp]
        for i in range(y.size):
            y[i] = f(a[i], c)

    def vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
        c = F[fp]
        if need_a == ASSIGN:
            for i in range(g.size):
                ga[i] = df(g[i], a[i], y[i], c)
        else:
            for i in range(g.size):
                ga[i] += df(g[i], a[i], y[i], c)

    return register(key, name, 1, eager, _compile(fwd, key), _compile(vjp, key), reads, 0, saves,
                    next_none, py=py, rules=("scalar", f, df), assigns=True, graph=graph)


@elementwise
def _odometer_step(idx, shape, sa, sb, nd, ia, ib):
    """Advance a multi-index over ``shape`` by one; return the operands' new flat offsets."""
    d = nd - 1
    while d >= 0:
        idx[d] += 1
        ia += sa[d]
        ib += sb[d]
        if idx[d] < shape[d]:
            break
        ia -= sa[d] * shape[d]
        ib -= sb[d] * shape[d]
        idx[d] = 0
        d -= 1
    return ia, ib


@elementwise
def _broadcast_strides(I, ip):
    """Element strides of both operands over the output shape (0 along broadcast dims)."""
    nd = I[ip]
    shape = I[ip + 1 + 2 * nd: ip + 1 + 3 * nd]
    sa = np.zeros(nd, np.int64)
    sb = np.zeros(nd, np.int64)
    stride_a = 1
    stride_b = 1
    for d in range(nd - 1, -1, -1):
        da = I[ip + 1 + d]
        db = I[ip + 1 + nd + d]
        if da != 1:
            sa[d] = stride_a
        if db != 1:
            sb[d] = stride_b
        stride_a *= da
        stride_b *= db
    return nd, shape, sa, sb


def broadcast_params(av, bv, value) -> tuple | None:
    """The int params of a binary op on ``av`` and ``bv`` giving ``value`` (arrays): ndim, both
    input shapes padded to it, the output shape; None when the shapes agree (no params)."""
    if av.shape == bv.shape:
        return None
    nd = value.ndim
    return (nd, *(1,) * (nd - av.ndim), *av.shape, *(1,) * (nd - bv.ndim), *bv.shape,
            *value.shape)


def binary(key, name, eager, f, da, db, reads_a, reads_b, scalar_forward=True, py=None,
           surface: Surface | None = None, graph=None):
    """``py``: the Python forward rule, when it must differ from ``f``.  ``graph``: the
    inputs' derivatives in tensor operations, ``(da, db)`` each ``d(g, a, b, y)`` shaped as
    ``y`` (summed to the inputs' shapes here), when ``da``/``db`` are not plain arithmetic."""
    py = (py or f) if scalar_forward else None
    graph = _binary_graph(*(graph or (da, db)))
    f = elementwise(named(f, f"{key}_f"))
    da, db = elementwise(named(da, f"{key}_da")), elementwise(named(db, f"{key}_db"))

    # Broadcast shapes are walked a row (the last dim) at a time: the odometer only turns
    # between rows, and a row in which both operands are contiguous (the bias of a linear
    # layer, say) is a plain loop over slices that LLVM vectorises.

    def fwd(y, a, b, I, F, ip, fp):
        if ip < 0:
            for i in range(y.size):
                y[i] = f(a[i], b[i])
            return
        if y.size == 0:
            return
        nd, shape, sa, sb = _broadcast_strides(I, ip)
        row, ra, rb = shape[nd - 1], sa[nd - 1], sb[nd - 1]
        idx = np.zeros(nd, np.int64)
        ia = 0
        ib = 0
        for start in range(0, y.size, row):
            yr = y[start:start + row]
            if ra == 1 and rb == 1:
                ar = a[ia:ia + row]
                br = b[ib:ib + row]
                for j in range(row):
                    yr[j] = f(ar[j], br[j])
            else:
                for j in range(row):
                    yr[j] = f(a[ia + j * ra], b[ib + j * rb])
            ia, ib = _odometer_step(idx, shape, sa, sb, nd - 1, ia, ib)

    def vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):
        if ip < 0:  # (a is b for x*x: then need_b is ADD, and a's term lands first)
            for i in range(g.size):
                if need_a == ASSIGN:
                    ga[i] = da(g[i], a[i], b[i], y[i])
                elif need_a:
                    ga[i] += da(g[i], a[i], b[i], y[i])
                if need_b == ASSIGN:
                    gb[i] = db(g[i], a[i], b[i], y[i])
                elif need_b:
                    gb[i] += db(g[i], a[i], b[i], y[i])
            return
        if g.size == 0:
            return
        nd, shape, sa, sb = _broadcast_strides(I, ip)
        row, ra, rb = shape[nd - 1], sa[nd - 1], sb[nd - 1]
        idx = np.zeros(nd, np.int64)
        ia = 0
        ib = 0
        for start in range(0, g.size, row):
            gr = g[start:start + row]
            yr = y[start:start + row]
            if ra == 1 and rb == 1:
                ar = a[ia:ia + row]
                br = b[ib:ib + row]
                if need_a:
                    gar = ga[ia:ia + row]
                    for j in range(row):
                        gar[j] += da(gr[j], ar[j], br[j], yr[j])
                if need_b:
                    gbr = gb[ib:ib + row]
                    for j in range(row):
                        gbr[j] += db(gr[j], ar[j], br[j], yr[j])
            else:
                for j in range(row):
                    ja = ia + j * ra
                    jb = ib + j * rb
                    if need_a:
                        ga[ja] += da(gr[j], a[ja], b[jb], yr[j])
                    if need_b:
                        gb[jb] += db(gr[j], a[ja], b[jb], yr[j])
            ia, ib = _odometer_step(idx, shape, sa, sb, nd - 1, ia, ib)

    return register(key, name, 2, eager, _compile(fwd, key), _compile(vjp, key), reads_a,
                    reads_b, py=py, rules=("binary", f, da, db), assigns=True, surface=surface,
                    graph=graph)


# --------------------------------------------------------------------------- scalar helpers


def _sigmoid(x):
    # split by sign so neither branch overflows
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _np_sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


def _fpow(x, c):
    # libm's pow is slow per element; the common small exponents are exact without it
    if c == 2.0:
        return x * x
    if c == 1.0:
        return x
    if c == 3.0:
        return x * x * x
    if c == 0.5:
        return math.sqrt(x) if x >= 0.0 or x != x else math.nan
    if c == -1.0:
        return 1.0 / x
    return x ** c


_fpow_jit = elementwise(_fpow)

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
# Cephes' (S. Moshier, public domain) rational approximations of erf on [0, 1] and of erfc on
# [1, 8] and beyond, highest power first (the leading 1.0 of each denominator written out)
_ERF_T = (9.60497373987051638749E0, 9.00260197203842689217E1, 2.23200534594684319226E3,
          7.00332514112805075473E3, 5.55923013010394962768E4)
_ERF_U = (1.0, 3.35617141647503099647E1, 5.21357949780152679795E2, 4.59432382970980127987E3,
          2.26290000613890934246E4, 4.92673942608635921086E4)
_ERFC_P = (2.46196981473530512524E-10, 5.64189564831068821977E-1, 7.46321056442269912687E0,
           4.86371970985681366614E1, 1.96520832956077098242E2, 5.26445194995477358631E2,
           9.34528527171957607540E2, 1.02755188689515710272E3, 5.57535335369399327526E2)
_ERFC_Q = (1.0, 1.32281951154744992508E1, 8.67072140885989742329E1, 3.54937778887819891062E2,
           9.75708501743205489753E2, 1.82390916687909736289E3, 2.24633760818710981792E3,
           1.65666309194161350182E3, 5.57535340817727675546E2)
_ERFC_R = (5.64189583547755073984E-1, 1.27536670759978104416E0, 5.01905042251180477414E0,
           6.16021097993053585195E0, 7.40974269950448939160E0, 2.97886665372100240670E0)
_ERFC_S = (1.0, 2.26052863220117276590E0, 9.39603524938001434673E0, 1.20489539808096656605E1,
           1.70814450747565897222E1, 9.60896809063285878198E0, 3.36907645100081516050E0)


def _polynomial(x, coefficients):
    out = np.full_like(x, coefficients[0])
    for c in coefficients[1:]:
        out = out * x + c
    return out


def _np_erf(x):
    # NumPy has no erf (and math.erf one element at a time is far slower): Cephes' piecewise
    # form, each piece evaluated on its interval's clamp so that the pieces not taken stay
    # finite; NaN passes through every piece
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    v = np.asarray(x, np.float64)
    a = np.abs(v)
    small = np.clip(v, -1.0, 1.0)
    z = small * small
    inner = small * _polynomial(z, _ERF_T) / _polynomial(z, _ERF_U)
    mid = np.clip(a, 1.0, 8.0)
    far = np.clip(a, 8.0, 27.0)
    erfc = np.where(a < 8.0, np.exp(-(mid * mid)) * _polynomial(mid, _ERFC_P) /
                    _polynomial(mid, _ERFC_Q),
                    np.exp(-(far * far)) * _polynomial(far, _ERFC_R) / _polynomial(far, _ERFC_S))
    out = np.where(a <= 1.0, inner, np.where(v > 0.0, 1.0 - erfc, erfc - 1.0))
    return out.astype(dtype, copy=False)


#: the read-only float64 0-d constant ``fastpath._arithmetic`` hands NumPy for the number 2 (see
#: there), for float64 operands only: ``x ** 2`` is recognised by identity
TWO = np.array(2.0)
TWO.flags.writeable = False


def _np_pow_scalar(x, c):
    # NumPy's power ufunc calls libm pow even for x**2 (much slower than a square);
    # x*x is what pow returns there, and floats keep their dtype either way.  (The recording
    # path hands every float64 2 over as TWO, and any other number as a 0-d constant, or
    # itself for other dtypes)
    if c is TWO or (c.__class__ is not np.ndarray and c == 2 and x.dtype.kind == "f"):
        return np.square(x)
    if c == 0.5 and x.dtype.kind == "f":  # torch's x ** 0.5 is sqrt(x): nan at -inf (libm's
        return np.sqrt(x)  # pow, which NumPy before 2.1 calls, gives inf), as _fpow's
    return np.power(x, c)


def _pow_grad_base(g, x, c):
    # the square first: with that test leading, LLVM vectorises the x**2 loop
    if c == 2.0:
        return g * c * x
    # torch: the derivative of x**0 is 0 everywhere, even at x == 0
    if c == 0.0:
        return 0.0
    return g * c * _fpow_jit(x, c - 1.0)


def _pow_grad_exponent(g, base, e, y):
    # torch: d(base**e)/de is taken as 0 where base == 0 and e >= 0 (the limit from above)
    if base == 0.0 and e >= 0.0:
        return 0.0
    return g * y * math.log(base)


_pow_grad_base_jit = elementwise(_pow_grad_base)
_pow_grad_exponent_jit = elementwise(_pow_grad_exponent)


def _where(condition, x, y):
    from ..structural import where  # (the front end's: tensors and numbers)

    return where(condition, x, y)


def _pow_base_graph(g, x, c: float):
    # _pow_grad_base in tensor operations (``c`` is the record's constant, not a value)
    if c == 0.0:
        return _zeros_like(g)
    if c == 2.0:
        return g * c * x
    return g * c * x ** (c - 1.0)


def _rpow_graph(g, x, y, c: float):
    # _pow_grad_exponent for the base ``c``, a constant
    if c == 0.0:
        return _where(x >= 0.0, 0.0, g * y * -math.inf)
    return g * y * math.log(c)


def _zeros_like(t):
    from ..creation import zeros_like

    return zeros_like(t)


# --------------------------------------------------------------------------- the ops

NEG = unary("neg", "NegBackward0", np.negative, lambda x: -x, lambda g, x, y: -g, 0,
            operators=("__neg__",), aliases=("negative",))
EXP = unary("exp", "ExpBackward0", np.exp, lambda x: math.exp(x), lambda g, x, y: g * y, READS_Y)
LOG = unary("log", "LogBackward0", np.log,
            lambda x: math.log(x) if x > 0.0 else (-math.inf if x == 0.0 else math.nan),
            lambda g, x, y: g / x, READS_A)
SIN = unary("sin", "SinBackward0", np.sin, lambda x: math.sin(x), lambda g, x, y: g * math.cos(x),
            READS_A, graph=lambda g, a, b, y, r: (g * a.cos(), None))
COS = unary("cos", "CosBackward0", np.cos, lambda x: math.cos(x), lambda g, x, y: -g * math.sin(x),
            READS_A, graph=lambda g, a, b, y, r: (-g * a.sin(), None))
TANH = unary("tanh", "TanhBackward0", np.tanh, lambda x: math.tanh(x),
             lambda g, x, y: g * (1.0 - y * y), READS_Y, kernel_f=vmath.tanh)
SIGMOID = unary("sigmoid", "SigmoidBackward0", _np_sigmoid, _sigmoid,
                lambda g, x, y: g * y * (1.0 - y), READS_Y)
RELU = unary("relu", "ReluBackward0", lambda x: np.maximum(x, 0.0),
             lambda x: x if x > 0.0 else (x if x != x else 0.0),
             lambda g, x, y: 0.0 if y <= 0.0 else g, READS_Y,  # torch: NaN passes g
             graph=lambda g, a, b, y, r: (_where(y <= 0.0, 0.0, g), None))
SQRT = unary("sqrt", "SqrtBackward0", np.sqrt,
             lambda x: math.sqrt(x) if x >= 0.0 else math.nan,
             lambda g, x, y: g / (2.0 * y), READS_Y)
ABS = unary("abs", "AbsBackward0", np.abs, lambda x: abs(x),
            lambda g, x, y: g * (1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)), READS_A,
            operators=("__abs__",), aliases=("absolute",),
            graph=lambda g, a, b, y, r: (_where(a > 0.0, g, _where(a < 0.0, -g, 0.0)), None))
ERF = unary("erf", "ErfBackward0", _np_erf, lambda x: math.erf(x),
            lambda g, x, y: _TWO_OVER_SQRT_PI * math.exp(-(x * x)) * g, READS_A,
            graph=lambda g, a, b, y, r: (_TWO_OVER_SQRT_PI * (-(a * a)).exp() * g, None))

ADD_SCALAR = scalar("add_scalar", "AddBackward0", np.add, lambda x, c: x + c,
                    lambda g, x, y, c: g, 0)
SUB_SCALAR = scalar("sub_scalar", "SubBackward0", np.subtract, lambda x, c: x - c,
                    lambda g, x, y, c: g, 0)
RSUB_SCALAR = scalar("rsub_scalar", "RsubBackward1", lambda x, c: c - x, lambda x, c: c - x,
                     lambda g, x, y, c: -g, 0, next_none=False)
# torch keeps the scalar of x*c and x/c as a saved tensor: a second backward is refused
MUL_SCALAR = scalar("mul_scalar", "MulBackward0", np.multiply, lambda x, c: x * c,
                    lambda g, x, y, c: g * c, 0, saves=True)
DIV_SCALAR = scalar("div_scalar", "DivBackward0", np.divide, lambda x, c: x / c,
                    lambda g, x, y, c: g / c, 0, saves=True)
# ``c / x`` is recorded as torch computes it, ``reciprocal(x) * c`` (see fastpath._rdiv): the VJP
# reads only the reciprocal's own result, which the user cannot reach -- so changing ``x`` or
# ``c / x`` in place after does not make the gradient stale, as in torch
RECIPROCAL = unary("reciprocal", "ReciprocalBackward0",
                   lambda x: np.reciprocal(x) if x.dtype.kind == "f" else np.divide(1.0, x),
                   lambda x: 1.0 / x, lambda g, x, y: g * -(y * y), READS_Y,
                   operators=("__rtruediv__",))
POW_SCALAR = scalar("pow_scalar", "PowBackward0", _np_pow_scalar, _fpow,
                    lambda g, x, y, c: _pow_grad_base_jit(g, x, c), READS_A, next_none=False,
                    graph=lambda g, a, b, y, r: (_pow_base_graph(g, a, r.F[r.fp]), None))
RPOW_SCALAR = scalar("rpow_scalar", "PowBackward2", lambda x, c: np.power(c, x),
                     lambda x, c: c ** x,
                     lambda g, x, y, c: _pow_grad_exponent_jit(g, c, x, y), READS_A | READS_Y,
                     next_none=False,
                     graph=lambda g, a, b, y, r: (_rpow_graph(g, a, y, r.F[r.fp]), None))

# (each binary arithmetic op's operators take a Python number through its ``<key>_scalar``
# op, or through ``r<key>_scalar`` for a reflected one if there is such an op)
_OTHER = ("input", "other")
ADD = binary("add", "AddBackward0", np.add, lambda a, b: a + b,
             lambda g, a, b, y: g, lambda g, a, b, y: g, 0, 0,
             surface=exposed("add", "__add__", "__radd__", params=_OTHER))
SUB = binary("sub", "SubBackward0", np.subtract, lambda a, b: a - b,
             lambda g, a, b, y: g, lambda g, a, b, y: -g, 0, 0,
             surface=exposed("sub", "__sub__", "__rsub__", params=_OTHER,
                             aliases=("subtract",)))
MUL = binary("mul", "MulBackward0", np.multiply, lambda a, b: a * b,
             lambda g, a, b, y: g * b, lambda g, a, b, y: g * a, READS_B, READS_A,
             surface=exposed("mul", "__mul__", "__rmul__", params=_OTHER,
                             aliases=("multiply",)))
# (``c / x`` is RECIPROCAL's operator)
DIV = binary("div", "DivBackward0", np.divide, lambda a, b: a / b,
             # (torch's order: b * b under- or overflows where a / b / b does not)
             lambda g, a, b, y: g / b, lambda g, a, b, y: -g * ((a / b) / b),
             READS_B, READS_A | READS_B,
             surface=exposed("div", "__truediv__", params=_OTHER, aliases=("divide",)))
# (in Python, C's pow, as torch's and NumPy's loops for a tensor exponent: (-inf) ** 0.5 is inf
# and (-0.0) ** 0.5 is 0.0, where _fpow's square root -- torch's for a number exponent -- gives
# nan and -0.0; math.pow raises where NumPy answers with a warning, and NumPy then computes it)
POW = binary("pow", "PowBackward1", np.power, _fpow,
             lambda g, a, b, y: _pow_grad_base_jit(g, a, b),
             lambda g, a, b, y: _pow_grad_exponent_jit(g, a, b, y),
             READS_A | READS_B, READS_A | READS_B | READS_Y, py=math.pow,
             surface=exposed("pow", "__pow__", "__rpow__", params=("input", "exponent")),
             graph=(lambda g, a, b, y: _where(b == 0.0, 0.0, g * b * a ** (b - 1.0)),
                    lambda g, a, b, y: _where((a == 0.0) & (b >= 0.0), 0.0, g * y * a.log())))
