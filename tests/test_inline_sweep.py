"""A small elementwise record (at most ``sweep.INLINE_MAX`` elements) is swept inline by its op's
scalar rules; a larger one by the op's array kernel.  Both must give every op's gradient bit for
bit, and each against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import numeric_grad
from test_one_float import BINARY, UNARY, WITH_NUMBER

import tapegrad as tg
from tapegrad.kernels.sweep import INLINE_MAX
from tapegrad.ops import OPS


def _filled(t, method="fill_"):
    y = t * 1.0
    getattr(y, method)(*((1.5,) if method == "fill_" else ()))
    return y * t  # (the fill's record is swept: its zero gradient meets t's own)


# every op with scalar rules, as a user writes it: (key, form, number of tensor inputs)
FORMS = ([(key, form, 1) for key, form in UNARY.items()]
         + [(key, (lambda t, form=form: form(t, 1.5)), 1)
            for key, forms in WITH_NUMBER.items() for form in forms]
         + [(key, form, 2) for key, form in BINARY.items()]
         + [("maximum", tg.maximum, 2), ("minimum", tg.minimum, 2)]
         + [("polygamma", lambda t: tg.polygamma(2, t), 1)]
         + [("fill", _filled, 1), ("zero", lambda t: _filled(t, "zero_"), 1)])


# ops with scalar rules whose results carry no gradient (torch's comparisons and logic)
NO_GRADIENT = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
               "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
               "logical_and": tg.logical_and, "logical_or": tg.logical_or,
               "logical_xor": tg.logical_xor}


# ops defined on part of (0.25, 1.75) only: the inputs moved inside
INSIDE = {"asin": lambda v: v / 2.0, "acos": lambda v: v / 2.0, "atanh": lambda v: v / 2.0,
          "erfinv": lambda v: v / 2.0, "acosh": lambda v: v + 1.0, "logit": lambda v: v / 2.0,
          "special_ndtri": lambda v: v / 2.0}


def test_every_op_with_scalar_rules_is_covered():
    # (heaviside's gradient is refused, as torch's: test_mathfuncs.py)
    assert {key for key, _, _ in FORMS} | set(NO_GRADIENT) | {"heaviside"} == {
        op.key for op in OPS if op.rules}
    x = tg.tensor([0.5, 1.5], requires_grad=True)
    for form in NO_GRADIENT.values():
        assert not form(x, x * 2.0).requires_grad


@pytest.mark.parametrize("key,form,arity", FORMS, ids=[f"{k}-{i}" for i, (k, _, _) in
                                                        enumerate(FORMS)])
def test_inline_and_array_kernel_sweeps_agree_bit_for_bit(key, form, arity):
    rng = np.random.default_rng(3)
    a, b = rng.uniform(0.25, 1.75, (2, INLINE_MAX))
    a = INSIDE.get(key, lambda v: v)(a)  # (into the op's domain)
    b[::4] = a[::4]  # (ties, for maximum and minimum)
    weights = rng.uniform(-1.0, 1.0, INLINE_MAX)
    grads = []
    for copies in (1, 3):  # the record's size: inline, then three times the inline limit
        x = tg.tensor(np.tile(a, copies), requires_grad=True)
        w = tg.tensor(np.tile(b, copies), requires_grad=True)
        out = form(x, w) if arity == 2 else form(x)
        out.backward(tg.tensor(np.tile(weights, copies)))
        grads.append([t.grad.numpy()[:INLINE_MAX].tobytes()
                      for t in ((x, w) if arity == 2 else (x,))])
    assert grads[0] == grads[1]

    inputs = [a, b][:arity]

    def value(*arrays):
        tensors = [tg.tensor(v) for v in arrays]
        return float(np.sum(form(*tensors).numpy() * weights))
    for i in range(arity):
        expected = numeric_grad(value, [v.copy() for v in inputs], i)
        got = np.frombuffer(grads[0][i], np.float64)
        if key in ("maximum", "minimum", "fmod", "remainder", "nextafter"):  # (a tie splits
            # the gradient of maximum and minimum, is a jump of fmod and remainder, and where
            # torch gives nextafter none: differences cannot tell)
            got, expected = got[1::4], expected[1::4]
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
