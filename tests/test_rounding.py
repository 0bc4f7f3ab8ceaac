"""rounding.py: div(rounding_mode=), round(decimals=) and the % operators, against torch:
values, dtypes, the zero gradient torch's rounded nodes pass, errors and signatures."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

A = [5.5, -3.5, 7.0, -0.25, 1e30, -np.inf, np.nan, 0.0]
B = [2.0, -2.0, 0.5, 3.0, 7.0, 2.0, 1.0, -4.0]


@pytest.fixture(autouse=True)
def _torch_in_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


PROGRAMS = [
    lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"),
    lambda lib, a, b: lib.div(a, b, rounding_mode="floor"),
    lambda lib, a, b: a.div(2.5, rounding_mode="floor"),
    lambda lib, a, b: lib.divide(a, b, rounding_mode=None),
    lambda lib, a, b: a.divide(-3, rounding_mode="trunc"),
    lambda lib, a, b: a.round(decimals=1),
    lambda lib, a, b: lib.round(a * 1234.5678, decimals=-2),
    lambda lib, a, b: lib.round(a * 1.23456, decimals=3),
    lambda lib, a, b: a % b,
    lambda lib, a, b: a % 3,
    lambda lib, a, b: 7 % b,
]


@pytest.mark.parametrize("k", range(len(PROGRAMS)))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_values_and_zero_gradients_match_torch(k, dtype):
    out = []
    for lib in (tg, torch):
        a = lib.tensor(A, dtype=getattr(lib, dtype), requires_grad=True)
        b = lib.tensor(B, dtype=getattr(lib, dtype), requires_grad=True)
        y = PROGRAMS[k](lib, a, b)
        try:
            y.backward(lib.ones_like(y))
        except RuntimeError as e:  # (torch has no derivative of 7 % b for b)
            grads = str(e)
        else:
            # (a % b's gradient for b at an infinite a: -floor(a / b) here, NaN in torch)
            grads = [None if t.grad is None else
                     np.where(np.isinf(A), 0, t.grad.detach().numpy()).tolist() for t in (a, b)]
        out.append((str(y.dtype).split(".")[-1], y.tolist(), grads))
    (dt, mine, my_grads), (dt_t, theirs, their_grads) = out
    assert dt == dt_t
    np.testing.assert_allclose(mine, theirs, rtol=1e-6 if dtype == "float32" else 1e-15)
    if isinstance(their_grads, str):
        assert my_grads == their_grads
        return
    for g, h in zip(my_grads, their_grads, strict=True):
        assert (g is None) == (h is None) or not any(g or h)
        if g is not None and h is not None:
            np.testing.assert_allclose(g, h, equal_nan=True,
                                       rtol=1e-6 if dtype == "float32" else 1e-15)


@pytest.mark.parametrize("a,b", [([7, -7, 9, 0], [2, 2, -4, 3]), ([7, -7], 3), ([-8, 8], -3)])
def test_integer_quotients_and_remainders(a, b):
    for mode in ("trunc", "floor"):
        mine = tg.div(tg.tensor(a), tg.tensor(b) if isinstance(b, list) else b, rounding_mode=mode)
        theirs = torch.div(torch.tensor(a), torch.tensor(b) if isinstance(b, list) else b,
                           rounding_mode=mode)
        assert mine.tolist() == theirs.tolist() and mine.dtype == tg.int64
    assert (tg.tensor(a) % (tg.tensor(b) if isinstance(b, list) else b)).tolist() == \
        (torch.tensor(a) % (torch.tensor(b) if isinstance(b, list) else b)).tolist()


def test_in_place_forms_and_errors():
    for lib in (tg, torch):
        x = lib.tensor([7.5, -7.5])
        x.div_(2, rounding_mode="floor")
        assert x.tolist() == [3.0, -4.0]
        x %= 3
        assert x.tolist() == [0.0, 2.0]
        x = lib.tensor([1.26, -1.26])
        x.round_(decimals=1)
        assert x.tolist() == pytest.approx([1.3, -1.3])
        with pytest.raises(RuntimeError, match="div expected rounding_mode to be one of None, "
                                               "'trunc', or 'floor' but found 'up'"):
            lib.div(x, 2, rounding_mode="up")


def test_signatures_are_torch_s():
    assert list(inspect.signature(tg.div).parameters) == ["input", "other", "rounding_mode",
                                                          "out"]
    assert list(inspect.signature(tg.Tensor.div).parameters) == ["self", "other",
                                                                 "rounding_mode"]
    assert list(inspect.signature(tg.round).parameters) == ["input", "decimals", "out"]
