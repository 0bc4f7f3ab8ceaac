"""dtype casts (``.to``, ``.float()`` ...) and the logical operators, against NumPy, closed
forms and what torch 2.13 does (noted where it matters)."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg


def test_a_float_cast_is_recorded_and_the_gradient_comes_back_in_the_input_dtype():
    x = tg.tensor([1.5, -2.7], requires_grad=True)
    y = x.float()
    assert y.dtype == tg.float32 and y.grad_fn.name() == "ToCopyBackward0"
    np.testing.assert_array_equal(y.detach().numpy(), np.float32([1.5, -2.7]))
    (y * y).sum().backward()
    assert x.grad.dtype == tg.float64
    # d/dx sum(f32(x)^2) = 2 f32(x) (torch: tensor([3.0000, -5.4000]))
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.float32([1.5, -2.7]).astype(np.float64))


def test_a_float32_leaf_cast_up_gets_a_float32_gradient():
    x = tg.tensor([0.25, 2.0], dtype=tg.float32, requires_grad=True)
    out = (x.double() ** 3).sum()
    assert out.dtype == tg.float64
    out.backward()
    assert x.grad.dtype == tg.float32
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.float32([0.25, 2.0]) ** 2, rtol=1e-7)


def test_to_takes_torch_arguments_and_returns_self_when_nothing_changes():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    assert x.to(tg.float64) is x and x.double() is x and x.to("cpu") is x and x.cpu() is x
    assert x.to(x) is x
    assert x.to(tg.ones(1, dtype=tg.float32)).dtype == tg.float32
    assert x.to("cpu", tg.float16).dtype == tg.float16
    copied = x.to(x.dtype, copy=True)
    assert copied is not x and copied.grad_fn.name() == "ToCopyBackward0"
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.to(tg.float32, memory_format=None)
    with pytest.raises(TypeError):
        x.to(np.complex128)


def test_casts_to_int_and_bool_truncate_and_pass_no_gradient():
    x = tg.tensor([1.5, -2.7, 0.0], requires_grad=True)
    for cast, dtype, expected in ((x.long, tg.int64, [1, -2, 0]), (x.int, tg.int32, [1, -2, 0]),
                                  (x.bool, tg.bool, [True, True, False])):
        y = cast()
        assert y.dtype == dtype and not y.requires_grad and y.grad_fn is None
        assert y.tolist() == expected
    mask = (x > 0).double()  # torch: a float mask, requires_grad False
    assert mask.dtype == tg.float64 and not mask.requires_grad
    assert mask.tolist() == [1.0, 0.0, 0.0]


def test_half_rounding_replays_as_numpy_rounds():
    # ties to even at several scales, float16's subnormals, its largest finite, overflow
    special = np.array([1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 2.0 ** -25, 3 * 2.0 ** -25,
                        2.0 ** -14 * (1 - 2.0 ** -12), 65504.0, 65519.9, 65520.0, -70000.0,
                        1e-9, -0.0, np.inf, -np.inf, np.nan])
    values = np.concatenate([special, np.random.default_rng(0).standard_normal(2000) *
                             10.0 ** np.random.default_rng(1).integers(-8, 5, 2000)])
    tape = tg.compile(lambda x: x.half().double() * 1.0, values)
    replayed = tape(values)
    eager = values.astype(np.float16).astype(np.float64)
    np.testing.assert_array_equal(replayed, eager)
    np.testing.assert_array_equal(tape(values[::-1].copy()), eager[::-1])


def test_a_cast_of_a_comparison_is_replayed_by_a_compiled_tape():
    def f(x):
        return (x * (x > 0).double() + x.float().double() * 0.5).sum()

    tape = tg.compile(f, np.array([1.0, -1.0, 2.0]))
    for x in (np.array([-3.0, 0.5, 2.0]), np.array([0.1, 0.2, -0.3])):
        mask = (x > 0).astype(float)
        np.testing.assert_allclose(tape(x), np.sum(x * mask + np.float32(x) * 0.5), rtol=1e-15)
        np.testing.assert_allclose(tape.gradient(x), mask + 0.5, rtol=1e-15)


def test_logical_operators_on_bool_tensors():
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    ta, tb = tg.tensor(a), tg.tensor(b)
    assert (ta & tb).tolist() == (a & b).tolist()
    assert (ta | tb).tolist() == (a | b).tolist()
    assert (ta ^ tb).tolist() == (a ^ b).tolist()
    assert (~ta).tolist() == (~a).tolist()
    assert (ta & True).tolist() == a.tolist() and (True & ta).tolist() == a.tolist()
    assert tg.logical_and(ta, tb).tolist() == np.logical_and(a, b).tolist()
    assert tg.logical_or(ta, tb).tolist() == np.logical_or(a, b).tolist()
    assert tg.logical_xor(ta, tb).tolist() == np.logical_xor(a, b).tolist()
    x = tg.tensor([0.0, 2.0, -1.0])
    assert tg.logical_not(x).tolist() == [True, False, False]
    assert x.logical_and(tg.tensor([1.0, 1.0, 0.0])).tolist() == [False, True, False]
    assert (ta & tb).dtype == tg.bool


def test_bitwise_operators_on_ints_and_refused_on_floats():
    assert (tg.tensor([6]) & 3).tolist() == [2]
    assert (tg.tensor([6]) | 1).tolist() == [7]
    assert (tg.tensor([6]) ^ 5).tolist() == [3]
    assert (~tg.tensor([0, 1])).tolist() == [-1, -2]
    m = tg.tensor([True, False])
    assert (m & 1).dtype == tg.int64  # as torch
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError,
                       match="\"bitwise_and_cpu\" not implemented for 'Double'"):
        x & x
    with pytest.raises(NotImplementedError, match="'Float'"):
        ~x.float()


def test_integer_bitwise_ops_on_recorded_values_are_refused_while_compiling():
    with pytest.raises(NotImplementedError, match="cannot be compiled"):
        tg.compile(lambda x: x * ((x > 0).long() & 1).double(), np.ones(3))


def test_backward_reads_values_of_every_dtype_on_one_tape():
    # the small values are joined as float64 bytes; other dtypes must be converted, whether
    # they make the join short (float32, bool) or not (an int64 constant)
    w = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (w * w * tg.tensor([4, 5, 6])).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [8.0, 20.0, 36.0])
    f = tg.tensor([1.5, 2.0, 3.0], dtype=tg.float32, requires_grad=True)
    g = tg.tensor([1.0, -2.0, 0.5], requires_grad=True)
    (f.double() * g * g).sum().backward()
    np.testing.assert_array_equal(f.grad.numpy(), np.float32([1.0, 4.0, 0.25]))
    np.testing.assert_array_equal(g.grad.numpy(), 2 * np.array([1.5, 2.0, 3.0]) * [1, -2, 0.5])
    h = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = ((h.float() ** 2).double() * h).sum()  # float32 values made on a float64 tape
    assert not out._tape.mixed  # (so the short join is what finds them)
    out.backward()
    # d/dh f32(h)^2 h = 2 f32(h) h + f32(h)^2, exact here
    np.testing.assert_array_equal(h.grad.numpy(), [3.0, 12.0, 27.0])
    m = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (m * (m > 1.5) * m).sum().backward()  # (a bool constant on the tape)
    np.testing.assert_array_equal(m.grad.numpy(), [0.0, 4.0, 6.0])


def test_byte_order_is_made_native_or_refused():
    big_endian = np.array([1.0, 2.0, 3.0], dtype=">f8")
    x = tg.tensor(big_endian, requires_grad=True)
    assert x.dtype == tg.float64
    (x[1:] * x[:-1]).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 2.0])
    with pytest.raises(ValueError, match="byte order"):  # (it shares memory, as torch's does)
        tg.from_numpy(big_endian)
    with pytest.raises(TypeError, match="expected np.ndarray"):
        tg.from_numpy([1.0, 2.0])


def test_extra_arguments_to_math_and_arithmetic_methods_are_refused():
    # (the math methods are one function bound to each op: an extra argument must not pass
    # for one of its own parameters)
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="one tensor"):
        x.tanh(2)
    with pytest.raises(TypeError, match="takes 1 positional argument but 2 were given"):
        tg.exp(x, 3)
    with pytest.raises(TypeError):
        x.mul(2, 3)
    with pytest.raises(TypeError):
        x.add(x, 2)  # (alpha is keyword-only, as torch's)
    assert x.mul(3).tolist() == [3.0, 6.0] and x.sub(x).tolist() == [0.0, 0.0]


def test_device_arguments_accept_the_cpu_and_refuse_others():
    x = tg.ones(2)
    assert repr(x.device) == "device(type='cpu')" and str(x.device) == "cpu" and not x.is_cuda
    assert x.device == tg.device("cpu") == "cpu" and repr(tg.device("cpu:0")) == \
        "device(type='cpu', index=0)"
    for make in (lambda d: tg.tensor([1.0], device=d), lambda d: tg.zeros(2, device=d),
                 lambda d: tg.ones(2, device=d), lambda d: tg.randn(2, device=d),
                 lambda d: tg.arange(3, device=d), lambda d: tg.zeros_like(x, device=d),
                 lambda d: tg.full((2,), 1.0, device=d), lambda d: tg.eye(2, device=d)):
        assert make("cpu").device == x.device and make(x.device).device == x.device
        with pytest.raises(RuntimeError, match="CPU only"):
            make("cuda")
    assert x.to(x.device) is x and x.to("cpu:0") is x
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to(tg.device("cuda", 0))


def test_the_docstring_examples_run():
    import doctest
    import importlib

    tensor_module = importlib.import_module("tapegrad.tensor")
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for obj in (importlib.import_module("tapegrad.device"), tensor_module.Tensor.to,
                tensor_module.Tensor.double, tensor_module.Tensor.float,
                tensor_module.Tensor.long, tensor_module.Tensor.logical_and):
        for test in finder.find(obj, globs={"tg": tg}):
            runner.run(test)
    assert runner.failures == 0 and runner.tries >= 6
