"""One-element float64 vectors (shape ``(1,)``): recorded results held as a Python float until
their array is read (``tensor._OneFloat``).  Everything a user can see must be what the array
path gives: values, gradients, node names, errors, and the array once it is made."""

from __future__ import annotations

import copy
import importlib
import math
import pickle
import warnings

import numpy as np
import pytest
from helpers import numeric_grad

import tapegrad as tg
from tapegrad.ops import OPS

fastpath = importlib.import_module("tapegrad.fastpath")
OneFloat = fastpath._OneFloat

VALUES = [0.0, -0.0, 0.5, -1.5, 2.0, 3.0, 710.0, -710.0, 1e308, math.inf, -math.inf, math.nan]
CONSTANTS = [0.0, 2.0, -1.0, 0.5, 1.0 / 3.0, 3, -2, 2**70]

# each op of the table that a one-float tensor computes in Python, as a user writes it: every
# elementwise op of one operand, as its tapegrad function
# (torch.special's ops are reached as tg.special.<name>)
UNARY = {op.key: (lambda t, name=op.surface.function: getattr(tg, name)(t)) if op.surface else
         (lambda t, name=op.key.removeprefix("special_"): getattr(tg.special, name)(t))
         for op in OPS if op.rules and op.rules[0] == "unary" and op.py is not None}
UNARY["reciprocal"] = lambda t: 1.0 / t  # (c / t is reciprocal(t) * c, as torch's)
WITH_NUMBER = {
    "add_scalar": [lambda t, c: t + c, lambda t, c: c + t],
    "sub_scalar": [lambda t, c: t - c],
    "rsub_scalar": [lambda t, c: c - t],
    "mul_scalar": [lambda t, c: t * c, lambda t, c: c * t],
    "div_scalar": [lambda t, c: t / c],
    "pow_scalar": [lambda t, c: t ** c],
    "rpow_scalar": [lambda t, c: c ** t],
}
BINARY = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "pow": lambda a, b: a ** b,
          **{key: getattr(tg, key) for key in ("atan2", "hypot", "fmod", "remainder", "xlogy",
                                               "logaddexp", "copysign", "logaddexp2",
                                               "nextafter")},
          "special_xlog1py": lambda a, b: tg.special.xlog1py(a, b)}


def _one_float(value: float, requires_grad: bool = True):
    """A leaf ``(1,)`` tensor and a one-float result equal to it."""
    x = tg.tensor([value], requires_grad=requires_grad)
    y = x * 1.0
    assert type(y) is OneFloat
    return x, y


def _same(got, want) -> bool:
    """Equal to an ulp or two (Python's libm and NumPy's loops may round tanh, exp ... apart),
    NaN matching NaN, infinities exactly."""
    got, want = float(got), float(want)
    if math.isnan(want):
        return math.isnan(got)
    return got == want or abs(got - want) <= 4e-16 * abs(want)


def test_every_python_rule_of_the_op_table_is_covered():
    # (heaviside, whose gradient is refused, is checked on one float in test_mathfuncs.py)
    covered = set(UNARY) | set(WITH_NUMBER) | set(BINARY) | {"maximum", "minimum", "heaviside",
                                                              "polygamma"}
    assert {op.key for op in OPS if op.py is not None} == covered


def test_polygamma_of_one_float_matches_numpy():
    # (its number is an order n >= 0, not any constant: a test of its own)
    op = fastpath._OP["polygamma"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in VALUES:
            for n in (0, 1, 2, 3):
                _, y = _one_float(a)
                want = np.asarray(op.eager(np.array([a]), float(n)))
                _check_against_numpy(tg.polygamma(n, y), want, (n, a))


def _check_against_numpy(out, want: np.ndarray, what) -> None:
    assert out.shape == (1,) and out.dtype == tg.float64, what
    assert _same(out.tolist()[0], want[0]), (what, out.tolist(), want)


@pytest.mark.parametrize("key", sorted(UNARY))
def test_math_matches_numpy_on_every_value(key):
    op = fastpath._OP[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in VALUES:
            _, y = _one_float(a)
            _check_against_numpy(UNARY[key](y), np.asarray(op.eager(np.array([a]))), (key, a))


@pytest.mark.parametrize("key", sorted(WITH_NUMBER))
def test_arithmetic_with_a_number_matches_numpy(key):
    op = fastpath._OP[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in VALUES:
            for c in CONSTANTS:
                for form in WITH_NUMBER[key]:
                    _, y = _one_float(a)
                    want = np.asarray(op.eager(np.array([a]), c))
                    _check_against_numpy(form(y, c), want, (key, a, c))


@pytest.mark.parametrize("key", sorted(BINARY))
def test_arithmetic_of_two_one_floats_matches_numpy(key):
    op = fastpath._OP[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for a in VALUES:
            for b in VALUES[:8]:
                x = tg.tensor([a, b], requires_grad=True)
                ya, yb = x[0:1] * 1.0, x[1:2] * 1.0  # (two one-floats on one tape)
                assert type(ya) is OneFloat and type(yb) is OneFloat
                want = np.asarray(op.eager(np.array([a]), np.array([b])))
                _check_against_numpy(BINARY[key](ya, yb), want, (key, a, b))


@pytest.mark.parametrize("form", [
    lambda y, z: y + 2.0, lambda y, z: 2.0 + y, lambda y, z: y - 2, lambda y, z: 2 - y,
    lambda y, z: y * 3.0, lambda y, z: 3.0 * y, lambda y, z: y / 3.0, lambda y, z: 3.0 / y,
    lambda y, z: y ** 2, lambda y, z: 2.0 ** y, lambda y, z: y + z, lambda y, z: y - z,
    lambda y, z: y * z, lambda y, z: y / z, lambda y, z: y ** z, lambda y, z: -y,
    lambda y, z: abs(y), lambda y, z: y.tanh(), lambda y, z: tg.exp(y),
])
def test_every_python_op_keeps_its_operands_and_result_floats(form):
    """No operator falls back to the array path: neither input's array is made."""
    x = tg.tensor([0.5, 0.25], requires_grad=True)
    y, z = x[0:1] * 1.0, x[1:2] * 1.0
    out = form(y, z)
    assert type(y) is OneFloat and type(z) is OneFloat and type(out) is OneFloat


def test_results_stay_one_floats_while_python_computes_them():
    x, y = _one_float(0.5)
    z = 2.0 ** (1.0 - (tg.tanh(y) * 0.9 + 0.1 * y) / 3) - y.exp()
    assert type(z) is OneFloat
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert (y / 0.0).tolist() == [math.inf]  # Python refuses: NumPy answers
        assert math.isnan(((y - 1.0) ** 0.5).item())  # a negative base: NaN, not a complex
        assert (tg.exp(y * 2000.0)).tolist() == [math.inf]  # Python's OverflowError


def _ops(t, u):
    """A graph using every kind of one-float op: math, numbers both sides, two one-floats."""
    a = tg.tanh(t) * 0.9 + 0.1 * t
    b = (1.0 - a) / (2.0 + a.exp()) - 3 / (u * u + 1.0)
    c = a ** 2 + 2 ** b - b.sigmoid() * a.sin() + a.abs().sqrt() + (-b).relu() - b.cos()
    return c ** 1.5 + (a - b) * (c + 1.0).log()


def test_gradients_match_finite_differences():
    for a, b in [(0.3, -0.7), (1.2, 0.4), (-0.9, 2.0)]:
        x = tg.tensor([a], requires_grad=True)
        w = tg.tensor([b], requires_grad=True)
        out = _ops(x * 1.0, w * 1.0)
        assert type(out) is OneFloat
        out.backward()

        def f(xa, wa):
            with tg.no_grad():
                return _ops(tg.tensor(xa), tg.tensor(wa)).item()
        arrays = [np.array([a]), np.array([b])]
        np.testing.assert_allclose(x.grad.numpy(), numeric_grad(f, arrays, 0), rtol=1e-7)
        np.testing.assert_allclose(w.grad.numpy(), numeric_grad(f, arrays, 1), rtol=1e-7)


def test_values_and_gradients_equal_the_array_path_bit_for_bit():
    """The same graph on two-element vectors (the NumPy path), twice the same values: + - * /
    are IEEE either way, so values and gradients are equal bit for bit."""
    def arithmetic(t, u):
        out = t
        for _ in range(20):
            out = out * 0.9 + 0.1 * u - out / 3.0 + 2 / (1.0 - out)
        return out * out - 1.0 / (u + 2.0)

    results = []
    for n in (1, 2):
        x = tg.tensor([0.7] * n, requires_grad=True)
        w = tg.tensor([-0.2] * n, requires_grad=True)
        out = arithmetic(x * 1.0, w * 1.0)
        assert (type(out) is OneFloat) is (n == 1)
        value = out.tolist()[0]
        out.sum().backward()
        results.append((value, x.grad.tolist()[0], w.grad.tolist()[0]))
    assert results[0] == results[1]


def test_chain_matches_the_same_chain_on_a_longer_vector():
    """chain-1's graph: its gradient is the first element's of the same graph on [x, 0.3]."""
    x1 = tg.tensor([0.4], requires_grad=True)
    x2 = tg.tensor([0.4, 0.3], requires_grad=True)
    for x in (x1, x2):
        y = x
        for _ in range(50):
            y = tg.tanh(y) * 0.9 + 0.1 * y
        (y * y).sum().backward()
    assert x1.grad.item() == pytest.approx(x2.grad[0].item(), rel=1e-13)


def test_it_looks_and_behaves_like_any_tensor():
    x, y = _one_float(0.25)
    z = y * 2.0
    assert isinstance(z, tg.Tensor)
    assert repr(type(z)) == repr(tg.Tensor)
    assert z.requires_grad and not z.is_leaf
    assert z.grad_fn.name() == "MulBackward0"
    assert z.grad_fn.next_functions[0][0].name() == "MulBackward0"
    assert tg.tanh(z).grad_fn.name() == "TanhBackward0"
    assert (1.0 - z).grad_fn.name() == "RsubBackward1"
    assert type(z) is OneFloat  # none of the above made its array
    assert repr(z) == "tensor([0.5000], grad_fn=<MulBackward0>)"
    assert type(z) is tg.Tensor  # printing did
    assert z.shape == (1,) and z.dtype == tg.float64 and z.tolist() == [0.5]
    for read in (lambda t: t.item(), float, lambda t: t.detach().numpy()[0], lambda t: t[0].item(),
                 lambda t: t.sum().item(), lambda t: bool(t > 0.4)):
        _, fresh = _one_float(0.5)
        assert read(fresh * 1.0) == read(z)


def test_with_tensors_of_other_kinds():
    """A plain tensor on either side (Python asks the subclass's reflected operator first),
    broadcasting, a 0-d tensor, an array, NumPy and bool numbers: the array path's answers."""
    cases = [
        lambda y, t: t - y, lambda y, t: y - t, lambda y, t: t / y, lambda y, t: t ** y,
        lambda y, t: tg.ones(3) * 2.0 - y, lambda y, t: y * tg.tensor(3.0),
        lambda y, t: tg.tensor(3.0) - y, lambda y, t: np.array([1.0, 2.0]) - y,
        lambda y, t: y * np.float64(3.0), lambda y, t: np.float64(3.0) - y,
        lambda y, t: y + True, lambda y, t: y * t.double(),
        lambda y, t: tg.maximum(y, t), lambda y, t: tg.minimum(t, y),
    ]
    for case in cases:
        results = []
        for touch in (False, True):
            x = tg.tensor([0.6], requires_grad=True)
            t = tg.tensor([1.7], requires_grad=True)
            y = x * 1.0
            if touch:
                y.shape  # noqa: B018
            out = case(y, t)
            results.append((out.tolist(), out.grad_fn.name(),
                            [n.name() if n else None for n, _ in out.grad_fn.next_functions]))
            out.sum().backward()
            results[-1] += (x.grad.tolist(), t.grad.tolist() if t.grad is not None else None)
        assert results[0] == results[1], case


def test_inplace_changes_and_shared_storage_as_on_the_array_path():
    x, y = _one_float(2.0)
    z = y * y  # MulBackward0 reads y
    y.mul_(3.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()

    x, y = _one_float(2.0)
    y += 1.0
    assert y.item() == 3.0
    y.backward()
    assert x.grad.item() == 1.0

    x, y = _one_float(2.0)
    d = y.detach()
    d.zero_()
    assert y.item() == 0.0  # detach() shares the storage
    with tg.no_grad():
        y.add_(5.0)
    assert d.item() == 5.0


def test_backward_from_a_one_float_and_retain_grad():
    x, y = _one_float(0.5)
    z = tg.tanh(y) * 3.0
    z.retain_grad()
    out = z * z
    out.backward()
    t = math.tanh(0.5)
    assert z.grad.item() == pytest.approx(6 * t, rel=1e-15)
    assert x.grad.item() == pytest.approx(18 * t * (1 - t * t), rel=1e-15)
    with pytest.raises(RuntimeError, match="retain_graph"):
        out.backward()


def test_no_grad_and_compile_take_the_array_path():
    x, y = _one_float(0.5)
    with tg.no_grad():
        z = y * 2.0 + tg.tanh(y)
    assert not z.requires_grad and type(z) is tg.Tensor
    assert z.item() == pytest.approx(1.0 + math.tanh(0.5), rel=1e-15)

    def loss(x):
        y = x
        for _ in range(5):
            y = tg.tanh(y) * 0.9 + 0.1 * y
        return (y * y).sum()
    tape = tg.compile(loss, np.array([0.4]))
    x = tg.tensor([0.7], requires_grad=True)
    loss(x).backward()
    np.testing.assert_allclose(tape.gradient(np.array([0.7])), x.grad.numpy(), rtol=1e-14)


def test_one_floats_of_two_graphs_on_linked_tapes():
    x, y = _one_float(0.5)
    (y * 1.0).backward(retain_graph=True)  # closes y's tape: the next graph starts another
    x.grad = None
    w, v = _one_float(-0.25)
    assert v._tape is not y._tape and y._tape.closed
    z = y * 2.0  # on the open tape, reading y from its closed one
    assert z._tape is v._tape
    out = z * v + y + tg.tanh(v * 3.0)
    out.backward()
    t = math.tanh(-0.75)
    assert x.grad.item() == pytest.approx(2 * -0.25 + 1.0, rel=1e-14)
    assert w.grad.item() == pytest.approx(1.0 + 3 * (1 - t * t), rel=1e-14)


def test_copy_and_pickle():
    _, y = _one_float(0.125)
    z = y + 1.0
    for clone in (copy.copy(z), copy.deepcopy(z), pickle.loads(pickle.dumps(z))):
        assert clone.tolist() == [1.125]


def test_float32_one_element_vectors_keep_numpy():
    x = tg.tensor([0.5], dtype=tg.float32, requires_grad=True)
    y = tg.tanh(x * 3.0) + 1.0
    assert type(y) is tg.Tensor and y.dtype == tg.float32
    y.backward()
    assert x.grad.dtype == tg.float32
