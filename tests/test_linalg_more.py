"""tapegrad.linalg's second group (torch.linalg's remaining names): torch 2.13 is the oracle for
values, gradients, second derivatives, node names, result tuples and error messages; central
finite differences (gradcheck, gradgradcheck) check gradients independently of torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

INF = float("inf")


def _input(kind: str, seed: int, dtype=np.float64) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = {"square": (2, 4, 4), "spd": (2, 4, 4), "tall": (2, 5, 3), "wide": (2, 3, 5),
             "small": (2, 3, 3), "plain": (2, 4, 4)}[kind]
    a = rng.standard_normal(shape)
    if kind in ("square", "small"):
        a = a + shape[-1] * np.eye(shape[-1])
    if kind == "spd":
        a = a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])
    return a.astype(dtype)


def _numpy(t):
    if t is None:
        return None
    return t.numpy(force=True) if isinstance(t, torch.Tensor) else t.detach().numpy()


def _quiet(f, *args, **kwargs):
    """(torch.triangular_solve warns that it is deprecated)"""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return f(*args, **kwargs)


def _lu_solve(lib, a, b, **kw):
    LU, pivots = lib.linalg.lu_factor(a)
    return lib.linalg.lu_solve(LU, pivots, b, **kw)


# name -> (function of the library and one tensor, input kind, whether the node name is torch's)
CASES = {
    "matrix_power_3": (lambda lib, a: lib.linalg.matrix_power(a, 3), "square", False),
    "matrix_power_-2": (lambda lib, a: lib.linalg.matrix_power(a, -2), "square", False),
    "matrix_power_1": (lambda lib, a: lib.linalg.matrix_power(a, 1), "square", True),
    "matrix_power_6": (lambda lib, a: lib.linalg.matrix_power(a * 0.3, 6), "square", False),
    "top_matrix_power": (lambda lib, a: lib.matrix_power(a, 2), "square", False),
    "matrix_exp": (lambda lib, a: lib.linalg.matrix_exp(a * 0.2), "square", True),
    # (skew-symmetric, of 1-norm above Pade 13's theta: scaled and squared, with an orthogonal
    # value, so that float32's second derivative through sin(g) stays well-conditioned)
    "matrix_exp_scaled": (lambda lib, a: lib.linalg.matrix_exp((a - a.mT) * 2), "square", True),
    "top_matrix_exp": (lambda lib, a: lib.matrix_exp(a - 4), "square", True),
    "solve_triangular_upper": (lambda lib, a: lib.linalg.solve_triangular(
        a, a[..., :2] * 2 + 1, upper=True), "square", True),
    "solve_triangular_lower": (lambda lib, a: lib.linalg.solve_triangular(
        a, a[..., :2] ** 2, upper=False), "square", True),
    "solve_triangular_right": (lambda lib, a: lib.linalg.solve_triangular(
        a, a[..., :3, :] - 1, upper=True, left=False), "square", True),
    "solve_triangular_unit": (lambda lib, a: lib.linalg.solve_triangular(
        a * 0.5, a[..., :1] + 2, upper=False, unitriangular=True), "square", True),
    "solve_triangular_right_unit": (lambda lib, a: lib.linalg.solve_triangular(
        a, a[..., :2, :] * 3, upper=False, left=False, unitriangular=True), "square", True),
    "triangular_solve": (lambda lib, a: (lambda r: r.solution.sum(-1) + r.cloned_coefficient[
        ..., 0] ** 2)(_quiet(lib.triangular_solve, a[..., :2] + 1, a)), "square", False),
    "triangular_solve_t": (lambda lib, a: _quiet(lib.triangular_solve, a[..., :2] + 1, a,
                                                 upper=False, transpose=True)[0],
                           "square", True),
    "triangular_solve_unit": (lambda lib, a: _quiet(
        lib.triangular_solve, a[..., :2] + 1, a, transpose=True, unitriangular=True)[0],
        "square", True),
    "cholesky_solve": (lambda lib, a: lib.cholesky_solve(a[..., :2] + 1, lib.linalg.cholesky(a)),
                       "spd", True),
    "cholesky_solve_upper": (lambda lib, a: lib.cholesky_solve(
        a[..., :1] * 2, lib.linalg.cholesky(a, upper=True), upper=True), "spd", True),
    "cholesky_solve_full_factor": (lambda lib, a: lib.cholesky_solve(a[..., :2], a), "square",
                                   True),
    "cholesky_inverse": (lambda lib, a: lib.cholesky_inverse(a), "square", True),
    "cholesky_inverse_upper": (lambda lib, a: lib.cholesky_inverse(a, upper=True), "square",
                               True),
    "inv_ex": (lambda lib, a: lib.linalg.inv_ex(a).inverse, "square", True),
    "solve_ex": (lambda lib, a: lib.linalg.solve_ex(a, a[..., 0] + 1).result, "square", True),
    "solve_ex_right": (lambda lib, a: lib.linalg.solve_ex(a, a[..., :2, :], left=False)[0],
                       "square", True),
    "cholesky_ex": (lambda lib, a: lib.linalg.cholesky_ex(a).L, "spd", True),
    "cholesky_ex_upper": (lambda lib, a: lib.linalg.cholesky_ex(a, upper=True)[0], "spd", True),
    "lu_factor": (lambda lib, a: lib.linalg.lu_factor(a).LU, "square", True),
    "lu_factor_tall": (lambda lib, a: lib.linalg.lu_factor(a).LU, "tall", True),
    "lu_factor_wide": (lambda lib, a: lib.linalg.lu_factor(a).LU, "wide", True),
    "lu_factor_ex": (lambda lib, a: lib.linalg.lu_factor_ex(a)[0], "square", True),
    # ("plain": not diagonally dominant, so that partial pivoting swaps rows)
    "lu_factor_plain": (lambda lib, a: lib.linalg.lu_factor(a).LU, "plain", True),
    "lu_both_plain": (lambda lib, a: (lambda r: r.L * r.U)(lib.linalg.lu(a)), "plain", True),
    "lu_solve_plain": (lambda lib, a: _lu_solve(lib, a, a[..., :2] + 1), "plain", False),
    "lu_solve_plain_adjoint_right": (lambda lib, a: _lu_solve(lib, a, a[..., :2, :], left=False,
                                                              adjoint=True), "plain", False),
    "lu_L": (lambda lib, a: lib.linalg.lu(a).L, "square", True),
    "lu_U": (lambda lib, a: lib.linalg.lu(a).U, "square", True),
    "lu_both": (lambda lib, a: (lambda r: r.L * r.U)(lib.linalg.lu(a)), "square", True),
    "lu_L_tall": (lambda lib, a: lib.linalg.lu(a).L, "tall", True),
    "lu_U_tall": (lambda lib, a: lib.linalg.lu(a).U, "tall", True),
    "lu_both_tall": (lambda lib, a: (lambda r: r.L.sum(-2) * r.U.sum(-1))(lib.linalg.lu(a)),
                     "tall", False),
    "lu_L_wide": (lambda lib, a: lib.linalg.lu(a).L, "wide", True),
    "lu_U_wide": (lambda lib, a: lib.linalg.lu(a).U, "wide", True),
    "lu_both_wide": (lambda lib, a: (lambda r: r.L.sum(-2) * r.U.sum(-1))(lib.linalg.lu(a)),
                     "wide", False),
    "lu_solve": (lambda lib, a: _lu_solve(lib, a, a[..., :2] + 1), "square", False),
    "lu_solve_adjoint": (lambda lib, a: _lu_solve(lib, a, a[..., :2] ** 2, adjoint=True),
                         "square", False),
    "lu_solve_right": (lambda lib, a: _lu_solve(lib, a, a[..., :3, :] * 2, left=False),
                       "square", False),
    "lu_solve_right_adjoint": (lambda lib, a: _lu_solve(lib, a, a[..., :1, :] - 1, left=False,
                                                        adjoint=True), "square", False),
    "top_lu": (lambda lib, a: _quiet(lib.lu, a)[0], "plain", True),
    "top_lu_unpack": (lambda lib, a: (lambda r: r.L * r.U + r.P)(
        lib.lu_unpack(*lib.linalg.lu_factor(a))), "plain", False),
    "top_lu_unpack_tall": (lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a)).L, "tall",
                           False),
    "top_lu_unpack_wide": (lambda lib, a: lib.lu_unpack(*lib.linalg.lu_factor(a)).U, "wide",
                           False),
    "top_lu_solve": (lambda lib, a: _quiet(lib.lu_solve, a[..., :2] + 1, *lib.linalg.lu_factor(a)),
                     "plain", False),
    "top_vander": (lambda lib, a: lib.vander(a[0, 0]), "square", False),
    "top_vander_increasing": (lambda lib, a: lib.vander(a[0, 0] * 0.5, N=6, increasing=True),
                              "square", False),
    "top_orgqr": (lambda lib, a: lib.orgqr(a, a[..., 0, :2] * 0.5), "tall", False),
    **{f"cond_{p}": (lambda lib, a, p=p: lib.linalg.cond(a, p), "square", False)
       for p in (None, 2, -2, "fro", "nuc", 1, -1, INF, -INF)},
    "cond_tall": (lambda lib, a: lib.linalg.cond(a), "tall", False),
    "multi_dot": (lambda lib, a: lib.linalg.multi_dot([a[0], a[1][:, :2], a[0][:2] * 2]),
                  "square", False),
    "multi_dot_vectors": (lambda lib, a: lib.linalg.multi_dot([a[0, 0], a[0], a[1], a[1, :, 0]]),
                          "square", False),
    "multi_dot_first_vector": (lambda lib, a: lib.linalg.multi_dot([a[0, :, 0], a[1], a[0].mT]),
                               "tall", False),
    "matmul": (lambda lib, a: lib.linalg.matmul(a, a.mT), "tall", False),
    "vecdot": (lambda lib, a: lib.linalg.vecdot(a, a[..., :1, :] * 2), "square", True),
    "vecdot_dim": (lambda lib, a: lib.linalg.vecdot(a, a[:1] - 1, dim=0), "square", True),
    "diagonal": (lambda lib, a: lib.linalg.diagonal(a, offset=1), "wide", True),
    "diagonal_dims": (lambda lib, a: lib.linalg.diagonal(a, offset=-1, dim1=0, dim2=2), "tall",
                      True),
    "vander": (lambda lib, a: lib.linalg.vander(a[..., 0]), "square", False),
    "vander_N": (lambda lib, a: lib.linalg.vander(a[..., 0, :] * 0.5, N=6), "square", False),
    "tensorinv": (lambda lib, a: lib.linalg.tensorinv(a[0].reshape(2, 2, 4)), "square", False),
    "tensorinv_ind1": (lambda lib, a: lib.linalg.tensorinv(a[1].reshape(4, 2, 2), ind=1),
                       "square", False),
    "tensorsolve": (lambda lib, a: lib.linalg.tensorsolve(a[0].reshape(4, 2, 2), a[1, 0]),
                    "square", False),
    "tensorsolve_dims": (lambda lib, a: lib.linalg.tensorsolve(
        a[0].reshape(2, 2, 2, 2), a[1, :2, :2], dims=(0,)), "square", False),
    "householder_product": (lambda lib, a: lib.linalg.householder_product(
        a, a[..., 0, :2] * 0.5), "tall", False),
    "householder_product_square": (lambda lib, a: lib.linalg.householder_product(
        a * 0.3, a[..., 1, :] * 0.2), "square", False),
    "pinv_atol": (lambda lib, a: lib.linalg.pinv(a, atol=1.0), "tall", True),
    "pinv_rtol": (lambda lib, a: lib.linalg.pinv(a, rtol=0.1), "wide", True),
    "pinv_hermitian": (lambda lib, a: lib.linalg.pinv(a + a.mT, hermitian=True), "square",
                       True),
    "lstsq_vector": (lambda lib, a: lib.linalg.lstsq(a, a[..., 0] ** 2).solution, "tall", True),
    "lstsq_gelsd": (lambda lib, a: (lambda r: r.solution.sum(-2) * 2 + r.residuals)(
        lib.linalg.lstsq(a, a[..., :2] + 1, driver="gelsd")), "tall", False),
    "lstsq_gels_vector": (lambda lib, a: (lambda r: r.solution.sum(-1, keepdim=True)
                                          + r.residuals)(
        lib.linalg.lstsq(a, a[..., 1] - 1, driver="gels")), "tall", False),
    "lstsq_wide_rcond": (lambda lib, a: lib.linalg.lstsq(a, a[..., :1], rcond=1e-3,
                                                         driver="gelss").solution, "wide", True),
}


# torch 2.13 cannot differentiate these (its cond saves inv_ex's output and then changes it in
# place): their values are compared with torch's, their derivatives checked by gradcheck and
# gradgradcheck
NO_TORCH_GRAD = {f"cond_{p}" for p in ("fro", 1, -1, INF, -INF)}
# (nor torch.vander: its backward fails the same way)
NO_TORCH_GRAD |= {"top_vander", "top_vander_increasing"}


def _run(name, lib, a, w_seed=7):
    """Value, gradient (create_graph) and the gradient of a function of that gradient."""
    f = CASES[name][0]
    A = lib.tensor(a, requires_grad=True)
    y = f(lib, A)
    w = lib.tensor(np.random.default_rng(w_seed).standard_normal(tuple(y.shape)).astype(a.dtype))
    if name in NO_TORCH_GRAD:
        return y.grad_fn.name(), [_numpy(y)]
    (g,) = lib.autograd.grad((y * w).sum(), A, create_graph=True)
    if not g.requires_grad:  # (a linear function: its gradient is a constant)
        return y.grad_fn.name(), [_numpy(t) for t in (y, g)]
    (gg,) = lib.autograd.grad((g * g.sin()).sum(), A)
    return y.grad_fn.name(), [_numpy(t) for t in (y, g, gg)]


@pytest.mark.parametrize("name", list(CASES))
def test_values_gradients_and_second_derivatives_as_torch(name):
    a = _input(CASES[name][1], 1)
    expected_name, expected = _run(name, torch, a)
    got_name, got = _run(name, tg, a)
    if CASES[name][2]:
        assert got_name == expected_name
    for e, g in zip(expected, got, strict=True):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", list(CASES))
def test_float32_as_torch(name):
    a = _input(CASES[name][1], 2, np.float32)
    _, expected = _run(name, torch, a)
    _, got = _run(name, tg, a)
    for e, g in zip(expected, got, strict=True):
        assert g.dtype == np.float32 and g.shape == e.shape
        scale = max(1.0, float(np.abs(e).max()))
        np.testing.assert_allclose(g, e, rtol=2e-3, atol=2e-4 * scale)


# torch's gradients w.r.t. a Cholesky factor are those of L L^T (U^T U) over the whole matrix,
# although the forward reads one triangle: finite differences agree on triangular factors
TRIANGULAR_FACTOR = {"cholesky_solve_full_factor": "tril", "cholesky_inverse": "tril",
                     "cholesky_inverse_upper": "triu"}


def _prepared(name, kind, x):
    if kind == "spd":  # (a Cholesky factor reads one triangle: its gradient is symmetric)
        return (x + x.mT) * 0.5
    if name in TRIANGULAR_FACTOR:
        return getattr(x, TRIANGULAR_FACTOR[name])()
    return x


# torch's pinv gradient is that of the pseudo-inverse without the singular values its atol
# drops (compared with torch above): finite differences of the truncated one disagree
@pytest.mark.parametrize("name", [n for n in CASES if n != "pinv_atol"])
def test_gradcheck(name):
    f, kind, _ = CASES[name]
    A = tg.tensor(_input(kind, 3), requires_grad=True)

    def func(x):
        return f(tg, _prepared(name, kind, x))

    assert tg.autograd.gradcheck(func, (A,))


@pytest.mark.parametrize("name", ["matrix_exp", "matrix_exp_scaled", "matrix_power_3",
                                  "matrix_power_-2", "solve_triangular_upper",
                                  "solve_triangular_right_unit", "lu_factor_tall", "lu_both_wide",
                                  "lu_solve_adjoint", "cholesky_solve_full_factor",
                                  *sorted(NO_TORCH_GRAD)])
def test_gradgradcheck(name):
    f, kind, _ = CASES[name]
    A = tg.tensor(_input(kind, 4)[:1, :, :], requires_grad=True)
    assert tg.autograd.gradgradcheck(lambda x: f(tg, _prepared(name, kind, x)), (A,))


@pytest.mark.parametrize("a_batch, b_batch", [((), (2,)), ((2, 1), (4,))])
def test_two_argument_gradients_and_broadcast_batches_as_torch(a_batch, b_batch):
    rng = np.random.default_rng(5)
    a = rng.standard_normal(a_batch + (3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal(b_batch + (3, 2))
    programs = [
        lambda lib, A, B: lib.linalg.solve_triangular(A, B, upper=True),
        lambda lib, A, B: lib.linalg.solve_triangular(A, B.mT, upper=False, left=False),
        lambda lib, A, B: _quiet(lib.triangular_solve, B, A, transpose=True)[0],
        lambda lib, A, B: lib.cholesky_solve(B, A.tril()),
        lambda lib, A, B: _lu_solve(lib, A, B),
        lambda lib, A, B: _lu_solve(lib, A, B.mT, left=False, adjoint=True),
        lambda lib, A, B: lib.linalg.solve_ex(A, B).result,
        lambda lib, A, B: lib.linalg.lstsq(A.expand(B.shape[:-2] + (3, 3)) if A.ndim == 2
                                           else A[0].expand(4, 3, 3), B,
                                           driver="gelsd").solution,
    ]
    for program in programs:
        results = []
        for lib in (torch, tg):
            A = lib.tensor(a, requires_grad=True)
            B = lib.tensor(b, requires_grad=True)
            x = program(lib, A, B)
            (x * x.sin()).sum().backward()
            results.append([_numpy(t) for t in (x, A.grad, B.grad)])
        for e, g in zip(*results, strict=True):
            np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-11)
        A = tg.tensor(a, requires_grad=True)
        B = tg.tensor(b, requires_grad=True)
        assert tg.autograd.gradcheck(lambda x, y, p=program: p(tg, x, y), (A, B))


def test_matrix_power_zero_and_int_as_torch():
    a = _input("small", 6)
    for lib in (torch, tg):
        A = lib.tensor(a, requires_grad=True)
        y = lib.linalg.matrix_power(A, 0)
        np.testing.assert_array_equal(_numpy(y), np.broadcast_to(np.eye(3), a.shape))
        y.sum().backward()
        np.testing.assert_array_equal(_numpy(A.grad), np.zeros(a.shape))
    m = np.array([[1, 2], [3, 4]])
    e = torch.linalg.matrix_power(torch.tensor(m), 3)
    g = tg.linalg.matrix_power(tg.tensor(m), 3)
    assert g.dtype == tg.int64
    np.testing.assert_array_equal(g.numpy(), e.numpy())


@pytest.mark.parametrize("scale", [0.0, 1e-3, 0.5, 3.0, 40.0, 300.0])
def test_matrix_exp_accuracy_across_scales_as_torch(scale):
    a = np.random.default_rng(8).standard_normal((3, 5, 5)) * scale
    e = torch.linalg.matrix_exp(torch.tensor(a)).numpy()
    g = tg.linalg.matrix_exp(tg.tensor(a)).numpy()
    np.testing.assert_allclose(g, e, rtol=1e-10 * max(1.0, scale), atol=1e-13)
    # (and the closed forms: a diagonal matrix, a rotation)
    d = np.diag([0.0, scale, -scale])
    np.testing.assert_allclose(tg.linalg.matrix_exp(tg.tensor(d)).numpy(), np.diag(np.exp(
        np.diag(d))), rtol=1e-13)
    r = tg.linalg.matrix_exp(tg.tensor([[0.0, -scale], [scale, 0.0]])).numpy()
    c, s = np.cos(scale), np.sin(scale)
    np.testing.assert_allclose(r, [[c, -s], [s, c]], rtol=1e-12, atol=1e-12)


def test_matrix_exp_of_empty_and_nonfinite_matrices_as_torch():
    for shape in [(0, 0), (2, 0, 0), (0, 3, 3)]:
        e = torch.linalg.matrix_exp(torch.zeros(shape, dtype=torch.float64))
        g = tg.linalg.matrix_exp(tg.zeros(shape))
        assert tuple(g.shape) == tuple(e.shape)
    g = tg.linalg.matrix_exp(tg.tensor([[np.nan, 0.0], [0.0, 1.0]])).numpy()
    assert np.isnan(g).any()


def test_solve_triangular_zero_diagonal_gives_inf_and_nan_as_torch():
    a = np.triu(_input("small", 9)[0])
    a[2, 2] = 0.0
    b = np.ones((3, 2))
    e = torch.linalg.solve_triangular(torch.tensor(a), torch.tensor(b), upper=True).numpy()
    g = tg.linalg.solve_triangular(tg.tensor(a), tg.tensor(b), upper=True).numpy()
    np.testing.assert_array_equal(np.isinf(g), np.isinf(e))
    np.testing.assert_array_equal(np.isnan(g), np.isnan(e))


def test_solve_triangular_reads_one_triangle_and_casts_b_as_torch():
    a = _input("small", 10)
    b = np.random.default_rng(10).standard_normal((2, 3, 2))
    for upper in (True, False):
        for unit in (True, False):
            e = torch.linalg.solve_triangular(torch.tensor(a), torch.tensor(b), upper=upper,
                                              unitriangular=unit).numpy()
            g = tg.linalg.solve_triangular(tg.tensor(a), tg.tensor(b), upper=upper,
                                           unitriangular=unit).numpy()
            np.testing.assert_allclose(g, e, rtol=1e-12)
    e = torch.linalg.solve_triangular(torch.tensor(a, dtype=torch.float32), torch.tensor(b),
                                      upper=True)
    g = tg.linalg.solve_triangular(tg.tensor(a, dtype=tg.float32), tg.tensor(b), upper=True)
    assert g.dtype == tg.float32 and e.dtype == torch.float32
    np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-5)


SINGULAR = np.array([[[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 1.0]],
                     [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]]])
NOT_PD = np.array([[[4.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
                   [[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0]]])


def test_ex_variants_info_as_torch():
    for lib_f in [lambda lib: lib.linalg.inv_ex(lib.tensor(SINGULAR)).info,
                  lambda lib: lib.linalg.inv_ex(lib.tensor(SINGULAR[::-1].copy())).info,
                  lambda lib: lib.linalg.solve_ex(lib.tensor(SINGULAR),
                                                 lib.ones(2, 3, dtype=lib.float64)).info,
                  lambda lib: lib.linalg.cholesky_ex(lib.tensor(NOT_PD)).info,
                  lambda lib: lib.linalg.cholesky_ex(lib.tensor(-NOT_PD[1])).info,
                  lambda lib: lib.linalg.lu_factor_ex(lib.tensor(SINGULAR)).info,
                  lambda lib: lib.linalg.lu_factor_ex(lib.zeros(2, 3, 3)).info,
                  lambda lib: lib.linalg.lu_factor_ex(lib.tensor(SINGULAR)).pivots,
                  lambda lib: lib.linalg.inv_ex(lib.tensor(SINGULAR[1])).info]:
        e, g = lib_f(torch), lib_f(tg)
        assert g.dtype == tg.int32 and e.dtype == torch.int32
        np.testing.assert_array_equal(g.numpy(), e.numpy())
    # the regular matrices of the batch are solved as torch's
    e = torch.linalg.inv_ex(torch.tensor(SINGULAR)).inverse[1].numpy()
    np.testing.assert_allclose(tg.linalg.inv_ex(tg.tensor(SINGULAR)).inverse[1].numpy(), e)
    e = torch.linalg.cholesky_ex(torch.tensor(NOT_PD)).L[1].numpy()
    np.testing.assert_allclose(tg.linalg.cholesky_ex(tg.tensor(NOT_PD)).L[1].numpy(), e)
    # and a non-positive-definite matrix's partial factor is LAPACK's, as torch's
    e = torch.linalg.cholesky_ex(torch.tensor(NOT_PD[0])).L.numpy()
    np.testing.assert_allclose(tg.linalg.cholesky_ex(tg.tensor(NOT_PD[0])).L.numpy(), e)


def test_ex_tuples_and_node_names_as_torch():
    a = _input("spd", 11)
    for f in [lambda lib, A: lib.linalg.inv_ex(A), lambda lib, A: lib.linalg.cholesky_ex(A),
              lambda lib, A: lib.linalg.solve_ex(A, A[..., 0]),
              lambda lib, A: lib.linalg.lu_factor_ex(A), lambda lib, A: lib.linalg.lu_factor(A),
              lambda lib, A: lib.linalg.lu(A)]:
        expected = f(torch, torch.tensor(a, requires_grad=True))
        got = f(tg, tg.tensor(a, requires_grad=True))
        assert type(got).__name__ == type(expected).__name__
        assert len(got) == len(expected)
        for e, g in zip(expected, got, strict=True):
            assert tuple(g.shape) == tuple(e.shape)
            assert g.dtype.name == str(e.dtype).split(".")[-1] or (
                str(g.dtype).split(".")[-1] == str(e.dtype).split(".")[-1])
            assert g.requires_grad == e.requires_grad
            if e.grad_fn is not None:
                assert g.grad_fn.name() == e.grad_fn.name()
    r = _quiet(tg.triangular_solve, tg.ones(3, 1), tg.eye(3))
    assert type(r).__name__ == "triangular_solve"
    assert r._fields == ("solution", "cloned_coefficient")


def test_matrix_rank_as_torch():
    rng = np.random.default_rng(12)
    low = rng.standard_normal((3, 5, 2)) @ rng.standard_normal((3, 2, 4))  # rank 2
    sym = low[0, :4] @ low[0, :4].T
    cases = [
        lambda lib: lib.linalg.matrix_rank(lib.tensor(low)),
        lambda lib: lib.linalg.matrix_rank(lib.tensor(low), atol=1.0),
        lambda lib: lib.linalg.matrix_rank(lib.tensor(low), rtol=0.3),
        lambda lib: lib.linalg.matrix_rank(lib.tensor(low), atol=0.5, rtol=0.2),
        lambda lib: lib.linalg.matrix_rank(lib.tensor(low), atol=lib.tensor([0.0, 1e3, 1.0])),
        lambda lib: lib.linalg.matrix_rank(lib.tensor(sym), hermitian=True),
        lambda lib: lib.linalg.matrix_rank(lib.tensor(-sym), hermitian=True, rtol=0.5),
        lambda lib: lib.linalg.matrix_rank(lib.tensor(low, dtype=lib.float32)),
        lambda lib: lib.linalg.matrix_rank(lib.zeros(2, 0, 3)),
        lambda lib: lib.linalg.matrix_rank(lib.eye(3) * 1e-20),
    ]
    for f in cases:
        e, g = f(torch), f(tg)
        assert g.dtype == tg.int64 and tuple(g.shape) == tuple(e.shape)
        np.testing.assert_array_equal(g.numpy(), e.numpy())


@pytest.mark.parametrize("driver", [None, "gels", "gelsy", "gelsd", "gelss"])
@pytest.mark.parametrize("kind", ["tall", "wide", "vector", "deficient"])
def test_lstsq_results_as_torch(driver, kind):
    rng = np.random.default_rng(13)
    a = rng.standard_normal((2, 5, 3) if kind != "wide" else (2, 3, 5))
    if kind == "deficient":
        a[0, :, 2] = a[0, :, 0] + a[0, :, 1]
    b = rng.standard_normal(a.shape[:-1] if kind == "vector" else a.shape[:-1] + (2,))
    if kind == "deficient" and driver in (None, "gelsy", "gels"):
        pytest.skip("rank-deficient: torch's 'gelsy' is not the minimum-norm solution, and "
                    "'gels' assumes full rank")
    e = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver=driver)
    g = tg.linalg.lstsq(tg.tensor(a), tg.tensor(b), driver=driver)
    assert type(g).__name__ == "linalg_lstsq"
    for field in ("solution", "residuals", "rank", "singular_values"):
        ge, gg = getattr(e, field), getattr(g, field)
        assert tuple(gg.shape) == tuple(ge.shape), field
        assert str(gg.dtype).split(".")[-1] == str(ge.dtype).split(".")[-1], field
        np.testing.assert_allclose(_numpy(gg), _numpy(ge), rtol=1e-9, atol=1e-11)


def test_pinv_tolerances_as_torch():
    rng = np.random.default_rng(14)
    a = rng.standard_normal((3, 4, 3))
    s = np.linalg.svd(a, compute_uv=False)
    for kw in [dict(atol=float(s[0, 1] + s[0, 2]) / 2), dict(rtol=0.5), dict(atol=0.1, rtol=0.9),
               dict(atol=torch.tensor([0.0, 10.0, 1.0])), dict(rtol=0.0), dict(atol=-1.0)]:
        e = torch.linalg.pinv(torch.tensor(a), **kw).numpy()
        tkw = {k: tg.tensor(v.numpy()) if isinstance(v, torch.Tensor) else v
               for k, v in kw.items()}
        g = tg.linalg.pinv(tg.tensor(a), **tkw).numpy()
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)


def test_eig_and_ldl_raise_not_implemented():
    A = tg.eye(2)
    for f, word in [(tg.linalg.eig, "eig"), (tg.linalg.eigvals, "eigvals"),
                    (tg.linalg.ldl_factor, "ldl_factor"),
                    (tg.linalg.ldl_factor_ex, "ldl_factor_ex")]:
        with pytest.raises(NotImplementedError, match=f"tapegrad.linalg.{word}:"):
            f(A)
    with pytest.raises(NotImplementedError, match="complex"):
        tg.linalg.eig(A)
    with pytest.raises(NotImplementedError, match="ldl_solve"):
        tg.linalg.ldl_solve(A, tg.tensor([1, 2], dtype=tg.int32), A)


def test_every_torch_linalg_name_exists():
    missing = [n for n in dir(torch.linalg) if not n.startswith("_") and n != "common_notes"
               and not hasattr(tg.linalg, n)]
    assert missing == []
    for name in ("matrix_power", "matrix_exp", "cholesky_solve", "cholesky_inverse",
                 "triangular_solve", "lu", "lu_unpack", "lu_solve", "vander", "orgqr"):
        assert callable(getattr(tg, name)) and hasattr(torch, name)


def test_signatures_as_torchs():
    import inspect

    expected = {
        "matrix_power": "(A, n)", "multi_dot": "(tensors)", "vecdot": "(x, y, *, dim=-1)",
        "diagonal": "(A, *, offset=0, dim1=-2, dim2=-1)", "vander": "(x, N=None)",
        "matrix_exp": "(A)", "matrix_rank": "(A, *, atol=None, rtol=None, hermitian=False)",
        "solve_triangular": "(A, B, *, upper, left=True, unitriangular=False)",
        "cholesky_ex": "(A, *, upper=False, check_errors=False)",
        "inv_ex": "(A, *, check_errors=False)",
        "solve_ex": "(A, B, *, left=True, check_errors=False)",
        "lu_factor": "(A, *, pivot=True)", "lu_factor_ex": "(A, *, pivot=True, "
                                                          "check_errors=False)",
        "lu": "(A, *, pivot=True)", "lu_solve": "(LU, pivots, B, *, left=True, adjoint=False)",
        "cond": "(A, p=None)", "tensorinv": "(A, ind=2)", "tensorsolve": "(A, B, dims=None)",
        "householder_product": "(A, tau)", "matmul": "(input, other)",
        "pinv": "(A, *, atol=None, rtol=None, hermitian=False)",
        "lstsq": "(A, B, rcond=None, *, driver=None)",
    }
    top = {  # (torch's top-level functions, as documented)
        "matrix_power": "(input, n)", "matrix_exp": "(A)",
        "cholesky_solve": "(B, L, upper=False)", "cholesky_inverse": "(L, upper=False)",
        "triangular_solve": "(b, A, upper=True, transpose=False, unitriangular=False)",
        "lu_unpack": "(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True)",
        "lu_solve": "(b, LU_data, LU_pivots)",
        "vander": "(x, N=None, increasing=False)", "orgqr": "(input, tau)",
        "lu": "(A, pivot=True, get_infos=False)",
    }
    for name, sig in [*expected.items(), *((f"top {n}", s) for n, s in top.items())]:
        f = getattr(tg, name[4:]) if name.startswith("top ") else getattr(tg.linalg, name)
        params = inspect.signature(f).parameters.values()
        shown = str(inspect.Signature([p.replace(annotation=inspect.Parameter.empty)
                                       for p in params]))
        assert shown == sig, name


ERRORS = [
    lambda lib: lib.linalg.matrix_power(lib.ones(2, 3), 2),
    lambda lib: lib.linalg.matrix_power(lib.ones(3), 2),
    lambda lib: lib.linalg.matrix_power(lib.eye(2, dtype=lib.int64), -1),
    lambda lib: lib.linalg.matrix_power(lib.zeros(3, 3, dtype=lib.float64), -1),
    lambda lib: lib.linalg.matrix_exp(lib.ones(2, 3)),
    lambda lib: lib.linalg.matrix_exp(lib.ones(3)),
    lambda lib: lib.linalg.matrix_exp(lib.eye(2, dtype=lib.int64)),
    lambda lib: lib.linalg.multi_dot([lib.eye(2)]),
    lambda lib: lib.linalg.multi_dot([lib.eye(2), lib.ones(3, 2), lib.eye(2)]),
    lambda lib: lib.linalg.multi_dot([lib.eye(2), lib.ones(1, 2, 2)]),
    lambda lib: lib.linalg.multi_dot([lib.ones(1, 2, 2), lib.eye(2)]),
    lambda lib: lib.linalg.multi_dot([lib.eye(2), lib.ones(2), lib.eye(2)]),
    lambda lib: lib.linalg.multi_dot([lib.eye(2, dtype=lib.float64),
                                      lib.eye(2, dtype=lib.float32)]),
    lambda lib: lib.linalg.vecdot(lib.ones(2, 3), lib.ones(2)),
    lambda lib: lib.linalg.vecdot(lib.ones(3, dtype=lib.float64), lib.ones(3, dtype=lib.float32)),
    lambda lib: lib.linalg.vander(lib.ones(3), N=1),
    lambda lib: lib.linalg.vander(lib.tensor(2.0)),
    lambda lib: lib.linalg.solve_triangular(lib.eye(3), lib.ones(3), upper=True),
    lambda lib: lib.linalg.solve_triangular(lib.eye(3), lib.ones(3, 2), upper=True, left=False),
    lambda lib: lib.linalg.solve_triangular(lib.eye(3), lib.ones(2, 2), upper=True),
    lambda lib: lib.linalg.solve_triangular(lib.ones(2, 3), lib.ones(3, 2), upper=True),
    lambda lib: lib.linalg.solve_triangular(lib.ones(2, 3, 3), lib.ones(3, 3, 2), upper=True),
    lambda lib: lib.cholesky_solve(lib.ones(3), lib.eye(3)),
    lambda lib: lib.cholesky_solve(lib.ones(2, 1), lib.eye(3)),
    lambda lib: lib.cholesky_solve(lib.ones(3, 1, dtype=lib.float32),
                                   lib.eye(3, dtype=lib.float64)),
    lambda lib: lib.cholesky_solve(lib.ones(3, 1), lib.ones(2, 3)),
    lambda lib: lib.cholesky_inverse(lib.ones(2, 3)),
    lambda lib: lib.cholesky_inverse(lib.ones(3)),
    lambda lib: _quiet(lib.triangular_solve, lib.ones(2, 1), lib.eye(3)),
    lambda lib: _quiet(lib.triangular_solve, lib.ones(3), lib.eye(3)),
    lambda lib: _quiet(lib.triangular_solve, lib.ones(3, 1), lib.ones(2, 3)),
    lambda lib: lib.linalg.inv_ex(lib.tensor(SINGULAR), check_errors=True),
    lambda lib: lib.linalg.inv_ex(lib.tensor(SINGULAR[0]), check_errors=True),
    lambda lib: lib.linalg.cholesky_ex(lib.tensor(NOT_PD), check_errors=True),
    lambda lib: lib.linalg.solve_ex(lib.tensor(SINGULAR[0]), lib.ones(3, dtype=lib.float64),
                                    check_errors=True),
    lambda lib: lib.linalg.lu_factor_ex(lib.zeros(3, 3), check_errors=True),
    lambda lib: lib.linalg.lu(lib.ones(3)),
    lambda lib: lib.linalg.lu_factor_ex(lib.ones(3)),
    lambda lib: lib.linalg.vecdot(lib.ones(2, 3), lib.ones(4, 1, 2)),
    lambda lib: lib.linalg.lu_factor(lib.tensor(SINGULAR)),
    lambda lib: lib.linalg.lu_factor(lib.zeros(2, 3, 3)),
    lambda lib: lib.linalg.lu_factor(lib.zeros(3, 3)),
    lambda lib: lib.linalg.lu_factor(lib.eye(3), pivot=False),
    lambda lib: lib.linalg.lu(lib.eye(3), pivot=False),
    lambda lib: lib.linalg.lu_factor(lib.ones(3)),
    lambda lib: lib.linalg.lu_factor(lib.eye(3, dtype=lib.int32)),
    lambda lib: lib.linalg.lu_solve(*lib.linalg.lu_factor(lib.eye(3, dtype=lib.float64)),
                                    lib.ones(3, 1, dtype=lib.float32)),
    lambda lib: lib.linalg.lu_solve(*lib.linalg.lu_factor(lib.eye(3)), lib.ones(2, 1)),
    lambda lib: lib.linalg.lu_solve(lib.linalg.lu_factor(lib.eye(3))[0],
                                    lib.linalg.lu_factor(lib.eye(3))[1].long(), lib.ones(3, 1)),
    lambda lib: lib.linalg.lu_solve(lib.ones(2, 3), lib.ones(2, dtype=lib.int32),
                                    lib.ones(3, 1)),
    lambda lib: lib.linalg.lu_solve(lib.ones(3, 3), lib.ones(2, dtype=lib.int32),
                                    lib.ones(3, 1)),
    lambda lib: lib.linalg.lu_solve(*lib.linalg.lu_factor(lib.eye(3)), lib.ones(3, 2),
                                    left=False),
    lambda lib: lib.linalg.cond(lib.ones(2, 3), "fro"),
    lambda lib: lib.linalg.cond(lib.ones(3), "fro"),
    lambda lib: lib.linalg.cond(lib.ones(3)),
    lambda lib: lib.linalg.cond(lib.eye(3), 3),
    lambda lib: lib.linalg.cond(lib.eye(3), "foo"),
    lambda lib: lib.linalg.tensorinv(lib.ones(2, 3, 4), ind=1),
    lambda lib: lib.linalg.tensorinv(lib.ones(2, 3, 6), ind=0),
    lambda lib: lib.linalg.tensorinv(lib.zeros(4, 2, 2), ind=1),
    lambda lib: lib.linalg.tensorsolve(lib.ones(6, 2, 3), lib.ones(5)),
    lambda lib: lib.linalg.householder_product(lib.ones(3, 4), lib.ones(2)),
    lambda lib: lib.linalg.householder_product(lib.ones(4, 3), lib.ones(4)),
    lambda lib: lib.linalg.householder_product(lib.ones(3), lib.ones(1)),
    lambda lib: lib.linalg.householder_product(lib.ones(4, 3, dtype=lib.float64),
                                               lib.ones(2, dtype=lib.float32)),
    lambda lib: lib.linalg.householder_product(lib.ones(2, 4, 3), lib.ones(3, 2)),
    lambda lib: lib.linalg.lstsq(lib.ones(4, 2, dtype=lib.float64),
                                 lib.ones(4, dtype=lib.float32)),
    lambda lib: lib.linalg.lstsq(lib.ones(4, 2), lib.ones(3)),
    lambda lib: lib.linalg.lstsq(lib.ones(4, 2), lib.ones(3, 1)),
    lambda lib: lib.linalg.lstsq(lib.ones(4), lib.ones(4)),
    lambda lib: lib.linalg.lstsq(lib.ones(4, 2), lib.ones(2, 4, 1)),
    lambda lib: lib.linalg.lstsq(lib.ones(4, 2), lib.ones(4, 1), driver="foo"),
    lambda lib: lib.vander(lib.ones(2, 3)),
    lambda lib: lib.lu_unpack(lib.eye(3), lib.ones(3)),
    lambda lib: lib.lu_unpack(lib.eye(3), lib.tensor([1, 5, 3], dtype=lib.int32)),
    lambda lib: lib.linalg.lstsq(lib.ones(4, 2, dtype=lib.int64), lib.ones(4, 1,
                                                                          dtype=lib.int64)),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_as_torch(k):
    program = ERRORS[k]
    with pytest.raises(Exception) as expected:
        program(torch)
    with pytest.raises(Exception) as got:
        program(tg)
    assert str(got.value) == str(expected.value)
    assert isinstance(got.value, type(expected.value).__mro__[1]) or \
        type(got.value).__name__ == type(expected.value).__name__.lstrip("_")
    if isinstance(expected.value, torch.linalg.LinAlgError):
        assert isinstance(got.value, tg.linalg.LinAlgError)


def test_docstring_examples_run():
    import doctest
    import importlib

    for name in ("products", "matrix_functions", "triangular", "lu", "ex", "norms", "solvers",
                 "tensor_solvers"):
        module = importlib.import_module(f"tapegrad.linalg.{name}")
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, name


def _zeros(lib, *shape):
    return lib.zeros(*shape, dtype=lib.float64)


EDGES = {
    "solve_triangular_empty": lambda lib: lib.linalg.solve_triangular(
        _zeros(lib, 0, 0), _zeros(lib, 0, 2), upper=True),
    "solve_triangular_no_columns": lambda lib: lib.linalg.solve_triangular(
        lib.eye(3, dtype=lib.float64), _zeros(lib, 3, 0), upper=True),
    "lu_factor_empty": lambda lib: lib.linalg.lu_factor(_zeros(lib, 0, 0)),
    "lu_factor_no_rows": lambda lib: lib.linalg.lu_factor(_zeros(lib, 2, 0, 3)),
    "lu_factor_ex_empty": lambda lib: lib.linalg.lu_factor_ex(_zeros(lib, 2, 0, 0)),
    "lu_no_columns": lambda lib: lib.linalg.lu(_zeros(lib, 3, 0)),
    "lu_no_rows": lambda lib: lib.linalg.lu(_zeros(lib, 0, 3)),
    "lu_solve_empty": lambda lib: lib.linalg.lu_solve(*lib.linalg.lu_factor(_zeros(lib, 0, 0)),
                                                      _zeros(lib, 0, 2)),
    "lu_solve_batched_B": lambda lib: lib.linalg.lu_solve(
        *lib.linalg.lu_factor(lib.eye(3, dtype=lib.float64) * 2),
        lib.ones(4, 3, 1, dtype=lib.float64)),
    "inv_ex_empty": lambda lib: lib.linalg.inv_ex(_zeros(lib, 2, 0, 0)),
    "cholesky_ex_empty": lambda lib: lib.linalg.cholesky_ex(_zeros(lib, 0, 0)),
    "solve_ex_empty": lambda lib: lib.linalg.solve_ex(_zeros(lib, 0, 0), _zeros(lib, 0)),
    "matrix_power_empty": lambda lib: lib.linalg.matrix_power(_zeros(lib, 0, 0), 3),
    "matrix_power_empty_inverse": lambda lib: lib.linalg.matrix_power(_zeros(lib, 2, 0, 0), -1),
    "matrix_exp_1x1": lambda lib: lib.linalg.matrix_exp(lib.ones(1, 1, dtype=lib.float64) * 2),
    "cond_empty": lambda lib: lib.linalg.cond(_zeros(lib, 0, 0)),
    "cond_empty_batch": lambda lib: lib.linalg.cond(_zeros(lib, 2, 3, 0)),
    "cond_fro_empty": lambda lib: lib.linalg.cond(_zeros(lib, 2, 0, 0), "fro"),
    "cond_1_empty": lambda lib: lib.linalg.cond(_zeros(lib, 0, 0), 1),
    "cond_1x1": lambda lib: lib.linalg.cond(lib.ones(1, 1, dtype=lib.float64) * 2, "fro"),
    "cond_singular": lambda lib: lib.linalg.cond(lib.tensor(SINGULAR), 1),
    "vander_empty": lambda lib: lib.linalg.vander(_zeros(lib, 0), N=3),
    "vander_int": lambda lib: lib.linalg.vander(lib.tensor([1, 2, 3])),
    "vecdot_empty": lambda lib: lib.linalg.vecdot(_zeros(lib, 2, 0), _zeros(lib, 2, 0)),
    "vecdot_vectors": lambda lib: lib.linalg.vecdot(lib.ones(3, dtype=lib.float64),
                                                    lib.ones(3, dtype=lib.float64) * 2),
    "multi_dot_empty": lambda lib: lib.linalg.multi_dot([_zeros(lib, 2, 0), _zeros(lib, 0, 3)]),
    "pinv_empty": lambda lib: lib.linalg.pinv(_zeros(lib, 0, 3)),
    "lstsq_empty": lambda lib: lib.linalg.lstsq(_zeros(lib, 0, 3), _zeros(lib, 0, 2),
                                                driver="gelsd"),
    "householder_product_empty": lambda lib: lib.linalg.householder_product(
        _zeros(lib, 3, 0), _zeros(lib, 0)),
    "cholesky_solve_empty": lambda lib: lib.cholesky_solve(_zeros(lib, 0, 2), _zeros(lib, 0, 0)),
    "cholesky_inverse_empty": lambda lib: lib.cholesky_inverse(_zeros(lib, 0, 0)),
    "triangular_solve_empty": lambda lib: _quiet(lib.triangular_solve, _zeros(lib, 0, 2),
                                                 _zeros(lib, 0, 0)),
    "matrix_rank_1x1": lambda lib: lib.linalg.matrix_rank(lib.ones(1, 1, dtype=lib.float64)),
    "lu_unpack_parts": lambda lib: lib.lu_unpack(*lib.linalg.lu_factor(
        lib.eye(3, dtype=lib.float64) * 2), unpack_data=False)
    + lib.lu_unpack(*lib.linalg.lu_factor(lib.eye(2, dtype=lib.float64)), unpack_pivots=False),
    "vander_no_columns": lambda lib: lib.vander(lib.ones(3, dtype=lib.float64), N=0),
    "vander_one_column": lambda lib: lib.vander(lib.ones(3, dtype=lib.float64), N=1),
    "top_lu_infos": lambda lib: _quiet(lib.lu, lib.tensor(SINGULAR), get_infos=True),
    "tensorinv_1x1": lambda lib: lib.linalg.tensorinv(lib.ones(1, 1, dtype=lib.float64) * 2,
                                                      ind=1),
}


@pytest.mark.parametrize("name", list(EDGES))
def test_empty_and_small_inputs_as_torch(name):
    expected, got = EDGES[name](torch), EDGES[name](tg)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    for e, g in zip(expected, got, strict=True):
        assert tuple(g.shape) == tuple(e.shape)
        assert str(g.dtype).split(".")[-1] == str(e.dtype).split(".")[-1]
        np.testing.assert_allclose(_numpy(g), _numpy(e), rtol=1e-12)


@pytest.mark.parametrize("name, call", [
    ("lu", lambda a: tg.lu(a)),
    ("lu_solve", lambda a: tg.lu_solve(a[:, :1], *tg.linalg.lu_factor(a))),
    ("triangular_solve", lambda a: tg.triangular_solve(a[:, :1], a)),
])
def test_deprecated_top_level_names_warn_as_torch(name, call):
    # (torch warns once per process, with these words, so it cannot be the oracle here)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call(tg.tensor(_input("small", 15)[0]))
    found = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(found) == 1 and found[0].startswith(f"torch.{name} is deprecated")


def test_the_linear_algebra_tensor_methods_torch_has():
    rng = np.random.default_rng(3)
    a = rng.random((3, 3)) + 3 * np.eye(3)
    b = rng.random((3, 2))
    out = {}
    for lib in (tg, torch):
        A, B = lib.tensor(a), lib.tensor(b)
        L = lib.linalg.cholesky(A @ A.mT)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (triangular_solve's deprecation)
            out[lib.__name__] = [A.matrix_power(3), A.matrix_exp(), B.cholesky_solve(L),
                                 L.cholesky_inverse(), B.triangular_solve(L, upper=False)[0],
                                 B.lu_solve(*lib.linalg.lu_factor(A))]
    for mine, theirs in zip(out["tapegrad"], out["torch"], strict=True):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)
