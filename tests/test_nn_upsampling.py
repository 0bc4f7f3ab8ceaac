"""F.interpolate and nn.Upsample against torch: values and input gradients for every mode,
size and scale_factor (torch's coordinate rules), align_corners, recompute_scale_factor;
finite differences; torch's errors."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(4)
X3, X4, X5 = RNG.random((2, 3, 5)), RNG.random((2, 3, 5, 7)), RNG.random((1, 2, 3, 4, 5))

CASES = [
    (X3, dict(scale_factor=2)), (X3, dict(size=8)), (X3, dict(size=3)),
    (X3, dict(scale_factor=1.7)), (X3, dict(size=8, mode="linear")),
    (X3, dict(size=8, mode="linear", align_corners=True)),
    (X3, dict(scale_factor=1.5, mode="linear")), (X3, dict(size=3, mode="nearest-exact")),
    (X3, dict(scale_factor=0.4, mode="nearest-exact")),
    (X4, dict(scale_factor=2, mode="bilinear")),
    (X4, dict(size=(4, 11), mode="bilinear", align_corners=True)),
    (X4, dict(scale_factor=(2, 0.5))), (X4, dict(size=(3, 3), mode="bilinear")),
    (X4, dict(size=(1, 1), mode="bilinear", align_corners=True)),
    (X5, dict(scale_factor=2, mode="trilinear")), (X5, dict(size=(2, 5, 9))),
    (X4, dict(scale_factor=2.3, mode="bilinear", recompute_scale_factor=True)),
]


@pytest.mark.parametrize("x,kwargs", CASES, ids=[str(k) for _, k in CASES])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_interpolate_matches_torch(x, kwargs, dtype):
    out = []
    weights = None
    for lib in (tg, torch):
        t = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
        y = lib.nn.functional.interpolate(t, **kwargs)
        if weights is None:
            weights = RNG.random(tuple(y.shape))
        (y * lib.tensor(weights, dtype=getattr(lib, dtype))).sum().backward()
        out.append((y.detach().numpy(), t.grad.numpy(), str(y.dtype).split(".")[-1]))
    (y1, g1, d1), (y2, g2, d2) = out
    assert d1 == d2 and y1.shape == y2.shape
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(y1, y2, rtol=tol, atol=tol)
    np.testing.assert_allclose(g1, g2, rtol=tol, atol=tol)


def test_upsample_module_and_finite_differences():
    up = tg.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    assert repr(up) == repr(torch.nn.Upsample(scale_factor=2, mode="bilinear",
                                              align_corners=False))
    x0 = RNG.random((1, 1, 3, 2))
    w = RNG.random((1, 1, 6, 4))
    x = tg.tensor(x0, requires_grad=True)
    (up(x) * tg.tensor(w)).sum().backward()
    h, fd = 1e-6, np.zeros(x0.size)
    for i in range(x0.size):
        e = np.zeros(x0.size)
        e[i] = h
        e = e.reshape(x0.shape)
        fd[i] = ((up(tg.tensor(x0 + e)).numpy() * w).sum()
                 - (up(tg.tensor(x0 - e)).numpy() * w).sum()) / (2 * h)
    np.testing.assert_allclose(x.grad.numpy().reshape(-1), fd, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.functional.interpolate(lib.ones(1, 1, 4), size=2, scale_factor=2),
    lambda lib: lib.nn.functional.interpolate(lib.ones(1, 1, 4), scale_factor=2,
                                              align_corners=True),
    lambda lib: lib.nn.functional.interpolate(lib.ones(1, 1, 4, 4), size=(2, 2, 2)),
])
def test_errors_are_torch_s(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as mine:
        call(tg)
    assert str(mine.value).splitlines()[0] == str(theirs.value).splitlines()[0]
