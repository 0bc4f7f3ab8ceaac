"""Issue 19, item 2: the names and spellings torch programs use in their first lines --
constants, ``tg.cuda``/``tg.backends``, the default dtype and device, random creation, the
legacy tensor types and ``Tensor.type``, torch's keyword forms (``input=``, ``other=``,
``alpha=``, ``out=``, ``size=``, ``axis=``/``keepdims=``) and the ``Tensor`` methods spelled in
terms of others (``new_zeros``, ``stride`` ...) -- each checked against torch."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")


def _name(dtype) -> str:
    """``float32`` for ``tapegrad.float32`` and ``torch.float32`` alike."""
    return str(dtype).split(".")[-1]


def _raises(f):
    """(type, message) of what ``f()`` raises."""
    try:
        f()
    except Exception as e:  # noqa: BLE001 -- the error is the result
        return type(e), str(e)
    raise AssertionError("no error")


def _same_error(tg_call, torch_call):
    got, want = _raises(tg_call), _raises(torch_call)
    assert got == want


@pytest.fixture
def float32_default():
    """tapegrad's and torch's default float dtype float32 for one test, restored after it."""
    tg_before, torch_before = tg.get_default_dtype(), torch.get_default_dtype()
    tg.set_default_dtype(tg.float32)
    torch.set_default_dtype(torch.float32)
    yield
    tg.set_default_dtype(tg_before)
    torch.set_default_dtype(torch_before)


@pytest.fixture
def float64_torch():
    """torch's default dtype as tapegrad's (float64) for one test, restored after it."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


NAMES = ["pi", "e", "inf", "nan", "cuda", "backends", "set_default_device",
         "get_default_device", "set_default_dtype", "get_default_dtype", "normal", "randint",
         "randperm", "rand_like", "randint_like", "empty_like", "FloatTensor", "DoubleTensor",
         "LongTensor", "BoolTensor"]
METHODS = ["new_zeros", "new_ones", "new_full", "new_empty", "new_tensor", "type_as",
           "ndimension", "dim", "nelement", "size", "stride", "is_contiguous", "contiguous",
           "numpy", "type"]


@pytest.mark.parametrize("name", NAMES)
def test_the_name_exists_as_in_torch(name):
    assert hasattr(tg, name) and hasattr(torch, name)
    assert name in tg.__all__


@pytest.mark.parametrize("name", METHODS)
def test_the_method_exists_as_in_torch(name):
    assert callable(getattr(tg.Tensor, name)) and callable(getattr(torch.Tensor, name))


def test_constants_are_torchs():
    assert (tg.pi, tg.e, tg.inf) == (torch.pi, torch.e, torch.inf)
    assert np.isnan(tg.nan) and type(tg.nan) is type(torch.nan) is float


def test_cuda_and_backends_say_what_a_cpu_build_of_torch_says():
    assert tg.cuda.is_available() is False is torch.cuda.is_available()
    assert tg.cuda.device_count() == 0 == torch.cuda.device_count()
    assert tg.backends.mps.is_available() is False is torch.backends.mps.is_available()
    assert tg.backends.cudnn.is_available() is False
    tg.cuda.manual_seed_all(0)  # (no-ops, as torch's without a device)
    tg.cuda.manual_seed(0)
    device = "cuda" if tg.cuda.is_available() else "cpu"
    assert tg.zeros(2, device=device).device == tg.device("cpu")


def test_default_device_is_the_cpu_and_only_the_cpu():
    assert tg.get_default_device() == tg.device("cpu")
    assert repr(tg.get_default_device()) == repr(torch.get_default_device())
    for where in (None, "cpu", tg.device("cpu")):
        tg.set_default_device(where)
    with pytest.raises(RuntimeError) as refused:
        tg.set_default_device("cuda")
    with pytest.raises(RuntimeError) as refused_tensor:
        tg.tensor([1.0], device="cuda")
    assert str(refused.value) == str(refused_tensor.value)
    assert tg.get_default_device() == tg.device("cpu")


# -- default dtype --------------------------------------------------------------------------


def test_default_dtype_is_float64_here():
    assert tg.get_default_dtype() is tg.float64
    assert tg.ones(2).dtype is tg.float64 and tg.tensor([1.0]).dtype is tg.float64


CREATIONS = {
    "tensor_float": lambda m: m.tensor([1.0, 2.0]),
    "tensor_0d": lambda m: m.tensor(3.5),
    "tensor_int": lambda m: m.tensor([1, 2]),
    "tensor_bool": lambda m: m.tensor([True]),
    "ones": lambda m: m.ones(2, 3),
    "zeros": lambda m: m.zeros((2,)),
    "empty": lambda m: m.empty(2),
    "randn": lambda m: m.randn(2),
    "rand": lambda m: m.rand(2),
    "full_float": lambda m: m.full((2,), 1.5),
    "full_int": lambda m: m.full((2,), 3),
    "arange_float": lambda m: m.arange(0, 1, 0.25),
    "arange_int": lambda m: m.arange(4),
    "linspace": lambda m: m.linspace(0, 1, 5),
    "linspace_ints": lambda m: m.linspace(0, 4, 5),
    "eye": lambda m: m.eye(2),
    "zeros_like_int": lambda m: m.zeros_like(m.tensor([1, 2])),
    "ones_like_f64": lambda m: m.ones_like(m.tensor([1.0], dtype=m.float64)),
    "randn_like_f64": lambda m: m.randn_like(m.tensor([1.0], dtype=m.float64)),
    "rand_like_f64": lambda m: m.rand_like(m.tensor([1.0], dtype=m.float64)),
    "empty_like_int": lambda m: m.empty_like(m.tensor([1, 2])),
    "normal": lambda m: m.normal(0.0, 1.0, (2,)),
    "explicit": lambda m: m.ones(2, dtype=m.float64),
    "scalar_op": lambda m: m.tensor([1.5]) * 2,
}


@pytest.mark.parametrize("case", sorted(CREATIONS))
def test_float32_default_creates_what_torchs_default_creates(case, float32_default):
    made, want = CREATIONS[case](tg), CREATIONS[case](torch)
    assert _name(made.dtype) == _name(want.dtype)
    assert tuple(made.shape) == tuple(want.shape)


def test_float32_default_prints_as_torchs_default(float32_default):
    for make in (lambda m: m.ones(2), lambda m: m.tensor([1.5], dtype=m.float64),
                 lambda m: m.zeros(0), lambda m: m.zeros(0, dtype=m.float64)):
        assert repr(make(tg)) == repr(make(torch)).replace("torch.", "tapegrad.")


def test_default_dtype_round_trip_and_refusals():
    before = tg.get_default_dtype()
    try:
        tg.set_default_dtype(tg.float32)
        assert tg.get_default_dtype() is tg.float32
        tg.set_default_dtype(tg.float64)
        assert tg.get_default_dtype() is tg.float64 and tg.ones(1).dtype is tg.float64
        for bad_tg, bad_torch in ((tg.int64, torch.int64), (tg.bool, torch.bool)):
            _same_error(lambda d=bad_tg: tg.set_default_dtype(d),
                        lambda d=bad_torch: torch.set_default_dtype(d))
            assert tg.get_default_dtype() is tg.float64
    finally:
        tg.set_default_dtype(before)


def test_float32_default_gradients_come_back_in_float32(float32_default):
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype is tg.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


# -- random creation -----------------------------------------------------------------------

RANDOM = {
    "randint_high_size": lambda m: m.randint(5, (3, 2)),
    "randint_low_high_size": lambda m: m.randint(2, 5, (4,)),
    "randint_keywords": lambda m: m.randint(high=5, size=(2,)),
    "randint_low_keyword": lambda m: m.randint(low=1, high=5, size=(2,)),
    "randint_list_size": lambda m: m.randint(3, [2]),
    "randint_dtype": lambda m: m.randint(3, (2,), dtype=m.float64),
    "randperm": lambda m: m.randperm(5),
    "randperm_dtype": lambda m: m.randperm(3, dtype=m.float32),
    "randperm_0": lambda m: m.randperm(0),
    "normal_tt": lambda m: m.normal(m.zeros(2, 1, dtype=m.float64), m.ones(3, dtype=m.float64)),
    "normal_tf": lambda m: m.normal(m.zeros(3, dtype=m.float32), 2.0),
    "normal_t": lambda m: m.normal(m.zeros(3, dtype=m.float64)),
    "normal_ft": lambda m: m.normal(1.0, m.ones(2, dtype=m.float64)),
    "normal_ffs": lambda m: m.normal(0.0, 1.0, (2, 3)),
    "normal_keywords": lambda m: m.normal(mean=0.0, std=1.0, size=(2,)),
    "normal_dtype": lambda m: m.normal(0.0, 1.0, (2,), dtype=m.float32),
    "rand_like": lambda m: m.rand_like(m.zeros(2, 3, dtype=m.float32)),
    "randint_like_high": lambda m: m.randint_like(m.zeros(2, dtype=m.float64), 5),
    "randint_like_low_high": lambda m: m.randint_like(m.zeros(2, dtype=m.int64), 1, 5),
    "randint_like_int32": lambda m: m.randint_like(m.zeros(2, dtype=m.int32), 7),
    "empty_like": lambda m: m.empty_like(m.zeros(2, 3, dtype=m.int32)),
    "empty_like_dtype": lambda m: m.empty_like(m.zeros(2), dtype=m.int16),
    "randn_size": lambda m: m.randn(size=(2, 3)),
    "rand_size": lambda m: m.rand(size=(2,)),
    "zeros_size": lambda m: m.zeros(size=(2,)),
    "ones_size": lambda m: m.ones(size=[1, 2]),
    "empty_size": lambda m: m.empty(size=(3,)),
    "requires_grad": lambda m: m.normal(0.0, 1.0, (2,), requires_grad=True),
}


@pytest.mark.parametrize("case", sorted(RANDOM))
def test_random_creation_has_torchs_shapes_and_dtypes(case, float64_torch):
    made, want = RANDOM[case](tg), RANDOM[case](torch)
    assert _name(made.dtype) == _name(want.dtype)
    assert tuple(made.shape) == tuple(want.shape)
    assert made.requires_grad == want.requires_grad


def test_random_values_lie_where_torchs_do():
    tg.manual_seed(1)
    ints = tg.randint(2, 5, (1000,)).numpy()
    assert ints.min() == 2 and ints.max() == 4
    assert sorted(tg.randperm(50).tolist()) == list(range(50))
    like = tg.randint_like(tg.zeros(1000), 3).numpy()
    assert set(like.tolist()) == {0.0, 1.0, 2.0}
    u = tg.rand_like(tg.zeros(1000)).numpy()
    assert 0 <= u.min() and u.max() < 1
    n = tg.normal(tg.full((4000,), 10.0), tg.full((4000,), 0.5)).numpy()
    assert abs(n.mean() - 10) < 0.1 and abs(n.std() - 0.5) < 0.05  # (40+ sigma of slack)
    assert (tg.normal(3.0, tg.zeros(3)).numpy() == 3.0).all()


def test_random_creation_follows_manual_seed():
    for make in (lambda: tg.randint(0, 100, (5,)), lambda: tg.randperm(10),
                 lambda: tg.normal(0.0, 1.0, (3,)), lambda: tg.rand_like(tg.zeros(3)),
                 lambda: tg.normal(tg.zeros(3), tg.ones(3)),
                 lambda: tg.randint_like(tg.zeros(3), 100)):
        tg.manual_seed(7)
        a = make()
        tg.manual_seed(7)
        assert a.tolist() == make().tolist()


RANDOM_ERRORS = {
    "randint_int_size": lambda m: m.randint(1, 5),
    "randint_empty_range": lambda m: m.randint(5, 2, (2,)),
    "randint_equal": lambda m: m.randint(3, 3, (2,)),
    "randint_requires_grad": lambda m: m.randint(3, (2,), requires_grad=True),
    "randint_like_empty_range": lambda m: m.randint_like(m.zeros(2), 1, 1),
    "randperm_negative": lambda m: m.randperm(-1),
    "normal_two_floats": lambda m: m.normal(0.0, 1.0),
    "normal_negative_std": lambda m: m.normal(m.zeros(3), -1.0),
    "normal_negative_float_std": lambda m: m.normal(0.0, -2.0, (2,)),
    "normal_negative_std_tensor": lambda m: m.normal(0.0, m.tensor([-1.0, 1.0])),
    "normal_shapes": lambda m: m.normal(m.zeros(2), m.ones(3)),
    "normal_int_mean": lambda m: m.normal(m.zeros(2, dtype=m.int64), 1.0),
    "rand_like_int": lambda m: m.rand_like(m.zeros(2, dtype=m.int64)),
}


@pytest.mark.parametrize("case", sorted(RANDOM_ERRORS))
def test_random_creation_refuses_as_torch(case):
    _same_error(lambda: RANDOM_ERRORS[case](tg), lambda: RANDOM_ERRORS[case](torch))


def test_normal_passes_zero_gradients_as_torchs():
    for lib in (tg, torch):
        mean = lib.zeros(3, dtype=lib.float64, requires_grad=True)
        std = lib.ones(3, dtype=lib.float64, requires_grad=True)
        y = lib.normal(mean, std)
        assert y.requires_grad
        (y * 2).sum().backward()
        assert mean.grad.tolist() == [0.0, 0.0, 0.0] == std.grad.tolist()


# -- legacy types ------------------------------------------------------------------------------

LEGACY = {
    "float_list": lambda m: m.FloatTensor([1, 2]),
    "float_sizes": lambda m: m.FloatTensor(2, 3),
    "float_empty": lambda m: m.FloatTensor(),
    "float_tuple": lambda m: m.FloatTensor((2, 3)),
    "float_size": lambda m: m.FloatTensor(m.Size([2, 3])),
    "float_array": lambda m: m.FloatTensor(np.array([1, 2])),
    "double_nested": lambda m: m.DoubleTensor([[1.5, 2], [3, 4]]),
    "long_floats": lambda m: m.LongTensor([1.7, -2.7]),
    "long_sizes": lambda m: m.LongTensor(4),
    "bool": lambda m: m.BoolTensor([1, 0]),
    "alias": lambda m: m.FloatTensor(m.ones(2)),
}


@pytest.mark.parametrize("case", sorted(LEGACY))
def test_legacy_types_make_torchs_tensors(case, float32_default):
    made, want = LEGACY[case](tg), LEGACY[case](torch)
    assert _name(made.dtype) == _name(want.dtype)
    assert tuple(made.shape) == tuple(want.shape)
    if "sizes" not in case and "size" not in case:  # (uninitialised memory otherwise)
        assert made.tolist() == want.tolist()


LEGACY_ERRORS = {
    "other_dtype": lambda m: m.DoubleTensor(m.ones(2, dtype=m.float32)),
    "other_dtype_long": lambda m: m.FloatTensor(m.tensor([1, 2])),
    "a_float": lambda m: m.FloatTensor(2.5),
    "mixed": lambda m: m.FloatTensor(2, [1]),
    "negative": lambda m: m.FloatTensor(-1),
    "a_keyword": lambda m: m.FloatTensor([1, 2], requires_grad=True),
    "dtype_keyword": lambda m: m.FloatTensor(2, dtype=m.float64),
}


@pytest.mark.parametrize("case", sorted(LEGACY_ERRORS))
def test_legacy_types_refuse_as_torchs(case):
    got, want = _raises(lambda: LEGACY_ERRORS[case](tg)), \
        _raises(lambda: LEGACY_ERRORS[case](torch))
    assert got[0] is want[0]
    if "keyword" in case:  # torch lists its overloads and why the keyword did not match
        assert got[1].split(", but")[0] == want[1].split(", but")[0]
    else:
        assert got == want


def test_legacy_types_are_isinstance_checks_by_dtype():
    x32, x64 = tg.ones(2, dtype=tg.float32), tg.ones(2)
    assert isinstance(x32, tg.FloatTensor) and not isinstance(x64, tg.FloatTensor)
    assert isinstance(x64, tg.DoubleTensor)
    assert isinstance(tg.tensor([1]), tg.LongTensor) and isinstance(x32 > 0, tg.BoolTensor)
    assert not isinstance(np.ones(2, np.float32), tg.FloatTensor)
    for t in (torch.ones(2, dtype=torch.float32), torch.ones(2, dtype=torch.float64)):
        assert isinstance(t, torch.FloatTensor) == isinstance(tg.tensor(t.numpy()),
                                                              tg.FloatTensor)
    assert repr(tg.FloatTensor) == "<class 'tapegrad.FloatTensor'>"
    assert tg.FloatTensor.dtype is tg.float32 and tg.FloatTensor.is_cuda is False


def test_a_legacy_alias_passes_gradients():
    x = tg.ones(2, requires_grad=True)
    (tg.DoubleTensor(x) * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


TYPE_DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8",
               "bool"]


@pytest.mark.parametrize("dtype", TYPE_DTYPES)
def test_type_names_are_torchs_with_tapegrads_prefix(dtype):
    made = tg.zeros(2, dtype=getattr(tg, dtype)).type()
    want = torch.zeros(2, dtype=getattr(torch, dtype)).type()
    assert made == want.replace("torch.", "tapegrad.")


def test_type_casts_as_torchs():
    x, tx = tg.tensor([1.5, -2.5]), torch.tensor([1.5, -2.5], dtype=torch.float64)
    for to_tg, to_torch in ((tg.LongTensor, torch.LongTensor),
                            ("torch.FloatTensor", "torch.FloatTensor"),
                            ("tapegrad.IntTensor", "torch.IntTensor"),
                            (tg.int32, torch.int32), (tg.bool, torch.bool)):
        made, want = x.type(to_tg), tx.type(to_torch)
        assert _name(made.dtype) == _name(want.dtype) and made.tolist() == want.tolist()
    assert x.type(tg.DoubleTensor) is x and x.type(dtype="torch.DoubleTensor") is x
    assert x.type_as(tg.tensor([1], dtype=tg.int32)).tolist() == \
        tx.type_as(torch.tensor([1], dtype=torch.int32)).tolist()
    _same_error(lambda: x.type("torch.Foo"), lambda: tx.type("torch.Foo"))
    _same_error(lambda: x.type(3), lambda: tx.type(3))


def test_type_between_floats_is_differentiable():
    x = tg.tensor([1.5, 2.5], requires_grad=True)
    (x.type(tg.FloatTensor) * x.type_as(tg.ones(1, dtype=tg.float32))).sum().backward()
    assert x.grad.dtype is tg.float64 and x.grad.tolist() == [3.0, 5.0]


# -- keyword forms -----------------------------------------------------------------------------

A = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
B = np.array([[2.0, 1.0, -1.0], [3.0, 0.25, 2.0]])

KEYWORDS = {
    "add": lambda m, a, b: m.add(input=a, other=b),
    "add_alpha": lambda m, a, b: m.add(input=a, other=b, alpha=2),
    "add_alpha_number": lambda m, a, b: m.add(a, 3.0, alpha=0.5),
    "sub_alpha": lambda m, a, b: m.sub(a, b, alpha=-1.5),
    "method_add_alpha": lambda m, a, b: a.add(b, alpha=3),
    "method_sub_alpha": lambda m, a, b: a.sub(other=b, alpha=2),
    "mul": lambda m, a, b: m.mul(input=a, other=b),
    "div": lambda m, a, b: m.div(input=a, other=b),
    "pow": lambda m, a, b: m.pow(input=a, exponent=2),
    "maximum": lambda m, a, b: m.maximum(input=a, other=b),
    "matmul": lambda m, a, b: m.matmul(input=a, other=b.T),
    "exp": lambda m, a, b: m.exp(input=a),
    "where": lambda m, a, b: m.where(condition=a > b, input=a, other=b),
    "eq": lambda m, a, b: m.eq(input=a, other=b),
    "sum_axis": lambda m, a, b: a.sum(axis=0),
    "sum_axis_keepdims": lambda m, a, b: m.sum(a, axis=1, keepdims=True),
    "sum_dim_keepdims": lambda m, a, b: a.sum(dim=1, keepdims=True),
    "sum_dtype": lambda m, a, b: a.sum(0, dtype=m.float32),
    "mean_axis_keepdims": lambda m, a, b: a.mean(axis=1, keepdims=True),
    "mean_function": lambda m, a, b: m.mean(input=a, axis=0),
    "max_axis": lambda m, a, b: a.max(axis=1)[0],
    "max_indices_keepdims": lambda m, a, b: m.max(a, axis=1, keepdims=True)[1],
    "min_axis": lambda m, a, b: a.min(axis=0).values,
    "logsumexp_axis": lambda m, a, b: m.logsumexp(a, axis=1),
    "softmax_axis": lambda m, a, b: m.softmax(a, axis=1),
    "log_softmax_axis": lambda m, a, b: a.log_softmax(axis=0),
    "softmax_dtype": lambda m, a, b: a.softmax(1, dtype=m.float32),
    "cat_axis": lambda m, a, b: m.cat([a, b], axis=1),
    "stack_axis": lambda m, a, b: m.stack([a, b], axis=2),
    "squeeze_axis": lambda m, a, b: a[:1].squeeze(axis=0),
    "unsqueeze_axis": lambda m, a, b: a.unsqueeze(axis=1),
    "clamp_keywords": lambda m, a, b: m.clamp(input=a, min=0.0),
}


@pytest.mark.parametrize("case", sorted(KEYWORDS))
def test_keyword_forms_compute_torchs_values(case):
    made = KEYWORDS[case](tg, tg.tensor(A), tg.tensor(B))
    want = KEYWORDS[case](torch, torch.tensor(A), torch.tensor(B))
    assert _name(made.dtype) == _name(want.dtype)
    np.testing.assert_allclose(made.numpy(), want.numpy(), rtol=1e-6)


def test_alpha_gradients_are_torchs():
    grads = []
    for lib in (tg, torch):
        a = lib.tensor(A, requires_grad=True)
        b = lib.tensor(B, requires_grad=True)
        (lib.add(a, b, alpha=2.5) * lib.sub(a, b, alpha=-3) + a.add(b, alpha=4)).sum().backward()
        grads.append((a.grad.numpy().copy(), b.grad.numpy().copy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1])


KEYWORD_ERRORS = {
    "dim_and_axis": lambda m, a: a.sum(0, axis=0),
    "keepdim_and_keepdims": lambda m, a: a.sum(0, keepdim=True, keepdims=True),
    "integral_float_alpha": lambda m, a: m.add(m.tensor([1]), m.tensor([2]), alpha=2.5),
}


@pytest.mark.parametrize("case", sorted(KEYWORD_ERRORS))
def test_keyword_forms_refuse_as_torch(case):
    _same_error(lambda: KEYWORD_ERRORS[case](tg, tg.tensor(A)),
                lambda: KEYWORD_ERRORS[case](torch, torch.tensor(A)))


OUT = {
    "add": lambda m, a, b, o: m.add(a, b, out=o),
    "add_alpha": lambda m, a, b, o: m.add(a, b, alpha=2, out=o),
    "sub": lambda m, a, b, o: m.sub(a, 1.0, out=o),
    "mul": lambda m, a, b, o: m.mul(a, b, out=o),
    "div": lambda m, a, b, o: m.div(a, b, out=o),
    "maximum": lambda m, a, b, o: m.maximum(a, b, out=o),
    "matmul": lambda m, a, b, o: m.matmul(a[:, :2], b[:, :2], out=o),
    "where": lambda m, a, b, o: m.where(a > b, a, b, out=o),
    "clamp": lambda m, a, b, o: m.clamp(a, max=1.0, out=o),
    "cat": lambda m, a, b, o: m.cat([a[:1], b[:1]], out=o),
    "stack": lambda m, a, b, o: m.stack([a[0, :2], b[0, :2]], out=o),
    "sum": lambda m, a, b, o: m.sum(a, 0, out=o[0]),
}


@pytest.mark.filterwarnings("ignore:An output with one or more elements was resized")
@pytest.mark.parametrize("case", sorted(OUT))
def test_out_writes_into_out_as_torch(case):
    results = []
    for lib in (tg, torch):
        o = lib.zeros(2, 3, dtype=lib.float64)
        view = o[0]
        returned = OUT[case](lib, lib.tensor(A), lib.tensor(B), o)
        assert returned is o or case == "sum"
        results.append((o.numpy().copy(), view.numpy().copy()))
    np.testing.assert_allclose(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1])  # (written in place)


def test_out_resizes_with_torchs_warning():
    messages = []
    for lib in (tg, torch):
        o = lib.zeros(3, dtype=lib.float64)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.add(lib.ones(2, 2, dtype=lib.float64), 1.0, out=o)
        assert tuple(o.shape) == (2, 2) and o.tolist() == [[2.0, 2.0], [2.0, 2.0]]
        messages.append([str(w.message).split(" (Triggered")[0] for w in caught])
        empty = lib.zeros(0, dtype=lib.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lib.mul(lib.ones(2, dtype=lib.float64), 3.0, out=empty)  # (an empty out: silently)
        assert empty.tolist() == [3.0, 3.0]
    assert messages[0] == messages[1] and len(messages[0]) == 1


def test_out_casts_where_torch_casts():
    for lib in (tg, torch):
        o = lib.zeros(2, dtype=lib.float32)
        lib.add(lib.tensor([1.5, 2.5], dtype=lib.float64), 1.0, out=o)
        assert o.dtype == lib.float32 and o.tolist() == [2.5, 3.5]
        o = lib.zeros(2, dtype=lib.float64)
        lib.add(lib.tensor([1, 2]), 1, out=o)
        assert o.tolist() == [2.0, 3.0]
    _same_error(lambda: tg.add(tg.ones(2, dtype=tg.float32), 1.5,
                               out=tg.zeros(2, dtype=tg.int64)),
                lambda: torch.add(torch.ones(2), 1.5, out=torch.zeros(2, dtype=torch.long)))


OUT_DTYPES = {
    "add_bool": lambda m: m.add(m.ones(2, dtype=m.float32), 1, out=m.zeros(2, dtype=m.bool)),
    "cat_long": lambda m: m.cat([m.ones(2)] * 2, out=m.zeros(4, dtype=m.int64)),
    "stack_long": lambda m: m.stack([m.ones(2)] * 2, out=m.zeros(2, 2, dtype=m.int64)),
    "matmul_double": lambda m: m.matmul(m.ones(2, 2, dtype=m.float32),
                                        m.ones(2, 2, dtype=m.float32),
                                        out=m.zeros(2, 2, dtype=m.float64)),
    "clamp_long": lambda m: m.clamp(m.ones(2, dtype=m.float32), 0, out=m.zeros(2, dtype=m.int64)),
    "sum_long": lambda m: m.sum(m.tensor([1.5, 1.5]), 0, out=m.zeros((), dtype=m.int64)),
    "sum_float": lambda m: m.sum(m.tensor([1.5, 1.25], dtype=m.float64), 0,
                                 out=m.zeros((), dtype=m.float32)),
    "mean_float": lambda m: m.mean(m.tensor([1.5, 1.25], dtype=m.float64), 0,
                                   out=m.zeros((), dtype=m.float32)),
    "eq_long": lambda m: m.eq(m.ones(2), 1, out=m.zeros(2, dtype=m.int64)),
}


@pytest.mark.parametrize("case", sorted(OUT_DTYPES))
def test_out_of_another_dtype_as_torch(case):
    made, want = _outcome(lambda: OUT_DTYPES[case](tg)), _outcome(lambda: OUT_DTYPES[case](torch))
    assert made == want


def _outcome(call):
    try:
        result = call()
    except Exception as e:  # noqa: BLE001 -- the error is the outcome
        return type(e), str(e)
    return _name(result.dtype), result.tolist()


OUT_ERRORS = {
    "input_requires_grad": lambda m: m.add(m.ones(2, requires_grad=True), 1.0, out=m.zeros(2)),
    "out_requires_grad": lambda m: m.mul(m.ones(2), 2.0, out=m.zeros(2, requires_grad=True)),
    "sum_requires_grad": lambda m: m.sum(m.ones(2, requires_grad=True), 0, out=m.zeros(())),
    "cat_requires_grad": lambda m: m.cat([m.ones(2, requires_grad=True)], out=m.zeros(2)),
}


@pytest.mark.parametrize("case", sorted(OUT_ERRORS))
def test_out_refuses_autograd_as_torch(case):
    _same_error(lambda: OUT_ERRORS[case](tg), lambda: OUT_ERRORS[case](torch))


def test_out_is_allowed_without_grad_mode():
    for lib in (tg, torch):
        o = lib.zeros(2)
        with lib.no_grad():
            lib.add(lib.ones(2, requires_grad=True), 1.0, out=o)
        assert o.tolist() == [2.0, 2.0]


# -- Tensor methods ----------------------------------------------------------------------------

NEW = {
    "new_zeros": lambda x: x.new_zeros(2, 3),
    "new_zeros_tuple": lambda x: x.new_zeros((2, 3)),
    "new_zeros_size": lambda x: x.new_zeros(size=(2,)),
    "new_ones_dtype": lambda x: x.new_ones(2, dtype=x.new_tensor([1]).long().dtype),
    "new_full": lambda x: x.new_full((2,), 3),
    "new_full_grad": lambda x: x.new_full((2,), 3.5, requires_grad=True),
    "new_empty": lambda x: x.new_empty(2),
    "new_tensor": lambda x: x.new_tensor([1, 2]),
    "new_tensor_long": lambda x: x.long().new_tensor([1.5, 2]),
    "type_as": lambda x: x.type_as(x.long()),
    "contiguous": lambda x: x.t().contiguous(),
}


@pytest.mark.parametrize("case", sorted(NEW))
def test_new_methods_are_torchs(case):
    x, tx = tg.tensor(A, dtype=tg.float32), torch.tensor(A, dtype=torch.float32)
    made, want = NEW[case](x), NEW[case](tx)
    assert _name(made.dtype) == _name(want.dtype)
    assert tuple(made.shape) == tuple(want.shape)
    assert made.requires_grad == want.requires_grad
    if case != "new_empty":
        assert made.tolist() == want.tolist()


LAYOUTS = {
    "plain": lambda t: t,
    "transposed": lambda t: t.t(),
    "sliced": lambda t: t[:, ::2],
    "row": lambda t: t[1],
    "column": lambda t: t[:, 1],
    "unsqueezed": lambda t: t.unsqueeze(1),
    "expanded": lambda t: t[0].expand(4, 3),
    "zero_d": lambda t: t[0, 0],
    "empty": lambda t: t[:0],
    "contiguous": lambda t: t.t().contiguous(),
}


@pytest.mark.parametrize("case", sorted(LAYOUTS))
def test_sizes_and_strides_are_torchs(case):
    x, tx = LAYOUTS[case](tg.tensor(A)), LAYOUTS[case](torch.tensor(A))
    assert x.stride() == tx.stride()
    assert x.is_contiguous() == tx.is_contiguous()
    assert (x.dim(), x.ndimension(), x.nelement()) == (tx.dim(), tx.ndimension(), tx.nelement())
    assert tuple(x.size()) == tuple(tx.size()) and isinstance(x.shape, tg.Size)
    for d in range(-x.dim() - 1, x.dim() + 1):
        for method in ("size", "stride"):
            got = _raises(lambda m=method, d=d: getattr(x, m)(d)) \
                if not -x.dim() <= d < x.dim() else getattr(x, method)(d)
            want = _raises(lambda m=method, d=d: getattr(tx, m)(d)) \
                if not -x.dim() <= d < x.dim() else getattr(tx, method)(d)
            assert got == want, (method, d)
    assert x.size(dim=-1 if x.dim() else None) == (tx.size(dim=-1) if tx.dim() else tx.size())


def test_numpy_force_detaches():
    x = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()
    np.testing.assert_array_equal(x.numpy(force=True), torch.ones(2).numpy(force=True))
    assert (x * 2).numpy(force=True).tolist() == [2.0, 2.0]
    with pytest.raises(TypeError):
        tg.ones(2).numpy(True)  # (force is keyword-only, as torch's)


# -- signatures ----------------------------------------------------------------------------


def _torch_signature(obj):
    try:
        return inspect.signature(obj)
    except (TypeError, ValueError):
        return None  # (a builtin without one)


SIGNED = ["set_default_dtype", "set_default_device", "get_default_device", "norm"]


@pytest.mark.parametrize("name", SIGNED)
def test_signatures_are_torchs_where_torch_has_one(name):
    want = _torch_signature(getattr(torch, name))
    made = inspect.signature(getattr(tg, name))
    assert list(made.parameters)[:len(want.parameters)] == \
        list(want.parameters)[:len(made.parameters)]


@pytest.mark.parametrize("path", ["cuda.is_available", "cuda.device_count",
                                  "cuda.manual_seed", "cuda.manual_seed_all",
                                  "backends.mps.is_available"])
def test_device_query_signatures_are_torchs(path):
    made, want = tg, torch
    for part in path.split("."):
        made, want = getattr(made, part), getattr(want, part)
    assert list(inspect.signature(made).parameters) == list(inspect.signature(want).parameters)


DOCUMENTED = {  # torch's documented parameters, where its builtins show no signature
    "add": ["input", "other", "alpha", "out"],
    "sub": ["input", "other", "alpha", "out"],
    "mul": ["input", "other", "out"],
    "matmul": ["input", "other", "out"],
    "maximum": ["input", "other", "out"],
    "sum": ["input", "dim", "keepdim", "dtype", "out"],
    "mean": ["input", "dim", "keepdim", "dtype", "out"],
    "cat": ["tensors", "dim", "out"],
    "stack": ["tensors", "dim", "out"],
    "where": ["condition", "input", "other", "out"],
    "randint": ["low", "high", "size", "generator", "dtype", "requires_grad", "device"],
    "randperm": ["n", "generator", "dtype", "requires_grad", "device"],
    "rand_like": ["input", "generator", "dtype", "requires_grad", "device"],
    "empty_like": ["input", "dtype", "requires_grad", "device"],
    "randint_like": ["input", "low", "high", "generator", "dtype", "requires_grad", "device"],
    "normal": ["mean", "std", "size", "generator", "dtype", "requires_grad", "device"],
    "get_default_dtype": [],
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_signatures_are_torchs_documented_ones(name):
    assert list(inspect.signature(getattr(tg, name)).parameters) == DOCUMENTED[name]


def test_method_signatures_hide_the_numpy_aliases():
    for name in ("sum", "mean", "max", "min", "softmax", "log_softmax", "logsumexp", "squeeze",
                 "unsqueeze"):
        params = inspect.signature(getattr(tg.Tensor, name)).parameters
        assert "axis" not in params and "keepdims" not in params, name
    assert list(inspect.signature(tg.Tensor.add).parameters) == ["self", "other", "alpha"]
    assert list(inspect.signature(tg.Tensor.new_zeros).parameters) == \
        ["self", "size", "dtype", "device", "requires_grad"]


def test_float32_default_makes_float32_parameters(float32_default):
    made, want = tg.nn.Linear(2, 3), torch.nn.Linear(2, 3)
    assert _name(made.weight.dtype) == _name(want.weight.dtype) == "float32"
    assert _name(made.bias.dtype) == _name(want.bias.dtype)


def _positional(name):
    return [p.name for p in inspect.signature(tg._FUNCTIONS[name]).parameters.values()
            if p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize("name", sorted(n for n in tg._FUNCTIONS
                                        if _positional(n) in (["input"], ["input", "other"])))
def test_every_function_takes_its_operands_by_torchs_keywords(name):
    f = tg._FUNCTIONS[name]
    x, y = tg.tensor([0.25, 0.5]), tg.tensor([0.75, 0.5])
    tx, ty = torch.tensor([0.25, 0.5]), torch.tensor([0.75, 0.5])

    def outcome(call):  # (a result's values, or the error: clamp(x) refuses, as torch's)
        try:
            return call().tolist()
        except Exception as e:  # noqa: BLE001
            return type(e)

    if _positional(name) == ["input"]:
        by_keyword, by_position = outcome(lambda: f(input=x)), outcome(lambda: f(x))
        if hasattr(torch, name):  # (torch takes the same keyword)
            assert type(outcome(lambda: getattr(torch, name)(input=tx))) is type(by_keyword)
    else:
        by_keyword, by_position = outcome(lambda: f(input=x, other=y)), outcome(lambda: f(x, y))
        if hasattr(torch, name):
            assert type(outcome(lambda: getattr(torch, name)(input=tx, other=ty))) is \
                type(by_keyword)
    if isinstance(by_keyword, list):  # (NaN where the op is undefined, acosh(0.25): equal)
        np.testing.assert_array_equal(by_keyword, by_position)
    else:
        assert by_keyword == by_position


def test_the_tensor_constructor_as_old_torch_programs_call_it():
    assert tg.Tensor(2, 3).shape == (2, 3) and tg.Tensor(2, 3).dtype == tg.get_default_dtype()
    assert tg.Tensor().shape == (0,)
    assert tg.Tensor(tg.Size([4])).shape == (4,)
    ints = tg.Tensor([1, 2])
    assert ints.dtype == tg.get_default_dtype() and ints.tolist() == [1.0, 2.0]
    assert tg.Tensor((2, 3)).tolist() == [2.0, 3.0]  # (a tuple is data, as in torch)
    with pytest.raises(TypeError, match="data must be a sequence"):
        tg.Tensor(2.5)
    from tapegrad import nn
    weight = nn.Parameter(tg.Tensor(3, 2))
    assert weight.shape == (3, 2) and weight.requires_grad
    assert tuple(torch.Tensor(2, 3).shape) == (2, 3)  # (the oracle's own behaviour)
    assert torch.Tensor([1, 2]).dtype.is_floating_point
