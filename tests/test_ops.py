"""Every op in the op table, against central finite differences in float64.

``CASES`` maps each op key to functions that exercise it; a test fails when an op of the table
has no case, and each case must actually record its op (checked on the tape).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import check_gradients

import tapegrad as tg
from tapegrad.ops import BY_KEY, OPS
from tapegrad.ops.graphs import scatter_add

rng = np.random.default_rng(0)


def r(*shape, low=-1.5, high=1.5):
    return rng.uniform(low, high, shape) if shape else np.array(rng.uniform(low, high))


def pos(*shape):
    return r(*shape, low=0.3, high=2.0)


def _away(x: np.ndarray, kinks: tuple, gap: float = 0.05) -> np.ndarray:
    """Move values off the kinks of a piecewise function (finite differences need it)."""
    for k in kinks:
        near = np.abs(x - k) < gap
        x[near] = k + np.where(x[near] >= k, gap, -gap) * 2
    return x


def _setitem_slice(x, v):
    y = x * 1.0
    y[1:] = v
    return y * y


def _setitem_index(x, v):
    y = x * 1.0
    y[[0, 2]] = v
    return y.sin()


def _fill_case(x):
    y = x * 2.0
    y.fill_(1.5)
    return y * x + y


def _zero_case(x):
    y = x * 3.0  # (not exp: its VJP reads its output, which torch then refuses as changed)
    y.zero_()
    return (y + 1.0) * x


# op key -> list of (description, function of tensors, input arrays)
CASES: dict[str, list] = {
    "neg": [("vec", lambda x: -x, [r(4)]), ("0-d", lambda x: -x, [r()])],
    "exp": [("mat", lambda x: x.exp(), [r(2, 3)]), ("0-d", tg.exp, [r()])],
    "log": [("vec", lambda x: x.log(), [pos(5)]), ("0-d", tg.log, [pos()])],
    "sin": [("mat", lambda x: x.sin(), [r(3, 2)])],
    "cos": [("mat", lambda x: x.cos(), [r(3, 2)]), ("0-d", tg.cos, [r()])],
    "tanh": [("3-d", lambda x: x.tanh(), [r(2, 2, 3)])],
    "sigmoid": [("vec", lambda x: x.sigmoid(), [r(6, low=-30, high=30)])],
    "relu": [("vec", lambda x: x.relu(), [np.array([-1.0, -0.2, 0.3, 2.0])])],
    "sqrt": [("vec", lambda x: x.sqrt(), [pos(4)])],
    "abs": [("vec", lambda x: x.abs(), [np.array([-1.0, -0.2, 0.3, 2.0])])],
    "erf": [("vec", lambda x: x.erf(), [r(5, low=-3, high=3)]), ("0-d", tg.erf, [r()])],
    "add_scalar": [("x+2", lambda x: x + 2, [r(3)]), ("2+x", lambda x: 2.5 + x, [r()])],
    "sub_scalar": [("x-2", lambda x: x - 2, [r(2, 2)])],
    "rsub_scalar": [("2-x", lambda x: 2 - x, [r(2, 2)])],
    "mul_scalar": [("x*3", lambda x: x * 3, [r(3)]), ("3*x", lambda x: 3.0 * x, [r()])],
    "div_scalar": [("x/3", lambda x: x / 3, [r(3)])],
    "reciprocal": [("3/x", lambda x: 3 / x, [pos(3)]), ("1/x 0-d", lambda x: 1.0 / x, [pos()])],
    "pow_scalar": [("x**2", lambda x: x ** 2, [r(3)]), ("x**0.5", lambda x: x ** 0.5, [pos(3)]),
                   ("x**-1", lambda x: x ** -1, [pos()])],
    "rpow_scalar": [("2**x", lambda x: 2 ** x, [r(3)])],
    "add": [("same", lambda a, b: a + b, [r(2, 3), r(2, 3)]),
            ("(3,1)+(1,4)", lambda a, b: a + b, [r(3, 1), r(1, 4)]),
            ("(2,3)+(3,)", lambda a, b: a + b, [r(2, 3), r(3)]),
            ("0-d+mat", lambda a, b: a + b, [r(), r(2, 2)])],
    "sub": [("same", lambda a, b: a - b, [r(4), r(4)]),
            ("(2,3)-(2,1)", lambda a, b: a - b, [r(2, 3), r(2, 1)])],
    "mul": [("same", lambda a, b: a * b, [r(2, 2), r(2, 2)]),
            ("(3,1)*(1,4)", lambda a, b: a * b, [r(3, 1), r(1, 4)]),
            ("(2,3,4)*(3,1)", lambda a, b: a * b, [r(2, 3, 4), r(3, 1)]),
            ("0-d*0-d", lambda a, b: a * b, [r(), r()])],
    "div": [("same", lambda a, b: a / b, [r(3), pos(3)]),
            ("(2,3)/(3,)", lambda a, b: a / b, [r(2, 3), pos(3)])],
    "pow": [("same", lambda a, b: a ** b, [pos(3), r(3)]),
            ("(2,3)**(3,)", lambda a, b: a.pow(b), [pos(2, 3), r(3)])],
    "sum": [("all", lambda x: x.sum(), [r(2, 3)]), ("0-d", lambda x: x.sum(), [r()]),
            ("keepdim", lambda x: x.sum(keepdim=True), [r(2, 2)])],
    "sum_dim": [("dim0", lambda x: x.sum(0), [r(3, 4)]),
                ("dim-1 keep", lambda x: x.sum(-1, keepdim=True), [r(2, 3, 4)]),
                ("dims (0,2)", lambda x: x.sum((0, 2)), [r(2, 3, 4)])],
    "mean": [("all", lambda x: x.mean(), [r(2, 3)])],
    "mean_dim": [("dim1", lambda x: x.mean(1), [r(3, 4)]),
                 ("dims keep", lambda x: x.mean((0, 1), keepdim=True), [r(2, 3, 2)])],
    "norm": [("vec", lambda x: x.norm(), [r(5)]), ("mat", lambda x: x.norm(), [r(2, 3)])],
    "norm_p": [("2 dim", lambda x: x.norm(dim=1), [r(2, 3)]),
               ("1", lambda x: x.norm(1), [r(5)]),
               ("3 keepdim", lambda x: x.norm(3, dim=0, keepdim=True), [r(3, 4)]),
               ("0.5", lambda x: x.norm(0.5, dim=(0, 1)), [r(2, 3)]),
               ("inf", lambda x: x.norm(float("inf"), dim=1), [r(3, 4)]),
               ("-inf", lambda x: x.norm(float("-inf")), [r(6)])],
    "view": [("view", lambda x: x.view(3, 2), [r(2, 3)]),
             ("reshape", lambda x: x.reshape(-1), [r(2, 2, 2)])],
    "clone": [("clone", lambda x: x.clone() * 1.0, [r(3)])],
    # (float64 -> float64 here: finite differences cannot see through a rounding cast; the
    # rounding casts are checked in test_semantics.py against closed forms)
    "to_copy": [("copy=True", lambda x: x.to(tg.float64, copy=True) * 2.0, [r(3)]),
                ("dtype=", lambda x: x.to(dtype=tg.double, copy=True).sin(), [r(2, 2)])],
    "transpose": [("2-d", lambda x: x.transpose(0, 1), [r(2, 3)]),
                  ("3-d", lambda x: x.transpose(0, 2), [r(2, 3, 4)])],
    "permute": [("T", lambda x: x.T, [r(2, 3)]), ("perm", lambda x: x.permute(2, 0, 1),
                                                   [r(2, 3, 4)])],
    "t": [("t", lambda x: x.t(), [r(3, 2)])],
    "select": [("x[1]", lambda x: x[1], [r(3, 4)]), ("x[:,2]", lambda x: x[:, 2], [r(3, 4)]),
               ("x[0,1]", lambda x: x[0, 1], [r(3, 4)])],
    "slice": [("x[1:]", lambda x: x[1:], [r(4)]), ("x[::2,None]", lambda x: x[::2, None],
                                                   [r(5, 2)]),
              ("x[...,1:]", lambda x: x[..., 1:], [r(2, 3)])],
    "index": [("repeated", lambda x: x[[0, 0, 2]], [r(3, 2)]),
              ("mask", lambda x: x[x.detach() > 0], [np.array([1.0, -1.0, 2.0, -0.5])])],
    "dot": [("1-d@1-d", lambda a, b: a @ b, [r(4), r(4)])],
    "mv": [("2-d@1-d", lambda a, b: a @ b, [r(3, 4), r(4)])],
    "mm": [("2-d@2-d", lambda a, b: a @ b, [r(3, 4), r(4, 2)]),
           ("1-d@2-d", lambda a, b: tg.matmul(a, b), [r(4), r(4, 2)])],
    "expand": [("(3,1)->(3,4)", lambda x: x.expand(3, 4), [r(3, 1)]),
               ("(4,)->(2,4)", lambda x: x.expand(2, -1), [r(4)])],
    "squeeze": [("all", lambda x: x.squeeze(), [r(1, 3, 1)])],
    "squeeze_dim": [("dim1", lambda x: x.squeeze(1), [r(2, 1, 3)])],
    "unsqueeze": [("0", lambda x: x.unsqueeze(0), [r(3)]), ("-1", lambda x: x.unsqueeze(-1),
                                                            [r(2, 3)])],
    "cat": [("dim0", lambda a, b: tg.cat([a, b]), [r(2, 3), r(1, 3)]),
            ("dim1", lambda a, b: tg.cat([a, b, a], dim=1), [r(2, 3), r(2, 2)])],
    "stack": [("dim0", lambda a, b: tg.stack([a, b]), [r(3), r(3)]),
              ("dim1", lambda a, b: tg.stack([a, b], dim=1), [r(2, 3), r(2, 3)])],
    # (recorded by graph rules only: the gradient of a gather)
    "scatter_add": [("repeated", lambda x: scatter_add(x, np.array([0, 2, 2, 3, 0]), 4, (2, 2)),
                     [r(5)])],
    # (tapegrad/shapes.py: gathers by maps made from shapes)
    "repeat": [("repeat", lambda x: x.repeat(2, 1), [r(2, 3)]),
               ("flip+diagonal", lambda x: x.flip(0).diagonal(), [r(3, 3)])],
    "setitem_keep": [("slice", _setitem_slice, [r(4, 2), r(3, 2)])],
    "setitem_put": [("index array + broadcast", _setitem_index, [r(4, 3), r(3)])],
    "where_x": [("same", lambda a, b: tg.where(a.detach() > 0, a, b), [r(5), r(5)])],
    "where_y": [("broadcast", lambda a, b: tg.where(a.detach() > 0, a * 2.0, b),
                 [r(2, 3), r(3)])],
    "maximum": [("same", lambda a, b: tg.maximum(a, b), [r(5), r(5)]),
                ("broadcast", lambda a, b: a.maximum(b), [r(2, 3), r(3)])],
    "minimum": [("same", lambda a, b: tg.minimum(a, b), [r(5), r(5)])],
    "max_all": [("mat", lambda x: x.max(), [r(3, 4)])],
    "min_all": [("vec", lambda x: tg.min(x), [r(6)])],
    "max_dim": [("dim1", lambda x: x.max(1).values, [r(3, 4)]),
                ("dim0 keep", lambda x: x.max(0, keepdim=True)[0], [r(3, 4)])],
    "min_dim": [("dim-1", lambda x: tg.min(x, -1).values, [r(2, 3, 4)])],
    "clamp": [("both", lambda x: x.clamp(-0.5, 0.5), [_away(r(8), (-0.5, 0.5))])],
    "clamp_min": [("min", lambda x: x.clamp(min=0.2), [_away(r(8), (0.2,))])],
    "clamp_max": [("max", lambda x: tg.clamp(x, max=0.2), [_away(r(8), (0.2,))])],
    "logsumexp": [("dim1", lambda x: x.logsumexp(1), [r(3, 4)]),
                  ("dim0 keep", lambda x: tg.logsumexp(x, 0, keepdim=True), [r(3, 4)]),
                  ("vec", lambda x: x.logsumexp(0), [r(5)])],
    "softmax": [("dim1", lambda x: x.softmax(1), [r(3, 4)]),
                ("dim0", lambda x: tg.softmax(x, 0), [r(2, 3, 2)])],
    "log_softmax": [("dim-1", lambda x: x.log_softmax(-1), [r(3, 4)]),
                    ("dim1", lambda x: tg.log_softmax(x, 1), [r(2, 3, 2)])],
    "bmm": [("3-d@3-d", lambda a, b: a @ b, [r(2, 3, 4), r(2, 4, 5)]),
            ("2-d@3-d", lambda a, b: a @ b, [r(3, 4), r(2, 4, 2)]),
            ("4-d broadcast", lambda a, b: tg.matmul(a, b), [r(2, 1, 3, 4), r(3, 4, 2)]),
            ("1-d@3-d", lambda a, b: a @ b, [r(4), r(2, 4, 3)])],
    # -- products and scans along a dim, amax/amin (ops/cumulative.py)
    "prod": [("mat", lambda x: x.prod(), [r(2, 3)]), ("0-d", tg.prod, [r()]),
             ("one zero", lambda x: tg.prod(x * 1.0), [np.array([0.5, 0.0, -1.2, 2.0])]),
             ("two zeros", lambda x: x.prod(), [np.array([0.0, 0.7, 0.0, 1.3])])],
    "prod_dim": [("dim1", lambda x: x.prod(1), [r(3, 4)]),
                 ("dim0 keep", lambda x: tg.prod(x, 0, keepdim=True), [r(3, 2, 2)]),
                 ("zeros", lambda x: x.prod(-1),
                  [np.array([[0.5, 0.0, 1.5], [1.1, -0.8, 0.9], [0.0, 0.0, 2.0]])])],
    "cumsum": [("dim1", lambda x: x.cumsum(1), [r(3, 4)]),
               ("dim0", lambda x: tg.cumsum(x, 0), [r(3, 2, 2)]), ("0-d", lambda x: x.cumsum(0),
                                                                  [r()])],
    "cumprod": [("dim1", lambda x: x.cumprod(1), [r(3, 4)]),
                ("dim-2", lambda x: tg.cumprod(x, -2), [r(2, 3, 2)]),
                ("zeros", lambda x: x.cumprod(1),
                 [np.array([[0.5, 0.0, 1.5, 0.7], [1.1, -0.8, 0.9, 1.2], [0.0, 1.3, 0.0, 2.0]])])],
    "logcumsumexp": [("dim1", lambda x: x.logcumsumexp(1), [r(3, 4)]),
                     ("dim0", lambda x: tg.logcumsumexp(x, 0), [r(4, 2)])],
    "amax": [("dim1", lambda x: x.amax(1), [r(3, 4)]), ("all", lambda x: tg.amax(x), [r(2, 3)]),
             ("dims keep", lambda x: x.amax((0, 2), keepdim=True), [r(2, 3, 2)])],
    "amin": [("dim0", lambda x: x.amin(0), [r(3, 4)]), ("0-d", lambda x: tg.amin(x), [r()])],
    # -- torch's math beyond the core (ops/mathfuncs.py)
    "tan": [("vec", lambda x: x.tan(), [r(4, low=-1.2, high=1.2)]), ("0-d", tg.tan, [r()])],
    "asin": [("vec", lambda x: x.asin(), [r(4, low=-0.9, high=0.9)])],
    "acos": [("mat", lambda x: tg.acos(x), [r(2, 2, low=-0.9, high=0.9)])],
    "atan": [("vec", lambda x: x.atan(), [r(5)]), ("0-d", tg.atan, [r()])],
    "sinh": [("vec", lambda x: x.sinh(), [r(4)])],
    "cosh": [("vec", lambda x: tg.cosh(x), [r(4)]), ("0-d", tg.cosh, [r()])],
    "asinh": [("vec", lambda x: x.asinh(), [r(4)])],
    "acosh": [("vec", lambda x: x.acosh(), [r(4, low=1.2, high=3.0)])],
    "atanh": [("vec", lambda x: x.atanh(), [r(4, low=-0.9, high=0.9)])],
    "log1p": [("vec", lambda x: x.log1p(), [r(4, low=-0.7, high=2.0)])],
    "expm1": [("vec", lambda x: x.expm1(), [r(4)]), ("0-d", tg.expm1, [r()])],
    "log2": [("vec", lambda x: x.log2(), [pos(4)])],
    "log10": [("vec", lambda x: tg.log10(x), [pos(4)])],
    "exp2": [("vec", lambda x: x.exp2(), [r(4)])],
    "erfc": [("vec", lambda x: x.erfc(), [r(5, low=-3, high=3)]), ("0-d", tg.erfc, [r()])],
    "erfinv": [("vec", lambda x: x.erfinv(), [r(5, low=-0.95, high=0.95)]),
               ("0-d", tg.erfinv, [r(low=-0.9, high=0.9)])],
    "sign": [("vec", lambda x: x.sign() * x, [_away(r(5), (0.0,))])],
    "floor": [("vec", lambda x: x.floor() + x, [_away(r(5), (-1.0, 0.0, 1.0))])],
    "ceil": [("vec", lambda x: x.ceil() * x, [_away(r(5), (-1.0, 0.0, 1.0))])],
    "round": [("vec", lambda x: x.round() * x, [_away(r(5), (-0.5, 0.5))])],
    "trunc": [("vec", lambda x: x.trunc() + x * x, [_away(r(5), (-1.0, 0.0, 1.0))])],
    "frac": [("vec", lambda x: x.frac() * x, [_away(r(5), (-1.0, 0.0, 1.0))])],
    "rsqrt": [("vec", lambda x: x.rsqrt(), [pos(4)]), ("0-d", tg.rsqrt, [pos()])],
    "square": [("vec", lambda x: x.square(), [r(4)]), ("0-d", tg.square, [r()])],
    "atan2": [("same", lambda a, b: tg.atan2(a, b), [r(4), r(4)]),
              ("broadcast", lambda a, b: a.atan2(b), [r(2, 3), pos(3)])],
    "hypot": [("same", lambda a, b: tg.hypot(a, b), [r(4), r(4)]),
              ("0-d", lambda a, b: a.hypot(b), [r(), r(3)])],
    "fmod": [("same", lambda a, b: tg.fmod(a, b), [r(4, low=-3, high=3), pos(4)]),
             ("number", lambda a: a.fmod(0.7), [r(4, low=-3, high=3)])],
    "remainder": [("same", lambda a, b: tg.remainder(a, b), [r(4, low=-3, high=3), pos(4)]),
                  ("broadcast", lambda a, b: a.remainder(b), [r(2, 3, low=-3, high=3),
                                                               pos(3)])],
    "xlogy": [("same", lambda a, b: tg.xlogy(a, b), [r(4), pos(4)]),
              ("broadcast", lambda a, b: a.xlogy(b), [r(2, 3), pos(3)])],
    "logaddexp": [("same", lambda a, b: tg.logaddexp(a, b), [r(4), r(4)]),
                  ("broadcast", lambda a, b: a.logaddexp(b), [r(3, 1), r(4)])],
    # -- more of torch's math (ops/mathfuncs2.py; heaviside: see PYTHON_OPS)
    "sgn": [("vec", lambda x: x.sgn() * x, [_away(r(5), (0.0,))])],
    "deg2rad": [("vec", lambda x: x.deg2rad(), [r(4)]), ("0-d", tg.deg2rad, [r()])],
    "rad2deg": [("mat", lambda x: tg.rad2deg(x), [r(2, 3)]), ("0-d", tg.rad2deg, [r()])],
    "logit": [("vec", lambda x: x.logit(), [r(5, low=0.05, high=0.95)]),
              ("0-d", tg.logit, [r(low=0.1, high=0.9)]),
              ("eps", lambda x: tg.logit(x, eps=0.2), [_away(r(6, low=0.0, high=1.0),
                                                              (0.2, 0.8))])],
    "sinc": [("vec", lambda x: x.sinc(), [r(5, low=-3, high=3)]), ("0-d", tg.sinc, [r()])],
    "copysign": [("same", lambda a, b: tg.copysign(a, b), [_away(r(4), (0.0,)), r(4)]),
                 ("broadcast", lambda a, b: a.copysign(b), [_away(r(2, 3), (0.0,)), r(3)])],
    "logaddexp2": [("same", lambda a, b: tg.logaddexp2(a, b), [r(4), r(4)]),
                   ("broadcast", lambda a, b: a.logaddexp2(b), [r(3, 1), r(4)])],
    "nextafter": [("same", lambda a, b: tg.nextafter(a, b) * a, [r(4), r(4)]),
                  ("broadcast", lambda a, b: a.nextafter(b) + b, [r(2, 3), r(3)])],
    "fill": [("fill_", _fill_case, [r(3)]), ("0-d", _fill_case, [r()])],
    "zero": [("zero_", _zero_case, [r(2, 2)]), ("(1,)", _zero_case, [r(1)])],
    # -- special functions (ops/special.py) ---------------------------------------------------
    "lgamma": [("vec", lambda x: x.lgamma(), [r(5, low=-2.4, high=4.0) + 0.013]),
               ("0-d", tg.lgamma, [pos()])],
    "digamma": [("vec", lambda x: x.digamma(), [r(5, low=-2.4, high=4.0) + 0.013]),
                ("0-d", tg.digamma, [pos()])],
    "polygamma": [("n=1", lambda x: x.polygamma(1), [pos(4)]),
                  ("n=2", lambda x: tg.polygamma(2, x), [r(4, low=-1.8, high=3.0) + 0.013]),
                  ("n=3 0-d", lambda x: tg.polygamma(3, x), [pos()])],
    "i0": [("vec", lambda x: x.i0(), [r(5, low=-4, high=4)]), ("0-d", tg.i0, [r()])],
    "special_i0e": [("vec", lambda x: tg.special.i0e(x), [_away(r(5, low=-4, high=4), (0.0,))])],
    "special_i1": [("vec", lambda x: tg.special.i1(x), [r(5, low=-4, high=4)])],
    "special_i1e": [("vec", lambda x: tg.special.i1e(x), [_away(r(5, low=-4, high=4), (0.0,))])],
    "special_ndtri": [("vec", lambda x: tg.special.ndtri(x), [r(5, low=0.02, high=0.98)])],
    "special_log_ndtr": [("vec", lambda x: tg.special.log_ndtr(x), [r(5, low=-8, high=5)])],
    "special_erfcx": [("vec", lambda x: tg.special.erfcx(x), [r(5, low=-3, high=12)])],
    "special_entr": [("vec", lambda x: tg.special.entr(x), [pos(4)])],
    "special_xlog1py": [("same", lambda a, b: tg.special.xlog1py(a, b), [r(4), pos(4)]),
                        ("broadcast", lambda a, b: tg.special.xlog1py(a, b), [r(2, 3), pos(3)])],
}

# ops recorded only while tg.compile records (comparisons): replay must equal eager
COMPILE_CASES: dict[str, list] = {
    key: [(key, lambda x, key=key: tg.where(getattr(x, key)(0.2), x, -x).sum(), [r(7)]),
          (key + " tensor", lambda x, key=key: tg.where(getattr(x, key)(x[0]), x * 2.0, x).sum(),
           [r(7)])]
    for key in ("eq", "ne", "lt", "le", "gt", "ge")
}
COMPILE_CASES["eq"][0] = ("eq", lambda x: tg.where(x.eq(x[3]), x, -x).sum(), [r(7)])
COMPILE_CASES["logical_and"] = [("&", lambda x: tg.where((x > -0.5) & (x < 0.5), x, -x).sum(),
                                 [r(7)])]
COMPILE_CASES["logical_or"] = [("|", lambda x: tg.where((x < -0.5) | (x > 0.5), x, -x).sum(),
                                [r(7)])]
COMPILE_CASES["logical_xor"] = [("^", lambda x: tg.where((x < 0.5) ^ (x > 0), x, 2 * x).sum(),
                                 [r(7)])]
COMPILE_CASES["logical_not"] = [("~", lambda x: tg.where(~(x > 0), x, 3 * x).sum(), [r(7)])]
COMPILE_CASES["signbit"] = [("signbit", lambda x: tg.where(x.signbit(), x, 2 * x).sum(), [r(7)])]
COMPILE_CASES["all"] = [("all", lambda x: x * (x > -10.0).all(), [r(4)])]
COMPILE_CASES["any"] = [("any", lambda x: x * (x > 10.0).any(), [r(4)])]

ALL = [(key, desc, fn, arrays) for key, cases in CASES.items() for desc, fn, arrays in cases]


#: ops without a gradient case: ``function``, whose backward is the user's Python (tested in
#: tests/test_function.py), and ``heaviside``, whose gradient torch refuses (as ours is,
#: tests/test_mathfuncs.py)
PYTHON_OPS = {"function", "heaviside"}


def test_every_op_has_a_case():
    covered = set(CASES) | set(COMPILE_CASES) | PYTHON_OPS
    assert covered == set(BY_KEY), (
        f"ops without a test case: {sorted(set(BY_KEY) - covered)}; "
        f"cases without an op: {sorted(covered - set(BY_KEY))}")


COMPILED = [(key, desc, fn, arrays) for key, cases in COMPILE_CASES.items()
            for desc, fn, arrays in cases]


@pytest.mark.parametrize("key,desc,fn,arrays", COMPILED, ids=[d for _, d, _, _ in COMPILED])
def test_compile_only_op_is_recorded_and_replays(key, desc, fn, arrays):
    def scalar(x):
        out = fn(x)
        return out.sum() if out.ndim else out

    tape = tg.compile(scalar, arrays[0])
    assert BY_KEY[key].code in tape._variants[-1].recs[:, 0]
    for _ in range(5):
        x = r(*arrays[0].shape)
        t = tg.tensor(x, requires_grad=True)
        eager = scalar(t)
        eager.backward()
        np.testing.assert_allclose(tape(x), eager.item(), rtol=1e-13)
        np.testing.assert_allclose(tape.gradient(x), t.grad.numpy(), rtol=1e-13)


NO_EAGER = {"view", "clone", "transpose", "permute", "t", "select", "slice", "expand", "squeeze",
            "squeeze_dim", "unsqueeze", "setitem_keep", "setitem_put", "fill", "zero",
            "function"}  # (function: a custom autograd.Function, whose forward is the user's)


def test_every_op_has_all_parts():
    for op in OPS:
        torch_name = op.name.endswith(("Backward0", "Backward1", "Backward2"))
        assert torch_name or op.name in ("CopySlices", "torch::autograd::NotImplemented"), op
        assert callable(op.fwd) and callable(op.vjp), op
        # (no NumPy forward only where the front end makes the value as a view or in place)
        assert callable(op.eager) or op.key in NO_EAGER, op
        assert op.arity in (1, 2), op
        assert OPS[op.code] is op


@pytest.mark.parametrize("key,desc,fn,arrays", ALL, ids=[f"{k}-{d}" for k, d, _, _ in ALL])
def test_gradient_matches_finite_differences(key, desc, fn, arrays):
    check_gradients(fn, arrays)


@pytest.mark.parametrize("key,desc,fn,arrays", ALL, ids=[f"{k}-{d}" for k, d, _, _ in ALL])
def test_case_records_its_op(key, desc, fn, arrays):
    out = fn(*[tg.tensor(a, requires_grad=True) for a in arrays])
    codes = out._tape.recs[0::6]
    assert BY_KEY[key].code in codes, f"{desc} did not record {key}"


@pytest.mark.parametrize("key,desc,fn,arrays", ALL, ids=[f"{k}-{d}" for k, d, _, _ in ALL])
def test_replay_forward_matches_eager(key, desc, fn, arrays):
    """Each op's numba forward (used by compiled tapes) reproduces its NumPy forward."""
    out = fn(*[tg.tensor(a, requires_grad=True) for a in arrays])
    tape = out._tape
    recs = np.array(tape.recs, dtype=np.int64).reshape(-1, 6)
    ints = np.array(tape.ints, dtype=np.int64)
    floats = np.array(tape.floats, dtype=np.float64)
    flat, offs = tape.flat_values(), tape.offs
    values = {s: flat[offs[s]:offs[s + 1]] for s in range(len(offs) - 1)}
    replayed = {}  # an output assembled by several records (cat, where) is checked when whole
    for op_code, o, a, b, ip, fp in recs:
        op = OPS[op_code]
        y = replayed.setdefault(o, np.full(tape.offs[o + 1] - tape.offs[o], np.nan))
        bv = values[b] if b >= 0 else np.zeros(0)
        op.fwd(y, values[a], bv, ints, floats, ip, fp)
    changed = {slot for box, version, slot, _ in tape.watch if box[0] != version}
    for o, y in replayed.items():
        if o in changed:  # changed in place after recording (x[k] = v): nothing to compare
            continue
        np.testing.assert_allclose(y, values[o], rtol=1e-13, atol=1e-15, err_msg=f"slot {o}")
