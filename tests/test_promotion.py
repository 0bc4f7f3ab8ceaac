"""torch's type promotion where NumPy's differs (tapegrad/promotion.py): integral and bool
tensors in floating math, mixed dtypes, 0-d tensors and Python numbers beside dimensioned
tensors, the default dtype -- values, dtypes and errors against torch, gradients against torch
and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops.registry import OPS

torch = pytest.importorskip("torch")

INTEGRAL = ["bool", "uint8", "int8", "int16", "int32", "int64"]
# the unary table ops that are Tensor methods of both libraries
UNARY = sorted(op.surface.method for op in OPS
               if op.arity == 1 and op.surface is not None and op.surface.method
               and op.rules and op.rules[0] == "unary" and hasattr(torch.Tensor, op.surface.method))


@pytest.fixture(params=["float64", "float32"])
def default_dtype(request):
    """Both libraries with the same default dtype (torch's is float32, tapegrad's float64)."""
    old_tg, old_torch = tg.get_default_dtype(), torch.get_default_dtype()
    tg.set_default_dtype(getattr(tg, request.param))
    torch.set_default_dtype(getattr(torch, request.param))
    yield request.param
    tg.set_default_dtype(old_tg)
    torch.set_default_dtype(old_torch)


def _outcome(fn):
    try:
        y = fn()
    except Exception as e:  # (compared by type and message)
        return ("error", type(e).__name__, str(e).splitlines()[0])
    return ("value", str(y.dtype).split(".")[-1], np.asarray(y.detach().tolist(), np.float64))


def _same(fn):
    mine, theirs = _outcome(lambda: fn(tg)), _outcome(lambda: fn(torch))
    assert mine[:2] == theirs[:2], (mine, theirs)
    if mine[0] == "error":
        assert mine[2] == theirs[2]
    else:  # (float16 would be off by 1e-3)
        np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-6, atol=0, equal_nan=True)


def test_the_table_has_unary_ops_to_walk():
    assert len(UNARY) > 30 and "exp" in UNARY and "sigmoid" in UNARY


@pytest.mark.parametrize("dtype", INTEGRAL)
@pytest.mark.parametrize("method", UNARY)
def test_unary_math_on_integral_and_bool_tensors(method, dtype, default_dtype):
    data = [[1, 0], [3, 2]] if dtype in ("bool", "uint8") else [[1, 0], [-3, 2]]
    _same(lambda lib: getattr(lib.tensor(data, dtype=getattr(lib, dtype)), method)())


PAIRS = [  # (left, right): a dtype name (vector), "0-d <dtype>", or a Python number
    ("int64", "float32"), ("float32", "int64"), ("bool", "float32"), ("int8", "float16"),
    ("int64", "0-d float32"), ("float32", "0-d float64"), ("0-d float64", "float32"),
    ("0-d int64", "float32"), ("int64", "0-d float64"), ("int8", "0-d int64"),
    ("uint8", "int8"), ("int16", "float16"), ("float32", "float64"),
    ("int64", 2.5), ("bool", 0.5), ("int8", 0.5), ("uint8", 2), ("int32", 2), ("bool", 2),
    ("float32", 2.5), ("0-d int64", 2.5),
]


def _operand(lib, spec):
    if not isinstance(spec, str):
        return spec
    if spec.startswith("0-d "):
        return lib.tensor(2, dtype=getattr(lib, spec[4:]))
    return lib.tensor([1, 2, 3], dtype=getattr(lib, spec))


@pytest.mark.parametrize("left,right", PAIRS)
@pytest.mark.parametrize("name", ["add", "sub", "mul", "truediv", "pow", "maximum", "atan2",
                                  "lt", "eq", "where"])
def test_mixed_dtypes_promote_as_torch(name, left, right, default_dtype):
    def program(lib):
        a, b = _operand(lib, left), _operand(lib, right)
        if name == "where":
            return lib.where(lib.tensor([True, False, True]), a, b)
        if name in ("maximum", "atan2"):
            if not isinstance(a, lib.Tensor) or not isinstance(b, lib.Tensor):
                pytest.skip("a tensor-only function")
            return getattr(lib, name)(a, b)
        import operator

        return getattr(operator, name)(a, b)

    _same(program)


def test_a_float32_vector_with_a_float64_0d_stays_float32_and_both_get_gradients():
    for make in (lambda lib: (lib.tensor([0.5, -1.5, 2.0], dtype=lib.float32, requires_grad=True),
                              lib.tensor(1.25, dtype=lib.float64, requires_grad=True)),):
        grads = {}
        for lib in (tg, torch):
            x, s = make(lib)
            y = (x * s).exp() + s / x
            assert y.dtype == lib.float32
            y.sum().backward()
            grads[lib.__name__] = (x.grad, s.grad)
        (gx, gs), (tx, ts) = grads["tapegrad"], grads["torch"]
        assert gx.dtype == tg.float32 and gs.dtype == tg.float64
        np.testing.assert_allclose(gx.numpy(), tx.numpy(), rtol=1e-6)
        np.testing.assert_allclose(gs.numpy(), ts.numpy(), rtol=1e-6)


def test_an_integral_tensor_times_a_float_leaf_gives_its_gradient():
    # y = i * x with i int64 and x float32: the result is float32 and dy/dx = i
    i = tg.tensor([1, -2, 3])
    x = tg.tensor([0.5, 0.25, -1.0], dtype=tg.float32, requires_grad=True)
    y = i * x
    assert y.dtype == tg.float32
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1, 4, 9]) * x.detach().numpy())


def test_where_with_a_float64_leaf_and_int_tensor_gradient_by_finite_differences():
    def f(v):
        x = tg.tensor(v, requires_grad=True)
        y = tg.where(x > 0, x * x, tg.tensor([1, 2, 3]))
        return x, y.sum()

    v = np.array([0.3, -0.7, 1.1])
    x, out = f(v)
    out.backward()
    h = 1e-6
    fd = [(f(v + h * e)[1].item() - f(v - h * e)[1].item()) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(x.grad.numpy(), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("call", [
    lambda x: x.softmax(0), lambda x: x.softmax(1), lambda x: x.log_softmax(0),
    lambda x: x.logsumexp(0), lambda x: x.norm(), lambda x: x.norm(p=1),
    lambda x: x.norm(dim=1), lambda x: -x.bool(), lambda x: x.bool().relu(),
    lambda x: x.bool().floor(), lambda x: x.frac(), lambda x: x.bool().sign(),
    lambda x: x.bool().square(), lambda x: x.relu(), lambda x: x.bool().sigmoid(),
])
def test_floating_only_functions_on_integers(call, default_dtype):
    _same(lambda lib: call(lib.tensor([[1, -2], [3, 4]])))
