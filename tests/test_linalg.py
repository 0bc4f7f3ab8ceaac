"""tapegrad.linalg (issue 19): torch 2.13 is the oracle for values, gradients, second
derivatives, node names and error messages; central finite differences (gradcheck) check each
gradient independently of torch."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")


def _well_conditioned(shape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    n = shape[-1]
    return (rng.standard_normal(shape) + n * np.eye(n)).astype(dtype)


def _spd(shape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal(shape)
    return (m @ np.swapaxes(m, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def _lib(lib):
    return lib.linalg


CASES = {
    "inv": (lambda lib, a: lib.linalg.inv(a), _well_conditioned),
    "det": (lambda lib, a: lib.linalg.det(a), _well_conditioned),
    "slogdet": (lambda lib, a: lib.linalg.slogdet(a).logabsdet, _well_conditioned),
    "logdet": (lambda lib, a: lib.logdet(a), _spd),
    "solve": (lambda lib, a: lib.linalg.solve(a, a[..., :2] * 2 + 1), _well_conditioned),
    "solve_vector": (lambda lib, a: lib.linalg.solve(a, a[..., 0] - 1), _well_conditioned),
    "solve_right": (lambda lib, a: lib.linalg.solve(a, a[..., :2, :] * 3, left=False),
                    _well_conditioned),
    "cholesky": (lambda lib, a: lib.linalg.cholesky(a), _spd),
    "cholesky_upper": (lambda lib, a: lib.linalg.cholesky(a, upper=True), _spd),
    "inverse": (lambda lib, a: lib.inverse(a), _well_conditioned),
    "top_det": (lambda lib, a: lib.det(a), _well_conditioned),
    "top_slogdet": (lambda lib, a: lib.slogdet(a)[1], _well_conditioned),
    "top_cholesky": (lambda lib, a: _quiet(lib.cholesky, a, upper=True), _spd),
}


def _quiet(f, *args, **kwargs):
    """(torch.cholesky warns that it is deprecated)"""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return f(*args, **kwargs)


def _run(name, lib, a, w_seed=7):
    """The function's value, its gradient (create_graph) and the gradient of a function of that
    gradient: the second derivative."""
    f, _ = CASES[name]
    A = lib.tensor(a, requires_grad=True)
    y = f(lib, A)
    w = lib.tensor(np.random.default_rng(w_seed).standard_normal(tuple(y.shape)).astype(a.dtype))
    (g,) = lib.autograd.grad((y * w).sum(), A, create_graph=True)
    (gg,) = lib.autograd.grad((g * g.sin()).sum(), A)
    return y.grad_fn.name(), [t.detach().numpy() for t in (y, g, gg)]


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (2, 1, 3, 3)])
@pytest.mark.parametrize("name", list(CASES))
def test_values_gradients_and_second_derivatives_as_torch(name, shape):
    a = CASES[name][1](shape, 1)
    expected_name, expected = _run(name, torch, a)
    got_name, got = _run(name, tg, a)
    assert got_name == expected_name
    for e, g in zip(expected, got, strict=True):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", list(CASES))
def test_float32_as_torch(name):
    a = CASES[name][1]((2, 3, 3), 2, np.float32)
    _, expected = _run(name, torch, a)
    _, got = _run(name, tg, a)
    for e, g in zip(expected, got, strict=True):
        assert g.dtype == np.float32
        np.testing.assert_allclose(g, e, rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_gradcheck_and_gradgradcheck(name):
    f, make = CASES[name]
    A = tg.tensor(make((2, 3, 3), 3), requires_grad=True)

    def func(x):
        if "cholesky" in name:  # (it reads one triangle; its gradient is symmetric,
            x = (x + x.mT) * 0.5  # as torch's: the finite differences see a symmetric input)
        return f(tg, x)

    assert tg.autograd.gradcheck(func, (A,))
    assert tg.autograd.gradgradcheck(func, (A,))


def test_solve_gradient_reaches_both_arguments_and_broadcast_batches():
    rng = np.random.default_rng(4)
    a = _well_conditioned((3, 3), 4)
    b = rng.standard_normal((2, 3, 2))

    def program(lib):
        A = lib.tensor(a, requires_grad=True)
        B = lib.tensor(b, requires_grad=True)
        x = lib.linalg.solve(A, B)
        (x * x).sum().backward()
        return x.detach().numpy(), A.grad.numpy(), B.grad.numpy()

    for e, g in zip(program(torch), program(tg), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
    A = tg.tensor(a, requires_grad=True)
    B = tg.tensor(b, requires_grad=True)
    assert tg.autograd.gradcheck(lambda x, y: tg.linalg.solve(x, y), (A, B))


def test_slogdet_and_logdet_of_a_negative_determinant_as_torch():
    a = np.array([[0.0, 2.0], [1.0, 0.5]])
    for lib in (torch, tg):
        sign, logabs = lib.linalg.slogdet(lib.tensor(a))
        assert sign.item() == -1.0 and logabs.item() == pytest.approx(np.log(2.0))
        assert np.isnan(lib.logdet(lib.tensor(a)).item())
    assert tg.linalg.slogdet(tg.tensor(a)).sign.item() == -1.0
    assert type(tg.linalg.slogdet(tg.tensor(a))).__name__ == "linalg_slogdet"
    assert type(tg.slogdet(tg.tensor(a))).__name__ == "slogdet"


def test_sign_of_slogdet_has_a_grad_fn_and_no_gradient_as_torch():
    for lib in (torch, tg):
        A = lib.tensor(np.eye(2) * 2, requires_grad=True)
        sign, logabs = lib.linalg.slogdet(A)
        assert sign.grad_fn.name() == "LinalgSlogdetBackward0"
        sign.backward(retain_graph=True)
        assert A.grad is None
        (sign + logabs).backward()
        np.testing.assert_array_equal(A.grad.numpy(), np.eye(2) * 0.5)


ERRORS = [
    lambda lib: lib.linalg.inv(lib.tensor([[1.0, 2.0], [2.0, 4.0]])),
    lambda lib: lib.linalg.inv(lib.zeros(2, 3, 3)),
    lambda lib: lib.linalg.inv(lib.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])),
    lambda lib: lib.linalg.inv(lib.zeros(2, 3)),
    lambda lib: lib.linalg.inv(lib.ones(3)),
    lambda lib: lib.linalg.inv(lib.eye(2, dtype=lib.int64)),
    lambda lib: lib.inverse(lib.tensor([[1.0, 2.0], [2.0, 4.0]])),
    lambda lib: lib.linalg.cholesky(lib.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda lib: lib.linalg.cholesky(lib.stack([lib.eye(2),
                                               lib.tensor([[1.0, 2.0], [2.0, 1.0]])])),
    lambda lib: lib.linalg.cholesky(lib.tensor([[-1.0, 0.0], [0.0, 1.0]])),
    lambda lib: lib.linalg.cholesky(lib.ones(2, 3)),
    lambda lib: lib.linalg.solve(lib.tensor([[1.0, 2.0], [2.0, 4.0]]), lib.ones(2)),
    lambda lib: lib.linalg.solve(lib.eye(2), lib.ones(3)),
    lambda lib: lib.linalg.solve(lib.eye(2), lib.ones(3, 4)),
    lambda lib: lib.linalg.det(lib.ones(2, 3)),
    lambda lib: lib.linalg.slogdet(lib.ones(4)),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_as_torch(k):
    program = ERRORS[k]
    with pytest.raises(Exception) as expected:
        program(torch)
    with pytest.raises(Exception) as got:
        program(tg)
    assert str(got.value) == str(expected.value)
    assert isinstance(got.value, RuntimeError)
    if isinstance(expected.value, torch.linalg.LinAlgError):
        assert isinstance(got.value, tg.linalg.LinAlgError)


def test_empty_matrices_as_torch():
    for name in ("inv", "det"):
        e = getattr(torch.linalg, name)(torch.zeros(2, 0, 0, dtype=torch.float64)).numpy()
        g = getattr(tg.linalg, name)(tg.zeros(2, 0, 0)).numpy()
        assert g.shape == e.shape
        np.testing.assert_array_equal(g, e)


def test_module_docstring_examples_run():
    import doctest

    import tapegrad.linalg

    assert doctest.testmod(tapegrad.linalg).failed == 0


INF = float("inf")
NORMS = {
    **{f"vector_{o}": (lambda lib, a, o=o: lib.linalg.vector_norm(a, o), {})
       for o in (2, 1, 0, 3, 0.5, -1, INF, -INF)},
    "vector_dim": (lambda lib, a: lib.linalg.vector_norm(a, 3, dim=(0, -1), keepdim=True), {}),
    "vector_dim_int": (lambda lib, a: lib.linalg.vector_norm(a, 2, dim=1), {}),
    **{f"matrix_{o}": (lambda lib, a, o=o: lib.linalg.matrix_norm(a, o), {})
       for o in ("fro", 1, -1, INF, -INF)},
    "matrix_dims_keepdim": (lambda lib, a: lib.linalg.matrix_norm(a, 1, dim=(0, 2),
                                                                  keepdim=True), {}),
    "norm_none": (lambda lib, a: lib.linalg.norm(a), {}),
    "norm_dim": (lambda lib, a: lib.linalg.norm(a, dim=-1), {}),
    "norm_2d": (lambda lib, a: lib.linalg.norm(a[0], INF), {}),
    "norm_1d": (lambda lib, a: lib.linalg.norm(a[0, 0], 3), {}),
    "norm_matrix_dims": (lambda lib, a: lib.linalg.norm(a, -1, dim=(1, 2)), {}),
    "cross": (lambda lib, a: lib.linalg.cross(a, a.mT * 2 + 1), {}),
    "cross_dim": (lambda lib, a: lib.linalg.cross(a, a[:1] ** 2, dim=1), {}),
    "cross_top": (lambda lib, a: lib.cross(a, a.mT * 2 + 1, dim=2), {}),
}


def _run_norm(name, lib, a):
    f, _ = NORMS[name]
    A = lib.tensor(a, requires_grad=True)
    y = f(lib, A)
    w = lib.tensor(np.random.default_rng(9).standard_normal(tuple(y.shape)).astype(a.dtype))
    (g,) = lib.autograd.grad((y * w).sum(), A, create_graph=True, allow_unused=True)
    if g is None or not g.requires_grad:
        return y.grad_fn.name(), [_numpy(y), _numpy(g)]
    (gg,) = lib.autograd.grad((g * g.sin()).sum(), A, allow_unused=True)
    return y.grad_fn.name(), [_numpy(t) for t in (y, g, gg)]


def _numpy(t):
    """(torch's gradient may be a ZeroTensor, which numpy() refuses without force)"""
    if t is None:
        return None
    return t.numpy(force=True) if isinstance(t, torch.Tensor) else t.detach().numpy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(NORMS))
def test_norms_and_cross_as_torch(name, dtype):
    a = np.random.default_rng(11).standard_normal((2, 3, 3)).astype(dtype)
    expected_name, expected = _run_norm(name, torch, a)
    got_name, got = _run_norm(name, tg, a)
    assert got_name == expected_name
    assert len(got) == len(expected)
    tol = dict(rtol=1e-9, atol=1e-11) if dtype == np.float64 else dict(rtol=2e-4, atol=1e-5)
    for e, g in zip(expected, got, strict=True):
        if e is None:
            assert g is None
            continue
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, **tol)


@pytest.mark.parametrize("name", [n for n in NORMS if n != "vector_0"])
def test_norms_gradcheck(name):
    f, _ = NORMS[name]
    A = tg.tensor(np.random.default_rng(12).standard_normal((2, 3, 3)), requires_grad=True)
    assert tg.autograd.gradcheck(lambda x: f(tg, x), (A,))
    if "inf" not in name and name not in ("matrix_1", "matrix_-1", "norm_2d",
                                          "matrix_dims_keepdim", "norm_matrix_dims"):
        assert tg.autograd.gradgradcheck(lambda x: f(tg, x), (A,))


@pytest.mark.parametrize("o", [2, 1, INF, 3, 0.5, -1])
def test_vector_norm_gradient_at_zero_and_ties_as_torch(o):
    for values in ([0.0, 0.0, 0.0], [0.0, -3.0, 3.0], [1.0, -3.0, 3.0]):
        grads = []
        for lib in (torch, tg):
            x = lib.tensor(values, dtype=lib.float64, requires_grad=True)
            lib.linalg.vector_norm(x, o).backward()
            grads.append(x.grad.numpy())
        np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=0)


NORM_ERRORS = [
    lambda lib: lib.linalg.vector_norm(lib.ones(2, dtype=lib.int64)),
    lambda lib: lib.linalg.vector_norm(lib.ones(0), INF),
    lambda lib: lib.linalg.vector_norm(lib.ones(2, 3), dim=2),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3), "fro"),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 3), 3),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3, 3), "abc"),
    lambda lib: lib.linalg.norm(lib.ones(2, 2, 2), 2),
    lambda lib: lib.linalg.cross(lib.ones(3, 2), lib.ones(3, 2)),
]


@pytest.mark.parametrize("k", range(len(NORM_ERRORS)))
def test_norm_errors_as_torch(k):
    with pytest.raises(Exception) as expected:
        NORM_ERRORS[k](torch)
    with pytest.raises(Exception) as got:
        NORM_ERRORS[k](tg)
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)


def _sym(a):
    return (a + np.swapaxes(a, -1, -2)) / 2


# functions of the decompositions that do not depend on the eigen/singular vectors' signs
DECOMPOSITIONS = {
    "eigh_values": (lambda lib, a: lib.linalg.eigh(a).eigenvalues, "sym"),
    "eigh_vectors": (lambda lib, a: lib.linalg.eigh(a).eigenvectors ** 2, "sym"),
    "eigh_both": (lambda lib, a: lib.linalg.eigh(a, UPLO="U")[1] ** 2
                  * lib.linalg.eigh(a, UPLO="U")[0].unsqueeze(-2), "sym"),
    "eigvalsh": (lambda lib, a: lib.linalg.eigvalsh(a), "sym"),
    "svdvals_tall": (lambda lib, a: lib.linalg.svdvals(a), "tall"),
    "svdvals_wide": (lambda lib, a: lib.linalg.svdvals(a), "wide"),
    "svd_U_tall": (lambda lib, a: lib.linalg.svd(a, full_matrices=False).U ** 2, "tall"),
    "svd_Vh_wide": (lambda lib, a: lib.linalg.svd(a, full_matrices=False).Vh ** 2, "wide"),
    "svd_all_square": (lambda lib, a: (lambda r: r.U ** 2 * r.S.unsqueeze(-2)
                                       + r.Vh ** 2)(lib.linalg.svd(a)), "square"),
    "svd_full_tall_S": (lambda lib, a: lib.linalg.svd(a)[1], "tall"),
    "svd_full_tall_U": (lambda lib, a: lib.linalg.svd(a)[0][..., :3] ** 2, "tall"),
    "qr_tall": (lambda lib, a: (lambda r: r.Q * 2 + r.R.sum(-1, keepdim=True).mT)(
        lib.linalg.qr(a)), "tall"),
    "qr_R_square": (lambda lib, a: lib.linalg.qr(a, mode="complete").R, "square"),
    "qr_wide": (lambda lib, a: (lambda r: r.Q.sum(-1, keepdim=True) * r.R)(lib.linalg.qr(a)),
                "wide"),
    "qr_wide_Q": (lambda lib, a: lib.linalg.qr(a).Q * 3, "wide"),
    "qr_wide_R": (lambda lib, a: lib.linalg.qr(a, mode="complete").R * 3, "wide"),
    "pinv_tall": (lambda lib, a: lib.linalg.pinv(a), "tall"),
    "pinv_wide": (lambda lib, a: lib.linalg.pinv(a), "wide"),
    "lstsq": (lambda lib, a: lib.linalg.lstsq(a, a[..., :2] ** 2 + 1).solution, "tall"),
    "matrix_nuc": (lambda lib, a: lib.linalg.matrix_norm(a, "nuc"), "tall"),
    "matrix_2": (lambda lib, a: lib.linalg.matrix_norm(a, 2), "wide"),
    "matrix_-2": (lambda lib, a: lib.linalg.matrix_norm(a, -2, dim=(0, 2)), "tall"),
}


def _decomp_input(kind, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    shape = {"sym": (2, 4, 4), "square": (2, 4, 4), "tall": (2, 5, 3), "wide": (2, 3, 5)}[kind]
    a = rng.standard_normal(shape)
    return (_sym(a) if kind == "sym" else a).astype(dtype)


def _run_decomp(name, lib, a):
    f, _ = DECOMPOSITIONS[name]
    A = lib.tensor(a, requires_grad=True)
    y = f(lib, A)
    w = lib.tensor(np.random.default_rng(5).standard_normal(tuple(y.shape)).astype(a.dtype))
    (g,) = lib.autograd.grad((y * w).sum(), A, create_graph=True)
    (gg,) = lib.autograd.grad((g * g.sin()).sum(), A)
    return [_numpy(t) for t in (y, g, gg)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(DECOMPOSITIONS))
def test_decompositions_values_gradients_second_derivatives_as_torch(name, dtype):
    a = _decomp_input(DECOMPOSITIONS[name][1], 21, dtype)
    expected = _run_decomp(name, torch, a)
    got = _run_decomp(name, tg, a)
    tol = dict(rtol=1e-7, atol=1e-9) if dtype == np.float64 else dict(rtol=2e-3, atol=2e-4)
    for e, g in zip(expected, got, strict=True):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g, e, **tol)


@pytest.mark.parametrize("name", list(DECOMPOSITIONS))
def test_decompositions_gradcheck(name):
    f, kind = DECOMPOSITIONS[name]
    A = tg.tensor(_decomp_input(kind, 22), requires_grad=True)

    def func(x):
        if kind == "sym":  # (eigh reads one triangle; its gradient is not symmetrized)
            x = (x + x.mT) * 0.5
        return f(tg, x)

    assert tg.autograd.gradcheck(func, (A,))
    if not name.startswith("matrix"):
        assert tg.autograd.gradgradcheck(func, (A,))


def test_decomposition_node_names_and_tuples_as_torch():
    a = _decomp_input("tall", 23)
    s = _decomp_input("sym", 23)
    for lib_result in [(lambda lib: lib.linalg.eigh(lib.tensor(s, requires_grad=True))),
                       (lambda lib: lib.linalg.svd(lib.tensor(a, requires_grad=True))),
                       (lambda lib: lib.linalg.qr(lib.tensor(a, requires_grad=True))),
                       (lambda lib: (lib.linalg.pinv(lib.tensor(a, requires_grad=True)),)),
                       (lambda lib: lib.linalg.lstsq(lib.tensor(a, requires_grad=True),
                                                     lib.tensor(a[..., :1])))]:
        expected, got = lib_result(torch), lib_result(tg)
        assert type(got).__name__ == type(expected).__name__
        for field in getattr(got, "_fields", ()):  # (torch's are structseqs: no _fields)
            assert tuple(getattr(got, field).shape) == tuple(getattr(expected, field).shape)
        for e, g in zip(expected, got, strict=True):
            assert tuple(g.shape) == tuple(e.shape)
            if e.grad_fn is not None:
                assert g.grad_fn.name() == e.grad_fn.name()
    rank = tg.linalg.lstsq(tg.tensor(a), tg.tensor(a[..., :1])).rank
    assert rank.numpy().tolist() == [3, 3]


@pytest.mark.parametrize("mode", ["r", "complete"])
def test_qr_errors_where_torch_does_not_differentiate(mode):
    a = _decomp_input("tall", 24)
    messages = []
    for lib in (torch, tg):
        A = lib.tensor(a, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            lib.linalg.qr(A, mode=mode).R.sum().backward()
        messages.append(str(info.value))
    assert messages[1] == messages[0]


TOP_LEVEL = {
    "svd": lambda lib, a: (lambda r: (r.U ** 2 * r.S.unsqueeze(-2)).sum(-2)
                           + (r.V ** 2 * 3).sum(-1))(lib.svd(a)),
    "svd_not_some": lambda lib, a: lib.svd(a, some=False).U[..., :3] ** 2,
    "qr": lambda lib, a: lib.qr(a).Q * lib.qr(a).R.sum(-1).unsqueeze(-2),
    "pinverse": lambda lib, a: lib.pinverse(a),
}


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", list(TOP_LEVEL))
def test_top_level_decompositions_as_torch(name):
    a = _decomp_input("tall", 31)
    DECOMPOSITIONS["_top"] = (TOP_LEVEL[name], "tall")
    try:
        expected = _run_decomp("_top", torch, a)
        got = _run_decomp("_top", tg, a)
    finally:
        del DECOMPOSITIONS["_top"]
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-7, atol=1e-9)


def test_top_level_names_are_torchs():
    for name in ("inverse", "det", "logdet", "slogdet", "cholesky", "cross", "svd", "qr",
                 "pinverse"):
        assert hasattr(torch, name)
        assert callable(getattr(tg, name))
    r = tg.svd(tg.tensor(_decomp_input("tall", 32)), compute_uv=False)
    e = torch.svd(torch.tensor(_decomp_input("tall", 32)), compute_uv=False)
    for g, t in zip(r, e, strict=True):
        np.testing.assert_allclose(g.numpy(), t.numpy(), rtol=1e-12, atol=0)


SINGULAR = [
    [[1.0, 2.0], [2.0, 4.0]],
    [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]],
    [[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 6.0, 9.0]],
    [[0.0, 0.0], [0.0, 0.0]],
]


@pytest.mark.parametrize("k", range(len(SINGULAR)))
def test_det_gradient_at_singular_matrices_is_the_cofactor_matrix(k):
    # the oracle is torch's create_graph=True gradient (the cofactors, through the SVD) and
    # central differences; torch 2.13 without create_graph answers 0 at an exactly singular
    # matrix (det(A) times its LU route), which the finite differences contradict
    a = np.array(SINGULAR[k])
    batch = np.stack([a, np.eye(len(a)) * 2 + a])  # (a singular and a regular matrix)
    for value in (a, batch):
        A = torch.tensor(value, requires_grad=True)
        (expected,) = torch.autograd.grad(torch.linalg.det(A).sum(), A, create_graph=True)
        for create_graph in (False, True):
            A = tg.tensor(value, requires_grad=True)
            (g,) = tg.autograd.grad(tg.linalg.det(A).sum(), A, create_graph=create_graph)
            np.testing.assert_allclose(g.detach().numpy(), expected.detach().numpy(),
                                       rtol=1e-10, atol=1e-12)
        h = 1e-6
        fd = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            up, down = value.copy(), value.copy()
            up[idx] += h
            down[idx] -= h
            fd[idx] = (np.linalg.det(up).sum() - np.linalg.det(down).sum()) / (2 * h)
        np.testing.assert_allclose(g.detach().numpy(), fd, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("k", range(3))
def test_det_second_derivative_at_singular_matrices_as_torch(k):
    a = np.array(SINGULAR[k])
    found = []
    for lib in (torch, tg):
        A = lib.tensor(a, requires_grad=True)
        (g,) = lib.autograd.grad(lib.linalg.det(A), A, create_graph=True)
        (gg,) = lib.autograd.grad((g * g.sin()).sum(), A)
        found.append(gg.numpy())
    np.testing.assert_allclose(found[1], found[0], rtol=1e-9, atol=1e-11)


def test_slogdet_gradient_at_a_singular_matrix_is_infinite_as_torchs():
    a = np.array(SINGULAR[0])
    found = []
    for lib in (torch, tg):
        for f in (lambda A, lib=lib: lib.linalg.slogdet(A)[1], lib.logdet):
            A = lib.tensor(a, requires_grad=True)
            y = f(A)
            y.backward()
            found.append((y.item(), A.grad.numpy()))
    for (ye, ge), (yg, gg) in zip(found[:2], found[2:], strict=True):
        assert ye == yg == -np.inf
        # (the infinities' signs follow the sign of a zero pivot, which is not matched)
        np.testing.assert_array_equal(np.abs(gg), np.abs(ge))


MORE_ERRORS = [
    lambda lib: lib.linalg.solve(lib.eye(2, dtype=lib.float32), lib.ones(2, dtype=lib.float64)),
    lambda lib: lib.linalg.eigh(lib.eye(2), UPLO="X"),
    lambda lib: lib.linalg.eigh(lib.ones(2, 3)),
    lambda lib: lib.linalg.qr(lib.ones(2, 3), mode="x"),
    lambda lib: lib.linalg.lstsq(lib.ones(3, 2), lib.ones(4, 1)),
    lambda lib: lib.linalg.svd(lib.ones(3)),
    lambda lib: lib.linalg.svd(lib.ones(3, 3, dtype=lib.int64)),
    lambda lib: lib.linalg.pinv(lib.ones(3, dtype=lib.float64)),
    lambda lib: lib.linalg.solve(lib.eye(2), lib.ones(2, 3), left=False),
    lambda lib: lib.linalg.solve(lib.ones(2, 2, 2), lib.ones(3, 2, 1)),
    lambda lib: lib.linalg.inv(lib.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]]])),
    lambda lib: lib.linalg.solve(lib.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]]]),
                                 lib.ones(2, 2)),
    lambda lib: lib.linalg.vector_norm(lib.ones(2, 3), dim=(0, 0)),
    lambda lib: lib.linalg.matrix_norm(lib.ones(2, 3), dim=(0, 0)),
    lambda lib: lib.linalg.matrix_norm(lib.ones(2, 3), dim=(0,)),
    lambda lib: lib.linalg.norm(lib.ones(2, 3), "fro", dim=1),
    lambda lib: lib.linalg.norm(lib.ones(3), "fro"),
    lambda lib: lib.linalg.det(lib.ones(2, 2, dtype=lib.int64)),
]


@pytest.mark.parametrize("k", range(len(MORE_ERRORS)))
def test_more_errors_as_torch(k):
    with pytest.raises(Exception) as expected:
        MORE_ERRORS[k](torch)
    with pytest.raises(Exception) as got:
        MORE_ERRORS[k](tg)
    assert str(got.value) == str(expected.value)
    assert isinstance(got.value, RuntimeError)
    if isinstance(expected.value, torch.linalg.LinAlgError):
        assert isinstance(got.value, tg.linalg.LinAlgError)


def test_vector_norm_dtype_and_zero_dim_as_torch():
    for lib in (torch, tg):
        A = lib.tensor(np.eye(3) * 2, dtype=lib.float32, requires_grad=True)
        y = lib.linalg.vector_norm(A, 2, dim=-1, dtype=lib.float64)
        assert str(y.dtype).endswith("float64") and y.grad_fn.name() == "LinalgVectorNormBackward0"
        y.sum().backward()
        assert str(A.grad.dtype).endswith("float32")
        np.testing.assert_allclose(A.grad.numpy(), np.eye(3))
        with pytest.raises(RuntimeError, match=r"the dtype of the input \(Double\) should be "
                                               r"convertible without narrowing to the "
                                               r"specified dtype \(Float\)"):
            lib.linalg.vector_norm(A.double(), dtype=lib.float32)
        x = lib.tensor(-3.0, dtype=lib.float64, requires_grad=True)
        for o in (2, 1, INF, 0.5):
            x.grad = None
            y = lib.linalg.vector_norm(x, o)
            y.backward()
            assert tuple(y.shape) == ()
            assert y.item() == pytest.approx(3.0) and x.grad.item() == pytest.approx(-1.0)


@pytest.mark.parametrize("name", ["inverse", "det", "logdet", "slogdet", "cholesky", "pinverse",
                                  "svd", "qr"])
def test_tensor_methods_equal_torchs(name):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(3).normal(size=(3, 3))
    a = a @ a.T + 3 * np.eye(3)  # (positive definite: every method is defined)
    ours = getattr(tg.tensor(a), name)()
    theirs = getattr(torch.tensor(a), name)()
    if isinstance(theirs, tuple):
        for o, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(np.abs(o.numpy()), np.abs(t.numpy()), rtol=1e-10)
    else:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)
